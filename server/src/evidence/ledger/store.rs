//! The storage seam of the ledger: what a backend must do, and nothing of
//! how. SQLite ([`super::sqlite`]) is the embedded default; PostgreSQL
//! ([`super::postgres`]), for several nodes, implements the same two traits.
//!
//! The split follows the ledger's concurrency: exactly one [`StoreWriter`]
//! exists per store and lives on the writer thread, which is the only code
//! that assigns sequence numbers; any number of readers share the
//! [`LedgerStore`]. Calls are blocking; the ledger runs reads on the blocking
//! pool and writes on its own thread.

use cadre_protocol::merkle::Hash;

/// Backend failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (including a trigger refusing a write).
    #[error("ledger database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed, or could not be reached.
    #[error("ledger database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// This node does not hold the session's lease, or no longer: another
    /// node took it over, or it expired. Nothing of the batch was written.
    #[error("ledger write fenced off: {0}")]
    Fenced(String),
    /// The database cannot be used as it is: it would acknowledge writes
    /// it may lose (`fsync` off), lacks the schema this cadre writes, or
    /// its URL (or the node's name) is malformed. Refused at start, before
    /// any entry is accepted.
    #[error("ledger database refused: {0}")]
    Unsuitable(String),
    /// The store's directory could not be used.
    #[error("ledger directory: {0}")]
    Io(#[from] std::io::Error),
    /// A stored row does not have the shape the ledger wrote (the file was
    /// edited outside cadre, or a different program shares it).
    #[error("corrupt ledger row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether a commit failed only because an entry's `(sid, seq)` was
    /// taken, which both backends refuse before anything of the transaction
    /// is stored: the writer may then number the batch again. Another
    /// process (the CLI on a live data directory, or the node that held the
    /// session before) appended since the writer read the tail.
    pub fn seq_taken(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, message)) => {
                f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || (f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER
                        && message
                            .as_deref()
                            .is_some_and(|m| m.ends_with("entry exists")))
            }
            StoreError::Postgres(e) => e.as_db_error().is_some_and(|d| {
                *d.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION
                    && d.constraint() == Some(super::postgres::ENTRIES_KEY)
            }),
            _ => false,
        }
    }
}

/// A stored sequence number or size, which the schemas keep non-negative.
pub(super) fn to_seq(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative seq {value}")))
}

/// A sequence number or size as both databases store it (signed 64 bits).
pub(super) fn to_sql(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("seq {value} out of range")))
}

/// A stored hash, which must be 32 bytes.
pub(super) fn to_hash(bytes: &[u8]) -> Result<Hash, StoreError> {
    Hash::try_from(bytes).map_err(|_| StoreError::Corrupt(format!("hash of {} bytes", bytes.len())))
}

/// The end of one session's log, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// Sequence number of the last entry.
    pub seq: u64,
    /// Its server time (ms); the largest in the session, since `ts` never
    /// decreases.
    pub ts: i64,
}

/// One entry, ready to store: every field but `text` and `leaf_hash` is a
/// copy of what `text` says, kept in columns so it can be queried.
#[derive(Debug, Clone)]
pub struct EntryRow {
    /// Session id.
    pub sid: String,
    /// Position in the session's log.
    pub seq: u64,
    /// Server time, ms.
    pub ts: i64,
    /// Event kind.
    pub kind: &'static str,
    /// Actor.
    pub actor: String,
    /// The exact canonical entry text; the only thing that is hashed.
    pub text: String,
    /// `SHA-256(0x00 ‖ text)`.
    pub leaf_hash: Hash,
}

/// One signed tree head, as issued.
#[derive(Debug, Clone)]
pub struct HeadRow {
    /// Session id.
    pub sid: String,
    /// Entries covered.
    pub tree_size: u64,
    /// Merkle root.
    pub root: Hash,
    /// Signing time, ms.
    pub ts: i64,
    /// The compact JWS handed out.
    pub jws: String,
}

/// An RFC 3161 time-stamp of a tree head, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorRow {
    /// Session id.
    pub sid: String,
    /// Entries the anchored head covers.
    pub tree_size: u64,
    /// The anchored head's compact JWS; the token stamps its SHA-256.
    pub head_jws: String,
    /// The token's genTime, UTC ms.
    pub gen_time: i64,
    /// The time-stamp token, DER.
    pub token: Vec<u8>,
}

