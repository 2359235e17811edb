//! Presto (SOF ↔ ICM) as the SOF uses it: the service interface points of the network, and
//! connectivity services created, found and deleted. [`Icm`] is the in-process side;
//! `lso_api_presto::PrestoClient` is the same over the NRP API.

use crate::connectivity::ConnectivityRequest;
use crate::durable::{Icm, IcmError};
use crate::topology::InterfaceKind;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so that [`Presto`] can be used as `dyn Presto`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A service interface point as the SOF sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sip {
    /// Its name (the interface's).
    pub name: String,
    /// UNI or ENNI.
    pub kind: InterfaceKind,
    /// The site it serves, if known.
    pub site: Option<String>,
    /// Its capacity, in Mbit/s.
    pub capacity_mbps: u64,
}

/// Why ICM did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum PrestoError {
    /// The network cannot carry it, or the request cannot be right; nothing was kept.
    #[error("{0}")]
    Refused(String),
    /// An element failed; what could not be undone is still reserved.
    #[error("the network could not configure the service: {0}")]
    Element(String),
    /// ICM could not be asked, or failed inside; try again.
    #[error("infrastructure control is unavailable: {0}")]
    Unavailable(String),
}

impl From<IcmError> for PrestoError {
    fn from(err: IcmError) -> Self {
        match err {
            IcmError::Allocation(e) => PrestoError::Refused(e.to_string()),
            IcmError::Invalid(reason) => PrestoError::Refused(reason),
            IcmError::Element(e) => PrestoError::Element(e.to_string()),
            other @ (IcmError::Store(_) | IcmError::Corrupt(_)) => PrestoError::Unavailable(other.to_string()),
        }
    }
}

/// Infrastructure control as the SOF uses it. Every operation is idempotent.
pub trait Presto: Send + Sync {
    /// The service interface points of the network.
    fn service_interface_points(&self) -> BoxFuture<'_, Result<Vec<Sip>, PrestoError>>;
    /// Creates `request` on the network (reserved, configured, read back).
    fn create_connectivity<'a>(&'a self, request: &'a ConnectivityRequest) -> BoxFuture<'a, Result<(), PrestoError>>;
    /// Removes connectivity service `uuid`; `false` if there was none.
    fn delete_connectivity<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<bool, PrestoError>>;
    /// Whether connectivity service `uuid` is held.
    fn connectivity_exists<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<bool, PrestoError>>;
}

impl Presto for Icm {
    fn service_interface_points(&self) -> BoxFuture<'_, Result<Vec<Sip>, PrestoError>> {
        Box::pin(async move {
            Ok(self
                .read(|n| {
                    n.topology()
                        .interfaces
                        .iter()
                        .map(|i| Sip {
                            name: i.name.clone(),
                            kind: i.kind,
                            site: i.site.clone(),
                            capacity_mbps: i.capacity_mbps,
                        })
                        .collect()
                })
                .await)
        })
    }

    fn create_connectivity<'a>(&'a self, request: &'a ConnectivityRequest) -> BoxFuture<'a, Result<(), PrestoError>> {
        Box::pin(async move { Ok(Icm::create_connectivity(self, request).await.map(drop)?) })
    }

    fn delete_connectivity<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<bool, PrestoError>> {
        Box::pin(async move { Ok(Icm::delete_connectivity(self, uuid).await?) })
    }

    fn connectivity_exists<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<bool, PrestoError>> {
        Box::pin(async move { Ok(self.connectivity(uuid).await.is_some()) })
    }
}
