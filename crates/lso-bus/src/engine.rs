//! Advances a product order one step at a time. A step reads the order, decides with the pure
//! transition functions of `lso-model`, and returns the writes to commit together with the
//! finishing of the job: the order, the products, the events and when to look again. A step
//! that is repeated (after a crash, a lost lease) finds the order moved on and does nothing twice.

use crate::change::OrderChange;
use crate::doc::{self, set};
use crate::fulfilment::{FulfilmentRequest, FulfilmentStatus};
use crate::inventory::{change_status, new_product, order_item_ref};

use crate::validate::term_months;
use crate::{Bus, BusError};
use lso_mef_product::{DateTime, ProductOrder, ProductOrderItem, TerminationError};
use lso_model::order::{ItemAction, ItemEvent, ItemState, OrderEvent, OrderState, order_outcome};
use lso_model::product::ProductEvent;
use lso_model::{Tenant, ViolationCode};
use lso_store::WriteOp;
use serde_json::Value;
use std::collections::HashMap;

pub use lso_jobs::Step;

impl Bus {
    /// Runs the next step of order `id`; returns the writes to commit and what follows.
    pub(crate) async fn advance_order(&self, id: &str) -> Result<(Vec<WriteOp>, Step), BusError> {
        let Some((mut change, order)) = OrderChange::load(self, None, id).await? else {
            return Ok((Vec::new(), Step::Done));
        };
        let step = match order.state {
            OrderState::Acknowledged => match self.start(&order, &mut change).await? {
                // Asking a fulfilment that only looks costs no step of its own.
                Step::Again { .. } if self.fulfilment.only_looks() => {
                    let started = change.order()?;
                    self.fulfil(&started, &mut change).await?
                }
                step => step,
            },
            OrderState::InProgress => self.fulfil(&order, &mut change).await?,
            _ => Step::Done,
        };
        Ok((change.finish()?, step))
    }

    /// `acknowledged`: the asynchronous checks, then every item `inProgress` (or the order
    /// `rejected`), with the products put in their pending states.
    async fn start(&self, order: &ProductOrder, change: &mut OrderChange<'_>) -> Result<Step, BusError> {
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
        let quotes: std::collections::BTreeSet<&str> = order
            .product_order_item
            .iter()
            .filter_map(|i| i.request.quote_item.as_ref())
            .map(|q| q.quote_id.as_str())
            .collect();
        for quote in quotes {
            let accepted = self.accept_quote(&change.tenant, quote, &change.order_id).await?;
            change.ops.extend(accepted);
        }
        change.move_order(order.state, OrderEvent::Accept)?;
        Ok(Step::Again { at: change.at.millis() })
    }

