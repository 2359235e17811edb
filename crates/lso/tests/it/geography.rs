//! Address and Site Management over both reference points: the MEF 121 guide's validation
//! requests are accepted, validations and sites are computed from the address book, and every
//! answer is valid against the official API files.

use crate::support::*;
use lso_model::{Clock, SystemClock};
use serde_json::{Value, json};

fn bases(irp: &str) -> (String, String) {
    let irp: lso_model::Irp = irp.to_lowercase().parse().unwrap();
    (lso_mef_product::address_base(irp), lso_mef_product::site_base(irp))
}

/// The JSON requests of the MEF 121 guide that submit an address.
fn guide_requests(irp: &str) -> Vec<Value> {
    let guide = shared_mef().join(irp).join("documentation/productApi/serviceability/address/MEF 121 - LSO Cantata and LSO Sonata Address Management API - Developer Guide.md");
    let text = std::fs::read_to_string(guide).unwrap();
    text.split("```json\n")
        .skip(1)
        .filter_map(|block| serde_json::from_str::<Value>(block.split("```").next()?).ok())
        .filter(|v| v.get("submittedGeographicAddress").is_some() && v.get("validationResult").is_none())
        .collect()
}

fn validation(address: Value) -> Value {
    json!({"provideAlternative": true, "submittedGeographicAddress": address})
}

#[tokio::test]
async fn addresses_are_validated_from_the_address_book_and_every_answer_meets_the_contract() {
    for irp in ["Sonata", "Cantata"] {
        let app = spawn_app().await;
        let contract =
            Contract::load(&format!("{irp}/productApi/serviceability/address/geographicAddressManagement.api.yaml"));
        let (base, _) = bases(irp);
        let validate = async |body: Value| {
            let answer = app.call("POST", &format!("{base}/geographicAddressValidation"), Some(&body)).await;
            if answer.status == 200 {
                Contract::assert_valid(
                    &contract.response("/geographicAddressValidation", "post", 200),
                    &answer.body,
                    "a validation",
                );
            }
            answer
        };
        let requests = guide_requests(irp);
        assert!(!requests.is_empty());
        for request in requests {
            let answer = validate(request.clone()).await;
            assert_eq!(answer.status, 200, "{irp}: the guide's request {request:#} → {:#}", answer.body);
        }

        let exact = validate(validation(json!({"@type": "FieldedAddress", "streetNr": "100", "streetName": "Summer",
            "streetType": "Street", "city": "Boston", "postcode": "02110", "country": "US"})))
        .await;
        assert_eq!(exact.body["validationResult"], "success");
        assert_eq!(exact.body["bestMatchGeographicAddress"]["id"], "addr-bo-2");
        let typo = validate(validation(
            json!({"@type": "FormattedAddress", "addrLine1": "100 sumer st", "city": "boston", "country": "US"}),
        ))
        .await;
        assert_eq!(typo.body["validationResult"], "partial");
        assert_eq!(
            typo.body["bestMatchGeographicAddress"]["@type"], "FormattedAddress",
            "the type submitted (MEF 121 R16)"
        );
        assert_eq!(typo.body["bestMatchGeographicAddress"]["addrLine1"], "100 Summer Street");
        let nowhere = validate(validation(
            json!({"@type": "FieldedAddress", "streetName": "Nowhere", "city": "Boston", "country": "US"}),
        ))
        .await;
        assert_eq!(
            (nowhere.body["validationResult"].clone(), nowhere.body.get("bestMatchGeographicAddress")),
            (json!("fail"), None)
        );
        assert_eq!(nowhere.body["alternateGeographicAddress"], json!([]), "no match is 200 with empty lists (R18)");

        let address = app.call("GET", &format!("{base}/geographicAddress/addr-bo-2"), None).await;
        Contract::assert_valid(&contract.response("/geographicAddress/{id}", "get", 200), &address.body, "an address");
        let missing = app.call("GET", &format!("{base}/geographicAddress/nope"), None).await;
        assert_eq!(missing.status, 404);
        Contract::assert_valid(&contract.response("/geographicAddress/{id}", "get", 404), &missing.body, "404");

        let refused = validate(json!({"provideAlternative": false, "submittedGeographicAddress": {"@type": "FieldedAddress", "id": "x", "city": "Boston"}})).await;
        assert_eq!(refused.status, 422, "{:#}", refused.body);
        Contract::assert_valid(&contract.response("/geographicAddressValidation", "post", 422), &refused.body, "422");
        let paths = property_paths(&refused.body);
        assert_eq!(
            paths,
            [
                "/provideAlternative",
                "/submittedGeographicAddress/id",
                "/submittedGeographicAddress/streetName",
                "/submittedGeographicAddress/country"
            ]
        );
    }
}

#[tokio::test]
async fn sites_are_found_by_address_and_a_private_site_only_by_its_buyer() {
    for irp in ["Sonata", "Cantata"] {
        let app = spawn_app().await;
        let contract =
            Contract::load(&format!("{irp}/productApi/serviceability/site/geographicSiteManagement.api.yaml"));
        let (_, base) = bases(irp);
        let now = SystemClock.now_seconds();
        let other = app.seller.auth.mint(&lso_http::Principal::buyer("o", vec!["OTHER".into()]), now, 600);

        let boston = app.call("GET", &format!("{base}/geographicSite?city=boston"), None).await;
        assert_eq!(boston.status, 200, "{:#}", boston.body);
        Contract::assert_valid(&contract.response("/geographicSite", "get", 200), &boston.body, "sites");
        let ids = |answer: &Answer| {
            answer.body.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        };
        assert_eq!(ids(&boston), ["site-boston", "site-boston-closet"]);
        let seen_by_other = app.call_as(&other, "GET", &format!("{base}/geographicSite?city=Boston"), None).await;
        assert_eq!(ids(&seen_by_other), ["site-boston"], "a private site is its Buyer's only");
        let by_address = app.call("GET", &format!("{base}/geographicSite?geographicAddress.id=addr-ny-1"), None).await;
        assert_eq!(ids(&by_address), ["site-new-york"]);
        let by_street =
            app.call("GET", &format!("{base}/geographicSite?streetName=Summer%20St&streetNr=100"), None).await;
        assert_eq!(ids(&by_street), ["site-boston"]);

        let site = app.call("GET", &format!("{base}/geographicSite/site-boston"), None).await;
        Contract::assert_valid(&contract.response("/geographicSite/{id}", "get", 200), &site.body, "a site");
        assert_eq!(site.body["place"][0]["id"], "addr-bo-2");
        assert_eq!(
            app.call_as(&other, "GET", &format!("{base}/geographicSite/site-boston-closet"), None).await.status,
            404
        );
        let unlocated = app.call("GET", &format!("{base}/geographicSite?siteType=public"), None).await;
        assert_eq!(unlocated.status, 400, "sites are located by address (MEF 122 R10)");
    }
}
