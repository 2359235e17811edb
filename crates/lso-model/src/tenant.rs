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

/// The key the store keeps a party's resources under: the point it comes in by (a reference
/// point such as `sonata`, or `allegro`, `interlude`), the Seller and the Buyer.
pub fn party_key(point: &str, seller: &str, buyer: &str) -> String {
    format!("{point}{SEPARATOR}{seller}{SEPARATOR}{buyer}")
}

/// The point, Seller and Buyer of a key [`party_key`] made, if it is one.
pub fn party_of_key(key: &str) -> Option<(&str, &str, &str)> {
    let mut parts = key.split(SEPARATOR);
    let found = (parts.next()?, parts.next()?, parts.next()?);
    parts.next().is_none().then_some(found)
}

impl Tenant {
    /// A tenant of `irp`.
    pub fn new(irp: Irp, seller: &str, buyer: &str) -> Self {
        Tenant { irp, seller: seller.to_owned(), buyer: buyer.to_owned() }
    }

    /// The key the store keeps it under.
    pub fn key(&self) -> String {
        party_key(self.irp.as_str(), &self.seller, &self.buyer)
    }

    /// The key of this Buyer's resources at `point` (`allegro`, `interlude`) instead.
    pub fn key_at(&self, point: &str) -> String {
        party_key(point, &self.seller, &self.buyer)
    }

    /// The tenant a key names, if it is one.
    pub fn from_key(key: &str) -> Option<Self> {
        let (irp, seller, buyer) = party_of_key(key)?;
        Some(Tenant { irp: irp.parse().ok()?, seller: seller.to_owned(), buyer: buyer.to_owned() })
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
        assert_eq!(party_of_key(&t.key_at("allegro")), Some(("allegro", "LSO", "ACME")));
        assert_eq!(Tenant::from_key(&t.key_at("allegro")), None, "not a reference point");
    }
}
