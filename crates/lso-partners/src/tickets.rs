//! Trouble tickets about what a partner realises: when the Seller takes a customer's ticket in
//! progress and its own network shows no incident to explain it, and the product is bought
//! (wholly or in part) from a partner, the ticket is escalated to that partner over Sonata
//! Trouble Ticket Management, on the partner's product. The partner's ticket is followed, by
//! its notifications and by reading it, until the partner resolves it; the customer's ticket is
//! then resolved with the partner's word.
//!
//! Each step is a durable job (`FOLLOW_UP`, keyed by the customer's ticket): the partner's ticket
//! carries the customer ticket's id as its `externalId` and is looked up before it is opened
//! again.

use crate::fulfilment::{OFF_NET, PartnerConfig, PartnerFulfilment, Problem, text, transient};
use lso_bus::{Bus, BusError, SellerMove};
use lso_jobs::Step;
use lso_model::{Irp, Tenant};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The job that follows a customer's ticket up at a partner: key the ticket, payload its
/// tenant's key.
pub const FOLLOW_UP: &str = "partnerTicketFollowUp";
/// The partner's ticket a customer's ticket was escalated to: id the customer's ticket.
const ESCALATED: &str = "partnerTicket";
/// The customer's ticket a partner's ticket serves: id `{partner}:{partner's ticket id}`.
pub(crate) const THEIRS: &str = "partnerTicketOf";
/// How often a partner's open ticket is read; its notifications say sooner.
const POLL_MILLIS: i64 = 60_000;

/// Follows customers' tickets up at partners.
pub struct PartnerTickets {
    partners: Arc<PartnerFulfilment>,
    bus: Arc<Bus>,
}

impl PartnerTickets {
    /// Follow-up through `partners`' Sonata APIs of the tickets of `bus`.
    pub fn new(partners: Arc<PartnerFulfilment>, bus: Arc<Bus>) -> Self {
        PartnerTickets { partners, bus }
    }

    fn tickets(path: &str) -> String {
        format!("{}/troubleTicket{path}", lso_mef_product::ticket_base(Irp::Sonata))
    }

    /// A step of following up customer ticket `id` of `tenant`.
    async fn follow_up(&self, id: &str, tenant: &Tenant, now: i64) -> Result<Step, Problem> {
        let bus = |e: BusError| transient(format!("the ticket could not be read or written: {e}"));
        let ours = match self.bus.ticket(Some(&tenant.key()), id).await {
            Ok(ticket) => ticket,
            Err(BusError::NotFound(_)) => return Ok(Step::Done),
            Err(other) => return Err(bus(other)),
        };
        let open = matches!(ours["status"].as_str(), Some("inProgress" | "pending" | "reopened"));
        let (partner, theirs) = match self.partners.record(ESCALATED, id).await? {
            Some(escalated) => {
                let partner = self.partners.partner(&text(&escalated["partner"])).ok_or("the partner left")?;
                (partner, text(&escalated["id"]))
            }
            None if !open => return Ok(Step::Done),
            None => {
                let product = ours["relatedEntity"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|e| e["@referredType"] == "Product")
                    .map(|e| text(&e["id"]))
                    .unwrap_or_default();
                let Some(off_net) = self.partners.record(OFF_NET, &product).await? else { return Ok(Step::Done) };
                let partner = self.partners.partner(&text(&off_net["partner"])).ok_or("the partner left")?;
                let theirs = self.escalate(partner, id, tenant, &ours, &text(&off_net["product"])).await?;
                let note = format!(
                    "Part of product {product} is carried by partner {}: escalated to it as its trouble ticket {theirs}.",
                    partner.name
                );
                self.bus.seller_note_ticket(tenant, id, &note).await.map_err(bus)?;
                (partner, theirs)
            }
        };
        let their =
            self.partners.call(partner, reqwest::Method::GET, &Self::tickets(&format!("/{theirs}")), None).await?;
        let tell = async |action: &str, body: Option<Value>| {
            let path = Self::tickets(&format!("/{theirs}/{action}"));
            self.partners.call(partner, reqwest::Method::POST, &path, body.as_ref()).await.map(drop)
        };
        let reopened = last_change(&ours, "reopened") > last_change(&their, "resolved");
        match (ours["status"].as_str().unwrap_or_default(), their["status"].as_str().unwrap_or_default()) {
            // The customer confirmed the resolution, or gave the ticket up: so does this Seller.
            ("closed", "resolved") => tell("close", None).await.map(|()| Step::Done),
            ("closed", _) | ("cancelled" | "assessingCancellation", "resolved" | "closed" | "cancelled") => {
                Ok(Step::Done)
            }
            ("cancelled" | "assessingCancellation", _) => tell("cancel", None).await.map(|()| Step::Done),
            // The customer rejected the resolution the partner gave.
            (_, "resolved") if open && reopened => {
                let mut notes = ours["note"].as_array().into_iter().flatten();
                let why = notes.rfind(|n| n["author"] == "closureRejection").map(|n| text(&n["text"]));
                let reason = why.unwrap_or_else(|| "the customer rejected the resolution".into());
                tell("reopen", Some(json!({"reason": reason}))).await?;
                Ok(Step::Again { at: now + POLL_MILLIS })
            }
            // The partner resolved it: so is the customer's, with the partner's word.
            (_, "resolved" | "closed") if open => {
                let said = their["statusChange"].as_array().and_then(|c| c.last()).map(|c| text(&c["changeReason"]));
                let reason = format!(
                    "partner {} resolved its trouble ticket {theirs}: {}",
                    partner.name,
                    said.unwrap_or_else(|| "no word given".into())
                );
                match self.bus.seller_move_ticket(tenant, id, SellerMove::Resolve, &reason).await {
                    Ok(_) | Err(BusError::Invalid(_) | BusError::Conflict(_)) => Ok(Step::Done),
                    Err(other) => Err(bus(other)),
                }
            }
            (_, "cancelled") => {
                let note = format!("Partner {} cancelled its trouble ticket {theirs}.", partner.name);
                self.bus.seller_note_ticket(tenant, id, &note).await.map_err(bus)?;
                Ok(Step::Done)
            }
            _ if open => Ok(Step::Again { at: now + POLL_MILLIS }),
            _ => Ok(Step::Done),
        }
    }

