//! The Legato Service Catalog's lifecycle: every service specification the SOF realises is
//! listed `ACTIVE` until an operator moves it to another `lifecycleStatus` or withdraws it from
//! the catalog (and may publish it again). Each change is announced to every BUS with a catalog
//! hub: `serviceSpecificationChangeNotification`, `…DeleteNotification` when withdrawn,
//! `…CreateNotification` when published again. Only an `ACTIVE` or `LAUNCHED` specification
//! takes new services.

use crate::services::{CATALOG, ServiceSpecification};
use crate::{Sof, SofError};
use lso_model::{DateTime, Violation, ViolationCode};
use lso_store::{ListQuery, NewEvent, Record, WriteOp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The API key of the Service Catalog's hubs.
pub const CATALOG_API: &str = "legatoServiceCatalog";
/// Where Service Catalog notifications go.
const CATALOG_LISTENER: &str = "/mefApi/legato/serviceCatalog/v4/listener/";
/// The store kind of a specification's place in the catalog, once an operator changed it.
const SPECIFICATION_STATE: &str = "serviceSpecificationState";
const OWNER: &str = "catalog";

/// The lifecycle statuses of a service specification (Legato Service Catalog 4.0.0-RC).
pub const STATUSES: [&str; 8] =
    ["IN_STUDY", "IN_DESIGN", "IN_TEST", "LAUNCHED", "ACTIVE", "RETIRED", "OBSOLETE", "REJECTED"];

/// The statuses in which a specification takes new services.
const ORDERABLE: [&str; 2] = ["ACTIVE", "LAUNCHED"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Standing {
    lifecycle_status: String,
    withdrawn: bool,
    last_update: String,
}

/// The catalog document of `spec` in `status`.
pub fn specification_document(spec: &ServiceSpecification, status: &str) -> Value {
    let version = spec.service_type.rsplit(':').nth(1).unwrap_or_default().trim_start_matches('v');
    json!({
        "@type": "ServiceSpecification",
        "id": spec.id,
        "href": format!("urn:lso:legato:serviceCatalog:serviceSpecification:{}", spec.id),
        "name": spec.name,
        "category": spec.category,
        "version": version,
        "isBundle": false,
        "lifecycleStatus": status,
        "targetServiceSchema": {"@type": spec.service_type, "@schemaLocation": format!("urn:lso:legato:serviceCatalog:schema:{}", spec.id)},
    })
}

fn known(id: &str) -> Result<&'static ServiceSpecification, SofError> {
    CATALOG.iter().find(|s| s.id == id).ok_or_else(|| SofError::NotFound(format!("no service specification `{id}`")))
}

impl Sof {
    async fn standing(&self, id: &str) -> Result<(Option<Record>, Standing), SofError> {
        let record = self.store.get(SPECIFICATION_STATE, Some(OWNER), id).await?;
        let standing = match &record {
            Some(record) => serde_json::from_str(&record.doc)
                .map_err(|e| SofError::Corrupt(format!("service specification {id}: {e}")))?,
            None => Standing { lifecycle_status: "ACTIVE".into(), withdrawn: false, last_update: String::new() },
        };
        Ok((record, standing))
    }

    /// The specifications in the catalog, each with its `lifecycleStatus` (one read for all).
    pub async fn service_specifications(&self) -> Result<Vec<(&'static ServiceSpecification, String)>, SofError> {
        let query = ListQuery {
            kind: SPECIFICATION_STATE.into(),
            tenant: Some(OWNER.into()),
            filters: Vec::new(),
            offset: 0,
            limit: CATALOG.len() as u64,
        };
        let mut changed = std::collections::HashMap::new();
        for record in self.store.list(query).await?.records {
            let standing: Standing = serde_json::from_str(&record.doc)
                .map_err(|e| SofError::Corrupt(format!("service specification {}: {e}", record.id)))?;
            changed.insert(record.id, standing);
        }
        Ok(CATALOG
            .iter()
            .filter_map(|spec| match changed.remove(spec.id) {
                Some(standing) if standing.withdrawn => None,
                Some(standing) => Some((spec, standing.lifecycle_status)),
                None => Some((spec, "ACTIVE".to_owned())),
            })
            .collect())
    }

    /// Specification `id` with its `lifecycleStatus`, unless it is not in the catalog.
    pub async fn service_specification(&self, id: &str) -> Result<(&'static ServiceSpecification, String), SofError> {
        let spec = known(id)?;
        let (_, standing) = self.standing(id).await?;
        if standing.withdrawn {
            return Err(SofError::NotFound(format!("service specification `{id}` is withdrawn from the catalog")));
        }
        Ok((spec, standing.lifecycle_status))
    }

    /// Why a new service of `service_type` cannot be had now, if it cannot.
    pub(crate) async fn not_orderable(&self, service_type: &str) -> Result<Option<String>, SofError> {
        let Some(spec) = CATALOG.iter().find(|s| s.service_type == service_type) else { return Ok(None) };
        let (_, standing) = self.standing(spec.id).await?;
        Ok(if standing.withdrawn {
            Some(format!("service specification `{}` is withdrawn from the catalog", spec.id))
        } else if !ORDERABLE.contains(&standing.lifecycle_status.as_str()) {
            Some(format!(
                "service specification `{}` is {}: it takes no new services",
                spec.id, standing.lifecycle_status
            ))
        } else {
            None
        })
    }

    /// Puts specification `id` in `status`, publishing it again when it was withdrawn; the
    /// document as it is now.
    pub async fn set_service_specification_status(&self, id: &str, status: &str) -> Result<Value, SofError> {
        let spec = known(id)?;
        if !STATUSES.contains(&status) {
            return Err(SofError::Invalid(vec![Violation::new(
                ViolationCode::InvalidValue,
                "/lifecycleStatus",
                format!("use one of {}", STATUSES.join(", ")),
            )]));
        }
        let (record, standing) = self.standing(id).await?;
        let event_type = if standing.withdrawn {
            "serviceSpecificationCreateNotification"
        } else if standing.lifecycle_status != status {
            "serviceSpecificationChangeNotification"
        } else {
            return Ok(specification_document(spec, status));
        };
        let standing = Standing { lifecycle_status: status.into(), withdrawn: false, last_update: String::new() };
        self.record_standing(spec, record, standing, event_type).await?;
        Ok(specification_document(spec, status))
    }

    /// Withdraws specification `id` from the catalog.
    pub async fn withdraw_service_specification(&self, id: &str) -> Result<(), SofError> {
        let spec = known(id)?;
        let (record, standing) = self.standing(id).await?;
        if standing.withdrawn {
            return Err(SofError::NotFound(format!("service specification `{id}` is withdrawn already")));
        }
        let standing = Standing { withdrawn: true, ..standing };
        self.record_standing(spec, record, standing, "serviceSpecificationDeleteNotification").await
    }

    /// Stores where `spec` stands, and tells every BUS with a catalog hub with `event_type`.
    async fn record_standing(
        &self,
        spec: &ServiceSpecification,
        record: Option<Record>,
        mut standing: Standing,
        event_type: &str,
    ) -> Result<(), SofError> {
        let at = self.clock.now_millis();
        standing.last_update = DateTime::from_millis(at).as_str().to_owned();
        let doc = serde_json::to_string(&standing).map_err(|e| SofError::Corrupt(e.to_string()))?;
        let mut ops = vec![match record {
            Some(old) => WriteOp::Update { record: Record { version: old.version + 1, doc, ..old }, index: Vec::new() },
            None => WriteOp::Insert {
                record: Record {
                    kind: SPECIFICATION_STATE.into(),
                    id: spec.id.into(),
                    tenant: OWNER.into(),
                    version: 1,
                    doc,
                },
                index: Vec::new(),
            },
        }];
        let document = specification_document(spec, &standing.lifecycle_status);
        for client in self.store.hub_tenants(CATALOG_API).await? {
            let event_id = self.ids.next_id();
            let body = json!({"@type": "ServiceSpecificationNotification", "eventId": event_id, "eventType": event_type,
                              "eventTime": standing.last_update, "event": {"serviceSpecification": document}});
            ops.push(WriteOp::Publish(NewEvent {
                id: event_id,
                api: CATALOG_API.into(),
                tenant: client,
                event_type: event_type.into(),
                listener_path: format!("{CATALOG_LISTENER}{event_type}"),
                body: body.to_string(),
                ordering_key: spec.id.into(),
                at,
            }));
        }
        self.commit(ops).await
    }
}
