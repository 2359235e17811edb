//! Fulfilment that buys from partners: the off-net items of a customer's order, bought over
//! Sonata and stitched at the ENNI; their undoing, modification and deletion; and changes of a
//! partner's leg over its Interlude.

use crate::orders::{BuyerContact, Letter};
use lso_bus::fulfilment::{Fulfilment, FulfilmentRequest, FulfilmentStatus};
use lso_http::Secret;
use lso_legato::Legato;
use lso_model::Clock;
use lso_model::Irp;
use lso_model::order::ItemAction;
use lso_store::{Record, Store, StoreError, WriteOp};
use serde::Deserialize;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// How often a partner's order in progress is read, in milliseconds: its notifications wake
/// the customer's order sooner; reading reconciles those that never come.
const POLL_MILLIS: i64 = 1000;
/// The hub registered at a partner for its order notifications: id the partner's name.
const HUB: &str = "partnerHub";
/// A modify item whose change the partner's leg has made: id `{order}/{item}`.
const PARTNER_CHANGE: &str = "partnerChange";
/// Which customer order a partner's order serves: id `{partner}:{partner order id}`.
pub(crate) const PARTNER_ORDER: &str = "partnerOrder";
/// The job that undoes what a failed item left at a partner and on this Seller's network: key
/// the customer's product.
pub const UNDO: &str = "partnerUndo";
/// Where partners send their notifications: `{LISTENER}/{partner}/mefApi/…/listener/{type}`.
pub const LISTENER: &str = "/lso/partners";
/// Which partner product realises a customer's off-net product.
pub(crate) const OFF_NET: &str = "offNetProduct";
/// An S-VLAN taken at an ENNI: id `{enni}:{vlan}`.
const ENNI_VLAN: &str = "enniSVlan";
/// The S-VLAN an off-net EVC's two legs meet on.
const STITCH: &str = "offNetStitch";
/// The partner's qualification and quote an order item was placed on: id `{partner}:{externalId}`.
const PARTNER_QUOTE: &str = "partnerQuote";
/// The partner's offering of a specification: id `{partner}:{specification}`.
const PARTNER_OFFERING: &str = "partnerOffering";
/// The partner's site at the address of one of this Seller's: id `{partner}:{site}`.
const PARTNER_SITE: &str = "partnerSite";
/// The customer's product a partner's service serves, for its fault events: id
/// `{partner}:{service}`.
pub(crate) const FAULTS_OF: &str = "partnerServiceOf";
/// The partner's Sonata ordering API.
fn ordering() -> String {
    lso_mef_product::ordering_base(Irp::Sonata)
}

/// Why a partner conversation did not go on.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) reason: String,
    /// Worth asking again later: the partner could not be reached, or failed itself.
    pub(crate) transient: bool,
}

impl From<String> for Problem {
    fn from(reason: String) -> Self {
        Problem { reason, transient: false }
    }
}

impl From<&str> for Problem {
    fn from(reason: &str) -> Self {
        Problem { reason: reason.into(), transient: false }
    }
}

pub(crate) fn transient(reason: String) -> Problem {
    Problem { reason, transient: true }
}

/// `[[partners]]`: an operator this Seller buys access from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    /// Its name, in logs and reasons.
    pub name: String,
    /// The root URL of its Sonata APIs (`http://host:port`).
    pub url: String,
    /// The bearer token it issued this Seller as its Buyer (or give `oauth`).
    #[serde(default)]
    pub token: Secret,
    /// OAuth 2.0 client credentials this Seller gets its tokens there with.
    #[serde(default)]
    pub oauth: Option<crate::OAuthConfig>,
    /// The sites of this Seller's geography it serves: at each it is asked for its own site at
    /// the same address.
    pub sites: Vec<String>,
    /// This Seller's ENNI interface toward it.
    pub enni: String,
    /// The id of the ENNI product in this Seller's inventory at the partner.
    pub enni_product: String,
    /// The billing account the partner keeps for this Seller: every item ordered is billed to it.
    pub billing_account: String,
    /// How long it may stay unreachable (or answer 5xx) before the customer's item fails.
    #[serde(default = "default_patience")]
    pub patience_seconds: i64,
    /// How long one of its orders may take before the customer's item fails (and the order is
    /// cancelled).
    #[serde(default = "default_order_timeout")]
    pub order_timeout_seconds: i64,
    /// The secrets the partner signs its notifications to this Seller with (one per reference
    /// point it notifies at, see docs/webhooks.md); a notification none verifies is refused.
    /// Empty: its notifications are heard unverified.
    #[serde(default)]
    pub webhook_secrets: Vec<Secret>,
}

fn default_order_timeout() -> i64 {
    86_400
}

fn default_patience() -> i64 {
    120
}

/// Fulfilment that buys off-net access from partners and gives the rest to `inner`.
pub struct PartnerFulfilment {
    inner: Arc<dyn Fulfilment>,
    legato: Arc<dyn Legato>,
    store: Store,
    partners: Vec<PartnerConfig>,
    geography: Arc<lso_geo::Geography>,
    http: reqwest::Client,
    credentials: std::collections::HashMap<String, lso_transport::Credentials>,
    metrics: Arc<lso_metrics::Metrics>,
    callback: String,
    contact: BuyerContact,
    clock: Arc<dyn Clock>,
    wake: Arc<tokio::sync::Notify>,
}

/// Who this Seller is at its partners and where they reach it.
pub struct BuyerSide {
    /// The contact its orders, qualifications, quotes and tickets name.
    pub contact: BuyerContact,
    /// This Seller's root URL, where partners send their notifications.
    pub callback: String,
    /// The clock its dates come from.
    pub clock: Arc<dyn Clock>,
    /// The client its calls to partners go through (its TLS set by the caller).
    pub http: reqwest::Client,
    /// Where its calls to partners are counted.
    pub metrics: Arc<lso_metrics::Metrics>,
    /// Its credentials at each partner (by name); a static `token` where there is none.
    pub credentials: std::collections::HashMap<String, lso_transport::Credentials>,
}

pub(crate) fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

impl PartnerFulfilment {
    /// Off-net fulfilment through `partners`, on-net through `inner` and `legato`, this Seller
    /// being `buyer` at its partners.
    pub fn new(
        inner: Arc<dyn Fulfilment>,
        legato: Arc<dyn Legato>,
        store: Store,
        partners: Vec<PartnerConfig>,
        geography: Arc<lso_geo::Geography>,
        buyer: BuyerSide,
    ) -> Self {
        let callback = format!("{}{LISTENER}", buyer.callback);
        for unverified in partners.iter().filter(|p| p.webhook_secrets.is_empty()) {
            tracing::warn!(partner = %unverified.name, "its notifications are heard unverified: give it `webhook_secrets`");
        }
        let BuyerSide { contact, clock, http, metrics, credentials, .. } = buyer;
        PartnerFulfilment {
            inner,
            legato,
            store,
            partners,
            geography,
            http,
            metrics,
            credentials,
            callback,
            contact,
            clock,
            wake: Arc::default(),
        }
    }

    /// What this Seller writes to `partner` now: its contact, its billing account there, the date.
    pub(crate) fn letter<'a>(&'a self, partner: &'a PartnerConfig) -> Letter<'a> {
        Letter { contact: &self.contact, billing_account: &partner.billing_account, now: self.clock.now_millis() }
    }

