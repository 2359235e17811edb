//! A schema-driven fuzzer of every product API on both reference points, and of the
//! Performance Monitoring, Streaming Management and Allegro (`docs/allegro.openapi.json`) files: every operation of each official
//! management file is served, and it is sent requests generated from the file's
//! own schemas
//! (instances of the request schema, the same with a required attribute removed or an attribute
//! of the wrong type, arbitrary JSON; declared query parameters with generated, wrong and unknown
//! values; path identifiers that exist and that do not), and holds every answer to the file:
//! never a 5xx, never an undeclared success, a declared status's body valid against its schema,
//! and any other error a MEF error body (the 422 business errors MEF requires everywhere, 413,
//! 405). Where a file contradicts its guide (mef-digest §0.3: single objects typed as arrays and
//! the reverse, `TroubleTicket_Find` requiring attributes the guide gives only when set) the
//! guide is followed. Seeded, so a failure can be replayed.

use crate::support::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

const CASES: usize = 16;

const FILES: [&str; 12] = [
    "order/productOrderManagement",
    "inventory/productInventoryManagement",
    "catalog/productCatalog",
    "serviceability/offeringQualification/productOfferingQualificationManagement",
    "serviceability/address/geographicAddressManagement",
    "serviceability/site/geographicSiteManagement",
    "availabilityAndPricingDiscovery/productOfferingAvailabilityAndPricingDiscovery",
    "quote/quoteManagement",
    "troubleTicket/troubleTicketManagement",
    "workforce/appointment/appointmentManagement",
    "workforce/workorder/workorderManagement",
    "billing/billingManagement",
];

/// Generates JSON from the schemas of one API file.
struct Generator<'a> {
    doc: &'a Value,
    rng: StdRng,
    configurations: Vec<Value>,
}

impl Generator<'_> {
    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        match schema["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => self.resolve(self.doc.pointer(pointer).unwrap_or(&Value::Null)),
            None => schema,
        }
    }

    fn string(&mut self, schema: &Value) -> Value {
        match schema["format"].as_str() {
            Some("date-time") => {
                let days = self.rng.random_range(-30..400);
                json!(days_from_now(days))
            }
            _ => {
                let choices = ["x", "1", "site-boston", "addr-ny-1", "ACME", "", "ünï", "a b", "../x", "1e9"];
                json!(choices[self.rng.random_range(0..choices.len())])
            }
        }
    }

    fn value(&mut self, schema: &Value, depth: usize) -> Value {
        if depth > 8 {
            return Value::Null;
        }
        let schema = self.resolve(schema).clone();
        if let Some(values) = schema["enum"].as_array().filter(|v| !v.is_empty()) {
            return values[self.rng.random_range(0..values.len())].clone();
        }
        if let Some(parts) = schema["allOf"].as_array() {
            let mut merged = Map::new();
            for part in parts {
                if let Value::Object(fields) = self.value(part, depth + 1) {
                    merged.extend(fields);
                }
            }
            return Value::Object(merged);
        }
        if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()).filter(|o| !o.is_empty()) {
            let pick = options[self.rng.random_range(0..options.len())].clone();
            return self.value(&pick, depth + 1);
        }
        let discriminator = schema["discriminator"]["propertyName"].as_str().map(str::to_owned);
        if discriminator.as_deref() == Some("@type") && schema["discriminator"]["mapping"].is_null() {
            // `MEFProductConfiguration`: a real configuration, or a made-up type.
            return match self.rng.random_range(0..3) {
                0 => json!({"@type": "urn:made:up"}),
                _ => self.configurations[self.rng.random_range(0..self.configurations.len())].clone(),
            };
        }
        if let Some(mapping) = schema["discriminator"]["mapping"].as_object().filter(|m| !m.is_empty()) {
            let (name, target) = mapping
                .iter()
                .nth(self.rng.random_range(0..mapping.len()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .unwrap_or_default();
            let mut value = self.value(&json!({"$ref": target}), depth + 1);
            if let (Some(key), Some(fields)) = (&discriminator, value.as_object_mut()) {
                fields.insert(key.clone(), json!(name));
            }
            return value;
        }
        match schema["type"].as_str() {
            Some("string") => self.string(&schema),
            Some("integer") => json!(self.rng.random_range(-2..200)),
            Some("number") => json!(self.rng.random_range(-2.0..2000.0)),
            Some("boolean") => json!(self.rng.random_bool(0.5)),
            Some("array") => {
                let count = if depth > 4 {
                    schema["minItems"].as_u64().unwrap_or(0)
                } else {
                    self.rng.random_range(schema["minItems"].as_u64().unwrap_or(0)..=2)
                };
                (0..count).map(|_| self.value(&schema["items"], depth + 1)).collect()
            }
            _ => {
                let required: Vec<String> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect();
                let mut object = Map::new();
                for (name, property) in schema["properties"].as_object().cloned().unwrap_or_default() {
                    if required.contains(&name) || (depth < 4 && self.rng.random_bool(0.5)) {
                        object.insert(name, self.value(&property, depth + 1));
                    }
                }
                Value::Object(object)
            }
        }
    }

    /// An instance of `schema`, or one broken in one way.
    fn body(&mut self, schema: &Value) -> Value {
        let mut body = self.value(schema, 0);
        match self.rng.random_range(0..6) {
            0..=2 => {}
            3 => {
                if let Some(fields) = body.as_object_mut().filter(|f| !f.is_empty()) {
                    let key = fields.keys().nth(self.rng.random_range(0..fields.len())).cloned().unwrap_or_default();
                    fields.remove(&key);
                }
            }
            4 => {
                if let Some(fields) = body.as_object_mut().filter(|f| !f.is_empty()) {
                    let key = fields.keys().nth(self.rng.random_range(0..fields.len())).cloned().unwrap_or_default();
                    fields.insert(
                        key,
                        [json!(7), json!("x"), json!([]), json!({}), json!(null)][self.rng.random_range(0..5)].clone(),
                    );
                }
            }
            _ => {
                body = [json!([]), json!("x"), json!(3), json!({"unknown": true}), json!(null)]
                    [self.rng.random_range(0..5)]
                .clone()
            }
        }
        body
    }
}

