//! Legato Performance Monitoring on the demo network with simulated elements: a profile, a job
//! measuring a UNI's counters every second, the reports it makes and one asked for, the
//! requests that suspend, resume, modify and cancel the job, complex queries and tracking
//! records; every answer and every event meets the official files.

use crate::support::*;
use lso_adagio::PortCounters;
use lso_sof::pm::CE_CONFIGURATION;
use serde_json::{Value, json};

const PM: &str = "/mefApi/legato/performanceMonitoring/v2";
const UNI: &str = "uni-new-york-1";

#[tokio::test]
async fn a_job_measures_a_unis_counters_every_interval_and_reports_them_as_the_files_define() {
    let app = spawn_app().await;
    let contract = Contract::load("Legato/serviceApi/pm/performanceMonitoring.api.yaml");
    let events = Contract::load("Legato/serviceApi/pm/performanceNotification.api.yaml");
    let call = async |method: &str, path: &str, body: Option<Value>| {
        app.call_as(&app.admin, method, &format!("{PM}{path}"), body.as_ref()).await
    };
    let receiver = Receiver::default();
    let listener = receiver.start().await;
    assert_eq!(call("POST", "/hub", Some(json!({"callback": format!("http://{listener}")}))).await.status, 201);

    let profile = json!({"jobType": "proactive", "outputFormat": "json", "resultFormat": "payload",
                         "granularity": "1 second", "reportingPeriod": "1 second", "buyerProfileId": "p-1"});
    let created = call("POST", "/performanceProfile", Some(profile.clone())).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    Contract::assert_valid(&contract.response("/performanceProfile", "post", 201), &created.body, "a profile");
    assert_eq!(
        (created.body["state"].clone(), created.body["buyerProfileId"].clone()),
        (json!("active"), json!("p-1"))
    );
    let profile_id = created.body["id"].as_str().unwrap().to_owned();
    let mut xml = profile.clone();
    xml["outputFormat"] = json!("xml");
    let refused = call("POST", "/performanceProfile", Some(xml)).await;
    assert_eq!((refused.status, refused.body[0]["propertyPath"].clone()), (422, json!("/outputFormat")));
    for name in ["granularity", "jobPriority"] {
        let mut listed = profile.clone();
        listed[name] = json!([]);
        let refused = call("POST", "/performanceProfile", Some(listed)).await;
        assert_eq!((refused.status, refused.body[0]["propertyPath"].clone()), (422, json!(format!("/{name}"))));
    }

    let measured = json!({"@type": CE_CONFIGURATION, "interface": UNI, "rxEthIINum": true, "utilizationIn": true});
    let job = json!({"performanceProfile": {"@type": "PerformanceProfileRef", "id": profile_id},
                     "servicePayloadSpecificAttributes": measured, "buyerJobId": "j-1", "consumingApplicationId": "CUS"});
    let unknown = json!({"performanceProfile": {"@type": "PerformanceProfileRef", "id": profile_id},
                         "servicePayloadSpecificAttributes": {"@type": CE_CONFIGURATION, "interface": "nowhere"}});
    let refused = call("POST", "/performanceJob", Some(unknown)).await;
    assert_eq!(refused.body[0]["propertyPath"], "/servicePayloadSpecificAttributes/interface");
    let mut numbered = job.clone();
    numbered["buyerJobId"] = json!(7);
    let refused = call("POST", "/performanceJob", Some(numbered)).await;
    assert_eq!((refused.status, refused.body[0]["propertyPath"].clone()), (422, json!("/buyerJobId")));
    let started = call("POST", "/performanceJob", Some(job)).await;
    assert_eq!(started.status, 201, "{:#}", started.body);
    Contract::assert_valid(&contract.response("/performanceJob", "post", 201), &started.body, "a job");
    assert_eq!(started.body["state"], "inProgress");
    let job_id = started.body["id"].as_str().unwrap().to_owned();

    // After the first report, 1,000 frames of 1,000 bytes arrive at the UNI.
    let reports_path = format!("{PM}/performanceReport?performanceJobId={job_id}");
    let reports = async |count: usize| {
        app.wait_until_as(&app.admin, &reports_path, |r| r.as_array().is_some_and(|r| r.len() >= count)).await
    };
    reports(1).await;
    let port = app.seller.icm.read(|n| n.topology().interface(UNI).unwrap().port.clone()).await;
    let traffic = PortCounters { rx_packets: 1000, rx_bytes: 1_000_000, ..Default::default() };
    app.seller.ecm.simulated(&port.element).unwrap().count(&port.port, traffic);
    let listed = reports(3).await;
    Contract::assert_valid(&contract.response("/performanceReport", "get", 200), &listed, "reports");
    let mut received = 0;
    for report in listed.as_array().unwrap() {
        let read = call("GET", &format!("/performanceReport/{}", report["id"].as_str().unwrap()), None).await;
        Contract::assert_valid(&contract.response("/performanceReport/{id}", "get", 200), &read.body, "a report");
        assert_eq!(read.body["state"], "completed", "{:#}", read.body);
        let point = &read.body["reportContent"][0]["measurementDataPoints"][0];
        assert_eq!(
            (point["interface"].clone(), point.get("txVlanOutNum")),
            (json!(UNI), None),
            "what the job selected"
        );
        received += point["rxEthIINum"].as_u64().unwrap();
    }
    assert_eq!(received, 1000, "every frame counted once");

    // A report asked for over the time the job measured.
    let asked = json!({"reportingTimeframe": {"reportingStartDate": started.body["creationDate"], "reportingEndDate": days_from_now(1)},
        "performanceJob": {"@type": "PerformanceJobValue", "outputFormat": "json", "resultFormat": "payload", "granularity": "1 second",
                           "servicePayloadSpecificAttributes": {"@type": CE_CONFIGURATION, "interface": UNI}}});
    let report = call("POST", "/performanceReport", Some(asked.clone())).await;
    assert_eq!(report.status, 201, "{:#}", report.body);
    Contract::assert_valid(&contract.response("/performanceReport", "post", 201), &report.body, "an asked report");
    let content = report.body["reportContent"].as_array().unwrap();
    let total: u64 = content.iter().map(|c| c["measurementDataPoints"][0]["rxEthIINum"].as_u64().unwrap()).sum();
    assert_eq!(total, 1000);
    assert!(content.iter().any(|c| c["measurementDataPoints"][0]["utilizationIn"].as_f64().unwrap() > 0.0));
    let mut elsewhere = asked.clone();
    elsewhere["performanceJob"]["servicePayloadSpecificAttributes"]["interface"] = json!("uni-boston-1");
    let unmeasured = call("POST", "/performanceReport", Some(elsewhere)).await;
    assert_eq!((unmeasured.status, unmeasured.body["state"].clone()), (201, json!("failed")));
    assert!(unmeasured.body["failureReason"].as_str().unwrap().contains("uni-boston-1"));

    // Suspend, resume, modify and cancel, each a request that is completed or declined.
    let process = async |kind: &str, extra: Value| {
        let mut body = json!({"performanceJob": {"@type": "PerformanceJobRef", "id": job_id}});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let answer = call("POST", &format!("/{kind}"), Some(body)).await;
        assert_eq!(answer.status, 201, "{kind}: {:#}", answer.body);
        Contract::assert_valid(&contract.response(&format!("/{kind}"), "post", 201), &answer.body, kind);
        let read = call("GET", &format!("/{kind}/{}", answer.body["id"].as_str().unwrap()), None).await;
        Contract::assert_valid(&contract.response(&format!("/{kind}/{{id}}"), "get", 200), &read.body, kind);
        answer.body
    };
    let job_state = async || call("GET", &format!("/performanceJob/{job_id}"), None).await.body["state"].clone();
    assert_eq!(
        process("suspendPerformanceJob", json!({"suspensionReason": "maintenance"})).await["state"],
        "completed"
    );
    assert_eq!(job_state().await, "suspended");
    let again = process("suspendPerformanceJob", json!({})).await;
    assert_eq!(again["state"], "declined", "R69");
    assert!(again["suspensionDeniedReason"].as_str().unwrap().contains("suspended"));
    assert_eq!(process("resumePerformanceJob", json!({})).await["state"], "completed");
    assert_eq!(job_state().await, "inProgress");
    let modified = process(
        "modifyPerformanceJob",
        json!({"performanceProfile": {"granularity": "10 second", "reportingPeriod": "1 minute"}}),
    )
    .await;
    assert_eq!(modified["state"], "completed");
    let job_now = call("GET", &format!("/performanceJob/{job_id}"), None).await.body;
    assert_eq!(job_now["performanceProfile"]["granularity"], "10 second");
    let in_use = call("DELETE", &format!("/performanceProfile/{profile_id}"), None).await;
    assert_eq!(in_use.status, 204, "the job no longer uses the profile by reference");
    assert_eq!(process("cancelPerformanceJob", json!({"cancellationReason": "done"})).await["state"], "completed");
    assert_eq!(job_state().await, "cancelled");
    assert_eq!(process("cancelPerformanceJob", json!({})).await["state"], "declined");
    let cancels = call("GET", &format!("/cancelPerformanceJob?performanceJobId={job_id}"), None).await;
    Contract::assert_valid(&contract.response("/cancelPerformanceJob", "get", 200), &cancels.body, "cancels");
    assert_eq!(cancels.body.as_array().unwrap().len(), 2);

    // Profiles in use are kept; queries and tracking records.
    let second = call("POST", "/performanceProfile", Some(profile)).await.body;
    let second_id = second["id"].as_str().unwrap();
    let using = json!({"performanceProfile": {"@type": "PerformanceProfileRef", "id": second_id},
                       "servicePayloadSpecificAttributes": {"@type": CE_CONFIGURATION, "interface": UNI},
                       "scheduleDefinition": {"scheduleDefinitionStartTime": days_from_now(1)}});
    let scheduled = call("POST", "/performanceJob", Some(using)).await.body;
    assert_eq!(scheduled["state"], "scheduled");
    let in_use = call("DELETE", &format!("/performanceProfile/{second_id}"), None).await;
    assert_eq!(in_use.status, 422, "R28");
    assert!(in_use.body[0]["reason"].as_str().unwrap().contains("performanceProfileInUse"));
    let patched = call("PATCH", &format!("/performanceProfile/{second_id}"), Some(json!({"jobPriority": 2}))).await;
    Contract::assert_valid(&contract.response("/performanceProfile/{id}", "patch", 200), &patched.body, "patched");
    let profiles = call("GET", "/performanceProfile?state=active", None).await;
    Contract::assert_valid(&contract.response("/performanceProfile", "get", 200), &profiles.body, "profiles");
    assert_eq!(profiles.body.as_array().unwrap().len(), 1);
    let jobs =
        call("POST", "/performanceJobComplexQuery", Some(json!({"state": "cancelled", "buyerJobId": "j-1"}))).await;
    Contract::assert_valid(&contract.response("/performanceJobComplexQuery", "post", 200), &jobs.body, "job query");
    assert_eq!(jobs.body.as_array().unwrap().len(), 1);
    assert_eq!(jobs.body[0]["performanceJob"]["id"], json!(job_id));
    let query = json!({"performanceJob": {"@type": "PerformanceJobRef", "id": job_id}, "state": "completed"});
    let found = call("POST", "/performanceReportComplexQuery", Some(query)).await;
    Contract::assert_valid(
        &contract.response("/performanceReportComplexQuery", "post", 200),
        &found.body,
        "report query",
    );
    assert!(found.body.as_array().unwrap().len() >= 3);
    let unsupported = call("POST", "/performanceJobComplexQuery", Some(json!({"colour": "red"}))).await;
    assert_eq!((unsupported.status, unsupported.body[0]["propertyPath"].clone()), (422, json!("/colour")));
    let tracked = call("GET", &format!("/trackingRecord?relatedObjectId={job_id}"), None).await;
    Contract::assert_valid(&contract.response("/trackingRecord", "get", 200), &tracked.body, "tracking");
    assert!(tracked.body.as_array().unwrap().len() >= 6, "create, suspend twice, resume, modify, cancel twice");
    let record = call("GET", &format!("/trackingRecord/{}", tracked.body[0]["id"].as_str().unwrap()), None).await;
    Contract::assert_valid(&contract.response("/trackingRecord/{id}", "get", 200), &record.body, "a record");

    let stranger = app.call("GET", &format!("{PM}/performanceJob/{job_id}"), None).await;
    assert_eq!(stranger.status, 403, "a Buyer's token does not reach Legato");

    app.wait_for_deliveries_to(&receiver).await;
    let mut kinds: Vec<String> = receiver.checked("", |_| &events).into_iter().map(|(kind, _)| kind).collect();
    kinds.sort();
    kinds.dedup();
    for kind in [
        "performanceJobReportReadyEvent",
        "performanceProfileDeleteEvent",
        "suspendPerformanceJobStateChangeEvent",
        "performanceReportCreateEvent",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn a_threshold_a_job_sets_raises_an_alert_when_reached_and_clears_it_below_to_the_hubs_that_asked() {
    let app = spawn_app().await;
    let call = async |method: &str, path: &str, body: Option<Value>| {
        app.call_as(&app.admin, method, &format!("{PM}{path}"), body.as_ref()).await
    };
    let (everything, alerts) = (Receiver::default(), Receiver::default());
    let (all_at, alerts_at) = (everything.start().await, alerts.start().await);
    call("POST", "/hub", Some(json!({"callback": format!("http://{all_at}")}))).await;
    let asked =
        json!({"callback": format!("http://{alerts_at}"), "query": "eventType=performanceThresholdCrossingEvent"});
    assert_eq!(call("POST", "/hub", Some(asked)).await.status, 201);
    let measured = json!({"@type": CE_CONFIGURATION, "interface": "uni-boston-1", "thresholds": {"rxEthIINum": 500}});
    let bad = json!({"@type": CE_CONFIGURATION, "interface": "uni-boston-1", "thresholds": {"colour": 1}});
    let profile = json!({"@type": "PerformanceProfileValue", "jobType": "proactive", "outputFormat": "json",
                         "resultFormat": "payload", "granularity": "1 second"});
    let refused = call(
        "POST",
        "/performanceJob",
        Some(json!({"performanceProfile": profile, "servicePayloadSpecificAttributes": bad})),
    )
    .await;
    assert_eq!(refused.body[0]["propertyPath"], "/servicePayloadSpecificAttributes/thresholds/colour");
    let job = call(
        "POST",
        "/performanceJob",
        Some(json!({"performanceProfile": profile, "servicePayloadSpecificAttributes": measured})),
    )
    .await;
    assert_eq!(job.status, 201, "{:#}", job.body);
    let job_id = job.body["id"].as_str().unwrap().to_owned();
    let reports = format!("{PM}/performanceReport?performanceJobId={job_id}");
    app.wait_until_as(&app.admin, &reports, |r| r.as_array().is_some_and(|r| !r.is_empty())).await;
    let port = app.seller.icm.read(|n| n.topology().interface("uni-boston-1").unwrap().port.clone()).await;
    let traffic = PortCounters { rx_packets: 1000, rx_bytes: 64_000, ..Default::default() };
    app.seller.ecm.simulated(&port.element).unwrap().count(&port.port, traffic);
    let crossings = async || {
        alerts
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|(_, e)| e["event"]["crossing"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    // The interval after the traffic is below the threshold again.
    let path = format!("{PM}/performanceJob/{job_id}");
    app.wait_until_as(&app.admin, &path, |j| {
        j["thresholdCrossed"]["rxEthIINum"] == false && !j["thresholdCrossed"].as_object().unwrap().is_empty()
    })
    .await;
    app.wait_for_deliveries_to(&alerts).await;
    assert_eq!(crossings().await, ["raised", "cleared"]);
    let raised = alerts.events.lock().unwrap()[0].1.clone();
    assert_eq!(
        (raised["event"]["attribute"].clone(), raised["event"]["value"].clone()),
        (json!("rxEthIINum"), json!(1000.0))
    );
    assert!(alerts.events.lock().unwrap()[0].0.ends_with("/listener/performanceThresholdCrossingEvent"));
    let to_everyone = everything
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, e)| e["eventType"] == "performanceThresholdCrossingEvent")
        .count();
    assert_eq!(to_everyone, 0, "a hub that did not ask for alerts gets none: not a W143 event");
}

#[tokio::test]
async fn a_subscription_streams_the_measurements_of_the_callers_jobs_until_it_is_unsubscribed() {
    let app = spawn_app().await;
    let streaming = Contract::load("Legato/serviceApi/pm/streamingManagement.api.all-in-one.yaml");
    const SM: &str = "/mefApi/legato/streamingManagement/v1";
    let call = async |method: &str, path: &str, body: Option<Value>| {
        app.call_as(&app.admin, method, &format!("{SM}{path}"), body.as_ref()).await
    };
    let topics = call("GET", "/topic?protocol=sse", None).await;
    Contract::assert_valid(&streaming.response("/topic", "get", 200), &topics.body, "topics");
    assert_eq!(topics.body.as_array().unwrap().len(), 2);
    let topic = call("GET", "/topic/carrier-ethernet-performance", None).await;
    Contract::assert_valid(&streaming.response("/topic/{id}", "get", 200), &topic.body, "a topic");
    let refused =
        call("POST", "/subscription", Some(json!({"topicId": "carrier-ethernet-performance", "protocol": "kafka"})))
            .await;
    assert_eq!((refused.status, refused.body[0]["propertyPath"].clone()), (422, json!("/protocol")));
    let subscribed =
        call("POST", "/subscription", Some(json!({"topicId": "carrier-ethernet-performance", "protocol": "sse"})))
            .await;
    assert_eq!(subscribed.status, 201, "{:#}", subscribed.body);
    Contract::assert_valid(&streaming.response("/subscription", "post", 201), &subscribed.body, "a subscription");
    let listed = call("GET", "/subscription?topicId=carrier-ethernet-performance", None).await;
    Contract::assert_valid(&streaming.response("/subscription", "get", 200), &listed.body, "subscriptions");
    let id = subscribed.body["id"].as_str().unwrap().to_owned();
    let config = &subscribed.body["connectionConfig"];
    let url =
        format!("{}{}", config["servers"]["lso"]["url"].as_str().unwrap(), config["channel"]["name"].as_str().unwrap());
    let mut stream = app.client.get(&url).bearer_auth(&app.admin).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(app.call("GET", &format!("{SM}/stream/{id}"), None).await.status, 403, "a Buyer does not reach Legato");

    // A job on a UNI: its measurements arrive on the stream as its reports are made.
    let measured = json!({"@type": CE_CONFIGURATION, "interface": "uni-boston-2"});
    let profile = json!({"@type": "PerformanceProfileValue", "jobType": "proactive", "outputFormat": "json",
                         "resultFormat": "payload", "granularity": "1 second"});
    let job = app
        .call_as(
            &app.admin,
            "POST",
            &format!("{PM}/performanceJob"),
            Some(&json!({"performanceProfile": profile, "servicePayloadSpecificAttributes": measured})),
        )
        .await;
    assert_eq!(job.status, 201);
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk())
            .await
            .expect("a message within 10 s");
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("the stream goes on")));
    }
    assert!(text.starts_with("event: performanceMeasurementEvent\n"), "{text}");
    let data: Value = serde_json::from_str(text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!(data["event"]["id"], job.body["id"]);
    assert_eq!(data["event"]["measurementDataPoint"]["interface"], "uni-boston-2");
    assert!(data["eventId"].is_string() && data["eventTime"].is_string(), "W147 R16: {data:#}");

    // Unsubscribed, the stream ends (R11).
    assert_eq!(call("DELETE", &format!("/subscription/{id}"), None).await.status, 204);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if stream.chunk().await.unwrap().is_none() {
                return;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ended");
    assert_eq!(call("GET", &format!("/subscription/{id}"), None).await.status, 404);
}

/// Who measures: the API's base, the token of the client whose jobs they are, and the query
/// an operator's token adds to act for that client where profiles are made (W143 R7).
struct Measurer<'a> {
    point: &'a str,
    token: &'a str,
    for_client: &'a str,
}

