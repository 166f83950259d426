//! The catalogue's SQL seam: each statement written once and run on SQLite
//! (the embedded default) or on PostgreSQL (several nodes sharing one
//! database, issue 17).
//!
//! Statements keep to what both engines read the same way: numbered
//! placeholders `?1`, `?2`… (rewritten to `$1`… for PostgreSQL), `ON
//! CONFLICT … DO NOTHING | DO UPDATE`, `RETURNING`, `COALESCE`, no
//! engine-only function. Values are the five SQLite storage classes:
//! integers are 64-bit (BIGINT columns on PostgreSQL), booleans are 0 and 1,
//! times are milliseconds. Each engine creates its tables with its own DDL.
//!
//! Every module of the catalogue reaches the database through it (see
//! `Catalog::with_sql`); the SQLite-only parts are the file's own
//! upgrades at open and the online backup.

use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// A value bound to a placeholder, borrowed from the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param<'a> {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (also a boolean, 0 or 1).
    Int(i64),
    /// A double.
    Real(f64),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Int(i64::from(v))
    }
}

impl From<f64> for Param<'_> {
    fn from(v: f64) -> Self {
        Param::Real(v)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Blob(v)
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

/// `[Param]` from a list of values of different types.
#[macro_export]
macro_rules! sql_params {
    ($($v:expr),* $(,)?) => {
        [$($crate::directory::sql::Param::from($v)),*]
    };
}

/// A value read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (a PostgreSQL boolean reads as 0 or 1).
    Int(i64),
    /// A double.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// Seam failures.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// SQLite failed.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed, or could not be reached.
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// A column does not hold what the caller reads it as.
    #[error("column {column}: {found:?} where {wanted} was expected")]
    Type {
        /// Its position.
        column: usize,
        /// What the caller wanted.
        wanted: &'static str,
        /// What was there.
        found: Value,
    },
}

impl SqlError {
    /// Whether a unique or primary key refused the statement, on either
    /// engine (the catalogue turns some of these into a conflict).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            SqlError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == rusqlite::ErrorCode::ConstraintViolation
                    && matches!(
                        f.extended_code,
                        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    )
            }
            SqlError::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }
}

/// What PostgreSQL said, not only that it said something ("db error").
fn postgres_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {} ({})", db.severity(), db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl SqlError {
    /// Whether PostgreSQL gave up on a transaction because a concurrent one
    /// got in its way (serialisation failure, deadlock): trying it again
    /// is the expected answer.
    pub fn is_retryable(&self) -> bool {
        use tokio_postgres::error::SqlState;
        match self {
            SqlError::Postgres(e) => matches!(
                e.code(),
                Some(&SqlState::T_R_SERIALIZATION_FAILURE | &SqlState::T_R_DEADLOCK_DETECTED)
            ),
            _ => false,
        }
    }
}

impl SqlError {
    /// Whether the database could not be reached, or went away during the
    /// statement (a restart, a crash, a network cut): the statement did
    /// nothing, and the same one may work a moment later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            SqlError::Postgres(e) => match e.code() {
                // No answer from the server at all: tokio-postgres says so
                // by the kind of error, which only its wording shows.
                None => {
                    let said = e.to_string();
                    e.is_closed()
                        || [
                            "error connecting to server",
                            "error communicating with the server",
                            "timeout waiting for server",
                        ]
                        .iter()
                        .any(|w| said.starts_with(w))
                }
                Some(code) => {
                    code.code().starts_with("08")
                        || matches!(code.code(), "57P01" | "57P02" | "57P03")
                }
            },
            _ => false,
        }
    }
}

/// How a Rust type is read from a [`Value`].
pub trait FromValue: Sized {
    /// Its name, for the error.
    const WANTED: &'static str;
    /// `None` when the value is not of this type.
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    const WANTED: &'static str = "an integer";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }
}

impl FromValue for bool {
    const WANTED: &'static str = "0 or 1";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(0) => Some(false),
            Value::Int(1) => Some(true),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    const WANTED: &'static str = "a number";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Real(v) => Some(*v),
            // SQLite stores a whole REAL as an integer when it can.
            Value::Int(v) => Some(*v as f64),
            _ => None,
        }
    }
}

