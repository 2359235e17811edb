//! The PostgreSQL backend: several stateless `lso` nodes can share one database. Each write is
//! one transaction from a connection pool; jobs and deliveries are claimed with
//! `FOR UPDATE SKIP LOCKED` with short leases their node renews while it works on them, so the
//! claims of a node that dies run out within seconds and another node takes the work over.

use crate::{
    COUNTED_UP_TO, DeliveryCounts, DeliveryInfo, DeliveryOutcome, DeliveryTask, Hub, Job, ListQuery, NewEvent, Page,
    Record, StoreError, Stored, ValueCondition, WriteOp, attribute_conditions, holds_all, lead, merge_extra,
    now_millis, numbered, split_types, total,
};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use std::path::Path;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_initial", include_str!("../migrations/postgres/0001_initial.sql")),
    ("0002_resources_by_kind", include_str!("../migrations/postgres/0002_resources_by_kind.sql")),
    ("0003_trace_context", include_str!("../migrations/postgres/0003_trace_context.sql")),
    ("0004_index_by_resource", include_str!("../migrations/postgres/0004_index_by_resource.sql")),
    ("0005_jobs_by_due_time", include_str!("../migrations/postgres/0005_jobs_by_due_time.sql")),
    ("0006_index_owner", include_str!("../migrations/postgres/0006_index_owner.sql")),
];

/// A pool of connections to one PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

/// A parameter of a statement built as it is written.
type Param = Box<dyn ToSql + Sync + Send>;

/// Adds `value` to `params`; its placeholder.
fn bind(params: &mut Vec<Param>, value: Param) -> String {
    params.push(value);
    format!("${}", params.len())
}

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// The index range of the attribute `name` under `conditions` (`i.name = $n AND i.value …`,
/// for the entries aliased `i`), its values bound in `params`.
fn pg_range(params: &mut Vec<Param>, i: &str, name: &str, conditions: &[ValueCondition]) -> String {
    let mut sql = format!("{i}.name = {}", bind(params, Box::new(name.to_owned())));
    for (op, values) in conditions {
        sql.push_str(&if *op == "IN" {
            format!(" AND {i}.value = ANY({})", bind(params, Box::new(values.clone())))
        } else {
            format!(" AND {i}.value {op} {}", bind(params, Box::new(values[0].clone())))
        });
    }
    sql
}

/// A page of a list led by the index range of `attributes[lead]`, at most [`COUNTED_UP_TO`]
/// entries: the positions of every match, newest first, read from the value index alone (its
/// entries carry their resource's kind and tenant; which also counts them, exactly), then the
/// documents of the page's positions only. Sorting whole rows would read every match's document
/// from the table, and checking each entry's owner in `resources` is a lookup per match.
async fn lead_page(
    client: &deadpool_postgres::Object,
    query: &ListQuery,
    attributes: &[(&str, Vec<ValueCondition>)],
    lead: usize,
) -> Result<Page, StoreError> {
    let mut params: Vec<Param> = vec![Box::new(query.kind.clone())];
    let (name, conditions) = &attributes[lead];
    let mut matching = format!(
        "SELECT DISTINCT i.seq FROM resource_index i WHERE i.kind = $1 AND {}",
        pg_range(&mut params, "i", name, conditions)
    );
    if let Some(tenant) = &query.tenant {
        matching.push_str(&format!(" AND i.tenant = {}", bind(&mut params, Box::new(tenant.clone()))));
    }
    for (name, conditions) in attributes.iter().enumerate().filter(|(n, _)| *n != lead).map(|(_, a)| a) {
        let range = pg_range(&mut params, "j", name, conditions);
        matching.push_str(&format!(" AND EXISTS (SELECT 1 FROM resource_index j WHERE j.seq = i.seq AND {range})"));
    }
    matching.push_str(&format!(" ORDER BY i.seq DESC LIMIT {}", COUNTED_UP_TO + 1));
    let seqs: Vec<i64> =
        client.query(&matching, &refs(&params)).await.map_err(failed)?.iter().map(|r| r.get(0)).collect();
    let from = (query.offset.min(seqs.len() as u64)) as usize;
    let page: Vec<i64> = seqs[from..].iter().take(query.limit.min(usize::MAX as u64) as usize).copied().collect();
    let rows = client
        .query("SELECT seq, id, tenant, version, doc FROM resources WHERE seq = ANY($1)", &[&page])
        .await
        .map_err(failed)?;
    let mut found: std::collections::HashMap<i64, Record> = rows
        .iter()
        .map(|r| {
            let record =
                Record { kind: query.kind.clone(), id: r.get(1), tenant: r.get(2), version: r.get(3), doc: r.get(4) };
            (r.get(0), record)
        })
        .collect();
    let records: Vec<Record> = page.iter().filter_map(|seq| found.remove(seq)).collect();
    let more = from + page.len() < seqs.len();
    Ok(Page { total: total(seqs.len() as u64, query.offset, records.len(), more), records })
}

