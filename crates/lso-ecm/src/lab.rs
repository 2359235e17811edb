//! A laboratory network on this machine: Open vSwitch elements, each with its `ovsdb-server`
//! on a loopback TCP port and its `ovs-vswitchd` in a network namespace of its own, joined by
//! veths, with customer hosts in namespaces of their own. A host may sit behind a customer
//! edge switch that sends its traffic tagged with a CE-VLAN (the kernel here has no 802.1Q
//! sub-interfaces). Routers run FRRouting (zebra, staticd, bgpd) in namespaces of their own,
//! with an "Internet" host upstream and customer hosts or routers on their ports. Traffic is
//! checked with `ping` and `iperf3`.
//!
//! Needs root and Debian's `openvswitch-switch`, `iproute2`, `iputils-ping`, `ethtool` and
//! `iperf3`, and `frr` for routers. Everything a lab creates is removed when it is dropped, and only the processes it
//! started are stopped, by the PIDs they recorded.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Tells apart the labs of one process.
static LABS: AtomicUsize = AtomicUsize::new(0);

/// Why a lab cannot be built or used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LabError(String);

impl LabError {
    /// A lab error saying `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        LabError(reason.into())
    }
}

fn run(program: &str, args: &[&str]) -> Result<String, LabError> {
    let output = Command::new(program).args(args).output().map_err(|e| LabError(format!("{program}: {e}")))?;
    if !output.status.success() {
        return Err(LabError(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// An Open vSwitch element of the lab.
#[derive(Debug, Clone)]
pub struct LabElement {
    /// Its name in the lab.
    pub name: String,
    /// The network namespace its datapath runs in.
    pub namespace: String,
    /// Where its `ovsdb-server` listens (`127.0.0.1:port`).
    pub ovsdb: String,
    /// The OpenFlow management socket of its bridge.
    pub openflow: String,
    /// Its bridge.
    pub bridge: String,
    dir: PathBuf,
}

/// A customer host of the lab.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its network namespace.
    pub namespace: String,
    /// Its IPv4 address (in a /24).
    pub ip: String,
    /// The customer edge switch tagging its traffic, if any.
    edge: Option<LabElement>,
}

/// Namespaces and Open vSwitch processes of one lab, removed on drop.
pub struct Lab {
    prefix: String,
    dir: tempfile::TempDir,
    namespaces: Vec<String>,
    pidfiles: Vec<PathBuf>,
    /// Directories outside the lab's own (FRRouting's, per namespace), removed on drop.
    dirs: Vec<PathBuf>,
    veths: AtomicUsize,
}

/// A router of the lab.
#[derive(Debug, Clone)]
pub struct LabRouter {
    /// Its network namespace, which is also its FRRouting pathspace (`vtysh -N`).
    pub namespace: String,
}

/// The addresses of the lab's "Internet": the upstream link of a provider router and the host
/// beyond it.
pub const UPSTREAM_ROUTER: &str = "203.0.113.1/30";
/// The Internet host's address on the upstream link.
const UPSTREAM_HOST: &str = "203.0.113.2";
/// The address of the Internet host that customers reach.
pub const INTERNET_HOST: &str = "198.51.100.10";

impl Lab {
    /// An empty lab whose names start with `tag` (keep it to 3 characters: interface names
    /// have at most 15), or why this machine cannot build one.
    pub fn new(tag: &str) -> Result<Lab, LabError> {
        if run("id", &["-u"])?.trim() != "0" {
            return Err(LabError("building network namespaces needs root".into()));
        }
        for program in ["ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ip", "ping", "ethtool", "iperf3"] {
            if run("sh", &["-c", &format!("command -v {program}")]).is_err() {
                return Err(LabError(format!(
                    "`{program}` is missing (apt-get install openvswitch-switch iproute2 iputils-ping ethtool iperf3)"
                )));
            }
        }
        let dir = tempfile::Builder::new().prefix("lso-lab").tempdir().map_err(|e| LabError(e.to_string()))?;
        let prefix = format!("{tag}{}{}", std::process::id() % 10_000, LABS.fetch_add(1, Ordering::Relaxed));
        Ok(Lab {
            prefix,
            dir,
            namespaces: Vec::new(),
            pidfiles: Vec::new(),
            dirs: Vec::new(),
            veths: AtomicUsize::new(0),
        })
    }

    fn namespace(&mut self, name: &str) -> Result<String, LabError> {
        let namespace = format!("{}{name}", self.prefix);
        run("ip", &["netns", "add", &namespace])?;
        self.namespaces.push(namespace.clone());
        run("ip", &["-n", &namespace, "link", "set", "lo", "up"])?;
        Ok(namespace)
    }

    /// Starts an `ovsdb-server` and an `ovs-vswitchd` in `namespace`, with their files in `dir`.
    fn switch(&mut self, name: &str, namespace: &str, dir: &Path, bridge: &str) -> Result<LabElement, LabError> {
        std::fs::create_dir_all(dir).map_err(|e| LabError(e.to_string()))?;
        let path = |file: &str| dir.join(file).display().to_string();
        run("ovsdb-tool", &["create", &path("db"), "/usr/share/openvswitch/vswitch.ovsschema"])?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| LabError(e.to_string()))?
            .port();
        self.pidfiles.push(dir.join("ovsdb.pid"));
        run(
            "ovsdb-server",
            &[
                &path("db"),
                &format!("--remote=ptcp:{port}:127.0.0.1"),
                &format!("--remote=punix:{}", path("db.sock")),
                &format!("--pidfile={}", path("ovsdb.pid")),
                &format!("--unixctl={}", path("ovsdb.ctl")),
                &format!("--log-file={}", path("ovsdb.log")),
                "--detach",
            ],
        )?;
        run("ovs-vsctl", &[&format!("--db=unix:{}", path("db.sock")), "--no-wait", "init"])?;
        self.pidfiles.push(dir.join("vswitchd.pid"));
        // OVS_RUNDIR puts the bridge's OpenFlow management socket in `dir`.
        run(
            "ip",
            &[
                "netns",
                "exec",
                namespace,
                "env",
                &format!("OVS_RUNDIR={}", dir.display()),
                "ovs-vswitchd",
                &format!("unix:{}", path("db.sock")),
                &format!("--pidfile={}", path("vswitchd.pid")),
                &format!("--unixctl={}", path("vswitchd.ctl")),
                &format!("--log-file={}", path("vswitchd.log")),
                "--detach",
            ],
        )?;
        Ok(LabElement {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            ovsdb: format!("127.0.0.1:{port}"),
            openflow: path(&format!("{bridge}.mgmt")),
            bridge: bridge.to_owned(),
            dir: dir.to_owned(),
        })
    }

    /// A provider element named `name`, with bridge `br0` (which its driver creates).
    pub fn element(&mut self, name: &str) -> Result<LabElement, LabError> {
        let namespace = self.namespace(name)?;
        let dir = self.dir.path().join(name);
        self.switch(name, &namespace, &dir, "br0")
    }

    /// A veth between namespace `a` (named `a_port` there) and `z` (named `z_port`).
    fn veth(&self, a: &str, a_port: &str, z: &str, z_port: &str) -> Result<(), LabError> {
        let serial = self.veths.fetch_add(1, Ordering::Relaxed);
        let (left, right) = (format!("{}a{serial}", self.prefix), format!("{}z{serial}", self.prefix));
        run("ip", &["link", "add", &left, "type", "veth", "peer", "name", &right])?;
        run("ip", &["link", "set", &left, "netns", a, "name", a_port])?;
        run("ip", &["link", "set", &right, "netns", z, "name", z_port])?;
        run("ip", &["-n", a, "link", "set", a_port, "up"])?;
        run("ip", &["-n", z, "link", "set", z_port, "up"])?;
        Ok(())
    }

    /// A link between port `a_port` of `a` and port `z_port` of `z`. Its MTU leaves room for
    /// the S-tag over a full customer frame.
    pub fn wire(&self, a: &LabElement, a_port: &str, z: &LabElement, z_port: &str) -> Result<(), LabError> {
        self.veth(&a.namespace, a_port, &z.namespace, z_port)?;
        run("ip", &["-n", &a.namespace, "link", "set", a_port, "mtu", "9000"])?;
        run("ip", &["-n", &z.namespace, "link", "set", z_port, "mtu", "9000"]).map(drop)
    }

    /// A host with address `ip`/24 plugged into port `port` of `element`. With `ce_vlan`, the
    /// host sits behind a customer edge switch that sends its traffic tagged with that VLAN;
    /// without, it sends untagged frames.
    pub fn host(
        &mut self,
        name: &str,
        element: &LabElement,
        port: &str,
        ip: &str,
        ce_vlan: Option<u16>,
    ) -> Result<Host, LabError> {
        let namespace = self.namespace(name)?;
        self.veth(&namespace, "eth0", &element.namespace, port)?;
        let (device, edge) = match ce_vlan {
            None => ("eth0", None),
            Some(vlan) => {
                let dir = self.dir.path().join(name);
                let edge = self.switch(name, &namespace, &dir, "ce")?;
                let db = format!("--db=unix:{}", dir.join("db.sock").display());
                let (tag, trunks) = (format!("tag={vlan}"), format!("trunks={vlan}"));
                run(
                    "ovs-vsctl",
                    &[
                        &db,
                        "--timeout=10",
                        "add-br",
                        "ce",
                        "--",
                        "set",
                        "bridge",
                        "ce",
                        "datapath_type=netdev",
                        "--",
                        "add-port",
                        "ce",
                        "eth0",
                        &trunks,
                        "--",
                        "add-port",
                        "ce",
                        "lan",
                        &tag,
                        "--",
                        "set",
                        "interface",
                        "lan",
                        "type=internal",
                    ],
                )?;
                ("lan", Some(edge))
            }
        };
        run("ip", &["-n", &namespace, "addr", "add", &format!("{ip}/24"), "dev", device])?;
        run("ip", &["-n", &namespace, "link", "set", device, "up"])?;
        // The userspace datapath forwards partial checksums as they are: TCP needs them filled.
        run("ip", &["netns", "exec", &namespace, "ethtool", "-K", device, "tx", "off"])?;
        Ok(Host { namespace, ip: ip.to_owned(), edge })
    }

    /// Starts FRRouting's zebra, staticd and bgpd in `namespace`, configured with `config`.
    fn frr(&mut self, namespace: &str, config: &str) -> Result<(), LabError> {
        if !Path::new("/usr/lib/frr/zebra").exists() {
            return Err(LabError("FRRouting is missing (apt-get install frr)".into()));
        }
        let (etc, run_dir) = (Path::new("/etc/frr").join(namespace), Path::new("/var/run/frr").join(namespace));
        let logs = self.dir.path().join(namespace);
        for dir in [&etc, &run_dir, &logs] {
            std::fs::create_dir_all(dir).map_err(|e| LabError(format!("{}: {e}", dir.display())))?;
        }
        self.dirs.extend([etc.clone(), run_dir.clone()]);
        let write = |path: PathBuf, text: &str| {
            std::fs::write(&path, text).map_err(|e| LabError(format!("{}: {e}", path.display())))
        };
        write(etc.join("frr.conf"), &format!("frr defaults traditional\nhostname {namespace}\n{config}"))?;
        write(etc.join("vtysh.conf"), "")?;
        // The daemons drop to the `frr` user: their files must be its.
        for dir in [&etc, &run_dir, &logs] {
            run("chown", &["-R", "frr:frr", &dir.display().to_string()])?;
        }
        for daemon in ["zebra", "staticd", "bgpd"] {
            let pidfile = run_dir.join(format!("{daemon}.pid"));
            self.pidfiles.push(pidfile.clone());
            run(
                "ip",
                &[
                    "netns",
                    "exec",
                    namespace,
                    &format!("/usr/lib/frr/{daemon}"),
                    "-d",
                    "-N",
                    namespace,
                    "-i",
                    &pidfile.display().to_string(),
                    "--log",
                    &format!("file:{}", logs.join(format!("{daemon}.log")).display()),
                ],
            )?;
        }
        // The daemons read the integrated configuration when vtysh hands it to them; each has
        // its socket before it detaches, so a failure here is a real one.
        run("vtysh", &["-N", namespace, "-b"]).map(drop)
    }

    /// A provider-edge router running FRRouting in autonomous system `asn`, its port `up0`
    /// wired to an "Internet" host that answers at [`INTERNET_HOST`]; the router's own
    /// configuration routes there and announces nothing.
    pub fn router(&mut self, name: &str, asn: u32) -> Result<(LabRouter, Host), LabError> {
        let namespace = self.namespace(name)?;
        run("ip", &["netns", "exec", &namespace, "sysctl", "-qw", "net.ipv4.ip_forward=1"])?;
        let internet = self.namespace(&format!("{name}i"))?;
        self.veth(&namespace, "up0", &internet, "eth0")?;
        run("ip", &["-n", &internet, "addr", "add", &format!("{UPSTREAM_HOST}/30"), "dev", "eth0"])?;
        run("ip", &["-n", &internet, "addr", "add", &format!("{INTERNET_HOST}/32"), "dev", "lo"])?;
        let gateway = UPSTREAM_ROUTER.split('/').next().unwrap_or_default();
        run("ip", &["-n", &internet, "route", "add", "default", "via", gateway])?;
        run("ip", &["netns", "exec", &internet, "ethtool", "-K", "eth0", "tx", "off"])?;
        let config = format!(
            "interface up0\n ip address {UPSTREAM_ROUTER}\nexit\nip route {INTERNET_HOST}/32 {UPSTREAM_HOST}\nrouter bgp {asn}\n bgp router-id {gateway}\nexit\n"
        );
        self.frr(&namespace, &config)?;
        Ok((LabRouter { namespace }, Host { namespace: internet, ip: INTERNET_HOST.into(), edge: None }))
    }

    /// A customer host plugged into port `port` of `router`, not yet addressed.
    pub fn routed_host(&mut self, name: &str, router: &LabRouter, port: &str) -> Result<Host, LabError> {
        let namespace = self.namespace(name)?;
        self.veth(&namespace, "eth0", &router.namespace, port)?;
        run("ip", &["netns", "exec", &namespace, "ethtool", "-K", "eth0", "tx", "off"])?;
        Ok(Host { namespace, ip: String::new(), edge: None })
    }

    /// Addresses `host` as its provider told it: `address` (with its prefix length) on its
    /// link, the provider's `gateway` as its default route. The host is reached at `address`.
    pub fn address(&self, host: &Host, address: &str, gateway: &str) -> Result<Host, LabError> {
        run("ip", &["-n", &host.namespace, "addr", "replace", address, "dev", "eth0"])?;
        run("ip", &["-n", &host.namespace, "route", "replace", "default", "via", gateway])?;
        let ip = address.split('/').next().unwrap_or_default().to_owned();
        Ok(Host { ip, ..host.clone() })
    }

    /// Makes `host` (addressed on its link as `address`) a customer router in autonomous system
    /// `asn` with a BGP session to `provider` (autonomous system `provider_as`), announcing
    /// `prefix`, whose first address it answers at. It learns its default route by BGP.
    pub fn customer_router(
        &mut self,
        host: &Host,
        address: &str,
        asn: u32,
        provider: &str,
        provider_as: u32,
        prefix: &str,
    ) -> Result<Host, LabError> {
        run("ip", &["-n", &host.namespace, "addr", "replace", address, "dev", "eth0"])?;
        let network: std::net::Ipv4Addr = prefix
            .split('/')
            .next()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| LabError(format!("`{prefix}` is not an IPv4 prefix")))?;
        let inside = std::net::Ipv4Addr::from(u32::from(network) + 1).to_string();
        run("ip", &["-n", &host.namespace, "addr", "add", &format!("{inside}/32"), "dev", "lo"])?;
        let config = format!(
            "ip route {prefix} blackhole\nrouter bgp {asn}\n bgp router-id {inside}\n no bgp ebgp-requires-policy\n neighbor {provider} remote-as {provider_as}\n address-family ipv4 unicast\n  network {prefix}\n exit-address-family\nexit\n"
        );
        self.frr(&host.namespace, &config)?;
        Ok(Host { ip: inside, ..host.clone() })
    }

    /// The routes `router` has installed, as `vtysh` lists them (`show ip route`).
    pub fn routes(&self, router: &str) -> Result<String, LabError> {
        run("vtysh", &["-N", router, "-c", "show ip route"])
    }

    /// The routes of `provider` and of `customer` (router namespaces) once BGP between them has
    /// installed `prefix` at the provider and a default route at the customer, `within` at most.
    /// Each look is two reads of `vtysh`, which pace the loop: FRR offers nothing to wait on.
    pub fn bgp_routes(
        &self,
        provider: &str,
        customer: &str,
        prefix: &str,
        within: std::time::Duration,
    ) -> Result<(String, String), LabError> {
        let until = std::time::Instant::now() + within;
        loop {
            let routes = (self.routes(provider)?, self.routes(customer)?);
            if routes.0.contains(&format!("B>* {prefix}")) && routes.1.contains("B>* 0.0.0.0/0") {
                return Ok(routes);
            }
            if std::time::Instant::now() > until {
                return Err(LabError(format!("no BGP routes within {within:?}: {routes:?}")));
            }
        }
    }

    /// Retags the traffic of `host` (which must sit behind a customer edge switch) with `vlan`.
    pub fn set_ce_vlan(&self, host: &Host, vlan: u16) -> Result<(), LabError> {
        let edge = host.edge.as_ref().ok_or_else(|| LabError(format!("{} sends untagged frames", host.namespace)))?;
        let db = format!("--db=unix:{}", edge.dir.join("db.sock").display());
        run(
            "ovs-vsctl",
            &[
                &db,
                "--timeout=10",
                "set",
                "port",
                "lan",
                &format!("tag={vlan}"),
                "--",
                "set",
                "port",
                "eth0",
                &format!("trunks={vlan}"),
            ],
        )
        .map(drop)
    }

    /// Freezes the `ovsdb-server` of `element` (SIGSTOP): the element stops answering, as a
    /// hung element would; `false` thaws it (SIGCONT).
    pub fn freeze(&self, element: &LabElement, frozen: bool) -> Result<(), LabError> {
        let pid = std::fs::read_to_string(element.dir.join("ovsdb.pid")).map_err(|e| LabError(e.to_string()))?;
        run("kill", &[if frozen { "-STOP" } else { "-CONT" }, pid.trim()]).map(drop)
    }

    /// Takes the link of `host` to its element down (or up again).
    pub fn set_host_link(&self, host: &Host, up: bool) -> Result<(), LabError> {
        run("ip", &["-n", &host.namespace, "link", "set", "eth0", if up { "up" } else { "down" }]).map(drop)
    }

    /// Whether `from` reaches `to` (three probes, a second each at most).
    pub fn reaches(&self, from: &Host, to: &Host) -> bool {
        // A failed probe leaves a FAILED neighbour entry that would fail the next one.
        let _ = run("ip", &["-n", &from.namespace, "neigh", "flush", "all"]);
        run("ip", &["netns", "exec", &from.namespace, "ping", "-c", "3", "-i", "0.2", "-W", "1", &to.ip]).is_ok()
    }

    /// Whether `from`, sending from `source` (an address it is given for the probe, someone
    /// else's), gets an answer from `to` (three probes, a second each at most).
    pub fn reaches_as(&self, from: &Host, source: &str, to: &Host) -> bool {
        let added = run("ip", &["-n", &from.namespace, "addr", "add", &format!("{source}/32"), "dev", "eth0"]).is_ok();
        let _ = run("ip", &["-n", &from.namespace, "neigh", "flush", "all"]);
        let args = ["netns", "exec", &from.namespace, "ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", source, &to.ip];
        let answered = run("ip", &args).is_ok();
        if added {
            let _ = run("ip", &["-n", &from.namespace, "addr", "del", &format!("{source}/32"), "dev", "eth0"]);
        }
        answered
    }

    /// How many packets `router` has sent towards the Internet (its `up0`).
    pub fn upstream_packets(&self, router: &LabRouter) -> Result<u64, LabError> {
        let text = run("ip", &["-n", &router.namespace, "-j", "-s", "link", "show", "dev", "up0"])?;
        let links: serde_json::Value = serde_json::from_str(&text).map_err(|e| LabError(format!("ip: {e}")))?;
        links[0]["stats64"]["tx"]["packets"].as_u64().ok_or_else(|| LabError("no counters on up0".into()))
    }

    /// Whether `from` reaches `to` with one probe (a second at most).
    pub fn answers(&self, from: &Host, to: &Host) -> bool {
        run("ip", &["netns", "exec", &from.namespace, "ping", "-c", "1", "-W", "1", &to.ip]).is_ok()
    }

    /// Adds `count` ports to `router` (`p1` … `p{count}`, each a veth whose other end stays
    /// in the router's namespace), all made by one `ip -batch`; their names.
    pub fn router_ports(&self, router: &LabRouter, count: usize) -> Result<Vec<String>, LabError> {
        let names: Vec<String> = (1..=count).map(|n| format!("p{n}")).collect();
        let batch: String = names.iter().map(|p| format!("link add {p} type veth peer name q{}\n", &p[1..])).collect();
        let up: String = names.iter().map(|p| format!("link set {p} up\nlink set q{} up\n", &p[1..])).collect();
        for commands in [batch, up] {
            let mut child = Command::new("ip")
                .args(["-n", &router.namespace, "-batch", "-"])
                .stdin(Stdio::piped())
                .spawn()
                .map_err(|e| LabError(format!("ip: {e}")))?;
            if let Some(mut stdin) = child.stdin.take() {
                use std::io::Write;
                stdin.write_all(commands.as_bytes()).map_err(|e| LabError(format!("ip: {e}")))?;
            }
            let status = child.wait().map_err(|e| LabError(format!("ip: {e}")))?;
            if !status.success() {
                return Err(LabError(format!("ip -batch on {} failed", router.namespace)));
            }
        }
        Ok(names)
    }

    /// The TCP throughput from `from` to `to` over `seconds` (after a first second left out), in
    /// Mbit/s, as `iperf3` measures it at the receiver.
    pub fn throughput_mbps(&self, from: &Host, to: &Host, seconds: u32) -> Result<f64, LabError> {
        // The first second is left out: it spends the burst the meter allows on top of the rate.
        let report = self.iperf(from, to, &["--time", &seconds.to_string(), "--omit", "1"])?;
        report["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .map(|bits| bits / 1e6)
            .ok_or_else(|| LabError(format!("iperf3 reported no throughput: {}", report["error"])))
    }

    /// Sends UDP datagrams of `size` bytes from `from` to `to` at `mbps` for `seconds`; the
    /// number of datagrams `iperf3` sent.
    pub fn send_udp(&self, from: &Host, to: &Host, mbps: u32, seconds: u32, size: u32) -> Result<u64, LabError> {
        let rate = format!("{mbps}M");
        let (time, length) = (seconds.to_string(), size.to_string());
        let report = self.iperf(from, to, &["--udp", "--bitrate", &rate, "--time", &time, "--length", &length])?;
        report["end"]["sum"]["packets"]
            .as_u64()
            .ok_or_else(|| LabError(format!("iperf3 reported no packets: {}", report["error"])))
    }

    /// Runs an `iperf3` client in `from` with `options` against a one-off server in `to`; its
    /// JSON report.
    fn iperf(&self, from: &Host, to: &Host, options: &[&str]) -> Result<serde_json::Value, LabError> {
        self.start_iperf(from, to, options)?.report()
    }

    /// Starts TCP traffic from `from` to `to` for `seconds`, measured every second; it runs
    /// while the caller goes on (see [`Traffic::per_second`]).
    pub fn start_traffic(&self, from: &Host, to: &Host, seconds: u32) -> Result<Traffic, LabError> {
        self.start_iperf(from, to, &["--time", &seconds.to_string(), "--interval", "1"])
    }

    /// Starts an `iperf3` client in `from` with `options` against a one-off server in `to`.
    /// One measurement runs at a time on the machine (every lab of every process takes the
    /// same lock): Open vSwitch's userspace datapath forwards on the same two cores, and two
    /// measurements at once would each see what the other leaves.
    fn start_iperf(&self, from: &Host, to: &Host, options: &[&str]) -> Result<Traffic, LabError> {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(std::env::temp_dir().join("lso-lab-traffic.lock"))
            .map_err(|e| LabError(format!("the traffic lock: {e}")))?;
        lock.lock().map_err(|e| LabError(format!("the traffic lock: {e}")))?;
        let mut server = Command::new("ip")
            .args(["netns", "exec", &to.namespace, "iperf3", "--server", "--one-off", "--forceflush", "--bind", &to.ip])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| LabError(format!("iperf3: {e}")))?;
        // The server says when it listens; wait for that, ten seconds at most.
        let (said, listening) = std::sync::mpsc::channel();
        if let Some(out) = server.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if line.contains("listening") {
                        let _ = said.send(());
                    }
                }
            });
        }
        if listening.recv_timeout(std::time::Duration::from_secs(10)).is_err() {
            let _ = server.kill();
            let _ = server.wait();
            return Err(LabError("the iperf3 server did not start".into()));
        }
        let mut args = vec!["netns", "exec", &from.namespace, "iperf3", "--client", &to.ip, "--json"];
        args.extend_from_slice(options);
        let client = Command::new("ip").args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
        match client {
            Ok(client) => Ok(Traffic { server, client, _lock: lock }),
            Err(e) => {
                let _ = server.kill();
                let _ = server.wait();
                Err(LabError(format!("iperf3: {e}")))
            }
        }
    }
}

