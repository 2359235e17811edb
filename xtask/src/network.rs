//! `bench evpl` and `bench evpl-concurrent`: EVPL orders through every layer (Sonata product
//! order → service order → ICM connectivity service → OpenFlow on Open vSwitch elements in
//! network namespaces), timed from the order's acceptance to its completion. `bench allegro`:
//! a customer's CIR changes over Allegro, timed from the request to the new meters running on
//! the elements. Needs root and Open vSwitch (as the tests do).

use anyhow::{Context, bail};
use lso_http::Principal;
use lso_lab::network::{NetworkLab, PartnerLab};
use lso_lab::orders::{EVPL, evc, order, uni};
use lso_mef_product::{DateTime, ordering_base};
use lso_model::Irp;
use lso_model::{Clock, SystemClock};
use lso_partners::PartnerConfig;
use lso_server::config::{Config, FulfilmentMode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// A Seller on a lab network, and a Buyer's way to order from it.
struct Bench {
    seller: lso_server::Running,
    client: reqwest::Client,
    base: String,
    token: String,
    _files: tempfile::TempDir,
}

impl Bench {
    async fn start(network: &NetworkLab) -> anyhow::Result<Bench> {
        Bench::on(&network.topology, Vec::new()).await
    }

    /// A Seller on `topology` buying off-net access from `partners`.
    async fn on(topology: &lso_icm::Topology, partners: Vec<PartnerConfig>) -> anyhow::Result<Bench> {
        let files = tempfile::tempdir()?;
        let path = files.path().join("topology.toml");
        std::fs::write(&path, topology.to_toml(&Default::default()))?;
        let mut config = Config::load(None, std::iter::empty())?;
        // Its listeners are on loopback.
        config.notifications.allow_private_callbacks = true;
        config.listen = "127.0.0.1:0".parse()?;
        config.data_dir = files.path().join("data");
        config.fulfilment.by = FulfilmentMode::Network;
        config.network.topology = path.display().to_string();
        config.partners = partners;
        let seller = lso_server::start(&config).await?;
        let now = chrono_now();
        let token = seller.auth.mint(&Principal::buyer("bench", vec!["BENCH".into()]), now, 7200);
        let base = format!("http://{}{}", seller.addr, ordering_base(Irp::Sonata));
        Ok(Bench { seller, client: reqwest::Client::new(), base, token, _files: files })
    }

    async fn post(&self, order: &Value) -> anyhow::Result<String> {
        let response =
            self.client.post(format!("{}/productOrder", self.base)).bearer_auth(&self.token).json(order).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if status.as_u16() != 201 {
            bail!("the Seller answered {status}: {body}");
        }
        Ok(body["id"].as_str().context("no id")?.to_owned())
    }

    /// Waits, commit by commit, until order `id` has ended; returns it.
    async fn finished(&self, id: &str) -> anyhow::Result<Value> {
        let read = async || {
            let url = format!("{}/productOrder/{id}", self.base);
            let order = async { anyhow::Ok(self.client.get(url).bearer_auth(&self.token).send().await?.json().await?) };
            match order.await {
                Ok(order) if !lso_lab::orders::ended(&order) => None,
                other => Some(other),
            }
        };
        let ended = lso_jobs::until_committed(&self.seller.bus.wake(), Duration::from_secs(120), read).await;
        ended.with_context(|| format!("order {id} did not end within two minutes"))?
    }

    /// Orders a UNI at each of `sites`; returns their product ids.
    async fn unis(&self, sites: &[String]) -> anyhow::Result<Vec<String>> {
        let items = sites.iter().enumerate().map(|(n, site)| uni(&(n + 1).to_string(), site)).collect();
        let id = self.post(&order("bench UNIs", items)).await?;
        let done = self.finished(&id).await?;
        anyhow::ensure!(done["state"] == "completed", "the UNIs were not delivered: {done}");
        Ok((0..sites.len())
            .map(|n| done["productOrderItem"][n]["product"]["id"].as_str().unwrap_or_default().to_owned())
            .collect())
    }
}

fn chrono_now() -> i64 {
    SystemClock.now_seconds()
}

/// An EVPL between UNI products `a` and `z` on `ce_vlan`.
fn evpl(a: &str, z: &str, ce_vlan: u16) -> Value {
    let mut item = evc("1", EVPL, &[ce_vlan, ce_vlan], 10, &[], &[]);
    item["product"]["productRelationship"] =
        json!([{"id": a, "relationshipType": "CONNECTS_TO_UNI_A"}, {"id": z, "relationshipType": "CONNECTS_TO_UNI_Z"}]);
    order(&format!("bench EVPL {ce_vlan}"), vec![item])
}

/// The time from acceptance (`orderDate`) to `completionDate`, as the Seller recorded them.
fn accepted_to_completed(order: &Value) -> Duration {
    let at = |key: &str| DateTime::parse(order[key].as_str().unwrap_or_default()).map_or(0, |d| d.millis());
    Duration::from_millis((at("completionDate") - at("orderDate")).max(0) as u64)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn report(what: &str, latencies: &mut [Duration]) {
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what}: {} orders, accepted → completed p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        latencies.len(),
        ms(percentile(latencies, 0.5)),
        ms(percentile(latencies, 0.9)),
        ms(percentile(latencies, 1.0))
    );
}

