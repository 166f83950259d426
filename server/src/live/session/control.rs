//! Session control in the actor: a facilitator (or the quality policy)
//! suspends, resumes, postpones, ends the session, or removes a person. A
//! control is checked against the state ([`check`], pure), written to the
//! ledger then the catalogue, and applied once durable, one at a time.

use super::actor::SessionActor;
use super::commands::Command;
use super::errors::{conflict, forbidden, invalid};
use super::now_ms;
use cadre_protocol::evidence::{ACTOR_SERVER, Entry, kind};
use cadre_protocol::signalling::{ControlAction, LeaveReason, ServerMessage, StateNotice};
use cadre_protocol::{ErrorBody, ErrorCode, SessionState};
use tokio::sync::oneshot;
use tracing::warn;

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

impl SessionActor {
    /// A facilitator's control: checked and reserved now (the reply), then
    /// written and applied.
    pub(super) fn control(
        &mut self,
        by: &str,
        request: ControlRequest,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    ) {
        let r = check(
            &request,
            by,
            self.info.state,
            self.controlling,
            self.is_facilitator(by),
            |who| self.people.contains_key(who),
        );
        let ok = r.is_ok();
        let _ = reply.send(r);
        if ok {
            // One control at a time, until this one is applied.
            self.controlling = true;
            self.control_write(request);
        }
    }

    /// The latest state decision in the log, shown to whoever joins (the
    /// names come from the catalogue).
    pub(super) fn load_notice(&mut self, entries: &[Entry]) {
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

    /// Writes the decision (ledger first, then the catalogue), then
    /// applies it when durable.
    pub(super) fn control_write(&mut self, request: ControlRequest) {
        let from = self.info.state;
        let to = target_state(request.action, from, self.resume_to);
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
        let event = self.event(kind, request.by.clone(), payload);
        let catalog = self.registry.catalog.clone();
        let sid = self.info.id.clone();
        self.record_then(event, "a control", move |written| async move {
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
            let applied = stored.then_some(notice);
            Some(Command::ControlApplied { request, applied })
        });
    }

    /// A control is durable (`Some`) or could not be written.
    pub(super) fn control_applied(
        &mut self,
        request: ControlRequest,
        applied: Option<StateNotice>,
    ) {
        self.controlling = false;
        if let Some(notice) = applied {
            self.control_apply(request, notice);
        }
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

/// Whether `by` may apply `request` now: a facilitator connected now, no
/// other control being written, and an action the session's `state`
/// allows; `remove` names someone else who `is_person` of the session.
pub(super) fn check(
    request: &ControlRequest,
    by: &str,
    state: SessionState,
    controlling: bool,
    by_facilitator: bool,
    is_person: impl Fn(&str) -> bool,
) -> Result<(), ErrorBody> {
    if !by_facilitator {
        return Err(forbidden("only a facilitator controls the session"));
    }
    if controlling {
        return Err(conflict("another control is being recorded; try again"));
    }
    let conflict_in = |what: &str| conflict(&format!("{what} (the session is {})", state.as_str()));
    match request.action {
        ControlAction::Suspend if !matches!(state, SessionState::Open | SessionState::Running) => {
            Err(conflict_in("only a session in progress can be suspended"))
        }
        ControlAction::Resume if state != SessionState::Suspended => {
            Err(conflict_in("only a suspended session can be resumed"))
        }
        ControlAction::Postpone | ControlAction::End if state == SessionState::Ended => {
            Err(conflict_in("the session has ended"))
        }
        ControlAction::Remove => {
            let Some(who) = &request.participant else {
                return Err(invalid("remove needs a participant"));
            };
            if who == by {
                return Err(invalid("a facilitator cannot remove themselves"));
            }
            if !is_person(who) {
                return Err(ErrorBody {
                    code: ErrorCode::NotFound,
                    message: format!("{who:?} is not a person of this session"),
                });
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The state `action` leads to from `from`; a resumption returns to the
/// state the suspension left (`resume_to`).
pub(super) fn target_state(
    action: ControlAction,
    from: SessionState,
    resume_to: SessionState,
) -> SessionState {
    match action {
        ControlAction::Suspend => SessionState::Suspended,
        ControlAction::Resume => resume_to,
        ControlAction::Postpone => SessionState::Postponed,
        ControlAction::End => SessionState::Ended,
        ControlAction::Remove => from,
    }
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(action: ControlAction) -> ControlRequest {
        ControlRequest {
            by: "f1".into(),
            action,
            reason: "why".into(),
            window: None,
            participant: None,
        }
    }

    fn checked(action: ControlAction, state: SessionState) -> Result<(), ErrorBody> {
        check(&request(action), "f1", state, false, true, |_| true)
    }

    fn code(r: Result<(), ErrorBody>) -> ErrorCode {
        r.expect_err("expected a refusal").code
    }

    #[test]
    fn only_a_facilitator_controls_and_one_control_at_a_time() {
        let r = request(ControlAction::Suspend);
        let refused = check(&r, "p1", SessionState::Running, false, false, |_| true);
        assert_eq!(code(refused), ErrorCode::Forbidden);
        let busy = check(&r, "f1", SessionState::Running, true, true, |_| true);
        assert_eq!(code(busy), ErrorCode::Conflict);
    }

    #[test]
    fn suspend_only_in_progress() {
        assert!(checked(ControlAction::Suspend, SessionState::Open).is_ok());
        assert!(checked(ControlAction::Suspend, SessionState::Running).is_ok());
        let r = checked(ControlAction::Suspend, SessionState::Suspended);
        let e = r.expect_err("a suspended session is not suspended again");
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(
            e.message,
            "only a session in progress can be suspended (the session is suspended)"
        );
    }

    #[test]
    fn resume_only_when_suspended() {
        assert!(checked(ControlAction::Resume, SessionState::Suspended).is_ok());
        assert_eq!(
            code(checked(ControlAction::Resume, SessionState::Running)),
            ErrorCode::Conflict
        );
    }

    #[test]
    fn postpone_and_end_until_ended() {
        for action in [ControlAction::Postpone, ControlAction::End] {
            assert!(checked(action, SessionState::Suspended).is_ok());
            assert_eq!(
                code(checked(action, SessionState::Ended)),
                ErrorCode::Conflict
            );
        }
    }

    #[test]
    fn remove_needs_someone_else_of_the_session() {
        let mut r = request(ControlAction::Remove);
        let state = SessionState::Running;
        assert_eq!(
            code(check(&r, "f1", state, false, true, |_| true)),
            ErrorCode::InvalidInput
        );
        r.participant = Some("f1".into());
        assert_eq!(
            code(check(&r, "f1", state, false, true, |_| true)),
            ErrorCode::InvalidInput
        );
        r.participant = Some("stranger".into());
        assert_eq!(
            code(check(&r, "f1", state, false, true, |who| who == "p1")),
            ErrorCode::NotFound
        );
        r.participant = Some("p1".into());
        assert!(check(&r, "f1", state, false, true, |who| who == "p1").is_ok());
    }

    #[test]
    fn each_action_leads_to_its_state_and_resume_returns() {
        use SessionState::*;
        assert_eq!(
            target_state(ControlAction::Suspend, Running, Open),
            Suspended
        );
        assert_eq!(
            target_state(ControlAction::Resume, Suspended, Running),
            Running
        );
        assert_eq!(target_state(ControlAction::Postpone, Open, Open), Postponed);
        assert_eq!(target_state(ControlAction::End, Suspended, Open), Ended);
        assert_eq!(target_state(ControlAction::Remove, Running, Open), Running);
    }
}
