//! `lso` as an issuer of tokens: its public keys at `/.well-known/jwks.json` (so partners can
//! verify its tokens), and the key file watched, so `lso keys rotate` takes effect without a
//! restart.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use lso_http::Authenticator;
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
