//! Performance Monitoring 2.0.0-RC (MEF W143) on the wire: profiles, jobs and the requests that
//! cancel, modify, suspend or resume them, reports, complex queries, tracking records and the
//! hub. The file is the same for Legato, Interlude and Allegro; a [`PmAudience`] says who the
//! caller is there, whether it administers profiles (R7) and which interfaces it may measure.

use crate::SubscriptionInput;
use axum::Router;
use axum::extract::FromRef;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lso_http::api_error;
use lso_http::filters::Kind;
use lso_http::filters::take;
use lso_http::{
    ApiError, Authenticator, ForbiddenCode, MefBody, Paging, Principal, QueryParams, json_response, list_response,
};
use lso_model::query::{Condition, Filter};
use lso_model::{Violation, ViolationCode};
use lso_sof::pm::{JobProcess, PM_JOB, PM_PROFILE, PM_REPORT, PM_TRACKING};
use lso_sof::{LegatoApi, Sof};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

const JOB_STATES: [&str; 9] = [
    "acknowledged",
    "cancelled",
    "completed",
    "inProgress",
    "pending",
    "rejected",
    "resourceUnavailable",
    "scheduled",
    "suspended",
];
const PROFILE_STATES: [&str; 4] = ["acknowledged", "active", "rejected", "deleted"];
const REPORT_STATES: [&str; 5] = ["acknowledged", "completed", "failed", "inProgress", "rejected"];
const PROCESS_STATES: [&str; 4] = ["accepted", "acknowledged", "completed", "declined"];

/// Who calls Performance Monitoring at one reference point.
pub trait PmAudience: Send + Sync + 'static {
    /// The client `principal` acts as (taking `buyerId`/`sellerId` from `query` if it uses
    /// them), or why it may not call.
    fn client(&self, principal: &Principal, query: &mut QueryParams) -> Result<String, ApiError>;
    /// Whether `principal` administers profiles (W143 R7, R24, R27).
    fn administers(&self, principal: &Principal) -> bool;
    /// Whether `client` may measure interface `name`.
    fn may_measure<'a>(
        &'a self,
        client: &'a str,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ApiError>> + Send + 'a>>;
}

/// Legato's audience: the Seller's own applications (operator tokens), measuring anything.
pub struct Operators;

impl PmAudience for Operators {
    fn client(&self, principal: &Principal, _: &mut QueryParams) -> Result<String, ApiError> {
        crate::client(principal).map(str::to_owned)
    }

    fn administers(&self, _: &Principal) -> bool {
        true
    }

    fn may_measure<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<bool, ApiError>> + Send + 'a>> {
        Box::pin(async { Ok(true) })
    }
}

/// What the Performance Monitoring routes need.
#[derive(Clone)]
pub struct PmState {
    /// The SOF.
    pub sof: Arc<Sof>,
    /// Checks tokens.
    pub auth: Arc<Authenticator>,
    /// Who calls.
    pub audience: Arc<dyn PmAudience>,
}

impl FromRef<PmState> for Arc<Authenticator> {
    fn from_ref(state: &PmState) -> Self {
        state.auth.clone()
    }
}

impl PmState {
    /// The caller's client, with its query; refused unless it administers profiles when
    /// `administer`.
    pub(crate) fn caller(
        &self,
        principal: &Principal,
        raw: Option<&str>,
        administer: bool,
    ) -> Result<(String, QueryParams), ApiError> {
        let mut query = QueryParams::parse(raw);
        let client = self.audience.client(principal, &mut query)?;
        if administer && !self.audience.administers(principal) {
            return Err(ApiError::Forbidden {
                code: ForbiddenCode::AccessDenied,
                reason: "performance profiles are the Seller's administrators' to change (W143 R7)".into(),
            });
        }
        Ok((client, query))
    }

    /// Refuses a request that measures an interface the caller may not measure.
    async fn check_measured(&self, client: &str, body: &Value, pointer: &str) -> Result<(), ApiError> {
        let Some(name) = body.pointer(&format!("{pointer}/interface")).and_then(Value::as_str) else { return Ok(()) };
        if self.audience.may_measure(client, name).await? {
            return Ok(());
        }
        Err(ApiError::unprocessable(Violation::new(
            ViolationCode::ReferenceNotFound,
            format!("{pointer}/interface"),
            format!("no interface `{name}` of yours"),
        )))
    }
}

