//! The recording gate, through real WebSocket clients: recording runs only
//! while a facilitator has armed it and every connected person has granted
//! `recording`; a withdrawal, a newcomer without consent or disarming closes
//! the segment; the facilitator sees a count, never who; everything is in
//! the ledger. No media here (see `recording_media.rs`).

use cadre_tests::PEOPLE;
use cadre_tests::TestServer;
use serde_json::json;

#[tokio::test]
async fn recording_runs_only_while_armed_and_everyone_connected_agrees() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let hash = server
        .consent_hash(&session.people[0].link.token, "recording")
        .await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    assert_eq!(
        claire.welcome["recording"],
        json!({"armed": false, "active": false})
    );

    // Armed: nobody has agreed yet. The facilitator sees how many, the
    // participant a neutral "waiting", without any count.
    claire
        .send_json(&json!({"type": "recording", "armed": true}))
        .await;
    let seen = claire
        .recording_state("armed", |r| r["armed"] == true)
        .await;
    assert_eq!(seen, json!({"armed": true, "active": false, "missing": 2}));
    let seen = karim.recording_state("armed", |r| r["armed"] == true).await;
    assert_eq!(seen, json!({"armed": true, "active": false}));
    let armed = server.wait_ledger(&sid, "recording_armed", 1).await;
    assert_eq!(armed[0]["actor"], claire.id.as_str());
    assert_eq!(armed[0]["payload"]["armed"], true);

    karim.decide_recording(&hash, true).await;
    let seen = claire
        .recording_state("one missing", |r| r["missing"] == 1)
        .await;
    assert_eq!(seen["active"], false);
    assert_eq!(
        server.ledger_entries(&sid, "recording_started").await.len(),
        0
    );

    // The last consent opens the gate: segment 1, in the ledger first.
    claire.decide_recording(&hash, true).await;
    let on = karim
        .recording_state("active", |r| r["active"] == true)
        .await;
    assert_eq!(on["segment"], 1);
    assert!(on["since"].as_i64().is_some());
    let on = claire
        .recording_state("active", |r| r["active"] == true)
        .await;
    assert_eq!(on["missing"], 0);
    let started = server.wait_ledger(&sid, "recording_started", 1).await;
    assert_eq!(started[0]["payload"]["segment"], 1);
    let mut people: Vec<&str> = started[0]["payload"]["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    people.sort();
    let mut expected = vec![claire.id.as_str(), karim.id.as_str()];
    expected.sort();
    assert_eq!(people, expected);

    // A newcomer without consent closes it; their welcome already says so.
    let mut sophie = server.join(&session, "Sophie Dubois").await;
    assert_eq!(
        sophie.welcome["recording"],
        json!({"armed": true, "active": false})
    );
    karim
        .recording_state("stopped", |r| r["active"] == false)
        .await;
    let off = claire
        .recording_state("stopped", |r| r["active"] == false)
        .await;
    assert_eq!(off["missing"], 1);
    let stopped = server.wait_ledger(&sid, "recording_stopped", 1).await;
    assert_eq!(stopped[0]["payload"]["segment"], 1);
    assert_eq!(
        stopped[0]["payload"]["reason"],
        "participant_without_consent"
    );
    assert_eq!(stopped[0]["payload"]["files"], json!([]));
    assert!(
        stopped[0]["payload"]["closed_at"].as_i64() >= stopped[0]["payload"]["started_at"].as_i64()
    );

    // Everyone agrees again: a new segment.
    sophie.decide_recording(&hash, true).await;
    let on = sophie
        .recording_state("active", |r| r["active"] == true)
        .await;
    assert_eq!(on["segment"], 2);

    // A withdrawal closes it at once.
    karim.decide_recording(&hash, false).await;
    sophie
        .recording_state("stopped", |r| r["active"] == false)
        .await;
    let stopped = server.wait_ledger(&sid, "recording_stopped", 2).await;
    assert_eq!(stopped[1]["payload"]["segment"], 2);
    assert_eq!(stopped[1]["payload"]["reason"], "consent_withdrawn");

    // Karim leaves: the others all agree, so a segment opens.
    karim.leave().await;
    let on = claire
        .recording_state("segment 3", |r| r["segment"] == 3)
        .await;
    assert_eq!(on["active"], true);

    // Disarming closes it and says so.
    claire
        .send_json(&json!({"type": "recording", "armed": false}))
        .await;
    let off = sophie
        .recording_state("disarmed", |r| r["armed"] == false)
        .await;
    assert_eq!(off, json!({"armed": false, "active": false}));
    let stopped = server.wait_ledger(&sid, "recording_stopped", 3).await;
    assert_eq!(stopped[2]["payload"]["reason"], "disarmed");
    let armed = server.wait_ledger(&sid, "recording_armed", 2).await;
    assert_eq!(armed[1]["payload"]["armed"], false);
}

