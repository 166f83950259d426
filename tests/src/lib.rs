//! Test harness for cadre: a real server on a loopback port, real HTTP and
//! WebSocket clients talking to it, and the means to forge join tokens.
//!
//! Every wait is bounded: a helper that expects something panics with a
//! sentence saying what it waited for, who waited and what came instead.
//!
//! # Layout
//! - [`TestServer`]: starts `cadre_server::Server` on `127.0.0.1:0` in a
//!   temporary data directory (kept as long as the value lives) and stops it
//!   on drop. It also holds the REST helpers (`get`, `post`, …, all returning
//!   `(status, json)`), session creation, and token forging with the
//!   server's own signing key.
//! - [`Client`]: one WebSocket connection. A background task reads the
//!   socket all the time (so pings are answered, as a browser would) and
//!   queues what arrives; `recv*` and `expect_*` take from that queue in
//!   order and skip nothing except ping/pong control frames; evidence and
//!   sign-in messages go to their own queue (`recv_evidence*`).
//!   [`Client::pause_reading`] stops reading the socket altogether, to play
//!   a frozen tab; dropping a `Client` cuts the TCP connection without a
//!   close frame, like a network loss.
//! - [`Sender`]: a cloneable sending half of a [`Client`], for a task that
//!   writes while the test reads.
//! - [`Incoming`]: what a client can receive (text, binary, close, end).
//! - Session helpers: [`session_body`] (a valid `NewSession` to edit) and
//!   [`person`] (someone of a `SessionView` by name, with their link).
//! - Token helpers: [`claims_of`], [`header_of`], [`sign_eddsa`],
//!   [`sign_hs256`], [`unsigned_token`], [`other_ed25519_key`], [`now`].
//!
//! # Example
//! ```no_run
//! # async fn demo() {
//! use cadre_protocol::Role;
//! use cadre_tests::TestServer;
//!
//! let server = TestServer::start().await;
//! let session = server
//!     .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
//!     .await;
//! let mut claire = server.join(&session, "Claire").await;
//! let mut karim = server.join(&session, "Karim").await;
//! claire.recv_type("peer_joined").await;
//! karim.signal(&claire.id, serde_json::json!({"candidate": null})).await;
//! let signal = claire.recv_type("signal").await;
//! assert_eq!(signal["from"], karim.id.as_str());
//! # }
//! ```

pub mod containers;
pub mod frames;
pub mod media;
// A real PostgreSQL (Debian's postgresql) for the multi-node stores.
pub mod postgres;
pub mod relay;
// A real SMTP server (aiosmtpd) for the mail tests.
pub mod smtp;
pub mod tsa;
// HTTPS, WSS and the reverse proxy.
pub mod nginx;
pub mod tls;
pub mod turn;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cadre_protocol::api::{NewPerson, NewSession, PersonView, SessionView};
use cadre_protocol::{ErrorBody, Role, SessionKind};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Bytes;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role as WsRole;
use tokio_util::sync::CancellationToken;

pub use cadre_server::Config;
pub use reqwest::StatusCode;
pub use tokio_tungstenite::tungstenite::Message;

mod setups;
pub use setups::{PEOPLE, PEOPLE_OF_FIVE, TRIO, identity, rfc3339};
// A staff member logged in to the console.
pub mod staff;

/// How long any helper waits for something it expects before failing the
/// test. Generous: the machine running the tests may be busy.
pub const WAIT: Duration = Duration::from_secs(10);

/// The WebSocket type under the clients.
type Ws = WebSocketStream<TcpStream>;

/// Held by the tests that load the machine most (clusters of server
/// processes with their database) and by those that follow a rate over
/// seconds, so that on a two-core machine one never starves the other.
pub async fn heavy() -> tokio::sync::MutexGuard<'static, ()> {
    static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    HEAVY.lock().await
}

/// Seconds since the Unix epoch, for token claims.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// A cadre server running in this test's runtime.
///
/// Dropping it cancels the server (connected clients then see close 4006).
pub struct TestServer {
    /// Where the server listens.
    addr: SocketAddr,
    /// The organiser bearer token the server generated or was given.
    organiser_token: String,
    /// Base of the join links.
    public_url: String,
    /// One HTTP client for every REST call (keeps connections alive).
    http: reqwest::Client,
    /// Stops the server: cancelled on drop or by [`TestServer::shutdown`].
    shutdown: CancellationToken,
    /// The server's data directory (key, token, database); deleted when the
    /// last harness using it is dropped, after the server has been told to
    /// stop. Shared by a server and the one [`TestServer::restart_with`]
    /// starts over the same files.
    data_dir: Arc<tempfile::TempDir>,
    /// The task serving; [`TestServer::stop`] waits for it, so the ledger
    /// file is closed before a test edits it.
    served: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// The running server's state, for tests that must reach inside (e.g.
    /// to append ledger entries no client message produces yet).
    app: cadre_server::App,
}

impl TestServer {
    /// Starts a server with the default configuration (bound to
    /// `127.0.0.1:0`).
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after letting `adjust` change the configuration (the
    /// bind address is already `127.0.0.1:0` and the data directory a fresh
    /// temporary one).
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let data_dir = tempfile::tempdir().expect("create a temporary data directory");
        Self::start_in(Arc::new(data_dir), adjust).await
    }

    /// Starts another server over this one's data directory (stop this one
    /// first), as a restart of the same installation would.
    pub async fn restart_with(&self, adjust: impl FnOnce(&mut Config)) -> TestServer {
        Self::start_in(self.data_dir.clone(), adjust).await
    }

    /// Starts a server on a data directory made elsewhere (a restored
    /// backup); the harness owns it from then on and deletes it on drop.
    pub async fn start_on(
        data_dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        Self::start_in(Arc::new(data_dir), adjust).await
    }

