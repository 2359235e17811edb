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

/// Serves `POST /raw` on `listen`, inserting bodies into the PostgreSQL database `url` (one
/// committed INSERT per request, a prepared statement on each of 16 pooled connections).
pub fn serve_postgres(listen: &str, url: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let connection = lso_transport::postgres::connection(url, None)?;
        let config: tokio_postgres::Config = connection.url.parse()?;
        let recycling = deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast };
        let manager = deadpool_postgres::Manager::from_config(config, connection.tls, recycling);
        let pool = deadpool_postgres::Pool::builder(manager).max_size(16).build()?;
        pool.get()
            .await?
            .batch_execute("CREATE TABLE IF NOT EXISTS orders (id BIGSERIAL PRIMARY KEY, doc TEXT NOT NULL)")
            .await?;
        let app = Router::new().route("/raw", post(insert)).with_state(pool);
        let socket = tokio::net::TcpListener::bind(listen).await?;
        println!("serving {}", socket.local_addr()?);
        axum::serve(socket, app).await?;
        anyhow::Ok(())
    })
}

async fn insert(State(pool): State<deadpool_postgres::Pool>, body: Bytes) -> StatusCode {
    let stored = async {
        let client = pool.get().await.ok()?;
        let insert = client.prepare_cached("INSERT INTO orders (doc) VALUES ($1)").await.ok()?;
        client.execute(&insert, &[&String::from_utf8_lossy(&body).as_ref()]).await.ok()
    };
    match stored.await {
        Some(_) => StatusCode::CREATED,
        None => StatusCode::SERVICE_UNAVAILABLE,
    }
}
