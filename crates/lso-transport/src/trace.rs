//! Distributed tracing. Every span of `lso` belongs to an OpenTelemetry trace: a request
//! continues the W3C `traceparent` its caller sent, every outbound call sends its own, and the
//! jobs and notifications written to the store keep the `traceparent` of the work that wrote
//! them, so the step that runs them later (in this or another process) continues that trace.
//! One product order is one trace, from the Buyer's request through the BUS, SOF, ICM and ECM
//! down to the element calls. [`Tracing`] exports the spans over OTLP/HTTP when configured;
//! without an exporter the trace context is still carried and log lines still name it.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, Sampler, SdkTracerProvider};
use std::time::Duration;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// The header that carries the trace context between processes.
pub const TRACEPARENT: &str = "traceparent";

/// Where and how spans are exported.
#[derive(Debug, Clone)]
pub struct Exporting {
    /// The collector's OTLP/HTTP URL; a URL without a path gets `/v1/traces`. Empty: spans are
    /// not exported (the trace context is still carried).
    pub endpoint: String,
    /// `http/protobuf` or `http/json`.
    pub protocol: String,
    /// `service.name` of the spans.
    pub service_name: String,
    /// The share of new traces recorded (0 to 1); a trace a caller records is always recorded.
    pub sample_ratio: f64,
}

impl Exporting {
    /// Whether these settings can be used: the protocol, ratio and URL the exporter needs.
    pub fn check(&self) -> Result<(), TraceError> {
        if !matches!(self.protocol.as_str(), "http/protobuf" | "http/json") {
            return Err(TraceError(format!("tracing.protocol {:?} is not http/protobuf or http/json", self.protocol)));
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(TraceError("tracing.sample_ratio must be between 0 and 1".into()));
        }
        if !self.endpoint.is_empty() {
            traces_url(&self.endpoint)?;
        }
        Ok(())
    }
}

/// Why tracing cannot start as configured.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TraceError(pub String);

/// The span exporter of this process, and the `tracing` layer that feeds it.
pub struct Tracing {
    provider: SdkTracerProvider,
}

impl Tracing {
    /// Spans exported as `exporting` says, sent with `http` (a client with `lso`'s outbound TLS)
    /// on the current Tokio runtime.
    pub fn start(exporting: &Exporting, http: reqwest::Client) -> Result<Self, TraceError> {
        exporting.check()?;
        if exporting.endpoint.is_empty() {
            return Ok(Tracing::local(&exporting.service_name));
        }
        let protocol = if exporting.protocol == "http/json" { Protocol::HttpJson } else { Protocol::HttpBinary };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| TraceError("traces are exported from a Tokio runtime".into()))?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(traces_url(&exporting.endpoint)?)
            .with_timeout(Duration::from_secs(10))
            .with_http_client(OnRuntime { http, runtime })
            .build()
            .map_err(|e| TraceError(format!("the OTLP exporter cannot be built: {e}")))?;
        let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(exporting.sample_ratio)));
        let builder = provider(&exporting.service_name).with_sampler(sampler);
        Ok(Tracing { provider: builder.with_batch_exporter(exporter).build() })
    }

    /// Spans that never leave the process: new traces are not recorded, but they have ids that
    /// log lines and callees see, and a trace a caller records is passed on as recorded.
    pub fn local(service_name: &str) -> Self {
        let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        Tracing { provider: provider(service_name).with_sampler(sampler).build() }
    }

    /// The `tracing` layer that makes `lso`'s spans OpenTelemetry spans (those of `lso`'s own
    /// crates, at `info` and above).
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static + use<S>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        let ours = tracing_subscriber::filter::filter_fn(|metadata| {
            metadata.target().starts_with("lso") && *metadata.level() <= tracing::Level::INFO
        });
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("lso"))
            .with_threads(false)
            .with_location(false)
            .with_filter(ours)
    }

    /// Exports the spans not sent yet and stops; blocks until the collector answered or the
    /// export timed out.
    pub fn shutdown(self) {
        if let Err(err) = self.provider.shutdown() {
            eprintln!("the last spans could not be exported: {err}");
        }
    }
}

/// A tracer provider whose spans are `service_name`'s.
fn provider(service_name: &str) -> opentelemetry_sdk::trace::TracerProviderBuilder {
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service_name.to_owned()).build();
    SdkTracerProvider::builder().with_resource(resource)
}

