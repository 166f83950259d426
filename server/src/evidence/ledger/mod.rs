//! The evidence ledger: one append-only, hash-chained (RFC 6962 Merkle) log
//! per session, its signed tree heads, proofs and export. The contract is
//! `docs/evidence.md`; entry format and hashing come from
//! [`cadre_protocol::evidence`] and [`cadre_protocol::merkle`].
//!
//! [`Ledger`] is the async handle the rest of the server holds. Appends go
//! through a bounded queue to a single writer thread (`writer.rs`) that
//! numbers them and commits them in batches; an append returns only once its
//! batch is committed (principle 4: durable before acknowledged). Reads run
//! on the blocking pool over their own connections and never wait for the
//! writer. Storage sits behind [`LedgerStore`]: SQLite ([`SqliteStore`],
//! `ledger.sqlite3` in the data directory) now, PostgreSQL later.
//!
//! Tree heads and proofs are recomputed from the stored leaf hashes on each
//! request rather than kept as an in-memory frontier: for a 20,000-entry
//! session that is a few milliseconds (see `BENCHMARKS.md`, "Ledger"), it
//! needs no state to rebuild after a restart, and it always covers exactly
//! what is durable.

mod holding;
pub mod postgres;
pub mod sqlite;
pub mod store;
pub mod tree;
mod writer;

pub use holding::Hold;
pub use sqlite::{LEDGER_FILE, SqliteStore};
pub use store::{
    AnchorProgress, AnchorRow, EntryRow, HeadRow, Leaf, Leases, LedgerStore, StoreError,
    StoreWriter, StoredEntry, Tail,
};

use crate::evidence::jws::{JwsError, JwsSigner, TREE_HEAD_JWS_TYP};
use cadre_protocol::evidence::{TREE_HEAD_TYP, TreeHead};
use cadre_protocol::merkle::{self, Hash};
use cadre_protocol::proof::{ExportedAnchor, TREE_HEADS_LINE_VERSION, TreeHeadsLine};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use writer::{Clock, Counters, Prepared, Request, Writer};

/// Appends that may wait for the writer before producers are held back.
pub const DEFAULT_QUEUE: usize = 8192;
/// Most requests committed in one transaction.
pub const DEFAULT_MAX_BATCH: usize = 1024;
/// Longest session or actor id accepted, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Largest payload accepted, in bytes of JSON (a drawn signature is the
/// largest legitimate one, a few kilobytes).
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Format version of a tree head's payload.
pub const TREE_HEAD_VERSION: u32 = 1;

/// Ledger failures.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The request is malformed; nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// A tree size or sequence number beyond the log.
    #[error("{0}")]
    Range(String),
    /// The store failed while reading, or while opening.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The batch holding this request failed: it was not recorded (every
    /// request of the batch gets this error, none was acknowledged).
    #[error("ledger commit failed: {0}")]
    Commit(Arc<StoreError>),
    /// A tree head could not be signed.
    #[error(transparent)]
    Sign(#[from] JwsError),
    /// The system random generator failed (entry salts).
    #[error("no randomness available")]
    Random,
    /// The ledger was shut down (or its writer died); nothing was written.
    #[error("the ledger is closed")]
    Closed,
    /// The writer thread could not be started.
    #[error("cannot start the ledger writer: {0}")]
    Spawn(std::io::Error),
    /// A blocking read task panicked or was cancelled.
    #[error("ledger task failed: {0}")]
    Task(String),
    /// Another node writes this session (it holds its lease); nothing was
    /// written here.
    #[error("session {0} is held by another node: its evidence is written there")]
    Elsewhere(String),
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Session id.
    pub sid: String,
    /// Event kind, one of [`cadre_protocol::evidence::kind`].
    pub kind: &'static str,
    /// Participant id, or `server` / `organiser`.
    pub actor: String,
    /// Kind-specific JSON object.
    pub payload: serde_json::Value,
    /// The client's own claimed time (ms), kept beside the server's.
    pub client_ts: Option<i64>,
}

/// A durable entry: what the writer made of a [`NewEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Position in the session's log.
    pub seq: u64,
    /// Server time given to it (ms).
    pub ts: i64,
    /// The exact canonical text stored and hashed.
    pub text: String,
    /// Its leaf hash.
    pub leaf_hash: Hash,
}

/// A tree head and its JWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    /// The signed payload.
    pub head: TreeHead,
    /// The compact JWS handed out (a receipt, when given to a participant).
    pub jws: String,
}

