//! Session control by the facilitator: suspend, resume, postpone, end,
//! remove. Each needs a reason that every participant receives, is recorded
//! in the ledger, and is refused (changing nothing) when it does not fit.

use cadre_tests::{PEOPLE, rfc3339};
use cadre_tests::{TestServer, session_body};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn only_a_facilitator_controls_and_always_with_a_reason() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    for (action, extra) in [
        ("suspend", json!({})),
        ("resume", json!({})),
        ("end", json!({})),
        ("remove", json!({"participant": claire.id})),
        (
            "postpone",
            json!({"start": rfc3339(tomorrow), "end": rfc3339(tomorrow + chrono::Duration::hours(2))}),
        ),
    ] {
        let mut message = json!({"type": "control", "action": action, "reason": "je veux"});
        message
            .as_object_mut()
            .expect("object")
            .extend(extra.as_object().expect("object").clone());
        karim.send_json(&message).await;
        karim.refused("forbidden").await;
    }
    for reason in ["", "   \n "] {
        claire
            .send_json(&json!({"type": "control", "action": "suspend", "reason": reason}))
            .await;
        claire.refused("invalid_input").await;
    }
    claire
        .send_json(&json!({"type": "control", "action": "suspend"}))
        .await;
    claire.refused("malformed_message").await;
    claire
        .send_json(&json!({"type": "control", "action": "dance", "reason": "x"}))
        .await;
    claire.refused("malformed_message").await;
    claire
        .send_json(&json!({"type": "control", "action": "suspend", "reason": "x".repeat(501)}))
        .await;
    claire.refused("invalid_input").await;
    // Resuming what is not suspended.
    claire
        .send_json(&json!({"type": "control", "action": "resume", "reason": "on reprend"}))
        .await;
    claire.refused("conflict").await;
    // Removing oneself, or someone who is not in the session.
    claire
        .send_json(&json!({"type": "control", "action": "remove", "reason": "x", "participant": claire.id}))
        .await;
    claire.refused("invalid_input").await;
    claire
        .send_json(&json!({"type": "control", "action": "remove", "reason": "x", "participant": "p_nobody"}))
        .await;
    claire.refused("not_found").await;
    // Postponing into the past, or with the end before the start.
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    for (start, end) in [
        (rfc3339(past), rfc3339(past + chrono::Duration::hours(2))),
        (
            rfc3339(tomorrow),
            rfc3339(tomorrow - chrono::Duration::hours(1)),
        ),
        ("demain".to_owned(), rfc3339(tomorrow)),
    ] {
        claire
            .send_json(&json!({"type": "control", "action": "postpone", "reason": "réseau", "start": start, "end": end}))
            .await;
        claire.refused("invalid_input").await;
    }
    claire
        .send_json(&json!({"type": "control", "action": "postpone", "reason": "réseau"}))
        .await;
    claire.refused("invalid_input").await;
    // Fields that do not go with the action, a window over 31 days, a
    // reason with control characters.
    for message in [
        json!({"type": "control", "action": "suspend", "reason": "x", "participant": karim.id}),
        json!({"type": "control", "action": "suspend", "reason": "x", "start": rfc3339(tomorrow)}),
        json!({
            "type": "control", "action": "postpone", "reason": "x",
            "start": rfc3339(tomorrow), "end": rfc3339(tomorrow + chrono::Duration::days(32)),
        }),
        json!({"type": "control", "action": "suspend", "reason": "pause\u{0007}"}),
    ] {
        claire.send_json(&message).await;
        claire.refused("invalid_input").await;
    }
    // Nothing of this was recorded or changed: the one state change is
    // the server's start, at the planned start with people in the call.
    let states = server.ledger_entries(&sid, "session_state").await;
    let actions: Vec<&serde_json::Value> = states.iter().map(|e| &e["payload"]["action"]).collect();
    assert_eq!(actions, [&json!("start")], "{states:?}");
    assert!(server.ledger_entries(&sid, "removed").await.is_empty());
    let (_, view) = server.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(view["state"], "running");
}

