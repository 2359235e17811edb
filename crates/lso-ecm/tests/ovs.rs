//! The Open vSwitch driver against real Open vSwitch elements (userspace datapath), each with
//! its own `ovsdb-server` and an `ovs-vswitchd` in its own network namespace, joined by a veth
//! trunk, with customer hosts in namespaces of their own. Traffic is checked with ping. Needs
//! root and Debian's `openvswitch-switch`, `iproute2`, `iputils-ping`, `ethtool` (installed
//! by `scripts/test`). Everything the test creates is removed when it ends, failed or not.

use lso_ecm::{DriverError, ElementDriver, OvsDriver, PortConfig, PortMode};
use std::path::PathBuf;
use std::process::{Command, Output};

fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// Namespaces, veths and OVS processes of one test run, torn down on drop.
struct Lab {
    prefix: String,
    dir: tempfile::TempDir,
    namespaces: Vec<String>,
    pidfiles: Vec<PathBuf>,
}

struct Element {
    namespace: String,
    address: String,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let uid = run("id", &["-u"]);
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "the Open vSwitch tests need root (see scripts/test)"
        );
        Lab {
            prefix: format!("{tag}{}", std::process::id() % 100_000),
            dir: tempfile::tempdir().unwrap(),
            namespaces: Vec::new(),
            pidfiles: Vec::new(),
        }
    }

    fn namespace(&mut self, name: &str) -> String {
        let namespace = format!("{}{name}", self.prefix);
        run("ip", &["netns", "add", &namespace]);
        self.namespaces.push(namespace.clone());
        namespace
    }

    /// An element: `ovsdb-server` on a loopback TCP port, `ovs-vswitchd` in its namespace.
    fn element(&mut self, name: &str) -> Element {
        let namespace = self.namespace(name);
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let path = |file: &str| dir.join(file).display().to_string();
        run("ovsdb-tool", &["create", &path("db"), "/usr/share/openvswitch/vswitch.ovsschema"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
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
        );
        run("ovs-vsctl", &[&format!("--db=unix:{}", path("db.sock")), "--no-wait", "init"]);
        self.pidfiles.push(dir.join("vswitchd.pid"));
        run(
            "ip",
            &[
                "netns",
                "exec",
                &namespace,
                "ovs-vswitchd",
                &format!("unix:{}", path("db.sock")),
                &format!("--pidfile={}", path("vswitchd.pid")),
                &format!("--unixctl={}", path("vswitchd.ctl")),
                &format!("--log-file={}", path("vswitchd.log")),
                "--detach",
            ],
        );
        Element { namespace, address: format!("127.0.0.1:{port}") }
    }

    /// A veth from `a` (named `a_port`) to `z` (named `z_port`).
    fn wire(&self, a: &str, a_port: &str, z: &str, z_port: &str) {
        let (left, right) = (format!("{}x{a_port}", self.prefix), format!("{}y{z_port}", self.prefix));
        run("ip", &["link", "add", &left, "type", "veth", "peer", "name", &right]);
        run("ip", &["link", "set", &left, "netns", a, "name", a_port]);
        run("ip", &["link", "set", &right, "netns", z, "name", z_port]);
        run("ip", &["-n", a, "link", "set", a_port, "up"]);
        run("ip", &["-n", z, "link", "set", z_port, "up"]);
    }

    /// A host with `ip`/24 plugged into `element` at `port`.
    fn host(&mut self, name: &str, element: &Element, port: &str, ip: &str) -> String {
        let namespace = self.namespace(name);
        self.wire(&namespace, "eth0", &element.namespace, port);
        run("ip", &["-n", &namespace, "addr", "add", &format!("{ip}/24"), "dev", "eth0"]);
        run("ip", &["-n", &namespace, "link", "set", "lo", "up"]);
        // The userspace datapath forwards partial checksums as they are.
        run("ip", &["netns", "exec", &namespace, "ethtool", "-K", "eth0", "tx", "off"]);
        namespace
    }

    /// Whether `from` reaches `ip` (three probes, a second each at most).
    fn reaches(&self, from: &str, ip: &str) -> bool {
        let _ = Command::new("ip").args(["-n", from, "neigh", "flush", "all"]).output();
        Command::new("ip")
            .args(["netns", "exec", from, "ping", "-c", "3", "-i", "0.2", "-W", "1", ip])
            .output()
            .is_ok_and(|o| o.status.success())
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
    }
}

fn access(port: &str, vlan: u16) -> PortConfig {
    PortConfig { port: port.into(), mode: PortMode::Access { vlan } }
}

fn trunk(port: &str, vlans: &[u16]) -> PortConfig {
    PortConfig { port: port.into(), mode: PortMode::Trunk { vlans: vlans.to_vec() } }
}

#[tokio::test]
async fn an_evc_across_two_open_vswitch_elements_carries_traffic_only_on_its_vlan() {
    let mut lab = Lab::new("lt");
    let (e1, e2) = (lab.element("e1"), lab.element("e2"));
    lab.wire(&e1.namespace, "trunk", &e2.namespace, "trunk");
    let h1 = lab.host("h1", &e1, "uni1", "10.77.0.1");
    lab.host("h2", &e2, "uni2", "10.77.0.2");
    lab.host("h3", &e2, "uni3", "10.77.0.3");
    let (sw1, sw2) =
        (OvsDriver::connect(&e1.address, "br0").await.unwrap(), OvsDriver::connect(&e2.address, "br0").await.unwrap());
    assert!(!lab.reaches(&h1, "10.77.0.2"), "nothing passes before provisioning");

    sw1.configure(&[access("uni1", 100), trunk("trunk", &[100])]).await.unwrap();
    sw2.configure(&[trunk("trunk", &[100]), access("uni2", 100), access("uni3", 200)]).await.unwrap();
    assert!(lab.reaches(&h1, "10.77.0.2"), "the EVC on VLAN 100 carries traffic");
    assert!(!lab.reaches(&h1, "10.77.0.3"), "a host on VLAN 200 is not reached");
    let ports = sw2.ports().await.unwrap();
    assert_eq!(
        ports.iter().map(|p| (p.port.as_str(), p.mode.clone().unwrap())).collect::<Vec<_>>(),
        [
            ("trunk", PortMode::Trunk { vlans: vec![100] }),
            ("uni2", PortMode::Access { vlan: 100 }),
            ("uni3", PortMode::Access { vlan: 200 }),
        ]
    );
    assert!(ports.iter().all(|p| p.link_up && p.error.is_none()), "{ports:?}");

    sw2.configure(&[access("uni3", 100)]).await.unwrap();
    assert!(lab.reaches(&h1, "10.77.0.3"), "moved to VLAN 100, h3 is reached");
    sw1.configure(&[access("uni1", 100), trunk("trunk", &[100])]).await.unwrap();
    assert_eq!(sw1.ports().await.unwrap().len(), 2, "configuring again changes nothing");

    sw1.remove(&["uni1".into()]).await.unwrap();
    assert!(!lab.reaches(&h1, "10.77.0.2"), "removed, the service is gone");
    assert_eq!(sw1.ports().await.unwrap().iter().map(|p| p.port.as_str()).collect::<Vec<_>>(), ["trunk"]);

    let missing = sw1.configure(&[access("no-such-port", 100)]).await;
    assert!(matches!(missing, Err(DriverError::NotApplied { ref port, .. }) if port == "no-such-port"), "{missing:?}");
}
