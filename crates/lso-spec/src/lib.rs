//! Product specifications: the catalog of what `lso` sells, each with the JSON Schema that a
//! `productConfiguration` whose `@type` names it must satisfy (MEF 123 §5.4 dynamic binding),
//! and the ordering rules a schema cannot express (required places and relationships).
//!
//! The specifications that ship with `lso` are ours (`specs/*.json`); an operator can add the
//! official MEF product-schema trees with [`import`].

pub mod import;
pub mod realisation;
mod validate;

use jsonschema::Validator;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

pub use validate::violations;

/// The ids (`@type`) of the built-in product specifications that orders name most.
pub mod ids {
    /// The Carrier Ethernet Subscriber UNI.
    pub const SUBSCRIBER_UNI: &str = "urn:mef:lso:spec:cantata-sonata:carrier-ethernet-subscriber-uni:v1.0.0:all";
    /// The EVPL.
    pub const EVPL: &str = "urn:mef:lso:spec:cantata-sonata:evpl-evc:v1.0.0:all";
    /// The EVP-LAN.
    pub const EVPLAN: &str = "urn:mef:lso:spec:cantata-sonata:evplan-evc:v1.0.0:all";
    /// The EPL.
    pub const EPL: &str = "urn:mef:lso:spec:cantata-sonata:epl-evc:v1.0.0:all";
    /// The Access E-Line (an OVC from a UNI to an ENNI).
    pub const ACCESS_ELINE: &str = "urn:mef:lso:spec:sonata:access-eline-ovc:v5.0.0:all";
}

/// The URI of the definitions shared by the built-in specifications.
pub const COMMON_SCHEMA_ID: &str = "urn:lso:spec:common";

const COMMON_SCHEMA: &str = include_str!("../specs/common.json");

const BUILT_IN: &[&str] = &[
    include_str!("../specs/subscriber-uni.json"),
    include_str!("../specs/epl.json"),
    include_str!("../specs/evpl.json"),
    include_str!("../specs/eplan.json"),
    include_str!("../specs/evplan.json"),
    include_str!("../specs/operator-uni.json"),
    include_str!("../specs/access-eline.json"),
    include_str!("../specs/basic-internet-access.json"),
    include_str!("../specs/ip-uni.json"),
    include_str!("../specs/enni.json"),
];

/// A relationship an `add` item must have to a product in the Buyer's inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredRelationship {
    /// `relationshipType`, e.g. `ENNI_REFERENCE`.
    pub relationship_type: String,
    /// Other names the MEF documents give the same relationship (e.g. `CONNECTS_TO_ENNI`).
    pub aliases: Vec<String>,
    /// The specification the related product must have.
    pub specification: String,
}

impl RequiredRelationship {
    /// Whether a relationship of type `relationship_type` is this one.
    pub fn is(&self, relationship_type: &str) -> bool {
        self.relationship_type == relationship_type || self.aliases.iter().any(|a| a == relationship_type)
    }
}

/// Why a specification could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The specification document is not what `lso` expects.
    #[error("specification {name}: {reason}")]
    Invalid { name: String, reason: String },
    /// Its schema does not compile.
    #[error("schema of {id} does not compile: {reason}")]
    Schema { id: String, reason: String },
}

/// An orderable product specification.
#[derive(Debug, Clone)]
pub struct ProductSpec {
    /// The `@type` URN a `productConfiguration` uses to name it.
    pub id: String,
    /// Other URNs accepted for it (e.g. the spelling used in MEF examples).
    pub aliases: Vec<String>,
    /// Human name.
    pub name: String,
    /// Short label for tables.
    pub short_name: String,
    /// Reference points that sell it: `sonata`, `cantata`.
    pub interfaces: Vec<String>,
    /// Place roles an `add` item must carry (e.g. `INSTALL_LOCATION`).
    pub required_place_roles: Vec<String>,
    /// Whether Buyers can order it; inventory-only products (e.g. an ENNI set up by
    /// agreement) are registered by the Seller's operators.
    pub orderable: bool,
    /// Relationships an `add` item must carry to products in inventory.
    pub required_product_relationships: Vec<RequiredRelationship>,
    /// The longest term offered, in months (MEF 123 R37).
    pub max_term_months: i64,
    /// How long the built-in fulfilment takes to provision it.
    pub provisioning_seconds: u64,
    /// The `@type` of the Legato service that realises it on the network, if one does (the
    /// catalog's product → service mapping).
    pub realised_by: Option<String>,
    /// A valid configuration, used by the demo.
    pub example: Value,
    /// The JSON Schema of its configuration, as written (served by the Product Catalog).
    pub schema: Value,
    /// Its price rule (W160 pricing discovery, quotes).
    pub pricing: Pricing,
    /// Where it came from: `built-in` or the imported file.
    pub origin: String,
    validator: Arc<Validator>,
    /// The official schema of a built-in specification, once the MEF tree defining it is
    /// imported: it validates every configuration first, `lso`'s own schema (what its network
    /// can deliver) on top.
    official: Option<Official>,
}

