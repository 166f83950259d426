//! How the session's media travels, and the glue to the forwarding core
//! ([`crate::forward::Forwarder`]) when it passes through the server.
//!
//! In `auto` mode a session is peer to peer while at most two people are
//! connected, and moves to forwarding when the third arrives. It stays
//! forwarded until everyone has left (this actor ends): moving back when
//! someone drops for a minute would cost everyone two renegotiations and a
//! flicker, and the people present were already told their media passes
//! through the server. The move is written to the ledger (`media_route`),
//! since it changes who could see the media.
//!
//! Each forwarded member has a queue of requests, worked through in order
//! by one task: join the forwarding, then their offers, answers and
//! candidates, then leave once the queue is dropped. Another member's
//! requests never wait behind them. A person's new tab (or a connection to
//! make again) gets a new queue whose task first waits for the old one to
//! have left.

use super::actor::SessionActor;
use super::commands::Command;
use super::consent::RecState;
use super::now_ms;
use crate::forward::{ForwardError, ForwardEvent, Forwarder, Side};
use crate::live::outbound::{ConnectionControl, Outbound, encode};
use crate::recording::Tap;
use cadre_protocol::ErrorCode;
use cadre_protocol::evidence::{ACTOR_SERVER, kind};
use cadre_protocol::session::{MediaMode, MediaRoute};
use cadre_protocol::signalling::{ForwardSide, Opaque, ServerMessage, VideoQuality};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

/// Requests of one member waiting for the forwarding; beyond this the
/// member is sending faster than it could be answered, and is refused.
const QUEUE: usize = 64;

/// The session's media route and, when forwarded, the forwarding.
#[derive(Default)]
pub(super) struct Forwarding {
    pub(super) route: MediaRoute,
    forwarder: Option<Forwarder>,
    queues: HashMap<String, Queue>,
    /// Members whose media the open recording segment takes from the
    /// forwarding (a tap), with that segment's number.
    tapped: HashMap<String, u64>,
}

/// One member's requests, and the task working through them.
struct Queue {
    tx: mpsc::Sender<Request>,
    task: JoinHandle<()>,
}

/// What a member's queue works through.
enum Request {
    /// The member's offer, answer or candidate, with where the answer goes.
    Signal {
        side: ForwardSide,
        data: Value,
        reply: Arc<ConnectionControl>,
    },
    /// Record the member's tracks into a segment's publication, or stop.
    Tap(Option<Tap>),
    /// What the member's page shows of each camera.
    View(Vec<(String, VideoQuality)>),
}

impl SessionActor {
    /// How this session's media may travel.
    fn media_mode(&self) -> MediaMode {
        self.info.media.unwrap_or(self.registry.settings.media_mode)
    }

    /// Called before someone is welcomed, with how many will be connected
    /// once they are: starts forwarding when that many call for it.
    pub(super) fn route_for(&mut self, connected: usize) -> MediaRoute {
        if self.forwarding.route == MediaRoute::Peer {
            let mode = self.media_mode();
            let forward = match mode {
                MediaMode::Peer => false,
                MediaMode::Forwarded => true,
                MediaMode::Auto => connected >= 3,
            };
            if forward {
                self.start_forwarding(mode, connected);
            }
        }
        self.forwarding.route
    }

