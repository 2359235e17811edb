//! `lso demo`: a Seller on embedded defaults and a Buyer talking to it over HTTP on loopback.
//! The Buyer registers a notification listener, places one product order per orderable
//! specification, shows each order's progress live, and prints a summary table.

use crate::admin::ADMIN_BASE;
use crate::config::Config;
use crate::server;
use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use lso_http::Principal;
use lso_mef_product::{DateTime, ordering_base};
use lso_model::Irp;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BUYER: &str = "DEMO-BUYER";
const ENNI_REFERENCE: &str = "ENNI_REFERENCE";

/// Notifications received, by order id, and a signal on each arrival.
#[derive(Clone, Default)]
struct Received {
    events: Arc<Mutex<HashMap<String, Vec<String>>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl Received {
    fn count(&self, order: &str) -> usize {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).get(order).map_or(0, Vec::len)
    }
}

/// Runs the demo; fails unless every order completes and every notification arrives.
pub async fn run(data_dir: Option<PathBuf>, time_scale: f64) -> anyhow::Result<()> {
    let temporary = match data_dir {
        Some(_) => None,
        None => {
            Some(tempfile::Builder::new().prefix("lso-demo-").tempdir().context("failed to create a data directory")?)
        }
    };
    let mut config = Config::load(None, std::iter::empty())?;
    config.listen = "127.0.0.1:0".parse()?;
    config.data_dir = data_dir.unwrap_or_else(|| temporary.as_ref().map(|t| t.path().to_owned()).unwrap_or_default());
    config.fulfilment.time_scale = time_scale;
    let seller = server::start(&config).await?;
    println!("Seller  http://{}  (data directory {})", seller.addr, config.data_dir.display());
    let received = Received::default();
    let listener = listen(received.clone()).await?;
    println!("Buyer   notification listener on http://{listener}");
    let result = place_and_follow(&seller, listener, &received).await;
    seller.stop().await;
    result
}

async fn listen(received: Received) -> anyhow::Result<std::net::SocketAddr> {
    async fn on_event(State(received): State<Received>, Path(name): Path<String>, body: String) -> StatusCode {
        let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let id = event["event"]["id"].as_str().unwrap_or_default().to_owned();
        received.events.lock().unwrap_or_else(|e| e.into_inner()).entry(id).or_default().push(name);
        received.arrived.notify_waiters();
        StatusCode::NO_CONTENT
    }
    let path = format!("{}/listener/{{name}}", lso_mef_product::ordering_notification_base(Irp::Sonata));
    let app = Router::new().route(&path, post(on_event)).with_state(received);
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("failed to bind the listener")?;
    let addr = socket.local_addr()?;
    tokio::spawn(async move { axum::serve(socket, app).await });
    Ok(addr)
}

struct Placed {
    id: String,
    product: String,
    bar: ProgressBar,
    started: Instant,
    finished: Option<(String, Duration)>,
}

async fn place_and_follow(
    seller: &server::Running,
    listener: std::net::SocketAddr,
    received: &Received,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp();
    let buyer_token =
        seller.auth.mint(&Principal::Buyer { subject: BUYER.into(), buyers: vec![BUYER.into()] }, now, 3600);
    let admin_token = seller.auth.mint(&Principal::Admin { subject: "demo".into() }, now, 3600);
    let client = reqwest::Client::new();
    let base = format!("http://{}{}", seller.addr, ordering_base(Irp::Sonata));
    let hub = json!({"callback": format!("http://{listener}")});
    let response = client.post(format!("{base}/hub")).bearer_auth(&buyer_token).json(&hub).send().await?;
    ensure_status(response, StatusCode::CREATED, "registering the listener").await?;

    let catalog = seller.bus.catalog();
    let enni = catalog.specs().iter().find(|s| !s.orderable).context("the catalog has no ENNI specification")?;
    let url = format!("http://{}{ADMIN_BASE}/sonata/product?buyerId={BUYER}", seller.addr);
    let response =
        client.post(url).bearer_auth(&admin_token).json(&json!({"productConfiguration": enni.example})).send().await?;
    let enni_id = ensure_status(response, StatusCode::CREATED, "registering the ENNI").await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    println!("Seller  registered {} {enni_id} in the Buyer's inventory\n", enni.short_name);

    let progress = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>15} [{bar:24}] {msg}")?.progress_chars("=> ");
    let mut placed = Vec::new();
    for spec in catalog.specs().iter().filter(|s| s.orderable && s.interfaces.iter().any(|i| i == "sonata")) {
        let order = order_for(spec, &enni_id);
        let started = Instant::now();
        let response =
            client.post(format!("{base}/productOrder")).bearer_auth(&buyer_token).json(&order).send().await?;
        let created = ensure_status(response, StatusCode::CREATED, &format!("ordering {}", spec.short_name)).await?;
        let bar = progress.add(ProgressBar::new(3).with_style(style.clone()).with_prefix(spec.short_name.clone()));
        bar.set_position(1);
        bar.set_message(format!("acknowledged  {}", created["id"].as_str().unwrap_or_default()));
        placed.push(Placed {
            id: created["id"].as_str().unwrap_or_default().to_owned(),
            product: spec.name.clone(),
            bar,
            started,
            finished: None,
        });
    }

    let deadline = Instant::now() + Duration::from_secs(120);
    while placed.iter().any(|p| p.finished.is_none()) {
        if Instant::now() > deadline {
            bail!("orders did not finish within two minutes");
        }
        // Read the orders again when a notification arrives (at most a second apart).
        let arrived = received.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        for order in placed.iter_mut().filter(|p| p.finished.is_none()) {
            let response =
                client.get(format!("{base}/productOrder/{}", order.id)).bearer_auth(&buyer_token).send().await?;
            let current = ensure_status(response, StatusCode::OK, "reading an order").await?;
            let state = current["state"].as_str().unwrap_or_default().to_owned();
            let notified = received.count(&order.id);
            order.bar.set_position(match state.as_str() {
                "acknowledged" => 1,
                "inProgress" => 2,
                _ => 3,
            });
            order.bar.set_message(format!("{state:<13} {}  ({notified} notifications)", order.id));
            if matches!(state.as_str(), "completed" | "partial" | "failed" | "rejected" | "cancelled") {
                order.bar.finish();
                let elapsed = match (
                    DateTime::parse(current["orderDate"].as_str().unwrap_or_default()),
                    current["completionDate"].as_str(),
                ) {
                    (Ok(start), Some(end)) => DateTime::parse(end)
                        .map(|end| Duration::from_millis((end.millis() - start.millis()).max(0) as u64))
                        .unwrap_or_else(|_| order.started.elapsed()),
                    _ => order.started.elapsed(),
                };
                order.finished = Some((state, elapsed));
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), arrived).await;
    }
    wait_for_notifications(&client, seller, &admin_token, received).await?;
    progress.clear()?;
    summary(&placed, received)
}

