//! The recorder (`cadre_server::recording`) driven through its Rust API by
//! real webrtc-rs publishers ([`cadre_tests::media::SyntheticPublisher`])
//! over loopback UDP, writing into a real temporary directory. Each test
//! reads the files back and checks them as streams: IVF (signature, header
//! frame count equal to the frames present, frames back to back to the last
//! byte, a keyframe first) and Ogg (every page's CRC, OpusHead then
//! OpusTags, granule positions that never go back, end of stream on the
//! last page), and checks the reported sizes and SHA-256 against the disk.
//! Every wait is bounded.

use cadre_protocol::ErrorCode;
use cadre_server::recording::{
    RecordedFile, Recorder, RecorderConfig, RecorderError, Segment, SegmentEvent,
};
use cadre_tests::containers::{check_ivf, check_ogg};
use cadre_tests::media::{AUDIO_STEP, OPUS_SILENCE, SyntheticPublisher};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Upper bound of any single wait.
const WAIT: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {WAIT:?} waiting for {what}"))
}

fn recorder(dir: &Path, quota: Option<u64>) -> Arc<Recorder> {
    Recorder::new(RecorderConfig {
        dir: dir.join("recordings"),
        udp_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        quota_bytes: quota,
        keyframe_interval: Duration::from_secs(1),
    })
    .expect("open the recorder")
}

fn open(
    recorder: &Arc<Recorder>,
    sid: &str,
    n: u64,
) -> (Segment, mpsc::UnboundedReceiver<SegmentEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let segment = recorder.open_segment(sid, n, tx).expect("open a segment");
    (segment, rx)
}

/// Addresses of the `a=candidate` lines of an SDP.
fn sdp_candidate_addresses(sdp: &str) -> Vec<String> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=candidate:"))
        .map(|c| c.split_whitespace().nth(4).unwrap_or("").to_owned())
        .collect()
}

/// How the publisher's candidates reach the server.
#[derive(Clone, Copy, PartialEq)]
enum Trickle {
    /// After the answer (the usual order).
    After,
    /// Before the offer is even sent (they must be held back).
    Before,
}

/// A publisher connected to `segment` as `pid`, media not started.
async fn publish(segment: &Segment, pid: &str, trickle: Trickle) -> SyntheticPublisher {
    let publisher = SyntheticPublisher::new().await;
    let offer = publisher.offer().await;
    assert_eq!(offer["type"], "offer");
    if trickle == Trickle::Before {
        let candidates = publisher.candidates().await;
        assert!(!candidates.is_empty(), "{pid}: no local candidate");
        for c in &candidates {
            within("an early candidate", segment.add_candidate(pid, c))
                .await
                .unwrap_or_else(|e| panic!("{pid}: early candidate refused: {e}"));
        }
    }
    let answer = within("the recorder's answer", segment.publish(pid, &offer))
        .await
        .unwrap_or_else(|e| panic!("{pid}: publish refused: {e}"));
    assert_eq!(answer["type"], "answer", "{answer}");
    let sdp = answer["sdp"].as_str().expect("an SDP in the answer");
    let addresses = sdp_candidate_addresses(sdp);
    assert!(
        !addresses.is_empty(),
        "the answer must carry the server's candidates: {sdp}"
    );
    assert!(
        addresses.iter().all(|a| a == "127.0.0.1"),
        "server candidates off loopback: {addresses:?}"
    );
    assert!(
        sdp.contains("a=recvonly"),
        "the server only receives: {sdp}"
    );
    publisher.accept_answer(&answer).await;
    if trickle == Trickle::After {
        let candidates = publisher.candidates().await;
        for c in &candidates {
            within("a candidate", segment.add_candidate(pid, c))
                .await
                .unwrap_or_else(|e| panic!("{pid}: candidate refused: {e}"));
        }
    }
    // End of candidates, browser style: accepted and ignored.
    segment
        .add_candidate(
            pid,
            &json!({"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}),
        )
        .await
        .expect("end-of-candidates marker");
    publisher.wait_connected(WAIT).await;
    publisher
}

fn hex_sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a reported file against the disk; returns its stream summary.
fn check_file(f: &RecordedFile, root: &Path) -> usize {
    assert_eq!(f.path, root.join(&f.name), "path and name agree");
    let bytes = std::fs::read(&f.path).unwrap_or_else(|e| panic!("read {}: {e}", f.name));
    assert_eq!(f.bytes, bytes.len() as u64, "{}: reported size", f.name);
    assert_eq!(f.sha256, hex_sha256(&bytes), "{}: reported SHA-256", f.name);
    assert!(f.packets > 0, "{}: no packet", f.name);
    let (Some(origin), Some(last)) = (f.origin_ms, f.last_packet_ms) else {
        panic!("{}: no first or last packet time: {f:?}", f.name);
    };
    assert!(origin <= last, "{}: time 0 after the last packet", f.name);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&f.path)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}: private file", f.name);
    }
    match f.track {
        "video" => {
            assert!(f.name.ends_with(".ivf"));
            let ivf = check_ivf(&f.path);
            // The publisher sends 20 frames a second (4500 ticks apart):
            // stamps are its RTP times, a lost frame a wider step.
            assert!(
                ivf.pts.windows(2).all(|w| (w[1] - w[0]) % 4500 == 0),
                "{}: stamps off the 20 fps grid: {:?}",
                f.name,
                ivf.pts
            );
            ivf.frames
        }
        "audio" => {
            assert!(f.name.ends_with(".ogg"));
            let ogg = check_ogg(&f.path);
            assert_eq!(
                ogg.data_pages as u64, f.packets,
                "{}: one page per packet",
                f.name
            );
            ogg.data_pages
        }
        other => panic!("unknown track {other}"),
    }
}

