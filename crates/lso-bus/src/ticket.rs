//! Trouble Tickets and Incidents (MEF 124). A Buyer reports an issue with one of its products;
//! the Seller takes the ticket in progress and, when a fault on the network touches the product,
//! links it to the Incident raised for that fault and resolves it when the fault clears.
//! Operators move the other tickets (`pending`, `resolved`) with a note. The Buyer may amend,
//! cancel, close or reopen its tickets; every change is announced (R55–R66).

use crate::doc::{push, set, state_change};
use crate::hubs::HubApi;
use crate::tracked::Tracked;
use crate::{Bus, BusError};
use lso_jobs::Step;
use lso_model::DateTime;
use lso_model::ticket::{IncidentEvent, IncidentStatus, TicketEvent, TicketStatus};
use lso_model::{Tenant, Violation};
use lso_store::Selection;
use lso_store::{Condition, Filter, IndexEntry, ListQuery, WriteOp, sortable_time};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The store kind of trouble tickets, also their path under the API.
pub(crate) const TICKET: &str = "troubleTicket";
/// The store kind of incidents.
pub(crate) const INCIDENT: &str = "incident";
/// The job that moves a ticket on after the Buyer's or the Seller's action.
pub(crate) const ADVANCE_TICKET: &str = "advanceTroubleTicket";

/// `TroubleTicketPriorityType`.
pub const PRIORITIES: [&str; 4] = ["low", "medium", "high", "critical"];
/// `TroubleTicketSeverityType`.
pub const SEVERITIES: [&str; 4] = ["minor", "moderate", "significant", "extensive"];
/// `MEFObservedImpactType`.
pub const IMPACTS: [&str; 3] = ["degraded", "intermittent", "down"];
/// `TroubleTicketType`.
pub const TICKET_TYPES: [&str; 4] = ["assistance", "information", "installation", "maintenance"];
/// `IncidentType`.
pub const INCIDENT_TYPES: [&str; 3] = ["maintenance", "repair", "installation"];

/// What the Buyer may change with PATCH (R29).
const UPDATABLE: [&str; 9] = [
    "externalId",
    "priority",
    "severity",
    "issueStartDate",
    "observedImpact",
    "attachment",
    "note",
    "relatedContactInformation",
    "relatedIssue",
];

/// A fault on the network, as the BUS hears of it from the SOF.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Identifies the fault across its raising and clearing.
    pub key: String,
    /// What is wrong, where.
    pub description: String,
    /// When it was raised (milliseconds since the epoch).
    pub raised_at: i64,
    /// The products whose services it touches.
    pub products: Vec<String>,
}

/// The Buyer's actions on a ticket.
#[derive(Debug, Clone)]
pub enum TicketAction {
    /// `POST /troubleTicket/{id}/cancel` (R38, R40).
    Cancel,
    /// `POST /troubleTicket/{id}/close` (R47).
    Close,
    /// `POST /troubleTicket/{id}/reopen` with the reason (R43–R46).
    Reopen(String),
}

/// The Seller's moves of a ticket, made by its operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SellerMove {
    /// Work on it again.
    Work,
    /// Wait for the Buyer's information (R63, R64).
    AwaitBuyer,
    /// Resolved (R28, R66).
    Resolve,
}

/// How long until a ticket of `priority` is expected to be resolved.
fn resolution_millis(priority: &str) -> i64 {
    let hours = match priority {
        "critical" => 4,
        "high" => 8,
        "medium" => 24,
        _ => 72,
    };
    hours * 3_600_000
}

fn time_entry(name: &str, value: &Value) -> Option<IndexEntry> {
    let date = DateTime::parse(value.as_str()?).ok()?;
    Some(IndexEntry::new(name, sortable_time(date.millis())))
}

/// The attributes of `doc` listed by: `texts` as they are, `dates` as sortable times, and the
/// ids of its related entities.
fn index_of(doc: &Value, texts: &[&str], dates: &[&str]) -> Vec<IndexEntry> {
    let mut index: Vec<IndexEntry> =
        texts.iter().filter_map(|name| doc[*name].as_str().map(|v| IndexEntry::new(name, v))).collect();
    index.extend(dates.iter().filter_map(|name| time_entry(name, &doc[*name])));
    for entity in doc["relatedEntity"].as_array().into_iter().flatten() {
        index.extend(entity["id"].as_str().map(|id| IndexEntry::new("relatedEntityId", id)));
        index.extend(entity["@referredType"].as_str().map(|t| IndexEntry::new("relatedEntityType", t)));
    }
    index
}

