//! Presto on the wire (SOF → ICM): the MEF NRP API (`presto-nrp.yaml`, ONF TAPI 2.0 with the
//! MEF NRP augmentations) over ICM. The network ICM knows is one TAPI topology: each element a
//! node whose owned node edge points are its ports, each link a link, each UNI and ENNI a
//! service interface point. Connectivity services are created (path, S-VLANs and bandwidth
//! reserved, every element configured and read back), read and deleted.
//!
//! Identifiers are the names of the topology file: element names for nodes, `element:port`
//! for node edge points, interface names for service interface points. A connectivity service
//! created here gets a UUID, unless the request names one in `input.uuid` (an lso extension the
//! SOF uses, so a connectivity service has its service's id), and
//! `get-service-interface-point-counters` (an lso extension: what an interface's element counted,
//! for the SOF's performance monitoring) answers `output.counters`. [`PrestoClient`] is the SOF's
//! side over HTTP, for an ICM in another process.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lso_http::{ApiError, Authenticator, Caller, Internal, MefBody};
use lso_icm::{ConnectivityService, Icm, IcmError, InterfaceKind, Network};
use lso_presto::{ConnectivityRequest, Presto, ServiceEndpoint};
use serde_json::{Value, json};
use std::sync::Arc;

mod client;

pub use client::PrestoClient;

/// The RESTCONF root of Presto.
pub const BASE: &str = "/restconf";
/// The uuid of the one topology.
pub const TOPOLOGY: &str = "lso-network";

/// What the Presto routes need.
#[derive(Clone)]
pub struct PrestoState {
    icm: Arc<Icm>,
    alarms: Arc<lso_ecm::Alarms>,
    auth: Arc<Authenticator>,
    /// Computed paths (they reserve nothing, so they are kept in memory): each path
    /// computation service, by uuid, with its paths.
    paths: Arc<std::sync::Mutex<ComputedPaths>>,
}

/// Path computation services by uuid, each with its paths.
type ComputedPaths = std::collections::BTreeMap<String, (Value, Vec<Value>)>;

impl PrestoState {
    /// Presto over `icm`, showing the `alarms` of its elements, checking tokens with `auth`.
    pub fn new(icm: Arc<Icm>, alarms: Arc<lso_ecm::Alarms>, auth: Arc<Authenticator>) -> Self {
        PrestoState { icm, alarms, auth, paths: Arc::default() }
    }

    fn paths(&self) -> std::sync::MutexGuard<'_, ComputedPaths> {
        self.paths.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Only the Seller's own orchestration (operator tokens) calls it.
impl Internal for PrestoState {
    const REFUSAL: &str = "Presto is the Seller's internal interface";

    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }
}

/// A 422 for the request body at `path`.
fn violation(path: &str, reason: impl Into<String>) -> ApiError {
    ApiError::unprocessable(lso_model::Violation::new(lso_model::ViolationCode::InvalidValue, path, reason))
}

fn names(kind: &str, value: &str) -> Value {
    json!([{"value-name": kind, "value": value}])
}

fn capacity(mbps: u64) -> Value {
    json!({"total-size": {"value": mbps.min(i32::MAX as u64), "unit": "MBPS"}})
}

/// lso's own resource of a service interface point that is an IP UNI (NRP knows Ethernet only).
pub const IP_UNI_RESOURCE: &str = "lso-ip-uni-n-resource";
/// lso's own resource of a connectivity end point at an IP UNI: the access link's addressing
/// and routing, as Adagio's `routed`.
pub const IP_ACCESS_RESOURCE: &str = "lso-ip-access-end-point-resource";

/// The access link's addressing of an end point at `path`, if it has one.
fn end_point_routed(end_point: &Value, path: &str) -> Result<Option<lso_presto::Routed>, ApiError> {
    match end_point.get(IP_ACCESS_RESOURCE) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|e| violation(&format!("{path}/{IP_ACCESS_RESOURCE}"), e.to_string())),
    }
}

/// A service interface point.
fn sip(network: &Network, name: &str) -> Option<Value> {
    let interface = network.topology().interface(name)?;
    let available = interface.capacity_mbps.saturating_sub(network.interface_reserved(name));
    let resource = match interface.kind {
        InterfaceKind::Uni => ("nrp-carrier-eth-uni-n-resource", json!({})),
        InterfaceKind::Enni => ("nrp-carrier-eth-enni-n-resource", json!({})),
        InterfaceKind::IpUni => (IP_UNI_RESOURCE, json!({})),
    };
    let mut listed = vec![json!({"value-name": "interface", "value": name})];
    if let Some(site) = &interface.site {
        listed.push(json!({"value-name": "site", "value": site}));
    }
    let mut value = json!({
        "uuid": name, "name": listed, "layer-protocol-name": ["ETH"],
        "administrative-state": if network.is_locked(name) { "LOCKED" } else { "UNLOCKED" }, "lifecycle-state": "INSTALLED",
        "total-potential-capacity": capacity(interface.capacity_mbps), "available-capacity": capacity(available),
    });
    value[resource.0] = resource.1;
    Some(value)
}

