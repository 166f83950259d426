//! `cadre-bench recording`: the server-side recorder under load, with the
//! real `cadre serve` binary and webrtc-rs publishers (the integration
//! tests' `SyntheticPublisher`: Opus every 20 ms and VP8 at `--fps`) on
//! loopback, all driven through the WebSocket protocol:
//!
//! 1. **Withdrawal latency.** A session of `--people` people who all agree;
//!    a facilitator arms; everyone publishes into the segment; after
//!    `--media-s` one person withdraws at client time T0. From the ledger
//!    export, that segment's `recording_stopped` gives `closed_at` and each
//!    file's `last_packet_at`: latency = max(last_packet_at) − T0 (same
//!    machine clock). The person agrees again, which opens the next segment,
//!    and the round repeats (`--rounds`, bounded by `--rounds-max-s`).
//! 2. **CPU per recorded participant.** For each of `--cpu-participants`,
//!    a fresh session with that many people recording: server CPU
//!    (/proc utime + stime) and RSS over `--window` seconds, bytes written.
//! 3. **Signalling of another session.** A session of `--signal-clients`
//!    relays `--signal-rate` signals/s (the main bench's paced relay) with
//!    no recording (before and after), and while the largest CPU point
//!    records. Its clients run on a runtime thread of their own, apart from
//!    the publishers.
//!
//! Every loop is bounded in count and time; publishers are closed and the
//! server is stopped on every path.

use crate::conn::{self, Control, Ctx};
use crate::procfs::{CpuUse, CpuWindows, Machine, Proc};
use crate::report::PhaseReport;
use crate::setup::{self, Server};
use crate::ws::WsClient;
use crate::{PhaseArgs, run_phase, wait_quiet};
use anyhow::{Context, Result, anyhow, bail};
use cadre_tests::media::{PublisherConfig, SyntheticPublisher};
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};

/// Options of `cadre-bench recording`.
#[derive(Debug, clap::Args)]
pub struct RecordingArgs {
    /// The server binary, started as `PATH serve --bind 127.0.0.1:0
    /// --data-dir <tmp> --json-ready --media-ip 127.0.0.1 [--server-arg ...]`.
    #[arg(long, default_value = "target/release/cadre")]
    server_bin: PathBuf,
    /// Extra argument for the server (repeatable).
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// People recorded in the withdrawal session (2..=16).
    #[arg(long, default_value_t = 4)]
    people: usize,
    /// Withdrawal rounds (0: skip the withdrawal measurement; at most 1000).
    #[arg(long, default_value_t = 100)]
    rounds: usize,
    /// Stop the withdrawal rounds after this many seconds (10..=3600).
    #[arg(long, default_value_t = 900)]
    rounds_max_s: u64,
    /// Seconds of media before each withdrawal (0.2..=30).
    #[arg(long, default_value_t = 1.0)]
    media_s: f64,
    /// Recorded participants of each CPU point, comma-separated (each 1..=50).
    #[arg(long, value_delimiter = ',', default_value = "2,4,8,16")]
    cpu_participants: Vec<usize>,
    /// Skip the CPU points (and the signalling measurement during the largest).
    #[arg(long)]
    skip_cpu: bool,
    /// Seconds of each CPU window and signalling phase (1..=120).
    #[arg(long, default_value_t = 10)]
    window: u64,
    /// Seconds of media before a CPU window opens (0..=30).
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Signals per second in the other session (0: no signalling measurement).
    #[arg(long, default_value_t = 200.0)]
    signal_rate: f64,
    /// WebSocket clients of the signalling session (2..=50); each sends
    /// signal-rate / signal-clients per second (the server allows 50/s each).
    #[arg(long, default_value_t = 8)]
    signal_clients: usize,
    /// Video frames per second of each publisher (1..=60).
    #[arg(long, default_value_t = 25)]
    fps: u32,
    /// Bytes of a VP8 keyframe (a keyframe every 5 s and on request).
    #[arg(long, default_value_t = 12_000)]
    keyframe_bytes: usize,
    /// Bytes of a VP8 interframe (VP8 goes out in packets of ≤ 1000 bytes).
    #[arg(long, default_value_t = 2_500)]
    frame_bytes: usize,
    /// Runtime threads of the tool for the publishers and recorded sessions
    /// (1..=8); the signalling clients have one more thread of their own.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Before each measured window, wait up to this many seconds for other
    /// processes to use less than --quiet-below (0: don't).
    #[arg(long, default_value_t = 60)]
    wait_quiet: u64,
    /// CPU other processes may use (% of one core) for the machine to count
    /// as quiet.
    #[arg(long, default_value_t = 15.0)]
    quiet_below: f64,
    /// The sessions' media forwarded by the server (`--media-mode
    /// forwarded`): each person publishes once to the forwarding and the
    /// recorder taps what it receives (no recorder connection).
    #[arg(long)]
    forwarded: bool,
    /// Print a JSON report on stdout (the tables go to stderr).
    #[arg(long)]
    json: bool,
}

