//! The servers `cadre-bench compare` drives with one load tool: cadre and
//! the two signalling servers people would otherwise pick (matchbox_server
//! 0.15 and the PeerJS server 1.0.2). One adapter per kind says how to join,
//! what the welcome looks like, how a signal is written and how presence
//! changes are announced; everything else in the bench is shared.

use crate::conn::{MARK, parse_bench};
use crate::setup::Server;
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Which server is under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// This project's server (`cadre serve`).
    Cadre,
    /// matchbox_server 0.15 (crates.io).
    Matchbox,
    /// The PeerJS server 1.0.2 (npm `peer`).
    Peerjs,
}

/// The path PeerJS is mounted under; its WebSocket is `<path>/peerjs`.
pub const PEERJS_PATH: &str = "/bench";

/// What one text frame from the server means to the bench.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// The join is complete; carries the id the server gave, if it gives one.
    Welcome(Option<String>),
    /// Someone (by id) arrived in the room.
    Joined(String),
    /// Someone (by id) left the room.
    Left(String),
    /// A relayed bench signal: `[phase, src, seq, ts]`.
    Signal([u64; 4]),
    /// The server refused something.
    Error(String),
    /// Anything else (acks, state, roster updates).
    Other,
}

/// Where a participant joins.
pub struct Target<'a> {
    /// `ws://host:port`.
    pub ws_base: &'a str,
    /// The bench's room number.
    pub room: usize,
    /// cadre only: session id and join token.
    pub cadre: Option<(&'a str, &'a str)>,
    /// PeerJS only: the id this connection claims.
    pub peer_id: &'a str,
}

impl Kind {
    /// Lower-case name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Cadre => "cadre",
            Kind::Matchbox => "matchbox",
            Kind::Peerjs => "peerjs",
        }
    }

    /// The WebSocket URL of a join.
    pub fn url(self, t: &Target<'_>) -> String {
        match self {
            Kind::Cadre => {
                let (sid, token) = t.cadre.unwrap_or_default();
                format!("{}/ws/{sid}?token={token}", t.ws_base)
            }
            Kind::Matchbox => format!("{}/room{}", t.ws_base, t.room),
            // The token only has to stay the same across one id's
            // reconnections; the bench never reuses an id.
            Kind::Peerjs => format!(
                "{}{PEERJS_PATH}/peerjs?key=peerjs&id={}&token=t{}",
                t.ws_base, t.peer_id, t.room
            ),
        }
    }

    /// Reads one text frame.
    pub fn classify(self, text: &str) -> Event {
        // Relayed signals are the hot path: recognised by their marker
        // without parsing the JSON.
        if text.contains(MARK)
            && let Some(fields) = parse_bench(text)
        {
            return Event::Signal(fields);
        }
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return Event::Other;
        };
        let s = |v: &Value| v.as_str().map(str::to_owned);
        match self {
            Kind::Cadre => match v["type"].as_str() {
                Some("welcome") => Event::Welcome(s(&v["you"]["id"])),
                Some("peer_joined") => s(&v["peer"]["id"]).map_or(Event::Other, Event::Joined),
                Some("peer_left") => s(&v["id"]).map_or(Event::Other, Event::Left),
                Some("error") => Event::Error(s(&v["code"]).unwrap_or_default()),
                _ => Event::Other,
            },
            Kind::Matchbox => {
                if let Some(id) = s(&v["IdAssigned"]) {
                    Event::Welcome(Some(id))
                } else if let Some(id) = s(&v["NewPeer"]) {
                    Event::Joined(id)
                } else if let Some(id) = s(&v["PeerLeft"]) {
                    Event::Left(id)
                } else {
                    Event::Other
                }
            }
            Kind::Peerjs => match v["type"].as_str() {
                Some("OPEN") => Event::Welcome(None),
                // The PeerJS server announces no arrivals; a LEAVE comes
                // only when a signal's target turned out to be gone.
                Some("LEAVE") => s(&v["src"]).map_or(Event::Other, Event::Left),
                Some(kind @ ("ERROR" | "ID-TAKEN" | "EXPIRE")) => Event::Error(format!(
                    "{kind} {}",
                    v["payload"]["msg"].as_str().unwrap_or("")
                )),
                _ => Event::Other,
            },
        }
    }

    /// A signal to `to` carrying the bench fields and `pad`; `sdp` picks an
    /// offer-like rather than a candidate-like message where the protocol
    /// distinguishes them.
    pub fn encode_signal(self, to: &str, fields: [u64; 4], pad: &str, sdp: bool) -> String {
        let mut data = String::with_capacity(48 + pad.len());
        let [phase, src, seq, ts] = fields;
        data.push('{');
        data.push_str(MARK);
        let _ = write!(data, "{phase},{src},{seq},{ts}],\"pad\":\"");
        data.push_str(pad);
        data.push_str("\"}");
        match self {
            Kind::Cadre => format!("{{\"type\":\"signal\",\"to\":\"{to}\",\"data\":{data}}}"),
            Kind::Matchbox => {
                format!("{{\"Signal\":{{\"receiver\":\"{to}\",\"data\":{data}}}}}")
            }
            Kind::Peerjs => format!(
                "{{\"type\":\"{}\",\"dst\":\"{to}\",\"payload\":{data}}}",
                if sdp { "OFFER" } else { "CANDIDATE" }
            ),
        }
    }

    /// The keep-alive a client of this kind sends, and how often.
    pub fn heartbeat(self) -> (&'static str, Duration) {
        match self {
            Kind::Cadre => ("{\"type\":\"heartbeat\"}", Duration::from_secs(10)),
            // matchbox_socket's default keep-alive interval.
            Kind::Matchbox => ("\"KeepAlive\"", Duration::from_secs(10)),
            // The PeerJS client's default pingInterval.
            Kind::Peerjs => ("{\"type\":\"HEARTBEAT\"}", Duration::from_secs(5)),
        }
    }

    /// Whether the server names its members' ids (so the bench can learn
    /// them from the welcome) or the bench chooses them.
    pub fn server_assigns_ids(self) -> bool {
        self == Kind::Matchbox
    }
}

