//! Who calls and whom for, the same way for every API: the bearer token's [`Principal`], whom
//! it acts for at this API (resolved by the API's [`Callers`] from `buyerId`/`sellerId`, or an
//! operator alone), and the rest of the query, for the handler to read and finish.

use crate::{ApiError, Authenticator, ForbiddenCode, Principal, QueryParams};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use std::sync::Arc;

/// How an API tells whom a request acts for.
pub trait Callers: Send + Sync {
    /// Whom a request acts for here: a Buyer's tenant, a customer, an operator.
    type Acting: Send;
    /// Whom `principal` acts for, taking what names it (`buyerId`, `sellerId`) from `query`.
    fn acting_for(&self, principal: &Principal, query: &mut QueryParams) -> Result<Self::Acting, ApiError>;
}

/// A request's caller: its principal, whom it acts for, and the query parameters not yet read.
#[derive(Debug)]
pub struct Caller<A> {
    /// Who the token says calls.
    pub principal: Principal,
    /// Whom it acts for at this API.
    pub acting: A,
    /// The query parameters besides those naming whom it acts for.
    pub query: QueryParams,
}

impl<A> Caller<A> {
    /// Whom the caller acts for, the query holding nothing else (anything more is refused
    /// with 400 `invalidQuery`).
    pub fn plain(self) -> Result<A, ApiError> {
        self.query.finish()?;
        Ok(self.acting)
    }
}

impl<S> FromRequestParts<S> for Caller<S::Acting>
where
    S: Callers,
    Arc<Authenticator>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        let mut query = QueryParams::parse(parts.uri.query());
        let acting = state.acting_for(&principal, &mut query)?;
        Ok(Caller { principal, acting, query })
    }
}

/// One of the Seller's operators: the only callers of its internal interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator;

impl Operator {
    /// `principal` as an operator of `interface` (named in the 403 a Buyer's token gets).
    pub fn of(principal: &Principal, interface: &str) -> Result<Operator, ApiError> {
        match principal {
            Principal::Admin { .. } => Ok(Operator),
            Principal::Buyer { .. } => Err(ApiError::Forbidden {
                code: ForbiddenCode::AccessDenied,
                reason: format!("{interface}; a Buyer's token cannot use it"),
            }),
        }
    }
}
