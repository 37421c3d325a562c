//! Versioned sessions with optimistic locking.
//!
//! A [`Session`] is a JSON payload with an id, a [`SessionState`], a `version` and three
//! timestamps. [`SessionStore`] saves, reads, lists, batches and clears them.
//!
//! # Semantics
//!
//! - **Conflict rule.** `session.version` is the version the caller *read*: `0` for a session
//!   that must not exist yet. [`SessionStore::save`] writes `version + 1` only if the stored
//!   version equals `session.version` (or, for `0`, if no session with that id exists);
//!   otherwise it fails with [`Error::VersionConflict`] `{ expected, actual }` and writes
//!   nothing. A stale write is never a silent overwrite. `save` returns the new version; the
//!   caller's copy is not changed, so a caller that keeps saving sets `version` to the returned
//!   value.
//! - **Timestamps are the caller's.** `created_at`, `updated_at` and `expires_at` are stored
//!   as given, truncated to the millisecond (both backends), so what is read back equals what
//!   was written at millisecond precision. [`Session::new`] and [`Session::touch`] stamp them
//!   with the local clock. The only store-stamped time is the `updated_at` written by
//!   [`SessionStore::update_state`] (the backend's clock: the database clock for PostgreSQL).
//! - **Expiry.** `expires_at` is stored metadata: the store never hides or deletes a session
//!   because of it. Expire sessions with [`SessionStore::update_state`] or
//!   [`SessionStore::clear`].
//! - **`update_state`** sets the state, stamps `updated_at` and increments the version
//!   unconditionally (no version check); it returns the new version, or
//!   [`Error::NotFound`] when the session does not exist.
//! - **Listing.** [`SessionStore::list`] returns summaries ordered by `updated_at` descending,
//!   then `id` ascending (a total order, so pages never overlap). `limit: None` means no limit;
//!   `limit: Some(0)` returns an empty page, as SQL `LIMIT 0` does.
//! - **Batches.** [`SessionStore::save_many`] is atomic and version-checked per item, in one
//!   statement: if any item conflicts, nothing is written and the error names the first
//!   conflicting item in input order. Duplicate ids in one batch are [`Error::InvalidInput`].
//!   [`SessionStore::get_many`] leaves missing ids out; [`SessionStore::delete_many`] returns
//!   how many existed.
//! - **`clear(older_than)`** deletes sessions only (never KV, checkpoints or anything else)
//!   whose `updated_at` is strictly before `older_than`, or every session when `None`; it
//!   returns how many were deleted.
//! - **Stats.** `bytes` is a backend-specific approximation of the payload size: the length of
//!   the serialized JSON in memory, `sum(pg_column_size(data))` (compressed, binary jsonb) in
//!   PostgreSQL. Compare it only within one backend.
//! - **Ids** must be non-empty and at most [`MAX_ID_LEN`] bytes; payloads follow the
//!   [payload rules](crate::payload) (no NUL character).
//!
//! # Example
//!
//! A read-modify-write that retries when another writer got there first:
//!
//! ```
//! use gridstore::memory::MemorySessionStore;
//! use gridstore::{Error, Session, SessionState, SessionStore};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> gridstore::Result<()> {
//! let store = MemorySessionStore::new();
//! store.save(&Session::new("s-1", SessionState::Active, json!({"turns": 0}))).await?;
//! loop {
//!     let mut session = store.get("s-1").await?.expect("saved above");
//!     session.data["turns"] = json!(1);
//!     session.touch();
//!     match store.save(&session).await {
//!         Ok(version) => {
//!             assert_eq!(version, 2);
//!             break;
//!         }
//!         Err(Error::VersionConflict { .. }) => continue, // someone else wrote: read again
//!         Err(other) => return Err(other),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// The longest session id accepted, in bytes.
pub const MAX_ID_LEN: usize = 256;

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// In use.
    Active,
    /// Temporarily not in use; may become active again.
    Paused,
    /// Finished normally.
    Completed,
    /// Timed out; kept until cleared.
    Expired,
    /// Ended by its owner or an administrator.
    Closed,
}

