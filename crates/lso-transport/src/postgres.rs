//! TLS to PostgreSQL as libpq's `sslmode` means it: `disable`; `allow`/`prefer` (TLS when the
//! server offers it, unverified); `require` (TLS, unverified unless `sslrootcert` is given, then
//! as `verify-ca`); `verify-ca` (the chain checked); `verify-full` (the chain and the host name).
//! The roots are `sslrootcert` (a file, or `system`), or else the system's plus `lso`'s CA bundle.

use crate::{TlsError, certificates, provider};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, danger::DangerousClientConfigBuilder};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How a connection string asks for TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, its certificate not checked.
    Prefer,
    /// TLS, its certificate not checked.
    Require,
    /// TLS, the certificate's chain checked.
    VerifyCa,
    /// TLS, the chain and the host name checked.
    VerifyFull,
}

/// A connection string made ready for the driver, and the TLS connector it needs.
pub struct Connection {
    /// The connection string without the settings the driver does not know.
    pub url: String,
    /// What `sslmode` asked for (after `sslrootcert` upgraded `require`).
    pub mode: SslMode,
    /// The connector.
    pub tls: MakeRustlsConnect,
}

/// Reads `sslmode` and `sslrootcert` from `url` (a `postgres://` URL or `key=value` pairs);
/// `extra_ca` is `lso`'s CA bundle.
pub fn connection(url: &str, extra_ca: Option<&Path>) -> Result<Connection, TlsError> {
    let (rest, mode, root) = split(url)?;
    let mode = match (mode, &root) {
        (SslMode::Require, Some(_)) => SslMode::VerifyCa,
        (mode, _) => mode,
    };
    let driver_mode = match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => "require",
    };
    let url = with_setting(&rest, "sslmode", driver_mode);
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("no TLS protocol version: {e}")))?;
    let config = match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => DangerousClientConfigBuilder { cfg: builder }
            .with_custom_certificate_verifier(Arc::new(Relaxed { chain: None })),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = Arc::new(root_store(root.as_deref(), extra_ca)?);
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| TlsError(format!("the database's CA cannot verify: {e}")))?;
            if mode == SslMode::VerifyCa {
                builder.dangerous().with_custom_certificate_verifier(Arc::new(Relaxed { chain: Some(verifier) }))
            } else {
                builder.with_webpki_verifier(verifier)
            }
        }
    };
    Ok(Connection { url, mode, tls: MakeRustlsConnect::new(config.with_no_client_auth()) })
}

/// The connection string without `sslmode` and `sslrootcert`, and their values.
fn split(url: &str) -> Result<(String, SslMode, Option<PathBuf>), TlsError> {
    let mut mode = SslMode::Prefer;
    let mut root = None;
    let mut take = |key: &str, value: &str| -> Result<bool, TlsError> {
        match key {
            "sslmode" => {
                mode = match value {
                    "disable" => SslMode::Disable,
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    other => return Err(TlsError(format!("`sslmode={other}` is not a mode PostgreSQL knows"))),
                };
                Ok(true)
            }
            "sslrootcert" => {
                root = Some(PathBuf::from(value));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if let Some((base, query)) =
        url.split_once('?').filter(|_| url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decoded(value);
            if !take(key, &value)? {
                kept.push(pair);
            }
        }
        if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) }
    } else if url.contains("://") {
        url.to_owned()
    } else {
        let mut kept = Vec::new();
        for pair in url.split_whitespace() {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(key.trim(), value.trim_matches('\''))? {
                kept.push(pair);
            }
        }
        kept.join(" ")
    };
    Ok((rest, mode, root))
}

fn with_setting(url: &str, key: &str, value: &str) -> String {
    if url.contains("://") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}{key}={value}")
    } else if url.is_empty() {
        format!("{key}={value}")
    } else {
        format!("{url} {key}={value}")
    }
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn root_store(root: Option<&Path>, extra_ca: Option<&Path>) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let files = match root {
        Some(path) if path != Path::new("system") => vec![path],
        _ => {
            let system = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(system.certs);
            extra_ca.into_iter().collect()
        }
    };
    for path in files {
        for cert in certificates(path)? {
            roots
                .add(cert)
                .map_err(|e| TlsError(format!("{} holds a certificate that is not a CA: {e}", path.display())))?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError("no CA certificate to verify the database with; set `sslrootcert`".into()));
    }
    Ok(roots)
}

/// libpq's weaker modes: `require` (encrypted, whoever answers: no chain) and `verify-ca` (the
/// chain checked against the roots, any host name). The handshake's signatures are checked in
/// both.
#[derive(Debug)]
struct Relaxed {
    /// The chain's verifier; `None` accepts any certificate.
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Relaxed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &provider().signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_the_driver_does_not_know_are_taken_out() {
        let (rest, mode, root) =
            split("postgres://u@h:5432/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&x=1").unwrap();
        assert_eq!(
            (rest.as_str(), mode, root.as_deref()),
            ("postgres://u@h:5432/db?x=1", SslMode::VerifyFull, Some(Path::new("/tmp/ca.pem")))
        );
        let (rest, mode, root) = split("host=/tmp port=5 sslmode=verify-ca sslrootcert=/ca.pem dbname=x").unwrap();
        assert_eq!(
            (rest.as_str(), mode, root.as_deref()),
            ("host=/tmp port=5 dbname=x", SslMode::VerifyCa, Some(Path::new("/ca.pem")))
        );
        let (rest, mode, root) = split("postgres://h/db").unwrap();
        assert_eq!((rest.as_str(), mode, root), ("postgres://h/db", SslMode::Prefer, None));
        assert!(split("host=h sslmode=sometimes").is_err());
    }

    #[test]
    fn require_with_a_root_certificate_verifies_the_chain_as_libpq_does() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["ca".to_owned()]).unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca.cert.pem()).unwrap();
        let url = format!("host=h sslmode=require sslrootcert={}", path.display());
        let made = connection(&url, None).unwrap();
        assert_eq!((made.url.as_str(), made.mode), ("host=h sslmode=require", SslMode::VerifyCa));
        assert_eq!(connection("postgres://h/db?sslmode=disable", None).unwrap().url, "postgres://h/db?sslmode=disable");
    }
}
