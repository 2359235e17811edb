//! Router tests: Adagio through `router().oneshot(…)` over simulated elements, and
//! `AdagioClient` against the same routes served on loopback.

use super::*;
use lso_ecm::Ecm;
use serde_json::Value;

struct Lab {
    ecm: Arc<Ecm>,
    alarms: Arc<Alarms>,
    router: Router,
    admin: String,
    buyer: String,
}

fn lab() -> Lab {
    let elements = [("pe1", ["uni1", "uni2", "to-pe2"]), ("pe2", ["uni1", "uni2", "to-pe1"])];
    let ecm = Arc::new(Ecm::simulated_elements(
        elements.iter().map(|(name, ports)| (name.to_string(), ports.iter().map(|p| p.to_string()).collect())),
    ));
    let lso_http::TestCallers { auth, admin, buyer } = lso_http::TestCallers::default();
    let alarms = Arc::new(Alarms::default());
    let router = router(AdagioState { ecm: ecm.clone(), alarms: alarms.clone(), auth });
    Lab { ecm, alarms, router, admin, buyer }
}

impl Lab {
    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let answer = lso_http::oneshot(&self.router, token, method, &format!("{BASE}{path}"), body.as_ref()).await;
        (answer.status, answer.body)
    }
}

fn evpl_on_pe1() -> Value {
    json!({"endpoints": [{"port": "uni1", "uni": {"ceVlans": [100]}, "ingressCirKbps": 20000},
                         {"port": "to-pe2", "tagged": {"sVlan": 5}}]})
}

#[tokio::test]
async fn only_operators_call_adagio() {
    let lab = lab();
    assert_eq!(lab.call("", "GET", "/element", None).await.0, 401);
    let (status, body) = lab.call(&lab.buyer, "GET", "/element", None).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("accessDenied")), "{body:#}");
    let (status, elements) = lab.call(&lab.admin, "GET", "/element", None).await;
    assert_eq!(status, 200);
    assert_eq!(elements, json!([{"name": "pe1", "driver": "simulated"}, {"name": "pe2", "driver": "simulated"}]));
}

#[tokio::test]
async fn a_cross_connect_is_applied_checked_read_back_and_removed() {
    let lab = lab();
    let path = "/element/pe1/crossConnect/svc-1";
    let (status, applied) = lab.call(&lab.admin, "PUT", path, Some(evpl_on_pe1())).await;
    assert_eq!(status, 200, "{applied:#}");
    assert_eq!(applied, evpl_on_pe1(), "answered as asked");
    let (status, check) = lab.call(&lab.admin, "POST", &format!("{path}/check"), Some(evpl_on_pe1())).await;
    assert_eq!((status, &check["runsAsGiven"]), (200, &json!(true)));
    let other =
        json!({"endpoints": [{"port": "uni1", "uni": {"ceVlans": [200]}}, {"port": "to-pe2", "tagged": {"sVlan": 5}}]});
    let (_, check) = lab.call(&lab.admin, "POST", &format!("{path}/check"), Some(other)).await;
    assert_eq!(check["runsAsGiven"], false);
    let (status, read) = lab.call(&lab.admin, "GET", path, None).await;
    assert_eq!((status, &read["service"]), (200, &json!("svc-1")));
    assert_eq!(read["flows"].as_array().unwrap().len(), lab.ecm.simulated("pe1").unwrap().all_flows().len());
    assert_eq!(lab.call(&lab.admin, "DELETE", path, None).await.0, 204);
    assert!(lab.ecm.simulated("pe1").unwrap().all_flows().is_empty());
    assert_eq!(lab.call(&lab.admin, "GET", path, None).await.0, 404);
}

#[tokio::test]
async fn bad_cross_connects_unknown_elements_and_down_elements_get_their_answers() {
    let lab = lab();
    let bad_vlan = json!({"endpoints": [{"port": "uni1", "uni": {"ceVlans": [5000]}}]});
    let (status, body) = lab.call(&lab.admin, "PUT", "/element/pe1/crossConnect/s", Some(bad_vlan)).await;
    assert_eq!(status, 422, "{body:#}");
    let both = json!({"endpoints": [{"port": "uni1", "uni": {"ceVlans": []}, "tagged": {"sVlan": 5}}]});
    let (status, body) = lab.call(&lab.admin, "PUT", "/element/pe1/crossConnect/s", Some(both)).await;
    assert_eq!((status, body[0]["propertyPath"].as_str()), (422, Some("/endpoints/0")), "{body:#}");
    assert_eq!(lab.call(&lab.admin, "GET", "/element/pe9/port", None).await.0, 404);
    let (status, ports) = lab.call(&lab.admin, "GET", "/element/pe2/port", None).await;
    assert_eq!((status, ports.as_array().map(Vec::len)), (200, Some(3)));
    lab.ecm.simulated("pe2").unwrap().set_down(true);
    let on_pe2 =
        json!({"endpoints": [{"port": "uni1", "uni": {"ceVlans": [100]}}, {"port": "to-pe1", "tagged": {"sVlan": 5}}]});
    let (status, body) = lab.call(&lab.admin, "PUT", "/element/pe2/crossConnect/s", Some(on_pe2)).await;
    assert_eq!(status, 409, "an element that cannot be reached: {body:#}");
    lab.alarms.poll(&*lab.ecm, 1_000).await;
    let (status, alarms) = lab.call(&lab.admin, "GET", "/alarm", None).await;
    assert_eq!((status, &alarms[0]["element"], &alarms[0]["kind"]), (200, &json!("pe2"), &json!("elementUnreachable")));
}

#[tokio::test]
async fn the_client_drives_the_routes_over_http_as_element_control_itself() {
    let lab = lab();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}{BASE}", listener.local_addr().unwrap());
    let router = lab.router.clone();
    let served = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = AdagioClient::connect(&base, lso_transport::Credentials::bearer(&lab.admin), reqwest::Client::new())
        .await
        .unwrap();
    assert_eq!(client.elements(), lab.ecm.elements());
    let connect = CrossConnectDto::into_domain(serde_json::from_value(evpl_on_pe1()).unwrap(), "svc-2").unwrap();
    client.apply("pe1", &connect).await.unwrap();
    assert!(client.check("pe1", &connect).await.unwrap());
    assert_eq!(client.flows("pe1", "svc-2").await.unwrap(), lab.ecm.flows("pe1", "svc-2").await.unwrap());
    let ports = client.ports("pe1").await.unwrap();
    assert_eq!(ports.iter().map(|p| p.port.as_str()).collect::<Vec<_>>(), ["uni1", "uni2", "to-pe2"]);
    client.remove("pe1", "svc-2").await.unwrap();
    assert!(client.flows("pe1", "svc-2").await.unwrap().is_empty());
    assert!(matches!(client.ports("pe9").await, Err(AdagioError::UnknownElement(_))));
    served.abort();
}
