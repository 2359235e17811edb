//! Control of a running service within its policy: the customer over Allegro, or a partner
//! over Interlude, changes what the service's policy lets it change (the CIR of a connection,
//! within the range its interfaces can carry) without a product order. A change is a service
//! order with one `modify` item, realised like any other and after any change of the same
//! service accepted before it; the SOF checks the policy, so a change outside it is refused
//! whoever asks.

use crate::order::SERVICE_ID;
use crate::{SERVICE, SERVICE_ORDER, Sof, SofError};
use lso_model::DateTime;
use lso_model::{Violation, ViolationCode};
use lso_store::{Condition, Filter, ListQuery};
use serde_json::{Value, json};

/// The prefix of the `externalId` of the service orders that changes within policy make.
const CHANGE: &str = "change:";

/// A change of a service within its policy.
#[derive(Debug, Clone)]
pub struct PolicyChange {
    /// Who asks, as the service order's note says (`allegro`, `interlude`).
    pub by: String,
    /// The committed rate wanted, in Mbit/s.
    pub cir_mbps: Option<i64>,
    /// The CE-VLANs wanted at the service's UNIs.
    pub ce_vlans: Option<Vec<i64>>,
}

/// The range the policy of `service` allows for attribute `name` (`cirMbps`, `ceVlans`), if it
/// allows changing it.
pub fn policy_range(policy: &Value, name: &str) -> Option<(i64, i64)> {
    let range = &policy["changeable"][name];
    Some((range["min"].as_i64()?, range["max"].as_i64()?))
}

/// The endpoints of a connection at a UNI with a CE-VLAN list: those naming a UNI service
/// (an ENNI is named as an interface) with VLANs.
pub fn ce_vlan_endpoints(configuration: &Value) -> Vec<usize> {
    let endpoints = configuration["endPoints"].as_array().cloned().unwrap_or_default();
    (0..endpoints.len())
        .filter(|&n| {
            endpoints[n]["service"].is_string() && endpoints[n]["vlans"].as_array().is_some_and(|v| !v.is_empty())
        })
        .collect()
}

/// Why `values` of `name` are outside `policy` (of service `id`), if they are.
fn outside(policy: &Value, id: &str, name: &str, values: &[i64], unit: &str) -> Option<Violation> {
    let reason = match policy_range(policy, name) {
        None => format!("the policy of service {id} does not let `{name}` be changed"),
        Some((min, max)) => match values.iter().find(|v| !(min..=max).contains(*v)) {
            Some(value) => {
                format!("{value}{unit} is outside what the policy of service {id} allows: {min} to {max}{unit}")
            }
            None if values.is_empty() => format!("at least one value of `{name}` is needed"),
            None => return None,
        },
    };
    Some(Violation::new(ViolationCode::InvalidValue, format!("/{name}"), reason))
}

impl Sof {
    /// Whether service `id` of `client` may change as `change` asks: the configuration it
    /// would have, and what was asked, in words.
    async fn planned(&self, client: &str, id: &str, change: &PolicyChange) -> Result<(Value, String), SofError> {
        let (_, service) = self.load(SERVICE, Some(client), id).await?;
        if service["state"] != "active" {
            return Err(SofError::Invalid(vec![Violation::new(
                ViolationCode::InvalidValue,
                "/service/id",
                format!("service {id} is {}; only an active service is changed", service["state"]),
            )]));
        }
        let policy = match self.policy_of(id).await {
            Ok(policy) => policy,
            Err(SofError::NotFound(_)) => Value::Null,
            Err(other) => return Err(other),
        };
        let mut found = Vec::new();
        let mut configuration = service["serviceConfiguration"].clone();
        let mut asked = Vec::new();
        if let Some(cir) = change.cir_mbps {
            found.extend(outside(&policy, id, "cirMbps", &[cir], " Mbit/s"));
            configuration["cirMbps"] = json!(cir);
            asked.push(format!("a CIR of {cir} Mbit/s"));
        }
        if let Some(vlans) = &change.ce_vlans {
            found.extend(outside(&policy, id, "ceVlans", vlans, ""));
            let mut distinct = vlans.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() != vlans.len() {
                found.push(Violation::new(ViolationCode::InvalidValue, "/ceVlans", "a CE-VLAN is listed twice"));
            }
            for n in ce_vlan_endpoints(&configuration) {
                configuration["endPoints"][n]["vlans"] = json!(vlans);
            }
            asked.push(format!("CE-VLANs {vlans:?}"));
        }
        if asked.is_empty() {
            found.push(Violation::new(
                ViolationCode::MissingProperty,
                "/cirMbps",
                "a change names `cirMbps` or `ceVlans`",
            ));
        }
        if !found.is_empty() {
            return Err(SofError::Invalid(found));
        }
        Ok((configuration, asked.join(" and ")))
    }

