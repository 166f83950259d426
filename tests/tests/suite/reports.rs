//! Difficulty reports (cadre général, article 6): filed with a join link,
//! during or after the session; recorded in the ledger before anything
//! else; answered in writing by the organiser alone; read by their author;
//! exported. And every bad input refused with its code, nothing stored.

use cadre_protocol::api::{NewSession, SessionView};
use cadre_protocol::{ErrorCode, Role};
use cadre_tests::{
    StatusCode, TestServer, now, other_ed25519_key, person, session_body, sign_eddsa,
};
use serde_json::{Value, json};

fn code(body: &Value) -> ErrorCode {
    serde_json::from_value(body["code"].clone())
        .unwrap_or_else(|_| panic!("not an error body: {body}"))
}

fn token<'a>(session: &'a SessionView, name: &str) -> &'a str {
    &person(session, name).link.token
}

async fn file(server: &TestServer, token: &str, text: &str) -> (StatusCode, Value) {
    server
        .post_raw(
            &format!("/api/reports?token={token}"),
            None,
            json!({ "text": text }).to_string(),
        )
        .await
}

async fn own(server: &TestServer, token: &str) -> (StatusCode, Value) {
    server
        .get_public(&format!("/api/reports?token={token}"))
        .await
}

async fn answer(
    server: &TestServer,
    sid: &str,
    rid: &str,
    text: &str,
    close: bool,
) -> (StatusCode, Value) {
    server
        .post(
            &format!("/api/sessions/{sid}/reports/{rid}/answer"),
            &json!({ "answer": text, "close": close }),
        )
        .await
}

/// The session's ledger entries, parsed.
async fn ledger(server: &TestServer, sid: &str) -> Vec<Value> {
    server
        .app()
        .ledger()
        .entries(sid)
        .await
        .expect("read the ledger")
        .iter()
        .map(|e| serde_json::from_str(&e.text).expect("an entry is JSON"))
        .collect()
}

async fn report_entries(server: &TestServer, sid: &str) -> Vec<Value> {
    ledger(server, sid)
        .await
        .into_iter()
        .filter(|e| {
            e["kind"]
                .as_str()
                .unwrap_or_default()
                .starts_with("report_")
        })
        .collect()
}

