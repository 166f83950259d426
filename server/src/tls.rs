//! HTTPS and WSS served by cadre itself: the certificate and key files, their
//! checks, their reload, and the listener that runs the TLS handshakes.
//!
//! The files are checked at start ([`Certificates::load`]): a missing or
//! unreadable file, a file without a PEM certificate or key, a certificate
//! outside its validity period and a key that is not the certificate's are
//! refused with a sentence naming the file and the problem, so the server
//! does not start. Afterwards [`Certificates::watch`] polls the files'
//! metadata every few seconds and reloads them on change or on SIGHUP. A
//! reload swaps the certificate the *next* handshakes use; connections
//! already established keep their TLS session and never notice. A reload
//! that fails the same checks is logged and the previous certificate stays
//! in service, so a renewal caught half-written (the new certificate beside
//! the old key) costs nothing: the next change of either file tries again.
//!
//! [`TlsListener`] is an `axum::serve` listener: it accepts TCP connections
//! and runs their handshakes concurrently (bounded in number and time), so a
//! client that opens a socket and says nothing delays nobody else.

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// How often the files are looked at by default: certbot and its kind
/// renew weeks before expiry, so a few seconds' delay is invisible, and a
/// `stat` of two files costs nothing.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// How long a client has to finish its handshake. Browsers take a few
/// round trips; a socket silent this long is a scanner or a dead link.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once. Beyond, new TCP connections wait in the
/// kernel's backlog until one finishes, so a flood of silent sockets holds
/// memory for this many at most.
const MAX_PENDING_HANDSHAKES: usize = 1024;

/// Where the certificate and key are, and how often to look at them.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM file: the server certificate first, then its intermediates.
    pub cert: PathBuf,
    /// PEM file: the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// How often the files' metadata is compared with the loaded one.
    pub reload_interval: Duration,
}

/// Why a certificate and key cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{}: cannot read the file: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause, in the sentence already (not a `source`, so that
        /// error chains do not say it twice).
        cause: std::io::Error,
    },
    /// A file holds no usable PEM item of the expected kind.
    #[error("{}: {problem}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong, as a sentence.
        problem: String,
    },
    /// The certificate is not valid now.
    #[error("{}: {problem}", path.display())]
    Validity {
        /// The certificate file.
        path: PathBuf,
        /// Expired or not yet valid, with the date.
        problem: String,
    },
    /// The key is not the certificate's (or cannot sign).
    #[error("{}: {problem} (certificate: {})", key.display(), cert.display())]
    Key {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// One certificate in service, with what the logs and tests show of it.
#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    /// The serial number as hex (`01:a2:…`), for logs.
    serial: String,
    /// The end of the validity period, seconds since the epoch.
    not_after: i64,
}

/// What the files looked like when they were last read: a change of any
/// of these (certbot replaces files and moves symbolic links) means read
/// them again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&meta),
    })
}

/// The certificate the server presents, shared by every handshake, and
/// replaced by reloads. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Certificates {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    /// Read by every handshake, written by a reload; never held across an
    /// await.
    current: RwLock<Arc<Loaded>>,
    /// The files as last read, whether that read succeeded or not, so a
    /// bad file is reported once and not at every poll.
    seen: std::sync::Mutex<(Option<Stamp>, Option<Stamp>)>,
    reloads: AtomicU64,
    failed_reloads: AtomicU64,
}

