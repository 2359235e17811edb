//! Configuration: embedded defaults < optional TOML file < `LSO_*` environment variables (a
//! double underscore nests: `LSO_NOTIFICATIONS__MAX_ATTEMPTS`) < command-line flags, then
//! `validate()`. Unknown keys, in the file or the environment, fail at start-up.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use lso_http::Secret;

const DEFAULTS: &str = r#"
listen = "127.0.0.1:8080"
data_dir = "./lso-data"
database_url = ""
sellers = ["LSO"]
log_format = "text"
public_url = ""

[tls]
cert = ""
key = ""
client_ca = ""
client_auth = "required"
ca = ""
client_cert = ""
client_key = ""

[seller_contact]
name = "LSO Order Desk"
email_address = "orders@lso.example"
number = "+1-555-0100"

[metrics]
listen = ""
client_ca = ""

[tracing]
otlp_endpoint = ""
protocol = "http/protobuf"
service_name = "lso"
sample_ratio = 1.0

[identity]
issuer = "lso"
token_ttl_seconds = 3600

[http]
body_limit_bytes = 1048576
request_timeout_seconds = 30
rate_limit_per_second = 100.0
rate_limit_burst = 500.0

[notifications]
allow_private_callbacks = false
max_attempts = 12
first_retry_millis = 1000
max_retry_millis = 3600000

[fulfilment]
by = "network"
time_scale = 0.0
legato_url = ""
legato_token = ""

[network]
topology = ""
alarm_poll_millis = 2000
presto_url = ""
presto_token = ""
adagio_url = ""
adagio_token = ""
ip_pool = "100.64.0.0/16"

[conformance]
mode = "strict"

[geography]
addresses = ""
sites = ""

[charges]
currency = "USD"
cancellation = 0.0
expedite = 0.0
response_window_seconds = 86400

[quotes]
answer_seconds = 2
valid_days = 30

[workforce]
technicians = 2
day_start_hour = 8
day_end_hour = 18
visit_minutes = 120
installation_visits = false

[billing]
tax_rate_percent = 0.0
payment_days = 30
"#;

/// The settings of an `lso` process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Where the signing key, imported specifications and (by default) the database live.
    pub data_dir: PathBuf,
    /// A PostgreSQL connection string shared by several nodes; empty for SQLite in `data_dir`.
    pub database_url: String,
    /// The Sellers this server represents.
    pub sellers: Vec<String>,
    /// `text` or `json`.
    pub log_format: String,
    /// The root URL clients reach this server at (`https://lso.example.net`), for every `href`
    /// it writes and the callbacks it gives partners; empty for the listen address.
    pub public_url: String,
    /// HTTPS for the listener, and the TLS of every outbound client.
    pub tls: TlsConfig,
    /// The contact added to every order.
    pub seller_contact: SellerContact,
    /// Where Prometheus scrapes.
    pub metrics: MetricsConfig,
    /// Where spans are exported.
    pub tracing: TracingConfig,
    /// `lso`'s own tokens.
    pub identity: Identity,
    /// `[[trusted_issuers]]`: identity providers whose tokens are accepted.
    #[serde(default)]
    pub trusted_issuers: Vec<TrustedIssuerConfig>,
    /// HTTP limits.
    pub http: Http,
    /// Notification delivery.
    pub notifications: Notifications,
    /// The built-in fulfilment.
    pub fulfilment: FulfilmentConfig,
    /// The charges the Seller raises.
    pub charges: Charges,
    /// How quotes are answered.
    pub quotes: Quotes,
    /// The technicians' calendar.
    pub workforce: Workforce,
    /// How bills are made.
    pub billing: Billing,
    /// The network infrastructure control manages.
    pub network: NetworkConfig,
    /// The addresses and sites the Seller knows.
    pub geography: GeographyConfig,
    /// How strictly Buyers are held to MEF's Buyer-side requirements.
    pub conformance: ConformanceConfig,
    /// `[[partners]]`: the operators it buys off-net access from over Sonata.
    #[serde(default)]
    pub partners: Vec<lso_partners::PartnerConfig>,
    /// `[[price_agreements]]`: discounts agreed with Buyers, off the price rules.
    #[serde(default)]
    pub price_agreements: Vec<PriceAgreement>,
}

