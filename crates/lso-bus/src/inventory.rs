//! Product Inventory (MEF 116): products are created, changed and terminated by the orders
//! that name them, and read by their Buyer.

use crate::doc;
use crate::events::{self, Subject};
use crate::hubs::HubApi;
use crate::ordering::Listing;
use crate::{Bus, BusError};
use lso_mef_product::{
    DateTime, Product, ProductFind, ProductOrderItemCreate, ProductOrderItemRef, ProductStatusChange, Ref,
    RelatedGeographicSite, inventory_base,
};
use lso_model::Tenant;
use lso_model::product::{ProductEvent, ProductStatus};
use lso_store::Selection;
use lso_store::{IndexEntry, Record, WriteOp, sortable_time};
use std::collections::HashMap;

/// The store kind of products.
pub(crate) const PRODUCT: &str = "product";

impl Bus {
    /// The products of `tenant` among `ids`, by id.
    pub(crate) async fn products_by_id(
        &self,
        tenant: &Tenant,
        ids: &[String],
    ) -> Result<HashMap<String, Product>, BusError> {
        let mut found = HashMap::new();
        for id in ids {
            if let Some(record) = self.store.get(PRODUCT, Some(&tenant.key()), id).await? {
                let (_, product) = doc::read::<Product>(&record.doc, id)?;
                found.insert(id.clone(), product);
            }
        }
        Ok(found)
    }

    /// A product of `tenant` (of anyone's when `None`).
    pub async fn product(&self, tenant: Option<&str>, id: &str) -> Result<Product, BusError> {
        let record = self.store.get(PRODUCT, tenant, id).await?;
        let record = record.ok_or_else(|| BusError::NotFound(format!("no product with id `{id}`")))?;
        Ok(doc::read::<Product>(&record.doc, id)?.1)
    }

    /// The Buyer (with its reference point and Seller) whose product `id` is, if there is one.
    pub async fn owner_of_product(&self, id: &str) -> Result<Option<lso_model::Tenant>, BusError> {
        let record = self.store.get(PRODUCT, None, id).await?;
        Ok(record.and_then(|r| lso_model::Tenant::from_key(&r.tenant)))
    }

    /// A page of `tenant`'s products matching `filters`, newest first.
    pub async fn list_products(&self, selection: Selection) -> Result<Listing<ProductFind>, BusError> {
        self.documents(PRODUCT, selection, |p: &Product| p.into()).await
    }

    /// Loads a product of `tenant` for a change, with its stored version.
    pub(crate) async fn product_for_update(&self, tenant: &Tenant, id: &str) -> Result<(Product, i64), BusError> {
        let record = self.store.get(PRODUCT, Some(&tenant.key()), id).await?;
        let record = record.ok_or_else(|| BusError::Conflict(format!("product {id} disappeared")))?;
        Ok((doc::read::<Product>(&record.doc, id)?.1, record.version))
    }
}

