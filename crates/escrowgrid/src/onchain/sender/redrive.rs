//! Re-driving: the sender claims the DLQ items root re-opened (`POST
//! /ledger/onchain/failed/{id}/retry`) and makes one attempt for each: success confirms the
//! event and resolves the item, failure parks it again.

use gridstore::{ClaimRequest, DlqItem, DlqOutcome};
use serde_json::Value;
use tracing::{info, warn};

use crate::domain::{LedgerEventId, PositionId};
use crate::store::Scope;
use crate::worker::Step;

use super::super::record::{OnchainStatus, key as record_key};
use super::super::{DLQ_JOB, contract, payload};
use super::Worker;
use super::batch::{Job, Outcome};

impl Worker {
    /// Claims re-opened items and attempts each once.
    pub(super) async fn redrive(&mut self) -> Step<()> {
        let request = ClaimRequest::new(
            self.ctx.settings.instance.clone(),
            10,
            self.ctx.settings.confirm_timeout * 2,
        )
        .for_job(DLQ_JOB);
        for item in self.ctx.ports.dlq.claim(&request).await? {
            let outcome = self.redrive_one(&item).await?;
            if outcome == DlqOutcome::Resolved {
                info!(dlq_item_id = item.id, "on-chain event re-driven");
            }
            self.ctx
                .ports
                .dlq
                .settle(item.id, &self.ctx.settings.instance, outcome)
                .await?;
        }
        Ok(())
    }

    async fn redrive_one(&mut self, item: &DlqItem) -> Step<DlqOutcome> {
        let text = |key: &str| item.payload.get(key).and_then(Value::as_str);
        let ids = text("ledgerEventId")
            .and_then(|id| id.parse::<LedgerEventId>().ok())
            .zip(text("positionId").and_then(|id| PositionId::parse(id).ok()));
        let Some((ledger_id, position_id)) = ids else {
            return Ok(park("the item names no ledger event"));
        };
        let ledger = self
            .ctx
            .store
            .list_ledger_events(&Scope::Root, Some(&position_id))
            .await?
            .into_iter()
            .find(|event| event.id == ledger_id);
        let Some(ledger) = ledger else {
            return Ok(park("the ledger event no longer exists"));
        };
        let Some((mut record, raw)) = self.ctx.records.load(&ledger.id).await? else {
            return Ok(park("the event has no on-chain record"));
        };
        if record.view.status == OnchainStatus::Confirmed {
            return Ok(DlqOutcome::Resolved);
        }
        let position = self
            .ctx
            .store
            .get_position(&Scope::Root, &position_id)
            .await?;
        let (kind, payload_json) = payload::build(&ledger, &position);
        let input =
            contract::record_position_event(ledger.position_id.as_str(), &kind, &payload_json);
        record.view.status = OnchainStatus::Pending;
        let mut jobs = [Job {
            key: record_key(&ledger.id),
            ledger: Some(ledger),
            input,
            record,
            previous: Some(raw),
        }];
        let outcome = self.attempt_batch(&mut jobs).await?.pop();
        let [job] = jobs;
        match outcome {
            Some(Outcome::Confirmed(mined)) => {
                self.confirmed(&job, mined).await?;
                Ok(DlqOutcome::Resolved)
            }
            Some(Outcome::Failed(error)) => {
                warn!(record = %job.key, error = %error, "on-chain re-drive failed");
                let mut record = job.record;
                record.view.status = OnchainStatus::Failed;
                record.note = Some(error.0.clone());
                self.ctx.records.store_key(&job.key, &record).await?;
                Ok(park(&error.0))
            }
            Some(Outcome::Deferred) | None => Ok(park("the attempt did not happen")),
        }
    }
}

/// Parks an item again (until the next re-drive).
fn park(reason: &str) -> DlqOutcome {
    DlqOutcome::Ineligible {
        reason: reason.to_owned(),
    }
}
