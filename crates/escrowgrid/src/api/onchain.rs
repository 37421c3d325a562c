//! `ONCHAIN_FAILURE_MODE=fail`: a position write waits for its ledger event's on-chain
//! confirmation (the sender does the sending; the request only watches the record) and answers
//! an honest 5xx naming the committed position when it does not come.

use std::time::{Duration, Instant};

use crate::domain::PositionId;
use crate::onchain::OnchainStatus;
use crate::store::Scope;

use super::error::{ApiError, ApiResult};
use super::state::AppState;

/// How often the record is read while waiting.
const POLL: Duration = Duration::from_millis(25);

/// In `fail` mode, waits until the latest ledger event of `position` is confirmed (or
/// skipped); otherwise returns at once.
///
/// # Errors
///
/// [`ApiError::onchain_unconfirmed`] when it is still pending at the deadline or failed;
/// storage failures.
pub(super) async fn confirm_position_write(
    state: &AppState,
    position: &PositionId,
) -> ApiResult<()> {
    let (Some(wait), Some(records)) = (state.onchain_fail_wait(), state.onchain()) else {
        return Ok(());
    };
    let events = state
        .store()
        .list_ledger_events(&Scope::Root, Some(position))
        .await?;
    let Some(latest) = events.last() else {
        return Ok(());
    };
    let deadline = Instant::now() + wait;
    loop {
        let view = records.view(&latest.id).await?;
        match view.status {
            OnchainStatus::Confirmed | OnchainStatus::Skipped => return Ok(()),
            OnchainStatus::Failed => {}
            OnchainStatus::Pending if Instant::now() < deadline => {
                tokio::time::sleep(POLL).await;
                continue;
            }
            OnchainStatus::Pending => {}
        }
        let onchain = serde_json::to_value(&view).unwrap_or_default();
        return Err(ApiError::onchain_unconfirmed(
            "position",
            position.as_str(),
            &onchain,
        ));
    }
}
