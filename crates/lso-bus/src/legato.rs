//! Fulfilment through the SOF over Legato: each product order item becomes a service order
//! (MEF 99) whose items the catalog's product → service mapping (`realisedBy`) decides, and
//! the product item ends as its service order ends.
//!
//! - A UNI product becomes a UNI service at the product's `INSTALL_LOCATION`.
//! - An EVC product (EPL, EVPL, EP-LAN, EVP-LAN) becomes an EVC joining the services of the UNI
//!   products it relates to (`CONNECTS_TO_UNI_A`/`_Z`, or `CONNECTS_TO_UNI` in order), with
//!   each endpoint's CE-VLANs and the highest ingress CIR of its endpoints.
//! - An Access E-Line becomes an OVC from its UNI to the ENNI its `ENNI_REFERENCE` product
//!   names (`enniIdentifier`), on the S-VLAN of `enniEp.sVlanId`.
//! - An Internet access product becomes an IPVC (see [`crate::internet`]), at the IP UNI of
//!   the IP UNI product it relates to (`CONNECTS_TO_IPUNI`, with that product's routing) or at a free IP UNI
//!   of its site; the subnet the SOF assigned goes back into the product.
//! - An IP UNI product becomes an IP UNI service at its `INSTALL_LOCATION`.
//!
//! A service realising a product carries the product id as its `externalId`; a service order
//! carries `{productOrderId}/{itemId}` as its own, so asking again after a crash finds it.

use crate::fulfilment::{Fulfilment, FulfilmentRequest, FulfilmentStatus};
use lso_legato::services::{EVC, IPVC, OVC};
use lso_legato::{Legato, ServiceOrderMove};
use lso_model::EntityError;
use lso_model::order::ItemAction;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tracing::Instrument;

/// How often the BUS looks at a service order in progress when its SOF does not say when it
/// moves (a SOF in another process), in milliseconds.
const POLL_MILLIS: i64 = 250;
/// How often it looks all the same when the SOF does say (`Bus::follow_service_orders`): only
/// in case a word was lost.
const BACKSTOP_MILLIS: i64 = 5_000;

/// The names of an Access E-Line's relationship to its ENNI: MEF 123's, and W160's.
pub const ENNI_RELATIONSHIPS: [&str; 2] = ["ENNI_REFERENCE", "CONNECTS_TO_ENNI"];

/// The Legato client name of this BUS at the SOF.
pub use lso_legato::OPERATORS as LEGATO_CLIENT;

/// Fulfilment by service orders to a SOF.
pub struct LegatoFulfilment {
    legato: Arc<dyn Legato>,
    catalog: crate::CatalogHandle,
    store: lso_store::Store,
    /// How long until it looks again at a service order in progress.
    check_every: i64,
}

impl LegatoFulfilment {
    /// Fulfilment through `legato`, decomposing with `catalog`; `store` holds the products
    /// (an ENNI's configuration is read from it).
    pub fn new(legato: Arc<dyn Legato>, catalog: impl Into<crate::CatalogHandle>, store: lso_store::Store) -> Self {
        let check_every = if legato.service_order_moves().is_some() { BACKSTOP_MILLIS } else { POLL_MILLIS };
        LegatoFulfilment { legato, catalog: catalog.into(), store, check_every }
    }

