//! One WebSocket connection: a reader that checks, limits and dispatches what
//! the client sends, and a writer that drains the connection's bounded
//! queue, pings, and closes with a reason.
//!
//! The two halves run in one task. Whoever decides the connection must end
//! (the reader on `leave`, flood or silence; the session actor on
//! replacement, revocation or a full queue; the server on shutdown) records a
//! single [`Closing`] in the [`ConnectionControl`]; the writer then sends the
//! `closing` message and close frame, bounded in time, and the task reports
//! the reason to the session.

use crate::ledger::{Appended, Ledger, LedgerError, NewEvent};
use crate::session::{Registry, SessionHandle, encode, now_ms};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use cadre_protocol::attendance::Schedule;
use cadre_protocol::close_code;
use cadre_protocol::evidence::kind;
use cadre_protocol::signalling::{
    ClientMessage, ControlAction, LeaveReason, ServerMessage, SessionInfo, parse_client_message,
};
use cadre_protocol::{ErrorCode, MAX_MESSAGE_BYTES, Role};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info_span, warn};

/// Largest frame the WebSocket layer reads at all; a bigger one closes the
/// socket with 1009. Between [`MAX_MESSAGE_BYTES`] and this, the message is
/// refused with an error and the socket stays open.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

/// How long the writer may take to say goodbye before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Messages written per flush when the queue has a backlog.
const WRITE_BATCH: usize = 32;

/// Heartbeats are summarised in the ledger this often (and at close), never
/// one entry per heartbeat.
const HEARTBEAT_SUMMARY_MS: i64 = 10 * 60 * 1000;

/// Bounds of a drawn signature: enough for a real signature, not a way to
/// store arbitrary data.
const MAX_STROKES: usize = 64;
const MAX_POINTS: usize = 4_000;
const MAX_STROKE_MS: i64 = 120_000;

/// Longest reason for a control.
const MAX_REASON_CHARS: usize = 500;

/// Longest user agent kept as evidence.
const MAX_USER_AGENT: usize = 300;

/// A message queued towards the client.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A JSON text frame, serialised once and shared between recipients.
    Text(Utf8Bytes),
}

/// Why and how a connection closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closing {
    /// Reported to the session and to the client.
    pub reason: LeaveReason,
    /// WebSocket close code, or none to drop the socket silently.
    pub code: Option<u16>,
}

impl Closing {
    fn for_reason(reason: LeaveReason) -> Closing {
        let code = match reason {
            LeaveReason::Left => Some(1000),
            LeaveReason::Replaced => Some(close_code::REPLACED),
            LeaveReason::Flood => Some(close_code::FLOOD),
            LeaveReason::SlowConsumer => Some(close_code::SLOW_CONSUMER),
            LeaveReason::Timeout => Some(close_code::TIMEOUT),
            LeaveReason::Revoked => Some(close_code::REVOKED),
            LeaveReason::Shutdown => Some(close_code::SHUTDOWN),
            LeaveReason::Removed => Some(close_code::REMOVED),
            LeaveReason::Ended => Some(close_code::ENDED),
            _ => None,
        };
        Closing { reason, code }
    }
}

/// Shared between a connection task and the session actor: the first
/// [`Closing`] recorded wins and wakes the writer.
#[derive(Debug, Default)]
pub struct ConnectionControl {
    closing: OnceLock<Closing>,
    notify: Notify,
    /// Last time any frame arrived (ms): a timed-out connection is closed,
    /// in evidence, at this time, not when the silence was noticed.
    last_seen: AtomicI64,
}

impl ConnectionControl {
    /// Asks the connection to close for `reason`.
    pub fn close(&self, reason: LeaveReason) {
        self.close_with(Closing::for_reason(reason));
    }

    fn close_with(&self, closing: Closing) {
        if self.closing.set(closing).is_ok() {
            // notify_one keeps a permit if the writer is not waiting yet.
            self.notify.notify_one();
        }
    }

    fn closing(&self) -> Option<Closing> {
        self.closing.get().copied()
    }
}

/// Limits applied to every connection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Sustained messages per second.
    pub rate_per_second: u32,
    /// Burst above the sustained rate.
    pub rate_burst: u32,
    /// Queue towards the client.
    pub outbound_queue: usize,
    /// Ping period; silence for three periods ends the connection.
    pub heartbeat_interval: Duration,
}

