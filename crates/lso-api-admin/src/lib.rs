//! The operators' API (`/lso/admin/v1`, admin tokens only): notification deliveries and dead
//! letters, products set up by agreement, the services realising a product, the product
//! catalog and the network.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lso_bus::Bus;
use lso_http::{ApiError, Authenticator, Caller, Internal, MefBody, api_error, json_response};
use lso_model::{Irp, Tenant};
use serde_json::{Value, json};
use std::sync::Arc;

/// The base path of the operators' API.
pub const ADMIN_BASE: &str = "/lso/admin/v1";

#[derive(Clone)]
struct AdminState {
    bus: Arc<Bus>,
    auth: Arc<Authenticator>,
    sellers: Arc<Vec<String>>,
    icm: Arc<lso_icm::Icm>,
    legato: Arc<dyn lso_legato::Legato>,
    catalog_dir: std::path::PathBuf,
    outbox: lso_notify::Outbox,
}

/// The state and the Buyer (and Seller) an operator's request names in `buyerId` (and
/// `sellerId`) at reference point `irp`.
fn acting_for_buyer(irp: &str, caller: Caller<AdminState>) -> Result<(AdminState, Tenant), ApiError> {
    let irp: Irp = irp.parse().map_err(|_| ApiError::NotFound("no such reference point".into()))?;
    let Caller { state, principal, mut query, .. } = caller;
    let buyer = query.single("buyerId")?.ok_or(ApiError::BadRequest {
        code: lso_http::BadRequestCode::MissingQueryParameter,
        reason: "`buyerId` names the Buyer to act for".into(),
    })?;
    let seller = query.single("sellerId")?;
    query.finish()?;
    let party = lso_http::resolve_party(&principal, irp, &state.sellers, Some(buyer), seller)?;
    let tenant = party.tenant.ok_or(ApiError::Internal)?;
    Ok((state, tenant))
}

/// Only the Seller's operators (admin tokens) call it.
impl Internal for AdminState {
    const REFUSAL: &str = "the operators' API needs an admin token";

    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }
}

/// What the operators' API serves.
pub struct AdminParts {
    /// The business applications.
    pub bus: Arc<Bus>,
    /// Checks bearer tokens.
    pub auth: Arc<Authenticator>,
    /// The Sellers this server represents.
    pub sellers: Arc<Vec<String>>,
    /// Infrastructure control (the network and what is in use).
    pub icm: Arc<lso_icm::Icm>,
    /// The SOF the BUS sends its service orders to.
    pub legato: Arc<dyn lso_legato::Legato>,
    /// Where `lso catalog import` keeps the imported specification trees.
    pub catalog_dir: std::path::PathBuf,
    /// The notification outbox.
    pub outbox: lso_notify::Outbox,
}

/// The routes of the operators' API.
pub fn router(parts: AdminParts) -> Router {
    let AdminParts { bus, auth, sellers, icm, legato, catalog_dir, outbox } = parts;
    let routes = Router::new()
        .route("/deliveries", get(list_deliveries))
        .route("/deliveries/{id}/redeliver", post(redeliver))
        .route("/{irp}/product", post(register_product))
        .route("/{irp}/charge", post(raise_charge))
        .route("/{irp}/troubleTicket/{id}/{status}", post(move_ticket))
        .route("/{irp}/incident/{id}/note", post(note_incident))
        .route("/{irp}/customerBill/{id}/payment", post(record_payment))
        .route("/{irp}/appointment/{id}/{action}", post(seller_appointment))
        .route("/billing/run", post(billing_run))
        .route("/{irp}/product/{id}/service", get(product_services))
        .route("/catalog", get(catalog))
        .route("/catalog/reload", post(reload_catalog))
        .route("/catalog/offering/{id}/lifecycle", post(change_offering_lifecycle))
        .route("/topology", get(topology))
        .route("/revocation", post(revoke))
        .route("/audit", get(audit_trail))
        .route("/clients", get(list_clients).post(register_client))
        .route("/{point}/webhookSecret", get(webhook_secret))
        .route("/{point}/webhookSecret/rotate", post(rotate_webhook_secret))
        .with_state(AdminState { bus, auth, sellers, icm, legato, catalog_dir, outbox });
    Router::new().nest(ADMIN_BASE, routes)
}

