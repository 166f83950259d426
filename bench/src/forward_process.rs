//! `cadre-bench forward --process`: forwarding with the server in a process
//! of its own, so that its memory and CPU are the server's alone.
//!
//! **How.** The tool starts the real `cadre` binary (`cadre serve
//! --media-mode forwarded --media-ip 127.0.0.1` on an ephemeral loopback
//! port, a temporary data directory), creates one session of `--members`
//! people through `POST /api/sessions`, and drives each person as a
//! browser would, through the WebSocket signalling only
//! (`docs/protocol.md`, `docs/forwarding.md`): a WebSocket client with the
//! person's link, a counting `SyntheticSubscriber` that answers every
//! `forward {side: "subscribe"}` offer of the server, and a
//! `SyntheticPublisher` that offers on `forward {side: "publish"}` and takes
//! the server's answer. With `--simulcast`, everyone but member 0 sends
//! `forward_view` naming member 0 `high` (the speaker), the others keeping
//! the lowest layer. The media is the in-process mode's (`forward.rs`):
//! the same timed payloads, counted at the subscribers, latency on the
//! tool's clock.
//!
//! **What it reports**, for the server process (`/proc/PID`):
//! - RSS (`VmRSS`) before anyone joins (the session created, the machine
//!   quiet), after everyone has joined and answered the server's first
//!   offers (before any media), and at the start and the end of the
//!   measured window with everyone publishing and subscribing; the
//!   difference per member from the baseline (KiB), at both points;
//! - its CPU (utime + stime, all threads) over the window, % of one core,
//!   per forwarded stream and as packets forwarded per second per core;
//! - packets forwarded per second (received by the subscribers), loss,
//!   latency p50 / p99 / max publisher → subscriber;
//! - this tool's CPU and other processes' over the window, the
//!   `error` and `forward_failed` messages the members received, and the
//!   WARN and ERROR lines of the server's log (counted by kind, in all and
//!   within the window).
//!
//! **What it does not.** The synthetic members still run here, on the same
//! two cores: the latency includes their scheduling and their SRTP work,
//! and the server's CPU is measured while they compete with it. RSS is what
//! the kernel maps, allocator slack included (freed memory the allocator
//! keeps counts), so "per member" is a difference of two totals divided by
//! the members, the session's one forwarder included, not a heap profile.
//! One session, one run: no churn, no recording, no browsers.

use crate::forward::{self, ForwardArgs, Traffic};
use crate::procfs::{CpuUse, CpuWindows, Machine, Proc};
use crate::setup::{self, Seat, Server};
use crate::ws::WsClient;
use anyhow::{Context, Result, anyhow};
use cadre_tests::media::{SyntheticPublisher, SyntheticSubscriber};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout};

/// A wait on the server (a join, an answer, a connection).
const WAIT: Duration = Duration::from_secs(20);

/// CPU other processes may use (% of one core) for the machine to count
/// as quiet.
const QUIET_BELOW: f64 = 15.0;

/// Messages kept of each kind of trouble (the count is complete).
const KEPT: usize = 10;

/// Characters of a log line that tell its kind (some lines print a whole
/// packet).
const KIND_CHARS: usize = 120;

/// The server process's resident memory, KiB.
#[derive(Debug, Default, Serialize)]
pub struct Rss {
    /// The session created, nobody joined.
    pub baseline_kib: u64,
    /// Everyone joined and subscribed, no media yet.
    pub joined_kib: u64,
    /// Media flowing: as the measured window opens and as it closes.
    pub window_start_kib: u64,
    pub window_end_kib: u64,
    /// Media flowing: every second of the window.
    pub window_samples_kib: Vec<u64>,
    /// (joined − baseline) / members.
    pub joined_per_member_kib: f64,
    /// (window end − baseline) / members.
    pub per_member_kib: f64,
}

/// What one run measured.
#[derive(Debug, Serialize)]
pub struct ProcessReport {
    date: String,
    machine: Machine,
    command: String,
    members: usize,
    /// Tracks forwarded: members × (members − 1) × 2 (audio and video).
    forwarded_streams: usize,
    fps: u32,
    video_kbps: u32,
    simulcast: bool,
    duration_s: f64,
    #[serde(flatten)]
    flow: forward::Flow,
    /// The server process over the window; the tool; other processes.
    cpu: CpuUse,
    /// Server CPU per forwarded stream, % of a core.
    cpu_per_stream_pct: f64,
    /// Packets forwarded per second per core of the server process.
    forwarded_pps_per_core: f64,
    rss: Rss,
    /// The server's threads before anyone joined and at the window's end.
    server_threads: (Option<u64>, Option<u64>),
    /// `error` and `forward_failed` messages the members received (the
    /// first few).
    signalling_trouble: usize,
    signalling_trouble_first: Vec<String>,
    /// When the measured window opened and closed.
    window_utc: [DateTime<Utc>; 2],
    /// WARN and ERROR lines of the server's log, and the most frequent
    /// kinds of them: how many in all, how many within the window.
    log_warnings: usize,
    log_errors: usize,
    log_kinds: Vec<LogKind>,
    server_alive_at_end: bool,
}