impl FromValue for String {
    const WANTED: &'static str = "text";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    const WANTED: &'static str = "bytes";
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Blob(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const WANTED: &'static str = T::WANTED;
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One row read back, its values in the order of the SELECT.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(Vec<Value>);

impl Row {
    /// Every value, in the order of the SELECT.
    pub fn values(&self) -> &[Value] {
        &self.0
    }

    /// Column `i` as a `T`.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, SqlError> {
        let found = self.0.get(i).unwrap_or(&Value::Null);
        T::from_value(found).ok_or_else(|| SqlError::Type {
            column: i,
            wanted: T::WANTED,
            found: found.clone(),
        })
    }
}

/// A connection (or a transaction) of either engine.
pub trait Sql {
    /// Runs a statement; the number of rows it changed.
    fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, SqlError>;

    /// Runs a query; every row.
    fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, SqlError>;

    /// [`Sql::execute`] for a write that the caller can rebuild from
    /// elsewhere if a power cut loses it. On SQLite, outside a transaction,
    /// it commits without waiting for the disk: a crash of the process
    /// loses nothing, and the next synced commit makes it durable. Elsewhere
    /// it commits like any other statement.
    fn execute_unsynced(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, SqlError> {
        self.execute(sql, params)
    }

    /// Runs a query; its first row, if any.
    fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, SqlError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Param::Null => ValueRef::Null,
            Param::Int(v) => ValueRef::Integer(v),
            Param::Real(v) => ValueRef::Real(v),
            Param::Text(v) => ValueRef::Text(v.as_bytes()),
            Param::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

impl Sql for rusqlite::Connection {
    fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, SqlError> {
        let n = self
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(n as u64)
    }

    fn execute_unsynced(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, SqlError> {
        if !self.is_autocommit() {
            // Inside a transaction: its commit decides.
            return Sql::execute(self, sql, params);
        }
        // In WAL mode, NORMAL commits to the log without syncing it; the
        // connection is back to FULL before anyone else can use it. Kept
        // prepared, as the statement itself.
        Sql::execute(self, "PRAGMA synchronous = NORMAL", &[])?;
        let n = Sql::execute(self, sql, params);
        let restored = Sql::execute(self, "PRAGMA synchronous = FULL", &[]);
        let n = n?;
        restored?;
        Ok(n)
    }

    fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, SqlError> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Real(v),
                    ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
                    ValueRef::Blob(v) => Value::Blob(v.to_vec()),
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }
}

impl Sql for rusqlite::Transaction<'_> {
    fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, SqlError> {
        Sql::execute(&**self, sql, params)
    }

    fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, SqlError> {
        Sql::query(&**self, sql, params)
    }
}

/// `?N` placeholders as PostgreSQL's `$N`, outside quoted text and
/// identifiers; a bare `?` takes the next number, as SQLite numbers it.
pub fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut next = 1u32;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n = digits.parse().unwrap_or(next);
                next = n + 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            (None, c) => out.push(c),
        }
    }
    out
}

