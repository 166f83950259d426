//! A session postponed to later the same day, through a real server and
//! real WebSocket clients: everyone stays connected while it is postponed,
//! and the new start opens it for all of them live (no reload); a reload in
//! the new window joins a running session. The time attended before the
//! postponement, and the sign-in made then, count in the proof and on the
//! sheet under the half-day they happened in, beside the time attended in
//! the new window, and `cadre verify` recomputes the same figures.

use cadre_server::evidence::verify::EXIT_VERIFIED;
use cadre_tests::{PEOPLE, TestServer, rfc3339, session_body, verify_file};
use serde_json::{Value, json};
use std::time::Duration;

/// The half-day of `proof` whose planned parts (or single span) hold `ms`.
fn half_day_at(proof: &Value, ms: i64) -> Value {
    proof["proof"]["half_days"]
        .as_array()
        .expect("half_days")
        .iter()
        .find(|h| {
            let parts: Vec<(i64, i64)> = match h["planned_parts"].as_array() {
                Some(p) => p
                    .iter()
                    .map(|s| (s[0].as_i64().unwrap(), s[1].as_i64().unwrap()))
                    .collect(),
                None => vec![(
                    h["planned_start"].as_i64().unwrap(),
                    h["planned_end"].as_i64().unwrap(),
                )],
            };
            parts.iter().any(|&(a, b)| a <= ms && ms < b)
        })
        .unwrap_or_else(|| panic!("no half-day plans {ms}: {proof}"))
        .clone()
}

/// `t` to the second, as the REST and wire times carry it.
fn whole_second(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.timestamp(), 0).expect("in range")
}