/// The audit trail in the order it was written, paged (`offset`, `limit`), of one `subject` if
/// given.
async fn audit_trail(caller: Caller<AdminState>) -> Result<Response, ApiError> {
    let Caller { state, mut query, .. } = caller;
    let subject = query.single("subject")?;
    let paging = lso_http::Paging::from_query(&mut query)?;
    query.finish()?;
    let (entries, total) = state.bus.audit(subject.as_deref(), paging.offset, paging.limit).await.map_err(api_error)?;
    Ok(lso_http::list_response(&entries, total, paging))
}

/// Refuses an administrator's action to anyone else (403).
fn administrator(principal: &lso_http::Principal) -> Result<(), ApiError> {
    if principal.role == lso_http::Role::Administrator {
        Ok(())
    } else {
        Err(ApiError::Forbidden {
            code: lso_http::ForbiddenCode::AccessDenied,
            reason: "only the Seller's administrators manage credentials and secrets".into(),
        })
    }
}

/// Registers an OAuth 2.0 client (`name`, `role`, `buyers`, `sellers`, `scopes`); the answer
/// holds its `clientSecret`, shown this once.
async fn register_client(caller: Caller<AdminState>, body: MefBody<Value>) -> Result<Response, ApiError> {
    administrator(&caller.principal)?;
    let by = caller.principal.subject.clone();
    let (state, _) = caller.plain()?;
    let strings = |name: &str| -> Vec<String> {
        body.raw[name].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
    };
    let client = lso_bus::identity::NewClient {
        name: body.raw["name"].as_str().unwrap_or_default().to_owned(),
        role: body.raw["role"].as_str().unwrap_or("buyer").to_owned(),
        buyers: strings("buyers"),
        sellers: strings("sellers"),
        scopes: strings("scopes"),
    };
    let (registered, _) = state.bus.register_client(client, &by).await.map_err(api_error)?;
    tracing::info!(client = %registered["clientId"], %by, "an OAuth 2.0 client was registered");
    Ok(json_response(StatusCode::CREATED, &registered))
}

/// The clients registered (never their secrets).
async fn list_clients(caller: Caller<AdminState>) -> Result<Response, ApiError> {
    administrator(&caller.principal)?;
    let (state, _) = caller.plain()?;
    Ok(lso_http::ok(&state.bus.clients().await.map_err(api_error)?))
}

/// Revokes a token (`{"tokenId": jti}`) or every token of a client (`{"clientId": id}`), at
/// once on this node and within seconds on the others.
async fn revoke(caller: Caller<AdminState>, body: MefBody<Value>) -> Result<Response, ApiError> {
    administrator(&caller.principal)?;
    let by = caller.principal.subject.clone();
    let (state, _) = caller.plain()?;
    let what = match (body.raw["tokenId"].as_str(), body.raw["clientId"].as_str()) {
        (Some(id), None) if !id.is_empty() => lso_bus::identity::Revoked::Token(id.to_owned()),
        (None, Some(id)) if !id.is_empty() => lso_bus::identity::Revoked::Client(id.to_owned()),
        _ => {
            return Err(ApiError::unprocessable(lso_model::Violation::invalid(
                "",
                "name either `tokenId` (a token's jti) or `clientId`",
            )));
        }
    };
    let record = state.bus.revoke(&what, &by).await.map_err(api_error)?;
    match &what {
        lso_bus::identity::Revoked::Token(id) => state.auth.revoke_token(id),
        lso_bus::identity::Revoked::Client(id) => state.auth.revoke_client(id),
    }
    tracing::info!(?what, %by, "credentials revoked");
    Ok(json_response(StatusCode::CREATED, &record))
}