/// A [`Param`] as PostgreSQL wants it for the parameter's type, which the
/// server infers from the statement: an integer binds to any integer
/// column (or a boolean), NULL to anything.
impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(v) => match *ty {
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                Type::FLOAT8 => (v as f64).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Param::Real(v) => v.to_sql(ty, out),
            Param::Text(v) => v.to_sql(ty, out),
            Param::Blob(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`, which knows both sides.
        true
    }

    to_sql_checked!();
}

/// A PostgreSQL connection or transaction, used from a thread that may
/// block (see [`crate::postgres::Driver`]).
pub struct PgSql<'a, C> {
    /// The connection or transaction.
    pub client: &'a C,
    /// The runtime driving it.
    pub driver: &'a crate::postgres::Driver,
    /// The connection's prepared statements, when they are kept (a
    /// pool's connection); otherwise each statement is prepared anew.
    pub statements: Option<&'a crate::postgres::Statements>,
}

impl<C: tokio_postgres::GenericClient + Sync> PgSql<'_, C> {
    /// The statement for `sql` (SQLite's placeholders), prepared once per
    /// connection when statements are kept.
    fn statement(&self, sql: &str) -> Result<tokio_postgres::Statement, SqlError> {
        if let Some(kept) = self.statements.and_then(|s| s.get(sql)) {
            return Ok(kept);
        }
        let statement = self
            .driver
            .block_on(self.client.prepare(&dollar_placeholders(sql)))?;
        if let Some(statements) = self.statements {
            statements.keep(sql, statement.clone());
        }
        Ok(statement)
    }
}

fn refs<'p>(params: &'p [Param<'p>]) -> Vec<&'p (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl<C: tokio_postgres::GenericClient + Sync> Sql for PgSql<'_, C> {
    fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, SqlError> {
        let statement = self.statement(sql)?;
        let refs = refs(params);
        Ok(self
            .driver
            .block_on(self.client.execute(&statement, &refs))?)
    }

    fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, SqlError> {
        let statement = self.statement(sql)?;
        let refs = refs(params);
        let rows = self.driver.block_on(self.client.query(&statement, &refs))?;
        rows.iter().map(pg_row).collect()
    }
}

fn pg_row(row: &tokio_postgres::Row) -> Result<Row, SqlError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Real),
            Type::FLOAT4 => row
                .try_get::<_, Option<f32>>(i)?
                .map(|v| Value::Real(v.into())),
            Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
            _ => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(Row(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(
            dollar_placeholders("SELECT a FROM t WHERE b = ?1 AND c = ?12 OR d = ?1"),
            "SELECT a FROM t WHERE b = $1 AND c = $12 OR d = $1"
        );
        assert_eq!(
            dollar_placeholders("INSERT INTO t VALUES (?, ?, '?1 stays', \"?\")"),
            "INSERT INTO t VALUES ($1, $2, '?1 stays', \"?\")"
        );
        assert_eq!(
            dollar_placeholders("x = 'it''s ?' AND y = ?"),
            "x = 'it''s ?' AND y = $1"
        );
    }

    #[test]
    fn an_unsynced_write_commits_and_leaves_the_connection_synced() {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("t.sqlite3")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)")
            .unwrap();
        let synchronous = |c: &rusqlite::Connection| -> i64 {
            c.pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap()
        };
        let n = conn
            .execute_unsynced("INSERT INTO t (k) VALUES (?1)", &sql_params!["a"])
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(synchronous(&conn), 2, "FULL again after the write");
        // Committed: another connection sees it.
        let other = rusqlite::Connection::open(dir.path().join("t.sqlite3")).unwrap();
        let rows = Sql::query(&other, "SELECT k FROM t", &[]).unwrap();
        assert_eq!(rows.len(), 1);
        // A refused write leaves the connection synced too.
        let refused = conn.execute_unsynced("INSERT INTO t (k) VALUES (?1)", &sql_params!["a"]);
        assert!(refused.is_err());
        assert_eq!(synchronous(&conn), 2, "FULL again after a refusal");
    }

    #[test]
    fn sqlite_round_trips_every_kind_of_value() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, i INTEGER, r REAL, b BLOB)")
            .unwrap();
        let blob: &[u8] = &[0, 1, 255];
        let n = Sql::execute(
            &conn,
            "INSERT INTO t (k, i, r, b) VALUES (?1, ?2, ?3, ?4)",
            &sql_params!["a", 42i64, 1.5f64, blob],
        )
        .unwrap();
        assert_eq!(n, 1);
        Sql::execute(
            &conn,
            "INSERT INTO t (k, i, r, b) VALUES (?1, ?2, ?3, ?4)",
            &sql_params!["b", None::<i64>, None::<f64>, None::<&[u8]>],
        )
        .unwrap();
        let rows = Sql::query(&conn, "SELECT k, i, r, b FROM t ORDER BY k", &[]).unwrap();
        assert_eq!(rows[0].get::<String>(0).unwrap(), "a");
        assert_eq!(rows[0].get::<i64>(1).unwrap(), 42);
        assert_eq!(rows[0].get::<f64>(2).unwrap(), 1.5);
        assert_eq!(rows[0].get::<Vec<u8>>(3).unwrap(), blob);
        assert_eq!(rows[1].get::<Option<i64>>(1).unwrap(), None);
        // Read as what it is not: a clear error, not a panic.
        let e = rows[0].get::<i64>(0).unwrap_err();
        assert!(e.to_string().contains("an integer was expected"), "{e}");
        // A taken key is told apart.
        let e =
            Sql::execute(&conn, "INSERT INTO t (k) VALUES (?1)", &sql_params!["a"]).unwrap_err();
        assert!(e.is_unique_violation(), "{e}");
        let none =
            Sql::query_opt(&conn, "SELECT k FROM t WHERE k = ?1", &sql_params!["z"]).unwrap();
        assert_eq!(none, None);
    }
}
