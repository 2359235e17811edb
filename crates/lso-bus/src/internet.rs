//! Internet access products (MEF 69.1 / MEF 139) as IPVC services, and what the provider
//! assigned to them written back into the product.
//!
//! Read from a product's configuration, in the official schema's places first and in the
//! short shapes of lso's own built-in specifications after:
//! - the rate from the customer: the IPVC end point's, the IPVC's, the IP UNI's or the access
//!   link's ingress bandwidth profile envelope `cir` (the first found); towards the customer the
//!   egress ones likewise;
//! - the routing: the `routingProtocols` of the IP UNI product it relates to (or of its own
//!   `ipUni`) — BGP (`subscriberAsNumber`, the static entries' prefixes as those it may
//!   announce) or static entries (`staticPrefix`);
//! - the subscriber's public prefixes: those of its static entries and of the IPVC's
//!   `cloud.subscriberPrefixList`;
//! - the access link's subnet size: `ipv4PrimarySubnet.ipv4Prefix.prefixLength`.
//!
//! What the SOF assigned (the subnet, the provider's and the customer's addresses) goes back
//! into the product as the access link's `ipv4ConnectionAddressing` primary subnet.

use lso_legato::services::IPVC;
use serde_json::{Value, json};

/// A rate `{irValue, irUnits}` (MEF's information rate) in Mbit/s, rounded up.
pub(crate) fn rate_mbps(rate: &Value) -> Option<u64> {
    let value = rate["irValue"].as_f64()?;
    let per_mbps = match rate["irUnits"].as_str()? {
        "BPS" => 1e-6,
        "KBPS" => 1e-3,
        "MBPS" => 1.0,
        "GBPS" => 1e3,
        "TBPS" => 1e6,
        _ => return None,
    };
    Some((value * per_mbps).ceil() as u64)
}

/// The `cir` of an envelope given as an object or as a list of one: its own (Basic Internet
/// Access), its `bwpFlowAll`'s, or the highest of its lists of flows (per CoS name, per IPVC
/// end point).
fn envelope_cir(envelope: &Value) -> Option<u64> {
    let envelope = envelope.as_array().and_then(|l| l.first()).unwrap_or(envelope);
    rate_mbps(&envelope["cir"]).or_else(|| rate_mbps(&envelope["bwpFlowAll"]["cir"])).or_else(|| {
        let flows = envelope.as_object()?.values().filter_map(Value::as_array).flatten();
        flows.filter_map(|flow| rate_mbps(&flow["cir"])).max()
    })
}

/// Whether a relationship type points at an IP UNI product (`CONNECTS_TO_IPUNI`).
pub fn names_an_ip_uni(relationship_type: &str) -> bool {
    relationship_type.contains("IPUNI") || relationship_type.contains("IP_UNI")
}

/// The first rate found of `way` (`ingress` or `egress`) in the product, then in its IP UNI's.
fn rate(product: &Value, ip_uni: &Value, way: &str) -> u64 {
    let envelope = format!("{way}BandwidthProfileEnvelope");
    let link = format!("{way}BwpEnvelope");
    [
        &product["ipvc"]["ipvcEndPoint"][&envelope],
        &product["ipvcEndPoint"][&envelope],
        &product["ipvc"][&envelope],
        &product["ipUni"][&envelope],
        &product["ipUniAccessLink"][&link],
        &product[&envelope],
        &ip_uni[&envelope],
    ]
    .into_iter()
    .find_map(envelope_cir)
    .unwrap_or(0)
}

/// `{ipv4Address, prefixLength}` as `address/length`.
fn prefix(value: &Value) -> Option<String> {
    let prefix = &value["ipv4Prefix"];
    let length = prefix["prefixLength"].as_u64().or_else(|| prefix["ipv4PrefixLength"].as_u64())?;
    Some(format!("{}/{length}", prefix["ipv4Address"].as_str()?))
}

