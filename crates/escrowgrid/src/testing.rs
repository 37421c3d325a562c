//! Contract suite for EscrowStore (to be written).
