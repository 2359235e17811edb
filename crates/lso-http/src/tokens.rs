//! Bearer tokens: `lso`'s own (ES256, signed with the data directory's keys: `lso token`,
//! `/oauth2/token`) and those of trusted external issuers (their JWKS: RS256, ES256, EdDSA; or
//! a secret shared for HS256), each checked for its issuer, audience, expiry and start (30 s
//! of clock skew), signing key (`kid`; an unknown one makes the issuer's JWKS be read again),
//! algorithm (the key's own family: no `none`, no HMAC with a public key), and revocation.
//! A claims mapping per issuer says which claims carry the Buyers, Sellers, roles and scopes.

use crate::ApiError;
use crate::auth::{Principal, Role};
use crate::error::UnauthorizedCode;
use crate::keys::KeySet;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use lso_model::{Clock, SystemClock};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Seconds of clock skew allowed between issuers and `lso`.
const LEEWAY_SECONDS: u64 = 30;
/// How long a token verified once is taken without checking its signature again (never past
/// its expiry; revocation is checked every time).
const REMEMBER_SECONDS: i64 = 60;
/// Tokens remembered at most; past that the memory starts afresh.
const REMEMBER_AT_MOST: usize = 20_000;

/// Which claims of an issuer's tokens say what.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimsMapping {
    /// The claim listing the Buyers a token acts for.
    pub buyers: String,
    /// The claim listing the Sellers it may address (all when absent).
    pub sellers: String,
    /// The claim listing its roles.
    pub roles: String,
    /// The claim with its scopes (space-separated, or a list).
    pub scope: String,
    /// The claim naming the OAuth 2.0 client it was issued to.
    pub client: String,
    /// The role value of an administrator.
    pub administrator: String,
    /// The role value of a Seller operator.
    pub operator: String,
}

impl Default for ClaimsMapping {
    fn default() -> Self {
        ClaimsMapping {
            buyers: "buyers".into(),
            sellers: "sellers".into(),
            roles: "roles".into(),
            scope: "scope".into(),
            client: "client_id".into(),
            administrator: "administrator".into(),
            operator: "operator".into(),
        }
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => text.split_whitespace().map(str::to_owned).collect(),
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

impl ClaimsMapping {
    /// The principal `claims` name.
    fn principal(&self, claims: &Value) -> Result<Principal, &'static str> {
        let subject = claims["sub"].as_str().filter(|s| !s.is_empty()).ok_or("the bearer token names no subject")?;
        let roles = strings(&claims[&self.roles]);
        let role = if roles.contains(&self.administrator) {
            Role::Administrator
        } else if roles.contains(&self.operator) {
            Role::Operator
        } else {
            Role::Buyer
        };
        let buyers = strings(&claims[&self.buyers]);
        if role == Role::Buyer && buyers.is_empty() {
            return Err("the bearer token names no Buyer and no operator role");
        }
        let client = claims[&self.client].as_str().or_else(|| claims["azp"].as_str()).map(str::to_owned);
        Ok(Principal {
            subject: subject.to_owned(),
            role,
            buyers,
            sellers: strings(&claims[&self.sellers]),
            scopes: strings(&claims[&self.scope]),
            client,
            token_id: claims["jti"].as_str().map(str::to_owned),
        })
    }
}

/// Where an issuer's verification keys come from.
enum IssuerKeys {
    /// Its JWKS, read again (at most once per `min_refresh`) when a token names a key not yet
    /// known.
    Jwks {
        url: String,
        http: reqwest::Client,
        min_refresh: Duration,
        cache: RwLock<HashMap<String, DecodingKey>>,
        fetched: tokio::sync::Mutex<Option<Instant>>,
    },
    /// A secret shared with it (HS256).
    Shared(DecodingKey),
}

/// An identity provider whose tokens `lso` accepts.
pub struct TrustedIssuer {
    issuer: String,
    audience: String,
    claims: ClaimsMapping,
    keys: IssuerKeys,
}

impl TrustedIssuer {
    /// An issuer publishing its keys at `jwks_url`, read with `http`.
    pub fn jwks(
        issuer: &str,
        audience: &str,
        jwks_url: &str,
        http: reqwest::Client,
        min_refresh: Duration,
        claims: ClaimsMapping,
    ) -> Self {
        let keys = IssuerKeys::Jwks {
            url: jwks_url.to_owned(),
            http,
            min_refresh,
            cache: RwLock::default(),
            fetched: tokio::sync::Mutex::new(None),
        };
        TrustedIssuer { issuer: issuer.to_owned(), audience: audience.to_owned(), claims, keys }
    }

    /// An issuer signing with a secret shared with `lso` (HS256).
    pub fn shared_secret(issuer: &str, audience: &str, secret: &[u8], claims: ClaimsMapping) -> Self {
        let keys = IssuerKeys::Shared(DecodingKey::from_secret(secret));
        TrustedIssuer { issuer: issuer.to_owned(), audience: audience.to_owned(), claims, keys }
    }

