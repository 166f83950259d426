//! Half-day sign-in (émargement) state of one live session: which windows
//! are open, who signed, who was countersigned. The ledger is the source of
//! truth; this is its in-memory index, rebuilt from the ledger when a
//! session actor starts, and the place where requests are checked before
//! anything is written.

use cadre_protocol::attendance::Schedule;
use cadre_protocol::evidence::{Entry, kind};
use cadre_protocol::signalling::SlotStatus;
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

    /// Checks a countersignature and reserves it.
    pub fn begin_countersign(&mut self, participant: &str, slot: &str) -> Result<(), SigninError> {
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
