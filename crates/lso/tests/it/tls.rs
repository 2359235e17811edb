//! Transport security end to end: a Seller serving HTTPS with a certificate from a test CA,
//! a Buyer's HTTPS listener receiving every event, `public_url` in the links, mutual TLS where
//! a client CA is set, and certificate files read again on change and on SIGHUP while open
//! connections carry on.

use crate::support::*;
use lso_transport::testing::{Issued, TestCa};
use lso_transport::{ClientAuth, ServerTls};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

const ORDERS: &str = "/mefApi/sonata/productOrderingManagement/v10";
const OFFERINGS: &str = "/mefApi/sonata/productCatalog/v2/productOffering";

/// The events of a one-item order completed in its first step (as in `notifications.rs`).
const LIFE_OF_AN_ORDER: usize = 6;

fn files(issued: &Issued) -> ServerTls {
    ServerTls { cert: issued.cert.clone(), key: issued.key.clone(), client_ca: None, client_auth: ClientAuth::Required }
}

fn serve_https(config: &mut lso_server::Config, ca: &TestCa, seller: &Issued) {
    config.tls.cert = seller.cert.display().to_string();
    config.tls.key = seller.key.display().to_string();
    config.tls.ca = ca.ca().display().to_string();
}

#[tokio::test]
async fn an_https_seller_delivers_every_event_to_an_https_listener_and_links_name_its_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "operators");
    let seller = ca.issue("seller", &["127.0.0.1"]);
    let app = spawn_app_with(|c| {
        serve_https(c, &ca, &seller);
        c.public_url = "https://lso.example.net/".into();
    })
    .await;
    assert!(app.url(ORDERS).starts_with("https://"));
    // A client that does not trust the operators' CA is refused by its own TLS.
    assert!(reqwest::get(app.url(OFFERINGS)).await.is_err());

    let receiver = Receiver::default();
    let listener = receiver.start_tls(files(&ca.issue("listener", &["localhost"]))).await;
    let callback = json!({"callback": format!("https://localhost:{}/buyer", listener.port())});
    assert_eq!(app.call("POST", &format!("{ORDERS}/hub"), Some(&callback)).await.status, 201);
    app.order_completed(ORDERS, &order_of(&example(EVPL), None)).await;
    let outbox = app.wait_for_deliveries_to(&receiver).await;
    assert_eq!((outbox["delivered"].as_i64(), outbox["dead"].as_i64()), (Some(LIFE_OF_AN_ORDER as i64), Some(0)));
    assert_eq!(receiver.events.lock().unwrap().len(), LIFE_OF_AN_ORDER, "every event arrived over HTTPS");

    let offerings = app.call("GET", OFFERINGS, None).await;
    let hrefs: Vec<&str> = offerings.body.as_array().unwrap().iter().map(|o| o["href"].as_str().unwrap()).collect();
    assert!(!hrefs.is_empty() && hrefs.iter().all(|h| h.starts_with("https://lso.example.net/mefApi/")), "{hrefs:?}");
    // The operators' command line reaches the HTTPS Seller with the CA named.
    let said = app.cli(&["deliveries", "--ca", &ca.ca().display().to_string()]).await;
    assert!(said.contains(&format!("0 pending, {LIFE_OF_AN_ORDER} delivered, 0 dead")), "{said}");
    app.seller.stop().await;
}

