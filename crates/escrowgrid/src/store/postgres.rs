//! PostgreSQL backend of `EscrowStore` (owned by the pgstore helper).
