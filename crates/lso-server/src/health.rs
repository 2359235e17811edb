//! `/health/live` and `/health/ready` (the IETF health-check response format,
//! `application/health+json`): live while the process answers; ready when the store answers
//! with every migration applied and the background runners are running. Both are open to
//! anyone, as probes are, and say nothing of a failure's cause (that is logged).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lso_store::Store;
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::task::AbortHandle;

/// How long the store has to answer a readiness check.
const STORE_DEADLINE: Duration = Duration::from_secs(2);

/// What readiness looks at.
pub struct Health {
    store: Store,
    runners: OnceLock<Vec<(&'static str, AbortHandle)>>,
}

impl Health {
    /// Readiness of `store`; the runners are named once started.
    pub fn new(store: Store) -> Arc<Self> {
        Arc::new(Health { store, runners: OnceLock::new() })
    }

    /// The background runners readiness requires to be running.
    pub fn running(&self, runners: Vec<(&'static str, AbortHandle)>) {
        let _ = self.runners.set(runners);
    }

    async fn store_check(&self) -> Value {
        match tokio::time::timeout(STORE_DEADLINE, self.store.pending_migrations()).await {
            Ok(Ok(0)) => json!({"status": "pass"}),
            Ok(Ok(pending)) => json!({"status": "fail", "output": format!("{pending} migrations are not applied")}),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "not ready: the database does not answer");
                json!({"status": "fail", "output": "the database does not answer"})
            }
            Err(_) => {
                tracing::warn!("not ready: the database did not answer within 2 s");
                json!({"status": "fail", "output": "the database did not answer in time"})
            }
        }
    }
}

fn health_json(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/health+json")], body.to_string()).into_response()
}

async fn live() -> Response {
    health_json(StatusCode::OK, json!({"status": "pass"}))
}

async fn ready(State(health): State<Arc<Health>>) -> Response {
    let mut checks = serde_json::Map::new();
    checks.insert("store".into(), health.store_check().await);
    match health.runners.get() {
        None => {
            checks.insert("runners".into(), json!({"status": "fail", "output": "starting"}));
        }
        Some(runners) => {
            for (name, handle) in runners {
                let check = if handle.is_finished() {
                    json!({"status": "fail", "output": "stopped"})
                } else {
                    json!({"status": "pass"})
                };
                checks.insert((*name).into(), check);
            }
        }
    }
    let pass = checks.values().all(|c| c["status"] == "pass");
    let status = if pass { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    health_json(status, json!({"status": if pass { "pass" } else { "fail" }, "checks": checks}))
}

/// The health routes.
pub fn router(health: Arc<Health>) -> Router {
    Router::new().route("/health/live", get(live)).route("/health/ready", get(ready)).with_state(health)
}
