//! What travels from a session to its members' connections: queued
//! messages, and the one-shot request to close.

use axum::extract::ws::Utf8Bytes;
use cadre_protocol::close_code;
use cadre_protocol::signalling::{LeaveReason, ServerMessage};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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

/// Shared between a connection task and the session actor: the queue of
/// frames towards the client, bounded, and the close request (the first
/// [`Closing`] recorded wins and wakes the writer).
///
/// The queue is a plain deque rather than a channel: an idle connection
/// (most of them, most of the time) then holds no buffer at all, where a
/// channel keeps its first block of slots (about 1 KiB) for the
/// connection's whole life; and a burst's room is given back once written.
#[derive(Debug)]
pub struct ConnectionControl {
    closing: OnceLock<Closing>,
    notify: Notify,
    /// Last time any frame arrived (ms): a timed-out connection is closed,
    /// in evidence, at this time, not when the silence was noticed.
    last_seen: AtomicI64,
    queue: Mutex<Queue>,
    /// A frame was queued (a permit is kept if the writer is not waiting).
    queued: Notify,
    capacity: usize,
    /// Where a frame refused for a full queue is counted (`/metrics`).
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Outbound>,
    /// The connection's writer is gone: nothing is queued any more.
    ended: bool,
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// The client is not reading: `capacity` frames wait already.
    Full,
    /// The connection has ended.
    Ended,
}

impl ConnectionControl {
    /// A connection whose queue holds at most `capacity` frames.
    pub fn new(capacity: usize) -> ConnectionControl {
        ConnectionControl {
            closing: OnceLock::new(),
            notify: Notify::new(),
            last_seen: AtomicI64::new(0),
            queue: Mutex::new(Queue::default()),
            queued: Notify::new(),
            capacity: capacity.max(1),
            metrics: None,
        }
    }

    /// Counts the frames this connection's full queue refuses in `metrics`.
    pub fn counted(mut self, metrics: Arc<crate::metrics::Metrics>) -> ConnectionControl {
        self.metrics = Some(metrics);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // The deque is never left half-changed by a panic.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `msg` for the client, without waiting.
    pub fn try_send(&self, msg: Outbound) -> Result<(), QueueError> {
        {
            let mut q = self.lock();
            if q.ended {
                return Err(QueueError::Ended);
            }
            if q.frames.len() >= self.capacity {
                if let Some(m) = &self.metrics {
                    m.queue_dropped();
                }
                return Err(QueueError::Full);
            }
            q.frames.push_back(msg);
        }
        self.queued.notify_one();
        Ok(())
    }

    /// The next queued frame, if any; an emptied queue gives its room back
    /// (an allocation per burst costs less than a buffer per idle
    /// connection).
    pub fn try_recv(&self) -> Option<Outbound> {
        let mut q = self.lock();
        let next = q.frames.pop_front();
        if q.frames.is_empty() && q.frames.capacity() > 0 {
            q.frames = VecDeque::new();
        }
        next
    }

    /// Puts frames taken but not written back at the head of the queue, in
    /// their order: a close decided while they were being written must not
    /// lose them (the goodbye writes what is queued).
    pub fn unread(&self, frames: impl DoubleEndedIterator<Item = Outbound>) {
        let mut q = self.lock();
        for frame in frames.rev() {
            q.frames.push_front(frame);
        }
    }

    /// Waits for the next queued frame.
    pub async fn recv(&self) -> Outbound {
        loop {
            if let Some(msg) = self.try_recv() {
                return msg;
            }
            self.queued.notified().await;
        }
    }

    /// The connection's writer is gone: what is queued is dropped, and
    /// later frames are refused as [`QueueError::Ended`].
    pub fn end_queue(&self) {
        let mut q = self.lock();
        q.ended = true;
        q.frames = VecDeque::new();
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &'static str) -> Outbound {
        Outbound::Text(Utf8Bytes::from_static(s))
    }

    fn read(msg: Option<Outbound>) -> Option<String> {
        msg.map(|Outbound::Text(t)| t.as_str().to_owned())
    }

    #[tokio::test]
    async fn the_queue_is_bounded_ordered_and_idle_without_a_buffer() {
        let control = std::sync::Arc::new(ConnectionControl::new(2));
        assert_eq!(
            control.lock().frames.capacity(),
            0,
            "nothing held before use"
        );
        control.try_send(text("a")).unwrap();
        control.try_send(text("b")).unwrap();
        assert_eq!(control.try_send(text("c")), Err(QueueError::Full));
        assert_eq!(read(control.try_recv()).as_deref(), Some("a"));
        assert_eq!(read(Some(control.recv().await)).as_deref(), Some("b"));
        assert_eq!(
            control.lock().frames.capacity(),
            0,
            "room given back once empty"
        );
        assert_eq!(read(control.try_recv()), None);

        // A waiting writer is woken by the next frame.
        let waiting = tokio::spawn({
            let control = std::sync::Arc::clone(&control);
            async move { read(Some(control.recv().await)) }
        });
        tokio::task::yield_now().await;
        control.try_send(text("d")).unwrap();
        assert_eq!(waiting.await.unwrap().as_deref(), Some("d"));

        control.try_send(text("e")).unwrap();
        control.end_queue();
        assert_eq!(
            read(control.try_recv()),
            None,
            "dropped with the connection"
        );
        assert_eq!(control.try_send(text("f")), Err(QueueError::Ended));
    }

    #[test]
    fn frames_taken_but_not_written_go_back_first_in_their_order() {
        let control = ConnectionControl::new(8);
        for t in ["notice", "then", "later"] {
            control.try_send(text(t)).unwrap();
        }
        let taken = [control.try_recv(), control.try_recv()].map(Option::unwrap);
        control.try_send(text("last")).unwrap();
        control.unread(taken.into_iter());
        let all: Vec<String> = std::iter::from_fn(|| read(control.try_recv())).collect();
        assert_eq!(all, ["notice", "then", "later", "last"]);
    }
}
