//! The transport of one connection, apart from what its messages mean:
//! the read loop (liveness, frame size, rate limit), the write loop (the
//! bounded queue, batching, pings), and closing with a reason.

use super::{Connection, Tally, heartbeat_event};
use crate::evidence::ledger::{Ledger, NewEvent};
use crate::live::outbound::{Closing, ConnectionControl, Outbound, QueueError, encode};
use crate::live::session::now_ms;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use cadre_protocol::ErrorCode;
use cadre_protocol::evidence::kind;
use cadre_protocol::signalling::{LeaveReason, ServerMessage};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Messages written per flush when the queue has a backlog.
const WRITE_BATCH: usize = 32;

/// The way out towards the client: its bounded queue and the close
/// control. A client that does not read closes as a slow consumer rather
/// than holding the session up.
pub(super) struct Outlet<'a> {
    pub(super) control: &'a ConnectionControl,
    /// The type of the message being handled, named in its errors.
    pub(super) about: Option<&'static str>,
}

impl Outlet<'_> {
    /// Queues `msg` for the client.
    pub(super) fn send(&self, msg: &ServerMessage) {
        self.push(Outbound::Text(encode(msg)));
    }

    /// Answers the message being handled with an error.
    pub(super) fn error(&self, code: ErrorCode, message: &str) {
        let error = match self.about {
            Some(about) => ServerMessage::error_about(code, message, about),
            None => ServerMessage::error(code, message),
        };
        self.send(&error);
    }

    fn push(&self, msg: Outbound) {
        if let Err(QueueError::Full) = self.control.try_send(msg) {
            self.control.close(LeaveReason::SlowConsumer);
        }
    }
}

impl Connection<'_> {
    /// Reads frames until the connection must end: silence, a close, a
    /// flood, an unreadable frame, or a handler that says so.
    pub(super) async fn read_loop(mut self, stream: &mut SplitStream<WebSocket>) {
        let silence = self.limits.heartbeat_interval * 3;
        loop {
            let next = tokio::time::timeout(silence, stream.next()).await;
            let msg = match next {
                Err(_) => {
                    self.out.control.close(LeaveReason::Timeout);
                    return;
                }
                Ok(None) => {
                    self.out.control.close(LeaveReason::Disconnected);
                    return;
                }
                Ok(Some(Err(e))) => {
                    let too_big = matches!(
                        std::error::Error::source(&e).and_then(|s| {
                            s.downcast_ref::<tokio_tungstenite::tungstenite::Error>()
                        }),
                        Some(tokio_tungstenite::tungstenite::Error::Capacity(_))
                    );
                    self.out.control.close_with(Closing {
                        reason: LeaveReason::Disconnected,
                        code: too_big.then_some(1009),
                    });
                    return;
                }
                Ok(Some(Ok(msg))) => msg,
            };
            self.out.control.touch(now_ms());
            if matches!(msg, Message::Text(_) | Message::Binary(_)) {
                match self.rate() {
                    Verdict::Allow => {}
                    Verdict::Drop => continue,
                    Verdict::Flood => return,
                }
            }
            match msg {
                Message::Text(text) => {
                    // Boxed: the largest handler's state would otherwise sit
                    // in every idle connection's reader (2.5 KB).
                    let handled = Box::pin(self.on_text(&text));
                    if !handled.await {
                        return;
                    }
                }
                Message::Binary(_) => {
                    self.out.error(
                        ErrorCode::MalformedMessage,
                        "binary frames are not part of the protocol; send JSON text",
                    );
                }
                Message::Close(_) => {
                    self.out.control.close(LeaveReason::Disconnected);
                    return;
                }
                // Any frame proves liveness; the timeout above restarts.
                Message::Ping(_) | Message::Pong(_) => {}
            }
            if self.out.control.closing().is_some() {
                return;
            }
        }
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
                    self.out.error(
                        ErrorCode::RateLimited,
                        "too many messages; messages are being dropped",
                    );
                }
            }
            Verdict::Flood => self.out.control.close(LeaveReason::Flood),
        }
        verdict
    }
}

