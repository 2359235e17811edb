//! The alarm monitor: asks element control for faults every so often, and passes each alarm
//! raised or cleared up the stack: to the SOF (a note on each service it touches), to the BUS
//! (incidents and the tickets they explain), and to the customers and partner operators whose
//! services it touches (their service control hubs).

use crate::Layers;
use lso_bus::Bus;
use lso_model::Clock;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::Instrument;

/// Passes element alarms up the stack.
#[derive(Clone)]
pub(crate) struct AlarmMonitor {
    layers: Layers,
    bus: Arc<Bus>,
    faults: lso_api_allegro::ServiceFaults,
    clock: Arc<dyn Clock>,
}

impl AlarmMonitor {
    /// The monitor of `layers`' elements, telling `bus` too.
    pub(crate) fn new(layers: &Layers, bus: Arc<Bus>, clock: Arc<dyn Clock>) -> Self {
        let faults = lso_api_allegro::ServiceFaults::new(layers.sof.clone(), bus.clone());
        AlarmMonitor { layers: layers.clone(), bus, faults, clock }
    }

    /// Asks the elements for faults every `every` until `stop`.
    pub(crate) async fn run(self, every: Duration, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            self.check().await;
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Asks the elements for faults once and passes the changes up; the number of changes.
    /// The poll is not traced (it runs every few seconds); each change is a trace of its own.
    pub(crate) async fn check(&self) -> usize {
        let Layers { alarms, adagio, .. } = &self.layers;
        let poll = tracing::info_span!("alarms.poll", trace_id = tracing::field::Empty);
        lso_transport::trace::unrecorded(&poll);
        let changes = alarms.poll(&**adagio, self.clock.now_millis()).instrument(poll).await;
        for change in &changes {
            let span = tracing::info_span!("alarm", trace_id = tracing::field::Empty);
            lso_transport::trace::continue_trace(&span, None);
            self.pass_up(change).instrument(span).await;
        }
        changes.len()
    }

    /// Passes `change` to the SOF, the BUS and the customers whose services it touches.
    async fn pass_up(&self, change: &lso_adagio::AlarmChange) {
        let Layers { sof, icm, .. } = &self.layers;
        tracing::warn!(?change, "element alarm");
        let services = icm.affected_by(change.alarm()).await;
        if let Err(err) = sof.on_alarm(change, &services).await {
            tracing::error!(error = %err, "could not note an alarm on the services it touches");
        }
        if let Err(err) = self.tell_bus(change, &services).await {
            tracing::error!(error = %err, "could not raise or close the incidents of an alarm");
        }
        if let Err(err) = self.faults.on_alarm(change, &services).await {
            tracing::error!(error = %err, "could not tell the customers of an alarm on their services");
        }
    }

    /// The BUS hears of a fault raised (with the products whose services, `services`, it
    /// touches) or cleared.
    async fn tell_bus(&self, change: &lso_adagio::AlarmChange, services: &[String]) -> Result<(), lso_bus::BusError> {
        let alarm = change.alarm();
        let place = alarm.port.as_ref().map_or(alarm.element.clone(), |port| format!("{}:{port}", alarm.element));
        let key = format!("{place}/{}", alarm.kind.as_str());
        if matches!(change, lso_adagio::AlarmChange::Cleared(_)) {
            return self.bus.fault_cleared(&key).await;
        }
        let mut products = Vec::new();
        for service in services {
            if let Ok(doc) = self.layers.sof.document(lso_sof::SERVICE, lso_bus::LEGATO_CLIENT, service).await
                && let Some(product) = doc["externalId"].as_str()
            {
                products.push(product.to_owned());
            }
        }
        let description = format!("{} at {place}: {}", alarm.kind.as_str(), alarm.detail);
        self.bus.fault_raised(&lso_bus::Fault { key, description, raised_at: alarm.raised_at, products }).await
    }
}
