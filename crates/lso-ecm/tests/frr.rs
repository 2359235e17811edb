//! The FRRouting driver against a real provider-edge router (FRRouting in a network namespace,
//! see `lso_ecm::lab`), with an Internet host upstream and customers on its ports: static and
//! BGP routing, the rates in both directions measured with iperf3, read-back, and removal.
//! Needs root and the Debian packages `scripts/test` installs.

use lso_ecm::lab::Lab;
use lso_ecm::{Attachment, Bgp, CrossConnect, ElementDriver, Endpoint, FrrDriver, Routed};

fn access(service: &str, port: &str, provider: &str, customer: &str, kbps: Option<u32>) -> CrossConnect {
    let routed = Routed {
        provider: provider.into(),
        customer: customer.into(),
        static_routes: Vec::new(),
        bgp: None,
        egress_kbps: kbps,
    };
    let endpoint = Endpoint {
        port: port.into(),
        attachment: Attachment::Routed(routed),
        ingress_cir_kbps: kbps,
        role: lso_ecm::Role::Root,
    };
    CrossConnect { service: service.into(), endpoints: vec![endpoint] }
}

fn routed(connect: &mut CrossConnect) -> &mut Routed {
    match &mut connect.endpoints[0].attachment {
        Attachment::Routed(routed) => routed,
        _ => unreachable!("built routed"),
    }
}

#[tokio::test]
async fn a_provider_edge_router_routes_each_customer_at_its_rate_and_forgets_it_on_removal() {
    let mut lab = Lab::new("fr").unwrap();
    let (pe, internet) = lab.router("pe", 64500).unwrap();
    let first = lab.routed_host("c1", &pe, "c1").unwrap();
    let second = lab.routed_host("c2", &pe, "c2").unwrap();
    let driver = FrrDriver::new(&pe.namespace);

    // A static customer at 20 Mbit/s each way, with a prefix of its own behind its address.
    let mut one = access("ia-1", "c1", "100.64.0.1/30", "100.64.0.2", Some(20_000));
    routed(&mut one).static_routes = vec!["192.0.2.0/28".into()];
    assert!(!driver.check(&one).await.unwrap());
    driver.apply(&one).await.unwrap();
    assert!(driver.check(&one).await.unwrap(), "the router reads back as configured");
    driver.apply(&one).await.unwrap();
    let first = lab.address(&first, "100.64.0.2/30", "100.64.0.1").unwrap();
    assert!(lab.reaches(&first, &internet), "the customer reaches the Internet");
    assert!(lab.reaches(&internet, &first), "the Internet reaches the customer");
    let routes = lab.routes(&pe.namespace).unwrap();
    assert!(routes.contains("192.0.2.0/28") && routes.contains("via 100.64.0.2"), "{routes}");

    let ordered = 20.0;
    let up = lab.throughput_mbps(&first, &internet, 3).unwrap();
    let down = lab.throughput_mbps(&internet, &first, 3).unwrap();
    for (way, measured) in [("from the customer", up), ("towards the customer", down)] {
        assert!((measured - ordered).abs() <= ordered * 0.15, "{way}: {measured} Mbit/s measured, {ordered} ordered");
    }

    // A BGP customer: it learns a default route, the provider learns its prefix (and only it).
    let mut two = access("ia-2", "c2", "100.64.0.5/30", "100.64.0.6", None);
    routed(&mut two).bgp = Some(Bgp { customer_as: 65010, accept: vec!["192.0.2.16/28".into()] });
    driver.apply(&two).await.unwrap();
    assert!(driver.check(&two).await.unwrap());
    let second = lab.customer_router(&second, "100.64.0.6/30", 65010, "100.64.0.5", 64500, "192.0.2.16/28").unwrap();
    let (provider, customer) =
        lab.bgp_routes(&pe.namespace, &second.namespace, "192.0.2.16/28", std::time::Duration::from_secs(30)).unwrap();
    assert!(provider.contains("via 100.64.0.6"), "{provider}");
    assert!(customer.contains("via 100.64.0.5"), "{customer}");
    assert!(lab.reaches(&second, &internet), "the BGP customer reaches the Internet from its own prefix");
    assert!(lab.reaches(&internet, &second));
    assert!(lab.reaches(&first, &internet), "the first customer is untouched");
    assert!(lab.reaches_as(&first, "100.64.0.2", &internet), "a customer sends from its own address");
    let before = lab.upstream_packets(&pe).unwrap();
    assert!(!lab.reaches_as(&first, "192.0.2.17", &internet), "nor from the other customer's");
    let forwarded = lab.upstream_packets(&pe).unwrap() - before;
    assert!(forwarded < 3, "the router dropped them on the way in (reverse path check): {forwarded} packets went out");

    // Each service is found alone in the whole configuration.
    let running = driver.running().await.unwrap();
    assert_eq!(running.services().into_iter().collect::<Vec<_>>(), ["ia-1", "ia-2"]);
    assert_eq!(running.asn, Some(64500));

    // A new rate is a new token bucket, nothing else.
    let mut faster = access("ia-1", "c1", "100.64.0.1/30", "100.64.0.2", Some(40_000));
    routed(&mut faster).static_routes = vec!["192.0.2.0/28".into()];
    driver.apply(&faster).await.unwrap();
    assert!(driver.check(&faster).await.unwrap());
    assert!(!driver.check(&one).await.unwrap(), "the old rate is gone");

    driver.remove("ia-1").await.unwrap();
    driver.remove("ia-1").await.unwrap();
    assert!(!lab.reaches(&internet, &first), "nothing answers once removed");
    let routes = lab.routes(&pe.namespace).unwrap();
    assert!(!routes.contains("192.0.2.0/28") && !routes.contains("100.64.0.0/30"), "{routes}");
    assert_eq!(driver.running().await.unwrap().services().into_iter().collect::<Vec<_>>(), ["ia-2"]);
    driver.remove("ia-2").await.unwrap();
    assert!(driver.running().await.unwrap().services().is_empty());
    let ports = driver.ports().await.unwrap();
    let names: Vec<&str> = ports.iter().map(|p| p.port.as_str()).collect();
    assert_eq!(names, ["c1", "c2", "up0"], "ifb devices are gone with their rates");
}
