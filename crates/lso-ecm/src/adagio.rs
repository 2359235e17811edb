//! Adagio (ICM ↔ ECM): what infrastructure control asks of element control, as a trait with
//! an in-process implementation, [`Ecm`], holding one driver per element.

use crate::{
    Adagio, AdagioError, BoxFuture, CrossConnect, ElementDriver, Flow, FrrDriver, OvsDriver, PortState, SimulatedDriver,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The driver of one element.
pub enum Element {
    /// An Open vSwitch.
    Ovs(Box<OvsDriver>),
    /// An FRRouting router.
    Frr(FrrDriver),
    /// An element in memory.
    Simulated(SimulatedDriver),
}

/// Element control in this process.
pub struct Ecm {
    elements: BTreeMap<String, Element>,
    metrics: Arc<lso_metrics::Metrics>,
}

impl Ecm {
    /// ECM managing `elements`.
    pub fn new(elements: impl IntoIterator<Item = (String, Element)>) -> Self {
        Ecm { elements: elements.into_iter().collect(), metrics: Arc::default() }
    }

    /// Counts its operations on the elements in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<lso_metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// ECM of simulated elements, each `(name, ports)`.
    pub fn simulated_elements(elements: impl IntoIterator<Item = (String, Vec<String>)>) -> Self {
        Ecm::new(elements.into_iter().map(|(name, ports)| (name, Element::Simulated(SimulatedDriver::new(ports)))))
    }

    /// The simulated element `name`, if it is one (to take it down in a test or a drill).
    pub fn simulated(&self, name: &str) -> Option<&SimulatedDriver> {
        match self.elements.get(name) {
            Some(Element::Simulated(driver)) => Some(driver),
            _ => None,
        }
    }

    fn element(&self, name: &str) -> Result<&Element, AdagioError> {
        self.elements.get(name).ok_or_else(|| AdagioError::UnknownElement(name.to_owned()))
    }
}

/// Runs `$call` (operation `$operation`) on whichever driver `$element` has, in a span of its
/// own, naming the element in an error, and counts it.
macro_rules! on_driver {
    ($self:ident, $name:ident, $operation:literal, |$driver:ident| $call:expr) => {
        {
            let span = tracing::info_span!("element", otel.name = concat!("ecm.", $operation), element = %$name);
            let run = async move {
                let started = std::time::Instant::now();
                let result = match $self.element($name)? {
                    Element::Ovs($driver) => $call.await,
                    Element::Frr($driver) => $call.await,
                    Element::Simulated($driver) => $call.await,
                };
                let outcome = if result.is_ok() { "ok" } else { "error" };
                $self.metrics.element_operation($name, $operation, outcome, started.elapsed());
                result.map_err(|error| AdagioError::Driver { element: $name.to_owned(), error })
            };
            Box::pin(tracing::Instrument::instrument(run, span))
        }
    };
}

impl Adagio for Ecm {
    fn elements(&self) -> Vec<(String, bool)> {
        self.elements.iter().map(|(name, e)| (name.clone(), matches!(e, Element::Simulated(_)))).collect()
    }

    fn apply<'a>(&'a self, element: &'a str, connect: &'a CrossConnect) -> BoxFuture<'a, Result<(), AdagioError>> {
        logged(on_driver!(self, element, "apply", |driver| driver.apply(connect)), element, &connect.service, "applied")
    }

    fn remove<'a>(&'a self, element: &'a str, service: &'a str) -> BoxFuture<'a, Result<(), AdagioError>> {
        logged(on_driver!(self, element, "remove", |driver| driver.remove(service)), element, service, "removed")
    }

    fn check<'a>(&'a self, element: &'a str, connect: &'a CrossConnect) -> BoxFuture<'a, Result<bool, AdagioError>> {
        on_driver!(self, element, "check", |driver| driver.check(connect))
    }

    fn ports<'a>(&'a self, element: &'a str) -> BoxFuture<'a, Result<Vec<PortState>, AdagioError>> {
        on_driver!(self, element, "ports", |driver| driver.ports())
    }

    fn flows<'a>(&'a self, element: &'a str, service: &'a str) -> BoxFuture<'a, Result<Vec<Flow>, AdagioError>> {
        on_driver!(self, element, "flows", |driver| driver.flows(service))
    }
}

/// `change` of `service`'s cross-connect on `element`, logged when it is made: what changed on
/// the network, in the trace that changed it.
fn logged<'a>(
    change: BoxFuture<'a, Result<(), AdagioError>>,
    element: &'a str,
    service: &'a str,
    what: &'static str,
) -> BoxFuture<'a, Result<(), AdagioError>> {
    Box::pin(async move {
        let result = change.await;
        if result.is_ok() {
            tracing::info!(%element, %service, "cross-connect {what}");
        }
        result
    })
}
