//! Advances a product order one step at a time. A step reads the order, decides with the pure
//! transition functions of `lso-model`, and returns the writes to commit together with the
//! finishing of the job: the order, the products, the events and when to look again. A step
//! that is repeated (after a crash, a lost lease) finds the order moved on and does nothing twice.

use crate::doc::{self, item_mut, push, remove, set, state_change};
use crate::events::{self, Subject};
use crate::fulfilment::{FulfilmentRequest, FulfilmentStatus};
use crate::hubs::HubApi;
use crate::inventory::{change_status, new_product, order_item_ref, store_product};
use crate::ordering::{ORDER, order_index};
use crate::validate::term_months;
use crate::{Bus, BusError};
use lso_mef_product::{DateTime, ProductOrder, ProductOrderItem, TerminationError};
use lso_model::order::{ItemAction, ItemEvent, ItemState, OrderEvent, OrderState, order_outcome};
use lso_model::product::ProductEvent;
use lso_model::{Tenant, ViolationCode};
use lso_store::{Record, WriteOp};
use serde_json::Value;
use std::collections::HashMap;

/// What to do with the job after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing more to do.
    Done,
    /// Look again at this time (milliseconds since the epoch).
    Again { at: i64 },
}

/// The changes one step makes to an order, gathered before they are committed.
struct Change<'a> {
    bus: &'a Bus,
    tenant: Tenant,
    order_id: String,
    doc: Value,
    at: DateTime,
    ops: Vec<WriteOp>,
}

impl Change<'_> {
    fn event(&mut self, event_type: &str, item_id: Option<&str>) {
        let subject = Subject {
            id: &self.order_id,
            href: format!("productOrder/{}", self.order_id),
            item_id,
            milestone: None,
            ordering_key: &self.order_id,
        };
        let op = events::event(self.bus.ids.as_ref(), HubApi::Ordering, &self.tenant, event_type, subject, &self.at);
        self.ops.push(op);
    }

    fn move_order(&mut self, from: OrderState, event: OrderEvent) -> Result<OrderState, BusError> {
        let next = from.on(event).map_err(|e| BusError::Conflict(format!("order {}: {e}", self.order_id)))?;
        set(&mut self.doc, "state", next.as_str());
        push(&mut self.doc, "stateChange", state_change(next.as_str(), &self.at, None));
        self.event("productOrderStateChangeEvent", None);
        Ok(next)
    }

    fn move_item(
        &mut self,
        item_id: &str,
        from: ItemState,
        event: ItemEvent,
        reason: Option<&str>,
    ) -> Result<ItemState, BusError> {
        let next = from.on(event).map_err(|e| BusError::Conflict(format!("item {item_id}: {e}")))?;
        let at = self.at.clone();
        let item = item_mut(&mut self.doc, item_id).ok_or_else(|| BusError::Corrupt(format!("item {item_id}")))?;
        set(item, "state", next.as_str());
        push(item, "stateChange", state_change(next.as_str(), &at, reason));
        self.event("productOrderItemStateChangeEvent", Some(item_id));
        Ok(next)
    }

    fn item(&mut self, item_id: &str) -> Result<&mut Value, BusError> {
        item_mut(&mut self.doc, item_id).ok_or_else(|| BusError::Corrupt(format!("item {item_id}")))
    }
}

impl Bus {
    /// Runs the next step of order `id`; returns the writes to commit and what follows.
    pub(crate) async fn advance_order(&self, id: &str) -> Result<(Vec<WriteOp>, Step), BusError> {
        let Some(record) = self.store.get(ORDER, None, id).await? else {
            return Ok((Vec::new(), Step::Done));
        };
        let tenant = Tenant::from_key(&record.tenant).ok_or_else(|| BusError::Corrupt(format!("tenant of {id}")))?;
        let (doc, order) = doc::read::<ProductOrder>(&record.doc, id)?;
        let now = self.clock.now_millis();
        let mut change =
            Change { bus: self, tenant, order_id: id.to_owned(), doc, at: DateTime::from_millis(now), ops: Vec::new() };
        let step = match order.state {
            OrderState::Acknowledged => self.start(&order, &mut change).await?,
            OrderState::InProgress => self.fulfil(&order, &mut change).await?,
            _ => Step::Done,
        };
        if change.ops.is_empty() {
            return Ok((Vec::new(), step));
        }
        let typed: ProductOrder =
            serde_json::from_value(change.doc.clone()).map_err(|e| BusError::Corrupt(format!("order {id}: {e}")))?;
        let updated = Record { version: record.version + 1, doc: doc::text(&change.doc), ..record };
        let mut ops = vec![WriteOp::Update { record: updated, index: order_index(&typed) }];
        ops.append(&mut change.ops);
        Ok((ops, step))
    }

