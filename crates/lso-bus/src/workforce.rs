//! Work orders and appointments (MEF 137). The Seller opens a work order when a technician must
//! visit a Buyer's site (a trouble ticket about an installation or maintenance with no fault
//! found on the network); the Buyer searches the technicians' calendar and books a visit. The
//! calendar is kept by `lso`: a slot is held by inserting one record per technician and slot, so
//! two bookings can never hold the same technician at the same time. At the appointment's start
//! the visit begins; at its end the work is done and the ticket resolved.

use crate::doc::{push, set};
use crate::hubs::HubApi;
use crate::tracked::Tracked;
use crate::{Bus, BusError};
use lso_jobs::Step;
use lso_model::DateTime;
use lso_model::ticket::TicketEvent;
use lso_model::workforce::{AppointmentStatus, VisitEvent, WorkOrderState};
use lso_model::{Tenant, Violation};
use lso_store::Selection;
use lso_store::{Filter, IndexEntry, ListQuery, Record, WriteOp, sortable_time};
use serde_json::{Value, json};

/// The store kind of work orders.
pub(crate) const WORK_ORDER: &str = "workorder";
/// The store kind of appointments.
pub(crate) const APPOINTMENT: &str = "appointment";
/// The store kind of a technician held for a slot: id `{start millis}:{technician}`.
pub(crate) const HELD: &str = "technicianSlot";
/// The job that starts and ends a visit.
pub(crate) const ADVANCE_VISIT: &str = "advanceAppointment";

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

/// The technicians' working time.
#[derive(Debug, Clone)]
pub struct WorkforcePolicy {
    /// How many technicians can visit at the same time.
    pub technicians: u32,
    /// The first hour of a working day (UTC), Monday to Friday.
    pub day_start_hour: i64,
    /// The hour a working day ends.
    pub day_end_hour: i64,
    /// How long a visit takes.
    pub visit_minutes: i64,
    /// Whether a product installed at a site (a UNI) needs a technician's visit before it is
    /// provisioned: the Seller's ports are not cabled to the Buyer's premises in advance.
    pub installation_visits: bool,
}

impl Default for WorkforcePolicy {
    fn default() -> Self {
        WorkforcePolicy {
            technicians: 2,
            day_start_hour: 8,
            day_end_hour: 18,
            visit_minutes: 120,
            installation_visits: false,
        }
    }
}

impl WorkforcePolicy {
    fn visit_millis(&self) -> i64 {
        self.visit_minutes * 60_000
    }

    /// Whether a visit may start at `start`: on a working day, on the grid of visits from the
    /// day's first hour, ending by the day's last.
    fn is_slot(&self, start: i64) -> bool {
        let day = start.div_euclid(DAY);
        let weekday = (day + 3).rem_euclid(7); // 1970-01-01 was a Thursday; 0 is Monday
        let offset = start - day * DAY - self.day_start_hour * HOUR;
        weekday < 5
            && offset >= 0
            && offset % self.visit_millis() == 0
            && start + self.visit_millis() <= day * DAY + self.day_end_hour * HOUR
    }

    /// The slot starts inside `[from, to]`, after `now`.
    fn slots(&self, from: i64, to: i64, now: i64) -> impl Iterator<Item = i64> + '_ {
        let first = from.max(now + 1).div_euclid(DAY) * DAY;
        let step = self.visit_millis();
        (0..)
            .map(move |n| first + n * step)
            .take_while(move |s| s + step <= to)
            .filter(move |s| *s >= from && *s > now && self.is_slot(*s))
    }
}

fn period(value: &Value) -> Option<(i64, i64)> {
    let start = DateTime::parse(value["startDateTime"].as_str()?).ok()?.millis();
    let end = DateTime::parse(value["endDateTime"].as_str()?).ok()?.millis();
    (start < end).then_some((start, end))
}

fn time_period(start: i64, end: i64) -> Value {
    json!({"startDateTime": DateTime::from_millis(start).as_str(), "endDateTime": DateTime::from_millis(end).as_str()})
}

fn place_ids(doc: &Value, key: &str, index: &mut Vec<IndexEntry>, names: (&str, &str)) {
    let places: Vec<&Value> = match &doc[key] {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    };
    for place in places {
        let name = if place["@type"] == "GeographicSiteRef" { names.0 } else { names.1 };
        index.extend(place["id"].as_str().map(|id| IndexEntry::new(name, id)));
    }
}

