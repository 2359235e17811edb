//! The Open vSwitch driver against real Open vSwitch elements in network namespaces (see
//! `lso_ecm::lab`), with traffic checked by ping and iperf3. Needs root and the Debian
//! packages `scripts/test` installs; everything the test creates is removed when it ends.

use lso_ecm::lab::Lab;
use lso_ecm::{Attachment, CrossConnect, DriverError, ElementDriver, Endpoint, OvsDriver};

fn endpoint(port: &str, attachment: Attachment, cir: Option<u32>) -> Endpoint {
    Endpoint { port: port.into(), attachment, ingress_cir_kbps: cir, role: lso_ecm::Role::Root }
}

fn uni(port: &str, ce_vlan: u16, cir: u32) -> Endpoint {
    endpoint(port, Attachment::Uni { ce_vlans: vec![ce_vlan], carried: None }, Some(cir))
}

fn tagged(port: &str, s_vlan: u16) -> Endpoint {
    endpoint(port, Attachment::Tagged { s_vlan }, None)
}

#[tokio::test]
async fn an_evpl_over_three_open_vswitch_elements_carries_its_ce_vlan_at_its_rate() {
    let mut lab = Lab::new("lt").unwrap();
    let (e1, e2, e3) = (lab.element("e1").unwrap(), lab.element("e2").unwrap(), lab.element("e3").unwrap());
    lab.wire(&e1, "east", &e2, "west").unwrap();
    lab.wire(&e2, "east", &e3, "west").unwrap();
    let h1 = lab.host("h1", &e1, "uni1", "10.77.0.1", Some(100)).unwrap();
    let h2 = lab.host("h2", &e3, "uni1", "10.77.0.2", Some(100)).unwrap();
    let h3 = lab.host("h3", &e3, "uni2", "10.77.0.3", Some(100)).unwrap();
    let drivers: Vec<OvsDriver> =
        [&e1, &e2, &e3].iter().map(|e| OvsDriver::new(&e.ovsdb, &e.openflow, &e.bridge)).collect();
    let cir = 20_000;
    let connects = [
        CrossConnect { service: "evpl-1".into(), endpoints: vec![uni("uni1", 100, cir), tagged("east", 5)] },
        CrossConnect { service: "evpl-1".into(), endpoints: vec![tagged("west", 5), tagged("east", 9)] },
        CrossConnect { service: "evpl-1".into(), endpoints: vec![tagged("west", 9), uni("uni1", 100, cir)] },
    ];
    assert!(!drivers[0].check(&connects[0]).await.unwrap());
    assert!(!lab.reaches(&h1, &h2), "nothing passes before provisioning");

    for (driver, connect) in drivers.iter().zip(&connects) {
        driver.apply(connect).await.unwrap();
        assert!(driver.check(connect).await.unwrap(), "the element reads back as configured");
    }
    assert!(lab.reaches(&h1, &h2), "the EVPL carries traffic");
    assert!(!lab.reaches(&h1, &h3), "a host outside the EVPL is not reached");
    lab.set_ce_vlan(&h1, 101).unwrap();
    assert!(!lab.reaches(&h1, &h2), "another CE-VLAN does not pass");
    lab.set_ce_vlan(&h1, 100).unwrap();
    assert!(lab.reaches(&h1, &h2), "the ordered CE-VLAN passes again");

    let measured = lab.throughput_mbps(&h1, &h2, 3).unwrap();
    let ordered = f64::from(cir) / 1000.0;
    assert!((measured - ordered).abs() <= ordered * 0.15, "{measured} Mbit/s measured, {ordered} ordered");

    drivers[0].apply(&connects[0]).await.unwrap();
    let ports = drivers[0].ports().await.unwrap();
    assert_eq!(ports.iter().map(|p| p.port.as_str()).collect::<Vec<_>>(), ["east", "uni1"]);
    assert!(ports.iter().all(|p| p.link_up && p.error.is_none()), "{ports:?}");

    drivers[1].remove("evpl-1").await.unwrap();
    drivers[1].remove("evpl-1").await.unwrap();
    assert!(!drivers[1].check(&connects[1]).await.unwrap());
    assert!(!lab.reaches(&h1, &h2), "removed in the middle, the service is gone");

    let missing = CrossConnect { service: "x".into(), endpoints: vec![tagged("no-such-port", 3), tagged("east", 3)] };
    let refused = drivers[0].apply(&missing).await;
    assert!(matches!(refused, Err(DriverError::NotApplied { ref port, .. }) if port == "no-such-port"), "{refused:?}");
}

