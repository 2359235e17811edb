//! `lso`: an open-source MEF LSO implementation. One binary plays every role; see `lso --help`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use lso_http::Principal;
use lso_model::{Clock, SystemClock};
use lso_server::{self as server, Config};
use lso_transport::trace::Tracing;
use std::net::SocketAddr;
use std::path::PathBuf;

mod logging;

/// mimalloc: the server allocates many small JSON values from many threads, where glibc's
/// allocator spends a fifth of the time and contends on its arena locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "lso", version, about = "MEF Lifecycle Service Orchestration: Sonata and Cantata Seller")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    tls: ClientTls,
}

/// How the commands that call a running Seller reach it over HTTPS (the same variables as the
/// server's `[tls]` outbound settings).
#[derive(clap::Args)]
struct ClientTls {
    /// A CA bundle (PEM) trusted besides the system's roots, for a Seller serving HTTPS.
    #[arg(long, global = true, env = "LSO_TLS__CA")]
    ca: Option<PathBuf>,
    /// A client certificate (PEM) for a Seller that asks for one.
    #[arg(long, global = true, env = "LSO_TLS__CLIENT_CERT", requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, global = true, env = "LSO_TLS__CLIENT_KEY", requires = "client_cert")]
    client_key: Option<PathBuf>,
}

impl ClientTls {
    /// The Seller at `url` with the data directory `data_dir`, called over this TLS.
    fn seller(&self, url: String, data_dir: PathBuf) -> anyhow::Result<Seller> {
        Ok(Seller { http: self.client()?, url, data_dir })
    }

