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
        Ok(self.seller_documents(REVOCATION).await?.iter().filter_map(Revoked::of_doc).collect())
    }

    /// The Seller's own documents of `kind` (its revocations, its clients).
    async fn seller_documents(&self, kind: &str) -> Result<Vec<Value>, BusError> {
        let query = ListQuery {
            kind: kind.into(),
            tenant: Some(SELLER.into()),
            filters: Vec::new(),
            offset: 0,
            limit: 100_000,
        };
        let page = self.store.list(query).await?;
        Ok(page.records.iter().filter_map(|r| serde_json::from_str(&r.doc).ok()).collect())
    }
}

const CLIENT: &str = "oauthClient";
/// The roles a client may be registered with.
pub const CLIENT_ROLES: [&str; 3] = ["buyer", "operator", "administrator"];

/// An OAuth 2.0 client to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    /// What it is, for people.
    pub name: String,
    /// `buyer`, `operator` or `administrator`.
    pub role: String,
    /// The Buyers a `buyer` client acts for.
    pub buyers: Vec<String>,
    /// The Sellers it may address; empty for any.
    pub sellers: Vec<String>,
    /// The scopes it may be granted.
    pub scopes: Vec<String>,
}

fn hash_secret(secret: &str) -> Result<String, BusError> {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| BusError::Store(Box::new(std::io::Error::other(format!("the secret cannot be hashed: {e}")))))
}

impl Bus {
    /// Registers a client; its record (without the secret's hash) and its secret, which is
    /// kept only as an argon2 hash and cannot be read again.
    pub async fn register_client(&self, client: NewClient, by: &str) -> Result<(Value, String), BusError> {
        let mut problems = Vec::new();
        if !CLIENT_ROLES.contains(&client.role.as_str()) {
            problems.push(lso_model::Violation::invalid("/role", format!("one of {}", CLIENT_ROLES.join(", "))));
        }
        if client.role == "buyer" && client.buyers.is_empty() {
            problems.push(lso_model::Violation::invalid("/buyers", "a Buyer's client names the Buyers it acts for"));
        }
        if client.scopes.is_empty() {
            problems.push(lso_model::Violation::invalid("/scopes", "a client needs at least one scope"));
        }
        if !problems.is_empty() {
            return Err(BusError::Invalid(problems));
        }
        let id = format!("lso-{}", hex(&rand::random::<[u8; 12]>()));
        let secret = base64_url(&rand::random::<[u8; 32]>());
        let hash = tokio::task::spawn_blocking(move || hash_secret(&secret).map(|h| (h, secret)))
            .await
            .map_err(|e| BusError::Store(Box::new(e)))??;
        let (hash, secret) = hash;
        let at = DateTime::from_millis(self.clock.now_millis());
        let mut doc = json!({"clientId": id, "name": client.name, "role": client.role, "buyers": client.buyers,
            "sellers": client.sellers, "scopes": client.scopes, "createdAt": at.as_str(), "createdBy": by});
        let mut stored = doc.clone();
        stored["secretHash"] = json!(hash);
        let record = Record { kind: CLIENT.into(), id, tenant: SELLER.into(), version: 1, doc: stored.to_string() };
        self.commit(vec![WriteOp::Insert { record, index: Vec::new() }]).await?;
        doc["clientSecret"] = json!(secret);
        Ok((doc, secret))
    }

    /// The client `id` if `secret` is its secret (without the secret's hash).
    pub async fn authenticate_client(&self, id: &str, secret: &str) -> Result<Option<Value>, BusError> {
        let Some(record) = self.store.get(CLIENT, Some(SELLER), id).await? else { return Ok(None) };
        let doc: Value = serde_json::from_str(&record.doc).map_err(|_| BusError::Corrupt(id.to_owned()))?;
        let hash = doc["secretHash"].as_str().unwrap_or_default().to_owned();
        let secret = secret.to_owned();
        let matches = tokio::task::spawn_blocking(move || {
            use argon2::password_hash::PasswordVerifier;
            argon2::Argon2::default().verify_password(secret.as_bytes(), hash.as_str()).is_ok()
        })
        .await
        .map_err(|e| BusError::Store(Box::new(e)))?;
        Ok(matches.then(|| without_hash(doc)))
    }

    /// Every client registered (without the secrets' hashes).
    pub async fn clients(&self) -> Result<Vec<Value>, BusError> {
        Ok(self.seller_documents(CLIENT).await?.into_iter().map(without_hash).collect())
    }
}

/// A client's record as shown: without its secret's hash.
fn without_hash(mut doc: Value) -> Value {
    if let Some(fields) = doc.as_object_mut() {
        fields.remove("secretHash");
    }
    doc
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
