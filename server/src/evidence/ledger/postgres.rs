//! The ledger on PostgreSQL, for several nodes sharing one database
//! (docs/evidence.md, "PostgreSQL"). It keeps the promises of the SQLite
//! file, and adds the one several nodes need: a session's log is written by
//! the node holding its lease, and by no other.
//!
//! Durability: every connection runs with `synchronous_commit = on`, so
//! COMMIT returns once the WAL is flushed; a server that runs with `fsync`
//! or `full_page_writes` off is refused at open, because it acknowledges
//! commits a crash can lose.
//!
//! Append-only: triggers refuse UPDATE, DELETE and TRUNCATE of entries,
//! tree heads and anchors, whoever asks; `cadre migrate --app-role ROLE`
//! also grants the role cadre runs as nothing but SELECT and INSERT on
//! them. As with SQLite, this stops mistakes, not whoever owns the tables:
//! the Merkle tree and the signed tree heads handed out catch a rewrite.
//!
//! Fencing: a node appends to a session only under a lease row in
//! `session_leases`, and every entry and tree head it inserts carries the
//! lease's token. A trigger compares it with the row (locked for share
//! until the commit) and refuses a token that is not the current one or a
//! lease past its expiry, by the database's clock. A node paused past its
//! lease, or cut off while another took the session, can therefore never
//! append again, and a takeover waits for a commit already under way: the
//! new owner reads the log's tail after it and numbers on from there.
//!
//! The store's calls are blocking, like SQLite's (the ledger writes from
//! its own thread and reads on the blocking pool); its connections are
//! driven by a small runtime of its own ([`crate::postgres::Driver`]).

use super::store::{
    AnchorProgress, AnchorRow, EntryRow, HeadRow, Leaf, Leases, LedgerStore, StoreError,
    StoreWriter, StoredEntry, Tail, to_hash, to_seq, to_sql,
};
use crate::postgres::{Driver, Pool, config};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, IsolationLevel, Row};

/// Version of the tables below, kept in `cadre_schema` under `ledger`.
pub const SCHEMA_VERSION: i32 = 1;

/// The entries' primary key, named so a taken `(sid, seq)` is told apart
/// from any other unique violation.
pub(crate) const ENTRIES_KEY: &str = "ledger_entries_pkey";

/// The SQLSTATE the fencing trigger raises (a class of our own).
const FENCED: &str = "CAD01";

/// How long a lease lasts unless renewed, by default: a node that dies
/// holds its sessions this long at most; one that lives renews them every
/// third of it.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);

