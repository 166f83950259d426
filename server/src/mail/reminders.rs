//! Which reminders are due, queued once each (the queue's unique
//! `occasion` makes a second look, or a restart, queue nothing new):
//!
//! - **before a session**: for each configured delay (24 h and 1 h by
//!   default) whose moment has come and was after the session was
//!   created, only the nearest one (a server down for a day sends one
//!   reminder, not two at once); a postponed session's new start gives new
//!   occasions;
//! - **a half-day not signed**: once a half-day's planned part is over
//!   while its sign-in is still open (the window was opened and the grace
//!   after the slot has not run out), each participant who has not signed
//!   it gets one mail for that half-day.
//!
//! Reminders go only to people the organiser had invited by mail.

use super::MailSettings;
use crate::app::App;
use crate::directory::catalog::Session;
use crate::directory::outbox::{self, MailKind};
use crate::error::ApiError;
use crate::live::signin::WINDOW_GRACE_MS;
use cadre_protocol::attendance::Schedule;
use cadre_protocol::evidence::kind;
use cadre_protocol::{Role, SessionState};
use std::collections::HashSet;
use std::time::Duration;

/// Queues the reminders due at `now` (ms).
pub async fn queue_due(app: &App, settings: &MailSettings, now: i64) -> Result<(), ApiError> {
    let sessions = app.catalog().run(|c| c.list_sessions()).await?;
    for (session, _) in sessions {
        if let Some(occasion) = before_start(&session, &settings.reminders, now) {
            let sid = session.id.clone();
            let queued = app
                .catalog()
                .run(move |c| {
                    c.in_sql_transaction(|tx| {
                        let people = outbox::invited(tx, &sid)?;
                        outbox::queue_each(tx, &sid, &people, MailKind::Reminder, &occasion, now)
                    })
                })
                .await?;
            if queued > 0 {
                tracing::info!(sid = %session.id, queued, "reminders queued");
            }
        }
        for slot in unsigned_slots_closing(&session, now) {
            signin_reminders(app, &session, &slot, now).await?;
        }
    }
    Ok(())
}

/// The occasion of the reminder due now before `session`, if one is.
pub fn before_start(session: &Session, delays: &[Duration], now: i64) -> Option<String> {
    if !matches!(
        session.state,
        SessionState::Scheduled | SessionState::Open | SessionState::Postponed
    ) {
        return None;
    }
    let start = session.planned_start.timestamp_millis();
    if now >= start {
        return None;
    }
    let created = session.created_at.timestamp_millis();
    delays
        .iter()
        .map(|d| d.as_millis() as i64)
        .filter(|d| {
            let moment = start - d;
            moment <= now && moment >= created
        })
        .min()
        .map(|d| format!("reminder:{}:{start}", d / 1000))
}

/// The half-days of `session` whose planned part is over and whose
/// sign-in may still be open at `now`.
fn unsigned_slots_closing(session: &Session, now: i64) -> Vec<String> {
    if session.state == SessionState::Ended {
        return Vec::new();
    }
    let schedule = Schedule {
        planned_start: session.planned_start.timestamp_millis(),
        planned_end: session.planned_end.timestamp_millis(),
        time_zone: session.time_zone.name().to_owned(),
    };
    cadre_protocol::attendance::slots(&schedule)
        .into_iter()
        .filter(|(_, _, end)| *end <= now && now < end + WINDOW_GRACE_MS)
        .map(|(id, _, _)| id)
        .collect()
}

/// Queues a sign-in reminder for `slot` to each invited participant who
/// has not signed it, when its sign-in was opened.
async fn signin_reminders(
    app: &App,
    session: &Session,
    slot: &str,
    now: i64,
) -> Result<(), ApiError> {
    let s = session.id.clone();
    let participants: Vec<_> = app
        .catalog()
        .run(move |c| c.with_sql(|db| outbox::invited(db, &s)))
        .await?
        .into_iter()
        .filter(|p| p.role == Role::Participant)
        .collect();
    if participants.is_empty() {
        // Nobody to remind: the ledger is not read.
        return Ok(());
    }
    let entries = app.log(&session.id, u64::MAX).await?;
    let in_slot = |e: &&cadre_protocol::evidence::Entry| {
        e.payload_value().get("slot").and_then(|v| v.as_str()) == Some(slot)
    };
    if !entries
        .iter()
        .filter(in_slot)
        .any(|e| e.kind == kind::SIGNIN_OPENED)
    {
        return Ok(());
    }
    let signed: HashSet<String> = entries
        .iter()
        .filter(in_slot)
        .filter(|e| e.kind == kind::SIGNED_IN)
        .map(|e| e.actor.clone())
        .collect();
    let (sid, occasion) = (session.id.clone(), format!("signin:{slot}"));
    let queued = app
        .catalog()
        .run(move |c| {
            let people: Vec<_> = participants
                .into_iter()
                .filter(|p| !signed.contains(&p.person_id))
                .collect();
            c.in_sql_transaction(|tx| {
                outbox::queue_each(tx, &sid, &people, MailKind::SigninReminder, &occasion, now)
            })
        })
        .await?;
    if queued > 0 {
        tracing::info!(sid = %session.id, slot, queued, "sign-in reminders queued");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn session(created_h: i64) -> Session {
        let start = Utc.with_ymd_and_hms(2026, 12, 10, 8, 0, 0).unwrap();
        Session {
            id: "s_1".into(),
            title: "Atelier".into(),
            kind: cadre_protocol::SessionKind::Formation,
            organisation: "Organisme".into(),
            planned_start: start,
            planned_end: start + chrono::Duration::hours(3),
            time_zone: chrono_tz::Europe::Paris,
            sponsor: None,
            state: SessionState::Scheduled,
            created_at: start - chrono::Duration::hours(created_h),
            media: None,
            cancelled: false,
        }
    }

    const H: i64 = 3_600_000;

    #[test]
    fn the_nearest_reminder_whose_moment_has_come_goes_once() {
        let s = session(48);
        let delays = [Duration::from_secs(24 * 3600), Duration::from_secs(3600)];
        let start = s.planned_start.timestamp_millis();
        assert_eq!(before_start(&s, &delays, start - 25 * H), None);
        assert_eq!(
            before_start(&s, &delays, start - 23 * H).as_deref(),
            Some(format!("reminder:86400:{start}").as_str())
        );
        // Down for the day: one reminder, the nearest.
        assert_eq!(
            before_start(&s, &delays, start - H / 2).as_deref(),
            Some(format!("reminder:3600:{start}").as_str())
        );
        assert_eq!(before_start(&s, &delays, start), None);
    }

    #[test]
    fn a_session_made_after_a_reminder_moment_gets_only_the_later_ones() {
        let s = session(5);
        let delays = [Duration::from_secs(24 * 3600), Duration::from_secs(3600)];
        let start = s.planned_start.timestamp_millis();
        assert_eq!(before_start(&s, &delays, start - 2 * H), None);
        assert!(before_start(&s, &delays, start - H / 2).is_some());
        let mut ended = s.clone();
        ended.state = SessionState::Ended;
        assert_eq!(before_start(&ended, &delays, start - H / 2), None);
    }

    #[test]
    fn a_half_day_is_due_after_its_end_while_its_sheet_may_be_open() {
        let s = session(48);
        let end = s.planned_end.timestamp_millis();
        assert!(unsigned_slots_closing(&s, end - 1).is_empty());
        assert_eq!(unsigned_slots_closing(&s, end), ["2026-12-10.am"]);
        assert!(unsigned_slots_closing(&s, end + WINDOW_GRACE_MS).is_empty());
    }
}
