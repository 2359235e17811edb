//! [`LegatoClient`]: a SOF in another process, reached over Legato's HTTP API.

use crate::{INVENTORY_BASE, ORDERING_BASE};
use lso_legato::{BoxFuture, Legato};
use lso_model::{Violation, ViolationCode};
use lso_sof::SofError;
use serde_json::Value;

/// Legato over HTTP, as a BUS uses it.
pub struct LegatoClient {
    client: reqwest::Client,
    root: String,
    credentials: lso_transport::Credentials,
}

impl LegatoClient {
    /// The SOF serving Legato at `root` (`https://host:port`, the part before `/mefApi`),
    /// called with an operator's `credentials` of that SOF over `http` (its TLS set by the
    /// caller).
    pub fn new(root: &str, credentials: lso_transport::Credentials, http: reqwest::Client) -> Self {
        LegatoClient { client: http, root: root.trim_end_matches('/').to_owned(), credentials }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, SofError> {
        let token = self.credentials.token().await.map_err(|e| SofError::Unreachable(e.to_string()))?;
        let mut request = self.client.request(method, format!("{}{path}", self.root)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = lso_transport::trace::send(request).await.map_err(|e| SofError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let reason = body["reason"].as_str().unwrap_or_default().to_owned();
        match status {
            200..=299 => Ok(body),
            404 => Err(SofError::NotFound(reason)),
            409 => Err(SofError::Conflict(reason)),
            422 => {
                let violations = body
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        let code = e["code"].as_str().and_then(|c| c.parse().ok()).unwrap_or(ViolationCode::OtherIssue);
                        Violation::new(
                            code,
                            e["propertyPath"].as_str().unwrap_or_default(),
                            e["reason"].as_str().unwrap_or_default(),
                        )
                    })
                    .collect();
                Err(SofError::Invalid(violations))
            }
            _ => Err(SofError::Unreachable(format!("the SOF answered {status}: {reason}"))),
        }
    }

    async fn list(&self, path: String) -> Result<Vec<Value>, SofError> {
        Ok(self.call(reqwest::Method::GET, &path, None).await?.as_array().cloned().unwrap_or_default())
    }
}

/// `value` as a query parameter value.
fn encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Legato for LegatoClient {
    fn create_service_order<'a>(&'a self, _client: &'a str, order: Value) -> BoxFuture<'a, Result<Value, SofError>> {
        Box::pin(async move {
            self.call(reqwest::Method::POST, &format!("{ORDERING_BASE}/serviceOrder"), Some(&order)).await
        })
    }

    fn service_order<'a>(&'a self, _client: &'a str, id: &'a str) -> BoxFuture<'a, Result<Value, SofError>> {
        Box::pin(async move {
            self.call(reqwest::Method::GET, &format!("{ORDERING_BASE}/serviceOrder/{}", encoded(id)), None).await
        })
    }

    fn service<'a>(&'a self, _client: &'a str, id: &'a str) -> BoxFuture<'a, Result<Value, SofError>> {
        Box::pin(async move {
            self.call(reqwest::Method::GET, &format!("{INVENTORY_BASE}/service/{}", encoded(id)), None).await
        })
    }

    fn service_order_by_external_id<'a>(
        &'a self,
        _client: &'a str,
        external_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, SofError>> {
        Box::pin(async move {
            let found = self.list(format!("{ORDERING_BASE}/serviceOrder?externalId={}", encoded(external_id))).await?;
            Ok(found.into_iter().next())
        })
    }

    fn services_by_external_id<'a>(
        &'a self,
        _client: &'a str,
        external_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Value>, SofError>> {
        Box::pin(
            async move { self.list(format!("{INVENTORY_BASE}/service?externalId={}", encoded(external_id))).await },
        )
    }
}