/// The tenant whose notifications a webhook secret signs: a Buyer (`buyerId`, and `sellerId`
/// when the server has several Sellers) at `sonata`, `cantata`, `allegro` or `interlude`, or the
/// Seller's own applications at `legato`.
fn signing_tenant(point: &str, caller: Caller<AdminState>) -> Result<(AdminState, String), ApiError> {
    match point {
        "legato" => {
            let (state, _) = caller.plain()?;
            Ok((state, lso_legato::OPERATORS.to_owned()))
        }
        "allegro" | "interlude" => {
            let (state, tenant) = acting_for_buyer("sonata", caller)?;
            Ok((state, tenant.key_at(point)))
        }
        irp => acting_for_buyer(irp, caller).map(|(state, tenant)| (state, tenant.key())),
    }
}

fn secret_answer(secrets: &lso_notify::webhooks::SigningSecrets) -> Response {
    let until =
        secrets.previous.as_ref().map(|(_, until)| lso_model::DateTime::from_millis(*until).as_str().to_owned());
    json_response(StatusCode::OK, &json!({"secret": secrets.current, "previousSignsUntil": until}))
}

/// The secret a tenant's notifications are signed with (made on first use).
async fn webhook_secret(Path(point): Path<String>, caller: Caller<AdminState>) -> Result<Response, ApiError> {
    administrator(&caller.principal)?;
    let (state, tenant) = signing_tenant(&point, caller)?;
    let secrets = lso_notify::webhooks::WebhookSecrets::new(state.bus.store().clone());
    Ok(secret_answer(&secrets.of(&tenant).await.map_err(|e| api_error(e.into()))?))
}

/// A new secret for a tenant; the old one also signs for `overlapHours` (24 unless given).
async fn rotate_webhook_secret(
    Path(point): Path<String>,
    mut caller: Caller<AdminState>,
) -> Result<Response, ApiError> {
    administrator(&caller.principal)?;
    let hours = match caller.query.single("overlapHours")? {
        None => 24,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|h| (0..=720).contains(h))
            .ok_or_else(|| ApiError::invalid_query("`overlapHours` is a whole number of hours from 0 to 720"))?,
    };
    let (state, tenant) = signing_tenant(&point, caller)?;
    let secrets = lso_notify::webhooks::WebhookSecrets::new(state.bus.store().clone());
    let now = state.bus.clock().now_millis();
    let rotated = secrets.rotate(&tenant, now, hours * 3_600_000).await.map_err(|e| api_error(e.into()))?;
    tracing::info!(%point, "a webhook secret was rotated");
    Ok(secret_answer(&rotated))
}

/// Deliveries, newest first; `state` selects `pending`, `delivered`, `dead` or `cancelled`.
async fn list_deliveries(caller: Caller<AdminState>) -> Result<Response, ApiError> {
    let Caller { state, mut query, .. } = caller;
    let wanted = query.single("state")?;
    let limit = query
        .single("limit")?
        .map(|l| l.parse::<u64>())
        .transpose()
        .map_err(|_| ApiError::invalid_query("`limit` must be a number"))?;
    query.finish()?;
    if let Some(s) = &wanted
        && !matches!(s.as_str(), "pending" | "delivered" | "dead" | "cancelled")
    {
        return Err(ApiError::invalid_query("`state` must be pending, delivered, dead or cancelled"));
    }
    let deliveries =
        state.outbox.deliveries(wanted.as_deref(), limit.unwrap_or(100).min(1000)).await.map_err(api_error)?;
    let counts = state.outbox.counts().await.map_err(api_error)?;
    let items: Vec<Value> = deliveries
        .iter()
        .map(|d| {
            json!({"id": d.id, "eventId": d.event_id, "eventType": d.event_type, "url": d.url, "state": d.state,
                   "attempts": d.attempts, "lastStatus": d.last_status, "lastError": d.last_error})
        })
        .collect();
    let body =
        json!({"pending": counts.pending, "delivered": counts.delivered, "dead": counts.dead, "deliveries": items});
    Ok(lso_http::ok(&body))
}

