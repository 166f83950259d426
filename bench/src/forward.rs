//! `cadre-bench forward`: the forwarding core (`server/src/forward/`) under
//! synthetic webrtc-rs publishers and subscribers, all in this process over
//! UDP on loopback. Each member publishes a camera (VP8-sized packets at
//! `--fps` and `--video-kbps`) and a microphone (an 80-byte packet every
//! 20 ms) and subscribes to every other member.
//!
//! The forwarder runs on its own runtime, whose threads are named
//! `forwarder`: its CPU is read per thread from `/proc/self/task`, apart
//! from the publishers' and subscribers' (which, on two cores, compete with
//! it: the latency measured includes their scheduling).
//!
//! With `--simulcast`, each camera is sent in three encodings as a browser
//! sends it (the lowest at `--video-kbps`, then 500 and 1,200 kbit/s), and
//! every subscriber shows member 0 large (the speaker: its highest layer)
//! and everyone else as a thumbnail (their lowest layer): the server
//! receives every layer and forwards the one each tile needs.
//!
//! Memory per member cannot be measured here (one process holds both
//! sides): `--process` runs the real `cadre` binary in a process of its
//! own, driven through its WebSocket signalling (`forward_process.rs`), and
//! reports that process's RSS before anyone joins and with everyone in,
//! the difference per member, and its CPU (BENCHMARKS.md, "Forwarding
//! through the server", run 4).

use anyhow::{Context, Result, bail};
use cadre_server::forward::{ForwardEvent, Forwarder};
use cadre_tests::media::{SyntheticPublisher, SyntheticSubscriber, timed_payload};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Largest RTP payload of a video packet.
const MTU_PAYLOAD: usize = 1200;

/// `cadre-bench forward` options.
#[derive(Debug, clap::Args)]
pub struct ForwardArgs {
    /// Members (2..=30): each publishes and subscribes to all the others.
    #[arg(long, default_value_t = 10)]
    pub(crate) members: usize,
    /// Seconds measured, after everyone receives everyone (1..=120).
    #[arg(long, default_value_t = 10)]
    pub(crate) duration: u64,
    /// Video frames per second per publisher (1..=60).
    #[arg(long, default_value_t = 15)]
    pub(crate) fps: u32,
    /// Video bitrate per publisher in kbit/s (a thumbnail by default).
    #[arg(long, default_value_t = 150)]
    pub(crate) video_kbps: u32,
    /// No server: with two members, each publisher connects straight to
    /// the other's subscriber, to tell what forwarding adds to the same
    /// clients' latency.
    #[arg(long)]
    direct: bool,
    /// Cameras in three simulcast encodings; member 0 is everyone's
    /// speaker (highest layer), the others thumbnails (lowest).
    #[arg(long)]
    pub(crate) simulcast: bool,
    /// Threads of the forwarder's runtime.
    #[arg(long, default_value_t = 1)]
    forwarder_threads: usize,
    /// The server as a process of its own: the `cadre` binary
    /// (`--server-bin`) started with `--media-mode forwarded` and driven
    /// through its WebSocket signalling; reports its memory per member.
    #[arg(long, conflicts_with_all = ["direct", "forwarder_threads"])]
    pub(crate) process: bool,
    /// With --process: the server binary, started as `PATH serve --bind
    /// 127.0.0.1:0 --data-dir <tmp> --json-ready --media-mode forwarded
    /// --media-ip 127.0.0.1 [--server-arg ...]`.
    #[arg(long, default_value = "target/release/cadre", requires = "process")]
    pub(crate) server_bin: PathBuf,
    /// With --process: an extra argument for the server (repeatable).
    #[arg(long = "server-arg", allow_hyphen_values = true, requires = "process")]
    pub(crate) server_args: Vec<String>,
    /// With --process: before the baseline and before the measured window,
    /// wait up to this many seconds for other processes to use less than
    /// 15 % of a core (0: don't; at most 3600).
    #[arg(long, default_value_t = 60, requires = "process")]
    pub(crate) wait_quiet: u64,
    /// Print a JSON summary on stdout (the table goes to stderr).
    #[arg(long)]
    pub(crate) json: bool,
}

