//! Service orchestration (SOF): Legato Service Ordering (MEF 99) and Service Inventory
//! (MEF 135) for a BUS, realised on the network through ICM.
//!
//! A service order is stored as the BUS sent it, with the SOF's attributes added, and advanced
//! by a durable job (`sof.advanceServiceOrder`): each step realises the items whose related
//! items are done and commits the order, the services and the notifications together. The
//! network work of a step (ICM reservations, element configuration) is idempotent, so a step
//! interrupted by a crash is simply run again.

mod api;
pub mod catalog;
mod control;
mod engine;
pub mod ip;
mod order;
pub mod pm;
pub mod services;
pub mod streams;

use lso_jobs::{JobHandler, StepResult};
use lso_legato::{BoxFuture, Legato};
use lso_model::{Clock, IdGen};
use lso_presto::{AlarmChange, Presto};
use lso_store::{Job, Record, Store};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::Notify;

pub use api::{INVENTORY_EVENT_TYPES, LegatoApi, ORDERING_EVENT_TYPES};
pub use control::{FaultListener, PolicyChange, ce_vlan_endpoints, policy_range};
pub use engine::{ADVANCE_SERVICE_ORDER, RELEASE_CONNECTIVITY};

/// Stored service orders.
pub const SERVICE_ORDER: &str = "serviceOrder";
/// Stored services.
pub const SERVICE: &str = "service";
/// Which service holds which interface.
pub(crate) const INTERFACE_CLAIM: &str = "sofInterfaceClaim";
/// The policy of each service: what its user may change, within which range.
pub const SERVICE_POLICY: &str = "servicePolicy";
/// The API name of Service Ordering notifications.
pub const ORDERING_API: &str = "legatoServiceOrdering";
/// The API name of Service Inventory notifications.
pub const INVENTORY_API: &str = "legatoServiceInventory";

/// What the SOF can answer instead of a result: the family every entity shares.
pub type SofError = lso_model::EntityError;

/// Whom a notification goes to: the hubs of `api` of `client`, at `{listener}{eventType}`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Audience<'a> {
    pub(crate) api: &'a str,
    pub(crate) client: &'a str,
    pub(crate) listener: &'a str,
}

/// The service orchestration of this process.
pub struct Sof {
    store: Store,
    presto: Arc<dyn Presto>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    self_addresses: lso_notify::SelfAddresses,
    wake: Arc<Notify>,
    streams: tokio::sync::broadcast::Sender<streams::StreamMessage>,
    /// The service orders whose step was committed, for the BUS to look at.
    moves: tokio::sync::broadcast::Sender<lso_legato::ServiceOrderMove>,
    /// Where access links get their subnets.
    ip_pool: ip::Ipv4Pool,
}

impl Sof {
    /// The SOF over `store`, realising services on the network through `presto` (this
    /// process's ICM, or another's over the NRP API); hub callbacks must not point at
    /// `self_addresses`.
    pub fn new(
        store: Store,
        presto: Arc<dyn Presto>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
        self_addresses: lso_notify::SelfAddresses,
    ) -> Self {
        let (streams, _) = tokio::sync::broadcast::channel(1024);
        let (moves, _) = tokio::sync::broadcast::channel(4096);
        Sof {
            store,
            presto,
            clock,
            ids,
            self_addresses,
            wake: Arc::new(Notify::new()),
            streams,
            moves,
            ip_pool: ip::Ipv4Pool::default(),
        }
    }

    /// The SOF, its access links getting their subnets from `pool`.
    pub fn with_ip_pool(mut self, pool: ip::Ipv4Pool) -> Self {
        self.ip_pool = pool;
        self
    }

    async fn commit(&self, ops: Vec<lso_store::WriteOp>) -> Result<(), SofError> {
        self.store.apply(ops).await?;
        self.wake.notify_waiters();
        Ok(())
    }

    async fn load(&self, kind: &str, client: Option<&str>, id: &str) -> Result<(Record, Value), SofError> {
        let record =
            self.store.get(kind, client, id).await?.ok_or_else(|| SofError::NotFound(format!("no {kind} {id}")))?;
        let doc = serde_json::from_str(&record.doc).map_err(|e| SofError::Corrupt(format!("{kind} {id}: {e}")))?;
        Ok((record, doc))
    }

    /// `createServiceOrder` for `client`.
    pub async fn accept_order(&self, client: &str, order: Value) -> Result<Value, SofError> {
        self.accept(client, order).await
    }

    /// Service order or service (`kind` [`SERVICE_ORDER`] or [`SERVICE`]) `id` of `client`.
    pub async fn document(&self, kind: &str, client: &str, id: &str) -> Result<Value, SofError> {
        Ok(self.load(kind, Some(client), id).await?.1)
    }

    /// Tells `services`, those an alarm raised or cleared (`change`) touches: a note from the
    /// SOF on each and a `serviceAttributeValueChangeEvent`.
    pub async fn on_alarm(&self, change: &AlarmChange, services: &[String]) -> Result<(), SofError> {
        let (alarm, verb) = match change {
            AlarmChange::Raised(alarm) => (alarm, "raised"),
            AlarmChange::Cleared(alarm) => (alarm, "cleared"),
        };
        let place = alarm.port.as_ref().map_or(alarm.element.clone(), |p| format!("{}:{p}", alarm.element));
        let text = format!("fault {verb}: {} at {place} ({})", alarm.kind.as_str(), alarm.detail);
        for service in services {
            self.note_service(service, &text).await?;
        }
        Ok(())
    }