/// A node edge point reference.
fn nep_ref(element: &str, port: &str) -> Value {
    json!({"topology-id": TOPOLOGY, "node-id": element, "owned-node-edge-point-id": format!("{element}:{port}")})
}

/// The uuid of link `index`.
fn link_id(network: &Network, index: usize) -> String {
    let link = &network.topology().links[index];
    format!("{}~{}", link.a, link.z)
}

fn link(network: &Network, index: usize) -> Value {
    let link = &network.topology().links[index];
    let available = link.capacity_mbps.saturating_sub(network.link_reserved(index));
    json!({
        "uuid": link_id(network, index), "name": names("link", &link_id(network, index)),
        "layer-protocol-name": ["ETH"], "direction": "BIDIRECTIONAL",
        "administrative-state": "UNLOCKED", "lifecycle-state": "INSTALLED",
        "node-edge-point": [nep_ref(&link.a.element, &link.a.port), nep_ref(&link.z.element, &link.z.port)],
        "total-potential-capacity": capacity(link.capacity_mbps), "available-capacity": capacity(available),
    })
}

/// The node edge point of port `port` of element `element`.
fn nep(network: &Network, element: &str, port: &str) -> Option<Value> {
    let (_, ports) = network.topology().elements.iter().find(|(n, _)| n == element)?;
    ports.iter().find(|p| *p == port)?;
    let id = format!("{element}:{port}");
    let mut nep = json!({"uuid": id, "name": names("port", port), "layer-protocol-name": "ETH",
                         "administrative-state": "UNLOCKED", "lifecycle-state": "INSTALLED"});
    let sip = network.topology().interfaces.iter().find(|i| i.port.element == element && i.port.port == port);
    if let Some(interface) = sip {
        nep["mapped-service-interface-point"] = json!([{"service-interface-point-id": interface.name}]);
    }
    Some(nep)
}

fn node(network: &Network, name: &str) -> Option<Value> {
    let (_, ports) = network.topology().elements.iter().find(|(n, _)| n == name)?;
    let edge_points: Vec<Value> = ports.iter().filter_map(|port| nep(network, name, port)).collect();
    Some(json!({"uuid": name, "name": names("element", name), "layer-protocol-name": ["ETH"],
                "administrative-state": "UNLOCKED", "lifecycle-state": "INSTALLED", "owned-node-edge-point": edge_points}))
}

fn topology(network: &Network) -> Value {
    let nodes: Vec<Value> = network.topology().elements.iter().filter_map(|(n, _)| node(network, n)).collect();
    let links: Vec<Value> = (0..network.topology().links.len()).map(|i| link(network, i)).collect();
    json!({"uuid": TOPOLOGY, "name": names("topology", TOPOLOGY), "layer-protocol-name": ["ETH"], "node": nodes, "link": links})
}

/// A connectivity service; `running` is the read-back of its elements, when known.
fn connectivity_service(network: &Network, service: &ConnectivityService, running: Option<bool>) -> Value {
    let request = &service.reservation.request;
    let cir_bps = request.bandwidth_mbps * 1_000_000;
    let end_points: Vec<Value> = request
        .interfaces
        .iter()
        .map(|name| {
            let vlans = request.vlans.get(name).cloned().unwrap_or_default();
            let listed: Vec<Value> = vlans.iter().map(|v| json!({"vlan-id": v})).collect();
            let mut resource = match network.topology().interface(name).map(|i| i.kind) {
                Some(InterfaceKind::Enni) => json!({"s-vlan-id-list": {"type": "LIST", "vlan-id-list": listed}}),
                _ if vlans.is_empty() => json!({"ce-vlan-id-list-and-untag": {"vlan-id-mapping-type": "ALL", "untagged-and-prio-tagged-included": true}}),
                _ => json!({"ce-vlan-id-list-and-untag": {"vlan-id-mapping-type": "LIST", "vlan-id": listed}}),
            };
            if cir_bps > 0 {
                resource["ingress-bwp-flow"] = json!({"cir": cir_bps});
            }
            let role = match (request.leaves.is_empty(), request.leaves.contains(name)) {
                (true, _) => "SYMMETRIC",
                (false, true) => "LEAF",
                (false, false) => "ROOT",
            };
            let mut end_point = json!({"local-id": name, "service-interface-point": {"service-interface-point-id": name},
                   "layer-protocol-name": "ETH", "direction": "BIDIRECTIONAL", "role": role,
                   "nrp-carrier-eth-connectivity-end-point-resource": resource});
            if let Some(routed) = request.routed.get(name) {
                end_point[IP_ACCESS_RESOURCE] = json!(routed);
            }
            end_point
        })
        .collect();
    let connections: Vec<String> =
        service.cross_connects.iter().map(|(element, _)| format!("{}@{element}", request.service)).collect();
    let service_type = lso_presto::service_type(request.interfaces.len(), !request.leaves.is_empty());
    let mut value = json!({
        "uuid": request.service, "name": names("service", &request.service),
        "service-type": service_type, "layer-protocol-name": "ETH", "direction": "BIDIRECTIONAL",
        "administrative-state": "UNLOCKED", "lifecycle-state": "INSTALLED",
        "requested-capacity": capacity(request.bandwidth_mbps), "end-point": end_points, "connection": connections,
    });
    if let Some(running) = running {
        value["operational-state"] = json!(if running { "ENABLED" } else { "DISABLED" });
    }
    value
}

