//! The session catalogue: sessions, people and their links, in the embedded
//! SQLite file or in a PostgreSQL database several nodes share (both
//! through the SQL seam, `sql.rs`). The evidence ledger is a separate store
//! with its own writer; this one holds what the organiser planned.
//!
//! Calls are blocking; async callers go through [`Catalog::run`], which
//! moves the work to the blocking pool so that no runtime thread waits on
//! the disk or the network.

use super::sql::{Row, Sql};
use crate::directory::keys::random_id;
use crate::sql_params;
use cadre_protocol::api::{NewPerson, NewSession, UiLang};
use cadre_protocol::session::MediaMode;
use cadre_protocol::{Refusal, Role, SessionKind, SessionState};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, params};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Name of the SQLite file in the data directory.
pub const DB_FILE: &str = "cadre.sqlite3";

pub(crate) const MAX_TITLE: usize = 200;
pub(crate) const MAX_NAME: usize = 120;
const MAX_EMAIL: usize = 254;
const MAX_PEOPLE: usize = 50;
const MAX_DURATION_HOURS: i64 = 24;

/// Catalogue failures.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The request data is invalid; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// No such session or person.
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts the current state (actions: a change that
    /// does not follow the previous one).
    #[error("{0}")]
    Conflict(String),
    /// A refusal a client words by its reason (see `cadre_protocol::Refusal`):
    /// its code, English sentence and the values it names.
    #[error("{}", .0.message)]
    Refused(Box<cadre_protocol::ErrorBody>),
    /// SQLite failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// A statement through the SQL seam failed (either engine).
    #[error("database: {0}")]
    Sql(#[from] super::sql::SqlError),
    /// A stored value no longer parses (the file was edited by hand).
    #[error("corrupt catalogue row: {0}")]
    Corrupt(String),
    /// The blocking task panicked or was cancelled.
    #[error("catalogue task failed: {0}")]
    Task(String),
}

/// Result alias for this module.
pub type CatalogResult<T> = Result<T, CatalogError>;

impl CatalogError {
    /// A conflict with the current state, named for clients.
    pub fn conflict(
        reason: cadre_protocol::Refusal,
        args: &[(&str, &str)],
        message: impl Into<String>,
    ) -> Self {
        CatalogError::Refused(Box::new(
            cadre_protocol::ErrorBody::new(cadre_protocol::ErrorCode::Conflict, message)
                .because(reason, args),
        ))
    }

    /// Invalid input, named for clients.
    pub fn invalid(
        reason: cadre_protocol::Refusal,
        args: &[(&str, &str)],
        message: impl Into<String>,
    ) -> Self {
        CatalogError::Refused(Box::new(
            cadre_protocol::ErrorBody::new(cadre_protocol::ErrorCode::InvalidInput, message)
                .because(reason, args),
        ))
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `s_…`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: SessionKind,
    /// Organisation.
    pub organisation: String,
    /// Planned start.
    pub planned_start: DateTime<Utc>,
    /// Planned end.
    pub planned_end: DateTime<Utc>,
    /// IANA zone.
    pub time_zone: Tz,
    /// Sponsor, if any.
    pub sponsor: Option<String>,
    /// Persisted control state.
    pub state: SessionState,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// How its media travels, when chosen for it (otherwise the
    /// deployment's choice).
    pub media: Option<MediaMode>,
    /// Ended because staff cancelled it before it ran.
    pub cancelled: bool,
}

/// A person as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// `p_…`.
    pub id: String,
    /// Their session.
    pub session_id: String,
    /// Display name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// The language of their mails, when chosen for them.
    pub lang: Option<UiLang>,
    /// The time zone of their mails' dates, when not the session's.
    pub time_zone: Option<Tz>,
}

/// A link as stored (the token itself is re-minted on demand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// `l_…`, the token's `jti`.
    pub jti: String,
    /// Whose link.
    pub person_id: String,
    /// Which session.
    pub session_id: String,
    /// Valid from.
    pub not_before: DateTime<Utc>,
    /// Valid until.
    pub expires_at: DateTime<Utc>,
    /// Issue time.
    pub issued_at: DateTime<Utc>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A session with everyone in it and each person's current link.
#[derive(Debug, Clone)]
pub struct SessionDetail {
    /// The session.
    pub session: Session,
    /// People in the order they were given, with their latest link.
    pub people: Vec<(Person, Link)>,
}

/// Handle to the catalogue; cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    db: Arc<Db>,
    /// Names this handle (this process's catalogue) in what it sends
    /// through [`Catalog::notify`], so that it can tell its own apart.
    origin: Arc<str>,
    /// The thread that runs [`Catalog::run_serial`]'s work on SQLite,
    /// started at its first use; it ends when the last handle goes.
    serial: Arc<std::sync::OnceLock<std::sync::mpsc::Sender<SerialJob>>>,
}

/// Work for the catalogue's own thread.
type SerialJob = Box<dyn FnOnce() + Send>;

/// Where the catalogue lives.
enum Db {
    /// The embedded file: one connection, so statements never interleave.
    Sqlite(Mutex<Connection>),
    /// A database several nodes share.
    Postgres(crate::postgres::Pool),
}

/// The PostgreSQL channel of what live rooms on every node must hear (see
/// `app/live_events.rs`).
pub const LIVE_CHANNEL: &str = "cadre_live";

/// Idle PostgreSQL connections the catalogue keeps (the blocking pool may
/// run more calls at once; those connect and close).
const PG_KEEP: usize = 8;

