//! TLS for tests: a throwaway CA (rcgen) that issues server certificates
//! into a temporary directory, a cadre server serving them
//! ([`TlsServer`]), and a rustls client that trusts only that CA and can
//! open a WSS connection or make an HTTPS request, reporting the
//! certificate the server presented.

use crate::WAIT;
use futures_util::StreamExt as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber, date_time_ymd,
};
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// A certificate authority for one test.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
    pem: String,
}

/// A server certificate and its key, as PEM, with the certificate's DER.
pub struct Issued {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// The private key (PEM, PKCS#8).
    pub key_pem: String,
    /// The certificate (DER), to compare with what a server presents.
    pub der: CertificateDer<'static>,
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub enum Validity {
    /// From last year to two years from now.
    Current,
    /// Ended last year.
    Expired,
}

impl TestCa {
    /// A new CA called `name`.
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} CA"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("a self-signed CA");
        TestCa {
            pem: cert.pem(),
            der: cert.der().clone(),
            params,
            key,
        }
    }

    /// The CA certificate (PEM), for programs that read files (nginx).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A certificate for `localhost` and `127.0.0.1` with this serial.
    pub fn issue(&self, serial: u64, validity: Validity) -> Issued {
        let key = KeyPair::generate().expect("a server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server certificate parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.serial_number = Some(SerialNumber::from(serial));
        let year = chrono::Datelike::year(&chrono::Utc::now());
        let (from, to) = match validity {
            Validity::Current => (year - 1, year + 2),
            Validity::Expired => (year - 3, year - 1),
        };
        params.not_before = date_time_ymd(from, 1, 1);
        params.not_after = date_time_ymd(to, 1, 1);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params
            .signed_by(&key, &issuer)
            .expect("the CA signs the certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// A rustls client configuration trusting this CA only.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.der.clone())
            .expect("the CA is a usable root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

impl Issued {
    /// Writes the certificate and the key to `cert` and `key`, each
    /// through a temporary file and a rename, as certbot and careful
    /// operators do, so no reader sees half a file.
    pub fn write(&self, cert: &Path, key: &Path) {
        write_atomically(key, &self.key_pem);
        write_atomically(cert, &self.cert_pem);
    }
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename to {}: {e}", path.display()));
}

/// Opens a TLS connection to `addr` (from `source` when given) checking
/// the server's certificate for `localhost` against `config`'s roots.
pub async fn connect(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    source: Option<IpAddr>,
) -> Result<TlsStream<TcpStream>, std::io::Error> {
    let tcp = match source {
        None => TcpStream::connect(addr).await?,
        Some(source) => {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(source, 0))?;
            socket.connect(addr).await?
        }
    };
    let name = ServerName::try_from("localhost").expect("a server name");
    let connector = tokio_rustls::TlsConnector::from(config);
    tokio::time::timeout(WAIT, connector.connect(name, tcp))
        .await
        .unwrap_or_else(|_| panic!("no TLS handshake with {addr} within {WAIT:?}"))
}

/// The certificate the server presented on `stream`.
pub fn presented(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("the server presented a certificate")
        .clone()
        .into_owned()
}

/// The serial number of a certificate, as hex (`01:a2`).
pub fn serial_of(der: &CertificateDer<'_>) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("a parsable certificate");
    cert.raw_serial_as_string()
}

/// One WSS connection past its `welcome`.
pub struct WssClient {
    /// The socket.
    pub ws: WebSocketStream<TlsStream<TcpStream>>,
    /// The `welcome` message.
    pub welcome: Value,
    /// The certificate the server presented.
    pub certificate: CertificateDer<'static>,
}

impl WssClient {
    /// Opens `wss://localhost:{port}{path_and_query}` through `addr` (a
    /// server or a proxy) and waits for the `welcome`.
    pub async fn join(
        addr: SocketAddr,
        path_and_query: &str,
        config: Arc<rustls::ClientConfig>,
        source: Option<IpAddr>,
    ) -> WssClient {
        let tls = connect(addr, config, source)
            .await
            .unwrap_or_else(|e| panic!("TLS connection to {addr}: {e}"));
        let certificate = presented(&tls);
        let url = format!("wss://localhost:{}{path_and_query}", addr.port());
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, tls))
            .await
            .unwrap_or_else(|_| panic!("no WebSocket upgrade through {addr} within {WAIT:?}"))
            .unwrap_or_else(|e| panic!("WebSocket upgrade through {addr} refused: {e}"));
        let mut client = WssClient {
            ws,
            welcome: Value::Null,
            certificate,
        };
        client.welcome = client.recv_type("welcome").await;
        client
    }

    /// The next text message of type `kind`, skipping others; panics after
    /// [`WAIT`].
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no {kind:?} message within {WAIT:?}"));
            match next {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("a message that is not JSON ({e}): {text}"));
                    if value["type"] == kind {
                        return value;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("the WebSocket failed while waiting for {kind:?}: {e}"),
                None => panic!("the WebSocket ended while waiting for {kind:?}"),
            }
        }
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, value: Value) {
        use futures_util::SinkExt as _;
        self.ws
            .send(Message::text(value.to_string()))
            .await
            .expect("send on the WebSocket");
    }
}

