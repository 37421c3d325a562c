//! Retries exhausted: the event goes to the gridstore DLQ (job `onchain`), its record
//! becomes `failed`, and an audit row `ONCHAIN_LEDGER_RETRY_EXHAUSTED` is written.

use gridstore::NewDlqItem;
use serde_json::json;
use tracing::warn;

use crate::Result;
use crate::domain::{
    AuditAction, AuditContext, AuditError, AuditOutcome, LedgerEvent, ResourceType, now_millis,
};
use crate::worker::park_in_dlq;

use super::DLQ_JOB;
use super::record::{OnchainStatus, TxRecord};
use super::sender::Context;

/// Parks `ledger` in the DLQ, marks its record `failed` and audits
/// `ONCHAIN_LEDGER_RETRY_EXHAUSTED`.
///
/// # Errors
/// Storage failures.
pub(super) async fn dead_letter(
    ctx: &Context,
    ledger: &LedgerEvent,
    mut record: TxRecord,
) -> Result<()> {
    let chain_id = ctx.chain.chain_id();
    let error = record.note.clone().unwrap_or_default();
    let mut item = NewDlqItem::new(
        DLQ_JOB,
        json!({
            "ledgerEventId": ledger.id,
            "positionId": ledger.position_id,
            "institutionId": ledger.institution_id,
            "kind": ledger.kind,
            "txHash": record.view.tx_hash,
            "chainId": chain_id,
        }),
        error.clone(),
    )
    .with_details(json!({"attempts": record.attempts}));
    item.retry_count = record.attempts;
    let parked = park_in_dlq(&*ctx.ports.dlq, item).await?;
    record.view.status = OnchainStatus::Failed;
    ctx.records.store(&ledger.id, &record).await?;
    let audit = AuditContext {
        institution_id: Some(ledger.institution_id.clone()),
        method: "POST".into(),
        path: "/ledger-events".into(),
        ..AuditContext::default()
    };
    let mut event = audit.event(
        AuditAction::OnchainLedgerRetryExhausted,
        AuditOutcome::Failure,
        Some((ResourceType::Position, ledger.position_id.to_string())),
        Some(json!({
            "ledgerEventId": ledger.id,
            "attempts": record.attempts,
            "chainId": chain_id,
            "dlqItemId": parked,
        })),
        now_millis(),
    );
    event.error = Some(AuditError {
        code: Some("ONCHAIN_LEDGER_RETRY_EXHAUSTED".into()),
        message: error,
        details: None,
    });
    ctx.store.record_audit(event).await?;
    warn!(
        ledger_event_id = %ledger.id,
        attempts = record.attempts,
        dlq_item_id = parked,
        "on-chain event dead-lettered"
    );
    Ok(())
}
