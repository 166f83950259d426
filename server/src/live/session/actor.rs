//! The session actor: its state, its loop, its start-up from the ledger,
//! and [`SessionActor::handle`], which only dispatches each command to the
//! method that owns it (in `roster`, `signin`, `consent`, `segments`,
//! `quality` and `control`). Also the one way the actor writes to the ledger
//! without waiting on it: [`SessionActor::record`].

use super::commands::Command;
use super::consent::Recording;
use super::gate::Decision;
use super::registry::Registry;
use super::roster::Member;
use super::{SessionHandle, now_ms};
use crate::directory::catalog::Catalog;
use crate::evidence::ledger::{Ledger, NewEvent};
use crate::live::outbound::Outbound;
use crate::live::quality::QualityTracker;
use crate::live::signin::Signins;
use cadre_protocol::action::ActionRef;
use cadre_protocol::attendance::Schedule;
use cadre_protocol::evidence::{ACTOR_SERVER, Entry, kind};
use cadre_protocol::signalling::Me;
use cadre_protocol::signalling::{LeaveReason, SessionInfo, StateNotice};
use cadre_protocol::{ErrorBody, Role, SessionState};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// How often the actor scores silence, closes minutes and checks alerts.
const QUALITY_TICK_MS: i64 = 5_000;

/// A facilitator's control held while the server's start is written: who,
/// what, and where the answer goes.
pub(super) type DeferredControl = (
    String,
    super::ControlRequest,
    tokio::sync::oneshot::Sender<Result<(), cadre_protocol::ErrorBody>>,
);

pub(super) struct SessionActor {
    pub(super) info: SessionInfo,
    pub(super) schedule: Schedule,
    /// Written with `members`: where signals go without this actor.
    pub(super) members: HashMap<String, Member>,
    pub(super) routes: Arc<super::routes::Routes>,
    pub(super) registry: Arc<Registry>,
    pub(super) generation: u64,
    pub(super) signins: Signins,
    /// Slots whose window opening is being written.
    pub(super) opening: HashSet<String>,
    /// For tasks that report back (a weak sender keeps no actor alive).
    pub(super) me: mpsc::WeakSender<Command>,
    pub(super) recording: Recording,
    /// The latest control decision, shown to whoever joins.
    pub(super) notice: Option<StateNotice>,
    /// A control is being written: one at a time.
    pub(super) controlling: bool,
    /// The control being written is the server's own start.
    pub(super) starting: bool,
    /// A facilitator's control that arrived while the start was being
    /// written: checked once it is applied.
    pub(super) deferred: Option<DeferredControl>,
    /// A join spawned this actor (see [`SessionActor::new`]).
    pub(super) for_join: bool,
    /// Staff's control being written: answered once applied.
    pub(super) staff_reply: Option<oneshot::Sender<Result<(), ErrorBody>>>,
    /// The state a suspension returns to.
    pub(super) resume_to: SessionState,
    /// Names of everyone in the session (for notices), from the catalogue.
    pub(super) people: HashMap<String, String>,
    /// Everyone in the session in the catalogue's order, for a
    /// facilitator's welcome. A session's people and its action are written
    /// with it and never change, so the catalogue is read once, when the
    /// actor starts, not at each join.
    pub(super) roll: Vec<Me>,
    /// Everyone's `recording` decision, kept across tabs and departures:
    /// read from the log once at start, then every later one is written
    /// through this actor.
    pub(super) decisions: HashMap<String, Decision>,
    /// Everyone's latest `sponsor_share` decision, read from the log at
    /// start, then told by the connection that wrote it.
    pub(super) sponsor_share: HashMap<String, bool>,
    /// Connection and presence quality, and the alert rules.
    pub(super) quality: QualityTracker,
    /// When the quality tick runs next (ms).
    pub(super) next_tick: i64,
    /// How the media travels, and the forwarding when it is through the
    /// server.
    pub(super) forwarding: super::forwarding::Forwarding,
    /// The chat, raised hands and reactions (none of it evidence).
    pub(super) classroom: super::classroom::Classroom,
    /// Screen sharing: who shares, who may.
    pub(super) screen: cadre_protocol::screen::ScreenShare,
    /// This node's right to write the session (its lease, on a database
    /// several nodes share), given up when the actor ends.
    _hold: crate::evidence::ledger::Hold,
}