/// Times a PostgreSQL transaction is tried when another one, on this node
/// or another, made it fail to serialise (a few when two people change one
/// session at once; the backoff grows to 64 ms, so twenty tries wait a
/// second at most).
const PG_TRIES: usize = 20;

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    organisation TEXT NOT NULL,
    planned_start INTEGER NOT NULL,
    planned_end INTEGER NOT NULL,
    time_zone TEXT NOT NULL,
    sponsor TEXT,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    media TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS people (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    role TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS people_by_session ON people(session_id, position);
CREATE TABLE IF NOT EXISTS links (
    jti TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    session_id TEXT NOT NULL REFERENCES sessions(id),
    not_before INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    revoked_at INTEGER,
    seal BLOB
) STRICT;
CREATE INDEX IF NOT EXISTS links_by_person ON links(person_id, issued_at);
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    author_id TEXT NOT NULL REFERENCES people(id),
    text TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    answer TEXT,
    answered_at INTEGER,
    closed_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS reports_by_session ON reports(session_id, created_at);
";

impl Catalog {
    /// Opens (creating if needed) the catalogue in `dir`.
    pub fn open(dir: &Path) -> CatalogResult<Catalog> {
        let conn = Connection::open(dir.join(DB_FILE))?;
        // WAL lets the CLI read and write while a server runs on the same file.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Every join runs the admission's statements: kept prepared (the
        // default cache of 16 is shared with every other statement here).
        conn.set_prepared_statement_cache_capacity(64);
        crate::evidence::ledger::sqlite::stable_plans(&conn)?;
        conn.execute_batch(SCHEMA)?;
        // Catalogues from before links were sealed: their links keep being
        // checked by signature.
        if !has_column(&conn, "links", "seal")? {
            conn.execute_batch("ALTER TABLE links ADD COLUMN seal BLOB")?;
        }
        // Catalogues from before sessions chose their media: the
        // deployment's choice applies to their sessions.
        if !has_column(&conn, "sessions", "media")? {
            conn.execute_batch("ALTER TABLE sessions ADD COLUMN media TEXT")?;
        }
        // Catalogues from before a cancellation was marked, and before
        // people had a language of their own.
        if !has_column(&conn, "sessions", "cancelled_at")? {
            conn.execute_batch("ALTER TABLE sessions ADD COLUMN cancelled_at INTEGER")?;
        }
        if !has_column(&conn, "people", "lang")? {
            conn.execute_batch("ALTER TABLE people ADD COLUMN lang TEXT")?;
        }
        if !has_column(&conn, "people", "time_zone")? {
            conn.execute_batch("ALTER TABLE people ADD COLUMN time_zone TEXT")?;
        }
        // Catalogues from before reports kept their filing's place in the
        // ledger.
        if !has_column(&conn, "reports", "filed_seq")? {
            conn.execute_batch("ALTER TABLE reports ADD COLUMN filed_seq INTEGER")?;
        }
        // The organisation's identity, actions and
        // their beneficiaries, and the people column that links them.
        conn.execute_batch(super::organisation::SCHEMA)?;
        super::actions::migrate(&conn)?;
        conn.execute_batch(super::questionnaires::SCHEMA)?;
        // The outgoing mail queue (invitations, reminders).
        conn.execute_batch(super::outbox::SCHEMA)?;
        // Staff accounts, their logins and the audit log.
        conn.execute_batch(super::staff::SCHEMA)?;
        Ok(Catalog {
            db: Arc::new(Db::Sqlite(Mutex::new(conn))),
            origin: new_origin()?,
            serial: Arc::default(),
        })
    }

    /// Connects to the PostgreSQL database `url` names, which `cadre
    /// migrate` prepared: a database without the catalogue's tables, or
    /// with another version of them, is refused with what to run.
    /// Blocking.
    pub fn open_postgres(url: &str) -> CatalogResult<Catalog> {
        let config = crate::postgres::config(url).map_err(CatalogError::Invalid)?;
        let driver = crate::postgres::Driver::new("catalogue-postgres")
            .map_err(|e| CatalogError::Task(e.to_string()))?;
        let pool = crate::postgres::Pool::new(config, driver, PG_KEEP);
        let catalog = Catalog {
            db: Arc::new(Db::Postgres(pool)),
            origin: new_origin()?,
            serial: Arc::default(),
        };
        let wanted = super::PG_CATALOGUE.version;
        let found = catalog.with_sql(|db| {
            let migrated = db
                .query_opt("SELECT to_regclass('cadre_schema') IS NOT NULL", &[])?
                .map(|r| r.get::<bool>(0))
                .transpose()?
                == Some(true);
            if !migrated {
                return Ok::<_, CatalogError>(None);
            }
            Ok(db
                .query_opt(
                    "SELECT version FROM cadre_schema WHERE component = ?1",
                    &sql_params![super::PG_CATALOGUE.name],
                )?
                .map(|r| r.get::<i64>(0))
                .transpose()?)
        })?;
        match found {
            Some(v) if v == i64::from(wanted) => Ok(catalog),
            Some(v) => Err(CatalogError::Invalid(format!(
                "the database's catalogue tables are at schema version {v}, this cadre's at \
                 {wanted}: run `cadre migrate --database …` with the newer of the two"
            ))),
            None => Err(CatalogError::Invalid(
                "the database has no catalogue tables: run `cadre migrate --database …` first"
                    .into(),
            )),
        }
    }

    /// A number that changes when another connection (another process)
    /// commits to the SQLite file; `None` on PostgreSQL, which has none.
    pub fn data_version(&self) -> CatalogResult<Option<i64>> {
        match &*self.db {
            Db::Sqlite(conn) => Ok(Some(lock(conn).query_row(
                "PRAGMA data_version",
                [],
                |row| row.get::<_, i64>(0),
            )?)),
            Db::Postgres(_) => Ok(None),
        }
    }

    /// This handle's name in what it sends (see [`Catalog::notify`]).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Sends `payload` to every process listening on the shared database
    /// ([`Catalog::listen`]), this one included, once committed; nothing on
    /// SQLite (one server). Call from [`Catalog::run`].
    pub fn notify(&self, payload: &str) -> CatalogResult<()> {
        if let Db::Postgres(_) = &*self.db {
            self.with_sql(|db| {
                db.execute(
                    &format!("SELECT pg_notify('{LIVE_CHANNEL}', ?1)"),
                    &sql_params![payload],
                )
            })?;
        }
        Ok(())
    }

    /// What [`Catalog::notify`] sends, from any process, until `stop`;
    /// `None` on SQLite.
    pub fn listen(
        &self,
        stop: tokio_util::sync::CancellationToken,
    ) -> Option<tokio::sync::mpsc::Receiver<crate::postgres::Heard>> {
        match &*self.db {
            Db::Sqlite(_) => None,
            Db::Postgres(pool) => Some(pool.driver().listen(
                pool.config().clone(),
                LIVE_CHANNEL,
                stop,
            )),
        }
    }

    /// Whether the catalogue is a shared PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(*self.db, Db::Postgres(_))
    }

    /// Runs blocking catalogue work off the async runtime.
    pub async fn run<T, F>(&self, work: F) -> CatalogResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Catalog) -> CatalogResult<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || work(&this))
            .await
            .map_err(|e| CatalogError::Task(e.to_string()))?
    }

    /// [`Catalog::run`] for work that comes in waves, one short piece per
    /// request (the admission of every join): on SQLite it runs on one
    /// thread of the catalogue's own, in arrival order. The blocking pool
    /// would hand each piece of a wave to a thread of its own, and those
    /// threads would then queue on the connection's lock, each put to
    /// sleep and woken again; here a wave is read one piece after the
    /// other, with no hand-over while the queue holds work. On PostgreSQL,
    /// where connections run side by side, this is [`Catalog::run`].
    pub async fn run_serial<T, F>(&self, work: F) -> CatalogResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Catalog) -> CatalogResult<T> + Send + 'static,
    {
        if matches!(&*self.db, Db::Postgres(_)) {
            return self.run(work).await;
        }
        let (done, answer) = tokio::sync::oneshot::channel();
        let this = self.clone();
        let job: SerialJob = Box::new(move || {
            let out = work(&this);
            // Before the answer: whoever hears it may drop the last handle
            // and expect the thread's queue to go with it.
            drop(this);
            let _ = done.send(out);
        });
        let queue = self.serial.get_or_init(|| {
            let (queue, jobs) = std::sync::mpsc::channel::<SerialJob>();
            let started = std::thread::Builder::new()
                .name("cadre-catalog".into())
                .spawn(move || {
                    while let Ok(job) = jobs.recv() {
                        // A panic ends that piece of work (its caller hears
                        // of it), not the thread every later one needs.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = started {
                tracing::error!("cannot start the catalogue's thread: {e}");
            }
            queue
        });
        queue
            .send(job)
            .map_err(|_| CatalogError::Task("the catalogue's thread is not running".into()))?;
        answer
            .await
            .map_err(|_| CatalogError::Task("the catalogue's work did not finish".into()))?
    }

    /// Runs `work` with a connection through the SQL seam (`sql.rs`): the
    /// way every module reaches the database. Each statement commits by
    /// itself; see [`Catalog::in_sql_transaction`] for several at once.
    /// Call from [`Catalog::run`].
    pub(crate) fn with_sql<T, E: From<super::sql::SqlError>>(
        &self,
        work: impl FnOnce(&dyn super::sql::Sql) -> Result<T, E>,
    ) -> Result<T, E> {
        match &*self.db {
            Db::Sqlite(conn) => work(&*lock(conn)),
            Db::Postgres(pool) => {
                let driver = pool.driver();
                let client = driver
                    .block_on(pool.take())
                    .map_err(super::sql::SqlError::from)?;
                let out = work(&super::sql::PgSql {
                    client: &*client,
                    driver,
                    statements: Some(client.statements()),
                });
                pool.give(client);
                out
            }
        }
    }

    /// [`Catalog::with_sql`] inside one transaction: committed when `work`
    /// returns `Ok`, rolled back (nothing written) when it returns `Err`.
    /// On PostgreSQL the transaction is serialisable, as SQLite's one
    /// connection makes it: `work` may run again (up to [`PG_TRIES`] times)
    /// when a concurrent one, maybe on another node, got in its way.
    pub(crate) fn in_sql_transaction<T>(
        &self,
        mut work: impl FnMut(&dyn super::sql::Sql) -> CatalogResult<T>,
    ) -> CatalogResult<T> {
        match &*self.db {
            Db::Sqlite(conn) => {
                let mut conn = lock(conn);
                let tx = conn.transaction()?;
                let out = work(&tx)?;
                tx.commit()?;
                Ok(out)
            }
            Db::Postgres(pool) => {
                let driver = pool.driver();
                let mut client = driver
                    .block_on(pool.take())
                    .map_err(super::sql::SqlError::from)?;
                let (conn, statements) = client.parts();
                let mut tries = 0;
                let out = loop {
                    tries += 1;
                    let attempt = (|| {
                        let tx = driver
                            .block_on(
                                conn.build_transaction()
                                    .isolation_level(tokio_postgres::IsolationLevel::Serializable)
                                    .start(),
                            )
                            .map_err(super::sql::SqlError::from)?;
                        let out = work(&super::sql::PgSql {
                            client: &tx,
                            driver,
                            statements: Some(statements),
                        })?;
                        driver
                            .block_on(tx.commit())
                            .map_err(super::sql::SqlError::from)?;
                        Ok(out)
                    })();
                    match attempt {
                        Err(CatalogError::Sql(e)) if e.is_retryable() && tries < PG_TRIES => {
                            // Apart, so that the transactions that collided
                            // do not collide again.
                            let ceiling = 1_000_000u64 << tries.min(6);
                            let jitter = std::time::SystemTime::now()
                                .duration_since(std::time::UNIX_EPOCH)
                                .map_or(0, |d| u64::from(d.subsec_nanos()) % ceiling);
                            std::thread::sleep(std::time::Duration::from_nanos(
                                ceiling / 2 + jitter / 2,
                            ));
                        }
                        done => break done,
                    }
                };
                pool.give(client);
                out
            }
        }
    }

    /// Validates and stores a new session, its people and one link each,
    /// with the link's seal when `seal` gives one (see `links.rs`).
    pub fn create_session(
        &self,
        new: &NewSession,
        link_window: impl Fn(&Session) -> (DateTime<Utc>, DateTime<Utc>),
        seal: impl Fn(&Person, &Link) -> Option<Vec<u8>>,
    ) -> CatalogResult<SessionDetail> {
        self.create_session_with(new, link_window, seal, |_, _| Ok(()))
    }

    /// [`Catalog::create_session`], running `more` in the same transaction
    /// once the session and its people are written (an action links them).
    pub(crate) fn create_session_with(
        &self,
        new: &NewSession,
        link_window: impl Fn(&Session) -> (DateTime<Utc>, DateTime<Utc>),
        seal: impl Fn(&Person, &Link) -> Option<Vec<u8>>,
        mut more: impl FnMut(&dyn Sql, &SessionDetail) -> CatalogResult<()>,
    ) -> CatalogResult<SessionDetail> {
        self.in_sql_transaction(|tx| {
            let detail = insert_session(tx, new, &link_window, &seal)?;
            more(tx, &detail)?;
            Ok(detail)
        })
    }

    /// Every session, newest planned start first.
    pub fn list_sessions(&self) -> CatalogResult<Vec<(Session, usize)>> {
        let rows = self.with_sql(|db| {
            db.query(
                &format!(
                    "SELECT {SESSION_COLUMNS}, \
                     (SELECT COUNT(*) FROM people p WHERE p.session_id = s.id) \
                     FROM sessions s ORDER BY s.planned_start DESC, s.id"
                ),
                &[],
            )
        })?;
        rows.iter()
            .map(|row| Ok((session_at(row, 0)?, row.get::<i64>(12)? as usize)))
            .collect()
    }

    /// One session.
    pub fn session(&self, id: &str) -> CatalogResult<Session> {
        self.with_sql(|db| session_in(db, id))
    }

    /// One session with its people and their latest links.
    pub fn session_detail(&self, id: &str) -> CatalogResult<SessionDetail> {
        let (session, rows) = self.with_sql(|db| {
            let session = session_in(db, id)?;
            let rows = db.query(
                &format!(
                    "SELECT {PERSON_COLUMNS}, \
                     l.jti, l.not_before, l.expires_at, l.issued_at, l.revoked_at \
                     FROM people p JOIN links l ON l.person_id = p.id \
                     WHERE p.session_id = ?1 \
                     AND l.issued_at = (SELECT MAX(issued_at) FROM links WHERE person_id = p.id) \
                     ORDER BY p.position"
                ),
                &sql_params![id],
            )?;
            Ok::<_, CatalogError>((session, rows))
        })?;
        let people = rows
            .iter()
            .map(|row| {
                let person = person_at(row, 0)?;
                let link = Link {
                    jti: row.get(7)?,
                    person_id: person.id.clone(),
                    session_id: person.session_id.clone(),
                    not_before: secs(row.get(8)?),
                    expires_at: secs(row.get(9)?),
                    issued_at: secs(row.get(10)?),
                    revoked_at: row.get::<Option<i64>>(11)?.map(secs),
                };
                Ok((person, link))
            })
            .collect::<CatalogResult<_>>()?;
        Ok(SessionDetail { session, people })
    }

    /// Resolves a verified token's link: the link must exist, match the
    /// claims and not be revoked. Returns the session and the person.
    pub fn admit(&self, jti: &str, sid: &str, sub: &str) -> CatalogResult<Admission> {
        Ok(self.admit_sealed(jti, sid, sub)?.0)
    }

    /// [`Catalog::admit`] with the link's seal, when it has one. One query:
    /// it runs at every join.
    pub fn admit_sealed(
        &self,
        jti: &str,
        sid: &str,
        sub: &str,
    ) -> CatalogResult<(Admission, Option<Vec<u8>>)> {
        // Written once: the statement cache finds it by its text at every join.
        static ADMISSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT l.person_id, l.session_id, l.revoked_at, l.seal, \
                 {PERSON_COLUMNS}, {SESSION_COLUMNS} \
                 FROM links l LEFT JOIN people p ON p.id = l.person_id \
                 LEFT JOIN sessions s ON s.id = l.session_id WHERE l.jti = ?1"
            )
        });
        let row = self.with_sql(|db| db.query_opt(&ADMISSION, &sql_params![jti]))?;
        let Some(row) = row else {
            return Ok((Admission::UnknownLink, None));
        };
        let seal = row.get::<Option<Vec<u8>>>(3)?;
        let (person_id, session_id): (String, String) = (row.get(0)?, row.get(1)?);
        if person_id != sub || session_id != sid {
            return Ok((Admission::UnknownLink, seal));
        }
        if let Some(t) = row.get::<Option<i64>>(2)? {
            return Ok((Admission::Revoked(secs(t)), seal));
        }
        if row.get::<Option<String>>(4)?.is_none() {
            return Ok((Admission::UnknownLink, seal));
        }
        if row.get::<Option<String>>(11)?.is_none() {
            return Err(CatalogError::NotFound(format!("no session {sid}")));
        }
        let admitted = Admission::Admitted {
            person: person_at(&row, 4)?,
            session: Box::new(session_at(&row, 11)?),
        };
        Ok((admitted, seal))
    }

    /// Revokes every link of a person. Returns false when the person is not
    /// in that session.
    pub fn revoke_person(&self, sid: &str, pid: &str) -> CatalogResult<Person> {
        self.in_sql_transaction(|tx| {
            let person = person_in(tx, sid, pid)?;
            tx.execute(
                "UPDATE links SET revoked_at = ?1 WHERE person_id = ?2 AND revoked_at IS NULL",
                &sql_params![Utc::now().timestamp(), pid],
            )?;
            Ok(person)
        })
    }

    /// When a link was minted to expire (seconds), if it exists.
    pub fn link_expiry(&self, jti: &str) -> CatalogResult<Option<DateTime<Utc>>> {
        let row = self.with_sql(|db| {
            db.query_opt(
                "SELECT expires_at FROM links WHERE jti = ?1",
                &sql_params![jti],
            )
        })?;
        Ok(row.map(|r| r.get(0)).transpose()?.map(secs))
    }

    /// Records a session's control state (suspended, ended…).
    pub fn set_state(&self, sid: &str, state: SessionState) -> CatalogResult<()> {
        self.write_state(sid, state, true)
    }

    /// [`Catalog::set_state`] for a state the ledger already holds (the
    /// server's start of a session, a catch-up): written without waiting
    /// for the disk (`Sql::execute_unsynced`). Should a power cut lose it,
    /// the session's next load reads the ledger's last decision and
    /// writes it again.
    pub fn note_state(&self, sid: &str, state: SessionState) -> CatalogResult<()> {
        self.write_state(sid, state, false)
    }

    fn write_state(&self, sid: &str, state: SessionState, synced: bool) -> CatalogResult<()> {
        const SQL: &str = "UPDATE sessions SET state = ?1 WHERE id = ?2";
        let n = self.with_sql(|db| {
            let params = sql_params![state.as_str(), sid];
            if synced {
                db.execute(SQL, &params)
            } else {
                db.execute_unsynced(SQL, &params)
            }
        })?;
        if n == 0 {
            return Err(CatalogError::NotFound(format!("no session {sid}")));
        }
        Ok(())
    }

    /// Adds a person by hand to a session that has not ended (see
    /// [`add_person_in`]).
    pub fn add_person(
        &self,
        sid: &str,
        new: &NewPerson,
        link_window: impl Fn(&Session) -> (DateTime<Utc>, DateTime<Utc>),
        seal: impl Fn(&Person, &Link) -> Option<Vec<u8>>,
    ) -> CatalogResult<(Person, Link)> {
        self.in_sql_transaction(|tx| add_person_in(tx, sid, new, None, &link_window, &seal))
    }

    /// Moves a session to a new window and marks it postponed. Links keep
    /// working: their validity follows the catalogue's window once a
    /// session was postponed (see `App::admit_from`).
    pub fn postpone(
        &self,
        sid: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> CatalogResult<()> {
        if end <= start {
            return Err(CatalogError::Invalid(
                "end: must be after the new start".into(),
            ));
        }
        let n = self.with_sql(|db| {
            db.execute(
                "UPDATE sessions SET planned_start = ?1, planned_end = ?2, state = ?3 WHERE id = ?4",
                &sql_params![
                    start.timestamp_millis(),
                    end.timestamp_millis(),
                    SessionState::Postponed.as_str(),
                    sid
                ],
            )
        })?;
        if n == 0 {
            return Err(CatalogError::NotFound(format!("no session {sid}")));
        }
        Ok(())
    }

    /// Lets a removed or revoked person back in: their latest link works
    /// again (links are deterministic, so it is the same URL).
    pub fn readmit(&self, sid: &str, pid: &str) -> CatalogResult<Person> {
        self.in_sql_transaction(|tx| {
            let person = person_in(tx, sid, pid)?;
            tx.execute(
                "UPDATE links SET revoked_at = NULL WHERE jti = \
                 (SELECT jti FROM links WHERE person_id = ?1 ORDER BY issued_at DESC LIMIT 1)",
                &sql_params![pid],
            )?;
            Ok(person)
        })
    }

    /// Everyone in a session, in the order given.
    pub fn people(&self, sid: &str) -> CatalogResult<Vec<Person>> {
        let rows = self.with_sql(|db| {
            db.query(
                &format!(
                    "SELECT {PERSON_COLUMNS} FROM people p WHERE p.session_id = ?1 \
                     ORDER BY p.position"
                ),
                &sql_params![sid],
            )
        })?;
        rows.iter().map(|r| person_at(r, 0)).collect()
    }

    /// Display names of a session's facilitators.
    pub fn facilitators(&self, sid: &str) -> CatalogResult<Vec<String>> {
        let rows = self.with_sql(|db| {
            db.query(
                "SELECT name FROM people WHERE session_id = ?1 AND role = 'facilitator' \
                 ORDER BY position",
                &sql_params![sid],
            )
        })?;
        Ok(rows.iter().map(|r| r.get(0)).collect::<Result<_, _>>()?)
    }
}