/// A document of `kind` of the caller.
pub(crate) async fn retrieve(
    kind: &str,
    state: PmState,
    principal: Principal,
    id: String,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let (client, query) = state.caller(&principal, raw.0.as_deref(), false)?;
    query.finish()?;
    let document = state.sof.document(kind, &client, &id).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &document))
}

/// A page of the caller's documents of `kind` matching the `known` filters.
pub(crate) async fn list(
    kind: &str,
    known: &[(&str, Kind)],
    state: PmState,
    principal: Principal,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let (client, mut query) = state.caller(&principal, raw.0.as_deref(), false)?;
    let paging = Paging::from_query(&mut query)?;
    let filters = take(&mut query, known)?;
    query.finish()?;
    let (found, total) =
        state.sof.list(kind, &client, filters, paging.offset, paging.limit).await.map_err(api_error)?;
    Ok(list_response(&found, total, paging))
}

/// The Performance Monitoring routes at `base`.
pub fn router(state: PmState, base: &str) -> Router {
    let mut routes = Router::new()
        .route("/performanceProfile", get(list_profiles).post(create_profile))
        .route(
            "/performanceProfile/{id}",
            retriever(PM_PROFILE)
                .patch(modify_profile)
                .merge(deleter(true, |sof, client, id| Box::pin(sof.delete_profile(client, id)))),
        )
        // `createPerformanceJob`.
        .route(
            "/performanceJob",
            get(list_jobs).merge(creator("/servicePayloadSpecificAttributes", |sof, client, job| {
                Box::pin(sof.create_job(client, job))
            })),
        )
        .route("/performanceJob/{id}", retriever(PM_JOB))
        .route("/performanceJobComplexQuery", post(job_query))
        // `createPerformanceReport`.
        .route(
            "/performanceReport",
            get(list_reports)
                .merge(creator("/performanceJob/servicePayloadSpecificAttributes", |sof, client, report| {
                    Box::pin(sof.create_report(client, report))
                })),
        )
        .route("/performanceReport/{id}", retriever(PM_REPORT))
        .route("/performanceReportComplexQuery", post(report_query))
        .route("/trackingRecord", get(list_tracking))
        .route("/trackingRecord/{id}", retriever(PM_TRACKING))
        .merge(hub_routes(LegatoApi::Performance));
    for process in JobProcess::ALL {
        routes = routes
            .route(
                &format!("/{}", process.path()),
                get(move |state, principal, raw| list_process(process, state, principal, raw))
                    .post(move |state, principal, raw, body| create_process(process, state, principal, raw, body)),
            )
            .route(&format!("/{}/{{id}}", process.path()), retriever(process.kind()));
    }
    Router::new().nest(base, routes.with_state(state))
}

/// `GET` of one of the caller's documents of `kind`.
pub(crate) fn retriever(kind: &'static str) -> axum::routing::MethodRouter<PmState> {
    get(move |State(state), principal, Path(id), raw| retrieve(kind, state, principal, id, raw))
}

/// What a create operation's `create` gives: the document made, or why not.
type Made<'a> = Pin<Box<dyn Future<Output = Result<Value, lso_sof::SofError>> + Send + 'a>>;

