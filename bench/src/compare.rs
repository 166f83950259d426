//! `cadre-bench compare`: one scenario against one server kind (cadre,
//! matchbox_server or the PeerJS server), with the same load tool for all,
//! so that `bench/references.sh` can interleave them and print ratios.
//!
//! Scenarios:
//! - `connect`: N participants in rooms, a bounded number of joins in
//!   flight; join time, server CPU per join, memory per held connection.
//! - `churn`: rooms of observers that stay and re-joiners that loop connect
//!   → welcome → clean close → reconnect; join time, cycles/s, server CPU,
//!   unclean closes, and (cadre) re-joins announced as replacements.
//! - `relay`: paced signals to another member of the same room; lost,
//!   latency, server CPU.

use crate::conn::{Control, Run, Schedule, candidate_like, sdp_like};
use crate::procfs::{CpuUse, CpuWindows, Machine, Proc};
use crate::refs::{Bins, Event, Kind, RefServer, Target};
use crate::stats::{Histogram, PhaseStats, Summary, Tally};
use anyhow::{Result, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::pin::pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Which scenario to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Hold N connections; join time, CPU per join, memory per connection.
    Connect,
    /// Re-joiners loop connect → welcome → close; observers stay.
    Churn,
    /// Paced signals between members of the same room.
    Relay,
}

/// One scenario against one server kind (see `bench/references.sh`).
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The server under test.
    #[arg(long, value_enum)]
    server_kind: Kind,
    /// What to measure.
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// cadre's binary.
    #[arg(long, default_value = "target/release/cadre")]
    server_bin: PathBuf,
    /// matchbox_server's binary (bench/references.sh installs it).
    #[arg(
        long,
        default_value = "target/bench-references/matchbox/bin/matchbox_server"
    )]
    matchbox_bin: PathBuf,
    /// The PeerJS server's entry point, run with `node`.
    #[arg(
        long,
        default_value = "target/bench-references/peerjs/node_modules/peer/dist/bin/peerjs.js"
    )]
    peerjs_bin: PathBuf,
    /// Extra argument for cadre (repeatable).
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// connect: participants.
    #[arg(long, default_value_t = 10_000)]
    participants: usize,
    /// connect and relay: people per room.
    #[arg(long, default_value_t = 10)]
    room_size: usize,
    /// Joins in flight at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// connect: seconds of idle before memory is read (1..=120).
    #[arg(long, default_value_t = 5)]
    settle: u64,
    /// churn: rooms.
    #[arg(long, default_value_t = 50)]
    churn_rooms: usize,
    /// churn: re-joiners per room.
    #[arg(long, default_value_t = 4)]
    churn_rejoiners: usize,
    /// churn: members per room that stay connected and watch presence.
    #[arg(long, default_value_t = 2)]
    churn_observers: usize,
    /// churn: seconds each re-joiner loops (1..=300).
    #[arg(long, default_value_t = 20)]
    churn_duration: u64,
    /// relay: participants.
    #[arg(long, default_value_t = 1000)]
    relay_peers: usize,
    /// relay: signals per second over all participants.
    #[arg(long, default_value_t = 20_000.0)]
    rate: f64,
    /// relay: seconds of sending (1..=300).
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// relay: seconds to wait for signals still in flight (max 30).
    #[arg(long, default_value_t = 3.0)]
    drain: f64,
    /// Bytes of SDP-sized payloads.
    #[arg(long, default_value_t = 1000)]
    sdp_bytes: usize,
    /// Bytes of candidate-sized payloads.
    #[arg(long, default_value_t = 200)]
    candidate_bytes: usize,
    /// Before measuring, wait up to this many seconds for other processes to
    /// use less than --quiet-below (0: don't).
    #[arg(long, default_value_t = 120)]
    wait_quiet: u64,
    /// CPU other processes may use (% of one core) for a quiet machine.
    #[arg(long, default_value_t = 15.0)]
    quiet_below: f64,
}

/// What one run found (printed as JSON on stdout).
#[derive(Debug, Serialize)]
pub struct CompareReport {
    kind: Kind,
    scenario: Scenario,
    date: String,
    machine: Machine,
    command: String,
    server_alive_at_end: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    connect: Option<ConnectReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    churn: Option<ChurnReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relay: Option<RelayReport>,
}

