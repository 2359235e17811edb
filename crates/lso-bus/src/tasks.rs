//! What a Buyer can do to an order after submitting it: update its reference data (UC2,
//! `PATCH /productOrder/{id}`), cancel it (UC8, `cancelProductOrder`) and change an item's
//! requested delivery date or expedite it (UC5, `modifyProductOrderItemRequestedDeliveryDate`).

use crate::change::OrderChange;
use crate::charges::{self, ChargeFor};
use crate::doc::{self, push, set};
use crate::engine::Step;
use crate::ordering::Listing;
use crate::{Bus, BusError};
use lso_mef_product::{
    CancelProductOrder, CancelProductOrderCreate, CancelProductOrderFind, ModifyDeliveryDate, ModifyDeliveryDateCreate,
    ProductOrder, ProductOrderUpdate, RelatedContactInformation, ordering_base,
};
use lso_model::order::{ItemEvent, ItemState, NoteSource, OrderEvent, OrderState, PriceCategory, TaskEvent, TaskState};
use lso_model::{Tenant, Violation};
use lso_store::Selection;
use lso_store::{Filter, IndexEntry, ListQuery, Record, WriteOp, sortable_time};
use serde_json::Value;

/// The store kind of cancel requests.
pub(crate) const CANCEL: &str = "cancelProductOrder";
/// The store kind of modify-delivery-date requests.
pub(crate) const MODIFY: &str = "modifyProductOrderItemRequestedDeliveryDate";
/// The job that assesses a cancel request.
pub(crate) const ADVANCE_CANCEL: &str = "advanceCancelProductOrder";
/// The job that assesses a modify-delivery-date request.
pub(crate) const ADVANCE_MODIFY: &str = "advanceModifyDeliveryDate";

const ATTEMPTS: usize = 5;

fn is_seller_role(role: &str) -> bool {
    role.starts_with("seller") || role.ends_with("SellerContact")
}

