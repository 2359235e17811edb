//! `bench soak [--minutes N]`: the release `lso serve` on SQLite under a steady load for N
//! minutes (30 by default). First the rate it sustains is measured: orders from `BUYERS`
//! Buyers as fast as answers come for 20 s, divided by the time until every one of them is
//! completed and every notification delivered to a listener (accepting alone goes faster, and
//! leaves the work behind). Then orders are sent at half that rate, with a line each minute
//! (orders, errors, latency, resident memory). At the end: resident memory after the first
//! minute of the steady load (the caches filled) and at its end, the growth, and every error
//! (a request not answered 201, an order not completed, a notification not delivered).

use crate::bench::{Load, Run, build_lso, finished, listening, order_body, rss_kib, start_node};
use anyhow::Context;
use axum::body::Bytes;
use std::time::{Duration, Instant};

/// Concurrent Buyers, each with its own token and listener registration.
const BUYERS: usize = 64;

/// Runs the soak for `minutes`.
pub async fn run(minutes: u64) -> anyhow::Result<()> {
    build_lso()?;
    let body = Bytes::from(serde_json::to_vec(&order_body())?);
    let (server, address, tokens, admin) = start_node("soak", BUYERS, &[], None, None)?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(BUYERS).build()?;
    let base = format!("http://{address}/mefApi/sonata/productOrderingManagement/v10");
    let listener = listening(&client, &base, &tokens).await?;
    let urls = [format!("{base}/productOrder")];
    let load = |seconds: u64, every: Option<Duration>| Load {
        urls: &urls,
        tokens: &tokens,
        body: body.clone(),
        deadline: Instant::now() + Duration::from_secs(seconds),
        budget: usize::MAX,
        every,
    };

    let begun = Instant::now();
    let (burst, ids) = load(20, None).run_with(&client).await;
    burst.print("burst: POST /productOrder as fast as answers come");
    finished(&client, &address, &admin, &listener, &ids).await?;
    let sustained = ids.len() as f64 / begun.elapsed().as_secs_f64();
    println!(
        "  all completed and notified {:.1} s after the first: {sustained:.0} orders/s sustained",
        begun.elapsed().as_secs_f64()
    );
    let rate = sustained / 2.0;
    anyhow::ensure!(rate >= 1.0, "no rate to halve");
    // Each Buyer sends one order every interval: together, half the sustained rate.
    let every = Duration::from_secs_f64(BUYERS as f64 / rate);
    let rss = || rss_kib(server.0.id()).context("the server's resident memory");
    println!("steady load: {rate:.0} orders/s for {minutes} min; server RSS before it {} MB", rss()? / 1024);

    let mut all = Run { elapsed: Duration::ZERO, latencies: Vec::new(), errors: 0 };
    let (mut start, mut placed) = (0, Vec::new());
    for minute in 1..=minutes {
        let (run, ids) = load(60, Some(every)).run_with(&client).await;
        run.print(&format!("  minute {minute}"));
        println!("    server RSS {} MB, {} notifications received so far", rss()? / 1024, listener.events());
        if minute == 1 {
            start = rss()?;
        }
        all.elapsed += run.elapsed;
        all.latencies.extend(run.latencies);
        all.errors += run.errors;
        placed.extend(ids);
    }
    all.latencies.sort_unstable();
    all.print("steady load, in all");
    let end = rss()?;
    let outbox = finished(&client, &address, &admin, &listener, &placed).await?;
    println!(
        "server RSS after the first minute {} MB, at the end {} MB: growth {:+.1}%",
        start / 1024,
        end / 1024,
        (end as f64 / start as f64 - 1.0) * 100.0
    );
    println!(
        "errors: {} requests not answered 201; every order accepted completed; notifications {} delivered, {} dead; the listener received {}",
        all.errors,
        outbox["delivered"],
        outbox["dead"],
        listener.events()
    );
    Ok(())
}
