//! `cadre`: the command line. `demo` and `serve` run the server; `session`
//! manages the catalogue directly in the data directory (safe while a server
//! runs on it: SQLite in WAL mode).

use anyhow::{Context, bail};
use cadre_protocol::api::{NewPerson, NewSession, SessionView};
use cadre_protocol::signalling::{IcePolicy, IceServer};
use cadre_protocol::{Role, SessionKind};
use cadre_server::{Config, Server};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

// `cadre organisation …` and `cadre action …`.
mod actions_cli;
// `cadre keys …`: the signing key set and its rotation.
mod keys_cli;
// `cadre config check`, `cadre backup`, `cadre restore`, and the
// configuration file under `serve` and `demo`.
mod ops_cli;
mod questionnaires_cli;
// `cadre staff …`: staff accounts for the console.
mod staff_cli;

#[derive(Parser)]
#[command(
    name = "cadre",
    version,
    about = "Distance sessions that hold the frame: join by link, attendance evidence, consent"
)]
struct Cli {
    /// Where the database, keys and organiser token live.
    #[arg(
        long,
        global = true,
        env = "CADRE_DATA_DIR",
        default_value = "cadre-data"
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server with a demo session (now → +3 h) and print its links.
    Demo {
        #[command(flatten)]
        server: ServeArgs,
        /// Print one JSON line (url, organiser token, session) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the server.
    Serve {
        #[command(flatten)]
        server: ServeArgs,
        /// Print one JSON line (url, organiser token) once listening.
        #[arg(long)]
        json_ready: bool,
    },
    /// Manage sessions and links.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Check a proof or a ledger export offline, with the published keys.
    Verify(cadre_server::evidence::verify::VerifyArgs),
    /// Difficulty reports: list, answer in writing, close, export.
    #[command(subcommand)]
    Report(ReportCommand),
    /// The organisation's identity printed on certificates.
    #[command(subcommand)]
    Organisation(actions_cli::OrganisationCommand),
    /// Actions: beneficiaries, sessions, article 2.1.7 changes, certificates.
    #[command(subcommand)]
    Action(actions_cli::ActionCommand),
    /// Appreciation questionnaires: define, attach, read the aggregates.
    #[command(subcommand)]
    Questionnaire(questionnaires_cli::QuestionnaireCommand),
    // -- The configuration file, backups (docs/operations.md).
    /// The configuration file: check it and print the effective settings.
    #[command(subcommand)]
    Config(ops_cli::ConfigCommand),
    /// Copy the catalogue, the ledger and the keys into DEST (a new
    /// directory) while the server runs.
    Backup(ops_cli::BackupArgs),
    /// Put a backup back into an empty data directory (`--data-dir`).
    Restore(ops_cli::RestoreArgs),
    /// Create or bring up to date cadre's tables in a PostgreSQL database
    /// (the catalogue's, the ledger's and the session leases'), as their
    /// owner; with `--app-role`, leave the role nodes connect as SELECT and
    /// INSERT only on the evidence.
    Migrate(ops_cli::MigrateArgs),
    /// Copy the data directory's catalogue and ledger (SQLite) into an
    /// empty PostgreSQL database `cadre migrate` prepared, checking every
    /// session's log read back before committing; stop the server first.
    Import(ops_cli::ImportArgs),
    /// Staff accounts of the console: the first administrator, list,
    /// reset a password, disable.
    #[command(subcommand)]
    Staff(staff_cli::StaffCommand),
    /// Signing keys: list, and rotate in two phases (add, then once every
    /// node publishes it, activate).
    #[command(subcommand)]
    Keys(keys_cli::KeysCommand),
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// A TOML file setting any of these flags under the same names
    /// (`public-url = "…"`); the command line and the environment win over it.
    #[arg(long, env = "CADRE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on (port 0: any free port).
    #[arg(long, env = "CADRE_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Base URL of join links, as people reach this server.
    #[arg(long, env = "CADRE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Organiser API token (default: generated into the data directory).
    #[arg(long, env = "CADRE_ORGANISER_TOKEN", hide_env_values = true)]
    organiser_token: Option<String>,
    /// STUN/TURN server for clients, `URL` or `URL,username,credential` (repeatable).
    #[arg(long = "ice-server", env = "CADRE_ICE_SERVERS", value_delimiter = ' ')]
    ice_servers: Vec<String>,
    /// Which ICE candidates clients keep (`loopback` only for test rigs;
    /// `relay`: TURN relays only).
    #[arg(long, env = "CADRE_ICE_POLICY", value_enum, default_value = "all")]
    ice_policy: IcePolicyArg,
    /// Minutes before the planned start that links open.
    #[arg(long, env = "CADRE_LINK_LEAD_MINUTES", default_value_t = 30)]
    link_lead_minutes: u64,
    /// Minutes after the planned end that links still work.
    #[arg(long, env = "CADRE_LINK_GRACE_MINUTES", default_value_t = 60)]
    link_grace_minutes: u64,
    /// Heartbeat period in milliseconds (silence for three periods drops a connection).
    #[arg(long, env = "CADRE_HEARTBEAT_MS", default_value_t = 10_000)]
    heartbeat_ms: u64,
    /// Sustained messages per second per connection.
    #[arg(long, env = "CADRE_RATE_PER_SECOND", default_value_t = 50)]
    rate_per_second: u32,
    /// Burst of messages above the sustained rate.
    #[arg(long, env = "CADRE_RATE_BURST", default_value_t = 200)]
    rate_burst: u32,
    /// Messages queued towards one connection before it is dropped as too slow.
    #[arg(long, env = "CADRE_OUTBOUND_QUEUE", default_value_t = 256)]
    outbound_queue: usize,
    /// Connections accepted at once.
    #[arg(long, env = "CADRE_MAX_CONNECTIONS", default_value_t = 20_000)]
    max_connections: usize,
    /// Connections open at once from one client address (IPv6: per /64);
    /// 0 for no limit (behind a reverse proxy, which all clients share).
    #[arg(long, env = "CADRE_PER_ADDRESS_CONNECTIONS", default_value_t = 200)]
    per_address_connections: usize,
    /// Sustained WebSocket upgrade attempts per second from one address
    /// (0 for no limit).
    #[arg(
        long,
        env = "CADRE_PER_ADDRESS_ADMISSIONS_PER_SECOND",
        default_value_t = 10
    )]
    per_address_admissions_per_second: u32,
    /// Upgrade attempts from one address allowed at once above that rate.
    #[arg(long, env = "CADRE_PER_ADDRESS_ADMISSION_BURST", default_value_t = 60)]
    per_address_admission_burst: u32,
    /// Address the server's WebRTC connections (recorder, forwarding)
    /// bind: one browsers can reach (the server's public address in a
    /// deployment).
    #[arg(long, env = "CADRE_MEDIA_IP", default_value = "127.0.0.1")]
    media_ip: std::net::IpAddr,
    /// How media travels in sessions that did not choose: auto (peer to
    /// peer for two people, through the server from the third), peer, or
    /// forwarded.
    #[arg(long, env = "CADRE_MEDIA_MODE", default_value = "auto")]
    media_mode: cadre_protocol::session::MediaMode,
    /// Most people connected at once to a forwarded session.
    #[arg(long, env = "CADRE_FORWARDED_MEMBERS", default_value_t = 30)]
    forwarded_members: usize,
    /// Most streams (one published track sent to one person) the server
    /// forwards at once across sessions; a camera and microphone beyond it
    /// are refused. Default: 1,500 per core.
    #[arg(long, env = "CADRE_FORWARDED_STREAMS")]
    forwarded_streams: Option<usize>,
    /// Where recordings are written (default: `recordings` in the data
    /// directory).
    #[arg(long, env = "CADRE_RECORDINGS_DIR")]
    recordings_dir: Option<PathBuf>,
    /// Most megabytes recordings may take; reaching it stops recording as
    /// a full disk would.
    #[arg(long, env = "CADRE_RECORDING_QUOTA_MB")]
    recording_quota_mb: Option<u64>,
    /// Days recordings are kept before they are deleted (the deletion is
    /// recorded in the ledger).
    #[arg(long, env = "CADRE_RECORDING_RETENTION_DAYS", default_value_t = 30)]
    recording_retention_days: u64,
    /// Suspend a session automatically when an alert rule holds (off by
    /// default: the facilitator decides).
    #[arg(long, env = "CADRE_AUTO_SUSPEND")]
    auto_suspend: bool,
    /// Quality thresholds and alert rules (TOML; see docs/quality.md).
    #[arg(long, env = "CADRE_QUALITY_CONFIG")]
    quality_config: Option<PathBuf>,
    /// RFC 3161 time-stamping authority (`http://…`) that anchors the
    /// ledger's tree heads; anchoring is off without it (docs/operations.md).
    #[arg(long, env = "CADRE_TSA_URL")]
    tsa_url: Option<String>,
    /// Minutes between anchoring passes (each anchors the logs that grew);
    /// every session is also anchored when it ends.
    #[arg(long, env = "CADRE_ANCHOR_PERIOD_MINUTES", default_value_t = 10)]
    anchor_period_minutes: u64,
    // -- What people see.
    /// Interface language for people who chose none (`fr` or `en`).
    #[arg(long = "lang", env = "CADRE_LANG", default_value = "fr")]
    lang: cadre_protocol::api::UiLang,
    /// Years the evidence is kept, as the lobby's notice tells people
    /// (funders ask three years after the action; more with EU funding).
    #[arg(long, env = "CADRE_EVIDENCE_KEPT_YEARS", default_value_t = 3)]
    evidence_kept_years: u32,
    /// Where people write to see, correct or erase their data (an e-mail
    /// address or a short sentence), shown in the lobby's notice.
    #[arg(long, env = "CADRE_PRIVACY_CONTACT")]
    privacy_contact: Option<String>,
    // -- Several nodes (docs/operations.md, "Several nodes on PostgreSQL").
    /// A PostgreSQL database (`postgres://user:password@host/db`, prepared
    /// by `cadre migrate`) holding the catalogue and the ledger, shared by
    /// several nodes; default: the SQLite files in the data directory.
    #[arg(long, env = "CADRE_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// This node's name among those sharing the database (default: the
    /// host's name); two nodes never share one.
    #[arg(long, env = "CADRE_NODE")]
    node: Option<String>,
    /// Seconds a node's lease on a session lasts unless renewed (every
    /// third of it): a node that dies holds its sessions this long at most.
    #[arg(long, env = "CADRE_LEASE_SECONDS", default_value_t = 15)]
    lease_seconds: u64,
    // -- Operations: metrics, logs, health (docs/operations.md).
    /// Serve `/metrics` (Prometheus) on this address alone, e.g. a private
    /// interface; without it or --metrics-token, `/metrics` is not served.
    #[arg(long, env = "CADRE_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// Serve `/metrics` on the main address to requests carrying
    /// `Authorization: Bearer TOKEN`.
    #[arg(long, env = "CADRE_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Log lines as human text (default) or as JSON, one object a line.
    #[arg(long, env = "CADRE_LOG_FORMAT", value_enum, default_value = "human")]
    log_format: cadre_server::logging::LogFormat,
    /// `/readyz` answers 503 when the data directory's disk has less free
    /// space than this (MiB).
    #[arg(long, env = "CADRE_MIN_FREE_DISK_MB", default_value_t = 500)]
    min_free_disk_mb: u64,
    // -- TLS and reverse proxies (docs/operations.md).
    /// Serve HTTPS and WSS with this certificate (PEM: the server's
    /// certificate, then its intermediates); reloaded when it changes and
    /// on SIGHUP.
    #[arg(long, env = "CADRE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "CADRE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seconds between looks at the certificate and key files.
    #[arg(long, env = "CADRE_TLS_RELOAD_SECONDS", default_value_t = 5)]
    tls_reload_seconds: u64,
    /// Seconds between looks at the signing key set's state file (a
    /// rotation made with `cadre keys`; SIGHUP reloads it at once).
    #[arg(long, env = "CADRE_KEYS_RELOAD_SECONDS", default_value_t = 60)]
    keys_reload_seconds: u64,
    /// A reverse proxy whose `X-Forwarded-For` and `X-Forwarded-Proto` are
    /// believed: an address or a range (`10.0.0.0/8`); repeatable.
    #[arg(
        long = "trusted-proxy",
        env = "CADRE_TRUSTED_PROXIES",
        value_delimiter = ' '
    )]
    trusted_proxies: Vec<String>,
    // -- TURN (docs/operations.md, "TURN").
    /// Turn the embedded TURN server off (with an external coturn, or none).
    #[arg(long, env = "CADRE_NO_TURN")]
    no_turn: bool,
    /// The embedded TURN server's UDP address (default 0.0.0.0:3478; a
    /// free loopback port when --bind is loopback).
    #[arg(long, env = "CADRE_TURN_UDP")]
    turn_udp: Option<SocketAddr>,
    /// The embedded TURN server's TCP address, for networks that block UDP
    /// (default 0.0.0.0:3478; a free loopback port when --bind is loopback).
    #[arg(long, env = "CADRE_TURN_TCP")]
    turn_tcp: Option<SocketAddr>,
    /// No TCP listener for the embedded TURN server.
    #[arg(long, env = "CADRE_NO_TURN_TCP")]
    no_turn_tcp: bool,
    /// The public IPv4 address relayed candidates carry (default: the UDP
    /// address unless a wildcard, else --media-ip).
    #[arg(long, env = "CADRE_TURN_PUBLIC_IP")]
    turn_public_ip: Option<std::net::IpAddr>,
    /// Host named in the embedded server's turn: URLs (default: the public
    /// URL's host).
    #[arg(long, env = "CADRE_TURN_PUBLIC_HOST")]
    turn_public_host: Option<String>,
    /// The TURN realm.
    #[arg(long, env = "CADRE_TURN_REALM", default_value = "cadre")]
    turn_realm: String,
    /// UDP ports relays take, `MIN-MAX` (open them in the firewall).
    #[arg(long, env = "CADRE_TURN_RELAY_PORTS", default_value = "49152-65535")]
    turn_relay_ports: String,
    /// Let relays reach loopback and private addresses (test rigs only).
    #[arg(long, env = "CADRE_TURN_ALLOW_PRIVATE_PEERS")]
    turn_allow_private_peers: bool,
    /// Shared secret of the TURN credentials (coturn's static-auth-secret);
    /// default: generated into the data directory (`turn-secret`).
    #[arg(long, env = "CADRE_TURN_SECRET", hide_env_values = true)]
    turn_secret: Option<String>,
    /// A TURN URL people get credentials for (repeatable): an external
    /// coturn's `turn:`/`turns:` URLs, or `turns:` on 443.
    #[arg(long = "turn-url", env = "CADRE_TURN_URLS", value_delimiter = ' ')]
    turn_urls: Vec<String>,
    /// Minutes a TURN credential is valid; connections get fresh ones before.
    #[arg(long, env = "CADRE_TURN_CREDENTIAL_MINUTES", default_value_t = 120)]
    turn_credential_minutes: u64,
    // -- Mail (docs/operations.md, "Mail").
    /// SMTP server invitations and reminders go through:
    /// `smtp://host:25`, `smtps://host:465`, or `smtp://host:587?tls=required`
    /// for STARTTLS; no mail without it.
    #[arg(long, env = "CADRE_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// SMTP user (or in the URL).
    #[arg(long, env = "CADRE_SMTP_USER", requires = "smtp_password")]
    smtp_user: Option<String>,
    /// SMTP password (or in the URL).
    #[arg(
        long,
        env = "CADRE_SMTP_PASSWORD",
        hide_env_values = true,
        requires = "smtp_user"
    )]
    smtp_password: Option<String>,
    /// The sender of the mails, `Organisme <noreply@example.org>`.
    #[arg(long, env = "CADRE_MAIL_FROM")]
    mail_from: Option<String>,
    /// When reminders go before a session, e.g. `24h,1h` (`none`: no
    /// reminder before sessions).
    #[arg(long, env = "CADRE_MAIL_REMINDERS", default_value = "24h,1h")]
    mail_reminders: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum IcePolicyArg {
    All,
    Loopback,
    Relay,
}