    /// Subscribes to `partner`'s order notifications, once.
    async fn ensure_hub(&self, partner: &PartnerConfig) -> Result<(), Problem> {
        let events = "productOrderStateChangeEvent,productOrderItemStateChangeEvent";
        self.subscribe(partner, &partner.name, &ordering(), events).await
    }

    /// Subscribes to `events` of `partner`'s API at `base`, once (hub record `key`).
    pub(crate) async fn subscribe(
        &self,
        partner: &PartnerConfig,
        key: &str,
        base: &str,
        events: &str,
    ) -> Result<(), Problem> {
        if self.record(HUB, key).await?.is_some() {
            return Ok(());
        }
        let subscription =
            json!({"callback": format!("{}/{}", self.callback, partner.name), "query": format!("eventType={events}")});
        let hub = self.call(partner, reqwest::Method::POST, &format!("{base}/hub"), Some(&subscription)).await?;
        self.keep(HUB, key, &hub).await.map_err(Problem::from)
    }

    pub(crate) fn partner(&self, name: &str) -> Option<&PartnerConfig> {
        self.partners.iter().find(|p| p.name == name)
    }

    /// The partner an item deals with: the one serving its place, or the one realising a
    /// product it relates to.
    async fn partner_of(&self, request: &FulfilmentRequest<'_>) -> Option<&PartnerConfig> {
        if let Some(partner) = self.partner_at(request.places) {
            return Some(partner);
        }
        for (_, product) in request.related {
            if let Ok(Some(off_net)) = self.record(OFF_NET, product).await {
                return self.partner(off_net["partner"].as_str().unwrap_or_default());
            }
        }
        None
    }

    /// The partner serving one of `places`.
    fn partner_at(&self, places: &[(String, String)]) -> Option<&PartnerConfig> {
        places.iter().find_map(|(_, site)| self.partners.iter().find(|p| p.sites.contains(site)))
    }

    pub(crate) async fn record(&self, kind: &str, id: &str) -> Result<Option<Value>, String> {
        let record = self.store.get(kind, None, id).await.map_err(|e| format!("storage: {e}"))?;
        Ok(record.and_then(|r| serde_json::from_str(&r.doc).ok()))
    }

    /// A request to `partner` with this Seller's credentials there.
    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// This Seller's credentials at `partner`.
    fn credentials(&self, partner: &PartnerConfig) -> lso_transport::Credentials {
        self.credentials
            .get(&partner.name)
            .cloned()
            .unwrap_or_else(|| lso_transport::Credentials::bearer(&partner.token.0))
    }