    async fn start_in(
        data_dir: Arc<tempfile::TempDir>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = Config::new(data_dir.path());
        config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        // Tests of anything but the media route keep it peer to peer, so
        // that a third person does not open server connections they never
        // use; the tests of forwarding choose it.
        config.media_mode = cadre_protocol::session::MediaMode::Peer;
        adjust(&mut config);
        let server = cadre_server::Server::bind(config)
            .await
            .expect("the server binds and opens its data directory");
        let addr = server.local_addr();
        let organiser_token = server.organiser_token().to_string();
        let public_url = server.public_url().to_string();
        let app = server.app().clone();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let served = tokio::spawn(async move {
            if let Err(e) = server.serve(stop).await {
                panic!("the server stopped with an error: {e}");
            }
        });
        let http = reqwest::Client::builder()
            .timeout(WAIT)
            .build()
            .expect("build the HTTP client");
        TestServer {
            addr,
            organiser_token,
            public_url,
            http,
            shutdown,
            data_dir,
            served: std::sync::Mutex::new(Some(served)),
            app,
        }
    }

    /// The session's ledger entries of `kind`, parsed, in log order.
    pub async fn ledger_entries(&self, sid: &str, kind: &str) -> Vec<Value> {
        let mut all = self.ledger_all(sid).await;
        all.retain(|e| e["kind"] == kind);
        all
    }

    /// Joins `facilitator` and `participant`, has both grant `recording`
    /// and the facilitator arm it; returns once both see it active: the
    /// consent wording's hash, both clients, and the participant's status.
    pub async fn recording_together(
        &self,
        session: &SessionView,
        facilitator: &str,
        participant: &str,
    ) -> (String, Client, Client, Value) {
        let hash = self
            .consent_hash(&session.people[0].link.token, "recording")
            .await;
        let mut leader = self.join(session, facilitator).await;
        let mut member = self.join(session, participant).await;
        leader.decide_recording(&hash, true).await;
        member.decide_recording(&hash, true).await;
        leader
            .send_json(&serde_json::json!({"type": "recording", "armed": true}))
            .await;
        let on = member
            .recording_state("active", |r| r["active"] == true)
            .await;
        leader
            .recording_state("active", |r| r["active"] == true)
            .await;
        (hash, leader, member, on)
    }

    /// The session's ledger export (`GET /api/sessions/{sid}/ledger`), as
    /// the organiser downloads it.
    pub async fn ledger_export(&self, sid: &str) -> String {
        let response = self
            .http()
            .get(self.url(&format!("/api/sessions/{sid}/ledger")))
            .bearer_auth(self.organiser_token())
            .send()
            .await
            .expect("the export answers");
        assert_eq!(response.status(), StatusCode::OK, "the ledger export");
        response.text().await.expect("the export's body")
    }

    /// The published keys (`/.well-known/jwks.json`), as text.
    pub async fn jwks_text(&self) -> String {
        let (status, body) = self.get_public("/.well-known/jwks.json").await;
        assert_eq!(status, StatusCode::OK, "the JWKS");
        body.to_string()
    }

