//! Quote Management (MEF 115). An instant quote is answered in its response; a deferred one is
//! acknowledged, taken in progress by a job and answered when the Seller's answer time has
//! passed, each step announced. Items are priced from the specification's price rule for the
//! offered term closest to the one requested (R40), and a firm quote is checked for
//! feasibility on the network as a qualification would be. An answered quote expires when its
//! validity ends; a product order that references it accepts it.

use crate::doc::{push, set, state_change};
use crate::hubs::HubApi;
use crate::pricing::{installation_interval, item_term, offered_terms, prices};
use crate::qualification::{Found, ItemList};
use crate::tracked::Tracked;
use crate::{Bus, BusError};
use lso_jobs::Step;
use lso_mef_product::{DateTime, ItemTerm};
use lso_model::quote::{QuoteEvent, QuoteItemState, QuoteState, quote_outcome};
use lso_model::{Tenant, Violation};
use lso_store::Selection;
use lso_store::{IndexEntry, ListQuery, WriteOp, sortable_time};
use serde_json::{Value, json};

/// The store kind of quotes.
pub(crate) const QUOTE: &str = "quote";
/// The job that takes a deferred quote in progress and answers it.
pub(crate) const ADVANCE_QUOTE: &str = "advanceQuote";
/// The job that ends an answered quote's validity.
pub(crate) const EXPIRE_QUOTE: &str = "expireQuote";

/// How the Seller answers quotes.
#[derive(Debug, Clone)]
pub struct QuotePolicy {
    /// How long after its request a deferred quote is answered.
    pub answer_millis: i64,
    /// How long an answered quote stays valid (`validFor`).
    pub valid_millis: i64,
}

impl Default for QuotePolicy {
    fn default() -> Self {
        QuotePolicy { answer_millis: 2_000, valid_millis: 30 * 86_400_000 }
    }
}

/// The Seller's answer to one item.
struct Answer {
    event: QuoteEvent,
    /// The Seller's attributes of the item.
    attributes: Vec<(&'static str, Value)>,
}

impl Answer {
    fn unable(code: &str, path: &str, reason: String) -> Self {
        let error = json!([{"code": code, "propertyPath": path, "value": reason}]);
        Answer { event: QuoteEvent::Unable, attributes: vec![("terminationError", error)] }
    }
}

type QuoteChange<'a> = Tracked<'a>;

async fn load_quote<'a>(bus: &'a Bus, tenant: Option<&str>, id: &str) -> Result<Option<QuoteChange<'a>>, BusError> {
    Tracked::load(bus, HubApi::Quote, QUOTE, tenant, id).await
}

/// Moves the quote by `event`; a state that completes the quote dates it.
fn move_quote(change: &mut QuoteChange<'_>, event: QuoteEvent, reason: Option<&str>) -> Result<QuoteState, BusError> {
    let from: QuoteState = change.state("state")?;
    let next = from.on(event).map_err(|e| BusError::Corrupt(format!("quote {}: {e}", change.id)))?;
    set(&mut change.doc, "state", next.as_str());
    push(&mut change.doc, "stateChange", state_change(next.as_str(), &change.at, reason));
    if !matches!(
        next,
        QuoteState::InProgress | QuoteState::InProgressDraft | QuoteState::Accepted | QuoteState::Declined
    ) {
        let at = change.at.as_str().to_owned();
        set(&mut change.doc, "effectiveQuoteCompletionDate", at);
    }
    change.announce("quoteStateChangeEvent", None);
    Ok(next)
}

/// Moves item `index` by `event`, if its state allows it.
fn move_item(change: &mut QuoteChange<'_>, index: usize, event: QuoteEvent) {
    let item = &mut change.doc["quoteItem"][index];
    let Some(next) =
        item["state"].as_str().and_then(|s| s.parse::<QuoteItemState>().ok()).and_then(|s| s.on(event).ok())
    else {
        return;
    };
    set(item, "state", next.as_str());
    let id = item["id"].as_str().unwrap_or_default().to_owned();
    change.announce("quoteItemStateChangeEvent", Some(&id));
}

