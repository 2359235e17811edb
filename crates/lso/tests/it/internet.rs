//! Internet access down to a real router: a Seller whose access router runs FRRouting in a
//! network namespace, with an Internet host upstream and a customer host at each IP UNI. A
//! Basic Internet Access ordered over Sonata and over Cantata gets a subnet from the pool (given
//! back in the product), the customer host reaches the Internet at the ordered rate, and a delete
//! order removes the routes and gives the subnet back. Needs root and the packages `scripts/test`
//! installs.

use crate::support::{App, example, order_of, spawn_app_with};
use lso_lab::network::NetworkLab;
use lso_server::config::FulfilmentMode;
use serde_json::{Value, json};

const SONATA: &str = "/mefApi/sonata/productOrderingManagement/v10";
const CANTATA: &str = "/mefApi/cantata/productOrderingManagement/v5";
const BASIC_INTERNET_ACCESS: &str = "urn:mef:lso:spec:cantata-sonata:basic-internet-access:v1.0.0:all";

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

/// A Seller on `lab`'s network.
async fn seller_on(lab: &NetworkLab) -> (App, tempfile::TempDir) {
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("topology.toml");
    std::fs::write(&path, lab.topology.to_toml(&Default::default())).unwrap();
    let app = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.network.topology = path.display().to_string();
        c.network.alarm_poll_millis = 3_600_000;
    })
    .await;
    (app, files)
}

/// A Basic Internet Access at `site` with `mbps` each way.
fn internet_order(site: &str, mbps: u64) -> Value {
    let mut configuration = example(BASIC_INTERNET_ACCESS);
    configuration["ipvc"]["ingressBandwidthProfileEnvelope"]["cir"] = json!({"irValue": mbps, "irUnits": "MBPS"});
    configuration["ipvc"]["egressBandwidthProfileEnvelope"]["cir"] = json!({"irValue": mbps, "irUnits": "MBPS"});
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

#[tokio::test]
async fn basic_internet_access_over_sonata_and_cantata_reaches_the_internet_at_its_rate_until_deleted() {
    let topology = lso_icm::Topology::parse(TOPOLOGY).unwrap();
    let network = NetworkLab::build(&topology, "ni", None).unwrap();
    let (app, _files) = seller_on(&network).await;
    let lab = &network.lab;
    let (_, internet) = &network.routers["ar1"];

    // Over Sonata, at Boston: 20 Mbit/s each way.
    let order = app.order_completed(SONATA, &internet_order("site-boston", 20)).await;
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
