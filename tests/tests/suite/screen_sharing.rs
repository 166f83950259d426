//! Screen sharing's rules, as the server keeps them: facilitators share,
//! participants once a facilitator allowed them; a second sharer replaces
//! the first only when a facilitator allowed taking over (a facilitator
//! always may); a facilitator stops anyone's share; a share ends with its
//! sharer's tab or permission; latecomers learn who shares. And, forwarded,
//! only the sharer's screen reaches the others.

use cadre_protocol::api::SessionView;
use cadre_server::forward::{Forwarder, SCREEN_STREAM_SUFFIX};
use cadre_tests::media::{PublisherConfig, Received, SyntheticPublisher, SyntheticSubscriber};
use cadre_tests::{Client, PEOPLE, TestServer};
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The next `screen` message `client` receives (others skipped).
async fn next_screen(client: &mut Client) -> Value {
    let (message, _) = client
        .skip_until("a screen message", |m| m["type"] == "screen")
        .await;
    message
}

/// Every client's next `screen` message: the same for all, returned once.
async fn everyone_sees(clients: &mut [&mut Client]) -> Value {
    let mut seen: Option<Value> = None;
    for c in clients.iter_mut() {
        let m = next_screen(c).await;
        if let Some(first) = &seen {
            assert_eq!(*first, m, "everyone is told the same");
        }
        seen = Some(m);
    }
    seen.expect("at least one client")
}