#[derive(Debug, Serialize)]
struct ConnectReport {
    requested: usize,
    joined: usize,
    failed: usize,
    errors: BTreeMap<String, u64>,
    wall_s: f64,
    join: Summary,
    /// Server utime + stime over the connect phase ÷ joins.
    server_cpu_per_join_ms: Option<f64>,
    cpu: CpuUse,
    server_rss_before_kib: Option<u64>,
    server_rss_connected_kib: Option<u64>,
    /// (connected − before) ÷ joined, after the idle period.
    server_rss_per_connection_bytes: Option<u64>,
    closes: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
struct ChurnReport {
    rooms: usize,
    rejoiners_per_room: usize,
    observers_per_room: usize,
    duration_s: f64,
    cycles: u64,
    cycles_per_s: f64,
    join: Summary,
    join_failed: u64,
    join_errors: BTreeMap<String, u64>,
    /// The server's Close frame came back.
    closes_clean: u64,
    /// EOF or a reset before the server's Close frame.
    closes_unclean: u64,
    /// Neither within the bound.
    closes_timed_out: u64,
    cpu: CpuUse,
    /// Arrivals the observers were told of.
    arrivals_seen: u64,
    /// Departures the observers were told of.
    departures_seen: u64,
    /// Arrivals of an id the observer still held as present.
    arrivals_as_replacement: u64,
    /// arrivals_as_replacement ÷ arrivals_seen.
    replacement_share: Option<f64>,
    observers_lost: u64,
}

#[derive(Debug, Serialize)]
struct RelayReport {
    peers: usize,
    joined: usize,
    join: Summary,
    target_rate: f64,
    duration_s: f64,
    sent: u64,
    received: u64,
    lost: u64,
    latency: Summary,
    send_lag: Summary,
    cpu: CpuUse,
    errors: BTreeMap<String, u64>,
    closes: BTreeMap<String, u64>,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One seat in one room.
#[derive(Clone)]
struct Slot {
    room: usize,
    pos: usize,
    /// cadre: session id and join token.
    cadre: Option<(Arc<str>, Arc<str>)>,
    /// Everyone's id in this room, filled in as the server tells them
    /// (matchbox) or known in advance (cadre, PeerJS).
    ids: Arc<[Mutex<String>]>,
}

impl Slot {
    fn peer_id(&self, cycle: u64) -> String {
        format!("r{}-{}-{cycle}", self.room, self.pos)
    }
}

/// Entry point of `cadre-bench compare`.
pub fn main(args: CompareArgs) -> ExitCode {
    if let Err(e) = validate(&args) {
        eprintln!("cadre-bench compare: {e:#}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cadre-bench compare: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(&args));
    runtime.shutdown_timeout(Duration::from_secs(2));
    crate::finish(result, CompareReport::line, true, "cadre-bench compare")
}

fn validate(a: &CompareArgs) -> Result<()> {
    if !(2..=50).contains(&a.room_size) {
        bail!("--room-size must be within 2..=50");
    }
    if a.participants < 2 || a.relay_peers < 2 {
        bail!("at least 2 participants");
    }
    if a.churn_rooms == 0 || a.churn_rejoiners == 0 || a.churn_observers == 0 {
        bail!("churn needs rooms, re-joiners and observers");
    }
    if a.churn_rejoiners + a.churn_observers > 50 {
        bail!("churn rooms hold at most 50 people");
    }
    if !(1..=300).contains(&a.churn_duration) || !(1..=300).contains(&a.duration) {
        bail!("durations must be within 1..=300 seconds");
    }
    if !(1..=120).contains(&a.settle) {
        bail!("--settle must be within 1..=120 seconds");
    }
    if !(0.0..=30.0).contains(&a.drain) {
        bail!("--drain must be within 0..=30 seconds");
    }
    if !(a.rate > 0.0 && a.rate <= 200_000.0) {
        bail!("--rate must be within (0, 200000]");
    }
    if a.connect_concurrency == 0 || a.wait_quiet > 3600 {
        bail!("--connect-concurrency ≥ 1, --wait-quiet ≤ 3600");
    }
    if a.sdp_bytes > 60_000 || a.candidate_bytes > 60_000 {
        bail!("payloads must stay under 60,000 bytes");
    }
    let need = match a.scenario {
        Scenario::Connect => a.participants,
        Scenario::Relay => a.relay_peers,
        Scenario::Churn => a.churn_rooms * (a.churn_rejoiners + a.churn_observers),
    } as u64
        + 64;
    if let Some(limit) = crate::procfs::open_files_limit()
        && limit < need
    {
        bail!("this run needs about {need} open files, but `ulimit -n` is {limit}");
    }
    Ok(())
}

impl CompareReport {
    fn line(&self) -> String {
        let k = self.kind.name();
        if let Some(c) = &self.connect {
            format!(
                "{k} connect: {}/{} joined, join p50 {:.2} ms p99 {:.2} ms, server CPU/join {:.3} ms, {} B per connection\n",
                c.joined,
                c.requested,
                c.join.p50_ms,
                c.join.p99_ms,
                c.server_cpu_per_join_ms.unwrap_or(f64::NAN),
                c.server_rss_per_connection_bytes.unwrap_or(0)
            )
        } else if let Some(c) = &self.churn {
            format!(
                "{k} churn: {} cycles ({:.0}/s), join p50 {:.2} ms p99 {:.2} ms, server CPU {:.0} %, unclean closes {}, replacements {}/{}\n",
                c.cycles,
                c.cycles_per_s,
                c.join.p50_ms,
                c.join.p99_ms,
                c.cpu.server_pct.unwrap_or(f64::NAN),
                c.closes_unclean,
                c.arrivals_as_replacement,
                c.arrivals_seen
            )
        } else if let Some(r) = &self.relay {
            format!(
                "{k} relay: sent {} lost {}, p50 {:.2} p99 {:.2} p99.9 {:.2} ms, server CPU {:.0} %\n",
                r.sent,
                r.lost,
                r.latency.p50_ms,
                r.latency.p99_ms,
                r.latency.p999_ms,
                r.cpu.server_pct.unwrap_or(f64::NAN)
            )
        } else {
            String::new()
        }
    }
}

async fn run(a: &CompareArgs) -> Result<CompareReport> {
    let machine = Machine::detect();
    let bins = Bins {
        cadre: &a.server_bin,
        matchbox: &a.matchbox_bin,
        peerjs: &a.peerjs_bin,
    };
    let mut server = RefServer::start(a.server_kind, &bins, &a.server_args).await?;
    eprintln!(
        "{} at {} (pid {:?})",
        a.server_kind.name(),
        server.ws_base,
        server.pid
    );
    let result = match a.scenario {
        Scenario::Connect => connect_scenario(a, &mut server)
            .await
            .map(|c| (Some(c), None, None)),
        Scenario::Churn => churn_scenario(a, &mut server)
            .await
            .map(|c| (None, Some(c), None)),
        Scenario::Relay => relay_scenario(a, &mut server)
            .await
            .map(|r| (None, None, Some(r))),
    };
    let alive = server.exited().is_none();
    if result.is_err()
        && let Some(log) = server
            .log_path
            .clone()
            .or_else(|| server.cadre.as_ref().and_then(|s| s.log_path.clone()))
    {
        let tail = crate::setup::tail_of(&log, 15);
        if !tail.is_empty() {
            eprintln!("server output ends with:\n{tail}");
        }
    }
    server.stop().await;
    let (connect, churn, relay) = result?;
    Ok(CompareReport {
        kind: a.server_kind,
        scenario: a.scenario,
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        machine,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        server_alive_at_end: alive,
        connect,
        churn,
        relay,
    })
}

/// Rooms of the given sizes: sessions and join links for cadre (through
/// REST), chosen ids for PeerJS, ids to be learnt for matchbox.
async fn make_rooms(kind: Kind, server: &RefServer, sizes: &[usize]) -> Result<Vec<Slot>> {
    let mut slots = Vec::new();
    if let Some(cadre) = &server.cadre {
        let seats =
            crate::setup::create_sessions(cadre, sizes, 8, Duration::from_secs(600)).await?;
        let mut room = 0;
        let mut last_sid: Option<String> = None;
        let mut ids: Arc<[Mutex<String>]> = Arc::new([]);
        for seat in seats {
            if last_sid.as_deref() != Some(seat.sid.as_str()) {
                if last_sid.is_some() {
                    room += 1;
                }
                ids = seat.members.iter().map(|m| Mutex::new(m.clone())).collect();
                last_sid = Some(seat.sid.clone());
            }
            slots.push(Slot {
                room,
                pos: seat.pos,
                cadre: Some((seat.sid.as_str().into(), seat.token.as_str().into())),
                ids: ids.clone(),
            });
        }
        return Ok(slots);
    }
    for (room, &size) in sizes.iter().enumerate() {
        let ids: Arc<[Mutex<String>]> = (0..size)
            .map(|pos| {
                Mutex::new(if kind == Kind::Peerjs {
                    format!("r{room}-{pos}-0")
                } else {
                    String::new()
                })
            })
            .collect();
        for pos in 0..size {
            slots.push(Slot {
                room,
                pos,
                cadre: None,
                ids: ids.clone(),
            });
        }
    }
    Ok(slots)
}

/// Shared state of the connect and relay scenarios.
struct Shared {
    kind: Kind,
    ws_base: String,
    base: std::time::Instant,
    join: Histogram,
    joined: AtomicU64,
    join_failed: AtomicU64,
    join_errors: Tally,
    alive: AtomicU64,
    /// Phase 0: connecting and idle; phase 1: the relay.
    phases: [PhaseStats; 2],
    sdp_pad: String,
    candidate_pad: String,
    /// Presence seen by observers (churn).
    presence: Presence,
}

#[derive(Default)]
struct Presence {
    arrivals: AtomicU64,
    departures: AtomicU64,
    replacements: AtomicU64,
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Connect → welcome, bounded; returns the socket and the id the server
/// gave, if any.
async fn join(kind: Kind, url: &str) -> Result<(Ws, Option<String>), String> {
    let attempt = async {
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true)
                .await
                .map_err(|e| match e {
                    tokio_tungstenite::tungstenite::Error::Http(r) => {
                        format!("HTTP {}", r.status().as_u16())
                    }
                    tokio_tungstenite::tungstenite::Error::Io(e) => format!("io: {}", e.kind()),
                    other => other.to_string(),
                })?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => match kind.classify(text.as_str()) {
                    Event::Welcome(id) => return Ok((ws, id)),
                    Event::Error(e) => return Err(format!("error before welcome: {e}")),
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | None => {
                    return Err("closed before welcome".to_string());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
            }
        }
    };
    timeout(Duration::from_secs(30), attempt)
        .await
        .map_err(|_| "timed out".to_string())?
}

fn url_of(kind: Kind, ws_base: &str, slot: &Slot, cycle: u64) -> String {
    let peer_id = slot.peer_id(cycle);
    kind.url(&Target {
        ws_base,
        room: slot.room,
        cadre: slot.cadre.as_ref().map(|(s, t)| (&**s, &**t)),
        peer_id: &peer_id,
    })
}

/// How a clean close went.
enum CloseOutcome {
    Clean,
    Unclean,
    TimedOut,
}

/// Sends our Close frame and waits (bounded) for the server's.
async fn close_cleanly(ws: &mut Ws, bound: Duration) -> CloseOutcome {
    let _ = ws.close(None).await;
    let wait = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) => return CloseOutcome::Clean,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return CloseOutcome::Unclean,
            }
        }
    };
    timeout(bound, wait).await.unwrap_or(CloseOutcome::TimedOut)
}

