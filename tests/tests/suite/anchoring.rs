//! RFC 3161 anchoring against a real TSA (`openssl ts -reply` behind a
//! loopback HTTP responder, with a CA made for the test): tree heads are
//! time-stamped when a session ends and after each period; the export
//! carries the tokens and `cadre verify --tsa-cert` checks them; a log
//! rewritten afterwards by someone holding the database and the key fails
//! by the anchor; a token from another TSA fails; a TSA that is down never
//! holds up appends, and anchoring resumes when it is back.

use cadre_protocol::Role;
use cadre_protocol::evidence::entry_hash;
use cadre_server::evidence::ledger::{AnchorRow, LEDGER_FILE};
use cadre_server::evidence::verify::{EXIT_FAILED, EXIT_VERIFIED};
use cadre_tests::tsa::TestTsa;
use cadre_tests::{TestServer, WAIT, verify_export};
use serde_json::{Value, json};
use std::time::Duration;

/// A server anchoring with `tsa` every `period` (retrying after `period`).
async fn anchored_server(tsa: &TestTsa, period: Duration) -> TestServer {
    let url = tsa.url();
    TestServer::start_with(move |c| {
        c.anchoring.tsa_url = Some(url);
        c.anchoring.period = period;
        c.anchoring.retry = period;
    })
    .await
}

/// Waits until `sid` has `count` anchors; returns them.
async fn wait_anchors(server: &TestServer, sid: &str, count: usize) -> Vec<AnchorRow> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let anchors = server.app().ledger().anchors(sid).await.unwrap();
        if anchors.len() >= count {
            return anchors;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sid} had {} anchors, not {count}, after {WAIT:?}",
            anchors.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A session where Karim joins and the facilitator ends it.