#[derive(Subcommand)]
enum SessionCommand {
    /// Create a session from flags or from a TOML/JSON file.
    Create(CreateArgs),
    /// List sessions.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Print each person's join link.
    Links {
        /// Session id.
        session: String,
        /// Base URL of the links (default: the URL the server last used).
        #[arg(long, env = "CADRE_PUBLIC_URL")]
        public_url: Option<String>,
        /// JSON output (the whole session).
        #[arg(long)]
        json: bool,
    },
    /// Mint a read-only report link for the session's sponsor (aggregates;
    /// names only of participants who consented).
    SponsorLink {
        /// Session id.
        session: String,
        /// Days the link stays valid.
        #[arg(long, default_value_t = cadre_server::app::sponsor::DEFAULT_VALID_DAYS)]
        days: u32,
        /// Base URL of the link (default: the URL the server last used).
        #[arg(long, env = "CADRE_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Revoke a person's link (new connections are refused; use the REST
    /// API to also close a live connection at once).
    Revoke {
        /// Session id.
        session: String,
        /// Person id.
        person: String,
    },
    /// Let a removed or revoked person back in: their same link works
    /// again (recorded in the ledger).
    Readmit {
        /// Session id.
        session: String,
        /// Person id.
        person: String,
    },
    /// Queue invitations by e-mail (each person's link, the dates, the
    /// `.ics`); the running server sends them. Needs a server with
    /// --smtp-url on this data directory.
    Invite {
        /// Session id.
        session: String,
        /// Only this person (repeatable; default: everyone in the session).
        #[arg(long)]
        person: Vec<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// The session's mails: to whom, why, sent, pending or failed, and why.
    Mails {
        /// Session id.
        session: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct CreateArgs {
    /// A TOML or JSON file with the session (fields as in the REST API).
    #[arg(long, conflicts_with_all = ["title", "kind", "start", "end"])]
    file: Option<PathBuf>,
    /// Title.
    #[arg(long, required_unless_present = "file")]
    title: Option<String>,
    /// formation | bilan | vae | coaching | gapp | intervention.
    #[arg(long, required_unless_present = "file")]
    kind: Option<SessionKind>,
    /// The organisation running the session.
    #[arg(long, required_unless_present = "file")]
    organisation: Option<String>,
    /// Planned start: RFC 3339 or local `2026-12-03T09:00` in --time-zone.
    #[arg(long, required_unless_present = "file")]
    start: Option<String>,
    /// Planned end, same forms.
    #[arg(long, required_unless_present = "file")]
    end: Option<String>,
    /// IANA time zone.
    #[arg(long, default_value = "Europe/Paris")]
    time_zone: String,
    /// Sponsoring organisation, if any.
    #[arg(long)]
    sponsor: Option<String>,
    /// How the session's media travels: auto (peer to peer for two people,
    /// through the server from the third), peer, or forwarded (default:
    /// the server's `--media-mode`).
    #[arg(long)]
    media: Option<cadre_protocol::session::MediaMode>,
    /// Facilitator, `Name` or `Name <email>` (repeatable).
    #[arg(long)]
    facilitator: Vec<String>,
    /// Participant, `Name` or `Name <email>` (repeatable).
    #[arg(long)]
    participant: Vec<String>,
    /// Base URL of the printed links.
    #[arg(long, env = "CADRE_PUBLIC_URL")]
    public_url: Option<String>,
    /// JSON output.
    #[arg(long)]
    json: bool,
}

/// Prints a line on stdout if it can (see [`cadre_server::logging::print_out`]).
macro_rules! say {
    ($($arg:tt)*) => { cadre_server::logging::print_out(format_args!($($arg)*)) };
}

/// Prints a line on stderr if it can.
macro_rules! say_err {
    ($($arg:tt)*) => { cadre_server::logging::print_err(format_args!($($arg)*)) };
}

/// See the workspace's `Cargo.toml` for why.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // The configuration file's values are flags like the others: the log
    // format may come from it.
    let cli = ops_cli::parse();
    // Logs are lossy and never fail the caller: stderr on a full disk must
    // not take the ledger writer (or anything else) down.
    let log_format = match &cli.command {
        Command::Demo { server, .. } | Command::Serve { server, .. } => server.log_format,
        _ => cadre_server::logging::LogFormat::Human,
    };
    let _logs = cadre_server::logging::init(log_format);
    let result = match cli.command {
        Command::Demo { server, json } => demo(&cli.data_dir, server, json)
            .await
            .map_err(ops_cli::explain),
        Command::Serve { server, json_ready } => serve(&cli.data_dir, server, json_ready)
            .await
            .map_err(ops_cli::explain),
        Command::Session(cmd) => session_command(&cli.data_dir, cmd).await,
        Command::Report(cmd) => report_command(&cli.data_dir, cmd).await,
        Command::Organisation(cmd) => match offline_or_init(&cli.data_dir, None).await {
            Ok(off) => actions_cli::organisation(&off.app, cmd).await,
            Err(e) => Err(e),
        },
        Command::Action(cmd) => match offline(&cli.data_dir, None).await {
            Ok(off) => actions_cli::action(&off.app, cmd).await,
            Err(e) => Err(e),
        },
        Command::Questionnaire(cmd) => match offline(&cli.data_dir, None).await {
            Ok(off) => questionnaires_cli::questionnaire(&off.app, cmd).await,
            Err(e) => Err(e),
        },
        Command::Config(cmd) => ops_cli::config_command(cmd),
        Command::Backup(args) => ops_cli::backup(&cli.data_dir, args).await,
        Command::Restore(args) => ops_cli::restore(&cli.data_dir, args).await,
        Command::Migrate(args) => ops_cli::migrate(args).await,
        Command::Import(args) => ops_cli::import(&cli.data_dir, args).await,
        Command::Staff(cmd) => {
            // Argon2 and SQLite block: off the runtime's threads.
            let data_dir = cli.data_dir.clone();
            tokio::task::spawn_blocking(move || staff_cli::staff_command(&data_dir, cmd))
                .await
                .map_err(anyhow::Error::from)
                .and_then(|r| r)
        }
        Command::Keys(cmd) => keys_cli::keys_command(&cli.data_dir, cmd),
        Command::Verify(args) => {
            // Offline work, with its own exit codes (0 verified, else failed).
            match tokio::task::spawn_blocking(move || cadre_server::evidence::verify::run(args))
                .await
            {
                Ok(code) => std::process::exit(code),
                Err(e) => Err(e.into()),
            }
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if log_format == cadre_server::logging::LogFormat::Json {
                // One more JSON line, so that whatever reads the log
                // parses the reason too.
                tracing::error!("{e:#}");
            } else {
                say_err!("Error: {e:?}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn config(data_dir: &Path, args: &ServeArgs) -> anyhow::Result<Config> {
    let mut config = Config::new(data_dir);
    config.bind = args.bind;
    config.public_url = args.public_url.clone();
    config.organiser_token = args.organiser_token.clone();
    config.ice_servers = args
        .ice_servers
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_ice_server(s))
        .collect::<anyhow::Result<_>>()?;
    config.ice_policy = match args.ice_policy {
        IcePolicyArg::All => IcePolicy::All,
        IcePolicyArg::Loopback => IcePolicy::Loopback,
        IcePolicyArg::Relay => IcePolicy::Relay,
    };
    config.link_lead = Duration::from_secs(args.link_lead_minutes * 60);
    config.link_grace = Duration::from_secs(args.link_grace_minutes * 60);
    if args.heartbeat_ms < 100 {
        bail!("--heartbeat-ms must be at least 100");
    }
    config.heartbeat_interval = Duration::from_millis(args.heartbeat_ms);
    if args.rate_per_second == 0 || args.rate_burst == 0 {
        bail!("--rate-per-second and --rate-burst must be positive");
    }
    config.rate_per_second = args.rate_per_second;
    config.rate_burst = args.rate_burst;
    config.outbound_queue = args.outbound_queue.max(1);
    config.max_connections = args.max_connections;
    config.per_address_connections = args.per_address_connections;
    if args.per_address_admissions_per_second > 0 && args.per_address_admission_burst == 0 {
        bail!(
            "--per-address-admission-burst must be positive when \
             --per-address-admissions-per-second is (0 switches the limit off)"
        );
    }
    config.per_address_admissions_per_second = args.per_address_admissions_per_second;
    config.per_address_admission_burst = args.per_address_admission_burst;
    config.media_ip = args.media_ip;
    config.media_mode = args.media_mode;
    if args.forwarded_members < 2 {
        bail!("--forwarded-members must be at least 2");
    }
    config.forwarded_members = args.forwarded_members;
    if let Some(streams) = args.forwarded_streams {
        if streams < 2 {
            bail!(
                "--forwarded-streams must be at least 2 (one person's camera and microphone to one other)"
            );
        }
        config.forwarded_streams = streams;
    }
    config.recordings_dir = args.recordings_dir.clone();
    config.recording_quota_bytes = args.recording_quota_mb.map(|mb| mb.saturating_mul(1 << 20));
    if args.recording_retention_days == 0 {
        bail!("--recording-retention-days must be at least 1");
    }
    config.recording_retention = Duration::from_secs(args.recording_retention_days * 86_400);
    if let Some(path) = &args.quality_config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: cadre_server::live::quality::QualityFile =
            toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        config.quality = file
            .apply(config.quality.clone())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    if args.auto_suspend {
        config.quality.auto_suspend = true;
    }
    if let Some(url) = args
        .tsa_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        // The token is signed by the TSA, so the channel needs no TLS; most
        // TSAs answer over plain HTTP, and this build carries no TLS client.
        if !url.starts_with("http://") {
            bail!(
                "--tsa-url {url:?}: expected an http:// URL (the TSA's token is signed, TLS adds nothing)"
            );
        }
        if args.anchor_period_minutes == 0 {
            bail!("--anchor-period-minutes must be at least 1");
        }
        config.anchoring.tsa_url = Some(url.to_owned());
        config.anchoring.period = Duration::from_secs(args.anchor_period_minutes * 60);
    }
    config.default_lang = args.lang;
    if args.evidence_kept_years == 0 {
        bail!("--evidence-kept-years must be at least 1 (funders ask three)");
    }
    config.evidence_kept_years = args.evidence_kept_years;
    config.privacy_contact = args
        .privacy_contact
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    config.database = match args.database.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(url) => {
            if args.lease_seconds < 3 {
                bail!(
                    "--lease-seconds must be at least 3 (the lease is renewed every third of it)"
                );
            }
            let node = match args.node.as_deref().map(str::trim) {
                Some(n) if !n.is_empty() => n.to_owned(),
                _ => rustix::system::uname()
                    .nodename()
                    .to_string_lossy()
                    .into_owned(),
            };
            if node.is_empty() || node.len() > 64 || node.chars().any(char::is_control) {
                bail!("--node: a name of 1 to 64 printable characters, unique among the nodes");
            }
            Some(cadre_server::config::SharedDatabase {
                url: url.to_owned(),
                node,
                lease_ttl: Duration::from_secs(args.lease_seconds),
            })
        }
    };
    config.metrics_bind = args.metrics_bind;
    config.metrics_token = match args.metrics_token.as_deref().map(str::trim) {
        None => None,
        // A token short enough to guess would leave the metrics open.
        Some(t) if t.len() < 16 => {
            bail!("--metrics-token must be at least 16 characters (a random string)")
        }
        Some(t) => Some(t.to_owned()),
    };
    config.min_free_disk_mb = args.min_free_disk_mb;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        if args.tls_reload_seconds == 0 {
            bail!("--tls-reload-seconds must be at least 1");
        }
        config.tls = Some(cadre_server::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            reload_interval: Duration::from_secs(args.tls_reload_seconds),
        });
    }
    if args.keys_reload_seconds == 0 {
        bail!("--keys-reload-seconds must be at least 1");
    }
    config.keys_reload_interval = Duration::from_secs(args.keys_reload_seconds);
    config.trusted_proxies = cadre_server::proxy::TrustedProxies::new(
        args.trusted_proxies
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|e| anyhow::anyhow!("--trusted-proxy: {e}"))
            })
            .collect::<anyhow::Result<_>>()?,
    );
    turn_config(&mut config, args)?;
    mail_config(&mut config, args)?;
    Ok(config)
}

