//! Recording end to end through the WebSocket protocol, with webrtc-rs
//! publishers sending synthetic Opus and VP8 to the server's recorder: no
//! byte is written while a connected person has not agreed; a withdrawal or
//! a newcomer without consent closes the segment; files are valid streams
//! whose hashes the ledger holds; facilitators and the organiser list and
//! download them, participants do not; retention purges them, in the
//! ledger; a full disk stops recording and the session goes on.

use cadre_tests::PEOPLE;
use cadre_tests::containers::{check_ivf, check_ogg};
use cadre_tests::media::SyntheticPublisher;
use cadre_tests::{Client, TestServer, files_under};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::time::Duration;

const CONNECT: Duration = Duration::from_secs(15);

/// Publishes `client`'s synthetic camera and microphone into `segment`
/// through the session socket, and starts the media once connected.
pub(crate) async fn publish(client: &mut Client, segment: u64) -> SyntheticPublisher {
    let publisher = SyntheticPublisher::new().await;
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
    assert_eq!(answer["type"], "recorder_signal", "{answer}");
    assert_eq!(answer["segment"], segment);
    assert_eq!(answer["data"]["type"], "answer");
    publisher.accept_answer(&answer["data"]).await;
    publisher.wait_connected(CONNECT).await;
    publisher.start_media();
    publisher
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file a `recording_stopped` entry lists is on disk, valid, and
/// matches its size and hash. Returns the files.
pub(crate) fn check_files(server: &TestServer, stopped: &Value) -> Vec<Value> {
    let files = stopped["payload"]["files"]
        .as_array()
        .expect("files")
        .clone();
    for f in &files {
        let path = server
            .app()
            .recorder()
            .dir()
            .join(f["name"].as_str().expect("name"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_eq!(bytes.len() as u64, f["bytes"].as_u64().expect("bytes"));
        assert_eq!(sha256_hex(&bytes), f["sha256"].as_str().expect("sha256"));
        match f["track"].as_str() {
            Some("video") => {
                let ivf = check_ivf(&path);
                assert!(ivf.frames > 0, "{path:?}: some video was recorded");
            }
            Some("audio") => {
                let ogg = check_ogg(&path);
                assert!(ogg.data_pages > 0, "{path:?}: some sound was recorded");
            }
            other => panic!("unknown track {other:?}"),
        }
        let last = f["last_packet_at"].as_i64().expect("last_packet_at");
        assert!(
            last <= stopped["payload"]["closed_at"].as_i64().expect("closed_at"),
            "no packet is written after the gate closed: {f}"
        );
        // The file's time 0 is a packet that came after the segment opened.
        let origin = f["origin_at"].as_i64().expect("origin_at");
        assert!(
            stopped["payload"]["started_at"]
                .as_i64()
                .expect("started_at")
                <= origin
                && origin <= last,
            "origin_at between the opening and the last packet: {f}"
        );
    }
    files
}

/// The raw files under `root`: the playable ones made after a segment
/// closes (`playable.rs`) are not media received.
fn raw_under(root: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    files_under(root)
        .into_iter()
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "ivf" || e == "ogg"))
        .collect()
}

pub(crate) fn tracks_of<'a>(files: &'a [Value], who: &str) -> Vec<&'a str> {
    let mut t: Vec<&str> = files
        .iter()
        .filter(|f| f["participant"] == who)
        .filter_map(|f| f["track"].as_str())
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn media_reaches_the_disk_only_while_everyone_agrees() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let (hash, mut claire, mut karim, on) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;
    assert_eq!(on["segment"], 1);

    let claire_pub = publish(&mut claire, 1).await;
    let karim_pub = publish(&mut karim, 1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        karim_pub.keyframe_requests() >= 1,
        "the recorder asks for a keyframe"
    );

    // A newcomer without consent: the segment closes at once.
    let mut sophie = server.join(&session, "Sophie Dubois").await;
    karim
        .recording_state("stopped", |r| r["active"] == false)
        .await;
    let stopped = server.wait_ledger(&sid, "recording_stopped", 1).await;
    assert_eq!(
        stopped[0]["payload"]["reason"],
        "participant_without_consent"
    );
    let files = check_files(&server, &stopped[0]);
    assert_eq!(tracks_of(&files, &claire.id), ["audio", "video"]);
    assert_eq!(tracks_of(&files, &karim.id), ["audio", "video"]);

    // The publishers keep sending: nothing more reaches the disk.
    let root = server.app().recorder().dir().join(&sid);
    let before = raw_under(&root);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(raw_under(&root), before, "no byte after the gate closed");
    // Publishing into the closed segment, or a new one, is refused.
    let offer = SyntheticPublisher::new().await.offer().await;
    for segment in [1, 2] {
        karim
            .send_json(&json!({"type": "recorder_signal", "segment": segment, "data": offer}))
            .await;
        let error = karim.skip_until_type("error").await;
        assert_eq!(error["code"], "not_open", "{error}");
    }
    claire_pub.close().await;
    karim_pub.close().await;

    // Everyone agrees: segment 2. A withdrawal closes it.
    sophie.decide_recording(&hash, true).await;
    let on = sophie
        .recording_state("active", |r| r["active"] == true)
        .await;
    assert_eq!(on["segment"], 2);
    claire
        .recording_state("segment 2", |r| r["segment"] == 2)
        .await;
    karim
        .recording_state("segment 2", |r| r["segment"] == 2)
        .await;
    let pubs = [
        publish(&mut claire, 2).await,
        publish(&mut karim, 2).await,
        publish(&mut sophie, 2).await,
    ];
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sophie.decide_recording(&hash, false).await;
    claire
        .recording_state("stopped", |r| r["active"] == false)
        .await;
    let stopped = server.wait_ledger(&sid, "recording_stopped", 2).await;
    assert_eq!(stopped[1]["payload"]["reason"], "consent_withdrawn");
    let files = check_files(&server, &stopped[1]);
    assert_eq!(files.len(), 6, "two files for each of three people");
    let before = raw_under(&root);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(raw_under(&root), before, "no byte after the withdrawal");
    for p in &pubs {
        p.close().await;
    }

    // Facilitator and organiser list and download; a participant cannot.
    let facilitator_token = &session.people[0].link.token;
    let (status, list) = server
        .get_public(&format!(
            "/api/sessions/{sid}/recordings?token={facilitator_token}"
        ))
        .await;
    assert_eq!(status, 200, "{list}");
    let segments = list["segments"].as_array().expect("segments");
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[1]["reason"], "consent_withdrawn");
    let file = &segments[1]["files"][0];
    let origin = file["origin_at"].as_i64().expect("origin_at listed");
    assert!(
        segments[1]["started_at"].as_i64().expect("started_at") <= origin
            && origin <= segments[1]["closed_at"].as_i64().expect("closed_at"),
        "{file}"
    );
    let url = file["url"].as_str().expect("a download url");
    let response = server
        .http()
        .get(server.url(url))
        .send()
        .await
        .expect("download");
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.expect("body");
    assert_eq!(sha256_hex(&body), file["sha256"].as_str().expect("sha256"));
    let (status, _) = server.get(&format!("/api/sessions/{sid}/recordings")).await;
    assert_eq!(status, 200, "the organiser lists too");
    let karim_token = &session.people[1].link.token;
    let (status, refused) = server
        .get_public(&format!(
            "/api/sessions/{sid}/recordings?token={karim_token}"
        ))
        .await;
    assert_eq!(status, 403, "{refused}");
    let direct = format!(
        "/api/sessions/{sid}/recordings/2/{}?token={karim_token}",
        file["file"].as_str().expect("file")
    );
    let (status, _) = server.get_public(&direct).await;
    assert_eq!(status, 403);
    let (status, _) = server
        .get_public(&format!(
            "/api/sessions/{sid}/recordings/2/..%2F..%2Fcadre.sqlite3?token={facilitator_token}"
        ))
        .await;
    assert_eq!(status, 404, "only files the ledger lists are served");

    // The console's overview: both segments, when the retention deletes
    // them (closed + 30 days), the first to go on top; participants and
    // anonymous callers do not read it.
    let (status, overview) = server.get("/api/recordings").await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["retention_days"], 30);
    let lines = overview["segments"].as_array().expect("segments");
    assert_eq!(lines.len(), 2, "{overview}");
    for line in lines {
        let n = line["segment"].as_u64().expect("a number") as usize - 1;
        assert_eq!(line["session_id"], sid.as_str());
        assert_eq!(line["session_title"], session.title.as_str());
        assert_eq!(
            line["delete_at"].as_i64(),
            segments[n]["closed_at"]
                .as_i64()
                .map(|t| t + 30 * 24 * 3600 * 1000),
            "{line}"
        );
        assert!(line["bytes"].as_u64().is_some_and(|b| b > 0), "{line}");
    }
    assert!(lines[0]["delete_at"].as_i64() <= lines[1]["delete_at"].as_i64());
    let (status, _) = server
        .get_public(&format!("/api/recordings?token={karim_token}"))
        .await;
    assert_eq!(status, 401, "not for a participant's link");

    // Retention: past it, the files go and the ledger says so.
    let later = chrono::Utc::now().timestamp_millis() + 31 * 24 * 3600 * 1000;
    let purged = server.app().purge_recordings(later).await.expect("purge");
    assert_eq!(purged, 2);
    assert!(files_under(&root).is_empty(), "every file was deleted");
    let entries = server.wait_ledger(&sid, "recording_purged", 2).await;
    assert_eq!(entries[0]["payload"]["retention_days"], 30);
    assert_eq!(
        entries[1]["payload"]["files"].as_array().map(Vec::len),
        Some(6)
    );
    let (_, list) = server
        .get_public(&format!(
            "/api/sessions/{sid}/recordings?token={facilitator_token}"
        ))
        .await;
    assert!(list["segments"][1]["purged_at"].as_i64().is_some());
    assert_eq!(list["segments"][1]["files"][0]["url"], json!(null));
    let (_, overview) = server.get("/api/recordings").await;
    for line in overview["segments"].as_array().expect("segments") {
        assert!(line["purged_at"].as_i64().is_some(), "{line}");
        assert_eq!(line["delete_at"], json!(null), "{line}");
    }
    let (status, _) = server.get_public(url).await;
    assert_eq!(status, 404);
    assert_eq!(
        server.app().purge_recordings(later).await.expect("purge"),
        0,
        "a purge is recorded once"
    );
}