impl SessionActor {
    /// A fresh actor for `info`, reached through `handle`; `for_join`: a
    /// person's arrival spawned it (otherwise staff's decision did, with
    /// nobody in the call: the session is neither opened nor started).
    pub(super) fn new(
        info: &SessionInfo,
        schedule: &Schedule,
        registry: Arc<Registry>,
        handle: &SessionHandle,
        for_join: bool,
        hold: crate::evidence::ledger::Hold,
    ) -> SessionActor {
        SessionActor {
            info: SessionInfo {
                state: if for_join {
                    live_state(info.state)
                } else {
                    info.state
                },
                ..info.clone()
            },
            for_join,
            schedule: schedule.clone(),
            members: HashMap::new(),
            generation: handle.generation,
            routes: Arc::clone(&handle.routes),
            signins: Signins::default(),
            opening: HashSet::new(),
            me: handle.tx.downgrade(),
            recording: Recording::default(),
            notice: None,
            controlling: false,
            starting: false,
            deferred: None,
            staff_reply: None,
            resume_to: SessionState::Open,
            people: HashMap::new(),
            roll: Vec::new(),
            decisions: HashMap::new(),
            sponsor_share: HashMap::new(),
            quality: QualityTracker::new(registry.settings.quality.clone()),
            next_tick: 0,
            forwarding: Default::default(),
            classroom: Default::default(),
            screen: Default::default(),
            registry,
            _hold: hold,
        }
    }

