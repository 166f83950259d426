//! The ledger's single writer: a dedicated thread that owns the store's
//! write side, numbers entries, and commits everything waiting as one
//! transaction (group commit: one sync for many appends).
//!
//! Why a thread and not a task: a commit blocks on the disk for as long as
//! the disk likes, and it must never hold a runtime worker while it does.
//! Why one writer: sequence numbers without gaps need a single place that
//! hands them out, and the durable order is then the numbering order.

use super::store::{AnchorRow, EntryRow, HeadRow, StoreWriter};
use super::{Appended, LedgerError};
use crate::metrics::Histogram;
use cadre_protocol::evidence::{self, ENTRY_VERSION, Entry};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// A request arriving this soon after the previous commit means appends are
/// coming faster than one sync each (a wave of joins, a whole class
/// reconnecting).
const BURST_WINDOW: Duration = Duration::from_millis(3);

/// The longest a commit under a burst waits for more appends to share its
/// sync and the index pages it writes: small beside a join's other steps
/// and a client's round trip. Measured at 10,000 joins (BENCHMARKS.md, run
/// R), three pairs back to back: 200 µs → 2 ms took the server's CPU per
/// join from 0.52 to 0.45 ms, and the join's p99 got no longer.
const BURST_LINGER: Duration = Duration::from_millis(2);

/// The linger's step: it ends at a step that brought nothing.
const LINGER_SLICE: Duration = Duration::from_micros(500);

/// A batch this large already shares its sync widely: committed without
/// waiting for more.
const FULL_ENOUGH: usize = 64;

/// Server time in UTC milliseconds; replaceable in tests to make the clock
/// step backwards.
pub(crate) type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub(crate) fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp_millis())
}

/// An event checked and half-built by the caller's task (so that payload
/// serialisation runs on the runtime's workers, not on the writer thread).
#[derive(Clone)]
pub(crate) struct Prepared {
    pub sid: String,
    pub kind: &'static str,
    pub actor: String,
    pub payload: Box<RawValue>,
    pub client_ts: Option<i64>,
}

/// What the writer is asked to do.
pub(crate) enum Request {
    /// Number, store and acknowledge one event.
    Append {
        event: Prepared,
        reply: oneshot::Sender<Result<Appended, LedgerError>>,
    },
    /// Record a signed tree head.
    Head {
        row: HeadRow,
        reply: oneshot::Sender<Result<(), LedgerError>>,
    },
    /// Record an anchor (a time-stamp of a tree head).
    Anchor {
        row: AnchorRow,
        reply: oneshot::Sender<Result<(), LedgerError>>,
    },
    /// Finish everything queued, then stop.
    Shutdown,
}

/// Counters the writer keeps, read by [`super::Ledger::stats`] and
/// [`super::Ledger::metrics`]. Atomics only: the writer records a batch
/// without a lock.
#[derive(Debug)]
pub(crate) struct Counters {
    pub batches: AtomicU64,
    pub entries: AtomicU64,
    pub heads: AtomicU64,
    pub failed_batches: AtomicU64,
    pub largest_batch: AtomicU64,
    /// Each commit's duration (µs) and size, for `/metrics`.
    pub commit_micros: Histogram,
    pub batch_entries: Histogram,
    /// When the last transaction committed, and when one last failed (ms
    /// since the epoch; 0: never), for `/readyz`.
    pub last_commit_ms: AtomicI64,
    pub last_failure_ms: AtomicI64,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            batches: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            heads: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
            largest_batch: AtomicU64::new(0),
            commit_micros: Histogram::new(crate::metrics::COMMIT_MICROS),
            batch_entries: Histogram::new(crate::metrics::BATCH_ENTRIES),
            last_commit_ms: AtomicI64::new(0),
            last_failure_ms: AtomicI64::new(0),
        }
    }
}

/// Wall-clock milliseconds, for the readiness check's "recent commit".
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Where a session's log continues.
#[derive(Debug, Clone, Copy)]
struct Next {
    /// The next sequence number to hand out.
    seq: u64,
    /// The last entry's server time (`i64::MIN` for an empty log).
    ts: i64,
}

/// Bytes of salt drawn from the system generator at once: 64 entries'.
const SALT_BLOCK: usize = 16 * 64;

/// Entry salts, drawn from the system generator a block at a time: one
/// system call serves a burst of joins instead of one call per entry
/// (a profile of joins found one per entry). A salt handed out is wiped
/// from the block, so the writer keeps only salts not yet used.
struct Salts {
    rng: SystemRandom,
    block: [u8; SALT_BLOCK],
    used: usize,
}

impl Salts {
    fn new() -> Salts {
        Salts {
            rng: SystemRandom::new(),
            block: [0; SALT_BLOCK],
            used: SALT_BLOCK,
        }
    }