fn validate(a: &RecordingArgs) -> Result<()> {
    if !(2..=16).contains(&a.people) {
        bail!("--people must be within 2..=16");
    }
    if a.rounds > 1000 {
        bail!("--rounds must be at most 1000");
    }
    if !(10..=3600).contains(&a.rounds_max_s) {
        bail!("--rounds-max-s must be within 10..=3600");
    }
    if !(0.2..=30.0).contains(&a.media_s) {
        bail!("--media-s must be within 0.2..=30");
    }
    if a.cpu_participants.is_empty() || a.cpu_participants.iter().any(|&n| !(1..=50).contains(&n)) {
        bail!("--cpu-participants: each within 1..=50");
    }
    if !(1..=120).contains(&a.window) {
        bail!("--window must be within 1..=120");
    }
    if !(0.0..=30.0).contains(&a.warmup) {
        bail!("--warmup must be within 0..=30");
    }
    if !(0.0..=10_000.0).contains(&a.signal_rate) {
        bail!("--signal-rate must be within 0..=10000");
    }
    if !(2..=50).contains(&a.signal_clients) {
        bail!("--signal-clients must be within 2..=50");
    }
    if a.signal_rate / a.signal_clients as f64 > 45.0 {
        bail!("more than 45 signals/s per client: the server's default limit is 50/s; add clients");
    }
    if !(1..=60).contains(&a.fps) {
        bail!("--fps must be within 1..=60");
    }
    if !(10..=200_000).contains(&a.keyframe_bytes) || !(3..=200_000).contains(&a.frame_bytes) {
        bail!("frame sizes must be within 10 (3 for interframes) ..= 200000 bytes");
    }
    if !(1..=8).contains(&a.threads) {
        bail!("--threads must be within 1..=8");
    }
    if a.wait_quiet > 3600 {
        bail!("--wait-quiet must be at most 3600 seconds");
    }
    Ok(())
}

