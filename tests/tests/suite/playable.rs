//! Recordings people can watch: after a segment closes, each person's raw
//! VP8 and Opus become one WebM (not re-encoded) and ffmpeg composes the
//! segment; each file's hash enters the ledger (`recording_derived`) before
//! it is listed; the export still verifies; participants cannot download
//! them; a damaged raw file makes nothing; retention deletes them all.
//!
//! The composed view needs Debian's `ffmpeg` (and `ffprobe` to check it),
//! which `scripts/test.sh` installs.

use super::recording_media::publish;
use cadre_server::recording::playable::SourceFile;
use cadre_tests::containers::check_ivf;
use cadre_tests::media::{PublisherConfig, SyntheticPublisher};
use cadre_tests::{Client, PEOPLE};
use cadre_tests::{TestServer, files_under, verify_export};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Long enough for a loaded machine to compose a few seconds of video.
const MAKING: Duration = Duration::from_secs(180);

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// When each stream of a file starts (s), by codec.
fn start_times(path: &Path) -> Vec<(String, f64)> {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,start_time",
        ])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe's JSON");
    v["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| {
            (
                s["codec_name"].as_str().unwrap_or("").to_owned(),
                s["start_time"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(f64::NAN),
            )
        })
        .collect()
}

/// `ffprobe`'s view of a file's streams: (codec, frames read, duration s).
fn probe(path: &Path) -> Vec<(String, u64, f64)> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .arg("stream=codec_name,nb_read_frames:format=duration")
        .args(["-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe runs (scripts/test.sh installs ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("ffprobe's JSON");
    let duration: f64 = v["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0.0);
    v["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| {
            (
                s["codec_name"].as_str().unwrap_or("").to_owned(),
                s["nb_read_frames"]
                    .as_str()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
                duration,
            )
        })
        .collect()
}

/// A WebM's EBML header names the `webm` document type, and its tracks the
/// codecs.
fn check_webm_header(bytes: &[u8], codecs: &[&str]) {
    assert_eq!(&bytes[..4], [0x1a, 0x45, 0xdf, 0xa3], "an EBML header");
    let head = &bytes[..bytes.len().min(4096)];
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"webm"), "DocType webm");
    for c in codecs {
        assert!(has(c.as_bytes()), "a {c} track");
    }
}

/// Two seconds of ffmpeg's test pattern in real VP8, a keyframe every
/// half second: the composed view decodes what was recorded.
fn test_pattern() -> Arc<Vec<Vec<u8>>> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi"])
        .args([
            "-i",
            "testsrc=s=320x240:r=20:d=2",
            "-c:v",
            "libvpx",
            "-g",
            "10",
        ])
        .args(["-deadline", "realtime", "-b:v", "300k", "-f", "ivf", "-"])
        .output()
        .expect("ffmpeg runs (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = out.stdout;
    let mut frames = Vec::new();
    let mut at = usize::from(u16::from_le_bytes([b[6], b[7]]));
    while at + 12 <= b.len() {
        let len = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
        frames.push(b[at + 12..at + 12 + len].to_vec());
        at += 12 + len;
    }
    assert!(frames.len() >= 20, "{} frames", frames.len());
    Arc::new(frames)
}

