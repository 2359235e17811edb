//! Router tests: Legato through `router().oneshot(…)` over a SOF on simulated elements, and
//! `LegatoClient` against the same routes served on loopback.

use super::*;
use lso_legato::Legato;
use lso_model::{FixedClock, SequentialIds};
use lso_sof::Sof;
use serde_json::{Value, json};
use std::sync::Arc;

const NOW: i64 = 1_790_000_000_000;

struct Lab {
    sof: Arc<Sof>,
    worker: lso_jobs::Worker,
    router: Router,
    admin: String,
    buyer: String,
    _dir: tempfile::TempDir,
}

async fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let store = lso_store::Store::open(&dir.path().join("lso.db")).unwrap();
    let topology = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY).unwrap();
    let ecm = Arc::new(lso_ecm::Ecm::simulated_elements(topology.elements.clone()));
    let icm = Arc::new(lso_icm::Icm::open(topology, store.clone(), ecm).await.unwrap());
    let clock = Arc::new(FixedClock::at(NOW));
    let ids = Arc::new(SequentialIds::new("s"));
    // The test's callbacks are names no resolver knows.
    let here = lso_notify::SelfAddresses { allow_private_callbacks: true, ..Default::default() };
    let sof = Arc::new(Sof::new(store.clone(), icm, clock.clone(), ids, here));
    let worker = lso_jobs::Worker::new(store, clock).with_handler(sof.clone());
    let lso_http::TestCallers { auth, admin, buyer } = lso_http::TestCallers::default();
    let router = router(SofState::operators(sof.clone(), auth));
    Lab { sof, worker, router, admin, buyer, _dir: dir }
}

impl Lab {
    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value, Option<String>) {
        let answer = lso_http::oneshot(&self.router, token, method, path, body.as_ref()).await;
        let total = answer.headers.get("x-total-count").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (answer.status, answer.body, total)
    }

    /// Runs the SOF's due jobs until none is left.
    async fn settle(&self) {
        for _ in 0..100 {
            if self.worker.try_execute_next().await.unwrap() == lso_jobs::Outcome::Empty {
                return;
            }
        }
        panic!("the SOF's jobs did not settle");
    }
}

fn uni_order(external_id: &str, site: &str) -> Value {
    json!({"externalId": external_id, "requestedStartDate": "2026-09-01T10:00:00Z", "requestedCompletionDate": "2026-11-26T10:00:00Z",
        "serviceOrderItem": [{"id": "1", "action": "add", "service": {"externalId": "product-1", "state": "active",
            "serviceConfiguration": {"@type": lso_sof::services::SUBSCRIBER_UNI},
            "place": [{"@type": "GeographicSiteRef", "id": site, "role": "INSTALL_LOCATION"}]}}]})
}

#[tokio::test]
async fn only_the_sellers_applications_call_legato() {
    let lab = lab().await;
    let orders = format!("{ORDERING_BASE}/serviceOrder");
    assert_eq!(lab.call("", "GET", &orders, None).await.0, 401);
    let (status, body, _) = lab.call(&lab.buyer, "GET", &orders, None).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("accessDenied")));
    assert_eq!(lab.call(&lab.admin, "GET", &orders, None).await.0, 200);
    let (status, body, _) = lab.call(&lab.admin, "GET", &format!("{orders}?colour=red"), None).await;
    assert_eq!(status, 400, "{body:#}");
    let (status, _, _) = lab.call(&lab.admin, "GET", &format!("{orders}?state=sleeping"), None).await;
    assert_eq!(status, 400, "a state the file does not define");
}

#[tokio::test]
async fn a_service_order_is_accepted_realised_listed_and_its_service_found_by_its_product() {
    let lab = lab().await;
    let orders = format!("{ORDERING_BASE}/serviceOrder");
    let (status, accepted, _) = lab.call(&lab.admin, "POST", &orders, Some(uni_order("po-1/1", "site-boston"))).await;
    assert_eq!((status, &accepted["state"]), (201, &json!("acknowledged")), "{accepted:#}");
    let id = accepted["id"].as_str().unwrap();
    lab.settle().await;
    let (status, done, _) = lab.call(&lab.admin, "GET", &format!("{orders}/{id}"), None).await;
    assert_eq!((status, &done["state"]), (200, &json!("completed")), "{done:#}");
    let (status, listed, total) =
        lab.call(&lab.admin, "GET", &format!("{orders}?state=completed&externalId=po-1%2F1"), None).await;
    assert_eq!((status, listed.as_array().map(Vec::len), total.as_deref()), (200, Some(1), Some("1")));
    let (_, none, total) = lab.call(&lab.admin, "GET", &format!("{orders}?state=failed"), None).await;
    assert_eq!((none, total.as_deref()), (json!([]), Some("0")));
    let services = format!("{INVENTORY_BASE}/service?externalId=product-1");
    let (status, services, _) = lab.call(&lab.admin, "GET", &services, None).await;
    assert_eq!((status, &services[0]["state"]), (200, &json!("active")), "{services:#}");
    let service = services[0]["id"].as_str().unwrap();
    assert_eq!(lab.call(&lab.admin, "GET", &format!("{INVENTORY_BASE}/service/{service}"), None).await.0, 200);
    assert_eq!(lab.call(&lab.admin, "GET", &format!("{orders}/no-such-order"), None).await.0, 404);
    let (status, refused, _) = lab.call(&lab.admin, "POST", &orders, Some(json!({"serviceOrderItem": []}))).await;
    assert_eq!(status, 422, "{refused:#}");
}

