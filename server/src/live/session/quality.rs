//! Connection and presence quality in the actor: the glue to the pure
//! [`QualityTracker`](crate::live::quality::QualityTracker). Each view goes
//! to the facilitators and to the person it is about; finished minutes and
//! alerts go to the ledger; the optional policy suspends the session.

use super::actor::SessionActor;
use super::control::ControlRequest;
use super::now_ms;
use crate::live::outbound::{Outbound, encode};
use cadre_protocol::evidence::{ACTOR_SERVER, kind};
use cadre_protocol::quality::{ConnectionStats, ParticipantQuality};
use cadre_protocol::signalling::{ControlAction, ServerMessage};
use cadre_protocol::{Role, SessionState};

impl SessionActor {
    /// A member's connection figures (from their current connection only).
    pub(super) fn stats(&mut self, id: &str, connection_id: &str, report: &ConnectionStats) {
        if self.is_current(id, connection_id)
            && let Some(view) = self.quality.stats(id, report, now_ms())
        {
            self.push_quality(vec![view]);
        }
    }

    /// What the forwarding measured of a member's media.
    pub(super) fn server_quality(&mut self, id: &str, view: crate::live::quality::ServerView) {
        if let Some(view) = self.quality.server(id, view, now_ms()) {
            self.push_quality(vec![view]);
        }
    }

    /// A member's connection to the forwarding failed (`up`: the one
    /// carrying their media).
    pub(super) fn server_link_failed(&mut self, id: &str, up: bool) {
        if let Some(view) = self.quality.server_failed(id, up, now_ms()) {
            self.push_quality(vec![view]);
        }
    }

    /// A member's tab visibility and window focus.
    pub(super) fn presence(&mut self, id: &str, connection_id: &str, visible: bool, focused: bool) {
        if self.is_current(id, connection_id)
            && let Some(view) = self.quality.presence(id, visible, focused, now_ms())
        {
            self.push_quality(vec![view]);
        }
    }

    /// A member's camera went on or off.
    pub(super) fn quality_camera(&mut self, id: &str, camera: bool) {
        if let Some(view) = self.quality.camera(id, camera, now_ms()) {
            self.push_quality(vec![view]);
        }
    }

    /// A member joined: their view goes out, and a facilitator's console
    /// that (re)connects sees everyone's conditions.
    pub(super) fn quality_join(&mut self, id: &str, role: Role) {
        let view = self.quality.join(id, role, now_ms());
        if role == Role::Facilitator {
            let everyone = self.quality.all();
            self.send(
                id,
                Outbound::Text(encode(&ServerMessage::Quality { people: everyone })),
            );
        }
        self.push_quality(vec![view]);
    }

    /// A member left: their unfinished minutes are written.
    pub(super) fn quality_leave(&mut self, id: &str) {
        let summaries = self.quality.leave(id, now_ms());
        self.write_quality(summaries);
    }

    /// Each view goes to the facilitators and to the person it is about.
    fn push_quality(&mut self, views: Vec<ParticipantQuality>) {
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
            self.record(self.event(kind::QUALITY, person, payload), kind::QUALITY);
        }
    }

    /// Scores silence, closes minutes, evaluates the alert rules.
    pub(super) fn quality_tick(&mut self, now: i64) {
        let tick = self.quality.tick(now);
        if tick.is_empty() {
            return;
        }
        self.push_quality(tick.changed);
        self.write_quality(tick.summaries);
        for alert in tick.alerts {
            self.registry.settings.metrics.alert_raised(&alert.rule);
            let payload = serde_json::to_value(&alert).unwrap_or_default();
            let event = self.event(kind::ALERT, ACTOR_SERVER.to_owned(), payload);
            self.record(event, kind::ALERT);
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
