//! Product Order Management documents (MEF 123; Sonata v10, Cantata v5).

use crate::common::*;
use lso_model::order::{
    Acceptance, CancellationReasonType, ChargeActivity, ChargeItemState, ChargePeriod, ChargeState,
    CoordinationDependency, ItemAction, ItemState, OrderState, PriceCategory, PriceType, TaskState,
};
use serde::{Deserialize, Serialize};
use serde_with::{DisplayFromStr, serde_as, skip_serializing_none};

/// `ProductOrder_Create`: the body of `POST /productOrder`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderCreate {
    pub external_id: Option<String>,
    pub note: Option<Vec<Note>>,
    pub project_id: Option<String>,
    pub related_contact_information: Option<Vec<RelatedContactInformation>>,
    pub product_order_item: Option<Vec<ProductOrderItemCreate>>,
}

/// `MEFProductOrderItem_Create`: one item of an order, as the Buyer sends it.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderItemCreate {
    pub id: String,
    #[serde_as(as = "DisplayFromStr")]
    pub action: ItemAction,
    pub agreement_name: Option<String>,
    pub billing_account: Option<BillingAccountRef>,
    pub coordinated_action: Option<Vec<CoordinatedAction>>,
    pub end_customer_name: Option<String>,
    pub expedite_indicator: Option<bool>,
    pub note: Option<Vec<Note>>,
    pub product: Option<ProductRefOrValue>,
    pub product_offering_qualification_item: Option<PoqItemRef>,
    pub product_order_item_relationship: Option<Vec<OrderItemRelationship>>,
    pub quote_item: Option<QuoteItemRef>,
    pub related_buyer_p_o_n: Option<String>,
    pub related_contact_information: Option<Vec<RelatedContactInformation>>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub requested_completion_date: Option<DateTime>,
    pub requested_item_term: Option<ItemTerm>,
    pub tsp_restoration_priority: Option<String>,
}

/// `MEFProductRefOrValueOrder`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductRefOrValue {
    pub id: Option<String>,
    pub href: Option<String>,
    pub place: Option<Vec<RelatedPlace>>,
    pub product_configuration: Option<ProductConfiguration>,
    pub product_offering: Option<Ref>,
    pub product_relationship: Option<Vec<ProductRelationship>>,
}

/// `MEFOrderItemCoordinatedAction`.
#[serde_as]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoordinatedAction {
    pub coordinated_action_delay: Duration,
    #[serde_as(as = "DisplayFromStr")]
    pub coordination_dependency: CoordinationDependency,
    pub item_id: String,
}

/// `OrderItemRelationship`: a relationship to another item of the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItemRelationship {
    pub id: String,
    pub relationship_type: String,
}

/// `ProductOfferingQualificationItemRef`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoqItemRef {
    pub id: String,
    pub product_offering_qualification_id: String,
    pub alternate_product_offering_proposal_id: Option<String>,
    pub product_offering_qualification_href: Option<String>,
}

/// `MEFQuoteItemRef`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuoteItemRef {
    pub id: String,
    pub quote_id: String,
    pub quote_href: Option<String>,
}

/// `ProductOrder`: an order as the Seller returns and stores it.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrder {
    pub id: String,
    pub href: Option<String>,
    pub external_id: Option<String>,
    pub note: Option<Vec<Note>>,
    pub project_id: Option<String>,
    pub related_contact_information: Vec<RelatedContactInformation>,
    #[serde_as(as = "DisplayFromStr")]
    pub order_date: DateTime,
    #[serde_as(as = "DisplayFromStr")]
    pub state: OrderState,
    pub state_change: Option<Vec<OrderStateChange>>,
    pub cancellation_charge: Option<Vec<ChargeRef>>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub cancellation_date: Option<DateTime>,
    pub cancellation_reason: Option<String>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub completion_date: Option<DateTime>,
    pub product_order_item: Vec<ProductOrderItem>,
}

/// `ProductOrderItem`: an item as the Seller returns it; the Buyer's attributes unchanged.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderItem {
    #[serde(flatten)]
    pub request: ProductOrderItemCreate,
    #[serde_as(as = "DisplayFromStr")]
    pub state: ItemState,
    pub state_change: Option<Vec<ItemStateChange>>,
    pub charge: Option<Vec<ChargeRef>>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub completion_date: Option<DateTime>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub expected_completion_date: Option<DateTime>,
    pub expedite_accepted_indicator: Option<bool>,
    pub item_term: Option<Vec<ItemTerm>>,
    pub milestone: Option<Vec<Milestone>>,
    pub termination_error: Option<Vec<TerminationError>>,
}