/// The parameters of a path, by name.
type Params = std::collections::HashMap<String, String>;

/// A RESTCONF read: its path, and the object its parameters name.
type Read = (&'static str, fn(&Params) -> Subject);

/// The RESTCONF data reads, each a path and the object it names.
const READS: [Read; 13] = [
    ("/data/context/topology={uuid}/", |p| Subject::Topology(p["uuid"].clone())),
    ("/data/context/topology={uuid}/node={node}/", |p| Subject::Node(p["uuid"].clone(), p["node"].clone())),
    ("/data/context/topology={uuid}/link={link}/", |p| Subject::Link(p["uuid"].clone(), p["link"].clone())),
    ("/data/context/topology={uuid}/node={node}/owned-node-edge-point={nep}/", |p| {
        Subject::Nep(p["uuid"].clone(), p["node"].clone(), p["nep"].clone())
    }),
    ("/data/context/topology={uuid}/node={node}/owned-node-edge-point={nep}/connection-end-point={cep}/", |p| {
        Subject::Cep(p["uuid"].clone(), p["node"].clone(), p["nep"].clone(), p["cep"].clone())
    }),
    ("/data/context/connection={uuid}/", |p| Subject::Connection(p["uuid"].clone())),
    ("/data/context/connection={uuid}/switch-control={control}/", |p| {
        Subject::SwitchControl(p["uuid"].clone(), p["control"].clone())
    }),
    ("/data/context/topology={uuid}/node={node}/node-rule-group={group}/", |p| {
        Subject::RuleGroup(p["uuid"].clone(), p["node"].clone(), p["group"].clone())
    }),
    ("/data/context/topology={uuid}/node={node}/node-rule-group={group}/inter-rule-group={inter}/", |p| {
        Subject::InterRuleGroup(p["uuid"].clone(), p["node"].clone(), p["group"].clone(), p["inter"].clone())
    }),
    ("/data/context/path={uuid}/", |p| Subject::Path(p["uuid"].clone())),
    ("/data/context/path-comp-service={uuid}/", |p| Subject::PathService(p["uuid"].clone())),
    ("/data/context/service-interface-point={uuid}/", |p| Subject::Sip(p["uuid"].clone())),
    ("/data/context/connectivity-service={uuid}/", |p| Subject::Service(p["uuid"].clone())),
];

/// An RPC of the Seller's operators (`POST /operations/{operation}/` with `{"input": …}`):
/// what `operation` makes of the input, answered as `{"output": …}`.
fn rpc<F, A>(operation: F) -> axum::routing::MethodRouter<PrestoState>
where
    F: Fn(PrestoState, Value) -> A + Clone + Send + Sync + 'static,
    A: std::future::Future<Output = Result<Value, ApiError>> + Send,
{
    post(move |Caller { state, .. }: Caller<PrestoState>, body: MefBody<Value>| {
        let operation = operation.clone();
        async move { Ok::<_, ApiError>(lso_http::ok(&json!({"output": operation(state, body.raw).await?}))) }
    })
}

/// The Presto routes.
pub fn router(state: PrestoState) -> Router {
    let routes = Router::new()
        .route("/data/context/", get(get_context))
        .route("/data/context/nw-topology-service/", get(get_topology_service))
        .route("/operations/update-service-interface-point/", post(update_sip))
        .route("/operations/create-connectivity-service/", rpc(create_connectivity_service))
        .route("/operations/delete-connectivity-service/", rpc(delete_connectivity_service))
        .route("/operations/update-connectivity-service/", rpc(update_connectivity_service))
        .route("/operations/compute-p-2-p-path/", rpc(compute_path))
        .route("/operations/optimize-p-2-p-path/", rpc(compute_path))
        .route("/operations/delete-p-2-p-path/", rpc(delete_path))
        .route("/operations/get-connectivity-service-list/", rpc(get_connectivity_service_list))
        .route("/operations/get-service-interface-point-list/", rpc(get_sip_list))
        .route("/operations/get-service-interface-point-counters/", rpc(get_sip_counters))
        .route("/operations/get-topology-list/", rpc(get_topology_list));
    let routes = READS.into_iter().fold(routes, |routes, (path, subject)| {
        routes.route(
            path,
            get(move |Caller { state, .. }: Caller<PrestoState>, Path(params): Path<Params>| {
                data(state, subject(&params))
            }),
        )
    });
    let details = [
        ("get-connectivity-service-details", "service"),
        ("get-service-interface-point-details", "sip"),
        ("get-topology-details", "topology"),
        ("get-node-details", "node"),
        ("get-link-details", "link"),
        ("get-node-edge-point-details", "node-edge-point"),
        ("get-connection-details", "connection"),
    ];
    let routes = details.into_iter().fold(routes, |routes, (operation, what)| {
        routes.route(&format!("/operations/{operation}/"), rpc(move |state, input| details_rpc(state, input, what)))
    });
    Router::new().nest(BASE, routes.with_state(state))
}

/// What a read is about.
enum Subject {
    Topology(String),
    Node(String, String),
    Nep(String, String, String),
    Cep(String, String, String, String),
    Link(String, String),
    Sip(String),
    Service(String),
    Connection(String),
    SwitchControl(String, String),
    RuleGroup(String, String, String),
    InterRuleGroup(String, String, String, String),
    Path(String),
    PathService(String),
}

impl Subject {
    /// The subject an RPC's `input` names; `what` is the output's key.
    fn of_input(body: &Value, what: &str) -> Result<Subject, ApiError> {
        Ok(match what {
            "service" => Subject::Service(input(body, "service-id-or-name")?.to_owned()),
            "sip" => Subject::Sip(input(body, "sip-id-or-name")?.to_owned()),
            "topology" => Subject::Topology(input(body, "topology-id-or-name")?.to_owned()),
            "node" => Subject::Node(
                input(body, "topology-id-or-name")?.to_owned(),
                input(body, "node-id-or-name")?.to_owned(),
            ),
            "node-edge-point" => Subject::Nep(
                input(body, "topology-id-or-name")?.to_owned(),
                input(body, "node-id-or-name")?.to_owned(),
                input(body, "ep-id-or-name")?.to_owned(),
            ),
            "connection" => Subject::Connection(input(body, "connection-id-or-name")?.to_owned()),
            _ => Subject::Link(
                input(body, "topology-id-or-name")?.to_owned(),
                input(body, "link-id-or-name")?.to_owned(),
            ),
        })
    }
}

/// The TAPI object `subject` names, or 404.
async fn lookup(state: &PrestoState, subject: Subject) -> Result<Value, ApiError> {
    let icm = &state.icm;
    let in_topology = |topology: &str| if topology == TOPOLOGY { Ok(()) } else { Err(not_found("topology", topology)) };
    match subject {
        Subject::Topology(id) => {
            in_topology(&id)?;
            Ok(icm.read(topology).await)
        }
        Subject::Node(topology, name) => {
            in_topology(&topology)?;
            let mut found = icm.read(|n| node(n, &name)).await.ok_or_else(|| not_found("node", &name))?;
            found["node-rule-group"] = json!(rule_groups(icm, &name).await);
            Ok(found)
        }
        Subject::RuleGroup(topology, node, id) => {
            in_topology(&topology)?;
            let groups = rule_groups(icm, &node).await;
            groups.into_iter().find(|g| g["uuid"] == id.as_str()).ok_or_else(|| not_found("node rule group", &id))
        }
        Subject::InterRuleGroup(topology, node, group, id) => {
            in_topology(&topology)?;
            let groups = rule_groups(icm, &node).await;
            let group = groups.iter().find(|g| g["uuid"] == group.as_str());
            let inter = group.and_then(|g| g["inter-rule-group"].as_array()?.iter().find(|i| i["uuid"] == id.as_str()));
            inter.cloned().ok_or_else(|| not_found("inter-rule group", &id))
        }
        Subject::SwitchControl(connection_id, id) => {
            let found = connection(icm, &connection_id).await?;
            let control = found["switch-control"].as_array().and_then(|c| c.iter().find(|c| c["uuid"] == id.as_str()));
            control.cloned().ok_or_else(|| not_found("switch control", &id))
        }
        Subject::Link(topology, id) => {
            in_topology(&topology)?;
            let found = icm.read(|n| (0..n.topology().links.len()).find(|i| link_id(n, *i) == id).map(|i| link(n, i)));
            found.await.ok_or_else(|| not_found("link", &id))
        }
        Subject::Nep(topology, node, id) => {
            in_topology(&topology)?;
            let port = id.strip_prefix(&format!("{node}:")).unwrap_or(&id).to_owned();
            icm.read(|n| nep(n, &node, &port)).await.ok_or_else(|| not_found("node edge point", &id))
        }
        Subject::Sip(id) => icm.read(|n| sip(n, &id)).await.ok_or_else(|| not_found("service interface point", &id)),
        Subject::Service(uuid) => service_details(state, &uuid).await,
        Subject::Connection(id) => connection(icm, &id).await,
        Subject::Cep(topology, node, nep, id) => {
            in_topology(&topology)?;
            let (connection_id, port) = id.rsplit_once(':').ok_or_else(|| not_found("connection end point", &id))?;
            let found = connection(icm, connection_id).await?;
            let parent = format!("{node}:{port}");
            let on_nep = found["connection-end-point"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["connection-end-point-id"] == id.as_str());
            if !on_nep || !connection_id.ends_with(&format!("@{node}")) || (nep != parent && nep != port) {
                return Err(not_found("connection end point", &id));
            }
            let service = connection_id.split('@').next().unwrap_or_default();
            Ok(json!({"uuid": id, "name": names("connection-end-point", &id), "layer-protocol-name": "ETH",
                      "connection-port-direction": "BIDIRECTIONAL", "connectivity-service-end-point": service,
                      "parent-node-edge-point": {"topology-id": TOPOLOGY, "node-id": node, "owned-node-edge-point-id": parent}}))
        }
        Subject::Path(id) => {
            let found =
                state.paths().values().flat_map(|(_, paths)| paths.iter()).find(|p| p["uuid"] == id.as_str()).cloned();
            found.ok_or_else(|| not_found("path", &id))
        }
        Subject::PathService(id) => state
            .paths()
            .get(&id)
            .map(|(service, _)| service.clone())
            .ok_or_else(|| not_found("path computation service", &id)),
    }
}

/// The connection `{service}@{element}`: the service's cross-connect on that element, as the
/// node edge points it joins.
async fn connection(icm: &Icm, id: &str) -> Result<Value, ApiError> {
    let (service, element) = id.split_once('@').ok_or_else(|| not_found("connection", id))?;
    let found = icm.connectivity(service).await.ok_or_else(|| not_found("connection", id))?;
    let (_, connect) =
        found.cross_connects.iter().find(|(e, _)| e == element).ok_or_else(|| not_found("connection", id))?;
    let ends: Vec<Value> = connect
        .endpoints
        .iter()
        .map(|e| json!({"topology-id": TOPOLOGY, "node-id": element, "owned-node-edge-point-id": format!("{element}:{}", e.port),
                         "connection-end-point-id": format!("{id}:{}", e.port)}))
        .collect();
    // Unprotected: one switch, always on the connection's own end points.
    let control = format!("{id}:protection");
    let switch_control = json!({"uuid": control, "name": names("switch-control", &control),
        "resilience-type": {"protection-type": "NO_PROTECTON", "restoration-policy": "NA"},
        "is-lock-out": false, "is-frozen": false, "is-coordinated-switching-both-ends": false,
        "switch": [{"local-id": "working", "selected-connection-end-point": ends, "selection-control": "NORMAL",
                    "selection-reason": "NORMAL", "switch-direction": "BIDIRECTIONAL"}]});
    Ok(json!({"uuid": id, "name": names("connection", id), "layer-protocol-name": "ETH", "direction": "BIDIRECTIONAL",
              "connection-end-point": ends, "switch-control": [switch_control]}))
}

/// The node rule groups of `element`, one per connection on it (`{service}@{element}`): the
/// node edge points its cross-connect joins forward to each other, and, by an inter-rule group
/// with the node's other groups, never to another service's.
async fn rule_groups(icm: &Icm, element: &str) -> Vec<Value> {
    let services: Vec<String> = icm.read(|n| n.reservations().keys().cloned().collect()).await;
    let mut on_node = Vec::new();
    for service in services {
        let Some(found) = icm.connectivity(&service).await else { continue };
        if let Some((_, connect)) = found.cross_connects.iter().find(|(e, _)| e == element) {
            let mut ports: Vec<String> = connect.endpoints.iter().map(|e| format!("{element}:{}", e.port)).collect();
            ports.sort();
            ports.dedup();
            on_node.push((format!("{service}@{element}"), ports));
        }
    }
    let forwarding =
        |local: &str, rule: &str| json!([{"local-id": local, "rule-type": "FORWARDING", "forwarding-rule": rule}]);
    on_node
        .iter()
        .map(|(id, ports)| {
            let mut group = json!({"uuid": id, "name": names("node-rule-group", id), "node-edge-point": ports,
                                   "rule": forwarding("within", "MAY_FORWARD_ACROSS_GROUP")});
            let others: Vec<Value> = on_node
                .iter()
                .filter(|(other, _)| other != id)
                .map(|(other, _)| json!({"topology-id": TOPOLOGY, "node-id": element, "node-rule-group-id": other}))
                .collect();
            if !others.is_empty() {
                let inter = format!("{id}:isolation");
                group["inter-rule-group"] = json!([{"uuid": inter, "name": names("inter-rule-group", &inter),
                    "rule": forwarding("between", "CANNOT_FORWARD_ACROSS_GROUP"), "associated-node-rule-group": others}]);
            }
            group
        })
        .collect()
}

/// A RESTCONF data read of `subject`.
async fn data(state: PrestoState, subject: Subject) -> Result<Response, ApiError> {
    Ok(lso_http::ok(&lookup(&state, subject).await?))
}

/// `get-{what}-details`: the object the input names, as `output.{what}`.
async fn details_rpc(state: PrestoState, body: Value, what: &'static str) -> Result<Value, ApiError> {
    let found = lookup(&state, Subject::of_input(&body, what)?).await?;
    Ok(json!({what: found}))
}

/// A connectivity service, enabled when its elements read back as configured and no alarm
/// touches it.
async fn service_details(state: &PrestoState, uuid: &str) -> Result<Value, ApiError> {
    let icm = &state.icm;
    let service = icm.connectivity(uuid).await.ok_or_else(|| not_found("connectivity service", uuid))?;
    let mut running = icm.check_connectivity(uuid).await.unwrap_or(false);
    for alarm in state.alarms.active() {
        running &= !icm.affected_by(&alarm).await.iter().any(|s| s == uuid);
    }
    Ok(icm.read(|n| connectivity_service(n, &service, Some(running))).await)
}

fn not_found(kind: &str, id: &str) -> ApiError {
    ApiError::NotFound(format!("no {kind} `{id}`"))
}

/// Every connectivity service ICM holds.
async fn services(icm: &Icm) -> Vec<Value> {
    icm.read(|network| {
        network
            .reservations()
            .values()
            .map(|r| {
                let service =
                    ConnectivityService { reservation: r.clone(), cross_connects: lso_icm::cross_connects(network, r) };
                connectivity_service(network, &service, None)
            })
            .collect()
    })
    .await
}

/// `GET /data/context/`: the whole context.
async fn get_context(Caller { state, .. }: Caller<PrestoState>) -> Result<Response, ApiError> {
    let services = services(&state.icm).await;
    let context = state
        .icm
        .read(|network| {
            let sips: Vec<Value> = network.topology().interfaces.iter().filter_map(|i| sip(network, &i.name)).collect();
            json!({"uuid": "lso-context", "name": names("context", "lso"), "service-interface-point": sips,
                   "topology": [topology(network)], "connectivity-service": services})
        })
        .await;
    Ok(lso_http::ok(&context))
}

/// The string at `/input/{key}` of an RPC body.
fn input<'a>(body: &'a Value, key: &str) -> Result<&'a str, ApiError> {
    body["input"][key].as_str().ok_or_else(|| violation(&format!("/input/{key}"), format!("`input.{key}` is required")))
}

