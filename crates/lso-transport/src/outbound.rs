//! The TLS every outbound HTTP client of `lso` uses: the system's roots plus a configured CA
//! bundle, and a client certificate for peers that ask for one (operator-to-operator mutual TLS).

use crate::TlsError;
use std::path::Path;

/// How `lso` authenticates the servers it calls and itself to them.
#[derive(Clone, Default)]
pub struct Outbound {
    roots: Vec<reqwest::Certificate>,
    identity: Option<reqwest::Identity>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("extra_roots", &self.roots.len())
            .field("client_certificate", &self.identity.is_some())
            .finish()
    }
}

impl Outbound {
    /// The system's roots, plus the CA bundle at `ca`, presenting the certificate chain and key
    /// at `identity` to servers that ask for one.
    pub fn load(ca: Option<&Path>, identity: Option<(&Path, &Path)>) -> Result<Self, TlsError> {
        let roots = match ca {
            None => Vec::new(),
            Some(path) => {
                let pem = read(path)?;
                reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| TlsError(format!("{} is not a PEM CA bundle: {e}", path.display())))?
            }
        };
        let identity = match identity {
            None => None,
            Some((cert, key)) => {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                Some(reqwest::Identity::from_pem(&pem).map_err(|e| {
                    TlsError(format!("{} and {} do not make a client certificate: {e}", cert.display(), key.display()))
                })?)
            }
        };
        Ok(Outbound { roots, identity })
    }

    /// A client builder with this TLS; the caller adds its timeouts and policies.
    pub fn builder(&self) -> reqwest::ClientBuilder {
        let builder = reqwest::Client::builder().tls_certs_merge(self.roots.iter().cloned());
        match &self.identity {
            Some(identity) => builder.identity(identity.clone()),
            None => builder,
        }
    }

    /// A client with this TLS and `timeout` for each request (5 s to connect).
    pub fn client(&self, timeout: std::time::Duration) -> Result<reqwest::Client, TlsError> {
        self.builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(timeout)
            .build()
            .map_err(|e| TlsError(format!("an HTTPS client cannot be built: {e}")))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError(format!("failed to read {}: {e}", path.display())))
}