/// `[[price_agreements]]`: a Buyer's discount off the specifications' price rules, in quotes,
/// pricing discovery and bills.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceAgreement {
    /// The Buyer (its id at its reference point).
    pub buyer: String,
    /// The specifications it covers; every one when empty or left out.
    #[serde(default)]
    pub specifications: Vec<String>,
    /// Off every price, in percent (0 to 100).
    pub discount_percent: f64,
}

impl PriceAgreement {
    /// The agreement as the BUS applies it.
    pub fn policy(&self) -> lso_bus::PriceAgreement {
        lso_bus::PriceAgreement {
            buyer: self.buyer.clone(),
            specifications: self.specifications.clone(),
            discount_percent: self.discount_percent,
        }
    }
}

/// `[tls]`: files are PEM; an empty path is "none".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The listener's certificate chain; with `key`, the server speaks HTTPS only.
    pub cert: String,
    /// Its private key.
    pub key: String,
    /// The CA bundle clients' certificates are checked against (mutual TLS).
    pub client_ca: String,
    /// With `client_ca`: `required` refuses clients without a valid certificate, `optional`
    /// lets them in without one.
    pub client_auth: String,
    /// A CA bundle every outbound client trusts besides the system's roots (partners, Buyers'
    /// callbacks, remote SOF/ICM/ECM, identity providers, PostgreSQL).
    pub ca: String,
    /// The certificate outbound clients present to servers that ask for one.
    pub client_cert: String,
    /// Its private key.
    pub client_key: String,
}

fn path(text: &str) -> Option<&Path> {
    (!text.is_empty()).then_some(Path::new(text))
}

impl TlsConfig {
    /// The listener's TLS files, if it serves HTTPS.
    pub fn server(&self) -> Option<lso_transport::ServerTls> {
        let (cert, key) = (path(&self.cert)?, path(&self.key)?);
        Some(lso_transport::ServerTls {
            cert: cert.to_owned(),
            key: key.to_owned(),
            client_ca: path(&self.client_ca).map(Path::to_owned),
            client_auth: if self.client_auth == "optional" {
                lso_transport::ClientAuth::Optional
            } else {
                lso_transport::ClientAuth::Required
            },
        })
    }

    /// The outbound clients' TLS, its files read.
    pub fn outbound(&self) -> anyhow::Result<lso_transport::Outbound> {
        let identity = path(&self.client_cert).zip(path(&self.client_key));
        Ok(lso_transport::Outbound::load(path(&self.ca), identity)?)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.cert.is_empty() != self.key.is_empty() {
            bail!("`tls.cert` and `tls.key` are given together or not at all");
        }
        if self.client_cert.is_empty() != self.client_key.is_empty() {
            bail!("`tls.client_cert` and `tls.client_key` are given together or not at all");
        }
        if !self.client_ca.is_empty() && self.cert.is_empty() {
            bail!("`tls.client_ca` needs the listener to serve HTTPS (`tls.cert` and `tls.key`)");
        }
        if !matches!(self.client_auth.as_str(), "required" | "optional") {
            bail!("`tls.client_auth` must be `required` or `optional`, not `{}`", self.client_auth);
        }
        Ok(())
    }
}

/// `[conformance]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConformanceConfig {
    /// `strict` (a request breaking a Buyer-side MUST is refused) or `interop` (one whose
    /// absence loses the Seller nothing is accepted with the Seller's default and a note);
    /// the rules are in docs/conformance.md.
    pub mode: lso_bus::Conformance,
}

/// `[geography]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeographyConfig {
    /// An address file (see docs/geography.md); empty for the sample.
    pub addresses: String,
    /// A site file; empty for the sample (whose sites are at the sample's addresses).
    pub sites: String,
}

