//! What travels from a session to its members' connections: queued
//! messages, and the one-shot request to close.

use axum::extract::ws::Utf8Bytes;
use cadre_protocol::close_code;
use cadre_protocol::signalling::{LeaveReason, ServerMessage};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::Notify;

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
    /// The close code that goes with `reason`.
    pub fn for_reason(reason: LeaveReason) -> Closing {
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

    /// Asks the connection to close with `closing`; only the first request counts.
    pub fn close_with(&self, closing: Closing) {
        if self.closing.set(closing).is_ok() {
            // notify_one keeps a permit if the writer is not waiting yet.
            self.notify.notify_one();
        }
    }

    /// The closing decided, if any.
    pub fn closing(&self) -> Option<Closing> {
        self.closing.get().copied()
    }

    /// Resolves once a closing is recorded (or was before the call).
    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// A frame arrived at `now` (ms).
    pub fn touch(&self, now: i64) {
        self.last_seen.store(now, Ordering::Relaxed);
    }

    /// When the last frame arrived (ms).
    pub fn last_seen(&self) -> i64 {
        self.last_seen.load(Ordering::Relaxed)
    }
}

/// `msg` as a text frame, serialised once for every recipient.
pub fn encode(msg: &ServerMessage) -> Utf8Bytes {
    // Serialising these types cannot fail: no maps with non-string keys, no
    // custom serialisers.
    Utf8Bytes::from(serde_json::to_string(msg).unwrap_or_default())
}
