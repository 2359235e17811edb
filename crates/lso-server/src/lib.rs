//! Starts a Seller: the data directory, the store, the catalog, the BUS with its worker and
//! notification dispatcher, the SOF, ICM and ECM beneath it, the partners it buys from, the
//! alarm monitor, and the HTTP server with its layers; stops it gracefully.

mod alarms;
pub mod audit;
pub mod config;
mod health;
mod identity;
mod metrics;
mod serviceability;

pub use config::Config;
pub use health::Health;

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use config::FulfilmentMode;
use lso_api_admin as admin;
use lso_bus::{Bus, BusConfig, Fulfilment, InventoryFulfilment, LegatoFulfilment, UuidIds};
use lso_http::{ApiError, Authenticator, BodyLimit};
use lso_model::{Clock, SystemClock};
use lso_notify::{Dispatcher, RetryPolicy, SelfAddresses};
use lso_spec::{Catalog, import};
use lso_store::Store;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// The issuer of `lso`'s own tokens unless `identity.issuer` says otherwise.
pub const DEFAULT_ISSUER: &str = "lso";

/// The files of a data directory.
#[derive(Debug, Clone)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    /// Opens `path`, creating it on first use.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(path)
            .with_context(|| format!("failed to create the data directory {}", path.display()))?;
        Ok(DataDir(path.to_owned()))
    }

    /// The SQLite database.
    pub fn database(&self) -> PathBuf {
        self.0.join("lso.db")
    }

    /// Where imported product-schema trees are kept.
    pub fn catalog(&self) -> PathBuf {
        self.0.join("catalog")
    }

    /// The file of the token signing keys (private).
    pub fn signing_keys_file(&self) -> PathBuf {
        self.0.join("signing-keys.json")
    }

    /// The token signing keys, a first one made (for tokens of issuer `lso`) on first use.
    pub fn signing_keys(&self) -> anyhow::Result<lso_http::keys::KeySet> {
        let path = self.signing_keys_file();
        if !path.exists() {
            let keys = lso_http::keys::KeySet::generate(DEFAULT_ISSUER, SystemClock.now_millis())?;
            write_private(&path, &keys.to_file()).with_context(|| format!("failed to write {}", path.display()))?;
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
        lso_http::keys::KeySet::from_file(&text).with_context(|| format!("{} is not a key file", path.display()))
    }

    /// A new signing key; the current one verifies for `overlap_seconds` more (the longest
    /// life of a token it signed). A running server reads the file again within seconds.
    pub fn rotate_signing_keys(&self, overlap_seconds: i64) -> anyhow::Result<lso_http::keys::KeySet> {
        let mut keys = self.signing_keys()?;
        keys.rotate(SystemClock.now_millis(), overlap_seconds * 1000)?;
        self.replace_signing_keys(&keys)?;
        Ok(keys)
    }

    /// The authenticator signing with this directory's keys.
    pub fn authenticator(&self) -> anyhow::Result<Authenticator> {
        Ok(Authenticator::new(self.signing_keys()?))
    }

    /// The signing keys, their tokens' issuer set to `issuer` (the file rewritten if it named
    /// another).
    pub fn signing_keys_of(&self, issuer: &str) -> anyhow::Result<lso_http::keys::KeySet> {
        let mut keys = self.signing_keys()?;
        if keys.issuer != issuer {
            keys.issuer = issuer.to_owned();
            self.replace_signing_keys(&keys)?;
        }
        Ok(keys)
    }

    fn replace_signing_keys(&self, keys: &lso_http::keys::KeySet) -> anyhow::Result<()> {
        let path = self.signing_keys_file();
        let fresh = self.0.join("signing-keys.json.new");
        let _ = std::fs::remove_file(&fresh);
        write_private(&fresh, &keys.to_file()).with_context(|| format!("failed to write {}", fresh.display()))?;
        std::fs::rename(&fresh, &path).with_context(|| format!("failed to replace {}", path.display()))
    }

    /// The built-in specifications and every imported tree.
    pub fn load_catalog(&self) -> anyhow::Result<Catalog> {
        let (catalog, failed) = import::built_in_and_saved(&self.catalog())
            .with_context(|| format!("failed to load the specifications imported in {}", self.catalog().display()))?;
        for (id, reason) in &failed {
            tracing::warn!(%id, %reason, "an imported specification does not compile");
        }
        Ok(catalog)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Element control for `topology`: an Open vSwitch or FRRouting driver for each element with
/// management settings, a simulated element for every other.
fn element_control(topology: &lso_icm::Topology) -> lso_ecm::Ecm {
    lso_ecm::Ecm::new(topology.elements.iter().map(|(name, ports)| {
        let element = match topology.management.get(name) {
            Some(lso_icm::Management::Ovs { ovsdb, openflow, bridge }) => {
                lso_ecm::Element::Ovs(Box::new(lso_ecm::OvsDriver::new(ovsdb, openflow, bridge)))
            }
            Some(lso_icm::Management::Frr { frr }) => lso_ecm::Element::Frr(lso_ecm::FrrDriver::new(frr)),
            None => lso_ecm::Element::Simulated(lso_ecm::SimulatedDriver::new(ports.clone())),
        };
        (name.clone(), element)
    }))
}

/// A running Seller.
pub struct Running {
    /// The address it serves on.
    pub addr: SocketAddr,
    /// Where `/metrics` is served without a token, if it has a listener of its own.
    pub metrics_addr: Option<SocketAddr>,
    /// Its business applications.
    pub bus: Arc<Bus>,
    /// Signs tokens for it.
    pub auth: Arc<Authenticator>,
    /// Its service orchestration.
    pub sof: Arc<lso_sof::Sof>,
    /// Its infrastructure control.
    pub icm: Arc<lso_icm::Icm>,
    /// Its element control.
    pub ecm: Arc<lso_ecm::Ecm>,
    /// The alarms element control has raised.
    pub alarms: Arc<lso_ecm::Alarms>,
    /// The listener's TLS, when it serves HTTPS.
    pub tls: Option<Arc<lso_transport::Reloading>>,
    monitor: alarms::AlarmMonitor,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Asks the elements for faults once, as the alarm monitor does, and passes the changes up
    /// the stack; the number of changes.
    pub async fn check_alarms(&self) -> usize {
        self.monitor.check().await
    }

    /// Stops accepting requests, finishes those in flight, then stops the background work.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Resolves when a stop was asked for.
    pub async fn stopped(&self) {
        let mut receiver = self.shutdown.subscribe();
        let _ = receiver.wait_for(|stop| *stop).await;
    }
}

/// Starts a Seller as `config` says, on the system's clock.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    start_with(config, Arc::new(SystemClock)).await
}

/// Starts a Seller as `config` says, telling time by `clock` (a test's fixed clock, say).
pub async fn start_with(config: &Config, clock: Arc<dyn lso_model::Clock>) -> anyhow::Result<Running> {
    let data = DataDir::open(&config.data_dir)?;
    let outbound = config.tls.outbound()?;
    let metrics = Arc::new(lso_metrics::Metrics::new());
    let http = outbound.client(Duration::from_secs(10))?;
    let trusted = config.trusted_issuers.iter().map(|t| t.trusted(&http)).collect();
    // Token endpoints are called without following redirects.
    let token_http = outbound
        .builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut partner_credentials = std::collections::HashMap::new();
    for partner in &config.partners {
        let credentials = lso_partners::credentials(&partner.token, partner.oauth.as_ref(), &token_http)
            .map_err(|e| anyhow::anyhow!("partner {}: {e}", partner.name))?;
        partner_credentials.insert(partner.name.clone(), credentials);
    }
    let auth = Arc::new(Authenticator::new(data.signing_keys_of(&config.identity.issuer)?).trusting(trusted));
    let catalog: lso_bus::CatalogHandle = Arc::new(data.load_catalog()?).into();
    let store = if config.database_url.is_empty() {
        Store::open(&data.database())
            .with_context(|| format!("failed to open the database {}", data.database().display()))?
    } else {
        let ca = (!config.tls.ca.is_empty()).then(|| Path::new(&config.tls.ca));
        Store::connect(&config.database_url, ca).await.context("failed to connect to the PostgreSQL database")?
    };
    let topology = config.network.load()?;
    let (ecm, adagio) = if config.network.adagio_url.is_empty() {
        let ecm = Arc::new(element_control(&topology).with_metrics(metrics.clone()));
        (ecm.clone(), ecm as Arc<dyn lso_adagio::Adagio>)
    } else {
        // The elements are another process's: this one controls none itself.
        let network = &config.network;
        let credentials = lso_partners::credentials(&network.adagio_token, network.adagio_oauth.as_ref(), &token_http)
            .map_err(|e| anyhow::anyhow!("network.adagio: {e}"))?;
        let base = format!("{}{}", network.adagio_url.trim_end_matches('/'), lso_api_adagio::BASE);
        let remote = lso_api_adagio::AdagioClient::connect(&base, credentials, http.clone())
            .await
            .with_context(|| format!("the ECM at {} cannot be reached", network.adagio_url))?;
        (Arc::new(lso_ecm::Ecm::new([])), Arc::new(remote) as Arc<dyn lso_adagio::Adagio>)
    };
    let icm = Arc::new(
        lso_icm::Icm::open(topology, store.clone(), adagio.clone())
            .await
            .context("failed to start infrastructure control")?,
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("failed to listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let origin = config.origin(addr);
    let this_server = SelfAddresses {
        allow_private_callbacks: config.notifications.allow_private_callbacks,
        ..SelfAddresses::new(addr, &origin)
    };
    let presto: Arc<dyn lso_presto::Presto> = if config.network.presto_url.is_empty() {
        icm.clone()
    } else {
        let credentials =
            lso_partners::credentials(&config.network.presto_token, config.network.presto_oauth.as_ref(), &token_http)
                .map_err(|e| anyhow::anyhow!("network.presto: {e}"))?;
        Arc::new(lso_api_presto::PrestoClient::new(&config.network.presto_url, credentials, http.clone()))
    };
    let ip_pool =
        config.network.ip_pool.parse().map_err(|reason: String| anyhow::anyhow!("`network.ip_pool`: {reason}"))?;
    let sof = Arc::new(
        lso_sof::Sof::new(store.clone(), presto, clock.clone(), Arc::new(UuidIds), this_server.clone())
            .with_ip_pool(ip_pool),
    );
    let legato: Arc<dyn lso_legato::Legato> = if config.fulfilment.legato_url.is_empty() {
        sof.clone()
    } else {
        let fulfilment = &config.fulfilment;
        let credentials =
            lso_partners::credentials(&fulfilment.legato_token, fulfilment.legato_oauth.as_ref(), &token_http)
                .map_err(|e| anyhow::anyhow!("fulfilment.legato: {e}"))?;
        Arc::new(lso_api_legato::LegatoClient::new(&fulfilment.legato_url, credentials, http.clone()))
    };
    let geography = Arc::new(config.geography.load()?);
    let partners = (config.fulfilment.by == FulfilmentMode::Network && !config.partners.is_empty()).then(|| {
        let contact = &config.seller_contact;
        let buyer = lso_partners::BuyerSide {
            contact: lso_partners::orders::BuyerContact {
                name: contact.name.clone(),
                email_address: contact.email_address.clone(),
                number: contact.number.clone(),
            },
            callback: origin.clone(),
            clock: clock.clone(),
            http: http.clone(),
            metrics: metrics.clone(),
            credentials: partner_credentials.clone(),
        };
        Arc::new(lso_partners::PartnerFulfilment::new(
            Arc::new(LegatoFulfilment::new(legato.clone(), catalog.clone(), store.clone())),
            legato.clone(),
            store.clone(),
            config.partners.clone(),
            geography.clone(),
            buyer,
        ))
    });
    let fulfilment: Arc<dyn Fulfilment> = match config.fulfilment.by {
        FulfilmentMode::Network if let Some(partners) = &partners => partners.clone(),
        FulfilmentMode::Network => Arc::new(LegatoFulfilment::new(legato.clone(), catalog.clone(), store.clone())),
        FulfilmentMode::Inventory => Arc::new(InventoryFulfilment::new(catalog.clone(), config.fulfilment.time_scale)),
    };
    let contact = &config.seller_contact;
    let serviceability =
        serviceability::NetworkServiceability { icm: icm.clone(), sof: sof.clone(), geography: geography.clone() };
    let bus = Bus::new(
        store.clone(),
        catalog.clone(),
        clock.clone(),
        Arc::new(UuidIds),
        fulfilment,
        BusConfig {
            seller_contact: serde_json::json!({
                "name": contact.name, "emailAddress": contact.email_address, "number": contact.number, "role": "sellerContact"
            }),
            self_addresses: this_server,
            charges: config.charges.policy(),
            quotes: config.quotes.policy(),
            workforce: config.workforce.policy(),
            billing: lso_bus::BillingPolicy {
                tax_rate: config.billing.tax_rate_percent,
                payment_days: config.billing.payment_days,
            },
            agreements: config.price_agreements.iter().map(crate::config::PriceAgreement::policy).collect(),
            conformance: config.conformance.mode,
        },
    )
    .with_serviceability(Arc::new(serviceability))
    .with_wake(lso_jobs::JobHandler::wake(&*sof));
    // Tickets on products bought from partners are followed up at the partner.
    let bus = Arc::new(match partners {
        Some(_) => bus.with_ticket_follow_up(lso_partners::FOLLOW_UP),
        None => bus,
    });
    let policy = RetryPolicy {
        first_delay: Duration::from_millis(config.notifications.first_retry_millis),
        max_delay: Duration::from_millis(config.notifications.max_retry_millis),
        max_attempts: config.notifications.max_attempts,
        ..RetryPolicy::default()
    };
    let (shutdown, stop) = watch::channel(false);
    let alarms = Arc::new(lso_ecm::Alarms::default());
    let health = health::Health::new(store.clone());
    let (audit_trail, audit_writer) = bus.audit_trail();
    let scrape =
        metrics::Scrape { metrics: metrics.clone(), store: store.clone(), clock: clock.clone(), auth: auth.clone() };
    let layers = Layers {
        partners: partners.clone(),
        sof: sof.clone(),
        icm: icm.clone(),
        ecm: ecm.clone(),
        adagio,
        alarms: alarms.clone(),
        legato: legato.clone(),
        geography,
        addr,
        origin: origin.clone(),
        health: health.clone(),
        scrape: scrape.clone(),
        foreground: lso_jobs::Foreground::default(),
    };
    // The router holds the trail's only senders: once the server has stopped, the writer
    // writes what is left and ends.
    let auditing = audit::Auditing { trail: audit_trail, clock: clock.clone() };
    let app = app(bus.clone(), auth.clone(), &layers, config, auditing);
    let audit_writer = tokio::spawn(audit_writer);
    let mut tasks = Vec::new();
    let tls = config.tls.server().map(lso_transport::Reloading::new).transpose()?;
    if let Some(tls) = &tls {
        tasks.push(tokio::spawn(tls.clone().watch(stopping(stop.clone()))));
    }
    tasks.push(tokio::spawn(identity::watch_credentials(auth.clone(), bus.clone(), data, stopping(stop.clone()))));
    let server = serve_on(listener, tls.as_ref(), app, stop.clone())?;
    let metrics_addr = match config.metrics.listen.parse::<SocketAddr>() {
        Ok(at) => {
            let scraping = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("failed to listen on {at} for metrics"))?;
            let metrics_addr = scraping.local_addr()?;
            // With a client CA of its own, its TLS is re-read on change like the main one's.
            let own = config.metrics.tls(&config.tls).map(lso_transport::Reloading::new).transpose()?;
            if let Some(own) = &own {
                tasks.push(tokio::spawn(own.clone().watch(stopping(stop.clone()))));
            }
            let scraping_tls = own.as_ref().or(tls.as_ref());
            tasks.push(serve_on(scraping, scraping_tls, metrics::open_router(scrape), stop.clone())?);
            Some(metrics_addr)
        }
        Err(_) => None,
    };
    let mut worker = lso_jobs::Worker::new(store.clone(), clock.clone())
        .with_handler(bus.clone())
        .with_handler(sof.clone())
        .yielding_to(layers.foreground.clone());
    if let Some(partners) = partners {
        worker = worker.with_handler(partners.clone());
        worker = worker.with_handler(Arc::new(lso_partners::PartnerTickets::new(partners, bus.clone())));
    }
    let following = tokio::spawn(bus.clone().follow_service_orders(legato.clone(), stop.clone()));
    let worker = tokio::spawn(worker.run(stop.clone()));
    let every = Duration::from_millis(config.network.alarm_poll_millis);
    let monitor = alarms::AlarmMonitor::new(&layers, bus.clone(), clock.clone());
    let monitoring = tokio::spawn(monitor.clone().run(every, stop.clone()));
    let inside = config.notifications.allow_private_callbacks;
    let dispatcher = Dispatcher::new(store, clock, policy, bus.wake(), outbound.builder(), inside)
        .context("the notification client cannot be built")?
        .with_metrics(metrics.clone());
    let dispatcher = tokio::spawn(dispatcher.run(stop));
    tracing::info!(%addr, %origin, data_dir = %config.data_dir.display(), "lso is serving");
    health.running(vec![
        ("worker", worker.abort_handle()),
        ("dispatcher", dispatcher.abort_handle()),
        ("serviceOrderFollower", following.abort_handle()),
        ("alarmMonitor", monitoring.abort_handle()),
    ]);
    tasks.extend([server, audit_writer, worker, following, monitoring, dispatcher]);
    Ok(Running { addr, metrics_addr, bus, auth, sof, icm, ecm, alarms, tls, monitor, shutdown, tasks })
}

/// Resolves when `stop` turns true (or its sender is gone).
async fn stopping(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Serves `app` on `listener` (over TLS if `tls`) until `stop`, in a task of its own.
fn serve_on(
    listener: tokio::net::TcpListener,
    tls: Option<&Arc<lso_transport::Reloading>>,
    app: Router,
    stop: watch::Receiver<bool>,
) -> std::io::Result<JoinHandle<()>> {
    Ok(match tls {
        None => tokio::spawn(serve(listener, app, stop)),
        Some(tls) => tokio::spawn(serve(lso_transport::TlsListener::new(listener, tls.clone())?, app, stop)),
    })
}

/// Serves `app` on `listener` until `stop`, finishing the requests in flight.
/// Each request knows the address it comes from (`ConnectInfo<Peer>`).
async fn serve<L>(listener: L, app: Router, stop: watch::Receiver<bool>)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
    for<'a> lso_transport::Peer: axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    let app = app.into_make_service_with_connect_info::<lso_transport::Peer>();
    if let Err(err) = axum::serve(listener, app).with_graceful_shutdown(stopping(stop)).await {
        tracing::error!(error = %err, "the HTTP server failed");
    }
}

/// The service, infrastructure and element control of a Seller.
#[derive(Clone)]
pub struct Layers {
    /// Service orchestration.
    pub sof: Arc<lso_sof::Sof>,
    /// Infrastructure control.
    pub icm: Arc<lso_icm::Icm>,
    /// Element control of this process (serving Adagio).
    pub ecm: Arc<lso_ecm::Ecm>,
    /// The element control the ICM uses: this process's, or another's over Adagio.
    pub adagio: Arc<dyn lso_adagio::Adagio>,
    /// The alarms element control has raised.
    pub alarms: Arc<lso_ecm::Alarms>,
    /// The SOF the BUS sends its service orders to (this one, or another lso's).
    pub legato: Arc<dyn lso_legato::Legato>,
    /// The addresses and sites the Seller knows.
    pub geography: Arc<lso_geo::Geography>,
    /// The address the Seller serves on.
    pub addr: SocketAddr,
    /// The root URL of the `href`s it writes (`public_url`, or its listen address).
    pub origin: String,
    /// The partners it buys off-net access from, if any.
    pub partners: Option<Arc<lso_partners::PartnerFulfilment>>,
    /// What its readiness looks at.
    pub health: Arc<health::Health>,
    /// What its metrics read.
    pub scrape: metrics::Scrape,
    /// The requests it is answering, which its background steps give way to.
    pub foreground: lso_jobs::Foreground,
}

/// The HTTP application: the product APIs, Legato, Presto, Adagio, the operators' API, and the
/// common layers.
pub fn app(
    bus: Arc<Bus>,
    auth: Arc<Authenticator>,
    layers: &Layers,
    config: &Config,
    auditing: audit::Auditing,
) -> Router {
    let sellers = Arc::new(config.sellers.clone());
    let state = lso_api_product::ApiState {
        bus: bus.clone(),
        auth: auth.clone(),
        sellers: sellers.clone(),
        geography: layers.geography.clone(),
        catalog_time: lso_model::DateTime::from_millis(bus.clock().now_millis()).as_str().to_owned(),
        origin: layers.origin.clone(),
    };
    let allegro_state = |audience| lso_api_allegro::AllegroState {
        audience,
        bus: bus.clone(),
        sof: layers.sof.clone(),
        icm: layers.icm.clone(),
        alarms: layers.alarms.clone(),
        auth: auth.clone(),
        sellers: sellers.clone(),
        partners: layers.partners.clone().map(|p| p as Arc<dyn lso_api_allegro::PartnerLegs>),
    };
    let origin = &layers.origin;
    let operators = lso_api_legato::SofState::operators(layers.sof.clone(), auth.clone());
    let outbox = lso_notify::Outbox::new(bus.store().clone(), bus.wake());
    // Partners' notifications, when there are partners.
    let partners = match &layers.partners {
        Some(partners) => lso_partners::listener(bus.clone(), layers.sof.clone(), partners.clone()),
        None => Router::new(),
    };
    let request_id = HeaderName::from_static("x-request-id");
    let limited = (config.http.rate_limit_per_second > 0.0)
        .then(|| Arc::new(lso_http::RateLimiter::new(config.http.rate_limit_per_second, config.http.rate_limit_burst)));
    lso_api_product::router(state)
        .merge(lso_api_legato::router(operators.clone()))
        .merge(lso_api_presto::router(lso_api_presto::PrestoState::new(
            layers.icm.clone(),
            layers.alarms.clone(),
            auth.clone(),
        )))
        .merge(lso_api_adagio::router(lso_api_adagio::AdagioState {
            ecm: layers.ecm.clone(),
            alarms: layers.alarms.clone(),
            auth: auth.clone(),
        }))
        .merge(lso_api_allegro::routers(allegro_state(lso_api_allegro::Audience::Allegro), origin))
        .merge(lso_api_allegro::routers(allegro_state(lso_api_allegro::Audience::Interlude), origin))
        .merge(lso_api_legato::streaming::router(operators, "/mefApi/legato/streamingManagement/v1", origin))
        .merge(partners)
        .merge(health::router(layers.health.clone()))
        .merge(identity::router(auth.clone()))
        .merge(identity::token_router(identity::Issuing {
            bus: bus.clone(),
            auth: auth.clone(),
            ttl_seconds: config.identity.token_ttl_seconds,
        }))
        .merge(metrics::router(layers.scrape.clone()))
        .merge(admin::router(admin::AdminParts {
            bus,
            auth,
            sellers,
            icm: layers.icm.clone(),
            legato: layers.legato.clone(),
            catalog_dir: DataDir(config.data_dir.clone()).catalog(),
            outbox,
        }))
        .layer(axum::middleware::from_fn_with_state(auditing, audit::record))
        .layer(axum::middleware::from_fn_with_state(layers.scrape.metrics.clone(), metrics::count_requests))
        .layer(axum::middleware::from_fn_with_state(layers.foreground.clone(), answering))
        .fallback(lso_http::not_found_fallback)
        .method_not_allowed_fallback(lso_http::method_not_allowed_fallback)
        .layer(axum::Extension(BodyLimit(config.http.body_limit_bytes)))
        .layer(axum::middleware::from_fn(move |mut request: Request, next: axum::middleware::Next| {
            if let Some(limiter) = &limited {
                request.extensions_mut().insert(limiter.clone());
            }
            next.run(request)
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(config.http.request_timeout_seconds),
        ))
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            ApiError::Internal.into_response()
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(request_span).on_response(
            |response: &axum::response::Response, _: Duration, span: &tracing::Span| {
                span.record("http.response.status_code", response.status().as_u16());
                if response.status().is_server_error() {
                    span.record("otel.status_code", "ERROR");
                }
            },
        ))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Counts the request as in flight until its response is ready (a streamed body not included).
async fn answering(
    State(foreground): State<lso_jobs::Foreground>,
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let _answering = foreground.answering();
    next.run(request).await
}

/// The span of one request, continuing the trace its caller sent (W3C `traceparent`), named
/// after the method and the API it is for.
fn request_span(request: &Request) -> tracing::Span {
    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
    let path = request.uri().path();
    let (point, api) = lso_http::api_of(path);
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{} {point}/{api}", request.method()),
        otel.kind = "server",
        method = %request.method(),
        uri = %path,
        request_id = %id,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    lso_transport::trace::continue_request(&span, request.headers());
    span
}
