//! Advancing a service order: `acknowledged → inProgress`, then each item whose related items
//! are done is realised (MEF 99 §4.5), and the order ends `completed`, `failed` or `partial`.
//!
//! Realising an item: an interface service takes its interface; a connection creates an ICM
//! connectivity service (path, S-VLANs, bandwidth, every element configured and read back);
//! a delete gives back what the service held. When a connection cannot be made, ICM has
//! undone what it did, or, where an element could not be cleaned, a `sof.releaseConnectivity`
//! job keeps trying until it can (compensation).

use crate::order::{ORDER_LISTENER, order_index, service_index, service_record};
use crate::services::{ConnectionConfig, InterfaceConfig, ServiceKind, read_config};
use crate::{INTERFACE_CLAIM, INVENTORY_API, ORDERING_API, SERVICE, SERVICE_ORDER, SERVICE_POLICY, Sof, SofError};
use lso_jobs::{JobFailure, Step, StepResult};
use lso_model::DateTime;
use lso_presto::{ConnectivityRequest, InterfaceKind, PrestoError, ServiceEndpoint};
use lso_store::{IndexEntry, Job, ListQuery, NewEvent, Record, WriteOp};
use serde_json::{Value, json};

/// Where Service Inventory notifications go.
pub(crate) const INVENTORY_LISTENER: &str = "/mefApi/legato/serviceInventoryNotification/v5/listener/";

/// The job advancing a service order.
pub const ADVANCE_SERVICE_ORDER: &str = "sof.advanceServiceOrder";
/// The job removing a connectivity service that could not be removed at once.
pub const RELEASE_CONNECTIVITY: &str = "sof.releaseConnectivity";

/// A service order event (MEF 99 §6.4).
pub(crate) fn order_event(order: &Value, client: &str, event_type: &str, at: i64, event_id: &str) -> NewEvent {
    let id = order["id"].as_str().unwrap_or_default();
    let mut event = json!({"id": id, "href": order["href"], "state": order["state"]});
    if let Some(item) = order.get("orderItemId") {
        event["orderItemId"] = item.clone();
    }
    NewEvent {
        id: event_id.to_owned(),
        api: ORDERING_API.into(),
        tenant: client.into(),
        event_type: event_type.into(),
        listener_path: format!("{ORDER_LISTENER}{event_type}"),
        body: json!({"eventId": event_id, "eventTime": DateTime::from_millis(at).as_str(), "eventType": event_type, "event": event})
            .to_string(),
        ordering_key: id.to_owned(),
        at,
    }
}

/// What became of one item.
enum Realised {
    /// Done.
    Completed,
    /// It cannot be done; the reason is for the BUS.
    Failed(String),
}

/// What a step of an order writes besides the order.
struct Writes {
    ops: Vec<WriteOp>,
    client: String,
    now: i64,
}

impl Writes {
    fn event(&mut self, sof: &Sof, api: &str, listener: &str, event_type: &str, subject: Value, key: &str) {
        let to = crate::Audience { api, client: &self.client, listener };
        let notice = sof.notice(to, event_type, subject, key, self.now);
        self.ops.push(notice);
    }

    fn service_event(&mut self, sof: &Sof, event_type: &str, service: &Value) {
        let id = service["id"].as_str().unwrap_or_default().to_owned();
        let subject = json!({"id": id, "href": service["href"], "state": service["state"]});
        self.event(sof, INVENTORY_API, INVENTORY_LISTENER, event_type, subject, &id);
    }
}

fn failure(err: SofError) -> JobFailure {
    JobFailure { retry_now: matches!(err, SofError::Conflict(_)), message: err.to_string() }
}

impl Sof {
    pub(crate) async fn run_job(&self, job: &Job) -> StepResult {
        match job.kind.as_str() {
            ADVANCE_SERVICE_ORDER => self.advance(&job.key).await.map_err(failure),
            crate::pm::MEASURE => self.measure(&job.key).await.map_err(failure),
            _ => match self.presto.delete_connectivity(&job.key).await {
                Ok(_) => Ok((Vec::new(), Step::Done)),
                Err(err) => Err(JobFailure { retry_now: false, message: err.to_string() }),
            },
        }
    }

