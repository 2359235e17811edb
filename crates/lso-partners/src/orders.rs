//! What this Seller writes to a partner as its Buyer: its own contacts (from the
//! configuration), the billing account the partner keeps for it, and dates from its clock.

use lso_model::DateTime;
use serde_json::{Value, json};

/// How long after it is asked for an item is wanted complete, in milliseconds.
const LEAD_MILLIS: i64 = 30 * 24 * 3_600_000;

/// Who this Seller is when it buys: the person partners reach about its orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyerContact {
    /// The contact's name.
    pub name: String,
    /// Their e-mail address.
    pub email_address: String,
    /// Their telephone number.
    pub number: String,
}

impl BuyerContact {
    /// The contact in `role`, as MEF's `relatedContactInformation` holds it.
    pub fn with_role(&self, role: &str) -> Value {
        json!({"name": self.name, "emailAddress": self.email_address, "number": self.number, "role": role})
    }
}

/// The parts of one request to a partner: whose contact, which billing account, and when.
pub(crate) struct Letter<'a> {
    pub(crate) contact: &'a BuyerContact,
    pub(crate) billing_account: &'a str,
    pub(crate) now: i64,
}

impl Letter<'_> {
    /// The contact in `role`.
    pub(crate) fn contact(&self, role: &str) -> Value {
        self.contact.with_role(role)
    }

    /// The contacts an order item needs (MEF 123 R14).
    pub(crate) fn item_contacts(&self) -> Value {
        json!([
            self.contact("buyerProductOrderItemContact"),
            self.contact("buyerImplementationContact"),
            self.contact("buyerTechnicalContact")
        ])
    }

    /// The completion date asked for: 30 days from now.
    pub(crate) fn due(&self) -> DateTime {
        DateTime::from_millis(self.now + LEAD_MILLIS)
    }

    /// An `add` item for a product configured as `configuration`, billed to this Seller's
    /// account at the partner for a 12-month term (the partner's offering is filled in when
    /// the order is placed).
    pub(crate) fn add_item(&self, configuration: Value) -> Value {
        json!({
            "id": "1", "action": "add", "requestedCompletionDate": self.due().as_str(),
            "billingAccount": {"id": self.billing_account},
            "requestedItemTerm": {"name": "12 months", "duration": {"amount": 12, "units": "calendarMonths"}, "endOfTermAction": "autoRenew"},
            "relatedContactInformation": self.item_contacts(),
            "product": {"productConfiguration": configuration},
        })
    }

    /// A `delete` item for the partner's product `product`.
    pub(crate) fn delete_item(&self, id: &str, product: &Value) -> Value {
        json!({"id": id, "action": "delete", "product": {"id": product},
            "requestedCompletionDate": self.due().as_str(), "relatedContactInformation": self.item_contacts()})
    }

    /// An order of `items`.
    pub(crate) fn order(&self, items: Vec<Value>) -> Value {
        json!({"relatedContactInformation": [self.contact("productOrderContact")], "productOrderItem": items})
    }
}