/// The mail flags onto `config`.
fn mail_config(config: &mut Config, args: &ServeArgs) -> anyhow::Result<()> {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (url, from) = match (given(&args.smtp_url), given(&args.mail_from)) {
        (None, None) => {
            if given(&args.smtp_user).is_some() {
                bail!("--smtp-user without --smtp-url: which server is it for?");
            }
            return Ok(());
        }
        (Some(_), None) => bail!(
            "--smtp-url needs --mail-from, the sender people see (`Organisme <noreply@example.org>`)"
        ),
        (None, Some(_)) => bail!("--mail-from needs --smtp-url, the server mail goes through"),
        (Some(url), Some(from)) => (url, from),
    };
    let mut mail = cadre_server::mail::MailSettings::new(url, from);
    mail.user = given(&args.smtp_user);
    mail.password = args.smtp_password.clone().filter(|p| !p.is_empty());
    mail.reminders = parse_reminders(&args.mail_reminders)?;
    mail.check()?;
    config.mail = Some(mail);
    Ok(())
}

/// `24h,1h,30m` (or `none`).
fn parse_reminders(text: &str) -> anyhow::Result<Vec<Duration>> {
    let text = text.trim();
    if text.is_empty() || text == "none" {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|part| {
            let part = part.trim();
            let (n, unit) = part.split_at(part.len().saturating_sub(1));
            let n: u64 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                anyhow::anyhow!(
                    "--mail-reminders {text:?}: {part:?} is not a delay like 24h or 30m"
                )
            })?;
            match unit {
                "h" => Ok(Duration::from_secs(n * 3600)),
                "m" => Ok(Duration::from_secs(n * 60)),
                "d" => Ok(Duration::from_secs(n * 86_400)),
                _ => bail!("--mail-reminders {text:?}: {part:?} is not a delay like 24h or 30m"),
            }
        })
        .collect()
}

