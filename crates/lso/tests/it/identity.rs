//! Identity over HTTP: tokens of an external identity provider (its JWKS served by the test:
//! ES256, EdDSA and RS256 keys, rotated) and of a shared-secret issuer accepted with the
//! Buyers, roles and scopes their claims give; every bad token refused with the right status
//! and a MEF error body, storing nothing; revocation of a token and of a client; lso's own key
//! rotation without a restart.

use crate::support::*;
use axum::extract::State;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lso_http::testing::IdpKey;
use lso_model::{Clock, SystemClock};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const ORDERS: &str = "/mefApi/sonata/productOrderingManagement/v10";
const IDP: &str = "https://idp.test";
const SHARED: &str = "https://partner-sso.test";
const AUDIENCE: &str = "lso-test";
const SHARED_SECRET: &str = "a secret shared with one issuer, 32+ characters";

/// The provider's JWKS, served on loopback; the test changes it.
async fn serve_jwks(jwks: Arc<Mutex<Value>>) -> String {
    let app = axum::Router::new()
        .route(
            "/jwks",
            axum::routing::get(|State(jwks): State<Arc<Mutex<Value>>>| async move {
                axum::Json(jwks.lock().unwrap().clone())
            }),
        )
        .with_state(jwks);
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", socket.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(socket, app).await });
    url
}

/// Claims of the provider for Buyer `buyer` with `scope`, valid for an hour.
fn claims(buyer: &str, scope: &str) -> Value {
    let now = SystemClock.now_seconds();
    json!({"iss": IDP, "aud": AUDIENCE, "sub": format!("{buyer}-user"), "iat": now, "nbf": now, "exp": now + 3600,
           "buyers": [buyer], "scope": scope})
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (key, value) in changes.as_object().unwrap() {
        claims[key] = value.clone();
    }
    claims
}

