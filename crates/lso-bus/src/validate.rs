//! The synchronous checks of `POST /productOrder` (MEF 123 §6.1): every problem is reported,
//! each with the JSON Pointer of the attribute at fault.

use lso_mef_product::{ItemTerm, Product, ProductOrderCreate, ProductOrderItemCreate, RelatedPlace};
use lso_model::order::{EndOfTermAction, ItemAction, NoteSource, TimeUnit};
use lso_model::product::ProductStatus;
use lso_model::{Irp, Violation};
use lso_spec::Catalog;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// What the checks may consult besides the request.
pub struct Context<'a> {
    /// The product specifications.
    pub catalog: &'a Catalog,
    /// The reference point the order came in by.
    pub irp: Irp,
    /// Now, in milliseconds since the epoch.
    pub now: i64,
    /// The tenant's inventory products the request refers to, by id.
    pub products: &'a HashMap<String, Product>,
    /// Whether Buyer-side requirements whose absence loses nothing are let go (interop mode).
    pub interop: bool,
}

/// Contact roles every item must carry (MEF 123 R14).
pub const ITEM_CONTACT_ROLES: [&str; 3] =
    ["buyerProductOrderItemContact", "buyerImplementationContact", "buyerTechnicalContact"];

/// The product ids a request refers to: `modify`/`delete` targets and relationships.
pub fn referenced_products(order: &ProductOrderCreate) -> Vec<String> {
    let mut ids = Vec::new();
    for item in order.product_order_item.iter().flatten() {
        if let Some(product) = &item.product {
            ids.extend(product.id.clone());
            ids.extend(product.product_relationship.iter().flatten().map(|r| r.id.clone()));
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

/// Every problem of a create request.
pub fn check_create(order: &ProductOrderCreate, raw: &Value, ctx: &Context) -> Vec<Violation> {
    let mut found = Vec::new();
    let has_order_contact = order.related_contact_information.iter().flatten().any(|c| c.role == "productOrderContact");
    if !has_order_contact {
        found.push(Violation::missing(
            "/relatedContactInformation",
            "MEF 123 R13: a contact with role `productOrderContact` is required",
        ));
    }
    check_notes(order.note.iter().flatten().map(|n| n.source), "", &mut found);
    let items = order.product_order_item.as_deref().unwrap_or_default();
    if items.is_empty() {
        found.push(Violation::missing("/productOrderItem", "MEF 123 R12: at least one product order item is required"));
        return found;
    }
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    let mut seen = HashSet::new();
    let mut targeted = HashSet::new();
    for (index, item) in items.iter().enumerate() {
        let at = format!("/productOrderItem/{index}");
        if item.id.trim().is_empty() {
            found.push(Violation::invalid(format!("{at}/id"), "the item id must not be empty"));
        } else if !seen.insert(item.id.as_str()) {
            found.push(Violation::invalid(
                format!("{at}/id"),
                format!("item id `{}` is used twice in this order", item.id),
            ));
        }
        if let Some(product_id) = item.product.as_ref().and_then(|p| p.id.as_deref())
            && item.action != ItemAction::Add
            && !targeted.insert(product_id)
        {
            found.push(Violation::invalid(
                format!("{at}/product/id"),
                format!("product `{product_id}` is the subject of another item of this order"),
            ));
        }
        let raw_item = &raw["productOrderItem"][index];
        check_item(item, raw_item, &at, &ids, ctx, &mut found);
    }
    if let Some(index) = first_in_cycle(items) {
        found.push(Violation::invalid(
            format!("/productOrderItem/{index}/productOrderItemRelationship"),
            "the relationships and coordinated actions of the items form a cycle; no item could start",
        ));
    }
    found
}

/// Whether a relationship of this type names the EVC an EVC end point belongs to
/// (`ROOT_ENDPOINT_OF_EVC`, `LEAF_ENDPOINT_OF_EVC`, `ENDPOINT_OF_EVC`).
pub(crate) fn is_endpoint_of_evc(relationship_type: &str) -> bool {
    relationship_type.ends_with("ENDPOINT_OF_EVC")
}

/// The ids of the items of an order (`items`) that `item` waits for: those it relates to and
/// coordinates with, except that an EVC waits for its end points rather than they for it (the
/// EVC is configured from them).
pub(crate) fn waits_for<'a>(
    item: &'a ProductOrderItemCreate,
    items: impl Iterator<Item = &'a ProductOrderItemCreate>,
) -> Vec<&'a str> {
    let relations = item.product_order_item_relationship.iter().flatten();
    let related = relations.filter(|r| !is_endpoint_of_evc(&r.relationship_type)).map(|r| r.id.as_str());
    let coordinated = item.coordinated_action.iter().flatten().map(|c| c.item_id.as_str());
    let endpoints = items
        .filter(|other| {
            let relations = other.product_order_item_relationship.iter().flatten();
            relations.clone().any(|r| r.id == item.id && is_endpoint_of_evc(&r.relationship_type))
        })
        .map(|other| other.id.as_str());
    related.chain(coordinated).chain(endpoints).collect()
}

/// The index of an item that depends on itself through relationships and coordinated actions.
fn first_in_cycle(items: &[ProductOrderItemCreate]) -> Option<usize> {
    let depends_on = |item: &ProductOrderItemCreate| -> Vec<usize> {
        let ids = waits_for(item, items.iter());
        ids.into_iter().filter_map(|id| items.iter().position(|i| i.id == id)).collect()
    };
    let edges: Vec<Vec<usize>> = items.iter().map(depends_on).collect();
    (0..items.len()).find(|&start| {
        let mut seen = vec![false; items.len()];
        let mut pending = edges[start].clone();
        while let Some(next) = pending.pop() {
            if next == start {
                return true;
            }
            if !std::mem::replace(&mut seen[next], true) {
                pending.extend(&edges[next]);
            }
        }
        false
    })
}

fn check_notes(sources: impl Iterator<Item = NoteSource>, at: &str, found: &mut Vec<Violation>) {
    for (index, source) in sources.enumerate() {
        if source != NoteSource::Buyer {
            found.push(Violation::invalid(
                format!("{at}/note/{index}/source"),
                "a Buyer's note must have source `buyer`",
            ));
        }
    }
}

fn check_item(
    item: &ProductOrderItemCreate,
    raw: &Value,
    at: &str,
    order_item_ids: &[&str],
    ctx: &Context,
    found: &mut Vec<Violation>,
) {
    // A delete needs no date and no contacts from the Buyer: the Seller fills in its own.
    let lenient = ctx.interop && item.action == ItemAction::Delete;
    match &item.requested_completion_date {
        None if lenient => {}
        None => found.push(Violation::missing(
            format!("{at}/requestedCompletionDate"),
            "MEF 123 R14: `requestedCompletionDate` is required",
        )),
        Some(date) if date.millis() <= ctx.now => found.push(Violation::invalid(
            format!("{at}/requestedCompletionDate"),
            format!("`{}` is in the past; the requested completion date must be in the future", date.as_str()),
        )),
        Some(_) => {}
    }
    let roles: HashSet<&str> = item.related_contact_information.iter().flatten().map(|c| c.role.as_str()).collect();
    for role in ITEM_CONTACT_ROLES {
        if !roles.contains(role) && !lenient {
            found.push(Violation::missing(
                format!("{at}/relatedContactInformation"),
                format!("MEF 123 R14: a contact with role `{role}` is required"),
            ));
        }
    }
    check_notes(item.note.iter().flatten().map(|n| n.source), at, found);
    for (index, relationship) in item.product_order_item_relationship.iter().flatten().enumerate() {
        if relationship.id == item.id || !order_item_ids.contains(&relationship.id.as_str()) {
            found.push(Violation::not_found(
                format!("{at}/productOrderItemRelationship/{index}/id"),
                format!("MEF 123 R31: `{}` is not another item of this order", relationship.id),
            ));
        }
    }
    for (index, action) in item.coordinated_action.iter().flatten().enumerate() {
        if action.item_id == item.id || !order_item_ids.contains(&action.item_id.as_str()) {
            found.push(Violation::not_found(
                format!("{at}/coordinatedAction/{index}/itemId"),
                format!("`{}` is not another item of this order", action.item_id),
            ));
        }
    }
    if let Some(term) = &item.requested_item_term {
        check_term(term, &format!("{at}/requestedItemTerm"), found);
    }
    for (index, place) in item.product.iter().flat_map(|p| p.place.iter().flatten()).enumerate() {
        let path = format!("{at}/product/place/{index}");
        match place.missing_attributes() {
            None => found.push(Violation::invalid(
                format!("{path}/@type"),
                format!(
                    "`{}` is not a place type; use one of {}",
                    place.r#type,
                    lso_mef_product::PLACE_TYPES.join(", ")
                ),
            )),
            Some(missing) => found.extend(missing.into_iter().map(|name| {
                Violation::missing(format!("{path}/{name}"), format!("a {} needs `{name}`", place.r#type))
            })),
        }
    }
    match item.action {
        ItemAction::Add => check_add(item, at, ctx, found),
        ItemAction::Modify => check_modify(item, at, ctx, found),
        ItemAction::Delete => check_delete(item, raw, at, ctx, found),
    }
}

/// MEF 123 R35: `roll` needs a `rollInterval`, the other actions must not have one.
fn check_term(term: &ItemTerm, at: &str, found: &mut Vec<Violation>) {
    if term.duration.amount <= 0 {
        found.push(Violation::invalid(format!("{at}/duration/amount"), "the term must last a positive amount"));
    }
    match (term.end_of_term_action, &term.roll_interval) {
        (EndOfTermAction::Roll, None) => found.push(Violation::missing(
            format!("{at}/rollInterval"),
            "MEF 123 R35: `rollInterval` is required when `endOfTermAction` is `roll`",
        )),
        (EndOfTermAction::Roll, Some(interval)) if interval.amount <= 0 => found.push(Violation::invalid(
            format!("{at}/rollInterval/amount"),
            "the roll interval must last a positive amount",
        )),
        (action, Some(_)) if action != EndOfTermAction::Roll => found.push(Violation::unexpected(
            format!("{at}/rollInterval"),
            format!("MEF 123 R35: `rollInterval` is only allowed when `endOfTermAction` is `roll`, not `{action}`"),
        )),
        _ => {}
    }
}

/// A term's length in months, rounding days up.
pub fn term_months(term: &ItemTerm) -> i64 {
    let amount = term.duration.amount;
    match term.duration.units {
        TimeUnit::CalendarMonths => amount,
        TimeUnit::CalendarDays | TimeUnit::BusinessDays => (amount + 29) / 30,
        TimeUnit::CalendarHours | TimeUnit::BusinessHours => (amount + 719) / 720,
        TimeUnit::CalendarMinutes | TimeUnit::BusinessMinutes => (amount + 43_199) / 43_200,
    }
}

fn check_add(item: &ProductOrderItemCreate, at: &str, ctx: &Context, found: &mut Vec<Violation>) {
    let Some(product) = &item.product else {
        found.push(Violation::missing(format!("{at}/product"), "MEF 123 R30: an `add` item needs a `product`"));
        return;
    };
    if product.id.is_some() {
        found.push(Violation::unexpected(
            format!("{at}/product/id"),
            "MEF 123 R36: an `add` item must not name a product id",
        ));
    }
    if product.product_offering.is_none() {
        found.push(Violation::missing(
            format!("{at}/product/productOffering"),
            "MEF 123 R32: `productOffering` is required",
        ));
    }
    if item.billing_account.is_none() {
        found.push(Violation::missing(format!("{at}/billingAccount"), "MEF 123 R33: `billingAccount` is required"));
    }
    if item.requested_item_term.is_none() {
        found.push(Violation::missing(
            format!("{at}/requestedItemTerm"),
            "MEF 123 R34: `requestedItemTerm` is required",
        ));
    }
    let Some(spec) = check_configuration(product.product_configuration.as_ref(), at, ctx, found) else {
        return;
    };
    let roles: HashSet<&str> = product.place.iter().flatten().map(RelatedPlace::role).collect();
    for role in &spec.required_place_roles {
        if !roles.contains(role.as_str()) {
            found.push(Violation::missing(
                format!("{at}/product/place"),
                format!("{} needs a place with role `{role}`", spec.name),
            ));
        }
    }
    let relationships = product.product_relationship.as_deref().unwrap_or_default();
    for required in &spec.required_product_relationships {
        let path = format!("{at}/product/productRelationship");
        let matching: Vec<_> = relationships.iter().filter(|r| required.is(&r.relationship_type)).collect();
        if matching.is_empty() {
            found.push(Violation::missing(
                path,
                format!(
                    "{} needs a `{}` relationship to a product in inventory",
                    spec.name, required.relationship_type
                ),
            ));
        } else if matching.iter().any(|r| {
            ctx.products
                .get(&r.id)
                .and_then(|p| p.product_specification.as_ref())
                .is_some_and(|s| s.id != required.specification)
        }) {
            found.push(Violation::invalid(
                path,
                format!(
                    "a `{}` relationship must name a product of {}",
                    required.relationship_type, required.specification
                ),
            ));
        }
    }
    for (index, relationship) in relationships.iter().enumerate() {
        let path = format!("{at}/product/productRelationship/{index}/id");
        match ctx.products.get(&relationship.id) {
            None => {
                found.push(Violation::not_found(path, format!("no product `{}` in your inventory", relationship.id)))
            }
            Some(p) if matches!(p.status, ProductStatus::Terminated | ProductStatus::Cancelled) => {
                found.push(Violation::invalid(path, format!("product `{}` is {}", relationship.id, p.status)))
            }
            Some(_) => {}
        }
    }
}

fn check_configuration<'c>(
    configuration: Option<&lso_mef_product::ProductConfiguration>,
    at: &str,
    ctx: &Context<'c>,
    found: &mut Vec<Violation>,
) -> Option<&'c std::sync::Arc<lso_spec::ProductSpec>> {
    let path = format!("{at}/product/productConfiguration");
    let Some(configuration) = configuration else {
        found.push(Violation::missing(path, "MEF 123 R30/R39: `productConfiguration` is required"));
        return None;
    };
    let Some(type_urn) = configuration.get("@type").and_then(Value::as_str) else {
        found.push(Violation::missing(format!("{path}/@type"), "MEF 123 R7: `@type` names the product specification"));
        return None;
    };
    let Some(spec) = ctx.catalog.get(type_urn) else {
        found.push(Violation::invalid(
            format!("{path}/@type"),
            format!("`{type_urn}` is not a product specification this Seller offers"),
        ));
        return None;
    };
    if !spec.orderable {
        found.push(Violation::invalid(
            format!("{path}/@type"),
            format!("{} is set up by agreement with the Seller, not ordered", spec.name),
        ));
        return None;
    }
    if !spec.interfaces.is_empty() && !spec.interfaces.iter().any(|i| i == ctx.irp.as_str()) {
        found.push(Violation::invalid(
            format!("{path}/@type"),
            format!("{} is not offered over {}", spec.name, ctx.irp),
        ));
        return None;
    }
    let value = Value::Object(configuration.clone());
    found.extend(spec.check(&value).into_iter().map(|v| v.under(&path)));
    Some(spec)
}

fn existing_product<'a>(
    item: &ProductOrderItemCreate,
    at: &str,
    ctx: &Context<'a>,
    found: &mut Vec<Violation>,
) -> Option<&'a Product> {
    let Some(id) = item.product.as_ref().and_then(|p| p.id.as_deref()) else {
        found.push(Violation::missing(
            format!("{at}/product/id"),
            format!("MEF 123 R39/R43: a `{}` item must name the product id", item.action),
        ));
        return None;
    };
    let path = format!("{at}/product/id");
    match ctx.products.get(id) {
        None => {
            found.push(Violation::not_found(path, format!("no product `{id}` in your inventory")));
            None
        }
        Some(product) if !product.status.accepts_change_orders() => {
            found.push(Violation::invalid(
                path,
                format!("product `{id}` is {}; only an active product can be changed", product.status),
            ));
            None
        }
        Some(product) => Some(product),
    }
}

