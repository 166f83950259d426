//! Live sessions: one actor task per session owns its roster, and
//! connections talk to it through a bounded channel.
//!
//! The actor is the only place that decides who is in the session, so relays
//! can only reach members of the same session, and a second connection of the
//! same person replaces the first in one step. It never waits on a
//! connection: messages go into each connection's bounded queue with
//! `try_send`, and a connection whose queue is full is closed as too slow
//! rather than allowed to hold the others back or grow memory.
//!
//! An actor ends when its last member leaves; the [`Registry`] spawns a new one
//! on the next join. A join that races with an actor ending sees its reply
//! channel dropped and retries against a fresh actor.

use crate::connection::{ConnectionControl, Outbound};
use axum::extract::ws::Utf8Bytes;
use cadre_protocol::signalling::{
    IcePolicy, IceServer, LeaveReason, Me, Opaque, Peer, ServerMessage, SessionInfo,
};
use cadre_protocol::{ErrorCode, PROTOCOL_VERSION, Role, SessionState};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info_span};

/// Commands queued towards one session actor before senders wait.
const SESSION_INBOX: usize = 1024;

/// Settings every session shares.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// ICE servers for the welcome.
    pub ice_servers: Vec<IceServer>,
    /// Candidate policy for the welcome.
    pub ice_policy: IcePolicy,
    /// Heartbeat period announced in the welcome.
    pub heartbeat_interval: Duration,
}

/// A person joining with one connection.
pub struct Joining {
    /// Participant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// This connection's id.
    pub connection_id: String,
    /// The connection's outbound queue.
    pub outbound: mpsc::Sender<Outbound>,
    /// How the actor closes the connection.
    pub control: Arc<ConnectionControl>,
}

enum Command {
    /// Answered with the joining back when the actor is ending, to retry.
    Join(Box<Joining>, oneshot::Sender<Result<(), Box<Joining>>>),
    Leave {
        id: String,
        connection_id: String,
        reason: LeaveReason,
    },
    Relay {
        from: String,
        connection_id: String,
        to: String,
        data: Opaque,
    },
    Media {
        id: String,
        connection_id: String,
        camera: bool,
        microphone: bool,
    },
    Revoke {
        id: String,
        reply: oneshot::Sender<bool>,
    },
}

/// Handle to one live session's actor.
#[derive(Clone)]
pub struct SessionHandle {
    tx: mpsc::Sender<Command>,
    generation: u64,
}

impl SessionHandle {
    /// Tells the actor that a connection ended (ignored if it was already
    /// replaced or removed).
    pub async fn leave(&self, id: String, connection_id: String, reason: LeaveReason) {
        let _ = self
            .tx
            .send(Command::Leave {
                id,
                connection_id,
                reason,
            })
            .await;
    }

    /// Asks the actor to relay `data` from a member to another.
    pub async fn relay(&self, from: String, connection_id: String, to: String, data: Opaque) {
        let _ = self
            .tx
            .send(Command::Relay {
                from,
                connection_id,
                to,
                data,
            })
            .await;
    }

    /// Reports a member's camera and microphone state.
    pub async fn media(&self, id: String, connection_id: String, camera: bool, microphone: bool) {
        let _ = self
            .tx
            .send(Command::Media {
                id,
                connection_id,
                camera,
                microphone,
            })
            .await;
    }
}

