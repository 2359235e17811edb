//! The ceiling: a bare HTTP handler that stores each POSTed JSON body in SQLite (WAL,
//! `synchronous=FULL`), group-committing whatever arrived meanwhile, and answers 201.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use std::sync::mpsc;
use tokio::sync::oneshot;

type Write = (Vec<u8>, oneshot::Sender<()>);

/// Serves `POST /raw` on `listen`, storing bodies in `database`.
pub fn serve(listen: &str, database: &str) -> anyhow::Result<()> {
    let connection = rusqlite::Connection::open(database)?;
    connection.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
         CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, doc TEXT NOT NULL);",
    )?;
    let (writes, queue) = mpsc::channel::<Write>();
    std::thread::spawn(move || write_in_groups(connection, queue));
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let app = Router::new().route("/raw", post(store)).with_state(writes);
        let socket = tokio::net::TcpListener::bind(listen).await?;
        println!("serving {}", socket.local_addr()?);
        axum::serve(socket, app).await?;
        anyhow::Ok(())
    })
}

async fn store(State(writes): State<mpsc::Sender<Write>>, body: Bytes) -> StatusCode {
    let (done, stored) = oneshot::channel();
    if writes.send((body.to_vec(), done)).is_err() || stored.await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    StatusCode::CREATED
}

fn write_in_groups(connection: rusqlite::Connection, queue: mpsc::Receiver<Write>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        group.extend(queue.try_iter().take(1023));
        let stored = (|| -> rusqlite::Result<()> {
            connection.execute_batch("BEGIN IMMEDIATE")?;
            let mut insert = connection.prepare_cached("INSERT INTO orders (doc) VALUES (?1)")?;
            for (body, _) in &group {
                insert.execute([String::from_utf8_lossy(body)])?;
            }
            connection.execute_batch("COMMIT")
        })();
        if stored.is_ok() {
            for (_, done) in group {
                let _ = done.send(());
            }
        }
    }
}