    async fn status(&self, request: &FulfilmentRequest<'_>) -> Result<FulfilmentStatus, String> {
        let Some(service_type) = self.catalog.current().get(request.specification).and_then(|s| s.realised_by.clone())
        else {
            // No service realises it (an imported specification): the inventory is all there is.
            return Ok(FulfilmentStatus::Completed);
        };
        let external_id = format!("{}/{}", request.order_id, request.item_id);
        let existing =
            self.legato.service_order_by_external_id(LEGATO_CLIENT, &external_id).await.map_err(sof_reason)?;
        let order = match existing {
            Some(order) => order,
            None => {
                let Some(item) = self.service_order_item(request, &service_type).await? else {
                    return Ok(FulfilmentStatus::Completed);
                };
                let order = json!({
                    "externalId": external_id,
                    "requestedStartDate": lso_model::DateTime::from_millis(request.now).as_str(),
                    "requestedCompletionDate": lso_model::DateTime::from_millis(request.now + 86_400_000).as_str(),
                    "note": [{"author": "bus", "date": lso_model::DateTime::from_millis(request.now).as_str(), "source": "bus",
                              "text": format!("product order {} item {}", request.order_id, request.item_id)}],
                    "serviceOrderItem": [item],
                });
                self.legato.create_service_order(LEGATO_CLIENT, order).await.map_err(sof_reason)?
            }
        };
        Ok(match order["state"].as_str() {
            Some("completed") => FulfilmentStatus::Completed,
            Some("failed" | "partial" | "rejected") => {
                let errors = order["serviceOrderItem"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|i| i["terminationError"].as_array().cloned().unwrap_or_default());
                let reasons: Vec<String> = errors.filter_map(|e| e["value"].as_str().map(str::to_owned)).collect();
                FulfilmentStatus::Failed { reason: reasons.join("; ") }
            }
            _ => FulfilmentStatus::InProgress { check_at: request.now + self.check_every },
        })
    }

    /// The service order item for `request`, or `None` when there is nothing to do (deleting
    /// a product no service realises).
    async fn service_order_item(
        &self,
        request: &FulfilmentRequest<'_>,
        service_type: &str,
    ) -> Result<Option<Value>, String> {
        match request.action {
            ItemAction::Delete => Ok(self
                .service_of(request.product_id)
                .await?
                .map(|id| json!({"id": "1", "action": "delete", "service": {"id": id}}))),
            ItemAction::Modify => {
                let id = self
                    .service_of(request.product_id)
                    .await?
                    .ok_or_else(|| format!("no service realises product {}", request.product_id))?;
                let configuration = self.configuration(request, service_type).await?;
                Ok(Some(
                    json!({"id": "1", "action": "modify", "service": {"id": id, "serviceConfiguration": configuration}}),
                ))
            }
            ItemAction::Add => {
                let configuration = self.configuration(request, service_type).await?;
                let places: Vec<Value> = request
                    .places
                    .iter()
                    .map(|(role, id)| json!({"@type": "GeographicSiteRef", "id": id, "role": role}))
                    .collect();
                let mut service =
                    json!({"externalId": request.product_id, "state": "active", "serviceConfiguration": configuration});
                if !places.is_empty() {
                    service["place"] = json!(places);
                }
                Ok(Some(json!({"id": "1", "action": "add", "service": service})))
            }
        }
    }

