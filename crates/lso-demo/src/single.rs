//! `lso demo`: a provider network built on this machine (Open vSwitch elements in network
//! namespaces, customer hosts behind CE switches, see [`lso_lab::network`]), a Seller configuring it,
//! and Buyers ordering over Sonata and Cantata on loopback. Each order is followed down the
//! stack (product order → service order → connectivity service → element configuration) and
//! the services are proved with traffic: ping on the ordered CE-VLAN only, an E-LAN reaching
//! all its sites, iperf3 against the CIR, and nothing left after the delete orders.
//!
//! Where Open vSwitch cannot run (no root, no package) the demo says why and runs the same
//! orders on simulated elements, with the element read-back in place of traffic.

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use lso_api_admin::ADMIN_BASE;
use lso_ecm::lab::Host;
use lso_http::Principal;
use lso_lab::network::NetworkLab;
use lso_lab::orders::{EPL, EVPL, EVPLAN, access_eline, due, ended, evc, item_contacts, uni};
use lso_mef_product::ordering_base;
use lso_model::Irp;
use lso_model::{Clock, SystemClock};
use lso_server as server;
use lso_server::config::{Config, FulfilmentMode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SONATA_BUYER: &str = "DEMO-OPERATOR";
const CANTATA_BUYER: &str = "DEMO-ENTERPRISE";

/// Runs the demo; fails unless every order completes and every check holds.
pub async fn run(data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let files = tempfile::Builder::new().prefix("lso-demo-").tempdir().context("failed to create a directory")?;
    let topology = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY)?;
    let network = match NetworkLab::build(&topology, "ld", Some(100)) {
        Ok(network) => {
            println!(
                "Network  {} Open vSwitch elements, {} FRRouting routers and {} customer hosts in network namespaces",
                network.elements.len(),
                network.routers.len(),
                network.hosts.len()
            );
            Some(network)
        }
        Err(reason) => {
            println!("Network  SIMULATED elements: Open vSwitch and FRRouting cannot run here ({reason}).");
            println!("         The orders run the same; element read-back stands in for traffic.");
            None
        }
    };
    let path = files.path().join("topology.toml");
    let text = network
        .as_ref()
        .map_or_else(|| topology.to_toml(&Default::default()), |n| n.topology.to_toml(&Default::default()));
    std::fs::write(&path, text).context("failed to write the topology")?;
    let mut config = Config::load(None, std::iter::empty())?;
    // Its listeners are on loopback.
    config.notifications.allow_private_callbacks = true;
    config.listen = "127.0.0.1:0".parse()?;
    config.data_dir = data_dir.unwrap_or_else(|| files.path().join("data"));
    config.fulfilment.by = FulfilmentMode::Network;
    config.network.topology = path.display().to_string();
    let seller = server::start(&config).await?;
    println!("Seller   http://{}  (data directory {})", seller.addr, config.data_dir.display());
    let demo = Demo::new(&seller, network).await?;
    let result = demo.play().await;
    seller.stop().await;
    result
}

/// The Buyers, the Seller and the network of the demo.
struct Demo<'a> {
    seller: &'a server::Running,
    network: Option<NetworkLab>,
    client: reqwest::Client,
    sonata: String,
    cantata: String,
    operator: String,
    enterprise: String,
    arrived: Arc<tokio::sync::Notify>,
}

/// A check of the network and whether it held.
pub(crate) struct Check {
    pub(crate) what: String,
    pub(crate) expected: String,
    pub(crate) observed: String,
    pub(crate) held: bool,
}

impl<'a> Demo<'a> {
    async fn new(seller: &'a server::Running, network: Option<NetworkLab>) -> anyhow::Result<Self> {
        let now = SystemClock.now_seconds();
        let buyer = |name: &str| Principal::buyer(name, vec![name.into()]);
        let arrived = Arc::new(tokio::sync::Notify::new());
        let demo = Demo {
            seller,
            network,
            client: reqwest::Client::new(),
            sonata: format!("http://{}{}", seller.addr, ordering_base(Irp::Sonata)),
            cantata: format!("http://{}{}", seller.addr, ordering_base(Irp::Cantata)),
            operator: seller.auth.mint(&buyer(SONATA_BUYER), now, 3600),
            enterprise: seller.auth.mint(&buyer(CANTATA_BUYER), now, 3600),
            arrived,
        };
        let listener = listen(demo.arrived.clone(), Irp::Sonata).await?;
        let hub = json!({"callback": format!("http://{listener}")});
        let response =
            demo.client.post(format!("{}/hub", demo.sonata)).bearer_auth(&demo.operator).json(&hub).send().await?;
        ensure_status(response, StatusCode::CREATED, "registering the listener").await?;
        println!(
            "Buyers   {SONATA_BUYER} over Sonata (notifications to http://{listener}), {CANTATA_BUYER} over Cantata\n"
        );
        Ok(demo)
    }

