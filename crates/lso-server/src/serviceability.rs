//! What the network can do, as Product Offering Qualification asks it: UNIs at a site (free
//! unless a UNI service holds them), the site at an address, the UNI of a product, and whether
//! a path with a bandwidth exists (planned on a copy of the network, reserving nothing).

use lso_bus::Serviceability;
use lso_bus::qualification::{BoxFuture, IpAccessAsked};
use lso_icm::{Icm, InterfaceKind};
use lso_presto::{ConnectivityRequest, ServiceEndpoint};
use std::sync::Arc;

/// Serviceability from ICM, the SOF and the Seller's geography.
pub struct NetworkServiceability {
    /// Infrastructure control.
    pub icm: Arc<Icm>,
    /// Service orchestration (which UNIs services hold).
    pub sof: Arc<lso_sof::Sof>,
    /// The addresses and sites.
    pub geography: Arc<lso_geo::Geography>,
}

impl Serviceability for NetworkServiceability {
    fn unis_at_site<'a>(&'a self, site: &'a str, ip: bool) -> BoxFuture<'a, Vec<(String, bool)>> {
        let kind = if ip { InterfaceKind::IpUni } else { InterfaceKind::Uni };
        Box::pin(async move {
            let names: Vec<String> = self
                .icm
                .read(|n| {
                    let at_site =
                        n.topology().interfaces.iter().filter(|i| i.kind == kind && i.site.as_deref() == Some(site));
                    at_site.map(|i| i.name.clone()).collect()
                })
                .await;
            let mut unis = Vec::with_capacity(names.len());
            for name in names {
                let free = !self.sof.interface_taken(&name).await.unwrap_or(true);
                unis.push((name, free));
            }
            unis
        })
    }

    fn site_at_address<'a>(&'a self, address: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move { self.geography.sites.iter().find(|s| s.address.id == address).map(|s| s.id.clone()) })
    }

    fn interface_of_product<'a>(&'a self, product: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async move {
            let services = self.sof.find_services(lso_bus::LEGATO_CLIENT, product).await.ok()?;
            let service = services.iter().find(|s| s["state"] != "terminated")?["id"].as_str()?.to_owned();
            self.sof.interface_of(&service).await.ok().flatten()
        })
    }

    fn ip_access(&self, asked: IpAccessAsked) -> BoxFuture<'_, Result<String, String>> {
        let IpAccessAsked { site, at_ip_uni, cir_mbps, prefix_length } = asked;
        Box::pin(async move {
            let mut found = Vec::new();
            if !at_ip_uni {
                let candidates: Vec<(String, u64)> = self
                    .icm
                    .read(|n| {
                        let ip_unis = n.topology().interfaces.iter().filter(|i| {
                            i.kind == InterfaceKind::IpUni
                                && (site.is_none() || i.site == site)
                                && !n.is_locked(&i.name)
                        });
                        ip_unis.map(|i| (i.name.clone(), i.capacity_mbps)).collect()
                    })
                    .await;
                let place = site.as_deref().map_or_else(String::new, |s| format!(" at site {s}"));
                if candidates.is_empty() {
                    return Err(format!("the Seller has no IP UNI{place}"));
                }
                let mut free = None;
                for (name, capacity) in candidates.iter().filter(|(_, c)| *c >= cir_mbps) {
                    if !self.sof.interface_taken(name).await.unwrap_or(true) {
                        free = Some((name.clone(), *capacity));
                        break;
                    }
                }
                let Some((name, capacity)) = free else {
                    return Err(format!("no IP UNI{place} with {cir_mbps} Mbit/s is free"));
                };
                found.push(format!("IP UNI {name} ({capacity} Mbit/s) is free{place}"));
            }
            match self.sof.free_subnet(prefix_length).await {
                Ok(Some(subnet)) => found.push(format!("a /{prefix_length} is free in the address pool ({subnet})")),
                Ok(None) => {
                    return Err(format!("the address pool {} has no free /{prefix_length}", self.sof.ip_pool()));
                }
                Err(e) => return Err(format!("the address pool cannot be read: {e}")),
            }
            Ok(found.join("; "))
        })
    }

    fn path<'a>(&'a self, endpoints: Vec<(String, Vec<u16>)>, cir_mbps: u64) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let endpoints = endpoints
                .into_iter()
                .map(|(interface, vlans)| ServiceEndpoint { interface, vlans, routed: None, leaf: false })
                .collect();
            let request = ConnectivityRequest { uuid: "qualification".into(), endpoints, cir_mbps };
            self.icm.plan_connectivity(&request).await.map(drop).map_err(|e| e.to_string())
        })
    }
}