    /// Checks `change` of service `id` of `client` against its policy without making it.
    pub async fn check_change(&self, client: &str, id: &str, change: &PolicyChange) -> Result<(), SofError> {
        self.planned(client, id, change).await.map(drop)
    }

    /// Changes service `id` of `client` as `change` asks, if its policy allows it; the service
    /// order making the change.
    pub async fn change_within_policy(&self, client: &str, id: &str, change: &PolicyChange) -> Result<Value, SofError> {
        let (configuration, asked) = self.planned(client, id, change).await?;
        let now = DateTime::from_millis(self.clock.now_millis());
        let order = json!({
            "externalId": format!("{CHANGE}{}", self.ids.next_id()),
            "requestedStartDate": now.as_str(), "requestedCompletionDate": now.as_str(),
            "note": [{"author": change.by, "date": now.as_str(), "source": change.by,
                      "text": format!("{} asks for {asked} within the service's policy", change.by)}],
            "serviceOrderItem": [{"id": "1", "action": "modify", "service": {"id": id, "serviceConfiguration": configuration}}],
        });
        self.accept(client, order).await
    }

    /// The changes within policy of service `id` of `client`, newest first.
    pub async fn changes_of(&self, client: &str, id: &str) -> Result<Vec<Value>, SofError> {
        let query = ListQuery {
            kind: SERVICE_ORDER.into(),
            tenant: Some(client.into()),
            filters: vec![Filter { name: SERVICE_ID.into(), condition: Condition::Eq(id.into()) }],
            offset: 0,
            limit: 1000,
        };
        let page = self.store.list(query).await?;
        let mut changes = Vec::new();
        for record in page.records {
            let order: Value = serde_json::from_str(&record.doc)
                .map_err(|e| SofError::Corrupt(format!("service order {}: {e}", record.id)))?;
            if Sof::is_policy_change(&order) {
                changes.push(order);
            }
        }
        Ok(changes)
    }

    /// Whether `order` is a change within policy.
    pub fn is_policy_change(order: &Value) -> bool {
        order["externalId"].as_str().is_some_and(|e| e.starts_with(CHANGE))
    }
}

/// The event telling a customer (Allegro) or partner (Interlude) that a fault on the path of
/// one of its services was raised or cleared.
pub const SERVICE_FAULT_EVENT: &str = "serviceFaultEvent";
/// The API key of service control hubs.
pub const SERVICE_CONTROL_API: &str = "serviceControl";

/// Who hears of a fault on a service, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultListener {
    /// The client whose service control hubs hear of it.
    pub client: String,
    /// Where on each hub's callback: `{listener}{eventType}`.
    pub listener: String,
    /// Where the client reads the service.
    pub href: String,
}

impl Sof {
    /// Tells each of `listeners` of `fault` on service `id`.
    pub async fn announce_fault(&self, listeners: &[FaultListener], id: &str, fault: Value) -> Result<(), SofError> {
        let at = self.clock.now_millis();
        let mut ops = Vec::new();
        for to in listeners {
            let audience = crate::Audience { api: SERVICE_CONTROL_API, client: &to.client, listener: &to.listener };
            let event = json!({"id": id, "href": to.href, "fault": fault});
            ops.push(self.notice(audience, SERVICE_FAULT_EVENT, event, id, at));
        }
        if ops.is_empty() { Ok(()) } else { self.commit(ops).await }
    }
}
