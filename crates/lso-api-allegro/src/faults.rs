//! Faults as customers (Allegro) and partner operators (Interlude) see them: an element alarm
//! on the path of one of their services, pushed to their service control hub as a
//! `serviceFaultEvent` when it is raised or cleared.

use crate::Audience;
use lso_bus::Bus;
use lso_model::Irp;
use lso_sof::{FaultListener, SERVICE, Sof, SofError};
use serde_json::{Value, json};
use std::sync::Arc;

/// A fault as customers and partners see it: an element alarm on a service's path.
pub fn fault_of(alarm: &lso_adagio::Alarm) -> Value {
    let mut fault = json!({"kind": alarm.kind.as_str(), "element": alarm.element, "detail": alarm.detail,
        "raisedAt": lso_model::DateTime::from_millis(alarm.raised_at).as_str()});
    if let Some(port) = &alarm.port {
        fault["port"] = json!(port);
    }
    fault
}

/// Tells the owners of services of the faults on them.
#[derive(Clone)]
pub struct ServiceFaults {
    sof: Arc<Sof>,
    bus: Arc<Bus>,
}

impl ServiceFaults {
    /// Faults of `sof`'s services, whose products are `bus`'s.
    pub fn new(sof: Arc<Sof>, bus: Arc<Bus>) -> Self {
        ServiceFaults { sof, bus }
    }

    /// Each customer (Allegro) and partner operator (Interlude) owning one of `services` (those
    /// `change`'s alarm touches) hears of it raised or cleared, at its service control hub.
    pub async fn on_alarm(&self, change: &lso_adagio::AlarmChange, services: &[String]) -> Result<(), SofError> {
        let (alarm, state) = match change {
            lso_adagio::AlarmChange::Raised(alarm) => (alarm, "raised"),
            lso_adagio::AlarmChange::Cleared(alarm) => (alarm, "cleared"),
        };
        let mut fault = fault_of(alarm);
        fault["state"] = json!(state);
        for service in services {
            let Ok(doc) = self.sof.document(SERVICE, lso_bus::LEGATO_CLIENT, service).await else { continue };
            let product = doc["externalId"].as_str().unwrap_or_default();
            self.announce(service, product, &fault).await?;
        }
        Ok(())
    }

    /// The Buyer of `product` hears of `fault` on `service`, which realises it: a customer over
    /// Allegro, and a partner operator (a Sonata Buyer) over Interlude too.
    pub async fn announce(&self, service: &str, product: &str, fault: &Value) -> Result<(), SofError> {
        let Ok(Some(tenant)) = self.bus.owner_of_product(product).await else { return Ok(()) };
        let mut audiences = vec![Audience::Allegro];
        if tenant.irp == Irp::Sonata {
            audiences.push(Audience::Interlude);
        }
        let listeners: Vec<FaultListener> = audiences
            .into_iter()
            .map(|audience| FaultListener {
                client: audience.client(&tenant),
                listener: format!("{}/listener/", audience.notification_base()),
                href: format!("{}/service/{service}", audience.base()),
            })
            .collect();
        self.sof.announce_fault(&listeners, service, fault.clone()).await
    }
}
