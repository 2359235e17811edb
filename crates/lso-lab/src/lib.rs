//! The laboratory the demo, the end-to-end tests and the benchmarks work in: provider
//! networks built for real on this machine (`network`: Open vSwitch elements in network
//! namespaces with customer hosts, one provider or two joined at their ENNIs), product orders
//! as a Buyer writes them (`orders`), the official MEF files as contracts to validate against
//! (`contract`) and the SDK's notifications with a record of those received (`events`).

pub mod contract;
pub mod events;
pub mod network;
pub mod orders;

/// The directory holding the official MEF SDK files (`shared/mef` beside the checkout).
pub fn shared_mef() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/mef")
}
