//! `bench order`: three runs on the release build, each against a fresh data directory.
//!
//! 1. ceiling: the bare handler of [`crate::raw`], loaded like `lso` for the same time;
//! 2. creation: `POST /productOrder` by `buyers` concurrent Buyers for `seconds`;
//! 3. end to end: `orders` orders from `acknowledged` to `completed`, with every notification
//!    delivered to a listener, and the server's peak RSS.

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What to run.
pub struct Options {
    pub(crate) seconds: u64,
    orders: usize,
    pub(crate) buyers: usize,
    tls: bool,
    tokens: bool,
    traces: bool,
    postgres: bool,
    /// On PostgreSQL, the most nodes measured (each count from one up).
    pub(crate) nodes: usize,
}

impl Options {
    /// Parses `--seconds N --orders N --buyers N --nodes N --tls --tokens --traces --postgres`.
    pub fn parse(args: &[&str]) -> anyhow::Result<Self> {
        const MODES: [&str; 4] = ["--tls", "--tokens", "--traces", "--postgres"];
        let [tls, tokens, traces, postgres] = MODES.map(|mode| args.contains(&mode));
        let args: Vec<&str> = args.iter().copied().filter(|a| !MODES.contains(a)).collect();
        let mut options = Options { seconds: 60, orders: 10_000, buyers: 64, tls, tokens, traces, postgres, nodes: 1 };
        for pair in args.chunks(2) {
            let value = pair.get(1).context("a flag without a value")?;
            match pair[0] {
                "--seconds" => options.seconds = value.parse()?,
                "--orders" => options.orders = value.parse()?,
                "--buyers" => options.buyers = value.parse()?,
                "--nodes" => options.nodes = value.parse()?,
                other => bail!("unknown flag {other}"),
            }
        }
        Ok(options)
    }
}

/// A child process, killed when dropped.
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lso_binary() -> PathBuf {
    workspace().join("target/release/lso")
}

/// Builds the release `lso`.
pub(crate) fn build_lso() -> anyhow::Result<()> {
    let status =
        Command::new("cargo").current_dir(workspace()).args(["build", "--release", "--quiet", "-p", "lso"]).status()?;
    anyhow::ensure!(status.success(), "building lso failed");
    Ok(())
}

/// Runs the three benchmarks and prints their figures.
pub fn order(options: &Options) -> anyhow::Result<()> {
    build_lso()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        println!(
            "machine: {} cores; {} concurrent buyers; release build",
            std::thread::available_parallelism()?.get(),
            options.buyers
        );
        let body = Bytes::from(serde_json::to_vec(&order_body())?);
        if options.tls {
            return over_tls(options, body).await;
        }
        if options.tokens {
            return with_tokens(options, body).await;
        }
        if options.traces {
            return with_traces(options, body).await;
        }
        if options.postgres {
            return crate::pg::order(options, body).await;
        }
        let ceiling = ceiling(options, body.clone()).await?;
        ceiling.print("ceiling: bare handler + SQLite group commit");
        let (creation, creation_rss) = creation(options, body.clone()).await?;
        creation.print("lso: POST /productOrder");
        println!("  server peak RSS {:.0} MB", creation_rss as f64 / 1024.0);
        println!(
            "  ratio to the ceiling: throughput {:.2}, p99 {:.2}",
            creation.throughput() / ceiling.throughput(),
            creation.percentile(0.99).as_secs_f64() / ceiling.percentile(0.99).as_secs_f64()
        );
        end_to_end(options, body).await
    })
}

pub(crate) fn order_body() -> Value {
    let catalog = lso_spec::Catalog::built_in().expect("the built-in catalog loads");
    let evpl = catalog.get("urn:mef:lso:spec:cantata-sonata:evpl-evc:v1.0.0:all").expect("EVPL is built in");
    let contact =
        |role: &str| json!({"name": "Bench", "emailAddress": "bench@buyer.example", "number": "1", "role": role});
    json!({
        "externalId": "bench",
        "relatedContactInformation": [contact("productOrderContact")],
        "productOrderItem": [{
            "id": "1", "action": "add", "requestedCompletionDate": "2099-01-01T00:00:00Z",
            "billingAccount": {"id": "ba"},
            "requestedItemTerm": {"name": "1y", "duration": {"amount": 12, "units": "calendarMonths"}, "endOfTermAction": "autoRenew"},
            "relatedContactInformation": [contact("buyerProductOrderItemContact"), contact("buyerImplementationContact"), contact("buyerTechnicalContact")],
            "product": {"productOffering": {"id": "o"}, "productConfiguration": evpl.example}
        }]
    })
}

