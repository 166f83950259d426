//! Several `cadre serve` nodes on one PostgreSQL (issue 17): they share the
//! catalogue, the ledger and the signing key; a session lives on the one
//! node holding its lease, a join reaching another node is turned back (its
//! client retries), and a session moves to another node once its node lets
//! it go, with one log an auditor verifies across both.

use cadre_protocol::Role;
use cadre_server::config::SharedDatabase;
use cadre_tests::postgres::{SUPERUSER, TestPostgres};
use cadre_tests::{TestServer, person, verify_export};
use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The role nodes connect as.
const APP: &str = "cadre_app";

/// A database migrated by its owner; the URL nodes use.
fn database(pg: &TestPostgres) -> String {
    pg.create_role(APP);
    pg.create_database("cadre");
    let owner = pg.url(SUPERUSER, "cadre");
    // Off the test's runtime: the migration's client blocks.
    std::thread::spawn(move || cadre_server::migrate_postgres(&owner, Some(APP)))
        .join()
        .unwrap()
        .unwrap();
    pg.url(APP, "cadre")
}

/// A node on the database at `url`, named `name`; with `like`, it shares
/// that node's signing key and organiser token, as nodes of one deployment
/// do.
async fn node(url: &str, name: &str, like: Option<&TestServer>) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let token = like.map(|other| {
        std::fs::copy(
            other.data_file("signing-key.pk8"),
            dir.path().join("signing-key.pk8"),
        )
        .unwrap();
        other.organiser_token().to_owned()
    });
    let (url, name) = (url.to_owned(), name.to_owned());
    TestServer::start_on(dir, move |c| {
        c.database = Some(SharedDatabase {
            url,
            node: name,
            lease_ttl: Duration::from_secs(3),
        });
        c.organiser_token = token;
    })
    .await
}

/// A join the node turns back: the error it says, and the close code.
async fn turned_back(node: &TestServer, sid: &str, token: &str) -> (Value, u16) {
    let url = format!("ws://{}/ws/{sid}?token={token}", node.addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut error = Value::Null;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("the node answers and closes");
        match frame {
            Some(Ok(Message::Text(text))) => error = serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Close(Some(close)))) => return (error, close.code.into()),
            Some(Ok(_)) => {}
            other => panic!("the node ended the connection without a close: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_catalogue_and_a_session_moves_with_one_verifiable_log() {
    let pg = TestPostgres::start();
    let url = database(&pg);
    let a = node(&url, "node-a", None).await;
    let b = node(&url, "node-b", Some(&a)).await;

    // Created through one node, known to both.
    let session = a
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    assert_eq!(b.session_count().await, 1);
    let token = |name: &str| person(&session, name).link.token.clone();

    // Node A has the session once Claire is in it; node B turns Karim back
    // (his client retries after a close 4006), recording nothing.
    let mut claire = a.join(&session, "Claire").await;
    let (error, code) = turned_back(&b, &session.id, &token("Karim")).await;
    assert_eq!(code, cadre_protocol::close_code::SHUTDOWN);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("held by another server"),
        "{error}"
    );
    let karim = a.join(&session, "Karim").await;
    claire.skip_until_type("peer_joined").await;
    let before = a.ledger_all(&session.id).await;
    let opened = |log: &[Value]| {
        log.iter()
            .filter(|e| e["kind"] == "connection_opened")
            .count()
    };
    assert_eq!(opened(&before), 2, "only node A's two joins are recorded");
    let receipt = a.app().ledger().tree_head(&session.id).await.unwrap().jws;

    // Node A stops: its people are let go, its lease given up at once, and
    // they are back in the session through node B.
    drop(karim);
    a.stop().await;
    let drained = claire.drain_until_closed(Duration::from_secs(10)).await;
    assert_eq!(
        drained.close.map(|c| c.0),
        Some(cadre_protocol::close_code::SHUTDOWN)
    );
    let mut claire = b.join(&session, "Claire").await;
    let _karim = b.join(&session, "Karim").await;
    claire.skip_until_type("peer_joined").await;

    // One log, numbered on by node B: an auditor verifies it whole, and it
    // still holds the head node A handed out.
    let log = b.ledger_all(&session.id).await;
    let seqs: Vec<u64> = log.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..log.len() as u64).collect::<Vec<_>>());
    assert_eq!(opened(&log), 4);
    assert!(log.len() > before.len());
    let export = b.ledger_export(&session.id).await;
    assert!(export.contains(&receipt), "node A's head is in the export");
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = verify_export(dir.path(), &export, &b.jwks_text().await, &[]);
    assert_eq!(code, 0, "{out}{err}");
}

/// The lease of `sid` as the database has it: holder and fencing token.
fn lease(pg: &TestPostgres, sid: &str) -> String {
    pg.psql(
        "cadre",
        &format!("SELECT node || ' ' || token FROM session_leases WHERE sid = '{sid}'"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_a_session_lets_its_people_go_and_writes_nothing_more() {
    let pg = TestPostgres::start();
    let url = database(&pg);
    let a = node(&url, "node-a", None).await;
    let session = a
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let mut claire = a.join(&session, "Claire").await;
    assert_eq!(lease(&pg, &session.id), "node-a 1");
    let before = a.ledger_all(&session.id).await.len();

    // The lease goes to another node (as when this one was cut off past its
    // lease and another took the session): within a renewal period node A
    // lets Claire go, so that her client reconnects to the holder.
    pg.psql(
        "cadre",
        &format!(
            "UPDATE session_leases SET node = 'node-b', token = token + 1, \
             expires_at = clock_timestamp() + interval '60 seconds' WHERE sid = '{}'",
            session.id
        ),
    );
    let drained = claire.drain_until_closed(Duration::from_secs(15)).await;
    assert_eq!(
        drained.close.map(|c| c.0),
        Some(cadre_protocol::close_code::SHUTDOWN)
    );
    // Nothing more from node A in that log: not her departure, not a new
    // join (turned back while node B holds it).
    let (error, _) = turned_back(&a, &session.id, &person(&session, "Karim").link.token).await;
    assert!(error.to_string().contains("held by another server"), "{error}");
    assert_eq!(a.ledger_all(&session.id).await.len(), before);
    assert_eq!(lease(&pg, &session.id), "node-b 2");

    // Once node B's lease lapses, node A takes the session again, under a
    // new token, and numbers on.
    pg.psql(
        "cadre",
        &format!(
            "UPDATE session_leases SET expires_at = clock_timestamp() WHERE sid = '{}'",
            session.id
        ),
    );
    let _karim = a.join(&session, "Karim").await;
    assert_eq!(lease(&pg, &session.id), "node-a 3");
    let log = a.ledger_all(&session.id).await;
    let seqs: Vec<u64> = log.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..log.len() as u64).collect::<Vec<_>>());
    assert!(log.len() > before);
}
