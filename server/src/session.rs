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
use crate::ledger::{Ledger, NewEvent};
use crate::signin::{SigninError, Signins};
use axum::extract::ws::Utf8Bytes;
use cadre_protocol::attendance::Schedule;
use cadre_protocol::evidence::{ACTOR_SERVER, Entry, kind};
use cadre_protocol::signalling::{
    IcePolicy, IceServer, LeaveReason, Me, Opaque, Peer, ServerMessage, SessionInfo,
};
use cadre_protocol::{ErrorBody, ErrorCode, PROTOCOL_VERSION, Role, SessionState};

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info_span, warn};

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
    /// Everyone in the session (facilitators only).
    pub people: Vec<Me>,
    /// The person's consent decisions when joining.
    pub consents: cadre_protocol::api::Consents,
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
    /// Reserve a sign-in before it is written to the ledger.
    SignBegin {
        id: String,
        slot: String,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    },
    /// The sign-in was written (`entry`) or abandoned (`None`).
    SignEnd {
        id: String,
        slot: String,
        recorded: Option<(i64, String)>,
    },
    /// A facilitator's countersignature, checked and reserved.
    CountersignBegin {
        by: String,
        slot: String,
        participant: String,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    },
    /// The countersignature was written or abandoned.
    CountersignEnd {
        by: String,
        slot: String,
        participant: String,
        recorded: Option<(i64, String)>,
    },
    /// A facilitator opens the current slot's sign-in window.
    OpenSignin {
        by: String,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    },
    /// A window opening is durable in the ledger.
    WindowOpened { slot: String, closes_at: i64 },
    /// A window opening failed to be recorded.
    WindowFailed { slot: String },
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

    /// Reserves a sign-in for `slot`; refused with a code when the window is
    /// closed or the person already signed.
    pub async fn sign_begin(&self, id: String, slot: String) -> Result<(), ErrorBody> {
        let (reply, rx) = oneshot::channel();
        self.ask(Command::SignBegin { id, slot, reply }, rx).await
    }

    /// Reports how a reserved sign-in ended.
    pub async fn sign_end(&self, id: String, slot: String, recorded: Option<(i64, String)>) {
        let _ = self.tx.send(Command::SignEnd { id, slot, recorded }).await;
    }

    /// Checks and reserves a countersignature by `by`.
    pub async fn countersign_begin(
        &self,
        by: String,
        slot: String,
        participant: String,
    ) -> Result<(), ErrorBody> {
        let (reply, rx) = oneshot::channel();
        self.ask(
            Command::CountersignBegin {
                by,
                slot,
                participant,
                reply,
            },
            rx,
        )
        .await
    }

    /// Reports how a reserved countersignature ended.
    pub async fn countersign_end(
        &self,
        by: String,
        slot: String,
        participant: String,
        recorded: Option<(i64, String)>,
    ) {
        let _ = self
            .tx
            .send(Command::CountersignEnd {
                by,
                slot,
                participant,
                recorded,
            })
            .await;
    }

    /// A facilitator opens the sign-in window of the current slot.
    pub async fn open_signin(&self, by: String) -> Result<(), ErrorBody> {
        let (reply, rx) = oneshot::channel();
        self.ask(Command::OpenSignin { by, reply }, rx).await
    }

    async fn ask(
        &self,
        cmd: Command,
        rx: oneshot::Receiver<Result<(), ErrorBody>>,
    ) -> Result<(), ErrorBody> {
        let gone = || ErrorBody {
            code: ErrorCode::Internal,
            message: "the session is closing; try again".into(),
        };
        self.tx.send(cmd).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
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
    ledger: Ledger,
    /// Sessions whose log has this process's `server_started`: each run is
    /// bracketed once per session, so a gap in evidence is explained.
    bracketed: Mutex<HashSet<String>>,
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
    pub fn new(settings: SessionSettings, tracker: TaskTracker, ledger: Ledger) -> Arc<Registry> {
        Arc::new(Registry {
            sessions: Mutex::new(HashMap::new()),
            settings,
            tracker,
            generation: AtomicU64::new(0),
            ledger,
            bracketed: Mutex::new(HashSet::new()),
        })
    }

    /// Records `server_stopping` in every session this run wrote to; called
    /// once every connection has recorded its own close.
    pub async fn record_stopping(&self) {
        let sessions: Vec<String> = self
            .bracketed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        for sid in sessions {
            let event = NewEvent {
                sid,
                kind: kind::SERVER_STOPPING,
                actor: ACTOR_SERVER.to_owned(),
                payload: serde_json::json!({}),
                client_ts: None,
            };
            if let Err(e) = self.ledger.append(event).await {
                warn!("could not record server_stopping: {e}");
            }
        }
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
        schedule: &Schedule,
        joining: Joining,
    ) -> Result<SessionHandle, JoinError> {
        let mut joining = Box::new(joining);
        // Two attempts cover the race with an actor that is ending; a third
        // failure means the runtime is shutting down.
        for _ in 0..3 {
            let handle = self.get_or_spawn(info, schedule);
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

    fn get_or_spawn(self: &Arc<Self>, info: &SessionInfo, schedule: &Schedule) -> SessionHandle {
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
            schedule: schedule.clone(),
            members: HashMap::new(),
            registry: Arc::clone(self),
            generation,
            signins: Signins::default(),
            opening: HashSet::new(),
            me: handle.tx.downgrade(),
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
    schedule: Schedule,
    members: HashMap<String, Member>,
    registry: Arc<Registry>,
    generation: u64,
    signins: Signins,
    /// Slots whose window opening is being written.
    opening: HashSet<String>,
    /// For tasks that report back (a weak sender keeps no actor alive).
    me: mpsc::WeakSender<Command>,
}

impl SessionActor {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        debug!("session actor started");
        self.load().await;
        loop {
            let now = now_ms();
            let wake = self
                .signins
                .next_boundary(now)
                .map(|t| (t - now).max(0) as u64)
                .unwrap_or(3_600_000);
            self.open_due_window(now);
            let cmd = tokio::select! {
                cmd = rx.recv() => cmd,
                () = tokio::time::sleep(Duration::from_millis(wake)) => continue,
            };
            let Some(cmd) = cmd else { break };
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

    /// Rebuilds the sign-in index from the ledger and brackets this run.
    async fn load(&mut self) {
        let ledger = &self.registry.ledger;
        match ledger.entries(&self.info.id).await {
            Ok(stored) => {
                let entries: Vec<Entry> = stored
                    .iter()
                    .filter_map(|e| Entry::parse(&e.text).ok())
                    .collect();
                self.signins = Signins::load(&self.schedule, &entries);
            }
            Err(e) => {
                warn!("could not read the ledger: {e}");
                self.signins = Signins::load(&self.schedule, &[]);
            }
        }
        let first = self
            .registry
            .bracketed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(self.info.id.clone());
        if first {
            let event = NewEvent {
                sid: self.info.id.clone(),
                kind: kind::SERVER_STARTED,
                actor: ACTOR_SERVER.to_owned(),
                payload: serde_json::json!({"version": env!("CARGO_PKG_VERSION")}),
                client_ts: None,
            };
            if let Err(e) = ledger.append(event).await {
                warn!("could not record server_started: {e}");
            }
        }
    }

    /// Opens the current slot's automatic sign-in window, once: written to
    /// the ledger first, announced when durable.
    fn open_due_window(&mut self, now: i64) {
        let Some((slot, closes_at)) = self.signins.due_automatic(now) else {
            return;
        };
        self.write_window(slot.id, closes_at, ACTOR_SERVER.to_owned());
    }

    fn write_window(&mut self, slot: String, closes_at: i64, actor: String) {
        if !self.opening.insert(slot.clone()) {
            return;
        }
        let ledger = self.registry.ledger.clone();
        let me = self.me.clone();
        let event = NewEvent {
            sid: self.info.id.clone(),
            kind: kind::SIGNIN_OPENED,
            actor,
            payload: serde_json::json!({"slot": slot, "closes_at": closes_at}),
            client_ts: None,
        };
        self.registry.tracker.spawn(async move {
            let cmd = match ledger.append(event).await {
                Ok(_) => Command::WindowOpened { slot, closes_at },
                Err(e) => {
                    warn!("could not record a sign-in window: {e}");
                    Command::WindowFailed { slot }
                }
            };
            if let Some(tx) = me.upgrade() {
                let _ = tx.send(cmd).await;
            }
        });
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::SignBegin { id, slot, reply } => {
                let r = self
                    .signins
                    .begin_sign(&id, &slot, now_ms())
                    .map_err(signin_error);
                let _ = reply.send(r);
            }
            Command::SignEnd { id, slot, recorded } => {
                let at = recorded.as_ref().map(|(at, _)| *at);
                self.signins.end_sign(&id, &slot, at);
                if at.is_some() {
                    self.send_signin_status(&slot);
                }
            }
            Command::CountersignBegin {
                by,
                slot,
                participant,
                reply,
            } => {
                let r = if !self.is_facilitator(&by) {
                    Err(forbidden("only a facilitator countersigns"))
                } else {
                    self.signins
                        .begin_countersign(&participant, &slot)
                        .map_err(signin_error)
                };
                let _ = reply.send(r);
            }
            Command::CountersignEnd {
                by,
                slot,
                participant,
                recorded,
            } => {
                let at = recorded.as_ref().map(|(at, _)| *at);
                self.signins.end_countersign(&participant, &slot, at);
                if let Some((at, entry)) = recorded {
                    let msg = encode(&ServerMessage::Countersigned {
                        slot: slot.clone(),
                        participant: participant.clone(),
                        at,
                    });
                    let evidence = encode(&ServerMessage::EvidenceRecorded { entry });
                    let mut to: Vec<String> = self.facilitator_ids();
                    if !to.contains(&participant) {
                        to.push(participant.clone());
                    }
                    for id in to {
                        self.send(&id, Outbound::Text(msg.clone()));
                        if id == participant || id == by {
                            self.send(&id, Outbound::Text(evidence.clone()));
                        }
                    }
                    self.send_signin_status(&slot);
                }
            }
            Command::OpenSignin { by, reply } => {
                let now = now_ms();
                let r = if !self.is_facilitator(&by) {
                    Err(forbidden("only a facilitator opens the sign-in"))
                } else if let Some(slot) = self.signins.current(now).cloned() {
                    let closes_at = (now + crate::signin::MANUAL_WINDOW_MS)
                        .max(self.signins.open_until(&slot.id, now).unwrap_or(0));
                    self.write_window(slot.id, closes_at, by);
                    Ok(())
                } else {
                    Err(ErrorBody {
                        code: ErrorCode::NotOpen,
                        message: "no half-day of this session is in progress".into(),
                    })
                };
                let _ = reply.send(r);
            }
            Command::WindowOpened { slot, closes_at } => {
                self.opening.remove(&slot);
                self.signins.record_window(&slot, closes_at);
                self.broadcast(&ServerMessage::SigninOpen { slot, closes_at }, None);
            }
            Command::WindowFailed { slot } => {
                self.opening.remove(&slot);
            }
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
            slots: self.signins.statuses(&j.id, now_ms()),
            consents: j.consents,
            recording: Default::default(),
            people: j.people.clone(),
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
        let facilitator = member.role == Role::Facilitator;
        self.members.insert(id.clone(), member);
        if facilitator {
            // A console that reloads sees the sign-ins made before.
            let slots: Vec<String> = self.signins.slots().iter().map(|s| s.id.clone()).collect();
            for slot in slots {
                let (signed, countersigned) = self.signins.slot_summary(&slot);
                if signed.is_empty() {
                    continue;
                }
                let msg = ServerMessage::SigninStatus {
                    slot,
                    signed,
                    countersigned,
                };
                self.send(&id, Outbound::Text(encode(&msg)));
            }
        }
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

impl SessionActor {
    fn is_facilitator(&self, id: &str) -> bool {
        self.members
            .get(id)
            .is_some_and(|m| m.role == Role::Facilitator)
    }

    fn facilitator_ids(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, m)| m.role == Role::Facilitator)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn send_signin_status(&mut self, slot: &str) {
        let (signed, countersigned) = self.signins.slot_summary(slot);
        let msg = encode(&ServerMessage::SigninStatus {
            slot: slot.to_owned(),
            signed,
            countersigned,
        });
        for id in self.facilitator_ids() {
            self.send(&id, Outbound::Text(msg.clone()));
        }
    }
}

fn forbidden(message: &str) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::Forbidden,
        message: message.to_owned(),
    }
}

fn signin_error(e: SigninError) -> ErrorBody {
    let code = match e {
        SigninError::UnknownSlot(_) => ErrorCode::InvalidInput,
        SigninError::Closed(_) => ErrorCode::NotOpen,
        _ => ErrorCode::Conflict,
    };
    ErrorBody {
        code,
        message: e.to_string(),
    }
}

/// Server time, UTC milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
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
