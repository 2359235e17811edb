//! `lso` on PostgreSQL: two nodes sharing one database fulfil orders taken by either once,
//! whichever node's worker claims them, and deliver every notification; a node whose database
//! stops is not ready until it is back, and loses no order it accepted; a node killed while it
//! delivers loses its claims within seconds and another node delivers in its place.

use crate::support::*;

const ORDERS: &str = "/mefApi/sonata/productOrderingManagement/v10";
const INVENTORY: &str = "/mefApi/sonata/productInventory/v7";

/// A PostgreSQL server for the test: the one `POSTGRES_TEST_SERVER` names, or a throw-away
/// cluster started with `scripts/postgres` (stopped when the guard drops).
pub(crate) struct Server {
    connection: String,
    started: Option<String>,
}

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres")
}

impl Server {
    pub(crate) fn get() -> Server {
        match std::env::var("POSTGRES_TEST_SERVER") {
            Ok(connection) => Server { connection, started: None },
            Err(_) => Server::own(),
        }
    }

    /// A cluster of the test's own, which it may stop and start.
    fn own() -> Server {
        let output = std::process::Command::new(script()).output().unwrap();
        assert!(
            output.status.success(),
            "PostgreSQL could not be started: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = String::from_utf8(output.stdout).unwrap();
        let (dir, connection) = line.trim().split_once(' ').unwrap();
        Server { connection: connection.to_owned(), started: Some(dir.to_owned()) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(dir) = &self.started {
            let _ = std::process::Command::new(script()).args(["stop", dir]).status();
        }
    }
}

/// A fresh database on `server`.
pub(crate) async fn fresh_database(server: &Server, name: &str) -> String {
    lso_store::PgStore::scratch_database(&server.connection, &format!("it_{name}")).await.unwrap()
}

#[tokio::test]
async fn two_nodes_on_one_postgres_database_fulfil_every_order_once() {
    let server = Server::get();
    let url = fresh_database(&server, "two_nodes").await;
    let first = spawn_app_with(|c| c.database_url = url.clone()).await;
    // The second node shares the database and the signing keys (so tokens work on both).
    let keys = std::fs::read(first.dir.path().join("signing-keys.json")).unwrap();
    let second_dir = tempfile::tempdir().unwrap();
    std::fs::write(second_dir.path().join("signing-keys.json"), keys).unwrap();
    let second = spawn_app_in(second_dir, |c| c.database_url = url.clone()).await;

    let (receiver, _) = first.listening_at(ORDERS).await;
    let mut orders = first.place_orders(ORDERS, 10).await;
    orders.extend(second.place_orders(ORDERS, 10).await);
    for id in &orders {
        let done = second.wait_until_final(ORDERS, id).await;
        assert_eq!(done["state"], "completed", "{done:#}");
        let states: Vec<&str> =
            done["stateChange"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap()).collect();
        assert_eq!(states, ["acknowledged", "inProgress", "completed"], "each step once, whichever node ran it");
        let products = first.call("GET", &format!("{INVENTORY}/product?productOrderId={id}"), None).await;
        assert_eq!(products.body.as_array().unwrap().len(), 1);
    }
    let outbox = first.wait_for_deliveries_to(&receiver).await;
    assert_eq!((outbox["delivered"].as_u64(), outbox["dead"].as_u64()), (Some(20 * 6), Some(0)));
    second.seller.stop().await;
    first.seller.stop().await;
}

impl Server {
    /// Runs `scripts/postgres {command}` on the test's own cluster (`pause` or `resume`).
    async fn control(&self, command: &str) {
        let dir = self.started.as_deref().expect("a cluster of the test's own");
        let status = tokio::process::Command::new(script()).args([command, dir]).status().await.unwrap();
        assert!(status.success(), "scripts/postgres {command} failed");
    }
}

async fn health(app: &App, probe: &str) -> (u16, serde_json::Value) {
    let answer = app.client.get(app.url(&format!("/health/{probe}"))).send().await.unwrap();
    assert_eq!(answer.headers()["content-type"], "application/health+json");
    (answer.status().as_u16(), answer.json().await.unwrap())
}

#[tokio::test]
async fn a_node_whose_database_stops_is_not_ready_until_it_is_back_and_loses_no_accepted_order() {
    let server = Server::own();
    let url = fresh_database(&server, "health").await;
    let app = std::sync::Arc::new(spawn_app_with(|c| c.database_url = url.clone()).await);
    let (status, ready) = health(&app, "ready").await;
    assert_eq!(status, 200, "{ready:#}");
    for check in ["store", "worker", "dispatcher"] {
        assert_eq!(ready["checks"][check]["status"], "pass", "{ready:#}");
    }
    // A Buyer keeps ordering while the database goes away and comes back (until told to stop,
    // 20,000 orders at most).
    let back = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ordering = tokio::spawn({
        let (app, back) = (app.clone(), back.clone());
        async move {
            let (mut accepted, mut refused) = (Vec::new(), 0);
            for n in 0..20_000 {
                if back.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let mut order = order_of(&example(EVPL), None);
                order["externalId"] = serde_json::json!(format!("order-{n}"));
                let answer = app.call("POST", &format!("{ORDERS}/productOrder"), Some(&order)).await;
                match answer.status {
                    201 => accepted.push(answer.body["id"].as_str().unwrap().to_owned()),
                    503 => refused += 1,
                    other => panic!("{other} {:#}", answer.body),
                }
            }
            (accepted, refused)
        }
    });
    server.control("pause").await;
    let (status, ready) = health(&app, "ready").await;
    assert_eq!((status, &ready["checks"]["store"]["status"]), (503, &serde_json::json!("fail")), "{ready:#}");
    assert_eq!(health(&app, "live").await.0, 200, "alive all along");
    server.control("resume").await;
    let (status, ready) = health(&app, "ready").await;
    assert_eq!(status, 200, "{ready:#}");
    // Orders are taken again once the database is back.
    let after = app.call("POST", &format!("{ORDERS}/productOrder"), Some(&order_of(&example(EVPL), None))).await;
    assert_eq!(after.status, 201, "{:#}", after.body);
    back.store(true, std::sync::atomic::Ordering::SeqCst);

    let (mut accepted, refused) = ordering.await.unwrap();
    assert!(refused > 0, "some orders came while the database was away, and were refused with 503");
    accepted.push(after.body["id"].as_str().unwrap().to_owned());
    for id in &accepted {
        assert_eq!(app.wait_until_final(ORDERS, id).await["state"], "completed", "order {id}");
    }
    std::sync::Arc::into_inner(app).unwrap().seller.stop().await;
}

#[tokio::test]
async fn a_node_killed_while_it_delivers_leaves_its_deliveries_to_another_node_within_ten_seconds() {
    let server = Server::get();
    let url = fresh_database(&server, "takeover").await;
    let settings =
        [("LSO_DATABASE_URL", url.as_str()), ("LSO_FULFILMENT__BY", "inventory"), ("LSO_FULFILMENT__TIME_SCALE", "0")];
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (first, address) = crate::crash::serve_with(first_dir.path(), &settings);
    let buyer = crate::crash::token(first_dir.path(), &["--buyer", "ACME"]);
    let client = reqwest::Client::new();
    let receiver = Receiver::default();
    let listener = receiver.start().await;
    let hub = serde_json::json!({"callback": format!("http://{listener}")});
    let post = async |path: &str, body: &serde_json::Value| {
        crate::crash::call(&client, &buyer, reqwest::Method::POST, format!("http://{address}{path}"), Some(body)).await
    };
    assert_eq!(post(&format!("{ORDERS}/hub"), &hub).await.0, 201);

    // The listener keeps every delivery waiting: the first node holds them, in flight.
    let gate = receiver.gate.clone();
    let closed = gate.write().await;
    for _ in 0..5 {
        let (status, body) = post(&format!("{ORDERS}/productOrder"), &order_of(&example(EVPL), None)).await;
        assert_eq!(status, 201, "{body:#}");
    }
    let in_flight = async || (receiver.reached.load(std::sync::atomic::Ordering::SeqCst) >= 5).then_some(());
    let held = lso_jobs::until_committed(&receiver.arrived, std::time::Duration::from_secs(60), in_flight).await;
    assert!(held.is_some(), "the first node attempts a delivery of each order");
    drop(first); // SIGKILL, its claims held
    let killed = std::time::Instant::now();
    drop(closed);

    // Another node on the same database, never told of the first one's end.
    let (_second, address) = crate::crash::serve_with(second_dir.path(), &settings);
    let admin = crate::crash::token(second_dir.path(), &["--admin"]);
    let url = format!("http://{address}/lso/admin/v1/deliveries?limit=1000");
    let look = async || Some(crate::crash::call(&client, &admin, reqwest::Method::GET, url.clone(), None).await.1);
    let delivered =
        async || look().await.filter(|outbox| outbox["pending"] == 0 && outbox["delivered"].as_u64() > Some(0));
    let outbox = lso_jobs::until_committed(&receiver.arrived, std::time::Duration::from_secs(60), delivered).await;
    let took = killed.elapsed();
    let outbox = outbox.expect("the second node delivers what the first one held");
    assert_eq!(outbox["dead"], 0, "{outbox:#}");
    println!("delivered by the second node {took:?} after the first was killed");
    assert!(took < std::time::Duration::from_secs(10), "the deliveries waited {took:?} after the kill");
    let received: std::collections::HashSet<String> =
        receiver.events.lock().unwrap().iter().map(|(_, e)| e["eventId"].as_str().unwrap().to_owned()).collect();
    for delivery in outbox["deliveries"].as_array().unwrap() {
        assert!(received.contains(delivery["eventId"].as_str().unwrap()), "{delivery:#}");
    }
}

/// A way to `target` that keeps each request waiting while `gate` is held for writing, and
/// counts the requests that reached it in `reached`.
async fn gated_relay(
    target: String,
    gate: std::sync::Arc<tokio::sync::RwLock<()>>,
    reached: std::sync::Arc<tokio::sync::watch::Sender<usize>>,
) -> String {
    let http = reqwest::Client::new();
    let relay = move |request: axum::extract::Request| {
        let (http, target, gate, reached) = (http.clone(), target.clone(), gate.clone(), reached.clone());
        async move {
            reached.send_modify(|n| *n += 1);
            let _open = gate.read().await;
            let (_, _, answer) = pass_on(&http, &target, request).await;
            let status = axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let kind = answer.headers().get(reqwest::header::CONTENT_TYPE).cloned();
            let kind = kind.unwrap_or(reqwest::header::HeaderValue::from_static("application/json"));
            (status, [(axum::http::header::CONTENT_TYPE, kind)], answer.bytes().await.unwrap())
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(relay)).await });
    format!("http://{at}")
}

#[tokio::test]
async fn a_node_killed_while_it_runs_a_job_leaves_the_job_to_another_node_which_finishes_it_within_ten_seconds() {
    // The nodes' BUS sends its service orders over Legato to a SOF in another lso, through a
    // relay that can keep them waiting: a job step of the first node is held mid-way.
    let sof_side = spawn_app().await;
    let gate = std::sync::Arc::new(tokio::sync::RwLock::new(()));
    let (reached, mut seen) = tokio::sync::watch::channel(0usize);
    let relay = gated_relay(format!("http://{}", sof_side.seller.addr), gate.clone(), reached.into()).await;
    let server = Server::get();
    let url = fresh_database(&server, "job_takeover").await;
    let settings = [
        ("LSO_DATABASE_URL", url.as_str()),
        ("LSO_FULFILMENT__BY", "network"),
        ("LSO_FULFILMENT__LEGATO_URL", relay.as_str()),
        ("LSO_FULFILMENT__LEGATO_TOKEN", sof_side.admin.as_str()),
    ];
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Started off the test's thread, which serves the relay and the SOF a starting node calls.
    let start = async |dir: &std::path::Path| {
        let (dir, settings) = (dir.to_owned(), settings.map(|(k, v)| (k, v.to_owned())));
        tokio::task::spawn_blocking(move || {
            let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
            crate::crash::serve_with(&dir, &settings)
        })
        .await
        .unwrap()
    };
    let (first, address) = start(first_dir.path()).await;
    let buyer = crate::crash::token(first_dir.path(), &["--buyer", "ACME"]);
    let client = reqwest::Client::new();

    let closed = gate.write().await;
    let order = crate::network::evpl_order(&["site-new-york", "site-boston"], 100, 20);
    let url = format!("http://{address}{ORDERS}/productOrder");
    let (status, placed) = crate::crash::call(&client, &buyer, reqwest::Method::POST, url, Some(&order)).await;
    assert_eq!(status, 201, "{placed:#}");
    let id = placed["id"].as_str().unwrap().to_owned();
    // (The borrow `wait_for` gives is let go at once: the relay counts under it.)
    let sent =
        tokio::time::timeout(std::time::Duration::from_secs(60), async { seen.wait_for(|n| *n >= 1).await.is_ok() });
    assert_eq!(sent.await, Ok(true), "the first node's job sends a service order");
    drop(first); // SIGKILL mid-step, the job claimed
    let killed = std::time::Instant::now();
    drop(closed);

    let (_second, address) = start(second_dir.path()).await;
    let buyer = crate::crash::token(second_dir.path(), &["--buyer", "ACME"]);
    let path = format!("http://{address}{ORDERS}/productOrder/{id}");
    let look = async || {
        let (_, order) = crate::crash::call(&client, &buyer, reqwest::Method::GET, path.clone(), None).await;
        Some(order).filter(|o| o["state"] == "completed")
    };
    let wake = sof_side.seller.bus.wake();
    let done = lso_jobs::until_committed(&wake, std::time::Duration::from_secs(60), look).await;
    let took = killed.elapsed();
    let done = done.expect("the second node finishes the order");
    println!("the order completed {took:?} after the node running it was killed");
    assert!(took < std::time::Duration::from_secs(10), "the job waited {took:?} after the kill");
    let states: Vec<&str> =
        done["stateChange"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["acknowledged", "inProgress", "completed"], "each step once, whichever node ran it");
    let evpl = done["productOrderItem"][2]["product"]["id"].as_str().unwrap();
    let services = sof_side
        .call_as(&sof_side.admin, "GET", &format!("/mefApi/legato/serviceInventory/v5/service?externalId={evpl}"), None)
        .await;
    assert_eq!(services.body.as_array().unwrap().len(), 1, "one service for the EVPL, sent twice: {:#}", services.body);
}