impl GeographyConfig {
    /// The addresses and sites, read and checked.
    pub fn load(&self) -> anyhow::Result<lso_geo::Geography> {
        let read = |path: &str, sample: &str| -> anyhow::Result<String> {
            if path.is_empty() {
                Ok(sample.to_owned())
            } else {
                std::fs::read_to_string(path).with_context(|| format!("failed to read {path}"))
            }
        };
        let addresses = read(&self.addresses, lso_geo::SAMPLE_ADDRESSES)?;
        let sites = read(&self.sites, lso_geo::SAMPLE_SITES)?;
        lso_geo::Geography::parse(&addresses, &sites).context("the address or site file is not valid")
    }
}

/// `[network]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// A topology file (see docs/topology.md); empty for the demo network.
    pub topology: String,
    /// How often element control asks the elements for faults, in milliseconds.
    pub alarm_poll_millis: u64,
    /// The root URL of an ICM in another process the SOF sends its network work to over Presto
    /// (`http://host:port`); empty for this process's ICM.
    pub presto_url: String,
    /// An operator token of that ICM (or give `presto_oauth`).
    pub presto_token: Secret,
    /// OAuth 2.0 client credentials this Seller gets its tokens at that ICM with.
    #[serde(default)]
    pub presto_oauth: Option<lso_partners::OAuthConfig>,
    /// The root URL of an ECM in another process this ICM configures the elements through
    /// over Adagio (`http://host:port`); empty for this process's ECM.
    pub adagio_url: String,
    /// An operator token of that ECM (or give `adagio_oauth`).
    pub adagio_token: Secret,
    /// OAuth 2.0 client credentials this Seller gets its tokens at that ECM with.
    #[serde(default)]
    pub adagio_oauth: Option<lso_partners::OAuthConfig>,
    /// The IPv4 pool the subnets of Internet access links are taken from (`address/length`).
    pub ip_pool: String,
}

impl NetworkConfig {
    /// The topology, read and checked.
    pub fn load(&self) -> anyhow::Result<lso_icm::Topology> {
        let text = if self.topology.is_empty() {
            lso_icm::DEMO_TOPOLOGY.to_owned()
        } else {
            std::fs::read_to_string(&self.topology)
                .with_context(|| format!("failed to read the topology {}", self.topology))?
        };
        lso_icm::Topology::parse(&text).with_context(|| format!("the topology {} is not valid", self.topology))
    }
}

/// `[charges]`: amounts of 0 raise no charge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Charges {
    /// ISO 4217 currency of the amounts.
    pub currency: String,
    /// Charged when a Buyer cancels an order in progress.
    pub cancellation: f64,
    /// Charged when a Buyer expedites an item.
    pub expedite: f64,
    /// How long a Buyer has to answer a charge.
    pub response_window_seconds: i64,
}

impl Charges {
    /// The BUS's charge policy.
    pub fn policy(&self) -> lso_bus::ChargePolicy {
        let money = |amount: f64| {
            serde_json::Number::from_f64(amount)
                .filter(|_| amount > 0.0)
                .map(|value| lso_mef_product::Money { unit: self.currency.clone(), value })
        };
        lso_bus::ChargePolicy {
            cancellation: money(self.cancellation),
            expedite: money(self.expedite),
            response_window_millis: self.response_window_seconds * 1000,
        }
    }
}

/// `[quotes]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotes {
    /// How long after its request a deferred quote is answered.
    pub answer_seconds: i64,
    /// How long an answered quote stays valid.
    pub valid_days: i64,
}

impl Quotes {
    /// The BUS's quote policy.
    pub fn policy(&self) -> lso_bus::QuotePolicy {
        lso_bus::QuotePolicy { answer_millis: self.answer_seconds * 1000, valid_millis: self.valid_days * 86_400_000 }
    }
}

/// `[workforce]`: technicians visit Monday to Friday (UTC) between the hours given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workforce {
    /// How many technicians can visit at the same time.
    pub technicians: u32,
    /// The first hour of a working day.
    pub day_start_hour: i64,
    /// The hour a working day ends.
    pub day_end_hour: i64,
    /// How long a visit takes.
    pub visit_minutes: i64,
    /// Whether installing a product at a site needs a technician's visit first.
    pub installation_visits: bool,
}

