//! Session control in the actor: a facilitator (or the quality policy)
//! suspends, resumes, postpones, ends the session, or removes a person. A
//! control is checked against the state ([`check`], pure), written to the
//! ledger then the catalogue, and applied once durable, one at a time.
//!
//! The server starts the session itself ([`starts_now`], pure): once the
//! planned start has come with someone in the call, an `open` session, or a
//! `postponed` one whose new window has begun, becomes `running` for
//! everyone connected, through the same write-then-apply path.

use super::actor::{SessionActor, append_or_warn};
use super::commands::Command;
use super::errors::{conflict, forbidden, invalid};
use super::now_ms;
use crate::directory::questionnaires::invite_due;
use crate::evidence::ledger::NewEvent;
use crate::live::outbound::{Outbound, encode};
use cadre_protocol::evidence::{ACTOR_ORGANISER, ACTOR_SERVER, Entry, kind};
use cadre_protocol::signalling::{ControlAction, LeaveReason, ServerMessage, StateNotice};
use cadre_protocol::{ErrorBody, ErrorCode, Refusal, SessionState};
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

/// Longest reason for a control.
pub const MAX_REASON_CHARS: usize = 500;

/// A control's reason, trimmed, or why it is refused: it is told to
/// everyone and recorded, so it is required, text, and short.
pub fn checked_reason(reason: &str) -> Result<String, String> {
    let reason = reason.trim().to_owned();
    if reason.is_empty() {
        return Err("a reason is required: it is told to every participant and recorded".into());
    }
    if reason.chars().count() > MAX_REASON_CHARS
        || reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(format!(
            "a reason is at most {MAX_REASON_CHARS} characters of text"
        ));
    }
    if let Some(c) = cadre_protocol::bidi_control(&reason) {
        return Err(cadre_protocol::bidi_control_refusal("reason", c));
    }
    Ok(reason)
}

/// The new window of a postponement, read in the session's `time_zone`:
/// both ends given, in the future, end after start, at most 31 days.
pub fn postponement_window(
    start: Option<&str>,
    end: Option<&str>,
    time_zone: chrono_tz::Tz,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), String> {
    let (Some(start), Some(end)) = (start, end) else {
        return Err("a postponement needs the new `start` and `end`".into());
    };
    let parse = |field: &str, v: &str| {
        crate::directory::catalog::parse_session_time(field, v, time_zone)
            .map_err(|e| e.to_string())
    };
    let start = parse("start", start)?;
    let end = parse("end", end)?;
    if start <= chrono::Utc::now() {
        return Err("the new start is in the past: a session is postponed to a later date".into());
    }
    if end <= start {
        return Err("the new end must be after the new start".into());
    }
    if end - start > chrono::Duration::days(31) {
        return Err("a session lasts at most 31 days".into());
    }
    Ok((start, end))
}

impl SessionActor {
    /// Staff move or cancel a session from the console (`by` is the
    /// organiser): only one that is not under way, whose facilitator would
    /// otherwise decide from the call. The reply comes once the decision
    /// is durable and applied.
    pub(super) fn staff_control(
        &mut self,
        request: ControlRequest,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    ) {
        if self.controlling {
            let _ = reply.send(Err(conflict(
                "another control is being recorded; try again",
            )
            .because(Refusal::DecisionInProgress, &[])));
            return;
        }
        let state = self.info.state;
        if !matches!(
            state,
            SessionState::Scheduled | SessionState::Open | SessionState::Postponed
        ) || !matches!(request.action, ControlAction::Postpone | ControlAction::End)
        {
            let reason = if state == SessionState::Ended {
                Refusal::SessionEnded
            } else {
                Refusal::SessionUnderWay
            };
            let _ = reply.send(Err(conflict(&format!(
                "the session is {}: a session under way or over is moved or ended by its \
                 facilitator, from the call",
                state.as_str()
            ))
            .because(reason, &[("state", state.as_str())])));
            return;
        }
        self.controlling = true;
        self.staff_reply = Some(reply);
        self.control_write(request);
    }