    /// Every entry of the session's ledger, parsed, in log order.
    pub async fn ledger_all(&self, sid: &str) -> Vec<Value> {
        self.app
            .ledger()
            .entries(sid)
            .await
            .expect("read the ledger")
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.text).expect("an entry is JSON"))
            .collect()
    }

    /// Waits (at most [`WAIT`]) until the session's ledger holds `count`
    /// entries of `kind`; returns them all.
    pub async fn wait_ledger(&self, sid: &str, kind: &str, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = self.ledger_entries(sid, kind).await;
            if found.len() >= count {
                return found;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("fewer than {count} {kind} entries in the ledger after {WAIT:?}: {found:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The SHA-256 of the French wording of `consent` in the lobby of the
    /// person whose join token this is.
    pub async fn consent_hash(&self, token: &str, consent: &str) -> String {
        let (_, lobby) = self.get_public(&format!("/api/join?token={token}")).await;
        lobby["consent_texts"]
            .as_array()
            .expect("consent_texts")
            .iter()
            .find(|t| t["consent"] == consent && t["lang"] == "fr")
            .and_then(|t| t["sha256"].as_str())
            .unwrap_or_else(|| panic!("no {consent} wording in {lobby}"))
            .to_owned()
    }

    /// The running server's state.
    pub fn app(&self) -> &cadre_server::App {
        &self.app
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The organiser bearer token.
    pub fn organiser_token(&self) -> &str {
        &self.organiser_token
    }

    /// The base of join links (`{public_url}/j/{token}`).
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// A file in the server's data directory (`signing-key.pk8`,
    /// `organiser-token`, `cadre.sqlite3`).
    pub fn data_file(&self, name: &str) -> PathBuf {
        self.data_dir.path().join(name)
    }

    /// Tells the server to stop, as SIGTERM would. The data directory stays
    /// until the harness is dropped.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Stops the server and waits (at most [`WAIT`]) until it has finished:
    /// connections closed, the ledger's writer drained and stopped.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        let served = self.served.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(served) = served {
            tokio::time::timeout(WAIT, served)
                .await
                .unwrap_or_else(|_| panic!("the server had not stopped {WAIT:?} after shutdown"))
                .expect("the server task ends without panicking");
        }
    }

    // -- REST ---------------------------------------------------------------

    /// `http://{addr}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The shared HTTP client, for requests the helpers below do not cover.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends a request and returns its status and body. The body is parsed
    /// as JSON; a body that is not JSON comes back as a JSON string holding
    /// the raw text (so `"ok"` from `/healthz` is `Value::String("ok")`).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request
            .send()
            .await
            .expect("the server answers HTTP requests");
        let status = response.status();
        let text = response.text().await.expect("read the HTTP body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// `GET path` with the organiser bearer token.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_with_bearer(path, Some(&self.organiser_token))
            .await
    }

    /// `GET path` without any credential.
    pub async fn get_public(&self, path: &str) -> (StatusCode, Value) {
        self.get_with_bearer(path, None).await
    }

    /// `GET path` with the given bearer token, or none.
    pub async fn get_with_bearer(&self, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.http.get(self.url(path));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        self.send(request).await
    }

    /// `PATCH path` with a JSON body and the organiser bearer token.
    pub async fn patch(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let request = self
            .http()
            .patch(self.url(path))
            .bearer_auth(&self.organiser_token)
            .json(body);
        self.send(request).await
    }

    /// `POST path` with a JSON body and the organiser bearer token.
    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.post_raw(path, Some(&self.organiser_token), body.to_string())
            .await
    }

    /// `POST path` with `body` sent verbatim as `application/json` (it need
    /// not be valid JSON) and the given bearer token, or none.
    pub async fn post_raw(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: String,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        self.send(request).await
    }

    /// Creates a session planned from now for three hours, with these
    /// people, and returns it as the organiser sees it (links included).
    pub async fn create_session(&self, people: &[(&str, Role)]) -> SessionView {
        self.create_session_body(&session_body(people)).await
    }

    /// Creates a session from a full body; panics unless the answer is
    /// `201 Created` with a [`SessionView`].
    pub async fn create_session_body(&self, body: &NewSession) -> SessionView {
        let body = serde_json::to_value(body).expect("serialise NewSession");
        let (status, answer) = self.post("/api/sessions", &body).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "creating a session should answer 201, got {status}: {answer}"
        );
        serde_json::from_value(answer.clone())
            .unwrap_or_else(|e| panic!("the 201 body is not a SessionView ({e}): {answer}"))
    }

    /// How many sessions `GET /api/sessions` lists.
    pub async fn session_count(&self) -> usize {
        let (status, list) = self.get("/api/sessions").await;
        assert_eq!(status, StatusCode::OK, "GET /api/sessions: {list}");
        list.as_array()
            .unwrap_or_else(|| panic!("GET /api/sessions is not an array: {list}"))
            .len()
    }

    /// Revokes a person's links through the REST API; returns the answer.
    pub async fn revoke(&self, session_id: &str, person_id: &str) -> (StatusCode, Value) {
        self.post(
            &format!("/api/sessions/{session_id}/people/{person_id}/revoke"),
            &json!({}),
        )
        .await
    }

    // -- WebSocket ----------------------------------------------------------

    /// Opens `/ws/{session_id}?token={token}` and waits for the `welcome`.
    ///
    /// A refusal of the upgrade comes back as its HTTP status and error body.
    /// Anything else unexpected (no answer, a body that is not an
    /// [`ErrorBody`], a first message other than `welcome`) panics.
    pub async fn connect(
        &self,
        session_id: &str,
        token: &str,
    ) -> Result<Client, (StatusCode, ErrorBody)> {
        self.connect_path(&format!("/ws/{session_id}?token={token}"))
            .await
    }

    /// Like [`TestServer::connect`] with a raw path and query, for requests
    /// the usual shape cannot express (no token, odd characters, …). The
    /// caller percent-encodes what needs it.
    pub async fn connect_path(
        &self,
        path_and_query: &str,
    ) -> Result<Client, (StatusCode, ErrorBody)> {
        self.connect_with(path_and_query, &Upgrade::default())
            .await
            .map_err(|r| (r.status, r.error))
    }

    /// Like [`TestServer::connect_path`], from another loopback source
    /// address or with more request headers; a refusal keeps its headers.
    pub async fn connect_with(
        &self,
        path_and_query: &str,
        options: &Upgrade,
    ) -> Result<Client, Refusal> {
        let upgrade = tokio::time::timeout(WAIT, upgrade(self.addr, path_and_query, options))
            .await
            .unwrap_or_else(|_| {
                panic!("no answer to the upgrade of {path_and_query} within {WAIT:?}")
            });
        match upgrade {
            Ok((tcp, already_read)) => {
                let ws =
                    WebSocketStream::from_partially_read(tcp, already_read, WsRole::Client, None)
                        .await;
                Ok(Client::start(ws).await)
            }
            Err((status, body, headers)) => {
                let error: ErrorBody = serde_json::from_slice(&body).unwrap_or_else(|e| {
                    panic!(
                        "upgrade of {path_and_query} refused with {status} and a body that is not \
                         an error body ({e}): {:?}",
                        String::from_utf8_lossy(&body)
                    )
                });
                Err(Refusal {
                    status,
                    error,
                    headers,
                })
            }
        }
    }

    /// Connects the person called `name` of `session` with their own link;
    /// panics if the server refuses.
    pub async fn join(&self, session: &SessionView, name: &str) -> Client {
        let token = &person(session, name).link.token;
        self.connect(&session.id, token)
            .await
            .unwrap_or_else(|(status, error)| {
                panic!("{name} could not join {}: {status} {error:?}", session.id)
            })
    }

    /// Expects the upgrade to be refused; returns the status and error body.
    pub async fn refusal(&self, session_id: &str, token: &str) -> (StatusCode, ErrorBody) {
        self.refusal_path(&format!("/ws/{session_id}?token={token}"))
            .await
    }

    /// [`TestServer::refusal`] with a raw path and query.
    pub async fn refusal_path(&self, path_and_query: &str) -> (StatusCode, ErrorBody) {
        match self.connect_path(path_and_query).await {
            Ok(client) => panic!(
                "the server accepted {path_and_query} (welcome: {}) but should have refused it",
                client.welcome
            ),
            Err(refusal) => refusal,
        }
    }

    // -- Tokens -------------------------------------------------------------

    /// The server's real signing key, read from `signing-key.pk8`.
    pub fn signing_key(&self) -> jsonwebtoken::EncodingKey {
        let der = std::fs::read(self.data_file("signing-key.pk8"))
            .expect("read signing-key.pk8 from the data directory");
        jsonwebtoken::EncodingKey::from_ed_der(&der)
    }

    /// A token signed with the server's real key, with the header (`kid`)
    /// and claims of `real_token` except for `overrides`: each key of that
    /// object replaces the claim, and a `null` removes it.
    pub fn forge_token(&self, real_token: &str, overrides: Value) -> String {
        let kid = header_of(real_token)["kid"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("the real token has no kid: {real_token}"));
        let claims = with_overrides(claims_of(real_token), overrides);
        sign_eddsa(&kid, &claims, &self.signing_key())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// `cadre verify ledger.jsonl --jwks jwks.json [--tsa-cert …]`, as an
/// auditor runs it, on files written into `dir`: exit code, stdout, stderr.
pub fn verify_export(
    dir: &std::path::Path,
    export: &str,
    jwks: &str,
    tsa_certs: &[PathBuf],
) -> (i32, String, String) {
    verify_file(dir, "ledger.jsonl", export, jwks, tsa_certs)
}

/// `cadre verify NAME --jwks jwks.json [--tsa-cert …]` on `text` written
/// into `dir` as `name` (a proof, a certificate, an export), beside the
/// keys: exit code, stdout, stderr.
pub fn verify_file(
    dir: &std::path::Path,
    name: &str,
    text: &str,
    jwks: &str,
    tsa_certs: &[PathBuf],
) -> (i32, String, String) {
    let file = dir.join(name);
    let keys = dir.join("jwks.json");
    std::fs::write(&file, text).expect("write the file to verify");
    std::fs::write(&keys, jwks).expect("write the keys");
    let args = cadre_server::evidence::verify::VerifyArgs {
        file,
        jwks: Some(keys.display().to_string()),
        receipts: Vec::new(),
        consistency: Vec::new(),
        tsa_certs: tsa_certs.to_vec(),
        json: false,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cadre_server::evidence::verify::run_with(&args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).expect("UTF-8"),
        String::from_utf8(err).expect("UTF-8"),
    )
}

/// Every file below `dir` with its size, sorted (empty if `dir` is absent).
pub fn files_under(dir: &std::path::Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                out.push((p, len));
            }
        }
    }
    out.sort();
    out
}

