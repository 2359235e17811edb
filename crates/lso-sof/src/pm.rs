//! Performance Monitoring (MEF W143) at the SOF: profiles say how to measure, jobs measure an
//! interface (the traffic counters of its port, read from the element through ICM and ECM, one
//! sample per granularity interval, kept as a durable store job), and reports give the
//! measurements of a reporting period: a job makes one at the end of each period, and a client
//! can ask for one over any timeframe an earlier job measured. Measurements are in the Carrier
//! Ethernet results of the Legato schema (frames received and forwarded, frames sent,
//! utilisation and its peak per interval).

use crate::{Sof, SofError};
use lso_jobs::Step;
use lso_model::DateTime;
use lso_model::{Violation, ViolationCode};
use lso_store::{Condition, Filter, IndexEntry, ListQuery, Record, WriteOp, sortable_time};
use serde_json::{Map, Value, json};

/// Stored performance profiles.
pub const PM_PROFILE: &str = "pmProfile";
/// Stored performance jobs.
pub const PM_JOB: &str = "pmJob";
/// Stored performance reports.
pub const PM_REPORT: &str = "pmReport";
/// Stored tracking records.
pub const PM_TRACKING: &str = "pmTracking";
/// The counters of an interface taken by a job: id `{job}:{tick}`.
const PM_SAMPLE: &str = "pmSample";
/// The job that measures a performance job's interface.
pub const MEASURE: &str = "sof.pmMeasure";
/// The API name of Performance Monitoring notifications.
pub const PERFORMANCE_API: &str = "legatoPerformance";
/// The base path of Performance Monitoring at Legato.
pub const PM_BASE: &str = "/mefApi/legato/performanceMonitoring/v2";

/// The reference point whose Performance Monitoring `client` uses: Allegro or Interlude for a
/// customer or partner operator of those (their keys name it), Legato for every other client.
fn point_of(client: &str) -> &'static str {
    match lso_model::party_of_key(client).map(|(point, ..)| point) {
        Some("allegro") => "allegro",
        Some("interlude") => "interlude",
        _ => "legato",
    }
}
/// The configuration this SOF measures.
pub const CE_CONFIGURATION: &str =
    "urn:mef:lso:spec:legato:carrier-ethernet-performance-monitoring-configuration:v0.0.1:all";
/// The results it reports.
pub const CE_RESULTS: &str = "urn:mef:lso:spec:legato:carrier-ethernet-performance-monitoring-results:v0.0.1:all";

/// lso's threshold crossing alert: a measurement of a job reaching a threshold its
/// configuration sets (`thresholds`), or falling back below it. Not in W143: sent only to hubs
/// whose `query` names it, kept apart under their own API key.
pub const THRESHOLD_EVENT: &str = "performanceThresholdCrossingEvent";
/// The API key of the hubs asking for threshold crossing alerts.
pub const ALERTS_API: &str = "legatoPerformanceAlerts";

/// The event types of Performance Monitoring notifications.
pub const PERFORMANCE_EVENT_TYPES: &[&str] = &[
    THRESHOLD_EVENT,
    "performanceJobCreateEvent",
    "performanceJobStateChangeEvent",
    "performanceJobAttributeValueChangeEvent",
    "performanceJobReportReadyEvent",
    "performanceJobReportPreparationErrorEvent",
    "cancelPerformanceJobStateChangeEvent",
    "modifyPerformanceJobStateChangeEvent",
    "resumePerformanceJobStateChangeEvent",
    "suspendPerformanceJobStateChangeEvent",
    "performanceProfileCreateEvent",
    "performanceProfileStateChangeEvent",
    "performanceProfileAttributeValueChangeEvent",
    "performanceProfileDeleteEvent",
    "performanceReportCreateEvent",
    "performanceReportStateChangeEvent",
];

/// The counters a Carrier Ethernet job may select (the configuration's booleans) that this SOF
/// measures; a job that selects none gets them all.
const MEASURED: [&str; 7] = [
    "rxEthIINum",
    "rxForwardNum",
    "txVlanOutNum",
    "utilizationIn",
    "utilizationOut",
    "peakUtilizationIn",
    "peakUtilizationOut",
];

/// A request about a job other than creating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobProcess {
    /// `cancelPerformanceJob`.
    Cancel,
    /// `modifyPerformanceJob`.
    Modify,
    /// `suspendPerformanceJob`.
    Suspend,
    /// `resumePerformanceJob`.
    Resume,
}

impl JobProcess {
    /// Every kind of request.
    pub const ALL: [JobProcess; 4] = [JobProcess::Cancel, JobProcess::Modify, JobProcess::Suspend, JobProcess::Resume];

    /// Its resource name, e.g. `cancelPerformanceJob`.
    pub fn path(self) -> &'static str {
        match self {
            JobProcess::Cancel => "cancelPerformanceJob",
            JobProcess::Modify => "modifyPerformanceJob",
            JobProcess::Suspend => "suspendPerformanceJob",
            JobProcess::Resume => "resumePerformanceJob",
        }
    }

    /// The store kind of its requests.
    pub fn kind(self) -> &'static str {
        match self {
            JobProcess::Cancel => "pmCancel",
            JobProcess::Modify => "pmModify",
            JobProcess::Suspend => "pmSuspend",
            JobProcess::Resume => "pmResume",
        }
    }
}

/// An `Interval` in milliseconds, for those this SOF measures at.
fn interval_millis(interval: &str) -> Option<i64> {
    Some(match interval {
        "1 second" => 1_000,
        "10 second" => 10_000,
        "1 minute" => 60_000,
        "5 minutes" => 300_000,
        "15 minutes" => 900_000,
        "30 minutes" => 1_800_000,
        "1 hour" => 3_600_000,
        "24 hours" => 86_400_000,
        _ => return None,
    })
}

fn now_text(at: i64) -> String {
    DateTime::from_millis(at).as_str().to_owned()
}