/// All live sessions of this process.
pub struct Registry {
    sessions: Mutex<HashMap<String, SessionHandle>>,
    settings: SessionSettings,
    tracker: TaskTracker,
    generation: AtomicU64,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

/// The join could not complete (the server is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the session is not accepting connections")]
pub struct JoinError;

impl Registry {
    /// An empty registry whose actors are tracked by `tracker`.
    pub fn new(settings: SessionSettings, tracker: TaskTracker) -> Arc<Registry> {
        Arc::new(Registry {
            sessions: Mutex::new(HashMap::new()),
            settings,
            tracker,
            generation: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionHandle>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live actor of a session, if any.
    pub fn get(&self, sid: &str) -> Option<SessionHandle> {
        self.lock().get(sid).cloned()
    }

    /// Number of live sessions.
    pub fn live_sessions(&self) -> usize {
        self.lock().len()
    }

    /// Adds a connection to its session, spawning the actor if needed. The
    /// welcome is the first message in the connection's queue when this
    /// returns.
    pub async fn join(
        self: &Arc<Self>,
        info: &SessionInfo,
        joining: Joining,
    ) -> Result<SessionHandle, JoinError> {
        let mut joining = Box::new(joining);
        // Two attempts cover the race with an actor that is ending; a third
        // failure means the runtime is shutting down.
        for _ in 0..3 {
            let handle = self.get_or_spawn(info);
            let (reply_tx, reply_rx) = oneshot::channel();
            match handle.tx.send(Command::Join(joining, reply_tx)).await {
                Ok(()) => {}
                Err(mpsc::error::SendError(Command::Join(j, _))) => {
                    self.forget(&info.id, handle.generation);
                    joining = j;
                    continue;
                }
                Err(_) => return Err(JoinError),
            }
            match reply_rx.await {
                Ok(Ok(())) => return Ok(handle),
                Ok(Err(j)) => {
                    // The actor was ending as we arrived; it handed us back.
                    self.forget(&info.id, handle.generation);
                    joining = j;
                }
                Err(_) => return Err(JoinError),
            }
        }
        Err(JoinError)
    }

    /// Closes a person's live connection because their link was revoked.
    pub async fn revoke(&self, sid: &str, id: &str) -> bool {
        let Some(handle) = self.get(sid) else {
            return false;
        };
        let (reply, rx) = oneshot::channel();
        if handle
            .tx
            .send(Command::Revoke {
                id: id.to_owned(),
                reply,
            })
            .await
            .is_err()
        {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    fn get_or_spawn(self: &Arc<Self>, info: &SessionInfo) -> SessionHandle {
        let mut sessions = self.lock();
        if let Some(h) = sessions.get(&info.id) {
            return h.clone();
        }
        let (tx, rx) = mpsc::channel(SESSION_INBOX);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let handle = SessionHandle { tx, generation };
        sessions.insert(info.id.clone(), handle.clone());
        let actor = SessionActor {
            info: info.clone(),
            members: HashMap::new(),
            registry: Arc::clone(self),
            generation,
        };
        let span = info_span!("session", sid = %info.id);
        self.tracker.spawn(actor.run(rx).instrument(span));
        handle
    }

    fn forget(&self, sid: &str, generation: u64) {
        let mut sessions = self.lock();
        if sessions
            .get(sid)
            .is_some_and(|h| h.generation == generation)
        {
            sessions.remove(sid);
        }
    }
}

struct Member {
    name: String,
    role: Role,
    connection_id: String,
    outbound: mpsc::Sender<Outbound>,
    control: Arc<ConnectionControl>,
    camera: bool,
    microphone: bool,
}

struct SessionActor {
    info: SessionInfo,
    members: HashMap<String, Member>,
    registry: Arc<Registry>,
    generation: u64,
}

impl SessionActor {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        debug!("session actor started");
        while let Some(cmd) = rx.recv().await {
            self.handle(cmd);
            if self.members.is_empty() {
                // Ending is decided under the registry lock: no join can be
                // handed this actor's sender after the entry is gone, and one
                // that got it before finds its reply dropped and retries.
                let mut sessions = self.registry.lock();
                if rx.is_empty() {
                    if sessions
                        .get(&self.info.id)
                        .is_some_and(|h| h.generation == self.generation)
                    {
                        sessions.remove(&self.info.id);
                    }
                    rx.close();
                    drop(sessions);
                    // A join sent between the check and the close is handed
                    // back so that it retries against a fresh actor.
                    while let Ok(cmd) = rx.try_recv() {
                        if let Command::Join(joining, reply) = cmd {
                            let _ = reply.send(Err(joining));
                        }
                    }
                    break;
                }
            }
        }
        debug!("session actor ended");
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Join(joining, reply) => {
                self.join(*joining);
                let _ = reply.send(Ok(()));
            }
            Command::Leave {
                id,
                connection_id,
                reason,
            } => {
                if self
                    .members
                    .get(&id)
                    .is_some_and(|m| m.connection_id == connection_id)
                {
                    self.members.remove(&id);
                    self.broadcast(&ServerMessage::PeerLeft { id, reason }, None);
                }
            }
            Command::Relay {
                from,
                connection_id,
                to,
                data,
            } => self.relay(from, connection_id, to, data),
            Command::Media {
                id,
                connection_id,
                camera,
                microphone,
            } => {
                let Some(m) = self.members.get_mut(&id) else {
                    return;
                };
                if m.connection_id != connection_id {
                    return;
                }
                m.camera = camera;
                m.microphone = microphone;
                self.broadcast(
                    &ServerMessage::PeerMedia {
                        id: id.clone(),
                        camera,
                        microphone,
                    },
                    Some(&id),
                );
            }
            Command::Revoke { id, reply } => {
                let was_here = self.members.contains_key(&id);
                if was_here {
                    self.remove(&id, LeaveReason::Revoked);
                }
                let _ = reply.send(was_here);
            }
        }
    }

    fn join(&mut self, j: Joining) {
        if self.members.contains_key(&j.id) {
            // The newest tab wins: the person meant to be here now.
            self.remove(&j.id, LeaveReason::Replaced);
        }
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
            session: SessionInfo {
                state: live_state(self.info.state),
                ..self.info.clone()
            },
            roster,
            ice_servers: self.registry.settings.ice_servers.clone(),
            ice_policy: self.registry.settings.ice_policy,
            heartbeat_interval_ms: self.registry.settings.heartbeat_interval.as_millis() as u64,
            server_time: chrono::Utc::now().timestamp_millis(),
        };
        // A fresh queue cannot be full; if it is closed the connection is
        // already gone and its leave will follow.
        if j.outbound
            .try_send(Outbound::Text(encode(&welcome)))
            .is_err()
        {
            return;
        }
        let member = Member {
            name: j.name,
            role: j.role,
            connection_id: j.connection_id,
            outbound: j.outbound,
            control: j.control,
            camera: false,
            microphone: false,
        };
        let id = j.id;
        let others: Vec<String> = self.members.keys().cloned().collect();
        for other in others {
            let peer = peer_view(&id, &member, &other);
            self.send(
                &other,
                Outbound::Text(encode(&ServerMessage::PeerJoined { peer })),
            );
        }
        self.members.insert(id, member);
    }

    fn relay(&mut self, from: String, connection_id: String, to: String, data: Opaque) {
        let Some(sender) = self.members.get(&from) else {
            return;
        };
        if sender.connection_id != connection_id {
            // A replaced connection's last words: not this person any more.
            return;
        }
        if to == from || !self.members.contains_key(&to) {
            let err = ServerMessage::error(
                ErrorCode::UnknownPeer,
                format!("{to:?} is not connected to this session"),
            );
            self.send(&from, Outbound::Text(encode(&err)));
            return;
        }
        let msg = ServerMessage::Signal { from, data };
        self.send(&to, Outbound::Text(encode(&msg)));
    }

    /// Queues a message for one member; a full queue removes the member.
    fn send(&mut self, id: &str, msg: Outbound) {
        let Some(m) = self.members.get(id) else {
            return;
        };
        match m.outbound.try_send(msg) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.remove(id, LeaveReason::SlowConsumer);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                // The connection task has ended; its leave is on the way.
            }
        }
    }

