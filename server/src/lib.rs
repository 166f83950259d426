//! cadre's server: hosts distance sessions joined by link, relays WebRTC
//! signalling between the members of each session, and serves the web
//! client.
//!
//! # Layout
//! The folders are the architecture; each depends only on those below it:
//! `http` → `socket` → `app` → `live` → `evidence` / `recording` /
//! `directory`.
//!
//! - [`http`]: the routes: REST under `/api/`, the WebSocket upgrade, the
//!   documents people download, the published keys and the web client; the
//!   access checks (organiser token, join link) in one place.
//! - [`socket`]: one WebSocket connection: the transport (read and write
//!   loops, rate limit, liveness, close) apart from the per-message handlers.
//! - [`app`]: the shared state and the operations the API, the CLI and the
//!   socket use: admission, proofs and sheets, recordings after the fact,
//!   the sponsor's report, difficulties (and their news to people connected now),
//!   per-address connection limits.
//! - [`live`]: a session while it runs: one actor task per session (roster,
//!   sign-in, the recording gate, quality, session control), what it sends
//!   to connections, and the pure rules it applies (quality, sign-in
//!   windows).
//! - [`evidence`]: the append-only ledger, the signing of tree heads and
//!   proofs, RFC 3161 anchoring, the PDF renderings and `cadre verify`.
//! - [`recording`]: the server-side recorder (one peer connection per
//!   consenting participant, Ogg and IVF files, the quota).
//! - [`forward`]: forwarding media through the server for groups (a
//!   publish and a subscribe connection per member): the media core, which
//!   a live session's actor drives once its media is forwarded (see
//!   `docs/forwarding.md`). It builds its connections like the recorder.
//! - [`equipment`]: the equipment check's far end: short-lived peers that
//!   echo a page's data channel, so it can test each path a call could
//!   take before the session.
//! - [`directory`]: what exists: sessions, people and links in the SQLite
//!   catalogue, join links as signed tokens, the signing keys and the
//!   organiser token, calendar files; staff accounts, their logins and the
//!   append-only audit log of the console.
//! - [`postgres`]: what the PostgreSQL stores share (connection settings,
//!   the runtime driving their connections).
//! - [`metrics`]: the counters `/metrics` reports (atomics where the work
//!   happens, encoded when scraped); [`readiness`]: the checks other parts
//!   register for `/readyz`.
//! - [`config`]: every setting, with defaults that work on a fresh machine;
//!   [`error`]: the error type operations return and its JSON body;
//!   [`logging`]: lossy, non-blocking log output that never fails its
//!   caller.
//! - [`tls`]: HTTPS and WSS served by cadre itself: the certificate files,
//!   their checks and reload, the listener running the handshakes;
//!   [`proxy`]: the trusted reverse proxies and the client address they
//!   name.
//! - [`settings_file`]: the configuration file (`--config cadre.toml`),
//!   every flag of a command as a key, read from clap's own definition;
//!   [`backup`]: `cadre backup` (SQLite's online copy of the live
//!   databases, the keys, a manifest of hashes) and `cadre restore`.
//!
//! - [`turn`]: the embedded TURN relay and the time-limited credentials
//!   people get for it or for an external coturn.
//! - [`mail`]: invitations and reminders by e-mail: the SMTP settings,
//!   the background sender working through the queue in the catalogue,
//!   the messages (French and English, the `.ics` attached), and the
//!   schedule of reminders.
//!
//! [`Server::bind`] then [`Server::serve`]: tests bind port 0 and read
//! [`Server::local_addr`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod backup;
pub mod config;
pub mod directory;
pub mod equipment;
pub mod error;
pub mod evidence;
pub mod forward;
pub mod http;
pub mod live;
pub mod logging;
pub mod mail;
pub mod metrics;
// SIGHUP for the watchers that reload their files on it.
mod hangup;
pub mod postgres;
// `cadre import`: a data directory's SQLite files into PostgreSQL.
pub mod postgres_import;
pub mod proxy;
pub mod readiness;
pub mod recording;
pub mod settings_file;
pub mod socket;
pub mod tls;
pub mod turn;