/// The VLANs of an end point: its CE-VLAN list at a UNI, its S-VLAN at an ENNI.
fn end_point_vlans(end_point: &Value, path: &str) -> Result<Vec<u16>, ApiError> {
    let resource = &end_point["nrp-carrier-eth-connectivity-end-point-resource"];
    let listed = [&resource["ce-vlan-id-list-and-untag"]["vlan-id"], &resource["s-vlan-id-list"]["vlan-id-list"]];
    let mut vlans = Vec::new();
    for list in listed {
        for (n, entry) in list.as_array().into_iter().flatten().enumerate() {
            let vlan = entry["vlan-id"].as_u64().filter(|v| (1..=4094).contains(v)).ok_or_else(|| {
                violation(
                    &format!("{path}/nrp-carrier-eth-connectivity-end-point-resource/vlan-id/{n}"),
                    "a VLAN id is 1-4094",
                )
            })?;
            vlans.push(vlan as u16);
        }
    }
    if let Some(root) = resource["root-svlan-id"]["vlan-id"].as_u64() {
        vlans
            .push(u16::try_from(root).map_err(|_| violation(&format!("{path}/root-svlan-id"), "a VLAN id is 1-4094"))?);
    }
    Ok(vlans)
}

/// The interface, VLANs and ingress CIR (bits/s) of an input end point at `path`.
fn end_point(end_point: &Value, path: &str) -> Result<(ServiceEndpoint, u64), ApiError> {
    let interface = end_point["service-interface-point"]["service-interface-point-id"].as_str().ok_or_else(|| {
        violation(&format!("{path}/service-interface-point"), "an end point names its service interface point")
    })?;
    let vlans = end_point_vlans(end_point, path)?;
    let routed = end_point_routed(end_point, path)?;
    let cir =
        end_point["nrp-carrier-eth-connectivity-end-point-resource"]["ingress-bwp-flow"]["cir"].as_u64().unwrap_or(0);
    let leaf = match end_point["role"].as_str() {
        None | Some("SYMMETRIC" | "ROOT") => false,
        Some("LEAF") => true,
        Some(_) => return Err(violation(&format!("{path}/role"), "an end point's role is SYMMETRIC, ROOT or LEAF")),
    };
    Ok((ServiceEndpoint { interface: interface.to_owned(), vlans, routed, leaf }, cir))
}