/// Latencies of one run.
pub(crate) struct Run {
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Vec<u32>,
    pub(crate) errors: usize,
}

impl Run {
    pub(crate) fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn percentile(&self, p: f64) -> Duration {
        let index = ((self.latencies.len() as f64 * p) as usize).min(self.latencies.len().saturating_sub(1));
        Duration::from_micros(self.latencies.get(index).copied().unwrap_or_default() as u64)
    }

    pub(crate) fn print(&self, name: &str) {
        println!(
            "{name}: {} requests in {:.1} s = {:.0}/s; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} errors",
            self.latencies.len(),
            self.elapsed.as_secs_f64(),
            self.throughput(),
            self.percentile(0.50).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0,
            self.percentile(1.0).as_secs_f64() * 1000.0,
            self.errors
        );
    }
}

/// POSTs `body` to `url` from one task per token until `deadline` or until `budget` requests
/// were sent; returns the latencies and the created ids.
async fn load(url: &str, tokens: &[String], body: Bytes, deadline: Instant, budget: usize) -> (Run, Vec<String>) {
    Load { urls: &[url.to_owned()], tokens, body, deadline, budget, every: None }.run().await
}

/// A load: `body` POSTed from one task per token, each to one of `urls` in turn, until
/// `deadline` or until `budget` requests were sent; each task as fast as answers come, or at
/// most once `every` interval.
pub(crate) struct Load<'a> {
    pub(crate) urls: &'a [String],
    pub(crate) tokens: &'a [String],
    pub(crate) body: Bytes,
    pub(crate) deadline: Instant,
    pub(crate) budget: usize,
    pub(crate) every: Option<Duration>,
}

impl Load<'_> {
    /// Sends it; the latencies and the created ids.
    pub(crate) async fn run(self) -> (Run, Vec<String>) {
        let client = reqwest::Client::builder().pool_max_idle_per_host(self.tokens.len()).build().expect("client");
        self.run_with(&client).await
    }

    /// [`Load::run`] with `client`.
    pub(crate) async fn run_with(self, client: &reqwest::Client) -> (Run, Vec<String>) {
        let Load { urls, tokens, body, deadline, budget, every } = self;
        let sent = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (n, token) in tokens.iter().enumerate() {
            let (client, url, token, body, sent) =
                (client.clone(), urls[n % urls.len()].clone(), token.clone(), body.clone(), sent.clone());
            tasks.spawn(async move {
                let (mut latencies, mut ids, mut errors) = (Vec::new(), Vec::new(), 0);
                // A late tick is skipped, not made up for: the offered rate never bursts.
                let mut pace = every.map(|every| {
                    let mut pace = tokio::time::interval(every);
                    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    pace
                });
                while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < budget {
                    if let Some(pace) = &mut pace {
                        pace.tick().await;
                    }
                    let begun = Instant::now();
                    let response = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status() == StatusCode::CREATED.as_u16() => {
                            let text = r.text().await.unwrap_or_default();
                            latencies.push(begun.elapsed().as_micros() as u32);
                            if let Some(id) = serde_json::from_str::<Value>(&text)
                                .ok()
                                .and_then(|v| v["id"].as_str().map(str::to_owned))
                            {
                                ids.push(id);
                            }
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, ids, errors)
            });
        }
        let mut run = Run { elapsed: Duration::ZERO, latencies: Vec::new(), errors: 0 };
        let mut ids = Vec::new();
        while let Some(Ok((latencies, created, errors))) = tasks.join_next().await {
            run.latencies.extend(latencies);
            ids.extend(created);
            run.errors += errors;
        }
        run.elapsed = start.elapsed();
        run.latencies.sort_unstable();
        (run, ids)
    }
}

