//! Two `lso` nodes sharing one PostgreSQL database:
//! orders taken by either node are fulfilled once, whichever node's worker claims them, and
//! every notification is delivered.

use crate::support::*;

const ORDERS: &str = "/mefApi/sonata/productOrderingManagement/v10";
const INVENTORY: &str = "/mefApi/sonata/productInventory/v7";

/// A PostgreSQL server for the test: the one `POSTGRES_TEST_SERVER` names, or a throw-away
/// cluster started with `scripts/postgres` (stopped when the guard drops).
struct Server {
    connection: String,
    started: Option<String>,
}

impl Server {
    fn get() -> Server {
        if let Ok(connection) = std::env::var("POSTGRES_TEST_SERVER") {
            return Server { connection, started: None };
        }
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres");
        let output = std::process::Command::new(&script).output().unwrap();
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
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres");
            let _ = std::process::Command::new(script).args(["stop", dir]).status();
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
    // The second node shares the database and the signing key (so tokens work on both).
    let key = std::fs::read(first.dir.path().join("signing.key")).unwrap();
    let second_dir = tempfile::tempdir().unwrap();
    std::fs::write(second_dir.path().join("signing.key"), key).unwrap();
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