fn work_order_index(order: &Value) -> Vec<IndexEntry> {
    let mut index = vec![IndexEntry::new("appointmentRequired", order["appointmentRequired"].to_string())];
    index.extend(order["state"].as_str().map(|s| IndexEntry::new("state", s)));
    for entity in order["relatedEntity"].as_array().into_iter().flatten() {
        index.extend(entity["id"].as_str().map(|id| IndexEntry::new("relatedEntityId", id)));
        index.extend(entity["@referredType"].as_str().map(|t| IndexEntry::new("relatedEntityType", t)));
    }
    place_ids(order, "place", &mut index, ("geographicalSiteId", "geographicalAddressId"));
    index
}

fn appointment_index(appointment: &Value) -> Vec<IndexEntry> {
    let mut index = Vec::new();
    index.extend(appointment["status"].as_str().map(|s| IndexEntry::new("status", s)));
    index.extend(appointment["workOrder"]["id"].as_str().map(|id| IndexEntry::new("workOrderId", id)));
    if let Some((start, end)) = period(&appointment["validFor"]) {
        // `validFor.gt`/`.lt` select appointments overlapping the bounds (R31).
        index.push(IndexEntry::new("validFor", sortable_time(start)));
        index.push(IndexEntry::new("validFor", sortable_time(end)));
    }
    place_ids(appointment, "relatedPlace", &mut index, ("geographicSiteId", "geographicAddressId"));
    index
}

/// Moves a work order, announcing it (R57) and that it needs an appointment again (R58).
fn move_work_order(change: &mut Tracked<'_>, event: VisitEvent) -> Result<WorkOrderState, BusError> {
    let next = change
        .state::<WorkOrderState>("state")?
        .on(event)
        .map_err(|e| BusError::Corrupt(format!("work order {}: {e}", change.id)))?;
    set(&mut change.doc, "state", next.as_str());
    change.announce("workOrderStateChangeEvent", None);
    if next == WorkOrderState::Open {
        set(&mut change.doc, "appointmentRequired", true);
        change.announce("workOrderAppointmentRequiredEvent", None);
    }
    Ok(next)
}

/// Where an order item's installation visit stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Visit {
    /// None is needed, or it was made.
    Done,
    /// It is still to be made.
    Awaited,
    /// It could not be completed: why.
    Failed(String),
}

/// Moves an appointment, announcing it (R28).
fn move_appointment(change: &mut Tracked<'_>, event: VisitEvent) -> Result<AppointmentStatus, BusError> {
    let from: AppointmentStatus = change.state("status")?;
    let next = from.on(event).map_err(|_| {
        BusError::Invalid(vec![Violation::invalid(
            "",
            format!("the appointment is {from}; only a confirmed one can be changed (R40, R46)"),
        )])
    })?;
    set(&mut change.doc, "status", next.as_str());
    change.announce("appointmentStatusChangeEvent", None);
    Ok(next)
}

/// The id of the entity of `referred_type` a work order is for.
fn related(order: &Value, referred_type: &str) -> Option<String> {
    let entities = order["relatedEntity"].as_array()?;
    entities.iter().find(|e| e["@referredType"] == referred_type).and_then(|e| e["id"].as_str()).map(str::to_owned)
}

fn held(start: i64, technician: u32) -> String {
    format!("{start}:{technician}")
}

/// Holds `technician` from `start` for the appointment `id`, and starts its visit then.
fn hold(tenant: &Tenant, id: &str, start: i64, technician: u32) -> [WriteOp; 2] {
    let record = Record {
        kind: HELD.into(),
        id: held(start, technician),
        tenant: tenant.key(),
        version: 1,
        doc: json!({"appointment": id}).to_string(),
    };
    let visit =
        WriteOp::Enqueue { kind: ADVANCE_VISIT.into(), key: id.into(), payload: technician.to_string(), run_at: start };
    [WriteOp::Insert { record, index: Vec::new() }, visit]
}

