//! Who gets which document.
//!
//! A participant downloads their own proof (which verifies offline with the
//! published keys) and nothing else; a facilitator gets the session's sheet
//! and everyone's proofs; the organiser gets everything, including the
//! ledger export; a link of another session, a missing or wrong credential
//! each get their code. A sign-in cannot be made in someone else's name.

use cadre_protocol::evidence::Jwks;
use cadre_protocol::proof::verify_proof;
use cadre_tests::PEOPLE;
use cadre_tests::{StatusCode, TestServer};
use serde_json::json;

async fn fetch(server: &TestServer, path: &str) -> (StatusCode, String, Vec<u8>) {
    let resp = reqwest::get(server.url(path)).await.expect("request");
    let status = resp.status();
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, resp.bytes().await.expect("body").to_vec())
}

fn code(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test]
async fn each_person_gets_what_their_role_allows() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let other = server.create_session(&PEOPLE).await;
    let claire = &session.people[0];
    let karim = &session.people[1];
    let sophie = &session.people[2];
    let sid = &session.id;
    // Karim is there for a moment, and signs in.
    let mut live = server.join(&session, "Karim Benali").await;
    let slot = live.open_slot().await;
    // A field naming someone else is not a way to sign for them.
    live.send_json(&json!({"type": "sign_in", "slot": slot, "participant": sophie.id}))
        .await;
    let signed = live.recv_evidence_type("signed").await;
    assert_eq!(signed["slot"], slot.as_str());
    drop(live);

    let (_, jwks) = server.get_public("/.well-known/jwks.json").await;
    let jwks: Jwks = serde_json::from_value(jwks).expect("jwks");

    // Karim's own proof: signed, and it verifies offline.
    let (status, kind, body) = fetch(
        &server,
        &format!(
            "/api/sessions/{sid}/proofs/{}?token={}",
            karim.id, karim.link.token
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("application/jose"), "{kind}");
    let jws = String::from_utf8(body).expect("text");
    let report = verify_proof(&jws, &jwks);
    assert!(report.ok, "{report:#?}");
    let payload: serde_json::Value = serde_json::from_slice(
        &cadre_protocol::evidence::unverified_payload(&jws).expect("payload"),
    )
    .expect("json");
    assert_eq!(payload["person"]["id"], karim.id.as_str());
    assert!(payload["half_days"][0]["signed_in_at"].as_i64().is_some());
    // Sophie signed nothing: Karim's message named her, but signed as Karim.
    let (_, _, body) = fetch(
        &server,
        &format!(
            "/api/sessions/{sid}/proofs/{}/json?token={}",
            sophie.id, sophie.link.token
        ),
    )
    .await;
    let sophie_proof: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert!(sophie_proof["proof"]["half_days"][0]["signed_in_at"].is_null());

    // Karim may not have Sophie's proof, nor the sheet, nor the export.
    for path in [
        format!(
            "/api/sessions/{sid}/proofs/{}?token={}",
            sophie.id, karim.link.token
        ),
        format!(
            "/api/sessions/{sid}/proofs/{}/pdf?token={}",
            sophie.id, karim.link.token
        ),
        format!(
            "/api/sessions/{sid}/attendance.csv?token={}",
            karim.link.token
        ),
        format!(
            "/api/sessions/{sid}/attendance.pdf?token={}",
            karim.link.token
        ),
    ] {
        let (status, _, body) = fetch(&server, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(code(&body), "forbidden", "{path}");
    }
    let (status, _, _) = fetch(&server, &format!("/api/sessions/{sid}/ledger")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A link of another session, no credential, a wrong bearer.
    let foreign = &other.people[0].link.token;
    let (status, _, body) = fetch(
        &server,
        &format!("/api/sessions/{sid}/attendance.csv?token={foreign}"),
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::FORBIDDEN, "wrong_session")
    );
    let (status, _, body) = fetch(&server, &format!("/api/sessions/{sid}/attendance.csv")).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "token_missing")
    );
    let (status, body) = server
        .send(
            reqwest::Client::new()
                .get(server.url(&format!("/api/sessions/{sid}/attendance.csv")))
                .bearer_auth("wrong"),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthorized");

    // The facilitator gets the sheet and anyone's proof.
    let (status, kind, body) = fetch(
        &server,
        &format!(
            "/api/sessions/{sid}/attendance.csv?token={}",
            claire.link.token
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/csv"));
    let csv = String::from_utf8(body).expect("utf-8");
    assert!(
        csv.contains("Karim Benali") && csv.contains("Sophie Dubois"),
        "{csv}"
    );
    let (status, kind, body) = fetch(
        &server,
        &format!(
            "/api/sessions/{sid}/proofs/{}/pdf?token={}",
            karim.id, claire.link.token
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "application/pdf");
    assert!(body.starts_with(b"%PDF-"));
    let (status, kind, body) = fetch(
        &server,
        &format!(
            "/api/sessions/{sid}/attendance.pdf?token={}&lang=en",
            claire.link.token
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "application/pdf");
    assert!(body.starts_with(b"%PDF-"));

    // The organiser gets the export.
    let (status, body) = server
        .send(
            reqwest::Client::new()
                .get(server.url(&format!("/api/sessions/{sid}/ledger")))
                .bearer_auth(server.organiser_token()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
