//! The `lso` process: configuration, the wiring of a Seller (`server`), the operators' API
//! (`admin`) and the demo. The binary (`main.rs`) is the command line over these.

pub mod admin;
pub mod config;
pub mod demo;
pub mod server;
