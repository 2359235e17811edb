//! Presto (SOF ↔ ICM) served in-process: [`Icm`] answers the SOF through `lso_presto::Presto`.

use crate::durable::{Icm, IcmError};
use lso_presto::{BoxFuture, ConnectivityRequest, PortCounters, Presto, PrestoError, Sip};

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

    fn update_connectivity<'a>(&'a self, request: &'a ConnectivityRequest) -> BoxFuture<'a, Result<(), PrestoError>> {
        Box::pin(async move { Ok(Icm::update_connectivity(self, request).await.map(drop)?) })
    }

    fn delete_connectivity<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<bool, PrestoError>> {
        Box::pin(async move { Ok(Icm::delete_connectivity(self, uuid).await?) })
    }

    fn connectivity_exists<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<bool, PrestoError>> {
        Box::pin(async move { Ok(self.connectivity(uuid).await.is_some()) })
    }

    fn interface_counters<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<PortCounters>, PrestoError>> {
        Box::pin(async move {
            let port = self.read(|n| n.topology().interface(name).map(|i| i.port.clone())).await;
            let Some(port) = port else { return Ok(None) };
            let ports = self.adagio().ports(&port.element).await.map_err(|e| PrestoError::Element(e.to_string()))?;
            Ok(ports.into_iter().find(|p| p.port == port.port).map(|p| p.counters))
        })
    }
}
