//! The dispatcher: claims due deliveries from the outbox, POSTs them to the listeners, and
//! records each outcome. A failed attempt is retried after an exponentially growing, jittered
//! delay (or the listener's `Retry-After`, if later); after the last attempt the delivery is
//! kept as a dead letter the operator can list and resend. Every attempt is signed with the
//! secrets of the listener's tenant (`webhooks`).

use crate::webhooks::{self, WebhookSecrets};
use lso_jobs::{Outcome, Runner, serve};
use lso_model::{Clock, SystemClock};
use lso_store::{DeliveryOutcome, DeliveryTask, Leased, Store, StoreError};
use rand::Rng;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

/// When to try again, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt.
    pub first_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
    /// Attempts in all before a delivery becomes a dead letter.
    pub max_attempts: i64,
    /// Each delay is spread by up to this fraction either way.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(3600),
            max_attempts: 12,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The delay after `failed_attempts` failures (1 for the first), jittered by `spread` in [-1, 1].
    pub fn delay(&self, failed_attempts: i64, spread: f64) -> Duration {
        let exponent = (failed_attempts - 1).clamp(0, 30) as u32;
        let base = self.first_delay.saturating_mul(2u32.saturating_pow(exponent)).min(self.max_delay);
        base.mul_f64((1.0 + self.jitter * spread.clamp(-1.0, 1.0)).max(0.0))
    }
}

/// Delivers the outbox.
#[derive(Clone)]
pub struct Dispatcher {
    store: Store,
    secrets: WebhookSecrets,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    wake: Arc<Notify>,
    inside: bool,
    metrics: Arc<lso_metrics::Metrics>,
    batch: usize,
}

impl Dispatcher {
    /// A dispatcher over `store`, woken early by `wake`, delivering with a client made from
    /// `http` (which carries the TLS settings; the dispatcher adds timeouts and refuses
    /// redirects). Unless `inside` is allowed, it reaches no internal address, whatever a
    /// callback's name resolves to when it is delivered.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
        wake: Arc<Notify>,
        http: reqwest::ClientBuilder,
        inside: bool,
    ) -> Result<Self, reqwest::Error> {
        let http = if inside { http } else { http.dns_resolver(crate::guard::OutsideOnly) };
        let client = http
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(256)
            .build()?;
        let secrets = WebhookSecrets::new(store.clone());
        let metrics = Arc::default();
        Ok(Dispatcher { store, secrets, client, clock, policy, wake, inside, metrics, batch: 256 })
    }

    /// Counts its attempts by outcome in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<lso_metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Attempts every delivery due now (one per resource and subscription), then records them.
    pub async fn try_deliver_next(&self) -> Result<Outcome, StoreError> {
        let now = self.clock.now_millis();
        let tasks = self.store.claim_deliveries(now, lso_jobs::lease::LEASE_MILLIS, self.batch).await?;
        if tasks.is_empty() {
            return Ok(Outcome::Empty);
        }
        let count = tasks.len();
        let mut signing: HashMap<String, Arc<Vec<String>>> = HashMap::new();
        for task in &tasks {
            if !signing.contains_key(&task.tenant) {
                let secrets = self.secrets.of(&task.tenant).await?;
                let active = secrets.active(now).into_iter().map(str::to_owned).collect();
                signing.insert(task.tenant.clone(), Arc::new(active));
            }
        }
        let held = tasks.iter().map(|t| t.id).collect();
        let mut attempts = JoinSet::new();
        for task in tasks {
            let client = self.client.clone();
            let secrets = signing[&task.tenant].clone();
            let inside = self.inside;
            attempts.spawn(async move {
                let id = task.id;
                let attempted = match internal_literal(&task.url).filter(|_| !inside) {
                    Some(ip) => (task, AttemptResult::Unreachable(format!("{ip} is internal: not sent inside"))),
                    None => attempt(&client, task, &secrets).await,
                };
                (id, attempted)
            });
        }
        let attempted =
            lso_jobs::lease::join_renewing(&self.store, &*self.clock, Leased::Deliveries, held, &mut attempts).await;
        let mut results = Vec::with_capacity(count);
        for (task, result) in attempted {
            let outcome = self.outcome(&task, result);
            self.metrics.delivery(match outcome {
                DeliveryOutcome::Delivered { .. } => "delivered",
                DeliveryOutcome::Retry { .. } => "retry",
                DeliveryOutcome::Dead { .. } => "dead",
            });
            results.push((task.id, outcome));
        }
        self.store.finish_deliveries(self.clock.now_millis(), results).await?;
        Ok(Outcome::Done(count))
    }

    fn outcome(&self, task: &DeliveryTask, result: AttemptResult) -> DeliveryOutcome {
        let (status, error, retry_after) = match result {
            AttemptResult::Accepted(status) => return DeliveryOutcome::Delivered { status },
            AttemptResult::Refused { status, retry_after } => {
                (Some(status), format!("listener answered {status}"), retry_after)
            }
            AttemptResult::Unreachable(error) => (None, error, None),
        };
        let failed = task.attempts + 1;
        if failed >= self.policy.max_attempts {
            tracing::warn!(delivery = task.id, event_type = %task.event_type, url = %task.url, %error, "delivery is a dead letter");
            return DeliveryOutcome::Dead { status, error };
        }
        let spread = rand::rng().random_range(-1.0..=1.0);
        let delay = self.policy.delay(failed, spread).max(retry_after.unwrap_or_default());
        DeliveryOutcome::Retry { at: self.clock.now_millis() + delay.as_millis() as i64, status, error }
    }

    /// Delivers until `shutdown` turns true, waiting until the next delivery is due or the
    /// dispatcher is woken.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        serve(&self, std::slice::from_ref(&self.wake), shutdown).await
    }
}

