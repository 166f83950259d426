//! Corrections staff make after the fact, as a coordinator does in the
//! console:
//!
//! - a session's title, a person's name, e-mail or mail language are
//!   corrected, live too: whoever joins next reads the new title and name,
//!   and the audit log keeps the value before;
//! - a beneficiary of an action is corrected once, on the action and on
//!   each of their places (the certificate and each sheet agree), whether
//!   from a session's page or the action's;
//! - one person is enrolled once in an action: an e-mail already a
//!   beneficiary's is refused on creation, on a late enrolment and on a
//!   correction;
//! - a session staff cancelled says so in the lists, unlike one its
//!   facilitator ended.
//!
//! Bad input is refused with its reason and changes nothing.

use cadre_protocol::api::SessionView;
use cadre_protocol::staff::StaffRole;
use cadre_protocol::{ErrorCode, Role};
use cadre_tests::staff::StaffLogin;
use cadre_tests::{StatusCode, TestServer, person, rfc3339};
use serde_json::{Value, json};

fn session_of(body: &Value) -> SessionView {
    serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("not a session ({e}): {body}"))
}

/// The audit log's actions and who made them, newest first, as an
/// administrator reads them.
async fn audited(server: &TestServer, admin: &StaffLogin) -> Vec<(String, String)> {
    let request = admin.write(server.http().get(server.url("/api/staff/audit")));
    let (status, audit) = server.send(request).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["email"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_title_and_a_name_corrected_live_reach_the_next_join_and_the_audit_keeps_the_old() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[
            ("Claire", Role::Facilitator),
            ("Karim Benaly", Role::Participant),
        ])
        .await;
    let _claire = server.join(&session, "Claire").await;
    let karim = person(&session, "Karim Benaly").clone();
    let coordinator = StaffLogin::new(
        &server,
        "hugo.petit@organisme.example",
        "Hugo Petit",
        StaffRole::Coordinator,
    )
    .await;

    let request = coordinator.write(
        server
            .http()
            .patch(server.url(&format!("/api/sessions/{}", session.id)))
            .json(&json!({"title": "Gestion de projet agile — module 2"})),
    );
    let (status, body) = server.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        session_of(&body).title,
        "Gestion de projet agile — module 2"
    );

    let request = coordinator.write(
        server
            .http()
            .patch(server.url(&format!("/api/sessions/{}/people/{}", session.id, karim.id)))
            .json(&json!({"name": "Karim Benali", "email": "karim@example.org", "lang": "en"})),
    );
    let (status, body) = server.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let now = session_of(&body);
    let corrected = person(&now, "Karim Benali");
    assert_eq!(corrected.id, karim.id, "the same person");
    assert_eq!(corrected.email.as_deref(), Some("karim@example.org"));
    assert_eq!(corrected.lang, Some(cadre_protocol::api::UiLang::En));
    assert_eq!(corrected.role, Role::Participant);
    // The same link: a correction does not take anyone's way in.
    assert_eq!(corrected.link.token, karim.link.token);

    // The live room has both: Karim's welcome names him and the session
    // rightly.
    let joined = server.join(&now, "Karim Benali").await;
    assert_eq!(joined.welcome["you"]["name"], "Karim Benali");
    assert_eq!(
        joined.welcome["session"]["title"],
        "Gestion de projet agile — module 2"
    );

    // The audit log has who corrected what, with the values before.
    let admin = StaffLogin::new(
        &server,
        "helene.roux@organisme.example",
        "Hélène Roux",
        StaffRole::Administrator,
    )
    .await;
    let audit = audited(&server, &admin).await;
    let find = |words: &str| {
        audit
            .iter()
            .find(|(action, _)| action.starts_with("correction:") && action.contains(words))
            .unwrap_or_else(|| panic!("no correction with {words:?} in {audit:#?}"))
    };
    let (_, by) = find("title: « ");
    assert_eq!(by, "hugo.petit@organisme.example");
    let (action, _) = find("name: « Karim Benaly » → « Karim Benali »");
    assert!(
        action.contains("email: (aucun) → « karim@example.org »") && action.contains("lang:"),
        "{action}"
    );

    // Nothing to change, nothing audited.
    let before = audit.len();
    let (status, _) = server
        .patch(
            &format!("/api/sessions/{}/people/{}", session.id, karim.id),
            &json!({"name": "Karim Benali"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let after = audited(&server, &admin).await;
    assert_eq!(
        after
            .iter()
            .filter(|(a, _)| a.starts_with("correction:"))
            .count(),
        audit
            .iter()
            .filter(|(a, _)| a.starts_with("correction:"))
            .count(),
        "a correction that changes nothing is not one: {after:#?}"
    );
    assert!(after.len() > before, "the request itself is audited");
}

/// An action of Karim and Sophie, with two sessions run by Claire.
async fn action_of_two_sessions(server: &TestServer) -> (String, Vec<SessionView>) {
    let request = server
        .http()
        .put(server.url("/api/organisation"))
        .bearer_auth(server.organiser_token())
        .json(&cadre_tests::identity());
    let (status, body) = server.send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, action) = server
        .post(
            "/api/actions",
            &json!({
                "title": "Gestion de projet agile",
                "nature": "formation",
                "planned_hours": 14,
                "beneficiaries": [
                    {"name": "Karim Benaly", "email": "karim@example.org"},
                    {"name": "Sophie Dubois", "email": "sophie@example.org"},
                ],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{action}");
    let aid = action["id"].as_str().expect("an id").to_owned();
    let mut sessions = Vec::new();
    for day in [1, 8] {
        let start = chrono::Utc::now() + chrono::Duration::days(day);
        let (status, body) = server
            .post(
                &format!("/api/actions/{aid}/sessions"),
                &json!({
                    "planned_start": rfc3339(start),
                    "planned_end": rfc3339(start + chrono::Duration::hours(3)),
                    "facilitators": [{"name": "Claire Martin"}],
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        sessions.push(session_of(&body));
    }
    (aid, sessions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_beneficiary_is_corrected_once_on_the_action_and_each_of_their_places() {
    let server = TestServer::start().await;
    let (aid, sessions) = action_of_two_sessions(&server).await;
    let karim = person(&sessions[0], "Karim Benaly").clone();

    // From the first session's page: both places and the action follow.
    let (status, body) = server
        .patch(
            &format!("/api/sessions/{}/people/{}", sessions[0].id, karim.id),
            &json!({"name": "Karim Benali"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, second) = server
        .get(&format!("/api/sessions/{}", sessions[1].id))
        .await;
    let second = session_of(&second);
    assert!(
        second.people.iter().any(|p| p.name == "Karim Benali"),
        "the other place too: {second:?}"
    );
    let (_, action) = server.get(&format!("/api/actions/{aid}")).await;
    let beneficiaries = action["beneficiaries"].as_array().expect("beneficiaries");
    let b = beneficiaries
        .iter()
        .find(|b| b["name"] == "Karim Benali")
        .unwrap_or_else(|| panic!("the action's beneficiary is corrected: {action}"));
    let bid = b["id"].as_str().expect("an id").to_owned();

    // From the action's page: the employer and the language.
    let (status, body) = server
        .patch(
            &format!("/api/actions/{aid}/beneficiaries/{bid}"),
            &json!({"employer": "Transports Martin", "lang": "en", "time_zone": "Indian/Reunion"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let b = body["beneficiaries"]
        .as_array()
        .expect("beneficiaries")
        .iter()
        .find(|b| b["id"] == bid.as_str())
        .expect("Karim")
        .clone();
    assert_eq!(
        (b["employer"].as_str(), b["lang"].as_str()),
        (Some("Transports Martin"), Some("en"))
    );
    for s in &sessions {
        let (_, view) = server.get(&format!("/api/sessions/{}", s.id)).await;
        let view = session_of(&view);
        let place = person(&view, "Karim Benali");
        assert_eq!(
            place.lang,
            Some(cadre_protocol::api::UiLang::En),
            "{view:?}"
        );
        assert_eq!(
            place.time_zone.as_deref(),
            Some("Indian/Reunion"),
            "{view:?}"
        );
    }
    // The certificate, issued now, names him as corrected.
    let request = server
        .http()
        .get(server.url(&format!(
            "/api/actions/{aid}/beneficiaries/{bid}/certificate?format=jws"
        )))
        .bearer_auth(server.organiser_token());
    let response = request.send().await.expect("the certificate");
    assert_eq!(response.status(), StatusCode::OK);
    let jws = response.text().await.expect("a JWS");
    let part = jws.trim().split('.').nth(1).expect("a JWS");
    let certificate: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, part)
            .expect("base64url"),
    )
    .expect("JSON");
    assert_eq!(
        certificate["beneficiary"]["name"], "Karim Benali",
        "{certificate}"
    );

    // One person is enrolled once: Sophie's address is hers.
    let (status, body) = server
        .patch(
            &format!("/api/actions/{aid}/beneficiaries/{bid}"),
            &json!({"email": "SOPHIE@example.org"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Sophie Dubois")),
        "{body}"
    );
    // Named, for the console to say it in French.
    assert_eq!(body["reason"], "already_enrolled", "{body}");
    assert_eq!(
        (
            body["args"]["email"].as_str(),
            body["args"]["name"].as_str()
        ),
        (Some("SOPHIE@example.org"), Some("Sophie Dubois"))
    );
    let (status, body) = server
        .post(
            &format!("/api/actions/{aid}/beneficiaries"),
            &json!({"name": "S. Dubois", "email": "sophie@EXAMPLE.org"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = server
        .post(
            "/api/actions",
            &json!({
                "title": "Doublon",
                "nature": "formation",
                "planned_hours": 7,
                "beneficiaries": [
                    {"name": "Ada", "email": "ada@example.org"},
                    {"name": "Ada L.", "email": "Ada@Example.org"},
                ],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("beneficiaries[1].email")),
        "{body}"
    );
    assert_eq!(
        (body["reason"].as_str(), body["args"]["email"].as_str()),
        (Some("duplicate_email"), Some("Ada@Example.org"))
    );
    // Nothing of it stayed.
    let (_, action) = server.get(&format!("/api/actions/{aid}")).await;
    assert_eq!(
        action["beneficiaries"].as_array().map(Vec::len),
        Some(2),
        "{action}"
    );
    let (_, view) = server
        .get(&format!("/api/sessions/{}", sessions[0].id))
        .await;
    assert_eq!(
        person(&session_of(&view), "Karim Benali").email.as_deref(),
        Some("karim@example.org")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_badly_given_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let other = server
        .create_session(&[("Marc", Role::Facilitator), ("Léa", Role::Participant)])
        .await;
    let karim = person(&session, "Karim");
    let lea = person(&other, "Léa");
    let people = format!("/api/sessions/{}/people/{}", session.id, karim.id);
    let title = format!("/api/sessions/{}", session.id);
    let cases: Vec<(String, Value, StatusCode, &str)> = vec![
        (
            people.clone(),
            json!({"name": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            people.clone(),
            json!({"name": "x".repeat(121)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            people.clone(),
            json!({"email": "pas une adresse"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email",
        ),
        (
            people.clone(),
            json!({"lang": "de"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lang",
        ),
        (
            people.clone(),
            json!({"time_zone": "Mars/Olympus"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "time_zone",
        ),
        (
            people.clone(),
            json!({"role": "facilitator"}),
            StatusCode::BAD_REQUEST,
            "role",
        ),
        (
            people.clone(),
            json!({"employer": "ACME"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "employer",
        ),
        (
            people.clone(),
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing to correct",
        ),
        (
            people.clone(),
            json!("Karim"),
            StatusCode::BAD_REQUEST,
            "correction",
        ),
        (
            format!("/api/sessions/{}/people/{}", session.id, lea.id),
            json!({"name": "Léa M."}),
            StatusCode::NOT_FOUND,
            "no person",
        ),
        (
            format!("/api/sessions/{}/people/p_nobody", session.id),
            json!({"name": "X"}),
            StatusCode::NOT_FOUND,
            "no person",
        ),
        (
            title.clone(),
            json!({"title": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "title",
        ),
        (
            title.clone(),
            json!({"title": "t".repeat(201)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "title",
        ),
        (
            title.clone(),
            json!({"title": "x", "kind": "coaching"}),
            StatusCode::BAD_REQUEST,
            "kind",
        ),
        (
            "/api/sessions/s_nowhere".to_owned(),
            json!({"title": "x"}),
            StatusCode::NOT_FOUND,
            "no session",
        ),
        (
            "/api/actions/a_nowhere/beneficiaries/b_nobody".to_owned(),
            json!({"name": "x"}),
            StatusCode::NOT_FOUND,
            "no beneficiary",
        ),
    ];
    for (path, body, status, words) in cases {
        let (got, answer) = server.patch(&path, &body).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains(words)),
            "{path} {body}: the refusal says {words:?}: {answer}"
        );
    }
    // Malformed JSON, and no credential at all.
    let request = server
        .http()
        .patch(server.url(&people))
        .bearer_auth(server.organiser_token())
        .header("content-type", "application/json")
        .body("{\"name\": ");
    let (status, answer) = server.send(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let request = server
        .http()
        .patch(server.url(&people))
        .json(&json!({"name": "Intrus"}));
    let (status, answer) = server.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    let code: ErrorCode = serde_json::from_value(answer["code"].clone()).expect("a code");
    assert_eq!(code, ErrorCode::Unauthorized);

    // Both sessions are as they were.
    for before in [&session, &other] {
        let (_, now) = server.get(&format!("/api/sessions/{}", before.id)).await;
        let now = session_of(&now);
        assert_eq!(now.title, before.title);
        for (a, b) in now.people.iter().zip(&before.people) {
            assert_eq!((&a.name, &a.email, a.lang), (&b.name, &b.email, b.lang));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_staff_cancelled_says_so_in_the_lists_and_one_ended_does_not() {
    let server = TestServer::start().await;
    let start = chrono::Utc::now() + chrono::Duration::days(2);
    let mut body =
        cadre_tests::session_body(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)]);
    body.planned_start = rfc3339(start);
    body.planned_end = rfc3339(start + chrono::Duration::hours(2));
    let cancelled = server.create_session_body(&body).await;
    let ended = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let (status, view) = server
        .post(
            &format!("/api/sessions/{}/cancel", cancelled.id),
            &json!({"reason": "Trop peu d’inscrits"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["cancelled"], true, "{view}");
    // Cancelled once: a second time is refused, named.
    let (status, again) = server
        .post(
            &format!("/api/sessions/{}/cancel", cancelled.id),
            &json!({"reason": "encore"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(
        (again["reason"].as_str(), again["args"]["state"].as_str()),
        (Some("session_ended"), Some("ended"))
    );
    let claire = server.join(&ended, "Claire").await;
    claire
        .send_json(&json!({"type": "control", "action": "end", "reason": "fin"}))
        .await;
    let mut list = Value::Null;
    for _ in 0..200 {
        let (_, all) = server.get("/api/sessions").await;
        let done = all.as_array().is_some_and(|a| {
            a.iter()
                .any(|s| s["id"] == ended.id.as_str() && s["state"] == "ended")
        });
        list = all;
        if done {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let item = |sid: &str| {
        list.as_array()
            .and_then(|a| a.iter().find(|s| s["id"] == sid))
            .cloned()
            .unwrap_or_else(|| panic!("{sid} listed: {list}"))
    };
    let c = item(&cancelled.id);
    assert_eq!(
        (c["state"].as_str(), c["cancelled"].as_bool()),
        (Some("ended"), Some(true))
    );
    let e = item(&ended.id);
    assert_eq!(e["state"], "ended", "{e}");
    assert!(
        e.get("cancelled").is_none(),
        "ended by its facilitator: {e}"
    );
    let (_, detail) = server.get(&format!("/api/sessions/{}", ended.id)).await;
    assert!(!session_of(&detail).cancelled);
}
