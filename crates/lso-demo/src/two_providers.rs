//! `lso demo --partners 1`: two providers on this machine, each an `lso serve` process with its
//! own data directory and its own Open vSwitch network, joined by a link between their ENNIs
//! (see [`lso_lab::network::PartnerLab`]). A customer of the first orders an EVPL from New York (on
//! its network) to Washington (on the partner's); the first buys the far end from the partner
//! over Sonata and stitches the two at the ENNI. Traffic proves it, the delete orders remove it
//! on both sides. Without Open vSwitch both run on simulated elements. The two talk as operators
//! do: HTTPS with mutual TLS (certificates of a CA made for the demo), the provider getting its
//! tokens at the partner's `/oauth2/token` with client credentials, every notification signed.

use crate::single::{Check, ensure_status, print_checks, product};
use anyhow::Context;
use lso_http::Principal;
use lso_lab::network::PartnerLab;
use lso_lab::orders::ended;
use lso_lab::orders::{EVPL, evc, uni};
use lso_model::{Clock, SystemClock};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ENNI: &str = "enni-partner-1";
const CUSTOMER: &str = "DEMO-ENTERPRISE";
const PROVIDER: &str = "DEMO-PROVIDER";

/// One `lso serve` process, ended (by its PID) when dropped.
struct Provider {
    name: &'static str,
    child: Child,
    url: String,
    auth: lso_http::Authenticator,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `lso serve --config config` (the binary `lso`), its log written to `log`; returns
/// once it says it is serving (30 s at most), or kills it.
pub fn serve(lso: &Path, config: &Path, log: &Path) -> anyhow::Result<Child> {
    use std::io::{BufRead, Write};
    let mut child = Command::new(lso)
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "info,tower_http=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("failed to start lso serve")?;
    let (said, serving) = std::sync::mpsc::channel();
    let mut file = std::fs::File::create(log)?;
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("lso is serving") {
                    let _ = said.send(());
                }
                let _ = writeln!(file, "{line}");
            }
        });
    }
    if serving.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        anyhow::bail!("lso serve did not say it was serving within 30 s");
    }
    Ok(child)
}

/// A free port on loopback.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Provider {
    /// Starts `lso serve` in `dir` on `topology` over HTTPS with `tls` (a `[tls]` table), buying
    /// from `partners` (TOML tables), and waits until it answers.
    async fn start(
        name: &'static str,
        dir: &Path,
        topology: &lso_icm::Topology,
        tls: &str,
        partners: &str,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let topology_file = dir.join("topology.toml");
        std::fs::write(&topology_file, topology.to_toml(&Default::default()))?;
        let port = free_port()?;
        let data = dir.join("data");
        let config = format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = {data:?}\n[notifications]\nallow_private_callbacks = true\n[fulfilment]\nby = \"network\"\n[network]\ntopology = {topology_file:?}\n{tls}{partners}"
        );
        let config_file = dir.join("lso.toml");
        std::fs::write(&config_file, config)?;
        let child = serve(&std::env::current_exe()?, &config_file, &dir.join("lso.log"))
            .with_context(|| format!("{name} did not start: see {}", dir.display()))?;
        let url = format!("https://127.0.0.1:{port}");
        let auth = lso_server::DataDir::open(&data)?.authenticator()?;
        println!("{name:<9}lso serve, PID {}, {url}, data directory {}", child.id(), data.display());
        Ok(Provider { name, child, url, auth })
    }

    fn token(&self, principal: &Principal) -> String {
        self.auth.mint(principal, SystemClock.now_seconds(), 3600)
    }
}

fn buyer(name: &str) -> Principal {
    Principal::buyer(name, vec![name.into()])
}

