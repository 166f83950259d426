//! Logging never takes the server or its ledger down.
//!
//! The real `cadre` binary with stdout and stderr on `/dev/full` (every write
//! fails with ENOSPC): it starts, serves, and records a join in the ledger.
//! Then stderr and the data directory on a small tmpfs that fills up: the
//! ledger's commit fails and the writer logs it to the full stderr; once
//! space returns, the next join is recorded without a restart.

use futures_util::StreamExt;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "organiser-token-for-unwritable-output-tests";

/// Kills the server when the test ends, however it ends.
struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `cadre serve` with its output going to `stdout` and `stderr`,
/// and waits until it answers `/healthz`.
async fn start(dir: &Path, stdout: Stdio, stderr: Stdio) -> Running {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_cadre"))
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--organiser-token", TOKEN])
        // As much logging as there is: every line is a write that fails.
        .env("RUST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("start cadre");
    let mut running = Running {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = running.child.try_wait().expect("poll cadre") {
            panic!("cadre exited at start with {status} while its output was unwritable");
        }
        if let Ok(resp) = http.get(format!("{}/healthz", running.url)).send().await
            && resp.status() == 200
        {
            return running;
        }
        assert!(Instant::now() < deadline, "cadre never answered /healthz");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full"),
    )
}

async fn create_session(r: &Running) -> Value {
    let now = chrono::Utc::now();
    let body = json!({
        "title": "Sortie illisible",
        "kind": "formation",
        "organisation": "Organisme",
        "planned_start": now.to_rfc3339(),
        "planned_end": (now + chrono::Duration::hours(2)).to_rfc3339(),
        "people": [
            {"name": "Claire", "role": "facilitator"},
            {"name": "Karim", "role": "participant"},
            {"name": "Léa", "role": "participant"},
        ],
    });
    let resp = reqwest::Client::new()
        .post(format!("{}/api/sessions", r.url))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("create a session");
    assert_eq!(resp.status(), 201, "session creation");
    resp.json().await.expect("the session as JSON")
}

fn token_of<'a>(session: &'a Value, name: &str) -> (&'a str, &'a str) {
    let p = session["people"]
        .as_array()
        .expect("people")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} in the session"));
    (
        p["id"].as_str().expect("person id"),
        p["link"]["token"].as_str().expect("link token"),
    )
}

/// Joins with a real WebSocket client: the `welcome` if the server let the
/// person in, or what came instead.
async fn join(r: &Running, session: &Value, name: &str) -> Result<Value, String> {
    let (_, token) = token_of(session, name);
    let url = format!(
        "{}/ws/{}?token={token}",
        r.url.replace("http://", "ws://"),
        session["id"].as_str().expect("session id")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .map_err(|_| "no first message".to_owned())?;
    match first {
        Some(Ok(Message::Text(text))) => {
            let v: Value = serde_json::from_str(&text).expect("JSON");
            if v["type"] == "welcome" {
                Ok(v)
            } else {
                Err(format!("first message: {v}"))
            }
        }
        other => Err(format!("first frame: {other:?}")),
    }
}

/// The `connection_opened` entries of `pid` in the exported ledger.
async fn opened(r: &Running, sid: &str, pid: &str) -> usize {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/sessions/{sid}/ledger", r.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("export the ledger");
    assert_eq!(resp.status(), 200, "ledger export");
    let text = resp.text().await.expect("export text");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["kind"] == "connection_opened" && e["actor"] == pid)
        .count()
}

/// Waits until `pid` has `count` `connection_opened` entries (the entry is
/// durable before the welcome, but read through another connection).
async fn expect_opened(r: &Running, sid: &str, pid: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = opened(r, sid, pid).await;
        if n == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pid} has {n} connection_opened entries, expected {count}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_starts_serves_and_records_with_stdout_and_stderr_on_dev_full() {
    if !Path::new("/dev/full").exists() {
        eprintln!("SKIPPED: this system has no /dev/full");
        return;
    }
    let dir = tempfile::tempdir().expect("data directory");
    let mut r = start(dir.path(), dev_full(), dev_full()).await;
    let session = create_session(&r).await;
    let sid = session["id"].as_str().expect("sid").to_owned();
    for name in ["Claire", "Karim"] {
        let welcome = join(&r, &session, name)
            .await
            .unwrap_or_else(|e| panic!("{name} could not join: {e}"));
        let (pid, _) = token_of(&session, name);
        assert_eq!(welcome["you"]["id"], pid);
        expect_opened(&r, &sid, pid, 1).await;
    }
    assert!(
        r.child.try_wait().expect("poll").is_none(),
        "cadre exited while serving"
    );
}

/// Mounts a tmpfs of `size` on `at`; unmounts it when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Tmpfs(at.to_owned()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes zeros into `path` until the filesystem is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("create the filler");
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
}

/// Appends to `path` until not one more byte fits.
fn top_up(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open the log file");
    while f.write_all(&[b'.'; 64]).is_ok() {}
    while f.write_all(b".").is_ok() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_stderr_and_the_ledger_does_not_close_the_ledger_for_good() {
    let mount_point = tempfile::tempdir().expect("mount point");
    let _tmpfs = match Tmpfs::mount(mount_point.path(), "8m") {
        Ok(t) => t,
        Err(why) => {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root): {why}");
            return;
        }
    };
    let data = mount_point.path().join("data");
    let log_path = mount_point.path().join("cadre.log");
    let log = std::fs::File::create(&log_path).expect("create the log file");
    let r = start(&data, Stdio::null(), Stdio::from(log)).await;
    let session = create_session(&r).await;
    let sid = session["id"].as_str().expect("sid").to_owned();
    let (claire, _) = token_of(&session, "Claire");
    join(&r, &session, "Claire").await.expect("Claire joins");
    expect_opened(&r, &sid, claire, 1).await;

    // The disk fills: a join cannot be recorded, so it is refused, and the
    // writer's report of the failure goes to a stderr that cannot take it.
    let filler = mount_point.path().join("filler");
    fill(&filler);
    // The log file's last page may still have room: fill it too, so that
    // the server's next stderr write fails as on a full disk.
    top_up(&log_path);
    let refused = join(&r, &session, "Karim").await;
    assert!(
        refused.is_err(),
        "a join was welcomed while the ledger could not record it: {refused:?}"
    );

    // Space returns: the same server records the next join.
    std::fs::remove_file(&filler).expect("free the space");
    let (karim, _) = token_of(&session, "Karim");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match join(&r, &session, "Karim").await {
            Ok(welcome) => {
                assert_eq!(welcome["you"]["id"], karim);
                break;
            }
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "the ledger stayed closed after space returned: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    expect_opened(&r, &sid, karim, 1).await;
    drop(r);
}
