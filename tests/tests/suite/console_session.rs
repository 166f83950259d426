//! A session's page in the console: what a coordinator, logged in with the
//! console's cookie, may do there through the API that the organiser token
//! already had.
//!
//! Difficulty reports (article 6): a coordinator reads a session's reports,
//! answers one in writing and closes it; each write carries the login's
//! CSRF token and is written to the audit log under the coordinator's
//! name. Without a login or token the routes answer 401, a write without
//! the CSRF token 403 and changes nothing, an unknown session or report
//! 404, an empty or malformed answer 400 and changes nothing. A
//! facilitator's link still reads the session's reports and still cannot
//! answer them.
//!
//! The live view (`GET /api/sessions/{sid}/live`): who is connected now
//! and since when, who signed which half-day, the alerts of the ledger;
//! for a coordinator or the organiser token, 401 without either, 404 for a
//! session that does not exist.

use cadre_protocol::staff::StaffRole;
use cadre_protocol::{ErrorCode, Role};
use cadre_server::directory::staff;
use cadre_tests::staff::StaffLogin as Login;
use cadre_tests::{StatusCode, TestServer, person};
use reqwest::header::COOKIE;
use serde_json::{Value, json};

/// A coordinator logged in to the console.
async fn coordinator(server: &TestServer) -> Login {
    Login::new(
        server,
        "hugo.petit@organisme.example",
        "Hugo Petit",
        StaffRole::Coordinator,
    )
    .await
}

fn code(body: &Value) -> ErrorCode {
    serde_json::from_value(body["code"].clone())
        .unwrap_or_else(|_| panic!("not an error body: {body}"))
}

async fn get(server: &TestServer, login: Option<&Login>, path: &str) -> (StatusCode, Value) {
    let mut request = server.http().get(server.url(path));
    if let Some(login) = login {
        request = request.header(COOKIE, &login.cookie);
    }
    server.send(request).await
}

/// A POST with the login's cookie, and its CSRF token when `csrf`.
async fn post(
    server: &TestServer,
    login: Option<&Login>,
    csrf: bool,
    path: &str,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = server
        .http()
        .post(server.url(path))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_owned());
    if let Some(login) = login {
        request = request.header(COOKIE, &login.cookie);
        if csrf {
            request = request.header("X-Cadre-CSRF", &login.csrf);
        }
    }
    server.send(request).await
}

