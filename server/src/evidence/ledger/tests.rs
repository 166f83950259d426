//! Ledger tests on real SQLite files in temporary directories.

use super::*;
use crate::directory::keys::{self, SigningKey};
use cadre_protocol::evidence::{self, Entry, kind};
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;

struct Fixture {
    dir: tempfile::TempDir,
    signer: JwsSigner,
    jwks: evidence::Jwks,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::load_or_create(dir.path()).unwrap().value;
    // The JWKS as the server publishes it, read back by the protocol crate.
    let served = serde_json::to_string(&keys::Jwks {
        keys: vec![key.jwk()],
    })
    .unwrap();
    Fixture {
        signer: JwsSigner::new(&key),
        jwks: serde_json::from_str(&served).unwrap(),
        dir,
    }
}

impl Fixture {
    fn open(&self) -> Ledger {
        Ledger::open(self.dir.path(), self.signer.clone()).unwrap()
    }

    fn open_with_clock(&self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Ledger {
        let store = SqliteStore::open(self.dir.path()).unwrap();
        let options = LedgerOptions {
            clock: Arc::new(clock),
            ..LedgerOptions::default()
        };
        Ledger::with_store(Arc::new(store), self.signer.clone(), options).unwrap()
    }

    fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join(LEDGER_FILE)).unwrap()
    }
}

fn event(sid: &str, actor: &str, i: u64) -> NewEvent {
    NewEvent {
        sid: sid.into(),
        kind: kind::VISIBILITY,
        actor: actor.into(),
        payload: json!({"connection_id": format!("c_{actor}"), "visible": i.is_multiple_of(2)}),
        client_ts: Some(1_000 + i as i64),
    }
}

async fn fill(ledger: &Ledger, sid: &str, n: u64) -> Vec<Appended> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(ledger.append(event(sid, "p_a", i)).await.unwrap());
    }
    out
}

fn root_of(entries: &[StoredEntry]) -> Hash {
    // From the texts, not the stored hashes: what an auditor recomputes.
    let leaves: Vec<Hash> = entries
        .iter()
        .map(|e| evidence::entry_hash(&e.text))
        .collect();
    merkle::root(&leaves)
}

fn verified_head(jws: &str, jwks: &evidence::Jwks) -> TreeHead {
    let verified = evidence::verify_jws(jws, jwks).unwrap();
    serde_json::from_slice(&verified.payload).unwrap()
}

