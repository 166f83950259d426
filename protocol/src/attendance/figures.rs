//! The figures: connection intervals merged across reconnections and tabs,
//! connected and present time per half-day, sign-ins, completion
//! ([`derive`]). Span arithmetic stays linear, since a verifier runs it on
//! untrusted files.

use super::calendar::{plan, render, zone};
use super::{Schedule, in_proof, text};
use crate::evidence::{Entry, kind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

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
    /// Merged connection intervals that touch this calendar half-day (local
    /// 00:00–13:00 or 13:00–24:00), not clipped: as connected. A connection
    /// held across 13:00 is listed in both half-days.
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

/// The `session_state` value that suspends presence.
pub const SUSPENDED: &str = "suspended";

/// Half-open `[start, end)` spans in UTC ms.
pub(super) type Span = (i64, i64);

/// Sorted, merged spans (touching spans join; empty spans are kept as
/// points so that a connection that lasted no time still shows).
pub(super) fn union(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|(a, b)| a <= b);
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `set` minus `holes`, both merged; linear in their lengths (a verifier
/// runs this on untrusted files).
pub(super) fn subtract(set: &[Span], holes: &[Span]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut first = 0;
    for &(a, b) in set {
        while first < holes.len() && holes[first].1 <= a {
            first += 1;
        }
        let mut from = a;
        for &(h0, h1) in &holes[first..] {
            if h0 >= b {
                break;
            }
            if h0 > from {
                out.push((from, h0));
            }
            from = from.max(h1);
            if from >= b {
                break;
            }
        }
        if from < b {
            out.push((from, b));
        }
    }
    out
}

/// Milliseconds of `set` inside `[start, end)`.
pub(super) fn overlap(set: &[Span], start: i64, end: i64) -> i128 {
    set.iter()
        .map(|&(a, b)| (i128::from(b.min(end)) - i128::from(a.max(start))).max(0))
        .sum()
}

fn seconds(ms: i128) -> i64 {
    i64::try_from(ms.div_euclid(1000)).unwrap_or(i64::MAX)
}

/// present ÷ planned, capped at 1, rounded to 4 decimals; 0 without a plan.
pub fn completion(present_seconds: i64, planned_seconds: i64) -> f64 {
    if planned_seconds <= 0 || present_seconds <= 0 {
        return 0.0;
    }
    let ratio = (present_seconds as f64 / planned_seconds as f64).min(1.0);
    (ratio * 10_000.0).round() / 10_000.0
}

/// One connection as the log tells it.
struct Connection {
    start: i64,
    end: Option<i64>,
    /// The latest entry proving it alive.
    alive: i64,
    /// `visibility` changes: (time, visible).
    visibility: Vec<(i64, bool)>,
}

impl Connection {
    /// Spans during which this connection's tab was visible.
    fn visible(&self, end: i64) -> Vec<Span> {
        let mut out = Vec::new();
        let (mut visible, mut since) = (true, self.start);
        for &(t, v) in &self.visibility {
            if v == visible {
                continue;
            }
            let t = t.clamp(self.start, end);
            if visible {
                out.push((since, t));
            } else {
                since = t;
            }
            visible = v;
        }
        if visible {
            out.push((since, end));
        }
        out
    }
}

/// What the log says about one person, before cutting into slots.
struct Timeline {
    connected: Vec<Span>,
    present: Vec<Span>,
    signed_in: BTreeMap<String, i64>,
    countersigned: BTreeMap<String, i64>,
}

fn timeline(entries: &[Entry], person: &str, now_ms: i64) -> Timeline {
    let mut sorted: Vec<&Entry> = entries.iter().filter(|e| in_proof(e, person)).collect();
    sorted.sort_by_key(|e| e.seq);

    let mut conns: Vec<Connection> = Vec::new();
    let mut open: HashMap<String, usize> = HashMap::new();
    let mut suspended_since: Option<i64> = None;
    let mut suspensions: Vec<Span> = Vec::new();
    let mut signed_in = BTreeMap::new();
    let mut countersigned = BTreeMap::new();

    for e in sorted {
        let p = e.payload_value();
        match e.kind.as_str() {
            kind::SERVER_STARTED => {
                // A new run: whatever the previous run left open ended
                // when it was last seen alive, not at this restart.
                for (_, i) in open.drain() {
                    let c = &mut conns[i];
                    c.end = Some(c.alive.max(c.start));
                }
            }
            kind::SESSION_STATE => {
                if text(&p, "to") == Some(SUSPENDED) {
                    suspended_since.get_or_insert(e.ts);
                } else if let Some(since) = suspended_since.take() {
                    suspensions.push((since, e.ts));
                }
            }
            kind::COUNTERSIGNED if text(&p, "participant") == Some(person) => {
                if let Some(slot) = text(&p, "slot") {
                    countersigned.entry(slot.to_owned()).or_insert(e.ts);
                }
            }
            _ if e.actor != person => {}
            kind::SIGNED_IN => {
                if let Some(slot) = text(&p, "slot") {
                    signed_in.entry(slot.to_owned()).or_insert(e.ts);
                }
            }
            kind::CONNECTION_OPENED => {
                let Some(id) = text(&p, "connection_id") else {
                    continue;
                };
                if let Some(&i) = open.get(id) {
                    conns[i].alive = conns[i].alive.max(e.ts);
                    continue;
                }
                open.insert(id.to_owned(), conns.len());
                conns.push(Connection {
                    start: e.ts,
                    end: None,
                    alive: e.ts,
                    visibility: Vec::new(),
                });
            }
            kind::CONNECTION_CLOSED => {
                let Some(i) = text(&p, "connection_id").and_then(|id| open.remove(id)) else {
                    continue;
                };
                let c = &mut conns[i];
                let mut end = e.ts;
                if text(&p, "reason") == Some("timeout")
                    && let Some(last_seen) = p.get("last_seen").and_then(|v| v.as_i64())
                {
                    end = end.min(last_seen);
                }
                c.end = Some(end.max(c.start));
            }
            kind::VISIBILITY | kind::HEARTBEATS | kind::FOCUS | kind::MEDIA => {
                let Some(&i) = text(&p, "connection_id").and_then(|id| open.get(id)) else {
                    continue;
                };
                let c = &mut conns[i];
                c.alive = c.alive.max(e.ts);
                if e.kind == kind::VISIBILITY
                    && let Some(v) = p.get("visible").and_then(|v| v.as_bool())
                {
                    c.visibility.push((e.ts, v));
                }
            }
            _ => {}
        }
    }
    if let Some(since) = suspended_since {
        suspensions.push((since, i64::MAX));
    }

    let mut connected = Vec::with_capacity(conns.len());
    let mut visible = Vec::new();
    for c in &conns {
        let end = c.end.unwrap_or(now_ms).max(c.start);
        connected.push((c.start, end));
        visible.extend(c.visible(end));
    }
    let connected = union(connected);
    let visible = union(visible);
    let present = subtract(&visible, &union(suspensions));
    Timeline {
        connected,
        present,
        signed_in,
        countersigned,
    }
}

/// One person's attendance from the ledger: the session's `schedule`, the
/// log's `entries` (the whole log, or only those [`in_proof`]: the result is
/// the same), the person's id, and the time of the derivation (what a
/// connection still open counts until; a proof uses its tree head's time).
pub fn derive(
    schedule: &Schedule,
    entries: &[Entry],
    person: &str,
    now_ms: i64,
) -> PersonAttendance {
    let tz = zone(&schedule.time_zone);
    let t = timeline(entries, person, now_ms);
    let interval = |&(start, end): &Span| Interval {
        start,
        end,
        start_local: render(tz, start),
        end_local: render(tz, end),
    };
    let mut totals = Totals {
        planned_seconds: 0,
        connected_seconds: 0,
        present_seconds: 0,
        completion: 0.0,
    };
    let half_days: Vec<HalfDay> = plan(schedule)
        .into_iter()
        .map(|p| {
            let planned = seconds(i128::from(p.end) - i128::from(p.start));
            let connected = seconds(overlap(&t.connected, p.start, p.end));
            let present = seconds(overlap(&t.present, p.start, p.end));
            totals.planned_seconds = totals.planned_seconds.saturating_add(planned);
            totals.connected_seconds = totals.connected_seconds.saturating_add(connected);
            totals.present_seconds = totals.present_seconds.saturating_add(present);
            HalfDay {
                intervals: t
                    .connected
                    .iter()
                    .filter(|&&(a, b)| {
                        a < p.day_end && (b > p.day_start || (a == b && a >= p.day_start))
                    })
                    .map(interval)
                    .collect(),
                connected_seconds: connected,
                present_seconds: present,
                completion: completion(present, planned),
                signed_in_at: t.signed_in.get(&p.id).copied(),
                countersigned_at: t.countersigned.get(&p.id).copied(),
                slot: p.id,
                planned_start: p.start,
                planned_end: p.end,
            }
        })
        .collect();
    totals.completion = completion(totals.present_seconds, totals.planned_seconds);
    PersonAttendance {
        person: person.to_owned(),
        half_days,
        totals,
        first_join: t.connected.first().map(|s| s.0),
        last_leave: t.connected.last().map(|s| s.1),
    }
}
