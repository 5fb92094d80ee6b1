//! HTTPS for the tests: a certificate authority made by the test (rcgen), server certificates it
//! issues for 127.0.0.1, their PEM files written and replaced the way a renewer replaces them (a
//! new file renamed over the old one), clients that trust that authority and nothing else, and
//! an in-process server serving HTTPS with such a certificate (`HttpsApp`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dash_events::config::{Config, TlsFiles};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use reqwest::Client;
use reqwest::tls::TlsInfo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto::ring};

use crate::backend::TestDb;
use crate::helpers::eventually;
use crate::support::app::App;
use crate::support::http::{Http, SECRET};

/// How often the in-process server under test looks at its certificate files (50 times more
/// often than `serve` does), so that a reload is awaited in a fraction of a second.
pub const RELOAD_INTERVAL: Duration = Duration::from_millis(100);

/// A certificate authority of the test's own.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    der: CertificateDer<'static>,
}

/// A server certificate for 127.0.0.1 and its key, as PEM, and the certificate as DER (what a
/// client sees in the handshake).
pub struct ServerCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: Vec<u8>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = KeyPair::generate().expect("generate the CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "dash-events test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("self-sign the CA");
        TestCa {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A new certificate, with a new key, for 127.0.0.1 and localhost; `name` is its common name.
    pub fn issue(&self, name: &str) -> ServerCert {
        let key = KeyPair::generate().expect("generate a server key");
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let mut params = CertificateParams::new(names).expect("server parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("issue a server certificate");
        ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// A TLS connection to `addr`, handshaken with a client that trusts this CA only; panics if
    /// the handshake fails.
    pub async fn handshake(&self, addr: SocketAddr) -> TlsStream<TcpStream> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).expect("the CA as a root");
        let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("TLS handshake with the server under test")
    }

    /// A client for loopback that trusts this CA only, opens a new connection for every request
    /// and reports the certificate it was shown.
    pub fn client(&self) -> Client {
        let root = reqwest::Certificate::from_pem(self.pem.as_bytes()).expect("the CA as a root");
        Client::builder()
            .no_proxy()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(root)
            .https_only(true)
            .tls_info(true)
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build the HTTPS client")
    }
}

/// Writes `cert` and its key to `cert.pem` and `key.pem` in a new `tls` directory under `dir`,
/// and names them for a server that looks at them every [`RELOAD_INTERVAL`].
pub fn write_pair(dir: &Path, cert: &ServerCert) -> TlsFiles {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).expect("create the TLS directory");
    let files = TlsFiles {
        reload_interval: RELOAD_INTERVAL,
        ..TlsFiles::new(tls.join("cert.pem"), tls.join("key.pem"))
    };
    replace(&files.cert, &cert.cert_pem);
    replace(&files.key, &cert.key_pem);
    files
}

/// Replaces the file at `path` as renewers do: writes a new file beside it, then renames it over.
pub fn replace(path: &Path, contents: &str) {
    let mut new = PathBuf::from(path);
    new.set_extension("new");
    std::fs::write(&new, contents).unwrap_or_else(|err| panic!("write {}: {err}", new.display()));
    std::fs::rename(&new, path)
        .unwrap_or_else(|err| panic!("rename over {}: {err}", path.display()));
}

/// The certificate a new HTTPS connection to `addr` from a new client of `ca` is shown (DER), or
/// why none was. A new client, because a client's second connection resumes its first TLS
/// session, which shows no certificate: its client reports the one of the first session again.
pub async fn served_certificate(ca: &TestCa, addr: SocketAddr) -> Result<Vec<u8>, String> {
    let response = ca
        .client()
        .get(format!("https://{addr}/healthz"))
        .send()
        .await
        .map_err(|err| format!("{err:?}"))?;
    let info = response.extensions().get::<TlsInfo>();
    info.and_then(TlsInfo::peer_certificate)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "the answer carries no peer certificate".to_owned())
}

/// How long a reload may take to show: the server under test looks every 100 ms
/// (`support::tls::RELOAD_INTERVAL`), so 20 s is 200 looks, a margin far beyond 5× even on a
/// starved machine.
pub const RELOAD_WAIT: Duration = Duration::from_secs(20);

/// An in-process server serving HTTPS with a certificate of the test's own CA.
pub struct HttpsApp {
    pub ca: TestCa,
    /// The certificate it started with.
    pub first: ServerCert,
    pub files: TlsFiles,
    pub app: App,
    /// A client of it over HTTPS.
    pub https: Http,
}

impl HttpsApp {
    /// Serves `db` over HTTPS with the default options changed by `change`.
    pub async fn start(db: &TestDb, change: impl FnOnce(&mut Config)) -> HttpsApp {
        let ca = TestCa::new();
        let first = ca.issue("first");
        let files = write_pair(db.dir(), &first);
        let app = App::start_with(db, |config| {
            config.tls = Some(files.clone());
            change(config);
        })
        .await;
        let https = Http::https(app.addr, SECRET, None, ca.client());
        let server = HttpsApp {
            ca,
            first,
            files,
            app,
            https,
        };
        // `serve` reads the pair in its own task: once it answers, a test may change the files.
        assert_eq!(
            server.served().await,
            server.first.der,
            "the first certificate"
        );
        server
    }

    /// The certificate a new connection is shown now (DER); panics if the handshake fails.
    pub async fn served(&self) -> Vec<u8> {
        served_certificate(&self.ca, self.app.addr)
            .await
            .unwrap_or_else(|err| panic!("no HTTPS answer: {err}"))
    }

    /// Waits until new connections are shown `cert`; panics after `RELOAD_WAIT`.
    pub async fn await_served(&self, cert: &ServerCert, what: &str) {
        let shown = eventually(RELOAD_WAIT, || async {
            served_certificate(&self.ca, self.app.addr).await.as_ref() == Ok(&cert.der)
        })
        .await;
        assert!(
            shown,
            "{what}: not served to new connections within {RELOAD_WAIT:?}"
        );
    }

    /// How many reloads with `outcome` the server counted (`dash_events_tls_reloads_total`).
    pub async fn reloads(&self, outcome: &str) -> u64 {
        let response = self.https.get("/metrics").await;
        let text = response.text().await.expect("read /metrics");
        let series = format!("dash_events_tls_reloads_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .map_or(0, |count| count.parse().expect("a whole count"))
    }

    /// Waits until the server counted `count` failed reloads; panics after `RELOAD_WAIT`.
    pub async fn await_failed_reloads(&self, count: u64, what: &str) {
        let counted = eventually(RELOAD_WAIT, || async {
            self.reloads("failed").await >= count
        })
        .await;
        assert!(
            counted,
            "{what}: no failed reload counted within {RELOAD_WAIT:?}"
        );
    }
}
