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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_through_another_node_reaches_the_live_room_at_once() {
    let pg = TestPostgres::start();
    let url = database(&pg);
    let a = node(&url, "node-a", None).await;
    let b = node(&url, "node-b", Some(&a)).await;
    let session = a
        .create_session(&[
            ("Claire", Role::Facilitator),
            ("Karim", Role::Participant),
            ("Léa", Role::Participant),
        ])
        .await;
    let mut claire = a.join(&session, "Claire").await;
    let mut karim = a.join(&session, "Karim").await;
    claire.skip_until_type("peer_joined").await;

    // Revoked through node B, which does not run the session: node A lets
    // Karim go at once, as if it had been asked itself.
    let karim_id = person(&session, "Karim").id.clone();
    let (status, body) = b.revoke(&session.id, &karim_id).await;
    assert!(status.is_success(), "{body}");
    assert_eq!(body["disconnected"], false, "not connected to node B");
    let drained = karim.drain_until_closed(Duration::from_secs(10)).await;
    assert_eq!(
        drained.close.map(|c| c.0),
        Some(cadre_protocol::close_code::REVOKED)
    );
    assert_eq!(claire.peer_left_reason(&karim_id).await, "revoked");

    // Retitled through node B: whoever joins node A's room from now on
    // reads the new title.
    let (status, body) = b
        .patch(
            &format!("/api/sessions/{}", session.id),
            &serde_json::json!({"title": "Atelier renommé"}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let lea = a.join(&session, "Léa").await;
        if lea.welcome["session"]["title"] == "Atelier renommé" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{}", lea.welcome);
        drop(lea);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_refuses_joins_clearly_meanwhile_and_loses_nothing_acknowledged() {
    let mut pg = TestPostgres::start();
    let url = database(&pg);
    let a = node(&url, "node-a", None).await;
    let session = a
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let token = |name: &str| person(&session, name).link.token.clone();
    let addr = a.addr().to_string();
    let (mut claire, _) = join_retrying(&addr, &session.id, &token("Claire")).await;
    let mut acknowledged = Vec::new();
    for i in 0..4 {
        acknowledged.push(presence(&mut claire, i % 2 == 0).await.expect("recorded"));
    }

    // PostgreSQL crashes: a join meanwhile is refused with a sentence that
    // says so (503, to try again), and Claire's presence is not
    // acknowledged (nothing is acknowledged that is not durable).
    pg.crash();
    let (status, error) = a.refusal(&session.id, &token("Karim")).await;
    assert_eq!(
        status,
        reqwest::StatusCode::SERVICE_UNAVAILABLE,
        "{error:?}"
    );
    assert!(
        error.message.contains("database cannot be reached"),
        "{error:?}"
    );
    let during = presence(&mut claire, true).await;
    assert_eq!(during, None, "acknowledged while the database was down");

    // Back: the node recovers by itself, joins and evidence go on.
    pg.restart();
    let (mut karim, waited) = join_retrying(&addr, &session.id, &token("Karim")).await;
    assert!(waited < Duration::from_secs(30));
    acknowledged.push(presence(&mut karim, false).await.expect("recorded again"));
    let export = a.ledger_export(&session.id).await;
    for entry in &acknowledged {
        assert!(export.contains(entry.as_str()), "lost: {entry}");
    }
    let seqs = export_seqs(&export);
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = verify_export(dir.path(), &export, &a.jwks_text().await, &[]);
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
    assert!(
        error.to_string().contains("held by another server"),
        "{error}"
    );
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

// ---------------------------------------------------------------------------
// Nodes as processes: killed, frozen, resumed.
// ---------------------------------------------------------------------------

/// A `cadre serve` process on the shared database, stopped by SIGKILL on
/// drop.
struct Process {
    child: std::process::Child,
    addr: String,
    token: String,
    dir: tempfile::TempDir,
}

impl Process {
    /// Starts node `name`; with `like`, sharing its key and organiser token.
    fn start(url: &str, name: &str, like: Option<&Process>) -> Process {
        Self::start_with(url, name, like, &[])
    }

    /// [`Process::start`] with more flags.
    fn start_with(url: &str, name: &str, like: Option<&Process>, more: &[&str]) -> Process {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = [
            "--data-dir",
            &dir.path().display().to_string(),
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--no-turn",
            "--json-ready",
            "--database",
            url,
            "--node",
            name,
            "--lease-seconds",
            "3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(other) = like {
            std::fs::copy(
                other.dir.path().join("signing-key.pk8"),
                dir.path().join("signing-key.pk8"),
            )
            .unwrap();
            // One argument: a token may begin with a dash.
            args.push(format!("--organiser-token={}", other.token));
        }
        args.extend(more.iter().map(|s| s.to_string()));
        let log = std::fs::File::create(dir.path().join("node.log")).unwrap();
        let mut child = std::process::Command::new(crate::reports::cadre_binary())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            let log = std::fs::read_to_string(dir.path().join("node.log")).unwrap_or_default();
            panic!("{name} did not start ({e}): {line:?}\n{log}")
        });
        Process {
            child,
            addr: ready["url"]
                .as_str()
                .unwrap()
                .trim_start_matches("http://")
                .to_owned(),
            token: ready["organiser_token"].as_str().unwrap().to_owned(),
            dir,
        }
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }

    async fn create_session(&self) -> cadre_protocol::api::SessionView {
        let body = cadre_tests::session_body(&[
            ("Claire", Role::Facilitator),
            ("Karim", Role::Participant),
        ]);
        let response = reqwest::Client::new()
            .post(format!("http://{}/api/sessions", self.addr))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.unwrap()
    }

    async fn export(&self, sid: &str) -> String {
        let response = reqwest::Client::new()
            .get(format!("http://{}/api/sessions/{sid}/ledger", self.addr))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.text().await.unwrap()
    }

    async fn jwks(&self) -> String {
        reqwest::get(format!("http://{}/.well-known/jwks.json", self.addr))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects to `addr` as the link `token`, and reads up to the welcome;
/// `None` when the node turned the join back (or is gone).
async fn welcome(addr: &str, sid: &str, token: &str) -> Option<Socket> {
    let url = format!("ws://{addr}/ws/{sid}?token={token}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.ok()?;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .ok()??;
        if let Ok(Message::Text(text)) = frame {
            let message: Value = serde_json::from_str(&text).unwrap();
            match message["type"].as_str() {
                Some("welcome") => return Some(ws),
                Some("error") => return None,
                _ => {}
            }
        }
    }
}

/// Joins through `addr`, retrying as a client does until the node has the
/// session; how long that took.
async fn join_retrying(addr: &str, sid: &str, token: &str) -> (Socket, Duration) {
    let started = std::time::Instant::now();
    loop {
        if let Some(ws) = welcome(addr, sid, token).await {
            return (ws, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the session never came to {addr}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends a presence change and waits for its entry to be acknowledged
/// durable (`evidence_recorded`); `None` when the node does not answer.
async fn presence(ws: &mut Socket, visible: bool) -> Option<String> {
    use futures_util::SinkExt;
    let message = serde_json::json!({"type": "presence", "visible": visible, "focused": true});
    ws.send(Message::Text(message.to_string().into()))
        .await
        .ok()?;
    // Pings and other messages keep coming: the wait is bounded as a whole.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(&text).unwrap();
            let entry = message["entry"].as_str().unwrap_or_default();
            if message["type"] == "evidence_recorded" && entry.contains(r#""kind":"visibility""#) {
                return Some(entry.to_owned());
            }
        }
    }
}

/// The last tree head of an export: a receipt as a client keeps it.
fn last_head(export: &str) -> String {
    let heads: Value = serde_json::from_str(export.lines().last().unwrap()).unwrap();
    heads["tree_heads"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// `cadre verify` of `export` with the node's keys and `receipts`: the
/// exit code and what it printed.
fn verify_with_receipts(export: &str, jwks: &str, receipts: &[String]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ledger.jsonl");
    std::fs::write(&file, export).unwrap();
    std::fs::write(dir.path().join("jwks.json"), jwks).unwrap();
    let receipts = receipts
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let path = dir.path().join(format!("receipt-{i}.jws"));
            std::fs::write(&path, r).unwrap();
            path
        })
        .collect();
    let args = cadre_server::evidence::verify::VerifyArgs {
        file,
        jwks: Some(dir.path().join("jwks.json").display().to_string()),
        receipts,
        consistency: Vec::new(),
        tsa_certs: Vec::new(),
        json: false,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cadre_server::evidence::verify::run_with(&args, &mut out, &mut err);
    (
        code,
        format!(
            "{}{}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        ),
    )
}

/// Seqs of an export's entries, in order.
fn export_seqs(export: &str) -> Vec<u64> {
    export
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["seq"].as_u64())
        .collect()
}

/// Two node processes on a fresh database, and a session created through
/// the first.
struct Cluster {
    _heavy: tokio::sync::MutexGuard<'static, ()>,
    pg: TestPostgres,
    a: Process,
    b: Process,
    session: cadre_protocol::api::SessionView,
}

impl Cluster {
    async fn start() -> Cluster {
        let _heavy = cadre_tests::heavy().await;
        let pg = TestPostgres::start();
        let url = database(&pg);
        let a = Process::start(&url, "node-a", None);
        let b = Process::start(&url, "node-b", Some(&a));
        let session = a.create_session().await;
        Cluster {
            _heavy,
            pg,
            a,
            b,
            session,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_while_writing_loses_nothing_it_acknowledged() {
    let Cluster {
        _heavy,
        // Kept until the end: dropping it stops the database.
        pg: _pg,
        a,
        b,
        session,
    } = Cluster::start().await;
    let token = |name: &str| person(&session, name).link.token.clone();

    let (mut claire, _) = join_retrying(&a.addr, &session.id, &token("Claire")).await;
    let mut acknowledged = Vec::new();
    for i in 0..6 {
        acknowledged.push(
            presence(&mut claire, i % 2 == 0)
                .await
                .expect("node A answers"),
        );
    }
    let before = last_head(&a.export(&session.id).await);

    // Killed in the middle of writing: presence changes keep coming, and
    // whatever node A acknowledged before it died must be in the log.
    let writer = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        for i in 0..400 {
            // Alternating from where the loop above left it (false): a
            // presence is recorded only when it changes.
            match presence(&mut claire, i % 2 == 0).await {
                Some(entry) => acknowledged.push(entry),
                None => break,
            }
        }
        acknowledged
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.signal("KILL");
    let killed = std::time::Instant::now();
    acknowledged.extend(writer.await.unwrap());
    assert!(acknowledged.len() > 6, "node A was writing when it died");

    // The session continues on node B once node A's lease lapses (its
    // client reconnects by itself; here, a retrying join).
    let (mut claire, waited) = join_retrying(&b.addr, &session.id, &token("Claire")).await;
    let failover = killed.elapsed();
    assert!(waited < Duration::from_secs(30));
    presence(&mut claire, true).await.expect("node B records");
    let export = b.export(&session.id).await;
    for entry in &acknowledged {
        assert!(
            export.contains(entry.as_str()),
            "an acknowledged entry is missing: {entry}"
        );
    }
    let seqs = export_seqs(&export);
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    let after = last_head(&export);
    let (code, out) = verify_with_receipts(&export, &b.jwks().await, &[before, after]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("receipt 1"), "{out}");
    eprintln!(
        "failover: {} entries acknowledged by node A, kill → first welcome on node B {:?}",
        acknowledged.len(),
        failover
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_frozen_past_its_lease_is_fenced_off_when_it_resumes() {
    let Cluster {
        _heavy,
        pg,
        a,
        b,
        session,
    } = Cluster::start().await;
    let token = |name: &str| person(&session, name).link.token.clone();
    let (mut claire, _) = join_retrying(&a.addr, &session.id, &token("Claire")).await;
    presence(&mut claire, false).await.expect("node A records");

    // Node A freezes (a long GC pause, a VM stalled, a partition) while it
    // writes, most likely in the middle of a commit, the lease row locked:
    // its lease lapses, the database ends its stalled transaction, and
    // node B takes the session with the next token.
    let writer = tokio::spawn(async move {
        let mut i = 0;
        while presence(&mut claire, i % 2 == 0).await.is_some() {
            i += 1;
        }
        claire
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.signal("STOP");
    let mut claire = writer.await.unwrap();
    let (mut karim, _) = join_retrying(&b.addr, &session.id, &token("Karim")).await;
    presence(&mut karim, false).await.expect("node B records");
    let lease_now = lease(&pg, &session.id);
    assert_eq!(lease_now, "node-b 2");

    // Node A resumes and tries to write for Claire with its old token:
    // refused, and it lets her go (her client reconnects, to node B).
    a.signal("CONT");
    for visible in [true, false] {
        assert_eq!(
            presence(&mut claire, visible).await,
            None,
            "node A must not acknowledge"
        );
    }
    let export = b.export(&session.id).await;
    let seqs = export_seqs(&export);
    assert_eq!(
        seqs,
        (0..seqs.len() as u64).collect::<Vec<_>>(),
        "one log, no fork"
    );
    // Nothing of Claire's (node A's writing) after node B's first entry.
    let entries: Vec<Value> = export
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["seq"].is_u64())
        .collect();
    let of = |name: &str| person(&session, name).id.clone();
    let takeover = entries
        .iter()
        .find(|e| e["actor"] == of("Karim").as_str())
        .map(|e| e["seq"].as_u64().unwrap())
        .expect("node B's entry for Karim");
    let after: Vec<&Value> = entries
        .iter()
        .filter(|e| e["actor"] == of("Claire").as_str() && e["seq"].as_u64().unwrap() > takeover)
        .collect();
    assert!(
        after.is_empty(),
        "node A wrote after losing its lease: {after:?}"
    );
    let (code, out) = verify_with_receipts(&export, &b.jwks().await, &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(lease(&pg, &session.id), "node-b 2");
    // Node A saw it: its write refused by the fence, or the lease found
    // lost before it tried.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !(a.log().contains("lease lost") || a.log().contains("fencing token")) {
        assert!(std::time::Instant::now() < deadline, "{}", a.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_works_on_the_database_the_nodes_share() {
    let _heavy = cadre_tests::heavy().await;
    let pg = TestPostgres::start();
    let url = database(&pg);
    let a = Process::start(&url, "node-a", None);
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(crate::reports::cadre_binary())
            .arg("--data-dir")
            .arg(a.dir.path())
            .args(args)
            .env("CADRE_DATABASE", &url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // Created from the command line: the running node knows it at once.
    let created: Value = serde_json::from_str(&cli(&[
        "session",
        "create",
        "--title",
        "Atelier partagé",
        "--kind",
        "formation",
        "--organisation",
        "Organisme",
        "--start",
        "2030-03-04T09:00",
        "--end",
        "2030-03-04T12:00",
        "--facilitator",
        "Claire",
        "--participant",
        "Karim",
        "--json",
    ]))
    .unwrap();
    let sid = created["id"].as_str().unwrap();
    let listed: Value = reqwest::Client::new()
        .get(format!("http://{}/api/sessions", a.addr))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed.to_string().contains(sid), "{listed}");
    // And one created through the node is listed by the command line.
    let through_node = a.create_session().await;
    let list = cli(&["session", "list", "--json"]);
    assert!(
        list.contains(sid) && list.contains(&through_node.id),
        "{list}"
    );
    // A staff account added from the command line logs in on the node.
    let mut add = std::process::Command::new(crate::reports::cadre_binary())
        .arg("--data-dir")
        .arg(a.dir.path())
        .args([
            "staff",
            "add",
            "--email",
            "anne@example.org",
            "--name",
            "Anne",
            "--role",
            "administrator",
            "--password-stdin",
        ])
        .env("CADRE_DATABASE", &url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = add.stdin.take().unwrap();
        writeln!(stdin, "{}", cadre_tests::staff::PASSWORD).unwrap();
    }
    assert!(add.wait().unwrap().success());
    anne_logs_in(&format!("http://{}", a.addr)).await;
    // Nothing went to a SQLite file in the data directory.
    assert!(!a.dir.path().join("cadre.sqlite3").exists());
}

/// Joins through the proxy at `proxy` over TLS; `None` when the node it
/// reached turned the join back.
async fn wss_welcome(
    proxy: std::net::SocketAddr,
    ca: &cadre_tests::tls::TestCa,
    sid: &str,
    token: &str,
) -> Option<cadre_tests::tls::WssClient> {
    let tls = cadre_tests::tls::connect(proxy, ca.client_config(), None)
        .await
        .ok()?;
    let certificate = cadre_tests::tls::presented(&tls);
    let url = format!("wss://localhost:{}/ws/{sid}?token={token}", proxy.port());
    let (mut ws, _) = tokio_tungstenite::client_async(url, tls).await.ok()?;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(&text).unwrap();
            match message["type"].as_str() {
                Some("welcome") => {
                    return Some(cadre_tests::tls::WssClient {
                        ws,
                        welcome: message,
                        certificate,
                    });
                }
                Some("error") => return None,
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_shipped_proxy_a_session_stays_on_one_node_and_moves_when_it_dies() {
    let _heavy = cadre_tests::heavy().await;
    use cadre_tests::nginx::TestNginx;
    use cadre_tests::tls::{TestCa, Validity};
    let pg = TestPostgres::start();
    let url = database(&pg);
    let proxied = ["--trusted-proxy", "127.0.0.1"];
    let a = Process::start_with(&url, "node-a", None, &proxied);
    let b = Process::start_with(&url, "node-b", Some(&a), &proxied);
    let ca = TestCa::new("Organisme");
    let issued = ca.issue(1, Validity::Current);
    let addr = |p: &Process| p.addr.parse().unwrap();
    let nginx = TestNginx::start_nodes([addr(&a), addr(&b)], &issued.cert_pem, &issued.key_pem);

    // Sessions spread over both nodes by their id; a session's every join
    // reaches the node that runs it.
    let mut sessions = Vec::new();
    for _ in 0..16 {
        sessions.push(a.create_session().await);
    }
    let mut people = Vec::new();
    let mut owners = std::collections::BTreeMap::new();
    for session in &sessions {
        let token = |name: &str| person(session, name).link.token.clone();
        let claire = wss_welcome(nginx.https, &ca, &session.id, &token("Claire"))
            .await
            .expect("the first join through the proxy is welcome");
        let owner = lease(&pg, &session.id);
        let karim = wss_welcome(nginx.https, &ca, &session.id, &token("Karim"))
            .await
            .unwrap_or_else(|| panic!("Karim reaches the node of {}", session.id));
        assert_eq!(lease(&pg, &session.id), owner, "one node runs the session");
        *owners.entry(owner.clone()).or_insert(0) += 1;
        people.push((session, owner, claire, karim));
    }
    assert_eq!(
        owners.len(),
        2,
        "the sessions spread over both nodes: {owners:?}"
    );

    // Node A dies. Its sessions' people reconnect through the proxy, which
    // finds node A refusing and tries node B; node B takes each session once
    // node A's lease lapsed. Node B's sessions are not disturbed.
    a.signal("KILL");
    let killed = std::time::Instant::now();
    let mut moved = Vec::new();
    for (session, owner, _claire, _karim) in &people {
        if owner != "node-a 1" {
            continue;
        }
        let token = person(session, "Claire").link.token.clone();
        let started = std::time::Instant::now();
        loop {
            if wss_welcome(nginx.https, &ca, &session.id, &token)
                .await
                .is_some()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} never came back: {}",
                session.id,
                nginx.error_log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(lease(&pg, &session.id), "node-b 2");
        moved.push((session.id.clone(), killed.elapsed()));
    }
    for (session, owner, _, _) in &people {
        if owner == "node-b 1" {
            assert_eq!(lease(&pg, &session.id), "node-b 1", "untouched");
        }
    }
    let (sid, _) = &moved[0];
    let export = b.export(sid).await;
    let (code, out) = verify_with_receipts(&export, &b.jwks().await, &[]);
    assert_eq!(code, 0, "{out}");
    eprintln!(
        "behind the proxy: {} sessions on node A moved; kill → welcome on node B: {:?}",
        moved.len(),
        moved.iter().map(|(_, t)| *t).collect::<Vec<_>>()
    );
}

/// The staff account anne@example.org logs in at the node at `base`.
async fn anne_logs_in(base: &str) {
    let login = reqwest::Client::new()
        .post(format!("{base}/api/staff/login"))
        .json(&serde_json::json!({
            "email": "anne@example.org",
            "password": cadre_tests::staff::PASSWORD,
        }))
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success(), "{}", login.status());
}

/// `cadre import` run from the command line on `dir`, into `url`: exit
/// code and what it said.
fn cadre_import(dir: &std::path::Path, url: &str) -> (bool, String) {
    let out = std::process::Command::new(crate::reports::cadre_binary())
        .arg("--data-dir")
        .arg(dir)
        .arg("import")
        .env("CADRE_DATABASE", url)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_on_sqlite_moves_to_postgresql_with_its_evidence_intact() {
    // A server on its SQLite files, with a session that ran, a staff
    // account and its audit log.
    let single = TestServer::start().await;
    let session = single
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let mut claire = single.join(&session, "Claire").await;
    let karim = single.join(&session, "Karim").await;
    claire.skip_until_type("peer_joined").await;
    drop(karim);
    claire.leave().await;
    cadre_tests::staff::StaffLogin::new(
        &single,
        "anne@example.org",
        "Anne",
        cadre_protocol::staff::StaffRole::Administrator,
    )
    .await;
    let before = single.ledger_export(&session.id).await;
    single.stop().await;

    let pg = TestPostgres::start();
    let url = database(&pg);
    // As the tables' owner, as cadre migrate runs.
    let owner = pg.url(SUPERUSER, "cadre");
    let dir = single.data_file("");
    let (ok, said) = cadre_import(&dir, &owner);
    assert!(ok, "{said}");
    assert!(said.contains("each session read back identical"), "{said}");
    assert!(said.contains("staff_audit: "), "{said}");

    // A node on the database, with the same keys: the same log (entry for
    // entry, and the server's stop recorded after that download), which
    // verifies against the head handed out before the move; links minted
    // before admit; the staff account logs in.
    let node = single
        .restart_with(|c| {
            c.database = Some(SharedDatabase {
                url: url.clone(),
                node: "node-a".into(),
                lease_ttl: Duration::from_secs(3),
            })
        })
        .await;
    let after = node.ledger_export(&session.id).await;
    let entries_of = |export: &str| -> Vec<String> {
        export
            .lines()
            .filter(|l| !l.contains("tree_heads"))
            .map(str::to_owned)
            .collect()
    };
    let (was, is) = (entries_of(&before), entries_of(&after));
    assert_eq!(is[..was.len()], was[..], "the same entries, to the byte");
    assert!(
        is[was.len()].contains("server_stopping"),
        "{}",
        is[was.len()]
    );
    let receipt = last_head(&before);
    assert!(after.contains(&receipt));
    let (code, out) = verify_with_receipts(&after, &node.jwks_text().await, &[receipt]);
    assert_eq!(code, 0, "{out}");
    let scratch = tempfile::tempdir().unwrap();
    let _claire = node.join(&session, "Claire").await;
    anne_logs_in(&node.url("")).await;

    // Bad input changes nothing: into a database that holds data already,
    // or one cadre migrate did not prepare.
    let count = || pg.psql("cadre", "SELECT COUNT(*) FROM ledger_entries");
    let entries = count();
    let (ok, said) = cadre_import(&dir, &owner);
    assert!(!ok);
    assert!(said.contains("empty database only"), "{said}");
    assert_eq!(count(), entries);
    pg.create_database("bare");
    let (ok, said) = cadre_import(&dir, &pg.url(SUPERUSER, "bare"));
    assert!(!ok);
    assert!(said.contains("cadre migrate"), "{said}");
    let (ok, said) = cadre_import(scratch.path(), &owner);
    assert!(!ok);
    assert!(said.contains("does not exist"), "{said}");
}