#[tokio::test]
async fn a_suspension_reaches_everyone_with_its_reason_and_a_reconnection_lands_in_it() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    claire
        .send_json(&json!({"type": "control", "action": "suspend", "reason": "Coupure réseau chez la formatrice"}))
        .await;
    for client in [&mut claire, &mut karim] {
        let m = client.session_notice("suspend").await;
        assert_eq!(m["notice"]["state"], "suspended");
        assert_eq!(m["notice"]["reason"], "Coupure réseau chez la formatrice");
        assert_eq!(m["notice"]["by"], "Claire Martin");
    }
    let recorded = server.wait_ledger(&sid, "session_state", 2).await;
    assert_eq!(recorded[0]["payload"]["action"], "start");
    assert_eq!(recorded[1]["actor"], claire.id.as_str());
    assert_eq!(recorded[1]["payload"]["from"], "running");
    assert_eq!(recorded[1]["payload"]["to"], "suspended");
    let (_, view) = server.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(view["state"], "suspended");

    // A newcomer or a reconnection lands in the suspended state, with the
    // reason.
    let sophie = server.join(&session, "Sophie Dubois").await;
    assert_eq!(sophie.welcome["session"]["state"], "suspended");
    assert_eq!(
        sophie.welcome["notice"]["reason"],
        "Coupure réseau chez la formatrice"
    );
    // Suspending again is a conflict.
    claire
        .send_json(&json!({"type": "control", "action": "suspend", "reason": "encore"}))
        .await;
    claire.refused("conflict").await;

    tokio::time::sleep(Duration::from_millis(2200)).await;
    claire
        .send_json(&json!({"type": "control", "action": "resume", "reason": "Connexion rétablie"}))
        .await;
    let m = karim.session_notice("resume").await;
    assert_eq!(m["notice"]["state"], "running");
    assert_eq!(m["notice"]["reason"], "Connexion rétablie");
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // Attendance does not count the suspended time.
    let (_, sheet) = server
        .get(&format!("/api/sessions/{sid}/attendance.json"))
        .await;
    let row = sheet["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["person"] == karim.id.as_str())
        .unwrap_or_else(|| panic!("Karim's row: {sheet}"))
        .clone();
    let connected = row["connected_seconds"].as_i64().expect("connected");
    let present = row["present_seconds"].as_i64().expect("present");
    assert!(
        connected >= 4 && present <= connected - 2,
        "the 2 s suspension is not present time: connected {connected}, present {present}"
    );
    // The proof shows the control events with their reasons.
    let (_, proof) = server
        .get(&format!("/api/sessions/{sid}/proofs/{}/json", karim.id))
        .await;
    let reasons: Vec<&str> = proof["proof"]["control"]
        .as_array()
        .expect("control")
        .iter()
        .filter_map(|c| c["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        ["Coupure réseau chez la formatrice", "Connexion rétablie"]
    );
}

#[tokio::test]
async fn a_suspension_closes_the_recording_segment() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let (_, lobby) = server
        .get_public(&format!("/api/join?token={}", session.people[0].link.token))
        .await;
    let hash = lobby["consent_texts"]
        .as_array()
        .expect("texts")
        .iter()
        .find(|t| t["consent"] == "recording")
        .and_then(|t| t["sha256"].as_str())
        .expect("hash")
        .to_owned();
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    for c in [&mut claire, &mut karim] {
        c.send_json(&json!({"type": "consent", "consent": "recording", "granted": true, "text_sha256": hash}))
            .await;
        c.recv_evidence_type("consent_recorded").await;
    }
    claire
        .send_json(&json!({"type": "recording", "armed": true}))
        .await;
    karim
        .skip_until("active", |m| {
            m["type"] == "recording_state" && m["recording"]["active"] == true
        })
        .await;
    claire
        .send_json(&json!({"type": "control", "action": "suspend", "reason": "pause"}))
        .await;
    karim
        .skip_until("stopped", |m| {
            m["type"] == "recording_state" && m["recording"]["active"] == false
        })
        .await;
    let stopped = server.wait_ledger(&sid, "recording_stopped", 1).await;
    assert_eq!(stopped[0]["payload"]["reason"], "suspended");
    // Resuming while armed and everyone agreeing records again.
    claire
        .send_json(&json!({"type": "control", "action": "resume", "reason": "reprise"}))
        .await;
    let (m, _) = karim
        .skip_until("active again", |m| {
            m["type"] == "recording_state" && m["recording"]["active"] == true
        })
        .await;
    assert_eq!(m["recording"]["segment"], 2);
}