/// An official MEF schema validating a built-in specification's configurations.
#[derive(Debug, Clone)]
pub struct Official {
    /// The file of the imported tree it comes from.
    pub origin: String,
    validator: Arc<Validator>,
}

/// How a product of a specification is priced: a one-off charge, and a monthly one that grows
/// with the committed rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    /// ISO 4217 currency.
    pub currency: String,
    /// The installation charge.
    pub non_recurring: f64,
    /// The monthly charge.
    pub monthly: f64,
    /// What each Mbit/s of committed rate adds per month.
    pub monthly_per_mbps: f64,
}

impl Default for Pricing {
    fn default() -> Self {
        Pricing { currency: "USD".into(), non_recurring: 500.0, monthly: 100.0, monthly_per_mbps: 1.0 }
    }
}

impl Pricing {
    fn from_json(value: Option<&Value>) -> Self {
        let default = Pricing::default();
        let Some(value) = value else { return default };
        Pricing {
            currency: value["currency"].as_str().unwrap_or(&default.currency).to_owned(),
            non_recurring: value["nonRecurring"].as_f64().unwrap_or(default.non_recurring),
            monthly: value["monthly"].as_f64().unwrap_or(default.monthly),
            monthly_per_mbps: value["monthlyPerMbps"].as_f64().unwrap_or(default.monthly_per_mbps),
        }
    }
}

/// The Product Catalog's categories: (id, name, description).
pub const CATEGORIES: [(&str, &str, &str); 3] = [
    ("carrier-ethernet", "Carrier Ethernet", "UNIs, ENNIs and Ethernet virtual connections (MEF 6, MEF 26)"),
    ("internet-access", "Internet Access", "IP UNIs and Internet Access (MEF 69)"),
    ("other", "Other products", "Product specifications imported from the MEF product-schema trees"),
];

impl ProductSpec {
    /// The id of the Product Catalog offering of it: the URN's name and version, as a slug.
    pub fn offering_id(&self) -> String {
        format!("offering-{}", self.id.trim_start_matches("urn:mef:lso:spec:").replace(':', "-"))
    }

    /// Whether `other` defines the same product as this: everything a Buyer reads of it (the
    /// schema, names, terms, price, where it is sold and how it is realised) is alike.
    pub fn defines_the_same_as(&self, other: &ProductSpec) -> bool {
        (&self.aliases, &self.name, &self.short_name, &self.interfaces, &self.required_place_roles, self.orderable)
            == (
                &other.aliases,
                &other.name,
                &other.short_name,
                &other.interfaces,
                &other.required_place_roles,
                other.orderable,
            )
            && (
                &self.required_product_relationships,
                self.max_term_months,
                self.provisioning_seconds,
                &self.realised_by,
            ) == (
                &other.required_product_relationships,
                other.max_term_months,
                other.provisioning_seconds,
                &other.realised_by,
            )
            && (&self.schema, &self.pricing) == (&other.schema, &other.pricing)
    }

    /// Its description in the Product Catalog: name, short name and where it comes from.
    pub fn describe(&self) -> String {
        format!("{} ({}), from {}", self.name, self.short_name, self.origin)
    }

    /// The id of the category (of [`CATEGORIES`]) its offering is in, by the service realising it.
    pub fn category(&self) -> &'static str {
        match self.realised_by.as_deref() {
            Some(service) if service.contains("carrier-ethernet") => "carrier-ethernet",
            Some(service) if service.contains(":ip") => "internet-access",
            _ => "other",
        }
    }
}

impl ProductSpec {
    /// The findings of validating `configuration` against the specification's official schema
    /// (when it has one) and its own, each once, with JSON Pointers relative to the
    /// configuration.
    pub fn check(&self, configuration: &Value) -> Vec<lso_model::Violation> {
        let mut found = self.official.as_ref().map(|o| violations(&o.validator, configuration)).unwrap_or_default();
        for violation in violations(&self.validator, configuration) {
            if !found.iter().any(|f| f.property_path == violation.property_path && f.code == violation.code) {
                found.push(violation);
            }
        }
        found
    }