/// Every request of Performance Monitoring once, at `by`'s reference point, on `interface`;
/// each event received is valid against `events`; the types received.
async fn every_performance_event(
    app: &App,
    by: Measurer<'_>,
    interface: &str,
    events: &Contract,
) -> std::collections::BTreeSet<String> {
    let pm = format!("/mefApi/{}/performanceMonitoring/v2", by.point);
    let call = async |method: &str, path: &str, body: Option<Value>| {
        let answer = app.call_as(by.token, method, &format!("{pm}{path}"), body.as_ref()).await;
        assert!(answer.status < 300, "{method} {path}: {:#}", answer.body);
        answer.body
    };
    let operate = async |method: &str, path: &str, body: Option<Value>| {
        let path = format!("{pm}{path}{}", by.for_client);
        let answer = app.call_as(&app.admin, method, &path, body.as_ref()).await;
        assert!(answer.status < 300, "{method} {path}: {:#}", answer.body);
        answer.body
    };
    let receiver = Receiver::default();
    let listener = receiver.start().await;
    call("POST", "/hub", Some(json!({"callback": format!("http://{listener}")}))).await;

    let profile = json!({"jobType": "proactive", "outputFormat": "json", "resultFormat": "payload",
                         "granularity": "1 second", "reportingPeriod": "1 second"});
    let profile_id = operate("POST", "/performanceProfile", Some(profile)).await["id"].as_str().unwrap().to_owned();
    operate("PATCH", &format!("/performanceProfile/{profile_id}"), Some(json!({"jobPriority": 3}))).await;
    let job = json!({"performanceProfile": {"@type": "PerformanceProfileRef", "id": profile_id},
                     "servicePayloadSpecificAttributes": {"@type": CE_CONFIGURATION, "interface": interface}});
    let job_id = call("POST", "/performanceJob", Some(job)).await["id"].as_str().unwrap().to_owned();
    let reports = format!("{pm}/performanceReport?performanceJobId={job_id}");
    let made = |wanted: &'static str| {
        move |r: &Value| r.as_array().is_some_and(|r| r.iter().any(|report| report["state"] == wanted))
    };
    app.wait_until_as(by.token, &reports, made("completed")).await;
    // The element stops answering: the next report cannot be made.
    let element = app.seller.icm.read(|n| n.topology().interface(interface).unwrap().port.element.clone()).await;
    app.seller.ecm.simulated(&element).unwrap().set_down(true);
    app.wait_until_as(by.token, &reports, made("failed")).await;
    app.seller.ecm.simulated(&element).unwrap().set_down(false);

    let reference = json!({"@type": "PerformanceJobRef", "id": job_id});
    call("POST", "/suspendPerformanceJob", Some(json!({"performanceJob": reference}))).await;
    call("POST", "/resumePerformanceJob", Some(json!({"performanceJob": reference}))).await;
    let modify = json!({"performanceJob": reference, "performanceProfile": {"granularity": "10 second", "reportingPeriod": "1 minute"}});
    call("POST", "/modifyPerformanceJob", Some(modify)).await;
    call("POST", "/cancelPerformanceJob", Some(json!({"performanceJob": reference}))).await;
    let asked = json!({"reportingTimeframe": {"reportingStartDate": days_from_now(-1), "reportingEndDate": days_from_now(1)},
        "performanceJob": {"@type": "PerformanceJobValue", "outputFormat": "json", "resultFormat": "payload", "granularity": "1 second",
                           "servicePayloadSpecificAttributes": {"@type": CE_CONFIGURATION, "interface": interface}}});
    call("POST", "/performanceReport", Some(asked)).await;
    operate("DELETE", &format!("/performanceProfile/{profile_id}"), None).await;

    app.wait_for_deliveries_to(&receiver).await;
    let under = format!("/{}/performanceNotification/v2", by.point);
    receiver.checked(&under, |_| events).into_iter().map(|(kind, _)| kind).collect()
}

