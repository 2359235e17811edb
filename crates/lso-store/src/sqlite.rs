//! The SQLite backend: WAL mode, `synchronous=FULL`, one writer thread that commits the writes
//! queued meanwhile as one transaction (group commit; a request that fails writes nothing, so
//! no savepoint is needed), and a small pool of reader connections.

use crate::{
    COUNTED_UP_TO, DeliveryCounts, DeliveryInfo, DeliveryOutcome, DeliveryTask, Filter, Hub, Job, ListQuery, NewEvent,
    Page, Record, StoreError, Stored, ValueCondition, WriteOp, attribute_conditions, holds_all, index_change, lead,
    merge_extra, now_millis, numbered, split_types, total,
};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter, types::Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_initial", include_str!("../migrations/sqlite/0001_initial.sql")),
    ("0002_resources_by_kind", include_str!("../migrations/sqlite/0002_resources_by_kind.sql")),
    ("0003_trace_context", include_str!("../migrations/sqlite/0003_trace_context.sql")),
    ("0004_index_by_resource", include_str!("../migrations/sqlite/0004_index_by_resource.sql")),
    ("0005_jobs_by_due_time", include_str!("../migrations/sqlite/0005_jobs_by_due_time.sql")),
];

/// The most writes committed together.
const MAX_GROUP: usize = 1024;

type Completer = Box<dyn FnOnce(Option<&StoreError>) + Send>;
type WriteRequest = Box<dyn FnOnce(&Connection) -> (bool, Completer) + Send>;

/// The most reader connections open at once; each holds its own page cache.
const MAX_READERS: usize = 4;

/// A SQLite database file shared by the tasks of one process.
#[derive(Clone)]
pub struct SqliteStore {
    writer: mpsc::Sender<WriteRequest>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reading: Arc<tokio::sync::Semaphore>,
    path: Arc<PathBuf>,
}

