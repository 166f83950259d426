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
use crate::live::outbound::{Closing, ConnectionControl, Outbound, encode};
use crate::live::session::now_ms;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use cadre_protocol::ErrorCode;
use cadre_protocol::evidence::kind;
use cadre_protocol::signalling::{LeaveReason, ServerMessage};
use evidence::heartbeat_event;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use member::Member;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};
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
///
/// Not an `async fn`: the socket is split (moved to the heap) and the
/// connection's future boxed before anything is awaited, so that the
/// task an idle connection keeps alive holds no copy of the socket or of
/// the admission at each level of nesting (memory per held connection).
/// `request_id` is the upgrade's: the connection's log lines carry it.
pub fn run(
    socket: WebSocket,
    who: Box<Admitted>,
    app: App,
    request_id: String,
) -> impl Future<Output = ()> {
    let (sink, stream) = socket.split();
    let run = async move {
        let connection_id = format!("c_{}", crate::directory::keys::name_id(9));
        let span = info_span!(
            "connection",
            request_id = %request_id,
            sid = %who.session.id,
            pid = %who.id,
            cid = %connection_id
        );
        // The opening and the live connection are boxed one after the
        // other: the opening's state is freed when it ends, and the task
        // an idle connection keeps holds `live`'s state and little else
        // (awaited inline, each level kept room for what it had moved on:
        // a 4.7 KB future per connection where `live` needs 2.2 KB).
        let connection = {
            let opening = open(sink, stream, who, app, connection_id).instrument(span.clone());
            let Some(opened) = Box::pin(opening).await else {
                return;
            };
            Box::pin(live(opened).instrument(span))
        };
        connection.await;
    };
    Box::pin(run)
}

/// Who a connection is, for as long as it lives. The admission's other
/// parts (the session's description, the person's name, the address and
/// user agent, about fifteen allocations) go into the opening entry and the
/// welcome, then are freed instead of staying with every held connection.
struct Who {
    sid: String,
    id: String,
    role: cadre_protocol::Role,
    /// The session's sponsor, which decides the consent wordings.
    sponsor: Option<String>,
    /// The session's time zone (dates of a postponement).
    time_zone: chrono_tz::Tz,
}

/// What the connection has to say in the ledger when it ends.
#[derive(Debug, Default)]
struct Tally {
    /// Heartbeats since the last summary: (first, last, count).
    heartbeats: Option<(i64, i64, u64)>,
    /// The close is already recorded (on `leave`, before the receipt).
    close_recorded: bool,
}

/// Records the opening, then has the session take the connection; `None`
/// when the connection must end there (nothing recorded, or the server is
/// stopping).
async fn open(
    mut sink: SplitSink<WebSocket, Message>,
    mut stream: SplitStream<WebSocket>,
    who: Box<Admitted>,
    app: App,
    connection_id: String,
) -> Option<Opened> {
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
                "via": who.via,
                "user_agent": user_agent,
            }),
            client_ts: None,
        })
        .await;
    let opened = match opened {
        Ok(a) => a,
        Err(e) => {
            let (msg, code, said, reason) = match e {
                // Another node writes the session (the routing proxy sent
                // this join here while the session moves): the client
                // retries as after a server's stop.
                crate::evidence::ledger::LedgerError::Elsewhere(_) => {
                    info!("the session is held by another node; refusing the join for now");
                    (
                        ServerMessage::error(
                            ErrorCode::Conflict,
                            "this session is held by another server right now; reconnecting \
                             in a moment",
                        ),
                        cadre_protocol::close_code::SHUTDOWN,
                        "session held by another server",
                        LeaveReason::Shutdown,
                    )
                }
                e => {
                    warn!("cannot record the connection; refusing it: {e}");
                    (
                        ServerMessage::error(
                            ErrorCode::Internal,
                            "attendance cannot be recorded right now; please try again in a \
                             moment",
                        ),
                        1011,
                        "evidence store unavailable",
                        LeaveReason::Disconnected,
                    )
                }
            };
            let _ = sink.send(Message::Text(encode(&msg))).await;
            let _ = sink
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from_static(said),
                })))
                .await;
            let refused = Closing { reason, code: None };
            finish(&mut sink, &mut stream, None, refused, limits.close_grace).await;
            return None;
        }
    };
    let control =
        Arc::new(ConnectionControl::new(limits.outbound_queue).counted(Arc::clone(app.metrics())));
    control.touch(now_ms());
    let joining = crate::live::session::Joining {
        id: who.id.clone(),
        name: who.name.clone(),
        role: who.role,
        connection_id: connection_id.clone(),
        control: Arc::clone(&control),
    };
    let tally = Mutex::new(Tally::default());
    let Ok(session) = registry.join(&who.session, &who.schedule, joining).await else {
        // The server is stopping: the close is recorded, then said.
        record_close(
            &ledger,
            (&who.session.id, &who.id),
            &connection_id,
            &control,
            &tally,
            LeaveReason::Shutdown,
        )
        .await;
        let stopping = Closing::for_reason(LeaveReason::Shutdown);
        finish(
            &mut sink,
            &mut stream,
            Some(&control),
            stopping,
            limits.close_grace,
        )
        .await;
        return None;
    };
    info!("joined");
    let _ = control.try_send(Outbound::Text(encode(&ServerMessage::EvidenceRecorded {
        entry: opened.text,
    })));
    let who = Who {
        time_zone: who
            .session
            .time_zone
            .parse()
            .unwrap_or(chrono_tz::Europe::Paris),
        sid: who.session.id,
        id: who.id,
        role: who.role,
        sponsor: who.sponsor,
    };
    Some(Opened {
        sink,
        stream,
        who,
        app,
        connection_id,
        session,
        control,
        tally,
        ledger,
        limits,
        shutdown,
    })
}