/// An `iperf3` measurement under way, with the machine's traffic lock held until it ends.
pub struct Traffic {
    server: std::process::Child,
    client: std::process::Child,
    _lock: std::fs::File,
}

impl Traffic {
    /// Waits for the client to end; its JSON report. The server is stopped.
    fn report(self) -> Result<serde_json::Value, LabError> {
        let Traffic { mut server, client, _lock } = self;
        let output = client.wait_with_output().map_err(|e| LabError(format!("iperf3: {e}")));
        let _ = server.kill();
        let _ = server.wait();
        serde_json::from_slice(&output?.stdout).map_err(|e| LabError(format!("iperf3 report: {e}")))
    }

    /// Waits for the traffic to end; the rate each second, in Mbit/s, as the sender saw it.
    pub fn per_second(self) -> Result<Vec<f64>, LabError> {
        let report = self.report()?;
        let intervals = report["intervals"]
            .as_array()
            .ok_or_else(|| LabError(format!("iperf3 reported no intervals: {}", report["error"])))?;
        Ok(intervals.iter().filter_map(|i| i["sum"]["bits_per_second"].as_f64()).map(|bits| bits / 1e6).collect())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for pidfile in self.pidfiles.iter().rev() {
            if let Ok(pid) = std::fs::read_to_string(pidfile) {
                let _ = Command::new("kill").arg(pid.trim()).output();
            }
        }
        for namespace in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", namespace]).output();
        }
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
