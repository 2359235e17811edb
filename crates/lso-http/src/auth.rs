//! Bearer-token authentication (HS256 JWTs signed with the server's key) and the resolution of
//! `buyerId`/`sellerId` into the tenant a request acts for (MEF 123 R2–R6).

use crate::ApiError;
use crate::error::{BadRequestCode, ForbiddenCode, UnauthorizedCode};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lso_model::{Irp, Tenant};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "lso";

/// Who is calling, as the bearer token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A requesting entity acting for one or more Buyers.
    Buyer { subject: String, buyers: Vec<String> },
    /// One of the Seller's operators.
    Admin { subject: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    #[serde(default)]
    buyers: Vec<String>,
    iat: i64,
    exp: i64,
    iss: String,
}

/// Signs and checks bearer tokens.
pub struct Authenticator {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator { .. }")
    }
}

impl Authenticator {
    /// An authenticator using `secret` as the HMAC key.
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Authenticator {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A token for `principal`, valid from `now` (seconds since the epoch) for `ttl_seconds`.
    pub fn mint(&self, principal: &Principal, now: i64, ttl_seconds: i64) -> String {
        let (sub, role, buyers) = match principal {
            Principal::Buyer { subject, buyers } => (subject.clone(), "buyer", buyers.clone()),
            Principal::Admin { subject } => (subject.clone(), "admin", Vec::new()),
        };
        let claims = Claims { sub, role: role.into(), buyers, iat: now, exp: now + ttl_seconds, iss: ISSUER.into() };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// The principal a token names, if the token is valid and current.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let invalid = |reason: &str| ApiError::Unauthorized {
            code: UnauthorizedCode::InvalidCredentials,
            reason: reason.to_owned(),
        };
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => invalid("the bearer token has expired"),
                _ => invalid("the bearer token is not valid"),
            })?;
        let claims = data.claims;
        match claims.role.as_str() {
            "admin" => Ok(Principal::Admin { subject: claims.sub }),
            "buyer" if !claims.buyers.is_empty() => Ok(Principal::Buyer { subject: claims.sub, buyers: claims.buyers }),
            _ => Err(invalid("the bearer token names no role lso knows")),
        }
    }
}

impl Principal {
    /// Who the bearer token of a request says calls, checked by `authenticator`.
    pub fn of_request(parts: &Parts, authenticator: &Authenticator) -> Result<Principal, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or(ApiError::Unauthorized {
            code: UnauthorizedCode::MissingCredentials,
            reason: "the request has no Authorization header; send `Authorization: Bearer <token>`".into(),
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized {
                code: UnauthorizedCode::MissingCredentials,
                reason: "the Authorization header does not carry a bearer token".into(),
            })?;
        authenticator.verify(token)
    }
}

/// The parties a request acts for: the tenant, and the `buyerId`/`sellerId` exactly as given
/// (to be repeated in notifications, MEF 123 R6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// Whose resources it reads and writes; `None` for an operator reading across Buyers.
    pub tenant: Option<Tenant>,
    /// `buyerId` as given.
    pub buyer_id: Option<String>,
    /// `sellerId` as given.
    pub seller_id: Option<String>,
}

impl Party {
    /// The tenant a write acts for; operators must name the Buyer.
    pub fn tenant_for_write(&self) -> Result<&Tenant, ApiError> {
        self.tenant.as_ref().ok_or(ApiError::BadRequest {
            code: BadRequestCode::MissingQueryParameter,
            reason: "an operator must name the Buyer with `buyerId` to act for it".into(),
        })
    }

    /// The store's tenant filter: the tenant key, or `None` for all.
    pub fn tenant_key(&self) -> Option<String> {
        self.tenant.as_ref().map(Tenant::key)
    }
}

