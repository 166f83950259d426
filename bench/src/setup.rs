//! Starting the server under test and creating the sessions through REST.

use crate::http::Http;
use anyhow::{Context, Result, anyhow, bail};
use cadre_protocol::api::{NewPerson, NewSession, SessionView};
use cadre_protocol::{Role, SessionKind};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The line `cadre serve --json-ready` prints once it listens.
#[derive(Debug, Deserialize)]
struct Ready {
    url: String,
    organiser_token: String,
}

/// A server the bench talks to.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Organiser bearer token.
    pub organiser_token: String,
    /// Process id, when known (for CPU and memory).
    pub pid: Option<u32>,
    child: Option<Child>,
    /// Where the child's stderr goes.
    pub log_path: Option<PathBuf>,
    /// With `--tls`: a client configuration trusting only the throwaway
    /// authority that signed the server's certificate.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    data_path: Option<PathBuf>,
    _data_dir: Option<tempfile::TempDir>,
    _tls_dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `bin serve --bind 127.0.0.1:0 --data-dir <tmp> --json-ready
    /// [extra...]` and waits for its ready line.
    pub async fn spawn(bin: &Path, extra: &[String], ready_timeout: Duration) -> Result<Server> {
        Server::spawn_with(bin, extra, ready_timeout, Spawn::default()).await
    }

    /// As [`Server::spawn`], with the options of `how`.
    pub async fn spawn_with(
        bin: &Path,
        extra: &[String],
        ready_timeout: Duration,
        how: Spawn,
    ) -> Result<Server> {
        if !bin.exists() {
            bail!(
                "server binary {} not found (build it with `cargo build --release -p cadre-server`, or pass --server-bin)",
                bin.display()
            );
        }
        let (temp, data_path) = match how.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                (None, dir)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("cadre-bench-")
                    .tempdir()
                    .context("creating a temporary data directory")?;
                let path = temp.path().to_owned();
                (Some(temp), path)
            }
        };
        let tls = match how.tls {
            true => Some(throwaway_certificate()?),
            false => None,
        };
        let mut extra = extra.to_vec();
        if let Some((dir, _)) = &tls {
            extra.extend([
                "--tls-cert".to_owned(),
                dir.path().join("cert.pem").display().to_string(),
                "--tls-key".to_owned(),
                dir.path().join("key.pem").display().to_string(),
            ]);
        }
        let extra = extra.as_slice();
        let log_path = data_path.join("server.log");
        let log = std::fs::File::create(&log_path).context("creating the server log")?;
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--bind")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_path)
            .arg("--json-ready")
            // Every simulated client comes from 127.0.0.1.
            .args(["--per-address-connections", "0"])
            .args(["--per-address-admissions-per-second", "0"])
            // The signalling loads hold sessions of many people: measured
            // as signalling (as the references are), not as media
            // forwarding, unless the caller chose a mode.
            .args(
                (!extra.iter().any(|a| a.starts_with("--media-mode")))
                    .then_some(["--media-mode", "peer"])
                    .into_iter()
                    .flatten(),
            )
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(ready_timeout, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => {
                let status = child.try_wait().ok().flatten();
                let _ = child.start_kill();
                let tail = tail_of(&log_path, 20);
                bail!(
                    "the server did not print its --json-ready line ({}; exit status {:?}). Its stderr ends with:\n{tail}",
                    match other {
                        Err(_) => format!("timed out after {ready_timeout:?}"),
                        Ok(Ok(None)) => "stdout closed".to_string(),
                        Ok(Err(e)) => format!("read error: {e}"),
                        Ok(Ok(Some(_))) => unreachable!(),
                    },
                    status
                );
            }
        };
        let ready: Ready = serde_json::from_str(line.trim()).with_context(|| {
            format!("the server's first stdout line is not the --json-ready JSON: {line:?}")
        })?;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let url = ready.url.trim_end_matches('/').to_string();
        if tls.is_some() && !url.starts_with("https://") {
            let _ = child.start_kill();
            bail!("the server was given a certificate but announced {url}");
        }
        let (tls, tls_dir) = match tls {
            Some((dir, client)) => (Some(client), Some(dir)),
            None => (None, None),
        };
        Ok(Server {
            url,
            organiser_token: ready.organiser_token,
            pid,
            child: Some(child),
            log_path: Some(log_path),
            tls,
            data_path: Some(data_path),
            _data_dir: temp,
            _tls_dir: tls_dir,
        })
    }

    /// A client for this server's REST API (HTTPS when it serves TLS).
    pub fn http_client(&self, timeout: Duration) -> Result<Http> {
        Ok(match &self.tls {
            Some(config) => Http::Tls(config.clone(), timeout),
            None => Http::Plain(
                reqwest::Client::builder()
                    .timeout(timeout)
                    .no_proxy()
                    .build()
                    .context("building the HTTP client")?,
            ),
        })
    }

    /// A server someone else started.
    pub fn external(url: String, organiser_token: String, pid: Option<u32>) -> Server {
        Server {
            url: url.trim_end_matches('/').to_string(),
            organiser_token,
            pid,
            child: None,
            log_path: None,
            tls: None,
            data_path: None,
            _data_dir: None,
            _tls_dir: None,
        }
    }

    /// The data directory of a server we started.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_path.as_deref()
    }

    /// `ws://host:port`.
    pub fn ws_base(&self) -> String {
        if let Some(rest) = self.url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.url.clone()
        }
    }

    /// Whether the child has exited (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Stops a server we started: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        if let Some(child) = self.child.as_mut() {
            stop_child(child, grace).await;
        }
    }
}