/// `update-connectivity-service`: changes one end point of a service (its VLANs, its CIR),
/// keeping the old service if the network cannot carry the new one.
async fn update_connectivity_service(state: PrestoState, body: Value) -> Result<Value, ApiError> {
    let uuid = input(&body, "service-id-or-name")?;
    let old = state.icm.connectivity(uuid).await.ok_or_else(|| not_found("connectivity service", uuid))?;
    let (changed, cir_bps) = end_point(&body["input"]["end-point"], "/input/end-point")?;
    let old = &old.reservation.request;
    if !old.interfaces.contains(&changed.interface) {
        return Err(violation(
            "/input/end-point/service-interface-point",
            format!("`{}` is not an end point of `{uuid}`", changed.interface),
        ));
    }
    let endpoints = old
        .endpoints()
        .into_iter()
        .map(|e| if e.interface == changed.interface { changed.clone() } else { e })
        .collect();
    let cir_mbps = if cir_bps > 0 { cir_bps.div_ceil(1_000_000) } else { old.bandwidth_mbps };
    let request = ConnectivityRequest { uuid: uuid.to_owned(), endpoints, cir_mbps };
    let service = state.icm.update_connectivity(&request).await.map_err(icm_error)?;
    let value = state.icm.read(|n| connectivity_service(n, &service, Some(true))).await;
    Ok(json!({"service": value}))
}