pub use app::App;
pub use config::Config;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long shutdown waits for connections to say goodbye.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// File in the data directory recording the public URL the server last used,
/// so that `cadre session links` prints links that match it.
pub const PUBLIC_URL_FILE: &str = "public-url";

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created or used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Keys could not be loaded or created.
    #[error(transparent)]
    Keys(#[from] crate::directory::keys::KeyError),
    /// The catalogue could not be opened.
    #[error(transparent)]
    Catalog(#[from] crate::directory::catalog::CatalogError),
    /// The evidence ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] crate::evidence::ledger::LedgerError),
    /// The TLS certificate or key cannot be served.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The embedded TURN server could not start.
    #[error(transparent)]
    Turn(#[from] crate::turn::TurnError),
    /// The mail settings cannot work.
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A bound, ready server.
pub struct Server {
    listener: TcpListener,
    app: App,
    local_addr: SocketAddr,
    organiser_token_created: bool,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// The `--metrics-bind` listener, serving `/metrics` alone.
    metrics_listener: Option<(TcpListener, SocketAddr)>,
    /// The certificate served when this process runs TLS itself.
    certificates: Option<tls::Certificates>,
    /// The embedded TURN server, closed when serving ends.
    turn: Option<turn::Embedded>,
    /// How often the signing key set is looked at (see `app::signing_keys`).
    keys_reload_interval: std::time::Duration,
}

impl Server {
    /// Opens the data directory (creating keys, token and database on first
    /// start) and binds the listener.
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        if let Some(mail) = &config.mail {
            mail.check()?;
        }
        // Checked first: a bad certificate must stop the start before
        // anything is created or bound.
        let certificates = config
            .tls
            .clone()
            .map(tls::Certificates::load)
            .transpose()?;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.bind,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
        let public_url = config.public_url.clone().unwrap_or_else(|| {
            let scheme = if certificates.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{local_addr}")
        });
        let metrics_listener = match config.metrics_bind {
            None => None,
            Some(addr) => {
                let bind_err = |source| StartError::Bind { addr, source };
                let listener = TcpListener::bind(addr).await.map_err(bind_err)?;
                let bound = listener.local_addr().map_err(bind_err)?;
                Some((listener, bound))
            }
        };
        let (turn_setup, turn) = start_turn(&config, &public_url).await?;
        // PostgreSQL's calls block: made off the runtime, before the rest.
        let stores = match &config.database {
            None => None,
            Some(_) => {
                open_data_dir(&config.data_dir)?;
                let config = config.clone();
                let opened = tokio::task::spawn_blocking(move || {
                    let keys =
                        crate::directory::keys::KeySet::load_or_create(&config.data_dir)?.value;
                    open_stores(&config, keys.current())
                })
                .await
                .map_err(|e| {
                    StartError::Ledger(evidence::ledger::LedgerError::Task(e.to_string()))
                })??;
                Some(opened)
            }
        };
        let opened = open_with_turn(&config, public_url, turn_setup, stores)?;
        // The dummy hash unknown e-mails are checked against, made now so
        // that the first failed login takes no longer than the others.
        let staff_app = opened.app.clone();
        tokio::spawn(async move { staff_app.prepare_staff_login().await });
        // Best effort: only the CLI's link printing reads it.
        let _ = std::fs::write(
            config.data_dir.join(PUBLIC_URL_FILE),
            opened.app.public_url(),
        );
        // Tells `cadre session invite` whether what it queues will be sent.
        let mail_file = config.data_dir.join(app::invitations::MAIL_FILE);
        match &config.mail {
            Some(mail) => {
                let _ = std::fs::write(&mail_file, &mail.from);
            }
            None => {
                let _ = std::fs::remove_file(&mail_file);
            }
        }
        Ok(Server {
            listener,
            app: opened.app,
            local_addr,
            organiser_token_created: opened.organiser_token_created,
            shutdown: opened.shutdown,
            tracker: opened.tracker,
            metrics_listener,
            certificates,
            turn,
            keys_reload_interval: config
                .keys_reload_interval
                .max(std::time::Duration::from_millis(10)),
        })
    }

    /// The address `/metrics` is served on alone (`--metrics-bind`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().map(|(_, addr)| *addr)
    }

    /// Serves `/metrics` on its own listener until shutdown.
    fn spawn_metrics(&mut self) {
        let Some((listener, addr)) = self.metrics_listener.take() else {
            return;
        };
        let router = http::metrics::router(self.app.clone());
        let stop = self.shutdown.clone();
        tracing::info!(%addr, "serving /metrics");
        self.tracker.spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!("the metrics listener stopped: {e}");
            }
        });
    }

    /// The certificate in service when this process serves TLS itself.
    pub fn certificates(&self) -> Option<&tls::Certificates> {
        self.certificates.as_ref()
    }

    /// The embedded TURN server, when it runs (its bound ports, its figures).
    pub fn turn(&self) -> Option<&turn::Embedded> {
        self.turn.as_ref()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Base URL of links.
    pub fn public_url(&self) -> &str {
        self.app.public_url()
    }

    /// The organiser bearer token.
    pub fn organiser_token(&self) -> &str {
        self.app.organiser_token()
    }

    /// True when the organiser token was generated by this start (print it once).
    pub fn organiser_token_created(&self) -> bool {
        self.organiser_token_created
    }

    /// The application state (for the CLI's demo and for tests).
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Purges recordings past their retention now and every
    /// [`app::recordings::PURGE_PERIOD`] until shutdown; after the first
    /// purge, queues again the segments a previous run left unplayable.
    fn spawn_retention(&self) {
        let app = self.app.clone();
        let stop = self.shutdown.clone();
        self.tracker.spawn(async move {
            let mut first = true;
            loop {
                let now = chrono::Utc::now().timestamp_millis();
                if let Err(e) = app.purge_recordings(now).await {
                    tracing::warn!("recording retention: {}", e.message);
                }
                if std::mem::take(&mut first)
                    && let Err(e) = app.resume_playable().await
                {
                    tracing::warn!("recordings to make playable: {}", e.message);
                }
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(app::recordings::PURGE_PERIOD) => {}
                }
            }
        });
    }

    /// Anchors the ledger with the configured TSA until shutdown (nothing
    /// without a TSA): see [`anchoring`].
    fn spawn_anchoring(&self) {
        let Some((config, ended)) = self.app.take_anchoring() else {
            return;
        };
        let Some(url) = config.tsa_url.clone() else {
            return;
        };
        match evidence::anchoring::Anchorer::new(self.app.ledger().clone(), url) {
            Ok(anchorer) => {
                let stop = self.shutdown.clone();
                self.tracker
                    .spawn(async move { anchorer.run(config, ended, stop).await });
            }
            Err(e) => tracing::error!("anchoring is off: {e}"),
        }
    }

    /// On a database several nodes share: renews this node's session
    /// leases, and closes the live room of any session whose lease it lost
    /// (its people reconnect to the node that has it).
    fn spawn_leases(&self) {
        let (ledger, stop) = (self.app.ledger().clone(), self.shutdown.clone());
        let mut lost = ledger.lost_leases();
        self.tracker
            .spawn(async move { ledger.keep_leases(stop).await });
        let (registry, stop) = (self.app.registry(), self.shutdown.clone());
        self.tracker.spawn(async move {
            loop {
                let sid = tokio::select! {
                    () = stop.cancelled() => break,
                    sid = lost.recv() => sid,
                };
                match sid {
                    Ok(sid) => registry.moved(&sid).await,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "lost leases went unread");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    /// Serves until `shutdown` is cancelled, then closes every session
    /// connection with a reason and waits (bounded) for them to finish.
    pub async fn serve(mut self, shutdown: CancellationToken) -> std::io::Result<()> {
        use axum::serve::ListenerExt;
        self.spawn_metrics();
        self.spawn_retention();
        self.spawn_anchoring();
        if let Some(settings) = self.app.mail_settings().cloned() {
            let (app, stop) = (self.app.clone(), self.shutdown.clone());
            self.tracker
                .spawn(async move { mail::run(app, settings, stop).await });
        }
        // Issue 17: a key rotation made on disk (`cadre keys …`, on this
        // node or copied from another) reaches this one without a restart.
        let keys = self.app.key_set();
        tracing::info!(
            kid = keys.current().kid(),
            published = keys.keys().len(),
            "signing with key {}",
            keys.current().kid()
        );
        let (app, stop) = (self.app.clone(), self.shutdown.clone());
        let every = self.keys_reload_interval;
        self.tracker
            .spawn(async move { app.watch_keys(every, stop).await });
        // Issue 11 §4: answers written by `cadre report answer` reach
        // connected authors.
        let (app, stop) = (self.app.clone(), self.shutdown.clone());
        self.tracker
            .spawn(async move { app.watch_answers(stop).await });
        if self.app.ledger().is_leased() {
            self.spawn_leases();
        }
        // A shared database: changes made through other nodes reach the
        // live rooms here.
        let (app, stop) = (self.app.clone(), self.shutdown.clone());
        self.tracker
            .spawn(async move { app.hear_live_events(stop).await });
        let router =
            http::router(self.app.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let internal = self.shutdown.clone();
        let stopped = async move {
            shutdown.cancelled().await;
            internal.cancel();
        };
        let result = match self.certificates.clone() {
            Some(certificates) => {
                tracing::info!(
                    addr = %self.local_addr,
                    serial = certificates.serial(),
                    "listening (HTTPS)"
                );
                let listener = tls::TlsListener::new(self.listener, &certificates);
                let stop = self.shutdown.clone();
                self.tracker
                    .spawn(async move { certificates.watch(stop).await });
                // The no-op tap gives the listener axum's `ConnectInfo`
                // for its address type (the handshakes set TCP_NODELAY).
                axum::serve(listener.tap_io(|_| ()), router)
                    .with_graceful_shutdown(stopped)
                    .await
            }
            None => {
                tracing::info!(addr = %self.local_addr, "listening");
                let stop = self.shutdown.clone();
                self.tracker
                    .spawn(async move { tls::hangup_without_tls(stop).await });
                let listener = self.listener.tap_io(|tcp| {
                    // Signalling is many small frames: without this, a
                    // second frame to the same peer waits for the first
                    // one's ACK (~40 ms).
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::warn!("cannot set TCP_NODELAY: {e}");
                    }
                });
                axum::serve(listener, router)
                    .with_graceful_shutdown(stopped)
                    .await
            }
        };
        // Upgraded sockets are not HTTP requests: axum does not wait for
        // them, the tracker does.
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close in time");
        }
        // Connections have recorded their closes; now the run's end, then
        // the writer drains and stops.
        self.app.registry().record_stopping().await;
        if let Some(turn) = self.turn {
            turn.close().await;
        }
        if let Err(e) = self.app.ledger().shutdown().await {
            tracing::error!("the evidence ledger did not shut down cleanly: {e}");
        }
        // How well appends were grouped: what an operator (or the bench)
        // needs to judge the disk's share of the server's work.
        let stats = self.app.ledger().stats();
        tracing::info!(
            entries = stats.entries,
            transactions = stats.batches,
            largest = stats.largest_batch,
            failed = stats.failed_batches,
            "evidence ledger closed"
        );
        result
    }
}

/// The application state over a data directory, without a listener: what
/// the CLI's catalogue commands need.
pub struct Opened {
    /// The state.
    pub app: App,
    /// True when the organiser token was generated just now.
    pub organiser_token_created: bool,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// `cadre migrate`: creates or completes the catalogue's and the ledger's
/// tables in a PostgreSQL database (see [`postgres::migrate`]).
pub fn migrate_postgres(
    url: &str,
    app_role: Option<&str>,
) -> Result<Vec<(&'static str, i32)>, postgres::MigrateError> {
    postgres::migrate(
        url,
        app_role,
        &[
            &directory::PG_CATALOGUE,
            &evidence::ledger::postgres::COMPONENT,
        ],
    )
}

/// Opens the data directory (creating keys, token and database on first
/// start) with links based on `public_url`.
pub fn open(config: &Config, public_url: String) -> Result<Opened, StartError> {
    open_with_turn(config, public_url, turn::TurnSetup::default(), None)
}

/// Starts the embedded TURN server when configured, and prepares the
/// credentials people get for it and for the configured TURN URLs.
async fn start_turn(
    config: &Config,
    public_url: &str,
) -> Result<(turn::TurnSetup, Option<turn::Embedded>), StartError> {
    if config.turn.is_none() && config.turn_urls.is_empty() {
        return Ok((turn::TurnSetup::default(), None));
    }
    let secret = match config.turn_secret.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => {
            open_data_dir(&config.data_dir)?;
            crate::directory::keys::turn_secret(&config.data_dir)?.value
        }
    };
    let embedded = match &config.turn {
        Some(settings) => Some(turn::Embedded::start(settings, &secret, config.media_ip).await?),
        None => None,
    };
    let mut urls = Vec::new();
    if let Some(embedded) = &embedded {
        // A public URL defaulted from a wildcard bind names no host anyone
        // can reach: the relay's own address then.
        let host = config
            .turn_public_host
            .clone()
            .or_else(|| turn::url_host(public_url))
            .filter(|h| {
                h.parse::<std::net::IpAddr>()
                    .map_or(true, |ip| !ip.is_unspecified())
            })
            .unwrap_or_else(|| embedded.relay_ip().to_string());
        urls.extend(embedded.urls(&host));
    }
    urls.extend(config.turn_urls.iter().cloned());
    let setup = turn::TurnSetup {
        credentials: Some(std::sync::Arc::new(turn::TurnCredentials::new(
            &secret,
            urls,
            config.turn_credential_validity,
        ))),
        status: embedded.as_ref().map(|e| e.status().clone()),
    };
    Ok((setup, embedded))
}

/// The catalogue and the ledger: the SQLite files in the data directory, or
/// the PostgreSQL database the configuration names (blocking: call it off
/// the async runtime then).
fn open_stores(
    config: &Config,
    key: &crate::directory::keys::SigningKey,
) -> Result<(directory::catalog::Catalog, evidence::ledger::Ledger), StartError> {
    use crate::evidence::ledger::{Ledger, LedgerError, LedgerOptions, postgres::PgStore};
    let signer = crate::evidence::jws::JwsSigner::new(key);
    let Some(shared) = &config.database else {
        return Ok((
            directory::catalog::Catalog::open(&config.data_dir)?,
            Ledger::open(&config.data_dir, signer)?,
        ));
    };
    let store = PgStore::open(&shared.url, &shared.node)
        .map_err(LedgerError::from)?
        .with_lease_ttl(shared.lease_ttl);
    let catalog = directory::catalog::Catalog::open_postgres(&shared.url)?;
    let ledger = Ledger::with_store(Arc::new(store), signer, LedgerOptions::default())?;
    Ok((catalog, ledger))
}

fn open_with_turn(
    config: &Config,
    public_url: String,
    turn: turn::TurnSetup,
    stores: Option<(directory::catalog::Catalog, evidence::ledger::Ledger)>,
) -> Result<Opened, StartError> {
    let dir = &config.data_dir;
    open_data_dir(dir)?;
    let keys = crate::directory::keys::KeySet::load_or_create(dir)?.value;
    let (organiser_token, organiser_token_created) = match &config.organiser_token {
        Some(t) if !t.trim().is_empty() => (t.trim().to_owned(), false),
        _ => {
            let loaded = crate::directory::keys::organiser_token(dir)?;
            (loaded.value, loaded.created)
        }
    };
    let (catalog, ledger) = match stores {
        Some(stores) => stores,
        None => open_stores(config, keys.current())?,
    };
    let recordings = config.recordings_dir();
    let recorder = crate::recording::Recorder::new(crate::recording::RecorderConfig {
        dir: recordings.clone(),
        udp_ip: config.media_ip,
        quota_bytes: config.recording_quota_bytes,
        keyframe_interval: config.keyframe_interval,
    })
    .map_err(|source| StartError::DataDir {
        path: recordings,
        source,
    })?;
    let shutdown = CancellationToken::new();
    recorder.jobs().stop_on(shutdown.clone());
    let tracker = TaskTracker::new();
    let app = App::new(
        config,
        catalog,
        ledger,
        recorder,
        keys,
        organiser_token,
        public_url,
        shutdown.clone(),
        tracker.clone(),
        turn,
    );
    if let Some(status) = app.turn_status().cloned() {
        app.readiness().register("turn", move || {
            if status.listening() {
                Ok(())
            } else {
                Err(
                    "the embedded TURN server is not listening: people behind firewalls that \
                     block UDP cannot connect"
                        .to_owned(),
                )
            }
        });
    }
    Ok(Opened {
        app,
        organiser_token_created,
        shutdown,
        tracker,
    })
}

fn open_data_dir(dir: &std::path::Path) -> Result<(), StartError> {
    let err = |source| StartError::DataDir {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    Ok(())
}
