//! People and sessions added after the fact, as a coordinator does in the
//! console:
//!
//! - a person added by hand to a session gets their own link; added while
//!   the session is live, they join it, and a facilitator joining later
//!   finds them on the roll;
//! - a beneficiary enrolled late in an action joins each of its sessions
//!   that has not ended, linked to them (their certificate counts them);
//! - a session duplicated to other dates keeps its title, kind and people
//!   (not those whose link was revoked), each with a new link; a session of
//!   an action stays in it.
//!
//! - a session not under way is moved to other dates or cancelled, with a
//!   reason: written to the ledger as the organiser's, told to whoever is
//!   connected; a cancelled session's links no longer open it; a session
//!   under way is its facilitator's to move or end (409).
//!
//! Bad input is refused with its reason and changes nothing: an empty name,
//! a wrong e-mail, malformed JSON, an unknown session or action, no
//! credential, a participant added by hand to an action's session, a
//! session that has ended or is full, a copy ending before it starts.

use cadre_protocol::api::SessionView;
use cadre_protocol::staff::StaffRole;
use cadre_protocol::{ErrorCode, Role};
use cadre_tests::staff::StaffLogin;
use cadre_tests::{StatusCode, TestServer, person, rfc3339, session_body};
use serde_json::{Value, json};
use std::time::Duration;

fn code(body: &Value) -> ErrorCode {
    serde_json::from_value(body["code"].clone())
        .unwrap_or_else(|_| panic!("not an error body: {body}"))
}

/// Posts `body` to `path` with the organiser token and expects `status`,
/// with a message that contains `words`.
async fn refused(server: &TestServer, path: &str, body: Value, status: StatusCode, words: &str) {
    let (got, answer) = server.post(path, &body).await;
    assert_eq!(got, status, "{body}: {answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains(words)),
        "{body}: the refusal says {words:?}: {answer}"
    );
}

fn names(session: &SessionView) -> Vec<&str> {
    session.people.iter().map(|p| p.name.as_str()).collect()
}

fn session_of(body: &Value) -> SessionView {
    serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("not a session ({e}): {body}"))
}