fn millis(value: &Value) -> Option<i64> {
    DateTime::parse(value.as_str()?).ok().map(|d| d.millis())
}

fn invalid(path: &str, reason: impl Into<String>) -> Violation {
    Violation::new(ViolationCode::InvalidValue, path, reason)
}

/// The attributes `texts` of `doc` (at `path`) are text where given, and its `jobPriority` a
/// whole number, as the file types them.
fn check_types(doc: &Value, path: &str, texts: &[&str], found: &mut Vec<Violation>) {
    for name in texts {
        if doc.get(*name).is_some_and(|v| !v.is_string()) {
            found.push(invalid(&format!("{path}/{name}"), format!("`{name}` is text")));
        }
    }
    if doc.get("jobPriority").is_some_and(|v| !v.is_i64()) {
        found.push(invalid(&format!("{path}/jobPriority"), "`jobPriority` is a whole number"));
    }
}

/// The checks of a profile's attributes (R9): what this SOF can produce.
fn check_profile(profile: &Value, path: &str, found: &mut Vec<Violation>) {
    for name in ["jobType", "outputFormat", "resultFormat"] {
        if profile[name].as_str().is_none() {
            found.push(Violation::new(
                ViolationCode::MissingProperty,
                format!("{path}/{name}"),
                format!("`{name}` is required (R9)"),
            ));
        }
    }
    if let Some(kind) = profile["jobType"].as_str().filter(|k| !matches!(*k, "proactive" | "on-demand")) {
        found.push(invalid(
            &format!("{path}/jobType"),
            format!("this SOF runs proactive and on-demand jobs, not {kind}"),
        ));
    }
    if let Some(format) = profile["outputFormat"].as_str().filter(|f| *f != "json") {
        found.push(invalid(&format!("{path}/outputFormat"), format!("this SOF reports in json, not {format}")));
    }
    if let Some(format) = profile["resultFormat"].as_str().filter(|f| *f != "payload") {
        found.push(invalid(
            &format!("{path}/resultFormat"),
            format!("this SOF gives results as payload (R102), not {format}"),
        ));
    }
    check_types(profile, path, &["buyerProfileId", "description", "granularity", "reportingPeriod"], found);
    let granularity = profile["granularity"].as_str().map(interval_millis);
    if let Some(None) = granularity {
        found.push(invalid(&format!("{path}/granularity"), "this SOF measures at 1 second to 24 hours"));
    }
    match (profile["reportingPeriod"].as_str().map(interval_millis), granularity) {
        (Some(None), _) => {
            found.push(invalid(&format!("{path}/reportingPeriod"), "this SOF reports every 1 second to 24 hours"))
        }
        (Some(Some(period)), Some(Some(granularity))) if period % granularity != 0 => found.push(invalid(
            &format!("{path}/reportingPeriod"),
            "a reporting period is a whole number of granularity intervals",
        )),
        _ => {}
    }
}

/// A job's granularity and reporting period in milliseconds (defaults: 1 minute, and one
/// report per interval).
fn timing(profile: &Value) -> (i64, i64) {
    let granularity = profile["granularity"].as_str().and_then(interval_millis).unwrap_or(60_000);
    let period = profile["reportingPeriod"].as_str().and_then(interval_millis).unwrap_or(granularity);
    (granularity, period)
}

fn profile_index(profile: &Value) -> Vec<IndexEntry> {
    let mut index = Vec::new();
    for name in ["buyerProfileId", "state", "jobType", "granularity", "reportingPeriod"] {
        index.extend(profile[name].as_str().map(|v| IndexEntry::new(name, v)));
    }
    index.push(IndexEntry::new("jobPriority", profile["jobPriority"].as_i64().unwrap_or(5).to_string()));
    index.extend(millis(&profile["creationDate"]).map(|t| IndexEntry::new("creationDate", sortable_time(t))));
    index
}

fn job_index(job: &Value) -> Vec<IndexEntry> {
    let profile = &job["performanceProfile"];
    let mut index = Vec::new();
    for name in ["buyerJobId", "state", "consumingApplicationId", "producingApplicationId"] {
        index.extend(job[name].as_str().map(|v| IndexEntry::new(name, v)));
    }
    for name in ["jobType", "granularity", "reportingPeriod"] {
        index.extend(profile[name].as_str().map(|v| IndexEntry::new(name, v)));
    }
    index.push(IndexEntry::new("jobPriority", profile["jobPriority"].as_i64().unwrap_or(5).to_string()));
    index.extend(profile["id"].as_str().map(|v| IndexEntry::new("performanceProfileId", v)));
    index
        .extend(job["servicePayloadSpecificAttributes"]["interface"].as_str().map(|v| IndexEntry::new("interface", v)));
    index.extend(millis(&job["creationDate"]).map(|t| IndexEntry::new("creationDate", sortable_time(t))));
    index
}

fn report_index(report: &Value) -> Vec<IndexEntry> {
    let job = &report["performanceJob"];
    let mut index = Vec::new();
    index.extend(report["state"].as_str().map(|v| IndexEntry::new("state", v)));
    index.extend(job["id"].as_str().map(|v| IndexEntry::new("performanceJobId", v)));
    for name in ["granularity", "outputFormat", "resultFormat", "consumingApplicationId", "producingApplicationId"] {
        index.extend(job[name].as_str().map(|v| IndexEntry::new(name, v)));
    }
    index.extend(millis(&report["creationDate"]).map(|t| IndexEntry::new("creationDate", sortable_time(t))));
    let frame = &report["reportingTimeframe"];
    index.extend(
        millis(&frame["reportingStartDate"]).map(|t| IndexEntry::new("reportingTimeframe.startDate", sortable_time(t))),
    );
    index.extend(
        millis(&frame["reportingEndDate"]).map(|t| IndexEntry::new("reportingTimeframe.endDate", sortable_time(t))),
    );
    index
}