/// Who is connecting, decided before the upgrade.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The session's sponsor, if any (decides the consent wordings).
    pub sponsor: Option<String>,
    /// This person's consent decisions ([`App::admit`](crate::App::admit) reads them;
    /// a connection leaves them undecided for the session to read at join).
    pub consents: cadre_protocol::api::Consents,
    /// Everyone in the session, for a facilitator's console (empty for a
    /// participant).
    pub people: Vec<cadre_protocol::signalling::Me>,
    /// The session's plan, for half-days.
    pub schedule: Schedule,
    /// Where the connection comes from (socket address; evidence).
    pub ip: String,
    /// `X-Forwarded-For`, kept as a claim when a proxy sets it.
    pub forwarded_for: Option<String>,
    /// The browser's user agent (evidence).
    pub user_agent: String,
    /// Participant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The session as shown to clients.
    pub session: SessionInfo,
}

/// Runs one connection to its end.
pub async fn run(
    socket: WebSocket,
    who: Admitted,
    app: crate::app::App,
    registry: Arc<Registry>,
    ledger: Ledger,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let connection_id = match crate::keys::random_id(9) {
        Ok(id) => format!("c_{id}"),
        Err(_) => return,
    };
    let span = info_span!("connection", sid = %who.session.id, pid = %who.id, cid = %connection_id);
    run_inner(
        socket,
        who,
        app,
        registry,
        ledger,
        limits,
        shutdown,
        connection_id,
    )
    .instrument(span)
    .await
}

/// What the connection has to say in the ledger when it ends.
#[derive(Debug, Default)]
struct Tally {
    /// Heartbeats since the last summary: (first, last, count).
    heartbeats: Option<(i64, i64, u64)>,
    /// The close is already recorded (on `leave`, before the receipt).
    close_recorded: bool,
}

#[allow(clippy::too_many_arguments)]
async fn run_inner(
    mut socket: WebSocket,
    who: Admitted,
    app: crate::app::App,
    registry: Arc<Registry>,
    ledger: Ledger,
    limits: Limits,
    shutdown: CancellationToken,
    connection_id: String,
) {
    // Evidence first: nobody sees this connection before its opening is
    // durable, and a server that cannot record does not admit.
    let mut user_agent = who.user_agent.clone();
    if user_agent.len() > MAX_USER_AGENT {
        let cut = (0..=MAX_USER_AGENT)
            .rev()
            .find(|&i| user_agent.is_char_boundary(i))
            .unwrap_or(0);
        user_agent.truncate(cut);
    }
    let opened = ledger
        .append(NewEvent {
            sid: who.session.id.clone(),
            kind: kind::CONNECTION_OPENED,
            actor: who.id.clone(),
            payload: serde_json::json!({
                "connection_id": connection_id,
                "ip": who.ip,
                "forwarded_for": who.forwarded_for,
                "user_agent": user_agent,
            }),
            client_ts: None,
        })
        .await;
    let opened = match opened {
        Ok(a) => a,
        Err(e) => {
            warn!("cannot record the connection; refusing it: {e}");
            let msg = ServerMessage::error(
                ErrorCode::Internal,
                "attendance cannot be recorded right now; please try again in a moment",
            );
            let _ = socket.send(Message::Text(encode(&msg))).await;
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: 1011,
                    reason: Utf8Bytes::from_static("evidence store unavailable"),
                })))
                .await;
            return;
        }
    };
    let (out_tx, out_rx) = mpsc::channel(limits.outbound_queue);
    let control = Arc::new(ConnectionControl::default());
    control.last_seen.store(now_ms(), Ordering::Relaxed);
    let joining = crate::session::Joining {
        id: who.id.clone(),
        name: who.name.clone(),
        role: who.role,
        connection_id: connection_id.clone(),
        outbound: out_tx.clone(),
        control: Arc::clone(&control),
        people: who.people.clone(),
        consents: who.consents,
        recording_seq: None,
    };
    let tally = Mutex::new(Tally::default());
    let Ok(session) = registry.join(&who.session, &who.schedule, joining).await else {
        record_close(
            &ledger,
            &who,
            &connection_id,
            &control,
            &tally,
            LeaveReason::Shutdown,
        )
        .await;
        return;
    };
    debug!("joined");
    let _ = out_tx.try_send(Outbound::Text(encode(&ServerMessage::EvidenceRecorded {
        entry: opened.text,
    })));
    let (sink, stream) = socket.split();
    let reader = Reader {
        app,
        about: None,
        last_stats: None,
        session: session.clone(),
        ledger: ledger.clone(),
        sid: who.session.id.clone(),
        role: who.role,
        id: who.id.clone(),
        connection_id: connection_id.clone(),
        out: out_tx,
        control: &control,
        limits: &limits,
        bucket: TokenBucket::new(limits.rate_per_second, limits.rate_burst),
        last_rate_error: None,
        tally: &tally,
        consent_texts: cadre_protocol::consent::texts(who.sponsor.as_deref()),
        time_zone: who
            .session
            .time_zone
            .parse()
            .unwrap_or(chrono_tz::Europe::Paris),
        visible: None,
        focused: None,
        media: None,
    };
    let reading = reader.run(stream);
    let writing = write_loop(sink, out_rx, &control, &shutdown, limits.heartbeat_interval);
    tokio::pin!(reading, writing);
    let closing = tokio::select! {
        closing = &mut writing => closing,
        () = &mut reading => (&mut writing).await,
    };
    debug!(reason = ?closing.reason, "connection closed");
    record_close(
        &ledger,
        &who,
        &connection_id,
        &control,
        &tally,
        closing.reason,
    )
    .await;
    session.leave(who.id, connection_id, closing.reason).await;
}