    fn next(&mut self) -> Result<[u8; 16], LedgerError> {
        if self.used == SALT_BLOCK {
            self.rng
                .fill(&mut self.block)
                .map_err(|_| LedgerError::Random)?;
            self.used = 0;
        }
        let taken = &mut self.block[self.used..self.used + 16];
        let mut salt = [0u8; 16];
        salt.copy_from_slice(taken);
        taken.fill(0);
        self.used += 16;
        Ok(salt)
    }
}

pub(crate) struct Writer {
    store: Box<dyn StoreWriter>,
    rx: mpsc::Receiver<Request>,
    /// Durable tails of the sessions seen so far. Only committed batches
    /// update it; a failed batch removes its sessions so that they are
    /// reloaded from what the store actually holds.
    next: HashMap<String, Next>,
    salts: Salts,
    clock: Clock,
    max_batch: usize,
    counters: Arc<Counters>,
}

impl Writer {
    pub(crate) fn new(
        store: Box<dyn StoreWriter>,
        rx: mpsc::Receiver<Request>,
        clock: Clock,
        max_batch: usize,
        counters: Arc<Counters>,
    ) -> Writer {
        Writer {
            store,
            rx,
            next: HashMap::new(),
            salts: Salts::new(),
            clock,
            max_batch: max_batch.max(1),
            counters,
        }
    }