fn process_index(process: &Value) -> Vec<IndexEntry> {
    let mut index = Vec::new();
    index.extend(process["state"].as_str().map(|v| IndexEntry::new("state", v)));
    index.extend(process["performanceJob"]["id"].as_str().map(|v| IndexEntry::new("performanceJobId", v)));
    index.extend(millis(&process["creationDate"]).map(|t| IndexEntry::new("creationDate", sortable_time(t))));
    index
}

/// The counters of an interface at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Sample {
    at: i64,
    rx_packets: u64,
    rx_bytes: u64,
    rx_dropped: u64,
    tx_packets: u64,
    tx_bytes: u64,
}

/// The measurements of one interval from the samples at its ends (and between them, for the
/// peak), as Carrier Ethernet results.
fn data_point(interface: &str, capacity_mbps: u64, samples: &[Sample], selected: &[&str]) -> Value {
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    let utilisation = |bytes: u64, millis: i64| -> f64 {
        if millis <= 0 || capacity_mbps == 0 {
            return 0.0;
        }
        let bits_per_second = bytes as f64 * 8.0 * 1000.0 / millis as f64;
        (bits_per_second / (capacity_mbps as f64 * 1e6) * 100.0).min(100.0)
    };
    let span = last.at - first.at;
    let peak = |bytes: fn(&Sample) -> u64| {
        samples
            .windows(2)
            .map(|w| utilisation(bytes(&w[1]).saturating_sub(bytes(&w[0])), w[1].at - w[0].at))
            .fold(0.0, f64::max)
    };
    let received = last.rx_packets.saturating_sub(first.rx_packets);
    let values = [
        ("rxEthIINum", json!(received)),
        ("rxForwardNum", json!(received.saturating_sub(last.rx_dropped.saturating_sub(first.rx_dropped)))),
        ("txVlanOutNum", json!(last.tx_packets.saturating_sub(first.tx_packets))),
        ("utilizationIn", json!(utilisation(last.rx_bytes.saturating_sub(first.rx_bytes), span))),
        ("utilizationOut", json!(utilisation(last.tx_bytes.saturating_sub(first.tx_bytes), span))),
        ("peakUtilizationIn", json!(peak(|s| s.rx_bytes))),
        ("peakUtilizationOut", json!(peak(|s| s.tx_bytes))),
    ];
    let mut point = Map::new();
    point.insert("@type".into(), json!(CE_RESULTS));
    point.insert("interface".into(), json!(interface));
    for (name, value) in values {
        if selected.is_empty() || selected.contains(&name) {
            point.insert(name.into(), value);
        }
    }
    Value::Object(point)
}

/// The counters a configuration selects (its `true` booleans), or none for all.
fn selected(configuration: &Value) -> Vec<&'static str> {
    MEASURED.into_iter().filter(|name| configuration[*name] == true).collect()
}

/// A store write of `doc` as `kind` `id` of `client`: inserted, or updated over `previous`.
fn write(kind: &str, client: &str, doc: &Value, previous: Option<&Record>, index: Vec<IndexEntry>) -> WriteOp {
    let id = doc["id"].as_str().unwrap_or_default().to_owned();
    let record =
        |version| Record { kind: kind.into(), id: id.clone(), tenant: client.into(), version, doc: doc.to_string() };
    match previous {
        Some(old) => WriteOp::Update { record: record(old.version + 1), index },
        None => WriteOp::Insert { record: record(1), index },
    }
}

impl Sof {
    fn pm_event(&self, client: &str, event_type: &str, event: Value, key: &str, at: i64) -> WriteOp {
        self.publish_on(PERFORMANCE_API, client, event_type, event, key, at)
    }

    /// An event of `api` for `client`, posted to the listener path its reference point's
    /// notification API declares.
    fn publish_on(&self, api: &str, client: &str, event_type: &str, event: Value, key: &str, at: i64) -> WriteOp {
        let listener = format!("/mefApi/{}/performanceNotification/v2/listener/", point_of(client));
        self.notice(crate::Audience { api, client, listener: &listener }, event_type, event, key, at)
    }

    /// The URI of `path` (under Performance Monitoring) at `client`'s reference point.
    fn pm_href(&self, client: &str, path: &str) -> String {
        self.href(format!("/mefApi/{}/performanceMonitoring/v2{path}", point_of(client)))
    }

    /// A tracking record of `request` about `object` (W143 §6.23).
    fn tracking(&self, client: &str, object: &str, request: &str, at: i64) -> WriteOp {
        let id = self.ids.next_id();
        let doc = json!({"id": id, "creationDate": now_text(at), "relatedObjectId": object, "request": request,
                         "system": "lso", "user": client});
        let mut index = vec![IndexEntry::new("relatedObjectId", object), IndexEntry::new("user", client)];
        index.push(IndexEntry::new("creationDate", sortable_time(at)));
        write(PM_TRACKING, client, &doc, None, index)
    }

    async fn pm_load(&self, kind: &str, client: &str, id: &str, what: &str) -> Result<(Record, Value), SofError> {
        self.load(kind, Some(client), id).await.map_err(|e| match e {
            SofError::NotFound(_) => SofError::NotFound(format!("no {what} with id `{id}`")),
            other => other,
        })
    }

    /// `createPerformanceProfile` (R7–R14): checked (`acknowledged`), then `active` in the same
    /// commit, announced by `performanceProfileCreateEvent` and the state change.
    pub async fn create_profile(&self, client: &str, mut profile: Value) -> Result<Value, SofError> {
        let mut found = Vec::new();
        check_profile(&profile, "", &mut found);
        if !found.is_empty() {
            return Err(SofError::Invalid(found));
        }
        let at = self.clock.now_millis();
        let id = self.ids.next_id();
        profile["id"] = json!(id);
        profile["href"] = json!(self.pm_href(client, &format!("/performanceProfile/{id}")));
        profile["creationDate"] = json!(now_text(at));
        profile["lastModifiedDate"] = json!(now_text(at));
        profile["state"] = json!("active");
        let subject = json!({"id": id, "href": profile["href"]});
        let activated = json!({"id": id, "href": profile["href"], "state": "active"});
        self.commit(vec![
            write(PM_PROFILE, client, &profile, None, profile_index(&profile)),
            self.pm_event(client, "performanceProfileCreateEvent", subject, &id, at),
            self.pm_event(client, "performanceProfileStateChangeEvent", activated, &id, at),
            self.tracking(client, &id, "createPerformanceProfile", at),
        ])
        .await?;
        Ok(profile)
    }

