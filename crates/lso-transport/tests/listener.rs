//! The HTTPS listener against real clients on loopback: served with the configured chain,
//! client certificates required where a client CA is set, certificate files swapped without
//! dropping a connection in flight.

use axum::serve::Listener;
use lso_transport::testing::{Issued, TestCa};
use lso_transport::{ClientAuth, Outbound, Reloading, ServerTls, TlsListener};
use std::sync::Arc;
use std::time::Duration;

async fn serve(tls: ServerTls) -> (String, Arc<Reloading>) {
    let reloading = Reloading::new(tls).unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = TlsListener::new(tcp, reloading.clone()).unwrap();
    let url = format!("https://localhost:{}/", listener.local_addr().unwrap().port());
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, reloading)
}

fn server_files(server: &Issued, client_ca: Option<std::path::PathBuf>) -> ServerTls {
    ServerTls { cert: server.cert.clone(), key: server.key.clone(), client_ca, client_auth: ClientAuth::Required }
}

fn client(ca: &TestCa, identity: Option<&Issued>) -> reqwest::Client {
    Outbound::load(Some(&ca.ca()), identity.map(|i| (i.cert.as_path(), i.key.as_path())))
        .unwrap()
        .builder()
        .tls_info(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn peer_certificate(response: &reqwest::Response) -> Vec<u8> {
    response.extensions().get::<reqwest::tls::TlsInfo>().and_then(|i| i.peer_certificate()).unwrap().to_vec()
}

fn der(path: &std::path::Path) -> Vec<u8> {
    lso_transport::certificates(path).unwrap()[0].to_vec()
}

#[tokio::test]
async fn https_is_served_and_only_trusted_clients_get_through_where_a_client_ca_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "servers");
    let clients = TestCa::new(dir.path(), "clients");
    let strangers = TestCa::new(dir.path(), "strangers");
    let server = ca.issue("server", &["localhost", "127.0.0.1"]);
    let (open, _) = serve(server_files(&server, None)).await;
    let response = client(&ca, None).get(&open).send().await.unwrap();
    assert_eq!(peer_certificate(&response), der(&server.cert));
    assert_eq!(response.text().await.unwrap(), "hello");
    // A client that does not trust the server's CA refuses it.
    assert!(client(&strangers, None).get(&open).send().await.is_err());

    let (mutual, _) = serve(server_files(&server, Some(clients.ca()))).await;
    let partner = clients.issue("partner", &["partner.example"]);
    let response = client(&ca, Some(&partner)).get(&mutual).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "hello");
    let outsider = strangers.issue("outsider", &["outsider.example"]);
    for refused in [client(&ca, None), client(&ca, Some(&outsider))] {
        let answer = async { refused.get(&mutual).send().await?.text().await };
        assert!(answer.await.is_err(), "a client without a trusted certificate was served");
    }
}

#[tokio::test]
async fn new_certificate_files_are_used_for_new_connections_and_open_ones_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "servers");
    let first = ca.issue("server", &["localhost"]);
    let first_der = der(&first.cert);
    let (url, reloading) = serve(server_files(&first, None)).await;
    let kept = client(&ca, None);
    assert_eq!(peer_certificate(&kept.get(&url).send().await.unwrap()), first_der);

    // The files are replaced in place, as a certificate renewal does.
    let second = ca.issue("server", &["localhost"]);
    assert_ne!(der(&second.cert), first_der);
    reloading.reload().unwrap();
    // The pooled connection is still the one made before the reload.
    let on_old_connection = kept.get(&url).send().await.unwrap();
    assert_eq!(peer_certificate(&on_old_connection), first_der);
    assert_eq!(on_old_connection.text().await.unwrap(), "hello");
    let fresh = client(&ca, None).get(&url).send().await.unwrap();
    assert_eq!(peer_certificate(&fresh), der(&second.cert));

    // A broken file leaves the working configuration in place.
    std::fs::write(&second.key, "not a key").unwrap();
    assert!(reloading.reload().is_err());
    assert_eq!(peer_certificate(&client(&ca, None).get(&url).send().await.unwrap()), der(&second.cert));
}