fn new_origin() -> CatalogResult<Arc<str>> {
    Ok(random_id(9)
        .map_err(|e| CatalogError::Task(e.to_string()))?
        .into())
}

/// A poisoned lock is safe to reuse: a panic while holding it leaves SQLite
/// itself consistent (transactions roll back).
fn lock(conn: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

/// A session's columns as [`session_at`] reads them, `s` standing for the
/// table.
pub(crate) const SESSION_COLUMNS: &str = "s.id, s.title, s.kind, s.organisation, \
     s.planned_start, s.planned_end, s.time_zone, s.sponsor, s.state, s.created_at, s.media, \
     s.cancelled_at";

/// A person's columns as [`person_at`] reads them, `p` standing for the
/// table.
pub(crate) const PERSON_COLUMNS: &str =
    "p.id, p.session_id, p.name, p.email, p.role, p.lang, p.time_zone";

/// What [`Catalog::admit`] decided.
#[derive(Debug)]
pub enum Admission {
    /// The link is current.
    Admitted {
        /// The session.
        session: Box<Session>,
        /// The person.
        person: Person,
    },
    /// The link was revoked at that time.
    Revoked(DateTime<Utc>),
    /// No such link for that person and session.
    UnknownLink,
}

fn secs(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

fn millis(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t).unwrap_or_default()
}

fn parse_state(s: &str) -> Option<SessionState> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

/// Whether `table` has `column` (catalogues from before it lack it).
fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
        params![table, column],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// A session from the row's columns `at..at + 12` ([`SESSION_COLUMNS`]).
pub(crate) fn session_at(row: &Row, at: usize) -> CatalogResult<Session> {
    let kind: String = row.get(at + 2)?;
    let tz: String = row.get(at + 6)?;
    let state: String = row.get(at + 8)?;
    Ok(Session {
        id: row.get(at)?,
        title: row.get(at + 1)?,
        kind: kind.parse().map_err(CatalogError::Corrupt)?,
        organisation: row.get(at + 3)?,
        planned_start: millis(row.get(at + 4)?),
        planned_end: millis(row.get(at + 5)?),
        time_zone: tz
            .parse()
            .map_err(|_| CatalogError::Corrupt(format!("time zone {tz}")))?,
        sponsor: row.get(at + 7)?,
        state: parse_state(&state)
            .ok_or_else(|| CatalogError::Corrupt(format!("state {state}")))?,
        created_at: millis(row.get(at + 9)?),
        media: row
            .get::<Option<String>>(at + 10)?
            .map(|m| m.parse().map_err(CatalogError::Corrupt))
            .transpose()?,
        cancelled: row.get::<Option<i64>>(at + 11)?.is_some(),
    })
}

/// A person from the row's columns `at..at + 7` ([`PERSON_COLUMNS`]).
pub(crate) fn person_at(row: &Row, at: usize) -> CatalogResult<Person> {
    let role: String = row.get(at + 4)?;
    Ok(Person {
        id: row.get(at)?,
        session_id: row.get(at + 1)?,
        name: row.get(at + 2)?,
        email: row.get(at + 3)?,
        role: match role.as_str() {
            "facilitator" => Role::Facilitator,
            "participant" => Role::Participant,
            other => return Err(CatalogError::Corrupt(format!("role {other}"))),
        },
        // An unknown tag (edited by hand) is the server's default.
        lang: row
            .get::<Option<String>>(at + 5)?
            .and_then(|l| l.parse().ok()),
        time_zone: row
            .get::<Option<String>>(at + 6)?
            .and_then(|z| z.parse().ok()),
    })
}

/// One session, read on `db` (a transaction, when the caller writes after
/// reading).
pub(crate) fn session_in(db: &dyn Sql, id: &str) -> CatalogResult<Session> {
    let row = db
        .query_opt(
            &format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = ?1"),
            &sql_params![id],
        )?
        .ok_or_else(|| CatalogError::NotFound(format!("no session {id}")))?;
    session_at(&row, 0)
}

/// One person of session `sid`, read on `db`.
pub(crate) fn person_in(db: &dyn Sql, sid: &str, pid: &str) -> CatalogResult<Person> {
    let row = db
        .query_opt(
            &format!("SELECT {PERSON_COLUMNS} FROM people p WHERE p.id = ?1 AND p.session_id = ?2"),
            &sql_params![pid, sid],
        )?
        .ok_or_else(|| CatalogError::NotFound(format!("no person {pid} in session {sid}")))?;
    person_at(&row, 0)
}

/// Validates `new` and writes the session, its people and one link each in
/// `tx`, which the caller commits (with the rows it adds alongside: an
/// action creates its sessions in its own transaction).
pub(crate) fn insert_session(
    tx: &dyn Sql,
    new: &NewSession,
    link_window: &impl Fn(&Session) -> (DateTime<Utc>, DateTime<Utc>),
    seal: &impl Fn(&Person, &Link) -> Option<Vec<u8>>,
) -> CatalogResult<SessionDetail> {
    let valid = validate(new)?;
    let now = Utc::now();
    let session = Session {
        id: format!(
            "s_{}",
            random_id(12).map_err(|e| CatalogError::Task(e.to_string()))?
        ),
        title: valid.title,
        kind: new.kind,
        organisation: valid.organisation,
        planned_start: valid.start,
        planned_end: valid.end,
        time_zone: valid.tz,
        sponsor: valid.sponsor,
        state: SessionState::Scheduled,
        created_at: now,
        media: new.media,
        cancelled: false,
    };
    let (not_before, expires_at) = link_window(&session);
    tx.execute(
        "INSERT INTO sessions (id, title, kind, organisation, planned_start, planned_end, \
         time_zone, sponsor, state, created_at, media) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        &sql_params![
            &session.id,
            &session.title,
            session.kind.as_str(),
            &session.organisation,
            session.planned_start.timestamp_millis(),
            session.planned_end.timestamp_millis(),
            session.time_zone.name(),
            session.sponsor.as_deref(),
            session.state.as_str(),
            now.timestamp_millis(),
            session.media.map(MediaMode::as_str),
        ],
    )?;
    let mut people = Vec::with_capacity(valid.people.len());
    for (position, p) in valid.people.into_iter().enumerate() {
        let window = (not_before, expires_at);
        people.push(insert_person(
            tx,
            &session.id,
            position,
            p,
            window,
            now,
            seal,
        )?);
    }
    Ok(SessionDetail { session, people })
}

