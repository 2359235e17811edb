//! How `lso` proves who it is to a peer (a partner, a remote SOF, ICM or ECM): a static bearer
//! token, or OAuth 2.0 client credentials, whose token is fetched from the peer's token
//! endpoint and fetched again before it expires (or at once after the peer refused it). The
//! client secret and the tokens never appear in debug output or logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// A credential that cannot be had.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CredentialsError(pub String);

/// An OAuth 2.0 client of a peer's authorisation server.
pub struct ClientCredentials {
    /// The token endpoint.
    pub token_url: String,
    /// The client's id there.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The scope to ask for, if any.
    pub scope: Option<String>,
}

struct OAuth {
    client: ClientCredentials,
    http: reqwest::Client,
    current: tokio::sync::Mutex<Option<(String, Instant)>>,
}

/// A credential for a peer.
#[derive(Clone)]
pub struct Credentials(Kind);

#[derive(Clone)]
enum Kind {
    /// A token issued beforehand.
    Bearer(Arc<str>),
    /// Tokens fetched with client credentials.
    OAuth(Arc<OAuth>),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Kind::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Kind::OAuth(oauth) => {
                write!(
                    f,
                    "OAuth {{ token_url: {:?}, client_id: {:?} }}",
                    oauth.client.token_url, oauth.client.client_id
                )
            }
        }
    }
}

impl Credentials {
    /// A static bearer token.
    pub fn bearer(token: &str) -> Self {
        Credentials(Kind::Bearer(Arc::from(token)))
    }

    /// Client credentials, the token endpoint called with `http` (which should follow no
    /// redirect).
    pub fn client_credentials(client: ClientCredentials, http: reqwest::Client) -> Self {
        Credentials(Kind::OAuth(Arc::new(OAuth { client, http, current: tokio::sync::Mutex::new(None) })))
    }

    /// The bearer token to send now.
    pub async fn token(&self) -> Result<String, CredentialsError> {
        let oauth = match &self.0 {
            Kind::Bearer(token) => return Ok(token.to_string()),
            Kind::OAuth(oauth) => oauth,
        };
        let mut current = oauth.current.lock().await;
        if let Some((token, renew_at)) = current.as_ref()
            && Instant::now() < *renew_at
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = oauth.fetch().await?;
        // Renewed when half its life or 30 s are left, whichever is sooner.
        let renew_at = Instant::now() + lifetime.saturating_sub((lifetime / 2).min(Duration::from_secs(30)));
        *current = Some((token.clone(), renew_at));
        Ok(token)
    }

    /// Forgets the token in use (the peer refused it): the next one is fetched anew.
    pub async fn forget(&self) {
        if let Kind::OAuth(oauth) = &self.0 {
            *oauth.current.lock().await = None;
        }
    }
}

impl OAuth {
    async fn fetch(&self) -> Result<(String, Duration), CredentialsError> {
        let c = &self.client;
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &c.scope {
            form.push(("scope", scope));
        }
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let encode = |part: &str| form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>();
        let request = self
            .http
            .post(&c.token_url)
            .basic_auth(encode(&c.client_id), Some(encode(&c.client_secret)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        let response = crate::trace::send(request)
            .await
            .map_err(|e| CredentialsError(format!("the token endpoint {} cannot be reached: {e}", c.token_url)))?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            return Err(CredentialsError(format!(
                "the token endpoint {} refused client {}: {status} {}",
                c.token_url,
                c.client_id,
                answer["error"].as_str().unwrap_or_default()
            )));
        }
        let token = answer["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| CredentialsError(format!("the token endpoint {} gave no access_token", c.token_url)))?;
        let lifetime = Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(300));
        Ok((token.to_owned(), lifetime))
    }
}
