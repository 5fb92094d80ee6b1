//! HTTPS for `serve`: rustls (with ring) over the same accept loop, HTTP/1.1 only. The certificate
//! and key come from PEM files, which are watched while serving: when either changes (a renewer
//! renames a new file over the old one), the pair is loaded again and new connections get it,
//! without a restart. A pair that fails to load (half written, or a key that is not the
//! certificate's) is logged and counted, and the previous certificate stays in service.

mod files;
mod reload;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::{CryptoProvider, ring};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{ServerConfig, version};
use tokio_rustls::server::TlsStream;

pub use files::{TlsError, TlsFile};

use crate::config::TlsFiles;
use crate::metrics::Metrics;

/// A loaded certificate pair being served, and what is needed to reload it.
pub struct Tls {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: Arc<CurrentCertificate>,
    /// The files as they were just before the pair in service was read from them.
    loaded_from: reload::Stamp,
}

impl Tls {
    /// Reads and checks the pair; the error names the option and file to fix.
    pub fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        let provider = Arc::new(ring::default_provider());
        // Stamped before reading, so that a change made while reading is seen by the next look.
        let loaded_from = reload::Stamp::of(files);
        let certified = files::load(files, &provider)?;
        Ok(Self {
            files: files.clone(),
            provider,
            current: Arc::new(CurrentCertificate(RwLock::new(Arc::new(certified)))),
            loaded_from,
        })
    }

    /// An acceptor that hands every new connection the certificate in service at that moment.
    pub fn acceptor(&self) -> TlsAcceptor {
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(&[&version::TLS13, &version::TLS12])
            .expect("ring supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&self.current) as Arc<dyn ResolvesServerCert>);
        // Only HTTP/1.1 is served (see `server`), so only it is offered.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    }

    /// Looks at the files every `reload_interval` and puts a changed pair in service; runs until
    /// aborted. Each attempt is counted in `metrics` (`dash_events_tls_reloads_total`).
    pub async fn reload_on_change(self, metrics: Metrics) {
        reload::watch(self, metrics).await;
    }
}

/// The certificate new connections get, replaced whole by a reload.
#[derive(Debug)]
struct CurrentCertificate(RwLock<Arc<CertifiedKey>>);

impl CurrentCertificate {
    fn replace(&self, certified: CertifiedKey) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
    }
}

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.0.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// The TLS side of accepting one connection: a handshake bounded in time, and abandoned when the
/// server begins to shut down (the client has sent no request yet, so none is cut short).
#[derive(Clone)]
pub struct Handshake {
    acceptor: TlsAcceptor,
    timeout: Duration,
    draining: watch::Receiver<bool>,
}

impl Handshake {
    /// Handshakes with `acceptor` within `timeout`, unless `draining` turns true first.
    pub fn new(acceptor: TlsAcceptor, timeout: Duration, draining: watch::Receiver<bool>) -> Self {
        Self {
            acceptor,
            timeout,
            draining,
        }
    }

    /// The TLS stream over `io`, or `None` when the handshake failed, overstayed or was abandoned
    /// (all of which end the connection, and none of which is the server's fault).
    pub async fn accept<IO>(mut self, io: IO) -> Option<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = tokio::time::timeout(self.timeout, self.acceptor.accept(io));
        tokio::select! {
            finished = handshake => match finished {
                Ok(Ok(stream)) => Some(stream),
                Ok(Err(err)) => {
                    tracing::debug!(error = %err, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!("TLS handshake not finished within {:?}", self.timeout);
                    None
                }
            },
            _ = self.draining.wait_for(|draining| *draining) => None,
        }
    }
}
