//! What every PostgreSQL store of cadre shares (the ledger's now, the
//! catalogue's next): the connection settings and the small runtime that
//! drives the connections.
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
/// another node holds) or on a stalled server.
const SESSION_OPTIONS: &str =
    "-c lock_timeout=10000 -c statement_timeout=30000 -c synchronous_commit=on";

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

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