/// What the subscribers received over a measured window.
#[derive(Debug, Serialize)]
pub struct Flow {
    /// Packets the publishers sent, per second.
    pub sent_pps: f64,
    /// Packets the subscribers received, per second.
    pub received_pps: f64,
    /// Of the packets that should have arrived (sent × (members − 1)).
    pub lost_pct: f64,
    /// Publisher → subscriber, same clock.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
}

impl Flow {
    /// The packets and latency lines of a table.
    pub(crate) fn lines(&self) -> String {
        format!(
            "\x20 packets                sent {:.0}/s, received {:.0}/s, lost {:.2} %\n\
             \x20 latency (publisher → subscriber)  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms\n",
            self.sent_pps,
            self.received_pps,
            self.lost_pct,
            self.latency_p50_ms,
            self.latency_p99_ms,
            self.latency_max_ms,
        )
    }

    /// Packets forwarded per second per core of `cpu_pct` (% of one core).
    pub(crate) fn per_core(&self, cpu_pct: f64) -> f64 {
        if cpu_pct > 0.0 {
            self.received_pps / (cpu_pct / 100.0)
        } else {
            0.0
        }
    }
}

/// What one run measured.
#[derive(Debug, Serialize)]
pub struct ForwardReport {
    members: usize,
    /// Tracks forwarded: members × (members − 1) × 2 (audio and video).
    forwarded_streams: usize,
    fps: u32,
    video_kbps: u32,
    duration_s: f64,
    #[serde(flatten)]
    flow: Flow,
    /// The forwarder's threads, % of one core.
    forwarder_cpu_pct: f64,
    /// The whole process (publishers, subscribers, forwarder).
    process_cpu_pct: f64,
    /// Forwarder CPU per forwarded stream, % of one core.
    cpu_per_stream_pct: f64,
    /// Packets forwarded per second per core of the forwarder.
    forwarded_pps_per_core: f64,
    forwarder_threads: usize,
    simulcast: bool,
    /// No server: publishers straight to subscribers.
    direct: bool,
}

/// Bit rates of a simulcast camera's middle and highest encodings, kbit/s.
const UPPER_LAYERS_KBPS: [u32; 2] = [500, 1200];

/// Tracks forwarded in a call of `members`: each member's audio and video
/// to every other.
pub(crate) fn forwarded_streams(members: usize) -> usize {
    members * (members - 1) * 2
}

/// How the run's cameras are described in a table's first line.
pub(crate) fn shape(a: &ForwardArgs) -> String {
    format!(
        "video {} fps at {} kbit/s{}",
        a.fps,
        a.video_kbps,
        if a.simulcast {
            " (simulcast: 3 layers sent, member 0 at the highest, the others at the lowest)"
        } else if a.direct {
            " (direct: no server, each publisher straight to the other's subscriber)"
        } else {
            ""
        }
    )
}

impl ForwardReport {
    fn table(&self, shape: &str) -> String {
        format!(
            "cadre-bench forward, {} members ({} forwarded streams), {shape}, {:.1} s\n{}\
             \x20 forwarder CPU          {:.1} % of one core ({} thread(s)); whole process {:.1} %\n\
             \x20 per forwarded stream   {:.3} % of a core; {:.0} packets forwarded per second per core\n",
            self.members,
            self.forwarded_streams,
            self.duration_s,
            self.flow.lines(),
            self.forwarder_cpu_pct,
            self.forwarder_threads,
            self.process_cpu_pct,
            self.cpu_per_stream_pct,
            self.forwarded_pps_per_core,
        )
    }
}

/// CPU seconds of this process's threads named `name` (all when `None`).
fn threads_cpu(name: Option<&str>) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut seconds = 0.0;
    for task in tasks.flatten() {
        let path = task.path();
        if let Some(name) = name {
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if comm.trim() != name {
                continue;
            }
        }
        seconds += crate::procfs::stat_cpu_seconds(&path.join("stat")).unwrap_or(0.0);
    }
    seconds
}

