//! Product Offering Qualification (MEF 87). The Seller answers at once (R16), whether the
//! Buyer asked for an immediate or a deferred answer, so a POQ is created in its final state:
//! `done.ready` when every item could be qualified, `terminatedWithError` when one could not
//! (the others are then `done.abandoned`). The answer comes from the network through
//! [`Serviceability`]: a UNI is serviceable at a site with a free UNI port, a connection where a
//! path with its bandwidth exists between its UNIs.

use crate::events::{Subject, event};
use crate::hubs::HubApi;
use crate::{Bus, BusError};
use lso_mef_product::DateTime;
use lso_model::{Tenant, Violation, ViolationCode};
use lso_store::{IndexEntry, Record, WriteOp, sortable_time};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;

/// The store kind of POQs.
pub(crate) const POQ: &str = "productOfferingQualification";

/// A boxed future, so that [`Serviceability`] can be used as `dyn Serviceability`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the network can do, as a qualification asks it.
pub trait Serviceability: Send + Sync {
    /// The UNIs at `site`, each with whether it is free.
    fn unis_at_site<'a>(&'a self, site: &'a str) -> BoxFuture<'a, Vec<(String, bool)>>;
    /// The site of address `address`, if there is one.
    fn site_at_address<'a>(&'a self, address: &'a str) -> BoxFuture<'a, Option<String>>;
    /// The interface of the UNI service realising product `product`, if there is one.
    fn interface_of_product<'a>(&'a self, product: &'a str) -> BoxFuture<'a, Option<String>>;
    /// Whether a path with `cir_mbps` to spare joins `interfaces` (`Err` says why not).
    fn path<'a>(&'a self, interfaces: Vec<String>, cir_mbps: u64) -> BoxFuture<'a, Result<(), String>>;
}

/// The items of a request being qualified, with the names the request's API uses.
pub(crate) struct ItemList<'a> {
    pub items: &'a [Value],
    /// `productOfferingQualificationItem` or `quoteItem`.
    pub key: &'static str,
    /// `qualificationItemRelationship` or `quoteItemRelationship`.
    pub relations: &'static str,
}

