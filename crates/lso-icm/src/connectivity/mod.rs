//! Connectivity services (Presto's `connectivity-service`): a service between interfaces, with
//! the VLANs it uses at each and the rate it is held to, reserved on the network and configured
//! on its elements through ECM (Adagio).
//!
//! Creating one reserves a path and S-VLANs, then applies a cross-connect on every element on
//! the path, each confirmed by read-back. If an element refuses, what was applied is removed and
//! the reservation released; if the removal itself fails, the reservation is kept (the elements
//! may still carry it) and deleting the service later finishes the job. Every step is
//! idempotent: creating or deleting again after a crash completes what was started.

use crate::durable::{Icm, IcmError};
use crate::network::{Network, Request, Reservation};
use lso_adagio::{Attachment, CrossConnect, Endpoint, Role};
use lso_presto::{ConnectivityRequest, InterfaceKind};

/// A connectivity service as it is on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectivityService {
    /// What was reserved.
    pub reservation: Reservation,
    /// The cross-connect of each element on its path.
    pub cross_connects: Vec<(String, CrossConnect)>,
}

/// What `request` reserves on the network.
fn reservation_request(request: &ConnectivityRequest) -> Request {
    Request {
        service: request.uuid.clone(),
        interfaces: request.endpoints.iter().map(|e| e.interface.clone()).collect(),
        bandwidth_mbps: request.cir_mbps,
        vlans: request.endpoints.iter().map(|e| (e.interface.clone(), e.vlans.clone())).collect(),
        routed: request.endpoints.iter().filter_map(|e| Some((e.interface.clone(), e.routed.clone()?))).collect(),
        leaves: request.endpoints.iter().filter(|e| e.leaf).map(|e| e.interface.clone()).collect(),
    }
}

/// The CE-VLAN frames entering at UNI `name` take (CE-VLAN translation): the one every other UNI
/// of the service uses, when each has exactly one and it differs from this UNI's only one.
fn carried(network: &Network, request: &Request, name: &str) -> Option<u16> {
    let single = |interface: &String| match request.vlans.get(interface).map(Vec::as_slice) {
        Some([vlan]) => Some(*vlan),
        _ => None,
    };
    let own = single(&name.to_owned())?;
    let is_uni = |i: &&String| network.topology().interface(i).is_some_and(|i| i.kind == InterfaceKind::Uni);
    let others: Vec<Option<u16>> =
        request.interfaces.iter().filter(|i| *i != name).filter(is_uni).map(single).collect();
    match others.first() {
        Some(Some(theirs)) if *theirs != own && others.iter().all(|o| *o == Some(*theirs)) => Some(*theirs),
        _ => None,
    }
}

/// Whether the UNIs of `request` can be joined: CE-VLAN translation (frames take their
/// CE-VLAN where they enter) joins two UNIs of one CE-VLAN each, no more.
fn translatable(network: &Network, request: &Request) -> Result<(), String> {
    let singles: Vec<u16> = request
        .interfaces
        .iter()
        .filter(|i| network.topology().interface(i).is_some_and(|i| i.kind == InterfaceKind::Uni))
        .filter_map(|i| match request.vlans.get(i).map(Vec::as_slice) {
            Some([vlan]) => Some(*vlan),
            _ => None,
        })
        .collect();
    let distinct: std::collections::BTreeSet<u16> = singles.iter().copied().collect();
    if distinct.len() > 1 && singles.len() > 2 {
        return Err(format!(
            "CE-VLANs {distinct:?} at its UNIs: CE-VLAN translation joins two UNIs; more must share their CE-VLAN"
        ));
    }
    Ok(())
}