#[tokio::test]
async fn a_postponement_moves_the_session_keeps_the_links_and_gives_a_calendar_event() {
    // Links work 1 s after the planned end: the original window ends soon.
    let server = TestServer::start_with(|c| c.link_grace = Duration::from_secs(1)).await;
    let mut body = session_body(&PEOPLE[..2]);
    let now = chrono::Utc::now();
    body.planned_start = rfc3339(now - chrono::Duration::minutes(10));
    body.planned_end = rfc3339(now + chrono::Duration::seconds(2));
    let session = server.create_session_body(&body).await;
    let sid = session.id.clone();
    // A session never moved, whose links expire at the same time.
    let other = server.create_session_body(&body).await;
    let claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;

    let start = chrono::Utc::now() + chrono::Duration::days(7);
    let end = start + chrono::Duration::hours(3);
    claire
        .send_json(&json!({
            "type": "control", "action": "postpone", "reason": "Trop de coupures aujourd'hui",
            "start": rfc3339(start), "end": rfc3339(end),
        }))
        .await;
    let m = karim.session_notice("postpone").await;
    assert_eq!(m["notice"]["state"], "postponed");
    assert_eq!(m["notice"]["planned_start"], rfc3339(start));
    assert_eq!(m["notice"]["planned_end"], rfc3339(end));
    let recorded = server.wait_ledger(&sid, "session_state", 2).await;
    assert_eq!(recorded[1]["payload"]["planned_start"], rfc3339(start));
    let (_, view) = server.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(view["state"], "postponed");

    // The calendar event carries the new date.
    let token = &session.people[1].link.token;
    let response = server
        .http()
        .get(server.url(&format!("/api/sessions/{sid}/calendar.ics?token={token}")))
        .send()
        .await
        .expect("calendar");
    assert_eq!(response.status(), 200);
    let ics = response.text().await.expect("text");
    assert!(ics.contains(&format!("DTSTART:{}\r\n", start.format("%Y%m%dT%H%M%SZ"))));
    assert!(ics.contains("SEQUENCE:1\r\n"));
    let other_token = &other.people[1].link.token;
    let (status, _) = server
        .get_public(&format!(
            "/api/sessions/{sid}/calendar.ics?token={other_token}"
        ))
        .await;
    assert_eq!(status, 403, "another session's link gets no calendar");

    // Past the original window (end + 1 s grace + 5 s clock leeway), the
    // same link still opens the lobby; the links of a session that did not
    // move have expired.
    tokio::time::sleep(Duration::from_secs(9)).await;
    let (status, lobby) = server.get_public(&format!("/api/join?token={token}")).await;
    assert_eq!(status, 200, "{lobby}");
    assert_eq!(lobby["session"]["state"], "postponed");
    let (status, refusal) = server
        .get_public(&format!("/api/join?token={other_token}"))
        .await;
    assert_eq!(status, 401, "{refusal}");
    assert_eq!(refusal["code"], "token_expired");
    drop(claire);
}

#[tokio::test]
async fn ending_closes_every_connection_and_the_call_stays_closed() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    claire
        .send_json(&json!({"type": "control", "action": "end", "reason": "Séance terminée"}))
        .await;
    let m = karim.session_notice("end").await;
    assert_eq!(m["notice"]["state"], "ended");
    let closing = karim.skip_until_type("closing").await;
    assert_eq!(closing["reason"], "ended");
    karim.expect_closed(cadre_protocol::close_code::ENDED).await;
    let (status, refusal) = server.refusal(&sid, &session.people[1].link.token).await;
    assert_eq!(status, 403, "{refusal:?}");
    assert_eq!(refusal.code, cadre_protocol::ErrorCode::SessionEnded);
    // The lobby still answers: documents and reports stay reachable.
    let (status, lobby) = server
        .get_public(&format!("/api/join?token={}", session.people[1].link.token))
        .await;
    assert_eq!(status, 200);
    assert_eq!(lobby["session"]["state"], "ended");
    drop(claire);
}