/// `compute-p-2-p-path` and `optimize-p-2-p-path`: the path ICM would take between two service
/// end points, reserving nothing; the result is kept as a path computation service.
async fn compute_path(state: PrestoState, body: Value) -> Result<Value, ApiError> {
    let ends = body["input"]["sep"].as_array().cloned().unwrap_or_default();
    let interfaces: Vec<String> =
        ends.iter().filter_map(|e| e["service-interface-point"].as_str().map(str::to_owned)).collect();
    if interfaces.len() != 2 {
        return Err(violation(
            "/input/sep",
            "a point-to-point path joins two service end points, each naming its service-interface-point",
        ));
    }
    let endpoints = interfaces
        .iter()
        .map(|i| ServiceEndpoint { interface: i.clone(), vlans: Vec::new(), routed: None, leaf: false })
        .collect();
    let uuid = uuid::Uuid::new_v4().to_string();
    let request = ConnectivityRequest { uuid: uuid.clone(), endpoints, cir_mbps: 0 };
    let planned = state.icm.plan_connectivity(&request).await.map_err(icm_error)?;
    let links: Vec<Value> = state
        .icm
        .read(|n| {
            planned.hops.iter().map(|h| json!({"topology-id": TOPOLOGY, "link-id": link_id(n, h.link)})).collect()
        })
        .await;
    let path_id = format!("{uuid}:path");
    let path = json!({"uuid": path_id, "name": names("path", &path_id), "link": links});
    let service = json!({"uuid": uuid, "name": names("path-computation-service", &uuid), "path": [{"path-id": path_id}], "end-point": ends});
    state.paths().insert(uuid, (service.clone(), vec![path]));
    Ok(json!({"service": service}))
}