/// Opens a connection whose page cache holds at most `cache_kib`.
fn open(path: &Path, cache_kib: u32) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(StoreError::unavailable)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; \
         PRAGMA busy_timeout=10000; PRAGMA cache_size=-{cache_kib}; PRAGMA temp_store=MEMORY;"
    ))
    .map_err(StoreError::unavailable)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .map_err(StoreError::unavailable)?;
    for (name, sql) in MIGRATIONS {
        let tx = conn.transaction().map_err(StoreError::unavailable)?;
        let done: bool = tx
            .query_row("SELECT count(*) > 0 FROM schema_migrations WHERE name = ?1", [name], |r| r.get(0))
            .map_err(StoreError::unavailable)?;
        if !done {
            tx.execute_batch(sql).map_err(StoreError::unavailable)?;
            tx.execute("INSERT INTO schema_migrations VALUES (?1, datetime('now'))", [name])
                .map_err(StoreError::unavailable)?;
        }
        tx.commit().map_err(StoreError::unavailable)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, migrates it, and releases the leases
    /// of a previous process: an SQLite database is served by one process at a time.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = open(path, 16_384)?;
        migrate(&mut conn)?;
        conn.execute_batch(
            "UPDATE jobs SET lease_until = 0 WHERE lease_until > 0; \
             UPDATE deliveries SET lease_until = 0 WHERE lease_until > 0;",
        )
        .map_err(StoreError::unavailable)?;
        let (writer, requests) = mpsc::channel::<WriteRequest>(8192);
        std::thread::Builder::new()
            .name("lso-sqlite-writer".into())
            .spawn(move || run_writer(conn, requests))
            .map_err(StoreError::unavailable)?;
        Ok(SqliteStore {
            writer,
            readers: Arc::new(Mutex::new(Vec::new())),
            reading: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
            path: Arc::new(path.to_owned()),
        })
    }

    /// Runs `work` inside the next group commit and returns its result once committed.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let request: WriteRequest = Box::new(move |conn| {
            let result = work(conn);
            let ok = result.is_ok();
            let complete: Completer = Box::new(move |commit_error| {
                let outcome = match (commit_error, result) {
                    (Some(err), _) => Err(StoreError::Conflict(format!("commit failed: {err}"))),
                    (None, result) => result,
                };
                let _ = reply.send(outcome);
            });
            (ok, complete)
        });
        self.writer.send(request).await.map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Runs `work` on a reader connection.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        let permit = self.reading.clone().acquire_owned().await.map_err(StoreError::unavailable)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => open(&path, 4_096)?,
            };
            let result = work(&conn);
            readers.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            result
        })
        .await
        .map_err(StoreError::unavailable)?
    }

    /// Applies `ops` atomically; jobs and events keep `trace`.
    pub async fn apply(&self, ops: Vec<WriteOp>, trace: Option<String>) -> Result<(), StoreError> {
        self.write(move |conn| {
            // The first operation fails before anything is written; those after it are
            // checked first (unless an earlier one makes what they change), so a request
            // that fails writes nothing.
            let mut earlier = Vec::new();
            for (n, op) in ops.iter().enumerate() {
                let target = op.target();
                if n > 0 && !target.is_some_and(|t| earlier.contains(&t)) {
                    check_op(conn, op)?;
                }
                earlier.extend(target);
            }
            for op in ops {
                apply_op(conn, op, trace.as_deref())?;
            }
            Ok(())
        })
        .await
    }

    /// The resource `kind`/`id`, if it exists and belongs to `tenant` (any tenant when `None`).
    pub async fn get(&self, kind: &str, tenant: Option<&str>, id: &str) -> Result<Option<Record>, StoreError> {
        let (kind, tenant, id) = (kind.to_owned(), tenant.map(str::to_owned), id.to_owned());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT tenant, version, doc FROM resources WHERE kind = ?1 AND id = ?2")
                .map_err(StoreError::unavailable)?;
            let row = stmt
                .query_row(params![kind, id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))
                .optional()
                .map_err(StoreError::unavailable)?;
            Ok(row
                .filter(|(owner, _, _)| tenant.as_deref().is_none_or(|t| t == owner))
                .map(|(tenant, version, doc)| Record { kind, id, tenant, version, doc }))
        })
        .await
    }

    /// One page of the resources matching `query`, newest first, and the number of all matches
    /// (up to [`COUNTED_UP_TO`]).
    ///
    /// Each attribute's conditions are one range of the index (a date range is one). When the
    /// index holds few entries for one of them, the list starts from those entries; otherwise
    /// it walks the kind's (or tenant's) resources newest first and looks each one up in the
    /// index, stopping at the page's end, and its count stops past the bound.
    pub async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        self.read(move |conn| {
            let attributes = attribute_ranges(&query.filters);
            let bound = Value::Integer(COUNTED_UP_TO as i64 + 1);
            let mut sizes = Vec::with_capacity(attributes.len());
            for (range, args) in &attributes {
                let sql = format!("SELECT count(*) FROM (SELECT 1 FROM resource_index i WHERE {range} LIMIT ?)");
                let size: i64 = conn
                    .prepare_cached(&sql)
                    .and_then(|mut s| s.query_row(params_from_iter(args.iter().chain([&bound])), |r| r.get(0)))
                    .map_err(StoreError::unavailable)?;
                sizes.push(size as u64);
            }
            let lead = lead(&sizes);
            let mut sql = String::from(" FROM resources r WHERE r.kind = ?");
            let mut args: Vec<Value> = vec![Value::Text(query.kind.clone())];
            if let Some(tenant) = &query.tenant {
                sql.push_str(" AND r.tenant = ?");
                args.push(Value::Text(tenant.clone()));
            }
            for (n, (range, values)) in attributes.into_iter().enumerate() {
                if Some(n) == lead {
                    sql.push_str(&format!(" AND r.seq IN (SELECT i.seq FROM resource_index i WHERE {range})"));
                } else {
                    sql.push_str(&format!(
                        " AND EXISTS (SELECT 1 FROM resource_index i WHERE i.seq = r.seq AND {range})"
                    ));
                }
                args.extend(values);
            }
            // The page's positions first, its documents then: a sort moves numbers, not documents.
            let page_sql = format!(
                "SELECT r.id, r.tenant, r.version, r.doc FROM resources r WHERE r.seq IN \
                 (SELECT r.seq{sql} ORDER BY r.seq DESC LIMIT ? OFFSET ?) ORDER BY r.seq DESC"
            );
            let limit = query.limit.min(i64::MAX as u64 - 1) as i64;
            let paging = [Value::Integer(limit + 1), Value::Integer(query.offset.min(i64::MAX as u64) as i64)];
            let mut stmt = conn.prepare_cached(&page_sql).map_err(StoreError::unavailable)?;
            let mut records = stmt
                .query_map(params_from_iter(args.iter().chain(&paging)), |r| {
                    Ok(Record {
                        kind: query.kind.clone(),
                        id: r.get(0)?,
                        tenant: r.get(1)?,
                        version: r.get(2)?,
                        doc: r.get(3)?,
                    })
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(StoreError::unavailable)?;
            let more = records.len() as u64 > query.limit;
            records.truncate(limit as usize);
            let counted = match holds_all(query.offset, records.len(), more) {
                Some(all) => all,
                None => conn
                    .prepare_cached(&format!("SELECT count(*) FROM (SELECT 1{sql} LIMIT ?)"))
                    .and_then(|mut s| {
                        s.query_row(params_from_iter(args.iter().chain([&bound])), |r| r.get::<_, i64>(0))
                    })
                    .map_err(StoreError::unavailable)? as u64,
            };
            Ok(Page { total: total(counted, query.offset, records.len(), more), records })
        })
        .await
    }

    /// Leases up to `max` jobs due at `now` for `lease_ms`.
    pub async fn claim_jobs(&self, now: i64, lease_ms: i64, max: usize) -> Result<Vec<Job>, StoreError> {
        self.write(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "UPDATE jobs SET lease_until = ?1 + ?2, attempts = attempts + 1 WHERE id IN \
                     (SELECT id FROM jobs WHERE max(run_at, lease_until) <= ?1 ORDER BY max(run_at, lease_until), id LIMIT ?3) \
                     RETURNING id, kind, key, payload, attempts, generation, trace",
                )
                .map_err(StoreError::unavailable)?;
            stmt.query_map(params![now, lease_ms, max as i64], |r| {
                Ok(Job {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    key: r.get(2)?,
                    payload: r.get(3)?,
                    attempts: r.get(4)?,
                    generation: r.get(5)?,
                    trace: r.get(6)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(StoreError::unavailable)
        })
        .await
    }

    /// Extends to `until` the leases of the `ids` in `leased` still held.
    pub async fn renew_leases(&self, leased: crate::Leased, ids: Vec<i64>, until: i64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write(move |conn| {
            let sql = format!("UPDATE {} SET lease_until = ?1 WHERE id = ?2 AND lease_until > 0", leased.table());
            let mut stmt = conn.prepare_cached(&sql).map_err(StoreError::unavailable)?;
            for id in ids {
                stmt.execute(params![until, id]).map_err(StoreError::unavailable)?;
            }
            Ok(())
        })
        .await
    }

    /// The time of the earliest job not leased, if any.
    pub async fn next_job_time(&self) -> Result<Option<i64>, StoreError> {
        self.read(|conn| {
            // In due order, as the index has the jobs: the first row, not a scan.
            let sql = "SELECT max(run_at, lease_until) FROM jobs ORDER BY max(run_at, lease_until), id LIMIT 1";
            conn.query_row(sql, [], |r| r.get(0)).optional().map_err(StoreError::unavailable)
        })
        .await
    }

    /// The tenants with a subscription to `api`.
    pub async fn hub_tenants(&self, api: &str) -> Result<Vec<String>, StoreError> {
        let api = api.to_owned();
        self.read(move |conn| {
            conn.prepare_cached("SELECT DISTINCT tenant FROM hubs WHERE api = ?1 ORDER BY tenant")
                .and_then(|mut s| s.query_map(params![api], |r| r.get(0))?.collect::<Result<Vec<String>, _>>())
                .map_err(StoreError::unavailable)
        })
        .await
    }

    /// A subscription of `tenant` to `api`.
    pub async fn get_hub(&self, api: &str, tenant: &str, id: &str) -> Result<Option<Hub>, StoreError> {
        let (api, tenant, id) = (api.to_owned(), tenant.to_owned(), id.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT id, api, tenant, callback, query, event_types, extra FROM hubs \
                 WHERE id = ?1 AND api = ?2 AND tenant = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![id, api, tenant], |r| {
                    let types: String = r.get(5)?;
                    Ok(Hub {
                        id: r.get(0)?,
                        api: r.get(1)?,
                        tenant: r.get(2)?,
                        callback: r.get(3)?,
                        query: r.get(4)?,
                        event_types: split_types(&types),
                        extra: r.get(6)?,
                    })
                })
                .optional()
            })
            .map_err(StoreError::unavailable)
        })
        .await
    }

    /// Leases up to `max` due deliveries, only the oldest pending one per ordering key.
    pub async fn claim_deliveries(&self, now: i64, lease_ms: i64, max: usize) -> Result<Vec<DeliveryTask>, StoreError> {
        self.write(move |conn| {
            let ids: Vec<i64> = conn
                .prepare_cached(
                    "UPDATE deliveries SET lease_until = ?1 + ?2 WHERE id IN \
                       (SELECT d.id FROM deliveries d WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 \
                          AND d.lease_until <= ?1 AND NOT EXISTS (SELECT 1 FROM deliveries e \
                          WHERE e.ordering_key = d.ordering_key AND e.state = 'pending' AND e.id < d.id) \
                        ORDER BY d.next_attempt_at, d.id LIMIT ?3) RETURNING id",
                )
                .and_then(|mut s| {
                    s.query_map(params![now, lease_ms, max as i64], |r| r.get(0))
                        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                })
                .map_err(StoreError::unavailable)?;
            let mut select = conn
                .prepare_cached(
                    "SELECT d.id, h.callback, e.listener_path, e.body, h.extra, d.attempts, e.event_type, e.id, h.tenant, \
                     e.trace \
                     FROM deliveries d JOIN events e ON e.id = d.event_id JOIN hubs h ON h.id = d.hub_id \
                     WHERE d.id = ?1",
                )
                .map_err(StoreError::unavailable)?;
            let mut tasks = Vec::with_capacity(ids.len());
            for id in ids {
                let task = select
                    .query_row([id], |r| {
                        let callback: String = r.get(1)?;
                        let path: String = r.get(2)?;
                        let body: String = r.get(3)?;
                        let extra: String = r.get(4)?;
                        Ok(DeliveryTask {
                            id: r.get(0)?,
                            url: format!("{}{}", callback.trim_end_matches('/'), path),
                            body: merge_extra(&body, &extra),
                            attempts: r.get(5)?,
                            event_type: r.get(6)?,
                            event_id: r.get(7)?,
                            tenant: r.get(8)?,
                            trace: r.get(9)?,
                        })
                    })
                    .map_err(StoreError::unavailable)?;
                tasks.push(task);
            }
            Ok(tasks)
        })
        .await
    }

    /// Records what came of delivery attempts.
    pub async fn finish_deliveries(&self, now: i64, results: Vec<(i64, DeliveryOutcome)>) -> Result<(), StoreError> {
        self.write(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "UPDATE deliveries SET state = ?2, attempts = attempts + 1, next_attempt_at = ?3, lease_until = 0, \
                     last_status = ?4, last_error = ?5, updated_at = ?6 WHERE id = ?1 AND state = 'pending'",
                )
                .map_err(StoreError::unavailable)?;
            for (id, outcome) in results {
                let (state, at, status, error) = match outcome {
                    DeliveryOutcome::Delivered { status } => ("delivered", now, Some(status), None),
                    DeliveryOutcome::Retry { at, status, error } => ("pending", at, status, Some(error)),
                    DeliveryOutcome::Dead { status, error } => ("dead", now, status, Some(error)),
                };
                stmt.execute(params![id, state, at, status, error, now]).map_err(StoreError::unavailable)?;
            }
            Ok(())
        })
        .await
    }

    /// The earliest time a pending delivery at the head of its ordering key is due, if any.
    pub async fn next_delivery_time(&self) -> Result<Option<i64>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT min(max(d.next_attempt_at, d.lease_until)) FROM deliveries d WHERE d.state = 'pending' \
                 AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.ordering_key = d.ordering_key \
                 AND e.state = 'pending' AND e.id < d.id)",
                [],
                |r| r.get(0),
            )
            .map_err(StoreError::unavailable)
        })
        .await
    }

    /// Deliveries in `state` (all when `None`), newest first.
    pub async fn list_deliveries(&self, state: Option<&str>, limit: u64) -> Result<Vec<DeliveryInfo>, StoreError> {
        let state = state.map(str::to_owned);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT d.id, d.event_id, e.event_type, coalesce(h.callback, '') || e.listener_path, d.state, \
                     d.attempts, d.last_status, d.last_error FROM deliveries d JOIN events e ON e.id = d.event_id \
                     LEFT JOIN hubs h ON h.id = d.hub_id WHERE ?1 IS NULL OR d.state = ?1 ORDER BY d.id DESC LIMIT ?2",
                )
                .map_err(StoreError::unavailable)?;
            stmt.query_map(params![state, limit as i64], |r| {
                Ok(DeliveryInfo {
                    id: r.get(0)?,
                    event_id: r.get(1)?,
                    event_type: r.get(2)?,
                    url: r.get(3)?,
                    state: r.get(4)?,
                    attempts: r.get(5)?,
                    last_status: r.get(6)?,
                    last_error: r.get(7)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(StoreError::unavailable)
        })
        .await
    }

    /// How many deliveries are in each state.
    pub async fn delivery_counts(&self) -> Result<DeliveryCounts, StoreError> {
        self.read(|conn| {
            let mut counts = DeliveryCounts::default();
            let mut stmt = conn
                .prepare_cached("SELECT state, count(*) FROM deliveries GROUP BY state")
                .map_err(StoreError::unavailable)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(StoreError::unavailable)?;
            for (state, n) in rows {
                match state.as_str() {
                    "pending" => counts.pending = n as u64,
                    "delivered" => counts.delivered = n as u64,
                    "dead" => counts.dead = n as u64,
                    _ => {}
                }
            }
            Ok(counts)
        })
        .await
    }

    /// How many resources of `kind` have each value of the indexed attribute `name` (a
    /// resource indexed with a value twice counts twice).
    pub async fn count_by(&self, kind: &str, name: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let (kind, name) = (kind.to_owned(), name.to_owned());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT i.value, count(*) FROM resource_index i JOIN resources r ON r.seq = i.seq \
                     WHERE i.name = ?1 AND r.kind = ?2 GROUP BY i.value ORDER BY i.value",
                )
                .map_err(StoreError::unavailable)?;
            let rows = stmt.query_map(params![name, kind], |r| Ok((r.get(0)?, r.get(1)?)));
            rows.and_then(|rows| rows.collect::<Result<Vec<_>, _>>()).map_err(StoreError::unavailable)
        })
        .await
    }

    /// Jobs waiting, by kind: how many, and when the earliest is due (milliseconds).
    pub async fn jobs_waiting(&self) -> Result<Vec<(String, i64, i64)>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT kind, count(*), min(run_at) FROM jobs GROUP BY kind ORDER BY kind")
                .map_err(StoreError::unavailable)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
            rows.and_then(|rows| rows.collect::<Result<Vec<_>, _>>()).map_err(StoreError::unavailable)
        })
        .await
    }

    /// How many of this build's migrations the database lacks; an error if it cannot answer or
    /// its writer has stopped.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        if self.writer.is_closed() {
            return Err(StoreError::unavailable(std::io::Error::other("the SQLite writer has stopped")));
        }
        let applied = self
            .read(|conn| {
                let mut stmt =
                    conn.prepare_cached("SELECT name FROM schema_migrations").map_err(StoreError::unavailable)?;
                let names = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(StoreError::unavailable)?;
                names.collect::<Result<Vec<_>, _>>().map_err(StoreError::unavailable)
            })
            .await?;
        Ok(MIGRATIONS.iter().filter(|(name, _)| !applied.iter().any(|a| a == name)).count())
    }

    /// Puts a dead (or cancelled) delivery back in the queue, due at `now`.
    pub async fn redeliver(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE deliveries SET state = 'pending', next_attempt_at = ?2, lease_until = 0, updated_at = ?2 \
                     WHERE id = ?1 AND state = 'dead' AND hub_id IN (SELECT id FROM hubs)",
                    params![id, now],
                )
                .map_err(StoreError::unavailable)?;
            if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }
}