/// Entry point of the subcommand.
pub fn main(args: RecordingArgs) -> ExitCode {
    if let Err(e) = validate(&args) {
        eprintln!("cadre-bench recording: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cadre-bench recording: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(&args));
    runtime.shutdown_timeout(Duration::from_secs(3));
    crate::finish(result, |r| r.table(), args.json, "cadre-bench recording")
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

/// Percentiles of a list of values (nearest rank), in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Pcts {
    /// Number of values.
    pub count: usize,
    /// Smallest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

fn pcts(values: impl IntoIterator<Item = f64>) -> Pcts {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return Pcts::default();
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Pcts {
        count: v.len(),
        min: v[0],
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: v[v.len() - 1],
    }
}

/// One withdrawal round; times in ms relative to T0 (the client's send).
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    /// Round number, from 0.
    pub round: usize,
    /// Segment recorded in this round.
    pub segment: u64,
    /// Who withdrew (position in the session).
    pub withdrawer: usize,
    /// max(last_packet_at over the segment's files) − T0.
    pub last_packet_ms: Option<f64>,
    /// `closed_at` − T0 (when the gate closed).
    pub closed_ms: f64,
    /// `ts` of the withdrawal's `consent` entry − T0.
    pub ledger_ts_ms: Option<f64>,
    /// Arrival of `recording_state` active:false at the withdrawer − T0.
    pub notified_ms: f64,
    /// Files the segment's `recording_stopped` lists.
    pub files: usize,
    /// RTP packets written, all files.
    pub packets: u64,
    /// Bytes written, all files.
    pub bytes: u64,
}

/// The withdrawal measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Withdrawal {
    /// People recorded.
    pub people: usize,
    /// Rounds asked.
    pub rounds_asked: usize,
    /// Seconds of media before each withdrawal.
    pub media_s: f64,
    /// Rounds done.
    pub rounds: Vec<Round>,
    /// max(last_packet_at) − T0.
    pub last_packet: Pcts,
    /// closed_at − T0.
    pub closed: Pcts,
    /// Withdrawal ledger ts − T0.
    pub ledger_ts: Pcts,
    /// recording_state (active:false) at the withdrawer − T0.
    pub notified: Pcts,
    /// Rounds whose segment lacks some of the 2 × people files.
    pub rounds_missing_files: usize,
    /// Seconds the rounds took.
    pub wall_s: f64,
    /// Why the rounds stopped early, if they did.
    pub stopped_early: Option<String>,
}

/// One CPU point.
#[derive(Debug, Clone, Serialize)]
pub struct CpuPoint {
    /// Participants recorded (each audio + video).
    pub participants: usize,
    /// Seconds of the window.
    pub window_s: f64,
    /// CPU over the window.
    pub cpu: CpuUse,
    /// Server CPU per participant, % of one core (server CPU / participants).
    pub server_pct_per_participant: Option<f64>,
    /// Same, after subtracting the idle server's CPU.
    pub marginal_pct_per_participant: Option<f64>,
    /// 100 / marginal % per participant.
    pub participants_per_core: Option<f64>,
    /// Server RSS at the end of the window, KiB.
    pub server_rss_kib: Option<u64>,
    /// Server RSS before the session was created, KiB.
    pub server_rss_before_kib: Option<u64>,
    /// Bytes the recordings directory grew by, per second.
    pub bytes_per_s: f64,
    /// RTP packets the publishers sent per second (audio + video, all).
    pub packets_per_s: f64,
    /// Server threads at the end of the window.
    pub server_threads: Option<u64>,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct RecordingReport {
    /// UTC, RFC 3339.
    pub date: String,
    /// The machine.
    pub machine: Machine,
    /// The command line.
    pub command: String,
    /// Publisher settings.
    pub fps: u32,
    /// Keyframe and interframe bytes.
    pub frame_bytes: (usize, usize),
    /// Server CPU with nothing running (clients connected, idle).
    pub idle_cpu: CpuUse,
    /// The withdrawal measurement.
    pub withdrawal: Option<Withdrawal>,
    /// CPU points.
    pub cpu_points: Vec<CpuPoint>,
    /// Signalling of another session with no recording, before.
    pub signalling_baseline: Option<PhaseReport>,
    /// The same while the largest CPU point records.
    pub signalling_recording: Option<PhaseReport>,
    /// Participants recorded during `signalling_recording`.
    pub signalling_recording_participants: Option<usize>,
    /// The same with no recording, after everything.
    pub signalling_after: Option<PhaseReport>,
    /// Whether the server was still running at the end.
    pub server_alive_at_end: bool,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.digits$}"))
}

impl RecordingReport {
    /// Markdown tables.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(
            s,
            "cadre-bench recording, {} — {} CPUs ({}), {} MiB, Linux {}",
            self.date, m.cpus, m.cpu_model, m.mem_total_mib, m.kernel
        );
        let _ = writeln!(s, "command: {}", self.command);
        let _ = writeln!(
            s,
            "publishers: Opus 50 packets/s; VP8 {} fps, keyframes {} B, interframes {} B",
            self.fps, self.frame_bytes.0, self.frame_bytes.1
        );
        let _ = writeln!(
            s,
            "idle server CPU: {} % (others {} %)\n",
            opt(self.idle_cpu.server_pct, 2),
            opt(self.idle_cpu.other_pct, 0)
        );
        if let Some(w) = &self.withdrawal {
            let _ = writeln!(
                s,
                "Withdrawal → media stops: {} people recorded, {} of {} rounds in {:.0} s{}; {} rounds lacked a file",
                w.people,
                w.rounds.len(),
                w.rounds_asked,
                w.wall_s,
                w.stopped_early
                    .as_deref()
                    .map(|r| format!(" (stopped early: {r})"))
                    .unwrap_or_default(),
                w.rounds_missing_files
            );
            let _ = writeln!(s, "\n| from T0 (ms) | n | min | p50 | p90 | p99 | max |");
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
            for (name, p) in [
                ("last packet written (max last_packet_at)", &w.last_packet),
                ("gate closed (closed_at)", &w.closed),
                ("withdrawal entry ts (ledger)", &w.ledger_ts),
                ("recording_state active:false received", &w.notified),
            ] {
                let _ = writeln!(
                    s,
                    "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
                    p.count, p.min, p.p50, p.p90, p.p99, p.max
                );
            }
            s.push('\n');
        }
        if !self.cpu_points.is_empty() {
            let _ = writeln!(
                s,
                "| recorded participants | server CPU | per participant | marginal per participant | participants per core | server RSS | written | RTP packets in | tool CPU | others |"
            );
            let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            for p in &self.cpu_points {
                let _ = writeln!(
                    s,
                    "| {} | {} % | {} % | {} % | {} | {} MiB (before {} MiB) | {:.1} KiB/s | {:.0}/s | {} % | {} % |",
                    p.participants,
                    opt(p.cpu.server_pct, 1),
                    opt(p.server_pct_per_participant, 2),
                    opt(p.marginal_pct_per_participant, 2),
                    opt(p.participants_per_core, 0),
                    opt(p.server_rss_kib.map(|k| k as f64 / 1024.0), 1),
                    opt(p.server_rss_before_kib.map(|k| k as f64 / 1024.0), 1),
                    p.bytes_per_s / 1024.0,
                    p.packets_per_s,
                    opt(p.cpu.tool_pct, 0),
                    opt(p.cpu.other_pct, 0),
                );
            }
            s.push('\n');
        }
        let phases = [
            ("no recording (before)", &self.signalling_baseline),
            ("while recording", &self.signalling_recording),
            ("no recording (after)", &self.signalling_after),
        ];
        if phases.iter().any(|(_, p)| p.is_some()) {
            let _ = writeln!(
                s,
                "| other session's signalling | sent / received | p50 ms | p99 ms | p99.9 ms | max ms | server CPU | tool CPU | others |"
            );
            let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
            for (name, p) in phases {
                let Some(p) = p else { continue };
                let name = if name == "while recording" {
                    format!(
                        "while recording {} participants",
                        self.signalling_recording_participants.unwrap_or(0)
                    )
                } else {
                    name.to_owned()
                };
                let _ = writeln!(
                    s,
                    "| {name}, {:.0}/s | {} / {} | {:.2} | {:.2} | {:.2} | {:.2} | {} % | {} % | {} % |",
                    p.target_rate,
                    p.sent,
                    p.received,
                    p.latency.p50_ms,
                    p.latency.p99_ms,
                    p.latency.p999_ms,
                    p.latency.max_ms,
                    opt(p.cpu.server_pct, 1),
                    opt(p.cpu.tool_pct, 0),
                    opt(p.cpu.other_pct, 0),
                );
                if !p.errors.is_empty() || !p.closes.is_empty() {
                    let _ = writeln!(
                        s,
                        "|   errors {:?}, closes {:?} | | | | | | | | |",
                        p.errors, p.closes
                    );
                }
            }
        }
        if !self.server_alive_at_end {
            let _ = writeln!(s, "\nthe server was not running at the end");
        }
        s
    }
}

