//! `lso serve` takes 3,000 EVPL orders, fulfilled on a simulated network, while it is SIGKILLed
//! and started again every 100 orders: three nodes on one PostgreSQL database, the orders spread
//! over them and one node after another killed, and one node on SQLite. Every order the Buyer
//! was told was accepted completes, each step once, with exactly its product; the network holds
//! exactly the services of the orders stored (no S-VLAN or bandwidth left from an attempt a kill
//! cut short); every event recorded reaches the listener.

use crate::crash::{Process, serve_with, token};
use crate::network::evpl_order;
use crate::postgres::{Server, fresh_database};
use crate::support::*;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ORDERS: &str = "/mefApi/sonata/productOrderingManagement/v10";
const INVENTORY: &str = "/mefApi/sonata/productInventory/v7";
/// UNI pairs between the two sites; the EVPLs are spread over them, one CE-VLAN each.
const PAIRS: usize = 10;
/// EVPL orders accepted.
const EVPLS: usize = 3000;
/// A node is killed each time this many more orders were accepted.
const KILL_EVERY: usize = 100;

/// Two elements, `PAIRS` UNIs on each (New York on pe1, Boston on pe2), one wide link.
fn topology() -> String {
    let ports = |end: &str| {
        let unis: Vec<String> = (1..=PAIRS).map(|n| format!("\"uni{n}\"")).collect();
        format!("{}, \"to-{end}\"", unis.join(", "))
    };
    let mut text = format!(
        "[[element]]\nname = \"pe1\"\nports = [{}]\n\n[[element]]\nname = \"pe2\"\nports = [{}]\n\n\
         [[link]]\na = \"pe1:to-pe2\"\nz = \"pe2:to-pe1\"\ncapacity_mbps = 100000\n",
        ports("pe2"),
        ports("pe1")
    );
    for n in 1..=PAIRS {
        for (element, site) in [("pe1", "site-new-york"), ("pe2", "site-boston")] {
            text.push_str(&format!(
                "\n[[interface]]\nname = \"uni-{element}-{n}\"\nport = \"{element}:uni{n}\"\nkind = \"uni\"\n\
                 site = \"{site}\"\ncapacity_mbps = 10000\n"
            ));
        }
    }
    text
}

/// The nodes: their data directories and, while each runs, its process and address.
struct Nodes {
    dirs: Vec<tempfile::TempDir>,
    running: Mutex<Vec<Option<(Process, String)>>>,
    settings: Vec<(String, String)>,
    /// How many times a node started.
    starts: tokio::sync::watch::Sender<usize>,
}

impl Nodes {
    /// Starts node `n` (off the test's threads: a start waits for the node to serve).
    async fn start(self: &Arc<Self>, n: usize) {
        let nodes = self.clone();
        let started = tokio::task::spawn_blocking(move || {
            let settings: Vec<(&str, &str)> = nodes.settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            serve_with(nodes.dirs[n].path(), &settings)
        })
        .await
        .unwrap();
        self.running.lock().unwrap()[n] = Some(started);
        self.starts.send_modify(|starts| *starts += 1);
    }

    /// SIGKILLs node `n` and starts it again.
    async fn kill_and_restart(self: &Arc<Self>, n: usize) {
        let killed = self.running.lock().unwrap()[n].take();
        drop(killed);
        self.start(n).await;
    }

    /// The address of node `n`, or of the next one running; while none runs, of the first to
    /// start again.
    async fn serving(&self, n: usize) -> String {
        let mut starts = self.starts.subscribe();
        loop {
            let count = self.dirs.len();
            if let Some(address) = (0..count).find_map(|k| self.address((n + k) % count)) {
                return address;
            }
            starts.changed().await.unwrap();
        }
    }

    fn address(&self, n: usize) -> Option<String> {
        self.running.lock().unwrap()[n].as_ref().map(|(_, address)| address.clone())
    }
}