/// `bench evpl`: `orders` EVPLs one after the other on the demo network.
pub async fn evpl_one_by_one(orders: u16) -> anyhow::Result<()> {
    let topology = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY)?;
    let network = NetworkLab::build(&topology, "be", None)?;
    let bench = Bench::start(&network).await?;
    let unis = bench.unis(&["site-new-york".into(), "site-boston".into()]).await?;
    let mut latencies = Vec::new();
    for n in 0..orders {
        let id = bench.post(&evpl(&unis[0], &unis[1], 100 + n)).await?;
        let done = bench.finished(&id).await?;
        anyhow::ensure!(done["state"] == "completed", "EVPL {n} ended {}", done["state"]);
        latencies.push(accepted_to_completed(&done));
    }
    report("EVPL over 2 Open vSwitch elements, one at a time", &mut latencies);
    bench.seller.stop().await;
    Ok(())
}

/// A delete order of product `product`.
fn delete(product: &str) -> Value {
    let item = json!({"id": "1", "action": "delete", "product": {"id": product}, "requestedCompletionDate": lso_lab::orders::due().as_str(),
                      "relatedContactInformation": lso_lab::orders::item_contacts()});
    order(&format!("delete {product}"), vec![item])
}

/// `bench multi-domain`: EVPLs from an on-net UNI to a UNI a partner serves, bought over
/// Sonata from a second Seller with its own network and stitched at the ENNI between them.
/// First `orders` one at a time, each timed from acceptance to completion and proven with
/// traffic between the customer's hosts, then deleted; then `concurrent` at once, and deleted
/// at once, leaving nothing reserved on either side.
pub async fn multi_domain(orders: u16, concurrent: u16) -> anyhow::Result<()> {
    const ENNI: &str = "enni-partner-1";
    let demo = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY)?;
    let pair = PartnerLab::build((&demo, ENNI), (&demo, ENNI), "bm", Some(100))?;
    let partner = Bench::on(&pair.domains[1].topology, Vec::new()).await?;
    let now = chrono_now();
    let wholesale = partner.seller.auth.mint(&Principal::buyer("provider", vec!["PROVIDER".into()]), now, 7200);
    let operator = partner.seller.auth.mint(&Principal::administrator("bench"), now, 7200);
    let catalog = lso_spec::Catalog::built_in()?;
    let enni = catalog.specs().iter().find(|s| !s.orderable).context("no ENNI specification")?.example.clone();
    let registered: Value = partner
        .client
        .post(format!("http://{}/lso/admin/v1/sonata/product?buyerId=PROVIDER", partner.seller.addr))
        .bearer_auth(&operator)
        .json(&json!({"productConfiguration": enni}))
        .send()
        .await?
        .json()
        .await?;
    let terms = PartnerConfig {
        name: "east".into(),
        url: format!("http://{}", partner.seller.addr),
        token: lso_server::config::Secret(wholesale),
        sites: vec!["site-washington".into()],
        enni: ENNI.into(),
        enni_product: registered["id"].as_str().context("the ENNI was not registered")?.into(),
        billing_account: "wholesale-1".into(),
        patience_seconds: 120,
        order_timeout_seconds: 3600,
        webhook_secrets: Vec::new(),
        oauth: None,
    };
    let provider = Bench::on(&pair.domains[0].topology, vec![terms]).await?;
    let unis = provider.unis(&["site-new-york".into(), "site-washington".into()]).await?;
    let (near, far) = (&pair.domains[0].hosts["uni-new-york-1"], &pair.domains[1].hosts["uni-washington-1"]);
    let mut completed = Vec::new();
    let mut flowing = Vec::new();
    for n in 0..orders {
        let id = provider.post(&evpl(&unis[0], &unis[1], 100)).await?;
        let done = provider.finished(&id).await?;
        anyhow::ensure!(done["state"] == "completed", "multi-domain EVPL {n} ended {}", done["state"]);
        completed.push(accepted_to_completed(&done));
        anyhow::ensure!(pair.lab.reaches(near, far), "EVPL {n} carries no traffic");
        let at = |key: &str| DateTime::parse(done[key].as_str().unwrap_or_default()).map_or(0, |d| d.millis());
        flowing.push(Duration::from_millis((SystemClock.now_millis() - at("orderDate")).max(0) as u64));
        let product = done["productOrderItem"][0]["product"]["id"].as_str().context("no product")?;
        let gone = provider.finished(&provider.post(&delete(product)).await?).await?;
        anyhow::ensure!(gone["state"] == "completed", "deleting EVPL {n} ended {}", gone["state"]);
        anyhow::ensure!(!pair.lab.reaches(near, far), "deleted EVPL {n} still carries traffic");
    }
    report("Multi-domain EVPL (2 providers, Sonata, stitched at the ENNI), one at a time", &mut completed);
    flowing.sort();
    println!(
        "  accepted → traffic seen flowing between the customer's hosts: p50 {:.0} ms, max {:.0} ms",
        percentile(&flowing, 0.5).as_secs_f64() * 1000.0,
        percentile(&flowing, 1.0).as_secs_f64() * 1000.0
    );

    let started = Instant::now();
    let placed = (0..concurrent).map(|n| evpl(&unis[0], &unis[1], 200 + n));
    let posts: Vec<Value> = placed.collect();
    let ids: Vec<String> =
        futures_join(posts.iter().map(|o| provider.post(o))).await.into_iter().collect::<Result<_, _>>()?;
    let mut latencies = Vec::new();
    let mut products = Vec::new();
    for id in &ids {
        let done = provider.finished(id).await?;
        anyhow::ensure!(
            done["state"] == "completed",
            "{id} ended {}: {}",
            done["state"],
            done["productOrderItem"][0]["stateChange"]
        );
        latencies.push(accepted_to_completed(&done));
        products.push(done["productOrderItem"][0]["product"]["id"].as_str().unwrap_or_default().to_owned());
    }
    report(&format!("Multi-domain EVPL, {concurrent} at once"), &mut latencies);
    println!("all {concurrent} completed {:.1} s after the first was placed", started.elapsed().as_secs_f64());
    let deletes: Vec<Value> = products.iter().map(|p| delete(p)).collect();
    let ids: Vec<String> =
        futures_join(deletes.iter().map(|o| provider.post(o))).await.into_iter().collect::<Result<_, _>>()?;
    for id in &ids {
        let done = provider.finished(id).await?;
        anyhow::ensure!(done["state"] == "completed", "delete {id} ended {}", done["state"]);
    }
    let ours = provider.seller.icm.read(|n| n.reservations().len()).await;
    let theirs = partner.seller.icm.read(|n| n.reservations().len()).await;
    let held = lso_partners::held_vlans(provider.seller.bus.store()).await?;
    println!(
        "after deleting them: reservations left at the provider {ours}, at the partner {theirs}; S-VLANs still held at the ENNI {held}"
    );
    anyhow::ensure!(ours == 0 && theirs == 0 && held == 0, "something leaked");
    provider.seller.stop().await;
    partner.seller.stop().await;
    Ok(())
}

