//! Product Offering Qualification (MEF 87). An immediate qualification is answered in its
//! response (R24); a deferred one is acknowledged, taken in progress and answered by a job,
//! each step announced (R45, R46). A POQ is `done.ready` when every item could be qualified,
//! `terminatedWithError` when one could not (the others are then `done.abandoned`). The answer
//! comes from the network through [`Serviceability`]: a UNI is serviceable at a site with a free
//! UNI port, a connection where a path with its bandwidth exists between its UNIs; when it does
//! not and the Buyer asked for alternatives, the highest rate the path has room for is proposed.

use crate::doc::{push, set};
use crate::hubs::HubApi;
use crate::tracked::Tracked;
use crate::{Bus, BusError};
use lso_jobs::Step;
use lso_model::DateTime;
use lso_model::{Tenant, Violation, ViolationCode};
use lso_store::Selection;
use lso_store::{IndexEntry, WriteOp, sortable_time};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;

/// The store kind of POQs.
pub(crate) const POQ: &str = "productOfferingQualification";
/// The job that takes a deferred POQ in progress and answers it.
pub(crate) const ADVANCE_POQ: &str = "advanceProductOfferingQualification";

/// A boxed future, so that [`Serviceability`] can be used as `dyn Serviceability`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the network can do, as a qualification asks it.
pub trait Serviceability: Send + Sync {
    /// The UNIs (IP UNIs when `ip`) at `site`, each with whether it is free.
    fn unis_at_site<'a>(&'a self, site: &'a str, ip: bool) -> BoxFuture<'a, Vec<(String, bool)>>;
    /// Whether the Internet access asked can be given (`Ok` says what was found, `Err` what is
    /// missing).
    fn ip_access(&self, asked: IpAccessAsked) -> BoxFuture<'_, Result<String, String>>;
    /// The site of address `address`, if there is one.
    fn site_at_address<'a>(&'a self, address: &'a str) -> BoxFuture<'a, Option<String>>;
    /// The interface of the UNI service realising product `product`, if there is one.
    fn interface_of_product<'a>(&'a self, product: &'a str) -> BoxFuture<'a, Option<String>>;
    /// Whether a path with `cir_mbps` to spare joins `endpoints`, each an interface and the
    /// VLANs it takes there (an ENNI's S-VLAN; none on a UNI) (`Err` says why not).
    fn path<'a>(&'a self, endpoints: Vec<(String, Vec<u16>)>, cir_mbps: u64) -> BoxFuture<'a, Result<(), String>>;
}

/// An Internet access a qualification asks about: a free IP UNI with `cir_mbps` (at `site`
/// when given), unless `at_ip_uni` (it is delivered at an IP UNI product's), and a free subnet
/// of `prefix_length` in the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpAccessAsked {
    /// The site it is asked at, if any.
    pub site: Option<String>,
    /// Whether it is delivered at the IP UNI of an IP UNI product.
    pub at_ip_uni: bool,
    /// The rate from the customer, in Mbit/s.
    pub cir_mbps: u64,
    /// The prefix length of its access link's subnet.
    pub prefix_length: u8,
}

/// The items of a request being qualified, with the names the request's API uses.
pub(crate) struct ItemList<'a> {
    pub items: &'a [Value],
    /// `productOfferingQualificationItem` or `quoteItem`.
    pub key: &'static str,
    /// `qualificationItemRelationship` or `quoteItemRelationship`.
    pub relations: &'static str,
    /// Whether the Buyer wants alternatives proposed.
    pub alternatives: bool,
}