/// `MEFProductOrderStateChange`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderStateChange {
    #[serde_as(as = "DisplayFromStr")]
    pub change_date: DateTime,
    pub change_reason: Option<String>,
    #[serde_as(as = "DisplayFromStr")]
    pub state: OrderState,
}

/// `MEFProductOrderItemStateChange`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemStateChange {
    #[serde_as(as = "DisplayFromStr")]
    pub change_date: DateTime,
    pub change_reason: Option<String>,
    #[serde_as(as = "DisplayFromStr")]
    pub state: ItemState,
}

/// `MEFMilestone`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Milestone {
    #[serde_as(as = "DisplayFromStr")]
    pub date: DateTime,
    pub name: String,
    pub note: Option<String>,
}

/// `TerminationError`: why an item was rejected or failed after the order was accepted.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminationError {
    pub code: Option<String>,
    pub property_path: Option<String>,
    pub value: Option<String>,
}

/// `ProductOrder_Find`: the list projection.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderFind {
    pub id: String,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub cancellation_date: Option<DateTime>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub completion_date: Option<DateTime>,
    pub external_id: Option<String>,
    #[serde_as(as = "DisplayFromStr")]
    pub order_date: DateTime,
    pub project_id: Option<String>,
    #[serde_as(as = "DisplayFromStr")]
    pub state: OrderState,
}

impl From<&ProductOrder> for ProductOrderFind {
    fn from(order: &ProductOrder) -> Self {
        ProductOrderFind {
            id: order.id.clone(),
            cancellation_date: order.cancellation_date.clone(),
            completion_date: order.completion_date.clone(),
            external_id: order.external_id.clone(),
            order_date: order.order_date.clone(),
            project_id: order.project_id.clone(),
            state: order.state,
        }
    }
}

/// `ProductOrder_Update`: the body of `PATCH /productOrder/{id}`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderUpdate {
    pub external_id: Option<String>,
    pub note: Option<Vec<Note>>,
    pub project_id: Option<String>,
    pub related_contact_information: Option<Vec<RelatedContactInformation>>,
    pub product_order_item: Option<Vec<ProductOrderItemUpdate>>,
}

/// `MEFProductOrderItem_Update`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderItemUpdate {
    pub id: String,
    pub end_customer_name: Option<String>,
    pub note: Option<Vec<Note>>,
    pub related_buyer_p_o_n: Option<String>,
    pub related_contact_information: Option<Vec<RelatedContactInformation>>,
}

/// `MEFProductOrderRef`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderRef {
    pub product_order_id: String,
    pub product_order_href: Option<String>,
}

/// `MEFProductOrderItemRef`.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderItemRef {
    pub product_order_id: String,
    pub product_order_item_id: String,
    pub product_order_href: Option<String>,
}

/// A reference by `id` to a charge, cancel or modify request.
pub type ChargeRef = Ref;

/// The order a cancellation names: `productOrderId` as the API file says, or `id` as the
/// MEF 123 guide's cancellation example spells it.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelledOrderRef {
    pub product_order_id: Option<String>,
    pub id: Option<String>,
    pub product_order_href: Option<String>,
}

impl CancelledOrderRef {
    /// The order id, however it was spelled.
    pub fn order_id(&self) -> Option<&str> {
        self.product_order_id.as_deref().or(self.id.as_deref())
    }
}

/// `CancelProductOrder_Create`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelProductOrderCreate {
    pub product_order: CancelledOrderRef,
    pub related_contact_information: Vec<RelatedContactInformation>,
    pub cancellation_reason: Option<String>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    #[serde(default)]
    pub cancellation_reason_type: Option<CancellationReasonType>,
}

/// `CancelProductOrder`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelProductOrder {
    pub id: String,
    pub href: Option<String>,
    pub product_order: ProductOrderRef,
    pub related_contact_information: Vec<RelatedContactInformation>,
    pub cancellation_reason: Option<String>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    #[serde(default)]
    pub cancellation_reason_type: Option<CancellationReasonType>,
    pub cancellation_denied_reason: Option<String>,
    pub charge: Option<ChargeRef>,
    #[serde_as(as = "DisplayFromStr")]
    pub state: TaskState,
}

