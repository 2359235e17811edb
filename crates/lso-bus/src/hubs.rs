//! Notification subscriptions (`POST/GET/DELETE /hub`) of the product APIs.

use crate::{Bus, BusError};
use lso_mef_product::{
    EventSubscription, appointment_base, appointment_notification_base, billing_base, billing_notification_base,
    catalog_base, catalog_notification_base, inventory_base, inventory_notification_base, ordering_base,
    ordering_notification_base, poq_base, poq_notification_base, quote_base, quote_notification_base, ticket_base,
    ticket_notification_base, work_order_base, work_order_notification_base,
};
use lso_model::{Irp, Tenant};
use lso_notify::HubRequest;
use lso_store::{Hub, WriteOp};
use serde_json::{Map, Value};

/// Every event type of Product Ordering (`productOrderingNotification`).
pub const ORDERING_EVENT_TYPES: &[&str] = &[
    "productOrderStateChangeEvent",
    "productOrderItemStateChangeEvent",
    "productOrderItemExpectedCompletionDateSet",
    "productSpecificProductOrderItemMilestoneEvent",
    "cancelProductOrderStateChangeEvent",
    "chargeCreateEvent",
    "chargeStateChangeEvent",
    "chargeTimeoutEvent",
    "modifyProductOrderItemRequestedDeliveryDateStateChangeEvent",
];

/// The inventory event types `lso` adds to Product Inventory (MEF 116 defines none), named as
/// Legato Service Inventory names its own.
pub const INVENTORY_EVENT_TYPES: &[&str] =
    &["productCreateEvent", "productStatusChangeEvent", "productAttributeValueChangeEvent"];

/// Every event type of Product Catalog notifications (`productCatalogNotifications`), as the
/// events name themselves (their listener paths say `…StatusChangeEvent` where the type says
/// `…StateChangeEvent`).
pub const CATALOG_EVENT_TYPES: &[&str] = &[
    "categoryCreateEvent",
    "categoryAttributeValueChangeEvent",
    "categoryStateChangeEvent",
    "productOfferingCreateEvent",
    "productOfferingAttributeValueChangeEvent",
    "productOfferingStateChangeEvent",
    "productSpecificationCreateEvent",
    "productSpecificationAttributeValueChangeEvent",
    "productSpecificationStateChangeEvent",
];

/// Every event type of Trouble Ticket and Incident notifications (MEF 124 R55, R56).
pub const TICKET_EVENT_TYPES: &[&str] = &[
    "troubleTicketAttributeValueChangeEvent",
    "troubleTicketStatusChangeEvent",
    "troubleTicketResolvedEvent",
    "troubleTicketInformationRequiredEvent",
    "incidentCreateEvent",
    "incidentAttributeValueChangeEvent",
    "incidentStatusChangeEvent",
];

/// An API with notification hubs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubApi {
    /// Product Ordering Management.
    Ordering,
    /// Product Inventory.
    Inventory,
    /// Product Catalog.
    Catalog,
    /// Product Offering Qualification.
    Qualification,
    /// Quote Management.
    Quote,
    /// Trouble Ticket and Incident Management.
    Ticket,
    /// Appointment Management.
    Appointment,
    /// Work Order Management.
    WorkOrder,
    /// Customer Bill Management.
    Billing,
}

