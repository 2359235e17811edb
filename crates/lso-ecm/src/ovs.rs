//! `OvsDriver`: an Open vSwitch element (userspace datapath). OVSDB (RFC 7047) puts the ports
//! on the bridge and sets the bridge up for OpenFlow only (`fail_mode=secure`: what no flow
//! allows is dropped); OpenFlow 1.3 over the bridge's management socket installs each service's
//! flows and meters. Every change is read back: a port with an `error` or no OpenFlow number,
//! or flows and meters that differ from the ones asked, are reported, not taken as done.

use crate::Flow;
use crate::openflow::{Meter, OpenFlowClient};
use crate::ovsdb::OvsdbClient;
use crate::{CrossConnect, DriverError, ElementDriver, PortCounters, PortState, burst_for, check_switched, flows};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, HashSet};
use tokio::sync::Mutex;

const DATABASE: &str = "Open_vSwitch";

/// How long to wait for `ovs-vswitchd` to apply a change, in milliseconds.
const APPLY_TIMEOUT_MILLIS: u64 = 10_000;

/// How long one operation on an element may take before the element counts as unreachable.
const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// One Open vSwitch element, reached at its `ovsdb-server` and its bridge's OpenFlow socket.
pub struct OvsDriver {
    ovsdb_address: String,
    openflow_socket: String,
    bridge: String,
    session: Mutex<Option<Session>>,
}

struct Session {
    ovsdb: OvsdbClient,
    openflow: OpenFlowClient,
    /// When it was last used: `ovsdb-server` may have dropped it after a few idle seconds.
    used: std::time::Instant,
}

/// How long a session may sit idle before it is checked: `ovsdb-server` probes an idle client
/// after 5 s and drops it when the probe goes unanswered.
const IDLE: std::time::Duration = std::time::Duration::from_secs(4);

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

fn rows(result: &Value) -> Vec<Value> {
    result["rows"].as_array().cloned().unwrap_or_default()
}

/// What a service should have on the element, and what it has.
struct Plan {
    flows: Vec<Flow>,
    meters: Vec<Meter>,
    existing_flows: Vec<Flow>,
    bridge_meters: Vec<Meter>,
}

fn same_flows(a: &[Flow], b: &[Flow]) -> bool {
    a.len() == b.len() && a.iter().collect::<HashSet<_>>() == b.iter().collect::<HashSet<_>>()
}

impl OvsDriver {
    /// The element whose `ovsdb-server` listens at `ovsdb_address` (`host:port`) and whose
    /// bridge `bridge` (created with the userspace datapath when missing) has its OpenFlow
    /// management socket at `openflow_socket`. It connects when first used, and again after
    /// a connection failed.
    pub fn new(ovsdb_address: &str, openflow_socket: &str, bridge: &str) -> Self {
        OvsDriver {
            ovsdb_address: ovsdb_address.to_owned(),
            openflow_socket: openflow_socket.to_owned(),
            bridge: bridge.to_owned(),
            session: Mutex::new(None),
        }
    }

    /// Runs `work` on a connected session; a failed connection is dropped, to be made again.
    async fn with_session<R>(
        &self,
        work: impl AsyncFnOnce(&Self, &Session) -> Result<R, DriverError>,
    ) -> Result<R, DriverError> {
        let mut slot = self.session.lock().await;
        let attempt = async {
            // `ovsdb-server` drops a client that leaves its keep-alives unanswered while idle:
            // a connection idle for a while is checked first, and made again if it is gone.
            if let Some(session) = slot.as_ref()
                && session.used.elapsed() > IDLE
                && session.ovsdb.echo().await.is_err()
            {
                *slot = None;
            }
            if slot.is_none() {
                let ovsdb = OvsdbClient::connect(&self.ovsdb_address).await?;
                self.ensure_bridge(&ovsdb).await?;
                let openflow = OpenFlowClient::connect(&self.openflow_socket).await?;
                *slot = Some(Session { ovsdb, openflow, used: std::time::Instant::now() });
            }
            let session = slot.as_mut().ok_or_else(|| DriverError::Unreachable("no session".into()))?;
            session.used = std::time::Instant::now();
            work(self, session).await
        };
        // A hung element must not hold the service that waits for it forever.
        let result = tokio::time::timeout(OPERATION_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(DriverError::Unreachable(format!("no answer within {OPERATION_TIMEOUT:?}"))));
        if matches!(result, Err(DriverError::Unreachable(_))) {
            *slot = None;
        }
        result
    }