/// Writes the heartbeat summary and the close (unless `leave` already did),
/// closed at the last time seen.
async fn record_close(
    ledger: &Ledger,
    who: &Admitted,
    connection_id: &str,
    control: &ConnectionControl,
    tally: &Mutex<Tally>,
    reason: LeaveReason,
) {
    let (heartbeats, done) = {
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        let done = std::mem::replace(&mut t.close_recorded, true);
        (t.heartbeats.take(), done)
    };
    if done {
        return;
    }
    let mut events = Vec::with_capacity(2);
    if let Some(ev) = heartbeat_event(&who.session.id, &who.id, connection_id, heartbeats) {
        events.push(ev);
    }
    events.push(NewEvent {
        sid: who.session.id.clone(),
        kind: kind::CONNECTION_CLOSED,
        actor: who.id.clone(),
        payload: serde_json::json!({
            "connection_id": connection_id,
            "reason": reason,
            "last_seen": control.last_seen.load(Ordering::Relaxed),
        }),
        client_ts: None,
    });
    for event in events {
        if let Err(e) = ledger.append(event).await {
            warn!("could not record the close of a connection: {e}");
        }
    }
}

fn heartbeat_event(
    sid: &str,
    id: &str,
    connection_id: &str,
    heartbeats: Option<(i64, i64, u64)>,
) -> Option<NewEvent> {
    let (from, to, count) = heartbeats?;
    Some(NewEvent {
        sid: sid.to_owned(),
        kind: kind::HEARTBEATS,
        actor: id.to_owned(),
        payload: serde_json::json!({
            "connection_id": connection_id, "from": from, "to": to, "count": count,
        }),
        client_ts: None,
    })
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Outbound>,
    control: &ConnectionControl,
    shutdown: &CancellationToken,
    heartbeat: Duration,
) -> Closing {
    let mut ping = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let closing = loop {
        tokio::select! {
            biased;
            () = control.notify.notified() => break control.closing(),
            () = shutdown.cancelled() => {
                control.close(LeaveReason::Shutdown);
                break control.closing();
            }
            msg = rx.recv() => {
                let Some(first) = msg else { break control.closing() };
                // The write itself can block on a client that does not read;
                // it must stay interruptible by a close decision.
                let write = async {
                    let Outbound::Text(t) = first;
                    sink.feed(Message::Text(t)).await?;
                    for _ in 1..WRITE_BATCH {
                        match rx.try_recv() {
                            Ok(Outbound::Text(t)) => sink.feed(Message::Text(t)).await?,
                            Err(_) => break,
                        }
                    }
                    sink.flush().await
                };
                tokio::select! {
                    biased;
                    () = control.notify.notified() => break control.closing(),
                    result = write => if result.is_err() {
                        control.close(LeaveReason::Disconnected);
                        break control.closing();
                    },
                }
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    control.close(LeaveReason::Disconnected);
                    break control.closing();
                }
            }
        }
    };
    let closing = closing.unwrap_or(Closing {
        reason: LeaveReason::Disconnected,
        code: None,
    });
    if let Some(code) = closing.code {
        let goodbye = async {
            // What was queued before the decision (an error explaining it,
            // say) still goes out; a slow consumer's backlog is the problem,
            // so it is dropped.
            if closing.reason != LeaveReason::SlowConsumer {
                while let Ok(Outbound::Text(t)) = rx.try_recv() {
                    sink.feed(Message::Text(t)).await?;
                }
            }
            if code >= 4000 {
                let msg = ServerMessage::Closing {
                    reason: closing.reason,
                    message: closing_message(closing.reason).to_owned(),
                };
                sink.feed(Message::Text(encode(&msg))).await?;
            }
            sink.send(Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(closing_message(closing.reason)),
            })))
            .await
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, goodbye).await;
    }
    closing
}

