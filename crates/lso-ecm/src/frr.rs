//! `FrrDriver`: a provider-edge router running FRRouting (zebra, staticd, bgpd) in a network
//! namespace of this host, configured with `vtysh` and, for the rates, Linux traffic control.
//!
//! Each IP UNI access link of a service is a port of the router: its description names the
//! service (`lso:<service>`), it carries the provider's address, the customer's prefixes are
//! routed to the customer's address (static routes through the port), and a BGP customer gets a
//! neighbour (described the same way) that is sent a default route and may announce only the
//! prefixes of its prefix list (`lso-in-<customer address>`). The rate towards the customer is
//! a token bucket on the port; the rate from the customer a token bucket on an `ifb` device the
//! port's ingress is redirected to (`ifb<port index>`): Linux polices nothing else here.
//!
//! Every change is a difference between what the service should have and what the router runs,
//! made in one `vtysh` call and confirmed by reading the whole configuration back.

use crate::{Attachment, Bgp, CrossConnect, DriverError, ElementDriver, Flow, PortCounters, PortState, Routed};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tokio::sync::Mutex;

/// How long one command on the router may take before the router counts as unreachable.
const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// What one service has on a router, as asked or as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouterService {
    /// Its ports, each with what the router runs there.
    pub ports: BTreeMap<String, RoutedPort>,
    /// Its static routes: (prefix, next hop, port).
    pub statics: BTreeSet<(String, String, String)>,
    /// Its BGP neighbours by address.
    pub neighbours: BTreeMap<String, Neighbour>,
}

/// A port of a service on a router.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutedPort {
    /// Its addresses, with their prefix lengths.
    pub addresses: BTreeSet<String>,
    /// The rate from the customer, in kbit/s.
    pub ingress_kbps: Option<u32>,
    /// The rate towards the customer, in kbit/s.
    pub egress_kbps: Option<u32>,
    /// Whether a packet is dropped when its source is not routed back through this port (strict
    /// reverse path forwarding, MEF 69.1 D11): a customer cannot send from another's addresses.
    pub reverse_path_check: bool,
}

/// A BGP neighbour of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Neighbour {
    /// Its autonomous system.
    pub remote_as: Option<u32>,
    /// Whether it is sent a default route.
    pub default_originate: bool,
    /// The prefixes it may announce.
    pub accept: BTreeSet<String>,
}

impl RouterService {
    /// What `connect` asks of a router; a switched endpoint is refused.
    pub fn wanted(connect: &CrossConnect) -> Result<Self, DriverError> {
        if connect.service.is_empty() || connect.service.contains(char::is_whitespace) {
            return Err(DriverError::NotApplied {
                port: "*".into(),
                reason: "a service id without spaces is needed".into(),
            });
        }
        let mut wanted = RouterService::default();
        for endpoint in &connect.endpoints {
            let Attachment::Routed(routed) = &endpoint.attachment else {
                return Err(DriverError::NotApplied {
                    port: endpoint.port.clone(),
                    reason: "a router routes IP UNIs; it does not switch VLANs".into(),
                });
            };
            check_routed(&endpoint.port, routed)?;
            let refused = if endpoint.ingress_cir_kbps == Some(0) {
                Some("a rate of 0 kbit/s")
            } else if endpoint.port.is_empty() || endpoint.port.contains(char::is_whitespace) {
                Some("a port name without spaces is needed")
            } else {
                None
            };
            if let Some(reason) = refused {
                return Err(DriverError::NotApplied { port: endpoint.port.clone(), reason: reason.into() });
            }
            let port = RoutedPort {
                addresses: BTreeSet::from([routed.provider.clone()]),
                ingress_kbps: endpoint.ingress_cir_kbps,
                egress_kbps: routed.egress_kbps,
                reverse_path_check: true,
            };
            wanted.ports.insert(endpoint.port.clone(), port);
            for prefix in &routed.static_routes {
                wanted.statics.insert((prefix.clone(), routed.customer.clone(), endpoint.port.clone()));
            }
            if let Some(Bgp { customer_as, accept }) = &routed.bgp {
                let neighbour = Neighbour {
                    remote_as: Some(*customer_as),
                    default_originate: true,
                    accept: accept.iter().cloned().collect(),
                };
                wanted.neighbours.insert(routed.customer.clone(), neighbour);
            }
        }
        Ok(wanted)
    }
}