/// What a qualification found for one item.
pub(crate) enum Found {
    /// `done.ready` with a confidence and why.
    Ready { confidence: &'static str, reason: String },
    /// `terminatedWithError` with what is wrong.
    Error(Violation),
}

impl Bus {
    /// `createProductOfferingQualification`: checks the request, qualifies every item on the
    /// network, stores the POQ in its final state and announces `poqCreateEvent` (R45).
    pub async fn create_poq(&self, tenant: &Tenant, mut poq: Value) -> Result<Value, BusError> {
        let violations = check(&poq);
        if !violations.is_empty() {
            return Err(BusError::Invalid(violations));
        }
        let now = DateTime::from_millis(self.clock.now_millis());
        let id = self.ids.next_id();
        let items = poq["productOfferingQualificationItem"].as_array().cloned().unwrap_or_default();
        let mut found = Vec::with_capacity(items.len());
        let mut chosen: Vec<(String, String)> = Vec::new();
        let list = ItemList {
            items: &items,
            key: "productOfferingQualificationItem",
            relations: "qualificationItemRelationship",
        };
        for index in 0..items.len() {
            found.push(self.qualify(tenant, &list, index, &mut chosen).await?);
        }
        let failed = found.iter().any(|f| matches!(f, Found::Error(_)));
        for (slot, result) in poq["productOfferingQualificationItem"].as_array_mut().into_iter().flatten().zip(found) {
            let (state, reason) = match result {
                Found::Ready { .. } if failed => ("done.abandoned", "another item could not be qualified".to_owned()),
                Found::Ready { confidence, reason } => {
                    slot["serviceabilityConfidence"] = json!(confidence);
                    slot["serviceabilityConfidenceReason"] = json!(reason);
                    if confidence != "red" {
                        slot["installationInterval"] = json!({"amount": 5, "units": "businessDays"});
                    }
                    ("done.ready", reason)
                }
                Found::Error(violation) => {
                    slot["terminationError"] = json!([{"code": violation.code.as_str(), "propertyPath": violation.property_path, "value": violation.reason}]);
                    ("terminatedWithError", violation.reason)
                }
            };
            slot["state"] = json!(state);
            slot["stateChange"] = json!([{"changeDate": now.as_str(), "state": state, "changeReason": reason}]);
        }
        let state = if failed { "terminatedWithError" } else { "done.ready" };
        poq["id"] = json!(id);
        poq["href"] = json!(format!("{}/productOfferingQualification/{id}", HubApi::Qualification.base(tenant.irp)));
        poq["state"] = json!(state);
        poq["effectiveQualificationDate"] = json!(now.as_str());
        poq["stateChange"] = json!([{"changeDate": now.as_str(), "state": state}]);
        if let Some(contacts) = poq["relatedContactInformation"].as_array_mut() {
            let mut seller = self.config.seller_contact.clone();
            seller["role"] = json!("sellerContactInformation");
            contacts.push(seller);
        }
        let mut index = vec![IndexEntry::new("state", state)];
        for name in ["externalId", "projectId"] {
            if let Some(text) = poq[name].as_str() {
                index.push(IndexEntry::new(name, text));
            }
        }
        if let Some(date) = poq["requestedPOQCompletionDate"].as_str().and_then(|d| DateTime::parse(d).ok()) {
            index.push(IndexEntry::new("requestedPOQCompletionDate", sortable_time(date.millis())));
        }
        let record =
            Record { kind: POQ.into(), id: id.clone(), tenant: tenant.key(), version: 1, doc: poq.to_string() };
        let subject = Subject {
            id: &id,
            href: format!("productOfferingQualification/{id}"),
            item_id: None,
            milestone: None,
            ordering_key: &id,
        };
        let created = event(self.ids.as_ref(), HubApi::Qualification, tenant, "poqCreateEvent", subject, &now);
        self.commit(vec![WriteOp::Insert { record, index }, created]).await?;
        Ok(poq)
    }

    /// `retrieveProductOfferingQualification`.
    pub async fn poq(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        let record = self
            .store
            .get(POQ, tenant, id)
            .await?
            .ok_or_else(|| BusError::NotFound(format!("no productOfferingQualification `{id}`")))?;
        serde_json::from_str(&record.doc).map_err(|e| BusError::Corrupt(format!("POQ {id}: {e}")))
    }

    /// `listProductOfferingQualification`: a page of `tenant`'s POQs matching `filters`,
    /// projected as `ProductOfferingQualification_Find`.
    pub async fn list_poqs(
        &self,
        tenant: Option<String>,
        filters: Vec<lso_store::Filter>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Value>, u64), BusError> {
        let page = self.store.list(lso_store::ListQuery { kind: POQ.into(), tenant, filters, offset, limit }).await?;
        let mut found = Vec::with_capacity(page.records.len());
        for record in page.records {
            let doc: Value =
                serde_json::from_str(&record.doc).map_err(|e| BusError::Corrupt(format!("POQ {}: {e}", record.id)))?;
            let mut find = json!({"id": doc["id"], "state": doc["state"]});
            for name in ["externalId", "projectId", "requestedPOQCompletionDate"] {
                if !doc[name].is_null() {
                    find[name] = doc[name].clone();
                }
            }
            found.push(find);
        }
        Ok((found, page.total))
    }

