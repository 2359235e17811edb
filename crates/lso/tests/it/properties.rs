//! A property test: random sequences of API calls, valid and not, never get a 5xx, every error
//! is a MEF error body, and every order ends in a consistent state.

use crate::support::*;
use lso_mef_product::ProductOrder;
use lso_model::order::{ItemState, OrderState};
use proptest::prelude::*;
use serde_json::{Value, json};

const ORDERS: &str = "/mefApi/cantata/productOrderingManagement/v5";

/// One API call of the sequence; indices pick among the orders created so far.
#[derive(Debug, Clone)]
enum Call {
    Create,
    CreateBroken(usize),
    Get(usize),
    List(String),
    Patch(usize, Value),
    Cancel(usize),
    Modify(usize, i64),
    Hub(String),
    Raw(String, String, String),
}

fn broken(kind: usize) -> Value {
    let mut order = order_of(&example(EVPL), None);
    let item = &mut order["productOrderItem"][0];
    match kind % 8 {
        0 => item["requestedCompletionDate"] = json!("2001-01-01T00:00:00Z"),
        1 => item["product"]["productConfiguration"]["@type"] = json!("urn:nothing"),
        2 => item["product"]["productConfiguration"]["evcEndPointA"] = json!(7),
        3 => item["action"] = json!("teleport"),
        4 => item["product"]["id"] = json!("p"),
        5 => order["productOrderItem"] = json!([]),
        6 => item["requestedItemTerm"]["endOfTermAction"] = json!("roll"),
        _ => order["relatedContactInformation"] = json!("none"),
    }
    order
}

fn calls() -> impl Strategy<Value = Call> {
    let text = "[a-zA-Z0-9=&.%-]{0,24}";
    prop_oneof![
        3 => Just(Call::Create),
        2 => (0..8usize).prop_map(Call::CreateBroken),
        2 => (0..4usize).prop_map(Call::Get),
        2 => text.prop_map(Call::List),
        1 => (0..4usize, prop_oneof![
            Just(json!({"projectId": "p"})),
            Just(json!({})),
            Just(json!({"productOrderItem": [{"id": "1"}]})),
            Just(json!({"note": [{"id": "x", "author": "a", "date": "2030-01-01T00:00:00Z", "source": "seller", "text": "t"}]})),
        ]).prop_map(|(i, body)| Call::Patch(i, body)),
        1 => (0..4usize).prop_map(Call::Cancel),
        1 => (0..4usize, -5..60i64).prop_map(|(i, days)| Call::Modify(i, days)),
        1 => "(http|ftp|file)://[a-z0-9.:/]{0,20}".prop_map(Call::Hub),
        2 => (
            prop_oneof![Just("GET"), Just("POST"), Just("PATCH"), Just("DELETE"), Just("PUT")],
            prop_oneof![Just("/productOrder"), Just("/productOrder/x"), Just("/charge/1"), Just("/hub/1"), Just("/cancelProductOrder"), Just("/nothing")],
            "[ -~]{0,40}",
        ).prop_map(|(m, p, b)| Call::Raw(m.to_owned(), p.to_owned(), b)),
    ]
}

async fn run(app: &App, sequence: &[Call]) -> Result<(), TestCaseError> {
    let mut orders: Vec<String> = Vec::new();
    let pick = |orders: &Vec<String>, i: usize| {
        orders.get(i % orders.len().max(1)).cloned().unwrap_or_else(|| "missing".into())
    };
    for call in sequence {
        let answer = match call {
            Call::Create => {
                app.call("POST", &format!("{ORDERS}/productOrder"), Some(&order_of(&example(EVPL), None))).await
            }
            Call::CreateBroken(kind) => app.call("POST", &format!("{ORDERS}/productOrder"), Some(&broken(*kind))).await,
            Call::Get(i) => app.call("GET", &format!("{ORDERS}/productOrder/{}", pick(&orders, *i)), None).await,
            Call::List(query) => app.call("GET", &format!("{ORDERS}/productOrder?{query}"), None).await,
            Call::Patch(i, body) => {
                app.call("PATCH", &format!("{ORDERS}/productOrder/{}", pick(&orders, *i)), Some(body)).await
            }
            Call::Cancel(i) => {
                let body = json!({"productOrder": {"productOrderId": pick(&orders, *i)}, "relatedContactInformation": [contact("cancelProductOrderContact")]});
                app.call("POST", &format!("{ORDERS}/cancelProductOrder"), Some(&body)).await
            }
            Call::Modify(i, days) => {
                let body = json!({"productOrderItem": {"productOrderId": pick(&orders, *i), "productOrderItemId": "1"}, "requestedCompletionDate": days_from_now(*days)});
                app.call("POST", &format!("{ORDERS}/modifyProductOrderItemRequestedDeliveryDate"), Some(&body)).await
            }
            Call::Hub(callback) => {
                app.call("POST", &format!("{ORDERS}/hub"), Some(&json!({"callback": callback}))).await
            }
            Call::Raw(method, path, body) => {
                let request = app
                    .client
                    .request(method.parse().unwrap(), app.url(&format!("{ORDERS}{path}")))
                    .bearer_auth(&app.token)
                    .body(body.clone());
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                Answer {
                    status,
                    headers: response.headers().clone(),
                    body: response.json().await.unwrap_or(Value::Null),
                }
            }
        };
        prop_assert!(answer.status < 500, "{call:?} answered {}: {:#}", answer.status, answer.body);
        if answer.status >= 400 {
            let entries = answer.body.as_array().cloned().unwrap_or_else(|| vec![answer.body.clone()]);
            for entry in entries {
                prop_assert!(entry["code"].is_string() && entry["reason"].is_string(), "{call:?}: {:#}", answer.body);
            }
        }
        if matches!(call, Call::Create) && answer.status == 201 {
            orders.push(answer.body["id"].as_str().unwrap().to_owned());
        }
    }
    for id in &orders {
        let order: ProductOrder = serde_json::from_value(app.wait_until_final(ORDERS, id).await).unwrap();
        let final_items = order.product_order_item.iter().all(|i| i.state.is_terminal());
        prop_assert!(order.state.is_terminal() && final_items, "{id}: {:?}", order.state);
        for item in &order.product_order_item {
            prop_assert_eq!(item.completion_date.is_some(), item.state == ItemState::Completed, "MEF 123 R29/R48");
        }
        prop_assert_eq!(
            order.completion_date.is_some(),
            order.state != OrderState::Cancelled && order.state != OrderState::Rejected
        );
    }
    Ok(())
}

#[test]
fn random_api_call_sequences_never_fail_the_server_nor_leave_an_invalid_state() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(spawn_app());
    let config = ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(sequence in prop::collection::vec(calls(), 1..16))| {
        runtime.block_on(run(&app, &sequence))?;
    });
    runtime.block_on(app.seller.stop());
}