/// A product `add`ed by an order item, `pendingActive` until the item completes.
pub(crate) fn new_product(
    id: &str,
    tenant: &Tenant,
    order_id: &str,
    item: &ProductOrderItemCreate,
    specification: &str,
    at: &DateTime,
) -> Product {
    let product = item.product.as_ref();
    let sites = product.and_then(|p| p.place.as_ref()).map(|places| {
        places
            .iter()
            .filter(|p| p.r#type == "GeographicSiteRef")
            .filter_map(|p| {
                Some(RelatedGeographicSite { id: p.id.clone()?, role: p.role.clone(), href: p.href.clone() })
            })
            .collect::<Vec<_>>()
    });
    Product {
        id: id.to_owned(),
        href: Some(format!("{}/product/{id}", inventory_base(tenant.irp))),
        billing_account: item.billing_account.clone(),
        external_id: None,
        last_update_date: Some(at.clone()),
        product_configuration: product.and_then(|p| p.product_configuration.clone()),
        product_offering: product.and_then(|p| p.product_offering.clone()),
        product_order_item: Some(vec![order_item_ref(order_id, &item.id)]),
        product_price: None,
        product_relationship: product.and_then(|p| p.product_relationship.clone()),
        product_specification: Some(Ref { id: specification.to_owned(), href: None }),
        product_term: item.requested_item_term.clone().map(|t| vec![t]),
        related_contact_information: None,
        related_site: sites.filter(|s| !s.is_empty()),
        start_date: at.clone(),
        status: ProductStatus::PendingActive,
        status_change: Some(vec![ProductStatusChange {
            change_date: at.clone(),
            change_reason: Some(format!("product order {order_id} item {} accepted", item.id)),
            status: ProductStatus::PendingActive,
        }]),
        termination_date: None,
    }
}

/// The reference from a product to the order item that created or changed it.
pub(crate) fn order_item_ref(order_id: &str, item_id: &str) -> ProductOrderItemRef {
    ProductOrderItemRef {
        product_order_id: order_id.to_owned(),
        product_order_item_id: item_id.to_owned(),
        product_order_href: None,
    }
}

/// Moves a product's status and records the change.
pub(crate) fn change_status(
    product: &mut Product,
    event: ProductEvent,
    at: &DateTime,
    reason: String,
) -> Result<(), BusError> {
    let next = product.status.on(event).map_err(|e| BusError::Conflict(format!("product {}: {e}", product.id)))?;
    product.status = next;
    product.last_update_date = Some(at.clone());
    product.status_change.get_or_insert_with(Vec::new).push(ProductStatusChange {
        change_date: at.clone(),
        change_reason: Some(reason),
        status: next,
    });
    Ok(())
}

/// The write ops storing a product (insert at `version` 1, else update) and announcing it.
pub(crate) fn store_product(
    bus: &Bus,
    tenant: &Tenant,
    product: &Product,
    version: i64,
    event_type: &str,
    at: &DateTime,
) -> Vec<WriteOp> {
    let record = Record {
        kind: PRODUCT.into(),
        id: product.id.clone(),
        tenant: tenant.key(),
        version,
        doc: doc::text(&doc::to_value(product)),
    };
    let index = product_index(product);
    let write = if version == 1 { WriteOp::Insert { record, index } } else { WriteOp::Update { record, index } };
    let subject = Subject {
        id: &product.id,
        href: format!("product/{}", product.id),
        item_id: None,
        milestone: None,
        ordering_key: &product.id,
    };
    vec![write, events::event(bus.ids.as_ref(), HubApi::Inventory, tenant, event_type, subject, at)]
}

/// The attributes products are listed by (the filters of `listProduct`).
pub fn product_index(product: &Product) -> Vec<IndexEntry> {
    let mut index = vec![
        IndexEntry::new("status", product.status.as_str()),
        IndexEntry::new("startDate", sortable_time(product.start_date.millis())),
    ];
    index.extend(
        product.last_update_date.as_ref().map(|d| IndexEntry::new("lastUpdateDate", sortable_time(d.millis()))),
    );
    index.extend(
        product.product_specification.as_ref().map(|s| IndexEntry::new("productSpecificationId", s.id.as_str())),
    );
    index.extend(product.product_offering.as_ref().map(|o| IndexEntry::new("productOfferingId", o.id.as_str())));
    index.extend(product.external_id.as_ref().map(|e| IndexEntry::new("externalId", e.as_str())));
    index.extend(product.billing_account.as_ref().map(|b| IndexEntry::new("billingAccountId", b.id.as_str())));
    for site in product.related_site.iter().flatten() {
        index.push(IndexEntry::new("geographicalSiteId", site.id.as_str()));
    }
    for relationship in product.product_relationship.iter().flatten() {
        index.push(IndexEntry::new("relatedProductId", relationship.id.as_str()));
    }
    for item in product.product_order_item.iter().flatten() {
        index.push(IndexEntry::new("productOrderId", item.product_order_id.as_str()));
    }
    index
}

impl Bus {
    /// Registers a product the Seller set up by agreement (e.g. an ENNI), `active` at once.
    pub async fn register_product(
        &self,
        tenant: &Tenant,
        configuration: serde_json::Value,
    ) -> Result<Product, BusError> {
        let path = "/productConfiguration";
        let type_urn = configuration.get("@type").and_then(serde_json::Value::as_str).unwrap_or_default();
        let spec = self.spec(type_urn).ok_or_else(|| {
            BusError::Invalid(vec![lso_model::Violation::invalid(
                format!("{path}/@type"),
                format!("`{type_urn}` is not a known specification"),
            )])
        })?;
        let problems: Vec<_> = spec.check(&configuration).into_iter().map(|v| v.under(path)).collect();
        if !problems.is_empty() {
            return Err(BusError::Invalid(problems));
        }
        let at = DateTime::from_millis(self.clock.now_millis());
        let id = self.ids.next_id();
        let product = Product {
            id: id.clone(),
            href: Some(format!("{}/product/{id}", inventory_base(tenant.irp))),
            billing_account: None,
            external_id: None,
            last_update_date: Some(at.clone()),
            product_configuration: configuration.as_object().cloned(),
            product_offering: None,
            product_order_item: None,
            product_price: None,
            product_relationship: None,
            product_specification: Some(Ref { id: spec.id.clone(), href: None }),
            product_term: None,
            related_contact_information: None,
            related_site: None,
            start_date: at.clone(),
            status: ProductStatus::Active,
            status_change: Some(vec![ProductStatusChange {
                change_date: at.clone(),
                change_reason: Some("registered by the Seller".into()),
                status: ProductStatus::Active,
            }]),
            termination_date: None,
        };
        self.commit(store_product(self, tenant, &product, 1, "productCreateEvent", &at)).await?;
        Ok(product)
    }
}
