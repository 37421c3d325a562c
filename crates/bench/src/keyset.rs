//! `--keyset-positions N`: list pages on PostgreSQL at depth, by `offset` and by `cursor`.
//!
//! Starts the in-process server on a throwaway testkit PostgreSQL (or `--database-url`),
//! creates the fixture (institution, key, template, asset) through the API, then seeds N
//! positions with one SQL statement (`insert … select … from generate_series`, rows as
//! `POST /positions` writes them: same columns and CHECKed values, `created_at` one
//! millisecond apart with every second pair tied, so ids break ties; no ledger, audit or
//! lifecycle rows, which position lists do not read) and `analyze`s the table. It then times
//! `GET /positions?limit=100` (as root and as the institution's admin, with and without
//! filters): the first page by offset (which counts the total) and by `cursor=` (which does
//! not), the last full page by offset and the same page by cursor (its cursor taken from
//! the page before it). Every deep cursor page is checked to hold the same rows as the
//! offset page. Medians of `--runs` runs (at least 3) of 5 requests each.

use std::io::Write as _;

use hyper::{Method, StatusCode};
use serde_json::Value;

use crate::BoxError;
use crate::client::Conn;
use crate::stats::{Samples, median};
use crate::target::Target;

/// Requests per case and run.
const REPEATS: usize = 5;
/// Page size of every request.
pub(crate) const LIMIT: u64 = 100;
/// Distinct holder references the seeded positions cycle through.
const HOLDERS: u64 = 1_000;

/// Runs the measurement and prints its table.
pub async fn run(
    database_url: Option<String>,
    pool_max: usize,
    positions: u64,
    runs: usize,
) -> Result<(), BoxError> {
    let (target, fixture, client) =
        seeding_target(database_url, pool_max, "--keyset-positions").await?;
    crate::progress(&format!("keyset: seeding {positions} positions with SQL"));
    let started = std::time::Instant::now();
    client
        .batch_execute(&seed_sql(
            &fixture.institution_id,
            &fixture.asset_id,
            positions,
        ))
        .await?;
    let seeded_in = started.elapsed();
    crate::progress(&format!(
        "keyset: seeded in {:.1} s",
        seeded_in.as_secs_f64()
    ));
    let total = positions;
    let asset = &fixture.asset_id;
    let per_holder = positions / HOLDERS;
    let cases: Vec<Case> = vec![
        Case::new("root, no filter", true, "/positions?", total),
        Case::new("admin (tenant scope)", false, "/positions?", total),
        Case::new(
            "admin, assetId",
            false,
            &format!("/positions?assetId={asset}&"),
            total,
        ),
        Case::new(
            "root, holderReference (one of 1,000)",
            true,
            "/positions?holderReference=holder-7&",
            per_holder,
        ),
    ];
    let runs = runs.max(3);
    let mut out = format!(
        "\n{positions} positions seeded by SQL in {:.1} s; limit {LIMIT}; median of {runs} runs \
         (each the median of {REPEATS} requests), ms:\n\n\
         | list | rows | page 1 by offset | page 1 by cursor | last page by offset | same page by \
         cursor | deep cursor / page-1 cursor | deep offset / page-1 offset |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
        seeded_in.as_secs_f64()
    );
    for case in &cases {
        // A fresh connection per case: the server closes keep-alive connections left idle.
        let key = if case.as_root {
            &target.root_key
        } else {
            &fixture.admin_key
        };
        let conn = &mut Conn::connect(&target.authority, key).await?;
        crate::progress(&format!("keyset: {}", case.name));
        let deep_cursor = case.deep_cursor(conn).await?;
        let mut figures: [Vec<f64>; 4] = Default::default();
        for _ in 0..runs {
            let paths = [
                format!("{}limit={LIMIT}&offset=0", case.path),
                format!("{}limit={LIMIT}&cursor=", case.path),
                format!("{}limit={LIMIT}&offset={}", case.path, case.deep_offset()),
                format!("{}limit={LIMIT}&cursor={deep_cursor}", case.path),
            ];
            for (figure, path) in figures.iter_mut().zip(&paths) {
                figure.push(time(conn, path).await?);
            }
        }
        let [page1_offset, page1_cursor, deep_offset, deep_by_cursor] =
            figures.map(|mut f| median(&mut f).unwrap_or(f64::NAN));
        out.push_str(&format!(
            "| {} | {} | {page1_offset:.2} | {page1_cursor:.2} | {deep_offset:.2} | \
             {deep_by_cursor:.2} | {:.2} | {:.2} |\n",
            case.name,
            case.rows,
            deep_by_cursor / page1_cursor,
            deep_offset / page1_offset,
        ));
    }
    finish(target, client, out).await
}