/// Idle read connections kept for reuse.
const READ_POOL: usize = 4;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS session_leases (
    sid TEXT PRIMARY KEY,
    node TEXT NOT NULL CHECK (length(node) > 0),
    token BIGINT NOT NULL CHECK (token > 0),
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS ledger_entries (
    sid TEXT NOT NULL,
    seq BIGINT NOT NULL CHECK (seq >= 0),
    ts BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    text TEXT NOT NULL CHECK (length(text) > 0),
    leaf_hash BYTEA NOT NULL CHECK (length(leaf_hash) = 32),
    fence BIGINT NOT NULL,
    CONSTRAINT ledger_entries_pkey PRIMARY KEY (sid, seq)
);
-- A person's consents without reading the session's whole log (the lobby
-- asks for them). Partial: connection and presence entries, nearly all of
-- a log, are not indexed twice. The index of every entry by actor and kind
-- that came before it is dropped; queries are the same under either.
CREATE INDEX IF NOT EXISTS ledger_entries_consents ON ledger_entries (sid, actor, seq)
    WHERE kind = 'consent';
DROP INDEX IF EXISTS ledger_entries_by_actor;

CREATE TABLE IF NOT EXISTS ledger_heads (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid TEXT NOT NULL,
    tree_size BIGINT NOT NULL CHECK (tree_size >= 0),
    root BYTEA NOT NULL CHECK (length(root) = 32),
    ts BIGINT NOT NULL,
    jws TEXT NOT NULL,
    fence BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_heads_by_session ON ledger_heads (sid, id);

-- RFC 3161 tokens over tree heads. Not fenced: a token stamps a head that
-- was signed already, whichever node asks the authority.
CREATE TABLE IF NOT EXISTS ledger_anchors (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid TEXT NOT NULL,
    tree_size BIGINT NOT NULL CHECK (tree_size >= 0),
    head_jws TEXT NOT NULL,
    gen_time BIGINT NOT NULL,
    token BYTEA NOT NULL CHECK (length(token) > 0)
);
CREATE INDEX IF NOT EXISTS ledger_anchors_by_session ON ledger_anchors (sid, id);

-- cadre_append_only() is created by the migration before any part.
CREATE OR REPLACE FUNCTION cadre_fenced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    held BIGINT;
    until TIMESTAMPTZ;
BEGIN
    -- FOR SHARE: a takeover (an UPDATE of this row) waits for this
    -- transaction to end, and this one waits for a takeover under way.
    SELECT token, expires_at INTO held, until
        FROM session_leases WHERE sid = NEW.sid FOR SHARE;
    IF held IS NULL OR held <> NEW.fence OR until <= clock_timestamp() THEN
        RAISE EXCEPTION 'session % is not held under fencing token % (lease token %, until %)',
            NEW.sid, NEW.fence, held, until
            USING ERRCODE = 'CAD01', DETAIL = NEW.sid;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION cadre_append_only();
CREATE OR REPLACE TRIGGER ledger_entries_no_truncate
    BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION cadre_append_only();
CREATE OR REPLACE TRIGGER ledger_entries_fenced
    BEFORE INSERT ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION cadre_fenced();

CREATE OR REPLACE TRIGGER ledger_heads_append_only
    BEFORE UPDATE OR DELETE ON ledger_heads
    FOR EACH ROW EXECUTE FUNCTION cadre_append_only();
CREATE OR REPLACE TRIGGER ledger_heads_no_truncate
    BEFORE TRUNCATE ON ledger_heads
    FOR EACH STATEMENT EXECUTE FUNCTION cadre_append_only();
CREATE OR REPLACE TRIGGER ledger_heads_fenced
    BEFORE INSERT ON ledger_heads
    FOR EACH ROW EXECUTE FUNCTION cadre_fenced();

CREATE OR REPLACE TRIGGER ledger_anchors_append_only
    BEFORE UPDATE OR DELETE ON ledger_anchors
    FOR EACH ROW EXECUTE FUNCTION cadre_append_only();
CREATE OR REPLACE TRIGGER ledger_anchors_no_truncate
    BEFORE TRUNCATE ON ledger_anchors
    FOR EACH STATEMENT EXECUTE FUNCTION cadre_append_only();
"#;

const INSERT_ENTRIES: &str = "
INSERT INTO ledger_entries (sid, seq, ts, kind, actor, text, leaf_hash, fence)
SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[],
                     $7::bytea[], $8::int8[])";

/// The ledger's part of cadre's tables, for [`crate::postgres::migrate`]:
/// the node's role gets SELECT and INSERT on the evidence, UPDATE on the
/// leases it takes and renews.
pub const COMPONENT: crate::postgres::Component = crate::postgres::Component {
    name: "ledger",
    version: SCHEMA_VERSION,
    ddl: SCHEMA,
    grants:
        "REVOKE ALL ON ledger_entries, ledger_heads, ledger_anchors, session_leases FROM {role};
             GRANT SELECT, INSERT ON ledger_entries, ledger_heads, ledger_anchors TO {role};
             GRANT SELECT, INSERT, UPDATE ON session_leases TO {role};",
};

/// A fencing refusal, told apart from any other failure: the session (the
/// trigger's DETAIL) and the message.
fn fenced(e: &tokio_postgres::Error) -> Option<(String, String)> {
    let db = e.as_db_error()?;
    (db.code().code() == FENCED).then(|| {
        (
            db.detail().unwrap_or_default().to_owned(),
            db.message().to_owned(),
        )
    })
}

/// Refuses a database that would acknowledge a commit and lose it in a
/// crash, and one without the ledger's schema (or with another version:
/// see [`crate::postgres::migrate`]).
async fn check_suitable(client: &Client) -> Result<(), StoreError> {
    for setting in ["fsync", "full_page_writes", "synchronous_commit"] {
        let value: String = client
            .query_one(&format!("SHOW {setting}"), &[])
            .await?
            .try_get(0)?;
        if value != "on" {
            return Err(StoreError::Unsuitable(format!(
                "the database runs with {setting} = {value}: a commit it acknowledges could be \
                 lost in a crash, and cadre acknowledges evidence only once it is durable"
            )));
        }
    }
    let found = client
        .query_opt(
            "SELECT version FROM cadre_schema WHERE component = 'ledger'",
            &[],
        )
        .await;
    let version: Option<i32> = match found {
        Ok(row) => row.map(|r| r.try_get(0)).transpose()?,
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => None,
        Err(e) => return Err(e.into()),
    };
    match version {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(v) => Err(StoreError::Unsuitable(format!(
            "the ledger's tables are at schema version {v}; this cadre knows {SCHEMA_VERSION}: \
             run `cadre migrate` with the matching cadre"
        ))),
        None => Err(StoreError::Unsuitable(
            "the database has no ledger tables: run `cadre migrate --database URL` as their \
             owner first"
                .into(),
        )),
    }
}

/// A lease on one session's log, held by this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Session id.
    pub sid: String,
    /// The fencing token every write under this lease carries; it grows by
    /// one at each change of holder.
    pub token: i64,
    /// When it lapses unless renewed, UTC ms by the database's clock.
    pub expires_ms: i64,
}