    /// The checks made after the order was acknowledged: MEF 123 R37 (term offered), R38 (the
    /// term of the quote referenced) and the product still being active when a change starts.
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
        if let Some(quoted) = &request.quote_item {
            let term = request.requested_item_term.as_ref();
            if let Some((path, reason)) = self.quote_late_problem(tenant, &quoted.quote_id, &quoted.id, term).await? {
                return Ok(Some(problem(&path, reason)));
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
        Ok(self.spec(&type_urn))
    }

    async fn start_item(
        &self,
        order: &ProductOrder,
        item: &ProductOrderItem,
        change: &mut OrderChange<'_>,
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
                change.put_product(product, 1, "productCreateEvent");
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
                change.put_product(product, version + 1, "productStatusChangeEvent");
            }
        }
        Ok(())
    }

    /// `inProgress`: asks the fulfilment about every item whose related items are done, and
    /// ends the order when every item has ended.
    async fn fulfil(&self, order: &ProductOrder, change: &mut OrderChange<'_>) -> Result<Step, BusError> {
        let mut states: HashMap<String, ItemState> =
            order.product_order_item.iter().map(|i| (i.request.id.clone(), i.state)).collect();
        let mut next_check: Option<i64> = None;
        let mut progressed = false;
        for item in order.product_order_item.iter().filter(|i| i.state == ItemState::InProgress) {
            let id = item.request.id.as_str();
            match dependency_status(order, item, &states) {
                Dependencies::Waiting => continue,
                Dependencies::Failed(reason) => {
                    self.end_item(item, change, Err(reason)).await?;
                    states.insert(id.to_owned(), ItemState::Failed);
                    progressed = true;
                    continue;
                }
                Dependencies::Met => {}
            }
            let product_id = item.request.product.as_ref().and_then(|p| p.id.clone()).unwrap_or_default();
            let spec = self.item_specification(&change.tenant, item).await?;
            let (related, places) = related_and_places(order, item);
            let installs = item.request.action == ItemAction::Add
                && spec.as_ref().is_some_and(|s| !s.required_place_roles.is_empty());
            let tenant = change.tenant.clone();
            if installs {
                match self.installation_visit(&tenant, &order.id, id, &places, &mut change.ops).await? {
                    crate::workforce::Visit::Done => {}
                    crate::workforce::Visit::Awaited => {
                        // The visit's end wakes the order; look again within the hour regardless.
                        let hour = change.at.millis() + 3_600_000;
                        next_check = Some(next_check.map_or(hour, |t| t.min(hour)));
                        continue;
                    }
                    crate::workforce::Visit::Failed(reason) => {
                        self.end_item(item, change, Err(reason)).await?;
                        states.insert(id.to_owned(), ItemState::Failed);
                        progressed = true;
                        continue;
                    }
                }
            }
            let specification = spec.map(|s| s.id.clone()).unwrap_or_default();
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
                tenant: &tenant,
                order_id: &order.id,
                item_id: id,
                action: item.request.action,
                product_id: &product_id,
                specification: &specification,
                configuration: configuration.as_ref(),
                related: &related,
                places: &places,
                started_at,
                now: change.at.millis(),
            };
            for name in self.fulfilment.milestones(&request) {
                if !item.milestone.iter().flatten().any(|m| m.name == name) {
                    change.milestone(id, &name)?;
                }
            }
            match self.fulfilment.progress(request).await {
                FulfilmentStatus::Completed => {
                    let assigned = match item.request.action {
                        ItemAction::Delete => None,
                        _ => self.fulfilment.assigned(request).await,
                    };
                    self.end_item(item, change, Ok(assigned)).await?;
                    states.insert(id.to_owned(), ItemState::Completed);
                    progressed = true;
                }
                FulfilmentStatus::Failed { reason } => {
                    self.end_item(item, change, Err(reason)).await?;
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
        item: &ProductOrderItem,
        change: &mut OrderChange<'_>,
        result: Result<Option<Value>, String>,
    ) -> Result<(), BusError> {
        let why = match result {
            Ok(assigned) => return complete_item(item, change, assigned).await,
            Err(why) => why,
        };
        change.abandon_item(item, ItemEvent::Fail, &why).await
    }
}

/// Completes `item`, merging what the provider `assigned` into its product's configuration.
async fn complete_item(
    item: &ProductOrderItem,
    change: &mut OrderChange<'_>,
    assigned: Option<Value>,
) -> Result<(), BusError> {
    let with_assigned = |configuration: &mut Option<serde_json::Map<String, Value>>| {
        if let (Some(configuration), Some(assigned)) = (configuration.as_mut(), &assigned) {
            let mut merged = Value::Object(std::mem::take(configuration));
            crate::internet::merge(&mut merged, assigned);
            if let Value::Object(merged) = merged {
                *configuration = merged;
            }
        }
    };
    let id = item.request.id.as_str();
    let at = change.at.clone();
    change.move_item(id, item.state, ItemEvent::Complete, None)?;
    set(change.item(id)?, "completionDate", at.as_str());
    let reason = format!("product order {} item {id} completed", change.order_id);
    let request = &item.request;
    match request.action {
        ItemAction::Add => {
            // The items of this order it relates to are products now: it relates to those.
            let mut related = Vec::new();
            for relation in request.product_order_item_relationship.iter().flatten() {
                let product =
                    change.item(&relation.id).ok().and_then(|i| i["product"]["id"].as_str().map(str::to_owned));
                if let Some(product) = product {
                    let relationship_type = relation.relationship_type.clone();
                    related.push(lso_mef_product::ProductRelationship { id: product, relationship_type, href: None });
                }
            }
            change
                .change_product(id, ProductEvent::Activate, reason, "productStatusChangeEvent", |p| {
                    p.start_date = at.clone();
                    with_assigned(&mut p.product_configuration);
                    if !related.is_empty() {
                        p.product_relationship.get_or_insert_with(Vec::new).extend(related);
                    }
                })
                .await
        }
        ItemAction::Modify => {
            let mut configuration = request.product.as_ref().and_then(|p| p.product_configuration.clone());
            with_assigned(&mut configuration);
            let term = request.requested_item_term.clone().map(|t| vec![t]);
            change
                .change_product(id, ProductEvent::EndChange, reason, "productAttributeValueChangeEvent", |p| {
                    p.product_configuration = configuration;
                    p.product_term = term;
                })
                .await
        }
        ItemAction::Delete => {
            change
                .change_product(id, ProductEvent::Terminate, reason, "productStatusChangeEvent", |p| {
                    p.termination_date = Some(at.clone())
                })
                .await
        }
    }
}

enum Dependencies {
    Met,
    Waiting,
    Failed(String),
}

/// Two names: (relationship type, product id) or (role, place id).
type Pair = (String, String);

/// The products `item` relates to, as (relationship type, product id), and its places, as
/// (role, place id). An EVC's end points in the same order (items relating to it as
/// `ROOT_ENDPOINT_OF_EVC` and the like) are among them, with that type.
fn related_and_places(order: &ProductOrder, item: &ProductOrderItem) -> (Vec<Pair>, Vec<Pair>) {
    let product = item.request.product.as_ref();
    let own = product.and_then(|p| p.product_relationship.as_ref()).into_iter().flatten();
    let mut related: Vec<(String, String)> = own.map(|r| (r.relationship_type.clone(), r.id.clone())).collect();
    let product_of = |item: &ProductOrderItem| item.request.product.as_ref().and_then(|p| p.id.clone());
    for relation in item.request.product_order_item_relationship.iter().flatten() {
        let other = order.product_order_item.iter().find(|i| i.request.id == relation.id);
        if let Some(id) = other.and_then(product_of) {
            related.push((relation.relationship_type.clone(), id));
        }
    }
    for other in &order.product_order_item {
        let relations = other.request.product_order_item_relationship.iter().flatten();
        let endpoint = relations
            .filter(|r| r.id == item.request.id && crate::validate::is_endpoint_of_evc(&r.relationship_type))
            .find_map(|r| Some((r.relationship_type.clone(), product_of(other)?)));
        related.extend(endpoint);
    }
    let places = product
        .and_then(|p| p.place.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p.role.clone(), p.id.clone()?)))
        .collect();
    (related, places)
}

/// Whether the items an item waits for (relationships and coordinated actions) are done.
fn dependency_status(
    order: &ProductOrder,
    item: &ProductOrderItem,
    states: &HashMap<String, ItemState>,
) -> Dependencies {
    let related = crate::validate::waits_for(&item.request, order.product_order_item.iter().map(|i| &i.request));
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
