//! What a store reports to the HTTP layer's metrics: its connection pool's gauges and how
//! its position transitions were decided.

/// A snapshot of a store's connection pool (see [`super::EscrowStore::pool_status`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most connections the pool opens.
    pub max_size: usize,
    /// Connections open now (idle and in use).
    pub size: usize,
    /// Idle connections ready to be handed out.
    pub idle: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// How a store's position transitions were decided since it started (see
/// [`super::EscrowStore::transition_ways`]); each transition answered is counted once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransitionWays {
    /// Written on the position as this instance last wrote it, without a read.
    pub kept: u64,
    /// Decided on an unlocked read (nothing usable was kept).
    pub read: u64,
    /// Decided with the row locked, after another writer moved the position since the read
    /// or since what was kept.
    pub locked: u64,
}
