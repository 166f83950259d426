//! `cadre-bench playable`: what making a segment playable costs. A server
//! in-process (the integration tests' `TestServer`), `--people` webrtc-rs
//! publishers sending real VP8 (ffmpeg's test pattern, encoded once at the
//! start and sent in a loop) and Opus for `--seconds`; recording stops, and
//! the bench waits for the playable files (bounded by `--max-wait`).
//!
//! Reported, from the ledger's entry times and `/proc/self/stat`:
//! - the people's WebM files: from `recording_stopped` to the last person's
//!   `recording_derived` (in-process muxing, hashing, ledger writes);
//! - the composed view: from there to its `recording_derived` (ffmpeg),
//!   and ffmpeg's CPU time: the bench's reaped children (`cutime` +
//!   `cstime`), which are only the job's ffmpeg runs.
//!
//! Needs `ffmpeg` on the PATH. Loopback only.

use crate::procfs::Machine;
use crate::wait_quiet;
use anyhow::{Context, Result, anyhow, bail};
use cadre_tests::media::{PublisherConfig, SyntheticPublisher};
use cadre_tests::{Client, PEOPLE, TestServer};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Options of `cadre-bench playable`.
#[derive(Debug, clap::Args)]
pub struct PlayableArgs {
    /// People recorded (2..=4).
    #[arg(long, default_value_t = 3)]
    people: usize,
    /// Length of the recorded segment, in seconds (1..=600).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Camera frames per second.
    #[arg(long, default_value_t = 20)]
    fps: u32,
    /// Camera size, `WxH`.
    #[arg(long, default_value = "640x360")]
    size: String,
    /// Longest wait for the playable files after the segment closed (s).
    #[arg(long, default_value_t = 900)]
    max_wait: u64,
    /// Wait up to this many seconds for the machine to be quiet first.
    #[arg(long, default_value_t = 120)]
    wait_quiet: u64,
}

pub fn main(args: PlayableArgs) -> ExitCode {
    crate::on_two_threads("cadre-bench playable", run(args))
}

/// The camera: ffmpeg's test pattern in VP8, a keyframe every 2 s.
fn pattern(fps: u32, size: &str) -> Result<Arc<Vec<Vec<u8>>>> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=s={size}:r={fps}:d=10"))
        .args([
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-b:v",
            "600k",
            "-g",
        ])
        .arg((fps * 2).to_string())
        .args(["-f", "ivf", "-"])
        .output()
        .context("running ffmpeg")?;
    if !out.status.success() {
        bail!("ffmpeg: {}", String::from_utf8_lossy(&out.stderr));
    }
    let b = out.stdout;
    let mut frames = Vec::new();
    let mut at = 32;
    while at + 12 <= b.len() {
        let len = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
        let end = (at + 12 + len).min(b.len());
        frames.push(b[at + 12..end].to_vec());
        at = end;
    }
    if frames.is_empty() {
        bail!("ffmpeg made no frame");
    }
    Ok(Arc::new(frames))
}

async fn publish(
    client: &mut Client,
    segment: u64,
    frames: &Arc<Vec<Vec<u8>>>,
    fps: u32,
    size: (u16, u16),
) -> SyntheticPublisher {
    let publisher = SyntheticPublisher::with_config(PublisherConfig {
        encoded: Some(Arc::clone(frames)),
        fps,
        size,
        ..PublisherConfig::default()
    })
    .await;
    let offer = publisher.offer().await;
    client
        .send_json(&json!({"type": "recorder_signal", "segment": segment, "data": offer}))
        .await;
    for candidate in publisher.candidates().await {
        client
            .send_json(&json!({"type": "recorder_signal", "segment": segment, "data": candidate}))
            .await;
    }
    let (answer, _) = client
        .skip_until("the recorder's answer", |m| {
            m["type"] == "recorder_signal" || m["type"] == "error"
        })
        .await;
    publisher.accept_answer(&answer["data"]).await;
    publisher.wait_connected(Duration::from_secs(15)).await;
    publisher.start_media();
    publisher
}