#[tokio::test]
async fn acknowledged_appends_are_readable_after_reopening() {
    let fx = fixture();
    let ledger = fx.open();
    let mut acked = Vec::new();
    for i in 0..60 {
        let sid = if i % 3 == 0 { "s_b" } else { "s_a" };
        acked.push((sid, ledger.append(event(sid, "p_a", i)).await.unwrap()));
    }
    ledger.shutdown().await.unwrap();

    let ledger = fx.open();
    for sid in ["s_a", "s_b"] {
        let stored = ledger.entries(sid).await.unwrap();
        let mine: Vec<&Appended> = acked
            .iter()
            .filter(|(s, _)| *s == sid)
            .map(|(_, a)| a)
            .collect();
        assert_eq!(stored.len(), mine.len());
        for (s, a) in stored.iter().zip(&mine) {
            assert_eq!((s.seq, &s.text, s.leaf_hash), (a.seq, &a.text, a.leaf_hash));
            assert_eq!(s.leaf_hash, evidence::entry_hash(&s.text));
            let entry = Entry::parse(&s.text).unwrap();
            assert_eq!(entry.canonical(), s.text, "stored text is canonical");
            assert_eq!((entry.v, entry.sid.as_str()), (1, sid));
            assert_eq!((entry.seq, entry.ts), (a.seq, a.ts));
            assert_eq!(entry.kind, kind::VISIBILITY);
            assert_eq!(entry.actor, "p_a");
            assert_eq!(entry.payload_value()["connection_id"], "c_p_a");
            assert!(entry.client_ts.is_some());
            assert_eq!(entry.salt.len(), 32);
            assert!(entry.salt.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
    let salts: HashSet<String> = acked
        .iter()
        .map(|(_, a)| Entry::parse(&a.text).unwrap().salt)
        .collect();
    assert_eq!(salts.len(), acked.len(), "every salt is fresh");
    // Numbering continues where the durable log ends.
    assert_eq!(ledger.append(event("s_a", "p_a", 0)).await.unwrap().seq, 40);
    assert_eq!(ledger.append(event("s_b", "p_a", 0)).await.unwrap().seq, 20);
    assert_eq!(
        ledger.sessions_with_entries().await.unwrap(),
        ["s_a", "s_b"]
    );
    ledger.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_producers_get_gapless_seqs_and_nondecreasing_times() {
    const TASKS: u64 = 8;
    const EACH: u64 = 500;
    let fx = fixture();
    let ledger = fx.open();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            let actor = format!("p_{t}");
            let mut acks = Vec::new();
            for i in 0..EACH {
                acks.push(ledger.append(event("s_a", &actor, i)).await.unwrap());
            }
            acks
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let acks = task.await.unwrap();
        // One producer's appends are recorded in the order it made them.
        assert!(acks.windows(2).all(|w| w[0].seq < w[1].seq));
        all.extend(acks);
    }
    all.sort_by_key(|a| a.seq);
    let seqs: Vec<u64> = all.iter().map(|a| a.seq).collect();
    assert_eq!(seqs, (0..TASKS * EACH).collect::<Vec<_>>());
    assert!(all.windows(2).all(|w| w[0].ts <= w[1].ts), "ts decreased");

    let stored = ledger.entries("s_a").await.unwrap();
    assert_eq!(stored.len() as u64, TASKS * EACH);
    for (s, a) in stored.iter().zip(&all) {
        assert_eq!(s.text, a.text);
    }
    let stats = ledger.stats();
    assert_eq!(stats.entries, TASKS * EACH);
    assert_eq!(stats.failed_batches, 0);
    assert!(
        stats.batches < stats.entries,
        "no group commit happened: {stats:?}"
    );
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn server_time_never_decreases_even_when_the_clock_steps_back() {
    let fx = fixture();
    let readings = [1_000, 2_000, 1_500, 900, 2_500];
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let ledger = fx.open_with_clock(move || readings[c.fetch_add(1, Ordering::SeqCst) % 5]);
    let mut ts = Vec::new();
    for i in 0..5 {
        ts.push(ledger.append(event("s_a", "p_a", i)).await.unwrap().ts);
    }
    assert_eq!(ts, [1_000, 2_000, 2_000, 2_000, 2_500]);
    // Another session has its own time line.
    let other = ledger.append(event("s_b", "p_a", 0)).await.unwrap();
    assert_eq!(other.ts, 1_000);
    ledger.shutdown().await.unwrap();

    // After a restart with a clock far behind, the log's last time holds.
    let ledger = fx.open_with_clock(|| 100);
    let next = ledger.append(event("s_a", "p_a", 5)).await.unwrap();
    assert_eq!((next.seq, next.ts), (5, 2_500));
    let head = ledger.tree_head("s_a").await.unwrap();
    assert_eq!(
        head.head.ts, 2_500,
        "a head is never dated before its entries"
    );
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_file_refuses_updates_deletes_and_overwrites() {
    let fx = fixture();
    let ledger = fx.open();
    let before = fill(&ledger, "s_a", 3).await;
    ledger.tree_head("s_a").await.unwrap();

    let raw = fx.raw();
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let refused = [
        "UPDATE entries SET text = 'forged' WHERE sid = 's_a' AND seq = 1",
        "UPDATE entries SET ts = 0",
        "DELETE FROM entries WHERE sid = 's_a' AND seq = 2",
        "DELETE FROM entries",
        "INSERT OR REPLACE INTO entries (sid, seq, ts, kind, actor, text, leaf_hash)
         VALUES ('s_a', 1, 0, 'focus', 'p_a', 'forged', zeroblob(32))",
        "UPDATE tree_heads SET tree_size = 99",
        "DELETE FROM tree_heads",
        "INSERT OR REPLACE INTO tree_heads (id, sid, tree_size, root, ts, jws)
         SELECT id, sid, 0, root, ts, 'forged' FROM tree_heads",
        // STRICT: a value of the wrong type is an error, not a conversion.
        "INSERT INTO entries (sid, seq, ts, kind, actor, text, leaf_hash)
         VALUES ('s_a', 'three', 0, 'focus', 'p_a', 'x', zeroblob(32))",
        "INSERT INTO entries (sid, seq, ts, kind, actor, text, leaf_hash)
         VALUES ('s_a', 3, 0, 'focus', 'p_a', 'x', zeroblob(31))",
    ];
    for sql in refused {
        assert!(raw.execute(sql, []).is_err(), "accepted: {sql}");
    }
    let err = raw
        .execute("DELETE FROM entries WHERE seq = 0", [])
        .unwrap_err()
        .to_string();
    assert!(err.contains("append-only"), "{err}");

    let after = ledger.entries("s_a").await.unwrap();
    assert_eq!(after.len(), 3);
    for (a, b) in after.iter().zip(&before) {
        assert_eq!((a.seq, &a.text, a.leaf_hash), (b.seq, &b.text, b.leaf_hash));
    }
    let heads: i64 = raw
        .query_row(
            "SELECT count(*) FROM tree_heads WHERE tree_size = 3",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(heads, 1);
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn tree_heads_verify_and_cover_exactly_the_durable_log() {
    let fx = fixture();
    let ledger = fx.open();

    let empty = ledger.tree_head("s_a").await.unwrap();
    assert_eq!(empty.head.tree_size, 0);
    assert_eq!(empty.head.root, merkle::to_hex(&merkle::empty_root()));
    assert_eq!(verified_head(&empty.jws, &fx.jwks), empty.head);

    let acked = fill(&ledger, "s_a", 21).await;
    let signed = ledger.tree_head("s_a").await.unwrap();
    let head = verified_head(&signed.jws, &fx.jwks);
    assert_eq!(head, signed.head);
    assert_eq!(head.typ, TREE_HEAD_TYP);
    assert_eq!((head.v, head.sid.as_str(), head.tree_size), (1, "s_a", 21));
    assert!(head.ts >= acked[20].ts);
    let stored = ledger.entries("s_a").await.unwrap();
    assert_eq!(head.root_hash(), Some(root_of(&stored)));
    let acked_leaves: Vec<Hash> = acked.iter().map(|a| a.leaf_hash).collect();
    assert_eq!(head.root_hash(), Some(merkle::root(&acked_leaves)));
    // Not the root of one entry fewer.
    assert_ne!(head.root_hash(), Some(root_of(&stored[..20])));

    // Signed by this key only.
    let other = fixture();
    assert!(evidence::verify_jws(&signed.jws, &other.jwks).is_err());
    assert_eq!(ledger.stats().heads, 2);
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn inclusion_proofs_verify_against_a_tree_head() {
    let fx = fixture();
    let ledger = fx.open();
    fill(&ledger, "s_a", 20).await;
    let early = ledger.tree_head("s_a").await.unwrap().head;
    fill(&ledger, "s_a", 17).await;
    let late = ledger.tree_head("s_a").await.unwrap().head;
    let stored = ledger.entries("s_a").await.unwrap();

    for head in [&early, &late] {
        let n = head.tree_size;
        let root = head.root_hash().unwrap();
        let seqs: Vec<u64> = (0..n).rev().collect();
        let proofs = ledger.inclusion_proofs("s_a", n, &seqs).await.unwrap();
        assert_eq!(proofs.len(), seqs.len());
        for (&seq, proof) in seqs.iter().zip(&proofs) {
            let leaf = evidence::entry_hash(&stored[seq as usize].text);
            assert!(
                merkle::verify_inclusion(seq, n, &leaf, proof, &root),
                "{seq} of {n}"
            );
            // The same path does not prove another entry, or a forged one.
            let other = evidence::entry_hash(&stored[((seq + 1) % n) as usize].text);
            assert!(!merkle::verify_inclusion(seq, n, &other, proof, &root));
            let forged = stored[seq as usize]
                .text
                .replace("\"visible\"", "\"hidden\"");
            let forged = evidence::entry_hash(&forged);
            assert!(!merkle::verify_inclusion(seq, n, &forged, proof, &root));
        }
    }
    // Entries outside the tree, and trees beyond the log, are refused.
    assert!(matches!(
        ledger.inclusion_proofs("s_a", 20, &[20]).await,
        Err(LedgerError::Range(_))
    ));
    assert!(matches!(
        ledger.inclusion_proofs("s_a", 38, &[0]).await,
        Err(LedgerError::Range(_))
    ));
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn consistency_proofs_show_growth_and_expose_a_rewrite() {
    let fx = fixture();
    let ledger = fx.open();
    fill(&ledger, "s_a", 13).await;
    // A receipt handed to a participant.
    let receipt = ledger.tree_head("s_a").await.unwrap();
    fill(&ledger, "s_a", 20).await;
    let later = ledger.tree_head("s_a").await.unwrap();
    let (old, new) = (
        verified_head(&receipt.jws, &fx.jwks),
        verified_head(&later.jws, &fx.jwks),
    );
    let (old_root, new_root) = (old.root_hash().unwrap(), new.root_hash().unwrap());

    let proof = ledger.consistency_proof("s_a", 13, 33).await.unwrap();
    assert!(!proof.is_empty());
    assert!(merkle::verify_consistency(
        13, 33, &old_root, &new_root, &proof
    ));
    let mut bent = proof.clone();
    bent[0][0] ^= 1;
    assert!(!merkle::verify_consistency(
        13, 33, &old_root, &new_root, &bent
    ));
    assert!(!merkle::verify_consistency(
        12, 33, &old_root, &new_root, &proof
    ));
    // Trivial cases, and impossible ones.
    assert!(
        ledger
            .consistency_proof("s_a", 0, 33)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        ledger
            .consistency_proof("s_a", 33, 33)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        ledger.consistency_proof("s_a", 20, 13).await,
        Err(LedgerError::Range(_))
    ));
    assert!(matches!(
        ledger.consistency_proof("s_a", 13, 34).await,
        Err(LedgerError::Range(_))
    ));

    // Someone with the file drops the triggers and rewrites entry 3 (and its
    // stored hash, to match). The ledger's next head and proof are computed
    // from the rewritten log, and no longer extend the receipt.
    let raw = fx.raw();
    raw.execute_batch("DROP TRIGGER entries_no_update;")
        .unwrap();
    let text: String = raw
        .query_row(
            "SELECT text FROM entries WHERE sid = 's_a' AND seq = 3",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let forged = text.replace("\"visible\":false", "\"visible\":true");
    assert_ne!(forged, text);
    raw.execute(
        "UPDATE entries SET text = ?1, leaf_hash = ?2 WHERE sid = 's_a' AND seq = 3",
        rusqlite::params![forged, &evidence::entry_hash(&forged)[..]],
    )
    .unwrap();
    let rewritten = ledger.tree_head("s_a").await.unwrap().head;
    assert_eq!(rewritten.tree_size, 33);
    assert_ne!(rewritten.root, new.root);
    let proof = ledger.consistency_proof("s_a", 13, 33).await.unwrap();
    assert!(!merkle::verify_consistency(
        13,
        33,
        &old_root,
        &rewritten.root_hash().unwrap(),
        &proof
    ));
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn sessions_have_independent_logs() {
    let fx = fixture();
    let ledger = fx.open();
    let mut a = Vec::new();
    let mut b = Vec::new();
    for i in 0..10 {
        a.push(ledger.append(event("s_a", "p_a", i)).await.unwrap());
        if i % 2 == 0 {
            b.push(ledger.append(event("s_b", "p_b", i)).await.unwrap());
        }
    }
    assert_eq!(
        a.iter().map(|x| x.seq).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(
        b.iter().map(|x| x.seq).collect::<Vec<_>>(),
        (0..5).collect::<Vec<_>>()
    );
    let ea = ledger.entries("s_a").await.unwrap();
    let eb = ledger.entries("s_b").await.unwrap();
    assert!(
        ea.iter()
            .all(|e| Entry::parse(&e.text).unwrap().sid == "s_a")
    );
    assert!(
        eb.iter()
            .all(|e| Entry::parse(&e.text).unwrap().sid == "s_b")
    );
    let ha = ledger.tree_head("s_a").await.unwrap().head;
    let hb = ledger.tree_head("s_b").await.unwrap().head;
    assert_eq!((ha.tree_size, hb.tree_size), (10, 5));
    assert_eq!(hb.root_hash(), Some(root_of(&eb)));
    // An entry of one session does not prove into the other's tree.
    let proof = &ledger.inclusion_proofs("s_a", 5, &[2]).await.unwrap()[0];
    let leaf = ea[2].leaf_hash;
    assert!(merkle::verify_inclusion(
        2,
        5,
        &leaf,
        proof,
        &root_of(&ea[..5])
    ));
    assert!(!merkle::verify_inclusion(
        2,
        5,
        &leaf,
        proof,
        &hb.root_hash().unwrap()
    ));
    assert!(ledger.entries("s_c").await.unwrap().is_empty());
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn consents_by_gives_one_persons_consents_and_nothing_else() {
    let fx = fixture();
    let ledger = fx.open();
    let consent = |sid: &str, actor: &str, granted: bool| NewEvent {
        sid: sid.into(),
        kind: kind::CONSENT,
        actor: actor.into(),
        payload: json!({"consent": "recording", "granted": granted, "text_sha256": "00"}),
        client_ts: None,
    };
    let mut wanted = Vec::new();
    for i in 0..40 {
        ledger.append(event("s_a", "p_a", i)).await.unwrap();
        ledger.append(event("s_a", "p_b", i)).await.unwrap();
        if i % 10 == 3 {
            wanted.push(
                ledger
                    .append(consent("s_a", "p_a", i % 20 == 3))
                    .await
                    .unwrap()
                    .seq,
            );
            ledger.append(consent("s_a", "p_b", true)).await.unwrap();
            ledger.append(consent("s_b", "p_a", true)).await.unwrap();
        }
    }
    let got = ledger.consents_by("s_a", "p_a").await.unwrap();
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), wanted);
    let all = ledger.entries("s_a").await.unwrap();
    for e in &got {
        // The same rows as the whole log holds, texts and hashes included.
        assert_eq!(e, &all[e.seq as usize]);
        let entry = Entry::parse(&e.text).unwrap();
        assert_eq!(
            (entry.actor.as_str(), entry.kind.as_str()),
            ("p_a", kind::CONSENT)
        );
    }
    assert!(ledger.consents_by("s_a", "p_c").await.unwrap().is_empty());
    assert!(ledger.consents_by("s_c", "p_a").await.unwrap().is_empty());
    for (sid, actor) in [("", "p_a"), ("s_a", "")] {
        assert!(ledger.consents_by(sid, actor).await.is_err());
    }
    ledger.shutdown().await.unwrap();
    // The statement the store runs goes through the index of consents, not
    // a scan of the session's log.
    let plan: String = fx
        .raw()
        .query_row(
            &format!("EXPLAIN QUERY PLAN {}", super::sqlite::CONSENTS_BY),
            ["s_a", "p_a"],
            |row| row.get(3),
        )
        .unwrap();
    assert!(plan.contains("entries_consents"), "{plan}");
}

#[tokio::test]
async fn a_file_indexed_by_actor_and_kind_is_reindexed_on_consents_alone() {
    let fx = fixture();
    let ledger = fx.open();
    let mut consent = event("s_a", "p_a", 0);
    consent.kind = kind::CONSENT;
    consent.payload = json!({"consent": "recording", "granted": true, "text_sha256": "00"});
    let given = ledger.append(consent).await.unwrap().seq;
    ledger.append(event("s_a", "p_a", 1)).await.unwrap();
    let root = ledger.tree_head("s_a").await.unwrap().head.root;
    ledger.shutdown().await.unwrap();
    // As files written before the partial index were.
    let indexes = |conn: &rusqlite::Connection| -> Vec<String> {
        let mut stmt = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries' \
                 AND sql IS NOT NULL ORDER BY name",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let raw = fx.raw();
    raw.execute_batch(
        "DROP INDEX entries_consents;
         CREATE INDEX entries_by_actor ON entries(sid, actor, kind, seq);",
    )
    .unwrap();
    assert_eq!(indexes(&raw), ["entries_by_actor"]);
    drop(raw);
    let ledger = fx.open();
    assert_eq!(indexes(&fx.raw()), ["entries_consents"]);
    let got = ledger.consents_by("s_a", "p_a").await.unwrap();
    assert_eq!(got.iter().map(|e| e.seq).collect::<Vec<_>>(), [given]);
    // Nothing of the log changed with its index.
    assert_eq!(ledger.tree_head("s_a").await.unwrap().head.root, root);
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn export_holds_every_entry_and_every_head_issued() {
    let fx = fixture();
    let ledger = fx.open();
    fill(&ledger, "s_a", 5).await;
    let first = ledger.tree_head("s_a").await.unwrap();
    fill(&ledger, "s_b", 3).await;
    fill(&ledger, "s_a", 6).await;
    let second = ledger.tree_head("s_a").await.unwrap();
    fill(&ledger, "s_a", 2).await;

    let export = ledger.export("s_a").await.unwrap();
    let lines: Vec<&str> = export.lines().collect();
    assert_eq!(lines.len(), 14);
    let stored = ledger.entries("s_a").await.unwrap();
    for (line, entry) in lines[..13].iter().zip(&stored) {
        assert_eq!(*line, entry.text);
    }
    // An auditor's check, with the protocol crate only.
    let trailer: serde_json::Value = serde_json::from_str(lines[13]).unwrap();
    let heads: Vec<String> = serde_json::from_value(trailer["tree_heads"].clone()).unwrap();
    assert_eq!(heads.len(), 3);
    assert_eq!((&heads[0], &heads[1]), (&first.jws, &second.jws));
    let leaves: Vec<Hash> = lines[..13]
        .iter()
        .map(|l| evidence::entry_hash(l))
        .collect();
    for (i, leaf) in lines[..13].iter().enumerate() {
        assert_eq!(Entry::parse(leaf).unwrap().seq, i as u64);
    }
    let sizes: Vec<u64> = heads
        .iter()
        .map(|jws| {
            let head = verified_head(jws, &fx.jwks);
            let n = head.tree_size as usize;
            assert_eq!(head.root_hash(), Some(merkle::root(&leaves[..n])));
            head.tree_size
        })
        .collect();
    assert_eq!(sizes, [5, 11, 13]);
    // The other session's export is its own.
    let b = ledger.export("s_b").await.unwrap();
    assert_eq!(b.lines().count(), 4);
    assert!(!b.contains("\"sid\":\"s_a\""));
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_events_are_refused_alone() {
    let fx = fixture();
    let ledger = fx.open();
    let mut not_object = event("s_a", "p_a", 0);
    not_object.payload = json!([1, 2]);
    let mut no_actor = event("s_a", "", 0);
    no_actor.actor.clear();
    let mut huge = event("s_a", "p_a", 0);
    huge.payload = json!({"signature": "x".repeat(MAX_PAYLOAD_BYTES)});
    let long_sid = event(&"s".repeat(MAX_ID_BYTES + 1), "p_a", 0);
    for bad in [not_object, no_actor, huge, long_sid] {
        assert!(matches!(
            ledger.append(bad).await,
            Err(LedgerError::Invalid(_))
        ));
    }
    assert_eq!(ledger.append(event("s_a", "p_a", 0)).await.unwrap().seq, 0);
    ledger.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_answers_what_was_queued_then_refuses() {
    let fx = fixture();
    let ledger = fx.open();
    let other = ledger.clone();
    let mut pending = Vec::new();
    for i in 0..200 {
        let l = ledger.clone();
        pending.push(tokio::spawn(async move {
            l.append(event("s_a", "p_a", i)).await
        }));
    }
    // Let every task queue its append before the shutdown request.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    ledger.shutdown().await.unwrap();
    let mut ok = 0;
    for p in pending {
        if p.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 200);
    assert!(matches!(
        other.append(event("s_a", "p_a", 0)).await,
        Err(LedgerError::Closed)
    ));
    drop(other);
    let reopened = fx.open();
    assert_eq!(reopened.entries("s_a").await.unwrap().len(), 200);
    reopened.shutdown().await.unwrap();
}

/// A store that makes chosen batches slow or fail inside SQLite itself.
struct Flaky {
    inner: SqliteStore,
    failed_batch_sizes: Arc<Mutex<Vec<usize>>>,
}

struct FlakyWriter {
    inner: Box<dyn StoreWriter>,
    failed_batch_sizes: Arc<Mutex<Vec<usize>>>,
}

impl LedgerStore for Flaky {
    fn writer(&self) -> Result<Box<dyn StoreWriter>, StoreError> {
        Ok(Box::new(FlakyWriter {
            inner: self.inner.writer()?,
            failed_batch_sizes: self.failed_batch_sizes.clone(),
        }))
    }
    fn entries(&self, sid: &str, limit: Option<u64>) -> Result<Vec<StoredEntry>, StoreError> {
        self.inner.entries(sid, limit)
    }
    fn consents_by(&self, sid: &str, actor: &str) -> Result<Vec<StoredEntry>, StoreError> {
        self.inner.consents_by(sid, actor)
    }
    fn leaves(&self, sid: &str, limit: Option<u64>) -> Result<Vec<Leaf>, StoreError> {
        self.inner.leaves(sid, limit)
    }
    fn heads(&self, sid: &str) -> Result<Vec<String>, StoreError> {
        self.inner.heads(sid)
    }
    fn latest_head(&self, sid: &str) -> Result<Option<HeadRow>, StoreError> {
        self.inner.latest_head(sid)
    }
    fn sessions(&self) -> Result<Vec<String>, StoreError> {
        self.inner.sessions()
    }
    fn anchors(&self, sid: &str) -> Result<Vec<AnchorRow>, StoreError> {
        self.inner.anchors(sid)
    }
    fn anchor_progress(&self, sid: Option<&str>) -> Result<Vec<AnchorProgress>, StoreError> {
        self.inner.anchor_progress(sid)
    }
}

impl StoreWriter for FlakyWriter {
    fn tail(&mut self, sid: &str) -> Result<Option<Tail>, StoreError> {
        self.inner.tail(sid)
    }
    fn commit(
        &mut self,
        entries: &[EntryRow],
        heads: &[HeadRow],
        anchors: &[AnchorRow],
    ) -> Result<(), StoreError> {
        if entries.iter().any(|e| e.actor == "slow") {
            std::thread::sleep(std::time::Duration::from_millis(400));
        }
        if entries.iter().any(|e| e.actor == "unsure") {
            // A sync that reports failure after the data reached the disk:
            // the requests get an error, yet the rows are there.
            self.inner.commit(entries, heads, anchors)?;
            return Err(StoreError::Io(std::io::Error::other("fsync failed")));
        }
        let mut rows = entries.to_vec();
        if let Some(row) = rows.iter_mut().find(|e| e.actor == "fail") {
            // Violates a CHECK constraint: SQLite itself fails mid-batch,
            // after the rows before this one were inserted.
            row.text.clear();
            self.failed_batch_sizes
                .lock()
                .unwrap()
                .push(entries.len() + heads.len());
        }
        self.inner.commit(&rows, heads, anchors)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_is_refused_whole_and_the_writer_keeps_serving() {
    let fx = fixture();
    let failed_batch_sizes = Arc::new(Mutex::new(Vec::new()));
    let store = Flaky {
        inner: SqliteStore::open(fx.dir.path()).unwrap(),
        failed_batch_sizes: failed_batch_sizes.clone(),
    };
    let ledger =
        Ledger::with_store(Arc::new(store), fx.signer.clone(), LedgerOptions::default()).unwrap();
    let first = ledger.append(event("s_a", "p_a", 0)).await.unwrap();
    assert_eq!(first.seq, 0);

    // A slow batch holds the writer while 21 requests queue behind it; they
    // are committed together, and one of them breaks the transaction.
    let slow = {
        let l = ledger.clone();
        tokio::spawn(async move { l.append(event("s_a", "slow", 1)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut queued = Vec::new();
    for i in 0..21 {
        let actor = if i == 10 { "fail" } else { "p_a" };
        let sid = if i % 2 == 0 { "s_a" } else { "s_b" };
        let l = ledger.clone();
        queued.push(tokio::spawn(
            async move { l.append(event(sid, actor, i)).await },
        ));
    }
    assert_eq!(slow.await.unwrap().unwrap().seq, 1);
    for q in queued {
        assert!(matches!(q.await.unwrap(), Err(LedgerError::Commit(_))));
    }
    assert_eq!(*failed_batch_sizes.lock().unwrap(), [21]);
    assert_eq!(ledger.stats().failed_batches, 1);
    assert_eq!(ledger.entries("s_a").await.unwrap().len(), 2);
    assert!(ledger.entries("s_b").await.unwrap().is_empty());

    // Later batches are served, and numbering continues without a gap.
    assert_eq!(ledger.append(event("s_a", "p_a", 2)).await.unwrap().seq, 2);
    assert_eq!(ledger.append(event("s_b", "p_a", 0)).await.unwrap().seq, 0);
    let head = ledger.tree_head("s_a").await.unwrap().head;
    assert_eq!(head.tree_size, 3);

    // A commit that failed yet reached the disk: the writer does not trust
    // its own numbering afterwards but continues from what is stored, so
    // the log has neither a gap nor a refused duplicate.
    assert!(matches!(
        ledger.append(event("s_a", "unsure", 3)).await,
        Err(LedgerError::Commit(_))
    ));
    assert_eq!(ledger.entries("s_a").await.unwrap().len(), 4);
    assert_eq!(ledger.append(event("s_a", "p_a", 4)).await.unwrap().seq, 4);
    assert_eq!(ledger.stats().failed_batches, 2);
    ledger.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_appending_to_the_same_log_costs_nothing() {
    // The CLI and a live server both write to one data directory: each
    // writer's cached tail goes stale when the other appends.
    let fx = fixture();
    let server = fx.open();
    let cli = fx.open();
    assert_eq!(server.append(event("s_a", "p_a", 0)).await.unwrap().seq, 0);
    assert_eq!(
        cli.append(event("s_a", "organiser", 1)).await.unwrap().seq,
        1
    );
    // The server's next append finds seq 1 taken, renumbers, and succeeds.
    assert_eq!(server.append(event("s_a", "p_a", 2)).await.unwrap().seq, 2);
    assert_eq!(
        cli.append(event("s_a", "organiser", 3)).await.unwrap().seq,
        3
    );
    let entries = server.entries("s_a").await.unwrap();
    let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [0, 1, 2, 3]);
    let head = server.tree_head("s_a").await.unwrap().head;
    assert_eq!(head.tree_size, 4);
    server.shutdown().await.unwrap();
    cli.shutdown().await.unwrap();
}

/// Environment variable naming the directory the crash child writes to.
const CRASH_DIR: &str = "CADRE_LEDGER_CRASH_DIR";

/// The child half of the crash test: appends from many tasks until killed,
/// printing each acknowledged seq. Runs only when the parent starts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started by kill_mid_batch_keeps_whole_batches_and_numbering"]
async fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let key = SigningKey::load_or_create(&dir).unwrap().value;
    let ledger = Ledger::open(&dir, JwsSigner::new(&key)).unwrap();
    let mut tasks = Vec::new();
    for t in 0..64 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let ack = ledger
                    .append(event("s_a", &format!("p_{t}"), i))
                    .await
                    .unwrap();
                println!("ack {}", ack.seq);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[test]
fn kill_mid_batch_keeps_whole_batches_and_numbering() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    // The test's name as the harness knows it: its path without the crate.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            &format!("{module}::crash_child"),
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CRASH_DIR, dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(seq) = line.strip_prefix("ack ") {
            acked.push(seq.parse::<u64>().unwrap());
            if acked.len() == 5_000 {
                // SIGKILL: no destructor, no flush, in the middle of whatever
                // the writer is doing.
                child.kill().unwrap();
                break;
            }
        }
    }
    child.wait().unwrap();
    assert_eq!(acked.len(), 5_000, "the child stopped early");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let key = SigningKey::load_or_create(dir.path()).unwrap().value;
        let ledger = Ledger::open(dir.path(), JwsSigner::new(&key)).unwrap();
        let stored = ledger.entries("s_a").await.unwrap();
        let n = stored.len() as u64;
        for (i, e) in stored.iter().enumerate() {
            assert_eq!(e.seq, i as u64, "gap in the log");
            assert_eq!(e.leaf_hash, evidence::entry_hash(&e.text));
            assert_eq!(Entry::parse(&e.text).unwrap().seq, e.seq);
        }
        let max_acked = acked.iter().copied().max().unwrap();
        assert!(
            max_acked < n,
            "acknowledged entry {max_acked} lost ({n} stored)"
        );
        assert!(n >= 5_000);
        let next = ledger.append(event("s_a", "p_a", 0)).await.unwrap();
        assert_eq!(next.seq, n, "numbering continues without a gap");
        ledger.shutdown().await.unwrap();
    });
}