/// The host of `url` if it is an internal IP address (names are checked as they resolve).
fn internal_literal(url: &str) -> Option<std::net::IpAddr> {
    let url = reqwest::Url::parse(url).ok()?;
    let ip: std::net::IpAddr = url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    crate::guard::is_internal(ip).then_some(ip)
}

enum AttemptResult {
    Accepted(u16),
    Refused { status: u16, retry_after: Option<Duration> },
    Unreachable(String),
}

/// Sends `task` once, in a span that continues the trace of the work that published its event.
async fn attempt(client: &reqwest::Client, task: DeliveryTask, secrets: &[String]) -> (DeliveryTask, AttemptResult) {
    let span = tracing::info_span!(
        "deliver",
        otel.name = %format!("deliver {}", task.event_type),
        event.id = %task.event_id,
        delivery.attempt = task.attempts + 1,
        trace_id = tracing::field::Empty,
    );
    lso_transport::trace::continue_trace(&span, task.trace.as_deref());
    // The listener compares the timestamp with its own wall clock, not the business clock.
    let timestamp = SystemClock.now_seconds();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = webhooks::signature(&secrets, &task.event_id, timestamp, task.body.as_bytes());
    let request = client
        .post(&task.url)
        .header(CONTENT_TYPE, "application/json;charset=utf-8")
        .header(webhooks::WEBHOOK_ID, &task.event_id)
        .header(webhooks::WEBHOOK_TIMESTAMP, timestamp.to_string())
        .header(webhooks::WEBHOOK_SIGNATURE, signature)
        .body(task.body.clone());
    let sent = lso_transport::trace::send(request).instrument(span).await;
    let result = match sent {
        Ok(response) if response.status().is_success() => AttemptResult::Accepted(response.status().as_u16()),
        Ok(response) => {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            AttemptResult::Refused { status: response.status().as_u16(), retry_after }
        }
        Err(err) => AttemptResult::Unreachable(format!("listener unreachable: {err}")),
    };
    (task, result)
}

impl Runner for Dispatcher {
    const NAME: &'static str = "dispatcher";
    const FLOOR_MILLIS: i64 = 5;

    async fn try_next(&self) -> Result<Outcome, StoreError> {
        self.try_deliver_next().await
    }

    async fn next_due(&self) -> Option<i64> {
        self.store.next_delivery_time().await.ok().flatten()
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lso_store::{Hub, NewEvent, WriteOp};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A listener on loopback counting what reaches it.
    async fn listener() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let reached = Arc::new(AtomicUsize::new(0));
        let counter = reached.clone();
        let app = axum::Router::new().fallback(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { axum::http::StatusCode::NO_CONTENT }
        });
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(socket, app).await });
        (addr, reached)
    }

    #[tokio::test]
    async fn a_callback_that_resolves_inside_when_delivered_is_never_reached() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("lso.db")).unwrap();
        let (addr, reached) = listener().await;
        // Both were outside when registered, say; now one resolves to loopback and one is
        // loopback's address itself.
        let mut ops = Vec::new();
        for (n, callback) in [format!("http://localhost:{}", addr.port()), format!("http://{addr}")].iter().enumerate()
        {
            ops.push(WriteOp::InsertHub(Hub {
                id: format!("h{n}"),
                api: "orders".into(),
                tenant: "t".into(),
                callback: callback.clone(),
                query: None,
                event_types: Vec::new(),
                extra: "{}".into(),
            }));
        }
        ops.push(WriteOp::Publish(NewEvent {
            id: "e1".into(),
            api: "orders".into(),
            tenant: "t".into(),
            event_type: "x".into(),
            listener_path: "/listener/x".into(),
            body: r#"{"eventId":"e1","event":{}}"#.into(),
            ordering_key: "o1".into(),
            at: 0,
        }));
        store.apply(ops).await.unwrap();
        let clock = Arc::new(lso_model::FixedClock::at(1_000));
        let http = reqwest::Client::builder();
        let outside_only =
            Dispatcher::new(store.clone(), clock.clone(), RetryPolicy::default(), Arc::default(), http, false).unwrap();
        assert_eq!(outside_only.try_deliver_next().await.unwrap(), Outcome::Done(2));
        assert_eq!(reached.load(Ordering::SeqCst), 0, "nothing inside was reached");
        let tried = store.list_deliveries(None, 10).await.unwrap();
        assert!(tried.iter().all(|d| d.state == "pending" && d.attempts == 1), "{tried:?}");
        let errors: Vec<&str> = tried.iter().filter_map(|d| d.last_error.as_deref()).collect();
        assert!(errors.len() == 2 && errors.iter().any(|e| e.contains("internal")), "{errors:?}");
    }

    #[test]
    fn delays_grow_exponentially_up_to_the_cap_within_the_jitter() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, 0.0), Duration::from_secs(1));
        assert_eq!(policy.delay(4, 0.0), Duration::from_secs(8));
        assert_eq!(policy.delay(40, 0.0), Duration::from_secs(3600));
        assert_eq!(policy.delay(2, 1.0), Duration::from_millis(2400));
        assert_eq!(policy.delay(2, -1.0), Duration::from_millis(1600));
    }
}