/// `bench allegro`: `changes` CIR changes of one EVPL over Allegro, one after the other, each
/// timed from its request until the change is complete: the new meters applied on the elements
/// and read back from them. Every change is then checked on the elements again.
pub async fn allegro_changes(changes: u16) -> anyhow::Result<()> {
    let topology = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY)?;
    let network = NetworkLab::build(&topology, "ba", None)?;
    let bench = Bench::start(&network).await?;
    let unis = bench.unis(&["site-new-york".into(), "site-boston".into()]).await?;
    let id = bench.post(&evpl(&unis[0], &unis[1], 100)).await?;
    let done = bench.finished(&id).await?;
    anyhow::ensure!(done["state"] == "completed", "the EVPL ended {}", done["state"]);
    let product = done["productOrderItem"][0]["product"]["id"].as_str().context("no product")?;
    let allegro = format!("http://{}{}", bench.seller.addr, lso_api_allegro::BASE);
    let get = async |url: String| -> anyhow::Result<Value> {
        Ok(bench.client.get(url).bearer_auth(&bench.token).send().await?.json().await?)
    };
    let services = get(format!("{allegro}/service?productId={product}")).await?;
    let service = services[0]["id"].as_str().context("the EVPL has no service")?.to_owned();
    let mut latencies = Vec::new();
    let mut recorded = Vec::new();
    for n in 0..changes {
        let cir = 20 + u64::from(n % 8) * 10;
        let asked = Instant::now();
        let response = bench
            .client
            .post(format!("{allegro}/serviceChange"))
            .bearer_auth(&bench.token)
            .json(&json!({"service": {"id": service}, "cirMbps": cir}))
            .send()
            .await?;
        let change: Value = response.json().await?;
        let url = format!("{allegro}/serviceChange/{}", change["id"].as_str().context("no change id")?);
        // The worker's commits wake no one outside the Seller: poll finely, as a customer would.
        let mut ticker = tokio::time::interval(Duration::from_millis(5));
        let done = loop {
            ticker.tick().await;
            let read = get(url.clone()).await?;
            if read["state"] == "completed" {
                break read;
            }
            anyhow::ensure!(
                read["state"] != "failed" && asked.elapsed() < Duration::from_secs(60),
                "change {n} ended {}",
                read["state"]
            );
        };
        latencies.push(asked.elapsed());
        let at = |key: &str| DateTime::parse(done[key].as_str().unwrap_or_default()).map_or(0, |d| d.millis());
        recorded.push(Duration::from_millis((at("completionDate") - at("requestedDate")).max(0) as u64));
        let reserved =
            bench.seller.icm.read(|n| n.reservations().get(&service).map(|r| r.request.bandwidth_mbps)).await;
        anyhow::ensure!(reserved == Some(cir), "change {n}: the network holds {reserved:?} Mbit/s, not {cir}");
        anyhow::ensure!(bench.seller.icm.check_connectivity(&service).await?, "change {n} is not on the elements");
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for (what, times) in [("seen by the customer", &mut latencies), ("as the Seller recorded it", &mut recorded)] {
        times.sort();
        println!(
            "Allegro CIR change on an EVPL over 2 Open vSwitch elements, {what}: {} changes, requested → meters running p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
            times.len(),
            ms(percentile(times, 0.5)),
            ms(percentile(times, 0.9)),
            ms(percentile(times, 1.0))
        );
    }
    bench.seller.stop().await;
    Ok(())
}

