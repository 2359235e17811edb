//! Performance Monitoring 2.0.0-RC (MEF W143) on the wire: profiles, jobs and the requests that
//! cancel, modify, suspend or resume them, reports, complex queries, tracking records and the
//! hub. The file is the same for Legato, Interlude and Allegro; the state's `SofAudience` says
//! who the caller is there, whether it administers profiles (R7) and which interfaces it may
//! measure.

use crate::routes::{Made, SofState, creator, deleter, hub_routes, lister, retriever};
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use lso_http::filters::Known;
use lso_http::{ApiError, Caller, MefBody, api_error};
use lso_model::query::{Condition, Filter};
use lso_model::{Violation, ViolationCode};
use lso_sof::LegatoApi;
use lso_sof::pm::{JobProcess, PM_JOB, PM_PROFILE, PM_REPORT, PM_TRACKING};
use serde_json::{Value, json};

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

impl SofState {
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

/// `POST` of what `make` makes of a body measuring the interface at `measured_at`, once that
/// interface is found to be the caller's: 201 with the document.
fn measuring<F>(measured_at: &'static str, make: F) -> axum::routing::MethodRouter<SofState>
where
    F: for<'a> Fn(&'a lso_sof::Sof, &'a str, Value) -> Made<'a> + Clone + Send + Sync + 'static,
{
    creator(StatusCode::CREATED, move |state, client, body| {
        let make = make.clone();
        Box::pin(async move {
            state.check_measured(&client.id, &body, measured_at).await?;
            make(&state.sof, &client.id, body).await
        })
    })
}

/// The Performance Monitoring routes at `base`.
pub fn router(state: SofState, base: &str) -> Router {
    let mut routes = Router::new()
        // `createPerformanceProfile` (an administrator's), `listPerformanceProfile`, and
        // `retrievePerformanceProfile`, `modifyPerformanceProfile`, `deletePerformanceProfile`.
        .route(
            "/performanceProfile",
            lister(PM_PROFILE, &PROFILE_FILTERS).merge(creator(StatusCode::CREATED, |state, client, profile| {
                Box::pin(async move {
                    let client = client.administrator()?;
                    state.sof.create_profile(&client.id, profile).await.map_err(api_error)
                })
            })),
        )
        .route(
            "/performanceProfile/{id}",
            retriever(PM_PROFILE)
                .patch(modify_profile)
                .merge(deleter(true, |sof, client, id| Box::pin(sof.delete_profile(client, id)))),
        )
        // `createPerformanceJob`, `listPerformanceJob`, `retrievePerformanceJob`, and
        // `createPerformanceJobComplexQuery`.
        .route(
            "/performanceJob",
            lister(PM_JOB, &JOB_FILTERS).merge(measuring("/servicePayloadSpecificAttributes", |sof, client, job| {
                Box::pin(async move { sof.create_job(client, job).await.map_err(api_error) })
            })),
        )
        .route("/performanceJob/{id}", retriever(PM_JOB))
        .route("/performanceJobComplexQuery", post(job_query))
        // `createPerformanceReport`, `listPerformanceReport`, `retrievePerformanceReport`, and
        // `createPerformanceReportComplexQuery`.
        .route(
            "/performanceReport",
            lister(PM_REPORT, &REPORT_FILTERS).merge(measuring(
                "/performanceJob/servicePayloadSpecificAttributes",
                |sof, client, report| {
                    Box::pin(async move { sof.create_report(client, report).await.map_err(api_error) })
                },
            )),
        )
        .route("/performanceReport/{id}", retriever(PM_REPORT))
        .route("/performanceReportComplexQuery", post(report_query))
        // `listTrackingRecord`, `retrieveTrackingRecord`.
        .route("/trackingRecord", lister(PM_TRACKING, &TRACKING_FILTERS))
        .route("/trackingRecord/{id}", retriever(PM_TRACKING))
        .merge(hub_routes(LegatoApi::Performance));
    // `create`, `list` and `retrieve` `{Cancel,Modify,Suspend,Resume}PerformanceJob`.
    for process in JobProcess::ALL {
        routes = routes
            .route(
                &format!("/{}", process.path()),
                lister(process.kind(), &PROCESS_FILTERS).merge(measuring(
                    "/servicePayloadSpecificAttributes",
                    move |sof, client, request| {
                        Box::pin(async move { sof.job_process(client, process, request).await.map_err(api_error) })
                    },
                )),
            )
            .route(&format!("/{}/{{id}}", process.path()), retriever(process.kind()));
    }
    Router::new().nest(base, routes.with_state(state))
}

/// `modifyPerformanceProfile` (an administrator's).
async fn modify_profile(
    caller: Caller<SofState>,
    Path(id): Path<String>,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let (state, acting) = caller.plain()?;
    let client = acting.administrator()?;
    let profile = state.sof.modify_profile(&client.id, &id, body.raw).await.map_err(api_error)?;
    Ok(lso_http::ok(&profile))
}

const PROFILE_FILTERS: Known = Known {
    choices: &[("state", &PROFILE_STATES)],
    text: &["buyerProfileId", "jobType", "granularity", "reportingPeriod", "jobPriority"],
    dates: &["creationDate"],
};

const JOB_FILTERS: Known = Known {
    choices: &[("state", &JOB_STATES)],
    text: &[
        "buyerJobId",
        "performanceProfileId",
        "consumingApplicationId",
        "producingApplicationId",
        "jobType",
        "granularity",
        "reportingPeriod",
        "jobPriority",
    ],
    dates: &["creationDate"],
};

const REPORT_FILTERS: Known = Known {
    choices: &[("state", &REPORT_STATES)],
    text: &[
        "performanceJobId",
        "granularity",
        "outputFormat",
        "resultFormat",
        "consumingApplicationId",
        "producingApplicationId",
    ],
    dates: &["creationDate", "reportingTimeframe.startDate", "reportingTimeframe.endDate"],
};

const TRACKING_FILTERS: Known = Known { choices: &[], text: &["relatedObjectId", "user"], dates: &["creationDate"] };

const PROCESS_FILTERS: Known =
    Known { choices: &[("state", &PROCESS_STATES)], text: &["performanceJobId"], dates: &["creationDate"] };

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
async fn every(state: &SofState, client: &str, kind: &str, filters: Vec<Filter>) -> Result<Vec<Value>, ApiError> {
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
async fn job_query(caller: Caller<SofState>, body: MefBody<Value>) -> Result<Response, ApiError> {
    let (state, acting) = caller.plain()?;
    let client = acting.id;
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
    Ok(lso_http::ok(&answer))
}

/// `createPerformanceReportComplexQuery`: the reports matching the criteria in the body.
async fn report_query(caller: Caller<SofState>, body: MefBody<Value>) -> Result<Response, ApiError> {
    let (state, acting) = caller.plain()?;
    let client = acting.id;
    let names: Vec<&str> = REPORT_FILTERS.text.iter().copied().chain(["state"]).collect();
    let filters = query_filters(&body.raw, &names, REPORT_FILTERS.dates, &[("performanceJob", "performanceJobId")])?;
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
    Ok(lso_http::ok(&answer))
}