impl Workforce {
    /// The BUS's calendar policy.
    pub fn policy(&self) -> lso_bus::WorkforcePolicy {
        lso_bus::WorkforcePolicy {
            technicians: self.technicians,
            day_start_hour: self.day_start_hour,
            day_end_hour: self.day_end_hour,
            visit_minutes: self.visit_minutes,
            installation_visits: self.installation_visits,
        }
    }
}

/// `[billing]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Billing {
    /// The tax added to every bill item.
    pub tax_rate_percent: f64,
    /// Days from a bill's date to its payment due date.
    pub payment_days: i64,
}

/// `[seller_contact]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SellerContact {
    pub name: String,
    pub email_address: String,
    pub number: String,
}

/// `[identity]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The issuer (`iss`, and audience) of the tokens `lso` signs.
    pub issuer: String,
    /// How long a token `/oauth2/token` issues is valid.
    pub token_ttl_seconds: i64,
}

/// `[[trusted_issuers]]`: an identity provider whose tokens are accepted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerConfig {
    /// Its `iss`.
    pub issuer: String,
    /// The audience (`aud`) its tokens for this Seller carry.
    pub audience: String,
    /// Where it publishes its keys (RS256, ES256, EdDSA).
    #[serde(default)]
    pub jwks_url: String,
    /// Instead of a JWKS: a secret shared with it, for HS256.
    #[serde(default)]
    pub hs256_secret: Secret,
    /// The least time between two readings of its JWKS (an unknown `kid` makes one).
    #[serde(default = "default_refresh")]
    pub refresh_min_seconds: u64,
    /// Which claims carry the Buyers, Sellers, roles and scopes.
    #[serde(default)]
    pub claims: lso_http::ClaimsMapping,
}

fn default_refresh() -> u64 {
    10
}

impl TrustedIssuerConfig {
    /// The issuer as the authenticator trusts it, its JWKS read with `http`.
    pub fn trusted(&self, http: &reqwest::Client) -> lso_http::TrustedIssuer {
        if self.jwks_url.is_empty() {
            let secret = self.hs256_secret.0.as_bytes();
            lso_http::TrustedIssuer::shared_secret(&self.issuer, &self.audience, secret, self.claims.clone())
        } else {
            let refresh = std::time::Duration::from_secs(self.refresh_min_seconds);
            lso_http::TrustedIssuer::jwks(
                &self.issuer,
                &self.audience,
                &self.jwks_url,
                http.clone(),
                refresh,
                self.claims.clone(),
            )
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// An address of its own for `/metrics`, served without a token (with the listener's TLS),
    /// for a scraper inside the operator's network; empty: only on the main listener, for
    /// operators' tokens.
    pub listen: String,
    /// A CA bundle (PEM) of its own for that listener: only scrapers with a certificate it
    /// signed are served there. Empty: the main listener's TLS, client CA included.
    pub client_ca: String,
}

impl MetricsConfig {
    /// The TLS of the metrics listener, when it has a client CA of its own.
    pub fn tls(&self, main: &TlsConfig) -> Option<lso_transport::ServerTls> {
        let client_ca = path(&self.client_ca)?;
        Some(lso_transport::ServerTls {
            client_ca: Some(client_ca.to_owned()),
            client_auth: lso_transport::ClientAuth::Required,
            ..main.server()?
        })
    }
}

/// `[tracing]`: spans exported over OTLP/HTTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracingConfig {
    /// The collector's OTLP/HTTP URL (`http://collector:4318`, or the full `…/v1/traces` URL);
    /// empty: no span leaves the process (the trace context is still carried and logged).
    pub otlp_endpoint: String,
    /// `http/protobuf` or `http/json`.
    pub protocol: String,
    /// The spans' `service.name`.
    pub service_name: String,
    /// The share of new traces recorded (0 to 1); a trace the caller records is always recorded.
    pub sample_ratio: f64,
}

impl TracingConfig {
    /// The exporter's settings.
    pub fn exporting(&self) -> lso_transport::trace::Exporting {
        lso_transport::trace::Exporting {
            endpoint: self.otlp_endpoint.clone(),
            protocol: self.protocol.clone(),
            service_name: self.service_name.clone(),
            sample_ratio: self.sample_ratio,
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Larger bodies are refused with 413.
    pub body_limit_bytes: usize,
    /// A request taking longer is answered 503.
    pub request_timeout_seconds: u64,
    /// Requests per second each client may make (a token bucket); 0 for no limit.
    pub rate_limit_per_second: f64,
    /// Requests a client may make at once, above the rate.
    pub rate_limit_burst: f64,
}

/// `[notifications]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// Whether callbacks may point at loopback, link-local or private addresses (labs and
    /// tests; never between operators).
    pub allow_private_callbacks: bool,
    /// Attempts before a delivery becomes a dead letter.
    pub max_attempts: i64,
    /// Delay after the first failed attempt.
    pub first_retry_millis: u64,
    /// The longest delay between attempts.
    pub max_retry_millis: u64,
}

/// `[fulfilment]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfilmentConfig {
    /// How order items are realised.
    pub by: FulfilmentMode,
    /// With `by = "inventory"`: multiplies each specification's provisioning time (0 completes
    /// at once).
    pub time_scale: f64,
    /// With `by = "network"`: the root URL of a SOF in another process to send service orders
    /// to over Legato (`http://host:port`); empty for this process's SOF.
    pub legato_url: String,
    /// An operator token of that SOF (or give `legato_oauth`).
    pub legato_token: Secret,
    /// OAuth 2.0 client credentials this Seller gets its tokens at that SOF with.
    #[serde(default)]
    pub legato_oauth: Option<lso_partners::OAuthConfig>,
}

/// How order items are realised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FulfilmentMode {
    /// Service orders to the SOF, realised on the network (the default).
    Network,
    /// In the Product Inventory alone, after the specification's provisioning time: a Seller
    /// with no network behind it.
    Inventory,
}

