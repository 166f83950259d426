//! Attendance derived from ledger entries: half-day slots, connection
//! intervals merged across reconnections, connected and present time,
//! sign-ins, completion. The server builds sheets and proofs with it, and
//! the verifier recomputes the same figures from a proof's entries, so an
//! edited figure cannot pass.

use serde::{Deserialize, Serialize};

/// Local hour (session time zone) at which the afternoon starts.
pub const AFTERNOON_STARTS_AT: u32 = 13;

/// What the derivation needs to know about the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Planned start, UTC ms.
    pub planned_start: i64,
    /// Planned end, UTC ms.
    pub planned_end: i64,
    /// IANA time zone.
    pub time_zone: String,
}

/// One connection interval, UTC ms with its local rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    /// Start, UTC ms.
    pub start: i64,
    /// End, UTC ms.
    pub end: i64,
    /// Start, local time (RFC 3339 with offset) in the session's zone.
    pub start_local: String,
    /// End, local time.
    pub end_local: String,
}

/// One person's attendance in one half-day slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HalfDay {
    /// `YYYY-MM-DD.am` / `.pm`.
    pub slot: String,
    /// Planned start of the session's part in this slot, UTC ms.
    pub planned_start: i64,
    /// Planned end, UTC ms.
    pub planned_end: i64,
    /// Connection intervals (merged), clipped to nothing: as connected.
    pub intervals: Vec<Interval>,
    /// Connected time inside the planned part, seconds.
    pub connected_seconds: i64,
    /// Present time (connected, tab visible, session not suspended) inside
    /// the planned part, seconds.
    pub present_seconds: i64,
    /// present ÷ planned, 0.0–1.0, rounded to 4 decimals.
    pub completion: f64,
    /// Sign-in time, UTC ms.
    pub signed_in_at: Option<i64>,
    /// Countersignature time, UTC ms.
    pub countersigned_at: Option<i64>,
}

/// Totals over every slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Planned time, seconds.
    pub planned_seconds: i64,
    /// Connected time, seconds.
    pub connected_seconds: i64,
    /// Present time, seconds.
    pub present_seconds: i64,
    /// present ÷ planned, 0.0–1.0, rounded to 4 decimals.
    pub completion: f64,
}

/// One person's attendance over the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonAttendance {
    /// Participant id.
    pub person: String,
    /// Per slot, in order.
    pub half_days: Vec<HalfDay>,
    /// Over the session.
    pub totals: Totals,
    /// First connection, UTC ms.
    pub first_join: Option<i64>,
    /// Last disconnection, UTC ms (or the derivation time if still connected).
    pub last_leave: Option<i64>,
}
