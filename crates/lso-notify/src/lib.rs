//! Notifications: the rules of a hub registration (`POST /hub`) and the dispatcher that delivers
//! the outbox to listeners, with exponential backoff and jitter, `Retry-After`, a dead-letter
//! state after the last attempt, and per-resource ordering per subscription.

mod dispatcher;
mod hub;

pub use dispatcher::{Dispatcher, Outcome, RetryPolicy};
pub use hub::{HubRequest, SelfAddresses, event_types_of_query, validate_callback};