/// Compiled validators by schema pointer.
type Validators = std::collections::HashMap<String, jsonschema::Validator>;

/// Whether `body` is valid for the declared schema at `pointer` (following the guide where the
/// file types a list as one object or one object as a list).
fn conforms(
    contract: &Contract,
    cache: &mut Validators,
    pointer: &str,
    schema: &Value,
    body: &Value,
) -> Result<(), String> {
    let validator = cache.entry(pointer.to_owned()).or_insert_with(|| contract.validator(pointer));
    let errors: Vec<String> = validator.iter_errors(body).map(|e| format!("{e} at {}", e.instance_path())).collect();
    if errors.is_empty() {
        return Ok(());
    }
    let item = match (&schema["type"], body) {
        (Value::String(t), Value::Array(items)) if t != "array" => items.iter().all(|i| validator.is_valid(i)),
        (Value::String(t), single) if t == "array" && !single.is_array() => {
            let items = format!("{pointer}/items");
            cache.entry(items.clone()).or_insert_with(|| contract.validator(&items)).is_valid(single)
        }
        _ => false,
    };
    if item { Ok(()) } else { Err(errors.join("; ")) }
}

fn is_mef_error(body: &Value) -> bool {
    let one = |e: &Value| e["code"].is_string() && e["reason"].is_string();
    match body {
        Value::Array(errors) => !errors.is_empty() && errors.iter().all(one),
        single => one(single),
    }
}

/// A request each create operation accepts, sent as the first case so that successes are held
/// to the file too.
fn accepted_request(path: &str) -> Option<Value> {
    let uni = crate::quote::uni_at("1", "site-boston");
    Some(match path {
        "/productOrder" => order_of(&example(EVPL), None),
        "/hub" => json!({"callback": "http://127.0.0.1:9/listener"}),
        "/quote" => crate::quote::quote(true, vec![uni]),
        "/productOfferingQualification" => json!({"instantSyncQualification": true,
            "relatedContactInformation": [contact("buyerContactInformation")],
            "productOfferingQualificationItem": [{"id": "1", "action": "add", "product": uni["product"]}]}),
        "/geographicAddressValidation" => {
            json!({"provideAlternative": true, "submittedGeographicAddress": {"@type": "FieldedAddress",
            "streetNr": "100", "streetName": "Summer", "streetType": "St", "city": "Boston", "postcode": "02110", "country": "US"}})
        }
        "/productOfferingAvailability" => json!({"action": "add", "productSpecification": {"id": EVPL}}),
        _ => return None,
    })
}

/// What fuzzing the files sent and found.
#[derive(Default)]
struct Findings {
    sent: usize,
    created: usize,
    failures: Vec<String>,
}

