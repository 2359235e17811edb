//! Transport security for every part of `lso`: the HTTPS listener (with optional client
//! certificates and certificate files re-read without dropping connections), the outbound HTTP
//! clients (system roots plus a configured CA bundle, an optional client certificate), and TLS
//! to PostgreSQL with libpq's `sslmode` semantics; and the credentials `lso` presents to its
//! peers (a bearer token, or OAuth 2.0 client credentials); and the trace context every call
//! carries ([`trace`]). rustls with aws-lc-rs; no OpenSSL.

mod credentials;
mod outbound;
pub mod postgres;
mod server;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;

pub use credentials::{ClientCredentials, Credentials, CredentialsError};
pub use outbound::Outbound;
pub use server::{ClientAuth, Peer, Reloading, ServerTls, TlsListener};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// A TLS setting that cannot be used, with the file it is about.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

/// The one crypto provider `lso` uses.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The certificates of a PEM file, at least one.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError(format!("failed to read certificates from {}: {e}", path.display())))?;
    if read.is_empty() {
        return Err(TlsError(format!("{} holds no PEM certificate", path.display())));
    }
    Ok(read)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| TlsError(format!("failed to read a private key from {}: {e}", path.display())))
}

/// A root store holding the certificates of `path`.
pub(crate) fn roots(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(path)? {
        roots
            .add(cert)
            .map_err(|e| TlsError(format!("{} holds a certificate that is not a CA: {e}", path.display())))?;
    }
    Ok(roots)
}