/// How [`Server::spawn_with`] starts the server.
#[derive(Debug, Default)]
pub struct Spawn {
    /// Serve HTTPS and WSS with a certificate for `127.0.0.1` and
    /// `localhost` from a throwaway authority that only this run trusts.
    pub tls: bool,
    /// Use (and keep) this data directory rather than a temporary one.
    pub data_dir: Option<PathBuf>,
}

/// A throwaway authority's certificate and key for the server, in a
/// temporary directory (`cert.pem`, `key.pem`), and a client configuration
/// trusting that authority only.
fn throwaway_certificate() -> Result<(tempfile::TempDir, Arc<rustls::ClientConfig>)> {
    use cadre_tests::tls::{TestCa, Validity};
    let dir = tempfile::Builder::new()
        .prefix("cadre-bench-tls-")
        .tempdir()
        .context("creating a directory for the certificate")?;
    let ca = TestCa::new("cadre-bench");
    ca.issue(1, Validity::Current)
        .write(&dir.path().join("cert.pem"), &dir.path().join("key.pem"));
    Ok((dir, ca.client_config()))
}

/// Stops a child process: SIGTERM, then SIGKILL after `grace`.
pub async fn stop_child(child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(grace, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

/// The last `n` lines of a file.
pub fn tail_of(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One person to connect: their session, the ids of everyone in it, and
/// where they sit in that list.
#[derive(Clone)]
pub struct Seat {
    /// Session id.
    pub sid: String,
    /// Participant ids of the session, in order.
    pub members: Arc<[String]>,
    /// This person's index in `members`.
    pub pos: usize,
    /// Join token.
    pub token: String,
}

/// Splits `n` people into sessions of at most `size` (sizes differ by at most one).
pub fn session_sizes(n: usize, size: usize) -> Vec<usize> {
    let sessions = n.div_ceil(size);
    let (base, extra) = (n / sessions, n % sessions);
    (0..sessions)
        .map(|i| base + usize::from(i < extra))
        .collect()
}

/// Creates the sessions through `POST /api/sessions` (`concurrency` at a
/// time) and returns every seat.
pub async fn create_sessions(
    server: &Server,
    sizes: &[usize],
    concurrency: usize,
    timeout: Duration,
) -> Result<Vec<Seat>> {
    let client = server.http_client(Duration::from_secs(30))?;
    let now = chrono::Utc::now();
    let start = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let end = (now + chrono::Duration::hours(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (k, &size) in sizes.iter().enumerate() {
        let body = NewSession {
            title: format!("Bench session {k}"),
            kind: SessionKind::Formation,
            organisation: "cadre-bench".into(),
            planned_start: start.clone(),
            planned_end: end.clone(),
            time_zone: Some("Europe/Paris".into()),
            sponsor: None,
            media: None,
            people: (0..size)
                .map(|i| NewPerson {
                    name: format!("Bench {k}-{i}"),
                    email: None,
                    role: if i == 0 {
                        Role::Facilitator
                    } else {
                        Role::Participant
                    },
                    lang: None,
                    time_zone: None,
                })
                .collect(),
        };
        let client = client.clone();
        let url = format!("{}/api/sessions", server.url);
        let token = server.organiser_token.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let json = serde_json::to_vec(&body)?;
            let resp = client.post_json(&url, &token, &json).await?;
            if resp.status != 201 {
                let text = String::from_utf8_lossy(&resp.body);
                bail!("POST {url} answered {}: {text}", resp.status);
            }
            let view: SessionView =
                serde_json::from_slice(&resp.body).context("decoding SessionView")?;
            if view.people.len() != body.people.len() {
                bail!(
                    "session {} has {} people, expected {}",
                    view.id,
                    view.people.len(),
                    body.people.len()
                );
            }
            Ok::<_, anyhow::Error>((k, view))
        });
    }
    let mut views: Vec<Option<SessionView>> = vec![None; sizes.len()];
    let deadline = tokio::time::Instant::now() + timeout;
    while let Some(joined) = tokio::time::timeout_at(deadline, tasks.join_next())
        .await
        .map_err(|_| anyhow!("creating sessions took longer than {timeout:?}"))?
    {
        let (k, view) = joined??;
        views[k] = Some(view);
    }
    let mut seats = Vec::new();
    for view in views.into_iter().flatten() {
        let members: Arc<[String]> = view.people.iter().map(|p| p.id.clone()).collect();
        for (pos, person) in view.people.iter().enumerate() {
            seats.push(Seat {
                sid: view.id.clone(),
                members: members.clone(),
                pos,
                token: person.link.token.clone(),
            });
        }
    }
    Ok(seats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_even() {
        assert_eq!(session_sizes(10_000, 10), vec![10; 1000]);
        assert_eq!(session_sizes(21, 10), vec![7, 7, 7]);
        assert_eq!(session_sizes(11, 10), vec![6, 5]);
        assert_eq!(session_sizes(2, 10), vec![2]);
        assert_eq!(session_sizes(101, 50).iter().sum::<usize>(), 101);
    }
}
