//! Consent decisions and arming the recorder. A `recording` decision goes
//! through the session actor, which orders it with the gate; the others
//! are written here.

use super::Connection;
use crate::evidence::ledger::NewEvent;
use cadre_protocol::evidence::kind;
use cadre_protocol::signalling::ServerMessage;
use cadre_protocol::{ErrorCode, Role};

impl Connection<'_> {
    /// Records a consent decision for a wording of this session.
    pub(super) async fn consent(&mut self, consent: String, granted: bool, text_sha256: String) {
        // Worked out per decision (a few a session), not kept per connection.
        let texts = cadre_protocol::consent::texts(self.sponsor.as_deref());
        if !texts.iter().any(|t| t.consent == consent) {
            self.out.error(
                ErrorCode::InvalidInput,
                &format!("{consent:?} is not a consent asked in this session"),
            );
            return;
        }
        if !cadre_protocol::consent::known(&texts, &consent, &text_sha256) {
            self.out.error(
                ErrorCode::InvalidInput,
                "text_sha256 is not the hash of a wording of this consent: show the session's text",
            );
            return;
        }
        let recording = consent == cadre_protocol::evidence::consent::RECORDING;
        let payload = serde_json::json!({
            "consent": consent, "granted": granted, "text_sha256": text_sha256.to_ascii_lowercase(),
        });
        let recorded = if recording {
            // The session writes it: the gate's view of each person's
            // decision is then ordered with the ledger, whatever tab or
            // race (a withdrawal stops recording even before it is written).
            let event = NewEvent {
                sid: self.member.sid.clone(),
                kind: kind::CONSENT,
                actor: self.member.id.clone(),
                payload,
                client_ts: None,
            };
            match self.member.recording_consent(granted, event).await {
                Ok(written) => self.recorded(written),
                Err(_) => {
                    self.out.error(
                        ErrorCode::NotOpen,
                        "this tab has left the session: decide in the tab that is open; nothing was recorded",
                    );
                    None
                }
            }
        } else {
            let recorded = self.record(kind::CONSENT, payload, None).await;
            if recorded.is_some() && consent == cadre_protocol::evidence::consent::SPONSOR_SHARE {
                // Before the answer: a tab opened once the person reads it
                // shows this decision (the session keeps them, it does not
                // read the log at each join).
                self.member.sponsor_share(granted).await;
            }
            recorded
        };
        if let Some((at, _)) = recorded {
            self.out.send(&ServerMessage::ConsentRecorded {
                consent,
                granted,
                at,
            });
        }
    }

    /// Arms or disarms recording (facilitators). Disarming takes effect
    /// before it is written; arming is written before it takes effect.
    pub(super) async fn arm(&mut self, armed: bool) {
        if self.member.role != Role::Facilitator {
            self.out.error(
                ErrorCode::Forbidden,
                "only a facilitator arms or disarms recording",
            );
            return;
        }
        if !armed && let Err(e) = self.member.arm(false).await {
            self.out.error(e.code, &e.message);
            return;
        }
        let payload = serde_json::json!({"armed": armed});
        let recorded = self.record(kind::RECORDING_ARMED, payload, None).await;
        if armed
            && recorded.is_some()
            && let Err(e) = self.member.arm(true).await
        {
            self.out.error(e.code, &e.message);
        }
    }
}