fn closing_message(reason: LeaveReason) -> &'static str {
    match reason {
        LeaveReason::Left => "left",
        LeaveReason::Replaced => "this session was opened in another tab or device",
        LeaveReason::Flood => "too many messages",
        LeaveReason::SlowConsumer => "messages were not read fast enough",
        LeaveReason::Timeout => "no sign of life for too long",
        LeaveReason::Revoked => "this link was revoked by the organiser",
        LeaveReason::Shutdown => "the server is restarting; reconnect in a moment",
        LeaveReason::Removed => "a facilitator removed you from this session",
        LeaveReason::Ended => "the facilitator ended the session",
        _ => "message too big",
    }
}

/// Checks a drawn signature's shape: a few strokes of points in the
/// 0..=1000 square, times within a stroke.
fn check_signature(strokes: &[Vec<[i64; 3]>]) -> Result<(), String> {
    if strokes.is_empty() || strokes.len() > MAX_STROKES {
        return Err(format!("a signature has 1 to {MAX_STROKES} strokes"));
    }
    let points: usize = strokes.iter().map(Vec::len).sum();
    if points > MAX_POINTS {
        return Err(format!("a signature has at most {MAX_POINTS} points"));
    }
    let ok = strokes.iter().flatten().all(|[x, y, t]| {
        (0..=1000).contains(x) && (0..=1000).contains(y) && (0..=MAX_STROKE_MS).contains(t)
    });
    if ok {
        Ok(())
    } else {
        Err("signature points are [x, y, t] with x, y in 0..=1000 and t in ms".into())
    }
}

/// Sustained rate with a burst. Tokens go negative while a client keeps
/// sending over the limit; past minus twice the burst the client is flooding.
struct TokenBucket {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

enum Verdict {
    Allow,
    Drop,
    Flood,
}

impl TokenBucket {
    fn new(rate: u32, burst: u32) -> Self {
        TokenBucket {
            tokens: f64::from(burst),
            rate: f64::from(rate),
            burst: f64::from(burst),
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> Verdict {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Verdict::Allow
        } else if self.tokens < -2.0 * self.burst {
            Verdict::Flood
        } else {
            Verdict::Drop
        }
    }
}

struct Reader<'a> {
    app: crate::app::App,
    /// The type of the message being handled, named in its errors.
    about: Option<&'static str>,
    /// When the last `stats` was taken: at most one a second.
    last_stats: Option<Instant>,
    session: SessionHandle,
    ledger: Ledger,
    sid: String,
    role: Role,
    id: String,
    connection_id: String,
    out: mpsc::Sender<Outbound>,
    control: &'a ConnectionControl,
    limits: &'a Limits,
    bucket: TokenBucket,
    last_rate_error: Option<Instant>,
    tally: &'a Mutex<Tally>,
    /// The wordings a consent may be given for in this session.
    consent_texts: Vec<cadre_protocol::consent::ConsentText>,
    /// The session's time zone (dates of a postponement).
    time_zone: chrono_tz::Tz,
    /// Last presence and media states recorded, to record changes only.
    visible: Option<bool>,
    focused: Option<bool>,
    media: Option<(bool, bool)>,
}

impl Reader<'_> {
    async fn run(mut self, mut stream: SplitStream<WebSocket>) {
        let silence = self.limits.heartbeat_interval * 3;
        loop {
            let next = tokio::time::timeout(silence, stream.next()).await;
            let msg = match next {
                Err(_) => {
                    self.control.close(LeaveReason::Timeout);
                    return;
                }
                Ok(None) => {
                    self.control.close(LeaveReason::Disconnected);
                    return;
                }
                Ok(Some(Err(e))) => {
                    let too_big = matches!(
                        std::error::Error::source(&e).and_then(|s| {
                            s.downcast_ref::<tokio_tungstenite::tungstenite::Error>()
                        }),
                        Some(tokio_tungstenite::tungstenite::Error::Capacity(_))
                    );
                    self.control.close_with(Closing {
                        reason: LeaveReason::Disconnected,
                        code: too_big.then_some(1009),
                    });
                    return;
                }
                Ok(Some(Ok(msg))) => msg,
            };
            self.control.last_seen.store(now_ms(), Ordering::Relaxed);
            if matches!(msg, Message::Text(_) | Message::Binary(_)) {
                match self.rate() {
                    Verdict::Allow => {}
                    Verdict::Drop => continue,
                    Verdict::Flood => return,
                }
            }
            match msg {
                Message::Text(text) => {
                    if !self.on_text(&text).await {
                        return;
                    }
                }
                Message::Binary(_) => {
                    self.reply_error(
                        ErrorCode::MalformedMessage,
                        "binary frames are not part of the protocol; send JSON text",
                    );
                }
                Message::Close(_) => {
                    self.control.close(LeaveReason::Disconnected);
                    return;
                }
                // Any frame proves liveness; the timeout above restarts.
                Message::Ping(_) | Message::Pong(_) => {}
            }
            if self.control.closing().is_some() {
                return;
            }
        }
    }

