//! Product orders: create (MEF 123 UC1), retrieve (UC4) and list (UC3).

use crate::doc::{self, push, set};
use crate::validate::{self, Context};
use crate::{Bus, BusError};
use lso_mef_product::{DateTime, ProductOrder, ProductOrderCreate, ProductOrderFind, ordering_base};
use lso_model::Tenant;
use lso_model::order::{ItemState, OrderState};
use lso_store::Selection;
use lso_store::{IndexEntry, ListQuery, Record, WriteOp, sortable_time};
use serde_json::{Value, json};

/// The store kind of product orders.
pub(crate) const ORDER: &str = "productOrder";

/// The job that advances an order.
pub(crate) const ADVANCE_ORDER: &str = "advanceProductOrder";

/// The job that looks at order `id` at `run_at`.
pub(crate) fn advance_order(id: String, run_at: i64) -> WriteOp {
    WriteOp::Enqueue { kind: ADVANCE_ORDER.into(), key: id, payload: String::new(), run_at }
}

/// A page of a list and the number of all matches.
pub type Listing<T> = (Vec<T>, lso_store::Total);

impl Bus {
    /// Looks at order `id` again now, e.g. when a partner it waits for says something changed.
    pub async fn nudge_order(&self, id: &str) -> Result<(), BusError> {
        self.nudge(ADVANCE_ORDER, id, String::new()).await
    }

    /// Runs job `kind` `key` now (with `payload`), enqueuing it if it is not waiting already.
    pub async fn nudge(&self, kind: &str, key: &str, payload: String) -> Result<(), BusError> {
        let now = self.clock.now_millis();
        let job = WriteOp::Enqueue { kind: kind.into(), key: key.into(), payload, run_at: now };
        self.commit(vec![job]).await
    }

    /// In interop mode: gives each delete item without a `requestedCompletionDate` the Seller's
    /// (a day from now) and notes on the order what the Seller filled in (MEF 123 R14).
    fn fill_in_deletes(&self, document: &mut Value, now: i64) {
        let due = DateTime::from_millis(now + 86_400_000);
        let mut notes = Vec::new();
        for item in document["productOrderItem"].as_array_mut().into_iter().flatten() {
            if item["action"] != "delete" {
                continue;
            }
            let id = item["id"].as_str().unwrap_or_default().to_owned();
            if item["requestedCompletionDate"].is_null() {
                set(item, "requestedCompletionDate", due.as_str());
                notes.push(crate::Conformance::note(
                    "MEF 123 R14",
                    &format!("item {id} had no requestedCompletionDate; the Seller's, {}, is used", due.as_str()),
                ));
            }
            let roles: Vec<&str> = item["relatedContactInformation"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["role"].as_str())
                .collect();
            let missing: Vec<&str> =
                validate::ITEM_CONTACT_ROLES.iter().copied().filter(|r| !roles.contains(r)).collect();
            if !missing.is_empty() {
                let what = format!("item {id} names no {}; the order's contacts are used", missing.join(", "));
                notes.push(crate::Conformance::note("MEF 123 R14", &what));
            }
        }
        let at = DateTime::from_millis(now);
        for text in notes {
            let note = json!({"id": self.ids.next_id(), "author": "Seller", "date": at.as_str(), "source": "seller", "text": text});
            push(document, "note", note);
        }
    }

