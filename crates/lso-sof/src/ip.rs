//! IP access on provider-edge routers: an IPVC service takes an IP UNI (the one its IP UNI
//! service holds, the one it names, or a free one at its site), gets its access link's subnet
//! from the address pool, and asks ICM for the routed access (addressing, static routes or BGP
//! to the customer, the rates both ways). Deleting it gives everything back.
//!
//! Address management: the pool is cut into /30 units; a subnet of an access link is one or
//! more aligned units, each a record of the store with the unit as its key, inserted together.
//! Two services can never hold the same unit, whatever runs at once: the store refuses the
//! second insert and the allocation moves on.

use crate::{INTERFACE_CLAIM, Sof, SofError};
use lso_store::{Condition, Filter, IndexEntry, ListQuery, Record, WriteOp};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::Ipv4Addr;

/// The /30 units of the address pool services hold.
pub(crate) const IP_ALLOCATION: &str = "sofIpAllocation";

/// The smallest subnet handed out: a /30 (provider, customer, network and broadcast).
const UNIT: u8 = 30;

/// An IPv4 pool access links get their subnets from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Pool {
    network: u32,
    length: u8,
}

impl std::str::FromStr for Ipv4Pool {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, length) = text.split_once('/').ok_or_else(|| format!("`{text}` is not `address/length`"))?;
        let address: Ipv4Addr = address.parse().map_err(|_| format!("`{address}` is not an IPv4 address"))?;
        let length: u8 = length.parse().map_err(|_| format!("`{length}` is not a prefix length"))?;
        if !(8..=UNIT).contains(&length) {
            return Err(format!("a pool is a /8 to a /{UNIT}, not a /{length}"));
        }
        let network = u32::from(address);
        if network & !mask(length) != 0 {
            return Err(format!("`{text}` has host bits set"));
        }
        Ok(Ipv4Pool { network, length })
    }
}

impl std::fmt::Display for Ipv4Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.length)
    }
}

impl Default for Ipv4Pool {
    /// 100.64.0.0/16, of the shared address space (RFC 6598).
    fn default() -> Self {
        Ipv4Pool { network: u32::from(Ipv4Addr::new(100, 64, 0, 0)), length: 16 }
    }
}

fn mask(length: u8) -> u32 {
    if length == 0 { 0 } else { u32::MAX << (32 - u32::from(length)) }
}

/// The subnet of an access link: the provider takes its first address, the customer the
/// second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    network: u32,
    length: u8,
}

impl Subnet {
    fn units(self) -> impl Iterator<Item = u32> {
        let step = 1u32 << (32 - UNIT);
        let count = 1u32 << (UNIT - self.length);
        (0..count).map(move |n| self.network + n * step)
    }

    fn host(self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.network + n)
    }

    /// What the SOF writes into the service: the subnet and both addresses.
    fn describe(self, interface: &str) -> Value {
        json!({"interface": interface, "ipv4Prefix": format!("{}/{}", self.host(0), self.length),
               "providerAddress": self.host(1).to_string(), "customerAddress": self.host(2).to_string()})
    }
}

/// How the customer's network is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Routing {
    /// The customer's prefixes (if any) are routed statically to its address.
    #[default]
    Static,
    /// BGP with the customer's router: it gets a default route, and may announce its prefixes.
    Bgp,
}

/// The configuration of an IPVC service (lso's own attributes).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpvcConfig {
    /// The IP UNI service it is delivered at; else `interface`, else a free IP UNI at the
    /// service's site (or anywhere, without one).
    pub ip_uni: Option<String>,
    /// The IP UNI, by name.
    pub interface: Option<String>,
    /// The rate from the customer, in Mbit/s (0: the IP UNI's).
    #[serde(default)]
    pub cir_mbps: u64,
    /// The rate towards the customer, in Mbit/s (0: as from the customer).
    #[serde(default)]
    pub egress_mbps: u64,
    /// The prefix length of the access link's subnet (default 30: one address each).
    #[serde(default = "default_length")]
    pub prefix_length: u8,
    /// Static routes or BGP.
    #[serde(default)]
    pub routing: Routing,
    /// The customer's autonomous system, for BGP.
    pub customer_as: Option<u32>,
    /// The customer's own prefixes: routed to it (static) or accepted from it (BGP).
    #[serde(default)]
    pub customer_prefixes: Vec<String>,
}