    /// Handles one text frame; false when the connection must end.
    async fn on_text(&mut self, text: &str) -> bool {
        if text.len() > MAX_MESSAGE_BYTES {
            self.reply_error(
                ErrorCode::MessageTooLarge,
                &format!(
                    "message of {} bytes is over the {} byte limit; it was dropped",
                    text.len(),
                    MAX_MESSAGE_BYTES
                ),
            );
            return true;
        }
        self.about = None;
        let msg = match parse_client_message(text) {
            Ok(m) => m,
            Err(e) => {
                self.reply_error(e.code, &e.message);
                return true;
            }
        };
        self.about = Some(msg.kind());
        match msg {
            ClientMessage::Signal { to, data } => {
                self.session
                    .relay(self.id.clone(), self.connection_id.clone(), to, data)
                    .await;
            }
            ClientMessage::Heartbeat { .. } => {
                let now = now_ms();
                let due = {
                    let mut t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
                    let hb = t.heartbeats.get_or_insert((now, now, 0));
                    hb.1 = now;
                    hb.2 += 1;
                    if now - hb.0 >= HEARTBEAT_SUMMARY_MS {
                        t.heartbeats.take()
                    } else {
                        None
                    }
                };
                if let Some(ev) = heartbeat_event(&self.sid, &self.id, &self.connection_id, due) {
                    self.record_event(ev).await;
                }
                let ack = ServerMessage::HeartbeatAck { server_time: now };
                self.queue(Outbound::Text(encode(&ack)));
            }
            ClientMessage::MediaState { camera, microphone } => {
                self.session
                    .media(
                        self.id.clone(),
                        self.connection_id.clone(),
                        camera,
                        microphone,
                    )
                    .await;
                if self.media != Some((camera, microphone)) {
                    self.media = Some((camera, microphone));
                    let payload = serde_json::json!({
                        "connection_id": self.connection_id, "camera": camera, "microphone": microphone,
                    });
                    self.record(kind::MEDIA, payload, None).await;
                }
            }
            ClientMessage::Presence {
                visible,
                focused,
                client_time,
            } => {
                if self.visible != Some(visible) || self.focused != Some(focused) {
                    self.session
                        .presence(
                            self.id.clone(),
                            self.connection_id.clone(),
                            visible,
                            focused,
                        )
                        .await;
                }
                if self.visible != Some(visible) {
                    self.visible = Some(visible);
                    let payload = serde_json::json!({"connection_id": self.connection_id, "visible": visible});
                    self.record(kind::VISIBILITY, payload, client_time).await;
                }
                if self.focused != Some(focused) {
                    self.focused = Some(focused);
                    let payload = serde_json::json!({"connection_id": self.connection_id, "focused": focused});
                    self.record(kind::FOCUS, payload, client_time).await;
                }
            }
            ClientMessage::SignIn {
                slot,
                signature,
                client_time,
            } => self.sign_in(slot, signature, client_time).await,
            ClientMessage::OpenSignin => {
                if let Err(e) = self.session.open_signin(self.id.clone()).await {
                    self.reply_error(e.code, &e.message);
                }
            }
            ClientMessage::Countersign { slot, participant } => {
                self.countersign(slot, participant).await;
            }
            ClientMessage::GetEvidence => self.send_evidence().await,
            ClientMessage::Consent {
                consent,
                granted,
                text_sha256,
            } => self.consent(consent, granted, text_sha256).await,
            ClientMessage::Recording { armed } => self.arm(armed).await,
            ClientMessage::Stats { stats } => self.stats(stats).await,
            ClientMessage::Difficulty { text } => {
                match self.app.file_report(&self.sid, &self.id, &text).await {
                    Ok(report) => {
                        self.queue(Outbound::Text(encode(&ServerMessage::Difficulty {
                            difficulty: report,
                        })));
                    }
                    Err(e) => self.reply_error(e.code, &e.message),
                }
            }
            ClientMessage::Control {
                action,
                reason,
                start,
                end,
                participant,
            } => self.control(action, reason, start, end, participant).await,
            ClientMessage::RecorderSignal { segment, data } => {
                self.session
                    .recorder_signal(self.id.clone(), self.connection_id.clone(), segment, data)
                    .await;
            }
            ClientMessage::Leave => {
                self.leave().await;
                return false;
            }
            _ => self.reply_error(ErrorCode::UnknownMessageType, "unsupported message"),
        }
        true
    }

