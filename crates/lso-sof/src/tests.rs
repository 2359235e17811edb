//! The SOF on the demo network with simulated elements: service orders from acceptance to
//! configured elements and back, the MEF 99 checks, and compensation when an element fails.

use super::*;
use crate::services::{EVC, SUBSCRIBER_UNI};
use lso_adagio::Adagio;
use lso_ecm::Ecm;
use lso_jobs::Step;
use lso_model::{FixedClock, SequentialIds};
use lso_store::WriteOp;
use serde_json::json;

const NOW: i64 = 1_790_000_000_000;

struct World {
    sof: Arc<Sof>,
    clock: Arc<FixedClock>,
    store: Store,
    icm: Arc<lso_icm::Icm>,
    ecm: Arc<Ecm>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lso.db")).unwrap();
    let topology = lso_icm::Topology::parse(lso_icm::DEMO_TOPOLOGY).unwrap();
    let ecm = Arc::new(lso_ecm::Ecm::simulated_elements(topology.elements.clone()));
    let icm = Arc::new(lso_icm::Icm::open(topology, store.clone(), ecm.clone()).await.unwrap());
    let clock = Arc::new(FixedClock::at(NOW));
    let sof = Arc::new(Sof::new(
        store.clone(),
        icm.clone(),
        clock.clone(),
        Arc::new(SequentialIds::new("s")),
        lso_notify::SelfAddresses::default(),
    ));
    World { sof, clock, store, icm, ecm, _dir: dir }
}

impl World {
    /// Runs every due job until none is left.
    async fn settle(&self) {
        for _ in 0..1000 {
            if !self.run_jobs_once().await {
                return;
            }
        }
        panic!("the jobs did not settle");
    }

    /// Runs each job waiting, whenever it is due, once; whether there was any.
    async fn run_jobs_once(&self) -> bool {
        let jobs = self.store.claim_jobs(i64::MAX / 4, 1, 100).await.unwrap();
        let any = !jobs.is_empty();
        for job in jobs {
            let finish = match self.sof.run(&job).await {
                Ok((mut ops, Step::Done)) => {
                    ops.push(WriteOp::FinishJob { id: job.id, generation: job.generation });
                    ops
                }
                Ok((mut ops, Step::Again { at })) => {
                    ops.push(WriteOp::RetryJob {
                        id: job.id,
                        generation: job.generation,
                        run_at: at,
                        error: String::new(),
                    });
                    ops
                }
                Err(failure) => {
                    // A job that cannot go on waits; the test decides when to go on.
                    vec![WriteOp::RetryJob {
                        id: job.id,
                        generation: job.generation,
                        run_at: i64::MAX / 2,
                        error: failure.message,
                    }]
                }
            };
            self.store.apply(finish).await.unwrap();
        }
        any
    }

    async fn order(&self, items: Vec<Value>) -> Value {
        let order = json!({
            "requestedStartDate": "2026-09-01T10:00:00Z", "requestedCompletionDate": "2026-11-26T10:00:00Z",
            "serviceOrderItem": items,
        });
        let accepted = self.sof.create_service_order("bus", order).await.unwrap();
        self.settle().await;
        self.sof.service_order("bus", accepted["id"].as_str().unwrap()).await.unwrap()
    }

    async fn flows(&self) -> usize {
        let mut count = 0;
        for (element, _) in self.ecm.elements() {
            count += self.ecm.simulated(&element).unwrap().all_flows().len();
        }
        count
    }
}

fn add_uni(item: &str, site: &str) -> Value {
    json!({"id": item, "action": "add", "service": {
        "state": "active", "serviceConfiguration": {"@type": SUBSCRIBER_UNI},
        "place": [{"@type": "GeographicSiteRef", "id": site, "role": "INSTALL_LOCATION"}]}})
}

fn add_evc(item: &str, unis: &[&str], vlan: u16, cir: u64) -> Value {
    let end_points: Vec<Value> = unis.iter().map(|u| json!({"service": u, "vlans": [vlan]})).collect();
    json!({"id": item, "action": "add", "service": {"serviceConfiguration": {"@type": EVC, "endPoints": end_points, "cirMbps": cir}}})
}

fn delete(item: &str, service: &str) -> Value {
    json!({"id": item, "action": "delete", "service": {"id": service}})
}