impl ProcessReport {
    pub(crate) fn table(&self, shape: &str) -> String {
        let mib = |kib: u64| kib as f64 / 1024.0;
        let pct = |p: Option<f64>| p.map_or("?".to_owned(), |p| format!("{p:.1} %"));
        let r = &self.rss;
        let mut s = format!(
            "cadre-bench forward --process, {} members ({} forwarded streams), {shape}, {:.1} s\n{}\
             \x20 server CPU             {} of one core; {:.3} % per forwarded stream; {:.0} packets forwarded per second per core\n\
             \x20 others                 this tool {}, other processes {} (the members share the two cores with the server)\n\
             \x20 server RSS             baseline {:.1} MiB; joined {:.1} MiB ({:+.0} KiB per member); media flowing {:.1} → {:.1} MiB over the window, peak {:.1} ({:+.0} KiB per member at the end)\n\
             \x20 server threads         {:?} → {:?}\n",
            self.members,
            self.forwarded_streams,
            self.duration_s,
            self.flow.lines(),
            pct(self.cpu.server_pct),
            self.cpu_per_stream_pct,
            self.forwarded_pps_per_core,
            pct(self.cpu.tool_pct),
            pct(self.cpu.other_pct),
            mib(r.baseline_kib),
            mib(r.joined_kib),
            r.joined_per_member_kib,
            mib(r.window_start_kib),
            mib(r.window_end_kib),
            mib(r
                .window_samples_kib
                .iter()
                .fold(r.window_end_kib, |a, b| a.max(*b))),
            r.per_member_kib,
            self.server_threads.0,
            self.server_threads.1,
        );
        let _ = writeln!(
            s,
            "\x20 signalling trouble     {} message(s){}",
            self.signalling_trouble,
            if self.signalling_trouble > 0 {
                format!(": {}", self.signalling_trouble_first.join("; "))
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            s,
            "\x20 server log             {} WARN, {} ERROR line(s)",
            self.log_warnings, self.log_errors
        );
        if !self.log_kinds.is_empty() {
            let _ = writeln!(s, "\x20   in all / in the window, by kind:");
        }
        for k in &self.log_kinds {
            let _ = writeln!(s, "\x20   {:>6} / {:>6}  {}", k.count, k.in_window, k.kind);
        }
        if !self.server_alive_at_end {
            let _ = writeln!(s, "\x20 the server was not running at the end");
        }
        s
    }
}

/// Runs the mode (options already checked).
pub(crate) async fn run(a: &ForwardArgs) -> Result<ProcessReport> {
    let machine = Machine::detect();
    let mut extra = a.server_args.clone();
    for (name, value) in [("--media-mode", "forwarded"), ("--media-ip", "127.0.0.1")] {
        if !extra.iter().any(|x| x.starts_with(name)) {
            extra.push(format!("{name}={value}"));
        }
    }
    eprintln!(
        "starting {} serve --json-ready {}",
        a.server_bin.display(),
        extra.join(" ")
    );
    let mut server = Server::spawn(&a.server_bin, &extra, Duration::from_secs(60)).await?;
    eprintln!("server at {} (pid {:?})", server.url, server.pid);
    let result = drive(a, &server, machine).await;
    let alive = server.exited().is_none();
    server.stop(Duration::from_secs(5)).await;
    match result {
        Ok(mut report) => {
            report.server_alive_at_end = alive;
            let text = server
                .log_path
                .as_deref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default();
            let log = Log::of(&text, report.window_utc);
            (report.log_warnings, report.log_errors, report.log_kinds) =
                (log.warnings, log.errors, log.kinds);
            Ok(report)
        }
        Err(e) => {
            if let Some(path) = &server.log_path {
                let tail = setup::tail_of(path, 15);
                if !tail.is_empty() {
                    eprintln!("server stderr ends with:\n{tail}");
                }
            }
            Err(e)
        }
    }
}

async fn drive(a: &ForwardArgs, server: &Server, machine: Machine) -> Result<ProcessReport> {
    let server_proc = Proc::Pid(server.pid.context("the server's pid is unknown")?);
    let quiet = Duration::from_secs(a.wait_quiet);
    let seats = setup::create_sessions(server, &[a.members], 1, Duration::from_secs(60)).await?;
    crate::wait_quiet(Some(server_proc), quiet, QUIET_BELOW).await;
    sleep(Duration::from_secs(1)).await;
    let baseline = server_proc.rss_kib().context("the server's RSS")?;
    let threads_before = server_proc.threads();
    eprintln!(
        "server RSS {:.1} MiB before anyone joins; {} members join",
        baseline as f64 / 1024.0,
        a.members
    );
    let trouble = Arc::new(Trouble::default());
    let mut members = Vec::with_capacity(a.members);
    let result = call(
        a,
        server,
        server_proc,
        &seats,
        &mut members,
        &trouble,
        baseline,
    )
    .await;
    futures_util::future::join_all(members.into_iter().map(Member::close)).await;
    let Measured {
        flow,
        secs,
        cpu,
        rss,
        threads: threads_after,
        window,
    } = result?;
    let (count, first) = trouble.read();
    let streams = forward::forwarded_streams(a.members);
    let server_pct = cpu.server_pct.unwrap_or(0.0);
    Ok(ProcessReport {
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        machine,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        members: a.members,
        forwarded_streams: streams,
        fps: a.fps,
        video_kbps: a.video_kbps,
        simulcast: a.simulcast,
        duration_s: secs,
        cpu_per_stream_pct: server_pct / streams as f64,
        forwarded_pps_per_core: flow.per_core(server_pct),
        flow,
        cpu,
        rss,
        server_threads: (threads_before, threads_after),
        window_utc: window,
        signalling_trouble: count,
        signalling_trouble_first: first,
        log_warnings: 0,
        log_errors: 0,
        log_kinds: Vec::new(),
        server_alive_at_end: false,
    })
}

/// What the call measured.
struct Measured {
    flow: forward::Flow,
    /// The window's seconds.
    secs: f64,
    cpu: CpuUse,
    rss: Rss,
    /// The server's threads at the window's end.
    threads: Option<u64>,
    /// When the window opened and closed.
    window: [DateTime<Utc>; 2],
}

/// Everyone joins (into `members`, which the caller closes on every path),
/// publishes and subscribes; the media flows and is measured.
async fn call(
    a: &ForwardArgs,
    server: &Server,
    server_proc: Proc,
    seats: &[Seat],
    members: &mut Vec<Member>,
    trouble: &Arc<Trouble>,
    baseline: u64,
) -> Result<Measured> {
    let epoch = Instant::now();
    let ws_base = server.ws_base();
    for (i, seat) in seats.iter().enumerate() {
        members.push(Member::join(&ws_base, seat, format!("member {i}"), epoch, trouble).await?);
    }
    // The server offers each newcomer its subscribe connection: let the
    // answers land.
    sleep(Duration::from_secs(2)).await;
    let joined = server_proc.rss_kib().unwrap_or(0);
    eprintln!(
        "server RSS {:.1} MiB with {} members joined; publishing",
        joined as f64 / 1024.0,
        members.len()
    );
    for m in members.iter_mut() {
        m.publish(a).await?;
    }
    if a.simulcast {
        // Everyone shows member 0 large; the others stay thumbnails.
        let speaker = members[0].id.clone();
        for m in members.iter().skip(1) {
            m.send(json!({"type": "forward_view", "views": [{"id": speaker, "quality": "high"}]}))?;
        }
    }
    let publishers: Vec<Arc<SyntheticPublisher>> =
        members.iter().filter_map(|m| m.publisher.clone()).collect();
    let subscribers: Vec<Arc<SyntheticSubscriber>> =
        members.iter().map(|m| Arc::clone(&m.subscriber)).collect();
    let traffic = Traffic::start(&publishers, a, epoch);
    eprintln!("media flowing; waiting until everyone receives everyone");
    if let Err(e) = forward::warm_up(&subscribers, a.members).await {
        let (count, first) = trouble.read();
        return Err(e.context(format!(
            "{count} error or forward_failed message(s): {first:?}"
        )));
    }
    crate::wait_quiet(
        Some(server_proc),
        Duration::from_secs(a.wait_quiet),
        QUIET_BELOW,
    )
    .await;
    eprintln!("measuring {} s", a.duration);
    let (flow, secs, (cpu, start, end, samples, threads, window)) = forward::measure(
        &subscribers,
        traffic,
        a.members,
        Duration::from_secs(a.duration),
        || {
            (
                CpuWindows::open(Some(server_proc)),
                server_proc.rss_kib(),
                Sampler::start(server_proc),
                Utc::now(),
            )
        },
        |(w, start, sampler, opened)| {
            (
                w.read(),
                start,
                server_proc.rss_kib(),
                sampler.finish(),
                server_proc.threads(),
                [opened, Utc::now()],
            )
        },
    )
    .await;
    let per_member = |kib: u64| (kib as f64 - baseline as f64) / a.members as f64;
    let end = end.unwrap_or(0);
    let rss = Rss {
        baseline_kib: baseline,
        joined_kib: joined,
        window_start_kib: start.unwrap_or(0),
        window_end_kib: end,
        window_samples_kib: samples,
        joined_per_member_kib: per_member(joined),
        per_member_kib: per_member(end),
    };
    Ok(Measured {
        flow,
        secs,
        cpu,
        rss,
        threads,
        window,
    })
}

/// The server's RSS once a second while the window is open.
struct Sampler {
    samples: Arc<Mutex<Vec<u64>>>,
    task: JoinHandle<()>,
}

impl Sampler {
    fn start(server: Proc) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&samples);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(kib) = server.rss_kib() else { return };
                kept.lock().unwrap_or_else(|e| e.into_inner()).push(kib);
            }
        });
        Sampler { samples, task }
    }

    fn finish(self) -> Vec<u64> {
        self.task.abort();
        std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// `error` and `forward_failed` messages the members received.
#[derive(Default)]
struct Trouble(Mutex<(usize, Vec<String>)>);

impl Trouble {
    fn note(&self, who: &str, what: &Value) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        t.0 += 1;
        if t.1.len() < KEPT {
            t.1.push(format!("{who}: {what}"));
        }
    }

    fn read(&self) -> (usize, Vec<String>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One person: their WebSocket (serviced by a task of its own) and their
/// two connections to the server.
struct Member {
    /// Participant id.
    id: String,
    subscriber: Arc<SyntheticSubscriber>,
    publisher: Option<Arc<SyntheticPublisher>>,
    /// To the socket.
    out: mpsc::UnboundedSender<Value>,
    /// The server's `forward {side: "publish"}` data.
    answers: mpsc::UnboundedReceiver<Value>,
    task: JoinHandle<()>,
}

impl Member {
    /// Connects with the seat's link and starts servicing the socket.
    async fn join(
        ws_base: &str,
        seat: &Seat,
        label: String,
        epoch: Instant,
        trouble: &Arc<Trouble>,
    ) -> Result<Member> {
        let client = WsClient::connect(ws_base, &seat.sid, &seat.token, label, WAIT).await?;
        let id = client.id.clone();
        let subscriber = Arc::new(SyntheticSubscriber::counting(epoch).await);
        let (out, out_rx) = mpsc::unbounded_channel();
        let (answers_tx, answers) = mpsc::unbounded_channel();
        let task = tokio::spawn(service(
            client,
            Arc::clone(&subscriber),
            out_rx,
            answers_tx,
            Arc::clone(trouble),
        ));
        Ok(Member {
            id,
            subscriber,
            publisher: None,
            out,
            answers,
            task,
        })
    }

    fn send(&self, v: Value) -> Result<()> {
        self.out
            .send(v)
            .map_err(|_| anyhow!("{}: the socket is closed", self.id))
    }

    /// Offers a camera and a microphone on `forward {side: "publish"}` and
    /// waits for the connection.
    async fn publish(&mut self, a: &ForwardArgs) -> Result<()> {
        let p = Arc::new(forward::publisher(a).await);
        let offer = p.complete_offer().await;
        self.send(json!({"type": "forward", "side": "publish", "data": offer}))?;
        let answer = timeout(WAIT, self.answers.recv())
            .await
            .map_err(|_| anyhow!("{}: no publish answer within {WAIT:?}", self.id))?
            .with_context(|| format!("{}: the socket closed before the answer", self.id))?;
        // The publisher's helpers panic on failure: a task makes it an error.
        let connecting = Arc::clone(&p);
        let connected = tokio::spawn(async move {
            connecting.accept_answer(&answer).await;
            connecting.wait_connected(WAIT).await;
        })
        .await;
        self.publisher = Some(p);
        connected.map_err(|e| anyhow!("{}: publishing: {e}", self.id))
    }

    /// Leaves: the socket first (the server sees a departure), then the
    /// media connections.
    async fn close(self) {
        drop(self.out);
        let _ = timeout(Duration::from_secs(5), self.task).await;
        if let Some(p) = &self.publisher {
            p.close().await;
        }
        self.subscriber.close().await;
    }
}

/// Reads a member's socket: answers the server's subscribe offers, hands
/// publish answers over, notes errors; sends what `out` gives; closes the
/// socket when `out` closes.
async fn service(
    mut client: WsClient,
    subscriber: Arc<SyntheticSubscriber>,
    mut out: mpsc::UnboundedReceiver<Value>,
    answers: mpsc::UnboundedSender<Value>,
    trouble: Arc<Trouble>,
) {
    loop {
        tokio::select! {
            m = client.recv() => {
                let Some(m) = m else {
                    trouble.note(&client.label, &json!("the socket closed"));
                    return;
                };
                match (m["type"].as_str(), m["side"].as_str()) {
                    (Some("forward"), Some("subscribe")) if m["data"]["type"] == "offer" => {
                        let answer = subscriber.answer(&m["data"]).await;
                        let reply = json!({"type": "forward", "side": "subscribe", "data": answer});
                        if client.send(&reply).is_err() {
                            return;
                        }
                    }
                    (Some("forward"), Some("publish")) => {
                        let _ = answers.send(m["data"].clone());
                    }
                    (Some("error" | "forward_failed"), _) => trouble.note(&client.label, &m),
                    _ => {}
                }
            }
            v = out.recv() => match v {
                Some(v) => {
                    if client.send(&v).is_err() {
                        return;
                    }
                }
                None => break,
            },
        }
    }
    client.close().await;
}

/// One kind of WARN or ERROR line of the server's log: the start of the
/// line without its time, colour codes and numbers.
#[derive(Debug, PartialEq, Serialize)]
pub struct LogKind {
    count: usize,
    /// Lines of this kind logged within the measured window.
    in_window: usize,
    kind: String,
}

/// The WARN and ERROR lines of the server's log.
#[derive(Debug, Default)]
struct Log {
    warnings: usize,
    errors: usize,
    /// The most frequent kinds, most first.
    kinds: Vec<LogKind>,
}

impl Log {
    /// Reads `text`; lines stamped within `window` are counted apart.
    fn of(text: &str, window: [DateTime<Utc>; 2]) -> Log {
        let mut log = Log::default();
        let mut kinds = std::collections::HashMap::<String, (usize, usize)>::new();
        for line in text.lines() {
            let plain = strip_colours(line);
            // The time, then the level.
            let mut fields = plain.split_whitespace();
            let at = fields
                .next()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            match fields.clone().next() {
                Some("WARN") => log.warnings += 1,
                Some("ERROR") => log.errors += 1,
                _ => continue,
            }
            let mut kind = String::new();
            for c in fields
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(KIND_CHARS)
            {
                if !c.is_ascii_digit() {
                    kind.push(c);
                } else if !kind.ends_with('#') {
                    kind.push('#');
                }
            }
            let counts = kinds.entry(kind).or_default();
            counts.0 += 1;
            if at.is_some_and(|at| window[0] <= at && at <= window[1]) {
                counts.1 += 1;
            }
        }
        log.kinds = kinds
            .into_iter()
            .map(|(kind, (count, in_window))| LogKind {
                count,
                in_window,
                kind,
            })
            .collect();
        log.kinds
            .sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.kind.cmp(&b.kind)));
        log.kinds.truncate(KEPT);
        log
    }
}

