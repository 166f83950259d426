//! Ledger benchmark: durable appends per second with group commit, append
//! latency, bytes on disk per entry, and the cost of tree heads and proofs on
//! a long session. Prints markdown tables.
//!
//! `cargo bench -p cadre-server --bench ledger`
//!
//! The files go under `CARGO_TARGET_TMPDIR` (the project's disk, not a
//! tmpfs) unless `CADRE_BENCH_DIR` names another directory: a number taken
//! on a RAM disk says nothing about fsync.
//!
//! With `CADRE_BENCH_POSTGRES=postgres://OWNER@HOST:PORT/DB` (an empty
//! database; `bench/ledger-postgres.sh` makes one on loopback), the same
//! appends also go to the PostgreSQL store, each session under a lease.

use cadre_protocol::evidence::{Entry, consent, kind};
use cadre_protocol::merkle::{self, Hash};
use cadre_server::directory::keys::SigningKey;
use cadre_server::evidence::jws::JwsSigner;
use cadre_server::evidence::ledger::{LEDGER_FILE, Ledger, NewEvent};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Participants per session when spreading producers over sessions.
const PER_SESSION: u64 = 30;
/// Events per participant-hour assumed for the size estimate (see the
/// mix in `realistic`).
const EVENTS_PER_PARTICIPANT_HOUR: u64 = 30;

fn main() {
    let base = std::env::var_os("CADRE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    std::fs::create_dir_all(&base).expect("bench directory");
    let root = tempfile::Builder::new()
        .prefix("ledger-bench-")
        .tempdir_in(&base)
        .expect("bench directory");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    println!("# Ledger benchmark\n");
    println!("- directory: {}", root.path().display());
    println!("- machine: {} cores, {}", cores(), cpu_model());
    println!(
        "- runtime: tokio multi-thread, {} workers; writer: one thread, batches of up to 1024\n",
        cores()
    );

    println!("## Durable appends (each acknowledged after its batch's COMMIT)\n");
    Throughput::print_header();
    for (producers, cap) in PRODUCERS {
        let dir = root.path().join(format!("throughput-{producers}"));
        let r = rt.block_on(throughput(
            open(&dir),
            producers,
            cap,
            Duration::from_secs(10),
        ));
        r.print_row(producers);
    }

    if let Some(url) = std::env::var_os("CADRE_BENCH_POSTGRES") {
        let url = url.into_string().expect("a UTF-8 database URL");
        println!("\n## Durable appends on PostgreSQL (same load; commit = WAL flushed)\n");
        postgres_throughput(&rt, &url, root.path());
    }

    println!("\n## Size on disk\n");
    let dir = root.path().join("size");
    let s = rt.block_on(size(&dir));
    println!(
        "| sessions × participants × hours | entries | mean entry text | file bytes / entry | bytes / participant-hour |"
    );
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| {} × {} × {} | {} | {:.0} B | {:.0} B | {:.1} KB |",
        s.sessions,
        s.participants,
        s.hours,
        s.entries,
        s.mean_text,
        s.file_per_entry,
        s.file_per_entry * EVENTS_PER_PARTICIPANT_HOUR as f64 / 1000.0
    );
    println!(
        "\nAssumed {EVENTS_PER_PARTICIPANT_HOUR} events per participant-hour: 6 heartbeat summaries, \
         2 connection opened/closed, 10 visibility, 10 focus, 1 media, 1 sign-in related."
    );

    println!("\n## One long session: tree heads and proofs\n");
    let dir = root.path().join("tree");
    rt.block_on(tree_costs(&dir, 20_000));
}

struct Throughput {
    count: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    batches: u64,
}

