//! Consent decisions: explicit, off by default, revocable, tied to the
//! wording shown, and what they decide.
//!
//! The lobby shows the session's wordings with their hashes and no decision;
//! a decision is recorded only for a wording of this session and its hash;
//! the latest decision is what the person sees on reconnecting and what the
//! sponsor's report obeys. Anything else is refused and records nothing.

use cadre_protocol::api::SessionView;
use cadre_tests::PEOPLE_OF_FIVE;
use cadre_tests::{TestServer, session_body};
use serde_json::{Value, json};

fn hash(lobby: &Value, consent: &str, lang: &str) -> String {
    lobby["consent_texts"]
        .as_array()
        .expect("consent_texts")
        .iter()
        .find(|t| t["consent"] == consent && t["lang"] == lang)
        .and_then(|t| t["sha256"].as_str())
        .unwrap_or_else(|| panic!("no {consent} text in {lang}: {lobby}"))
        .to_owned()
}

/// A session of five with a sponsor, and Karim's lobby (the wordings and
/// their hashes).
async fn sponsored(server: &TestServer) -> (SessionView, Value) {
    let mut body = session_body(&PEOPLE_OF_FIVE);
    body.sponsor = Some("Entreprise Exemple".into());
    let session = server.create_session_body(&body).await;
    let (_, lobby) = server
        .get_public(&format!("/api/join?token={}", session.people[1].link.token))
        .await;
    (session, lobby)
}

async fn named(server: &TestServer, sid: &str) -> Vec<String> {
    let (_, link) = server
        .post(&format!("/api/sessions/{sid}/sponsor-link"), &json!({}))
        .await;
    let token = link["token"].as_str().expect("token");
    let (_, report) = server
        .get_public(&format!("/api/report?token={token}"))
        .await;
    report["named"]
        .as_array()
        .expect("named")
        .iter()
        .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_recorded_consent_decides_what_the_sponsor_sees() {
    let server = TestServer::start().await;
    let (session, lobby) = sponsored(&server).await;
    assert_eq!(
        lobby["consents"],
        json!({"recording": null, "sponsor_share": null}),
        "never decided is not a refusal, and not a consent"
    );
    let share = hash(&lobby, "sponsor_share", "fr");
    let text = lobby["consent_texts"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["sha256"] == share.as_str()))
        .expect("text");
    assert!(
        text["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Entreprise Exemple")
    );

    let mut client = server.join(&session, "Karim Benali").await;
    assert_eq!(client.welcome["consents"]["sponsor_share"], json!(null));
    client
        .send_json(&json!({"type": "consent", "consent": "sponsor_share", "granted": true, "text_sha256": share}))
        .await;
    // The entry is durable first, then the decision is confirmed.
    let entry = client.recv_recorded("consent").await;
    assert_eq!(entry["payload"]["text_sha256"], share.as_str());
    let recorded = client.recv_evidence_type("consent_recorded").await;
    assert_eq!(recorded["granted"], true);
    assert_eq!(named(&server, &session.id).await, ["Karim Benali"]);

    // The decision is what he sees again, and he can take it back.
    drop(client);
    let mut client = server.join(&session, "Karim Benali").await;
    assert_eq!(client.welcome["consents"]["sponsor_share"], true);
    let english = hash(&lobby, "sponsor_share", "en");
    client
        .send_json(&json!({"type": "consent", "consent": "sponsor_share", "granted": false, "text_sha256": english}))
        .await;
    let recorded = client.recv_evidence_type("consent_recorded").await;
    assert_eq!(recorded["granted"], false);
    assert!(named(&server, &session.id).await.is_empty());
}

#[tokio::test]
async fn refused_decisions_record_nothing() {
    let server = TestServer::start().await;
    // No sponsor: only the recording consent is asked.
    let session = server.create_session(&PEOPLE_OF_FIVE).await;
    let karim = &session.people[1];
    let (_, lobby) = server
        .get_public(&format!("/api/join?token={}", karim.link.token))
        .await;
    let kinds: Vec<&str> = lobby["consent_texts"]
        .as_array()
        .expect("texts")
        .iter()
        .map(|t| t["consent"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["recording", "recording"]);
    let recording = hash(&lobby, "recording", "fr");

    let mut client = server.join(&session, "Karim Benali").await;
    let cases = [
        (
            json!({"type": "consent", "consent": "sponsor_share", "granted": true, "text_sha256": recording}),
            "invalid_input",
        ),
        (
            json!({"type": "consent", "consent": "recording", "granted": true, "text_sha256": "00".repeat(32)}),
            "invalid_input",
        ),
        (
            json!({"type": "consent", "consent": "photos", "granted": true, "text_sha256": recording}),
            "invalid_input",
        ),
        (
            json!({"type": "consent", "consent": "recording", "text_sha256": recording}),
            "malformed_message",
        ),
    ];
    for (msg, code) in cases {
        client.send_json(&msg).await;
        client.recv_error(code).await;
    }
    let evidence = client.evidence().await;
    assert!(
        !evidence.iter().any(|e| e["kind"] == "consent"),
        "{evidence:?}"
    );
}

/// A second tab, opened while the session is live (another person keeps it
/// so), shows the `sponsor_share` decision the first tab just made: the
/// session holds everyone's decisions and reads none at a join.
#[tokio::test]
async fn a_tab_opened_in_a_live_session_shows_the_latest_sponsor_share() {
    let server = TestServer::start().await;
    let (session, lobby) = sponsored(&server).await;
    let share = hash(&lobby, "sponsor_share", "fr");
    let _claire = server.join(&session, "Claire Martin").await;
    let mut first = server.join(&session, "Karim Benali").await;
    for granted in [true, false, true] {
        first
            .send_json(&json!({"type": "consent", "consent": "sponsor_share", "granted": granted, "text_sha256": share}))
            .await;
        let recorded = first.recv_evidence_type("consent_recorded").await;
        assert_eq!(recorded["granted"], granted);
    }
    let second = server.join(&session, "Karim Benali").await;
    assert_eq!(
        second.welcome["consents"],
        json!({"recording": null, "sponsor_share": true}),
        "{}",
        second.welcome
    );
}

/// Decisions outlive the session's actor: once everyone has left, the
/// next join starts a new one, which reads them back from the log.
#[tokio::test]
async fn decisions_are_read_back_when_the_session_starts_again() {
    let server = TestServer::start().await;
    let (session, lobby) = sponsored(&server).await;
    let recording = hash(&lobby, "recording", "fr");
    let share = hash(&lobby, "sponsor_share", "fr");
    let mut client = server.join(&session, "Karim Benali").await;
    client.decide_recording(&recording, true).await;
    client
        .send_json(&json!({"type": "consent", "consent": "sponsor_share", "granted": false, "text_sha256": share}))
        .await;
    let recorded = client.recv_evidence_type("consent_recorded").await;
    assert_eq!(recorded["granted"], false);
    client.leave().await;
    drop(client);
    // Bounded wait for the actor to end (its last member left).
    let registry = server.app().registry();
    for _ in 0..200 {
        if registry.get(&session.id).is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        registry.get(&session.id).is_none(),
        "the session's actor did not end once everyone had left"
    );
    let again = server.join(&session, "Karim Benali").await;
    assert_eq!(
        again.welcome["consents"],
        json!({"recording": true, "sponsor_share": false}),
        "{}",
        again.welcome
    );
}
