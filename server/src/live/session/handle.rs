//! [`SessionHandle`]: the typed API a connection calls to talk to its
//! session's actor.

use super::JoinError;
use super::commands::Command;
use super::control::ControlRequest;
use super::routes::Routes;
use super::screen::ScreenRequest;
use crate::evidence::ledger::{Appended, LedgerError, NewEvent};
use crate::live::outbound::{Outbound, QueueError, encode};
use cadre_protocol::signalling::ServerMessage;
use cadre_protocol::signalling::{ForwardSide, LeaveReason, Opaque};
use cadre_protocol::{ErrorBody, ErrorCode};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Handle to one live session's actor.
#[derive(Clone)]
pub struct SessionHandle {
    pub(super) tx: mpsc::Sender<Command>,
    pub(super) generation: u64,
    /// Where signals go without the actor (see `routes.rs`).
    pub(super) routes: Arc<Routes>,
    /// The server's counters: a relay counts itself here.
    pub(super) metrics: Arc<crate::metrics::Metrics>,
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

    /// Tells the actor that `id`'s `sponsor_share` decision is durable.
    pub async fn sponsor_share(&self, id: String, granted: bool) {
        let _ = self.tx.send(Command::SponsorShare { id, granted }).await;
    }

    /// Relays `data` from a member to another: straight to the target's
    /// queue when both are current, else through the actor, which drops a
    /// replaced connection's signals and answers `unknown_peer`.
    pub async fn relay(&self, from: String, connection_id: String, to: String, data: Opaque) {
        if let Some(target) = self.routes.target(&from, &connection_id, &to) {
            let signal = ServerMessage::Signal { from, data };
            let queued = target.control.try_send(Outbound::Text(encode(&signal)));
            if queued.is_ok() {
                self.metrics.relayed();
            }
            if let Err(QueueError::Full) = queued {
                let _ = self
                    .tx
                    .send(Command::SlowConsumer {
                        id: to,
                        connection_id: target.connection_id,
                    })
                    .await;
            }
            // `Ended`: the target's connection is closing; its leave is on
            // the way, as when the actor sends.
            return;
        }
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
        let gone = || ErrorBody::new(ErrorCode::Internal, "the session is closing; try again");
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
        self.ask(
            Command::Control {
                by,
                request: Box::new(request),
                reply,
            },
            rx,
        )
        .await
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
                event: Box::new(event),
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

    /// Passes a member's signalling of a connection to the forwarding.
    pub async fn forward(
        &self,
        id: String,
        connection_id: String,
        side: ForwardSide,
        data: Opaque,
    ) {
        let _ = self
            .tx
            .send(Command::Forward {
                id,
                connection_id,
                side,
                data,
            })
            .await;
    }

    /// Passes what a member's page shows of each camera to the forwarding.
    pub async fn forward_view(
        &self,
        id: String,
        connection_id: String,
        views: Vec<(String, cadre_protocol::signalling::VideoQuality)>,
    ) {
        let _ = self
            .tx
            .send(Command::ForwardView {
                id,
                connection_id,
                views,
            })
            .await;
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

    /// A member's chat message.
    pub async fn chat(&self, id: String, connection_id: String, text: String, to: Option<String>) {
        let _ = self
            .tx
            .send(Command::Chat {
                id,
                connection_id,
                text,
                to,
            })
            .await;
    }

    /// A member raises or lowers a hand.
    pub async fn hand(
        &self,
        id: String,
        connection_id: String,
        raised: bool,
        participant: Option<String>,
    ) {
        let _ = self
            .tx
            .send(Command::Hand {
                id,
                connection_id,
                raised,
                participant,
            })
            .await;
    }

    /// A member reacts.
    pub async fn react(
        &self,
        id: String,
        connection_id: String,
        reaction: cadre_protocol::classroom::Reaction,
    ) {
        let _ = self
            .tx
            .send(Command::React {
                id,
                connection_id,
                reaction,
            })
            .await;
    }

    /// A facilitator mutes someone, or everyone.
    pub async fn mute(&self, id: String, connection_id: String, participant: Option<String>) {
        let _ = self
            .tx
            .send(Command::Mute {
                id,
                connection_id,
                participant,
            })
            .await;
    }

    /// A facilitator puts a poll.
    pub async fn poll(
        &self,
        id: String,
        connection_id: String,
        question: String,
        choices: Vec<String>,
    ) {
        let _ = self
            .tx
            .send(Command::Poll {
                id,
                connection_id,
                question,
                choices,
            })
            .await;
    }

    /// Someone answers the open poll.
    pub async fn answer(&self, id: String, connection_id: String, poll: u64, choice: usize) {
        let _ = self
            .tx
            .send(Command::Answer {
                id,
                connection_id,
                poll,
                choice,
            })
            .await;
    }

    /// A quiz request: launching, submitting to or closing a quiz.
    pub(crate) async fn quiz(&self, cmd: super::quiz::QuizCommand) {
        let _ = self.tx.send(Command::Quiz(Box::new(cmd))).await;
    }

    /// A facilitator closes the open poll.
    pub async fn close_poll(&self, id: String, connection_id: String, poll: u64) {
        let _ = self
            .tx
            .send(Command::ClosePoll {
                id,
                connection_id,
                poll,
            })
            .await;
    }

    /// A facilitator shows someone to everyone, or stops.
    pub async fn spotlight(&self, id: String, connection_id: String, participant: Option<String>) {
        let _ = self
            .tx
            .send(Command::Spotlight {
                id,
                connection_id,
                participant,
            })
            .await;
    }

    /// Screen sharing: a share started or stopped, or a facilitator's
    /// permissions.
    pub(crate) async fn screen(&self, id: String, connection_id: String, request: ScreenRequest) {
        let _ = self
            .tx
            .send(Command::Screen {
                id,
                connection_id,
                request,
            })
            .await;
    }

    /// A facilitator asks someone to unmute.
    pub async fn ask_unmute(&self, id: String, connection_id: String, participant: String) {
        let _ = self
            .tx
            .send(Command::AskUnmute {
                id,
                connection_id,
                participant,
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