fn service_of(order: &Value, index: usize) -> String {
    order["serviceOrderItem"][index]["service"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_order_ends_as_configured_elements_and_a_delete_order_removes_them() {
    let world = world().await;
    let unis = world.order(vec![add_uni("1", "site-new-york"), add_uni("2", "site-boston")]).await;
    assert_eq!(unis["state"], "completed", "{unis:#}");
    let (a, z) = (service_of(&unis, 0), service_of(&unis, 1));
    assert_eq!(world.sof.interface_of(&a).await.unwrap().as_deref(), Some("uni-new-york-1"));
    assert_eq!(world.sof.interface_of(&z).await.unwrap().as_deref(), Some("uni-boston-1"));
    assert_eq!(world.sof.service("bus", &a).await.unwrap()["state"], "active");

    let evc = world.order(vec![add_evc("1", &[&a, &z], 100, 50)]).await;
    assert_eq!(evc["state"], "completed", "{evc:#}");
    let evc_id = service_of(&evc, 0);
    let service = world.sof.service("bus", &evc_id).await.unwrap();
    assert_eq!(service["state"], "active");
    assert_eq!(service["serviceOrderItem"][0]["serviceOrderId"], evc["id"]);
    assert!(world.icm.check_connectivity(&evc_id).await.unwrap(), "every element reads back as configured");
    assert_eq!(world.flows().await, 4, "pe1 and pe3, two flows each");
    let policy = world.store.get(SERVICE_POLICY, None, &evc_id).await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&policy.doc).unwrap()["changeable"]["cirMbps"],
        json!({"min": 1, "max": 1000})
    );

    let refused = world.order(vec![delete("1", &a)]).await;
    assert_eq!(refused["state"], "failed");
    let reason = refused["serviceOrderItem"][0]["terminationError"][0]["value"].as_str().unwrap();
    assert!(reason.contains(&evc_id), "{reason}");

    let gone = world.order(vec![delete("1", &evc_id), delete("2", &a)]).await;
    assert_eq!(gone["serviceOrderItem"][0]["state"], "completed");
    assert_eq!(world.sof.service("bus", &evc_id).await.unwrap()["state"], "terminated");
    assert_eq!(world.flows().await, 0, "nothing is left on the elements");
    assert!(world.icm.read(lso_icm::Network::is_empty).await);
}

#[tokio::test]
async fn items_wait_for_the_items_they_relate_to_and_fail_with_them() {
    let world = world().await;
    let mut second = add_uni("2", "site-nowhere");
    second["serviceOrderItemRelationship"] = json!([{"orderItem": {"itemId": "1"}, "relationshipType": "dependsOn"}]);
    let mut first = add_uni("1", "site-nowhere");
    first["serviceOrderItemRelationship"] = json!([]);
    let order = world.order(vec![second, first]).await;
    assert_eq!(order["state"], "failed");
    assert_eq!(
        order["serviceOrderItem"][1]["terminationError"][0]["value"],
        "the network has no UNI at site `site-nowhere`"
    );
    assert_eq!(order["serviceOrderItem"][0]["terminationError"][0]["value"], "an item it relates to failed");
}

