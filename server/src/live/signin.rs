//! Half-day sign-in (émargement) state of one live session: which windows
//! are open, who signed, who was countersigned. The ledger is the source of
//! truth; this is its in-memory index, rebuilt from the ledger when a
//! session actor starts, and the place where requests are checked before
//! anything is written.
//!
//! Pure logic, no clock and no I/O, like [`crate::live::quality`]: the
//! session actor passes the time (`now`, ms) and what it knows of the asker
//! (whether they are a facilitator connected now) to every check, and does
//! the writing. How the actor uses it:
//! - [`Signins::due_automatic`] on every turn of its loop (and a timer at
//!   [`Signins::next_boundary`]): write `signin_opened`, then
//!   [`Signins::record_window`] once durable;
//! - [`Signins::manual_window`] when a facilitator opens the sign-in;
//! - [`Signins::begin_sign`] / [`Signins::end_sign`] around writing a
//!   sign-in, [`Signins::begin_countersign`] /
//!   [`Signins::end_countersign`] around a countersignature;
//! - a refusal goes back to the client as the [`ErrorBody`] it converts to.

use cadre_protocol::attendance::Schedule;
use cadre_protocol::evidence::{Entry, kind};
use cadre_protocol::signalling::SlotStatus;
use cadre_protocol::{ErrorBody, ErrorCode};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How long after a slot's planned end its automatic window stays open.
pub const WINDOW_GRACE_MS: i64 = 30 * 60 * 1000;
/// How long a window opened by the facilitator stays open.
pub const MANUAL_WINDOW_MS: i64 = 15 * 60 * 1000;

/// One half-day slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// `YYYY-MM-DD.am|pm`.
    pub id: String,
    /// Planned start of the session's part in this slot (ms).
    pub start: i64,
    /// Planned end (ms).
    pub end: i64,
}

/// Why a sign-in or countersignature is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigninError {
    /// Not a slot of this session.
    #[error("{0} is not a half-day of this session")]
    UnknownSlot(String),
    /// The slot's window is not open now.
    #[error("the sign-in for {0} is not open")]
    Closed(String),
    /// Already signed (or a sign-in is being recorded).
    #[error("already signed in for {0}")]
    AlreadySigned(String),
    /// The participant has not signed that slot.
    #[error("{0} has not signed in for {1}")]
    NotSigned(String, String),
    /// Already countersigned.
    #[error("{0} is already countersigned for {1}")]
    AlreadyCountersigned(String, String),
    /// Only a facilitator (connected now) may do this: what they would do.
    #[error("only a facilitator {0}")]
    NotFacilitator(&'static str),
    /// No half-day of the session is in progress (a window is opened only
    /// for the current one).
    #[error("no half-day of this session is in progress")]
    NoneInProgress,
}

impl From<SigninError> for ErrorBody {
    fn from(e: SigninError) -> ErrorBody {
        let code = match e {
            SigninError::UnknownSlot(_) => ErrorCode::InvalidInput,
            SigninError::Closed(_) | SigninError::NoneInProgress => ErrorCode::NotOpen,
            SigninError::NotFacilitator(_) => ErrorCode::Forbidden,
            SigninError::AlreadySigned(_)
            | SigninError::NotSigned(..)
            | SigninError::AlreadyCountersigned(..) => ErrorCode::Conflict,
        };
        ErrorBody::new(code, e.to_string())
    }
}

/// The sign-in index of one session.
#[derive(Debug, Default)]
pub struct Signins {
    slots: Vec<Slot>,
    /// Window closing time per slot, for windows opened so far.
    windows: HashMap<String, i64>,
    /// slot → person → sign-in time.
    signed: HashMap<String, BTreeMap<String, i64>>,
    /// slot → person → countersignature time.
    countersigned: HashMap<String, BTreeMap<String, i64>>,
    /// (slot, person) being recorded right now.
    pending: HashSet<(String, String)>,
}