    fn broadcast(&mut self, msg: &ServerMessage, except: Option<&str>) {
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
    fn remove(&mut self, id: &str, reason: LeaveReason) {
        if let Some(m) = self.members.remove(id) {
            m.control.close(reason);
            if reason == LeaveReason::Replaced {
                // The same person is joining again at once: the others learn
                // it from the new `peer_joined` (same id, new connection).
                return;
            }
            self.broadcast(
                &ServerMessage::PeerLeft {
                    id: id.to_owned(),
                    reason,
                },
                None,
            );
        }
    }
}

fn peer_view(id: &str, m: &Member, viewer: &str) -> Peer {
    Peer {
        id: id.to_owned(),
        name: m.name.clone(),
        role: m.role,
        connection_id: m.connection_id.clone(),
        // Both sides compare the same two ids, so exactly one is polite.
        polite: viewer < id,
        camera: m.camera,
        microphone: m.microphone,
    }
}

fn live_state(stored: SessionState) -> SessionState {
    match stored {
        SessionState::Scheduled => SessionState::Open,
        other => other,
    }
}

/// Serialises a server message once, to share between recipients.
pub fn encode(msg: &ServerMessage) -> Utf8Bytes {
    // Serialising these types cannot fail: no maps with non-string keys, no
    // custom serialisers.
    Utf8Bytes::from(serde_json::to_string(msg).unwrap_or_default())
}
