//! Traces: one product order is one trace, from the Buyer's request through the BUS, the SOF in
//! a second `lso serve` process (over Legato), the ICM in a third (over Presto) and the ECM in a
//! fourth (over Adagio), down to the element calls, and likewise when all are one process; the processes
//! export their spans over OTLP/HTTP (as protobuf or JSON) to a receiver in the test, the
//! notifications to the Buyer carry the trace, and log lines name it.

use crate::crash::{Process, serve_with, token};
use crate::network::evpl_order;
use crate::support::*;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CANTATA: &str = "/mefApi/cantata/productOrderingManagement/v5";

/// A span as a collector received it.
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    trace: String,
    id: String,
    parent: String,
    name: String,
    kind: i32,
    /// Its `http.route` attribute, if any.
    route: Option<String>,
}

type Spans = Arc<Mutex<Vec<Exported>>>;

/// An OTLP/HTTP trace receiver on loopback, taking protobuf and JSON as collectors do.
async fn collector() -> (std::net::SocketAddr, Spans) {
    async fn receive(State(spans): State<Spans>, headers: axum::http::HeaderMap, body: Bytes) -> (StatusCode, String) {
        let json = headers["content-type"].to_str().unwrap().starts_with("application/json");
        let request: ExportTraceServiceRequest = if json {
            serde_json::from_slice(&body).expect("OTLP JSON")
        } else {
            prost::Message::decode(body).expect("OTLP protobuf")
        };
        for resource in request.resource_spans {
            let attributes = resource.resource.map(|r| r.attributes).unwrap_or_default();
            let service = attributes.iter().find(|a| a.key == "service.name").and_then(|a| a.value.clone());
            let Some(any_value::Value::StringValue(service)) = service.and_then(|v| v.value) else {
                panic!("spans without a service.name");
            };
            for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
                let route = span.attributes.iter().find(|a| a.key == "http.route").and_then(|a| a.value.clone());
                let route = match route.and_then(|v| v.value) {
                    Some(any_value::Value::StringValue(route)) => Some(route),
                    _ => None,
                };
                spans.lock().unwrap().push(Exported {
                    route,
                    service: service.clone(),
                    trace: hex(&span.trace_id),
                    id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    name: span.name,
                    kind: span.kind,
                });
            }
        }
        (StatusCode::OK, if json { "{}".into() } else { String::new() })
    }
    let spans = Spans::default();
    let app = Router::new().route("/v1/traces", post(receive)).with_state(spans.clone());
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(socket, app).await });
    (addr, spans)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Random lowercase hex of `bytes` bytes.
fn random_hex(bytes: usize) -> String {
    hex(&(0..bytes).map(|_| rand::random::<u8>()).collect::<Vec<_>>())
}