    /// Serves until shut down or until every handle is gone. Either way it
    /// commits whatever was queued first: an accepted request is always
    /// answered.
    pub(crate) fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch);
        let mut last_commit: Option<Instant> = None;
        let mut last_size = 0;
        while let Some(first) = self.rx.blocking_recv() {
            batch.push(first);
            // Whatever arrived while the last commit was syncing goes into
            // this one: the longer the disk takes, the larger the batch.
            self.gather(&mut batch);
            // Under a burst (several requests at once, moments after the
            // last commit), a short wait fills the batch: each sync then
            // serves more appends, which is most of the writer's CPU. An
            // append alone, or one writer's appends one after the other,
            // are committed at once.
            if batch.len() < FULL_ENOUGH.min(self.max_batch)
                && (batch.len() > 1 || last_size > 1)
                && last_commit.is_some_and(|t| t.elapsed() < BURST_WINDOW)
            {
                self.linger(&mut batch);
            }
            last_size = batch.len();
            self.process(&mut batch);
            last_commit = Some(Instant::now());
        }
    }

    /// Waits up to [`BURST_LINGER`] for more requests, in slices, and stops
    /// at a slice that brought none: producers that each wait for their
    /// answer (all of them already in the batch) are not held for
    /// nothing, while a wave of joins keeps filling it.
    fn linger(&mut self, batch: &mut Vec<Request>) {
        let until = Instant::now() + BURST_LINGER;
        loop {
            let before = batch.len();
            let left = until.saturating_duration_since(Instant::now());
            std::thread::sleep(LINGER_SLICE.min(left));
            self.gather(batch);
            if batch.len() == before || batch.len() >= FULL_ENOUGH || Instant::now() >= until {
                return;
            }
        }
    }

    /// Adds what is waiting to `batch`, up to the batch's limit.
    fn gather(&mut self, batch: &mut Vec<Request>) {
        while batch.len() < self.max_batch {
            match self.rx.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
    }

    fn process(&mut self, batch: &mut Vec<Request>) {
        let mut appends = Vec::with_capacity(batch.len());
        let mut heads = Vec::new();
        let mut anchors = Vec::new();
        // Heads and anchors are answered alike, after the commit.
        let mut head_replies = Vec::new();
        for request in batch.drain(..) {
            match request {
                Request::Append { event, reply } => appends.push((event, Some(reply))),
                Request::Head { row, reply } => {
                    heads.push(row);
                    head_replies.push(reply);
                }
                Request::Anchor { row, reply } => {
                    anchors.push(row);
                    head_replies.push(reply);
                }
                Request::Shutdown => {
                    // Refuse new requests; the loop still drains and commits
                    // those already queued, then sees the end of the channel.
                    self.rx.close();
                }
            }
        }
        if appends.is_empty() && heads.is_empty() && anchors.is_empty() {
            return;
        }
        // A batch fails to commit when another process appended to one of
        // its logs since the tail was read (the CLI answering a report on a
        // live data directory): nothing was acknowledged, so the tails are
        // reloaded from the store and the batch numbered again, once.
        let mut last_error = None;
        for attempt in 0..2 {
            let mut rows = Vec::with_capacity(appends.len());
            let mut acked = Vec::with_capacity(appends.len());
            // Tails as this batch leaves them; they become `self.next` only
            // if the batch commits.
            let mut overlay: HashMap<String, Next> = HashMap::new();
            for (i, (event, reply)) in appends.iter_mut().enumerate() {
                if reply.is_none() {
                    continue;
                }
                match self.number(event.clone(), &mut overlay) {
                    Ok((row, ack)) => {
                        rows.push(row);
                        acked.push((i, ack));
                    }
                    Err(e) => {
                        // Only this request failed; the batch goes on.
                        if let Some(reply) = reply.take() {
                            let _ = reply.send(Err(e));
                        }
                    }
                }
            }
            if rows.is_empty() && heads.is_empty() && anchors.is_empty() {
                return;
            }
            let started = Instant::now();
            let committed = self.store.commit(&rows, &heads, &anchors);
            let took = started.elapsed();
            match committed {
                Ok(()) => {
                    self.next.extend(overlay);
                    let c = &self.counters;
                    c.commit_micros.observe(took.as_micros() as u64);
                    c.batch_entries
                        .observe((rows.len() + heads.len() + anchors.len()) as u64);
                    c.last_commit_ms.store(wall_ms(), Ordering::Relaxed);
                    c.batches.fetch_add(1, Ordering::Relaxed);
                    c.entries.fetch_add(rows.len() as u64, Ordering::Relaxed);
                    c.heads.fetch_add(heads.len() as u64, Ordering::Relaxed);
                    c.largest_batch
                        .fetch_max((rows.len() + heads.len()) as u64, Ordering::Relaxed);
                    // Acknowledge only now: COMMIT has returned.
                    for (i, ack) in acked {
                        if let Some(reply) = appends[i].1.take() {
                            let _ = reply.send(Ok(ack));
                        }
                    }
                    for reply in head_replies {
                        let _ = reply.send(Ok(()));
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, entries = rows.len(), attempt, "ledger batch failed");
                    self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .last_failure_ms
                        .store(wall_ms(), Ordering::Relaxed);
                    // Whether a failed COMMIT reached the disk is not always
                    // knowable (a failed sync); reload these sessions' tails
                    // from the store rather than trust either guess.
                    for sid in overlay.keys() {
                        self.next.remove(sid);
                    }
                    // Only a taken (sid, seq) is retried: the store then
                    // rolled the whole transaction back, so nothing of this
                    // batch is on disk. Any other failure might have reached the
                    // disk, and numbering again could store an event twice.
                    let taken = e.seq_taken();
                    last_error = Some(Arc::new(e));
                    if !taken {
                        break;
                    }
                }
            }
        }
        let Some(e) = last_error else { return };
        for (_, reply) in appends {
            if let Some(reply) = reply {
                let _ = reply.send(Err(LedgerError::Commit(e.clone())));
            }
        }
        for reply in head_replies {
            let _ = reply.send(Err(LedgerError::Commit(e.clone())));
        }
    }

    /// Gives `event` its place in its session's log: seq, server time, salt.
    fn number(
        &mut self,
        event: Prepared,
        overlay: &mut HashMap<String, Next>,
    ) -> Result<(EntryRow, Appended), LedgerError> {
        let next = match overlay.get(&event.sid) {
            Some(n) => *n,
            None => self.durable_next(&event.sid)?,
        };
        // Never before the previous entry, even if the clock stepped back.
        let ts = (self.clock)().max(next.ts);
        let salt = self.salts.next()?;
        let entry = Entry {
            v: ENTRY_VERSION,
            sid: event.sid,
            seq: next.seq,
            ts,
            kind: event.kind.to_owned(),
            actor: event.actor,
            payload: event.payload,
            client_ts: event.client_ts,
            salt: hex(&salt),
        };
        let text = entry.canonical();
        if text.is_empty() {
            return Err(LedgerError::Invalid("the entry did not serialise".into()));
        }
        let leaf_hash = evidence::entry_hash(&text);
        overlay.insert(
            entry.sid.clone(),
            Next {
                seq: next.seq + 1,
                ts,
            },
        );
        let ack = Appended {
            seq: next.seq,
            ts,
            text: text.clone(),
            leaf_hash,
        };
        let row = EntryRow {
            sid: entry.sid,
            seq: next.seq,
            ts,
            kind: event.kind,
            actor: entry.actor,
            text,
            leaf_hash,
        };
        Ok((row, ack))
    }

    fn durable_next(&mut self, sid: &str) -> Result<Next, LedgerError> {
        if let Some(n) = self.next.get(sid) {
            return Ok(*n);
        }
        let next = match self.store.tail(sid).map_err(LedgerError::Store)? {
            Some(tail) => Next {
                seq: tail.seq + 1,
                ts: tail.ts,
            },
            None => Next {
                seq: 0,
                ts: i64::MIN,
            },
        };
        self.next.insert(sid.to_owned(), next);
        Ok(next)
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod salt_tests {
    use super::{SALT_BLOCK, Salts};

    #[test]
    fn salts_are_all_different_across_blocks_and_wiped_once_given() {
        let mut salts = Salts::new();
        let n = 3 * SALT_BLOCK / 16 + 5;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..n {
            let salt = salts.next().unwrap();
            assert_ne!(salt, [0; 16]);
            assert!(seen.insert(salt), "a salt came twice");
        }
        // What was handed out of the current block is no longer held.
        let given = salts.used;
        assert!(salts.block[..given].iter().all(|b| *b == 0));
        assert!(salts.block[given..].iter().any(|b| *b != 0));
    }
}