/// Adds one person, and their link, to a session that has not ended, in
/// `tx`; `beneficiary` links a participant to their beneficiary of the
/// session's action. A participant of an action's session is always one
/// of its beneficiaries: without `beneficiary`, refused.
pub(crate) fn add_person_in(
    tx: &dyn Sql,
    sid: &str,
    new: &NewPerson,
    beneficiary: Option<&str>,
    link_window: &impl Fn(&Session) -> (DateTime<Utc>, DateTime<Utc>),
    seal: &impl Fn(&Person, &Link) -> Option<Vec<u8>>,
) -> CatalogResult<(Person, Link)> {
    let person = valid_person("", new)?;
    let session = session_in(tx, sid)?;
    if session.state == SessionState::Ended {
        return Err(CatalogError::conflict(
            Refusal::SessionEnded,
            &[],
            format!("the session {sid} has ended: nobody joins it any more"),
        ));
    }
    let in_action: Option<String> = tx
        .query_opt(
            "SELECT a.title FROM action_sessions x JOIN actions a ON a.id = x.action_id \
             WHERE x.session_id = ?1",
            &sql_params![sid],
        )?
        .map(|row| row.get(0))
        .transpose()?;
    if let (Some(title), Role::Participant, None) = (&in_action, person.role, beneficiary) {
        return Err(CatalogError::conflict(
            Refusal::ParticipantOfAction,
            &[("action", title)],
            format!(
                "this session belongs to the action « {title} »: a participant is added to the \
                 action as a beneficiary, which enrols them in each of its sessions"
            ),
        ));
    }
    let row = tx
        .query_opt(
            "SELECT COUNT(*), MAX(position) FROM people WHERE session_id = ?1",
            &sql_params![sid],
        )?
        .ok_or_else(|| CatalogError::Corrupt("COUNT(*) without a row".into()))?;
    let (count, last): (i64, Option<i64>) = (row.get(0)?, row.get(1)?);
    if count as usize >= MAX_PEOPLE {
        return Err(CatalogError::conflict(
            Refusal::SessionFull,
            &[("max", &MAX_PEOPLE.to_string())],
            format!("the session {sid} already has {MAX_PEOPLE} people, the most it takes"),
        ));
    }
    let position = last.map_or(0, |p| p as usize + 1);
    let added = insert_person(
        tx,
        sid,
        position,
        person,
        link_window(&session),
        Utc::now(),
        seal,
    )?;
    if let Some(bid) = beneficiary {
        tx.execute(
            "UPDATE people SET beneficiary_id = ?1 WHERE id = ?2",
            &sql_params![bid, &added.0.id],
        )?;
    }
    Ok(added)
}