/// The TURN flags onto `config`.
fn turn_config(config: &mut Config, args: &ServeArgs) -> anyhow::Result<()> {
    if !args.no_turn {
        let relay_ports = match args.turn_relay_ports.trim() {
            "" | "any" => None,
            range => {
                let parsed = range.split_once('-').and_then(|(a, b)| {
                    Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?))
                });
                match parsed {
                    Some((min, max)) if min > 0 && min <= max => Some((min, max)),
                    _ => bail!("--turn-relay-ports {range:?}: expected MIN-MAX, e.g. 49152-65535"),
                }
            }
        };
        let realm = args.turn_realm.trim();
        if realm.is_empty() {
            bail!("--turn-realm must not be empty");
        }
        // A server on loopback relays for its own machine only (a demo, a
        // test rig, several at once): any free port rather than 3478.
        let default = if args.bind.ip().is_loopback() {
            SocketAddr::new(args.bind.ip(), 0)
        } else {
            SocketAddr::from(([0, 0, 0, 0], 3478))
        };
        config.turn = Some(cadre_server::turn::EmbeddedTurn {
            udp: args.turn_udp.unwrap_or(default),
            tcp: (!args.no_turn_tcp).then_some(args.turn_tcp.unwrap_or(default)),
            public_ip: args.turn_public_ip,
            realm: realm.to_owned(),
            relay_ports,
            allow_private_peers: args.turn_allow_private_peers,
        });
    }
    config.turn_secret = args
        .turn_secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    for url in args
        .turn_urls
        .iter()
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
    {
        if !(url.starts_with("turn:") || url.starts_with("turns:")) {
            bail!("--turn-url {url:?}: expected a turn: or turns: URL");
        }
        config.turn_urls.push(url.to_owned());
    }
    config.turn_public_host = args
        .turn_public_host
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned);
    if args.turn_credential_minutes < 2 {
        bail!("--turn-credential-minutes must be at least 2");
    }
    config.turn_credential_validity = Duration::from_secs(args.turn_credential_minutes * 60);
    Ok(())
}