/// A ring of `elements` elements with a chord across every other element, two UNIs each.
fn ring(elements: usize) -> lso_icm::Topology {
    let mut text = String::new();
    let mut links = Vec::new();
    for e in 0..elements {
        links.push((e, (e + 1) % elements));
        if e % 2 == 0 {
            links.push((e, (e + elements / 2) % elements));
        }
    }
    let mut ports: Vec<Vec<String>> = (0..elements).map(|_| vec!["uni1".into(), "uni2".into()]).collect();
    for (a, z) in &links {
        ports[*a].push(format!("to-e{z}"));
        ports[*z].push(format!("to-e{a}"));
        text.push_str(&format!("[[link]]\na = \"e{a}:to-e{z}\"\nz = \"e{z}:to-e{a}\"\ncapacity_mbps = 10000\n"));
    }
    for (e, element_ports) in ports.iter().enumerate() {
        text.push_str(&format!("[[element]]\nname = \"e{e}\"\nports = {element_ports:?}\n"));
        for u in 1..=2 {
            text.push_str(&format!(
                "[[interface]]\nname = \"uni-e{e}-{u}\"\nport = \"e{e}:uni{u}\"\nkind = \"uni\"\nsite = \"site-e{e}-{u}\"\ncapacity_mbps = 10000\n"
            ));
        }
    }
    lso_icm::Topology::parse(&text).expect("the generated ring is a topology")
}

