//! `Icm`: the [`Network`] with every reservation kept in the store, so a restart finds the
//! network as it left it, and shared by every `lso` node on one database. Each change of the
//! network (a reservation made, resized or released, an interface locked) is one transaction
//! that moves the network's version on, records the change under that version and writes the
//! reservation: two nodes changing the network at once cannot both move the same version, so
//! the second catches up with the changes it has not seen (read by version) and decides again.
//! No node leads; a node killed mid-change has changed nothing.

use crate::network::{AllocationError, Hop, Network, Request, Reservation};
use crate::topology::Topology;
use lso_adagio::Adagio;
use lso_store::{ListQuery, Record, Store, StoreError, WriteOp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::Mutex;

const KIND: &str = "icmReservation";
const LOCK: &str = "icmInterfaceLock";
/// The network's version: its record's version is one more than the changes made.
const VERSION: &str = "icmNetwork";
/// Each change, under the version it made; the last [`HISTORY`] are kept.
const CHANGE: &str = "icmChange";
/// The changes kept for the nodes catching up; a node further behind reads the network again.
const HISTORY: i64 = 1_000;
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

impl Stored {
    fn of(reservation: &Reservation) -> Stored {
        let request = &reservation.request;
        Stored {
            service: request.service.clone(),
            interfaces: request.interfaces.clone(),
            bandwidth_mbps: request.bandwidth_mbps,
            vlans: request.vlans.clone(),
            routed: request.routed.clone(),
            leaves: request.leaves.clone(),
            hops: reservation.hops.iter().map(|h| (h.link, h.s_vlan)).collect(),
            leaf_s_vlans: reservation.hops.iter().filter_map(|h| h.leaf_s_vlan).collect(),
        }
    }

    fn reservation(self) -> Reservation {
        let request = Request {
            service: self.service,
            interfaces: self.interfaces,
            bandwidth_mbps: self.bandwidth_mbps,
            vlans: self.vlans,
            routed: self.routed,
            leaves: self.leaves,
        };
        let mut leaf_s_vlans = self.leaf_s_vlans.into_iter();
        let hops = self
            .hops
            .into_iter()
            .map(|(link, s_vlan)| Hop { link, s_vlan, leaf_s_vlan: leaf_s_vlans.next() })
            .collect();
        Reservation { request, hops }
    }
}

/// A change of the network, as recorded under the version it made.
#[derive(Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "camelCase")]
enum Change {
    /// Reservation made or resized.
    Reserved { reservation: Stored },
    /// Reservation released.
    Released { service: String },
    /// Interface locked or unlocked.
    Locked { interface: String, locked: bool },
}

impl Change {
    /// Makes this change on `network`, whatever it holds already.
    fn make(self, network: &mut Network) -> Result<(), IcmError> {
        match self {
            Change::Reserved { reservation } => {
                let reservation = reservation.reservation();
                network.release(&reservation.request.service);
                network.restore(reservation)?;
            }
            Change::Released { service } => {
                network.release(&service);
            }
            Change::Locked { interface, locked } => {
                // An interface gone from the topology keeps no lock.
                let _ = network.set_locked(&interface, locked);
            }
        }
        Ok(())
    }
}

/// This node's network, and the version of the shared one it is.
struct Local {
    network: Network,
    version: i64,
}

fn record(kind: &str, id: &str, version: i64, doc: String) -> Record {
    Record { kind: kind.into(), id: id.into(), tenant: OWNER.into(), version, doc }
}

/// Infrastructure control with durable reservations.
pub struct Icm {
    local: Mutex<Local>,
    store: Store,
    adagio: Arc<dyn Adagio>,
    topology: Topology,
    history: i64,
}

impl Icm {
    /// ICM on `topology`, with the reservations `store` holds put back, configuring elements
    /// through `adagio`.
    pub async fn open(topology: Topology, store: Store, adagio: Arc<dyn Adagio>) -> Result<Self, IcmError> {
        let first = WriteOp::Insert { record: record(VERSION, VERSION, 1, "{}".into()), index: Vec::new() };
        match store.apply(vec![first]).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
        let local = load(&store, topology.clone()).await?;
        let icm = Icm { local: Mutex::new(local), store, adagio, topology, history: HISTORY };
        icm.catch_up(&mut *icm.local.lock().await).await?;
        Ok(icm)
    }

    /// This ICM, keeping the last `history` changes instead of [`HISTORY`].
    #[cfg(test)]
    pub(crate) fn keeping(self, history: i64) -> Self {
        Icm { history, ..self }
    }

    /// Makes on this node's network the changes other nodes made since it last looked.
    async fn catch_up(&self, local: &mut Local) -> Result<(), IcmError> {
        let current = version(&self.store).await?;
        while local.version < current {
            let next = (local.version + 1).to_string();
            match self.store.get(CHANGE, Some(OWNER), &next).await? {
                Some(change) => {
                    let change: Change = serde_json::from_str(&change.doc).map_err(|_| IcmError::Corrupt(next))?;
                    change.make(&mut local.network)?;
                    local.version += 1;
                }
                None => {
                    // The changes this node has not seen are no longer kept: it reads the network again.
                    tracing::info!(from = local.version, to = current, "reading the network again: too far behind");
                    *local = load(&self.store, self.topology.clone()).await?;
                }
            }
        }
        Ok(())
    }

    /// Commits a change with its writes as the next version of the network, once this node has
    /// decided it on the current one: `decide` looks at the network (caught up) and returns
    /// the change and its writes, or what to answer without one. `undo` puts this node's
    /// network back when the write fails, before another node's changes are caught up.
    async fn change<T>(
        &self,
        mut decide: impl FnMut(&mut Network) -> Result<Decision<T>, IcmError>,
        undo: impl Fn(&mut Network),
    ) -> Result<T, IcmError> {
        let mut local = self.local.lock().await;
        loop {
            self.catch_up(&mut local).await?;
            let (change, writes, answer) = match decide(&mut local.network)? {
                Decision::Answer(answer) => return Ok(answer),
                Decision::Change { change, ops, answer } => (change, ops, answer),
            };
            let version = local.version + 1;
            let doc = serde_json::to_string(&change).map_err(|_| IcmError::Corrupt(version.to_string()))?;
            let mut ops = vec![
                // First, so that a node that lost the race fails before writing anything.
                WriteOp::Update { record: record(VERSION, VERSION, version, "{}".into()), index: Vec::new() },
                WriteOp::Insert { record: record(CHANGE, &version.to_string(), 1, doc), index: Vec::new() },
            ];
            // The change no node needs any longer (the first is version 2): one further behind
            // reads the network again.
            let oldest = version - self.history;
            if oldest >= 2 {
                ops.push(WriteOp::Forget { kind: CHANGE.into(), id: oldest.to_string() });
            }
            ops.extend(writes);
            match self.store.apply(ops).await {
                Ok(()) => {
                    local.version = version;
                    return Ok(answer);
                }
                // Another node changed the network first: catch up and decide again.
                Err(StoreError::Conflict(_)) => undo(&mut local.network),
                Err(err) => {
                    undo(&mut local.network);
                    return Err(err.into());
                }
            }
        }
    }

    /// Reserves `request` durably; reserving the same request again returns it unchanged.
    pub async fn reserve(&self, request: &Request) -> Result<Reservation, IcmError> {
        let decide = |network: &mut Network| {
            if network.reservations().contains_key(&request.service) {
                return Ok(Decision::Answer(network.reserve(request)?));
            }
            let reservation = network.reserve(request)?;
            let stored = Stored::of(&reservation);
            let doc = serde_json::to_string(&stored).map_err(|_| IcmError::Corrupt(request.service.clone()))?;
            let op = WriteOp::Insert { record: record(KIND, &request.service, 1, doc), index: Vec::new() };
            Ok(Decision::Change {
                change: Change::Reserved { reservation: stored },
                ops: vec![op],
                answer: reservation,
            })
        };
        self.change(decide, |network| drop(network.release(&request.service))).await
    }

    /// Changes reservation `request.service` to `request` in place, durably (see
    /// [`Network::resize`]).
    pub async fn resize(&self, request: &Request) -> Result<Reservation, IcmError> {
        let before = std::sync::Mutex::new(None);
        let decide = |network: &mut Network| {
            *before.lock().unwrap_or_else(|e| e.into_inner()) = network.reservations().get(&request.service).cloned();
            let reservation = network.resize(request)?;
            let kept = Stored::of(&reservation);
            let doc = serde_json::to_string(&kept).map_err(|_| IcmError::Corrupt(request.service.clone()))?;
            let ops = vec![
                WriteOp::Delete { kind: KIND.into(), id: request.service.clone() },
                WriteOp::Insert { record: record(KIND, &request.service, 1, doc), index: Vec::new() },
            ];
            Ok(Decision::Change { change: Change::Reserved { reservation: kept }, ops, answer: reservation })
        };
        let undo = |network: &mut Network| {
            if let Some(before) = before.lock().unwrap_or_else(|e| e.into_inner()).take() {
                network.release(&before.request.service);
                let _ = network.restore(before);
            }
        };
        self.change(decide, undo).await
    }

    /// Releases a service durably; `None` if it was not reserved.
    pub async fn release(&self, service: &str) -> Result<Option<Reservation>, IcmError> {
        let released = std::sync::Mutex::new(None);
        let decide = |network: &mut Network| {
            let Some(reservation) = network.release(service) else {
                return Ok(Decision::Answer(None));
            };
            *released.lock().unwrap_or_else(|e| e.into_inner()) = Some(reservation.clone());
            let op = WriteOp::Delete { kind: KIND.into(), id: service.into() };
            let change = Change::Released { service: service.into() };
            Ok(Decision::Change { change, ops: vec![op], answer: Some(reservation) })
        };
        let undo = |network: &mut Network| {
            if let Some(reservation) = released.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = network.restore(reservation);
            }
        };
        self.change(decide, undo).await
    }

    /// Locks interface `name` (it takes no new service) or unlocks it, durably.
    pub async fn set_locked(&self, name: &str, locked: bool) -> Result<(), IcmError> {
        let decide = |network: &mut Network| {
            if network.is_locked(name) == locked {
                return Ok(Decision::Answer(network.set_locked(name, locked)?));
            }
            network.set_locked(name, locked)?;
            let op = if locked {
                WriteOp::Insert { record: record(LOCK, name, 1, "{}".into()), index: Vec::new() }
            } else {
                WriteOp::Delete { kind: LOCK.into(), id: name.into() }
            };
            Ok(Decision::Change {
                change: Change::Locked { interface: name.into(), locked },
                ops: vec![op],
                answer: (),
            })
        };
        self.change(decide, |network| drop(network.set_locked(name, !locked))).await
    }

    /// Element control, as ICM reaches it.
    pub fn adagio(&self) -> &dyn Adagio {
        &*self.adagio
    }

    /// Reads the network as it is now (with the changes of other nodes, when the store
    /// answers).
    pub async fn read<R>(&self, look: impl FnOnce(&Network) -> R) -> R {
        let mut local = self.local.lock().await;
        if let Err(err) = self.catch_up(&mut local).await {
            tracing::warn!(error = %err, "the network is read as this node last saw it");
        }
        look(&local.network)
    }
}

