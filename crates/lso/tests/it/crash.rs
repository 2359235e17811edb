//! A real `lso serve` process is killed with SIGKILL while it fulfils many orders, and started
//! again on the same data directory: every accepted order completes exactly once in
//! inventory, and every notification is delivered at least once.

use crate::support::*;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ORDERS: &str = "/mefApi/sonata/productOrderingManagement/v10";
const INVENTORY: &str = "/mefApi/sonata/productInventory/v7";

/// A `lso serve` child process and the lines it has logged, killed (SIGKILL) when dropped.
pub struct Process {
    child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Process {
    /// Asks it to stop (SIGTERM, as systemd does) and waits until it has.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let asked = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(asked.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `lso serve` on `data_dir` with fulfilment in inventory, and returns once it logs
/// that it is serving.
fn serve(data_dir: &std::path::Path) -> (Process, String) {
    serve_with(data_dir, &[("LSO_FULFILMENT__BY", "inventory"), ("LSO_FULFILMENT__TIME_SCALE", "0.1")])
}

/// Starts `lso serve` on `data_dir` with `settings` in its environment, and returns once it
/// logs that it is serving.
pub fn serve_with(data_dir: &std::path::Path, settings: &[(&str, &str)]) -> (Process, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lso"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "info")
        .env("LSO_LOG_FORMAT", "json")
        .env("LSO_NOTIFICATIONS__FIRST_RETRY_MILLIS", "50")
        .env("LSO_NOTIFICATIONS__MAX_RETRY_MILLIS", "500")
        .env("LSO_NOTIFICATIONS__ALLOW_PRIVATE_CALLBACKS", "true")
        .env("LSO_HTTP__RATE_LIMIT_PER_SECOND", "0")
        .envs(settings.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().expect("lso exited before serving").unwrap();
        let entry: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if entry["fields"]["message"] == "lso is serving" {
            break entry["fields"]["addr"].as_str().unwrap().to_owned();
        }
    };
    // Keep reading the log so the child never blocks on a full pipe.
    let log = Arc::new(Mutex::new(Vec::new()));
    let kept = log.clone();
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|line| kept.lock().unwrap().push(line)));
    (Process { child, log }, address)
}

pub fn token(data_dir: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_lso"))
        .arg("token")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

pub async fn call(
    client: &reqwest::Client,
    token: &str,
    method: reqwest::Method,
    url: String,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

/// How many orders the listener was told completed.
fn announced(receiver: &Receiver) -> usize {
    // An order announces inProgress, then completed.
    let completed = |events: &Vec<(String, Value)>| {
        events.iter().filter(|(_, e)| e["eventType"] == "productOrderStateChangeEvent").count() >= 2
    };
    receiver.by_resource().values().filter(|events| completed(events)).count()
}

/// Waits, event by event, until `count` orders were announced completed.
async fn wait_for_announcements(receiver: &Receiver, count: usize) {
    let all = async || (announced(receiver) >= count).then_some(());
    let done = lso_jobs::until_committed(&receiver.arrived, Duration::from_secs(120), all).await;
    assert!(done.is_some(), "{} of {count} orders announced completion", announced(receiver));
}

#[tokio::test]
async fn a_sigkilled_seller_resumes_and_completes_every_order_exactly_once() {
    const COUNT: usize = 150;
    let dir = tempfile::tempdir().unwrap();
    let (first, address) = serve(dir.path());
    let buyer = token(dir.path(), &["--buyer", "ACME"]);
    let admin = token(dir.path(), &["--admin"]);
    let client = reqwest::Client::new();
    let receiver = Receiver::default();
    let listener = receiver.start().await;
    let hub = json!({"callback": format!("http://{listener}")});
    let (status, _) =
        call(&client, &buyer, reqwest::Method::POST, format!("http://{address}{ORDERS}/hub"), Some(&hub)).await;
    assert_eq!(status, 201);

    let mut accepted = Vec::new();
    for n in 0..COUNT {
        let mut order = order_of(&example(EVPL), None);
        order["externalId"] = json!(format!("crash-{n}"));
        let (status, body) = call(
            &client,
            &buyer,
            reqwest::Method::POST,
            format!("http://{address}{ORDERS}/productOrder"),
            Some(&order),
        )
        .await;
        assert_eq!(status, 201, "{body:#}");
        accepted.push(body["id"].as_str().unwrap().to_owned());
    }
    assert!(announced(&receiver) < COUNT, "the first kill comes before every order completed");
    drop(first); // SIGKILL while orders are being fulfilled and notified.

    let (second, _) = serve(dir.path());
    wait_for_announcements(&receiver, COUNT / 3).await;
    assert!(announced(&receiver) < COUNT, "the second kill comes before every order completed");
    drop(second); // SIGKILL again, part-way through the resumed work.

    let (_third, address) = serve(dir.path());
    wait_for_announcements(&receiver, COUNT).await;

    for id in &accepted {
        let (_, order) =
            call(&client, &buyer, reqwest::Method::GET, format!("http://{address}{ORDERS}/productOrder/{id}"), None)
                .await;
        assert_eq!(order["state"], "completed", "{order:#}");
        let states: Vec<&str> =
            order["stateChange"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap()).collect();
        assert_eq!(states, ["acknowledged", "inProgress", "completed"], "each transition once");
        let url = format!("http://{address}{INVENTORY}/product?productOrderId={id}");
        let (_, products) = call(&client, &buyer, reqwest::Method::GET, url, None).await;
        let products = products.as_array().unwrap();
        assert_eq!(products.len(), 1, "order {id} created exactly one product");
        assert_eq!(products[0]["status"], "active");
    }
    let (_, all) =
        call(&client, &buyer, reqwest::Method::GET, format!("http://{address}{INVENTORY}/product?limit=1000"), None)
            .await;
    assert_eq!(all.as_array().unwrap().len(), COUNT);

    // Every event the Seller recorded reached the listener at least once.
    let url = format!("http://{address}/lso/admin/v1/deliveries?limit=1000");
    let look = async || Some(call(&client, &admin, reqwest::Method::GET, url.clone(), None).await.1);
    let settled = async || look().await.filter(|outbox| outbox["pending"] == 0);
    let outbox = match lso_jobs::until_committed(&receiver.arrived, Duration::from_secs(120), settled).await {
        Some(outbox) => outbox,
        None => look().await.unwrap_or_default(),
    };
    assert_eq!((outbox["pending"].as_i64(), outbox["dead"].as_i64()), (Some(0), Some(0)), "{outbox:#}");
    let received: HashSet<String> =
        receiver.events.lock().unwrap().iter().map(|(_, e)| e["eventId"].as_str().unwrap().to_owned()).collect();
    let recorded: HashMap<String, String> = outbox["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["eventId"].as_str().unwrap().to_owned(), d["state"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(outbox["delivered"].as_u64(), Some(COUNT as u64 * 6));
    for (event, state) in &recorded {
        assert_eq!(state, "delivered");
        assert!(received.contains(event), "event {event} was recorded but never received");
    }
}
