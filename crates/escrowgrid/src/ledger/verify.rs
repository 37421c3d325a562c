//! Verification of the ledger's hash chains: recompute every event's hash and follow every
//! position's chain in write order, stopping at the first event that breaks. Pure: the caller
//! loads the events (in write order) from whichever store.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::domain::{LedgerEvent, LedgerEventId, LedgerEventKind, PositionId};

use super::checkpoint::{Checkpoint, CheckpointBreak, verify_checkpoints};
use super::hash::event_hash;
use crate::Result;
use crate::store::{EscrowStore, Scope};

/// Why an event breaks its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BreakReason {
    /// Its stored hash is not the hash of its fields (a field was changed), or a hashed
    /// position continues with an unhashed event.
    Edited,
    /// Its previous hash names no stored event, or its position's creation is missing.
    Deleted,
    /// Its previous hash names an event that already has a successor, or it is a second
    /// creation of its position.
    Inserted,
    /// Its previous hash names an event written after it.
    Reordered,
}

/// The first event that breaks, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainBreak {
    /// The event.
    pub event_id: LedgerEventId,
    /// Its position (its chain).
    pub position_id: PositionId,
    /// Its index in write order among the verified events (0-based).
    pub index: usize,
    /// Why.
    pub reason: BreakReason,
    /// A sentence for people.
    pub detail: String,
}

/// The outcome of a verification (the JSON answer of `GET /ledger/verify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// True when every chain verifies.
    pub ok: bool,
    /// Events read.
    pub events_checked: usize,
    /// Positions (chains) seen.
    pub chains_checked: usize,
    /// Events written before hashing started (no hash; see `docs/LEDGER.md`).
    pub unhashed_events: usize,
    /// The first break, when not ok.
    #[serde(skip_serializing_if = "Option::is_none", rename = "break")]
    pub first_break: Option<ChainBreak>,
    /// Checkpoints verified (only when every chain is verified: checkpoints are global).
    pub checkpoints_checked: usize,
    /// The first checkpoint that does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_break: Option<CheckpointBreak>,
}

impl Verification {
    /// Adds the verification of `checkpoints` (see [`verify_checkpoints`]).
    pub fn add_checkpoints(&mut self, checkpoints: &[(Checkpoint, Vec<String>)]) {
        self.checkpoints_checked = checkpoints.len();
        self.checkpoint_break = verify_checkpoints(checkpoints);
        self.ok = self.ok && self.checkpoint_break.is_none();
    }
}

#[derive(Default)]
struct Chain {
    events: usize,
    last_hash: Option<String>,
}

/// Verifies `events` (in write order); `progress` is called with the events done and the total.
#[must_use]
pub fn verify(events: &[LedgerEvent], mut progress: impl FnMut(usize, usize)) -> Verification {
    let position_of_hash: HashMap<&str, usize> = events
        .iter()
        .enumerate()
        .filter_map(|(index, event)| event.hash.as_deref().map(|hash| (hash, index)))
        .collect();
    let mut chains: HashMap<&PositionId, Chain> = HashMap::new();
    let mut has_successor: HashSet<&str> = HashSet::new();
    let mut unhashed = 0;
    let mut first_break = None;
    for (index, event) in events.iter().enumerate() {
        if index % 65_536 == 0 {
            progress(index, events.len());
        }
        let chain = chains.entry(&event.position_id).or_default();
        let found = check(event, chain, index, &position_of_hash, &has_successor);
        if let Err((reason, detail)) = found {
            first_break = Some(ChainBreak {
                event_id: event.id.clone(),
                position_id: event.position_id.clone(),
                index,
                reason,
                detail,
            });
            break;
        }
        chain.events += 1;
        match &event.hash {
            None => unhashed += 1,
            Some(hash) => {
                if let Some(previous) = event.previous_hash.as_deref() {
                    has_successor.insert(previous);
                }
                chain.last_hash = Some(hash.clone());
            }
        }
    }
    progress(events.len(), events.len());
    Verification {
        ok: first_break.is_none(),
        events_checked: events.len(),
        chains_checked: chains.len(),
        unhashed_events: unhashed,
        first_break,
        checkpoints_checked: 0,
        checkpoint_break: None,
    }
}

/// Verifies the chains of every event in `scope` and, for root's whole ledger, the
/// checkpoints: what `GET /ledger/verify` and `escrowgrid ledger verify` answer.
///
/// # Errors
///
/// Store read failures.
pub async fn verify_store(
    store: &dyn EscrowStore,
    scope: &Scope,
    progress: impl FnMut(usize, usize),
) -> Result<Verification> {
    let events = store.list_ledger_events(scope, None).await?;
    let mut report = verify(&events, progress);
    if matches!(scope, Scope::Root) {
        report.add_checkpoints(&store.ledger_checkpoints().await?);
    }
    Ok(report)
}

type Checked = Result<(), (BreakReason, String)>;

fn check(
    event: &LedgerEvent,
    chain: &Chain,
    index: usize,
    position_of_hash: &HashMap<&str, usize>,
    has_successor: &HashSet<&str>,
) -> Checked {
    let Some(stored) = event.hash.as_deref() else {
        if chain.last_hash.is_some() {
            return Err((
                BreakReason::Edited,
                "an unhashed event follows hashed ones".into(),
            ));
        }
        return Ok(());
    };
    if event_hash(event, event.previous_hash.as_deref()) != stored {
        return Err((
            BreakReason::Edited,
            "its hash does not match its fields".into(),
        ));
    }
    let creation = event.kind == LedgerEventKind::PositionCreated;
    let Some(previous) = event.previous_hash.as_deref() else {
        return match (creation, chain.events) {
            (true, 0) => Ok(()),
            (true, _) => Err((BreakReason::Inserted, "a second creation".into())),
            // The first hashed event after unhashed ones (a position older than hashing).
            (false, n) if n > 0 && chain.last_hash.is_none() => Ok(()),
            (false, _) => Err((
                BreakReason::Deleted,
                "no previous hash and no creation before it".into(),
            )),
        };
    };
    if chain.last_hash.as_deref() == Some(previous) {
        return Ok(());
    }
    match position_of_hash.get(previous) {
        None => Err((BreakReason::Deleted, "its previous event is missing".into())),
        Some(&at) if at > index => Err((
            BreakReason::Reordered,
            "its previous event was written after it".into(),
        )),
        Some(_) if has_successor.contains(previous) => Err((
            BreakReason::Inserted,
            "its previous event already has a successor".into(),
        )),
        Some(_) => Err((
            BreakReason::Inserted,
            "it links to an event that is not the latest of its position".into(),
        )),
    }
}
