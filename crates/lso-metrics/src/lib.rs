//! What `lso` counts for Prometheus: requests by API, operation and status with their latency;
//! notification deliveries by outcome; calls to partners by partner, API and outcome with their
//! latency; element operations by element, operation and outcome with their latency; and,
//! read from the store at each scrape, orders and items by state, jobs waiting by kind with the
//! age of the oldest, and dead letters. One registry per `lso` process (nothing global), so
//! several Sellers in one test process count apart.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

type Labels = Vec<(&'static str, String)>;
type Latencies = Family<Labels, Histogram, fn() -> Histogram>;

/// 1 ms to about 33 s, doubling.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn latencies() -> Latencies {
    Family::new_with_constructor(latency_buckets as fn() -> Histogram)
}

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The counts of one `lso` process.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    request_seconds: Latencies,
    deliveries: Family<Labels, Counter>,
    partner_calls: Family<Labels, Counter>,
    partner_seconds: Latencies,
    element_operations: Family<Labels, Counter>,
    element_seconds: Latencies,
    orders: Family<Labels, Gauge>,
    items: Family<Labels, Gauge>,
    jobs_waiting: Family<Labels, Gauge>,
    oldest_job_seconds: Family<Labels, Gauge<f64, AtomicU64>>,
    dead_letters: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics { .. }")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// What the store holds at a scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreCounts {
    /// Product orders by state.
    pub orders: Vec<(String, i64)>,
    /// Product order items by state.
    pub items: Vec<(String, i64)>,
    /// Jobs waiting by kind: how many, and the age of the oldest due one in seconds.
    pub jobs: Vec<(String, i64, f64)>,
    /// Deliveries given up on.
    pub dead_letters: i64,
}

impl Metrics {
    /// Nothing counted yet.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("lso");
        let requests = Family::default();
        registry.register("http_requests", "HTTP requests answered, by API, operation and status", requests.clone());
        let request_seconds = latencies();
        registry.register("http_request_duration_seconds", "HTTP request latency", request_seconds.clone());
        let deliveries = Family::default();
        registry.register("notification_deliveries", "Notification delivery attempts by outcome", deliveries.clone());
        let partner_calls = Family::default();
        registry.register("partner_calls", "Calls to partners by partner, API and outcome", partner_calls.clone());
        let partner_seconds = latencies();
        registry.register("partner_call_duration_seconds", "Latency of calls to partners", partner_seconds.clone());
        let element_operations = Family::default();
        registry.register(
            "element_operations",
            "Operations on network elements by element, operation and outcome",
            element_operations.clone(),
        );
        let element_seconds = latencies();
        registry.register(
            "element_operation_duration_seconds",
            "Latency of operations on network elements",
            element_seconds.clone(),
        );
        let orders = Family::default();
        registry.register("product_orders", "Product orders by state", orders.clone());
        let items = Family::default();
        registry.register("product_order_items", "Product order items by state", items.clone());
        let jobs_waiting = Family::default();
        registry.register("jobs_waiting", "Durable jobs waiting, by kind", jobs_waiting.clone());
        let oldest_job_seconds = Family::default();
        registry.register(
            "oldest_job_age_seconds",
            "How long the oldest due job of each kind has waited",
            oldest_job_seconds.clone(),
        );
        let dead_letters = Gauge::default();
        registry.register("dead_letters", "Notification deliveries given up on", dead_letters.clone());
        Metrics {
            registry,
            requests,
            request_seconds,
            deliveries,
            partner_calls,
            partner_seconds,
            element_operations,
            element_seconds,
            orders,
            items,
            jobs_waiting,
            oldest_job_seconds,
            dead_letters,
        }
    }

    /// An HTTP request of `operation` (method and route) at `api` answered `status`.
    pub fn request(&self, api: &str, operation: &str, status: u16, took: Duration) {
        let labels = vec![("api", api.to_owned()), ("operation", operation.to_owned())];
        self.request_seconds.get_or_create(&labels).observe(took.as_secs_f64());
        let mut labels = labels;
        labels.push(("status", status.to_string()));
        self.requests.get_or_create(&labels).inc();
    }

    /// A notification delivery attempt ended `outcome` (`delivered`, `retry`, `dead`).
    pub fn delivery(&self, outcome: &str) {
        self.deliveries.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
    }

    /// A call to `partner`'s `api` ended `outcome` (an HTTP status class, or `unreachable`).
    pub fn partner_call(&self, partner: &str, api: &str, outcome: &str, took: Duration) {
        let labels = vec![("partner", partner.to_owned()), ("api", api.to_owned())];
        self.partner_seconds.get_or_create(&labels).observe(took.as_secs_f64());
        let mut labels = labels;
        labels.push(("outcome", outcome.to_owned()));
        self.partner_calls.get_or_create(&labels).inc();
    }

    /// `operation` on `element` ended `outcome` (`ok` or `error`).
    pub fn element_operation(&self, element: &str, operation: &str, outcome: &str, took: Duration) {
        let labels = vec![("element", element.to_owned()), ("operation", operation.to_owned())];
        self.element_seconds.get_or_create(&labels).observe(took.as_secs_f64());
        let mut labels = labels;
        labels.push(("outcome", outcome.to_owned()));
        self.element_operations.get_or_create(&labels).inc();
    }

    /// The exposition: the counts so far, and the store's as `counts` says.
    pub fn render(&self, counts: &StoreCounts) -> String {
        let gauge = |family: &Family<Labels, Gauge>, name: &'static str, values: &[(String, i64)]| {
            family.clear();
            for (value, count) in values {
                family.get_or_create(&vec![(name, value.clone())]).set(*count);
            }
        };
        gauge(&self.orders, "state", &counts.orders);
        gauge(&self.items, "state", &counts.items);
        let jobs: Vec<(String, i64)> = counts.jobs.iter().map(|(kind, n, _)| (kind.clone(), *n)).collect();
        gauge(&self.jobs_waiting, "kind", &jobs);
        self.oldest_job_seconds.clear();
        for (kind, _, age) in &counts.jobs {
            self.oldest_job_seconds.get_or_create(&vec![("kind", kind.clone())]).set(*age);
        }
        self.dead_letters.set(counts.dead_letters);
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_store_figures_are_exposed_in_the_openmetrics_text_format() {
        let metrics = Metrics::new();
        metrics.request("sonata/productOrderingManagement", "POST /productOrder", 201, Duration::from_millis(3));
        metrics.request("sonata/productOrderingManagement", "POST /productOrder", 201, Duration::from_millis(5));
        metrics.delivery("delivered");
        let counts = StoreCounts {
            orders: vec![("completed".into(), 2)],
            jobs: vec![("order".into(), 1, 2.5)],
            ..StoreCounts::default()
        };
        let text = metrics.render(&counts);
        for line in [
            r#"lso_http_requests_total{api="sonata/productOrderingManagement",operation="POST /productOrder",status="201"} 2"#,
            r#"lso_http_request_duration_seconds_count{api="sonata/productOrderingManagement",operation="POST /productOrder"} 2"#,
            r#"lso_notification_deliveries_total{outcome="delivered"} 1"#,
            r#"lso_product_orders{state="completed"} 2"#,
            r#"lso_jobs_waiting{kind="order"} 1"#,
            r#"lso_oldest_job_age_seconds{kind="order"} 2.5"#,
            "lso_dead_letters 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        // A state no order is in any more is no longer shown.
        let text = metrics.render(&StoreCounts::default());
        assert!(!text.contains(r#"state="completed""#), "{text}");
    }
}
