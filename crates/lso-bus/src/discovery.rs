//! Product Offering Availability and Pricing Discovery (MEF W160): the configurations of an
//! offering the network can deliver where the Buyer wants it, each under an identifier valid
//! for an hour (R21, R22), and their prices for 12, 24 and 36 months from the specification's
//! price rule (R30–R41).

use crate::pricing::{committed_rate, installation_interval, item_term, offered_terms, prices};
use crate::{Bus, BusError};
use lso_model::{Tenant, Violation};
use lso_spec::ProductSpec;
use lso_store::{Record, WriteOp};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The store kind of offered configurations.
const CONFIGURATION: &str = "offeringConfiguration";
/// How long an offered configuration may be priced (R22: at least 15 minutes).
const VALID_MILLIS: i64 = 3_600_000;
/// The committed rates an EVC is offered at, in Mbit/s.
pub(crate) const RATES: [u64; 5] = [10, 50, 100, 500, 1000];
/// `configuration` with every EVC endpoint's committed rate set to `mbps`.
pub(crate) fn at_rate(configuration: &Value, mbps: u64) -> Value {
    let mut configuration = configuration.clone();
    let set = |endpoint: &mut Value| {
        for profile in endpoint["ingressBandwidthProfilePerClassOfServiceName"].as_array_mut().into_iter().flatten() {
            for flow in profile["bwpFlow"].as_array_mut().into_iter().flatten() {
                flow["cir"] = json!({"irValue": mbps, "irUnits": "MBPS"});
            }
        }
    };
    for key in ["evcEndPointA", "evcEndPointZ"] {
        if let Some(endpoint) = configuration.get_mut(key) {
            set(endpoint);
        }
    }
    for endpoint in configuration["evcEndPoint"].as_array_mut().into_iter().flatten() {
        set(endpoint);
    }
    configuration
}

/// Whether a specification is realised by an EVC, whose rate the Buyer chooses.
fn is_evc(spec: &ProductSpec) -> bool {
    spec.realised_by.as_deref().is_some_and(|s| s.contains("carrier-ethernet-evc"))
}

/// The ids a request's `key` array names, to compare the delivery contexts of an availability
/// and a pricing request (W160 R25, R26).
fn ids(request: &Value, key: &str) -> BTreeSet<String> {
    request[key].as_array().into_iter().flatten().filter_map(|p| p["id"].as_str().map(str::to_owned)).collect()
}

/// The checks on `action` and `productRef` common to both requests (W160 R11, R14, R27, R28).
fn check_action(request: &Value, found: &mut Vec<Violation>) {
    match request["action"].as_str() {
        Some("add") if request.get("productRef").is_some() => {
            found.push(Violation::unexpected("/productRef", "an `add` names no product (W160 R11, R27)"))
        }
        Some("modify") if request["productRef"]["id"].as_str().is_none() => {
            found.push(Violation::missing("/productRef", "a `modify` names the product (W160 R14, R28)"))
        }
        Some("modify") => {
            for key in ["place", "productRelationship", "productSpecification"] {
                if request.get(key).is_some() {
                    found
                        .push(Violation::unexpected(format!("/{key}"), "a `modify` names the product only (W160 R15)"));
                }
            }
        }
        Some("add") => {}
        _ => found.push(Violation::invalid("/action", "`action` is `add` or `modify`")),
    }
}

/// What an availability request is about.
struct Subject {
    spec: Arc<ProductSpec>,
    /// The configuration the offered ones are made from.
    base: Value,
    /// The UNIs of the network an EVC would join (with no VLANs to take: a path is asked of
    /// them).
    interfaces: Vec<(String, Vec<u16>)>,
    /// The committed rate the product already has (0 for an `add`).
    current_rate: u64,
}

