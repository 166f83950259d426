//! This connection as a member of its live session: the session's handle
//! with who is asking, so that handlers say what they want and not, each
//! time, whose and which tab's request it is.

use crate::evidence::ledger::{Appended, LedgerError, NewEvent};
use crate::live::session::{ControlRequest, JoinError, QuizCommand, SessionHandle};
use cadre_protocol::quality::ConnectionStats;
use cadre_protocol::quiz::NewQuizQuestion;
use cadre_protocol::signalling::{ForwardSide, Opaque};
use cadre_protocol::{ErrorBody, Role};

/// The session, and who this connection is in it.
pub(super) struct Member {
    pub(super) session: SessionHandle,
    pub(super) sid: String,
    pub(super) id: String,
    pub(super) role: Role,
    pub(super) connection_id: String,
}

impl Member {
    pub(super) async fn relay(&self, to: String, data: Opaque) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.relay(id, cid, to, data).await;
    }

    pub(super) async fn media(&self, camera: bool, microphone: bool) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.media(id, cid, camera, microphone).await;
    }

    pub(super) async fn presence(&self, visible: bool, focused: bool) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.presence(id, cid, visible, focused).await;
    }

    pub(super) async fn stats(&self, report: ConnectionStats) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.stats(id, cid, report).await;
    }

    pub(super) async fn forward(&self, side: ForwardSide, data: Opaque) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.forward(id, cid, side, data).await;
    }

    pub(super) async fn chat(&self, text: String, to: Option<String>) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.chat(id, cid, text, to).await;
    }

    pub(super) async fn hand(&self, raised: bool, participant: Option<String>) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.hand(id, cid, raised, participant).await;
    }

    pub(super) async fn react(&self, reaction: cadre_protocol::classroom::Reaction) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.react(id, cid, reaction).await;
    }

    pub(super) async fn screen(&self, request: crate::live::session::ScreenRequest) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.screen(id, cid, request).await;
    }

    pub(super) async fn mute(&self, participant: Option<String>) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.mute(id, cid, participant).await;
    }

    pub(super) async fn poll(&self, question: String, choices: Vec<String>) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.poll(id, cid, question, choices).await;
    }

    pub(super) async fn answer(&self, poll: u64, choice: usize) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.answer(id, cid, poll, choice).await;
    }

    pub(super) async fn close_poll(&self, poll: u64) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.close_poll(id, cid, poll).await;
    }

    pub(super) async fn quiz(&self, title: String, questions: Vec<NewQuizQuestion>) {
        let (id, connection_id) = (self.id.clone(), self.connection_id.clone());
        let cmd = QuizCommand::Open {
            id,
            connection_id,
            title,
            questions,
        };
        self.session.quiz(cmd).await;
    }

    pub(super) async fn submit_quiz(&self, quiz: String, answers: Vec<Vec<usize>>) {
        let (id, connection_id) = (self.id.clone(), self.connection_id.clone());
        let cmd = QuizCommand::Submit {
            id,
            connection_id,
            quiz,
            answers,
        };
        self.session.quiz(cmd).await;
    }

    pub(super) async fn close_quiz(&self, quiz: String) {
        let (id, connection_id) = (self.id.clone(), self.connection_id.clone());
        let cmd = QuizCommand::Close {
            id,
            connection_id,
            quiz,
        };
        self.session.quiz(cmd).await;
    }

    pub(super) async fn spotlight(&self, participant: Option<String>) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.spotlight(id, cid, participant).await;
    }

    pub(super) async fn ask_unmute(&self, participant: String) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.ask_unmute(id, cid, participant).await;
    }

    pub(super) async fn forward_view(
        &self,
        views: Vec<(String, cadre_protocol::signalling::VideoQuality)>,
    ) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.forward_view(id, cid, views).await;
    }

    pub(super) async fn recorder_signal(&self, segment: u64, data: Opaque) {
        let (id, cid) = (self.id.clone(), self.connection_id.clone());
        self.session.recorder_signal(id, cid, segment, data).await;
    }

    pub(super) async fn sign_begin(&self, slot: String) -> Result<(), ErrorBody> {
        self.session.sign_begin(self.id.clone(), slot).await
    }

    pub(super) async fn sign_end(&self, slot: String, recorded: Option<(i64, String)>) {
        self.session.sign_end(self.id.clone(), slot, recorded).await;
    }

    pub(super) async fn countersign_begin(
        &self,
        slot: String,
        participant: String,
    ) -> Result<(), ErrorBody> {
        let by = self.id.clone();
        self.session.countersign_begin(by, slot, participant).await
    }

    pub(super) async fn countersign_end(
        &self,
        slot: String,
        participant: String,
        recorded: Option<(i64, String)>,
    ) {
        let by = self.id.clone();
        self.session
            .countersign_end(by, slot, participant, recorded)
            .await;
    }

    pub(super) async fn open_signin(&self) -> Result<(), ErrorBody> {
        self.session.open_signin(self.id.clone()).await
    }

    pub(super) async fn recording_consent(
        &self,
        granted: bool,
        event: NewEvent,
    ) -> Result<Result<Appended, LedgerError>, JoinError> {
        let id = self.id.clone();
        self.session.recording_consent(id, granted, event).await
    }

    pub(super) async fn sponsor_share(&self, granted: bool) {
        self.session.sponsor_share(self.id.clone(), granted).await;
    }

    pub(super) async fn arm(&self, armed: bool) -> Result<(), ErrorBody> {
        self.session.arm(self.id.clone(), armed).await
    }

    pub(super) async fn control(&self, request: ControlRequest) -> Result<(), ErrorBody> {
        self.session.control(request).await
    }
}