fn writer_gone() -> StoreError {
    StoreError::Unavailable("the database writer has stopped".into())
}

/// Each attribute `filters` name, once, with its conditions as one range of the index
/// (`i.name = ? AND i.value …`) and their arguments.
fn attribute_ranges(filters: &[Filter]) -> Vec<(String, Vec<Value>)> {
    let range = |(name, conditions): (&str, Vec<ValueCondition>)| {
        let mut sql = String::from("i.name = ?");
        let mut args = vec![Value::Text(name.to_owned())];
        for (op, values) in conditions {
            let marks = vec!["?"; values.len()].join(",");
            sql.push_str(&if op == "IN" {
                format!(" AND i.value IN ({marks})")
            } else {
                format!(" AND i.value {op} ?")
            });
            args.extend(values.into_iter().map(Value::Text));
        }
        (sql, args)
    };
    attribute_conditions(filters).into_iter().map(range).collect()
}

fn run_writer(conn: Connection, mut requests: mpsc::Receiver<WriteRequest>) {
    while let Some(first) = requests.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let mut completers = Vec::with_capacity(group.len());
        let begin = conn.execute_batch("BEGIN IMMEDIATE").map_err(StoreError::unavailable);
        if let Err(err) = begin {
            for request in group {
                let (_, complete) = request(&conn);
                completers.push(complete);
            }
            completers.into_iter().for_each(|c| c(Some(&err)));
            continue;
        }
        // No savepoint per request: a request that fails has written nothing (`apply` checks
        // what can fail before it writes; every other request is one statement, which SQLite
        // undoes by itself). Should one fail after writing, the whole group is undone.
        let mut undone = None;
        for request in group {
            let before = conn.total_changes();
            let (ok, complete) = request(&conn);
            if !ok && conn.total_changes() != before && undone.is_none() {
                tracing::error!("a write failed after writing part of its request; its group is undone");
                undone = Some(StoreError::unavailable(std::io::Error::other("the group was undone")));
            }
            completers.push(complete);
        }
        if let Some(err) = undone {
            let _ = conn.execute_batch("ROLLBACK");
            completers.into_iter().for_each(|c| c(Some(&err)));
            continue;
        }
        match conn.execute_batch("COMMIT") {
            Ok(()) => completers.into_iter().for_each(|c| c(None)),
            Err(err) => {
                tracing::error!(error = %err, "group commit failed");
                let _ = conn.execute_batch("ROLLBACK");
                let err = StoreError::unavailable(err);
                completers.into_iter().for_each(|c| c(Some(&err)));
            }
        }
    }
}