/// The in-process server on a throwaway testkit PostgreSQL, the fixture made through the API,
/// and a connection to its database for seeding (`flag` names the option in errors).
pub(crate) async fn seeding_target(
    database_url: Option<String>,
    pool_max: usize,
    flag: &str,
) -> Result<(Target, crate::load::Fixture, tokio_postgres::Client), BoxError> {
    let target = Target::postgres_with(database_url, pool_max, false, None, |_| {}).await?;
    let fixture = crate::load::fixture(&target.authority, &target.root_key).await?;
    let client = target
        .connect_database()
        .await
        .ok_or_else(|| format!("{flag} seeds through a testkit database; omit --database-url"))?;
    Ok((target, fixture, client))
}

/// Prints `out` and the load average, and stops the server.
pub(crate) async fn finish(
    target: Target,
    client: tokio_postgres::Client,
    mut out: String,
) -> Result<(), BoxError> {
    out.push_str(&format!(
        "\nload average after: {}\n",
        crate::load_average()
    ));
    drop(client);
    target.stop().await?;
    writeln!(std::io::stdout(), "{out}")?;
    Ok(())
}

/// One list to time.
struct Case {
    name: &'static str,
    as_root: bool,
    /// `/positions?` and filters, ending in `?` or `&`.
    path: String,
    /// Rows the list has.
    rows: u64,
}

impl Case {
    fn new(name: &'static str, as_root: bool, path: &str, rows: u64) -> Self {
        Self {
            name,
            as_root,
            path: path.to_owned(),
            rows,
        }
    }

    /// The offset of the last full page.
    fn deep_offset(&self) -> u64 {
        self.rows.saturating_sub(LIMIT)
    }

    /// The cursor of the last full page (the `nextCursor` of the page before it), checked to
    /// read the same rows as that page by offset.
    async fn deep_cursor(&self, conn: &mut Conn) -> Result<String, BoxError> {
        let before = self.deep_offset().saturating_sub(LIMIT);
        let path = format!("{}limit={LIMIT}&offset={before}", self.path);
        let page = get(conn, &path).await?;
        let cursor = page["pagination"]["nextCursor"]
            .as_str()
            .ok_or_else(|| format!("{path}: no nextCursor"))?
            .to_owned();
        let by_offset = get(
            conn,
            &format!("{}limit={LIMIT}&offset={}", self.path, self.deep_offset()),
        )
        .await?;
        let by_cursor = get(conn, &format!("{}limit={LIMIT}&cursor={cursor}", self.path)).await?;
        if by_offset["data"] != by_cursor["data"] || by_offset["data"].as_array().is_none() {
            return Err(format!(
                "{}: the deep page differs by offset and by cursor",
                self.name
            )
            .into());
        }
        Ok(cursor)
    }
}

/// `GET path` as JSON, which must answer 200.
pub(crate) async fn get(conn: &mut Conn, path: &str) -> Result<Value, BoxError> {
    let reply = conn.send(Method::GET, path, None).await?;
    if reply.status != StatusCode::OK {
        return Err(format!("{path}: got {}", reply.status).into());
    }
    reply.json()
}

/// The median of [`REPEATS`] requests of `path`, in ms.
pub(crate) async fn time(conn: &mut Conn, path: &str) -> Result<f64, BoxError> {
    let mut samples = Samples::default();
    for _ in 0..REPEATS {
        let reply = conn.send(Method::GET, path, None).await?;
        if reply.status != StatusCode::OK {
            return Err(format!("{path}: got {}", reply.status).into());
        }
        samples.push(reply.elapsed);
    }
    samples.quantile_ms(0.5).ok_or_else(|| "no samples".into())
}

/// `count` positions of the fixture's institution and asset (see the module docs).
fn seed_sql(institution: &str, asset: &str, count: u64) -> String {
    format!(
        "insert into positions (id, institution_id, asset_id, holder_reference, currency, \
         amount, state, external_reference, version, created_at, updated_at) \
         select 'pos_' || gen_random_uuid(), '{institution}', '{asset}', \
         'holder-' || (g % {HOLDERS}), 'USD', 1250.5, 'CREATED', null, 1, \
         timestamptz '2026-01-01 00:00:00+00' + (g / 2) * interval '1 millisecond', \
         timestamptz '2026-01-01 00:00:00+00' + (g / 2) * interval '1 millisecond' \
         from generate_series(1, {count}) as g; \
         analyze positions;"
    )
}