    /// Sends `request` to `partner` with this Seller's credentials there (fetched anew, and
    /// the request sent once more, if the partner refuses them with 401), counting the call
    /// by API and outcome, with its latency.
    async fn sent(
        &self,
        partner: &PartnerConfig,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, String> {
        let credentials = self.credentials(partner);
        let mut retried = false;
        loop {
            let token = credentials.token().await.map_err(|e| e.to_string())?;
            let request = request.try_clone().ok_or("a request with a streamed body cannot be sent")?;
            let request = request.bearer_auth(token).build().map_err(|e| e.to_string())?;
            let (point, api) = lso_http::api_of(request.url().path());
            let api = format!("{point}/{api}");
            let started = std::time::Instant::now();
            let sent = lso_transport::trace::execute(&self.http, request).await;
            let outcome = match &sent {
                Ok(response) => format!("{}xx", response.status().as_u16() / 100),
                Err(_) => "unreachable".to_owned(),
            };
            self.metrics.partner_call(&partner.name, &api, &outcome, started.elapsed());
            match sent {
                // Refused: the token may have been revoked or have expired early; once more
                // with a new one.
                Ok(response) if response.status() == reqwest::StatusCode::UNAUTHORIZED && !retried => {
                    credentials.forget().await;
                    retried = true;
                }
                other => return other.map_err(|e| e.to_string()),
            }
        }
    }

    pub(crate) async fn call(
        &self,
        partner: &PartnerConfig,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Problem> {
        let url = format!("{}{path}", partner.url.trim_end_matches('/'));
        let mut request = self.request(method, &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = self
            .sent(partner, request)
            .await
            .map_err(|e| transient(format!("partner {} cannot be reached: {e}", partner.name)))?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let reason = || format!("partner {} answered {status}: {answer}", partner.name);
        match status.as_u16() {
            200..=299 => Ok(answer),
            408 | 429 | 500..=599 => Err(transient(reason())),
            _ => Err(reason().into()),
        }
    }

    /// The partner's order with `external_id`, placed as `order` if there is none yet; its
    /// notifications wake the customer's order `ours` (if any: not when undoing).
    async fn partner_order(
        &self,
        partner: &PartnerConfig,
        ours: &str,
        external_id: &str,
        order: Value,
    ) -> Result<Value, Problem> {
        self.ensure_hub(partner).await?;
        let query = format!("{}/productOrder?externalId={external_id}", ordering());
        let found = self.call(partner, reqwest::Method::GET, &query, None).await?;
        let placed = match found.as_array().and_then(|orders| orders.first()).and_then(|o| o["id"].as_str()) {
            Some(id) => {
                self.call(partner, reqwest::Method::GET, &format!("{}/productOrder/{id}", ordering()), None).await?
            }
            None => {
                let mut order = order;
                order["externalId"] = json!(external_id);
                if let Some(item) = order["productOrderItem"].get_mut(0) {
                    if let Some(spec) = item["product"]["productConfiguration"]["@type"].as_str() {
                        let offering = self.partner_offering(partner, spec).await?;
                        item["product"]["productOffering"] = json!({"id": offering});
                    }
                    if item["action"] == "add" {
                        self.qualify_and_quote(partner, external_id, item).await?;
                    }
                }
                self.call(partner, reqwest::Method::POST, &format!("{}/productOrder", ordering()), Some(&order)).await?
            }
        };
        if !ours.is_empty() {
            let key = format!("{}:{}", partner.name, text(&placed["id"]));
            self.keep(PARTNER_ORDER, &key, &json!({"order": ours})).await?;
        }
        Ok(placed)
    }

    /// The partner's orderable offering of specification `spec` (the MEF product schema, the
    /// same at every operator), from its Product Catalog; kept as `partnerOffering`
    /// `{partner}:{spec}`.
    async fn partner_offering(&self, partner: &PartnerConfig, spec: &str) -> Result<String, Problem> {
        let key = format!("{}:{spec}", partner.name);
        if let Some(found) = self.record(PARTNER_OFFERING, &key).await? {
            return Ok(text(&found["offering"]));
        }
        let base = lso_mef_product::catalog_base(Irp::Sonata);
        let path = format!("{base}/productOffering?productSpecification.id={spec}&lifecycleStatus=orderable");
        let offered = self.call(partner, reqwest::Method::GET, &path, None).await?;
        let offering = offered[0]["id"]
            .as_str()
            .ok_or_else(|| format!("partner {} has no orderable offering of {spec}", partner.name))?
            .to_owned();
        self.keep(PARTNER_OFFERING, &key, &json!({"offering": offering})).await?;
        Ok(offering)
    }

    /// Before `item` (an `add`) is ordered from `partner`: the partner qualifies it (MEF 87,
    /// instantly) and quotes it firm (MEF 115, instantly), and `item` references both, so the
    /// partner orders what it qualified at the price it quoted (MEF 123 R38). The quote is kept
    /// (`partnerQuote`, by `{partner}:{externalId}`): asked again, the same quote is ordered.
    async fn qualify_and_quote(
        &self,
        partner: &PartnerConfig,
        external_id: &str,
        item: &mut Value,
    ) -> Result<(), Problem> {
        let key = format!("{}:{external_id}", partner.name);
        let quoted = match self.record(PARTNER_QUOTE, &key).await? {
            Some(quoted) => quoted,
            None => {
                let quoted = self.pre_order(partner, item).await?;
                self.keep(PARTNER_QUOTE, &key, &quoted).await?;
                quoted
            }
        };
        item["quoteItem"] = json!({"id": "1", "quoteId": quoted["quote"]});
        item["productOfferingQualificationItem"] = json!({"id": "1", "productOfferingQualificationId": quoted["poq"]});
        Ok(())
    }

    /// Declines the quote `partner` gave for `external_id` if one was kept: no order was placed
    /// on it, so the partner need not hold it (MEF 115 R54). A quote no longer approved is left.
    async fn decline_quote(&self, partner: &PartnerConfig, external_id: &str) -> Result<(), Problem> {
        let Some(quoted) = self.record(PARTNER_QUOTE, &format!("{}:{external_id}", partner.name)).await? else {
            return Ok(());
        };
        let request = json!({"quoteId": quoted["quote"], "reason": "the customer's order it was for failed"});
        let path = format!("{}/rejectQuote", lso_mef_product::quote_base(Irp::Sonata));
        match self.call(partner, reqwest::Method::POST, &path, Some(&request)).await {
            Err(problem) if problem.transient => Err(problem),
            _ => Ok(()),
        }
    }

    /// The partner's qualification and firm quote of `item`: their ids, or why it cannot be had.
    async fn pre_order(&self, partner: &PartnerConfig, item: &Value) -> Result<Value, Problem> {
        let post = reqwest::Method::POST;
        let product = &item["product"];
        let letter = self.letter(partner);
        let buyer = json!([letter.contact("buyerContactInformation")]);
        let poq = json!({"instantSyncQualification": true, "relatedContactInformation": buyer,
            "productOfferingQualificationItem": [{"id": "1", "action": "add", "product": product}]});
        let path = format!("{}/productOfferingQualification", lso_mef_product::poq_base(Irp::Sonata));
        let qualified = self.call(partner, post.clone(), &path, Some(&poq)).await?;
        let answer = &qualified["productOfferingQualificationItem"][0];
        if qualified["state"] != "done.ready" || answer["serviceabilityConfidence"] == "red" {
            let why =
                answer["serviceabilityConfidenceReason"].as_str().or(answer["terminationError"][0]["value"].as_str());
            return Err(format!(
                "partner {} cannot serve it (qualification {} {}): {}",
                partner.name,
                text(&qualified["id"]),
                text(&qualified["state"]),
                why.unwrap_or("no reason given")
            )
            .into());
        }
        let contacts = json!([letter.contact("quoteItemTechnicalContact"), letter.contact("quoteItemLocationContact")]);
        let quote = json!({"buyerRequestedQuoteLevel": "firm", "instantSyncQuote": true,
            "requestedQuoteCompletionDate": letter.due().as_str(), "relatedContactInformation": buyer,
            "quoteItem": [{"id": "1", "action": "add", "product": product, "requestedQuoteItemTerm": item["requestedItemTerm"],
                           "relatedContactInformation": contacts,
                           "productOfferingQualificationItem": {"id": "1", "productOfferingQualificationId": qualified["id"]}}]});
        let path = format!("{}/quote", lso_mef_product::quote_base(Irp::Sonata));
        let quoted = self.call(partner, post, &path, Some(&quote)).await?;
        if quoted["state"] != "approved.orderable" {
            let answer = &quoted["quoteItem"][0];
            let why = answer["terminationError"][0]["value"].as_str().or(answer["state"].as_str());
            return Err(format!(
                "partner {} gave no orderable quote (quote {} {}): {}",
                partner.name,
                text(&quoted["id"]),
                text(&quoted["state"]),
                why.unwrap_or("no reason given")
            )
            .into());
        }
        Ok(json!({"poq": qualified["id"], "quote": quoted["id"]}))
    }

    /// Where a partner's order stands, as this Seller's item: failed once it has taken longer
    /// than the partner's `order_timeout_seconds`.
    fn partner_status(partner: &PartnerConfig, order: &Value, request: &FulfilmentRequest<'_>) -> FulfilmentStatus {
        let now = request.now;
        let overdue = now > request.started_at + partner.order_timeout_seconds * 1000;
        match order["state"].as_str() {
            Some("completed") => FulfilmentStatus::Completed,
            Some(state @ ("failed" | "partial" | "rejected" | "cancelled")) => {
                let errors = order["productOrderItem"].as_array().into_iter().flatten().flat_map(|i| {
                    i["stateChange"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|c| c["changeReason"].as_str().map(str::to_owned))
                });
                let reasons: Vec<String> = errors.collect();
                FulfilmentStatus::Failed {
                    reason: format!(
                        "partner {} order {} ended {state}: {}",
                        partner.name,
                        text(&order["id"]),
                        reasons.join("; ")
                    ),
                }
            }
            _ if overdue => FulfilmentStatus::Failed {
                reason: format!(
                    "partner {} did not complete order {} within {} s",
                    partner.name,
                    text(&order["id"]),
                    partner.order_timeout_seconds
                ),
            },
            _ => FulfilmentStatus::InProgress { check_at: now + POLL_MILLIS },
        }
    }

    /// The partner's own id of this Seller's site `site`: the site's address validated at the
    /// partner (Address Management), then the partner's site at that address (Site Management).
    /// Kept as `partnerSite` `{partner}:{site}`.
    async fn partner_site(&self, partner: &PartnerConfig, site: &str) -> Result<String, Problem> {
        let key = format!("{}:{site}", partner.name);
        if let Some(found) = self.record(PARTNER_SITE, &key).await? {
            return Ok(text(&found["site"]));
        }
        let ours = self.geography.sites.iter().find(|s| s.id == site);
        let address = &ours.ok_or_else(|| format!("site {site} is not in this Seller's geography"))?.address;
        let mut fielded = json!({"@type": "FieldedAddress", "streetNr": address.street_nr, "streetName": address.street_name,
            "streetType": address.street_type, "city": address.city, "stateOrProvince": address.state_or_province,
            "postcode": address.postcode, "country": address.country});
        fielded.as_object_mut().into_iter().for_each(|f| f.retain(|_, v| v != ""));
        let path = format!("{}/geographicAddressValidation", lso_mef_product::address_base(Irp::Sonata));
        let request = json!({"provideAlternative": true, "submittedGeographicAddress": fielded});
        let validated = self.call(partner, reqwest::Method::POST, &path, Some(&request)).await?;
        let unknown = |what: &str| Problem::from(format!("partner {} {what} of site {site}", partner.name));
        let theirs =
            match (validated["validationResult"].as_str(), validated["bestMatchGeographicAddress"]["id"].as_str()) {
                (Some("success"), Some(id)) => id.to_owned(),
                _ => return Err(unknown("does not know the address")),
            };
        let path = format!("{}/geographicSite?geographicAddress.id={theirs}", lso_mef_product::site_base(Irp::Sonata));
        let sites = self.call(partner, reqwest::Method::GET, &path, None).await?;
        let found = sites[0]["id"].as_str().ok_or_else(|| unknown("has no site at the address"))?.to_owned();
        self.keep(PARTNER_SITE, &key, &json!({"site": found, "address": theirs})).await?;
        Ok(found)
    }

    /// An off-net UNI: the same UNI bought from the partner at its site at the same address.
    async fn off_net_uni(
        &self,
        partner: &PartnerConfig,
        request: &FulfilmentRequest<'_>,
    ) -> Result<FulfilmentStatus, Problem> {
        let letter = self.letter(partner);
        let mut item = letter.add_item(request.configuration.cloned().unwrap_or(Value::Null));
        let mut places = Vec::new();
        for (role, site) in request.places {
            let theirs = self.partner_site(partner, site).await?;
            places.push(json!({"@type": "GeographicSiteRef", "id": theirs, "role": role}));
        }
        item["product"]["place"] = json!(places);
        let external_id = format!("{}/{}", request.order_id, request.item_id);
        let order = self.partner_order(partner, request.order_id, &external_id, letter.order(vec![item])).await?;
        self.bought(partner, &order, request).await
    }

    /// Where partner order `order` for `request` stands. Once completed, the product it made is
    /// read from the partner's inventory: only an active one realises the customer's product
    /// (kept as `offNetProduct`).
    async fn bought(
        &self,
        partner: &PartnerConfig,
        order: &Value,
        request: &FulfilmentRequest<'_>,
    ) -> Result<FulfilmentStatus, Problem> {
        let status = Self::partner_status(partner, order, request);
        if status != FulfilmentStatus::Completed || self.record(OFF_NET, request.product_id).await?.is_some() {
            return Ok(status);
        }
        let id = text(&order["productOrderItem"][0]["product"]["id"]);
        let path = format!("{}/product/{id}", lso_mef_product::inventory_base(Irp::Sonata));
        let product = self.call(partner, reqwest::Method::GET, &path, None).await?;
        if product["status"] != "active" {
            return Err(transient(format!(
                "partner {} completed order {} but its product {id} is {}",
                partner.name,
                text(&order["id"]),
                product["status"]
            )));
        }
        self.follow_faults(partner, request.product_id, &id).await;
        let doc = json!({"partner": partner.name, "order": order["id"], "product": id, "href": product["href"]});
        self.keep(OFF_NET, request.product_id, &doc).await?;
        Ok(status)
    }

    /// Subscribes to the fault events of `partner`'s Interlude and notes which of the customer's
    /// products (`product`) each service realising the partner's product `theirs` serves, so
    /// the customer hears of the partner's faults on it. Best effort: without it the faults are
    /// still read with the service (`partner_faults`).
    async fn follow_faults(&self, partner: &PartnerConfig, product: &str, theirs: &str) {
        let followed = async {
            let key = format!("{}:interlude", partner.name);
            self.subscribe(partner, &key, lso_api_allegro::INTERLUDE_BASE, "serviceFaultEvent").await?;
            let path = format!("{}/service?productId={theirs}", lso_api_allegro::INTERLUDE_BASE);
            let services = self.call(partner, reqwest::Method::GET, &path, None).await?;
            for service in services.as_array().into_iter().flatten() {
                let key = format!("{}:{}", partner.name, text(&service["id"]));
                self.keep(FAULTS_OF, &key, &json!({"product": product})).await?;
            }
            Ok::<(), Problem>(())
        };
        if let Err(problem) = followed.await {
            tracing::warn!(reason = %problem.reason, partner = %partner.name, "the partner's faults are not heard of, only read");
        }
    }

    /// Stores `doc` as `kind` `id` unless it is there already.
    pub(crate) async fn keep(&self, kind: &str, id: &str, doc: &Value) -> Result<(), String> {
        let record =
            Record { kind: kind.into(), id: id.into(), tenant: String::new(), version: 1, doc: doc.to_string() };
        match self.store.apply(vec![WriteOp::Insert { record, index: Vec::new() }]).await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(format!("storage: {e}")),
        }
    }

    /// The S-VLAN at `partner`'s ENNI that product `product`'s legs meet on: the one taken
    /// before, or the lowest free one, taken now together with the record of it.
    async fn stitch_vlan(&self, partner: &PartnerConfig, product: &str) -> Result<u16, String> {
        for _ in 0..4094 {
            if let Some(stitch) = self.record(STITCH, product).await? {
                return stitch["sVlan"]
                    .as_u64()
                    .and_then(|v| u16::try_from(v).ok())
                    .ok_or("a corrupt S-VLAN record".into());
            }
            let mut vlan = 2;
            while vlan < 4095 && self.record(ENNI_VLAN, &format!("{}:{vlan}", partner.enni)).await?.is_some() {
                vlan += 1;
            }
            if vlan == 4095 {
                return Err(format!("no S-VLAN is free at ENNI {}", partner.enni));
            }
            let record = |kind: &str, id: String, doc: Value| WriteOp::Insert {
                record: Record { kind: kind.into(), id, tenant: String::new(), version: 1, doc: doc.to_string() },
                index: Vec::new(),
            };
            let ops = vec![
                record(ENNI_VLAN, format!("{}:{vlan}", partner.enni), json!({"product": product})),
                record(STITCH, product.into(), json!({"partner": partner.name, "sVlan": vlan})),
            ];
            match self.store.apply(ops).await {
                Ok(()) => return Ok(vlan),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(format!("storage: {e}")),
            }
        }
        Err(format!("no S-VLAN could be taken at ENNI {}", partner.enni))
    }

    /// An EVC with an off-net end: the partner's Access E-Line from its UNI to the ENNI, and an
    /// OVC from the on-net UNI to the ENNI, on one S-VLAN.
    async fn off_net_evc(
        &self,
        request: &FulfilmentRequest<'_>,
        on_net: (&str, Vec<u16>),
        off_net: (&Value, Vec<u16>),
        cir: u64,
    ) -> Result<FulfilmentStatus, Problem> {
        let (far, far_vlans) = off_net;
        let partner = self
            .partner(far["partner"].as_str().unwrap_or_default())
            .ok_or("the partner of the off-net UNI is no longer configured")?;
        let s_vlan = self.stitch_vlan(partner, request.product_id).await?;
        let access = json!({"@type": lso_spec::ids::ACCESS_ELINE, "maximumFrameSize": 1600,
            "uniEp": {"ceVlanIdList": far_vlans, "ingressBandwidthProfilePerClassOfServiceName": lso_bus::ingress_profile(cir)},
            "enniEp": {"sVlanId": s_vlan, "ingressBandwidthProfilePerClassOfServiceName": lso_bus::ingress_profile(cir)}});
        let letter = self.letter(partner);
        let mut item = letter.add_item(access);
        item["product"]["productRelationship"] = json!([
            {"id": far["product"], "relationshipType": "CONNECTS_TO_UNI"},
            {"id": partner.enni_product, "relationshipType": "ENNI_REFERENCE"},
        ]);
        let external_id = format!("{}/{}", request.order_id, request.item_id);
        let bought = self.partner_order(partner, request.order_id, &external_id, letter.order(vec![item])).await?;
        let (uni, near_vlans) = on_net;
        let services =
            self.legato.services_by_external_id(lso_bus::LEGATO_CLIENT, uni).await.map_err(|e| e.to_string())?;
        let uni_service = services
            .iter()
            .find(|s| s["state"] != "terminated")
            .map(|s| text(&s["id"]))
            .ok_or_else(|| format!("UNI product {uni} is not realised"))?;
        let own = match self
            .legato
            .service_order_by_external_id(lso_bus::LEGATO_CLIENT, &external_id)
            .await
            .map_err(|e| e.to_string())?
        {
            Some(order) => order,
            None => {
                let now = lso_model::DateTime::from_millis(request.now);
                let configuration = json!({"@type": lso_sof::services::OVC, "cirMbps": cir, "endPoints": [
                    {"service": uni_service, "vlans": near_vlans}, {"interface": partner.enni, "vlans": [s_vlan]}]});
                let order = json!({"externalId": external_id, "requestedStartDate": now.as_str(), "requestedCompletionDate": now.as_str(),
                    "note": [{"author": "bus", "date": now.as_str(), "source": "bus",
                              "text": format!("on-net leg of product {}, to partner {} on S-VLAN {s_vlan}", request.product_id, partner.name)}],
                    "serviceOrderItem": [{"id": "1", "action": "add", "service": {"externalId": request.product_id, "state": "active", "serviceConfiguration": configuration}}]});
                self.legato.create_service_order(lso_bus::LEGATO_CLIENT, order).await.map_err(|e| e.to_string())?
            }
        };
        let theirs = self.bought(partner, &bought, request).await?;
        let ours = match own["state"].as_str() {
            Some("completed") => FulfilmentStatus::Completed,
            Some("failed" | "partial" | "rejected") => {
                FulfilmentStatus::Failed { reason: format!("the on-net leg to ENNI {} failed", partner.enni) }
            }
            _ => FulfilmentStatus::InProgress { check_at: request.now + POLL_MILLIS },
        };
        Ok(match (theirs, ours) {
            (FulfilmentStatus::Failed { reason }, _) | (_, FulfilmentStatus::Failed { reason }) => {
                FulfilmentStatus::Failed { reason }
            }
            (FulfilmentStatus::Completed, FulfilmentStatus::Completed) => FulfilmentStatus::Completed,
            _ => FulfilmentStatus::InProgress { check_at: request.now + POLL_MILLIS },
        })
    }

    /// An EVC both of whose UNIs a partner realises: the partner sells the whole EVC, configured
    /// as the customer's, between its two UNI products `unis` (A, then Z).
    async fn resold_evc(
        &self,
        request: &FulfilmentRequest<'_>,
        product: &Value,
        unis: [&Value; 2],
    ) -> Result<FulfilmentStatus, Problem> {
        let partner = self.partner_of(request).await.ok_or("the partner of the UNIs is no longer configured")?;
        let letter = self.letter(partner);
        let mut item = letter.add_item(product.clone());
        item["product"]["productRelationship"] = json!([
            {"id": unis[0], "relationshipType": "CONNECTS_TO_UNI_A"},
            {"id": unis[1], "relationshipType": "CONNECTS_TO_UNI_Z"},
        ]);
        let external_id = format!("{}/{}", request.order_id, request.item_id);
        let order = self.partner_order(partner, request.order_id, &external_id, letter.order(vec![item])).await?;
        self.bought(partner, &order, request).await
    }

    /// Deletes what a partner realises of the customer's product (`off_net`): a delete order
    /// to the partner, and this Seller's own leg of an off-net EVC; once both are gone the
    /// S-VLAN at the ENNI is free again.
    async fn delete_off_net(
        &self,
        request: &FulfilmentRequest<'_>,
        off_net: &Value,
    ) -> Result<FulfilmentStatus, Problem> {
        let partner = self
            .partner(off_net["partner"].as_str().unwrap_or_default())
            .ok_or("the partner of the product is no longer configured")?;
        let letter = self.letter(partner);
        let item = letter.delete_item("1", &off_net["product"]);
        let external_id = format!("{}/{}", request.order_id, request.item_id);
        let order = self.partner_order(partner, request.order_id, &external_id, letter.order(vec![item])).await?;
        let theirs = Self::partner_status(partner, &order, request);
        let stitch = self.record(STITCH, request.product_id).await?;
        let ours = if stitch.is_some() { self.inner.progress(*request).await } else { FulfilmentStatus::Completed };
        Ok(match (theirs, ours) {
            (FulfilmentStatus::Failed { reason }, _) | (_, FulfilmentStatus::Failed { reason }) => {
                FulfilmentStatus::Failed { reason }
            }
            (FulfilmentStatus::Completed, FulfilmentStatus::Completed) => {
                let mut ops = vec![WriteOp::Delete { kind: OFF_NET.into(), id: request.product_id.into() }];
                if let Some(vlan) = stitch.as_ref().and_then(|s| s["sVlan"].as_u64()) {
                    ops.push(WriteOp::Delete { kind: STITCH.into(), id: request.product_id.into() });
                    ops.push(WriteOp::Delete { kind: ENNI_VLAN.into(), id: format!("{}:{vlan}", partner.enni) });
                }
                self.store.apply(ops).await.map_err(|e| transient(format!("storage: {e}")))?;
                FulfilmentStatus::Completed
            }
            _ => FulfilmentStatus::InProgress { check_at: request.now + POLL_MILLIS },
        })
    }

    /// A modify of an off-net EVC: the partner's leg takes the new CIR over its Interlude (once),
    /// then this Seller's own leg, the OVC to the ENNI, by a `modify` service order.
    async fn modify_leg(&self, request: &FulfilmentRequest<'_>) -> Result<Option<FulfilmentStatus>, Problem> {
        if self.record(STITCH, request.product_id).await?.is_none() {
            return match self.record(OFF_NET, request.product_id).await? {
                Some(off_net) => self.modify_resold(request, &off_net).await.map(Some),
                None => Ok(None),
            };
        }
        let key = format!("{}/{}", request.order_id, request.item_id);
        let product = request.configuration.cloned().unwrap_or(Value::Null);
        let cir =
            ["evcEndPointA", "evcEndPointZ"].iter().map(|end| lso_bus::cir_mbps(&product[*end])).max().unwrap_or(0);
        let change = match self.record(PARTNER_CHANGE, &key).await? {
            Some(change) => serde_json::from_value::<Option<LegChange>>(change).unwrap_or(None),
            None => {
                let change = self.change_partner_leg(request.product_id, cir).await?;
                self.keep(PARTNER_CHANGE, &key, &json!(change)).await?;
                change
            }
        };
        if let Some(change) = change {
            match self.leg_change_done(&change).await {
                Ok(true) => {}
                Ok(false) => return Ok(Some(FulfilmentStatus::InProgress { check_at: request.now + POLL_MILLIS })),
                Err(lso_http::ApiError::Conflict(reason)) => return Err(transient(reason)),
                Err(other) => return Err(Problem::from(api_reason(&other))),
            }
        }
        let legato = |e: lso_sof::SofError| transient(e.to_string());
        let own = match self.legato.service_order_by_external_id(lso_bus::LEGATO_CLIENT, &key).await.map_err(legato)? {
            Some(order) => order,
            None => {
                let services = self
                    .legato
                    .services_by_external_id(lso_bus::LEGATO_CLIENT, request.product_id)
                    .await
                    .map_err(legato)?;
                let service = services
                    .iter()
                    .find(|s| s["state"] != "terminated")
                    .ok_or("this Seller's leg of the EVC is gone")?;
                let mut configuration = service["serviceConfiguration"].clone();
                configuration["cirMbps"] = json!(cir);
                let now = lso_model::DateTime::from_millis(request.now);
                let item = json!({"id": "1", "action": "modify", "service": {"id": service["id"], "serviceConfiguration": configuration}});
                let order = json!({"externalId": key, "requestedStartDate": now.as_str(),
                                   "requestedCompletionDate": now.as_str(), "serviceOrderItem": [item]});
                self.legato.create_service_order(lso_bus::LEGATO_CLIENT, order).await.map_err(legato)?
            }
        };
        Ok(Some(match own["state"].as_str() {
            Some("completed") => FulfilmentStatus::Completed,
            Some("failed" | "partial" | "rejected") => {
                FulfilmentStatus::Failed { reason: "this Seller's leg could not take the new bandwidth".into() }
            }
            _ => FulfilmentStatus::InProgress { check_at: request.now + POLL_MILLIS },
        }))
    }

    /// A modify of a product the partner realises whole (`off_net`): the same modify, of the
    /// partner's product, ordered from the partner.
    async fn modify_resold(
        &self,
        request: &FulfilmentRequest<'_>,
        off_net: &Value,
    ) -> Result<FulfilmentStatus, Problem> {
        let partner = self.partner(&text(&off_net["partner"])).ok_or("the partner is no longer configured")?;
        let theirs = text(&off_net["product"]);
        let path = format!("{}/product/{theirs}", lso_mef_product::inventory_base(Irp::Sonata));
        let stored = self.call(partner, reqwest::Method::GET, &path, None).await?;
        let letter = self.letter(partner);
        let mut item = letter.add_item(request.configuration.cloned().unwrap_or(Value::Null));
        item["action"] = json!("modify");
        item["product"]["id"] = json!(theirs);
        // MEF 123 R40: the product's relationships, repeated as the partner keeps them.
        item["product"]["productRelationship"] = stored["productRelationship"].clone();
        let external_id = format!("{}/{}", request.order_id, request.item_id);
        let order = self.partner_order(partner, request.order_id, &external_id, letter.order(vec![item])).await?;
        Ok(Self::partner_status(partner, &order, request))
    }

    /// The partner's leg of `product` takes `cir` over its Interlude; the change to follow.
    async fn change_partner_leg(&self, product: &str, cir: u64) -> Result<Option<LegChange>, Problem> {
        let cir = i64::try_from(cir).unwrap_or(i64::MAX);
        self.change_leg(product, Some(cir), None).await.map_err(|e| Problem {
            transient: matches!(e, lso_http::ApiError::Conflict(_)),
            reason: format!("the partner's leg cannot change: {}", api_reason(&e)),
        })
    }

    /// The work `request` needs from a partner, if any.
    async fn status(&self, request: &FulfilmentRequest<'_>) -> Result<Option<FulfilmentStatus>, Problem> {
        if request.action == ItemAction::Delete {
            return match self.record(OFF_NET, request.product_id).await? {
                Some(off_net) => self.delete_off_net(request, &off_net).await.map(Some),
                // Deleted already (the records go last), or on-net.
                None => Ok(None),
            };
        }
        if request.action == ItemAction::Modify {
            return self.modify_leg(request).await;
        }
        if request.action != ItemAction::Add {
            return Ok(None);
        }
        if let Some(partner) = self.partner_at(request.places) {
            return self.off_net_uni(partner, request).await.map(Some);
        }
        let product = request.configuration.cloned().unwrap_or(Value::Null);
        let ends = lso_bus::evc_ends(&product, request.related);
        let mut far = Vec::new();
        for (uni, _) in &ends {
            far.push(self.record(OFF_NET, uni).await?);
        }
        if ends.len() != 2 {
            return match far.iter().flatten().next() {
                Some(off) => Err(format!(
                    "a multipoint EVC with a UNI at partner {} is not sold: only point-to-point EVCs are stitched at an ENNI",
                    text(&off["partner"])
                )
                .into()),
                None => Ok(None),
            };
        }
        let cir = ends.iter().map(|(_, endpoint)| lso_bus::cir_mbps(endpoint)).max().unwrap_or(0);
        let vlans = |endpoint: &Value| lso_bus::ce_vlans(endpoint);
        match (&far[0], &far[1]) {
            (None, Some(off)) => self
                .off_net_evc(request, (&ends[0].0, vlans(&ends[0].1)), (off, vlans(&ends[1].1)), cir)
                .await
                .map(Some),
            (Some(off), None) => self
                .off_net_evc(request, (&ends[1].0, vlans(&ends[1].1)), (off, vlans(&ends[0].1)), cir)
                .await
                .map(Some),
            (Some(a), Some(z)) if a["partner"] == z["partner"] => {
                self.resold_evc(request, &product, [&a["product"], &z["product"]]).await.map(Some)
            }
            (Some(_), Some(_)) => Err("an EVC between UNIs of two different partners is not sold: no transit \
                                       between two ENNIs is offered"
                .into()),
            (None, None) => Ok(None),
        }
    }
}

impl Fulfilment for PartnerFulfilment {
    fn progress<'a>(
        &'a self,
        request: FulfilmentRequest<'a>,
    ) -> Pin<Box<dyn Future<Output = FulfilmentStatus> + Send + 'a>> {
        Box::pin(async move {
            let partner = self.partner_of(&request).await;
            let patience = partner.map_or(default_patience(), |p| p.patience_seconds) * 1000;
            let status = match self.status(&request).await {
                Ok(Some(status)) => status,
                Ok(None) => self.inner.progress(request).await,
                // A partner down or failing is asked again, ever less often, for a while.
                Err(Problem { reason, transient: true }) if request.now < request.started_at + patience => {
                    tracing::warn!(%reason, order = request.order_id, item = request.item_id, "asking the partner again later");
                    let waited = request.now - request.started_at;
                    FulfilmentStatus::InProgress { check_at: request.now + waited.clamp(POLL_MILLIS, 10_000) }
                }
                Err(Problem { reason, .. }) => FulfilmentStatus::Failed { reason },
            };
            if let FulfilmentStatus::Failed { reason } = &status
                && request.action == ItemAction::Add
                && let Err(err) = self.undo_later(&request).await
            {
                // The item fails all the same; what it left is undone when asked again.
                tracing::error!(%err, %reason, "could not schedule the undoing of a failed off-net item");
            }
            status
        })
    }