#[tokio::test]
async fn a_hub_is_registered_read_and_removed_and_an_unusable_one_refused() {
    let lab = lab().await;
    let hub = format!("{ORDERING_BASE}/hub");
    let (status, refused, _) = lab.call(&lab.admin, "POST", &hub, Some(json!({"callback": "not a url"}))).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalidBody")), "{refused:#}");
    let asked = json!({"callback": "http://listener.example/bus", "query": "eventType=serviceOrderStateChangeEvent"});
    let (status, registered, _) = lab.call(&lab.admin, "POST", &hub, Some(asked)).await;
    assert_eq!(status, 201, "{registered:#}");
    let path = format!("{hub}/{}", registered["id"].as_str().unwrap());
    let (status, read, _) = lab.call(&lab.admin, "GET", &path, None).await;
    assert_eq!((status, read), (200, registered));
    assert_eq!(lab.call(&lab.admin, "DELETE", &path, None).await.0, 204);
    assert_eq!(lab.call(&lab.admin, "DELETE", &path, None).await.0, 404);
}

#[tokio::test]
async fn the_service_catalog_lists_reads_and_describes_its_specifications() {
    let lab = lab().await;
    let specs = format!("{CATALOG_BASE}/serviceSpecification");
    let (status, all, total) = lab.call(&lab.admin, "GET", &specs, None).await;
    assert_eq!((status, total.as_deref()), (200, Some("7")));
    let id = all[0]["id"].as_str().unwrap();
    let (status, one, _) = lab.call(&lab.admin, "GET", &format!("{specs}/{id}?fields=name"), None).await;
    assert_eq!((status, one.as_object().map(|o| o.len())), (200, Some(3)), "id, @type and name: {one:#}");
    let (status, schema, _) = lab.call(&lab.admin, "GET", &format!("{specs}/{id}/schema"), None).await;
    assert_eq!((status, schema.is_object()), (200, true));
    assert_eq!(lab.call(&lab.admin, "GET", &format!("{specs}/no-such-spec"), None).await.0, 404);
    assert_eq!(lab.call(&lab.admin, "GET", &format!("{specs}?lifecycleStatus=ASLEEP"), None).await.0, 400);
}

#[tokio::test]
async fn performance_jobs_measure_interfaces_the_network_has() {
    let lab = lab().await;
    let jobs = format!("{}/performanceJob", lso_sof::pm::PM_BASE);
    let job = |interface: &str| {
        json!({"performanceProfile": {"@type": "PerformanceProfileValue", "jobType": "proactive", "granularity": "15 minutes",
            "reportingPeriod": "1 hour", "outputFormat": "json", "resultFormat": "payload"},
            "servicePayloadSpecificAttributes": {"@type": lso_sof::pm::CE_CONFIGURATION, "interface": interface}})
    };
    let (status, refused, _) = lab.call(&lab.admin, "POST", &jobs, Some(job("uni-mars-1"))).await;
    assert_eq!(
        (status, refused[0]["propertyPath"].as_str()),
        (422, Some("/servicePayloadSpecificAttributes/interface"))
    );
    let (status, created, _) = lab.call(&lab.admin, "POST", &jobs, Some(job("uni-boston-1"))).await;
    assert_eq!(status, 201, "{created:#}");
    let (status, listed, _) = lab.call(&lab.admin, "GET", &jobs, None).await;
    assert_eq!((status, &listed[0]["id"]), (200, &created["id"]));
}

#[tokio::test]
async fn the_client_is_the_buses_legato_over_http() {
    let lab = lab().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    let router = lab.router.clone();
    let served = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = LegatoClient::new(&root, lso_transport::Credentials::bearer(&lab.admin), reqwest::Client::new());
    assert!(client.service_order_moves().is_none(), "a SOF in another process is asked, not heard");
    let accepted = client.create_service_order("bus", uni_order("po-2/1", "site-new-york")).await.unwrap();
    let id = accepted["id"].as_str().unwrap();
    lab.settle().await;
    assert_eq!(client.service_order("bus", id).await.unwrap()["state"], "completed");
    assert_eq!(client.service_order_by_external_id("bus", "po-2/1").await.unwrap().unwrap()["id"], id);
    assert_eq!(client.service_order_by_external_id("bus", "po-9/1").await.unwrap(), None);
    let services = client.services_by_external_id("bus", "product-1").await.unwrap();
    assert_eq!(services, lab.sof.services_by_external_id("bus", "product-1").await.unwrap());
    let refused = client.create_service_order("bus", json!({"serviceOrderItem": []})).await;
    assert!(matches!(refused, Err(lso_sof::SofError::Invalid(_))), "{refused:?}");
    served.abort();
}
