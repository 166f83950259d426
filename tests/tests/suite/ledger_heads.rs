//! The signed tree heads a server stores are all evidence: the export
//! carries every one of them, so a log whose tail was deleted on disk fails
//! verification (a stored head covers more than the log holds); and proof
//! downloads reuse the latest head while the log has not grown, so the
//! store does not fill with identical heads.

use cadre_protocol::Role;
use cadre_server::evidence::ledger::LEDGER_FILE;
use cadre_server::evidence::verify::{EXIT_FAILED, EXIT_VERIFIED};
use cadre_tests::{StatusCode, TestServer, person, verify_export};
use serde_json::Value;
use std::path::Path;

/// A session where Karim joins and leaves: a handful of entries.
async fn session_with_a_visit(server: &TestServer) -> (String, String) {
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let karim = server.join(&session, "Karim").await;
    karim.leave().await;
    server
        .wait_ledger(&session.id, "connection_closed", 1)
        .await;
    (session.id.clone(), person(&session, "Karim").id.clone())
}

/// Downloads a proof; returns the tree head it is signed under.
async fn download_proof(server: &TestServer, sid: &str, pid: &str) -> String {
    let (status, body) = server
        .get(&format!("/api/sessions/{sid}/proofs/{pid}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let jws = body.as_str().expect("a proof is a JWS");
    let payload = cadre_protocol::evidence::unverified_payload(jws).expect("a JWS payload");
    let proof: Value = serde_json::from_slice(&payload).expect("a proof is JSON");
    proof["evidence"]["tree_head"]
        .as_str()
        .expect("a proof names its tree head")
        .to_owned()
}

/// The export, and its tree heads line parsed.
async fn export(server: &TestServer, sid: &str) -> (String, Value) {
    let text = server.ledger_export(sid).await;
    let trailer = text.lines().last().expect("an export has lines");
    let trailer: Value = serde_json::from_str(trailer).expect("the last line is JSON");
    (text, trailer)
}

/// `cadre verify` on an export: exit code, and everything it printed.
fn verify(dir: &Path, export: &str, jwks: &str) -> (i32, String) {
    let (code, out, err) = verify_export(dir, export, jwks, &[]);
    (code, out + &err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_truncated_on_disk_fails_verification_by_its_stored_heads() {
    let server = TestServer::start().await;
    let (sid, karim) = session_with_a_visit(&server).await;
    // Karim's proof is signed under a head over the whole log so far.
    download_proof(&server, &sid, &karim).await;
    let keys = server.jwks_text().await;
    let dir = tempfile::tempdir().unwrap();
    let (before, _) = export(&server, &sid).await;
    let (code, out) = verify(dir.path(), &before, &keys);
    assert_eq!(code, EXIT_VERIFIED, "the untouched export verifies: {out}");
    server.stop().await;

    // Whoever holds the file removes the triggers and the log's tail.
    let db = rusqlite::Connection::open(server.data_file(LEDGER_FILE)).unwrap();
    db.execute_batch("DROP TRIGGER entries_no_delete").unwrap();
    let deleted = db
        .execute("DELETE FROM entries WHERE sid = ?1 AND seq >= 2", [&sid])
        .unwrap();
    assert!(
        deleted >= 2,
        "the session had a tail to delete ({deleted} rows)"
    );
    drop(db);

    let restarted = server.restart_with(|_| {}).await;
    let (after, trailer) = export(&restarted, &sid).await;
    let heads = trailer["tree_heads"].as_array().expect("tree heads");
    assert!(heads.len() >= 2, "the stored heads are exported: {trailer}");
    let (code, out) = verify(dir.path(), &after, &keys);
    assert_eq!(code, EXIT_FAILED, "a truncated log must not verify: {out}");
    assert!(
        out.contains("✗ tree heads") && out.contains("the log was truncated"),
        "the failure says the log was truncated: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proof_downloads_reuse_the_head_until_the_log_grows() {
    let server = TestServer::start().await;
    let (sid, karim) = session_with_a_visit(&server).await;
    let ledger = server.app().ledger();
    let first = download_proof(&server, &sid, &karim).await;
    let stored = ledger.stats().heads;
    for _ in 0..5 {
        assert_eq!(download_proof(&server, &sid, &karim).await, first);
    }
    let (_, trailer) = export(&server, &sid).await;
    assert_eq!(
        ledger.stats().heads,
        stored,
        "five downloads and an export of an unchanged log store no head"
    );
    assert_eq!(
        trailer["tree_heads"].as_array().unwrap().len() as u64,
        stored
    );

    // One more entry: the next download is under a new head over it.
    let size = ledger.entries(&sid).await.unwrap().len() as u64;
    ledger
        .append(cadre_server::evidence::ledger::NewEvent {
            sid: sid.clone(),
            kind: cadre_protocol::evidence::kind::VISIBILITY,
            actor: karim.clone(),
            payload: serde_json::json!({"connection_id": "c_x", "visible": true}),
            client_ts: None,
        })
        .await
        .unwrap();
    let next = download_proof(&server, &sid, &karim).await;
    assert_ne!(next, first);
    assert_eq!(ledger.stats().heads, stored + 1);
    let (_, trailer) = export(&server, &sid).await;
    let heads = trailer["tree_heads"].as_array().unwrap();
    assert_eq!(heads.len() as u64, stored + 1);
    let last =
        cadre_protocol::evidence::unverified_payload(heads.last().unwrap().as_str().unwrap())
            .unwrap();
    let last: Value = serde_json::from_slice(&last).unwrap();
    assert_eq!(last["tree_size"], size + 1);
}