/// The tokens of the leases this node holds, shared by the lease calls and
/// the writer, which stamps them on what it inserts.
#[derive(Debug, Default)]
struct Fences {
    held: RwLock<HashMap<String, i64>>,
}

impl Fences {
    fn token(&self, sid: &str) -> Result<i64, StoreError> {
        self.read()
            .get(sid)
            .copied()
            .ok_or_else(|| StoreError::Fenced(format!("this node holds no lease on session {sid}")))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, i64>> {
        // A map of plain values: a panic elsewhere cannot leave it torn.
        self.held.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, i64>> {
        self.held.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops `sid`'s token if it is still `token` (not one a newer lease
    /// put there since).
    fn forget(&self, sid: &str, token: i64) {
        let mut held = self.write();
        if held.get(sid) == Some(&token) {
            held.remove(sid);
        }
    }
}

/// The PostgreSQL ledger store of one node.
pub struct PgStore {
    ttl: Duration,
    node: String,
    fences: Arc<Fences>,
    readers: Pool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the configuration: it may hold a password.
        f.debug_struct("PgStore")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to `url` as node `node` (unique among the nodes sharing the
    /// database), after checking that the database keeps what it
    /// acknowledges and holds this cadre's schema ([`crate::postgres::migrate`]).
    pub fn open(url: &str, node: &str) -> Result<PgStore, StoreError> {
        if node.is_empty() {
            return Err(StoreError::Unsuitable("a node needs a name".into()));
        }
        let config = config(url).map_err(StoreError::Unsuitable)?;
        let driver = Driver::new("ledger-postgres")?;
        let client = driver.block_on(async {
            let client = driver.connect(&config).await?;
            check_suitable(&client).await?;
            Ok::<_, StoreError>(client)
        })?;
        let readers = Pool::new(config, driver, READ_POOL);
        readers.give(client.into());
        Ok(PgStore {
            ttl: DEFAULT_LEASE_TTL,
            node: node.to_owned(),
            fences: Arc::default(),
            readers,
        })
    }

    /// The same store, its leases (through [`Leases`]) lasting `ttl`.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> PgStore {
        self.ttl = ttl;
        self
    }

    /// Takes the lease on `sid` for `ttl` if nobody holds it or it lapsed
    /// (a new token), or renews it if this node holds it already (the same
    /// token). `None`: another node holds it. Two nodes asking at once:
    /// exactly one gets it.
    pub fn acquire(&self, sid: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let row = self.with_client(async |c| {
            c.query_opt(
                "INSERT INTO session_leases AS l (sid, node, token, expires_at)
                 VALUES ($1, $2, 1, clock_timestamp() + make_interval(secs => $3))
                 ON CONFLICT (sid) DO UPDATE SET
                     token = CASE WHEN l.node = EXCLUDED.node
                                   AND l.expires_at > clock_timestamp()
                                  THEN l.token ELSE l.token + 1 END,
                     node = EXCLUDED.node,
                     expires_at = EXCLUDED.expires_at
                 WHERE l.node = EXCLUDED.node OR l.expires_at <= clock_timestamp()
                 RETURNING token, (extract(epoch FROM expires_at) * 1000)::int8",
                &[&sid, &self.node, &ttl.as_secs_f64()],
            )
            .await
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let lease = Lease {
            sid: sid.to_owned(),
            token: row.try_get(0)?,
            expires_ms: row.try_get(1)?,
        };
        self.fences.write().insert(sid.to_owned(), lease.token);
        Ok(Some(lease))
    }

    /// Extends `lease` by `ttl` from now. `None`: it was lost (lapsed, or
    /// taken over), and this node writes nothing more to that session.
    pub fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let row = self.with_client(async |c| {
            c.query_opt(
                "UPDATE session_leases
                 SET expires_at = clock_timestamp() + make_interval(secs => $4)
                 WHERE sid = $1 AND node = $2 AND token = $3 AND expires_at > clock_timestamp()
                 RETURNING (extract(epoch FROM expires_at) * 1000)::int8",
                &[&lease.sid, &self.node, &lease.token, &ttl.as_secs_f64()],
            )
            .await
        })?;
        match row {
            Some(row) => Ok(Some(Lease {
                expires_ms: row.try_get(0)?,
                ..lease.clone()
            })),
            None => {
                self.fences.forget(&lease.sid, lease.token);
                Ok(None)
            }
        }
    }

    /// Extends every lease this node holds by `ttl` from now, in one
    /// statement (what a node runs every third of its lease time). Returns
    /// the sessions whose lease was lost since (lapsed, or moved to another
    /// node by an operator): they are forgotten, so this node's writer
    /// refuses their appends without asking the database, and the caller
    /// closes those sessions here.
    pub fn renew_all(&self, ttl: Duration) -> Result<Vec<String>, StoreError> {
        let held: Vec<(String, i64)> = self
            .fences
            .read()
            .iter()
            .map(|(sid, token)| (sid.clone(), *token))
            .collect();
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let sids: Vec<&str> = held.iter().map(|(sid, _)| sid.as_str()).collect();
        let tokens: Vec<i64> = held.iter().map(|(_, token)| *token).collect();
        let rows = self.with_client(async |c| {
            c.query(
                "UPDATE session_leases AS l
                 SET expires_at = clock_timestamp() + make_interval(secs => $2)
                 FROM UNNEST($3::text[], $4::int8[]) AS h(sid, token)
                 WHERE l.sid = h.sid AND l.token = h.token AND l.node = $1
                   AND l.expires_at > clock_timestamp()
                 RETURNING l.sid",
                &[&self.node, &ttl.as_secs_f64(), &sids, &tokens],
            )
            .await
        })?;
        let renewed = rows
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<std::collections::HashSet<_>, _>>()?;
        let mut lost = Vec::new();
        for (sid, token) in held {
            if !renewed.contains(&sid) {
                self.fences.forget(&sid, token);
                lost.push(sid);
            }
        }
        lost.sort();
        Ok(lost)
    }

    /// Gives `lease` up at once, so another node can take the session
    /// without waiting for it to lapse.
    pub fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.fences.forget(&lease.sid, lease.token);
        self.with_client(async |c| {
            c.execute(
                "UPDATE session_leases SET expires_at = clock_timestamp()
                 WHERE sid = $1 AND node = $2 AND token = $3",
                &[&lease.sid, &self.node, &lease.token],
            )
            .await
        })?;
        Ok(())
    }

    /// Runs `work` on a pooled connection, opening one if none is idle.
    fn with_client<T>(
        &self,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        let pool = &self.readers;
        let (client, result) = pool.driver().block_on(async {
            let mut client = pool.take().await?;
            let result = work(&mut client).await;
            Ok::<_, StoreError>((client, result))
        })?;
        pool.give(client);
        Ok(result?)
    }

    /// Runs `work` in one read-only snapshot.
    fn read<T>(
        &self,
        work: impl AsyncFnOnce(&tokio_postgres::Transaction<'_>) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, StoreError> {
        self.with_client(async |c| {
            let tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let out = work(&tx).await?;
            tx.commit().await?;
            Ok(out)
        })
    }
}

/// PostgreSQL's `LIMIT NULL` means no limit.
fn sql_limit(limit: Option<u64>) -> Option<i64> {
    limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// The rows of a `SELECT seq, text, leaf_hash`.
fn stored_entries(rows: Vec<Row>) -> Result<Vec<StoredEntry>, StoreError> {
    rows.iter()
        .map(|row| {
            Ok(StoredEntry {
                seq: to_seq(row.try_get(0)?)?,
                text: row.try_get(1)?,
                leaf_hash: to_hash(row.try_get(2)?)?,
            })
        })
        .collect()
}

impl Leases for PgStore {
    fn holds(&self, sid: &str) -> bool {
        self.fences.read().contains_key(sid)
    }

    fn claim(&self, sid: &str) -> Result<bool, StoreError> {
        Ok(self.acquire(sid, self.ttl)?.is_some())
    }

    fn release(&self, sid: &str) -> Result<(), StoreError> {
        let Some(token) = self.fences.read().get(sid).copied() else {
            return Ok(());
        };
        PgStore::release(
            self,
            &Lease {
                sid: sid.to_owned(),
                token,
                expires_ms: 0,
            },
        )
    }

    fn renew_all(&self) -> Result<Vec<String>, StoreError> {
        PgStore::renew_all(self, self.ttl)
    }

    fn ttl(&self) -> Duration {
        self.ttl
    }
}

impl LedgerStore for PgStore {
    fn leases(&self) -> Option<&dyn Leases> {
        Some(self)
    }

    fn writer(&self) -> Result<Box<dyn StoreWriter>, StoreError> {
        // Connected on first use, on the writer's own thread.
        Ok(Box::new(PgWriter {
            client: None,
            config: self.readers.config().clone(),
            fences: self.fences.clone(),
            driver: self.readers.driver().clone(),
        }))
    }

    fn entries(&self, sid: &str, limit: Option<u64>) -> Result<Vec<StoredEntry>, StoreError> {
        let rows = self.read(async |tx| {
            tx.query(
                "SELECT seq, text, leaf_hash FROM ledger_entries WHERE sid = $1
                 ORDER BY seq LIMIT $2",
                &[&sid, &sql_limit(limit)],
            )
            .await
        })?;
        stored_entries(rows)
    }

    fn consents_by(&self, sid: &str, actor: &str) -> Result<Vec<StoredEntry>, StoreError> {
        let rows = self.read(async |tx| {
            // Written out, as the partial index's predicate must be matched.
            tx.query(
                "SELECT seq, text, leaf_hash FROM ledger_entries
                 WHERE sid = $1 AND actor = $2 AND kind = 'consent' ORDER BY seq",
                &[&sid, &actor],
            )
            .await
        })?;
        stored_entries(rows)
    }

    fn leaves(&self, sid: &str, limit: Option<u64>) -> Result<Vec<Leaf>, StoreError> {
        let rows = self.read(async |tx| {
            tx.query(
                "SELECT seq, ts, leaf_hash FROM ledger_entries WHERE sid = $1
                 ORDER BY seq LIMIT $2",
                &[&sid, &sql_limit(limit)],
            )
            .await
        })?;
        rows.iter()
            .map(|row| {
                Ok(Leaf {
                    seq: to_seq(row.try_get(0)?)?,
                    ts: row.try_get(1)?,
                    hash: to_hash(row.try_get(2)?)?,
                })
            })
            .collect()
    }

    fn heads(&self, sid: &str) -> Result<Vec<String>, StoreError> {
        let rows = self.read(async |tx| {
            tx.query(
                "SELECT jws FROM ledger_heads WHERE sid = $1 ORDER BY id",
                &[&sid],
            )
            .await
        })?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    fn latest_head(&self, sid: &str) -> Result<Option<HeadRow>, StoreError> {
        let row = self.read(async |tx| {
            tx.query_opt(
                "SELECT tree_size, root, ts, jws FROM ledger_heads WHERE sid = $1
                 ORDER BY id DESC LIMIT 1",
                &[&sid],
            )
            .await
        })?;
        row.map(|r| {
            Ok(HeadRow {
                sid: sid.to_owned(),
                tree_size: to_seq(r.try_get(0)?)?,
                root: to_hash(r.try_get(1)?)?,
                ts: r.try_get(2)?,
                jws: r.try_get(3)?,
            })
        })
        .transpose()
    }

    fn sessions(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.read(async |tx| {
            tx.query("SELECT DISTINCT sid FROM ledger_entries ORDER BY sid", &[])
                .await
        })?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    fn anchors(&self, sid: &str) -> Result<Vec<AnchorRow>, StoreError> {
        let rows = self.read(async |tx| {
            tx.query(
                "SELECT tree_size, head_jws, gen_time, token FROM ledger_anchors
                 WHERE sid = $1 ORDER BY id",
                &[&sid],
            )
            .await
        })?;
        rows.iter()
            .map(|r| {
                Ok(AnchorRow {
                    sid: sid.to_owned(),
                    tree_size: to_seq(r.try_get(0)?)?,
                    head_jws: r.try_get(1)?,
                    gen_time: r.try_get(2)?,
                    token: r.try_get(3)?,
                })
            })
            .collect()
    }

    fn anchor_progress(&self, sid: Option<&str>) -> Result<Vec<AnchorProgress>, StoreError> {
        let rows = self.read(async |tx| {
            tx.query(
                "SELECT e.sid, MAX(e.seq) + 1,
                        COALESCE((SELECT MAX(a.tree_size) FROM ledger_anchors a
                                  WHERE a.sid = e.sid), 0)
                 FROM ledger_entries e WHERE $1::text IS NULL OR e.sid = $1
                 GROUP BY e.sid ORDER BY e.sid",
                &[&sid],
            )
            .await
        })?;
        rows.iter()
            .map(|r| {
                Ok(AnchorProgress {
                    sid: r.try_get(0)?,
                    entries: to_seq(r.try_get(1)?)?,
                    anchored: to_seq(r.try_get(2)?)?,
                })
            })
            .collect()
    }
}

/// The write connection; lives on the ledger's writer thread. Reconnects
/// by itself after the server went away (a restart, a failover of the
/// database): the batch that failed was answered with an error, the next
/// one opens a new connection.
struct PgWriter {
    config: Config,
    client: Option<Client>,
    fences: Arc<Fences>,
    driver: Arc<Driver>,
}

impl PgWriter {
    async fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.client = Some(self.driver.connect(&self.config).await?);
        }
        Ok(self.client.as_mut().expect("connected just above"))
    }

    async fn insert(
        client: &mut Client,
        entries: &[EntryRow],
        heads: &[HeadRow],
        anchors: &[AnchorRow],
        fences: (&[i64], &[i64]),
    ) -> Result<(), StoreError> {
        let (entry_fences, head_fences) = fences;
        let seqs = entries
            .iter()
            .map(|e| to_sql(e.seq))
            .collect::<Result<Vec<_>, _>>()?;
        let head_sizes = heads
            .iter()
            .map(|h| to_sql(h.tree_size))
            .collect::<Result<Vec<_>, _>>()?;
        let anchor_sizes = anchors
            .iter()
            .map(|a| to_sql(a.tree_size))
            .collect::<Result<Vec<_>, _>>()?;
        let tx = client.transaction().await?;
        if !entries.is_empty() {
            let sids: Vec<&str> = entries.iter().map(|e| e.sid.as_str()).collect();
            let ts: Vec<i64> = entries.iter().map(|e| e.ts).collect();
            let kinds: Vec<&str> = entries.iter().map(|e| e.kind).collect();
            let actors: Vec<&str> = entries.iter().map(|e| e.actor.as_str()).collect();
            let texts: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
            let hashes: Vec<&[u8]> = entries.iter().map(|e| &e.leaf_hash[..]).collect();
            tx.execute(
                INSERT_ENTRIES,
                &[
                    &sids,
                    &seqs,
                    &ts,
                    &kinds,
                    &actors,
                    &texts,
                    &hashes,
                    &entry_fences,
                ],
            )
            .await?;
        }
        for ((h, size), fence) in heads.iter().zip(&head_sizes).zip(head_fences) {
            tx.execute(
                "INSERT INTO ledger_heads (sid, tree_size, root, ts, jws, fence)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&h.sid, size, &&h.root[..], &h.ts, &h.jws, fence],
            )
            .await?;
        }
        for (a, size) in anchors.iter().zip(&anchor_sizes) {
            tx.execute(
                "INSERT INTO ledger_anchors (sid, tree_size, head_jws, gen_time, token)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&a.sid, size, &a.head_jws, &a.gen_time, &a.token],
            )
            .await?;
        }
        // With synchronous_commit on, COMMIT returns once the WAL is
        // flushed: the durability point every acknowledgement waits for.
        tx.commit().await?;
        Ok(())
    }
}

impl StoreWriter for PgWriter {
    fn tail(&mut self, sid: &str) -> Result<Option<Tail>, StoreError> {
        let driver = self.driver.clone();
        let row = driver.block_on(async {
            let client = self.client().await?;
            Ok::<_, StoreError>(
                client
                    .query_opt(
                        "SELECT seq, ts FROM ledger_entries WHERE sid = $1
                         ORDER BY seq DESC LIMIT 1",
                        &[&sid],
                    )
                    .await?,
            )
        })?;
        row.map(|r| {
            Ok(Tail {
                seq: to_seq(r.try_get(0)?)?,
                ts: r.try_get(1)?,
            })
        })
        .transpose()
    }

    fn commit(
        &mut self,
        entries: &[EntryRow],
        heads: &[HeadRow],
        anchors: &[AnchorRow],
    ) -> Result<(), StoreError> {
        // A session this node holds no lease on fails here, before any
        // round trip; one it lost since is refused by the trigger.
        let entry_fences = entries
            .iter()
            .map(|e| self.fences.token(&e.sid))
            .collect::<Result<Vec<_>, _>>()?;
        let head_fences = heads
            .iter()
            .map(|h| self.fences.token(&h.sid))
            .collect::<Result<Vec<_>, _>>()?;
        let driver = self.driver.clone();
        let result = driver.block_on(async {
            let client = self.client().await?;
            Self::insert(
                client,
                entries,
                heads,
                anchors,
                (&entry_fences, &head_fences),
            )
            .await
        });
        let Err(StoreError::Postgres(e)) = result else {
            return result;
        };
        let Some((sid, message)) = fenced(&e) else {
            return Err(StoreError::Postgres(e));
        };
        // Lost to another node (or lapsed): write nothing more there under
        // that token.
        let used = entries
            .iter()
            .map(|e| e.sid.as_str())
            .zip(&entry_fences)
            .chain(heads.iter().map(|h| h.sid.as_str()).zip(&head_fences))
            .find(|(s, _)| *s == sid);
        if let Some((_, token)) = used {
            self.fences.forget(&sid, *token);
        }
        Err(StoreError::Fenced(message))
    }
}