#[tokio::test]
async fn an_item_related_to_an_item_of_another_order_is_pending_until_that_one_completes() {
    let world = world().await;
    // The first order is to start in an hour; the second's UNI depends on the first's.
    let later = json!({"requestedStartDate": lso_model::DateTime::from_millis(NOW + 3_600_000).as_str(),
                       "requestedCompletionDate": "2026-11-26T10:00:00Z", "serviceOrderItem": [add_uni("1", "site-new-york")]});
    let first = world.sof.create_service_order("bus", later).await.unwrap();
    let first_id = first["id"].as_str().unwrap();
    let mut item = add_uni("1", "site-boston");
    item["serviceOrderItemRelationship"] =
        json!([{"orderItem": {"itemId": "1", "serviceOrderId": first_id}, "relationshipType": "dependsOn"}]);
    let second = world
        .sof
        .create_service_order(
            "bus",
            json!({"requestedStartDate": "2026-09-01T10:00:00Z", "requestedCompletionDate": "2026-11-26T10:00:00Z",
                   "serviceOrderItem": [item.clone()]}),
        )
        .await
        .unwrap();
    let second_id = second["id"].as_str().unwrap();
    world.run_jobs_once().await;
    let first = world.sof.service_order("bus", first_id).await.unwrap();
    assert_eq!(first["state"], "acknowledged", "not started before its requested start");
    let waiting = world.sof.service_order("bus", second_id).await.unwrap();
    assert_eq!(
        (waiting["state"].clone(), waiting["serviceOrderItem"][0]["state"].clone()),
        (json!("pending"), json!("pending"))
    );
    let note = &waiting["serviceOrderItem"][0]["note"][0];
    assert_eq!(note["source"], "sof");
    assert!(note["text"].as_str().unwrap().contains(first_id), "{note}");

    world.clock.advance(std::time::Duration::from_secs(3600));
    world.settle().await;
    let first = world.sof.service_order("bus", first_id).await.unwrap();
    let done = world.sof.service_order("bus", second_id).await.unwrap();
    assert_eq!((first["state"].clone(), done["state"].clone()), (json!("completed"), json!("completed")), "{done:#}");

    // A relation to an order or item that does not exist is refused at once.
    item["serviceOrderItemRelationship"][0]["orderItem"]["serviceOrderId"] = json!("no-such-order");
    let refused = world
        .sof
        .create_service_order(
            "bus",
            json!({"requestedStartDate": "2026-09-01T10:00:00Z", "requestedCompletionDate": "2026-11-26T10:00:00Z",
                   "serviceOrderItem": [item]}),
        )
        .await
        .unwrap_err();
    let SofError::Invalid(found) = refused else { panic!("{refused:?}") };
    assert_eq!(found[0].property_path, "/serviceOrderItem/0/serviceOrderItemRelationship/0/orderItem/serviceOrderId");
}

#[tokio::test]
async fn orders_breaking_mef_99_are_refused_with_every_problem_located() {
    let world = world().await;
    let order = json!({"requestedStartDate": "soon", "serviceOrderItem": [
        {"id": "1", "action": "add", "service": {"id": "x", "serviceConfiguration": {"@type": "urn:nope"}}},
        {"id": "1", "action": "delete", "service": {"id": "no-such"}},
        {"id": "3", "action": "add", "service": {"serviceConfiguration": {"@type": EVC, "endPoints": [{"interface": "nowhere"}, {"service": "nothing"}]}},
         "serviceOrderItemRelationship": [{"orderItem": {"itemId": "9"}, "relationshipType": "x"}]},
        {"id": "4", "action": "launch", "service": {}},
    ]});
    let Err(SofError::Invalid(found)) = world.sof.create_service_order("bus", order).await else { panic!("accepted") };
    let paths: Vec<&str> = found.iter().map(|v| v.property_path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/requestedCompletionDate",
            "/requestedStartDate",
            "/serviceOrderItem/0/id",
            "/serviceOrderItem/0/service/id",
            "/serviceOrderItem/0/service/serviceConfiguration/@type",
            "/serviceOrderItem/1/id",
            "/serviceOrderItem/1/service/id",
            "/serviceOrderItem/2/serviceOrderItemRelationship/0/orderItem/itemId",
            "/serviceOrderItem/2/service/serviceConfiguration/endPoints/0/interface",
            "/serviceOrderItem/3/action",
        ]
    );
    let Err(SofError::Invalid(found)) = world.sof.create_service_order("bus", json!({})).await else {
        panic!("accepted")
    };
    assert_eq!(found.last().unwrap().property_path, "/serviceOrderItem");
}

#[tokio::test]
async fn a_repeated_create_with_the_same_external_id_returns_the_first_order() {
    let world = world().await;
    let order = json!({"externalId": "po-1/item-1", "requestedStartDate": "2026-09-01T10:00:00Z",
        "requestedCompletionDate": "2026-11-26T10:00:00Z", "serviceOrderItem": [add_uni("1", "site-boston")]});
    let first = world.sof.create_service_order("bus", order.clone()).await.unwrap();
    let again = world.sof.create_service_order("bus", order.clone()).await.unwrap();
    assert_eq!(first["id"], again["id"]);
    let other_client = world.sof.create_service_order("other-bus", order).await.unwrap();
    assert_ne!(first["id"], other_client["id"], "another BUS's external ids are its own");
}