/// Joins, then stays: reads everything, keeps alive, sends on the relay
/// schedule, watches presence if `observe`; closes cleanly on Stop.
async fn member(
    sh: Arc<Shared>,
    slot: Slot,
    rank: usize,
    permits: Arc<Semaphore>,
    mut control: watch::Receiver<Control>,
    observe: bool,
) {
    let permit = permits.acquire().await;
    let started = Instant::now();
    let url = url_of(sh.kind, &sh.ws_base, &slot, 0);
    let joined = join(sh.kind, &url).await;
    drop(permit);
    let (mut ws, given) = match joined {
        Ok(ok) => ok,
        Err(why) => {
            sh.join_failed.fetch_add(1, Relaxed);
            sh.join_errors.add(why);
            return;
        }
    };
    sh.join.record(started.elapsed().as_nanos() as u64);
    if let Some(id) = given
        && sh.kind.server_assigns_ids()
        && let Some(cell) = slot.ids.get(slot.pos)
    {
        *cell.lock().unwrap_or_else(|e| e.into_inner()) = id;
    }
    sh.joined.fetch_add(1, Relaxed);
    sh.alive.fetch_add(1, Relaxed);
    let me = slot.pos;
    let size = slot.ids.len();
    let others = size.saturating_sub(1).max(1);
    let (beat, beat_every) = sh.kind.heartbeat();
    let mut last_sent = Instant::now();
    let mut beat_sleep = pin!(sleep_until(last_sent + beat_every));
    let far = || Instant::now() + Duration::from_secs(86_400);
    let mut send_sleep = pin!(sleep_until(far()));
    let mut schedule: Option<Schedule> = None;
    let mut targets: Vec<String> = Vec::new();
    let mut present: HashSet<String> = HashSet::new();
    let mut seq = 0u64;
    let mut pending = Some(*control.borrow_and_update());
    let mut stop = false;
    'main: loop {
        if let Some(c) = pending.take() {
            if schedule.take().is_some() {
                sh.phases[1].active_senders.fetch_sub(1, Relaxed);
            }
            match c {
                Control::Stop => {
                    stop = true;
                    break 'main;
                }
                Control::Idle => send_sleep.as_mut().reset(far()),
                Control::Run(run) => {
                    // The room's ids are all known once everyone joined.
                    targets = (1..=others)
                        .map(|k| {
                            slot.ids[(me + k) % size]
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .clone()
                        })
                        .collect();
                    let s = Schedule::new(&run, rank);
                    if s.count > 0 {
                        sh.phases[1].active_senders.fetch_add(1, Relaxed);
                        send_sleep.as_mut().reset(s.due(0));
                        schedule = Some(s);
                    }
                }
            }
        }
        tokio::select! {
            biased;
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => match sh.kind.classify(text.as_str()) {
                    Event::Signal([phase, _, _, ts]) => {
                        if let Some(p) = sh.phases.get(phase as usize) {
                            p.latency.record((sh.base.elapsed().as_nanos() as u64).saturating_sub(ts));
                            p.received.fetch_add(1, Relaxed);
                        }
                    }
                    Event::Joined(id) if observe => {
                        sh.presence.arrivals.fetch_add(1, Relaxed);
                        if !present.insert(id) {
                            sh.presence.replacements.fetch_add(1, Relaxed);
                        }
                    }
                    Event::Left(id) if observe => {
                        sh.presence.departures.fetch_add(1, Relaxed);
                        present.remove(&id);
                    }
                    Event::Error(e) => sh.phases[usize::from(schedule.is_some())].errors.add(e),
                    _ => {}
                },
                Some(Ok(Message::Close(f))) => {
                    let code = f.map_or(1005, |f| u16::from(f.code));
                    sh.phases[0].closes.add(format!("close {code}"));
                    break 'main;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    sh.phases[0].closes.add(format!("socket error: {e}"));
                    break 'main;
                }
                None => {
                    sh.phases[0].closes.add("eof");
                    break 'main;
                }
            },
            changed = control.changed() => match changed {
                Ok(()) => pending = Some(*control.borrow_and_update()),
                Err(_) => {
                    stop = true;
                    break 'main;
                }
            },
            () = &mut send_sleep, if schedule.is_some() => {
                let Some(s) = schedule.as_mut() else { continue };
                let now = Instant::now();
                let phase = &sh.phases[1];
                for _ in 0..16 {
                    if s.next >= s.count {
                        break;
                    }
                    let due = s.due(s.next);
                    if due > now {
                        break;
                    }
                    let j = s.next;
                    let to = &targets[j as usize % targets.len()];
                    let sdp = j % 2 == 0;
                    let pad = if sdp { &sh.sdp_pad } else { &sh.candidate_pad };
                    let ts = sh.base.elapsed().as_nanos() as u64;
                    let text = sh.kind.encode_signal(to, [1, me as u64, seq, ts], pad, sdp);
                    if let Err(e) = ws.send(Message::text(text)).await {
                        phase.send_failed.fetch_add(1, Relaxed);
                        sh.phases[0].closes.add(format!("send error: {e}"));
                        break 'main;
                    }
                    phase.send_lag.record(now.saturating_duration_since(due).as_nanos() as u64);
                    phase.sent.fetch_add(1, Relaxed);
                    s.next += 1;
                    seq += 1;
                    last_sent = now;
                }
                if s.next >= s.count {
                    schedule = None;
                    phase.active_senders.fetch_sub(1, Relaxed);
                    send_sleep.as_mut().reset(far());
                } else {
                    send_sleep.as_mut().reset(s.due(s.next).max(now));
                }
            },
            () = &mut beat_sleep => {
                // A relaying member still heartbeats: PeerJS counts only
                // its HEARTBEAT as a sign of life.
                if sh.kind == Kind::Peerjs || last_sent.elapsed() >= beat_every {
                    if ws.send(Message::text(beat)).await.is_err() {
                        sh.phases[0].closes.add("heartbeat send error");
                        break 'main;
                    }
                    last_sent = Instant::now();
                }
                beat_sleep.as_mut().reset(Instant::now() + beat_every);
            },
        }
    }
    if schedule.is_some() {
        sh.phases[1].active_senders.fetch_sub(1, Relaxed);
    }
    sh.alive.fetch_sub(1, Relaxed);
    if stop {
        close_cleanly(&mut ws, Duration::from_secs(2)).await;
    }
}

