//! Creating a position: the policy check, then the position, its `POSITION_CREATED` ledger
//! event, its audit row and its outbox events in one transaction. Two ways, one outcome:
//!
//! - **The first create of an asset on this instance**, two round trips: `BEGIN` with the
//!   creation context ([`POSITION_CONTEXT`]: institution, asset, template, policy), checked
//!   here; then the rows and the outbox events in one statement ([`CREATE_WRITES`]) with
//!   `COMMIT`. The context is kept ([`ContextCache`]).
//! - **Later creates of that asset**, one round trip and one message each way: checked against
//!   the kept context, then one statement with the rows and the outbox events, guarded by the
//!   policy they were checked against ([`GUARDED_CREATE_WRITES`], migration
//!   `0011_policy_guard.sql`), sent without `BEGIN`: PostgreSQL runs it as a transaction of
//!   its own and commits it before it answers. When the policy changed (on any instance) the
//!   guard raises, which fails the statement and so writes nothing, and the create starts
//!   again the first way. A create the kept context would refuse also goes the first way, so
//!   a refusal is always decided on what the database holds.
//!
//! The guarded statement checks the policy on its own snapshot, with the rows it writes; the
//! first way reads it one statement earlier. Neither locks the policy: a policy committed while
//! a create is in flight applies from the next create, as with any read before a write.

use std::sync::LazyLock;

use gridstore::NewEvent;
use gridstore::postgres::event_log::AppendRows;
use gridstore::postgres::{PgEventLog, PgTransaction};
use rust_decimal::Decimal;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::domain::{
    AssetId, AuditContext, AuditEvent, InstitutionId, LedgerEvent, NewPosition, PolicyConfig,
    Position, TemplateId, evaluate, now_millis,
};
use crate::store::{Scope, outbox, records};
use crate::{Error, Result};

use super::audit::AuditParams;
use super::combined::combined;
use super::contexts::CreateContext;
use super::db::{Db, Params, guard_held};
use super::entities::ensure_scope;
use super::ledger::LedgerParams;
use super::{PgEscrowStore, audit, ledger, rows};

/// The institution, the asset, its template and the institution's policy for the template's
/// region, in one statement; missing pieces come back as nulls.
const POSITION_CONTEXT: &str = "\
select i.id as institution_found, a.id as asset_found,
    t.id, t.institution_id, t.code, t.name, t.vertical, t.region, t.config, t.created_at,
    t.updated_at, p.config as policy_config
from institutions i
left join assets a on a.institution_id = i.id and a.id = $2
left join asset_templates t on t.institution_id = a.institution_id and t.id = a.template_id
left join institution_policies p on p.institution_id = i.id and p.region = t.region
where i.id = $1";

const INSERT_POSITION: &str = "\
insert into positions (id, institution_id, asset_id, holder_reference, currency, amount, state,
    external_reference, version, created_at, updated_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// A create's writes as one statement ([`combined`]): the position ([`INSERT_POSITION`]), its
/// `POSITION_CREATED` ledger event ([`ledger::INSERT_LEDGER`]), its audit row
/// ([`audit::INSERT_AUDIT`]) and its outbox events ([`PgEventLog::APPEND_SQL`]); the ledger
/// row's foreign key to the position is checked at the end of the statement, when both are
/// there.
static CREATE_WRITES: LazyLock<String> = LazyLock::new(|| {
    combined(
        &[
            ("position", INSERT_POSITION),
            ("ledger", ledger::INSERT_LEDGER),
            ("outbox", PgEventLog::APPEND_SQL),
        ],
        audit::INSERT_AUDIT,
    )
});

/// The guard of a create checked against a kept context: `true`, or GS409 when the policy of
/// the institution (`$1`) for the region (`$2`) is no longer `$3` (null: none).
const POLICY_GUARD: &str = "select escrowgrid_policy_unchanged($1, $2, $3::jsonb) as unchanged";

/// The key of the version conflict the guard raises starts with this.
const POLICY_GUARD_KEY: &str = "policy/";

/// [`CREATE_WRITES`] behind [`POLICY_GUARD`]: the final `select` makes the statement evaluate
/// the guard (a `WITH` part no one reads is not run; data-modifying ones always are). Sent
/// outside a transaction block, it is the whole transaction.
static GUARDED_CREATE_WRITES: LazyLock<String> = LazyLock::new(|| {
    combined(
        &[
            ("guard", POLICY_GUARD),
            ("position", INSERT_POSITION),
            ("ledger", ledger::INSERT_LEDGER),
            ("outbox", PgEventLog::APPEND_SQL),
            ("audit", audit::INSERT_AUDIT),
        ],
        "select unchanged from guard",
    )
});

impl PgEscrowStore {
    pub(super) async fn insert_position(
        &self,
        scope: &Scope,
        new: NewPosition,
        audit_context: &AuditContext,
    ) -> Result<Position> {
        ensure_scope(scope, &new.institution_id)?;
        if let Some(context) = self.contexts.get(&new.institution_id, &new.asset_id) {
            if check(&context, &new).is_ok() {
                let kept = self
                    .insert_guarded(new.clone(), audit_context, &context)
                    .await?;
                if let Some(position) = kept {
                    return Ok(position);
                }
                tracing::debug!(
                    institution_id = %new.institution_id,
                    asset_id = %new.asset_id,
                    "the policy changed since the creation context was kept; reading it again"
                );
                self.contexts.forget(&new.institution_id, &new.asset_id);
            }
        }
        self.insert_reading_context(new, audit_context).await
    }