async fn ceiling(options: &Options, body: Bytes) -> anyhow::Result<Run> {
    let dir = tempfile_dir("raw")?;
    bare(options, body, &["raw-server".as_ref(), "127.0.0.1:0".as_ref(), dir.join("raw.db").as_os_str()]).await
}

/// Loads the bare handler this program serves when run with `args`, like `lso`.
pub(crate) async fn bare(options: &Options, body: Bytes, args: &[&std::ffi::OsStr]) -> anyhow::Result<Run> {
    let mut child = Command::new(std::env::current_exe()?).args(args).stdout(Stdio::piped()).spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let address = lines.next().context("the raw server exited")??.trim_start_matches("serving ").to_owned();
    let _server = Process(child);
    let tokens = vec![String::new(); options.buyers];
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    Ok(load(&format!("http://{address}/raw"), &tokens, body, deadline, usize::MAX).await.0)
}

/// The data directory of a benchmark's `name`.
pub(crate) fn bench_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("lso-bench-{name}-{}", std::process::id()))
}

/// [`bench_dir`], made empty.
pub(crate) fn tempfile_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = bench_dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Starts the release `lso serve` on a fresh data directory; returns it, its address, the
/// Buyers' tokens and an operator token.
fn start_lso(name: &str, buyers: usize) -> anyhow::Result<(Process, String, Vec<String>, String)> {
    start_lso_with(name, buyers, &[], None)
}

/// [`start_lso`] with more environment variables `settings`.
fn start_lso_with(
    name: &str,
    buyers: usize,
    settings: &[(&str, String)],
    config: Option<&Path>,
) -> anyhow::Result<(Process, String, Vec<String>, String)> {
    start_node(name, buyers, settings, config, None)
}

/// [`start_lso_with`], signing with `keys` (another node's) when given.
pub(crate) fn start_node(
    name: &str,
    buyers: usize,
    settings: &[(&str, String)],
    config: Option<&Path>,
    keys: Option<&[u8]>,
) -> anyhow::Result<(Process, String, Vec<String>, String)> {
    let dir = tempfile_dir(name)?;
    if let Some(keys) = keys {
        std::fs::write(dir.join("signing-keys.json"), keys)?;
    }
    start_in(&dir, buyers, settings, config)
}

/// Starts the release `lso serve` on the data directory `dir` as it is; returns it, its
/// address, tokens of `buyers` Buyers and an operator token.
pub(crate) fn start_in(
    dir: &Path,
    buyers: usize,
    settings: &[(&str, String)],
    config: Option<&Path>,
) -> anyhow::Result<(Process, String, Vec<String>, String)> {
    let config: Vec<&std::ffi::OsStr> = config.map(|c| vec!["--config".as_ref(), c.as_os_str()]).unwrap_or_default();
    let mut child = Command::new(lso_binary())
        .envs(settings.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .args(config)
        .env("RUST_LOG", "lso_server=info,warn")
        .env("LSO_LOG_FORMAT", "json")
        .env("LSO_NOTIFICATIONS__FIRST_RETRY_MILLIS", "100")
        // Its listeners are on loopback.
        .env("LSO_NOTIFICATIONS__ALLOW_PRIVATE_CALLBACKS", "true")
        // The server's own ceiling is measured, not a client's limit.
        .env("LSO_HTTP__RATE_LIMIT_PER_SECOND", "0")
        // The product API's own cost: `bench evpl` measures fulfilment on the network.
        .env("LSO_FULFILMENT__BY", "inventory")
        .stderr(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
    let address = loop {
        let line = lines.next().context("lso exited before serving")??;
        let entry: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if entry["fields"]["message"] == "lso is serving" {
            break entry["fields"]["addr"].as_str().context("no address")?.to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let token = |args: &[String]| -> anyhow::Result<String> {
        let output = Command::new(lso_binary()).arg("token").arg("--data-dir").arg(dir).args(args).output()?;
        Ok(String::from_utf8(output.stdout)?.trim().to_owned())
    };
    let tokens =
        (0..buyers).map(|n| token(&["--buyer".into(), format!("BUYER-{n}")])).collect::<anyhow::Result<Vec<_>>>()?;
    let admin = token(&["--admin".into()])?;
    Ok((Process(child), address, tokens, admin))
}

/// Samples a process's resident set size until stopped; returns the peak in KiB.
pub(crate) fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_kib(pid).unwrap_or(0));
            std::thread::sleep(Duration::from_millis(50));
        }
        peak
    })
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Order creation over HTTPS against plain HTTP, the same load on two fresh Sellers one after
/// the other, and the ratio.
async fn over_tls(options: &Options, body: Bytes) -> anyhow::Result<()> {
    let files = tempfile::tempdir()?;
    let ca = lso_transport::testing::TestCa::new(files.path(), "bench");
    let issued = ca.issue("lso", &["127.0.0.1"]);
    let client = lso_transport::Outbound::load(Some(&ca.ca()), None)?
        .builder()
        .pool_max_idle_per_host(options.buyers)
        .build()?;
    let tls =
        vec![("LSO_TLS__CERT", issued.cert.display().to_string()), ("LSO_TLS__KEY", issued.key.display().to_string())];
    let runs =
        one_after_the_other(options, &body, &client, [("http", "http", vec![]), ("https", "https", tls)]).await?;
    println!(
        "ratio HTTPS to HTTP: throughput {:.2}, p99 {:.2}",
        runs[1].throughput() / runs[0].throughput(),
        runs[1].percentile(0.99).as_secs_f64() / runs[0].percentile(0.99).as_secs_f64()
    );
    Ok(())
}