/// A session planned `days_ago` days before now, three hours long.
/// Claire and Karim's session of three hours, `days_ago` days ago (ahead when negative).
async fn past_session(server: &TestServer, days_ago: i64) -> SessionView {
    let start = chrono::Utc::now() - chrono::Duration::days(days_ago);
    let end = start + chrono::Duration::hours(3);
    let body = NewSession {
        planned_start: start.to_rfc3339(),
        planned_end: end.to_rfc3339(),
        ..session_body(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
    };
    server.create_session_body(&body).await
}

async fn three_people(server: &TestServer) -> SessionView {
    server
        .create_session(&[
            ("Claire", Role::Facilitator),
            ("Karim", Role::Participant),
            ("Hugo", Role::Participant),
        ])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_recorded_answered_in_writing_and_closed() {
    let server = TestServer::start().await;
    let session = three_people(&server).await;
    let sid = &session.id;
    let karim = person(&session, "Karim");

    let (status, report) = file(
        &server,
        token(&session, "Karim"),
        "  Le son coupe toutes les deux minutes.\nJe n'entends plus la formatrice.  ",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let rid = report["id"].as_str().expect("an id").to_owned();
    assert!(rid.starts_with("r_"), "{rid}");
    assert_eq!(report["session_id"], json!(sid));
    assert_eq!(
        report["author"],
        json!({"id": karim.id, "name": "Karim", "role": "participant"})
    );
    assert_eq!(
        report["text"],
        "Le son coupe toutes les deux minutes.\nJe n'entends plus la formatrice."
    );
    assert_eq!(report["status"], "open");
    assert!(report["created_at"].as_i64().unwrap() > 0);
    assert_eq!(report["answer"], Value::Null);

    // The author sees it; another participant does not.
    let (status, list) = own(&server, token(&session, "Karim")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!([report]));
    let (status, list) = own(&server, token(&session, "Hugo")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!([]), "Hugo must not see Karim's report");

    // The facilitator sees the session's reports, with their authors; so
    // does the organiser.
    let (status, list) = own(&server, token(&session, "Claire")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!([report]));
    let (status, list) = server
        .get_public(&format!(
            "/api/sessions/{sid}/reports?token={}",
            token(&session, "Claire")
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!([report]));
    let (status, list) = server.get(&format!("/api/sessions/{sid}/reports")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!([report]));

    // The organiser answers; the author reads the answer.
    let (status, answered) = answer(
        &server,
        sid,
        &rid,
        "Nous avons relancé le serveur audio ; dites-nous si cela recommence.",
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["status"], "answered");
    assert_eq!(
        answered["answer"],
        "Nous avons relancé le serveur audio ; dites-nous si cela recommence."
    );
    assert!(answered["answered_at"].as_i64().unwrap() >= report["created_at"].as_i64().unwrap());
    assert_eq!(answered["closed_at"], Value::Null);
    let (_, list) = own(&server, token(&session, "Karim")).await;
    assert_eq!(list, json!([answered]), "the author sees the answer");

    // Closed; a closed report takes no further answer nor close.
    let (status, closed) = server
        .post(
            &format!("/api/sessions/{sid}/reports/{rid}/close"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["answer"], answered["answer"]);
    assert!(closed["closed_at"].as_i64().is_some());
    let before = ledger(&server, sid).await.len();
    let (status, body) = answer(&server, sid, &rid, "Encore une réponse", false).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), ErrorCode::Conflict);
    let (status, body) = server
        .post(
            &format!("/api/sessions/{sid}/reports/{rid}/close"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(ledger(&server, sid).await.len(), before, "nothing recorded");
    let (_, list) = own(&server, token(&session, "Karim")).await;
    assert_eq!(list, json!([closed]));

    // The ledger holds the whole story, in order, with the right actors.
    let entries = report_entries(&server, sid).await;
    let story: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        story,
        [
            ("report_filed", karim.id.as_str()),
            ("report_answered", "organiser"),
            ("report_closed", "organiser"),
        ]
    );
    assert_eq!(
        entries[0]["payload"],
        json!({"report": rid, "text": report["text"]})
    );
    assert_eq!(
        entries[1]["payload"],
        json!({"report": rid, "answer": answered["answer"]})
    );
    assert_eq!(entries[2]["payload"], json!({"report": rid}));
    assert_eq!(entries[0]["ts"], report["created_at"]);
    assert_eq!(entries[1]["ts"], answered["answered_at"]);
    assert_eq!(entries[2]["ts"], closed["closed_at"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answering_with_close_and_a_facilitator_report_and_the_csv_export() {
    let server = TestServer::start().await;
    let session = three_people(&server).await;
    let sid = &session.id;
    let (_, first) = file(&server, token(&session, "Karim"), "=1+1, \"micro\" muet").await;
    let (status, second) = file(
        &server,
        token(&session, "Claire"),
        "Un participant n'arrive pas à se connecter.",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["author"]["role"], "facilitator");
    let rid = first["id"].as_str().unwrap();

    // A report may be answered again until closed; `close` closes it.
    let (status, again) = answer(&server, sid, rid, "Première réponse", false).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let (status, closed) = answer(&server, sid, rid, "Réponse définitive", true).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["answer"], "Réponse définitive");
    let kinds: Vec<String> = report_entries(&server, sid)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "report_filed",
            "report_filed",
            "report_answered",
            "report_answered",
            "report_closed"
        ]
    );

    // A report without a written answer does not close.
    let (status, body) = server
        .post(
            &format!(
                "/api/sessions/{sid}/reports/{}/close",
                second["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // The export: BOM, header, one row per report, formulas defused.
    let response = server
        .http()
        .get(server.url(&format!("/api/sessions/{sid}/reports.csv")))
        .bearer_auth(server.organiser_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with('\u{feff}'), "UTF-8 with a byte-order mark");
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        lines[0],
        "id,created_at,author,role,status,text,answer,answered_at,closed_at"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].starts_with(&format!("{rid},")),
        "oldest first: {csv}"
    );
    assert!(
        lines[1].contains(
            ",Karim,participant,closed,\"'=1+1, \"\"micro\"\" muet\",Réponse définitive,"
        ),
        "{csv}"
    );
    assert!(
        lines[2].contains(",Claire,facilitator,open,Un participant"),
        "{csv}"
    );
    // Times in the session's zone, ISO 8601 with the offset.
    let created = lines[1].split(',').nth(1).unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok(),
        "{created}"
    );

    // The facilitator may export too; a participant may not.
    let (status, _) = server
        .get_public(&format!(
            "/api/sessions/{sid}/reports.csv?token={}",
            token(&session, "Claire")
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server
        .get_public(&format!(
            "/api/sessions/{sid}/reports.csv?token={}",
            token(&session, "Karim")
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), ErrorCode::Forbidden);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_text_is_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let session = three_people(&server).await;
    let sid = &session.id;
    let karim = token(&session, "Karim");
    let before = ledger(&server, sid).await.len();

    for (what, text) in [
        ("empty", String::new()),
        ("blank", " \n\t ".to_owned()),
        ("4001 characters", "é".repeat(4001)),
        ("a control character", "bip\u{7}".to_owned()),
    ] {
        let (status, body) = file(&server, karim, &text).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_eq!(code(&body), ErrorCode::InvalidInput, "{what}");
        assert!(
            body["message"].as_str().unwrap().contains("text"),
            "{what}: {body}"
        );
    }
    for (what, raw) in [
        ("not JSON", "{"),
        ("no text", "{}"),
        ("text not a string", r#"{"text": 3}"#),
    ] {
        let (status, body) = server
            .post_raw(&format!("/api/reports?token={karim}"), None, raw.to_owned())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(code(&body), ErrorCode::InvalidInput, "{what}");
    }
    assert_eq!(ledger(&server, sid).await.len(), before, "nothing recorded");
    let (_, list) = server.get(&format!("/api/sessions/{sid}/reports")).await;
    assert_eq!(list, json!([]));

    // 4000 characters is the limit, not beyond.
    let (status, report) = file(&server, karim, &"é".repeat(4000)).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let rid = report["id"].as_str().unwrap();
    let before = ledger(&server, sid).await.len();

    // Bad answers: empty, over 8000 characters.
    for text in [String::new(), "   ".to_owned(), "a".repeat(8001)] {
        let (status, body) = answer(&server, sid, rid, &text, true).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(code(&body), ErrorCode::InvalidInput);
    }
    assert_eq!(ledger(&server, sid).await.len(), before, "nothing recorded");
    let (_, list) = own(&server, karim).await;
    assert_eq!(list[0]["status"], "open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn participants_never_read_others_reports() {
    let server = TestServer::start().await;
    let session = three_people(&server).await;
    let sid = &session.id;
    let (_, karims) = file(&server, token(&session, "Karim"), "Écran figé").await;
    let (_, hugos) = file(&server, token(&session, "Hugo"), "Pas de son").await;

    let (_, list) = own(&server, token(&session, "Karim")).await;
    assert_eq!(list, json!([karims]));
    let (_, list) = own(&server, token(&session, "Hugo")).await;
    assert_eq!(list, json!([hugos]));

    let (status, body) = server
        .get_public(&format!(
            "/api/sessions/{sid}/reports?token={}",
            token(&session, "Hugo")
        ))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), ErrorCode::Forbidden);

    // Without any credential: no token.
    let (status, body) = server
        .get_public(&format!("/api/sessions/{sid}/reports"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), ErrorCode::TokenMissing);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_organiser_answers() {
    let server = TestServer::start().await;
    let session = three_people(&server).await;
    let sid = &session.id;
    let (_, report) = file(&server, token(&session, "Karim"), "Coupure réseau").await;
    let rid = report["id"].as_str().unwrap();
    let before = ledger(&server, sid).await.len();
    let body = json!({"answer": "Je réponds", "close": true}).to_string();

    for (what, path, bearer) in [
        (
            "no token",
            format!("/api/sessions/{sid}/reports/{rid}/answer"),
            None,
        ),
        (
            "a wrong bearer",
            format!("/api/sessions/{sid}/reports/{rid}/answer"),
            Some("not-the-organiser"),
        ),
        (
            "the facilitator's link",
            format!(
                "/api/sessions/{sid}/reports/{rid}/answer?token={}",
                token(&session, "Claire")
            ),
            None,
        ),
        (
            "the facilitator's link as a bearer",
            format!("/api/sessions/{sid}/reports/{rid}/answer"),
            Some(token(&session, "Claire")),
        ),
        (
            "closing without a token",
            format!("/api/sessions/{sid}/reports/{rid}/close"),
            None,
        ),
    ] {
        let (status, answer) = server.post_raw(&path, bearer, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {answer}");
        assert_eq!(code(&answer), ErrorCode::Unauthorized, "{what}");
    }
    assert_eq!(ledger(&server, sid).await.len(), before, "nothing recorded");
    let (_, list) = own(&server, token(&session, "Karim")).await;
    assert_eq!(list, json!([report]), "unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_of_another_session_is_out_of_reach() {
    let server = TestServer::start().await;
    let a = three_people(&server).await;
    let b = server
        .create_session(&[("Sophie", Role::Facilitator), ("Léa", Role::Participant)])
        .await;
    let (_, report) = file(&server, token(&a, "Karim"), "Rien ne marche").await;
    let rid = report["id"].as_str().unwrap();
    let (a_before, b_before) = (
        ledger(&server, &a.id).await.len(),
        ledger(&server, &b.id).await.len(),
    );

    // Answering or closing A's report under B's path: not found there.
    let (status, body) = answer(&server, &b.id, rid, "Réponse égarée", true).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(code(&body), ErrorCode::NotFound);
    let (status, body) = server
        .post(
            &format!("/api/sessions/{}/reports/{rid}/close", b.id),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // An unknown report id, an unknown session.
    let (status, body) = answer(&server, &a.id, "r_nope", "Réponse", false).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(code(&body), ErrorCode::NotFound);
    let (status, body) = server.get("/api/sessions/s_nope/reports").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    assert_eq!(ledger(&server, &a.id).await.len(), a_before);
    assert_eq!(ledger(&server, &b.id).await.len(), b_before);
    let (_, list) = own(&server, token(&a, "Karim")).await;
    assert_eq!(list, json!([report]), "unchanged");

    // A facilitator of A listing or exporting B's reports: wrong session.
    for path in [
        format!("/api/sessions/{}/reports", b.id),
        format!("/api/sessions/{}/reports.csv", b.id),
    ] {
        let (status, body) = server
            .get_public(&format!("{path}?token={}", token(&a, "Claire")))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(code(&body), ErrorCode::WrongSession, "{path}");
    }
    // B's people see nothing of A's.
    let (_, list) = own(&server, token(&b, "Sophie")).await;
    assert_eq!(list, json!([]));

    // The in-process API refuses a person of another session.
    let karim_id = &person(&a, "Karim").id;
    let refused = server
        .app()
        .file_difficulty(&b.id, karim_id, "Pas ici")
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::NotFound);
    assert_eq!(ledger(&server, &b.id).await.len(), b_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_garbage_tokens_are_refused() {
    let server = TestServer::start().await;
    let session = three_people(&server).await;
    let sid = &session.id;
    let karim = token(&session, "Karim");
    let kid = cadre_tests::header_of(karim)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut claims = cadre_tests::claims_of(karim);
    claims["exp"] = json!(now() + 3600);

    let cases = [
        ("no token", String::new(), ErrorCode::TokenMissing),
        ("garbage", "garbage".to_owned(), ErrorCode::TokenMalformed),
        (
            "another key",
            sign_eddsa(&kid, &claims, &other_ed25519_key()),
            ErrorCode::TokenSignature,
        ),
        (
            "an unknown link id",
            server.forge_token(karim, json!({"jti": "l_forged"})),
            ErrorCode::NotFound,
        ),
        (
            "a sponsor audience",
            server.forge_token(karim, json!({"aud": "cadre:sponsor"})),
            ErrorCode::TokenMalformed,
        ),
        (
            "no exp",
            server.forge_token(karim, json!({"exp": null})),
            ErrorCode::TokenMalformed,
        ),
        (
            "not valid yet and expired",
            server.forge_token(
                karim,
                json!({"nbf": now() + 3600, "exp": now() - 3600 * 24 * 365}),
            ),
            ErrorCode::TokenExpired,
        ),
        (
            "another role",
            server.forge_token(karim, json!({"role": "facilitator"})),
            ErrorCode::TokenMalformed,
        ),
    ];
    for (what, bad, expected) in &cases {
        let (status, body) = file(&server, bad, "Signalement").await;
        assert!(status.is_client_error(), "{what}: {status} {body}");
        assert_eq!(code(&body), *expected, "{what}: {body}");
        let (_, body) = own(&server, bad).await;
        assert_eq!(code(&body), *expected, "{what} (listing): {body}");
    }

    // A revoked person files nothing.
    let hugo = person(&session, "Hugo");
    server.revoke(sid, &hugo.id).await;
    let (status, body) = file(&server, &hugo.link.token, "Signalement").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(code(&body), ErrorCode::TokenRevoked);

    assert_eq!(
        report_entries(&server, sid).await,
        Vec::<Value>::new(),
        "nothing recorded"
    );
}

#[tokio::test]
async fn a_link_whose_session_opens_later_files_a_report_before_it() {
    let server = TestServer::start().await;
    let session = past_session(&server, -2).await;
    let karim = token(&session, "Karim");
    let (_, refused) = server.get_public(&format!("/api/join?token={karim}")).await;
    assert_eq!(
        code(&refused),
        ErrorCode::TokenNotYetValid,
        "the call does not open yet"
    );
    let (status, report) = file(&server, karim, "Ma caméra ne fonctionne pas au test.").await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let (status, list) = own(&server, karim).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!([report]));
    assert_eq!(
        report_entries(&server, &session.id).await.len(),
        1,
        "filed in the ledger"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_session_links_file_reports_for_ninety_days() {
    let server = TestServer::start().await;

    // Ten days after: the real link has expired, reports still work.
    let recent = past_session(&server, 10).await;
    let karim = token(&recent, "Karim");
    let (status, body) = server.get_public(&format!("/api/join?token={karim}")).await;
    assert_eq!(
        code(&body),
        ErrorCode::TokenExpired,
        "{status}: the link is expired"
    );
    let (status, report) = file(&server, karim, "Je n'ai jamais reçu mon attestation.").await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let (status, list) = own(&server, karim).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!([report]));
    let (status, _) = server
        .get_public(&format!(
            "/api/sessions/{}/reports?token={}",
            recent.id,
            token(&recent, "Claire")
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "the facilitator reads them too");

    // A current session, a genuine link whose exp passed (forged with the
    // server's key): accepted, the session's end is not 90 days old.
    let current = three_people(&server).await;
    let expired = server.forge_token(token(&current, "Hugo"), json!({"exp": now() - 3600}));
    let (status, body) = file(&server, &expired, "Lien expiré").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Eighty-nine days after: still accepted; ninety-one: refused.
    let edge = past_session(&server, 89).await;
    let (status, body) = file(&server, token(&edge, "Karim"), "Tard").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let old = past_session(&server, 91).await;
    let before = ledger(&server, &old.id).await.len();
    let (status, body) = file(&server, token(&old, "Karim"), "Trop tard").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), ErrorCode::TokenExpired);
    assert!(
        body["message"].as_str().unwrap().contains("90 days"),
        "{body}"
    );
    let (_, body) = own(&server, token(&old, "Karim")).await;
    assert_eq!(code(&body), ErrorCode::TokenExpired);
    assert_eq!(
        ledger(&server, &old.id).await.len(),
        before,
        "nothing recorded"
    );
    let (_, list) = server
        .get(&format!("/api/sessions/{}/reports", old.id))
        .await;
    assert_eq!(list, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_twenty_open_reports_per_person() {
    let server = TestServer::start().await;
    let session = three_people(&server).await;
    let sid = &session.id;
    let karim = token(&session, "Karim");
    let mut first = None;
    for i in 0..20 {
        let (status, body) = file(&server, karim, &format!("Difficulté {i}")).await;
        assert_eq!(status, StatusCode::CREATED, "{i}: {body}");
        first.get_or_insert(body);
    }
    let (status, body) = file(&server, karim, "Une de trop").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), ErrorCode::Conflict);
    // Others are not held back; an answer frees a place.
    let (status, _) = file(&server, token(&session, "Hugo"), "Moi aussi").await;
    assert_eq!(status, StatusCode::CREATED);
    let rid = first.unwrap()["id"].as_str().unwrap().to_owned();
    let (status, _) = answer(&server, sid, &rid, "Vu", false).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = file(&server, karim, "Encore une").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, list) = own(&server, karim).await;
    assert_eq!(list.as_array().unwrap().len(), 21);
}

// -- Live news of reports ---------------------------------------

/// Skips messages until a `report` one.
async fn next_report(client: &mut cadre_tests::Client) -> Value {
    loop {
        let message = client.recv().await;
        if message["type"] == "report" {
            return message["report"].clone();
        }
    }
}

/// The `cadre` binary, as an organiser runs it beside the server:
/// `CADRE_BIN`, else the one built beside this test binary.
pub(crate) fn cadre_binary() -> std::path::PathBuf {
    if let Some(bin) = std::env::var_os("CADRE_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/suite-… → target/debug/cadre
    let bin = exe
        .parent()
        .and_then(std::path::Path::parent)
        .map(|dir| dir.join(format!("cadre{}", std::env::consts::EXE_SUFFIX)))
        .expect("the target directory");
    assert!(
        bin.exists(),
        "the cadre binary is not built at {}: run `cargo build -p cadre-server` first, or set CADRE_BIN",
        bin.display()
    );
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_report_reaches_the_connected_facilitator_and_no_other_participant() {
    let server = TestServer::start().await;
    let session = three_people(&server).await;
    let mut claire = server.join(&session, "Claire").await;
    let mut hugo = server.join(&session, "Hugo").await;

    // Filed with the link (REST): the facilitator hears of it live.
    let (status, filed) = file(&server, token(&session, "Karim"), "Je n'ai plus de son.").await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let told = next_report(&mut claire).await;
    assert_eq!(told, filed, "the facilitator gets the report as filed");

    // Filed in the call (socket): the author gets their own answer, the
    // facilitator hears of it; the first report Hugo receives is his own,
    // never Karim's.
    hugo.send_json(&json!({"type": "report", "text": "L'image se fige."}))
        .await;
    let hugos = next_report(&mut hugo).await;
    assert_eq!(hugos["author"]["name"], "Hugo", "{hugos}");
    assert_eq!(hugos["text"], "L'image se fige.");
    let told = next_report(&mut claire).await;
    assert_eq!(told, hugos);

    // A facilitator's own report is not echoed back to them as news.
    claire
        .send_json(&json!({"type": "report", "text": "Un participant ne voit rien."}))
        .await;
    let mine = next_report(&mut claire).await;
    assert_eq!(mine["author"]["name"], "Claire");
    let (_, list) = own(&server, token(&session, "Claire")).await;
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_given_with_the_cli_reaches_the_connected_author_once() {
    let server = TestServer::start().await;
    let session = three_people(&server).await;
    let sid = session.id.clone();
    let mut karim = server.join(&session, "Karim").await;
    karim
        .send_json(&json!({"type": "report", "text": "Le partage d'écran ne marche pas."}))
        .await;
    let filed = next_report(&mut karim).await;
    let rid = filed["id"].as_str().expect("an id").to_owned();

    // The organiser answers from the command line: another process on the
    // same data directory, which cannot reach the server's sockets.
    let data_dir = server.data_file("");
    let bin = cadre_binary();
    let out = tokio::process::Command::new(&bin)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["report", "answer", "--session", &sid, "--report", &rid])
        .args(["--text", "Essayez avec Firefox ; nous regardons."])
        .output()
        .await
        .expect("run cadre report answer");
    assert!(
        out.status.success(),
        "cadre report answer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answered = next_report(&mut karim).await;
    assert_eq!(answered["id"], json!(rid));
    assert_eq!(answered["status"], "answered");
    assert_eq!(answered["answer"], "Essayez avec Firefox ; nous regardons.");

    // A bad answer from the CLI changes nothing and tells no one.
    let out = tokio::process::Command::new(&bin)
        .arg("--data-dir")
        .arg(&data_dir)
        .args([
            "report",
            "answer",
            "--session",
            &sid,
            "--report",
            "r_nothere",
        ])
        .args(["--text", "Perdu"])
        .output()
        .await
        .expect("run cadre report answer");
    assert!(!out.status.success(), "an unknown report is refused");

    // The next news is the close given over REST, not the CLI's answer a
    // second time (the REST answer is told by the server itself and seen
    // by the watcher too: still once).
    let (status, closed) = server
        .post(
            &format!("/api/sessions/{sid}/reports/{rid}/close"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let next = next_report(&mut karim).await;
    assert_eq!(next, closed, "the close, after the answer, once");
    let (status, again) = answer(&server, &sid, &rid, "Trop tard", false).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    // Filing one more proves the queue holds no second copy of the close.
    karim
        .send_json(&json!({"type": "report", "text": "Merci."}))
        .await;
    let last = next_report(&mut karim).await;
    assert_eq!(last["text"], "Merci.", "no duplicate before it: {last}");
}