/// Refuses addresses and prefixes that are not IPv4 (they would reach `vtysh` as commands).
fn check_routed(port: &str, routed: &Routed) -> Result<(), DriverError> {
    let bad = |reason: String| DriverError::NotApplied { port: port.to_owned(), reason };
    let (address, length) =
        routed.provider.split_once('/').ok_or_else(|| bad(format!("`{}` has no prefix length", routed.provider)))?;
    let prefix = |text: &str| {
        text.split_once('/')
            .is_some_and(|(a, l)| a.parse::<std::net::Ipv4Addr>().is_ok() && l.parse::<u8>().is_ok_and(|l| l <= 32))
    };
    if address.parse::<std::net::Ipv4Addr>().is_err() || !length.parse::<u8>().is_ok_and(|l| (1..=31).contains(&l)) {
        return Err(bad(format!("`{}` is not an IPv4 address with a prefix length", routed.provider)));
    }
    if routed.customer.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(bad(format!("`{}` is not an IPv4 address", routed.customer)));
    }
    let accepted = routed.bgp.iter().flat_map(|b| &b.accept);
    if let Some(wrong) = routed.static_routes.iter().chain(accepted).find(|p| !prefix(p)) {
        return Err(bad(format!("`{wrong}` is not an IPv4 prefix")));
    }
    if routed.egress_kbps == Some(0) {
        return Err(bad("a rate of 0 kbit/s".into()));
    }
    Ok(())
}

/// The router's configuration, as `show running-config` and traffic control report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Running {
    /// The router's autonomous system, if it runs BGP.
    pub asn: Option<u32>,
    /// Each interface's description and addresses.
    interfaces: BTreeMap<String, (Option<String>, BTreeSet<String>)>,
    statics: BTreeSet<(String, String, String)>,
    neighbours: BTreeMap<String, (Option<String>, Neighbour, Option<String>)>,
    prefix_lists: BTreeMap<String, BTreeSet<String>>,
    /// Each port's rates: (from the customer, towards the customer).
    rates: BTreeMap<String, (Option<u32>, Option<u32>)>,
    /// Each port's interface index.
    index: BTreeMap<String, u64>,
    /// The ports with strict reverse path forwarding.
    checked: BTreeSet<String>,
}

/// The service a description names.
fn described(description: &Option<String>) -> Option<&str> {
    description.as_deref().and_then(|d| d.strip_prefix("lso:"))
}