    async fn play(&self) -> anyhow::Result<()> {
        let enni = self.register_enni().await?;
        let new_york_site = self.locate("350", "5th", "Ave", "New York").await?;
        let washington_site = self.locate("1000", "Connecticut", "Avenue", "Washington").await?;
        let boston_site = self.locate("100", "summer", "st.", "Boston").await?;
        println!();
        let evpl = self
            .order(
                Irp::Sonata,
                "EVPL New York – Boston, CE-VLAN 100, 20 Mbit/s",
                vec![
                    uni("1", &new_york_site),
                    uni("2", &boston_site),
                    evc("3", EVPL, &[100, 100], 20, &[("1", "CONNECTS_TO_UNI_A"), ("2", "CONNECTS_TO_UNI_Z")], &[]),
                ],
            )
            .await?;
        let (new_york, boston) = (product(&evpl, 0), product(&evpl, 1));
        let lan = self
            .order(
                Irp::Sonata,
                "EVP-LAN New York – Boston – Washington, CE-VLAN 200",
                vec![
                    uni("1", &washington_site),
                    evc("2", EVPLAN, &[200, 200, 200], 10, &[("1", "CONNECTS_TO_UNI")], &[&new_york, &boston]),
                ],
            )
            .await?;
        let access = self
            .order(
                Irp::Sonata,
                "Access E-Line New York – partner ENNI, S-VLAN 3000",
                vec![uni("1", &new_york_site), access_eline("2", "1", &enni)],
            )
            .await?;
        let epl = self
            .order(
                Irp::Cantata,
                "EPL Washington – Boston, all-to-one, 50 Mbit/s",
                vec![
                    uni("1", &washington_site),
                    uni("2", &boston_site),
                    evc("3", EPL, &[], 50, &[("1", "CONNECTS_TO_UNI_A"), ("2", "CONNECTS_TO_UNI_Z")], &[]),
                ],
            )
            .await?;
        println!();
        self.down_the_stack(&[&evpl, &lan, &access, &epl]).await?;

        let mut checks = Vec::new();
        let (ny, bos) = (self.interface_of(&new_york).await?, self.interface_of(&boston).await?);
        let wash = self.interface_of(&product(&lan, 0)).await?;
        let (wash2, bos2) = (self.interface_of(&product(&epl, 0)).await?, self.interface_of(&product(&epl, 1)).await?);
        self.traffic(&mut checks, &ny, &bos, 100, true, "EVPL on its CE-VLAN 100")?;
        self.traffic(&mut checks, &ny, &bos, 101, false, "EVPL on another CE-VLAN (101)")?;
        self.traffic(&mut checks, &ny, &wash, 100, false, "EVPL towards a site outside it")?;
        self.throughput(&mut checks, &ny, &bos, 100, 20.0, "EVPL bandwidth profile, CIR 20 Mbit/s")?;
        for (a, z) in [(&ny, &bos), (&ny, &wash), (&bos, &wash)] {
            self.traffic(&mut checks, a, z, 200, true, "EVP-LAN between two of its three sites")?;
        }
        self.traffic(&mut checks, &wash2, &bos2, 100, true, "EPL, any CE-VLAN (100)")?;
        self.traffic(&mut checks, &wash2, &bos2, 42, true, "EPL, any CE-VLAN (42)")?;
        self.throughput(&mut checks, &wash2, &bos2, 42, 50.0, "EPL bandwidth profile, CIR 50 Mbit/s")?;

        let deleted = self.delete(Irp::Sonata, "delete the EVPL", &product(&evpl, 2)).await?;
        let removed = self.delete(Irp::Cantata, "delete the EPL", &product(&epl, 2)).await?;
        self.traffic(&mut checks, &ny, &bos, 100, false, "EVPL after its delete order")?;
        self.traffic(&mut checks, &wash2, &bos2, 42, false, "EPL after its delete order")?;
        self.traffic(&mut checks, &ny, &bos, 200, true, "EVP-LAN still up after the deletes")?;
        for (label, order) in [("EVPL", &deleted), ("EPL", &removed)] {
            let service = self.seller.sof.find_services(lso_bus::LEGATO_CLIENT, &product(order, 0)).await?;
            let held = self.seller.icm.connectivity(service[0]["id"].as_str().unwrap_or_default()).await;
            checks.push(Check {
                what: format!("{label}: S-VLANs and bandwidth released"),
                expected: "nothing reserved".into(),
                observed: if held.is_none() { "nothing reserved".into() } else { "still reserved".into() },
                held: held.is_none(),
            });
        }
        print_checks(&checks, self.network.is_some());
        let failed = checks.iter().filter(|c| !c.held).count();
        anyhow::ensure!(failed == 0, "{failed} checks failed");
        Ok(())
    }