/// Reads the Seller's outbox after each arrival until nothing is pending.
async fn wait_for_notifications(
    client: &reqwest::Client,
    seller: &server::Running,
    token: &str,
    received: &Received,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let arrived = received.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        let url = format!("http://{}{ADMIN_BASE}/deliveries?limit=1", seller.addr);
        let counts =
            ensure_status(client.get(url).bearer_auth(token).send().await?, StatusCode::OK, "reading deliveries")
                .await?;
        if counts["pending"] == 0 {
            anyhow::ensure!(counts["dead"] == 0, "{} notifications could not be delivered", counts["dead"]);
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{} notifications still pending after 30 s", counts["pending"]);
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), arrived).await;
    }
}

fn summary(placed: &[Placed], received: &Received) -> anyhow::Result<()> {
    let mut table = comfy_table::Table::new();
    table.set_header(["product order", "product", "state", "elapsed", "notifications received"]);
    for order in placed {
        let (state, elapsed) = order.finished.clone().unwrap_or_default();
        let events = received.count(&order.id);
        table.add_row([
            order.id.clone(),
            order.product.clone(),
            state,
            format!("{:.1} s", elapsed.as_secs_f64()),
            events.to_string(),
        ]);
    }
    println!("{table}");
    let completed = placed.iter().filter(|p| p.finished.as_ref().is_some_and(|(s, _)| s == "completed")).count();
    println!("{completed} of {} orders completed.", placed.len());
    anyhow::ensure!(completed == placed.len(), "{} orders did not complete", placed.len() - completed);
    Ok(())
}

async fn ensure_status(response: reqwest::Response, expected: StatusCode, what: &str) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.as_u16() != expected.as_u16() {
        bail!("{what}: the Seller answered {status}: {body}");
    }
    Ok(body)
}

fn contact(role: &str) -> Value {
    json!({"name": "Demo Buyer", "emailAddress": "demo@buyer.example", "number": "+1-555-0199", "role": role})
}

/// A valid order for one product of `spec`, built from its example configuration.
fn order_for(spec: &lso_spec::ProductSpec, enni_id: &str) -> Value {
    let due = DateTime::from_millis(chrono::Utc::now().timestamp_millis() + 30 * 24 * 3_600_000);
    let mut product = json!({"productOffering": {"id": format!("offering-{}", spec.short_name)}, "productConfiguration": spec.example});
    if !spec.required_place_roles.is_empty() {
        let places: Vec<Value> = spec
            .required_place_roles
            .iter()
            .map(|role| json!({"@type": "GeographicSiteRef", "id": "site-demo-1", "role": role}))
            .collect();
        product["place"] = Value::Array(places);
    }
    if spec.required_product_relationships.iter().any(|r| r.relationship_type == ENNI_REFERENCE) {
        product["productRelationship"] = json!([{"id": enni_id, "relationshipType": ENNI_REFERENCE}]);
    }
    json!({
        "externalId": format!("demo-{}", spec.short_name),
        "relatedContactInformation": [contact("productOrderContact")],
        "productOrderItem": [{
            "id": "1",
            "action": "add",
            "requestedCompletionDate": due.as_str(),
            "billingAccount": {"id": "demo-billing-account"},
            "requestedItemTerm": {"name": "12 months", "duration": {"amount": 12, "units": "calendarMonths"}, "endOfTermAction": "autoRenew"},
            "relatedContactInformation": [
                contact("buyerProductOrderItemContact"), contact("buyerImplementationContact"), contact("buyerTechnicalContact")
            ],
            "product": product
        }]
    })
}