fn parse_ice_server(s: &str) -> anyhow::Result<IceServer> {
    let mut parts = s.split(',');
    let url = parts.next().unwrap_or_default().trim().to_owned();
    if !(url.starts_with("stun:") || url.starts_with("turn:") || url.starts_with("turns:")) {
        bail!("--ice-server {s:?}: expected a stun:, turn: or turns: URL");
    }
    Ok(IceServer {
        urls: vec![url],
        username: parts.next().map(str::to_owned),
        credential: parts.next().map(str::to_owned),
    })
}

async fn start(data_dir: &Path, args: &ServeArgs, fallback_port: bool) -> anyhow::Result<Server> {
    let config = config(data_dir, args)?;
    match Server::bind(config.clone()).await {
        Ok(s) => Ok(s),
        Err(cadre_server::StartError::Bind { source, .. })
            if fallback_port && source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            let mut config = config;
            config.bind.set_port(0);
            say_err!("{} is busy; using a free port instead", args.bind);
            Ok(Server::bind(config).await?)
        }
        Err(e) => Err(e.into()),
    }
}

async fn serve(data_dir: &Path, args: ServeArgs, json_ready: bool) -> anyhow::Result<()> {
    let server = start(data_dir, &args, false).await?;
    if json_ready {
        say!(
            "{}",
            serde_json::json!({"url": server.public_url(), "organiser_token": server.organiser_token()})
        );
    } else if args.log_format == cadre_server::logging::LogFormat::Json {
        // Machine-read logs never carry a credential: the new token is
        // read from its file.
        if server.organiser_token_created() {
            tracing::info!(
                file = %data_dir
                    .join(cadre_server::directory::keys::ORGANISER_TOKEN_FILE)
                    .display(),
                "organiser token created; read it from its file"
            );
        }
    } else {
        say_err!("cadre listening on {}", server.public_url());
        if server.organiser_token_created() {
            say_err!(
                "organiser token (shown once; also in {}): {}",
                data_dir
                    .join(cadre_server::directory::keys::ORGANISER_TOKEN_FILE)
                    .display(),
                server.organiser_token()
            );
        }
    }
    run_until_signal(server).await
}