    /// `acknowledged`: the asynchronous checks, then every item `inProgress` (or the order
    /// `rejected`), with the products put in their pending states.
    async fn start(&self, order: &ProductOrder, change: &mut Change<'_>) -> Result<Step, BusError> {
        let mut rejected: HashMap<&str, TerminationError> = HashMap::new();
        for (index, item) in order.product_order_item.iter().enumerate() {
            if let Some(problem) = self.late_check(&change.tenant, index, item).await? {
                rejected.insert(item.request.id.as_str(), problem);
            }
        }
        if !rejected.is_empty() {
            for item in &order.product_order_item {
                let id = item.request.id.as_str();
                if let Some(problem) = rejected.get(id) {
                    let reason = problem.value.clone();
                    change.move_item(id, item.state, ItemEvent::Reject, reason.as_deref())?;
                    set(change.item(id)?, "terminationError", Value::Array(vec![doc::to_value(problem)]));
                } else {
                    change.move_item(
                        id,
                        item.state,
                        ItemEvent::RejectValidated,
                        Some("another item of the order was rejected"),
                    )?;
                }
            }
            change.move_order(order.state, OrderEvent::Reject)?;
            return Ok(Step::Done);
        }
        for item in &order.product_order_item {
            self.start_item(order, item, change).await?;
        }
        change.move_order(order.state, OrderEvent::Accept)?;
        Ok(Step::Again { at: change.at.millis() })
    }

    /// The checks made after the order was acknowledged: MEF 123 R37 (term offered) and the
    /// product still being active when a change starts.
    async fn late_check(
        &self,
        tenant: &Tenant,
        index: usize,
        item: &ProductOrderItem,
    ) -> Result<Option<TerminationError>, BusError> {
        let request = &item.request;
        let problem = |path: &str, value: String| TerminationError {
            code: Some(ViolationCode::InvalidValue.as_str().to_owned()),
            property_path: Some(format!("/productOrderItem/{index}{path}")),
            value: Some(value),
        };
        if let (Some(term), Some(spec)) = (&request.requested_item_term, self.item_specification(tenant, item).await?) {
            let months = term_months(term);
            if months > spec.max_term_months {
                return Ok(Some(problem(
                    "/requestedItemTerm/duration",
                    format!(
                        "a term of {months} months is not offered for {}; at most {} months",
                        spec.name, spec.max_term_months
                    ),
                )));
            }
        }
        if request.action != ItemAction::Add {
            let id = request.product.as_ref().and_then(|p| p.id.clone()).unwrap_or_default();
            let product = self.products_by_id(tenant, std::slice::from_ref(&id)).await?;
            match product.get(&id) {
                Some(p) if p.status.accepts_change_orders() => {}
                Some(p) => {
                    return Ok(Some(problem(
                        "/product/id",
                        format!("product {id} is {} and cannot be changed now", p.status),
                    )));
                }
                None => return Ok(Some(problem("/product/id", format!("product {id} is no longer in inventory")))),
            }
        }
        Ok(None)
    }

    async fn item_specification(
        &self,
        tenant: &Tenant,
        item: &ProductOrderItem,
    ) -> Result<Option<std::sync::Arc<lso_spec::ProductSpec>>, BusError> {
        let product = item.request.product.as_ref();
        let configured =
            product.and_then(|p| p.product_configuration.as_ref()).and_then(|c| c.get("@type")).and_then(Value::as_str);
        let type_urn = match configured {
            Some(urn) => urn.to_owned(),
            None => {
                let id = product.and_then(|p| p.id.clone()).unwrap_or_default();
                let found = self.products_by_id(tenant, std::slice::from_ref(&id)).await?;
                match found.get(&id).and_then(|p| p.product_specification.clone()) {
                    Some(spec) => spec.id,
                    None => return Ok(None),
                }
            }
        };
        Ok(self.catalog.get(&type_urn).cloned())
    }

