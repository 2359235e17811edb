//! Control of a running service within its policy: the customer over Allegro, or a partner
//! over Interlude, changes what the service's policy lets it change (the CIR of a connection,
//! within the range its interfaces can carry) without a product order. A change is a service
//! order with one `modify` item, realised like any other and after any change of the same
//! service accepted before it; the SOF checks the policy, so a change outside it is refused
//! whoever asks.

use crate::order::SERVICE_ID;
use crate::{SERVICE, SERVICE_ORDER, Sof, SofError};
use lso_mef_product::DateTime;
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
    pub cir_mbps: i64,
}

/// The range the policy of `service` allows for `cirMbps`, if it allows changing it.
pub fn cir_range(policy: &Value) -> Option<(i64, i64)> {
    let range = &policy["changeable"]["cirMbps"];
    Some((range["min"].as_i64()?, range["max"].as_i64()?))
}

impl Sof {
    /// Changes service `id` of `client` as `change` asks, if its policy allows it; the service
    /// order making the change.
    pub async fn change_within_policy(&self, client: &str, id: &str, change: &PolicyChange) -> Result<Value, SofError> {
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
        let cir = change.cir_mbps;
        let refusal = match cir_range(&policy) {
            None => Some(format!("the policy of service {id} lets nothing of it be changed")),
            Some((min, max)) if !(min..=max).contains(&cir) => {
                Some(format!("{cir} Mbit/s is outside what the policy of service {id} allows: {min} to {max} Mbit/s"))
            }
            Some(_) => None,
        };
        if let Some(reason) = refusal {
            return Err(SofError::Invalid(vec![Violation::new(ViolationCode::InvalidValue, "/cirMbps", reason)]));
        }
        let mut configuration = service["serviceConfiguration"].clone();
        configuration["cirMbps"] = json!(cir);
        let now = DateTime::from_millis(self.clock.now_millis());
        let order = json!({
            "externalId": format!("{CHANGE}{}", self.ids.next_id()),
            "requestedStartDate": now.as_str(), "requestedCompletionDate": now.as_str(),
            "note": [{"author": change.by, "date": now.as_str(), "source": change.by,
                      "text": format!("{} asks for a CIR of {cir} Mbit/s within the service's policy", change.by)}],
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