    /// A facilitator's control: checked and reserved now (the reply), then
    /// written and applied.
    pub(super) fn control(
        &mut self,
        by: &str,
        request: ControlRequest,
        reply: oneshot::Sender<Result<(), ErrorBody>>,
    ) {
        if self.starting && self.deferred.is_none() && self.is_facilitator(by) {
            // The server's own start is being written: the facilitator's
            // decision waits for it (a moment), instead of being refused
            // for something they did not do.
            self.deferred = Some((by.to_owned(), request, reply));
            return;
        }
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

    /// The log's last decision is the session's state: the catalogue's
    /// copy is written after it (and not synced at a start), so a crash
    /// between the two leaves the catalogue behind. Caught up here, before
    /// the actor decides anything on it (a second start, say), the
    /// postponement's window with it.
    pub(super) async fn catch_up_state(&mut self, entries: &[Entry]) {
        let Some((state, window)) = last_decision(entries) else {
            return;
        };
        let moved = window.filter(|(start, end)| {
            (start.timestamp_millis(), end.timestamp_millis())
                != (self.schedule.planned_start, self.schedule.planned_end)
        });
        if state == self.info.state && moved.is_none() {
            return;
        }
        warn!(
            catalogue = self.info.state.as_str(),
            ledger = state.as_str(),
            "the catalogue was behind the ledger on this session's state; catching it up"
        );
        self.info.state = state;
        if let Some((start, end)) = moved {
            self.info.planned_start = rfc3339(start);
            self.info.planned_end = rfc3339(end);
            self.schedule.planned_start = start.timestamp_millis();
            self.schedule.planned_end = end.timestamp_millis();
        }
        let sid = self.info.id.clone();
        let stored = self
            .registry
            .catalog
            .run_serial(move |c| match moved {
                Some((start, end)) if state == SessionState::Postponed => {
                    c.postpone(&sid, start, end)
                }
                _ => c.note_state(&sid, state),
            })
            .await;
        if let Err(e) = stored {
            warn!("the catalogue could not catch up with the ledger: {e}");
        }
    }

    /// The latest state decision in the log, shown to whoever joins (the
    /// names come from the catalogue).
    pub(super) fn load_notice(&mut self, entries: &[Entry]) {
        let Some(e) = last_state_entry(entries) else {
            return;
        };
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
        let (event, notice) = self.decision(&request, from, to);
        let catalog = self.registry.catalog.clone();
        let ledger = self.registry.ledger.clone();
        let sid = self.info.id.clone();
        let mail = self.registry.settings.mail.clone();
        self.record_then(event, "a control", move |written| async move {
            let stored = if written {
                let (r, s) = (request.clone(), sid.clone());
                let result = catalog
                    .run(move |c| match r.action {
                        ControlAction::Remove => c
                            .revoke_person(&s, r.participant.as_deref().unwrap_or_default())
                            .map(|_| ()),
                        ControlAction::Postpone => match r.window {
                            Some((start, end)) => c.postpone(&s, start, end),
                            None => Ok(()),
                        },
                        _ => c.set_state(&s, to),
                    })
                    .await;
                if let Err(e) = &result {
                    // The ledger holds the decision; the catalogue catches
                    // up on the next control. Applying it keeps both views
                    // honest with the log, which is what counts.
                    warn!("the catalogue could not store a control: {e}");
                }
                // The people invited by mail are sent the new dates.
                if let (Some(wake), Some((start, end)), true) = (
                    &mail,
                    request
                        .window
                        .filter(|_| request.action == ControlAction::Postpone),
                    result.is_ok(),
                ) {
                    let s = sid.clone();
                    match catalog
                        .run(move |c| {
                            crate::directory::outbox::queue_postponement(c, &s, start, end)
                        })
                        .await
                    {
                        Ok(_) => wake.notify_one(),
                        Err(e) => warn!("the postponement's mails could not be queued: {e}"),
                    }
                }
                // A cancellation by staff is marked in the catalogue (lists
                // say « annulée »), and told by mail when mail is sent.
                if request.action == ControlAction::End
                    && request.by == ACTOR_ORGANISER
                    && result.is_ok()
                {
                    let s = sid.clone();
                    let mails = mail.is_some();
                    match catalog
                        .run(move |c| crate::directory::outbox::queue_cancellation(c, &s, mails))
                        .await
                    {
                        Ok(_) => {
                            if let Some(wake) = &mail {
                                wake.notify_one();
                            }
                        }
                        Err(e) => warn!("the cancellation could not be marked or mailed: {e}"),
                    }
                }
                // Appreciation questionnaires (framework art. 2.1.6) are
                // asked at the end, before the pages are told of it.
                // Not for a session staff cancelled before it ran.
                if request.action == ControlAction::End
                    && request.by != ACTOR_ORGANISER
                    && let Err(e) = invite_due(&catalog, &ledger, &sid).await
                {
                    warn!("questionnaire invitations not all made: {e}");
                }
                true
            } else {
                false
            };
            let applied = stored.then(|| Box::new(notice));
            Some(Command::ControlApplied {
                request: Box::new(request),
                applied,
            })
        });
    }

    /// The ledger entry of a control from `from` to `to`, and the notice
    /// everyone gets once it is durable.
    fn decision(
        &self,
        request: &ControlRequest,
        from: SessionState,
        to: SessionState,
    ) -> (NewEvent, StateNotice) {
        let at = now_ms();
        let window = request.window.map(|(s, e)| (rfc3339(s), rfc3339(e)));
        let notice = StateNotice {
            state: to,
            action: request.action,
            reason: request.reason.clone(),
            by: if request.by == ACTOR_SERVER {
                "cadre".to_owned()
            } else if request.by == ACTOR_ORGANISER {
                self.info.organisation.clone()
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
            if request.action == ControlAction::Start {
                // The server's start has no reason to give.
                if let Some(o) = p.as_object_mut() {
                    o.remove("reason");
                }
            }
            if let Some((start, end)) = &window {
                p["planned_start"] = serde_json::json!(start);
                p["planned_end"] = serde_json::json!(end);
                // The window this one replaces: attendance before the
                // postponement counts within it (protocol::attendance).
                p["previous_start"] = serde_json::json!(self.info.planned_start);
                p["previous_end"] = serde_json::json!(self.info.planned_end);
            }
            (kind::SESSION_STATE, p)
        };
        (self.event(kind, request.by.clone(), payload), notice)
    }

    /// At the actor's start-up (a join spawned it): a session due to start
    /// ([`starts_now`]) is started before the first welcome, so that the
    /// person who opens it, and a reload in a postponed session's new
    /// window, join it running.
    pub(super) async fn start_at_load(&mut self) {
        let window = (self.schedule.planned_start, self.schedule.planned_end);
        // Started for staff's decision, nobody is there to start it for.
        if !self.for_join || !starts_now(self.info.state, now_ms(), window, true) {
            return;
        }
        let request = ControlRequest {
            by: ACTOR_SERVER.to_owned(),
            action: ControlAction::Start,
            reason: String::new(),
            window: None,
            participant: None,
        };
        let (event, notice) = self.decision(&request, self.info.state, SessionState::Running);
        if !append_or_warn(&self.registry.ledger, event, "the start").await {
            // Not recorded: the session is not started; the actor tries
            // again on its tick.
            return;
        }
        // The ledger holds the start: the catalogue's copy is not synced
        // (a wave of sessions starting would each wait for the disk), and
        // a lost one is caught up at the next load (`catch_up_state`).
        // On the catalogue's thread, in turn with the wave's admissions.
        let sid = self.info.id.clone();
        let stored = self
            .registry
            .catalog
            .run_serial(move |c| c.note_state(&sid, SessionState::Running))
            .await;
        if let Err(e) = stored {
            warn!("the catalogue could not store the start: {e}");
        }
        self.info.state = SessionState::Running;
        self.notice = Some(notice);
    }

    /// A control is durable (`Some`) or could not be written.
    pub(super) fn control_applied(
        &mut self,
        request: ControlRequest,
        applied: Option<StateNotice>,
    ) {
        self.controlling = false;
        self.starting = false;
        if let Some(reply) = self.staff_reply.take() {
            let _ = reply.send(if applied.is_some() {
                Ok(())
            } else {
                Err(ErrorBody::new(
                    ErrorCode::Internal,
                    "the decision could not be recorded; nothing changed",
                ))
            });
        }
        if let Some(notice) = applied {
            self.control_apply(request, notice);
        }
        if let Some((by, request, reply)) = self.deferred.take() {
            self.control(&by, request, reply);
        }
        self.start_if_due(now_ms());
    }

    /// Starts the session when [`starts_now`] says so: called after each
    /// join, each applied control and on the actor's tick, so the first
    /// join in a postponed session's new window (or the new start itself,
    /// with people waiting) opens it for everyone connected.
    pub(super) fn start_if_due(&mut self, now: i64) {
        if self.controlling
            || !starts_now(
                self.info.state,
                now,
                (self.schedule.planned_start, self.schedule.planned_end),
                !self.members.is_empty(),
            )
        {
            return;
        }
        self.controlling = true;
        self.starting = true;
        self.control_write(ControlRequest {
            by: ACTOR_SERVER.to_owned(),
            action: ControlAction::Start,
            reason: String::new(),
            window: None,
            participant: None,
        });
    }

    /// Applies a durable decision and tells everyone, with its reason.
    fn control_apply(&mut self, request: ControlRequest, notice: StateNotice) {
        let participant = request.participant.clone();
        if request.action == ControlAction::Remove {
            self.announce_removal(notice, participant.as_deref());
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
        if let Some((start, end)) = request.window {
            // The actor starts the session again when this window begins,
            // and its sign-in windows follow it.
            self.schedule.planned_start = start.timestamp_millis();
            self.schedule.planned_end = end.timestamp_millis();
            self.signins.replan(&self.schedule);
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
                    self.routes.remove(&id);
                    m.control.close(LeaveReason::Ended);
                }
            }
            self.update_gate("ended");
        }
    }
}

impl SessionActor {
    /// A removal's reason is about the removed person: it goes to them and
    /// to the facilitators; everyone else learns who was removed and by
    /// whom, with no reason (framework article 5: exchanges about a person
    /// stay confidential).
    fn announce_removal(&mut self, notice: StateNotice, participant: Option<&str>) {
        let told = |id: &str| Some(id) == participant;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        let full = encode_state(&notice, participant);
        let without_reason = encode_state(
            &StateNotice {
                reason: String::new(),
                ..notice
            },
            participant,
        );
        for id in ids {
            let text = if told(&id) || self.is_facilitator(&id) {
                full.clone()
            } else {
                without_reason.clone()
            };
            self.send(&id, Outbound::Text(text));
        }
    }
}

fn encode_state(notice: &StateNotice, participant: Option<&str>) -> axum::extract::ws::Utf8Bytes {
    encode(&ServerMessage::SessionState {
        notice: notice.clone(),
        participant: participant.map(str::to_owned),
    })
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
        ControlAction::Start => Err(invalid(
            "a session starts by itself at its planned time: `start` is not a control",
        )),
        ControlAction::Remove => {
            let Some(who) = &request.participant else {
                return Err(invalid("remove needs a participant"));
            };
            if who == by {
                return Err(invalid("a facilitator cannot remove themselves"));
            }
            if !is_person(who) {
                return Err(ErrorBody::new(
                    ErrorCode::NotFound,
                    format!("{who:?} is not a person of this session"),
                ));
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
        ControlAction::Start => SessionState::Running,
    }
}

/// Whether the server starts the session at `now`: its planned window
/// (`window`, UTC ms) is under way, someone is in the call, and it is
/// `open` (nobody started it yet) or `postponed` (the new window has
/// begun). A suspended or ended session is left to the facilitator's
/// decisions; a join in the grace time after the end starts nothing.
pub(super) fn starts_now(
    state: SessionState,
    now: i64,
    window: (i64, i64),
    someone_here: bool,
) -> bool {
    someone_here
        && window.0 <= now
        && now < window.1
        && matches!(state, SessionState::Open | SessionState::Postponed)
}

/// The state the log's last `session_state` entry moved the session to,
/// and the new window when it was a postponement.
type Decision = (
    SessionState,
    Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
);

fn last_decision(entries: &[Entry]) -> Option<Decision> {
    let p = last_state_entry(entries)?.payload_value();
    let state = serde_json::from_value::<SessionState>(p.get("to")?.clone()).ok()?;
    let at = |k: &str| {
        p.get(k)
            .and_then(|v| v.as_str())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let window = at("planned_start").zip(at("planned_end"));
    Some((state, window))
}

/// The log's last `session_state` entry.
fn last_state_entry(entries: &[Entry]) -> Option<&Entry> {
    entries
        .iter()
        .filter(|e| e.kind == kind::SESSION_STATE)
        .max_by_key(|e| e.seq)
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
    fn the_server_starts_an_open_or_postponed_session_in_its_window_with_someone_there() {
        use SessionState::*;
        let window = (1_000, 2_000);
        assert!(starts_now(Open, 1_000, window, true));
        assert!(starts_now(Postponed, 1_500, window, true));
        assert!(!starts_now(Open, 999, window, true), "not before the start");
        assert!(
            !starts_now(Postponed, 999, window, true),
            "nor before the new one"
        );
        assert!(!starts_now(Open, 2_000, window, true), "nor after the end");
        assert!(
            !starts_now(Open, 1_500, window, false),
            "nor with nobody there"
        );
        for state in [Running, Suspended, Ended, Scheduled] {
            assert!(
                !starts_now(state, 1_500, window, true),
                "{state} is left alone"
            );
        }
        assert_eq!(target_state(ControlAction::Start, Postponed, Open), Running);
        let start = ControlRequest {
            by: "f1".into(),
            action: ControlAction::Start,
            reason: "on commence".into(),
            window: None,
            participant: None,
        };
        let refused = check(&start, "f1", Open, false, true, |_| true);
        assert_eq!(code(refused), ErrorCode::InvalidInput);
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
