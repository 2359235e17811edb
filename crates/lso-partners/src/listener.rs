//! The routes partners send their notifications to: order events wake the customer's order a
//! partner order serves, ticket events the follow-up of the customer's ticket, and fault events
//! reach the customer whose product the partner's service serves.

use crate::PartnerFulfilment;
use crate::fulfilment::{FAULTS_OF, LISTENER, PARTNER_ORDER, text};
use lso_model::{Clock, Irp};
use serde_json::{Value, json};
use std::sync::Arc;

/// What a partner's notification routes need.
#[derive(Clone)]
struct Listening {
    bus: Arc<lso_bus::Bus>,
    sof: Arc<lso_sof::Sof>,
    faults: lso_api_allegro::ServiceFaults,
    partners: Arc<PartnerFulfilment>,
}

/// The routes partners send their order notifications to. A notification only wakes the
/// customer's order its partner order serves, which then reads the partner's order itself:
/// it carries no authority, so it needs no credentials.
pub fn listener(bus: Arc<lso_bus::Bus>, sof: Arc<lso_sof::Sof>, partners: Arc<PartnerFulfilment>) -> axum::Router {
    let faults = lso_api_allegro::ServiceFaults::new(sof.clone(), bus.clone());
    axum::Router::new()
        .route(
            &format!(
                "{LISTENER}/{{partner}}{}/listener/{{event}}",
                lso_mef_product::ordering_notification_base(Irp::Sonata)
            ),
            axum::routing::post(heard),
        )
        .route(
            &format!(
                "{LISTENER}/{{partner}}{}/listener/{{event}}",
                lso_mef_product::ticket_notification_base(Irp::Sonata)
            ),
            axum::routing::post(heard_of_ticket),
        )
        .route(
            &format!("{LISTENER}/{{partner}}{}/listener/{{event}}", lso_api_allegro::INTERLUDE_NOTIFICATION_BASE),
            axum::routing::post(heard_of_fault),
        )
        .route_layer(axum::middleware::from_fn_with_state(partners.clone(), verified))
        .with_state(Listening { bus, sof, faults, partners })
}

/// Lets through only notifications signed with one of the partner's secrets, when it has some
/// (Standard Webhooks, docs/webhooks.md); a partner without secrets is heard unverified.
async fn verified(
    axum::extract::State(partners): axum::extract::State<Arc<PartnerFulfilment>>,
    axum::extract::Path((partner, _event)): axum::extract::Path<(String, String)>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let secrets: Vec<&str> = partners
        .partner(&partner)
        .map(|p| p.webhook_secrets.iter().map(|s| s.0.as_str()).collect())
        .unwrap_or_default();
    if secrets.is_empty() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let limit = parts.extensions.get::<lso_http::BodyLimit>().map_or(1 << 20, |l| l.0);
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return lso_http::ApiError::invalid_body("the notification body cannot be read").into_response();
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let checked = lso_notify::webhooks::verify(
        &secrets,
        header(lso_notify::webhooks::WEBHOOK_ID),
        header(lso_notify::webhooks::WEBHOOK_TIMESTAMP),
        header(lso_notify::webhooks::WEBHOOK_SIGNATURE),
        &bytes,
        lso_model::SystemClock.now_seconds(),
    );
    if let Err(why) = checked {
        tracing::warn!(%partner, %why, "a partner's notification was refused");
        return lso_http::ApiError::Unauthorized {
            code: lso_http::UnauthorizedCode::InvalidCredentials,
            reason: format!("{why} for partner `{partner}` (see docs/webhooks.md)"),
        }
        .into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

/// The record of kind `kind` that a partner's notification names: id `{partner}:{event.id}`.
async fn heard_of(
    state: &Listening,
    partner: &str,
    kind: &str,
    body: &lso_http::MefBody<Value>,
) -> Result<Option<Value>, lso_http::ApiError> {
    if state.partners.partner(partner).is_none() {
        return Err(lso_http::ApiError::NotFound(format!("no partner `{partner}`")));
    }
    let key = format!("{partner}:{}", text(&body.raw["event"]["id"]));
    state.partners.record(kind, &key).await.map_err(|_| lso_http::ApiError::Unavailable)
}

/// A partner's order changed: the customer's order it serves is looked at now.
async fn heard(
    axum::extract::State(state): axum::extract::State<Listening>,
    axum::extract::Path((partner, _event)): axum::extract::Path<(String, String)>,
    body: lso_http::MefBody<Value>,
) -> Result<axum::http::StatusCode, lso_http::ApiError> {
    if let Some(ours) = heard_of(&state, &partner, PARTNER_ORDER, &body).await? {
        state.bus.nudge_order(&text(&ours["order"])).await.map_err(|_| lso_http::ApiError::Unavailable)?;
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// A fault was raised or cleared on a partner's service: the customer whose product it serves
/// hears of it on each of this Seller's services realising that product, marked the partner's.
async fn heard_of_fault(
    axum::extract::State(state): axum::extract::State<Listening>,
    axum::extract::Path((partner, _event)): axum::extract::Path<(String, String)>,
    body: lso_http::MefBody<Value>,
) -> Result<axum::http::StatusCode, lso_http::ApiError> {
    let Some(ours) = heard_of(&state, &partner, FAULTS_OF, &body).await? else {
        return Ok(axum::http::StatusCode::NO_CONTENT);
    };
    let product = text(&ours["product"]);
    let mut fault = body.raw["event"]["fault"].clone();
    fault["partner"] = json!(partner);
    let unavailable = |_| lso_http::ApiError::Unavailable;
    let services = state.sof.find_services(lso_bus::LEGATO_CLIENT, &product).await.map_err(unavailable)?;
    for service in services.iter().filter(|s| s["state"] != "terminated") {
        let id = text(&service["id"]);
        state.faults.announce(&id, &product, &fault).await.map_err(unavailable)?;
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// A partner's ticket changed: the ticket of this Seller's it serves is followed up now.
async fn heard_of_ticket(
    axum::extract::State(state): axum::extract::State<Listening>,
    axum::extract::Path((partner, _event)): axum::extract::Path<(String, String)>,
    body: lso_http::MefBody<Value>,
) -> Result<axum::http::StatusCode, lso_http::ApiError> {
    if let Some(ours) = heard_of(&state, &partner, crate::tickets::THEIRS, &body).await? {
        let (ticket, tenant) = (text(&ours["ticket"]), text(&ours["tenant"]));
        let follow_up = state.bus.nudge(crate::tickets::FOLLOW_UP, &ticket, tenant);
        follow_up.await.map_err(|_| lso_http::ApiError::Unavailable)?;
    }
    Ok(axum::http::StatusCode::NO_CONTENT)
}