/// The collector URL the exporter posts to: `/v1/traces` appended to a URL without a path.
fn traces_url(endpoint: &str) -> Result<String, TraceError> {
    let url = reqwest::Url::parse(endpoint)
        .map_err(|e| TraceError(format!("tracing.otlp_endpoint {endpoint:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TraceError(format!("tracing.otlp_endpoint {endpoint:?} is not an http(s) URL")));
    }
    Ok(if url.path() == "/" { url.join("v1/traces").map(String::from).unwrap_or_default() } else { url.into() })
}

/// The exporter's HTTP client: `lso`'s own reqwest client, run on the Tokio runtime (the batch
/// processor exports from a thread of its own).
#[derive(Debug)]
struct OnRuntime {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OnRuntime {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::Request::try_from(request)?;
        // Named without any user or password the URL may hold.
        let collector = format!("{}{}", request.url().origin().ascii_serialization(), request.url().path());
        let http = self.http.clone();
        let sent = self.runtime.spawn(async move {
            let response = http.execute(request).await.map_err(reqwest::Error::without_url)?;
            let (status, headers) = (response.status(), response.headers().clone());
            Ok::<_, reqwest::Error>((status, headers, response.bytes().await.map_err(reqwest::Error::without_url)?))
        });
        // Logged here, once per batch: the exporter itself says nothing of a failure.
        let (status, headers, body) = sent.await?.inspect_err(|err| {
            tracing::warn!(%collector, error = %err, "spans cannot be exported: the collector cannot be reached");
        })?;
        if !status.is_success() {
            tracing::warn!(%collector, %status, "spans cannot be exported: the collector refused them");
        }
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// The `traceparent` of the current span, when it belongs to a trace: what a job or a
/// notification written now keeps, so the work that runs it later continues this trace.
pub fn current() -> Option<String> {
    let mut carrier = Carrier::default();
    TraceContextPropagator::new().inject_context(&Span::current().context(), &mut carrier);
    carrier.traceparent
}

/// Makes `span` (not entered yet) continue the trace of `traceparent`, and records the trace id
/// in its `trace_id` field, so each log line inside it names its trace.
pub fn continue_trace(span: &Span, traceparent: Option<&str>) {
    if let Some(traceparent) = traceparent {
        let carrier = Carrier { traceparent: Some(traceparent.to_owned()), tracestate: None };
        set_parent(span, &carrier);
    }
    record_trace_id(span);
}

/// Makes `span` (not entered yet) and the spans inside it unrecorded: routine work of the
/// process's own (a poll every few seconds) that would drown the traces that matter. They still
/// have a trace id, which log lines name.
pub fn unrecorded(span: &Span) {
    let ids = opentelemetry_sdk::trace::RandomIdGenerator::default();
    let unsampled = opentelemetry::trace::SpanContext::new(
        ids.new_trace_id(),
        ids.new_span_id(),
        opentelemetry::trace::TraceFlags::default(),
        true,
        opentelemetry::trace::TraceState::default(),
    );
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(unsampled));
    record_trace_id(span);
}

/// Makes `span` (not entered yet) continue the trace of a request with `headers`.
pub fn continue_request(span: &Span, headers: &http::HeaderMap) {
    set_parent(span, &Headers(headers));
    record_trace_id(span);
}

fn set_parent(span: &Span, carrier: &dyn Extractor) {
    let parent = TraceContextPropagator::new().extract(carrier);
    if parent.span().span_context().is_valid() {
        // Refused only when no layer traces (nothing to continue then) or the span has started.
        let _ = span.set_parent(parent);
    }
}

fn record_trace_id(span: &Span) {
    let context = span.context();
    let trace = context.span().span_context().trace_id();
    if trace != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace));
    }
}

/// Sends `request` in a client span of its own whose context travels in its `traceparent`. An
/// error does not name the URL: it may hold a secret (a password, a token in the query).
pub async fn send(request: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
    let (client, request) = request.build_split();
    execute(&client, request.map_err(reqwest::Error::without_url)?).await
}