/// A running server of any kind.
pub struct RefServer {
    /// `ws://127.0.0.1:PORT`.
    pub ws_base: String,
    /// Its process id.
    pub pid: Option<u32>,
    /// cadre's REST handle (sessions and join links).
    pub cadre: Option<Server>,
    child: Option<Child>,
    /// Where the reference's stdout and stderr go.
    pub log_path: Option<PathBuf>,
    _log_dir: Option<tempfile::TempDir>,
}

/// Paths of the servers' executables.
pub struct Bins<'a> {
    /// `target/release/cadre`.
    pub cadre: &'a Path,
    /// `matchbox_server`.
    pub matchbox: &'a Path,
    /// PeerJS's `dist/bin/peerjs.js`, run with `node`.
    pub peerjs: &'a Path,
}

impl RefServer {
    /// Starts a server of `kind` on a free loopback port and waits until it
    /// accepts connections.
    pub async fn start(kind: Kind, bins: &Bins<'_>, cadre_args: &[String]) -> Result<RefServer> {
        if kind == Kind::Cadre {
            let server = Server::spawn(bins.cadre, cadre_args, Duration::from_secs(60)).await?;
            return Ok(RefServer {
                ws_base: server.ws_base(),
                pid: server.pid,
                cadre: Some(server),
                child: None,
                log_path: None,
                _log_dir: None,
            });
        }
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = match kind {
            Kind::Matchbox => {
                let mut c = Command::new(bins.matchbox);
                c.arg(&addr);
                c
            }
            _ => {
                let mut c = Command::new("node");
                c.arg(bins.peerjs)
                    .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--path", PEERJS_PATH])
                    // Its default caps the server at 5,000 clients.
                    .args(["--concurrent_limit", "1000000"]);
                c
            }
        };
        let bin = match kind {
            Kind::Matchbox => bins.matchbox,
            _ => bins.peerjs,
        };
        if !bin.exists() {
            bail!(
                "{} not found: run bench/references.sh, which installs it",
                bin.display()
            );
        }
        let log_dir = tempfile::Builder::new()
            .prefix("cadre-bench-ref-")
            .tempdir()
            .context("creating a temporary directory")?;
        let log_path = log_dir.path().join(format!("{}.log", kind.name()));
        let log = std::fs::File::create(&log_path).context("creating the server log")?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let pid = child.id();
        let mut server = RefServer {
            ws_base: format!("ws://{addr}"),
            pid,
            cadre: None,
            child: Some(child),
            log_path: Some(log_path),
            _log_dir: Some(log_dir),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return Ok(server);
            }
            if let Some(status) = server.exited() {
                bail!("{} exited at start: {status}", kind.name());
            }
            if tokio::time::Instant::now() >= deadline {
                server.stop().await;
                bail!("{} did not listen on {addr} within 30 s", kind.name());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the process has exited (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        if let Some(s) = self.cadre.as_mut() {
            return s.exited();
        }
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Stops the server by its pid: SIGTERM, then SIGKILL after 5 s.
    pub async fn stop(&mut self) {
        if let Some(s) = self.cadre.as_mut() {
            s.stop(Duration::from_secs(5)).await;
            return;
        }
        if let Some(child) = self.child.as_mut() {
            crate::setup::stop_child(child, Duration::from_secs(5)).await;
        }
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("binding a probe socket")?;
    Ok(l.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: [u64; 4] = [2, 7, 41, 123_456_789];

    /// What each server forwards for a signal the bench sent: the payload
    /// byte for byte inside its own envelope.
    fn relayed(kind: Kind, sent: &str) -> String {
        let v: Value = serde_json::from_str(sent).expect("the signal is JSON");
        match kind {
            Kind::Cadre => {
                assert_eq!(v["type"], "signal");
                assert_eq!(v["to"], "p_1");
                format!(
                    "{{\"type\":\"signal\",\"from\":\"p_0\",\"data\":{}}}",
                    v["data"]
                )
            }
            Kind::Matchbox => {
                assert_eq!(v["Signal"]["receiver"], "p_1");
                format!(
                    "{{\"Signal\":{{\"sender\":\"p_0\",\"data\":{}}}}}",
                    v["Signal"]["data"]
                )
            }
            Kind::Peerjs => {
                assert_eq!(v["dst"], "p_1");
                format!(
                    "{{\"type\":{},\"dst\":\"p_1\",\"payload\":{},\"src\":\"p_0\"}}",
                    v["type"], v["payload"]
                )
            }
        }
    }

    #[test]
    fn signals_round_trip_through_each_envelope() {
        let pad = crate::conn::candidate_like(150);
        for kind in [Kind::Cadre, Kind::Matchbox, Kind::Peerjs] {
            for sdp in [true, false] {
                let sent = kind.encode_signal("p_1", FIELDS, &pad, sdp);
                assert_eq!(
                    kind.classify(&relayed(kind, &sent)),
                    Event::Signal(FIELDS),
                    "{kind:?}"
                );
            }
        }
        let offer: Value =
            serde_json::from_str(&Kind::Peerjs.encode_signal("x", FIELDS, "", true)).unwrap();
        let candidate: Value =
            serde_json::from_str(&Kind::Peerjs.encode_signal("x", FIELDS, "", false)).unwrap();
        assert_eq!(
            (offer["type"].as_str(), candidate["type"].as_str()),
            (Some("OFFER"), Some("CANDIDATE"))
        );
    }

    #[test]
    fn welcomes_and_presence_are_recognised() {
        let c = Kind::Cadre;
        assert_eq!(
            c.classify(r#"{"type":"welcome","protocol":1,"you":{"id":"p_a","name":"A"}}"#),
            Event::Welcome(Some("p_a".into()))
        );
        assert_eq!(
            c.classify(r#"{"type":"peer_joined","peer":{"id":"p_b","connection_id":"c"}}"#),
            Event::Joined("p_b".into())
        );
        assert_eq!(
            c.classify(r#"{"type":"peer_left","id":"p_b","reason":"closed"}"#),
            Event::Left("p_b".into())
        );
        assert_eq!(
            c.classify(r#"{"type":"error","code":"rate_limited"}"#),
            Event::Error("rate_limited".into())
        );
        let m = Kind::Matchbox;
        let id = "5f1c7a7e-2d2b-4a55-9b7e-6d5d3b0f9a10";
        assert_eq!(
            m.classify(&format!(r#"{{"IdAssigned":"{id}"}}"#)),
            Event::Welcome(Some(id.into()))
        );
        assert_eq!(
            m.classify(&format!(r#"{{"NewPeer":"{id}"}}"#)),
            Event::Joined(id.into())
        );
        assert_eq!(
            m.classify(&format!(r#"{{"PeerLeft":"{id}"}}"#)),
            Event::Left(id.into())
        );
        let p = Kind::Peerjs;
        assert_eq!(p.classify(r#"{"type":"OPEN"}"#), Event::Welcome(None));
        assert_eq!(
            p.classify(r#"{"type":"LEAVE","src":"r1-2","dst":"r1-3"}"#),
            Event::Left("r1-2".into())
        );
        assert!(matches!(
            p.classify(r#"{"type":"ERROR","payload":{"msg":"Server has reached its concurrent user limit"}}"#),
            Event::Error(e) if e.contains("limit")
        ));
        for kind in [c, m, p] {
            assert_eq!(kind.classify("not json"), Event::Other);
        }
    }

    #[test]
    fn join_urls() {
        let t = Target {
            ws_base: "ws://127.0.0.1:9",
            room: 4,
            cadre: Some(("s_1", "tok")),
            peer_id: "r4-2-0",
        };
        assert_eq!(Kind::Cadre.url(&t), "ws://127.0.0.1:9/ws/s_1?token=tok");
        assert_eq!(Kind::Matchbox.url(&t), "ws://127.0.0.1:9/room4");
        assert_eq!(
            Kind::Peerjs.url(&t),
            "ws://127.0.0.1:9/bench/peerjs?key=peerjs&id=r4-2-0&token=t4"
        );
    }
}