/// Maps `buyerId`/`sellerId` to the tenant a request of `principal` acts for.
///
/// A requester acting for one Buyer must not send `buyerId` (R3); one acting for several must
/// (R2) and may only name its own. A server representing one Seller must not be sent `sellerId`
/// (R5); one representing several must (R4).
pub fn resolve_party(
    principal: &Principal,
    irp: Irp,
    sellers: &[String],
    buyer_id: Option<String>,
    seller_id: Option<String>,
) -> Result<Party, ApiError> {
    let seller = match (sellers, &seller_id) {
        ([only], None) => only.clone(),
        ([_], Some(_)) => {
            return Err(ApiError::invalid_query("`sellerId` must not be sent: this server represents one Seller"));
        }
        (_, None) => {
            return Err(ApiError::BadRequest {
                code: BadRequestCode::MissingQueryParameter,
                reason: format!("`sellerId` is required: this server represents {} Sellers", sellers.len()),
            });
        }
        (_, Some(id)) if sellers.contains(id) => id.clone(),
        (_, Some(id)) => {
            return Err(ApiError::invalid_query(format!("`sellerId` `{id}` is not a Seller of this server")));
        }
    };
    let buyer = match (principal, &buyer_id) {
        (Principal::Buyer { buyers, .. }, None) if buyers.len() == 1 => Some(buyers[0].clone()),
        (Principal::Buyer { .. }, None) => {
            return Err(ApiError::BadRequest {
                code: BadRequestCode::MissingQueryParameter,
                reason: "`buyerId` is required: your credentials act for several Buyers".into(),
            });
        }
        (Principal::Buyer { buyers, .. }, Some(_)) if buyers.len() == 1 => {
            return Err(ApiError::invalid_query("`buyerId` must not be sent: your credentials act for one Buyer"));
        }
        (Principal::Buyer { buyers, .. }, Some(id)) if buyers.contains(id) => Some(id.clone()),
        (Principal::Buyer { .. }, Some(id)) => {
            return Err(ApiError::Forbidden {
                code: ForbiddenCode::ForbiddenRequester,
                reason: format!("your credentials do not act for Buyer `{id}`"),
            });
        }
        (Principal::Admin { .. }, id) => id.clone(),
    };
    Ok(Party { tenant: buyer.map(|b| Tenant::new(irp, &seller, &b)), buyer_id, seller_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lso_model::{Clock, SystemClock};

    fn buyer(buyers: &[&str]) -> Principal {
        Principal::Buyer { subject: "t".into(), buyers: buyers.iter().map(|b| b.to_string()).collect() }
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let auth = Authenticator::from_secret(b"0123456789abcdef0123456789abcdef");
        let now = SystemClock.now_seconds();
        let token = auth.mint(&buyer(&["ACME"]), now, 60);
        assert_eq!(auth.verify(&token).unwrap(), buyer(&["ACME"]));
        let expired = auth.mint(&buyer(&["ACME"]), now - 3600, 60);
        assert!(matches!(
            auth.verify(&expired),
            Err(ApiError::Unauthorized { code: UnauthorizedCode::InvalidCredentials, .. })
        ));
        let other = Authenticator::from_secret(b"another key, another server....!");
        assert!(other.verify(&token).is_err());
    }

    #[test]
    fn mef123_r2_r3_buyer_id_rules() {
        let sellers = ["LSO".to_owned()];
        let one = resolve_party(&buyer(&["ACME"]), Irp::Sonata, &sellers, None, None).unwrap();
        assert_eq!(one.tenant, Some(Tenant::new(Irp::Sonata, "LSO", "ACME")));
        assert!(resolve_party(&buyer(&["ACME"]), Irp::Sonata, &sellers, Some("ACME".into()), None).is_err());
        let many = buyer(&["A", "B"]);
        assert!(matches!(
            resolve_party(&many, Irp::Sonata, &sellers, None, None),
            Err(ApiError::BadRequest { code: BadRequestCode::MissingQueryParameter, .. })
        ));
        assert!(matches!(
            resolve_party(&many, Irp::Sonata, &sellers, Some("C".into()), None),
            Err(ApiError::Forbidden { .. })
        ));
        let b = resolve_party(&many, Irp::Sonata, &sellers, Some("B".into()), None).unwrap();
        assert_eq!(b.buyer_id.as_deref(), Some("B"));
    }

    #[test]
    fn mef123_r4_r5_seller_id_rules() {
        let one = ["LSO".to_owned()];
        let two = ["S1".to_owned(), "S2".to_owned()];
        let acme = buyer(&["ACME"]);
        assert!(resolve_party(&acme, Irp::Sonata, &one, None, Some("LSO".into())).is_err());
        assert!(resolve_party(&acme, Irp::Sonata, &two, None, None).is_err());
        assert!(resolve_party(&acme, Irp::Sonata, &two, None, Some("S3".into())).is_err());
        let s2 = resolve_party(&acme, Irp::Sonata, &two, None, Some("S2".into())).unwrap();
        assert_eq!(s2.tenant.unwrap().seller, "S2");
    }

    #[test]
    fn operators_read_everything_and_write_for_a_named_buyer() {
        let admin = Principal::Admin { subject: "ops".into() };
        let all = resolve_party(&admin, Irp::Cantata, &["LSO".to_owned()], None, None).unwrap();
        assert!(all.tenant.is_none() && all.tenant_for_write().is_err());
        let acme = resolve_party(&admin, Irp::Cantata, &["LSO".to_owned()], Some("ACME".into()), None).unwrap();
        assert_eq!(acme.tenant_for_write().unwrap().buyer, "ACME");
    }
}
