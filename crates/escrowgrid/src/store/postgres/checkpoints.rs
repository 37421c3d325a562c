//! Ledger checkpoints on PostgreSQL: the fence is the oldest running transaction id, so every
//! event below it has committed (or rolled back) and none can appear there later; the events of
//! a checkpoint are those with `previous fence <= tx < fence`, in `(tx, seq)` order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use gridstore::postgres::commit;
use tokio_postgres::Row;

use crate::Result;
use crate::ledger::checkpoint::{self, Checkpoint};

use super::db::{Db, begin};
use super::{PgEscrowStore, rows};

const LAST: &str = "\
select number, created_at, fence, event_count, events_root, previous_hash, hash
from ledger_checkpoints
order by number desc
limit 1";

const ALL: &str = "\
select number, created_at, fence, event_count, events_root, previous_hash, hash
from ledger_checkpoints
order by number";

const AFTER: &str = "\
select number, created_at, fence, event_count, events_root, previous_hash, hash
from ledger_checkpoints
where number > $1
order by number
limit $2";

const FENCE: &str = "select pg_snapshot_xmin(pg_current_snapshot())::text::bigint as fence";

/// The leaves between two fences, in commit order.
const LEAVES: &str = "\
select coalesce(hash, 'id:' || id) as leaf
from ledger_events
where tx >= $1::text::xid8 and tx < $2::text::xid8
order by tx, seq";

/// Every covered event's leaf with its checkpoint's number, in one pass.
const ALL_LEAVES: &str = "\
with bounds as (
    select number, coalesce(lag(fence) over (order by number), 0) as low, fence as high
    from ledger_checkpoints
)
select b.number, coalesce(l.hash, 'id:' || l.id) as leaf
from bounds b
join ledger_events l on l.tx >= b.low::text::xid8 and l.tx < b.high::text::xid8
order by b.number, l.tx, l.seq";

const INSERT: &str = "\
insert into ledger_checkpoints (number, created_at, fence, event_count, events_root,
    previous_hash, hash)
values ($1, $2, $3, $4, $5, $6, $7)";

fn checkpoint_row(row: &Row) -> gridstore::Result<Checkpoint> {
    Ok(Checkpoint {
        number: rows::get(row, "number")?,
        created_at: rows::get(row, "created_at")?,
        fence: rows::get(row, "fence")?,
        event_count: rows::get(row, "event_count")?,
        events_root: rows::get(row, "events_root")?,
        previous_hash: rows::get(row, "previous_hash")?,
        hash: rows::get(row, "hash")?,
        onchain: None,
    })
}

impl PgEscrowStore {
    pub(super) async fn checkpoint(&self, at: DateTime<Utc>) -> Result<Option<Checkpoint>> {
        let mut client = self.pool.get().await?;
        let tx = begin(&mut client).await?;
        let db = Db::new(&tx, &self.counter);
        let previous = db.query_opt(LAST, &[]).await?;
        let previous = previous.as_ref().map(checkpoint_row).transpose()?;
        let fence: Option<i64> = match db.query_opt(FENCE, &[]).await? {
            Some(row) => rows::get(&row, "fence")?,
            None => None,
        };
        let fence = fence.unwrap_or(0);
        let from = previous.as_ref().map_or(0, |p| p.fence).to_string();
        let found = db.query(LEAVES, &[&from, &fence.to_string()]).await?;
        let leaves = found
            .iter()
            .map(|row| rows::get::<String>(row, "leaf"))
            .collect::<gridstore::Result<Vec<_>>>()?;
        if leaves.is_empty() {
            return Ok(None);
        }
        let created = checkpoint::next(previous.as_ref(), fence, &leaves, at);
        let insert = db.prepare(INSERT).await?;
        db.execute_prepared(
            &insert,
            &[
                &created.number,
                &created.created_at,
                &created.fence,
                &created.event_count,
                &created.events_root,
                &created.previous_hash,
                &created.hash,
            ],
        )
        .await?;
        commit(tx).await?;
        Ok(Some(created))
    }

    pub(super) async fn checkpoints_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Checkpoint>> {
        let client = self.pool.get().await?;
        let db = Db::new(&client, &self.counter);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let found = db.query(AFTER, &[&after, &limit]).await?;
        Ok(found
            .iter()
            .map(checkpoint_row)
            .collect::<gridstore::Result<Vec<_>>>()?)
    }

    pub(super) async fn checkpoints(&self) -> Result<Vec<(Checkpoint, Vec<String>)>> {
        let client = self.pool.get().await?;
        let db = Db::new(&client, &self.counter);
        let (taken, leaves) = tokio::try_join!(db.query(ALL, &[]), db.query(ALL_LEAVES, &[]))?;
        let mut out = taken
            .iter()
            .map(|row| Ok((checkpoint_row(row)?, Vec::new())))
            .collect::<gridstore::Result<Vec<(Checkpoint, Vec<String>)>>>()?;
        let index: HashMap<i64, usize> = out
            .iter()
            .enumerate()
            .map(|(i, (taken, _))| (taken.number, i))
            .collect();
        for row in &leaves {
            let number: i64 = rows::get(row, "number")?;
            if let Some((_, covered)) = index.get(&number).and_then(|&i| out.get_mut(i)) {
                covered.push(rows::get(row, "leaf")?);
            }
        }
        Ok(out)
    }
}