    fn start_forwarding(&mut self, mode: MediaMode, connected: usize) {
        let (forwarder, mut events) = Forwarder::with_capacity(
            self.registry.settings.media_ip,
            Arc::clone(&self.registry.settings.forwarding_capacity),
        );
        let me = self.me.clone();
        self.registry.tracker.spawn(async move {
            while let Some(event) = events.recv().await {
                let Some(tx) = me.upgrade() else { break };
                if tx.send(Command::Forwarded(event)).await.is_err() {
                    break;
                }
            }
        });
        // A share that started peer to peer goes on through the server.
        forwarder.set_sharer(self.screen.sharer.clone());
        self.forwarding.forwarder = Some(forwarder);
        self.forwarding.route = MediaRoute::Forwarded;
        let at = now_ms();
        debug!(connected, "the session's media is forwarded from now on");
        self.record(
            self.event(
                kind::MEDIA_ROUTE,
                ACTOR_SERVER.to_owned(),
                serde_json::json!({
                    "route": MediaRoute::Forwarded.as_str(),
                    "mode": mode.as_str(),
                    "connected": connected,
                }),
            ),
            "the move to forwarding",
        );
        // Those already here are told before they learn of the newcomer,
        // so that they connect to the server rather than to them.
        self.broadcast(
            &ServerMessage::MediaRoute {
                route: MediaRoute::Forwarded,
                at,
            },
            None,
        );
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            self.forward_member(&id);
        }
        // A segment open before the move goes on from the forwarding.
        self.sync_taps();
    }

    /// A member (new, or with a new connection) takes part in the
    /// forwarding, after their previous queue, if any, has left it.
    pub(super) fn forward_member(&mut self, id: &str) {
        let Some(forwarder) = self.forwarding.forwarder.clone() else {
            return;
        };
        let Some(control) = self.members.get(id).map(|m| Arc::clone(&m.control)) else {
            return;
        };
        // A new member of the forwarding is tapped anew, if recorded.
        self.forwarding.tapped.remove(id);
        let previous = self.forwarding.queues.remove(id).map(|q| {
            drop(q.tx);
            q.task
        });
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = self.registry.tracker.spawn(work_through(
            forwarder,
            id.to_owned(),
            control,
            previous,
            rx,
        ));
        self.forwarding
            .queues
            .insert(id.to_owned(), Queue { tx, task });
    }

    /// A member left: their queue ends, and its task takes them out of the
    /// forwarding once it has answered what came before.
    pub(super) fn forward_left(&mut self, id: &str) {
        self.forwarding.queues.remove(id);
        self.forwarding.tapped.remove(id);
    }

    /// The forwarding lets through the screen of the session's sharer
    /// only.
    pub(super) fn forward_sharer(&self) {
        if let Some(forwarder) = &self.forwarding.forwarder {
            forwarder.set_sharer(self.screen.sharer.clone());
        }
    }

    /// Whether the session's media is forwarded now (the recorder then taps
    /// it: browsers open no recorder connection).
    pub(super) fn forwarded_now(&self) -> bool {
        self.forwarding.route == MediaRoute::Forwarded
    }

    /// Has the open recording segment take each participant's media from
    /// the forwarding, once per segment (a person's new tab anew). Called
    /// whenever the gate, the segment or the route may have changed; a
    /// segment that closes stops its taps by itself (its writers refuse).
    pub(super) fn sync_taps(&mut self) {
        if self.forwarding.forwarder.is_none() {
            return;
        }
        let RecState::Active {
            segment,
            participants,
            ..
        } = &self.recording.state
        else {
            self.forwarding.tapped.clear();
            return;
        };
        let number = segment.id();
        let due: Vec<String> = participants
            .iter()
            .filter(|id| self.forwarding.queues.contains_key(*id))
            .filter(|id| self.forwarding.tapped.get(*id) != Some(&number))
            .cloned()
            .collect();
        for id in due {
            let tap = match segment.tap(&id) {
                Ok(tap) => tap,
                Err(e) => {
                    warn!(member = %id, "could not record from the forwarding: {e}");
                    continue;
                }
            };
            self.forwarding.tapped.insert(id.clone(), number);
            if let Some(queue) = self.forwarding.queues.get(&id) {
                // Queued behind the member's join; waits rather than be lost.
                let tx = queue.tx.clone();
                self.registry.tracker.spawn(async move {
                    let _ = tx.send(Request::Tap(Some(tap))).await;
                });
            }
        }
    }

    /// The actor ends: every connection of the forwarding closes.
    pub(super) fn stop_forwarding(&mut self) {
        self.forwarding.queues.clear();
        if let Some(forwarder) = self.forwarding.forwarder.take() {
            self.registry
                .tracker
                .spawn(async move { forwarder.close().await });
        }
    }

    /// A member's offer, answer or candidate, checked here and queued.
    pub(super) fn forward_signal(
        &mut self,
        id: &str,
        connection_id: &str,
        side: ForwardSide,
        data: Opaque,
    ) {
        if !self.is_current(id, connection_id) {
            return;
        }
        let refuse = |code: ErrorCode, message: &str| {
            Outbound::Text(encode(&ServerMessage::error_about(
                code, message, "forward",
            )))
        };
        if self.forwarding.route != MediaRoute::Forwarded {
            let msg = refuse(
                ErrorCode::NotOpen,
                "the session's media is peer to peer: connect to each person, not to the server",
            );
            self.send(id, msg);
            return;
        }
        let Ok(data) = serde_json::from_str::<Value>(data.get()) else {
            return;
        };
        let Some(control) = self.members.get(id).map(|m| Arc::clone(&m.control)) else {
            return;
        };
        let Some(queue) = self.forwarding.queues.get(id) else {
            return;
        };
        let request = Request::Signal {
            side,
            data,
            reply: control,
        };
        if queue.tx.try_send(request).is_err() {
            let msg = refuse(
                ErrorCode::RateLimited,
                "too many forwarding requests waiting; this one was dropped",
            );
            self.send(id, msg);
        }
    }

    /// What a member's page shows of each camera: queued behind their
    /// requests. Ignored while peer to peer (nothing to choose).
    pub(super) fn forward_view(
        &mut self,
        id: &str,
        connection_id: &str,
        views: Vec<(String, VideoQuality)>,
    ) {
        if !self.is_current(id, connection_id) || self.forwarding.route != MediaRoute::Forwarded {
            return;
        }
        if let Some(queue) = self.forwarding.queues.get(id)
            && queue.tx.try_send(Request::View(views)).is_err()
        {
            let msg = ServerMessage::error_about(
                ErrorCode::RateLimited,
                "too many forwarding requests waiting; this one was dropped",
                "forward_view",
            );
            self.send(id, Outbound::Text(encode(&msg)));
        }
    }

    /// What the forwarding asks to be carried.
    pub(super) fn forwarded(&mut self, event: ForwardEvent) {
        match event {
            ForwardEvent::Offer {
                member,
                description,
            } => {
                if self.forwarding.queues.contains_key(&member) {
                    let msg = ServerMessage::Forward {
                        side: ForwardSide::Subscribe,
                        data: Opaque::from_value(&description),
                    };
                    self.send(&member, Outbound::Text(encode(&msg)));
                }
            }
            ForwardEvent::Conditions {
                member,
                uplink_loss,
                downlink_loss,
                rtt_ms,
                jitter_ms,
            } => {
                if self.forwarding.queues.contains_key(&member) {
                    let view = crate::live::quality::ServerView {
                        uplink_loss,
                        downlink_loss,
                        rtt_ms,
                        jitter_ms,
                    };
                    self.server_quality(&member, view);
                }
            }
            ForwardEvent::Refused { member } => {
                if self.forwarding.queues.contains_key(&member) {
                    let msg = ServerMessage::ForwardRefused { id: member.clone() };
                    self.broadcast(&msg, Some(&member));
                }
            }
            ForwardEvent::ConnectionFailed { member, side } => {
                if !self.forwarding.queues.contains_key(&member) {
                    return;
                }
                self.server_link_failed(&member, side == Side::Publish);
                let side = match side {
                    Side::Publish => ForwardSide::Publish,
                    Side::Subscribe => {
                        // A subscribe connection is the server's to offer:
                        // the member starts over, and publishes again.
                        self.forward_member(&member);
                        ForwardSide::Subscribe
                    }
                };
                let msg = ServerMessage::ForwardFailed { side };
                self.send(&member, Outbound::Text(encode(&msg)));
            }
        }
    }
}

