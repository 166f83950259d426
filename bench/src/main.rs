//! `cadre-bench`: drives real WebSocket participants against a real cadre
//! server on loopback and reports join time, relay latency, throughput,
//! losses, server CPU and memory per connection.
//!
//! It starts the server itself (`cadre serve --bind 127.0.0.1:0 --json-ready`),
//! creates sessions through REST, connects every participant with bounded
//! concurrency, then sends signals at a fixed, paced total rate to other
//! members of the same session. Every loop is bounded in count and time.
//!
//! `cadre-bench recording …` measures the server-side recorder instead (see
//! `recording.rs`): withdrawal-to-last-packet latency, CPU per recorded
//! participant, and signalling latency of another session meanwhile.

mod beside;
mod compare;
mod conn;
mod forward;
mod forward_process;
mod http;
mod nodes;
mod playable;
mod procfs;
mod recording;
mod refs;
mod report;
mod setup;
mod stats;
mod ws;

use anyhow::{Context, Result, bail};
use clap::Parser;
use conn::{Control, Ctx, Run};
use procfs::{CpuWindows, Machine, Proc};
use report::{Idle, Join, PhaseReport, Report, Saturation};
use setup::Server;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep, sleep_until};

/// Load tool for cadre's signalling server (loopback only).
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    signalling: Args,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Recording: withdrawal latency, CPU per recorded participant, and
    /// signalling latency of another session while recording runs.
    Recording(recording::RecordingArgs),
    /// One scenario (connect, churn, relay) against cadre, matchbox_server
    /// or the PeerJS server with the same load tool; bench/references.sh
    /// interleaves them and prints the ratios.
    Compare(compare::CompareArgs),
    /// Forwarding through the server (SFU core): synthetic webrtc-rs
    /// publishers and subscribers, the forwarder's CPU, throughput and
    /// latency; with --process, the cadre server in a process of its own
    /// and its memory per member.
    Forward(forward::ForwardArgs),
    /// Recordings made playable: the people's WebM files and the composed
    /// view of a recorded segment (ffmpeg), their time and CPU.
    Playable(playable::PlayableArgs),
    /// cadre on PostgreSQL with one node and with two: joins per second,
    /// relay latency, and failover time (a node killed → the first welcome
    /// on the other) over many rounds.
    Nodes(nodes::NodesArgs),
}