    fn milestones(&self, request: &FulfilmentRequest<'_>) -> Vec<String> {
        self.inner.milestones(request)
    }

    fn assigned<'a>(
        &'a self,
        request: FulfilmentRequest<'a>,
    ) -> Pin<Box<dyn Future<Output = Option<serde_json::Value>> + Send + 'a>> {
        self.inner.assigned(request)
    }
}

/// How many S-VLANs this Seller holds at its ENNIs for off-net EVCs (counted up to
/// [`lso_store::COUNTED_UP_TO`]).
pub async fn held_vlans(store: &Store) -> Result<u64, StoreError> {
    let query = lso_store::ListQuery { kind: ENNI_VLAN.into(), tenant: None, filters: Vec::new(), offset: 0, limit: 1 };
    Ok(store.list(query).await?.total.at_least())
}

impl PartnerFulfilment {
    /// Schedules the undoing of what failed item `request` left at a partner and on this
    /// Seller's network, if it went to a partner at all.
    async fn undo_later(&self, request: &FulfilmentRequest<'_>) -> Result<(), String> {
        let stitched = self.record(STITCH, request.product_id).await?;
        let partner = match stitched {
            Some(stitch) => text(&stitch["partner"]),
            None => match self.partner_at(request.places) {
                Some(partner) => partner.name.clone(),
                None => return Ok(()),
            },
        };
        let payload = json!({"partner": partner, "externalId": format!("{}/{}", request.order_id, request.item_id)});
        let job = WriteOp::Enqueue {
            kind: UNDO.into(),
            key: request.product_id.into(),
            payload: payload.to_string(),
            run_at: request.now,
        };
        self.store.apply(vec![job]).await.map_err(|e| format!("storage: {e}"))?;
        self.wake.notify_waiters();
        Ok(())
    }

