//! Who owns a resource: the reference point it came in by, the Seller and the Buyer.

crate::mef_enum! {
    /// The business reference points whose APIs share one implementation.
    pub enum Irp {
        Sonata = "sonata",
        Cantata = "cantata",
    }
}

/// The owner of a resource. Resources of one tenant are invisible to every other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant {
    /// The reference point the Buyer uses.
    pub irp: Irp,
    /// The Seller it is addressed to.
    pub seller: String,
    /// The Buyer.
    pub buyer: String,
}

const SEPARATOR: char = '\u{1f}';

impl Tenant {
    /// A tenant of `irp`.
    pub fn new(irp: Irp, seller: &str, buyer: &str) -> Self {
        Tenant { irp, seller: seller.to_owned(), buyer: buyer.to_owned() }
    }

    /// The key the store keeps it under.
    pub fn key(&self) -> String {
        format!("{}{SEPARATOR}{}{SEPARATOR}{}", self.irp, self.seller, self.buyer)
    }

    /// The tenant a key names, if it is one.
    pub fn from_key(key: &str) -> Option<Self> {
        let mut parts = key.split(SEPARATOR);
        let irp = parts.next()?.parse().ok()?;
        let seller = parts.next()?.to_owned();
        let buyer = parts.next()?.to_owned();
        parts.next().is_none().then_some(Tenant { irp, seller, buyer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_differ_per_party() {
        let t = Tenant::new(Irp::Cantata, "LSO", "ACME");
        assert_eq!(Tenant::from_key(&t.key()), Some(t.clone()));
        assert_ne!(t.key(), Tenant::new(Irp::Sonata, "LSO", "ACME").key());
        assert_eq!(Tenant::from_key("sonata"), None);
    }
}
