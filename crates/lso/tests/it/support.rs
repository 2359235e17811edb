//! What the end-to-end tests share: a Seller on a random port, a Buyer's HTTP client, a
//! notification receiver that can be told to fail, and the MEF contracts.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use lso_http::Principal;
use lso_model::{Clock, SystemClock};
use lso_server::config::Config;
use lso_server::{self as server, Running};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The directory holding the official MEF SDK files.
pub fn shared_mef() -> PathBuf {
    lso_lab::shared_mef()
}

pub use lso_lab::contract::Contract;

/// A configuration for a test Seller in `data_dir`, listening on a random loopback port.
pub fn test_config(data_dir: &std::path::Path) -> Config {
    let mut config = Config::load(None, std::iter::empty()).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.data_dir = data_dir.to_owned();
    config.notifications.first_retry_millis = 20;
    // The test's listeners are on loopback.
    config.notifications.allow_private_callbacks = true;
    // Tests call as fast as they can; `identity.rs` tests the limit.
    config.http.rate_limit_per_second = 0.0;
    config.notifications.max_retry_millis = 200;
    // The product API tests place orders at sites no network has; `tests/it/network.rs`
    // runs orders down to the elements.
    config.fulfilment.by = lso_server::config::FulfilmentMode::Inventory;
    config
}

/// A Seller running in this process, and a Buyer's view of it.
pub struct App {
    pub dir: tempfile::TempDir,
    pub seller: Running,
    pub client: reqwest::Client,
    pub token: String,
    pub admin: String,
    /// The state-changing calls made through [`App::call_as`]: method, path (no query),
    /// status and the token's subject.
    pub changes: Arc<Mutex<Vec<Change>>>,
}

/// A state-changing call: method, path (no query), status, and the token's subject.
pub type Change = (String, String, u16, String);

/// Starts a Seller with `adjust` applied to its configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> App {
    spawn_app_in(tempfile::tempdir().unwrap(), adjust).await
}

/// Starts a Seller on the data directory `dir` (new or used before).
pub async fn spawn_app_in(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config)) -> App {
    spawn_app_on(dir, Arc::new(SystemClock), adjust).await
}

/// Starts a Seller whose clock stands still at `millis` (its jobs due at once still run).
pub async fn spawn_app_at(millis: i64, adjust: impl FnOnce(&mut Config)) -> App {
    spawn_app_on(tempfile::tempdir().unwrap(), Arc::new(lso_model::FixedClock::at(millis)), adjust).await
}

/// Starts a Seller on `dir` telling time by `clock`; tokens are signed at the wall clock's time.
async fn spawn_app_on(dir: tempfile::TempDir, clock: Arc<dyn Clock>, adjust: impl FnOnce(&mut Config)) -> App {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut config = test_config(dir.path());
    adjust(&mut config);
    let seller = server::start_with(&config, clock).await.unwrap();
    let client = config.tls.outbound().unwrap().client(Duration::from_secs(60)).unwrap();
    let now = SystemClock.now_seconds();
    let token = seller.auth.mint(&Principal::buyer("acme", vec!["ACME".into()]), now, 3600);
    let admin = seller.auth.mint(&Principal::administrator("ops"), now, 3600);
    App { dir, seller, client, token, admin, changes: Arc::default() }
}

/// Starts a Seller on the test defaults.
pub async fn spawn_app() -> App {
    spawn_app_with(|_| {}).await
}