/// The version of the network `store` holds.
async fn version(store: &Store) -> Result<i64, IcmError> {
    Ok(store.get(VERSION, Some(OWNER), VERSION).await?.map_or(1, |r| r.version))
}

/// The network `store` holds on `topology`, and its version: the version is read first, so
/// the changes made meanwhile are among those caught up afterwards (making one again is no
/// change).
async fn load(store: &Store, topology: Topology) -> Result<Local, IcmError> {
    let version = version(store).await?;
    let everything = |kind: &str| ListQuery {
        kind: kind.into(),
        tenant: Some(OWNER.into()),
        filters: Vec::new(),
        offset: 0,
        limit: u64::MAX,
    };
    let mut network = Network::new(topology);
    for record in store.list(everything(KIND)).await?.records {
        let stored: Stored = serde_json::from_str(&record.doc).map_err(|_| IcmError::Corrupt(record.id.clone()))?;
        Change::Reserved { reservation: stored }.make(&mut network)?;
    }
    for record in store.list(everything(LOCK)).await?.records {
        Change::Locked { interface: record.id, locked: true }.make(&mut network)?;
    }
    Ok(Local { network, version })
}

/// What a change decides on the network as it is.
enum Decision<T> {
    /// Nothing to change: answer this.
    Answer(T),
    /// Commit `change` with `ops`, then answer `answer`.
    Change { change: Change, ops: Vec<WriteOp>, answer: T },
}