/// `line` without its ANSI colour sequences (`ESC [ … m`).
fn strip_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_and_errors_are_counted_by_kind_with_or_without_colours() {
        let text = "2026-12-03T12:00:00.000001Z  INFO cadre: listening\n\
                    \u{1b}[2m2026-12-03T12:00:01.000001Z\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m \u{1b}[2mcadre_server::forward\u{1b}[0m: packet 12 late\n\
                    2026-12-03T12:00:02.000001Z  WARN cadre_server::forward: packet 345 late\n\
                    2026-12-03T12:00:03.000001Z ERROR cadre_server::forward: a tick panicked\n\
                    2026-12-03T12:00:03.000001Z  INFO cadre: said WARN in a message\n";
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("a time");
        let window = [at("2026-12-03T12:00:01.5Z"), at("2026-12-03T12:00:02.5Z")];
        let log = Log::of(text, window);
        assert_eq!((log.warnings, log.errors), (2, 1), "{log:?}");
        let kind = |count, in_window, kind: &str| LogKind {
            count,
            in_window,
            kind: kind.to_owned(),
        };
        assert_eq!(
            log.kinds,
            vec![
                kind(2, 1, "WARN cadre_server::forward: packet # late"),
                kind(1, 0, "ERROR cadre_server::forward: a tick panicked"),
            ]
        );
    }
}
