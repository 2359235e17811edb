//! `Tracked`: the changes one step makes to a stored document that has notifications (a quote,
//! a trouble ticket, an incident), committed together with the events that announce them.

use crate::events::{Subject, event};
use crate::hubs::HubApi;
use crate::{Bus, BusError};
use lso_model::DateTime;
use lso_model::Tenant;
use lso_store::{IndexEntry, Record, WriteOp};
use serde_json::Value;
use std::str::FromStr;

/// A document being changed.
pub(crate) struct Tracked<'a> {
    pub bus: &'a Bus,
    pub api: HubApi,
    /// The store kind, also the path of the resource under its API (`quote/{id}`).
    pub kind: &'static str,
    pub tenant: Tenant,
    pub id: String,
    pub doc: Value,
    pub at: DateTime,
    /// Whether changes are announced (not while an instantly answered request is created).
    pub announce: bool,
    pub ops: Vec<WriteOp>,
    /// The stored record, or none for a document being created.
    record: Option<Record>,
}

impl<'a> Tracked<'a> {
    /// A new document `id` of `tenant`.
    pub fn new(bus: &'a Bus, api: HubApi, kind: &'static str, tenant: &Tenant, id: &str, doc: Value) -> Self {
        let at = DateTime::from_millis(bus.clock.now_millis());
        Tracked {
            bus,
            api,
            kind,
            tenant: tenant.clone(),
            id: id.to_owned(),
            doc,
            at,
            announce: true,
            ops: Vec::new(),
            record: None,
        }
    }

    /// Loads document `id` of `tenant` (of anyone's when `None`).
    pub async fn load(
        bus: &'a Bus,
        api: HubApi,
        kind: &'static str,
        tenant: Option<&str>,
        id: &str,
    ) -> Result<Option<Self>, BusError> {
        let Some(record) = bus.store.get(kind, tenant, id).await? else { return Ok(None) };
        let owner =
            Tenant::from_key(&record.tenant).ok_or_else(|| BusError::Corrupt(format!("tenant of {kind} {id}")))?;
        let doc = serde_json::from_str(&record.doc).map_err(|e| BusError::Corrupt(format!("{kind} {id}: {e}")))?;
        let mut tracked = Tracked::new(bus, api, kind, &owner, id, doc);
        tracked.record = Some(record);
        Ok(Some(tracked))
    }

    /// Loads `tenant`'s document `id` of `kind` for a change; 404 when it has none.
    pub async fn existing(
        bus: &'a Bus,
        api: HubApi,
        kind: &'static str,
        tenant: &Tenant,
        id: &str,
    ) -> Result<Self, BusError> {
        let found = Tracked::load(bus, api, kind, Some(&tenant.key()), id).await?;
        found.ok_or_else(|| BusError::NotFound(format!("no {kind} with id `{id}`")))
    }

    /// The document's `key` (its state or status) as `S`.
    pub fn state<S: FromStr>(&self, key: &str) -> Result<S, BusError> {
        self.doc[key]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| BusError::Corrupt(format!("{key} of {} {}", self.kind, self.id)))
    }

    /// Adds a note from the Seller to the document's `note`s.
    pub fn seller_note(&mut self, text: &str) {
        let note = serde_json::json!({"id": self.bus.ids.next_id(), "author": "Seller", "date": self.at.as_str(), "source": "seller", "text": text});
        crate::doc::push(&mut self.doc, "note", note);
    }

    /// Announces `event_type` about the document (or one of its items).
    pub fn announce(&mut self, event_type: &str, item_id: Option<&str>) {
        if !self.announce {
            return;
        }
        let subject = Subject {
            id: &self.id,
            href: format!("{}/{}", self.kind, self.id),
            item_id,
            milestone: None,
            ordering_key: &self.id,
        };
        self.ops.push(event(self.bus.ids.as_ref(), self.api, &self.tenant, event_type, subject, &self.at));
    }

    /// The write ops: the document first, indexed by `index`, then its events and jobs.
    pub fn finish(self, index: Vec<IndexEntry>) -> Vec<WriteOp> {
        let doc = self.doc.to_string();
        let write = match self.record {
            Some(record) => WriteOp::Update { record: Record { version: record.version + 1, doc, ..record }, index },
            None => WriteOp::Insert {
                record: Record { kind: self.kind.into(), id: self.id, tenant: self.tenant.key(), version: 1, doc },
                index,
            },
        };
        let mut ops = vec![write];
        ops.extend(self.ops);
        ops
    }
}
