//! The figures: connection intervals merged across reconnections and tabs,
//! connected and present time per half-day, sign-ins, completion
//! ([`derive`]). Span arithmetic stays linear, since a verifier runs it on
//! untrusted files.

use super::MAX_SLOTS;
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
    /// When the planned time of this half-day is in several parts (a
    /// session held, then postponed to later the same half-day): each part,
    /// `[start, end)` UTC ms, in order; `planned_start`–`planned_end` spans
    /// them. Empty (and absent from the JSON) for a single part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned_parts: Vec<(i64, i64)>,
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

/// The `session_state` action that moves the session to a new window.
const POSTPONE: &str = "postpone";

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
    /// The parts of earlier plans that were in force (see [`Postponements`]).
    earlier: Vec<Span>,
}

/// The plans a session had before its postponements. A `postpone` entry
/// that names the window it replaced (`previous_start`, `previous_end`)
/// makes that window's part before the postponement count as planned
/// time: attended time is attended time, whatever the plan became. Entries
/// written before that field existed name none, and the plan is the
/// current schedule alone, as it always was, so older proofs still verify.
#[derive(Default)]
struct Postponements {
    /// Time of the previous postponement (the earlier plan was in force
    /// from then).
    since: Option<i64>,
    earlier: Vec<Span>,
}

impl Postponements {
    fn learn(&mut self, e: &Entry, p: &serde_json::Value) {
        let moved = text(p, "action") == Some(POSTPONE);
        if !moved {
            return;
        }
        let ms = |k: &str| {
            text(p, k)
                .and_then(|v| chrono::DateTime::parse_from_rfc3339(v).ok())
                .map(|t| t.timestamp_millis())
        };
        if let (Some(start), Some(end)) = (ms("previous_start"), ms("previous_end")) {
            // The part of the replaced window that was in force: after the
            // postponement before it, and before this one.
            let from = start.max(self.since.unwrap_or(i64::MIN));
            let to = end.min(e.ts);
            if from < to {
                self.earlier.push((from, to));
            }
        }
        self.since = Some(e.ts);
    }
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
    let mut postponements = Postponements::default();

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
                postponements.learn(e, &p);
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
        earlier: union(postponements.earlier),
    }
}

/// The half-day slots of the plan as it was in force: `(id, start, end)`
/// in UTC ms, in order, where `start`–`end` spans the slot's planned parts.
/// Those of the current `schedule` ([`slots`](super::slots)), and, when the
/// log's postponements name the windows they replaced, the half-days held
/// before them: every person's [`derive`] lists these slots.
pub fn slots_in_force(schedule: &Schedule, entries: &[Entry]) -> Vec<(String, i64, i64)> {
    let mut states: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind == kind::SESSION_STATE)
        .collect();
    states.sort_by_key(|e| e.seq);
    let mut postponements = Postponements::default();
    for e in states {
        postponements.learn(e, &e.payload_value());
    }
    planned_half_days(schedule, &union(postponements.earlier))
        .into_iter()
        .map(|h| {
            let start = h.parts.first().map_or(0, |p| p.0);
            let end = h.parts.last().map_or(0, |p| p.1);
            (h.id, start, end)
        })
        .collect()
}

/// One half-day of the plan as it was in force: its parts (several when a
/// postponement left a gap in it).
struct PlannedHalfDay {
    id: String,
    parts: Vec<Span>,
    day_start: i64,
    day_end: i64,
}

/// The half-days of the earlier plans' parts that were in force, then of
/// the current schedule, merged by slot, in time order; at most
/// [`MAX_SLOTS`] cuts in all (a verifier runs this on untrusted files).
fn planned_half_days(schedule: &Schedule, earlier: &[Span]) -> Vec<PlannedHalfDay> {
    let pieces = earlier
        .iter()
        .map(|&(planned_start, planned_end)| Schedule {
            planned_start,
            planned_end,
            time_zone: schedule.time_zone.clone(),
        })
        .chain(std::iter::once(schedule.clone()));
    let mut out: Vec<PlannedHalfDay> = Vec::new();
    let mut cuts = 0;
    for piece in pieces {
        for p in plan(&piece) {
            cuts += 1;
            if cuts > MAX_SLOTS {
                break;
            }
            match out.iter_mut().find(|h| h.id == p.id) {
                Some(h) => {
                    h.parts.push((p.start, p.end));
                    h.day_start = h.day_start.min(p.day_start);
                    h.day_end = h.day_end.max(p.day_end);
                }
                None => out.push(PlannedHalfDay {
                    id: p.id,
                    parts: vec![(p.start, p.end)],
                    day_start: p.day_start,
                    day_end: p.day_end,
                }),
            }
        }
    }
    for h in &mut out {
        h.parts = union(std::mem::take(&mut h.parts));
    }
    out.sort_by_key(|h| h.parts.first().map_or(i64::MAX, |p| p.0));
    out
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
    let half_days: Vec<HalfDay> = planned_half_days(schedule, &t.earlier)
        .into_iter()
        .map(|p| {
            let in_parts =
                |set: &[Span]| -> i128 { p.parts.iter().map(|&(a, b)| overlap(set, a, b)).sum() };
            let planned = seconds(in_parts(&[(i64::MIN, i64::MAX)]));
            let connected = seconds(in_parts(&t.connected));
            let present = seconds(in_parts(&t.present));
            let start = p.parts.first().map_or(0, |s| s.0);
            let end = p.parts.last().map_or(0, |s| s.1);
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
                planned_parts: if p.parts.len() > 1 {
                    p.parts.clone()
                } else {
                    Vec::new()
                },
                slot: p.id,
                planned_start: start,
                planned_end: end,
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
