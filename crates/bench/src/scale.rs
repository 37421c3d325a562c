//! `--scale-positions N`: the memory backend at scale. Seeds N positions through the API (4
//! clients, `POST /positions`: each create stores the position, its ledger event, its audit
//! row and two outbox events), then reports the server's resident bytes per position and the
//! latency of list pages near the start and near the end of the list, as root and as the
//! institution's admin, with and without filters, by `offset` and by `cursor` (a deep cursor is
//! the `nextCursor` of the page before the deep offset page, so both read the same rows).
//!
//! With `--server-bin` the server is a separate process and the memory figure is its own
//! `VmRSS`; without it the server runs in this process and the figure includes the client.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::json;

use crate::BoxError;
use crate::client::Conn;
use crate::load::Fixture;
use crate::stats::{Samples, resident_bytes};
use crate::target::Target;

/// Positions created before the first memory reading, so allocator warm-up is not counted.
const WARM_POSITIONS: u64 = 2_000;
/// Distinct holder references the seeded positions cycle through.
const HOLDERS: u64 = 1_000;

/// Runs the scale measurement and prints its tables.
pub async fn run(server_bin: Option<&Path>, positions: u64, runs: usize) -> Result<(), BoxError> {
    let target = match server_bin {
        Some(bin) => Target::spawn(bin).await?,
        None => Target::memory().await?,
    };
    let mut fixture = crate::load::fixture(&target.authority, &target.root_key).await?;
    fixture.server_pid = target.pid;
    let warm = WARM_POSITIONS.min(positions);
    seed(&fixture, warm).await?;
    let before = resident_bytes(target.pid).ok_or("cannot read VmRSS from /proc")?;
    crate::progress(&format!("scale: seeding {positions} positions"));
    let started = std::time::Instant::now();
    seed(&fixture, positions - warm).await?;
    let seeded_in = started.elapsed();
    let after = resident_bytes(target.pid).ok_or("cannot read VmRSS from /proc")?;
    let mut out = String::new();
    let whose = if target.pid.is_some() {
        "the server process's"
    } else {
        "this process's (client and in-process server)"
    };
    #[allow(clippy::cast_precision_loss)]
    let per_position = after.saturating_sub(before) as f64 / (positions - warm).max(1) as f64;
    out.push_str(&format!(
        "\n{positions} positions seeded in {:.1} s; resident memory ({whose} VmRSS): \
         {:.1} MiB after {warm}, {:.1} MiB after {positions}: **{per_position:.0} bytes per \
         position** (with its ledger, audit and outbox rows)\n\n",
        seeded_in.as_secs_f64(),
        mib(before),
        mib(after),
    ));
    out.push_str(&pages(&target, &fixture, positions, runs.max(5)).await?);
    out.push_str(&format!(
        "\nload average after: {}\n",
        crate::load_average()
    ));
    target.stop().await?;
    writeln!(std::io::stdout(), "{out}")?;
    Ok(())
}

