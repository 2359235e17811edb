//! The lifecycle of the Product Catalog's offerings (W142 R51): every orderable specification
//! has an offering, `orderable` until the Seller moves it along; each change keeps its reason
//! and a transition record (R21–R23) and is announced to every Buyer with a catalog hub.

use crate::hubs::HubApi;
use crate::{Bus, BusError};
use lso_model::DateTime;
use lso_model::{Irp, Tenant, Violation, ViolationCode};
use lso_spec::Catalog;
use lso_store::{ListQuery, NewEvent, Record, WriteOp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

/// A catalog notification: `eventType`, the listener it is sent to (the catalog's listener
/// paths do not all repeat the event's name, W142) and the resource `path/{id}` it is about.
struct CatalogEvent<'a> {
    event_type: &'a str,
    listener: &'a str,
    path: &'a str,
    id: &'a str,
}

/// A product specification a catalog reload took away, kept as `obsolete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsoleteSpecification {
    /// Its URN.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description, as it was listed.
    pub description: String,
    /// The reference points it was offered on.
    pub interfaces: Vec<String>,
    /// Its schema, as it was.
    pub schema: String,
    /// When it went out of the catalog.
    pub since: String,
}

/// The store kind of obsolete specifications.
const OBSOLETE_SPECIFICATION: &str = "obsoleteSpecification";

/// Whether `spec` is on offer at `irp`.
pub fn offered_on(spec: &lso_spec::ProductSpec, irp: Irp) -> bool {
    spec.orderable && spec.interfaces.iter().any(|i| i == irp.as_str())
}

/// The store kind of offering lifecycles that differ from the start.
const OFFERING_STATE: &str = "offeringLifecycle";
const OWNER: &str = "catalog";

/// The lifecycle statuses of an offering.
pub const OFFERING_STATUSES: [&str; 8] =
    ["inTest", "announced", "onHold", "orderable", "endOfSale", "endOfSupport", "obsolete", "rejected"];

/// Whether an offering may go from `from` to `to` (W142 R51).
fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("inTest", "announced" | "rejected")
            | ("announced", "orderable" | "onHold")
            | ("onHold", "announced" | "orderable" | "endOfSale")
            | ("orderable", "endOfSale")
            | ("endOfSale", "endOfSupport" | "obsolete")
            | ("endOfSupport", "obsolete")
    )
}

/// Where an offering stands: its status, the reason, and every transition so far.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferingState {
    /// `lifecycleStatus`.
    pub status: String,
    /// `statusReason`, if it changed.
    pub reason: Option<String>,
    /// `statusTransition`: each change, oldest first.
    pub transitions: Vec<Value>,
    /// When it last changed.
    pub last_update: Option<String>,
}

impl Bus {
    /// The offering of the specification with `offering_id`, if there is one.
    fn offering_spec(&self, offering_id: &str) -> Option<std::sync::Arc<lso_spec::ProductSpec>> {
        self.catalog().specs().iter().find(|s| s.orderable && s.offering_id() == offering_id).cloned()
    }

    /// Where offering `id` stands (`orderable` with no history until the Seller changes it).
    pub async fn offering_state(&self, id: &str) -> Result<OfferingState, BusError> {
        let Some(record) = self.store.get(OFFERING_STATE, Some(OWNER), id).await? else {
            return Ok(OfferingState {
                status: "orderable".into(),
                reason: None,
                transitions: Vec::new(),
                last_update: None,
            });
        };
        let doc: Value =
            serde_json::from_str(&record.doc).map_err(|e| BusError::Corrupt(format!("offering {id}: {e}")))?;
        Ok(OfferingState {
            status: doc["lifecycleStatus"].as_str().unwrap_or("orderable").to_owned(),
            reason: doc["statusReason"].as_str().map(str::to_owned),
            transitions: doc["statusTransition"].as_array().cloned().unwrap_or_default(),
            last_update: doc["lastUpdate"].as_str().map(str::to_owned),
        })
    }

    /// The specifications catalog reloads took away, kept as `obsolete`, by URN.
    pub async fn obsolete_specifications(&self) -> Result<Vec<ObsoleteSpecification>, BusError> {
        let query = ListQuery {
            kind: OBSOLETE_SPECIFICATION.into(),
            tenant: Some(OWNER.into()),
            filters: Vec::new(),
            offset: 0,
            limit: u64::from(u32::MAX),
        };
        let mut kept = Vec::new();
        for record in self.store.list(query).await?.records {
            kept.push(
                serde_json::from_str::<ObsoleteSpecification>(&record.doc)
                    .map_err(|e| BusError::Corrupt(format!("obsolete specification {}: {e}", record.id)))?,
            );
        }
        kept.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(kept)
    }