/// Writes one person of session `sid` at `position`, and their link valid
/// in `window`.
fn insert_person(
    tx: &dyn Sql,
    sid: &str,
    position: usize,
    p: NewPerson,
    (not_before, expires_at): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    seal: &impl Fn(&Person, &Link) -> Option<Vec<u8>>,
) -> CatalogResult<(Person, Link)> {
    let person = Person {
        id: format!(
            "p_{}",
            random_id(9).map_err(|e| CatalogError::Task(e.to_string()))?
        ),
        session_id: sid.to_owned(),
        name: p.name,
        email: p.email,
        role: p.role,
        lang: p.lang,
        time_zone: p.time_zone.as_deref().and_then(|z| z.parse().ok()),
    };
    tx.execute(
        "INSERT INTO people (id, session_id, position, name, email, role, lang, time_zone) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &sql_params![
            &person.id,
            &person.session_id,
            position as i64,
            &person.name,
            person.email.as_deref(),
            person.role.as_str(),
            person.lang.map(UiLang::tag),
            person.time_zone.map(|z| z.name()),
        ],
    )?;
    let link = Link {
        jti: format!(
            "l_{}",
            random_id(12).map_err(|e| CatalogError::Task(e.to_string()))?
        ),
        person_id: person.id.clone(),
        session_id: sid.to_owned(),
        not_before,
        expires_at,
        issued_at: now,
        revoked_at: None,
    };
    tx.execute(
        "INSERT INTO links (jti, person_id, session_id, not_before, expires_at, issued_at, seal) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &sql_params![
            &link.jti,
            &link.person_id,
            &link.session_id,
            link.not_before.timestamp(),
            link.expires_at.timestamp(),
            link.issued_at.timestamp(),
            seal(&person, &link).as_deref(),
        ],
    )?;
    Ok((person, link))
}