/// An HTTP/1.1 answer read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names in lower case, in order (repeated headers repeated).
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl RawResponse {
    /// How many times header `name` (lower case) was sent.
    pub fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n == name).count()
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` over HTTPS through `addr`, with `Connection: close`, read to
/// the end: raw, so repeated headers can be counted.
pub async fn https_get(
    addr: SocketAddr,
    path: &str,
    config: Arc<rustls::ClientConfig>,
    extra_headers: &[(&str, &str)],
) -> RawResponse {
    let mut tls = connect(addr, config, None)
        .await
        .unwrap_or_else(|e| panic!("TLS connection to {addr}: {e}"));
    let extra: String = extra_headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n{extra}\r\n",
        addr.port()
    );
    tls.write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, tls.read_to_end(&mut raw))
        .await
        .unwrap_or_else(|_| panic!("no complete answer to GET {path} within {WAIT:?}"))
        // A server closing without close_notify after `Connection: close`
        // is fine for this purpose.
        .or_else(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Ok(0)
            } else {
                Err(e)
            }
        })
        .unwrap_or_else(|e| panic!("read the answer to GET {path}: {e}"));
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("an HTTP answer without a head: {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer without a status: {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A cadre server serving HTTPS from files in a temporary directory.
pub struct TlsServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (sessions are created through it: the REST helpers of
    /// [`crate::TestServer`] speak plain HTTP).
    pub app: cadre_server::App,
    /// The certificate store in service.
    pub certificates: cadre_server::tls::Certificates,
    /// The certificate file.
    pub cert: PathBuf,
    /// The key file.
    pub key: PathBuf,
    stop: CancellationToken,
    served: Option<tokio::task::JoinHandle<()>>,
    _data_dir: tempfile::TempDir,
}

impl TlsServer {
    /// Starts a server with certificate and key files in `files_dir`
    /// (written beforehand), looking at them every `reload`.
    pub async fn start(
        cert: PathBuf,
        key: PathBuf,
        reload: std::time::Duration,
    ) -> Result<TlsServer, cadre_server::StartError> {
        let data_dir = tempfile::tempdir().expect("a data directory");
        let mut config = cadre_server::Config::new(data_dir.path());
        config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        config.media_mode = cadre_protocol::session::MediaMode::Peer;
        config.tls = Some(cadre_server::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            reload_interval: reload,
        });
        let server = cadre_server::Server::bind(config).await?;
        let addr = server.local_addr();
        let app = server.app().clone();
        let certificates = server
            .certificates()
            .expect("a server started with TLS files has certificates")
            .clone();
        let stop = CancellationToken::new();
        let token = stop.clone();
        let served = tokio::spawn(async move {
            if let Err(e) = server.serve(token).await {
                panic!("the TLS server stopped with an error: {e}");
            }
        });
        Ok(TlsServer {
            addr,
            app,
            certificates,
            cert,
            key,
            stop,
            served: Some(served),
            _data_dir: data_dir,
        })
    }

    /// Creates a session with these people through the server's state.
    pub async fn create_session(
        &self,
        people: &[(&str, cadre_protocol::Role)],
    ) -> cadre_protocol::api::SessionView {
        self.app
            .create_session(crate::session_body(people))
            .await
            .unwrap_or_else(|e| panic!("create a session: {}", e.message))
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(served) = self.served.take() {
            let _ = tokio::time::timeout(WAIT, served).await;
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