    /// Applies the rate limit: a dropped message is answered (at most once a
    /// second) with `rate_limited`; a flood closes the connection.
    fn rate(&mut self) -> Verdict {
        let verdict = self.bucket.take();
        match verdict {
            Verdict::Allow => {}
            Verdict::Drop => {
                let now = Instant::now();
                if self
                    .last_rate_error
                    .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
                {
                    self.last_rate_error = Some(now);
                    self.reply_error(
                        ErrorCode::RateLimited,
                        "too many messages; messages are being dropped",
                    );
                }
            }
            Verdict::Flood => self.control.close(LeaveReason::Flood),
        }
        verdict
    }

    /// Appends an event about this person; once durable, the person sees it.
    async fn record(
        &mut self,
        kind: &'static str,
        payload: serde_json::Value,
        client_ts: Option<i64>,
    ) -> Option<(i64, String)> {
        let event = NewEvent {
            sid: self.sid.clone(),
            kind,
            actor: self.id.clone(),
            payload,
            client_ts,
        };
        self.record_event(event).await
    }

    async fn record_event(&mut self, event: NewEvent) -> Option<(i64, String)> {
        let written = self.ledger.append(event).await;
        self.recorded(written)
    }

    /// Echoes a durable entry to its author, or says it was not recorded.
    fn recorded(&mut self, written: Result<Appended, LedgerError>) -> Option<(i64, String)> {
        match written {
            Ok(a) => {
                self.queue(Outbound::Text(encode(&ServerMessage::EvidenceRecorded {
                    entry: a.text.clone(),
                })));
                Some((a.ts, a.text))
            }
            Err(e) => {
                warn!("could not record evidence: {e}");
                self.reply_error(
                    ErrorCode::Internal,
                    "this could not be recorded; nothing was recorded, please try again",
                );
                None
            }
        }
    }

    /// A signed tree head covering everything recorded so far.
    async fn receipt(&mut self) -> Option<String> {
        match self.ledger.tree_head(&self.sid).await {
            Ok(head) => Some(head.jws),
            Err(e) => {
                warn!("could not sign a tree head: {e}");
                None
            }
        }
    }

    async fn sign_in(
        &mut self,
        slot: String,
        signature: Option<Vec<Vec<[i64; 3]>>>,
        client_time: Option<i64>,
    ) {
        if let Some(sig) = &signature
            && let Err(why) = check_signature(sig)
        {
            self.reply_error(ErrorCode::InvalidInput, &why);
            return;
        }
        if let Err(e) = self.session.sign_begin(self.id.clone(), slot.clone()).await {
            self.reply_error(e.code, &e.message);
            return;
        }
        let payload = serde_json::json!({"slot": slot, "signature": signature});
        let recorded = self.record(kind::SIGNED_IN, payload, client_time).await;
        let at = recorded.as_ref().map(|(at, _)| *at);
        self.session
            .sign_end(self.id.clone(), slot.clone(), recorded)
            .await;
        if let Some(at) = at {
            let receipt = self.receipt().await;
            self.queue(Outbound::Text(encode(&ServerMessage::Signed {
                slot,
                at,
                receipt,
            })));
        }
    }

    async fn countersign(&mut self, slot: String, participant: String) {
        if self.role != Role::Facilitator {
            self.reply_error(ErrorCode::Forbidden, "only a facilitator countersigns");
            return;
        }
        if let Err(e) = self
            .session
            .countersign_begin(self.id.clone(), slot.clone(), participant.clone())
            .await
        {
            self.reply_error(e.code, &e.message);
            return;
        }
        let event = NewEvent {
            sid: self.sid.clone(),
            kind: kind::COUNTERSIGNED,
            actor: self.id.clone(),
            payload: serde_json::json!({"slot": slot, "participant": participant}),
            client_ts: None,
        };
        // The actor tells both sides once durable; no separate echo here.
        let recorded = match self.ledger.append(event).await {
            Ok(a) => Some((a.ts, a.text)),
            Err(e) => {
                warn!("could not record a countersignature: {e}");
                self.reply_error(
                    ErrorCode::Internal,
                    "the countersignature could not be recorded",
                );
                None
            }
        };
        self.session
            .countersign_end(self.id.clone(), slot, participant, recorded)
            .await;
    }