/// `POST` of a job or report that `create` makes of the body, once the interface it measures
/// (at `measured_at` in the body) is found to be the caller's: 201 with the document.
fn creator<F>(measured_at: &'static str, create: F) -> axum::routing::MethodRouter<PmState>
where
    F: for<'a> Fn(&'a Sof, &'a str, Value) -> Made<'a> + Clone + Send + Sync + 'static,
{
    post(move |State(state): State<PmState>, principal: Principal, RawQuery(raw): RawQuery, body: MefBody<Value>| {
        let create = create.clone();
        async move {
            let (client, query) = state.caller(&principal, raw.as_deref(), false)?;
            query.finish()?;
            state.check_measured(&client, &body.raw, measured_at).await?;
            Ok::<_, ApiError>(created(&create(&state.sof, &client, body.raw).await.map_err(api_error)?))
        }
    })
}

/// What a delete operation's `remove` gives: the caller's document gone, or why not.
type Removed<'a> = Pin<Box<dyn Future<Output = Result<(), lso_sof::SofError>> + Send + 'a>>;

/// `DELETE` of one of the caller's documents by `remove` (an administrator's only when
/// `administrators`): 204 once it is gone.
pub(crate) fn deleter<F>(administrators: bool, remove: F) -> axum::routing::MethodRouter<PmState>
where
    F: for<'a> Fn(&'a Sof, &'a str, &'a str) -> Removed<'a> + Clone + Send + Sync + 'static,
{
    axum::routing::delete(
        move |State(state): State<PmState>, principal: Principal, Path(id): Path<String>, RawQuery(raw): RawQuery| {
            let remove = remove.clone();
            async move {
                let (client, query) = state.caller(&principal, raw.as_deref(), administrators)?;
                query.finish()?;
                remove(&state.sof, &client, &id).await.map_err(api_error)?;
                Ok::<_, ApiError>(StatusCode::NO_CONTENT.into_response())
            }
        },
    )
}

/// The hub of `api` for the caller's events: `POST /hub`, `GET` and `DELETE /hub/{id}`.
pub fn hub_routes(api: LegatoApi) -> Router<PmState> {
    Router::new()
        .route("/hub", post(move |state, principal, raw, body| register_listener(api, state, principal, raw, body)))
        .route(
            "/hub/{id}",
            get(move |state, principal, id, raw| retrieve_hub(api, state, principal, id, raw))
                .merge(deleter(false, move |sof, client, id| Box::pin(sof.delete_hub(api, client, id)))),
        )
}

/// The routes of `api`'s hub alone, at `base`.
pub fn hub_router(state: PmState, base: &str, api: LegatoApi) -> Router {
    Router::new().nest(base, hub_routes(api).with_state(state))
}

/// `registerListener`: the caller's hub for `api`'s events.
async fn register_listener(
    api: LegatoApi,
    State(state): State<PmState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<SubscriptionInput>,
) -> Result<Response, ApiError> {
    let (client, query) = state.caller(&principal, raw.as_deref(), false)?;
    query.finish()?;
    let input = body.typed;
    let registered = state.sof.register_hub(api, &client, &input.callback, input.query.as_deref()).await;
    // The hub operations declare 400, not 422, for a body that cannot be used.
    let hub = registered.map_err(|e| match e {
        lso_sof::SofError::Invalid(problems) => ApiError::unusable_body(&problems),
        other => api_error(other),
    })?;
    Ok(created(&hub))
}

/// `retrieveHub`.
async fn retrieve_hub(
    api: LegatoApi,
    State(state): State<PmState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (client, query) = state.caller(&principal, raw.as_deref(), false)?;
    query.finish()?;
    let hub = state.sof.hub(api, &client, &id).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &hub))
}

fn created(document: &Value) -> Response {
    json_response(StatusCode::CREATED, document)
}

/// `createPerformanceProfile`.
async fn create_profile(
    State(state): State<PmState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let (client, query) = state.caller(&principal, raw.as_deref(), true)?;
    query.finish()?;
    Ok(created(&state.sof.create_profile(&client, body.raw).await.map_err(api_error)?))
}

/// `modifyPerformanceProfile`.
async fn modify_profile(
    State(state): State<PmState>,
    principal: Principal,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let (client, query) = state.caller(&principal, raw.as_deref(), true)?;
    query.finish()?;
    let profile = state.sof.modify_profile(&client, &id, body.raw).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &profile))
}

