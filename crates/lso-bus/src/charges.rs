//! Charges (MEF 123 UC11–14): the Seller raises a charge on an item in progress, a cancel
//! request or a modify-delivery-date request; the Buyer accepts or declines every charge item
//! at once (R94/R95); no answer by `responseDueDate` declines it (R96). A declined blocking
//! item fails the item (11a), or leaves the request `done.declined` (11b, 11c).

use crate::change::OrderChange;
use crate::doc::{self, set};
use crate::engine::Step;
use crate::ordering::Listing;
use crate::tasks;
use crate::{Bus, BusError};
use lso_mef_product::{
    Charge, ChargeFind, ChargeItem, ChargeUpdate, DateTime, Money, Note, Price, ProductOrderItemRef, ProductOrderRef,
    Ref, ordering_base,
};
use lso_model::order::{
    Acceptance, ChargeActivity, ChargeEvent, ChargeItemEvent, ChargeItemState, ChargeState, ItemEvent, ItemState,
    NoteSource, OrderEvent, OrderState, PriceCategory, PriceType,
};
use lso_model::{Tenant, Violation};
use lso_store::Selection;
use lso_store::{IndexEntry, Record, WriteOp, sortable_time};
use serde_json::Value;
use std::collections::HashSet;

/// The store kind of charges.
pub(crate) const CHARGE: &str = "charge";

/// The job that times a charge out.
pub(crate) const EXPIRE_CHARGE: &str = "expireCharge";

