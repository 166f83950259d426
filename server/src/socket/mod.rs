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

mod consent;
mod control;
mod dispatch;
mod evidence;
mod member;
mod presence;
mod signing;
mod transport;

use crate::app::{Admitted, App, Limits};
use crate::evidence::ledger::{Ledger, NewEvent};
use crate::live::outbound::{ConnectionControl, Outbound, encode};
use crate::live::session::now_ms;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use cadre_protocol::ErrorCode;
use cadre_protocol::evidence::kind;
use cadre_protocol::signalling::{LeaveReason, ServerMessage};
use evidence::heartbeat_event;
use futures_util::StreamExt as _;
use member::Member;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{Instrument, debug, info_span, warn};
use transport::{Outlet, TokenBucket, finish, record_close, write_loop};

/// Largest frame the WebSocket layer reads at all; a bigger one closes the
/// socket with 1009. Between [`cadre_protocol::MAX_MESSAGE_BYTES`] and
/// this, the message is refused with an error and the socket stays open.
pub const MAX_FRAME_BYTES: usize = 256 * 1024;

/// Heartbeats are summarised in the ledger this often (and at close), never
/// one entry per heartbeat.
const HEARTBEAT_SUMMARY_MS: i64 = 10 * 60 * 1000;

/// Longest user agent kept as evidence.
const MAX_USER_AGENT: usize = 300;

/// Runs one connection to its end.
pub async fn run(socket: WebSocket, who: Admitted, app: App) {
    let connection_id = match crate::directory::keys::random_id(9) {
        Ok(id) => format!("c_{id}"),
        Err(_) => return,
    };
    let span = info_span!("connection", sid = %who.session.id, pid = %who.id, cid = %connection_id);
    run_inner(socket, who, app, connection_id)
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

async fn run_inner(mut socket: WebSocket, who: Admitted, app: App, connection_id: String) {
    let registry = app.registry();
    let ledger = app.ledger().clone();
    let limits = app.limits().clone();
    let shutdown = app.shutdown().clone();
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
    let (out_tx, mut out_rx) = mpsc::channel(limits.outbound_queue);
    let control = Arc::new(ConnectionControl::default());
    control.touch(now_ms());
    let joining = crate::live::session::Joining {
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
    let (mut sink, mut stream) = socket.split();
    let connection = Connection {
        app,
        ledger: ledger.clone(),
        member: Member {
            session: session.clone(),
            sid: who.session.id.clone(),
            id: who.id.clone(),
            role: who.role,
            connection_id: connection_id.clone(),
        },
        out: Outlet {
            queue: out_tx,
            control: &control,
            about: None,
        },
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
        seen: Seen::default(),
    };
    let closing = {
        let reading = connection.read_loop(&mut stream);
        let writing = write_loop(
            &mut sink,
            &mut out_rx,
            &control,
            &shutdown,
            limits.heartbeat_interval,
        );
        tokio::pin!(reading, writing);
        tokio::select! {
            closing = &mut writing => closing,
            () = &mut reading => (&mut writing).await,
        }
    };
    debug!(reason = ?closing.reason, "connection closed");
    // The departure is recorded and queued to the session before the client
    // can tell the connection is over (before the close frame or its
    // answer): a person who reconnects at once is then seen leaving, then
    // joining, never as a replacement of themselves.
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
    finish(
        &mut sink,
        &mut stream,
        &mut out_rx,
        closing,
        limits.close_grace,
    )
    .await;
}

/// One connection while it reads: who it is in the session, the way out to
/// its client, its limits, and what it has already recorded. Handlers are
/// methods, in the file of their area.
struct Connection<'a> {
    app: App,
    ledger: Ledger,
    member: Member,
    out: Outlet<'a>,
    limits: &'a Limits,
    bucket: TokenBucket,
    last_rate_error: Option<Instant>,
    tally: &'a Mutex<Tally>,
    /// The wordings a consent may be given for in this session.
    consent_texts: Vec<cadre_protocol::consent::ConsentText>,
    /// The session's time zone (dates of a postponement).
    time_zone: chrono_tz::Tz,
    seen: Seen,
}

/// The last states recorded, to record changes only, and when the last
/// `stats` was taken (at most one a second).
#[derive(Debug, Default)]
struct Seen {
    visible: Option<bool>,
    focused: Option<bool>,
    media: Option<(bool, bool)>,
    last_stats: Option<Instant>,
}