impl Signins {
    /// The index for a schedule, rebuilt from the session's ledger entries.
    pub fn load(schedule: &Schedule, entries: &[Entry]) -> Signins {
        let slots = cadre_protocol::attendance::slots(schedule)
            .into_iter()
            .map(|(id, start, end)| Slot { id, start, end })
            .collect();
        let mut s = Signins {
            slots,
            ..Signins::default()
        };
        for e in entries {
            let p = e.payload_value();
            let slot = p.get("slot").and_then(|v| v.as_str()).unwrap_or_default();
            match e.kind.as_str() {
                kind::SIGNIN_OPENED => {
                    if let Some(closes) = p.get("closes_at").and_then(|v| v.as_i64()) {
                        s.record_window(slot, closes);
                    }
                }
                kind::SIGNED_IN => {
                    s.signed
                        .entry(slot.to_owned())
                        .or_default()
                        .insert(e.actor.clone(), e.ts);
                }
                kind::COUNTERSIGNED => {
                    if let Some(who) = p.get("participant").and_then(|v| v.as_str()) {
                        s.countersigned
                            .entry(slot.to_owned())
                            .or_default()
                            .insert(who.to_owned(), e.ts);
                    }
                }
                _ => {}
            }
        }
        s
    }

    /// The session was postponed: the slots follow the new `schedule`;
    /// windows, sign-ins and countersignatures already made stay (a
    /// sign-in made before a postponement still counts, under its half-day).
    pub fn replan(&mut self, schedule: &Schedule) {
        self.slots = cadre_protocol::attendance::slots(schedule)
            .into_iter()
            .map(|(id, start, end)| Slot { id, start, end })
            .collect();
    }

    /// Every slot of the session.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// The slot containing `now`, if any.
    pub fn current(&self, now: i64) -> Option<&Slot> {
        self.slots.iter().find(|s| s.start <= now && now < s.end)
    }

    /// The slot whose automatic window should open at `now` and has not been
    /// recorded yet: the current slot, once.
    pub fn due_automatic(&self, now: i64) -> Option<(Slot, i64)> {
        let slot = self.current(now)?;
        if self.windows.contains_key(&slot.id) {
            return None;
        }
        Some((slot.clone(), slot.end + WINDOW_GRACE_MS))
    }

    /// The next instant at which an automatic window is due (for the timer).
    pub fn next_boundary(&self, now: i64) -> Option<i64> {
        self.slots
            .iter()
            .map(|s| s.start)
            .filter(|&t| t > now)
            .min()
    }

    /// Records a window as opened (it may only be extended, never shortened).
    pub fn record_window(&mut self, slot: &str, closes_at: i64) {
        let w = self.windows.entry(slot.to_owned()).or_insert(closes_at);
        *w = (*w).max(closes_at);
    }

    /// The window a facilitator opens at `now`: the current slot's, for
    /// [`MANUAL_WINDOW_MS`] from now, never shortening one already open.
    /// Answers the slot and the closing time to write.
    pub fn manual_window(
        &self,
        by_facilitator: bool,
        now: i64,
    ) -> Result<(String, i64), SigninError> {
        if !by_facilitator {
            return Err(SigninError::NotFacilitator("opens the sign-in"));
        }
        let slot = self.current(now).ok_or(SigninError::NoneInProgress)?;
        let closes_at = (now + MANUAL_WINDOW_MS).max(self.open_until(&slot.id, now).unwrap_or(0));
        Ok((slot.id.clone(), closes_at))
    }

    /// The open window's closing time for `slot` at `now`.
    pub fn open_until(&self, slot: &str, now: i64) -> Option<i64> {
        self.windows.get(slot).copied().filter(|&c| now < c)
    }

    /// Checks a sign-in and reserves it while it is being recorded.
    pub fn begin_sign(&mut self, person: &str, slot: &str, now: i64) -> Result<(), SigninError> {
        if !self.slots.iter().any(|s| s.id == slot) {
            return Err(SigninError::UnknownSlot(slot.to_owned()));
        }
        if self.open_until(slot, now).is_none() {
            return Err(SigninError::Closed(slot.to_owned()));
        }
        let key = (slot.to_owned(), person.to_owned());
        let signed = self
            .signed
            .get(slot)
            .is_some_and(|m| m.contains_key(person));
        if signed || self.pending.contains(&key) {
            return Err(SigninError::AlreadySigned(slot.to_owned()));
        }
        self.pending.insert(key);
        Ok(())
    }

