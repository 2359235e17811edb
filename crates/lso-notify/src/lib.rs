//! Notifications: the rules of a hub registration (`POST /hub`) and the dispatcher that delivers
//! the outbox to listeners, with exponential backoff and jitter, `Retry-After`, a dead-letter
//! state after the last attempt, and per-resource ordering per subscription; and the outbox as
//! operators see it. Every delivery is signed (`webhooks`, the Standard Webhooks scheme).

mod dispatcher;
pub mod guard;
mod hub;
mod outbox;
pub mod webhooks;

pub use dispatcher::{Dispatcher, RetryPolicy};
pub use hub::{HubRequest, SelfAddresses, event_types_of_query, validate_callback};
pub use lso_jobs::Outcome;
pub use outbox::{DeliveryCounts, DeliveryInfo, Outbox};
