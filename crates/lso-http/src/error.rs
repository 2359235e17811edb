//! `ApiError`: every rejection of every MEF API, rendered as the MEF `Error` body of its
//! status (`Error400` … `Error501`; 422 as an array of `Error422`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lso_model::Violation;
use serde::Serialize;

lso_model::mef_enum! {
    /// `Error400Code`.
    pub enum BadRequestCode {
        MissingQueryParameter = "missingQueryParameter",
        MissingQueryValue = "missingQueryValue",
        InvalidQuery = "invalidQuery",
        InvalidBody = "invalidBody",
    }
}

lso_model::mef_enum! {
    /// `Error401Code`.
    pub enum UnauthorizedCode {
        MissingCredentials = "missingCredentials",
        InvalidCredentials = "invalidCredentials",
    }
}

lso_model::mef_enum! {
    /// `Error403Code`.
    pub enum ForbiddenCode {
        AccessDenied = "accessDenied",
        ForbiddenRequester = "forbiddenRequester",
        TooManyUsers = "tooManyUsers",
    }
}

/// A request that cannot be served, with what was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 400: the query or the body's syntax is wrong.
    #[error("{code}: {reason}")]
    BadRequest { code: BadRequestCode, reason: String },
    /// 401: no or bad credentials.
    #[error("{code}: {reason}")]
    Unauthorized { code: UnauthorizedCode, reason: String },
    /// 403: authenticated but not allowed.
    #[error("{code}: {reason}")]
    Forbidden { code: ForbiddenCode, reason: String },
    /// 404: no such resource for this requester.
    #[error("notFound: {0}")]
    NotFound(String),
    /// 405: the path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the request conflicts with the resource's current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 413: the body is larger than the server accepts.
    #[error("body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 422: the request is well-formed but breaks business rules; one entry per problem.
    #[error("{} problem(s) in the request", .0.len())]
    Unprocessable(Vec<Violation>),
    /// 501: an optional operation this server does not offer.
    #[error("notImplemented: {0}")]
    NotImplemented(String),
    /// 429: the client sent more requests than its limit; it may try again after the seconds
    /// given.
    #[error("too many requests")]
    TooManyRequests(u64),
    /// 503: the server cannot serve requests right now (e.g. the database is unavailable).
    #[error("unavailable")]
    Unavailable,
    /// 500: a fault of the server; the details were logged, the body says nothing of them.
    #[error("internal error")]
    Internal,
}

/// The MEF answer to an entity's error; faults of the server are logged here, once, and
/// their bodies say nothing of them.
pub fn api_error(err: lso_model::EntityError) -> ApiError {
    use lso_model::EntityError;
    match err {
        EntityError::NotFound(reason) => ApiError::NotFound(reason),
        EntityError::Invalid(found) => ApiError::Unprocessable(found),
        EntityError::Conflict(reason) => ApiError::Conflict(reason),
        EntityError::Store(err) => {
            tracing::error!(error = %err, source = ?err.source(), "storage failed");
            ApiError::Unavailable
        }
        EntityError::Corrupt(what) => {
            tracing::error!(%what, "a stored document could not be read");
            ApiError::Internal
        }
        EntityError::Unreachable(reason) => {
            tracing::error!(%reason, "an entity in another process could not be asked");
            ApiError::Unavailable
        }
    }
}

impl ApiError {
    /// A 400 `invalidBody` naming each of `problems` with its place in the body: for the
    /// operations whose files declare no 422, such as registering a hub.
    pub fn unusable_body(problems: &[Violation]) -> Self {
        let said: Vec<String> = problems.iter().map(|v| format!("{}: {}", v.property_path, v.reason)).collect();
        ApiError::invalid_body(said.join("; "))
    }

    /// A 400 `invalidQuery`.
    pub fn invalid_query(reason: impl Into<String>) -> Self {
        ApiError::BadRequest { code: BadRequestCode::InvalidQuery, reason: reason.into() }
    }

    /// A 400 `invalidBody`.
    pub fn invalid_body(reason: impl Into<String>) -> Self {
        ApiError::BadRequest { code: BadRequestCode::InvalidBody, reason: reason.into() }
    }

    /// A 422 with one finding.
    pub fn unprocessable(violation: Violation) -> Self {
        ApiError::Unprocessable(vec![violation])
    }

    /// A 404 for a resource `kind` with `id`.
    pub fn not_found(kind: &str, id: &str) -> Self {
        ApiError::NotFound(format!("no {kind} with id `{id}`"))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The MEF `Error` body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    code: &'a str,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    property_path: Option<&'a str>,
}

/// MEF `Error.reason` holds at most 255 characters.
pub fn reason_text(text: &str) -> String {
    if text.chars().count() <= 255 {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(254).collect();
    cut.push('…');
    cut
}

fn body<'a>(code: &'a str, reason: &str) -> ErrorBody<'a> {
    ErrorBody { code, reason: reason_text(reason), property_path: None }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let json = match &self {
            ApiError::Unprocessable(violations) => {
                let entries: Vec<ErrorBody> = violations
                    .iter()
                    .map(|v| ErrorBody {
                        code: v.code.as_str(),
                        reason: reason_text(&v.reason),
                        property_path: Some(v.property_path.as_str()),
                    })
                    .collect();
                serde_json::to_vec(&entries)
            }
            ApiError::BadRequest { code, reason } => serde_json::to_vec(&body(code.as_str(), reason)),
            ApiError::Unauthorized { code, reason } => serde_json::to_vec(&body(code.as_str(), reason)),
            ApiError::Forbidden { code, reason } => serde_json::to_vec(&body(code.as_str(), reason)),
            ApiError::NotFound(reason) => serde_json::to_vec(&body("notFound", reason)),
            ApiError::MethodNotAllowed => {
                serde_json::to_vec(&body("methodNotAllowed", "this operation is not defined on this path"))
            }
            ApiError::Conflict(reason) => serde_json::to_vec(&body("conflict", reason)),
            ApiError::PayloadTooLarge(limit) => {
                serde_json::to_vec(&body("invalidBody", &format!("the request body exceeds {limit} bytes")))
            }
            ApiError::NotImplemented(reason) => serde_json::to_vec(&body("notImplemented", reason)),
            ApiError::TooManyRequests(seconds) => serde_json::to_vec(&body(
                "tooManyRequests",
                &format!("this client sent more requests than its limit; retry in {seconds} s"),
            )),
            ApiError::Unavailable => {
                serde_json::to_vec(&body("internalError", "the service is temporarily unavailable; retry later"))
            }
            ApiError::Internal => serde_json::to_vec(&body("internalError", "the server could not handle the request")),
        };
        let mut response = (status, json.unwrap_or_default()).into_response();
        if let ApiError::TooManyRequests(seconds) = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"));
        if matches!(self, ApiError::Unauthorized { .. }) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