    async fn advance(&self, id: &str) -> Result<(Vec<WriteOp>, Step), SofError> {
        let record = self.store.get(SERVICE_ORDER, None, id).await?.ok_or_else(|| SofError::NotFound(id.into()))?;
        let mut order: Value =
            serde_json::from_str(&record.doc).map_err(|e| SofError::Corrupt(format!("{id}: {e}")))?;
        let original = order.clone();
        let now = self.clock.now_millis();
        let start =
            order["requestedStartDate"].as_str().and_then(|d| DateTime::parse(d).ok()).map_or(now, |d| d.millis());
        if order["state"] == "acknowledged" && start > now {
            // The BUS asked for the work to start later (MEF 99 R8): the order waits, acknowledged.
            return Ok((Vec::new(), Step::Again { at: start }));
        }
        let mut writes = Writes { ops: Vec::new(), client: record.tenant.clone(), now };
        if order["state"] == "acknowledged" {
            self.set_order_state(&mut order, "inProgress", &mut writes);
            order["startDate"] = json!(DateTime::from_millis(now).as_str());
            let count = order["serviceOrderItem"].as_array().map_or(0, Vec::len);
            for index in 0..count {
                self.set_item_state(&mut order, index, "inProgress", &mut writes);
            }
        }
        self.wait_for_other_orders(&mut order, &mut writes).await?;
        let mut waiting = Vec::new();
        while let Some(index) = self.next_ready_item(&mut order, &mut writes, &waiting) {
            if self.changed_earlier(&order, index).await? {
                waiting.push(index);
                continue;
            }
            let outcome = self.realise(&order, index, &mut writes).await?;
            match outcome {
                Realised::Completed => self.set_item_state(&mut order, index, "completed", &mut writes),
                Realised::Failed(reason) => {
                    order["serviceOrderItem"][index]["terminationError"] =
                        json!([{"code": "otherIssue", "value": reason}]);
                    self.set_item_state(&mut order, index, "failed", &mut writes);
                }
            }
        }
        let states: Vec<&str> = order["serviceOrderItem"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| i["state"].as_str().unwrap_or_default())
            .collect();
        let step = if states.iter().all(|s| matches!(*s, "completed" | "failed")) {
            let end = if states.iter().all(|s| *s == "completed") {
                "completed"
            } else if states.iter().all(|s| *s == "failed") {
                "failed"
            } else {
                "partial"
            };
            // After the network work of this step, which the step began before.
            order["completionDate"] = json!(DateTime::from_millis(self.clock.now_millis()).as_str());
            self.set_order_state(&mut order, end, &mut writes);
            Step::Done
        } else if waiting.is_empty() {
            // Pending while an item waits for another order, in progress otherwise (MEF 99).
            let state = if states.contains(&"pending") { "pending" } else { "inProgress" };
            self.set_order_state(&mut order, state, &mut writes);
            Step::Again { at: now + 1000 }
        } else {
            // The change before it is a network change of a few hundred milliseconds.
            Step::Again { at: now + 100 }
        };
        // A step that changed nothing (an item still waiting) writes nothing: an order pending
        // for a day is looked at, not rewritten, every second.
        if writes.ops.is_empty() && order == original {
            return Ok((Vec::new(), step));
        }
        let index = order_index(&order);
        let updated = Record { version: record.version + 1, doc: order.to_string(), ..record };
        let mut ops = vec![WriteOp::Update { record: updated, index }];
        ops.append(&mut writes.ops);
        Ok((ops, step))
    }

    fn set_order_state(&self, order: &mut Value, state: &str, writes: &mut Writes) {
        if order["state"] != state {
            order["state"] = json!(state);
            writes.ops.push(WriteOp::Publish(order_event(
                order,
                &writes.client,
                "serviceOrderStateChangeEvent",
                writes.now,
                &self.ids.next_id(),
            )));
        }
    }

    fn set_item_state(&self, order: &mut Value, index: usize, state: &str, writes: &mut Writes) {
        let item = &mut order["serviceOrderItem"][index];
        if item["state"] == state {
            return;
        }
        item["state"] = json!(state);
        let item_id = item["id"].clone();
        let mut subject = order.clone();
        subject["orderItemId"] = item_id;
        writes.ops.push(WriteOp::Publish(order_event(
            &subject,
            &writes.client,
            "serviceOrderItemStateChangeEvent",
            writes.now,
            &self.ids.next_id(),
        )));
    }