/// `bench evpl-concurrent`: `orders` EVPLs placed at once between random UNIs of a ring of
/// `elements` elements; all must complete, with no S-VLAN used twice on a link and every
/// service read back from its elements as ordered.
pub async fn evpl_concurrent(orders: u16, elements: usize) -> anyhow::Result<()> {
    let topology = ring(elements);
    let network = NetworkLab::build(&topology, "bc", None)?;
    let bench = Bench::start(&network).await?;
    let sites: Vec<String> = topology.interfaces.iter().filter_map(|i| i.site.clone()).collect();
    let unis = bench.unis(&sites).await?;
    let started = Instant::now();
    let mut placed = Vec::new();
    for n in 0..orders {
        let a = (usize::from(n) * 7) % unis.len();
        let z = (a + 1 + (usize::from(n) * 3) % (unis.len() - 1)) % unis.len();
        placed.push(evpl(&unis[a], &unis[z], 100 + n));
    }
    let posts = placed.iter().map(|order| bench.post(order));
    let ids: Vec<String> = futures_join(posts).await.into_iter().collect::<Result<_, _>>()?;
    let mut latencies = Vec::new();
    let mut failed = Vec::new();
    for id in &ids {
        let done = bench.finished(id).await?;
        if done["state"] != "completed" {
            failed.push(format!("{id}: {}", done["productOrderItem"][0]["terminationError"]));
        }
        latencies.push(accepted_to_completed(&done));
    }
    let wall = started.elapsed();
    anyhow::ensure!(failed.is_empty(), "{} orders did not complete: {:?}", failed.len(), failed);
    report(&format!("EVPL, {orders} at once on {elements} Open vSwitch elements"), &mut latencies);
    println!("all {orders} completed {:.1} s after the first was placed", wall.as_secs_f64());

    // No S-VLAN twice on a link, and every service read back from its elements.
    let reservations = bench.seller.icm.read(|n| n.reservations().clone()).await;
    let mut per_link: BTreeMap<usize, Vec<u16>> = BTreeMap::new();
    for reservation in reservations.values() {
        for hop in &reservation.hops {
            per_link.entry(hop.link).or_default().push(hop.s_vlan);
        }
    }
    let collisions: usize = per_link.values().map(|v| v.len() - v.iter().collect::<HashSet<_>>().len()).sum();
    let mut verified = 0;
    for service in reservations.keys() {
        if bench.seller.icm.check_connectivity(service).await? {
            verified += 1;
        }
    }
    println!(
        "S-VLAN collisions on links: {collisions}; services read back as ordered: {verified} of {}",
        reservations.len()
    );
    anyhow::ensure!(collisions == 0 && verified == reservations.len(), "the network is not as ordered");
    bench.seller.stop().await;
    Ok(())
}

/// Runs `futures` concurrently and returns their outputs in order.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

