//! Pure position lifecycle state machine (to be written).