    /// The site at an address, as a Buyer finds it: the address validated (MEF 121), then the
    /// site there looked up (MEF 122).
    async fn locate(&self, number: &str, street: &str, kind: &str, city: &str) -> anyhow::Result<String> {
        let sonata = lso_mef_product::address_base(Irp::Sonata);
        let submitted = json!({"@type": "FieldedAddress", "streetNr": number, "streetName": street, "streetType": kind, "city": city, "country": "US"});
        let url = format!("http://{}{sonata}/geographicAddressValidation", self.seller.addr);
        let body = json!({"provideAlternative": true, "submittedGeographicAddress": submitted});
        let response = self.client.post(url).bearer_auth(&self.operator).json(&body).send().await?;
        let validation = ensure_status(response, StatusCode::OK, "validating an address").await?;
        let address =
            validation["bestMatchGeographicAddress"]["id"].as_str().context("the address is unknown")?.to_owned();
        let sites = lso_mef_product::site_base(Irp::Sonata);
        let url = format!("http://{}{sites}/geographicSite?geographicAddress.id={address}", self.seller.addr);
        let response = self.client.get(url).bearer_auth(&self.operator).send().await?;
        let found = ensure_status(response, StatusCode::OK, "looking up a site").await?;
        let site = found[0]["id"].as_str().context("no site at the address")?.to_owned();
        println!(
            "Buyer    {number} {street} {kind}, {city}: address {address} ({}), site {site}",
            validation["validationResult"].as_str().unwrap_or_default()
        );
        Ok(site)
    }

    /// Puts the partner's ENNI in the operator's inventory (inventory-only product).
    async fn register_enni(&self) -> anyhow::Result<String> {
        let catalog = self.seller.bus.catalog();
        let enni = catalog.specs().iter().find(|s| !s.orderable).context("the catalog has no ENNI specification")?;
        let now = SystemClock.now_seconds();
        let admin = self.seller.auth.mint(&Principal::administrator("demo"), now, 3600);
        let url = format!("http://{}{ADMIN_BASE}/sonata/product?buyerId={SONATA_BUYER}", self.seller.addr);
        let response = self
            .client
            .post(url)
            .bearer_auth(admin)
            .json(&json!({"productConfiguration": enni.example}))
            .send()
            .await?;
        let id = ensure_status(response, StatusCode::CREATED, "registering the ENNI").await?["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        println!(
            "Seller   registered the partner ENNI `{}` as product {id}",
            enni.example["enniIdentifier"].as_str().unwrap_or_default()
        );
        Ok(id)
    }

    fn endpoint(&self, irp: Irp) -> (&str, &str) {
        match irp {
            Irp::Sonata => (&self.sonata, &self.operator),
            Irp::Cantata => (&self.cantata, &self.enterprise),
        }
    }

