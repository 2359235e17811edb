//! The Seller as a Sonata Buyer: where a customer's UNI is at a site a partner operator serves
//! (`[[partners]]`), the BUS buys the access from that partner over Sonata and stitches it to
//! its own network at the ENNI between them.
//!
//! - An off-net UNI is ordered from the partner as a UNI at the same site; the customer's
//!   product is realised by the partner's.
//! - An EVC joining an on-net UNI to an off-net one is cut in two at the ENNI: the partner sells
//!   an Access E-Line from its UNI to the ENNI on an S-VLAN this Seller chooses, and this
//!   Seller's SOF carries an OVC from the on-net UNI to the ENNI on the same S-VLAN.
//!
//! Every conversation is durable and idempotent: a partner order carries
//! `{productOrderId}/{itemId}` as its `externalId` and is looked up before it is placed again,
//! the S-VLAN chosen is kept in the store, and the partner's order is read back until it ends
//! (polling reconciles whatever its notifications would have said).

mod fulfilment;
mod listener;
pub mod orders;
mod peers;
mod tickets;

pub use fulfilment::{BuyerSide, LISTENER, LegChange, PartnerConfig, PartnerFulfilment, UNDO, held_vlans};
pub use listener::listener;
pub use peers::{OAuthConfig, credentials};
pub use tickets::{FOLLOW_UP, PartnerTickets};
