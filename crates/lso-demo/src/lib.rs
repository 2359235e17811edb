//! `lso demo`: a provider network built on this machine, Buyers ordering over Sonata and
//! Cantata, each order followed down to the elements and proved with traffic (`single`); then
//! two providers joined at their ENNIs, one buying from the other over Sonata
//! (`two_providers`). Its networks and orders are the laboratory's (`lso_lab`).

mod single;
pub mod two_providers;

pub use single::run;