    /// Places an order of `items`, follows it to its end and returns it as it ended.
    async fn order(&self, irp: Irp, label: &str, items: Vec<Value>) -> anyhow::Result<Value> {
        let order = lso_lab::orders::order(label, items);
        let (base, token) = self.endpoint(irp);
        let started = Instant::now();
        let response = self.client.post(format!("{base}/productOrder")).bearer_auth(token).json(&order).send().await?;
        let created = ensure_status(response, StatusCode::CREATED, label).await?;
        let id = created["id"].as_str().unwrap_or_default().to_owned();
        let read = async || {
            let url = format!("{base}/productOrder/{id}");
            let current = match self.client.get(url).bearer_auth(token).send().await {
                Ok(response) => ensure_status(response, StatusCode::OK, "reading an order").await,
                Err(err) => Err(err.into()),
            };
            match current {
                Ok(order) if !ended(&order) => None,
                other => Some(other),
            }
        };
        let Some(current) = lso_jobs::until_committed(&self.arrived, Duration::from_secs(120), read).await else {
            bail!("{label} did not finish within two minutes");
        };
        let current = current?;
        let state = current["state"].as_str().unwrap_or_default();
        println!("{:<8} {label}: {state} in {:.2} s", format!("{irp:?}"), started.elapsed().as_secs_f64());
        if state != "completed" {
            let reasons: Vec<String> = current["productOrderItem"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|i| i["terminationError"].as_array().cloned().unwrap_or_default())
                .filter_map(|e| e["value"].as_str().map(str::to_owned))
                .collect();
            bail!("{label} ended {state}: {}", reasons.join("; "));
        }
        Ok(current)
    }

    async fn delete(&self, irp: Irp, label: &str, product: &str) -> anyhow::Result<Value> {
        let item = json!({"id": "1", "action": "delete", "product": {"id": product},
            "requestedCompletionDate": due().as_str(), "relatedContactInformation": item_contacts()});
        self.order(irp, label, vec![item]).await
    }

    /// The interface of the UNI service realising UNI product `product`.
    async fn interface_of(&self, product: &str) -> anyhow::Result<String> {
        let services = self.seller.sof.find_services(lso_bus::LEGATO_CLIENT, product).await?;
        let service = services.first().and_then(|s| s["id"].as_str()).context("no service realises a UNI")?;
        self.seller.sof.interface_of(service).await?.context("a UNI service holds no interface")
    }

    /// Prints, for each item, the service order, service, connectivity and elements.
    async fn down_the_stack(&self, orders: &[&Value]) -> anyhow::Result<()> {
        let mut table = comfy_table::Table::new();
        table.set_header([
            "product order #item",
            "service order → service",
            "network (ICM)",
            "elements (ECM read-back)",
        ]);
        for order in orders {
            for item in order["productOrderItem"].as_array().into_iter().flatten() {
                let product = item["product"]["id"].as_str().unwrap_or_default();
                let services = self.seller.sof.find_services(lso_bus::LEGATO_CLIENT, product).await?;
                let Some(service) = services.first() else { continue };
                let id = service["id"].as_str().unwrap_or_default();
                let service_order = service["serviceOrderItem"][0]["serviceOrderId"].as_str().unwrap_or_default();
                let kind = service["serviceConfiguration"]["@type"]
                    .as_str()
                    .unwrap_or_default()
                    .split(':')
                    .nth(5)
                    .unwrap_or_default();
                let (network, elements) = match self.seller.icm.connectivity(id).await {
                    Some(connectivity) => {
                        let links = self
                            .seller
                            .icm
                            .read(|n| {
                                connectivity
                                    .reservation
                                    .hops
                                    .iter()
                                    .map(|h| {
                                        let link = &n.topology().links[h.link];
                                        format!("{}–{} S-VLAN {}", link.a.element, link.z.element, h.s_vlan)
                                    })
                                    .collect::<Vec<_>>()
                            })
                            .await;
                        let runs = self.seller.icm.check_connectivity(id).await.unwrap_or(false);
                        let names: Vec<&str> = connectivity.cross_connects.iter().map(|(e, _)| e.as_str()).collect();
                        let links = if links.is_empty() { "within one element".to_owned() } else { links.join(", ") };
                        let simulated = if self.network.is_none() { " (simulated)" } else { "" };
                        (
                            links,
                            format!(
                                "{} {}{simulated}",
                                names.join(", "),
                                if runs { "✓ as ordered" } else { "✗ differs" }
                            ),
                        )
                    }
                    None => (self.seller.sof.interface_of(id).await?.unwrap_or_default(), "—".into()),
                };
                let spec = item["product"]["productConfiguration"]["@type"].as_str().unwrap_or_default();
                let name = self.seller.bus.catalog().get(spec).map_or(String::new(), |s| s.short_name.clone());
                let item_label = format!(
                    "{} #{} {name}",
                    short(order["id"].as_str().unwrap_or_default()),
                    item["id"].as_str().unwrap_or_default()
                );
                table.add_row([
                    item_label,
                    format!("{} → {} {kind}", short(service_order), short(id)),
                    network,
                    elements,
                ]);
            }
        }
        println!("{table}\n");
        Ok(())
    }