    async fn start_item(
        &self,
        order: &ProductOrder,
        item: &ProductOrderItem,
        change: &mut Change<'_>,
    ) -> Result<(), BusError> {
        let request = &item.request;
        let id = request.id.as_str();
        let spec = self.item_specification(&change.tenant, item).await?;
        let expected = DateTime::from_millis(
            change.at.millis() + spec.as_ref().map_or(0, |s| s.provisioning_seconds as i64 * 1000),
        );
        change.move_item(id, item.state, ItemEvent::Start, None)?;
        set(change.item(id)?, "expectedCompletionDate", expected.as_str());
        change.event("productOrderItemExpectedCompletionDateSet", Some(id));
        let at = change.at.clone();
        let tenant = change.tenant.clone();
        match request.action {
            ItemAction::Add => {
                let product_id = self.ids.next_id();
                let spec_id = spec.map(|s| s.id.clone()).unwrap_or_default();
                let product = new_product(&product_id, &tenant, &order.id, request, &spec_id, &at);
                let item_doc = change.item(id)?;
                let product_slot =
                    doc::object(item_doc).entry("product").or_insert_with(|| Value::Object(Default::default()));
                set(product_slot, "id", product_id.as_str());
                change.ops.extend(store_product(self, &tenant, &product, 1, "productCreateEvent", &at));
            }
            ItemAction::Modify | ItemAction::Delete => {
                let product_id = request.product.as_ref().and_then(|p| p.id.clone()).unwrap_or_default();
                let (mut product, version) = self.product_for_update(&tenant, &product_id).await?;
                let event = if request.action == ItemAction::Modify {
                    ProductEvent::BeginChange
                } else {
                    ProductEvent::BeginTerminate
                };
                change_status(&mut product, event, &at, format!("product order {} item {id} in progress", order.id))?;
                product.product_order_item.get_or_insert_with(Vec::new).push(order_item_ref(&order.id, id));
                change.ops.extend(store_product(self, &tenant, &product, version + 1, "productStatusChangeEvent", &at));
            }
        }
        Ok(())
    }

    /// `inProgress`: asks the fulfilment about every item whose related items are done, and
    /// ends the order when every item has ended.
    async fn fulfil(&self, order: &ProductOrder, change: &mut Change<'_>) -> Result<Step, BusError> {
        let mut states: HashMap<String, ItemState> =
            order.product_order_item.iter().map(|i| (i.request.id.clone(), i.state)).collect();
        let mut next_check: Option<i64> = None;
        let mut progressed = false;
        for item in order.product_order_item.iter().filter(|i| i.state == ItemState::InProgress) {
            let id = item.request.id.as_str();
            match dependency_status(item, &states) {
                Dependencies::Waiting => continue,
                Dependencies::Failed(reason) => {
                    self.end_item(order, item, change, Err(reason)).await?;
                    states.insert(id.to_owned(), ItemState::Failed);
                    progressed = true;
                    continue;
                }
                Dependencies::Met => {}
            }
            let product_id = item.request.product.as_ref().and_then(|p| p.id.clone()).unwrap_or_default();
            let specification =
                self.item_specification(&change.tenant, item).await?.map(|s| s.id.clone()).unwrap_or_default();
            let configuration = item
                .request
                .product
                .as_ref()
                .and_then(|p| p.product_configuration.as_ref())
                .map(|c| Value::Object(c.clone()));
            let started_at = item
                .state_change
                .iter()
                .flatten()
                .rev()
                .find(|c| c.state == ItemState::InProgress)
                .map_or(change.at.millis(), |c| c.change_date.millis());
            let request = FulfilmentRequest {
                tenant: &change.tenant,
                order_id: &order.id,
                item_id: id,
                action: item.request.action,
                product_id: &product_id,
                specification: &specification,
                configuration: configuration.as_ref(),
                started_at,
                now: change.at.millis(),
            };
            match self.fulfilment.progress(request).await {
                FulfilmentStatus::Completed => {
                    self.end_item(order, item, change, Ok(())).await?;
                    states.insert(id.to_owned(), ItemState::Completed);
                    progressed = true;
                }
                FulfilmentStatus::Failed { reason } => {
                    self.end_item(order, item, change, Err(reason)).await?;
                    states.insert(id.to_owned(), ItemState::Failed);
                    progressed = true;
                }
                FulfilmentStatus::InProgress { check_at } => {
                    next_check = Some(next_check.map_or(check_at, |t| t.min(check_at)));
                }
            }
        }
        let all: Vec<ItemState> = order.product_order_item.iter().map(|i| states[&i.request.id]).collect();
        if let Some(outcome) = order_outcome(&all) {
            change.move_order(order.state, outcome)?;
            set(&mut change.doc, "completionDate", change.at.as_str());
            return Ok(Step::Done);
        }
        let now = change.at.millis();
        let at = if progressed { now } else { next_check.unwrap_or(now + 1000) };
        Ok(Step::Again { at })
    }

