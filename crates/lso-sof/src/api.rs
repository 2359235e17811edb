//! What the Legato API offers beyond creating orders: lists with filters, and the
//! notification hubs of Service Ordering and Service Inventory.

use crate::{INVENTORY_API, ORDERING_API, Sof, SofError};
#[cfg(doc)]
use crate::{SERVICE, SERVICE_ORDER};
use lso_notify::HubRequest;
use lso_store::{Filter, Hub, ListQuery, WriteOp};
use serde_json::{Value, json};

/// The event types of Service Ordering notifications (MEF 99).
pub const ORDERING_EVENT_TYPES: &[&str] = &[
    "serviceOrderCreateEvent",
    "serviceOrderStateChangeEvent",
    "serviceOrderItemStateChangeEvent",
    "serviceOrderInformationRequiredEvent",
];

/// The event types of Service Inventory notifications (MEF 135).
pub const INVENTORY_EVENT_TYPES: &[&str] =
    &["serviceCreateEvent", "serviceStateChangeEvent", "serviceAttributeValueChangeEvent", "serviceDeleteEvent"];

/// The event types of Service Catalog notifications.
pub const CATALOG_EVENT_TYPES: &[&str] = &[
    "serviceSpecificationCreateNotification",
    "serviceSpecificationChangeNotification",
    "serviceSpecificationDeleteNotification",
];

/// A Legato API with a hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegatoApi {
    /// Service Ordering.
    Ordering,
    /// Service Inventory.
    Inventory,
    /// Service Catalog.
    Catalog,
    /// Performance Monitoring.
    Performance,
    /// Allegro and Interlude service control (lso's own).
    ServiceControl,
}

impl LegatoApi {
    fn key(self) -> &'static str {
        match self {
            LegatoApi::Ordering => ORDERING_API,
            LegatoApi::Inventory => INVENTORY_API,
            LegatoApi::Catalog => crate::catalog::CATALOG_API,
            LegatoApi::Performance => crate::pm::PERFORMANCE_API,
            LegatoApi::ServiceControl => crate::control::SERVICE_CONTROL_API,
        }
    }

    fn event_types(self) -> &'static [&'static str] {
        match self {
            LegatoApi::Ordering => ORDERING_EVENT_TYPES,
            LegatoApi::Inventory => INVENTORY_EVENT_TYPES,
            LegatoApi::Catalog => CATALOG_EVENT_TYPES,
            LegatoApi::Performance => crate::pm::PERFORMANCE_EVENT_TYPES,
            LegatoApi::ServiceControl => &[crate::control::SERVICE_FAULT_EVENT],
        }
    }
}

fn subscription(hub: &Hub) -> Value {
    let mut value = json!({"id": hub.id, "callback": hub.callback});
    if let Some(query) = &hub.query {
        value["query"] = json!(query);
    }
    value
}

impl Sof {
    /// `listServiceOrder` and `listService`: a page of `client`'s service orders (`kind`
    /// [`SERVICE_ORDER`]) or services ([`SERVICE`]) matching `filters`, with the total.
    pub async fn list(
        &self,
        kind: &str,
        client: &str,
        filters: Vec<Filter>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Value>, lso_store::Total), SofError> {
        let page = self
            .store
            .list(ListQuery { kind: kind.into(), tenant: Some(client.into()), filters, offset, limit })
            .await?;
        let docs = page
            .records
            .iter()
            .map(|r| serde_json::from_str(&r.doc).map_err(|e| SofError::Corrupt(format!("{kind} {}: {e}", r.id))))
            .collect::<Result<Vec<Value>, _>>()?;
        Ok((docs, page.total))
    }

    /// `registerListener`: subscribes `client`'s `callback` to `api`'s events.
    pub async fn register_hub(
        &self,
        api: LegatoApi,
        client: &str,
        callback: &str,
        query: Option<&str>,
    ) -> Result<Value, SofError> {
        let request = HubRequest::check(callback, query, api.event_types(), &self.self_addresses)
            .await
            .map_err(SofError::Invalid)?;
        let hub = Hub {
            id: self.ids.next_id(),
            api: api.key().into(),
            tenant: client.into(),
            callback: request.callback,
            query: request.query,
            event_types: request.event_types,
            extra: "{}".into(),
        };
        let mut ops = vec![WriteOp::InsertHub(hub.clone())];
        if api == LegatoApi::Performance && hub.event_types.iter().any(|t| t == crate::pm::THRESHOLD_EVENT) {
            // Threshold crossing alerts go to the hubs that asked for them by name only.
            let alerts = Hub {
                id: format!("{}-alerts", hub.id),
                api: crate::pm::ALERTS_API.into(),
                event_types: vec![crate::pm::THRESHOLD_EVENT.into()],
                ..hub.clone()
            };
            ops.push(WriteOp::InsertHub(alerts));
        }
        self.commit(ops).await?;
        Ok(subscription(&hub))
    }

    /// `retrieveHub`.
    pub async fn hub(&self, api: LegatoApi, client: &str, id: &str) -> Result<Value, SofError> {
        let hub = self.store.get_hub(api.key(), client, id).await?;
        hub.as_ref().map(subscription).ok_or_else(|| SofError::NotFound(format!("no hub with id `{id}`")))
    }

    /// `unregisterListener`.
    pub async fn delete_hub(&self, api: LegatoApi, client: &str, id: &str) -> Result<(), SofError> {
        if api == LegatoApi::Performance {
            let alerts = format!("{id}-alerts");
            let op = WriteOp::DeleteHub { api: crate::pm::ALERTS_API.into(), tenant: client.into(), id: alerts };
            match self.commit(vec![op]).await {
                Ok(()) | Err(SofError::NotFound(_)) => {}
                Err(other) => return Err(other),
            }
        }
        let op = WriteOp::DeleteHub { api: api.key().into(), tenant: client.into(), id: id.into() };
        self.commit(vec![op]).await.map_err(|e| match e {
            SofError::NotFound(_) => SofError::NotFound(format!("no hub with id `{id}`")),
            other => other,
        })
    }
}
