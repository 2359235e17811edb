//! [`PrestoClient`]: infrastructure control in another process, reached over the NRP API.

use crate::BASE;
use lso_presto::{BoxFuture, ConnectivityRequest, InterfaceKind, PortCounters, Presto, PrestoError, Sip};
use serde_json::{Value, json};

/// Presto over HTTP, as the SOF uses it.
pub struct PrestoClient {
    client: reqwest::Client,
    root: String,
    credentials: lso_transport::Credentials,
}

impl PrestoClient {
    /// The ICM serving Presto at `root` (`https://host:port`), called with an operator's
    /// `token` over `http` (its TLS set by the caller).
    pub fn new(root: &str, credentials: lso_transport::Credentials, http: reqwest::Client) -> Self {
        PrestoClient { client: http, root: root.trim_end_matches('/').to_owned(), credentials }
    }

    /// Calls RPC `operation` with `input`; returns the status and body.
    async fn rpc(&self, operation: &str, input: Value) -> Result<(u16, Value), PrestoError> {
        let url = format!("{}{BASE}/operations/{operation}/", self.root);
        let token = self.credentials.token().await.map_err(|e| PrestoError::Unavailable(e.to_string()))?;
        let request = self.client.post(url).bearer_auth(token).json(&json!({"input": input}));
        let response =
            lso_transport::trace::send(request).await.map_err(|e| PrestoError::Unavailable(e.to_string()))?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }
}

/// The reason of a MEF error body (one, or the first of a list).
fn reason(body: &Value) -> String {
    body["reason"].as_str().or_else(|| body[0]["reason"].as_str()).unwrap_or_default().to_owned()
}

fn failure(status: u16, body: &Value) -> PrestoError {
    match status {
        400 | 404 | 422 => PrestoError::Refused(reason(body)),
        409 => PrestoError::Element(reason(body)),
        _ => PrestoError::Unavailable(format!("ICM answered {status}: {}", reason(body))),
    }
}

/// An end point of a connectivity service as NRP writes it, with the CIR of the service.
fn end_point(endpoint: &lso_presto::ServiceEndpoint, sips: &[Sip], cir_mbps: u64) -> Value {
    let listed: Vec<Value> = endpoint.vlans.iter().map(|v| json!({"vlan-id": v})).collect();
    let enni = sips.iter().any(|s| s.name == endpoint.interface && s.kind == InterfaceKind::Enni);
    let mut resource = if enni {
        json!({"s-vlan-id-list": {"type": "LIST", "vlan-id-list": listed}})
    } else {
        json!({"ce-vlan-id-list-and-untag": {"vlan-id": listed}})
    };
    if cir_mbps > 0 {
        resource["ingress-bwp-flow"] = json!({"cir": cir_mbps * 1_000_000});
    }
    let mut end_point = json!({"service-interface-point": {"service-interface-point-id": endpoint.interface},
           "layer-protocol-name": "ETH", "direction": "BIDIRECTIONAL",
           "nrp-carrier-eth-connectivity-end-point-resource": resource});
    if endpoint.leaf {
        end_point["role"] = json!("LEAF");
    }
    if let Some(routed) = &endpoint.routed {
        end_point[crate::IP_ACCESS_RESOURCE] = json!(routed);
    }
    end_point
}

fn sip(value: &Value) -> Option<Sip> {
    let name = value["uuid"].as_str()?.to_owned();
    let kind = if value.get("nrp-carrier-eth-enni-n-resource").is_some() {
        InterfaceKind::Enni
    } else if value.get(crate::IP_UNI_RESOURCE).is_some() {
        InterfaceKind::IpUni
    } else {
        InterfaceKind::Uni
    };
    let site = value["name"]
        .as_array()?
        .iter()
        .find(|n| n["value-name"] == "site")
        .and_then(|n| n["value"].as_str())
        .map(str::to_owned);
    let capacity_mbps = value["total-potential-capacity"]["total-size"]["value"].as_u64().unwrap_or(0);
    Some(Sip { name, kind, site, capacity_mbps })
}

impl Presto for PrestoClient {
    fn service_interface_points(&self) -> BoxFuture<'_, Result<Vec<Sip>, PrestoError>> {
        Box::pin(async move {
            let (status, body) = self.rpc("get-service-interface-point-list", json!({})).await?;
            if status != 200 {
                return Err(failure(status, &body));
            }
            Ok(body["output"]["sip"].as_array().into_iter().flatten().filter_map(sip).collect())
        })
    }

    fn create_connectivity<'a>(&'a self, request: &'a ConnectivityRequest) -> BoxFuture<'a, Result<(), PrestoError>> {
        Box::pin(async move {
            let sips = self.service_interface_points().await?;
            let end_points: Vec<Value> =
                request.endpoints.iter().map(|e| end_point(e, &sips, request.cir_mbps)).collect();
            let service_type = lso_presto::service_type(end_points.len(), request.endpoints.iter().any(|e| e.leaf));
            let input = json!({"uuid": request.uuid, "end-point": end_points, "conn-constraint": {"service-type": service_type}});
            let (status, body) = self.rpc("create-connectivity-service", input).await?;
            if status == 200 { Ok(()) } else { Err(failure(status, &body)) }
        })
    }

    fn update_connectivity<'a>(&'a self, request: &'a ConnectivityRequest) -> BoxFuture<'a, Result<(), PrestoError>> {
        Box::pin(async move {
            // The NRP operation changes one end point at a time (its VLANs, addressing and the CIR).
            let sips = self.service_interface_points().await?;
            for endpoint in &request.endpoints {
                let input = json!({"service-id-or-name": request.uuid, "end-point": end_point(endpoint, &sips, request.cir_mbps)});
                let (status, body) = self.rpc("update-connectivity-service", input).await?;
                if status != 200 {
                    return Err(failure(status, &body));
                }
            }
            Ok(())
        })
    }

    fn delete_connectivity<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<bool, PrestoError>> {
        Box::pin(async move {
            match self.rpc("delete-connectivity-service", json!({"service-id-or-name": uuid})).await? {
                (200, _) => Ok(true),
                (404, _) => Ok(false),
                (status, body) => Err(failure(status, &body)),
            }
        })
    }

    fn connectivity_exists<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<bool, PrestoError>> {
        Box::pin(async move {
            match self.rpc("get-connectivity-service-details", json!({"service-id-or-name": uuid})).await? {
                (200, _) => Ok(true),
                (404, _) => Ok(false),
                (status, body) => Err(failure(status, &body)),
            }
        })
    }

    fn interface_counters<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<PortCounters>, PrestoError>> {
        Box::pin(async move {
            match self.rpc("get-service-interface-point-counters", json!({"sip-id-or-name": name})).await? {
                (200, body) => {
                    let c = &body["output"]["counters"];
                    let count = |key: &str| c[key].as_u64().unwrap_or(0);
                    Ok(Some(PortCounters {
                        rx_packets: count("rx-packets"),
                        rx_bytes: count("rx-bytes"),
                        rx_dropped: count("rx-dropped"),
                        tx_packets: count("tx-packets"),
                        tx_bytes: count("tx-bytes"),
                        tx_dropped: count("tx-dropped"),
                    }))
                }
                (404, _) => Ok(None),
                (status, body) => Err(failure(status, &body)),
            }
        })
    }
}
