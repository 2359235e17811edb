//! How each product specification of the MEF SDK trees (Sonata and Cantata
//! `productSchema`) is realised: by a Legato service on the network, or as an inventory-only
//! product, with the reason. A specification imported from an SDK tree gets its realisation
//! from here; `docs/catalog.md` lists the same table for people.

/// How products of a specification are realised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realisation {
    /// By a service of this Legato `@type`, configured on the network.
    Service(&'static str),
    /// In the Product Inventory only, for this reason.
    InventoryOnly(&'static str),
}

const EVC: &str = "urn:mef:lso:spec:legato:carrier-ethernet-evc:v0.0.1:all";
/// Why an EVC end point product is not a service of its own.
const ENDPOINT: &str = "an EVC end point is configured on the network by the EVC it is an end point of (ROOT_ENDPOINT_OF_EVC, LEAF_ENDPOINT_OF_EVC or ENDPOINT_OF_EVC in the same order), at the UNI it connects to";
const IPVC: &str = "urn:mef:lso:spec:legato:ipvc:v0.0.4:all";

/// Every specification of the SDK trees by the name in its URN, with its realisation.
pub const SDK: [(&str, Realisation); 20] = [
    (
        "carrier-ethernet-subscriber-uni",
        Realisation::Service("urn:mef:lso:spec:legato:carrier-ethernet-subscriber-uni:v0.0.1:all"),
    ),
    (
        "carrier-ethernet-operator-uni",
        Realisation::Service("urn:mef:lso:spec:legato:carrier-ethernet-operator-uni:v0.0.1:all"),
    ),
    (
        "carrier-ethernet-enni-sp-so",
        Realisation::InventoryOnly(
            "an ENNI between two operators is built by agreement and registered by the Seller's operators; services use it by its enniIdentifier",
        ),
    ),
    ("access-eline-ovc", Realisation::Service("urn:mef:lso:spec:legato:carrier-ethernet-ovc:v0.0.1:all")),
    ("epl-evc", Realisation::Service(EVC)),
    ("evpl-evc", Realisation::Service(EVC)),
    ("eplan-evc", Realisation::Service(EVC)),
    ("evplan-evc", Realisation::Service(EVC)),
    ("eptree-evc", Realisation::Service(EVC)),
    ("evptree-evc", Realisation::Service(EVC)),
    ("eplan-evc-endpoint", Realisation::InventoryOnly(ENDPOINT)),
    ("evplan-evc-endpoint", Realisation::InventoryOnly(ENDPOINT)),
    ("eptree-evc-endpoint", Realisation::InventoryOnly(ENDPOINT)),
    ("evptree-evc-endpoint", Realisation::InventoryOnly(ENDPOINT)),
    ("basic-internet-access", Realisation::Service(IPVC)),
    ("advanced-internet-access-ipvc", Realisation::Service(IPVC)),
    ("exclusive-advanced-internet-access", Realisation::Service(IPVC)),
    ("ip-uni", Realisation::Service("urn:mef:lso:spec:legato:ip-uni:v0.0.4:all")),
    (
        "ip-uni-access-link",
        Realisation::InventoryOnly(
            "an IP UNI access link is configured on the router by the IPVC that uses it (its subnet, addresses and rates)",
        ),
    ),
    (
        "ethernet-uni-access-link-trunk",
        Realisation::InventoryOnly(
            "the physical link under an IP UNI is the router port the IP UNI is; nothing is configured on it",
        ),
    ),
];

/// The name part of a specification URN (`urn:mef:lso:spec:{point}:{name}:{version}:{kind}`).
pub fn name_of(id: &str) -> Option<&str> {
    id.strip_prefix("urn:mef:lso:spec:")?.split(':').nth(1)
}

/// How specification `id` of an SDK tree is realised, if the table knows it.
pub fn of(id: &str) -> Option<Realisation> {
    let name = name_of(id)?;
    SDK.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}