/// `delete-p-2-p-path`: forgets a path computation service and its paths.
async fn delete_path(state: PrestoState, body: Value) -> Result<Value, ApiError> {
    let uuid = input(&body, "service-id-or-name")?;
    let (service, _) = state.paths().remove(uuid).ok_or_else(|| not_found("path computation service", uuid))?;
    Ok(json!({"service": service}))
}

/// `create-connectivity-service`: reserves, configures and reads back a service.
async fn create_connectivity_service(state: PrestoState, body: Value) -> Result<Value, ApiError> {
    let end_points = body["input"]["end-point"]
        .as_array()
        .ok_or_else(|| violation("/input/end-point", "`input.end-point` lists the end points"))?;
    let mut endpoints = Vec::new();
    let mut cir_bps: u64 = 0;
    for (n, value) in end_points.iter().enumerate() {
        let (endpoint, cir) = end_point(value, &format!("/input/end-point/{n}"))?;
        cir_bps = cir_bps.max(cir);
        endpoints.push(endpoint);
    }
    let uuid = body["input"]["uuid"].as_str().map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let request = ConnectivityRequest { uuid: uuid.clone(), endpoints, cir_mbps: cir_bps.div_ceil(1_000_000) };
    let service = state.icm.create_connectivity(&request).await.map_err(icm_error)?;
    let value = state.icm.read(|n| connectivity_service(n, &service, Some(true))).await;
    Ok(json!({"service": value}))
}

