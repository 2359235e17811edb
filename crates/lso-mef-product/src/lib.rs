//! Wire documents of the MEF product APIs that Sonata (v10 ordering, v7 inventory) and Cantata
//! (v5 ordering, v1 inventory) share: serde types used by the server routes, by the HTTP client
//! and as the stored form of each resource, so that what a Buyer sent is echoed unchanged.
//!
//! Request types (`*Create`, `*Update`) carry only what a Buyer may send; attributes the MEF
//! schema marks as required are required here too. Response types wrap the request types.

mod common;
mod event;
mod inventory;
mod order;
mod paths;

pub use common::*;
pub use event::*;
pub use inventory::*;
pub use order::*;
pub use paths::*;