fn validate(a: &ForwardArgs) -> Result<()> {
    if !(2..=30).contains(&a.members) {
        bail!("--members must be within 2..=30");
    }
    if !(1..=120).contains(&a.duration) {
        bail!("--duration must be within 1..=120 s");
    }
    if !(1..=60).contains(&a.fps) {
        bail!("--fps must be within 1..=60");
    }
    if a.video_kbps == 0 || a.video_kbps > 5000 {
        bail!("--video-kbps must be within 1..=5000");
    }
    if !(1..=4).contains(&a.forwarder_threads) {
        bail!("--forwarder-threads must be within 1..=4");
    }
    if a.direct && (a.members != 2 || a.simulcast || a.process) {
        bail!("--direct takes --members 2, and neither --simulcast nor --process");
    }
    if a.wait_quiet > 3600 {
        bail!("--wait-quiet must be at most 3600 seconds");
    }
    Ok(())
}

/// Runs the bench.
pub fn main(args: ForwardArgs) -> ExitCode {
    if let Err(e) = validate(&args) {
        eprintln!("cadre-bench forward: {e:#}");
        return ExitCode::from(2);
    }
    // The synthetic publishers and subscribers: two threads.
    let members = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("members")
        .enable_all()
        .build();
    let shape = shape(&args);
    if args.process {
        let Ok(members) = members else {
            eprintln!("cadre-bench forward: cannot start the runtime");
            return ExitCode::FAILURE;
        };
        let result = members.block_on(crate::forward_process::run(&args));
        members.shutdown_timeout(Duration::from_secs(3));
        return crate::finish(
            result,
            |r| r.table(&shape),
            args.json,
            "cadre-bench forward --process",
        );
    }
    let forwarding = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.forwarder_threads)
        .thread_name("forwarder")
        .enable_all()
        .build();
    let (Ok(forwarding), Ok(members)) = (forwarding, members) else {
        eprintln!("cadre-bench forward: cannot start the runtimes");
        return ExitCode::FAILURE;
    };
    let result = members.block_on(run(&args, forwarding.handle().clone()));
    members.shutdown_timeout(Duration::from_secs(3));
    forwarding.shutdown_timeout(Duration::from_secs(3));
    crate::finish(
        result,
        |r| r.table(&shape),
        args.json,
        "cadre-bench forward",
    )
}

/// A member's synthetic camera and microphone, as the run's options say.
pub(crate) async fn publisher(a: &ForwardArgs) -> SyntheticPublisher {
    SyntheticPublisher::with_config(cadre_tests::media::PublisherConfig {
        simulcast: a.simulcast,
        ..Default::default()
    })
    .await
}

/// The publishers' timed media, sent by hand: each camera's frames (each
/// layer's, simulcast) at `--fps` in packets of at most [`MTU_PAYLOAD`],
/// and an 80-byte audio packet every 20 ms, every payload made by
/// [`timed_payload`].
pub(crate) struct Traffic {
    stop: CancellationToken,
    /// What should reach each of the others: audio, and the layer they are
    /// sent (member 0's highest with simulcast, everyone else's lowest).
    sent: Arc<AtomicU64>,
    loops: Vec<JoinHandle<()>>,
}