async fn trio() -> (TestServer, SessionView, Client, Client, Client) {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let claire = server.join(&session, "Claire Martin").await;
    let karim = server.join(&session, "Karim Benali").await;
    let sophie = server.join(&session, "Sophie Dubois").await;
    (server, session, claire, karim, sophie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facilitators_share_participants_once_allowed_and_a_second_sharer_only_takes_over_when_allowed()
 {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let (cid, kid) = (claire.id.clone(), karim.id.clone());
    assert!(
        claire.welcome.get("screen").is_none(),
        "nobody shares yet: {}",
        claire.welcome
    );

    // A participant: neither share nor decide who shares.
    karim
        .refused_about(
            json!({"type": "share", "sharing": true}),
            "share",
            "forbidden",
        )
        .await;
    karim
        .refused_about(
            json!({"type": "share_policy", "takeover": true}),
            "share_policy",
            "forbidden",
        )
        .await;

    // The facilitator shares, with sound: everyone is told.
    claire
        .send_json(&json!({"type": "share", "sharing": true, "audio": true}))
        .await;
    let m = everyone_sees(&mut [&mut claire, &mut karim]).await;
    assert_eq!(m["change"], "started", "{m}");
    assert_eq!(m["by"], cid.as_str());
    assert_eq!(m["screen"]["sharer"], cid.as_str());
    assert_eq!(m["screen"]["audio"], true);
    assert!(m["screen"]["since"].as_i64().is_some_and(|t| t > 0), "{m}");

    // A latecomer learns it in her welcome.
    let mut sophie = server.join(&session, "Sophie Dubois").await;
    assert_eq!(sophie.welcome["screen"]["sharer"], cid.as_str());

    // Karim allowed: he may share, but not over Claire's share…
    claire
        .send_json(&json!({"type": "share_policy", "participant": kid, "allowed": true}))
        .await;
    let m = everyone_sees(&mut [&mut claire, &mut karim, &mut sophie]).await;
    assert_eq!(m["change"], "policy");
    assert_eq!(m["screen"]["allowed"], json!([kid]));
    assert_eq!(m["screen"]["sharer"], cid.as_str(), "Claire still shares");
    karim
        .refused_about(
            json!({"type": "share", "sharing": true}),
            "share",
            "conflict",
        )
        .await;
    // …and Sophie, not allowed, may not stop anyone's share.
    sophie
        .refused_about(
            json!({"type": "share", "sharing": false, "participant": cid}),
            "share",
            "forbidden",
        )
        .await;

    // Taking over allowed: Karim's share replaces Claire's.
    claire
        .send_json(&json!({"type": "share_policy", "takeover": true}))
        .await;
    let m = everyone_sees(&mut [&mut claire, &mut karim, &mut sophie]).await;
    assert_eq!(m["screen"]["takeover"], true);
    karim
        .send_json(&json!({"type": "share", "sharing": true}))
        .await;
    let m = everyone_sees(&mut [&mut claire, &mut karim, &mut sophie]).await;
    assert_eq!(m["change"], "replaced", "{m}");
    assert_eq!(m["screen"]["sharer"], kid.as_str());
    assert_eq!(m["screen"]["audio"], false);

    // The facilitator stops it.
    claire
        .send_json(&json!({"type": "share", "sharing": false, "participant": kid}))
        .await;
    let m = everyone_sees(&mut [&mut claire, &mut karim, &mut sophie]).await;
    assert_eq!(m["change"], "stopped_by", "{m}");
    assert_eq!(m["by"], cid.as_str());
    assert!(m["screen"].get("sharer").is_none(), "{m}");

    // Stopping twice changes nothing and is not an error.
    claire
        .send_json(&json!({"type": "share", "sharing": false, "participant": kid}))
        .await;
    karim.expect_no_message(Duration::from_millis(300)).await;

    // Nothing of it is evidence.
    let entries = server.ledger_all(&session.id).await;
    assert!(
        entries.iter().all(|e| !e.to_string().contains("share")),
        "screen sharing reached the ledger"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_ends_with_its_sharers_permission_or_tab_and_bad_requests_change_nothing() {
    let (server, session, mut claire, mut karim, mut sophie) = trio().await;
    let (cid, kid, sid_) = (claire.id.clone(), karim.id.clone(), sophie.id.clone());

    // Bad requests: each refused, nothing changes.
    claire
        .refused_about(
            json!({"type": "share_policy", "participant": "p_nobody", "allowed": true}),
            "share_policy",
            "unknown_peer",
        )
        .await;
    claire
        .refused_about(
            json!({"type": "share_policy", "participant": kid}),
            "share_policy",
            "invalid_input",
        )
        .await;
    claire
        .refused_about(
            json!({"type": "share_policy"}),
            "share_policy",
            "invalid_input",
        )
        .await;
    claire
        .refused_about(
            json!({"type": "share_policy", "participant": cid, "allowed": false}),
            "share_policy",
            "invalid_input",
        )
        .await;
    claire
        .refused_about(
            json!({"type": "share", "sharing": true, "participant": kid}),
            "share",
            "forbidden",
        )
        .await;
    claire
        .send_json(&json!({"type": "share", "audio": true}))
        .await;
    let (error, _) = claire
        .skip_until("an error", |m| m["type"] == "error")
        .await;
    assert_eq!(error["code"], "malformed_message", "{error}");
    sophie.expect_no_message(Duration::from_millis(300)).await;

    // Karim allowed, shares; the permission withdrawn ends his share.
    claire
        .send_json(&json!({"type": "share_policy", "participant": kid, "allowed": true}))
        .await;
    everyone_sees(&mut [&mut claire, &mut karim, &mut sophie]).await;
    karim
        .send_json(&json!({"type": "share", "sharing": true}))
        .await;
    let m = everyone_sees(&mut [&mut claire, &mut karim, &mut sophie]).await;
    assert_eq!(m["screen"]["sharer"], kid.as_str());
    claire
        .send_json(&json!({"type": "share_policy", "participant": kid, "allowed": false}))
        .await;
    let m = everyone_sees(&mut [&mut claire, &mut karim, &mut sophie]).await;
    assert_eq!(m["change"], "stopped_by", "{m}");
    assert!(m["screen"].get("sharer").is_none(), "{m}");
    assert!(m["screen"].get("allowed").is_none(), "{m}");
    karim
        .refused_about(
            json!({"type": "share", "sharing": true}),
            "share",
            "forbidden",
        )
        .await;

    // Sophie allowed, shares, then leaves: her share ends with her.
    claire
        .send_json(&json!({"type": "share_policy", "participant": sid_, "allowed": true}))
        .await;
    everyone_sees(&mut [&mut claire, &mut karim, &mut sophie]).await;
    sophie
        .send_json(&json!({"type": "share", "sharing": true}))
        .await;
    everyone_sees(&mut [&mut claire, &mut karim, &mut sophie]).await;
    sophie.leave().await;
    let m = everyone_sees(&mut [&mut claire, &mut karim]).await;
    assert_eq!(m["change"], "ended", "{m}");
    assert_eq!(m["by"], "server");
    assert!(m["screen"].get("sharer").is_none(), "{m}");
    // Her permission stays for when she comes back.
    assert_eq!(m["screen"]["allowed"], json!([sid_]));

    // Claire's share ends with her tab: a new tab has no capture.
    claire
        .send_json(&json!({"type": "share", "sharing": true}))
        .await;
    everyone_sees(&mut [&mut claire, &mut karim]).await;
    let claire_again = server.join(&session, "Claire Martin").await;
    let m = next_screen(&mut karim).await;
    assert_eq!(m["change"], "ended", "{m}");
    assert!(
        claire_again.welcome["screen"].get("sharer").is_none(),
        "{}",
        claire_again.welcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_request_flood_is_cut_and_the_others_hear_of_five_at_most() {
    let (_server, _session, mut claire, mut karim, _sophie) = trio().await;
    for _ in 0..12 {
        claire
            .send_json(&json!({"type": "share_policy", "takeover": true}))
            .await;
    }
    let (error, _) = claire
        .skip_until("a refusal", |m| {
            m["type"] == "error" && m["about"] == "share_policy"
        })
        .await;
    assert_eq!(error["code"], "rate_limited", "{error}");
    let mut told = 0;
    while let Ok(m) = tokio::time::timeout(Duration::from_millis(500), async {
        karim
            .skip_until("a screen message", |m| m["type"] == "screen")
            .await
            .0
    })
    .await
    {
        assert_eq!(m["change"], "policy");
        told += 1;
    }
    assert!((1..=6).contains(&told), "{told} changes reached Karim");
}

/// Tracks of `stream` received by `subscriber` with at least one packet.
fn flowing<'a>(received: &'a [Received], stream: &str, kind: &str) -> Option<&'a Received> {
    received
        .iter()
        .find(|r| r.stream == stream && r.kind == kind && r.count > 0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_a_screen_reaches_the_others_only_while_its_publisher_is_the_sharer() {
    let (forwarder, mut events) = Forwarder::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    forwarder.join("p_anne").await.expect("join");
    forwarder.join("p_bruno").await.expect("join");
    let bruno = std::sync::Arc::new(SyntheticSubscriber::new().await);
    // Bruno answers every offer of the server.
    let pump = {
        let forwarder = forwarder.clone();
        let bruno = std::sync::Arc::clone(&bruno);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let cadre_server::forward::ForwardEvent::Offer {
                    member,
                    description,
                } = event
                    && member == "p_bruno"
                {
                    let answer = bruno.answer(&description).await;
                    forwarder.answer("p_bruno", &answer).await.expect("answer");
                }
            }
        })
    };
    // Anne's camera, and a second video in a stream of its own: her screen.
    let anne = SyntheticPublisher::with_config(PublisherConfig {
        second_video: true,
        ..Default::default()
    })
    .await;
    let offer = anne.complete_offer().await;
    let answer = forwarder.publish("p_anne", &offer).await.expect("publish");
    anne.accept_answer(&answer).await;
    anne.wait_connected(Duration::from_secs(10)).await;
    let screen_stream = format!("p_anne{SCREEN_STREAM_SUFFIX}");

    // Not the sharer: her screen's packets reach nobody; her camera does.
    let send = |from: u32| {
        let anne = &anne;
        async move {
            for k in from..from + 60 {
                anne.send_video(k as u16, 3000 * k, true, vec![0x10, 0, 0, 1, k as u8])
                    .await;
                anne.send_second_video(k as u16, 3000 * k, vec![0x10, 0, 0, 2, k as u8])
                    .await;
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut k = 0;
    while flowing(&bruno.received(), "p_anne", "video").is_none() {
        send(k).await;
        k += 60;
        assert!(
            tokio::time::Instant::now() < deadline,
            "Anne's camera never reached Bruno"
        );
    }
    send(k).await;
    k += 60;
    assert!(
        flowing(&bruno.received(), &screen_stream, "video").is_none(),
        "a screen nobody allowed reached Bruno"
    );

    // Anne shares: her screen reaches Bruno, under its own stream.
    forwarder.set_sharer(Some("p_anne".to_owned()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while flowing(&bruno.received(), &screen_stream, "video").is_none() {
        send(k).await;
        k += 60;
        assert!(
            tokio::time::Instant::now() < deadline,
            "Anne's screen never reached Bruno"
        );
    }
    let received = bruno.received();
    let screen = flowing(&received, &screen_stream, "video").expect("screen");
    assert!(
        screen
            .packets
            .iter()
            .all(|(_, _, _, data)| data.get(3) == Some(&2)),
        "the camera's packets came on the screen's track"
    );
    let camera = flowing(&received, "p_anne", "video").expect("camera");
    assert!(
        camera
            .packets
            .iter()
            .all(|(_, _, _, data)| data.get(3) == Some(&1)),
        "the screen's packets came on the camera's track"
    );

    // She stops: nothing more of her screen.
    forwarder.set_sharer(None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = flowing(&bruno.received(), &screen_stream, "video")
        .map(|r| r.count)
        .unwrap_or(0);
    send(k).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = flowing(&bruno.received(), &screen_stream, "video")
        .map(|r| r.count)
        .unwrap_or(0);
    assert_eq!(before, after, "a stopped share went on reaching Bruno");
    pump.abort();
    forwarder.close().await;
    anne.close().await;
    bruno.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_screen_is_a_file_of_its_own_beside_the_camera_and_microphone() {
    use cadre_server::recording::{Recorder, RecorderConfig};
    use cadre_tests::containers::{check_ivf, check_ogg};
    use cadre_tests::media::{vp8_keyframe, vp8_packetize};

    let tmp = tempfile::tempdir().expect("tmp");
    let recorder = Recorder::new(RecorderConfig {
        dir: tmp.path().join("recordings"),
        udp_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        quota_bytes: None,
        keyframe_interval: Duration::from_secs(1),
    })
    .expect("open the recorder");
    let (tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let segment = recorder
        .open_segment("s_screen", 1, tx)
        .expect("open a segment");
    // A page publishes its microphone and camera, then its screen in a
    // stream of its own (the synthetic publisher's second video).
    let anne = SyntheticPublisher::with_config(PublisherConfig {
        second_video: true,
        ..Default::default()
    })
    .await;
    let offer = anne.complete_offer().await;
    let answer = tokio::time::timeout(Duration::from_secs(20), segment.publish("p_anne", &offer))
        .await
        .expect("in time")
        .expect("publish");
    anne.accept_answer(&answer).await;
    anne.wait_connected(Duration::from_secs(20)).await;
    anne.start_media();
    for k in 0..40u32 {
        let frame = vp8_keyframe((320, 240), 400, k);
        let packets = vp8_packetize(&frame, 1200);
        assert_eq!(packets.len(), 1, "one packet per frame");
        anne.send_second_video(k as u16, 9000 * k, packets[0].0.clone())
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let files = tokio::time::timeout(Duration::from_secs(20), segment.finish())
        .await
        .expect("finish in time");
    let tracks: Vec<(&str, &str)> = files.iter().map(|f| (f.name.as_str(), f.track)).collect();
    assert_eq!(
        tracks,
        [
            ("s_screen/1/p_anne-audio.ogg", "audio"),
            ("s_screen/1/p_anne-screen-video.ivf", "screen-video"),
            ("s_screen/1/p_anne-video.ivf", "video"),
        ],
        "the screen is recorded apart"
    );
    let screen = check_ivf(&files[1].path);
    assert!(screen.frames >= 30, "{} screen frames", screen.frames);
    assert!(check_ivf(&files[2].path).frames > 0);
    check_ogg(&files[0].path);
    anne.close().await;
}