#[tokio::test]
async fn a_removed_person_is_told_why_and_their_link_stops_until_readmitted() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let mut sophie = server.join(&session, "Sophie Dubois").await;
    claire
        .send_json(&json!({
            "type": "control", "action": "remove", "reason": "Propos irrespectueux répétés",
            "participant": karim.id,
        }))
        .await;
    // The others learn who was removed and by whom, not why.
    let m = sophie.session_notice("remove").await;
    assert_eq!(m["participant"], karim.id.as_str());
    assert_eq!(m["notice"]["reason"], "");
    assert_eq!(m["notice"]["by"], "Claire Martin");
    let m = karim.session_notice("remove").await;
    assert_eq!(m["participant"], karim.id.as_str());
    assert_eq!(m["notice"]["reason"], "Propos irrespectueux répétés");
    let closing = karim.skip_until_type("closing").await;
    assert_eq!(closing["reason"], "removed");
    karim
        .expect_closed(cadre_protocol::close_code::REMOVED)
        .await;
    let left = sophie.peer_left_reason(&karim.id).await;
    assert_eq!(left, "removed");
    let removed = server.wait_ledger(&sid, "removed", 1).await;
    assert_eq!(removed[0]["actor"], claire.id.as_str());
    assert_eq!(removed[0]["payload"]["participant"], karim.id.as_str());
    let token = &session.people[1].link.token;
    let (_, refusal) = server.refusal(&sid, token).await;
    assert_eq!(refusal.code, cadre_protocol::ErrorCode::TokenRevoked);
    // He keeps a written channel to contest the decision.
    let response = server
        .http()
        .post(server.url(&format!("/api/reports?token={token}")))
        .json(&json!({"text": "Je conteste mon exclusion : je n'ai rien dit de tel."}))
        .send()
        .await
        .expect("report");
    assert_eq!(response.status(), 201);

    // The organiser lets him back in: the same link works again.
    let (status, _) = server
        .post(
            &format!("/api/sessions/{sid}/people/{}/readmit", karim.id),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let again = server.join(&session, "Karim Benali").await;
    assert_eq!(again.id, karim.id);
    let readmitted = server.wait_ledger(&sid, "readmitted", 1).await;
    assert_eq!(readmitted[0]["actor"], "organiser");
    drop(claire);
}

#[tokio::test]
async fn a_difficulty_reported_in_the_call_is_answered_and_the_author_sees_it_at_once() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE[..2]).await;
    let sid = session.id.clone();
    let mut karim = server.join(&session, "Karim Benali").await;
    karim
        .send_json(&json!({"type": "report", "text": "Je n'entends plus la formatrice depuis 10 minutes."}))
        .await;
    let filed = karim.skip_until_type("report").await;
    assert_eq!(filed["report"]["status"], "open");
    let rid = filed["report"]["id"].as_str().expect("id").to_owned();
    let recorded = server.wait_ledger(&sid, "report_filed", 1).await;
    assert_eq!(recorded[0]["actor"], karim.id.as_str());
    karim
        .send_json(&json!({"type": "report", "text": "  "}))
        .await;
    karim.refused("invalid_input").await;
    karim.send_json(&json!({"type": "report"})).await;
    karim.refused("malformed_message").await;

    let (status, answered) = server
        .post(
            &format!("/api/sessions/{sid}/reports/{rid}/answer"),
            &json!({"answer": "Nous avons vérifié : le micro de la salle était coupé.", "close": false}),
        )
        .await;
    assert_eq!(status, 200, "{answered}");
    let (m, _) = karim
        .skip_until("the answer", |m| {
            m["type"] == "report" && m["report"]["status"] == "answered"
        })
        .await;
    assert_eq!(
        m["report"]["answer"],
        "Nous avons vérifié : le micro de la salle était coupé."
    );
}

/// « Mes traces »: a person's own evidence carries the
/// session's course (the suspension and the resumption), never another
/// person's removal nor their entries, the facilitator who removed them
/// included.
#[tokio::test]
async fn a_persons_evidence_carries_the_sessions_course_and_nothing_about_others() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let sophie = server.join(&session, "Sophie Dubois").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    claire
        .send_json(
            &json!({"type": "control", "action": "suspend", "reason": "Pause de dix minutes"}),
        )
        .await;
    karim.session_notice("suspend").await;
    claire
        .send_json(&json!({"type": "control", "action": "resume", "reason": "On reprend"}))
        .await;
    karim.session_notice("resume").await;
    claire
        .send_json(&json!({
            "type": "control", "action": "remove", "reason": "Propos déplacés",
            "participant": sophie.id,
        }))
        .await;
    karim.session_notice("remove").await;
    server.wait_ledger(&sid, "removed", 1).await;

    let entries = karim.evidence().await;
    let states: Vec<&str> = entries
        .iter()
        .filter(|e| e["kind"] == "session_state")
        .map(|e| e["payload"]["to"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        states,
        ["running", "suspended", "running"],
        "the session's course (the server's start, a suspension, a resumption): {entries:?}"
    );
    let session_wide = [
        "session_state",
        "signin_opened",
        "server_started",
        "server_stopping",
        "recording_armed",
    ];
    for e in &entries {
        let kind = e["kind"].as_str().unwrap_or_default();
        assert!(
            e["actor"] == karim.id.as_str() || session_wide.contains(&kind),
            "Karim's evidence holds only his own and session-wide entries: {e}"
        );
        assert!(
            !e.to_string().contains(&sophie.id) && !e.to_string().contains("Propos déplacés"),
            "nothing about Sophie in Karim's evidence: {e}"
        );
    }
    let own = claire.evidence().await;
    assert!(
        own.iter().all(|e| e["kind"] != "removed"),
        "Sophie's removal is about her, not in Claire's own evidence: {own:?}"
    );
    assert!(
        own.iter()
            .any(|e| e["kind"] == "session_state" && e["actor"] == claire.id.as_str()),
        "Claire's evidence has the course she decided"
    );
}

