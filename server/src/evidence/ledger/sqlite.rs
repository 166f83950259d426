//! The embedded ledger backend: `ledger.sqlite3` in the data directory, a
//! file of its own so the catalogue's traffic never waits on evidence
//! commits and the evidence can be copied or archived alone.
//!
//! Durability: WAL with `synchronous=FULL`, so a transaction is on disk when
//! COMMIT returns (the WAL is synced at every commit) and a crash keeps a
//! transaction whole or drops it whole.
//!
//! Append-only: triggers refuse UPDATE and DELETE of entries and tree heads,
//! and refuse an INSERT that would land on an existing key (`INSERT OR
//! REPLACE` deletes the old row without firing delete triggers). Triggers
//! stop mistakes, not an attacker who can edit the file: that is what the
//! Merkle tree and the signed tree heads handed out are for.

use super::store::{
    AnchorProgress, AnchorRow, EntryRow, HeadRow, Leaf, LedgerStore, StoreError, StoreWriter,
    StoredEntry, Tail, to_hash, to_seq, to_sql,
};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Name of the ledger's SQLite file in the data directory.
pub const LEDGER_FILE: &str = "ledger.sqlite3";

/// Schema version in `PRAGMA user_version`, for later migrations.
const SCHEMA_VERSION: i64 = 1;

/// Idle read connections kept for reuse; more are opened under load and
/// closed after.
const READ_POOL: usize = 4;