/// Fails as [`apply_op`] would for a conflict or a missing resource, without writing.
fn check_op(conn: &Connection, op: &WriteOp) -> Result<(), StoreError> {
    let version = |kind: &str, id: &str| -> Result<Option<i64>, StoreError> {
        conn.prepare_cached("SELECT version FROM resources WHERE kind = ?1 AND id = ?2")
            .and_then(|mut s| s.query_row(params![kind, id], |r| r.get(0)).optional())
            .map_err(StoreError::unavailable)
    };
    match op {
        WriteOp::Insert { record, .. } if version(&record.kind, &record.id)?.is_some() => {
            Err(StoreError::Conflict(format!("{} {} exists", record.kind, record.id)))
        }
        WriteOp::Update { record, .. } if version(&record.kind, &record.id)? != Some(record.version - 1) => {
            Err(StoreError::Conflict(format!("{} changed concurrently", record)))
        }
        WriteOp::Delete { kind, id } if version(kind, id)?.is_none() => Err(StoreError::NotFound),
        WriteOp::DeleteHub { api, tenant, id } => {
            let found: Option<i64> = conn
                .prepare_cached("SELECT 1 FROM hubs WHERE id = ?1 AND api = ?2 AND tenant = ?3")
                .and_then(|mut s| s.query_row(params![id, api, tenant], |r| r.get(0)).optional())
                .map_err(StoreError::unavailable)?;
            if found.is_none() { Err(StoreError::NotFound) } else { Ok(()) }
        }
        _ => Ok(()),
    }
}