impl Running {
    /// Reads `show running-config`.
    fn parse(text: &str) -> Self {
        let mut running = Running::default();
        let mut interface: Option<String> = None;
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let top = !line.starts_with(' ');
            match words.as_slice() {
                ["interface", name, ..] if top => {
                    interface = Some((*name).to_owned());
                    running.interfaces.entry((*name).to_owned()).or_default();
                }
                ["router", "bgp", asn, ..] if top => {
                    interface = None;
                    running.asn = asn.parse().ok();
                }
                ["ip", "route", prefix, via, port] if top => {
                    running.statics.insert(((*prefix).to_owned(), (*via).to_owned(), (*port).to_owned()));
                }
                ["ip", "prefix-list", name, "seq", _, "permit", prefix, ..] if top => {
                    running.prefix_lists.entry((*name).to_owned()).or_default().insert((*prefix).to_owned());
                }
                ["description", rest @ ..] if interface.is_some() => {
                    let entry = running.interfaces.entry(interface.clone().unwrap_or_default()).or_default();
                    entry.0 = Some(rest.join(" "));
                }
                ["ip", "address", address] if interface.is_some() => {
                    let entry = running.interfaces.entry(interface.clone().unwrap_or_default()).or_default();
                    entry.1.insert((*address).to_owned());
                }
                ["neighbor", address, rest @ ..] if !top => {
                    let entry = running.neighbours.entry((*address).to_owned()).or_default();
                    match rest {
                        ["remote-as", asn] => entry.1.remote_as = asn.parse().ok(),
                        ["description", text @ ..] => entry.0 = Some(text.join(" ")),
                        ["default-originate"] => entry.1.default_originate = true,
                        ["prefix-list", name, "in"] => entry.2 = Some((*name).to_owned()),
                        _ => {}
                    }
                }
                _ if top => interface = None,
                _ => {}
            }
        }
        running
    }

    /// What service `service` has here.
    pub fn service(&self, service: &str) -> RouterService {
        let mut found = RouterService::default();
        for (name, (description, addresses)) in &self.interfaces {
            if described(description) == Some(service) {
                let (ingress_kbps, egress_kbps) = self.rates.get(name).copied().unwrap_or_default();
                let reverse_path_check = self.checked.contains(name);
                let port = RoutedPort { addresses: addresses.clone(), ingress_kbps, egress_kbps, reverse_path_check };
                found.ports.insert(name.clone(), port);
            }
        }
        found.statics = self.statics.iter().filter(|(_, _, port)| found.ports.contains_key(port)).cloned().collect();
        for (address, (description, neighbour, list)) in &self.neighbours {
            if described(description) == Some(service) {
                let mut neighbour = neighbour.clone();
                neighbour.accept = list.as_ref().and_then(|l| self.prefix_lists.get(l)).cloned().unwrap_or_default();
                found.neighbours.insert(address.clone(), neighbour);
            }
        }
        found
    }

    /// Every service with something on the router.
    pub fn services(&self) -> BTreeSet<String> {
        let interfaces = self.interfaces.values().map(|(d, _)| d);
        let neighbours = self.neighbours.values().map(|(d, _, _)| d);
        interfaces.chain(neighbours).filter_map(described).map(str::to_owned).collect()
    }
}

/// The name of the prefix list of the BGP neighbour at `address`.
fn prefix_list(address: &str) -> String {
    format!("lso-in-{address}")
}

/// The `vtysh` commands that turn `have` (service `service`'s part of `running`) into `want`.
fn commands(service: &str, running: &Running, have: &RouterService, want: &RouterService) -> Vec<String> {
    let mut out = vec!["configure terminal".to_owned()];
    for (prefix, via, port) in have.statics.difference(&want.statics) {
        out.push(format!("no ip route {prefix} {via} {port}"));
    }
    let gone: Vec<&String> =
        have.neighbours.keys().filter(|a| have.neighbours.get(*a) != want.neighbours.get(*a)).collect();
    if let (false, Some(asn)) = (gone.is_empty(), running.asn) {
        out.push(format!("router bgp {asn}"));
        out.extend(gone.iter().map(|address| format!("no neighbor {address}")));
        out.push("exit".into());
    }
    for address in &gone {
        out.push(format!("no ip prefix-list {}", prefix_list(address)));
    }
    for (name, port) in &have.ports {
        let kept = want.ports.get(name).map(|p| &p.addresses);
        let stale: Vec<&String> = port.addresses.iter().filter(|a| kept.is_none_or(|k| !k.contains(*a))).collect();
        if stale.is_empty() && kept.is_some() {
            continue;
        }
        out.push(format!("interface {name}"));
        out.extend(stale.iter().map(|a| format!("no ip address {a}")));
        if kept.is_none() {
            out.push("no description".into());
        }
        out.push("exit".into());
    }
    for (name, port) in &want.ports {
        let had = have.ports.get(name);
        let new: Vec<&String> =
            port.addresses.iter().filter(|a| had.is_none_or(|h| !h.addresses.contains(*a))).collect();
        if had.is_some() && new.is_empty() {
            continue;
        }
        out.push(format!("interface {name}"));
        out.push(format!("description lso:{service}"));
        out.extend(new.iter().map(|a| format!("ip address {a}")));
        out.push("exit".into());
    }
    for (prefix, via, port) in want.statics.difference(&have.statics) {
        out.push(format!("ip route {prefix} {via} {port}"));
    }
    let new: Vec<(&String, &Neighbour)> =
        want.neighbours.iter().filter(|(a, n)| have.neighbours.get(*a) != Some(*n)).collect();
    if let (false, Some(asn)) = (new.is_empty(), running.asn) {
        for (address, neighbour) in &new {
            for (seq, prefix) in neighbour.accept.iter().enumerate() {
                let longer = if prefix.ends_with("/32") { "" } else { " le 32" };
                out.push(format!(
                    "ip prefix-list {} seq {} permit {prefix}{longer}",
                    prefix_list(address),
                    seq * 5 + 5
                ));
            }
        }
        out.push(format!("router bgp {asn}"));
        for (address, neighbour) in &new {
            out.push(format!("neighbor {address} remote-as {}", neighbour.remote_as.unwrap_or_default()));
            out.push(format!("neighbor {address} description lso:{service}"));
        }
        out.push("address-family ipv4 unicast".into());
        for (address, _) in &new {
            out.push(format!("neighbor {address} default-originate"));
            out.push(format!("neighbor {address} prefix-list {} in", prefix_list(address)));
        }
        out.push("exit-address-family".into());
        out.push("exit".into());
    }
    out
}