impl Bus {
    /// A work order for a technician to visit `places` about `entities` (the product and the
    /// ticket, or the order item, it is for): its creation (R56) and its need of an appointment
    /// (R58).
    pub(crate) fn open_work_order(
        &self,
        tenant: &Tenant,
        entities: Vec<Value>,
        places: Vec<Value>,
        task: &str,
    ) -> (String, Vec<WriteOp>) {
        let id = self.ids.next_id();
        let mut contact = self.config.seller_contact.clone();
        set(&mut contact, "role", "sellerWorkOrderContact");
        let doc = json!({
            "id": id, "href": format!("{}/workorder/{id}", HubApi::WorkOrder.base(tenant.irp)), "state": "open", "appointmentRequired": true,
            "duration": {"timeDurationValue": self.config.workforce.visit_minutes, "timeDurationUnits": "MIN"}, "place": places,
            "relatedContactInformation": [contact], "task": [task], "appointment": [], "relatedEntity": entities,
        });
        let mut change = Tracked::new(self, HubApi::WorkOrder, WORK_ORDER, tenant, &id, doc);
        change.announce("workOrderCreateEvent", None);
        change.announce("workOrderAppointmentRequiredEvent", None);
        let index = work_order_index(&change.doc);
        (id, change.finish(index))
    }

    /// Where the technician's visit order item `item_id` of `order_id`, installing a product at
    /// `places`, needs (`installation_visits`) stands: the first time, a work order is opened for
    /// it (its writes go to `ops`); the item goes on once the work order is completed, and fails
    /// if it could not be.
    pub(crate) async fn installation_visit(
        &self,
        tenant: &Tenant,
        order_id: &str,
        item_id: &str,
        places: &[(String, String)],
        ops: &mut Vec<WriteOp>,
    ) -> Result<Visit, BusError> {
        if !self.config.workforce.installation_visits || places.is_empty() {
            return Ok(Visit::Done);
        }
        let key = format!("{order_id}#{item_id}");
        let filters = vec![Filter { name: "relatedEntityId".into(), condition: lso_store::Condition::Eq(key.clone()) }];
        let found = self
            .store
            .list(ListQuery { kind: WORK_ORDER.into(), tenant: Some(tenant.key()), filters, offset: 0, limit: 1 })
            .await?;
        if let Some(record) = found.records.first() {
            let order: Value = serde_json::from_str(&record.doc)
                .map_err(|e| BusError::Corrupt(format!("work order {}: {e}", record.id)))?;
            return Ok(match order["state"].as_str() {
                Some("completed") => Visit::Done,
                Some("unableToComplete") => {
                    Visit::Failed(format!("the installation visit of work order {} could not be completed", record.id))
                }
                _ => Visit::Awaited,
            });
        }
        let sites =
            places.iter().map(|(role, id)| json!({"@type": "GeographicSiteRef", "id": id, "role": role})).collect();
        let entity = json!({"@referredType": "ProductOrderItem", "id": key, "role": "installation"});
        let (_, writes) = self.open_work_order(
            tenant,
            vec![entity],
            sites,
            &format!("Install and cable item {item_id} of product order {order_id}"),
        );
        ops.extend(writes);
        Ok(Visit::Awaited)
    }

    /// `retrieveWorkOrder`.
    pub async fn work_order(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        self.document(WORK_ORDER, "workorder", tenant, id).await
    }

    /// `listWorkOrder`: `WorkOrder_Find`.
    pub async fn list_work_orders(&self, selection: Selection) -> Result<crate::Listing<Value>, BusError> {
        let keys = ["id", "href", "appointmentRequired", "place", "relatedEntity", "state", "plannedExecutionDate"];
        self.projected(WORK_ORDER, selection, &keys).await
    }