/// `bench internet`: `orders` Basic Internet Access orders one after the other on a router
/// with as many IP UNIs, each timed from its POST to the customer host's first answered ping
/// of the Internet host (the host is given the address its product says as soon as the order
/// completes); then `services` Internet accesses applied straight on one router, and the time
/// its whole configuration takes to read back and compare. Needs root and FRRouting.
pub async fn internet(orders: u16, services: u16) -> anyhow::Result<()> {
    let mut text = format!(
        "[[element]]\nname = \"ar1\"\nports = [{}]\n",
        (1..=orders).map(|n| format!("\"ip{n}\"")).collect::<Vec<_>>().join(", ")
    );
    for n in 1..=orders {
        text.push_str(&format!(
            "[[interface]]\nname = \"ipuni-{n}\"\nport = \"ar1:ip{n}\"\nkind = \"ip-uni\"\ncapacity_mbps = 100\n"
        ));
    }
    let topology = lso_icm::Topology::parse(&text)?;
    let network = NetworkLab::build(&topology, "bi", None)?;
    let bench = Bench::start(&network).await?;
    let (_, internet) = &network.routers["ar1"];
    let inventory = bench.base.replace("productOrderingManagement/v10", "productInventory/v7");
    let mut latencies = Vec::new();
    for n in 0..orders {
        let started = Instant::now();
        let id = bench.post(&order(&format!("bench Internet {n}"), vec![lso_lab::orders::internet("1", 10)])).await?;
        let done = bench.finished(&id).await?;
        anyhow::ensure!(done["state"] == "completed", "Internet access {n} ended {}", done["state"]);
        let product_id = done["productOrderItem"][0]["product"]["id"].as_str().context("no product")?;
        let product: Value = bench
            .client
            .get(format!("{inventory}/product/{product_id}"))
            .bearer_auth(&bench.token)
            .send()
            .await?
            .json()
            .await?;
        let (address, gateway) = lso_lab::orders::assigned_addresses(&product).context("no subnet in the product")?;
        let services = bench.seller.sof.find_services(lso_bus::LEGATO_CLIENT, product_id).await?;
        let interface = services[0]["serviceConfiguration"]["accessLink"]["interface"].as_str().context("no IP UNI")?;
        let host = network.lab.address(&network.hosts[interface], &address, &gateway)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !network.lab.answers(&host, internet) {
            anyhow::ensure!(Instant::now() < deadline, "customer {n} did not reach the Internet within 10 s");
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "Internet access, order → customer reaches the Internet host: {} orders, p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        latencies.len(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.9)),
        ms(percentile(&latencies, 1.0))
    );
    bench.seller.stop().await;
    drop(network);

    let mut lab = lso_ecm::lab::Lab::new("br")?;
    let (router, _) = lab.router("pe", lso_lab::network::PROVIDER_AS)?;
    let ports = lab.router_ports(&router, usize::from(services))?;
    let driver = lso_ecm::FrrDriver::new(&router.namespace);
    let started = Instant::now();
    let mut wanted = Vec::new();
    for (n, port) in ports.iter().enumerate() {
        let base = 0x6440_0000u32 + 4 * n as u32;
        let routed = lso_ecm::Routed {
            provider: format!("{}/30", std::net::Ipv4Addr::from(base + 1)),
            customer: std::net::Ipv4Addr::from(base + 2).to_string(),
            static_routes: vec![format!("{}/32", std::net::Ipv4Addr::from(0xc612_0000 + n as u32))],
            bgp: None,
            egress_kbps: Some(10_000),
        };
        let endpoint = lso_ecm::Endpoint {
            port: port.clone(),
            attachment: lso_ecm::Attachment::Routed(routed),
            ingress_cir_kbps: Some(10_000),
            role: lso_ecm::Role::Root,
        };
        let connect = lso_ecm::CrossConnect { service: format!("ia-{n}"), endpoints: vec![endpoint] };
        lso_ecm::ElementDriver::apply(&driver, &connect).await?;
        wanted.push(connect);
    }
    println!(
        "{services} Internet accesses applied one by one on one router in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let running = driver.running().await?;
        let same =
            wanted.iter().all(|c| lso_ecm::RouterService::wanted(c).is_ok_and(|w| running.service(&c.service) == w));
        times.push(started.elapsed());
        anyhow::ensure!(same, "the router does not run what was applied");
    }
    times.sort();
    println!(
        "read-back of the router's {services} Internet accesses (configuration, rates, compared): median {:.0} ms, max {:.0} ms",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    Ok(())
}