impl Certificates {
    /// Reads and checks the files; the error names the file and the
    /// problem.
    pub fn load(files: TlsFiles) -> Result<Certificates, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = (stamp(&files.cert), stamp(&files.key));
        let loaded = read(&files, &provider, now())?;
        Ok(Certificates {
            inner: Arc::new(Shared {
                files,
                provider,
                current: RwLock::new(Arc::new(loaded)),
                seen: std::sync::Mutex::new(seen),
                reloads: AtomicU64::new(0),
                failed_reloads: AtomicU64::new(0),
            }),
        })
    }

    /// The files this serves.
    pub fn files(&self) -> &TlsFiles {
        &self.inner.files
    }

    /// The serial number (hex) of the certificate in service.
    pub fn serial(&self) -> String {
        self.current().serial.clone()
    }

    /// The end of the certificate's validity, seconds since the epoch.
    pub fn not_after(&self) -> i64 {
        self.current().not_after
    }

    /// Reloads that put a new certificate in service since start.
    pub fn reloads(&self) -> u64 {
        self.inner.reloads.load(Ordering::Relaxed)
    }

    /// Reloads refused since start (the previous certificate stayed).
    pub fn failed_reloads(&self) -> u64 {
        self.inner.failed_reloads.load(Ordering::Relaxed)
    }

    fn current(&self) -> Arc<Loaded> {
        match self.inner.current.read() {
            Ok(guard) => guard.clone(),
            // A panic while swapping an Arc cannot leave it half-written.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the files again now and, if they pass the checks, serves
    /// them to the next handshakes; otherwise keeps the certificate in
    /// service and returns why. Returns the new serial.
    pub fn reload(&self) -> Result<String, TlsError> {
        let shared = &self.inner;
        let seen = (stamp(&shared.files.cert), stamp(&shared.files.key));
        if let Ok(mut last) = shared.seen.lock() {
            *last = seen;
        }
        match read(&shared.files, &shared.provider, now()) {
            Ok(loaded) => {
                let serial = loaded.serial.clone();
                let loaded = Arc::new(loaded);
                match shared.current.write() {
                    Ok(mut guard) => *guard = loaded,
                    Err(poisoned) => *poisoned.into_inner() = loaded,
                }
                shared.reloads.fetch_add(1, Ordering::Relaxed);
                Ok(serial)
            }
            Err(e) => {
                shared.failed_reloads.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Reloads when either file changed since it was last read.
    fn reload_if_changed(&self) {
        let shared = &self.inner;
        let now_seen = (stamp(&shared.files.cert), stamp(&shared.files.key));
        let changed = shared.seen.lock().map_or(true, |last| *last != now_seen);
        if changed {
            self.reload_and_log("the files changed");
        }
    }

    fn reload_and_log(&self, why: &str) {
        let old = self.serial();
        match self.reload() {
            Ok(serial) if serial == old => {
                tracing::info!(serial, "TLS certificate read again ({why}): the same one");
            }
            Ok(serial) => {
                tracing::info!(
                    serial,
                    previous = old,
                    not_after = self.not_after(),
                    "TLS certificate reloaded ({why}); new connections use it"
                );
            }
            Err(e) => {
                tracing::error!(
                    serial = old,
                    "TLS certificate not reloaded ({why}), the previous one stays in service: {e}"
                );
            }
        }
    }

    /// Polls the files every `reload_interval`, and reloads on SIGHUP,
    /// until `stop`.
    pub async fn watch(self, stop: CancellationToken) {
        let mut poll = tokio::time::interval(self.inner.files.reload_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        let mut hangup = crate::hangup::Hangup::listen("reload the TLS certificate");
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = poll.tick() => self.reload_if_changed(),
                () = hangup.recv() => self.reload_and_log("SIGHUP"),
            }
        }
    }

    /// The rustls configuration every handshake uses: this certificate
    /// store, HTTP/1.1 only (axum upgrades WebSockets over HTTP/1.1).
    pub fn server_config(&self) -> Arc<ServerConfig> {
        // Start-up only; ring supports both default versions (1.2, 1.3).
        let mut config = ServerConfig::builder_with_provider(self.inner.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(self.clone()));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// Without TLS there is nothing to reload, but `systemctl reload` (the
/// unit's `ExecReload`) still sends SIGHUP, whose default action would end
/// the process: take it and say so, until `stop`.
pub async fn hangup_without_tls(stop: CancellationToken) {
    #[cfg(unix)]
    {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = hangup.recv() => {
                    tracing::info!("SIGHUP: no TLS certificate to reload (no --tls-cert)");
                }
            }
        }
    }
    #[cfg(not(unix))]
    stop.cancelled().await;
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current().key.clone())
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Reads and checks both files at time `now` (seconds since the epoch).
fn read(files: &TlsFiles, provider: &CryptoProvider, now: i64) -> Result<Loaded, TlsError> {
    let cert_pem = std::fs::read(&files.cert).map_err(|cause| TlsError::Read {
        path: files.cert.clone(),
        cause,
    })?;
    let key_pem = std::fs::read(&files.key).map_err(|cause| TlsError::Read {
        path: files.key.clone(),
        cause,
    })?;
    let pem_error = |path: &Path, problem: String| TlsError::Pem {
        path: path.to_owned(),
        problem,
    };
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(&files.cert, format!("not a valid PEM file ({e})")))?;
    if chain.is_empty() {
        return Err(pem_error(
            &files.cert,
            "no certificate in the file (expected a PEM \"BEGIN CERTIFICATE\" block)".to_owned(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        pem_error(
            &files.key,
            match e {
                rustls::pki_types::pem::Error::NoItemsFound => {
                    "no private key in the file (expected a PEM \"BEGIN PRIVATE KEY\", \
                     \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" block)"
                        .to_owned()
                }
                e => format!("not a valid PEM private key ({e})"),
            },
        )
    })?;
    let (serial, not_before, not_after) =
        match x509_parser::parse_x509_certificate(chain[0].as_ref()) {
            Ok((_, cert)) => (
                cert.raw_serial_as_string(),
                cert.validity().not_before.timestamp(),
                cert.validity().not_after.timestamp(),
            ),
            Err(e) => {
                return Err(pem_error(
                    &files.cert,
                    format!("the first certificate cannot be parsed ({e})"),
                ));
            }
        };
    let date = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0).map_or_else(
            || t.to_string(),
            |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
    };
    if now > not_after {
        return Err(TlsError::Validity {
            path: files.cert.clone(),
            problem: format!(
                "the certificate (serial {serial}) expired on {}",
                date(not_after)
            ),
        });
    }
    if now < not_before {
        return Err(TlsError::Validity {
            path: files.cert.clone(),
            problem: format!(
                "the certificate (serial {serial}) is not valid before {} (is the clock right?)",
                date(not_before)
            ),
        });
    }
    let key_error = |problem: String| TlsError::Key {
        key: files.key.clone(),
        cert: files.cert.clone(),
        problem,
    };
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| key_error(format!("the private key cannot be used ({e})")))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(key_error(
                "this private key does not belong to the certificate".to_owned(),
            ));
        }
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(e) => {
            return Err(key_error(format!(
                "the key cannot be checked against the certificate ({e})"
            )));
        }
    }
    Ok(Loaded {
        key: Arc::new(certified),
        serial,
        not_after,
    })
}