// ---------------------------------------------------------------------------
// Driving
// ---------------------------------------------------------------------------

async fn run(args: &RecordingArgs) -> Result<RecordingReport> {
    let machine = Machine::detect();
    let mut extra = args.server_args.clone();
    if !extra.iter().any(|a| a.starts_with("--media-ip")) {
        extra.push("--media-ip=127.0.0.1".into());
    }
    if args.forwarded && !extra.iter().any(|a| a.starts_with("--media-mode")) {
        extra.push("--media-mode=forwarded".into());
    }
    eprintln!(
        "starting {} serve --json-ready {}",
        args.server_bin.display(),
        extra.join(" ")
    );
    let mut server = Server::spawn(&args.server_bin, &extra, Duration::from_secs(60)).await?;
    eprintln!("server at {} (pid {:?})", server.url, server.pid);
    let result = drive(args, &mut server, machine).await;
    if result.is_err()
        && let Some(log) = &server.log_path
    {
        let tail = setup::tail_of(log, 15);
        if !tail.is_empty() {
            eprintln!("server stderr ends with:\n{tail}");
        }
    }
    server.stop(Duration::from_secs(5)).await;
    result
}

async fn drive(
    args: &RecordingArgs,
    server: &mut Server,
    machine: Machine,
) -> Result<RecordingReport> {
    let server_proc = server.pid.map(Proc::Pid);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()?;
    let quiet = Duration::from_secs(args.wait_quiet);
    let window = Duration::from_secs(args.window);

    let mut signalling = if args.signal_rate > 0.0 {
        Some(Signalling::start(server, args.signal_clients).await?)
    } else {
        None
    };
    let result = async {
        let pa = PhaseArgs {
            server_proc,
            wait_quiet: quiet,
            quiet_below: args.quiet_below,
            drain: Duration::from_secs(2),
            senders: args.signal_clients,
            p99_target_ms: 5.0,
            metrics: None,
            backups: None,
        };

        eprintln!("idle for {} s", args.window);
        wait_quiet(server_proc, quiet, args.quiet_below).await;
        let w = CpuWindows::open(server_proc);
        sleep(window).await;
        let idle_cpu = w.read();

        let mut baseline = None;
        if let Some(sig) = &signalling {
            eprintln!("signalling, no recording: {} signals/s", args.signal_rate);
            baseline = Some(
                sig.phase(&pa, 1, "baseline", args.signal_rate, window)
                    .await,
            );
        }

        let withdrawal = if args.rounds > 0 {
            Some(withdrawal(args, server, &http).await?)
        } else {
            None
        };

        let mut points = Vec::new();
        let mut during = None;
        let mut during_n = None;
        if !args.skip_cpu {
            let largest = *args.cpu_participants.iter().max().unwrap_or(&0);
            let mut done_largest = false;
            for &n in &args.cpu_participants {
                let sig = if n == largest && !done_largest {
                    done_largest = true;
                    signalling.as_ref()
                } else {
                    None
                };
                let (point, phase) =
                    cpu_point(args, server, &pa, n, idle_cpu.server_pct, sig).await?;
                if phase.is_some() {
                    during = phase;
                    during_n = Some(n);
                }
                points.push(point);
                if server.exited().is_some() {
                    bail!("the server exited during the CPU points");
                }
                sleep(Duration::from_secs(2)).await;
            }
        }

        let mut after = None;
        if let Some(sig) = &signalling {
            eprintln!("signalling, no recording (after)");
            after = Some(sig.phase(&pa, 3, "after", args.signal_rate, window).await);
        }
        Ok::<_, anyhow::Error>(RecordingReport {
            date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            machine,
            command: std::env::args().collect::<Vec<_>>().join(" "),
            fps: args.fps,
            frame_bytes: (args.keyframe_bytes, args.frame_bytes),
            idle_cpu,
            withdrawal,
            cpu_points: points,
            signalling_baseline: baseline,
            signalling_recording: during,
            signalling_recording_participants: during_n,
            signalling_after: after,
            server_alive_at_end: false,
        })
    }
    .await;
    if let Some(sig) = signalling.take() {
        sig.stop().await;
    }
    let mut report = result?;
    report.server_alive_at_end = server.exited().is_none();
    Ok(report)
}

