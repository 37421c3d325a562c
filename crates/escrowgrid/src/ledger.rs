//! The tamper-evident ledger: hash chains per position ([`hash`]), periodic checkpoints over
//! everything committed ([`checkpoint`]) and their verification ([`verify`]). The encoding is specified in `docs/LEDGER.md`.

pub mod checkpoint;
pub mod hash;
pub mod verify;

pub use checkpoint::{Checkpoint, CheckpointBreak};
pub use hash::{canonical_json, event_hash, seal};
pub use verify::{BreakReason, ChainBreak, Verification, verify, verify_store};
