//! Half-day sign-in (émargement) and the evidence a person sees.
//!
//! The server opens the current half-day's window by itself, a participant
//! signs once and gets a receipt (a tree head signed with the published
//! key), the facilitator countersigns, and every refusal — signing twice,
//! signing a slot that is not open or does not exist, a participant doing a
//! facilitator's act, a malformed signature — gets its code and records
//! nothing. A person's evidence view holds their own entries only.

use cadre_protocol::evidence::{Jwks, TreeHead, verify_jws};
use cadre_tests::PEOPLE;
use cadre_tests::{TestServer, session_body};
use serde_json::{Value, json};
use std::time::Duration;

async fn jwks(server: &TestServer) -> Jwks {
    let (_, body) = server.get_public("/.well-known/jwks.json").await;
    serde_json::from_value(body).expect("JWKS")
}

/// The open slot of a fresh session planned from now.
fn open_slot(welcome: &Value) -> String {
    let slots = welcome["slots"].as_array().expect("welcome.slots");
    let first = slots
        .first()
        .expect("a session planned from now has a slot");
    first["slot"].as_str().expect("slot id").to_owned()
}

/// Waits until the slot's window is open for this client: already in its
/// welcome, or announced after (the opening may still be being written).
async fn wait_open(client: &mut cadre_tests::Client, slot: &str) -> i64 {
    let in_welcome = client.welcome["slots"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["slot"] == slot))
        .and_then(|s| s["signin_closes_at"].as_i64());
    if let Some(closes) = in_welcome {
        return closes;
    }
    let open = client.recv_evidence_type("signin_open").await;
    assert_eq!(open["slot"], slot);
    open["closes_at"].as_i64().expect("closes_at")
}

#[tokio::test]
async fn participant_signs_facilitator_countersigns_with_receipts() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let slot = open_slot(&karim.welcome);
    // The window opens by itself for the half-day in progress.
    let closes_at = wait_open(&mut karim, &slot).await;
    assert!(closes_at > chrono::Utc::now().timestamp_millis());

    karim
        .send_json(&json!({
            "type": "sign_in", "slot": slot,
            "signature": [[[0, 0, 0], [500, 800, 40], [1000, 1000, 90]]],
            "client_time": 1
        }))
        .await;
    let signed = karim.recv_evidence_type("signed").await;
    assert_eq!(signed["slot"], slot.as_str());
    let receipt = signed["receipt"].as_str().expect("receipt");
    let verified = verify_jws(receipt, &jwks(&server).await).expect("receipt verifies");
    let head: TreeHead = serde_json::from_slice(&verified.payload).expect("tree head");
    assert_eq!(head.sid, session.id);
    assert!(
        head.tree_size >= 3,
        "opening, window and sign-in are covered"
    );

    // Signing twice is refused and records nothing.
    karim
        .send_json(&json!({"type": "sign_in", "slot": slot}))
        .await;
    karim.recv_error("conflict").await;

    // The facilitator sees who signed, and countersigns.
    claire.recv_type("peer_joined").await;
    let status = claire.recv_evidence_type("signin_status").await;
    assert_eq!(status["signed"][0][0], karim.id.as_str());
    claire
        .send_json(&json!({"type": "countersign", "slot": slot, "participant": karim.id}))
        .await;
    let seen = karim.recv_evidence_type("countersigned").await;
    assert_eq!(seen["participant"], karim.id.as_str());
    let entry = karim.recv_recorded("countersigned").await;
    assert_eq!(entry["actor"], claire.id.as_str());
    claire
        .send_json(&json!({"type": "countersign", "slot": slot, "participant": karim.id}))
        .await;
    claire.recv_error("conflict").await;

    // A reconnection shows the recorded state.
    drop(karim);
    let karim = server.join(&session, "Karim Benali").await;
    let slots = karim.welcome["slots"].as_array().expect("slots");
    let mine = slots
        .iter()
        .find(|s| s["slot"] == slot.as_str())
        .expect("the slot");
    assert!(mine["signed_at"].as_i64().is_some(), "{mine}");
    assert!(mine["countersigned_at"].as_i64().is_some(), "{mine}");
}

