//! Forwarding through the signalling: the session's media route (`auto`,
//! `peer`, `forwarded`), the move to forwarding at the third person, and
//! the `forward` messages of each person's two connections to the server,
//! with webrtc-rs publishers and subscribers over real UDP on loopback
//! behind real WebSocket clients.

use cadre_protocol::session::MediaMode;
use cadre_tests::media::{SyntheticPublisher, SyntheticSubscriber};
use cadre_tests::{Client, Incoming, PEOPLE, TestServer, session_body};
use serde_json::{Value, json};
use std::time::Duration;

/// A person in the call with their connections to the server.
struct Member {
    client: Client,
    subscriber: SyntheticSubscriber,
    publisher: Option<SyntheticPublisher>,
    /// Messages other than the server's subscribe offers, in order.
    seen: Vec<Value>,
    offers: usize,
}

impl Member {
    async fn new(client: Client) -> Member {
        Member {
            client,
            subscriber: SyntheticSubscriber::new().await,
            publisher: None,
            seen: Vec::new(),
            offers: 0,
        }
    }

    /// Takes what has arrived: answers the server's subscribe offers, keeps
    /// the rest.
    async fn service(&mut self) {
        while let Some(incoming) = self.client.try_next() {
            let Incoming::Text(text) = incoming else {
                panic!("{} expected messages, got {incoming:?}", self.client.id);
            };
            let m: Value = serde_json::from_str(&text).expect("JSON");
            if m["type"] == "forward" && m["side"] == "subscribe" {
                assert_eq!(m["data"]["type"], "offer", "{m}");
                self.offers += 1;
                let answer = self.subscriber.answer(&m["data"]).await;
                self.client
                    .send_json(&json!({"type": "forward", "side": "subscribe", "data": answer}))
                    .await;
            } else {
                self.seen.push(m);
            }
        }
    }

    /// Waits (servicing) for a message `wanted`, taken out of `seen`.
    async fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            self.service().await;
            if let Some(i) = self.seen.iter().position(&wanted) {
                return self.seen.remove(i);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} saw no {what}; saw {:?}",
                self.client.id,
                self.seen
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Publishes a synthetic camera and microphone to the server.
    async fn publish(&mut self) {
        if let Err(refused) = self.try_publish().await {
            panic!("{} could not publish: {refused}", self.client.id);
        }
    }

    /// [`Member::publish`], or the server's refusal.
    async fn try_publish(&mut self) -> Result<(), Value> {
        let publisher = SyntheticPublisher::new().await;
        let offer = publisher.complete_offer().await;
        self.client
            .send_json(&json!({"type": "forward", "side": "publish", "data": offer}))
            .await;
        let answer = self
            .wait_for("the publish answer", |m| {
                (m["type"] == "forward" && m["side"] == "publish")
                    || (m["type"] == "error" && m["about"] == "forward")
            })
            .await;
        if answer["type"] == "error" {
            publisher.close().await;
            return Err(answer);
        }
        assert_eq!(answer["data"]["type"], "answer", "{answer}");
        publisher.accept_answer(&answer["data"]).await;
        publisher.wait_connected(Duration::from_secs(10)).await;
        self.publisher = Some(publisher);
        Ok(())
    }

    /// Whose video this member receives (stream ids, which the server sets
    /// to the publisher's participant id).
    fn receiving_video_of(&self) -> Vec<String> {
        let mut from: Vec<String> = self
            .subscriber
            .received()
            .into_iter()
            .filter(|r| r.kind == "video" && r.count > 0)
            .map(|r| r.stream)
            .collect();
        from.sort();
        from.dedup();
        from
    }
}