    /// A step of undoing what the failed item of customer product `product` left: this Seller's
    /// own leg first, then the partner's order (cancelled while in progress, its products
    /// deleted once completed), then the S-VLAN and the records.
    async fn undo(&self, product: &str, payload: &Value, now: i64) -> Result<lso_jobs::Step, Problem> {
        let again = lso_jobs::Step::Again { at: now + POLL_MILLIS };
        let external_id = text(&payload["externalId"]);
        let undo_id = format!("{external_id}/undo");
        let services = self
            .legato
            .services_by_external_id(lso_bus::LEGATO_CLIENT, product)
            .await
            .map_err(|e| transient(e.to_string()))?;
        if let Some(service) = services.iter().find(|s| s["state"] != "terminated") {
            if self
                .legato
                .service_order_by_external_id(lso_bus::LEGATO_CLIENT, &undo_id)
                .await
                .map_err(|e| transient(e.to_string()))?
                .is_none()
            {
                let at = lso_model::DateTime::from_millis(now);
                let order = json!({"externalId": undo_id, "requestedStartDate": at.as_str(), "requestedCompletionDate": at.as_str(),
                    "serviceOrderItem": [{"id": "1", "action": "delete", "service": {"id": service["id"]}}]});
                self.legato
                    .create_service_order(lso_bus::LEGATO_CLIENT, order)
                    .await
                    .map_err(|e| transient(e.to_string()))?;
            }
            return Ok(again);
        }
        if let Some(partner) = self.partner(payload["partner"].as_str().unwrap_or_default()) {
            let query = format!("{}/productOrder?externalId={external_id}", ordering());
            let found = self.call(partner, reqwest::Method::GET, &query, None).await?;
            if let Some(order) = found.as_array().and_then(|orders| orders.first()) {
                let id = text(&order["id"]);
                match order["state"].as_str().unwrap_or_default() {
                    "acknowledged" | "inProgress" | "held" | "pending" => {
                        let cancel = json!({"productOrder": {"id": id}, "cancellationReasonType": "technical",
                            "cancellationReason": "the customer's order this served failed",
                            "relatedContactInformation": [self.letter(partner).contact("cancelProductOrderContact")]});
                        // Refused (asked twice): the order is being cancelled already.
                        if let Err(problem) = self
                            .call(
                                partner,
                                reqwest::Method::POST,
                                &format!("{}/cancelProductOrder", ordering()),
                                Some(&cancel),
                            )
                            .await
                            && problem.transient
                        {
                            return Err(problem);
                        }
                        return Ok(again);
                    }
                    "completed" | "partial" => {
                        let order = self
                            .call(partner, reqwest::Method::GET, &format!("{}/productOrder/{id}", ordering()), None)
                            .await?;
                        let letter = self.letter(partner);
                        let items: Vec<Value> = order["productOrderItem"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|i| i["state"] == "completed")
                            .enumerate()
                            .map(|(n, i)| letter.delete_item(&(n + 1).to_string(), &i["product"]["id"]))
                            .collect();
                        let removal = self.partner_order(partner, "", &undo_id, letter.order(items)).await?;
                        if !matches!(
                            removal["state"].as_str(),
                            Some("completed" | "failed" | "partial" | "rejected" | "cancelled")
                        ) {
                            return Ok(again);
                        }
                    }
                    "assessingCancellation" | "pendingCancellation" => return Ok(again),
                    _ => {}
                }
            } else {
                self.decline_quote(partner, &external_id).await?;
            }
        }
        let mut ops = vec![WriteOp::Delete { kind: OFF_NET.into(), id: product.into() }];
        if let Some(stitch) = self.record(STITCH, product).await? {
            let enni = self
                .partner(stitch["partner"].as_str().unwrap_or_default())
                .map(|p| p.enni.clone())
                .unwrap_or_default();
            ops.push(WriteOp::Delete { kind: STITCH.into(), id: product.into() });
            ops.push(WriteOp::Delete { kind: ENNI_VLAN.into(), id: format!("{enni}:{}", stitch["sVlan"]) });
        }
        // Each record is deleted on its own: some were never written.
        for op in ops {
            match self.store.apply(vec![op]).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(transient(format!("storage: {e}"))),
            }
        }
        Ok(lso_jobs::Step::Done)
    }
}

