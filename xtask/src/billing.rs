//! `bench billing`: a billing run over N products (100,000 by default) spread over 2,000 billing
//! accounts of 100 Buyers, stored in the Seller's SQLite database: a quarter activated during
//! the month (prorated, with installation charges), a tenth terminated during it, and a tenth
//! changed by modify orders (whose versions are looked up).

use lso_model::DateTime;
use lso_model::{Irp, Tenant};
use lso_server::config::Config;
use lso_store::{Record, WriteOp};
use serde_json::json;
use std::time::Instant;

const DAY: i64 = 86_400_000;

/// Stores `products` products, bills the month, prints the figures.
pub async fn run(products: usize) -> anyhow::Result<()> {
    let files = tempfile::tempdir()?;
    let mut config = Config::load(None, std::iter::empty())?;
    // Its listeners are on loopback.
    config.notifications.allow_private_callbacks = true;
    config.listen = "127.0.0.1:0".parse()?;
    config.data_dir = files.path().to_owned();
    let seller = lso_server::start(&config).await?;
    let catalog = lso_spec::Catalog::built_in()?;
    let specs = [lso_lab::orders::SUBSCRIBER_UNI, lso_lab::orders::EVPL]
        .map(|id| catalog.get(id).expect("a built-in specification"));
    let (start, end) = lso_api_admin::month_bounds("2027-03").expect("a month");
    let stored = Instant::now();
    for batch in (0..products).collect::<Vec<_>>().chunks(5000) {
        let mut ops = Vec::with_capacity(batch.len());
        for &n in batch {
            let spec = specs[n % 2];
            let activated = if n % 4 == 0 { start + (n % 28) as i64 * DAY } else { start - 40 * DAY };
            let mut changes =
                vec![json!({"changeDate": DateTime::from_millis(activated).as_str(), "status": "active"})];
            if n % 10 == 3 {
                changes.push(
                    json!({"changeDate": DateTime::from_millis(start + 15 * DAY).as_str(), "status": "terminated"}),
                );
            }
            let id = format!("product-{n}");
            let months = [12, 24, 36][n % 3];
            // A tenth were changed by a modify order: their versions are looked up in the orders.
            let mut refs = vec![json!({"productOrderId": format!("order-{n}"), "productOrderItemId": "1"})];
            if n % 10 == 7 {
                refs.push(json!({"productOrderId": format!("change-{n}"), "productOrderItemId": "1"}));
            }
            let doc = json!({
                "id": id, "status": if n % 10 == 3 { "terminated" } else { "active" }, "startDate": DateTime::from_millis(activated).as_str(),
                "billingAccount": {"id": format!("ba-{}", n % 2000)}, "productConfiguration": spec.example, "statusChange": changes,
                "productTerm": [{"name": "t", "duration": {"amount": months, "units": "calendarMonths"}, "endOfTermAction": "autoRenew"}],
                "productOrderItem": refs,
            });
            let tenant = Tenant::new(Irp::Sonata, "LSO", &format!("B{}", n % 100)).key();
            ops.push(WriteOp::Insert {
                record: Record { kind: "product".into(), id, tenant, version: 1, doc: doc.to_string() },
                index: Vec::new(),
            });
        }
        seller.bus.store().apply(ops).await?;
    }
    let loading = stored.elapsed();
    let started = Instant::now();
    let report = seller.bus.billing_run(start, end).await?;
    let took = started.elapsed();
    println!(
        "billing run of {} products ({} stored in {:.1} s): {} bills with {} items in {:.2} s = {:.0} products/s; RSS {} MB",
        report.products,
        products,
        loading.as_secs_f64(),
        report.bills,
        report.items,
        took.as_secs_f64(),
        report.products as f64 / took.as_secs_f64(),
        crate::address::rss_kib() / 1024
    );
    anyhow::ensure!(report.products == products, "every product was read");
    let again = seller.bus.billing_run(start, end).await?;
    anyhow::ensure!(again.bills == 0 && again.already_billed == report.bills, "a rerun bills nothing");
    seller.stop().await;
    Ok(())
}
