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

use crate::catalog::Catalog;
use crate::connection::{ConnectionControl, Outbound};
use crate::ledger::{Appended, Ledger, LedgerError, NewEvent};
use crate::quality::{QualityConfig, QualityTracker};
use crate::recorder::{RecordedFile, Recorder, Segment, SegmentEvent};
use crate::signin::{SigninError, Signins};
use axum::extract::ws::Utf8Bytes;
use cadre_protocol::attendance::Schedule;
use cadre_protocol::evidence::{ACTOR_SERVER, Entry, kind};
use cadre_protocol::signalling::{
    ControlAction, IcePolicy, IceServer, LeaveReason, Me, Opaque, Peer, RecordingStatus,
    ServerMessage, SessionInfo, StateNotice,
};
use cadre_protocol::{ErrorBody, ErrorCode, PROTOCOL_VERSION, Role, SessionState};

use std::collections::{BTreeSet, HashMap, HashSet};
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
    /// Connection quality thresholds and alert rules.
    pub quality: QualityConfig,
    /// Where a session's end is announced, so its log is anchored at once.
    pub anchor: crate::anchoring::AnchorQueue,
}

/// How often the actor scores silence, closes minutes and checks alerts.
const QUALITY_TICK_MS: i64 = 5_000;

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
    /// The person's consent decisions. [`Registry::join`] reads them again
    /// once the session's actor is known, whatever the connection read at
    /// admission: only a read made then is ordered with every decision the
    /// actor has not yet seen written.
    pub consents: cadre_protocol::api::Consents,
    /// Sequence number of the entry `consents.recording` comes from.
    pub recording_seq: Option<u64>,
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
    /// A person decides on `recording`, from any of their tabs, even one
    /// being replaced. The actor writes the decision itself, so that it
    /// knows every decision being written: a withdrawal is applied as soon
    /// as it arrives (before it is written), a grant once durable.
    Consent {
        id: String,
        granted: bool,
        event: NewEvent,
        reply: oneshot::Sender<Result<Appended, LedgerError>>,
    },
    /// A recording decision was written (or could not be).
    ConsentWritten {
        id: String,
        granted: bool,
        written: Result<Appended, LedgerError>,
        reply: oneshot::Sender<Result<Appended, LedgerError>>,
    },
    /// A facilitator arms or disarms recording (checked again here).
    Arm {
        by: String,
        armed: bool,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    },
    /// Signalling of a member's recorder peer connection.
    RecorderSignal {
        id: String,
        connection_id: String,
        segment: u64,
        data: Opaque,
    },
    /// A facilitator's control, checked against the state; written, then
    /// applied (`ControlApplied`).
    Control {
        by: String,
        request: ControlRequest,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    },
    /// A control is durable (or failed to be written: `None`).
    ControlApplied {
        request: ControlRequest,
        applied: Option<StateNotice>,
    },
    /// A member's connection figures, checked by the connection.
    Stats {
        id: String,
        connection_id: String,
        report: cadre_protocol::quality::ConnectionStats,
    },
    /// A member's tab visibility and window focus.
    Presence {
        id: String,
        connection_id: String,
        visible: bool,
        focused: bool,
    },
    /// A message for one person, if connected (a report answered).
    Notify { id: String, text: Utf8Bytes },
    /// A segment's `recording_started` is durable (or could not be written).
    SegmentStarted { segment: u64, written: bool },
    /// Something happened to an open segment's storage or publishers.
    Recorder { segment: u64, event: SegmentEvent },
}

/// A facilitator's control as the connection checked it (role, reason,
/// dates); the actor checks it against the session's state.
#[derive(Debug, Clone)]
pub struct ControlRequest {
    /// Who asks (a facilitator's id).
    pub by: String,
    /// What.
    pub action: ControlAction,
    /// Why.
    pub reason: String,
    /// `postpone`: the new window.
    pub window: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    /// `remove`: who.
    pub participant: Option<String>,
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

    /// A member's connection figures.
    pub async fn stats(
        &self,
        id: String,
        connection_id: String,
        report: cadre_protocol::quality::ConnectionStats,
    ) {
        let _ = self
            .tx
            .send(Command::Stats {
                id,
                connection_id,
                report,
            })
            .await;
    }

    /// A member's tab visibility and window focus changed.
    pub async fn presence(&self, id: String, connection_id: String, visible: bool, focused: bool) {
        let _ = self
            .tx
            .send(Command::Presence {
                id,
                connection_id,
                visible,
                focused,
            })
            .await;
    }

    /// A facilitator's control of the session.
    pub async fn control(&self, request: ControlRequest) -> Result<(), ErrorBody> {
        let (reply, rx) = oneshot::channel();
        let by = request.by.clone();
        self.ask(Command::Control { by, request, reply }, rx).await
    }