/// How far a session's log is anchored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorProgress {
    /// Session id.
    pub sid: String,
    /// Entries in the log.
    pub entries: u64,
    /// Entries covered by its latest anchor (0 without one).
    pub anchored: u64,
}

/// An entry as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    /// Position in the session's log.
    pub seq: u64,
    /// The exact text that was hashed.
    pub text: String,
    /// Its leaf hash, as stored.
    pub leaf_hash: Hash,
}

/// What a tree computation needs of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf {
    /// Position in the session's log.
    pub seq: u64,
    /// Server time, ms.
    pub ts: i64,
    /// Leaf hash.
    pub hash: Hash,
}

/// The write side, owned by the ledger's writer thread alone.
pub trait StoreWriter: Send + 'static {
    /// The last stored entry of `sid`, or `None` for an empty log. Called on
    /// first sight of a session and after a failed batch, so the writer
    /// continues the numbering from what is durable.
    fn tail(&mut self, sid: &str) -> Result<Option<Tail>, StoreError>;

    /// Stores `entries` and `heads` in one transaction: on `Ok` all of them
    /// are durable (on stable storage, not in a cache); on `Err` none of them
    /// is visible, now or after a crash. An entry whose `(sid, seq)` exists
    /// already is an error, never an overwrite.
    fn commit(
        &mut self,
        entries: &[EntryRow],
        heads: &[HeadRow],
        anchors: &[AnchorRow],
    ) -> Result<(), StoreError>;
}

/// Which sessions this node may write, on a store several nodes share: a
/// session is written by the one node holding its lease (PostgreSQL). The
/// calls block.
pub trait Leases: Send + Sync {
    /// Whether this node holds `sid`'s lease now, as far as it knows (no
    /// round trip; the database refuses a write under a lease lost since).
    fn holds(&self, sid: &str) -> bool;

    /// Takes `sid`'s lease if nobody holds it or it lapsed (or renews this
    /// node's); `false`: another node holds it.
    fn claim(&self, sid: &str) -> Result<bool, StoreError>;

    /// Gives `sid`'s lease up at once, so another node can take it without
    /// waiting for it to lapse.
    fn release(&self, sid: &str) -> Result<(), StoreError>;

    /// Extends every lease this node holds; the sessions whose lease was
    /// lost since (this node no longer writes them).
    fn renew_all(&self) -> Result<Vec<String>, StoreError>;

    /// How long a lease lasts unless renewed.
    fn ttl(&self) -> std::time::Duration;
}

/// A ledger backend. Reads see committed data only.
pub trait LedgerStore: Send + Sync + 'static {
    /// The one writer. Called once, when the ledger starts.
    fn writer(&self) -> Result<Box<dyn StoreWriter>, StoreError>;

    /// The store's leases, when several nodes share it; `None`: this node
    /// writes every session (SQLite, one server).
    fn leases(&self) -> Option<&dyn Leases> {
        None
    }

    /// Every entry of `sid` in `seq` order.
    fn entries(&self, sid: &str, limit: Option<u64>) -> Result<Vec<StoredEntry>, StoreError>;

    /// The `consent` entries of `sid` whose actor is `actor`, in `seq`
    /// order, read through an index of consents rather than the whole log.
    fn consents_by(&self, sid: &str, actor: &str) -> Result<Vec<StoredEntry>, StoreError>;

    /// The first `limit` (or all) leaves of `sid` in `seq` order.
    fn leaves(&self, sid: &str, limit: Option<u64>) -> Result<Vec<Leaf>, StoreError>;

    /// The JWS of every tree head issued for `sid`, in the order they were
    /// issued, whatever the log holds now: a head larger than the log is
    /// the evidence that it was truncated.
    fn heads(&self, sid: &str) -> Result<Vec<String>, StoreError>;

    /// The last tree head issued for `sid`, if any.
    fn latest_head(&self, sid: &str) -> Result<Option<HeadRow>, StoreError>;

    /// Every session with at least one entry.
    fn sessions(&self) -> Result<Vec<String>, StoreError>;

    /// Every anchor of `sid`, in the order they were stored.
    fn anchors(&self, sid: &str) -> Result<Vec<AnchorRow>, StoreError>;

    /// For `sid` (or every session with entries), the log's size and the
    /// size its latest anchor covers.
    fn anchor_progress(&self, sid: Option<&str>) -> Result<Vec<AnchorProgress>, StoreError>;
}