/// CPU seconds of this process's waited-for children (`cutime` + `cstime`).
fn children_cpu() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are fields 16 and 17: indices 13 and 14 from field 3.
    let ticks: f64 = f.get(13)?.parse::<f64>().ok()? + f.get(14)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn ts(e: &Value) -> i64 {
    e["ts"].as_i64().unwrap_or(0)
}

async fn run(a: PlayableArgs) -> Result<()> {
    if !(2..=4).contains(&a.people) || !(1..=600).contains(&a.seconds) {
        bail!("--people must be 2 to 4 and --seconds 1 to 600");
    }
    let (w, h) = a
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u16>().ok()?, h.parse::<u16>().ok()?)))
        .ok_or_else(|| anyhow!("--size must be WxH"))?;
    let machine = Machine::detect();
    wait_quiet(None, Duration::from_secs(a.wait_quiet), 15.0).await;
    let frames = pattern(a.fps, &a.size)?;
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE[..a.people]).await;
    let sid = session.id.clone();
    let (hash, first, second, _) = server
        .recording_together(&session, PEOPLE[0].0, PEOPLE[1].0)
        .await;
    let mut clients = vec![first, second];
    let mut segment = 1;
    for (name, _) in &PEOPLE[2..a.people] {
        // A newcomer closes the (empty) segment until they agree too.
        let mut c = server.join(&session, name).await;
        c.decide_recording(&hash, true).await;
        segment += 1;
        clients.push(c);
    }
    for c in &mut clients {
        c.recording_state("the last segment", |r| {
            r["active"] == true && r["segment"] == segment
        })
        .await;
    }
    let mut publishers = Vec::new();
    for c in &mut clients {
        publishers.push(publish(c, segment, &frames, a.fps, (w, h)).await);
    }
    eprintln!(
        "recording {} people for {} s ({}x{} at {} frames/s, segment {segment})",
        a.people, a.seconds, w, h, a.fps
    );
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    let jobs = server.app().recorder().jobs().clone();
    // Earlier segments were empty; nothing is queued yet.
    jobs.idle().await;
    let cpu_before = children_cpu();
    clients[0]
        .send_json(&json!({"type": "recording", "armed": false}))
        .await;
    let stopped = server
        .wait_ledger(&sid, "recording_stopped", segment as usize)
        .await;
    for p in &publishers {
        p.close().await;
    }
    let made = tokio::time::timeout(Duration::from_secs(a.max_wait), jobs.idle()).await;
    let cpu_after = children_cpu();
    if made.is_err() {
        bail!("the playable files were not made within {} s", a.max_wait);
    }
    let stopped_at = ts(stopped.last().context("recording_stopped")?);
    let derived = server.ledger_entries(&sid, "recording_derived").await;
    let people_done = derived
        .iter()
        .filter(|e| e["payload"]["kind"] == "person")
        .map(ts)
        .max()
        .context("no person's file was made")?;
    let composed = derived
        .iter()
        .find(|e| e["payload"]["kind"] == "composed")
        .context("no composed view was made (is ffmpeg installed?)")?;
    let cpu = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) => a - b,
        _ => f64::NAN,
    };
    let composed_s = (ts(composed) - people_done) as f64 / 1000.0;
    let summary = json!({
        "machine": machine,
        "people": a.people,
        "segment_s": a.seconds,
        "camera": format!("{w}x{h}@{}", a.fps),
        "person_files": derived.iter().filter(|e| e["payload"]["kind"] == "person").count(),
        "person_files_s": (people_done - stopped_at) as f64 / 1000.0,
        "composed_s": composed_s,
        "composed_duration_ms": composed["payload"]["duration_ms"],
        "composed_bytes": composed["payload"]["bytes"],
        "ffmpeg_cpu_s": cpu,
        "ffmpeg_cpu_pct_of_one_core": cpu / composed_s * 100.0,
        "realtime_factor": a.seconds as f64 / composed_s,
    });
    println!("{summary:#}");
    Ok(())
}