/// The routing asked for in `protocols`: (`static`/`bgp`, customer AS, customer prefixes).
fn routing(protocols: &Value) -> (&'static str, Option<u64>, Vec<String>) {
    let protocols = protocols.as_array().and_then(|l| l.first()).unwrap_or(protocols);
    let statics: Vec<String> = protocols["static"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["staticIpEntry"].as_array().cloned().unwrap_or_default())
        .filter_map(|entry| prefix(&entry["staticPrefix"]))
        .collect();
    let bgp = protocols["bgp"].as_array().and_then(|l| l.first());
    match bgp {
        Some(bgp) => {
            let session = [&bgp["ipv4"], &bgp["both"]].into_iter().find(|s| s.is_object()).unwrap_or(&Value::Null);
            ("bgp", session["subscriberAsNumber"].as_u64(), statics)
        }
        None => ("static", None, statics),
    }
}

/// The IPVC service configuration realising an Internet access product configured as
/// `product`; at the IP UNI of service `ip_uni.0`, configured as `ip_uni.1`, when the product
/// relates to an IP UNI product.
pub fn ipvc_configuration(product: &Value, ip_uni: Option<(String, Value)>) -> Value {
    let (service, uni) = ip_uni.map_or((None, Value::Null), |(s, c)| (Some(s), c));
    let protocols = [&uni["routingProtocols"], &product["ipUni"]["routingProtocols"]]
        .into_iter()
        .find(|p| !p.is_null())
        .unwrap_or(&Value::Null);
    let (routing, customer_as, mut prefixes) = routing(protocols);
    // The public prefixes of the subscriber's network (the IPVC's cloud attribute).
    for cloud in [&product["cloud"], &product["ipvc"]["cloud"]] {
        let cloud = cloud.as_array().and_then(|l| l.first()).unwrap_or(cloud);
        let lists = cloud["subscriberPrefixList"].as_array().into_iter().flatten();
        for listed in lists.flat_map(|l| l["prefixes"].as_array().cloned().unwrap_or_default()) {
            if let Some(prefix) = prefix(&listed).filter(|p| !prefixes.contains(p)) {
                prefixes.push(prefix);
            }
        }
    }
    let mut configuration = json!({
        "@type": IPVC, "cirMbps": rate(product, &uni, "ingress"), "egressMbps": rate(product, &uni, "egress"),
        "routing": routing, "customerPrefixes": prefixes,
    });
    if let Some(asn) = customer_as {
        configuration["customerAs"] = json!(asn);
    }
    let addressing = &product["ipUniAccessLink"]["ipv4ConnectionAddressing"];
    let addressing = addressing.as_array().and_then(|l| l.first()).unwrap_or(addressing);
    let length = addressing["ipv4PrimarySubnet"]["ipv4Prefix"]["prefixLength"]
        .as_u64()
        .or_else(|| addressing["ipv4PrefixLength"].as_u64());
    if let Some(length) = length {
        configuration["prefixLength"] = json!(length);
    }
    if let Some(service) = service {
        configuration["ipUni"] = json!(service);
    }
    configuration
}

/// What the provider assigned to a product realised by `service` (an IPVC with its access
/// link): the access link's addressing, in the official schema's shape.
pub fn assigned(service: &Value) -> Option<Value> {
    let link = &service["serviceConfiguration"]["accessLink"];
    let (network, length) = link["ipv4Prefix"].as_str()?.split_once('/')?;
    let subnet = json!({
        "ipv4Prefix": {"ipv4Address": network, "prefixLength": length.parse::<u64>().ok()?},
        "serviceProviderIpv4Addresses": [link["providerAddress"]],
        "subscriberIpv4Address": [link["customerAddress"]],
    });
    Some(json!({"ipUniAccessLink": {"ipv4ConnectionAddressing": [{"ipv4PrimarySubnet": subnet}]}}))
}

