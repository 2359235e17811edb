//! The layer that records every state-changing call (`POST`, `PUT`, `PATCH`, `DELETE`) in the
//! audit trail once it is answered: who (the principal its token named, if any), what
//! (method, path without the query, the resource made or changed), the outcome and when.

use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lso_bus::audit::{AuditEntry, AuditTrail};
use lso_http::Seen;
use lso_model::Clock;
use std::sync::Arc;

/// What the layer needs.
#[derive(Clone)]
pub struct Auditing {
    /// Where entries go.
    pub trail: AuditTrail,
    /// When calls are answered.
    pub clock: Arc<dyn Clock>,
}

/// Records a state-changing call after it is answered.
pub async fn record(State(auditing): State<Auditing>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let seen = Seen::default();
    request.extensions_mut().insert(seen.clone());
    let path = request.extensions().get::<OriginalUri>().map_or(request.uri().path(), |o| o.0.path()).to_owned();
    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return lso_http::ApiError::Internal.into_response();
    };
    /// The id of what a call made, the rest of its body skipped unread.
    #[derive(serde::Deserialize)]
    struct Made {
        id: Option<String>,
    }
    let made = serde_json::from_slice::<Made>(&bytes).ok().and_then(|m| m.id);
    let resource = made.or_else(|| path.rsplit('/').next().filter(|s| !s.is_empty()).map(str::to_owned));
    let principal = seen.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    auditing.trail.record(AuditEntry {
        at: auditing.clock.now_millis(),
        subject: principal.as_ref().map(|p| p.subject.clone()),
        client: principal.as_ref().and_then(|p| p.client.clone()),
        role: principal.as_ref().map(|p| p.role.as_str().to_owned()),
        buyers: principal.map(|p| p.buyers).unwrap_or_default(),
        method: method.to_string(),
        path,
        resource,
        status: parts.status.as_u16(),
        request_id,
    });
    Response::from_parts(parts, Body::from(bytes))
}