fn check_modify(item: &ProductOrderItemCreate, at: &str, ctx: &Context, found: &mut Vec<Violation>) {
    let current = existing_product(item, at, ctx, found);
    if item.requested_item_term.is_none() {
        found.push(Violation::missing(
            format!("{at}/requestedItemTerm"),
            "MEF 123 R42: `requestedItemTerm` is required",
        ));
    }
    let product = item.product.as_ref();
    let spec = check_configuration(product.and_then(|p| p.product_configuration.as_ref()), at, ctx, found);
    let (Some(current), Some(product)) = (current, product) else { return };
    if let Some(spec) = spec
        && current.product_specification.as_ref().is_some_and(|s| s.id != spec.id)
    {
        found.push(Violation::invalid(
            format!("{at}/product/productConfiguration/@type"),
            "a modify order cannot change the product specification; delete and add instead",
        ));
    }
    let offering = |p: Option<&lso_mef_product::Ref>| p.map(|o| o.id.clone());
    if offering(product.product_offering.as_ref()) != offering(current.product_offering.as_ref()) {
        found.push(Violation::invalid(
            format!("{at}/product/productOffering"),
            "MEF 123 R40: repeat the product offering of the product in inventory unchanged",
        ));
    }
    let relationships = |r: Option<&Vec<lso_mef_product::ProductRelationship>>| {
        let mut pairs: Vec<(String, String)> =
            r.into_iter().flatten().map(|r| (r.id.clone(), r.relationship_type.clone())).collect();
        pairs.sort();
        pairs
    };
    if relationships(product.product_relationship.as_ref()) != relationships(current.product_relationship.as_ref()) {
        found.push(Violation::invalid(
            format!("{at}/product/productRelationship"),
            "MEF 123 R40: repeat the product relationships of the product in inventory unchanged",
        ));
    }
    let sites = |places: Option<&Vec<RelatedPlace>>| {
        let mut ids: Vec<(String, String)> = places
            .into_iter()
            .flatten()
            .filter(|p| p.r#type == "GeographicSiteRef")
            .filter_map(|p| Some((p.id.clone()?, p.role.clone())))
            .collect();
        ids.sort();
        ids
    };
    let current_sites = {
        let mut ids: Vec<(String, String)> =
            current.related_site.iter().flatten().map(|s| (s.id.clone(), s.role.clone())).collect();
        ids.sort();
        ids
    };
    if sites(product.place.as_ref()) != current_sites {
        found.push(Violation::invalid(
            format!("{at}/product/place"),
            "MEF 123 R40: repeat the sites of the product in inventory unchanged",
        ));
    }
}

fn check_delete(item: &ProductOrderItemCreate, raw: &Value, at: &str, ctx: &Context, found: &mut Vec<Violation>) {
    existing_product(item, at, ctx, found);
    if let Some(product) = raw["product"].as_object() {
        for key in product.keys().filter(|k| !matches!(k.as_str(), "id" | "href" | "@type")) {
            found.push(Violation::unexpected(
                format!("{at}/product/{key}"),
                "MEF 123 R44: a `delete` item names the product id and nothing else",
            ));
        }
    }
    if item.requested_item_term.is_some() {
        found.push(Violation::unexpected(format!("{at}/requestedItemTerm"), "a `delete` item has no term"));
    }
}
