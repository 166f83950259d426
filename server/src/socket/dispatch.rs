//! Dispatch: one text frame in, one handler called. The handlers live in
//! the files of their area; this file only checks the frame and routes it.

use super::Connection;
use crate::live::session::ScreenRequest;
use cadre_protocol::signalling::{ClientMessage, ServerMessage, parse_client_message};
use cadre_protocol::{ErrorCode, MAX_MESSAGE_BYTES};

/// People a `forward_view` may name: more than a session holds.
const MAX_VIEWS: usize = 64;

impl Connection<'_> {
    /// Handles one text frame; false when the connection must end.
    pub(super) async fn on_text(&mut self, text: &str) -> bool {
        if text.len() > MAX_MESSAGE_BYTES {
            self.out.error(
                ErrorCode::MessageTooLarge,
                &format!(
                    "message of {} bytes is over the {} byte limit; it was dropped",
                    text.len(),
                    MAX_MESSAGE_BYTES
                ),
            );
            return true;
        }
        self.out.about = None;
        let msg = match parse_client_message(text) {
            Ok(m) => m,
            Err(e) => {
                self.out.error(e.code, &e.message);
                return true;
            }
        };
        self.out.about = Some(msg.kind());
        match msg {
            ClientMessage::Signal { to, data } => self.member.relay(to, data).await,
            ClientMessage::Heartbeat { .. } => self.heartbeat().await,
            ClientMessage::MediaState { camera, microphone } => {
                self.media_state(camera, microphone).await;
            }
            ClientMessage::Presence {
                visible,
                focused,
                client_time,
            } => self.presence(visible, focused, client_time).await,
            ClientMessage::SignIn {
                slot,
                signature,
                client_time,
            } => self.sign_in(slot, signature, client_time).await,
            ClientMessage::OpenSignin => self.open_signin().await,
            ClientMessage::Countersign { slot, participant } => {
                self.countersign(slot, participant).await;
            }
            ClientMessage::GetEvidence => self.send_evidence().await,
            ClientMessage::Consent {
                consent,
                granted,
                text_sha256,
            } => self.consent(consent, granted, text_sha256).await,
            ClientMessage::Recording { armed } => self.arm(armed).await,
            ClientMessage::Stats { stats } => self.stats(stats).await,
            ClientMessage::Difficulty { text } => self.file_difficulty(&text).await,
            ClientMessage::Control {
                action,
                reason,
                start,
                end,
                participant,
            } => self.control(action, reason, start, end, participant).await,
            ClientMessage::Forward { side, data } => self.member.forward(side, data).await,
            ClientMessage::ForwardView { views } => {
                if views.len() > MAX_VIEWS {
                    self.out.error(
                        ErrorCode::InvalidInput,
                        &format!("views: at most {MAX_VIEWS} people"),
                    );
                } else {
                    let views = views.into_iter().map(|v| (v.id, v.quality)).collect();
                    self.member.forward_view(views).await;
                }
            }
            ClientMessage::Chat { text, to } => self.member.chat(text, to).await,
            ClientMessage::Hand {
                raised,
                participant,
            } => self.member.hand(raised, participant).await,
            ClientMessage::React { reaction } => self.member.react(reaction).await,
            ClientMessage::Mute { participant } => self.member.mute(participant).await,
            ClientMessage::Spotlight { participant } => self.member.spotlight(participant).await,
            ClientMessage::Share {
                sharing,
                audio,
                participant,
            } => {
                let request = ScreenRequest::Share {
                    sharing,
                    audio,
                    participant,
                };
                self.member.screen(request).await;
            }
            ClientMessage::SharePolicy {
                participant,
                allowed,
                takeover,
            } => {
                let request = ScreenRequest::Policy {
                    participant,
                    allowed,
                    takeover,
                };
                self.member.screen(request).await;
            }
            ClientMessage::Poll { question, choices } => self.member.poll(question, choices).await,
            ClientMessage::Answer { poll, choice } => self.member.answer(poll, choice).await,
            ClientMessage::ClosePoll { poll } => self.member.close_poll(poll).await,
            ClientMessage::Quiz { title, questions } => self.member.quiz(title, questions).await,
            ClientMessage::SubmitQuiz { quiz, answers } => {
                self.member.submit_quiz(quiz, answers).await;
            }
            ClientMessage::CloseQuiz { quiz } => self.member.close_quiz(quiz).await,
            ClientMessage::AskUnmute { participant } => {
                self.member.ask_unmute(participant).await;
            }
            ClientMessage::RecorderSignal { segment, data } => {
                self.member.recorder_signal(segment, data).await;
            }
            ClientMessage::Leave => {
                self.leave().await;
                return false;
            }
            _ => self
                .out
                .error(ErrorCode::UnknownMessageType, "unsupported message"),
        }
        true
    }

    /// A difficulty reported from the session (article 6): filed like one
    /// sent with the link, and answered with what was filed.
    async fn file_difficulty(&mut self, text: &str) {
        match self
            .app
            .file_difficulty(&self.member.sid, &self.member.id, text)
            .await
        {
            Ok(report) => self
                .out
                .send(&ServerMessage::Difficulty { difficulty: report }),
            Err(e) => self.out.error(e.code, &e.message),
        }
    }
}