impl lso_jobs::JobHandler for PartnerFulfilment {
    fn handles(&self, kind: &str) -> bool {
        kind == UNDO
    }

    fn run<'a>(&'a self, job: &'a lso_store::Job) -> Pin<Box<dyn Future<Output = lso_jobs::StepResult> + Send + 'a>> {
        Box::pin(async move {
            let payload: Value = serde_json::from_str(&job.payload).unwrap_or(Value::Null);
            let now = self.clock.now_millis();
            match self.undo(&job.key, &payload, now).await {
                Ok(step) => Ok((Vec::new(), step)),
                Err(problem) => Err(lso_jobs::JobFailure { retry_now: false, message: problem.reason }),
            }
        })
    }

    fn wake(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }
}

impl lso_api_allegro::PartnerLegs for PartnerFulfilment {
    fn change_leg<'a>(
        &'a self,
        product: &'a str,
        cir_mbps: Option<i64>,
        ce_vlans: Option<&'a [i64]>,
    ) -> lso_api_allegro::BoxFuture<'a, Result<(), lso_http::ApiError>> {
        Box::pin(async move {
            match PartnerFulfilment::change_leg(self, product, cir_mbps, ce_vlans).await? {
                Some(change) => self.await_leg_change(&change).await,
                None => Ok(()),
            }
        })
    }

    fn partner_faults<'a>(&'a self, product: &'a str) -> lso_api_allegro::BoxFuture<'a, Vec<Value>> {
        Box::pin(PartnerFulfilment::partner_faults(self, product))
    }
}

