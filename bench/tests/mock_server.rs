//! Runs the `cadre-bench` binary against a minimal in-process stand-in for
//! the server (same REST and WebSocket contract, no checks), to test the load
//! tool itself: scheduling, counting, latency, the JSON report.

use cadre_protocol::SessionState;
use cadre_protocol::api::{LinkView, NewSession, PersonView, SessionView};
use cadre_protocol::signalling::ServerMessage;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

#[derive(Default)]
struct Mock {
    peers: Mutex<HashMap<String, mpsc::UnboundedSender<String>>>,
    sessions: AtomicUsize,
}

async fn serve(listener: TcpListener, mock: Arc<Mock>) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(handle(stream, mock.clone()));
    }
}

async fn handle(stream: TcpStream, mock: Arc<Mock>) {
    let mut head = [0u8; 8];
    for _ in 0..50 {
        match stream.peek(&mut head).await {
            Ok(8) => break,
            Ok(0) | Err(_) => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
    if head.starts_with(b"GET /ws/") {
        websocket(stream, mock).await;
    } else {
        rest(stream, mock).await;
    }
}

async fn rest(mut stream: TcpStream, mock: Arc<Mock>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let body_start = loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..body_start]).to_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < body_start + len {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let new: NewSession = serde_json::from_slice(&buf[body_start..body_start + len]).unwrap();
    let k = mock.sessions.fetch_add(1, Ordering::Relaxed);
    let sid = format!("s_{k}");
    let view = SessionView {
        id: sid.clone(),
        title: new.title,
        kind: new.kind,
        organisation: new.organisation,
        planned_start: new.planned_start.clone(),
        planned_end: new.planned_end.clone(),
        time_zone: new.time_zone.unwrap_or_default(),
        sponsor: None,
        state: SessionState::Scheduled,
        cancelled: false,
        created_at: new.planned_start.clone(),
        people: new
            .people
            .into_iter()
            .enumerate()
            .map(|(i, p)| PersonView {
                id: format!("p_{k}_{i}"),
                name: p.name,
                email: None,
                role: p.role,
                lang: None,
                time_zone: None,
                link: LinkView {
                    url: String::new(),
                    token: format!("{sid}.p_{k}_{i}"),
                    not_before: new.planned_start.clone(),
                    expires_at: new.planned_end.clone(),
                    revoked: false,
                },
            })
            .collect(),
    };
    let json = serde_json::to_string(&view).unwrap();
    let resp = format!(
        "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{json}",
        json.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[derive(Deserialize)]
struct Signal<'a> {
    to: String,
    #[serde(borrow)]
    data: &'a RawValue,
}

async fn websocket(stream: TcpStream, mock: Arc<Mock>) {
    let mut query = String::new();
    // The error type is tungstenite's, not ours.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| {
        query = req.uri().query().unwrap_or_default().to_string();
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let pid = query
        .strip_prefix("token=")
        .and_then(|t| t.split_once('.'))
        .map(|(_, p)| p.to_string())
        .unwrap_or_default();
    // As JSON, read back as the protocol's welcome: the fields the
    // protocol adds with a default need no change here.
    let welcome: ServerMessage = serde_json::from_value(serde_json::json!({
        "type": "welcome",
        "protocol": 1,
        "connection_id": format!("c_{pid}"),
        "you": {"id": pid, "name": pid, "role": "participant"},
        "session": {
            "id": "s",
            "title": "t",
            "kind": "formation",
            "organisation": "o",
            "planned_start": "",
            "planned_end": "",
            "time_zone": "Europe/Paris",
            "facilitators": [],
            "state": "open"
        },
        "roster": [],
        "ice_servers": [],
        "ice_policy": "loopback",
        "heartbeat_interval_ms": 10_000,
        "server_time": 0,
        "slots": [],
        "consents": {"recording": null, "sponsor_share": null},
        "recording": {"armed": false, "active": false},
        "media": "peer"
    }))
    .expect("the mock's welcome is one the protocol reads");
    let (tx, mut rx) = mpsc::unbounded_channel();
    mock.peers.lock().unwrap().insert(pid.clone(), tx);
    if ws
        .send(Message::text(serde_json::to_string(&welcome).unwrap()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(sig) = serde_json::from_str::<Signal<'_>>(text.as_str()) {
                        let out = format!(
                            "{{\"type\":\"signal\",\"from\":\"{pid}\",\"data\":{}}}",
                            sig.data.get()
                        );
                        let target = mock.peers.lock().unwrap().get(&sig.to).cloned();
                        match target {
                            Some(t) => { let _ = t.send(out); }
                            None => {
                                let e = r#"{"type":"error","code":"unknown_peer","message":"no"}"#;
                                let _ = ws.send(Message::text(e)).await;
                            }
                        }
                    } else if text.as_str().contains("heartbeat") {
                        let _ = ws.send(Message::text(r#"{"type":"heartbeat_ack","server_time":0}"#)).await;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            out = rx.recv() => match out {
                Some(text) => if ws.send(Message::text(text)).await.is_err() { break },
                None => break,
            },
        }
    }
    mock.peers.lock().unwrap().remove(&pid);
}

fn run_bench(extra: &[&str]) -> serde_json::Value {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(serve(listener, Arc::new(Mock::default())));
    let out = Command::new(env!("CARGO_BIN_EXE_cadre-bench"))
        .args([
            "--url",
            &format!("http://{addr}"),
            "--organiser-token",
            "secret",
            "--server-pid",
            &std::process::id().to_string(),
            "--participants",
            "40",
            "--session-size",
            "4",
            "--settle",
            "1",
            "--drain",
            "2",
            "--json",
        ])
        .args(extra)
        .output()
        .unwrap();
    runtime.shutdown_timeout(Duration::from_secs(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(out.status.success(), "cadre-bench failed:\n{stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"))
}

#[test]
fn relay_phase_counts_every_message() {
    // The counting is under test: a latency bound no loaded machine misses.
    let report = run_bench(&[
        "--rate",
        "400",
        "--duration",
        "2",
        "--p99-target-ms",
        "2000",
    ]);
    assert_eq!(report["join"]["joined"], 40);
    assert_eq!(report["sessions"], 10);
    let relay = &report["relay"];
    let sent = relay["sent"].as_u64().unwrap();
    assert!((780..=820).contains(&sent), "sent {sent}");
    assert_eq!(relay["received"].as_u64(), Some(sent));
    assert_eq!(relay["lost"], 0);
    assert_eq!(relay["reordered"], 0);
    assert!(relay["errors"].as_object().unwrap().is_empty());
    let p50 = relay["latency"]["p50_ms"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 < 50.0, "p50 {p50}");
    assert!(report["idle"]["server_rss_connected_kib"].as_u64().unwrap() > 0);
    assert_eq!(relay["pass"], true);
}

#[test]
fn saturation_steps_up() {
    let report = run_bench(&[
        "--saturate",
        "--saturate-from",
        "200",
        "--saturate-to",
        "400",
        "--step-duration",
        "1",
        "--refine",
        "0",
        // The stepping is under test, not this machine's latency: a bound
        // no loaded machine misses, so both steps pass.
        "--p99-target-ms",
        "2000",
    ]);
    let sat = &report["saturation"];
    let steps = sat["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1]["target_rate"], 400.0);
    assert_eq!(sat["sustained_rate"], 400.0);
    assert!(report["relay"].is_null());
}
