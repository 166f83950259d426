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

use crate::session::{Registry, SessionHandle, encode};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use cadre_protocol::close_code;
use cadre_protocol::signalling::{
    ClientMessage, LeaveReason, ServerMessage, SessionInfo, parse_client_message,
};
use cadre_protocol::{ErrorCode, MAX_MESSAGE_BYTES, Role};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info_span};

/// Largest frame the WebSocket layer reads at all; a bigger one closes the
/// socket with 1009. Between [`MAX_MESSAGE_BYTES`] and this, the message is
/// refused with an error and the socket stays open.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

/// How long the writer may take to say goodbye before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Messages written per flush when the queue has a backlog.
const WRITE_BATCH: usize = 32;

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
    registry: Arc<Registry>,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let connection_id = match crate::keys::random_id(9) {
        Ok(id) => format!("c_{id}"),
        Err(_) => return,
    };
    let span = info_span!("connection", sid = %who.session.id, pid = %who.id, cid = %connection_id);
    run_inner(socket, who, registry, limits, shutdown, connection_id)
        .instrument(span)
        .await
}

async fn run_inner(
    socket: WebSocket,
    who: Admitted,
    registry: Arc<Registry>,
    limits: Limits,
    shutdown: CancellationToken,
    connection_id: String,
) {
    let (out_tx, out_rx) = mpsc::channel(limits.outbound_queue);
    let control = Arc::new(ConnectionControl::default());
    let joining = crate::session::Joining {
        id: who.id.clone(),
        name: who.name.clone(),
        role: who.role,
        connection_id: connection_id.clone(),
        outbound: out_tx.clone(),
        control: Arc::clone(&control),
    };
    let Ok(session) = registry.join(&who.session, joining).await else {
        return;
    };
    debug!("joined");
    let (sink, stream) = socket.split();
    let reader = Reader {
        session: session.clone(),
        id: who.id.clone(),
        connection_id: connection_id.clone(),
        out: out_tx,
        control: &control,
        limits: &limits,
        bucket: TokenBucket::new(limits.rate_per_second, limits.rate_burst),
        last_rate_error: None,
    };
    let reading = reader.run(stream);
    let writing = write_loop(sink, out_rx, &control, &shutdown, limits.heartbeat_interval);
    tokio::pin!(reading, writing);
    let closing = tokio::select! {
        closing = &mut writing => closing,
        () = &mut reading => (&mut writing).await,
    };
    debug!(reason = ?closing.reason, "connection closed");
    session.leave(who.id, connection_id, closing.reason).await;
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
        _ => "message too big",
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
    session: SessionHandle,
    id: String,
    connection_id: String,
    out: mpsc::Sender<Outbound>,
    control: &'a ConnectionControl,
    limits: &'a Limits,
    bucket: TokenBucket,
    last_rate_error: Option<Instant>,
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
                    let too_big =
                        matches!(
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
        let msg = match parse_client_message(text) {
            Ok(m) => m,
            Err(e) => {
                self.reply_error(e.code, &e.message);
                return true;
            }
        };
        match msg {
            ClientMessage::Signal { to, data } => {
                self.session
                    .relay(self.id.clone(), self.connection_id.clone(), to, data)
                    .await;
            }
            ClientMessage::Heartbeat { .. } => {
                let ack = ServerMessage::HeartbeatAck {
                    server_time: chrono::Utc::now().timestamp_millis(),
                };
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
            }
            ClientMessage::Leave => {
                self.control.close(LeaveReason::Left);
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

    fn reply_error(&mut self, code: ErrorCode, message: &str) {
        self.queue(Outbound::Text(encode(&ServerMessage::error(code, message))));
    }

    fn queue(&mut self, msg: Outbound) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.out.try_send(msg) {
            self.control.close(LeaveReason::SlowConsumer);
        }
    }
}