fn shared(kind: Kind, server: &RefServer, a: &CompareArgs) -> Arc<Shared> {
    use crate::conn::DATA_OVERHEAD;
    Arc::new(Shared {
        kind,
        ws_base: server.ws_base.clone(),
        base: std::time::Instant::now(),
        join: Histogram::default(),
        joined: AtomicU64::new(0),
        join_failed: AtomicU64::new(0),
        join_errors: Tally::default(),
        alive: AtomicU64::new(0),
        phases: Default::default(),
        sdp_pad: sdp_like(a.sdp_bytes.saturating_sub(DATA_OVERHEAD)),
        candidate_pad: candidate_like(a.candidate_bytes.saturating_sub(DATA_OVERHEAD)),
        presence: Presence::default(),
    })
}

/// Starts one member task per slot and waits (bounded) until each joined
/// or failed.
async fn join_all(
    sh: &Arc<Shared>,
    slots: Vec<Slot>,
    concurrency: usize,
    control: &watch::Sender<Control>,
    observe: bool,
    server: &mut RefServer,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let permits = Arc::new(Semaphore::new(concurrency));
    let n = slots.len() as u64;
    let before = sh.joined.load(Relaxed) + sh.join_failed.load(Relaxed);
    let mut tasks = Vec::with_capacity(slots.len());
    for (rank, slot) in slots.into_iter().enumerate() {
        tasks.push(tokio::spawn(member(
            sh.clone(),
            slot,
            rank,
            permits.clone(),
            control.subscribe(),
            observe,
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut last_print = Instant::now();
    loop {
        let done = sh.joined.load(Relaxed) + sh.join_failed.load(Relaxed) - before;
        if done >= n {
            return Ok(tasks);
        }
        if Instant::now() >= deadline {
            bail!("joining took longer than 600 s ({done}/{n})");
        }
        if let Some(status) = server.exited() {
            bail!("the server exited while participants joined: {status}");
        }
        if last_print.elapsed() >= Duration::from_secs(2) {
            eprintln!("  {done}/{n} done");
            last_print = Instant::now();
        }
        sleep(Duration::from_millis(20)).await;
    }
}

async fn stop_all(control: &watch::Sender<Control>, tasks: Vec<tokio::task::JoinHandle<()>>) {
    let _ = control.send(Control::Stop);
    let deadline = Instant::now() + Duration::from_secs(15);
    for t in tasks {
        if tokio::time::timeout_at(deadline, t).await.is_err() {
            break;
        }
    }
}

async fn quiet(a: &CompareArgs, server: &RefServer) {
    crate::wait_quiet(
        server.pid.map(Proc::Pid),
        Duration::from_secs(a.wait_quiet),
        a.quiet_below,
    )
    .await;
}

async fn connect_scenario(a: &CompareArgs, server: &mut RefServer) -> Result<ConnectReport> {
    let kind = a.server_kind;
    let sizes = crate::setup::session_sizes(a.participants, a.room_size);
    let slots = make_rooms(kind, server, &sizes).await?;
    let proc_ = server.pid.map(Proc::Pid);
    quiet(a, server).await;
    sleep(Duration::from_millis(500)).await;
    let rss_before = proc_.and_then(Proc::rss_kib);
    let sh = shared(kind, server, a);
    let (control, _keep) = watch::channel(Control::Idle);
    eprintln!(
        "connecting {} ({} at a time)",
        slots.len(),
        a.connect_concurrency
    );
    let cpu0 = proc_.and_then(Proc::cpu_seconds);
    let windows = CpuWindows::open(proc_);
    let t = Instant::now();
    let tasks = join_all(&sh, slots, a.connect_concurrency, &control, false, server).await?;
    let wall_s = t.elapsed().as_secs_f64();
    let cpu = windows.read();
    let cpu1 = proc_.and_then(Proc::cpu_seconds);
    let joined = sh.joined.load(Relaxed) as usize;
    let per_join = match (cpu0, cpu1) {
        (Some(c0), Some(c1)) if joined > 0 => Some((c1 - c0) * 1000.0 / joined as f64),
        _ => None,
    };
    eprintln!("idle for {} s", a.settle);
    sleep(Duration::from_secs(a.settle)).await;
    let rss_connected = proc_.and_then(Proc::rss_kib);
    let alive = sh.alive.load(Relaxed).max(1);
    let per_conn = match (rss_before, rss_connected) {
        (Some(b), Some(c)) => Some((c.saturating_sub(b) as f64 * 1024.0 / alive as f64) as u64),
        _ => None,
    };
    stop_all(&control, tasks).await;
    Ok(ConnectReport {
        requested: a.participants,
        joined,
        failed: sh.join_failed.load(Relaxed) as usize,
        errors: sh.join_errors.snapshot(),
        wall_s,
        join: sh.join.summary(),
        server_cpu_per_join_ms: per_join,
        cpu,
        server_rss_before_kib: rss_before,
        server_rss_connected_kib: rss_connected,
        server_rss_per_connection_bytes: per_conn,
        closes: sh.phases[0].closes.snapshot(),
    })
}

async fn relay_scenario(a: &CompareArgs, server: &mut RefServer) -> Result<RelayReport> {
    let kind = a.server_kind;
    let sizes = crate::setup::session_sizes(a.relay_peers, a.room_size);
    let slots = make_rooms(kind, server, &sizes).await?;
    let proc_ = server.pid.map(Proc::Pid);
    quiet(a, server).await;
    let sh = shared(kind, server, a);
    let (control, _keep) = watch::channel(Control::Idle);
    let tasks = join_all(&sh, slots, a.connect_concurrency, &control, false, server).await?;
    let joined = sh.joined.load(Relaxed) as usize;
    if joined < a.relay_peers {
        stop_all(&control, tasks).await;
        bail!(
            "{joined} of {} joined: {:?}",
            a.relay_peers,
            sh.join_errors.snapshot()
        );
    }
    // A member's first signals must not race the ids it learns.
    sleep(Duration::from_millis(500)).await;
    quiet(a, server).await;
    eprintln!("relaying {} signals/s for {} s", a.rate, a.duration);
    let duration = Duration::from_secs(a.duration);
    let start = Instant::now() + Duration::from_millis(300);
    let _ = control.send(Control::Run(Run {
        phase: 1,
        start,
        duration,
        rate: a.rate,
        senders: joined,
    }));
    sleep_until(start).await;
    let windows = CpuWindows::open(proc_);
    sleep_until(start + duration).await;
    let cpu = windows.read();
    let stats = &sh.phases[1];
    let deadline = Instant::now() + Duration::from_secs_f64(a.drain);
    while Instant::now() < deadline
        && !(stats.active_senders.load(Relaxed) == 0
            && stats.received.load(Relaxed) >= stats.sent.load(Relaxed))
    {
        sleep(Duration::from_millis(10)).await;
    }
    let sent = stats.sent.load(Relaxed);
    let received = stats.received.load(Relaxed);
    stop_all(&control, tasks).await;
    Ok(RelayReport {
        peers: a.relay_peers,
        joined,
        join: sh.join.summary(),
        target_rate: a.rate,
        duration_s: a.duration as f64,
        sent,
        received,
        lost: sent.saturating_sub(received),
        latency: stats.latency.summary(),
        send_lag: stats.send_lag.summary(),
        cpu,
        errors: stats.errors.snapshot(),
        closes: sh.phases[0].closes.snapshot(),
    })
}

/// Counters of the re-joiners.
#[derive(Default)]
struct Churn {
    cycles: AtomicU64,
    clean: AtomicU64,
    unclean: AtomicU64,
    timed_out: AtomicU64,
}

async fn rejoiner(sh: Arc<Shared>, churn: Arc<Churn>, slot: Slot, until: Instant) {
    let mut cycle = 0u64;
    while Instant::now() < until {
        // PeerJS hands a reconnection under a known id the old client
        // without a new OPEN, so each of its cycles claims a fresh id, as
        // a PeerJS client without a fixed id does.
        let url = url_of(sh.kind, &sh.ws_base, &slot, cycle + 1);
        cycle += 1;
        let started = Instant::now();
        match join(sh.kind, &url).await {
            Ok((mut ws, _)) => {
                sh.join.record(started.elapsed().as_nanos() as u64);
                let outcome = close_cleanly(&mut ws, Duration::from_secs(2)).await;
                let counter = match outcome {
                    CloseOutcome::Clean => &churn.clean,
                    CloseOutcome::Unclean => &churn.unclean,
                    CloseOutcome::TimedOut => &churn.timed_out,
                };
                counter.fetch_add(1, Relaxed);
                churn.cycles.fetch_add(1, Relaxed);
            }
            Err(why) => {
                sh.join_failed.fetch_add(1, Relaxed);
                sh.join_errors.add(why);
                // A refused join is retried, but not in a tight loop.
                sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn churn_scenario(a: &CompareArgs, server: &mut RefServer) -> Result<ChurnReport> {
    let kind = a.server_kind;
    let per_room = a.churn_observers + a.churn_rejoiners;
    let sizes = vec![per_room; a.churn_rooms];
    // In each room the first seats observe (for cadre the first is the
    // facilitator) and the others re-join.
    let slots = make_rooms(kind, server, &sizes).await?;
    let (observers, rejoiners): (Vec<Slot>, Vec<Slot>) =
        slots.into_iter().partition(|s| s.pos < a.churn_observers);
    let proc_ = server.pid.map(Proc::Pid);
    let sh_obs = shared(kind, server, a);
    let (control, _keep) = watch::channel(Control::Idle);
    let n_obs = observers.len() as u64;
    let tasks = join_all(
        &sh_obs,
        observers,
        a.connect_concurrency,
        &control,
        true,
        server,
    )
    .await?;
    if sh_obs.joined.load(Relaxed) < n_obs {
        stop_all(&control, tasks).await;
        bail!(
            "observers could not join: {:?}",
            sh_obs.join_errors.snapshot()
        );
    }
    // The observers' own joins are not part of the churn's figures.
    let sh = shared(kind, server, a);
    quiet(a, server).await;
    let churn = Arc::new(Churn::default());
    let duration = Duration::from_secs(a.churn_duration);
    eprintln!(
        "churn: {} re-joiners for {} s",
        rejoiners.len(),
        a.churn_duration
    );
    let windows = CpuWindows::open(proc_);
    let t = Instant::now();
    let until = t + duration;
    let loops: Vec<_> = rejoiners
        .into_iter()
        .map(|slot| tokio::spawn(rejoiner(sh.clone(), churn.clone(), slot, until)))
        .collect();
    let end = until + Duration::from_secs(35);
    for l in loops {
        if tokio::time::timeout_at(end, l).await.is_err() {
            break;
        }
    }
    let wall = t.elapsed().as_secs_f64();
    let cpu = windows.read();
    // Let the last departures reach the observers.
    sleep(Duration::from_millis(300)).await;
    let observers_lost = n_obs.saturating_sub(sh_obs.alive.load(Relaxed));
    let p = &sh_obs.presence;
    let (arrivals, departures, replacements) = (
        p.arrivals.load(Relaxed),
        p.departures.load(Relaxed),
        p.replacements.load(Relaxed),
    );
    stop_all(&control, tasks).await;
    let cycles = churn.cycles.load(Relaxed);
    Ok(ChurnReport {
        rooms: a.churn_rooms,
        rejoiners_per_room: a.churn_rejoiners,
        observers_per_room: a.churn_observers,
        duration_s: wall,
        cycles,
        cycles_per_s: cycles as f64 / wall,
        join: sh.join.summary(),
        join_failed: sh.join_failed.load(Relaxed),
        join_errors: sh.join_errors.snapshot(),
        closes_clean: churn.clean.load(Relaxed),
        closes_unclean: churn.unclean.load(Relaxed),
        closes_timed_out: churn.timed_out.load(Relaxed),
        cpu,
        arrivals_seen: arrivals,
        departures_seen: departures,
        arrivals_as_replacement: replacements,
        replacement_share: (arrivals > 0).then(|| replacements as f64 / arrivals as f64),
        observers_lost,
    })
}