/// A valid [`NewSession`] planned from now for three hours, Europe/Paris.
pub fn session_body(people: &[(&str, Role)]) -> NewSession {
    let start = chrono::Utc::now();
    let end = start + chrono::Duration::hours(3);
    let rfc3339 =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    NewSession {
        title: "Gestion de projet — module 2".to_owned(),
        kind: SessionKind::Formation,
        organisation: "Organisme de formation".to_owned(),
        planned_start: rfc3339(start),
        planned_end: rfc3339(end),
        time_zone: Some("Europe/Paris".to_owned()),
        sponsor: None,
        media: None,
        people: people
            .iter()
            .map(|(name, role)| NewPerson {
                name: (*name).to_owned(),
                email: None,
                role: *role,
                lang: None,
                time_zone: None,
            })
            .collect(),
    }
}

/// The person called `name` in `session`; panics if there is none.
pub fn person<'a>(session: &'a SessionView, name: &str) -> &'a PersonView {
    session
        .people
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no {name} in session {}", session.id))
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

fn decode_segment(token: &str, index: usize) -> Value {
    let segment = token
        .split('.')
        .nth(index)
        .unwrap_or_else(|| panic!("token has no segment {index}: {token}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap_or_else(|e| panic!("segment {index} of {token} is not base64url: {e}"));
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("segment {index} of {token} is not JSON: {e}"))
}

/// The header of a JWT, decoded without any check.
pub fn header_of(token: &str) -> Value {
    decode_segment(token, 0)
}

/// The claims of a JWT, decoded without any check.
pub fn claims_of(token: &str) -> Value {
    decode_segment(token, 1)
}

fn with_overrides(mut claims: Value, overrides: Value) -> Value {
    let map = claims.as_object_mut().expect("claims are a JSON object");
    let Value::Object(overrides) = overrides else {
        panic!("overrides must be a JSON object, got {overrides}");
    };
    for (key, value) in overrides {
        if value.is_null() {
            map.remove(&key);
        } else {
            map.insert(key, value);
        }
    }
    claims
}

/// Signs `claims` with an Ed25519 key (`alg: EdDSA`) under `kid`.
pub fn sign_eddsa(kid: &str, claims: &Value, key: &jsonwebtoken::EncodingKey) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("sign an EdDSA token")
}

/// Signs `claims` with HMAC-SHA256 and `secret` (`alg: HS256`) under `kid`:
/// what an attacker tries when a verifier trusts the header's `alg`.
pub fn sign_hs256(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("sign an HS256 token")
}

/// Assembles `base64url(header).base64url(claims).signature` as is, for
/// tokens no library would sign (`alg: none`, …).
pub fn unsigned_token(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        signature
    )
}

/// A fresh Ed25519 key that is not the server's (PKCS#8 v2 from ring).
pub fn other_ed25519_key() -> jsonwebtoken::EncodingKey {
    let key = cadre_protocol::testing::Signer::new("other");
    jsonwebtoken::EncodingKey::from_ed_der(key.pkcs8())
}

// ---------------------------------------------------------------------------
// The WebSocket upgrade, by hand
// ---------------------------------------------------------------------------

