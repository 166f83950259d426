//! What a [`super::SessionHandle`] (and the actor's own background tasks)
//! send to a session actor: one variant per request, each handled by one
//! method of the actor.

use super::Joining;
use super::control::ControlRequest;
use crate::evidence::ledger::{Appended, LedgerError, NewEvent};
use crate::recording::SegmentEvent;
use axum::extract::ws::Utf8Bytes;
use cadre_protocol::ErrorBody;
use cadre_protocol::signalling::{ForwardSide, LeaveReason, Opaque, StateNotice};
use tokio::sync::oneshot;

/// Large payloads are boxed: every slot of a session's inbox is the size of
/// the largest variant, and the inbox is allocated per session.
pub(super) enum Command {
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
    /// A relay found `id`'s queue full (see `routes.rs`).
    SlowConsumer { id: String, connection_id: String },
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
    /// Staff added a person to the session while it is live (they may
    /// join by their new link), or corrected their name.
    Enrolled(cadre_protocol::session::Me),
    /// Staff corrected the session's title while it is live.
    Retitled(String),
    /// This node lost the session's lease: everyone is let go, to
    /// reconnect to the node that has it.
    Moved,
    /// Who is connected now (staff's live view).
    Connected(oneshot::Sender<Vec<super::roster::Connected>>),
    Chat {
        id: String,
        connection_id: String,
        text: String,
        to: Option<String>,
    },
    Hand {
        id: String,
        connection_id: String,
        raised: bool,
        participant: Option<String>,
    },
    React {
        id: String,
        connection_id: String,
        reaction: cadre_protocol::classroom::Reaction,
    },
    Mute {
        id: String,
        connection_id: String,
        participant: Option<String>,
    },
    AskUnmute {
        id: String,
        connection_id: String,
        participant: String,
    },
    Spotlight {
        id: String,
        connection_id: String,
        participant: Option<String>,
    },
    Screen {
        id: String,
        connection_id: String,
        request: super::screen::ScreenRequest,
    },
    Poll {
        id: String,
        connection_id: String,
        question: String,
        choices: Vec<String>,
    },
    Answer {
        id: String,
        connection_id: String,
        poll: u64,
        choice: usize,
    },
    ClosePoll {
        id: String,
        connection_id: String,
        poll: u64,
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
    /// A quiz request, or a quiz entry written (`quiz.rs`).
    Quiz(Box<super::quiz::QuizCommand>),
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
        event: Box<NewEvent>,
        reply: oneshot::Sender<Result<Appended, LedgerError>>,
    },
    /// A `sponsor_share` decision was written by the person's connection.
    SponsorShare { id: String, granted: bool },
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
    /// Signalling of a member's connections to the forwarding.
    Forward {
        id: String,
        connection_id: String,
        side: ForwardSide,
        data: Opaque,
    },
    /// What a member's page shows of each person's camera.
    ForwardView {
        id: String,
        connection_id: String,
        views: Vec<(String, cadre_protocol::signalling::VideoQuality)>,
    },
    /// What the forwarding asks to be carried to a member.
    Forwarded(crate::forward::ForwardEvent),
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
        request: Box<ControlRequest>,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    },
    /// Staff move or cancel the session from the console; the reply comes
    /// once it is durable.
    StaffControl {
        request: Box<ControlRequest>,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    },
    /// A control is durable (or failed to be written: `None`).
    ControlApplied {
        request: Box<ControlRequest>,
        applied: Option<Box<StateNotice>>,
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
