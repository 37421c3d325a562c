//! The tamper-evident ledger: hash chains per position ([`hash`]) and their verification
//! ([`verify`]). The encoding is specified in `docs/LEDGER.md`.

pub mod hash;
pub mod verify;

pub use hash::{canonical_json, event_hash, seal};
pub use verify::{BreakReason, ChainBreak, Verification, verify};
