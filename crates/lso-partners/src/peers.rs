//! How this Seller authenticates to a peer, as configured: a static bearer `token`, or OAuth 2.0
//! client credentials (`oauth`: the peer's token endpoint, this Seller's client id there, and
//! its secret, given in the file, read from a file or from an environment variable).

use lso_http::Secret;
use lso_transport::{ClientCredentials, Credentials};
use serde::Deserialize;

/// `oauth` of a partner or remote peer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// The peer's token endpoint (`https://peer.example/oauth2/token`).
    pub token_url: String,
    /// This Seller's client id there.
    pub client_id: String,
    /// The client secret itself (prefer a file or the environment).
    #[serde(default)]
    pub client_secret: Secret,
    /// A file holding the client secret.
    #[serde(default)]
    pub client_secret_file: String,
    /// An environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: String,
    /// The scope to ask for, if any.
    #[serde(default)]
    pub scope: String,
}

impl OAuthConfig {
    /// The client secret, from the one place it is given.
    fn secret(&self) -> Result<String, String> {
        let given =
            [!self.client_secret.0.is_empty(), !self.client_secret_file.is_empty(), !self.client_secret_env.is_empty()];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(format!(
                "client `{}`: give its secret once: `client_secret`, `client_secret_file` or `client_secret_env`",
                self.client_id
            ));
        }
        if !self.client_secret.0.is_empty() {
            return Ok(self.client_secret.0.clone());
        }
        if !self.client_secret_file.is_empty() {
            return std::fs::read_to_string(&self.client_secret_file)
                .map(|s| s.trim().to_owned())
                .map_err(|e| format!("the secret file {} cannot be read: {e}", self.client_secret_file));
        }
        std::env::var(&self.client_secret_env)
            .map_err(|_| format!("the environment variable {} holds no client secret", self.client_secret_env))
    }
}

/// The credentials `token` or `oauth` describe (`oauth` wins), its token endpoint called with
/// `http`.
pub fn credentials(token: &Secret, oauth: Option<&OAuthConfig>, http: &reqwest::Client) -> Result<Credentials, String> {
    match oauth {
        None if token.0.is_empty() => Err("no credentials: give a `token` or `oauth`".into()),
        None => Ok(Credentials::bearer(&token.0)),
        Some(oauth) => {
            if oauth.token_url.is_empty() || oauth.client_id.is_empty() {
                return Err("`oauth` needs `token_url` and `client_id`".into());
            }
            let client = ClientCredentials {
                token_url: oauth.token_url.clone(),
                client_id: oauth.client_id.clone(),
                client_secret: oauth.secret()?,
                scope: (!oauth.scope.is_empty()).then(|| oauth.scope.clone()),
            };
            Ok(Credentials::client_credentials(client, http.clone()))
        }
    }
}
