//! What a list asks for: conditions on the indexed attributes of a resource, in the words of
//! the APIs (a value, one of some values, a time range), not of any storage.

/// One condition on an attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Some value of the attribute equals this.
    Eq(String),
    /// Some value of the attribute equals one of these.
    In(Vec<String>),
    /// Some value of the attribute, a time, is later than this (milliseconds since the epoch).
    After(i64),
    /// Some value of the attribute, a time, is earlier than this.
    Before(i64),
}

/// A condition on one attribute, by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The attribute, as the API names it (`state`, `orderDate`, `relatedEntityId`).
    pub name: String,
    /// What its value must satisfy.
    pub condition: Condition,
}

/// What a list operation asks for: whose resources (every tenant's, for the Seller's operators),
/// the conditions they meet, and the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Only this tenant's resources (its key); `None` for every tenant's.
    pub tenant: Option<String>,
    /// All must hold.
    pub filters: Vec<Filter>,
    /// Matches to skip.
    pub offset: u64,
    /// Matches to return at most.
    pub limit: u64,
}

impl Filter {
    /// `name` equals `value`.
    pub fn eq(name: &str, value: impl Into<String>) -> Self {
        Filter { name: name.to_owned(), condition: Condition::Eq(value.into()) }
    }
}

/// How many resources a list matches in all. Past a bound a list is not counted to its end (at
/// a million matches that would read them all): it is known only to hold more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    /// Exactly this many.
    Exact(u64),
    /// At least this many: more than the bound, and more than the end of the page asked for
    /// exactly when more follow it.
    AtLeast(u64),
}

impl Total {
    /// The count, or the least it can be.
    pub fn at_least(self) -> u64 {
        match self {
            Total::Exact(n) | Total::AtLeast(n) => n,
        }
    }
}

impl From<u64> for Total {
    fn from(n: u64) -> Self {
        Total::Exact(n)
    }
}