/// A Seller to measure: its name, the scheme it serves, its environment.
type Variant<'a> = (&'a str, &'a str, Vec<(&'a str, String)>);

/// Order creation on fresh Sellers, one after the other: the run of each.
async fn one_after_the_other<const N: usize>(
    options: &Options,
    body: &Bytes,
    client: &reqwest::Client,
    sellers: [Variant<'_>; N],
) -> anyhow::Result<Vec<Run>> {
    let path = "/mefApi/sonata/productOrderingManagement/v10/productOrder";
    let mut runs = Vec::new();
    for (name, scheme, settings) in sellers {
        let (_server, address, tokens, _) = start_lso_with(name, options.buyers, &settings, None)?;
        let deadline = Instant::now() + Duration::from_secs(options.seconds);
        let (run, _) = Load {
            urls: &[format!("{scheme}://{address}{path}")],
            tokens: &tokens,
            body: body.clone(),
            deadline,
            budget: usize::MAX,
            every: None,
        }
        .run_with(client)
        .await;
        run.print(&format!("lso: POST /productOrder, {name}"));
        runs.push(run);
    }
    Ok(runs)
}

/// Order creation with every span exported over OTLP/HTTP (to a collector in the benchmark
/// that takes every batch) against no export, on two fresh Sellers one after the other.
async fn with_traces(options: &Options, body: Bytes) -> anyhow::Result<()> {
    let received = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let counting = received.clone();
    let collector = Router::new().route(
        "/v1/traces",
        post(move |batch: Bytes| {
            counting.0.fetch_add(1, Ordering::Relaxed);
            counting.1.fetch_add(batch.len() as u64, Ordering::Relaxed);
            async { StatusCode::OK }
        }),
    );
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}", socket.local_addr()?);
    tokio::spawn(async move { axum::serve(socket, collector).await });
    let client = reqwest::Client::builder().pool_max_idle_per_host(options.buyers).build()?;
    let exporting = vec![("LSO_TRACING__OTLP_ENDPOINT", endpoint), ("LSO_TRACING__SAMPLE_RATIO", "1.0".into())];
    let sellers = [("untraced", "http", vec![]), ("every span exported", "http", exporting)];
    let runs = one_after_the_other(options, &body, &client, sellers).await?;
    println!(
        "  the collector received {} batches, {:.1} MB",
        received.0.load(Ordering::Relaxed),
        received.1.load(Ordering::Relaxed) as f64 / 1e6
    );
    println!(
        "ratio exported to untraced: throughput {:.2}, p99 {:.2}",
        runs[1].throughput() / runs[0].throughput(),
        runs[1].percentile(0.99).as_secs_f64() / runs[0].percentile(0.99).as_secs_f64()
    );
    Ok(())
}

