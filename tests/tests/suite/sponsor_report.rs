//! The sponsor's report: aggregates only, names only with consent.
//!
//! A sponsor link is a signed, expiring, read-only token of its own kind: it
//! opens the report and nothing else, and a join link does not open the
//! report. The report names exactly the participants whose latest recorded
//! decision grants `sponsor_share`; when so few others remain that an
//! average would describe them individually, the aggregates are withheld.

use cadre_protocol::evidence::kind;
use cadre_server::evidence::ledger::NewEvent;
use cadre_tests::PEOPLE_OF_FIVE;
use cadre_tests::{StatusCode, TestServer, now};
use serde_json::{Value, json};

async fn link(server: &TestServer, sid: &str) -> String {
    let (status, body) = server
        .post(
            &format!("/api/sessions/{sid}/sponsor-link"),
            &json!({"valid_days": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["url"].as_str().unwrap_or_default().contains("/r/"));
    body["token"].as_str().expect("token").to_owned()
}

async fn report(server: &TestServer, token: &str) -> (StatusCode, Value) {
    server
        .get_public(&format!("/api/report?token={token}"))
        .await
}

async fn consent(server: &TestServer, sid: &str, person: &str, granted: bool) {
    server
        .app()
        .ledger()
        .append(NewEvent {
            sid: sid.to_owned(),
            kind: kind::CONSENT,
            actor: person.to_owned(),
            payload: json!({"consent": "sponsor_share", "granted": granted}),
            client_ts: None,
        })
        .await
        .expect("append a consent");
}

#[tokio::test]
async fn names_follow_recorded_consent_and_small_groups_stay_anonymous() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE_OF_FIVE).await;
    let _karim = server.join(&session, "Karim Benali").await;
    let token = link(&server, &session.id).await;

    let (status, r) = report(&server, &token).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["totals"]["expected"], 4, "facilitators are not counted");
    assert_eq!(r["anonymous_count"], 4);
    assert_eq!(r["named"], json!([]));
    let half = &r["half_days"][0];
    assert_eq!(half["expected"], 4);
    assert_eq!(half["present"], 1, "Karim is connected");
    let text = r.to_string();
    for (name, _) in PEOPLE_OF_FIVE {
        assert!(
            !text.contains(name),
            "{name} must not appear without consent: {r}"
        );
    }

    // Karim consents, Sophie consents then withdraws.
    let id = |name: &str| {
        session
            .people
            .iter()
            .find(|p| p.name == name)
            .expect("person")
            .id
            .clone()
    };
    consent(&server, &session.id, &id("Karim Benali"), true).await;
    consent(&server, &session.id, &id("Sophie Dubois"), true).await;
    consent(&server, &session.id, &id("Sophie Dubois"), false).await;
    let (_, r) = report(&server, &token).await;
    let named: Vec<&str> = r["named"]
        .as_array()
        .expect("named")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(named, ["Karim Benali"]);
    assert_eq!(r["anonymous_count"], 3);
    assert!(r["withheld"].is_null());
    assert!(!r.to_string().contains("Sophie Dubois"));

    // Two more consent: one participant left unnamed, aggregates withheld.
    consent(&server, &session.id, &id("Sophie Dubois"), true).await;
    consent(&server, &session.id, &id("Lucas Moreau"), true).await;
    let (_, r) = report(&server, &token).await;
    assert_eq!(r["anonymous_count"], 1);
    assert!(r["withheld"].as_str().is_some(), "{r}");
    assert_eq!(r["half_days"], json!([]));
    assert!(!r.to_string().contains("Amina Diallo"));
}

#[tokio::test]
async fn sponsor_links_open_the_report_only() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE_OF_FIVE).await;
    let token = link(&server, &session.id).await;

    // Only the organiser mints them, with a sane validity.
    let (status, _) = server
        .post_raw(
            &format!("/api/sessions/{}/sponsor-link", session.id),
            None,
            "{}".to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = server
        .post(
            &format!("/api/sessions/{}/sponsor-link", session.id),
            &json!({"valid_days": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_input");

    // A join link does not open the report; a sponsor link does not join.
    let join = &session.people[1].link.token;
    let (status, body) = report(&server, join).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "token_malformed");
    let (status, refusal) = server.refusal(&session.id, &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(refusal.code.as_str(), "token_malformed");

    // Expired and forged sponsor links.
    let expired = server.forge_token(&token, json!({"nbf": now() - 7200, "exp": now() - 3600}));
    let (status, body) = report(&server, &expired).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_expired");
    let (status, body) = report(&server, "not.a.token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_malformed");

    // The report page is served.
    let page = reqwest::get(server.url(&format!("/r/{token}")))
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
}