/// Puts a dead letter back in the queue.
async fn redeliver(Caller { state, .. }: Caller<AdminState>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    state.outbox.redeliver(id, state.bus.clock().now_millis()).await.map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Registers a product set up by agreement (e.g. an ENNI) in a Buyer's inventory.
async fn register_product(
    caller: Caller<AdminState>,
    Path(irp): Path<String>,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let (state, tenant) = acting_for_buyer(&irp, caller)?;
    let configuration = body.raw.get("productConfiguration").cloned().unwrap_or(Value::Null);
    let product = state.bus.register_product(&tenant, configuration).await.map_err(api_error)?;
    Ok(json_response(StatusCode::CREATED, &product))
}

/// Sells from the data directory's catalog as it is now (the built-in specifications and those
/// `lso catalog import` saved), announcing the offerings it adds to the Buyers' catalog hubs.
async fn reload_catalog(Caller { state, .. }: Caller<AdminState>) -> Result<Response, ApiError> {
    let (catalog, failed) = lso_spec::import::built_in_and_saved(&state.catalog_dir).map_err(|err| {
        tracing::error!(error = %err, "the catalog could not be loaded");
        ApiError::Unavailable
    })?;
    for (id, reason) in &failed {
        tracing::warn!(%id, %reason, "an imported specification does not compile");
    }
    let added = state.bus.replace_catalog(catalog).await.map_err(api_error)?;
    Ok(lso_http::ok(&json!({"addedProductOffering": added})))
}

/// A lifecycle change of a product offering.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LifecycleChange {
    lifecycle_status: String,
    status_reason: String,
}

/// Moves a product offering along its lifecycle (W142 R51); Buyers with a catalog hub hear of it.
async fn change_offering_lifecycle(
    Caller { state, .. }: Caller<AdminState>,
    Path(id): Path<String>,
    body: MefBody<LifecycleChange>,
) -> Result<Response, ApiError> {
    let change = body.typed;
    if !lso_bus::OFFERING_STATUSES.contains(&change.lifecycle_status.as_str()) {
        return Err(ApiError::unprocessable(lso_model::Violation::new(
            lso_model::ViolationCode::InvalidValue,
            "/lifecycleStatus",
            format!("`{}` is not one of {}", change.lifecycle_status, lso_bus::OFFERING_STATUSES.join(", ")),
        )));
    }
    let now = state
        .bus
        .change_offering_status(&id, &change.lifecycle_status, &change.status_reason)
        .await
        .map_err(api_error)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"id": id, "lifecycleStatus": now.status, "statusReason": now.reason, "statusTransition": now.transitions}),
    ))
}

/// The Legato services realising a Buyer's product (their `externalId` is the product id).
async fn product_services(
    caller: Caller<AdminState>,
    Path((irp, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (state, tenant) = acting_for_buyer(&irp, caller)?;
    state.bus.product(Some(&tenant.key()), &id).await.map_err(api_error)?;
    let services = state.legato.services_by_external_id(lso_bus::LEGATO_CLIENT, &id).await.map_err(|err| {
        tracing::error!(error = %err, "the SOF could not list the services of a product");
        ApiError::Unavailable
    })?;
    Ok(lso_http::ok(&services))
}

/// A charge the Seller raises on an order item in progress (MEF 123 UC11a).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RaiseCharge {
    product_order_id: String,
    product_order_item_id: String,
    amount: lso_mef_product::Money,
}

/// Raises a charge on an order item; the Buyer accepts or declines it with `PATCH /charge/{id}`.
async fn raise_charge(
    caller: Caller<AdminState>,
    Path(irp): Path<String>,
    body: MefBody<RaiseCharge>,
) -> Result<Response, ApiError> {
    let (state, tenant) = acting_for_buyer(&irp, caller)?;
    let request = body.typed;
    let charge = state
        .bus
        .raise_item_charge(&tenant, &request.product_order_id, &request.product_order_item_id, request.amount)
        .await
        .map_err(api_error)?;
    Ok(json_response(StatusCode::CREATED, &charge))
}

/// The Seller's word on an open incident: a note, and the new expected closing date if it
/// changed.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IncidentNote {
    note: String,
    expected_closed_date: Option<String>,
}