    /// The lab and the hosts at `a` and `z`, both retagged to `vlan`; `None` on simulated
    /// elements.
    fn hosts_on(&self, a: &str, z: &str, vlan: u16) -> anyhow::Result<Option<(&NetworkLab, &Host, &Host)>> {
        let Some(network) = &self.network else { return Ok(None) };
        let (from, to) = (&network.hosts[a], &network.hosts[z]);
        network.lab.set_ce_vlan(from, vlan)?;
        network.lab.set_ce_vlan(to, vlan)?;
        Ok(Some((network, from, to)))
    }

    /// Whether the host at `a`, sending on `vlan`, reaches the host at `z` (also on `vlan`).
    fn traffic(
        &self,
        checks: &mut Vec<Check>,
        a: &str,
        z: &str,
        vlan: u16,
        expected: bool,
        what: &str,
    ) -> anyhow::Result<()> {
        let Some((network, from, to)) = self.hosts_on(a, z, vlan)? else { return Ok(()) };
        let reached = network.lab.reaches(from, to);
        let word = |r: bool| if r { "reaches" } else { "no traffic" };
        let (expected_word, observed) = (word(expected).into(), word(reached).into());
        checks.push(Check {
            what: format!("{what}: {a} → {z}"),
            expected: expected_word,
            observed,
            held: reached == expected,
        });
        Ok(())
    }

    /// Whether TCP from `a` to `z` on `vlan` is held within 15% of `cir`.
    fn throughput(
        &self,
        checks: &mut Vec<Check>,
        a: &str,
        z: &str,
        vlan: u16,
        cir: f64,
        what: &str,
    ) -> anyhow::Result<()> {
        let Some((network, from, to)) = self.hosts_on(a, z, vlan)? else { return Ok(()) };
        let measured = network.lab.throughput_mbps(from, to, 3)?;
        checks.push(Check {
            what: format!("{what}: {a} → {z}"),
            expected: format!("{:.1}–{:.1} Mbit/s", cir * 0.85, cir * 1.15),
            observed: format!("{measured:.1} Mbit/s"),
            held: (measured - cir).abs() <= cir * 0.15,
        });
        Ok(())
    }
}

pub(crate) fn print_checks(checks: &[Check], real: bool) {
    if !real {
        println!("Traffic checks skipped: the elements are SIMULATED (their configuration was read back above).");
    }
    let mut table = comfy_table::Table::new();
    let title = if real { "check (Open vSwitch, real frames)" } else { "check (SIMULATED elements)" };
    table.set_header([title, "expected", "observed", ""]);
    for check in checks {
        table.add_row([
            check.what.clone(),
            check.expected.clone(),
            check.observed.clone(),
            if check.held { "✓" } else { "✗" }.into(),
        ]);
    }
    println!("{table}");
    println!("{} of {} checks held.", checks.iter().filter(|c| c.held).count(), checks.len());
}

/// The last eight characters of an id (a time-ordered UUID starts with its time).
fn short(id: &str) -> String {
    id.chars().skip(id.chars().count().saturating_sub(8)).collect()
}

/// The product id of item `n` of `order`.
pub(crate) fn product(order: &Value, n: usize) -> String {
    order["productOrderItem"][n]["product"]["id"].as_str().unwrap_or_default().to_owned()
}

/// A listener for the order notifications of reference point `irp` on loopback, waking
/// `arrived` at each.
pub(crate) async fn listen(arrived: Arc<tokio::sync::Notify>, irp: Irp) -> anyhow::Result<std::net::SocketAddr> {
    async fn on_event(State(arrived): State<Arc<tokio::sync::Notify>>, Path(_name): Path<String>) -> StatusCode {
        arrived.notify_waiters();
        StatusCode::NO_CONTENT
    }
    let path = format!("{}/listener/{{name}}", lso_mef_product::ordering_notification_base(irp));
    let app = Router::new().route(&path, post(on_event)).with_state(arrived);
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("failed to bind the listener")?;
    let addr = socket.local_addr()?;
    tokio::spawn(async move { axum::serve(socket, app).await });
    Ok(addr)
}

pub(crate) async fn ensure_status(
    response: reqwest::Response,
    expected: StatusCode,
    what: &str,
) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.as_u16() != expected.as_u16() {
        bail!("{what}: the Seller answered {status}: {body}");
    }
    Ok(body)
}