impl Traffic {
    /// Starts every publisher's loops; `publishers[0]` is member 0.
    pub(crate) fn start(
        publishers: &[Arc<SyntheticPublisher>],
        a: &ForwardArgs,
        epoch: Instant,
    ) -> Traffic {
        let layers_kbps: Vec<u32> = if a.simulcast {
            std::iter::once(a.video_kbps)
                .chain(UPPER_LAYERS_KBPS)
                .collect()
        } else {
            vec![a.video_kbps]
        };
        let stop = CancellationToken::new();
        let sent = Arc::new(AtomicU64::new(0));
        let mut loops = Vec::new();
        for (index, publisher) in publishers.iter().enumerate() {
            let (p, halt, count, fps, layers_kbps) = (
                Arc::clone(publisher),
                stop.clone(),
                Arc::clone(&sent),
                a.fps,
                layers_kbps.clone(),
            );
            let simulcast = a.simulcast;
            // What the others are sent of this camera: the highest layer of
            // the speaker (member 0), the lowest of everyone else.
            let forwarded = if simulcast && index == 0 {
                layers_kbps.len() - 1
            } else {
                0
            };
            loops.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / fps as f64));
                let mut clocks: Vec<u16> = vec![0; layers_kbps.len()];
                let mut ts = 0u32;
                while !halt.is_cancelled() {
                    tick.tick().await;
                    for (layer, kbps) in layers_kbps.iter().enumerate() {
                        let frame_bytes = (*kbps as usize * 1000 / 8 / fps as usize).max(9);
                        let packets = frame_bytes.div_ceil(MTU_PAYLOAD);
                        for k in 0..packets {
                            let len = MTU_PAYLOAD.min(frame_bytes - k * MTU_PAYLOAD);
                            let last = k + 1 == packets;
                            let seq = clocks[layer];
                            let payload = timed_payload(epoch, len);
                            let ok = if simulcast {
                                p.send_layer(layer, seq, ts, last, payload).await
                            } else {
                                p.send_video(seq, ts, last, payload).await
                            };
                            if ok && layer == forwarded {
                                count.fetch_add(1, Relaxed);
                            }
                            clocks[layer] = seq.wrapping_add(1);
                        }
                    }
                    ts = ts.wrapping_add(90_000 / fps);
                }
            }));
            let (p, stop, sent) = (Arc::clone(publisher), stop.clone(), Arc::clone(&sent));
            loops.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(20));
                let (mut seq, mut ts) = (0u16, 0u32);
                while !stop.is_cancelled() {
                    tick.tick().await;
                    if p.send_audio(seq, ts, timed_payload(epoch, 80)).await {
                        sent.fetch_add(1, Relaxed);
                    }
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(960);
                }
            }));
        }
        Traffic { stop, sent, loops }
    }

    /// Stops the loops and waits for them.
    async fn stop(self) {
        self.stop.cancel();
        for l in self.loops {
            let _ = l.await;
        }
    }
}

