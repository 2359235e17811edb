//! Query strings: every parameter must be one the operation defines (unknown ones answer 400
//! `invalidQuery`), and list operations page with `offset`/`limit` (MEF 123 §7.1.2).

use crate::ApiError;
use crate::error::BadRequestCode;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use lso_model::query::Total;
use serde::Serialize;

/// The largest page a list returns; a larger `limit` is cut and says so.
pub const MAX_PAGE: u64 = 1000;

/// The page size when `limit` is absent.
pub const DEFAULT_PAGE: u64 = 100;

/// The parameters of a query string, taken one by one by the handler.
#[derive(Debug, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
    taken: Vec<bool>,
}

impl QueryParams {
    /// Parses a raw query string (`None` when the URI has none).
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs: Vec<(String, String)> =
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
        let taken = vec![false; pairs.len()];
        QueryParams { pairs, taken }
    }

    /// Every value given for `name` (empty values are an error: `missingQueryValue`).
    pub fn all(&mut self, name: &str) -> Result<Vec<String>, ApiError> {
        let mut values = Vec::new();
        for (index, (key, value)) in self.pairs.iter().enumerate() {
            if key == name {
                self.taken[index] = true;
                if value.is_empty() {
                    return Err(ApiError::BadRequest {
                        code: BadRequestCode::MissingQueryValue,
                        reason: format!("query parameter `{name}` has no value"),
                    });
                }
                values.push(value.clone());
            }
        }
        Ok(values)
    }

    /// The value of `name`, given at most once.
    pub fn single(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut values = self.all(name)?;
        if values.len() > 1 {
            return Err(ApiError::invalid_query(format!("query parameter `{name}` is given more than once")));
        }
        Ok(values.pop())
    }

    /// Fails with 400 `invalidQuery` naming every parameter the operation does not define.
    pub fn finish(self) -> Result<(), ApiError> {
        let unknown: Vec<&str> =
            self.pairs.iter().zip(&self.taken).filter(|(_, taken)| !**taken).map(|((k, _), _)| k.as_str()).collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_query(format!("unknown query parameter(s): {}", unknown.join(", "))))
        }
    }
}

/// `offset` and `limit` of a list request, the limit already capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Matches to skip.
    pub offset: u64,
    /// Matches to return at most.
    pub limit: u64,
    /// Whether the requested limit was cut to [`MAX_PAGE`].
    pub throttled: bool,
}

impl Paging {
    /// Takes `offset` and `limit` from the query.
    pub fn from_query(query: &mut QueryParams) -> Result<Self, ApiError> {
        let number = |name: &str, value: Option<String>| -> Result<Option<u64>, ApiError> {
            value
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        ApiError::invalid_query(format!("`{name}` must be a non-negative integer, not `{v}`"))
                    })
                })
                .transpose()
        };
        let offset = number("offset", query.single("offset")?)?.unwrap_or(0);
        if offset > i32::MAX as u64 {
            return Err(ApiError::invalid_query("`offset` is larger than the largest int32"));
        }
        let requested = number("limit", query.single("limit")?)?.unwrap_or(DEFAULT_PAGE);
        if requested == 0 {
            return Err(ApiError::invalid_query("`limit` must be at least 1"));
        }
        Ok(Paging { offset, limit: requested.min(MAX_PAGE), throttled: requested > MAX_PAGE })
    }
}

/// A list response: the items as JSON array with `X-Result-Count`, `X-Total-Count` when the
/// matches were counted to their end and, when the page was cut (to the largest page, or by a
/// count that stopped at its bound) and more matches follow it, `X-Pagination-Throttled`
/// (MEF 123 R107: either header tells the Buyer that more results are available).
pub fn list_response<T: Serialize>(items: &[T], total: Total, paging: Paging) -> Response {
    let mut response = crate::json_response(axum::http::StatusCode::OK, &items);
    let headers = response.headers_mut();
    if let Total::Exact(total) = total {
        headers.insert(HeaderName::from_static("x-total-count"), HeaderValue::from(total));
    }
    headers.insert(HeaderName::from_static("x-result-count"), HeaderValue::from(items.len() as u64));
    let more_exist = paging.offset + (items.len() as u64) < total.at_least();
    let counted = matches!(total, Total::Exact(_));
    if (paging.throttled || !counted) && more_exist {
        headers.insert(HeaderName::from_static("x-pagination-throttled"), HeaderValue::from_static("true"));
    }
    response.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_parameters_are_refused() {
        let mut q = QueryParams::parse(Some("state=completed&colour=red"));
        assert_eq!(q.single("state").unwrap().as_deref(), Some("completed"));
        let err = q.finish().unwrap_err();
        assert!(
            matches!(err, ApiError::BadRequest { code: BadRequestCode::InvalidQuery, ref reason } if reason.contains("colour"))
        );
        let mut q = QueryParams::parse(Some("state=a&state=b"));
        assert!(q.single("state").is_err());
        let mut q = QueryParams::parse(Some("state="));
        assert!(matches!(q.all("state"), Err(ApiError::BadRequest { code: BadRequestCode::MissingQueryValue, .. })));
    }

    #[test]
    fn a_list_past_its_count_says_more_follow_instead_of_a_total() {
        let headers = |total: Total, offset: u64, limit: u64| {
            let paging = Paging { offset, limit, throttled: false };
            let response = list_response(&vec![0; limit as usize], total, paging);
            let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
            (header("x-total-count"), header("x-result-count"), header("x-pagination-throttled"))
        };
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(headers(Total::Exact(50), 10, 10), (some("50"), some("10"), None));
        assert_eq!(headers(Total::AtLeast(10_001), 0, 20), (None, some("20"), some("true")));
        assert_eq!(headers(Total::AtLeast(10_040), 10_020, 20), (None, some("20"), None), "nothing follows");
    }

    #[test]
    fn paging_refuses_negative_and_caps_large_limits() {
        let page = |raw: &str| Paging::from_query(&mut QueryParams::parse(Some(raw)));
        assert!(page("limit=-1").is_err());
        assert!(page("offset=x").is_err());
        assert!(page("limit=0").is_err());
        assert_eq!(page("offset=10&limit=10").unwrap(), Paging { offset: 10, limit: 10, throttled: false });
        assert_eq!(page("limit=5000").unwrap(), Paging { offset: 0, limit: MAX_PAGE, throttled: true });
    }
}
