//! The Seller's record of revoked credentials: a token (by its `jti`) or an OAuth 2.0 client,
//! refused from the moment it is revoked on every node (each reads the record again every few
//! seconds).

use crate::{Bus, BusError};
use lso_model::DateTime;
use lso_store::{ListQuery, Record, WriteOp};
use serde_json::{Value, json};

const REVOCATION: &str = "revocation";
/// The owner of the Seller's own records.
const SELLER: &str = "seller";

/// What a revocation refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// One token, by its id (`jti`).
    Token(String),
    /// Every token of an OAuth 2.0 client.
    Client(String),
}

impl Revoked {
    fn key(&self) -> String {
        match self {
            Revoked::Token(id) => format!("token:{id}"),
            Revoked::Client(id) => format!("client:{id}"),
        }
    }

    fn of_doc(doc: &Value) -> Option<Self> {
        match (doc["tokenId"].as_str(), doc["clientId"].as_str()) {
            (Some(id), _) => Some(Revoked::Token(id.to_owned())),
            (None, Some(id)) => Some(Revoked::Client(id.to_owned())),
            (None, None) => None,
        }
    }
}

impl Bus {
    /// Records that `what` is revoked, by `by`; the record as stored (the first one if it was
    /// revoked before).
    pub async fn revoke(&self, what: &Revoked, by: &str) -> Result<Value, BusError> {
        let at = DateTime::from_millis(self.clock.now_millis());
        let mut doc = json!({"revokedAt": at.as_str(), "revokedBy": by});
        match what {
            Revoked::Token(id) => doc["tokenId"] = json!(id),
            Revoked::Client(id) => doc["clientId"] = json!(id),
        }
        let record =
            Record { kind: REVOCATION.into(), id: what.key(), tenant: SELLER.into(), version: 1, doc: doc.to_string() };
        match self.commit(vec![WriteOp::Insert { record, index: Vec::new() }]).await {
            Ok(()) => Ok(doc),
            Err(BusError::Conflict(_)) => {
                let stored = self.store.get(REVOCATION, Some(SELLER), &what.key()).await?;
                Ok(stored.and_then(|r| serde_json::from_str(&r.doc).ok()).unwrap_or(doc))
            }
            Err(err) => Err(err),
        }
    }

    /// Everything revoked so far.
    pub async fn revocations(&self) -> Result<Vec<Revoked>, BusError> {
        let query = ListQuery {
            kind: REVOCATION.into(),
            tenant: Some(SELLER.into()),
            filters: Vec::new(),
            offset: 0,
            limit: 100_000,
        };
        let page = self.store.list(query).await?;
        Ok(page.records.iter().filter_map(|r| Revoked::of_doc(&serde_json::from_str(&r.doc).ok()?)).collect())
    }
}