async fn ended_session(server: &TestServer) -> String {
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let claire = server.join(&session, "Claire").await;
    let _karim = server.join(&session, "Karim").await;
    claire
        .send_json(&json!({"type": "control", "action": "end", "reason": "fin de séance"}))
        .await;
    // The server's start (the session runs from its planned start), then
    // the end.
    let states = server.wait_ledger(&session.id, "session_state", 2).await;
    assert_eq!(states.last().unwrap()["payload"]["to"], "ended");
    session.id.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_is_anchored_and_its_export_verifies_against_the_tsa() {
    let tsa = TestTsa::start("cadre test").await;
    // A period far longer than the test: only the session's end anchors.
    let server = anchored_server(&tsa, Duration::from_secs(3600)).await;
    let sid = ended_session(&server).await;
    let anchors = wait_anchors(&server, &sid, 1).await;
    let log = server.app().ledger().entries(&sid).await.unwrap();
    assert!(anchors[0].tree_size >= 3 && anchors[0].tree_size <= log.len() as u64);

    let dir = tempfile::tempdir().unwrap();
    let keys = server.jwks_text().await;
    let text = server.ledger_export(&sid).await;
    let trailer: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(trailer["v"], 2, "{trailer}");
    assert_eq!(trailer["anchors"].as_array().unwrap().len(), anchors.len());

    let (code, out, err) = verify_export(dir.path(), &text, &keys, &[tsa.ca_cert()]);
    assert_eq!(code, EXIT_VERIFIED, "{out}{err}");
    assert!(out.contains("✓ anchor 1: the log's first"), "{out}");
    assert!(out.contains("which chains to the trusted"), "{out}");

    // Without the TSA's certificate the tokens are checked in themselves,
    // and the auditor is told who was not checked.
    let (code, out, err) = verify_export(dir.path(), &text, &keys, &[]);
    assert_eq!(code, EXIT_VERIFIED, "{out}{err}");
    assert!(out.contains("NOT checked against a trusted TSA"), "{out}");
    assert!(err.contains("NOT against a trusted TSA"), "{err}");

    // Another TSA's CA: the same tokens are not from a trusted TSA.
    let other = TestTsa::start("cadre other").await;
    let (code, out, _) = verify_export(dir.path(), &text, &keys, &[other.ca_cert()]);
    assert_eq!(code, EXIT_FAILED, "{out}");
    assert!(
        out.contains("✗ anchor 1") && out.contains("does not chain to a trusted TSA"),
        "{out}"
    );

    // A token that is not one says so.
    let mut bad: Value = trailer.clone();
    bad["anchors"][0]["token"] = json!("AAAA");
    let forged = text.replace(text.lines().last().unwrap(), &bad.to_string());
    let (code, out, _) = verify_export(dir.path(), &forged, &keys, &[tsa.ca_cert()]);
    assert_eq!(code, EXIT_FAILED, "{out}");
    assert!(out.contains("not a readable RFC 3161 time-stamp"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_rewritten_with_the_key_after_anchoring_fails_by_its_anchor() {
    let tsa = TestTsa::start("cadre test").await;
    let server = anchored_server(&tsa, Duration::from_secs(3600)).await;
    let sid = ended_session(&server).await;
    let anchored = wait_anchors(&server, &sid, 1).await[0].clone();
    let keys = server.jwks_text().await;
    server.stop().await;

    // Whoever holds the file and the key edits Karim's first connection,
    // recomputes its leaf hash and drops every head signed before: the
    // restarted server then signs heads over the rewritten log itself.
    let db = rusqlite::Connection::open(server.data_file(LEDGER_FILE)).unwrap();
    db.execute_batch("DROP TRIGGER entries_no_update; DROP TRIGGER tree_heads_no_delete")
        .unwrap();
    let (seq, text): (i64, String) = db
        .query_row(
            "SELECT seq, text FROM entries WHERE sid = ?1 AND kind = 'connection_opened' \
             ORDER BY seq LIMIT 1",
            [&sid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!((seq as u64) < anchored.tree_size);
    let edited = text.replace("127.0.0.1", "192.0.2.7");
    assert_ne!(edited, text, "the entry names the connection's address");
    db.execute(
        "UPDATE entries SET text = ?1, leaf_hash = ?2 WHERE sid = ?3 AND seq = ?4",
        rusqlite::params![edited, &entry_hash(&edited)[..], sid, seq],
    )
    .unwrap();
    db.execute("DELETE FROM tree_heads WHERE sid = ?1", [&sid])
        .unwrap();
    drop(db);

    let restarted = server.restart_with(|_| {}).await;
    let text = restarted.ledger_export(&sid).await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = verify_export(dir.path(), &text, &keys, &[tsa.ca_cert()]);
    assert_eq!(code, EXIT_FAILED, "{out}");
    // The heads, re-signed over the rewritten log, verify; the anchor does not.
    assert!(out.contains("✓ tree heads"), "{out}");
    let at = cadre_protocol::attendance::local_time(anchored.gen_time, "UTC");
    assert!(
        out.contains(&format!(
            "no longer hash to the root anchored at {at}: the log was rewritten after it was anchored"
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tsa_down_holds_up_nothing_and_anchoring_resumes_when_it_is_back() {
    let tsa = TestTsa::start("cadre test").await;
    tsa.set_down(true);
    let server = anchored_server(&tsa, Duration::from_millis(200)).await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let _claire = server.join(&session, "Claire").await;
    let _karim = server.join(&session, "Karim").await;
    // Appends are acknowledged while every anchoring attempt fails.
    server
        .wait_ledger(&session.id, "connection_opened", 2)
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while tsa.requests() < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "anchoring was not retried: {} requests",
            tsa.requests()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(tsa.granted(), 0);
    let ledger = server.app().ledger();
    assert!(ledger.anchors(&session.id).await.unwrap().is_empty());

    tsa.set_down(false);
    let anchors = wait_anchors(&server, &session.id, 1).await;
    assert!(anchors[0].tree_size >= 2);
    // The period anchors only a log that grew: while no entry is added,
    // passes come and go without a new anchor.
    let size = ledger.entries(&session.id).await.unwrap().len() as u64;
    let settled = wait_for_size(&server, &session.id, size).await;
    let entries = ledger.entries(&session.id).await.unwrap().len();
    tokio::time::sleep(Duration::from_millis(700)).await;
    if ledger.entries(&session.id).await.unwrap().len() == entries {
        let later = ledger.anchors(&session.id).await.unwrap();
        assert_eq!(later.len(), settled, "no anchor without new entries");
    }
}

/// Waits until the latest anchor of `sid` covers `size` entries (the
/// session's quiet log); returns how many anchors there are then.
async fn wait_for_size(server: &TestServer, sid: &str, size: u64) -> usize {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let anchors = server.app().ledger().anchors(sid).await.unwrap();
        let entries = server.app().ledger().entries(sid).await.unwrap().len() as u64;
        if anchors
            .last()
            .is_some_and(|a| a.tree_size == entries.max(size))
        {
            return anchors.len();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the log of {entries} entries was not anchored in full: {:?}",
            anchors.iter().map(|a| a.tree_size).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
