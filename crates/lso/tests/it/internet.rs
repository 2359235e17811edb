//! Internet access down to a real router: a Seller whose access router runs FRRouting in a
//! network namespace, with an Internet host upstream and a customer host at each IP UNI. A
//! Basic Internet Access qualified, quoted and ordered over Sonata, and ordered over Cantata, gets
//! a subnet from the pool (given
//! back in the product), the customer host reaches the Internet at the ordered rate, and a delete
//! order removes the routes and gives the subnet back. An Advanced Internet Access (the
//! official SDK specification) at an IP UNI product asking for BGP brings up a session with the
//! customer's router. Needs root and the packages `scripts/test` installs.

use crate::network::seller_on;
use crate::support::{App, contact, lso_cli, order_of, shared_mef};
use lso_lab::network::NetworkLab;
use serde_json::{Value, json};

const SONATA: &str = "/mefApi/sonata/productOrderingManagement/v10";
const CANTATA: &str = "/mefApi/cantata/productOrderingManagement/v5";

/// An access router with an IP UNI at each of two sites.
const TOPOLOGY: &str = r#"
[[element]]
name = "ar1"
ports = ["ip1", "ip2"]

[[interface]]
name = "ipuni-boston-1"
port = "ar1:ip1"
kind = "ip-uni"
site = "site-boston"
capacity_mbps = 1000

[[interface]]
name = "ipuni-new-york-1"
port = "ar1:ip2"
kind = "ip-uni"
site = "site-new-york"
capacity_mbps = 1000
"#;

/// A Basic Internet Access at `site` with `mbps` each way.
fn internet_order(site: &str, mbps: u64) -> Value {
    let configuration = lso_lab::orders::basic_internet_access(mbps);
    let mut order = order_of(&configuration, Some("INSTALL_LOCATION"));
    order["productOrderItem"][0]["product"]["place"][0]["id"] = json!(site);
    order
}

/// The subnet the Seller gave product `product`: (customer address/length, provider address).
async fn addressing(app: &App, inventory: &str, product: &str) -> (String, String) {
    let stored = app.call("GET", &format!("{inventory}/product/{product}"), None).await;
    assert_eq!(stored.status, 200, "{:#}", stored.body);
    let subnet =
        &stored.body["productConfiguration"]["ipUniAccessLink"]["ipv4ConnectionAddressing"][0]["ipv4PrimarySubnet"];
    let length = subnet["ipv4Prefix"]["prefixLength"].as_u64().unwrap_or_else(|| panic!("{:#}", stored.body));
    let customer = subnet["subscriberIpv4Address"][0].as_str().unwrap();
    let provider = subnet["serviceProviderIpv4Addresses"][0].as_str().unwrap();
    (format!("{customer}/{length}"), provider.to_owned())
}

/// The order of a firm quote of `order`'s item, quoted after a qualification found it can be
/// delivered (over Sonata).
async fn qualified_and_quoted(app: &App, order: &Value) -> Value {
    let point = lso_model::Irp::Sonata;
    let mut product = order["productOrderItem"][0]["product"].clone();
    let spec = product["productConfiguration"]["@type"].as_str().unwrap().to_owned();
    product["productOffering"]["id"] = json!(lso_spec::Catalog::built_in().unwrap().get(&spec).unwrap().offering_id());
    let poq = json!({"instantSyncQualification": true, "relatedContactInformation": [contact("buyerContactInformation")],
                     "productOfferingQualificationItem": [{"id": "1", "action": "add", "product": product}]});
    let path = format!("{}/productOfferingQualification", lso_mef_product::poq_base(point));
    let qualified = app.call("POST", &path, Some(&poq)).await;
    assert_eq!(qualified.status, 201, "{:#}", qualified.body);
    let item = &qualified.body["productOfferingQualificationItem"][0];
    assert_eq!(item["serviceabilityConfidence"], "green", "a free IP UNI and subnet at the site: {item:#}");
    let quoted = json!({"id": "1", "action": "add", "product": product,
                        "relatedContactInformation": [contact("quoteItemTechnicalContact")],
                        "productOfferingQualificationItem": {"id": "1", "productOfferingQualificationId": qualified.body["id"]}});
    let path = format!("{}/quote", lso_mef_product::quote_base(point));
    let quote = app.call("POST", &path, Some(&crate::quote::quote(true, vec![quoted]))).await;
    assert_eq!(quote.status, 201, "{:#}", quote.body);
    assert_eq!(quote.body["state"], "approved.orderable", "{:#}", quote.body);
    crate::quote::order_on(&quote.body)
}

