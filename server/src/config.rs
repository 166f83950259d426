//! Server settings. Every field has a default that works on a fresh machine
//! (`cadre demo`); the CLI maps flags and environment variables onto it.

use cadre_protocol::signalling::{IcePolicy, IceServer};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Holds the SQLite file, the signing key and the organiser token.
    pub data_dir: PathBuf,
    /// The PostgreSQL database several nodes share, instead of the SQLite
    /// files in `data_dir` (which still holds the keys and recordings).
    pub database: Option<SharedDatabase>,
    /// Address to listen on; port 0 picks a free one (tests, demo).
    pub bind: SocketAddr,
    /// Base of the join links (`{public_url}/j/{token}`); defaults to
    /// `http://{bound address}` once bound.
    pub public_url: Option<String>,
    /// Organiser bearer token; generated into the data directory when absent.
    pub organiser_token: Option<String>,
    /// How long before the planned start a link opens the session.
    pub link_lead: Duration,
    /// How long after the planned end a link still works.
    pub link_grace: Duration,
    /// ICE servers handed to clients.
    pub ice_servers: Vec<IceServer>,
    /// Which candidates clients keep (`loopback` only for test rigs).
    pub ice_policy: IcePolicy,
    /// Ping and heartbeat period; a connection silent for three is dropped.
    pub heartbeat_interval: Duration,
    /// How long a closing connection waits for the client's close frame
    /// (RFC 6455's closing handshake) before it drops the socket anyway.
    pub close_grace: Duration,
    /// Sustained messages per second allowed per connection.
    pub rate_per_second: u32,
    /// Burst allowed above the sustained rate.
    pub rate_burst: u32,
    /// Messages queued towards one connection before it counts as too slow.
    pub outbound_queue: usize,
    /// Connections accepted at once, across all sessions.
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 /64);
    /// 0: no limit (behind a reverse proxy every client has its address).
    pub per_address_connections: usize,
    /// Sustained WebSocket upgrade attempts per second from one address,
    /// whatever their token; 0: no limit.
    pub per_address_admissions_per_second: u32,
    /// Attempts allowed at once above that rate.
    pub per_address_admission_burst: u32,
    /// Where recordings are written (default `{data_dir}/recordings`).
    pub recordings_dir: Option<PathBuf>,
    /// Address the server's WebRTC connections (the recorder's, and the
    /// forwarding's) bind, one UDP port each:
    /// an address browsers can reach. Loopback by default, which suits a
    /// demo on one machine; a deployment sets its public address.
    pub media_ip: IpAddr,
    /// How sessions' media travels unless a session chose (`auto`: peer to
    /// peer for two, through the server from the third).
    pub media_mode: cadre_protocol::session::MediaMode,
    /// Most people connected at once to a session whose media is
    /// forwarded; the next is refused in the lobby.
    pub forwarded_members: usize,
    /// Most streams (a published track sent to one subscriber) the server
    /// forwards at once, across sessions; a publication beyond it is
    /// refused. Default: 1,500 per core (a session of 30 with every
    /// camera and microphone on is 1,740).
    pub forwarded_streams: usize,
    /// Most bytes the recordings may take; reaching it stops recording as
    /// a full disk would. None: only the disk's own limit.
    pub recording_quota_bytes: Option<u64>,
    /// How long recordings are kept before they are deleted (the deletion
    /// is recorded in the ledger).
    pub recording_retention: Duration,
    /// How often the video recorder asks for a keyframe.
    pub keyframe_interval: Duration,
    /// Connection quality thresholds, alert rules and the optional
    /// automatic suspension (see `docs/quality.md`).
    pub quality: crate::live::quality::QualityConfig,
    /// RFC 3161 anchoring: the TSA, the period, the retry delay. Off
    /// without a TSA URL.
    pub anchoring: crate::evidence::anchoring::AnchorConfig,
    // -- What people see: the page's language and the lobby's
    // evidence notice.
    /// The interface language when the person chose none (`fr` or `en`).
    pub default_lang: cadre_protocol::api::UiLang,
    /// Years the evidence (ledger, proofs) is kept, as the lobby's notice
    /// states it; funders ask three years from the end of the action.
    pub evidence_kept_years: u32,
    /// Where people write to exercise their rights over the data (an
    /// address or a sentence); without it the notice says to write to
    /// the organisation.
    pub privacy_contact: Option<String>,
    // -- Operations: metrics and health.
    /// Address of a listener that serves `/metrics` alone (for a
    /// Prometheus on a private network); none: no such listener.
    pub metrics_bind: Option<SocketAddr>,
    /// Bearer token that opens `/metrics` on the main address; none:
    /// `/metrics` is not served there.
    pub metrics_token: Option<String>,
    /// `/readyz` fails when the data directory's disk has less free space
    /// than this (MiB).
    pub min_free_disk_mb: u64,
    // -- TLS and reverse proxies (docs/operations.md, "TLS" and "Behind a
    // reverse proxy").
    /// Serve HTTPS and WSS from these certificate and key files; plain
    /// HTTP without them.
    pub tls: Option<crate::tls::TlsFiles>,
    /// How often the signing key set's state file is looked at (a
    /// rotation made on disk reaches the running server; SIGHUP too).
    pub keys_reload_interval: Duration,
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: crate::proxy::TrustedProxies,
    // -- TURN (docs/operations.md, "TURN").
    /// The embedded TURN server; none: no embedded server (tests and the
    /// demo unless they ask; `cadre serve` turns it on unless `--no-turn`).
    pub turn: Option<crate::turn::EmbeddedTurn>,
    /// Shared secret of the time-limited TURN credentials (coturn's
    /// `static-auth-secret`); generated into the data directory when the
    /// embedded server runs without one.
    pub turn_secret: Option<String>,
    /// TURN URLs people get credentials for besides the embedded
    /// server's own: an external coturn's, or `turns:` on 443.
    pub turn_urls: Vec<String>,
    /// Host named in the embedded server's URLs (default: the public URL's
    /// host).
    pub turn_public_host: Option<String>,
    /// How long a minted TURN credential is valid; connections are sent
    /// fresh ones before it ends.
    pub turn_credential_validity: Duration,
    // -- Mail (docs/operations.md, "Mail").
    /// How invitations and reminders are sent; none: no mail (the API
    /// says so rather than queue what nobody sends).
    pub mail: Option<crate::mail::MailSettings>,
}