    /// Accepts a product order: checks it, stores it `acknowledged` with the Seller's
    /// attributes added to what the Buyer sent, and schedules its processing.
    pub async fn create_order(
        &self,
        tenant: &Tenant,
        raw: Value,
        order: ProductOrderCreate,
    ) -> Result<Value, BusError> {
        let now = self.clock.now_millis();
        let products = self.products_by_id(tenant, &validate::referenced_products(&order)).await?;
        let interop = self.config.conformance == crate::Conformance::Interop;
        let context = Context { catalog: &self.catalog(), irp: tenant.irp, now, products: &products, interop };
        let mut problems = validate::check_create(&order, &raw, &context);
        for (index, item) in raw["productOrderItem"].as_array().into_iter().flatten().enumerate() {
            if item.get("quoteItem").is_some() {
                self.check_quote_reference(tenant, item, &format!("/productOrderItem/{index}"), &mut problems).await?;
            }
        }
        if !problems.is_empty() {
            return Err(BusError::Invalid(problems));
        }
        let id = self.ids.next_id();
        let at = DateTime::from_millis(now);
        let mut document = raw;
        set(&mut document, "id", id.as_str());
        set(&mut document, "href", format!("{}/productOrder/{id}", ordering_base(tenant.irp)));
        set(&mut document, "orderDate", at.as_str());
        set(&mut document, "state", OrderState::Acknowledged.as_str());
        set(&mut document, "stateChange", Value::Array(vec![doc::state_change("acknowledged", &at, None)]));
        push(&mut document, "relatedContactInformation", self.config.seller_contact.clone());
        if interop {
            self.fill_in_deletes(&mut document, now);
        }
        if let Some(items) = document.get_mut("productOrderItem").and_then(Value::as_array_mut) {
            for item in items {
                set(item, "state", ItemState::Acknowledged.as_str());
                set(item, "stateChange", Value::Array(vec![doc::state_change("acknowledged", &at, None)]));
            }
        }
        let index = order_index(&document);
        let record =
            Record { kind: ORDER.into(), id: id.clone(), tenant: tenant.key(), version: 1, doc: doc::text(&document) };
        self.commit(vec![WriteOp::Insert { record, index }, advance_order(id, now)]).await?;
        Ok(document)
    }

    /// An order of `tenant` (of anyone's when `None`).
    pub async fn order(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        self.document(ORDER, "product order", tenant, id).await
    }

    /// A page of `tenant`'s orders matching `filters`, newest first.
    pub async fn list_orders(&self, selection: Selection) -> Result<Listing<ProductOrderFind>, BusError> {
        self.documents(ORDER, selection, |o: &ProductOrder| o.into()).await
    }

    /// A stored document of `kind` and `tenant` (of anyone's when `None`).
    pub(crate) async fn document(
        &self,
        kind: &str,
        what: &str,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<Value, BusError> {
        let record = self.store.get(kind, tenant, id).await?;
        let record = record.ok_or_else(|| BusError::NotFound(format!("no {what} with id `{id}`")))?;
        serde_json::from_str(&record.doc).map_err(|e| BusError::Corrupt(format!("{kind} {id}: {e}")))
    }

    /// A page of documents, each read as `T` and shown as its list projection.
    pub(crate) async fn documents<T: serde::de::DeserializeOwned, F>(
        &self,
        kind: &str,
        selection: Selection,
        project: impl Fn(&T) -> F,
    ) -> Result<Listing<F>, BusError> {
        let page = self.store.list(ListQuery::of(kind, selection)).await?;
        let mut found = Vec::with_capacity(page.records.len());
        for record in page.records {
            let (_, typed) = doc::read::<T>(&record.doc, &format!("{kind} {}", record.id))?;
            found.push(project(&typed));
        }
        Ok((found, page.total))
    }
}

/// The attributes orders are listed by (the filters of `listProductOrder`), read from the
/// stored document.
pub(crate) fn order_index(order: &Value) -> Vec<IndexEntry> {
    let time = |value: &Value| value.as_str().and_then(|t| DateTime::parse(t).ok()).map(|d| sortable_time(d.millis()));
    let mut index = Vec::with_capacity(8);
    for name in ["state", "externalId", "projectId"] {
        if let Some(text) = order[name].as_str() {
            index.push(IndexEntry::new(name, text));
        }
    }
    for name in ["orderDate", "completionDate", "cancellationDate"] {
        index.extend(time(&order[name]).map(|t| IndexEntry::new(name, t)));
    }
    for item in order["productOrderItem"].as_array().into_iter().flatten() {
        // Counted by state for the operators' metrics.
        index.extend(item["state"].as_str().map(|s| IndexEntry::new("itemState", s)));
        index.extend(time(&item["requestedCompletionDate"]).map(|t| IndexEntry::new("itemRequestedCompletionDate", t)));
        index.extend(time(&item["expectedCompletionDate"]).map(|t| IndexEntry::new("itemExpectedCompletionDate", t)));
    }
    index
}