/// A TCP listener whose connections come out of their TLS handshake.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    /// Serves `certificates` on connections accepted by `tcp`.
    pub fn new(tcp: TcpListener, certificates: &Certificates) -> TlsListener {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(certificates.server_config()),
            handshakes: JoinSet::new(),
        }
    }

    fn start_handshake(&mut self, tcp: TcpStream, peer: SocketAddr) {
        // Signalling is many small frames: without this, a second frame to
        // the same peer waits for the first one's ACK (~40 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY: {e}");
        }
        let acceptor = self.acceptor.clone();
        self.handshakes.spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => Some((tls, peer)),
                // A client that does not trust the certificate, speaks
                // plain HTTP or goes away: its problem, and frequent on
                // the internet; not worth more than a debug line.
                Ok(Err(e)) => {
                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                    None
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    None
                }
            }
        });
    }
}

/// What woke the listener up. Lives for one `match` on the stack: boxing
/// the large variant (a TLS stream's buffers) would cost an allocation per
/// connection for nothing.
#[allow(clippy::large_enum_variant)]
enum Event {
    Accepted(std::io::Result<(TcpStream, SocketAddr)>),
    Handshaken(Result<Option<(TlsStream<TcpStream>, SocketAddr)>, tokio::task::JoinError>),
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    // Cancel-safe, as `axum::serve` needs: the handshakes live in the
    // JoinSet, not in this future, and `TcpListener::accept` and
    // `JoinSet::join_next` lose nothing when dropped.
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let room = self.handshakes.len() < MAX_PENDING_HANDSHAKES;
            let pending = !self.handshakes.is_empty();
            let event = tokio::select! {
                accepted = self.tcp.accept(), if room => Event::Accepted(accepted),
                Some(done) = self.handshakes.join_next(), if pending => Event::Handshaken(done),
            };
            match event {
                Event::Accepted(Ok((tcp, peer))) => self.start_handshake(tcp, peer),
                Event::Accepted(Err(e)) => {
                    // As axum's own listener does: out of file descriptors
                    // and the like pass; wait a little.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Event::Handshaken(Ok(Some(connection))) => return connection,
                // Failed (logged by its task) or the task panicked.
                Event::Handshaken(_) => {}
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("absent.pem"),
            key: dir.path().join("key.pem"),
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        };
        let err = Certificates::load(files).unwrap_err().to_string();
        assert!(err.contains("absent.pem"), "{err}");
        assert!(err.contains("cannot read the file"), "{err}");
    }

    #[test]
    fn a_file_without_pem_is_refused_with_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, "hello").unwrap();
        std::fs::write(&key, "hello").unwrap();
        let err = Certificates::load(TlsFiles {
            cert,
            key,
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("cert.pem") && err.contains("no certificate in the file"),
            "{err}"
        );
    }
}
