//! Store behaviour on a fresh SQLite database per test.

use super::*;

/// The stores a test runs on: SQLite always, and PostgreSQL when `POSTGRES_TEST_SERVER` holds
/// the connection string of a server (without `dbname`); each test gets a database of its own.
async fn stores(test: &str) -> Vec<(tempfile::TempDir, Store)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&dir.path().join("lso.db")).unwrap();
    let mut stores = vec![(dir, sqlite)];
    if let Ok(server) = std::env::var("POSTGRES_TEST_SERVER") {
        let database = PgStore::scratch_database(&server, test).await.unwrap();
        let postgres = Store::connect(&database, None).await.unwrap();
        stores.push((tempfile::tempdir().unwrap(), postgres));
    }
    stores
}

fn record(id: &str, tenant: &str, version: i64, doc: &str) -> Record {
    Record { kind: "productOrder".into(), id: id.into(), tenant: tenant.into(), version, doc: doc.into() }
}

fn insert(id: &str, tenant: &str, state: &str) -> WriteOp {
    WriteOp::Insert { record: record(id, tenant, 1, "{}"), index: vec![IndexEntry::new("state", state)] }
}

fn hub(id: &str, tenant: &str, types: &[&str]) -> Hub {
    Hub {
        id: id.into(),
        api: "orders".into(),
        tenant: tenant.into(),
        callback: format!("http://listener/{id}"),
        query: None,
        event_types: types.iter().map(|t| t.to_string()).collect(),
        extra: r#"{"buyerId":"B"}"#.into(),
    }
}

fn event(id: &str, tenant: &str, event_type: &str, key: &str) -> WriteOp {
    WriteOp::Publish(NewEvent {
        id: id.into(),
        api: "orders".into(),
        tenant: tenant.into(),
        event_type: event_type.into(),
        listener_path: format!("/listener/{event_type}"),
        body: format!(r#"{{"eventId":"{id}","event":{{"id":"o"}}}}"#),
        ordering_key: key.into(),
        at: 1_000,
    })
}

fn query(tenant: Option<&str>, filters: Vec<Filter>) -> ListQuery {
    ListQuery { kind: "productOrder".into(), tenant: tenant.map(str::to_owned), filters, offset: 0, limit: 10 }
}

#[tokio::test]
async fn resources_are_visible_only_to_their_tenant() {
    for (_dir, store) in stores("resources_are_visible_only_to_their_tenant").await {
        store.apply(vec![insert("o1", "A", "acknowledged"), insert("o2", "B", "acknowledged")]).await.unwrap();
        assert!(store.get("productOrder", Some("A"), "o1").await.unwrap().is_some());
        assert!(store.get("productOrder", Some("B"), "o1").await.unwrap().is_none());
        assert!(store.get("productOrder", None, "o1").await.unwrap().is_some());
        let page = store.list(query(Some("B"), vec![])).await.unwrap();
        assert_eq!(page.total, Total::Exact(1));
        assert_eq!(page.records[0].id, "o2");
        // Led by a small index range too: neither another tenant's entries nor another kind's.
        let product = Record { kind: "product".into(), ..record("p1", "B", 1, "{}") };
        store
            .apply(vec![WriteOp::Insert { record: product, index: vec![IndexEntry::new("state", "acknowledged")] }])
            .await
            .unwrap();
        let ids = |page: Page| (page.total, page.records.into_iter().map(|r| r.id).collect::<Vec<_>>());
        let acknowledged = || vec![Filter::eq("state", "acknowledged")];
        assert_eq!(
            ids(store.list(query(Some("B"), acknowledged())).await.unwrap()),
            (Total::Exact(1), vec!["o2".into()])
        );
        assert_eq!(ids(store.list(query(None, acknowledged())).await.unwrap()).0, Total::Exact(2));
        // The entries an update writes belong to the same tenant.
        let update =
            WriteOp::Update { record: record("o2", "B", 2, "{}"), index: vec![IndexEntry::new("state", "completed")] };
        store.apply(vec![update]).await.unwrap();
        let completed = vec![Filter::eq("state", "completed")];
        assert_eq!(
            ids(store.list(query(Some("B"), completed.clone())).await.unwrap()),
            (Total::Exact(1), vec!["o2".into()])
        );
        assert_eq!(ids(store.list(query(Some("A"), completed)).await.unwrap()), (Total::Exact(0), vec![]));
    }
}

#[tokio::test]
async fn list_filters_pages_and_counts_newest_first() {
    for (_dir, store) in stores("list_filters_pages_and_counts_newest_first").await {
        let ops = (0..25).map(|i| insert(&format!("o{i}"), "A", if i % 2 == 0 { "completed" } else { "failed" }));
        store.apply(ops.collect()).await.unwrap();
        let eq = Filter { name: "state".into(), condition: Condition::Eq("completed".into()) };
        let mut q = query(Some("A"), vec![eq]);
        q.offset = 10;
        q.limit = 5;
        let page = store.list(q).await.unwrap();
        assert_eq!(page.total, Total::Exact(13));
        let ids: Vec<_> = page.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["o4", "o2", "o0"]);
        let any = Filter { name: "state".into(), condition: Condition::In(vec!["completed".into(), "failed".into()]) };
        assert_eq!(store.list(query(Some("A"), vec![any])).await.unwrap().total, Total::Exact(25));
        let none = Filter { name: "state".into(), condition: Condition::Eq("rejected".into()) };
        let empty = store.list(query(Some("A"), vec![none])).await.unwrap();
        assert_eq!((empty.total, empty.records.len()), (Total::Exact(0), 0));
    }
}

