//! Writes retried after `503 Commit outcome unknown` (issue 13 item 4).
//!
//! A create under an `Idempotency-Key` gives its entity the id derived from the request's
//! [`IdSeed`] (caller, key, request hash), so every attempt of that request names the same
//! entity. Before creating, the handler looks that id up: if an earlier attempt committed it
//! (its answer was lost), the retry answers 201 with the stored entity instead of creating a
//! second one. Without a key there is no seed and no lookup. Creates whose answer carries a
//! secret shown only once (API keys, webhooks) cannot repeat it: they answer 409 naming the
//! entity instead. A transition's lifecycle event is seeded the same way, so its retry finds
//! the event its earlier attempt appended (see `docs/OPERATIONS.md`).

use std::future::Future;

use crate::domain::IdSeed;

use super::caller::Caller;
use super::error::{ApiError, ApiResult};

/// The entity an earlier attempt of this create committed, if any: `get` is called with the
/// id `derive` makes from the request's seed; not found means no attempt committed. `None`
/// without a seed (no `Idempotency-Key`).
pub async fn committed<I, T, Fut>(
    caller: &Caller,
    derive: fn(&IdSeed) -> I,
    get: impl FnOnce(I) -> Fut,
) -> ApiResult<Option<T>>
where
    Fut: Future<Output = crate::Result<T>>,
{
    let Some(seed) = caller.audit.id_seed.as_ref() else {
        return Ok(None);
    };
    match get(derive(seed)).await {
        Ok(found) => Ok(Some(found)),
        Err(crate::Error::NotFound { .. }) => Ok(None),
        Err(err) => Err(ApiError::from(err)),
    }
}

/// 409 for a retried create whose earlier attempt committed an entity whose secret was shown
/// only in the lost answer: `error` is the message, `id` the entity's id, `remedy` what the
/// client does about it.
pub fn secret_lost(error: &'static str, id: &str, remedy: &str) -> ApiError {
    ApiError::conflict(error).with_details(format!(
        "an earlier attempt of this request created {id}, but its answer was lost and its \
             secret cannot be shown again; {remedy}"
    ))
}