/// What a charge is for.
pub(crate) enum ChargeFor<'a> {
    /// An item in progress (UC11a).
    Item { item_id: &'a str },
    /// A modify-delivery-date request on an item (UC11b).
    Modify { modify_id: &'a str, item_id: &'a str },
    /// A cancel request (UC11c).
    Cancel { cancel_id: &'a str },
}

impl Bus {
    /// A charge of `tenant` (of anyone's when `None`).
    pub async fn charge(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        self.document(CHARGE, "charge", tenant, id).await
    }

    /// A page of `tenant`'s charges.
    pub async fn list_charges(&self, selection: Selection) -> Result<Listing<ChargeFind>, BusError> {
        self.documents(CHARGE, selection, |c: &Charge| c.into()).await
    }

    /// Raises a blocking charge on an item in progress (an operator's action): the item is held
    /// and the order `held.assessingCharge` until the Buyer answers.
    pub async fn raise_item_charge(
        &self,
        tenant: &Tenant,
        order_id: &str,
        item_id: &str,
        price: Money,
    ) -> Result<Value, BusError> {
        // Retried when the order engine changed the order meanwhile.
        self.retrying(|| self.raise_item_charge_once(tenant, order_id, item_id, price.clone())).await
    }

    async fn raise_item_charge_once(
        &self,
        tenant: &Tenant,
        order_id: &str,
        item_id: &str,
        price: Money,
    ) -> Result<Value, BusError> {
        let (mut change, order) = OrderChange::load(self, Some(&tenant.key()), order_id)
            .await?
            .ok_or_else(|| BusError::NotFound(format!("no product order with id `{order_id}`")))?;
        let item = order
            .product_order_item
            .iter()
            .find(|i| i.request.id == item_id)
            .ok_or_else(|| BusError::NotFound(format!("no item `{item_id}` in order {order_id}")))?;
        if order.state != OrderState::InProgress || item.state != ItemState::InProgress {
            return Err(BusError::Conflict(format!(
                "MEF 123 R85: an item charge needs the item in progress; the order is {} and the item {}",
                order.state, item.state
            )));
        }
        change.move_item(item_id, item.state, ItemEvent::Hold, Some("a charge awaits the Buyer's answer"))?;
        change.move_order(order.state, OrderEvent::ChargeRaised)?;
        let charge = raise(&mut change, ChargeFor::Item { item_id }, PriceCategory::Other, price)?;
        let value = doc::to_value(&charge);
        self.commit(change.finish()?).await?;
        Ok(value)
    }

    /// The Buyer's answer to every item of a charge (`PATCH /charge/{id}`).
    pub async fn answer_charge(&self, tenant: &Tenant, id: &str, update: ChargeUpdate) -> Result<Value, BusError> {
        // Retried when the order engine changed the order meanwhile.
        self.retrying(|| self.answer_charge_once(tenant, id, update.clone())).await
    }

    async fn answer_charge_once(&self, tenant: &Tenant, id: &str, update: ChargeUpdate) -> Result<Value, BusError> {
        let record = self.store.get(CHARGE, Some(&tenant.key()), id).await?;
        let record = record.ok_or_else(|| BusError::NotFound(format!("no charge with id `{id}`")))?;
        let (_, mut charge) = doc::read::<Charge>(&record.doc, id)?;
        if charge.state != ChargeState::AwaitingResponse {
            return Err(BusError::Conflict(format!("the charge is {}; it can no longer be answered", charge.state)));
        }
        check_answer(&charge, &update)?;
        let order_id = order_of(&charge).to_owned();
        let (mut change, _) = OrderChange::load(self, Some(&tenant.key()), &order_id)
            .await?
            .ok_or_else(|| BusError::Corrupt(format!("order of charge {id}")))?;
        for answer in &update.charge_item {
            let item = charge
                .charge_item
                .iter_mut()
                .find(|i| i.id == answer.id)
                .ok_or_else(|| BusError::Corrupt(id.into()))?;
            let event = if answer.acceptance_indicator == Acceptance::Accepted {
                ChargeItemEvent::Accept
            } else {
                ChargeItemEvent::Decline
            };
            item.state = item.state.on(event).map_err(|e| BusError::Conflict(e.to_string()))?;
            item.acceptance_indicator = Some(answer.acceptance_indicator);
            item.note.get_or_insert_with(Vec::new).extend(answer.note.iter().flatten().cloned());
        }
        settle(&mut change, &mut charge, ChargeEvent::Answered, "chargeStateChangeEvent").await?;
        let value = doc::to_value(&charge);
        let mut ops = vec![charge_write(&charge, record)];
        ops.extend(change.finish()?);
        self.commit(ops).await?;
        Ok(value)
    }

    /// Times a charge out once its response is due (MEF 123 R96).
    pub(crate) async fn expire_charge(&self, id: &str) -> Result<(Vec<WriteOp>, Step), BusError> {
        let Some(record) = self.store.get(CHARGE, None, id).await? else { return Ok((Vec::new(), Step::Done)) };
        let (_, mut charge) = doc::read::<Charge>(&record.doc, id)?;
        if charge.state != ChargeState::AwaitingResponse {
            return Ok((Vec::new(), Step::Done));
        }
        let now = self.clock.now_millis();
        if now < charge.response_due_date.millis() {
            return Ok((Vec::new(), Step::Again { at: charge.response_due_date.millis() }));
        }
        let (mut change, _) = OrderChange::load(self, Some(&record.tenant), order_of(&charge))
            .await?
            .ok_or_else(|| BusError::Corrupt(format!("order of charge {id}")))?;
        for item in charge.charge_item.iter_mut().filter(|i| i.state == ChargeItemState::AwaitingResponse) {
            item.state = item.state.on(ChargeItemEvent::Decline).map_err(|e| BusError::Conflict(e.to_string()))?;
        }
        settle(&mut change, &mut charge, ChargeEvent::Expire, "chargeTimeoutEvent").await?;
        let mut ops = vec![charge_write(&charge, record)];
        ops.extend(change.finish()?);
        Ok((ops, Step::Done))
    }
}

/// Creates a charge of one blocking, non-recurring item and announces it.
pub(crate) fn raise(
    change: &mut OrderChange<'_>,
    subject: ChargeFor<'_>,
    category: PriceCategory,
    amount: Money,
) -> Result<Charge, BusError> {
    let bus = change.bus;
    let id = bus.ids.next_id();
    let due = DateTime::from_millis(change.at.millis() + bus.config.charges.response_window_millis);
    let order_ref = ProductOrderRef { product_order_id: change.order_id.clone(), product_order_href: None };
    let item_ref = |item_id: &str| ProductOrderItemRef {
        product_order_id: change.order_id.clone(),
        product_order_item_id: item_id.to_owned(),
        product_order_href: None,
    };
    let (product_order, product_order_item, cancel, modify) = match subject {
        ChargeFor::Item { item_id } => (None, Some(item_ref(item_id)), None, None),
        ChargeFor::Modify { modify_id, item_id } => {
            (None, Some(item_ref(item_id)), None, Some(Ref { id: modify_id.to_owned(), href: None }))
        }
        ChargeFor::Cancel { cancel_id } => {
            (Some(order_ref), None, Some(Ref { id: cancel_id.to_owned(), href: None }), None)
        }
    };
    let charge = Charge {
        id: id.clone(),
        href: Some(format!("{}/charge/{id}", ordering_base(change.tenant.irp))),
        cancel_product_order: cancel,
        charge_item: vec![ChargeItem {
            id: "1".into(),
            acceptance_indicator: None,
            activity_type: ChargeActivity::New,
            blocking: true,
            note: None,
            price: Price { duty_free_amount: amount, tax_included_amount: None, tax_rate: None },
            price_category: category,
            price_type: PriceType::NonRecurring,
            recurring_charge_period: None,
            state: ChargeItemState::AwaitingResponse,
            unit_of_measure: None,
        }],
        creation_date: change.at.clone(),
        modify_product_order_item_requested_delivery_date: modify,
        product_order,
        product_order_item,
        response_due_date: due.clone(),
        state: ChargeState::AwaitingResponse,
    };
    let record = Record {
        kind: CHARGE.into(),
        id: id.clone(),
        tenant: change.tenant.key(),
        version: 1,
        doc: doc::text(&doc::to_value(&charge)),
    };
    change.ops.push(WriteOp::Insert { record, index: charge_index(&charge) });
    change.ops.push(WriteOp::Enqueue {
        kind: EXPIRE_CHARGE.into(),
        key: id.clone(),
        payload: String::new(),
        run_at: due.millis(),
    });
    change.event_about("chargeCreateEvent", &id, format!("charge/{id}"), None);
    Ok(charge)
}

/// Ends a charge (`completed` or `timeout`) and applies the outcome to what it was for.
async fn settle(
    change: &mut OrderChange<'_>,
    charge: &mut Charge,
    event: ChargeEvent,
    event_type: &str,
) -> Result<(), BusError> {
    charge.state = charge.state.on(event).map_err(|e| BusError::Conflict(e.to_string()))?;
    let id = charge.id.clone();
    change.event_about(event_type, &id, format!("charge/{id}"), None);
    let accepted =
        charge.charge_item.iter().filter(|i| i.blocking).all(|i| i.state == ChargeItemState::AcceptedByBuyer);
    let order = change.order()?;
    if let Some(cancel) = &charge.cancel_product_order {
        return tasks::cancel_charge_settled(change, &order, &cancel.id, accepted).await;
    }
    if let Some(modify) = &charge.modify_product_order_item_requested_delivery_date {
        return tasks::modify_charge_settled(change, &order, &modify.id, accepted).await;
    }
    let item_id = charge.product_order_item.as_ref().map(|i| i.product_order_item_id.clone()).unwrap_or_default();
    let item = order
        .product_order_item
        .iter()
        .find(|i| i.request.id == item_id)
        .ok_or_else(|| BusError::Corrupt(item_id.clone()))?;
    if item.state == ItemState::Held {
        if accepted {
            change.move_item(&item_id, item.state, ItemEvent::Resume, Some("the charge was accepted"))?;
        } else {
            change.abandon_item(item, ItemEvent::Fail, "a blocking charge was declined").await?;
        }
    }
    let still_held = change.order()?.product_order_item.iter().any(|i| i.state == ItemState::Held);
    if order.state == OrderState::HeldAssessingCharge && !still_held {
        change.move_order(order.state, OrderEvent::ChargeResolved)?;
        change.advance();
    }
    Ok(())
}

/// MEF 123 R94/R95: every charge item answered, once, with buyer notes only.
fn check_answer(charge: &Charge, update: &ChargeUpdate) -> Result<(), BusError> {
    let mut problems = Vec::new();
    let known: HashSet<&str> = charge.charge_item.iter().map(|i| i.id.as_str()).collect();
    let mut answered = HashSet::new();
    for (index, answer) in update.charge_item.iter().enumerate() {
        let path = format!("/chargeItem/{index}/id");
        if !known.contains(answer.id.as_str()) {
            problems.push(Violation::not_found(path, format!("the charge has no item `{}`", answer.id)));
        } else if !answered.insert(answer.id.as_str()) {
            problems.push(Violation::invalid(path, format!("charge item `{}` is answered twice", answer.id)));
        }
        let notes: Vec<&Note> = answer.note.iter().flatten().collect();
        for (n, note) in notes.iter().enumerate() {
            if note.source != NoteSource::Buyer {
                problems.push(Violation::invalid(
                    format!("/chargeItem/{index}/note/{n}/source"),
                    "a Buyer's note has source `buyer`",
                ));
            }
        }
    }
    for missing in known.difference(&answered) {
        problems.push(Violation::missing(
            "/chargeItem",
            format!("MEF 123 R95: charge item `{missing}` must be answered too"),
        ));
    }
    if problems.is_empty() { Ok(()) } else { Err(BusError::Invalid(problems)) }
}

fn order_of(charge: &Charge) -> &str {
    match (&charge.product_order, &charge.product_order_item) {
        (Some(order), _) => &order.product_order_id,
        (None, Some(item)) => &item.product_order_id,
        (None, None) => "",
    }
}

fn charge_write(charge: &Charge, record: Record) -> WriteOp {
    let record = Record { version: record.version + 1, doc: doc::text(&doc::to_value(charge)), ..record };
    WriteOp::Update { index: charge_index(charge), record }
}

/// The attributes charges are listed by (the filters of `listCharge`).
fn charge_index(charge: &Charge) -> Vec<IndexEntry> {
    let mut index = vec![
        IndexEntry::new("productOrderId", order_of(charge)),
        IndexEntry::new("creationDate", sortable_time(charge.creation_date.millis())),
        IndexEntry::new("responseDueDate", sortable_time(charge.response_due_date.millis())),
        IndexEntry::new("state", charge.state.as_str()),
    ];
    index.extend(
        charge
            .product_order_item
            .as_ref()
            .map(|i| IndexEntry::new("productOrderItemId", i.product_order_item_id.as_str())),
    );
    index
}

/// Sets the charge reference of a cancel or modify request document.
pub(crate) fn refer(task: &mut Value, charge: &Charge) {
    set(task, "charge", doc::to_value(&Ref { id: charge.id.clone(), href: charge.href.clone() }));
}