fn ticket_index(ticket: &Value) -> Vec<IndexEntry> {
    let texts = [
        "externalId",
        "priority",
        "sellerPriority",
        "severity",
        "sellerSeverity",
        "ticketType",
        "status",
        "observedImpact",
    ];
    index_of(ticket, &texts, &["creationDate", "expectedResolutionDate", "resolutionDate"])
}

fn incident_index(incident: &Value) -> Vec<IndexEntry> {
    let mut index = index_of(
        incident,
        &["priority", "severity", "impact", "incidentType", "status"],
        &["creationDate", "situationStartDate", "expectedClosedDate", "closedDate"],
    );
    index.extend(incident["fault"].as_str().map(|key| IndexEntry::new("fault", key)));
    index
}

/// The problems of `value` at `path` not being one of `allowed` (or missing, when `required`).
fn check_enum(doc: &Value, key: &str, allowed: &[&str], required: bool, found: &mut Vec<Violation>) {
    match doc.get(key) {
        None if required => found.push(Violation::missing(format!("/{key}"), format!("`{key}` is required (R9)"))),
        None => {}
        Some(value) if value.as_str().is_some_and(|v| allowed.contains(&v)) => {}
        Some(_) => found.push(Violation::invalid(format!("/{key}"), format!("one of {}", allowed.join(", ")))),
    }
}

/// The Buyer's notes, attachments and related issues in `doc`, each at its place: marked as
/// the Buyer's (R16–R21), attachments by URL or by content (R10, R31).
fn check_buyer_items(doc: &Value, found: &mut Vec<Violation>) {
    for key in ["note", "attachment", "relatedIssue"] {
        for (index, item) in doc[key].as_array().into_iter().flatten().enumerate() {
            if item.get("source").is_some_and(|s| s != "buyer") {
                found.push(Violation::invalid(
                    format!("/{key}/{index}/source"),
                    "the Buyer adds only its own items (R16)",
                ));
            }
            if key == "attachment" && item["url"].is_null() && (item["content"].is_null() || item["mimeType"].is_null())
            {
                found.push(Violation::missing(
                    format!("/{key}/{index}/url"),
                    "an attachment has a `url`, or `content` and `mimeType` (R10)",
                ));
            }
        }
    }
}

/// Marks the Buyer's items of `doc` as its own, dated now.
fn own_items(doc: &mut Value, at: &DateTime) {
    for key in ["note", "attachment", "relatedIssue"] {
        for item in doc.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten() {
            set(item, "source", "buyer");
            let date = if key == "note" { "date" } else { "creationDate" };
            if item[date].is_null() {
                set(item, date, at.as_str());
            }
        }
    }
}

type TicketChange<'a> = Tracked<'a>;

/// Moves a ticket by `event`, with the events R62–R66 ask for.
fn move_ticket(change: &mut TicketChange<'_>, event: TicketEvent, reason: &str) -> Result<TicketStatus, BusError> {
    let from: TicketStatus = change.state("status")?;
    let next = from
        .on(event)
        .map_err(|e| BusError::Invalid(vec![Violation::invalid("", format!("the ticket is {from}: {e}"))]))?;
    set(&mut change.doc, "status", next.as_str());
    let mut entry = state_change(next.as_str(), &change.at, Some(reason));
    if let Some(entry) = entry.as_object_mut() {
        let state = entry.remove("state").unwrap_or_default();
        entry.insert("status".into(), state);
    }
    push(&mut change.doc, "statusChange", entry);
    change.announce("troubleTicketStatusChangeEvent", None);
    match next {
        TicketStatus::Resolved => {
            let at = change.at.as_str().to_owned();
            set(&mut change.doc, "resolutionDate", at);
            change.seller_note(&format!("Resolved: {reason}"));
            change.announce("troubleTicketResolvedEvent", None);
        }
        TicketStatus::Pending => {
            change.seller_note(&format!("Waiting for the Buyer: {reason}"));
            if change.doc["workOrder"].as_array().is_none_or(Vec::is_empty) {
                change.announce("troubleTicketInformationRequiredEvent", None);
            }
        }
        _ => {}
    }
    Ok(next)
}

/// Appends a note of the Seller's.
fn finish_ticket(change: TicketChange<'_>) -> Vec<WriteOp> {
    let index = ticket_index(&change.doc);
    change.finish(index)
}