#[tokio::test]
async fn a_list_counts_its_matches_up_to_a_bound_and_pages_on_past_it() {
    for (_dir, store) in stores("a_list_counts_its_matches_up_to_a_bound_and_pages_on_past_it").await {
        // More than the bound in one state for tenant A, a few of them also `dark`; tenant B's
        // resources in the same state are not A's matches.
        let many = COUNTED_UP_TO + 50;
        let ops = (0..many).map(|i| {
            let mut index = vec![IndexEntry::new("state", "completed")];
            if i % 700 == 0 {
                index.push(IndexEntry::new("shade", "dark"));
            }
            WriteOp::Insert { record: record(&format!("o{i}"), "A", 1, "{}"), index }
        });
        store.apply(ops.collect()).await.unwrap();
        store.apply(vec![insert("b0", "B", "completed"), insert("b1", "B", "failed")]).await.unwrap();
        let completed = || Filter::eq("state", "completed");
        let dark = Filter::eq("shade", "dark");
        let page = |filters: Vec<Filter>, offset: u64, limit: u64| {
            let mut q = query(Some("A"), filters);
            (q.offset, q.limit) = (offset, limit);
            store.list(q)
        };
        let ids = |page: &Page| page.records.iter().map(|r| r.id.clone()).collect::<Vec<_>>();

        let first = page(vec![completed()], 0, 3).await.unwrap();
        assert_eq!(ids(&first), [format!("o{}", many - 1), format!("o{}", many - 2), format!("o{}", many - 3)]);
        assert_eq!(first.total, Total::AtLeast(COUNTED_UP_TO + 1), "counted to the bound, not to the end");
        let deep = page(vec![completed()], COUNTED_UP_TO + 40, 20).await.unwrap();
        assert_eq!(ids(&deep).len(), 10, "the last page past the bound");
        assert_eq!(deep.total, Total::AtLeast(many), "nothing follows the last page");
        let before_last = page(vec![completed()], COUNTED_UP_TO + 20, 20).await.unwrap();
        assert_eq!(before_last.total, Total::AtLeast(COUNTED_UP_TO + 41), "more follow this page");
        assert_eq!(page(vec![], 0, 1).await.unwrap().total, Total::AtLeast(COUNTED_UP_TO + 1));

        // A filter few resources match is counted exactly, alone or with a common one.
        let darks = many.div_ceil(700);
        assert_eq!(page(vec![dark.clone()], 0, 5).await.unwrap().total, Total::Exact(darks));
        let both = page(vec![completed(), dark.clone()], 0, 100).await.unwrap();
        assert_eq!(both.total, Total::Exact(darks));
        assert_eq!(ids(&both)[0], format!("o{}", (many - 1) / 700 * 700));
        // Past its first page, newest first still, with the exact count.
        let later = page(vec![dark], 3, 4).await.unwrap();
        assert_eq!((later.total, ids(&later)), (Total::Exact(darks), ids(&both)[3..7].to_vec()));
        let b = ListQuery { tenant: Some("B".into()), ..query(None, vec![completed()]) };
        let b = store.list(b).await.unwrap();
        assert_eq!((b.total, ids(&b)), (Total::Exact(1), vec!["b0".to_owned()]));
    }
}

