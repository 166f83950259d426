//! Connection and presence quality through real clients: figures sent with
//! `stats` are scored, pushed live to the facilitators and to the person
//! concerned, summarised in the ledger; bad figures are refused; alert
//! rules fire with their evidence; the optional policy suspends.

use cadre_tests::PEOPLE;
use cadre_tests::{Client, TestServer};
use serde_json::{Value, json};
use std::time::Duration;

/// Enough for three quality ticks (every 5 s).
const TICKS: Duration = Duration::from_secs(16);

fn stats(rtt_ms: f64, loss: f64, peer: &str) -> Value {
    json!({
        "type": "stats", "connection": "connected",
        "peers": [{"peer": peer, "rtt_ms": rtt_ms, "loss": loss, "jitter_ms": 5.0,
                   "in_kbps": 800.0, "out_kbps": 600.0, "fps": 25.0}],
    })
}

fn about(m: &Value, id: &str) -> Option<Value> {
    m["people"]
        .as_array()
        .and_then(|p| p.iter().find(|v| v["id"] == id).cloned())
}

/// The next view of `id` satisfying `wanted`.
async fn view_of(client: &mut Client, id: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let m = client
        .recv_quality(TICKS, |m| {
            m["type"] == "quality" && about(m, id).is_some_and(|v| wanted(&v))
        })
        .await;
    about(&m, id).unwrap_or_default()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn figures_are_scored_and_shown_to_the_facilitator_and_the_person_only() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let mut sophie = server.join(&session, "Sophie Dubois").await;

    karim.send_json(&stats(40.0, 0.0, &claire.id)).await;
    let seen = view_of(&mut claire, &karim.id, |v| v["score"] == "excellent").await;
    assert_eq!(seen["figures"]["rtt_ms"], 40.0);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    karim.send_json(&stats(650.0, 0.12, &claire.id)).await;
    let seen = view_of(&mut claire, &karim.id, |v| v["score"] == "poor").await;
    let reasons = strings(&seen["reasons"]);
    assert!(
        reasons.contains(&"rtt_high") && reasons.contains(&"loss_high"),
        "{seen}"
    );
    // Karim sees what is reported about him; Sophie sees nothing of it.
    let karim_id = karim.id.clone();
    let own = view_of(&mut karim, &karim_id, |v| v["score"] == "poor").await;
    assert_eq!(own["figures"]["loss"], 0.12);
    let leak = sophie
        .try_recv_quality(Duration::from_millis(800), |m| {
            about(m, &karim.id).is_some()
        })
        .await;
    assert!(
        leak.is_none(),
        "a participant sees another's figures: {leak:?}"
    );

    // Leaving closes Karim's minute: its summary is in the ledger, his. The
    // two reports may fall in two minutes (a summary each): all of his
    // summaries together hold both.
    karim.leave().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let summaries = server.ledger_entries(&sid, "quality").await;
        let his: Vec<&Value> = summaries
            .iter()
            .filter(|e| e["actor"] == karim.id.as_str())
            .collect();
        let samples: u64 = his
            .iter()
            .filter_map(|e| e["payload"]["samples"].as_u64())
            .sum();
        if samples >= 2 {
            assert!(
                his.iter()
                    .all(|e| e["payload"]["minute"].as_i64().is_some())
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Karim's summaries hold {samples} of his 2 reports: {summaries:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn bad_figures_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let peer = claire.id.clone();
    karim
        .send_json(&json!({"type": "stats", "peers": []}))
        .await;
    karim.refused("malformed_message").await;
    karim
        .send_json(&json!({"type": "stats", "connection": "connected", "peers": "many"}))
        .await;
    karim.refused("malformed_message").await;
    for absurd in [
        stats(40.0, -0.1, &peer),
        stats(40.0, 1.5, &peer),
        stats(3_600_000.0, 0.0, &peer),
        stats(-5.0, 0.0, &peer),
        json!({"type": "stats", "connection": "dancing", "peers": []}),
        json!({"type": "stats", "connection": "connected", "peers": [{"peer": ""}]}),
    ] {
        karim.send_json(&absurd).await;
        let error = karim.refused("invalid_input").await;
        assert!(!error["message"].as_str().unwrap_or_default().is_empty());
        assert_eq!(error["about"], "stats", "the refusal names what it answers");
        // Let the next one through the once-a-second limit.
        tokio::time::sleep(Duration::from_millis(950)).await;
    }
    // Nothing absurd reached the facilitator's view of Karim.
    let polluted = claire
        .try_recv_quality(Duration::from_millis(500), |m| {
            about(m, &karim.id).is_some_and(|v| !v["figures"]["rtt_ms"].is_null())
        })
        .await;
    assert!(polluted.is_none(), "{polluted:?}");

    // More than one a second: dropped with rate_limited; the session goes on.
    karim.send_json(&stats(40.0, 0.0, &peer)).await;
    karim.send_json(&stats(41.0, 0.0, &peer)).await;
    karim.refused("rate_limited").await;
    let seen = view_of(&mut claire, &karim.id, |v| v["figures"]["rtt_ms"] == 40.0).await;
    assert_eq!(seen["score"], "excellent");
    karim.send_json(&json!({"type": "heartbeat"})).await;
    karim.skip_until_type("heartbeat_ack").await;
}

#[tokio::test]
async fn a_poor_facilitator_link_raises_an_alert_with_its_evidence_and_the_policy_can_suspend() {
    let server = TestServer::start_with(|c| {
        c.quality.facilitator_poor_for = Duration::from_secs(1);
        c.quality.auto_suspend = true;
    })
    .await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let peer = karim.id.clone();
    claire.send_json(&stats(900.0, 0.2, &peer)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    claire.send_json(&stats(950.0, 0.25, &peer)).await;
    let alert = claire.recv_quality(TICKS, |m| m["type"] == "alert").await;
    assert_eq!(alert["alert"]["rule"], "facilitator_link_poor");
    assert!(
        alert["alert"]["people"].as_array().is_some_and(|p| p
            .iter()
            .any(|v| v["id"] == claire.id.as_str() && v["figures"]["rtt_ms"].as_f64().is_some())),
        "the alert names who and the figures: {alert}"
    );
    assert!(alert["alert"]["since"].as_i64().is_some());
    assert!(
        !alert["alert"]["suggested"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    let recorded = server.wait_ledger(&sid, "alert", 1).await;
    assert_eq!(recorded[0]["payload"]["rule"], "facilitator_link_poor");
    // Counted for /metrics under its rule, and nowhere else.
    let metrics = server.app().render_metrics();
    assert!(
        metrics.contains("cadre_alerts_total{rule=\"facilitator_link_poor\"} 1\n")
            && metrics.contains("cadre_alerts_total{rule=\"group_poor\"} 0\n"),
        "{metrics}"
    );
    // Participants get no alert.
    let leaked = karim
        .try_recv_quality(Duration::from_millis(300), |m| m["type"] == "alert")
        .await;
    assert!(leaked.is_none());

    // The automatic policy suspended the session, with the alert's words.
    let (m, _) = karim
        .skip_until("suspension", |m| {
            m["type"] == "session_state" && m["notice"]["action"] == "suspend"
        })
        .await;
    assert_eq!(m["notice"]["by"], "cadre");
    assert!(
        !m["notice"]["reason"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    let states = server.wait_ledger(&sid, "session_state", 1).await;
    assert_eq!(states[0]["actor"], "server");
}

#[tokio::test]
async fn silence_is_lost_and_a_long_hidden_tab_is_reported_to_the_person() {
    let server = TestServer::start_with(|c| {
        c.quality.lost_after = Duration::from_secs(2);
        c.quality.hidden_long = Duration::from_secs(1);
    })
    .await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    karim
        .send_json(&json!({"type": "presence", "visible": false, "focused": false}))
        .await;
    let karim_id = karim.id.clone();
    let own = view_of(&mut karim, &karim_id, |v| {
        strings(&v["reasons"]).contains(&"tab_hidden_long")
    })
    .await;
    assert_eq!(own["presence"]["visible"], false);
    // No stats at all: lost, seen by the facilitator.
    let seen = view_of(&mut claire, &karim.id, |v| v["score"] == "lost").await;
    assert!(strings(&seen["reasons"]).contains(&"no_stats"), "{seen}");
}