/// Merges `assigned` into `configuration`, object by object.
pub fn merge(configuration: &mut Value, assigned: &Value) {
    match (configuration, assigned) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source {
                match target.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => merge(existing, value),
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, source) => *target = source.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_official_basic_internet_access_reads_as_its_ipvc() {
        let product = json!({
            "ipvc": {"ipvcEndPoint": {"ingressBandwidthProfileEnvelope": [{"cir": {"irValue": 20, "irUnits": "MBPS"}}],
                                      "egressBandwidthProfileEnvelope": [{"cir": {"irValue": 50000, "irUnits": "KBPS"}}]}},
            "ipUni": {"routingProtocols": [{"bgp": [{"ipv4": {"subscriberAsNumber": 65010}}],
                "static": [{"staticIpEntry": [{"staticPrefix": {"ipv4Prefix": {"ipv4Address": "192.0.2.0", "prefixLength": 28}}}]}]}]},
            "ipUniAccessLink": {"ipv4ConnectionAddressing": [{"ipv4PrimarySubnet": {"ipv4Prefix": {"prefixLength": 29}}}]},
            "ipUniAccessLinkTrunk": {}
        });
        assert_eq!(
            ipvc_configuration(&product, None),
            json!({"@type": IPVC, "cirMbps": 20, "egressMbps": 50, "routing": "bgp", "customerAs": 65010,
                   "customerPrefixes": ["192.0.2.0/28"], "prefixLength": 29})
        );
        let short = json!({"ipvc": {"ingressBandwidthProfileEnvelope": {"cir": {"irValue": 100, "irUnits": "MBPS"}}},
                           "ipUniAccessLink": {"ipv4ConnectionAddressing": {"ipv4Address": "192.0.2.1", "ipv4PrefixLength": 30}}});
        assert_eq!(
            ipvc_configuration(&short, None),
            json!({"@type": IPVC, "cirMbps": 100, "egressMbps": 0, "routing": "static", "customerPrefixes": [],
                   "prefixLength": 30})
        );
        // An Advanced Internet Access IPVC takes its routing from the IP UNI product it relates to.
        let uni = json!({"routingProtocols": [{"bgp": [{"both": {"subscriberAsNumber": 65020}}]}],
                         "ingressBandwidthProfileEnvelope": [{"cir": {"irValue": 30, "irUnits": "MBPS"}}]});
        let ipvc = json!({"ipvcEndPoint": {"egressBandwidthProfileEnvelope": [{"bwpFlowPerCosName": [
                {"cosName": "a", "cir": {"irValue": 5, "irUnits": "MBPS"}}, {"cosName": "b", "cir": {"irValue": 8, "irUnits": "MBPS"}}]}]},
            "cloud": {"subscriberPrefixList": [{"origin": "OTHER",
            "prefixes": [{"ipv4Prefix": {"ipv4Address": "198.18.0.0", "prefixLength": 24}}]}]}});
        assert_eq!(
            ipvc_configuration(&ipvc, Some(("uni-svc".into(), uni))),
            json!({"@type": IPVC, "cirMbps": 30, "egressMbps": 8, "routing": "bgp", "customerAs": 65020,
                   "customerPrefixes": ["198.18.0.0/24"], "ipUni": "uni-svc"})
        );
        assert!(names_an_ip_uni("CONNECTS_TO_IPUNI") && !names_an_ip_uni("CONNECTS_TO_UNI"));
    }

    #[test]
    fn the_assigned_subnet_goes_back_into_the_access_link() {
        let service = json!({"serviceConfiguration": {"accessLink": {"interface": "ip1", "ipv4Prefix": "100.64.0.8/29",
            "providerAddress": "100.64.0.9", "customerAddress": "100.64.0.10"}}});
        let mut product = json!({"ipvc": {"x": 1}, "ipUniAccessLink": {"ingressBwpEnvelope": []}});
        merge(&mut product, &assigned(&service).unwrap());
        assert_eq!(
            product,
            json!({"ipvc": {"x": 1}, "ipUniAccessLink": {"ingressBwpEnvelope": [], "ipv4ConnectionAddressing": [{"ipv4PrimarySubnet": {
                "ipv4Prefix": {"ipv4Address": "100.64.0.8", "prefixLength": 29},
                "serviceProviderIpv4Addresses": ["100.64.0.9"], "subscriberIpv4Address": ["100.64.0.10"]}}]}})
        );
        assert!(assigned(&json!({"serviceConfiguration": {}})).is_none());
    }
}