/// What a qualification found for one item.
pub(crate) enum Found {
    /// `done.ready` with a confidence and why.
    Ready { confidence: &'static str, reason: String },
    /// `done.ready`, red, with a configuration the network can deliver instead.
    Alternate { reason: String, configuration: Value },
    /// `terminatedWithError` with what is wrong.
    Error(Violation),
}

/// The attributes POQs are listed by.
fn poq_index(poq: &Value) -> Vec<IndexEntry> {
    let mut index = Vec::new();
    for name in ["state", "externalId", "projectId"] {
        index.extend(poq[name].as_str().map(|text| IndexEntry::new(name, text)));
    }
    if let Some(date) = poq["requestedPOQCompletionDate"].as_str().and_then(|d| DateTime::parse(d).ok()) {
        index.push(IndexEntry::new("requestedPOQCompletionDate", sortable_time(date.millis())));
    }
    index
}

/// Sets the POQ's state (R48–R50), announcing it.
fn set_state(change: &mut Tracked<'_>, state: &str) {
    set(&mut change.doc, "state", state);
    push(&mut change.doc, "stateChange", json!({"changeDate": change.at.as_str(), "state": state}));
    change.announce("poqStateChangeEvent", None);
}

/// Sets item `index`'s state with why, announcing it (R46).
fn set_item_state(change: &mut Tracked<'_>, index: usize, state: &str, reason: &str) {
    let at = change.at.as_str().to_owned();
    let item = &mut change.doc["productOfferingQualificationItem"][index];
    set(item, "state", state);
    push(item, "stateChange", json!({"changeDate": at, "state": state, "changeReason": reason}));
    let id = item["id"].as_str().unwrap_or_default().to_owned();
    change.announce("poqItemStateChangeEvent", Some(&id));
}

fn finish_poq(change: Tracked<'_>) -> Vec<WriteOp> {
    let index = poq_index(&change.doc);
    change.finish(index)
}

impl Bus {
    /// `createProductOfferingQualification`: checks the request and stores the POQ, answered at
    /// once when the Buyer asks for an immediate answer (R24), otherwise `acknowledged`; either
    /// way announced with `poqCreateEvent` (R45).
    pub async fn create_poq(&self, tenant: &Tenant, mut poq: Value) -> Result<Value, BusError> {
        let interop = self.config.conformance == crate::Conformance::Interop;
        let violations = check(&poq, interop);
        if !violations.is_empty() {
            return Err(BusError::Invalid(violations));
        }
        if poq["instantSyncQualification"] != true && poq["requestedPOQCompletionDate"].is_null() {
            // Interop mode: the Seller's own date, two days from now, shown in the answer.
            let due = DateTime::from_millis(self.clock.now_millis() + 2 * 86_400_000);
            poq["requestedPOQCompletionDate"] = json!(due.as_str());
        }
        let id = self.ids.next_id();
        poq["id"] = json!(id);
        poq["href"] = json!(format!("{}/productOfferingQualification/{id}", HubApi::Qualification.base(tenant.irp)));
        if let Some(contacts) = poq["relatedContactInformation"].as_array_mut() {
            let mut seller = self.config.seller_contact.clone();
            seller["role"] = json!("sellerContactInformation");
            contacts.push(seller);
        }
        let instant = poq["instantSyncQualification"] == true;
        let mut change = Tracked::new(self, HubApi::Qualification, POQ, tenant, &id, poq);
        change.announce("poqCreateEvent", None);
        change.announce = false;
        if instant {
            self.answer_poq(&mut change).await?;
        } else {
            set_state(&mut change, "acknowledged");
            for index in 0..change.doc["productOfferingQualificationItem"].as_array().map_or(0, Vec::len) {
                set_item_state(&mut change, index, "acknowledged", "the request was received");
            }
            let run_at = change.at.millis();
            change.ops.push(WriteOp::Enqueue { kind: ADVANCE_POQ.into(), key: id, payload: String::new(), run_at });
        }
        let document = change.doc.clone();
        self.commit(finish_poq(change)).await?;
        Ok(document)
    }

    /// Job step: a deferred POQ is taken in progress, then answered.
    pub(crate) async fn advance_poq(&self, id: &str) -> Result<(Vec<WriteOp>, Step), BusError> {
        let Some(mut change) = Tracked::load(self, HubApi::Qualification, POQ, None, id).await? else {
            return Ok((Vec::new(), Step::Done));
        };
        let count = change.doc["productOfferingQualificationItem"].as_array().map_or(0, Vec::len);
        match change.doc["state"].as_str() {
            Some("acknowledged") => {
                set_state(&mut change, "inProgress");
                for index in 0..count {
                    set_item_state(&mut change, index, "inProgress", "the Seller is qualifying it");
                }
                let at = change.at.millis();
                Ok((finish_poq(change), Step::Again { at }))
            }
            Some("inProgress") => {
                self.answer_poq(&mut change).await?;
                Ok((finish_poq(change), Step::Done))
            }
            _ => Ok((Vec::new(), Step::Done)),
        }
    }

