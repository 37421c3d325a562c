//! `--stream-creates-per-s` / `--webhook-creates-per-s`: how long a committed create takes to
//! reach an SSE client or a webhook receiver (issue 8's latency targets).

use std::io::Write as _;
use std::time::Duration;

use crate::args::Args;
use crate::target::Target;
use crate::{BoxError, load, load_average, progress, stats, stream, webhook_latency};

/// Who receives the events in a latency run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follower {
    /// An SSE client of `GET /events/stream`.
    Stream,
    /// A webhook receiver on 127.0.0.1.
    Webhook,
}

/// `--stream-creates-per-s` / `--webhook-creates-per-s`: commit → SSE client or webhook
/// receiver latency on PostgreSQL, `--runs` times.
pub(crate) async fn run(args: &Args, rate: u32, follower: Follower) -> Result<(), BoxError> {
    let target = match &args.url {
        Some(url) => Target::external(url, args.root_key.as_deref().unwrap_or_default())?,
        None => {
            let private = follower == Follower::Webhook;
            Target::postgres_with(
                args.database_url.clone(),
                args.pool_max,
                args.durable,
                None,
                |settings| {
                    settings.webhooks.allow_private_targets = private;
                },
            )
            .await?
        }
    };
    let fixture = load::fixture(&target.authority, &target.root_key).await?;
    progress(&format!("stream: warm-up {} s", args.warmup_secs));
    load::run_level(&fixture, 4, Duration::from_secs(args.warmup_secs), true).await?;
    let mut out = String::from(
        "| run | events/s | creates | received | ack → event p50 / p95 ms | \
         send → event p50 / p95 ms |\n|---:|---:|---:|---:|---:|---:|\n",
    );
    for run in 1..=args.runs {
        progress(&format!("{follower:?}: run {run}, {rate} creates/s"));
        let duration = Duration::from_secs(args.duration_secs);
        let mut o = match follower {
            Follower::Stream => stream::measure(&fixture, rate, duration).await?,
            Follower::Webhook => webhook_latency::measure(&fixture, rate, duration).await?,
        };
        let pair = |s: &mut stats::Samples| {
            format!(
                "{:.2} / {:.2}",
                s.quantile_ms(0.5).unwrap_or(f64::NAN),
                s.quantile_ms(0.95).unwrap_or(f64::NAN)
            )
        };
        out.push_str(&format!(
            "| {run} | {:.0} | {} | {} | {} | {} |\n",
            o.events_per_s,
            o.creates,
            o.received,
            pair(&mut o.after_ack),
            pair(&mut o.after_send)
        ));
    }
    target.stop().await?;
    writeln!(
        std::io::stdout(),
        "\n{follower:?} latency, {} s per run; load average after: {}\n\n{out}",
        args.duration_secs,
        load_average()
    )?;
    Ok(())
}