/// The signalling load test (the default mode).
#[derive(Debug, clap::Args)]
struct Args {
    /// The server binary, started as `PATH serve --bind 127.0.0.1:0
    /// --data-dir <tmp> --json-ready [--server-arg ...]`.
    #[arg(long, default_value = "target/release/cadre")]
    server_bin: PathBuf,
    /// Extra argument for the server (repeatable), e.g.
    /// `--server-arg=--rate-per-second=1000`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Use a server that is already running at this URL (http://127.0.0.1:PORT)
    /// instead of starting one; needs --organiser-token.
    #[arg(long, requires = "organiser_token")]
    url: Option<String>,
    /// Organiser token of the server given by --url.
    #[arg(long)]
    organiser_token: Option<String>,
    /// Pid of the server given by --url, for its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// WebSocket participants to connect.
    #[arg(long, default_value_t = 1000)]
    participants: usize,
    /// People per session (2..=50; the first of each is the facilitator).
    #[arg(long, default_value_t = 10)]
    session_size: usize,
    /// Joins in flight at once (connect → welcome).
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Sessions created at once through REST.
    #[arg(long, default_value_t = 8)]
    rest_concurrency: usize,
    /// Seconds of the relay phase (1..=300).
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Total signals per second over all connections (relay phase).
    #[arg(long, default_value_t = 20_000.0)]
    rate: f64,
    /// Seconds to wait after a phase for messages still in flight (max 30).
    #[arg(long, default_value_t = 3.0)]
    drain: f64,
    /// Seconds of idle with every connection open, to measure idle CPU and
    /// memory (1..=120).
    #[arg(long, default_value_t = 5)]
    settle: u64,
    /// Step the rate up instead of a single relay phase and report the
    /// highest rate sustained with p99 under --p99-target-ms and nothing lost.
    #[arg(long)]
    saturate: bool,
    /// First saturation step (messages/s); each next step doubles it.
    #[arg(long, default_value_t = 10_000.0)]
    saturate_from: f64,
    /// Highest saturation step (messages/s).
    #[arg(long, default_value_t = 640_000.0)]
    saturate_to: f64,
    /// Seconds of each saturation step (1..=60).
    #[arg(long, default_value_t = 5)]
    step_duration: u64,
    /// Bisection steps between the last passing and the first failing rate.
    #[arg(long, default_value_t = 3)]
    refine: u32,
    /// Latency limit of a sustained saturation step, in milliseconds.
    #[arg(long, default_value_t = 5.0)]
    p99_target_ms: f64,
    /// Bytes of `data` in SDP-sized signals.
    #[arg(long, default_value_t = 1000)]
    sdp_bytes: usize,
    /// Bytes of `data` in candidate-sized signals.
    #[arg(long, default_value_t = 200)]
    candidate_bytes: usize,
    /// Read buffer of each client socket, in bytes.
    #[arg(long, default_value_t = 4096)]
    client_read_buffer: usize,
    /// Runtime threads of the load tool (1: a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Before joining and before each measured phase, wait up to this many
    /// seconds for other processes to use less than --quiet-below (0: don't).
    #[arg(long, default_value_t = 120)]
    wait_quiet: u64,
    /// CPU other processes may use (% of one core) for the machine to count
    /// as quiet.
    #[arg(long, default_value_t = 15.0)]
    quiet_below: f64,
    /// Print a JSON summary on stdout (the table goes to stderr).
    #[arg(long)]
    json: bool,
    /// Serve HTTPS and WSS (a certificate from a throwaway authority that
    /// only this run trusts), to compare WSS with plain WS.
    #[arg(long, conflicts_with = "url")]
    tls: bool,
    /// Run `cadre backup` back to back on the server's data directory for
    /// the whole relay phase.
    #[arg(long, conflicts_with_all = ["url", "saturate"])]
    backup_during_relay: bool,
    /// Extra argument of those backups (repeatable), e.g.
    /// `--backup-arg=--normal-priority`.
    #[arg(
        long = "backup-arg",
        allow_hyphen_values = true,
        requires = "backup_during_relay"
    )]
    backup_args: Vec<String>,
    /// The server's data directory, kept after the run (default: a
    /// temporary one). A run with --presence-every fills its ledger for a
    /// later --backup-during-relay run.
    #[arg(long, conflicts_with = "url")]
    data_dir: Option<PathBuf>,
    /// Every Nth message a connection sends in a phase is a presence change
    /// (an evidence append on the server) instead of a signal (0: never).
    #[arg(long, default_value_t = 0)]
    presence_every: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Recording(args)) => return recording::main(args),
        Some(Command::Compare(args)) => return compare::main(args),
        Some(Command::Forward(args)) => return forward::main(args),
        Some(Command::Playable(args)) => return playable::main(args),
        Some(Command::Nodes(args)) => return nodes::main(args),
        None => cli.signalling,
    };
    if let Err(e) = validate(&args) {
        eprintln!("cadre-bench: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cadre-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(&args));
    // Tasks still alive (sockets of a failed run) are dropped here, bounded.
    runtime.shutdown_timeout(Duration::from_secs(2));
    finish(result, |r| r.table(), args.json, "cadre-bench")
}

fn validate(args: &Args) -> Result<()> {
    if args.participants < 2 {
        bail!("--participants must be at least 2");
    }
    if !(2..=50).contains(&args.session_size) {
        bail!("--session-size must be within 2..=50 (the server's limit is 50 people)");
    }
    if !(1..=300).contains(&args.duration) {
        bail!("--duration must be within 1..=300 seconds");
    }
    if !(1..=60).contains(&args.step_duration) {
        bail!("--step-duration must be within 1..=60 seconds");
    }
    if !(1..=120).contains(&args.settle) {
        bail!("--settle must be within 1..=120 seconds");
    }
    if !(0.0..=30.0).contains(&args.drain) {
        bail!("--drain must be within 0..=30 seconds");
    }
    if !(args.rate > 0.0 && args.rate <= 2_000_000.0) {
        bail!("--rate must be within (0, 2000000]");
    }
    if !(args.saturate_from > 0.0 && args.saturate_from <= args.saturate_to)
        || args.saturate_to > 5_000_000.0
    {
        bail!("--saturate-from must be positive and at most --saturate-to (≤ 5000000)");
    }
    if args.refine > 6 {
        bail!("--refine must be at most 6");
    }
    if args.wait_quiet > 3600 {
        bail!("--wait-quiet must be at most 3600 seconds");
    }
    if !(1..=8).contains(&args.threads) {
        bail!("--threads must be within 1..=8");
    }
    if args.connect_concurrency == 0 || args.rest_concurrency == 0 {
        bail!("concurrency must be at least 1");
    }
    if !(256..=1 << 20).contains(&args.client_read_buffer) {
        bail!("--client-read-buffer must be within 256..=1048576");
    }
    if args.sdp_bytes > 60_000 || args.candidate_bytes > 60_000 {
        bail!("payloads must stay under the server's 64 KiB limit");
    }
    if let Some(limit) = procfs::open_files_limit() {
        let need = args.participants as u64 + 64;
        if limit < need {
            bail!(
                "{} participants need about {need} open files in this process, but `ulimit -n` is {limit}",
                args.participants
            );
        }
    }
    Ok(())
}

/// Max phases: idle, relay, and the saturation steps with their refinements.
const PHASES: usize = 48;

async fn run(args: &Args) -> Result<Report> {
    let machine = Machine::detect();
    let mut server = match &args.url {
        Some(url) => Server::external(
            url.clone(),
            args.organiser_token.clone().unwrap_or_default(),
            args.server_pid,
        ),
        None => {
            eprintln!(
                "starting {} serve --json-ready {}",
                args.server_bin.display(),
                args.server_args.join(" ")
            );
            // The ledger's commit times are read from /metrics around
            // each phase.
            let mut extra = args.server_args.clone();
            extra.extend([
                "--metrics-token".to_owned(),
                beside::METRICS_TOKEN.to_owned(),
            ]);
            let how = setup::Spawn {
                tls: args.tls,
                data_dir: args.data_dir.clone(),
            };
            Server::spawn_with(&args.server_bin, &extra, Duration::from_secs(60), how).await?
        }
    };
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

async fn drive(args: &Args, server: &mut Server, machine: Machine) -> Result<Report> {
    let server_proc = server.pid.map(Proc::Pid);
    let rss = |p: Option<Proc>| p.and_then(Proc::rss_kib);

    // Sessions.
    let sizes = setup::session_sizes(args.participants, args.session_size);
    eprintln!(
        "creating {} sessions ({} people) through REST",
        sizes.len(),
        args.participants
    );
    let t = Instant::now();
    let seats = setup::create_sessions(
        server,
        &sizes,
        args.rest_concurrency,
        Duration::from_secs(600),
    )
    .await?;
    let sessions_s = t.elapsed().as_secs_f64();
    eprintln!("created in {sessions_s:.1} s");

    // Join.
    wait_quiet(
        server_proc,
        Duration::from_secs(args.wait_quiet),
        args.quiet_below,
    )
    .await;
    sleep(Duration::from_millis(500)).await;
    let server_rss_before = rss(server_proc);
    let tool_rss_before = Proc::SelfProc.rss_kib();
    let mut ctx = Ctx::new(
        PHASES,
        args.sdp_bytes,
        args.candidate_bytes,
        args.client_read_buffer,
        Duration::from_secs(30),
    );
    ctx.tls = server.tls.clone();
    ctx.presence_every = args.presence_every;
    let ctx = Arc::new(ctx);
    let (control, control_rx) = watch::channel(Control::Idle);
    let permits = Arc::new(Semaphore::new(args.connect_concurrency));
    let ws_base: Arc<str> = server.ws_base().into();
    let n = seats.len();
    eprintln!(
        "connecting {n} participants ({} at a time)",
        args.connect_concurrency
    );
    let t = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for seat in seats {
        tasks.push(tokio::spawn(conn::participant(
            ctx.clone(),
            seat,
            ws_base.clone(),
            permits.clone(),
            control_rx.clone(),
        )));
    }
    drop(control_rx);
    let join_deadline = t + Duration::from_secs(600);
    let mut last_print = Instant::now();
    loop {
        let done = ctx.joined.load(Relaxed) + ctx.join_failed.load(Relaxed);
        if done as usize >= n {
            break;
        }
        if Instant::now() >= join_deadline {
            bail!("joining took longer than 600 s ({done}/{n} done)");
        }
        if let Some(status) = server.exited() {
            bail!("the server exited while participants joined: {status}");
        }
        if last_print.elapsed() >= Duration::from_secs(2) {
            eprintln!(
                "  {}/{n} joined, {} failed",
                ctx.joined.load(Relaxed),
                ctx.join_failed.load(Relaxed)
            );
            last_print = Instant::now();
        }
        sleep(Duration::from_millis(50)).await;
    }
    let join_wall = t.elapsed().as_secs_f64();
    let joined = ctx.joined.load(Relaxed) as usize;
    let join = Join {
        requested: n,
        joined,
        failed: ctx.join_failed.load(Relaxed) as usize,
        errors: ctx.join_errors.snapshot(),
        concurrency: args.connect_concurrency,
        wall_s: join_wall,
        time: ctx.join.summary(),
    };
    eprintln!(
        "{joined}/{n} joined in {join_wall:.1} s; join p50 {:.2} ms p99 {:.2} ms",
        join.time.p50_ms, join.time.p99_ms
    );
    if joined < 2 {
        bail!("too few participants joined: {:?}", join.errors);
    }

    // Idle with every connection open.
    eprintln!("idle for {} s with {joined} connections", args.settle);
    let windows = CpuWindows::open(server_proc);
    sleep(Duration::from_secs(args.settle)).await;
    let idle_cpu = windows.read();
    let server_rss_connected = rss(server_proc);
    let per_connection = match (server_rss_before, server_rss_connected) {
        (Some(before), Some(after)) => {
            Some((after.saturating_sub(before) as f64 * 1024.0 / joined as f64).round() as u64)
        }
        _ => None,
    };
    let idle = Idle {
        connections: ctx.alive.load(Relaxed) as usize,
        server_rss_before_kib: server_rss_before,
        server_rss_connected_kib: server_rss_connected,
        server_rss_per_connection_bytes: per_connection,
        server_threads: server_proc.and_then(Proc::threads),
        cpu: idle_cpu,
        tool_rss_before_kib: tool_rss_before,
        tool_rss_connected_kib: Proc::SelfProc.rss_kib(),
    };

    let peak_rate = if args.saturate {
        args.saturate_to
    } else {
        args.rate
    };
    let per_connection_rate = peak_rate / joined as f64;
    if per_connection_rate > 40.0 && args.server_args.is_empty() && args.url.is_none() {
        eprintln!(
            "note: up to {per_connection_rate:.0} messages/s per connection; the server's default \
             limit is 50/s (burst 200): raise it with --server-arg"
        );
    }

    let mut relay = None;
    let mut saturation = None;
    let scratch = match args.backup_during_relay {
        true => Some(
            tempfile::Builder::new()
                .prefix("cadre-bench-backups-")
                .tempdir()
                .context("creating a directory for the backups")?,
        ),
        false => None,
    };
    let backups = match (&scratch, server.data_dir()) {
        (Some(scratch), Some(data_dir)) => Some(beside::BackupPlan {
            bin: args.server_bin.clone(),
            data_dir: data_dir.to_owned(),
            scratch: scratch.path().to_owned(),
            args: args.backup_args.clone(),
        }),
        _ => None,
    };
    let metrics = match server.data_dir() {
        Some(_) => Some((
            server.http_client(Duration::from_secs(10))?,
            server.url.clone(),
        )),
        None => None,
    };
    let phase_args = PhaseArgs {
        server_proc,
        wait_quiet: Duration::from_secs(args.wait_quiet),
        quiet_below: args.quiet_below,
        drain: Duration::from_secs_f64(args.drain),
        senders: joined,
        p99_target_ms: args.p99_target_ms,
        metrics,
        backups,
    };
    if args.saturate {
        saturation = Some(saturate(args, &ctx, &control, &phase_args, server).await?);
    } else {
        eprintln!("relaying {} messages/s for {} s", args.rate, args.duration);
        let mut r = run_phase(
            &ctx,
            &control,
            &phase_args,
            1,
            "relay",
            args.rate,
            Duration::from_secs(args.duration),
        )
        .await;
        r.judge(args.p99_target_ms);
        relay = Some(r);
    }
    let server_rss_after = rss(server_proc);
    let tool_rss_after = Proc::SelfProc.rss_kib();

    // Stop every connection (bounded), then the server.
    let _ = control.send(Control::Stop);
    let stop_deadline = Instant::now() + Duration::from_secs(10);
    for task in tasks {
        if tokio::time::timeout_at(stop_deadline, task).await.is_err() {
            break;
        }
    }
    let server_alive = server.exited().is_none();

    Ok(Report {
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        machine,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        participants: args.participants,
        session_size: args.session_size,
        sessions: sizes.len(),
        sessions_created_s: sessions_s,
        tool_threads: args.threads,
        sdp_bytes: args.sdp_bytes,
        candidate_bytes: args.candidate_bytes,
        join,
        idle,
        relay,
        saturation,
        server_rss_after_kib: server_rss_after,
        tool_rss_after_kib: tool_rss_after,
        server_alive_at_end: server_alive,
        closes_while_idle: ctx.phases[0].closes.snapshot(),
        errors_while_idle: ctx.phases[0].errors.snapshot(),
    })
}

struct PhaseArgs {
    server_proc: Option<Proc>,
    wait_quiet: Duration,
    quiet_below: f64,
    drain: Duration,
    senders: usize,
    p99_target_ms: f64,
    /// A client for the server's `/metrics` and its base URL (servers this
    /// tool started).
    metrics: Option<(http::Http, String)>,
    /// Backups to run for the whole phase.
    backups: Option<beside::BackupPlan>,
}

/// Waits (at most `max`) until processes other than the server and this
/// tool use less than `below` % of a core, measured over one second.
pub(crate) async fn wait_quiet(server: Option<Proc>, max: Duration, below: f64) {
    if max.is_zero() {
        return;
    }
    let deadline = Instant::now() + max;
    let mut said = false;
    loop {
        let windows = CpuWindows::open(server);
        sleep(Duration::from_secs(1)).await;
        let other = windows.read().other_pct.unwrap_or(0.0);
        if other < below {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!("machine still busy ({other:.0} % of a core used by others): going on");
            return;
        }
        if !said {
            eprintln!(
                "waiting for a quiet machine: others use {other:.0} % of a core (≥ {below:.0} %)"
            );
            said = true;
        }
    }
}

/// Runs one paced phase and waits for its messages to drain.
async fn run_phase(
    ctx: &Ctx,
    control: &watch::Sender<Control>,
    pa: &PhaseArgs,
    phase: usize,
    name: &str,
    rate: f64,
    duration: Duration,
) -> PhaseReport {
    wait_quiet(pa.server_proc, pa.wait_quiet, pa.quiet_below).await;
    let commits_before = match &pa.metrics {
        Some((client, url)) => beside::scrape_commits(client, url).await.ok(),
        None => None,
    };
    ctx.current_phase.store(phase, Relaxed);
    let start = Instant::now() + Duration::from_millis(300);
    let _ = control.send(Control::Run(Run {
        phase,
        start,
        duration,
        rate,
        senders: pa.senders,
    }));
    sleep_until(start).await;
    let backups = pa
        .backups
        .clone()
        .map(|plan| beside::backups_until(plan, start + duration));
    let windows = CpuWindows::open(pa.server_proc);
    sleep_until(start + duration).await;
    let cpu = windows.read();
    let stats = &ctx.phases[phase];
    let deadline = Instant::now() + pa.drain;
    loop {
        let settled = stats.active_senders.load(Relaxed) == 0
            && stats.received.load(Relaxed) >= stats.sent.load(Relaxed);
        if settled || Instant::now() >= deadline {
            break;
        }
        sleep(Duration::from_millis(10)).await;
    }
    let _ = control.send(Control::Idle);
    // Let the connections see Idle before charging events to phase 0 again.
    sleep(Duration::from_millis(50)).await;
    ctx.current_phase.store(0, Relaxed);
    let mut report = PhaseReport::from_stats(name, rate, duration, pa.senders, stats, cpu);
    if let Some(backups) = backups {
        report.backups = backups.await.ok();
    }
    if let (Some(before), Some((client, url))) = (commits_before, &pa.metrics)
        && let Ok(after) = beside::scrape_commits(client, url).await
    {
        report.ledger = Some(after.since(&before));
    }
    report
}

async fn saturate(
    args: &Args,
    ctx: &Ctx,
    control: &watch::Sender<Control>,
    pa: &PhaseArgs,
    server: &mut Server,
) -> Result<Saturation> {
    let step = Duration::from_secs(args.step_duration);
    let mut steps = Vec::new();
    let mut best: Option<f64> = None;
    let mut first_fail: Option<f64> = None;
    let mut phase = 2;
    // A step disturbed by other processes (a shared machine) is run again,
    // at most twice; the disturbed attempt stays in the report.
    let run_step = async |rate: f64, phase: &mut usize, steps: &mut Vec<PhaseReport>| {
        let mut pass = false;
        for attempt in 0..3 {
            if *phase >= PHASES {
                break;
            }
            eprintln!("step: {rate} messages/s for {} s", args.step_duration);
            let mut r = run_phase(ctx, control, pa, *phase, "step", rate, step).await;
            *phase += 1;
            pass = r.judge(pa.p99_target_ms);
            eprintln!(
                "  sent {} received {} p99 {:.2} ms CPU server {:.0} % tool {:.0} % others {:.0} %: {}",
                r.sent,
                r.received,
                r.latency.p99_ms,
                r.cpu.server_pct.unwrap_or(0.0),
                r.cpu.tool_pct.unwrap_or(0.0),
                r.cpu.other_pct.unwrap_or(0.0),
                r.verdict.as_deref().unwrap_or("")
            );
            let disturbed = r.cpu.other_pct.unwrap_or(0.0) > report::BUSY_NEIGHBOUR_PCT;
            if !pass && disturbed && attempt < 2 {
                r.name = "step (disturbed, run again)".into();
            }
            let retry = r.name != "step";
            steps.push(r);
            sleep(Duration::from_secs(1)).await;
            if !retry {
                break;
            }
        }
        pass
    };
    let mut rate = args.saturate_from;
    while rate <= args.saturate_to && phase < PHASES {
        if run_step(rate, &mut phase, &mut steps).await {
            best = Some(rate);
        } else {
            first_fail = Some(rate);
            break;
        }
        if server.exited().is_some() {
            bail!("the server exited during saturation");
        }
        rate *= 2.0;
    }
    for _ in 0..args.refine {
        let Some(hi) = first_fail else { break };
        let lo = best.unwrap_or(0.0);
        if ctx.alive.load(Relaxed) < pa.senders as u64 || hi - lo <= hi * 0.1 || phase >= PHASES {
            break;
        }
        let mid = ((lo + hi) / 2.0 / 1000.0).round() * 1000.0;
        if mid <= lo || mid >= hi {
            break;
        }
        if run_step(mid, &mut phase, &mut steps).await {
            best = Some(mid);
        } else {
            first_fail = Some(mid);
        }
    }
    Ok(Saturation {
        p99_target_ms: pa.p99_target_ms,
        step_s: args.step_duration,
        steps,
        sustained_rate: best,
        first_failing_rate: first_fail,
        connections_lost: pa.senders as u64 - ctx.alive.load(Relaxed).min(pa.senders as u64),
    })
}

/// Runs a benchmark that prints its own figures on a two-thread runtime
/// (the machine's two cores); the exit code says whether it finished.
pub fn on_two_threads(who: &str, work: impl std::future::Future<Output = Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{who}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{who}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a run's report (the table, and the JSON on stdout with `--json`)
/// or its error; the exit code says which.
pub fn finish<R: serde::Serialize>(
    result: anyhow::Result<R>,
    table: impl Fn(&R) -> String,
    json: bool,
    who: &str,
) -> ExitCode {
    match result {
        Ok(report) => {
            let table = table(&report);
            if json {
                eprint!("{table}");
                match serde_json::to_string_pretty(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("{who}: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{table}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{who}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