/// Performs the HTTP/1.1 upgrade over a fresh TCP connection.
///
/// Done by hand rather than with tungstenite's client so that a refusal's
/// body is read in full (tungstenite keeps only the bytes that came with the
/// headers). Returns the stream and the bytes already read past the headers,
/// or the refusal's status and body.
async fn upgrade(
    addr: SocketAddr,
    path_and_query: &str,
    options: &Upgrade,
) -> Result<(TcpStream, Vec<u8>), (StatusCode, Vec<u8>, Vec<(String, String)>)> {
    let mut tcp = match options.source {
        None => TcpStream::connect(addr).await,
        Some(source) => {
            let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
            socket
                .bind(SocketAddr::new(source, 0))
                .unwrap_or_else(|e| panic!("bind the client socket to {source}: {e}"));
            socket.connect(addr).await
        }
    }
    .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let key = generate_key();
    let extra: String = options
        .headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\
         {extra}\r\n"
    );
    tcp.write_all(request.as_bytes())
        .await
        .expect("send the upgrade request");

    let mut buffer = Vec::new();
    let head_len = loop {
        if let Some(at) = find(&buffer, b"\r\n\r\n") {
            break at + 4;
        }
        assert!(buffer.len() < 64 * 1024, "HTTP response head over 64 KiB");
        let mut chunk = [0u8; 4096];
        let n = tcp.read(&mut chunk).await.expect("read the upgrade answer");
        assert!(
            n > 0,
            "connection closed before a full HTTP answer: {:?}",
            String::from_utf8_lossy(&buffer)
        );
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_len]).into_owned();
    let mut rest = buffer.split_off(head_len);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or_else(|| panic!("bad HTTP status line {status_line:?}"));
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };

    if status == StatusCode::SWITCHING_PROTOCOLS {
        let accept = header("sec-websocket-accept");
        assert_eq!(
            accept.as_deref(),
            Some(derive_accept_key(key.as_bytes()).as_str()),
            "the 101 answer has a wrong Sec-WebSocket-Accept"
        );
        return Ok((tcp, rest));
    }

    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
    let mut chunk = [0u8; 4096];
    loop {
        let complete = match (length, chunked) {
            (Some(length), _) => rest.len() >= length,
            (None, true) => find(&rest, b"0\r\n\r\n").is_some(),
            (None, false) => false,
        };
        if complete {
            break;
        }
        let n = tcp.read(&mut chunk).await.expect("read the refusal body");
        if n == 0 {
            break;
        }
        rest.extend_from_slice(&chunk[..n]);
    }
    let body = match (length, chunked) {
        (Some(length), _) => {
            rest.truncate(length);
            rest
        }
        (None, true) => dechunk(&rest),
        (None, false) => rest,
    };
    let headers = head
        .split("\r\n")
        .skip(1)
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            Some((key.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    Err((status, body, headers))
}

/// How [`TestServer::connect_with`] connects.
#[derive(Debug, Clone, Default)]
pub struct Upgrade {
    /// The client socket's source address (`127.0.0.2` is a second
    /// loopback address on Linux); the system's choice when `None`.
    pub source: Option<std::net::IpAddr>,
    /// More request headers (`Origin`, `X-Forwarded-For`, …).
    pub headers: Vec<(String, String)>,
}

/// A refused upgrade.
#[derive(Debug)]
pub struct Refusal {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error body.
    pub error: ErrorBody,
    /// Response headers, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Refusal {
    /// The value of header `name` (lower case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a `Transfer-Encoding: chunked` body (no trailers expected).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = find(raw, b"\r\n") {
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
        raw = &raw[line_end + 2..];
        if size == 0 || raw.len() < size {
            break;
        }
        body.extend_from_slice(&raw[..size]);
        raw = raw.get(size + 2..).unwrap_or_default();
    }
    body
}

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------

/// Something a client received, in order of arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A text frame, as sent.
    Text(String),
    /// A binary frame (the server never sends any).
    Binary(Vec<u8>),
    /// A close frame: its code and reason, or `None` for a frame without
    /// a code.
    Close(Option<(u16, String)>),
    /// The connection ended: cleanly after a close handshake (`None`) or
    /// with an error such as a reset (`Some(description)`).
    Ended(Option<String>),
}

/// What [`Client::drain_until_closed`] saw.
#[derive(Debug, Default)]
pub struct Drained {
    /// Every JSON message before the end, in order.
    pub messages: Vec<Value>,
    /// The close frame's code and reason, if one came.
    pub close: Option<(u16, String)>,
}

impl Drained {
    /// Messages of this `type`.
    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.messages.iter().filter(move |m| m["type"] == kind)
    }
}

/// The sending half of a [`Client`]. Cheap to clone; every clone writes to
/// the same socket. The socket stays open while a clone lives.
#[derive(Clone)]
pub struct Sender {
    sink: Arc<Mutex<SplitSink<Ws, Message>>>,
    label: Arc<str>,
}

impl Sender {
    /// Sends a frame; `Err` if the socket is closed or the write does not
    /// complete within [`WAIT`].
    pub async fn try_send(&self, message: Message) -> Result<(), String> {
        let mut sink = self.sink.lock().await;
        match tokio::time::timeout(WAIT, sink.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("write blocked for {WAIT:?}")),
        }
    }

    /// Sends a frame; panics if it cannot.
    pub async fn send(&self, message: Message) {
        if let Err(e) = self.try_send(message).await {
            panic!("{} could not send: {e}", self.label);
        }
    }

    /// Sends a text frame as is.
    pub async fn send_text(&self, text: impl Into<String>) {
        self.send(Message::text(text.into())).await;
    }

    /// Sends a JSON value as a text frame.
    pub async fn send_json(&self, message: &Value) {
        self.send_text(message.to_string()).await;
    }

    /// Sends `{"type":"signal","to":to,"data":data}`.
    pub async fn signal(&self, to: &str, data: Value) {
        self.send_json(&json!({"type": "signal", "to": to, "data": data}))
            .await;
    }

    /// Sends a signal whose `data` is `raw_data` written verbatim (spacing,
    /// key order and escapes kept), for byte-for-byte relay checks.
    pub async fn signal_raw(&self, to: &str, raw_data: &str) {
        let to = serde_json::to_string(to).expect("serialise a peer id");
        self.send_text(format!(
            r#"{{"type":"signal","to":{to},"data":{raw_data}}}"#
        ))
        .await;
    }
}