fn unix_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn publisher_config(args: &RecordingArgs) -> PublisherConfig {
    PublisherConfig {
        ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        fps: args.fps,
        keyframe_every: Some(Duration::from_secs(5)),
        size: (640, 360),
        frame_bytes: (args.keyframe_bytes, args.frame_bytes),
        ..PublisherConfig::default()
    }
}

/// A recorded session: its people connected, all agreeing, armed, active.
struct Recorded {
    sid: String,
    clients: Vec<WsClient>,
    hash: String,
    segment: u64,
}

const WAIT: Duration = Duration::from_secs(15);

/// The SHA-256 of the session's recording wording, from the lobby.
async fn consent_hash(http: &reqwest::Client, server: &Server, token: &str) -> Result<String> {
    let url = format!("{}/api/join?token={token}", server.url);
    let lobby: Value = http
        .get(&url)
        .send()
        .await
        .context("GET /api/join")?
        .error_for_status()?
        .json()
        .await
        .context("GET /api/join: not JSON")?;
    let texts = lobby["consent_texts"]
        .as_array()
        .context("the lobby has no consent_texts")?;
    let pick = |lang: Option<&str>| {
        texts
            .iter()
            .filter(|t| t["consent"] == "recording")
            .find(|t| lang.is_none_or(|l| t["lang"] == l))
            .and_then(|t| t["sha256"].as_str())
            .map(str::to_owned)
    };
    pick(Some("fr"))
        .or_else(|| pick(None))
        .context("no recording wording in consent_texts")
}

fn consent(hash: &str, granted: bool) -> Value {
    json!({"type": "consent", "consent": "recording", "granted": granted, "text_sha256": hash})
}

fn is_state(m: &Value, wanted: impl Fn(&Value) -> bool) -> bool {
    m["type"] == "recording_state" && wanted(&m["recording"])
}

/// Waits until every client sees recording active in a segment `after`
/// (exclusive); returns that segment.
async fn wait_all_active(clients: &mut [WsClient], after: u64) -> Result<u64> {
    let deadline = Instant::now() + WAIT;
    let mut segment = 0;
    for c in clients.iter_mut() {
        let m = c
            .wait_until("recording active", deadline, |m| {
                is_state(m, |r| {
                    r["active"] == true && r["segment"].as_u64().is_some_and(|s| s > after)
                })
            })
            .await?;
        segment = m["recording"]["segment"].as_u64().unwrap_or(0);
    }
    Ok(segment)
}

/// Creates a session of `n`, connects everyone, everyone agrees, the
/// facilitator arms, and recording is active.
async fn open_recorded(http: &reqwest::Client, server: &Server, n: usize) -> Result<Recorded> {
    let seats = setup::create_sessions(server, &[n], 1, Duration::from_secs(60)).await?;
    let sid = seats.first().context("no seat")?.sid.clone();
    let hash = consent_hash(http, server, &seats[0].token).await?;
    let ws_base = server.ws_base();
    let mut clients = Vec::with_capacity(n);
    for (i, seat) in seats.iter().enumerate() {
        clients.push(
            WsClient::connect(
                &ws_base,
                &seat.sid,
                &seat.token,
                format!("person {i}"),
                WAIT,
            )
            .await?,
        );
    }
    for c in &clients {
        c.send(&consent(&hash, true))?;
    }
    for c in clients.iter_mut() {
        c.wait_for("consent_recorded", WAIT, |m| {
            m["type"] == "consent_recorded" && m["granted"] == true
        })
        .await?;
    }
    clients[0].send(&json!({"type": "recording", "armed": true}))?;
    let segment = wait_all_active(&mut clients, 0).await?;
    Ok(Recorded {
        sid,
        clients,
        hash,
        segment,
    })
}

impl Recorded {
    async fn close(self) {
        futures_util::future::join_all(self.clients.into_iter().map(WsClient::close)).await;
    }
}