/// An HTTP answer: status, headers and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl App {
    /// Stops the Seller gracefully and hands back its data directory.
    pub async fn stop(self) -> tempfile::TempDir {
        self.seller.stop().await;
        self.dir
    }

    /// Places `count` valid EVPL orders at `base` and returns their ids.
    pub async fn place_orders(&self, base: &str, count: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let mut order = order_of(&example(EVPL), None);
            order["externalId"] = json!(format!("order-{n}"));
            let created = self.call("POST", &format!("{base}/productOrder"), Some(&order)).await;
            assert_eq!(created.status, 201, "{:#}", created.body);
            ids.push(created.body["id"].as_str().unwrap().to_owned());
        }
        ids
    }

    /// `http://{addr}{path}`, or `https://…` when the Seller serves HTTPS.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.seller.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.seller.addr)
    }

    /// A request with the Buyer's token.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        self.call_as(&self.token, method, path, body).await
    }

    /// A request with `token`.
    pub async fn call_as(&self, token: &str, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method.clone(), self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        if method != reqwest::Method::GET {
            let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(token).unwrap_or_default();
            let subject = claims["sub"].as_str().unwrap_or_default().to_owned();
            let path = path.split('?').next().unwrap_or_default().to_owned();
            self.changes.lock().unwrap().push((method.to_string(), path, status, subject));
        }
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Answer { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
    }

    /// Reads order `id` at `base` after every commit of the Seller until it is final.
    pub async fn wait_until_final(&self, base: &str, id: &str) -> Value {
        let finished = ["completed", "partial", "failed", "rejected", "cancelled"];
        self.wait_until(&format!("{base}/productOrder/{id}"), |order| finished.iter().any(|s| order["state"] == *s))
            .await
    }

    /// Reads `path` after every commit of the Seller until `done` holds for it.
    pub async fn wait_until(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.wait_until_as(&self.token, path, done).await
    }

    /// [`App::wait_until`] with `token`.
    pub async fn wait_until_as(&self, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let look = async || Some(self.call_as(token, "GET", path, None).await.body).filter(&done);
        let found = lso_jobs::until_committed(&self.seller.bus.wake(), Duration::from_secs(300), look).await;
        found.unwrap_or_else(|| panic!("{path} did not reach the state awaited"))
    }

    /// Places `order` at the ordering API at `base` (201) and gives it back once completed.
    pub async fn order_completed(&self, base: &str, order: &Value) -> Value {
        let placed = self.call("POST", &format!("{base}/productOrder"), Some(order)).await;
        assert_eq!(placed.status, 201, "{:#}", placed.body);
        let done = self.wait_until_final(base, placed.body["id"].as_str().unwrap()).await;
        assert_eq!(done["state"], "completed", "{done:#}");
        done
    }

    /// The webhook secret of the test Buyer (ACME) at the reference point of `base`
    /// (`/mefApi/{point}/…`).
    pub async fn webhook_secret(&self, base: &str) -> String {
        let point = base.trim_start_matches("/mefApi/").split('/').next().unwrap();
        let query = if point == "legato" { "" } else { "?buyerId=ACME" };
        let path = format!("/lso/admin/v1/{point}/webhookSecret{query}");
        let answer = self.call_as(&self.admin, "GET", &path, None).await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        answer.body["secret"].as_str().unwrap().to_owned()
    }

    /// A listener registered (201) at the hub of the API at `base`, verifying every signature,
    /// and the hub as answered.
    pub async fn listening_at(&self, base: &str) -> (Receiver, Value) {
        let receiver = Receiver::default();
        *receiver.secret.lock().unwrap() = Some(self.webhook_secret(base).await);
        let listener = receiver.start().await;
        let subscription = json!({"callback": format!("http://{listener}")});
        let hub = self.call("POST", &format!("{base}/hub"), Some(&subscription)).await;
        assert_eq!(hub.status, 201, "{:#}", hub.body);
        (receiver, hub.body)
    }

    /// The outbox once nothing is pending, looked at after every commit of the Seller.
    pub async fn wait_for_deliveries_to_anyone(&self) -> Value {
        self.wait_until_as(&self.admin, "/lso/admin/v1/deliveries?limit=1000", |d| d["pending"] == 0).await
    }

    /// Checks the outbox each time `receiver` is sent an event until nothing is pending.
    pub async fn wait_for_deliveries_to(&self, receiver: &Receiver) -> Value {
        let path = "/lso/admin/v1/deliveries?limit=1000";
        let look = async || Some(self.call_as(&self.admin, "GET", path, None).await.body).filter(|d| d["pending"] == 0);
        let found = lso_jobs::until_committed(&receiver.arrived, Duration::from_secs(300), look).await;
        found.expect("deliveries still pending")
    }
}