    /// Moves offering `id` to `status` for `reason`, and tells every Buyer with a catalog hub.
    pub async fn change_offering_status(
        &self,
        id: &str,
        status: &str,
        reason: &str,
    ) -> Result<OfferingState, BusError> {
        let Some(spec) = self.offering_spec(id) else {
            return Err(BusError::NotFound(format!("no productOffering `{id}`")));
        };
        let current = self.offering_state(id).await?;
        if !allowed(&current.status, status) {
            let reason = format!("an offering cannot go from {} to {status} (MEF W142 R51)", current.status);
            return Err(BusError::Invalid(vec![Violation::new(
                ViolationCode::InvalidValue,
                "/lifecycleStatus",
                reason,
            )]));
        }
        let at = DateTime::from_millis(self.clock.now_millis());
        let mut transitions = current.transitions.clone();
        transitions.push(json!({"transitionDate": at.as_str(), "transitionLifecycleStatus": status}));
        let doc = json!({"lifecycleStatus": status, "statusReason": reason, "statusTransition": transitions, "lastUpdate": at.as_str()});
        let previous = self.store.get(OFFERING_STATE, Some(OWNER), id).await?;
        let record = |version| Record {
            kind: OFFERING_STATE.into(),
            id: id.into(),
            tenant: OWNER.into(),
            version,
            doc: doc.to_string(),
        };
        let mut ops = vec![match previous {
            Some(old) => WriteOp::Update { record: record(old.version + 1), index: Vec::new() },
            None => WriteOp::Insert { record: record(1), index: Vec::new() },
        }];
        let hubs = self.catalog_hubs().await?;
        ops.extend(self.catalog_events(
            &hubs,
            CatalogEvent {
                event_type: "productOfferingStateChangeEvent",
                listener: "productOfferingStatusChangeEvent",
                path: "productOffering",
                id,
            },
            &spec.interfaces,
            &at,
        ));
        self.commit(ops).await?;
        self.offering_state(id).await
    }
}

impl Bus {
    /// The Buyers with a catalog hub, by tenant key, read once for all the events of a change.
    async fn catalog_hubs(&self) -> Result<Vec<(String, Tenant)>, BusError> {
        let keys = self.store.hub_tenants(HubApi::Catalog.key()).await?;
        Ok(keys.into_iter().filter_map(|key| Tenant::from_key(&key).map(|tenant| (key, tenant))).collect())
    }

    /// The writes announcing `event` to each Buyer of `hubs` at one of the reference points
    /// `interfaces` (where what it is about is offered).
    fn catalog_events(
        &self,
        hubs: &[(String, Tenant)],
        event: CatalogEvent<'_>,
        interfaces: &[String],
        at: &DateTime,
    ) -> Vec<WriteOp> {
        let CatalogEvent { event_type, listener, path, id } = event;
        let origin = self.config.self_addresses.origin.as_deref().unwrap_or("http://localhost");
        let mut ops = Vec::new();
        for (key, tenant) in hubs.iter().filter(|(_, t)| interfaces.iter().any(|i| i == t.irp.as_str())) {
            let event_id = self.ids.next_id();
            let href = format!("{origin}{}/{path}/{id}", HubApi::Catalog.base(tenant.irp));
            let body = json!({"eventId": event_id, "eventTime": at.as_str(), "eventType": event_type, "event": {"id": id, "href": href}});
            ops.push(WriteOp::Publish(NewEvent {
                id: event_id,
                api: HubApi::Catalog.key().into(),
                tenant: key.clone(),
                event_type: event_type.into(),
                listener_path: format!("{}/listener/{listener}", HubApi::Catalog.listener_base(tenant.irp)),
                body: body.to_string(),
                ordering_key: id.into(),
                at: at.millis(),
            }));
        }
        ops
    }

