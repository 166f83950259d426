//! Names, titles, reasons and report texts refuse bidirectional controls
//! (text that reads in another order than it is stored) with `invalid_input`
//! naming the field, and nothing changes: no session, no control, no entry.

use cadre_protocol::Role;
use cadre_tests::{StatusCode, TestServer, person, session_body};
use serde_json::{Value, json};

/// One of each family: override, isolate, mark.
const CONTROLS: [(char, &str); 4] = [
    ('\u{202E}', "U+202E"),
    ('\u{2067}', "U+2067"),
    ('\u{200F}', "U+200F"),
    ('\u{061C}', "U+061C"),
];

fn assert_refused(status: StatusCode, body: &Value, field: &str, code: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_input", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("{field}:")) && message.contains(code),
        "the refusal should name {field} and {code}: {message}"
    );
}

#[tokio::test]
async fn session_creation_refuses_bidi_controls_in_every_text_field() {
    let server = TestServer::start().await;
    let people = [("Claire", Role::Facilitator), ("Karim", Role::Participant)];
    for (c, code) in CONTROLS {
        let spoof = format!("Facture{c}fdp.exe");
        for field in ["title", "organisation", "sponsor", "people[1].name"] {
            let mut body = session_body(&people);
            match field {
                "title" => body.title = spoof.clone(),
                "organisation" => body.organisation = spoof.clone(),
                "sponsor" => body.sponsor = Some(spoof.clone()),
                _ => body.people[1].name = spoof.clone(),
            }
            let (status, answer) = server
                .post("/api/sessions", &serde_json::to_value(&body).unwrap())
                .await;
            assert_refused(status, &answer, field, code);
        }
    }
    assert_eq!(server.session_count().await, 0, "a session was created");
    // Right-to-left names themselves are welcome.
    let mut body = session_body(&people);
    body.people[1].name = "كريم بن علي".into();
    body.title = "שיעור 2".into();
    server.create_session_body(&body).await;
}

#[tokio::test]
async fn control_reasons_with_bidi_controls_change_nothing() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let mut karim = server.join(&session, "Karim").await;
    claire.skip_until_type("peer_joined").await;
    let before = server
        .ledger_entries(&session.id, "session_state")
        .await
        .len();
    for (c, code) in CONTROLS {
        claire
            .send_json(&json!({
                "type": "control",
                "action": "suspend",
                "reason": format!("Coupure {c}réseau"),
            }))
            .await;
        let error = claire.recv_error("invalid_input").await;
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("reason:") && message.contains(code),
            "{message}"
        );
        claire
            .send_json(&json!({
                "type": "control",
                "action": "remove",
                "participant": person(&session, "Karim").id,
                "reason": format!("{c}Propos déplacés"),
            }))
            .await;
        claire.recv_error("invalid_input").await;
    }
    assert_eq!(
        server
            .ledger_entries(&session.id, "session_state")
            .await
            .len(),
        before
    );
    assert!(
        server
            .ledger_entries(&session.id, "removed")
            .await
            .is_empty()
    );
    // Karim was told nothing and is still in; a clean reason still works.
    claire
        .send_json(&json!({"type": "control", "action": "suspend", "reason": "Coupure réseau"}))
        .await;
    let notice = karim.skip_until_type("session_state").await;
    assert_eq!(notice["notice"]["reason"], "Coupure réseau", "{notice}");
}

#[tokio::test]
async fn report_texts_and_answers_with_bidi_controls_change_nothing() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let sid = session.id.clone();
    let token = person(&session, "Karim").link.token.clone();
    for (c, code) in CONTROLS {
        let (status, body) = server
            .post_raw(
                &format!("/api/reports?token={token}"),
                None,
                json!({"text": format!("Le son{c} coupe")}).to_string(),
            )
            .await;
        assert_refused(status, &body, "text", code);
    }
    let mut karim = server.join(&session, "Karim").await;
    karim
        .send_json(&json!({"type": "report", "text": "Le son\u{202E} coupe"}))
        .await;
    let error = karim.recv_error("invalid_input").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("U+202E"),
        "{error}"
    );
    assert!(server.ledger_entries(&sid, "report_filed").await.is_empty());

    // A real report, then answers that are refused.
    let (status, filed) = server
        .post_raw(
            &format!("/api/reports?token={token}"),
            None,
            json!({"text": "Le son coupe"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let rid = filed["id"].as_str().expect("report id");
    for (c, code) in CONTROLS {
        let (status, body) = server
            .post(
                &format!("/api/sessions/{sid}/reports/{rid}/answer"),
                &json!({"answer": format!("Nous{c} regardons"), "close": true}),
            )
            .await;
        assert_refused(status, &body, "answer", code);
    }
    assert!(
        server
            .ledger_entries(&sid, "report_answered")
            .await
            .is_empty()
    );
    assert!(
        server
            .ledger_entries(&sid, "report_closed")
            .await
            .is_empty()
    );
    let (_, list) = server.get(&format!("/api/sessions/{sid}/reports")).await;
    assert_eq!(list[0]["status"], "open", "{list}");
}
