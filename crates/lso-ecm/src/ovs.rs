//! `OvsDriver`: an Open vSwitch element (userspace datapath) configured over OVSDB. Ports are
//! access ports (`tag`) or trunks (`trunks`) on one bridge. Each change increments `next_cfg`
//! and waits until `ovs-vswitchd` reports it applied (`cur_cfg`), then the ports are read back:
//! a port whose VLANs differ, whose interface has an `error` or no OpenFlow port number is
//! reported, not taken as done.

use crate::ovsdb::OvsdbClient;
use crate::{DriverError, ElementDriver, PortConfig, PortMode, PortState, check_vlans};
use serde_json::{Value, json};
use std::collections::HashMap;

const DATABASE: &str = "Open_vSwitch";

/// How long to wait for `ovs-vswitchd` to apply a change, in milliseconds.
const APPLY_TIMEOUT_MILLIS: u64 = 10_000;

/// One Open vSwitch element, reached at its `ovsdb-server`.
pub struct OvsDriver {
    client: OvsdbClient,
    bridge: String,
}

/// An OVSDB set as a list: a set of one element is written as the bare atom (RFC 7047 §5.1).
fn set_members(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(pair) if pair.first() == Some(&json!("set")) => {
            pair.get(1).and_then(Value::as_array).cloned().unwrap_or_default()
        }
        Value::Null => Vec::new(),
        atom => vec![atom.clone()],
    }
}

fn vlan_set(vlans: &[u16]) -> Value {
    json!(["set", vlans])
}

/// The columns of a Port for `mode`.
fn port_columns(mode: &PortMode) -> Value {
    match mode {
        PortMode::Access { vlan } => json!({"tag": vlan, "trunks": vlan_set(&[])}),
        PortMode::Trunk { vlans } => json!({"tag": ["set", []], "trunks": vlan_set(vlans)}),
    }
}

/// The mode a Port row says.
fn mode_of(port: &Value) -> Option<PortMode> {
    let tag: Vec<u16> = set_members(&port["tag"]).iter().filter_map(|v| v.as_u64()).map(|v| v as u16).collect();
    let mut trunks: Vec<u16> =
        set_members(&port["trunks"]).iter().filter_map(|v| v.as_u64()).map(|v| v as u16).collect();
    trunks.sort_unstable();
    match (tag.first(), trunks.is_empty()) {
        (Some(vlan), true) => Some(PortMode::Access { vlan: *vlan }),
        (None, false) => Some(PortMode::Trunk { vlans: trunks }),
        _ => None,
    }
}

fn normalised(mode: &PortMode) -> PortMode {
    match mode {
        PortMode::Trunk { vlans } => {
            let mut vlans = vlans.clone();
            vlans.sort_unstable();
            vlans.dedup();
            PortMode::Trunk { vlans }
        }
        access => access.clone(),
    }
}

fn rows(result: &Value) -> Vec<Value> {
    result["rows"].as_array().cloned().unwrap_or_default()
}

impl OvsDriver {
    /// Connects to the element's `ovsdb-server` at `address` (`host:port`); its ports go on
    /// `bridge`, created (userspace datapath) when first needed.
    pub async fn connect(address: &str, bridge: &str) -> Result<Self, DriverError> {
        let client = OvsdbClient::connect(address).await?;
        Ok(OvsDriver { client, bridge: bridge.to_owned() })
    }

