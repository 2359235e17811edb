//! Allocation on a [`Topology`]: paths that honour link capacity and the bandwidth already
//! reserved, S-VLANs per link without collisions, and release that gives everything back.
//!
//! A service joins two or more interfaces. Its links form a tree grown from the first
//! interface: each further interface is joined to the tree by the shortest path (in hops)
//! through links with enough spare capacity. Every link of the tree gets an S-VLAN free on that
//! link, the same on all links when one is free everywhere (no translation needed). A tree with
//! leaves (E-Tree) gets a second S-VLAN on each link, for what its leaves send.

use crate::topology::{Link, Topology};
use lso_presto::InterfaceKind;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// The VLANs a service claims at an interface: CE-VLANs at a UNI (none means every frame,
/// all-to-one bundling), the S-VLAN at an ENNI.
pub type VlanClaims = BTreeMap<String, Vec<u16>>;

/// The S-VLAN identifiers ICM allocates (1 is left to untagged management traffic).
pub const S_VLANS: std::ops::RangeInclusive<u16> = 2..=4094;

/// Why a service cannot be reserved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    /// The request names an interface the topology does not have.
    #[error("no interface `{0}`")]
    UnknownInterface(String),
    /// The request names fewer than two distinct interfaces (an IP access: not exactly one IP
    /// UNI, with its addressing).
    #[error("a service joins at least two different interfaces, or is routed at exactly one IP UNI")]
    TooFewInterfaces,
    /// An interface has not enough spare bandwidth.
    #[error("interface `{interface}` has {available} Mbit/s left; {requested} Mbit/s asked")]
    InterfaceFull { interface: String, available: u64, requested: u64 },
    /// No path with enough spare capacity joins an interface.
    #[error("no path with {bandwidth_mbps} Mbit/s to spare reaches `{interface}`")]
    NoPath { interface: String, bandwidth_mbps: u64 },
    /// A rooted-multipoint service whose leaves are not among its interfaces, or with no root.
    #[error("a tree's leaves are among its interfaces, and at least one of them is a root")]
    BadTree,
    /// A link has no free S-VLAN left.
    #[error("link {0} has no free S-VLAN")]
    VlanExhausted(String),
    /// A VLAN at an interface belongs to another service already (`None`: the whole port).
    #[error("{}", match vlan {
        Some(vlan) => format!("VLAN {vlan} at `{interface}` is used by service `{by}`"),
        None => format!("`{interface}` is taken whole, or partly, by service `{by}`"),
    })]
    VlanInUse { interface: String, vlan: Option<u16>, by: String },
    /// The interface is administratively locked: it takes no new service.
    #[error("`{0}` is locked: it takes no new service")]
    Locked(String),
    /// The service id is reserved with different parameters.
    #[error("service `{0}` is reserved already, with other parameters")]
    Conflict(String),
    /// A reservation made before no longer fits the topology.
    #[error("a reservation made before no longer fits the topology: {0}")]
    Stale(String),
}

/// What a service needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The service id; reserving the same request again returns the same reservation.
    pub service: String,
    /// The interfaces it joins.
    pub interfaces: Vec<String>,
    /// The bandwidth it needs on every link and interface, in Mbit/s.
    pub bandwidth_mbps: u64,
    /// The VLANs it claims at its interfaces; an interface left out claims none.
    pub vlans: VlanClaims,
    /// The addressing and routing at each IP UNI it uses.
    pub routed: BTreeMap<String, lso_adagio::Routed>,
    /// The interfaces that are leaves of a rooted-multipoint service (E-Tree); the others are
    /// its roots.
    pub leaves: std::collections::BTreeSet<String>,
}

impl Request {
    /// Its endpoints, as Presto names them.
    pub fn endpoints(&self) -> Vec<lso_presto::ServiceEndpoint> {
        self.interfaces
            .iter()
            .map(|i| lso_presto::ServiceEndpoint {
                interface: i.clone(),
                vlans: self.vlans.get(i).cloned().unwrap_or_default(),
                routed: self.routed.get(i).cloned(),
                leaf: self.leaves.contains(i),
            })
            .collect()
    }
}