/// How long a statement waits for a lock held by another process (the CLI
/// reading the file while a server runs) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    sid TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 0),
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    text TEXT NOT NULL CHECK (length(text) > 0),
    leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32),
    PRIMARY KEY (sid, seq)
) STRICT;
-- A person's consents without reading the session's whole log: the lobby
-- asks for them, and a long session holds tens of thousands of entries.
-- Partial: the connection and presence entries, nearly all of a log, stay
-- out of it, so recording one writes two b-trees rather than three.
-- Created on open, so older files gain it, and their index of every entry
-- by actor and kind is dropped.
CREATE INDEX IF NOT EXISTS entries_consents ON entries(sid, actor, seq) WHERE kind = 'consent';
DROP INDEX IF EXISTS entries_by_actor;
CREATE TABLE IF NOT EXISTS tree_heads (
    id INTEGER PRIMARY KEY,
    sid TEXT NOT NULL,
    tree_size INTEGER NOT NULL CHECK (tree_size >= 0),
    root BLOB NOT NULL CHECK (length(root) = 32),
    ts INTEGER NOT NULL,
    jws TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS tree_heads_by_session ON tree_heads(sid, id);

-- RFC 3161 tokens over tree heads (docs/evidence.md, Anchoring). Created
-- on open like the index above: a file written before anchoring gains the
-- table, and a cadre that predates it ignores it.
CREATE TABLE IF NOT EXISTS anchors (
    id INTEGER PRIMARY KEY,
    sid TEXT NOT NULL,
    tree_size INTEGER NOT NULL CHECK (tree_size >= 0),
    head_jws TEXT NOT NULL,
    gen_time INTEGER NOT NULL,
    token BLOB NOT NULL CHECK (length(token) > 0)
) STRICT;
CREATE INDEX IF NOT EXISTS anchors_by_session ON anchors(sid, id);

CREATE TRIGGER IF NOT EXISTS anchors_no_update BEFORE UPDATE ON anchors
BEGIN SELECT RAISE(ABORT, 'anchors are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS anchors_no_delete BEFORE DELETE ON anchors
BEGIN SELECT RAISE(ABORT, 'anchors are append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS anchors_no_replace BEFORE INSERT ON anchors
WHEN EXISTS (SELECT 1 FROM anchors WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'anchors are append-only: anchor exists'); END;

CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_replace BEFORE INSERT ON entries
WHEN EXISTS (SELECT 1 FROM entries WHERE sid = NEW.sid AND seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: entry exists'); END;

CREATE TRIGGER IF NOT EXISTS tree_heads_no_update BEFORE UPDATE ON tree_heads
BEGIN SELECT RAISE(ABORT, 'tree heads are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS tree_heads_no_delete BEFORE DELETE ON tree_heads
BEGIN SELECT RAISE(ABORT, 'tree heads are append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS tree_heads_no_replace BEFORE INSERT ON tree_heads
WHEN EXISTS (SELECT 1 FROM tree_heads WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'tree heads are append-only: head exists'); END;
";

/// A person's consents. The kind is written out: the partial index serves a
/// query only when its text says `kind = 'consent'`, not a bound value.
pub(super) const CONSENTS_BY: &str = "SELECT seq, text, leaf_hash FROM entries \
     WHERE sid = ?1 AND actor = ?2 AND kind = 'consent' ORDER BY seq";

/// A session's entries, up to a limit.
const ENTRIES: &str =
    "SELECT seq, text, leaf_hash FROM entries WHERE sid = ?1 ORDER BY seq LIMIT ?2";

/// The SQLite ledger store.
pub struct SqliteStore {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/ledger.sqlite3`. Nothing is verified:
    /// start-up stays fast however long the ledger is; verification is the
    /// auditor's job and reads the export.
    pub fn open(dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LEDGER_FILE);
        let conn = Connection::open(&path)?;
        // journal_mode is persistent in the file; set it before any table
        // exists so even the schema is written through the WAL.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // This connection becomes the pool's first reader: the same plans
        // as the readers opened later (without, every read with a bound
        // LIMIT was parsed and planned again).
        stable_plans(&conn)?;
        conn.execute_batch(SCHEMA)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version == 0 {
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        } else if version != SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "{} has schema version {version}; this cadre knows {SCHEMA_VERSION}",
                path.display()
            )));
        }
        conn.pragma_update(None, "query_only", true)?;
        Ok(SqliteStore {
            path,
            readers: Mutex::new(vec![conn]),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_connection(&self) -> Result<Connection, StoreError> {
        let pooled = self.pool().pop();
        match pooled {
            Some(conn) => Ok(conn),
            None => {
                let conn = Connection::open(&self.path)?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                stable_plans(&conn)?;
                // A reader must never write, even by mistake.
                conn.pragma_update(None, "query_only", true)?;
                Ok(conn)
            }
        }
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // The pool is a plain list; a panic elsewhere cannot leave it half
        // updated, so a poisoned lock is safe to reuse.
        self.readers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `work` on a pooled read connection inside one read transaction,
    /// so everything it reads comes from a single snapshot.
    fn read<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.read_connection()?;
        let result = (|| {
            let tx = conn.transaction()?;
            let out = work(&tx)?;
            tx.finish()?;
            Ok(out)
        })();
        let mut pool = self.pool();
        if pool.len() < READ_POOL {
            pool.push(conn);
        }
        result
    }
}

/// Query plans that do not depend on the values bound (SQLite's query
/// planner stability guarantee). Without it, SQLite marks a statement whose
/// plan looked at a bound value to be compiled again whenever that value is
/// bound anew, and a cached statement is rebound at every use: a profile of
/// the join found the admission's and the consents' lookups parsed and
/// planned again each time (`sqlite3Reprepare`, several per cent of the
/// server's CPU per join). Every query here is an equality or a range on an
/// index, whose plan no value changes.
pub(crate) fn stable_plans(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// SQLite's `LIMIT -1` means no limit.
fn sql_limit(limit: Option<u64>) -> i64 {
    limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// The rows of a `SELECT seq, text, leaf_hash`.
fn stored_entries(mut rows: rusqlite::Rows<'_>) -> Result<Vec<StoredEntry>, StoreError> {
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(StoredEntry {
            seq: to_seq(row.get(0)?)?,
            text: row.get(1)?,
            leaf_hash: to_hash(&row.get::<_, Vec<u8>>(2)?)?,
        });
    }
    Ok(out)
}

impl LedgerStore for SqliteStore {
    fn writer(&self) -> Result<Box<dyn StoreWriter>, StoreError> {
        let conn = Connection::open(&self.path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Bounds the WAL file after a burst; checkpoints still run at the
        // default 1000 pages.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        stable_plans(&conn)?;
        Ok(Box::new(SqliteWriter { conn }))
    }

    fn entries(&self, sid: &str, limit: Option<u64>) -> Result<Vec<StoredEntry>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(ENTRIES)?;
            stored_entries(stmt.query(params![sid, sql_limit(limit)])?)
        })
    }

    fn consents_by(&self, sid: &str, actor: &str) -> Result<Vec<StoredEntry>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(CONSENTS_BY)?;
            stored_entries(stmt.query(params![sid, actor])?)
        })
    }

    fn leaves(&self, sid: &str, limit: Option<u64>) -> Result<Vec<Leaf>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, ts, leaf_hash FROM entries WHERE sid = ?1 ORDER BY seq LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![sid, sql_limit(limit)])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(Leaf {
                    seq: to_seq(row.get(0)?)?,
                    ts: row.get(1)?,
                    hash: to_hash(&row.get::<_, Vec<u8>>(2)?)?,
                });
            }
            Ok(out)
        })
    }

    fn heads(&self, sid: &str) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT jws FROM tree_heads WHERE sid = ?1 ORDER BY id")?;
            let rows = stmt.query_map(params![sid], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
    }

    fn latest_head(&self, sid: &str) -> Result<Option<HeadRow>, StoreError> {
        self.read(|conn| {
            let row = conn
                .prepare_cached(
                    "SELECT tree_size, root, ts, jws FROM tree_heads WHERE sid = ?1 \
                     ORDER BY id DESC LIMIT 1",
                )?
                .query_row(params![sid], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get(2)?,
                        r.get(3)?,
                    ))
                })
                .optional()?;
            row.map(|(size, root, ts, jws)| {
                Ok(HeadRow {
                    sid: sid.to_owned(),
                    tree_size: to_seq(size)?,
                    root: to_hash(&root)?,
                    ts,
                    jws,
                })
            })
            .transpose()
        })
    }

    fn sessions(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT DISTINCT sid FROM entries ORDER BY sid")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
    }

    fn anchors(&self, sid: &str) -> Result<Vec<AnchorRow>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT tree_size, head_jws, gen_time, token FROM anchors WHERE sid = ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query(params![sid])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(AnchorRow {
                    sid: sid.to_owned(),
                    tree_size: to_seq(row.get(0)?)?,
                    head_jws: row.get(1)?,
                    gen_time: row.get(2)?,
                    token: row.get(3)?,
                });
            }
            Ok(out)
        })
    }

    fn anchor_progress(&self, sid: Option<&str>) -> Result<Vec<AnchorProgress>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT e.sid, MAX(e.seq) + 1, \
                   COALESCE((SELECT MAX(a.tree_size) FROM anchors a WHERE a.sid = e.sid), 0) \
                 FROM entries e WHERE ?1 IS NULL OR e.sid = ?1 GROUP BY e.sid ORDER BY e.sid",
            )?;
            let mut rows = stmt.query(params![sid])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(AnchorProgress {
                    sid: row.get(0)?,
                    entries: to_seq(row.get(1)?)?,
                    anchored: to_seq(row.get(2)?)?,
                });
            }
            Ok(out)
        })
    }
}

/// The write connection; lives on the ledger's writer thread.
struct SqliteWriter {
    conn: Connection,
}

impl StoreWriter for SqliteWriter {
    fn tail(&mut self, sid: &str) -> Result<Option<Tail>, StoreError> {
        let row = self
            .conn
            .prepare_cached("SELECT seq, ts FROM entries WHERE sid = ?1 ORDER BY seq DESC LIMIT 1")?
            .query_row(params![sid], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(seq, ts)| {
            Ok(Tail {
                seq: to_seq(seq)?,
                ts,
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
        // IMMEDIATE takes the write lock up front: a busy file fails here,
        // before any row, rather than at COMMIT.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO entries (sid, seq, ts, kind, actor, text, leaf_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for e in entries {
                insert.execute(params![
                    e.sid,
                    to_sql(e.seq)?,
                    e.ts,
                    e.kind,
                    e.actor,
                    e.text,
                    &e.leaf_hash[..]
                ])?;
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO tree_heads (sid, tree_size, root, ts, jws) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for h in heads {
                insert.execute(params![
                    h.sid,
                    to_sql(h.tree_size)?,
                    &h.root[..],
                    h.ts,
                    h.jws
                ])?;
            }
            let mut insert = tx.prepare_cached(
                "INSERT INTO anchors (sid, tree_size, head_jws, gen_time, token) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for a in anchors {
                insert.execute(params![
                    a.sid,
                    to_sql(a.tree_size)?,
                    a.head_jws,
                    a.gen_time,
                    a.token
                ])?;
            }
        }
        // With synchronous=FULL in WAL mode, COMMIT returns after the WAL is
        // synced: this is the durability point every acknowledgement waits for.
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{ENTRIES, LedgerStore, SqliteStore};
    use rusqlite::StatementStatus;

    #[test]
    fn reads_with_a_new_limit_are_not_planned_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        for limit in [None, Some(1), Some(2), None, Some(3)] {
            assert!(store.entries("s_a", limit).unwrap().is_empty());
        }
        // The pool hands back the connection that served them, with its
        // cached statement.
        let conn = store.read_connection().unwrap();
        let stmt = conn.prepare_cached(ENTRIES).unwrap();
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
    }
}