impl Bus {
    /// `createTroubleTicket`: checks the ticket (R9, R10, R16), stores it `acknowledged` with
    /// the Seller's assessment (R11–R13) and schedules its triage.
    pub async fn create_ticket(&self, tenant: &Tenant, ticket: Value) -> Result<Value, BusError> {
        let mut found = Vec::new();
        if ticket["description"].as_str().is_none() {
            found.push(Violation::missing("/description", "`description` is required (R9)"));
        }
        check_enum(&ticket, "observedImpact", &IMPACTS, true, &mut found);
        check_enum(&ticket, "priority", &PRIORITIES, true, &mut found);
        check_enum(&ticket, "severity", &SEVERITIES, true, &mut found);
        check_enum(&ticket, "ticketType", &TICKET_TYPES, true, &mut found);
        let reporter = ticket["relatedContactInformation"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["role"] == "reporterContact");
        if !reporter {
            found.push(Violation::missing(
                "/relatedContactInformation",
                "a contact with role `reporterContact` is required (R9)",
            ));
        }
        match ticket["relatedEntity"].as_array().map(Vec::as_slice) {
            Some([entity]) => self.check_related_product(tenant, entity, &mut found).await?,
            _ => {
                found.push(Violation::missing("/relatedEntity", "the one product the ticket is about is required (R9)"))
            }
        }
        check_buyer_items(&ticket, &mut found);
        if !found.is_empty() {
            return Err(BusError::Invalid(found));
        }
        let id = self.ids.next_id();
        let mut change = Tracked::new(self, HubApi::Ticket, TICKET, tenant, &id, ticket);
        let at = change.at.clone();
        let doc = &mut change.doc;
        own_items(doc, &at);
        if let Some(entity) = doc["relatedEntity"][0].as_object_mut() {
            entity.entry("@referredType").or_insert_with(|| json!("Product"));
        }
        set(doc, "id", id.as_str());
        set(doc, "href", format!("{}/troubleTicket/{id}", HubApi::Ticket.base(tenant.irp)));
        set(doc, "creationDate", at.as_str());
        set(doc, "status", TicketStatus::Acknowledged.as_str());
        set(doc, "statusChange", json!([{"changeDate": at.as_str(), "status": "acknowledged"}]));
        let (priority, severity) = (doc["priority"].clone(), doc["severity"].clone());
        set(doc, "sellerPriority", priority.clone());
        set(doc, "sellerSeverity", severity);
        let expected = at.millis() + resolution_millis(priority.as_str().unwrap_or_default());
        set(doc, "expectedResolutionDate", DateTime::from_millis(expected).as_str());
        let mut seller = self.config.seller_contact.clone();
        set(&mut seller, "role", "sellerTicketContact");
        push(doc, "relatedContactInformation", seller);
        change.ops.push(WriteOp::Enqueue {
            kind: ADVANCE_TICKET.into(),
            key: id,
            payload: String::new(),
            run_at: at.millis(),
        });
        let document = change.doc.clone();
        self.commit(finish_ticket(change)).await?;
        Ok(document)
    }

