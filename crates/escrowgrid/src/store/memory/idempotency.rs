//! Idempotency records of the memory store: one entry per (scope, key), reserved or completed.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::idempotency::expiry;
use crate::store::{Reservation, StoredResponse};
use crate::{Error, Result};

/// Expired entries are swept whenever the map reaches a multiple of this size.
const SWEEP_EVERY: usize = 1024;

/// One (scope, key)'s record.
#[derive(Debug, Clone)]
enum Entry {
    /// A request with this hash runs until it completes, is released or the lease ends.
    Reserved {
        request_hash: String,
        expires_at: DateTime<Utc>,
    },
    /// The final response, replayed until it is [`IDEMPOTENCY_TTL`] old.
    ///
    /// [`IDEMPOTENCY_TTL`]: crate::store::IDEMPOTENCY_TTL
    Completed(StoredResponse),
}

impl Entry {
    fn is_live(&self, now: DateTime<Utc>) -> bool {
        match self {
            Self::Reserved { expires_at, .. } => *expires_at > now,
            Self::Completed(response) => response.is_live(now),
        }
    }
}

/// The records, keyed by (scope, key). Callers hold the store's write lock.
#[derive(Debug, Default)]
pub(super) struct IdempotencyRecords {
    entries: HashMap<(String, String), Entry>,
}

impl IdempotencyRecords {
    pub(super) fn reserve(
        &mut self,
        scope_key: &str,
        key: &str,
        request_hash: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Reservation {
        let entry_key = (scope_key.to_owned(), key.to_owned());
        match self
            .entries
            .get(&entry_key)
            .filter(|entry| entry.is_live(now))
        {
            Some(Entry::Completed(response)) if response.request_hash == request_hash => {
                Reservation::Replay(response.clone())
            }
            Some(Entry::Reserved {
                request_hash: held, ..
            }) if held == request_hash => Reservation::InProgress,
            Some(_) => Reservation::Mismatch,
            None => {
                if self.entries.len() % SWEEP_EVERY == SWEEP_EVERY - 1 {
                    self.entries.retain(|_, entry| entry.is_live(now));
                }
                let reserved = Entry::Reserved {
                    request_hash: request_hash.to_owned(),
                    expires_at: expiry(now, lease),
                };
                self.entries.insert(entry_key, reserved);
                Reservation::Reserved
            }
        }
    }

    pub(super) fn complete(
        &mut self,
        scope_key: &str,
        key: &str,
        response: StoredResponse,
    ) -> Result<()> {
        let entry_key = (scope_key.to_owned(), key.to_owned());
        let held = matches!(
            self.entries.get(&entry_key),
            Some(Entry::Reserved { request_hash, .. }) if *request_hash == response.request_hash
        );
        if !held {
            return Err(Error::not_found("idempotency reservation", key));
        }
        self.entries.insert(entry_key, Entry::Completed(response));
        Ok(())
    }

    pub(super) fn release(&mut self, scope_key: &str, key: &str) {
        let entry_key = (scope_key.to_owned(), key.to_owned());
        if matches!(self.entries.get(&entry_key), Some(Entry::Reserved { .. })) {
            self.entries.remove(&entry_key);
        }
    }
}