    /// Qualifies item `index`; `chosen` remembers the UNI picked for each UNI item, so the
    /// connections relating to them are qualified between those UNIs.
    pub(crate) async fn qualify(
        &self,
        tenant: &Tenant,
        list: &ItemList<'_>,
        index: usize,
        chosen: &mut Vec<(String, String)>,
    ) -> Result<Found, BusError> {
        let item = &list.items[index];
        let path = format!("/{}/{index}/product", list.key);
        let error =
            |code, at: &str, reason: String| Ok(Found::Error(Violation::new(code, format!("{path}{at}"), reason)));
        let product = &item["product"];
        if let Some("modify" | "delete") = item["action"].as_str() {
            let id = product["id"].as_str().unwrap_or_default();
            return match self.product(Some(&tenant.key()), id).await {
                Ok(_) => Ok(Found::Ready { confidence: "green", reason: format!("product {id} is in the inventory") }),
                Err(BusError::NotFound(_)) => {
                    error(ViolationCode::ReferenceNotFound, "/id", format!("no product {id} in the inventory"))
                }
                Err(other) => Err(other),
            };
        }
        let configuration = &product["productConfiguration"];
        let Some(spec) = configuration["@type"].as_str().and_then(|t| self.catalog.get(t)).cloned() else {
            return error(
                ViolationCode::InvalidValue,
                "/productConfiguration/@type",
                "not a product specification of this Seller".into(),
            );
        };
        let named = product["productSpecification"]["id"].as_str().or(product["productOffering"]["id"].as_str());
        if named.is_some_and(|n| n != spec.id && n != spec.offering_id()) {
            return error(
                ViolationCode::InvalidValue,
                "/productConfiguration/@type",
                format!("`{}` is not the specification of the offering named (MEF 87 R35)", spec.id),
            );
        }
        if let Some(problem) = spec.check(configuration).into_iter().next() {
            return error(ViolationCode::InvalidValue, "/productConfiguration", problem.reason);
        }
        let Some(network) = &self.serviceability else {
            return Ok(Found::Ready { confidence: "yellow", reason: "no network is known to qualify on".into() });
        };
        if !spec.required_place_roles.is_empty() {
            let Some(site) = self.site_of(network.as_ref(), product).await else {
                return error(
                    ViolationCode::MissingProperty,
                    "/place",
                    "a site or address of the Seller is needed to qualify it".into(),
                );
            };
            let unis = network.unis_at_site(&site).await;
            if unis.is_empty() {
                return error(
                    ViolationCode::ReferenceNotFound,
                    "/place",
                    format!("the Seller has no UNI at site `{site}`"),
                );
            }
            let taken: Vec<&String> = chosen.iter().map(|(_, i)| i).collect();
            return Ok(match unis.iter().find(|(name, free)| *free && !taken.contains(&name)) {
                Some((name, _)) => {
                    chosen.push((item["id"].as_str().unwrap_or_default().to_owned(), name.clone()));
                    Found::Ready { confidence: "green", reason: format!("a UNI port is free at site {site}") }
                }
                None => Found::Ready { confidence: "red", reason: format!("every UNI port at site {site} is in use") },
            });
        }
        if spec.realised_by.as_deref().is_some_and(|s| s.contains("carrier-ethernet-evc")) {
            let mut interfaces = Vec::new();
            for relation in item[list.relations].as_array().into_iter().flatten() {
                let other = relation["id"].as_str().unwrap_or_default();
                if let Some((_, interface)) = chosen.iter().find(|(id, _)| id == other) {
                    interfaces.push(interface.clone());
                } else if !list.items.iter().any(|i| i["id"] == other) {
                    return error(ViolationCode::ReferenceNotFound, "", format!("no item `{other}` in this request"));
                }
            }
            for relation in product["productRelationship"].as_array().into_iter().flatten() {
                if let Some(interface) = network.interface_of_product(relation["id"].as_str().unwrap_or_default()).await
                {
                    interfaces.push(interface);
                }
            }
            if interfaces.len() < 2 {
                return Ok(Found::Ready { confidence: "yellow", reason: "the UNIs it joins are not known yet".into() });
            }
            let cir = crate::legato::evc_endpoints(configuration)
                .iter()
                .map(|(e, _)| crate::legato::cir_mbps(e))
                .max()
                .unwrap_or(0);
            return Ok(match network.path(interfaces, cir).await {
                Ok(()) => Found::Ready {
                    confidence: "green",
                    reason: format!("a path with {cir} Mbit/s to spare joins its UNIs"),
                },
                Err(why) => Found::Ready { confidence: "red", reason: why },
            });
        }
        Ok(Found::Ready { confidence: "yellow", reason: "the Seller qualifies this product by hand".into() })
    }