#[tokio::test]
async fn the_gate_refuses_what_is_not_allowed_and_changes_nothing() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let hash = server
        .consent_hash(&session.people[0].link.token, "recording")
        .await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;

    // A participant cannot arm.
    karim
        .send_json(&json!({"type": "recording", "armed": true}))
        .await;
    karim.refused("forbidden").await;
    assert_eq!(
        server.ledger_entries(&sid, "recording_armed").await.len(),
        0
    );

    // Malformed.
    claire.send_json(&json!({"type": "recording"})).await;
    claire.refused("malformed_message").await;
    karim
        .send_json(&json!({"type": "recorder_signal", "data": {"type": "offer", "sdp": "v=0"}}))
        .await;
    karim.refused("malformed_message").await;

    // Consent for someone else is refused, and theirs stays undecided.
    karim
        .send_json(&json!({
            "type": "consent", "consent": "recording", "granted": true,
            "text_sha256": hash, "participant": claire.id,
        }))
        .await;
    karim.refused("forbidden").await;
    assert_eq!(server.ledger_entries(&sid, "consent").await.len(), 0);
    let (_, lobby) = server
        .get_public(&format!("/api/join?token={}", session.people[0].link.token))
        .await;
    assert_eq!(lobby["consents"]["recording"], json!(null));

    // Publishing while the gate is closed (armed or not).
    karim.decide_recording(&hash, true).await;
    let offer = json!({"type": "offer", "sdp": "v=0\r\n"});
    karim
        .send_json(&json!({"type": "recorder_signal", "segment": 1, "data": offer}))
        .await;
    let error = karim.skip_until_type("error").await;
    assert_eq!(error["code"], "not_open");
    assert_eq!(error["about"], "recorder_signal");
    claire
        .send_json(&json!({"type": "recording", "armed": true}))
        .await;
    karim.recording_state("armed", |r| r["armed"] == true).await;
    karim
        .send_json(&json!({"type": "recorder_signal", "segment": 1, "data": offer}))
        .await;
    karim.refused("not_open").await;

    // Someone without consent cannot publish, whatever the segment.
    claire
        .send_json(&json!({"type": "recorder_signal", "segment": 1, "data": offer}))
        .await;
    claire.refused("forbidden").await;

    // Open now; a wrong segment number or a payload that is neither an
    // offer nor a candidate is refused.
    claire.decide_recording(&hash, true).await;
    let on = karim
        .recording_state("active", |r| r["active"] == true)
        .await;
    let segment = on["segment"].as_u64().expect("segment");
    karim
        .send_json(&json!({"type": "recorder_signal", "segment": segment + 1, "data": offer}))
        .await;
    karim.refused("not_open").await;
    karim
        .send_json(&json!({"type": "recorder_signal", "segment": segment, "data": {"hello": 1}}))
        .await;
    karim.refused("invalid_input").await;
    karim
        .send_json(&json!({"type": "recorder_signal", "segment": segment, "data": {"type": "offer", "sdp": "not an sdp"}}))
        .await;
    karim.refused("invalid_input").await;

    // Nothing of this disturbed the gate or the ledger.
    assert_eq!(
        server.ledger_entries(&sid, "recording_started").await.len(),
        1
    );
    assert_eq!(
        server.ledger_entries(&sid, "recording_stopped").await.len(),
        0
    );
    let dir = server.app().recorder().dir().join(&sid);
    let files = cadre_tests::files_under(&dir);
    assert!(files.is_empty(), "no file may exist: {files:?}");
}

#[tokio::test]
async fn a_facilitator_reconnecting_sees_the_gate_and_a_participant_never_sees_the_count() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let hash = server
        .consent_hash(&session.people[0].link.token, "recording")
        .await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    karim.decide_recording(&hash, true).await;
    claire
        .send_json(&json!({"type": "recording", "armed": true}))
        .await;
    claire
        .recording_state("armed", |r| r["armed"] == true)
        .await;
    // A second tab of the facilitator gets the state in its welcome.
    let again = server.join(&session, "Claire Martin").await;
    assert_eq!(
        again.welcome["recording"],
        json!({"armed": true, "active": false, "missing": 1})
    );
    let sophie = server.join(&session, "Sophie Dubois").await;
    assert_eq!(
        sophie.welcome["recording"],
        json!({"armed": true, "active": false})
    );
    drop(karim);
}
