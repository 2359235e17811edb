//! Notification envelopes: the `Event` of every product API, carrying identifiers only.

use crate::common::DateTime;
use serde::{Deserialize, Serialize};
use serde_with::{DisplayFromStr, serde_as, skip_serializing_none};

/// An event as POSTed to `{callback}/mefApi/…/listener/{eventType}`.
#[serde_as]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub event_id: String,
    #[serde_as(as = "DisplayFromStr")]
    pub event_time: DateTime,
    pub event_type: String,
    pub event: EventPayload,
}

/// The identifiers of the resource (and item) the event is about. `buyerId` and `sellerId` are
/// added per subscription, as given when it registered (MEF 123 R6).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPayload {
    pub id: String,
    pub href: Option<String>,
    pub order_item_id: Option<String>,
    pub quote_item_id: Option<String>,
    pub poq_item_id: Option<String>,
    pub milestone_name: Option<String>,
    pub buyer_id: Option<String>,
    pub seller_id: Option<String>,
}