/// Publishes one person's synthetic camera and microphone into `segment`
/// and starts the media once connected.
async fn publish(
    c: &mut WsClient,
    segment: Option<u64>,
    config: PublisherConfig,
) -> Result<SyntheticPublisher> {
    let p = SyntheticPublisher::with_config(config).await;
    let r = async {
        let offer = p.offer().await;
        // To the open segment's recorder, or (no segment) to the
        // forwarding, which the recorder taps.
        let wrap = |data: &Value| match segment {
            Some(segment) => json!({"type": "recorder_signal", "segment": segment, "data": data}),
            None => json!({"type": "forward", "side": "publish", "data": data}),
        };
        c.send(&wrap(&offer))?;
        for candidate in p.candidates().await {
            c.send(&wrap(&candidate))?;
        }
        let answer = c
            .wait_for("the server's answer", WAIT, |m| {
                let to_us = match segment {
                    Some(segment) => m["type"] == "recorder_signal" && m["segment"] == segment,
                    None => m["type"] == "forward" && m["side"] == "publish",
                };
                to_us && m["data"]["type"] == "answer"
            })
            .await?;
        p.accept_answer(&answer["data"]).await;
        p.wait_connected(WAIT).await;
        p.start_media();
        Ok::<_, anyhow::Error>(())
    }
    .await;
    match r {
        Ok(()) => Ok(p),
        Err(e) => {
            p.close().await;
            Err(e)
        }
    }
}