/// `field` of each element of the array `list` of `doc`.
pub fn each<'a>(doc: &'a Value, list: &str, field: &str) -> Vec<&'a str> {
    doc[list].as_array().into_iter().flatten().map(|e| e[field].as_str().unwrap_or_default()).collect()
}

/// The `propertyPath` of each problem a 422 lists.
pub fn property_paths(problems: &Value) -> Vec<&str> {
    problems.as_array().into_iter().flatten().map(|e| e["propertyPath"].as_str().unwrap_or_default()).collect()
}

/// Runs the `lso` command line with `args`; what it printed, once it has succeeded.
pub async fn lso_cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_lso")).args(args).output().await.unwrap();
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{said}{}", String::from_utf8_lossy(&output.stderr));
    said
}

impl App {
    /// Runs `lso` with `args` against this Seller (its URL and its data directory).
    pub async fn cli(&self, args: &[&str]) -> String {
        let dir = self.dir.path().display().to_string();
        let url = self.url("");
        lso_cli(&[args, &["--url", &url, "--data-dir", &dir]].concat()).await
    }
}

/// A contact with `role`.
pub fn contact(role: &str) -> Value {
    json!({"name": "Ann Buyer", "emailAddress": "ann@buyer.example", "number": "+1-555-0101", "role": role})
}

/// An RFC 3339 time `days` from now.
pub fn days_from_now(days: i64) -> String {
    lso_model::DateTime::from_millis(SystemClock.now_millis() + days * 86_400_000).to_string()
}

/// A valid order of one `add` item with `configuration` (and a place when `place_role`).
pub fn order_of(configuration: &Value, place_role: Option<&str>) -> Value {
    let mut product = json!({"productOffering": {"id": "offering-1"}, "productConfiguration": configuration});
    if let Some(role) = place_role {
        product["place"] = json!([{"@type": "GeographicSiteRef", "id": "site-1", "role": role}]);
    }
    json!({
        "externalId": "buyer-order-1",
        "relatedContactInformation": [contact("productOrderContact")],
        "productOrderItem": [{
            "id": "1",
            "action": "add",
            "requestedCompletionDate": days_from_now(30),
            "billingAccount": {"id": "ba-1"},
            "requestedItemTerm": {"name": "1 year", "duration": {"amount": 12, "units": "calendarMonths"}, "endOfTermAction": "autoRenew"},
            "relatedContactInformation": [contact("buyerProductOrderItemContact"), contact("buyerImplementationContact"), contact("buyerTechnicalContact")],
            "product": product
        }]
    })
}

/// The built-in example configuration of `spec` (a `@type` URN).
pub fn example(spec: &str) -> Value {
    lso_spec::Catalog::built_in().unwrap().get(spec).unwrap().example.clone()
}

/// The EVPL specification.
pub const EVPL: &str = "urn:mef:lso:spec:cantata-sonata:evpl-evc:v1.0.0:all";

/// A notification listener: records every event it is sent with its signature headers, can be
/// told to refuse the next `n` deliveries with 500, or to keep every request waiting (`gate`). Given the tenant's webhook secret, it
/// verifies every signature (Standard Webhooks) and refuses with 401 what does not verify.
#[derive(Clone, Default)]
pub struct Receiver {
    pub events: Arc<Mutex<Vec<(String, Value)>>>,
    pub signed: Arc<Mutex<Vec<Signed>>>,
    pub secret: Arc<Mutex<Option<String>>>,
    pub unverified: Arc<AtomicUsize>,
    pub refuse: Arc<AtomicUsize>,
    pub arrived: Arc<Notify>,
    /// Every request that reached the listener, answered yet or not.
    pub reached: Arc<AtomicUsize>,
    /// Held for writing, it keeps every request waiting, unanswered, until it is let go.
    pub gate: Arc<tokio::sync::RwLock<()>>,
}

/// A delivery's body and signature headers, as received.
#[derive(Clone, Debug)]
pub struct Signed {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
    pub body: String,
    /// The W3C trace context it was sent in.
    pub traceparent: Option<String>,
}