struct ValidSession {
    title: String,
    organisation: String,
    sponsor: Option<String>,
    tz: Tz,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    people: Vec<NewPerson>,
}

/// Checks every field; the first problem is reported with the field's name.
fn validate(new: &NewSession) -> CatalogResult<ValidSession> {
    let invalid = |m: String| Err(CatalogError::Invalid(m));
    let title = text_field("title", &new.title, MAX_TITLE)?;
    let organisation = text_field("organisation", &new.organisation, MAX_TITLE)?;
    let sponsor = match &new.sponsor {
        Some(s) if !s.trim().is_empty() => Some(text_field("sponsor", s, MAX_TITLE)?),
        _ => None,
    };
    let zone = new.time_zone.as_deref().unwrap_or("Europe/Paris");
    let Ok(tz) = zone.parse::<Tz>() else {
        return invalid(format!("time_zone: unknown IANA time zone {zone:?}"));
    };
    let start = parse_time("planned_start", &new.planned_start, tz)?;
    let end = parse_time("planned_end", &new.planned_end, tz)?;
    if end <= start {
        return invalid("planned_end: must be after planned_start".into());
    }
    if end - start > chrono::Duration::hours(MAX_DURATION_HOURS) {
        return invalid(format!(
            "planned_end: a session lasts at most {MAX_DURATION_HOURS} hours"
        ));
    }
    if new.people.is_empty() || new.people.len() > MAX_PEOPLE {
        return invalid(format!("people: between 1 and {MAX_PEOPLE} people"));
    }
    if !new.people.iter().any(|p| p.role == Role::Facilitator) {
        return invalid("people: at least one facilitator".into());
    }
    let mut people = Vec::with_capacity(new.people.len());
    for (i, p) in new.people.iter().enumerate() {
        people.push(valid_person(&format!("people[{i}]."), p)?);
    }
    Ok(ValidSession {
        title,
        organisation,
        sponsor,
        tz,
        start,
        end,
        people,
    })
}

