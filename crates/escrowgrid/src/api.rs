//! HTTP API (to be written).