/// Runs the two-provider demo; fails unless every order completes and every check holds.
pub async fn run() -> anyhow::Result<()> {
    let files = tempfile::Builder::new().prefix("lso-partners-").tempdir().context("failed to create a directory")?;
    let demo = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY)?;
    println!("\nTwo providers, joined at their ENNIs\n");
    let pair = match PartnerLab::build((&demo, ENNI), (&demo, ENNI), "lp", Some(100)) {
        Ok(pair) => Some(pair),
        Err(reason) => {
            println!("Network  SIMULATED elements: Open vSwitch cannot run here ({reason}).");
            None
        }
    };
    let topology = |n: usize| pair.as_ref().map_or_else(|| demo.clone(), |p| p.domains[n].topology.clone());
    // A CA for the demo: each provider serves with a certificate of it and presents one to the
    // other; the partner serves only clients with one.
    let ca = lso_transport::testing::TestCa::new(files.path(), "demo");
    let tls = |name: &str, client_auth: &str| {
        let issued = ca.issue(name, &["127.0.0.1"]);
        let (cert, key, roots) =
            (issued.cert.display().to_string(), issued.key.display().to_string(), ca.ca().display().to_string());
        let table = format!(
            "[tls]\ncert = {cert:?}\nkey = {key:?}\nclient_ca = {roots:?}\nclient_auth = \"{client_auth}\"\nca = {roots:?}\nclient_cert = {cert:?}\nclient_key = {key:?}\n"
        );
        (table, issued)
    };
    let (partner_tls, _) = tls("partner", "required");
    let (provider_tls, provider_cert) = tls("provider", "optional");
    let partner = Provider::start("Partner", &files.path().join("partner"), &topology(1), &partner_tls, "").await?;
    // The demo itself calls both as an operator holding the provider's certificate.
    let client = lso_transport::Outbound::load(Some(&ca.ca()), Some((&provider_cert.cert, &provider_cert.key)))?
        .client(Duration::from_secs(30))?;
    let enni = lso_spec::Catalog::built_in()?
        .specs()
        .iter()
        .find(|s| !s.orderable)
        .context("no ENNI specification")?
        .example
        .clone();
    let operator = partner.token(&Principal::administrator("demo"));
    let registered = client
        .post(format!("{}/lso/admin/v1/sonata/product?buyerId={PROVIDER}", partner.url))
        .bearer_auth(&operator)
        .json(&json!({"productConfiguration": enni}))
        .send()
        .await?;
    let enni_product =
        ensure_status(registered, StatusCode::CREATED, "registering the ENNI at the partner").await?["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    let wholesale = partner.token(&buyer(PROVIDER));
    // The secrets the partner signs its notifications to the provider with (docs/webhooks.md).
    let mut secrets = Vec::new();
    for point in ["sonata", "interlude"] {
        let url = format!("{}/lso/admin/v1/{point}/webhookSecret?buyerId={PROVIDER}", partner.url);
        let answer = client.get(url).bearer_auth(&operator).send().await?;
        let secret = ensure_status(answer, StatusCode::OK, "reading the partner's webhook secret").await?;
        secrets.push(format!("\"{}\"", secret["secret"].as_str().unwrap_or_default()));
    }
    // The provider is a client of the partner's authorisation server.
    let asked = json!({"name": "provider", "role": "buyer", "buyers": [PROVIDER], "scopes": ["sonata", "interlude"]});
    let registered =
        client.post(format!("{}/lso/admin/v1/clients", partner.url)).bearer_auth(&operator).json(&asked).send().await?;
    let registered =
        ensure_status(registered, StatusCode::CREATED, "registering the provider's client at the partner").await?;
    let terms = format!(
        "[[partners]]\nname = \"partner\"\nurl = \"{url}\"\nsites = [\"site-washington\"]\nenni = \"{ENNI}\"\nenni_product = \"{enni_product}\"\nbilling_account = \"wholesale-{PROVIDER}\"\nwebhook_secrets = [{}]\n[partners.oauth]\ntoken_url = \"{url}/oauth2/token\"\nclient_id = {:?}\nclient_secret = {:?}\n",
        secrets.join(", "),
        registered["clientId"].as_str().unwrap_or_default(),
        registered["clientSecret"].as_str().unwrap_or_default(),
        url = partner.url,
    );
    let provider =
        Provider::start("Provider", &files.path().join("provider"), &topology(0), &provider_tls, &terms).await?;
    println!(
        "         the provider buys Washington from the partner over Sonata, as {PROVIDER}; the partner's ENNI is product {enni_product}"
    );
    println!(
        "         HTTPS with mutual TLS between them (a demo CA); the provider's tokens from the partner's /oauth2/token\n"
    );

    let arrived = std::sync::Arc::new(tokio::sync::Notify::new());
    let listener = crate::single::listen(arrived.clone(), lso_model::Irp::Cantata).await?;
    let customer = Customer {
        client: client.clone(),
        base: format!("{}{}", provider.url, lso_mef_product::ordering_base(lso_model::Irp::Cantata)),
        token: provider.token(&buyer(CUSTOMER)),
        arrived,
    };
    let hub = json!({"callback": format!("http://{listener}")});
    let response = client.post(format!("{}/hub", customer.base)).bearer_auth(&customer.token).json(&hub).send().await?;
    ensure_status(response, StatusCode::CREATED, "registering the customer's listener").await?;
    let items = vec![
        uni("1", "site-new-york"),
        uni("2", "site-washington"),
        evc("3", EVPL, &[100, 100], 20, &[("1", "CONNECTS_TO_UNI_A"), ("2", "CONNECTS_TO_UNI_Z")], &[]),
    ];
    let order = customer.finished(&lso_lab::orders::order("EVPL New York – Washington", items)).await?;
    let state = |doc: &Value| doc["state"].as_str().unwrap_or_default().to_owned();
    println!("Customer EVPL New York – Washington (off-net), CE-VLAN 100, 20 Mbit/s: {}", state(&order));
    let sonata = format!("{}{}", partner.url, lso_mef_product::ordering_base(lso_model::Irp::Sonata));
    let bought: Value =
        client.get(format!("{sonata}/productOrder")).bearer_auth(&wholesale).send().await?.json().await?;
    let quotes = format!("{}{}", partner.url, lso_mef_product::quote_base(lso_model::Irp::Sonata));
    let mut on_quote = 0;
    for listed in bought.as_array().into_iter().flatten() {
        let id = listed["id"].as_str().unwrap_or_default();
        let order: Value =
            client.get(format!("{sonata}/productOrder/{id}")).bearer_auth(&wholesale).send().await?.json().await?;
        let item = &order["productOrderItem"][0];
        let spec = item["product"]["productConfiguration"]["@type"].as_str().unwrap_or_default();
        let what = lso_spec::Catalog::built_in()?.get(spec).map_or(spec.to_owned(), |s| s.name.clone());
        let quote_id = item["quoteItem"]["quoteId"].as_str().unwrap_or_default();
        let quote: Value =
            client.get(format!("{quotes}/quote/{quote_id}")).bearer_auth(&wholesale).send().await?.json().await?;
        on_quote += usize::from(quote["state"] == "accepted");
        println!(
            "Partner  order from {PROVIDER} for its item {}: {what}, {}, on quote {quote_id} ({})",
            order["externalId"].as_str().unwrap_or_default(),
            state(&order),
            state(&quote)
        );
    }

    let mut checks = Vec::new();
    check(&mut checks, "the customer's EVPL order", "completed", order["state"].as_str().unwrap_or_default());
    check(
        &mut checks,
        "orders the provider placed at the partner (UNI, Access E-Line)",
        "2 completed",
        &format!(
            "{} completed",
            bought.as_array().map_or(0, |o| o.iter().filter(|o| o["state"] == "completed").count())
        ),
    );
    check(&mut checks, "partner orders placed on the partner's quote", "2 accepted", &format!("{on_quote} accepted"));
    let hosts =
        pair.as_ref().map(|p| (&p.lab, &p.domains[0].hosts["uni-new-york-1"], &p.domains[1].hosts["uni-washington-1"]));
    if let Some((lab, new_york, washington)) = hosts {
        let reached = lab.reaches(new_york, washington);
        check(
            &mut checks,
            "traffic New York (provider) → Washington (partner)",
            "reaches",
            if reached { "reaches" } else { "no traffic" },
        );
        let measured = lab.throughput_mbps(new_york, washington, 3)?;
        checks.push(Check {
            what: "EVPL bandwidth profile across both, CIR 20 Mbit/s".into(),
            expected: "17.0–23.0 Mbit/s".into(),
            observed: format!("{measured:.1} Mbit/s"),
            held: (measured - 20.0).abs() <= 3.0,
        });
    }
    for n in [2, 1] {
        let item = json!({"id": "1", "action": "delete", "product": {"id": product(&order, n)},
            "requestedCompletionDate": lso_lab::orders::due().as_str(), "relatedContactInformation": lso_lab::orders::item_contacts()});
        let deleted = customer.finished(&lso_lab::orders::order("delete", vec![item])).await?;
        check(
            &mut checks,
            &format!("delete order of the {}", if n == 2 { "EVPL" } else { "off-net UNI" }),
            "completed",
            deleted["state"].as_str().unwrap_or_default(),
        );
    }
    if let Some((lab, new_york, washington)) = hosts {
        let reached = lab.reaches(new_york, washington);
        check(
            &mut checks,
            "traffic after the delete orders",
            "no traffic",
            if reached { "reaches" } else { "no traffic" },
        );
    }
    let deletes: Value =
        client.get(format!("{sonata}/productOrder")).bearer_auth(&wholesale).send().await?.json().await?;
    let count = deletes.as_array().map_or(0, |o| o.iter().filter(|o| o["state"] == "completed").count());
    check(&mut checks, "orders at the partner after the deletes", "4 completed", &format!("{count} completed"));
    print_checks(&checks, pair.is_some());
    println!("{} and {} stop (by PID).", provider.name, partner.name);
    drop(provider);
    drop(partner);
    let failed = checks.iter().filter(|c| !c.held).count();
    anyhow::ensure!(failed == 0, "{failed} checks failed");
    Ok(())
}

