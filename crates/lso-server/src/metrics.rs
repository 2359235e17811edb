//! `/metrics` (Prometheus, OpenMetrics text): what `lso_metrics` counted, and the store's
//! figures read at each scrape. On the main listener it needs an operator token; a separate
//! `metrics.listen` address (for a scraper inside the operator's network) serves it without.
//! The request counts come from [`count_requests`], a layer over every route.

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lso_http::{ApiError, Authenticator, Caller, Internal};
use lso_metrics::{Metrics, StoreCounts};
use lso_model::Clock;
use lso_store::Store;
use std::sync::Arc;
use std::time::Instant;

/// What a scrape reads.
#[derive(Clone)]
pub struct Scrape {
    /// The counts of this process.
    pub metrics: Arc<Metrics>,
    /// The store whose figures are read.
    pub store: Store,
    /// The clock the ages of jobs are told by.
    pub clock: Arc<dyn Clock>,
    /// Checks operators' tokens on the main listener.
    pub auth: Arc<Authenticator>,
}

impl Internal for Scrape {
    const REFUSAL: &str = "metrics are for the Seller's operators";

    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }
}

impl Scrape {
    async fn render(&self) -> Response {
        match self.counts().await {
            Ok(counts) => {
                let text = self.metrics.render(&counts);
                (StatusCode::OK, [(header::CONTENT_TYPE, lso_metrics::CONTENT_TYPE)], text).into_response()
            }
            Err(err) => {
                tracing::warn!(error = %err, "metrics: the store does not answer");
                ApiError::Unavailable.into_response()
            }
        }
    }

    async fn counts(&self) -> Result<StoreCounts, lso_store::StoreError> {
        let now = self.clock.now_millis();
        let jobs = self.store.jobs_waiting().await?;
        Ok(StoreCounts {
            orders: self.store.count_by("productOrder", "state").await?,
            items: self.store.count_by("productOrder", "itemState").await?,
            jobs: jobs.into_iter().map(|(kind, n, due)| (kind, n, (now - due).max(0) as f64 / 1000.0)).collect(),
            dead_letters: self.store.delivery_counts().await?.dead as i64,
        })
    }
}

/// `/metrics` for operators' tokens, on the main listener.
pub fn router(scrape: Scrape) -> Router {
    let scraped = |caller: Caller<Scrape>| async move {
        let (scrape, _) = caller.plain()?;
        Ok::<_, ApiError>(scrape.render().await)
    };
    Router::new().route("/metrics", get(scraped)).with_state(scrape)
}

/// `/metrics` without a token, for a listener of its own.
pub fn open_router(scrape: Scrape) -> Router {
    Router::new()
        .route("/metrics", get(|State(scrape): State<Scrape>| async move { scrape.render().await }))
        .with_state(scrape)
}

/// The API and operation of a matched route: `/mefApi/sonata/productOrderingManagement/v10/productOrder/{id}`
/// is `sonata/productOrderingManagement` and `GET /productOrder/{id}`; `/lso/admin/v1/deliveries`
/// is `lso/admin` and `GET /deliveries`.
fn api_and_operation(method: &str, route: Option<&str>) -> (String, String) {
    let Some(route) = route else { return ("none".into(), format!("{method} (no route)")) };
    let segments: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    let (api, rest) = match segments.as_slice() {
        ["mefApi", point, name, rest @ ..] => (format!("{point}/{name}"), rest),
        ["lso", name, rest @ ..] => (format!("lso/{name}"), rest),
        [first, rest @ ..] => ((*first).to_owned(), rest),
        [] => (String::new(), &[][..]),
    };
    let is_version = |s: &&str| s.len() > 1 && s.starts_with('v') && s[1..].chars().all(|c| c.is_ascii_digit());
    let rest = match rest.first() {
        Some(first) if is_version(first) => &rest[1..],
        _ => rest,
    };
    (api, format!("{method} /{}", rest.join("/")))
}

/// Counts every request by API, operation and status, with its latency.
pub async fn count_requests(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    if let Some(route) = &route {
        // Known once routed: the request's span (of the trace layer) names it.
        tracing::Span::current().record("http.route", route.as_str());
    }
    let response = next.run(request).await;
    let (api, operation) = api_and_operation(&method, route.as_deref());
    metrics.request(&api, &operation, response.status().as_u16(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_named_by_api_and_operation() {
        let cases = [
            (
                "/mefApi/sonata/productOrderingManagement/v10/productOrder/{id}",
                "sonata/productOrderingManagement",
                "GET /productOrder/{id}",
            ),
            ("/lso/admin/v1/deliveries", "lso/admin", "GET /deliveries"),
            ("/health/ready", "health", "GET /ready"),
            ("/metrics", "metrics", "GET /"),
        ];
        for (route, api, operation) in cases {
            assert_eq!(api_and_operation("GET", Some(route)), (api.to_owned(), operation.to_owned()), "{route}");
        }
        assert_eq!(api_and_operation("PUT", None).0, "none");
    }
}
