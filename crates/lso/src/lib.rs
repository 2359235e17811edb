//! The `lso` process: configuration, the wiring of a Seller (`server`), the operators' API
//! (`admin`), Allegro (`allegro`), the demo and the laboratory network it builds. The binary (`main.rs`) is the command line over these.

pub mod admin;
pub mod allegro;
pub mod config;
pub mod demo;
pub mod lab;
pub mod orders;
pub mod partner_tickets;
pub mod partners;
pub mod server;
pub mod serviceability;
pub mod two_providers;