fn hs256(secret: &[u8], claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

async fn order_with(app: &App, token: &str) -> Answer {
    app.call_as(token, "POST", &format!("{ORDERS}/productOrder"), Some(&order_of(&example(EVPL), None))).await
}

#[tokio::test]
async fn external_tokens_are_accepted_by_their_claims_and_every_bad_token_is_refused_storing_nothing() {
    let (es, ed, rsa) = (
        IdpKey::new("es-1", Algorithm::ES256),
        IdpKey::new("ed-1", Algorithm::EdDSA),
        IdpKey::new("rsa-1", Algorithm::RS256),
    );
    let jwks = Arc::new(Mutex::new(json!({"keys": [es.jwk(), ed.jwk(), rsa.jwk()]})));
    let url = serve_jwks(jwks.clone()).await;
    let app = spawn_app_with(|c| {
        let trusted = |issuer: &str| lso_server::config::TrustedIssuerConfig {
            issuer: issuer.into(),
            audience: AUDIENCE.into(),
            jwks_url: String::new(),
            hs256_secret: lso_server::config::Secret(String::new()),
            refresh_min_seconds: 0,
            claims: lso_http::ClaimsMapping::default(),
        };
        c.trusted_issuers = vec![
            lso_server::config::TrustedIssuerConfig { jwks_url: url.clone(), ..trusted(IDP) },
            lso_server::config::TrustedIssuerConfig {
                hs256_secret: lso_server::config::Secret(SHARED_SECRET.into()),
                ..trusted(SHARED)
            },
        ];
    })
    .await;

    // Accepted: each algorithm of the provider, and the shared-secret issuer.
    let mut placed = Vec::new();
    let shared = hs256(SHARED_SECRET.as_bytes(), &with(claims("ACME", "sonata"), json!({"iss": SHARED})), None);
    for token in [
        es.sign(&claims("ACME", "sonata")),
        ed.sign(&claims("ACME", "sonata")),
        rsa.sign(&claims("ACME", "sonata:write")),
        shared,
    ] {
        let created = order_with(&app, &token).await;
        assert_eq!(created.status, 201, "{:#}", created.body);
        placed.push(created.body["id"].as_str().unwrap().to_owned());
    }
    // The provider rotates its keys: the new key is fetched when a token names it.
    let rotated = IdpKey::new("es-2", Algorithm::ES256);
    *jwks.lock().unwrap() = json!({"keys": [rotated.jwk()]});
    let created = order_with(&app, &rotated.sign(&claims("ACME", "sonata"))).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    placed.push(created.body["id"].as_str().unwrap().to_owned());

    let now = SystemClock.now_seconds();
    let stranger = IdpKey::new("es-2", Algorithm::ES256);
    let public_key = rotated.jwk();
    let confused = hs256(
        format!("{}{}", public_key["x"].as_str().unwrap(), public_key["y"].as_str().unwrap()).as_bytes(),
        &claims("ACME", "sonata"),
        Some("es-2"),
    );
    let unsigned = {
        use base64::Engine;
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims("ACME", "sonata")))
    };
    let revoked_client = rotated.sign(&with(claims("ACME", "sonata"), json!({"client_id": "client-x"})));
    let revoked_token = rotated.sign(&with(claims("ACME", "sonata"), json!({"jti": "revoke-me"})));
    for (what, token) in [("token", "revoke-me"), ("client", "client-x")] {
        let body = json!({format!("{what}Id"): token});
        let revoked = app.call_as(&app.admin, "POST", "/lso/admin/v1/revocation", Some(&body)).await;
        assert_eq!(revoked.status, 201, "{:#}", revoked.body);
    }
    let cases: Vec<(&str, Option<String>, u16, &str)> = vec![
        ("no token", None, 401, "missingCredentials"),
        ("malformed", Some("not-a-jwt".into()), 401, "invalidCredentials"),
        (
            "expired",
            Some(rotated.sign(&with(claims("ACME", "sonata"), json!({"exp": now - 600})))),
            401,
            "invalidCredentials",
        ),
        (
            "not yet valid",
            Some(rotated.sign(&with(claims("ACME", "sonata"), json!({"nbf": now + 600})))),
            401,
            "invalidCredentials",
        ),
        ("wrong signature", Some(stranger.sign(&claims("ACME", "sonata"))), 401, "invalidCredentials"),
        (
            "unknown kid",
            Some(IdpKey::new("es-9", Algorithm::ES256).sign(&claims("ACME", "sonata"))),
            401,
            "invalidCredentials",
        ),
        (
            "wrong issuer",
            Some(rotated.sign(&with(claims("ACME", "sonata"), json!({"iss": "https://evil.test"})))),
            401,
            "invalidCredentials",
        ),
        (
            "wrong audience",
            Some(rotated.sign(&with(claims("ACME", "sonata"), json!({"aud": "someone-else"})))),
            401,
            "invalidCredentials",
        ),
        ("alg none", Some(unsigned), 401, "invalidCredentials"),
        ("HS256 with the public key", Some(confused), 401, "invalidCredentials"),
        ("missing scope", Some(rotated.sign(&claims("ACME", "cantata"))), 403, "accessDenied"),
        ("read scope on a write", Some(rotated.sign(&claims("ACME", "sonata:read"))), 403, "accessDenied"),
        ("revoked token", Some(revoked_token), 401, "invalidCredentials"),
        ("revoked client", Some(revoked_client), 401, "invalidCredentials"),
    ];
    for (case, token, status, code) in cases {
        let mut request =
            app.client.post(app.url(&format!("{ORDERS}/productOrder"))).json(&order_of(&example(EVPL), None));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status().as_u16(), status, "{case}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["code"], code, "{case}: {body:#}");
        assert!(body["reason"].as_str().is_some_and(|r| !r.is_empty()), "{case}: {body:#}");
    }
    // A read scope reads; another Buyer's order does not exist for it.
    let reader = rotated.sign(&claims("ACME", "sonata:read"));
    let listed = app.call_as(&reader, "GET", &format!("{ORDERS}/productOrder"), None).await;
    assert_eq!(listed.status, 200);
    let mut listed: Vec<String> =
        listed.body.as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    listed.sort();
    placed.sort();
    assert_eq!(listed, placed, "nothing but the accepted orders was stored");
    let globex = rotated.sign(&claims("GLOBEX", "sonata"));
    let theirs = app.call_as(&globex, "GET", &format!("{ORDERS}/productOrder/{}", placed[0]), None).await;
    assert_eq!((theirs.status, &theirs.body["code"]), (404, &json!("notFound")), "{:#}", theirs.body);
    // Only administrators revoke.
    let operator = app.seller.auth.mint(&lso_http::Principal::operator("ops"), now, 60);
    let refused = app.call_as(&operator, "POST", "/lso/admin/v1/revocation", Some(&json!({"tokenId": "x"}))).await;
    assert_eq!(refused.status, 403, "{:#}", refused.body);
    app.seller.stop().await;
}