    /// The official MEF schema validating it besides its own, if its tree was imported.
    pub fn official(&self) -> Option<&Official> {
        self.official.as_ref()
    }

    /// This built-in specification with `imported`'s schema (the official one of the same id)
    /// validating its configurations first.
    pub fn with_official(&self, imported: &ProductSpec) -> ProductSpec {
        let official = Official { origin: imported.origin.clone(), validator: imported.validator.clone() };
        ProductSpec { official: Some(official), ..self.clone() }
    }
}

/// The product specifications `lso` knows, by `@type`.
#[derive(Debug, Default)]
pub struct Catalog {
    specs: Vec<Arc<ProductSpec>>,
    by_type: HashMap<String, Arc<ProductSpec>>,
}

impl Catalog {
    /// The specifications that ship with `lso`.
    pub fn built_in() -> Result<Self, SpecError> {
        let mut catalog = Catalog::default();
        for text in BUILT_IN {
            catalog.add(parse_built_in(text)?);
        }
        Ok(catalog)
    }

    /// Adds (or replaces) a specification.
    pub fn add(&mut self, spec: ProductSpec) {
        self.add_shared(Arc::new(spec));
    }

    /// Adds (or replaces) a specification held elsewhere too.
    pub fn add_shared(&mut self, spec: Arc<ProductSpec>) {
        self.specs.retain(|s| s.id != spec.id);
        for name in std::iter::once(&spec.id).chain(&spec.aliases) {
            self.by_type.insert(name.clone(), spec.clone());
        }
        self.specs.push(spec);
    }

    /// The specification a `productConfiguration.@type` names.
    pub fn get(&self, type_urn: &str) -> Option<&Arc<ProductSpec>> {
        self.by_type.get(type_urn)
    }

    /// Every specification, in the order added.
    pub fn specs(&self) -> &[Arc<ProductSpec>] {
        &self.specs
    }
}

struct CommonRetriever;

impl jsonschema::Retrieve for CommonRetriever {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.as_str().trim_end_matches('#') == COMMON_SCHEMA_ID {
            Ok(serde_json::from_str(COMMON_SCHEMA)?)
        } else {
            Err(format!("lso does not fetch schemas from {uri}").into())
        }
    }
}

/// Compiles a draft-07 schema whose references resolve locally.
pub(crate) fn compile(
    id: &str,
    schema: &Value,
    retriever: impl jsonschema::Retrieve + 'static,
) -> Result<Validator, SpecError> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .with_retriever(retriever)
        .build(schema)
        .map_err(|e| SpecError::Schema { id: id.to_owned(), reason: e.to_string() })
}

fn parse_built_in(text: &str) -> Result<ProductSpec, SpecError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| SpecError::Invalid { name: "built-in".into(), reason: e.to_string() })?;
    let field = |name: &str| {
        doc.get(name).cloned().ok_or_else(|| SpecError::Invalid {
            name: doc["id"].as_str().unwrap_or("built-in").to_owned(),
            reason: format!("no `{name}`"),
        })
    };
    let strings = |name: &str| -> Result<Vec<String>, SpecError> {
        Ok(field(name)?
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default())
    };
    let text_of =
        |name: &str| -> Result<String, SpecError> { Ok(field(name)?.as_str().unwrap_or_default().to_owned()) };
    let id = text_of("id")?;
    let schema = field("schema")?;
    let validator = compile(&id, &schema, CommonRetriever)?;
    Ok(ProductSpec {
        schema: schema.clone(),
        pricing: Pricing::from_json(doc.get("pricing")),
        aliases: strings("aliases")?,
        name: text_of("name")?,
        short_name: text_of("shortName")?,
        interfaces: strings("interfaces")?,
        required_place_roles: strings("requiredPlaceRoles")?,
        orderable: field("orderable")?.as_bool().unwrap_or(true),
        required_product_relationships: field("requiredProductRelationships")?
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| RequiredRelationship {
                relationship_type: r["relationshipType"].as_str().unwrap_or_default().to_owned(),
                aliases: r["aliases"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                specification: r["specification"].as_str().unwrap_or_default().to_owned(),
            })
            .collect(),
        max_term_months: field("maxTermMonths")?.as_i64().unwrap_or(60),
        provisioning_seconds: field("provisioningSeconds")?.as_u64().unwrap_or(0),
        realised_by: doc.get("realisedBy").and_then(Value::as_str).map(str::to_owned),
        example: field("example")?,
        origin: "built-in".into(),
        validator: Arc::new(validator),
        official: None,
        id,
    })
}

#[cfg(test)]
mod tests;
