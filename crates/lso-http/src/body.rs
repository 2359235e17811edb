//! `MefBody`: the JSON body extractor of every MEF API. Syntax errors, invalid UTF-8 and deep
//! nesting answer 400 `invalidBody`; bodies over the limit 413; well-formed bodies that do not
//! fit the request type 422 with a JSON Pointer to the offending attribute.

use crate::ApiError;
use axum::extract::{FromRequest, Request};
use lso_model::{Violation, ViolationCode, pointer_token};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The largest body accepted unless a [`BodyLimit`] extension says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// A request extension setting the body size limit in bytes.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A JSON body as sent (`raw`, kept to be stored and echoed) and as typed (`typed`).
#[derive(Debug, Clone)]
pub struct MefBody<T> {
    /// The body exactly as parsed, unknown attributes included.
    pub raw: Value,
    /// The typed view of it.
    pub typed: T,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for MefBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let limit = request.extensions().get::<BodyLimit>().map_or(DEFAULT_BODY_LIMIT, |l| l.0);
        let bytes = axum::body::to_bytes(request.into_body(), limit).await.map_err(|err| {
            let too_large =
                std::error::Error::source(&err).is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::invalid_body("the request body could not be read")
            }
        })?;
        parse(&bytes)
    }
}

/// Parses a body: UTF-8, JSON syntax, then the typed view.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<MefBody<T>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_body("the request has no body; a JSON object is expected"));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::invalid_body(format!("the body is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to()))
    })?;
    let raw: Value =
        serde_json::from_str(text).map_err(|e| ApiError::invalid_body(format!("the body is not valid JSON: {e}")))?;
    let typed = typed_view(&raw)?;
    Ok(MefBody { raw, typed })
}

/// Deserialises `raw` into `T`, reporting where and why it does not fit.
pub fn typed_view<T: DeserializeOwned>(raw: &Value) -> Result<T, ApiError> {
    // Read without tracking the path; a body that does not fit is read again to locate why.
    if let Ok(typed) = T::deserialize(raw) {
        return Ok(typed);
    }
    serde_path_to_error::deserialize(raw).map_err(|err| {
        let pointer = pointer_of(err.path());
        ApiError::unprocessable(violation_of(&pointer, &err.inner().to_string()))
    })
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            Segment::Map { key } => pointer.push_str(&format!("/{}", pointer_token(key))),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    pointer
}

/// Classifies a serde message into a MEF `Error422Code` and locates it.
fn violation_of(pointer: &str, message: &str) -> Violation {
    if let Some(field) = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next()) {
        return Violation::new(
            ViolationCode::MissingProperty,
            format!("{pointer}/{}", pointer_token(field)),
            format!("`{field}` is required"),
        );
    }
    let code = if message.contains("RFC 3339") { ViolationCode::InvalidFormat } else { ViolationCode::InvalidValue };
    let reason = message.split(" at line ").next().unwrap_or(message);
    Violation::new(code, pointer, reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "fields are read through Debug in assertions")]
    struct Item {
        id: String,
        count: u32,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "fields are read through Debug in assertions")]
    struct Body {
        items: Vec<Item>,
    }

    fn problems(body: &str) -> ApiError {
        parse::<Body>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn syntax_encoding_and_nesting_are_400_invalid_body() {
        for bad in ["{", "", "{\"items\": [}", &"[".repeat(200)] {
            assert!(
                matches!(problems(bad), ApiError::BadRequest { code: crate::BadRequestCode::InvalidBody, .. }),
                "{bad}"
            );
        }
        let invalid_utf8 = parse::<Body>(b"{\"items\": \"\xff\"}").unwrap_err();
        assert!(matches!(invalid_utf8, ApiError::BadRequest { ref reason, .. } if reason.contains("UTF-8")));
    }

    #[test]
    fn shape_errors_are_422_with_a_pointer() {
        let ApiError::Unprocessable(v) = problems(r#"{"items":[{"id":"a","count":1},{"id":"b"}]}"#) else { panic!() };
        assert_eq!((v[0].code, v[0].property_path.as_str()), (ViolationCode::MissingProperty, "/items/1/count"));
        let ApiError::Unprocessable(v) = problems(r#"{"items":[{"id":"a","count":"x"}]}"#) else { panic!() };
        assert_eq!((v[0].code, v[0].property_path.as_str()), (ViolationCode::InvalidValue, "/items/0/count"));
    }

    #[test]
    fn unknown_attributes_are_kept_in_the_raw_body() {
        let body = parse::<Body>(br#"{"items":[],"extra":{"a":1}}"#).unwrap();
        assert_eq!(body.raw["extra"]["a"], 1);
    }
}
