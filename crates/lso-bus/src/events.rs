//! Notification events, written to the outbox in the transaction of the change they announce.

use crate::hubs::HubApi;
use lso_mef_product::{DateTime, Event, EventPayload};
use lso_model::{IdGen, Tenant};
use lso_store::{NewEvent, WriteOp};

/// What an event is about.
pub struct Subject<'a> {
    /// The resource id (`event.id`).
    pub id: &'a str,
    /// Its path under the API base, e.g. `productOrder/{id}`.
    pub href: String,
    /// The order or quote item, for item events (MEF 123 R106, MEF 115 R57).
    pub item_id: Option<&'a str>,
    /// The milestone reached, for milestone events.
    pub milestone: Option<&'a str>,
    /// Events with the same key reach each listener in the order they were written.
    pub ordering_key: &'a str,
}

/// The outbox record of an `event_type` event about `subject` of `tenant`.
pub fn event(
    ids: &dyn IdGen,
    api: HubApi,
    tenant: &Tenant,
    event_type: &str,
    subject: Subject<'_>,
    at: &DateTime,
) -> WriteOp {
    let id = ids.next_id();
    let envelope = Event {
        event_id: id.clone(),
        event_time: at.clone(),
        event_type: event_type.to_owned(),
        event: EventPayload {
            id: subject.id.to_owned(),
            href: Some(format!("{}/{}", api.base(tenant.irp), subject.href)),
            order_item_id: subject.item_id.filter(|_| api == HubApi::Ordering).map(str::to_owned),
            quote_item_id: subject.item_id.filter(|_| api == HubApi::Quote).map(str::to_owned),
            poq_item_id: subject.item_id.filter(|_| api == HubApi::Qualification).map(str::to_owned),
            milestone_name: subject.milestone.map(str::to_owned),
            buyer_id: None,
            seller_id: None,
        },
    };
    WriteOp::Publish(NewEvent {
        id,
        api: api.key().to_owned(),
        tenant: tenant.key(),
        event_type: event_type.to_owned(),
        listener_path: format!("{}/listener/{event_type}", api.listener_base(tenant.irp)),
        body: serde_json::to_string(&envelope).unwrap_or_default(),
        ordering_key: subject.ordering_key.to_owned(),
        at: at.millis(),
    })
}