/// A person's fields checked, each named `{prefix}name`, `{prefix}email`.
pub(crate) fn valid_person(prefix: &str, p: &NewPerson) -> CatalogResult<NewPerson> {
    let name = text_field(&format!("{prefix}name"), &p.name, MAX_NAME)?;
    let email = email_field(&format!("{prefix}email"), p.email.as_deref())?;
    Ok(NewPerson {
        name,
        email,
        role: p.role,
        lang: p.lang,
        time_zone: zone_field(&format!("{prefix}time_zone"), p.time_zone.as_deref())?
            .map(|z| z.name().to_owned()),
    })
}

/// An optional IANA time zone: empty is none.
pub(crate) fn zone_field(field: &str, value: Option<&str>) -> CatalogResult<Option<Tz>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(z) => z.parse().map(Some).map_err(|_| {
            CatalogError::Invalid(format!(
                "{field}: {z:?} is not an IANA time zone (Europe/Paris, America/Martinique…)"
            ))
        }),
    }
}

/// An optional e-mail address: empty is none; otherwise one address,
/// without spaces or direction controls.
pub(crate) fn email_field(field: &str, value: Option<&str>) -> CatalogResult<Option<String>> {
    let e = value.unwrap_or_default().trim();
    if e.is_empty() {
        return Ok(None);
    }
    if e.len() > MAX_EMAIL
        || !e.contains('@')
        || e.chars().any(char::is_whitespace)
        || cadre_protocol::bidi_control(e).is_some()
    {
        return Err(CatalogError::Invalid(format!(
            "{field}: not an e-mail address"
        )));
    }
    Ok(Some(e.to_owned()))
}

pub(crate) fn text_field(field: &str, value: &str, max: usize) -> CatalogResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(CatalogError::Invalid(format!("{field}: must not be empty")));
    }
    if v.chars().count() > max {
        return Err(CatalogError::Invalid(format!(
            "{field}: at most {max} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(CatalogError::Invalid(format!(
            "{field}: must not contain control characters"
        )));
    }
    if let Some(c) = cadre_protocol::bidi_control(v) {
        return Err(CatalogError::Invalid(cadre_protocol::bidi_control_refusal(
            field, c,
        )));
    }
    Ok(v.to_owned())
}