impl Bus {
    /// `productOfferingAvailabilityRequest`: the configurations available, each with an
    /// identifier to price it by.
    pub async fn availability(&self, tenant: &Tenant, mut request: Value) -> Result<Value, BusError> {
        let subject = self.availability_subject(tenant, &request).await?;
        let spec = &subject.spec;
        let mut offered = Vec::new();
        let realised_by = spec.realised_by.as_deref().unwrap_or_default();
        if !spec.required_place_roles.is_empty() {
            if self.free_uni(&request, realised_by.contains(":ip-uni:")).await {
                offered.push(subject.base.clone());
            }
        } else if realised_by.contains(":ipvc:") {
            if self.ip_access_free(&request, &subject.base).await {
                offered.push(subject.base.clone());
            }
        } else if is_evc(spec) {
            for rate in RATES.into_iter().filter(|r| *r != subject.current_rate) {
                let fits = match &self.serviceability {
                    Some(network) if subject.interfaces.len() >= 2 => network
                        .path(subject.interfaces.clone(), rate.saturating_sub(subject.current_rate))
                        .await
                        .is_ok(),
                    _ => true,
                };
                if fits {
                    offered.push(at_rate(&subject.base, rate));
                }
            }
        } else {
            offered.push(subject.base.clone());
        }
        let interval = installation_interval(spec, "minutes");
        let context = json!({
            "specification": spec.id, "action": request["action"], "validUntil": self.clock.now_millis() + VALID_MILLIS,
            "place": ids(&request, "place"), "productRelationship": ids(&request, "productRelationship"),
            "productRef": request["productRef"]["id"],
        });
        let mut available = Vec::new();
        let mut ops = Vec::new();
        for configuration in offered {
            let id = self.ids.next_id();
            let mut doc = context.clone();
            doc["configuration"] = configuration.clone();
            ops.push(WriteOp::Insert {
                record: Record {
                    kind: CONFIGURATION.into(),
                    id: id.clone(),
                    tenant: tenant.key(),
                    version: 1,
                    doc: doc.to_string(),
                },
                index: Vec::new(),
            });
            available.push(json!({
                "productOffering": {"id": spec.offering_id()}, "productConfiguration": configuration,
                "productConfigurationIdentifier": id, "installationInterval": interval,
            }));
        }
        self.commit(ops).await?;
        request["availableProductOfferingConfigurations"] = json!(available);
        Ok(request)
    }

    /// The specification and base configuration an availability request is about (W160
    /// R10–R15).
    async fn availability_subject(&self, tenant: &Tenant, request: &Value) -> Result<Subject, BusError> {
        let mut found = Vec::new();
        check_action(request, &mut found);
        if !found.is_empty() {
            return Err(BusError::Invalid(found));
        }
        if request["action"] == "modify" {
            let id = request["productRef"]["id"].as_str().unwrap_or_default();
            let not_found =
                || BusError::Invalid(vec![Violation::not_found("/productRef/id", "no such product in your inventory")]);
            let product = self.product(Some(&tenant.key()), id).await.map_err(|_| not_found())?;
            let base = serde_json::to_value(&product.product_configuration).unwrap_or(Value::Null);
            let spec = base["@type"].as_str().and_then(|t| self.spec(t)).ok_or_else(|| {
                BusError::Invalid(vec![Violation::invalid(
                    "/productRef/id",
                    "the product's specification is no longer offered",
                )])
            })?;
            let related = product.product_relationship.iter().flatten().map(|r| r.id.clone()).collect();
            return Ok(Subject {
                current_rate: committed_rate(&base),
                interfaces: self.interfaces_of(related).await,
                spec,
                base,
            });
        }
        let Some(id) = request["productSpecification"]["id"].as_str() else {
            return Err(BusError::Invalid(vec![Violation::missing(
                "/productSpecification",
                "an `add` names the product specification (W160 R10)",
            )]));
        };
        let Some(spec) = self.spec(id).filter(|s| s.orderable) else {
            return Err(BusError::Invalid(vec![Violation::not_found(
                "/productSpecification/id",
                "not an orderable specification of this Seller",
            )]));
        };
        let roles: BTreeSet<&str> =
            request["place"].as_array().into_iter().flatten().filter_map(|p| p["role"].as_str()).collect();
        for role in spec.required_place_roles.iter().filter(|r| !roles.contains(r.as_str())) {
            found.push(Violation::missing(
                "/place",
                format!("{} needs a place with role `{role}` (W160 R12)", spec.name),
            ));
        }
        let relationships = request["productRelationship"].as_array().map(Vec::as_slice).unwrap_or_default();
        for required in &spec.required_product_relationships {
            if !relationships.iter().any(|r| required.is(r["relationshipType"].as_str().unwrap_or_default())) {
                found.push(Violation::missing(
                    "/productRelationship",
                    format!("{} needs a `{}` relationship (W160 R13)", spec.name, required.relationship_type),
                ));
            }
        }
        let mut related = Vec::new();
        for (index, relationship) in relationships.iter().enumerate() {
            let id = relationship["id"].as_str().unwrap_or_default();
            match self.product(Some(&tenant.key()), id).await {
                Ok(_) => related.push(id.to_owned()),
                Err(BusError::NotFound(_)) => found.push(Violation::not_found(
                    format!("/productRelationship/{index}/id"),
                    format!("no product `{id}` in your inventory"),
                )),
                Err(other) => return Err(other),
            }
        }
        if !found.is_empty() {
            return Err(BusError::Invalid(found));
        }
        Ok(Subject { base: spec.example.clone(), interfaces: self.interfaces_of(related).await, current_rate: 0, spec })
    }

    /// The network UNIs that realise `products` (none without a network to ask).
    async fn interfaces_of(&self, products: Vec<String>) -> Vec<(String, Vec<u16>)> {
        let mut interfaces = Vec::new();
        if let Some(network) = &self.serviceability {
            for product in products {
                interfaces.extend(network.interface_of_product(&product).await.map(|uni| (uni, Vec::new())));
            }
        }
        interfaces
    }