    /// Runs `operations`, then waits until `ovs-vswitchd` has applied them.
    async fn apply(&self, mut operations: Vec<Value>) -> Result<(), DriverError> {
        operations
            .push(json!({"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["next_cfg", "+=", 1]]}));
        operations.push(json!({"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["next_cfg"]}));
        let results = self.client.transact(DATABASE, operations).await?;
        let next =
            results.last().map(rows).and_then(|r| r.first().map(|row| row["next_cfg"].clone())).unwrap_or(Value::Null);
        let wait = json!({
            "op": "wait", "table": "Open_vSwitch", "where": [], "columns": ["cur_cfg"],
            "until": "==", "rows": [{"cur_cfg": next}], "timeout": APPLY_TIMEOUT_MILLIS
        });
        self.client.transact(DATABASE, vec![wait]).await?;
        Ok(())
    }

    /// Creates the bridge if it does not exist.
    async fn ensure_bridge(&self) -> Result<(), DriverError> {
        let select =
            json!({"op": "select", "table": "Bridge", "where": [["name", "==", self.bridge]], "columns": ["_uuid"]});
        let found = self.client.transact(DATABASE, vec![select]).await?;
        if !rows(&found[0]).is_empty() {
            return Ok(());
        }
        self.apply(vec![
            json!({"op": "insert", "table": "Interface", "row": {"name": self.bridge, "type": "internal"}, "uuid-name": "bi"}),
            json!({"op": "insert", "table": "Port", "row": {"name": self.bridge, "interfaces": ["named-uuid", "bi"]}, "uuid-name": "bp"}),
            json!({"op": "insert", "table": "Bridge", "uuid-name": "br",
                   "row": {"name": self.bridge, "datapath_type": "netdev", "ports": ["named-uuid", "bp"]}}),
            json!({"op": "mutate", "table": "Open_vSwitch", "where": [],
                   "mutations": [["bridges", "insert", ["set", [["named-uuid", "br"]]]]]}),
        ])
        .await
    }

    /// The Port rows of the bridge (the bridge's own internal port left out) and each
    /// Interface row, by name.
    async fn read(&self) -> Result<(Vec<Value>, HashMap<String, Value>), DriverError> {
        let results = self
            .client
            .transact(
                DATABASE,
                vec![
                    json!({"op": "select", "table": "Bridge", "where": [["name", "==", self.bridge]], "columns": ["ports"]}),
                    json!({"op": "select", "table": "Port", "where": [], "columns": ["_uuid", "name", "tag", "trunks"]}),
                    json!({"op": "select", "table": "Interface", "where": [], "columns": ["name", "ofport", "link_state", "error"]}),
                ],
            )
            .await?;
        let on_bridge: Vec<Value> = rows(&results[0]).first().map(|b| set_members(&b["ports"])).unwrap_or_default();
        let ports = rows(&results[1])
            .into_iter()
            .filter(|p| on_bridge.contains(&p["_uuid"]) && p["name"] != json!(self.bridge))
            .collect();
        let interfaces =
            rows(&results[2]).into_iter().map(|i| (i["name"].as_str().unwrap_or_default().to_owned(), i)).collect();
        Ok((ports, interfaces))
    }
}

fn state_of(port: &Value, interfaces: &HashMap<String, Value>) -> PortState {
    let name = port["name"].as_str().unwrap_or_default().to_owned();
    let interface = interfaces.get(&name).cloned().unwrap_or(Value::Null);
    let error = set_members(&interface["error"]).first().and_then(Value::as_str).map(str::to_owned);
    let ofport = set_members(&interface["ofport"]).first().and_then(Value::as_i64).unwrap_or(-1);
    let error = error.or_else(|| (ofport < 0).then(|| "the port has no OpenFlow port number".to_owned()));
    let link_up = set_members(&interface["link_state"]).first() == Some(&json!("up"));
    PortState { mode: mode_of(port), port: name, link_up, error }
}

impl ElementDriver for OvsDriver {
    async fn configure(&self, ports: &[PortConfig]) -> Result<(), DriverError> {
        ports.iter().try_for_each(|p| check_vlans(&p.mode))?;
        self.ensure_bridge().await?;
        let (existing, _) = self.read().await?;
        let mut operations = Vec::new();
        for (index, wanted) in ports.iter().enumerate() {
            let columns = port_columns(&normalised(&wanted.mode));
            if existing.iter().any(|p| p["name"] == json!(wanted.port)) {
                operations.push(
                    json!({"op": "update", "table": "Port", "where": [["name", "==", wanted.port]], "row": columns}),
                );
                continue;
            }
            let (interface, port) = (format!("i{index}"), format!("p{index}"));
            let mut row = columns;
            row["name"] = json!(wanted.port);
            row["interfaces"] = json!(["named-uuid", interface]);
            operations.push(
                json!({"op": "insert", "table": "Interface", "row": {"name": wanted.port}, "uuid-name": interface}),
            );
            operations.push(json!({"op": "insert", "table": "Port", "row": row, "uuid-name": port}));
            operations.push(json!({"op": "mutate", "table": "Bridge", "where": [["name", "==", self.bridge]],
                                   "mutations": [["ports", "insert", ["set", [["named-uuid", port]]]]]}));
        }
        self.apply(operations).await?;
        let states = self.ports().await?;
        for wanted in ports {
            let state = states.iter().find(|s| s.port == wanted.port);
            let reason = match state {
                None => Some("the port is missing after the change".to_owned()),
                Some(s) if s.mode != Some(normalised(&wanted.mode)) => Some(format!("it reads back as {:?}", s.mode)),
                Some(s) => s.error.clone(),
            };
            if let Some(reason) = reason {
                return Err(DriverError::NotApplied { port: wanted.port.clone(), reason });
            }
        }
        Ok(())
    }

    async fn remove(&self, ports: &[String]) -> Result<(), DriverError> {
        let (existing, _) = self.read().await?;
        let uuids: Vec<Value> = existing
            .iter()
            .filter(|p| ports.iter().any(|name| p["name"] == json!(name)))
            .map(|p| p["_uuid"].clone())
            .collect();
        if uuids.is_empty() {
            return Ok(());
        }
        // Ports and interfaces no bridge refers to are removed by OVSDB's garbage collection.
        self.apply(vec![json!({"op": "mutate", "table": "Bridge", "where": [["name", "==", self.bridge]],
                               "mutations": [["ports", "delete", ["set", uuids]]]})])
            .await
    }

    async fn ports(&self) -> Result<Vec<PortState>, DriverError> {
        let (ports, interfaces) = self.read().await?;
        let mut states: Vec<PortState> = ports.iter().map(|p| state_of(p, &interfaces)).collect();
        states.sort_by(|a, b| a.port.cmp(&b.port));
        Ok(states)
    }
}
