//! The organiser's REST API keeps its contract: bearer token, validation,
//! links, lobby and published keys.
//!
//! Organiser endpoints refuse a missing or wrong bearer token with 401
//! `unauthorized`. Every invalid session body (each rule of
//! `docs/protocol.md`, a body that is not JSON, a missing field) is refused
//! with 400 or 422 `invalid_input` and nothing is stored; an oversized body
//! gets 413. A valid body answers 201 with join links whose tokens carry the
//! documented claims and window, and which the list and detail endpoints
//! show again unchanged. `GET /api/join` shows the lobby to a link holder
//! only, and `/.well-known/jwks.json` publishes an Ed25519 key, public part
//! only, whose `kid` is the links' and which verifies them (and nothing
//! signed by another key).

use cadre_protocol::api::{Lobby, SessionSummary, SessionView};
use cadre_protocol::{Role, SessionKind};
use cadre_tests::{StatusCode, TestServer, now, other_ed25519_key, person, sign_eddsa};
use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{Value, json};

/// The example of `docs/protocol.md`.
fn example_body() -> Value {
    json!({
        "title": "Gestion de projet — module 2",
        "kind": "formation",
        "organisation": "Organisme de formation",
        "planned_start": "2026-12-03T09:00",
        "planned_end": "2026-12-03T12:30",
        "time_zone": "Europe/Paris",
        "people": [
            {"name": "Claire Martin", "email": "claire@example.org", "role": "facilitator"},
            {"name": "Karim Benali", "role": "participant"}
        ]
    })
}

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339 ({e})"))
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organiser_endpoints_need_the_bearer_token() {
    let server = TestServer::start().await;
    let stored = std::fs::read_to_string(server.data_file("organiser-token"))
        .expect("the organiser token is written to the data directory");
    assert_eq!(stored.trim(), server.organiser_token());
    let session = server
        .create_session(&[("Claire", Role::Facilitator)])
        .await;

    let paths = [
        "/api/sessions".to_owned(),
        format!("/api/sessions/{}", session.id),
    ];
    for path in &paths {
        for bearer in [None, Some("wrong-token"), Some("")] {
            let (status, body) = server.get_with_bearer(path, bearer).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "GET {path} with {bearer:?}: {body}"
            );
            assert_eq!(
                body["code"], "unauthorized",
                "GET {path} with {bearer:?}: {body}"
            );
        }
    }
    for bearer in [None, Some("wrong-token")] {
        let (status, body) = server
            .post_raw("/api/sessions", bearer, example_body().to_string())
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "POST with {bearer:?}: {body}"
        );
        assert_eq!(body["code"], "unauthorized", "POST with {bearer:?}: {body}");
    }
    assert_eq!(server.session_count().await, 1, "no session was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_sessions_are_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let edit = |change: &dyn Fn(&mut Value)| {
        let mut body = example_body();
        change(&mut body);
        body.to_string()
    };
    let participant = json!({"name": "Karim Benali", "role": "participant"});
    // (what, body, words of which the message must name one)
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "end before start",
            edit(&|b| b["planned_end"] = json!("2026-12-03T08:00")),
            &["end", "start"],
        ),
        (
            "end equal to start",
            edit(&|b| b["planned_end"] = json!("2026-12-03T09:00")),
            &["end", "start"],
        ),
        (
            "unknown time zone",
            edit(&|b| b["time_zone"] = json!("Europe/Atlantis")),
            &["time_zone", "time zone"],
        ),
        (
            "start that is not a date",
            edit(&|b| b["planned_start"] = json!("demain matin")),
            &["start"],
        ),
        ("empty title", edit(&|b| b["title"] = json!("")), &["title"]),
        (
            "title over 200 characters",
            edit(&|b| b["title"] = json!("t".repeat(201))),
            &["title"],
        ),
        (
            "empty organisation",
            edit(&|b| b["organisation"] = json!("")),
            &["organisation"],
        ),
        (
            "empty person name",
            edit(&|b| b["people"][1]["name"] = json!("")),
            &["name"],
        ),
        (
            "person name over 120 characters",
            edit(&|b| b["people"][1]["name"] = json!("n".repeat(121))),
            &["name"],
        ),
        (
            "no facilitator",
            edit(&|b| b["people"][0]["role"] = json!("participant")),
            &["facilitator"],
        ),
        (
            "nobody",
            edit(&|b| b["people"] = json!([])),
            &["facilitator", "people"],
        ),
        (
            "51 people",
            edit(&|b| {
                let people = b["people"].as_array_mut().expect("people");
                while people.len() < 51 {
                    people.push(participant.clone());
                }
            }),
            &["people", "50"],
        ),
        (
            "unknown kind",
            edit(&|b| b["kind"] = json!("webinar")),
            &["kind", "webinar"],
        ),
        (
            "missing field",
            edit(&|b| {
                b.as_object_mut().expect("object").remove("people");
            }),
            &["people"],
        ),
        ("not JSON", r#"{"title": "Gestion"#.to_owned(), &[]),
        ("a JSON array", "[]".to_owned(), &[]),
    ];

    let mut wrong = Vec::new();
    for (what, body, words) in &cases {
        let (status, answer) = server
            .post_raw(
                "/api/sessions",
                Some(server.organiser_token()),
                body.clone(),
            )
            .await;
        let status_ok =
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY;
        let code_ok = answer["code"] == "invalid_input";
        let message = answer["message"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        let names_field = words.is_empty() || words.iter().any(|w| message.contains(w));
        if !(status_ok && code_ok && names_field) {
            wrong.push(format!("{what}: {status} {answer}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "answers that differ from the protocol (400/422 invalid_input naming the field):\n{}",
        wrong.join("\n")
    );

    // Not valid JSON is specifically 400.
    let (status, _) = server
        .post_raw(
            "/api/sessions",
            Some(server.organiser_token()),
            "{".to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Over 64 KiB: 413, whatever the content.
    let mut huge = example_body();
    huge["sponsor"] = json!("s".repeat(70 * 1024));
    let (status, answer) = server
        .post_raw(
            "/api/sessions",
            Some(server.organiser_token()),
            huge.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");

    assert_eq!(server.session_count().await, 0, "nothing was stored");

    // The example itself is valid: the refusals above were for their flaw.
    let (status, answer) = server.post("/api/sessions", &example_body()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(server.session_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_session_comes_back_with_signed_links() {
    let server = TestServer::start().await;
    let (status, answer) = server.post("/api/sessions", &example_body()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let created: SessionView = serde_json::from_value(answer.clone())
        .unwrap_or_else(|e| panic!("not a SessionView ({e}): {answer}"));

    assert!(created.id.starts_with("s_"), "{}", created.id);
    assert_eq!(created.title, "Gestion de projet — module 2");
    assert_eq!(created.kind, SessionKind::Formation);
    assert_eq!(created.time_zone, "Europe/Paris");
    // 09:00 and 12:30 in Paris in December are 08:00 and 11:30 UTC.
    let start = instant(&created.planned_start);
    let end = instant(&created.planned_end);
    assert_eq!(start, instant("2026-12-03T08:00:00Z"));
    assert_eq!(end, instant("2026-12-03T11:30:00Z"));
    assert_eq!(created.people.len(), 2);

    let claire = person(&created, "Claire Martin");
    assert_eq!(claire.role, Role::Facilitator);
    assert_eq!(claire.email.as_deref(), Some("claire@example.org"));
    assert_eq!(person(&created, "Karim Benali").role, Role::Participant);
    let mut kid = None;
    for someone in &created.people {
        assert!(someone.id.starts_with("p_"), "{}", someone.id);
        let link = &someone.link;
        assert_eq!(
            link.url,
            format!("{}/j/{}", server.public_url(), link.token)
        );
        assert!(!link.revoked);
        let not_before = instant(&link.not_before);
        let expires_at = instant(&link.expires_at);
        assert_eq!(not_before, start - Span::minutes(30), "default lead time");
        assert_eq!(expires_at, end + Span::minutes(60), "default grace");

        let header = cadre_tests::header_of(&link.token);
        assert_eq!(header["alg"], "EdDSA", "{header}");
        let this_kid = header["kid"].as_str().expect("kid").to_owned();
        assert!(!this_kid.is_empty());
        assert!(
            kid.get_or_insert(this_kid.clone()) == &this_kid,
            "one signing key"
        );

        let claims = cadre_tests::claims_of(&link.token);
        assert_eq!(claims["iss"], "cadre", "{claims}");
        assert_eq!(claims["aud"], "cadre:join", "{claims}");
        assert_eq!(claims["sub"], someone.id.as_str(), "{claims}");
        assert_eq!(claims["sid"], created.id.as_str(), "{claims}");
        assert_eq!(claims["role"], someone.role.as_str(), "{claims}");
        assert_eq!(claims["nbf"], not_before.timestamp(), "{claims}");
        assert_eq!(claims["exp"], expires_at.timestamp(), "{claims}");
        assert!(claims["iat"].is_i64(), "{claims}");
        assert!(
            claims["jti"].as_str().is_some_and(|j| !j.is_empty()),
            "{claims}"
        );
    }

    // Detail: the same session, the same links (minting is deterministic).
    let (status, detail) = server.get(&format!("/api/sessions/{}", created.id)).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    let detail: SessionView = serde_json::from_value(detail).expect("a SessionView");
    assert_eq!(detail, created);

    // List: one summary.
    let (status, list) = server.get("/api/sessions").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list: Vec<SessionSummary> = serde_json::from_value(list).expect("SessionSummary list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, created.id);
    assert_eq!(list[0].title, created.title);
    assert_eq!(list[0].people, 2);
    assert_eq!(list[0].planned_start, created.planned_start);

    // A second session shows up too; unknown ids are 404.
    let second = server
        .create_session(&[("Sophie", Role::Facilitator)])
        .await;
    assert_ne!(second.id, created.id);
    assert_eq!(server.session_count().await, 2);
    let (status, body) = server.get("/api/sessions/s_nosuchsession").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "not_found", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lobby_opens_to_a_link_holder_only() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let karim = person(&session, "Karim");

    let (status, body) = server
        .get_public(&format!("/api/join?token={}", karim.link.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lobby: Lobby = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("not a Lobby ({e}): {body}"));
    assert_eq!(lobby.you.id, karim.id);
    assert_eq!(lobby.you.name, "Karim");
    assert_eq!(lobby.you.role, Role::Participant);
    assert_eq!(lobby.session.id, session.id);
    assert_eq!(lobby.session.title, session.title);
    assert_eq!(lobby.session.facilitators, vec!["Claire".to_owned()]);
    assert_eq!(lobby.ws_path, format!("/ws/{}", session.id));
    assert!((lobby.server_time / 1000 - now()).abs() < 60);

    let expired = server.forge_token(
        &karim.link.token,
        json!({"iat": now() - 7200, "nbf": now() - 7200, "exp": now() - 600}),
    );
    let stranger = sign_eddsa(
        cadre_tests::header_of(&karim.link.token)["kid"]
            .as_str()
            .expect("kid"),
        &cadre_tests::claims_of(&karim.link.token),
        &other_ed25519_key(),
    );
    for (path, code) in [
        ("/api/join".to_owned(), "token_missing"),
        ("/api/join?token=garbage".to_owned(), "token_malformed"),
        (format!("/api/join?token={expired}"), "token_expired"),
        (format!("/api/join?token={stranger}"), "token_signature"),
    ] {
        let (status, body) = server.get_public(&path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        assert_eq!(body["code"], code, "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_key_verifies_the_links() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let token = &person(&session, "Karim").link.token;
    let kid = cadre_tests::header_of(token)["kid"]
        .as_str()
        .expect("kid")
        .to_owned();

    let (status, jwks) = server.get_public("/.well-known/jwks.json").await;
    assert_eq!(status, StatusCode::OK, "{jwks}");
    let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
    let key = keys
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("no key with the links' kid {kid} in {jwks}"));
    assert_eq!(key["kty"], "OKP", "{key}");
    assert_eq!(key["crv"], "Ed25519", "{key}");
    assert!(
        key.get("d").is_none(),
        "the JWKS leaks the private key: {key}"
    );
    let x = key["x"].as_str().expect("x");

    let decoding = jsonwebtoken::DecodingKey::from_ed_components(x).expect("x is a key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["cadre:join"]);
    validation.set_issuer(&["cadre"]);
    for someone in &session.people {
        let data = jsonwebtoken::decode::<Value>(&someone.link.token, &decoding, &validation)
            .unwrap_or_else(|e| panic!("{}'s link does not verify: {e}", someone.name));
        assert_eq!(data.claims["sub"], someone.id.as_str());
    }

    let foreign = sign_eddsa(&kid, &cadre_tests::claims_of(token), &other_ed25519_key());
    assert!(
        jsonwebtoken::decode::<Value>(&foreign, &decoding, &validation).is_err(),
        "the published key must not verify another key's signature"
    );

    let (status, body) = server.get_public("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!("ok"));
}

/// Issue 11 §4: the web client's pages carry the organisation's default
/// language (`<html lang>`, which the client falls back on when the person
/// chose none), and the lobby states the notice's data-protection facts.
#[tokio::test]
async fn the_page_carries_the_default_language_and_the_lobby_the_notice_facts() {
    let server = TestServer::start_with(|c| {
        c.default_lang = cadre_protocol::api::UiLang::En;
        c.evidence_kept_years = 6;
        c.privacy_contact = Some("dpo@example.org".into());
    })
    .await;
    for path in ["/", "/j/anything"] {
        let response = server.http().get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains("<html lang=\"en\">"), "{path}: {html}");
    }
    let french = TestServer::start().await;
    let html = french
        .http()
        .get(french.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<html lang=\"fr\">"), "French by default");

    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let (status, lobby) = server
        .get_public(&format!(
            "/api/join?token={}",
            person(&session, "Karim").link.token
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{lobby}");
    assert_eq!(
        lobby["notice"],
        json!({"evidence_kept_years": 6, "recording_retention_days": 30, "contact": "dpo@example.org",
            "media": "peer"}),
        "the suite's server keeps sessions peer to peer; the notice says so"
    );
}