fn icm_error(err: IcmError) -> ApiError {
    match err {
        IcmError::Allocation(e) => violation("/input/end-point", e.to_string()),
        IcmError::Invalid(reason) => violation("/input/end-point", reason),
        IcmError::Element(e) => ApiError::Conflict(format!("the network could not configure the service: {e}")),
        IcmError::Store(e) => {
            tracing::error!(error = %e, "storage failed");
            ApiError::Unavailable
        }
        IcmError::Corrupt(what) => {
            tracing::error!(%what, "a stored reservation could not be read");
            ApiError::Internal
        }
    }
}

/// `delete-connectivity-service`: removes a service from its elements and releases it.
async fn delete_connectivity_service(state: PrestoState, body: Value) -> Result<Value, ApiError> {
    let uuid = input(&body, "service-id-or-name")?;
    let before = state.icm.connectivity(uuid).await.ok_or_else(|| not_found("connectivity service", uuid))?;
    let value = state.icm.read(|n| connectivity_service(n, &before, None)).await;
    state.icm.delete_connectivity(uuid).await.map_err(icm_error)?;
    Ok(json!({"service": value}))
}

/// `get-connectivity-service-list`.
async fn get_connectivity_service_list(state: PrestoState, _: Value) -> Result<Value, ApiError> {
    Ok(json!({"service": services(&state.icm).await}))
}

/// `get-service-interface-point-list`.
async fn get_sip_list(state: PrestoState, _: Value) -> Result<Value, ApiError> {
    let sips =
        state.icm.read(|n| n.topology().interfaces.iter().filter_map(|i| sip(n, &i.name)).collect::<Vec<_>>()).await;
    Ok(json!({"sip": sips}))
}

/// `get-service-interface-point-counters` (lso's): what the element of an interface counted on
/// its port since the port was made.
async fn get_sip_counters(state: PrestoState, body: Value) -> Result<Value, ApiError> {
    let id = input(&body, "sip-id-or-name")?;
    let counters = state.icm.interface_counters(id).await.map_err(|e| {
        tracing::warn!(error = %e, "an element could not be asked for its counters");
        ApiError::Unavailable
    })?;
    let c = counters.ok_or_else(|| not_found("service interface point", id))?;
    let counters = json!({"rx-packets": c.rx_packets, "rx-bytes": c.rx_bytes, "rx-dropped": c.rx_dropped,
        "tx-packets": c.tx_packets, "tx-bytes": c.tx_bytes, "tx-dropped": c.tx_dropped});
    Ok(json!({"counters": counters}))
}

/// `GET /data/context/nw-topology-service/`: the one topology, as a network topology service.
async fn get_topology_service(_: Caller<PrestoState>) -> Result<Response, ApiError> {
    Ok(lso_http::ok(
        &json!({"uuid": "lso-topology-service", "name": names("topology-service", TOPOLOGY), "topology": [TOPOLOGY]}),
    ))
}

/// `update-service-interface-point`: locks a service interface point (it takes no new
/// connectivity service; those it has stay) or unlocks it.
async fn update_sip(Caller { state, .. }: Caller<PrestoState>, body: MefBody<Value>) -> Result<Response, ApiError> {
    let id = input(&body.raw, "sip-id-or-name")?;
    let locked = match input(&body.raw, "state")? {
        "LOCKED" => true,
        "UNLOCKED" => false,
        other => return Err(violation("/input/state", format!("`{other}` is not LOCKED or UNLOCKED"))),
    };
    if state.icm.read(|n| n.topology().interface(id).is_none()).await {
        return Err(not_found("service interface point", id));
    }
    state.icm.set_locked(id, locked).await.map_err(icm_error)?;
    Ok(StatusCode::CREATED.into_response())
}

/// `get-topology-list`.
async fn get_topology_list(state: PrestoState, _: Value) -> Result<Value, ApiError> {
    Ok(json!({"topology": [state.icm.read(topology).await]}))
}

#[cfg(test)]
mod tests;