#[tokio::test]
async fn refusals_get_their_code_and_record_nothing() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let mut sophie = server.join(&session, "Sophie Dubois").await;
    let slot = open_slot(&karim.welcome);
    wait_open(&mut sophie, &slot).await;

    let cases = [
        (
            json!({"type": "sign_in", "slot": "1999-01-01.am"}),
            "invalid_input",
        ),
        (
            json!({"type": "sign_in", "slot": slot, "signature": [[[2000, 0, 0]]]}),
            "invalid_input",
        ),
        (
            json!({"type": "sign_in", "slot": slot, "signature": []}),
            "invalid_input",
        ),
        (
            json!({"type": "countersign", "slot": slot, "participant": karim.id}),
            "forbidden",
        ),
        (json!({"type": "open_signin"}), "forbidden"),
        (json!({"type": "sign_in"}), "malformed_message"),
    ];
    for (msg, code) in cases {
        sophie.send_json(&msg).await;
        sophie.recv_error(code).await;
    }
    // A countersignature of someone who has not signed.
    claire.recv_type("peer_joined").await;
    claire.recv_type("peer_joined").await;
    claire
        .send_json(&json!({"type": "countersign", "slot": slot, "participant": sophie.id}))
        .await;
    claire.recv_error("conflict").await;

    // None of it reached the ledger: Sophie's evidence is her connection
    // only, beside the session-wide entries (the server's run, the window).
    let kinds: Vec<String> = sophie
        .evidence()
        .await
        .iter()
        .filter(|e| e["actor"] != "server")
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(kinds, ["connection_opened"]);
    // And the others heard nothing about it.
    karim.recv_type("peer_joined").await;
    karim.expect_no_message(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn evidence_view_holds_own_entries_and_presence_changes_only() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    for (visible, focused) in [(true, true), (true, true), (false, true), (false, false)] {
        karim
            .send_json(&json!({"type": "presence", "visible": visible, "focused": focused}))
            .await;
    }
    claire
        .send_json(&json!({"type": "presence", "visible": false, "focused": false}))
        .await;
    // Karim's changes are acknowledged once each, when durable.
    let v1 = karim.recv_recorded("visibility").await;
    assert_eq!(v1["payload"]["visible"], true);
    karim.recv_recorded("focus").await;
    let v2 = karim.recv_recorded("visibility").await;
    assert_eq!(v2["payload"]["visible"], false);
    let f2 = karim.recv_recorded("focus").await;
    assert_eq!(f2["payload"]["focused"], false);
    claire.recv_recorded("focus").await;

    // His own entries, and the session-wide ones (the server's run, the
    // sign-in window): never Claire's.
    let entries = karim.evidence().await;
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] == karim.id.as_str() || e["actor"] == "server"),
        "{entries:?}"
    );
    assert!(
        entries.iter().all(|e| e["actor"] != claire.id.as_str()),
        "{entries:?}"
    );
    let presence = entries
        .iter()
        .filter(|e| e["kind"] == "visibility" || e["kind"] == "focus")
        .count();
    assert_eq!(
        presence, 4,
        "two changes of each, the repeat is not recorded"
    );
}

#[tokio::test]
async fn no_signin_before_the_half_day_starts() {
    let server = TestServer::start().await;
    let mut body = session_body(&PEOPLE);
    // Links open 30 minutes before the start: present, but no slot yet.
    let start = chrono::Utc::now() + chrono::Duration::minutes(20);
    body.planned_start = start.to_rfc3339();
    body.planned_end = (start + chrono::Duration::hours(1)).to_rfc3339();
    let session = server.create_session_body(&body).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let slot = open_slot(&karim.welcome);
    karim
        .send_json(&json!({"type": "sign_in", "slot": slot}))
        .await;
    karim.recv_error("not_open").await;
    claire.recv_type("peer_joined").await;
    claire.send_json(&json!({"type": "open_signin"})).await;
    claire.recv_error("not_open").await;
}

#[tokio::test]
async fn leaving_hands_over_a_receipt_covering_the_departure() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let _claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    karim.send_json(&json!({"type": "leave"})).await;
    let closed = karim.recv_recorded("connection_closed").await;
    assert_eq!(closed["payload"]["reason"], "left");
    let receipt = karim.recv_evidence_type("receipt").await;
    let verified = verify_jws(
        receipt["tree_head"].as_str().expect("tree head"),
        &jwks(&server).await,
    )
    .expect("receipt verifies");
    let head: TreeHead = serde_json::from_slice(&verified.payload).expect("head");
    assert!(
        head.tree_size > closed["seq"].as_u64().expect("seq"),
        "the receipt covers the departure"
    );
}