/// One WebSocket connection to the server, past its `welcome`.
pub struct Client {
    /// The `welcome` message, as received.
    pub welcome: Value,
    /// This person's participant id (`welcome.you.id`).
    pub id: String,
    /// This connection's id (`welcome.connection_id`).
    pub connection_id: String,
    /// Name used in panic messages (`welcome.you.name`).
    label: Arc<str>,
    /// Writes to the socket.
    sender: Sender,
    /// What the reader task received, in order.
    incoming: mpsc::UnboundedReceiver<Incoming>,
    /// Evidence messages ([`EVIDENCE_TYPES`]), kept apart so that signalling
    /// tests see signalling traffic only, and evidence tests see it all.
    evidence: mpsc::UnboundedReceiver<Value>,
    /// Quality messages ([`QUALITY_TYPES`]), kept apart like evidence: they
    /// come on every join and every few seconds.
    quality: mpsc::UnboundedReceiver<Value>,
    /// Whether the reader task reads the socket.
    reading: watch::Sender<bool>,
    /// The reader task; aborted on drop so the socket closes.
    reader: JoinHandle<()>,
}

impl Client {
    /// The next evidence or sign-in message ([`EVIDENCE_TYPES`]), waiting at
    /// most [`WAIT`].
    pub async fn recv_evidence(&mut self) -> Value {
        match tokio::time::timeout(WAIT, self.evidence.recv()).await {
            Ok(Some(v)) => v,
            Ok(None) => panic!(
                "{}: the connection ended while waiting for evidence",
                self.label
            ),
            Err(_) => panic!("{}: no evidence message within {WAIT:?}", self.label),
        }
    }

    /// The half-day of a session planned from now, once its sign-in window
    /// is open (already in the welcome, or announced after it).
    pub async fn open_slot(&mut self) -> String {
        let slot = self.welcome["slots"][0]["slot"]
            .as_str()
            .expect("a session planned from now has a slot")
            .to_owned();
        if self.welcome["slots"][0]["signin_closes_at"].is_null() {
            self.recv_evidence_type("signin_open").await;
        }
        slot
    }

    /// Skips evidence messages until one of type `kind`.
    pub async fn recv_evidence_type(&mut self, kind: &str) -> Value {
        loop {
            let v = self.recv_evidence().await;
            if v["type"] == kind {
                return v;
            }
        }
    }

    /// Asks for this person's evidence (`get_evidence`) and returns the
    /// entries, parsed, in log order.
    pub async fn evidence(&mut self) -> Vec<Value> {
        self.send_json(&json!({"type": "get_evidence"})).await;
        let answer = self.recv_evidence_type("evidence").await;
        answer["entries"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: evidence without entries: {answer}", self.label))
            .iter()
            .map(|e| {
                serde_json::from_str(e.as_str().unwrap_or_default())
                    .unwrap_or_else(|err| panic!("{}: an entry is not JSON: {err}", self.label))
            })
            .collect()
    }

    /// The next quality message ([`QUALITY_TYPES`]) satisfying `wanted`,
    /// skipping others, waiting at most `wait`.
    pub async fn recv_quality(&mut self, wait: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        match self.try_recv_quality(wait, wanted).await {
            Some(v) => v,
            None => panic!(
                "{}: no matching quality message within {wait:?}",
                self.label
            ),
        }
    }

    /// Like [`Client::recv_quality`], but `None` when nothing matching
    /// came within `wait` (to show that something is not sent).
    pub async fn try_recv_quality(
        &mut self,
        wait: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.quality.recv()).await {
                Ok(Some(v)) if wanted(&v) => return Some(v),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Grants or withdraws `recording` for the wording `hash`; returns once
    /// the server says it is durable.
    pub async fn decide_recording(&mut self, hash: &str, granted: bool) {
        self.send_json(&serde_json::json!({
            "type": "consent", "consent": "recording", "granted": granted, "text_sha256": hash,
        }))
        .await;
        let recorded = self.recv_evidence_type("consent_recorded").await;
        assert_eq!(recorded["granted"], granted, "{}: {recorded}", self.label);
    }

    /// Skips to the next `recording_state` whose status satisfies `wanted`;
    /// returns the status.
    pub async fn recording_state(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let (m, _) = self
            .skip_until(what, |m| {
                m["type"] == "recording_state" && wanted(&m["recording"])
            })
            .await;
        m["recording"].clone()
    }

    /// Sends `message` and expects, other messages skipped, the error
    /// `code` answering it (`about`, the type of the message refused);
    /// returns the error.
    pub async fn refused_about(&mut self, message: Value, about: &str, code: &str) -> Value {
        self.send_json(&message).await;
        let (error, _) = self
            .skip_until("an error", |m| m["type"] == "error" && m["about"] == about)
            .await;
        assert_eq!(error["code"], code, "{message} → {error}");
        error
    }

    /// Skips to the next `error`, which must have `code` and a sentence;
    /// returns it.
    pub async fn refused(&mut self, code: &str) -> Value {
        let error = self.skip_until_type("error").await;
        assert_eq!(error["code"], code, "{}: {error}", self.label);
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}: an error without a sentence: {error}",
            self.label
        );
        error
    }