/// Sets a session's state (and window, when given) in the stopped server's
/// catalogue, as a power cut after the ledger's sync but before the
/// catalogue's write would leave it.
fn catalogue_behind(server: &TestServer, sid: &str, state: &str, window: Option<(i64, i64)>) {
    let db = rusqlite::Connection::open(server.data_file("cadre.sqlite3")).expect("the catalogue");
    let n = db
        .execute(
            "UPDATE sessions SET state = ?1 WHERE id = ?2",
            rusqlite::params![state, sid],
        )
        .expect("set the state");
    assert_eq!(n, 1);
    if let Some((start, end)) = window {
        db.execute(
            "UPDATE sessions SET planned_start = ?1, planned_end = ?2 WHERE id = ?3",
            rusqlite::params![start, end, sid],
        )
        .expect("set the window");
    }
}

#[tokio::test]
async fn a_start_the_catalogue_lost_is_caught_up_from_the_ledger_and_not_recorded_twice() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let claire = server.join(&session, "Claire Martin").await;
    assert_eq!(claire.welcome["session"]["state"], "running");
    drop(claire);
    server.stop().await;
    catalogue_behind(&server, &sid, "scheduled", None);

    let again = server.restart_with(|_| {}).await;
    let (_, view) = again.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(view["state"], "scheduled", "the catalogue is behind");
    let karim = again.join(&session, "Karim Benali").await;
    assert_eq!(karim.welcome["session"]["state"], "running");
    let states = again.ledger_entries(&sid, "session_state").await;
    let actions: Vec<&serde_json::Value> = states.iter().map(|e| &e["payload"]["action"]).collect();
    assert_eq!(actions, [&json!("start")], "started once: {states:?}");
    let (_, view) = again.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(view["state"], "running", "the catalogue caught up");
    drop(karim);
}

#[tokio::test]
async fn a_postponement_the_catalogue_lost_is_caught_up_with_its_window() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let (_, before) = server.get(&format!("/api/sessions/{sid}")).await;
    let mut claire = server.join(&session, "Claire Martin").await;
    let start = chrono::Utc::now() + chrono::Duration::days(7);
    let end = start + chrono::Duration::hours(3);
    claire
        .send_json(&json!({
            "type": "control", "action": "postpone", "reason": "Salle indisponible",
            "start": rfc3339(start), "end": rfc3339(end),
        }))
        .await;
    claire.session_notice("postpone").await;
    drop(claire);
    server.stop().await;
    // Back to the running session in its first window.
    let old = |k: &str| {
        chrono::DateTime::parse_from_rfc3339(before[k].as_str().expect("a date"))
            .expect("RFC 3339")
            .timestamp_millis()
    };
    catalogue_behind(
        &server,
        &sid,
        "running",
        Some((old("planned_start"), old("planned_end"))),
    );

    let again = server.restart_with(|_| {}).await;
    let karim = again.join(&session, "Karim Benali").await;
    let info = &karim.welcome["session"];
    assert_eq!(info["state"], "postponed", "{info}");
    assert_eq!(info["planned_start"], rfc3339(start), "{info}");
    let states = again.ledger_entries(&sid, "session_state").await;
    let actions: Vec<&serde_json::Value> = states.iter().map(|e| &e["payload"]["action"]).collect();
    assert_eq!(
        actions,
        [&json!("start"), &json!("postpone")],
        "nothing started in the old window: {states:?}"
    );
    let (_, view) = again.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(view["state"], "postponed");
    assert_eq!(view["planned_start"], rfc3339(start));
    assert_eq!(view["planned_end"], rfc3339(end));
    drop(karim);
}