/// Sends video from every publisher, servicing everyone, until each member
/// receives the video of exactly the others in `expected` (at most 20 s).
async fn until_everyone_receives(members: &mut [Member], expected: &[Vec<String>]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut n = 0u32;
    loop {
        for (i, m) in members.iter_mut().enumerate() {
            m.service().await;
            if let Some(p) = &m.publisher {
                // Each a keyframe's start: forwarding starts at one.
                let payload = vec![0x10, 0x00, i as u8, (n % 251) as u8];
                p.send_video(n as u16, 3000 * n, true, payload).await;
            }
        }
        let got: Vec<Vec<String>> = members.iter().map(Member::receiving_video_of).collect();
        if got == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected each to receive {expected:?}; they receive {got:?}"
        );
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn auto_server() -> TestServer {
    TestServer::start_with(|c| c.media_mode = MediaMode::Auto).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_third_person_moves_the_session_to_forwarding_and_everyone_receives_the_others() {
    let server = auto_server().await;
    let session = server.create_session(&PEOPLE).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    assert_eq!(claire.welcome["media"], "peer");
    // Peer to peer: the server has nothing to forward.
    claire
        .send_json(
            &json!({"type": "forward", "side": "publish", "data": {"type": "offer", "sdp": "v=0"}}),
        )
        .await;
    let refused = claire.recv_error("not_open").await;
    assert_eq!(refused["about"], "forward");
    let mut karim = server.join(&session, "Karim Benali").await;
    assert_eq!(karim.welcome["media"], "peer");
    claire.recv_type("peer_joined").await;

    let sophie = server.join(&session, "Sophie Dubois").await;
    assert_eq!(sophie.welcome["media"], "forwarded");
    // Those already here learn of the move before they learn of Sophie.
    for c in [&mut claire, &mut karim] {
        let moved = c.recv_type("media_route").await;
        assert_eq!(moved["route"], "forwarded");
        let joined = c.recv_type("peer_joined").await;
        assert_eq!(joined["peer"]["id"], sophie.id);
    }
    let moves = server.wait_ledger(&session.id, "media_route", 1).await;
    assert_eq!(moves[0]["payload"]["route"], "forwarded");
    assert_eq!(moves[0]["payload"]["mode"], "auto");
    assert_eq!(moves[0]["payload"]["connected"], 3);
    assert_eq!(moves[0]["actor"], "server");

    let mut members = vec![
        Member::new(claire).await,
        Member::new(karim).await,
        Member::new(sophie).await,
    ];
    for m in members.iter_mut() {
        m.publish().await;
    }
    let ids: Vec<String> = members.iter().map(|m| m.client.id.clone()).collect();
    let others = |i: usize| -> Vec<String> {
        let mut o: Vec<String> = ids
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, id)| id.clone())
            .collect();
        o.sort();
        o
    };
    let expected: Vec<Vec<String>> = (0..3).map(others).collect();
    until_everyone_receives(&mut members, &expected).await;
    for m in &members {
        assert!(m.offers >= 1, "{} was offered the others", m.client.id);
    }

    // Karim opens a new tab: the old one is replaced, the new one publishes
    // and the others receive him again.
    let karim_id = members[1].client.id.clone();
    let again = server.join(&session, "Karim Benali").await;
    assert_eq!(again.welcome["media"], "forwarded");
    let old = std::mem::replace(&mut members[1], Member::new(again).await);
    drop(old);
    members[1].publish().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        // Karim's new stream: the others see his video counted anew.
        let before: Vec<u64> = [0, 2]
            .iter()
            .map(|&i| video_count(&members[i], &karim_id))
            .collect();
        until_everyone_receives(&mut members, &expected).await;
        let after: Vec<u64> = [0, 2]
            .iter()
            .map(|&i| video_count(&members[i], &karim_id))
            .collect();
        if after.iter().zip(&before).all(|(a, b)| a > b) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Karim's new tab's video did not reach the others"
        );
    }
    assert_eq!(
        server
            .ledger_entries(&session.id, "media_route")
            .await
            .len(),
        1,
        "the session stays forwarded: one move"
    );
}

/// While `reporter`'s browser reports a clean connection each second,
/// waits (at most 30 s) for a quality message to `watcher` that `wanted`
/// picks something from; returns it.
async fn until_told(
    watcher: &mut Member,
    reporter: &mut Member,
    what: &str,
    wanted: impl Fn(&Value) -> Option<Value>,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        reporter
            .client
            .send_json(&json!({"type": "stats", "connection": "connected", "peers": []}))
            .await;
        watcher.service().await;
        reporter.service().await;
        let seen = watcher
            .client
            .try_recv_quality(Duration::from_millis(1100), |q| wanted(q).is_some())
            .await;
        if let Some(found) = seen.as_ref().and_then(&wanted) {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: the facilitator was never told"
        );
    }
}