#[tokio::test]
async fn where_a_client_ca_is_set_only_clients_with_its_certificates_are_served_on_each_listener() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "operators");
    let (partners, monitoring) = (TestCa::new(dir.path(), "partners"), TestCa::new(dir.path(), "monitoring"));
    let seller = ca.issue("seller", &["127.0.0.1"]);
    let partner = partners.issue("partner", &["partner.example"]);
    let app = spawn_app_with(|c| {
        serve_https(c, &ca, &seller);
        c.tls.client_ca = partners.ca().display().to_string();
        // The test's client is built from this configuration, so it presents the partner's certificate.
        c.tls.client_cert = partner.cert.display().to_string();
        c.tls.client_key = partner.key.display().to_string();
        // Metrics on a listener of its own, for the monitoring team's scrapers only.
        c.metrics.listen = "127.0.0.1:0".into();
        c.metrics.client_ca = monitoring.ca().display().to_string();
    })
    .await;
    assert_eq!(app.call("GET", OFFERINGS, None).await.status, 200);
    let with = |issued: Option<&Issued>| {
        let identity = issued.map(|i| (i.cert.as_path(), i.key.as_path()));
        lso_transport::Outbound::load(Some(&ca.ca()), identity).unwrap().client(Duration::from_secs(10)).unwrap()
    };
    let stranger = TestCa::new(dir.path(), "strangers").issue("stranger", &["stranger.example"]);
    let scraper = monitoring.issue("prometheus", &["prometheus.example"]);
    let metrics = format!("https://{}/metrics", app.seller.metrics_addr.unwrap());
    let answer = async |client: &reqwest::Client, url: &str| -> reqwest::Result<u16> {
        let answer = client.get(url).bearer_auth(&app.token).send().await?;
        let status = answer.status().as_u16();
        answer.text().await.map(|_| status)
    };
    for refused in [None, Some(&stranger), Some(&scraper)] {
        let served = answer(&with(refused), &app.url(OFFERINGS)).await;
        assert!(served.is_err(), "a client without a partner's certificate was served: {served:?}");
    }
    assert_eq!(answer(&with(Some(&scraper)), &metrics).await.unwrap(), 200);
    for refused in [None, Some(&stranger), Some(&partner)] {
        let served = answer(&with(refused), &metrics).await;
        assert!(served.is_err(), "a client without a scraper's certificate was served metrics: {served:?}");
    }
    app.seller.stop().await;
}

/// The certificate the Seller presents on a new connection.
async fn presented(app: &App, ca: &TestCa) -> Vec<u8> {
    let client = lso_transport::Outbound::load(Some(&ca.ca()), None).unwrap().builder().tls_info(true).build().unwrap();
    let response = client.get(app.url(OFFERINGS)).bearer_auth(&app.token).send().await.unwrap();
    response.extensions().get::<reqwest::tls::TlsInfo>().unwrap().peer_certificate().unwrap().to_vec()
}

fn der(path: &Path) -> Vec<u8> {
    lso_transport::certificates(path).unwrap()[0].to_vec()
}

#[tokio::test]
async fn certificate_files_are_read_again_on_change_and_on_sighup_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "operators");
    let first = ca.issue("seller", &["127.0.0.1"]);
    let app = spawn_app_with(|c| serve_https(c, &ca, &first)).await;
    let mut reloads = app.seller.tls.as_ref().unwrap().reloads();
    assert_eq!(presented(&app, &ca).await, der(&first.cert));
    // The test's client keeps its connection open across the reloads.
    assert_eq!(app.call("GET", OFFERINGS, None).await.status, 200);

    // A renewal writes new files: the Seller notices the change by itself.
    let second = ca.issue("seller", &["127.0.0.1"]);
    reloads.changed().await.unwrap();
    assert_eq!(presented(&app, &ca).await, der(&second.cert));
    assert_eq!(app.call("GET", OFFERINGS, None).await.status, 200);

    // Files replaced with their modification times kept are read on SIGHUP. The handler is
    // installed before the signal is sent, so the test process is never ended by it.
    // They are written aside, dated, then renamed over the old ones at once.
    let third = ca.issue("renewal", &["127.0.0.1"]);
    let renewed = der(&third.cert);
    for (new, old) in [(&third.cert, &second.cert), (&third.key, &second.key)] {
        let stamp = std::fs::metadata(old).unwrap().modified().unwrap();
        std::fs::File::options().write(true).open(new).unwrap().set_modified(stamp).unwrap();
        std::fs::rename(new, old).unwrap();
    }
    let _handler = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).unwrap();
    let sent = std::process::Command::new("kill").args(["-HUP", &std::process::id().to_string()]).status().unwrap();
    assert!(sent.success());
    reloads.changed().await.unwrap();
    assert_eq!(presented(&app, &ca).await, renewed);
    assert_eq!(app.call("GET", OFFERINGS, None).await.status, 200);
    app.seller.stop().await;
}