    /// Whether item `index` changes (modifies or deletes) a service that an order accepted
    /// before this one has yet to change: changes of one service are made one at a time, in
    /// the order they were accepted.
    async fn changed_earlier(&self, order: &Value, index: usize) -> Result<bool, SofError> {
        let item = &order["serviceOrderItem"][index];
        let Some(service) = item["service"]["id"].as_str().filter(|_| item["action"] != "add") else {
            return Ok(false);
        };
        let query = ListQuery {
            kind: SERVICE_ORDER.into(),
            tenant: None,
            filters: vec![lso_store::Filter {
                name: crate::order::SERVICE_ID.into(),
                condition: lso_store::Condition::Eq(service.into()),
            }],
            offset: 0,
            limit: 1000,
        };
        // Newest first: the orders after this one come before it.
        let page = self.store.list(query).await?;
        let earlier = page.records.iter().skip_while(|r| order["id"] != r.id.as_str()).skip(1);
        for record in earlier {
            let other: Value = serde_json::from_str(&record.doc)
                .map_err(|e| SofError::Corrupt(format!("service order {}: {e}", record.id)))?;
            let unfinished = other["serviceOrderItem"].as_array().into_iter().flatten().any(|i| {
                i["service"]["id"] == service
                    && i["action"] != "add"
                    && matches!(i["state"].as_str(), Some("acknowledged" | "inProgress"))
            });
            if unfinished {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Items related to items of other service orders (MEF 99 R21, R22) wait for them: an item
    /// goes `pending` while one has not completed, with a note saying which, and the BUS is
    /// told the order needs that first (`serviceOrderInformationRequiredEvent`); it goes back
    /// `inProgress` once they have all completed, and fails when one of them did not.
    async fn wait_for_other_orders(&self, order: &mut Value, writes: &mut Writes) -> Result<(), SofError> {
        let count = order["serviceOrderItem"].as_array().map_or(0, Vec::len);
        for index in 0..count {
            let item = order["serviceOrderItem"][index].clone();
            if !matches!(item["state"].as_str(), Some("inProgress" | "pending")) {
                continue;
            }
            let (mut awaited, mut failed) = (Vec::new(), None);
            for relation in item["serviceOrderItemRelationship"].as_array().into_iter().flatten() {
                let Some(other) = relation["orderItem"]["serviceOrderId"].as_str() else { continue };
                let item_id = relation["orderItem"]["itemId"].as_str().unwrap_or_default();
                let named = format!("item {item_id} of service order {other}");
                match self.item_state(&writes.client, other, item_id).await?.as_deref() {
                    Some("completed") => {}
                    Some("acknowledged" | "inProgress" | "pending" | "held") => awaited.push(named),
                    _ => failed = Some(format!("{named}, which it relates to, did not complete")),
                }
            }
            if let Some(reason) = failed {
                order["serviceOrderItem"][index]["terminationError"] = json!([{"code": "otherIssue", "value": reason}]);
                self.set_item_state(order, index, "failed", writes);
            } else if awaited.is_empty() {
                self.set_item_state(order, index, "inProgress", writes);
            } else if item["state"] == "inProgress" {
                let text = format!("waits for {} to complete", awaited.join(" and "));
                let note = json!({"id": self.ids.next_id(), "author": "lso SOF", "date": DateTime::from_millis(writes.now).as_str(),
                                  "source": "sof", "text": text});
                push(&mut order["serviceOrderItem"][index], "note", note);
                self.set_item_state(order, index, "pending", writes);
                let event = order_event(
                    order,
                    &writes.client,
                    "serviceOrderInformationRequiredEvent",
                    writes.now,
                    &self.ids.next_id(),
                );
                writes.ops.push(WriteOp::Publish(event));
            }
        }
        Ok(())
    }

    /// The state of item `item` of `client`'s service order `order`, if there is one.
    pub(crate) async fn item_state(&self, client: &str, order: &str, item: &str) -> Result<Option<String>, SofError> {
        let Some(record) = self.store.get(SERVICE_ORDER, Some(client), order).await? else { return Ok(None) };
        let other: Value =
            serde_json::from_str(&record.doc).map_err(|e| SofError::Corrupt(format!("service order {order}: {e}")))?;
        let items = other["serviceOrderItem"].as_array().cloned().unwrap_or_default();
        Ok(items.iter().find(|i| i["id"] == item).and_then(|i| i["state"].as_str()).map(str::to_owned))
    }

    /// The first `inProgress` item not `waiting` whose related items have completed; an item
    /// whose related item failed fails too.
    fn next_ready_item(&self, order: &mut Value, writes: &mut Writes, waiting: &[usize]) -> Option<usize> {
        let items = order["serviceOrderItem"].as_array()?.clone();
        let state_of = |id: &str| {
            items.iter().find(|i| i["id"] == id).and_then(|i| i["state"].as_str()).unwrap_or("completed").to_owned()
        };
        for (index, item) in
            items.iter().enumerate().filter(|(n, i)| i["state"] == "inProgress" && !waiting.contains(n))
        {
            let related: Vec<String> = item["serviceOrderItemRelationship"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["orderItem"]["serviceOrderId"].is_null())
                .filter_map(|r| r["orderItem"]["itemId"].as_str().map(&state_of))
                .collect();
            if related.iter().any(|s| s == "failed") {
                order["serviceOrderItem"][index]["terminationError"] =
                    json!([{"code": "otherIssue", "value": "an item it relates to failed"}]);
                self.set_item_state(order, index, "failed", writes);
                return self.next_ready_item(order, writes, waiting);
            }
            if related.iter().all(|s| s == "completed") {
                return Some(index);
            }
        }
        None
    }

    /// Realises item `index` and writes the service it touches.
    async fn realise(&self, order: &Value, index: usize, writes: &mut Writes) -> Result<Realised, SofError> {
        let item = &order["serviceOrderItem"][index];
        let service_id = item["service"]["id"].as_str().unwrap_or_default().to_owned();
        let reference = json!({"serviceOrderId": order["id"], "serviceOrderHref": order["href"], "itemId": item["id"], "itemAction": item["action"]});
        match item["action"].as_str() {
            Some("add") => {
                let mut service = item["service"].clone();
                service["serviceDate"] = json!(DateTime::from_millis(writes.now).as_str());
                service["serviceOrderItem"] = json!([reference]);
                let outcome = self.bring_up(&mut service).await?;
                service["state"] = json!(match &outcome {
                    Ok(()) => item["service"]["state"].as_str().unwrap_or("active"),
                    Err(_) => "terminated",
                });
                if outcome.is_ok() {
                    service["startDate"] = json!(DateTime::from_millis(writes.now).as_str());
                    writes.ops.push(self.policy(&service, &writes.client).await);
                } else {
                    service["endDate"] = json!(DateTime::from_millis(writes.now).as_str());
                }
                service["href"] = json!(self.service_href(&service_id));
                if self.store.get(SERVICE, None, &service_id).await?.is_none() {
                    writes.ops.push(WriteOp::Insert {
                        record: service_record(&writes.client, &service),
                        index: service_index(&service),
                    });
                    writes.service_event(self, "serviceCreateEvent", &service);
                }
                Ok(outcome.map_or_else(Realised::Failed, |()| Realised::Completed))
            }
            Some("modify") => {
                let (record, mut service) = self.load(SERVICE, Some(&writes.client), &service_id).await?;
                let mut wanted = service.clone();
                wanted["serviceConfiguration"] = item["service"]["serviceConfiguration"].clone();
                let outcome = self.change(&service, &mut wanted).await?;
                if outcome.is_ok() {
                    service["serviceConfiguration"] = wanted["serviceConfiguration"].clone();
                    writes.ops.push(self.policy(&service, &writes.client).await);
                }
                crate::engine::push(&mut service, "serviceOrderItem", reference);
                self.update_service(record, &service, writes, "serviceAttributeValueChangeEvent");
                Ok(outcome.map_or_else(Realised::Failed, |()| Realised::Completed))
            }
            _ => {
                let (record, mut service) = self.load(SERVICE, Some(&writes.client), &service_id).await?;
                if let Some(user) = self.user_of(&service, &writes.client).await? {
                    return Ok(Realised::Failed(format!("service {user} still uses this service; delete it first")));
                }
                self.tear_down(&service).await?;
                service["state"] = json!("terminated");
                service["endDate"] = json!(DateTime::from_millis(writes.now).as_str());
                crate::engine::push(&mut service, "serviceOrderItem", reference);
                writes.ops.push(WriteOp::Delete { kind: SERVICE_POLICY.into(), id: service_id.clone() });
                self.update_service(record, &service, writes, "serviceStateChangeEvent");
                // Terminated by a delete, it is retired (MEF 99): out of service for good, its
                // record kept for the history of what was delivered.
                writes.service_event(self, "serviceDeleteEvent", &service);
                Ok(Realised::Completed)
            }
        }
    }

    fn update_service(&self, record: Record, service: &Value, writes: &mut Writes, event_type: &str) {
        let index = service_index(service);
        writes.ops.push(WriteOp::Update {
            record: Record { version: record.version + 1, doc: service.to_string(), ..record },
            index,
        });
        writes.service_event(self, event_type, service);
    }

    /// Makes `service` exist on the network; `Err` says why it cannot. A connection asked to
    /// be in another state than `active` (checked, designed, reserved, inactive) is recorded
    /// in that state and not configured.
    async fn bring_up(&self, service: &mut Value) -> Result<Result<(), String>, SofError> {
        let configuration = &service["serviceConfiguration"];
        let id = service["id"].as_str().unwrap_or_default();
        let active = service["state"].as_str().is_none_or(|s| s == "active");
        let service_type = configuration["@type"].as_str().unwrap_or_default();
        match ServiceKind::of(service_type) {
            Some(ServiceKind::Connection | ServiceKind::IpAccess) if !active => Ok(Ok(())),
            Some(ServiceKind::Interface) => {
                let config: InterfaceConfig = read_config(configuration).map_err(SofError::Corrupt)?;
                let kind = crate::services::interface_kind(service_type);
                self.claim_interface(id, config.interface, &service["place"], kind).await
            }
            Some(ServiceKind::IpAccess) => self.bring_up_ipvc(service, false).await,
            Some(ServiceKind::Connection) => {
                let config: ConnectionConfig = read_config(configuration).map_err(SofError::Corrupt)?;
                self.connect(id, &config).await
            }
            _ => Ok(Ok(())),
        }
    }

    /// Gives back what `service` holds on the network.
    async fn tear_down(&self, service: &Value) -> Result<(), SofError> {
        let id = service["id"].as_str().unwrap_or_default();
        match ServiceKind::of(service["serviceConfiguration"]["@type"].as_str().unwrap_or_default()) {
            Some(ServiceKind::Interface) => self.release_claim(id).await,
            Some(ServiceKind::IpAccess) => self.tear_down_ipvc(id).await,
            Some(ServiceKind::Connection) => {
                self.presto
                    .delete_connectivity(id)
                    .await
                    .map_err(|e| SofError::Unreachable(format!("the network could not remove {id}: {e}")))?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Changes a running connection or IP access to `wanted` through ICM, which makes a change
    /// of rate alone in place (make before break) and keeps the old service when the network
    /// cannot carry the new one. An IP access keeps its IP UNI and its subnet. A service not on
    /// the network (not active) is brought up as `wanted`.
    async fn change(&self, service: &Value, wanted: &mut Value) -> Result<Result<(), String>, SofError> {
        let id = service["id"].as_str().unwrap_or_default();
        let kind = ServiceKind::of(service["serviceConfiguration"]["@type"].as_str().unwrap_or_default());
        if !matches!(kind, Some(ServiceKind::Connection | ServiceKind::IpAccess)) {
            return Ok(Ok(()));
        }
        let running = self.presto.connectivity_exists(id).await.map_err(|e| SofError::Unreachable(e.to_string()))?;
        match kind {
            Some(ServiceKind::IpAccess) => self.bring_up_ipvc(wanted, running).await,
            _ if !running => self.bring_up(wanted).await,
            _ => {
                let config: ConnectionConfig =
                    read_config(&wanted["serviceConfiguration"]).map_err(SofError::Corrupt)?;
                match self.connection_request(id, &config).await? {
                    Ok(request) => self.update(&request).await,
                    Err(reason) => Ok(Err(reason)),
                }
            }
        }
    }

    /// Changes connectivity service `request.uuid` to `request`; `Err` says why the network
    /// cannot carry it (the old one then stays).
    pub(crate) async fn update(&self, request: &ConnectivityRequest) -> Result<Result<(), String>, SofError> {
        match self.presto.update_connectivity(request).await {
            Ok(()) => Ok(Ok(())),
            Err(PrestoError::Unavailable(reason)) => Err(SofError::Unreachable(reason)),
            Err(other) => Ok(Err(other.to_string())),
        }
    }

    /// Takes `interface`, or a free interface of `kind` at the site of the service's
    /// `INSTALL_LOCATION` (an IP UNI anywhere when the service has no site).
    pub(crate) async fn claim_interface(
        &self,
        service: &str,
        interface: Option<String>,
        places: &Value,
        kind: InterfaceKind,
    ) -> Result<Result<(), String>, SofError> {
        if self.interface_of(service).await?.is_some() {
            return Ok(Ok(()));
        }
        let site = places.as_array().into_iter().flatten().find_map(|p| p["id"].as_str()).map(str::to_owned);
        let sips = self.presto.service_interface_points().await.map_err(|e| SofError::Unreachable(e.to_string()))?;
        let candidates: Vec<String> = sips
            .into_iter()
            .filter(|i| match &interface {
                Some(name) => &i.name == name,
                None => {
                    let anywhere = kind == InterfaceKind::IpUni && site.is_none();
                    i.kind == kind && (anywhere || site.is_some() && i.site == site)
                }
            })
            .map(|i| i.name)
            .collect();
        if candidates.is_empty() {
            return Ok(Err(match (interface, site) {
                (Some(name), _) => format!("the network has no interface `{name}`"),
                (None, Some(site)) => {
                    let what = if kind == InterfaceKind::IpUni { "IP UNI" } else { "UNI" };
                    format!("the network has no {what} at site `{site}`")
                }
                (None, None) => "the service names neither an interface nor an INSTALL_LOCATION site".into(),
            }));
        }
        for candidate in &candidates {
            let claim = Record {
                kind: INTERFACE_CLAIM.into(),
                id: candidate.clone(),
                tenant: "sof".into(),
                version: 1,
                doc: json!({"service": service}).to_string(),
            };
            match self
                .store
                .apply(vec![WriteOp::Insert { record: claim, index: vec![IndexEntry::new("service", service)] }])
                .await
            {
                Ok(()) => return Ok(Ok(())),
                Err(lso_store::StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Ok(Err(format!("every matching interface is taken ({})", candidates.join(", "))))
    }

    /// The interface `service` holds, if any.
    pub async fn interface_of(&self, service: &str) -> Result<Option<String>, SofError> {
        let query = ListQuery {
            kind: INTERFACE_CLAIM.into(),
            tenant: Some("sof".into()),
            filters: vec![lso_store::Filter {
                name: "service".into(),
                condition: lso_store::Condition::Eq(service.into()),
            }],
            offset: 0,
            limit: 1,
        };
        Ok(self.store.list(query).await?.records.first().map(|r| r.id.clone()))
    }

    /// Creates the connectivity service of a connection.
    async fn connect(&self, id: &str, config: &ConnectionConfig) -> Result<Result<(), String>, SofError> {
        match self.connection_request(id, config).await? {
            Ok(request) => self.create(&request).await,
            Err(reason) => Ok(Err(reason)),
        }
    }

    /// The connectivity service a connection configured as `config` asks for.
    async fn connection_request(
        &self,
        id: &str,
        config: &ConnectionConfig,
    ) -> Result<Result<ConnectivityRequest, String>, SofError> {
        let mut endpoints = Vec::new();
        for endpoint in &config.end_points {
            let interface = match (&endpoint.service, &endpoint.interface) {
                (Some(service), _) => match self.interface_of(service).await? {
                    Some(interface) => interface,
                    None => return Ok(Err(format!("service {service} holds no interface"))),
                },
                (None, Some(interface)) => interface.clone(),
                (None, None) => return Ok(Err("an endpoint names no service and no interface".into())),
            };
            let leaf = endpoint.role == crate::services::EndpointRole::Leaf;
            endpoints.push(ServiceEndpoint { interface, vlans: endpoint.vlans.clone(), routed: None, leaf });
        }
        Ok(Ok(ConnectivityRequest { uuid: id.to_owned(), endpoints, cir_mbps: config.cir_mbps }))
    }

    /// Creates connectivity service `request`; `Err` says why the network cannot carry it.
    /// What an element could not undo at once is released in the background.
    pub(crate) async fn create(&self, request: &ConnectivityRequest) -> Result<Result<(), String>, SofError> {
        let id = request.uuid.as_str();
        let unavailable = |e: PrestoError| SofError::Unreachable(e.to_string());
        match self.presto.create_connectivity(request).await {
            Ok(()) => Ok(Ok(())),
            Err(PrestoError::Unavailable(reason)) => Err(SofError::Unreachable(reason)),
            Err(failed @ PrestoError::Element(_))
                if self.presto.connectivity_exists(id).await.map_err(unavailable)? =>
            {
                // The network could not be cleaned at once: keep trying in the background.
                let now = self.clock.now_millis();
                self.commit(vec![WriteOp::Enqueue {
                    kind: RELEASE_CONNECTIVITY.into(),
                    key: id.into(),
                    payload: String::new(),
                    run_at: now,
                }])
                .await?;
                Ok(Err(failed.to_string()))
            }
            Err(other) => Ok(Err(other.to_string())),
        }
    }

    /// The interfaces the endpoints of a connection are on.
    async fn configuration_interfaces(&self, service: &Value) -> Result<Vec<String>, SofError> {
        // An IP access is at the IP UNI its access link names.
        if let Some(interface) = service["serviceConfiguration"]["accessLink"]["interface"].as_str() {
            return Ok(vec![interface.to_owned()]);
        }
        let Ok(config) = read_config::<ConnectionConfig>(&service["serviceConfiguration"]) else {
            return Ok(Vec::new());
        };
        let mut names = Vec::new();
        for endpoint in config.end_points {
            match (endpoint.service, endpoint.interface) {
                (Some(service), _) => names.extend(self.interface_of(&service).await?),
                (None, Some(interface)) => names.push(interface),
                (None, None) => {}
            }
        }
        Ok(names)
    }

    /// Another service (not terminated) that uses `service` as an endpoint.
    async fn user_of(&self, service: &Value, client: &str) -> Result<Option<String>, SofError> {
        if ServiceKind::of(service["serviceConfiguration"]["@type"].as_str().unwrap_or_default())
            != Some(ServiceKind::Interface)
        {
            return Ok(None);
        }
        let id = service["id"].as_str().unwrap_or_default();
        let query = ListQuery {
            kind: SERVICE.into(),
            tenant: Some(client.into()),
            filters: vec![lso_store::Filter { name: "uses".into(), condition: lso_store::Condition::Eq(id.into()) }],
            offset: 0,
            limit: 10,
        };
        let page = self.store.list(query).await?;
        let running = |r: &&Record| serde_json::from_str::<Value>(&r.doc).is_ok_and(|d| d["state"] != "terminated");
        Ok(page.records.iter().find(running).map(|r| r.id.clone()))
    }

    /// The policy of `service`: what its user may change, within which range (used by Allegro
    /// and Interlude): the CIR of a connection or an IP access, up to the smallest capacity of its interfaces.
    async fn policy(&self, service: &Value, client: &str) -> WriteOp {
        let id = service["id"].as_str().unwrap_or_default();
        let max = match self.configuration_interfaces(service).await {
            Ok(names) if !names.is_empty() => match self.presto.service_interface_points().await {
                Ok(sips) => sips.iter().filter(|s| names.contains(&s.name)).map(|s| s.capacity_mbps).min().unwrap_or(0),
                Err(_) => 0,
            },
            _ => 0,
        };
        let mut changeable = serde_json::Map::new();
        if max > 0 {
            changeable.insert("cirMbps".into(), json!({"min": 1, "max": max}));
        }
        if !crate::control::ce_vlan_endpoints(&service["serviceConfiguration"]).is_empty() {
            changeable.insert("ceVlans".into(), json!({"min": 1, "max": 4094}));
        }
        let policy = json!({"service": id, "changeable": changeable});
        let record = Record {
            kind: SERVICE_POLICY.into(),
            id: id.into(),
            tenant: client.into(),
            version: 1,
            doc: policy.to_string(),
        };
        // A policy made before (a modify) is replaced.
        match self.store.get(SERVICE_POLICY, None, id).await {
            Ok(Some(old)) => {
                WriteOp::Update { record: Record { version: old.version + 1, ..record }, index: Vec::new() }
            }
            _ => WriteOp::Insert { record, index: Vec::new() },
        }
    }
}

/// Appends `value` to the array at `key`.
pub(crate) fn push(target: &mut Value, key: &str, value: Value) {
    match target.get_mut(key).and_then(Value::as_array_mut) {
        Some(items) => items.push(value),
        None => target[key] = json!([value]),
    }
}
