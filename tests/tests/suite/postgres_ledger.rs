//! The ledger on PostgreSQL (docs/evidence.md, "PostgreSQL"), against a real
//! server started for each test: the same evidence as the SQLite file
//! (group commit, gap-free numbering, signed heads, an export an auditor
//! verifies), tables that refuse rewrites, leases whose fencing token stops
//! a node that lost its session, and nothing acknowledged lost when the
//! database crashes under load.

use cadre_protocol::evidence::{Jwks, kind};
use cadre_protocol::proof;
use cadre_server::directory::keys::{self, SigningKey};
use cadre_server::evidence::jws::JwsSigner;
use cadre_server::evidence::ledger::postgres::{self as pg, PgStore};
use cadre_server::evidence::ledger::{
    AnchorRow, Ledger, LedgerError, LedgerOptions, NewEvent, StoreError,
};
use cadre_tests::postgres::{SUPERUSER, TestPostgres};
use serde_json::json;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// The role nodes connect as: SELECT and INSERT on the evidence, no more.
const APP: &str = "cadre_app";
const SID: &str = "s_pg";
const TTL: Duration = Duration::from_secs(60);

struct Keys {
    _dir: tempfile::TempDir,
    signer: JwsSigner,
    jwks: Jwks,
}

fn keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::load_or_create(dir.path()).unwrap().value;
    let published = serde_json::to_string(&keys::Jwks {
        keys: vec![key.jwk()],
    })
    .unwrap();
    Keys {
        signer: JwsSigner::new(&key),
        jwks: serde_json::from_str(&published).unwrap(),
        _dir: dir,
    }
}

/// A database `name` migrated by its owner, and the URL a node uses (the
/// application role, created on first use in the cluster).
fn database(pg: &TestPostgres, name: &str) -> String {
    if pg.psql(
        "postgres",
        &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{APP}'"),
    ) == "0"
    {
        pg.create_role(APP);
    }
    pg.create_database(name);
    // Off the test's runtime: the blocking client starts its own.
    let owner = pg.url(SUPERUSER, name);
    let done = std::thread::spawn(move || cadre_server::migrate_postgres(&owner, Some(APP)))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(done, vec![("catalogue", 1), ("ledger", pg::SCHEMA_VERSION)]);
    pg.url(APP, name)
}

/// The blocking client runs its own runtime: its calls go to the blocking
/// pool, as the ledger's reads do.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.unwrap()
}

async fn open(url: &str, node: &str) -> Arc<PgStore> {
    let (url, node) = (url.to_owned(), node.to_owned());
    Arc::new(blocking(move || PgStore::open(&url, &node)).await.unwrap())
}

async fn acquire(store: &Arc<PgStore>, sid: &str, ttl: Duration) -> Option<pg::Lease> {
    let (store, sid) = (store.clone(), sid.to_owned());
    blocking(move || store.acquire(&sid, ttl)).await.unwrap()
}

fn ledger_over(store: &Arc<PgStore>, keys: &Keys) -> Ledger {
    Ledger::with_store(store.clone(), keys.signer.clone(), LedgerOptions::default()).unwrap()
}

fn event(sid: &str, actor: &str, i: u64) -> NewEvent {
    NewEvent {
        sid: sid.into(),
        kind: kind::VISIBILITY,
        actor: actor.into(),
        payload: json!({"connection_id": format!("c_{actor}"), "visible": i.is_multiple_of(2)}),
        client_ts: None,
    }
}