    /// The service configuration realising the product's configuration.
    async fn configuration(&self, request: &FulfilmentRequest<'_>, service_type: &str) -> Result<Value, String> {
        let product = request.configuration.cloned().unwrap_or(Value::Null);
        match service_type {
            EVC if request.related.iter().any(|(t, _)| crate::validate::is_endpoint_of_evc(t)) => {
                self.evc_of_endpoint_products(request).await
            }
            EVC => {
                let endpoints = evc_endpoints(&product);
                let unis = unis_in_order(request.related, endpoints.len());
                let mut end_points = Vec::new();
                for ((endpoint, _), uni) in endpoints.iter().zip(&unis) {
                    let service =
                        self.service_of(uni).await?.ok_or_else(|| format!("UNI product {uni} is not realised yet"))?;
                    end_points.push(json!({"service": service, "vlans": ce_vlans(endpoint)}));
                }
                if end_points.len() < endpoints.len().max(2) {
                    return Err(format!(
                        "the EVC needs a UNI for each of its {} endpoints (CONNECTS_TO_UNI relationships)",
                        endpoints.len().max(2)
                    ));
                }
                let cir = endpoints.iter().map(|(e, _)| cir_mbps(e)).max().unwrap_or(0);
                Ok(json!({"@type": EVC, "endPoints": end_points, "cirMbps": cir}))
            }
            OVC => {
                let uni = unis_in_order(request.related, 1)
                    .into_iter()
                    .next()
                    .ok_or("the Access E-Line relates to no UNI")?;
                let uni_service =
                    self.service_of(&uni).await?.ok_or_else(|| format!("UNI product {uni} is not realised yet"))?;
                let enni = request
                    .related
                    .iter()
                    .find(|(t, _)| ENNI_RELATIONSHIPS.contains(&t.as_str()))
                    .map(|(_, id)| id)
                    .ok_or("no ENNI_REFERENCE (or CONNECTS_TO_ENNI) relationship")?;
                let interface = self.enni_interface(request, enni).await?;
                let s_vlan = product["enniEp"]["sVlanId"]
                    .as_u64()
                    .ok_or("`enniEp.sVlanId` is needed to hand the service over at the ENNI")?;
                let cir = cir_mbps(&product["uniEp"]).max(cir_mbps(&product["enniEp"]));
                Ok(json!({"@type": OVC, "cirMbps": cir, "endPoints": [
                    {"service": uni_service, "vlans": vlan_list(&product["uniEp"]["ceVlanIdList"])},
                    {"interface": interface, "vlans": [s_vlan]},
                ]}))
            }
            IPVC => {
                let related = request.related.iter().find(|(t, _)| crate::internet::names_an_ip_uni(t));
                let ip_uni = match related {
                    Some((_, uni)) => {
                        let service = self
                            .service_of(uni)
                            .await?
                            .ok_or_else(|| format!("IP UNI product {uni} is not realised yet"))?;
                        Some((service, self.product_configuration(request, uni).await?))
                    }
                    None => None,
                };
                Ok(crate::internet::ipvc_configuration(&product, ip_uni))
            }
            other => Ok(json!({"@type": other})),
        }
    }

    /// The EVC service configuration of an EVC whose end points are products of their own (MEF
    /// 125's multi-product EVCs): each `*_ENDPOINT_OF_EVC` product with its CE-VLANs and CIR,
    /// at the UNI it connects to, a leaf when `LEAF_ENDPOINT_OF_EVC` (E-Tree).
    async fn evc_of_endpoint_products(&self, request: &FulfilmentRequest<'_>) -> Result<Value, String> {
        let mut end_points = Vec::new();
        let mut cir = 0;
        for (relationship, endpoint) in request.related.iter().filter(|(t, _)| crate::validate::is_endpoint_of_evc(t)) {
            let doc = self.product_doc(request, endpoint).await?;
            let relations = doc["productRelationship"].as_array().cloned().unwrap_or_default();
            let uni = ["CONNECTS_TO_UNI", "UNI_REFERENCE"]
                .iter()
                .find_map(|kind| relations.iter().find(|r| r["relationshipType"] == *kind))
                .and_then(|r| r["id"].as_str())
                .ok_or_else(|| format!("EVC end point {endpoint} connects to no UNI (CONNECTS_TO_UNI)"))?;
            let service =
                self.service_of(uni).await?.ok_or_else(|| format!("UNI product {uni} is not realised yet"))?;
            let configuration = &doc["productConfiguration"];
            cir = cir.max(cir_mbps(configuration));
            let mut end_point = json!({"service": service, "vlans": ce_vlans(configuration)});
            if relationship.starts_with("LEAF") {
                end_point["role"] = json!("LEAF");
            }
            end_points.push(end_point);
        }
        Ok(json!({"@type": EVC, "endPoints": end_points, "cirMbps": cir}))
    }

