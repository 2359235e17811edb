//! Who calls and whom for, the same way for every API: the bearer token's [`Principal`], whom
//! it acts for at this API (resolved by the API's [`Callers`] from `buyerId`/`sellerId`, or an
//! operator alone), and the rest of the query, for the handler to read and finish.

use crate::{ApiError, Authenticator, ForbiddenCode, Principal, QueryParams};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// How an API tells whom a request acts for.
pub trait Callers: Send + Sync {
    /// Whom a request acts for here: a Buyer's tenant, a customer, an operator.
    type Acting: Send;
    /// What checks the bearer tokens of this API.
    fn authenticator(&self) -> &Authenticator;
    /// Whom `principal` acts for, taking what names it (`buyerId`, `sellerId`) from `query`.
    fn acting_for(&self, principal: &Principal, query: &mut QueryParams) -> Result<Self::Acting, ApiError>;
}

/// A request's caller: the API's state it calls, its principal, whom it acts for, and the query
/// parameters not yet read.
pub struct Caller<S: Callers> {
    /// What the API's handlers share.
    pub state: S,
    /// Who the token says calls.
    pub principal: Principal,
    /// Whom it acts for at this API.
    pub acting: S::Acting,
    /// The query parameters besides those naming whom it acts for.
    pub query: QueryParams,
}

impl<S: Callers> Caller<S> {
    /// The state and whom the caller acts for, the query holding nothing else (anything more
    /// is refused with 400 `invalidQuery`).
    pub fn plain(self) -> Result<(S, S::Acting), ApiError> {
        self.query.finish()?;
        Ok((self.state, self.acting))
    }
}

impl<S: Callers + Clone> FromRequestParts<S> for Caller<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let limiter = parts.extensions.get::<std::sync::Arc<crate::RateLimiter>>();
        let principal = match Principal::of_request(parts, state.authenticator()).await {
            Ok(principal) => principal,
            // Requests without valid credentials are limited by the address they come from.
            Err(refused @ ApiError::Unauthorized { .. }) => {
                let peer = parts.extensions.get::<axum::extract::ConnectInfo<lso_transport::Peer>>();
                if let (Some(limiter), Some(peer)) = (limiter, peer) {
                    limiter.admit(&format!("address {}", peer.0.0.ip()))?;
                }
                return Err(refused);
            }
            Err(refused) => return Err(refused),
        };
        if let Some(seen) = parts.extensions.get::<Seen>() {
            *seen.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(principal.clone());
        }
        if let Some(limiter) = limiter {
            limiter.admit(principal.client.as_deref().unwrap_or(&principal.subject))?;
        }
        let mut query = QueryParams::parse(parts.uri.query());
        let acting = state.acting_for(&principal, &mut query)?;
        Ok(Caller { state: state.clone(), principal, acting, query })
    }
}

/// Where the principal of a request is left for the audit trail, which records it once the
/// request is answered.
#[derive(Debug, Clone, Default)]
pub struct Seen(pub std::sync::Arc<std::sync::Mutex<Option<Principal>>>);

/// One of the Seller's operators: the only callers of its internal interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator;

impl Operator {
    /// `principal` as an operator of `interface` (named in the 403 a Buyer's token gets).
    pub fn of(principal: &Principal, interface: &str) -> Result<Operator, ApiError> {
        if principal.is_operator() {
            Ok(Operator)
        } else {
            Err(ApiError::Forbidden {
                code: ForbiddenCode::AccessDenied,
                reason: format!("{interface}; a Buyer's token cannot use it"),
            })
        }
    }
}

/// An internal interface of the Seller: only its operators call it.
pub trait Internal: Send + Sync {
    /// What a Buyer's token is told when it is refused (403).
    const REFUSAL: &'static str;
    /// What checks the bearer tokens of this interface.
    fn authenticator(&self) -> &Authenticator;
}

impl<S: Internal> Callers for S {
    type Acting = Operator;

    fn authenticator(&self) -> &Authenticator {
        Internal::authenticator(self)
    }

    fn acting_for(&self, principal: &Principal, _: &mut QueryParams) -> Result<Operator, ApiError> {
        Operator::of(principal, S::REFUSAL)
    }
}