/// Writes what the session queues, pings, and returns once the connection
/// must close; the goodbye is [`finish`]'s, after the session knows.
pub(super) async fn write_loop(
    sink: &mut SplitSink<WebSocket, Message>,
    control: &ConnectionControl,
    shutdown: &CancellationToken,
    heartbeat: Duration,
) -> Closing {
    let mut ping = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let closing = loop {
        tokio::select! {
            biased;
            () = control.notified() => break control.closing(),
            () = shutdown.cancelled() => {
                control.close(LeaveReason::Shutdown);
                break control.closing();
            }
            first = control.recv() => {
                let mut batch = std::collections::VecDeque::with_capacity(WRITE_BATCH);
                batch.push_back(first);
                while batch.len() < WRITE_BATCH {
                    match control.try_recv() {
                        Some(next) => batch.push_back(next),
                        None => break,
                    }
                }
                // The write itself can block on a client that does not read;
                // it must stay interruptible by a close decision. A frame
                // leaves the batch once the sink took it.
                let outcome = {
                    let write = async {
                        while let Some(Outbound::Text(t)) = batch.front() {
                            sink.feed(Message::Text(t.clone())).await?;
                            batch.pop_front();
                        }
                        sink.flush().await
                    };
                    tokio::select! {
                        biased;
                        () = control.notified() => None,
                        result = write => Some(result),
                    }
                };
                match outcome {
                    // Decided while writing (the session's last word, then
                    // the close, often come together): what was not written
                    // goes back to the queue for the goodbye.
                    None => {
                        control.unread(batch.into_iter());
                        break control.closing();
                    }
                    Some(Err(_)) => {
                        control.close(LeaveReason::Disconnected);
                        break control.closing();
                    }
                    Some(Ok(())) => {}
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
    closing.unwrap_or(Closing {
        reason: LeaveReason::Disconnected,
        code: None,
    })
}

/// Ends the connection with RFC 6455's closing handshake, within `grace`:
/// the server's close frame (after what was queued before the decision and
/// a `closing` message naming the reason), or the answer to the client's,
/// then the client's close frame or the end of its stream; only then is
/// the socket dropped. A client that closed first gets its code echoed
/// (tungstenite queued the answer when it read the client's frame: the
/// flush sends it). Without `rx`, the caller has sent its close frame
/// itself and only the client's answer is awaited.
pub(super) async fn finish(
    sink: &mut SplitSink<WebSocket, Message>,
    stream: &mut SplitStream<WebSocket>,
    queue: Option<&ConnectionControl>,
    closing: Closing,
    grace: Duration,
) {
    let handshake = async {
        if let (Some(code), Some(queue)) = (closing.code, queue) {
            // Fails once the client's own close frame was read: the answer
            // below is then the only frame left to send.
            let _ = goodbye(sink, queue, closing, code).await;
        }
        let _ = sink.flush().await;
        // Frames the client sent before its close frame are not read any
        // more; its close frame (or the end of the stream) ends the wait.
        while let Some(Ok(msg)) = stream.next().await {
            if matches!(msg, Message::Close(_)) {
                let _ = sink.flush().await;
                break;
            }
        }
    };
    let _ = tokio::time::timeout(grace, handshake).await;
}

async fn goodbye(
    sink: &mut SplitSink<WebSocket, Message>,
    queue: &ConnectionControl,
    closing: Closing,
    code: u16,
) -> Result<(), axum::Error> {
    // What was queued before the decision (an error explaining it, say)
    // still goes out; a slow consumer's backlog is the problem, so it is
    // dropped.
    if closing.reason != LeaveReason::SlowConsumer {
        while let Some(Outbound::Text(t)) = queue.try_recv() {
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

/// Writes the heartbeat summary and the close (unless `leave` already did),
/// closed at the last time seen.
pub(super) async fn record_close(
    ledger: &Ledger,
    (sid, id): (&str, &str),
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
    if let Some(ev) = heartbeat_event(sid, id, connection_id, heartbeats) {
        events.push(ev);
    }
    events.push(NewEvent {
        sid: sid.to_owned(),
        kind: kind::CONNECTION_CLOSED,
        actor: id.to_owned(),
        payload: serde_json::json!({
            "connection_id": connection_id,
            "reason": reason,
            "last_seen": control.last_seen(),
        }),
        client_ts: None,
    });
    for event in events {
        if let Err(e) = ledger.append(event).await {
            warn!("could not record the close of a connection: {e}");
        }
    }
}

/// Sustained rate with a burst. Tokens go negative while a client keeps
/// sending over the limit; past minus twice the burst the client is flooding.
pub(super) struct TokenBucket {
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
    pub(super) fn new(rate: u32, burst: u32) -> Self {
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