#[tokio::test]
async fn an_evpl_between_unis_with_different_ce_vlans_translates_them() {
    let mut lab = Lab::new("lv").unwrap();
    let (e1, e2) = (lab.element("e1").unwrap(), lab.element("e2").unwrap());
    lab.wire(&e1, "east", &e2, "west").unwrap();
    let h1 = lab.host("h1", &e1, "uni1", "10.78.0.1", Some(100)).unwrap();
    let h2 = lab.host("h2", &e2, "uni1", "10.78.0.2", Some(200)).unwrap();
    let (d1, d2) =
        (OvsDriver::new(&e1.ovsdb, &e1.openflow, &e1.bridge), OvsDriver::new(&e2.ovsdb, &e2.openflow, &e2.bridge));
    let cir = 50_000;
    let translated = |vlan: u16, carried: u16| {
        endpoint("uni1", Attachment::Uni { ce_vlans: vec![vlan], carried: Some(carried) }, Some(cir))
    };
    let one = CrossConnect { service: "x".into(), endpoints: vec![translated(100, 200), tagged("east", 5)] };
    let two = CrossConnect { service: "x".into(), endpoints: vec![tagged("west", 5), translated(200, 100)] };
    d1.apply(&one).await.unwrap();
    d2.apply(&two).await.unwrap();
    assert!(d1.check(&one).await.unwrap() && d2.check(&two).await.unwrap(), "both read back as configured");
    assert!(lab.reaches(&h1, &h2), "CE-VLAN 100 at one UNI is CE-VLAN 200 at the other");
    assert!(lab.reaches(&h2, &h1));
    lab.set_ce_vlan(&h2, 100).unwrap();
    assert!(!lab.reaches(&h1, &h2), "the far UNI takes only its own CE-VLAN");
}

#[tokio::test]
async fn an_e_lan_learns_where_addresses_are_and_sends_a_unicast_frame_out_of_its_port_only() {
    let mut lab = Lab::new("lm").unwrap();
    let e1 = lab.element("e1").unwrap();
    let mut hosts = Vec::new();
    for n in 1..=3 {
        hosts.push(lab.host(&format!("h{n}"), &e1, &format!("uni{n}"), &format!("10.79.0.{n}"), None).unwrap());
    }
    let driver = OvsDriver::new(&e1.ovsdb, &e1.openflow, &e1.bridge);
    let all_to_one = |port: &str| endpoint(port, Attachment::Uni { ce_vlans: vec![], carried: None }, None);
    let lan = CrossConnect {
        service: "lan".into(),
        endpoints: vec![all_to_one("uni1"), all_to_one("uni2"), all_to_one("uni3")],
    };
    driver.apply(&lan).await.unwrap();
    assert!(driver.check(&lan).await.unwrap(), "the element reads back as configured");
    assert!(lab.reaches(&hosts[0], &hosts[1]) && lab.reaches(&hosts[2], &hosts[0]), "every host reaches every other");

    // h1 and h2 are known now: h1's datagrams to h2 leave at uni2 and not at uni3.
    let sent_out = async |port: &str| {
        let ports = driver.ports().await.unwrap();
        ports.into_iter().find(|p| p.port == port).unwrap().counters.tx_packets
    };
    let (to_h2, to_h3) = (sent_out("uni2").await, sent_out("uni3").await);
    let sent = lab.send_udp(&hosts[0], &hosts[1], 2, 2, 200).unwrap();
    let (to_h2, to_h3) = (sent_out("uni2").await - to_h2, sent_out("uni3").await - to_h3);
    assert!(sent >= 1000, "{sent} datagrams sent");
    assert!(to_h2 >= sent, "{to_h2} frames out of uni2 for {sent} datagrams to h2");
    // What h3 may still see: a broadcast or two (ARP) and nothing of the datagrams.
    assert!(to_h3 < 20, "{to_h3} frames out of uni3 while h1 sent {sent} datagrams to h2");

    assert!(driver.check(&lan).await.unwrap(), "what the element learned is not configuration: it still reads back");
    driver.remove("lan").await.unwrap();
    assert!(!lab.reaches(&hosts[0], &hosts[1]), "removed, learned addresses do not carry frames");
}
