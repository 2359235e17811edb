//! Router tests: requests through `router().oneshot(…)`, no socket.

use super::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use lso_bus::{BusConfig, InventoryFulfilment, UuidIds};
use lso_model::{Clock, SystemClock};
use lso_spec::Catalog;
use lso_store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

struct App {
    _dir: tempfile::TempDir,
    router: Router,
    auth: Arc<Authenticator>,
}

fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lso.db")).unwrap();
    let catalog = Arc::new(Catalog::built_in().unwrap());
    let mut config =
        BusConfig::new(json!({"name": "Desk", "emailAddress": "d@s.example", "number": "1", "role": "sellerContact"}));
    // The test's callbacks are on loopback.
    config.self_addresses.allow_private_callbacks = true;
    let bus = Bus::new(
        store,
        catalog.clone(),
        Arc::new(SystemClock),
        Arc::new(UuidIds),
        Arc::new(InventoryFulfilment::new(catalog, 0.0)),
        config,
    );
    let auth = Arc::new(Authenticator::ephemeral());
    let geography = Arc::new(lso_geo::Geography::parse(lso_geo::SAMPLE_ADDRESSES, lso_geo::SAMPLE_SITES).unwrap());
    let state = ApiState {
        bus: Arc::new(bus),
        auth: auth.clone(),
        sellers: Arc::new(vec!["LSO".into()]),
        geography,
        catalog_time: "2026-01-01T00:00:00Z".into(),
        origin: "http://localhost".into(),
    };
    App { _dir: dir, router: router(state).fallback(lso_http::not_found_fallback), auth }
}

impl App {
    fn token(&self, buyers: &[&str]) -> String {
        let principal = Principal::buyer("t", buyers.iter().map(|b| b.to_string()).collect());
        self.auth.mint(&principal, SystemClock.now_seconds(), 3600)
    }

    async fn call(&self, method: &str, uri: &str, token: Option<&str>, body: Option<&[u8]>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_vec()))).unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

const ORDERS: &str = "/mefApi/sonata/productOrderingManagement/v10/productOrder";

#[tokio::test]
async fn credentials_are_required_and_checked() {
    let app = app();
    let (status, body) = app.call("GET", ORDERS, None, None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("missingCredentials")));
    let (status, body) = app.call("GET", ORDERS, Some("not.a.token"), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalidCredentials")));
    let (status, _) = app.call("GET", ORDERS, Some(&app.token(&["ACME"])), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_orders_paths_and_query_parameters_get_mef_errors() {
    let app = app();
    let token = app.token(&["ACME"]);
    let (status, body) = app.call("GET", &format!("{ORDERS}/nope"), Some(&token), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("notFound")));
    let (status, body) = app.call("GET", &format!("{ORDERS}?colour=red"), Some(&token), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidQuery")));
    let (status, _) = app.call("GET", &format!("{ORDERS}?limit=-1"), Some(&token), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.call("GET", &format!("{ORDERS}?state=done"), Some(&token), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.call("GET", "/mefApi/sonata/nothing/v1/x", Some(&token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_bodies_are_400_or_422_and_nothing_is_stored() {
    let app = app();
    let token = app.token(&["ACME"]);
    let (status, body) = app.call("POST", ORDERS, Some(&token), Some(b"{not json")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidBody")));
    let (status, body) = app.call("POST", ORDERS, Some(&token), Some(b"{\"productOrderItem\": []}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.as_array().unwrap().iter().all(|e| e["propertyPath"].is_string() && e["code"].is_string()));
    let (status, body) = app.call("POST", ORDERS, Some(&token), Some(b"{\"productOrderItem\": [{\"id\": 1}]}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body[0]["propertyPath"], "/productOrderItem/0/id");
    let (_, list) = app.call("GET", ORDERS, Some(&token), None).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn hubs_are_registered_read_and_deleted_per_buyer() {
    let app = app();
    let acme = app.token(&["ACME"]);
    let hub = "/mefApi/cantata/productOrderingManagement/v5/hub";
    let (status, created) = app
        .call(
            "POST",
            hub,
            Some(&acme),
            Some(br#"{"callback":"http://127.0.0.1:9/cb","query":"eventType=productOrderStateChangeEvent"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_str().unwrap();
    let (status, read) = app.call("GET", &format!("{hub}/{id}"), Some(&acme), None).await;
    assert_eq!((status, &read), (StatusCode::OK, &created));
    let other = app.token(&["OTHER"]);
    let (status, _) = app.call("GET", &format!("{hub}/{id}"), Some(&other), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call("DELETE", &format!("{hub}/{id}"), Some(&other), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.call("DELETE", &format!("{hub}/{id}"), Some(&acme), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.call("POST", hub, Some(&acme), Some(br#"{"callback":"ftp://x"}"#)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalidBody")));
    assert!(body["reason"].as_str().unwrap().starts_with("/callback: "), "{body:#}");
}
