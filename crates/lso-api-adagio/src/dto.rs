//! The JSON of Adagio: cross-connects as ICM sends them, flows as elements report them, alarms.

use lso_adagio::Flow;
use lso_adagio::{Alarm, Attachment, CrossConnect, Endpoint, Role};
use lso_http::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a service uses a port: `uni` with its CE-VLANs (none: all-to-one), `tagged` with its
/// S-VLAN, or `routed` (an IP UNI access link on a router), exactly one of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointDto {
    /// The port on the element.
    pub port: String,
    /// A UNI: `{"ceVlans": [100]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uni: Option<UniDto>,
    /// A link or ENNI: `{"sVlan": 5}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tagged: Option<TaggedDto>,
    /// An IP UNI access link: `{"provider": "100.64.0.1/30", "customer": "100.64.0.2", …}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routed: Option<lso_adagio::Routed>,
    /// The CIR held at this endpoint's ingress, in kbit/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress_cir_kbps: Option<u32>,
    /// In an E-Tree: `leaf`, `rootTrunk` or `leafTrunk` (`root`, the default, otherwise).
    #[serde(default, skip_serializing_if = "is_root")]
    pub role: Role,
}

fn is_root(role: &Role) -> bool {
    *role == Role::Root
}

/// A UNI endpoint's CE-VLANs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UniDto {
    /// The CE-VLANs; none for all-to-one bundling.
    #[serde(default)]
    pub ce_vlans: Vec<u16>,
    /// The CE-VLAN the service's other UNIs use, which frames entering here take (CE-VLAN
    /// translation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_ce_vlan: Option<u16>,
}

/// A tagged endpoint's S-VLAN.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaggedDto {
    /// The S-VLAN.
    pub s_vlan: u16,
}

/// A service's cross-connect on one element.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrossConnectDto {
    /// Its endpoints.
    pub endpoints: Vec<EndpointDto>,
}

fn invalid(path: String, reason: &str) -> ApiError {
    ApiError::unprocessable(lso_model::Violation::new(lso_model::ViolationCode::InvalidValue, path, reason))
}

impl CrossConnectDto {
    /// The cross-connect of `service`, or what is wrong with it.
    pub fn into_domain(self, service: &str) -> Result<CrossConnect, ApiError> {
        let mut endpoints = Vec::with_capacity(self.endpoints.len());
        for (n, endpoint) in self.endpoints.into_iter().enumerate() {
            let attachment = match (endpoint.uni, endpoint.tagged, endpoint.routed) {
                (Some(uni), None, None) => Attachment::Uni { ce_vlans: uni.ce_vlans, carried: uni.carried_ce_vlan },
                (None, Some(tagged), None) => Attachment::Tagged { s_vlan: tagged.s_vlan },
                (None, None, Some(routed)) => Attachment::Routed(routed),
                _ => {
                    return Err(invalid(
                        format!("/endpoints/{n}"),
                        "an endpoint is exactly one of `uni`, `tagged`, `routed`",
                    ));
                }
            };
            endpoints.push(Endpoint {
                port: endpoint.port,
                attachment,
                ingress_cir_kbps: endpoint.ingress_cir_kbps,
                role: endpoint.role,
            });
        }
        if endpoints.is_empty() {
            return Err(invalid("/endpoints".into(), "a cross-connect has at least one endpoint"));
        }
        Ok(CrossConnect { service: service.to_owned(), endpoints })
    }

    /// The DTO of `connect`.
    pub fn from_domain(connect: &CrossConnect) -> Self {
        let endpoints = connect
            .endpoints
            .iter()
            .map(|e| {
                let (uni, tagged, routed) = match &e.attachment {
                    Attachment::Uni { ce_vlans, carried } => {
                        (Some(UniDto { ce_vlans: ce_vlans.clone(), carried_ce_vlan: *carried }), None, None)
                    }
                    Attachment::Tagged { s_vlan } => (None, Some(TaggedDto { s_vlan: *s_vlan }), None),
                    Attachment::Routed(routed) => (None, None, Some(routed.clone())),
                };
                EndpointDto {
                    port: e.port.clone(),
                    uni,
                    tagged,
                    routed,
                    ingress_cir_kbps: e.ingress_cir_kbps,
                    role: e.role,
                }
            })
            .collect();
        CrossConnectDto { endpoints }
    }
}

/// A flow as the element reports it.
pub fn flow(flow: &Flow) -> Value {
    serde_json::to_value(flow).unwrap_or(Value::Null)
}

/// An alarm.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmDto {
    /// The element.
    pub element: String,
    /// The port, for a port alarm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// `elementUnreachable`, `portDown` or `portError`.
    pub kind: String,
    /// What the element said.
    pub detail: String,
    /// When it was raised (RFC 3339).
    pub raised_at: String,
}

impl AlarmDto {
    /// The DTO of `alarm`.
    pub fn from_domain(alarm: &Alarm) -> Self {
        AlarmDto {
            element: alarm.element.clone(),
            port: alarm.port.clone(),
            kind: alarm.kind.as_str().into(),
            detail: alarm.detail.clone(),
            raised_at: lso_model::DateTime::from_millis(alarm.raised_at).as_str().to_owned(),
        }
    }
}