    /// Sells from `catalog` from now on, announcing each offering and specification it adds
    /// (`productOfferingCreateEvent`, `productSpecificationCreateEvent`) or changes (their
    /// `…AttributeValueChangeEvent`s), each specification it no longer has (kept as `obsolete`:
    /// `productSpecificationStateChangeEvent`) and each category that appears, changes or goes
    /// at a reference point; the ids of the offerings added.
    pub async fn replace_catalog(&self, catalog: Catalog) -> Result<Vec<String>, BusError> {
        let before = self.catalog();
        let added: Vec<Arc<lso_spec::ProductSpec>> =
            catalog.specs().iter().filter(|s| s.orderable && before.get(&s.id).is_none()).cloned().collect();
        let removed: Vec<Arc<lso_spec::ProductSpec>> =
            before.specs().iter().filter(|s| s.orderable && catalog.get(&s.id).is_none()).cloned().collect();
        let at = DateTime::from_millis(self.clock.now_millis());
        let hubs = self.catalog_hubs().await?;
        let mut ops = Vec::new();
        for spec in &added {
            let offering = spec.offering_id();
            for (path, id) in [("productSpecification", spec.id.as_str()), ("productOffering", offering.as_str())] {
                let event_type = format!("{path}CreateEvent");
                let event = CatalogEvent { event_type: &event_type, listener: &event_type, path, id };
                ops.extend(self.catalog_events(&hubs, event, &spec.interfaces, &at));
            }
        }
        // A specification sold before whose definition changed: its offering changed with it.
        let changed = catalog
            .specs()
            .iter()
            .filter(|s| s.orderable && before.get(&s.id).is_some_and(|old| !old.defines_the_same_as(s)));
        for spec in changed {
            let offering = spec.offering_id();
            for (path, id) in [("productSpecification", spec.id.as_str()), ("productOffering", offering.as_str())] {
                let event_type = format!("{path}AttributeValueChangeEvent");
                let event = CatalogEvent { event_type: &event_type, listener: &event_type, path, id };
                ops.extend(self.catalog_events(&hubs, event, &spec.interfaces, &at));
            }
        }
        // A specification the new catalog no longer has stays listed as `obsolete` (W142: kept
        // for the record of what was sold); one put back is published again.
        for spec in before.specs().iter().filter(|s| catalog.get(&s.id).is_none()) {
            let kept = ObsoleteSpecification {
                id: spec.id.clone(),
                name: spec.name.clone(),
                description: spec.describe(),
                interfaces: spec.interfaces.clone(),
                schema: spec.schema.to_string(),
                since: at.as_str().to_owned(),
            };
            let record = Record {
                kind: OBSOLETE_SPECIFICATION.into(),
                id: spec.id.clone(),
                tenant: OWNER.into(),
                version: 1,
                doc: serde_json::to_string(&kept).map_err(|e| BusError::Corrupt(e.to_string()))?,
            };
            ops.push(match self.store.get(OBSOLETE_SPECIFICATION, Some(OWNER), &spec.id).await? {
                Some(old) => {
                    WriteOp::Update { record: Record { version: old.version + 1, ..record }, index: Vec::new() }
                }
                None => WriteOp::Insert { record, index: Vec::new() },
            });
            let event = CatalogEvent {
                event_type: "productSpecificationStateChangeEvent",
                listener: "productSpecificationStatusChangeEvent",
                path: "productSpecification",
                id: &spec.id,
            };
            ops.extend(self.catalog_events(&hubs, event, &spec.interfaces, &at));
        }
        for spec in catalog.specs().iter().filter(|s| before.get(&s.id).is_none()) {
            if self.store.get(OBSOLETE_SPECIFICATION, Some(OWNER), &spec.id).await?.is_some() {
                ops.push(WriteOp::Delete { kind: OBSOLETE_SPECIFICATION.into(), id: spec.id.clone() });
            }
        }
        // Categories, at each reference point: one that has offerings there for the first time
        // is created; one that has none any more is withdrawn (its status changes); one whose
        // offerings changed lists others now.
        for irp in Irp::ALL {
            let on = [irp.as_str().to_owned()];
            let offered =
                |c: &Catalog, category: &str| c.specs().iter().any(|s| offered_on(s, *irp) && s.category() == category);
            for (category, ..) in lso_spec::CATEGORIES {
                let changed =
                    added.iter().chain(removed.iter()).any(|s| offered_on(s, *irp) && s.category() == category);
                let (event_type, listener) = match (offered(&before, category), offered(&catalog, category)) {
                    (false, true) => ("categoryCreateEvent", "categoryCreateEvent"),
                    (true, false) => ("categoryStateChangeEvent", "categoryStatusChangeEvent"),
                    (true, true) if changed => {
                        ("categoryAttributeValueChangeEvent", "categoryAttributeValueChangeEvent")
                    }
                    _ => continue,
                };
                let event = CatalogEvent { event_type, listener, path: "category", id: category };
                ops.extend(self.catalog_events(&hubs, event, &on, &at));
            }
        }
        // Sold from at once, so a Buyer told of an offering finds it; put back if the
        // announcements cannot be stored, so a second reload announces them again.
        self.catalogs.replace(Arc::new(catalog));
        if !ops.is_empty()
            && let Err(err) = self.commit(ops).await
        {
            self.catalogs.replace(before);
            return Err(err);
        }
        Ok(added.iter().map(|s| s.offering_id()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn offerings_move_only_along_their_lifecycle() {
        assert!(allowed("orderable", "endOfSale") && allowed("endOfSale", "obsolete") && allowed("inTest", "rejected"));
        assert!(
            !allowed("endOfSale", "orderable")
                && !allowed("obsolete", "orderable")
                && !allowed("orderable", "orderable")
        );
    }
}