#[tokio::test]
async fn one_product_order_is_one_trace_across_the_bus_sof_icm_and_ecm_in_four_processes() {
    let (collector, spans) = collector().await;
    let otlp = format!("http://{collector}");
    let dir = tempfile::tempdir().unwrap();
    let data = |name: &str| dir.path().join(name);
    let exporting = |service: &'static str| {
        [("LSO_FULFILMENT__BY", "network".to_owned()), ("LSO_TRACING__SERVICE_NAME", service.to_owned())]
    };
    let start = |name: &str, settings: Vec<(&str, String)>| {
        let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
        serve_with(&data(name), &settings)
    };

    // Element control in one process; infrastructure control in a second, configuring the
    // elements through the first over Adagio; service orchestration in a third, asking the
    // second for connectivity over Presto; each exports protobuf to the collector's root URL.
    let root = ("LSO_TRACING__OTLP_ENDPOINT", otlp.clone());
    let (ecm, ecm_address) = start("ecm", [exporting("lso-ecm").to_vec(), vec![root.clone()]].concat());
    let adagio = [
        ("LSO_NETWORK__ADAGIO_URL", format!("http://{ecm_address}")),
        ("LSO_NETWORK__ADAGIO_TOKEN", token(&data("ecm"), &["--admin"])),
    ];
    let (icm, icm_address) =
        start("icm", [exporting("lso-icm").to_vec(), vec![root.clone()], adagio.to_vec()].concat());
    let presto = [
        ("LSO_NETWORK__PRESTO_URL", format!("http://{icm_address}")),
        ("LSO_NETWORK__PRESTO_TOKEN", token(&data("icm"), &["--admin"])),
    ];
    let (sof, sof_address) =
        start("sof", [exporting("lso-sof").to_vec(), vec![root.clone()], presto.to_vec()].concat());
    // The BUS in a fourth, sending its service orders to the third, exporting JSON to the full URL.
    let bus_settings = [
        ("LSO_FULFILMENT__LEGATO_URL", format!("http://{sof_address}")),
        ("LSO_FULFILMENT__LEGATO_TOKEN", token(&data("sof"), &["--admin"])),
        ("LSO_TRACING__OTLP_ENDPOINT", format!("{otlp}/v1/traces")),
        ("LSO_TRACING__PROTOCOL", "http/json".into()),
    ];
    let (bus, bus_address) = start("bus", [exporting("lso-bus").to_vec(), bus_settings.to_vec()].concat());
    // And a Seller all in one process.
    let (alone, alone_address) = start("alone", [exporting("lso-alone").to_vec(), vec![root]].concat());

    // An order at the BUS, and one at the Seller alone, each in a trace of the Buyer's own.
    let (trace, buyer_span, signed) = order_in_a_trace(&bus_address, &data("bus")).await;
    let (one_process, one_process_span, _) = order_in_a_trace(&alone_address, &data("alone")).await;

    // Stopped as systemd stops them: each exports what it has not sent yet.
    let logged = ecm.log.clone();
    for process in [bus, sof, icm, ecm, alone] {
        // Off the runtime, which serves the collector meanwhile.
        assert!(tokio::task::spawn_blocking(|| Process::stop(process)).await.unwrap().success());
    }
    let spans = spans.lock().unwrap().clone();
    assert!(!spans.iter().any(|s| s.name == "ecm.ports"), "the alarm monitors' polls are not recorded");
    let in_trace = |trace: &str| -> Vec<Exported> { spans.iter().filter(|s| s.trace == trace).cloned().collect() };

    let alone = in_trace(&one_process);
    let names: HashSet<&str> = alone.iter().map(|s| s.name.as_str()).collect();
    for name in ["POST cantata/productOrderingManagement", "advanceProductOrder", "sof.advanceServiceOrder"] {
        assert!(names.contains(name), "{name} is not among the spans of the order at one process: {names:?}");
    }
    for name in ["serviceOrderMoved", "icm.createConnectivity", "ecm.apply"] {
        assert!(names.contains(name), "{name} is not among the spans of the order at one process: {names:?}");
    }
    assert!(alone.iter().all(|s| s.service == "lso-alone"));
    assert_one_tree(&alone, &one_process_span);

    let spans = in_trace(&trace);
    let names = |service: &str| -> HashSet<String> {
        spans.iter().filter(|s| s.service == service).map(|s| s.name.clone()).collect()
    };
    let expected: [(&str, &[&str]); 4] = [
        ("lso-bus", &["POST cantata/productOrderingManagement", "advanceProductOrder", "POST 127.0.0.1"]),
        ("lso-sof", &["POST legato/serviceOrderingManagement", "sof.advanceServiceOrder", "POST 127.0.0.1"]),
        ("lso-icm", &["POST presto/restconf", "icm.createConnectivity", "PUT 127.0.0.1"]),
        ("lso-ecm", &["PUT adagio/adagio", "ecm.apply"]),
    ];
    for (service, expected) in expected {
        let spans = names(service);
        for name in expected {
            assert!(spans.contains(*name), "{name} is not among {service}'s spans of the order: {spans:?}");
        }
    }
    let applied = spans.iter().filter(|s| s.service == "lso-ecm" && s.name == "ecm.apply").count();
    assert!(applied >= 2, "the EVPL's cross-connects are applied on two elements at least ({applied})");

    // One tree across the four processes, each call's server span the child of its client span.
    assert_one_tree(&spans, &buyer_span);
    let ids: HashMap<&str, &Exported> = spans.iter().map(|s| (s.id.as_str(), s)).collect();
    let calls = [
        ("POST legato/serviceOrderingManagement", "lso-bus"),
        ("POST presto/restconf", "lso-sof"),
        ("PUT adagio/adagio", "lso-icm"),
    ];
    for (served, by) in calls {
        let served = spans.iter().find(|s| s.name == served).unwrap();
        let caller = ids[served.parent.as_str()];
        assert_eq!((caller.service.as_str(), caller.kind), (by, SpanKind::Client as i32), "{served:?}");
    }

    // The Buyer's notifications carry the trace, and the element control's log lines name it.
    assert!(!signed.is_empty());
    for delivery in &signed {
        let traceparent = delivery.traceparent.as_deref().expect("a traceparent on each delivery");
        assert_eq!(traceparent.split('-').nth(1), Some(trace.as_str()), "{traceparent}");
    }
    let lines = logged.lock().unwrap();
    let configured = lines.iter().filter(|l| l.contains("cross-connect applied") && l.contains(&trace)).count();
    assert!(configured >= 2, "{lines:#?}");
}