/// The Seller adds a note to a Buyer's open incident (and its new expected closing date).
async fn note_incident(
    caller: Caller<AdminState>,
    Path((irp, id)): Path<(String, String)>,
    body: MefBody<IncidentNote>,
) -> Result<Response, ApiError> {
    let (state, tenant) = acting_for_buyer(&irp, caller)?;
    let IncidentNote { note, expected_closed_date } = &body.typed;
    let expected =
        expected_closed_date.as_deref().map(lso_model::DateTime::parse).transpose().map_err(|e| {
            ApiError::unprocessable(lso_model::Violation::invalid("/expectedClosedDate", e.to_string()))
        })?;
    let incident = state.bus.seller_note_incident(&tenant, &id, note, expected.as_ref()).await.map_err(api_error)?;
    Ok(lso_http::ok(&incident))
}

/// Why the Seller moves a ticket or changes an appointment.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SellerNote {
    note: String,
}

/// The Seller moves a Buyer's trouble ticket to `inProgress`, `pending` (waiting for the Buyer)
/// or `resolved`, with a note the Buyer reads.
async fn move_ticket(
    caller: Caller<AdminState>,
    Path((irp, id, status)): Path<(String, String, String)>,
    body: MefBody<SellerNote>,
) -> Result<Response, ApiError> {
    let (state, tenant) = acting_for_buyer(&irp, caller)?;
    let to = match status.as_str() {
        "inProgress" => lso_bus::SellerMove::Work,
        "pending" => lso_bus::SellerMove::AwaitBuyer,
        "resolved" => lso_bus::SellerMove::Resolve,
        other => {
            return Err(ApiError::NotFound(format!(
                "a ticket is moved to inProgress, pending or resolved, not `{other}`"
            )));
        }
    };
    let ticket = state.bus.seller_move_ticket(&tenant, &id, to, &body.typed.note).await.map_err(api_error)?;
    Ok(lso_http::ok(&ticket))
}

/// The Seller adds a note to a Buyer's appointment (`note`), cancels it (`cancel`, e.g. when
/// the technician cannot come: the Buyer is asked to book again), or ends a visit under way
/// that could not be done (`failed`: the Buyer's side was not ready; `missed`: the Seller's),
/// the note telling the Buyer why.
async fn seller_appointment(
    caller: Caller<AdminState>,
    Path((irp, id, action)): Path<(String, String, String)>,
    body: MefBody<SellerNote>,
) -> Result<Response, ApiError> {
    let (state, tenant) = acting_for_buyer(&irp, caller)?;
    let note = &body.typed.note;
    let appointment = match action.as_str() {
        "note" => state.bus.seller_note_appointment(&tenant, &id, note).await,
        "cancel" => state.bus.seller_cancel_appointment(&tenant, &id, note).await,
        "failed" => state.bus.seller_end_visit(&tenant, &id, lso_model::workforce::VisitEvent::Fail, note).await,
        "missed" => state.bus.seller_end_visit(&tenant, &id, lso_model::workforce::VisitEvent::Miss, note).await,
        other => {
            return Err(ApiError::NotFound(format!(
                "an appointment is given a note, cancelled, failed or missed, not `{other}`"
            )));
        }
    };
    Ok(lso_http::ok(&appointment.map_err(api_error)?))
}

/// A billing run's period.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BillingRun {
    /// `YYYY-MM`.
    period: String,
}

/// The first instant of month `YYYY-MM` and of the month after it.
pub fn month_bounds(period: &str) -> Option<(i64, i64)> {
    let first = chrono::NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").ok()?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    let millis = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis());
    Some((millis(first)?, millis(next)?))
}