fn item_count(change: &QuoteChange<'_>) -> usize {
    change.doc["quoteItem"].as_array().map_or(0, Vec::len)
}

fn finish(change: QuoteChange<'_>) -> Vec<WriteOp> {
    let index = quote_index(&change.doc);
    change.finish(index)
}

/// The attributes quotes are listed by.
fn quote_index(quote: &Value) -> Vec<IndexEntry> {
    let mut index = Vec::new();
    for name in ["state", "quoteLevel", "externalId", "projectId"] {
        if let Some(text) = quote[name].as_str() {
            index.push(IndexEntry::new(name, text));
        }
    }
    for name in
        ["quoteDate", "requestedQuoteCompletionDate", "expectedQuoteCompletionDate", "effectiveQuoteCompletionDate"]
    {
        if let Some(date) = quote[name].as_str().and_then(|d| DateTime::parse(d).ok()) {
            index.push(IndexEntry::new(name, sortable_time(date.millis())));
        }
    }
    index
}

/// The term offered closest to the one requested (R40), and whether it is shorter (R41: an
/// alternate).
fn closest_term(offered: &[i64], requested: Option<i64>) -> (i64, bool) {
    let Some(requested) = requested else { return (offered.first().copied().unwrap_or(12), false) };
    let closest = offered.iter().copied().min_by_key(|m| ((m - requested).abs(), -m)).unwrap_or(12);
    (closest, closest < requested)
}

/// The months of an item's `requestedQuoteItemTerm`, if it has one.
fn requested_months(item: &Value) -> Option<i64> {
    serde_json::from_value::<ItemTerm>(item["requestedQuoteItemTerm"].clone())
        .ok()
        .map(|t| crate::validate::term_months(&t))
}

impl Bus {
    /// `createQuote`: checks the request and stores the quote, answered at once when the Buyer
    /// asks for an instant quote (R14, R16), otherwise `acknowledged`.
    pub async fn create_quote(&self, tenant: &Tenant, mut quote: Value) -> Result<Value, BusError> {
        let problems = self.check_quote(tenant, &quote).await?;
        if !problems.is_empty() {
            return Err(BusError::Invalid(problems));
        }
        let now = self.clock.now_millis();
        let at = DateTime::from_millis(now);
        let id = self.ids.next_id();
        let instant = quote["instantSyncQuote"] == true;
        set(&mut quote, "id", id.as_str());
        set(&mut quote, "href", format!("{}/quote/{id}", HubApi::Quote.base(tenant.irp)));
        set(&mut quote, "quoteDate", at.as_str());
        let mut seller = self.config.seller_contact.clone();
        set(&mut seller, "role", "sellerContactInformation");
        push(&mut quote, "relatedContactInformation", seller);
        if quote["buyerRequestedQuoteLevel"] == "budgetary" {
            set(&mut quote, "quoteLevel", "budgetary");
        }
        let first = if instant { QuoteState::InProgress } else { QuoteState::Acknowledged };
        set(&mut quote, "state", first.as_str());
        for item in quote["quoteItem"].as_array_mut().into_iter().flatten() {
            set(
                item,
                "state",
                if instant { QuoteItemState::InProgress } else { QuoteItemState::Acknowledged }.as_str(),
            );
        }
        let mut change = Tracked::new(self, HubApi::Quote, QUOTE, tenant, &id, quote);
        change.announce = false;
        if instant {
            self.answer(&mut change).await?;
        } else {
            set(&mut change.doc, "stateChange", json!([state_change(first.as_str(), &change.at, None)]));
            set(
                &mut change.doc,
                "expectedQuoteCompletionDate",
                DateTime::from_millis(now + self.config.quotes.answer_millis).as_str(),
            );
            change.ops.push(WriteOp::Enqueue {
                kind: ADVANCE_QUOTE.into(),
                key: id,
                payload: String::new(),
                run_at: now,
            });
        }
        let document = change.doc.clone();
        self.commit(finish(change)).await?;
        Ok(document)
    }