    /// The partner's ticket on its product `product` for customer ticket `id`: the one opened
    /// before (by `externalId`), or a new one with the customer's description, impact and
    /// priority.
    async fn escalate(
        &self,
        partner: &PartnerConfig,
        id: &str,
        tenant: &Tenant,
        ours: &Value,
        product: &str,
    ) -> Result<String, Problem> {
        let events = "troubleTicketStatusChangeEvent,troubleTicketResolvedEvent";
        let base = lso_mef_product::ticket_base(Irp::Sonata);
        self.partners.subscribe(partner, &format!("{}:troubleTicket", partner.name), &base, events).await?;
        let found = self
            .partners
            .call(partner, reqwest::Method::GET, &Self::tickets(&format!("?externalId={id}")), None)
            .await?;
        let theirs = match found.as_array().and_then(|t| t.first()).map(|t| text(&t["id"])) {
            Some(theirs) => theirs,
            None => {
                let ticket = json!({"externalId": id, "description": ours["description"], "observedImpact": ours["observedImpact"],
                    "priority": ours["priority"], "severity": ours["severity"], "ticketType": ours["ticketType"],
                    "relatedEntity": [{"@referredType": "Product", "id": product, "role": "affectedProduct"}],
                    "relatedContactInformation": [self.partners.letter(partner).contact("reporterContact")]});
                let opened =
                    self.partners.call(partner, reqwest::Method::POST, &Self::tickets(""), Some(&ticket)).await?;
                text(&opened["id"])
            }
        };
        self.partners.keep(ESCALATED, id, &json!({"partner": partner.name, "id": theirs})).await?;
        let key = format!("{}:{theirs}", partner.name);
        self.partners.keep(THEIRS, &key, &json!({"ticket": id, "tenant": tenant.key()})).await?;
        Ok(theirs)
    }
}

/// When `ticket` last moved to `status` (RFC 3339 times compare as text); empty if never.
fn last_change(ticket: &Value, status: &str) -> String {
    let changes = ticket["statusChange"].as_array().into_iter().flatten();
    changes.filter(|c| c["status"] == status).map(|c| text(&c["changeDate"])).max().unwrap_or_default()
}

impl lso_jobs::JobHandler for PartnerTickets {
    fn handles(&self, kind: &str) -> bool {
        kind == FOLLOW_UP
    }

    fn run<'a>(&'a self, job: &'a lso_store::Job) -> Pin<Box<dyn Future<Output = lso_jobs::StepResult> + Send + 'a>> {
        Box::pin(async move {
            let Some(tenant) = Tenant::from_key(&job.payload) else { return Ok((Vec::new(), Step::Done)) };
            let now = self.bus.clock().now_millis();
            match self.follow_up(&job.key, &tenant, now).await {
                Ok(step) => Ok((Vec::new(), step)),
                Err(Problem { reason, transient: false }) => {
                    // The partner refused: the customer's ticket says so, and the Seller's
                    // operators take it from there.
                    let note = format!("The partner could not take the ticket: {reason}");
                    match self.bus.seller_note_ticket(&tenant, &job.key, &note).await {
                        Ok(()) => Ok((Vec::new(), Step::Done)),
                        Err(e) => Err(lso_jobs::JobFailure { retry_now: false, message: e.to_string() }),
                    }
                }
                Err(problem) => Err(lso_jobs::JobFailure { retry_now: false, message: problem.reason }),
            }
        })
    }

    fn wake(&self) -> Arc<tokio::sync::Notify> {
        self.bus.wake()
    }
}
