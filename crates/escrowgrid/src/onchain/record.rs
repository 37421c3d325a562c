//! Each ledger event's on-chain record, kept in the gridstore KV store (shared by every
//! instance on PostgreSQL): its public status and, while pending, the signed transaction.

use std::sync::Arc;

use gridstore::KvStore;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Result;
use crate::domain::LedgerEventId;

/// Where an event stands on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnchainStatus {
    /// Not yet confirmed (not yet sent, sent, or being retried).
    Pending,
    /// Mined with the configured number of confirmations.
    Confirmed,
    /// Retries exhausted: parked in the DLQ.
    Failed,
    /// Not sent (template without `config.onchain.enabled`, or another chain).
    Skipped,
}

/// What the API shows of an event: `onchain: {status, txHash, blockNumber, chainId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnchainView {
    /// Where it stands.
    pub status: OnchainStatus,
    /// The transaction (once signed).
    pub tx_hash: Option<String>,
    /// The block holding it (once mined).
    pub block_number: Option<u64>,
    /// The chain (once the sender handled it).
    pub chain_id: Option<u64>,
}

/// The stored record: the view plus the sender's working state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxRecord {
    /// The public part.
    #[serde(flatten)]
    pub view: OnchainView,
    /// The signed transaction's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<u64>,
    /// The signed transaction (0x hex, EIP-2718), persisted before its first broadcast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_tx: Option<String>,
    /// Failed attempts so far.
    #[serde(default)]
    pub attempts: u32,
    /// The last failure, or why the event was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl TxRecord {
    /// A record with only a status.
    #[must_use]
    pub fn new(status: OnchainStatus, chain_id: Option<u64>) -> Self {
        Self {
            view: OnchainView {
                status,
                tx_hash: None,
                block_number: None,
                chain_id,
            },
            nonce: None,
            raw_tx: None,
            attempts: 0,
            note: None,
        }
    }

    /// Whether the sender is done with it.
    #[must_use]
    pub fn is_final(&self) -> bool {
        self.view.status != OnchainStatus::Pending
    }
}

/// The KV key of a ledger event's record.
#[must_use]
pub fn key(id: &LedgerEventId) -> String {
    format!("onchain:event:{id}")
}

/// The KV key of a ledger checkpoint's anchor record.
#[must_use]
pub fn checkpoint_key(number: i64) -> String {
    format!("onchain:checkpoint:{number}")
}

/// Reads and writes records.
#[derive(Debug, Clone)]
pub struct Records {
    kv: Arc<dyn KvStore>,
}

impl Records {
    /// Records on `kv`.
    #[must_use]
    pub fn new(kv: Arc<dyn KvStore>) -> Self {
        Self { kv }
    }

    /// The record of `id` as stored, with its raw JSON (for compare-and-set).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn load(&self, id: &LedgerEventId) -> Result<Option<(TxRecord, Value)>> {
        self.load_key(&key(id)).await
    }

    /// The record under `key` ([`key`], [`checkpoint_key`]) as stored, with its raw JSON.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn load_key(&self, key: &str) -> Result<Option<(TxRecord, Value)>> {
        let Some(raw) = self.kv.get(key).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_value(raw.clone())
            .ok()
            .map(|record| (record, raw)))
    }

    /// The public view of `id`; an event the sender has not reached yet is `pending`.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn view(&self, id: &LedgerEventId) -> Result<OnchainView> {
        self.view_key(&key(id)).await
    }

    /// The public views of `ids`, in order, read in one KV call.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn views(&self, ids: &[LedgerEventId]) -> Result<Vec<OnchainView>> {
        let keys: Vec<String> = ids.iter().map(key).collect();
        let found = self.kv.get_many(&keys).await?;
        Ok(found
            .into_iter()
            .map(|raw| {
                raw.and_then(|raw| serde_json::from_value::<TxRecord>(raw).ok())
                    .map_or_else(
                        || TxRecord::new(OnchainStatus::Pending, None).view,
                        |record| record.view,
                    )
            })
            .collect())
    }

    /// The public view of the record under `key`; `pending` when there is none yet.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn view_key(&self, key: &str) -> Result<OnchainView> {
        Ok(self.load_key(key).await?.map_or_else(
            || TxRecord::new(OnchainStatus::Pending, None).view,
            |(record, _)| record.view,
        ))
    }

    /// Writes `record` under `key` only if the stored one is still `previous` (none: not stored). Returns
    /// the value written, or `None` when the stored record had changed (nothing written).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn replace(
        &self,
        key: &str,
        previous: Option<&Value>,
        record: &TxRecord,
    ) -> Result<Option<Value>> {
        let value = serde_json::to_value(record).map_err(gridstore::Error::from)?;
        let written = match previous {
            None => self.kv.set_if_absent(key, value.clone(), None).await?,
            Some(previous) => {
                self.kv
                    .compare_and_set(key, previous, value.clone(), None)
                    .await?
            }
        };
        Ok(written.then_some(value))
    }

    /// Overwrites the record of `id`.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn store(&self, id: &LedgerEventId, record: &TxRecord) -> Result<Value> {
        self.store_key(&key(id), record).await
    }

    /// Overwrites the record under `key`.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn store_key(&self, key: &str, record: &TxRecord) -> Result<Value> {
        let value = serde_json::to_value(record).map_err(gridstore::Error::from)?;
        self.kv.set(key, value.clone(), None).await?;
        Ok(value)
    }
}
