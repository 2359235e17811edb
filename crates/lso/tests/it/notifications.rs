//! Notification delivery: retries against a failing listener, order per order, dead letters
//! and their resending, hub filters, and no loss across a restart.

use crate::support::*;
use serde_json::json;

const ORDERS: &str = "/mefApi/sonata/productOrderingManagement/v10";

/// The events of a one-item order whose fulfilment completes in its first step, in the order
/// the Seller writes them.
const LIFE_OF_AN_ORDER: [&str; 6] = [
    "productOrderItemStateChangeEvent",
    "productOrderItemExpectedCompletionDateSet",
    "productOrderStateChangeEvent",
    "productSpecificProductOrderItemMilestoneEvent",
    "productOrderItemStateChangeEvent",
    "productOrderStateChangeEvent",
];

async fn subscribe(app: &App, receiver: &Receiver, query: Option<&str>) -> String {
    let listener = receiver.start().await;
    let mut body = json!({"callback": format!("http://{listener}")});
    if let Some(query) = query {
        body["query"] = json!(query);
    }
    let hub = app.call("POST", &format!("{ORDERS}/hub"), Some(&body)).await;
    assert_eq!(hub.status, 201, "{:#}", hub.body);
    hub.body["id"].as_str().unwrap().to_owned()
}