    /// Records a consent decision for a wording of this session.
    async fn consent(&mut self, consent: String, granted: bool, text_sha256: String) {
        if !self.consent_texts.iter().any(|t| t.consent == consent) {
            self.reply_error(
                ErrorCode::InvalidInput,
                &format!("{consent:?} is not a consent asked in this session"),
            );
            return;
        }
        if !cadre_protocol::consent::known(&self.consent_texts, &consent, &text_sha256) {
            self.reply_error(
                ErrorCode::InvalidInput,
                "text_sha256 is not the hash of a wording of this consent: show the session's text",
            );
            return;
        }
        let recording = consent == cadre_protocol::evidence::consent::RECORDING;
        let payload = serde_json::json!({
            "consent": consent, "granted": granted, "text_sha256": text_sha256.to_ascii_lowercase(),
        });
        let recorded = if recording {
            // The session writes it: the gate's view of each person's
            // decision is then ordered with the ledger, whatever tab or
            // race (a withdrawal stops recording even before it is written).
            let event = NewEvent {
                sid: self.sid.clone(),
                kind: kind::CONSENT,
                actor: self.id.clone(),
                payload,
                client_ts: None,
            };
            match self
                .session
                .recording_consent(self.id.clone(), granted, event)
                .await
            {
                Ok(written) => self.recorded(written),
                Err(_) => {
                    self.reply_error(
                        ErrorCode::NotOpen,
                        "this tab has left the session: decide in the tab that is open; nothing was recorded",
                    );
                    None
                }
            }
        } else {
            self.record(kind::CONSENT, payload, None).await
        };
        if let Some((at, _)) = recorded {
            self.queue(Outbound::Text(encode(&ServerMessage::ConsentRecorded {
                consent,
                granted,
                at,
            })));
        }
    }

    /// A facilitator's control: checked here (role, reason, dates), then
    /// against the session's state by the actor, which records it and
    /// tells everyone.
    async fn control(
        &mut self,
        action: ControlAction,
        reason: String,
        start: Option<String>,
        end: Option<String>,
        participant: Option<String>,
    ) {
        if self.role != Role::Facilitator {
            self.reply_error(
                ErrorCode::Forbidden,
                "only a facilitator suspends, resumes, postpones, ends or removes",
            );
            return;
        }
        let reason = reason.trim().to_owned();
        if reason.is_empty() {
            self.reply_error(
                ErrorCode::InvalidInput,
                "a reason is required: it is told to every participant and recorded",
            );
            return;
        }
        if reason.chars().count() > MAX_REASON_CHARS
            || reason.chars().any(|c| c.is_control() && c != '\n')
        {
            self.reply_error(
                ErrorCode::InvalidInput,
                &format!("a reason is at most {MAX_REASON_CHARS} characters of text"),
            );
            return;
        }
        if let Some(c) = cadre_protocol::bidi_control(&reason) {
            self.reply_error(
                ErrorCode::InvalidInput,
                &cadre_protocol::bidi_control_refusal("reason", c),
            );
            return;
        }
        if participant.is_some() != (action == ControlAction::Remove) {
            self.reply_error(
                ErrorCode::InvalidInput,
                "`participant` goes with `remove`, and only with it",
            );
            return;
        }
        let window = if action == ControlAction::Postpone {
            match self.postponement(start.as_deref(), end.as_deref()) {
                Ok(w) => Some(w),
                Err(why) => {
                    self.reply_error(ErrorCode::InvalidInput, &why);
                    return;
                }
            }
        } else if start.is_some() || end.is_some() {
            self.reply_error(
                ErrorCode::InvalidInput,
                "`start` and `end` go with `postpone` only",
            );
            return;
        } else {
            None
        };
        let request = crate::session::ControlRequest {
            by: self.id.clone(),
            action,
            reason,
            window,
            participant,
        };
        if let Err(e) = self.session.control(request).await {
            self.reply_error(e.code, &e.message);
        }
    }

