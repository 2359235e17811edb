//! Types shared by the product APIs: date-times, contacts, notes, places, terms, prices.

use lso_model::order::{EndOfTermAction, NoteSource, TimeUnit};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_with::{DisplayFromStr, serde_as, skip_serializing_none};

pub use lso_model::DateTime;

/// `FieldedAddress`, also used as a contact's postal address.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldedAddress {
    pub city: String,
    pub country: String,
    pub street_name: String,
    pub geographic_sub_address: Option<GeographicSubAddress>,
    pub locality: Option<String>,
    pub postcode: Option<String>,
    pub postcode_extension: Option<String>,
    pub state_or_province: Option<String>,
    pub street_nr: Option<String>,
    pub street_nr_last: Option<String>,
    pub street_nr_last_suffix: Option<String>,
    pub street_nr_suffix: Option<String>,
    pub street_suffix: Option<String>,
    pub street_type: Option<String>,
}

/// `GeographicSubAddress`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeographicSubAddress {
    pub building_name: Option<String>,
    pub level_number: Option<String>,
    pub level_type: Option<String>,
    pub private_street_name: Option<String>,
    pub private_street_number: Option<String>,
    pub sub_unit: Option<Vec<SubUnit>>,
}

/// `MEFSubUnit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubUnit {
    pub sub_unit_number: String,
    pub sub_unit_type: String,
}

/// `RelatedContactInformation`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelatedContactInformation {
    pub email_address: String,
    pub name: String,
    pub number: String,
    pub role: String,
    pub number_extension: Option<String>,
    pub organization: Option<String>,
    pub postal_address: Option<FieldedAddress>,
}

/// `Note`: append-only remarks of Buyer or Seller.
#[serde_as]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub author: String,
    #[serde_as(as = "DisplayFromStr")]
    pub date: DateTime,
    pub id: String,
    #[serde_as(as = "DisplayFromStr")]
    pub source: NoteSource,
    pub text: String,
}

/// `RelatedPlaceRefOrValue`: a place by value or by reference, discriminated by `@type`
/// (`FieldedAddress`, `FormattedAddress`, `GeographicAddressLabel`, `GeographicAddressRef`,
/// `GeographicSiteRef`, `MEFGeographicPoint`). One struct holds the attributes of every kind;
/// [`RelatedPlace::missing_attributes`] checks those its kind requires.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelatedPlace {
    #[serde(rename = "@type")]
    pub r#type: String,
    pub role: String,
    #[serde(rename = "@schemaLocation")]
    pub schema_location: Option<String>,
    pub id: Option<String>,
    pub href: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub street_name: Option<String>,
    pub street_nr: Option<String>,
    pub street_nr_last: Option<String>,
    pub street_nr_last_suffix: Option<String>,
    pub street_nr_suffix: Option<String>,
    pub street_suffix: Option<String>,
    pub street_type: Option<String>,
    pub locality: Option<String>,
    pub postcode: Option<String>,
    pub postcode_extension: Option<String>,
    pub state_or_province: Option<String>,
    pub geographic_sub_address: Option<GeographicSubAddress>,
    pub addr_line1: Option<String>,
    pub addr_line2: Option<String>,
    pub external_reference_id: Option<String>,
    pub external_reference_type: Option<String>,
    pub spatial_ref: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
    pub z: Option<String>,
}

/// The place kinds of `RelatedPlaceRefOrValue`.
pub const PLACE_TYPES: [&str; 6] = [
    "FieldedAddress",
    "FormattedAddress",
    "GeographicAddressLabel",
    "GeographicAddressRef",
    "GeographicSiteRef",
    "MEFGeographicPoint",
];

impl RelatedPlace {
    /// The role the place plays.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The attributes its `@type` requires that are absent; `None` if the `@type` is unknown.
    pub fn missing_attributes(&self) -> Option<Vec<&'static str>> {
        let present = |name: &str| match name {
            "id" => self.id.is_some(),
            "city" => self.city.is_some(),
            "country" => self.country.is_some(),
            "streetName" => self.street_name.is_some(),
            "addrLine1" => self.addr_line1.is_some(),
            "externalReferenceId" => self.external_reference_id.is_some(),
            "externalReferenceType" => self.external_reference_type.is_some(),
            "spatialRef" => self.spatial_ref.is_some(),
            "x" => self.x.is_some(),
            _ => self.y.is_some(),
        };
        let required: &[&'static str] = match self.r#type.as_str() {
            "FieldedAddress" => &["city", "country", "streetName"],
            "FormattedAddress" => &["addrLine1", "city", "country"],
            "GeographicAddressLabel" => &["externalReferenceId", "externalReferenceType"],
            "GeographicAddressRef" | "GeographicSiteRef" => &["id"],
            "MEFGeographicPoint" => &["spatialRef", "x", "y"],
            _ => return None,
        };
        Some(required.iter().copied().filter(|name| !present(name)).collect())
    }
}

/// `Duration`.
#[serde_as]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Duration {
    pub amount: i64,
    #[serde_as(as = "DisplayFromStr")]
    pub units: TimeUnit,
}

/// `MEFItemTerm`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemTerm {
    pub name: String,
    pub duration: Duration,
    #[serde_as(as = "DisplayFromStr")]
    pub end_of_term_action: EndOfTermAction,
    pub description: Option<String>,
    pub roll_interval: Option<Duration>,
}

/// A reference by `id` (and optionally `href`): `ProductOfferingRef`, `ProductSpecificationRef`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ref {
    pub id: String,
    pub href: Option<String>,
}

/// `MEFBillingAccountRef`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingAccountRef {
    pub id: String,
}

/// `ProductRelationship`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductRelationship {
    pub id: String,
    pub relationship_type: String,
    pub href: Option<String>,
}

/// `Money`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub unit: String,
    pub value: serde_json::Number,
}

/// `Price`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    pub duty_free_amount: Money,
    pub tax_included_amount: Option<Money>,
    pub tax_rate: Option<serde_json::Number>,
}

/// `MEFProductConfiguration`: product-specific attributes, validated against the product
/// specification named by `@type`, stored and echoed as sent.
pub type ProductConfiguration = Map<String, Value>;

/// `EventSubscriptionInput`: a `POST /hub` body.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSubscriptionInput {
    pub callback: String,
    pub query: Option<String>,
}

/// `EventSubscription`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSubscription {
    pub id: String,
    pub callback: String,
    pub query: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_check_the_attributes_their_type_requires() {
        let place: RelatedPlace =
            serde_json::from_str(r#"{"@type":"GeographicSiteRef","role":"INSTALL_LOCATION","id":"s1"}"#).unwrap();
        assert_eq!(place.missing_attributes(), Some(vec![]));
        let place: RelatedPlace = serde_json::from_str(r#"{"@type":"FieldedAddress","role":"x","city":"c"}"#).unwrap();
        assert_eq!(place.missing_attributes(), Some(vec!["country", "streetName"]));
        let place: RelatedPlace = serde_json::from_str(r#"{"@type":"Cave","role":"x"}"#).unwrap();
        assert_eq!(place.missing_attributes(), None);
    }
}
