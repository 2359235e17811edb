//! What operators watch: `/metrics` after a journey, parsed by a Prometheus text parser, counts
//! exactly what happened (requests, orders and items by state, deliveries, element operations),
//! and needs an operator's token unless served on a listener of its own.

use crate::network::evpl_order;
use crate::support::*;
use lso_adagio::Adagio;
use lso_server::config::FulfilmentMode;
use prometheus_parse::{Sample, Scrape, Value};
use serde_json::json;

const CANTATA: &str = "/mefApi/cantata/productOrderingManagement/v5";

fn scrape(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the sample `name` whose labels include `labels` (0 when there is none).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching = |s: &&Sample| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v));
    match scrape.samples.iter().find(matching).map(|s| &s.value) {
        Some(Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v)) => *v,
        Some(other) => panic!("{name} is not a single value: {other:?}"),
        None => 0.0,
    }
}

#[tokio::test]
async fn metrics_count_what_a_journey_did() {
    let app = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.metrics.listen = "127.0.0.1:0".into();
    })
    .await;
    let (receiver, _) = app.listening_at(CANTATA).await;
    let refused = app.call("POST", &format!("{CANTATA}/productOrder"), Some(&json!({"productOrderItem": []}))).await;
    assert_eq!(refused.status, 422);
    app.order_completed(CANTATA, &evpl_order(&["site-new-york", "site-boston"], 100, 20)).await;
    app.wait_for_deliveries_to(&receiver).await;
    let delivered = receiver.events.lock().unwrap().len() as f64;

    // On the main listener only for operators.
    assert_eq!(app.call("GET", "/metrics", None).await.status, 403);
    let scraped = app.client.get(app.url("/metrics")).bearer_auth(&app.admin).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(scraped.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let metrics = scrape(&scraped.text().await.unwrap());

    let orders = [("api", "cantata/productOrderingManagement"), ("operation", "POST /productOrder")];
    assert_eq!(value(&metrics, "lso_http_requests_total", &[orders[0], orders[1], ("status", "201")]), 1.0);
    assert_eq!(value(&metrics, "lso_http_requests_total", &[orders[0], orders[1], ("status", "422")]), 1.0);
    let hub = [("api", "cantata/productOrderingManagement"), ("operation", "POST /hub"), ("status", "201")];
    assert_eq!(value(&metrics, "lso_http_requests_total", &hub), 1.0);
    assert_eq!(value(&metrics, "lso_product_orders", &[("state", "completed")]), 1.0);
    assert_eq!(value(&metrics, "lso_product_order_items", &[("state", "completed")]), 3.0);
    assert_eq!(value(&metrics, "lso_notification_deliveries_total", &[("outcome", "delivered")]), delivered);
    assert_eq!(value(&metrics, "lso_dead_letters", &[]), 0.0);

    // Each element carrying the EVPL was configured once, and no configuration failed.
    let services: Vec<String> = app.seller.icm.read(|n| n.reservations().keys().cloned().collect()).await;
    assert_eq!(services.len(), 1);
    let mut configured = 0;
    for (element, _) in app.seller.ecm.elements() {
        let carries = !app.seller.ecm.flows(&element, &services[0]).await.unwrap().is_empty();
        let applied = [("element", element.as_str()), ("operation", "apply"), ("outcome", "ok")];
        assert_eq!(
            value(&metrics, "lso_element_operations_total", &applied),
            f64::from(u8::from(carries)),
            "{element}"
        );
        let failed = [("element", element.as_str()), ("operation", "apply"), ("outcome", "error")];
        assert_eq!(value(&metrics, "lso_element_operations_total", &failed), 0.0, "{element}");
        configured += usize::from(carries);
    }
    assert!(configured >= 2, "the EVPL crosses at least two elements");

    // A listener of its own serves it without a token.
    let open = format!("http://{}/metrics", app.seller.metrics_addr.unwrap());
    let text = app.client.get(open).send().await.unwrap().text().await.unwrap();
    assert_eq!(value(&scrape(&text), "lso_product_orders", &[("state", "completed")]), 1.0);
    app.seller.stop().await;
}