/// Answers offers and keeps messages for `ms` milliseconds.
async fn keep_answering(members: &mut [&mut Member], ms: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    while tokio::time::Instant::now() < deadline {
        for m in members.iter_mut() {
            m.service().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A well-formed answer (a subscriber's to a publisher's offer).
async fn an_answer() -> Value {
    let publisher = SyntheticPublisher::new().await;
    let subscriber = SyntheticSubscriber::new().await;
    subscriber.answer(&publisher.complete_offer().await).await
}

/// Video packets `member` received from `from` so far.
fn video_count(member: &Member, from: &str) -> u64 {
    member
        .subscriber
        .received()
        .iter()
        .filter(|r| r.kind == "video" && r.stream == from)
        .map(|r| r.count)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_chooses_its_route_and_bad_forward_messages_change_nothing() {
    let server = auto_server().await;
    // A session kept peer to peer stays so with three people.
    let mut body = session_body(&PEOPLE);
    body.media = Some(MediaMode::Peer);
    let peer = server.create_session_body(&body).await;
    let mut clients = Vec::new();
    for (name, _) in PEOPLE {
        let c = server.join(&peer, name).await;
        assert_eq!(c.welcome["media"], "peer", "{name}");
        assert_eq!(c.welcome["session"]["media"], "peer");
        clients.push(c);
    }
    assert!(
        server
            .ledger_entries(&peer.id, "media_route")
            .await
            .is_empty()
    );
    drop(clients);

    // A forwarded session is forwarded from the first person.
    body.media = Some(MediaMode::Forwarded);
    let session = server.create_session_body(&body).await;
    let claire = server.join(&session, "Claire Martin").await;
    assert_eq!(claire.welcome["media"], "forwarded");
    let moves = server.wait_ledger(&session.id, "media_route", 1).await;
    assert_eq!(moves[0]["payload"]["mode"], "forwarded");
    assert_eq!(moves[0]["payload"]["connected"], 1);
    let mut claire = Member::new(claire).await;

    let bad = [
        // No side, or one that does not exist.
        (
            json!({"type": "forward", "data": {"type": "offer", "sdp": "v=0"}}),
            "malformed_message",
        ),
        (
            json!({"type": "forward", "side": "sideways", "data": {"type": "offer", "sdp": "v=0"}}),
            "malformed_message",
        ),
        (
            json!({"type": "forward", "side": "publish"}),
            "malformed_message",
        ),
        // An answer where an offer is expected, an SDP webrtc-rs refuses.
        (
            json!({"type": "forward", "side": "publish", "data": {"type": "answer", "sdp": "v=0"}}),
            "invalid_input",
        ),
        (
            json!({"type": "forward", "side": "publish", "data": {"type": "offer", "sdp": "not an sdp"}}),
            "invalid_input",
        ),
        // An answer with no offer outstanding (nobody else publishes).
        (
            json!({"type": "forward", "side": "subscribe", "data": an_answer().await}),
            "conflict",
        ),
        // Not a candidate.
        (
            json!({"type": "forward", "side": "publish", "data": {"candidate": 7}}),
            "invalid_input",
        ),
        // A quality that does not exist; more people than a session holds.
        (
            json!({"type": "forward_view", "views": [{"id": "p_x", "quality": "huge"}]}),
            "malformed_message",
        ),
        (
            json!({"type": "forward_view", "views": (0..65)
                .map(|i| json!({"id": format!("p_{i}"), "quality": "low"}))
                .collect::<Vec<_>>()}),
            "invalid_input",
        ),
    ];
    for (message, code) in &bad {
        claire.client.send_json(message).await;
        let refused = claire.wait_for(code, |m| m["type"] == "error").await;
        assert_eq!(refused["code"], *code, "{message} → {refused}");
    }
    // Nothing changed: Claire still publishes, and Karim receives her.
    claire.publish().await;
    let mut karim = Member::new(server.join(&session, "Karim Benali").await).await;
    karim.publish().await;
    let mut members = vec![claire, karim];
    let expected = vec![
        vec![members[1].client.id.clone()],
        vec![members[0].client.id.clone()],
    ];
    until_everyone_receives(&mut members, &expected).await;

    // Karim leaves: Claire is offered a connection without his tracks.
    let offers = members[0].offers;
    members[1].client.leave().await;
    let karim_id = members[1].client.id.clone();
    let left = members[0]
        .wait_for("Karim's departure", |m| m["type"] == "peer_left")
        .await;
    assert_eq!(left["id"], karim_id);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while members[0].offers == offers {
        members[0].service().await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new offer without Karim's tracks"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_passes_through_the_server_refuses_one_person_too_many() {
    let server = TestServer::start_with(|c| {
        c.media_mode = MediaMode::Auto;
        c.forwarded_members = 3;
    })
    .await;
    let mut body = session_body(&cadre_tests::PEOPLE_OF_FIVE);
    let session = server.create_session_body(&body).await;
    let mut here = Vec::new();
    for (name, _) in &cadre_tests::PEOPLE_OF_FIVE[..3] {
        here.push(server.join(&session, name).await);
    }
    let lucas = cadre_tests::person(&session, "Lucas Moreau")
        .link
        .token
        .clone();
    // The lobby says so before the click; the upgrade is refused.
    let (status, lobby) = server.get_public(&format!("/api/join?token={lucas}")).await;
    assert_eq!(status, cadre_tests::StatusCode::OK, "{lobby}");
    assert_eq!(lobby["full"], 3);
    let (status, error) = server.refusal(&session.id, &lucas).await;
    assert_eq!(status, cadre_tests::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error.code, cadre_protocol::ErrorCode::AtCapacity);
    assert!(error.message.contains("full"), "{}", error.message);
    // Nothing about Lucas was written, nobody was told of him.
    let opened = server
        .ledger_entries(&session.id, "connection_opened")
        .await;
    assert_eq!(opened.len(), 3, "only the three admitted are in the log");
    // Someone already here may open a new tab.
    here[1] = server.join(&session, "Karim Benali").await;
    // Once someone leaves, Lucas gets in.
    here[2].leave().await;
    let sophie_id = here[2].id.clone();
    let left = here[0]
        .skip_until("Sophie's departure", |m| m["type"] == "peer_left")
        .await
        .0;
    assert_eq!(left["id"], sophie_id);
    let (_, lobby) = server.get_public(&format!("/api/join?token={lucas}")).await;
    assert!(lobby.get("full").is_none(), "{lobby}");
    let lucas = server
        .connect(&session.id, &lucas)
        .await
        .expect("Lucas joins once there is room");
    assert_eq!(lucas.welcome["media"], "forwarded");

    // A session kept peer to peer has no such limit.
    body.media = Some(MediaMode::Peer);
    let peer = server.create_session_body(&body).await;
    let mut all = Vec::new();
    for (name, _) in &cadre_tests::PEOPLE_OF_FIVE {
        all.push(server.join(&peer, name).await);
    }
    assert_eq!(all.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_session_is_recorded_from_what_the_server_receives_under_the_same_gate() {
    use super::recording_media::{check_files, tracks_of};
    let server = auto_server().await;
    let mut body = session_body(&PEOPLE);
    body.media = Some(MediaMode::Forwarded);
    let session = server.create_session_body(&body).await;
    let sid = session.id.clone();
    let hash = server
        .consent_hash(&session.people[0].link.token, "recording")
        .await;
    let mut claire = Member::new(server.join(&session, "Claire Martin").await).await;
    let mut karim = Member::new(server.join(&session, "Karim Benali").await).await;
    claire.client.decide_recording(&hash, true).await;
    karim.client.decide_recording(&hash, true).await;
    claire.publish().await;
    karim.publish().await;
    for m in [&claire, &karim] {
        m.publisher.as_ref().expect("publishing").start_media();
    }
    claire
        .client
        .send_json(&json!({"type": "recording", "armed": true}))
        .await;
    for m in [&mut claire, &mut karim] {
        let on = m
            .wait_for("recording active", |v| {
                v["type"] == "recording_state" && v["recording"]["active"] == true
            })
            .await;
        assert_eq!(on["recording"]["segment"], 1);
    }
    // No second connection: the recorder takes what the server receives.
    let offer = SyntheticPublisher::new().await.offer().await;
    karim
        .client
        .send_json(&json!({"type": "recorder_signal", "segment": 1, "data": offer}))
        .await;
    let refused = karim
        .wait_for("the refusal of a recorder connection", |v| {
            v["type"] == "error"
        })
        .await;
    assert_eq!(refused["code"], "not_open", "{refused}");
    assert_eq!(refused["about"], "recorder_signal");

    // Seconds of picture and sound, the others' offers answered meanwhile.
    keep_answering(&mut [&mut claire, &mut karim], 2500).await;
    // Karim withdraws: the segment closes at once; the publishers go on
    // sending to the server, and nothing more reaches the disk.
    karim.client.decide_recording(&hash, false).await;
    let stopped = server.wait_ledger(&sid, "recording_stopped", 1).await;
    assert_eq!(stopped[0]["payload"]["reason"], "consent_withdrawn");
    let files = check_files(&server, &stopped[0]);
    assert_eq!(tracks_of(&files, &claire.client.id), ["audio", "video"]);
    assert_eq!(tracks_of(&files, &karim.client.id), ["audio", "video"]);
    let started = server.ledger_entries(&sid, "recording_started").await;
    let mut listed: Vec<String> = started[0]["payload"]["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| p.as_str().unwrap_or_default().to_owned())
        .collect();
    listed.sort();
    let mut ids = vec![claire.client.id.clone(), karim.client.id.clone()];
    ids.sort();
    assert_eq!(
        listed, ids,
        "the ledger says who is in the segment, as before"
    );
    let root = server.app().recorder().dir().join(&sid);
    // The tracks as recorded; the playable files made from them once they
    // closed (`.webm`, written as `.part` then renamed) may still be in
    // the making, and are not media received after the withdrawal.
    let recorded = || -> Vec<_> {
        cadre_tests::files_under(&root)
            .into_iter()
            .filter(|(path, _)| {
                let name = path.to_string_lossy();
                !name.ends_with(".webm") && !name.ends_with(".part")
            })
            .collect()
    };
    let before = recorded();
    assert_eq!(before.len(), 4, "two tracks each: {before:?}");
    keep_answering(&mut [&mut claire, &mut karim], 1500).await;
    assert_eq!(recorded(), before, "no byte after the withdrawal");

    // Karim agrees again: segment 2 records both from the forwarding again.
    karim.client.decide_recording(&hash, true).await;
    karim
        .wait_for("segment 2", |v| {
            v["type"] == "recording_state" && v["recording"]["segment"] == 2
        })
        .await;
    keep_answering(&mut [&mut claire, &mut karim], 2000).await;
    claire
        .client
        .send_json(&json!({"type": "recording", "armed": false}))
        .await;
    let stopped = server.wait_ledger(&sid, "recording_stopped", 2).await;
    let files = check_files(&server, &stopped[1]);
    assert_eq!(tracks_of(&files, &karim.client.id), ["audio", "video"]);
    assert_eq!(tracks_of(&files, &claire.client.id), ["audio", "video"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_under_way_goes_on_from_the_forwarding_when_the_third_person_arrives() {
    use super::recording_media::{check_files, publish as publish_to_recorder};
    let server = auto_server().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let hash = server
        .consent_hash(&session.people[0].link.token, "recording")
        .await;
    // Sophie agreed earlier, alone in the session (peer to peer).
    {
        let mut sophie = server.join(&session, "Sophie Dubois").await;
        sophie.decide_recording(&hash, true).await;
        sophie.leave().await;
    }
    let (_, mut claire, mut karim, on) = server
        .recording_together(&session, "Claire Martin", "Karim Benali")
        .await;
    assert_eq!(on["segment"], 1);
    assert_eq!(claire.welcome["media"], "peer");
    // Peer to peer: each browser publishes to the recorder.
    let claire_recorder = publish_to_recorder(&mut claire, 1).await;
    let karim_recorder = publish_to_recorder(&mut karim, 1).await;
    claire_recorder.start_media();
    karim_recorder.start_media();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Sophie arrives (she agreed): the session moves to forwarding and the
    // segment goes on, now from what the server receives.
    let sophie = server.join(&session, "Sophie Dubois").await;
    assert_eq!(sophie.welcome["media"], "forwarded");
    assert_eq!(sophie.welcome["recording"]["active"], true);
    let mut members = [
        Member::new(claire).await,
        Member::new(karim).await,
        Member::new(sophie).await,
    ];
    for m in members.iter_mut().take(2) {
        m.wait_for("the move", |v| v["type"] == "media_route").await;
    }
    for m in members.iter_mut() {
        m.publish().await;
        m.publisher.as_ref().expect("publishing").start_media();
    }
    // The server let go of the recorder connections: the taps replaced them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while [&claire_recorder, &karim_recorder].iter().any(|p| {
        matches!(
            p.connection_state(),
            webrtc::peer_connection::RTCPeerConnectionState::Connected
        )
    }) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the recorder connections should be closed once the forwarding records"
        );
        keep_answering(&mut members.iter_mut().collect::<Vec<_>>(), 200).await;
    }
    keep_answering(&mut members.iter_mut().collect::<Vec<_>>(), 2500).await;
    members[0]
        .client
        .send_json(&json!({"type": "recording", "armed": false}))
        .await;
    let stopped = server.wait_ledger(&sid, "recording_stopped", 1).await;
    assert_eq!(
        stopped[0]["payload"]["segment"], 1,
        "one segment throughout"
    );
    let files = check_files(&server, &stopped[0]);
    let videos = |who: &str| {
        files
            .iter()
            .filter(|f| f["participant"] == who && f["track"] == "video")
            .count()
    };
    // Claire and Karim: the recorder connection's file, then the tap's.
    assert_eq!(videos(&members[0].client.id), 2, "{files:?}");
    assert_eq!(videos(&members[1].client.id), 2, "{files:?}");
    assert_eq!(videos(&members[2].client.id), 1, "{files:?}");
    claire_recorder.close().await;
    karim_recorder.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_tells_the_facilitator_when_it_misses_a_persons_packets_whatever_their_browser_says()
 {
    let server = auto_server().await;
    let mut body = session_body(&PEOPLE);
    body.media = Some(MediaMode::Forwarded);
    let session = server.create_session_body(&body).await;
    let mut claire = Member::new(server.join(&session, "Claire Martin").await).await;
    let mut karim = Member::new(server.join(&session, "Karim Benali").await).await;
    claire.publish().await;
    karim.publish().await;
    let karim_id = karim.client.id.clone();
    // Karim's browser reports a clean connection each second, while only
    // every other packet of his camera reaches the server (a lossy uplink).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut n = 0u32;
    let told = loop {
        let publisher = karim.publisher.as_ref().expect("publishing");
        for _ in 0..10 {
            publisher
                .send_video((2 * n) as u16, 3000 * n, true, vec![0x10, 0x00, 1, 2, 3])
                .await;
            n += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        karim
            .client
            .send_json(&json!({"type": "stats", "connection": "connected", "peers": []}))
            .await;
        claire.service().await;
        karim.service().await;
        let seen = claire
            .client
            .try_recv_quality(Duration::from_millis(50), |q| {
                q["people"].as_array().is_some_and(|people| {
                    people.iter().any(|p| {
                        p["id"] == karim_id.as_str()
                            && p["reasons"]
                                .as_array()
                                .is_some_and(|r| r.iter().any(|c| c == "server_loss_up"))
                    })
                })
            })
            .await;
        if let Some(q) = seen {
            break q;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the facilitator was never told of Karim's lost packets"
        );
    };
    let karim_view = told["people"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["id"] == karim_id.as_str()))
        .expect("Karim's view")
        .clone();
    assert_eq!(karim_view["score"], "poor", "{karim_view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_whose_media_no_longer_reaches_the_server_is_shown_lost_until_it_does_again() {
    let server = auto_server().await;
    let mut body = session_body(&PEOPLE);
    body.media = Some(MediaMode::Forwarded);
    let session = server.create_session_body(&body).await;
    let mut claire = Member::new(server.join(&session, "Claire Martin").await).await;
    let mut karim = Member::new(server.join(&session, "Karim Benali").await).await;
    claire.publish().await;
    karim.publish().await;
    karim.publisher.as_ref().expect("publishing").start_media();
    let karim_id = karim.client.id.clone();
    let karims = |q: &Value| -> Option<Value> {
        q["people"]
            .as_array()?
            .iter()
            .find(|p| p["id"] == karim_id.as_str())
            .cloned()
    };
    let failed = |p: &Value| {
        p["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|c| c == "server_connection_failed"))
    };
    // Karim's media connection goes away without a word (UDP blocked, say)
    // while his socket and his browser's reports go on.
    karim.publisher.take().expect("publishing").close().await;
    let lost = until_told(
        &mut claire,
        &mut karim,
        "Karim's media stopped reaching the server",
        |q| karims(q).filter(failed),
    )
    .await;
    assert_eq!(lost["score"], "lost", "{lost}");
    // Karim is asked to connect again, does, and is shown as before.
    karim
        .wait_for("the request to publish again", |v| {
            v["type"] == "forward_failed" && v["side"] == "publish"
        })
        .await;
    karim.publish().await;
    karim.publisher.as_ref().expect("publishing").start_media();
    until_told(&mut claire, &mut karim, "Karim connected again", |q| {
        karims(q).filter(|p| !failed(p) && p["score"] != "lost")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_beyond_what_the_server_forwards_is_refused_and_the_person_still_receives() {
    // Room for one person's camera and microphone sent to two others.
    let server = TestServer::start_with(|c| {
        c.media_mode = MediaMode::Forwarded;
        c.forwarded_streams = 4;
    })
    .await;
    let session = server.create_session(&PEOPLE).await;
    let mut members = Vec::new();
    for (name, _) in &PEOPLE {
        members.push(Member::new(server.join(&session, name).await).await);
    }
    let ids: Vec<String> = members.iter().map(|m| m.client.id.clone()).collect();
    members[0].publish().await;
    let claire_only = vec![vec![], vec![ids[0].clone()], vec![ids[0].clone()]];
    until_everyone_receives(&mut members, &claire_only).await;

    // Karim's camera would take the server beyond what it forwards: refused,
    // and nothing else changes (Karim and Sophie still receive Claire).
    let refused = members[1]
        .try_publish()
        .await
        .expect_err("a publication beyond the limit is refused");
    assert_eq!(refused["code"], "at_capacity", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("not sent for now")),
        "{refused}"
    );
    // The others are told whose picture will not come.
    let karim_id = ids[1].clone();
    for i in [0, 2] {
        members[i]
            .wait_for("forward_refused", |m| {
                m["type"] == "forward_refused" && m["id"] == karim_id.as_str()
            })
            .await;
    }
    until_everyone_receives(&mut members, &claire_only).await;
    assert_eq!(members[1].receiving_video_of(), vec![ids[0].clone()]);

    // Claire leaves: her streams are no longer forwarded, and Karim's camera
    // now fits.
    drop(members.remove(0));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match members[0].try_publish().await {
            Ok(()) => break,
            Err(refused) => {
                assert_eq!(refused["code"], "at_capacity", "{refused}");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "Claire's streams were never counted out"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    // Sophie receives Karim now (and both received Claire before).
    let mut both = vec![ids[0].clone(), ids[1].clone()];
    both.sort();
    until_everyone_receives(&mut members, &[vec![ids[0].clone()], both]).await;
}