fn default_length() -> u8 {
    UNIT
}

impl IpvcConfig {
    /// What is wrong with it on any network: (attribute, reason).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if !(24..=UNIT).contains(&self.prefix_length) {
            return Some(("prefixLength", format!("an access link is a /24 to a /{UNIT}")));
        }
        if let Some(bad) = self.customer_prefixes.iter().find(|p| parse_prefix(p).is_none()) {
            return Some(("customerPrefixes", format!("`{bad}` is not an IPv4 prefix (address/length, no host bits)")));
        }
        match (self.routing, self.customer_as) {
            (Routing::Bgp, None) => Some(("customerAs", "BGP needs the customer's autonomous system".into())),
            (Routing::Bgp, Some(0)) => Some(("customerAs", "0 is not an autonomous system".into())),
            _ => None,
        }
    }
}

/// `address/length` with no host bits set.
fn parse_prefix(text: &str) -> Option<(u32, u8)> {
    let (address, length) = text.split_once('/')?;
    let (address, length) = (u32::from(address.parse::<Ipv4Addr>().ok()?), length.parse::<u8>().ok()?);
    (length <= 32 && address & !mask(length) == 0).then_some((address, length))
}

impl Sof {
    /// The address pool of access links.
    pub fn ip_pool(&self) -> Ipv4Pool {
        self.ip_pool
    }

