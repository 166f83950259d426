//! Sign-in in the actor: windows opened (automatically at each half-day, or
//! by a facilitator), sign-ins and countersignatures reserved, then
//! announced once the connection has written them. The rules are pure, in
//! [`crate::live::signin`]; this file asks them and does the sending and the
//! writing.

use super::actor::SessionActor;
use super::commands::Command;
use super::now_ms;
use crate::live::outbound::{Outbound, encode};
use cadre_protocol::ErrorBody;
use cadre_protocol::evidence::{ACTOR_SERVER, kind};
use cadre_protocol::signalling::ServerMessage;
use tokio::sync::oneshot;

impl SessionActor {
    /// Opens the current slot's automatic sign-in window, once: written to
    /// the ledger first, announced when durable.
    pub(super) fn open_due_window(&mut self, now: i64) {
        let Some((slot, closes_at)) = self.signins.due_automatic(now) else {
            return;
        };
        self.write_window(slot.id, closes_at, ACTOR_SERVER.to_owned());
    }

    fn write_window(&mut self, slot: String, closes_at: i64, actor: String) {
        if !self.opening.insert(slot.clone()) {
            return;
        }
        let event = self.event(
            kind::SIGNIN_OPENED,
            actor,
            serde_json::json!({"slot": slot, "closes_at": closes_at}),
        );
        self.record_then(event, "a sign-in window", move |written| async move {
            Some(if written {
                Command::WindowOpened { slot, closes_at }
            } else {
                Command::WindowFailed { slot }
            })
        });
    }

    /// A facilitator opens the current slot's window.
    pub(super) fn open_signin(
        &mut self,
        by: String,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    ) {
        let r = match self
            .signins
            .manual_window(self.is_facilitator(&by), now_ms())
        {
            Ok((slot, closes_at)) => {
                self.write_window(slot, closes_at, by);
                Ok(())
            }
            Err(e) => Err(e.into()),
        };
        let _ = reply.send(r);
    }

    /// A window opening is durable: everyone is told.
    pub(super) fn window_opened(&mut self, slot: String, closes_at: i64) {
        self.opening.remove(&slot);
        self.signins.record_window(&slot, closes_at);
        self.broadcast(&ServerMessage::SigninOpen { slot, closes_at }, None);
    }

    /// A window opening could not be written: it may be tried again.
    pub(super) fn window_failed(&mut self, slot: &str) {
        self.opening.remove(slot);
    }

    /// Reserves a person's sign-in while the connection writes it.
    pub(super) fn sign_begin(
        &mut self,
        id: &str,
        slot: &str,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    ) {
        let r = self
            .signins
            .begin_sign(id, slot, now_ms())
            .map_err(ErrorBody::from);
        let _ = reply.send(r);
    }

    /// A reserved sign-in was written (the facilitators are told) or
    /// abandoned.
    pub(super) fn sign_end(&mut self, id: &str, slot: &str, recorded: Option<(i64, String)>) {
        let at = recorded.as_ref().map(|(at, _)| *at);
        self.signins.end_sign(id, slot, at);
        if at.is_some() {
            self.send_signin_status(slot);
        }
    }

    /// Reserves a facilitator's countersignature while it is written.
    pub(super) fn countersign_begin(
        &mut self,
        by: &str,
        slot: &str,
        participant: &str,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    ) {
        let r = self
            .signins
            .begin_countersign(self.is_facilitator(by), participant, slot)
            .map_err(ErrorBody::from);
        let _ = reply.send(r);
    }

    /// A reserved countersignature was written or abandoned. Written: the
    /// facilitators and the participant are told, and the participant and
    /// the countersigner get the entry.
    pub(super) fn countersign_end(
        &mut self,
        by: &str,
        slot: &str,
        participant: &str,
        recorded: Option<(i64, String)>,
    ) {
        let at = recorded.as_ref().map(|(at, _)| *at);
        self.signins.end_countersign(participant, slot, at);
        if let Some((at, entry)) = recorded {
            let msg = encode(&ServerMessage::Countersigned {
                slot: slot.to_owned(),
                participant: participant.to_owned(),
                at,
            });
            let evidence = encode(&ServerMessage::EvidenceRecorded { entry });
            let mut to: Vec<String> = self.facilitator_ids();
            if !to.iter().any(|id| id == participant) {
                to.push(participant.to_owned());
            }
            for id in to {
                self.send(&id, Outbound::Text(msg.clone()));
                if id == participant || id == by {
                    self.send(&id, Outbound::Text(evidence.clone()));
                }
            }
            self.send_signin_status(slot);
        }
    }

    /// Who signed and who was countersigned for `slot`, to the facilitators.
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

    /// A console that reloads sees the sign-ins made before.
    pub(super) fn send_signin_summaries(&mut self, id: &str) {
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
            self.send(id, Outbound::Text(encode(&msg)));
        }
    }
}