    /// The Buyer's work order a request names, open for booking (R12, R21).
    async fn bookable_work_order(&self, tenant: &Tenant, request: &Value) -> Result<Tracked<'_>, BusError> {
        let id = request["workOrder"]["id"].as_str().unwrap_or_default();
        let Some(order) = Tracked::load(self, HubApi::WorkOrder, WORK_ORDER, Some(&tenant.key()), id).await? else {
            return Err(BusError::Invalid(vec![Violation::not_found(
                "/workOrder/id",
                format!("no work order `{id}` of yours"),
            )]));
        };
        Ok(order)
    }

    /// `createSearchTimeSlot`: the visits the technicians can still make in the windows asked
    /// for (R11–R14).
    pub async fn search_time_slots(&self, tenant: &Tenant, mut request: Value) -> Result<Value, BusError> {
        let order = self.bookable_work_order(tenant, &request).await?;
        let mut found = Vec::new();
        if order.state::<WorkOrderState>("state")? != WorkOrderState::Open {
            found.push(Violation::invalid("/workOrder/id", format!("work order {} needs no appointment", order.id)));
        }
        let windows: Vec<Option<(i64, i64)>> =
            request["requestedTimeSlot"].as_array().into_iter().flatten().map(|s| period(&s["validFor"])).collect();
        if windows.is_empty() {
            found.push(Violation::missing("/requestedTimeSlot", "at least one window is required (R11)"));
        }
        for (index, window) in windows.iter().enumerate() {
            if window.is_none() {
                found.push(Violation::invalid(
                    format!("/requestedTimeSlot/{index}/validFor"),
                    "a window starts before it ends (R12)",
                ));
            }
        }
        if !found.is_empty() {
            return Err(BusError::Invalid(found));
        }
        let now = self.clock.now_millis();
        let visit = self.config.workforce.visit_millis();
        let mut available = Vec::new();
        for (from, to) in windows.into_iter().flatten() {
            for start in self.config.workforce.slots(from, to, now).take(50) {
                if available.len() < 20 && self.free_technician(start).await?.is_some() {
                    available.push(json!({"validFor": time_period(start, start + visit)}));
                }
            }
        }
        request["availableTimeSlot"] = json!(available);
        Ok(request)
    }

    /// A technician not yet held at `start`.
    async fn free_technician(&self, start: i64) -> Result<Option<u32>, BusError> {
        for technician in 0..self.config.workforce.technicians {
            if self.store.get(HELD, None, &held(start, technician)).await?.is_none() {
                return Ok(Some(technician));
            }
        }
        Ok(None)
    }

    /// The checks of a visit's time (R16, R41): a slot of the calendar, in the future.
    fn check_visit_time(&self, valid_for: &Value, found: &mut Vec<Violation>) -> Option<i64> {
        match period(valid_for) {
            Some((start, end))
                if end - start == self.config.workforce.visit_millis()
                    && self.config.workforce.is_slot(start)
                    && start > self.clock.now_millis() =>
            {
                Some(start)
            }
            _ => {
                found.push(Violation::invalid(
                    "/validFor",
                    "not a time slot of the calendar: search the time slots first (R16)",
                ));
                None
            }
        }
    }

    /// `createAppointment` (R15–R25): holds a technician for the slot, plans the work order and
    /// takes its ticket back in progress.
    pub async fn create_appointment(&self, tenant: &Tenant, request: Value) -> Result<Value, BusError> {
        self.retrying(|| self.create_appointment_once(tenant, request.clone())).await
    }

    async fn create_appointment_once(&self, tenant: &Tenant, request: Value) -> Result<Value, BusError> {
        let mut order = self.bookable_work_order(tenant, &request).await?;
        let mut found = Vec::new();
        match order.state::<WorkOrderState>("state")? {
            WorkOrderState::Open => {}
            WorkOrderState::Planned => found
                .push(Violation::invalid("/workOrder/id", "the work order already has a confirmed appointment (R20)")),
            other => found.push(Violation::invalid("/workOrder/id", format!("the work order is {other} (R21)"))),
        }
        let contacts = request["relatedContactInformation"].as_array().cloned().unwrap_or_default();
        for role in ["buyerAppointmentContact", "appointmentPlaceContact"] {
            if !contacts.iter().any(|c| c["role"] == role) {
                found.push(Violation::missing(
                    "/relatedContactInformation",
                    format!("a `{role}` contact is required (R15)"),
                ));
            }
        }
        let start = self.check_visit_time(&request["validFor"], &mut found);
        let (Some(start), true) = (start, found.is_empty()) else { return Err(BusError::Invalid(found)) };
        let Some(technician) = self.free_technician(start).await? else {
            return Err(BusError::Invalid(vec![Violation::invalid(
                "/validFor",
                "no technician is free then any more (R17)",
            )]));
        };
        let id = self.ids.next_id();
        let mut appointment = Tracked::new(self, HubApi::Appointment, APPOINTMENT, tenant, &id, request);
        let doc = &mut appointment.doc;
        set(doc, "id", id.as_str());
        set(doc, "href", format!("{}/appointment/{id}", HubApi::Appointment.base(tenant.irp)));
        set(doc, "status", AppointmentStatus::Confirmed.as_str());
        set(doc, "relatedPlace", order.doc["place"][0].clone());
        let mut seller = self.config.seller_contact.clone();
        set(&mut seller, "role", "sellerAppointmentContact");
        push(doc, "relatedContactInformation", seller);
        appointment.announce("appointmentStatusChangeEvent", None);
        push(&mut order.doc, "appointment", json!({"id": id, "href": appointment.doc["href"]}));
        set(&mut order.doc, "appointmentRequired", false);
        set(&mut order.doc, "plannedExecutionDate", DateTime::from_millis(start).as_str());
        move_work_order(&mut order, VisitEvent::Book)?;
        let mut ops = hold(tenant, &id, start, technician).to_vec();
        let ticket = related(&order.doc, "TroubleTicket");
        let document = appointment.doc.clone();
        ops.extend(appointment.finish(appointment_index(&document)));
        let order_index = work_order_index(&order.doc);
        ops.extend(order.finish(order_index));
        if let Some(ticket) = ticket {
            ops.extend(
                self.ticket_moved(
                    tenant,
                    &ticket,
                    TicketEvent::Work,
                    &format!("a technician will visit at {}", DateTime::from_millis(start).as_str()),
                )
                .await?,
            );
        }
        self.commit(ops).await?;
        Ok(document)
    }

    /// `retrieveAppointment`.
    pub async fn appointment(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        self.document(APPOINTMENT, "appointment", tenant, id).await
    }

    /// `listAppointment`: `Appointment_Find`.
    pub async fn list_appointments(&self, selection: Selection) -> Result<crate::Listing<Value>, BusError> {
        let keys = ["id", "href", "relatedPlace", "status", "validFor", "workOrder"];
        self.projected(APPOINTMENT, selection, &keys).await
    }

    /// `patchAppointment` (R40–R44): another slot, notes, attachments or contacts of a
    /// confirmed appointment.
    pub async fn patch_appointment(&self, tenant: &Tenant, id: &str, patch: Value) -> Result<Value, BusError> {
        self.retrying(|| self.patch_appointment_once(tenant, id, patch.clone())).await
    }

    async fn patch_appointment_once(&self, tenant: &Tenant, id: &str, patch: Value) -> Result<Value, BusError> {
        let mut appointment = self.loaded_appointment(tenant, id).await?;
        let status: AppointmentStatus = appointment.state("status")?;
        let mut found: Vec<Violation> = patch
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
            .filter(|k| {
                !["attachment", "note", "relatedPlace", "relatedContactInformation", "validFor"].contains(&k.as_str())
            })
            .map(|k| Violation::unexpected(format!("/{k}"), "not a changeable attribute of an appointment"))
            .collect();
        if status != AppointmentStatus::Confirmed {
            found.push(Violation::invalid(
                "",
                format!("the appointment is {status}; only a confirmed one can be changed (R40)"),
            ));
        }
        let moved = match patch.get("validFor") {
            Some(valid_for) if *valid_for != appointment.doc["validFor"] => {
                self.check_visit_time(valid_for, &mut found)
            }
            _ => None,
        };
        if !found.is_empty() {
            return Err(BusError::Invalid(found));
        }
        let mut ops = Vec::new();
        for (key, value) in patch.as_object().cloned().unwrap_or_default() {
            match key.as_str() {
                "note" | "attachment" => {
                    let known = appointment.doc[&key].as_array().cloned().unwrap_or_default();
                    for item in value.as_array().into_iter().flatten().filter(|i| !known.contains(i)) {
                        push(&mut appointment.doc, &key, item.clone());
                    }
                }
                _ => set(&mut appointment.doc, &key, value),
            }
        }
        if let Some(start) = moved {
            let Some(technician) = self.free_technician(start).await? else {
                return Err(BusError::Invalid(vec![Violation::invalid(
                    "/validFor",
                    "no technician is free then (R42)",
                )]));
            };
            ops.extend(self.release(&appointment).await?);
            ops.extend(hold(tenant, id, start, technician));
        }
        let document = appointment.doc.clone();
        let mut writes = appointment.finish(appointment_index(&document));
        writes.extend(ops);
        self.commit(writes).await?;
        Ok(document)
    }

    async fn loaded_appointment(&self, tenant: &Tenant, id: &str) -> Result<Tracked<'_>, BusError> {
        Tracked::existing(self, HubApi::Appointment, APPOINTMENT, tenant, id).await
    }

    /// The writes that free the technician an appointment holds.
    async fn release(&self, appointment: &Tracked<'_>) -> Result<Vec<WriteOp>, BusError> {
        let Some((start, _)) = period(&appointment.doc["validFor"]) else { return Ok(Vec::new()) };
        let mut ops = Vec::new();
        for technician in 0..self.config.workforce.technicians {
            if let Some(record) = self.store.get(HELD, None, &held(start, technician)).await?
                && record.doc.contains(&appointment.id)
            {
                ops.push(WriteOp::Delete { kind: HELD.into(), id: record.id });
            }
        }
        Ok(ops)
    }

    /// `cancelAppointment` (R46–R50): the technician is free again and the work order needs a
    /// new appointment.
    pub async fn cancel_appointment(&self, tenant: &Tenant, id: &str) -> Result<(), BusError> {
        self.retrying(|| self.cancel_appointment_once(tenant, id, None)).await.map(drop)
    }

    /// The Seller cancels a Buyer's appointment, e.g. when the technician cannot come (R27: the
    /// Seller reschedules by cancelling, and the Buyer books again), telling why in a note
    /// (R29).
    pub async fn seller_cancel_appointment(&self, tenant: &Tenant, id: &str, reason: &str) -> Result<Value, BusError> {
        self.retrying(|| self.cancel_appointment_once(tenant, id, Some(reason))).await
    }

    /// The Seller adds a note to an appointment for the Buyer to read (R29).
    pub async fn seller_note_appointment(&self, tenant: &Tenant, id: &str, text: &str) -> Result<Value, BusError> {
        self.retrying(|| async {
            let mut appointment = self.loaded_appointment(tenant, id).await?;
            appointment.seller_note(text);
            appointment.announce("appointmentAttributeValueChangeEvent", None);
            let document = appointment.doc.clone();
            self.commit(appointment.finish(appointment_index(&document))).await?;
            Ok(document)
        })
        .await
    }

    /// The Seller ends a visit under way that could not be done (R26): `failed` (`Fail`) when
    /// the Buyer's side was not ready, `missed` (`Miss`) when the Seller's was, with the reason
    /// in a note (R29). The work order is `unableToComplete` (R55) and the technician free
    /// again. What the visit was for goes on: a ticket waits for the Buyer to book a visit of a
    /// new work order; an installation's order item fails.
    pub async fn seller_end_visit(
        &self,
        tenant: &Tenant,
        id: &str,
        event: VisitEvent,
        reason: &str,
    ) -> Result<Value, BusError> {
        self.retrying(|| async {
            let mut appointment = self.loaded_appointment(tenant, id).await?;
            if appointment.state::<AppointmentStatus>("status")? != AppointmentStatus::InProgress {
                return Err(BusError::Invalid(vec![Violation::invalid(
                    "",
                    "only a visit under way ends unable to complete (R26)",
                )]));
            }
            move_appointment(&mut appointment, event)?;
            appointment.seller_note(reason);
            appointment.announce("appointmentAttributeValueChangeEvent", None);
            let order_id = appointment.doc["workOrder"]["id"].as_str().unwrap_or_default().to_owned();
            let mut ops = self.release(&appointment).await?;
            let document = appointment.doc.clone();
            ops.extend(appointment.finish(appointment_index(&document)));
            if let Some(mut order) =
                Tracked::load(self, HubApi::WorkOrder, WORK_ORDER, Some(&tenant.key()), &order_id).await?
            {
                move_work_order(&mut order, event)?;
                let ticket = related(&order.doc, "TroubleTicket");
                let ordered = related(&order.doc, "ProductOrderItem");
                let index = work_order_index(&order.doc);
                ops.extend(order.finish(index));
                if let Some((product_order, _)) = ordered.as_deref().and_then(|k| k.split_once('#')) {
                    let now = self.clock.now_millis();
                    let (kind, key) = (crate::ordering::ADVANCE_ORDER.into(), product_order.to_owned());
                    ops.push(WriteOp::Enqueue { kind, key, payload: String::new(), run_at: now });
                }
                if let Some(ticket) = ticket {
                    let why =
                        format!("the technician's visit of work order {order_id} could not be completed: {reason}");
                    ops.extend(self.visit_again(tenant, &ticket, &why).await?);
                }
            }
            self.commit(ops).await?;
            Ok(document)
        })
        .await
    }

    async fn cancel_appointment_once(
        &self,
        tenant: &Tenant,
        id: &str,
        reason: Option<&str>,
    ) -> Result<Value, BusError> {
        let mut appointment = self.loaded_appointment(tenant, id).await?;
        let order_id = appointment.doc["workOrder"]["id"].as_str().unwrap_or_default().to_owned();
        let Some(mut order) =
            Tracked::load(self, HubApi::WorkOrder, WORK_ORDER, Some(&tenant.key()), &order_id).await?
        else {
            return Err(BusError::Corrupt(format!("work order {order_id} of appointment {id}")));
        };
        if order.state::<WorkOrderState>("state")? != WorkOrderState::Planned {
            return Err(BusError::Invalid(vec![Violation::invalid("", "the work order is no longer planned (R47)")]));
        }
        move_appointment(&mut appointment, VisitEvent::CancelAppointment)?;
        if let Some(reason) = reason {
            appointment.seller_note(reason);
            appointment.announce("appointmentAttributeValueChangeEvent", None);
        }
        move_work_order(&mut order, VisitEvent::CancelAppointment)?;
        let mut ops = self.release(&appointment).await?;
        let document = appointment.doc.clone();
        ops.extend(appointment.finish(appointment_index(&document)));
        let index = work_order_index(&order.doc);
        ops.extend(order.finish(index));
        self.commit(ops).await?;
        Ok(document)
    }

    /// Job step: at its start the visit begins (appointment and work order in progress); at
    /// its end the tasks are done and the ticket resolved.
    pub(crate) async fn advance_visit(&self, id: &str) -> Result<(Vec<WriteOp>, Step), BusError> {
        let Some(mut appointment) = Tracked::load(self, HubApi::Appointment, APPOINTMENT, None, id).await? else {
            return Ok((Vec::new(), Step::Done));
        };
        let Some((start, end)) = period(&appointment.doc["validFor"]) else { return Ok((Vec::new(), Step::Done)) };
        let now = appointment.at.millis();
        let status: AppointmentStatus = appointment.state("status")?;
        let (event, at) = match status {
            AppointmentStatus::Confirmed if now >= start => (VisitEvent::Begin, Some(end)),
            AppointmentStatus::Confirmed => return Ok((Vec::new(), Step::Again { at: start })),
            AppointmentStatus::InProgress if now >= end => (VisitEvent::Complete, None),
            AppointmentStatus::InProgress => return Ok((Vec::new(), Step::Again { at: end })),
            _ => return Ok((Vec::new(), Step::Done)),
        };
        let tenant = appointment.tenant.clone();
        let order_id = appointment.doc["workOrder"]["id"].as_str().unwrap_or_default().to_owned();
        move_appointment(&mut appointment, event)?;
        let mut ops = Vec::new();
        if event == VisitEvent::Complete {
            ops.extend(self.release(&appointment).await?);
        }
        let index = appointment_index(&appointment.doc);
        ops.extend(appointment.finish(index));
        if let Some(mut order) =
            Tracked::load(self, HubApi::WorkOrder, WORK_ORDER, Some(&tenant.key()), &order_id).await?
        {
            move_work_order(&mut order, event)?;
            let ticket = related(&order.doc, "TroubleTicket");
            let ordered =
                related(&order.doc, "ProductOrderItem").and_then(|k| k.split_once('#').map(|(o, _)| o.to_owned()));
            let index = work_order_index(&order.doc);
            ops.extend(order.finish(index));
            if let (VisitEvent::Complete, Some(product_order)) = (event, ordered) {
                ops.push(WriteOp::Enqueue {
                    kind: crate::ordering::ADVANCE_ORDER.into(),
                    key: product_order,
                    payload: String::new(),
                    run_at: now,
                });
            }
            if let (VisitEvent::Complete, Some(ticket)) = (event, ticket) {
                ops.extend(
                    self.ticket_moved(
                        &tenant,
                        &ticket,
                        TicketEvent::Resolve,
                        &format!("the technician's visit of work order {order_id} is complete"),
                    )
                    .await?,
                );
            }
        }
        Ok((ops, at.map_or(Step::Done, |at| Step::Again { at })))
    }
}