/// `CancelProductOrder_Find`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelProductOrderFind {
    pub id: String,
    pub product_order: ProductOrderRef,
    #[serde_as(as = "Option<DisplayFromStr>")]
    #[serde(default)]
    pub cancellation_reason_type: Option<CancellationReasonType>,
    #[serde_as(as = "DisplayFromStr")]
    pub state: TaskState,
}

impl From<&CancelProductOrder> for CancelProductOrderFind {
    fn from(cancel: &CancelProductOrder) -> Self {
        CancelProductOrderFind {
            id: cancel.id.clone(),
            product_order: cancel.product_order.clone(),
            cancellation_reason_type: cancel.cancellation_reason_type,
            state: cancel.state,
        }
    }
}

/// `MEFModifyProductOrderItemRequestedDeliveryDate_Create`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModifyDeliveryDateCreate {
    pub product_order_item: ProductOrderItemRef,
    pub expedite_indicator: Option<bool>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub requested_completion_date: Option<DateTime>,
}

/// `MEFModifyProductOrderItemRequestedDeliveryDate`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModifyDeliveryDate {
    pub id: String,
    pub href: Option<String>,
    #[serde_as(as = "DisplayFromStr")]
    pub creation_date: DateTime,
    pub product_order_item: ProductOrderItemRef,
    pub expedite_indicator: Option<bool>,
    #[serde_as(as = "Option<DisplayFromStr>")]
    pub requested_completion_date: Option<DateTime>,
    #[serde_as(as = "DisplayFromStr")]
    pub state: TaskState,
}

/// `MEFProductOrderCharge`: a charge the Seller raised for the Buyer to accept or decline.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    pub id: String,
    pub href: Option<String>,
    pub cancel_product_order: Option<ChargeRef>,
    pub charge_item: Vec<ChargeItem>,
    #[serde_as(as = "DisplayFromStr")]
    pub creation_date: DateTime,
    pub modify_product_order_item_requested_delivery_date: Option<ChargeRef>,
    pub product_order: Option<ProductOrderRef>,
    pub product_order_item: Option<ProductOrderItemRef>,
    #[serde_as(as = "DisplayFromStr")]
    pub response_due_date: DateTime,
    #[serde_as(as = "DisplayFromStr")]
    pub state: ChargeState,
}

/// `MEFProductOrderChargeItem`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeItem {
    pub id: String,
    #[serde_as(as = "Option<DisplayFromStr>")]
    #[serde(default)]
    pub acceptance_indicator: Option<Acceptance>,
    #[serde_as(as = "DisplayFromStr")]
    pub activity_type: ChargeActivity,
    pub blocking: bool,
    pub note: Option<Vec<Note>>,
    pub price: Price,
    #[serde_as(as = "DisplayFromStr")]
    pub price_category: PriceCategory,
    #[serde_as(as = "DisplayFromStr")]
    pub price_type: PriceType,
    #[serde_as(as = "Option<DisplayFromStr>")]
    #[serde(default)]
    pub recurring_charge_period: Option<ChargePeriod>,
    #[serde_as(as = "DisplayFromStr")]
    pub state: ChargeItemState,
    pub unit_of_measure: Option<String>,
}

/// `MEFProductOrderCharge_Find`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeFind {
    pub id: String,
    #[serde_as(as = "DisplayFromStr")]
    pub creation_date: DateTime,
    pub product_order: Option<ProductOrderRef>,
    pub product_order_item: Option<ProductOrderItemRef>,
    #[serde_as(as = "DisplayFromStr")]
    pub response_due_date: DateTime,
    #[serde_as(as = "DisplayFromStr")]
    pub state: ChargeState,
}

impl From<&Charge> for ChargeFind {
    fn from(charge: &Charge) -> Self {
        ChargeFind {
            id: charge.id.clone(),
            creation_date: charge.creation_date.clone(),
            product_order: charge.product_order.clone(),
            product_order_item: charge.product_order_item.clone(),
            response_due_date: charge.response_due_date.clone(),
            state: charge.state,
        }
    }
}

/// `MEFProductOrderCharge_Update`: the Buyer's answer to every item of a charge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeUpdate {
    pub charge_item: Vec<ChargeItemUpdate>,
}

/// `MEFProductOrderChargeItem_Update`.
#[serde_as]
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeItemUpdate {
    pub id: String,
    #[serde_as(as = "DisplayFromStr")]
    pub acceptance_indicator: Acceptance,
    pub note: Option<Vec<Note>>,
}