fn apply_op(conn: &Connection, op: WriteOp, trace: Option<&str>) -> Result<(), StoreError> {
    match op {
        WriteOp::Insert { record, index } => {
            let now = now_millis();
            let seq: Option<i64> = conn
                .prepare_cached(
                    "INSERT INTO resources (kind, id, tenant, version, doc, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (kind, id) DO NOTHING RETURNING seq",
                )
                .and_then(|mut s| {
                    s.query_row(params![record.kind, record.id, record.tenant, record.version, record.doc, now], |r| {
                        r.get(0)
                    })
                    .optional()
                })
                .map_err(StoreError::unavailable)?;
            let seq = seq.ok_or_else(|| StoreError::Conflict(format!("{} {} exists", record.kind, record.id)))?;
            insert_index(conn, seq, numbered(&index))
        }
        WriteOp::Update { record, index } => {
            let seq: Option<i64> = conn
                .prepare_cached(
                    "UPDATE resources SET version = ?3, doc = ?4, updated_at = ?5 \
                     WHERE kind = ?1 AND id = ?2 AND version = ?3 - 1 RETURNING seq",
                )
                .and_then(|mut s| {
                    s.query_row(params![record.kind, record.id, record.version, record.doc, now_millis()], |r| r.get(0))
                        .optional()
                })
                .map_err(StoreError::unavailable)?;
            let seq = seq.ok_or_else(|| StoreError::Conflict(format!("{} changed concurrently", record)))?;
            let old = conn
                .prepare_cached("SELECT name, value, n FROM resource_index WHERE seq = ?1")
                .and_then(|mut s| {
                    s.query_map([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()
                })
                .map_err(StoreError::unavailable)?;
            let (removed, added) = index_change(old, &index);
            let mut delete = conn
                .prepare_cached("DELETE FROM resource_index WHERE seq = ?1 AND name = ?2 AND value = ?3 AND n = ?4")
                .map_err(StoreError::unavailable)?;
            for (name, value, n) in removed {
                delete.execute(params![seq, name, value, n]).map_err(StoreError::unavailable)?;
            }
            insert_index(conn, seq, added)
        }
        WriteOp::Delete { kind, id } => {
            if delete(conn, &kind, &id)? == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        }
        WriteOp::Forget { kind, id } => delete(conn, &kind, &id).map(drop),
        WriteOp::Enqueue { kind, key, payload, run_at } => conn
            .prepare_cached(
                "INSERT INTO jobs (kind, key, payload, run_at, trace) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (kind, key) DO UPDATE SET run_at = min(run_at, excluded.run_at), \
                 payload = excluded.payload, generation = generation + 1, trace = coalesce(excluded.trace, trace)",
            )
            .and_then(|mut s| s.execute(params![kind, key, payload, run_at, trace]))
            .map(drop)
            .map_err(StoreError::unavailable),
        WriteOp::FinishJob { id, generation } => {
            let deleted = conn
                .prepare_cached("DELETE FROM jobs WHERE id = ?1 AND generation = ?2")
                .and_then(|mut s| s.execute(params![id, generation]))
                .map_err(StoreError::unavailable)?;
            if deleted == 0 {
                // Enqueued again while it ran: release it so it runs once more.
                conn.prepare_cached("UPDATE jobs SET lease_until = 0, attempts = 0 WHERE id = ?1")
                    .and_then(|mut s| s.execute([id]))
                    .map_err(StoreError::unavailable)?;
            }
            Ok(())
        }
        WriteOp::RetryJob { id, generation, run_at, error } => conn
            .prepare_cached(
                "UPDATE jobs SET run_at = CASE WHEN generation = ?4 THEN ?2 ELSE min(run_at, ?2) END, \
                 lease_until = 0, last_error = ?3 WHERE id = ?1",
            )
            .and_then(|mut s| s.execute(params![id, run_at, error, generation]))
            .map(drop)
            .map_err(StoreError::unavailable),
        WriteOp::Publish(event) => publish(conn, event, trace),
        WriteOp::InsertHub(hub) => conn
            .prepare_cached(
                "INSERT INTO hubs (id, api, tenant, callback, query, event_types, extra, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    hub.id,
                    hub.api,
                    hub.tenant,
                    hub.callback,
                    hub.query,
                    hub.event_types.join(","),
                    hub.extra,
                    now_millis()
                ])
            })
            .map(drop)
            .map_err(StoreError::unavailable),
        WriteOp::DeleteHub { api, tenant, id } => {
            let deleted = conn
                .execute("DELETE FROM hubs WHERE id = ?1 AND api = ?2 AND tenant = ?3", params![id, api, tenant])
                .map_err(StoreError::unavailable)?;
            if deleted == 0 {
                return Err(StoreError::NotFound);
            }
            conn.execute(
                "UPDATE deliveries SET state = 'cancelled', updated_at = ?2 WHERE hub_id = ?1 AND state = 'pending'",
                params![id, now_millis()],
            )
            .map(drop)
            .map_err(StoreError::unavailable)
        }
    }
}