#[tokio::test]
async fn lsos_own_keys_rotate_without_a_restart_and_old_tokens_verify_until_they_expire() {
    let app = spawn_app().await;
    let jwks = |app: &App| {
        let url = app.url("/.well-known/jwks.json");
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let before = jwks(&app).await;
    assert_eq!(before["keys"].as_array().unwrap().len(), 1);
    assert_eq!(before["keys"][0]["alg"], "ES256");
    let mut changes = app.seller.auth.key_changes();
    let dir = app.dir.path().display().to_string();
    let said = lso_cli(&["keys", "rotate", "--data-dir", &dir, "--overlap-hours", "1"]).await;
    assert!(said.contains("now signed with key"), "{said}");
    changes.changed().await.unwrap();
    let after = jwks(&app).await;
    let kids: Vec<&str> = after["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&before["keys"][0]["kid"].as_str().unwrap()));
    // The token minted before the rotation still works; new ones name the new key.
    assert_eq!(app.call("GET", &format!("{ORDERS}/productOrder"), None).await.status, 200);
    let fresh =
        app.seller.auth.mint(&lso_http::Principal::buyer("acme", vec!["ACME".into()]), SystemClock.now_seconds(), 60);
    let kid = jsonwebtoken::decode_header(&fresh).unwrap().kid.unwrap();
    assert!(kid == kids[1] && kid != kids[0], "{kid} {kids:?}");
    assert_eq!(app.call_as(&fresh, "GET", &format!("{ORDERS}/productOrder"), None).await.status, 200);
    app.seller.stop().await;
}

/// Asks `app`'s token endpoint with `form`, authenticating with HTTP Basic `basic` if given.
async fn token_request(
    app: &App,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let mut request = app
        .client
        .post(app.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let answer = request.send().await.unwrap();
    let (status, headers) = (answer.status().as_u16(), answer.headers().clone());
    (status, headers, answer.json().await.unwrap())
}

#[tokio::test]
async fn lso_issues_client_credentials_tokens_to_registered_clients_and_stops_when_one_is_revoked() {
    let app = spawn_app().await;
    let dir = app.dir.path().display().to_string();
    let url = app.url("");
    let said = lso_cli(&[
        "clients",
        "add",
        "--name",
        "ACME's systems",
        "--buyer",
        "ACME",
        "--scope",
        "sonata",
        "--scope",
        "cantata:read",
        "--url",
        &url,
        "--data-dir",
        &dir,
    ])
    .await;
    let field = |name: &str| said.lines().find_map(|l| l.strip_prefix(name)).unwrap().trim().to_owned();
    let (id, secret) = (field("client_id"), field("client_secret"));
    // Only the argon2 hash is kept.
    let stored = app.seller.bus.store().get("oauthClient", None, &id).await.unwrap().unwrap();
    assert!(stored.doc.contains("$argon2id$") && !stored.doc.contains(&secret), "{}", stored.doc);
    let listed = lso_cli(&["clients", "list", "--url", &url, "--data-dir", &dir]).await;
    assert!(listed.contains(&id) && !listed.contains(&secret), "{listed}");

    let grant = [("grant_type", "client_credentials")];
    let (status, headers, issued) = token_request(&app, Some((&id, &secret)), &grant).await;
    assert_eq!(status, 200, "{issued:#}");
    assert_eq!(
        (issued["token_type"].as_str(), issued["scope"].as_str()),
        (Some("Bearer"), Some("sonata cantata:read"))
    );
    assert_eq!(headers["cache-control"], "no-store");
    let token = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(order_with(&app, &token).await.status, 201);
    let cantata = "/mefApi/cantata/productOrderingManagement/v5/productOrder";
    assert_eq!(app.call_as(&token, "GET", cantata, None).await.status, 200);
    assert_eq!(app.call_as(&token, "POST", cantata, Some(&order_of(&example(EVPL), None))).await.status, 403);
    // The secret in the form works too; a narrower grant is given what it asks.
    let in_form = [
        ("grant_type", "client_credentials"),
        ("client_id", &id),
        ("client_secret", &secret),
        ("scope", "cantata:read"),
    ];
    let (status, _, narrow) = token_request(&app, None, &in_form).await;
    assert_eq!((status, narrow["scope"].as_str()), (200, Some("cantata:read")), "{narrow:#}");
    assert_eq!(order_with(&app, narrow["access_token"].as_str().unwrap()).await.status, 403);

    type Refusal<'a> = (Option<(&'a str, &'a str)>, Vec<(&'a str, &'a str)>, u16, &'a str);
    let refusals: Vec<Refusal> = vec![
        (Some((&id, "wrong")), grant.to_vec(), 401, "invalid_client"),
        (Some(("lso-nobody", &secret)), grant.to_vec(), 401, "invalid_client"),
        (None, grant.to_vec(), 401, "invalid_client"),
        (Some((&id, &secret)), vec![("grant_type", "password")], 400, "unsupported_grant_type"),
        (Some((&id, &secret)), vec![("grant_type", "client_credentials"), ("scope", "legato")], 400, "invalid_scope"),
    ];
    for (basic, form, status, error) in refusals {
        let (got, headers, body) = token_request(&app, basic, &form).await;
        assert_eq!((got, body["error"].as_str()), (status, Some(error)), "{form:?}: {body:#}");
        if status == 401 {
            assert!(headers.contains_key("www-authenticate"));
        }
    }
    // Revoked: no more tokens, and the ones issued are refused.
    lso_cli(&["clients", "revoke", &id, "--url", &url, "--data-dir", &dir]).await;
    assert_eq!(token_request(&app, Some((&id, &secret)), &grant).await.0, 401);
    assert_eq!(order_with(&app, &token).await.status, 401);
    app.seller.stop().await;
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_and_another_client_in_the_same_second_is_served() {
    let app = spawn_app_with(|c| {
        c.http.rate_limit_per_second = 0.5;
        c.http.rate_limit_burst = 3.0;
    })
    .await;
    let now = SystemClock.now_seconds();
    let globex = app.seller.auth.mint(&lso_http::Principal::buyer("globex", vec!["GLOBEX".into()]), now, 60);
    for _ in 0..3 {
        assert_eq!(order_with(&app, &app.token).await.status, 201);
    }
    let refused = order_with(&app, &app.token).await;
    assert_eq!((refused.status, &refused.body["code"]), (429, &json!("tooManyRequests")), "{:#}", refused.body);
    let wait: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    for _ in 0..3 {
        assert_eq!(order_with(&app, &globex).await.status, 201, "another client is not limited by the first");
    }
    // Guessing a client's secret at the token endpoint is held to the limit too.
    let asked = json!({"name": "guessed", "buyers": ["ACME"], "scopes": ["sonata"]});
    let client = app.call_as(&app.admin, "POST", "/lso/admin/v1/clients", Some(&asked)).await;
    let id = client.body["clientId"].as_str().unwrap().to_owned();
    let guesses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(token_request(&app, Some((&id, "a guess")), &[("grant_type", "client_credentials")]).await.0);
        }
        statuses
    };
    assert_eq!(guesses, [401, 401, 401, 429]);
    // Requests without valid credentials are held to the limit of the address they come from;
    // a client with valid ones from the same address is not.
    let mut anonymous = Vec::new();
    for token in ["", "not-a-token", "", "not-a-token"] {
        anonymous.push(order_with(&app, token).await.status);
    }
    assert_eq!(anonymous, [401, 401, 401, 429]);
    let initech = app.seller.auth.mint(&lso_http::Principal::buyer("initech", vec!["INITECH".into()]), now, 60);
    assert_eq!(order_with(&app, &initech).await.status, 201);
    // Nothing of the refused request was stored.
    let listed = app.call_as(&app.admin, "GET", &format!("{ORDERS}/productOrder?buyerId=ACME"), None).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 3);
    app.seller.stop().await;
}