#[allow(clippy::cast_precision_loss)]
fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// Creates `count` positions with 4 clients.
async fn seed(fixture: &Fixture, count: u64) -> Result<(), BoxError> {
    let remaining = Arc::new(AtomicU64::new(count));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut conn = Conn::connect(&fixture.authority, &fixture.admin_key).await?;
        let remaining = Arc::clone(&remaining);
        let asset_id = fixture.asset_id.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok(left) =
                remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            {
                let body = Bytes::from(
                    json!({
                        "assetId": asset_id,
                        "holderReference": format!("holder-{}", left % HOLDERS),
                        "currency": "USD",
                        "amount": 1250.5,
                    })
                    .to_string(),
                );
                let reply = conn
                    .send_bytes(Method::POST, "/positions", Some(body))
                    .await?;
                if reply.status != StatusCode::CREATED {
                    return Err(format!("seeding: got {}", reply.status).into());
                }
            }
            Ok::<(), BoxError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// How many of `count` seeded positions got `holder-7` (seeding hands out `count..=1`).
fn holder_count(count: u64) -> u64 {
    if count >= 7 {
        (count - 7) / HOLDERS + 1
    } else {
        0
    }
}

/// Times list pages: the median and max of `repeats` requests each, checking every reply.
async fn pages(
    target: &Target,
    fixture: &Fixture,
    positions: u64,
    repeats: usize,
) -> Result<String, BoxError> {
    let mut root = Conn::connect(&target.authority, &target.root_key).await?;
    let mut admin = Conn::connect(&fixture.authority, &fixture.admin_key).await?;
    let deep = positions.saturating_sub(10);
    let warm = WARM_POSITIONS.min(positions);
    let per_holder = holder_count(warm) + holder_count(positions - warm);
    let holder_deep = per_holder.saturating_sub(10);
    let asset = &fixture.asset_id;
    let cases: Vec<(&str, bool, String, u64)> = vec![
        (
            "root, offset 0",
            true,
            "/positions?offset=0&limit=10".into(),
            positions,
        ),
        (
            "root, deep",
            true,
            format!("/positions?offset={deep}&limit=10"),
            positions,
        ),
        (
            "admin, deep",
            false,
            format!("/positions?offset={deep}&limit=10"),
            positions,
        ),
        (
            "admin, assetId, deep",
            false,
            format!("/positions?assetId={asset}&offset={deep}&limit=10"),
            positions,
        ),
        (
            "root, holderReference, deep in the holder's list",
            true,
            format!("/positions?holderReference=holder-7&offset={holder_deep}&limit=10"),
            per_holder,
        ),
        (
            "admin, assetId + holderReference, deep",
            false,
            format!(
                "/positions?assetId={asset}&holderReference=holder-7&offset={holder_deep}&limit=10"
            ),
            per_holder,
        ),
    ];
    let root_cursor = next_cursor(
        &mut root,
        &format!("/positions?offset={}&limit=10", deep.saturating_sub(10)),
    )
    .await?;
    let pair = format!("/positions?assetId={asset}&holderReference=holder-7");
    let pair_cursor = next_cursor(
        &mut admin,
        &format!("{pair}&offset={}&limit=10", holder_deep.saturating_sub(10)),
    )
    .await?;
    let mut cases: Vec<(&str, bool, String, Option<u64>)> = cases
        .into_iter()
        .map(|(name, as_root, path, total)| (name, as_root, path, Some(total)))
        .collect();
    cases.extend([
        (
            "root, first page by cursor",
            true,
            "/positions?cursor=&limit=10".to_owned(),
            None,
        ),
        (
            "root, deep by cursor",
            true,
            format!("/positions?cursor={root_cursor}&limit=10"),
            None,
        ),
        (
            "admin, assetId + holderReference, deep by cursor",
            false,
            format!("{pair}&cursor={pair_cursor}&limit=10"),
            None,
        ),
    ]);
    let mut out = format!(
        "{repeats} requests each:\n\n| list request (limit 10) | total | median ms | max ms |\n\
         |---|---:|---:|---:|\n"
    );
    for (name, as_root, path, expected_total) in cases {
        let conn = if as_root { &mut root } else { &mut admin };
        let mut samples = Samples::default();
        for _ in 0..repeats {
            let reply = conn.send(Method::GET, &path, None).await?;
            if reply.status != StatusCode::OK {
                return Err(format!("{path}: got {}", reply.status).into());
            }
            let body = reply.json()?;
            let total = body["pagination"]["total"].as_u64();
            if total != expected_total {
                return Err(format!("{path}: total {total:?}, expected {expected_total:?}").into());
            }
            samples.push(reply.elapsed);
        }
        let total = expected_total.map_or_else(|| "(cursor)".to_owned(), |t| t.to_string());
        out.push_str(&format!(
            "| {name} | {total} | {:.3} | {:.3} |\n",
            samples.quantile_ms(0.5).unwrap_or(f64::NAN),
            samples.quantile_ms(1.0).unwrap_or(f64::NAN),
        ));
    }
    Ok(out)
}

/// The `nextCursor` of the page at `path`.
async fn next_cursor(conn: &mut Conn, path: &str) -> Result<String, BoxError> {
    let reply = conn.send(Method::GET, path, None).await?;
    reply.json()?["pagination"]["nextCursor"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{path}: no nextCursor").into())
}