#[tokio::test]
async fn a_hundred_orders_failing_at_an_element_leak_no_vlan_bandwidth_or_flow() {
    let world = world().await;
    let unis = world.order(vec![add_uni("1", "site-new-york"), add_uni("2", "site-washington")]).await;
    let (a, z) = (service_of(&unis, 0), service_of(&unis, 1));
    world.ecm.simulated("pe2").unwrap().set_down(true);
    for n in 0..100u16 {
        let order = world.order(vec![add_evc("1", &[&a, &z], 100 + n, 10)]).await;
        assert_eq!(order["state"], "failed", "{order:#}");
        let reason = order["serviceOrderItem"][0]["terminationError"][0]["value"].as_str().unwrap();
        assert!(reason.contains("pe2"), "{reason}");
        assert_eq!(world.sof.service("bus", &service_of(&order, 0)).await.unwrap()["state"], "terminated");
    }
    // pe2 could not be cleaned while down; the compensation jobs finish once it is back.
    world.ecm.simulated("pe2").unwrap().set_down(false);
    let stuck = world.store.claim_jobs(i64::MAX, 1, 1000).await.unwrap();
    assert_eq!(stuck.len(), 100, "one release job per failed order");
    for job in &stuck {
        world
            .store
            .apply(vec![WriteOp::RetryJob { id: job.id, generation: job.generation, run_at: 0, error: String::new() }])
            .await
            .unwrap();
    }
    world.settle().await;
    assert_eq!(world.flows().await, 0);
    let reservations = world.icm.read(|n| n.reservations().len()).await;
    assert_eq!(reservations, 0, "every S-VLAN and every Mbit/s is back");
    let evc = world.order(vec![add_evc("1", &[&a, &z], 100, 10)]).await;
    assert_eq!(evc["state"], "completed", "the same CE-VLAN can be ordered again");
}

#[tokio::test]
async fn each_committed_step_of_a_service_order_is_told_to_those_following_them() {
    let world = world().await;
    let mut moves = world.sof.service_order_moves().expect("the SOF of this process tells its moves");
    let order = json!({"externalId": "po-7/1", "requestedStartDate": "2026-09-01T10:00:00Z",
        "requestedCompletionDate": "2026-11-26T10:00:00Z", "serviceOrderItem": [add_uni("1", "site-new-york")]});
    let accepted = world.sof.create_service_order("bus", order).await.unwrap();
    let id = accepted["id"].as_str().unwrap().to_owned();
    assert!(moves.try_recv().is_err(), "accepting is no step yet");
    let worker =
        lso_jobs::Worker::new(world.store.clone(), Arc::new(FixedClock::at(NOW))).with_handler(world.sof.clone());
    for _ in 0..100 {
        if worker.try_execute_next().await.unwrap() == lso_jobs::Outcome::Empty {
            break;
        }
    }
    let completed = world.sof.service_order("bus", &id).await.unwrap();
    assert_eq!(completed["state"], "completed", "{completed:#}");
    let mut told = Vec::new();
    while let Ok(moved) = moves.try_recv() {
        told.push(moved);
    }
    let expected =
        lso_legato::ServiceOrderMove { id, client: "bus".into(), external_id: Some("po-7/1".into()), trace: None };
    assert!(!told.is_empty() && told.iter().all(|t| *t == expected), "{told:?}");
}

fn add_ipvc(item: &str, site: &str, configuration: Value) -> Value {
    let mut configuration = configuration;
    configuration["@type"] = json!(crate::services::IPVC);
    json!({"id": item, "action": "add", "service": {
        "state": "active", "serviceConfiguration": configuration,
        "place": [{"@type": "GeographicSiteRef", "id": site, "role": "INSTALL_LOCATION"}]}})
}

