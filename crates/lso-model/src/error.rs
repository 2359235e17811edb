//! What an entity (the BUS, the SOF) answers instead of a result. One family for every entity,
//! so every API renders it the same way (`lso_http::api_error`).

use crate::Violation;

/// Why an entity did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EntityError {
    /// No such resource for this caller.
    #[error("{0}")]
    NotFound(String),
    /// The request breaks the rules; each violation names the property at fault.
    #[error("{} problem(s)", .0.len())]
    Invalid(Vec<Violation>),
    /// The request conflicts with the resource as it is now (it changed meanwhile).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error("storage failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored document could not be read back; a fault of the server.
    #[error("corrupt document {0}")]
    Corrupt(String),
    /// An entity in another process could not be asked, or failed itself.
    #[error("could not be reached: {0}")]
    Unreachable(String),
}