/// The cross-connects `reservation` needs on each element, in topology order.
pub fn cross_connects(network: &Network, reservation: &Reservation) -> Vec<(String, CrossConnect)> {
    let topology = network.topology();
    let request = &reservation.request;
    let mut per_element: Vec<(String, Vec<Endpoint>)> =
        topology.elements.iter().map(|(name, _)| (name.clone(), Vec::new())).collect();
    let mut add = |element: &str, endpoint: Endpoint| {
        if let Some((_, endpoints)) = per_element.iter_mut().find(|(name, _)| name == element)
            && !endpoints.contains(&endpoint)
        {
            endpoints.push(endpoint);
        }
    };
    for name in &request.interfaces {
        let Some(interface) = topology.interface(name) else { continue };
        let vlans = request.vlans.get(name).cloned().unwrap_or_default();
        let (attachment, cir) = match interface.kind {
            InterfaceKind::Uni => {
                let cir = (request.bandwidth_mbps > 0).then(|| (request.bandwidth_mbps * 1000) as u32);
                (Attachment::Uni { ce_vlans: vlans, carried: carried(network, request, name) }, cir)
            }
            InterfaceKind::Enni => (Attachment::Tagged { s_vlan: vlans.first().copied().unwrap_or(0) }, None),
            InterfaceKind::IpUni => {
                let Some(routed) = request.routed.get(name) else { continue };
                let cir = (request.bandwidth_mbps > 0).then(|| (request.bandwidth_mbps * 1000) as u32);
                (Attachment::Routed(routed.clone()), cir)
            }
        };
        let role = if request.leaves.contains(name) { Role::Leaf } else { Role::Root };
        let port = interface.port.port.clone();
        add(&interface.port.element, Endpoint { port, attachment, ingress_cir_kbps: cir, role });
    }
    for hop in &reservation.hops {
        let link = &topology.links[hop.link];
        // A tree with leaves carries what its roots send and what its leaves send apart.
        let trunks = match hop.leaf_s_vlan {
            Some(leaf) => vec![(hop.s_vlan, Role::RootTrunk), (leaf, Role::LeafTrunk)],
            None => vec![(hop.s_vlan, Role::Root)],
        };
        for end in [&link.a, &link.z] {
            for &(s_vlan, role) in &trunks {
                let attachment = Attachment::Tagged { s_vlan };
                add(&end.element, Endpoint { port: end.port.clone(), attachment, ingress_cir_kbps: None, role });
            }
        }
    }
    per_element
        .into_iter()
        .filter(|(_, endpoints)| !endpoints.is_empty())
        .map(|(element, endpoints)| (element, CrossConnect { service: request.service.clone(), endpoints }))
        .collect()
}

impl Icm {
    /// Creates `request` on the network: reserved, configured on every element and confirmed.
    #[tracing::instrument(name = "icm.createConnectivity", skip_all, fields(service = %request.uuid))]
    pub async fn create_connectivity(&self, request: &ConnectivityRequest) -> Result<ConnectivityService, IcmError> {
        self.check_endpoints(request).await?;
        let reservation = self.reserve(&reservation_request(request)).await?;
        let cross_connects = self.read(|network| cross_connects(network, &reservation)).await;
        for (element, connect) in &cross_connects {
            if let Err(refused) = self.adagio().apply(element, connect).await {
                tracing::warn!(service = %request.uuid, %element, error = %refused, "rolling back a connectivity service");
                self.delete_connectivity(&request.uuid).await?;
                return Err(IcmError::Element(refused));
            }
        }
        Ok(ConnectivityService { reservation, cross_connects })
    }

    /// Removes connectivity service `uuid` from its elements and releases what it held;
    /// `false` if there was no such service.
    #[tracing::instrument(name = "icm.deleteConnectivity", skip_all, fields(service = %uuid))]
    pub async fn delete_connectivity(&self, uuid: &str) -> Result<bool, IcmError> {
        let Some(service) = self.connectivity(uuid).await else { return Ok(false) };
        for (element, _) in &service.cross_connects {
            self.adagio().remove(element, uuid).await.map_err(IcmError::Element)?;
        }
        self.release(uuid).await?;
        Ok(true)
    }

    /// Replaces connectivity service `request.uuid` with `request`; if the network cannot carry
    /// the new one, the old one is put back and the error returned. A change of the bandwidth
    /// (or of an IP UNI's addressing) alone is made in place, make before break: the same
    /// path and VLANs, each element changing its rate where it stands (a meter or a token
    /// bucket modified, never removed), so traffic never stops.
    #[tracing::instrument(name = "icm.updateConnectivity", skip_all, fields(service = %request.uuid))]
    pub async fn update_connectivity(&self, request: &ConnectivityRequest) -> Result<ConnectivityService, IcmError> {
        let old = self
            .connectivity(&request.uuid)
            .await
            .ok_or_else(|| IcmError::Invalid(format!("no connectivity service `{}`", request.uuid)))?;
        let wanted = reservation_request(request);
        let same_shape =
            old.reservation.request.interfaces == wanted.interfaces && old.reservation.request.vlans == wanted.vlans;
        if same_shape {
            self.check_endpoints(request).await?;
            let reservation = self.resize(&wanted).await?;
            let cross_connects = self.read(|network| cross_connects(network, &reservation)).await;
            for (element, connect) in &cross_connects {
                if let Err(refused) = self.adagio().apply(element, connect).await {
                    tracing::warn!(service = %request.uuid, %element, error = %refused, "putting a changed service back");
                    self.resize(&old.reservation.request).await?;
                    for (element, connect) in &old.cross_connects {
                        self.adagio().apply(element, connect).await.map_err(IcmError::Element)?;
                    }
                    return Err(IcmError::Element(refused));
                }
            }
            return Ok(ConnectivityService { reservation, cross_connects });
        }
        self.delete_connectivity(&request.uuid).await?;
        match self.create_connectivity(request).await {
            Ok(service) => Ok(service),
            Err(refused) => {
                let old = &old.reservation.request;
                let endpoints = old.endpoints();
                let back = ConnectivityRequest { uuid: old.service.clone(), endpoints, cir_mbps: old.bandwidth_mbps };
                self.create_connectivity(&back).await?;
                Err(refused)
            }
        }
    }

