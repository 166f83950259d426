//! A real PostgreSQL for tests: Debian's `postgresql` package, a cluster
//! made with `initdb` in a temporary directory and served on a loopback
//! port, its postmaster a child process stopped by its PID when the handle
//! is dropped. PostgreSQL refuses to run as root: under root the cluster
//! belongs to, and runs as, `nobody`.
//!
//! The cluster's superuser is `cadre` (trust authentication, loopback
//! only); [`TestPostgres::create_database`] gives each test a database of
//! its own, and [`TestPostgres::create_role`] the unprivileged role a node
//! connects as.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The cluster's superuser.
pub const SUPERUSER: &str = "cadre";

/// A running test cluster.
pub struct TestPostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    settings: Vec<(String, String)>,
    child: Option<Child>,
}

/// Where Debian installs the server's programs (`/usr/lib/postgresql/N/bin`),
/// the newest version if several are.
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("/usr/lib/postgresql: the PostgreSQL tests need Debian's postgresql package")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .expect("no /usr/lib/postgresql/N/bin/postgres: install Debian's postgresql package")
        .1
}

/// `(uid, gid)` of `nobody` when running as root, for PostgreSQL will not.
fn unprivileged() -> Option<(u32, u32)> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .expect("a nobody user to run PostgreSQL as");
    let fields: Vec<&str> = line.split(':').collect();
    Some((
        fields[2].parse().expect("nobody's uid"),
        fields[3].parse().expect("nobody's gid"),
    ))
}

fn as_cluster_user(cmd: &mut Command) -> &mut Command {
    if let Some((uid, gid)) = unprivileged() {
        // std also drops root's supplementary groups when it changes the uid.
        cmd.uid(uid).gid(gid);
    }
    cmd
}

impl TestPostgres {
    /// A new cluster, started and answering.
    pub fn start() -> TestPostgres {
        Self::start_with(&[])
    }

    /// A new cluster started with `settings` (`-c name=value`), such as
    /// `("fsync", "off")` for a server that cannot keep its promises.
    pub fn start_with(settings: &[(&str, &str)]) -> TestPostgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("a directory for the cluster");
        if let Some((uid, gid)) = unprivileged() {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("give the cluster's directory to nobody");
        }
        let data = dir.path().join("data");
        let out = as_cluster_user(&mut Command::new(bin.join("initdb")))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ])
            // The cluster is thrown away with the test: its files need not
            // reach the disk before it starts (its commits still do).
            .arg("--no-sync")
            .stdin(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut pg = TestPostgres {
            bin,
            dir,
            port: crate::smtp::free_port(),
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
        };
        pg.run();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts the postmaster on the cluster's port and waits until it
    /// accepts connections (recovering from a crash first, if it crashed).
    fn run(&mut self) {
        assert!(self.child.is_none(), "the cluster is running already");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("postgres.log"))
            .expect("open the cluster's log");
        let mut cmd = Command::new(self.bin.join("postgres"));
        as_cluster_user(&mut cmd)
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ));
        for (k, v) in &self.settings {
            cmd.arg("-c").arg(format!("{k}={v}"));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        for _ in 0..300 {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("postgres exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "postgres did not accept connections in 15 s: {}",
            self.log()
        );
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's directory (`data/` holds the database files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `postgres://USER@127.0.0.1:PORT/DB`.
    pub fn url(&self, user: &str, db: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs `sql` as the superuser in `db` with `psql`, failing the test on
    /// an error; returns what psql printed (unaligned, tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self.try_psql(SUPERUSER, db, sql);
        assert!(out.0, "psql as {SUPERUSER} in {db}: {sql}\n{}", out.1);
        out.1
    }

    /// Runs `sql` as `user` in `db`: whether it succeeded, and what psql
    /// printed (its error on failure).
    pub fn try_psql(&self, user: &str, db: &str, sql: &str) -> (bool, String) {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                user,
                "-d",
                db,
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        let text = if out.status.success() {
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        } else {
            String::from_utf8_lossy(&out.stderr).trim().to_owned()
        };
        (out.status.success(), text)
    }

    /// A new, empty database owned by the superuser.
    pub fn create_database(&self, name: &str) {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
    }

    /// A login role with no privileges of its own, as a node connects.
    pub fn create_role(&self, name: &str) {
        self.psql("postgres", &format!("CREATE ROLE \"{name}\" LOGIN"));
    }

    /// The postmaster's PID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the cluster is running").id()
    }

    /// Stops the server as a crash would (immediate shutdown: no
    /// checkpoint; the next start replays the WAL), and waits for it.
    pub fn crash(&mut self) {
        self.signal("QUIT");
    }

    /// Starts the server again, on the same port and files.
    pub fn restart(&mut self) {
        self.run();
    }

    fn signal(&mut self, signal: &str) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status();
        for _ in 0..300 {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        // Fast shutdown: disconnects clients, no need to wait for them.
        self.signal("INT");
    }
}