/// Sends `CASES` generated requests to every operation of `contract` (its paths under the file's
/// server base) with `token`, path identifiers taken from `ids`, and holds the answers to it.
async fn fuzz_file(app: &App, token: &str, contract: &Contract, ids: [&str; 4], seed: u64, found: &mut Findings) {
    let configurations: Vec<Value> =
        lso_spec::Catalog::built_in().unwrap().specs().iter().map(|s| s.example.clone()).collect();
    let doc = contract.document().clone();
    let server = doc["servers"][0]["url"].as_str().unwrap();
    let base = server[server.find("/mefApi").unwrap()..].trim_end_matches('/').to_owned();
    let mut cache = Validators::new();
    let mut generator = Generator { doc: &doc, rng: StdRng::seed_from_u64(seed), configurations };
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if !["get", "post", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            for case in 0..CASES {
                let mut url = format!("{base}{}", path.replace("{id}", ids[case % 4]));
                let mut query = Vec::new();
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    let parameter = generator.resolve(parameter).clone();
                    let name = parameter["name"].as_str().unwrap_or_default();
                    if parameter["in"] != "query"
                        || ["buyerId", "sellerId"].contains(&name)
                        || !generator.rng.random_bool(0.3)
                    {
                        continue;
                    }
                    let value = generator.value(&parameter["schema"], 0);
                    let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
                    query.push(format!("{name}={}", text.replace(' ', "%20").replace('+', "%2B")));
                }
                if case % 6 == 5 {
                    query.push("unknownParameter=1".into());
                }
                if !query.is_empty() {
                    url = format!("{url}?{}", query.join("&"));
                }
                let schema = operation["requestBody"]["content"]
                    .as_object()
                    .and_then(|c| c.values().next())
                    .map(|m| m["schema"].clone());
                let known = if case == 0 && method == "post" { accepted_request(path) } else { None };
                let body = known.or_else(|| schema.map(|s| generator.body(&s)));
                let answer = app.call_as(token, &method.to_uppercase(), &url, body.as_ref()).await;
                found.sent += 1;
                found.created += usize::from(answer.status == 201);
                let status = answer.status.to_string();
                let declared = &operation["responses"][&status];
                let what = format!("{} {url} → {status}", method.to_uppercase());
                let unrouted = answer.status == 405 || answer.body["reason"] == "no resource at this path";
                if unrouted {
                    found.failures.push(format!("{what}: the operation is not served"));
                } else if answer.status >= 500 {
                    found.failures.push(format!("{what}: a server error {:#}", answer.body));
                } else if let Some(media) = declared["content"].as_object().and_then(|c| c.keys().next().cloned()) {
                    let pointer = format!(
                        "/paths/{}/{method}/responses/{status}/content/{}/schema",
                        path.replace('~', "~0").replace('/', "~1"),
                        media.replace('~', "~0").replace('/', "~1")
                    );
                    let schema = generator.resolve(&declared["content"][&media]["schema"]).clone();
                    if let Err(why) = conforms(contract, &mut cache, &pointer, &schema, &answer.body) {
                        found.failures.push(format!("{what}: {why}\n{:#}", answer.body));
                    }
                } else if declared.is_null() && answer.status < 400 {
                    found.failures.push(format!("{what}: a success the file does not declare"));
                } else if declared.is_null() && !is_mef_error(&answer.body) {
                    found.failures.push(format!("{what}: not a MEF error body {:#}", answer.body));
                }
            }
        }
    }
}

fn seed() -> u64 {
    std::env::var("LSO_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(125)
}

#[tokio::test]
async fn requests_generated_from_every_api_file_get_answers_that_meet_it() {
    let seed = seed();
    let app = spawn_app().await;
    let placed = app
        .call(
            "POST",
            "/mefApi/sonata/productOrderingManagement/v10/productOrder",
            Some(&order_of(&example(EVPL), None)),
        )
        .await;
    let order = placed.body["id"].as_str().unwrap().to_owned();
    let mut found = Findings::default();
    for irp in ["Sonata", "Cantata"] {
        for file in FILES {
            let mut contract = Contract::load(&format!("{irp}/productApi/{file}.api.yaml"));
            if file.starts_with("troubleTicket") {
                contract = contract.without_required("TroubleTicket_Find", &["externalId", "resolutionDate"]);
            }
            fuzz_file(&app, &app.token, &contract, [order.as_str(), "nothing", "x%20y", "1"], seed, &mut found).await;
        }
    }
    let Findings { sent, created, failures } = found;
    assert!(sent > 2000, "{sent} requests");
    assert!(created >= 20, "only {created} requests succeeded in creating something");
    assert!(
        failures.is_empty(),
        "{} of {sent} answers break their file (LSO_FUZZ_SEED={seed}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn requests_generated_from_the_performance_streaming_and_allegro_files_get_answers_that_meet_them() {
    let seed = seed();
    let app = spawn_app().await;
    let mut found = Findings::default();
    for (file, irp) in [
        ("performanceMonitoring.api.yaml", "Legato"),
        ("performanceMonitoring.api.yaml", "Interlude"),
        ("streamingManagement.api.all-in-one.yaml", "Legato"),
    ] {
        let contract = Contract::load(&format!("{irp}/serviceApi/pm/{file}"));
        // Legato is the Seller's operators'; Interlude a partner operator's (a Sonata Buyer).
        let token = if irp == "Legato" { app.admin.clone() } else { app.token.clone() };
        fuzz_file(&app, &token, &contract, ["carrier-ethernet-performance", "nothing", "x%20y", "1"], seed, &mut found)
            .await;
    }
    let allegro = Contract::from_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/allegro.openapi.json"),
        "allegro",
    );
    fuzz_file(&app, &app.token, &allegro, ["nothing", "x%20y", "1", "nothing"], seed, &mut found).await;
    let Findings { sent, failures, .. } = found;
    assert!(sent > 300, "{sent} requests");
    assert!(
        failures.is_empty(),
        "{} of {sent} answers break their file (LSO_FUZZ_SEED={seed}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