#[tokio::test]
async fn a_publisher_that_vanishes_mid_segment_leaves_valid_files() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let (_, mut claire, mut karim, _) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;
    let claire_pub = publish(&mut claire, 1).await;
    let karim_pub = publish(&mut karim, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Karim's recorder connection dies without a word; the segment goes on.
    karim_pub.close().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    claire
        .send_json(&json!({"type": "recording", "armed": false}))
        .await;
    claire
        .recording_state("disarmed", |r| r["armed"] == false)
        .await;
    let stopped = server.wait_ledger(&sid, "recording_stopped", 1).await;
    assert_eq!(stopped[0]["payload"]["reason"], "disarmed");
    let files = check_files(&server, &stopped[0]);
    assert_eq!(tracks_of(&files, &karim.id), ["audio", "video"]);
    assert_eq!(tracks_of(&files, &claire.id), ["audio", "video"]);
    claire_pub.close().await;
}

#[tokio::test]
async fn a_full_disk_stops_recording_tells_the_facilitator_and_breaks_nothing_else() {
    let server = TestServer::start_with(|c| c.recording_quota_bytes = Some(60_000)).await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let (_, mut claire, mut karim, _) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;
    let claire_pub = publish(&mut claire, 1).await;
    let karim_pub = publish(&mut karim, 1).await;

    let failed = claire
        .recording_state("failure", |r| !r["failure"].is_null())
        .await;
    assert_eq!(
        failed,
        json!({"armed": false, "active": false, "failure": "storage_full"})
    );
    // Participants see recording stopped, not why.
    let seen = karim
        .recording_state("stopped", |r| r["armed"] == false)
        .await;
    assert_eq!(seen, json!({"armed": false, "active": false}));
    let stopped = server.wait_ledger(&sid, "recording_stopped", 1).await;
    assert_eq!(stopped[0]["payload"]["reason"], "storage_full");
    check_files(&server, &stopped[0]);
    let total: u64 = files_under(server.app().recorder().dir())
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert!(total <= 60_000, "the quota holds: {total} bytes");
    let disarmed = server.wait_ledger(&sid, "recording_armed", 2).await;
    assert_eq!(disarmed[1]["actor"], "server");
    assert_eq!(
        disarmed[1]["payload"],
        json!({"armed": false, "reason": "storage_full"})
    );

    // The session goes on: signalling and evidence still work.
    karim
        .signal(&claire.id, json!({"type": "offer", "sdp": "v=0"}))
        .await;
    let relayed = claire.skip_until_type("signal").await;
    assert_eq!(relayed["from"], karim.id.as_str());
    karim.send_json(&json!({"type": "heartbeat"})).await;
    karim.skip_until_type("heartbeat_ack").await;
    claire_pub.close().await;
    karim_pub.close().await;
}
