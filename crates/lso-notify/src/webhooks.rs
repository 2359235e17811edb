//! Signed notifications, the Standard Webhooks way: every delivery carries `webhook-id` (the
//! event's id), `webhook-timestamp` (seconds since the epoch) and `webhook-signature`
//! (`v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`). The key is a per-Buyer
//! secret, `whsec_` and base64 of 32 random bytes, kept in the store; after a rotation the
//! previous secret signs too (a second signature) until its overlap ends, so a Buyer can switch
//! without losing an event.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lso_store::{IndexEntry, Record, Store, StoreError, WriteOp};
use serde_json::{Value, json};

/// The header naming the message.
pub const WEBHOOK_ID: &str = "webhook-id";
/// The header with the time it was signed.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// The header with its signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// How far a timestamp may be from the verifier's clock.
pub const TOLERANCE_SECONDS: i64 = 300;

const PREFIX: &str = "whsec_";
const KIND: &str = "webhookSecret";

/// Why a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// A header is missing or unreadable.
    #[error("the webhook headers are missing or malformed")]
    Malformed,
    /// The timestamp is too far from now (a replay, or a clock far off).
    #[error("the webhook timestamp is outside the tolerance")]
    Stale,
    /// No signature matches any secret.
    #[error("no webhook signature matches")]
    Mismatch,
}

/// A new secret.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{PREFIX}{}", STANDARD.encode(bytes))
}

fn key(secret: &str) -> Option<hmac::Key> {
    let bytes = STANDARD.decode(secret.strip_prefix(PREFIX).unwrap_or(secret)).ok()?;
    Some(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

/// The `webhook-signature` value for `body`, one `v1,…` per secret (space-separated).
pub fn signature(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    let content = signed_content(id, timestamp, body);
    let signatures = secrets.iter().filter_map(|secret| key(secret)).map(|key| {
        let tag = hmac::sign(&key, &content);
        format!("v1,{}", STANDARD.encode(tag.as_ref()))
    });
    signatures.collect::<Vec<_>>().join(" ")
}

/// Checks the headers of a delivery against `secrets` at `now` (seconds).
pub fn verify(
    secrets: &[&str],
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), Unverified> {
    let (Some(id), Some(timestamp), Some(signatures)) = (id, timestamp, signatures) else {
        return Err(Unverified::Malformed);
    };
    let timestamp: i64 = timestamp.trim().parse().map_err(|_| Unverified::Malformed)?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(Unverified::Stale);
    }
    let content = signed_content(id, timestamp, body);
    let tags: Vec<Vec<u8>> = signatures
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        .collect();
    let matches = secrets
        .iter()
        .filter_map(|secret| key(secret))
        .any(|key| tags.iter().any(|tag| hmac::verify(&key, &content, tag).is_ok()));
    if matches { Ok(()) } else { Err(Unverified::Mismatch) }
}

/// The secrets a Buyer's deliveries are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningSecrets {
    /// The secret in use.
    pub current: String,
    /// The one before a rotation, and until when (milliseconds) it still signs.
    pub previous: Option<(String, i64)>,
}

impl SigningSecrets {
    /// The secrets that sign at `now` (milliseconds).
    pub fn active(&self, now: i64) -> Vec<&str> {
        let previous = self.previous.as_ref().filter(|(_, until)| *until > now).map(|(s, _)| s.as_str());
        std::iter::once(self.current.as_str()).chain(previous).collect()
    }

    fn from_doc(doc: &Value) -> Option<Self> {
        let previous = doc["previous"]["secret"].as_str().zip(doc["previous"]["until"].as_i64());
        Some(SigningSecrets {
            current: doc["current"].as_str()?.to_owned(),
            previous: previous.map(|(s, until)| (s.to_owned(), until)),
        })
    }

    fn doc(&self) -> String {
        let previous = self.previous.as_ref().map(|(secret, until)| json!({"secret": secret, "until": until}));
        json!({"current": self.current, "previous": previous}).to_string()
    }
}

/// The signing secret of each tenant (a Buyer at a reference point), kept in the store.
#[derive(Clone)]
pub struct WebhookSecrets {
    store: Store,
}

impl WebhookSecrets {
    /// The secrets kept in `store`.
    pub fn new(store: Store) -> Self {
        WebhookSecrets { store }
    }

