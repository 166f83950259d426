//! The roster: who is in the session, with which connection. Joins (the
//! newest tab of a person wins), leaves, removals, relays between members,
//! media state, and sending to members without ever waiting on one.

use super::Joining;
use super::actor::SessionActor;
use super::consent::RecState;
use super::now_ms;
use crate::live::outbound::{ConnectionControl, Outbound, QueueError, encode};
use axum::extract::ws::Utf8Bytes;
use cadre_protocol::api::Consents;
use cadre_protocol::signalling::{ControlAction, LeaveReason, Me, Opaque, Peer, ServerMessage};
use cadre_protocol::{ErrorCode, PROTOCOL_VERSION, Role};
use std::sync::Arc;
use tokio::sync::oneshot;

/// One person connected now, as the actor tells staff's live view.
#[derive(Debug, Clone)]
pub struct Connected {
    /// Participant id.
    pub id: String,
    /// When their current connection was welcomed (server ms).
    pub since: i64,
    /// Camera on.
    pub camera: bool,
    /// Microphone on.
    pub microphone: bool,
}

/// One person's current connection.
pub(super) struct Member {
    pub(super) name: String,
    pub(super) role: Role,
    pub(super) connection_id: String,
    /// Its queue and its close request.
    pub(super) control: Arc<ConnectionControl>,
    pub(super) camera: bool,
    pub(super) microphone: bool,
    /// When this connection was welcomed (server ms): staff's live view
    /// says since when a person is here.
    pub(super) joined_at: i64,
}

impl SessionActor {
    /// Welcomes a person (their newest tab replaces an older one) and
    /// tells the others; the reply says the actor took them.
    pub(super) fn join(&mut self, j: Joining, reply: oneshot::Sender<Result<(), Box<Joining>>>) {
        self.enter(j);
        let _ = reply.send(Ok(()));
        // The first join in the planned window (a postponed session's new
        // one among them) starts the session for everyone connected.
        self.start_if_due(now_ms());
    }