#[tokio::test]
async fn range_filters_compare_sortable_times() {
    for (_dir, store) in stores("range_filters_compare_sortable_times").await {
        let ops = [1_000, 2_000, 3_000].iter().enumerate().map(|(i, t)| WriteOp::Insert {
            record: record(&format!("o{i}"), "A", 1, "{}"),
            index: vec![IndexEntry::new("orderDate", sortable_time(*t))],
        });
        store.apply(ops.collect()).await.unwrap();
        let gt = Filter { name: "orderDate".into(), condition: Condition::After(1_500) };
        let lt = Filter { name: "orderDate".into(), condition: Condition::Before(3_000) };
        let page = store.list(query(Some("A"), vec![gt, lt])).await.unwrap();
        assert_eq!(page.records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["o1"]);
    }
}

#[tokio::test]
async fn updates_need_the_current_version_and_replace_the_index() {
    for (_dir, store) in stores("updates_need_the_current_version_and_replace_the_index").await {
        store.apply(vec![insert("o1", "A", "acknowledged")]).await.unwrap();
        let update = |version, state: &str| WriteOp::Update {
            record: record("o1", "A", version, &format!(r#"{{"state":"{state}"}}"#)),
            index: vec![IndexEntry::new("state", state)],
        };
        store.apply(vec![update(2, "inProgress")]).await.unwrap();
        let stale = store.apply(vec![update(2, "completed")]).await;
        assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
        let got = store.get("productOrder", Some("A"), "o1").await.unwrap().unwrap();
        assert_eq!((got.version, got.doc.as_str()), (2, r#"{"state":"inProgress"}"#));
        let old = Filter { name: "state".into(), condition: Condition::Eq("acknowledged".into()) };
        assert_eq!(store.list(query(Some("A"), vec![old])).await.unwrap().total, Total::Exact(0));
        // Entries kept, duplicated and dropped: the index is what the last write said.
        let items = |version, states: &[&str]| WriteOp::Update {
            record: record("o1", "A", version, "{}"),
            index: states
                .iter()
                .map(|s| IndexEntry::new("itemState", *s))
                .chain([IndexEntry::new("state", "x")])
                .collect(),
        };
        store.apply(vec![items(3, &["a", "a", "b"])]).await.unwrap();
        let counted = || store.count_by("productOrder", "itemState");
        assert_eq!(counted().await.unwrap(), [("a".to_owned(), 2), ("b".to_owned(), 1)]);
        store.apply(vec![items(4, &["a", "b", "b"])]).await.unwrap();
        assert_eq!(counted().await.unwrap(), [("a".to_owned(), 1), ("b".to_owned(), 2)]);
        store.apply(vec![items(5, &["c"]), items(6, &["c", "c"])]).await.unwrap();
        assert_eq!(counted().await.unwrap(), [("c".to_owned(), 2)]);
        let kept = Filter { name: "state".into(), condition: Condition::Eq("x".into()) };
        assert_eq!(store.list(query(Some("A"), vec![kept])).await.unwrap().total, Total::Exact(1));
        let delete = || WriteOp::Delete { kind: "productOrder".into(), id: "o1".into() };
        store.apply(vec![delete()]).await.unwrap();
        assert!(store.get("productOrder", None, "o1").await.unwrap().is_none());
        let gone = Filter { name: "state".into(), condition: Condition::Eq("x".into()) };
        assert_eq!(
            store.list(query(Some("A"), vec![gone])).await.unwrap().total,
            Total::Exact(0),
            "its index went with it"
        );
        assert!(matches!(store.apply(vec![delete()]).await, Err(StoreError::NotFound)));
        // Forgetting what is gone is no failure; forgetting what is there removes it.
        let forget = |id: &str| WriteOp::Forget { kind: "productOrder".into(), id: id.into() };
        store.apply(vec![forget("o1"), insert("o2", "A", "y")]).await.unwrap();
        store.apply(vec![forget("o2")]).await.unwrap();
        assert!(store.get("productOrder", None, "o2").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn a_failed_write_leaves_nothing_and_does_not_disturb_its_group() {
    for (_dir, store) in stores("a_failed_write_leaves_nothing_and_does_not_disturb_its_group").await {
        store.apply(vec![insert("o1", "A", "x")]).await.unwrap();
        let writes = (0..50).map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                // Every fifth write collides with o1 after inserting another row first; every
                // fifth but one changes o1 from a version it no longer has.
                let stale = WriteOp::Update { record: record("o1", "A", 7, "{}"), index: Vec::new() };
                let ops = match i % 5 {
                    0 => vec![insert(&format!("n{i}"), "A", "x"), insert("o1", "A", "x")],
                    1 => vec![insert(&format!("n{i}"), "A", "x"), stale],
                    _ => vec![insert(&format!("n{i}"), "A", "x")],
                };
                store.apply(ops).await.is_ok()
            })
        });
        let mut ok = 0;
        for write in writes {
            ok += write.await.unwrap() as u64;
        }
        assert_eq!(ok, 30);
        assert_eq!(store.list(query(Some("A"), vec![])).await.unwrap().total, Total::Exact(31));
        let x = Filter { name: "state".into(), condition: Condition::Eq("x".into()) };
        assert_eq!(
            store.list(query(Some("A"), vec![x])).await.unwrap().total,
            Total::Exact(31),
            "no index entry of a failed write"
        );
    }
}

#[tokio::test]
async fn jobs_are_leased_finished_and_rerun_when_enqueued_again_while_running() {
    for (_dir, store) in stores("jobs_are_leased_finished_and_rerun_when_enqueued_again_while_running").await {
        let enqueue =
            |run_at| WriteOp::Enqueue { kind: "order".into(), key: "o1".into(), payload: "{}".into(), run_at };
        store.apply(vec![enqueue(100)]).await.unwrap();
        assert!(store.claim_jobs(99, 1_000, 10).await.unwrap().is_empty());
        let jobs = store.claim_jobs(100, 1_000, 10).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert!(store.claim_jobs(500, 1_000, 10).await.unwrap().is_empty(), "leased");
        store.apply(vec![enqueue(100)]).await.unwrap();
        store.apply(vec![WriteOp::FinishJob { id: jobs[0].id, generation: jobs[0].generation }]).await.unwrap();
        let again = store.claim_jobs(500, 1_000, 10).await.unwrap();
        assert_eq!(again.len(), 1, "the second enqueue survives the first run's finish");
        store.apply(vec![WriteOp::FinishJob { id: again[0].id, generation: again[0].generation }]).await.unwrap();
        assert!(store.claim_jobs(10_000, 1_000, 10).await.unwrap().is_empty());
        assert_eq!(store.next_job_time().await.unwrap(), None);
    }
}

#[tokio::test]
async fn jobs_and_events_keep_the_trace_of_the_work_that_wrote_them() {
    for (_dir, store) in stores("jobs_and_events_keep_the_trace_of_the_work_that_wrote_them").await {
        let (first, second) = (
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
        let backend = &store;
        let apply = async |ops: Vec<WriteOp>, trace: Option<&str>| {
            let trace = trace.map(str::to_owned);
            dispatch!(backend.apply(ops, trace)).unwrap()
        };
        let enqueue = || WriteOp::Enqueue { kind: "order".into(), key: "o1".into(), payload: "{}".into(), run_at: 0 };
        apply(vec![enqueue(), WriteOp::InsertHub(hub("h", "A", &[]))], Some(first)).await;
        apply(vec![enqueue()], None).await;
        let jobs = store.claim_jobs(0, 1_000, 10).await.unwrap();
        assert_eq!(jobs[0].trace.as_deref(), Some(first), "enqueued again untraced: the trace stays");
        apply(vec![enqueue()], Some(second)).await;
        apply(vec![WriteOp::FinishJob { id: jobs[0].id, generation: jobs[0].generation }], None).await;
        let again = store.claim_jobs(0, 1_000, 10).await.unwrap();
        assert_eq!(again[0].trace.as_deref(), Some(second), "the last traced enqueue's");

        apply(vec![event("e1", "A", "stateChange", "o1")], Some(second)).await;
        apply(vec![event("e2", "A", "stateChange", "o2")], None).await;
        let mut tasks = store.claim_deliveries(1_000, 1_000, 10).await.unwrap();
        tasks.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        let traces: Vec<Option<&str>> = tasks.iter().map(|t| t.trace.as_deref()).collect();
        assert_eq!(traces, [Some(second), None]);
    }
}

#[tokio::test]
async fn expired_leases_are_claimed_again_and_retries_wait() {
    for (_dir, store) in stores("expired_leases_are_claimed_again_and_retries_wait").await {
        let enqueue = WriteOp::Enqueue { kind: "order".into(), key: "o1".into(), payload: "{}".into(), run_at: 0 };
        store.apply(vec![enqueue]).await.unwrap();
        let first = store.claim_jobs(0, 100, 1).await.unwrap();
        let second = store.claim_jobs(100, 100, 1).await.unwrap();
        assert_eq!(second[0].attempts, 2);
        store
            .apply(vec![WriteOp::RetryJob {
                id: first[0].id,
                generation: first[0].generation,
                run_at: 5_000,
                error: "boom".into(),
            }])
            .await
            .unwrap();
        assert!(store.claim_jobs(4_999, 100, 1).await.unwrap().is_empty());
        assert_eq!(store.claim_jobs(5_000, 100, 1).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_renewed_lease_holds_until_its_new_end_and_a_finished_claim_is_not_renewed() {
    for (_dir, store) in stores("a_renewed_lease_holds_until_its_new_end").await {
        let enqueue =
            |key: &str| WriteOp::Enqueue { kind: "order".into(), key: key.into(), payload: "{}".into(), run_at: 0 };
        store.apply(vec![enqueue("o1"), enqueue("o2")]).await.unwrap();
        let claimed = store.claim_jobs(0, 100, 2).await.unwrap();
        let ids: Vec<i64> = claimed.iter().map(|j| j.id).collect();
        // The second is done with before the heartbeat: it is not held any more.
        let done = &claimed[1];
        store
            .apply(vec![WriteOp::RetryJob {
                id: done.id,
                generation: done.generation,
                run_at: 0,
                error: String::new(),
            }])
            .await
            .unwrap();
        store.renew_leases(crate::Leased::Jobs, ids, 5_000).await.unwrap();
        let again = store.claim_jobs(200, 100, 2).await.unwrap();
        assert_eq!(again.iter().map(|j| j.id).collect::<Vec<_>>(), [done.id], "the renewed one is still held");
        let ids = |jobs: Vec<crate::Job>| jobs.iter().map(|j| j.id).collect::<Vec<_>>();
        assert_eq!(ids(store.claim_jobs(4_999, 100, 2).await.unwrap()), [done.id], "the first one held still");
        assert_eq!(ids(store.claim_jobs(5_000, 100, 1).await.unwrap()), [claimed[0].id], "held until its new end");
    }
}

#[tokio::test]
async fn events_fan_out_to_matching_hubs_of_the_tenant_only() {
    for (_dir, store) in stores("events_fan_out_to_matching_hubs_of_the_tenant_only").await {
        store
            .apply(vec![
                WriteOp::InsertHub(hub("h-all", "A", &[])),
                WriteOp::InsertHub(hub("h-state", "A", &["stateChange"])),
                WriteOp::InsertHub(hub("h-other", "B", &[])),
            ])
            .await
            .unwrap();
        store.apply(vec![event("e1", "A", "itemChange", "o1"), event("e2", "A", "stateChange", "o1")]).await.unwrap();
        let counts = store.delivery_counts().await.unwrap();
        assert_eq!(counts.pending, 3, "h-all gets both, h-state one, h-other none");
        store.apply(vec![event("e3", "C", "stateChange", "o9")]).await.unwrap();
        assert_eq!(store.delivery_counts().await.unwrap().pending, 3, "no hub of tenant C: nothing to deliver");
        let tasks = store.claim_deliveries(1_000, 1_000, 10).await.unwrap();
        let mut urls: Vec<_> = tasks.iter().map(|t| t.url.as_str()).collect();
        urls.sort();
        assert_eq!(urls, ["http://listener/h-all/listener/itemChange", "http://listener/h-state/listener/stateChange"]);
        assert!(tasks[0].body.ends_with(r#""event":{"id":"o","buyerId":"B"}}"#), "{}", tasks[0].body);
    }
}

#[tokio::test]
async fn deliveries_of_one_key_go_in_order_and_dead_letters_can_be_resent() {
    for (_dir, store) in stores("deliveries_of_one_key_go_in_order_and_dead_letters_can_be_resent").await {
        store.apply(vec![WriteOp::InsertHub(hub("h", "A", &[]))]).await.unwrap();
        store
            .apply(vec![event("e1", "A", "x", "o1"), event("e2", "A", "x", "o1"), event("e3", "A", "x", "o2")])
            .await
            .unwrap();
        let first = store.claim_deliveries(1_000, 1_000, 10).await.unwrap();
        assert_eq!(first.len(), 2, "one head per order");
        let e1 = first.iter().find(|t| t.body.contains("e1")).unwrap().id;
        let retry = DeliveryOutcome::Retry { at: 3_000, status: Some(500), error: "500".into() };
        let e3 = first.iter().find(|t| t.body.contains("e3")).unwrap().id;
        let delivered = DeliveryOutcome::Delivered { status: 204 };
        store.finish_deliveries(1_000, vec![(e1, retry), (e3, delivered)]).await.unwrap();
        assert!(store.claim_deliveries(2_500, 0, 10).await.unwrap().is_empty(), "e2 waits behind e1");
        let dead = DeliveryOutcome::Dead { status: Some(500), error: "gave up".into() };
        store.finish_deliveries(3_000, vec![(e1, dead)]).await.unwrap();
        let next = store.claim_deliveries(3_000, 1_000, 10).await.unwrap();
        assert!(next.iter().any(|t| t.body.contains("e2")), "a dead letter no longer blocks");
        let dead_list = store.list_deliveries(Some("dead"), 10).await.unwrap();
        assert_eq!(dead_list.len(), 1);
        store.redeliver(e1, 4_000).await.unwrap();
        assert_eq!(store.delivery_counts().await.unwrap().dead, 0);
    }
}

#[tokio::test]
async fn deleting_a_hub_cancels_its_pending_deliveries() {
    for (_dir, store) in stores("deleting_a_hub_cancels_its_pending_deliveries").await {
        store.apply(vec![WriteOp::InsertHub(hub("h", "A", &[]))]).await.unwrap();
        store.apply(vec![event("e1", "A", "x", "o1")]).await.unwrap();
        let wrong =
            store.apply(vec![WriteOp::DeleteHub { api: "orders".into(), tenant: "B".into(), id: "h".into() }]).await;
        assert!(matches!(wrong, Err(StoreError::NotFound)));
        store
            .apply(vec![WriteOp::DeleteHub { api: "orders".into(), tenant: "A".into(), id: "h".into() }])
            .await
            .unwrap();
        assert!(store.claim_deliveries(1_000, 1_000, 10).await.unwrap().is_empty());
        assert_eq!(store.delivery_counts().await.unwrap(), DeliveryCounts::default());
    }
}

#[tokio::test]
async fn reopening_releases_the_leases_of_the_previous_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lso.db");
    {
        let store = Store::open(&path).unwrap();
        let enqueue = WriteOp::Enqueue { kind: "order".into(), key: "o1".into(), payload: "{}".into(), run_at: 0 };
        store.apply(vec![enqueue]).await.unwrap();
        assert_eq!(store.claim_jobs(0, 1_000_000, 1).await.unwrap().len(), 1);
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.claim_jobs(1, 1_000, 1).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_scratch_database_name_is_never_sql() {
    // Refused before any connection is tried, so no server is needed.
    let refused = PgStore::scratch_database("host=127.0.0.1 port=1", "x; DROP DATABASE postgres").await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
}

/// With a test server that asks for `sslmode=verify-full` (as `scripts/postgres` makes it), the
/// session is encrypted, and a server whose certificate the given CA did not sign is refused.
#[tokio::test]
async fn postgres_sessions_are_tls_and_verify_full_refuses_a_stranger() {
    let Some(server) = std::env::var("POSTGRES_TEST_SERVER").ok().filter(|s| s.contains("sslmode=verify-full")) else {
        return;
    };
    let database = PgStore::scratch_database(&server, "tls").await.unwrap();
    let Store::Postgres(store) = Store::connect(&database, None).await.unwrap() else { unreachable!() };
    let client = store.client().await.unwrap();
    let row = client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap();
    assert!(row.get::<_, bool>(0), "the session is not encrypted");

    let dir = tempfile::tempdir().unwrap();
    let stranger = lso_transport::testing::TestCa::new(dir.path(), "stranger");
    let root = replaced(&database, "sslrootcert=", &stranger.ca().display().to_string());
    let refused = PgStore::connect(&root, None).await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_))), "a server the CA did not sign was trusted");
    // Without TLS the server (hostssl only) refuses the session: the suite's sessions are all TLS.
    let plain = replaced(&database, "sslmode=", "disable");
    assert!(PgStore::connect(&plain, None).await.is_err());
}

/// `connection` with the value of `key=` replaced by `value`.
fn replaced(connection: &str, key: &str, value: &str) -> String {
    connection
        .split_whitespace()
        .map(|pair| if pair.starts_with(key) { format!("{key}{value}") } else { pair.to_owned() })
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn an_opened_store_has_every_migration_applied() {
    for (_dir, store) in stores("migrated").await {
        assert_eq!(store.pending_migrations().await.unwrap(), 0);
    }
}

#[tokio::test]
async fn resources_are_counted_by_an_indexed_value_and_jobs_by_kind() {
    for (_dir, store) in stores("counted").await {
        let mut second = insert("o2", "t", "completed");
        if let WriteOp::Insert { index, .. } = &mut second {
            index.push(IndexEntry::new("state", "completed"));
        }
        let jobs = [("order", "a", 50), ("order", "b", 20), ("ticket", "c", 70)].map(|(kind, key, run_at)| {
            WriteOp::Enqueue { kind: kind.into(), key: key.into(), payload: "{}".into(), run_at }
        });
        let mut ops = vec![insert("o1", "t", "acknowledged"), second, insert("o3", "u", "completed")];
        ops.extend(jobs);
        store.apply(ops).await.unwrap();
        let by_state = store.count_by("productOrder", "state").await.unwrap();
        assert_eq!(by_state, [("acknowledged".to_owned(), 1), ("completed".to_owned(), 3)]);
        assert_eq!(store.count_by("quote", "state").await.unwrap(), []);
        let waiting = store.jobs_waiting().await.unwrap();
        assert_eq!(waiting, [("order".to_owned(), 2, 20), ("ticket".to_owned(), 1, 70)]);
    }
}