    /// The secrets of `tenant`, made on first use.
    pub async fn of(&self, tenant: &str) -> Result<SigningSecrets, StoreError> {
        loop {
            if let Some((secrets, _)) = self.read(tenant).await? {
                return Ok(secrets);
            }
            let made = SigningSecrets { current: new_secret(), previous: None };
            match self.store.apply(vec![write(tenant, &made, 1)]).await {
                Ok(()) => return Ok(made),
                // Made meanwhile by another delivery or node: read that one.
                Err(StoreError::Conflict(_)) => continue,
                Err(err) => return Err(err),
            }
        }
    }

    /// Makes a new secret for `tenant`; the current one goes on signing for `overlap_millis`
    /// after `now`.
    pub async fn rotate(&self, tenant: &str, now: i64, overlap_millis: i64) -> Result<SigningSecrets, StoreError> {
        loop {
            let (old, version) = match self.read(tenant).await? {
                Some(found) => found,
                None => (self.of(tenant).await?, 1),
            };
            let rotated = SigningSecrets { current: new_secret(), previous: Some((old.current, now + overlap_millis)) };
            match self.store.apply(vec![write(tenant, &rotated, version + 1)]).await {
                Ok(()) => return Ok(rotated),
                Err(StoreError::Conflict(_)) => continue,
                Err(err) => return Err(err),
            }
        }
    }

    async fn read(&self, tenant: &str) -> Result<Option<(SigningSecrets, i64)>, StoreError> {
        let record = self.store.get(KIND, Some(tenant), tenant).await?;
        Ok(record.and_then(|r| {
            let doc: Value = serde_json::from_str(&r.doc).ok()?;
            Some((SigningSecrets::from_doc(&doc)?, r.version))
        }))
    }
}

fn write(tenant: &str, secrets: &SigningSecrets, version: i64) -> WriteOp {
    let record = Record { kind: KIND.into(), id: tenant.into(), tenant: tenant.into(), version, doc: secrets.doc() };
    let index: Vec<IndexEntry> = Vec::new();
    if version == 1 { WriteOp::Insert { record, index } } else { WriteOp::Update { record, index } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_example_verifies() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signature = signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let check = |body: &[u8], now| {
            verify(&[secret], Some("msg_p5jXN8AQM9LWM0D4loKWxJek"), Some("1614265330"), Some(&signature), body, now)
        };
        assert_eq!(check(body, 1614265330 + 10), Ok(()));
        assert_eq!(check(br#"{"test": 2432232315}"#, 1614265330), Err(Unverified::Mismatch));
        assert_eq!(check(body, 1614265330 + TOLERANCE_SECONDS + 1), Err(Unverified::Stale));
        assert_eq!(verify(&[secret], None, None, None, body, 0), Err(Unverified::Malformed));
    }

    #[test]
    fn after_a_rotation_both_secrets_sign_until_the_overlap_ends() {
        let secrets = SigningSecrets { current: new_secret(), previous: Some((new_secret(), 1_000)) };
        assert_eq!(secrets.active(999).len(), 2);
        assert_eq!(secrets.active(1_000), [secrets.current.as_str()]);
        let header = signature(&secrets.active(0), "e1", 5, b"{}");
        for one in secrets.active(0) {
            assert_eq!(verify(&[one], Some("e1"), Some("5"), Some(&header), b"{}", 5), Ok(()));
        }
        assert_eq!(verify(&[&new_secret()], Some("e1"), Some("5"), Some(&header), b"{}", 5), Err(Unverified::Mismatch));
    }

    #[tokio::test]
    async fn a_tenant_gets_one_secret_and_a_rotation_keeps_the_old_one_for_the_overlap() {
        let dir = tempfile::tempdir().unwrap();
        let secrets = WebhookSecrets::new(Store::open(&dir.path().join("lso.db")).unwrap());
        let first = secrets.of("t1").await.unwrap();
        assert_eq!(secrets.of("t1").await.unwrap(), first);
        assert_ne!(secrets.of("t2").await.unwrap(), first);
        let rotated = secrets.rotate("t1", 100, 50).await.unwrap();
        assert_eq!(rotated.previous, Some((first.current.clone(), 150)));
        assert_eq!(secrets.of("t1").await.unwrap(), rotated);
    }
}