    /// Answers every item of a quote in progress and completes the quote (R33–R35, R40, R41,
    /// R52), starting its validity when it is answered.
    async fn answer(&self, change: &mut QuoteChange<'_>) -> Result<(), BusError> {
        let answers = self.answer_items(&change.tenant, &change.doc).await?;
        let events: Vec<QuoteEvent> = answers.iter().map(|a| a.event).collect();
        let firm = change.doc["buyerRequestedQuoteLevel"] != "budgetary";
        let mut subject_to_check = false;
        for (index, answer) in answers.into_iter().enumerate() {
            for (key, value) in answer.attributes {
                subject_to_check |= key == "subjectToFeasibilityCheck" && value == true;
                set(&mut change.doc["quoteItem"][index], key, value);
            }
            move_item(change, index, answer.event);
        }
        let state = move_quote(change, quote_outcome(&events), None)?;
        if firm && state != QuoteState::UnableToProvide {
            set(&mut change.doc, "quoteLevel", if subject_to_check { "firmSubjectToFeasibilityCheck" } else { "firm" });
        }
        if matches!(
            state,
            QuoteState::ApprovedOrderable | QuoteState::ApprovedOrderableAlternate | QuoteState::Answered
        ) {
            let end = change.at.millis() + self.config.quotes.valid_millis;
            set(
                &mut change.doc,
                "validFor",
                json!({"startDateTime": change.at.as_str(), "endDateTime": DateTime::from_millis(end).as_str()}),
            );
            change.ops.push(WriteOp::Enqueue {
                kind: EXPIRE_QUOTE.into(),
                key: change.id.clone(),
                payload: String::new(),
                run_at: end,
            });
        }
        Ok(())
    }