    /// Skips evidence until an `evidence_recorded` whose entry has `kind`;
    /// returns the entry, parsed.
    pub async fn recv_recorded(&mut self, kind: &str) -> Value {
        loop {
            let v = self.recv_evidence_type("evidence_recorded").await;
            let entry: Value = serde_json::from_str(v["entry"].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{}: entry is not JSON: {e}", self.label));
            if entry["kind"] == kind {
                return entry;
            }
        }
    }

    async fn start(ws: Ws) -> Client {
        let (sink, stream) = ws.split();
        let (queue, incoming) = mpsc::unbounded_channel();
        let (evidence_queue, evidence) = mpsc::unbounded_channel();
        let (quality_queue, quality) = mpsc::unbounded_channel();
        let (reading, reading_rx) = watch::channel(true);
        let reader = tokio::spawn(read_socket(
            stream,
            queue,
            evidence_queue,
            quality_queue,
            reading_rx,
        ));
        let mut client = Client {
            welcome: Value::Null,
            id: String::new(),
            connection_id: String::new(),
            label: Arc::from("a new client"),
            sender: Sender {
                sink: Arc::new(Mutex::new(sink)),
                label: Arc::from("a new client"),
            },
            incoming,
            evidence,
            quality,
            reading,
            reader,
        };
        let welcome = client.recv_type("welcome").await;
        client.id = welcome["you"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("welcome without you.id: {welcome}"))
            .to_owned();
        client.connection_id = welcome["connection_id"]
            .as_str()
            .unwrap_or_else(|| panic!("welcome without connection_id: {welcome}"))
            .to_owned();
        let name = welcome["you"]["name"].as_str().unwrap_or("someone");
        client.label = Arc::from(format!("{name} ({})", client.id));
        client.sender.label = client.label.clone();
        client.welcome = welcome;
        client
    }

    /// A sending handle usable from another task.
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    // -- Sending ------------------------------------------------------------

    /// Sends a text frame as is.
    pub async fn send_text(&self, text: impl Into<String>) {
        self.sender.send_text(text).await;
    }

    /// Sends a JSON value as a text frame.
    pub async fn send_json(&self, message: &Value) {
        self.sender.send_json(message).await;
    }

    /// Sends any frame (binary, close, …).
    pub async fn send_frame(&self, message: Message) {
        self.sender.send(message).await;
    }

    /// Sends a binary frame.
    pub async fn send_binary(&self, bytes: Vec<u8>) {
        self.sender.send(Message::Binary(Bytes::from(bytes))).await;
    }

    /// Sends `{"type":"signal","to":to,"data":data}`.
    pub async fn signal(&self, to: &str, data: Value) {
        self.sender.signal(to, data).await;
    }

    /// Sends a signal with `data` written verbatim.
    pub async fn signal_raw(&self, to: &str, raw_data: &str) {
        self.sender.signal_raw(to, raw_data).await;
    }

    /// Sends `{"type":"leave"}`.
    pub async fn leave(&self) {
        self.send_json(&json!({"type": "leave"})).await;
    }

    // -- Reading control ----------------------------------------------------

    /// Stops reading the socket: no more messages are taken from it and
    /// pings go unanswered, as in a frozen tab. What was already read stays
    /// available.
    pub fn pause_reading(&self) {
        self.reading.send_replace(false);
    }

    /// Reads the socket again after [`Client::pause_reading`].
    pub fn resume_reading(&self) {
        self.reading.send_replace(true);
    }

    // -- Receiving ----------------------------------------------------------

    /// The next thing received within `wait`, or `None` if nothing came.
    /// Ping and pong frames are answered and never returned.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Incoming> {
        match tokio::time::timeout(wait, self.incoming.recv()).await {
            Ok(Some(incoming)) => Some(incoming),
            Ok(None) => Some(Incoming::Ended(Some("the reader task stopped".to_owned()))),
            Err(_) => None,
        }
    }

