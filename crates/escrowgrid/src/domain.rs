//! Domain model (to be written).
