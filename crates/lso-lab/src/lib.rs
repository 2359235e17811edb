//! The laboratory the demo, the end-to-end tests and the benchmarks work in: provider
//! networks built for real on this machine (`network`: Open vSwitch elements in network
//! namespaces with customer hosts, one provider or two joined at their ENNIs), and product
//! orders as a Buyer writes them (`orders`).

pub mod network;
pub mod orders;
