//! Across providers: a customer's EVPL whose second UNI is at a site a partner serves. The
//! Seller buys the UNI and an Access E-Line from the partner (a second `lso`, with its own
//! database and network) over Sonata and carries its own leg to the ENNI between them, both
//! legs on the S-VLAN it chose.

use crate::network::{delete_order, evpl_order, modify_cir};
use crate::support::*;
use lso_mef_product::{poq_base, quote_base};
use lso_model::Irp;
use lso_model::{Clock, SystemClock};
use lso_partners::PartnerConfig;
use lso_server::config::{FulfilmentMode, Secret};
use serde_json::json;

const CANTATA: &str = "/mefApi/cantata/productOrderingManagement/v5";
const SONATA: &str = "/mefApi/sonata/productOrderingManagement/v10";
const ENNI: &str = "enni-partner-1";

/// The customer's EVPL from New York to Washington (the partner's site), ordered at `provider`
/// and completed.
pub(crate) async fn order_off_net_evpl(provider: &App) -> serde_json::Value {
    order_evpl(provider, ["site-new-york", "site-washington"], 100).await
}

/// A customer's EVPL of 20 Mbit/s on CE-VLAN `ce_vlan` between UNIs at `sites`, ordered at
/// `provider` and completed.
async fn order_evpl(provider: &App, sites: [&str; 2], ce_vlan: u16) -> serde_json::Value {
    provider.order_completed(CANTATA, &evpl_order(&sites, ce_vlan, 20)).await
}

/// A token `auth` issues Buyer `name`.
fn app_token(auth: &lso_http::Authenticator, name: &str) -> String {
    let buyer = lso_http::Principal::buyer(name.to_lowercase(), vec![name.into()]);
    auth.mint(&buyer, SystemClock.now_seconds(), 3600)
}

/// The interfaces the services of a Seller join.
async fn unis(app: &App) -> Vec<String> {
    app.seller.icm.read(|n| n.reservations().values().flat_map(|r| r.request.interfaces.clone()).collect()).await
}

/// The CIR of each service of a Seller.
async fn bandwidth(app: &App) -> Vec<u64> {
    app.seller.icm.read(|n| n.reservations().values().map(|r| r.request.bandwidth_mbps).collect()).await
}

/// The S-VLANs each service of a Seller claims at its ENNI.
async fn at_enni(app: &App) -> Vec<Vec<u16>> {
    app.seller
        .icm
        .read(|n| n.reservations().values().filter_map(|r| r.request.vlans.get(ENNI).cloned()).collect())
        .await
}