#[tokio::test]
async fn basic_internet_access_over_sonata_and_cantata_reaches_the_internet_at_its_rate_until_deleted() {
    let topology = lso_icm::Topology::parse(TOPOLOGY).unwrap();
    let network = NetworkLab::build(&topology, "ni", None).unwrap();
    let (app, _files) = seller_on(&network).await;
    let lab = &network.lab;
    let (_, internet) = &network.routers["ar1"];

    // Over Sonata, at Boston: 20 Mbit/s each way, qualified, quoted, and the quote ordered.
    let order =
        app.order_completed(SONATA, &qualified_and_quoted(&app, &internet_order("site-boston", 20)).await).await;
    let product = order["productOrderItem"][0]["product"]["id"].as_str().unwrap().to_owned();
    let (address, gateway) = addressing(&app, "/mefApi/sonata/productInventory/v7", &product).await;
    assert_eq!((address.as_str(), gateway.as_str()), ("100.64.0.2/30", "100.64.0.1"), "the first subnet of the pool");
    let boston = lab.address(&network.hosts["ipuni-boston-1"], &address, &gateway).unwrap();
    assert!(lab.reaches(&boston, internet), "the customer reaches the Internet");
    assert!(lab.reaches(internet, &boston), "the Internet reaches the customer");
    let (up, down) =
        (lab.throughput_mbps(&boston, internet, 3).unwrap(), lab.throughput_mbps(internet, &boston, 3).unwrap());
    for (way, measured) in [("from the customer", up), ("towards the customer", down)] {
        assert!((measured - 20.0).abs() <= 3.0, "{way}: {measured} Mbit/s measured, 20 ordered");
    }

    // Over Cantata, at New York: another subnet; the Boston customer is untouched.
    let order = app.order_completed(CANTATA, &internet_order("site-new-york", 10)).await;
    let second = order["productOrderItem"][0]["product"]["id"].as_str().unwrap().to_owned();
    let (address, gateway) = addressing(&app, "/mefApi/cantata/productInventory/v1", &second).await;
    assert_eq!((address.as_str(), gateway.as_str()), ("100.64.0.6/30", "100.64.0.5"));
    let new_york = lab.address(&network.hosts["ipuni-new-york-1"], &address, &gateway).unwrap();
    assert!(lab.reaches(&new_york, internet));
    assert!(lab.reaches(&boston, internet));
    let before = lab.upstream_packets(&network.routers["ar1"].0).unwrap();
    assert!(!lab.reaches_as(&new_york, "100.64.0.2", internet), "a second customer cannot use the first's address");
    let forwarded = lab.upstream_packets(&network.routers["ar1"].0).unwrap() - before;
    assert!(forwarded < 3, "the router dropped them on the way in (reverse path check): {forwarded} packets went out");

    // Deleted, nothing answers for Boston, and its subnet is given out again.
    app.order_completed(SONATA, &crate::network::delete_order(&product)).await;
    assert!(!lab.reaches(internet, &boston), "the router no longer routes to the deleted customer");
    assert!(!lab.reaches(&boston, internet));
    assert!(lab.reaches(&new_york, internet), "the other customer keeps its access");
    let order = app.order_completed(SONATA, &internet_order("site-boston", 20)).await;
    let again = order["productOrderItem"][0]["product"]["id"].as_str().unwrap().to_owned();
    let (address, _) = addressing(&app, "/mefApi/sonata/productInventory/v7", &again).await;
    assert_eq!(address, "100.64.0.2/30", "the pool had the subnet back");
    app.stop().await;
}

#[tokio::test]
async fn an_advanced_internet_access_at_a_bgp_ip_uni_exchanges_routes_with_the_customer_router() {
    let topology = lso_icm::Topology::parse(TOPOLOGY).unwrap();
    let mut network = NetworkLab::build(&topology, "nb", None).unwrap();
    let (app, _files) = seller_on(&network).await;
    let tree = shared_mef().join("Sonata/productSchema/ip");
    lso_cli(&["catalog", "import", tree.to_str().unwrap(), "--data-dir", app.dir.path().to_str().unwrap()]).await;
    app.cli(&["catalog", "reload"]).await;

    // An IP UNI asking for BGP with the customer's AS 65010, and an Advanced Internet Access
    // IPVC at it for the customer's own prefix.
    let ip_uni = json!({"@type": "urn:mef:lso:spec:cantata-sonata:ip-uni:v1.0.0:all",
        "routingProtocols": [{"bgp": [{"ipv4": {"subscriberAsNumber": 65010}}]}]});
    let ipvc = json!({"@type": "urn:mef:lso:spec:cantata-sonata:advanced-internet-access-ipvc:v1.0.0:all",
        "ipvcEndPoint": {"ingressBandwidthProfileEnvelope": [{"bwpFlowAll": {"cir": {"irValue": 30, "irUnits": "MBPS"}}}]},
        "cloud": {"subscriberPrefixList": [{"origin": "OTHER", "prefixes": [{"ipv4Prefix": {"ipv4Address": "192.0.2.16", "prefixLength": 28}}]}]}});
    let mut order = order_of(&ip_uni, Some("INSTALL_LOCATION"));
    order["productOrderItem"][0]["product"]["place"][0]["id"] = json!("site-boston");
    let mut item = order["productOrderItem"][0].clone();
    item["id"] = json!("2");
    item["product"] = json!({"productOffering": {"id": "offering-1"}, "productConfiguration": ipvc});
    item["productOrderItemRelationship"] = json!([{"id": "1", "relationshipType": "CONNECTS_TO_IPUNI"}]);
    order["productOrderItem"].as_array_mut().unwrap().push(item);
    let order = app.order_completed(SONATA, &order).await;
    let product = order["productOrderItem"][1]["product"]["id"].as_str().unwrap().to_owned();
    let (address, provider) = addressing(&app, "/mefApi/sonata/productInventory/v7", &product).await;

    let (router, internet) = network.routers["ar1"].clone();
    let host = network.hosts["ipuni-boston-1"].clone();
    let customer = network
        .lab
        .customer_router(&host, &address, 65010, &provider, lso_lab::network::PROVIDER_AS, "192.0.2.16/28")
        .unwrap();
    let (lab, internet) = (&network.lab, &internet);
    // The session comes up within seconds; each side's routes are read until they show.
    let (provider_routes, customer_routes) = lab
        .bgp_routes(&router.namespace, &customer.namespace, "192.0.2.16/28", std::time::Duration::from_secs(30))
        .unwrap();
    assert!(provider_routes.contains(&format!("via {}", address.split('/').next().unwrap())), "{provider_routes}");
    assert!(customer_routes.contains(&format!("via {provider}")), "{customer_routes}");
    assert!(lab.reaches(&customer, internet), "the customer's prefix reaches the Internet");
    assert!(lab.reaches(internet, &customer), "and is reached from it");

    app.order_completed(SONATA, &crate::network::delete_order(&product)).await;
    assert!(!lab.reaches(internet, &customer), "deleted, the provider forgets the customer's prefix");
    app.stop().await;
}

