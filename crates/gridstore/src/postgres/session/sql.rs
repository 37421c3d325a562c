//! The statements of the PostgreSQL session store, and the batch columns bound to them.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use tokio_postgres::types::ToSql;

use super::to_db_version;
use crate::Result;
use crate::session::Session;

/// `$4` is the version the caller read. `written` is the new version, or null on a conflict.
pub(super) const SAVE: &str = "
with updated as (
    update gs_sessions
       set state = $2, data = $3, version = version + 1,
           created_at = $5, updated_at = $6, expires_at = $7
     where id = $1 and version = $4 and $4 > 0
 returning version
), inserted as (
    insert into gs_sessions (id, state, data, version, created_at, updated_at, expires_at)
    select $1, $2, $3, 1, $5, $6, $7
     where $4 = 0
        on conflict (id) do nothing
 returning version
)
select coalesce((select version from updated), (select version from inserted)) as written";

/// The batch form of [`SAVE`]: one row per input item in input order, with `new_version`
/// null for a conflicting item.
pub(super) const SAVE_MANY: &str = "
with input as (
    select *
      from unnest($1::text[], $2::text[], $3::jsonb[], $4::int8[],
                  $5::timestamptz[], $6::timestamptz[], $7::timestamptz[])
           with ordinality
           as t(id, state, data, version, created_at, updated_at, expires_at, ord)
), updated as (
    update gs_sessions s
       set state = i.state, data = i.data, version = s.version + 1,
           created_at = i.created_at, updated_at = i.updated_at, expires_at = i.expires_at
      from input i
     where s.id = i.id and i.version > 0 and s.version = i.version
 returning s.id, s.version
), inserted as (
    insert into gs_sessions (id, state, data, version, created_at, updated_at, expires_at)
    select id, state, data, 1, created_at, updated_at, expires_at
      from input
     where version = 0
        on conflict (id) do nothing
 returning id, version
)
select coalesce(u.version, n.version) as new_version
  from input i
  left join updated u on u.id = i.id
  left join inserted n on n.id = i.id
 order by i.ord";

/// The committed version of one session, read after a conflict.
pub(super) const VERSION: &str = "select version from gs_sessions where id = $1";

pub(super) const GET: &str = "
select id, state, data, version, created_at, updated_at, expires_at
  from gs_sessions
 where id = $1";

pub(super) const GET_MANY: &str = "
select id, state, data, version, created_at, updated_at, expires_at
  from gs_sessions
 where id = any($1)";

pub(super) const HAS: &str = "select exists (select 1 from gs_sessions where id = $1)";

pub(super) const DELETE: &str = "delete from gs_sessions where id = $1";

pub(super) const DELETE_MANY: &str = "delete from gs_sessions where id = any($1)";

/// `limit null` means no limit.
pub(super) const LIST_ALL: &str = "
select id, state, version, updated_at, expires_at
  from gs_sessions
 order by updated_at desc, id
 limit $1 offset $2";

pub(super) const LIST_BY_STATE: &str = "
select id, state, version, updated_at, expires_at
  from gs_sessions
 where state = $3
 order by updated_at desc, id
 limit $1 offset $2";

pub(super) const UPDATE_STATE: &str = "
update gs_sessions
   set state = $2, updated_at = date_trunc('milliseconds', now()), version = version + 1
 where id = $1
returning version";

pub(super) const CLEAR_OLDER_THAN: &str = "delete from gs_sessions where updated_at < $1";

pub(super) const CLEAR_ALL: &str = "delete from gs_sessions";

pub(super) const STATS: &str = "
select state, count(*), coalesce(sum(pg_column_size(data)), 0)::int8
  from gs_sessions
 group by state";

/// A batch as the parallel arrays [`SAVE_MANY`] unnests.
pub(super) struct BatchColumns<'a> {
    ids: Vec<&'a str>,
    states: Vec<&'static str>,
    data: Vec<&'a Value>,
    versions: Vec<i64>,
    created: Vec<DateTime<Utc>>,
    updated: Vec<DateTime<Utc>>,
    expires: Vec<Option<DateTime<Utc>>>,
}

impl<'a> BatchColumns<'a> {
    pub(super) fn of(batch: &'a [Session]) -> Result<Self> {
        Ok(Self {
            ids: batch.iter().map(|s| s.id.as_str()).collect(),
            states: batch.iter().map(|s| s.state.as_str()).collect(),
            data: batch.iter().map(|s| &s.data).collect(),
            versions: batch
                .iter()
                .map(|s| to_db_version(s.version))
                .collect::<Result<_>>()?,
            created: batch
                .iter()
                .map(|s| s.created_at.trunc_subsecs(3))
                .collect(),
            updated: batch
                .iter()
                .map(|s| s.updated_at.trunc_subsecs(3))
                .collect(),
            expires: batch
                .iter()
                .map(|s| s.expires_at.map(|t| t.trunc_subsecs(3)))
                .collect(),
        })
    }

    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.ids,
            &self.states,
            &self.data,
            &self.versions,
            &self.created,
            &self.updated,
            &self.expires,
        ]
    }
}