impl Throughput {
    fn print_header() {
        println!(
            "| producers | sessions | appends | seconds | appends/s | p50 ms | p99 ms | max ms | batches | mean batch |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    }

    fn print_row(&self, producers: u64) {
        println!(
            "| {producers} | {} | {} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} |",
            producers.div_ceil(PER_SESSION),
            self.count,
            self.seconds,
            self.count as f64 / self.seconds,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.batches,
            self.count as f64 / self.batches.max(1) as f64,
        );
    }
}

fn open(dir: &Path) -> Ledger {
    std::fs::create_dir_all(dir).expect("directory");
    let key = SigningKey::load_or_create(dir).expect("key").value;
    Ledger::open(dir, JwsSigner::new(&key)).expect("ledger")
}

/// Producers, and the most appends they make together, per row.
const PRODUCERS: [(u64, u64); 3] = [(1, 20_000), (16, 100_000), (256, 300_000)];

/// The throughput table again, on the PostgreSQL store at `url`, one node
/// holding every session's lease.
fn postgres_throughput(rt: &tokio::runtime::Runtime, url: &str, dir: &Path) {
    use cadre_server::evidence::ledger::LedgerOptions;
    use cadre_server::evidence::ledger::postgres::PgStore;
    cadre_server::migrate_postgres(url, None).expect("migrate the bench database");
    let store = Arc::new(PgStore::open(url, "bench").expect("open the PostgreSQL store"));
    Throughput::print_header();
    std::fs::create_dir_all(dir).expect("directory");
    let key = SigningKey::load_or_create(dir).expect("key").value;
    for (producers, cap) in PRODUCERS {
        for s in 0..producers.div_ceil(PER_SESSION) {
            store
                .acquire(&format!("s_{s}"), Duration::from_secs(3600))
                .expect("lease")
                .expect("a free session");
        }
        let ledger = Ledger::with_store(
            store.clone(),
            JwsSigner::new(&key),
            LedgerOptions::default(),
        )
        .expect("ledger");
        let r = rt.block_on(throughput(ledger, producers, cap, Duration::from_secs(10)));
        r.print_row(producers);
    }
}

async fn throughput(ledger: Ledger, producers: u64, cap: u64, budget: Duration) -> Throughput {
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + budget;
    let mut tasks = Vec::new();
    for p in 0..producers {
        let ledger = ledger.clone();
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            let sid = format!("s_{}", p / PER_SESSION);
            let actor = format!("p_{p:04}");
            let mut latencies = Vec::new();
            loop {
                let i = issued.fetch_add(1, Ordering::Relaxed);
                if i >= cap || Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                ledger
                    .append(realistic(&sid, &actor, i))
                    .await
                    .expect("append");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("producer"));
    }
    let seconds = start.elapsed().as_secs_f64();
    let stats = ledger.stats();
    ledger.shutdown().await.expect("shutdown");
    latencies.sort();
    let pct = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len() - 1);
        latencies[i].as_secs_f64() * 1000.0
    };
    Throughput {
        count: latencies.len() as u64,
        seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: pct(1.0),
        batches: stats.batches,
    }
}

/// An event of a realistic kind and size, cycling through the assumed mix
/// of a participant-hour.
fn realistic(sid: &str, actor: &str, i: u64) -> NewEvent {
    let connection_id = format!("c_{actor}_{}", i / 30);
    let now = 1_795_710_822_362 + i as i64 * 120_000;
    let (kind, payload) = match i % 30 {
        0 => (
            kind::CONNECTION_OPENED,
            json!({"connection_id": connection_id, "ip": "192.0.2.44", "forwarded_for": null,
                   "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}),
        ),
        1 => (
            kind::CONNECTION_CLOSED,
            json!({"connection_id": connection_id, "reason": "disconnected", "last_seen": now}),
        ),
        2..=7 => (
            kind::HEARTBEATS,
            json!({"connection_id": connection_id, "from": now - 600_000, "to": now, "count": 60}),
        ),
        8..=17 => (
            kind::VISIBILITY,
            json!({"connection_id": connection_id, "visible": i.is_multiple_of(2)}),
        ),
        18..=27 => (
            kind::FOCUS,
            json!({"connection_id": connection_id, "focused": i.is_multiple_of(2)}),
        ),
        28 => (
            kind::MEDIA,
            json!({"connection_id": connection_id, "camera": true, "microphone": false}),
        ),
        _ => (kind::SIGNED_IN, json!({"slot": "2026-11-26.am"})),
    };
    NewEvent {
        sid: sid.to_owned(),
        kind,
        actor: actor.to_owned(),
        payload,
        client_ts: Some(now - 40),
    }
}

struct Size {
    sessions: u64,
    participants: u64,
    hours: u64,
    entries: u64,
    mean_text: f64,
    file_per_entry: f64,
}

async fn size(dir: &Path) -> Size {
    let (sessions, participants, hours) = (4u64, 30u64, 7u64);
    let per_session = participants * hours * EVENTS_PER_PARTICIPANT_HOUR;
    let ledger = open(dir);
    // Sessions interleave in the file as they would on a busy server.
    let mut tasks = Vec::new();
    for s in 0..sessions {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            let sid = format!("s_{s:02}_{}", "x".repeat(20));
            let mut text = 0u64;
            for i in 0..per_session {
                let actor = format!("p_{}_{}", i % participants, "y".repeat(20));
                let a = ledger
                    .append(realistic(&sid, &actor, i))
                    .await
                    .expect("append");
                text += a.text.len() as u64;
            }
            text
        }));
    }
    let mut text = 0;
    for t in tasks {
        text += t.await.expect("task");
    }
    ledger.shutdown().await.expect("shutdown");
    let conn = rusqlite::Connection::open(dir.join(LEDGER_FILE)).expect("open");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    let bytes = std::fs::metadata(dir.join(LEDGER_FILE))
        .expect("size")
        .len();
    let entries = sessions * per_session;
    Size {
        sessions,
        participants,
        hours,
        entries,
        mean_text: text as f64 / entries as f64,
        file_per_entry: bytes as f64 / entries as f64,
    }
}