/// A router with `count` IP UNIs and no site: a Basic Internet Access without a place takes any.
fn many_ip_unis(count: usize) -> String {
    let ports: Vec<String> = (1..=count).map(|n| format!("\"ip{n}\"")).collect();
    let mut text = format!("[[element]]\nname = \"ar1\"\nports = [{}]\n", ports.join(", "));
    for n in 1..=count {
        text.push_str(&format!(
            "\n[[interface]]\nname = \"ipuni-{n}\"\nport = \"ar1:ip{n}\"\nkind = \"ip-uni\"\ncapacity_mbps = 100\n"
        ));
    }
    text
}

#[tokio::test]
async fn a_hundred_internet_accesses_ordered_at_once_get_a_hundred_subnets_all_reachable_and_all_given_back() {
    const COUNT: usize = 100;
    let topology = lso_icm::Topology::parse(&many_ip_unis(COUNT)).unwrap();
    let network = NetworkLab::build(&topology, "nh", None).unwrap();
    let (app, _files) = seller_on(&network).await;
    let lab = &network.lab;
    let (router, internet) = &network.routers["ar1"];

    let mut order = internet_order("site-boston", 5);
    order["productOrderItem"][0]["product"].as_object_mut().unwrap().remove("place");
    let placed = futures_util::future::join_all((0..COUNT).map(|_| app.order_completed(SONATA, &order))).await;
    let products: Vec<String> =
        placed.iter().map(|o| o["productOrderItem"][0]["product"]["id"].as_str().unwrap().to_owned()).collect();

    // Each product has a subnet of its own, on the IP UNI its service took.
    let mut customers = Vec::new();
    let mut subnets = std::collections::BTreeSet::new();
    for product in &products {
        let (address, gateway) = addressing(&app, "/mefApi/sonata/productInventory/v7", product).await;
        assert!(subnets.insert(gateway.clone()), "{gateway} was given twice");
        let services = lso_legato::Legato::services_by_external_id(&*app.seller.sof, lso_legato::OPERATORS, product)
            .await
            .unwrap();
        let interface = services[0]["serviceConfiguration"]["accessLink"]["interface"].as_str().unwrap().to_owned();
        customers.push(lab.address(&network.hosts[&interface], &address, &gateway).unwrap());
    }
    let reached = std::thread::scope(|scope| {
        let probes: Vec<_> =
            customers.chunks(10).map(|chunk| scope.spawn(|| chunk.iter().all(|c| lab.reaches(c, internet)))).collect();
        probes.into_iter().all(|p| p.join().unwrap())
    });
    assert!(reached, "every customer reaches the Internet");
    let running = lso_ecm::FrrDriver::new(&router.namespace).running().await.unwrap();
    assert_eq!(running.services().len(), COUNT, "the router runs each of them");

    let deletes: Vec<Value> = products.iter().map(|p| crate::network::delete_order(p)).collect();
    futures_util::future::join_all(deletes.iter().map(|d| app.order_completed(SONATA, d))).await;
    let running = lso_ecm::FrrDriver::new(&router.namespace).running().await.unwrap();
    assert!(running.services().is_empty(), "the router runs none of them after the deletes");
    assert!(!lab.reaches(internet, &customers[0]) && !lab.reaches(internet, &customers[COUNT - 1]));
    // The pool has every subnet back: the next order gets the first one.
    let again = app.order_completed(SONATA, &order).await;
    let product = again["productOrderItem"][0]["product"]["id"].as_str().unwrap().to_owned();
    assert_eq!(addressing(&app, "/mefApi/sonata/productInventory/v7", &product).await.1, "100.64.0.1");
    app.stop().await;
}