#[tokio::test]
async fn performance_monitoring_sends_every_event_its_file_defines_at_legato_and_at_interlude() {
    let app = spawn_app_with(|c| {
        c.fulfilment.by = lso_server::config::FulfilmentMode::Network;
        c.network.alarm_poll_millis = 3_600_000; // a test of its own raises faults
    })
    .await;
    // A Buyer's EVPL, whose UNI the Buyer measures over Interlude.
    let ordering = lso_mef_product::ordering_base(lso_model::Irp::Sonata);
    let order = crate::network::evpl_order(&["site-new-york", "site-boston"], 100, 20);
    let placed = app.call("POST", &format!("{ordering}/productOrder"), Some(&order)).await;
    let done = app.wait_until_final(&ordering, placed.body["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    let services = app.call("GET", "/mefApi/interlude/serviceControl/v1/service", None).await.body;
    let uni = services.as_array().unwrap().iter().find_map(|s| s["interface"].as_str()).unwrap().to_owned();

    for (point, token, for_client, file) in [
        ("legato", app.admin.as_str(), "", "Legato/serviceApi/pm/performanceNotification.api.yaml"),
        ("interlude", app.token.as_str(), "?buyerId=ACME", "Interlude/serviceApi/pm/performanceNotification.api.yaml"),
    ] {
        let events = Contract::load(file);
        let received = every_performance_event(&app, Measurer { point, token, for_client }, &uni, &events).await;
        let defined: std::collections::BTreeSet<String> = events.document()["paths"]
            .as_object()
            .unwrap()
            .keys()
            .filter_map(|p| p.strip_prefix("/listener/"))
            .map(str::to_owned)
            .collect();
        let missing: Vec<&String> = defined.difference(&received).collect();
        assert!(missing.is_empty(), "{point}: never sent {missing:?}");
    }
}