    /// The path a request would take (links with capacity to spare, S-VLANs free on them),
    /// computed on a copy of the network: nothing is reserved. The VLANs an endpoint names (an
    /// ENNI's S-VLAN) must be free there; an endpoint naming none is only asked to be reached.
    pub async fn plan_connectivity(&self, request: &ConnectivityRequest) -> Result<Reservation, IcmError> {
        self.check_endpoints(request).await?;
        let mut copy = self.read(Network::clone).await;
        let mut asked = reservation_request(request);
        asked.vlans.retain(|_, vlans| !vlans.is_empty());
        Ok(copy.reserve(&asked)?)
    }

    /// Connectivity service `uuid`, if it is reserved.
    pub async fn connectivity(&self, uuid: &str) -> Option<ConnectivityService> {
        self.read(|network| {
            let reservation = network.reservations().get(uuid)?.clone();
            let cross_connects = cross_connects(network, &reservation);
            Some(ConnectivityService { reservation, cross_connects })
        })
        .await
    }

    /// Whether every element of connectivity service `uuid` runs it exactly (the read-back).
    pub async fn check_connectivity(&self, uuid: &str) -> Result<bool, IcmError> {
        let Some(service) = self.connectivity(uuid).await else { return Ok(false) };
        for (element, connect) in &service.cross_connects {
            if !self.adagio().check(element, connect).await.map_err(IcmError::Element)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The connectivity services `alarm` touches: those with a cross-connect on its element
    /// (an element alarm) or on its port (a port alarm).
    pub async fn affected_by(&self, alarm: &lso_adagio::Alarm) -> Vec<String> {
        self.read(|network| {
            network
                .reservations()
                .values()
                .filter(|reservation| {
                    cross_connects(network, reservation).iter().any(|(element, connect)| {
                        *element == alarm.element
                            && alarm.port.as_ref().is_none_or(|port| connect.endpoints.iter().any(|e| &e.port == port))
                    })
                })
                .map(|r| r.request.service.clone())
                .collect()
        })
        .await
    }

    /// Checks what the network cannot: VLAN identifiers, one S-VLAN at each ENNI, CE-VLANs that
    /// translation can join.
    async fn check_endpoints(&self, request: &ConnectivityRequest) -> Result<(), IcmError> {
        let asked = reservation_request(request);
        self.read(|network| translatable(network, &asked)).await.map_err(IcmError::Invalid)?;
        let kinds: Vec<Option<InterfaceKind>> = self
            .read(|network| {
                request.endpoints.iter().map(|e| network.topology().interface(&e.interface).map(|i| i.kind)).collect()
            })
            .await;
        for (endpoint, kind) in request.endpoints.iter().zip(kinds) {
            if let Some(bad) = endpoint.vlans.iter().find(|v| !(1..=4094).contains(*v)) {
                return Err(IcmError::Invalid(format!("VLAN {bad} at `{}` is outside 1-4094", endpoint.interface)));
            }
            if kind == Some(InterfaceKind::Enni) && endpoint.vlans.len() != 1 {
                return Err(IcmError::Invalid(format!("ENNI `{}` needs exactly one S-VLAN", endpoint.interface)));
            }
            if (kind == Some(InterfaceKind::IpUni)) != endpoint.routed.is_some() {
                return Err(IcmError::Invalid(format!(
                    "`{}`: an IP UNI, and only an IP UNI, takes an access link's addressing",
                    endpoint.interface
                )));
            }
            if kind == Some(InterfaceKind::IpUni) && !endpoint.vlans.is_empty() {
                return Err(IcmError::Invalid(format!("IP UNI `{}` takes no VLANs", endpoint.interface)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
