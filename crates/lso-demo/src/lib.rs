//! `lso demo`: a provider network built on this machine, Buyers ordering over Sonata and
//! Cantata, each order followed down to the elements and proved with traffic (`single`); then
//! two providers joined at their ENNIs, one buying from the other over Sonata
//! (`two_providers`). The network laboratories (`lab`) and the orders a demo Buyer writes
//! (`orders`) serve the end-to-end tests and benchmarks too.

pub mod lab;
pub mod orders;
mod single;
pub mod two_providers;

pub use single::run;