/// The session's reports, as the organiser token reads them.
async fn reports(server: &TestServer, sid: &str) -> Vec<Value> {
    let (status, body) = server.get(&format!("/api/sessions/{sid}/reports")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("a list of reports").clone()
}

/// The audit log's actions by the coordinator, oldest first.
/// Files a report with a person's link; returns its id.
async fn file(server: &TestServer, token: &str, text: &str) -> String {
    let (status, filed) = server
        .post_raw(
            &format!("/api/reports?token={token}"),
            None,
            json!({ "text": text }).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    filed["id"].as_str().expect("a report id").to_owned()
}

async fn coordinator_actions(server: &TestServer) -> Vec<String> {
    let mut log = server
        .app()
        .catalog()
        .run(|c| staff::audit_page(c, None, 10_000))
        .await
        .expect("read the audit log");
    log.reverse();
    log.into_iter()
        .filter(|e| e.email.as_deref() == Some("hugo.petit@organisme.example"))
        .map(|e| e.action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_reads_answers_and_closes_a_difficulty_report() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[
            ("Claire Martin", Role::Facilitator),
            ("Karim Benali", Role::Participant),
        ])
        .await;
    let sid = &session.id;
    let karim = &person(&session, "Karim Benali").link.token;
    let rid = file(&server, karim, "Le son coupe souvent.").await;
    let login = coordinator(&server).await;

    let (status, list) = get(
        &server,
        Some(&login),
        &format!("/api/sessions/{sid}/reports"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list[0]["id"], rid.as_str(), "{list}");
    assert_eq!(list[0]["text"], "Le son coupe souvent.", "{list}");
    let (status, csv) = get(
        &server,
        Some(&login),
        &format!("/api/sessions/{sid}/reports.csv"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(
        csv.as_str().is_some_and(|t| t.contains("Le son coupe")),
        "{csv}"
    );

    let answer = json!({"answer": "Nous avons changé de salle virtuelle.", "close": false});
    let (status, answered) = post(
        &server,
        Some(&login),
        true,
        &format!("/api/sessions/{sid}/reports/{rid}/answer"),
        &answer.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["answer"], "Nous avons changé de salle virtuelle.");
    assert_eq!(answered["status"], "answered", "{answered}");
    let (status, closed) = post(
        &server,
        Some(&login),
        true,
        &format!("/api/sessions/{sid}/reports/{rid}/close"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "closed", "{closed}");

    // Karim reads the answer with his link; the ledger has both acts.
    let (status, own) = server
        .get_public(&format!("/api/reports?token={karim}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own[0]["answer"], "Nous avons changé de salle virtuelle.");
    assert_eq!(own[0]["status"], "closed");
    assert_eq!(server.ledger_entries(sid, "report_answered").await.len(), 1);
    assert_eq!(server.ledger_entries(sid, "report_closed").await.len(), 1);
    let audited = coordinator_actions(&server).await;
    for route in [
        "POST /api/sessions/{sid}/reports/{rid}/answer",
        "POST /api/sessions/{sid}/reports/{rid}/close",
    ] {
        assert!(
            audited.iter().any(|a| a == route),
            "{route} in the audit log: {audited:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn difficulty_answers_without_login_csrf_or_a_real_report_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[
            ("Claire Martin", Role::Facilitator),
            ("Karim Benali", Role::Participant),
        ])
        .await;
    let sid = &session.id;
    let karim = &person(&session, "Karim Benali").link.token;
    let claire = &person(&session, "Claire Martin").link.token;
    let (status, filed) = server
        .post_raw(
            &format!("/api/reports?token={karim}"),
            None,
            json!({"text": "Je n’entends pas la formatrice."}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let rid = filed["id"].as_str().expect("a report id").to_owned();
    let login = coordinator(&server).await;
    let before = reports(&server, sid).await;
    let answer_path = format!("/api/sessions/{sid}/reports/{rid}/answer");
    let close_path = format!("/api/sessions/{sid}/reports/{rid}/close");
    let good = json!({"answer": "Réponse écrite."}).to_string();

    // Neither a login nor the token.
    let (status, body) = get(&server, None, &format!("/api/sessions/{sid}/reports")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    for path in [&answer_path, &close_path] {
        let (status, body) = post(&server, None, false, path, &good).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(code(&body), ErrorCode::Unauthorized, "{body}");
    }
    // A facilitator's link reads the reports but does not answer them.
    let (status, body) = get(
        &server,
        None,
        &format!("/api/sessions/{sid}/reports?token={claire}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(
        &server,
        None,
        false,
        &format!("{answer_path}?token={claire}"),
        &good,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // A login without the CSRF token.
    for path in [&answer_path, &close_path] {
        let (status, body) = post(&server, Some(&login), false, path, &good).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(code(&body), ErrorCode::CsrfToken, "{body}");
    }

    // Unknown session, unknown report.
    let (status, body) = get(&server, Some(&login), "/api/sessions/s_nope/reports").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = post(
        &server,
        Some(&login),
        true,
        "/api/sessions/s_nope/reports/r_nope/answer",
        &good,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = post(
        &server,
        Some(&login),
        true,
        &format!("/api/sessions/{sid}/reports/r_nope/close"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Bad answers: blank (a well-formed request the server cannot take),
    // not JSON, the wrong shape.
    for (bad, expected) in [
        (
            json!({"answer": "   "}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("{not json".to_owned(), StatusCode::BAD_REQUEST),
        (
            json!({"text": "Réponse"}).to_string(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, body) = post(&server, Some(&login), true, &answer_path, &bad).await;
        assert_eq!(status, expected, "{bad}: {body}");
        assert_eq!(code(&body), ErrorCode::InvalidInput, "{body}");
    }
    // A report closes only once answered.
    let (status, body) = post(&server, Some(&login), true, &close_path, "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    assert_eq!(reports(&server, sid).await, before, "nothing changed");
    assert!(
        server
            .ledger_entries(sid, "report_answered")
            .await
            .is_empty()
    );
    assert!(server.ledger_entries(sid, "report_closed").await.is_empty());
}

/// Reads the live view as the coordinator until `done` holds (bounded),
/// described by `what`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_lists_every_sessions_reports_those_to_handle_first_and_filters_them() {
    let server = TestServer::start().await;
    let people = [
        ("Claire Martin", Role::Facilitator),
        ("Karim Benali", Role::Participant),
    ];
    let (first, second) = (
        server.create_session(&people).await,
        server.create_session(&people).await,
    );
    let token = |s: &cadre_protocol::api::SessionView| person(s, "Karim Benali").link.token.clone();
    let oldest = file(&server, &token(&first), "Le son coupe souvent.").await;
    let answered = file(&server, &token(&second), "Je n’ai pas reçu le support.").await;
    let newest = file(&server, &token(&first), "L’image se fige.").await;
    let login = coordinator(&server).await;
    let (status, body) = post(
        &server,
        Some(&login),
        true,
        &format!("/api/sessions/{}/reports/{answered}/answer", second.id),
        &json!({"answer": "Il vous est renvoyé par courriel."}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let ids = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap_or_else(|| panic!("not a list: {list}"))
            .iter()
            .map(|r| r["id"].as_str().expect("an id").to_owned())
            .collect()
    };
    // All: the two to handle, the oldest first, then the answered one.
    let (status, all) = get(&server, Some(&login), "/api/difficulties").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(
        ids(&all),
        [oldest.clone(), newest.clone(), answered.clone()]
    );
    assert_eq!(all[0]["session_id"], first.id.as_str());
    assert_eq!(all[0]["session_title"], first.title.as_str());
    assert_eq!(all[0]["time_zone"], "Europe/Paris");
    assert_eq!(all[0]["author"]["name"], "Karim Benali");
    assert_eq!(all[2]["answer"], "Il vous est renvoyé par courriel.");
    let (_, open) = get(&server, Some(&login), "/api/difficulties?status=open").await;
    assert_eq!(ids(&open), [oldest.clone(), newest]);
    let (_, done) = get(&server, Some(&login), "/api/difficulties?status=answered").await;
    assert_eq!(ids(&done), [answered]);
    let (_, one) = get(&server, Some(&login), "/api/difficulties?limit=1").await;
    assert_eq!(ids(&one), [oldest]);

    for bad in ["status=lost", "limit=0", "limit=501", "limit=beaucoup"] {
        let (status, body) = get(&server, Some(&login), &format!("/api/difficulties?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(code(&body), ErrorCode::InvalidInput, "{bad}: {body}");
    }
    let (status, _) = get(&server, None, "/api/difficulties").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A participant's link does not open it.
    let (status, _) = server
        .get_public(&format!("/api/difficulties?token={}", token(&first)))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn wait_live(
    server: &TestServer,
    login: &Login,
    sid: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, body) = get(server, Some(login), &format!("/api/sessions/{sid}/live")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited 10 s for {what}; the live view is {body:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn live_person<'a>(view: &'a Value, id: &str) -> &'a Value {
    view["people"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["id"] == id))
        .unwrap_or_else(|| panic!("no {id} in {view:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_shows_who_is_connected_since_when_who_signed_and_the_alerts() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[
            ("Claire Martin", Role::Facilitator),
            ("Karim Benali", Role::Participant),
            ("Sophie Dubois", Role::Participant),
        ])
        .await;
    let sid = session.id.clone();
    let login = coordinator(&server).await;
    let karim_id = person(&session, "Karim Benali").id.clone();
    let sophie_id = person(&session, "Sophie Dubois").id.clone();

    // Before anyone joins: nobody connected, nothing signed, no alert.
    let view = wait_live(&server, &login, &sid, "the empty view", |_| true).await;
    assert_eq!(view["session"], sid.as_str());
    assert_eq!(view["people"].as_array().map(Vec::len), Some(3), "{view}");
    assert!(
        view["people"]
            .as_array()
            .is_some_and(|p| p.iter().all(|p| p["connected_since"].is_null()
                && p["signins"].as_array().is_some_and(Vec::is_empty))),
        "{view:#}"
    );
    assert_eq!(view["alerts"], json!([]));

    let before = chrono::Utc::now().timestamp_millis();
    let mut karim = server.join(&session, "Karim Benali").await;
    let slot = karim.open_slot().await;
    karim
        .send_json(&json!({"type": "sign_in", "slot": slot}))
        .await;
    karim.recv_evidence_type("signed").await;
    let view = wait_live(&server, &login, &sid, "Karim connected and signed", |v| {
        !live_person(v, &karim_id)["signins"]
            .as_array()
            .is_some_and(Vec::is_empty)
    })
    .await;
    let karim_now = live_person(&view, &karim_id);
    let since = karim_now["connected_since"]
        .as_i64()
        .unwrap_or_else(|| panic!("Karim is connected: {view:#}"));
    assert!(since >= before, "since {since}, joined after {before}");
    assert_eq!(karim_now["signins"][0]["slot"], slot.as_str(), "{view:#}");
    assert!(live_person(&view, &sophie_id)["connected_since"].is_null());

    // An alert in the ledger (as the quality rules write one) is listed.
    server
        .app()
        .ledger()
        .append(cadre_server::evidence::ledger::NewEvent {
            sid: sid.clone(),
            kind: cadre_protocol::evidence::kind::ALERT,
            actor: cadre_protocol::evidence::ACTOR_SERVER.to_owned(),
            payload: json!({"rule": "participant_lost", "message": "Karim Benali ne reçoit plus rien."}),
            client_ts: None,
        })
        .await
        .expect("append an alert");
    let view = wait_live(&server, &login, &sid, "the alert", |v| {
        v["alerts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(view["alerts"][0]["rule"], "participant_lost");
    assert_eq!(
        view["alerts"][0]["message"],
        "Karim Benali ne reçoit plus rien."
    );

    // Karim leaves: no longer connected, his sign-in stays.
    karim.leave().await;
    let view = wait_live(&server, &login, &sid, "Karim gone", |v| {
        live_person(v, &karim_id)["connected_since"].is_null()
    })
    .await;
    assert_eq!(
        live_person(&view, &karim_id)["signins"][0]["slot"],
        slot.as_str()
    );

    // The organiser token reads it too; no credential, 401; no session, 404.
    let (status, body) = server.get(&format!("/api/sessions/{sid}/live")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = get(&server, None, &format!("/api/sessions/{sid}/live")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), ErrorCode::Unauthorized);
    let (status, body) = server
        .get_with_bearer(&format!("/api/sessions/{sid}/live"), Some("not-the-token"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = get(&server, Some(&login), "/api/sessions/s_nope/live").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = get(&server, Some(&login), "/api/sessions/..%2Fx/live").await;
    assert!(status.is_client_error(), "{status} {body}");
}
