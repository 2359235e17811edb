//! `bench poq`: Product Offering Qualifications per second on the demo network, each with a UNI
//! at a site, a UNI at an address and an EVPL between them (a path planned per request), posted
//! by `--clients` concurrent Buyers for `--seconds`.

use lso_http::Principal;
use lso_lab::orders::{EVPL, SUBSCRIBER_UNI, contact, evc};
use lso_model::Irp;
use lso_model::{Clock, SystemClock};
use lso_server::config::Config;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn uni(id: &str, place: Value) -> Value {
    let spec = lso_spec::Catalog::built_in().expect("the built-in catalog loads");
    let spec = spec.get(SUBSCRIBER_UNI).expect("the UNI specification");
    json!({"id": id, "action": "add", "product": {"productOffering": {"id": spec.offering_id()},
           "productConfiguration": spec.example, "place": [place]}})
}

fn request() -> Value {
    let mut evpl = evc("3", EVPL, &[100, 100], 50, &[], &[]);
    evpl["qualificationItemRelationship"] =
        json!([{"id": "1", "relationshipType": "CONNECTS_TO_UNI"}, {"id": "2", "relationshipType": "CONNECTS_TO_UNI"}]);
    let evpl = json!({"id": "3", "action": "add", "product": evpl["product"], "qualificationItemRelationship": evpl["qualificationItemRelationship"]});
    json!({"instantSyncQualification": true, "relatedContactInformation": [contact("buyerContactInformation")],
           "productOfferingQualificationItem": [
               uni("1", json!({"@type": "GeographicSiteRef", "id": "site-boston", "role": "INSTALL_LOCATION"})),
               uni("2", json!({"@type": "GeographicAddressRef", "id": "addr-ny-1", "role": "INSTALL_LOCATION"})),
               evpl]})
}

/// Posts qualifications from `clients` Buyers for `seconds`; prints the rate and latencies.
pub async fn run(seconds: u64, clients: usize) -> anyhow::Result<()> {
    let files = tempfile::tempdir()?;
    let mut config = Config::load(None, std::iter::empty())?;
    // Its listeners are on loopback.
    config.notifications.allow_private_callbacks = true;
    config.listen = "127.0.0.1:0".parse()?;
    config.data_dir = files.path().to_owned();
    let seller = lso_server::start(&config).await?;
    let now = SystemClock.now_seconds();
    let url = format!("http://{}{}/productOfferingQualification", seller.addr, lso_mef_product::poq_base(Irp::Sonata));
    let body = request();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for n in 0..clients {
        let token = seller.auth.mint(&Principal::buyer(format!("b{n}"), vec![format!("B{n}")]), now, 3600);
        let (url, body, client) = (url.clone(), body.clone(), reqwest::Client::new());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                let answer = client.post(&url).bearer_auth(&token).json(&body).send().await?;
                anyhow::ensure!(answer.status().as_u16() == 201, "the Seller answered {}", answer.status());
                let poq: Value = answer.json().await?;
                anyhow::ensure!(poq["state"] == "done.ready", "the qualification ended {}", poq["state"]);
                latencies.push(started.elapsed());
            }
            Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "POQ (UNI at a site, UNI at an address, EVPL path) on the demo network, {clients} Buyers: {} qualifications in {seconds} s = {:.0}/s; p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        latencies.len() as f64 / seconds as f64,
        ms(at(0.5)),
        ms(at(0.99))
    );
    seller.stop().await;
    Ok(())
}
