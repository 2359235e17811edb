//! The audit trail: who (subject, client, role, Buyers) made which state-changing call or
//! administrator's action (method, path, resource), with what outcome, when. Entries are
//! written in batches by one writer task (a few milliseconds after the answer), kept in the
//! store and read by operators. Bodies and query strings are never recorded, so no secret is.

use crate::{Bus, BusError};
use lso_model::query::{Condition, Filter};
use lso_store::{IndexEntry, ListQuery, Record, WriteOp, sortable_time};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const AUDIT: &str = "auditEvent";
const SELLER: &str = "seller";
/// The most entries written in one transaction.
const BATCH: usize = 512;

/// One call, as the trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When it was answered (milliseconds).
    pub at: i64,
    /// The token's subject, if it had a valid one.
    pub subject: Option<String>,
    /// Its OAuth 2.0 client.
    pub client: Option<String>,
    /// Its role.
    pub role: Option<String>,
    /// The Buyers it acts for.
    pub buyers: Vec<String>,
    /// `POST`, `PATCH`, `PUT` or `DELETE`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The resource made or changed, if known.
    pub resource: Option<String>,
    /// The status answered.
    pub status: u16,
    /// The request's `x-request-id`.
    pub request_id: Option<String>,
}

impl AuditEntry {
    fn record(&self, id: String) -> WriteOp {
        let doc = json!({"id": id, "at": lso_model::DateTime::from_millis(self.at).as_str(), "subject": self.subject,
            "clientId": self.client, "role": self.role, "buyers": self.buyers, "method": self.method,
            "path": self.path, "resource": self.resource, "status": self.status, "requestId": self.request_id});
        let mut index = vec![IndexEntry::new("at", sortable_time(self.at))];
        index.extend(self.subject.as_ref().map(|s| IndexEntry::new("subject", s.as_str())));
        let record = Record { kind: AUDIT.into(), id, tenant: SELLER.into(), version: 1, doc: doc.to_string() };
        WriteOp::Insert { record, index }
    }
}

/// Hands entries to the writer task.
#[derive(Clone)]
pub struct AuditTrail {
    sender: mpsc::UnboundedSender<AuditEntry>,
}

impl AuditTrail {
    /// Records `entry` (soon, with the others of its batch).
    pub fn record(&self, entry: AuditEntry) {
        if self.sender.send(entry).is_err() {
            tracing::error!("the audit writer has stopped; an entry is lost");
        }
    }
}

impl Bus {
    /// The trail, and its writer: run it until every sender is gone (it then writes what is
    /// left and ends).
    pub fn audit_trail(self: &Arc<Self>) -> (AuditTrail, impl Future<Output = ()> + use<>) {
        let (sender, mut entries) = mpsc::unbounded_channel::<AuditEntry>();
        let bus = self.clone();
        let writer = async move {
            while let Some(first) = entries.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match entries.try_recv() {
                        Ok(entry) => batch.push(entry),
                        Err(_) => break,
                    }
                }
                let ops: Vec<WriteOp> = batch.iter().map(|e| e.record(bus.ids.next_id())).collect();
                // A store that fails now is asked again a little later; entries wait meanwhile.
                while let Err(err) = bus.commit(ops.clone()).await {
                    tracing::error!(error = %err, entries = batch.len(), "the audit trail cannot be written now");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        (AuditTrail { sender }, writer)
    }

    /// The trail in the order it was written, of `subject` if given.
    pub async fn audit(
        &self,
        subject: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<crate::Listing<Value>, BusError> {
        let filters = subject
            .map(|s| vec![Filter { name: "subject".into(), condition: Condition::Eq(s.to_owned()) }])
            .unwrap_or_default();
        let query = ListQuery { kind: AUDIT.into(), tenant: Some(SELLER.into()), filters, offset, limit };
        let page = self.store.list(query).await?;
        let entries = page.records.iter().filter_map(|r| serde_json::from_str(&r.doc).ok()).collect();
        Ok((entries, page.total))
    }
}