/// One member's requests, in order: join, each request, leave.
async fn work_through(
    forwarder: Forwarder,
    id: String,
    control: Arc<ConnectionControl>,
    previous: Option<JoinHandle<()>>,
    mut rx: mpsc::Receiver<Request>,
) {
    if let Some(previous) = previous {
        let _ = previous.await;
    }
    if let Err(e) = forwarder.join(&id).await {
        warn!(member = %id, "could not join the forwarding: {e}");
        reply(&control, &e);
        return;
    }
    while let Some(request) = rx.recv().await {
        let (side, data, reply_to) = match request {
            Request::Signal { side, data, reply } => (side, data, reply),
            Request::Tap(tap) => {
                if let Err(e) = forwarder.tap(&id, tap) {
                    warn!(member = %id, "could not record from the forwarding: {e}");
                }
                continue;
            }
            Request::View(views) => {
                if let Err(e) = forwarder.view(&id, &views).await {
                    debug!(member = %id, "view not taken: {e}");
                }
                continue;
            }
        };
        let data = &data;
        let is_candidate = data.get("candidate").is_some() || data.get("sdp").is_none();
        let which = match side {
            ForwardSide::Publish => Side::Publish,
            ForwardSide::Subscribe => Side::Subscribe,
        };
        let result = match (side, is_candidate) {
            (_, true) => forwarder.add_candidate(&id, which, data).await,
            (ForwardSide::Publish, false) => match forwarder.publish(&id, data).await {
                Ok(answer) => {
                    let msg = ServerMessage::Forward {
                        side: ForwardSide::Publish,
                        data: Opaque::from_value(&answer),
                    };
                    // A full queue: the actor closes that connection as too
                    // slow on its next message.
                    let _ = reply_to.try_send(Outbound::Text(encode(&msg)));
                    Ok(())
                }
                Err(e) => Err(e),
            },
            (ForwardSide::Subscribe, false) => forwarder.answer(&id, data).await,
        };
        if let Err(e) = result {
            debug!(member = %id, "forwarding request refused: {e}");
            reply(&reply_to, &e);
        }
    }
    forwarder.leave(&id).await;
}

fn reply(control: &ConnectionControl, e: &ForwardError) {
    let code = match e {
        ForwardError::WebRtc(_) => ErrorCode::Internal,
        ForwardError::NoOffer | ForwardError::AlreadyMember(_) => ErrorCode::Conflict,
        ForwardError::UnknownMember(_) => ErrorCode::NotOpen,
        ForwardError::BadDescription(_) | ForwardError::BadCandidate(_) => ErrorCode::InvalidInput,
        ForwardError::AtCapacity => ErrorCode::AtCapacity,
    };
    let msg = ServerMessage::error_about(code, e.to_string(), "forward");
    let _ = control.try_send(Outbound::Text(encode(&msg)));
}