/// A date-time given for a session: RFC 3339 with an offset, or a local
/// date-time read in the session's zone.
pub fn parse_session_time(field: &str, value: &str, tz: Tz) -> CatalogResult<DateTime<Utc>> {
    parse_time(field, value, tz)
}

/// RFC 3339 with an offset, or a local date-time read in the session's zone.
fn parse_time(field: &str, value: &str, tz: Tz) -> CatalogResult<DateTime<Utc>> {
    let v = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .ok_or_else(|| {
            CatalogError::Invalid(format!(
                "{field}: expected RFC 3339 (2026-12-03T09:00:00+01:00) or a local time (2026-12-03T09:00), got {v:?}"
            ))
        })?;
    // In the autumn overlap the earlier instant is the one people mean.
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            CatalogError::Invalid(format!(
                "{field}: {v} does not exist in {tz} (clocks change then)"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_session() -> NewSession {
        NewSession {
            title: "Atelier".into(),
            kind: SessionKind::Formation,
            organisation: "Organisme".into(),
            planned_start: "2026-12-03T09:00".into(),
            planned_end: "2026-12-03T12:30".into(),
            time_zone: None,
            sponsor: None,
            media: None,
            people: vec![NewPerson {
                name: "Claire".into(),
                email: None,
                role: Role::Facilitator,
                lang: None,
                time_zone: None,
            }],
        }
    }

    #[test]
    fn local_times_are_read_in_the_session_zone() {
        let v = validate(&new_session()).unwrap();
        assert_eq!(v.start.to_rfc3339(), "2026-12-03T08:00:00+00:00");
        assert_eq!(v.tz, chrono_tz::Europe::Paris);
    }

    #[test]
    fn invalid_sessions_name_the_field() {
        type Mutation = Box<dyn Fn(&mut NewSession)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|s| s.title = "  ".into()), "title"),
            (
                Box::new(|s| s.planned_end = "2026-12-03T08:00".into()),
                "planned_end",
            ),
            (
                Box::new(|s| s.time_zone = Some("Mars/Olympus".into())),
                "time_zone",
            ),
            (
                Box::new(|s| s.people[0].role = Role::Participant),
                "facilitator",
            ),
            (
                Box::new(|s| s.people[0].name = String::new()),
                "people[0].name",
            ),
            (
                Box::new(|s| s.planned_start = "demain".into()),
                "planned_start",
            ),
            (
                Box::new(|s| s.planned_start = "2026-03-29T02:30".into()),
                "does not exist",
            ),
        ];
        for (mutate, needle) in cases {
            let mut s = new_session();
            mutate(&mut s);
            match validate(&s) {
                Err(CatalogError::Invalid(m)) => assert!(m.contains(needle), "{m} lacks {needle}"),
                other => panic!("expected invalid for {needle}, got {:?}", other.map(|_| ())),
            }
        }
    }

    /// The catalogue's own thread answers in order, survives a piece of
    /// work that panics (whose caller hears of it), and ends with the last
    /// handle.
    #[tokio::test]
    async fn serial_work_runs_in_order_and_outlives_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let queued: Vec<_> = (0..20)
            .map(|i| {
                let order = Arc::clone(&order);
                catalog.run_serial(move |_| {
                    order.lock().unwrap().push(i);
                    Ok(i)
                })
            })
            .collect();
        let answers = futures_util::future::join_all(queued).await;
        let answers: Vec<i32> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers, (0..20).collect::<Vec<_>>());
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
        let panicked = catalog
            .run_serial(|_| -> CatalogResult<()> { panic!("a broken piece of work") })
            .await;
        assert!(
            matches!(panicked, Err(CatalogError::Task(_))),
            "{panicked:?}"
        );
        let detail = catalog
            .run_serial(|c| {
                c.create_session(
                    &new_session(),
                    |s| (s.planned_start, s.planned_end),
                    |_, _| None,
                )
            })
            .await
            .unwrap();
        assert_eq!(detail.people.len(), 1);
        let thread_gone = {
            let weak = Arc::downgrade(&catalog.serial);
            drop(catalog);
            weak.upgrade().is_none()
        };
        assert!(thread_gone, "the last handle takes the queue with it");
    }

    /// A catalogue written before links were sealed gains the column and
    /// keeps its links (unsealed); the admission reads them in one query.
    #[test]
    fn an_older_catalogue_gains_seals_and_keeps_its_links() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        let window = |s: &Session| (s.planned_start, s.planned_end);
        let detail = catalog
            .create_session(&new_session(), window, |_, _| Some(vec![7; 32]))
            .unwrap();
        let (claire, link) = detail.people[0].clone();
        drop(catalog);
        {
            // As an older server left it: no seal column.
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch("ALTER TABLE links DROP COLUMN seal")
                .unwrap();
        }
        let catalog = Catalog::open(dir.path()).unwrap();
        let (admission, seal) = catalog
            .admit_sealed(&link.jti, &claire.session_id, &claire.id)
            .unwrap();
        assert_eq!(seal, None);
        let Admission::Admitted { session, person } = admission else {
            panic!("the link admits: {admission:?}");
        };
        assert_eq!(
            (session.id, person),
            (detail.session.id.clone(), claire.clone())
        );
        let second = catalog
            .create_session(&new_session(), window, |_, _| Some(vec![9; 32]))
            .unwrap();
        let (p, l) = &second.people[0];
        assert_eq!(
            catalog
                .admit_sealed(&l.jti, &p.session_id, &p.id)
                .unwrap()
                .1,
            Some(vec![9; 32])
        );
        // Another person's id, another session's id, an unknown link, a
        // revoked one.
        for (jti, sid, sub) in [
            (&link.jti, &claire.session_id, &p.id),
            (&link.jti, &p.session_id, &claire.id),
            (&"l_nothing".to_owned(), &claire.session_id, &claire.id),
        ] {
            assert!(matches!(
                catalog.admit_sealed(jti, sid, sub).unwrap().0,
                Admission::UnknownLink
            ));
        }
        catalog
            .revoke_person(&claire.session_id, &claire.id)
            .unwrap();
        assert!(matches!(
            catalog
                .admit(&link.jti, &claire.session_id, &claire.id)
                .unwrap(),
            Admission::Revoked(_)
        ));
    }
}