async fn demo(data_dir: &Path, args: ServeArgs, json: bool) -> anyhow::Result<()> {
    let server = start(data_dir, &args, !json).await?;
    let now = chrono::Utc::now();
    let minute = chrono::Duration::minutes(1);
    let start = now - chrono::Duration::seconds(now.timestamp() % 60);
    let person = |name: &str, role| NewPerson {
        name: name.to_owned(),
        email: None,
        role,
        lang: None,
        time_zone: None,
    };
    let view = server
        .app()
        .create_session(NewSession {
            title: "Séance de démonstration — Gestion de projet".into(),
            kind: SessionKind::Formation,
            organisation: "Organisme de démonstration".into(),
            planned_start: start.to_rfc3339(),
            planned_end: (start + minute * 180).to_rfc3339(),
            time_zone: Some("Europe/Paris".into()),
            sponsor: None,
            media: None,
            people: vec![
                person("Claire Martin", Role::Facilitator),
                person("Karim Benali", Role::Participant),
                person("Sophie Dubois", Role::Participant),
                person("Lucas Moreau", Role::Participant),
            ],
        })
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo session: {}", e.message))?;
    actions_cli::demo_identity(server.app()).await?;
    if json {
        say!(
            "{}",
            serde_json::json!({
                "url": server.public_url(),
                "organiser_token": server.organiser_token(),
                "session": view,
            })
        );
    } else {
        print_demo(&server, &view, data_dir);
    }
    run_until_signal(server).await
}

fn print_demo(server: &Server, view: &SessionView, data_dir: &Path) {
    say!("");
    say!("  cadre is running at {}", server.public_url());
    say!("");
    say!("  Demo session: {} ({})", view.title, view.id);
    say!(
        "  Planned: {}",
        local_span(&view.planned_start, &view.planned_end, &view.time_zone)
    );
    say!("");
    say!("  Open each link in its own browser window or profile:");
    for p in &view.people {
        let role = match p.role {
            Role::Facilitator => "facilitator",
            Role::Participant => "participant",
        };
        say!("");
        say!("    {} — {}", p.name, role);
        say!("    {}", p.link.url);
    }
    say!("");
    if server.organiser_token_created() {
        say!(
            "  Organiser API token (shown once; kept in {}):",
            data_dir
                .join(cadre_server::directory::keys::ORGANISER_TOKEN_FILE)
                .display()
        );
        say!("    {}", server.organiser_token());
        say!("");
    }
    say!("  Ctrl-C stops the server.");
    say!("");
}

async fn run_until_signal(server: Server) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        trigger.cancel();
    });
    // On a worker of the runtime, not on the thread that started it: the
    // accept loop then hands each new connection's task to its own
    // worker's queue, where that worker picks it up at once, instead of
    // waking a worker from another thread for every connection.
    tokio::spawn(server.serve(shutdown))
        .await
        .map_err(|e| anyhow::anyhow!("the server's task ended abnormally: {e}"))??;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// The catalogue-only part of the server, for the `session` commands.
struct Offline {
    app: cadre_server::App,
}

async fn offline(data_dir: &Path, public_url: Option<String>) -> anyhow::Result<Offline> {
    if shared_database().is_none()
        && !data_dir
            .join(cadre_server::directory::catalog::DB_FILE)
            .exists()
    {
        bail!(
            "no cadre data in {} (run `cadre serve` or `cadre demo` once, or pass --data-dir)",
            data_dir.display()
        );
    }
    offline_or_init(data_dir, public_url).await
}

async fn session_command(data_dir: &Path, cmd: SessionCommand) -> anyhow::Result<()> {
    match cmd {
        SessionCommand::Create(args) => {
            let new = new_session(&args)?;
            let off = offline_or_init(data_dir, args.public_url.clone()).await?;
            let view = off
                .app
                .create_session(new)
                .await
                .map_err(|e| anyhow::anyhow!("{} ({})", e.message, e.code))?;
            print_session(&view, args.json);
        }
        SessionCommand::List { json } => {
            let off = offline(data_dir, None).await?;
            let list = off
                .app
                .list_sessions()
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no sessions");
            } else {
                for s in list {
                    println!(
                        "{}  {}  {:<12} {}  {} people  {}",
                        s.id,
                        serde_json::to_value(s.state)?.as_str().unwrap_or("?"),
                        s.kind,
                        local_span(&s.planned_start, &s.planned_end, &s.time_zone),
                        s.people,
                        s.title
                    );
                }
            }
        }
        SessionCommand::Links {
            session,
            public_url,
            json,
        } => {
            let off = offline(data_dir, public_url).await?;
            let view = off
                .app
                .session_view(&session)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            print_session(&view, json);
        }
        SessionCommand::SponsorLink {
            session,
            days,
            public_url,
        } => {
            let off = offline(data_dir, public_url).await?;
            let link = off
                .app
                .sponsor_link(&session, Some(days))
                .await
                .map_err(|e| anyhow::anyhow!("{} ({})", e.message, e.code))?;
            println!("{}", link.url);
            println!("valid until {}", link.expires_at);
        }
        SessionCommand::Revoke { session, person } => {
            let off = offline(data_dir, None).await?;
            // Through the application: on a shared database, the node
            // running the session lets the person go at once.
            let revoked = off
                .app
                .revoke(&session, &person)
                .await
                .map_err(|e| anyhow::anyhow!("{} ({})", e.message, e.code))?;
            let id = revoked.id.clone();
            let name = off
                .app
                .catalog()
                .run(move |c| c.person(&id))
                .await
                .map(|p| p.name)
                .unwrap_or_default();
            println!(
                "revoked the link of {name} ({}); new connections with it are refused",
                revoked.id
            );
        }
        SessionCommand::Invite {
            session,
            person,
            json,
        } => {
            let off = offline(data_dir, None).await?;
            let request = cadre_protocol::mail::NewInvitations {
                people: (!person.is_empty()).then_some(person),
            };
            let done = off
                .app
                .queue_invitations(&session, request)
                .await
                .map_err(|e| anyhow::anyhow!("{} ({})", e.message, e.code))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                for q in &done.queued {
                    println!("queued {} to {} ({})", q.mail, q.to, q.person);
                }
                for s in &done.skipped {
                    let why = match s.reason.as_str() {
                        "no_email" => "no e-mail address",
                        "revoked" => "their link is revoked",
                        other => other,
                    };
                    println!("skipped {} ({}): {why}", s.name, s.person);
                }
                println!(
                    "{} queued, {} skipped; the server sends them (cadre session mails {session})",
                    done.queued.len(),
                    done.skipped.len()
                );
            }
        }
        SessionCommand::Mails { session, json } => {
            let off = offline(data_dir, None).await?;
            let mails = off
                .app
                .session_mails(&session)
                .await
                .map_err(|e| anyhow::anyhow!("{} ({})", e.message, e.code))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&mails)?);
            } else if mails.is_empty() {
                println!("no mails");
            } else {
                for m in mails {
                    println!(
                        "{}  {:<15} {:<7} {}  tries {}  {}",
                        m.id,
                        m.kind,
                        m.state,
                        m.to,
                        m.attempts,
                        m.last_error.or(m.smtp_reply).unwrap_or_default()
                    );
                }
            }
        }
        SessionCommand::Readmit { session, person } => {
            let off = offline(data_dir, None).await?;
            let back = off
                .app
                .readmit(&session, &person)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("{} may join again with the same link", back.id);
        }
    }
    Ok(())
}

