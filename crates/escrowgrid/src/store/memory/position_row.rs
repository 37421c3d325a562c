//! Positions as the memory store keeps them: the id packed, the institution, asset and holder
//! reference shared with the other positions that have them (see [`super::packed`]), the
//! lifecycle events shared with the [`Position`] the row was made from. A position is read back
//! as a [`Position`] (the rows of a page, a get, a rendered event): the ids unpacked, the
//! events shared, never copied.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::{
    Amount, AssetId, Currency, InstitutionId, Position, PositionLifecycleEvent, PositionState,
};

use super::packed::{Packed, Shared};

/// One version of a position, compact. A version never changes: a transition stores a new one.
#[derive(Debug)]
pub(super) struct PositionRow {
    id: Packed,
    institution_id: Arc<InstitutionId>,
    asset_id: Arc<AssetId>,
    holder_reference: Arc<str>,
    currency: Currency,
    amount: Amount,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
    external_reference: Option<Box<str>>,
    events: Arc<[PositionLifecycleEvent]>,
    state: PositionState,
}

impl PositionRow {
    /// The row of `position`.
    pub(super) fn new(position: &Position, shared: &mut Shared) -> Self {
        Self {
            id: Packed::new(position.id.as_str()),
            institution_id: shared.institutions.value(&position.institution_id),
            asset_id: shared.assets.value(&position.asset_id),
            holder_reference: shared.text.text(&position.holder_reference),
            currency: position.currency,
            amount: position.amount,
            created_at: position.created_at,
            updated_at: position.updated_at,
            version: position.version,
            external_reference: position.external_reference.as_deref().map(Box::from),
            events: shared_events(&position.events),
            state: position.state,
        }
    }

    /// The position.
    pub(super) fn position(&self) -> Position {
        Position {
            id: self.id.to_id(),
            institution_id: InstitutionId::clone(&self.institution_id),
            asset_id: AssetId::clone(&self.asset_id),
            holder_reference: self.holder_reference.to_string(),
            currency: self.currency,
            amount: self.amount,
            state: self.state,
            external_reference: self.external_reference.as_deref().map(str::to_owned),
            created_at: self.created_at,
            updated_at: self.updated_at,
            events: Arc::clone(&self.events),
            version: self.version,
        }
    }

    /// The position's id.
    pub(super) fn id(&self) -> &Packed {
        &self.id
    }

    /// The owning institution.
    pub(super) fn institution_id(&self) -> &InstitutionId {
        &self.institution_id
    }

    /// The asset.
    pub(super) fn asset_id(&self) -> &AssetId {
        &self.asset_id
    }

    /// The holder's reference.
    pub(super) fn holder_reference(&self) -> &str {
        &self.holder_reference
    }

    /// The creation time.
    pub(super) fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

/// `events`, shared; no events are the one empty slice every row shares (no heap block).
fn shared_events(events: &Arc<[PositionLifecycleEvent]>) -> Arc<[PositionLifecycleEvent]> {
    if events.is_empty() {
        Arc::default()
    } else {
        Arc::clone(events)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::{LifecycleEventId, PositionId};

    #[test]
    fn a_position_row_gives_back_its_position_and_shares_repeated_values() {
        let at = crate::domain::now_millis();
        let position = Position {
            id: PositionId::new(),
            institution_id: InstitutionId::new(),
            asset_id: AssetId::new(),
            holder_reference: "holder-1".into(),
            currency: Currency::USD,
            amount: "12345678901234.12345678".parse().unwrap(),
            state: PositionState::Created,
            external_reference: Some(String::new()),
            created_at: at,
            updated_at: at,
            events: Arc::default(),
            version: 1,
        };
        let funded = crate::lifecycle::apply(
            &position,
            PositionState::Funded,
            Some("wire".into()),
            json!({"k": [1.50]}).as_object().cloned(),
            at,
            LifecycleEventId::new(),
        )
        .unwrap()
        .unwrap()
        .position;
        let mut shared = Shared::default();
        let first = PositionRow::new(&position, &mut shared);
        let second = PositionRow::new(&funded, &mut shared);
        assert_eq!(first.position(), position);
        assert_eq!(second.position(), funded);
        assert!(Arc::ptr_eq(&second.position().events, &funded.events));
        assert!(Arc::ptr_eq(&first.events, &Arc::default()));
        assert!(Arc::ptr_eq(&first.asset_id, &second.asset_id));
        assert!(Arc::ptr_eq(
            &first.holder_reference,
            &second.holder_reference
        ));
        assert!(first.id().is(position.id.as_str()));
        let odd = Position {
            id: serde_json::from_value(json!("pos_1")).unwrap(),
            external_reference: None,
            ..position
        };
        assert_eq!(PositionRow::new(&odd, &mut shared).position(), odd);
    }
}