    /// Qualifies every item of the POQ on the network and gives the POQ its final state.
    async fn answer_poq(&self, change: &mut Tracked<'_>) -> Result<(), BusError> {
        let items = change.doc["productOfferingQualificationItem"].as_array().cloned().unwrap_or_default();
        let list = ItemList {
            items: &items,
            key: "productOfferingQualificationItem",
            relations: "qualificationItemRelationship",
            alternatives: change.doc["provideAlternative"] == true,
        };
        let mut found = Vec::with_capacity(items.len());
        let mut chosen: Vec<(String, String)> = Vec::new();
        for index in 0..items.len() {
            found.push(self.qualify(&change.tenant, &list, index, &mut chosen).await?);
        }
        let failed = found.iter().any(|f| matches!(f, Found::Error(_)));
        for (index, result) in found.into_iter().enumerate() {
            let slot = &mut change.doc["productOfferingQualificationItem"][index];
            let (state, reason) = match result {
                Found::Ready { .. } | Found::Alternate { .. } if failed => {
                    ("done.abandoned", "another item could not be qualified".to_owned())
                }
                Found::Ready { confidence, reason } => {
                    slot["serviceabilityConfidence"] = json!(confidence);
                    slot["serviceabilityConfidenceReason"] = json!(reason);
                    if confidence != "red" {
                        slot["installationInterval"] = json!({"amount": 5, "units": "businessDays"});
                    }
                    ("done.ready", reason)
                }
                Found::Alternate { reason, configuration } => {
                    slot["serviceabilityConfidence"] = json!("red");
                    slot["serviceabilityConfidenceReason"] = json!(reason);
                    let offering = slot["product"]["productOffering"].clone();
                    let offering = if offering.is_null() { json!({"id": "unknown"}) } else { offering };
                    slot["alternateProductOfferingProposal"] = json!([{"id": "1",
                        "installationInterval": {"amount": 5, "units": "businessDays"},
                        "alternateProduct": {"productOffering": offering, "productConfiguration": configuration}}]);
                    ("done.ready", reason)
                }
                Found::Error(violation) => {
                    slot["terminationError"] = json!([{"code": violation.code.as_str(), "propertyPath": violation.property_path, "value": violation.reason}]);
                    ("terminatedWithError", violation.reason)
                }
            };
            set_item_state(change, index, state, &reason);
        }
        set_state(change, if failed { "terminatedWithError" } else { "done.ready" });
        let at = change.at.as_str().to_owned();
        set(&mut change.doc, "effectiveQualificationDate", at);
        Ok(())
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
    pub async fn list_poqs(&self, selection: Selection) -> Result<crate::Listing<Value>, BusError> {
        let page = self.store.list(lso_store::ListQuery::of(POQ, selection)).await?;
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
        let Some(spec) = configuration["@type"].as_str().and_then(|t| self.spec(t)) else {
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
            let ip = spec.realised_by.as_deref().is_some_and(|s| s.contains(":ip-uni:"));
            let what = if ip { "IP UNI" } else { "UNI" };
            let unis = network.unis_at_site(&site, ip).await;
            if unis.is_empty() {
                return error(
                    ViolationCode::ReferenceNotFound,
                    "/place",
                    format!("the Seller has no {what} at site `{site}`"),
                );
            }
            let taken: Vec<&String> = chosen.iter().map(|(_, i)| i).collect();
            return Ok(match unis.iter().find(|(name, free)| *free && !taken.contains(&name)) {
                Some((name, _)) => {
                    chosen.push((item["id"].as_str().unwrap_or_default().to_owned(), name.clone()));
                    Found::Ready { confidence: "green", reason: format!("an {what} port is free at site {site}") }
                }
                None => {
                    Found::Ready { confidence: "red", reason: format!("every {what} port at site {site} is in use") }
                }
            });
        }
        let realised_by = spec.realised_by.as_deref().unwrap_or_default();
        if realised_by.contains(":ipvc:") {
            let names = |list: &Value, key: &str| {
                list.as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r[key].as_str().is_some_and(crate::internet::names_an_ip_uni))
            };
            let at_ip_uni = names(&item[list.relations], "relationshipType")
                || names(&product["productRelationship"], "relationshipType");
            let asked = crate::internet::ipvc_configuration(configuration, None);
            let cir = asked["cirMbps"].as_u64().unwrap_or(0);
            let length = asked["prefixLength"].as_u64().and_then(|l| u8::try_from(l).ok()).unwrap_or(30);
            let site = self.site_of(network.as_ref(), product).await;
            let asked = IpAccessAsked { site, at_ip_uni, cir_mbps: cir, prefix_length: length };
            return Ok(match network.ip_access(asked).await {
                Ok(found) => Found::Ready { confidence: "green", reason: found },
                Err(missing) => Found::Ready { confidence: "red", reason: missing },
            });
        }
        let ovc = realised_by.contains("carrier-ethernet-ovc");
        if ovc || realised_by.contains("carrier-ethernet-evc") {
            let mut interfaces = Vec::new();
            for relation in item[list.relations].as_array().into_iter().flatten() {
                let other = relation["id"].as_str().unwrap_or_default();
                if let Some((_, interface)) = chosen.iter().find(|(id, _)| id == other) {
                    interfaces.push((interface.clone(), Vec::new()));
                } else if !list.items.iter().any(|i| i["id"] == other) {
                    return error(ViolationCode::ReferenceNotFound, "", format!("no item `{other}` in this request"));
                }
            }
            for relation in product["productRelationship"].as_array().into_iter().flatten() {
                let id = relation["id"].as_str().unwrap_or_default();
                let kind = relation["relationshipType"].as_str().unwrap_or_default();
                let interface = match kind {
                    _ if crate::legato::ENNI_RELATIONSHIPS.contains(&kind) => {
                        self.enni_of(tenant, id).await?.map(|enni| {
                            let s_vlan =
                                configuration["enniEp"]["sVlanId"].as_u64().and_then(|v| u16::try_from(v).ok());
                            (enni, s_vlan.into_iter().collect())
                        })
                    }
                    _ => network.interface_of_product(id).await.map(|uni| (uni, Vec::new())),
                };
                match interface {
                    Some(interface) => interfaces.push(interface),
                    None if ovc => {
                        return error(
                            ViolationCode::ReferenceNotFound,
                            "/productRelationship",
                            format!("product {id} is not a UNI or ENNI of yours in service"),
                        );
                    }
                    None => {}
                }
            }
            if interfaces.len() < 2 {
                return Ok(Found::Ready { confidence: "yellow", reason: "the UNIs it joins are not known yet".into() });
            }
            let cir = if ovc {
                crate::legato::cir_mbps(&configuration["uniEp"]).max(crate::legato::cir_mbps(&configuration["enniEp"]))
            } else {
                crate::legato::evc_endpoints(configuration)
                    .iter()
                    .map(|(e, _)| crate::legato::cir_mbps(e))
                    .max()
                    .unwrap_or(0)
            };
            return Ok(match network.path(interfaces.clone(), cir).await {
                Ok(()) => Found::Ready {
                    confidence: "green",
                    reason: format!("a path with {cir} Mbit/s to spare joins its end points"),
                },
                Err(why) if list.alternatives => {
                    let mut slower = None;
                    for rate in crate::discovery::RATES.iter().rev().filter(|r| **r < cir) {
                        if network.path(interfaces.clone(), *rate).await.is_ok() {
                            slower = Some(*rate);
                            break;
                        }
                    }
                    match slower {
                        Some(rate) => Found::Alternate {
                            reason: format!("{why}; {rate} Mbit/s fits"),
                            configuration: crate::discovery::at_rate(configuration, rate),
                        },
                        None => Found::Ready { confidence: "red", reason: why },
                    }
                }
                Err(why) => Found::Ready { confidence: "red", reason: why },
            });
        }
        Ok(Found::Ready { confidence: "yellow", reason: "the Seller qualifies this product by hand".into() })
    }

    /// The network interface of `tenant`'s ENNI product `id` (its `enniIdentifier`).
    async fn enni_of(&self, tenant: &Tenant, id: &str) -> Result<Option<String>, BusError> {
        match self.product(Some(&tenant.key()), id).await {
            Ok(product) => Ok(product
                .product_configuration
                .and_then(|c| c.get("enniIdentifier").and_then(Value::as_str).map(str::to_owned))),
            Err(BusError::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
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

/// The synchronous checks of a POQ request (MEF 87 R17–R21, R32–R36); `interop` lets a
/// deferred one without `requestedPOQCompletionDate` through.
fn check(poq: &Value, interop: bool) -> Vec<Violation> {
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
    if !instant && !interop && poq["requestedPOQCompletionDate"].as_str().is_none() {
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
