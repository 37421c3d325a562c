//! `--keyset-ledger N`: `GET /ledger-events` pages on PostgreSQL, the first and the deepest.
//!
//! Starts the in-process server on a throwaway testkit PostgreSQL, creates the fixture through
//! the API, then seeds one position and N ledger events on it with SQL (`insert … select …
//! from generate_series`: the columns and CHECKed values the store writes, no hash, which the
//! list does not check) and `analyze`s the table. It then times `GET /ledger-events?limit=100`
//! (root, the whole ledger), `?positionId=…&limit=100` (root and the institution's admin):
//! the first page, and the last full page by `cursor` (the server's own encoding of the key of
//! the 101st event from the end; the bench checks that it answers exactly the last 100 events
//! read by SQL). Medians of `--runs` runs (at least 3) of 5 requests each.

use escrowgrid::api::pagination::cursor::{self, Binding};
use escrowgrid::store::SortKey;
use serde_json::Value;

use crate::BoxError;
use crate::client::Conn;
use crate::keyset::{LIMIT, finish, get, seeding_target, time};
use crate::stats::median;

/// Runs the measurement and prints its table.
pub async fn run(
    database_url: Option<String>,
    pool_max: usize,
    events: u64,
    runs: usize,
) -> Result<(), BoxError> {
    let (target, fixture, client) =
        seeding_target(database_url, pool_max, "--keyset-ledger").await?;
    let position = format!("pos_{}", uuid::Uuid::new_v4());
    crate::progress(&format!(
        "ledger pages: seeding {events} ledger events with SQL"
    ));
    let started = std::time::Instant::now();
    client
        .batch_execute(&seed_sql(
            &fixture.institution_id,
            &fixture.asset_id,
            &position,
            events,
        ))
        .await?;
    let seeded_in = started.elapsed().as_secs_f64();
    let runs = runs.max(3);
    let mut out = format!(
        "\n{events} ledger events on one position seeded by SQL in {seeded_in:.1} s; limit \
         {LIMIT}; median of {runs} runs (each the median of 5 requests), ms:\n\n\
         | list | events | page 1 | last page by cursor | last / first |\n\
         |---|---:|---:|---:|---:|\n"
    );
    let cases = [
        ("root, whole ledger", true, None),
        ("root, positionId", true, Some(position.as_str())),
        ("admin, positionId", false, Some(position.as_str())),
    ];
    for (name, as_root, filter) in cases {
        let key = if as_root {
            &target.root_key
        } else {
            &fixture.admin_key
        };
        let conn = &mut Conn::connect(&target.authority, key).await?;
        crate::progress(&format!("ledger pages: {name}"));
        let path = filter.map_or_else(
            || "/ledger-events?".to_owned(),
            |position| format!("/ledger-events?positionId={position}&"),
        );
        let (deep, rows) = deep_cursor(&client, filter).await?;
        let first = format!("{path}limit={LIMIT}");
        let last = format!("{path}limit={LIMIT}&cursor={deep}");
        let expected = last_ids(&client, filter).await?;
        if ids(&get(conn, &last).await?) != expected {
            return Err(
                format!("{name}: the last page by cursor is not the last {LIMIT} events").into(),
            );
        }
        let mut figures: [Vec<f64>; 2] = Default::default();
        for _ in 0..runs {
            figures[0].push(time(conn, &first).await?);
            figures[1].push(time(conn, &last).await?);
        }
        let [page1, deepest] = figures.map(|mut f| median(&mut f).unwrap_or(f64::NAN));
        out.push_str(&format!(
            "| {name} | {rows} | {page1:.2} | {deepest:.2} | {:.2} |\n",
            deepest / page1
        ));
    }
    finish(target, client, out).await
}

/// The cursor of the last full page of the ledger (of one position, or all of it) and how
/// many events the list has.
async fn deep_cursor(
    client: &tokio_postgres::Client,
    position: Option<&str>,
) -> Result<(String, i64), BoxError> {
    let row = client
        .query_one(
            "select (select seq from ledger_events where ($1::text is null or position_id = $1) \
             order by seq desc offset $2 limit 1) as seq, \
             (select count(*) from ledger_events where ($1::text is null or position_id = $1)) \
             as rows",
            &[&position, &i64::try_from(LIMIT)?],
        )
        .await?;
    let seq: i64 = row.get("seq");
    let binding = Binding::new("ledger-events", &[("positionId", position)]);
    let key = SortKey::Seq(u64::try_from(seq)?);
    Ok((cursor::encode(&binding, &key), row.get("rows")))
}

/// The ids of the last [`LIMIT`] events of the list, in list order.
async fn last_ids(
    client: &tokio_postgres::Client,
    position: Option<&str>,
) -> Result<Vec<String>, BoxError> {
    let rows = client
        .query(
            "select id from (select id, seq from ledger_events \
             where ($1::text is null or position_id = $1) order by seq desc limit $2) l \
             order by seq",
            &[&position, &i64::try_from(LIMIT)?],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get("id")).collect())
}

fn ids(page: &Value) -> Vec<String> {
    page.as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|event| event["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One position of the fixture's institution and asset, and `count` state changes of it (see
/// the module docs).
fn seed_sql(institution: &str, asset: &str, position: &str, count: u64) -> String {
    format!(
        "insert into positions (id, institution_id, asset_id, holder_reference, currency, \
         amount, state, external_reference, version, created_at, updated_at) \
         values ('{position}', '{institution}', '{asset}', 'holder-ledger', 'USD', 1250.5, \
         'FUNDED', null, 1, timestamptz '2026-01-01 00:00:00+00', \
         timestamptz '2026-01-01 00:00:00+00'); \
         insert into ledger_events (id, institution_id, kind, position_id, at, previous_state, \
         new_state, payload, created_at) \
         select 'led_' || gen_random_uuid(), '{institution}', 'POSITION_STATE_CHANGED', \
         '{position}', t, 'FUNDED', 'FUNDED', '{{}}'::jsonb, t \
         from (select timestamptz '2026-01-01 00:00:00+00' + g * interval '1 millisecond' as t \
         from generate_series(1, {count}) as g) s; \
         analyze ledger_events;"
    )
}