    /// Ends a reserved sign-in: recorded at `at`, or abandoned (`None`).
    pub fn end_sign(&mut self, person: &str, slot: &str, at: Option<i64>) {
        self.pending.remove(&(slot.to_owned(), person.to_owned()));
        if let Some(at) = at {
            self.signed
                .entry(slot.to_owned())
                .or_default()
                .insert(person.to_owned(), at);
        }
    }

    /// Checks a countersignature by a facilitator (`by_facilitator`) of
    /// `participant`'s sign-in, and reserves it.
    pub fn begin_countersign(
        &mut self,
        by_facilitator: bool,
        participant: &str,
        slot: &str,
    ) -> Result<(), SigninError> {
        if !by_facilitator {
            return Err(SigninError::NotFacilitator("countersigns"));
        }
        if !self.slots.iter().any(|s| s.id == slot) {
            return Err(SigninError::UnknownSlot(slot.to_owned()));
        }
        if !self
            .signed
            .get(slot)
            .is_some_and(|m| m.contains_key(participant))
        {
            return Err(SigninError::NotSigned(
                participant.to_owned(),
                slot.to_owned(),
            ));
        }
        let key = (format!("countersign:{slot}"), participant.to_owned());
        let done = self
            .countersigned
            .get(slot)
            .is_some_and(|m| m.contains_key(participant));
        if done || self.pending.contains(&key) {
            return Err(SigninError::AlreadyCountersigned(
                participant.to_owned(),
                slot.to_owned(),
            ));
        }
        self.pending.insert(key);
        Ok(())
    }

    /// Ends a reserved countersignature.
    pub fn end_countersign(&mut self, participant: &str, slot: &str, at: Option<i64>) {
        self.pending
            .remove(&(format!("countersign:{slot}"), participant.to_owned()));
        if let Some(at) = at {
            self.countersigned
                .entry(slot.to_owned())
                .or_default()
                .insert(participant.to_owned(), at);
        }
    }

    /// Slot statuses as one person sees them.
    pub fn statuses(&self, person: &str, now: i64) -> Vec<SlotStatus> {
        self.slots
            .iter()
            .map(|s| SlotStatus {
                slot: s.id.clone(),
                start: s.start,
                end: s.end,
                signin_closes_at: self.open_until(&s.id, now),
                signed_at: self.signed.get(&s.id).and_then(|m| m.get(person)).copied(),
                countersigned_at: self
                    .countersigned
                    .get(&s.id)
                    .and_then(|m| m.get(person))
                    .copied(),
            })
            .collect()
    }