    /// The site an item's place names: a site, or the site at an address.
    pub(crate) async fn site_of(&self, network: &dyn Serviceability, product: &Value) -> Option<String> {
        for place in product["place"].as_array().into_iter().flatten() {
            let id = place["id"].as_str()?;
            match place["@type"].as_str() {
                Some("GeographicSiteRef") => return Some(id.to_owned()),
                Some("GeographicAddressRef") => return network.site_at_address(id).await,
                _ => {}
            }
        }
        None
    }
}

/// The synchronous checks of a POQ request (MEF 87 R17–R21, R32–R36).
fn check(poq: &Value) -> Vec<Violation> {
    let mut found = Vec::new();
    let missing = |path: &str, reason: &str| Violation::new(ViolationCode::MissingProperty, path, reason);
    let items = match poq["productOfferingQualificationItem"].as_array() {
        Some(items) if !items.is_empty() => items.as_slice(),
        _ => {
            found.push(missing("/productOfferingQualificationItem", "at least one item is required (MEF 87 R17)"));
            &[]
        }
    };
    let instant = poq["instantSyncQualification"].as_bool().unwrap_or(false);
    if !instant && poq["requestedPOQCompletionDate"].as_str().is_none() {
        found.push(missing(
            "/requestedPOQCompletionDate",
            "a deferred qualification needs `requestedPOQCompletionDate` (MEF 87 R19)",
        ));
    }
    let buyer_contact = poq["relatedContactInformation"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["role"] == "buyerContactInformation");
    if !buyer_contact {
        found.push(missing(
            "/relatedContactInformation",
            "a contact with role `buyerContactInformation` is required (MEF 87 R20)",
        ));
    }
    for (index, item) in items.iter().enumerate() {
        let path = format!("/productOfferingQualificationItem/{index}");
        for key in ["id", "action", "product"] {
            if item.get(key).is_none() {
                found.push(missing(&format!("{path}/{key}"), &format!("`{key}` is required (MEF 87 R32)")));
            }
        }
        let product = &item["product"];
        match item["action"].as_str() {
            Some("add") => {
                let named = [product.get("productOffering"), product.get("productSpecification")]
                    .iter()
                    .filter(|p| p.is_some())
                    .count();
                if named != 1 {
                    found.push(Violation::new(
                        ViolationCode::InvalidValue,
                        format!("{path}/product"),
                        "name exactly one of `productOffering` and `productSpecification` (MEF 87 R33)",
                    ));
                }
                if product["productConfiguration"].is_null() {
                    found.push(missing(
                        &format!("{path}/product/productConfiguration"),
                        "an added product needs its configuration (MEF 87 R34)",
                    ));
                }
                if product.get("id").is_some() {
                    found.push(Violation::new(
                        ViolationCode::UnexpectedProperty,
                        format!("{path}/product/id"),
                        "an added product has no id yet (MEF 87 R36)",
                    ));
                }
            }
            Some("modify" | "delete") if product["id"].as_str().is_none() => {
                found.push(missing(
                    &format!("{path}/product/id"),
                    "a modify or delete names the product (MEF 87 R37, R39)",
                ));
            }
            Some("modify" | "delete") => {}
            Some(other) => found.push(Violation::new(
                ViolationCode::InvalidValue,
                format!("{path}/action"),
                format!("`{other}` is not add, modify or delete"),
            )),
            None => {}
        }
    }
    found
}