fn by_name(files: &[RecordedFile]) -> BTreeMap<String, &RecordedFile> {
    files
        .iter()
        .map(|f| {
            let short = f.name.rsplit('/').next().unwrap_or("").to_owned();
            (short, f)
        })
        .collect()
}

fn sizes(dir: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(dir)
        .expect("read the segment directory")
        .map(|e| {
            let e = e.expect("entry");
            let len = e.metadata().expect("meta").len();
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        .collect()
}

/// Waits for an event matching `wanted`, skipping others.
async fn expect_event(
    events: &mut mpsc::UnboundedReceiver<SegmentEvent>,
    what: &str,
    wanted: impl Fn(&SegmentEvent) -> bool,
) -> SegmentEvent {
    within(what, async {
        loop {
            let e = events.recv().await.expect("the event channel is open");
            if wanted(&e) {
                return e;
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_publishers_make_valid_files_with_their_sizes_and_hashes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rec = recorder(tmp.path(), None);
    let (segment, mut events) = open(&rec, "s_two", 1);
    assert_eq!(segment.id(), 1);
    let alice = publish(&segment, "p_alice", Trickle::After).await;
    let bob = publish(&segment, "p_bob", Trickle::Before).await;
    alice.start_media();
    bob.start_media();
    tokio::time::sleep(Duration::from_secs(2)).await;

    let files = within("finish", segment.finish()).await;
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "s_two/1/p_alice-audio.ogg",
            "s_two/1/p_alice-video.ivf",
            "s_two/1/p_bob-audio.ogg",
            "s_two/1/p_bob-video.ivf",
        ]
    );
    for f in &files {
        let units = check_file(f, rec.dir());
        let publisher = if f.participant == "p_alice" {
            &alice
        } else {
            &bob
        };
        let sent = publisher.stats();
        match f.track {
            "audio" => assert!(
                f.packets <= sent.audio_packets,
                "{}: {f:?} {sent:?}",
                f.name
            ),
            _ => {
                assert!(
                    f.packets <= sent.video_packets,
                    "{}: {f:?} {sent:?}",
                    f.name
                );
                assert!(units as u64 <= sent.video_frames);
            }
        }
    }
    for (who, p) in [("alice", &alice), ("bob", &bob)] {
        assert!(
            p.keyframe_requests() >= 1,
            "{who} received no keyframe request: {:?}",
            p.stats()
        );
    }
    let total: u64 = files.iter().map(|f| f.bytes).sum();
    assert_eq!(
        rec.used_bytes(),
        total,
        "the quota counts exactly the files"
    );
    assert_eq!(
        sizes(segment.dir()).len(),
        4,
        "nothing else in the directory"
    );
    // finish() again: the same list.
    assert_eq!(within("finish again", segment.finish()).await, files);
    assert!(events.try_recv().is_err(), "no event in a healthy segment");
    // What /metrics reports: one segment opened and closed (once, however
    // often finish() is called), and every byte of the files.
    let figures = rec.metrics();
    assert_eq!(
        (figures.segments_opened, figures.segments_closed),
        (1, 1),
        "{figures:?}"
    );
    assert_eq!(figures.bytes_written, total, "{figures:?}");
    alice.close().await;
    bob.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_written_after_stop_returns() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rec = recorder(tmp.path(), None);
    let (segment, _events) = open(&rec, "s_stop", 3);
    let alice = publish(&segment, "p_alice", Trickle::After).await;
    let bob = publish(&segment, "p_bob", Trickle::After).await;
    alice.start_media();
    bob.start_media();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    segment.stop();
    let after_stop = chrono::Utc::now().timestamp_millis();
    assert!(segment.is_stopped());
    let stopped_at = segment.stopped_at_ms().expect("the stop instant");
    assert!(stopped_at <= after_stop);
    let at_stop = sizes(segment.dir());
    assert_eq!(at_stop.len(), 4, "four files while recording: {at_stop:?}");
    let sent_at_stop = (alice.stats(), bob.stats());

    // A new publication is refused.
    let late = SyntheticPublisher::new().await;
    let offer = late.offer().await;
    let refused = segment
        .publish("p_late", &offer)
        .await
        .expect_err("stopped");
    assert!(
        matches!(refused, RecorderError::Stopped { segment: 3 }),
        "{refused}"
    );
    assert_eq!(refused.code(), ErrorCode::NotOpen);
    // Candidates after the stop are ignored, not errors.
    segment
        .add_candidate(
            "p_alice",
            &json!({"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}),
        )
        .await
        .expect("ignored after stop");

    // The publishers keep sending for a second; nothing changes on disk.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (a, b) = (alice.stats(), bob.stats());
    assert!(
        a.audio_packets > sent_at_stop.0.audio_packets + 10
            && b.video_packets > sent_at_stop.1.video_packets + 5,
        "the publishers kept sending: {a:?} {b:?}"
    );
    assert_eq!(sizes(segment.dir()), at_stop, "a file changed after stop()");

    let files = within("finish", segment.finish()).await;
    assert_eq!(files.len(), 4);
    for f in &files {
        check_file(f, rec.dir());
        assert_eq!(
            Some(&f.bytes),
            at_stop.get(f.name.rsplit('/').next().unwrap_or("")),
            "{}: finalising changed the length",
            f.name
        );
        let last = f.last_packet_ms.expect("a last packet");
        assert!(
            last <= stopped_at && last <= after_stop,
            "{}: a packet at {last}, stopped at {stopped_at}",
            f.name
        );
    }
    let publish_after_finish = segment.publish("p_late", &offer).await;
    assert!(matches!(
        publish_after_finish,
        Err(RecorderError::Stopped { .. })
    ));
    alice.close().await;
    bob.close().await;
    late.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_that_vanishes_is_reported_and_its_files_stay_valid() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rec = recorder(tmp.path(), None);
    let (segment, mut events) = open(&rec, "s_gone", 1);
    let alice = publish(&segment, "p_alice", Trickle::After).await;
    let bob = publish(&segment, "p_bob", Trickle::After).await;
    alice.start_media();
    bob.start_media();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Bob's tab goes: no signalling message, the connection just ends.
    bob.close().await;
    let event = expect_event(&mut events, "PublisherFailed for bob", |e| {
        matches!(e, SegmentEvent::PublisherFailed { .. })
    })
    .await;
    assert_eq!(
        event,
        SegmentEvent::PublisherFailed {
            participant: "p_bob".into()
        }
    );
    // Already finalised when reported.
    let dir = segment.dir().to_owned();
    let ivf = check_ivf(&dir.join("p_bob-video.ivf"));
    assert!(ivf.frames > 0);
    check_ogg(&dir.join("p_bob-audio.ogg"));

    // Alice is still recorded.
    let before = sizes(&dir)["p_alice-audio.ogg"];
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        sizes(&dir)["p_alice-audio.ogg"] > before,
        "alice's recording stalled"
    );
    assert!(!segment.is_stopped());

    let files = within("finish", segment.finish()).await;
    let files = by_name(&files);
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "p_alice-audio.ogg",
            "p_alice-video.ivf",
            "p_bob-audio.ogg",
            "p_bob-video.ivf"
        ]
    );
    for f in files.values() {
        check_file(f, rec.dir());
    }
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_quota_stops_the_tracks_and_leaves_valid_files() {
    const QUOTA: u64 = 20_000;
    let tmp = tempfile::tempdir().expect("tmp");
    let rec = recorder(tmp.path(), Some(QUOTA));
    let (segment, mut events) = open(&rec, "s_full", 1);
    let alice = publish(&segment, "p_alice", Trickle::After).await;

    // Watch the counter the whole time.
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let rec = Arc::clone(&rec);
        let watching = Arc::clone(&watching);
        tokio::spawn(async move {
            let mut max = 0;
            while watching.load(std::sync::atomic::Ordering::SeqCst) {
                max = max.max(rec.used_bytes());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            max.max(rec.used_bytes())
        })
    };
    alice.start_media();
    let event = expect_event(&mut events, "StorageFull", |e| {
        matches!(e, SegmentEvent::StorageFull { .. })
    })
    .await;
    let SegmentEvent::StorageFull {
        participant,
        message,
    } = event
    else {
        unreachable!()
    };
    assert_eq!(participant, "p_alice");
    assert!(message.contains("quota"), "{message}");
    assert!(rec.used_bytes() <= QUOTA);

    segment.stop();
    let files = within("finish", segment.finish()).await;
    assert!(!files.is_empty());
    for f in &files {
        check_file(f, rec.dir());
    }
    let total: u64 = files.iter().map(|f| f.bytes).sum();
    assert!(total <= QUOTA, "{total} bytes on disk");
    assert_eq!(rec.used_bytes(), total);
    watching.store(false, std::sync::atomic::Ordering::SeqCst);
    let max = within("the watcher", watcher).await.expect("the watcher");
    assert!(max <= QUOTA, "the counter reached {max}");
    alice.close().await;

    // The bytes already there count on the next start: a quota they fill
    // refuses new segments, as full storage.
    let again = recorder(tmp.path(), Some(total));
    assert_eq!(again.used_bytes(), total);
    let (tx, _rx) = mpsc::unbounded_channel();
    let e = again.open_segment("s_full", 2, tx).expect_err("full");
    assert!(e.is_storage_full(), "{e}");
    again.release_bytes(total);
    assert_eq!(again.used_bytes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_timestamps_and_offers_do_not_break_the_recorder() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rec = recorder(tmp.path(), None);
    let (segment, _events) = open(&rec, "s_hostile", 1);

    // Offers that are not SDP offers: clear errors, nothing created.
    for (bad, says) in [
        (json!("v=0"), "JSON object"),
        (json!({"type": "offer", "sdp": "not an sdp"}), "v=0"),
        (json!({"type": "offer", "sdp": "v=0\r\n"}), "SDP"),
        (json!({"type": "answer", "sdp": "v=0\r\n"}), "offer"),
        (json!({"hello": 1}), "offer"),
    ] {
        let e = within("a refusal", segment.publish("p_mallory", &bad))
            .await
            .expect_err("refused");
        assert!(matches!(e, RecorderError::BadOffer(_)), "{bad}: {e}");
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        assert!(e.to_string().contains(says), "{bad}: {e} should say {says}");
    }
    let e = segment
        .add_candidate("p_mallory", &json!({"candidate": 42}))
        .await
        .expect_err("not a candidate");
    assert_eq!(e.code(), ErrorCode::InvalidInput);
    let e = segment
        .publish("../p_x", &json!({"type": "offer", "sdp": "v=0"}))
        .await
        .expect_err("bad id");
    assert!(matches!(e, RecorderError::BadId(_)), "{e}");

    let mallory = publish(&segment, "p_mallory", Trickle::After).await;
    mallory.start_video();

    // Audio by hand: a start just before both wraps, then reordering,
    // duplicates, timestamps going back, both counters wrapping, a jump far
    // back; then a clean tail. Without screening, OggWriter panics on the
    // first timestamp that goes back (debug build).
    let s0: u16 = 65_520;
    let t0: u32 = u32::MAX - 12 * AUDIO_STEP;
    let t = |k: u32| t0.wrapping_add(k * AUDIO_STEP);
    let mut plan: Vec<(u16, u32, bool)> = Vec::new();
    for k in 0..8u16 {
        plan.push((s0 + k, t(u32::from(k)), true));
    }
    plan.extend([
        (s0 + 9, t(9), true),
        (s0 + 8, t(8), false),  // late
        (s0 + 9, t(9), false),  // duplicate
        (s0 + 10, t(4), false), // timestamp back
        (s0 + 11, t(11), true),
        (s0 + 12, t(12), true), // u32::MAX
        (s0 + 13, t(13), true), // the timestamp wraps
        (s0 + 14, t(14), true),
        (s0 + 15, t(15), true),
        (s0.wrapping_add(16), t(16), true),  // sequence wraps
        (s0.wrapping_add(17), 7, false),     // timestamp far back
        (s0.wrapping_add(18), t(11), false), // back across the wrap
        (s0.wrapping_add(19), t(19), true),
    ]);
    let tail_start = 20u16;
    let tail = 25u16;
    for k in tail_start..tail_start + tail {
        plan.push((s0.wrapping_add(k), t(u32::from(k)), true));
    }
    for (seq, ts, _) in &plan {
        assert!(
            mallory.send_audio(*seq, *ts, OPUS_SILENCE.to_vec()).await,
            "send"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let files = within("finish", segment.finish()).await;
    let files = by_name(&files);
    for f in files.values() {
        check_file(f, rec.dir());
    }
    let audio = files.get("p_mallory-audio.ogg").expect("an audio file");
    let ogg = check_ogg(&audio.path);
    let admissible = plan.iter().filter(|p| p.2).count();
    assert!(
        ogg.data_pages <= admissible,
        "{} pages, at most {admissible} packets were in order",
        ogg.data_pages
    );
    // The clean tail is all there, 960 apart: the writer survived the rest.
    assert!(ogg.data_pages >= usize::from(tail), "{ogg:?}");
    let last: Vec<u64> = ogg.granules[ogg.granules.len() - usize::from(tail)..].to_vec();
    assert!(
        last.windows(2)
            .all(|g| g[1] - g[0] == u64::from(AUDIO_STEP)),
        "{last:?}"
    );
    mallory.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_is_never_opened_twice_and_its_files_stay_untouched() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rec = recorder(tmp.path(), None);
    let (segment, _events) = open(&rec, "s_once", 7);
    let alice = publish(&segment, "p_alice", Trickle::After).await;
    alice.start_media();
    tokio::time::sleep(Duration::from_millis(800)).await;

    // While it is open…
    let (tx, _rx) = mpsc::unbounded_channel();
    let e = rec
        .open_segment("s_once", 7, tx.clone())
        .expect_err("exists");
    assert!(
        matches!(e, RecorderError::SegmentExists { segment: 7, .. }),
        "{e}"
    );
    assert_eq!(e.code(), ErrorCode::Conflict);

    let files = within("finish", segment.finish()).await;
    assert_eq!(files.len(), 2);
    let before: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                hex_sha256(&std::fs::read(&f.path).expect("read")),
            )
        })
        .collect();

    // …and after.
    let e = rec
        .open_segment("s_once", 7, tx.clone())
        .expect_err("exists");
    assert!(matches!(e, RecorderError::SegmentExists { .. }), "{e}");
    let after: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                hex_sha256(&std::fs::read(&f.path).expect("read")),
            )
        })
        .collect();
    assert_eq!(before, after);
    for (f, (_, sha)) in files.iter().zip(&before) {
        assert_eq!(&f.sha256, sha);
    }
    // Ids that could name something outside the directory are refused.
    assert!(matches!(
        rec.open_segment("../s_once", 8, tx),
        Err(RecorderError::BadId(_))
    ));
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_again_keeps_the_first_files_and_leaving_ends_only_yours() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rec = recorder(tmp.path(), None);
    let (segment, mut events) = open(&rec, "s_again", 1);
    let first = publish(&segment, "p_alice", Trickle::After).await;
    let bob = publish(&segment, "p_bob", Trickle::After).await;
    first.start_media();
    bob.start_media();
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Alice reloads her tab: a new connection replaces the first.
    let second = publish(&segment, "p_alice", Trickle::After).await;
    second.start_media();
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Bob leaves: his files are finalised now, the others go on.
    within("unpublish", segment.unpublish("p_bob")).await;
    let dir = segment.dir().to_owned();
    check_ivf(&dir.join("p_bob-video.ivf"));
    check_ogg(&dir.join("p_bob-audio.ogg"));
    let before = sizes(&dir)["p_alice-audio-2.ogg"];
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sizes(&dir)["p_alice-audio-2.ogg"] > before);

    let files = within("finish", segment.finish()).await;
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "s_again/1/p_alice-audio-2.ogg",
            "s_again/1/p_alice-audio.ogg",
            "s_again/1/p_alice-video-2.ivf",
            "s_again/1/p_alice-video.ivf",
            "s_again/1/p_bob-audio.ogg",
            "s_again/1/p_bob-video.ivf",
        ]
    );
    for f in &files {
        check_file(f, rec.dir());
    }
    // Neither the replaced connection nor the one that left was a failure.
    if let Ok(e) = events.try_recv() {
        panic!("unexpected event {e:?}");
    }
    for p in [&first, &second, &bob] {
        p.close().await;
    }
}

/// A segment where nobody published leaves no file and no directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_segment_leaves_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rec = recorder(tmp.path(), None);
    let (segment, _events) = open(&rec, "s_empty", 1);
    let dir = segment.dir().to_owned();
    assert!(dir.is_dir());
    let files = within("finish", segment.finish()).await;
    assert!(files.is_empty());
    assert!(!dir.exists(), "the empty segment directory is removed");
}
