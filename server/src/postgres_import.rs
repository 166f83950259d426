//! `cadre import --database URL`: a data directory's SQLite catalogue and
//! ledger copied into a PostgreSQL database that `cadre migrate` prepared
//! and that holds nothing yet, so that an installation that grew can move to
//! several nodes and keep its history.
//!
//! Everything is copied in one transaction, from one snapshot of each
//! SQLite file: the catalogue's tables row for row (the two catalogues have
//! the same columns, which a suite test checks), every session's log entry
//! for entry (the exact texts and leaf hashes), its tree heads in the order
//! they were issued and its anchors. The ledger's rows are written under a
//! lease the import takes for each session and gives up before committing,
//! as a node would. Before the commit, each session's log, heads and
//! anchors are read back through the transaction and compared with the
//! snapshot: anything different and nothing is committed.
//!
//! The SQLite files are only read (what a server still running on them
//! writes after the snapshot is not copied: stop it first).

use crate::directory::sql::{Param, PgSql, Sql, Value};
use crate::postgres::{Driver, config};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// The catalogue's tables, each after those it refers to.
const CATALOGUE_TABLES: &[&str] = &[
    "sessions",
    "actions",
    "beneficiaries",
    "people",
    "links",
    "reports",
    "organisation",
    "action_sessions",
    "action_changes",
    "questionnaires",
    "questionnaire_uses",
    "questionnaire_invitations",
    "questionnaire_answers",
    "mails",
    "staff",
    "staff_sessions",
    "staff_audit",
];

/// Rows per multi-row INSERT of ledger entries.
const ENTRY_BATCH: usize = 500;

