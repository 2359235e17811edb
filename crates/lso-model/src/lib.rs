//! The domain model of `lso`: states and pure transition functions of MEF resources, the
//! business-validation vocabulary, and the injected sources of time and identifiers.
//!
//! This crate does no IO and knows nothing of serde, SQL or HTTP.

mod clock;
mod date_time;
mod error;
mod mef_enum;
pub mod order;
pub mod product;
pub mod query;
pub mod quote;
mod tenant;
pub mod ticket;
mod violation;
pub mod workforce;

pub use clock::{Clock, FixedClock, IdGen, SequentialIds, SystemClock};
pub use date_time::DateTime;
pub use error::EntityError;
pub use mef_enum::UnknownValue;
pub use tenant::{Irp, Tenant, party_key, party_of_key};
pub use violation::{Violation, ViolationCode, pointer_token};

/// A state change that the transition table forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} is not allowed in state {from}")]
pub struct InvalidTransition {
    /// The MEF name of the state the resource was in.
    pub from: &'static str,
    /// The name of the event that was applied.
    pub event: &'static str,
}
