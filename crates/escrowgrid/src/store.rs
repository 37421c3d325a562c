//! The EscrowStore trait and its backends (to be written).
