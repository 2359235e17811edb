//! `OrderChange`: the changes one step makes to a product order and the resources around it
//! (its products, cancel and modify requests, charges), gathered as write ops and events and
//! committed together.

use crate::doc::{self, item_mut, push, remove, set, state_change};
use crate::events::{self, Subject};
use crate::hubs::HubApi;
use crate::inventory::{PRODUCT, change_status, store_product};
use crate::ordering::{ORDER, advance_order, order_index};
use crate::{Bus, BusError};
use lso_mef_product::{DateTime, Product, ProductOrder, ProductOrderItem, TerminationError};
use lso_model::order::{ItemAction, ItemEvent, ItemState, OrderEvent, OrderState};
use lso_model::product::ProductEvent;
use lso_model::{Tenant, ViolationCode};
use lso_store::{Record, WriteOp};
use serde_json::Value;
use std::collections::HashMap;

/// The changes of one step to an order.
pub(crate) struct OrderChange<'a> {
    pub bus: &'a Bus,
    pub tenant: Tenant,
    pub order_id: String,
    pub doc: Value,
    pub at: DateTime,
    pub ops: Vec<WriteOp>,
    record: Record,
    /// The products this change writes, each with the version it writes.
    products: HashMap<String, (Product, i64)>,
}

impl<'a> OrderChange<'a> {
    /// Loads order `id` of `tenant` (of anyone's when `None`) for a change.
    pub async fn load(bus: &'a Bus, tenant: Option<&str>, id: &str) -> Result<Option<(Self, ProductOrder)>, BusError> {
        let Some(record) = bus.store.get(ORDER, tenant, id).await? else {
            return Ok(None);
        };
        let owner = Tenant::from_key(&record.tenant).ok_or_else(|| BusError::Corrupt(format!("tenant of {id}")))?;
        let (doc, order) = doc::read::<ProductOrder>(&record.doc, id)?;
        let at = DateTime::from_millis(bus.clock.now_millis());
        let change = OrderChange {
            bus,
            tenant: owner,
            order_id: id.to_owned(),
            doc,
            at,
            ops: Vec::new(),
            record,
            products: HashMap::new(),
        };
        Ok(Some((change, order)))
    }

    /// The write ops of the change: the order first, if anything changed.
    pub fn finish(self) -> Result<Vec<WriteOp>, BusError> {
        // The stored text is the document's own serialisation, so an unchanged order reads the same.
        let text = doc::text(&self.doc);
        if self.ops.is_empty() && text == self.record.doc {
            return Ok(Vec::new());
        }
        let index = order_index(&self.doc);
        let record = Record { version: self.record.version + 1, doc: text, ..self.record };
        let mut ops = vec![WriteOp::Update { record, index }];
        ops.extend(self.ops);
        Ok(ops)
    }

    /// The order as it is now, with the changes made so far.
    pub fn order(&self) -> Result<ProductOrder, BusError> {
        doc::typed(&self.doc, &format!("order {}", self.order_id))
    }

    /// Announces an event about the order (or one of its items).
    pub fn event(&mut self, event_type: &str, item_id: Option<&str>) {
        let href = format!("productOrder/{}", self.order_id);
        let order_id = self.order_id.clone();
        self.event_about(event_type, &order_id, href, item_id);
    }

    /// Records a milestone an item reached (MEF 123 CR8) and announces it (CR7).
    pub fn milestone(&mut self, item_id: &str, name: &str) -> Result<(), BusError> {
        let at = self.at.clone();
        push(self.item(item_id)?, "milestone", serde_json::json!({"date": at.as_str(), "name": name}));
        let subject = Subject {
            id: &self.order_id,
            href: format!("productOrder/{}", self.order_id),
            item_id: Some(item_id),
            milestone: Some(name),
            ordering_key: &self.order_id,
        };
        let event_type = "productSpecificProductOrderItemMilestoneEvent";
        let op = events::event(self.bus.ids.as_ref(), HubApi::Ordering, &self.tenant, event_type, subject, &self.at);
        self.ops.push(op);
        Ok(())
    }

    /// Announces an event about a resource of the order (a cancel request, a charge …); events
    /// about one order reach each listener in the order they happened.
    pub fn event_about(&mut self, event_type: &str, id: &str, href: String, item_id: Option<&str>) {
        let subject = Subject { id, href, item_id, milestone: None, ordering_key: &self.order_id };
        let op = events::event(self.bus.ids.as_ref(), HubApi::Ordering, &self.tenant, event_type, subject, &self.at);
        self.ops.push(op);
    }