    /// The key `header` names.
    async fn key(&self, header: &Header) -> Result<DecodingKey, &'static str> {
        let IssuerKeys::Jwks { url, http, min_refresh, cache, fetched } = &self.keys else {
            let IssuerKeys::Shared(key) = &self.keys else { unreachable!() };
            return Ok(key.clone());
        };
        let kid = header.kid.as_deref().ok_or("the bearer token names no signing key (`kid`)")?;
        let cached = || cache.read().unwrap_or_else(|e| e.into_inner()).get(kid).cloned();
        if let Some(key) = cached() {
            return Ok(key);
        }
        let mut last = fetched.lock().await;
        if let Some(key) = cached() {
            return Ok(key);
        }
        if last.is_some_and(|at| at.elapsed() < *min_refresh) {
            return Err("the bearer token's signing key is unknown");
        }
        *last = Some(Instant::now());
        let read = async {
            let answer = lso_transport::trace::send(http.get(url)).await?;
            answer.error_for_status()?.json::<jsonwebtoken::jwk::JwkSet>().await
        };
        let set = match read.await {
            Ok(set) => set,
            Err(err) => {
                tracing::warn!(issuer = %self.issuer, error = %err, "the issuer's JWKS cannot be read");
                return Err("the issuer's signing keys cannot be read");
            }
        };
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
            .filter(|(_, key)| key.family() != jsonwebtoken::AlgorithmFamily::Hmac)
            .collect();
        *cache.write().unwrap_or_else(|e| e.into_inner()) = keys;
        cached().ok_or("the bearer token's signing key is unknown")
    }
}

/// Tokens and clients revoked before they expire.
#[derive(Debug, Default)]
struct Revoked {
    tokens: HashSet<String>,
    clients: HashSet<String>,
}

/// Signs `lso`'s tokens and checks every bearer token.
pub struct Authenticator {
    /// Tokens verified lately, by their SHA-256: the principal, and until when (seconds).
    verified: RwLock<HashMap<[u8; 32], (Principal, i64)>>,
    keys: RwLock<Arc<KeySet>>,
    generation: tokio::sync::watch::Sender<u64>,
    trusted: Vec<TrustedIssuer>,
    revoked: RwLock<Revoked>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator { .. }")
    }
}

fn invalid(reason: &str) -> ApiError {
    ApiError::Unauthorized { code: UnauthorizedCode::InvalidCredentials, reason: reason.to_owned() }
}

impl Authenticator {
    /// `lso`'s tokens, issued as `keys` say and signed with them.
    pub fn new(keys: KeySet) -> Self {
        Authenticator {
            verified: RwLock::default(),
            keys: RwLock::new(Arc::new(keys)),
            generation: tokio::sync::watch::Sender::new(0),
            trusted: Vec::new(),
            revoked: RwLock::default(),
        }
    }

    /// An authenticator on a key of its own, for tests and tools.
    pub fn ephemeral() -> Self {
        Authenticator::new(KeySet::generate("lso", SystemClock.now_millis()).expect("aws-lc-rs makes keys"))
    }

    /// Also accepts the tokens of `issuers`.
    pub fn trusting(mut self, issuers: Vec<TrustedIssuer>) -> Self {
        self.trusted = issuers;
        self
    }

    /// Signs and verifies with `keys` from now on (after a rotation).
    pub fn use_keys(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        // Tokens of a key no longer in use are checked again.
        self.verified.write().unwrap_or_else(|e| e.into_inner()).clear();
        self.generation.send_modify(|g| *g += 1);
    }

    /// Changes each time other keys are put to use.
    pub fn key_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn key_set(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The public keys of `lso`'s tokens, as a JWKS document.
    pub fn jwks(&self) -> Value {
        self.key_set().jwks(SystemClock.now_millis())
    }

    /// A token for `principal`, valid from `now` (seconds since the epoch) for `ttl_seconds`,
    /// signed with the current key.
    pub fn mint(&self, principal: &Principal, now: i64, ttl_seconds: i64) -> String {
        let id: [u8; 16] = rand::random();
        let jti: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let keys = self.key_set();
        let mut claims = json!({
            "iss": keys.issuer, "aud": keys.issuer, "sub": principal.subject, "iat": now, "nbf": now,
            "exp": now + ttl_seconds, "jti": jti, "roles": [principal.role.as_str()],
            "scope": principal.scopes.join(" "),
        });
        if !principal.buyers.is_empty() {
            claims["buyers"] = json!(principal.buyers);
        }
        if !principal.sellers.is_empty() {
            claims["sellers"] = json!(principal.sellers);
        }
        if let Some(client) = &principal.client {
            claims["client_id"] = json!(client);
        }
        let key = keys.current();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).expect("ES256 signing of plain claims cannot fail")
    }

    /// Refuses the token `jti` from now on.
    pub fn revoke_token(&self, jti: &str) {
        self.revoked.write().unwrap_or_else(|e| e.into_inner()).tokens.insert(jti.to_owned());
    }

