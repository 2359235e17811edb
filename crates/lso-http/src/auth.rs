//! Who calls: the [`Principal`] a bearer token names (its role, the Buyers and Sellers it
//! acts for, its scopes), checked against the scope the request needs (per reference point or
//! API, read or write), and the resolution of `buyerId`/`sellerId` into the tenant a request
//! acts for (MEF 123 R2–R6). The tokens themselves are checked by [`crate::Authenticator`].

use crate::ApiError;
use crate::error::{BadRequestCode, ForbiddenCode, UnauthorizedCode};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use lso_model::{Irp, Tenant};

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A requesting entity acting for one or more Buyers.
    Buyer,
    /// One of the Seller's operators: its internal interfaces, every Buyer's resources.
    Operator,
    /// An operator who also manages the Seller's identities, keys and secrets.
    Administrator,
}

impl Role {
    /// Its name in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Buyer => "buyer",
            Role::Operator => "operator",
            Role::Administrator => "administrator",
        }
    }
}

/// Reading or changing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `GET` and `HEAD`.
    Read,
    /// Everything else.
    Write,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// The scopes of a Buyer's token `lso` mints: every API of the reference points Buyers use.
pub const BUYER_SCOPES: [&str; 4] = ["sonata", "cantata", "allegro", "interlude"];

/// Who is calling, as the bearer token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's subject: a person or a client.
    pub subject: String,
    /// What it may do.
    pub role: Role,
    /// The Buyers it acts for (a Buyer's token).
    pub buyers: Vec<String>,
    /// The Sellers it may address; empty for any.
    pub sellers: Vec<String>,
    /// Its scopes: `*`, `{point}`, `{point}:{read|write}`, `{point}.{api}` or
    /// `{point}.{api}:{read|write}`.
    pub scopes: Vec<String>,
    /// The OAuth 2.0 client it was issued to, if any.
    pub client: Option<String>,
    /// The token's id (`jti`), if it has one.
    pub token_id: Option<String>,
}

impl Principal {
    /// A requesting entity `subject` acting for `buyers`, with the Buyers' scopes.
    pub fn buyer(subject: impl Into<String>, buyers: Vec<String>) -> Self {
        Principal {
            subject: subject.into(),
            role: Role::Buyer,
            buyers,
            sellers: Vec::new(),
            scopes: BUYER_SCOPES.iter().map(|s| s.to_string()).collect(),
            client: None,
            token_id: None,
        }
    }

    /// An operator `subject`, with every scope.
    pub fn operator(subject: impl Into<String>) -> Self {
        Principal {
            role: Role::Operator,
            buyers: Vec::new(),
            scopes: vec!["*".into()],
            ..Principal::buyer(subject, Vec::new())
        }
    }

    /// An administrator `subject`, with every scope.
    pub fn administrator(subject: impl Into<String>) -> Self {
        Principal { role: Role::Administrator, ..Principal::operator(subject) }
    }

    /// Whether it is one of the Seller's operators (or administrators).
    pub fn is_operator(&self) -> bool {
        self.role != Role::Buyer
    }

    /// Whether its scopes let it `access` the API `api` of reference point `point`.
    pub fn allows(&self, point: &str, api: &str, access: Access) -> bool {
        let wanted = access.as_str();
        self.scopes.iter().any(|scope| {
            let (name, mode) = scope.split_once(':').unwrap_or((scope, ""));
            let mode_fits = mode.is_empty() || mode == wanted;
            let name_fits = match name.split_once('.') {
                None => name == "*" || name == point,
                Some((p, a)) => p == point && a == api,
            };
            name_fits && mode_fits
        })
    }

    /// Who the bearer token of a request says calls, checked by `authenticator`, and allowed
    /// the API and access the request needs.
    pub async fn of_request(parts: &Parts, authenticator: &crate::Authenticator) -> Result<Principal, ApiError> {
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
        let principal = authenticator.verify(token).await?;
        // The path as sent: a nested router sees only its own part of it.
        let path = parts.extensions.get::<axum::extract::OriginalUri>().map_or(parts.uri.path(), |o| o.0.path());
        let (point, api) = api_of(path);
        let access = if matches!(parts.method.as_str(), "GET" | "HEAD") { Access::Read } else { Access::Write };
        if !principal.allows(point, api, access) {
            return Err(ApiError::Forbidden {
                code: ForbiddenCode::AccessDenied,
                reason: format!("the token's scopes do not include `{point}.{api}:{}`", access.as_str()),
            });
        }
        Ok(principal)
    }
}