    /// The new window of a postponement: both ends given, in the future,
    /// end after start.
    fn postponement(
        &self,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), String> {
        let (Some(start), Some(end)) = (start, end) else {
            return Err("a postponement needs the new `start` and `end`".into());
        };
        let parse = |field: &str, v: &str| {
            crate::catalog::parse_session_time(field, v, self.time_zone).map_err(|e| e.to_string())
        };
        let start = parse("start", start)?;
        let end = parse("end", end)?;
        if start <= chrono::Utc::now() {
            return Err(
                "the new start is in the past: a session is postponed to a later date".into(),
            );
        }
        if end <= start {
            return Err("the new end must be after the new start".into());
        }
        if end - start > chrono::Duration::days(31) {
            return Err("a session lasts at most 31 days".into());
        }
        Ok((start, end))
    }

    /// Connection figures: checked, at most one a second, then scored by
    /// the session.
    async fn stats(&mut self, report: cadre_protocol::quality::ConnectionStats) {
        let now = Instant::now();
        if self
            .last_stats
            .is_some_and(|t| now.duration_since(t) < Duration::from_millis(900))
        {
            self.reply_error(
                ErrorCode::RateLimited,
                "stats are taken at most once a second; this one was dropped",
            );
            return;
        }
        if let Err(why) = report.validate() {
            self.reply_error(ErrorCode::InvalidInput, &why);
            return;
        }
        self.last_stats = Some(now);
        self.session
            .stats(self.id.clone(), self.connection_id.clone(), report)
            .await;
    }

    /// Arms or disarms recording (facilitators). Disarming takes effect
    /// before it is written; arming is written before it takes effect.
    async fn arm(&mut self, armed: bool) {
        if self.role != Role::Facilitator {
            self.reply_error(
                ErrorCode::Forbidden,
                "only a facilitator arms or disarms recording",
            );
            return;
        }
        if !armed && let Err(e) = self.session.arm(self.id.clone(), false).await {
            self.reply_error(e.code, &e.message);
            return;
        }
        let payload = serde_json::json!({"armed": armed});
        let recorded = self.record(kind::RECORDING_ARMED, payload, None).await;
        if armed
            && recorded.is_some()
            && let Err(e) = self.session.arm(self.id.clone(), true).await
        {
            self.reply_error(e.code, &e.message);
        }
    }

    /// Everything the ledger holds about this person: their own events and
    /// those that name them (a countersignature).
    async fn send_evidence(&mut self) {
        let entries = match self.ledger.entries(&self.sid).await {
            Ok(e) => e,
            Err(e) => {
                warn!("could not read the ledger: {e}");
                self.reply_error(ErrorCode::Internal, "the evidence cannot be read right now");
                return;
            }
        };
        let mine: Vec<String> = entries
            .into_iter()
            .filter(|e| {
                cadre_protocol::evidence::Entry::parse(&e.text).is_ok_and(|entry| {
                    entry.actor == self.id
                        || entry
                            .payload_value()
                            .get("participant")
                            .and_then(|p| p.as_str())
                            == Some(self.id.as_str())
                })
            })
            .map(|e| e.text)
            .collect();
        self.queue(Outbound::Text(encode(&ServerMessage::Evidence {
            entries: mine,
        })));
    }

    /// Records the departure, hands over a receipt covering it, then lets
    /// the writer close (queued messages go out before the close frame).
    async fn leave(&mut self) {
        let heartbeats = {
            let mut t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
            t.close_recorded = true;
            t.heartbeats.take()
        };
        let mut events = Vec::with_capacity(2);
        if let Some(ev) = heartbeat_event(&self.sid, &self.id, &self.connection_id, heartbeats) {
            events.push(ev);
        }
        events.push(NewEvent {
            sid: self.sid.clone(),
            kind: kind::CONNECTION_CLOSED,
            actor: self.id.clone(),
            payload: serde_json::json!({
                "connection_id": self.connection_id,
                "reason": LeaveReason::Left,
                "last_seen": now_ms(),
            }),
            client_ts: None,
        });
        for ev in events {
            self.record_event(ev).await;
        }
        if let Some(tree_head) = self.receipt().await {
            self.queue(Outbound::Text(encode(&ServerMessage::Receipt {
                tree_head,
            })));
        }
        self.control.close(LeaveReason::Left);
    }

    fn reply_error(&mut self, code: ErrorCode, message: &str) {
        let error = match self.about {
            Some(about) => ServerMessage::error_about(code, message, about),
            None => ServerMessage::error(code, message),
        };
        self.queue(Outbound::Text(encode(&error)));
    }

    fn queue(&mut self, msg: Outbound) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send(msg) {
            self.control.close(LeaveReason::SlowConsumer);
        }
    }
}