    /// Runs `operations`, then waits until `ovs-vswitchd` has applied them.
    async fn transact_applied(&self, ovsdb: &OvsdbClient, mut operations: Vec<Value>) -> Result<(), DriverError> {
        operations
            .push(json!({"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["next_cfg", "+=", 1]]}));
        operations.push(json!({"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["next_cfg"]}));
        let results = ovsdb.transact(DATABASE, operations).await?;
        let next =
            results.last().map(rows).and_then(|r| r.first().map(|row| row["next_cfg"].clone())).unwrap_or(Value::Null);
        let wait = json!({
            "op": "wait", "table": "Open_vSwitch", "where": [], "columns": ["cur_cfg"],
            "until": "==", "rows": [{"cur_cfg": next}], "timeout": APPLY_TIMEOUT_MILLIS
        });
        ovsdb.transact(DATABASE, vec![wait]).await?;
        Ok(())
    }

    /// Creates the bridge if it does not exist, and makes it forward by OpenFlow 1.3 alone,
    /// with two VLAN tags parsed (an S-tag over a C-tag).
    async fn ensure_bridge(&self, ovsdb: &OvsdbClient) -> Result<(), DriverError> {
        let settings = json!({"fail_mode": "secure", "protocols": ["set", ["OpenFlow13"]]});
        let limit = json!({"op": "mutate", "table": "Open_vSwitch", "where": [],
                           "mutations": [["other_config", "insert", ["map", [["vlan-limit", "2"]]]]]});
        let select =
            json!({"op": "select", "table": "Bridge", "where": [["name", "==", self.bridge]], "columns": ["_uuid"]});
        let found = ovsdb.transact(DATABASE, vec![select]).await?;
        if !rows(&found[0]).is_empty() {
            let update =
                json!({"op": "update", "table": "Bridge", "where": [["name", "==", self.bridge]], "row": settings});
            return self.transact_applied(ovsdb, vec![update, limit]).await;
        }
        let mut bridge = settings;
        bridge["name"] = json!(self.bridge);
        bridge["datapath_type"] = json!("netdev");
        bridge["ports"] = json!(["named-uuid", "bp"]);
        self.transact_applied(ovsdb, vec![
            json!({"op": "insert", "table": "Interface", "row": {"name": self.bridge, "type": "internal"}, "uuid-name": "bi"}),
            json!({"op": "insert", "table": "Port", "row": {"name": self.bridge, "interfaces": ["named-uuid", "bi"]}, "uuid-name": "bp"}),
            json!({"op": "insert", "table": "Bridge", "uuid-name": "br", "row": bridge}),
            json!({"op": "mutate", "table": "Open_vSwitch", "where": [],
                   "mutations": [["bridges", "insert", ["set", [["named-uuid", "br"]]]]]}),
            limit,
        ])
        .await
    }

    /// The Port names on the bridge (its own internal port left out) and each Interface row,
    /// by name.
    async fn read_ports(&self, ovsdb: &OvsdbClient) -> Result<(Vec<String>, HashMap<String, Value>), DriverError> {
        let results = ovsdb
            .transact(
                DATABASE,
                vec![
                    json!({"op": "select", "table": "Bridge", "where": [["name", "==", self.bridge]], "columns": ["ports"]}),
                    json!({"op": "select", "table": "Port", "where": [], "columns": ["_uuid", "name"]}),
                    json!({"op": "select", "table": "Interface", "where": [], "columns": ["name", "ofport", "link_state", "error"]}),
                ],
            )
            .await?;
        let on_bridge: Vec<Value> = rows(&results[0]).first().map(|b| set_members(&b["ports"])).unwrap_or_default();
        let ports = rows(&results[1])
            .into_iter()
            .filter(|p| on_bridge.contains(&p["_uuid"]) && p["name"] != json!(self.bridge))
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        let interfaces =
            rows(&results[2]).into_iter().map(|i| (i["name"].as_str().unwrap_or_default().to_owned(), i)).collect();
        Ok((ports, interfaces))
    }

    /// Puts `names` on the bridge if they are not, and returns each one's OpenFlow number.
    async fn ensure_ports(
        &self,
        ovsdb: &OvsdbClient,
        names: &BTreeSet<&str>,
    ) -> Result<HashMap<String, u32>, DriverError> {
        let (present, _) = self.read_ports(ovsdb).await?;
        let mut operations = Vec::new();
        for (index, name) in names.iter().filter(|n| !present.iter().any(|p| p == *n)).enumerate() {
            let (interface, port) = (format!("i{index}"), format!("p{index}"));
            operations
                .push(json!({"op": "insert", "table": "Interface", "row": {"name": name}, "uuid-name": interface}));
            operations.push(json!({"op": "insert", "table": "Port", "uuid-name": port,
                                   "row": {"name": name, "interfaces": ["named-uuid", interface]}}));
            operations.push(json!({"op": "mutate", "table": "Bridge", "where": [["name", "==", self.bridge]],
                                   "mutations": [["ports", "insert", ["set", [["named-uuid", port]]]]]}));
        }
        if !operations.is_empty() {
            self.transact_applied(ovsdb, operations).await?;
        }
        let (_, interfaces) = self.read_ports(ovsdb).await?;
        let mut numbers = HashMap::new();
        for name in names {
            let state = interfaces.get(*name).map(|i| port_state(name, i));
            let number = interfaces.get(*name).and_then(|i| set_members(&i["ofport"]).first().and_then(Value::as_i64));
            match (state, number) {
                (Some(PortState { error: None, .. }), Some(n)) if n > 0 => {
                    numbers.insert(name.to_string(), n as u32);
                }
                (state, _) => {
                    let reason =
                        state.and_then(|s| s.error).unwrap_or_else(|| "the port has no OpenFlow port number".into());
                    return Err(DriverError::NotApplied { port: name.to_string(), reason });
                }
            }
        }
        Ok(numbers)
    }

    /// The flows and meters `connect` needs, reusing the meters its flows use already and
    /// taking the lowest free meter ids for the rest when `allocate` (else `None` if a metered
    /// endpoint has no meter yet).
    async fn plan(
        &self,
        session: &Session,
        connect: &CrossConnect,
        numbers: &HashMap<String, u32>,
    ) -> Result<Plan, DriverError> {
        let existing_flows = session.openflow.flows(Some(flows::cookie(&connect.service))).await?;
        let bridge_meters = session.openflow.meters().await?;
        let mut used: BTreeSet<u32> = bridge_meters.iter().map(|m| m.id).collect();
        let mut meters = Vec::new();
        let mut meter_of = HashMap::new();
        for (index, endpoint) in connect.endpoints.iter().enumerate() {
            let Some(rate) = endpoint.ingress_cir_kbps else { continue };
            let port = numbers[&endpoint.port];
            let reused = existing_flows.iter().find(|f| f.in_port == Some(port)).and_then(|f| f.meter);
            let id = reused.unwrap_or_else(|| (1..).find(|id| !used.contains(id)).unwrap_or(u32::MAX));
            used.insert(id);
            meter_of.insert(index, id);
            meters.push(Meter { id, rate_kbps: rate, burst_kbits: burst_for(rate) });
        }
        let flows = flows::compile(connect, |p| numbers[p], |i| meter_of.get(&i).copied());
        Ok(Plan { flows, meters, existing_flows, bridge_meters })
    }

    /// Whether the bridge runs `plan` exactly.
    async fn runs(session: &Session, plan: &Plan, cookie: u64) -> Result<bool, DriverError> {
        let flows = session.openflow.flows(Some(cookie)).await?;
        let meters = session.openflow.meters().await?;
        Ok(same_flows(&flows, &plan.flows) && plan.meters.iter().all(|m| meters.contains(m)))
    }
}

fn port_state(name: &str, interface: &Value) -> PortState {
    let error = set_members(&interface["error"]).first().and_then(Value::as_str).map(str::to_owned);
    let ofport = set_members(&interface["ofport"]).first().and_then(Value::as_i64).unwrap_or(-1);
    let error = error.or_else(|| (ofport < 0).then(|| "the port has no OpenFlow port number".to_owned()));
    let link_up = set_members(&interface["link_state"]).first() == Some(&json!("up"));
    PortState { port: name.to_owned(), link_up, error, counters: PortCounters::default() }
}

impl ElementDriver for OvsDriver {
    async fn apply(&self, connect: &CrossConnect) -> Result<(), DriverError> {
        check_switched(connect)?;
        self.with_session(async |driver: &Self, session: &Session| {
            let names = connect.endpoints.iter().map(|e| e.port.as_str()).collect();
            let numbers = driver.ensure_ports(&session.ovsdb, &names).await?;
            let plan = driver.plan(session, connect, &numbers).await?;
            for meter in &plan.meters {
                let exists = plan.bridge_meters.iter().any(|m| m.id == meter.id);
                if !plan.bridge_meters.contains(meter) {
                    session.openflow.put_meter(meter, exists).await?;
                }
            }
            let cookie = flows::cookie(&connect.service);
            if !same_flows(&plan.existing_flows, &plan.flows) {
                session.openflow.delete_flows(cookie).await?;
                session.openflow.add_flows(&plan.flows).await?;
            }
            let kept: Vec<u32> = plan.meters.iter().map(|m| m.id).collect();
            let stale: BTreeSet<u32> =
                plan.existing_flows.iter().filter_map(|f| f.meter).filter(|m| !kept.contains(m)).collect();
            for meter in stale {
                session.openflow.delete_meter(meter).await?;
            }
            if !Self::runs(session, &plan, cookie).await? {
                return Err(DriverError::NotApplied {
                    port: "*".into(),
                    reason: format!("the flows of {} read back differently", connect.service),
                });
            }
            Ok(())
        })
        .await
    }

    async fn remove(&self, service: &str) -> Result<(), DriverError> {
        self.with_session(async |_: &Self, session: &Session| {
            let cookie = flows::cookie(service);
            let existing = session.openflow.flows(Some(cookie)).await?;
            session.openflow.delete_flows(cookie).await?;
            let meters: BTreeSet<u32> = existing.iter().filter_map(|f| f.meter).collect();
            for meter in meters {
                session.openflow.delete_meter(meter).await?;
            }
            Ok(())
        })
        .await
    }

    async fn check(&self, connect: &CrossConnect) -> Result<bool, DriverError> {
        check_switched(connect)?;
        self.with_session(async |driver: &Self, session: &Session| {
            let (_, interfaces) = driver.read_ports(&session.ovsdb).await?;
            let mut numbers = HashMap::new();
            for endpoint in &connect.endpoints {
                let number = interfaces
                    .get(&endpoint.port)
                    .and_then(|i| set_members(&i["ofport"]).first().and_then(Value::as_i64));
                match number {
                    Some(n) if n > 0 => numbers.insert(endpoint.port.clone(), n as u32),
                    _ => return Ok(false),
                };
            }
            let plan = driver.plan(session, connect, &numbers).await?;
            Self::runs(session, &plan, flows::cookie(&connect.service)).await
        })
        .await
    }

    async fn flows(&self, service: &str) -> Result<Vec<Flow>, DriverError> {
        self.with_session(async |_: &Self, session: &Session| {
            Ok(session.openflow.flows(Some(flows::cookie(service))).await?)
        })
        .await
    }

    async fn ports(&self) -> Result<Vec<PortState>, DriverError> {
        self.with_session(async |driver: &Self, session: &Session| {
            let (ports, interfaces) = driver.read_ports(&session.ovsdb).await?;
            // OpenFlow's counters are the switch's own, current; OVSDB's lag by seconds.
            let counters: HashMap<u32, PortCounters> = session.openflow.port_stats().await?.into_iter().collect();
            let mut states: Vec<PortState> = ports
                .iter()
                .map(|p| {
                    let interface = interfaces.get(p).unwrap_or(&Value::Null);
                    let mut state = port_state(p, interface);
                    let number = set_members(&interface["ofport"]).first().and_then(Value::as_i64).unwrap_or(-1);
                    state.counters =
                        u32::try_from(number).ok().and_then(|n| counters.get(&n).copied()).unwrap_or_default();
                    state
                })
                .collect();
            states.sort_by(|a, b| a.port.cmp(&b.port));
            Ok(states)
        })
        .await
    }
}
