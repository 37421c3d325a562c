//! In-memory backend of `EscrowStore`.