/// The organisation's identity, which an action's sessions print.
async fn identity(server: &TestServer) {
    let request = server
        .http()
        .put(server.url("/api/organisation"))
        .bearer_auth(server.organiser_token())
        .json(&cadre_tests::identity());
    let (status, body) = server.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// An action of two beneficiaries with one session from now: its id and
/// the session.
async fn action_with_a_session(server: &TestServer) -> (String, SessionView) {
    identity(server).await;
    let (status, action) = server
        .post(
            "/api/actions",
            &json!({
                "title": "Gestion de projet agile",
                "nature": "formation",
                "planned_hours": 14,
                "beneficiaries": [{"name": "Karim Benali"}, {"name": "Sophie Dubois"}],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{action}");
    let aid = action["id"].as_str().expect("an id").to_owned();
    let session = session_of_action(server, &aid).await;
    (aid, session)
}

/// A session of action `aid` from now for three hours, run by Claire Martin.
async fn session_of_action(server: &TestServer, aid: &str) -> SessionView {
    let start = chrono::Utc::now();
    let (status, session) = server
        .post(
            &format!("/api/actions/{aid}/sessions"),
            &json!({
                "planned_start": rfc3339(start),
                "planned_end": rfc3339(start + chrono::Duration::hours(3)),
                "facilitators": [{"name": "Claire Martin"}],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    session_of(&session)
}

/// Ends a session as its facilitator does, and waits for the catalogue to
/// say so.
async fn end(server: &TestServer, session: &SessionView, facilitator: &str) {
    let client = server.join(session, facilitator).await;
    client
        .send_json(&json!({"type": "control", "action": "end", "reason": "fin de la séance"}))
        .await;
    let path = format!("/api/sessions/{}", session.id);
    for _ in 0..200 {
        let (_, now) = server.get(&path).await;
        if now["state"] == "ended" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} did not end", session.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_added_by_hand_to_a_live_session_joins_it_and_is_on_the_roll() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let _karim = server.join(&session, "Karim").await;
    let coordinator = StaffLogin::new(
        &server,
        "hugo.petit@organisme.example",
        "Hugo Petit",
        StaffRole::Coordinator,
    )
    .await;

    let path = format!("/api/sessions/{}/people", session.id);
    let (status, body) = coordinator
        .post(
            &server,
            &path,
            &json!({"name": "Léa Moreau", "email": "lea.moreau@example.org", "role": "participant"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let now = session_of(&body);
    assert_eq!(names(&now), ["Claire", "Karim", "Léa Moreau"]);
    let lea = person(&now, "Léa Moreau");
    assert_eq!(lea.email.as_deref(), Some("lea.moreau@example.org"));
    assert!(!lea.link.revoked);

    // Her link opens the live session; the others see her arrive.
    let _lea = server.join(&now, "Léa Moreau").await;
    loop {
        let joined = claire.recv_type("peer_joined").await;
        if joined["peer"]["name"] == "Léa Moreau" {
            break;
        }
    }
    // A facilitator added now finds both on the roll their welcome carries.
    let (status, body) = server
        .post(
            &path,
            &json!({"name": "Marc Lefèvre", "role": "facilitator"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let now = session_of(&body);
    let marc = server.join(&now, "Marc Lefèvre").await;
    let roll: Vec<&str> = marc.welcome["people"]
        .as_array()
        .expect("a facilitator's welcome has the roll")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(roll, ["Claire", "Karim", "Léa Moreau", "Marc Lefèvre"]);

    // The coordinator's write is in the audit log, under their name.
    let admin = StaffLogin::new(
        &server,
        "helene.roux@organisme.example",
        "Hélène Roux",
        StaffRole::Administrator,
    )
    .await;
    let request = admin.write(server.http().get(server.url("/api/staff/audit")));
    let (status, audit) = server.send(request).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entries = audit["entries"].as_array().expect("entries");
    assert!(
        entries
            .iter()
            .any(|e| e["email"] == "hugo.petit@organisme.example"
                && e["target"].as_str().is_some_and(|t| t.ends_with("/people"))),
        "the addition is audited: {audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_badly_given_or_where_they_cannot_go_is_refused_and_nothing_changes() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let path = format!("/api/sessions/{}/people", session.id);
    let refusals = [
        (
            json!({"name": "  ", "role": "participant"}),
            ErrorCode::InvalidInput,
            "name",
        ),
        (
            json!({"name": "Léa", "email": "lea at example", "role": "participant"}),
            ErrorCode::InvalidInput,
            "email",
        ),
        (
            json!({"name": "Léa\u{202e}", "role": "participant"}),
            ErrorCode::InvalidInput,
            "name",
        ),
        (
            json!({"name": "Léa", "role": "sponsor"}),
            ErrorCode::InvalidInput,
            "sponsor",
        ),
    ];
    for (body, expected, field) in refusals {
        let (status, answer) = server.post(&path, &body).await;
        assert!(status.is_client_error(), "{body}: {status} {answer}");
        assert_eq!(code(&answer), expected, "{body}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains(field)),
            "{body}: the refusal names {field}: {answer}"
        );
    }
    let (status, answer) = server
        .post_raw(&path, Some(server.organiser_token()), "{\"name\":".into())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, _) = server
        .post_raw(
            &path,
            None,
            json!({"name": "Léa", "role": "participant"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = server
        .post(
            "/api/sessions/s_nothere/people",
            &json!({"name": "Léa", "role": "participant"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (_, unchanged) = server.get(&format!("/api/sessions/{}", session.id)).await;
    assert_eq!(
        names(&session_of(&unchanged)),
        ["Claire", "Karim"],
        "nothing added"
    );

    // A full session takes nobody more.
    let mut people: Vec<(String, Role)> = vec![("Claire".into(), Role::Facilitator)];
    people.extend((1..50).map(|i| (format!("Stagiaire {i}"), Role::Participant)));
    let named: Vec<(&str, Role)> = people.iter().map(|(n, r)| (n.as_str(), *r)).collect();
    let full = server.create_session_body(&session_body(&named)).await;
    refused(
        &server,
        &format!("/api/sessions/{}/people", full.id),
        json!({"name": "Une de plus", "role": "participant"}),
        StatusCode::CONFLICT,
        "50 people",
    )
    .await;

    // A participant of an action's session comes from the action.
    let (_, in_action) = action_with_a_session(&server).await;
    refused(
        &server,
        &format!("/api/sessions/{}/people", in_action.id),
        json!({"name": "Léa", "role": "participant"}),
        StatusCode::CONFLICT,
        "Gestion de projet agile",
    )
    .await;
    // A second facilitator is welcome there.
    let (status, answer) = server
        .post(
            &format!("/api/sessions/{}/people", in_action.id),
            &json!({"name": "Marc Lefèvre", "role": "facilitator"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    // An ended session takes nobody.
    end(&server, &session, "Claire").await;
    refused(
        &server,
        &path,
        json!({"name": "Léa", "role": "participant"}),
        StatusCode::CONFLICT,
        "ended",
    )
    .await;
    let (_, unchanged) = server.get(&format!("/api/sessions/{}", session.id)).await;
    assert_eq!(
        names(&session_of(&unchanged)),
        ["Claire", "Karim"],
        "nothing added"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_beneficiary_enrolled_late_joins_each_session_of_the_action_not_ended() {
    let server = TestServer::start().await;
    let (aid, first) = action_with_a_session(&server).await;
    let second = session_of_action(&server, &aid).await;
    end(&server, &first, "Claire Martin").await;

    let path = format!("/api/actions/{aid}/beneficiaries");
    let (status, action) = server
        .post(
            &path,
            &json!({"name": "Léa Moreau", "email": "lea.moreau@example.org", "employer": "Transports Martin SA"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{action}");
    let beneficiaries = action["beneficiaries"].as_array().expect("beneficiaries");
    assert_eq!(beneficiaries.len(), 3);
    let lea = &beneficiaries[2];
    assert_eq!(lea["name"], "Léa Moreau");
    assert_eq!(lea["employer"], "Transports Martin SA");
    let bid = lea["id"].as_str().expect("an id");

    // In the session still to come, with her link; not in the ended one.
    let (_, now) = server.get(&format!("/api/sessions/{}", second.id)).await;
    let now = session_of(&now);
    assert_eq!(
        names(&now),
        [
            "Claire Martin",
            "Karim Benali",
            "Sophie Dubois",
            "Léa Moreau"
        ]
    );
    let _lea = server.join(&now, "Léa Moreau").await;
    let (_, ended) = server.get(&format!("/api/sessions/{}", first.id)).await;
    assert_eq!(
        names(&session_of(&ended)),
        ["Claire Martin", "Karim Benali", "Sophie Dubois"]
    );
    // Her certificate is hers: the action's, her name on it.
    let response = server
        .http()
        .get(server.url(&format!("{path}/{bid}/certificate?format=jws")))
        .bearer_auth(server.organiser_token())
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), StatusCode::OK);
    let jws = response.text().await.expect("a JWS");
    let claims = cadre_tests::claims_of(jws.trim());
    assert_eq!(claims["beneficiary"]["name"], "Léa Moreau", "{claims}");

    // Refusals change nothing.
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "Paul", "email": "pas une adresse"}), "email"),
        (
            json!({"name": "Paul", "employer": "x".repeat(201)}),
            "employer",
        ),
    ] {
        refused(
            &server,
            &path,
            body,
            StatusCode::UNPROCESSABLE_ENTITY,
            field,
        )
        .await;
    }
    let (status, answer) = server
        .post(
            "/api/actions/a_nothere/beneficiaries",
            &json!({"name": "Paul"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (_, action) = server.get(&format!("/api/actions/{aid}")).await;
    assert_eq!(
        action["beneficiaries"].as_array().map(Vec::len),
        Some(3),
        "only the accepted one: {action}"
    );

    // A full action (49 beneficiaries, its sessions 50 with a facilitator)
    // takes nobody more.
    let beneficiaries: Vec<Value> = (1..=49)
        .map(|i| json!({"name": format!("Stagiaire {i}")}))
        .collect();
    let (status, full) = server
        .post(
            "/api/actions",
            &json!({"title": "Bureautique", "nature": "formation", "planned_hours": 7,
                    "beneficiaries": beneficiaries}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{full}");
    let full_path = format!(
        "/api/actions/{}/beneficiaries",
        full["id"].as_str().expect("an id")
    );
    refused(
        &server,
        &full_path,
        json!({"name": "Une de plus"}),
        StatusCode::CONFLICT,
        "49 beneficiaries",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_duplicated_to_other_dates_keeps_its_people_with_new_links() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[
            ("Claire", Role::Facilitator),
            ("Karim", Role::Participant),
            ("Sophie", Role::Participant),
        ])
        .await;
    let (status, _) = server
        .revoke(&session.id, &person(&session, "Sophie").id)
        .await;
    assert_eq!(status, StatusCode::OK);

    let path = format!("/api/sessions/{}/duplicate", session.id);
    let (status, copy) = server
        .post(
            &path,
            &json!({"planned_start": "2027-03-15T09:00", "planned_end": "2027-03-15T12:30"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    let copy = session_of(&copy);
    assert_ne!(copy.id, session.id);
    assert_eq!(copy.title, session.title);
    assert_eq!(copy.kind, session.kind);
    assert_eq!(copy.time_zone, "Europe/Paris", "the source's zone");
    // 09:00 in Paris in March (winter time) is 08:00 UTC.
    assert_eq!(copy.planned_start, "2027-03-15T08:00:00Z");
    assert_eq!(copy.planned_end, "2027-03-15T11:30:00Z");
    assert_eq!(names(&copy), ["Claire", "Karim"], "not the revoked one");
    for p in &copy.people {
        let before = person(&session, &p.name);
        assert_ne!(p.id, before.id, "a new person for {}", p.name);
        assert_ne!(p.link.token, before.link.token, "a new link for {}", p.name);
    }
    // The source is as it was.
    let (_, source) = server.get(&format!("/api/sessions/{}", session.id)).await;
    assert_eq!(names(&session_of(&source)), ["Claire", "Karim", "Sophie"]);

    // A session of an action stays in it, with the action's beneficiaries.
    let (aid, in_action) = action_with_a_session(&server).await;
    let (status, copy) = server
        .post(
            &format!("/api/sessions/{}/duplicate", in_action.id),
            &json!({"planned_start": "2027-03-22T14:00", "planned_end": "2027-03-22T17:00"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    let copy = session_of(&copy);
    assert_eq!(
        names(&copy),
        ["Claire Martin", "Karim Benali", "Sophie Dubois"]
    );
    let (_, action) = server.get(&format!("/api/actions/{aid}")).await;
    let sessions: Vec<&str> = action["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(
        sessions.contains(&copy.id.as_str()),
        "the copy is in the action: {action}"
    );

    // Bad dates, unknown sessions, malformed bodies: refused, nothing made.
    let count = server.session_count().await;
    for (body, field) in [
        (
            json!({"planned_start": "2027-03-15T12:00", "planned_end": "2027-03-15T09:00"}),
            "planned_end",
        ),
        (
            json!({"planned_start": "le 15 mars", "planned_end": "2027-03-15T09:00"}),
            "planned_start",
        ),
        (
            json!({"planned_start": "2027-03-15T09:00", "planned_end": "2027-03-15T12:00", "time_zone": "Mars/Olympus"}),
            "time_zone",
        ),
    ] {
        refused(
            &server,
            &path,
            body,
            StatusCode::UNPROCESSABLE_ENTITY,
            field,
        )
        .await;
    }
    let (status, _) = server
        .post(
            "/api/sessions/s_nothere/duplicate",
            &json!({"planned_start": "2027-03-15T09:00", "planned_end": "2027-03-15T12:00"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.post(&path, &json!({"planned_start": 9})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = server
        .post_raw(
            &path,
            None,
            json!({"planned_start": "2027-03-15T09:00", "planned_end": "2027-03-15T12:00"})
                .to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.session_count().await, count, "no session made");
}

/// A session planned to start in ten minutes (not under way yet), with
/// Claire and Karim.
async fn session_in_ten_minutes(server: &TestServer) -> SessionView {
    let mut body = session_body(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)]);
    let start = chrono::Utc::now() + chrono::Duration::minutes(10);
    body.planned_start = rfc3339(start);
    body.planned_end = rfc3339(start + chrono::Duration::hours(3));
    server.create_session_body(&body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_move_a_session_not_under_way_and_whoever_waits_is_told_why() {
    let server = TestServer::start().await;
    let session = session_in_ten_minutes(&server).await;
    // Claire waits in the call before the start: the session is open.
    let mut claire = server.join(&session, "Claire").await;
    let coordinator = StaffLogin::new(
        &server,
        "hugo.petit@organisme.example",
        "Hugo Petit",
        StaffRole::Coordinator,
    )
    .await;
    let (status, moved) = coordinator
        .post(
            &server,
            &format!("/api/sessions/{}/postpone", session.id),
            &json!({
                "reason": "La formatrice est souffrante",
                "planned_start": "2027-03-15T09:00",
                "planned_end": "2027-03-15T12:00",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let moved = session_of(&moved);
    assert_eq!(moved.state, cadre_protocol::SessionState::Postponed);
    assert_eq!(moved.planned_start, "2027-03-15T08:00:00Z");
    assert_eq!(moved.planned_end, "2027-03-15T11:00:00Z");
    let told = claire.session_notice("postpone").await;
    assert_eq!(told["notice"]["reason"], "La formatrice est souffrante");
    assert_eq!(told["notice"]["by"], session.organisation.as_str());
    let states = server.wait_ledger(&session.id, "session_state", 1).await;
    let entry = states.last().expect("the decision");
    assert_eq!(entry["actor"], "organiser");
    assert_eq!(entry["payload"]["action"], "postpone");
    assert_eq!(entry["payload"]["from"], "open");
    assert_eq!(entry["payload"]["planned_start"], "2027-03-15T08:00:00Z");
    // Karim's link is the same, and his lobby has the new dates.
    let karim = &person(&session, "Karim").link.token;
    let (status, lobby) = server.get_public(&format!("/api/join?token={karim}")).await;
    assert_eq!(status, StatusCode::OK, "{lobby}");
    assert_eq!(lobby["session"]["state"], "postponed");
    assert_eq!(lobby["session"]["planned_start"], "2027-03-15T08:00:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_cancel_a_session_not_under_way_and_its_links_no_longer_open_it() {
    let server = TestServer::start().await;
    let session = session_in_ten_minutes(&server).await;
    let path = format!("/api/sessions/{}/cancel", session.id);
    let (status, cancelled) = server
        .post(&path, &json!({"reason": "Trop peu d’inscrits"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(
        session_of(&cancelled).state,
        cadre_protocol::SessionState::Ended
    );
    let states = server.wait_ledger(&session.id, "session_state", 1).await;
    let entry = &states[0];
    assert_eq!(entry["actor"], "organiser");
    assert_eq!(entry["payload"]["action"], "end");
    assert_eq!(entry["payload"]["from"], "scheduled");
    assert_eq!(entry["payload"]["reason"], "Trop peu d’inscrits");
    // Karim's link no longer opens the call.
    let karim = &person(&session, "Karim").link.token;
    let (status, refusal) = server.refusal(&session.id, karim).await;
    assert!(status.is_client_error(), "{status} {refusal:?}");
    // Once cancelled, neither moved nor cancelled again.
    refused(
        &server,
        &path,
        json!({"reason": "encore"}),
        StatusCode::CONFLICT,
        "ended",
    )
    .await;
    refused(
        &server,
        &format!("/api/sessions/{}/postpone", session.id),
        json!({"reason": "encore", "planned_start": "2027-03-15T09:00", "planned_end": "2027-03-15T12:00"}),
        StatusCode::CONFLICT,
        "ended",
    )
    .await;
    assert_eq!(
        server
            .ledger_entries(&session.id, "session_state")
            .await
            .len(),
        1,
        "nothing more written"
    );

    // One whose hours have come with nobody in it: cancelled as it
    // stands, never recorded as started for nobody.
    let due = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let (status, body) = server
        .post(
            &format!("/api/sessions/{}/cancel", due.id),
            &json!({"reason": "Formatrice absente"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let states = server.ledger_entries(&due.id, "session_state").await;
    assert_eq!(states.len(), 1, "the cancellation alone: {states:#?}");
    assert_eq!(states[0]["payload"]["from"], "scheduled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_or_cancellation_badly_given_or_of_a_session_under_way_is_refused() {
    let server = TestServer::start().await;
    let session = session_in_ten_minutes(&server).await;
    let moving = format!("/api/sessions/{}/postpone", session.id);
    let cancelling = format!("/api/sessions/{}/cancel", session.id);
    let window = |start: &str, end: &str| json!({"reason": "Salle indisponible", "planned_start": start, "planned_end": end});
    for (path, body, words) in [
        (&cancelling, json!({"reason": "   "}), "reason is required"),
        (
            &cancelling,
            json!({"reason": "x".repeat(501)}),
            "500 characters",
        ),
        (&cancelling, json!({"reason": "Salle\u{202e}"}), "reason"),
        (
            &moving,
            window("2020-03-15T09:00", "2020-03-15T12:00"),
            "past",
        ),
        (
            &moving,
            window("2027-03-15T12:00", "2027-03-15T09:00"),
            "after the new start",
        ),
        (&moving, window("le 15 mars", "2027-03-15T09:00"), "start"),
        (
            &moving,
            window("2027-03-15T09:00", "2027-05-15T09:00"),
            "31 days",
        ),
    ] {
        refused(&server, path, body, StatusCode::UNPROCESSABLE_ENTITY, words).await;
    }
    let (status, _) = server
        .post_raw(
            &cancelling,
            Some(server.organiser_token()),
            "{\"reason\":".into(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = server
        .post_raw(&cancelling, None, json!({"reason": "x"}).to_string())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .post("/api/sessions/s_nothere/cancel", &json!({"reason": "x"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        server
            .ledger_entries(&session.id, "session_state")
            .await
            .is_empty(),
        "nothing written"
    );

    // A session under way is its facilitator's to move or end.
    let running = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let _claire = server.join(&running, "Claire").await;
    server.wait_ledger(&running.id, "session_state", 1).await;
    refused(
        &server,
        &format!("/api/sessions/{}/cancel", running.id),
        json!({"reason": "Trop peu d’inscrits"}),
        StatusCode::CONFLICT,
        "facilitator",
    )
    .await;
    assert_eq!(
        server
            .ledger_entries(&running.id, "session_state")
            .await
            .len(),
        1,
        "only the server's start"
    );
}