/// POSTs `order` to `address`; its id when answered 201, `None` when not accepted (the node
/// was down or went down meanwhile).
async fn place(client: &reqwest::Client, token: &str, address: &str, order: &Value) -> Option<String> {
    let url = format!("http://{address}{ORDERS}/productOrder");
    let response = client.post(url).bearer_auth(token).json(order).send().await.ok()?;
    if response.status() != 201 {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["id"].as_str().map(str::to_owned)
}

/// The EVPL of slot `slot`: UNI pair `slot % PAIRS`, CE-VLAN `2 + slot / PAIRS`.
fn evpl_of(unis: &[(String, String)], slot: usize) -> Value {
    let (a, z) = &unis[slot % PAIRS];
    let mut order = evpl_order(&[], 2 + (slot / PAIRS) as u16, 1);
    order["externalId"] = json!(format!("slot-{slot}"));
    let evpl = &mut order["productOrderItem"][0];
    evpl.as_object_mut().unwrap().remove("productOrderItemRelationship");
    evpl["product"]["productRelationship"] =
        json!([{"id": a, "relationshipType": "CONNECTS_TO_UNI_A"}, {"id": z, "relationshipType": "CONNECTS_TO_UNI_Z"}]);
    order
}

/// The orders the listener was told reached their end: an order announces two state changes,
/// to `inProgress` and to where it ends (an event received twice counts once).
fn finished(receiver: &Receiver) -> HashSet<String> {
    let events = receiver.events.lock().unwrap();
    let mut changes: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (_, event) in events.iter().filter(|(_, e)| e["eventType"] == "productOrderStateChangeEvent") {
        let order = event["event"]["id"].as_str().unwrap();
        changes.entry(order).or_default().insert(event["eventId"].as_str().unwrap());
    }
    changes.into_iter().filter(|(_, changes)| changes.len() >= 2).map(|(order, _)| order.to_owned()).collect()
}

async fn get(client: &reqwest::Client, token: &str, url: String) -> Value {
    client.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn three_nodes_on_postgres_under_repeated_sigkill_complete_every_accepted_order_exactly_once() {
    let server = Server::get();
    let url = fresh_database(&server, "three_nodes").await;
    under_repeated_sigkill(3, &[("LSO_DATABASE_URL", url.as_str())]).await;
}

#[tokio::test]
async fn one_node_on_sqlite_under_repeated_sigkill_completes_every_accepted_order_exactly_once() {
    under_repeated_sigkill(1, &[]).await;
}

/// The orders placed on `count` nodes started with `settings`, killed in turn.
async fn under_repeated_sigkill(count: usize, settings: &[(&str, &str)]) {
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("topology.toml");
    std::fs::write(&path, topology()).unwrap();
    let network = [("LSO_FULFILMENT__BY", "network"), ("LSO_NETWORK__TOPOLOGY", path.to_str().unwrap())];
    let nodes = Arc::new(Nodes {
        dirs: (0..count).map(|_| tempfile::tempdir().unwrap()).collect(),
        running: Mutex::new((0..count).map(|_| None).collect()),
        settings: settings.iter().chain(&network).map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        starts: tokio::sync::watch::Sender::new(0),
    });
    nodes.start(0).await;
    // The other nodes share the first one's signing keys, so a token works on every node.
    let keys = std::fs::read(nodes.dirs[0].path().join("signing-keys.json")).unwrap();
    for n in 1..count {
        std::fs::write(nodes.dirs[n].path().join("signing-keys.json"), &keys).unwrap();
        nodes.start(n).await;
    }
    let buyer = token(nodes.dirs[0].path(), &["--buyer", "ACME"]);
    let admin = token(nodes.dirs[0].path(), &["--admin"]);
    let client = reqwest::Client::new();
    let receiver = Receiver::default();
    let listener = receiver.start().await;
    let hub = json!({"callback": format!("http://{listener}")});
    let first = nodes.address(0).unwrap();
    let registered = client.post(format!("http://{first}{ORDERS}/hub")).bearer_auth(&buyer).json(&hub).send().await;
    assert_eq!(registered.unwrap().status(), 201);

    // The UNI pairs, each with a first EVPL, before any kill.
    let mut unis = Vec::new();
    let mut told = HashSet::new();
    for n in 0..PAIRS {
        let mut order = evpl_order(&["site-new-york", "site-boston"], 1, 1);
        order["externalId"] = json!(format!("pair-{n}"));
        let id = place(&client, &buyer, &nodes.serving(n % count).await, &order).await.expect("accepted");
        told.insert(id);
    }
    let all_told = told.clone();
    let look = async || finished(&receiver).is_superset(&all_told).then_some(());
    assert!(lso_jobs::until_committed(&receiver.arrived, Duration::from_secs(120), look).await.is_some());
    for id in &told {
        let order = get(&client, &buyer, format!("http://{first}{ORDERS}/productOrder/{id}")).await;
        let product = |item: usize| order["productOrderItem"][item]["product"]["id"].as_str().unwrap().to_owned();
        unis.push((product(0), product(1)));
    }

    // 3,000 EVPLs from 12 Buyers' clients at once, spread over the nodes; a node is killed and
    // started again each time 100 more were accepted (while the only node restarts, they wait).
    let unis = Arc::new(unis);
    let (slots, accepted) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::<String>::new())));
    let (kill, mut kills) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let killer = {
        let nodes = nodes.clone();
        tokio::spawn(async move {
            let mut killed = 0;
            while let Some(n) = kills.recv().await {
                nodes.kill_and_restart(n).await;
                killed += 1;
            }
            killed
        })
    };
    let placing = std::time::Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (client, buyer, nodes, unis) = (client.clone(), buyer.clone(), nodes.clone(), unis.clone());
        let (slots, accepted, kill) = (slots.clone(), accepted.clone(), kill.clone());
        clients.spawn(async move {
            loop {
                if accepted.lock().unwrap().len() >= EVPLS {
                    return;
                }
                let slot = slots.fetch_add(1, Ordering::Relaxed);
                // The node of the slot, or the next one while it restarts.
                let address = nodes.serving(slot % nodes.dirs.len()).await;
                let Some(id) = place(&client, &buyer, &address, &evpl_of(&unis, slot)).await else { continue };
                let count = {
                    let mut accepted = accepted.lock().unwrap();
                    accepted.push(id);
                    accepted.len()
                };
                if count.is_multiple_of(KILL_EVERY) && count < EVPLS {
                    kill.send(count / KILL_EVERY % nodes.dirs.len()).unwrap();
                }
            }
        });
    }
    clients.join_all().await;
    drop(kill);
    let kills = killer.await.unwrap();
    let accepted = std::mem::take(&mut *accepted.lock().unwrap());
    let attempts = slots.load(Ordering::Relaxed);
    println!("{} orders accepted of {attempts} attempts in {:?}; {kills} kills", accepted.len(), placing.elapsed());
    assert_eq!(kills, EVPLS / KILL_EVERY - 1);
    told.extend(accepted.iter().cloned());

    let all_told = told.clone();
    let look = async || finished(&receiver).is_superset(&all_told).then_some(());
    let done = lso_jobs::until_committed(&receiver.arrived, Duration::from_secs(600), look).await;
    assert!(done.is_some(), "{} of {} orders announced completion", finished(&receiver).len(), told.len());
    println!("every order finished {:?} after the first was placed", placing.elapsed());

    // The database, read through the first node, against what the Buyer was told.
    let first = nodes.address(0).unwrap();
    let mut stored = Vec::new();
    loop {
        let url = format!("http://{first}{ORDERS}/productOrder?limit=1000&offset={}", stored.len());
        let page = get(&client, &buyer, url).await;
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        stored.extend(page);
    }
    let stored_ids: HashSet<String> = stored.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    assert!(stored_ids.is_superset(&told), "every order answered 201 is stored");
    // An order the Buyer was not told of is one whose answer a kill cut off: accepted all the same.
    println!("{} orders stored that a kill kept their Buyer from hearing of", stored_ids.len() - told.len());
    let mut evpls = 0;
    for listed in &stored {
        let id = listed["id"].as_str().unwrap();
        let order = get(&client, &buyer, format!("http://{first}{ORDERS}/productOrder/{id}")).await;
        assert_eq!(order["state"], "completed", "{order:#}");
        let states: Vec<&str> =
            order["stateChange"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap()).collect();
        assert_eq!(states, ["acknowledged", "inProgress", "completed"], "each transition once: {order:#}");
        let products = get(&client, &buyer, format!("http://{first}{INVENTORY}/product?productOrderId={id}")).await;
        let items = order["productOrderItem"].as_array().unwrap().len();
        assert_eq!(products.as_array().unwrap().len(), items, "order {id} made exactly one product per item");
        assert!(products.as_array().unwrap().iter().all(|p| p["status"] == "active"));
        evpls += 1;
    }
    let network = get(&client, &admin, format!("http://{first}/lso/admin/v1/topology")).await;
    assert_eq!(network["services"], evpls, "one service on the network per EVPL stored, none left over");
    let link = &network["links"][0];
    assert_eq!(link["sVlans"].as_array().unwrap().len(), evpls, "one S-VLAN each: {link}");
    assert_eq!(link["reservedMbps"], evpls, "1 Mbit/s each");

    // Every event recorded reached the listener.
    let url = format!("http://{first}/lso/admin/v1/deliveries?limit=1");
    let look = async || Some(get(&client, &admin, url.clone()).await).filter(|outbox| outbox["pending"] == 0);
    let outbox = lso_jobs::until_committed(&receiver.arrived, Duration::from_secs(120), look).await;
    let outbox = outbox.expect("every delivery made");
    assert_eq!(outbox["dead"], 0, "{outbox}");
    let received: Vec<String> =
        receiver.events.lock().unwrap().iter().map(|(_, e)| e["eventId"].as_str().unwrap().to_owned()).collect();
    let distinct: HashSet<&String> = received.iter().collect();
    println!(
        "{} events received, {} distinct, {} received again",
        received.len(),
        distinct.len(),
        received.len() - distinct.len()
    );
    assert_eq!(outbox["delivered"].as_u64(), Some(distinct.len() as u64), "every event recorded, received");
    let mut per_order: HashMap<String, usize> = HashMap::new();
    for (_, event) in receiver.events.lock().unwrap().iter() {
        *per_order.entry(event["event"]["id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(per_order.len(), stored_ids.len(), "events of every order stored, and of no other");
}
