//! `lso` on PostgreSQL: two nodes sharing one database fulfil orders taken by either once,
//! whichever node's worker claims them, and deliver every notification; a node whose database
//! stops is not ready until it is back, and loses no order it accepted.

use crate::support::*;

const ORDERS: &str = "/mefApi/sonata/productOrderingManagement/v10";
const INVENTORY: &str = "/mefApi/sonata/productInventory/v7";

/// A PostgreSQL server for the test: the one `POSTGRES_TEST_SERVER` names, or a throw-away
/// cluster started with `scripts/postgres` (stopped when the guard drops).
struct Server {
    connection: String,
    started: Option<String>,
}

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres")
}

impl Server {
    fn get() -> Server {
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
async fn fresh_database(server: &Server, name: &str) -> String {
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