    /// Who signed and who was countersigned for a slot.
    pub fn slot_summary(&self, slot: &str) -> (Vec<(String, i64)>, Vec<String>) {
        let signed = self
            .signed
            .get(slot)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        let countersigned = self
            .countersigned
            .get(slot)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        (signed, countersigned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    /// Morning 9:00–12:00 and afternoon 13:00–17:00 of one day (ms).
    const AM: (i64, i64) = (9 * H, 12 * H);
    const PM: (i64, i64) = (13 * H, 17 * H);

    fn day() -> Signins {
        Signins {
            slots: vec![
                Slot {
                    id: "2026-12-02.am".into(),
                    start: AM.0,
                    end: AM.1,
                },
                Slot {
                    id: "2026-12-02.pm".into(),
                    start: PM.0,
                    end: PM.1,
                },
            ],
            ..Signins::default()
        }
    }

    /// The day with the morning's automatic window recorded as open.
    fn morning_open() -> Signins {
        let mut s = day();
        s.record_window("2026-12-02.am", AM.1 + WINDOW_GRACE_MS);
        s
    }

    fn code(e: SigninError) -> ErrorCode {
        ErrorBody::from(e).code
    }

    #[test]
    fn the_current_slot_is_the_one_containing_now() {
        let s = day();
        assert_eq!(s.current(AM.0 - 1), None);
        assert_eq!(
            s.current(AM.0).map(|s| s.id.as_str()),
            Some("2026-12-02.am")
        );
        assert_eq!(s.current(AM.1), None, "the end is outside the slot");
        assert_eq!(
            s.current(PM.0 + 1).map(|s| s.id.as_str()),
            Some("2026-12-02.pm")
        );
    }

    #[test]
    fn an_automatic_window_is_due_once_per_slot_until_grace_after_its_end() {
        let mut s = day();
        assert_eq!(s.due_automatic(AM.0 - 1), None, "not before the slot");
        let (slot, closes_at) = s.due_automatic(AM.0 + 10).expect("due in the morning");
        assert_eq!(slot.id, "2026-12-02.am");
        assert_eq!(closes_at, AM.1 + WINDOW_GRACE_MS);
        s.record_window(&slot.id, closes_at);
        assert_eq!(s.due_automatic(AM.0 + 20), None, "once");
        assert_eq!(s.due_automatic(AM.1 + 1), None, "not between slots");
        assert!(
            s.due_automatic(PM.0).is_some(),
            "the afternoon's own window"
        );
    }

    #[test]
    fn the_timer_wakes_at_the_next_slot_start() {
        let s = day();
        assert_eq!(s.next_boundary(0), Some(AM.0));
        assert_eq!(s.next_boundary(AM.0), Some(PM.0));
        assert_eq!(s.next_boundary(PM.0), None);
    }

    #[test]
    fn a_window_is_extended_never_shortened_and_closes_at_its_time() {
        let mut s = day();
        s.record_window("2026-12-02.am", AM.1);
        s.record_window("2026-12-02.am", AM.0 + H);
        assert_eq!(s.open_until("2026-12-02.am", AM.0), Some(AM.1));
        assert_eq!(s.open_until("2026-12-02.am", AM.1), None);
        assert_eq!(s.open_until("2026-12-02.pm", PM.0), None, "never opened");
    }

    #[test]
    fn only_a_facilitator_opens_the_sign_in() {
        let e = day().manual_window(false, AM.0).unwrap_err();
        assert_eq!(code(e.clone()), ErrorCode::Forbidden);
        assert_eq!(e.to_string(), "only a facilitator opens the sign-in");
    }

    #[test]
    fn a_manual_window_needs_a_half_day_in_progress() {
        let e = day().manual_window(true, AM.1 + 1).unwrap_err();
        assert_eq!(e, SigninError::NoneInProgress);
        assert_eq!(code(e), ErrorCode::NotOpen);
    }

    #[test]
    fn a_manual_window_opens_for_fifteen_minutes_without_shortening_one_open() {
        let fresh = day().manual_window(true, AM.0 + 10).unwrap();
        assert_eq!(
            fresh,
            ("2026-12-02.am".to_owned(), AM.0 + 10 + MANUAL_WINDOW_MS)
        );
        let kept = morning_open().manual_window(true, AM.0 + 10).unwrap();
        assert_eq!(kept.1, AM.1 + WINDOW_GRACE_MS);
        // A shorter window already open is extended to fifteen minutes.
        let mut s = day();
        let minute = 60_000;
        s.record_window("2026-12-02.am", AM.0 + 20 * minute);
        let extended = s.manual_window(true, AM.0 + 10 * minute).unwrap();
        assert_eq!(extended.1, AM.0 + 25 * minute);
    }

    #[test]
    fn a_sign_in_needs_a_known_slot_with_an_open_window() {
        let mut s = day();
        let e = s.begin_sign("p1", "2026-12-03.am", AM.0).unwrap_err();
        assert_eq!(code(e), ErrorCode::InvalidInput);
        let e = s.begin_sign("p1", "2026-12-02.am", AM.0).unwrap_err();
        assert_eq!(e, SigninError::Closed("2026-12-02.am".into()));
        assert_eq!(code(e), ErrorCode::NotOpen);
        let mut s = morning_open();
        let after = AM.1 + WINDOW_GRACE_MS;
        let e = s.begin_sign("p1", "2026-12-02.am", after).unwrap_err();
        assert_eq!(code(e), ErrorCode::NotOpen, "closed at the grace's end");
    }

    #[test]
    fn a_person_signs_a_slot_once_even_while_it_is_being_recorded() {
        let mut s = morning_open();
        let slot = "2026-12-02.am";
        s.begin_sign("p1", slot, AM.0).unwrap();
        let e = s.begin_sign("p1", slot, AM.0).unwrap_err();
        assert_eq!(e, SigninError::AlreadySigned(slot.into()));
        assert_eq!(code(e), ErrorCode::Conflict);
        assert!(
            s.begin_sign("p2", slot, AM.0).is_ok(),
            "others are not held"
        );
        s.end_sign("p1", slot, Some(AM.0 + 5));
        assert!(s.begin_sign("p1", slot, AM.0 + 6).is_err(), "recorded");
        let status = &s.statuses("p1", AM.0 + 6)[0];
        assert_eq!(status.signed_at, Some(AM.0 + 5));
        assert_eq!(status.signin_closes_at, Some(AM.1 + WINDOW_GRACE_MS));
    }

    #[test]
    fn an_abandoned_sign_in_may_be_tried_again() {
        let mut s = morning_open();
        let slot = "2026-12-02.am";
        s.begin_sign("p1", slot, AM.0).unwrap();
        s.end_sign("p1", slot, None);
        assert!(s.begin_sign("p1", slot, AM.0).is_ok());
        assert_eq!(s.statuses("p1", AM.0)[0].signed_at, None);
    }

    #[test]
    fn only_a_facilitator_countersigns() {
        let mut s = morning_open();
        s.end_sign("p1", "2026-12-02.am", Some(AM.0));
        let e = s
            .begin_countersign(false, "p1", "2026-12-02.am")
            .unwrap_err();
        assert_eq!(code(e.clone()), ErrorCode::Forbidden);
        assert_eq!(e.to_string(), "only a facilitator countersigns");
    }

    #[test]
    fn a_countersignature_needs_a_known_slot_and_a_sign_in() {
        let mut s = morning_open();
        let e = s.begin_countersign(true, "p1", "nope").unwrap_err();
        assert_eq!(code(e), ErrorCode::InvalidInput);
        let e = s
            .begin_countersign(true, "p1", "2026-12-02.am")
            .unwrap_err();
        assert_eq!(
            e,
            SigninError::NotSigned("p1".into(), "2026-12-02.am".into())
        );
        assert_eq!(code(e), ErrorCode::Conflict);
    }

    #[test]
    fn a_sign_in_is_countersigned_once_and_an_abandoned_one_again() {
        let mut s = morning_open();
        let slot = "2026-12-02.am";
        s.end_sign("p1", slot, Some(AM.0));
        s.begin_countersign(true, "p1", slot).unwrap();
        let e = s.begin_countersign(true, "p1", slot).unwrap_err();
        assert_eq!(
            e,
            SigninError::AlreadyCountersigned("p1".into(), slot.into())
        );
        s.end_countersign("p1", slot, None);
        s.begin_countersign(true, "p1", slot).unwrap();
        s.end_countersign("p1", slot, Some(AM.0 + 9));
        assert!(s.begin_countersign(true, "p1", slot).is_err());
        // The window's closing does not matter to a countersignature.
        assert_eq!(s.statuses("p1", PM.1)[0].countersigned_at, Some(AM.0 + 9));
        let (signed, countersigned) = s.slot_summary(slot);
        assert_eq!(signed, vec![("p1".to_owned(), AM.0)]);
        assert_eq!(countersigned, vec!["p1".to_owned()]);
    }

    #[test]
    fn a_sign_in_and_a_countersignature_of_the_same_slot_are_held_apart() {
        let mut s = morning_open();
        let slot = "2026-12-02.am";
        s.end_sign("p1", slot, Some(AM.0));
        s.begin_countersign(true, "p1", slot).unwrap();
        // The person's own sign-in is recorded, whatever the reservation.
        let e = s.begin_sign("p1", slot, AM.0).unwrap_err();
        assert_eq!(e, SigninError::AlreadySigned(slot.into()));
    }
}
