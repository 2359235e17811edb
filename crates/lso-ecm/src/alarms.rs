//! Element faults as alarms: an element that cannot be reached, a port whose link is down, a
//! port the element reports an error on. [`Alarms::poll`] asks every element for its ports,
//! raises what is newly wrong and clears what is right again, and returns the changes so the
//! layers above can tell the services they touch.

use crate::adagio::Adagio;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlarmKind {
    /// The element does not answer.
    ElementUnreachable,
    /// A port's link is down.
    PortDown,
    /// The element reports an error on a port.
    PortError,
}

impl AlarmKind {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::ElementUnreachable => "elementUnreachable",
            AlarmKind::PortDown => "portDown",
            AlarmKind::PortError => "portError",
        }
    }
}

/// An alarm: what is wrong, where, since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    /// The element.
    pub element: String,
    /// The port, for a port alarm.
    pub port: Option<String>,
    /// What is wrong.
    pub kind: AlarmKind,
    /// What the element said.
    pub detail: String,
    /// When it was raised (milliseconds since the epoch).
    pub raised_at: i64,
}

/// A change of the alarms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmChange {
    /// Newly wrong.
    Raised(Alarm),
    /// Right again.
    Cleared(Alarm),
}

impl AlarmChange {
    /// The alarm raised or cleared.
    pub fn alarm(&self) -> &Alarm {
        match self {
            AlarmChange::Raised(alarm) | AlarmChange::Cleared(alarm) => alarm,
        }
    }
}

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
