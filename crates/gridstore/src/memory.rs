//! In-memory backends, one file per primitive.

pub mod checkpoint;
pub mod clock;
pub mod kv;
pub mod session;

pub use checkpoint::MemoryCheckpointStore;
pub use clock::{Clock, ManualClock, SystemClock};
pub use kv::MemoryKvStore;
pub use session::MemorySessionStore;
