//! In-memory [`SessionStore`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, SubsecRound, Utc};

use crate::metrics::observe;
use crate::session::{
    Session, SessionQuery, SessionState, SessionStats, SessionStore, SessionSummary,
    empty_by_state, validate_batch, validate_session,
};
use crate::{Error, Result};

const PRIMITIVE: &str = "session";
const BACKEND: &str = "memory";

/// Sessions in a process-local map. Clones are handles to the same sessions; nothing
/// survives the process.
#[derive(Debug, Clone, Default)]
pub struct MemorySessionStore {
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock cannot leave a half-written session: every write
        // is a single map insert or removal.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The version `session` would get, or the conflict it hits.
fn next_version(stored: &HashMap<String, Session>, session: &Session) -> Result<u64> {
    let actual = stored.get(&session.id).map(|s| s.version);
    match actual {
        None if session.version == 0 => Ok(1),
        Some(v) if v == session.version && v > 0 => Ok(v + 1),
        _ => {
            tracing::debug!(session.id = %session.id, expected = session.version, actual, "session version conflict");
            Err(Error::VersionConflict {
                key: session.id.clone(),
                expected: session.version,
                actual,
            })
        }
    }
}

fn stored_copy(session: &Session, version: u64) -> Session {
    Session {
        version,
        ..session.truncated_to_millis()
    }
}

#[async_trait::async_trait]
impl SessionStore for MemorySessionStore {
    async fn save(&self, session: &Session) -> Result<u64> {
        observe(PRIMITIVE, "save", BACKEND, async {
            validate_session(session)?;
            let mut sessions = self.lock();
            let version = next_version(&sessions, session)?;
            sessions.insert(session.id.clone(), stored_copy(session, version));
            Ok(version)
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<Session>> {
        observe(PRIMITIVE, "get", BACKEND, async {
            Ok(self.lock().get(id).cloned())
        })
        .await
    }

    async fn has(&self, id: &str) -> Result<bool> {
        observe(PRIMITIVE, "has", BACKEND, async {
            Ok(self.lock().contains_key(id))
        })
        .await
    }

    async fn delete(&self, id: &str) -> Result<bool> {
        observe(PRIMITIVE, "delete", BACKEND, async {
            Ok(self.lock().remove(id).is_some())
        })
        .await
    }

    async fn list(&self, query: &SessionQuery) -> Result<Vec<SessionSummary>> {
        observe(PRIMITIVE, "list", BACKEND, async {
            let mut summaries: Vec<SessionSummary> = self
                .lock()
                .values()
                .filter(|s| query.state.is_none_or(|state| s.state == state))
                .map(Session::summary)
                .collect();
            summaries.sort_by(|a, b| {
                b.updated_at
                    .cmp(&a.updated_at)
                    .then_with(|| a.id.cmp(&b.id))
            });
            Ok(summaries
                .into_iter()
                .skip(query.offset)
                .take(query.limit.unwrap_or(usize::MAX))
                .collect())
        })
        .await
    }

    async fn save_many(&self, batch: &[Session]) -> Result<Vec<u64>> {
        observe(PRIMITIVE, "save_many", BACKEND, async {
            validate_batch(batch)?;
            let mut sessions = self.lock();
            // Check every item before writing any, so a conflict writes nothing.
            let versions = batch
                .iter()
                .map(|s| next_version(&sessions, s))
                .collect::<Result<Vec<u64>>>()?;
            for (session, &version) in batch.iter().zip(&versions) {
                sessions.insert(session.id.clone(), stored_copy(session, version));
            }
            Ok(versions)
        })
        .await
    }

    async fn get_many(&self, ids: &[String]) -> Result<HashMap<String, Session>> {
        observe(PRIMITIVE, "get_many", BACKEND, async {
            let sessions = self.lock();
            Ok(ids
                .iter()
                .filter_map(|id| sessions.get(id).map(|s| (id.clone(), s.clone())))
                .collect())
        })
        .await
    }

    async fn delete_many(&self, ids: &[String]) -> Result<u64> {
        observe(PRIMITIVE, "delete_many", BACKEND, async {
            let mut sessions = self.lock();
            Ok(ids
                .iter()
                .filter(|id| sessions.remove(*id).is_some())
                .count() as u64)
        })
        .await
    }

    async fn update_state(&self, id: &str, state: SessionState) -> Result<u64> {
        observe(PRIMITIVE, "update_state", BACKEND, async {
            let mut sessions = self.lock();
            let session = sessions
                .get_mut(id)
                .ok_or_else(|| Error::not_found("session", id))?;
            session.state = state;
            session.updated_at = Utc::now().trunc_subsecs(3);
            session.version += 1;
            Ok(session.version)
        })
        .await
    }

    async fn clear(&self, older_than: Option<DateTime<Utc>>) -> Result<u64> {
        observe(PRIMITIVE, "clear", BACKEND, async {
            let mut sessions = self.lock();
            let before = sessions.len();
            match older_than {
                Some(cutoff) => sessions.retain(|_, s| s.updated_at >= cutoff),
                None => sessions.clear(),
            }
            Ok((before - sessions.len()) as u64)
        })
        .await
    }

    async fn stats(&self) -> Result<SessionStats> {
        observe(PRIMITIVE, "stats", BACKEND, async {
            let sessions = self.lock();
            let mut stats = SessionStats {
                total: sessions.len() as u64,
                by_state: empty_by_state(),
                bytes: 0,
            };
            for session in sessions.values() {
                *stats.by_state.entry(session.state).or_default() += 1;
                stats.bytes += serde_json::to_vec(&session.data)?.len() as u64;
            }
            Ok(stats)
        })
        .await
    }
}
