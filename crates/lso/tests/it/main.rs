//! End-to-end tests: real `lso` Sellers on `127.0.0.1:0`, real HTTP, real SQLite files, and the
//! official MEF API files loaded from `../shared/mef` as the contract responses must meet.

mod adagio;
mod allegro;
mod bad_input;
mod billing;
mod catalog;
mod cluster;
mod conformance;
mod crash;
mod discovery;
mod fuzz;
mod geography;
mod identity;
mod install;
mod internet;
mod interop;
mod isolation;
mod journey;
mod legato;
mod network;
mod notifications;
mod observability;
mod partners;
mod performance;
mod postgres;
mod presto;
mod properties;
mod qualification;
mod quote;
mod support;
mod ticket;
mod tls;
mod traces;
mod workforce;
