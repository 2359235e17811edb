//! Persistence of `lso`: JSON resource documents with indexed attributes, durable jobs, and the
//! notification outbox (hubs, events, deliveries), behind one backend-neutral API.
//!
//! Only this crate knows SQL. Every write is a [`WriteOp`] list applied atomically, so a state
//! change, the jobs it schedules and the events it announces commit together or not at all.

mod postgres;
mod sqlite;

use lso_model::{Clock, SystemClock};
use std::fmt;

pub use postgres::PgStore;
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

/// An index entry as stored: its name, value and occurrence among the equal entries of its
/// resource (the second `itemState = acknowledged` of an order is 1).
pub(crate) type Stored = (String, String, i64);

/// `index` as stored.
pub(crate) fn numbered(index: &[IndexEntry]) -> Vec<Stored> {
    let mut stored: Vec<Stored> = Vec::with_capacity(index.len());
    for entry in index {
        let n = stored.iter().filter(|(name, value, _)| *name == entry.name && *value == entry.value).count();
        stored.push((entry.name.clone(), entry.value.clone(), n as i64));
    }
    stored
}

/// What a change of a resource's entries from `old` to `new` removes and adds.
pub(crate) fn index_change(old: Vec<Stored>, new: &[IndexEntry]) -> (Vec<Stored>, Vec<Stored>) {
    let new = numbered(new);
    let added = new.iter().filter(|entry| !old.contains(entry)).cloned().collect();
    let removed = old.into_iter().filter(|entry| !new.contains(entry)).collect();
    (removed, added)
}

pub use lso_model::query::{Condition, Filter, Selection, Total};

impl From<StoreError> for lso_model::EntityError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => lso_model::EntityError::NotFound("not found".into()),
            StoreError::Conflict(reason) => lso_model::EntityError::Conflict(reason),
            other => lso_model::EntityError::Store(Box::new(other)),
        }
    }
}

/// What a node claims with a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leased {
    /// Background jobs.
    Jobs,
    /// Notification deliveries.
    Deliveries,
}

impl Leased {
    fn table(self) -> &'static str {
        match self {
            Leased::Jobs => "jobs",
            Leased::Deliveries => "deliveries",
        }
    }
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

impl ListQuery {
    /// The resources of type `kind` that `selection` asks for.
    pub fn of(kind: &str, selection: Selection) -> Self {
        let Selection { tenant, filters, offset, limit } = selection;
        ListQuery { kind: kind.into(), tenant, filters, offset, limit }
    }
}

/// One page of records and the number of all matches.
#[derive(Debug, Clone)]
pub struct Page {
    /// The records of this page.
    pub records: Vec<Record>,
    /// How many records match the filters in all, counted up to [`COUNTED_UP_TO`].
    pub total: Total,
}

/// The most matches a list counts. Past it the list answers [`Total::AtLeast`]: counting a
/// million matches would read each of them, and a page of twenty must not cost that.
pub const COUNTED_UP_TO: u64 = 10_000;