#[tokio::test]
async fn an_evpl_to_a_partners_site_is_bought_over_sonata_and_stitched_at_the_enni() {
    let network = |c: &mut lso_server::config::Config| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.network.alarm_poll_millis = 3_600_000;
    };
    // The partner knows the Washington site and its address by ids of its own.
    let files = tempfile::tempdir().unwrap();
    let own_ids = |text: &str| text.replace("site-washington", "east-dc-17").replace("addr-wa-2", "east-a-9041");
    let file = |name: &str, text: &str| {
        let path = files.path().join(name);
        std::fs::write(&path, own_ids(text)).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (topology, sites) = (file("topology.toml", lso_icm::DEMO_TOPOLOGY), file("sites.csv", lso_geo::SAMPLE_SITES));
    let addresses = file("addresses.csv", lso_geo::SAMPLE_ADDRESSES);
    let partner = spawn_app_with(|c| {
        network(c);
        c.network.topology = topology;
        c.geography = lso_server::config::GeographyConfig { addresses, sites };
    })
    .await;
    // The ENNI between the two, set up by agreement, is in the provider's inventory at the partner.
    let (terms, wholesale) = terms_with(&partner, |_| {}).await;
    let billing_account = terms.billing_account.clone();
    let provider = spawn_app_with(|c| {
        network(c);
        c.seller_contact.name = "Provider Wholesale Desk".into();
        c.seller_contact.email_address = "wholesale@provider.example".into();
        c.partners = vec![terms];
    })
    .await;

    let order = order_off_net_evpl(&provider).await;

    // At the partner, the provider bought a UNI at the site and an Access E-Line to the ENNI.
    let bought = partner.call_as(&wholesale, "GET", &format!("{SONATA}/productOrder"), None).await.body;
    let bought = bought.as_array().unwrap();
    assert_eq!(bought.len(), 2, "{bought:#?}");
    let id = order["id"].as_str().unwrap();
    let mut external: Vec<String> = bought.iter().map(|o| o["externalId"].as_str().unwrap().to_owned()).collect();
    external.sort();
    assert_eq!(external, [format!("{id}/2"), format!("{id}/evpl")]);
    // The provider found the partner's own site at the address of its customer's.
    let uni_order = bought.iter().find(|o| o["externalId"] == format!("{id}/2")).unwrap()["id"].as_str().unwrap();
    let uni_order = partner.call_as(&wholesale, "GET", &format!("{SONATA}/productOrder/{uni_order}"), None).await.body;
    assert_eq!(uni_order["productOrderItem"][0]["product"]["place"][0]["id"], "east-dc-17", "{uni_order:#}");
    assert_eq!(order["productOrderItem"][1]["product"]["place"][0]["id"], "site-washington");
    assert!(bought.iter().all(|o| o["state"] == "completed"));
    // Each was qualified and quoted first: the partner ordered what it qualified, at the price
    // of a firm quote that the order accepted.
    for order in bought {
        let path = format!("{SONATA}/productOrder/{}", order["id"].as_str().unwrap());
        let order = partner.call_as(&wholesale, "GET", &path, None).await.body;
        let item = &order["productOrderItem"][0];
        let poq = item["productOfferingQualificationItem"]["productOfferingQualificationId"].as_str().unwrap();
        let poq = partner
            .call_as(&wholesale, "GET", &format!("{}/productOfferingQualification/{poq}", poq_base(Irp::Sonata)), None)
            .await
            .body;
        let poq_item = &poq["productOfferingQualificationItem"][0];
        assert_eq!((&poq["state"], &poq_item["serviceabilityConfidence"]), (&json!("done.ready"), &json!("green")));
        let quote = item["quoteItem"]["quoteId"].as_str().unwrap();
        let quote =
            partner.call_as(&wholesale, "GET", &format!("{}/quote/{quote}", quote_base(Irp::Sonata)), None).await;
        assert_eq!((&quote.body["state"], &quote.body["quoteLevel"]), (&json!("accepted"), &json!("firm")));
        for key in ["productOffering", "productConfiguration"] {
            assert_eq!(quote.body["quoteItem"][0]["product"][key], item["product"][key], "ordered as quoted");
        }
        assert!(!quote.body["quoteItem"][0]["quoteItemPrice"].as_array().unwrap().is_empty());
        // Issue 11: what the partner keeps names the provider as its configuration does, and
        // nothing of the demo's Buyer.
        assert_eq!(item["billingAccount"]["id"], billing_account.as_str(), "{order:#}");
        let contacts = [&order["relatedContactInformation"], &item["relatedContactInformation"]];
        let buyers = contacts.iter().flat_map(|c| c.as_array().unwrap()).filter(|c| c["role"] != "sellerContact");
        for contact in buyers {
            assert_eq!(
                (&contact["name"], &contact["emailAddress"]),
                (&json!("Provider Wholesale Desk"), &json!("wholesale@provider.example"))
            );
        }
        assert!(!order.to_string().contains("Demo") && !order.to_string().contains("demo"), "{order:#}");
    }
    // The partner told the provider how its orders went, at the hub the provider registered.
    let told = partner.wait_for_deliveries_to_anyone().await;
    let ours = format!("{}/lso/partners/east/", provider.url(""));
    let heard = told["deliveries"].as_array().unwrap().iter().filter(|d| d["url"].as_str().unwrap().starts_with(&ours));
    assert!(heard.clone().count() >= 2 && heard.clone().all(|d| d["state"] == "delivered"), "{told:#}");

    // Both legs meet on one S-VLAN at the ENNI, each Seller carrying its own.
    let (ours, theirs) = (at_enni(&provider).await, at_enni(&partner).await);
    assert_eq!(ours.len(), 1, "the provider's OVC to the ENNI: {ours:?}");
    assert_eq!(ours, theirs, "the partner's Access E-Line on the same S-VLAN");
    assert!(unis(&provider).await.iter().any(|i| i.starts_with("uni-new-york")), "the on-net UNI is the provider's");
    assert!(unis(&partner).await.iter().any(|i| i.starts_with("uni-washington")), "the off-net UNI is the partner's");
    assert!(!unis(&provider).await.iter().any(|i| i.starts_with("uni-washington")));
    // The partner qualifies an Access E-Line on its network: the S-VLAN in use at the ENNI
    // cannot be had twice, a free one can.
    let access = bought.iter().find(|o| o["externalId"] == format!("{id}/evpl")).unwrap()["id"].as_str().unwrap();
    let access = partner.call_as(&wholesale, "GET", &format!("{SONATA}/productOrder/{access}"), None).await.body;
    let mut product = access["productOrderItem"][0]["product"].clone();
    product.as_object_mut().unwrap().remove("id");
    let qualify = async |product: &serde_json::Value| {
        let poq = json!({"instantSyncQualification": true, "relatedContactInformation": [lso_lab::orders::contact("buyerContactInformation")],
            "productOfferingQualificationItem": [{"id": "1", "action": "add", "product": product}]});
        let path = format!("{}/productOfferingQualification", poq_base(Irp::Sonata));
        let answer = partner.call_as(&wholesale, "POST", &path, Some(&poq)).await;
        assert_eq!(answer.status, 201, "{:#}", answer.body);
        answer.body["productOfferingQualificationItem"][0]["serviceabilityConfidence"].clone()
    };
    assert_eq!(qualify(&product).await, "red", "S-VLAN {:?} is taken", ours[0]);
    product["productConfiguration"]["enniEp"]["sVlanId"] = json!(ours[0][0] + 1);
    assert_eq!(qualify(&product).await, "green");

    // The customer raises the CIR over Allegro: the partner's leg changes first, over its
    // Interlude, then the provider's own.
    let allegro = "/mefApi/allegro/serviceControl/v1";
    let evpl_product = order["productOrderItem"][2]["product"]["id"].as_str().unwrap().to_owned();
    let leg = provider.call("GET", &format!("{allegro}/service?productId={evpl_product}"), None).await.body;
    let change = json!({"service": {"id": leg[0]["id"]}, "cirMbps": 50});
    let accepted = provider.call("POST", &format!("{allegro}/serviceChange"), Some(&change)).await;
    assert_eq!(accepted.status, 201, "{:#}", accepted.body);
    let done = format!("{allegro}/serviceChange/{}", accepted.body["id"].as_str().unwrap());
    provider.wait_until(&done, |c| c["state"] == "completed").await;
    let interlude = "/mefApi/interlude/serviceControl/v1";
    let theirs_now = partner.call_as(&wholesale, "GET", &format!("{interlude}/serviceChange"), None).await.body;
    let changed = partner
        .wait_until_as(
            &wholesale,
            &format!("{interlude}/serviceChange/{}", theirs_now[0]["id"].as_str().unwrap()),
            |c| c["state"] == "completed",
        )
        .await;
    assert_eq!(changed["cirMbps"], 50, "the partner changed its leg: {changed:#}");
    assert_eq!((bandwidth(&provider).await, bandwidth(&partner).await), (vec![50], vec![50]));
    // A change outside the policy is refused, and changes nothing on either side.
    let mut their_policy = partner.call_as(&wholesale, "GET", &format!("{interlude}/service"), None).await.body;
    let access = their_policy
        .as_array_mut()
        .unwrap()
        .iter()
        .find(|s| !s["changeable"].as_array().unwrap().is_empty())
        .unwrap()
        .clone();
    assert_eq!(
        access["changeable"][1]["name"], "ceVlans",
        "the partner's UNI mapping is changeable over Interlude: {access:#}"
    );
    let refused = provider
        .call(
            "POST",
            &format!("{allegro}/serviceChange"),
            Some(&json!({"service": {"id": leg[0]["id"]}, "ceVlans": [0]})),
        )
        .await;
    assert_eq!(refused.status, 422, "{:#}", refused.body);
    assert!(refused.body[0]["reason"].as_str().unwrap().contains("1 to 4094"), "{:#}", refused.body);
    let stranger = app_token(&partner.seller.auth, "GLOBEX");
    assert_eq!(
        partner.call_as(&stranger, "GET", &format!("{interlude}/service"), None).await.body,
        json!([]),
        "another operator sees none"
    );
    assert_eq!((bandwidth(&provider).await, bandwidth(&partner).await), (vec![50], vec![50]));
    // A change the partner accepts but cannot make (its UNI holds CE-VLAN 400 for another
    // service) is refused to the customer with the partner's reason, and the provider's leg stays.
    let legato = "/mefApi/legato/serviceOrderingManagement/v5/serviceOrder";
    let other = json!({"requestedStartDate": days_from_now(0), "requestedCompletionDate": days_from_now(1),
        "serviceOrderItem": [{"id": "1", "action": "add", "service": {"serviceConfiguration": {"@type": lso_sof::services::EVC,
            "endPoints": [{"interface": "uni-washington-1", "vlans": [400]}, {"interface": "uni-boston-1", "vlans": [400]}], "cirMbps": 5}}}]});
    let placed = partner.call_as(&partner.admin, "POST", legato, Some(&other)).await;
    assert_eq!(placed.status, 201, "{:#}", placed.body);
    let other_order = format!("{legato}/{}", placed.body["id"].as_str().unwrap());
    partner.wait_until_as(&partner.admin, &other_order, |o| o["state"] == "completed").await;
    let clash = json!({"service": {"id": leg[0]["id"]}, "ceVlans": [400]});
    let refused = provider.call("POST", &format!("{allegro}/serviceChange"), Some(&clash)).await;
    assert_eq!(refused.status, 422, "{:#}", refused.body);
    assert!(
        refused.body[0]["reason"].as_str().unwrap().contains("partner east could not change its leg"),
        "{:#}",
        refused.body
    );
    let at_new_york = provider
        .seller
        .icm
        .read(|n| {
            n.reservations().values().filter_map(|r| r.request.vlans.get("uni-new-york-1").cloned()).collect::<Vec<_>>()
        })
        .await;
    assert_eq!(at_new_york, [vec![100]], "the provider's leg is unchanged");
    let done = partner.call_as(&partner.admin, "GET", &other_order, None).await.body;
    let removal = json!({"requestedStartDate": days_from_now(0), "requestedCompletionDate": days_from_now(1),
        "serviceOrderItem": [{"id": "1", "action": "delete", "service": {"id": done["serviceOrderItem"][0]["service"]["id"]}}]});
    let placed = partner.call_as(&partner.admin, "POST", legato, Some(&removal)).await;
    let removed = format!("{legato}/{}", placed.body["id"].as_str().unwrap());
    partner.wait_until_as(&partner.admin, &removed, |o| o["state"] == "completed").await;

    // Over Interlude the provider maps another CE-VLAN at the partner's UNI.
    let remap = json!({"service": {"id": access["id"]}, "ceVlans": [300]});
    let accepted = partner.call_as(&wholesale, "POST", &format!("{interlude}/serviceChange"), Some(&remap)).await;
    assert_eq!(accepted.status, 201, "{:#}", accepted.body);
    let path = format!("{interlude}/serviceChange/{}", accepted.body["id"].as_str().unwrap());
    assert_eq!(partner.wait_until_as(&wholesale, &path, |c| c["state"] == "completed").await["ceVlans"], json!([300]));
    let at_uni = partner
        .seller
        .icm
        .read(|n| {
            n.reservations()
                .values()
                .filter_map(|r| r.request.vlans.get("uni-washington-1").cloned())
                .collect::<Vec<_>>()
        })
        .await;
    assert_eq!(at_uni, [vec![300]], "the partner's UNI now takes CE-VLAN 300");

    // The provider measures the partner's UNI of the stitched service over the partner's
    // Interlude Performance Monitoring, and only that.
    let their_uni = partner.call_as(&wholesale, "GET", &format!("{interlude}/service"), None).await.body;
    let uni_name = their_uni.as_array().unwrap().iter().find_map(|s| s["interface"].as_str()).unwrap().to_owned();
    let job = |interface: &str| {
        json!({"performanceProfile": {"@type": "PerformanceProfileValue", "jobType": "proactive", "outputFormat": "json",
                                      "resultFormat": "payload", "granularity": "1 minute"},
               "servicePayloadSpecificAttributes": {"@type": lso_sof::pm::CE_CONFIGURATION, "interface": interface}})
    };
    let pm = "/mefApi/interlude/performanceMonitoring/v2/performanceJob";
    let measuring = partner.call_as(&wholesale, "POST", pm, Some(&job(&uni_name))).await;
    assert_eq!((measuring.status, measuring.body["state"].clone()), (201, json!("inProgress")), "{:#}", measuring.body);
    // Named under Interlude's base, where the provider's token reads it.
    let href = measuring.body["href"].as_str().unwrap();
    let at_interlude = href.strip_prefix(&partner.url("")).unwrap_or(href).to_owned();
    assert!(at_interlude.starts_with(&format!("{pm}/")), "{href}");
    assert_eq!(partner.call_as(&wholesale, "GET", &at_interlude, None).await.status, 200);
    assert_eq!(
        partner.call_as(&wholesale, "POST", pm, Some(&job("uni-boston-1"))).await.status,
        422,
        "not the provider's"
    );

    // A fault on the partner's network shows on the customer's EVPL at the provider, and the
    // customer's hub hears of it raised and cleared, from the partner's Interlude events.
    let receiver = Receiver::default();
    let listener = receiver.start().await;
    let hub = json!({"callback": format!("http://{listener}")});
    assert_eq!(provider.call("POST", &format!("{allegro}/hub"), Some(&hub)).await.status, 201);
    let element =
        partner.seller.icm.read(|n| n.topology().interface("uni-washington-1").unwrap().port.element.clone()).await;
    let customer_view = format!("{allegro}/service/{}", leg[0]["id"].as_str().unwrap());
    partner.seller.ecm.simulated(&element).unwrap().set_down(true);
    partner.seller.check_alarms().await;
    let faulty = provider.call("GET", &customer_view, None).await.body;
    let shared: Vec<&serde_json::Value> =
        faulty["fault"].as_array().unwrap().iter().filter(|f| f["partner"] == "east").collect();
    assert_eq!(shared.len(), 1, "{faulty:#}");
    assert_eq!(
        (shared[0]["kind"].clone(), shared[0]["element"].clone()),
        (json!("elementUnreachable"), json!(element))
    );
    let contract = Contract::from_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/allegro.openapi.json"),
        "allegro",
    );
    Contract::assert_valid(
        &contract.response("/service/{id}", "get", 200),
        &faulty,
        "a service with a partner's fault",
    );
    partner.seller.ecm.simulated(&element).unwrap().set_down(false);
    partner.seller.check_alarms().await;
    assert_eq!(provider.call("GET", &customer_view, None).await.body["fault"], json!([]), "cleared at the partner");
    partner.wait_for_deliveries_to_anyone().await;
    provider.wait_for_deliveries_to(&receiver).await;
    let heard: Vec<serde_json::Value> = receiver.events.lock().unwrap().iter().map(|(_, e)| e.clone()).collect();
    let on_leg: Vec<&serde_json::Value> = heard.iter().filter(|e| e["event"]["id"] == leg[0]["id"]).collect();
    let states: Vec<&str> = on_leg.iter().map(|e| e["event"]["fault"]["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["raised", "cleared"], "{heard:#?}");
    assert!(
        on_leg.iter().all(|e| e["event"]["fault"]["partner"] == "east" && e["event"]["fault"]["element"] == element)
    );

    // A modify order of the EVPL's bandwidth changes both legs too.
    modify_cir(&provider, &evpl_product, 30).await;
    let settled = partner.call_as(&wholesale, "GET", &format!("{interlude}/serviceChange"), None).await.body;
    let newest = format!("{interlude}/serviceChange/{}", settled[0]["id"].as_str().unwrap());
    assert_eq!(partner.wait_until_as(&wholesale, &newest, |c| c["state"] == "completed").await["cirMbps"], 30);
    assert_eq!((bandwidth(&provider).await, bandwidth(&partner).await), (vec![30], vec![30]));

    // Deleting the EVPL removes both legs and frees the S-VLAN; the off-net UNI goes too.
    let evpl = order["productOrderItem"][2]["product"]["id"].as_str().unwrap().to_owned();
    let off_net_uni = order["productOrderItem"][1]["product"]["id"].as_str().unwrap().to_owned();
    for product in [evpl, off_net_uni] {
        provider.order_completed(CANTATA, &delete_order(&product)).await;
    }
    assert_eq!((at_enni(&provider).await, at_enni(&partner).await), (vec![], vec![]), "both legs are gone");
    assert!(!unis(&partner).await.iter().any(|i| i.starts_with("uni-washington")), "the partner's UNI is gone");
    let partner_orders =
        partner.call_as(&wholesale, "GET", &format!("{SONATA}/productOrder?state=completed"), None).await;
    assert_eq!(partner_orders.body.as_array().unwrap().len(), 4, "two adds and two deletes at the partner");

    // Ordered again, the EVPL gets the S-VLAN the first one gave back.
    order_evpl(&provider, ["site-new-york", "site-washington"], 200).await;
    assert_eq!(at_enni(&provider).await, ours);
}

#[tokio::test]
async fn a_partner_that_refuses_or_cannot_be_reached_fails_the_customers_item_with_the_reason() {
    let partner = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    let wholesale = app_token(&partner.seller.auth, "PROVIDER");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    // A partner whose every answer is a 500 (a test double standing in for a broken one).
    let broken =
        relay(format!("http://{closed}"), |_, _| Relayed::Answer(axum::http::StatusCode::INTERNAL_SERVER_ERROR)).await;
    let terms = |name: &str, url: String, site: &str| PartnerConfig {
        name: name.into(),
        sites: vec![site.into()],
        patience_seconds: 1,
        ..terms_at(url, &wholesale)
    };
    let provider = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.partners = vec![
            terms("refusing", partner.url(""), "site-new-york"),
            terms("gone", format!("http://{closed}"), "site-boston"),
            terms("broken", broken, "site-washington"),
        ];
    })
    .await;
    // Another customer of the partner holds both its UNI ports in New York; another partner is
    // not there at all; the third answers 500 to everything, asked again until its patience
    // runs out.
    let mut both = evpl_order(&["site-new-york", "site-new-york"], 100, 20);
    both["productOrderItem"].as_array_mut().unwrap().pop();
    let taken = partner.call("POST", &format!("{CANTATA}/productOrder"), Some(&both)).await;
    let taken = partner.wait_until_final(CANTATA, taken.body["id"].as_str().unwrap()).await;
    assert_eq!(taken["state"], "completed", "{taken:#}");
    let cases = [
        ("site-new-york", "partner refusing cannot serve it (qualification"),
        ("site-boston", "cannot be reached"),
        ("site-washington", "partner broken answered 500"),
    ];
    for (site, expected) in cases {
        let mut order = evpl_order(&[site], 100, 20);
        order["productOrderItem"].as_array_mut().unwrap().pop();
        let placed = provider.call("POST", &format!("{CANTATA}/productOrder"), Some(&order)).await;
        assert_eq!(placed.status, 201, "{:#}", placed.body);
        let done = provider.wait_until_final(CANTATA, placed.body["id"].as_str().unwrap()).await;
        let reasons: Vec<String> = done["productOrderItem"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| i["stateChange"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["changeReason"].as_str().map(str::to_owned))
            .collect();
        assert!(reasons.iter().any(|r| r.contains(expected)), "{site}: {reasons:#?}");
    }
    let orders = partner.call_as(&wholesale, "GET", &format!("{SONATA}/productOrder"), None).await.body;
    assert_eq!(orders, json!([]), "nothing the partner could not qualify was ordered from it");
}

/// The provider's partner terms with `partner`, as `PROVIDER`, at the ENNI registered there.
pub(crate) async fn terms_with(partner: &App, adjust: impl FnOnce(&mut PartnerConfig)) -> (PartnerConfig, String) {
    let wholesale = app_token(&partner.seller.auth, "PROVIDER");
    let enni = lso_spec::Catalog::built_in().unwrap().specs().iter().find(|s| !s.orderable).unwrap().example.clone();
    let path = "/lso/admin/v1/sonata/product?buyerId=PROVIDER";
    let registered = partner.call_as(&partner.admin, "POST", path, Some(&json!({"productConfiguration": enni}))).await;
    assert_eq!(registered.status, 201, "{:#}", registered.body);
    let mut terms = terms_at(partner.url(""), &wholesale);
    terms.enni_product = registered.body["id"].as_str().unwrap().into();
    // The partner signs what it sends PROVIDER at Sonata and at Interlude with a secret each.
    for point in ["sonata", "interlude"] {
        let path = format!("/lso/admin/v1/{point}/webhookSecret?buyerId=PROVIDER");
        let secret = partner.call_as(&partner.admin, "GET", &path, None).await;
        assert_eq!(secret.status, 200, "{:#}", secret.body);
        terms.webhook_secrets.push(Secret(secret.body["secret"].as_str().unwrap().into()));
    }
    adjust(&mut terms);
    (terms, wholesale)
}

/// Terms with partner `east` at `url`, serving Washington, as the Buyer `token` is for: ENNI
/// product `none`, patience 120 s, orders within an hour.
fn terms_at(url: String, token: &str) -> PartnerConfig {
    PartnerConfig {
        name: "east".into(),
        url,
        token: Secret(token.into()),
        sites: vec!["site-washington".into()],
        enni: ENNI.into(),
        enni_product: "none".into(),
        billing_account: "wholesale-1".into(),
        patience_seconds: 120,
        order_timeout_seconds: 3600,
        webhook_secrets: Vec::new(),
        oauth: None,
    }
}

/// A provider on the network buying from `partner` on terms adjusted by `adjust`, and its token
/// at the partner.
async fn provider_of(partner: &App, adjust: impl FnOnce(&mut PartnerConfig)) -> (App, String) {
    let (terms, wholesale) = terms_with(partner, adjust).await;
    let provider = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.partners = vec![terms];
    })
    .await;
    (provider, wholesale)
}