/// Sends `request` with `client` in a client span of its own whose context travels in its
/// `traceparent`; an error does not name the URL.
pub async fn execute(client: &reqwest::Client, mut request: reqwest::Request) -> reqwest::Result<reqwest::Response> {
    let url = request.url();
    let host = url.host_str().unwrap_or_default();
    // The URL without its query: a Buyer's callback may carry a secret there.
    let path = format!("{}://{}{}", url.scheme(), url.authority(), url.path());
    let span = tracing::info_span!(
        "call",
        otel.name = %format!("{} {host}", request.method()),
        otel.kind = "client",
        http.request.method = %request.method(),
        url.full = %path,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    TraceContextPropagator::new().inject_context(&span.context(), &mut Headers(request.headers_mut()));
    let response = client.execute(request).instrument(span.clone()).await.map_err(reqwest::Error::without_url);
    match &response {
        Ok(answer) => {
            span.record("http.response.status_code", answer.status().as_u16());
            if answer.status().is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
        }
        Err(_) => {
            span.record("otel.status_code", "ERROR");
        }
    }
    response
}

/// A trace context as the store keeps it.
#[derive(Default)]
struct Carrier {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.traceparent = Some(value),
            "tracestate" => self.tracestate = Some(value),
            _ => {}
        }
    }
}

impl Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent.as_deref(),
            "tracestate" => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, "tracestate"]
    }
}

/// Request headers, read or written as a trace context carrier.
struct Headers<H>(H);

impl Extractor for Headers<&http::HeaderMap> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

impl Injector for Headers<&mut http::HeaderMap> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(key), http::HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn traced(endpoint: &str) -> (Tracing, impl tracing::Subscriber + Send + Sync) {
        let exporting = Exporting {
            endpoint: endpoint.into(),
            protocol: "http/protobuf".into(),
            service_name: "test".into(),
            sample_ratio: 1.0,
        };
        let tracing = Tracing::start(&exporting, reqwest::Client::new()).unwrap();
        let subscriber = tracing_subscriber::registry().with(tracing.layer());
        (tracing, subscriber)
    }

    #[test]
    fn a_span_continues_the_trace_it_is_given_and_passes_it_on() {
        let (_tracing, subscriber) = traced("");
        let given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("job", trace_id = tracing::field::Empty);
            continue_trace(&span, Some(given));
            let inside = span.in_scope(current).unwrap();
            let parts: Vec<&str> = inside.split('-').collect();
            assert_eq!(parts[1], "0af7651916cd43dd8448eb211c80319c", "the same trace");
            assert_ne!(parts[2], "b7ad6b7169203331", "a span of its own");
            assert_eq!(parts[3], "01", "recorded, as its caller records it");
        });
    }

    #[test]
    fn a_request_without_a_trace_starts_one_and_a_malformed_traceparent_is_ignored() {
        let (_tracing, subscriber) = traced("");
        tracing::subscriber::with_default(subscriber, || {
            let mut headers = http::HeaderMap::new();
            headers.insert(TRACEPARENT, http::HeaderValue::from_static("00-zz-not-a-trace"));
            let span = tracing::info_span!("request", trace_id = tracing::field::Empty);
            continue_request(&span, &headers);
            let started = span.in_scope(current).unwrap();
            assert_eq!(started.len(), 55);
            assert!(started.ends_with("-00"), "not recorded: nothing exports it");
        });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_an_exporter_new_traces_are_recorded_but_routine_work_is_not() {
        // A collector taking anything, for the export when the provider is dropped.
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let collector = format!("http://{}", socket.local_addr().unwrap());
        tokio::spawn(axum::serve(socket, axum::Router::new().fallback(|| async { "" })).into_future());
        let (_tracing, subscriber) = traced(&collector);
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("request", trace_id = tracing::field::Empty);
            continue_request(&request, &http::HeaderMap::new());
            assert!(request.in_scope(current).unwrap().ends_with("-01"));
            let poll = tracing::info_span!("poll", trace_id = tracing::field::Empty);
            unrecorded(&poll);
            let inside = poll.in_scope(|| {
                let element = tracing::info_span!("element");
                element.in_scope(current)
            });
            assert!(inside.unwrap().ends_with("-00"), "not recorded, down to the spans inside");
        });
    }

    #[test]
    fn nothing_is_carried_where_no_layer_traces() {
        let span = tracing::info_span!("job", trace_id = tracing::field::Empty);
        continue_trace(&span, Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
        assert_eq!(span.in_scope(current), None);
    }

    #[test]
    fn the_collector_url_gets_the_traces_path_when_it_has_none() {
        assert_eq!(traces_url("http://collector:4318").unwrap(), "http://collector:4318/v1/traces");
        assert_eq!(traces_url("https://c.example/otlp/v1/traces").unwrap(), "https://c.example/otlp/v1/traces");
        assert!(traces_url("collector:4318").is_err());
        assert!(traces_url("ftp://collector").is_err());
    }
}