impl PartnerFulfilment {
    /// Changes the partner's leg of off-net product `product` (if it has one) over the
    /// partner's Interlude: the same CIR and CE-VLANs, within the partner's policy; the change
    /// the partner accepted, to follow. A change the partner refuses is refused with its reason;
    /// a partner that cannot be reached, with 409.
    pub async fn change_leg(
        &self,
        product: &str,
        cir_mbps: Option<i64>,
        ce_vlans: Option<&[i64]>,
    ) -> Result<Option<LegChange>, lso_http::ApiError> {
        let unavailable =
            |reason: String| lso_http::ApiError::Conflict(format!("{reason}; nothing was changed, try again later"));
        let stitched = self.record(STITCH, product).await.map_err(unavailable)?;
        let off_net = self.record(OFF_NET, product).await.map_err(unavailable)?;
        let (Some(_), Some(off_net)) = (stitched, off_net) else { return Ok(None) };
        let Some(partner) = self.partner(off_net["partner"].as_str().unwrap_or_default()) else { return Ok(None) };
        let base = format!("{}{}", partner.url.trim_end_matches('/'), lso_api_allegro::INTERLUDE_BASE);
        let reached = |e: String| unavailable(format!("partner {} cannot be reached: {e}", partner.name));
        let url = format!("{base}/service?productId={}", text(&off_net["product"]));
        let services: Value = self
            .sent(partner, self.request(reqwest::Method::GET, &url))
            .await
            .map_err(reached)?
            .json()
            .await
            .map_err(|e| reached(e.to_string()))?;
        let service = services[0]["id"]
            .as_str()
            .ok_or_else(|| unavailable(format!("partner {} shows no service for the leg", partner.name)))?;
        let mut change = json!({"service": {"id": service}});
        let mut undo = change.clone();
        let was = |name: &str| {
            let changeable = services[0]["changeable"].as_array().into_iter().flatten();
            changeable.clone().find(|c| c["name"] == name).map(|c| c["value"].clone()).unwrap_or_default()
        };
        if let Some(cir) = cir_mbps {
            change["cirMbps"] = json!(cir);
            undo["cirMbps"] = was("cirMbps");
        }
        if let Some(vlans) = ce_vlans {
            change["ceVlans"] = json!(vlans);
            undo["ceVlans"] = was("ceVlans");
        }
        let asked = self.request(reqwest::Method::POST, &format!("{base}/serviceChange")).json(&change);
        let response = self.sent(partner, asked).await.map_err(reached)?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        match status.as_u16() {
            201 => Ok(Some(LegChange {
                partner: partner.name.clone(),
                url: format!("{base}/serviceChange/{}", text(&answer["id"])),
                undo,
            })),
            422 => {
                let violations = answer.as_array().into_iter().flatten().map(|v| {
                    let reason = format!("partner {}: {}", partner.name, text(&v["reason"]));
                    lso_model::Violation::new(lso_model::ViolationCode::InvalidValue, text(&v["propertyPath"]), reason)
                });
                Err(lso_http::ApiError::Unprocessable(violations.collect()))
            }
            _ => Err(unavailable(format!("partner {} answered {status}: {answer}", partner.name))),
        }
    }
}

