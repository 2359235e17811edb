//! Starts a Seller: the data directory, the store, the catalog, the BUS with its worker and
//! notification dispatcher, and the HTTP server with its layers; stops it gracefully.

use crate::admin;
use crate::config::Config;
use crate::config::FulfilmentMode;
use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use lso_bus::{Bus, BusConfig, Fulfilment, InventoryFulfilment, LegatoFulfilment, UuidIds, Worker};
use lso_http::{ApiError, Authenticator, BodyLimit};
use lso_model::SystemClock;
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

/// The files of a data directory.
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

    /// The token signing key, created on first use.
    pub fn signing_key(&self) -> anyhow::Result<Vec<u8>> {
        let path = self.0.join("signing.key");
        if !path.exists() {
            let key: [u8; 32] = rand::random();
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            write_private(&path, &hex).with_context(|| format!("failed to write {}", path.display()))?;
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
        let key = text.trim().as_bytes().to_vec();
        anyhow::ensure!(key.len() >= 32, "{} holds a key shorter than 32 characters", path.display());
        Ok(key)
    }

    /// The authenticator using this directory's key.
    pub fn authenticator(&self) -> anyhow::Result<Authenticator> {
        Ok(Authenticator::from_secret(&self.signing_key()?))
    }

    /// The built-in specifications and every imported tree.
    pub fn load_catalog(&self) -> anyhow::Result<Catalog> {
        let mut catalog = Catalog::built_in().context("the built-in product specifications do not load")?;
        let root = self.catalog();
        if root.exists() {
            let mut trees: Vec<PathBuf> = std::fs::read_dir(&root)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
            trees.sort();
            for tree in trees.into_iter().filter(|p| p.is_dir()) {
                let mut imported = Catalog::default();
                let (_, report) = import::import_tree(&tree, &mut imported)
                    .with_context(|| format!("failed to load the imported specifications in {}", tree.display()))?;
                for (id, reason) in &report.failed {
                    tracing::warn!(%id, %reason, "an imported specification does not compile");
                }
                for spec in imported.specs() {
                    if catalog.get(&spec.id).is_none() {
                        catalog.add_shared(spec.clone());
                    }
                }
            }
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

/// A running Seller.
pub struct Running {
    /// The address it serves on.
    pub addr: SocketAddr,
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
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Asks the elements for faults once, as the alarm monitor does, and passes the changes up
    /// the stack; the number of changes.
    pub async fn check_alarms(&self) -> usize {
        check_alarms(&self.alarms, &self.ecm, &self.sof, &self.icm, &self.bus).await
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

/// Starts a Seller as `config` says.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    let data = DataDir::open(&config.data_dir)?;
    let auth = Arc::new(data.authenticator()?);
    let catalog: lso_bus::CatalogHandle = Arc::new(data.load_catalog()?).into();
    let store = if config.database_url.is_empty() {
        Store::open(&data.database())
            .with_context(|| format!("failed to open the database {}", data.database().display()))?
    } else {
        Store::connect(&config.database_url).await.context("failed to connect to the PostgreSQL database")?
    };
    let topology = config.network.load()?;
    let ecm = Arc::new(lso_icm::element_control(&topology));
    let icm = Arc::new(
        lso_icm::Icm::open(topology, store.clone(), ecm.clone())
            .await
            .context("failed to start infrastructure control")?,
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("failed to listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let clock = Arc::new(SystemClock);
    let mut sof =
        lso_sof::Sof::new(store.clone(), icm.clone(), clock.clone(), Arc::new(UuidIds), SelfAddresses(vec![addr]));
    if !config.network.presto_url.is_empty() {
        let presto = lso_api_presto::PrestoClient::new(&config.network.presto_url, &config.network.presto_token.0);
        sof = sof.with_presto(Arc::new(presto));
    }
    let sof = Arc::new(sof);
    let legato: Arc<dyn lso_sof::Legato> = if config.fulfilment.legato_url.is_empty() {
        sof.clone()
    } else {
        Arc::new(lso_api_legato::LegatoClient::new(&config.fulfilment.legato_url, &config.fulfilment.legato_token.0))
    };
    let geography = Arc::new(config.geography.load()?);
    let partners = (config.fulfilment.by == FulfilmentMode::Network && !config.partners.is_empty()).then(|| {
        Arc::new(crate::partners::PartnerFulfilment::new(
            Arc::new(LegatoFulfilment::new(legato.clone(), catalog.clone(), store.clone())),
            legato.clone(),
            store.clone(),
            config.partners.clone(),
            geography.clone(),
            &format!("http://{addr}"),
        ))
    });
    let fulfilment: Arc<dyn Fulfilment> = match config.fulfilment.by {
        FulfilmentMode::Network if let Some(partners) = &partners => partners.clone(),
        FulfilmentMode::Network => Arc::new(LegatoFulfilment::new(legato.clone(), catalog.clone(), store.clone())),
        FulfilmentMode::Inventory => Arc::new(InventoryFulfilment::new(catalog.clone(), config.fulfilment.time_scale)),
    };
    let contact = &config.seller_contact;
    let serviceability = crate::serviceability::NetworkServiceability {
        icm: icm.clone(),
        sof: sof.clone(),
        geography: geography.clone(),
    };
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
            self_addresses: SelfAddresses(vec![addr]),
            charges: config.charges.policy(),
            quotes: config.quotes.policy(),
            workforce: config.workforce.policy(),
            billing: lso_bus::BillingPolicy {
                tax_rate: config.billing.tax_rate_percent,
                payment_days: config.billing.payment_days,
            },
            agreements: config.price_agreements.iter().map(crate::config::PriceAgreement::policy).collect(),
        },
    )
    .with_serviceability(Arc::new(serviceability))
    .with_wake(lso_store::JobHandler::wake(&*sof));
    // Tickets on products bought from partners are followed up at the partner.
    let bus = Arc::new(match partners {
        Some(_) => bus.with_ticket_follow_up(crate::partner_tickets::FOLLOW_UP),
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
    let layers = Layers {
        partners: partners.clone(),
        sof: sof.clone(),
        icm: icm.clone(),
        ecm: ecm.clone(),
        alarms: alarms.clone(),
        legato: legato.clone(),
        geography,
        addr,
    };
    let app = app(bus.clone(), auth.clone(), &layers, config);
    let mut stop_server = stop.clone();
    let server = tokio::spawn(async move {
        let graceful = async move {
            let _ = stop_server.wait_for(|stop| *stop).await;
        };
        if let Err(err) = axum::serve(listener, app).with_graceful_shutdown(graceful).await {
            tracing::error!(error = %err, "the HTTP server failed");
        }
    });
    let mut worker = Worker::new(bus.clone()).with_handler(sof.clone());
    if let Some(partners) = partners {
        worker = worker.with_handler(partners.clone());
        worker = worker.with_handler(Arc::new(crate::partner_tickets::PartnerTickets::new(partners, bus.clone())));
    }
    let worker = tokio::spawn(worker.run(stop.clone()));
    let every = Duration::from_millis(config.network.alarm_poll_millis);
    let monitor = tokio::spawn(monitor_alarms(layers, bus.clone(), every, stop.clone()));
    let dispatcher = tokio::spawn(Dispatcher::new(store, clock, policy, bus.wake()).run(stop));
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "lso is serving");
    Ok(Running { addr, bus, auth, sof, icm, ecm, alarms, shutdown, tasks: vec![server, worker, monitor, dispatcher] })
}

/// The service, infrastructure and element control of a Seller.
#[derive(Clone)]
pub struct Layers {
    /// Service orchestration.
    pub sof: Arc<lso_sof::Sof>,
    /// Infrastructure control.
    pub icm: Arc<lso_icm::Icm>,
    /// Element control.
    pub ecm: Arc<lso_ecm::Ecm>,
    /// The alarms element control has raised.
    pub alarms: Arc<lso_ecm::Alarms>,
    /// The SOF the BUS sends its service orders to (this one, or another lso's).
    pub legato: Arc<dyn lso_sof::Legato>,
    /// The addresses and sites the Seller knows.
    pub geography: Arc<lso_geo::Geography>,
    /// The address the Seller serves on.
    pub addr: SocketAddr,
    /// The partners it buys off-net access from, if any.
    pub partners: Option<Arc<crate::partners::PartnerFulfilment>>,
}

/// Asks the elements for faults every `every` until `stop`.
async fn monitor_alarms(layers: Layers, bus: Arc<Bus>, every: Duration, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        check_alarms(&layers.alarms, &layers.ecm, &layers.sof, &layers.icm, &bus).await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Asks the elements for faults once, tells the services the changes touch and the BUS
/// (incidents, tickets); the number of changes.
async fn check_alarms(
    alarms: &lso_ecm::Alarms,
    ecm: &lso_ecm::Ecm,
    sof: &lso_sof::Sof,
    icm: &lso_icm::Icm,
    bus: &Bus,
) -> usize {
    let changes = alarms.poll(ecm, chrono::Utc::now().timestamp_millis()).await;
    for change in &changes {
        tracing::warn!(?change, "element alarm");
    }
    if let Err(err) = sof.on_alarms(&changes).await {
        tracing::error!(error = %err, "could not note alarms on the services");
    }
    for change in &changes {
        if let Err(err) = tell_bus(sof, icm, bus, change).await {
            tracing::error!(error = %err, "could not raise or close the incidents of an alarm");
        }
        if let Err(err) = tell_customers(sof, icm, bus, change).await {
            tracing::error!(error = %err, "could not tell the customers of an alarm on their services");
        }
    }
    changes.len()
}

/// Each customer (Allegro) and partner operator (Interlude) whose service an alarm touches hears
/// of it raised or cleared, at its service control hub.
async fn tell_customers(
    sof: &lso_sof::Sof,
    icm: &lso_icm::Icm,
    bus: &Bus,
    change: &lso_ecm::AlarmChange,
) -> Result<(), lso_sof::SofError> {
    let (alarm, state) = match change {
        lso_ecm::AlarmChange::Raised(alarm) => (alarm, "raised"),
        lso_ecm::AlarmChange::Cleared(alarm) => (alarm, "cleared"),
    };
    let mut fault = crate::allegro::fault_of(alarm);
    fault["state"] = serde_json::json!(state);
    for service in icm.affected_by(alarm).await {
        let Ok(doc) = sof.document(lso_sof::SERVICE, lso_bus::LEGATO_CLIENT, &service).await else { continue };
        let product = doc["externalId"].as_str().unwrap_or_default();
        tell_owner(sof, bus.store(), &service, product, &fault).await?;
    }
    Ok(())
}

/// The Buyer of `product` hears of `fault` on `service`, which realises it: a customer over
/// Allegro, and a partner operator (a Sonata Buyer) over Interlude too.
pub(crate) async fn tell_owner(
    sof: &lso_sof::Sof,
    store: &lso_store::Store,
    service: &str,
    product: &str,
    fault: &serde_json::Value,
) -> Result<(), lso_sof::SofError> {
    let Ok(Some(record)) = store.get("product", None, product).await else { return Ok(()) };
    let Some(tenant) = lso_model::Tenant::from_key(&record.tenant) else { return Ok(()) };
    let client = |point: &str| [point, &tenant.seller, &tenant.buyer].join("\u{1f}");
    let mut clients = vec![client("allegro")];
    if tenant.irp == lso_model::Irp::Sonata {
        clients.push(client("interlude"));
    }
    sof.announce_fault(&clients, service, fault.clone()).await
}

/// The BUS hears of a fault raised (with the products whose services it touches) or cleared.
async fn tell_bus(
    sof: &lso_sof::Sof,
    icm: &lso_icm::Icm,
    bus: &Bus,
    change: &lso_ecm::AlarmChange,
) -> Result<(), lso_bus::BusError> {
    let (alarm, raised) = match change {
        lso_ecm::AlarmChange::Raised(alarm) => (alarm, true),
        lso_ecm::AlarmChange::Cleared(alarm) => (alarm, false),
    };
    let place = alarm.port.as_ref().map_or(alarm.element.clone(), |port| format!("{}:{port}", alarm.element));
    let key = format!("{place}/{}", alarm.kind.as_str());
    if !raised {
        return bus.fault_cleared(&key).await;
    }
    let mut products = Vec::new();
    for service in icm.affected_by(alarm).await {
        if let Ok(doc) = sof.document(lso_sof::SERVICE, lso_bus::LEGATO_CLIENT, &service).await
            && let Some(product) = doc["externalId"].as_str()
        {
            products.push(product.to_owned());
        }
    }
    let description = format!("{} at {place}: {}", alarm.kind.as_str(), alarm.detail);
    bus.fault_raised(&lso_bus::Fault { key, description, raised_at: alarm.raised_at, products }).await
}

/// The HTTP application: the product APIs, Legato, Presto, Adagio, the operators' API, and the
/// common layers.
pub fn app(bus: Arc<Bus>, auth: Arc<Authenticator>, layers: &Layers, config: &Config) -> Router {
    let sellers = Arc::new(config.sellers.clone());
    let state = lso_api_product::ApiState {
        bus: bus.clone(),
        auth: auth.clone(),
        sellers: sellers.clone(),
        geography: layers.geography.clone(),
        catalog_time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        origin: format!("http://{}", layers.addr),
    };
    let allegro_state = |audience| crate::allegro::AllegroState {
        audience,
        bus: bus.clone(),
        sof: layers.sof.clone(),
        icm: layers.icm.clone(),
        alarms: layers.alarms.clone(),
        auth: auth.clone(),
        sellers: sellers.clone(),
        partners: layers.partners.clone(),
    };
    let origin = format!("http://{}", layers.addr);
    let operators = lso_api_legato::pm::PmState {
        sof: layers.sof.clone(),
        auth: auth.clone(),
        audience: Arc::new(lso_api_legato::pm::Operators),
    };
    let request_id = HeaderName::from_static("x-request-id");
    lso_api_product::router(state)
        .merge(lso_api_legato::router(lso_api_legato::LegatoState { sof: layers.sof.clone(), auth: auth.clone() }))
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
        .merge(crate::allegro::routers(allegro_state(crate::allegro::Audience::Allegro), &origin))
        .merge(crate::allegro::routers(allegro_state(crate::allegro::Audience::Interlude), &origin))
        .merge(lso_api_legato::streaming::router(operators, "/mefApi/legato/streamingManagement/v1", &origin))
        .merge(crate::partners::listener(bus.clone(), layers.sof.clone(), &config.partners))
        .merge(admin::router(admin::AdminParts {
            bus,
            auth,
            sellers,
            icm: layers.icm.clone(),
            legato: layers.legato.clone(),
            data_dir: config.data_dir.clone(),
        }))
        .fallback(lso_http::not_found_fallback)
        .method_not_allowed_fallback(lso_http::method_not_allowed_fallback)
        .layer(axum::Extension(BodyLimit(config.http.body_limit_bytes)))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(config.http.request_timeout_seconds),
        ))
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            ApiError::Internal.into_response()
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), uri = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