/// An FRRouting router in network namespace `namespace` (its `vtysh -N` pathspace too).
pub struct FrrDriver {
    namespace: String,
    /// One change at a time: a change is a difference from what was read.
    lock: Mutex<()>,
}

impl FrrDriver {
    /// The router whose daemons run in `namespace`, started with `-N namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        FrrDriver { namespace: namespace.into(), lock: Mutex::new(()) }
    }

    /// Runs `program` with `args`; its standard output, or why it failed.
    async fn run(&self, program: &str, args: &[String], input: Option<String>) -> Result<String, DriverError> {
        let mut command = tokio::process::Command::new(program);
        command.args(args).kill_on_drop(true).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        command.stdin(if input.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() });
        let mut child = command.spawn().map_err(|e| DriverError::Unreachable(format!("{program}: {e}")))?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            use tokio::io::AsyncWriteExt;
            stdin.write_all(text.as_bytes()).await.map_err(|e| DriverError::Unreachable(format!("{program}: {e}")))?;
        }
        let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| DriverError::Unreachable(format!("{program} did not answer in {COMMAND_TIMEOUT:?}")))?
            .map_err(|e| DriverError::Unreachable(format!("{program}: {e}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        // A netlink dump that changes under way says so and may have left things out.
        if !output.status.success() || String::from_utf8_lossy(&output.stderr).contains("Dump was interrupted") {
            let said = format!("{}{}", String::from_utf8_lossy(&output.stderr).trim(), stdout.trim());
            return Err(DriverError::Unreachable(format!("{program} on {}: {said}", self.namespace)));
        }
        Ok(stdout)
    }

    async fn vtysh(&self, commands: &[String]) -> Result<String, DriverError> {
        let mut args = vec!["-N".to_owned(), self.namespace.clone()];
        for command in commands {
            args.push("-c".into());
            args.push(command.clone());
        }
        self.run("vtysh", &args, None).await
    }

    async fn tc_json(&self, commands: &[String]) -> Result<Vec<Value>, DriverError> {
        let args = ["-n", &self.namespace, "-j", "-batch", "-"].map(str::to_owned);
        let text = self.run("tc", &args, Some(commands.join("\n") + "\n")).await?;
        let values = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
        values.collect::<Result<_, _>>().map_err(|e| DriverError::Unreachable(format!("tc said something else: {e}")))
    }

    /// The router's links (with their counters when `counters`), read again when the kernel
    /// says a dump was interrupted by a change.
    async fn links(&self, counters: bool) -> Result<Vec<Value>, DriverError> {
        let mut args: Vec<String> = ["-n", &self.namespace, "-j"].map(str::to_owned).to_vec();
        args.extend(counters.then(|| "-s".to_owned()));
        args.extend(["link".to_owned(), "show".to_owned()]);
        let mut attempts = 0;
        let text = loop {
            match self.run("ip", &args, None).await {
                Ok(text) => break text,
                Err(_) if attempts < 5 => attempts += 1,
                Err(failed) => return Err(failed),
            }
        };
        serde_json::from_str(&text).map_err(|e| DriverError::Unreachable(format!("ip said something else: {e}")))
    }

    /// Everything the router runs: its routing configuration and every port's rates.
    pub async fn running(&self) -> Result<Running, DriverError> {
        self.read(None).await
    }

    /// The router's routing configuration, with the rates, indexes and reverse path checks of
    /// every port, or (`scope`) only of the ports service `scope.0` has or wants: a change
    /// reads the whole configuration but only its own ports.
    async fn read(&self, scope: Option<(&str, &RouterService)>) -> Result<Running, DriverError> {
        let mut running = Running::parse(&self.vtysh(&["show running-config".into()]).await?);
        let ports: Option<BTreeSet<String>> = scope.map(|(service, want)| {
            let had = running.interfaces.iter().filter(|(_, (d, _))| described(d) == Some(service)).map(|(n, _)| n);
            had.chain(want.ports.keys()).cloned().collect()
        });
        let name_and_index = |l: &Value| Some((l["ifname"].as_str()?.to_owned(), l["ifindex"].as_u64()?));
        // Each device read, with its qdiscs.
        let mut qdiscs: Vec<(String, Value)> = Vec::new();
        match &ports {
            None => {
                running.index = self.links(false).await?.iter().filter_map(name_and_index).collect();
                let all = self.tc_json(&["qdisc show".into()]).await?.pop().unwrap_or_default();
                let all = all.as_array().cloned().unwrap_or_default();
                qdiscs.extend(all.into_iter().filter_map(|q| Some((q["dev"].as_str()?.to_owned(), q))));
            }
            Some(ports) => {
                let mut devices = Vec::new();
                for port in ports {
                    let Some((name, index)) = self.link(port).await?.as_ref().and_then(name_and_index) else {
                        continue;
                    };
                    let ifb = format!("ifb{index}");
                    if self.link(&ifb).await?.is_some() {
                        devices.push(ifb);
                    }
                    devices.push(name.clone());
                    running.index.insert(name, index);
                }
                let asked: Vec<String> = devices.iter().map(|d| format!("qdisc show dev {d}")).collect();
                let shown = if asked.is_empty() { Vec::new() } else { self.tc_json(&asked).await? };
                for (device, listed) in devices.iter().zip(shown) {
                    let listed = listed.as_array().cloned().unwrap_or_default();
                    qdiscs.extend(listed.into_iter().map(|q| (device.clone(), q)));
                }
            }
        }
        let rates: std::collections::HashMap<&str, u32> = qdiscs
            .iter()
            .filter(|(_, q)| q["kind"] == "tbf" && q["root"] == true)
            .filter_map(|(dev, q)| Some((dev.as_str(), q["options"]["rate"].as_u64()?)))
            .map(|(dev, bytes)| (dev, u32::try_from(bytes * 8 / 1000).unwrap_or(u32::MAX)))
            .collect();
        let rate = |dev: &str| rates.get(dev).copied();
        let policed: Vec<&str> =
            qdiscs.iter().filter(|(_, q)| q["kind"] == "ingress").map(|(d, _)| d.as_str()).collect();
        let asked: Vec<String> = policed.iter().map(|dev| format!("filter show dev {dev} ingress")).collect();
        let filters = if asked.is_empty() { Vec::new() } else { self.tc_json(&asked).await? };
        // Where each policed port's ingress is redirected to.
        let redirects: std::collections::HashMap<&str, String> = policed
            .iter()
            .zip(&filters)
            .filter_map(|(dev, filter)| {
                let actions = filter
                    .as_array()?
                    .iter()
                    .flat_map(|f| f["options"]["actions"].as_array().cloned().unwrap_or_default());
                let mirred = actions.into_iter().find(|a| a["kind"] == "mirred")?;
                Some((*dev, mirred["to_dev"].as_str()?.to_owned()))
            })
            .collect();
        let mut port_rates = BTreeMap::new();
        for (name, (description, _)) in &running.interfaces {
            if described(description).is_none() || ports.as_ref().is_some_and(|p| !p.contains(name)) {
                continue;
            }
            let ifb = running.index.get(name).map(|i| format!("ifb{i}"));
            let ingress =
                redirects.get(name.as_str()).filter(|dev| Some(*dev) == ifb.as_ref()).and_then(|dev| rate(dev));
            port_rates.insert(name.clone(), (ingress, rate(name)));
        }
        running.rates = port_rates;
        // The ports' reverse path filters, in one read of the namespace's settings.
        let files = match &ports {
            None => "*/rp_filter".to_owned(),
            Some(ports) => ports.iter().map(|p| format!("{p}/rp_filter")).collect::<Vec<_>>().join(" "),
        };
        let script = format!("cd /proc/sys/net/ipv4/conf && grep -H . {files} 2>/dev/null; true");
        let args = ["netns", "exec", &self.namespace, "sh", "-c", &script];
        let filters = self.run("ip", &args.map(str::to_owned), None).await?;
        running.checked = filters
            .lines()
            .filter_map(|line| line.split_once("/rp_filter:"))
            .filter(|(_, value)| value.trim() == "1")
            .map(|(port, _)| port.to_owned())
            .collect();
        Ok(running)
    }

    /// Link `name` as the router reports it, or `None` if it has none of that name.
    async fn link(&self, name: &str) -> Result<Option<Value>, DriverError> {
        let args = ["-n", &self.namespace, "-j", "link", "show", "dev", name].map(str::to_owned);
        match self.run("ip", &args, None).await {
            Ok(text) => {
                let links: Value = serde_json::from_str(&text)
                    .map_err(|e| DriverError::Unreachable(format!("ip said something else: {e}")))?;
                Ok(links.get(0).cloned())
            }
            // `ip` says the device does not exist by failing.
            Err(DriverError::Unreachable(said)) if said.contains("does not exist") => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Sets the rates of `port` (index `index`) to `ingress` and `egress`.
    async fn set_rates(
        &self,
        port: &str,
        index: u64,
        ingress: Option<u32>,
        egress: Option<u32>,
    ) -> Result<(), DriverError> {
        let ifb = format!("ifb{index}");
        let tbf = |dev: &str, kbps: u32| {
            let burst = (u64::from(kbps) * 1000 / 8 / 10).max(3000);
            format!("qdisc replace dev {dev} root tbf rate {kbps}kbit burst {burst} latency 50ms")
        };
        let mut batch = Vec::new();
        match egress {
            Some(kbps) => batch.push(tbf(port, kbps)),
            None => batch.push(format!("qdisc del dev {port} root")),
        }
        let ip = |args: &[&str]| {
            let mut all = vec!["-n".to_owned(), self.namespace.clone()];
            all.extend(args.iter().map(|a| (*a).to_owned()));
            all
        };
        match ingress {
            Some(kbps) => {
                if self.run("ip", &ip(&["link", "show", "dev", &ifb]), None).await.is_err() {
                    self.run("ip", &ip(&["link", "add", &ifb, "type", "ifb"]), None).await?;
                }
                self.run("ip", &ip(&["link", "set", &ifb, "up"]), None).await?;
                batch.push(tbf(&ifb, kbps));
                batch.push(format!("qdisc replace dev {port} handle ffff: ingress"));
                batch.push(format!(
                    "filter replace dev {port} parent ffff: protocol all prio 1 handle 800::800 u32 match u32 0 0 action mirred egress redirect dev {ifb}"
                ));
            }
            None => batch.push(format!("qdisc del dev {port} ingress")),
        }
        // `-force` goes on past a deletion of what is not there; the read-back judges the result.
        let args = ["-n", &self.namespace, "-force", "-batch", "-"].map(str::to_owned);
        let _ = self.run("tc", &args, Some(batch.join("\n") + "\n")).await;
        if ingress.is_none() {
            let _ = self.run("ip", &ip(&["link", "del", &ifb]), None).await;
        }
        Ok(())
    }

    /// Makes service `service` have `want` (nothing, to remove it), then reads it back.
    async fn converge(&self, service: &str, want: &RouterService) -> Result<(), DriverError> {
        let _one = self.lock.lock().await;
        let running = self.read(Some((service, want))).await?;
        if !want.neighbours.is_empty() && running.asn.is_none() {
            let port = want.ports.keys().next().cloned().unwrap_or_default();
            return Err(DriverError::NotApplied { port, reason: "the router runs no BGP".into() });
        }
        let have = running.service(service);
        if &have == want {
            return Ok(());
        }
        let index = &running.index;
        if let Some(missing) = want.ports.keys().find(|p| !index.contains_key(*p)) {
            return Err(DriverError::NotApplied {
                port: missing.clone(),
                reason: "the router has no such port".into(),
            });
        }
        let commands = commands(service, &running, &have, want);
        if commands.len() > 1 {
            self.vtysh(&commands).await?;
        }
        let ports: BTreeSet<&String> = have.ports.keys().chain(want.ports.keys()).collect();
        for port in ports {
            let (ingress, egress) = want.ports.get(port).map(|p| (p.ingress_kbps, p.egress_kbps)).unwrap_or_default();
            let had = have.ports.get(port).map(|p| (p.ingress_kbps, p.egress_kbps)).unwrap_or_default();
            if had != (ingress, egress) {
                self.set_rates(port, index.get(port).copied().unwrap_or_default(), ingress, egress).await?;
            }
            let check = want.ports.get(port).is_some_and(|p| p.reverse_path_check);
            if check != have.ports.get(port).is_some_and(|p| p.reverse_path_check) {
                let setting = format!("net.ipv4.conf.{port}.rp_filter={}", u8::from(check));
                let args = ["netns", "exec", &self.namespace, "sysctl", "-qw", &setting];
                self.run("ip", &args.map(str::to_owned), None).await?;
            }
        }
        let now = self.read(Some((service, want))).await?.service(service);
        if &now != want {
            let port = want.ports.keys().chain(have.ports.keys()).next().cloned().unwrap_or_default();
            return Err(DriverError::NotApplied {
                port,
                reason: format!("the router runs {now:?} for service {service}, not {want:?}"),
            });
        }
        Ok(())
    }
}

impl ElementDriver for FrrDriver {
    async fn apply(&self, connect: &CrossConnect) -> Result<(), DriverError> {
        let want = RouterService::wanted(connect)?;
        self.converge(&connect.service, &want).await
    }

    async fn remove(&self, service: &str) -> Result<(), DriverError> {
        self.converge(service, &RouterService::default()).await
    }

    async fn check(&self, connect: &CrossConnect) -> Result<bool, DriverError> {
        let want = RouterService::wanted(connect)?;
        Ok(self.read(Some((&connect.service, &want))).await?.service(&connect.service) == want)
    }

    async fn ports(&self) -> Result<Vec<PortState>, DriverError> {
        let links = self.links(true).await?;
        let counter = |link: &Value, way: &str, what: &str| link["stats64"][way][what].as_u64().unwrap_or_default();
        let mut ports: Vec<PortState> = links
            .iter()
            .filter(|l| l["link_type"] != "loopback" && l["link_info"]["info_kind"] != "ifb")
            .filter(|l| !l["ifname"].as_str().unwrap_or("ifb").starts_with("ifb"))
            .map(|l| PortState {
                port: l["ifname"].as_str().unwrap_or_default().to_owned(),
                link_up: l["operstate"] == "UP",
                error: None,
                counters: PortCounters {
                    rx_packets: counter(l, "rx", "packets"),
                    rx_bytes: counter(l, "rx", "bytes"),
                    rx_dropped: counter(l, "rx", "dropped"),
                    tx_packets: counter(l, "tx", "packets"),
                    tx_bytes: counter(l, "tx", "bytes"),
                    tx_dropped: counter(l, "tx", "dropped"),
                },
            })
            .collect();
        ports.sort_by(|a, b| a.port.cmp(&b.port));
        Ok(ports)
    }

    async fn flows(&self, _service: &str) -> Result<Vec<Flow>, DriverError> {
        // A router holds routes, not flows.
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNNING: &str = "frr version 8.4.4
frr defaults traditional
hostname pe
!
ip route 198.51.100.0/24 203.0.113.2
ip route 192.0.2.0/28 100.64.0.2 c1
!
interface c1
 description lso:svc1
 ip address 100.64.0.1/30
exit
!
interface c2
 description lso:svc2
 ip address 100.64.0.5/30
exit
!
interface up0
 ip address 203.0.113.1/30
exit
!
router bgp 64500
 bgp router-id 203.0.113.1
 neighbor 100.64.0.6 remote-as 65001
 neighbor 100.64.0.6 description lso:svc2
 !
 address-family ipv4 unicast
  neighbor 100.64.0.6 default-originate
  neighbor 100.64.0.6 prefix-list lso-in-100.64.0.6 in
 exit-address-family
exit
!
ip prefix-list lso-in-100.64.0.6 seq 5 permit 192.0.2.16/28 le 32
!
end
";

    fn routed(provider: &str, customer: &str) -> Routed {
        Routed {
            provider: provider.into(),
            customer: customer.into(),
            static_routes: Vec::new(),
            bgp: None,
            egress_kbps: None,
        }
    }

    fn connect(service: &str, port: &str, routed: Routed) -> CrossConnect {
        let endpoint = crate::Endpoint {
            port: port.into(),
            attachment: Attachment::Routed(routed),
            ingress_cir_kbps: None,
            role: crate::Role::Root,
        };
        CrossConnect { service: service.into(), endpoints: vec![endpoint] }
    }

    #[test]
    fn reads_each_service_from_the_running_configuration() {
        let mut running = Running::parse(RUNNING);
        running.checked = BTreeSet::from(["c1".to_owned(), "c2".to_owned()]);
        assert_eq!(running.asn, Some(64500));
        assert_eq!(running.services(), BTreeSet::from(["svc1".to_owned(), "svc2".to_owned()]));
        let mut static_one = routed("100.64.0.1/30", "100.64.0.2");
        static_one.static_routes = vec!["192.0.2.0/28".into()];
        assert_eq!(running.service("svc1"), RouterService::wanted(&connect("svc1", "c1", static_one)).unwrap());
        let mut bgp = routed("100.64.0.5/30", "100.64.0.6");
        bgp.bgp = Some(Bgp { customer_as: 65001, accept: vec!["192.0.2.16/28".into()] });
        assert_eq!(running.service("svc2"), RouterService::wanted(&connect("svc2", "c2", bgp)).unwrap());
        assert_eq!(running.service("svc3"), RouterService::default());
    }

    #[test]
    fn changes_only_what_differs_and_removes_everything_of_a_service() {
        let running = Running::parse(RUNNING);
        let have = running.service("svc2");
        let gone = commands("svc2", &running, &have, &RouterService::default());
        assert_eq!(
            gone,
            [
                "configure terminal",
                "router bgp 64500",
                "no neighbor 100.64.0.6",
                "exit",
                "no ip prefix-list lso-in-100.64.0.6",
                "interface c2",
                "no ip address 100.64.0.5/30",
                "no description",
                "exit"
            ]
        );
        let mut want = have.clone();
        want.ports.get_mut("c2").unwrap().egress_kbps = Some(20_000);
        assert_eq!(commands("svc2", &running, &have, &want), ["configure terminal"]);
    }

    #[test]
    fn refuses_what_is_not_an_ipv4_access_link() {
        let injected = routed("100.64.0.1/30\nno router bgp 64500", "100.64.0.2");
        assert!(RouterService::wanted(&connect("s", "c1", injected)).is_err());
        assert!(RouterService::wanted(&connect("s", "c1\nexit", routed("100.64.0.1/30", "100.64.0.2"))).is_err());
        assert!(RouterService::wanted(&connect("s x", "c1", routed("100.64.0.1/30", "100.64.0.2"))).is_err());
        let mut bad_prefix = routed("100.64.0.1/30", "100.64.0.2");
        bad_prefix.static_routes = vec!["192.0.2.0/28 blackhole".into()];
        assert!(RouterService::wanted(&connect("s", "c1", bad_prefix)).is_err());
        let switched = CrossConnect {
            service: "s".into(),
            endpoints: vec![crate::Endpoint {
                port: "c1".into(),
                attachment: Attachment::Uni { ce_vlans: vec![], carried: None },
                ingress_cir_kbps: None,
                role: crate::Role::Root,
            }],
        };
        assert!(RouterService::wanted(&switched).is_err());
    }
}