async fn tree_costs(dir: &Path, n: u64) {
    let ledger = open(dir);
    let sid = "s_long";
    let mut pending = Vec::new();
    for i in 0..n {
        let ledger = ledger.clone();
        pending.push(tokio::spawn(async move {
            let actor = format!("p_{:02}", i % PER_SESSION);
            ledger
                .append(realistic(sid, &actor, i))
                .await
                .expect("append")
        }));
        if pending.len() == 512 {
            for p in pending.drain(..) {
                p.await.expect("append");
            }
        }
    }
    for p in pending {
        p.await.expect("append");
    }
    let half = ledger.tree_head(sid).await.expect("head");
    assert_eq!(half.head.tree_size, n);

    println!("| operation ({n} entries) | time |");
    println!("|---|---:|");
    let t = Instant::now();
    let entries = ledger.entries(sid).await.expect("entries");
    row("read every entry (`entries`)", t.elapsed());
    let leaves: Vec<Hash> = entries.iter().map(|e| e.leaf_hash).collect();

    let t = Instant::now();
    let _ = merkle::root(&leaves);
    row(
        "root over the leaf hashes in memory (`merkle::root`)",
        t.elapsed(),
    );

    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        ledger.tree_head(sid).await.expect("head");
        times.push(t.elapsed());
    }
    times.sort();
    row(
        "signed tree head, recomputed from the store and recorded (`tree_head`, median of 5)",
        times[2],
    );

    // A person's proof: their own entries (1 in 30) among everyone's.
    let seqs: Vec<u64> = (0..n).step_by(PER_SESSION as usize).collect();
    let t = Instant::now();
    let proofs = ledger
        .inclusion_proofs(sid, n, &seqs)
        .await
        .expect("proofs");
    row(
        &format!("{} inclusion proofs (`inclusion_proofs`)", seqs.len()),
        t.elapsed(),
    );
    assert_eq!(proofs.len(), seqs.len());

    let sample = 50;
    let t = Instant::now();
    for &s in seqs.iter().take(sample) {
        let _ = merkle::inclusion_proof(&leaves, s as usize);
    }
    let per = t.elapsed() / sample as u32;
    row(
        &format!(
            "the same {} proofs one by one with `merkle::inclusion_proof` (extrapolated from {sample})",
            seqs.len()
        ),
        per * seqs.len() as u32,
    );

    let t = Instant::now();
    ledger
        .consistency_proof(sid, n / 2, n)
        .await
        .expect("consistency");
    row("consistency proof (n/2 → n)", t.elapsed());

    let t = Instant::now();
    let export = ledger.export(sid).await.expect("export");
    row(&format!("export ({} KB)", export.len() / 1000), t.elapsed());

    // Every join asks for the person's consent decisions: a withdrawal
    // then a grant, at the end of the long log.
    let person = "p_07";
    for granted in [false, true] {
        ledger
            .append(NewEvent {
                sid: sid.to_owned(),
                kind: kind::CONSENT,
                actor: person.to_owned(),
                payload: json!({"consent": consent::RECORDING, "granted": granted,
                                "text_sha256": "9f2c"}),
                client_ts: None,
            })
            .await
            .expect("append");
    }
    let runs = 21;
    row_us(
        &format!("a person's consents, whole log read and parsed (median of {runs})"),
        consents_time(&ledger, sid, person, runs, false).await,
    );
    row_us(
        &format!("a person's consents through `consents_by` (median of {runs})"),
        consents_time(&ledger, sid, person, runs, true).await,
    );
    ledger.shutdown().await.expect("shutdown");
}

/// Median time to find `person`'s recording decision, from the whole log
/// or (`indexed`) from their consent entries alone.
async fn consents_time(
    ledger: &Ledger,
    sid: &str,
    person: &str,
    runs: usize,
    indexed: bool,
) -> Duration {
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let stored = if indexed {
            ledger.consents_by(sid, person).await
        } else {
            ledger.entries(sid).await
        };
        let entries: Vec<Entry> = stored
            .expect("entries")
            .iter()
            .map(|e| Entry::parse(&e.text).expect("entry"))
            .collect();
        let decision = consent::decision(&entries, person, consent::RECORDING);
        times.push(t.elapsed());
        assert_eq!(decision, Some(true));
    }
    times.sort();
    times[runs / 2]
}

fn row_us(what: &str, d: Duration) {
    println!("| {what} | {:.3} ms |", d.as_secs_f64() * 1000.0);
}

fn row(what: &str, d: Duration) {
    println!("| {what} | {:.1} ms |", d.as_secs_f64() * 1000.0);
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
