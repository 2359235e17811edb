//! Product Catalog (2.0.0-RC for Sonata and Cantata): the Seller's product specifications,
//! an offering for each orderable one on the reference point, and the categories grouping
//! them, all derived from the `lso` catalog (built-in and imported specifications), with the
//! catalog hub. A category is listed at a reference point while it has offerings there; a
//! specification a catalog reload took away stays listed as `obsolete`. The hub's events are
//! sent by the BUS (offering lifecycle, reloads).

use crate::{PointState, hubs};
use axum::Router;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::get;
use lso_bus::HubApi;
use lso_bus::offered_on;
use lso_http::{ApiError, Caller, Paging, QueryParams, list_response};
use lso_mef_product::{DateTime, catalog_base};
use lso_model::Irp;
use lso_spec::ProductSpec;
use serde_json::{Value, json};

pub(crate) fn router() -> Router<PointState> {
    Router::new()
        .route("/productOffering", get(list_product_offering))
        .route("/productOffering/{id}", get(retrieve_product_offering))
        .route("/productSpecification", get(list_product_specification))
        .route("/productSpecification/{id}", get(retrieve_product_specification))
        .route("/category", get(list_category))
        .route("/category/{id}", get(retrieve_category))
        .merge(hubs::router(HubApi::Catalog))
}

fn offering_id(spec: &ProductSpec) -> String {
    spec.offering_id()
}

impl PointState {
    fn catalog_time(&self) -> &str {
        self.api.catalog_time.as_str()
    }

    fn href(&self, kind: &str, id: &str) -> String {
        format!("{}{}/{kind}/{}", self.api.origin, catalog_base(self.irp), id.replace(':', "%3A"))
    }

    fn offering(&self, spec: &ProductSpec, state: &lso_bus::OfferingState) -> Value {
        let id = offering_id(spec);
        let segment = match self.irp {
            Irp::Sonata => "wholesale",
            Irp::Cantata => "enterprise",
        };
        let mut value = json!({
            "id": id, "href": self.href("productOffering", &id), "name": spec.name,
            "description": format!("{} ({})", spec.name, spec.short_name),
            "lastUpdate": state.last_update.as_deref().unwrap_or(self.catalog_time()), "lifecycleStatus": state.status,
            "agreement": "standard-terms", "channel": ["api"], "marketSegment": [segment],
            "region": [{"country": "US"}],
            "category": [{"id": spec.category(), "href": self.href("category", spec.category())}],
            "productSpecification": {"id": spec.id, "href": self.href("productSpecification", &spec.id)},
        });
        if let Some(reason) = &state.reason {
            value["statusReason"] = json!(reason);
            value["statusTransition"] = json!(state.transitions);
        }
        value
    }

    /// Every offering of this reference point, with where it stands.
    async fn offerings(&self) -> Result<Vec<Value>, ApiError> {
        let mut offerings = Vec::new();
        for spec in self.specs().filter(|s| offered_on(s, self.irp)) {
            let state = self.api.bus.offering_state(&offering_id(&spec)).await.map_err(lso_http::api_error)?;
            offerings.push(self.offering(&spec, &state));
        }
        Ok(offerings)
    }

    fn specification(&self, spec: &ProductSpec) -> Value {
        json!({
            "id": spec.id, "href": self.href("productSpecification", &spec.id), "name": spec.name,
            "description": spec.describe(),
            "lastUpdate": self.catalog_time(), "lifecycleStatus": "published",
            "sourceSchema": {"schema": spec.schema.to_string()},
        })
    }

    fn obsolete(&self, spec: &lso_bus::ObsoleteSpecification) -> Value {
        json!({
            "id": spec.id, "href": self.href("productSpecification", &spec.id), "name": spec.name,
            "description": spec.description, "lastUpdate": spec.since, "lifecycleStatus": "obsolete",
            "sourceSchema": {"schema": spec.schema},
        })
    }

    /// Every specification of this reference point: those of the catalog, then those kept as
    /// `obsolete`.
    async fn specifications(&self) -> Result<Vec<Value>, ApiError> {
        let mut all: Vec<Value> = self
            .specs()
            .filter(|s| s.interfaces.iter().any(|i| i == self.irp.as_str()))
            .map(|s| self.specification(&s))
            .collect();
        let kept = self.api.bus.obsolete_specifications().await.map_err(lso_http::api_error)?;
        all.extend(
            kept.iter().filter(|s| s.interfaces.iter().any(|i| i == self.irp.as_str())).map(|s| self.obsolete(s)),
        );
        Ok(all)
    }

    /// The categories with offerings at this reference point.
    fn categories(&self) -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
        let offered: Vec<&'static str> =
            self.specs().filter(|s| offered_on(s, self.irp)).map(|s| s.category()).collect();
        lso_spec::CATEGORIES.iter().filter(move |(id, ..)| offered.contains(id))
    }

    fn category(&self, (id, name, description): (&str, &str, &str)) -> Value {
        let offerings: Vec<Value> = self
            .specs()
            .filter(|s| offered_on(s, self.irp) && s.category() == id)
            .map(|s| json!({"id": offering_id(&s), "href": self.href("productOffering", &offering_id(&s))}))
            .collect();
        json!({"id": id, "href": self.href("category", id), "name": name, "description": description,
               "lastUpdate": self.catalog_time(), "productOffering": offerings})
    }

    /// The specifications of the catalog as it is now.
    fn specs(&self) -> impl Iterator<Item = std::sync::Arc<ProductSpec>> {
        self.api.bus.catalog().specs().to_vec().into_iter()
    }
}

