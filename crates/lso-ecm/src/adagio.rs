//! Adagio (ICM ↔ ECM): what infrastructure control asks of element control, as a trait with
//! an in-process implementation, [`Ecm`], holding one driver per element.

use crate::openflow::Flow;
use crate::{CrossConnect, DriverError, ElementDriver, OvsDriver, PortState, SimulatedDriver};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// A boxed future, so that [`Adagio`] can be used as `dyn Adagio`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What can go wrong asking ECM.
#[derive(Debug, thiserror::Error)]
pub enum AdagioError {
    /// ECM manages no element of that name.
    #[error("no element `{0}`")]
    UnknownElement(String),
    /// The element's driver failed.
    #[error("element `{element}`: {error}")]
    Driver {
        element: String,
        #[source]
        error: DriverError,
    },
}

/// Element control as infrastructure control sees it. Every operation is idempotent.
pub trait Adagio: Send + Sync {
    /// The elements ECM manages, each with whether it is simulated.
    fn elements(&self) -> Vec<(String, bool)>;
    /// Applies `connect` on `element` and confirms it by reading back.
    fn apply<'a>(&'a self, element: &'a str, connect: &'a CrossConnect) -> BoxFuture<'a, Result<(), AdagioError>>;
    /// Removes what `element` has for `service`.
    fn remove<'a>(&'a self, element: &'a str, service: &'a str) -> BoxFuture<'a, Result<(), AdagioError>>;
    /// Whether `element` runs `connect` exactly.
    fn check<'a>(&'a self, element: &'a str, connect: &'a CrossConnect) -> BoxFuture<'a, Result<bool, AdagioError>>;
    /// The ports of `element` as it reports them.
    fn ports<'a>(&'a self, element: &'a str) -> BoxFuture<'a, Result<Vec<PortState>, AdagioError>>;
    /// The flows `element` holds for `service` (the read-back).
    fn flows<'a>(&'a self, element: &'a str, service: &'a str) -> BoxFuture<'a, Result<Vec<Flow>, AdagioError>>;
}

/// The driver of one element.
pub enum Element {
    /// An Open vSwitch.
    Ovs(Box<OvsDriver>),
    /// An element in memory.
    Simulated(SimulatedDriver),
}

/// Element control in this process.
pub struct Ecm {
    elements: BTreeMap<String, Element>,
}

impl Ecm {
    /// ECM managing `elements`.
    pub fn new(elements: impl IntoIterator<Item = (String, Element)>) -> Self {
        Ecm { elements: elements.into_iter().collect() }
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

/// Runs `$call` on whichever driver `$element` has, naming the element in an error.
macro_rules! on_driver {
    ($self:ident, $name:ident, |$driver:ident| $call:expr) => {
        Box::pin(async move {
            let result = match $self.element($name)? {
                Element::Ovs($driver) => $call.await,
                Element::Simulated($driver) => $call.await,
            };
            result.map_err(|error| AdagioError::Driver { element: $name.to_owned(), error })
        })
    };
}

impl Adagio for Ecm {
    fn elements(&self) -> Vec<(String, bool)> {
        self.elements.iter().map(|(name, e)| (name.clone(), matches!(e, Element::Simulated(_)))).collect()
    }

    fn apply<'a>(&'a self, element: &'a str, connect: &'a CrossConnect) -> BoxFuture<'a, Result<(), AdagioError>> {
        on_driver!(self, element, |driver| driver.apply(connect))
    }

    fn remove<'a>(&'a self, element: &'a str, service: &'a str) -> BoxFuture<'a, Result<(), AdagioError>> {
        on_driver!(self, element, |driver| driver.remove(service))
    }

    fn check<'a>(&'a self, element: &'a str, connect: &'a CrossConnect) -> BoxFuture<'a, Result<bool, AdagioError>> {
        on_driver!(self, element, |driver| driver.check(connect))
    }

    fn ports<'a>(&'a self, element: &'a str) -> BoxFuture<'a, Result<Vec<PortState>, AdagioError>> {
        on_driver!(self, element, |driver| driver.ports())
    }

    fn flows<'a>(&'a self, element: &'a str, service: &'a str) -> BoxFuture<'a, Result<Vec<Flow>, AdagioError>> {
        on_driver!(self, element, |driver| driver.flows(service))
    }
}