    /// The running service realising product `product`.
    async fn service_of(&self, product: &str) -> Result<Option<String>, String> {
        let services = self.legato.services_by_external_id(LEGATO_CLIENT, product).await.map_err(sof_reason)?;
        Ok(services.iter().find(|s| s["state"] != "terminated").and_then(|s| s["id"].as_str()).map(str::to_owned))
    }

    /// The network interface of ENNI product `enni` (its `enniIdentifier`).
    async fn enni_interface(&self, request: &FulfilmentRequest<'_>, enni: &str) -> Result<String, String> {
        self.product_configuration(request, enni).await?["enniIdentifier"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("ENNI product {enni} has no `enniIdentifier`"))
    }

    /// The configuration of the Buyer's product `product` in inventory.
    async fn product_configuration(&self, request: &FulfilmentRequest<'_>, product: &str) -> Result<Value, String> {
        Ok(self.product_doc(request, product).await?["productConfiguration"].take())
    }

    /// The Buyer's product `product` in inventory.
    async fn product_doc(&self, request: &FulfilmentRequest<'_>, product: &str) -> Result<Value, String> {
        let record =
            self.store.get("product", Some(&request.tenant.key()), product).await.map_err(|e| e.to_string())?;
        record.and_then(|r| serde_json::from_str(&r.doc).ok()).ok_or_else(|| format!("no product {product}"))
    }
}

fn sof_reason(err: EntityError) -> String {
    match err {
        EntityError::Invalid(violations) => {
            violations.iter().map(|v| format!("{} ({})", v.reason, v.property_path)).collect::<Vec<_>>().join("; ")
        }
        other => format!("service orchestration: {other}"),
    }
}

/// The endpoints of an EVC configuration, each with its A/Z letter if it has one.
pub(crate) fn evc_endpoints(product: &Value) -> Vec<(Value, Option<char>)> {
    if let Some(list) = product["evcEndPoint"].as_array() {
        return list.iter().map(|e| (e.clone(), None)).collect();
    }
    [("evcEndPointA", 'A'), ("evcEndPointZ", 'Z')]
        .iter()
        .map(|(key, letter)| (product[*key].clone(), Some(*letter)))
        .collect()
}

/// The UNI products an EVC configured as `product` joins, each with its endpoint's
/// configuration, from the products it relates to (`related`).
pub fn evc_ends(product: &Value, related: &[(String, String)]) -> Vec<(String, Value)> {
    let endpoints = evc_endpoints(product);
    let unis = unis_in_order(related, endpoints.len());
    unis.into_iter().zip(endpoints.into_iter().map(|(endpoint, _)| endpoint)).collect()
}

/// The UNI products an EVC relates to: `CONNECTS_TO_UNI_A`, `_Z`, then `CONNECTS_TO_UNI` (and
/// `UNI_REFERENCE`) in order, `count` at most.
fn unis_in_order(related: &[(String, String)], count: usize) -> Vec<String> {
    ["CONNECTS_TO_UNI_A", "CONNECTS_TO_UNI_Z", "CONNECTS_TO_UNI", "UNI_REFERENCE"]
        .iter()
        .flat_map(|kind| related.iter().filter(move |(t, _)| t == kind).map(|(_, id)| id.clone()))
        .take(count.max(1))
        .collect()
}

fn vlan_list(value: &Value) -> Vec<u16> {
    value.as_array().into_iter().flatten().filter_map(Value::as_u64).filter_map(|v| u16::try_from(v).ok()).collect()
}

/// The CE-VLANs of an EVC endpoint: its map's list, or `ceVlanIdList`; none for all-to-one.
pub fn ce_vlans(endpoint: &Value) -> Vec<u16> {
    let map = &endpoint["evcEndPointMap"];
    if map["vlanType"] == "LIST" { vlan_list(&map["vlanId"]) } else { vlan_list(&endpoint["ceVlanIdList"]) }
}