#[derive(Subcommand)]
enum ReportCommand {
    /// List a session's difficulty reports.
    List {
        /// Session id.
        #[arg(long)]
        session: String,
        /// JSON output (every field, full texts).
        #[arg(long)]
        json: bool,
    },
    /// Answer a report in writing (the author sees the answer with their link).
    Answer {
        /// Session id.
        #[arg(long)]
        session: String,
        /// Report id (`r_…`).
        #[arg(long)]
        report: String,
        /// The written answer.
        #[arg(long)]
        text: String,
        /// Close the report with this answer.
        #[arg(long)]
        close: bool,
    },
    /// Close an answered report.
    Close {
        /// Session id.
        #[arg(long)]
        session: String,
        /// Report id (`r_…`).
        #[arg(long)]
        report: String,
    },
    /// Print the session's reports as CSV (UTF-8 with BOM).
    Export {
        /// Session id.
        #[arg(long)]
        session: String,
    },
}

async fn report_command(data_dir: &Path, cmd: ReportCommand) -> anyhow::Result<()> {
    let off = offline(data_dir, None).await?;
    let app = &off.app;
    let api = |e: cadre_server::error::ApiError| anyhow::anyhow!("{} ({})", e.message, e.code);
    let written = match cmd {
        ReportCommand::List { session, json } => {
            let reports = app.session_difficulties(&session).await.map_err(api)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            } else if reports.is_empty() {
                println!("no reports");
            } else {
                let zone = app
                    .catalog()
                    .session(&session)
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .time_zone;
                for r in reports {
                    let first = r.text.lines().next().unwrap_or_default();
                    let first: String = first.chars().take(60).collect();
                    println!(
                        "{}  {:<8}  {} ({})  {}  {}",
                        r.id,
                        r.status.as_str(),
                        r.author.name,
                        r.author.role,
                        cadre_protocol::attendance::local_time(r.created_at, zone.name()),
                        first
                    );
                }
            }
            None
        }
        ReportCommand::Answer {
            session,
            report,
            text,
            close,
        } => Some(
            app.answer_difficulty(&session, &report, &text, close)
                .await
                .map_err(api)?,
        ),
        ReportCommand::Close { session, report } => {
            Some(app.close_difficulty(&session, &report).await.map_err(api)?)
        }
        ReportCommand::Export { session } => {
            print!("{}", app.difficulties_csv(&session).await.map_err(api)?);
            None
        }
    };
    if let Some(r) = written {
        // Everything written is durable already; this only stops the writer.
        let _ = app.ledger().shutdown().await;
        println!("{} is now {}", r.id, r.status.as_str());
    }
    Ok(())
}

async fn offline_or_init(data_dir: &Path, public_url: Option<String>) -> anyhow::Result<Offline> {
    let public_url = public_url
        .or_else(|| std::fs::read_to_string(data_dir.join(cadre_server::PUBLIC_URL_FILE)).ok())
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let mut config = Config::new(data_dir);
    let Some(url) = shared_database() else {
        let opened = cadre_server::open(&config, public_url.trim().to_owned())?;
        return Ok(Offline { app: opened.app });
    };
    // As a node of its own for the leases it may take (an append to a
    // session no node is running), named apart from the servers'.
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    config.database = Some(cadre_server::config::SharedDatabase {
        url,
        node: format!("cli@{host}:{}", std::process::id()),
        lease_ttl: Duration::from_secs(15),
    });
    // PostgreSQL's calls block: opened off the runtime.
    let opened = tokio::task::spawn_blocking(move || {
        cadre_server::open(&config, public_url.trim().to_owned())
    })
    .await??;
    Ok(Offline { app: opened.app })
}

/// The PostgreSQL database the commands other than `serve` and `demo`
/// reach, as `CADRE_DATABASE` names it (the one the nodes share); none:
/// the SQLite files in the data directory.
fn shared_database() -> Option<String> {
    std::env::var("CADRE_DATABASE")
        .ok()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
}

/// A planned span as the organiser reads it: local times in
/// the session's zone, with the zone and its offset, e.g. `2026-12-03
/// 09:00 → 12:30 (Europe/Paris, UTC+01:00)`; the end's date only when it
/// differs. RFC 3339 UTC strings that do not parse are printed as they are.
fn local_span(start: &str, end: &str, zone: &str) -> String {
    let local = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|d| cadre_protocol::attendance::local_time(d.timestamp_millis(), zone))
            .filter(|l| l.len() >= 25)
    };
    match (local(start), local(end)) {
        (Some(s), Some(e)) => {
            // `YYYY-MM-DDTHH:MM:SS+HH:MM`
            let end_shown = if s[..10] == e[..10] {
                e[11..16].to_owned()
            } else {
                format!("{} {}", &e[..10], &e[11..16])
            };
            format!(
                "{} {} → {} ({zone}, UTC{})",
                &s[..10],
                &s[11..16],
                end_shown,
                &s[19..]
            )
        }
        _ => format!("{start} → {end} ({zone})"),
    }
}

fn print_session(view: &SessionView, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(view).unwrap_or_default());
        return;
    }
    println!("{}  {} ({})", view.id, view.title, view.kind);
    println!(
        "  {}",
        local_span(&view.planned_start, &view.planned_end, &view.time_zone)
    );
    for p in &view.people {
        let state = if p.link.revoked { "  [revoked]" } else { "" };
        println!("  {} ({}, {}){}", p.name, p.role, p.id, state);
        println!("    {}", p.link.url);
    }
}

/// Reads a creation request from a file: JSON (by its extension or its
/// first character) or TOML, with the same fields as the REST API.
pub(crate) fn read_spec<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let is_json =
        path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    if is_json {
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid {what}", path.display()))
    } else {
        toml::from_str(&text).with_context(|| format!("{} is not a valid {what}", path.display()))
    }
}

