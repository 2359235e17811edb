//! Persistence of `lso`: JSON resource documents with indexed attributes, durable jobs, and the
//! notification outbox (hubs, events, deliveries), behind one backend-neutral API.
//!
//! Only this crate knows SQL. Every write is a [`WriteOp`] list applied atomically, so a state
//! change, the jobs it schedules and the events it announces commit together or not at all.

mod sqlite;

use std::fmt;

pub use sqlite::SqliteStore;

/// What can go wrong in the store, without leaking the database driver's types.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed row does not exist.
    #[error("not found")]
    NotFound,
    /// A concurrent change won (stale version) or the identifier is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot serve the request.
    #[error("storage unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub(crate) fn unavailable(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Unavailable(Box::new(err))
    }
}

/// A stored resource document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The resource type, e.g. `productOrder`.
    pub kind: String,
    /// The resource identifier, unique per kind.
    pub id: String,
    /// Who owns it (an opaque key).
    pub tenant: String,
    /// Incremented by every update, for optimistic concurrency.
    pub version: i64,
    /// The JSON document.
    pub doc: String,
}

/// An attribute value the list filters can select on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Filter name, e.g. `state` or `orderDate`.
    pub name: String,
    /// Comparable text; date-times in the normalised UTC form of [`sortable_time`].
    pub value: String,
}

impl IndexEntry {
    /// An entry `name = value`.
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        IndexEntry { name: name.to_owned(), value: value.into() }
    }
}

/// One condition of a list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Some indexed value equals this.
    Eq(String),
    /// Some indexed value equals one of these.
    In(Vec<String>),
    /// Some indexed value is greater than this.
    Gt(String),
    /// Some indexed value is less than this.
    Lt(String),
}

/// A filter on one indexed attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The index entry name.
    pub name: String,
    /// What its value must satisfy.
    pub condition: Condition,
}

/// A page of a list query, newest first.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Resource type.
    pub kind: String,
    /// Only this tenant's resources; `None` for an operator's view of all.
    pub tenant: Option<String>,
    /// All must hold.
    pub filters: Vec<Filter>,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return at most.
    pub limit: u64,
}

/// One page of records and the number of all matches.
#[derive(Debug, Clone)]
pub struct Page {
    /// The records of this page.
    pub records: Vec<Record>,
    /// How many records match the filters in all.
    pub total: u64,
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Row id, used to finish or reschedule it.
    pub id: i64,
    /// What to do.
    pub kind: String,
    /// The subject, unique per kind while the job exists.
    pub key: String,
    /// Parameters, as the enqueuer wrote them.
    pub payload: String,
    /// How many times it was claimed, this time included.
    pub attempts: i64,
    /// Changes when the job is enqueued again while it runs.
    pub generation: i64,
}

/// A notification subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hub {
    /// Subscription id.
    pub id: String,
    /// The API it listens to, e.g. `sonata/productOrderingManagement`.
    pub api: String,
    /// The subscriber.
    pub tenant: String,
    /// The subscriber's host root, as registered.
    pub callback: String,
    /// The registered query, as sent.
    pub query: Option<String>,
    /// Event types it wants; empty for all.
    pub event_types: Vec<String>,
    /// JSON object merged into every event payload for this subscriber (`buyerId`, `sellerId`).
    pub extra: String,
}

/// An event to announce to the matching subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// `eventId`.
    pub id: String,
    /// The API whose hubs receive it.
    pub api: String,
    /// The tenant whose hubs receive it.
    pub tenant: String,
    /// `eventType`.
    pub event_type: String,
    /// Appended to each subscription's callback: `/mefApi/…/listener/{eventType}`.
    pub listener_path: String,
    /// The event envelope as JSON.
    pub body: String,
    /// Deliveries with the same key (per subscription) are made in order.
    pub ordering_key: String,
    /// When it happened (milliseconds since the epoch); its deliveries are due from then.
    pub at: i64,
}

/// A state change applied atomically with the others of its batch.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Create a resource; [`StoreError::Conflict`] if the id is taken.
    Insert { record: Record, index: Vec<IndexEntry> },
    /// Replace a resource whose version is still `record.version - 1`.
    Update { record: Record, index: Vec<IndexEntry> },
    /// Schedule a job; if one with the same kind and key exists, run it again no later than `run_at`.
    Enqueue { kind: String, key: String, payload: String, run_at: i64 },
    /// Remove a finished job, unless it was enqueued again meanwhile.
    FinishJob { id: i64, generation: i64 },
    /// Release a job to run again at `run_at` (or sooner, if it was enqueued again meanwhile),
    /// recording why it did not finish.
    RetryJob { id: i64, generation: i64, run_at: i64, error: String },
    /// Record an event and a pending delivery for every matching subscription.
    Publish(NewEvent),
    /// Register a subscription.
    InsertHub(Hub),
    /// Remove a subscription of `tenant` and cancel its pending deliveries.
    DeleteHub { api: String, tenant: String, id: String },
}

/// A delivery ready to be attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTask {
    /// Delivery row id.
    pub id: i64,
    /// Where to POST: callback + listener path.
    pub url: String,
    /// The event envelope, with the subscription's extra attributes merged into `event`.
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// `eventType`, for logs.
    pub event_type: String,
}

/// What came of a delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The listener accepted it.
    Delivered { status: u16 },
    /// Try again at `at`.
    Retry { at: i64, status: Option<u16>, error: String },
    /// Give up; keep it as a dead letter.
    Dead { status: Option<u16>, error: String },
}

/// A delivery as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryInfo {
    /// Delivery row id.
    pub id: i64,
    /// `eventId`.
    pub event_id: String,
    /// `eventType`.
    pub event_type: String,
    /// Target URL.
    pub url: String,
    /// `pending`, `delivered`, `dead` or `cancelled`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// Last HTTP status seen.
    pub last_status: Option<i64>,
    /// Last error seen.
    pub last_error: Option<String>,
}

/// Counts of deliveries by state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Waiting for a (next) attempt.
    pub pending: u64,
    /// Accepted by the listener.
    pub delivered: u64,
    /// Given up after the last attempt.
    pub dead: u64,
}

/// Normalises an RFC 3339 time given as milliseconds since the epoch into fixed-width UTC text
/// that sorts as it compares.
pub fn sortable_time(millis: i64) -> String {
    format!("{millis:015}")
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} v{}", self.kind, self.id, self.version)
    }
}

/// The store `lso` runs on.
pub type Store = SqliteStore;

#[cfg(test)]
mod tests;