/// An ingress bandwidth profile (`ingressBandwidthProfilePerClassOfServiceName`) of one class
/// of service, `standard`, with a committed rate of `cir` Mbit/s: what [`cir_mbps`] reads.
pub fn ingress_profile(cir: u64) -> Value {
    json!([{"classOfServiceName": "standard", "bwpFlow": [{"envelopeName": "default", "envelopeRank": 1,
        "colorMode": "COLOR_BLIND", "couplingFlag": false, "cir": {"irValue": cir, "irUnits": "MBPS"},
        "cbs": {"dataSizeValue": 64, "dataSizeUnits": "KBYTES"}, "eir": {"irValue": 0, "irUnits": "MBPS"},
        "ebs": {"dataSizeValue": 0, "dataSizeUnits": "BYTES"}}]}])
}

/// The highest CIR of an endpoint's ingress bandwidth profiles, in Mbit/s (rounded up); a
/// class's `bwpFlow` is a list, or one flow (as in MEF 125's examples).
pub fn cir_mbps(endpoint: &Value) -> u64 {
    let flows = endpoint["ingressBandwidthProfilePerClassOfServiceName"].as_array().into_iter().flatten().flat_map(
        |c| match &c["bwpFlow"] {
            Value::Array(flows) => flows.clone(),
            flow => vec![flow.clone()],
        },
    );
    flows.filter_map(|flow| crate::internet::rate_mbps(&flow["cir"])).max().unwrap_or(0)
}

impl Fulfilment for LegatoFulfilment {
    fn progress<'a>(
        &'a self,
        request: FulfilmentRequest<'a>,
    ) -> Pin<Box<dyn Future<Output = FulfilmentStatus> + Send + 'a>> {
        Box::pin(
            async move { self.status(&request).await.unwrap_or_else(|reason| FulfilmentStatus::Failed { reason }) },
        )
    }

    fn assigned<'a>(
        &'a self,
        request: FulfilmentRequest<'a>,
    ) -> Pin<Box<dyn Future<Output = Option<Value>> + Send + 'a>> {
        Box::pin(async move {
            let services = self.legato.services_by_external_id(LEGATO_CLIENT, request.product_id).await.ok()?;
            let running = services.iter().find(|s| s["state"] != "terminated")?;
            crate::internet::assigned(running)
        })
    }
}

impl crate::Bus {
    /// Looks at the product order a service order of `legato` serves as soon as the service
    /// order moves, until `stop`: the SOF's word, instead of asking it again and again. A SOF
    /// that cannot tell (in another process) is asked on a timer instead. It listens from the
    /// call on, before the future is first polled.
    pub fn follow_service_orders(
        self: Arc<Self>,
        legato: Arc<dyn Legato>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let moves = legato.service_order_moves();
        async move {
            let Some(mut moves) = moves else { return };
            self.follow(&mut moves, &mut stop).await;
        }
    }

    async fn follow(
        &self,
        moves: &mut tokio::sync::broadcast::Receiver<ServiceOrderMove>,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            let moved = tokio::select! {
                moved = moves.recv() => moved,
                _ = stop.changed() => return,
            };
            let moved = match moved {
                Ok(moved) => moved,
                // What was missed is looked at by the backstop.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            // `{productOrderId}/{itemId}`: the service orders the BUS placed.
            let served = moved.external_id.as_deref().filter(|_| moved.client == LEGATO_CLIENT).and_then(|e| {
                e.split_once('/').filter(|(_, item)| !item.contains('/')).map(|(order, _)| order.to_owned())
            });
            let Some(product_order) = served else { continue };
            // Looked at in the trace of the work on the service order.
            let span = tracing::info_span!("serviceOrderMoved", trace_id = tracing::field::Empty);
            lso_transport::trace::continue_trace(&span, moved.trace.as_deref());
            if let Err(err) = self.nudge_order(&product_order).instrument(span).await {
                tracing::warn!(error = %err, order = %product_order, "could not look at an order its service order moved");
            }
        }
    }
}