/// `own` and the filters profiles and jobs share: when made, and how they measure.
fn with_schedule_filters(mut own: Vec<(&'static str, Kind)>) -> Vec<(&'static str, Kind)> {
    own.extend([
        ("creationDate", Kind::Date),
        ("jobType", Kind::Text),
        ("granularity", Kind::Text),
        ("reportingPeriod", Kind::Text),
        ("jobPriority", Kind::Text),
    ]);
    own
}

/// `listPerformanceProfile`.
async fn list_profiles(
    State(state): State<PmState>,
    principal: Principal,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let known =
        with_schedule_filters(vec![("buyerProfileId", Kind::Text), ("state", Kind::OneOf(PROFILE_STATES.to_vec()))]);
    list(PM_PROFILE, &known, state, principal, raw).await
}

/// `listPerformanceJob`.
async fn list_jobs(State(state): State<PmState>, principal: Principal, raw: RawQuery) -> Result<Response, ApiError> {
    let known = with_schedule_filters(vec![
        ("buyerJobId", Kind::Text),
        ("performanceProfileId", Kind::Text),
        ("state", Kind::OneOf(JOB_STATES.to_vec())),
        ("consumingApplicationId", Kind::Text),
        ("producingApplicationId", Kind::Text),
    ]);
    list(PM_JOB, &known, state, principal, raw).await
}

const REPORT_FILTERS: [(&str, bool); 9] = [
    ("performanceJobId", false),
    ("creationDate", true),
    ("reportingTimeframe.startDate", true),
    ("reportingTimeframe.endDate", true),
    ("granularity", false),
    ("outputFormat", false),
    ("resultFormat", false),
    ("consumingApplicationId", false),
    ("producingApplicationId", false),
];

/// `listPerformanceReport`.
async fn list_reports(State(state): State<PmState>, principal: Principal, raw: RawQuery) -> Result<Response, ApiError> {
    let mut known = vec![("state", Kind::OneOf(REPORT_STATES.to_vec()))];
    known.extend(REPORT_FILTERS.iter().map(|(name, date)| (*name, if *date { Kind::Date } else { Kind::Text })));
    list(PM_REPORT, &known, state, principal, raw).await
}

/// `listTrackingRecord`.
async fn list_tracking(
    State(state): State<PmState>,
    principal: Principal,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let known = [("relatedObjectId", Kind::Text), ("creationDate", Kind::Date), ("user", Kind::Text)];
    list(PM_TRACKING, &known, state, principal, raw).await
}

/// `create{Cancel,Modify,Suspend,Resume}PerformanceJob`.
async fn create_process(
    process: JobProcess,
    State(state): State<PmState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let (client, query) = state.caller(&principal, raw.as_deref(), false)?;
    query.finish()?;
    state.check_measured(&client, &body.raw, "/servicePayloadSpecificAttributes").await?;
    Ok(created(&state.sof.job_process(&client, process, body.raw).await.map_err(api_error)?))
}

/// `list{Cancel,Modify,Suspend,Resume}PerformanceJob`.
async fn list_process(
    process: JobProcess,
    State(state): State<PmState>,
    principal: Principal,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let known = [
        ("performanceJobId", Kind::Text),
        ("state", Kind::OneOf(PROCESS_STATES.to_vec())),
        ("creationDate", Kind::Date),
    ];
    list(process.kind(), &known, state, principal, raw).await
}

/// The store filters a complex query's body asks for: each of `names` by equality (as text),
/// `{date}.gt` / `{date}.lt` as ranges, and `references` (`performanceJob` → `performanceJobId`)
/// by their `id`; any other attribute is not a filter this server supports.
fn query_filters(
    body: &Value,
    names: &[&str],
    dates: &[&str],
    references: &[(&str, &str)],
) -> Result<Vec<Filter>, ApiError> {
    let mut filters = Vec::new();
    let mut found = Vec::new();
    for (key, value) in body.as_object().into_iter().flatten() {
        let text = value.as_str().map(str::to_owned).or_else(|| value.as_i64().map(|n| n.to_string()));
        let date = key.rsplit_once('.').filter(|(name, bound)| dates.contains(name) && matches!(*bound, "gt" | "lt"));
        let reference = references.iter().find(|(name, _)| name == key);
        match (text, date, reference) {
            (Some(text), Some((name, bound)), _) => match lso_model::DateTime::parse(&text) {
                Ok(at) => {
                    let at = at.millis();
                    let condition = if bound == "gt" { Condition::After(at) } else { Condition::Before(at) };
                    filters.push(Filter { name: name.into(), condition });
                }
                Err(e) => found.push(Violation::new(ViolationCode::InvalidFormat, format!("/{key}"), e.to_string())),
            },
            (Some(text), None, None) if names.contains(&key.as_str()) => {
                filters.push(Filter { name: key.clone(), condition: Condition::Eq(text) });
            }
            (None, None, Some((_, index))) if value["id"].is_string() => {
                let id = value["id"].as_str().unwrap_or_default().to_owned();
                filters.push(Filter { name: (*index).into(), condition: Condition::Eq(id) });
            }
            _ if key == "servicePayloadSpecificAttributes" && value["interface"].is_string() => {
                let interface = value["interface"].as_str().unwrap_or_default().to_owned();
                filters.push(Filter { name: "interface".into(), condition: Condition::Eq(interface) });
            }
            _ => found.push(Violation::new(
                ViolationCode::InvalidValue,
                format!("/{key}"),
                "not a criterion this server selects by",
            )),
        }
    }
    if found.is_empty() { Ok(filters) } else { Err(ApiError::Unprocessable(found)) }
}

/// Every document of `kind` of the caller matching `filters`, newest first.
async fn every(state: &PmState, client: &str, kind: &str, filters: Vec<Filter>) -> Result<Vec<Value>, ApiError> {
    Ok(state.sof.list(kind, client, filters, 0, lso_http::MAX_PAGE).await.map_err(api_error)?.0)
}

fn copy(from: &Value, to: &mut Value, keys: &[&str]) {
    for key in keys {
        if let Some(value) = from.get(*key) {
            to[*key] = value.clone();
        }
    }
}

/// `createPerformanceJobComplexQuery`: the jobs matching the criteria in the body.
async fn job_query(
    State(state): State<PmState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let (client, query) = state.caller(&principal, raw.as_deref(), false)?;
    query.finish()?;
    let names = [
        "buyerJobId",
        "consumingApplicationId",
        "producingApplicationId",
        "granularity",
        "jobPriority",
        "jobType",
        "reportingPeriod",
        "state",
    ];
    let filters =
        query_filters(&body.raw, &names, &["creationDate"], &[("performanceProfile", "performanceProfileId")])?;
    let jobs = every(&state, &client, PM_JOB, filters).await?;
    let answer: Vec<Value> = jobs
        .iter()
        .map(|job| {
            let mut item = json!({"performanceJob": {"@type": "PerformanceJobRef", "id": job["id"], "href": job["href"]}});
            copy(job, &mut item, &["buyerJobId", "consumingApplicationId", "producingApplicationId", "creationDate", "scheduleDefinition", "servicePayloadSpecificAttributes", "state"]);
            copy(&job["performanceProfile"], &mut item, &["granularity", "jobPriority", "jobType", "reportingPeriod"]);
            if job["performanceProfile"]["@type"] == "PerformanceProfileRef" {
                item["performanceProfile"] = json!({"@type": "PerformanceProfileRef", "id": job["performanceProfile"]["id"], "href": job["performanceProfile"]["href"]});
            }
            item
        })
        .collect();
    Ok(json_response(StatusCode::OK, &answer))
}

/// `createPerformanceReportComplexQuery`: the reports matching the criteria in the body.
async fn report_query(
    State(state): State<PmState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let (client, query) = state.caller(&principal, raw.as_deref(), false)?;
    query.finish()?;
    let names: Vec<&str> = REPORT_FILTERS.iter().filter(|(_, date)| !date).map(|(n, _)| *n).chain(["state"]).collect();
    let dates: Vec<&str> = REPORT_FILTERS.iter().filter(|(_, date)| *date).map(|(n, _)| *n).collect();
    let filters = query_filters(&body.raw, &names, &dates, &[("performanceJob", "performanceJobId")])?;
    let reports = every(&state, &client, PM_REPORT, filters).await?;
    let answer: Vec<Value> = reports
        .iter()
        .map(|report| {
            let mut item = json!({"performanceReport": {"@type": "PerformanceReportRef", "id": report["id"], "href": report["href"]}});
            copy(report, &mut item, &["creationDate", "reportingTimeframe", "state", "description"]);
            let job = &report["performanceJob"];
            copy(job, &mut item, &["consumingApplicationId", "producingApplicationId", "granularity", "outputFormat", "resultFormat", "servicePayloadSpecificAttributes"]);
            if job["@type"] == "PerformanceJobRef" {
                item["performanceJob"] = job.clone();
            }
            item
        })
        .collect();
    Ok(json_response(StatusCode::OK, &answer))
}