    /// The client the commands call a Seller with.
    fn client(&self) -> anyhow::Result<reqwest::Client> {
        let identity = self.client_cert.as_deref().zip(self.client_key.as_deref());
        let outbound =
            lso_transport::Outbound::load(self.ca.as_deref().filter(|p| !p.as_os_str().is_empty()), identity)?;
        Ok(outbound.client(std::time::Duration::from_secs(60))?)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Runs the Seller: the MEF APIs over HTTP, order processing and notifications.
    Serve {
        /// Address to listen on (overrides the configuration).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Data directory (overrides the configuration).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// A TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Prints a bearer token signed with the data directory's key.
    Token {
        /// Data directory holding the signing key.
        #[arg(long, default_value = "./lso-data")]
        data_dir: PathBuf,
        /// A Buyer the token acts for (repeat for a requester acting for several Buyers).
        #[arg(long, required_unless_present = "admin", conflicts_with = "admin")]
        buyer: Vec<String>,
        /// A token for the Seller's operators.
        #[arg(long)]
        admin: bool,
        /// Hours until the token expires.
        #[arg(long, default_value_t = 24)]
        ttl_hours: i64,
    },
    /// Builds a provider network on this machine (Open vSwitch in network namespaces, or
    /// simulated elements where that cannot run), has Buyers order EVPL, EVP-LAN, Access E-Line
    /// and EPL over Sonata and Cantata, follows each order down to the elements, proves the
    /// services with traffic, deletes them, and prints what it saw. Then, with a partner, two
    /// providers (two `lso serve` processes, two networks joined at their ENNIs): an EVPL to
    /// a site only the partner serves, bought over Sonata and stitched at the ENNI.
    Demo {
        /// Data directory for the demo Seller (a new temporary one by default).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Partner providers to run beside it (0 or 1).
        #[arg(long, default_value_t = 1)]
        partners: u8,
    },
    /// OAuth 2.0 clients of a running Seller (its `/oauth2/token` issues them tokens).
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
        /// The Seller's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080", global = true)]
        url: String,
        /// Its data directory, for an administrator's token.
        #[arg(long, default_value = "./lso-data", global = true)]
        data_dir: PathBuf,
    },
    /// The audit trail of a running Seller: every state-changing call and administrator's
    /// action, who made it and how it ended.
    Audit {
        /// Only the calls of this subject.
        #[arg(long)]
        subject: Option<String>,
        /// The Seller's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Its data directory, for an operator's token.
        #[arg(long, default_value = "./lso-data")]
        data_dir: PathBuf,
    },
    /// The keys `lso`'s tokens are signed with.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Product specifications.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Billing (MEF 141).
    Billing {
        #[command(subcommand)]
        command: BillingCommand,
    },
    /// Shows the network a running Seller's infrastructure control knows: elements, links and
    /// interfaces with the bandwidth and S-VLANs in use.
    Topology {
        /// The Seller's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Its data directory, for an operator's token.
        #[arg(long, default_value = "./lso-data")]
        data_dir: PathBuf,
    },
    /// Lists a running Seller's notification deliveries (the outbox and its dead letters), or
    /// puts a dead letter back in the queue.
    Deliveries {
        /// The Seller's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Its data directory, for an operator's token.
        #[arg(long, default_value = "./lso-data")]
        data_dir: PathBuf,
        /// Only deliveries in this state: pending, delivered, dead or cancelled.
        #[arg(long)]
        state: Option<String>,
        /// Resend this dead letter instead of listing.
        #[arg(long)]
        redeliver: Option<i64>,
    },
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Registers a client and prints its id and secret (shown this once).
    Add {
        /// What it is, for people.
        #[arg(long)]
        name: String,
        /// `buyer`, `operator` or `administrator`.
        #[arg(long, default_value = "buyer")]
        role: String,
        /// A Buyer it acts for (repeat for several).
        #[arg(long)]
        buyer: Vec<String>,
        /// A scope it may be granted (repeat), e.g. `sonata`, `cantata:read`.
        #[arg(long, required = true)]
        scope: Vec<String>,
    },
    /// Lists the clients.
    List,
    /// Revokes a client: its tokens are refused and it gets no more.
    Revoke {
        /// Its id.
        client: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Makes a new signing key; the current one keeps verifying the tokens it signed for
    /// `--overlap-hours`. A running Seller on the data directory takes it up within seconds.
    Rotate {
        /// The data directory holding the keys.
        #[arg(long, default_value = "./lso-data")]
        data_dir: PathBuf,
        /// How long the old key still verifies: the longest life of a token it signed.
        #[arg(long, default_value_t = 24)]
        overlap_hours: i64,
    },
}

#[derive(Subcommand)]
enum BillingCommand {
    /// Bills a month on a running Seller for every billing account not yet billed for it.
    Run {
        /// The month, `YYYY-MM` (the last full month by default).
        #[arg(long)]
        period: Option<String>,
        /// The Seller's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Its data directory, for an operator's token.
        #[arg(long, default_value = "./lso-data")]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Imports an official MEF product-schema tree (e.g. shared/mef/Sonata/productSchema).
    Import {
        /// The tree's root directory.
        dir: PathBuf,
        /// Data directory to import into.
        #[arg(long, default_value = "./lso-data")]
        data_dir: PathBuf,
    },
    /// Lists the specifications a Seller with this data directory offers.
    List {
        #[arg(long, default_value = "./lso-data")]
        data_dir: PathBuf,
    },
    /// Has a running Seller sell what its data directory's catalog holds now (after `import`),
    /// adding offerings without a restart.
    Reload {
        /// The Seller's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The Seller's data directory (for an operator token).
        #[arg(long, default_value = "./lso-data")]
        data_dir: PathBuf,
    },
    /// Moves a product offering of a running Seller along its lifecycle (e.g. to `endOfSale`),
    /// telling every Buyer with a catalog hub.
    Lifecycle {
        /// The offering's id (see `GET …/productCatalog/v2/productOffering`).
        offering: String,
        /// Its new lifecycle status.
        status: String,
        /// Why (its `statusReason`).
        #[arg(long)]
        reason: String,
        /// The Seller's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The Seller's data directory (for an operator token).
        #[arg(long, default_value = "./lso-data")]
        data_dir: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { listen, data_dir, config } => {
            let mut config = Config::load(config.as_deref(), std::env::vars())?;
            config.listen = listen.unwrap_or(config.listen);
            config.data_dir = data_dir.unwrap_or(config.data_dir);
            let exporter = config.tls.outbound()?.client(std::time::Duration::from_secs(10))?;
            let traces = Tracing::start(&config.tracing.exporting(), exporter)?;
            logging::init(config.log_format == "json", "info,tower_http=warn", Some(&traces));
            let running = server::start(&config).await?;
            tokio::select! {
                _ = shutdown_signal() => tracing::info!("stopping: finishing the requests in flight"),
                _ = running.stopped() => {}
            }
            running.stop().await;
            tokio::task::spawn_blocking(move || traces.shutdown()).await?;
            Ok(())
        }
        Command::Token { data_dir, buyer, admin, ttl_hours } => {
            let data = server::DataDir::open(&data_dir)?;
            let principal =
                if admin { Principal::administrator("operator") } else { Principal::buyer(buyer.join("+"), buyer) };
            let now = SystemClock.now_seconds();
            println!("{}", data.authenticator()?.mint(&principal, now, ttl_hours * 3600));
            Ok(())
        }
        Command::Demo { data_dir, partners } => {
            logging::init(false, "warn", None);
            anyhow::ensure!(partners <= 1, "the demo runs with one partner at most");
            lso_demo::run(data_dir).await?;
            if partners == 1 { lso_demo::two_providers::run().await } else { Ok(()) }
        }
        Command::Audit { subject, url, data_dir } => {
            let seller = cli.tls.seller(url, data_dir)?;
            let query = subject.map(|s| format!("?limit=1000&subject={s}")).unwrap_or_else(|| "?limit=1000".into());
            let mut table = comfy_table::Table::new();
            table.set_header(["at", "subject", "client", "role", "method", "path", "resource", "status"]);
            for e in seller.get(&format!("/audit{query}")).await?.as_array().into_iter().flatten() {
                let row = [
                    &e["at"],
                    &e["subject"],
                    &e["clientId"],
                    &e["role"],
                    &e["method"],
                    &e["path"],
                    &e["resource"],
                    &e["status"],
                ];
                table.add_row(row.map(text));
            }
            println!("{table}");
            Ok(())
        }
        Command::Clients { command, url, data_dir } => {
            let seller = cli.tls.seller(url, data_dir)?;
            clients(&seller, command).await
        }
        Command::Keys { command: KeysCommand::Rotate { data_dir, overlap_hours } } => {
            let keys = server::DataDir::open(&data_dir)?.rotate_signing_keys(overlap_hours * 3600)?;
            println!(
                "tokens are now signed with key {}; the previous key verifies for {overlap_hours} h",
                keys.current().kid
            );
            Ok(())
        }
        Command::Catalog { command } => catalog(&cli.tls, command).await,
        Command::Billing { command: BillingCommand::Run { period, url, data_dir } } => {
            let now = chrono::DateTime::from_timestamp_millis(SystemClock.now_millis()).unwrap_or_default();
            let last_month = (now - chrono::Months::new(1)).format("%Y-%m").to_string();
            let body = serde_json::json!({"period": period.unwrap_or(last_month)});
            let seller = cli.tls.seller(url, data_dir)?;
            let report = seller.call(reqwest::Method::POST, "/billing/run", Some(&body)).await?;
            println!(
                "{}: {} products read, {} bills with {} items made, {} accounts already billed",
                text(&report["period"]),
                report["products"],
                report["bills"],
                report["items"],
                report["alreadyBilled"]
            );
            Ok(())
        }
        Command::Deliveries { url, data_dir, state, redeliver } => {
            deliveries(&cli.tls.seller(url, data_dir)?, state, redeliver).await
        }
        Command::Topology { url, data_dir } => topology(&cli.tls.seller(url, data_dir)?).await,
    }
}

/// A running Seller as its operators' API, called with an operator token of its data directory.
struct Seller {
    http: reqwest::Client,
    url: String,
    data_dir: PathBuf,
}

impl Seller {
    /// Calls `path` under the operators' API.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let data = server::DataDir::open(&self.data_dir)?;
        let operator = Principal::administrator("cli");
        let token = data.authenticator()?.mint(&operator, SystemClock.now_seconds(), 300);
        let address = format!("{}{}{path}", self.url.trim_end_matches('/'), lso_api_admin::ADMIN_BASE);
        let mut request = self.http.request(method, address).bearer_auth(&token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.context("the Seller is not reachable")?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        anyhow::ensure!(status.is_success(), "the Seller answered {status}: {answer}");
        Ok(answer)
    }

    /// A GET of `path` under the operators' API.
    async fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        self.call(reqwest::Method::GET, path, None).await
    }
}

fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn clients(seller: &Seller, command: ClientsCommand) -> anyhow::Result<()> {
    match command {
        ClientsCommand::Add { name, role, buyer, scope } => {
            let body = serde_json::json!({"name": name, "role": role, "buyers": buyer, "scopes": scope});
            let added = seller.call(reqwest::Method::POST, "/clients", Some(&body)).await?;
            println!(
                "client_id     {}
client_secret {}",
                text(&added["clientId"]),
                text(&added["clientSecret"])
            );
            println!("(the secret is not shown again; the token endpoint is /oauth2/token)");
        }
        ClientsCommand::List => {
            let mut table = comfy_table::Table::new();
            table.set_header(["client_id", "name", "role", "buyers", "scopes", "created"]);
            for c in seller.get("/clients").await?.as_array().into_iter().flatten() {
                let list =
                    |v: &serde_json::Value| v.as_array().into_iter().flatten().map(text).collect::<Vec<_>>().join(" ");
                table.add_row([
                    text(&c["clientId"]),
                    text(&c["name"]),
                    text(&c["role"]),
                    list(&c["buyers"]),
                    list(&c["scopes"]),
                    text(&c["createdAt"]),
                ]);
            }
            println!("{table}");
        }
        ClientsCommand::Revoke { client } => {
            seller.call(reqwest::Method::POST, "/revocation", Some(&serde_json::json!({"clientId": client}))).await?;
            println!("client {client} is revoked");
        }
    }
    Ok(())
}

async fn topology(seller: &Seller) -> anyhow::Result<()> {
    let network = seller.get("/topology").await?;
    let mut elements = comfy_table::Table::new();
    elements.set_header(["element", "driver", "ports"]);
    for e in network["elements"].as_array().into_iter().flatten() {
        let ports: Vec<String> = e["ports"].as_array().into_iter().flatten().map(text).collect();
        elements.add_row([text(&e["name"]), text(&e["driver"]), ports.join(", ")]);
    }
    let mut links = comfy_table::Table::new();
    links.set_header(["link", "capacity Mbit/s", "reserved Mbit/s", "S-VLANs in use"]);
    for l in network["links"].as_array().into_iter().flatten() {
        let vlans: Vec<String> = l["sVlans"].as_array().into_iter().flatten().map(text).collect();
        links.add_row([
            format!("{} – {}", text(&l["a"]), text(&l["z"])),
            text(&l["capacityMbps"]),
            text(&l["reservedMbps"]),
            vlans.join(","),
        ]);
    }
    let mut interfaces = comfy_table::Table::new();
    interfaces.set_header(["interface", "kind", "port", "site", "capacity Mbit/s", "reserved Mbit/s", "VLANs in use"]);
    for i in network["interfaces"].as_array().into_iter().flatten() {
        let claims: Vec<String> = i["vlans"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let vlans: Vec<String> = c["vlans"].as_array().into_iter().flatten().map(text).collect();
                if vlans.is_empty() { "all (one service)".to_owned() } else { vlans.join(",") }
            })
            .collect();
        let mut row: Vec<String> =
            [&i["name"], &i["kind"], &i["port"], &i["site"], &i["capacityMbps"], &i["reservedMbps"]].map(text).to_vec();
        row.push(claims.join("; "));
        interfaces.add_row(row);
    }
    println!("{elements}\n{links}\n{interfaces}\n{} services reserved", network["services"]);
    Ok(())
}

async fn deliveries(seller: &Seller, state: Option<String>, redeliver: Option<i64>) -> anyhow::Result<()> {
    if let Some(id) = redeliver {
        seller.call(reqwest::Method::POST, &format!("/deliveries/{id}/redeliver"), None).await?;
        println!("delivery {id} is queued again");
        return Ok(());
    }
    let query = state.map(|s| format!("?state={s}&limit=1000")).unwrap_or_else(|| "?limit=1000".into());
    let body = seller.get(&format!("/deliveries{query}")).await?;
    let mut table = comfy_table::Table::new();
    table.set_header(["id", "event", "state", "attempts", "last status", "last error", "listener"]);
    for d in body["deliveries"].as_array().into_iter().flatten() {
        table.add_row([
            text(&d["id"]),
            text(&d["eventType"]),
            text(&d["state"]),
            text(&d["attempts"]),
            text(&d["lastStatus"]),
            text(&d["lastError"]),
            text(&d["url"]),
        ]);
    }
    println!("{table}");
    println!("{} pending, {} delivered, {} dead", body["pending"], body["delivered"], body["dead"]);
    Ok(())
}

async fn catalog(tls: &ClientTls, command: CatalogCommand) -> anyhow::Result<()> {
    match command {
        CatalogCommand::Lifecycle { offering, status, reason, url, data_dir } => {
            let body = serde_json::json!({"lifecycleStatus": status, "statusReason": reason});
            let path = format!("/catalog/offering/{offering}/lifecycle");
            let seller = tls.seller(url, data_dir)?;
            let changed = seller.call(reqwest::Method::POST, &path, Some(&body)).await?;
            println!("{offering} is {}", text(&changed["lifecycleStatus"]));
            Ok(())
        }
        CatalogCommand::Reload { url, data_dir } => {
            let seller = tls.seller(url, data_dir)?;
            let answer = seller.call(reqwest::Method::POST, "/catalog/reload", None).await?;
            let added = answer["addedProductOffering"].as_array().cloned().unwrap_or_default();
            println!("{} offerings added: {}", added.len(), added.iter().map(text).collect::<Vec<_>>().join(", "));
            Ok(())
        }
        CatalogCommand::Import { dir, data_dir } => {
            let data = server::DataDir::open(&data_dir)?;
            let mut catalog = lso_spec::Catalog::default();
            let (tree, report) = lso_spec::import::import_tree(&dir, &mut catalog)
                .with_context(|| format!("failed to import {}", dir.display()))?;
            let name: String = dir
                .components()
                .rev()
                .take(2)
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("-");
            tree.save(&data.catalog().join(&name)).context("failed to save the imported specifications")?;
            for repair in &report.repairs {
                println!("repaired {repair}");
            }
            for (id, reason) in &report.failed {
                println!("FAILED {id}: {reason}");
            }
            println!(
                "{}: {} files, {} specifications compiled, {} failed; saved as {}",
                dir.display(),
                report.files,
                report.compiled.len(),
                report.failed.len(),
                data.catalog().join(&name).display()
            );
            anyhow::ensure!(report.failed.is_empty(), "{} specifications did not compile", report.failed.len());
            Ok(())
        }
        CatalogCommand::List { data_dir } => {
            let catalog = server::DataDir::open(&data_dir)?.load_catalog()?;
            let mut table = comfy_table::Table::new();
            table.set_header(["specification (@type)", "name", "orderable", "origin"]);
            for spec in catalog.specs() {
                table.add_row([
                    spec.id.as_str(),
                    spec.name.as_str(),
                    if spec.orderable { "yes" } else { "no" },
                    spec.origin.as_str(),
                ]);
            }
            println!("{table}");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler installs");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