    /// The write announcing `event` of `event_type` to `client`'s hubs of `api`, at
    /// `{listener}{event_type}`, in order with the other events about `key`.
    pub(crate) fn notice(
        &self,
        to: Audience<'_>,
        event_type: &str,
        event: Value,
        key: &str,
        at: i64,
    ) -> lso_store::WriteOp {
        let event_id = self.ids.next_id();
        let body = serde_json::json!({"eventId": event_id, "eventTime": lso_model::DateTime::from_millis(at).as_str(),
                                      "eventType": event_type, "event": event});
        lso_store::WriteOp::Publish(lso_store::NewEvent {
            id: event_id,
            api: to.api.into(),
            tenant: to.client.into(),
            event_type: event_type.into(),
            listener_path: format!("{}{event_type}", to.listener),
            body: body.to_string(),
            ordering_key: key.into(),
            at,
        })
    }

    async fn note_service(&self, id: &str, text: &str) -> Result<(), SofError> {
        let Ok((record, mut service)) = self.load(SERVICE, None, id).await else { return Ok(()) };
        let now = self.clock.now_millis();
        let date = lso_model::DateTime::from_millis(now);
        let note = serde_json::json!({"author": "sof", "date": date.as_str(), "source": "sof", "text": text, "id": self.ids.next_id()});
        engine::push(&mut service, "note", note);
        let to = Audience { api: INVENTORY_API, client: &record.tenant, listener: engine::INVENTORY_LISTENER };
        let subject = serde_json::json!({"id": id, "href": service["href"], "state": service["state"]});
        let event = self.notice(to, "serviceAttributeValueChangeEvent", subject, id, now);
        let index = order::service_index(&service);
        let updated = Record { version: record.version + 1, doc: service.to_string(), ..record };
        self.commit(vec![lso_store::WriteOp::Update { record: updated, index }, event]).await
    }

    /// The policy of service `id`: what its user may change, within which range.
    pub async fn policy_of(&self, id: &str) -> Result<Value, SofError> {
        Ok(self.load(SERVICE_POLICY, None, id).await?.1)
    }

    /// Whether a service holds interface `name`.
    pub async fn interface_taken(&self, name: &str) -> Result<bool, SofError> {
        Ok(self.store.get(INTERFACE_CLAIM, None, name).await?.is_some())
    }

    /// Every service of `client` whose `externalId` is `external_id`.
    pub async fn find_services(&self, client: &str, external_id: &str) -> Result<Vec<Value>, SofError> {
        let query = lso_store::ListQuery {
            kind: SERVICE.into(),
            tenant: Some(client.into()),
            filters: vec![lso_store::Filter {
                name: "externalId".into(),
                condition: lso_store::Condition::Eq(external_id.into()),
            }],
            offset: 0,
            limit: 100,
        };
        let page = self.store.list(query).await?;
        page.records
            .iter()
            .map(|r| serde_json::from_str(&r.doc).map_err(|e| SofError::Corrupt(format!("service {}: {e}", r.id))))
            .collect()
    }
}

impl Legato for Sof {
    fn create_service_order<'a>(&'a self, client: &'a str, order: Value) -> BoxFuture<'a, Result<Value, SofError>> {
        Box::pin(self.accept_order(client, order))
    }

    fn service_order<'a>(&'a self, client: &'a str, id: &'a str) -> BoxFuture<'a, Result<Value, SofError>> {
        Box::pin(self.document(SERVICE_ORDER, client, id))
    }

    fn service<'a>(&'a self, client: &'a str, id: &'a str) -> BoxFuture<'a, Result<Value, SofError>> {
        Box::pin(self.document(SERVICE, client, id))
    }

    fn service_order_by_external_id<'a>(
        &'a self,
        client: &'a str,
        external_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, SofError>> {
        Box::pin(self.order_by_external_id(client, external_id))
    }

    fn services_by_external_id<'a>(
        &'a self,
        client: &'a str,
        external_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, SofError>> {
        Box::pin(self.find_services(client, external_id))
    }

    fn service_order_moves(&self) -> Option<tokio::sync::broadcast::Receiver<lso_legato::ServiceOrderMove>> {
        Some(self.moves.subscribe())
    }
}

impl JobHandler for Sof {
    fn handles(&self, kind: &str) -> bool {
        kind == ADVANCE_SERVICE_ORDER || kind == RELEASE_CONNECTIVITY || kind == pm::MEASURE
    }

    fn run<'a>(&'a self, job: &'a Job) -> Pin<Box<dyn Future<Output = StepResult> + Send + 'a>> {
        Box::pin(self.run_job(job))
    }

    fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    fn traced(&self, kind: &str) -> bool {
        // A performance job measures every granularity period, for as long as it runs.
        kind != pm::MEASURE
    }

    fn committed(&self, job: &Job) {
        if job.kind == ADVANCE_SERVICE_ORDER {
            let owner: Value = serde_json::from_str(&job.payload).unwrap_or_default();
            let moved = lso_legato::ServiceOrderMove {
                id: job.key.clone(),
                client: owner["client"].as_str().unwrap_or_default().to_owned(),
                external_id: owner["externalId"].as_str().map(str::to_owned),
                trace: job.trace.clone(),
            };
            // Nobody listening is no fault: a BUS in another process asks instead.
            let _ = self.moves.send(moved);
        }
    }
}

#[cfg(test)]
mod tests;