impl Config {
    /// Defaults for a server keeping its files in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            database: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            organiser_token: None,
            link_lead: Duration::from_secs(30 * 60),
            link_grace: Duration::from_secs(60 * 60),
            ice_servers: Vec::new(),
            ice_policy: IcePolicy::All,
            heartbeat_interval: Duration::from_secs(10),
            close_grace: Duration::from_secs(1),
            rate_per_second: 50,
            rate_burst: 200,
            outbound_queue: 256,
            max_connections: 20_000,
            per_address_connections: 200,
            per_address_admissions_per_second: 10,
            per_address_admission_burst: 60,
            recordings_dir: None,
            media_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            media_mode: cadre_protocol::session::MediaMode::Auto,
            forwarded_members: 30,
            forwarded_streams: default_forwarded_streams(),
            recording_quota_bytes: None,
            recording_retention: Duration::from_secs(30 * 24 * 3600),
            keyframe_interval: Duration::from_secs(3),
            quality: crate::live::quality::QualityConfig::default(),
            anchoring: crate::evidence::anchoring::AnchorConfig::default(),
            default_lang: cadre_protocol::api::UiLang::Fr,
            evidence_kept_years: 3,
            privacy_contact: None,
            metrics_bind: None,
            metrics_token: None,
            min_free_disk_mb: 500,
            tls: None,
            keys_reload_interval: Duration::from_secs(60),
            trusted_proxies: crate::proxy::TrustedProxies::default(),
            turn: None,
            turn_secret: None,
            turn_urls: Vec::new(),
            turn_public_host: None,
            turn_credential_validity: Duration::from_secs(2 * 3600),
            mail: None,
        }
    }
}

/// A PostgreSQL database shared by several nodes (issue 17).
#[derive(Clone)]
pub struct SharedDatabase {
    /// libpq-style URL (`postgres://user:password@host/db`).
    pub url: String,
    /// This node's name, unique among the nodes sharing the database.
    pub node: String,
    /// How long this node's lease on a session lasts unless renewed: a
    /// node that dies holds its sessions this long at most.
    pub lease_ttl: Duration,
}

impl std::fmt::Debug for SharedDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may hold a password.
        f.debug_struct("SharedDatabase")
            .field("node", &self.node)
            .field("lease_ttl", &self.lease_ttl)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Where recordings go.
    pub fn recordings_dir(&self) -> PathBuf {
        self.recordings_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("recordings"))
    }
}

/// 1,500 forwarded streams per core this process may run on: a 30-person
/// session with every camera on (1,740 streams) measured at 93 % of one
/// core (BENCHMARKS.md, forwarding run 2).
pub fn default_forwarded_streams() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 1_500
}
