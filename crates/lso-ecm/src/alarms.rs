//! Element faults as alarms: an element that cannot be reached, a port whose link is down, a
//! port the element reports an error on. [`Alarms::poll`] asks every element for its ports,
//! raises what is newly wrong and clears what is right again, and returns the changes so the
//! layers above can tell the services they touch.

use crate::{Adagio, Alarm, AlarmChange, AlarmKind};
use std::collections::BTreeMap;
use std::sync::Mutex;

type Key = (String, Option<String>, AlarmKind);

/// The alarms raised and not yet cleared.
#[derive(Debug, Default)]
pub struct Alarms {
    active: Mutex<BTreeMap<Key, Alarm>>,
}

impl Alarms {
    /// The active alarms, by element and port.
    pub fn active(&self) -> Vec<Alarm> {
        self.active.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// Asks every element of `ecm` for its ports at time `now`; returns what changed.
    pub async fn poll(&self, ecm: &dyn Adagio, now: i64) -> Vec<AlarmChange> {
        let mut found: BTreeMap<Key, String> = BTreeMap::new();
        for (element, _) in ecm.elements() {
            match ecm.ports(&element).await {
                Err(err) => {
                    found.insert((element.clone(), None, AlarmKind::ElementUnreachable), err.to_string());
                }
                Ok(ports) => {
                    for port in ports {
                        if let Some(error) = &port.error {
                            found.insert(
                                (element.clone(), Some(port.port.clone()), AlarmKind::PortError),
                                error.clone(),
                            );
                        } else if !port.link_up {
                            found.insert(
                                (element.clone(), Some(port.port.clone()), AlarmKind::PortDown),
                                "the link is down".into(),
                            );
                        }
                    }
                }
            }
        }
        let mut active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let mut changes = Vec::new();
        active.retain(|key, alarm| {
            let still = found.contains_key(key);
            if !still {
                changes.push(AlarmChange::Cleared(alarm.clone()));
            }
            still
        });
        for ((element, port, kind), detail) in found {
            let key = (element.clone(), port.clone(), kind);
            if let std::collections::btree_map::Entry::Vacant(slot) = active.entry(key) {
                let alarm = Alarm { element, port, kind, detail, raised_at: now };
                changes.push(AlarmChange::Raised(alarm.clone()));
                slot.insert(alarm);
            }
        }
        changes
    }
}