/// A connection whose opening is recorded and that the session took.
struct Opened {
    sink: SplitSink<WebSocket, Message>,
    stream: SplitStream<WebSocket>,
    who: Who,
    app: App,
    connection_id: String,
    session: crate::live::session::SessionHandle,
    control: Arc<ConnectionControl>,
    tally: Mutex<Tally>,
    ledger: Ledger,
    limits: Limits,
    shutdown: CancellationToken,
}

/// Reads and writes until the connection ends, then records the end, tells
/// the session, and completes the closing handshake.
async fn live(mut o: Opened) {
    // Fields are used in place: destructuring would keep a second copy of
    // them in this future for the connection's whole life.
    let turn = o.app.turn_credentials().map(|turn| {
        (
            o.app.registry().settings().ice_servers.clone(),
            Arc::clone(turn),
        )
    });
    let closing = {
        let mut renewing = std::pin::pin!(renew_ice_servers(turn, &o.who.id, &o.control));
        // Each future is pinned where it is built: a named value moved
        // into a pin would leave a second, dead copy in this connection's
        // state for its whole life (as would a `Connection` local).
        let mut reading = std::pin::pin!(
            Connection {
                app: o.app,
                ledger: o.ledger.clone(),
                member: Member {
                    session: o.session.clone(),
                    sid: o.who.sid.clone(),
                    id: o.who.id.clone(),
                    role: o.who.role,
                    connection_id: o.connection_id.clone(),
                },
                out: Outlet {
                    control: &o.control,
                    about: None,
                },
                limits: &o.limits,
                bucket: TokenBucket::new(o.limits.rate_per_second, o.limits.rate_burst),
                last_rate_error: None,
                tally: &o.tally,
                sponsor: o.who.sponsor.clone(),
                time_zone: o.who.time_zone,
                seen: Seen::default(),
            }
            .read_loop(&mut o.stream)
        );
        let mut writing = std::pin::pin!(write_loop(
            &mut o.sink,
            &o.control,
            &o.shutdown,
            o.limits.heartbeat_interval,
        ));
        tokio::select! {
            closing = &mut writing => closing,
            () = &mut reading => (&mut writing).await,
            () = &mut renewing => (&mut writing).await,
        }
    };
    info!(reason = ?closing.reason, "connection closed");
    // The departure is recorded and queued to the session before the client
    // can tell the connection is over (before the close frame or its
    // answer): a person who reconnects at once is then seen leaving, then
    // joining, never as a replacement of themselves.
    let departure = depart(
        Departing {
            ledger: &o.ledger,
            who: o.who,
            connection_id: o.connection_id,
            control: &o.control,
            tally: &o.tally,
            session: &o.session,
            sink: &mut o.sink,
            stream: &mut o.stream,
        },
        closing,
        o.limits.close_grace,
    );
    departure.await;
    o.control.end_queue();
}

/// Sends the person fresh TURN credentials some minutes before the last
/// ones expire, for as long as the connection lives (never ends; pending
/// without TURN). The configured ICE servers come first, as in the welcome.
async fn renew_ice_servers(
    turn: Option<(
        Vec<cadre_protocol::signalling::IceServer>,
        Arc<crate::turn::TurnCredentials>,
    )>,
    id: &str,
    control: &ConnectionControl,
) {
    let Some((configured, turn)) = turn else {
        return std::future::pending().await;
    };
    let out = Outlet {
        control,
        about: None,
    };
    loop {
        tokio::time::sleep(turn.renew_after()).await;
        let now = crate::live::session::unix_now();
        let mut ice_servers = configured.clone();
        ice_servers.push(turn.mint(id, now));
        let expires_at = (now + turn.validity().as_secs()) as i64 * 1000;
        debug!("TURN credentials renewed");
        out.send(&ServerMessage::IceServers {
            ice_servers,
            expires_at,
        });
    }
}

/// What a connection's end works with.
struct Departing<'a> {
    ledger: &'a Ledger,
    who: Who,
    connection_id: String,
    control: &'a ConnectionControl,
    tally: &'a Mutex<Tally>,
    session: &'a crate::live::session::SessionHandle,
    sink: &'a mut SplitSink<WebSocket, Message>,
    stream: &'a mut SplitStream<WebSocket>,
}

/// The connection's end, boxed by a plain function: awaited inline in
/// `live`, these steps kept their space in the connection's state for its
/// whole life (about 1 KiB per held connection, measured).
fn depart(
    d: Departing<'_>,
    closing: Closing,
    grace: std::time::Duration,
) -> Pin<Box<impl Future<Output = ()> + Send + '_>> {
    Box::pin(async move {
        record_close(
            d.ledger,
            (&d.who.sid, &d.who.id),
            &d.connection_id,
            d.control,
            d.tally,
            closing.reason,
        )
        .await;
        d.session
            .leave(d.who.id, d.connection_id, closing.reason)
            .await;
        finish(d.sink, d.stream, Some(d.control), closing, grace).await;
    })
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
    /// The session's sponsor, which decides the consent wordings.
    sponsor: Option<String>,
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