fn failed(err: tokio_postgres::Error) -> StoreError {
    if err.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(err.to_string())
    } else {
        StoreError::unavailable(err)
    }
}

fn unavailable(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::unavailable(err)
}

impl PgStore {
    /// Connects to `url` (a libpq connection string or URL, its `sslmode` and `sslrootcert`
    /// honoured; `extra_ca` is trusted besides the system's roots) and migrates the database.
    pub async fn connect(url: &str, extra_ca: Option<&Path>) -> Result<Self, StoreError> {
        let connection = lso_transport::postgres::connection(url, extra_ca).map_err(unavailable)?;
        let config: tokio_postgres::Config = connection.url.parse().map_err(unavailable)?;
        let manager =
            Manager::from_config(config, connection.tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(16).build().map_err(unavailable)?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Creates a new empty database on `server` (a libpq connection string without `dbname`),
    /// named after `name` and the time, and gives its connection string: a database of its own
    /// for each test run.
    pub async fn scratch_database(server: &str, name: &str) -> Result<String, StoreError> {
        // The name becomes part of an SQL identifier: letters, digits and `_` only.
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StoreError::Conflict(format!("`{name}` is not a database name of letters, digits and _")));
        }
        let connection =
            lso_transport::postgres::connection(&format!("{server} dbname=postgres"), None).map_err(unavailable)?;
        let (admin, connection) =
            tokio_postgres::connect(&connection.url, connection.tls).await.map_err(unavailable)?;
        tokio::spawn(connection);
        let database = format!("lso_{}_{name}", crate::now_millis());
        admin.batch_execute(&format!("CREATE DATABASE {database}")).await.map_err(unavailable)?;
        Ok(format!("{server} dbname={database}"))
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(unavailable)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(failed)?;
        // One migrator at a time, whatever the number of nodes starting.
        tx.execute("SELECT pg_advisory_xact_lock(7262761)", &[]).await.map_err(failed)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)",
        )
        .await
        .map_err(failed)?;
        for (name, sql) in MIGRATIONS {
            let done =
                tx.query_opt("SELECT 1 FROM schema_migrations WHERE name = $1", &[name]).await.map_err(failed)?;
            if done.is_none() {
                tx.batch_execute(sql).await.map_err(failed)?;
                tx.execute("INSERT INTO schema_migrations VALUES ($1, now())", &[name]).await.map_err(failed)?;
            }
        }
        tx.commit().await.map_err(failed)
    }

    /// How many resources of `kind` have each value of the indexed attribute `name`.
    pub async fn count_by(&self, kind: &str, name: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT value, count(*) FROM resource_index WHERE name = $1 AND kind = $2 \
                 GROUP BY value ORDER BY value",
                &[&name, &kind],
            )
            .await
            .map_err(failed)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Jobs waiting, by kind: how many, and when the earliest is due (milliseconds).
    pub async fn jobs_waiting(&self) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT kind, count(*), min(run_at) FROM jobs GROUP BY kind ORDER BY kind", &[])
            .await
            .map_err(failed)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    /// How many of this build's migrations the database lacks; an error if it cannot answer.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let rows = client.query("SELECT name FROM schema_migrations", &[]).await.map_err(failed)?;
        let applied: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        Ok(MIGRATIONS.iter().filter(|(name, _)| !applied.iter().any(|a| a == name)).count())
    }

    /// Applies `ops` atomically.
    pub async fn apply(&self, ops: Vec<WriteOp>, trace: Option<String>) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(failed)?;
        for op in ops {
            apply_op(&tx, op, trace.as_deref()).await?;
        }
        tx.commit().await.map_err(failed)
    }

    /// The resource `kind`/`id`, if it exists and belongs to `tenant` (any tenant when `None`).
    pub async fn get(&self, kind: &str, tenant: Option<&str>, id: &str) -> Result<Option<Record>, StoreError> {
        let client = self.client().await?;
        let get = client
            .prepare_cached("SELECT tenant, version, doc FROM resources WHERE kind = $1 AND id = $2")
            .await
            .map_err(failed)?;
        let row = client.query_opt(&get, &[&kind, &id]).await.map_err(failed)?;
        Ok(row
            .map(|r| Record { kind: kind.into(), id: id.into(), tenant: r.get(0), version: r.get(1), doc: r.get(2) })
            .filter(|r| tenant.is_none_or(|t| t == r.tenant)))
    }

    /// One page of the resources matching `query`, newest first, and the number of all matches
    /// (up to [`COUNTED_UP_TO`]); planned as [`crate::SqliteStore::list`] is, but a list led by a
    /// small index range reads its page as [`lead_page`] says.
    pub async fn list(&self, query: ListQuery) -> Result<Page, StoreError> {
        let client = self.client().await?;
        let attributes = attribute_conditions(&query.filters);
        let mut sizes = Vec::with_capacity(attributes.len());
        for (name, conditions) in &attributes {
            let mut params: Vec<Param> = Vec::new();
            let range = pg_range(&mut params, "i", name, conditions);
            let probe = format!(
                "SELECT count(*) FROM (SELECT 1 FROM resource_index i WHERE {range} LIMIT {}) AS m",
                COUNTED_UP_TO + 1
            );
            let size: i64 = client.query_one(&probe, &refs(&params)).await.map_err(failed)?.get(0);
            sizes.push(size as u64);
        }
        if let Some(lead) = lead(&sizes) {
            return lead_page(&client, &query, &attributes, lead).await;
        }
        let mut params: Vec<Param> = vec![Box::new(query.kind.clone())];
        let mut sql = String::from(" FROM resources r WHERE r.kind = $1");
        if let Some(tenant) = &query.tenant {
            sql.push_str(&format!(" AND r.tenant = {}", bind(&mut params, Box::new(tenant.clone()))));
        }
        for (name, conditions) in &attributes {
            let range = pg_range(&mut params, "i", name, conditions);
            sql.push_str(&format!(" AND EXISTS (SELECT 1 FROM resource_index i WHERE i.seq = r.seq AND {range})"));
        }
        let count = format!("SELECT count(*) FROM (SELECT 1{sql} LIMIT {}) AS m", COUNTED_UP_TO + 1);
        let filtering = params.len();
        let limit = query.limit.min(i64::MAX as u64 - 1) as i64;
        let (page, offset) = (limit + 1, query.offset.min(i64::MAX as u64) as i64);
        let (page, offset) = (bind(&mut params, Box::new(page)), bind(&mut params, Box::new(offset)));
        let page_sql =
            format!("SELECT r.id, r.tenant, r.version, r.doc{sql} ORDER BY r.seq DESC LIMIT {page} OFFSET {offset}");
        let rows = client.query(&page_sql, &refs(&params)).await.map_err(failed)?;
        let more = rows.len() as i64 > limit;
        let records: Vec<Record> = rows
            .iter()
            .take(limit as usize)
            .map(|r| Record {
                kind: query.kind.clone(),
                id: r.get(0),
                tenant: r.get(1),
                version: r.get(2),
                doc: r.get(3),
            })
            .collect();
        let counted = match holds_all(query.offset, records.len(), more) {
            Some(all) => all,
            None => {
                client.query_one(&count, &refs(&params[..filtering])).await.map_err(failed)?.get::<_, i64>(0) as u64
            }
        };
        Ok(Page { total: total(counted, query.offset, records.len(), more), records })
    }

    /// Leases up to `max` jobs due at `now` for `lease_ms`.
    pub async fn claim_jobs(&self, now: i64, lease_ms: i64, max: usize) -> Result<Vec<Job>, StoreError> {
        let client = self.client().await?;
        let claim = client
            .prepare_cached(
                "UPDATE jobs SET lease_until = $1 + $2, attempts = attempts + 1 WHERE id IN \
                 (SELECT id FROM jobs WHERE GREATEST(run_at, lease_until) <= $1 \
                  ORDER BY GREATEST(run_at, lease_until), id LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, kind, key, payload, attempts, generation, trace",
            )
            .await
            .map_err(failed)?;
        let rows = client.query(&claim, &[&now, &lease_ms, &(max as i64)]).await.map_err(failed)?;
        Ok(rows
            .iter()
            .map(|r| Job {
                id: r.get(0),
                kind: r.get(1),
                key: r.get(2),
                payload: r.get(3),
                attempts: r.get(4),
                generation: r.get(5),
                trace: r.get(6),
            })
            .collect())
    }

    /// Extends to `until` the leases of the `ids` in `leased` still held.
    pub async fn renew_leases(&self, leased: crate::Leased, ids: Vec<i64>, until: i64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        let sql = format!("UPDATE {} SET lease_until = $1 WHERE id = ANY($2) AND lease_until > 0", leased.table());
        client.execute(&sql, &[&until, &ids]).await.map_err(failed)?;
        Ok(())
    }

    /// The time of the earliest job not leased, if any.
    pub async fn next_job_time(&self) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        // In due order, as the index has the jobs: the first row, not a scan.
        let sql = "SELECT GREATEST(run_at, lease_until) FROM jobs ORDER BY GREATEST(run_at, lease_until), id LIMIT 1";
        let row = client.query_opt(sql, &[]).await.map_err(failed)?;
        Ok(row.map(|r| r.get(0)))
    }

    /// A subscription of `tenant` to `api`.
    pub async fn get_hub(&self, api: &str, tenant: &str, id: &str) -> Result<Option<Hub>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT id, api, tenant, callback, query, event_types, extra FROM hubs WHERE id = $1 AND api = $2 AND tenant = $3",
                &[&id, &api, &tenant],
            )
            .await
            .map_err(failed)?;
        Ok(row.map(|r| Hub {
            id: r.get(0),
            api: r.get(1),
            tenant: r.get(2),
            callback: r.get(3),
            query: r.get(4),
            event_types: split_types(r.get(5)),
            extra: r.get(6),
        }))
    }

    /// The tenants with a subscription to `api`.
    pub async fn hub_tenants(&self, api: &str) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT DISTINCT tenant FROM hubs WHERE api = $1 ORDER BY tenant", &[&api])
            .await
            .map_err(failed)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Leases up to `max` due deliveries, only the oldest pending one per ordering key.
    pub async fn claim_deliveries(&self, now: i64, lease_ms: i64, max: usize) -> Result<Vec<DeliveryTask>, StoreError> {
        let client = self.client().await?;
        let ids: Vec<i64> = client
            .query(
                "UPDATE deliveries SET lease_until = $1 + $2 WHERE id IN \
                   (SELECT d.id FROM deliveries d WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
                      AND d.lease_until <= $1 AND NOT EXISTS (SELECT 1 FROM deliveries e \
                      WHERE e.ordering_key = d.ordering_key AND e.state = 'pending' AND e.id < d.id) \
                    ORDER BY d.next_attempt_at, d.id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING id",
                &[&now, &lease_ms, &(max as i64)],
            )
            .await
            .map_err(failed)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let rows = client
            .query(
                "SELECT d.id, h.callback, e.listener_path, e.body, h.extra, d.attempts, e.event_type, e.id, h.tenant, \
                 e.trace \
                 FROM deliveries d JOIN events e ON e.id = d.event_id JOIN hubs h ON h.id = d.hub_id \
                 WHERE d.id = ANY($1) ORDER BY d.id",
                &[&ids],
            )
            .await
            .map_err(failed)?;
        Ok(rows
            .iter()
            .map(|r| {
                let callback: String = r.get(1);
                let path: String = r.get(2);
                let body: String = r.get(3);
                let extra: String = r.get(4);
                DeliveryTask {
                    id: r.get(0),
                    url: format!("{}{}", callback.trim_end_matches('/'), path),
                    body: merge_extra(&body, &extra),
                    attempts: r.get(5),
                    event_type: r.get(6),
                    event_id: r.get(7),
                    tenant: r.get(8),
                    trace: r.get(9),
                }
            })
            .collect())
    }

    /// Records what came of delivery attempts.
    pub async fn finish_deliveries(&self, now: i64, results: Vec<(i64, DeliveryOutcome)>) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(failed)?;
        for (id, outcome) in results {
            let (state, at, status, error) = match outcome {
                DeliveryOutcome::Delivered { status } => ("delivered", now, Some(status), None),
                DeliveryOutcome::Retry { at, status, error } => ("pending", at, status, Some(error)),
                DeliveryOutcome::Dead { status, error } => ("dead", now, status, Some(error)),
            };
            let status = status.map(i64::from);
            tx.execute(
                "UPDATE deliveries SET state = $2, attempts = attempts + 1, next_attempt_at = $3, lease_until = 0, \
                 last_status = $4, last_error = $5, updated_at = $6 WHERE id = $1 AND state = 'pending'",
                &[&id, &state, &at, &status, &error, &now],
            )
            .await
            .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }

    /// The earliest time a pending delivery at the head of its ordering key is due, if any.
    pub async fn next_delivery_time(&self) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT min(GREATEST(d.next_attempt_at, d.lease_until)) FROM deliveries d WHERE d.state = 'pending' \
                 AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.ordering_key = d.ordering_key \
                 AND e.state = 'pending' AND e.id < d.id)",
                &[],
            )
            .await
            .map_err(failed)?;
        Ok(row.get(0))
    }

    /// Deliveries in `state` (all when `None`), newest first.
    pub async fn list_deliveries(&self, state: Option<&str>, limit: u64) -> Result<Vec<DeliveryInfo>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT d.id, d.event_id, e.event_type, coalesce(h.callback, '') || e.listener_path, d.state, \
                 d.attempts, d.last_status, d.last_error FROM deliveries d JOIN events e ON e.id = d.event_id \
                 LEFT JOIN hubs h ON h.id = d.hub_id WHERE $1::TEXT IS NULL OR d.state = $1 ORDER BY d.id DESC LIMIT $2",
                &[&state, &(limit as i64)],
            )
            .await
            .map_err(failed)?;
        Ok(rows
            .iter()
            .map(|r| DeliveryInfo {
                id: r.get(0),
                event_id: r.get(1),
                event_type: r.get(2),
                url: r.get(3),
                state: r.get(4),
                attempts: r.get(5),
                last_status: r.get(6),
                last_error: r.get(7),
            })
            .collect())
    }

    /// How many deliveries are in each state.
    pub async fn delivery_counts(&self) -> Result<DeliveryCounts, StoreError> {
        let client = self.client().await?;
        let rows = client.query("SELECT state, count(*) FROM deliveries GROUP BY state", &[]).await.map_err(failed)?;
        let mut counts = DeliveryCounts::default();
        for row in rows {
            let n: i64 = row.get(1);
            match row.get::<_, &str>(0) {
                "pending" => counts.pending = n as u64,
                "delivered" => counts.delivered = n as u64,
                "dead" => counts.dead = n as u64,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// Puts a dead delivery back in the queue, due at `now`.
    pub async fn redeliver(&self, id: i64, now: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = $2, lease_until = 0, updated_at = $2 \
                 WHERE id = $1 AND state = 'dead' AND hub_id IN (SELECT id FROM hubs)",
                &[&id, &now],
            )
            .await
            .map_err(failed)?;
        if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}

async fn apply_op(tx: &deadpool_postgres::Transaction<'_>, op: WriteOp, trace: Option<&str>) -> Result<(), StoreError> {
    match op {
        WriteOp::Insert { record, index } => {
            let now = now_millis();
            let row = tx
                .query_opt(
                    &prepared(
                        tx,
                        "INSERT INTO resources (kind, id, tenant, version, doc, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (kind, id) DO NOTHING RETURNING seq",
                    )
                    .await?,
                    &[&record.kind, &record.id, &record.tenant, &record.version, &record.doc, &now],
                )
                .await
                .map_err(failed)?;
            let seq: i64 =
                row.ok_or_else(|| StoreError::Conflict(format!("{} {} exists", record.kind, record.id)))?.get(0);
            insert_index(tx, (seq, &record.kind, &record.tenant), &numbered(&index), "").await
        }
        WriteOp::Update { record, index } => {
            let row = tx
                .query_opt(
                    &prepared(
                        tx,
                        "UPDATE resources SET version = $3, doc = $4, updated_at = $5 \
                     WHERE kind = $1 AND id = $2 AND version = $3::BIGINT - 1 RETURNING seq, tenant",
                    )
                    .await?,
                    &[&record.kind, &record.id, &record.version, &record.doc, &now_millis()],
                )
                .await
                .map_err(failed)?;
            let row = row.ok_or_else(|| StoreError::Conflict(format!("{record} changed concurrently")))?;
            let (seq, tenant): (i64, String) = (row.get(0), row.get(1));
            // Only the entries that differ are written: those kept are left, new ones added.
            let entries = numbered(&index);
            let (names, values, ns) = columns(&entries);
            tx.execute(
                &prepared(
                    tx,
                    "DELETE FROM resource_index WHERE seq = $1 AND (name, value, n) NOT IN \
                 (SELECT * FROM UNNEST($2::TEXT[], $3::TEXT[], $4::BIGINT[]))",
                )
                .await?,
                &[&seq, &names, &values, &ns],
            )
            .await
            .map_err(failed)?;
            insert_index(tx, (seq, &record.kind, &tenant), &entries, " ON CONFLICT DO NOTHING").await
        }
        WriteOp::Delete { kind, id } => {
            if delete(tx, &kind, &id).await? == 0 {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        }
        WriteOp::Forget { kind, id } => delete(tx, &kind, &id).await.map(drop),
        WriteOp::Enqueue { kind, key, payload, run_at } => tx
            .execute(
                &prepared(
                    tx,
                    "INSERT INTO jobs (kind, key, payload, run_at, trace) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (kind, key) DO UPDATE SET run_at = LEAST(jobs.run_at, EXCLUDED.run_at), \
                 payload = EXCLUDED.payload, generation = jobs.generation + 1, \
                 trace = coalesce(EXCLUDED.trace, jobs.trace)",
                )
                .await?,
                &[&kind, &key, &payload, &run_at, &trace],
            )
            .await
            .map(drop)
            .map_err(failed),
        WriteOp::FinishJob { id, generation } => {
            let deleted = tx
                .execute(
                    &prepared(tx, "DELETE FROM jobs WHERE id = $1 AND generation = $2").await?,
                    &[&id, &generation],
                )
                .await
                .map_err(failed)?;
            if deleted == 0 {
                // Enqueued again while it ran: release it so it runs once more.
                tx.execute(&prepared(tx, "UPDATE jobs SET lease_until = 0, attempts = 0 WHERE id = $1").await?, &[&id])
                    .await
                    .map_err(failed)?;
            }
            Ok(())
        }
        WriteOp::RetryJob { id, generation, run_at, error } => tx
            .execute(
                &prepared(
                    tx,
                    "UPDATE jobs SET run_at = CASE WHEN generation = $4 THEN $2 ELSE LEAST(run_at, $2) END, \
                 lease_until = 0, last_error = $3 WHERE id = $1",
                )
                .await?,
                &[&id, &run_at, &error, &generation],
            )
            .await
            .map(drop)
            .map_err(failed),
        WriteOp::Publish(event) => publish(tx, event, trace).await,
        WriteOp::InsertHub(hub) => tx
            .execute(
                &prepared(
                    tx,
                    "INSERT INTO hubs (id, api, tenant, callback, query, event_types, extra, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .await?,
                &[
                    &hub.id,
                    &hub.api,
                    &hub.tenant,
                    &hub.callback,
                    &hub.query,
                    &hub.event_types.join(","),
                    &hub.extra,
                    &now_millis(),
                ],
            )
            .await
            .map(drop)
            .map_err(failed),
        WriteOp::DeleteHub { api, tenant, id } => {
            let deleted = tx
                .execute(
                    &prepared(tx, "DELETE FROM hubs WHERE id = $1 AND api = $2 AND tenant = $3").await?,
                    &[&id, &api, &tenant],
                )
                .await
                .map_err(failed)?;
            if deleted == 0 {
                return Err(StoreError::NotFound);
            }
            tx.execute(
                &prepared(tx, "UPDATE deliveries SET state = 'cancelled', updated_at = $2 WHERE hub_id = $1 AND state = 'pending'").await?,
                &[&id, &now_millis()],
            )
            .await
            .map(drop)
            .map_err(failed)
        }
    }
}

/// Deletes resource `id` of `kind`; how many were.
async fn delete(tx: &deadpool_postgres::Transaction<'_>, kind: &str, id: &str) -> Result<u64, StoreError> {
    let statement = prepared(tx, "DELETE FROM resources WHERE kind = $1 AND id = $2").await?;
    tx.execute(&statement, &[&kind, &id]).await.map_err(failed)
}

/// `sql` prepared on the transaction's connection once, and kept for the next time.
async fn prepared(tx: &deadpool_postgres::Transaction<'_>, sql: &str) -> Result<tokio_postgres::Statement, StoreError> {
    tx.prepare_cached(sql).await.map_err(failed)
}

/// The columns of `entries`, as arrays for `UNNEST`.
fn columns(entries: &[Stored]) -> (Vec<&str>, Vec<&str>, Vec<i64>) {
    let names = entries.iter().map(|(name, _, _)| name.as_str()).collect();
    let values = entries.iter().map(|(_, value, _)| value.as_str()).collect();
    (names, values, entries.iter().map(|(_, _, n)| *n).collect())
}

/// Writes `entries` of the resource `(seq, kind, tenant)`.
async fn insert_index(
    tx: &deadpool_postgres::Transaction<'_>,
    (seq, kind, tenant): (i64, &str, &str),
    entries: &[Stored],
    on_conflict: &str,
) -> Result<(), StoreError> {
    let (names, values, ns) = columns(entries);
    let sql = format!(
        "INSERT INTO resource_index (seq, kind, tenant, name, value, n) \
         SELECT $1, $2, $3, * FROM UNNEST($4::TEXT[], $5::TEXT[], $6::BIGINT[]){on_conflict}"
    );
    tx.execute(&prepared(tx, &sql).await?, &[&seq, &kind, &tenant, &names, &values, &ns])
        .await
        .map(drop)
        .map_err(failed)
}

async fn publish(
    tx: &deadpool_postgres::Transaction<'_>,
    event: NewEvent,
    trace: Option<&str>,
) -> Result<(), StoreError> {
    // An event no subscription wants has nowhere to go: it is not kept.
    let wanted: bool = tx
        .query_one(
            &prepared(
                tx,
                "SELECT EXISTS (SELECT 1 FROM hubs h WHERE h.api = $1 AND h.tenant = $2 \
             AND (h.event_types = '' OR position(',' || $3 || ',' IN ',' || h.event_types || ',') > 0))",
            )
            .await?,
            &[&event.api, &event.tenant, &event.event_type],
        )
        .await
        .map_err(failed)?
        .get(0);
    if !wanted {
        return Ok(());
    }
    let NewEvent { id, api, tenant, event_type, listener_path, body, .. } = &event;
    tx.execute(
        &prepared(
            tx,
            "INSERT INTO events (id, api, tenant, event_type, listener_path, body, created_at, trace) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?,
        &[id, api, tenant, event_type, listener_path, body, &now_millis(), &trace],
    )
    .await
    .map_err(failed)?;
    tx.execute(
        &prepared(
            tx,
            "INSERT INTO deliveries (event_id, hub_id, ordering_key, state, next_attempt_at, updated_at) \
         SELECT $1, h.id, h.id || '/' || $4, 'pending', $5, $5 FROM hubs h WHERE h.api = $2 AND h.tenant = $3 \
         AND (h.event_types = '' OR position(',' || $6 || ',' IN ',' || h.event_types || ',') > 0)",
        )
        .await?,
        &[&event.id, &event.api, &event.tenant, &event.ordering_key, &event.at, &event.event_type],
    )
    .await
    .map(drop)
    .map_err(failed)
}