    /// `modifyPerformanceProfile` (R24–R26): an active profile's attributes.
    pub async fn modify_profile(&self, client: &str, id: &str, patch: Value) -> Result<Value, SofError> {
        let (record, mut profile) = self.pm_load(PM_PROFILE, client, id, "performanceProfile").await?;
        if profile["state"] != "active" {
            return Err(SofError::Conflict(format!(
                "performance profile {id} is {}; only an active one changes (R26)",
                profile["state"]
            )));
        }
        let allowed =
            ["buyerProfileId", "granularity", "jobPriority", "outputFormat", "reportingPeriod", "resultFormat"];
        let mut found: Vec<Violation> = patch
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !allowed.contains(&k.as_str()))
            .map(|(k, _)| {
                Violation::new(
                    ViolationCode::UnexpectedProperty,
                    format!("/{k}"),
                    "not a changeable attribute of a profile",
                )
            })
            .collect();
        for (key, value) in patch.as_object().cloned().unwrap_or_default() {
            profile[&key] = value;
        }
        check_profile(&profile, "", &mut found);
        if !found.is_empty() {
            return Err(SofError::Invalid(found));
        }
        let at = self.clock.now_millis();
        profile["lastModifiedDate"] = json!(now_text(at));
        let subject = json!({"id": id, "href": profile["href"]});
        self.commit(vec![
            write(PM_PROFILE, client, &profile, Some(&record), profile_index(&profile)),
            self.pm_event(client, "performanceProfileAttributeValueChangeEvent", subject, id, at),
            self.tracking(client, id, "modifyPerformanceProfile", at),
        ])
        .await?;
        Ok(profile)
    }

    /// `deletePerformanceProfile` (R27, R28): refused while a running job uses it.
    pub async fn delete_profile(&self, client: &str, id: &str) -> Result<(), SofError> {
        let (record, mut profile) = self.pm_load(PM_PROFILE, client, id, "performanceProfile").await?;
        let users = ListQuery {
            kind: PM_JOB.into(),
            tenant: Some(client.into()),
            filters: vec![Filter { name: "performanceProfileId".into(), condition: Condition::Eq(id.into()) }],
            offset: 0,
            limit: 1000,
        };
        for job in self.store.list(users).await?.records {
            let doc: Value =
                serde_json::from_str(&job.doc).map_err(|e| SofError::Corrupt(format!("job {}: {e}", job.id)))?;
            if !matches!(doc["state"].as_str(), Some("rejected" | "completed" | "cancelled" | "resourceUnavailable")) {
                return Err(SofError::Invalid(vec![Violation::new(
                    ViolationCode::InvalidValue,
                    "",
                    format!("performanceProfileInUse: job {} uses it (R28)", job.id),
                )]));
            }
        }
        if profile["state"] == "deleted" {
            return Err(SofError::NotFound(format!("no performanceProfile with id `{id}`")));
        }
        let at = self.clock.now_millis();
        profile["state"] = json!("deleted");
        profile["lastModifiedDate"] = json!(now_text(at));
        let subject = json!({"id": id, "href": profile["href"]});
        self.commit(vec![
            write(PM_PROFILE, client, &profile, Some(&record), profile_index(&profile)),
            self.pm_event(client, "performanceProfileDeleteEvent", subject, id, at),
            self.tracking(client, id, "deletePerformanceProfile", at),
        ])
        .await
    }

    /// The profile a job names: a reference to an active profile of `client`, or its value.
    async fn job_profile(&self, client: &str, profile: &Value, found: &mut Vec<Violation>) -> Result<Value, SofError> {
        match profile["@type"].as_str() {
            Some("PerformanceProfileRef") => {
                let id = profile["id"].as_str().unwrap_or_default();
                match self.load(PM_PROFILE, Some(client), id).await {
                    Ok((_, stored)) if stored["state"] == "active" => {
                        let mut resolved = stored.clone();
                        resolved["@type"] = json!("PerformanceProfileRef");
                        Ok(resolved)
                    }
                    Ok(_) | Err(SofError::NotFound(_)) => {
                        found.push(Violation::new(
                            ViolationCode::ReferenceNotFound,
                            "/performanceProfile/id",
                            format!("no active performance profile `{id}`"),
                        ));
                        Ok(Value::Null)
                    }
                    Err(other) => Err(other),
                }
            }
            Some("PerformanceProfileValue") => {
                check_profile(profile, "/performanceProfile", found);
                Ok(profile.clone())
            }
            _ => {
                found.push(invalid(
                    "/performanceProfile/@type",
                    "`@type` is PerformanceProfileRef or PerformanceProfileValue",
                ));
                Ok(Value::Null)
            }
        }
    }

    /// The capacity of interface `name`, in Mbit/s, if the network has it.
    async fn interface_capacity(&self, name: &str) -> Option<u64> {
        let sips = self.presto.service_interface_points().await.ok()?;
        sips.into_iter().find(|sip| sip.name == name).map(|sip| sip.capacity_mbps)
    }

    /// The checks of what a job measures: a Carrier Ethernet interface ICM knows.
    async fn check_measured(&self, attributes: &Value, path: &str, found: &mut Vec<Violation>) {
        if attributes["@type"] != CE_CONFIGURATION {
            found.push(invalid(&format!("{path}/@type"), format!("this SOF measures `{CE_CONFIGURATION}`")));
            return;
        }
        match attributes["interface"].as_str() {
            None => found.push(Violation::new(
                ViolationCode::MissingProperty,
                format!("{path}/interface"),
                "the interface to measure is required",
            )),
            Some(name) if self.interface_capacity(name).await.is_none() => found.push(Violation::new(
                ViolationCode::ReferenceNotFound,
                format!("{path}/interface"),
                format!("no interface `{name}`"),
            )),
            Some(_) => {}
        }
        for (name, limit) in attributes["thresholds"].as_object().into_iter().flatten() {
            if !MEASURED.contains(&name.as_str()) || !limit.is_number() {
                found.push(invalid(
                    &format!("{path}/thresholds/{name}"),
                    format!("a threshold is a number set on one of {}", MEASURED.join(", ")),
                ));
            }
        }
        for (key, value) in attributes.as_object().into_iter().flatten() {
            if !matches!(key.as_str(), "@type" | "interface" | "thresholds") && !value.is_boolean() {
                found.push(invalid(&format!("{path}/{key}"), "a counter is selected with true or false"));
            }
        }
    }

    /// `createPerformanceJob` (R29–R37): `inProgress` at once, or `scheduled` for a start to
    /// come; measured by a durable job from its start.
    pub async fn create_job(&self, client: &str, mut job: Value) -> Result<Value, SofError> {
        let mut found = Vec::new();
        if job["performanceProfile"].is_null() {
            found.push(Violation::new(
                ViolationCode::MissingProperty,
                "/performanceProfile",
                "`performanceProfile` is required",
            ));
        }
        check_types(
            &job,
            "",
            &["buyerJobId", "consumingApplicationId", "description", "producingApplicationId"],
            &mut found,
        );
        let profile = self.job_profile(client, &job["performanceProfile"], &mut found).await?;
        self.check_measured(&job["servicePayloadSpecificAttributes"], "/servicePayloadSpecificAttributes", &mut found)
            .await;
        let schedule = &job["scheduleDefinition"];
        let start = millis(&schedule["scheduleDefinitionStartTime"]);
        let end = millis(&schedule["scheduleDefinitionEndTime"]);
        if let (Some(start), Some(end)) = (start, end)
            && end <= start
        {
            found.push(invalid("/scheduleDefinition/scheduleDefinitionEndTime", "a job ends after it starts"));
        }
        if !found.is_empty() {
            return Err(SofError::Invalid(found));
        }
        let at = self.clock.now_millis();
        let id = self.ids.next_id();
        if job["performanceProfile"]["@type"] == "PerformanceProfileRef" {
            job["performanceProfile"]["href"] = profile["href"].clone();
        }
        job["id"] = json!(id);
        job["href"] = json!(self.pm_href(client, &format!("/performanceJob/{id}")));
        job["creationDate"] = json!(now_text(at));
        job["lastModifiedDate"] = json!(now_text(at));
        let start = start.unwrap_or(at).max(at);
        job["state"] = json!(if start > at { "scheduled" } else { "inProgress" });
        let subject = json!({"id": id, "href": job["href"], "state": event_state(&job)});
        self.commit(vec![
            write(PM_JOB, client, &job, None, job_index(&job)),
            self.pm_event(client, "performanceJobCreateEvent", subject.clone(), &id, at),
            self.pm_event(client, "performanceJobStateChangeEvent", subject, &id, at),
            self.tracking(client, &id, "createPerformanceJob", at),
            WriteOp::Enqueue { kind: MEASURE.into(), key: id.clone(), payload: String::new(), run_at: start },
        ])
        .await?;
        Ok(job)
    }

    /// The profile a stored job measures with (its reference resolved).
    async fn profile_of(&self, client: &str, job: &Value) -> Result<Value, SofError> {
        let profile = &job["performanceProfile"];
        if profile["@type"] == "PerformanceProfileRef" {
            let id = profile["id"].as_str().unwrap_or_default();
            return Ok(self.load(PM_PROFILE, Some(client), id).await?.1);
        }
        Ok(profile.clone())
    }

    /// Job step: takes the interface's counters once per granularity interval, makes a report
    /// at the end of each reporting period, and ends the job at its end time.
    pub(crate) async fn measure(&self, id: &str) -> Result<(Vec<WriteOp>, Step), SofError> {
        let Some(record) = self.store.get(PM_JOB, None, id).await? else { return Ok((Vec::new(), Step::Done)) };
        let client = record.tenant.clone();
        let mut job: Value =
            serde_json::from_str(&record.doc).map_err(|e| SofError::Corrupt(format!("job {id}: {e}")))?;
        if !matches!(job["state"].as_str(), Some("scheduled" | "inProgress")) {
            return Ok((Vec::new(), Step::Done));
        }
        let profile = self.profile_of(&client, &job).await?;
        let (granularity, period) = timing(&profile);
        let now = self.clock.now_millis();
        let start = millis(&job["scheduleDefinition"]["scheduleDefinitionStartTime"])
            .unwrap_or_else(|| millis(&job["creationDate"]).unwrap_or(now));
        let end = millis(&job["scheduleDefinition"]["scheduleDefinitionEndTime"]);
        let mut ops = Vec::new();
        let mut changed = false;
        if job["state"] == "scheduled" {
            job["state"] = json!("inProgress");
            changed = true;
            let subject = json!({"id": id, "href": job["href"], "state": event_state(&job)});
            ops.push(self.pm_event(&client, "performanceJobStateChangeEvent", subject, id, now));
        }
        let interface = job["servicePayloadSpecificAttributes"]["interface"].as_str().unwrap_or_default().to_owned();
        let tick = (now - start).max(0) / granularity;
        let sample = self.sample(&interface, now).await;
        if let Some(sample) = sample {
            ops.push(WriteOp::Insert {
                record: Record {
                    kind: PM_SAMPLE.into(),
                    id: format!("{id}:{tick:012}"),
                    tenant: client.clone(),
                    version: 1,
                    doc: serde_json::to_string(&sample).unwrap_or_default(),
                },
                index: vec![
                    IndexEntry::new("job", id),
                    IndexEntry::new("interface", interface.as_str()),
                    IndexEntry::new("at", sortable_time(now)),
                ],
            });
        }
        let ticks_per_report = (period / granularity).max(1);
        if tick > 0 && tick % ticks_per_report == 0 {
            let from = start + (tick - ticks_per_report) * granularity;
            let timeframe = (from, start + tick * granularity);
            let (written, made) = self.job_report(&client, &job, &profile, timeframe, sample, now).await?;
            ops.extend(written);
            if let Some(made) = made {
                for item in &made.1 {
                    let event = json!({"id": id, "reportId": made.0, "measurementTime": item["measurementTime"],
                                       "measurementDataPoint": item["measurementDataPoints"][0]});
                    let message = json!({"eventId": self.ids.next_id(), "eventType": "performanceMeasurementEvent",
                                         "eventTime": now_text(now), "event": event});
                    self.broadcast(&client, crate::streams::MEASUREMENTS, message);
                }
                if job["servicePayloadSpecificAttributes"]["thresholds"].is_object()
                    && job["thresholdCrossed"].is_null()
                {
                    job["thresholdCrossed"] = json!({});
                }
                let alerts = self.crossings(&client, &mut job, &made, now);
                changed |= !alerts.is_empty();
                ops.extend(alerts);
            }
        }
        let finished = end.is_some_and(|end| now >= end)
            || (profile["jobType"] == "on-demand" && end.is_none() && tick >= ticks_per_report);
        if finished {
            job["state"] = json!("completed");
            changed = true;
            let subject = json!({"id": id, "href": job["href"], "state": event_state(&job)});
            ops.push(self.pm_event(&client, "performanceJobStateChangeEvent", subject, id, now));
        }
        if changed {
            job["lastModifiedDate"] = json!(now_text(now));
            ops.insert(0, write(PM_JOB, &client, &job, Some(&record), job_index(&job)));
        }
        let next = start + (tick + 1) * granularity;
        Ok((ops, if finished { Step::Done } else { Step::Again { at: end.map_or(next, |e| next.min(e)) } }))
    }

    /// The counters of interface `name` now, if its element answers.
    async fn sample(&self, name: &str, at: i64) -> Option<Sample> {
        let c = self.presto.interface_counters(name).await.ok()??;
        Some(Sample {
            at,
            rx_packets: c.rx_packets,
            rx_bytes: c.rx_bytes,
            rx_dropped: c.rx_dropped,
            tx_packets: c.tx_packets,
            tx_bytes: c.tx_bytes,
        })
    }

    /// The samples of `interface` taken in `[from, to]`, oldest first.
    async fn samples(&self, client: &str, interface: &str, (from, to): (i64, i64)) -> Result<Vec<Sample>, SofError> {
        let query = ListQuery {
            kind: PM_SAMPLE.into(),
            tenant: Some(client.into()),
            filters: vec![
                Filter { name: "interface".into(), condition: Condition::Eq(interface.into()) },
                Filter { name: "at".into(), condition: Condition::After(from - 1) },
                Filter { name: "at".into(), condition: Condition::Before(to + 1) },
            ],
            offset: 0,
            limit: 100_000,
        };
        let mut samples: Vec<Sample> =
            self.store.list(query).await?.records.iter().filter_map(|r| serde_json::from_str(&r.doc).ok()).collect();
        samples.sort_by_key(|s| s.at);
        samples.dedup_by_key(|s| s.at);
        Ok(samples)
    }

    /// The measurements of `interface` over `timeframe`, one item per granularity interval with
    /// samples at both ends; an error says why there are none.
    async fn report_content(
        &self,
        client: &str,
        attributes: &Value,
        granularity: i64,
        timeframe: (i64, i64),
        latest: Option<Sample>,
    ) -> Result<Result<Vec<Value>, String>, SofError> {
        let interface = attributes["interface"].as_str().unwrap_or_default();
        let capacity = self.interface_capacity(interface).await.unwrap_or(0);
        let mut samples = self.samples(client, interface, timeframe).await?;
        samples.extend(latest);
        let chosen = selected(attributes);
        let mut content = Vec::new();
        let mut from = 0;
        while from + 1 < samples.len() {
            let limit = samples[from].at + granularity;
            let mut to = from + 1;
            while to + 1 < samples.len() && samples[to + 1].at <= limit {
                to += 1;
            }
            let window = &samples[from..=to];
            content.push(json!({
                "measurementTime": {"measurementStartDate": now_text(window[0].at), "measurementEndDate": now_text(window[window.len() - 1].at)},
                "measurementDataPoints": [data_point(interface, capacity, window, &chosen)],
            }));
            // The file's `ReportContentItem` requires `measurementDataPoint` though it defines
            // `measurementDataPoints` (W143's examples use the plural): both are sent.
            let item = content.len() - 1;
            content[item]["measurementDataPoint"] = content[item]["measurementDataPoints"].clone();
            from = to;
        }
        if content.is_empty() {
            return Ok(Err(format!(
                "no measurements of interface `{interface}` in the timeframe: a performance job measures it first"
            )));
        }
        Ok(Ok(content))
    }

    /// The report a job makes of `timeframe`, and its announcements (R117, R120); `latest` is
    /// the sample this step took, not stored yet.
    async fn job_report(
        &self,
        client: &str,
        job: &Value,
        profile: &Value,
        timeframe: (i64, i64),
        latest: Option<Sample>,
        at: i64,
    ) -> Result<(Vec<WriteOp>, Option<(String, Vec<Value>)>), SofError> {
        let job_id = job["id"].as_str().unwrap_or_default();
        let (granularity, _) = timing(profile);
        // The sample of the period's last tick is taken at or a little after the tick.
        let frame = (timeframe.0, timeframe.1.max(latest.map_or(0, |s| s.at)));
        let content =
            self.report_content(client, &job["servicePayloadSpecificAttributes"], granularity, frame, latest).await?;
        let id = self.ids.next_id();
        let mut report = json!({
            "id": id, "href": self.pm_href(client, &format!("/performanceReport/{id}")), "creationDate": now_text(at), "lastModifiedDate": now_text(at),
            "reportingTimeframe": {"reportingStartDate": now_text(timeframe.0), "reportingEndDate": now_text(timeframe.1)},
            "performanceJob": {"@type": "PerformanceJobRef", "id": job_id, "href": job["href"]},
        });
        let mut ops = Vec::new();
        let mut made = None;
        let job_subject = |extra: Value| {
            let mut subject = json!({"id": job_id, "href": job["href"]});
            subject.as_object_mut().into_iter().for_each(|s| s.extend(extra.as_object().cloned().unwrap_or_default()));
            subject
        };
        match content {
            Ok(content) => {
                report["state"] = json!("completed");
                report["reportContent"] = json!(content);
                made = Some((id.clone(), content));
                ops.push(self.pm_event(
                    client,
                    "performanceJobReportReadyEvent",
                    job_subject(json!({"reportId": id, "reportHref": report["href"]})),
                    job_id,
                    at,
                ));
            }
            Err(reason) => {
                report["state"] = json!("failed");
                report["failureReason"] = json!(reason);
                ops.push(self.pm_event(
                    client,
                    "performanceJobReportPreparationErrorEvent",
                    job_subject(json!({"reportPreparationFailedReason": reason})),
                    job_id,
                    at,
                ));
            }
        }
        ops.insert(0, write(PM_REPORT, client, &report, None, report_index(&report)));
        ops.push(self.pm_event(
            client,
            "performanceReportCreateEvent",
            json!({"id": id, "href": report["href"]}),
            &id,
            at,
        ));
        Ok((ops, made))
    }

    /// The threshold crossing alerts of a report of `job`: each threshold its configuration
    /// sets that the report's last measurement reaches (`raised`) or falls back below
    /// (`cleared`), as against the job's last report; the job keeps where each stands.
    fn crossings(
        &self,
        client: &str,
        job: &mut Value,
        (report, content): &(String, Vec<Value>),
        at: i64,
    ) -> Vec<WriteOp> {
        let thresholds = job["servicePayloadSpecificAttributes"]["thresholds"].as_object().cloned().unwrap_or_default();
        let Some(last) = content.last() else { return Vec::new() };
        let point = &last["measurementDataPoints"][0];
        let mut ops = Vec::new();
        for (name, limit) in thresholds {
            let (Some(value), Some(limit)) = (point[&name].as_f64(), limit.as_f64()) else { continue };
            let above = value >= limit;
            if job["thresholdCrossed"][&name].as_bool().unwrap_or(false) == above {
                continue;
            }
            job["thresholdCrossed"][&name] = json!(above);
            let id = text_of(&job["id"]);
            let event = json!({"id": id, "href": job["href"], "reportId": report, "attribute": name, "threshold": limit,
                "value": value, "crossing": if above { "raised" } else { "cleared" },
                "measurementEndDate": last["measurementTime"]["measurementEndDate"]});
            let event_id = self.ids.next_id();
            let message =
                json!({"eventId": event_id, "eventType": THRESHOLD_EVENT, "eventTime": now_text(at), "event": event});
            self.broadcast(client, crate::streams::ALERTS, message);
            ops.push(self.publish_on(ALERTS_API, client, THRESHOLD_EVENT, event, &id, at));
        }
        ops
    }

    /// `createPerformanceReport` (R93–R97): the measurements an earlier job took of the
    /// interface over the timeframe asked for; `failed` with the reason when there are none.
    pub async fn create_report(&self, client: &str, mut report: Value) -> Result<Value, SofError> {
        let job = report["performanceJob"].clone();
        if !job.is_object() {
            return Err(SofError::Invalid(vec![Violation::new(
                ViolationCode::MissingProperty,
                "/performanceJob",
                "`performanceJob` is required, a PerformanceJobValue (R93)",
            )]));
        }
        let mut found = Vec::new();
        if job["@type"] != "PerformanceJobValue" {
            found.push(invalid(
                "/performanceJob/@type",
                "a report is asked for with a PerformanceJobValue (W143 §6.22.5)",
            ));
        }
        for name in ["outputFormat", "resultFormat", "servicePayloadSpecificAttributes"] {
            if job[name].is_null() {
                found.push(Violation::new(
                    ViolationCode::MissingProperty,
                    format!("/performanceJob/{name}"),
                    format!("`{name}` is required (R93)"),
                ));
            }
        }
        let mut profile = job.clone();
        profile["jobType"] = json!("on-demand");
        check_profile(&profile, "/performanceJob", &mut found);
        self.check_measured(
            &job["servicePayloadSpecificAttributes"],
            "/performanceJob/servicePayloadSpecificAttributes",
            &mut found,
        )
        .await;
        let frame = &report["reportingTimeframe"];
        let at = self.clock.now_millis();
        let from = millis(&frame["reportingStartDate"]).unwrap_or(0);
        let to = millis(&frame["reportingEndDate"]).unwrap_or(at);
        if from >= to {
            found.push(invalid("/reportingTimeframe", "a timeframe starts before it ends"));
        }
        if !found.is_empty() {
            return Err(SofError::Invalid(found));
        }
        let (granularity, _) = timing(&profile);
        let content = self
            .report_content(client, &job["servicePayloadSpecificAttributes"], granularity, (from, to), None)
            .await?;
        let id = self.ids.next_id();
        report["id"] = json!(id);
        report["href"] = json!(self.pm_href(client, &format!("/performanceReport/{id}")));
        report["creationDate"] = json!(now_text(at));
        report["lastModifiedDate"] = json!(now_text(at));
        match content {
            Ok(content) => {
                report["state"] = json!("completed");
                report["reportContent"] = json!(content);
            }
            Err(reason) => {
                report["state"] = json!("failed");
                report["failureReason"] = json!(reason);
            }
        }
        let subject = json!({"id": id, "href": report["href"]});
        self.commit(vec![
            write(PM_REPORT, client, &report, None, report_index(&report)),
            self.pm_event(client, "performanceReportCreateEvent", subject.clone(), &id, at),
            self.pm_event(client, "performanceReportStateChangeEvent", subject, &id, at),
            self.tracking(client, &id, "createPerformanceReport", at),
        ])
        .await?;
        Ok(report)
    }

    /// Cancel, modify, suspend or resume a job (R38–R92): the request is `completed` when the
    /// job could be moved, `declined` with the reason when not (R69, R70, R83, R84).
    pub async fn job_process(&self, client: &str, process: JobProcess, mut request: Value) -> Result<Value, SofError> {
        let job_id = request["performanceJob"]["id"].as_str().unwrap_or_default().to_owned();
        let Ok((record, mut job)) = self.load(PM_JOB, Some(client), &job_id).await else {
            return Err(SofError::Invalid(vec![Violation::new(
                ViolationCode::ReferenceNotFound,
                "/performanceJob/id",
                format!("no performance job `{job_id}`"),
            )]));
        };
        let at = self.clock.now_millis();
        let state = job["state"].as_str().unwrap_or_default().to_owned();
        let next = match (process, state.as_str()) {
            (JobProcess::Cancel, "acknowledged" | "scheduled" | "inProgress" | "suspended" | "pending") => {
                Ok("cancelled")
            }
            (JobProcess::Suspend, "inProgress") => Ok("suspended"),
            (JobProcess::Resume, "suspended") => Ok("inProgress"),
            (JobProcess::Modify, "scheduled" | "inProgress" | "suspended") => Ok(state.as_str()),
            (_, other) => Err(format!("the job is {other}")),
        };
        let mut ops = Vec::new();
        if let (JobProcess::Modify, Ok(_)) = (process, &next) {
            let mut found = Vec::new();
            if let Some(profile) = request.get("performanceProfile") {
                let mut merged = self.profile_of(client, &job).await?;
                for (key, value) in profile.as_object().cloned().unwrap_or_default() {
                    merged[&key] = value;
                }
                merged["@type"] = json!("PerformanceProfileValue");
                for key in ["id", "href", "state", "creationDate", "lastModifiedDate"] {
                    if let Some(object) = merged.as_object_mut() {
                        object.remove(key);
                    }
                }
                check_profile(&merged, "/performanceProfile", &mut found);
                job["performanceProfile"] = merged;
            }
            if let Some(attributes) = request.get("servicePayloadSpecificAttributes") {
                self.check_measured(attributes, "/servicePayloadSpecificAttributes", &mut found).await;
                job["servicePayloadSpecificAttributes"] = attributes.clone();
            }
            for key in [
                "buyerJobId",
                "consumingApplicationId",
                "producingApplicationId",
                "fileTransferData",
                "scheduleDefinition",
            ] {
                if let Some(value) = request.get(key) {
                    job[key] = value.clone();
                }
            }
            if !found.is_empty() {
                return Err(SofError::Invalid(found));
            }
        }
        let id = self.ids.next_id();
        request["id"] = json!(id);
        request["href"] = json!(self.pm_href(client, &format!("/{}/{id}", process.path())));
        request["creationDate"] = json!(now_text(at));
        request["performanceJob"]["href"] = job["href"].clone();
        match next {
            Ok(to) => {
                request["state"] = json!("completed");
                let moved = job["state"] != to;
                job["state"] = json!(to);
                job["lastModifiedDate"] = json!(now_text(at));
                ops.push(write(PM_JOB, client, &job, Some(&record), job_index(&job)));
                let subject = json!({"id": job_id, "href": job["href"], "state": event_state(&job)});
                let event =
                    if moved { "performanceJobStateChangeEvent" } else { "performanceJobAttributeValueChangeEvent" };
                ops.push(self.pm_event(client, event, subject, &job_id, at));
                if process == JobProcess::Resume {
                    ops.push(WriteOp::Enqueue {
                        kind: MEASURE.into(),
                        key: job_id.clone(),
                        payload: String::new(),
                        run_at: at,
                    });
                }
            }
            Err(reason) => {
                request["state"] = json!("declined");
                let field = match process {
                    JobProcess::Cancel => "cancellationDeniedReason",
                    JobProcess::Modify => "modificationDeniedReason",
                    JobProcess::Suspend => "suspensionDeniedReason",
                    JobProcess::Resume => "resumptionDeniedReason",
                };
                request[field] = json!(reason);
            }
        }
        let event_type = format!("{}StateChangeEvent", process.path());
        ops.insert(0, write(process.kind(), client, &request, None, process_index(&request)));
        ops.push(self.pm_event(client, &event_type, json!({"id": id, "href": request["href"]}), &id, at));
        ops.push(self.tracking(client, &job_id, process.path(), at));
        self.commit(ops).await?;
        Ok(request)
    }
}

/// A job's state as its events spell it (the notification file writes states in kebab case).
fn event_state(job: &Value) -> &'static str {
    match job["state"].as_str() {
        Some("inProgress") => "in-progress",
        Some("resourceUnavailable") => "resource-unavailable",
        Some("scheduled") => "scheduled",
        Some("suspended") => "suspended",
        Some("cancelled") => "cancelled",
        Some("completed") => "completed",
        Some("rejected") => "rejected",
        Some("pending") => "pending",
        _ => "acknowledged",
    }
}

fn text_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}
