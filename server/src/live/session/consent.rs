//! The recording gate in the actor: each person's decision as it is
//! written, facilitators arming recording, the gate applied (its rules are
//! pure, in `gate`), and the recording status each role sees.
//! `docs/recording.md` is the reference.

use super::actor::SessionActor;
use super::commands::Command;
use super::errors::forbidden;
use super::gate::{Decision, Gate, GateChange, Phase};
use crate::evidence::ledger::{Appended, LedgerError, NewEvent};
use crate::live::outbound::{Outbound, encode};
use crate::recording::Segment;
use cadre_protocol::evidence::{Entry, consent, kind};
use cadre_protocol::signalling::{LeaveReason, RecordingStatus, ServerMessage};
use cadre_protocol::{ErrorBody, Role};
use std::collections::{BTreeSet, HashMap};
use tokio::sync::oneshot;
use tracing::warn;

/// The recording gate of one session.
pub(super) struct Recording {
    /// A facilitator asked for recording.
    pub(super) armed: bool,
    /// Why recording stopped on its own (cleared when armed again).
    pub(super) failure: Option<String>,
    pub(super) state: RecState,
    /// The next segment number (segments are numbered per session).
    pub(super) next_segment: u64,
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
pub(super) enum RecState {
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

impl RecState {
    fn phase(&self) -> Phase {
        match self {
            RecState::Idle => Phase::Idle,
            RecState::Starting { .. } => Phase::Starting,
            RecState::Active { .. } => Phase::Active,
        }
    }
}

impl SessionActor {
    /// Everyone's decisions as the log holds them when the actor starts.
    /// Once per session, not per join: from then on every `recording`
    /// decision is written through this actor and every `sponsor_share`
    /// one is told to it, so its tables stay the log's latest.
    pub(super) fn load_consents(&mut self, entries: &[Entry]) {
        let mut by_person: HashMap<&str, Vec<Entry>> = HashMap::new();
        for e in entries.iter().filter(|e| e.kind == kind::CONSENT) {
            by_person.entry(&e.actor).or_default().push(e.clone());
        }
        for (id, theirs) in by_person {
            if let Some((seq, granted)) = consent::latest(&theirs, id, consent::RECORDING) {
                self.decisions
                    .entry(id.to_owned())
                    .or_default()
                    .learn(seq, granted);
            }
            if let Some(granted) = consent::decision(&theirs, id, consent::SPONSOR_SHARE) {
                self.sponsor_share.insert(id.to_owned(), granted);
            }
        }
    }

    /// A connection wrote a `sponsor_share` decision: tabs opened from now
    /// on show it.
    pub(super) fn sponsor_share_written(&mut self, id: String, granted: bool) {
        self.sponsor_share.insert(id, granted);
    }

    /// Whether `id`'s latest decision, as the ledger orders them, is a
    /// grant and no withdrawal of theirs is being written.
    pub(super) fn grants(&self, id: &str) -> bool {
        self.decisions.get(id).is_some_and(Decision::grants)
    }

    /// A decision from any tab of the person: a withdrawal closes the gate
    /// before it is written; either is written here, off the actor.
    pub(super) fn consent(
        &mut self,
        id: String,
        granted: bool,
        event: NewEvent,
        reply: oneshot::Sender<Result<Appended, LedgerError>>,
    ) {
        self.decisions.entry(id.clone()).or_default().asked(granted);
        if !granted {
            self.update_gate("consent_withdrawn");
        }
        // Not `record`: the tab waits for the outcome itself, and hears it
        // even if the actor were gone.
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

    /// A decision is written (or could not be): the gate follows, and the
    /// tab hears the outcome.
    pub(super) fn consent_written(
        &mut self,
        id: &str,
        granted: bool,
        written: Result<Appended, LedgerError>,
        reply: oneshot::Sender<Result<Appended, LedgerError>>,
    ) {
        if let Err(e) = &written {
            warn!("could not record a recording decision: {e}");
        }
        let seq = written.as_ref().ok().map(|a| a.seq);
        self.decisions
            .entry(id.to_owned())
            .or_default()
            .written(granted, seq);
        if self.members.contains_key(id)
            && self.grants(id)
            && let RecState::Active { participants, .. } = &mut self.recording.state
        {
            participants.insert(id.to_owned());
        }
        self.update_gate("consent_withdrawn");
        let _ = reply.send(written);
    }

    /// A facilitator arms or disarms recording.
    pub(super) fn arm(
        &mut self,
        by: &str,
        armed: bool,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    ) {
        if !self.is_facilitator(by) {
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

    /// What the gate looks at now.
    pub(super) fn gate(&self) -> Gate<'_> {
        Gate {
            armed: self.recording.armed,
            failure: self.recording.failure.as_deref(),
            state: self.info.state,
            members: self.members.len(),
            everyone_grants: self.members.keys().all(|id| self.grants(id)),
        }
    }

    /// Opens or closes recording to match the gate, then tells everyone
    /// what changed. `trigger` is why a running segment closes, if it does
    /// and nothing says more ([`Gate::change`]).
    pub(super) fn update_gate(&mut self, trigger: &str) {
        match self.gate().change(self.recording.state.phase(), trigger) {
            GateChange::Start => self.start_segment(),
            GateChange::Close(reason) => self.close_segment(&reason),
            GateChange::Keep => {}
        }
        self.sync_taps();
        self.send_recording_status();
    }

    /// A member's connection ended: their recorder peer goes, and the
    /// gate is checked (an empty session closes its segment).
    pub(super) fn left_recording(&mut self, id: &str, reason: LeaveReason) {
        self.quality_leave(id);
        self.unpublish(id);
        let why = if reason == LeaveReason::Shutdown {
            "shutdown"
        } else {
            "everyone_left"
        };
        self.update_gate(why);
    }

    /// The status as a person of `role` sees it; `missing` counts the
    /// people here without consent (facilitators only). `newcomer` is the
    /// consent of someone being welcomed: their welcome already shows the
    /// gate as their arrival leaves it.
    pub(super) fn recording_view(&self, role: Role, newcomer: Option<bool>) -> RecordingStatus {
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
    pub(super) fn send_recording_status(&mut self) {
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
}
