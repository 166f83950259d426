//! What every PostgreSQL store of cadre shares (the ledger's now, the
//! catalogue's next): the connection settings, the small runtime that
//! drives the connections, and the migration that creates the tables
//! (`cadre migrate`).
//!
//! The stores' calls are blocking, like SQLite's: they run on the ledger's
//! writer thread or on the blocking pool. Their connections (tokio-postgres)
//! are driven by a one-thread runtime of their own, so a store or a
//! connection can be dropped anywhere, the server's runtime included, and a
//! blocking call never starts a runtime inside another.

use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls};

/// How long a connection attempt waits: a database that is down is
/// reported, not waited for.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Set on every connection. `synchronous_commit` last, after whatever the
/// URL's own options say, so it wins: a commit returns once its WAL is
/// flushed. The timeouts bound a statement that waits on a lock (a lease row
/// another node holds) or on a stalled server, and a transaction left open
/// by a node that froze in the middle of it (its locks, the lease row's
/// among them, would otherwise hold a takeover back until its connection
/// died); cadre never waits that long between two statements of one.
const SESSION_OPTIONS: &str = "-c lock_timeout=10000 -c statement_timeout=30000 \
     -c idle_in_transaction_session_timeout=5000 -c synchronous_commit=on";

/// The connection settings for `url` (a libpq-style URL), with cadre's own
/// added. The error is a sentence naming what is wrong with the URL.
pub fn config(url: &str) -> Result<Config, String> {
    let mut config: Config = url.parse().map_err(|e| format!("database URL: {e}"))?;
    let options = match config.get_options() {
        Some(own) if !own.is_empty() => format!("{own} {SESSION_OPTIONS}"),
        _ => SESSION_OPTIONS.to_owned(),
    };
    config
        .options(&options)
        .application_name("cadre")
        .connect_timeout(CONNECT_TIMEOUT)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30));
    Ok(config)
}

/// The runtime that drives a store's connections. Shut down in the
/// background when dropped, which is allowed on any thread (a blocking
/// shutdown inside the server's runtime is not).
pub struct Driver(Option<tokio::runtime::Runtime>);

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

impl Driver {
    /// A new runtime, its one thread named `name`.
    pub fn new(name: &str) -> std::io::Result<Arc<Driver>> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()?;
        Ok(Arc::new(Driver(Some(runtime))))
    }

    /// Runs `work` to its end on the calling thread, which must not be one
    /// of an async runtime's (the ledger's writer thread, a blocking task).
    pub fn block_on<F: std::future::Future>(&self, work: F) -> F::Output {
        self.0
            .as_ref()
            .expect("running until dropped")
            .block_on(work)
    }

    /// Opens a connection, driven by this runtime from now on.
    pub async fn connect(&self, config: &Config) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = config.connect(NoTls).await?;
        let runtime = self.0.as_ref().expect("running until dropped");
        runtime.spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "database connection ended");
            }
        });
        Ok(client)
    }
}

/// What a [`listen`] connection hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A notification's payload, as committed by whoever sent it.
    Payload(String),
    /// The connection was lost and is listening again: what was sent
    /// meanwhile was not heard.
    Resumed,
}

