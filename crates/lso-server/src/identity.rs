//! `lso` as an issuer of tokens: `/oauth2/token` (the client credentials grant, for clients an
//! administrator registered), its public keys at `/.well-known/jwks.json` (so partners can
//! verify its tokens), and the key file watched, so `lso keys rotate` takes effect without a
//! restart.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lso_http::Authenticator;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How often the key file is looked at.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// `/.well-known/jwks.json`.
pub fn router(auth: Arc<Authenticator>) -> Router {
    let jwks = |State(auth): State<Arc<Authenticator>>| async move { lso_http::ok(&auth.jwks()) };
    Router::new().route("/.well-known/jwks.json", get(jwks)).with_state(auth)
}

fn modified(path: &PathBuf) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Applies every revocation recorded (by any node) to `auth`.
async fn apply_revocations(auth: &Authenticator, bus: &lso_bus::Bus) {
    match bus.revocations().await {
        Ok(revoked) => {
            for what in revoked {
                match what {
                    lso_bus::identity::Revoked::Token(id) => auth.revoke_token(&id),
                    lso_bus::identity::Revoked::Client(id) => auth.revoke_client(&id),
                }
            }
        }
        Err(err) => tracing::warn!(error = %err, "the revocations cannot be read now"),
    }
}

/// Every few seconds until `stop`: the revocations recorded by any node, and the data
/// directory's key file whenever it changed.
pub async fn watch_credentials(
    auth: Arc<Authenticator>,
    bus: Arc<lso_bus::Bus>,
    data: crate::DataDir,
    stop: impl Future<Output = ()>,
) {
    let path = data.signing_keys_file();
    let mut seen = modified(&path);
    let mut every = tokio::time::interval(WATCH_EVERY);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = every.tick() => {}
        }
        apply_revocations(&auth, &bus).await;
        let now = modified(&path);
        if now == seen {
            continue;
        }
        seen = now;
        match data.signing_keys() {
            Ok(keys) => {
                tracing::info!(kid = %keys.current().kid, "the token signing keys were read again");
                auth.use_keys(keys);
            }
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "the key file cannot be read; the keys in use stay")
            }
        }
    }
}

/// What the token endpoint needs.
#[derive(Clone)]
pub struct Issuing {
    /// Where clients are registered.
    pub bus: Arc<lso_bus::Bus>,
    /// Signs the tokens.
    pub auth: Arc<Authenticator>,
    /// How long a token is valid.
    pub ttl_seconds: i64,
}

/// An OAuth 2.0 error answer (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": error, "error_description": description});
    let mut response = (status, [(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"lso\""));
    }
    response
}

/// An OAuth 2.0 refusal: its status, error code and description.
type Refusal = (StatusCode, &'static str, &'static str);

/// The client's id and secret: HTTP Basic (each part form-encoded, RFC 6749 §2.3.1) or the
/// form's `client_id` and `client_secret`; not both.
fn client_credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> Result<(String, String), Refusal> {
    let basic = headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()).and_then(|h| h.strip_prefix("Basic "));
    let in_form = form.get("client_id").zip(form.get("client_secret"));
    match (basic, in_form) {
        (Some(_), Some(_)) => Err((StatusCode::BAD_REQUEST, "invalid_request", "the client authenticates once")),
        (Some(encoded), None) => {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok();
            let text = decoded.and_then(|d| String::from_utf8(d).ok());
            let decode =
                |part: &str| form_urlencoded::parse(format!("x={part}").as_bytes()).next().map(|(_, v)| v.into_owned());
            text.as_deref()
                .and_then(|t| t.split_once(':'))
                .and_then(|(id, secret)| decode(id).zip(decode(secret)))
                .ok_or((StatusCode::UNAUTHORIZED, "invalid_client", "the Basic credentials are malformed"))
        }
        (None, Some((id, secret))) => Ok((id.clone(), secret.clone())),
        (None, None) => Err((StatusCode::UNAUTHORIZED, "invalid_client", "the client did not authenticate")),
    }
}

fn role_of(name: &str) -> lso_http::Role {
    match name {
        "administrator" => lso_http::Role::Administrator,
        "operator" => lso_http::Role::Operator,
        _ => lso_http::Role::Buyer,
    }
}

/// `POST /oauth2/token`: the client credentials grant (RFC 6749 §4.4).
async fn token(
    State(issuing): State<Issuing>,
    limiter: Option<axum::Extension<Arc<lso_http::RateLimiter>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "send application/x-www-form-urlencoded");
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "only client_credentials"),
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is missing"),
    }
    let (id, secret) = match client_credentials(&headers, &form) {
        Ok(credentials) => credentials,
        Err((status, error, description)) => return oauth_error(status, error, description),
    };
    // Each try costs an argon2 hash: a client guessing secrets is held to the rate limit too.
    if let Some(axum::Extension(limiter)) = &limiter
        && let Err(refused) = limiter.admit(&format!("oauth2-token:{id}"))
    {
        return refused.into_response();
    }
    let client = match issuing.bus.authenticate_client(&id, &secret).await {
        Ok(Some(client)) if !issuing.auth.is_client_revoked(&id) => client,
        Ok(_) => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client, wrong secret or revoked");
        }
        Err(err) => return lso_http::api_error(err).into_response(),
    };
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|s| s.as_str()).map(str::to_owned).collect()
    };
    let allowed = strings(&client["scopes"]);
    let scopes: Vec<String> = match form.get("scope") {
        None => allowed.clone(),
        Some(asked) => asked.split_whitespace().map(str::to_owned).collect(),
    };
    if let Some(beyond) = scopes.iter().find(|s| !allowed.contains(s)) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("`{beyond}` is not granted to this client"),
        );
    }
    let principal = lso_http::Principal {
        subject: id.clone(),
        role: role_of(client["role"].as_str().unwrap_or_default()),
        buyers: strings(&client["buyers"]),
        sellers: strings(&client["sellers"]),
        scopes: scopes.clone(),
        client: Some(id),
        token_id: None,
    };
    let now = issuing.bus.clock().now_seconds();
    let access = issuing.auth.mint(&principal, now, issuing.ttl_seconds);
    let body = serde_json::json!({"access_token": access, "token_type": "Bearer", "expires_in": issuing.ttl_seconds,
        "scope": scopes.join(" ")});
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")], axum::Json(body))
        .into_response()
}

/// `POST /oauth2/token`.
pub fn token_router(issuing: Issuing) -> Router {
    Router::new().route("/oauth2/token", axum::routing::post(token)).with_state(issuing)
}