/// Order creation with the Buyers' tokens from an external identity provider (RS256 and
/// ES256, its keys from a JWKS) against a shared-secret issuer's (HS256), on one Seller.
async fn with_tokens(options: &Options, body: Bytes) -> anyhow::Result<()> {
    use jsonwebtoken::Algorithm;
    use lso_http::testing::IdpKey;
    let (rsa, es) = (IdpKey::new("rsa-1", Algorithm::RS256), IdpKey::new("es-1", Algorithm::ES256));
    let jwks = json!({"keys": [rsa.jwk(), es.jwk()]});
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let jwks_url = format!("http://{}/jwks", socket.local_addr()?);
    let app = Router::new().route("/jwks", axum::routing::get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(socket, app).await });
    let secret = "a secret shared with the bench issuer, 32+ characters";
    let files = tempfile::tempdir()?;
    let config = files.path().join("lso.toml");
    std::fs::write(
        &config,
        format!(
            "[[trusted_issuers]]\nissuer = \"https://idp.bench\"\naudience = \"lso\"\njwks_url = \"{jwks_url}\"\n\n\
             [[trusted_issuers]]\nissuer = \"https://shared.bench\"\naudience = \"lso\"\nhs256_secret = \"{secret}\"\n"
        ),
    )?;
    let (_server, address, _, _) = start_lso_with("tokens", 0, &[], Some(&config))?;
    let now = lso_model::Clock::now_seconds(&lso_model::SystemClock);
    let claims = |issuer: &str, n: usize| {
        json!({"iss": issuer, "aud": "lso", "sub": format!("b{n}"), "iat": now, "exp": now + 3600,
               "buyers": [format!("BUYER-{n}")], "scope": "sonata"})
    };
    let hs256 = |n: usize| {
        let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), &claims("https://shared.bench", n), &key)
    };
    let sets: [(&str, Vec<String>); 3] = [
        ("HS256 (shared secret)", (0..options.buyers).map(hs256).collect::<Result<_, _>>()?),
        ("RS256 (JWKS)", (0..options.buyers).map(|n| rsa.sign(&claims("https://idp.bench", n))).collect()),
        ("ES256 (JWKS)", (0..options.buyers).map(|n| es.sign(&claims("https://idp.bench", n))).collect()),
    ];
    let url = format!("http://{address}/mefApi/sonata/productOrderingManagement/v10/productOrder");
    let mut runs = Vec::new();
    for (name, tokens) in &sets {
        let deadline = Instant::now() + Duration::from_secs(options.seconds);
        let (run, _) = load(&url, tokens, body.clone(), deadline, usize::MAX).await;
        run.print(&format!("lso: POST /productOrder, {name} tokens"));
        runs.push(run);
    }
    for (n, (name, _)) in sets.iter().enumerate().skip(1) {
        println!("ratio {name} to HS256: throughput {:.2}", runs[n].throughput() / runs[0].throughput());
    }
    Ok(())
}

async fn creation(options: &Options, body: Bytes) -> anyhow::Result<(Run, u64)> {
    let (server, address, tokens, _) = start_lso("create", options.buyers)?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(server.0.id(), stop.clone());
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let url = format!("http://{address}/mefApi/sonata/productOrderingManagement/v10/productOrder");
    let (run, _) = load(&url, &tokens, body, deadline, usize::MAX).await;
    stop.store(true, Ordering::Relaxed);
    Ok((run, sampler.join().unwrap_or(0)))
}

#[derive(Clone, Default)]
pub(crate) struct Listener {
    completed: Arc<Mutex<HashSet<String>>>,
    events: Arc<AtomicU64>,
    pub(crate) arrived: Arc<Notify>,
}

impl Listener {
    /// The notifications received so far.
    pub(crate) fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
}