impl Driver {
    /// Listens on `channel` from a connection of its own, reconnecting
    /// (every second) when it is lost, until `stop`: what is heard arrives
    /// on the receiver, in commit order, on whatever runtime reads it.
    pub fn listen(
        self: &Arc<Self>,
        config: Config,
        channel: &'static str,
        stop: tokio_util::sync::CancellationToken,
    ) -> tokio::sync::mpsc::Receiver<Heard> {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let runtime = self.0.as_ref().expect("running until dropped");
        runtime.spawn(async move {
            let mut first = true;
            while !stop.is_cancelled() {
                match listen_once(&config, channel, &tx, first, &stop).await {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(error = %e, channel, "listening for notifications"),
                }
                first = false;
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
        rx
    }
}

/// One connection's listening, until it ends or `stop`.
async fn listen_once(
    config: &Config,
    channel: &'static str,
    tx: &tokio::sync::mpsc::Sender<Heard>,
    first: bool,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<(), tokio_postgres::Error> {
    use tokio_postgres::AsyncMessage;
    let (client, mut connection) = config.connect(NoTls).await?;
    let heard = tx.clone();
    let driving = tokio::spawn(async move {
        let messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        futures_util::pin_mut!(messages);
        while let Some(message) = futures_util::StreamExt::next(&mut messages).await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if heard
                        .send(Heard::Payload(n.payload().to_owned()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    client.batch_execute(&format!("LISTEN {channel}")).await?;
    if !first && tx.send(Heard::Resumed).await.is_err() {
        return Ok(());
    }
    tokio::select! {
        () = stop.cancelled() => Ok(()),
        ended = driving => ended.unwrap_or(Ok(())),
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A connection of a [`Pool`], with the statements prepared on it.
pub struct Pooled {
    client: Client,
    statements: Statements,
}

impl From<Client> for Pooled {
    fn from(client: Client) -> Pooled {
        Pooled {
            client,
            statements: Statements::default(),
        }
    }
}

impl std::ops::Deref for Pooled {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl Pooled {
    /// The statements prepared on this connection, for it alone.
    pub fn statements(&self) -> &Statements {
        &self.statements
    }

    /// The connection to start a transaction on, with its statements.
    pub fn parts(&mut self) -> (&mut Client, &Statements) {
        (&mut self.client, &self.statements)
    }
}

/// Statements prepared on one connection, by their text as the code
/// writes it: a statement run again skips the round trip that would parse
/// and plan it anew. PostgreSQL plans a statement again by itself when a
/// table it reads changes (a migration adds a column); cadre names its
/// columns, so the rows' shape never changes under a prepared statement.
#[derive(Default)]
pub struct Statements(
    std::sync::Mutex<std::collections::HashMap<String, tokio_postgres::Statement>>,
);

/// Statements kept per connection. The code's texts are far fewer; the
/// bound holds if a text were ever built with varying content.
const KEPT_STATEMENTS: usize = 512;

impl Statements {
    /// The statement prepared for `sql`, if it is.
    pub fn get(&self, sql: &str) -> Option<tokio_postgres::Statement> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sql)
            .cloned()
    }

    /// Keeps `statement`, prepared for `sql`.
    pub fn keep(&self, sql: &str, statement: tokio_postgres::Statement) {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= KEPT_STATEMENTS {
            kept.clear();
        }
        kept.insert(sql.to_owned(), statement);
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Connections to one database, opened on demand and kept for reuse (up
/// to a bound) by the stores' blocking calls.
pub struct Pool {
    config: Config,
    keep: usize,
    idle: std::sync::Mutex<Vec<Pooled>>,
    // Last: the connections above end before the runtime driving them.
    driver: Arc<Driver>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the configuration: it may hold a password.
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool of connections made with `config`, keeping at most `keep`
    /// idle, driven by `driver`.
    pub fn new(config: Config, driver: Arc<Driver>, keep: usize) -> Pool {
        Pool {
            config,
            keep,
            idle: std::sync::Mutex::new(Vec::new()),
            driver,
        }
    }

    /// The runtime driving the connections.
    pub fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    /// The settings connections are made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// An idle connection, or a new one when none is (or the database
    /// dropped them: a restart).
    pub async fn take(&self) -> Result<Pooled, tokio_postgres::Error> {
        let idle = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            std::iter::from_fn(|| idle.pop()).find(|c| !c.is_closed())
        };
        match idle {
            Some(client) => Ok(client),
            None => Ok(self.driver.connect(&self.config).await?.into()),
        }
    }

    /// Gives back a connection [`Pool::take`] gave, unless it ended.
    pub fn give(&self, client: Pooled) {
        if client.is_closed() {
            return;
        }
        // A plain list: a panic elsewhere cannot leave it half updated.
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.keep {
            idle.push(client);
        }
    }
}

/// One part of cadre's tables, with its own schema version in
/// `cadre_schema`.
#[derive(Debug)]
pub struct Component {
    /// Its name in `cadre_schema`.
    pub name: &'static str,
    /// The version `ddl` creates.
    pub version: i32,
    /// Idempotent DDL (`IF NOT EXISTS`, `CREATE OR REPLACE`).
    pub ddl: &'static str,
    /// What the role nodes connect as may do, `{role}` standing for it.
    pub grants: &'static str,
}

/// A migration refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// PostgreSQL failed, or could not be reached.
    #[error("database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The request or the database is not one to migrate (the sentence
    /// says why); nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// The runtime driving the connection could not start.
    #[error("cannot start the database runtime: {0}")]
    Io(#[from] std::io::Error),
}

/// The version table alone, created first so a newer schema is seen before
/// anything of this one is applied over it.
const VERSION_TABLE: &str = "
CREATE TABLE IF NOT EXISTS cadre_schema (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);";

/// What the parts share: the trigger function that keeps a table as
/// recorded (UPDATE, DELETE and TRUNCATE refused, whoever asks).
const SHARED: &str = r#"
CREATE OR REPLACE FUNCTION cadre_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
"#;

/// Creates or completes `components` in the database `url` names, as their
/// owner, in one transaction, and records each one's version; with
/// `app_role`, grants that role what each component allows and nothing
/// more. Safe to run again and from several nodes at once (an advisory
/// lock serialises them); refuses, changing nothing, a database where a
/// component is newer than this cadre's. Blocking. The versions now.
pub fn migrate(
    url: &str,
    app_role: Option<&str>,
    components: &[&Component],
) -> Result<Vec<(&'static str, i32)>, MigrateError> {
    let role = app_role.map(quoted_role).transpose()?;
    let config = config(url).map_err(MigrateError::Refused)?;
    let driver = Driver::new("cadre-migrate")?;
    driver.block_on(async {
        let mut client = driver.connect(&config).await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('cadre migrate'))",
            &[],
        )
        .await?;
        tx.batch_execute(VERSION_TABLE).await?;
        for c in components {
            let found: Option<i32> = tx
                .query_opt(
                    "SELECT version FROM cadre_schema WHERE component = $1",
                    &[&c.name],
                )
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
            if let Some(v) = found.filter(|v| *v > c.version) {
                return Err(MigrateError::Refused(format!(
                    "the {} tables are at schema version {v}; this cadre knows up to {}: \
                     run the newer cadre",
                    c.name, c.version
                )));
            }
        }
        tx.batch_execute(SHARED).await?;
        let mut done = Vec::new();
        for c in components {
            tx.batch_execute(c.ddl).await?;
            tx.execute(
                "INSERT INTO cadre_schema (component, version) VALUES ($1, $2)
                 ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
                &[&c.name, &c.version],
            )
            .await?;
            if let Some(role) = &role {
                tx.batch_execute(&c.grants.replace("{role}", role)).await?;
            }
            done.push((c.name, c.version));
        }
        if let Some(role) = &role {
            tx.batch_execute(&format!(
                "REVOKE ALL ON cadre_schema FROM {role}; GRANT SELECT ON cadre_schema TO {role};"
            ))
            .await?;
        }
        tx.commit().await?;
        Ok(done)
    })
}

/// A role name, quoted for SQL; only plain identifiers are taken, so
/// nothing a configuration file says can end up as SQL.
fn quoted_role(role: &str) -> Result<String, MigrateError> {
    let plain = role
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && role
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && role.len() <= 63;
    if !plain {
        return Err(MigrateError::Refused(format!(
            "application role {role:?}: a PostgreSQL role name of lower-case letters, digits \
             and underscores is expected"
        )));
    }
    Ok(format!("\"{role}\""))
}