/// Deletes resource `id` of `kind`; how many were.
fn delete(conn: &Connection, kind: &str, id: &str) -> Result<usize, StoreError> {
    conn.prepare_cached("DELETE FROM resources WHERE kind = ?1 AND id = ?2")
        .and_then(|mut s| s.execute(params![kind, id]))
        .map_err(StoreError::unavailable)
}

fn insert_index(conn: &Connection, seq: i64, entries: Vec<Stored>) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached("INSERT INTO resource_index (seq, name, value, n) VALUES (?1, ?2, ?3, ?4)")
        .map_err(StoreError::unavailable)?;
    for (name, value, n) in entries {
        stmt.execute(params![seq, name, value, n]).map_err(StoreError::unavailable)?;
    }
    Ok(())
}

fn publish(conn: &Connection, event: NewEvent, trace: Option<&str>) -> Result<(), StoreError> {
    // An event no subscription wants has nowhere to go: it is not kept.
    let wanted: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM hubs h WHERE h.api = ?1 AND h.tenant = ?2 \
             AND (h.event_types = '' OR instr(',' || h.event_types || ',', ',' || ?3 || ',') > 0))",
        )
        .and_then(|mut s| s.query_row(params![event.api, event.tenant, event.event_type], |r| r.get(0)))
        .map_err(StoreError::unavailable)?;
    if !wanted {
        return Ok(());
    }
    let now = now_millis();
    conn.prepare_cached(
        "INSERT INTO events (id, api, tenant, event_type, listener_path, body, created_at, trace) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        let NewEvent { id, api, tenant, event_type, listener_path, body, .. } = &event;
        s.execute(params![id, api, tenant, event_type, listener_path, body, now, trace])
    })
    .map_err(StoreError::unavailable)?;
    conn.prepare_cached(
        "INSERT INTO deliveries (event_id, hub_id, ordering_key, state, next_attempt_at, updated_at) \
         SELECT ?1, h.id, h.id || '/' || ?4, 'pending', ?5, ?5 FROM hubs h WHERE h.api = ?2 AND h.tenant = ?3 \
         AND (h.event_types = '' OR instr(',' || h.event_types || ',', ',' || ?6 || ',') > 0)",
    )
    .and_then(|mut s| {
        s.execute(params![event.id, event.api, event.tenant, event.ordering_key, event.at, event.event_type])
    })
    .map(drop)
    .map_err(StoreError::unavailable)
}
