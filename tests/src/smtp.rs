//! A real SMTP server for tests: Debian's `python3-aiosmtpd` running
//! `tests/smtp/sink.py` on `127.0.0.1`, writing each accepted message,
//! decoded, to a temporary directory the test reads. A recipient whose
//! local part starts with `refuse` is refused with a permanent 550.
//!
//! The server is a child process, stopped by its PID when the handle is
//! dropped (or by [`TestSmtp::stop`]); a test that needs the server down
//! first takes a port with [`free_port`] and starts it there later.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Debian's interpreter, where `python3-aiosmtpd` is installed.
const PYTHON: &str = "/usr/bin/python3";

/// How a test SMTP server speaks TLS.
#[derive(Debug, Clone, Copy)]
pub enum Tls {
    /// Plain until STARTTLS, which it requires before any mail (port 587).
    StartTls,
    /// TLS from the first byte (smtps, port 465).
    Implicit,
}

/// A running test SMTP server.
pub struct TestSmtp {
    port: u16,
    child: Child,
    /// The messages it accepted (`NNNN.json`, `NNNN.eml`).
    dir: tempfile::TempDir,
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl TestSmtp {
    /// Starts the server on `port` and waits until it answers.
    pub async fn start(port: u16) -> TestSmtp {
        Self::start_with(port, &[]).await
    }

    /// Starts a server that speaks TLS with `cert` and `key` (PEM files):
    /// `Tls::StartTls` requires STARTTLS before any mail, `Tls::Implicit`
    /// (smtps) from the first byte.
    pub async fn start_tls(port: u16, tls: Tls, cert: &Path, key: &Path) -> TestSmtp {
        let mode = match tls {
            Tls::StartTls => "starttls",
            Tls::Implicit => "smtps",
        };
        Self::start_with(port, &[mode.as_ref(), cert.as_os_str(), key.as_os_str()]).await
    }

    async fn start_with(port: u16, extra: &[&std::ffi::OsStr]) -> TestSmtp {
        let dir = tempfile::tempdir().expect("a directory for the SMTP server");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("smtp/sink.py");
        let child = Command::new(PYTHON)
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.path())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs (the mail tests need Debian's python3-aiosmtpd)");
        let mut smtp = TestSmtp { port, child, dir };
        let ready = smtp.dir.path().join("ready");
        for _ in 0..200 {
            if ready.exists() {
                return smtp;
            }
            if let Ok(Some(status)) = smtp.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = smtp.child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "the test SMTP server (aiosmtpd) exited with {status} before answering on port {port} \
                     (is python3-aiosmtpd installed?): {err}"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the test SMTP server did not answer on port {port} within 10 s");
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        smtp_url(self.port)
    }

    /// The messages accepted so far, in order.
    pub fn messages(&self) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read the SMTP server's directory")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).expect("read a received message");
                serde_json::from_str(&text).expect("a received message is JSON")
            })
            .collect()
    }

    /// Waits (at most `crate::WAIT` × 2) until `count` messages were
    /// accepted; returns them all.
    pub async fn wait_messages(&self, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + crate::WAIT * 2;
        loop {
            let got = self.messages();
            if got.len() >= count {
                return got;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "the SMTP server received {} messages, not {count}, within {:?}: {got:#?}",
                    got.len(),
                    crate::WAIT * 2
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server (SIGTERM, then waits for it).
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestSmtp {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// `smtp://127.0.0.1:PORT`.
pub fn smtp_url(port: u16) -> String {
    format!("smtp://127.0.0.1:{port}")
}
