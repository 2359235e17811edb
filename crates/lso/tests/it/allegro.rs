//! Allegro service control: a customer reads the services of its own products, changes the CIR
//! of its EVPL within the policy (at the edges, outside them, and twice at once), sees the
//! faults on the service's path, and every answer meets `docs/allegro.openapi.json`.

use crate::network::evpl_order;
use crate::support::*;
use lso_adagio::Adagio;
use lso_model::{Clock, SystemClock};
use lso_server::config::FulfilmentMode;
use serde_json::{Value, json};

const ALLEGRO: &str = "/mefApi/allegro/serviceControl/v1";
const CANTATA: &str = "/mefApi/cantata/productOrderingManagement/v5";

fn contract() -> Contract {
    Contract::from_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/allegro.openapi.json"),
        "allegro",
    )
}

#[tokio::test]
async fn a_customer_changes_its_evpl_within_policy_one_change_at_a_time_and_sees_the_faults_on_its_path() {
    let app = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.network.alarm_poll_millis = 3_600_000;
    })
    .await;
    let allegro = contract();
    let created = app
        .call("POST", &format!("{CANTATA}/productOrder"), Some(&evpl_order(&["site-new-york", "site-boston"], 100, 20)))
        .await;
    let order = app.wait_until_final(CANTATA, created.body["id"].as_str().unwrap()).await;
    assert_eq!(order["state"], "completed", "{order:#}");
    let evpl = order["productOrderItem"][2]["product"]["id"].as_str().unwrap().to_owned();

    let listed = app.call("GET", &format!("{ALLEGRO}/service"), None).await;
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    Contract::assert_valid(&allegro.response("/service", "get", 200), &listed.body, "services");
    assert_eq!(listed.body.as_array().unwrap().len(), 3, "two UNIs and the EVC: {:#}", listed.body);
    let mine = app.call("GET", &format!("{ALLEGRO}/service?productId={evpl}"), None).await.body;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let id = mine[0]["id"].as_str().unwrap().to_owned();
    let path = format!("{ALLEGRO}/service/{id}");
    let service = app.call("GET", &path, None).await.body;
    Contract::assert_valid(&allegro.response("/service/{id}", "get", 200), &service, "a service");
    let range = &service["changeable"][0];
    assert_eq!(
        (range["name"].clone(), range["value"].clone(), range["minimum"].clone()),
        (json!("cirMbps"), json!(20), json!(1))
    );
    let (min, max) = (range["minimum"].as_i64().unwrap(), range["maximum"].as_i64().unwrap());
    assert!(max >= 100, "the policy allows what the UNIs carry: {range}");

    let reserved = async || {
        app.seller.icm.read(|n| n.reservations().values().map(|r| r.request.bandwidth_mbps).collect::<Vec<_>>()).await
    };
    let ask = async |cir: i64| {
        app.call("POST", &format!("{ALLEGRO}/serviceChange"), Some(&json!({"service": {"id": id}, "cirMbps": cir})))
            .await
    };
    let finished = async |change: &Value| {
        let at = format!("{ALLEGRO}/serviceChange/{}", change["id"].as_str().unwrap());
        let done = app.wait_until(&at, |c| matches!(c["state"].as_str(), Some("completed" | "failed"))).await;
        Contract::assert_valid(&allegro.response("/serviceChange/{id}", "get", 200), &done, "a change");
        done
    };
    for cir in [max, min] {
        let accepted = ask(cir).await;
        assert_eq!(accepted.status, 201, "{cir} is within the policy: {:#}", accepted.body);
        Contract::assert_valid(&allegro.response("/serviceChange", "post", 201), &accepted.body, "a change");
        assert_eq!(finished(&accepted.body).await["state"], "completed");
        assert_eq!(reserved().await, [cir as u64], "the network carries {cir} Mbit/s");
        assert!(app.seller.icm.check_connectivity(&id).await.unwrap(), "read back from the elements");
        assert_eq!(app.call("GET", &path, None).await.body["changeable"][0]["value"], cir);
    }
    for cir in [min - 1, max + 1] {
        let refused = ask(cir).await;
        assert_eq!(refused.status, 422, "{cir} is outside the policy");
        Contract::assert_valid(&allegro.response("/serviceChange", "post", 422), &refused.body, "422");
        assert_eq!(refused.body[0]["propertyPath"], "/cirMbps");
        let reason = refused.body[0]["reason"].as_str().unwrap();
        assert!(reason.contains(&format!("{min} to {max} Mbit/s")), "the error names the range: {reason}");
    }
    assert_eq!(reserved().await, [min as u64], "a refused change changes nothing");

    // Two changes at once are made one after the other, in the order they were accepted.
    let (first, second) = tokio::join!(ask(30), ask(40));
    assert_eq!((first.status, second.status), (201, 201));
    for change in [&first.body, &second.body] {
        assert_eq!(finished(change).await["state"], "completed");
    }
    let changes = app.call("GET", &format!("{ALLEGRO}/serviceChange?service.id={id}"), None).await.body;
    Contract::assert_valid(&allegro.response("/serviceChange", "get", 200), &changes, "changes");
    assert_eq!(changes.as_array().unwrap().len(), 4);
    let legato = app.seller.sof.document(lso_sof::SERVICE, lso_bus::LEGATO_CLIENT, &id).await.unwrap();
    let made: Vec<Value> =
        legato["serviceOrderItem"].as_array().unwrap().iter().map(|r| r["serviceOrderId"].clone()).collect();
    let accepted_order: Vec<Value> = changes.as_array().unwrap().iter().rev().map(|c| c["id"].clone()).collect();
    assert_eq!(made[made.len() - 4..], accepted_order[..], "changes made in the order they were accepted");
    let last = changes[0]["cirMbps"].as_u64().unwrap();
    assert_eq!(reserved().await, [last], "the change accepted last holds");

    // Another customer sees none of it.
    let stranger = app.seller.auth.mint(
        &lso_http::Principal::buyer("globex", vec!["GLOBEX".into()]),
        SystemClock.now_seconds(),
        3600,
    );
    assert_eq!(app.call_as(&stranger, "GET", &format!("{ALLEGRO}/service"), None).await.body, json!([]));
    assert_eq!(app.call_as(&stranger, "GET", &path, None).await.status, 404);
    let change_path = format!("{ALLEGRO}/serviceChange/{}", changes[0]["id"].as_str().unwrap());
    assert_eq!(app.call_as(&stranger, "GET", &change_path, None).await.status, 404);
    let body = json!({"service": {"id": id}, "cirMbps": 50});
    let theirs = app.call_as(&stranger, "POST", &format!("{ALLEGRO}/serviceChange"), Some(&body)).await;
    assert_eq!((theirs.status, theirs.body[0]["propertyPath"].clone()), (422, json!("/service/id")));
    assert_eq!(reserved().await, [last]);
    let incomplete = app.call("POST", &format!("{ALLEGRO}/serviceChange"), Some(&json!({"service": {"id": id}}))).await;
    assert_eq!((incomplete.status, incomplete.body[0]["propertyPath"].clone()), (422, json!("/cirMbps")));
    assert_eq!(app.call("GET", &format!("{ALLEGRO}/service?colour=red"), None).await.status, 400);

    // The customer measures its own UNI (Allegro Performance Monitoring), and no other.
    let pm = "/mefApi/allegro/performanceMonitoring/v2";
    let mine = listed.body.as_array().unwrap().iter().find_map(|s| s["interface"].as_str()).unwrap().to_owned();
    let job = |interface: &str| {
        json!({"performanceProfile": {"@type": "PerformanceProfileValue", "jobType": "proactive", "outputFormat": "json",
                                      "resultFormat": "payload", "granularity": "1 minute"},
               "servicePayloadSpecificAttributes": {"@type": lso_sof::pm::CE_CONFIGURATION, "interface": interface}})
    };
    let (pm_receiver, _) = app.listening_at(pm).await;
    let measuring = app.call("POST", &format!("{pm}/performanceJob"), Some(&job(&mine))).await;
    assert_eq!(measuring.status, 201, "{:#}", measuring.body);
    let pm_contract = Contract::load("Interlude/serviceApi/pm/performanceMonitoring.api.yaml");
    Contract::assert_valid(&pm_contract.response("/performanceJob", "post", 201), &measuring.body, "a job");
    // Its href is under Allegro's base, where the customer's token reads it, and its events
    // reach the listener path of Allegro's notification API.
    let href = measuring.body["href"].as_str().unwrap();
    let at_allegro = href.strip_prefix(&app.url("")).unwrap_or(href).to_owned();
    assert!(at_allegro.starts_with(&format!("{pm}/performanceJob/")), "{href}");
    assert_eq!(app.call("GET", &at_allegro, None).await.status, 200);
    app.wait_for_deliveries_to(&pm_receiver).await;
    let events = pm_receiver.events.lock().unwrap().clone();
    let created = events.iter().find(|(_, e)| e["eventType"] == "performanceJobCreateEvent").expect("a create event");
    assert_eq!(created.0, "mefApi/allegro/performanceNotification/v2/listener/performanceJobCreateEvent");
    assert_eq!(created.1["event"]["href"], href);
    let other = app.call("POST", &format!("{pm}/performanceJob"), Some(&job("uni-washington-1"))).await;
    assert_eq!(
        (other.status, other.body[0]["propertyPath"].clone()),
        (422, json!("/servicePayloadSpecificAttributes/interface"))
    );
    let profile = json!({"jobType": "proactive", "outputFormat": "json", "resultFormat": "payload"});
    assert_eq!(app.call("POST", &format!("{pm}/performanceProfile"), Some(&profile)).await.status, 403, "W143 R7");
    let job_path = format!("{pm}/performanceJob/{}", measuring.body["id"].as_str().unwrap());
    assert_eq!(app.call_as(&stranger, "GET", &job_path, None).await.status, 404);
    assert_eq!(
        app.call_as(
            &app.admin,
            "GET",
            &format!(
                "/mefApi/legato/performanceMonitoring/v2/performanceJob/{}",
                measuring.body["id"].as_str().unwrap()
            ),
            None
        )
        .await
        .status,
        404,
        "the customer's jobs are its own"
    );

    // Faults on the elements under the service show on it until they clear, and the
    // customer's hub hears of each.
    let (receiver, hub) = app.listening_at(ALLEGRO).await;
    Contract::assert_valid(&allegro.response("/hub", "post", 201), &hub, "a hub");
    let elements: Vec<String> = app.seller.ecm.elements().into_iter().map(|(name, _)| name).collect();
    for element in &elements {
        app.seller.ecm.simulated(element).unwrap().set_down(true);
    }
    assert!(app.seller.check_alarms().await >= elements.len());
    let faulty = app.call("GET", &path, None).await.body;
    Contract::assert_valid(&allegro.response("/service/{id}", "get", 200), &faulty, "a faulty service");
    let faults = faulty["fault"].as_array().unwrap();
    assert!(faults.len() >= 2, "both ends' elements are down: {faults:#?}");
    assert!(faults.iter().all(|f| f["kind"] == "elementUnreachable"));
    let uni = listed.body.as_array().unwrap().iter().find(|s| s["id"] != id.as_str()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.call("GET", &format!("{ALLEGRO}/service/{uni}"), None).await.body["changeable"], json!([]));
    for element in &elements {
        app.seller.ecm.simulated(element).unwrap().set_down(false);
    }
    app.seller.check_alarms().await;
    assert_eq!(app.call("GET", &path, None).await.body["fault"], json!([]), "cleared");
    app.wait_for_deliveries_to(&receiver).await;
    let heard: Vec<Value> = receiver
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, e)| e["event"]["id"] == id.as_str())
        .map(|(_, e)| e.clone())
        .collect();
    let event_schema = allegro.validator("/components/schemas/ServiceFaultEvent");
    for event in &heard {
        Contract::assert_valid(&event_schema, event, "a fault event");
    }
    let states: std::collections::BTreeSet<&str> =
        heard.iter().map(|e| e["event"]["fault"]["state"].as_str().unwrap()).collect();
    assert_eq!(states.into_iter().collect::<Vec<_>>(), ["cleared", "raised"], "{heard:#?}");
    let paths: Vec<String> = receiver.events.lock().unwrap().iter().map(|(p, _)| p.clone()).collect();
    let listener_path = "mefApi/allegro/serviceControlNotification/v1/listener/serviceFaultEvent";
    assert!(paths.iter().all(|p| p.ends_with(listener_path)), "{paths:?}");
    let stranger_hubs =
        app.call_as(&stranger, "GET", &format!("{ALLEGRO}/hub/{}", hub["id"].as_str().unwrap()), None).await;
    assert_eq!(stranger_hubs.status, 404, "another customer's hub is not found");
}