async fn listen(State(listener): State<Listener>, body: Bytes) -> StatusCode {
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    listener.events.fetch_add(1, Ordering::Relaxed);
    listener.arrived.notify_waiters();
    if event["eventType"] == "productOrderStateChangeEvent" {
        // The second state change of an order is its completion.
        let id = event["event"]["id"].as_str().unwrap_or_default().to_owned();
        let mut completed = listener.completed.lock().unwrap_or_else(|e| e.into_inner());
        if !completed.insert(format!("{id}/first")) {
            completed.insert(id);
        }
    }
    StatusCode::NO_CONTENT
}

/// A listener of the order events of the Buyers of `tokens` at the ordering API `base`.
pub(crate) async fn listening(client: &reqwest::Client, base: &str, tokens: &[String]) -> anyhow::Result<Listener> {
    let listener = Listener::default();
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let callback = format!("http://{}", socket.local_addr()?);
    let app = Router::new().route("/{*path}", post(listen)).with_state(listener.clone());
    tokio::spawn(async move { axum::serve(socket, app).await });
    for token in tokens {
        let response =
            client.post(format!("{base}/hub")).bearer_auth(token).json(&json!({"callback": callback})).send().await?;
        anyhow::ensure!(response.status().as_u16() == 201, "hub registration failed");
    }
    Ok(listener)
}

async fn end_to_end(options: &Options, body: Bytes) -> anyhow::Result<()> {
    let (server, address, tokens, admin) = start_lso("e2e", options.buyers)?;
    let client = reqwest::Client::new();
    let base = format!("http://{address}/mefApi/sonata/productOrderingManagement/v10");
    let listener = listening(&client, &base, &tokens).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(server.0.id(), stop.clone());
    let start = Instant::now();
    let far = start + Duration::from_secs(3600);
    let (submitted, ids) = load(&format!("{base}/productOrder"), &tokens, body, far, options.orders).await;
    let submit_time = start.elapsed();
    let outbox = finished(&client, &address, &admin, &listener, &ids).await?;
    let total = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap_or(0);
    println!(
        "lso end to end: {} orders submitted in {:.1} s ({} errors); all completed and {} notifications delivered ({} dead) in {:.1} s",
        ids.len(),
        submit_time.as_secs_f64(),
        submitted.errors,
        outbox["delivered"],
        outbox["dead"],
        total.as_secs_f64()
    );
    println!("  listener received {} events; server peak RSS {:.0} MB", listener.events(), peak as f64 / 1024.0);
    Ok(())
}

/// The outbox counts of the Seller at `address` once the orders `ids` were all announced
/// completed to `listener` and no notification is pending (10 minutes at most for each).
pub(crate) async fn finished(
    client: &reqwest::Client,
    address: &str,
    admin: &str,
    listener: &Listener,
    ids: &[String],
) -> anyhow::Result<Value> {
    // Each look goes through the orders not yet seen completed, fewer each time.
    let mut waiting: Vec<&String> = ids.iter().collect();
    let all = async || {
        let completed = listener.completed.lock().unwrap_or_else(|e| e.into_inner());
        waiting.retain(|id| !completed.contains(*id));
        waiting.is_empty().then_some(())
    };
    if lso_jobs::until_committed(&listener.arrived, Duration::from_secs(600), all).await.is_none() {
        bail!("{} of {} orders not completed in 10 minutes", waiting.len(), ids.len());
    }
    settled(client, address, admin, listener).await
}

/// The outbox counts of the Seller at `address` once no notification is pending, looked at
/// again as events reach `listener` (10 minutes at most).
async fn settled(client: &reqwest::Client, address: &str, admin: &str, listener: &Listener) -> anyhow::Result<Value> {
    let outbox = async || {
        let url = format!("http://{address}/lso/admin/v1/deliveries?limit=1");
        let counts = async { anyhow::Ok(client.get(url).bearer_auth(admin).send().await?.json::<Value>().await?) };
        match counts.await {
            Ok(counts) if counts["pending"] != 0 => None,
            other => Some(other),
        }
    };
    let outbox = lso_jobs::until_committed(&listener.arrived, Duration::from_secs(600), outbox).await;
    outbox.context("notifications still pending after 10 minutes")?
}
