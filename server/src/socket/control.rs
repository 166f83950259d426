//! A facilitator's control of the session (suspend, resume, postpone, end,
//! remove): the request is checked here, then by the actor against the
//! session's state.

use super::Connection;
use crate::live::session::ControlRequest;
use cadre_protocol::signalling::ControlAction;
use cadre_protocol::{ErrorCode, Role};

/// Longest reason for a control.
const MAX_REASON_CHARS: usize = 500;

impl Connection<'_> {
    /// A facilitator's control: checked here (role, reason, dates), then
    /// against the session's state by the actor, which records it and
    /// tells everyone.
    pub(super) async fn control(
        &mut self,
        action: ControlAction,
        reason: String,
        start: Option<String>,
        end: Option<String>,
        participant: Option<String>,
    ) {
        if self.member.role != Role::Facilitator {
            self.out.error(
                ErrorCode::Forbidden,
                "only a facilitator suspends, resumes, postpones, ends or removes",
            );
            return;
        }
        if action == ControlAction::Start {
            self.out.error(
                ErrorCode::InvalidInput,
                "a session starts by itself at its planned time, once someone is in the call: \
                 `start` is not a control",
            );
            return;
        }
        let reason = reason.trim().to_owned();
        if reason.is_empty() {
            self.out.error(
                ErrorCode::InvalidInput,
                "a reason is required: it is told to every participant and recorded",
            );
            return;
        }
        if reason.chars().count() > MAX_REASON_CHARS
            || reason.chars().any(|c| c.is_control() && c != '\n')
        {
            self.out.error(
                ErrorCode::InvalidInput,
                &format!("a reason is at most {MAX_REASON_CHARS} characters of text"),
            );
            return;
        }
        if let Some(c) = cadre_protocol::bidi_control(&reason) {
            self.out.error(
                ErrorCode::InvalidInput,
                &cadre_protocol::bidi_control_refusal("reason", c),
            );
            return;
        }
        if participant.is_some() != (action == ControlAction::Remove) {
            self.out.error(
                ErrorCode::InvalidInput,
                "`participant` goes with `remove`, and only with it",
            );
            return;
        }
        let window = if action == ControlAction::Postpone {
            match self.postponement(start.as_deref(), end.as_deref()) {
                Ok(w) => Some(w),
                Err(why) => {
                    self.out.error(ErrorCode::InvalidInput, &why);
                    return;
                }
            }
        } else if start.is_some() || end.is_some() {
            self.out.error(
                ErrorCode::InvalidInput,
                "`start` and `end` go with `postpone` only",
            );
            return;
        } else {
            None
        };
        let request = ControlRequest {
            by: self.member.id.clone(),
            action,
            reason,
            window,
            participant,
        };
        if let Err(e) = self.member.control(request).await {
            self.out.error(e.code, &e.message);
        }
    }

    /// The new window of a postponement: both ends given, in the future,
    /// end after start.
    fn postponement(
        &self,
        start: Option<&str>,
        end: Option<&str>,
    ) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), String> {
        let (Some(start), Some(end)) = (start, end) else {
            return Err("a postponement needs the new `start` and `end`".into());
        };
        let parse = |field: &str, v: &str| {
            crate::directory::catalog::parse_session_time(field, v, self.time_zone)
                .map_err(|e| e.to_string())
        };
        let start = parse("start", start)?;
        let end = parse("end", end)?;
        if start <= chrono::Utc::now() {
            return Err(
                "the new start is in the past: a session is postponed to a later date".into(),
            );
        }
        if end <= start {
            return Err("the new end must be after the new start".into());
        }
        if end - start > chrono::Duration::days(31) {
            return Err("a session lasts at most 31 days".into());
        }
        Ok((start, end))
    }
}