    /// Ends an item `completed` (`Ok`) or `failed` (`Err(reason)`) and settles its product.
    async fn end_item(
        &self,
        order: &ProductOrder,
        item: &ProductOrderItem,
        change: &mut Change<'_>,
        result: Result<(), String>,
    ) -> Result<(), BusError> {
        let id = item.request.id.as_str();
        let at = change.at.clone();
        let tenant = change.tenant.clone();
        let reason = format!("product order {} item {id}", order.id);
        let product_id = change.item(id)?["product"]["id"].as_str().unwrap_or_default().to_owned();
        let (mut product, version) = self.product_for_update(&tenant, &product_id).await?;
        match &result {
            Ok(()) => {
                change.move_item(id, item.state, ItemEvent::Complete, None)?;
                set(change.item(id)?, "completionDate", at.as_str());
                match item.request.action {
                    ItemAction::Add => {
                        change_status(&mut product, ProductEvent::Activate, &at, format!("{reason} completed"))?;
                        product.start_date = at.clone();
                    }
                    ItemAction::Modify => {
                        product.product_configuration =
                            item.request.product.as_ref().and_then(|p| p.product_configuration.clone());
                        product.product_term = item.request.requested_item_term.clone().map(|t| vec![t]);
                        change_status(&mut product, ProductEvent::EndChange, &at, format!("{reason} completed"))?;
                    }
                    ItemAction::Delete => {
                        change_status(&mut product, ProductEvent::Terminate, &at, format!("{reason} completed"))?;
                        product.termination_date = Some(at.clone());
                    }
                }
            }
            Err(why) => {
                change.move_item(id, item.state, ItemEvent::Fail, Some(why))?;
                let item_doc = change.item(id)?;
                remove(item_doc, "expectedCompletionDate");
                let error = TerminationError {
                    code: Some(ViolationCode::OtherIssue.as_str().into()),
                    property_path: None,
                    value: Some(why.clone()),
                };
                set(item_doc, "terminationError", Value::Array(vec![doc::to_value(&error)]));
                let event = match item.request.action {
                    ItemAction::Add => ProductEvent::Cancel,
                    ItemAction::Modify => ProductEvent::EndChange,
                    ItemAction::Delete => ProductEvent::AbandonTerminate,
                };
                change_status(&mut product, event, &at, format!("{reason} failed: {why}"))?;
            }
        }
        let event_type = if result.is_ok() && item.request.action == ItemAction::Modify {
            "productAttributeValueChangeEvent"
        } else {
            "productStatusChangeEvent"
        };
        change.ops.extend(store_product(self, &tenant, &product, version + 1, event_type, &at));
        Ok(())
    }
}

enum Dependencies {
    Met,
    Waiting,
    Failed(String),
}

/// Whether the items an item relates to (relationships and coordinated actions) are done.
fn dependency_status(item: &ProductOrderItem, states: &HashMap<String, ItemState>) -> Dependencies {
    let related = item
        .request
        .product_order_item_relationship
        .iter()
        .flatten()
        .map(|r| r.id.as_str())
        .chain(item.request.coordinated_action.iter().flatten().map(|c| c.item_id.as_str()));
    let mut waiting = false;
    for other in related {
        match states.get(other) {
            Some(ItemState::Completed) | None => {}
            Some(state) if state.is_terminal() => {
                return Dependencies::Failed(format!("related item {other} ended {state}"));
            }
            Some(_) => waiting = true,
        }
    }
    if waiting { Dependencies::Waiting } else { Dependencies::Met }
}