/// Waits, commit by commit of `app` (a second at most between looks), until `done` holds.
async fn eventually<F: std::future::Future<Output = bool>>(app: &App, what: &str, done: impl Fn() -> F) {
    let look = async || done().await.then_some(());
    let happened = lso_jobs::until_committed(&app.seller.bus.wake(), std::time::Duration::from_secs(120), look).await;
    assert!(happened.is_some(), "{what} did not happen");
}

/// The reasons the items of `order` ended with.
fn reasons(order: &serde_json::Value) -> Vec<String> {
    order["productOrderItem"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["stateChange"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["changeReason"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_partner_order_that_takes_too_long_fails_the_item_and_is_cancelled_at_the_partner() {
    // The partner's UNIs wait for a technician nobody books.
    let partner = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.workforce.installation_visits = true;
    })
    .await;
    let (provider, wholesale) = provider_of(&partner, |t| t.order_timeout_seconds = 1).await;
    let mut order = evpl_order(&["site-washington"], 100, 20);
    order["productOrderItem"].as_array_mut().unwrap().pop();
    let placed = provider.call("POST", &format!("{CANTATA}/productOrder"), Some(&order)).await;
    let done = provider.wait_until_final(CANTATA, placed.body["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "failed");
    assert!(reasons(&done).iter().any(|r| r.contains("did not complete")), "{:#?}", reasons(&done));
    let theirs = format!("{SONATA}/productOrder");
    let cancelled = partner.wait_until_as(&wholesale, &theirs, |o| o[0]["state"] == "cancelled").await;
    assert_eq!(cancelled.as_array().unwrap().len(), 1, "the provider's order at the partner is cancelled");
}

#[tokio::test]
async fn a_partner_that_refuses_the_access_or_restarts_leaves_nothing_reserved_on_either_side() {
    let partner = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    let address = partner.seller.addr;
    let (terms, _) = terms_with(&partner, |t| t.patience_seconds = 1).await;
    let mut refused_terms = terms.clone();
    refused_terms.name = "refusing".into();
    refused_terms.enni_product = "no-such-enni".into();
    refused_terms.sites = vec!["site-boston".into()];
    let provider = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.partners = vec![terms, refused_terms];
    })
    .await;
    let held = async || lso_partners::held_vlans(provider.seller.bus.store()).await.unwrap();
    let order = |far: &str| evpl_order(&["site-new-york", far], 100, 20);

    // The partner refuses the Access E-Line: the S-VLAN chosen for it is given back.
    let placed = provider.call("POST", &format!("{CANTATA}/productOrder"), Some(&order("site-boston"))).await;
    let done = provider.wait_until_final(CANTATA, placed.body["id"].as_str().unwrap()).await;
    assert_eq!(done["productOrderItem"][2]["state"], "failed", "{done:#}");
    assert!(reasons(&done).iter().any(|r| r.contains("partner refusing")), "{:#?}", reasons(&done));
    eventually(&provider, "the S-VLAN given back", async || held().await == 0).await;
    assert!(at_enni(&provider).await.is_empty());

    // The partner goes away after the UNIs: the EVPL fails, and once the partner is back the
    // provider learns it never placed the Access E-Line, and gives its S-VLAN back.
    let mut unis = order("site-washington");
    unis["productOrderItem"].as_array_mut().unwrap().pop();
    let placed = provider.call("POST", &format!("{CANTATA}/productOrder"), Some(&unis)).await;
    let done = provider.wait_until_final(CANTATA, placed.body["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "completed", "{done:#}");
    let products: Vec<String> =
        (0..2).map(|n| done["productOrderItem"][n]["product"]["id"].as_str().unwrap().to_owned()).collect();
    let dir = partner.stop().await;
    let evc = lso_lab::orders::evc("1", lso_lab::orders::EVPL, &[100, 100], 20, &[], &[]);
    let mut evc = evc;
    evc["product"]["productRelationship"] = json!([
        {"id": products[0], "relationshipType": "CONNECTS_TO_UNI_A"},
        {"id": products[1], "relationshipType": "CONNECTS_TO_UNI_Z"}
    ]);
    let placed = provider
        .call("POST", &format!("{CANTATA}/productOrder"), Some(&lso_lab::orders::order("evpl", vec![evc])))
        .await;
    assert_eq!(placed.status, 201, "{:#}", placed.body);
    let done = provider.wait_until_final(CANTATA, placed.body["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "failed", "{done:#}");
    assert!(reasons(&done).iter().any(|r| r.contains("cannot be reached")), "{:#?}", reasons(&done));
    assert_eq!(held().await, 1, "kept while the partner cannot say what it holds");
    let partner = spawn_app_in(dir, |c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.listen = address;
    })
    .await;
    eventually(&provider, "the S-VLAN given back", async || held().await == 0).await;
    assert!(at_enni(&provider).await.is_empty() && at_enni(&partner).await.is_empty());
}

/// A partner running as its own `lso serve` process, killed (SIGKILL) by its PID when dropped.
struct PartnerProcess {
    child: std::process::Child,
    url: String,
}

impl PartnerProcess {
    /// Starts `lso serve` on `port` with its data in `dir` and `extra` configuration, and
    /// waits until it says it is serving.
    async fn start(dir: &std::path::Path, port: u16, extra: &str) -> Self {
        let config = dir.join("lso.toml");
        let data = dir.join("data");
        let text =
            format!("listen = \"127.0.0.1:{port}\"\ndata_dir = {data:?}\n[fulfilment]\nby = \"network\"\n{extra}");
        // The provider listens on loopback.
        let text = format!("{text}[notifications]\nallow_private_callbacks = true\n");
        std::fs::write(&config, text).unwrap();
        let lso = std::path::Path::new(env!("CARGO_BIN_EXE_lso"));
        let child = lso_demo::two_providers::serve(lso, &config, &dir.join("lso.log")).unwrap();
        PartnerProcess { child, url: format!("http://127.0.0.1:{port}") }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PartnerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn a_partner_process_killed_mid_order_and_restarted_ends_with_the_customers_item_failed_and_its_order_cancelled()
{
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Its UNIs wait for a technician nobody books: the order is in progress when it is killed.
    let visits = "[workforce]\ninstallation_visits = true\n";
    let mut partner = PartnerProcess::start(dir.path(), port, visits).await;
    let auth = lso_server::DataDir::open(&dir.path().join("data")).unwrap().authenticator().unwrap();
    let wholesale = app_token(&auth, "PROVIDER");
    let terms =
        PartnerConfig { patience_seconds: 2, order_timeout_seconds: 3, ..terms_at(partner.url.clone(), &wholesale) };
    let provider = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.partners = vec![terms];
    })
    .await;
    let mut order = evpl_order(&["site-washington"], 100, 20);
    order["productOrderItem"].as_array_mut().unwrap().pop();
    let placed = provider.call("POST", &format!("{CANTATA}/productOrder"), Some(&order)).await;
    let client = reqwest::Client::new();
    let theirs = |url: String| {
        let (client, token) = (client.clone(), wholesale.clone());
        async move {
            let answer = client.get(format!("{url}{SONATA}/productOrder")).bearer_auth(token).send().await;
            match answer {
                Ok(answer) => answer.json::<serde_json::Value>().await.unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            }
        }
    };
    eventually(&provider, "the order placed at the partner", async || {
        theirs(partner.url.clone()).await[0]["state"] == "inProgress"
    })
    .await;
    partner.kill();
    let done = provider.wait_until_final(CANTATA, placed.body["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "failed");
    assert!(
        reasons(&done).iter().any(|r| r.contains("cannot be reached") || r.contains("did not complete")),
        "{:#?}",
        reasons(&done)
    );
    let partner = PartnerProcess::start(dir.path(), port, visits).await;
    eventually(&provider, "the partner's order cancelled", async || {
        theirs(partner.url.clone()).await[0]["state"] == "cancelled"
    })
    .await;
}

#[tokio::test]
async fn a_partner_that_never_notifies_is_reconciled_by_reading_its_orders() {
    let partner = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    let (provider, _) = provider_of(&partner, |_| {}).await;
    // As if the hub were registered already: the partner never learns where to send events.
    let record = lso_store::Record {
        kind: "partnerHub".into(),
        id: "east".into(),
        tenant: String::new(),
        version: 1,
        doc: "{}".into(),
    };
    provider.seller.bus.store().apply(vec![lso_store::WriteOp::Insert { record, index: Vec::new() }]).await.unwrap();
    order_off_net_evpl(&provider).await;
    let outbox = partner.wait_for_deliveries_to_anyone().await;
    assert_eq!(outbox["delivered"], 0, "the partner sent nothing: {outbox:#}");
    assert_eq!(at_enni(&provider).await, at_enni(&partner).await);
}

#[tokio::test]
async fn a_ticket_on_an_off_net_evc_is_escalated_to_the_partner_and_resolved_with_its_word() {
    let partner = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    let (provider, wholesale) = provider_of(&partner, |_| {}).await;
    let order = order_off_net_evpl(&provider).await;
    let evpl = order["productOrderItem"][2]["product"]["id"].as_str().unwrap();

    // The customer reports the EVPL slow; nothing on the provider's network explains it.
    let ticket = json!({"description": "slow towards Washington", "observedImpact": "degraded", "priority": "high",
        "severity": "significant", "ticketType": "assistance",
        "relatedEntity": [{"@referredType": "Product", "id": evpl, "role": "affectedProduct"}],
        "relatedContactInformation": [lso_lab::orders::contact("reporterContact")]});
    let ours = lso_mef_product::ticket_base(Irp::Cantata);
    let opened = provider.call("POST", &format!("{ours}/troubleTicket"), Some(&ticket)).await;
    assert_eq!(opened.status, 201, "{:#}", opened.body);
    let id = opened.body["id"].as_str().unwrap();

    // The partner gets a ticket on its own product, the Access E-Line it sold the provider.
    let theirs = lso_mef_product::ticket_base(Irp::Sonata);
    let found = partner
        .wait_until_as(&wholesale, &format!("{theirs}/troubleTicket?externalId={id}"), |t| {
            t.as_array().is_some_and(|t| t.len() == 1)
        })
        .await;
    let their_id = found[0]["id"].as_str().unwrap().to_owned();
    // Its operator works on it once the partner has taken it up (its triage is a step of its own).
    let their_ticket = partner
        .wait_until_as(&wholesale, &format!("{theirs}/troubleTicket/{their_id}"), |t| t["status"] == "inProgress")
        .await;
    let access = partner.call_as(&wholesale, "GET", &format!("{SONATA}/productOrder"), None).await.body;
    let access = access
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["externalId"] == format!("{}/evpl", order["id"].as_str().unwrap()));
    let access = access.unwrap()["id"].as_str().unwrap();
    let access = partner.call_as(&wholesale, "GET", &format!("{SONATA}/productOrder/{access}"), None).await.body;
    assert_eq!(their_ticket["relatedEntity"][0]["id"], access["productOrderItem"][0]["product"]["id"]);
    assert_eq!(
        (&their_ticket["description"], &their_ticket["priority"]),
        (&ticket["description"], &ticket["priority"])
    );
    let noted = provider
        .wait_until(&format!("{ours}/troubleTicket/{id}"), |t| {
            t["note"].as_array().into_iter().flatten().any(|n| n["text"].as_str().unwrap().contains(&their_id))
        })
        .await;
    assert_eq!(noted["status"], "inProgress", "{noted:#}");

    // The partner's operator resolves its ticket: the customer's is resolved with its word,
    // heard from the partner's notification.
    let path = format!("/lso/admin/v1/sonata/troubleTicket/{their_id}/resolved?buyerId=PROVIDER");
    let fixed = json!({"note": "a faulty optic at the Washington UNI was replaced"});
    let resolved = partner.call_as(&partner.admin, "POST", &path, Some(&fixed)).await;
    assert_eq!(resolved.status, 200, "{:#}", resolved.body);
    let done = provider.wait_until(&format!("{ours}/troubleTicket/{id}"), |t| t["status"] == "resolved").await;
    let reason = done["statusChange"].as_array().unwrap().last().unwrap()["changeReason"].as_str().unwrap();
    assert!(reason.contains("partner east resolved") && reason.contains("faulty optic"), "{reason}");

    // The customer rejects the resolution: the partner's ticket is reopened with its reason.
    let ticket_path = format!("{ours}/troubleTicket/{id}");
    let still_slow = json!({"reason": "still slow at night"});
    assert_eq!(provider.call("POST", &format!("{ticket_path}/reopen"), Some(&still_slow)).await.status, 204);
    let their_path = format!("{theirs}/troubleTicket/{their_id}");
    let reopened = partner.wait_until_as(&wholesale, &their_path, |t| t["status"] != "resolved").await;
    let notes = reopened["note"].as_array().unwrap();
    assert!(notes.iter().any(|n| n["text"] == "still slow at night"), "{reopened:#}");
    // Resolved again, and confirmed by the customer: the partner's ticket is closed too.
    let at_night = json!({"note": "a night-time shaper at the partner's edge was misconfigured"});
    partner.wait_until_as(&wholesale, &their_path, |t| t["status"] == "inProgress").await;
    assert_eq!(partner.call_as(&partner.admin, "POST", &path, Some(&at_night)).await.status, 200);
    let again = provider
        .wait_until(&ticket_path, |t| {
            t["status"] == "resolved"
                && t["statusChange"].as_array().unwrap().last().unwrap()["changeReason"]
                    .as_str()
                    .unwrap()
                    .contains("night-time shaper")
        })
        .await;
    assert_eq!(again["status"], "resolved");
    assert_eq!(provider.call("POST", &format!("{ticket_path}/close"), None).await.status, 204);
    partner.wait_until_as(&wholesale, &their_path, |t| t["status"] == "closed").await;

    // A ticket the customer gives up is given up at the partner too.
    let second = provider.call("POST", &format!("{ours}/troubleTicket"), Some(&ticket)).await.body;
    let second_id = second["id"].as_str().unwrap();
    let found = partner
        .wait_until_as(&wholesale, &format!("{theirs}/troubleTicket?externalId={second_id}"), |t| {
            t.as_array().is_some_and(|t| t.len() == 1)
        })
        .await;
    let cancel = format!("{ours}/troubleTicket/{second_id}/cancel");
    assert_eq!(provider.call("POST", &cancel, None).await.status, 204);
    let their_second = format!("{theirs}/troubleTicket/{}", found[0]["id"].as_str().unwrap());
    partner.wait_until_as(&wholesale, &their_second, |t| t["status"] == "cancelled").await;
}

/// What a relay to a partner makes of a request (method, path and query) and the partner's
/// answer: the answer, changed or not; a request it answers itself is not passed on.
enum Relayed {
    /// Answered by the relay: the partner never sees the request.
    Answer(axum::http::StatusCode),
    /// Passed on, with the partner's answer given to `alter`.
    PassOn(fn(&axum::http::Method, &str, &mut serde_json::Value)),
}

/// A way to `partner` through a relay that treats each request as `rule` says.
async fn relay(partner: String, rule: fn(&axum::http::Method, &str) -> Relayed) -> String {
    let http = reqwest::Client::new();
    let relay = move |request: axum::extract::Request| {
        let (http, partner) = (http.clone(), partner.clone());
        async move {
            let path = request.uri().path_and_query().unwrap().as_str().to_owned();
            let alter = match rule(request.method(), &path) {
                Relayed::Answer(status) => return (status, axum::Json(json!({}))),
                Relayed::PassOn(alter) => alter,
            };
            let (method, path, answer) = pass_on(&http, &partner, request).await;
            let status = axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let mut body: serde_json::Value = answer.json().await.unwrap_or_default();
            alter(&method, &path, &mut body);
            (status, axum::Json(body))
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(relay)).await });
    format!("http://{at}")
}

/// A way to `partner` that shows each of its Interlude service changes as still in progress,
/// as a partner slow to make them would.
async fn slow_to_change(partner: String) -> String {
    relay(partner, |_, _| {
        Relayed::PassOn(|method, path, body| {
            if method == axum::http::Method::GET && path.contains("/interlude/serviceControl/v1/serviceChange/") {
                body["state"] = json!("inProgress");
            }
        })
    })
    .await
}

#[tokio::test]
async fn a_quote_the_partner_gave_for_an_order_it_never_took_is_declined() {
    let partner = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    // The partner qualifies and quotes, but its ordering answers 500 to every new order.
    let broken_ordering = relay(partner.url(""), |method, path| {
        if method == axum::http::Method::POST && path.ends_with("/productOrder") {
            Relayed::Answer(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
        } else {
            Relayed::PassOn(|_, _, _| {})
        }
    })
    .await;
    let (provider, wholesale) = provider_of(&partner, |t| {
        t.url = broken_ordering;
        t.patience_seconds = 1;
    })
    .await;
    let mut order = evpl_order(&["site-washington"], 100, 20);
    order["productOrderItem"].as_array_mut().unwrap().pop();
    let placed = provider.call("POST", &format!("{CANTATA}/productOrder"), Some(&order)).await;
    let done = provider.wait_until_final(CANTATA, placed.body["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "failed", "{done:#}");
    let quotes = format!("{}/quote", quote_base(Irp::Sonata));
    let declined = partner
        .wait_until_as(&wholesale, &quotes, |q| {
            q.as_array().is_some_and(|q| q.len() == 1 && q[0]["state"] == "declined")
        })
        .await;
    assert_eq!(declined.as_array().unwrap().len(), 1, "one quote, declined once the item failed");
}

#[tokio::test]
async fn a_partner_too_slow_to_change_its_leg_is_asked_to_change_back_and_both_legs_stay_alike() {
    let partner = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    let slow = slow_to_change(partner.url("")).await;
    let (terms, wholesale) = terms_with(&partner, |t| {
        t.url = slow;
        t.patience_seconds = 1;
    })
    .await;
    let provider = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.partners = vec![terms];
    })
    .await;
    let order = order_off_net_evpl(&provider).await;

    let allegro = "/mefApi/allegro/serviceControl/v1";
    let evpl = order["productOrderItem"][2]["product"]["id"].as_str().unwrap();
    let leg = provider.call("GET", &format!("{allegro}/service?productId={evpl}"), None).await.body;
    let change = json!({"service": {"id": leg[0]["id"]}, "cirMbps": 50});
    let late = provider.call("POST", &format!("{allegro}/serviceChange"), Some(&change)).await;
    assert_eq!(late.status, 409, "{:#}", late.body);
    let reason = late.body["reason"].as_str().unwrap();
    assert!(reason.contains("within 1 s") && reason.contains("asked to change back"), "{reason}");

    // The partner made the late change, then the change back: its leg ends as the provider's.
    let interlude = "/mefApi/interlude/serviceControl/v1/serviceChange";
    let made = partner
        .wait_until_as(&wholesale, interlude, |changes| {
            changes.as_array().is_some_and(|c| c.len() == 2 && c.iter().all(|c| c["state"] == "completed"))
        })
        .await;
    let mut asked: Vec<&serde_json::Value> = made.as_array().unwrap().iter().map(|c| &c["cirMbps"]).collect();
    asked.sort_by_key(|c| c.as_u64());
    assert_eq!(asked, [&json!(20), &json!(50)], "{made:#}");
    assert_eq!((bandwidth(&provider).await, bandwidth(&partner).await), (vec![20], vec![20]));
}

#[tokio::test]
async fn an_evpl_between_two_sites_of_one_partner_is_resold_whole_modified_and_deleted() {
    let partner = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    let (provider, wholesale) = provider_of(&partner, |t| t.sites.push("site-boston".into())).await;
    let order = order_evpl(&provider, ["site-washington", "site-boston"], 100).await;

    // The partner carries the whole EVPL between its two UNIs; the provider carries nothing.
    assert_eq!((bandwidth(&provider).await, bandwidth(&partner).await), (vec![], vec![20]));
    let joined = unis(&partner).await;
    assert!(
        joined.iter().any(|i| i.starts_with("uni-washington")) && joined.iter().any(|i| i.starts_with("uni-boston"))
    );
    let bought = partner.call_as(&wholesale, "GET", &format!("{SONATA}/productOrder"), None).await.body;
    assert_eq!(bought.as_array().unwrap().len(), 3, "two UNIs and the EVPL: {bought:#}");

    // A modify of its bandwidth is a modify order at the partner.
    let evpl = order["productOrderItem"][2]["product"]["id"].as_str().unwrap().to_owned();
    modify_cir(&provider, &evpl, 30).await;
    assert_eq!((bandwidth(&provider).await, bandwidth(&partner).await), (vec![], vec![30]));

    // A multipoint EVC with UNIs at the partner is not sold, with the reason.
    let (washington, boston) =
        (&order["productOrderItem"][0]["product"]["id"], &order["productOrderItem"][1]["product"]["id"]);
    let (washington, boston) = (washington.as_str().unwrap(), boston.as_str().unwrap());
    let lan = lso_lab::orders::evc(
        "2",
        lso_lab::orders::EVPLAN,
        &[100, 100, 100],
        20,
        &[("1", "CONNECTS_TO_UNI")],
        &[washington, boston],
    );
    let lan = lso_lab::orders::order("lan", vec![lso_lab::orders::uni("1", "site-new-york"), lan]);
    let placed = provider.call("POST", &format!("{CANTATA}/productOrder"), Some(&lan)).await;
    assert_eq!(placed.status, 201, "{:#}", placed.body);
    let refused = provider.wait_until_final(CANTATA, placed.body["id"].as_str().unwrap()).await;
    assert!(reasons(&refused).iter().any(|r| r.contains("multipoint EVC with a UNI at partner east")), "{refused:#}");

    // Deleting the products deletes the partner's.
    for item in [2, 0, 1] {
        let product = order["productOrderItem"][item]["product"]["id"].as_str().unwrap();
        let deleted = provider.call("POST", &format!("{CANTATA}/productOrder"), Some(&delete_order(product))).await;
        let done = provider.wait_until_final(CANTATA, deleted.body["id"].as_str().unwrap()).await;
        assert_eq!(done["state"], "completed", "{done:#}");
    }
    assert_eq!(bandwidth(&partner).await, Vec::<u64>::new());
    assert!(unis(&partner).await.is_empty(), "{:?}", unis(&partner).await);
}

#[tokio::test]
async fn an_access_eline_naming_its_enni_as_w160_does_is_realised_on_the_enni() {
    let partner = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    let (terms, wholesale) = terms_with(&partner, |_| {}).await;
    let mut access = lso_lab::orders::access_eline("2", "1", &terms.enni_product);
    access["product"]["productRelationship"][0]["relationshipType"] = json!("CONNECTS_TO_ENNI");
    let order = lso_lab::orders::order("w160", vec![lso_lab::orders::uni("1", "site-washington"), access]);
    let placed = partner.call_as(&wholesale, "POST", &format!("{SONATA}/productOrder"), Some(&order)).await;
    assert_eq!(placed.status, 201, "{:#}", placed.body);
    let done = partner
        .wait_until_as(&wholesale, &format!("{SONATA}/productOrder/{}", placed.body["id"].as_str().unwrap()), |o| {
            o["state"] != "acknowledged" && o["state"] != "inProgress"
        })
        .await;
    assert_eq!(done["state"], "completed", "{done:#}");
    assert_eq!(at_enni(&partner).await, [vec![3000]], "the OVC hands over on S-VLAN 3000 at the ENNI");
}

#[tokio::test]
async fn what_a_partners_catalog_no_longer_offers_is_not_bought_from_it() {
    let partner = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    let (provider, _) = provider_of(&partner, |_| {}).await;
    let uni = lso_spec::Catalog::built_in().unwrap().get(lso_lab::orders::SUBSCRIBER_UNI).unwrap().offering_id();
    let path = format!("/lso/admin/v1/catalog/offering/{uni}/lifecycle");
    let retired = json!({"lifecycleStatus": "endOfSale", "statusReason": "a new UNI offering is coming"});
    assert_eq!(partner.call_as(&partner.admin, "POST", &path, Some(&retired)).await.status, 200);
    let mut order = evpl_order(&["site-washington"], 100, 20);
    order["productOrderItem"].as_array_mut().unwrap().pop();
    let placed = provider.call("POST", &format!("{CANTATA}/productOrder"), Some(&order)).await;
    let done = provider.wait_until_final(CANTATA, placed.body["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "failed", "{done:#}");
    let expected = format!("partner east has no orderable offering of {}", lso_lab::orders::SUBSCRIBER_UNI);
    assert!(reasons(&done).iter().any(|r| r.contains(&expected)), "{:#?}", reasons(&done));
}

#[tokio::test]
async fn a_partners_notification_is_heard_only_with_its_signature() {
    let partner = spawn_app_with(|c| c.fulfilment.by = FulfilmentMode::Network).await;
    let (provider, _) = provider_of(&partner, |_| {}).await;
    let notifications = lso_mef_product::ordering_notification_base(Irp::Sonata);
    let listener =
        provider.url(&format!("{}/east{notifications}/listener/productOrderStateChangeEvent", lso_partners::LISTENER));
    let body = json!({"eventId": "e-1", "eventType": "productOrderStateChangeEvent", "event": {"id": "not-ours"}});
    let body = body.to_string();
    let secret = partner.webhook_secret(SONATA).await;
    let path = "/lso/admin/v1/sonata/webhookSecret?buyerId=PROVIDER";
    let theirs = partner.call_as(&partner.admin, "GET", path, None).await.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(secret, theirs, "each Buyer has a secret of its own");
    let now = SystemClock.now_seconds();
    let send = |signed_with: Option<(&str, i64)>| {
        let mut request = provider.client.post(&listener).header("content-type", "application/json");
        if let Some((secret, at)) = signed_with {
            let signature = lso_notify::webhooks::signature(&[secret], "e-1", at, body.as_bytes());
            request = request
                .header("webhook-id", "e-1")
                .header("webhook-timestamp", at.to_string())
                .header("webhook-signature", signature);
        }
        request.body(body.clone()).send()
    };
    for refused in [None, Some((secret.as_str(), now)), Some((theirs.as_str(), now - 3600))] {
        let answer = send(refused).await.unwrap();
        assert_eq!(answer.status(), 401);
        let error: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(error["code"], "invalidCredentials", "{error:#}");
    }
    assert_eq!(send(Some((&theirs, now))).await.unwrap().status(), 204);
    provider.seller.stop().await;
    partner.seller.stop().await;
}

#[tokio::test]
async fn a_thirty_second_partner_journey_runs_on_five_second_tokens_from_the_partners_token_endpoint() {
    let partner = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.identity.token_ttl_seconds = 5;
    })
    .await;
    let asked = json!({"name": "provider", "role": "buyer", "buyers": ["PROVIDER"], "scopes": ["sonata", "interlude"]});
    let client = partner.call_as(&partner.admin, "POST", "/lso/admin/v1/clients", Some(&asked)).await;
    assert_eq!(client.status, 201, "{:#}", client.body);
    let secret_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret_file.path(), client.body["clientSecret"].as_str().unwrap()).unwrap();
    let (terms, _) = terms_with(&partner, |t| {
        t.token = Secret(String::new());
        t.oauth = Some(lso_partners::OAuthConfig {
            token_url: partner.url("/oauth2/token"),
            client_id: client.body["clientId"].as_str().unwrap().into(),
            client_secret_file: secret_file.path().display().to_string(),
            ..Default::default()
        });
    })
    .await;
    let provider = spawn_app_with(|c| {
        c.fulfilment.by = FulfilmentMode::Network;
        c.partners = vec![terms];
    })
    .await;
    let started = std::time::Instant::now();
    let order = order_off_net_evpl(&provider).await;
    let evpl = order["productOrderItem"][2]["product"]["id"].as_str().unwrap().to_owned();
    // The customer changes its bandwidth again and again for 30 s (60 changes at most), each
    // change made on the partner's leg too.
    let mut changes = 0;
    while started.elapsed() < std::time::Duration::from_secs(30) && changes < 60 {
        modify_cir(&provider, &evpl, if changes % 2 == 0 { 30 } else { 20 }).await;
        changes += 1;
    }
    provider.order_completed(CANTATA, &delete_order(&evpl)).await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(30), "{changes} changes in {:?}", started.elapsed());
    // Tokens were fetched again and again, never refused.
    let metrics = partner.client.get(partner.url("/metrics")).bearer_auth(&partner.admin).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    let count = |prefix: &str| -> f64 {
        text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    };
    let issued = count(r#"lso_http_requests_total{api="oauth2",operation="POST /token",status="200"}"#);
    assert!(issued >= 3.0, "{issued} tokens in {:?}", started.elapsed());
    assert!(!text.lines().any(|l| l.starts_with("lso_http_requests_total") && l.contains(r#"status="401""#)), "{text}");
    provider.seller.stop().await;
    partner.seller.stop().await;
}