    /// The Seller's answer to each item: the price for the closest term and, for a firm quote,
    /// whether the network can deliver it.
    async fn answer_items(&self, tenant: &Tenant, quote: &Value) -> Result<Vec<Answer>, BusError> {
        let items = quote["quoteItem"].as_array().cloned().unwrap_or_default();
        let list =
            ItemList { items: &items, key: "quoteItem", relations: "quoteItemRelationship", alternatives: false };
        let firm = quote["buyerRequestedQuoteLevel"] != "budgetary";
        let mut chosen = Vec::new();
        let mut answers = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let found = if firm { Some(self.qualify(tenant, &list, index, &mut chosen).await?) } else { None };
            let check = match found {
                Some(Found::Error(problem)) => {
                    answers.push(Answer::unable(problem.code.as_str(), &problem.property_path, problem.reason));
                    continue;
                }
                Some(Found::Ready { confidence: "red", reason } | Found::Alternate { reason, .. }) => {
                    answers.push(Answer::unable("otherIssue", &format!("/quoteItem/{index}/product"), reason));
                    continue;
                }
                Some(Found::Ready { confidence, .. }) => Some(confidence != "green"),
                None => None,
            };
            answers.push(self.price_item(tenant, item, check).await?);
        }
        Ok(answers)
    }

    /// The price, term and interval of an item; `subject_to_check` for a firm quote.
    async fn price_item(
        &self,
        tenant: &Tenant,
        item: &Value,
        subject_to_check: Option<bool>,
    ) -> Result<Answer, BusError> {
        let (approve, alternate) = match subject_to_check {
            Some(_) => (QuoteEvent::Approve, QuoteEvent::ApproveAlternate),
            None => (QuoteEvent::Answer, QuoteEvent::Answer),
        };
        let mut attributes = Vec::new();
        if let Some(check) = subject_to_check {
            attributes.push(("subjectToFeasibilityCheck", json!(check)));
        }
        if item["action"] == "delete" {
            let id = item["product"]["id"].as_str().unwrap_or_default();
            let product = self.product(Some(&tenant.key()), id).await?;
            attributes.push(("quoteItemPrice", json!([])));
            attributes.push((
                "quoteItemTerm",
                json!(product.product_term.unwrap_or_default().into_iter().take(1).collect::<Vec<_>>()),
            ));
            attributes.push(("quoteItemInstallationInterval", json!({"amount": 0, "units": "businessDays"})));
            return Ok(Answer { event: approve, attributes });
        }
        let configuration = &item["product"]["productConfiguration"];
        let spec = configuration["@type"]
            .as_str()
            .and_then(|t| self.spec(t))
            .ok_or_else(|| BusError::Corrupt("a quote item's specification left the catalog".into()))?;
        let (months, shorter) = closest_term(&offered_terms(&spec), requested_months(item));
        let agreed = self.agreed_discount(&tenant.buyer, &spec);
        attributes.push(("quoteItemPrice", json!(prices(&spec, configuration, months, agreed))));
        attributes.push(("quoteItemTerm", json!([item_term(months)])));
        attributes.push(("quoteItemInstallationInterval", installation_interval(&spec, "calendarMinutes")));
        Ok(Answer { event: if shorter { alternate } else { approve }, attributes })
    }

    /// The synchronous checks of a quote request (MEF 115 R12–R24, R42–R49).
    async fn check_quote(&self, tenant: &Tenant, quote: &Value) -> Result<Vec<Violation>, BusError> {
        let mut found = Vec::new();
        match quote["buyerRequestedQuoteLevel"].as_str() {
            Some("budgetary" | "firm") => {}
            Some(_) => found.push(Violation::invalid("/buyerRequestedQuoteLevel", "`budgetary` or `firm` (R15)")),
            None => {
                found.push(Violation::missing("/buyerRequestedQuoteLevel", "the level asked for is required (R15)"))
            }
        }
        let deferred = match quote["instantSyncQuote"].as_bool() {
            Some(instant) => !instant,
            None => {
                found.push(Violation::missing("/instantSyncQuote", "say whether the quote is instant (R16)"));
                false
            }
        };
        let has_contact =
            |contacts: &Value, role: &str| contacts.as_array().into_iter().flatten().any(|c| c["role"] == role);
        if deferred && !has_contact(&quote["relatedContactInformation"], "buyerContactInformation") {
            found.push(Violation::missing(
                "/relatedContactInformation",
                "a deferred quote needs a `buyerContactInformation` contact (R18)",
            ));
        }
        if deferred && quote["requestedQuoteCompletionDate"].as_str().and_then(|d| DateTime::parse(d).ok()).is_none() {
            found.push(Violation::missing(
                "/requestedQuoteCompletionDate",
                "a deferred quote needs the date wanted (R19)",
            ));
        }
        let items = match quote["quoteItem"].as_array() {
            Some(items) if !items.is_empty() => items.as_slice(),
            _ => {
                found.push(Violation::missing("/quoteItem", "at least one item is required (R12, R17)"));
                &[]
            }
        };
        let ids: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
        for (index, item) in items.iter().enumerate() {
            let at = format!("/quoteItem/{index}");
            match item["id"].as_str() {
                Some(id) if ids.iter().filter(|other| **other == id).count() > 1 => {
                    found.push(Violation::invalid(format!("{at}/id"), format!("item id `{id}` is used twice")))
                }
                Some(_) => {}
                None => found.push(Violation::missing(format!("{at}/id"), "an item needs its id (R20)")),
            }
            if deferred && !has_contact(&item["relatedContactInformation"], "quoteItemTechnicalContact") {
                found.push(Violation::missing(
                    format!("{at}/relatedContactInformation"),
                    "a deferred quote's item needs a `quoteItemTechnicalContact` (R23)",
                ));
            }
            for (r, relation) in item["quoteItemRelationship"].as_array().into_iter().flatten().enumerate() {
                let other = relation["id"].as_str().unwrap_or_default();
                if !ids.contains(&other) {
                    found.push(Violation::not_found(
                        format!("{at}/quoteItemRelationship/{r}/id"),
                        format!("no item `{other}` in this quote"),
                    ));
                }
            }
            if let Some(reference) = item.get("productOfferingQualificationItem") {
                self.check_poq_reference(tenant, reference, &at, &mut found).await?;
            }
            self.check_quote_item(tenant, item, &at, deferred, &mut found).await?;
        }
        Ok(found)
    }

    /// The checks of an item by its action (R21, R22, R24, R42–R49).
    async fn check_quote_item(
        &self,
        tenant: &Tenant,
        item: &Value,
        at: &str,
        deferred: bool,
        found: &mut Vec<Violation>,
    ) -> Result<(), BusError> {
        let product = &item["product"];
        if product.is_null() {
            found.push(Violation::missing(format!("{at}/product"), "an item needs its product (R22)"));
        }
        let configuration = &product["productConfiguration"];
        match item["action"].as_str() {
            Some("add") => {
                if product.get("id").is_some() {
                    found.push(Violation::unexpected(
                        format!("{at}/product/id"),
                        "an added product has no id yet (R44)",
                    ));
                }
                if product["productOffering"]["id"].as_str().is_none() {
                    found.push(Violation::missing(
                        format!("{at}/product/productOffering"),
                        "an added product names its offering (R43)",
                    ));
                }
            }
            Some(action @ ("modify" | "delete")) => {
                let id = product["id"].as_str().unwrap_or_default();
                match self.product(Some(&tenant.key()), id).await {
                    Ok(existing) if existing.status.accepts_change_orders() => {}
                    Ok(existing) => found.push(Violation::invalid(
                        format!("{at}/product/id"),
                        format!("product {id} is {}", existing.status),
                    )),
                    Err(BusError::NotFound(_)) => found.push(Violation::not_found(
                        format!("{at}/product/id"),
                        format!("a {action} names a product in your inventory (R45, R47)"),
                    )),
                    Err(other) => return Err(other),
                }
                if action == "delete" {
                    for key in ["productConfiguration", "productOffering", "place", "productRelationship"] {
                        if product.get(key).is_some() {
                            found.push(Violation::unexpected(
                                format!("{at}/product/{key}"),
                                "a delete names the product only (R48, R49)",
                            ));
                        }
                    }
                    return Ok(());
                }
            }
            Some(other) => {
                found.push(Violation::invalid(
                    format!("{at}/action"),
                    format!("`{other}` is not add, modify or delete"),
                ));
                return Ok(());
            }
            None => {
                found.push(Violation::missing(format!("{at}/action"), "an item needs its action (R21)"));
                return Ok(());
            }
        }
        let Some(spec) = configuration["@type"].as_str().and_then(|t| self.spec(t)).filter(|s| s.orderable) else {
            found.push(Violation::invalid(
                format!("{at}/product/productConfiguration"),
                "the configuration of an orderable specification of this Seller is required (R42, R46)",
            ));
            return Ok(());
        };
        for problem in spec.check(configuration) {
            found.push(problem.under(&format!("{at}/product/productConfiguration")));
        }
        let needs_place = item["action"] == "add" && !spec.required_place_roles.is_empty();
        if deferred
            && needs_place
            && !item["relatedContactInformation"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["role"] == "quoteItemLocationContact")
        {
            found.push(Violation::missing(
                format!("{at}/relatedContactInformation"),
                "an item at a location needs a `quoteItemLocationContact` (R24)",
            ));
        }
        Ok(())
    }

    /// A quote item may name a qualification item done before (O1): it must be the Buyer's.
    async fn check_poq_reference(
        &self,
        tenant: &Tenant,
        reference: &Value,
        at: &str,
        found: &mut Vec<Violation>,
    ) -> Result<(), BusError> {
        let path = format!("{at}/productOfferingQualificationItem");
        let poq_id = reference["productOfferingQualificationId"].as_str().unwrap_or_default();
        match self.poq(Some(&tenant.key()), poq_id).await {
            Ok(poq) => {
                let items = poq["productOfferingQualificationItem"].as_array().cloned().unwrap_or_default();
                if !items.iter().any(|i| i["id"] == reference["id"]) {
                    found.push(Violation::not_found(
                        format!("{path}/id"),
                        format!("no item {} in qualification {poq_id}", reference["id"]),
                    ));
                }
            }
            Err(BusError::NotFound(_)) => found.push(Violation::not_found(
                format!("{path}/productOfferingQualificationId"),
                format!("no qualification `{poq_id}` of yours"),
            )),
            Err(other) => return Err(other),
        }
        Ok(())
    }

    /// `retrieveQuote`.
    pub async fn quote(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        self.document(QUOTE, "quote", tenant, id).await
    }

    /// `listQuote`: a page of `tenant`'s quotes matching `filters`, as `Quote_Find` (R50).
    pub async fn list_quotes(&self, selection: Selection) -> Result<crate::Listing<Value>, BusError> {
        let page = self.store.list(ListQuery::of(QUOTE, selection)).await?;
        let mut found = Vec::with_capacity(page.records.len());
        for record in page.records {
            let doc: Value = serde_json::from_str(&record.doc)
                .map_err(|e| BusError::Corrupt(format!("quote {}: {e}", record.id)))?;
            let mut find = json!({});
            for name in [
                "id",
                "state",
                "quoteLevel",
                "externalId",
                "projectId",
                "quoteDate",
                "requestedQuoteCompletionDate",
                "expectedQuoteCompletionDate",
                "effectiveQuoteCompletionDate",
            ] {
                if !doc[name].is_null() {
                    find[name] = doc[name].clone();
                }
            }
            found.push(find);
        }
        Ok((found, page.total))
    }

    /// `cancelQuote` (R53) and `rejectQuote` (R54): the Buyer ends its quote; the request is
    /// echoed.
    pub async fn end_quote(&self, tenant: &Tenant, request: Value, event: QuoteEvent) -> Result<Value, BusError> {
        self.retrying(|| self.end_quote_once(tenant, request.clone(), event)).await
    }

    async fn end_quote_once(&self, tenant: &Tenant, request: Value, event: QuoteEvent) -> Result<Value, BusError> {
        let Some(id) = request["quoteId"].as_str() else {
            return Err(BusError::Invalid(vec![Violation::missing("/quoteId", "the quote is required")]));
        };
        let Some(mut change) = load_quote(self, Some(&tenant.key()), id).await? else {
            return Err(BusError::Invalid(vec![Violation::not_found("/quoteId", format!("no quote `{id}` of yours"))]));
        };
        let state = change.state::<QuoteState>("state")?;
        if state.on(event).is_err() {
            let allowed = match event {
                QuoteEvent::Cancel => "only a quote in progress can be cancelled (R53)",
                _ => "only an approved quote can be declined (R54)",
            };
            return Err(BusError::Invalid(vec![Violation::invalid(
                "/quoteId",
                format!("the quote is {state}; {allowed}"),
            )]));
        }
        move_quote(&mut change, event, request["reason"].as_str())?;
        for index in 0..item_count(&change) {
            move_item(&mut change, index, QuoteEvent::Abandon);
        }
        self.commit(finish(change)).await?;
        Ok(request)
    }

    /// Job step: takes a deferred quote in progress, then answers it when its time has come.
    pub(crate) async fn advance_quote(&self, id: &str) -> Result<(Vec<WriteOp>, Step), BusError> {
        let Some(mut change) = load_quote(self, None, id).await? else { return Ok((Vec::new(), Step::Done)) };
        let step = match change.state::<QuoteState>("state")? {
            QuoteState::Acknowledged => {
                let problems = self.changed_products(&change).await?;
                if problems.is_empty() {
                    move_quote(&mut change, QuoteEvent::Start, None)?;
                    for index in 0..item_count(&change) {
                        move_item(&mut change, index, QuoteEvent::Start);
                    }
                    let created = change.doc["quoteDate"]
                        .as_str()
                        .and_then(|d| DateTime::parse(d).ok())
                        .map_or(0, |d| d.millis());
                    Step::Again { at: created + self.config.quotes.answer_millis }
                } else {
                    move_quote(&mut change, QuoteEvent::Reject, Some("a product of the quote changed"))?;
                    for index in 0..item_count(&change) {
                        match problems.iter().find(|(i, _)| *i == index) {
                            Some((_, error)) => {
                                set(&mut change.doc["quoteItem"][index], "terminationError", json!([error]));
                                move_item(&mut change, index, QuoteEvent::Reject);
                            }
                            None => move_item(&mut change, index, QuoteEvent::Abandon),
                        }
                    }
                    Step::Done
                }
            }
            QuoteState::InProgress | QuoteState::InProgressDraft => {
                self.answer(&mut change).await?;
                Step::Done
            }
            _ => Step::Done,
        };
        Ok((finish(change), step))
    }

    /// The items of a deferred quote whose product is no longer there to change.
    async fn changed_products(&self, change: &QuoteChange<'_>) -> Result<Vec<(usize, Value)>, BusError> {
        let mut problems = Vec::new();
        for (index, item) in change.doc["quoteItem"].as_array().into_iter().flatten().enumerate() {
            let Some(id) = item["product"]["id"].as_str().filter(|_| item["action"] != "add") else { continue };
            let reason = match self.product(Some(&change.tenant.key()), id).await {
                Ok(product) if product.status.accepts_change_orders() => continue,
                Ok(product) => format!("product {id} is {}", product.status),
                Err(BusError::NotFound(_)) => format!("product {id} is no longer in inventory"),
                Err(other) => return Err(other),
            };
            problems.push((index, json!({"code": "invalidValue", "propertyPath": format!("/quoteItem/{index}/product/id"), "value": reason})));
        }
        Ok(problems)
    }

    /// Job step: an answered quote whose validity has ended expires.
    pub(crate) async fn expire_quote(&self, id: &str) -> Result<(Vec<WriteOp>, Step), BusError> {
        let Some(mut change) = load_quote(self, None, id).await? else { return Ok((Vec::new(), Step::Done)) };
        let end = change.doc["validFor"]["endDateTime"]
            .as_str()
            .and_then(|d| DateTime::parse(d).ok())
            .map_or(0, |d| d.millis());
        if change.state::<QuoteState>("state")?.on(QuoteEvent::Expire).is_err() {
            return Ok((Vec::new(), Step::Done));
        }
        if change.at.millis() < end {
            return Ok((Vec::new(), Step::Again { at: end }));
        }
        move_quote(&mut change, QuoteEvent::Expire, Some("the quote's validity ended"))?;
        Ok((finish(change), Step::Done))
    }

    /// The quote item a product order item references, checked against the item (MEF 123 O5:
    /// same action, offering and configuration as quoted).
    pub(crate) async fn check_quote_reference(
        &self,
        tenant: &Tenant,
        item: &Value,
        at: &str,
        found: &mut Vec<Violation>,
    ) -> Result<(), BusError> {
        let reference = &item["quoteItem"];
        let quote_id = reference["quoteId"].as_str().unwrap_or_default();
        let quote = match self.quote(Some(&tenant.key()), quote_id).await {
            Ok(quote) => quote,
            Err(BusError::NotFound(_)) => {
                found.push(Violation::not_found(
                    format!("{at}/quoteItem/quoteId"),
                    format!("no quote `{quote_id}` of yours"),
                ));
                return Ok(());
            }
            Err(other) => return Err(other),
        };
        if !quote["state"].as_str().and_then(|s| s.parse::<QuoteState>().ok()).is_some_and(QuoteState::is_orderable) {
            found.push(Violation::invalid(
                format!("{at}/quoteItem/quoteId"),
                format!("quote {quote_id} is {}; only an approved quote can be ordered", quote["state"]),
            ));
            return Ok(());
        }
        let Some(quoted) = quote["quoteItem"].as_array().into_iter().flatten().find(|i| i["id"] == reference["id"])
        else {
            found.push(Violation::not_found(
                format!("{at}/quoteItem/id"),
                format!("no item {} in quote {quote_id}", reference["id"]),
            ));
            return Ok(());
        };
        if quoted["action"] != item["action"] {
            found.push(Violation::invalid(
                format!("{at}/action"),
                format!("the item was quoted for {}", quoted["action"]),
            ));
        }
        for key in ["productConfiguration", "productOffering"] {
            if !quoted["product"][key].is_null() && quoted["product"][key] != item["product"][key] {
                found.push(Violation::invalid(
                    format!("{at}/product/{key}"),
                    format!("not the `{key}` quoted in quote {quote_id}"),
                ));
            }
        }
        Ok(())
    }

    /// Why an order item can no longer be ordered on the quote it references, checked when the
    /// order is started: the quote still approved, and the term the one quoted (MEF 123 R38).
    pub(crate) async fn quote_late_problem(
        &self,
        tenant: &Tenant,
        quote_id: &str,
        item_id: &str,
        requested: Option<&ItemTerm>,
    ) -> Result<Option<(String, String)>, BusError> {
        let quote = match self.quote(Some(&tenant.key()), quote_id).await {
            Ok(quote) => quote,
            Err(BusError::NotFound(_)) => {
                return Ok(Some(("/quoteItem/quoteId".into(), format!("quote {quote_id} is gone"))));
            }
            Err(other) => return Err(other),
        };
        if !quote["state"].as_str().and_then(|s| s.parse::<QuoteState>().ok()).is_some_and(QuoteState::is_orderable) {
            return Ok(Some((
                "/quoteItem/quoteId".into(),
                format!("quote {quote_id} is {}", quote["state"].as_str().unwrap_or_default()),
            )));
        }
        let quoted = quote["quoteItem"].as_array().into_iter().flatten().find(|i| i["id"] == item_id);
        let quoted_months = quoted
            .and_then(|i| serde_json::from_value::<ItemTerm>(i["quoteItemTerm"][0].clone()).ok())
            .map(|t| crate::validate::term_months(&t));
        let requested_months = requested.map(crate::validate::term_months);
        if quoted_months.is_some() && requested_months != quoted_months {
            return Ok(Some((
                "/requestedItemTerm".into(),
                format!(
                    "quote {quote_id} was given for {} months, not {} (MEF 123 R38)",
                    quoted_months.unwrap_or_default(),
                    requested_months.unwrap_or_default()
                ),
            )));
        }
        Ok(None)
    }

    /// The writes that accept quote `id` for the order that references it.
    pub(crate) async fn accept_quote(
        &self,
        tenant: &Tenant,
        id: &str,
        order_id: &str,
    ) -> Result<Vec<WriteOp>, BusError> {
        let Some(mut change) = load_quote(self, Some(&tenant.key()), id).await? else { return Ok(Vec::new()) };
        if change.state::<QuoteState>("state")?.on(QuoteEvent::Accept).is_err() {
            return Ok(Vec::new());
        }
        move_quote(&mut change, QuoteEvent::Accept, Some(&format!("ordered by product order {order_id}")))?;
        Ok(finish(change))
    }
}

#[cfg(test)]
mod tests {
    use super::closest_term;

    #[test]
    fn mef115_r40_r41_the_closest_term_is_quoted_and_a_shorter_one_is_an_alternate() {
        let offered = [12, 24, 36];
        assert_eq!(closest_term(&offered, None), (12, false));
        assert_eq!(closest_term(&offered, Some(24)), (24, false));
        assert_eq!(closest_term(&offered, Some(30)), (36, false), "a tie goes to the longer term");
        assert_eq!(closest_term(&offered, Some(28)), (24, true));
        assert_eq!(closest_term(&offered, Some(60)), (36, true));
        assert_eq!(closest_term(&offered, Some(1)), (12, false));
    }
}