fn event_types(receiver: &Receiver, order: &str) -> Vec<String> {
    let received = receiver.by_resource();
    received.get(order).into_iter().flatten().map(|(_, e)| e["eventType"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn failed_deliveries_are_retried_and_arrive_in_order_per_order() {
    let app = spawn_app().await;
    let receiver = Receiver::default();
    subscribe(&app, &receiver, None).await;
    receiver.refuse.store(25, std::sync::atomic::Ordering::SeqCst);
    let orders = app.place_orders(ORDERS, 5).await;
    for id in &orders {
        assert_eq!(app.wait_until_final(ORDERS, id).await["state"], "completed");
    }
    let outbox = app.wait_for_deliveries_to(&receiver).await;
    assert_eq!(outbox["dead"], 0);
    assert_eq!(receiver.refuse.load(std::sync::atomic::Ordering::SeqCst), 0, "the listener refused 25 deliveries");
    for id in &orders {
        assert_eq!(event_types(&receiver, id), LIFE_OF_AN_ORDER, "order {id}");
    }
    let retried = outbox["deliveries"].as_array().unwrap().iter().filter(|d| d["attempts"].as_i64() > Some(1)).count();
    assert!(retried > 0, "some deliveries needed more than one attempt");
    app.seller.stop().await;
}

#[tokio::test]
async fn after_the_last_attempt_a_delivery_is_a_dead_letter_the_operator_can_resend() {
    let app = spawn_app_with(|c| c.notifications.max_attempts = 2).await;
    let receiver = Receiver::default();
    subscribe(&app, &receiver, Some("eventType=productOrderStateChangeEvent")).await;
    receiver.refuse.store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let orders = app.place_orders(ORDERS, 1).await;
    app.wait_until_final(ORDERS, &orders[0]).await;
    let outbox = app.wait_for_deliveries_to(&receiver).await;
    assert_eq!(outbox["dead"], 2, "{outbox:#}");
    let dead = app.call_as(&app.admin, "GET", "/lso/admin/v1/deliveries?state=dead", None).await;
    let dead: Vec<i64> =
        dead.body["deliveries"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect();
    assert_eq!(dead.len(), 2);
    // The command runs as its own process against this test's Seller, so it must not block
    // the runtime that serves it.
    let listing = app.cli(&["deliveries", "--state", "dead"]).await;
    assert!(listing.contains("0 pending, 0 delivered, 2 dead"), "{listing}");
    assert!(listing.contains("listener answered 500"), "the operator sees why: {listing}");
    receiver.refuse.store(0, std::sync::atomic::Ordering::SeqCst);
    assert!(app.cli(&["deliveries", "--redeliver", &dead[1].to_string()]).await.contains("queued again"));
    let resent =
        app.call_as(&app.admin, "POST", &format!("/lso/admin/v1/deliveries/{}/redeliver", dead[0]), None).await;
    assert_eq!(resent.status, 204);
    let outbox = app.wait_for_deliveries_to(&receiver).await;
    assert_eq!((outbox["dead"].as_i64(), outbox["delivered"].as_i64()), (Some(0), Some(2)));
    assert_eq!(event_types(&receiver, &orders[0]), ["productOrderStateChangeEvent"; 2], "only the queried event type");
    let refused = app.call("GET", "/lso/admin/v1/deliveries", None).await;
    assert_eq!(refused.status, 403, "a Buyer cannot read the operators' API");
    app.seller.stop().await;
}

#[tokio::test]
async fn a_deleted_hub_receives_nothing_more() {
    let app = spawn_app().await;
    let receiver = Receiver::default();
    let hub = subscribe(&app, &receiver, None).await;
    let deleted = app.call("DELETE", &format!("{ORDERS}/hub/{hub}"), None).await;
    assert_eq!(deleted.status, 204);
    let orders = app.place_orders(ORDERS, 1).await;
    app.wait_until_final(ORDERS, &orders[0]).await;
    let outbox = app.call_as(&app.admin, "GET", "/lso/admin/v1/deliveries", None).await;
    assert_eq!(outbox.body["deliveries"], json!([]));
    assert!(receiver.events.lock().unwrap().is_empty());
    app.seller.stop().await;
}

#[tokio::test]
async fn no_notification_is_lost_across_a_restart() {
    let app = spawn_app().await;
    let receiver = Receiver::default();
    subscribe(&app, &receiver, None).await;
    receiver.refuse.store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let orders = app.place_orders(ORDERS, 3).await;
    for id in &orders {
        app.wait_until_final(ORDERS, id).await;
    }
    let dir = app.stop().await;
    receiver.refuse.store(0, std::sync::atomic::Ordering::SeqCst);
    let app = spawn_app_in(dir, |_| {}).await;
    let outbox = app.wait_for_deliveries_to(&receiver).await;
    assert_eq!(outbox["dead"], 0);
    for id in &orders {
        assert_eq!(event_types(&receiver, id), LIFE_OF_AN_ORDER, "order {id}");
    }
    app.seller.stop().await;
}

/// The events received since `from`, as signed.
fn signed_since(receiver: &Receiver, from: usize) -> Vec<Signed> {
    receiver.signed.lock().unwrap()[from..].to_vec()
}

async fn rotate(app: &App, overlap_hours: u32) -> serde_json::Value {
    let path = format!("/lso/admin/v1/sonata/webhookSecret/rotate?buyerId=ACME&overlapHours={overlap_hours}");
    let rotated = app.call_as(&app.admin, "POST", &path, None).await;
    assert_eq!(rotated.status, 200, "{:#}", rotated.body);
    rotated.body
}

#[tokio::test]
async fn every_delivery_is_signed_and_a_rotated_secret_signs_beside_the_old_one_for_the_overlap() {
    use lso_notify::webhooks::Unverified;
    let app = spawn_app().await;
    let (receiver, _) = app.listening_at(ORDERS).await;
    let old = receiver.secret.lock().unwrap().clone().unwrap();
    assert!(old.starts_with("whsec_"));
    // Only operators read it.
    assert_eq!(app.call("GET", "/lso/admin/v1/sonata/webhookSecret?buyerId=ACME", None).await.status, 403);

    let order = app.place_orders(ORDERS, 1).await.remove(0);
    app.wait_until_final(ORDERS, &order).await;
    app.wait_for_deliveries_to(&receiver).await;
    let signed = signed_since(&receiver, 0);
    assert_eq!((signed.len(), receiver.unverified.load(std::sync::atomic::Ordering::SeqCst)), (6, 0));
    let events: Vec<serde_json::Value> = signed.iter().map(|s| serde_json::from_str(&s.body).unwrap()).collect();
    for (one, event) in signed.iter().zip(&events) {
        assert_eq!(one.id.as_deref(), event["eventId"].as_str(), "webhook-id is the event's id");
        assert_eq!(one.verify(&[&old]), Ok(()));
    }
    let one = &signed[0];
    let changed = Signed { body: one.body.replacen('{', "{ ", 1), ..one.clone() };
    assert_eq!(changed.verify(&[&old]), Err(Unverified::Mismatch));
    let stale_at = one.timestamp.as_deref().unwrap().parse::<i64>().unwrap() - 301;
    let stale = Signed { timestamp: Some(stale_at.to_string()), ..one.clone() };
    assert_eq!(stale.verify(&[&old]), Err(Unverified::Stale));
    assert_eq!(one.verify(&[&lso_notify::webhooks::new_secret()]), Err(Unverified::Mismatch));

    // A rotation with an hour's overlap: both secrets sign, so the listener (still holding
    // the old one) misses nothing while it switches.
    let rotated = rotate(&app, 1).await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert!(new != old && rotated["previousSignsUntil"].is_string(), "{rotated:#}");
    let order = app.place_orders(ORDERS, 1).await.remove(0);
    app.wait_until_final(ORDERS, &order).await;
    app.wait_for_deliveries_to(&receiver).await;
    let during = signed_since(&receiver, 6);
    assert_eq!(during.len(), 6);
    for one in &during {
        assert_eq!(one.signature.as_deref().unwrap().split(' ').count(), 2);
        assert_eq!((one.verify(&[&old]), one.verify(&[&new])), (Ok(()), Ok(())));
    }

    // Without overlap the secret before stops signing at once.
    let newest = rotate(&app, 0).await["secret"].as_str().unwrap().to_owned();
    *receiver.secret.lock().unwrap() = Some(newest.clone());
    let order = app.place_orders(ORDERS, 1).await.remove(0);
    app.wait_until_final(ORDERS, &order).await;
    app.wait_for_deliveries_to(&receiver).await;
    let after = signed_since(&receiver, 12);
    assert_eq!((after.len(), receiver.unverified.load(std::sync::atomic::Ordering::SeqCst)), (6, 0));
    for one in &after {
        assert_eq!((one.verify(&[&newest]), one.verify(&[&new])), (Ok(()), Err(Unverified::Mismatch)));
    }
    app.seller.stop().await;
}

#[tokio::test]
async fn callbacks_inside_the_network_are_refused_with_400_unless_the_operator_allows_them() {
    let app = spawn_app_with(|c| c.notifications.allow_private_callbacks = false).await;
    let inside = [
        "http://127.0.0.1:9000",
        "http://localhost:9000/cb",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.8/cb",
        "http://192.168.1.10/cb",
        "http://[::1]:9000/cb",
        "http://[fe80::1]/cb",
        "http://[::ffff:127.0.0.1]/cb",
        "http://no-such-host.invalid/cb",
        "gopher://203.0.113.7/cb",
    ];
    for callback in inside {
        let hub = app.call("POST", &format!("{ORDERS}/hub"), Some(&json!({"callback": callback}))).await;
        assert_eq!(hub.status, 400, "{callback}: {:#}", hub.body);
        assert_eq!(hub.body["code"], "invalidBody", "{callback}: {:#}", hub.body);
    }
    // Nothing was registered: an order's events go nowhere.
    app.place_orders(ORDERS, 1).await;
    let outbox = app.call_as(&app.admin, "GET", "/lso/admin/v1/deliveries", None).await;
    assert_eq!(outbox.body["deliveries"], json!([]), "{:#}", outbox.body);
    let outside =
        app.call("POST", &format!("{ORDERS}/hub"), Some(&json!({"callback": "https://203.0.113.7/cb"}))).await;
    assert_eq!(outside.status, 201, "{:#}", outside.body);
    app.seller.stop().await;
}