impl HubApi {
    /// The store key of its subscriptions.
    pub fn key(self) -> &'static str {
        match self {
            HubApi::Ordering => "productOrderingManagement",
            HubApi::Inventory => "productInventory",
            HubApi::Catalog => "productCatalog",
            HubApi::Qualification => "productOfferingQualification",
            HubApi::Quote => "quoteManagement",
            HubApi::Ticket => "troubleTicket",
            HubApi::Appointment => "appointment",
            HubApi::WorkOrder => "workOrderManagement",
            HubApi::Billing => "customerBillManagement",
        }
    }

    /// The Seller-side base path.
    pub fn base(self, irp: Irp) -> String {
        match self {
            HubApi::Ordering => ordering_base(irp),
            HubApi::Inventory => inventory_base(irp),
            HubApi::Catalog => catalog_base(irp),
            HubApi::Qualification => poq_base(irp),
            HubApi::Quote => quote_base(irp),
            HubApi::Ticket => ticket_base(irp),
            HubApi::Appointment => appointment_base(irp),
            HubApi::WorkOrder => work_order_base(irp),
            HubApi::Billing => billing_base(irp),
        }
    }

    /// The Buyer-side listener base path.
    pub fn listener_base(self, irp: Irp) -> String {
        match self {
            HubApi::Ordering => ordering_notification_base(irp),
            HubApi::Inventory => inventory_notification_base(irp),
            HubApi::Catalog => catalog_notification_base(irp),
            HubApi::Qualification => poq_notification_base(irp),
            HubApi::Quote => quote_notification_base(irp),
            HubApi::Ticket => ticket_notification_base(irp),
            HubApi::Appointment => appointment_notification_base(irp),
            HubApi::WorkOrder => work_order_notification_base(irp),
            HubApi::Billing => billing_notification_base(irp),
        }
    }

    /// Its event types.
    pub fn event_types(self) -> &'static [&'static str] {
        match self {
            HubApi::Ordering => ORDERING_EVENT_TYPES,
            HubApi::Inventory => INVENTORY_EVENT_TYPES,
            HubApi::Catalog => CATALOG_EVENT_TYPES,
            HubApi::Qualification => &["poqCreateEvent", "poqStateChangeEvent", "poqItemStateChangeEvent"],
            HubApi::Quote => &["quoteStateChangeEvent", "quoteItemStateChangeEvent"],
            HubApi::Ticket => TICKET_EVENT_TYPES,
            HubApi::Appointment => &["appointmentStatusChangeEvent", "appointmentAttributeValueChangeEvent"],
            HubApi::WorkOrder => {
                &["workOrderCreateEvent", "workOrderStateChangeEvent", "workOrderAppointmentRequiredEvent"]
            }
            HubApi::Billing => &["customerBillCreateEvent", "customerBillStateChangeEvent"],
        }
    }
}

fn subscription(hub: &Hub) -> EventSubscription {
    EventSubscription { id: hub.id.clone(), callback: hub.callback.clone(), query: hub.query.clone() }
}

impl Bus {
    /// Registers a listener of `tenant`. `buyer_id`/`seller_id` as given on the registration are
    /// repeated in every event it receives (MEF 123 R6).
    pub async fn register_hub(
        &self,
        api: HubApi,
        tenant: &Tenant,
        callback: &str,
        query: Option<&str>,
        buyer_id: Option<&str>,
        seller_id: Option<&str>,
    ) -> Result<EventSubscription, BusError> {
        let request = HubRequest::check(callback, query, api.event_types(), &self.config.self_addresses)
            .await
            .map_err(BusError::Invalid)?;
        let mut extra = Map::new();
        if let Some(buyer) = buyer_id {
            extra.insert("buyerId".into(), Value::from(buyer));
        }
        if let Some(seller) = seller_id {
            extra.insert("sellerId".into(), Value::from(seller));
        }
        let hub = Hub {
            id: self.ids.next_id(),
            api: api.key().to_owned(),
            tenant: tenant.key(),
            callback: request.callback,
            query: request.query,
            event_types: request.event_types,
            extra: Value::Object(extra).to_string(),
        };
        self.commit(vec![WriteOp::InsertHub(hub.clone())]).await?;
        Ok(subscription(&hub))
    }

    /// A listener of `tenant`.
    pub async fn hub(&self, api: HubApi, tenant: &Tenant, id: &str) -> Result<EventSubscription, BusError> {
        let hub = self.store.get_hub(api.key(), &tenant.key(), id).await?;
        hub.as_ref().map(subscription).ok_or_else(|| BusError::NotFound(format!("no hub with id `{id}`")))
    }

    /// Unregisters a listener of `tenant`; its pending deliveries are cancelled.
    pub async fn delete_hub(&self, api: HubApi, tenant: &Tenant, id: &str) -> Result<(), BusError> {
        let op = WriteOp::DeleteHub { api: api.key().to_owned(), tenant: tenant.key(), id: id.to_owned() };
        self.commit(vec![op]).await.map_err(|e| match e {
            BusError::NotFound(_) => BusError::NotFound(format!("no hub with id `{id}`")),
            other => other,
        })
    }
}