/// The reference point and API a request path is at: `/mefApi/{point}/{api}/…`, `/lso/{name}/…`
/// (`admin`, `adagio`: the point and API alike), `/restconf/…` (Presto).
pub fn api_of(path: &str) -> (&str, &str) {
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next(), segments.next(), segments.next()) {
        (Some("mefApi"), Some(point), Some(api)) => (point, api),
        (Some("lso"), Some(name), _) => (name, name),
        (Some("restconf"), _, _) => ("presto", "restconf"),
        (Some(first), _, _) => (first, first),
        (None, _, _) => ("", ""),
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
    if !principal.sellers.is_empty() && !principal.sellers.contains(&seller) {
        return Err(ApiError::Forbidden {
            code: ForbiddenCode::ForbiddenRequester,
            reason: format!("your credentials do not act at Seller `{seller}`"),
        });
    }
    let buyers = &principal.buyers;
    let buyer = match (principal.is_operator(), &buyer_id) {
        (true, id) => id.clone(),
        (false, None) if buyers.len() == 1 => Some(buyers[0].clone()),
        (false, None) => {
            return Err(ApiError::BadRequest {
                code: BadRequestCode::MissingQueryParameter,
                reason: "`buyerId` is required: your credentials act for several Buyers".into(),
            });
        }
        (false, Some(_)) if buyers.len() == 1 => {
            return Err(ApiError::invalid_query("`buyerId` must not be sent: your credentials act for one Buyer"));
        }
        (false, Some(id)) if buyers.contains(id) => Some(id.clone()),
        (false, Some(id)) => {
            return Err(ApiError::Forbidden {
                code: ForbiddenCode::ForbiddenRequester,
                reason: format!("your credentials do not act for Buyer `{id}`"),
            });
        }
    };
    Ok(Party { tenant: buyer.map(|b| Tenant::new(irp, &seller, &b)), buyer_id, seller_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buyer(buyers: &[&str]) -> Principal {
        Principal::buyer("t", buyers.iter().map(|b| b.to_string()).collect())
    }

    #[test]
    fn scopes_name_a_reference_point_or_one_api_and_read_or_write() {
        let at =
            |scopes: &[&str]| Principal { scopes: scopes.iter().map(|s| s.to_string()).collect(), ..buyer(&["A"]) };
        let orders = ("sonata", "productOrderingManagement");
        assert!(at(&["sonata"]).allows(orders.0, orders.1, Access::Write));
        assert!(at(&["sonata:read"]).allows(orders.0, orders.1, Access::Read));
        assert!(!at(&["sonata:read"]).allows(orders.0, orders.1, Access::Write));
        assert!(at(&["sonata.productOrderingManagement:write"]).allows(orders.0, orders.1, Access::Write));
        assert!(!at(&["sonata.productInventory"]).allows(orders.0, orders.1, Access::Read));
        assert!(!at(&["cantata"]).allows(orders.0, orders.1, Access::Read));
        assert!(at(&["*"]).allows("admin", "admin", Access::Write));
        assert!(!at(&[]).allows(orders.0, orders.1, Access::Read));
        assert_eq!(
            api_of("/mefApi/sonata/productOrderingManagement/v10/productOrder"),
            ("sonata", "productOrderingManagement")
        );
        assert_eq!(api_of("/lso/admin/v1/deliveries"), ("admin", "admin"));
        assert_eq!(api_of("/restconf/data/tapi-common:context"), ("presto", "restconf"));
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
        let admin = Principal::operator("ops");
        let all = resolve_party(&admin, Irp::Cantata, &["LSO".to_owned()], None, None).unwrap();
        assert!(all.tenant.is_none() && all.tenant_for_write().is_err());
        let acme = resolve_party(&admin, Irp::Cantata, &["LSO".to_owned()], Some("ACME".into()), None).unwrap();
        assert_eq!(acme.tenant_for_write().unwrap().buyer, "ACME");
    }
}
