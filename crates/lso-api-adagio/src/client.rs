//! [`AdagioClient`]: element control in another process, reached over Adagio's HTTP API.

use crate::dto::CrossConnectDto;
use lso_adagio::Flow;
use lso_adagio::{Adagio, AdagioError, BoxFuture, CrossConnect, DriverError, PortState};
use serde_json::Value;

/// Adagio over HTTP.
pub struct AdagioClient {
    client: reqwest::Client,
    base: String,
    credentials: lso_transport::Credentials,
    elements: Vec<(String, bool)>,
}

fn unreachable(element: &str, reason: impl ToString) -> AdagioError {
    AdagioError::Driver { element: element.to_owned(), error: DriverError::Unreachable(reason.to_string()) }
}

impl AdagioClient {
    /// Connects to the ECM serving Adagio at `base` (e.g. `http://10.0.0.5:8080/lso/adagio/v1`)
    /// with an operator's `token` over `http` (its TLS set by the caller), and learns its
    /// elements.
    pub async fn connect(
        base: &str,
        credentials: lso_transport::Credentials,
        http: reqwest::Client,
    ) -> Result<Self, AdagioError> {
        let mut client = AdagioClient {
            client: http,
            base: base.trim_end_matches('/').to_owned(),
            credentials,
            elements: Vec::new(),
        };
        let (_, listed) = client.call(reqwest::Method::GET, "ECM", "/element", None).await?;
        client.elements = listed
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| Some((e["name"].as_str()?.to_owned(), e["driver"] == "simulated")))
            .collect();
        Ok(client)
    }

    /// Sends a request about `element`; returns the status and the JSON body, or the element
    /// error the status stands for.
    async fn call(
        &self,
        method: reqwest::Method,
        element: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), AdagioError> {
        let token = self.credentials.token().await.map_err(|e| unreachable(element, e))?;
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = lso_transport::trace::send(request).await.map_err(|e| unreachable(element, e))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let reason = || body["reason"].as_str().or_else(|| body[0]["reason"].as_str()).unwrap_or_default().to_owned();
        match status {
            200..=299 => Ok((status, body)),
            404 if path.contains("/crossConnect/") && !path.ends_with("/check") => Ok((status, body)),
            404 => Err(AdagioError::UnknownElement(element.to_owned())),
            422 => Err(AdagioError::Driver {
                element: element.to_owned(),
                error: DriverError::NotApplied { port: "*".into(), reason: reason() },
            }),
            _ => Err(unreachable(element, format!("ECM answered {status}: {}", reason()))),
        }
    }
}

fn cross_connect_path(element: &str, service: &str) -> String {
    format!("/element/{element}/crossConnect/{service}")
}

impl Adagio for AdagioClient {
    fn elements(&self) -> Vec<(String, bool)> {
        self.elements.clone()
    }

    fn apply<'a>(&'a self, element: &'a str, connect: &'a CrossConnect) -> BoxFuture<'a, Result<(), AdagioError>> {
        Box::pin(async move {
            let body = serde_json::to_value(CrossConnectDto::from_domain(connect)).unwrap_or(Value::Null);
            self.call(reqwest::Method::PUT, element, &cross_connect_path(element, &connect.service), Some(body))
                .await
                .map(drop)
        })
    }

    fn remove<'a>(&'a self, element: &'a str, service: &'a str) -> BoxFuture<'a, Result<(), AdagioError>> {
        Box::pin(async move {
            self.call(reqwest::Method::DELETE, element, &cross_connect_path(element, service), None).await.map(drop)
        })
    }

    fn check<'a>(&'a self, element: &'a str, connect: &'a CrossConnect) -> BoxFuture<'a, Result<bool, AdagioError>> {
        Box::pin(async move {
            let body = serde_json::to_value(CrossConnectDto::from_domain(connect)).unwrap_or(Value::Null);
            let path = format!("{}/check", cross_connect_path(element, &connect.service));
            let (_, answer) = self.call(reqwest::Method::POST, element, &path, Some(body)).await?;
            Ok(answer["runsAsGiven"] == true)
        })
    }

    fn ports<'a>(&'a self, element: &'a str) -> BoxFuture<'a, Result<Vec<PortState>, AdagioError>> {
        Box::pin(async move {
            let (_, listed) =
                self.call(reqwest::Method::GET, element, &format!("/element/{element}/port"), None).await?;
            Ok(listed
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    Some(PortState {
                        port: p["port"].as_str()?.to_owned(),
                        link_up: p["linkUp"] == true,
                        error: p["error"].as_str().map(str::to_owned),
                        counters: serde_json::from_value(p["counters"].clone()).unwrap_or_default(),
                    })
                })
                .collect())
        })
    }

    fn flows<'a>(&'a self, element: &'a str, service: &'a str) -> BoxFuture<'a, Result<Vec<Flow>, AdagioError>> {
        Box::pin(async move {
            let (status, answer) =
                self.call(reqwest::Method::GET, element, &cross_connect_path(element, service), None).await?;
            if status == 404 {
                return Ok(Vec::new());
            }
            let cookie = lso_ecm::flows::cookie(service);
            Ok(answer["flows"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| serde_json::from_value::<Flow>(f.clone()).ok())
                .map(|f| Flow { cookie, ..f })
                .collect())
        })
    }
}