impl Signed {
    /// Whether it verifies against `secrets` now.
    pub fn verify(&self, secrets: &[&str]) -> Result<(), lso_notify::webhooks::Unverified> {
        lso_notify::webhooks::verify(
            secrets,
            self.id.as_deref(),
            self.timestamp.as_deref(),
            self.signature.as_deref(),
            self.body.as_bytes(),
            SystemClock.now_seconds(),
        )
    }
}

impl Receiver {
    /// Serves the listener on a random loopback port.
    pub async fn start(&self) -> SocketAddr {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.serve(socket)
    }

    /// Serves the listener over HTTPS with `tls` on a random loopback port.
    pub async fn start_tls(&self, tls: lso_transport::ServerTls) -> SocketAddr {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tls = lso_transport::Reloading::new(tls).unwrap();
        self.serve(lso_transport::TlsListener::new(socket, tls).unwrap())
    }

    fn serve<L: axum::serve::Listener<Addr = SocketAddr>>(&self, listener: L) -> SocketAddr {
        async fn on_event(
            State(receiver): State<Receiver>,
            Path(path): Path<String>,
            headers: axum::http::HeaderMap,
            body: String,
        ) -> StatusCode {
            receiver.reached.fetch_add(1, Ordering::SeqCst);
            receiver.arrived.notify_waiters();
            let _open = receiver.gate.read().await;
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let signed = Signed {
                id: header("webhook-id"),
                timestamp: header("webhook-timestamp"),
                signature: header("webhook-signature"),
                body: body.clone(),
                traceparent: header("traceparent"),
            };
            let secret = receiver.secret.lock().unwrap().clone();
            if let Some(secret) = secret
                && signed.verify(&[&secret]).is_err()
            {
                receiver.unverified.fetch_add(1, Ordering::SeqCst);
                return StatusCode::UNAUTHORIZED;
            }
            let refused =
                receiver.refuse.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
            if refused {
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            lso_lab::events::record(&path, &body);
            let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            receiver.events.lock().unwrap().push((path, event));
            receiver.signed.lock().unwrap().push(signed);
            receiver.arrived.notify_waiters();
            StatusCode::NO_CONTENT
        }
        let app = Router::new().route("/{*path}", post(on_event)).with_state(self.clone());
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    /// The events received, in arrival order, each with its type, checked: posted to
    /// `…{under}/listener/{eventType}` and valid against the notification file `contract` gives
    /// for its type.
    pub fn checked<'a>(&self, under: &str, contract: impl Fn(&str) -> &'a Contract) -> Vec<(String, Value)> {
        let events = self.events.lock().unwrap();
        let check = |(path, event): &(String, Value)| {
            let kind = event["eventType"].as_str().unwrap().to_owned();
            assert!(path.ends_with(&format!("{under}/listener/{kind}")), "{path}");
            Contract::assert_valid(&contract(&kind).request_body(&format!("/listener/{kind}"), "post"), event, &kind);
            (kind, event.clone())
        };
        events.iter().map(check).collect()
    }

    /// The events received, by `event.id`, in arrival order, with their listener paths.
    pub fn by_resource(&self) -> HashMap<String, Vec<(String, Value)>> {
        let mut grouped: HashMap<String, Vec<(String, Value)>> = HashMap::new();
        for (path, event) in self.events.lock().unwrap().iter() {
            let id = event["event"]["id"].as_str().unwrap_or_default().to_owned();
            grouped.entry(id).or_default().push((path.clone(), event.clone()));
        }
        grouped
    }
}

/// Sends `request` on to `target` (method, path and query, body, credentials and content
/// type), as a relay in front of a peer does; the method, the path and the peer's answer.
pub async fn pass_on(
    http: &reqwest::Client,
    target: &str,
    request: axum::extract::Request,
) -> (axum::http::Method, String, reqwest::Response) {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().unwrap().as_str().to_owned();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let mut asked = http.request(parts.method.clone(), format!("{target}{path}")).body(body);
    for name in [axum::http::header::AUTHORIZATION, axum::http::header::CONTENT_TYPE] {
        if let Some(value) = parts.headers.get(&name) {
            asked = asked.header(name, value);
        }
    }
    (parts.method, path, asked.send().await.unwrap())
}