impl Bus {
    /// Updates an order's reference data (MEF 123 UC2, R52–R58), retrying when the order
    /// changed meanwhile.
    pub async fn patch_order(
        &self,
        tenant: &Tenant,
        id: &str,
        raw: &Value,
        update: &ProductOrderUpdate,
    ) -> Result<Value, BusError> {
        for _ in 0..ATTEMPTS {
            let (mut change, order) = OrderChange::load(self, Some(&tenant.key()), id)
                .await?
                .ok_or_else(|| BusError::NotFound(format!("no product order with id `{id}`")))?;
            let problems = check_update(&order, update);
            if !problems.is_empty() {
                return Err(BusError::Invalid(problems));
            }
            apply_update(&mut change.doc, &order, raw, update);
            let document = change.doc.clone();
            match self.commit(change.finish()?).await {
                Ok(()) => return Ok(document),
                Err(BusError::Conflict(_)) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(BusError::Conflict(format!("order {id} keeps changing; try again")))
    }

    /// Accepts a cancel request (MEF 123 UC8) and schedules its assessment.
    pub async fn create_cancel(
        &self,
        tenant: &Tenant,
        raw: Value,
        request: CancelProductOrderCreate,
    ) -> Result<Value, BusError> {
        let mut problems = Vec::new();
        if !request.related_contact_information.iter().any(|c| c.role == "cancelProductOrderContact") {
            problems.push(Violation::missing(
                "/relatedContactInformation",
                "MEF 123 R74: a contact with role `cancelProductOrderContact` is required",
            ));
        }
        let order_id = request.product_order.order_id().unwrap_or_default().to_owned();
        if order_id.is_empty() {
            problems.push(Violation::missing("/productOrder/productOrderId", "name the product order to cancel"));
        } else if self.store.get(crate::ordering::ORDER, Some(&tenant.key()), &order_id).await?.is_none() {
            problems.push(Violation::not_found(
                "/productOrder/productOrderId",
                format!("MEF 123 R73: no product order `{order_id}`"),
            ));
        } else if self.open_task(CANCEL, tenant, &order_id, None).await? {
            problems.push(Violation::invalid(
                "/productOrder/productOrderId",
                "a cancellation of this order is already being assessed",
            ));
        }
        if !problems.is_empty() {
            return Err(BusError::Invalid(problems));
        }
        let id = self.ids.next_id();
        let mut document = raw;
        set(&mut document["productOrder"], "productOrderId", order_id.as_str());
        set(&mut document, "id", id.as_str());
        set(&mut document, "href", format!("{}/cancelProductOrder/{id}", ordering_base(tenant.irp)));
        set(&mut document, "state", TaskState::Acknowledged.as_str());
        let mut contact = self.config.seller_contact.clone();
        set(&mut contact, "role", "cancelProductOrderSellerContact");
        push(&mut document, "relatedContactInformation", contact);
        self.insert_task(CANCEL, ADVANCE_CANCEL, tenant, &id, &document).await?;
        Ok(document)
    }

    /// A cancel request of `tenant` (of anyone's when `None`).
    pub async fn cancel_request(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        self.document(CANCEL, "cancel product order request", tenant, id).await
    }

    /// A page of `tenant`'s cancel requests.
    pub async fn list_cancel_requests(
        &self,
        selection: Selection,
    ) -> Result<Listing<CancelProductOrderFind>, BusError> {
        self.documents(CANCEL, selection, |c: &CancelProductOrder| c.into()).await
    }

    /// Accepts a request to change an item's requested delivery date or to expedite it
    /// (MEF 123 UC5) and schedules its assessment.
    pub async fn create_modify_date(
        &self,
        tenant: &Tenant,
        raw: Value,
        request: ModifyDeliveryDateCreate,
    ) -> Result<Value, BusError> {
        let mut problems = Vec::new();
        let item = &request.product_order_item;
        if request.expedite_indicator != Some(true) && request.requested_completion_date.is_none() {
            problems.push(Violation::missing(
                "/requestedCompletionDate",
                "MEF 123 R63/R66: ask for a new `requestedCompletionDate` or set `expediteIndicator`",
            ));
        }
        let now = self.clock.now_millis();
        if let Some(date) = &request.requested_completion_date
            && date.millis() <= now
        {
            problems
                .push(Violation::invalid("/requestedCompletionDate", format!("`{}` is in the past", date.as_str())));
        }
        match self.store.get(crate::ordering::ORDER, Some(&tenant.key()), &item.product_order_id).await? {
            None => problems.push(Violation::not_found(
                "/productOrderItem/productOrderId",
                format!("no product order `{}`", item.product_order_id),
            )),
            Some(record) => {
                let (_, order) = doc::read::<ProductOrder>(&record.doc, &record.id)?;
                if !order.product_order_item.iter().any(|i| i.request.id == item.product_order_item_id) {
                    problems.push(Violation::not_found(
                        "/productOrderItem/productOrderItemId",
                        format!("order {} has no item `{}`", item.product_order_id, item.product_order_item_id),
                    ));
                } else if self
                    .open_task(MODIFY, tenant, &item.product_order_id, Some(&item.product_order_item_id))
                    .await?
                {
                    problems.push(Violation::invalid(
                        "/productOrderItem",
                        "a change of this item's delivery date is already being assessed",
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(BusError::Invalid(problems));
        }
        let id = self.ids.next_id();
        let mut document = raw;
        set(&mut document, "id", id.as_str());
        set(
            &mut document,
            "href",
            format!("{}/modifyProductOrderItemRequestedDeliveryDate/{id}", ordering_base(tenant.irp)),
        );
        set(&mut document, "creationDate", lso_model::DateTime::from_millis(now).as_str());
        set(&mut document, "state", TaskState::Acknowledged.as_str());
        self.insert_task(MODIFY, ADVANCE_MODIFY, tenant, &id, &document).await?;
        Ok(document)
    }

    /// A modify-delivery-date request of `tenant` (of anyone's when `None`).
    pub async fn modify_date_request(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        self.document(MODIFY, "modify product order item requested delivery date request", tenant, id).await
    }

    /// A page of `tenant`'s modify-delivery-date requests.
    pub async fn list_modify_date_requests(
        &self,
        selection: Selection,
    ) -> Result<Listing<ModifyDeliveryDate>, BusError> {
        self.documents(MODIFY, selection, |m: &ModifyDeliveryDate| m.clone()).await
    }

    /// Stores a new cancel or modify request and schedules its assessment (`job`).
    async fn insert_task(
        &self,
        kind: &str,
        job: &str,
        tenant: &Tenant,
        id: &str,
        document: &Value,
    ) -> Result<(), BusError> {
        let index = task_index(kind, document)?;
        let record =
            Record { kind: kind.into(), id: id.into(), tenant: tenant.key(), version: 1, doc: doc::text(document) };
        let run_at = self.clock.now_millis();
        let job = WriteOp::Enqueue { kind: job.into(), key: id.into(), payload: String::new(), run_at };
        self.commit(vec![WriteOp::Insert { record, index }, job]).await
    }

    /// Whether a request of `kind` for this order (and item) is still being assessed.
    async fn open_task(
        &self,
        kind: &str,
        tenant: &Tenant,
        order_id: &str,
        item_id: Option<&str>,
    ) -> Result<bool, BusError> {
        let mut filters = vec![
            Filter { name: "productOrderId".into(), condition: lso_store::Condition::Eq(order_id.into()) },
            Filter {
                name: "state".into(),
                condition: lso_store::Condition::In(vec![
                    TaskState::Acknowledged.to_string(),
                    TaskState::InProgressAssessingCharge.to_string(),
                ]),
            },
        ];
        if let Some(item) = item_id {
            filters
                .push(Filter { name: "productOrderItemId".into(), condition: lso_store::Condition::Eq(item.into()) });
        }
        let page = self
            .store
            .list(ListQuery { kind: kind.into(), tenant: Some(tenant.key()), filters, offset: 0, limit: 1 })
            .await?;
        Ok(page.total.at_least() > 0)
    }

    /// Assesses a cancel request: accepts it (after its charge, if the Seller charges for
    /// cancellations) while the order is in progress and no item has completed; rejects it
    /// otherwise.
    pub(crate) async fn advance_cancel(&self, id: &str) -> Result<(Vec<WriteOp>, Step), BusError> {
        let Some((mut task, cancel)) = Task::<CancelProductOrder>::load(self, CANCEL, id).await? else {
            return Ok((Vec::new(), Step::Done));
        };
        if cancel.state != TaskState::Acknowledged {
            return Ok((Vec::new(), Step::Done));
        }
        let (mut change, order) =
            OrderChange::load(self, Some(&task.record.tenant), &cancel.product_order.product_order_id)
                .await?
                .ok_or_else(|| BusError::Corrupt(format!("order of cancel request {id}")))?;
        if order.state == OrderState::Acknowledged {
            return Ok((Vec::new(), Step::Again { at: change.at.millis() + 100 }));
        }
        let completed = order.product_order_item.iter().find(|i| i.state == ItemState::Completed);
        let denial = match (order.state, completed) {
            (OrderState::InProgress, None) => None,
            (OrderState::InProgress, Some(item)) => Some(format!("item {} is already completed", item.request.id)),
            (state, _) => Some(format!("the order is {state}")),
        };
        if let Some(reason) = denial {
            task.move_to(TaskEvent::Reject)?;
            set(&mut task.doc, "cancellationDeniedReason", reason);
            change.event_about("cancelProductOrderStateChangeEvent", id, format!("cancelProductOrder/{id}"), None);
            return Ok((task.finish(change.finish()?)?, Step::Done));
        }
        change.move_order(order.state, OrderEvent::CancellationRequested)?;
        match self.config.charges.cancellation.clone() {
            Some(amount) => {
                let charge = charges::raise(
                    &mut change,
                    ChargeFor::Cancel { cancel_id: id },
                    PriceCategory::Cancellation,
                    amount,
                )?;
                charges::refer(&mut task.doc, &charge);
                push(
                    &mut change.doc,
                    "cancellationCharge",
                    doc::to_value(&lso_mef_product::Ref { id: charge.id.clone(), href: charge.href.clone() }),
                );
                task.move_to(TaskEvent::ChargeRaised)?;
            }
            None => {
                task.move_to(TaskEvent::Accept)?;
                let order = change.order()?;
                finish_cancellation(&mut change, &order, &cancel).await?;
            }
        }
        change.event_about("cancelProductOrderStateChangeEvent", id, format!("cancelProductOrder/{id}"), None);
        Ok((task.finish(change.finish()?)?, Step::Done))
    }

    /// Assesses a modify-delivery-date request: while the order and the item are in progress it
    /// is accepted (after its expedite charge, if the Seller charges for expediting); otherwise
    /// rejected.
    pub(crate) async fn advance_modify(&self, id: &str) -> Result<(Vec<WriteOp>, Step), BusError> {
        let Some((mut task, modify)) = Task::<ModifyDeliveryDate>::load(self, MODIFY, id).await? else {
            return Ok((Vec::new(), Step::Done));
        };
        if modify.state != TaskState::Acknowledged {
            return Ok((Vec::new(), Step::Done));
        }
        let item_id = modify.product_order_item.product_order_item_id.clone();
        let (mut change, order) =
            OrderChange::load(self, Some(&task.record.tenant), &modify.product_order_item.product_order_id)
                .await?
                .ok_or_else(|| BusError::Corrupt(format!("order of modify request {id}")))?;
        if order.state == OrderState::Acknowledged {
            return Ok((Vec::new(), Step::Again { at: change.at.millis() + 100 }));
        }
        let item = order
            .product_order_item
            .iter()
            .find(|i| i.request.id == item_id)
            .ok_or_else(|| BusError::Corrupt(item_id.clone()))?;
        let event_type = "modifyProductOrderItemRequestedDeliveryDateStateChangeEvent";
        let href = format!("modifyProductOrderItemRequestedDeliveryDate/{id}");
        if order.state != OrderState::InProgress || item.state != ItemState::InProgress {
            task.move_to(TaskEvent::Reject)?;
            change.event_about(event_type, id, href, Some(&item_id));
            return Ok((task.finish(change.finish()?)?, Step::Done));
        }
        change.move_order(order.state, OrderEvent::ModificationRequested)?;
        change.move_item(
            &item_id,
            item.state,
            ItemEvent::Suspend,
            Some("a change of the requested delivery date is assessed"),
        )?;
        let expedite = self.config.charges.expedite.clone().filter(|_| modify.expedite_indicator == Some(true));
        match expedite {
            Some(amount) => {
                charges::raise(
                    &mut change,
                    ChargeFor::Modify { modify_id: id, item_id: &item_id },
                    PriceCategory::Expedite,
                    amount,
                )?;
                task.move_to(TaskEvent::ChargeRaised)?;
            }
            None => {
                task.move_to(TaskEvent::Accept)?;
                finish_modification(&mut change, &modify, true)?;
            }
        }
        change.event_about(event_type, id, href, Some(&item_id));
        Ok((task.finish(change.finish()?)?, Step::Done))
    }
}

/// A cancel or modify request being changed.
struct Task<T> {
    record: Record,
    doc: Value,
    state: TaskState,
    _typed: std::marker::PhantomData<T>,
}

impl<T: serde::de::DeserializeOwned> Task<T> {
    async fn load(bus: &Bus, kind: &str, id: &str) -> Result<Option<(Self, T)>, BusError> {
        let Some(record) = bus.store.get(kind, None, id).await? else { return Ok(None) };
        let (doc, typed) = doc::read::<T>(&record.doc, id)?;
        let state = doc["state"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| BusError::Corrupt(format!("state of {id}")))?;
        Ok(Some((Task { record, doc, state, _typed: std::marker::PhantomData }, typed)))
    }
}

impl<T> Task<T> {
    fn move_to(&mut self, event: TaskEvent) -> Result<(), BusError> {
        self.state = self
            .state
            .on(event)
            .map_err(|e| BusError::Conflict(format!("{} {}: {e}", self.record.kind, self.record.id)))?;
        set(&mut self.doc, "state", self.state.as_str());
        Ok(())
    }

    /// The task's update followed by `ops`.
    fn finish(self, ops: Vec<WriteOp>) -> Result<Vec<WriteOp>, BusError> {
        let index = task_index(&self.record.kind, &self.doc)?;
        let record = Record { version: self.record.version + 1, doc: doc::text(&self.doc), ..self.record };
        let mut all = vec![WriteOp::Update { record, index }];
        all.extend(ops);
        Ok(all)
    }
}

/// Loads a request being settled by its charge and moves it.
async fn settle_task(change: &mut OrderChange<'_>, kind: &str, id: &str, event: TaskEvent) -> Result<Value, BusError> {
    let (mut task, _) =
        Task::<Value>::load(change.bus, kind, id).await?.ok_or_else(|| BusError::Corrupt(format!("{kind} {id}")))?;
    task.move_to(event)?;
    let document = task.doc.clone();
    change.ops.extend(task.finish(Vec::new())?);
    Ok(document)
}

/// The cancel request's charge was answered (or timed out).
pub(crate) async fn cancel_charge_settled(
    change: &mut OrderChange<'_>,
    order: &ProductOrder,
    cancel_id: &str,
    accepted: bool,
) -> Result<(), BusError> {
    let event = if accepted { TaskEvent::ChargeAccepted } else { TaskEvent::ChargeDeclined };
    let document = settle_task(change, CANCEL, cancel_id, event).await?;
    change.event_about(
        "cancelProductOrderStateChangeEvent",
        cancel_id,
        format!("cancelProductOrder/{cancel_id}"),
        None,
    );
    if accepted {
        let cancel: CancelProductOrder = doc::typed(&document, cancel_id)?;
        finish_cancellation(change, order, &cancel).await
    } else {
        change.move_order(order.state, OrderEvent::CancellationDenied)?;
        change.advance();
        Ok(())
    }
}

/// The modify request's charge was answered (or timed out).
pub(crate) async fn modify_charge_settled(
    change: &mut OrderChange<'_>,
    _order: &ProductOrder,
    modify_id: &str,
    accepted: bool,
) -> Result<(), BusError> {
    let event = if accepted { TaskEvent::ChargeAccepted } else { TaskEvent::ChargeDeclined };
    let document = settle_task(change, MODIFY, modify_id, event).await?;
    let modify: ModifyDeliveryDate = doc::typed(&document, modify_id)?;
    let item_id = modify.product_order_item.product_order_item_id.clone();
    change.event_about(
        "modifyProductOrderItemRequestedDeliveryDateStateChangeEvent",
        modify_id,
        format!("modifyProductOrderItemRequestedDeliveryDate/{modify_id}"),
        Some(&item_id),
    );
    finish_modification(change, &modify, accepted)
}

/// Item back `inProgress` and order back `inProgress`; with the new date (or expedite) applied
/// when `accepted`.
fn finish_modification(
    change: &mut OrderChange<'_>,
    modify: &ModifyDeliveryDate,
    accepted: bool,
) -> Result<(), BusError> {
    let item_id = modify.product_order_item.product_order_item_id.as_str();
    if accepted {
        let item = change.item(item_id)?;
        if let Some(date) = &modify.requested_completion_date {
            set(item, "requestedCompletionDate", date.as_str());
        }
        if modify.expedite_indicator == Some(true) {
            set(item, "expediteIndicator", true);
            set(item, "expediteAcceptedIndicator", true);
        }
    }
    let order = change.order()?;
    let item_state = order.product_order_item.iter().find(|i| i.request.id == item_id).map(|i| i.state);
    if item_state == Some(ItemState::Pending) {
        let reason =
            if accepted { "the delivery date change was accepted" } else { "the delivery date change was declined" };
        change.move_item(item_id, ItemState::Pending, ItemEvent::Resume, Some(reason))?;
    }
    change.move_order(order.state, OrderEvent::ModificationResolved)?;
    change.advance();
    Ok(())
}

/// Order `assessingCancellation → pendingCancellation → cancelled`; every open item
/// `cancelled`, its product back to where it was.
async fn finish_cancellation(
    change: &mut OrderChange<'_>,
    order: &ProductOrder,
    cancel: &CancelProductOrder,
) -> Result<(), BusError> {
    let state = change.move_order(order.state, OrderEvent::CancellationAccepted)?;
    for item in order.product_order_item.iter().filter(|i| !i.state.is_terminal()) {
        let mut current = item.clone();
        let id = item.request.id.clone();
        if current.state == ItemState::Held {
            current.state = change.move_item(&id, current.state, ItemEvent::Resume, Some("the order is cancelled"))?;
        }
        if current.state == ItemState::InProgress {
            current.state = change.move_item(&id, current.state, ItemEvent::Suspend, Some("the order is cancelled"))?;
        }
        change.abandon_item(&current, ItemEvent::Cancel, "the order is cancelled").await?;
    }
    change.move_order(state, OrderEvent::CancellationFinished)?;
    let at = change.at.clone();
    set(&mut change.doc, "cancellationDate", at.as_str());
    if let Some(reason) = &cancel.cancellation_reason {
        set(&mut change.doc, "cancellationReason", reason.as_str());
    }
    Ok(())
}

/// MEF 123 R52–R58: what a `PATCH` may change.
fn check_update(order: &ProductOrder, update: &ProductOrderUpdate) -> Vec<Violation> {
    let mut found = Vec::new();
    let empty = update.external_id.is_none()
        && update.note.is_none()
        && update.project_id.is_none()
        && update.related_contact_information.is_none()
        && update.product_order_item.is_none();
    if empty {
        found.push(Violation::missing(
            "",
            "MEF 123 R52: send at least one of externalId, note, projectId, relatedContactInformation, productOrderItem",
        ));
    }
    check_notes(order.note.as_deref(), update.note.as_deref(), "", &mut found);
    if let Some(contacts) = &update.related_contact_information {
        check_contacts(&order.related_contact_information, contacts, "", &mut found);
        if !contacts.iter().any(|c| c.role == "productOrderContact") {
            found.push(Violation::missing(
                "/relatedContactInformation",
                "MEF 123 R13: keep a contact with role `productOrderContact`",
            ));
        }
    }
    for (index, entry) in update.product_order_item.iter().flatten().enumerate() {
        let at = format!("/productOrderItem/{index}");
        let Some(item) = order.product_order_item.iter().find(|i| i.request.id == entry.id) else {
            found.push(Violation::not_found(format!("{at}/id"), format!("the order has no item `{}`", entry.id)));
            continue;
        };
        let nothing = entry.end_customer_name.is_none()
            && entry.note.is_none()
            && entry.related_buyer_p_o_n.is_none()
            && entry.related_contact_information.is_none();
        if nothing {
            found.push(Violation::missing(
                at.clone(),
                "MEF 123 R55: name at least one attribute to update besides `id`",
            ));
        }
        check_notes(item.request.note.as_deref(), entry.note.as_deref(), &at, &mut found);
        if let Some(contacts) = &entry.related_contact_information {
            check_contacts(
                item.request.related_contact_information.as_deref().unwrap_or_default(),
                contacts,
                &at,
                &mut found,
            );
        }
    }
    found
}

/// MEF 123 R21/R57: notes are only added, with source `buyer`; existing ones stay unchanged.
fn check_notes(
    existing: Option<&[lso_mef_product::Note]>,
    sent: Option<&[lso_mef_product::Note]>,
    at: &str,
    found: &mut Vec<Violation>,
) {
    for (index, note) in sent.unwrap_or_default().iter().enumerate() {
        let path = format!("{at}/note/{index}");
        match existing.unwrap_or_default().iter().find(|n| n.id == note.id) {
            Some(old) if old != note => {
                found.push(Violation::invalid(path, "MEF 123 R21: a note cannot be changed once written"))
            }
            Some(_) => {}
            None if note.source != NoteSource::Buyer => found
                .push(Violation::invalid(format!("{path}/source"), "MEF 123 R57: a Buyer's note has source `buyer`")),
            None => {}
        }
    }
}

/// MEF 123 R56: only the Buyer's contacts can change; the Seller's must come back unchanged.
fn check_contacts(
    existing: &[RelatedContactInformation],
    sent: &[RelatedContactInformation],
    at: &str,
    found: &mut Vec<Violation>,
) {
    for (index, contact) in sent.iter().enumerate().filter(|(_, c)| is_seller_role(&c.role)) {
        if !existing.contains(contact) {
            found.push(Violation::invalid(
                format!("{at}/relatedContactInformation/{index}"),
                format!("MEF 123 R56: the Seller's `{}` contact cannot be changed by the Buyer", contact.role),
            ));
        }
    }
}

/// Applies a checked update: sent values replace, new notes are appended, the Seller's contacts
/// are kept.
fn apply_update(document: &mut Value, order: &ProductOrder, raw: &Value, update: &ProductOrderUpdate) {
    for key in ["externalId", "projectId"] {
        if let Some(value) = raw.get(key) {
            replace(document, key, value);
        }
    }
    if update.note.is_some() {
        append_new_notes(document, raw.get("note"));
    }
    if update.related_contact_information.is_some() {
        let contacts = merged_contacts(&order.related_contact_information, raw.get("relatedContactInformation"));
        set(document, "relatedContactInformation", contacts);
    }
    for entry in raw.get("productOrderItem").and_then(Value::as_array).into_iter().flatten() {
        let Some(item) = doc::item_mut(document, entry["id"].as_str().unwrap_or_default()) else { continue };
        for key in ["endCustomerName", "relatedBuyerPON"] {
            if let Some(value) = entry.get(key) {
                replace(item, key, value);
            }
        }
        append_new_notes(item, entry.get("note"));
        if let Some(sent) = entry.get("relatedContactInformation") {
            let existing: Vec<RelatedContactInformation> =
                serde_json::from_value(item["relatedContactInformation"].clone()).unwrap_or_default();
            let contacts = merged_contacts(&existing, Some(sent));
            set(item, "relatedContactInformation", contacts);
        }
    }
}

/// `key` of `target` takes `value`; a `null` removes it (a merge patch, RFC 7396).
fn replace(target: &mut Value, key: &str, value: &Value) {
    if value.is_null() {
        if let Some(fields) = target.as_object_mut() {
            fields.remove(key);
        }
    } else {
        set(target, key, value.clone());
    }
}

fn append_new_notes(target: &mut Value, sent: Option<&Value>) {
    for note in sent.and_then(Value::as_array).into_iter().flatten() {
        let exists = target["note"].as_array().is_some_and(|notes| notes.iter().any(|n| n["id"] == note["id"]));
        if !exists {
            push(target, "note", note.clone());
        }
    }
}

/// The Buyer's contacts as sent, then every Seller contact not sent back.
fn merged_contacts(existing: &[RelatedContactInformation], sent: Option<&Value>) -> Value {
    let mut contacts: Vec<Value> = sent.and_then(Value::as_array).cloned().unwrap_or_default();
    for seller in existing.iter().filter(|c| is_seller_role(&c.role)) {
        let value = doc::to_value(seller);
        if !contacts.contains(&value) {
            contacts.push(value);
        }
    }
    Value::Array(contacts)
}

fn cancel_index(cancel: &CancelProductOrder) -> Vec<IndexEntry> {
    let mut index = vec![
        IndexEntry::new("productOrderId", cancel.product_order.product_order_id.as_str()),
        IndexEntry::new("state", cancel.state.as_str()),
    ];
    index.extend(cancel.cancellation_reason_type.map(|t| IndexEntry::new("cancellationReasonType", t.as_str())));
    index
}

fn modify_index(modify: &ModifyDeliveryDate) -> Vec<IndexEntry> {
    let mut index = vec![
        IndexEntry::new("productOrderId", modify.product_order_item.product_order_id.as_str()),
        IndexEntry::new("productOrderItemId", modify.product_order_item.product_order_item_id.as_str()),
        IndexEntry::new("state", modify.state.as_str()),
        IndexEntry::new("expediteIndicator", modify.expedite_indicator.unwrap_or(false).to_string()),
        IndexEntry::new("creationDate", sortable_time(modify.creation_date.millis())),
    ];
    index.extend(
        modify
            .requested_completion_date
            .as_ref()
            .map(|d| IndexEntry::new("requestedCompletionDate", sortable_time(d.millis()))),
    );
    index
}

fn task_index(kind: &str, document: &Value) -> Result<Vec<IndexEntry>, BusError> {
    Ok(match kind {
        CANCEL => cancel_index(&doc::typed(document, kind)?),
        _ => modify_index(&doc::typed(document, kind)?),
    })
}
