//! `bench inventory [--thousands N] [--postgres]`: a Buyer's product inventory of N thousand
//! products (a million by default) on the release `lso serve` and SQLite, or PostgreSQL (a
//! throw-away cluster, with fsync on). One product is made the real way
//! (an order through the API); the rest are copies of it written into the store as `lso`
//! writes products (the same document and index entries), with their own ids, orders, start
//! dates and statuses (nine in ten `active`). Then, one request at a time: listing with a
//! filter most products match, with a filter one product matches, with a date range, and
//! retrieving products by id; the latency of each and the server's resident memory.

use crate::bench::{Run, build_lso, listening, order_body, rss_kib, start_in, tempfile_dir};
use crate::pg::Cluster;
use anyhow::Context;
use lso_mef_product::{DateTime, Product};
use lso_model::product::ProductStatus;
use lso_store::{COUNTED_UP_TO, ListQuery, Record, Store, WriteOp};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Requests of each kind measured.
const REQUESTS: usize = 200;

/// Runs the benchmark on `count` products, on PostgreSQL if `postgres`.
pub async fn run(count: usize, postgres: bool) -> anyhow::Result<()> {
    build_lso()?;
    let dir = tempfile_dir("inventory")?;
    let cluster = postgres.then(Cluster::start).transpose()?;
    let url = match &cluster {
        Some(cluster) => Some(cluster.database("bench_inventory").await?),
        None => None,
    };
    let settings: Vec<(&str, String)> = url.iter().map(|url| ("LSO_DATABASE_URL", url.clone())).collect();
    let store = match &url {
        Some(url) => Store::connect(url, None).await?,
        None => Store::open(&dir.join("lso.db"))?,
    };
    let (tenant, template) = first_product(&dir, &settings, &store).await?;
    let seeding = Instant::now();
    seed(&store, &tenant, &template, count).await?;
    println!("{count} products written in {:.0} s", seeding.elapsed().as_secs_f64());
    drop(store);
    if let Some(url) = &url {
        let vacuuming = Instant::now();
        Cluster::vacuum(url).await?;
        println!("vacuumed and analysed, as autovacuum would, in {:.0} s", vacuuming.elapsed().as_secs_f64());
    }

    let (server, address, tokens, _) = start_in(&dir, 1, &settings, None)?;
    let base = format!("http://{address}/mefApi/sonata/productInventory/v7/product");
    let client = reqwest::Client::new();
    let get = async |url: String| -> anyhow::Result<(Duration, Value, Option<String>)> {
        let begun = Instant::now();
        let response = client.get(url).bearer_auth(&tokens[0]).send().await?;
        anyhow::ensure!(response.status() == 200, "answered {}", response.status());
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let total = match (header("x-total-count"), header("x-pagination-throttled")) {
            (Some(total), _) => Some(total),
            (None, Some(_)) => Some(format!("absent, more than {COUNTED_UP_TO}: X-Pagination-Throttled")),
            (None, None) => None,
        };
        let body = response.json().await?;
        Ok((begun.elapsed(), body, total))
    };
    let measure = async |name: &str, url: &dyn Fn(usize) -> String| -> anyhow::Result<()> {
        let mut run = Run { elapsed: Duration::ZERO, latencies: Vec::new(), errors: 0 };
        let begun = Instant::now();
        let mut total = None;
        for n in 0..REQUESTS {
            let (took, _, count) = get(url(n)).await?;
            run.latencies.push(took.as_micros() as u32);
            total = count;
        }
        run.elapsed = begun.elapsed();
        run.latencies.sort_unstable();
        run.print(&format!("{name} (X-Total-Count {})", total.unwrap_or_default()));
        Ok(())
    };
    let product = |n: usize| format!("p-{:07}", 1 + (n * 7_919) % count.saturating_sub(1).max(1));
    measure("list, status=active (most products), 20 a page", &|n| {
        format!("{base}?status=active&limit=20&offset={}", n % 10 * 20)
    })
    .await?;
    measure("list, productOrderId (one product)", &|n| format!("{base}?productOrderId=order-{}", product(n))).await?;
    measure("list, startDate in one day, 20 a page", &|n| {
        let day = DateTime::from_millis(START + (n % 300) as i64 * DAY);
        let next = DateTime::from_millis(START + (n % 300 + 1) as i64 * DAY);
        format!("{base}?startDate.gt={}&startDate.lt={}&limit=20", day.as_str(), next.as_str())
    })
    .await?;
    measure("retrieve by id", &|n| format!("{base}/{}", product(n))).await?;
    println!("server RSS {:.0} MB", rss_kib(server.0.id()).unwrap_or(0) as f64 / 1024.0);
    Ok(())
}

