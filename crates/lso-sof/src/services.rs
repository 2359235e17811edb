//! The kinds of service the SOF realises, told apart by their configuration's `@type` (the
//! MEF service-schema URNs; the attributes are lso's own), and how each reads its
//! configuration.
//!
//! - A **UNI** or **ENNI** service takes an interface of the network: the one its
//!   configuration names (`interface`), or a free UNI at the site of its `INSTALL_LOCATION`.
//! - An **EVC** or **OVC** joins endpoints with a connectivity service: each endpoint is a UNI or
//!   ENNI service (`service`) or an interface (`interface`), with its VLANs (`vlans`: CE-VLANs
//!   at a UNI, none meaning all-to-one; the S-VLAN at an ENNI), held to `cirMbps`.
//! - An **IP UNI** service takes an IP UNI (a routed port of a provider-edge router) the same
//!   way.
//! - An **IPVC** is Internet access at an IP UNI (`ip::IpvcConfig`): a subnet from the pool,
//!   static routes or BGP to the customer, the rates both ways, configured on the router.
//! - An IPVC end point or UNI access link service is recorded: the IPVC that uses them is what
//!   the router runs.

use serde::Deserialize;
use serde_json::Value;

pub use lso_legato::services::{ENNI, EVC, IP_UNI, IPVC, OPERATOR_UNI, OVC, SUBSCRIBER_UNI};

/// What a service is, by its configuration's `@type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// Takes an interface (UNI or ENNI).
    Interface,
    /// Joins endpoints across the network.
    Connection,
    /// Internet access at an IP UNI.
    IpAccess,
    /// Recorded only.
    Ip,
}

impl ServiceKind {
    /// The kind of `@type`, if the SOF knows it. Any version of a schema is taken (the MEF 99
    /// guide's examples name versions the SDK's schemas have moved on from).
    pub fn of(service_type: &str) -> Option<Self> {
        let name = service_type.strip_prefix("urn:mef:lso:spec:legato:")?.split(':').next()?;
        match name {
            "carrier-ethernet-subscriber-uni"
            | "carrier-ethernet-operator-uni"
            | "carrier-ethernet-enni"
            | "ip-uni" => Some(ServiceKind::Interface),
            "carrier-ethernet-evc" | "carrier-ethernet-ovc" => Some(ServiceKind::Connection),
            "ipvc" => Some(ServiceKind::IpAccess),
            "ipvc-end-point" | "ip-uni-access-link" => Some(ServiceKind::Ip),
            _ => None,
        }
    }
}

/// Every `@type` the SOF knows, in the versions it writes.
pub const SERVICE_TYPES: [&str; 7] = [SUBSCRIBER_UNI, OPERATOR_UNI, ENNI, EVC, OVC, IP_UNI, IPVC];

/// The configuration of an interface service.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterfaceConfig {
    /// The interface to take; else a free UNI at the service's site.
    pub interface: Option<String>,
}

/// One endpoint of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConfig {
    /// The UNI or ENNI service it attaches to.
    pub service: Option<String>,
    /// Or the interface, by name.
    pub interface: Option<String>,
    /// CE-VLANs at a UNI (none: all-to-one), the S-VLAN at an ENNI.
    #[serde(default)]
    pub vlans: Vec<u16>,
    /// `LEAF` in a rooted-multipoint connection (E-Tree), else `ROOT` (the default).
    #[serde(default)]
    pub role: EndpointRole,
}

/// Where an endpoint stands in a connection (MEF 10.4 EVC EP Role).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum EndpointRole {
    /// Reaches every endpoint.
    #[default]
    #[serde(rename = "ROOT")]
    Root,
    /// Reaches the roots only.
    #[serde(rename = "LEAF")]
    Leaf,
}

/// The configuration of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionConfig {
    /// Its endpoints.
    pub end_points: Vec<EndpointConfig>,
    /// The committed rate at each UNI, in Mbit/s (0: none).
    #[serde(default)]
    pub cir_mbps: u64,
}

/// Reads `configuration` as `T`, or says what is wrong with it.
pub fn read_config<T: serde::de::DeserializeOwned>(configuration: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(configuration).map_err(|e| {
        let path = e.path().to_string();
        format!("{} at {path}", e.into_inner())
    })
}

/// A service specification of the SOF's catalog (Legato Service Catalog).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSpecification {
    /// Its id: the schema name in the `@type` URN.
    pub id: &'static str,
    /// The `@type` its services' configurations carry.
    pub service_type: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Its category.
    pub category: &'static str,
    /// What a service of it is.
    pub kind: ServiceKind,
}