fn seqs(entries: &[cadre_server::evidence::ledger::StoredEntry]) -> Vec<u64> {
    entries.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn evidence_on_postgres_verifies_and_a_restarted_node_numbers_on() {
    let pg = TestPostgres::start();
    let url = database(&pg, "ledger");
    let keys = keys();

    let store = open(&url, "node-a").await;
    let lease = acquire(&store, SID, TTL).await.expect("a free session");
    assert_eq!(lease.token, 1);
    let ledger = ledger_over(&store, &keys);
    // Appends that arrive together share commits, and still get one seq each.
    let appended = futures_util::future::join_all((0..12).map(|i| {
        let mut e = event(SID, if i % 3 == 0 { "p_b" } else { "p_a" }, i);
        if i % 6 == 0 {
            e.kind = kind::CONSENT;
            e.payload = json!({"consent": "recording", "granted": true, "text_sha256": "00"});
        }
        ledger.append(e)
    }))
    .await;
    let mut got: Vec<u64> = appended.iter().map(|a| a.as_ref().unwrap().seq).collect();
    got.sort();
    assert_eq!(got, (0..12).collect::<Vec<_>>());
    let receipt = ledger.tree_head(SID).await.unwrap().jws;

    let by_b = ledger.consents_by(SID, "p_b").await.unwrap();
    assert_eq!(by_b.len(), 2, "p_b's consents through the index");
    ledger
        .record_anchor(AnchorRow {
            sid: SID.into(),
            tree_size: 12,
            head_jws: receipt.clone(),
            gen_time: 1,
            token: vec![0x30, 0x03, 0x02, 0x01, 0x01],
        })
        .await
        .unwrap();
    let progress = ledger.anchor_progress(Some(SID)).await.unwrap();
    assert_eq!((progress[0].entries, progress[0].anchored), (12, 12));
    ledger.shutdown().await.unwrap();
    let released = store.clone();
    blocking(move || released.release(&lease)).await.unwrap();

    // The node comes back under a new name (its old lease released): a new
    // token, and the log numbered on from what is in the database.
    let store = open(&url, "node-a-restarted").await;
    let lease = acquire(&store, SID, TTL).await.expect("released");
    assert_eq!(lease.token, 2);
    let ledger = ledger_over(&store, &keys);
    for i in 0..5 {
        assert_eq!(
            ledger.append(event(SID, "p_a", i)).await.unwrap().seq,
            12 + i
        );
    }
    let entries = ledger.entries(SID).await.unwrap();
    assert_eq!(seqs(&entries), (0..17).collect::<Vec<_>>());
    assert_eq!(
        ledger.sessions_with_entries().await.unwrap(),
        vec![SID.to_owned()]
    );

    // What an auditor gets verifies, with the receipt from before the
    // restart; the anchor's token is carried along (not a real TSA's, so
    // only present, not checked here).
    let export = ledger.export(SID).await.unwrap();
    let report = proof::verify_export(&export, &keys.jwks, std::slice::from_ref(&receipt));
    assert!(report.check("receipt 1").unwrap().ok, "{report:#?}");
    assert!(
        report.check(proof::check::SEQUENCE).unwrap().ok
            && report.check(proof::check::TREE_HEADS).unwrap().ok,
        "{report:#?}"
    );
    // One line gone: caught.
    let mut lines: Vec<&str> = export.lines().collect();
    lines.remove(4);
    let report = proof::verify_export(&lines.join("\n"), &keys.jwks, &[receipt]);
    assert!(!report.check(proof::check::SEQUENCE).unwrap().ok);
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_evidence_tables_refuse_rewrites_from_the_node_and_from_their_owner() {
    let pg = TestPostgres::start();
    let url = database(&pg, "ledger");
    let keys = keys();
    let store = open(&url, "node-a").await;
    acquire(&store, SID, TTL).await.unwrap();
    let ledger = ledger_over(&store, &keys);
    for i in 0..3 {
        ledger.append(event(SID, "p_a", i)).await.unwrap();
    }
    ledger.tree_head(SID).await.unwrap();
    let snapshot = || {
        pg.psql(
            "ledger",
            "SELECT (SELECT string_agg(seq || ':' || md5(text), ',' ORDER BY seq)
                     FROM ledger_entries)
                 || '/' || (SELECT string_agg(md5(jws), ',' ORDER BY id) FROM ledger_heads)",
        )
    };
    let before = snapshot();

    for sql in [
        "UPDATE ledger_entries SET text = 'forged' WHERE seq = 1",
        "DELETE FROM ledger_entries WHERE seq = 2",
        "TRUNCATE ledger_entries",
        "UPDATE ledger_heads SET jws = 'forged'",
        "DELETE FROM ledger_heads",
        "DROP TABLE ledger_entries",
        "UPDATE session_leases SET token = token + 1",
    ] {
        let (ok, error) = pg.try_psql(APP, "ledger", sql);
        if sql.starts_with("UPDATE session_leases") {
            // Leases are the one thing a node updates.
            assert!(ok, "{sql}: {error}");
            continue;
        }
        assert!(!ok, "the node's role ran {sql}");
        assert!(
            error.contains("permission denied") || error.contains("must be owner"),
            "{sql}: {error}"
        );
    }
    // The owner is refused by the triggers.
    for sql in [
        "UPDATE ledger_entries SET text = 'forged' WHERE seq = 1",
        "DELETE FROM ledger_entries WHERE seq = 2",
        "TRUNCATE ledger_entries",
        "UPDATE ledger_heads SET jws = 'forged'",
        "DELETE FROM ledger_heads",
        "TRUNCATE ledger_heads",
    ] {
        let (ok, error) = pg.try_psql(SUPERUSER, "ledger", sql);
        assert!(!ok, "the owner ran {sql}");
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    // An entry over an existing one, under the current fencing token
    // (bumped by the UPDATE above): refused by the key, never a replacement.
    let token = pg.psql("ledger", "SELECT token FROM session_leases");
    let (ok, error) = pg.try_psql(
        APP,
        "ledger",
        &format!(
            "INSERT INTO ledger_entries VALUES ('{SID}', 1, 0, 'visibility', 'p_a', 'x', \
             decode(repeat('00', 32), 'hex'), {token})"
        ),
    );
    assert!(!ok && error.contains("duplicate key"), "{error}");
    assert_eq!(snapshot(), before, "nothing changed");
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_node_that_lost_its_lease_can_never_append_again() {
    let pg = TestPostgres::start();
    let url = database(&pg, "ledger");
    let keys = keys();
    let a = open(&url, "node-a").await;
    let b = open(&url, "node-b").await;

    let lease_a = acquire(&a, SID, Duration::from_millis(1500)).await.unwrap();
    assert!(acquire(&b, SID, TTL).await.is_none(), "held by node-a");
    let ledger_a = ledger_over(&a, &keys);
    for i in 0..3 {
        ledger_a.append(event(SID, "p_a", i)).await.unwrap();
    }

    // node-a freezes (it renews nothing); node-b takes the session once
    // the lease lapsed, with the next token.
    let deadline = Instant::now() + Duration::from_secs(20);
    let lease_b = loop {
        if let Some(lease) = acquire(&b, SID, TTL).await {
            break lease;
        }
        assert!(Instant::now() < deadline, "node-a's lease never lapsed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(lease_b.token, lease_a.token + 1);
    let ledger_b = ledger_over(&b, &keys);
    for (i, want) in (3..5).enumerate() {
        let seq = ledger_b
            .append(event(SID, "p_b", i as u64))
            .await
            .unwrap()
            .seq;
        assert_eq!(seq, want, "node-b numbers on from the database");
    }

    // node-a wakes up with its old token: refused by the database.
    match ledger_a.append(event(SID, "p_a", 9)).await {
        Err(LedgerError::Commit(e)) => {
            assert!(matches!(*e, StoreError::Fenced(_)), "{e}");
            assert!(
                e.to_string().contains("not held under fencing token"),
                "{e}"
            );
        }
        other => panic!("a fenced-off node appended: {other:?}"),
    }
    // And it knows: it asks for the lease again, and node-b has it.
    match ledger_a.append(event(SID, "p_a", 10)).await {
        Err(LedgerError::Elsewhere(sid)) => assert_eq!(sid, SID),
        other => panic!("{other:?}"),
    }
    let (a2, stale) = (a.clone(), lease_a.clone());
    assert_eq!(blocking(move || a2.renew(&stale, TTL)).await.unwrap(), None);
    assert!(acquire(&a, SID, TTL).await.is_none(), "node-b holds it");

    // One log, no fork: 0..5, three from node-a then two from node-b.
    let entries = ledger_b.entries(SID).await.unwrap();
    assert_eq!(seqs(&entries), vec![0, 1, 2, 3, 4]);
    let actors: Vec<bool> = entries.iter().map(|e| e.text.contains("\"p_b\"")).collect();
    assert_eq!(actors, vec![false, false, false, true, true]);
    let export = ledger_b.export(SID).await.unwrap();
    assert!(proof::verify_export(&export, &keys.jwks, &[]).ok);

    // A lease that lapsed with nobody taking over fences off just the same;
    // with nobody else holding it, the node then takes it again, under a
    // new token, and numbers on without a gap.
    let other = "s_pg_lapsed";
    let first = acquire(&a, other, Duration::from_millis(300))
        .await
        .unwrap();
    ledger_a.append(event(other, "p_a", 0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(matches!(
        ledger_a.append(event(other, "p_a", 1)).await,
        Err(LedgerError::Commit(e)) if matches!(*e, StoreError::Fenced(_))
    ));
    assert_eq!(ledger_a.entries(other).await.unwrap().len(), 1);
    let again = ledger_a.append(event(other, "p_a", 2)).await.unwrap();
    assert_eq!(again.seq, 1);
    let token = pg.psql(
        "ledger",
        &format!("SELECT token FROM session_leases WHERE sid = '{other}'"),
    );
    assert_eq!(token, (first.token + 1).to_string());
    ledger_a.shutdown().await.unwrap();
    ledger_b.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_nodes_racing_for_sessions_get_exactly_one_owner_each_time() {
    let pg = TestPostgres::start();
    let url = database(&pg, "ledger");
    let a = open(&url, "node-a").await;
    let b = open(&url, "node-b").await;
    let rounds = 30;
    let wins = blocking(move || {
        let mut wins = Vec::new();
        for round in 0..rounds {
            let sid = format!("s_race_{round}");
            let barrier = Arc::new(Barrier::new(2));
            let race = |store: Arc<PgStore>| {
                let (barrier, sid) = (barrier.clone(), sid.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.acquire(&sid, TTL).unwrap()
                })
            };
            let (ta, tb) = (race(a.clone()), race(b.clone()));
            let (la, lb) = (ta.join().unwrap(), tb.join().unwrap());
            wins.push((sid, la.is_some(), lb.is_some()));
        }
        wins
    })
    .await;
    for (sid, a_won, b_won) in &wins {
        assert!(a_won ^ b_won, "{sid}: node-a {a_won}, node-b {b_won}");
        let owner = pg.psql(
            "ledger",
            &format!("SELECT node || ':' || token FROM session_leases WHERE sid = '{sid}'"),
        );
        let winner = if *a_won { "node-a" } else { "node-b" };
        assert_eq!(owner, format!("{winner}:1"));
    }
}

#[tokio::test]
async fn a_database_that_could_lose_commits_or_lacks_the_schema_is_refused() {
    let pg = TestPostgres::start();
    let url = database(&pg, "ledger");

    // No schema yet: a clear instruction, nothing created.
    pg.create_database("empty");
    let empty = pg.url(APP, "empty");
    let error = blocking(move || PgStore::open(&empty, "node-a"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("cadre migrate"), "{error}");
    // A role name that is not a plain identifier never reaches SQL.
    let owner = pg.url(SUPERUSER, "empty");
    let error =
        blocking(move || cadre_server::migrate_postgres(&owner, Some("x\"; DROP TABLE y; --")))
            .await
            .unwrap_err();
    assert!(error.to_string().contains("application role"), "{error}");
    assert_eq!(
        pg.psql("empty", "SELECT to_regclass('cadre_schema') IS NULL"),
        "t"
    );

    // A newer schema than this cadre's: refused by open and by migrate.
    pg.psql(
        "ledger",
        "UPDATE cadre_schema SET version = 99 WHERE component = 'ledger'",
    );
    let newer = url.clone();
    let error = blocking(move || PgStore::open(&newer, "node-a"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("schema version 99"), "{error}");
    let owner = pg.url(SUPERUSER, "ledger");
    let error = blocking(move || cadre_server::migrate_postgres(&owner, None))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("schema version 99"), "{error}");
    pg.psql(
        "ledger",
        &format!("UPDATE cadre_schema SET version = {}", pg::SCHEMA_VERSION),
    );
    let fine = url.clone();
    blocking(move || PgStore::open(&fine, "node-a"))
        .await
        .unwrap();

    // Malformed URL, nothing listening, an empty node name.
    let error = blocking(|| PgStore::open("postgres://a@b:notaport/c", "n"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("database URL"), "{error}");
    let port = cadre_tests::smtp::free_port();
    let error =
        blocking(move || PgStore::open(&format!("postgres://cadre@127.0.0.1:{port}/x"), "n"))
            .await
            .unwrap_err();
    assert!(matches!(error, StoreError::Postgres(_)), "{error}");
    let fine = url.clone();
    let error = blocking(move || PgStore::open(&fine, ""))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("name"), "{error}");

    // A server that acknowledges commits before they are on disk.
    let unsafe_pg = TestPostgres::start_with(&[("fsync", "off")]);
    unsafe_pg.create_database("ledger");
    let owner = unsafe_pg.url(SUPERUSER, "ledger");
    let error = blocking(move || {
        cadre_server::migrate_postgres(&owner, None).unwrap();
        PgStore::open(&owner, "node-a")
    })
    .await
    .unwrap_err();
    assert!(error.to_string().contains("fsync = off"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crashing_under_load_loses_nothing_acknowledged() {
    let mut pg = TestPostgres::start();
    let url = database(&pg, "ledger");
    let keys = keys();
    let store = open(&url, "node-a").await;
    acquire(&store, SID, TTL).await.unwrap();
    let ledger = ledger_over(&store, &keys);

    // Appends one after another from four tasks; each remembers what was
    // acknowledged and what was refused.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = Arc::new(std::sync::Mutex::new(Vec::<(u64, String)>::new()));
    let refused = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for t in 0..4u64 {
        let (ledger, stop, acked, refused) =
            (ledger.clone(), stop.clone(), acked.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            // Bounded whatever happens: at most 3,000 appends per task.
            for i in 0..3_000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                match ledger.append(event(SID, &format!("p_{t}"), i)).await {
                    Ok(a) => acked.lock().unwrap().push((a.seq, a.text)),
                    Err(e) => refused.lock().unwrap().push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    let acked_count = || acked.lock().unwrap().len();
    let refused_count = || refused.lock().unwrap().len();
    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cond() {
            assert!(Instant::now() < deadline, "waited 30 s for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    tokio::task::block_in_place(|| {
        wait_for("100 acknowledged appends", &|| acked_count() >= 100);
        pg.crash();
        wait_for("appends refused while the database is down", &|| {
            refused_count() >= 8
        });
        let before_restart = acked_count();
        pg.restart();
        wait_for("100 more acknowledged after the restart", &|| {
            acked_count() >= before_restart + 100
        });
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }

    let refused = refused.lock().unwrap().clone();
    assert!(
        refused.iter().all(|e| e.contains("ledger")),
        "refusals say what failed: {refused:?}"
    );
    let acked = acked.lock().unwrap().clone();
    let stored = ledger.entries(SID).await.unwrap();
    // Gap-free, and every acknowledged entry is there with its exact text.
    assert_eq!(seqs(&stored), (0..stored.len() as u64).collect::<Vec<_>>());
    for (seq, text) in &acked {
        assert_eq!(&stored[*seq as usize].text, text, "entry {seq}");
    }
    let export = ledger.export(SID).await.unwrap();
    assert!(proof::verify_export(&export, &keys.jwks, &[]).ok);
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn cadre_migrate_prepares_a_database_and_can_run_again() {
    let pg = TestPostgres::start();
    pg.create_role(APP);
    pg.create_database("cadre");
    let migrate = |role: &str| {
        std::process::Command::new(crate::reports::cadre_binary())
            .args(["migrate", "--database", &pg.url(SUPERUSER, "cadre")])
            .args(["--app-role", role])
            .env("RUST_LOG", "warn")
            .output()
            .expect("run cadre migrate")
    };
    for _ in 0..2 {
        let out = migrate(APP);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("catalogue tables at schema version 1"),
            "{said}"
        );
        assert!(said.contains("ledger tables at schema version 1"), "{said}");
    }
    let out = migrate("Robert'); DROP TABLE ledger_entries; --");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("application role"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        pg.psql("cadre", "SELECT to_regclass('ledger_entries') IS NOT NULL"),
        "t"
    );
    // The node's role can now open the store.
    let url = pg.url(APP, "cadre");
    blocking(move || PgStore::open(&url, "node-a"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_node_renews_its_leases_together_and_learns_which_it_lost() {
    let pg = TestPostgres::start();
    let url = database(&pg, "ledger");
    let keys = keys();
    let a = open(&url, "node-a").await;
    let b = open(&url, "node-b").await;
    let short = Duration::from_millis(1500);
    for sid in ["s_1", "s_2", "s_3"] {
        acquire(&a, sid, short).await.unwrap();
    }
    let ledger_a = ledger_over(&a, &keys);

    // Renewed every 300 ms for well past the first expiry: still held,
    // nobody else can take any of them.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let renewing = a.clone();
        let lost = blocking(move || renewing.renew_all(short)).await.unwrap();
        assert_eq!(lost, Vec::<String>::new());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for sid in ["s_1", "s_2", "s_3"] {
        assert!(acquire(&b, sid, TTL).await.is_none(), "{sid} is node-a's");
        ledger_a.append(event(sid, "p_a", 0)).await.unwrap();
    }

    // An operator moves s_2 to node-b (a new token, as a takeover gives).
    pg.psql(
        "ledger",
        "UPDATE session_leases SET node = 'node-b', token = token + 1 WHERE sid = 's_2'",
    );
    let renewing = a.clone();
    let lost = blocking(move || renewing.renew_all(short)).await.unwrap();
    assert_eq!(lost, vec!["s_2".to_owned()]);
    // node-a no longer writes s_2 (node-b has it), and keeps writing the
    // others.
    match ledger_a.append(event("s_2", "p_a", 1)).await {
        Err(LedgerError::Elsewhere(sid)) => assert_eq!(sid, "s_2"),
        other => panic!("{other:?}"),
    }
    ledger_a.append(event("s_1", "p_a", 1)).await.unwrap();
    ledger_a.append(event("s_3", "p_a", 1)).await.unwrap();
    assert_eq!(ledger_a.entries("s_2").await.unwrap().len(), 1);
    ledger_a.shutdown().await.unwrap();
}

/// A node that froze in the middle of a commit holds the lease row's lock
/// (the fencing trigger's): the database ends that transaction soon after,
/// so another node's takeover waits seconds, not until the frozen node's
/// connection dies.
#[tokio::test]
async fn a_transaction_left_open_by_a_frozen_node_does_not_hold_a_takeover_back() {
    let pg = TestPostgres::start();
    let url = database(&pg, "ledger");
    let b = open(&url, "node-b").await;
    let lease = {
        let a = open(&url, "node-a").await;
        acquire(&a, SID, Duration::from_millis(500)).await.unwrap()
    };
    // Node A's connection, as cadre makes it, in the middle of a commit:
    // the lease row locked as the trigger locks it, then nothing more.
    let config = cadre_server::postgres::config(&url).unwrap();
    let (frozen, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    let driven = tokio::spawn(connection);
    frozen
        .batch_execute(&format!(
            "BEGIN; SELECT token FROM session_leases WHERE sid = '{SID}' AND token = {} FOR SHARE",
            lease.token
        ))
        .await
        .unwrap();
    let shown = frozen
        .query_one("SHOW idle_in_transaction_session_timeout", &[])
        .await
        .unwrap()
        .get::<_, String>(0);
    assert_eq!(shown, "5s");
    tokio::time::sleep(Duration::from_millis(600)).await;

    // Node B's takeover waits on the lock (at most its lock timeout, 10 s)
    // and gets the session once the database has ended node A's.
    let taken = {
        let b = b.clone();
        blocking(move || b.acquire(SID, TTL)).await
    };
    let taken = taken.expect("the takeover is not held back by the frozen transaction");
    assert_eq!(taken.map(|l| l.token), Some(lease.token + 1));
    assert!(frozen.is_closed() || frozen.simple_query("SELECT 1").await.is_err());
    drop(frozen);
    let _ = driven.await;
}