/// Midnight, 1 January 2026, and a day, in milliseconds.
const START: i64 = 1_767_225_600_000;
const DAY: i64 = 86_400_000;

/// Orders one product through `lso` on `dir` with `settings`, whose `store` it is; its tenant
/// key and document as stored.
async fn first_product(
    dir: &std::path::Path,
    settings: &[(&str, String)],
    store: &Store,
) -> anyhow::Result<(String, Product)> {
    let (server, address, tokens, _) = start_in(dir, 1, settings, None)?;
    let client = reqwest::Client::new();
    let ordering = format!("http://{address}/mefApi/sonata/productOrderingManagement/v10");
    // Each event about the order has the inventory looked at again, until the product is active.
    let listener = listening(&client, &ordering, &tokens).await?;
    let placed =
        client.post(format!("{ordering}/productOrder")).bearer_auth(&tokens[0]).json(&order_body()).send().await?;
    anyhow::ensure!(placed.status() == 201, "the first order was not accepted");
    let products = format!("http://{address}/mefApi/sonata/productInventory/v7/product?status=active");
    let active = async || {
        let listed: Value = client.get(&products).bearer_auth(&tokens[0]).send().await.ok()?.json().await.ok()?;
        listed.as_array().is_some_and(|a| !a.is_empty()).then_some(())
    };
    lso_jobs::until_committed(&listener.arrived, Duration::from_secs(60), active)
        .await
        .context("the first product did not become active")?;
    drop(server);
    let all = ListQuery { kind: "product".into(), tenant: None, filters: Vec::new(), offset: 0, limit: 1 };
    let product = store.list(all).await?.records.pop().context("no product stored")?;
    Ok((product.tenant, serde_json::from_str(&product.doc).context("the stored product")?))
}

/// Writes products `p-0000001` … into `store`, a thousand a transaction, four transactions at
/// a time.
async fn seed(store: &Store, tenant: &str, template: &Product, count: usize) -> anyhow::Result<()> {
    let mut writes = tokio::task::JoinSet::new();
    for first in (1..count).step_by(1000) {
        let ops: Vec<WriteOp> = (first..(first + 1000).min(count)).map(|n| copy(tenant, template, n)).collect();
        let store = store.clone();
        writes.spawn(async move { store.apply(ops).await });
        while writes.len() >= 4 {
            writes.join_next().await.context("a write")???;
        }
    }
    while let Some(written) = writes.join_next().await {
        written??;
    }
    Ok(())
}

/// Product `n`: `template` with its own id, order, start date and status.
fn copy(tenant: &str, template: &Product, n: usize) -> WriteOp {
    let mut product = template.clone();
    product.id = format!("p-{n:07}");
    product.href = Some(format!("/mefApi/sonata/productInventory/v7/product/{}", product.id));
    let started = DateTime::from_millis(START + (n % 300) as i64 * DAY + (n / 300) as i64);
    product.start_date = started.clone();
    product.last_update_date = Some(started);
    product.status = match n % 20 {
        0 => ProductStatus::Terminated,
        1 => ProductStatus::PendingActive,
        _ => ProductStatus::Active,
    };
    for item in product.product_order_item.iter_mut().flatten() {
        item.product_order_id = format!("order-{}", product.id);
    }
    let index = lso_bus::product_index(&product);
    let doc = serde_json::to_string(&product).unwrap_or_default();
    WriteOp::Insert {
        record: Record { kind: "product".into(), id: product.id, tenant: tenant.into(), version: 1, doc },
        index,
    }
}