    /// One statement, one message each way: the guarded rows and the outbox events, sent
    /// without `BEGIN`, so that PostgreSQL commits them as a transaction of their own before it
    /// answers. `None` when the guard found the policy changed (nothing was written).
    async fn insert_guarded(
        &self,
        new: NewPosition,
        audit_context: &AuditContext,
        context: &CreateContext,
    ) -> Result<Option<Position>> {
        let tx = PgTransaction::new(self.pool.get().await?);
        let db = Db::new(&tx, &self.counter);
        // Free once cached on the connection.
        let writes = db.prepare(&GUARDED_CREATE_WRITES).await?;
        let (position, ledger_event, event) = records::position(new, audit_context, now_millis());
        let events = outbox::position_created(&position, &ledger_event)?;
        let rows = RowParams::new(&position, &ledger_event, &event, &events)?;
        let guard: &Params<'_> = &[
            &position.institution_id.as_str(),
            &context.template.region.as_str(),
            &context.policy_json,
        ];
        let params: Vec<_> = guard.iter().copied().chain(rows.params()).collect();
        let written = db
            .run_alone(Box::pin(db.execute_prepared(&writes, &params)))
            .await;
        if !guard_held(written, POLICY_GUARD_KEY)? {
            return Ok(None);
        }
        self.kept.keep(position.clone(), ledger_event.hash.clone());
        Ok(Some(position))
    }

    /// Two round trips: `BEGIN` with the creation context (kept for the next create), then
    /// the rows, the outbox append and `COMMIT`.
    async fn insert_reading_context(
        &self,
        new: NewPosition,
        audit_context: &AuditContext,
    ) -> Result<Position> {
        let tx = PgTransaction::new(self.pool.get().await?);
        let db = Db::new(&tx, &self.counter);
        let context_params: &Params<'_> = &[&new.institution_id.as_str(), &new.asset_id.as_str()];
        // Round trip 1: `BEGIN`, the context and the prepares (free once cached).
        // Boxed: the joined reads and prepares make a large future.
        let (row, writes) = db
            .begin_with(Box::pin(async {
                tokio::try_join!(
                    db.query_opt(POSITION_CONTEXT, context_params),
                    db.prepare(&CREATE_WRITES),
                )
            }))
            .await?;
        let context = read_context(row.as_ref(), &new)?;
        let checked = check(&context, &new);
        self.contexts
            .put(&new.institution_id, &new.asset_id, context);
        // A refusal drops the transaction, which rolls it back.
        checked?;
        let (position, ledger_event, event) = records::position(new, audit_context, now_millis());
        let events = outbox::position_created(&position, &ledger_event)?;
        let rows = RowParams::new(&position, &ledger_event, &event, &events)?;
        let params: Vec<_> = rows.params().collect();
        // Round trip 2: the rows and the outbox events (one statement), and `COMMIT`.
        db.commit_with(vec![Box::pin(db.execute_prepared(&writes, &params))])
            .await?;
        self.kept.keep(position.clone(), ledger_event.hash.clone());
        Ok(position)
    }
}

/// The parameters of [`CREATE_WRITES`]: the position's, its ledger event's, its outbox
/// events', its audit row's.
struct RowParams<'a> {
    position: &'a Position,
    id: &'a str,
    institution_id: &'a str,
    asset_id: &'a str,
    currency: &'static str,
    amount: Decimal,
    state: &'static str,
    ledger: LedgerParams<'a>,
    outbox: AppendRows<'a>,
    audit: AuditParams<'a>,
}

impl<'a> RowParams<'a> {
    fn new(
        position: &'a Position,
        ledger: &'a LedgerEvent,
        audit: &'a AuditEvent,
        outbox: &'a [NewEvent],
    ) -> Result<Self> {
        Ok(Self {
            position,
            id: position.id.as_str(),
            institution_id: position.institution_id.as_str(),
            asset_id: position.asset_id.as_str(),
            currency: position.currency.as_str(),
            amount: Decimal::from(position.amount),
            state: position.state.as_str(),
            ledger: LedgerParams::new(ledger),
            outbox: AppendRows::new(outbox)?,
            audit: AuditParams::new(audit),
        })
    }

    fn params(&self) -> impl Iterator<Item = &(dyn ToSql + Sync)> {
        let position = self.position;
        let own: [&(dyn ToSql + Sync); 11] = [
            &self.id,
            &self.institution_id,
            &self.asset_id,
            &position.holder_reference,
            &self.currency,
            &self.amount,
            &self.state,
            &position.external_reference,
            &position.version,
            &position.created_at,
            &position.updated_at,
        ];
        own.into_iter()
            .chain(self.ledger.params())
            .chain(self.outbox.params())
            .chain(self.audit.params())
    }
}

/// The creation context read by [`POSITION_CONTEXT`]. Missing pieces are NotFound, in the
/// order institution, asset, template.
fn read_context(row: Option<&Row>, new: &NewPosition) -> Result<CreateContext> {
    let row =
        row.ok_or_else(|| Error::not_found(InstitutionId::RESOURCE, new.institution_id.as_str()))?;
    if !rows::present(row, "asset_found")? {
        return Err(Error::not_found(AssetId::RESOURCE, new.asset_id.as_str()));
    }
    if !rows::present(row, "id")? {
        return Err(Error::not_found(TemplateId::RESOURCE, ""));
    }
    let policy_json: Option<serde_json::Value> = rows::get(row, "policy_config")?;
    let policy: Option<PolicyConfig> = rows::json_opt(row, "policy_config")?;
    Ok(CreateContext {
        template: rows::template(row)?,
        policy,
        policy_json,
    })
}

/// The policy and the template's limits, evaluated for `new`.
fn check(context: &CreateContext, new: &NewPosition) -> Result<()> {
    evaluate(
        context.position_policy(),
        &context.template,
        new.currency,
        new.amount,
    )?;
    Ok(())
}