/// Everyone publishes at once (one task each, so a publisher's panic is an
/// error here). Clients come back in order; publishers go into `pubs`.
async fn publish_all(
    clients: &mut Vec<WsClient>,
    segment: Option<u64>,
    config: &PublisherConfig,
    pubs: &mut Vec<SyntheticPublisher>,
) -> Result<()> {
    let tasks: Vec<JoinHandle<(WsClient, Result<SyntheticPublisher>)>> = std::mem::take(clients)
        .into_iter()
        .map(|mut c| {
            let config = config.clone();
            tokio::spawn(async move {
                let r = publish(&mut c, segment, config).await;
                (c, r)
            })
        })
        .collect();
    let mut first_err = None;
    for t in tasks {
        match t.await {
            Ok((c, r)) => {
                clients.push(c);
                match r {
                    Ok(p) => pubs.push(p),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            Err(e) => {
                first_err.get_or_insert(anyhow!("publishing failed: {e}"));
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

async fn close_all(pubs: &mut Vec<SyntheticPublisher>) {
    let all = std::mem::take(pubs);
    futures_util::future::join_all(all.iter().map(|p| p.close())).await;
}

/// The session's ledger entries (the export's JSON lines, without the
/// trailing tree heads).
async fn ledger(http: &reqwest::Client, server: &Server, sid: &str) -> Result<Vec<Value>> {
    let url = format!("{}/api/sessions/{sid}/ledger", server.url);
    let text = http
        .get(&url)
        .bearer_auth(&server.organiser_token)
        .send()
        .await
        .context("GET ledger")?
        .error_for_status()?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("kind").is_some())
        .collect())
}

async fn withdrawal(
    args: &RecordingArgs,
    server: &Server,
    http: &reqwest::Client,
) -> Result<Withdrawal> {
    eprintln!(
        "withdrawal: {} people, up to {} rounds ({} s max)",
        args.people, args.rounds, args.rounds_max_s
    );
    let config = publisher_config(args);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.rounds_max_s);
    let mut sess = open_recorded(http, server, args.people).await?;
    let mut pubs = Vec::new();
    let mut rounds = Vec::new();
    let mut stopped_early = None;
    let result = async {
        let mut segment = sess.segment;
        for round in 0..args.rounds {
            if Instant::now() >= deadline {
                stopped_early = Some(format!("--rounds-max-s {} reached", args.rounds_max_s));
                break;
            }
            // Forwarded: everyone publishes once, and each segment taps it.
            if !args.forwarded || pubs.is_empty() {
                let to = (!args.forwarded).then_some(segment);
                publish_all(&mut sess.clients, to, &config, &mut pubs).await?;
            }
            sleep(Duration::from_secs_f64(args.media_s)).await;
            let w = round % args.people;
            let who = sess.clients[w].id.clone();
            let t0 = unix_ms();
            sess.clients[w].send(&consent(&sess.hash, false))?;
            sess.clients[w]
                .wait_for("recording stopped", WAIT, |m| {
                    is_state(m, |r| r["active"] == false)
                })
                .await?;
            let notified = unix_ms() - t0;
            if !args.forwarded {
                close_all(&mut pubs).await;
            }

            // The segment's `recording_stopped` is written once its files
            // are final; the withdrawal's `consent` entry soon after the gate
            // closed.
            // (Each export also signs a tree head: poll gently.)
            let poll_until = Instant::now() + WAIT;
            sleep(Duration::from_millis(200)).await;
            let (stopped, withdrawn) = loop {
                let entries = ledger(http, server, &sess.sid).await?;
                let stopped = entries.iter().find(|e| {
                    e["kind"] == "recording_stopped" && e["payload"]["segment"] == segment
                });
                let withdrawn = entries.iter().rev().find(|e| {
                    e["kind"] == "consent"
                        && e["actor"] == who.as_str()
                        && e["payload"]["consent"] == "recording"
                        && e["payload"]["granted"] == false
                });
                if let (Some(s), Some(c)) = (stopped, withdrawn) {
                    break (s.clone(), c.clone());
                }
                if Instant::now() >= poll_until {
                    bail!("segment {segment}: no recording_stopped or withdrawal entry in the ledger after {WAIT:?}");
                }
                sleep(Duration::from_millis(250)).await;
            };
            let p = &stopped["payload"];
            let files = p["files"].as_array().cloned().unwrap_or_default();
            let last = files
                .iter()
                .filter_map(|f| f["last_packet_at"].as_i64())
                .max();
            let closed_at = p["closed_at"]
                .as_i64()
                .context("recording_stopped without closed_at")?;
            let r = Round {
                round,
                segment,
                withdrawer: w,
                last_packet_ms: last.map(|l| l as f64 - t0),
                closed_ms: closed_at as f64 - t0,
                ledger_ts_ms: withdrawn["ts"].as_i64().map(|t| t as f64 - t0),
                notified_ms: notified,
                files: files.len(),
                packets: files.iter().filter_map(|f| f["packets"].as_u64()).sum(),
                bytes: files.iter().filter_map(|f| f["bytes"].as_u64()).sum(),
            };
            if p["reason"] != "consent_withdrawn" {
                eprintln!("  segment {segment} closed for {}", p["reason"]);
            }
            if round % 10 == 0 || round + 1 == args.rounds {
                eprintln!(
                    "  round {round}: last packet {} ms, closed {:.1} ms, notified {:.1} ms after T0; {} files, {} packets",
                    opt(r.last_packet_ms, 1),
                    r.closed_ms,
                    r.notified_ms,
                    r.files,
                    r.packets
                );
            }
            rounds.push(r);

            // Agree again: the next segment opens.
            sess.clients[w].send(&consent(&sess.hash, true))?;
            sess.clients[w]
                .wait_for("consent_recorded", WAIT, |m| {
                    m["type"] == "consent_recorded" && m["granted"] == true
                })
                .await?;
            segment = wait_all_active(&mut sess.clients, segment).await?;
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    close_all(&mut pubs).await;
    sess.close().await;
    if let Err(e) = result {
        if rounds.len() < 10 {
            return Err(e);
        }
        // Enough rounds to report; say why the rest did not happen.
        eprintln!("withdrawal rounds stopped: {e:#}");
        stopped_early = Some(format!("{e:#}"));
    }
    let wall_s = started.elapsed().as_secs_f64();
    Ok(Withdrawal {
        people: args.people,
        rounds_asked: args.rounds,
        media_s: args.media_s,
        last_packet: pcts(rounds.iter().filter_map(|r| r.last_packet_ms)),
        closed: pcts(rounds.iter().map(|r| r.closed_ms)),
        ledger_ts: pcts(rounds.iter().filter_map(|r| r.ledger_ts_ms)),
        notified: pcts(rounds.iter().map(|r| r.notified_ms)),
        rounds_missing_files: rounds.iter().filter(|r| r.files < 2 * args.people).count(),
        rounds,
        wall_s,
        stopped_early,
    })
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    let mut visited = 0;
    while let Some(d) = stack.pop() {
        visited += 1;
        if visited > 100_000 {
            break;
        }
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

async fn cpu_point(
    args: &RecordingArgs,
    server: &Server,
    pa: &PhaseArgs,
    n: usize,
    idle_server_pct: Option<f64>,
    signalling: Option<&Signalling>,
) -> Result<(CpuPoint, Option<PhaseReport>)> {
    eprintln!("CPU: {n} participants recording");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()?;
    let server_proc = server.pid.map(Proc::Pid);
    let rss_before = server_proc.and_then(Proc::rss_kib);
    let config = publisher_config(args);
    let rec_dir = server
        .data_dir()
        .map(|d| d.join("recordings"))
        .unwrap_or_default();
    let mut sess = open_recorded(&http, server, n).await?;
    let mut pubs = Vec::new();
    let window = Duration::from_secs(args.window);
    let result = async {
        let to = (!args.forwarded).then_some(sess.segment);
        publish_all(&mut sess.clients, to, &config, &mut pubs).await?;
        sleep(Duration::from_secs_f64(args.warmup)).await;
        wait_quiet(server_proc, pa.wait_quiet, pa.quiet_below).await;
        let packets = |pubs: &[SyntheticPublisher]| -> u64 {
            pubs.iter()
                .map(|p| {
                    let s = p.stats();
                    s.audio_packets + s.video_packets
                })
                .sum()
        };
        let bytes0 = dir_bytes(&rec_dir);
        let packets0 = packets(&pubs);
        let t = Instant::now();
        let windows = CpuWindows::open(server_proc);
        sleep(window).await;
        let cpu = windows.read();
        let secs = t.elapsed().as_secs_f64();
        let bytes_per_s = dir_bytes(&rec_dir).saturating_sub(bytes0) as f64 / secs;
        let packets_per_s = packets(&pubs).saturating_sub(packets0) as f64 / secs;
        let rss = server_proc.and_then(Proc::rss_kib);
        let threads = server_proc.and_then(Proc::threads);
        let per = cpu.server_pct.map(|c| c / n as f64);
        let marginal = cpu
            .server_pct
            .map(|c| (c - idle_server_pct.unwrap_or(0.0)).max(0.0) / n as f64);
        eprintln!(
            "  server {} %, {} % per participant; tool {} %, others {} %; {:.0} KiB/s written",
            opt(cpu.server_pct, 1),
            opt(per, 2),
            opt(cpu.tool_pct, 0),
            opt(cpu.other_pct, 0),
            bytes_per_s / 1024.0
        );
        let point = CpuPoint {
            participants: n,
            window_s: secs,
            cpu,
            server_pct_per_participant: per,
            marginal_pct_per_participant: marginal,
            participants_per_core: marginal.filter(|&m| m > 0.0).map(|m| 100.0 / m),
            server_rss_kib: rss,
            server_rss_before_kib: rss_before,
            bytes_per_s,
            packets_per_s,
            server_threads: threads,
        };
        let mut phase = None;
        if let Some(sig) = signalling {
            eprintln!("  signalling while {n} participants record");
            phase = Some(
                sig.phase(pa, 2, "recording", args.signal_rate, window)
                    .await,
            );
        }
        // Disarm: the segment closes and its files are finalised.
        sess.clients[0].send(&json!({"type": "recording", "armed": false}))?;
        sess.clients[0]
            .wait_for("recording disarmed", WAIT, |m| {
                is_state(m, |r| r["active"] == false)
            })
            .await?;
        Ok::<_, anyhow::Error>((point, phase))
    }
    .await;
    close_all(&mut pubs).await;
    sess.close().await;
    result
}

/// The other session: paced relay between its clients (the main bench's
/// machinery), on a runtime thread of its own.
struct Signalling {
    ctx: Arc<Ctx>,
    control: watch::Sender<Control>,
    tasks: Vec<JoinHandle<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Signalling {
    async fn start(server: &Server, n: usize) -> Result<Signalling> {
        let seats = setup::create_sessions(server, &[n], 1, Duration::from_secs(60)).await?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cadre-bench-signal")
            .enable_all()
            .build()?;
        let ctx = Arc::new(Ctx::new(4, 1000, 200, 4096, Duration::from_secs(30)));
        let (control, rx) = watch::channel(Control::Idle);
        let permits = Arc::new(Semaphore::new(8));
        let ws_base: Arc<str> = server.ws_base().into();
        let tasks = seats
            .into_iter()
            .map(|seat| {
                runtime.spawn(conn::participant(
                    ctx.clone(),
                    seat,
                    ws_base.clone(),
                    permits.clone(),
                    rx.clone(),
                ))
            })
            .collect();
        let sig = Signalling {
            ctx,
            control,
            tasks,
            runtime: Some(runtime),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let joined = sig.ctx.joined.load(Relaxed) as usize;
            let failed = sig.ctx.join_failed.load(Relaxed) as usize;
            if joined == n {
                return Ok(sig);
            }
            if failed > 0 || Instant::now() >= deadline {
                let errors = sig.ctx.join_errors.snapshot();
                sig.stop().await;
                bail!("signalling clients: {joined}/{n} joined: {errors:?}");
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    async fn phase(
        &self,
        pa: &PhaseArgs,
        phase: usize,
        name: &str,
        rate: f64,
        duration: Duration,
    ) -> PhaseReport {
        let r = run_phase(&self.ctx, &self.control, pa, phase, name, rate, duration).await;
        eprintln!(
            "  sent {} received {} p50 {:.2} ms p99 {:.2} ms max {:.2} ms; server {} %, others {} %",
            r.sent,
            r.received,
            r.latency.p50_ms,
            r.latency.p99_ms,
            r.latency.max_ms,
            opt(r.cpu.server_pct, 1),
            opt(r.cpu.other_pct, 0)
        );
        r
    }

    async fn stop(mut self) {
        let _ = self.control.send(Control::Stop);
        let deadline = Instant::now() + Duration::from_secs(5);
        for t in std::mem::take(&mut self.tasks) {
            if tokio::time::timeout_at(deadline, t).await.is_err() {
                break;
            }
        }
    }
}

impl Drop for Signalling {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let p = pcts((1..=100).map(f64::from));
        assert_eq!(
            (p.count, p.min, p.p50, p.p90, p.p99, p.max),
            (100, 1.0, 50.0, 90.0, 99.0, 100.0)
        );
        let one = pcts([7.0]);
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
        assert_eq!(pcts([]).count, 0);
    }

    #[test]
    fn counts_bytes_under_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/x"), [0u8; 10]).unwrap();
        std::fs::write(dir.path().join("y"), [0u8; 5]).unwrap();
        assert_eq!(dir_bytes(dir.path()), 15);
        assert_eq!(dir_bytes(&dir.path().join("missing")), 0);
    }
}