fn new_session(args: &CreateArgs) -> anyhow::Result<NewSession> {
    if let Some(path) = &args.file {
        return read_spec(path, "session");
    }
    let person = |spec: &String, role| -> NewPerson {
        match spec.split_once('<') {
            Some((name, rest)) => NewPerson {
                name: name.trim().to_owned(),
                email: Some(rest.trim_end_matches('>').trim().to_owned()),
                role,
                lang: None,
                time_zone: None,
            },
            None => NewPerson {
                name: spec.trim().to_owned(),
                email: None,
                role,
                lang: None,
                time_zone: None,
            },
        }
    };
    let people = args
        .facilitator
        .iter()
        .map(|f| person(f, Role::Facilitator))
        .chain(
            args.participant
                .iter()
                .map(|p| person(p, Role::Participant)),
        )
        .collect();
    Ok(NewSession {
        title: args.title.clone().unwrap_or_default(),
        kind: args.kind.unwrap_or(SessionKind::Formation),
        organisation: args.organisation.clone().unwrap_or_default(),
        planned_start: args.start.clone().unwrap_or_default(),
        planned_end: args.end.clone().unwrap_or_default(),
        time_zone: Some(args.time_zone.clone()),
        sponsor: args.sponsor.clone(),
        media: args.media,
        people,
    })
}

#[cfg(test)]
mod tests {
    use super::{Cli, Command, config, local_span};
    use clap::Parser;
    use std::path::Path;

    /// `cadre serve ARGS…` as parsed, or clap's refusal.
    fn serve(args: &[&str]) -> Result<super::ServeArgs, clap::Error> {
        let cli = Cli::try_parse_from(["cadre", "serve"].iter().chain(args))?;
        match cli.command {
            Command::Serve { server, .. } => Ok(server),
            _ => unreachable!("parsed as serve"),
        }
    }

    #[test]
    fn the_forwarding_limit_is_per_core_unless_set_and_never_below_one_pair() {
        let defaults = config(Path::new("d"), &serve(&[]).unwrap()).unwrap();
        assert_eq!(
            defaults.forwarded_streams,
            cadre_server::config::default_forwarded_streams()
        );
        assert!(defaults.forwarded_streams >= 1_500);
        let set = serve(&["--forwarded-streams", "4000"]).unwrap();
        assert_eq!(
            config(Path::new("d"), &set).unwrap().forwarded_streams,
            4_000
        );
        let one = serve(&["--forwarded-streams", "1"]).unwrap();
        let Err(error) = config(Path::new("d"), &one) else {
            panic!("one stream is refused");
        };
        assert!(error.to_string().contains("at least 2"), "{error}");
    }

    #[test]
    fn a_shared_database_takes_a_node_name_and_a_lease_that_can_be_renewed() {
        let url = "postgres://cadre_app@db/cadre";
        assert!(
            config(Path::new("d"), &serve(&[]).unwrap())
                .unwrap()
                .database
                .is_none()
        );
        let set = serve(&[
            "--database",
            url,
            "--node",
            "node-a",
            "--lease-seconds",
            "9",
        ])
        .unwrap();
        let shared = config(Path::new("d"), &set).unwrap().database.unwrap();
        assert_eq!((shared.url.as_str(), shared.node.as_str()), (url, "node-a"));
        assert_eq!(shared.lease_ttl, std::time::Duration::from_secs(9));
        // Without --node, the host's name.
        let host = serve(&["--database", url]).unwrap();
        assert!(
            !config(Path::new("d"), &host)
                .unwrap()
                .database
                .unwrap()
                .node
                .is_empty()
        );
        let short = serve(&["--database", url, "--lease-seconds", "2"]).unwrap();
        let Err(error) = config(Path::new("d"), &short) else {
            panic!("a 2 s lease is refused");
        };
        assert!(error.to_string().contains("at least 3"), "{error}");
        let long_name = "n".repeat(65);
        let named = serve(&["--database", url, "--node", &long_name]).unwrap();
        let Err(error) = config(Path::new("d"), &named) else {
            panic!("a 65-character node name is refused");
        };
        assert!(error.to_string().contains("--node"), "{error}");
    }

    #[test]
    fn what_people_see_is_configured_and_bad_values_are_refused() {
        let defaults = config(Path::new("d"), &serve(&[]).unwrap()).unwrap();
        assert_eq!(defaults.default_lang, cadre_protocol::api::UiLang::Fr);
        assert_eq!(defaults.evidence_kept_years, 3);
        assert_eq!(defaults.privacy_contact, None);

        let set = serve(&[
            "--lang",
            "EN",
            "--evidence-kept-years",
            "6",
            "--privacy-contact",
            "  dpo@example.org ",
        ])
        .unwrap();
        let set = config(Path::new("d"), &set).unwrap();
        assert_eq!(set.default_lang, cadre_protocol::api::UiLang::En);
        assert_eq!(set.evidence_kept_years, 6);
        assert_eq!(set.privacy_contact.as_deref(), Some("dpo@example.org"));

        let Err(error) = serve(&["--lang", "de"]) else {
            panic!("--lang de is refused");
        };
        assert!(error.to_string().contains("expected fr or en"), "{error}");
        let zero = serve(&["--evidence-kept-years", "0"]).unwrap();
        let Err(error) = config(Path::new("d"), &zero) else {
            panic!("0 years is refused");
        };
        assert!(error.to_string().contains("at least 1"), "{error}");
        let blank = serve(&["--privacy-contact", "  "]).unwrap();
        assert_eq!(
            config(Path::new("d"), &blank).unwrap().privacy_contact,
            None
        );
    }

    #[test]
    fn planned_times_print_in_the_sessions_zone() {
        assert_eq!(
            local_span(
                "2026-12-03T08:00:00Z",
                "2026-12-03T11:30:00Z",
                "Europe/Paris"
            ),
            "2026-12-03 09:00 → 12:30 (Europe/Paris, UTC+01:00)"
        );
        assert_eq!(
            local_span(
                "2026-07-03T22:00:00Z",
                "2026-07-04T01:00:00Z",
                "Europe/Paris"
            ),
            "2026-07-04 00:00 → 03:00 (Europe/Paris, UTC+02:00)"
        );
        assert_eq!(
            local_span(
                "2026-12-03T20:00:00Z",
                "2026-12-04T01:00:00Z",
                "Europe/Paris"
            ),
            "2026-12-03 21:00 → 2026-12-04 02:00 (Europe/Paris, UTC+01:00)"
        );
        assert_eq!(
            local_span("not a time", "2026-12-03T11:30:00Z", "Europe/Paris"),
            "not a time → 2026-12-03T11:30:00Z (Europe/Paris)"
        );
    }
}