    /// What has already arrived, without waiting: `None` if nothing has.
    pub fn try_next(&mut self) -> Option<Incoming> {
        match self.incoming.try_recv() {
            Ok(incoming) => Some(incoming),
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) => {
                Some(Incoming::Ended(Some("the reader task stopped".to_owned())))
            }
        }
    }

    /// The next frame, which must be a JSON text message, as raw text.
    pub async fn recv_text(&mut self) -> String {
        match self.next_within(WAIT).await {
            Some(Incoming::Text(text)) => text,
            Some(other) => panic!("{} expected a message, got {other:?}", self.label),
            None => panic!("{} received nothing within {WAIT:?}", self.label),
        }
    }

    /// The next frame, which must be a JSON text message.
    pub async fn recv(&mut self) -> Value {
        let text = self.recv_text().await;
        serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "{} received text that is not JSON ({e}): {text}",
                self.label
            )
        })
    }

    /// The next message, which must have this `type`.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        let message = self.recv().await;
        assert_eq!(
            message["type"], kind,
            "{} expected a {kind} message, got {message}",
            self.label
        );
        message
    }

    /// The next message, which must be an `error` with this `code` and a
    /// non-empty `message`.
    pub async fn recv_error(&mut self, code: &str) -> Value {
        let message = self.recv_type("error").await;
        assert_eq!(
            message["code"], code,
            "{} expected error {code}, got {message}",
            self.label
        );
        assert!(
            message["message"].as_str().is_some_and(|m| !m.is_empty()),
            "error {code} without a human message: {message}"
        );
        message
    }

    /// Skips messages until one satisfies `wanted`; returns it and the
    /// skipped ones. Panics on a close or end, or after [`WAIT`].
    pub async fn skip_until(
        &mut self,
        what: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> (Value, Vec<Value>) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(Incoming::Text(text)) => {
                    let message: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
                        panic!(
                            "{} received text that is not JSON ({e}): {text}",
                            self.label
                        )
                    });
                    if wanted(&message) {
                        return (message, skipped);
                    }
                    skipped.push(message);
                }
                Some(other) => panic!(
                    "{} waited for {what} but got {other:?} after {} other messages",
                    self.label,
                    skipped.len()
                ),
                None => panic!(
                    "{} waited {WAIT:?} for {what}; got only {} other messages, last {:?}",
                    self.label,
                    skipped.len(),
                    skipped.last()
                ),
            }
        }
    }

    /// Skips messages until one of this `type`.
    pub async fn skip_until_type(&mut self, kind: &str) -> Value {
        self.skip_until(kind, |m| m["type"] == kind).await.0
    }

    /// Waits until `peer_left` for `peer_id` (skipping other messages) and
    /// returns its `reason`.
    pub async fn peer_left_reason(&mut self, peer_id: &str) -> String {
        let (left, _) = self
            .skip_until(&format!("peer_left of {peer_id}"), |m| {
                m["type"] == "peer_left" && m["id"] == peer_id
            })
            .await;
        left["reason"]
            .as_str()
            .unwrap_or_else(|| panic!("peer_left without a reason: {left}"))
            .to_owned()
    }

    /// Fails if anything at all (message, close, end) arrives within `wait`.
    pub async fn expect_no_message(&mut self, wait: Duration) {
        if let Some(incoming) = self.next_within(wait).await {
            panic!("{} expected silence but received {incoming:?}", self.label);
        }
    }

    /// The next frame must be a close frame with `code`; returns its reason.
    pub async fn expect_closed(&mut self, code: u16) -> String {
        match self.next_within(WAIT).await {
            Some(Incoming::Close(Some((got, reason)))) => {
                assert_eq!(
                    got, code,
                    "{} closed with {got} ({reason:?}), expected {code}",
                    self.label
                );
                reason
            }
            Some(other) => panic!(
                "{} expected a close frame with code {code}, got {other:?}",
                self.label
            ),
            None => panic!(
                "{} expected a close frame with code {code}, got nothing within {WAIT:?}",
                self.label
            ),
        }
    }

    /// Reads everything until the connection closes or ends, within
    /// `deadline` overall (panics past it).
    pub async fn drain_until_closed(&mut self, deadline: Duration) -> Drained {
        let until = tokio::time::Instant::now() + deadline;
        let mut drained = Drained::default();
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(Incoming::Text(text)) => {
                    drained
                        .messages
                        .push(serde_json::from_str(&text).unwrap_or_else(|e| {
                            panic!(
                                "{} received text that is not JSON ({e}): {text}",
                                self.label
                            )
                        }))
                }
                Some(Incoming::Binary(bytes)) => {
                    panic!(
                        "{} received a binary frame of {} bytes",
                        self.label,
                        bytes.len()
                    )
                }
                Some(Incoming::Close(frame)) => {
                    drained.close = frame;
                    return drained;
                }
                Some(Incoming::Ended(_)) => return drained,
                None => panic!(
                    "{} still open after {deadline:?} ({} messages read, last {:?})",
                    self.label,
                    drained.messages.len(),
                    drained.messages.last()
                ),
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Dropping the reader drops the stream half; once the `Sender`
        // clones are gone too, the TCP connection closes without a close
        // frame, like a network loss.
        self.reader.abort();
    }
}

/// Server messages about evidence and sign-in, routed to
/// [`Client::recv_evidence`] instead of the main queue.
pub const EVIDENCE_TYPES: [&str; 8] = [
    "consent_recorded",
    "evidence_recorded",
    "evidence",
    "signin_open",
    "signin_status",
    "signed",
    "countersigned",
    "receipt",
];

/// Live quality messages, routed to [`Client::recv_quality`].
pub const QUALITY_TYPES: [&str; 3] = ["quality", "alert", "alert_cleared"];

/// The reader task: moves frames from the socket to the client's queue
/// while reading is on.
async fn read_socket(
    mut stream: SplitStream<Ws>,
    queue: mpsc::UnboundedSender<Incoming>,
    evidence: mpsc::UnboundedSender<Value>,
    quality: mpsc::UnboundedSender<Value>,
    mut reading: watch::Receiver<bool>,
) {
    loop {
        if !*reading.borrow_and_update() {
            if reading.changed().await.is_err() {
                return;
            }
            continue;
        }
        let item = tokio::select! {
            biased;
            changed = reading.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
            item = stream.next() => item,
        };
        let incoming = match item {
            Some(Ok(Message::Text(text))) => {
                if let Ok(v) = serde_json::from_str::<Value>(text.as_str())
                    && EVIDENCE_TYPES.contains(&v["type"].as_str().unwrap_or_default())
                {
                    let _ = evidence.send(v);
                    continue;
                }
                if let Ok(v) = serde_json::from_str::<Value>(text.as_str())
                    && QUALITY_TYPES.contains(&v["type"].as_str().unwrap_or_default())
                {
                    let _ = quality.send(v);
                    continue;
                }
                Incoming::Text(text.as_str().to_owned())
            }
            Some(Ok(Message::Binary(bytes))) => Incoming::Binary(bytes.to_vec()),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Close(frame))) => {
                Incoming::Close(frame.map(|f| (u16::from(f.code), f.reason.as_str().to_owned())))
            }
            Some(Err(e)) => {
                let _ = queue.send(Incoming::Ended(Some(e.to_string())));
                return;
            }
            None => {
                let _ = queue.send(Incoming::Ended(None));
                return;
            }
        };
        if queue.send(incoming).is_err() {
            return;
        }
    }
}