#[tokio::test]
async fn internet_access_takes_an_ip_uni_and_a_subnet_of_its_own_and_gives_both_back() {
    let world = world().await;
    let statics = json!({"cirMbps": 20, "customerPrefixes": ["192.0.2.0/28"]});
    let bgp = json!({"cirMbps": 50, "egressMbps": 100, "routing": "bgp", "customerAs": 65010, "customerPrefixes": ["192.0.2.16/28"], "prefixLength": 29});
    let order =
        world.order(vec![add_ipvc("1", "site-boston", statics.clone()), add_ipvc("2", "site-boston", bgp)]).await;
    assert_eq!(order["state"], "completed", "{order:#}");
    let (first, second) = (service_of(&order, 0), service_of(&order, 1));
    let link = |service: Value| service["serviceConfiguration"]["accessLink"].clone();
    let one = link(world.sof.document(SERVICE, "bus", &first).await.unwrap());
    let two = link(world.sof.document(SERVICE, "bus", &second).await.unwrap());
    assert_eq!(
        one,
        json!({"interface": "ipuni-boston-1", "ipv4Prefix": "100.64.0.0/30", "providerAddress": "100.64.0.1", "customerAddress": "100.64.0.2"})
    );
    assert_eq!(
        two,
        json!({"interface": "ipuni-boston-2", "ipv4Prefix": "100.64.0.8/29", "providerAddress": "100.64.0.9", "customerAddress": "100.64.0.10"})
    );

    // The router runs each as asked: addressing, routing and both rates.
    let connectivity = world.icm.connectivity(&second).await.unwrap();
    let [(element, connect)] = connectivity.cross_connects.as_slice() else { panic!("{connectivity:?}") };
    assert_eq!(element, "ar1");
    let endpoint = &connect.endpoints[0];
    assert_eq!((endpoint.port.as_str(), endpoint.ingress_cir_kbps), ("ip4", Some(50_000)));
    let lso_adagio::Attachment::Routed(routed) = &endpoint.attachment else { panic!("{endpoint:?}") };
    assert_eq!(
        (routed.provider.as_str(), routed.customer.as_str(), routed.egress_kbps),
        ("100.64.0.9/29", "100.64.0.10", Some(100_000))
    );
    assert_eq!(routed.bgp, Some(lso_adagio::Bgp { customer_as: 65010, accept: vec!["192.0.2.16/28".into()] }));
    assert!(world.ecm.check("ar1", connect).await.unwrap(), "the element reads back as configured");

    // Its user may change its rate up to its IP UNI's capacity (Allegro).
    let policy = world.sof.policy_of(&second).await.unwrap();
    assert_eq!(policy["changeable"]["cirMbps"], json!({"min": 1, "max": 1000}));
    // A new rate is made in place: the subnet stays, the router removes nothing.
    let faster = json!({"@type": crate::services::IPVC, "cirMbps": 70, "egressMbps": 100, "routing": "bgp", "customerAs": 65010,
                        "customerPrefixes": ["192.0.2.16/28"], "prefixLength": 29});
    let modified = world
        .order(vec![json!({"id": "1", "action": "modify", "service": {"id": second, "serviceConfiguration": faster}})])
        .await;
    assert_eq!(modified["state"], "completed", "{modified:#}");
    assert_eq!(link(world.sof.document(SERVICE, "bus", &second).await.unwrap()), two, "the same access link");
    let changed = world.icm.connectivity(&second).await.unwrap();
    assert_eq!(changed.cross_connects[0].1.endpoints[0].ingress_cir_kbps, Some(70_000));
    assert_eq!(world.ecm.simulated("ar1").unwrap().removals(), 0, "make before break");

    let full = world.order(vec![add_ipvc("1", "site-boston", statics.clone())]).await;
    assert_eq!(full["state"], "failed", "both IP UNIs at the site are taken");

    let deleted = world.order(vec![delete("1", &first)]).await;
    assert_eq!(deleted["state"], "completed", "{deleted:#}");
    assert!(world.icm.connectivity(&first).await.is_none(), "the router holds nothing for it");
    assert!(world.sof.interface_of(&first).await.unwrap().is_none(), "its IP UNI is free");
    let again = world.order(vec![add_ipvc("1", "site-boston", statics)]).await;
    assert_eq!(again["state"], "completed");
    let reused = link(world.sof.document(SERVICE, "bus", &service_of(&again, 0)).await.unwrap());
    assert_eq!(reused["ipv4Prefix"], "100.64.0.0/30", "the subnet given back is given out again");
    assert_eq!(reused["interface"], "ipuni-boston-1");
}

#[tokio::test]
async fn an_ipvc_the_router_cannot_run_is_refused_before_it_is_accepted() {
    let world = world().await;
    let order = json!({
        "requestedStartDate": "2026-09-01T10:00:00Z", "requestedCompletionDate": "2026-11-26T10:00:00Z",
        "serviceOrderItem": [add_ipvc("1", "site-boston", json!({"routing": "bgp"}))],
    });
    let Err(lso_model::EntityError::Invalid(violations)) = world.sof.create_service_order("bus", order).await else {
        panic!("BGP without the customer's AS was accepted")
    };
    assert_eq!(violations[0].property_path, "/serviceOrderItem/0/service/serviceConfiguration/customerAs");
}