    /// This node no longer writes the session: everyone is let go as at a
    /// server's stop, so that their clients reconnect (to the node that
    /// holds it now, through the routing proxy); the actor then ends.
    fn moved(&mut self) {
        tracing::warn!("the session's lease moved to another node: closing its live room here");
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            self.remove(&id, cadre_protocol::signalling::LeaveReason::Shutdown);
        }
    }

    /// Runs until the last member has left and no decision is being
    /// written: the quality tick, the automatic sign-in windows, and the
    /// commands, one at a time.
    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        debug!("session actor started");
        self.classroom.chat = self.registry.take_chat(&self.info.id);
        self.load().await;
        loop {
            let now = now_ms();
            if now >= self.next_tick {
                self.quality_tick(now);
                self.next_tick = now + QUALITY_TICK_MS;
            }
            // The planned start wakes the actor too: a session with people
            // waiting starts on time, not at the next tick.
            let start = Some(self.schedule.planned_start).filter(|&t| t > now);
            let wake = self
                .signins
                .next_boundary(now)
                .into_iter()
                .chain(start)
                .min()
                .unwrap_or(now + 3_600_000)
                .min(self.next_tick);
            let wake = (wake - now).max(0) as u64;
            self.open_due_window(now);
            self.start_if_due(now);
            let cmd = tokio::select! {
                cmd = rx.recv() => cmd,
                () = tokio::time::sleep(Duration::from_millis(wake)) => continue,
            };
            let Some(cmd) = cmd else { break };
            self.handle(cmd);
            // An actor with a decision being written stays: the next actor
            // of this session would not know of it.
            // So does one with a control being written (staff's, with nobody
            // in the call): its reply waits for it.
            if self.members.is_empty()
                && !self.controlling
                && !self.decisions.values().any(Decision::pending)
            {
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
        // A connection still holding this actor's handle relays nowhere.
        self.routes.clear();
        self.stop_forwarding();
        self.keep_chat();
        debug!("session actor ended");
    }

    /// Rebuilds the sign-in index and everyone's consent decisions from the
    /// ledger, and brackets this run.
    async fn load(&mut self) {
        let sid = self.info.id.clone();
        let read = move |c: &Catalog| Ok((c.people(&sid)?, c.action_of_session(&sid)?));
        // Sessions start in waves with their first joins: their reads take
        // turns with the admissions on the catalogue's thread rather than
        // each taking a thread of the blocking pool.
        match self.registry.catalog.run_serial(read).await {
            Ok((people, action)) => {
                self.info.facilitators = people
                    .iter()
                    .filter(|p| p.role == Role::Facilitator)
                    .map(|p| p.name.clone())
                    .collect();
                // Which action the certificate covers.
                self.info.action = action.map(|a| ActionRef {
                    id: a.id,
                    title: a.title,
                });
                self.roll = people
                    .iter()
                    .map(|p| Me {
                        id: p.id.clone(),
                        name: p.name.clone(),
                        role: p.role,
                    })
                    .collect();
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
                // Before anything reads the state or the window.
                self.catch_up_state(&entries).await;
                if entries.len() == stored.len() {
                    self.load_consents(&entries);
                } else {
                    // The entry that does not parse could be a withdrawal:
                    // nobody's recording decision is trusted, so the gate
                    // stays closed until each person decides again.
                    warn!("an entry of the log does not parse; recording stays closed to everyone");
                }
                self.signins = Signins::load(&self.schedule, &entries);
                self.load_notice(&entries);
                self.recover_segments(&entries).await;
                self.start_at_load().await;
            }
            Err(e) => {
                // No decision known: recording stays closed to everyone.
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
            let event = self.event(
                kind::SERVER_STARTED,
                ACTOR_SERVER.to_owned(),
                serde_json::json!({"version": env!("CARGO_PKG_VERSION")}),
            );
            append_or_warn(&ledger, event, "server_started").await;
        }
    }

    /// One command, to the method that owns it.
    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Join(joining, reply) => self.join(*joining, reply),
            Command::Leave {
                id,
                connection_id,
                reason,
            } => self.leave(&id, &connection_id, reason),
            Command::Relay {
                from,
                connection_id,
                to,
                data,
            } => self.relay(from, connection_id, to, data),
            Command::SlowConsumer { id, connection_id } => {
                if self.is_current(&id, &connection_id) {
                    self.remove(&id, LeaveReason::SlowConsumer);
                }
            }
            Command::Media {
                id,
                connection_id,
                camera,
                microphone,
            } => self.media(&id, &connection_id, camera, microphone),
            Command::Chat {
                id,
                connection_id,
                text,
                to,
            } => self.chat(&id, &connection_id, text, to),
            Command::Hand {
                id,
                connection_id,
                raised,
                participant,
            } => self.hand(&id, &connection_id, raised, participant),
            Command::React {
                id,
                connection_id,
                reaction,
            } => self.react(&id, &connection_id, reaction),
            Command::Mute {
                id,
                connection_id,
                participant,
            } => self.mute(&id, &connection_id, participant),
            Command::AskUnmute {
                id,
                connection_id,
                participant,
            } => self.ask_unmute(&id, &connection_id, participant),
            Command::Spotlight {
                id,
                connection_id,
                participant,
            } => self.spotlight(&id, &connection_id, participant),
            Command::Screen {
                id,
                connection_id,
                request,
            } => self.screen(&id, &connection_id, request),
            Command::Poll {
                id,
                connection_id,
                question,
                choices,
            } => self.put_poll(&id, &connection_id, question, choices),
            Command::Answer {
                id,
                connection_id,
                poll,
                choice,
            } => self.answer_poll(&id, &connection_id, poll, choice),
            Command::ClosePoll {
                id,
                connection_id,
                poll,
            } => self.close_poll(&id, &connection_id, poll),
            Command::Revoke { id, reply } => self.revoke(&id, reply),
            Command::Connected(reply) => self.connected(reply),
            Command::Enrolled(me) => self.enrolled(me),
            Command::Retitled(title) => self.retitled(title),
            Command::Moved => self.moved(),
            Command::Notify { id, text } => self.send(&id, Outbound::Text(text)),
            Command::Quiz(cmd) => self.on_quiz(*cmd),
            Command::SignBegin { id, slot, reply } => self.sign_begin(&id, &slot, reply),
            Command::SignEnd { id, slot, recorded } => self.sign_end(&id, &slot, recorded),
            Command::CountersignBegin {
                by,
                slot,
                participant,
                reply,
            } => self.countersign_begin(&by, &slot, &participant, reply),
            Command::CountersignEnd {
                by,
                slot,
                participant,
                recorded,
            } => self.countersign_end(&by, &slot, &participant, recorded),
            Command::OpenSignin { by, reply } => self.open_signin(by, reply),
            Command::WindowOpened { slot, closes_at } => self.window_opened(slot, closes_at),
            Command::WindowFailed { slot } => self.window_failed(&slot),
            Command::Consent {
                id,
                granted,
                event,
                reply,
            } => self.consent(id, granted, *event, reply),
            Command::ConsentWritten {
                id,
                granted,
                written,
                reply,
            } => self.consent_written(&id, granted, written, reply),
            Command::SponsorShare { id, granted } => self.sponsor_share_written(id, granted),
            Command::Arm { by, armed, reply } => self.arm(&by, armed, reply),
            Command::RecorderSignal {
                id,
                connection_id,
                segment,
                data,
            } => self.recorder_signal(id, connection_id, segment, data),
            Command::Forward {
                id,
                connection_id,
                side,
                data,
            } => self.forward_signal(&id, &connection_id, side, data),
            Command::Forwarded(event) => self.forwarded(event),
            Command::ForwardView {
                id,
                connection_id,
                views,
            } => self.forward_view(&id, &connection_id, views),
            Command::SegmentStarted { segment, written } => self.segment_started(segment, written),
            Command::Recorder { segment, event } => self.recorder_event(segment, event),
            Command::Stats {
                id,
                connection_id,
                report,
            } => self.stats(&id, &connection_id, &report),
            Command::Presence {
                id,
                connection_id,
                visible,
                focused,
            } => self.presence(&id, &connection_id, visible, focused),
            Command::Control { by, request, reply } => self.control(&by, *request, reply),
            Command::StaffControl { request, reply } => self.staff_control(*request, reply),
            Command::ControlApplied { request, applied } => {
                self.control_applied(*request, applied.map(|a| *a))
            }
        }
    }

    /// An entry of this session, to be written by [`Self::record`].
    pub(super) fn event(
        &self,
        kind: &'static str,
        actor: String,
        payload: serde_json::Value,
    ) -> NewEvent {
        NewEvent {
            sid: self.info.id.clone(),
            kind,
            actor,
            payload,
            client_ts: None,
        }
    }

    /// Writes `event` off the actor's loop (the actor never waits on the
    /// ledger); a failure is logged as "could not record {what}".
    pub(super) fn record(&self, event: NewEvent, what: impl Into<String>) {
        self.record_then(event, what, |_| async { None });
    }

    /// [`Self::record`], then, in the same task, `then(written)`; the
    /// command it returns, if any, goes back to this actor.
    pub(super) fn record_then<F, Fut>(&self, event: NewEvent, what: impl Into<String>, then: F)
    where
        F: FnOnce(bool) -> Fut + Send + 'static,
        Fut: Future<Output = Option<Command>> + Send + 'static,
    {
        let ledger = self.registry.ledger.clone();
        let me = self.me.clone();
        let what = what.into();
        self.registry.tracker.spawn(async move {
            let written = append_or_warn(&ledger, event, &what).await;
            if let Some(cmd) = then(written).await
                && let Some(tx) = me.upgrade()
            {
                let _ = tx.send(cmd).await;
            }
        });
    }
}

/// Appends `event`; a failure is logged ("could not record {what}") and
/// answered `false`.
pub(super) async fn append_or_warn(ledger: &Ledger, event: NewEvent, what: &str) -> bool {
    match ledger.append(event).await {
        Ok(_) => true,
        Err(e) => {
            warn!("could not record {what}: {e}");
            false
        }
    }
}

fn live_state(stored: SessionState) -> SessionState {
    match stored {
        SessionState::Scheduled => SessionState::Open,
        other => other,
    }
}
