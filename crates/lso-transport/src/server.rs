//! The HTTPS listener: a rustls server configuration read from PEM files, optionally asking
//! clients for certificates, swapped whole when the files change or on SIGHUP. A connection
//! keeps the configuration it was accepted with, so a reload drops nothing in flight.

use crate::{TlsError, certificates, private_key, provider, roots};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client has to finish its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// How often the certificate files are looked at for a change.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Whether clients must present a certificate signed by the client CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client without a valid certificate is refused.
    Required,
    /// A client may present one; if it does, it must be valid.
    Optional,
}

/// Where a listener's certificate, key and client CA are.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The CA bundle (PEM) client certificates are checked against; `None` asks for none.
    pub client_ca: Option<PathBuf>,
    /// Whether a client certificate is required when there is a client CA.
    pub client_auth: ClientAuth,
}

impl ServerTls {
    /// The rustls configuration the files make now.
    pub fn config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(format!("no TLS protocol version: {e}")))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(path)?), provider);
                let verifier = match self.client_auth {
                    ClientAuth::Required => verifier,
                    ClientAuth::Optional => verifier.allow_unauthenticated(),
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| TlsError(format!("the client CA {} cannot verify: {e}", path.display())))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(certificates(&self.cert)?, private_key(&self.key)?)
            .map_err(|e| TlsError(format!("the certificate {} does not fit its key: {e}", self.cert.display())))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn files(&self) -> impl Iterator<Item = &Path> {
        [Some(self.cert.as_path()), Some(self.key.as_path()), self.client_ca.as_deref()].into_iter().flatten()
    }

    fn stamps(&self) -> Vec<Option<SystemTime>> {
        self.files().map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok()).collect()
    }
}

/// A listener's TLS configuration, re-read when its files change.
#[derive(Debug)]
pub struct Reloading {
    files: ServerTls,
    current: RwLock<Arc<ServerConfig>>,
    stamps: Mutex<Vec<Option<SystemTime>>>,
    generation: watch::Sender<u64>,
}

impl Reloading {
    /// The configuration `files` make; an error if they do not make one.
    pub fn new(files: ServerTls) -> Result<Arc<Self>, TlsError> {
        let stamps = files.stamps();
        let current = files.config()?;
        let generation = watch::Sender::new(0);
        Ok(Arc::new(Reloading { files, current: RwLock::new(current), stamps: Mutex::new(stamps), generation }))
    }

    /// The configuration new connections get.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the files again and, if they make a configuration, uses it for new connections.
    /// On an error the previous configuration stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let stamps = self.files.stamps();
        *self.stamps.lock().unwrap_or_else(|e| e.into_inner()) = stamps;
        let config = self.files.config()?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        self.generation.send_modify(|generation| *generation += 1);
        Ok(())
    }

    /// Counts the configurations read after the first: changes each time a reload succeeds.
    pub fn reloads(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn changed(&self) -> bool {
        *self.stamps.lock().unwrap_or_else(|e| e.into_inner()) != self.files.stamps()
    }

    fn reload_logged(&self, why: &str) {
        match self.reload() {
            Ok(()) => {
                tracing::info!(cert = %self.files.cert.display(), why, "the TLS certificate files were read again")
            }
            Err(err) => tracing::error!(error = %err, why, "the TLS files were not reloaded; the previous ones stay"),
        }
    }

    /// Reloads on SIGHUP and whenever a file's modification time changes, until `stop`.
    pub async fn watch(self: Arc<Self>, stop: impl Future<Output = ()>) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(signal) => Some(signal),
            Err(err) => {
                tracing::warn!(error = %err, "SIGHUP cannot be listened for; TLS files are reloaded on change only");
                None
            }
        };
        let mut every = tokio::time::interval(WATCH_EVERY);
        tokio::pin!(stop);
        loop {
            let hangup = async {
                match &mut hangup {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut stop => return,
                _ = hangup => self.reload_logged("SIGHUP"),
                _ = every.tick() => if self.changed() { self.reload_logged("a file changed") },
            }
        }
    }
}

/// A TCP listener whose connections are TLS, handshaken concurrently (a slow client delays
/// no other) with the configuration current when each was accepted.
pub struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Serves TLS over `listener` with `tls`.
    pub fn new(listener: TcpListener, tls: Arc<Reloading>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (sender, incoming) = mpsc::channel(64);
        tokio::spawn(accept(listener, tls, sender));
        Ok(TlsListener { incoming, local })
    }
}

async fn accept(listener: TcpListener, tls: Arc<Reloading>, sender: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>) {
    loop {
        let accepted = tokio::select! {
            () = sender.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                tracing::error!(error = %err, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = TlsAcceptor::from(tls.current());
        let sender = sender.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let _ = sender.send((stream, peer)).await;
                }
                Ok(Err(err)) => tracing::debug!(%peer, error = %err, "a TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "a TLS handshake took too long"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            // The accepting task ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// The address a request's connection comes from (`axum::extract::ConnectInfo<Peer>`), for
/// what is limited per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TcpListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}