/// Every service specification the SOF realises.
pub const CATALOG: [ServiceSpecification; 7] = [
    ServiceSpecification {
        id: "carrier-ethernet-subscriber-uni",
        service_type: SUBSCRIBER_UNI,
        name: "Carrier Ethernet Subscriber UNI",
        category: "carrierEthernet",
        kind: ServiceKind::Interface,
    },
    ServiceSpecification {
        id: "carrier-ethernet-operator-uni",
        service_type: OPERATOR_UNI,
        name: "Carrier Ethernet Operator UNI",
        category: "carrierEthernet",
        kind: ServiceKind::Interface,
    },
    ServiceSpecification {
        id: "carrier-ethernet-enni",
        service_type: ENNI,
        name: "Carrier Ethernet ENNI",
        category: "carrierEthernet",
        kind: ServiceKind::Interface,
    },
    ServiceSpecification {
        id: "carrier-ethernet-evc",
        service_type: EVC,
        name: "Carrier Ethernet EVC",
        category: "carrierEthernet",
        kind: ServiceKind::Connection,
    },
    ServiceSpecification {
        id: "carrier-ethernet-ovc",
        service_type: OVC,
        name: "Carrier Ethernet OVC",
        category: "carrierEthernet",
        kind: ServiceKind::Connection,
    },
    ServiceSpecification {
        id: "ip-uni",
        service_type: IP_UNI,
        name: "IP UNI",
        category: "ip",
        kind: ServiceKind::Interface,
    },
    ServiceSpecification {
        id: "ipvc",
        service_type: IPVC,
        name: "IP Virtual Connection",
        category: "ip",
        kind: ServiceKind::IpAccess,
    },
];

/// The kind of interface a service of `service_type` takes: an IP UNI for an IP UNI service,
/// a UNI (or the ENNI it names) otherwise.
pub fn interface_kind(service_type: &str) -> lso_presto::InterfaceKind {
    if service_type.contains(":ip-uni:") { lso_presto::InterfaceKind::IpUni } else { lso_presto::InterfaceKind::Uni }
}

/// The JSON Schema of the configuration of a service of `kind` (lso's own attributes).
pub fn configuration_schema(specification: &ServiceSpecification) -> serde_json::Value {
    let vlan = serde_json::json!({"type": "integer", "minimum": 1, "maximum": 4094});
    let prefix = serde_json::json!({"type": "string", "pattern": "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$"});
    let properties = match specification.kind {
        ServiceKind::Interface => serde_json::json!({
            "interface": {"type": "string", "description": "The interface to take; else a free UNI at the INSTALL_LOCATION site."}
        }),
        ServiceKind::Connection => serde_json::json!({
            "endPoints": {"type": "array", "minItems": 2, "items": {"type": "object", "properties": {
                "service": {"type": "string", "description": "The UNI or ENNI service it attaches to."},
                "interface": {"type": "string", "description": "Or the interface, by name."},
                "vlans": {"type": "array", "items": vlan, "description": "CE-VLANs at a UNI (none: all-to-one), the S-VLAN at an ENNI."},
                "role": {"enum": ["ROOT", "LEAF"], "description": "In an E-Tree, LEAF: it reaches the roots only (ROOT when left out)."}
            }}},
            "cirMbps": {"type": "integer", "minimum": 0, "description": "The committed rate at each UNI, in Mbit/s."}
        }),
        ServiceKind::IpAccess => serde_json::json!({
            "ipUni": {"type": "string", "description": "The IP UNI service it is delivered at."},
            "interface": {"type": "string", "description": "Or the IP UNI, by name; else a free IP UNI at the INSTALL_LOCATION site."},
            "cirMbps": {"type": "integer", "minimum": 0, "description": "The rate from the customer, in Mbit/s (0: the IP UNI's)."},
            "egressMbps": {"type": "integer", "minimum": 0, "description": "The rate towards the customer, in Mbit/s (0: as from the customer)."},
            "prefixLength": {"type": "integer", "minimum": 24, "maximum": 30, "description": "The access link's subnet, from the SOF's pool."},
            "routing": {"enum": ["static", "bgp"], "description": "Static routes to the customer's prefixes, or BGP with the customer's router."},
            "customerAs": {"type": "integer", "minimum": 1, "description": "The customer's autonomous system (BGP)."},
            "customerPrefixes": {"type": "array", "items": prefix, "description": "The customer's own prefixes, routed to it or accepted from it."},
            "accessLink": {"type": "object", "readOnly": true, "description": "Written by the SOF: the IP UNI, the subnet and both addresses."}
        }),
        ServiceKind::Ip => serde_json::json!({}),
    };
    let mut schema = serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#", "$id": specification.service_type,
        "type": "object", "required": ["@type"],
        "properties": {"@type": {"const": specification.service_type}},
    });
    if let (Some(target), Some(extra)) = (schema["properties"].as_object_mut(), properties.as_object()) {
        target.extend(extra.clone());
    }
    if specification.kind == ServiceKind::Connection {
        schema["required"] = serde_json::json!(["@type", "endPoints"]);
    }
    schema
}