impl SessionState {
    /// Every state, in declaration order.
    pub const ALL: [Self; 5] = [
        Self::Active,
        Self::Paused,
        Self::Completed,
        Self::Expired,
        Self::Closed,
    ];

    /// The lowercase name stored by the backends (`"active"`, `"paused"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Expired => "expired",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SessionState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| Error::InvalidInput(format!("unknown session state {s:?}")))
    }
}

/// One session: a JSON payload under optimistic locking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The caller-chosen id (e.g. a UUID).
    pub id: String,
    /// The life-cycle state.
    pub state: SessionState,
    /// The payload.
    pub data: Value,
    /// The version the caller read: `0` for a session not saved yet (see the module docs).
    pub version: u64,
    /// When the session was created.
    pub created_at: DateTime<Utc>,
    /// When the session was last changed.
    pub updated_at: DateTime<Utc>,
    /// When the session should be considered expired, if ever (not enforced by the store).
    pub expires_at: Option<DateTime<Utc>>,
}

impl Session {
    /// A new, unsaved session (version 0) created and updated now (millisecond precision).
    pub fn new(id: impl Into<String>, state: SessionState, data: Value) -> Self {
        let now = Utc::now().trunc_subsecs(3);
        Self {
            id: id.into(),
            state,
            data,
            version: 0,
            created_at: now,
            updated_at: now,
            expires_at: None,
        }
    }

    /// Sets `updated_at` to now (millisecond precision).
    pub fn touch(&mut self) {
        self.updated_at = Utc::now().trunc_subsecs(3);
    }

    /// A copy with every timestamp truncated to the millisecond, as the stores keep it.
    pub fn truncated_to_millis(&self) -> Self {
        Self {
            created_at: self.created_at.trunc_subsecs(3),
            updated_at: self.updated_at.trunc_subsecs(3),
            expires_at: self.expires_at.map(|t| t.trunc_subsecs(3)),
            ..self.clone()
        }
    }

    /// The summary [`SessionStore::list`] returns for this session.
    pub fn summary(&self) -> SessionSummary {
        SessionSummary {
            id: self.id.clone(),
            state: self.state,
            version: self.version,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
        }
    }
}

/// A session without its payload, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// The session id.
    pub id: String,
    /// The life-cycle state.
    pub state: SessionState,
    /// The stored version.
    pub version: u64,
    /// When the session was last changed.
    pub updated_at: DateTime<Utc>,
    /// When the session should be considered expired, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What [`SessionStore::list`] returns: an optional state filter and a page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQuery {
    /// Only sessions in this state, if set.
    pub state: Option<SessionState>,
    /// At most this many (`None`: no limit; `Some(0)`: an empty page).
    pub limit: Option<usize>,
    /// Skip this many first.
    pub offset: usize,
}

impl SessionQuery {
    /// Every session, unfiltered and unpaged.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only sessions in `state`.
    pub fn in_state(state: SessionState) -> Self {
        Self {
            state: Some(state),
            ..Self::default()
        }
    }

    /// The page of at most `limit` items after skipping `offset`.
    pub fn page(mut self, limit: usize, offset: usize) -> Self {
        self.limit = Some(limit);
        self.offset = offset;
        self
    }
}

/// Counts and an approximate size of the stored sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStats {
    /// How many sessions are stored.
    pub total: u64,
    /// How many per state; states with no session are present with 0.
    pub by_state: BTreeMap<SessionState, u64>,
    /// Approximate payload bytes, backend-specific (see the module docs).
    pub bytes: u64,
}