/// What the writer has done since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerStats {
    /// Transactions committed.
    pub batches: u64,
    /// Entries committed.
    pub entries: u64,
    /// Tree heads recorded.
    pub heads: u64,
    /// Transactions that failed (their requests all got an error).
    pub failed_batches: u64,
    /// Most requests in one transaction.
    pub largest_batch: u64,
}

/// Tuning of the writer.
#[derive(Clone)]
pub struct LedgerOptions {
    /// Capacity of the queue to the writer.
    pub queue: usize,
    /// Most requests per transaction.
    pub max_batch: usize,
    clock: Clock,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            queue: DEFAULT_QUEUE,
            max_batch: DEFAULT_MAX_BATCH,
            clock: writer::system_clock(),
        }
    }
}

impl std::fmt::Debug for LedgerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerOptions")
            .field("queue", &self.queue)
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

/// The ledger writer's state, as [`Ledger::health`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct WriterHealth {
    /// The writer thread is running (not shut down, not panicked).
    pub alive: bool,
    /// When a transaction last committed (ms since the epoch; 0: never).
    pub last_commit_ms: i64,
    /// When one last failed (ms since the epoch; 0: never).
    pub last_failure_ms: i64,
}

/// Handle to the ledger; cheap to clone. The writer stops when
/// [`Ledger::shutdown`] is called or when the last clone is dropped; either
/// way it first commits and answers everything already queued.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<Request>,
    store: Arc<dyn LedgerStore>,
    signer: JwsSigner,
    clock: Clock,
    counters: Arc<Counters>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    holding: Arc<holding::Holding>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens the SQLite ledger in `dir` (creating `ledger.sqlite3`) and
    /// starts its writer. Verifies nothing, so start-up does not grow with
    /// the ledger: a crash leaves whole transactions only, and numbering
    /// continues from the last durable entry of each session.
    pub fn open(dir: &Path, signer: JwsSigner) -> Result<Ledger, LedgerError> {
        let store = SqliteStore::open(dir)?;
        Ledger::with_store(Arc::new(store), signer, LedgerOptions::default())
    }

    /// Starts a ledger over any backend.
    pub fn with_store(
        store: Arc<dyn LedgerStore>,
        signer: JwsSigner,
        options: LedgerOptions,
    ) -> Result<Ledger, LedgerError> {
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let counters = Arc::new(Counters::default());
        let writer = Writer::new(
            store.writer()?,
            rx,
            options.clock.clone(),
            options.max_batch,
            counters.clone(),
        );
        let handle = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer.run())
            .map_err(LedgerError::Spawn)?;
        Ok(Ledger {
            inner: Arc::new(Inner {
                tx,
                store,
                signer,
                clock: options.clock,
                counters,
                writer: Mutex::new(Some(handle)),
                holding: Arc::default(),
            }),
        })
    }

    /// The signer of tree heads (clones share its key: see
    /// [`JwsSigner::use_key`]).
    pub fn signer(&self) -> &JwsSigner {
        &self.inner.signer
    }

    /// Records `event`; returns once it is durable, with the seq, server
    /// time and exact text it was given. On error nothing was recorded —
    /// except in the rare case of a sync failure, where the entry may have
    /// reached the disk without being acknowledged (never the reverse).
    ///
    /// Dropping the returned future after the event was queued does not
    /// withdraw it.
    pub async fn append(&self, event: NewEvent) -> Result<Appended, LedgerError> {
        let event = prepare(event)?;
        let _hold = self.hold(&event.sid).await?;
        let (reply, answer) = oneshot::channel();
        self.inner
            .tx
            .send(Request::Append { event, reply })
            .await
            .map_err(|_| LedgerError::Closed)?;
        answer.await.map_err(|_| LedgerError::Closed)?
    }

    /// Every durable entry of `sid`, in order.
    pub async fn entries(&self, sid: &str) -> Result<Vec<StoredEntry>, LedgerError> {
        check_id("session id", sid)?;
        let sid = sid.to_owned();
        self.read(move |store| Ok(store.entries(&sid, None)?)).await
    }

    /// The durable `consent` entries of `sid` by `actor`, in order; cheap
    /// whatever the length of the log.
    pub async fn consents_by(
        &self,
        sid: &str,
        actor: &str,
    ) -> Result<Vec<StoredEntry>, LedgerError> {
        check_id("session id", sid)?;
        check_id("actor", actor)?;
        let (sid, actor) = (sid.to_owned(), actor.to_owned());
        self.read(move |store| Ok(store.consents_by(&sid, &actor)?))
            .await
    }

    /// `pid`'s latest consent decisions, and the sequence number of the
    /// `recording` one (so that decisions read at different times can be
    /// ordered as the log orders them); read through the actor index. A
    /// stored entry that does not parse fails the read: skipping it could
    /// skip a withdrawal.
    pub async fn consents(
        &self,
        sid: &str,
        pid: &str,
    ) -> Result<(cadre_protocol::api::Consents, Option<u64>), LedgerError> {
        use cadre_protocol::evidence::{Entry, consent};
        let entries = self
            .consents_by(sid, pid)
            .await?
            .iter()
            .map(|e| Entry::parse(&e.text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| LedgerError::Invalid(format!("a stored consent entry: {e}")))?;
        let recording = consent::latest(&entries, pid, consent::RECORDING);
        let consents = cadre_protocol::api::Consents {
            recording: recording.map(|(_, granted)| granted),
            sponsor_share: consent::decision(&entries, pid, consent::SPONSOR_SHARE),
        };
        Ok((consents, recording.map(|(seq, _)| seq)))
    }

    /// A signed tree head over every durable entry of `sid`: the latest one
    /// recorded when the log has not grown since (every download would
    /// otherwise store one more identical head), else a new one, recorded.
    /// An empty log gets `tree_size` 0 and the empty root. Its time is never
    /// before the last entry it covers.
    pub async fn tree_head(&self, sid: &str) -> Result<SignedHead, LedgerError> {
        check_id("session id", sid)?;
        let owned = sid.to_owned();
        let signer = self.inner.signer.clone();
        let clock = self.inner.clock.clone();
        let (signed, root, reused) = self
            .read(move |store| {
                let leaves = store.leaves(&owned, None)?;
                let last_ts = leaves.last().map_or(i64::MIN, |l| l.ts);
                let hashes = contiguous(&owned, leaves)?;
                let root = merkle::root(&hashes);
                if let Some(latest) = store.latest_head(&owned)?
                    && latest.tree_size == hashes.len() as u64
                    && latest.root == root
                {
                    let head = TreeHead {
                        typ: TREE_HEAD_TYP.to_owned(),
                        v: TREE_HEAD_VERSION,
                        sid: owned,
                        tree_size: latest.tree_size,
                        root: merkle::to_hex(&root),
                        ts: latest.ts,
                    };
                    let jws = latest.jws;
                    return Ok((SignedHead { head, jws }, root, true));
                }
                let head = TreeHead {
                    typ: TREE_HEAD_TYP.to_owned(),
                    v: TREE_HEAD_VERSION,
                    sid: owned,
                    tree_size: hashes.len() as u64,
                    root: merkle::to_hex(&root),
                    ts: clock().max(last_ts),
                };
                let jws = signer.sign_typed(TREE_HEAD_JWS_TYP, &head)?;
                Ok((SignedHead { head, jws }, root, false))
            })
            .await?;
        if reused {
            return Ok(signed);
        }
        let row = HeadRow {
            sid: signed.head.sid.clone(),
            tree_size: signed.head.tree_size,
            root,
            ts: signed.head.ts,
            jws: signed.jws.clone(),
        };
        // Recorded before it is handed out, so an export lists every head
        // anyone may hold.
        let _hold = self.hold(sid).await?;
        let (reply, answer) = oneshot::channel();
        self.inner
            .tx
            .send(Request::Head { row, reply })
            .await
            .map_err(|_| LedgerError::Closed)?;
        answer.await.map_err(|_| LedgerError::Closed)??;
        Ok(signed)
    }

    /// The audit path of each of `seqs` in the tree of the first `tree_size`
    /// entries of `sid`, in the order asked.
    pub async fn inclusion_proofs(
        &self,
        sid: &str,
        tree_size: u64,
        seqs: &[u64],
    ) -> Result<Vec<Vec<Hash>>, LedgerError> {
        check_id("session id", sid)?;
        if let Some(seq) = seqs.iter().find(|&&s| s >= tree_size) {
            return Err(LedgerError::Range(format!(
                "entry {seq} is not in a tree of {tree_size} entries"
            )));
        }
        let sid = sid.to_owned();
        let seqs = seqs.to_vec();
        self.read(move |store| {
            let hashes = contiguous(&sid, store.leaves(&sid, Some(tree_size))?)?;
            check_size(&sid, tree_size, hashes.len())?;
            let tree = tree::ProofTree::new(hashes);
            seqs.iter()
                .map(|&seq| {
                    usize::try_from(seq)
                        .ok()
                        .and_then(|i| tree.inclusion_proof(i))
                        .ok_or_else(|| LedgerError::Range(format!("no entry {seq}")))
                })
                .collect()
        })
        .await
    }

    /// The proof that the tree of the first `new_size` entries of `sid`
    /// extends the tree of its first `old_size` (empty when `old_size` is 0
    /// or equals `new_size`: there is nothing to prove).
    pub async fn consistency_proof(
        &self,
        sid: &str,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, LedgerError> {
        check_id("session id", sid)?;
        if old_size > new_size {
            return Err(LedgerError::Range(format!(
                "a tree of {old_size} entries cannot be extended by one of {new_size}"
            )));
        }
        let sid = sid.to_owned();
        self.read(move |store| {
            let hashes = contiguous(&sid, store.leaves(&sid, Some(new_size))?)?;
            check_size(&sid, new_size, hashes.len())?;
            if old_size == 0 || old_size == new_size {
                return Ok(Vec::new());
            }
            usize::try_from(old_size)
                .ok()
                .and_then(|m| merkle::consistency_proof(&hashes, m))
                .ok_or_else(|| LedgerError::Range(format!("no tree of {old_size} entries")))
        })
        .await
    }

    /// The session's whole ledger for an auditor: one line per entry (the
    /// exact stored text, in order), then `{"tree_heads":[…]}` with every
    /// tree head issued for it, ending with one over exactly the entries
    /// above. Heads are never filtered against the log: one covering more
    /// entries than the log holds is how a verifier learns the log was
    /// truncated, so leaving it out would hide exactly that.
    pub async fn export(&self, sid: &str) -> Result<String, LedgerError> {
        let fresh = self.tree_head(sid).await?;
        let size = fresh.head.tree_size;
        let sid = sid.to_owned();
        let (entries, heads, anchors) = self
            .read(move |store| {
                let entries = store.entries(&sid, Some(size))?;
                let heads = store.heads(&sid)?;
                let anchors = store.anchors(&sid)?;
                Ok((entries, heads, anchors))
            })
            .await?;
        // Entries are never removed, so the first `size` are still there.
        if entries.len() as u64 != size {
            return Err(LedgerError::Store(StoreError::Corrupt(format!(
                "{} entries read where the tree head covers {size}",
                entries.len()
            ))));
        }
        let mut out =
            String::with_capacity(entries.iter().map(|e| e.text.len() + 1).sum::<usize>() + 1024);
        for e in &entries {
            out.push_str(&e.text);
            out.push('\n');
        }
        use base64::Engine as _;
        let trailer = TreeHeadsLine {
            v: Some(TREE_HEADS_LINE_VERSION),
            tree_heads: heads,
            anchors: anchors
                .into_iter()
                .map(|a| ExportedAnchor {
                    tree_head: a.head_jws,
                    token: base64::engine::general_purpose::STANDARD.encode(&a.token),
                })
                .collect(),
        };
        let trailer = serde_json::to_string(&trailer)
            .map_err(|e| LedgerError::Invalid(format!("the export's last line: {e}")))?;
        out.push_str(&trailer);
        out.push('\n');
        Ok(out)
    }

    /// Stores an anchor; returns once it is durable.
    pub async fn record_anchor(&self, row: AnchorRow) -> Result<(), LedgerError> {
        check_id("session id", &row.sid)?;
        let (reply, answer) = oneshot::channel();
        self.inner
            .tx
            .send(Request::Anchor { row, reply })
            .await
            .map_err(|_| LedgerError::Closed)?;
        answer.await.map_err(|_| LedgerError::Closed)?
    }

    /// Every anchor of `sid`, oldest first.
    pub async fn anchors(&self, sid: &str) -> Result<Vec<AnchorRow>, LedgerError> {
        check_id("session id", sid)?;
        let sid = sid.to_owned();
        self.read(move |store| Ok(store.anchors(&sid)?)).await
    }

    /// How far `sid`'s log (or each session's) is anchored.
    pub async fn anchor_progress(
        &self,
        sid: Option<&str>,
    ) -> Result<Vec<AnchorProgress>, LedgerError> {
        if let Some(sid) = sid {
            check_id("session id", sid)?;
        }
        let sid = sid.map(str::to_owned);
        self.read(move |store| Ok(store.anchor_progress(sid.as_deref())?))
            .await
    }

    /// Every session with at least one entry (for example to bracket each
    /// with `server_stopping` on shutdown).
    pub async fn sessions_with_entries(&self) -> Result<Vec<String>, LedgerError> {
        self.read(|store| Ok(store.sessions()?)).await
    }

    /// The writer's counters.
    pub fn stats(&self) -> LedgerStats {
        let c = &self.inner.counters;
        LedgerStats {
            batches: c.batches.load(Ordering::Relaxed),
            entries: c.entries.load(Ordering::Relaxed),
            heads: c.heads.load(Ordering::Relaxed),
            failed_batches: c.failed_batches.load(Ordering::Relaxed),
            largest_batch: c.largest_batch.load(Ordering::Relaxed),
        }
    }

    /// The writer's figures for `/metrics`.
    pub fn metrics(&self) -> crate::metrics::LedgerFigures<'_> {
        let c = &self.inner.counters;
        crate::metrics::LedgerFigures {
            commit_micros: &c.commit_micros,
            batch_entries: &c.batch_entries,
            failed_batches: c.failed_batches.load(Ordering::Relaxed),
        }
    }

    /// How the writer is, for `/readyz`: whether its thread runs, and when
    /// (ms since the epoch, 0: never) a transaction last committed and last
    /// failed.
    pub fn health(&self) -> WriterHealth {
        let alive = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|h| !h.is_finished());
        let c = &self.inner.counters;
        WriterHealth {
            alive,
            last_commit_ms: c.last_commit_ms.load(Ordering::Relaxed),
            last_failure_ms: c.last_failure_ms.load(Ordering::Relaxed),
        }
    }

    /// Commits and answers everything queued, then stops the writer and
    /// waits for it. Later appends, through any clone, get
    /// [`LedgerError::Closed`]; reads keep working. Calling it again does
    /// nothing. (It takes `&self` so the holder of a shared handle, such as
    /// the application state, can call it.)
    pub async fn shutdown(&self) -> Result<(), LedgerError> {
        // If the writer is gone already, there is nothing to tell it.
        let _ = self.inner.tx.send(Request::Shutdown).await;
        let handle = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| LedgerError::Task(e.to_string()))?
                .map_err(|_| LedgerError::Task("the ledger writer panicked".into()))?;
        }
        self.release_every_lease().await;
        Ok(())
    }

    /// Runs a read on the blocking pool: SQLite calls block, and a long read
    /// (an export) must not hold a runtime worker.
    async fn read<T, F>(&self, work: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn LedgerStore) -> Result<T, LedgerError> + Send + 'static,
    {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || work(store.as_ref()))
            .await
            .map_err(|e| LedgerError::Task(e.to_string()))?
    }
}

