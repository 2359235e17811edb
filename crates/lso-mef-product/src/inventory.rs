//! Product Inventory documents (MEF 116; Sonata v7, Cantata v1).

use crate::common::*;
use crate::order::ProductOrderItemRef;
use lso_model::order::{ChargePeriod, PriceType};
use lso_model::product::ProductStatus;
use serde::{Deserialize, Serialize};
use serde_with::{DisplayFromStr, serde_as, skip_serializing_none};

/// `MEFProduct`: a product in the Seller's inventory.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub id: String,
    pub href: Option<String>,
    pub billing_account: Option<BillingAccountRef>,
    pub external_id: Option<String>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub last_update_date: Option<DateTime>,
    pub product_configuration: Option<ProductConfiguration>,
    pub product_offering: Option<Ref>,
    pub product_order_item: Option<Vec<ProductOrderItemRef>>,
    pub product_price: Option<Vec<ProductPrice>>,
    pub product_relationship: Option<Vec<ProductRelationship>>,
    pub product_specification: Option<Ref>,
    pub product_term: Option<Vec<ItemTerm>>,
    pub related_contact_information: Option<Vec<RelatedContactInformation>>,
    pub related_site: Option<Vec<RelatedGeographicSite>>,
    #[serde_as(as = "DisplayFromStr")]
    pub start_date: DateTime,
    #[serde_as(as = "DisplayFromStr")]
    pub status: ProductStatus,
    pub status_change: Option<Vec<ProductStatusChange>>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub termination_date: Option<DateTime>,
}

/// `MEFProduct_Find`: the list projection.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductFind {
    pub id: String,
    pub href: Option<String>,
    pub billing_account: Option<BillingAccountRef>,
    pub external_id: Option<String>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub last_update_date: Option<DateTime>,
    pub product_offering: Option<Ref>,
    pub product_order_item: Option<Vec<ProductOrderItemRef>>,
    pub product_relationship: Option<Vec<ProductRelationship>>,
    pub product_specification: Option<Ref>,
    pub related_site: Option<Vec<RelatedGeographicSite>>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub start_date: Option<DateTime>,
    #[serde_as(as = "DisplayFromStr")]
    pub status: ProductStatus,
}

impl From<&Product> for ProductFind {
    fn from(p: &Product) -> Self {
        ProductFind {
            id: p.id.clone(),
            href: p.href.clone(),
            billing_account: p.billing_account.clone(),
            external_id: p.external_id.clone(),
            last_update_date: p.last_update_date.clone(),
            product_offering: p.product_offering.clone(),
            product_order_item: p.product_order_item.clone(),
            product_relationship: p.product_relationship.clone(),
            product_specification: p.product_specification.clone(),
            related_site: p.related_site.clone(),
            start_date: Some(p.start_date.clone()),
            status: p.status,
        }
    }
}

/// `RelatedGeographicSite`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelatedGeographicSite {
    pub id: String,
    pub role: String,
    pub href: Option<String>,
}

/// `MEFProductStatusChange`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductStatusChange {
    #[serde_as(as = "DisplayFromStr")]
    pub change_date: DateTime,
    pub change_reason: Option<String>,
    #[serde_as(as = "DisplayFromStr")]
    pub status: ProductStatus,
}

/// `ProductPrice`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductPrice {
    pub price: Price,
    #[serde_as(as = "DisplayFromStr")]
    pub price_type: PriceType,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    #[serde(default)]
    pub recurring_charge_period: Option<ChargePeriod>,
    pub unit_of_measure: Option<String>,
}