/// Bills a month for every billing account not yet billed for it.
async fn billing_run(
    Caller { state, .. }: Caller<AdminState>,
    body: MefBody<BillingRun>,
) -> Result<Response, ApiError> {
    let Some((start, end)) = month_bounds(&body.typed.period) else {
        return Err(ApiError::Unprocessable(vec![lso_model::Violation::invalid("/period", "a month, `YYYY-MM`")]));
    };
    let report = state.bus.billing_run(start, end).await.map_err(api_error)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"period": body.typed.period, "products": report.products, "bills": report.bills, "items": report.items, "alreadyBilled": report.already_billed}),
    ))
}

/// A payment received for a bill.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Payment {
    amount: f64,
    payment_method: String,
}

/// Records a payment a Buyer made for a bill, settling it when nothing remains.
async fn record_payment(
    caller: Caller<AdminState>,
    Path((irp, id)): Path<(String, String)>,
    body: MefBody<Payment>,
) -> Result<Response, ApiError> {
    let (state, tenant) = acting_for_buyer(&irp, caller)?;
    let methods = ["check", "wireTransfer", "electronic", "cash", "other"];
    if !methods.contains(&body.typed.payment_method.as_str()) {
        return Err(ApiError::Unprocessable(vec![lso_model::Violation::invalid(
            "/paymentMethod",
            format!("one of {}", methods.join(", ")),
        )]));
    }
    let bill = state
        .bus
        .record_payment(&tenant, &id, body.typed.amount, &body.typed.payment_method)
        .await
        .map_err(api_error)?;
    Ok(lso_http::ok(&bill))
}

/// The product specifications.
async fn catalog(Caller { state, .. }: Caller<AdminState>) -> Result<Response, ApiError> {
    let specs: Vec<Value> = state
        .bus
        .catalog()
        .specs()
        .iter()
        .map(|s| {
            json!({"id": s.id, "name": s.name, "shortName": s.short_name, "orderable": s.orderable,
                        "interfaces": s.interfaces, "origin": s.origin})
        })
        .collect();
    Ok(lso_http::ok(&specs))
}

/// The network infrastructure control knows, with the bandwidth and S-VLANs in use.
async fn topology(Caller { state, .. }: Caller<AdminState>) -> Result<Response, ApiError> {
    let body = state
        .icm
        .read(|network| {
            let topology = network.topology();
            let elements: Vec<Value> = topology
                .elements
                .iter()
                .map(|(name, ports)| {
                    let driver = match topology.management.get(name) {
                        Some(lso_icm::Management::Ovs { .. }) => "openvswitch",
                        Some(lso_icm::Management::Frr { .. }) => "frrouting",
                        None => "simulated",
                    };
                    json!({"name": name, "ports": ports, "driver": driver})
                })
                .collect();
            let links: Vec<Value> = topology
                .links
                .iter()
                .enumerate()
                .map(|(index, link)| {
                    json!({"a": link.a.to_string(), "z": link.z.to_string(), "capacityMbps": link.capacity_mbps,
                           "reservedMbps": network.link_reserved(index), "sVlans": network.link_vlans(index)})
                })
                .collect();
            let interfaces: Vec<Value> = topology
                .interfaces
                .iter()
                .map(|i| {
                    let kind = match i.kind {
                        lso_icm::InterfaceKind::Uni => "uni",
                        lso_icm::InterfaceKind::Enni => "enni",
                        lso_icm::InterfaceKind::IpUni => "ip-uni",
                    };
                    // The VLANs each service claims here; none is the whole port (all-to-one).
                    let vlans: Vec<Value> = network
                        .interface_vlans(&i.name)
                        .iter()
                        .map(|(service, vlans)| json!({"service": service, "vlans": vlans}))
                        .collect();
                    json!({"name": i.name, "port": i.port.to_string(), "kind": kind, "site": i.site,
                           "capacityMbps": i.capacity_mbps, "reservedMbps": network.interface_reserved(&i.name),
                           "vlans": vlans})
                })
                .collect();
            json!({"elements": elements, "links": links, "interfaces": interfaces, "services": network.reservations().len()})
        })
        .await;
    Ok(lso_http::ok(&body))
}