    /// Has the order looked at again once this change is committed.
    pub fn advance(&mut self) {
        self.ops.push(advance_order(self.order_id.clone(), self.at.millis()));
    }

    /// Moves the order and records it.
    pub fn move_order(&mut self, from: OrderState, event: OrderEvent) -> Result<OrderState, BusError> {
        let next = from.on(event).map_err(|e| BusError::Conflict(format!("order {}: {e}", self.order_id)))?;
        set(&mut self.doc, "state", next.as_str());
        push(&mut self.doc, "stateChange", state_change(next.as_str(), &self.at, None));
        self.event("productOrderStateChangeEvent", None);
        Ok(next)
    }

    /// Moves an item and records it.
    pub fn move_item(
        &mut self,
        item_id: &str,
        from: ItemState,
        event: ItemEvent,
        reason: Option<&str>,
    ) -> Result<ItemState, BusError> {
        let next = from.on(event).map_err(|e| BusError::Conflict(format!("item {item_id}: {e}")))?;
        let at = self.at.clone();
        let item = self.item(item_id)?;
        set(item, "state", next.as_str());
        push(item, "stateChange", state_change(next.as_str(), &at, reason));
        self.event("productOrderItemStateChangeEvent", Some(item_id));
        Ok(next)
    }

    /// The stored item `item_id`.
    pub fn item(&mut self, item_id: &str) -> Result<&mut Value, BusError> {
        item_mut(&mut self.doc, item_id).ok_or_else(|| BusError::Corrupt(format!("item {item_id}")))
    }

    /// Ends an item that will not complete: `failed` (with the reason as termination error)
    /// from `inProgress`, `held` or `pending`, or `cancelled` from `pending`; its product goes
    /// back to where it was before the order.
    pub async fn abandon_item(&mut self, item: &ProductOrderItem, event: ItemEvent, why: &str) -> Result<(), BusError> {
        let id = item.request.id.as_str();
        let state = self.move_item(id, item.state, event, Some(why))?;
        let item_doc = self.item(id)?;
        remove(item_doc, "expectedCompletionDate");
        if state == ItemState::Failed {
            let error = TerminationError {
                code: Some(ViolationCode::OtherIssue.as_str().into()),
                property_path: None,
                value: Some(why.to_owned()),
            };
            set(item_doc, "terminationError", Value::Array(vec![doc::to_value(&error)]));
        }
        let back = match item.request.action {
            ItemAction::Add => ProductEvent::Cancel,
            ItemAction::Modify => ProductEvent::EndChange,
            ItemAction::Delete => ProductEvent::AbandonTerminate,
        };
        let reason = format!("product order {} item {id} {state}: {why}", self.order_id);
        self.change_product(id, back, reason, "productStatusChangeEvent", |_| {}).await
    }

    /// Changes the product of item `item_id` and stores it.
    pub async fn change_product(
        &mut self,
        item_id: &str,
        event: ProductEvent,
        reason: String,
        event_type: &str,
        edit: impl FnOnce(&mut lso_mef_product::Product),
    ) -> Result<(), BusError> {
        let product_id = self.item(item_id)?["product"]["id"].as_str().unwrap_or_default().to_owned();
        let (mut product, version) = match self.products.get(&product_id) {
            Some((product, version)) => (product.clone(), *version),
            None => {
                let (product, stored) = self.bus.product_for_update(&self.tenant, &product_id).await?;
                (product, stored + 1)
            }
        };
        edit(&mut product);
        change_status(&mut product, event, &self.at, reason)?;
        self.put_product(product, version, event_type);
        Ok(())
    }

    /// Writes `product` as its `version` (one more than stored) and announces `event_type`
    /// about it. A product this change writes already is written once, as it is last.
    pub fn put_product(&mut self, product: Product, version: i64, event_type: &str) {
        let mut ops = store_product(self.bus, &self.tenant, &product, version, event_type, &self.at);
        let written = self.ops.iter().position(|op| op.target() == Some((PRODUCT, product.id.as_str())));
        if let Some(written) = written {
            self.ops[written] = ops.remove(0);
        }
        self.ops.extend(ops);
        self.products.insert(product.id.clone(), (product, version));
    }
}