#[tokio::test]
async fn a_same_day_postponement_reopens_live_and_both_periods_count() {
    let server = TestServer::start().await;
    let mut body = session_body(&PEOPLE[..2]);
    let now = whole_second(chrono::Utc::now());
    let first_start = now - chrono::Duration::minutes(1);
    body.planned_start = rfc3339(first_start);
    body.planned_end = rfc3339(now + chrono::Duration::hours(2));
    let session = server.create_session_body(&body).await;
    let sid = session.id.clone();
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;

    // The planned start has passed: the first join starts it, and both
    // land in a running session.
    for client in [&claire, &karim] {
        assert_eq!(client.welcome["session"]["state"], "running");
        assert_eq!(client.welcome["notice"]["action"], "start");
    }
    let slot = karim.welcome["slots"][0]["slot"]
        .as_str()
        .expect("a slot in progress")
        .to_owned();
    karim
        .send_json(&json!({"type": "sign_in", "slot": slot}))
        .await;
    karim.recv_evidence_type("signed").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // Postponed to a few seconds from now: everyone stays connected.
    let new_start = whole_second(chrono::Utc::now() + chrono::Duration::seconds(3));
    let new_end = new_start + chrono::Duration::hours(1);
    claire
        .send_json(&json!({
            "type": "control", "action": "postpone", "reason": "Coupure chez la formatrice",
            "start": rfc3339(new_start), "end": rfc3339(new_end),
        }))
        .await;
    for client in [&mut claire, &mut karim] {
        let m = client.session_notice("postpone").await;
        assert_eq!(m["notice"]["state"], "postponed");
    }
    let states = server.wait_ledger(&sid, "session_state", 2).await;
    let postponed = &states[1];
    assert_eq!(postponed["payload"]["previous_start"], rfc3339(first_start));
    let postponed_at = postponed["ts"].as_i64().expect("ts");
    let (_, view) = server.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(view["state"], "postponed");

    // The new start opens the session for both, live, without a reload.
    for client in [&mut claire, &mut karim] {
        let m = client.session_notice("start").await;
        assert_eq!(m["notice"]["state"], "running");
        assert_eq!(m["notice"]["by"], "cadre");
    }
    let states = server.wait_ledger(&sid, "session_state", 3).await;
    assert_eq!(states[2]["payload"]["from"], "postponed");
    assert_eq!(states[2]["payload"]["to"], "running");
    assert_eq!(states[2]["actor"], "server");
    assert!(states[2]["ts"].as_i64() >= Some(new_start.timestamp_millis()));
    let (_, view) = server.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(view["state"], "running");

    // A reload in the new window joins a running session.
    karim.leave().await;
    drop(karim);
    let karim = server.join(&session, "Karim Benali").await;
    assert_eq!(karim.welcome["session"]["state"], "running");
    assert_eq!(karim.welcome["notice"]["action"], "start");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // He leaves, so that the second period ends in the log: a connection
    // still open counts until the proof's tree head, which is only as
    // recent as the log's last entry.
    let karim_id = karim.id.clone();
    let closed = server.ledger_entries(&sid, "connection_closed").await.len();
    karim.leave().await;
    drop(karim);
    server
        .wait_ledger(&sid, "connection_closed", closed + 1)
        .await;

    // Karim's proof: both periods, each under its half-day, and the
    // sign-in made before the postponement.
    let (status, proof) = server
        .get(&format!("/api/sessions/{sid}/proofs/{karim_id}/json"))
        .await;
    assert_eq!(status, 200, "{proof}");
    let before = half_day_at(&proof, postponed_at - 1);
    let after = half_day_at(&proof, new_start.timestamp_millis() + 1);
    assert_eq!(before["slot"], slot.as_str(), "{proof}");
    assert!(before["signed_in_at"].as_i64().is_some(), "{before}");
    let connected = proof["proof"]["totals"]["connected_seconds"]
        .as_i64()
        .expect("connected");
    let planned = proof["proof"]["totals"]["planned_seconds"]
        .as_i64()
        .expect("planned");
    // Planned: the first window until the postponement, then the new one.
    let expected_planned = (postponed_at - first_start.timestamp_millis()) / 1000 + 3_600;
    assert!(
        (planned - expected_planned).abs() <= 1,
        "planned {planned}, expected {expected_planned}: {proof}"
    );
    // At least 2.5 s before and 2.5 s after; what lies between, postponed,
    // is not planned time.
    assert!(
        connected >= 5,
        "both periods count: {connected} s in {proof}"
    );
    if before["slot"] == after["slot"] {
        let parts = before["planned_parts"].as_array().expect("two parts");
        assert_eq!(parts.len(), 2, "{before}");
        assert_eq!(parts[0][1].as_i64(), Some(postponed_at));
        assert_eq!(parts[1][0].as_i64(), Some(new_start.timestamp_millis()));
    }

    // The sheet counts the same, under the same half-days.
    let (_, sheet) = server
        .get(&format!("/api/sessions/{sid}/attendance.json"))
        .await;
    let rows: Vec<&Value> = sheet["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["person"] == karim_id.as_str())
        .collect();
    let row_of = |slot: &Value| {
        rows.iter()
            .find(|r| r["half_day"] == *slot)
            .unwrap_or_else(|| panic!("no row for {slot} in {sheet}"))
    };
    assert!(row_of(&before["slot"])["signed_in_at"].as_i64().is_some());
    let total = rows
        .iter()
        .find(|r| r["half_day"].is_null())
        .expect("a total row");
    assert!(total["connected_seconds"].as_i64() >= Some(5), "{total}");
    assert!(
        (total["planned_seconds"].as_i64().expect("planned") - expected_planned).abs() <= 1,
        "{total}"
    );

    // `cadre verify` recomputes the same figures from the entries.
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, jwks) = server.get_public("/.well-known/jwks.json").await;
    let jws = proof["jws"].as_str().expect("jws");
    let (code, out, err) = verify_file(dir.path(), "karim.jws", jws, &jwks.to_string(), &[]);
    assert_eq!(code, EXIT_VERIFIED, "{out}{err}");
    drop(claire);
}

#[tokio::test]
async fn start_is_the_servers_act_and_a_client_that_sends_it_changes_nothing() {
    let server = TestServer::start().await;
    let mut body = session_body(&PEOPLE[..2]);
    let now = chrono::Utc::now();
    // Not started yet: the links open half an hour before.
    body.planned_start = rfc3339(now + chrono::Duration::minutes(20));
    body.planned_end = rfc3339(now + chrono::Duration::hours(2));
    let session = server.create_session_body(&body).await;
    let sid = session.id.clone();
    let mut claire = server.join(&session, "Claire Martin").await;
    assert_eq!(claire.welcome["session"]["state"], "open");
    claire
        .send_json(&json!({"type": "control", "action": "start", "reason": "on commence"}))
        .await;
    claire.refused("invalid_input").await;
    assert!(
        server
            .ledger_entries(&sid, "session_state")
            .await
            .is_empty()
    );
    let (_, view) = server.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(view["state"], "scheduled");
}
