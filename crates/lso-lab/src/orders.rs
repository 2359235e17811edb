//! Product orders as a Buyer writes them, for the demo and the benchmarks: UNIs at sites, EVCs
//! joining them, Access E-Lines to an ENNI, with the contacts and terms MEF 123 requires.

use lso_model::{Clock, DateTime, SystemClock};
use serde_json::{Value, json};

pub use lso_bus::ingress_profile as profile;
pub use lso_spec::ids::{ACCESS_ELINE, EPL, EVPL, EVPLAN, SUBSCRIBER_UNI};

/// The Basic Internet Access specification.
pub const BASIC_INTERNET_ACCESS: &str = "urn:mef:lso:spec:cantata-sonata:basic-internet-access:v1.0.0:all";

/// A Buyer's contact with `role`.
pub fn contact(role: &str) -> Value {
    json!({"name": "Demo Buyer", "emailAddress": "demo@buyer.example", "number": "+1-555-0199", "role": role})
}

/// The contacts an item needs (MEF 123 R14).
pub fn item_contacts() -> Value {
    json!([
        contact("buyerProductOrderItemContact"),
        contact("buyerImplementationContact"),
        contact("buyerTechnicalContact")
    ])
}

/// A requested completion date 30 days from now.
pub fn due() -> DateTime {
    DateTime::from_millis(SystemClock.now_millis() + 30 * 24 * 3_600_000)
}

/// An `add` item for a product configured as `configuration`.
pub fn add_item(id: &str, configuration: Value) -> Value {
    // The Product Catalog's offering of the configuration's specification.
    let offering = configuration["@type"]
        .as_str()
        .and_then(|spec| lso_spec::Catalog::built_in().ok()?.get(spec).map(|s| s.offering_id()))
        .unwrap_or_else(|| "demo-offering".into());
    json!({
        "id": id, "action": "add", "requestedCompletionDate": due().as_str(),
        "billingAccount": {"id": "demo-billing-account"},
        "requestedItemTerm": {"name": "12 months", "duration": {"amount": 12, "units": "calendarMonths"}, "endOfTermAction": "autoRenew"},
        "relatedContactInformation": item_contacts(),
        "product": {"productOffering": {"id": offering}, "productConfiguration": configuration},
    })
}

fn example(spec: &str) -> Value {
    lso_spec::Catalog::built_in().ok().and_then(|c| c.get(spec).map(|s| s.example.clone())).unwrap_or(Value::Null)
}

/// A Basic Internet Access of `mbps` each way, at any free IP UNI.
pub fn internet(id: &str, mbps: u64) -> Value {
    add_item(id, basic_internet_access(mbps))
}

/// The configuration of a Basic Internet Access of `mbps` each way (the IPVC end point's
/// envelopes, as MEF 139 places them).
pub fn basic_internet_access(mbps: u64) -> Value {
    let mut configuration = example(BASIC_INTERNET_ACCESS);
    for way in ["ingressBandwidthProfileEnvelope", "egressBandwidthProfileEnvelope"] {
        configuration["ipvc"]["ipvcEndPoint"][way] = json!([{"cir": {"irValue": mbps, "irUnits": "MBPS"}}]);
    }
    configuration
}

/// The subnet a Seller gave an Internet access product (`product`, as its inventory has it):
/// the customer's address with the prefix length, and the provider's address.
pub fn assigned_addresses(product: &Value) -> Option<(String, String)> {
    let subnet =
        &product["productConfiguration"]["ipUniAccessLink"]["ipv4ConnectionAddressing"][0]["ipv4PrimarySubnet"];
    let length = subnet["ipv4Prefix"]["prefixLength"].as_u64()?;
    let customer = subnet["subscriberIpv4Address"][0].as_str()?;
    Some((format!("{customer}/{length}"), subnet["serviceProviderIpv4Addresses"][0].as_str()?.to_owned()))
}

/// A Subscriber UNI at `site`.
pub fn uni(id: &str, site: &str) -> Value {
    let mut item = add_item(id, example(SUBSCRIBER_UNI));
    item["product"]["place"] = json!([{"@type": "GeographicSiteRef", "id": site, "role": "INSTALL_LOCATION"}]);
    item
}

/// An EVC of `spec` with an endpoint per VLAN of `vlans` (EPL: none, all-to-one), joining the
/// UNIs of the items `related` names and the existing UNI products `existing`.
pub fn evc(id: &str, spec: &str, vlans: &[u16], cir: u64, related: &[(&str, &str)], existing: &[&str]) -> Value {
    let endpoint = |name: &str, vlan: Option<u16>| {
        let mut endpoint = json!({"identifier": name, "ingressBandwidthProfilePerClassOfServiceName": profile(cir)});
        if let Some(vlan) = vlan {
            endpoint["evcEndPointMap"] = json!({"vlanType": "LIST", "vlanId": [vlan]});
        }
        endpoint
    };
    let mut configuration = json!({"@type": spec, "maximumFrameSize": 1522, "listOfCosNames": ["standard"]});
    if spec == EVPLAN {
        configuration["evcEndPoint"] =
            vlans.iter().enumerate().map(|(n, v)| endpoint(&format!("EP{n}"), Some(*v))).collect();
    } else {
        configuration["evcEndPointA"] = endpoint("A", vlans.first().copied());
        configuration["evcEndPointZ"] = endpoint("Z", vlans.get(1).copied());
    }
    let mut item = add_item(id, configuration);
    item["productOrderItemRelationship"] =
        related.iter().map(|(item, kind)| json!({"id": item, "relationshipType": kind})).collect();
    if !existing.is_empty() {
        item["product"]["productRelationship"] =
            existing.iter().map(|p| json!({"id": p, "relationshipType": "CONNECTS_TO_UNI"})).collect();
    }
    item
}

/// An Access E-Line from the UNI of item `uni_item` to ENNI product `enni`, on CE-VLAN 300
/// and S-VLAN 3000.
pub fn access_eline(id: &str, uni_item: &str, enni: &str) -> Value {
    let configuration = json!({"@type": ACCESS_ELINE, "maximumFrameSize": 1600,
        "uniEp": {"ceVlanIdList": [300], "ingressBandwidthProfilePerClassOfServiceName": profile(20)},
        "enniEp": {"sVlanId": 3000, "ingressBandwidthProfilePerClassOfServiceName": profile(20)}});
    let mut item = add_item(id, configuration);
    item["productOrderItemRelationship"] = json!([{"id": uni_item, "relationshipType": "CONNECTS_TO_UNI"}]);
    item["product"]["productRelationship"] = json!([{"id": enni, "relationshipType": "ENNI_REFERENCE"}]);
    item
}

/// An order of `items` with `label` as its `externalId`.
pub fn order(label: &str, items: Vec<Value>) -> Value {
    json!({"externalId": label, "relatedContactInformation": [contact("productOrderContact")], "productOrderItem": items})
}

/// Whether `order` has ended: completed, or as far as it could get.
pub fn ended(order: &Value) -> bool {
    matches!(order["state"].as_str(), Some("completed" | "partial" | "failed" | "rejected" | "cancelled"))
}