    /// Records a person's `recording` decision (`event`) through the
    /// session, which applies a withdrawal at once and a grant once
    /// durable. `Err(JoinError)`: this session's actor has ended (the tab
    /// was replaced or removed and everyone left): nothing was written.
    pub async fn recording_consent(
        &self,
        id: String,
        granted: bool,
        event: NewEvent,
    ) -> Result<Result<Appended, LedgerError>, JoinError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Consent {
                id,
                granted,
                event,
                reply,
            })
            .await
            .map_err(|_| JoinError)?;
        rx.await.map_err(|_| JoinError)
    }

    /// A facilitator arms or disarms recording.
    pub async fn arm(&self, by: String, armed: bool) -> Result<(), ErrorBody> {
        let (reply, rx) = oneshot::channel();
        self.ask(Command::Arm { by, armed, reply }, rx).await
    }

    /// Passes a member's recorder signalling to the open segment.
    pub async fn recorder_signal(
        &self,
        id: String,
        connection_id: String,
        segment: u64,
        data: Opaque,
    ) {
        let _ = self
            .tx
            .send(Command::RecorderSignal {
                id,
                connection_id,
                segment,
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
    ledger: Ledger,
    recorder: Arc<Recorder>,
    catalog: Catalog,
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
    pub fn new(
        settings: SessionSettings,
        tracker: TaskTracker,
        ledger: Ledger,
        recorder: Arc<Recorder>,
        catalog: Catalog,
    ) -> Arc<Registry> {
        Arc::new(Registry {
            sessions: Mutex::new(HashMap::new()),
            settings,
            tracker,
            generation: AtomicU64::new(0),
            ledger,
            recorder,
            catalog,
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
            // Read once the actor is known: every decision written before
            // this read is in it, and every one begun after it goes through
            // this actor (an actor ends only once its writes are durable),
            // which orders the two by sequence number.
            self.read_consents(&info.id, &mut joining).await;
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

    /// The person's latest decisions from the ledger, into `joining`. A
    /// log that cannot be read leaves `recording` undecided, which keeps
    /// the gate closed for them.
    async fn read_consents(&self, sid: &str, joining: &mut Joining) {
        match self.ledger.consents(sid, &joining.id).await {
            Ok((consents, recording_seq)) => {
                joining.consents = consents;
                joining.recording_seq = recording_seq;
            }
            Err(e) => {
                warn!("could not read the person's consents; recording stays closed to them: {e}");
                joining.consents.recording = None;
                joining.recording_seq = None;
            }
        }
    }

    /// Sends `msg` to a person if they are connected now.
    pub async fn notify(&self, sid: &str, id: &str, msg: &ServerMessage) {
        if let Some(handle) = self.get(sid) {
            let _ = handle
                .tx
                .send(Command::Notify {
                    id: id.to_owned(),
                    text: encode(msg),
                })
                .await;
        }
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
            info: SessionInfo {
                state: live_state(info.state),
                ..info.clone()
            },
            schedule: schedule.clone(),
            members: HashMap::new(),
            registry: Arc::clone(self),
            generation,
            signins: Signins::default(),
            opening: HashSet::new(),
            me: handle.tx.downgrade(),
            recording: Recording::default(),
            notice: None,
            controlling: false,
            resume_to: SessionState::Open,
            people: HashMap::new(),
            decisions: HashMap::new(),
            quality: QualityTracker::new(self.settings.quality.clone()),
            next_tick: 0,
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

/// A person's `recording` decision as the actor knows it, ordered as the
/// ledger orders decisions (by sequence number), whichever tab made them
/// and whenever they were read.
#[derive(Debug, Default, Clone, Copy)]
struct Decision {
    /// Withdrawals being written: each closes the gate already.
    withdrawing: u32,
    /// Grants being written: none counts before it is durable.
    granting: u32,
    /// The latest decision the ledger holds (its seq, and whether it
    /// grants). A withdrawal that could not be written keeps the seq it
    /// followed and counts as a withdrawal until a later grant is durable.
    latest: Option<(u64, bool)>,
}

impl Decision {
    fn grants(&self) -> bool {
        self.withdrawing == 0 && matches!(self.latest, Some((_, true)))
    }

    fn pending(&self) -> bool {
        self.withdrawing + self.granting > 0
    }

    /// A decision read or written at `seq`: the later one wins.
    fn learn(&mut self, seq: u64, granted: bool) {
        if self.latest.is_none_or(|(s, _)| seq > s) {
            self.latest = Some((seq, granted));
        }
    }

    /// What the person's tabs show as their decision.
    fn shown(&self) -> Option<bool> {
        if self.withdrawing > 0 {
            Some(false)
        } else {
            self.latest.map(|(_, granted)| granted)
        }
    }
}

/// The recording gate of one session.
struct Recording {
    /// A facilitator asked for recording.
    armed: bool,
    /// Why recording stopped on its own (cleared when armed again).
    failure: Option<String>,
    state: RecState,
    /// The next segment number (segments are numbered per session).
    next_segment: u64,
    /// Last views sent, to send changes only.
    sent_participant: Option<RecordingStatus>,
    sent_facilitator: Option<RecordingStatus>,
}

impl Default for Recording {
    fn default() -> Self {
        // Everyone's welcome shows the idle state: nothing to send until
        // it changes.
        Recording {
            armed: false,
            failure: None,
            state: RecState::Idle,
            next_segment: 1,
            sent_participant: Some(RecordingStatus::default()),
            sent_facilitator: Some(RecordingStatus::default()),
        }
    }
}

#[derive(Default)]
enum RecState {
    #[default]
    Idle,
    /// `recording_started` is being written; no media accepted yet.
    Starting { segment: u64, since: i64 },
    /// Media accepted from the members.
    Active {
        segment: Segment,
        since: i64,
        /// Everyone who was in the segment at any time.
        participants: BTreeSet<String>,
    },
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
    recording: Recording,
    /// The latest control decision, shown to whoever joins.
    notice: Option<StateNotice>,
    /// A control is being written: one at a time.
    controlling: bool,
    /// The state a suspension returns to.
    resume_to: SessionState,
    /// Names of everyone in the session (for notices), from the catalogue.
    people: HashMap<String, String>,
    /// Everyone's `recording` decision, kept across tabs and departures.
    decisions: HashMap<String, Decision>,
    /// Connection and presence quality, and the alert rules.
    quality: QualityTracker,
    /// When the quality tick runs next (ms).
    next_tick: i64,
}

impl SessionActor {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        debug!("session actor started");
        self.load().await;
        loop {
            let now = now_ms();
            if now >= self.next_tick {
                self.quality_tick(now);
                self.next_tick = now + QUALITY_TICK_MS;
            }
            let wake = self
                .signins
                .next_boundary(now)
                .unwrap_or(now + 3_600_000)
                .min(self.next_tick);
            let wake = (wake - now).max(0) as u64;
            self.open_due_window(now);
            let cmd = tokio::select! {
                cmd = rx.recv() => cmd,
                () = tokio::time::sleep(Duration::from_millis(wake)) => continue,
            };
            let Some(cmd) = cmd else { break };
            self.handle(cmd);
            // An actor with a decision being written stays: the next actor
            // of this session would not know of it.
            if self.members.is_empty() && !self.decisions.values().any(Decision::pending) {
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
        let sid = self.info.id.clone();
        match self.registry.catalog.run(move |c| c.people(&sid)).await {
            Ok(people) => {
                self.people = people.into_iter().map(|p| (p.id, p.name)).collect();
            }
            Err(e) => warn!("could not read the people of the session: {e}"),
        }
        let ledger = self.registry.ledger.clone();
        match ledger.entries(&self.info.id).await {
            Ok(stored) => {
                let entries: Vec<Entry> = stored
                    .iter()
                    .filter_map(|e| Entry::parse(&e.text).ok())
                    .collect();
                self.signins = Signins::load(&self.schedule, &entries);
                self.load_notice(&entries);
                self.recover_segments(&entries).await;
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

    /// The latest state decision in the log, shown to whoever joins (the
    /// names come from the catalogue).
    fn load_notice(&mut self, entries: &[Entry]) {
        let last = entries
            .iter()
            .filter(|e| e.kind == kind::SESSION_STATE)
            .max_by_key(|e| e.seq);
        let Some(e) = last else { return };
        let p = e.payload_value();
        let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let parse = |k: &str| {
            p.get(k)
                .and_then(|v| serde_json::from_value::<SessionState>(v.clone()).ok())
        };
        let action = p
            .get("action")
            .and_then(|v| serde_json::from_value::<ControlAction>(v.clone()).ok());
        if let (Some(state), Some(action)) = (parse("to"), action) {
            if state == SessionState::Suspended {
                self.resume_to = parse("from").unwrap_or(SessionState::Open);
            }
            self.notice = Some(StateNotice {
                state,
                action,
                reason: text("reason").unwrap_or_default(),
                by: self.people.get(&e.actor).cloned().unwrap_or_default(),
                at: e.ts,
                planned_start: text("planned_start"),
                planned_end: text("planned_end"),
            });
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
                    self.broadcast(
                        &ServerMessage::PeerLeft {
                            id: id.clone(),
                            reason,
                        },
                        None,
                    );
                    self.left_recording(&id, reason);
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
                if let Some(view) = self.quality.camera(&id, camera, now_ms()) {
                    self.push_quality(vec![view]);
                }
                self.broadcast(
                    &ServerMessage::PeerMedia {
                        id: id.clone(),
                        camera,
                        microphone,
                    },
                    Some(&id),
                );
            }
            Command::Consent {
                id,
                granted,
                event,
                reply,
            } => self.consent(id, granted, event, reply),
            Command::ConsentWritten {
                id,
                granted,
                written,
                reply,
            } => {
                self.consent_written(&id, granted, &written);
                let _ = reply.send(written);
            }
            Command::Arm { by, armed, reply } => {
                if !self.is_facilitator(&by) {
                    let _ = reply.send(Err(forbidden("only a facilitator arms recording")));
                    return;
                }
                self.recording.armed = armed;
                if armed {
                    self.recording.failure = None;
                }
                let _ = reply.send(Ok(()));
                self.update_gate("disarmed");
            }
            Command::RecorderSignal {
                id,
                connection_id,
                segment,
                data,
            } => self.recorder_signal(id, connection_id, segment, data),
            Command::SegmentStarted { segment, written } => self.segment_started(segment, written),
            Command::Control { by, request, reply } => {
                let r = self.control_begin(&by, &request);
                let ok = r.is_ok();
                let _ = reply.send(r);
                if ok {
                    self.control_write(request);
                }
            }
            Command::Stats {
                id,
                connection_id,
                report,
            } => {
                if self.is_current(&id, &connection_id)
                    && let Some(view) = self.quality.stats(&id, &report, now_ms())
                {
                    self.push_quality(vec![view]);
                }
            }
            Command::Presence {
                id,
                connection_id,
                visible,
                focused,
            } => {
                if self.is_current(&id, &connection_id)
                    && let Some(view) = self.quality.presence(&id, visible, focused, now_ms())
                {
                    self.push_quality(vec![view]);
                }
            }
            Command::Notify { id, text } => self.send(&id, Outbound::Text(text)),
            Command::ControlApplied { request, applied } => {
                self.controlling = false;
                if let Some(notice) = applied {
                    self.control_apply(request, notice);
                }
            }
            Command::Recorder { segment, event } => self.recorder_event(segment, event),
            Command::Revoke { id, reply } => {
                let was_here = self.members.contains_key(&id);
                if was_here {
                    self.remove(&id, LeaveReason::Revoked);
                }
                let _ = reply.send(was_here);
            }
        }
    }

    fn join(&mut self, mut j: Joining) {
        if self.members.contains_key(&j.id) {
            // The newest tab wins: the person meant to be here now.
            self.remove(&j.id, LeaveReason::Replaced);
        }
        let decision = self.decisions.entry(j.id.clone()).or_default();
        if let (Some(seq), Some(granted)) = (j.recording_seq, j.consents.recording) {
            decision.learn(seq, granted);
        }
        j.consents.recording = decision.shown();
        let records = decision.grants();
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
            ice_servers: self.registry.settings.ice_servers.clone(),
            ice_policy: self.registry.settings.ice_policy,
            heartbeat_interval_ms: self.registry.settings.heartbeat_interval.as_millis() as u64,
            server_time: chrono::Utc::now().timestamp_millis(),
            slots: self.signins.statuses(&j.id, now_ms()),
            consents: j.consents,
            recording: self.recording_view(j.role, Some(records)),
            // A resumption is news for an hour; the state itself says the
            // rest.
            notice: self
                .notice
                .clone()
                .filter(|n| n.action != ControlAction::Resume || now_ms() - n.at < 3_600_000),
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
        let role = member.role;
        self.members.insert(id.clone(), member);
        // A newcomer without consent closes the gate before they can see
        // or hear anything recorded; one with consent joins the segment.
        if let RecState::Active { participants, .. } = &mut self.recording.state
            && records
        {
            participants.insert(id.clone());
        }
        self.update_gate("participant_without_consent");
        let view = self.quality.join(&id, role, now_ms());
        if role == Role::Facilitator {
            // A console that (re)connects sees everyone's conditions.
            let everyone = self.quality.all();
            self.send(
                &id,
                Outbound::Text(encode(&ServerMessage::Quality { people: everyone })),
            );
        }
        self.push_quality(vec![view]);
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
                // The old tab's recorder connection goes; the new tab
                // publishes afresh.
                self.unpublish(id);
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
            self.left_recording(id, reason);
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

/// The recording gate.
impl SessionActor {
    /// Whether `id`'s latest decision, as the ledger orders them, is a
    /// grant and no withdrawal of theirs is being written.
    fn grants(&self, id: &str) -> bool {
        self.decisions.get(id).is_some_and(Decision::grants)
    }

    /// A decision from any tab of the person: a withdrawal closes the gate
    /// before it is written; either is written here, off the actor.
    fn consent(
        &mut self,
        id: String,
        granted: bool,
        event: NewEvent,
        reply: oneshot::Sender<Result<Appended, LedgerError>>,
    ) {
        let decision = self.decisions.entry(id.clone()).or_default();
        if granted {
            decision.granting += 1;
        } else {
            decision.withdrawing += 1;
            self.update_gate("consent_withdrawn");
        }
        let ledger = self.registry.ledger.clone();
        let me = self.me.clone();
        self.registry.tracker.spawn(async move {
            let written = ledger.append(event).await;
            let cmd = Command::ConsentWritten {
                id,
                granted,
                written,
                reply,
            };
            // The actor outlives its pending decisions, so it is there;
            // should it not be, the tab still hears the outcome.
            let undelivered = match me.upgrade() {
                Some(tx) => tx.send(cmd).await.err().map(|e| e.0),
                None => Some(cmd),
            };
            if let Some(Command::ConsentWritten { written, reply, .. }) = undelivered {
                let _ = reply.send(written);
            }
        });
    }

    fn consent_written(
        &mut self,
        id: &str,
        granted: bool,
        written: &Result<Appended, LedgerError>,
    ) {
        let decision = self.decisions.entry(id.to_owned()).or_default();
        if granted {
            decision.granting = decision.granting.saturating_sub(1);
        } else {
            decision.withdrawing = decision.withdrawing.saturating_sub(1);
        }
        match written {
            Ok(a) => decision.learn(a.seq, granted),
            Err(e) => {
                warn!("could not record a recording decision: {e}");
                if !granted {
                    // Asked, not recorded: still honoured.
                    let seq = decision.latest.map_or(0, |(s, _)| s);
                    decision.latest = Some((seq, false));
                }
            }
        }
        if self.members.contains_key(id)
            && self.grants(id)
            && let RecState::Active { participants, .. } = &mut self.recording.state
        {
            participants.insert(id.to_owned());
        }
        self.update_gate("consent_withdrawn");
    }

    /// The gate is open: armed, no failure, someone here, and everyone
    /// here has granted `recording`.
    fn gate_open(&self) -> bool {
        self.recording.armed
            && self.recording.failure.is_none()
            && matches!(self.info.state, SessionState::Open | SessionState::Running)
            && !self.members.is_empty()
            && self.members.keys().all(|id| self.grants(id))
    }

    /// Opens or closes recording to match the gate, then tells everyone
    /// what changed. `reason` is why a running segment closes, if it does.
    fn update_gate(&mut self, reason: &str) {
        let open = self.gate_open();
        match &self.recording.state {
            RecState::Idle if open => self.start_segment(),
            RecState::Active { .. } if !open => {
                let reason = if self.members.is_empty() && reason != "shutdown" {
                    "everyone_left"
                } else if !self.recording.armed {
                    "disarmed"
                } else if let Some(failure) = &self.recording.failure {
                    failure.as_str()
                } else if !matches!(self.info.state, SessionState::Open | SessionState::Running) {
                    self.info.state.as_str()
                } else {
                    reason
                };
                let reason = reason.to_owned();
                self.close_segment(&reason);
            }
            // A segment being started is checked again once durable.
            _ => {}
        }
        self.send_recording_status();
    }

    /// Writes `recording_started` first: no media is accepted before the
    /// ledger says a segment is open and who is in it.
    fn start_segment(&mut self) {
        let segment = self.recording.next_segment.max(1);
        self.recording.next_segment = segment + 1;
        let since = now_ms();
        self.recording.state = RecState::Starting { segment, since };
        let participants: BTreeSet<String> = self.members.keys().cloned().collect();
        let event = NewEvent {
            sid: self.info.id.clone(),
            kind: kind::RECORDING_STARTED,
            actor: ACTOR_SERVER.to_owned(),
            payload: serde_json::json!({"segment": segment, "participants": participants}),
            client_ts: None,
        };
        let ledger = self.registry.ledger.clone();
        let me = self.me.clone();
        self.registry.tracker.spawn(async move {
            let written = match ledger.append(event).await {
                Ok(_) => true,
                Err(e) => {
                    warn!("could not record a recording start: {e}");
                    false
                }
            };
            if let Some(tx) = me.upgrade() {
                let _ = tx.send(Command::SegmentStarted { segment, written }).await;
            }
        });
    }

    fn segment_started(&mut self, segment: u64, written: bool) {
        let RecState::Starting { segment: s, since } = self.recording.state else {
            return;
        };
        if s != segment {
            return;
        }
        if !written {
            self.recording.state = RecState::Idle;
            self.fail("storage_error");
            return;
        }
        let participants: BTreeSet<String> = self.members.keys().cloned().collect();
        if !self.gate_open() {
            // Closed while the start was being written: the segment is
            // closed empty, so the log never shows an open segment.
            self.recording.state = RecState::Idle;
            let reason = if self.members.is_empty() {
                "everyone_left"
            } else if !self.recording.armed {
                "disarmed"
            } else {
                "consent_withdrawn"
            };
            self.write_stopped(segment, reason, since, now_ms(), participants, Vec::new());
            self.send_recording_status();
            return;
        }
        let (events_tx, mut events_rx) = mpsc::unbounded_channel();
        let opened = self
            .registry
            .recorder
            .open_segment(&self.info.id, segment, events_tx);
        match opened {
            Ok(seg) => {
                let me = self.me.clone();
                self.registry.tracker.spawn(async move {
                    while let Some(event) = events_rx.recv().await {
                        let Some(tx) = me.upgrade() else { break };
                        if tx.send(Command::Recorder { segment, event }).await.is_err() {
                            break;
                        }
                    }
                });
                self.recording.state = RecState::Active {
                    segment: seg,
                    since,
                    participants,
                };
            }
            Err(e) => {
                warn!("could not open recording segment {segment}: {e}");
                self.recording.state = RecState::Idle;
                let reason = if e.is_storage_full() {
                    "storage_full"
                } else {
                    "storage_error"
                };
                self.write_stopped(segment, reason, since, now_ms(), participants, Vec::new());
                self.fail(reason);
                return;
            }
        }
        self.send_recording_status();
    }

    /// Stops accepting media at once (synchronously), then finishes the
    /// files and records them in the background.
    fn close_segment(&mut self, reason: &str) {
        let RecState::Active {
            segment,
            since,
            participants,
        } = std::mem::take(&mut self.recording.state)
        else {
            return;
        };
        segment.stop();
        let closed_at = now_ms();
        debug!(segment = segment.id(), reason, "recording segment closed");
        let id = segment.id();
        let reason = reason.to_owned();
        let sid = self.info.id.clone();
        let ledger = self.registry.ledger.clone();
        self.registry.tracker.spawn(async move {
            let files = segment.finish().await;
            let event = stopped_event(&sid, id, &reason, since, closed_at, &participants, &files);
            if let Err(e) = ledger.append(event).await {
                warn!("could not record the end of recording segment {id}: {e}");
            }
        });
    }

    fn write_stopped(
        &self,
        segment: u64,
        reason: &str,
        since: i64,
        closed_at: i64,
        participants: BTreeSet<String>,
        files: Vec<RecordedFile>,
    ) {
        let event = stopped_event(
            &self.info.id,
            segment,
            reason,
            since,
            closed_at,
            &participants,
            &files,
        );
        let ledger = self.registry.ledger.clone();
        self.registry.tracker.spawn(async move {
            if let Err(e) = ledger.append(event).await {
                warn!("could not record the end of recording segment {segment}: {e}");
            }
        });
    }

    /// Recording stopped on its own: disarmed, recorded, and the
    /// facilitators are told why.
    fn fail(&mut self, failure: &str) {
        self.recording.failure = Some(failure.to_owned());
        self.recording.armed = false;
        let event = NewEvent {
            sid: self.info.id.clone(),
            kind: kind::RECORDING_ARMED,
            actor: ACTOR_SERVER.to_owned(),
            payload: serde_json::json!({"armed": false, "reason": failure}),
            client_ts: None,
        };
        let ledger = self.registry.ledger.clone();
        self.registry.tracker.spawn(async move {
            if let Err(e) = ledger.append(event).await {
                warn!("could not record that recording was disarmed: {e}");
            }
        });
        self.close_segment(failure);
        self.send_recording_status();
    }

    fn recorder_event(&mut self, segment: u64, event: SegmentEvent) {
        let current = match &self.recording.state {
            RecState::Active { segment: s, .. } => s.id() == segment,
            _ => false,
        };
        match event {
            SegmentEvent::StorageFull {
                participant,
                message,
            } => {
                warn!(segment, participant, "recording storage full: {message}");
                if current {
                    self.fail("storage_full");
                }
            }
            SegmentEvent::StorageError {
                participant,
                message,
            } => {
                warn!(segment, participant, "recording storage error: {message}");
                if current {
                    self.fail("storage_error");
                }
            }
            SegmentEvent::PublisherFailed { participant } => {
                debug!(segment, participant, "recorder peer connection ended");
            }
        }
    }

    /// A member's connection ended: their recorder peer goes, and the
    /// gate is checked (an empty session closes its segment).
    fn left_recording(&mut self, id: &str, reason: LeaveReason) {
        let summaries = self.quality.leave(id, now_ms());
        self.write_quality(summaries);
        self.unpublish(id);
        let why = if reason == LeaveReason::Shutdown {
            "shutdown"
        } else {
            "everyone_left"
        };
        self.update_gate(why);
    }

    fn unpublish(&self, id: &str) {
        if let RecState::Active { segment, .. } = &self.recording.state {
            let segment = segment.clone();
            let id = id.to_owned();
            self.registry.tracker.spawn(async move {
                segment.unpublish(&id).await;
            });
        }
    }

    /// Checks that `id` may publish now, then hands the offer or candidate
    /// to the segment; the answer goes back on the member's queue.
    fn recorder_signal(&mut self, id: String, connection_id: String, segment: u64, data: Opaque) {
        let Some(m) = self.members.get(&id) else {
            return;
        };
        if m.connection_id != connection_id {
            return;
        }
        let refuse = |code: ErrorCode, message: String| {
            Outbound::Text(encode(&ServerMessage::error_about(
                code,
                message,
                "recorder_signal",
            )))
        };
        if !self.grants(&id) {
            let msg = refuse(
                ErrorCode::Forbidden,
                "you have not agreed to recording: nothing of yours is recorded".into(),
            );
            self.send(&id, msg);
            return;
        }
        let open = match &self.recording.state {
            RecState::Active { segment: s, .. } if s.id() == segment => Some(s.clone()),
            _ => None,
        };
        let Some(seg) = open else {
            let msg = refuse(
                ErrorCode::NotOpen,
                format!("recording segment {segment} is not open; wait for recording_state"),
            );
            self.send(&id, msg);
            return;
        };
        let value: serde_json::Value = match serde_json::from_str(data.get()) {
            Ok(v) => v,
            Err(_) => return,
        };
        let outbound = m.outbound.clone();
        self.registry.tracker.spawn(async move {
            let reply = if value.get("type").and_then(|t| t.as_str()) == Some("offer") {
                match seg.publish(&id, &value).await {
                    Ok(answer) => ServerMessage::RecorderSignal {
                        segment,
                        data: Opaque::from_value(&answer),
                    },
                    Err(e) => {
                        ServerMessage::error_about(e.code(), e.to_string(), "recorder_signal")
                    }
                }
            } else if value.get("candidate").is_some() {
                match seg.add_candidate(&id, &value).await {
                    Ok(()) => return,
                    Err(e) => {
                        ServerMessage::error_about(e.code(), e.to_string(), "recorder_signal")
                    }
                }
            } else {
                ServerMessage::error_about(
                    ErrorCode::InvalidInput,
                    "recorder_signal data is neither an offer nor an ICE candidate",
                    "recorder_signal",
                )
            };
            // A full queue: the session actor closes that connection as
            // too slow on its next message; nothing more to do here.
            let _ = outbound.try_send(Outbound::Text(encode(&reply)));
        });
    }

    /// The status as a person of `role` sees it; `missing` counts the
    /// people here without consent (facilitators only). `newcomer` is the
    /// consent of someone being welcomed: their welcome already shows the
    /// gate as their arrival leaves it.
    fn recording_view(&self, role: Role, newcomer: Option<bool>) -> RecordingStatus {
        let closes = newcomer == Some(false);
        let (active, segment, since) = match &self.recording.state {
            RecState::Active { segment, since, .. } if !closes => {
                (true, Some(segment.id()), Some(*since))
            }
            _ => (false, None, None),
        };
        let missing = (role == Role::Facilitator && self.recording.armed).then(|| {
            self.members.keys().filter(|id| !self.grants(id)).count() as u32 + u32::from(closes)
        });
        RecordingStatus {
            armed: self.recording.armed,
            active,
            segment,
            since,
            missing,
            failure: if role == Role::Facilitator {
                self.recording.failure.clone()
            } else {
                None
            },
        }
    }

    /// Sends each role its view, when it changed.
    fn send_recording_status(&mut self) {
        let participant = self.recording_view(Role::Participant, None);
        let facilitator = self.recording_view(Role::Facilitator, None);
        let to_participants = self.recording.sent_participant.as_ref() != Some(&participant);
        let to_facilitators = self.recording.sent_facilitator.as_ref() != Some(&facilitator);
        if to_participants {
            let msg = encode(&ServerMessage::RecordingState {
                recording: participant.clone(),
            });
            let ids: Vec<String> = self
                .members
                .iter()
                .filter(|(_, m)| m.role != Role::Facilitator)
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                self.send(&id, Outbound::Text(msg.clone()));
            }
            self.recording.sent_participant = Some(participant);
        }
        if to_facilitators {
            let msg = encode(&ServerMessage::RecordingState {
                recording: facilitator.clone(),
            });
            for id in self.facilitator_ids() {
                self.send(&id, Outbound::Text(msg.clone()));
            }
            self.recording.sent_facilitator = Some(facilitator);
        }
    }

    /// Segment numbering continues from the log; a segment whose end is
    /// not in the log (the process died while recording) is closed now
    /// with the files found on disk, marked `interrupted`.
    async fn recover_segments(&mut self, entries: &[Entry]) {
        let mut started: HashMap<u64, (i64, BTreeSet<String>)> = HashMap::new();
        let mut max = 0;
        for e in entries {
            let p = e.payload_value();
            let Some(segment) = p.get("segment").and_then(|s| s.as_u64()) else {
                continue;
            };
            match e.kind.as_str() {
                kind::RECORDING_STARTED => {
                    max = max.max(segment);
                    let people = p
                        .get("participants")
                        .and_then(|a| a.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    started.insert(segment, (e.ts, people));
                }
                kind::RECORDING_STOPPED => {
                    started.remove(&segment);
                }
                _ => {}
            }
        }
        self.recording.next_segment = max + 1;
        let mut orphans: Vec<(u64, (i64, BTreeSet<String>))> = started.into_iter().collect();
        orphans.sort_by_key(|(s, _)| *s);
        for (segment, (since, participants)) in orphans {
            let files =
                crate::recordings::scan_segment(&self.registry.recorder, &self.info.id, segment)
                    .await;
            let closed_at = files
                .iter()
                .filter_map(|f| f.last_packet_ms)
                .max()
                .unwrap_or(since);
            let event = stopped_event(
                &self.info.id,
                segment,
                "interrupted",
                since,
                closed_at,
                &participants,
                &files,
            );
            if let Err(e) = self.registry.ledger.append(event).await {
                warn!("could not record an interrupted recording segment: {e}");
            }
        }
    }
}

/// The `recording_stopped` entry of a segment.
fn stopped_event(
    sid: &str,
    segment: u64,
    reason: &str,
    since: i64,
    closed_at: i64,
    participants: &BTreeSet<String>,
    files: &[RecordedFile],
) -> NewEvent {
    let mut everyone = participants.clone();
    everyone.extend(files.iter().map(|f| f.participant.clone()));
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            serde_json::json!({
                "participant": f.participant, "track": f.track, "name": f.name,
                "bytes": f.bytes, "sha256": f.sha256, "packets": f.packets,
                "origin_at": f.origin_ms, "last_packet_at": f.last_packet_ms,
            })
        })
        .collect();
    NewEvent {
        sid: sid.to_owned(),
        kind: kind::RECORDING_STOPPED,
        actor: ACTOR_SERVER.to_owned(),
        payload: serde_json::json!({
            "segment": segment, "reason": reason, "started_at": since, "closed_at": closed_at,
            "participants": everyone, "files": files,
        }),
        client_ts: None,
    }
}

/// Connection and presence quality.
impl SessionActor {
    fn is_current(&self, id: &str, connection_id: &str) -> bool {
        self.members
            .get(id)
            .is_some_and(|m| m.connection_id == connection_id)
    }

    /// Each view goes to the facilitators and to the person it is about.
    fn push_quality(&mut self, views: Vec<cadre_protocol::quality::ParticipantQuality>) {
        if views.is_empty() {
            return;
        }
        let facilitators = self.facilitator_ids();
        let all = encode(&ServerMessage::Quality {
            people: views.clone(),
        });
        for id in &facilitators {
            self.send(id, Outbound::Text(all.clone()));
        }
        for view in views {
            if facilitators.contains(&view.id) {
                continue;
            }
            let id = view.id.clone();
            let own = encode(&ServerMessage::Quality { people: vec![view] });
            self.send(&id, Outbound::Text(own));
        }
    }

    /// Per-minute summaries go to the ledger, each about its person.
    fn write_quality(&self, summaries: Vec<(String, serde_json::Value)>) {
        for (person, payload) in summaries {
            self.write_event(kind::QUALITY, person, payload);
        }
    }

    fn write_event(&self, kind: &'static str, actor: String, payload: serde_json::Value) {
        let event = NewEvent {
            sid: self.info.id.clone(),
            kind,
            actor,
            payload,
            client_ts: None,
        };
        let ledger = self.registry.ledger.clone();
        self.registry.tracker.spawn(async move {
            if let Err(e) = ledger.append(event).await {
                warn!("could not record {kind}: {e}");
            }
        });
    }

    /// Scores silence, closes minutes, evaluates the alert rules.
    fn quality_tick(&mut self, now: i64) {
        let tick = self.quality.tick(now);
        if tick.is_empty() {
            return;
        }
        self.push_quality(tick.changed);
        self.write_quality(tick.summaries);
        for alert in tick.alerts {
            let payload = serde_json::to_value(&alert).unwrap_or_default();
            self.write_event(kind::ALERT, ACTOR_SERVER.to_owned(), payload);
            let msg = encode(&ServerMessage::Alert { alert });
            for id in self.facilitator_ids() {
                self.send(&id, Outbound::Text(msg.clone()));
            }
        }
        for rule in tick.cleared {
            let msg = encode(&ServerMessage::AlertCleared { rule, at: now });
            for id in self.facilitator_ids() {
                self.send(&id, Outbound::Text(msg.clone()));
            }
        }
        if let Some(alert) = tick.suspend
            && matches!(self.info.state, SessionState::Open | SessionState::Running)
            && !self.controlling
        {
            // The optional policy: the server suspends, with the alert's
            // sentence as the reason; a facilitator resumes.
            self.controlling = true;
            self.control_write(ControlRequest {
                by: ACTOR_SERVER.to_owned(),
                action: ControlAction::Suspend,
                reason: alert.message,
                window: None,
                participant: None,
            });
        }
    }
}

/// Controls: suspend, resume, postpone, end, remove.
impl SessionActor {
    /// Checks a control against the state now; reserves the session for it.
    fn control_begin(&mut self, by: &str, request: &ControlRequest) -> Result<(), ErrorBody> {
        if !self.is_facilitator(by) {
            return Err(forbidden("only a facilitator controls the session"));
        }
        if self.controlling {
            return Err(conflict("another control is being recorded; try again"));
        }
        let state = self.info.state;
        let conflict_in =
            |what: &str| conflict(&format!("{what} (the session is {})", state.as_str()));
        match request.action {
            ControlAction::Suspend
                if !matches!(state, SessionState::Open | SessionState::Running) =>
            {
                return Err(conflict_in("only a session in progress can be suspended"));
            }
            ControlAction::Resume if state != SessionState::Suspended => {
                return Err(conflict_in("only a suspended session can be resumed"));
            }
            ControlAction::Postpone | ControlAction::End if state == SessionState::Ended => {
                return Err(conflict_in("the session has ended"));
            }
            ControlAction::Remove => {
                let Some(who) = &request.participant else {
                    return Err(invalid("remove needs a participant"));
                };
                if who == by {
                    return Err(invalid("a facilitator cannot remove themselves"));
                }
                if !self.people.contains_key(who) {
                    return Err(ErrorBody {
                        code: ErrorCode::NotFound,
                        message: format!("{who:?} is not a person of this session"),
                    });
                }
            }
            _ => {}
        }
        self.controlling = true;
        Ok(())
    }

    /// Writes the decision (ledger first, then the catalogue), then
    /// applies it when durable.
    fn control_write(&mut self, request: ControlRequest) {
        let from = self.info.state;
        let to = match request.action {
            ControlAction::Suspend => SessionState::Suspended,
            ControlAction::Resume => self.resume_to,
            ControlAction::Postpone => SessionState::Postponed,
            ControlAction::End => SessionState::Ended,
            ControlAction::Remove => from,
        };
        if request.action == ControlAction::Suspend {
            self.resume_to = from;
        }
        let at = now_ms();
        let window = request.window.map(|(s, e)| (rfc3339(s), rfc3339(e)));
        let notice = StateNotice {
            state: to,
            action: request.action,
            reason: request.reason.clone(),
            by: if request.by == ACTOR_SERVER {
                "cadre".to_owned()
            } else {
                self.people.get(&request.by).cloned().unwrap_or_default()
            },
            at,
            planned_start: window.as_ref().map(|w| w.0.clone()),
            planned_end: window.as_ref().map(|w| w.1.clone()),
        };
        let (kind, payload) = if request.action == ControlAction::Remove {
            (
                kind::REMOVED,
                serde_json::json!({"participant": request.participant, "reason": request.reason}),
            )
        } else {
            let mut p = serde_json::json!({
                "action": request.action, "from": from.as_str(), "to": to.as_str(),
                "reason": request.reason,
            });
            if let Some((start, end)) = &window {
                p["planned_start"] = serde_json::json!(start);
                p["planned_end"] = serde_json::json!(end);
            }
            (kind::SESSION_STATE, p)
        };
        let event = NewEvent {
            sid: self.info.id.clone(),
            kind,
            actor: request.by.clone(),
            payload,
            client_ts: None,
        };
        let ledger = self.registry.ledger.clone();
        let catalog = self.registry.catalog.clone();
        let me = self.me.clone();
        let sid = self.info.id.clone();
        self.registry.tracker.spawn(async move {
            let written = match ledger.append(event).await {
                Ok(_) => true,
                Err(e) => {
                    warn!("could not record a control: {e}");
                    false
                }
            };
            let stored = if written {
                let r = request.clone();
                let result = catalog
                    .run(move |c| match r.action {
                        ControlAction::Remove => c
                            .revoke_person(&sid, r.participant.as_deref().unwrap_or_default())
                            .map(|_| ()),
                        ControlAction::Postpone => match r.window {
                            Some((start, end)) => c.postpone(&sid, start, end),
                            None => Ok(()),
                        },
                        _ => c.set_state(&sid, to),
                    })
                    .await;
                if let Err(e) = &result {
                    // The ledger holds the decision; the catalogue catches
                    // up on the next control. Applying it keeps both views
                    // honest with the log, which is what counts.
                    warn!("the catalogue could not store a control: {e}");
                }
                true
            } else {
                false
            };
            if let Some(tx) = me.upgrade() {
                let applied = stored.then_some(notice);
                let _ = tx.send(Command::ControlApplied { request, applied }).await;
            }
        });
    }

    /// Applies a durable decision and tells everyone, with its reason.
    fn control_apply(&mut self, request: ControlRequest, notice: StateNotice) {
        let participant = request.participant.clone();
        if request.action == ControlAction::Remove {
            let msg = ServerMessage::SessionState {
                notice,
                participant: participant.clone(),
            };
            self.broadcast(&msg, None);
            if let Some(who) = participant {
                self.remove(&who, LeaveReason::Removed);
            }
            return;
        }
        self.info.state = notice.state;
        if let (Some(start), Some(end)) = (&notice.planned_start, &notice.planned_end) {
            self.info.planned_start = start.clone();
            self.info.planned_end = end.clone();
        }
        self.notice = Some(notice.clone());
        self.broadcast(
            &ServerMessage::SessionState {
                notice,
                participant: None,
            },
            None,
        );
        self.update_gate(self.info.state.as_str());
        if self.info.state == SessionState::Ended {
            self.registry.settings.anchor.session_ended(&self.info.id);
            let ids: Vec<String> = self.members.keys().cloned().collect();
            for id in ids {
                if let Some(m) = self.members.remove(&id) {
                    m.control.close(LeaveReason::Ended);
                }
            }
            self.update_gate("ended");
        }
    }
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn conflict(message: &str) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::Conflict,
        message: message.to_owned(),
    }
}

fn invalid(message: &str) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::InvalidInput,
        message: message.to_owned(),
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

/// Server time, UTC milliseconds (kept at this path for its importers).
pub use cadre_protocol::now_ms;

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