/// One link of a service and the S-VLAN it carries the service on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// The link's index in the topology.
    pub link: usize,
    /// The S-VLAN on that link (in a tree with leaves, for what its roots send).
    pub s_vlan: u16,
    /// In a tree with leaves, the S-VLAN on that link for what its leaves send.
    pub leaf_s_vlan: Option<u16>,
}

impl Hop {
    /// The S-VLANs the hop holds on its link.
    fn s_vlans(&self) -> impl Iterator<Item = u16> {
        std::iter::once(self.s_vlan).chain(self.leaf_s_vlan)
    }
}

/// A reserved service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// What was asked.
    pub request: Request,
    /// The links of its tree, in the order they were added.
    pub hops: Vec<Hop>,
}

/// A set of VLAN identifiers 0..4096.
#[derive(Debug, Clone, PartialEq, Eq)]
struct VlanSet([u64; 64]);

impl VlanSet {
    fn empty() -> Self {
        VlanSet([0; 64])
    }

    fn contains(&self, vlan: u16) -> bool {
        self.0[usize::from(vlan / 64)] & (1 << (vlan % 64)) != 0
    }

    fn set(&mut self, vlan: u16, on: bool) {
        let (word, bit) = (usize::from(vlan / 64), 1u64 << (vlan % 64));
        if on { self.0[word] |= bit } else { self.0[word] &= !bit }
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

/// The topology with what is reserved on it.
#[derive(Debug, Clone)]
pub struct Network {
    topology: Topology,
    element_index: HashMap<String, usize>,
    /// For each element: (neighbour element, link index).
    adjacency: Vec<Vec<(usize, usize)>>,
    link_reserved: Vec<u64>,
    link_vlans: Vec<VlanSet>,
    interface_reserved: HashMap<String, u64>,
    /// For each interface, the services claiming VLANs there and what they claim.
    interface_vlans: HashMap<String, Vec<(String, Vec<u16>)>>,
    /// Interfaces locked by the operator.
    locked: std::collections::BTreeSet<String>,
    reservations: BTreeMap<String, Reservation>,
}

impl Network {
    /// An empty network on `topology`.
    pub fn new(topology: Topology) -> Self {
        let element_index: HashMap<String, usize> =
            topology.elements.iter().enumerate().map(|(i, (name, _))| (name.clone(), i)).collect();
        let mut adjacency = vec![Vec::new(); topology.elements.len()];
        for (index, link) in topology.links.iter().enumerate() {
            let (a, z) = (element_index[&link.a.element], element_index[&link.z.element]);
            adjacency[a].push((z, index));
            adjacency[z].push((a, index));
        }
        let links = topology.links.len();
        Network {
            topology,
            element_index,
            adjacency,
            link_reserved: vec![0; links],
            link_vlans: vec![VlanSet::empty(); links],
            interface_reserved: HashMap::new(),
            interface_vlans: HashMap::new(),
            locked: Default::default(),
            reservations: BTreeMap::new(),
        }
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Every reservation, by service id.
    pub fn reservations(&self) -> &BTreeMap<String, Reservation> {
        &self.reservations
    }

    /// Bandwidth reserved on link `index`, in Mbit/s.
    pub fn link_reserved(&self, index: usize) -> u64 {
        self.link_reserved[index]
    }

    /// The S-VLANs in use on link `index`.
    pub fn link_vlans(&self, index: usize) -> Vec<u16> {
        S_VLANS.filter(|v| self.link_vlans[index].contains(*v)).collect()
    }

    /// Bandwidth reserved on interface `name`, in Mbit/s.
    pub fn interface_reserved(&self, name: &str) -> u64 {
        self.interface_reserved.get(name).copied().unwrap_or(0)
    }

    /// Whether nothing is reserved anywhere.
    pub fn is_empty(&self) -> bool {
        self.reservations.is_empty()
            && self.link_reserved.iter().all(|r| *r == 0)
            && self.link_vlans.iter().all(VlanSet::is_empty)
            && self.interface_reserved.values().all(|r| *r == 0)
            && self.interface_vlans.values().all(Vec::is_empty)
    }

    /// Locks interface `name` (it takes no new service; those it has stay) or unlocks it.
    pub fn set_locked(&mut self, name: &str, locked: bool) -> Result<(), AllocationError> {
        if self.topology.interface(name).is_none() {
            return Err(AllocationError::UnknownInterface(name.to_owned()));
        }
        if locked {
            self.locked.insert(name.to_owned())
        } else {
            self.locked.remove(name)
        };
        Ok(())
    }

    /// Whether interface `name` is locked.
    pub fn is_locked(&self, name: &str) -> bool {
        self.locked.contains(name)
    }

    /// The services claiming VLANs at interface `name`, with what they claim.
    pub fn interface_vlans(&self, name: &str) -> &[(String, Vec<u16>)] {
        self.interface_vlans.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether `claims` collide with what other services claim.
    fn check_claims(&self, claims: &VlanClaims) -> Result<(), AllocationError> {
        for (interface, wanted) in claims {
            for (by, held) in self.interface_vlans(interface) {
                let clash = if wanted.is_empty() || held.is_empty() {
                    Some(None)
                } else {
                    wanted.iter().find(|v| held.contains(v)).map(|v| Some(*v))
                };
                if let Some(vlan) = clash {
                    return Err(AllocationError::VlanInUse { interface: interface.clone(), vlan, by: by.clone() });
                }
            }
        }
        Ok(())
    }

    fn claim(&mut self, request: &Request) {
        for (interface, vlans) in &request.vlans {
            self.interface_vlans.entry(interface.clone()).or_default().push((request.service.clone(), vlans.clone()));
        }
    }

    /// Reserves `request`, or returns its reservation if the same request was reserved before.
    pub fn reserve(&mut self, request: &Request) -> Result<Reservation, AllocationError> {
        if let Some(existing) = self.reservations.get(&request.service) {
            return if &existing.request == request {
                Ok(existing.clone())
            } else {
                Err(AllocationError::Conflict(request.service.clone()))
            };
        }
        let mut names: Vec<&str> = Vec::new();
        for name in &request.interfaces {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        let ip_unis =
            names.iter().filter(|n| self.topology.interface(n).is_some_and(|i| i.kind == InterfaceKind::IpUni));
        let routed = ip_unis.clone().count() > 0 || !request.routed.is_empty();
        let one_ip_access = names.len() == 1
            && ip_unis.clone().count() == 1
            && request.routed.len() == 1
            && ip_unis.into_iter().all(|n| request.routed.contains_key(*n));
        if (routed && !one_ip_access) || (!routed && names.len() < 2) {
            return Err(AllocationError::TooFewInterfaces);
        }
        let mut elements = Vec::with_capacity(names.len());
        for name in &names {
            let interface =
                self.topology.interface(name).ok_or_else(|| AllocationError::UnknownInterface(name.to_string()))?;
            let available = interface.capacity_mbps.saturating_sub(self.interface_reserved(name));
            if available < request.bandwidth_mbps {
                return Err(AllocationError::InterfaceFull {
                    interface: name.to_string(),
                    available,
                    requested: request.bandwidth_mbps,
                });
            }
            elements.push(self.element_index[&interface.port.element]);
        }
        if let Some(locked) = names.iter().find(|n| self.locked.contains(**n)) {
            return Err(AllocationError::Locked(locked.to_string()));
        }
        if let Some(stray) = request.vlans.keys().find(|i| !names.contains(&i.as_str())) {
            return Err(AllocationError::UnknownInterface(stray.clone()));
        }
        if request.leaves.iter().any(|l| !names.contains(&l.as_str())) || request.leaves.len() >= names.len() {
            return Err(AllocationError::BadTree);
        }
        self.check_claims(&request.vlans)?;
        let links = self.tree(&names, &elements, request.bandwidth_mbps)?;
        let vlans = self.choose_vlans(&links, &[])?;
        let leaf_vlans: Vec<Option<u16>> = if request.leaves.is_empty() {
            vec![None; links.len()]
        } else {
            self.choose_vlans(&links, &vlans)?.into_iter().map(Some).collect()
        };
        let hops: Vec<Hop> = links
            .iter()
            .zip(vlans)
            .zip(leaf_vlans)
            .map(|((&link, s_vlan), leaf_s_vlan)| Hop { link, s_vlan, leaf_s_vlan })
            .collect();
        for hop in &hops {
            self.link_reserved[hop.link] += request.bandwidth_mbps;
            for s_vlan in hop.s_vlans() {
                self.link_vlans[hop.link].set(s_vlan, true);
            }
        }
        for name in &names {
            *self.interface_reserved.entry(name.to_string()).or_default() += request.bandwidth_mbps;
        }
        self.claim(request);
        let reservation = Reservation { request: request.clone(), hops };
        self.reservations.insert(request.service.clone(), reservation.clone());
        Ok(reservation)
    }

    /// Puts back a reservation made before (e.g. read from the store at start-up), exactly as
    /// it was, after checking it still fits.
    pub fn restore(&mut self, reservation: Reservation) -> Result<(), AllocationError> {
        let bandwidth = reservation.request.bandwidth_mbps;
        if self.reservations.contains_key(&reservation.request.service) {
            return Err(AllocationError::Conflict(reservation.request.service.clone()));
        }
        for hop in &reservation.hops {
            let link = self
                .topology
                .links
                .get(hop.link)
                .ok_or_else(|| AllocationError::Stale(format!("no link #{}", hop.link)))?;
            if hop.s_vlans().any(|v| self.link_vlans[hop.link].contains(v))
                || hop.leaf_s_vlan == Some(hop.s_vlan)
                || link.capacity_mbps - self.link_reserved[hop.link] < bandwidth
            {
                return Err(AllocationError::Stale(format!(
                    "S-VLAN {} or bandwidth on {} – {}",
                    hop.s_vlan, link.a, link.z
                )));
            }
        }
        for name in &reservation.request.interfaces {
            if self.topology.interface(name).is_none() {
                return Err(AllocationError::Stale(format!("no interface `{name}`")));
            }
        }
        self.check_claims(&reservation.request.vlans).map_err(|e| AllocationError::Stale(e.to_string()))?;
        for hop in &reservation.hops {
            self.link_reserved[hop.link] += bandwidth;
            for s_vlan in hop.s_vlans() {
                self.link_vlans[hop.link].set(s_vlan, true);
            }
        }
        let mut counted: Vec<&String> = Vec::new();
        for name in &reservation.request.interfaces {
            if !counted.contains(&name) {
                counted.push(name);
                *self.interface_reserved.entry(name.clone()).or_default() += bandwidth;
            }
        }
        self.claim(&reservation.request);
        self.reservations.insert(reservation.request.service.clone(), reservation);
        Ok(())
    }

    /// Changes reserved service `request.service` to `request` in place, on the same links with
    /// the same S-VLANs: only its bandwidth and its IP UNI addressing may differ (`Conflict`
    /// otherwise). Nothing changes when the links or interfaces cannot carry the new bandwidth.
    pub fn resize(&mut self, request: &Request) -> Result<Reservation, AllocationError> {
        let old = self
            .reservations
            .get(&request.service)
            .ok_or_else(|| AllocationError::Conflict(request.service.clone()))?;
        if old.request.interfaces != request.interfaces
            || old.request.vlans != request.vlans
            || old.request.leaves != request.leaves
        {
            return Err(AllocationError::Conflict(request.service.clone()));
        }
        let (before, after) = (old.request.bandwidth_mbps, request.bandwidth_mbps);
        let hops = old.hops.clone();
        let more = after.saturating_sub(before);
        for hop in &hops {
            let link = &self.topology.links[hop.link];
            if link.capacity_mbps - self.link_reserved[hop.link] < more {
                return Err(AllocationError::NoPath { interface: link.z.to_string(), bandwidth_mbps: after });
            }
        }
        let mut names: Vec<&String> = request.interfaces.iter().collect();
        names.sort();
        names.dedup();
        for name in &names {
            let capacity = self.topology.interface(name).map_or(0, |i| i.capacity_mbps);
            let available = capacity.saturating_sub(self.interface_reserved(name)) + before;
            if available < after {
                return Err(AllocationError::InterfaceFull { interface: (*name).clone(), available, requested: after });
            }
        }
        for hop in &hops {
            self.link_reserved[hop.link] = self.link_reserved[hop.link] - before + after;
        }
        for name in names {
            let reserved = self.interface_reserved.entry(name.clone()).or_default();
            *reserved = *reserved - before + after;
        }
        let reservation = Reservation { request: request.clone(), hops };
        self.reservations.insert(request.service.clone(), reservation.clone());
        Ok(reservation)
    }

    /// Releases a service; returns what it held, or `None` if it was not reserved.
    pub fn release(&mut self, service: &str) -> Option<Reservation> {
        let reservation = self.reservations.remove(service)?;
        let bandwidth = reservation.request.bandwidth_mbps;
        for hop in &reservation.hops {
            self.link_reserved[hop.link] -= bandwidth;
            for s_vlan in hop.s_vlans() {
                self.link_vlans[hop.link].set(s_vlan, false);
            }
        }
        let mut released: Vec<&String> = Vec::new();
        for name in &reservation.request.interfaces {
            if !released.contains(&name) {
                released.push(name);
                if let Some(reserved) = self.interface_reserved.get_mut(name) {
                    *reserved -= bandwidth;
                }
            }
        }
        for interface in reservation.request.vlans.keys() {
            if let Some(claims) = self.interface_vlans.get_mut(interface) {
                claims.retain(|(by, _)| by != service);
            }
        }
        Some(reservation)
    }

    /// The links of a tree joining `elements`, grown from the first.
    fn tree(&self, names: &[&str], elements: &[usize], bandwidth: u64) -> Result<Vec<usize>, AllocationError> {
        let mut in_tree = vec![false; self.adjacency.len()];
        in_tree[elements[0]] = true;
        let mut links = Vec::new();
        for (name, &target) in names.iter().zip(elements).skip(1) {
            if in_tree[target] {
                continue;
            }
            let path = self
                .shortest_path(&in_tree, target, bandwidth)
                .ok_or_else(|| AllocationError::NoPath { interface: name.to_string(), bandwidth_mbps: bandwidth })?;
            for (element, link) in path {
                in_tree[element] = true;
                links.push(link);
            }
        }
        Ok(links)
    }

    /// The fewest-hop path from any element of the tree to `target` over links with
    /// `bandwidth` to spare, as (element reached, link) from the tree outwards.
    fn shortest_path(&self, in_tree: &[bool], target: usize, bandwidth: u64) -> Option<Vec<(usize, usize)>> {
        let mut distance = vec![u32::MAX; self.adjacency.len()];
        let mut via: Vec<Option<(usize, usize)>> = vec![None; self.adjacency.len()];
        let mut queue = BinaryHeap::new();
        for (element, _) in in_tree.iter().enumerate().filter(|(_, t)| **t) {
            distance[element] = 0;
            queue.push(Reverse((0u32, element)));
        }
        while let Some(Reverse((cost, element))) = queue.pop() {
            if element == target {
                break;
            }
            if cost > distance[element] {
                continue;
            }
            for &(next, link) in &self.adjacency[element] {
                let spare = self.topology.links[link].capacity_mbps - self.link_reserved[link];
                if spare < bandwidth || cost + 1 >= distance[next] {
                    continue;
                }
                distance[next] = cost + 1;
                via[next] = Some((element, link));
                queue.push(Reverse((cost + 1, next)));
            }
        }
        if distance[target] == u32::MAX {
            return None;
        }
        let mut path = Vec::new();
        let mut element = target;
        while let Some((previous, link)) = via[element] {
            path.push((element, link));
            element = previous;
        }
        path.reverse();
        Some(path)
    }

    /// One S-VLAN per link: the lowest free on every link if there is one, else the lowest
    /// free on each; never the one `taken` names for the same link (a tree's root S-VLAN).
    fn choose_vlans(&self, links: &[usize], taken: &[u16]) -> Result<Vec<u16>, AllocationError> {
        let free = |k: usize, link: usize, v: u16| !self.link_vlans[link].contains(v) && taken.get(k) != Some(&v);
        if let Some(common) = S_VLANS.clone().find(|v| links.iter().enumerate().all(|(k, &l)| free(k, l, *v))) {
            return Ok(vec![common; links.len()]);
        }
        links
            .iter()
            .enumerate()
            .map(|(k, &link)| {
                S_VLANS.clone().find(|v| free(k, link, *v)).ok_or_else(|| {
                    let Link { a, z, .. } = &self.topology.links[link];
                    AllocationError::VlanExhausted(format!("{a} – {z}"))
                })
            })
            .collect()
    }
}