/// As `recording_media::publish`, with real VP8; the camera starts
/// `video_after` after the microphone.
async fn publish_pattern(
    client: &mut Client,
    segment: u64,
    frames: &Arc<Vec<Vec<u8>>>,
    video_after: Duration,
) -> SyntheticPublisher {
    let publisher = SyntheticPublisher::with_config(PublisherConfig {
        encoded: Some(Arc::clone(frames)),
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
    assert_eq!(answer["data"]["type"], "answer", "{answer}");
    publisher.accept_answer(&answer["data"]).await;
    publisher.wait_connected(Duration::from_secs(15)).await;
    publisher.start_audio();
    tokio::time::sleep(video_after).await;
    publisher.start_video();
    publisher
}

/// An "ffmpeg" that answers `-version`, writes its PID, then never ends:
/// (the program, the PID file).
fn endless_ffmpeg(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let pid_file = dir.join("pid");
    let fake = dir.join("ffmpeg");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nif [ \"$1\" = -version ]; then echo 'ffmpeg version test'; exit 0; fi\necho $$ > {}\nexec sleep 600\n",
            pid_file.display()
        ),
    )
    .expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (fake, pid_file)
}

async fn list(server: &TestServer, sid: &str, token: &str) -> Value {
    let (status, list) = server
        .get_public(&format!("/api/sessions/{sid}/recordings?token={token}"))
        .await;
    assert_eq!(status, 200, "{list}");
    list
}

#[tokio::test]
async fn a_closed_segment_becomes_playable_files_in_the_ledger() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let facilitator = session.people[0].link.token.clone();
    let participant = session.people[1].link.token.clone();
    let (_, mut claire, mut karim, _) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;
    let pattern = test_pattern();
    let claire_pub = publish_pattern(&mut claire, 1, &pattern, Duration::ZERO).await;
    // Karim's camera comes 0.7 s after his voice: his file must keep it so.
    let karim_pub = publish_pattern(&mut karim, 1, &pattern, Duration::from_millis(700)).await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    claire
        .send_json(&json!({"type": "recording", "armed": false}))
        .await;
    let stopped = server.wait_ledger(&sid, "recording_stopped", 1).await;
    claire_pub.close().await;
    karim_pub.close().await;

    // Bounded: the list says when the job is over.
    let deadline = tokio::time::Instant::now() + MAKING;
    let segment = loop {
        let l = list(&server, &sid, &facilitator).await;
        let s = l["segments"][0].clone();
        let status = s["playable_status"].as_str().unwrap_or("").to_owned();
        if !["queued", "running", ""].contains(&status.as_str()) {
            break s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {status} after {MAKING:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(segment["playable_status"], "ready", "{segment}");
    assert_eq!(segment["unavailable"], json!([]));
    let playable = segment["playable"].as_array().expect("playable").clone();
    assert_eq!(
        playable.len(),
        3,
        "two people and the composed view: {segment}"
    );
    let derived = server.wait_ledger(&sid, "recording_derived", 3).await;
    let root = server.app().recorder().dir().to_owned();
    let raw = stopped[0]["payload"]["files"].as_array().expect("files");

    for who in [&claire.id, &karim.id] {
        let file = playable
            .iter()
            .find(|p| p["participant"] == who.as_str())
            .expect("a playable file per person");
        assert_eq!(file["file"], format!("{who}.webm"));
        assert_eq!(file["source"], "camera");
        let entry = derived
            .iter()
            .find(|e| e["payload"]["participant"] == who.as_str())
            .expect("its ledger entry");
        let path = root.join(entry["payload"]["name"].as_str().expect("name"));
        let bytes = std::fs::read(&path).expect("the file");
        assert_eq!(sha256_hex(&bytes), file["sha256"].as_str().expect("sha256"));
        assert_eq!(entry["payload"]["sha256"], file["sha256"]);
        assert_eq!(bytes.len() as u64, file["bytes"].as_u64().expect("bytes"));
        check_webm_header(&bytes, &["V_VP8", "A_OPUS"]);
        // Every recorded frame is in it, none re-encoded.
        let ivf = raw
            .iter()
            .find(|f| f["participant"] == who.as_str() && f["track"] == "video")
            .expect("the raw video");
        let ivf_frames = check_ivf(&root.join(ivf["name"].as_str().expect("name"))).frames;
        let sources: Vec<&str> = entry["payload"]["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .filter_map(|s| s["sha256"].as_str())
            .collect();
        assert!(sources.contains(&ivf["sha256"].as_str().expect("sha256")));
        assert_eq!(entry["payload"]["video_frames"], ivf_frames as u64);
        let streams = probe(&path);
        let video = streams.iter().find(|s| s.0 == "vp8").expect("a VP8 stream");
        let audio = streams
            .iter()
            .find(|s| s.0 == "opus")
            .expect("an Opus stream");
        assert_eq!(video.1, ivf_frames as u64, "frame count as in the IVF");
        assert!(audio.1 > 50, "a second of sound at least: {streams:?}");
        // The two tracks cover the same time: about three seconds.
        let duration = video.2;
        assert!((1.5..8.0).contains(&duration), "{streams:?}");
        // Sound and picture keep the gap between their first packets'
        // arrivals (origin_at), so they play in step.
        let origin = |track: &str| {
            raw.iter()
                .find(|f| f["participant"] == who.as_str() && f["track"] == track)
                .and_then(|f| f["origin_at"].as_i64())
                .expect("origin_at")
        };
        let gap = (origin("video") - origin("audio")) as f64 / 1000.0;
        let starts = start_times(&path);
        let start = |codec: &str| {
            starts
                .iter()
                .find(|s| s.0 == codec)
                .map(|s| s.1)
                .expect("a start time")
        };
        assert!(
            (start("vp8") - start("opus") - gap).abs() <= 0.05,
            "the picture starts {gap} s after the sound: {starts:?}"
        );
        let listed_ms = file["duration_ms"].as_u64().expect("duration") as f64;
        assert!(
            (listed_ms / 1000.0 - duration).abs() < 0.5,
            "{file} vs {streams:?}"
        );

        // Served as video for a player; a participant is refused.
        let url = file["url"].as_str().expect("url");
        let response = server
            .http()
            .get(server.url(url))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "video/webm");
        let body = response.bytes().await.expect("body");
        assert_eq!(sha256_hex(&body), file["sha256"].as_str().expect("sha256"));
        let ranged = server
            .http()
            .get(server.url(url))
            .header("range", "bytes=10-19")
            .send()
            .await
            .expect("get");
        assert_eq!(ranged.status(), 206);
        assert_eq!(ranged.bytes().await.expect("body").as_ref(), &bytes[10..20]);
        let (status, _) = server
            .get_public(&format!(
                "/api/sessions/{sid}/recordings/1/{who}.webm?token={participant}"
            ))
            .await;
        assert_eq!(status, 403, "a participant cannot download it");
    }

    let composed = playable
        .iter()
        .find(|p| p["kind"] == "composed")
        .expect("the composed view");
    let path = root
        .join(&sid)
        .join("1")
        .join(composed["file"].as_str().expect("file"));
    let bytes = std::fs::read(&path).expect("the composed file");
    assert_eq!(
        sha256_hex(&bytes),
        composed["sha256"].as_str().expect("sha256")
    );
    let streams = probe(&path);
    assert!(
        streams.iter().any(|s| s.0 == "vp8" && s.1 > 10),
        "{streams:?}"
    );
    assert!(streams.iter().any(|s| s.0 == "opus"), "{streams:?}");
    assert!((1.5..8.0).contains(&streams[0].2), "{streams:?}");

    // The export with the new entries verifies.
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = server.jwks_text().await;
    let text = server.ledger_export(&sid).await;
    let (code, out, err) = verify_export(dir.path(), &text, &keys, &[]);
    assert_eq!(code, 0, "{out}{err}");

    // Retention takes the playable files with the raw ones.
    let later = chrono::Utc::now().timestamp_millis() + 31 * 24 * 3600 * 1000;
    assert_eq!(
        server.app().purge_recordings(later).await.expect("purge"),
        1
    );
    assert!(
        files_under(&root.join(&sid)).is_empty(),
        "every file was deleted"
    );
    let purged = server.wait_ledger(&sid, "recording_purged", 1).await;
    assert_eq!(
        purged[0]["payload"]["derived"].as_array().map(Vec::len),
        Some(3)
    );
    let l = list(&server, &sid, &facilitator).await;
    assert_eq!(l["segments"][0]["playable"][0]["url"], json!(null));
}

#[tokio::test]
async fn a_damaged_raw_file_makes_nothing_half_written() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let (_, mut claire, mut karim, _) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;
    let claire_pub = publish(&mut claire, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    claire
        .send_json(&json!({"type": "recording", "armed": false}))
        .await;
    let stopped = server.wait_ledger(&sid, "recording_stopped", 1).await;
    claire_pub.close().await;
    let _ = &mut karim;
    let jobs = server.app().recorder().jobs().clone();
    tokio::time::timeout(MAKING, jobs.idle())
        .await
        .expect("the job ends");

    // Segment 7 made by hand from the same files: the video cut short, the
    // sound missing.
    let root = server.app().recorder().dir().to_owned();
    let dir = root.join(&sid).join("7");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut sources = Vec::new();
    for f in stopped[0]["payload"]["files"].as_array().expect("files") {
        let name = f["name"].as_str().expect("name");
        let base = name.rsplit('/').next().expect("base");
        let bytes = std::fs::read(root.join(name)).expect("raw");
        if f["track"] == "video" {
            std::fs::write(dir.join(base), &bytes[..bytes.len() - 7]).expect("write");
        }
        sources.push(SourceFile {
            participant: f["participant"].as_str().expect("who").to_owned(),
            track: f["track"].as_str().expect("track").to_owned(),
            name: format!("{sid}/7/{base}"),
            sha256: f["sha256"].as_str().expect("sha256").to_owned(),
            origin_ms: f["origin_at"].as_i64(),
        });
    }
    let before = server.ledger_entries(&sid, "recording_derived").await.len();
    jobs.enqueue(
        server.app().ledger(),
        &sid,
        7,
        chrono::Utc::now().timestamp_millis(),
        sources,
    );
    tokio::time::timeout(MAKING, jobs.idle())
        .await
        .expect("the job ends");
    let (progress, unavailable) = jobs.progress(&sid, 7).expect("known");
    assert_eq!(progress.as_str(), "failed", "nothing to compose");
    assert_eq!(unavailable, [format!("{}.webm", claire.id)]);
    let left: Vec<String> = files_under(&dir)
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter()
            .all(|n| !n.ends_with(".webm") && !n.ends_with(".part")),
        "nothing half-written is left: {left:?}"
    );
    assert_eq!(
        server.ledger_entries(&sid, "recording_derived").await.len(),
        before,
        "nothing entered the ledger"
    );
}

#[tokio::test]
async fn without_ffmpeg_the_people_s_files_are_still_made() {
    let server = TestServer::start().await;
    server
        .app()
        .recorder()
        .jobs()
        .set_ffmpeg("/nonexistent/ffmpeg");
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let facilitator = session.people[0].link.token.clone();
    let (_, mut claire, _karim, _) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;
    let claire_pub = publish(&mut claire, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    claire
        .send_json(&json!({"type": "recording", "armed": false}))
        .await;
    server.wait_ledger(&sid, "recording_stopped", 1).await;
    claire_pub.close().await;
    let jobs = server.app().recorder().jobs().clone();
    tokio::time::timeout(MAKING, jobs.idle())
        .await
        .expect("the job ends");
    let segment = list(&server, &sid, &facilitator).await["segments"][0].clone();
    assert_eq!(segment["playable_status"], "ffmpeg_absent", "{segment}");
    let playable = segment["playable"].as_array().expect("playable");
    assert_eq!(
        playable.len(),
        1,
        "Claire's file, no composed view: {segment}"
    );
    assert_eq!(playable[0]["file"], format!("{}.webm", claire.id));
    let dir = server.app().recorder().dir().join(&sid).join("1");
    assert!(!dir.join("segment.composed.webm").exists());
    assert!(
        files_under(&dir)
            .iter()
            .all(|(p, _)| !p.to_string_lossy().ends_with(".part")),
        "no temporary file is left"
    );
}

#[tokio::test]
async fn a_purge_stops_a_composed_view_being_made_and_kills_ffmpeg() {
    let server = TestServer::start().await;
    let tools = tempfile::tempdir().expect("tempdir");
    let (fake, pid_file) = endless_ffmpeg(tools.path());
    server.app().recorder().jobs().set_ffmpeg(&fake);
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let facilitator = session.people[0].link.token.clone();
    let (_, mut claire, _karim, _) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;
    let claire_pub = publish(&mut claire, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    claire
        .send_json(&json!({"type": "recording", "armed": false}))
        .await;
    server.wait_ledger(&sid, "recording_stopped", 1).await;
    claire_pub.close().await;

    let deadline = tokio::time::Instant::now() + MAKING;
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        {
            break pid;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ffmpeg never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let status = list(&server, &sid, &facilitator).await["segments"][0]["playable_status"].clone();
    assert_eq!(status, "running");
    assert!(Path::new(&format!("/proc/{pid}")).exists());

    let later = chrono::Utc::now().timestamp_millis() + 31 * 24 * 3600 * 1000;
    assert_eq!(
        server.app().purge_recordings(later).await.expect("purge"),
        1
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "ffmpeg ({pid}) was killed and reaped"
    );
    let root = server.app().recorder().dir().join(&sid);
    assert!(files_under(&root).is_empty(), "{:?}", files_under(&root));
    let derived = server.ledger_entries(&sid, "recording_derived").await;
    assert!(
        derived.iter().all(|e| e["payload"]["kind"] == "person"),
        "no composed view entered the ledger"
    );
    let purged = server.wait_ledger(&sid, "recording_purged", 1).await;
    assert_eq!(
        purged[0]["payload"]["derived"].as_array().map(Vec::len),
        Some(derived.len()),
        "the person's file made before the purge is deleted and said so"
    );
}

#[tokio::test]
async fn a_composed_view_past_its_time_is_killed_and_shown_as_timed_out() {
    let server = TestServer::start().await;
    let tools = tempfile::tempdir().expect("tempdir");
    let (fake, pid_file) = endless_ffmpeg(tools.path());
    let jobs = server.app().recorder().jobs().clone();
    jobs.set_ffmpeg(&fake);
    jobs.set_time_ceiling(Duration::from_secs(2));
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let facilitator = session.people[0].link.token.clone();
    let (_, mut claire, _karim, _) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;
    let claire_pub = publish(&mut claire, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    claire
        .send_json(&json!({"type": "recording", "armed": false}))
        .await;
    server.wait_ledger(&sid, "recording_stopped", 1).await;
    claire_pub.close().await;
    tokio::time::timeout(MAKING, jobs.idle())
        .await
        .expect("the job ends");

    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("ffmpeg was started")
        .trim()
        .parse()
        .expect("a pid");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "ffmpeg ({pid}) was killed and reaped"
    );
    let segment = list(&server, &sid, &facilitator).await["segments"][0].clone();
    assert_eq!(segment["playable_status"], "timed_out", "{segment}");
    assert_eq!(
        segment["playable"].as_array().map(Vec::len),
        Some(1),
        "Claire's file is there, no composed view: {segment}"
    );
    let dir = server.app().recorder().dir().join(&sid).join("1");
    let names: Vec<String> = files_under(&dir)
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("composed")),
        "nothing of the composed view is left: {names:?}"
    );
}

#[tokio::test]
async fn a_segment_waiting_to_be_made_playable_when_the_server_stops_is_made_at_the_next_start() {
    let server = TestServer::start().await;
    let tools = tempfile::tempdir().expect("tempdir");
    let (fake, pid_file) = endless_ffmpeg(tools.path());
    server.app().recorder().jobs().set_ffmpeg(&fake);
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let (_, mut claire, _karim, _) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;
    let pattern = test_pattern();
    // Two segments: the first's composed view never ends (the job stays on
    // it), so the second waits in the queue, nothing of it made.
    for segment in 1..=2u64 {
        if segment == 2 {
            claire
                .send_json(&json!({"type": "recording", "armed": true}))
                .await;
            claire
                .recording_state("segment 2", |r| r["segment"] == 2 && r["active"] == true)
                .await;
        }
        // Real VP8: ffmpeg decodes it to compose the view.
        let publisher = publish_pattern(&mut claire, segment, &pattern, Duration::ZERO).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        claire
            .send_json(&json!({"type": "recording", "armed": false}))
            .await;
        server
            .wait_ledger(&sid, "recording_stopped", segment as usize)
            .await;
        publisher.close().await;
    }
    let deadline = tokio::time::Instant::now() + MAKING;
    while std::fs::read_to_string(&pid_file).is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ffmpeg never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let of_segment = |entries: &[Value], n: u64| -> Vec<String> {
        entries
            .iter()
            .filter(|e| e["payload"]["segment"] == n)
            .map(|e| e["payload"]["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let before = server.ledger_entries(&sid, "recording_derived").await;
    assert!(
        of_segment(&before, 2).is_empty(),
        "segment 2 waited: {before:?}"
    );
    drop(claire);
    server.stop().await;

    // The next start (the real ffmpeg) makes segment 2, and leaves segment
    // 1 as the stop left it.
    let again = server.restart_with(|_| {}).await;
    let deadline = tokio::time::Instant::now() + MAKING;
    loop {
        let derived = again.ledger_entries(&sid, "recording_derived").await;
        let second = of_segment(&derived, 2);
        if second.iter().any(|k| k == "composed") {
            assert_eq!(
                second.iter().filter(|k| *k == "person").count(),
                1,
                "{second:?}"
            );
            assert!(
                !of_segment(&derived, 1).iter().any(|k| k == "composed"),
                "segment 1 is left as the stop left it"
            );
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let token = &session.people[0].link.token;
            let shown = list(&again, &sid, token).await;
            panic!("segment 2 was not made playable after the restart: {shown}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