    /// Refuses every token of `client` from now on.
    pub fn revoke_client(&self, client: &str) {
        self.revoked.write().unwrap_or_else(|e| e.into_inner()).clients.insert(client.to_owned());
    }

    /// Whether every token of `client` is refused.
    pub fn is_client_revoked(&self, client: &str) -> bool {
        self.revoked.read().unwrap_or_else(|e| e.into_inner()).clients.contains(client)
    }

    /// The principal a token names, if the token is valid, current and not revoked: from the
    /// tokens verified in the last minute, or checked in full.
    pub async fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let digest: [u8; 32] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes");
        let now = SystemClock.now_seconds();
        let remembered = self.verified.read().unwrap_or_else(|e| e.into_inner()).get(&digest).cloned();
        let principal = match remembered {
            Some((principal, until)) if now < until => principal,
            _ => {
                let (principal, expires) = self.verify_in_full(token).await?;
                let until = expires.min(now + REMEMBER_SECONDS);
                let mut verified = self.verified.write().unwrap_or_else(|e| e.into_inner());
                if verified.len() >= REMEMBER_AT_MOST {
                    verified.clear();
                }
                verified.insert(digest, (principal.clone(), until));
                principal
            }
        };
        self.not_revoked(principal)
    }

    fn not_revoked(&self, principal: Principal) -> Result<Principal, ApiError> {
        let revoked = self.revoked.read().unwrap_or_else(|e| e.into_inner());
        if principal.token_id.as_ref().is_some_and(|id| revoked.tokens.contains(id)) {
            return Err(invalid("the bearer token has been revoked"));
        }
        if principal.client.as_ref().is_some_and(|c| revoked.clients.contains(c)) {
            return Err(invalid("the bearer token's client has been revoked"));
        }
        Ok(principal)
    }

    /// The principal a token names and when it expires, its signature and claims checked.
    async fn verify_in_full(&self, token: &str) -> Result<(Principal, i64), ApiError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| invalid("the bearer token is not a JWT lso accepts"))?;
        let peeked: Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| invalid("the bearer token is not valid"))?;
        let issuer = peeked["iss"].as_str().unwrap_or_default();
        let default_claims = ClaimsMapping::default();
        let keys = self.key_set();
        let (key, audience, claims) = if issuer == keys.issuer {
            let kid = header.kid.as_deref().unwrap_or_default();
            let key = keys
                .find(kid, SystemClock.now_millis())
                .ok_or_else(|| invalid("the bearer token's signing key is unknown"))?;
            (key.decoding.clone(), keys.issuer.as_str(), &default_claims)
        } else {
            let trusted = self
                .trusted
                .iter()
                .find(|t| t.issuer == issuer)
                .ok_or_else(|| invalid("the bearer token's issuer is not trusted"))?;
            (trusted.key(&header).await.map_err(invalid)?, trusted.audience.as_str(), &trusted.claims)
        };
        if !key.family().algorithms().contains(&header.alg) {
            return Err(invalid("the bearer token's algorithm does not fit its key"));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            invalid(match e.kind() {
                ErrorKind::ExpiredSignature => "the bearer token has expired",
                ErrorKind::ImmatureSignature => "the bearer token is not valid yet",
                ErrorKind::InvalidAudience => "the bearer token is not meant for this server (audience)",
                ErrorKind::InvalidSignature => "the bearer token's signature does not verify",
                _ => "the bearer token is not valid",
            })
        })?;
        let principal = claims.principal(&data.claims).map_err(invalid)?;
        let expires = data.claims["exp"].as_i64().unwrap_or_default();
        Ok((principal, expires))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lsos_tokens_round_trip_and_expire() {
        let auth = Authenticator::ephemeral();
        let now = SystemClock.now_seconds();
        let acme = Principal::buyer("acme", vec!["ACME".into()]);
        let verified = auth.verify(&auth.mint(&acme, now, 60)).await.unwrap();
        assert_eq!(
            (verified.subject.as_str(), &verified.buyers, &verified.scopes),
            ("acme", &acme.buyers, &acme.scopes)
        );
        assert!(verified.token_id.is_some());
        let expired = auth.verify(&auth.mint(&acme, now - 3600, 60)).await.unwrap_err();
        assert!(expired.to_string().contains("expired"), "{expired}");
        let other = Authenticator::ephemeral();
        assert!(other.verify(&auth.mint(&acme, now, 60)).await.is_err());
        // A token verified before is still refused once revoked.
        let token = auth.mint(&acme, now, 60);
        let jti = auth.verify(&token).await.unwrap().token_id.unwrap();
        auth.revoke_token(&jti);
        assert!(auth.verify(&token).await.unwrap_err().to_string().contains("revoked"));
        let ops = auth.verify(&auth.mint(&Principal::administrator("ops"), now, 60)).await.unwrap();
        assert_eq!((ops.role, ops.scopes.as_slice()), (Role::Administrator, &["*".to_owned()][..]));
    }
}