/// Places an EVPL order at the Seller at `address` (data in `data`) as a Buyer whose own span
/// it is sent in, and waits until it completed and the Buyer was told: the trace id, the
/// Buyer's span id, and the notifications as received.
async fn order_in_a_trace(address: &str, data: &std::path::Path) -> (String, String, Vec<Signed>) {
    let (client, buyer) = (reqwest::Client::new(), token(data, &["--buyer", "ACME"]));
    let base = format!("http://{address}{CANTATA}");
    let receiver = Receiver::default();
    let listener = receiver.start().await;
    let hub = json!({"callback": format!("http://{listener}")});
    let hub = client.post(format!("{base}/hub")).bearer_auth(&buyer).json(&hub).send().await.unwrap();
    assert_eq!(hub.status(), 201);

    let (trace, buyer_span) = (random_hex(16), random_hex(8));
    let order = evpl_order(&["site-new-york", "site-boston"], 100, 20);
    let placed = client
        .post(format!("{base}/productOrder"))
        .bearer_auth(&buyer)
        .header("traceparent", format!("00-{trace}-{buyer_span}-01"))
        .json(&order)
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    let id = placed.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let completed = |(_, event): &(String, Value)| {
        event["eventType"] == "productOrderStateChangeEvent" && event["event"]["id"] == id.as_str()
    };
    let look = async || {
        let order = client.get(format!("{base}/productOrder/{id}")).bearer_auth(&buyer).send().await.ok()?;
        let order: Value = order.json().await.ok()?;
        (order["state"] == "completed" && receiver.events.lock().unwrap().iter().any(completed)).then_some(order)
    };
    let done = lso_jobs::until_committed(&receiver.arrived, Duration::from_secs(120), look).await;
    assert!(done.is_some(), "the order completed and the Buyer was told");
    let signed = receiver.signed.lock().unwrap().clone();
    (trace, buyer_span, signed)
}

/// `spans` make one tree under the Buyer's span `root`: the Seller's request its only child,
/// every other span the child of one of them (across processes too).
fn assert_one_tree(spans: &[Exported], root: &str) {
    let ids: HashSet<&str> = spans.iter().map(|s| s.id.as_str()).collect();
    let children: Vec<&Exported> = spans.iter().filter(|s| s.parent == root).collect();
    assert_eq!(children.len(), 1, "{children:?}");
    assert_eq!(children[0].kind, SpanKind::Server as i32);
    assert!(children[0].name.starts_with("POST cantata/"), "{:?}", children[0]);
    let route = children[0].route.as_deref();
    assert_eq!(route, Some("/mefApi/cantata/productOrderingManagement/v5/productOrder"), "{:?}", children[0]);
    let orphans: Vec<&Exported> =
        spans.iter().filter(|s| s.parent != root && !ids.contains(s.parent.as_str())).collect();
    assert!(orphans.is_empty(), "spans whose parent is not in the trace: {orphans:?}");
}

#[tokio::test]
async fn spans_that_cannot_be_exported_are_logged_and_the_seller_carries_on() {
    // A collector that is gone: its port refuses connections.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = format!("http://operator:s3cret@{gone}");
    let (seller, address) = serve_with(dir.path(), &[("LSO_TRACING__OTLP_ENDPOINT", endpoint.as_str())]);
    let buyer = token(dir.path(), &["--buyer", "ACME"]);
    let catalog = format!("http://{address}/mefApi/sonata/productCatalog/v2/productOffering");
    let answer = reqwest::Client::new().get(catalog).bearer_auth(&buyer).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let logged = seller.log.clone();
    assert!(tokio::task::spawn_blocking(|| Process::stop(seller)).await.unwrap().success());
    let lines = logged.lock().unwrap();
    let warned: Vec<&String> = lines.iter().filter(|l| l.contains("spans cannot be exported")).collect();
    assert!(!warned.is_empty(), "{lines:#?}");
    assert!(
        warned.iter().all(|l| l.contains(&format!("http://{gone}/v1/traces")) && !l.contains("s3cret")),
        "{warned:#?}"
    );
}