impl Config {
    /// The root URL of every `href` this server writes, without a trailing `/`.
    pub fn origin(&self, listening: SocketAddr) -> String {
        if self.public_url.is_empty() {
            let scheme = if self.tls.server().is_some() { "https" } else { "http" };
            format!("{scheme}://{listening}")
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// Loads the layers in order; `file` is the optional `--config`.
    pub fn load(file: Option<&Path>, environment: impl Iterator<Item = (String, String)>) -> anyhow::Result<Self> {
        let mut merged: toml::Table = toml::from_str(DEFAULTS).context("the embedded defaults are not TOML")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
            let table: toml::Table =
                toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
            merge(&mut merged, table);
        }
        for (key, value) in environment {
            let Some(name) = key.strip_prefix("LSO_") else { continue };
            let path: Vec<String> = name.split("__").map(str::to_lowercase).collect();
            set_path(&mut merged, &path, &value).with_context(|| format!("environment variable {key}"))?;
        }
        let config: Config = toml::Value::Table(merged)
            .try_into()
            .context("invalid configuration (defaults < --config file < LSO_* environment)")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.sellers.is_empty() || self.sellers.iter().any(|s| s.trim().is_empty()) {
            bail!("`sellers` must name at least one Seller, none empty");
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("`log_format` must be `text` or `json`, not `{}`", self.log_format);
        }
        self.tls.validate()?;
        if let Err(reason) = self.network.ip_pool.parse::<lso_sof::ip::Ipv4Pool>() {
            bail!("`network.ip_pool`: {reason}");
        }
        if self.identity.issuer.trim().is_empty() || !(1..=86_400).contains(&self.identity.token_ttl_seconds) {
            bail!("`identity.issuer` must not be empty and `identity.token_ttl_seconds` is from 1 to 86400");
        }
        for trusted in &self.trusted_issuers {
            if trusted.issuer.is_empty() || trusted.issuer == self.identity.issuer || trusted.audience.is_empty() {
                bail!("a trusted issuer needs an `issuer` other than lso's own and an `audience`: {trusted:?}");
            }
            if trusted.jwks_url.is_empty() == trusted.hs256_secret.0.is_empty() {
                bail!("trusted issuer `{}` needs either `jwks_url` or `hs256_secret`", trusted.issuer);
            }
            if !trusted.hs256_secret.0.is_empty() && trusted.hs256_secret.0.len() < 32 {
                bail!("the `hs256_secret` of trusted issuer `{}` must be 32 characters at least", trusted.issuer);
            }
        }
        if !self.metrics.listen.is_empty() && self.metrics.listen.parse::<SocketAddr>().is_err() {
            bail!("`metrics.listen` must be an address such as 127.0.0.1:9100, not `{}`", self.metrics.listen);
        }
        self.tracing.exporting().check()?;
        if !self.metrics.client_ca.is_empty() && (self.metrics.listen.is_empty() || self.tls.cert.is_empty()) {
            bail!(
                "`metrics.client_ca` needs `metrics.listen` and the listeners to serve HTTPS (`tls.cert`, `tls.key`)"
            );
        }
        if !self.public_url.is_empty() {
            let url = reqwest::Url::parse(&self.public_url).context("`public_url` is not a URL")?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || url.query().is_some() {
                bail!("`public_url` must be an http(s) URL with a host and no query, not `{}`", self.public_url);
            }
        }
        if self.http.rate_limit_per_second < 0.0 || self.http.rate_limit_burst < 1.0 {
            bail!("`http.rate_limit_per_second` must not be negative and `http.rate_limit_burst` is 1 at least");
        }
        if self.http.body_limit_bytes < 1024 {
            bail!("`http.body_limit_bytes` must be at least 1024");
        }
        if self.notifications.max_attempts < 1 {
            bail!("`notifications.max_attempts` must be at least 1");
        }
        if self.charges.cancellation < 0.0 || self.charges.expedite < 0.0 || self.charges.response_window_seconds < 1 {
            bail!("`charges` amounts must not be negative and the response window must be at least a second");
        }
        if self.quotes.answer_seconds < 0 || self.quotes.valid_days < 1 {
            bail!("`quotes.answer_seconds` must not be negative and `quotes.valid_days` must be at least 1");
        }
        if !(0.0..=100.0).contains(&self.billing.tax_rate_percent) || self.billing.payment_days < 0 {
            bail!("`billing.tax_rate_percent` is between 0 and 100 and `billing.payment_days` not negative");
        }
        let w = &self.workforce;
        if w.technicians < 1
            || w.visit_minutes < 1
            || !(0..w.day_end_hour).contains(&w.day_start_hour)
            || w.day_end_hour > 24
        {
            bail!(
                "`workforce` needs a technician, a visit of a minute at least, and 0 <= day_start_hour < day_end_hour <= 24"
            );
        }
        if let Some(bad) =
            self.price_agreements.iter().find(|a| a.buyer.is_empty() || !(0.0..=100.0).contains(&a.discount_percent))
        {
            bail!("a price agreement names its Buyer and a discount between 0 and 100 percent: {bad:?}");
        }
        if !(0.0..=3600.0).contains(&self.fulfilment.time_scale) {
            bail!("`fulfilment.time_scale` must be between 0 and 3600");
        }
        Ok(())
    }
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(existing)), toml::Value::Table(table)) => merge(existing, table),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// Sets `path` (from an environment variable) to `text`, typed like the default it replaces.
fn set_path(table: &mut toml::Table, path: &[String], text: &str) -> anyhow::Result<()> {
    let (last, parents) = path.split_last().context("empty name")?;
    let mut current = table;
    for part in parents {
        current = match current.get_mut(part) {
            Some(toml::Value::Table(t)) => t,
            _ => bail!("`{}` is not a configuration section", part),
        };
    }
    let value = match current.get(last) {
        None => bail!("`{}` is not a configuration key", path.join(".")),
        Some(toml::Value::Integer(_)) => toml::Value::Integer(text.parse().context("expected an integer")?),
        Some(toml::Value::Float(_)) => toml::Value::Float(text.parse().context("expected a number")?),
        Some(toml::Value::Boolean(_)) => toml::Value::Boolean(text.parse().context("expected true or false")?),
        Some(toml::Value::Array(_)) => {
            toml::Value::Array(text.split(',').map(|s| toml::Value::String(s.trim().to_owned())).collect())
        }
        Some(_) => toml::Value::String(text.to_owned()),
    };
    current.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lso.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\n[notifications]\nmax_attempts = 3\n").unwrap();
        let config =
            Config::load(Some(&file), env(&[("LSO_NOTIFICATIONS__MAX_ATTEMPTS", "5"), ("HOME", "/x")])).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.notifications.max_attempts, 5);
        assert_eq!(config.sellers, ["LSO"]);
        let config = Config::load(None, env(&[("LSO_SELLERS", "A, B")])).unwrap();
        assert_eq!(config.sellers, ["A", "B"]);
    }

    #[test]
    fn the_address_pool_is_an_aligned_ipv4_prefix() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config.network.ip_pool, "100.64.0.0/16");
        let taken = Config::load(None, env(&[("LSO_NETWORK__IP_POOL", "198.51.100.0/24")])).unwrap();
        assert_eq!(taken.network.ip_pool, "198.51.100.0/24");
        for bad in ["198.51.100.1/24", "10.0.0.0/31", "not a pool"] {
            let refused = Config::load(None, env(&[("LSO_NETWORK__IP_POOL", bad)])).unwrap_err();
            assert!(format!("{refused:#}").contains("network.ip_pool"), "{bad}: {refused:#}");
        }
    }

    #[test]
    fn the_network_is_the_demo_unless_a_topology_file_is_named() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config.network.load().unwrap().elements.len(), 4);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("net.toml");
        std::fs::write(&file, "[[element]]\nname = \"only\"\nports = [\"p\"]\n").unwrap();
        let named = NetworkConfig { topology: file.display().to_string(), ..config.network.clone() };
        assert_eq!(named.load().unwrap().elements.len(), 1);
        let missing = NetworkConfig { topology: "/no/such/topology.toml".into(), ..config.network.clone() };
        assert!(format!("{:#}", missing.load().unwrap_err()).contains("/no/such/topology.toml"));
    }

    #[test]
    fn price_agreements_need_a_buyer_and_a_discount_between_0_and_100_percent() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lso.toml");
        std::fs::write(&file, "[[price_agreements]]\nbuyer = \"ACME\"\ndiscount_percent = 12.5\n").unwrap();
        let config = Config::load(Some(&file), env(&[])).unwrap();
        let agreed = config.price_agreements[0].policy();
        assert_eq!((agreed.buyer.as_str(), agreed.discount_percent, agreed.specifications.len()), ("ACME", 12.5, 0));
        std::fs::write(&file, "[[price_agreements]]\nbuyer = \"ACME\"\ndiscount_percent = 120\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&file), env(&[])).unwrap_err());
        assert!(err.contains("between 0 and 100"), "{err}");
    }

    #[test]
    fn listener_and_exporter_settings_that_cannot_work_fail_at_start_up() {
        for (setting, value, named) in [
            ("LSO_TLS__CLIENT_CA", "/etc/lso/partners.pem", "tls.client_ca"),
            ("LSO_METRICS__CLIENT_CA", "/etc/lso/monitoring.pem", "metrics.client_ca"),
            ("LSO_TRACING__PROTOCOL", "grpc", "tracing.protocol"),
            ("LSO_TRACING__SAMPLE_RATIO", "1.5", "tracing.sample_ratio"),
            ("LSO_TRACING__OTLP_ENDPOINT", "collector:4318", "tracing.otlp_endpoint"),
        ] {
            let err = format!("{:#}", Config::load(None, env(&[(setting, value)])).unwrap_err());
            assert!(err.contains(named), "{setting}: {err}");
        }
        let traced = Config::load(None, env(&[("LSO_TRACING__OTLP_ENDPOINT", "https://collector:4318")])).unwrap();
        assert_eq!(traced.tracing.exporting().endpoint, "https://collector:4318");
    }

    #[test]
    fn unknown_keys_fail_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lso.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&file), env(&[])).unwrap_err());
        assert!(err.contains("lisen"), "{err}");
        let err = format!("{:#}", Config::load(None, env(&[("LSO_LISTN", "x")])).unwrap_err());
        assert!(err.contains("listn"), "{err}");
        let err = format!("{:#}", Config::load(None, env(&[("LSO_LOG_FORMAT", "xml")])).unwrap_err());
        assert!(err.contains("log_format"), "{err}");
    }
}