fn check(checks: &mut Vec<Check>, what: &str, expected: &str, observed: &str) {
    checks.push(Check {
        what: what.into(),
        expected: expected.into(),
        observed: observed.into(),
        held: expected == observed,
    });
}

/// The customer's side of the provider: its ordering API, its token, and the notifications
/// its hub there receives.
struct Customer {
    client: reqwest::Client,
    base: String,
    token: String,
    arrived: std::sync::Arc<tokio::sync::Notify>,
}

impl Customer {
    /// Places `order` and reads it again each time a notification arrives, until it ends.
    async fn finished(&self, order: &Value) -> anyhow::Result<Value> {
        let response =
            self.client.post(format!("{}/productOrder", self.base)).bearer_auth(&self.token).json(order).send().await?;
        let placed = ensure_status(response, StatusCode::CREATED, "placing the order").await?;
        let id = placed["id"].as_str().context("no order id")?;
        let read = async || {
            let url = format!("{}/productOrder/{id}", self.base);
            let current = match self.client.get(url).bearer_auth(&self.token).send().await {
                Ok(response) => ensure_status(response, StatusCode::OK, "reading the order").await,
                Err(err) => Err(err.into()),
            };
            match current {
                Ok(order) if !ended(&order) => None,
                other => Some(other),
            }
        };
        let read = lso_jobs::until_committed(&self.arrived, Duration::from_secs(120), read).await;
        read.with_context(|| format!("order {id} did not end within two minutes"))?
    }
}
