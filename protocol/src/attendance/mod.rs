//! Attendance derived from ledger entries: half-day slots, connection
//! intervals merged across reconnections, connected and present time,
//! sign-ins, completion. The server builds sheets and proofs with it, and
//! the verifier recomputes the same figures from a proof's entries, so an
//! edited figure cannot pass.
//!
//! # Rules (docs/evidence.md, "Half-days and attendance")
//! - **Slots**: the planned window cut at local midnight and at local 13:00
//!   in the session's time zone (DST-correct); ids `YYYY-MM-DD.am|pm`.
//! - **Connection intervals**, per `connection_id`: from `connection_opened`
//!   to `connection_closed` (at `last_seen` when the reason is `timeout`).
//!   A connection never closed counts until `now_ms` while the server that
//!   admitted it still runs. When a later `server_started` shows that the
//!   process ended without closing it (a crash), it counts only until the
//!   last entry that proves it alive (its opening, heartbeat summaries,
//!   visibility, focus or media changes): the downtime is never claimed.
//! - **Connected**: the union of every connection's intervals (reconnections
//!   and overlapping tabs count once), clipped to each slot's planned part.
//! - **Present**: connected through at least one tab that is visible
//!   (visible until a `visibility` entry says otherwise), outside any
//!   suspension (`session_state` to `suspended` until it leaves it).
//! - **Completion**: present ÷ planned seconds, capped at 1, 4 decimals.
//!
//! Only the person's own entries (actor is the person, or a countersignature
//! naming them) and the session-wide control entries are read, so the
//! server deriving over the whole log and a verifier deriving over the
//! entries of a proof get exactly the same figures.
//!
//! The same holds for what a proof states about consent and recording
//! ([`consent_history`], [`recordings`]): the person's `consent` entries,
//! and the entries of the recording segments they appear in, which
//! [`ProofScope`] adds to a proof.
//!
//! # Files
//! - `calendar`: the schedule cut into half-day slots, local times.
//! - `scope`: which entries are about whom, and what a proof carries.
//! - `figures`: connection intervals, connected and present time,
//!   completion: [`derive`](derive()).
//! - `consents`, `recordings`, `conditions`: the rest of what a proof
//!   states about the person, each from their own entries.

mod calendar;
mod conditions;
mod consents;
mod figures;
mod recordings;
mod scope;

#[cfg(test)]
mod tests;

pub use calendar::{
    AFTERNOON_STARTS_AT, DEFAULT_TIME_ZONE, MAX_SLOTS, Schedule, known_time_zone, local_time, slots,
};
pub use conditions::{Conditions, PoorMinute, SCORES, ScoreCounts, WORST_MINUTES, conditions};
pub use consents::{ConsentDecision, DecisionEffect, consent_history, decision_effects};
pub use figures::{
    HalfDay, Interval, PersonAttendance, SUSPENDED, Totals, completion, derive, slots_in_force,
};
pub use recordings::{RecordedFile, RecordedSegment, recordings};
pub use scope::{
    ProofScope, concerned_before_v3, concerns, in_proof, is_recording_segment, is_session_control,
    names_in_recording, recorded_segments, segment_of,
};

/// The string at `key` of an entry's payload, if it is one.
fn text<'a>(payload: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    payload.get(key).and_then(|v| v.as_str())
}