    /// The subnet `service` holds, taking a free one of `length` first if it holds none.
    async fn allocate(&self, service: &str, length: u8) -> Result<Result<Subnet, String>, SofError> {
        let held = self.allocations(Some(service)).await?;
        if let Some(first) = held.iter().min() {
            let length = UNIT - (held.len() as u32).trailing_zeros() as u8;
            return Ok(Ok(Subnet { network: *first, length }));
        }
        let pool = self.ip_pool;
        for _attempt in 0..10 {
            let Some(subnet) = self.first_free(length).await? else {
                return Ok(Err(format!("the address pool {pool} has no free /{length} left")));
            };
            let ops = subnet
                .units()
                .map(|unit| WriteOp::Insert {
                    record: Record {
                        kind: IP_ALLOCATION.into(),
                        id: Ipv4Addr::from(unit).to_string(),
                        tenant: "sof".into(),
                        version: 1,
                        doc: json!({"service": service}).to_string(),
                    },
                    index: vec![IndexEntry::new("service", service)],
                })
                .collect();
            match self.store.apply(ops).await {
                Ok(()) => return Ok(Ok(subnet)),
                // Another service took a unit of it meanwhile: look again.
                Err(lso_store::StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(SofError::Conflict("the address pool is being allocated too fast; try again".into()))
    }

    /// The first subnet of `length` no service holds a unit of.
    async fn first_free(&self, length: u8) -> Result<Option<Subnet>, SofError> {
        let pool = self.ip_pool;
        let size = 1u64 << (32 - u32::from(length));
        let end = u64::from(pool.network) + (1u64 << (32 - u32::from(pool.length)));
        let taken: std::collections::BTreeSet<u32> = self.allocations(None).await?.into_iter().collect();
        let mut network = u64::from(pool.network);
        while network + size <= end {
            let subnet = Subnet { network: network as u32, length };
            if subnet.units().all(|u| !taken.contains(&u)) {
                return Ok(Some(subnet));
            }
            network += size;
        }
        Ok(None)
    }

    /// The subnet of `length` the next access link would get, if the pool has one free
    /// (nothing is allocated).
    pub async fn free_subnet(&self, length: u8) -> Result<Option<String>, SofError> {
        if !(24..=UNIT).contains(&length) {
            return Ok(None);
        }
        Ok(self.first_free(length).await?.map(|s| format!("{}/{}", s.host(0), s.length)))
    }

    /// The /30 units held by `service`, or by every service.
    async fn allocations(&self, service: Option<&str>) -> Result<Vec<u32>, SofError> {
        let filters = service
            .map(|s| vec![Filter { name: "service".into(), condition: Condition::Eq(s.into()) }])
            .unwrap_or_default();
        let mut units = Vec::new();
        let mut offset = 0;
        loop {
            const PAGE: u64 = 10_000;
            let query = ListQuery {
                kind: IP_ALLOCATION.into(),
                tenant: Some("sof".into()),
                filters: filters.clone(),
                offset,
                limit: PAGE,
            };
            let page = self.store.list(query).await?;
            units.extend(page.records.iter().filter_map(|r| r.id.parse::<Ipv4Addr>().ok()).map(u32::from));
            offset += page.records.len() as u64;
            if (page.records.len() as u64) < PAGE {
                return Ok(units);
            }
        }
    }

    /// Gives back the subnet of `service`.
    async fn release_addresses(&self, service: &str) -> Result<(), SofError> {
        let ops: Vec<WriteOp> = self
            .allocations(Some(service))
            .await?
            .into_iter()
            .map(|unit| WriteOp::Delete { kind: IP_ALLOCATION.into(), id: Ipv4Addr::from(unit).to_string() })
            .collect();
        if !ops.is_empty() {
            self.store.apply(ops).await?;
        }
        Ok(())
    }

    /// Makes IPVC `service` exist on the network (or changes it there, when `running`),
    /// writing its access link into its configuration; `Err` says why it cannot.
    pub(crate) async fn bring_up_ipvc(
        &self,
        service: &mut Value,
        running: bool,
    ) -> Result<Result<(), String>, SofError> {
        let id = service["id"].as_str().unwrap_or_default().to_owned();
        let config: IpvcConfig =
            crate::services::read_config(&service["serviceConfiguration"]).map_err(SofError::Corrupt)?;
        if let Some((attribute, reason)) = config.problem() {
            return Ok(Err(format!("{attribute}: {reason}")));
        }
        // A change of a running access keeps what it holds, whatever the outcome.
        let fresh = self.allocations(Some(&id)).await?.is_empty();
        let sips = self.presto.service_interface_points().await.map_err(|e| SofError::Unreachable(e.to_string()))?;
        let is_ip_uni = |name: &str| sips.iter().any(|s| s.name == name && s.kind == lso_presto::InterfaceKind::IpUni);
        if let Some(named) = config.interface.as_deref().filter(|n| !is_ip_uni(n)) {
            return Ok(Err(format!("the network has no IP UNI `{named}`")));
        }
        let interface = match (&config.ip_uni, &config.interface) {
            (Some(ip_uni), _) => match self.interface_of(ip_uni).await? {
                Some(interface) => interface,
                None => return Ok(Err(format!("service {ip_uni} holds no IP UNI"))),
            },
            (None, named) => {
                let kind = lso_presto::InterfaceKind::IpUni;
                if let Err(reason) = self.claim_interface(&id, named.clone(), &service["place"], kind).await? {
                    return Ok(Err(reason));
                }
                self.interface_of(&id).await?.unwrap_or_default()
            }
        };
        let Some(sip) = sips.iter().find(|s| s.name == interface && s.kind == lso_presto::InterfaceKind::IpUni) else {
            return Ok(Err(format!("`{interface}` is not an IP UNI")));
        };
        let subnet = match self.allocate(&id, config.prefix_length).await? {
            Ok(subnet) => subnet,
            Err(reason) => {
                if fresh {
                    self.release_claim(&id).await?;
                }
                return Ok(Err(reason));
            }
        };
        let cir_mbps = if config.cir_mbps > 0 { config.cir_mbps } else { sip.capacity_mbps };
        let egress_mbps = if config.egress_mbps > 0 { config.egress_mbps } else { cir_mbps };
        let customer = subnet.host(2).to_string();
        let routed = lso_presto::Routed {
            provider: format!("{}/{}", subnet.host(1), subnet.length),
            customer: customer.clone(),
            static_routes: if config.routing == Routing::Static {
                config.customer_prefixes.clone()
            } else {
                Vec::new()
            },
            bgp: (config.routing == Routing::Bgp).then(|| lso_presto::Bgp {
                customer_as: config.customer_as.unwrap_or_default(),
                accept: config.customer_prefixes.clone(),
            }),
            egress_kbps: u32::try_from(egress_mbps * 1000).ok(),
        };
        let endpoint = lso_presto::ServiceEndpoint {
            interface: interface.clone(),
            vlans: Vec::new(),
            routed: Some(routed),
            leaf: false,
        };
        let request = lso_presto::ConnectivityRequest { uuid: id.clone(), endpoints: vec![endpoint], cir_mbps };
        let outcome = if running { self.update(&request).await? } else { self.create(&request).await? };
        if outcome.is_ok() {
            service["serviceConfiguration"]["accessLink"] = subnet.describe(&interface);
        } else if fresh {
            self.release_addresses(&id).await?;
            self.release_claim(&id).await?;
        }
        Ok(outcome)
    }

    /// Gives back what IPVC `service` holds: its access on the router, its subnet, and the IP
    /// UNI it took itself.
    pub(crate) async fn tear_down_ipvc(&self, id: &str) -> Result<(), SofError> {
        self.presto
            .delete_connectivity(id)
            .await
            .map_err(|e| SofError::Unreachable(format!("the network could not remove {id}: {e}")))?;
        self.release_addresses(id).await?;
        self.release_claim(id).await
    }

    /// Gives back the interface `service` claimed, if any.
    pub(crate) async fn release_claim(&self, service: &str) -> Result<(), SofError> {
        if let Some(interface) = self.interface_of(service).await? {
            match self.store.apply(vec![WriteOp::Delete { kind: INTERFACE_CLAIM.into(), id: interface }]).await {
                Ok(()) | Err(lso_store::StoreError::NotFound) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_an_aligned_prefix_cut_into_thirty_units() {
        assert_eq!("100.64.0.0/16".parse::<Ipv4Pool>().unwrap(), Ipv4Pool::default());
        assert!("100.64.0.1/16".parse::<Ipv4Pool>().is_err(), "host bits");
        assert!("100.64.0.0/31".parse::<Ipv4Pool>().is_err());
        let subnet = Subnet { network: u32::from(Ipv4Addr::new(100, 64, 0, 8)), length: 29 };
        let units: Vec<String> = subnet.units().map(|u| Ipv4Addr::from(u).to_string()).collect();
        assert_eq!(units, ["100.64.0.8", "100.64.0.12"]);
        assert_eq!(subnet.describe("ip1")["customerAddress"], "100.64.0.10");
        assert_eq!(subnet.describe("ip1")["ipv4Prefix"], "100.64.0.8/29");
    }

    #[test]
    fn an_ipvc_configuration_is_checked_before_the_network_is_asked() {
        let config = |value: Value| serde_json::from_value::<IpvcConfig>(value).unwrap();
        assert!(config(json!({})).problem().is_none());
        assert_eq!(config(json!({"routing": "bgp"})).problem().unwrap().0, "customerAs");
        assert_eq!(config(json!({"customerPrefixes": ["192.0.2.1/28"]})).problem().unwrap().0, "customerPrefixes");
        assert_eq!(config(json!({"prefixLength": 31})).problem().unwrap().0, "prefixLength");
        assert!(
            config(json!({"routing": "bgp", "customerAs": 65001, "customerPrefixes": ["192.0.2.0/28"]}))
                .problem()
                .is_none()
        );
    }
}