/// An import refused or failed; nothing was written to the database.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source or the target is not one to import (the sentence says why).
    #[error("{0}")]
    Refused(String),
    /// Reading the SQLite files failed.
    #[error("reading the data directory: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Writing or reading PostgreSQL failed.
    #[error("database: {0}")]
    Sql(#[from] crate::directory::sql::SqlError),
    /// The runtime driving the connection could not start.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What was copied.
#[derive(Debug, Default)]
pub struct Imported {
    /// Rows per catalogue table, in the order copied.
    pub tables: Vec<(&'static str, u64)>,
    /// Sessions with a log.
    pub sessions: u64,
    /// Log entries.
    pub entries: u64,
    /// Tree heads.
    pub heads: u64,
    /// Anchors.
    pub anchors: u64,
}

/// Copies `data_dir`'s catalogue and ledger into the database `url` names,
/// then reads every session back from both and compares. Blocking.
pub fn import(data_dir: &Path, url: &str) -> Result<Imported, ImportError> {
    let catalogue = open_read_only(&data_dir.join(crate::directory::catalog::DB_FILE))?;
    let ledger = open_read_only(&data_dir.join(crate::evidence::ledger::LEDGER_FILE))?;
    let config = config(url).map_err(ImportError::Refused)?;
    let driver = Driver::new("cadre-import")?;
    let mut client = driver
        .block_on(driver.connect(&config))
        .map_err(crate::directory::sql::SqlError::from)?;
    let tx = driver
        .block_on(client.transaction())
        .map_err(crate::directory::sql::SqlError::from)?;
    let db = PgSql {
        client: &tx,
        driver: &driver,
        statements: None,
    };
    check_target(&db)?;
    let mut imported = Imported::default();
    for table in CATALOGUE_TABLES {
        let n = copy_table(&catalogue, &db, table)?;
        imported.tables.push((table, n));
    }
    let sids = copy_ledger(&ledger, &db, &mut imported)?;
    compare(&ledger, &db, &sids)?;
    driver
        .block_on(tx.commit())
        .map_err(crate::directory::sql::SqlError::from)?;
    Ok(imported)
}

fn open_read_only(path: &Path) -> Result<Connection, ImportError> {
    if !path.exists() {
        return Err(ImportError::Refused(format!(
            "{} does not exist: import reads a data directory cadre serve wrote",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // One snapshot for the whole import (WAL: from the first read on).
    conn.execute_batch("BEGIN")?;
    conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(conn)
}

/// The target holds this cadre's tables and nothing in them.
fn check_target(db: &dyn Sql) -> Result<(), ImportError> {
    let versions = db
        .query_opt("SELECT to_regclass('cadre_schema') IS NOT NULL", &[])?
        .map(|r| r.get::<bool>(0))
        .transpose()?
        == Some(true);
    let wanted = [
        (
            crate::directory::PG_CATALOGUE.name,
            crate::directory::PG_CATALOGUE.version,
        ),
        (
            crate::evidence::ledger::postgres::COMPONENT.name,
            crate::evidence::ledger::postgres::COMPONENT.version,
        ),
    ];
    for (component, version) in wanted {
        let found = if versions {
            db.query_opt(
                "SELECT version FROM cadre_schema WHERE component = ?1",
                &[Param::Text(component)],
            )?
            .map(|r| r.get::<i64>(0))
            .transpose()?
        } else {
            None
        };
        if found != Some(i64::from(version)) {
            return Err(ImportError::Refused(format!(
                "the database's {component} tables are not at this cadre's schema version \
                 {version}: run `cadre migrate --database …` with this cadre first"
            )));
        }
    }
    let occupied = db
        .query_opt(
            "SELECT (SELECT COUNT(*) FROM sessions) + (SELECT COUNT(*) FROM staff) \
             + (SELECT COUNT(*) FROM actions) + (SELECT COUNT(*) FROM ledger_entries) \
             + (SELECT COUNT(*) FROM organisation)",
            &[],
        )?
        .map(|r| r.get::<i64>(0))
        .transpose()?
        .unwrap_or(0);
    if occupied > 0 {
        return Err(ImportError::Refused(
            "the database already holds sessions, staff or evidence: an import goes into an \
             empty database only (nothing was changed)"
                .into(),
        ));
    }
    Ok(())
}

/// Copies one catalogue table, row for row, column for column.
fn copy_table(source: &Connection, db: &dyn Sql, table: &str) -> Result<u64, ImportError> {
    let columns: Vec<String> = source
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
        .query_map([table], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if columns.is_empty() {
        // A table this data directory's cadre did not have yet.
        return Ok(0);
    }
    let list = columns.join(", ");
    let marks = (1..=columns.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let insert = format!("INSERT INTO {table} ({list}) OVERRIDING SYSTEM VALUE VALUES ({marks})");
    let n = copy_rows(
        source,
        db,
        &format!("SELECT {list} FROM {table} ORDER BY rowid"),
        &insert,
    )?;
    if table == "staff_audit" && n > 0 {
        // The identity continues after the rows copied with their numbers.
        db.query(
            "SELECT setval(pg_get_serial_sequence('staff_audit', 'seq'), \
             (SELECT MAX(seq) FROM staff_audit))",
            &[],
        )?;
    }
    Ok(n)
}

/// A SQLite value as the seam reads one back.
fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

fn param<'a>(value: &ValueRef<'a>) -> Result<Param<'a>, ImportError> {
    Ok(match *value {
        ValueRef::Null => Param::Null,
        ValueRef::Integer(v) => Param::Int(v),
        ValueRef::Real(v) => Param::Real(v),
        ValueRef::Text(v) => Param::Text(std::str::from_utf8(v).map_err(|_| {
            ImportError::Refused("a text value of the catalogue is not UTF-8".into())
        })?),
        ValueRef::Blob(v) => Param::Blob(v),
    })
}

/// Every session's log, heads and anchors, under a lease taken for the
/// copy and given up before the commit.
fn copy_ledger(
    source: &Connection,
    db: &dyn Sql,
    imported: &mut Imported,
) -> Result<Vec<String>, ImportError> {
    let sids: Vec<String> = source
        .prepare(
            "SELECT sid FROM entries UNION SELECT sid FROM tree_heads \
             UNION SELECT sid FROM anchors ORDER BY 1",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for sid in &sids {
        db.execute(
            "INSERT INTO session_leases (sid, node, token, expires_at) \
             VALUES (?1, 'import', 1, clock_timestamp() + interval '1 hour')",
            &[Param::Text(sid)],
        )?;
    }
    imported.sessions = sids.len() as u64;
    let mut stmt = source.prepare(
        "SELECT sid, seq, ts, kind, actor, text, leaf_hash FROM entries ORDER BY sid, seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut batch: Vec<Vec<rusqlite::types::Value>> = Vec::with_capacity(ENTRY_BATCH);
    loop {
        let row = rows.next()?;
        if let Some(row) = row {
            batch.push(
                (0..7)
                    .map(|i| row.get::<_, rusqlite::types::Value>(i))
                    .collect::<Result<_, _>>()?,
            );
        }
        if batch.len() == ENTRY_BATCH || (row.is_none() && !batch.is_empty()) {
            insert_entries(db, &batch)?;
            imported.entries += batch.len() as u64;
            batch.clear();
        }
        if row.is_none() {
            break;
        }
    }
    imported.heads = copy_rows(
        source,
        db,
        "SELECT sid, tree_size, root, ts, jws FROM tree_heads ORDER BY id",
        "INSERT INTO ledger_heads (sid, tree_size, root, ts, jws, fence) \
         VALUES (?1, ?2, ?3, ?4, ?5, 1)",
    )?;
    imported.anchors = copy_rows(
        source,
        db,
        "SELECT sid, tree_size, head_jws, gen_time, token FROM anchors ORDER BY id",
        "INSERT INTO ledger_anchors (sid, tree_size, head_jws, gen_time, token) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    // Given up: the first node to run a session takes it at once.
    db.execute(
        "UPDATE session_leases SET expires_at = clock_timestamp() WHERE node = 'import'",
        &[],
    )?;
    Ok(sids)
}

/// Each row `select` reads, written with `insert` (its placeholders the
/// selected columns, in order); how many.
fn copy_rows(
    source: &Connection,
    db: &dyn Sql,
    select: &str,
    insert: &str,
) -> Result<u64, ImportError> {
    let mut stmt = source.prepare(select)?;
    let width = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let values = (0..width)
            .map(|i| row.get_ref(i))
            .collect::<Result<Vec<_>, _>>()?;
        let params = values.iter().map(param).collect::<Result<Vec<_>, _>>()?;
        db.execute(insert, &params)?;
        n += 1;
    }
    Ok(n)
}

fn insert_entries(db: &dyn Sql, batch: &[Vec<rusqlite::types::Value>]) -> Result<(), ImportError> {
    use rusqlite::types::Value;
    let rows = (0..batch.len())
        .map(|r| {
            let at = r * 7;
            format!(
                "(?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{}, 1)",
                at + 1,
                at + 2,
                at + 3,
                at + 4,
                at + 5,
                at + 6,
                at + 7
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let params: Vec<Param<'_>> = batch
        .iter()
        .flatten()
        .map(|v| match v {
            Value::Null => Param::Null,
            Value::Integer(i) => Param::Int(*i),
            Value::Real(f) => Param::Real(*f),
            Value::Text(t) => Param::Text(t),
            Value::Blob(b) => Param::Blob(b),
        })
        .collect();
    db.execute(
        &format!(
            "INSERT INTO ledger_entries (sid, seq, ts, kind, actor, text, leaf_hash, fence) \
             VALUES {rows}"
        ),
        &params,
    )?;
    Ok(())
}

/// Reads every session back through the transaction and compares it with
/// the snapshot: entries (seq, text, leaf hash), heads in order, anchors.
fn compare(source: &Connection, db: &dyn Sql, sids: &[String]) -> Result<(), ImportError> {
    let reads = [
        (
            "SELECT seq, text, leaf_hash FROM entries WHERE sid = ?1 ORDER BY seq",
            "SELECT seq, text, leaf_hash FROM ledger_entries WHERE sid = ?1 ORDER BY seq",
            "entries",
        ),
        (
            "SELECT tree_size, root, ts, jws FROM tree_heads WHERE sid = ?1 ORDER BY id",
            "SELECT tree_size, root, ts, jws FROM ledger_heads WHERE sid = ?1 ORDER BY id",
            "tree heads",
        ),
        (
            "SELECT tree_size, head_jws, gen_time, token FROM anchors WHERE sid = ?1 ORDER BY id",
            "SELECT tree_size, head_jws, gen_time, token FROM ledger_anchors WHERE sid = ?1 \
             ORDER BY id",
            "anchors",
        ),
    ];
    for sid in sids {
        for (from_sqlite, from_pg, what) in reads {
            let mut stmt = source.prepare_cached(from_sqlite)?;
            let width = stmt.column_count();
            let mut rows = stmt.query([sid])?;
            let mut expected = Vec::new();
            while let Some(row) = rows.next()? {
                let values = (0..width)
                    .map(|i| row.get_ref(i).map(value))
                    .collect::<Result<Vec<_>, _>>()?;
                expected.push(values);
            }
            let found: Vec<Vec<Value>> = db
                .query(from_pg, &[Param::Text(sid)])?
                .iter()
                .map(|row| row.values().to_vec())
                .collect();
            if expected != found {
                return Err(ImportError::Refused(format!(
                    "session {sid}: its {what} read back differently from the database; \
                     nothing was committed"
                )));
            }
        }
    }
    Ok(())
}
