//! Nothing acknowledged is lost, and a crash never breaks tamper evidence.
//!
//! Runs the real `cadre` binary, has participants generate evidence as fast
//! as the rate limit allows (each presence change is an entry the server
//! acknowledges with `evidence_recorded` only once it is durable), kills the
//! server with SIGKILL mid-stream, restarts it on the same data directory,
//! and checks that every acknowledged entry is in the exported ledger, that
//! the export verifies offline, and that receipts handed out before the
//! crash are consistent with the log after it.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

struct Running {
    child: Child,
    url: String,
    token: String,
}

/// A test that fails half-way must not leave its server running (it would
/// hold the files and descriptors, the build lock's among them, of the
/// command that ran the tests).
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cadre"))
        .args(["--data-dir"])
        .arg(dir)
        .args(["serve", "--bind", "127.0.0.1:0", "--json-ready"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start cadre");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the ready line");
    let ready: Value = serde_json::from_str(&line).expect("ready line is JSON");
    Running {
        child,
        url: ready["url"].as_str().expect("url").to_owned(),
        token: ready["organiser_token"].as_str().expect("token").to_owned(),
    }
}

async fn create_session(r: &Running, people: usize) -> Value {
    let now = chrono::Utc::now();
    let mut list = vec![json!({"name": "Claire Martin", "role": "facilitator"})];
    for i in 0..people {
        list.push(json!({"name": format!("Participant {i}"), "role": "participant"}));
    }
    let body = json!({
        "title": "Crash test",
        "kind": "formation",
        "organisation": "Organisme",
        "planned_start": (now - chrono::Duration::minutes(5)).to_rfc3339(),
        "planned_end": (now + chrono::Duration::hours(2)).to_rfc3339(),
        "people": list,
    });
    let resp = reqwest::Client::new()
        .post(format!("{}/api/sessions", r.url))
        .bearer_auth(&r.token)
        .json(&body)
        .send()
        .await
        .expect("create session");
    assert_eq!(resp.status(), 201);
    resp.json().await.expect("session json")
}

/// One participant changing presence as fast as allowed; returns every entry
/// the server acknowledged and every receipt it handed out.
async fn generate(ws_url: String, stop_after: Duration) -> (Vec<String>, Vec<String>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url)
        .await
        .expect("connect");
    let mut acked = Vec::new();
    let mut receipts = Vec::new();
    let deadline = tokio::time::Instant::now() + stop_after;
    let mut visible = true;
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if tokio::time::Instant::now() > deadline { break; }
                visible = !visible;
                let msg = json!({"type": "presence", "visible": visible, "focused": true});
                if ws.send(Message::text(msg.to_string())).await.is_err() { break; }
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("server JSON");
                    match v["type"].as_str() {
                        Some("evidence_recorded") => acked.push(v["entry"].as_str().unwrap_or_default().to_owned()),
                        Some("signed") => receipts.push(v["receipt"].as_str().unwrap_or_default().to_owned()),
                        Some("signin_open") => {
                            let slot = v["slot"].as_str().unwrap_or_default();
                            let m = json!({"type": "sign_in", "slot": slot});
                            let _ = ws.send(Message::text(m.to_string())).await;
                        }
                        _ => {}
                    }
                }
                Some(Ok(_)) => {}
                // The server was killed: what was acknowledged is what counts.
                _ => break,
            }
        }
    }
    (acked, receipts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_evidence_survives_sigkill_and_the_log_still_verifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut first = start(dir.path());
    let session = create_session(&first, 4).await;
    let sid = session["id"].as_str().expect("id").to_owned();
    let base = first.url.replace("http://", "ws://");
    let mut tasks = Vec::new();
    for person in session["people"].as_array().expect("people") {
        let token = person["link"]["token"].as_str().expect("token");
        let url = format!("{base}/ws/{sid}?token={token}");
        tasks.push(tokio::spawn(generate(url, Duration::from_secs(30))));
    }
    // Let evidence accumulate, then kill without warning.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    first.child.kill().expect("SIGKILL");
    first.child.wait().expect("reap");
    let mut acked = Vec::new();
    let mut receipts = Vec::new();
    for t in tasks {
        let (a, r) = tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("clients notice the crash")
            .expect("client task");
        acked.extend(a);
        receipts.extend(r);
    }
    assert!(
        acked.len() > 50,
        "the clients should have had many entries acknowledged, got {}",
        acked.len()
    );

    let mut second = start(dir.path());
    let http = reqwest::Client::new();
    let export = http
        .get(format!("{}/api/sessions/{sid}/ledger", second.url))
        .bearer_auth(&second.token)
        .send()
        .await
        .expect("export");
    assert_eq!(export.status(), 200);
    let export = export.text().await.expect("export text");
    let stored: HashSet<&str> = export.lines().collect();
    let missing: Vec<&String> = acked
        .iter()
        .filter(|e| !stored.contains(e.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged entries are missing after the crash, e.g. {:?}",
        missing.len(),
        missing.first()
    );

    let jwks: cadre_protocol::evidence::Jwks = http
        .get(format!("{}/.well-known/jwks.json", second.url))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("jwks json");
    let report = cadre_protocol::proof::verify_export(&export, &jwks, &receipts);
    assert!(
        report.ok,
        "the export must verify after a crash: {report:#?}"
    );
    // A receipt from before the crash must still be checked, not skipped.
    assert!(
        !receipts.is_empty(),
        "the sign-in should have produced a receipt before the crash"
    );

    // Tampering is still caught: drop one acknowledged entry from the export.
    let victim = acked.first().expect("one entry");
    let tampered: String = export
        .lines()
        .filter(|l| l != victim)
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!cadre_protocol::proof::verify_export(&tampered, &jwks, &receipts).ok);

    second.child.kill().expect("stop");
    second.child.wait().expect("reap");
}
