//! `Icm`: the [`Network`] with every reservation kept in the store, so a restart finds the
//! network as it left it. Reservations are made by one ICM at a time (the lock below); with
//! several `lso` nodes, one of them runs ICM.

use crate::network::{AllocationError, Hop, Network, Request, Reservation};
use crate::topology::Topology;
use lso_adagio::Adagio;
use lso_store::{ListQuery, Record, Store, StoreError, WriteOp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::Mutex;

const KIND: &str = "icmReservation";
const LOCK: &str = "icmInterfaceLock";
const OWNER: &str = "icm";

/// What ICM can answer instead of a reservation.
#[derive(Debug, thiserror::Error)]
pub enum IcmError {
    /// The network cannot carry it.
    #[error(transparent)]
    Allocation(#[from] AllocationError),
    /// The store failed; nothing was reserved.
    #[error("storage failed")]
    Store(#[from] StoreError),
    /// A stored reservation could not be read.
    #[error("stored reservation {0} is not readable")]
    Corrupt(String),
    /// The request cannot be right on any network.
    #[error("{0}")]
    Invalid(String),
    /// An element failed (ECM, over Adagio).
    #[error(transparent)]
    Element(lso_adagio::AdagioError),
}

/// A reservation as stored.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    service: String,
    interfaces: Vec<String>,
    bandwidth_mbps: u64,
    #[serde(default)]
    vlans: crate::network::VlanClaims,
    #[serde(default)]
    routed: std::collections::BTreeMap<String, lso_adagio::Routed>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    leaves: std::collections::BTreeSet<String>,
    hops: Vec<(usize, u16)>,
    /// A tree's leaf S-VLAN on each of its hops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    leaf_s_vlans: Vec<u16>,
}

/// The stored document of `reservation`.
fn stored(reservation: &Reservation) -> Result<String, IcmError> {
    let request = &reservation.request;
    let stored = Stored {
        service: request.service.clone(),
        interfaces: request.interfaces.clone(),
        bandwidth_mbps: request.bandwidth_mbps,
        vlans: request.vlans.clone(),
        routed: request.routed.clone(),
        leaves: request.leaves.clone(),
        hops: reservation.hops.iter().map(|h| (h.link, h.s_vlan)).collect(),
        leaf_s_vlans: reservation.hops.iter().filter_map(|h| h.leaf_s_vlan).collect(),
    };
    serde_json::to_string(&stored).map_err(|_| IcmError::Corrupt(request.service.clone()))
}

/// Infrastructure control with durable reservations.
pub struct Icm {
    network: Mutex<Network>,
    store: Store,
    adagio: Arc<dyn Adagio>,
}

impl Icm {
    /// ICM on `topology`, with the reservations `store` holds put back, configuring elements
    /// through `adagio`.
    pub async fn open(topology: Topology, store: Store, adagio: Arc<dyn Adagio>) -> Result<Self, IcmError> {
        let mut network = Network::new(topology);
        let mut offset = 0;
        loop {
            let query =
                ListQuery { kind: KIND.into(), tenant: Some(OWNER.into()), filters: Vec::new(), offset, limit: 1000 };
            let page = store.list(query).await?;
            for record in &page.records {
                let stored: Stored =
                    serde_json::from_str(&record.doc).map_err(|_| IcmError::Corrupt(record.id.clone()))?;
                let request = Request {
                    service: stored.service,
                    interfaces: stored.interfaces,
                    bandwidth_mbps: stored.bandwidth_mbps,
                    vlans: stored.vlans,
                    routed: stored.routed,
                    leaves: stored.leaves,
                };
                let mut leaf_s_vlans = stored.leaf_s_vlans.into_iter();
                let hops = stored
                    .hops
                    .into_iter()
                    .map(|(link, s_vlan)| Hop { link, s_vlan, leaf_s_vlan: leaf_s_vlans.next() })
                    .collect();
                network.restore(Reservation { request, hops })?;
            }
            offset += page.records.len() as u64;
            if offset >= page.total || page.records.is_empty() {
                break;
            }
        }
        let locks =
            ListQuery { kind: LOCK.into(), tenant: Some(OWNER.into()), filters: Vec::new(), offset: 0, limit: 10_000 };
        for record in store.list(locks).await?.records {
            // An interface gone from the topology keeps no lock.
            let _ = network.set_locked(&record.id, true);
        }
        Ok(Icm { network: Mutex::new(network), store, adagio })
    }

    /// Reserves `request` durably; reserving the same request again returns it unchanged.
    pub async fn reserve(&self, request: &Request) -> Result<Reservation, IcmError> {
        let mut network = self.network.lock().await;
        if network.reservations().contains_key(&request.service) {
            return Ok(network.reserve(request)?);
        }
        let reservation = network.reserve(request)?;
        let doc = stored(&reservation)?;
        let record = Record { kind: KIND.into(), id: request.service.clone(), tenant: OWNER.into(), version: 1, doc };
        if let Err(err) = self.store.apply(vec![WriteOp::Insert { record, index: Vec::new() }]).await {
            network.release(&request.service);
            return Err(err.into());
        }
        Ok(reservation)
    }

    /// Changes reservation `request.service` to `request` in place, durably (see
    /// [`Network::resize`]).
    pub async fn resize(&self, request: &Request) -> Result<Reservation, IcmError> {
        let mut network = self.network.lock().await;
        let before = network.reservations().get(&request.service).cloned();
        let reservation = network.resize(request)?;
        let put_back = |network: &mut Network| {
            if let Some(before) = &before {
                let _ = network.resize(&before.request);
            }
        };
        let record = match self.store.get(KIND, Some(OWNER), &request.service).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                put_back(&mut network);
                return Err(IcmError::Corrupt(request.service.clone()));
            }
            Err(err) => {
                put_back(&mut network);
                return Err(err.into());
            }
        };
        let doc = stored(&reservation)?;
        let updated = Record { version: record.version + 1, doc, ..record };
        if let Err(err) = self.store.apply(vec![WriteOp::Update { record: updated, index: Vec::new() }]).await {
            put_back(&mut network);
            return Err(err.into());
        }
        Ok(reservation)
    }

    /// Releases a service durably; `None` if it was not reserved.
    pub async fn release(&self, service: &str) -> Result<Option<Reservation>, IcmError> {
        let mut network = self.network.lock().await;
        if !network.reservations().contains_key(service) {
            return Ok(None);
        }
        self.store.apply(vec![WriteOp::Delete { kind: KIND.into(), id: service.into() }]).await?;
        Ok(network.release(service))
    }

    /// Locks interface `name` (it takes no new service) or unlocks it, durably.
    pub async fn set_locked(&self, name: &str, locked: bool) -> Result<(), IcmError> {
        let mut network = self.network.lock().await;
        if network.is_locked(name) == locked {
            return Ok(network.set_locked(name, locked)?);
        }
        network.set_locked(name, locked)?;
        let op = if locked {
            WriteOp::Insert {
                record: Record {
                    kind: LOCK.into(),
                    id: name.into(),
                    tenant: OWNER.into(),
                    version: 1,
                    doc: "{}".into(),
                },
                index: Vec::new(),
            }
        } else {
            WriteOp::Delete { kind: LOCK.into(), id: name.into() }
        };
        if let Err(err) = self.store.apply(vec![op]).await {
            network.set_locked(name, !locked)?;
            return Err(err.into());
        }
        Ok(())
    }

    /// Element control, as ICM reaches it.
    pub fn adagio(&self) -> &dyn Adagio {
        &*self.adagio
    }

    /// Reads the network as it is now.
    pub async fn read<R>(&self, look: impl FnOnce(&Network) -> R) -> R {
        look(&*self.network.lock().await)
    }
}