    fn enter(&mut self, j: Joining) {
        if self.members.contains_key(&j.id) {
            // The newest tab wins: the person meant to be here now.
            self.remove(&j.id, LeaveReason::Replaced);
        }
        let decision = self.decisions.entry(j.id.clone()).or_default();
        let consents = Consents {
            recording: decision.shown(),
            sponsor_share: self.sponsor_share.get(&j.id).copied(),
        };
        let records = decision.grants();
        // Those already here learn of a move to forwarding before they
        // learn of the newcomer.
        let media = self.route_for(self.members.len() + 1);
        let roster: Vec<Peer> = self
            .members
            .iter()
            .map(|(id, m)| peer_view(id, m, &j.id))
            .collect();
        let welcome = ServerMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            connection_id: j.connection_id.clone(),
            you: Me {
                id: j.id.clone(),
                name: j.name.clone(),
                role: j.role,
            },
            session: self.info.clone(),
            roster,
            ice_servers: self.registry.settings.ice_servers_for(&j.id),
            ice_policy: self.registry.settings.ice_policy,
            heartbeat_interval_ms: self.registry.settings.heartbeat_interval.as_millis() as u64,
            server_time: chrono::Utc::now().timestamp_millis(),
            slots: self.signins.statuses(&j.id, now_ms()),
            consents,
            recording: self.recording_view(j.role, Some(records)),
            // A resumption is news for an hour; the state itself says the
            // rest.
            notice: self
                .notice
                .clone()
                .filter(|n| n.action != ControlAction::Resume || now_ms() - n.at < 3_600_000),
            people: if j.role == Role::Facilitator {
                self.roll.clone()
            } else {
                Vec::new()
            },
            media,
            chat: self.classroom.chat_for(&j.id),
            hands: self.classroom.hands(),
            spotlight: self.classroom.spotlight.clone(),
            poll: self.classroom.poll_for(&j.id, j.role),
            screen: self.screen.clone(),
            quiz: self.quiz_for(&j.id, j.role),
        };
        // A fresh queue cannot be full; if it is closed the connection is
        // already gone and its leave will follow.
        if j.control
            .try_send(Outbound::Text(encode(&welcome)))
            .is_err()
        {
            return;
        }
        let member = Member {
            name: j.name,
            role: j.role,
            connection_id: j.connection_id,
            control: j.control,
            camera: false,
            microphone: false,
            joined_at: now_ms(),
        };
        let id = j.id;
        // Signals may reach the newcomer from now on: after their welcome,
        // before anyone can know of them (see `routes.rs`).
        self.routes
            .insert(&id, &member.connection_id, &member.control);
        let others: Vec<String> = self.members.keys().cloned().collect();
        // The news differs only by who is polite: at most two texts, not
        // one per member.
        let mut texts: [Option<Utf8Bytes>; 2] = [None, None];
        for other in others {
            let text = texts[usize::from(polite(&other, &id))]
                .get_or_insert_with(|| {
                    let peer = peer_view(&id, &member, &other);
                    encode(&ServerMessage::PeerJoined { peer })
                })
                .clone();
            self.send(&other, Outbound::Text(text));
        }
        let facilitator = member.role == Role::Facilitator;
        let role = member.role;
        self.members.insert(id.clone(), member);
        self.forward_member(&id);
        // A newcomer without consent closes the gate before they can see
        // or hear anything recorded; one with consent joins the segment.
        if let RecState::Active { participants, .. } = &mut self.recording.state
            && records
        {
            participants.insert(id.clone());
        }
        self.update_gate("participant_without_consent");
        self.quality_join(&id, role);
        if facilitator {
            self.send_signin_summaries(&id);
        }
    }

    pub(super) fn relay(&mut self, from: String, connection_id: String, to: String, data: Opaque) {
        let Some(sender) = self.members.get(&from) else {
            return;
        };
        if sender.connection_id != connection_id {
            // A replaced connection's last words: not this person any more.
            return;
        }
        if to == from || !self.members.contains_key(&to) {
            let err = ServerMessage::error_about(
                ErrorCode::UnknownPeer,
                format!("{to:?} is not connected to this session"),
                "signal",
            );
            self.send(&from, Outbound::Text(encode(&err)));
            return;
        }
        let msg = ServerMessage::Signal { from, data };
        self.send(&to, Outbound::Text(encode(&msg)));
        self.registry.settings.metrics.relayed();
    }

    /// A connection ended: ignored if it was already replaced or removed.
    pub(super) fn leave(&mut self, id: &str, connection_id: &str, reason: LeaveReason) {
        if self.is_current(id, connection_id) {
            self.routes.remove(id);
            self.members.remove(id);
            self.forward_left(id);
            self.departed(id, reason);
        }
    }

    /// A link was revoked: the person's connection, if any, is closed.
    pub(super) fn revoke(&mut self, id: &str, reply: oneshot::Sender<bool>) {
        let was_here = self.members.contains_key(id);
        if was_here {
            self.remove(id, LeaveReason::Revoked);
        }
        let _ = reply.send(was_here);
    }

    /// A person added to the session after this actor read its people:
    /// known by name from now on, and on the roll facilitators get when
    /// they join.
    pub(super) fn enrolled(&mut self, me: Me) {
        if let Some(before) = self.people.get(&me.id).cloned() {
            // Their name was corrected: whoever joins from now on, and the
            // facilitator's roll, have the new one.
            if before != me.name {
                self.renamed(&me, &before);
            }
            return;
        }
        if me.role == Role::Facilitator {
            self.info.facilitators.push(me.name.clone());
        }
        self.people.insert(me.id.clone(), me.name.clone());
        self.roll.push(me);
    }

    fn renamed(&mut self, me: &Me, before: &str) {
        if me.role == Role::Facilitator
            && let Some(f) = self.info.facilitators.iter_mut().find(|f| *f == before)
        {
            f.clone_from(&me.name);
        }
        self.people.insert(me.id.clone(), me.name.clone());
        if let Some(r) = self.roll.iter_mut().find(|r| r.id == me.id) {
            r.name.clone_from(&me.name);
        }
        if let Some(m) = self.members.get_mut(&me.id) {
            m.name.clone_from(&me.name);
        }
    }

    /// A session's title corrected while it is live: whoever joins from
    /// now on reads the new one.
    pub(super) fn retitled(&mut self, title: String) {
        self.info.title = title;
    }

    /// Who is connected now, for staff's live view.
    pub(super) fn connected(&self, reply: oneshot::Sender<Vec<Connected>>) {
        let mut now: Vec<Connected> = self
            .members
            .iter()
            .map(|(id, m)| Connected {
                id: id.clone(),
                since: m.joined_at,
                camera: m.camera,
                microphone: m.microphone,
            })
            .collect();
        now.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.id.cmp(&b.id)));
        let _ = reply.send(now);
    }

    /// A member's camera and microphone, for the others and the quality.
    pub(super) fn media(&mut self, id: &str, connection_id: &str, camera: bool, microphone: bool) {
        let Some(m) = self.members.get_mut(id) else {
            return;
        };
        if m.connection_id != connection_id {
            return;
        }
        m.camera = camera;
        m.microphone = microphone;
        self.quality_camera(id, camera);
        self.broadcast(
            &ServerMessage::PeerMedia {
                id: id.to_owned(),
                camera,
                microphone,
            },
            Some(id),
        );
    }

    /// Queues a message for one member; a full queue removes the member.
    pub(super) fn send(&mut self, id: &str, msg: Outbound) {
        let Some(m) = self.members.get(id) else {
            return;
        };
        match m.control.try_send(msg) {
            Ok(()) => {}
            Err(QueueError::Full) => {
                self.remove(id, LeaveReason::SlowConsumer);
            }
            Err(QueueError::Ended) => {
                // The connection task has ended; its leave is on the way.
            }
        }
    }

    pub(super) fn broadcast(&mut self, msg: &ServerMessage, except: Option<&str>) {
        let text = encode(msg);
        let ids: Vec<String> = self
            .members
            .keys()
            .filter(|id| Some(id.as_str()) != except)
            .cloned()
            .collect();
        for id in ids {
            self.send(&id, Outbound::Text(text.clone()));
        }
    }

    /// Takes a member out, closes its connection with `reason`, and tells
    /// the others.
    pub(super) fn remove(&mut self, id: &str, reason: LeaveReason) {
        if let Some(m) = self.members.remove(id) {
            self.routes.remove(id);
            m.control.close(reason);
            if reason != LeaveReason::Replaced {
                self.forward_left(id);
            }
            if reason == LeaveReason::Replaced {
                // The old tab's recorder connection goes; the new tab
                // publishes afresh.
                self.unpublish(id);
                // Nor has the new tab the old one's capture: a share ends
                // with its tab.
                self.screen_left(id);
                // The same person is joining again at once: the others learn
                // it from the new `peer_joined` (same id, new connection).
                return;
            }
            self.departed(id, reason);
        }
    }

    /// Someone is gone: the others are told, and the gate and the quality
    /// follow.
    fn departed(&mut self, id: &str, reason: LeaveReason) {
        self.broadcast(
            &ServerMessage::PeerLeft {
                id: id.to_owned(),
                reason,
            },
            None,
        );
        self.classroom_left(id);
        self.screen_left(id);
        self.left_recording(id, reason);
    }

    pub(super) fn is_facilitator(&self, id: &str) -> bool {
        self.members
            .get(id)
            .is_some_and(|m| m.role == Role::Facilitator)
    }

    pub(super) fn facilitator_ids(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, m)| m.role == Role::Facilitator)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether `connection_id` is `id`'s current connection.
    pub(super) fn is_current(&self, id: &str, connection_id: &str) -> bool {
        self.members
            .get(id)
            .is_some_and(|m| m.connection_id == connection_id)
    }
}

fn peer_view(id: &str, m: &Member, viewer: &str) -> Peer {
    Peer {
        id: id.to_owned(),
        name: m.name.clone(),
        role: m.role,
        connection_id: m.connection_id.clone(),
        polite: polite(viewer, id),
        camera: m.camera,
        microphone: m.microphone,
    }
}

/// Whether `viewer` is the polite side towards `id`: both sides compare
/// the same two ids, so exactly one is.
fn polite(viewer: &str, id: &str) -> bool {
    viewer < id
}
