//! Typed configuration (to be written).