/// A condition on an indexed value: an operator (`=`, `>`, `<` or `IN`) and its values (one,
/// but for `IN`).
pub(crate) type ValueCondition = (&'static str, Vec<String>);

/// Each attribute `filters` name, once, with its conditions as one range of the index.
pub(crate) fn attribute_conditions(filters: &[Filter]) -> Vec<(&str, Vec<ValueCondition>)> {
    let mut names: Vec<&str> = filters.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let conditions = |name: &str| {
        let on_name = filters.iter().filter(|f| f.name == name);
        on_name
            .map(|filter| match &filter.condition {
                Condition::Eq(v) => ("=", vec![v.clone()]),
                Condition::After(t) => (">", vec![sortable_time(*t)]),
                Condition::Before(t) => ("<", vec![sortable_time(*t)]),
                Condition::In(values) => ("IN", values.clone()),
            })
            .collect()
    };
    names.into_iter().map(|name| (name, conditions(name))).collect()
}

/// Which of the attributes whose index ranges hold `sizes` entries (counted up to
/// [`COUNTED_UP_TO`] + 1) a list starts from: the smallest, if within the bound.
pub(crate) fn lead(sizes: &[u64]) -> Option<usize> {
    (0..sizes.len()).filter(|&n| sizes[n] <= COUNTED_UP_TO).min_by_key(|&n| sizes[n])
}

/// How many records match a list whose first page, asked from `offset`, found `found` and
/// whether `more` follow, if the page tells: a first page that holds every match needs no count.
fn holds_all(offset: u64, found: usize, more: bool) -> Option<u64> {
    (offset == 0 && !more).then_some(found as u64)
}

/// The [`Total`] of a list whose count stopped at `counted` (at most [`COUNTED_UP_TO`] + 1) and
/// whose page, asked from `offset`, found `found` records and whether `more` follow.
fn total(counted: u64, offset: u64, found: usize, more: bool) -> Total {
    if counted <= COUNTED_UP_TO {
        Total::Exact(counted)
    } else {
        Total::AtLeast(counted.max(offset + found as u64 + u64::from(more)))
    }
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
    /// The W3C `traceparent` of the work that enqueued it (last), if that was traced.
    pub trace: Option<String>,
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
    /// Remove a resource; [`StoreError::NotFound`] if there is none.
    Delete { kind: String, id: String },
    /// Remove a resource if there is one (pruning what may be gone already).
    Forget { kind: String, id: String },
    /// Schedule a job; if one with the same kind and key exists, run it again no later than `run_at`.
    Enqueue { kind: String, key: String, payload: String, run_at: i64 },
    /// Remove a finished job, unless it was enqueued again meanwhile.
    FinishJob { id: i64, generation: i64 },
    /// Release a job to run again at `run_at` (or sooner, if it was enqueued again meanwhile),
    /// recording why it did not finish.
    RetryJob { id: i64, generation: i64, run_at: i64, error: String },
    /// Record an event and a pending delivery for every matching subscription (an event no
    /// subscription matches is dropped).
    Publish(NewEvent),
    /// Register a subscription.
    InsertHub(Hub),
    /// Remove a subscription of `tenant` and cancel its pending deliveries.
    DeleteHub { api: String, tenant: String, id: String },
}

impl WriteOp {
    /// The kind and id of the resource it makes, changes or removes.
    pub fn target(&self) -> Option<(&str, &str)> {
        match self {
            WriteOp::Insert { record, .. } | WriteOp::Update { record, .. } => Some((&record.kind, &record.id)),
            WriteOp::Delete { kind, id } | WriteOp::Forget { kind, id } => Some((kind, id)),
            _ => None,
        }
    }
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
    /// The event's id (the same for every listener and attempt).
    pub event_id: String,
    /// The tenant whose hub it goes to.
    pub tenant: String,
    /// The W3C `traceparent` of the work that published the event, if that was traced.
    pub trace: Option<String>,
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

/// The store `lso` runs on: SQLite embedded (one process), or PostgreSQL (several nodes).
#[derive(Clone)]
pub enum Store {
    /// An SQLite file served by this process alone.
    Sqlite(SqliteStore),
    /// A PostgreSQL database shared by any number of nodes.
    Postgres(PgStore),
}

/// Calls the same method on whichever backend the store is.
macro_rules! dispatch {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match $self {
            Store::Sqlite(store) => store.$method($($arg),*).await,
            Store::Postgres(store) => store.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path`.
    pub fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        SqliteStore::open(path).map(Store::Sqlite)
    }

    /// Connects to a PostgreSQL database (libpq connection string or URL, with its `sslmode`;
    /// `extra_ca` is trusted besides the system's roots) and migrates it.
    pub async fn connect(url: &str, extra_ca: Option<&std::path::Path>) -> Result<Self, StoreError> {
        PgStore::connect(url, extra_ca).await.map(Store::Postgres)
    }

    /// How many resources of `kind` have each value of the indexed attribute `name`.
    pub async fn count_by(&self, kind: &str, name: &str) -> Result<Vec<(String, i64)>, StoreError> {
        dispatch!(self.count_by(kind, name))
    }

    /// Jobs waiting, by kind: how many, and when the earliest is due (milliseconds).
    pub async fn jobs_waiting(&self) -> Result<Vec<(String, i64, i64)>, StoreError> {
        dispatch!(self.jobs_waiting())
    }

    /// How many of this build's migrations the database lacks (0 when ready); an error if the
    /// database does not answer.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        dispatch!(self.pending_migrations())
    }

    /// Applies `ops` atomically. The jobs and events among them keep the trace context of the
    /// caller's span, so the work that runs them later continues the caller's trace.
    pub async fn apply(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let trace = lso_transport::trace::current();
        dispatch!(self.apply(ops, trace))
    }

    /// The resource `kind`/`id`, if it exists and belongs to `tenant` (any tenant when `None`).
    pub async fn get(&self, kind: &str, tenant: Option<&str>, id: &str) -> Result<Option<Record>, StoreError> {
        dispatch!(self.get(kind, tenant, id))
    }

    /// One page of the resources matching `query`, newest first, and the number of all matches.
    pub async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        dispatch!(self.list(query))
    }

    /// Leases up to `max` jobs due at `now` for `lease_ms`.
    pub async fn claim_jobs(&self, now: i64, lease_ms: i64, max: usize) -> Result<Vec<Job>, StoreError> {
        dispatch!(self.claim_jobs(now, lease_ms, max))
    }

    /// The time of the earliest job not leased, if any.
    pub async fn next_job_time(&self) -> Result<Option<i64>, StoreError> {
        dispatch!(self.next_job_time())
    }

    /// Extends to `until` the leases of the `ids` in `leased` still held (the heartbeat of a
    /// node at work: a node that stops renewing loses its claims when they run out).
    pub async fn renew_leases(&self, leased: Leased, ids: Vec<i64>, until: i64) -> Result<(), StoreError> {
        dispatch!(self.renew_leases(leased, ids, until))
    }

    /// A subscription of `tenant` to `api`.
    pub async fn get_hub(&self, api: &str, tenant: &str, id: &str) -> Result<Option<Hub>, StoreError> {
        dispatch!(self.get_hub(api, tenant, id))
    }

    /// The tenants with a subscription to `api` (for events every subscriber hears of).
    pub async fn hub_tenants(&self, api: &str) -> Result<Vec<String>, StoreError> {
        dispatch!(self.hub_tenants(api))
    }

    /// Leases up to `max` due deliveries, only the oldest pending one per ordering key.
    pub async fn claim_deliveries(&self, now: i64, lease_ms: i64, max: usize) -> Result<Vec<DeliveryTask>, StoreError> {
        dispatch!(self.claim_deliveries(now, lease_ms, max))
    }

    /// Records what came of delivery attempts.
    pub async fn finish_deliveries(&self, now: i64, results: Vec<(i64, DeliveryOutcome)>) -> Result<(), StoreError> {
        dispatch!(self.finish_deliveries(now, results))
    }

    /// The earliest time a pending delivery at the head of its ordering key is due, if any.
    pub async fn next_delivery_time(&self) -> Result<Option<i64>, StoreError> {
        dispatch!(self.next_delivery_time())
    }

    /// Deliveries in `state` (all when `None`), newest first.
    pub async fn list_deliveries(&self, state: Option<&str>, limit: u64) -> Result<Vec<DeliveryInfo>, StoreError> {
        dispatch!(self.list_deliveries(state, limit))
    }

    /// How many deliveries are in each state.
    pub async fn delivery_counts(&self) -> Result<DeliveryCounts, StoreError> {
        dispatch!(self.delivery_counts())
    }

    /// Puts a dead delivery back in the queue, due at `now`.
    pub async fn redeliver(&self, id: i64, now: i64) -> Result<(), StoreError> {
        dispatch!(self.redeliver(id, now))
    }
}

pub(crate) fn split_types(types: &str) -> Vec<String> {
    types.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// Merges a subscription's extra attributes (a JSON object) into the envelope's `event` object.
pub(crate) fn merge_extra(body: &str, extra: &str) -> String {
    if extra == "{}" || extra.is_empty() {
        return body.to_owned();
    }
    // The envelope ends with `…"event":{…}}`; both are written by lso, so splice the extra
    // members in before the last two closing braces.
    let members = extra.trim().trim_start_matches('{').trim_end_matches('}');
    match body.trim_end().strip_suffix("}}") {
        Some(head) if !members.trim().is_empty() => format!("{head},{members}}}}}"),
        _ => body.to_owned(),
    }
}

pub(crate) fn now_millis() -> i64 {
    SystemClock.now_millis()
}

#[cfg(test)]
mod tests;