/// Waits (at most 60 s) until every subscriber receives the two tracks of
/// every other member, then one more second.
pub(crate) async fn warm_up(
    subscribers: &[Arc<SyntheticSubscriber>],
    members: usize,
) -> Result<()> {
    let want = 2 * (members - 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = subscribers
            .iter()
            .all(|s| s.received().iter().filter(|r| r.count > 0).count() >= want);
        if ready {
            break;
        }
        if Instant::now() > deadline {
            let short = subscribers
                .iter()
                .filter(|s| s.received().iter().filter(|r| r.count > 0).count() < want)
                .count();
            bail!(
                "not every member receives every other after 60 s ({short} of {} receive fewer than {want} tracks)",
                subscribers.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

/// Packets received so far and each track's latencies kept so far.
fn marks(subscribers: &[Arc<SyntheticSubscriber>]) -> (u64, Vec<Vec<usize>>) {
    let mut count = 0;
    let mut kept = Vec::new();
    for s in subscribers {
        let received = s.received();
        count += received.iter().map(|r| r.count).sum::<u64>();
        kept.push(received.iter().map(|r| r.latencies_us.len()).collect());
    }
    (count, kept)
}

/// Measures `duration` of `traffic` (running, warmed up): `open` is called
/// as the window opens and `close` with its result as it closes, before
/// the traffic stops; then the packets still in flight arrive. Returns the
/// flow, the window's seconds and what `close` returned.
pub(crate) async fn measure<W, R>(
    subscribers: &[Arc<SyntheticSubscriber>],
    traffic: Traffic,
    members: usize,
    duration: Duration,
    open: impl FnOnce() -> W,
    close: impl FnOnce(W) -> R,
) -> (Flow, f64, R) {
    let (received0, lat_start) = marks(subscribers);
    let sent0 = traffic.sent.load(Relaxed);
    let (window, t0) = (open(), Instant::now());
    tokio::time::sleep(duration).await;
    let (closed, elapsed) = (close(window), t0.elapsed());
    let sent1 = traffic.sent.load(Relaxed);
    traffic.stop().await;
    // Packets in flight at the end arrive within a few milliseconds.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (received1, _) = marks(subscribers);
    let mut latencies: Vec<u32> = Vec::new();
    for (s, starts) in subscribers.iter().zip(&lat_start) {
        for (i, r) in s.received().iter().enumerate() {
            let from = starts.get(i).copied().unwrap_or(0);
            latencies.extend_from_slice(&r.latencies_us[from.min(r.latencies_us.len())..]);
        }
    }
    latencies.sort_unstable();
    let pct = |q: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i] as f64 / 1000.0
    };
    let secs = elapsed.as_secs_f64();
    let sent_n = (sent1 - sent0) as f64;
    let received_n = received1.saturating_sub(received0) as f64;
    let expected = sent_n * (members - 1) as f64;
    let flow = Flow {
        sent_pps: sent_n / secs,
        received_pps: received_n / secs,
        lost_pct: if expected > 0.0 {
            ((expected - received_n) / expected * 100.0).max(0.0)
        } else {
            0.0
        },
        latency_p50_ms: pct(0.50),
        latency_p99_ms: pct(0.99),
        latency_max_ms: pct(1.0),
    };
    (flow, secs, closed)
}

async fn run(a: &ForwardArgs, fwd: tokio::runtime::Handle) -> Result<ForwardReport> {
    let ids: Vec<String> = (0..a.members).map(|i| format!("p_{i:02}")).collect();
    let (forwarder, mut events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let epoch = Instant::now();
    let mut subscribers = std::collections::HashMap::new();
    for id in &ids {
        if !a.direct {
            let (f, id2) = (forwarder.clone(), id.clone());
            fwd.spawn(async move { f.join(&id2).await })
                .await?
                .with_context(|| format!("join {id}"))?;
        }
        subscribers.insert(
            id.clone(),
            Arc::new(SyntheticSubscriber::counting(epoch).await),
        );
    }
    let subscribers = Arc::new(subscribers);
    let pump = {
        let (forwarder, subscribers, fwd) =
            (forwarder.clone(), Arc::clone(&subscribers), fwd.clone());
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let (member, description) = match event {
                    ForwardEvent::Offer {
                        member,
                        description,
                    } => (member, description),
                    // The server's view of each member, every second.
                    ForwardEvent::Conditions { .. } => continue,
                    other => {
                        eprintln!("{other:?}");
                        continue;
                    }
                };
                let Some(subscriber) = subscribers.get(&member) else {
                    continue;
                };
                let answer = subscriber.answer(&description).await;
                let f = forwarder.clone();
                let answered = fwd
                    .spawn(async move { f.answer(&member, &answer).await })
                    .await;
                if !matches!(answered, Ok(Ok(()))) {
                    eprintln!("an answer was refused: {answered:?}");
                }
            }
        })
    };
    let mut publishers = Vec::new();
    for id in &ids {
        let publisher = Arc::new(publisher(a).await);
        let offer = publisher.complete_offer().await;
        let answer = if a.direct {
            // Straight to the other member's subscriber.
            let other = ids.iter().find(|o| *o != id).context("two members")?;
            subscribers[other].answer(&offer).await
        } else {
            let (f, id2) = (forwarder.clone(), id.clone());
            fwd.spawn(async move { f.publish(&id2, &offer).await })
                .await?
                .with_context(|| format!("publish {id}"))?
        };
        publisher.accept_answer(&answer).await;
        publisher.wait_connected(Duration::from_secs(20)).await;
        publishers.push(publisher);
    }

    if a.simulcast {
        // Everyone shows member 0 large; the others stay thumbnails.
        for id in ids.iter().skip(1) {
            let (f, id) = (forwarder.clone(), id.clone());
            let speaker = ids[0].clone();
            fwd.spawn(async move {
                f.view(
                    &id,
                    &[(speaker, cadre_protocol::signalling::VideoQuality::High)],
                )
                .await
            })
            .await?
            .context("a view")?;
        }
    }
    let all: Vec<Arc<SyntheticSubscriber>> = subscribers.values().cloned().collect();
    let traffic = Traffic::start(&publishers, a, epoch);
    warm_up(&all, a.members).await?;
    let cpu = || (threads_cpu(Some("forwarder")), threads_cpu(None));
    let (flow, secs, (fwd_cpu, all_cpu)) = measure(
        &all,
        traffic,
        a.members,
        Duration::from_secs(a.duration),
        cpu,
        |(f0, a0)| {
            let (f1, a1) = cpu();
            (f1 - f0, a1 - a0)
        },
    )
    .await;

    // Offers made while everyone leaves have nobody to answer them.
    pump.abort();
    let f = forwarder.clone();
    let _ = fwd.spawn(async move { f.close().await }).await;
    for p in &publishers {
        p.close().await;
    }
    for s in &all {
        s.close().await;
    }

    let fwd_cpu = fwd_cpu / secs * 100.0;
    let streams = forwarded_streams(a.members);
    Ok(ForwardReport {
        members: a.members,
        forwarded_streams: streams,
        fps: a.fps,
        video_kbps: a.video_kbps,
        duration_s: secs,
        forwarder_cpu_pct: fwd_cpu,
        process_cpu_pct: all_cpu / secs * 100.0,
        cpu_per_stream_pct: fwd_cpu / streams as f64,
        forwarded_pps_per_core: flow.per_core(fwd_cpu),
        flow,
        forwarder_threads: a.forwarder_threads,
        simulcast: a.simulcast,
        direct: a.direct,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The subcommand's options as the command line gives them.
    #[derive(Debug, Parser)]
    struct Line {
        #[command(flatten)]
        forward: ForwardArgs,
    }

    fn parse(words: &[&str]) -> Result<ForwardArgs, clap::Error> {
        Line::try_parse_from(std::iter::once("forward").chain(words.iter().copied()))
            .map(|l| l.forward)
    }

    fn args(
        members: usize,
        duration: u64,
        fps: u32,
        video_kbps: u32,
        threads: usize,
    ) -> ForwardArgs {
        let mut a = parse(&[]).expect("the defaults");
        (a.members, a.duration, a.fps, a.video_kbps) = (members, duration, fps, video_kbps);
        a.forwarder_threads = threads;
        a
    }

    #[test]
    fn out_of_range_options_are_refused_with_their_name() {
        assert!(validate(&args(10, 10, 15, 150, 1)).is_ok());
        for (bad, name) in [
            (args(1, 10, 15, 150, 1), "--members"),
            (args(31, 10, 15, 150, 1), "--members"),
            (args(10, 0, 15, 150, 1), "--duration"),
            (args(10, 10, 0, 150, 1), "--fps"),
            (args(10, 10, 15, 0, 1), "--video-kbps"),
            (args(10, 10, 15, 150, 0), "--forwarder-threads"),
        ] {
            let e = validate(&bad).expect_err(name).to_string();
            assert!(e.contains(name), "{e}");
        }
    }

    #[test]
    fn the_process_mode_is_bounded_and_takes_only_its_options() {
        let ok = parse(&[
            "--process",
            "--members",
            "30",
            "--duration",
            "120",
            "--simulcast",
        ])
        .expect("a process run");
        assert!(ok.process && validate(&ok).is_ok());
        for (words, name) in [
            (&["--process", "--members", "31"][..], "--members"),
            (&["--process", "--members", "1"], "--members"),
            (&["--process", "--duration", "121"], "--duration"),
            (&["--process", "--wait-quiet", "3601"], "--wait-quiet"),
        ] {
            let a = parse(words).expect("parses");
            let e = validate(&a).expect_err(name).to_string();
            assert!(e.contains(name), "{e}");
        }
        // The in-process options are not the server's; the server's need
        // the process.
        for words in [
            &["--process", "--direct"][..],
            &["--process", "--forwarder-threads", "2"],
            &["--server-arg=--forwarded-members=30"],
            &["--server-bin", "cadre"],
            &["--wait-quiet", "0"],
        ] {
            assert!(parse(words).is_err(), "{words:?} was taken");
        }
    }
}