    /// Whether the site a request's place names has a free UNI (IP UNI when `ip`; true without
    /// a network to ask).
    async fn free_uni(&self, request: &Value, ip: bool) -> bool {
        let Some(network) = &self.serviceability else { return true };
        match self.site_of(network.as_ref(), request).await {
            Some(site) => network.unis_at_site(&site, ip).await.iter().any(|(_, free)| *free),
            None => false,
        }
    }

    /// Whether an Internet access configured as `configuration` can be given where the request
    /// asks (a free IP UNI at its site, or any, unless it relates to an IP UNI product, and a
    /// free subnet; true without a network to ask).
    async fn ip_access_free(&self, request: &Value, configuration: &Value) -> bool {
        let Some(network) = &self.serviceability else { return true };
        let asked = crate::internet::ipvc_configuration(configuration, None);
        let at_ip_uni = request["productRelationship"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["relationshipType"].as_str().is_some_and(crate::internet::names_an_ip_uni));
        let asked = crate::qualification::IpAccessAsked {
            site: self.site_of(network.as_ref(), request).await,
            at_ip_uni,
            cir_mbps: asked["cirMbps"].as_u64().unwrap_or(0),
            prefix_length: asked["prefixLength"].as_u64().and_then(|l| u8::try_from(l).ok()).unwrap_or(30),
        };
        network.ip_access(asked).await.is_ok()
    }

    /// `pricingDiscoveryRequest`: the prices and terms of an offered configuration.
    pub async fn pricing(&self, tenant: &Tenant, mut request: Value) -> Result<Value, BusError> {
        let mut found = Vec::new();
        check_action(&request, &mut found);
        let id = request["productConfigurationIdentifier"].as_str().map(str::to_owned);
        if id.is_none() {
            found.push(Violation::missing(
                "/productConfigurationIdentifier",
                "the configuration to price is required (W160 R24)",
            ));
        }
        let (Some(id), true) = (id, found.is_empty()) else { return Err(BusError::Invalid(found)) };
        let unknown = || {
            BusError::Invalid(vec![Violation::not_found(
                "/productConfigurationIdentifier",
                "no configuration was offered to you under this identifier",
            )])
        };
        let record = self.store.get(CONFIGURATION, Some(&tenant.key()), &id).await?.ok_or_else(unknown)?;
        let offered: Value =
            serde_json::from_str(&record.doc).map_err(|e| BusError::Corrupt(format!("configuration {id}: {e}")))?;
        if offered["validUntil"].as_i64().unwrap_or(0) < self.clock.now_millis() {
            return Err(BusError::Invalid(vec![Violation::invalid(
                "/productConfigurationIdentifier",
                "the offer of this configuration has expired; ask for availability again (W160 R29)",
            )]));
        }
        if request["action"] != offered["action"] {
            found.push(Violation::invalid("/action", "not the action the configuration was offered for"));
        } else if request["action"] == "modify" && request["productRef"]["id"] != offered["productRef"] {
            found.push(Violation::invalid(
                "/productRef/id",
                "not the product the configuration was offered for (W160 R28)",
            ));
        }
        let compare_context = request["action"] == "add" && found.is_empty();
        for key in ["place", "productRelationship"].into_iter().filter(|_| compare_context) {
            if json!(ids(&request, key)) != offered[key] {
                found.push(Violation::invalid(
                    format!("/{key}"),
                    format!("not the `{key}` the configuration was offered for (W160 R25, R26)"),
                ));
            }
        }
        if !found.is_empty() {
            return Err(BusError::Invalid(found));
        }
        let spec = offered["specification"].as_str().and_then(|s| self.spec(s)).ok_or_else(unknown)?;
        let agreed = self.agreed_discount(&tenant.buyer, &spec);
        request["pricingAndTerms"] = json!(pricing_and_terms(&spec, &id, &offered["configuration"], agreed));
        Ok(request)
    }
}

/// The priced terms of a configuration, the same for the same configuration (W160 R38), less
/// the Buyer's agreed discount of `agreed` percent; each
/// identifier is the configuration's with the term's months (unique, R33).
fn pricing_and_terms(spec: &ProductSpec, configuration_id: &str, configuration: &Value, agreed: f64) -> Vec<Value> {
    offered_terms(spec)
        .into_iter()
        .map(|months| {
            json!({
                "identifier": format!("{configuration_id}-{months}m"), "productOffering": {"id": spec.offering_id()},
                "installationInterval": installation_interval(spec, "minutes"), "term": item_term(months),
                "price": prices(spec, configuration, months, agreed), "subjectToAdditionalNonrecurringCharges": false,
            })
        })
        .collect()
}
