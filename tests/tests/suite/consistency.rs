//! A receipt kept by a participant, checked against their proof without the
//! ledger export: the server gives the consistency proof between the two
//! tree heads (hashes only), and `cadre verify PROOF --receipt R
//! --consistency C` checks that the log the proof was drawn from still holds
//! what the receipt was handed for. Every bad request for it gets its code.

use cadre_protocol::Role;
use cadre_protocol::evidence::{TreeHead, unverified_payload};
use cadre_protocol::proof::{AttendanceProof, Consistency};
use cadre_server::evidence::verify::{EXIT_FAILED, EXIT_VERIFIED, VerifyArgs, run_with};
use cadre_tests::{StatusCode, TestServer};
use serde_json::json;
use std::path::Path;

const PEOPLE: [(&str, Role); 2] = [
    ("Claire Martin", Role::Facilitator),
    ("Karim Benali", Role::Participant),
];

fn head_of(jws: &str) -> TreeHead {
    serde_json::from_slice(&unverified_payload(jws).expect("payload")).expect("tree head")
}

fn verify(
    dir: &Path,
    files: &[(&str, &str)],
    receipts: &[&str],
    consistency: &[&str],
) -> (i32, String) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write");
    }
    let args = VerifyArgs {
        file: dir.join("proof.jws"),
        jwks: Some(dir.join("jwks.json").display().to_string()),
        receipts: receipts.iter().map(|r| dir.join(r)).collect(),
        consistency: consistency.iter().map(|c| dir.join(c)).collect(),
        tsa_certs: Vec::new(),
        json: false,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with(&args, &mut out, &mut err);
    let text = String::from_utf8(out).expect("utf-8") + &String::from_utf8(err).expect("utf-8");
    (code, text)
}

#[tokio::test]
async fn a_receipt_is_linked_to_a_later_proof_by_the_servers_consistency_proof() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = &session.id;
    let karim = &session.people[1];

    // Karim signs in and keeps the receipt; the log then grows.
    let mut live = server.join(&session, "Karim Benali").await;
    let slot = live.open_slot().await;
    live.send_json(&json!({
        "type": "sign_in", "slot": slot,
        "signature": [[[0, 0, 0], [500, 800, 40], [1000, 1000, 90]]]
    }))
    .await;
    let signed = live.recv_evidence_type("signed").await;
    let receipt = signed["receipt"].as_str().expect("receipt").to_owned();
    let claire = server.join(&session, "Claire Martin").await;
    drop(claire);
    drop(live);
    let receipt_size = head_of(&receipt).tree_size;

    let (status, proof) = server
        .get_public(&format!(
            "/api/sessions/{sid}/proofs/{}/json?token={}",
            karim.id, karim.link.token
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    let jws = proof["jws"].as_str().expect("jws").to_owned();
    let parsed: AttendanceProof =
        serde_json::from_value(proof["proof"].clone()).expect("attendance proof");
    let proof_size = head_of(&parsed.evidence.tree_head).tree_size;
    assert!(
        proof_size > receipt_size,
        "the log grew after the sign-in: {receipt_size} then {proof_size}"
    );

    // Karim's own link gets the consistency proof between the two.
    let path = format!(
        "/api/sessions/{sid}/ledger/consistency?from={receipt_size}&to={proof_size}&token={}",
        karim.link.token
    );
    let (status, body) = server.get_public(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let consistency: Consistency = serde_json::from_value(body.clone()).expect("consistency");
    assert_eq!(
        (consistency.sid.as_str(), consistency.from, consistency.to),
        (sid.as_str(), receipt_size, proof_size)
    );
    assert!(!consistency.path.is_empty());
    // The organiser gets the same.
    let (status, same) = server
        .get(&format!(
            "/api/sessions/{sid}/ledger/consistency?from={receipt_size}&to={proof_size}"
        ))
        .await;
    assert_eq!((status, &same), (StatusCode::OK, &body));

    let (_, jwks) = server.get_public("/.well-known/jwks.json").await;
    let dir = tempfile::tempdir().expect("tmp");
    let files = [
        ("proof.jws", jws.as_str()),
        ("jwks.json", &jwks.to_string()),
        ("receipt.json", &signed.to_string()),
        ("consistency.json", &body.to_string()),
    ];
    let (code, out) = verify(dir.path(), &files, &["receipt.json"], &["consistency.json"]);
    assert_eq!(code, EXIT_VERIFIED, "{out}");
    assert!(
        out.contains(&format!(
            "✓ receipt 1: the log of {proof_size} entries the proof was drawn from extends the receipt's {receipt_size} entries"
        )),
        "{out}"
    );

    // Without the consistency proof, the verifier says where to get it.
    let (code, out) = verify(dir.path(), &[], &["receipt.json"], &[]);
    assert_eq!(code, EXIT_FAILED, "{out}");
    assert!(
        out.contains(&format!(
            "/api/sessions/{sid}/ledger/consistency?from={receipt_size}&to={proof_size}"
        )),
        "{out}"
    );

    // A path that does not link the two roots fails.
    let mut forged = consistency.clone();
    forged.path[0] = "00".repeat(32);
    let forged = serde_json::to_string(&forged).expect("json");
    let (code, out) = verify(
        dir.path(),
        &[("forged.json", &forged)],
        &["receipt.json"],
        &["forged.json"],
    );
    assert_eq!(code, EXIT_FAILED, "{out}");
    assert!(out.contains("does not link the root of"), "{out}");
}

#[tokio::test]
async fn bad_consistency_requests_get_a_clear_code() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let other = server.create_session(&PEOPLE).await;
    let sid = &session.id;
    let token = &session.people[1].link.token;
    // A few entries, written here rather than by a join: a live session
    // also writes in the background (a sign-in window, say), which would
    // make the log grow while the requests below are checked.
    for visible in [true, false, true] {
        server
            .app()
            .ledger()
            .append(cadre_server::evidence::ledger::NewEvent {
                sid: sid.clone(),
                kind: cadre_protocol::evidence::kind::VISIBILITY,
                actor: session.people[1].id.clone(),
                payload: json!({"connection_id": "c_x", "visible": visible}),
                client_ts: None,
            })
            .await
            .expect("append");
    }
    let log_size = || async { server.app().ledger().entries(sid).await.expect("log").len() };
    let size = log_size().await;
    let q = |query: &str| format!("/api/sessions/{sid}/ledger/consistency?{query}");
    let cases = [
        (
            q(&format!("to=2&token={token}")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            q(&format!("from=x&to=2&token={token}")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            q(&format!("from=-1&to=2&token={token}")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            q(&format!("from=2&to=1&token={token}")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            q(&format!("from=1&to={}&token={token}", size + 1000)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (q("from=1&to=2"), StatusCode::UNAUTHORIZED, "token_missing"),
        (
            q("from=1&to=2&token=garbage"),
            StatusCode::UNAUTHORIZED,
            "token_malformed",
        ),
        (
            q(&format!("from=1&to=2&token={}", other.people[1].link.token)),
            StatusCode::FORBIDDEN,
            "wrong_session",
        ),
    ];
    for (path, status, code) in cases {
        let (got, body) = server.get_public(&path).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }
    let (status, body) = server
        .get("/api/sessions/s_nope/ledger/consistency?from=1&to=2")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A consistency proof from 0 or to the same size is empty, and valid.
    for query in [
        format!("from=0&to=2&token={token}"),
        format!("from=2&to=2&token={token}"),
    ] {
        let (status, body) = server.get_public(&q(&query)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["path"], json!([]), "{body}");
    }
    // Nothing above changed the log.
    assert_eq!(log_size().await, size);
}