/// The filters of a list: the values each attribute may have (several given are alternatives,
/// W142 R53; a comma separates them too), and the `lastUpdate` range.
struct Filters {
    equal: Vec<(&'static str, Vec<String>)>,
    after: Option<i64>,
    before: Option<i64>,
}

fn filters(query: &mut QueryParams, names: &[&'static str]) -> Result<Filters, ApiError> {
    let mut equal = Vec::new();
    for name in names {
        let values: Vec<String> =
            query.all(name)?.iter().flat_map(|v| v.split(',').map(|p| p.trim().to_owned())).collect();
        if !values.is_empty() {
            equal.push((*name, values));
        }
    }
    let mut bound = |key: &str| -> Result<Option<i64>, ApiError> {
        query
            .single(key)?
            .map(|v| {
                DateTime::parse(&v).map(|d| d.millis()).map_err(|e| ApiError::invalid_query(format!("`{key}`: {e}")))
            })
            .transpose()
    };
    Ok(Filters { after: bound("lastUpdate.gt")?, before: bound("lastUpdate.lt")?, equal })
}

impl Filters {
    /// Whether `value` passes: each filter equals the attribute its path names (any member of
    /// an array), and `lastUpdate` is in range.
    fn pass(&self, value: &Value) -> bool {
        let updated = value["lastUpdate"].as_str().and_then(|t| DateTime::parse(t).ok()).map_or(0, |d| d.millis());
        if self.after.is_some_and(|a| updated <= a) || self.before.is_some_and(|b| updated >= b) {
            return false;
        }
        self.equal.iter().all(|(path, wanted)| {
            let mut values = vec![value];
            for key in path.split('.') {
                values = values
                    .into_iter()
                    .flat_map(|v| match &v[key] {
                        Value::Array(items) => items.iter().collect::<Vec<_>>(),
                        other => vec![other],
                    })
                    .collect();
            }
            values.iter().any(|v| v.as_str().is_some_and(|v| wanted.iter().any(|w| w == v)))
        })
    }
}

/// A list answer: the items that pass the filters `names` define, a page of them.
fn answer_list(mut query: QueryParams, names: &[&'static str], items: Vec<Value>) -> Result<Response, ApiError> {
    let paging = Paging::from_query(&mut query)?;
    let filters = filters(&mut query, names)?;
    query.finish()?;
    let matching: Vec<Value> = items.into_iter().filter(|v| filters.pass(v)).collect();
    let total = matching.len() as u64;
    let page: Vec<Value> = matching.into_iter().skip(paging.offset as usize).take(paging.limit as usize).collect();
    Ok(list_response(&page, total.into(), paging))
}

/// `listProductOffering`: `GET /productOffering`.
async fn list_product_offering(caller: Caller<PointState>) -> Result<Response, ApiError> {
    let names = [
        "name",
        "lifecycleStatus",
        "agreement",
        "channel",
        "marketSegment",
        "region.country",
        "category.id",
        "productSpecification.id",
    ];
    let offerings = caller.state.offerings().await?;
    answer_list(caller.query, &names, offerings)
}

/// `retrieveProductOffering`: `GET /productOffering/{id}`.
async fn retrieve_product_offering(caller: Caller<PointState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (state, _) = caller.plain()?;
    let spec = state
        .specs()
        .find(|s| offered_on(s, state.irp) && offering_id(s) == id)
        .ok_or_else(|| ApiError::not_found("productOffering", &id))?;
    let lifecycle = state.api.bus.offering_state(&id).await.map_err(lso_http::api_error)?;
    Ok(lso_http::ok(&state.offering(&spec, &lifecycle)))
}

/// `listProductSpecification`: `GET /productSpecification`, answered as `ProductSpecification_Find`.
async fn list_product_specification(caller: Caller<PointState>) -> Result<Response, ApiError> {
    let specs = caller
        .state
        .specifications()
        .await?
        .into_iter()
        .map(|full| {
            json!({"id": full["id"], "href": full["href"], "name": full["name"], "lifecycleStatus": full["lifecycleStatus"], "lastUpdate": full["lastUpdate"]})
        })
        .collect();
    answer_list(caller.query, &["name", "lifecycleStatus"], specs)
}

/// `retrieveProductSpecification`: `GET /productSpecification/{id}`, with its schema.
async fn retrieve_product_specification(
    caller: Caller<PointState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (state, _) = caller.plain()?;
    let here = |interfaces: &[String]| interfaces.iter().any(|i| i == state.irp.as_str());
    if let Some(spec) = state.specs().find(|s| s.id == id && here(&s.interfaces)) {
        return Ok(lso_http::ok(&state.specification(&spec)));
    }
    let kept = state.api.bus.obsolete_specifications().await.map_err(lso_http::api_error)?;
    let spec = kept
        .iter()
        .find(|s| s.id == id && here(&s.interfaces))
        .ok_or_else(|| ApiError::not_found("productSpecification", &id))?;
    Ok(lso_http::ok(&state.obsolete(spec)))
}

/// `listCategory`: `GET /category`.
async fn list_category(caller: Caller<PointState>) -> Result<Response, ApiError> {
    let categories = caller.state.categories().map(|c| caller.state.category(*c)).collect();
    answer_list(caller.query, &["parentCategory.id"], categories)
}

/// `retrieveCategory`: `GET /category/{id}`.
async fn retrieve_category(caller: Caller<PointState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (state, _) = caller.plain()?;
    let category = state.categories().find(|c| c.0 == id).ok_or_else(|| ApiError::not_found("category", &id))?;
    Ok(lso_http::ok(&state.category(*category)))
}
