//! The MEF API framework shared by every reference point: the error model, the JSON body
//! extractor, strict query parsing and pagination, bearer-token authentication, the mapping of
//! `buyerId`/`sellerId` to tenants, and the fallbacks for unknown paths and methods.

mod auth;
mod body;
mod caller;
mod error;
pub mod filters;
pub mod keys;
mod limit;
mod oneshot;
mod query;
mod secret;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;

pub use auth::{Access, BUYER_SCOPES, Party, Principal, Role, api_of, resolve_party};
pub use body::{BodyLimit, DEFAULT_BODY_LIMIT, MefBody, parse, typed_view};
pub use caller::{Caller, Callers, Internal, Operator, Seen};
pub use error::{ApiError, BadRequestCode, ForbiddenCode, UnauthorizedCode, api_error, reason_text};
pub use limit::RateLimiter;
pub use oneshot::{Answer, oneshot};
pub use query::{DEFAULT_PAGE, MAX_PAGE, Paging, QueryParams, list_response};
pub use secret::Secret;
#[cfg(feature = "testing")]
pub use testing::TestCallers;
pub use tokens::{Authenticator, ClaimsMapping, TrustedIssuer};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A JSON response with the MEF content type.
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_bytes(status, bytes),
        Err(err) => {
            tracing::error!(error = %err, "a response could not be serialised");
            ApiError::Internal.into_response()
        }
    }
}

/// A response of `status` with `bytes`, which are JSON.
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"));
    response
}

/// A 200 with `value` as JSON.
pub fn ok<T: Serialize + ?Sized>(value: &T) -> Response {
    json_response(StatusCode::OK, value)
}

/// The answer to a path no API defines.
pub async fn not_found_fallback() -> ApiError {
    ApiError::NotFound("no resource at this path".into())
}

/// The answer to a method a path does not define.
pub async fn method_not_allowed_fallback() -> ApiError {
    ApiError::MethodNotAllowed
}