/// Versioned sessions with optimistic locking. See the [module docs](self) for the rules.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug + 'static {
    /// Saves `session` if its `version` is the stored one (`0`: must not exist) and returns
    /// the new version.
    ///
    /// # Errors
    ///
    /// [`Error::VersionConflict`] when the version check fails; [`Error::InvalidInput`] for a
    /// bad id.
    async fn save(&self, session: &Session) -> Result<u64>;

    /// The session with this id, if any.
    async fn get(&self, id: &str) -> Result<Option<Session>>;

    /// Whether a session with this id exists.
    async fn has(&self, id: &str) -> Result<bool>;

    /// Deletes the session; returns whether it existed.
    async fn delete(&self, id: &str) -> Result<bool>;

    /// Summaries matching `query`, `updated_at` descending then `id` ascending.
    async fn list(&self, query: &SessionQuery) -> Result<Vec<SessionSummary>>;

    /// Saves every session atomically, version-checked per item; returns the new versions in
    /// input order. An empty batch returns an empty vector.
    ///
    /// # Errors
    ///
    /// [`Error::VersionConflict`] naming the first conflicting session (nothing is written);
    /// [`Error::InvalidInput`] for a bad or duplicate id.
    async fn save_many(&self, sessions: &[Session]) -> Result<Vec<u64>>;

    /// The sessions with these ids that exist, by id.
    async fn get_many(&self, ids: &[String]) -> Result<HashMap<String, Session>>;

    /// Deletes the sessions with these ids; returns how many existed.
    async fn delete_many(&self, ids: &[String]) -> Result<u64>;

    /// Sets the state, stamps `updated_at` with the backend's clock and increments the
    /// version; returns the new version.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when the session does not exist.
    async fn update_state(&self, id: &str, state: SessionState) -> Result<u64>;

    /// Deletes sessions whose `updated_at` is strictly before `older_than` (all when `None`);
    /// returns how many.
    async fn clear(&self, older_than: Option<DateTime<Utc>>) -> Result<u64>;

    /// Counts by state and an approximate size.
    async fn stats(&self) -> Result<SessionStats>;
}

/// Checks an id against the rules in the module docs.
pub(crate) fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::InvalidInput("session id must not be empty".into()));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::InvalidInput(format!(
            "session id must be at most {MAX_ID_LEN} bytes"
        )));
    }
    Ok(())
}

/// Checks a session's id and payload before it is written.
pub(crate) fn validate_session(session: &Session) -> Result<()> {
    validate_id(&session.id)?;
    crate::payload::check_storable(&session.data)
}

/// Checks every session of a batch and that no id appears twice.
pub(crate) fn validate_batch(sessions: &[Session]) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(sessions.len());
    for session in sessions {
        validate_session(session)?;
        if !seen.insert(session.id.as_str()) {
            return Err(Error::InvalidInput(format!(
                "session id {:?} appears twice in one batch",
                session.id
            )));
        }
    }
    Ok(())
}

/// Stats with every state present (count 0 when none).
pub(crate) fn empty_by_state() -> BTreeMap<SessionState, u64> {
    SessionState::ALL.into_iter().map(|s| (s, 0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_parses_back_from_its_name() {
        for state in SessionState::ALL {
            assert_eq!(state.as_str().parse::<SessionState>().ok(), Some(state));
        }
        assert!("bogus".parse::<SessionState>().is_err());
    }

    #[test]
    fn a_session_serializes_to_json_and_back_with_its_dates() {
        let mut session = Session::new("s-1", SessionState::Active, serde_json::json!({"a": [1]}));
        session.expires_at = Some(session.created_at + chrono::Duration::days(7));
        session.version = 3;
        let text = serde_json::to_string(&session).expect("serializes");
        let back: Session = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, session);
    }

    #[test]
    fn a_batch_with_a_duplicate_id_is_invalid() {
        let s = Session::new("dup", SessionState::Active, Value::Null);
        assert!(matches!(
            validate_batch(&[s.clone(), s]),
            Err(Error::InvalidInput(_))
        ));
    }
}