/// A change a partner accepted on its leg of an off-net EVC.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct LegChange {
    /// The partner.
    pub partner: String,
    /// Where its Interlude shows the change.
    pub url: String,
    /// The change that puts the leg back as it was.
    #[serde(default)]
    pub undo: Value,
}

impl PartnerFulfilment {
    /// Where `change` stands at the partner: `Ok(true)` completed, `Ok(false)` not yet, the
    /// partner's reason if it failed, 409 if the partner cannot say.
    pub async fn leg_change_done(&self, change: &LegChange) -> Result<bool, lso_http::ApiError> {
        let unreachable =
            |reason: String| lso_http::ApiError::Conflict(format!("partner {}: {reason}", change.partner));
        let partner = self.partner(&change.partner).ok_or_else(|| unreachable("no longer configured".into()))?;
        let read = self
            .sent(partner, self.request(reqwest::Method::GET, &change.url))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let state: Value = read.json().await.map_err(|e| unreachable(e.to_string()))?;
        match state["state"].as_str() {
            Some("completed") => Ok(true),
            Some("failed") => Err(lso_http::ApiError::unprocessable(lso_model::Violation::new(
                lso_model::ViolationCode::InvalidValue,
                "",
                format!("partner {} could not change its leg: {}", change.partner, text(&state["reason"])),
            ))),
            _ => Ok(false),
        }
    }

    /// Waits (reading it every 100 ms, for the partner's `patience_seconds` but 30 s at most)
    /// until the partner has made `change`; if it has not by then, asks it to change back.
    pub async fn await_leg_change(&self, change: &LegChange) -> Result<(), lso_http::ApiError> {
        let patience = self.partner(&change.partner).map_or(30, |p| p.patience_seconds.clamp(1, 30));
        let mut ticker = tokio::time::interval(std::time::Duration::from_millis(100));
        for _ in 0..patience * 10 {
            ticker.tick().await;
            if self.leg_change_done(change).await? {
                return Ok(());
            }
        }
        // Changes of a service are made in the order asked: the change back follows the late
        // one, so the partner's leg ends as this Seller's stays.
        let undone = match self.partner(&change.partner) {
            Some(partner) => {
                let changes = change.url.rsplit_once('/').map_or(change.url.as_str(), |(base, _)| base);
                let undo = self.request(reqwest::Method::POST, changes).json(&change.undo);
                let asked = self.sent(partner, undo).await;
                match asked {
                    Ok(answer) if answer.status().is_success() => "it is asked to change back".to_owned(),
                    Ok(answer) => format!("asking it to change back got {}", answer.status()),
                    Err(e) => format!("it could not be asked to change back: {e}"),
                }
            }
            None => "it is no longer configured".to_owned(),
        };
        tracing::warn!(partner = %change.partner, %undone, "a partner's leg change was late");
        Err(lso_http::ApiError::Conflict(format!(
            "partner {} did not make its change within {patience} s ({undone}); this Seller's leg is unchanged",
            change.partner
        )))
    }

    /// The faults the partner shows over its Interlude on its leg of off-net product `product`,
    /// each marked with the partner's name; none if the product has no leg there. A partner
    /// that cannot be asked is itself a fault.
    pub async fn partner_faults(&self, product: &str) -> Vec<Value> {
        let Ok(Some(off_net)) = self.record(OFF_NET, product).await else { return Vec::new() };
        let Some(partner) = self.partner(off_net["partner"].as_str().unwrap_or_default()) else { return Vec::new() };
        let url = format!(
            "{}{}/service?productId={}",
            partner.url.trim_end_matches('/'),
            lso_api_allegro::INTERLUDE_BASE,
            text(&off_net["product"])
        );
        let asked = async {
            let response = self.sent(partner, self.request(reqwest::Method::GET, &url)).await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            response.json::<Value>().await.ok()
        };
        match asked.await {
            Some(services) => services
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s["fault"].as_array().cloned().unwrap_or_default())
                .map(|mut fault| {
                    fault["partner"] = json!(partner.name);
                    fault
                })
                .collect(),
            None => vec![json!({"kind": "partnerUnreachable", "element": partner.name, "partner": partner.name,
                "detail": format!("partner {} could not be asked for the faults on its leg", partner.name),
                "raisedAt": lso_model::DateTime::from_millis(self.clock.now_millis()).as_str()})],
        }
    }
}

/// What an API error says, in words (the reasons of a 422).
fn api_reason(error: &lso_http::ApiError) -> String {
    match error {
        lso_http::ApiError::Unprocessable(found) => {
            found.iter().map(|v| v.reason.clone()).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}