/// Checks an event and serialises its payload, in the caller's task.
fn prepare(event: NewEvent) -> Result<Prepared, LedgerError> {
    check_id("session id", &event.sid)?;
    check_id("actor", &event.actor)?;
    if event.kind.is_empty() {
        return Err(LedgerError::Invalid("an event needs a kind".into()));
    }
    if !event.payload.is_object() {
        return Err(LedgerError::Invalid(format!(
            "the payload of a {} event must be a JSON object",
            event.kind
        )));
    }
    let payload = serde_json::value::to_raw_value(&event.payload)
        .map_err(|e| LedgerError::Invalid(format!("payload: {e}")))?;
    if payload.get().len() > MAX_PAYLOAD_BYTES {
        return Err(LedgerError::Invalid(format!(
            "the payload of a {} event is {} bytes; the limit is {MAX_PAYLOAD_BYTES}",
            event.kind,
            payload.get().len()
        )));
    }
    Ok(Prepared {
        sid: event.sid,
        kind: event.kind,
        actor: event.actor,
        payload,
        client_ts: event.client_ts,
    })
}

fn check_id(what: &str, value: &str) -> Result<(), LedgerError> {
    if value.is_empty() || value.len() > MAX_ID_BYTES {
        return Err(LedgerError::Invalid(format!(
            "the {what} must be 1 to {MAX_ID_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The leaf hashes of `leaves`, checking they are entries 0, 1, 2… with no
/// gap: a tree over anything else would not be the session's log.
fn contiguous(sid: &str, leaves: Vec<Leaf>) -> Result<Vec<Hash>, LedgerError> {
    leaves
        .into_iter()
        .enumerate()
        .map(|(i, leaf)| {
            if leaf.seq == i as u64 {
                Ok(leaf.hash)
            } else {
                Err(LedgerError::Store(StoreError::Corrupt(format!(
                    "the log of {sid} has entry {} where entry {i} belongs",
                    leaf.seq
                ))))
            }
        })
        .collect()
}

fn check_size(sid: &str, wanted: u64, have: usize) -> Result<(), LedgerError> {
    if (have as u64) < wanted {
        return Err(LedgerError::Range(format!(
            "the log of {sid} has {have} entries, not {wanted}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