    /// A ticket is about one of the Buyer's products.
    async fn check_related_product(
        &self,
        tenant: &Tenant,
        entity: &Value,
        found: &mut Vec<Violation>,
    ) -> Result<(), BusError> {
        if entity.get("@referredType").is_some_and(|t| t != "Product") {
            found.push(Violation::invalid("/relatedEntity/0/@referredType", "a ticket is about a `Product`"));
            return Ok(());
        }
        if entity["role"].as_str().is_none() {
            found.push(Violation::missing("/relatedEntity/0/role", "the product's role is required"));
        }
        let id = entity["id"].as_str().unwrap_or_default();
        match self.product(Some(&tenant.key()), id).await {
            Ok(_) => Ok(()),
            Err(BusError::NotFound(_)) => {
                found.push(Violation::not_found("/relatedEntity/0/id", format!("no product `{id}` of yours")));
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// `retrieveTroubleTicket`.
    pub async fn ticket(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        self.document(TICKET, "troubleTicket", tenant, id).await
    }

    /// `listTroubleTicket`: `TroubleTicket_Find` (R23).
    pub async fn list_tickets(&self, selection: Selection) -> Result<crate::Listing<Value>, BusError> {
        let keys = [
            "id",
            "externalId",
            "relatedEntity",
            "observedImpact",
            "priority",
            "sellerPriority",
            "severity",
            "sellerSeverity",
            "ticketType",
            "status",
            "creationDate",
            "expectedResolutionDate",
            "resolutionDate",
            "description",
        ];
        self.projected(TICKET, selection, &keys).await
    }

    /// A page of documents of `kind`, each with only `keys`.
    pub(crate) async fn projected(
        &self,
        kind: &str,
        selection: Selection,
        keys: &[&str],
    ) -> Result<crate::Listing<Value>, BusError> {
        let page = self.store.list(ListQuery::of(kind, selection)).await?;
        let mut found = Vec::with_capacity(page.records.len());
        for record in page.records {
            let doc: Value = serde_json::from_str(&record.doc)
                .map_err(|e| BusError::Corrupt(format!("{kind} {}: {e}", record.id)))?;
            let projected: serde_json::Map<String, Value> =
                keys.iter().filter(|k| !doc[**k].is_null()).map(|k| ((*k).to_owned(), doc[*k].clone())).collect();
            found.push(Value::Object(projected));
        }
        Ok((found, page.total))
    }

    /// `patchTroubleTicket` (R29–R37).
    pub async fn patch_ticket(&self, tenant: &Tenant, id: &str, patch: Value) -> Result<Value, BusError> {
        self.retrying(|| self.patch_ticket_once(tenant, id, patch.clone())).await
    }

    async fn patch_ticket_once(&self, tenant: &Tenant, id: &str, patch: Value) -> Result<Value, BusError> {
        let mut change = Tracked::existing(self, HubApi::Ticket, TICKET, tenant, id).await?;
        let status: TicketStatus = change.state("status")?;
        let Some(fields) = patch.as_object().filter(|f| !f.is_empty()) else {
            return Err(BusError::Invalid(vec![Violation::missing(
                "",
                format!("change at least one of {}", UPDATABLE.join(", ")),
            )]));
        };
        let mut found: Vec<Violation> = fields
            .keys()
            .filter(|k| !UPDATABLE.contains(&k.as_str()))
            .map(|k| Violation::unexpected(format!("/{k}"), "the Buyer cannot change this (R34)"))
            .collect();
        if !status.accepts_updates() {
            found.push(Violation::invalid("", format!("a {status} ticket cannot be changed (R35)")));
        }
        check_enum(&patch, "priority", &PRIORITIES, false, &mut found);
        check_enum(&patch, "severity", &SEVERITIES, false, &mut found);
        check_enum(&patch, "observedImpact", &IMPACTS, false, &mut found);
        check_buyer_items(&patch, &mut found);
        let existing_notes: Vec<Value> = change.doc["note"].as_array().cloned().unwrap_or_default();
        let new_note = patch["note"].as_array().into_iter().flatten().any(|n| !existing_notes.contains(n));
        let weighty = ["priority", "severity", "issueStartDate", "relatedIssue"]
            .iter()
            .any(|k| fields.contains_key(*k) && patch[*k] != change.doc[*k]);
        if weighty && !new_note {
            found.push(Violation::missing(
                "/note",
                "changing priority, severity, issueStartDate or relatedIssue needs a note saying why (R30)",
            ));
        }
        if !found.is_empty() {
            return Err(BusError::Invalid(found));
        }
        let mut patch = patch;
        own_items(&mut patch, &change.at);
        for (key, value) in patch.as_object().cloned().unwrap_or_default() {
            match key.as_str() {
                "note" | "attachment" | "relatedIssue" => {
                    for item in value.as_array().into_iter().flatten() {
                        let known = change.doc[&key]
                            .as_array()
                            .is_some_and(|items| items.iter().any(|i| i["id"] == item["id"] && !item["id"].is_null()));
                        if !known {
                            push(&mut change.doc, &key, item.clone());
                        }
                    }
                }
                "relatedContactInformation" => {
                    let mut contacts: Vec<Value> = change.doc[&key]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|c| c["role"] == "sellerTicketContact")
                        .cloned()
                        .collect();
                    contacts.extend(
                        value.as_array().into_iter().flatten().filter(|c| c["role"] != "sellerTicketContact").cloned(),
                    );
                    set(&mut change.doc, &key, contacts);
                }
                _ => set(&mut change.doc, &key, value),
            }
        }
        if status == TicketStatus::Pending {
            move_ticket(&mut change, TicketEvent::Work, "the Buyer answered (R37)")?;
        }
        let document = change.doc.clone();
        self.commit(finish_ticket(change)).await?;
        Ok(document)
    }

    /// The Buyer cancels, closes or reopens its ticket.
    pub async fn ticket_action(&self, tenant: &Tenant, id: &str, action: TicketAction) -> Result<(), BusError> {
        self.retrying(|| self.ticket_action_once(tenant, id, action.clone())).await
    }

    async fn ticket_action_once(&self, tenant: &Tenant, id: &str, action: TicketAction) -> Result<(), BusError> {
        let mut change = Tracked::existing(self, HubApi::Ticket, TICKET, tenant, id).await?;
        let (event, reason) = match &action {
            TicketAction::Cancel => (TicketEvent::Cancel, "the Buyer asked to cancel it"),
            TicketAction::Close => (TicketEvent::Close, "the Buyer confirmed the resolution"),
            TicketAction::Reopen(_) => (TicketEvent::Reopen, "the Buyer rejected the resolution"),
        };
        if let TicketAction::Reopen(why) = &action {
            let note = json!({"id": self.ids.next_id(), "author": "closureRejection", "date": change.at.as_str(), "source": "buyer", "text": why});
            push(&mut change.doc, "note", note);
        }
        move_ticket(&mut change, event, reason)?;
        let run_at = change.at.millis();
        if !matches!(action, TicketAction::Close) {
            change.ops.push(WriteOp::Enqueue {
                kind: ADVANCE_TICKET.into(),
                key: id.to_owned(),
                payload: String::new(),
                run_at,
            });
        }
        // Whoever follows the ticket up elsewhere hears of the Buyer's word too.
        if let Some(kind) = self.ticket_follow_up {
            let (key, payload) = (id.to_owned(), change.tenant.key());
            change.ops.push(WriteOp::Enqueue { kind: kind.into(), key, payload, run_at });
        }
        self.commit(finish_ticket(change)).await
    }

    /// The Seller writes a note on a Buyer's ticket, which the Buyer hears of.
    pub async fn seller_note_ticket(&self, tenant: &Tenant, id: &str, text: &str) -> Result<(), BusError> {
        self.retrying(|| async {
            let mut change = Tracked::existing(self, HubApi::Ticket, TICKET, tenant, id).await?;
            change.seller_note(text);
            change.announce("troubleTicketAttributeValueChangeEvent", None);
            self.commit(finish_ticket(change)).await
        })
        .await
    }

    /// An operator of the Seller moves a ticket, saying why.
    pub async fn seller_move_ticket(
        &self,
        tenant: &Tenant,
        id: &str,
        to: SellerMove,
        reason: &str,
    ) -> Result<Value, BusError> {
        self.retrying(|| async {
            let mut change = Tracked::existing(self, HubApi::Ticket, TICKET, tenant, id).await?;
            let event = match to {
                SellerMove::Work => TicketEvent::Work,
                SellerMove::AwaitBuyer => TicketEvent::AwaitBuyer,
                SellerMove::Resolve => TicketEvent::Resolve,
            };
            if to == SellerMove::Work {
                change.seller_note(reason);
                change.announce("troubleTicketAttributeValueChangeEvent", None);
            }
            move_ticket(&mut change, event, reason)?;
            let document = change.doc.clone();
            self.commit(finish_ticket(change)).await?;
            Ok(document)
        })
        .await
    }

    /// The Seller tells a Buyer how the repair of an open incident goes: a note, and the new
    /// `expectedClosedDate` when it changes (`incidentAttributeValueChangeEvent`). A closed
    /// incident does not change.
    pub async fn seller_note_incident(
        &self,
        tenant: &Tenant,
        id: &str,
        note: &str,
        expected_closed: Option<&DateTime>,
    ) -> Result<Value, BusError> {
        self.retrying(|| async {
            let mut change = Tracked::existing(self, HubApi::Ticket, INCIDENT, tenant, id).await?;
            if change.doc["status"] == "closed" {
                return Err(BusError::Conflict(format!("incident {id} is closed")));
            }
            change.seller_note(note);
            if let Some(expected) = expected_closed {
                set(&mut change.doc, "expectedClosedDate", expected.as_str());
            }
            change.announce("incidentAttributeValueChangeEvent", None);
            let index = incident_index(&change.doc);
            let document = change.doc.clone();
            self.commit(change.finish(index)).await?;
            Ok(document)
        })
        .await
    }

    /// Job step: the Seller takes a new or reopened ticket in progress, linking it to an open
    /// incident on its product, and completes the assessment of a cancellation.
    pub(crate) async fn advance_ticket(&self, id: &str) -> Result<(Vec<WriteOp>, Step), BusError> {
        let Some(mut change) = Tracked::load(self, HubApi::Ticket, TICKET, None, id).await? else {
            return Ok((Vec::new(), Step::Done));
        };
        match change.state::<TicketStatus>("status")? {
            TicketStatus::Acknowledged | TicketStatus::Reopened => {
                move_ticket(&mut change, TicketEvent::Work, "the Seller is investigating")?;
                let product = change.doc["relatedEntity"][0]["id"].as_str().unwrap_or_default().to_owned();
                let incidents = self.open_incidents(&change.tenant, &product).await?;
                for incident in &incidents {
                    link_incident(&mut change, incident);
                }
                let visit = matches!(change.doc["ticketType"].as_str(), Some("installation" | "maintenance"));
                if incidents.is_empty() && visit {
                    let work = self.visit_for(&mut change, &product).await?;
                    change.ops.extend(work);
                }
                if let Some(kind) = self.ticket_follow_up.filter(|_| incidents.is_empty()) {
                    change.ops.push(WriteOp::Enqueue {
                        kind: kind.into(),
                        key: change.id.clone(),
                        payload: change.tenant.key(),
                        run_at: change.at.millis(),
                    });
                }
            }
            TicketStatus::AssessingCancellation => {
                move_ticket(&mut change, TicketEvent::ConfirmCancel, "cancelled at the Buyer's request")?;
            }
            _ => return Ok((Vec::new(), Step::Done)),
        }
        Ok((finish_ticket(change), Step::Done))
    }

    /// The writes that make ticket `id` wait for another visit, saying `why`: a new work order
    /// the Buyer books an appointment for (nothing if the ticket no longer waits for one).
    pub(crate) async fn visit_again(&self, tenant: &Tenant, id: &str, why: &str) -> Result<Vec<WriteOp>, BusError> {
        let Some(mut change) = Tracked::load(self, HubApi::Ticket, TICKET, Some(&tenant.key()), id).await? else {
            return Ok(Vec::new());
        };
        if change.state::<TicketStatus>("status")? != TicketStatus::InProgress {
            return Ok(Vec::new());
        }
        change.seller_note(why);
        let product = change.doc["relatedEntity"][0]["id"].as_str().unwrap_or_default().to_owned();
        let mut ops = self.visit_for(&mut change, &product).await?;
        ops.extend(finish_ticket(change));
        Ok(ops)
    }

    /// With no fault on the network to explain it, an installation or maintenance issue needs a
    /// technician at the product's site: a work order, and the ticket waits for the Buyer to book
    /// the visit (R65). Nothing when the product has no site.
    async fn visit_for(&self, change: &mut TicketChange<'_>, product: &str) -> Result<Vec<WriteOp>, BusError> {
        let tenant = change.tenant.clone();
        let found = self.product(Some(&tenant.key()), product).await?;
        let mut sites: Vec<String> = found.related_site.iter().flatten().map(|s| s.id.clone()).collect();
        if sites.is_empty() {
            for related in found.product_relationship.iter().flatten() {
                if let Ok(other) = self.product(Some(&tenant.key()), &related.id).await {
                    sites.extend(other.related_site.iter().flatten().map(|s| s.id.clone()));
                }
            }
        }
        if sites.is_empty() {
            return Ok(Vec::new());
        }
        let places = sites
            .iter()
            .map(|id| json!({"@type": "GeographicSiteRef", "id": id, "role": "INSTALL_LOCATION"}))
            .collect();
        let task = format!(
            "Check and repair product {product} on site: {}",
            change.doc["description"].as_str().unwrap_or_default()
        );
        let entities = vec![
            json!({"@referredType": "Product", "id": product, "role": "affectedProduct"}),
            json!({"@referredType": "TroubleTicket", "id": change.id, "role": "troubleTicket"}),
        ];
        let (id, ops) = self.open_work_order(&tenant, entities, places, &task);
        push(
            &mut change.doc,
            "workOrder",
            json!({"id": id, "href": format!("{}/workorder/{id}", HubApi::WorkOrder.base(tenant.irp))}),
        );
        change.announce("troubleTicketAttributeValueChangeEvent", None);
        move_ticket(
            change,
            TicketEvent::AwaitBuyer,
            &format!("a technician must visit: book an appointment for work order {id}"),
        )?;
        Ok(ops)
    }

    /// The writes that move ticket `id` by `event`, if it still can be.
    pub(crate) async fn ticket_moved(
        &self,
        tenant: &Tenant,
        id: &str,
        event: TicketEvent,
        reason: &str,
    ) -> Result<Vec<WriteOp>, BusError> {
        let Some(mut change) = Tracked::load(self, HubApi::Ticket, TICKET, Some(&tenant.key()), id).await? else {
            return Ok(Vec::new());
        };
        if change.state::<TicketStatus>("status")?.on(event).is_err() {
            return Ok(Vec::new());
        }
        move_ticket(&mut change, event, reason)?;
        Ok(finish_ticket(change))
    }

    /// The incidents of `tenant` still open on `product`.
    async fn open_incidents(&self, tenant: &Tenant, product: &str) -> Result<Vec<Value>, BusError> {
        let filters = vec![
            Filter { name: "relatedEntityId".into(), condition: Condition::Eq(product.to_owned()) },
            Filter { name: "status".into(), condition: Condition::In(vec!["created".into(), "inProgress".into()]) },
        ];
        let query = ListQuery { kind: INCIDENT.into(), tenant: Some(tenant.key()), filters, offset: 0, limit: 100 };
        let page = self.store.list(query).await?;
        page.records
            .iter()
            .map(|r| serde_json::from_str(&r.doc).map_err(|e| BusError::Corrupt(format!("incident {}: {e}", r.id))))
            .collect()
    }

    /// `retrieveIncident`.
    pub async fn incident(&self, tenant: Option<&str>, id: &str) -> Result<Value, BusError> {
        self.document(INCIDENT, "incident", tenant, id).await
    }

    /// `listIncident`: `Incident_Find`.
    pub async fn list_incidents(&self, selection: Selection) -> Result<crate::Listing<Value>, BusError> {
        let keys = [
            "id",
            "href",
            "closedDate",
            "creationDate",
            "description",
            "expectedClosedDate",
            "impact",
            "incidentType",
            "situationStartDate",
            "priority",
            "relatedEntity",
            "severity",
            "status",
        ];
        self.projected(INCIDENT, selection, &keys).await
    }

    /// A fault was raised: an incident for each Buyer with an active product it touches (R67,
    /// R71), linked to the Buyer's open tickets on those products.
    pub async fn fault_raised(&self, fault: &Fault) -> Result<(), BusError> {
        let mut by_tenant: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for id in &fault.products {
            let Some(record) = self.store.get(crate::inventory::PRODUCT, None, id).await? else { continue };
            let status =
                serde_json::from_str::<Value>(&record.doc).ok().and_then(|d| d["status"].as_str().map(str::to_owned));
            if status.as_deref() == Some("active") {
                by_tenant.entry(record.tenant).or_default().push(id.clone());
            }
        }
        for (tenant, products) in by_tenant {
            let tenant = Tenant::from_key(&tenant).ok_or_else(|| BusError::Corrupt(format!("tenant {tenant}")))?;
            let mut ops = self.raise_incident(&tenant, fault, &products)?;
            for product in &products {
                ops.extend(self.link_open_tickets(&tenant, product, &ops).await?);
            }
            self.commit(ops).await?;
        }
        Ok(())
    }

    fn raise_incident(&self, tenant: &Tenant, fault: &Fault, products: &[String]) -> Result<Vec<WriteOp>, BusError> {
        let id = self.ids.next_id();
        let entities: Vec<Value> =
            products.iter().map(|p| json!({"@referredType": "Product", "id": p, "role": "affectedProduct"})).collect();
        let mut contact = self.config.seller_contact.clone();
        set(&mut contact, "role", "incidentContact");
        let doc = json!({"description": fault.description, "impact": "down", "incidentType": "repair", "priority": "high",
            "severity": if products.len() > 1 { "significant" } else { "moderate" }, "status": "created", "relatedEntity": entities,
            "relatedContactInformation": [contact], "situationStartDate": DateTime::from_millis(fault.raised_at).as_str(), "fault": fault.key});
        let mut change = Tracked::new(self, HubApi::Ticket, INCIDENT, tenant, &id, doc);
        let at = change.at.clone();
        set(&mut change.doc, "id", id.as_str());
        set(&mut change.doc, "href", format!("{}/incident/{id}", HubApi::Ticket.base(tenant.irp)));
        set(&mut change.doc, "creationDate", at.as_str());
        set(&mut change.doc, "statusChange", json!([{"changeDate": at.as_str(), "status": "created"}]));
        change.announce("incidentCreateEvent", None);
        move_incident(&mut change, IncidentEvent::Investigate, "the Seller is repairing the fault")?;
        set(&mut change.doc, "expectedClosedDate", DateTime::from_millis(at.millis() + 4 * 3_600_000).as_str());
        let index = incident_index(&change.doc);
        Ok(change.finish(index))
    }

    /// The writes that link `tenant`'s open tickets on `product` to the incident being written
    /// in `ops`.
    async fn link_open_tickets(
        &self,
        tenant: &Tenant,
        product: &str,
        ops: &[WriteOp],
    ) -> Result<Vec<WriteOp>, BusError> {
        let Some(WriteOp::Insert { record, .. }) = ops.first() else { return Ok(Vec::new()) };
        let incident: Value =
            serde_json::from_str(&record.doc).map_err(|e| BusError::Corrupt(format!("incident: {e}")))?;
        let mut linked = Vec::new();
        for id in self.open_tickets(tenant, product).await? {
            let Some(mut change) = Tracked::load(self, HubApi::Ticket, TICKET, Some(&tenant.key()), &id).await? else {
                continue;
            };
            link_incident(&mut change, &incident);
            linked.extend(finish_ticket(change));
        }
        Ok(linked)
    }

    /// The ids of `tenant`'s tickets on `product` the Seller is still to resolve.
    async fn open_tickets(&self, tenant: &Tenant, product: &str) -> Result<Vec<String>, BusError> {
        let open = ["acknowledged", "inProgress", "pending", "reopened"].map(String::from).to_vec();
        let filters = vec![
            Filter { name: "relatedEntityId".into(), condition: Condition::Eq(product.to_owned()) },
            Filter { name: "status".into(), condition: Condition::In(open) },
        ];
        let query = ListQuery { kind: TICKET.into(), tenant: Some(tenant.key()), filters, offset: 0, limit: 1000 };
        Ok(self.store.list(query).await?.records.into_iter().map(|r| r.id).collect())
    }

    /// A fault cleared: its incidents close, and the tickets linked to them are resolved.
    pub async fn fault_cleared(&self, key: &str) -> Result<(), BusError> {
        let filters = vec![
            Filter { name: "fault".into(), condition: Condition::Eq(key.to_owned()) },
            Filter { name: "status".into(), condition: Condition::In(vec!["created".into(), "inProgress".into()]) },
        ];
        let page =
            self.store.list(ListQuery { kind: INCIDENT.into(), tenant: None, filters, offset: 0, limit: 1000 }).await?;
        for record in page.records {
            let Some(mut change) = Tracked::load(self, HubApi::Ticket, INCIDENT, None, &record.id).await? else {
                continue;
            };
            move_incident(&mut change, IncidentEvent::Close, "the fault cleared; normal operation is restored")?;
            let at = change.at.as_str().to_owned();
            set(&mut change.doc, "closedDate", at);
            let tenant = change.tenant.clone();
            let index = incident_index(&change.doc);
            let mut ops = change.finish(index);
            for entity in record_entities(&record.doc) {
                for id in self.open_tickets(&tenant, &entity).await? {
                    let Some(mut ticket) =
                        Tracked::load(self, HubApi::Ticket, TICKET, Some(&tenant.key()), &id).await?
                    else {
                        continue;
                    };
                    let linked = ticket.doc["relatedIssue"]
                        .as_array()
                        .is_some_and(|issues| issues.iter().any(|i| i["id"] == record.id.as_str()));
                    if !linked {
                        continue;
                    }
                    if ticket.state::<TicketStatus>("status")?.on(TicketEvent::Resolve).is_err() {
                        move_ticket(&mut ticket, TicketEvent::Work, "the Seller is investigating")?;
                    }
                    move_ticket(
                        &mut ticket,
                        TicketEvent::Resolve,
                        &format!("incident {} closed: the fault on the network cleared", record.id),
                    )?;
                    ops.extend(finish_ticket(ticket));
                }
            }
            self.commit(ops).await?;
        }
        Ok(())
    }
}

/// The ids of the products an incident document relates to.
fn record_entities(doc: &str) -> Vec<String> {
    let doc: Value = serde_json::from_str(doc).unwrap_or_default();
    doc["relatedEntity"].as_array().into_iter().flatten().filter_map(|e| e["id"].as_str().map(str::to_owned)).collect()
}

/// Moves an incident by `event` (R69), dating its closing (R53).
fn move_incident(change: &mut Tracked<'_>, event: IncidentEvent, reason: &str) -> Result<(), BusError> {
    let from: IncidentStatus = change.state("status")?;
    let next = from.on(event).map_err(|e| BusError::Corrupt(format!("incident {}: {e}", change.id)))?;
    set(&mut change.doc, "status", next.as_str());
    push(
        &mut change.doc,
        "statusChange",
        json!({"changeDate": change.at.as_str(), "status": next.as_str(), "changeReason": reason}),
    );
    change.announce("incidentStatusChangeEvent", None);
    Ok(())
}

/// Relates a ticket to the incident found for it, saying so in a note (R22, R61).
fn link_incident(change: &mut TicketChange<'_>, incident: &Value) {
    let id = incident["id"].as_str().unwrap_or_default();
    if change.doc["relatedIssue"].as_array().is_some_and(|issues| issues.iter().any(|i| i["id"] == id)) {
        return;
    }
    let issue = json!({"@referredType": "Incident", "id": id, "href": incident["href"], "creationDate": change.at.as_str(),
                       "description": incident["description"], "relationshipType": "causedBy", "source": "seller"});
    push(&mut change.doc, "relatedIssue", issue);
    change.seller_note(&format!("Caused by incident {id}: {}", incident["description"].as_str().unwrap_or_default()));
    change.announce("troubleTicketAttributeValueChangeEvent", None);
}
