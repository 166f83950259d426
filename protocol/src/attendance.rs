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

use crate::evidence::{Entry, kind};
use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// Time zone used when a schedule names none or an unknown one.
pub const DEFAULT_TIME_ZONE: &str = "Europe/Paris";

/// Most slots a schedule yields (a year of half-days). Bounds the work a
/// forged proof with an absurd schedule can cause a verifier.
pub const MAX_SLOTS: usize = 2 * 366;

/// The `session_state` value that suspends presence.
pub const SUSPENDED: &str = "suspended";

/// True when `name` is an IANA time zone this build knows.
pub fn known_time_zone(name: &str) -> bool {
    name.parse::<Tz>().is_ok()
}

fn zone(name: &str) -> Tz {
    name.parse::<Tz>().unwrap_or(chrono_tz::Europe::Paris)
}

fn at(tz: Tz, ms: i64) -> Option<DateTime<Tz>> {
    tz.timestamp_millis_opt(ms).single()
}

/// `ms` as local time in `time_zone`, RFC 3339 with its offset
/// (`2026-12-03T09:02:11+01:00`), to the second. Empty when out of range.
pub fn local_time(ms: i64, time_zone: &str) -> String {
    render(zone(time_zone), ms)
}

fn render(tz: Tz, ms: i64) -> String {
    at(tz, ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%:z").to_string())
        .unwrap_or_default()
}

/// The first instant whose local time is `local` or later: the earlier
/// instant when clocks go back, the end of the gap when they jump forward.
fn instant(tz: Tz, local: NaiveDateTime) -> Option<i64> {
    let mut t = local;
    // A gap lasts at most a few hours; look minute by minute for its end.
    for _ in 0..=24 * 60 {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(d) => return Some(d.timestamp_millis()),
            LocalResult::Ambiguous(a, b) => {
                return Some(a.timestamp_millis().min(b.timestamp_millis()));
            }
            LocalResult::None => t += chrono::Duration::minutes(1),
        }
    }
    None
}

/// One slot of the plan, with the calendar half-day it lies in.
struct Plan {
    id: String,
    start: i64,
    end: i64,
    day_start: i64,
    day_end: i64,
}

fn plan(schedule: &Schedule) -> Vec<Plan> {
    let tz = zone(&schedule.time_zone);
    let mut out = Vec::new();
    let mut cur = schedule.planned_start;
    while cur < schedule.planned_end && out.len() < MAX_SLOTS {
        let Some(local) = at(tz, cur) else { break };
        let date = local.date_naive();
        let (Some(midnight), Some(afternoon), Some(next)) = (
            date.and_hms_opt(0, 0, 0),
            date.and_hms_opt(AFTERNOON_STARTS_AT, 0, 0),
            date.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)),
        ) else {
            break;
        };
        let (half, from, to) = if local.hour() < AFTERNOON_STARTS_AT {
            ("am", midnight, afternoon)
        } else {
            ("pm", afternoon, next)
        };
        let (Some(day_start), Some(day_end)) = (instant(tz, from), instant(tz, to)) else {
            break;
        };
        if day_end <= cur {
            break; // cannot happen with real zones; never loop forever
        }
        let end = day_end.min(schedule.planned_end);
        out.push(Plan {
            id: format!("{}.{half}", date.format("%Y-%m-%d")),
            start: cur,
            end,
            day_start: day_start.min(cur),
            day_end,
        });
        cur = end;
    }
    out
}

/// The half-day slots of a schedule: `(id, planned start, planned end)` in
/// UTC ms, in order; the planned window cut at local midnight and 13:00.
/// Empty when the end is not after the start.
pub fn slots(schedule: &Schedule) -> Vec<(String, i64, i64)> {
    plan(schedule)
        .into_iter()
        .map(|p| (p.id, p.start, p.end))
        .collect()
}

/// True for the session-wide entries every proof carries: state changes,
/// sign-in windows, server runs, and recording being armed or disarmed
/// (`recording_armed`: a facilitator's or the server's act about the
/// session, naming no participant; it shows an auditor when recording was
/// asked for, beside each person's own decisions).
pub fn is_session_control(entry: &Entry) -> bool {
    matches!(
        entry.kind.as_str(),
        kind::SESSION_STATE
            | kind::SIGNIN_OPENED
            | kind::SERVER_STARTED
            | kind::SERVER_STOPPING
            | kind::RECORDING_ARMED
    )
}

/// True for the entries about `person`: those they are the actor of,
/// countersignatures of their sign-ins, and their own removal and
/// re-admission (`removed`, `readmitted`: the `participant` is the person,
/// whoever the actor). Someone else's removal or re-admission is about
/// that person, even when `person` is the facilitator who removed them:
/// it carries another person's reason and is never in `person`'s proof.
pub fn concerns(entry: &Entry, person: &str) -> bool {
    match entry.kind.as_str() {
        kind::REMOVED | kind::READMITTED => names_participant(entry, person),
        kind::COUNTERSIGNED => entry.actor == person || names_participant(entry, person),
        _ => entry.actor == person,
    }
}

/// Whether the entry's `participant` is `person`.
fn names_participant(entry: &Entry, person: &str) -> bool {
    entry
        .payload_value()
        .get("participant")
        .and_then(|v| v.as_str())
        == Some(person)
}

/// [`concerns`] as proofs of version 1 and 2 applied it: the entries the
/// person is the actor of (a facilitator's `removed` entries among them),
/// and countersignatures of their sign-ins. A verifier reads such proofs
/// with it.
pub fn concerned_before_v3(entry: &Entry, person: &str) -> bool {
    entry.actor == person || (entry.kind == kind::COUNTERSIGNED && names_participant(entry, person))
}

/// Whether an entry, on its own, belongs in a proof for `person`:
/// [`concerns`] them (their `consent` decisions among them), is a
/// [`is_session_control`] entry, or is an entry of a recording segment that
/// [`names_in_recording`] them. [`derive`] reads only these.
///
/// A segment's other entries (its `recording_purged` entry, which names no
/// one, and its `recording_started` entry when the person joined the
/// segment after it opened) belong in the proof too, but only the rest of
/// the log can tell: select a proof's entries with [`ProofScope`], which
/// adds them.
pub fn in_proof(entry: &Entry, person: &str) -> bool {
    is_session_control(entry)
        || concerns(entry, person)
        || (is_recording_segment(entry) && names_in_recording(entry, person))
}

/// True for the entries of a recording segment: `recording_started`,
/// `recording_stopped` and `recording_purged`.
pub fn is_recording_segment(entry: &Entry) -> bool {
    matches!(
        entry.kind.as_str(),
        kind::RECORDING_STARTED | kind::RECORDING_STOPPED | kind::RECORDING_PURGED
    )
}

/// The segment number of a recording segment entry.
pub fn segment_of(entry: &Entry) -> Option<u64> {
    if !is_recording_segment(entry) {
        return None;
    }
    entry.payload_value().get("segment")?.as_u64()
}

/// Whether a `recording_started` or `recording_stopped` entry names
/// `person`: among its `participants`, or as the `participant` of one of
/// its `files`. A `recording_purged` entry names no one.
pub fn names_in_recording(entry: &Entry, person: &str) -> bool {
    if !matches!(
        entry.kind.as_str(),
        kind::RECORDING_STARTED | kind::RECORDING_STOPPED
    ) {
        return false;
    }
    let p = entry.payload_value();
    let listed = p
        .get("participants")
        .and_then(|v| v.as_array())
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(person)));
    listed
        || p.get("files").and_then(|v| v.as_array()).is_some_and(|a| {
            a.iter()
                .any(|f| f.get("participant").and_then(|v| v.as_str()) == Some(person))
        })
}

/// The recording segments `person` appears in, according to `entries`.
pub fn recorded_segments(entries: &[Entry], person: &str) -> BTreeSet<u64> {
    entries
        .iter()
        .filter(|e| names_in_recording(e, person))
        .filter_map(segment_of)
        .collect()
}

/// Which entries of a log a proof for one person carries: those
/// [`in_proof`] selects, and every entry of each recording segment the
/// person appears in (its opening, closing and purge), so that the proof
/// shows when their recording began, ended and was deleted.
///
/// A segment's entries list its other participants by id (not by name),
/// the tracks recorded and their files' sizes and hashes: a recording is
/// one shared act, and these entries cannot be cut without breaking their
/// hashes. Nothing of a segment the person was not in is selected.
///
/// The server builds the scope over the whole log; a verifier builds it
/// over a proof's entries, and gets the same segments, since the proof
/// carries every entry that names the person.
///
/// Proofs of version 1 and 2 selected by an older rule (see
/// [`concerned_before_v3`]); [`ProofScope::before_v3`] reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofScope {
    person: String,
    segments: BTreeSet<u64>,
    before_v3: bool,
}

impl ProofScope {
    /// The scope of `person`'s proof over `entries`.
    pub fn new(entries: &[Entry], person: &str) -> ProofScope {
        ProofScope {
            person: person.to_owned(),
            segments: recorded_segments(entries, person),
            before_v3: false,
        }
    }

    /// The scope of a version 1 or 2 proof: entries the person is the
    /// actor of were in it, whatever they were about.
    pub fn before_v3(entries: &[Entry], person: &str) -> ProofScope {
        ProofScope {
            before_v3: true,
            ..ProofScope::new(entries, person)
        }
    }

    /// The recording segments the person appears in.
    pub fn segments(&self) -> &BTreeSet<u64> {
        &self.segments
    }

    /// Whether the entry is about the person: [`concerns`] (or, for an
    /// older proof, [`concerned_before_v3`]).
    pub fn concerns(&self, entry: &Entry) -> bool {
        if self.before_v3 {
            concerned_before_v3(entry, &self.person)
        } else {
            concerns(entry, &self.person)
        }
    }

    /// Whether the proof carries `entry`.
    pub fn contains(&self, entry: &Entry) -> bool {
        self.concerns(entry)
            || is_session_control(entry)
            || (is_recording_segment(entry) && names_in_recording(entry, &self.person))
            || self.in_segment(entry)
    }

    /// Whether `entry` is an entry of a recording segment the person
    /// appears in.
    pub fn in_segment(&self, entry: &Entry) -> bool {
        segment_of(entry).is_some_and(|s| self.segments.contains(&s))
    }
}

/// One decision of a person on a consent, as their proof states it: from
/// one of their `consent` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentDecision {
    /// Server time of the decision, UTC ms.
    pub ts: i64,
    /// What it is about: `recording` or `sponsor_share`.
    pub consent: String,
    /// Granted (`true`), or refused or withdrawn (`false`).
    pub granted: bool,
    /// SHA-256 of the exact wording the person was shown, hex.
    pub text_sha256: String,
}

/// `person`'s consent decisions, in log order: each of their `consent`
/// entries that names a consent and says whether it is granted. The latest
/// decision on a consent counts; none means no.
pub fn consent_history(entries: &[Entry], person: &str) -> Vec<ConsentDecision> {
    let mut own: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind == kind::CONSENT && e.actor == person)
        .collect();
    own.sort_by_key(|e| e.seq);
    own.into_iter()
        .filter_map(|e| {
            let p = e.payload_value();
            Some(ConsentDecision {
                ts: e.ts,
                consent: text(&p, "consent")?.to_owned(),
                granted: p.get("granted")?.as_bool()?,
                text_sha256: text(&p, "text_sha256").unwrap_or_default().to_owned(),
            })
        })
        .collect()
}

/// What a decision did, read with the person's earlier decisions on the
/// same consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionEffect {
    /// The consent is granted.
    Granted,
    /// Not granted, and it was not granted before: a refusal.
    Refused,
    /// Not granted, after a grant: a withdrawal.
    Withdrawn,
}

/// The effect of each decision of a history (in log order, as
/// [`consent_history`] gives it).
pub fn decision_effects(history: &[ConsentDecision]) -> Vec<DecisionEffect> {
    let mut latest: HashMap<&str, bool> = HashMap::new();
    history
        .iter()
        .map(|d| {
            let before = latest.insert(d.consent.as_str(), d.granted);
            match (d.granted, before) {
                (true, _) => DecisionEffect::Granted,
                (false, Some(true)) => DecisionEffect::Withdrawn,
                (false, _) => DecisionEffect::Refused,
            }
        })
        .collect()
}

/// One of a person's recorded files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFile {
    /// `audio` or `video`.
    pub track: String,
    /// File name, `<sid>/<segment>/<file>`.
    pub name: String,
    /// Size, bytes.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// A recording segment a person appears in, as their proof states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedSegment {
    /// Number within the session.
    pub segment: u64,
    /// When it opened, UTC ms: the `started_at` of its closing entry, else
    /// the time of its opening entry.
    pub started_at: i64,
    /// When media stopped being accepted, UTC ms; `None` while it runs.
    pub closed_at: Option<i64>,
    /// Why it closed (`consent_withdrawn`, `disarmed`, `left`, …).
    pub reason: Option<String>,
    /// This person's files only (none when their camera and microphone were
    /// off, or while the segment runs).
    pub files: Vec<RecordedFile>,
    /// When its files were deleted at the end of retention, UTC ms.
    pub purged_at: Option<i64>,
}

/// The recording segments `person` appears in, by segment number, each from
/// its entries: the first `recording_started`, `recording_stopped` and
/// `recording_purged` entry of the segment in log order.
pub fn recordings(entries: &[Entry], person: &str) -> Vec<RecordedSegment> {
    let scope = ProofScope::new(entries, person);
    let mut sorted: Vec<(&Entry, u64)> = entries
        .iter()
        .filter_map(|e| Some((e, segment_of(e)?)))
        .filter(|(_, s)| scope.segments.contains(s))
        .collect();
    sorted.sort_by_key(|(e, _)| e.seq);
    let mut out: BTreeMap<u64, (RecordedSegment, bool)> = BTreeMap::new();
    for (e, number) in sorted {
        let p = e.payload_value();
        let (segment, stopped) = out.entry(number).or_insert_with(|| {
            (
                RecordedSegment {
                    segment: number,
                    started_at: e.ts,
                    closed_at: None,
                    reason: None,
                    files: Vec::new(),
                    purged_at: None,
                },
                false,
            )
        });
        match e.kind.as_str() {
            kind::RECORDING_STOPPED if !*stopped => {
                *stopped = true;
                if let Some(t) = p.get("started_at").and_then(|v| v.as_i64()) {
                    segment.started_at = t;
                }
                segment.closed_at =
                    Some(p.get("closed_at").and_then(|v| v.as_i64()).unwrap_or(e.ts));
                segment.reason = text(&p, "reason").map(str::to_owned);
                segment.files = p
                    .get("files")
                    .and_then(|v| v.as_array())
                    .map(|files| {
                        files
                            .iter()
                            .filter(|f| {
                                f.get("participant").and_then(|v| v.as_str()) == Some(person)
                            })
                            .map(|f| RecordedFile {
                                track: text(f, "track").unwrap_or_default().to_owned(),
                                name: text(f, "name").unwrap_or_default().to_owned(),
                                bytes: f.get("bytes").and_then(|v| v.as_u64()).unwrap_or(0),
                                sha256: text(f, "sha256").unwrap_or_default().to_owned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
            }
            kind::RECORDING_PURGED => {
                segment.purged_at.get_or_insert(e.ts);
            }
            _ => {}
        }
    }
    out.into_values().map(|(s, _)| s).collect()
}

/// The connection scores of the per-minute summaries (docs/quality.md), best
/// first.
pub const SCORES: [&str; 4] = ["excellent", "good", "poor", "lost"];

/// Most minutes [`Conditions::worst_minutes`] lists.
pub const WORST_MINUTES: usize = 10;

/// Minutes per score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreCounts {
    /// Minutes scored `excellent`.
    pub excellent: u64,
    /// Minutes scored `good`.
    pub good: u64,
    /// Minutes scored `poor`.
    pub poor: u64,
    /// Minutes scored `lost` (no report, or silent).
    pub lost: u64,
}

/// One of the person's poorest minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoorMinute {
    /// Start of the minute, UTC ms.
    pub minute: i64,
    /// Its score: `poor` or `lost`.
    pub score: String,
    /// Connection reasons seen in it (`rtt_high`, `loss_high`, …).
    pub reasons: Vec<String>,
}

/// A summary of a person's connection conditions, from their own `quality`
/// entries (one per minute they were in the session, docs/quality.md
/// "Per-minute ledger summaries"): how many minutes were measured, how many
/// had each score, and the poorest of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conditions {
    /// Minutes with a summary (each minute once).
    pub minutes: u64,
    /// Minutes per score (the minute's `score`).
    pub by_score: ScoreCounts,
    /// The minutes scored `poor` or `lost`, at most [`WORST_MINUTES`]: the
    /// `lost` ones first, then `poor`, earlier before later; listed in time
    /// order.
    pub worst_minutes: Vec<PoorMinute>,
}

/// `person`'s connection conditions: each of their `quality` entries (the
/// first in log order for a minute; an entry without a `minute` or with an
/// unknown `score` is not counted), summarised.
pub fn conditions(entries: &[Entry], person: &str) -> Conditions {
    let mut own: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind == kind::QUALITY && e.actor == person)
        .collect();
    own.sort_by_key(|e| e.seq);
    let mut seen = BTreeSet::new();
    let mut out = Conditions::default();
    let mut poor: Vec<(usize, PoorMinute)> = Vec::new();
    for e in own {
        let p = e.payload_value();
        let Some(minute) = p.get("minute").and_then(|v| v.as_i64()) else {
            continue;
        };
        let Some(rank) = text(&p, "score").and_then(|s| SCORES.iter().position(|&k| k == s)) else {
            continue;
        };
        if !seen.insert(minute) {
            continue;
        }
        out.minutes += 1;
        let counts = &mut out.by_score;
        match rank {
            0 => counts.excellent += 1,
            1 => counts.good += 1,
            2 => counts.poor += 1,
            _ => counts.lost += 1,
        }
        if rank >= 2 {
            let reasons = p
                .get("reasons")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            poor.push((
                rank,
                PoorMinute {
                    minute,
                    score: SCORES[rank].to_owned(),
                    reasons,
                },
            ));
        }
    }
    poor.sort_by_key(|(rank, m)| (std::cmp::Reverse(*rank), m.minute));
    poor.truncate(WORST_MINUTES);
    let mut worst: Vec<PoorMinute> = poor.into_iter().map(|(_, m)| m).collect();
    worst.sort_by_key(|m| m.minute);
    out.worst_minutes = worst;
    out
}

/// Half-open `[start, end)` spans in UTC ms.
type Span = (i64, i64);

/// Sorted, merged spans (touching spans join; empty spans are kept as
/// points so that a connection that lasted no time still shows).
fn union(mut spans: Vec<Span>) -> Vec<Span> {
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
fn subtract(set: &[Span], holes: &[Span]) -> Vec<Span> {
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
fn overlap(set: &[Span], start: i64, end: i64) -> i128 {
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

fn text<'a>(payload: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    payload.get(key).and_then(|v| v.as_str())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ENTRY_VERSION;
    use serde_json::value::RawValue;

    const H: i64 = 3_600_000;
    const M: i64 = 60_000;

    /// UTC ms of a local Paris time.
    fn paris(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        chrono_tz::Europe::Paris
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
            .timestamp_millis()
    }

    fn schedule(start: i64, end: i64) -> Schedule {
        Schedule {
            planned_start: start,
            planned_end: end,
            time_zone: "Europe/Paris".into(),
        }
    }

    /// A log under construction.
    #[derive(Default)]
    struct Log(Vec<Entry>);

    impl Log {
        fn add(
            &mut self,
            ts: i64,
            kind: &str,
            actor: &str,
            payload: serde_json::Value,
        ) -> &mut Self {
            let seq = self.0.len() as u64;
            self.0.push(Entry {
                v: ENTRY_VERSION,
                sid: "s_1".into(),
                seq,
                ts,
                kind: kind.into(),
                actor: actor.into(),
                payload: RawValue::from_string(payload.to_string()).unwrap(),
                client_ts: None,
                salt: "00".repeat(16),
            });
            self
        }
        fn open(&mut self, ts: i64, who: &str, conn: &str) -> &mut Self {
            self.add(
                ts,
                kind::CONNECTION_OPENED,
                who,
                serde_json::json!({"connection_id": conn, "ip": "192.0.2.1", "user_agent": "t"}),
            )
        }
        fn close(
            &mut self,
            ts: i64,
            who: &str,
            conn: &str,
            reason: &str,
            last_seen: i64,
        ) -> &mut Self {
            self.add(
                ts,
                kind::CONNECTION_CLOSED,
                who,
                serde_json::json!({"connection_id": conn, "reason": reason, "last_seen": last_seen}),
            )
        }
        fn visible(&mut self, ts: i64, who: &str, conn: &str, visible: bool) -> &mut Self {
            self.add(
                ts,
                kind::VISIBILITY,
                who,
                serde_json::json!({"connection_id": conn, "visible": visible}),
            )
        }
        fn state(&mut self, ts: i64, from: &str, to: &str) -> &mut Self {
            self.add(
                ts,
                kind::SESSION_STATE,
                "p_fac",
                serde_json::json!({"from": from, "to": to, "reason": "test"}),
            )
        }
    }

    fn day() -> Schedule {
        schedule(paris(2026, 12, 3, 9, 0), paris(2026, 12, 3, 12, 0))
    }

    #[test]
    fn a_morning_is_one_slot() {
        let s = slots(&day());
        assert_eq!(
            s,
            [(
                "2026-12-03.am".to_owned(),
                paris(2026, 12, 3, 9, 0),
                paris(2026, 12, 3, 12, 0)
            )]
        );
        assert!(slots(&schedule(10, 10)).is_empty());
        assert!(slots(&schedule(10, 5)).is_empty());
    }

    #[test]
    fn a_session_across_13_00_has_two_slots_and_a_connection_counts_in_both() {
        let sch = schedule(paris(2026, 12, 3, 11, 0), paris(2026, 12, 3, 15, 0));
        let s = slots(&sch);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0],
            (
                "2026-12-03.am".into(),
                paris(2026, 12, 3, 11, 0),
                paris(2026, 12, 3, 13, 0)
            )
        );
        assert_eq!(
            s[1],
            (
                "2026-12-03.pm".into(),
                paris(2026, 12, 3, 13, 0),
                paris(2026, 12, 3, 15, 0)
            )
        );

        let mut log = Log::default();
        log.open(paris(2026, 12, 3, 11, 30), "p_a", "c1").close(
            paris(2026, 12, 3, 14, 0),
            "p_a",
            "c1",
            "left",
            paris(2026, 12, 3, 14, 0),
        );
        let a = derive(&sch, &log.0, "p_a", paris(2026, 12, 3, 18, 0));
        assert_eq!(a.half_days[0].connected_seconds, 5400);
        assert_eq!(a.half_days[1].connected_seconds, 3600);
        assert_eq!(a.half_days[0].completion, 0.75);
        assert_eq!(a.half_days[1].completion, 0.5);
        // The interval is shown as connected, in both half-days.
        assert_eq!(a.half_days[0].intervals, a.half_days[1].intervals);
        assert_eq!(
            a.half_days[0].intervals[0].start_local,
            "2026-12-03T11:30:00+01:00"
        );
        assert_eq!(
            a.half_days[0].intervals[0].end_local,
            "2026-12-03T14:00:00+01:00"
        );
        assert_eq!(a.totals.planned_seconds, 4 * 3600);
        assert_eq!(a.totals.connected_seconds, 9000);
        assert_eq!(a.totals.completion, 0.625);
    }

    #[test]
    fn a_multi_day_schedule_spans_every_half_day() {
        let sch = schedule(paris(2026, 12, 3, 9, 0), paris(2026, 12, 4, 17, 0));
        let ids: Vec<String> = slots(&sch).into_iter().map(|s| s.0).collect();
        assert_eq!(
            ids,
            [
                "2026-12-03.am",
                "2026-12-03.pm",
                "2026-12-04.am",
                "2026-12-04.pm"
            ]
        );
        let s = slots(&sch);
        assert_eq!(s[1].2, paris(2026, 12, 4, 0, 0));
        assert_eq!(s[2].1, paris(2026, 12, 4, 0, 0));
        assert_eq!(s[3].2, paris(2026, 12, 4, 17, 0));
        // Contiguous, no overlap, covering the plan.
        for w in s.windows(2) {
            assert_eq!(w[0].2, w[1].1);
        }
    }

    #[test]
    fn daylight_saving_days_have_their_true_length() {
        // 29 March 2026: Paris jumps from 02:00 to 03:00.
        let sch = schedule(paris(2026, 3, 28, 20, 0), paris(2026, 3, 29, 17, 0));
        let s = slots(&sch);
        let ids: Vec<&str> = s.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(ids, ["2026-03-28.pm", "2026-03-29.am", "2026-03-29.pm"]);
        assert_eq!(s[1].2 - s[1].1, 12 * H); // 00:00 → 13:00 lasts 12 h...
        assert_eq!(s[0].2 - s[0].1, 4 * H);
        let sch = schedule(paris(2026, 3, 29, 0, 0), paris(2026, 3, 29, 13, 0));
        assert_eq!(slots(&sch)[0].2 - slots(&sch)[0].1, 12 * H); // ...with the jump: 12 h, not 13
        // 25 October 2026: back from 03:00 to 02:00, the morning lasts 14 h.
        let sch = schedule(paris(2026, 10, 25, 0, 0), paris(2026, 10, 25, 13, 0));
        assert_eq!(slots(&sch)[0].2 - slots(&sch)[0].1, 14 * H);

        // A working day on the switch: 09:00–17:00 local is 8 h, offsets +02:00.
        let sch = schedule(paris(2026, 3, 29, 9, 0), paris(2026, 3, 29, 17, 0));
        let mut log = Log::default();
        log.open(paris(2026, 3, 29, 8, 55), "p_a", "c1").close(
            paris(2026, 3, 29, 17, 5),
            "p_a",
            "c1",
            "left",
            0,
        );
        let a = derive(&sch, &log.0, "p_a", paris(2026, 3, 30, 0, 0));
        assert_eq!(a.totals.planned_seconds, 8 * 3600);
        assert_eq!(a.totals.present_seconds, 8 * 3600);
        assert_eq!(a.totals.completion, 1.0);
        assert_eq!(
            a.half_days[0].intervals[0].start_local,
            "2026-03-29T08:55:00+02:00"
        );
        assert_eq!(a.half_days[0].planned_start, paris(2026, 3, 29, 9, 0));
    }

    #[test]
    fn a_midnight_inside_a_dst_gap_starts_the_day_when_the_gap_ends() {
        // Cuba moves its clocks at midnight: 8 March 2026 starts at 01:00 CDT.
        let havana: Tz = "America/Havana".parse().unwrap();
        let start = havana
            .with_ymd_and_hms(2026, 3, 7, 20, 0, 0)
            .single()
            .unwrap();
        let end = havana
            .with_ymd_and_hms(2026, 3, 8, 10, 0, 0)
            .single()
            .unwrap();
        let sch = Schedule {
            planned_start: start.timestamp_millis(),
            planned_end: end.timestamp_millis(),
            time_zone: "America/Havana".into(),
        };
        let s = slots(&sch);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "2026-03-07.pm");
        assert_eq!(s[1].0, "2026-03-08.am");
        assert_eq!(s[0].2, s[1].1);
        assert_eq!(
            local_time(s[1].1, "America/Havana"),
            "2026-03-08T01:00:00-04:00"
        );
        assert_eq!(s[0].2 - s[0].1, 4 * H);
    }

    #[test]
    fn reconnections_merge_and_overlapping_tabs_count_once() {
        let mut log = Log::default();
        log.open(paris(2026, 12, 3, 9, 0), "p_a", "c1")
            .close(paris(2026, 12, 3, 10, 0), "p_a", "c1", "disconnected", 0)
            .open(paris(2026, 12, 3, 10, 5), "p_a", "c2")
            // A second tab from 11:00 while c2 is still open.
            .open(paris(2026, 12, 3, 11, 0), "p_a", "c3")
            .close(paris(2026, 12, 3, 11, 30), "p_a", "c2", "replaced", 0)
            .close(paris(2026, 12, 3, 12, 30), "p_a", "c3", "left", 0);
        let a = derive(&day(), &log.0, "p_a", paris(2026, 12, 3, 18, 0));
        let h = &a.half_days[0];
        assert_eq!(h.connected_seconds, 3 * 3600 - 5 * 60);
        assert_eq!(h.present_seconds, 3 * 3600 - 5 * 60);
        assert_eq!(h.intervals.len(), 2);
        assert_eq!(h.intervals[1].start, paris(2026, 12, 3, 10, 5));
        assert_eq!(h.intervals[1].end, paris(2026, 12, 3, 12, 30));
        assert_eq!(a.first_join, Some(paris(2026, 12, 3, 9, 0)));
        assert_eq!(a.last_leave, Some(paris(2026, 12, 3, 12, 30)));
        assert_eq!(h.completion, 0.9722);
    }

    #[test]
    fn a_timeout_closes_at_last_seen() {
        let mut log = Log::default();
        log.open(paris(2026, 12, 3, 9, 0), "p_a", "c1").close(
            paris(2026, 12, 3, 10, 0) + 30_000,
            "p_a",
            "c1",
            "timeout",
            paris(2026, 12, 3, 10, 0),
        );
        let a = derive(&day(), &log.0, "p_a", paris(2026, 12, 3, 18, 0));
        assert_eq!(a.half_days[0].connected_seconds, 3600);
        assert_eq!(a.last_leave, Some(paris(2026, 12, 3, 10, 0)));
        // A last_seen after the close is not believed.
        let mut log = Log::default();
        log.open(paris(2026, 12, 3, 9, 0), "p_a", "c1").close(
            paris(2026, 12, 3, 10, 0),
            "p_a",
            "c1",
            "timeout",
            paris(2026, 12, 3, 11, 0),
        );
        let a = derive(&day(), &log.0, "p_a", paris(2026, 12, 3, 18, 0));
        assert_eq!(a.half_days[0].connected_seconds, 3600);
    }

    #[test]
    fn a_hidden_tab_is_connected_but_not_present_unless_another_tab_shows() {
        let mut log = Log::default();
        log.open(paris(2026, 12, 3, 9, 0), "p_a", "c1")
            .visible(paris(2026, 12, 3, 10, 0), "p_a", "c1", false)
            .visible(paris(2026, 12, 3, 10, 15), "p_a", "c1", true)
            .visible(paris(2026, 12, 3, 11, 0), "p_a", "c1", false)
            // A second, visible tab from 11:30.
            .open(paris(2026, 12, 3, 11, 30), "p_a", "c2")
            .close(paris(2026, 12, 3, 12, 0), "p_a", "c2", "left", 0)
            .close(paris(2026, 12, 3, 12, 0), "p_a", "c1", "left", 0);
        let a = derive(&day(), &log.0, "p_a", paris(2026, 12, 3, 18, 0));
        let h = &a.half_days[0];
        assert_eq!(h.connected_seconds, 3 * 3600);
        // 09:00–10:00, 10:15–11:00, 11:30–12:00.
        assert_eq!(h.present_seconds, (60 + 45 + 30) * 60);
    }

    #[test]
    fn a_suspension_is_not_presence() {
        let mut log = Log::default();
        log.open(paris(2026, 12, 3, 9, 0), "p_a", "c1")
            .state(paris(2026, 12, 3, 9, 0), "open", "running")
            .state(paris(2026, 12, 3, 10, 0), "running", "suspended")
            .state(paris(2026, 12, 3, 10, 30), "suspended", "running")
            .state(paris(2026, 12, 3, 11, 45), "running", "suspended")
            .close(paris(2026, 12, 3, 12, 0), "p_a", "c1", "left", 0);
        let a = derive(&day(), &log.0, "p_a", paris(2026, 12, 3, 18, 0));
        let h = &a.half_days[0];
        assert_eq!(h.connected_seconds, 3 * 3600);
        assert_eq!(h.present_seconds, (60 + 75) * 60);
    }

    #[test]
    fn a_crash_without_close_never_claims_the_downtime() {
        let mut log = Log::default();
        log.add(
            paris(2026, 12, 3, 8, 0),
            kind::SERVER_STARTED,
            "server",
            serde_json::json!({}),
        )
        .open(paris(2026, 12, 3, 9, 0), "p_a", "c1")
        .add(
            paris(2026, 12, 3, 9, 10),
            kind::HEARTBEATS,
            "p_a",
            serde_json::json!({"connection_id": "c1", "from": 0, "to": 0, "count": 60}),
        )
        .visible(paris(2026, 12, 3, 9, 20), "p_a", "c1", true)
        // The process dies around 09:25; it comes back at 11:00.
        .add(
            paris(2026, 12, 3, 11, 0),
            kind::SERVER_STARTED,
            "server",
            serde_json::json!({}),
        )
        .open(paris(2026, 12, 3, 11, 5), "p_a", "c2")
        // A close for the dead connection after the restart changes nothing.
        .close(paris(2026, 12, 3, 11, 6), "p_a", "c1", "left", 0);
        let a = derive(&day(), &log.0, "p_a", paris(2026, 12, 3, 11, 35));
        let h = &a.half_days[0];
        // 09:00–09:20 (last proof of life), then 11:05–11:35 (still open: now).
        assert_eq!(h.connected_seconds, 50 * 60);
        assert_eq!(h.present_seconds, 50 * 60);
        assert_eq!(h.intervals[0].end, paris(2026, 12, 3, 9, 20));
        assert_eq!(a.last_leave, Some(paris(2026, 12, 3, 11, 35)));
    }

    #[test]
    fn an_open_connection_counts_until_now_and_only_inside_the_plan() {
        let mut log = Log::default();
        log.open(paris(2026, 12, 3, 8, 30), "p_a", "c1");
        let a = derive(&day(), &log.0, "p_a", paris(2026, 12, 3, 10, 0));
        assert_eq!(a.half_days[0].connected_seconds, 3600);
        assert_eq!(a.half_days[0].intervals[0].start, paris(2026, 12, 3, 8, 30));
        let later = derive(&day(), &log.0, "p_a", paris(2026, 12, 3, 15, 0));
        assert_eq!(later.half_days[0].connected_seconds, 3 * 3600);
        assert_eq!(later.half_days[0].completion, 1.0);
        // A derivation time before the opening gives nothing negative.
        let before = derive(&day(), &log.0, "p_a", paris(2026, 12, 3, 8, 0));
        assert_eq!(before.totals.connected_seconds, 0);
    }

    #[test]
    fn sign_ins_and_countersignatures_per_slot() {
        let sch = schedule(paris(2026, 12, 3, 9, 0), paris(2026, 12, 3, 17, 0));
        let mut log = Log::default();
        log.add(
            paris(2026, 12, 3, 9, 0),
            kind::SIGNIN_OPENED,
            "server",
            serde_json::json!({"slot": "2026-12-03.am", "closes_at": 0}),
        )
        .add(
            paris(2026, 12, 3, 9, 3),
            kind::SIGNED_IN,
            "p_a",
            serde_json::json!({"slot": "2026-12-03.am"}),
        )
        .add(
            paris(2026, 12, 3, 9, 4),
            kind::SIGNED_IN,
            "p_b",
            serde_json::json!({"slot": "2026-12-03.pm"}),
        )
        .add(
            paris(2026, 12, 3, 9, 10),
            kind::COUNTERSIGNED,
            "p_fac",
            serde_json::json!({"slot": "2026-12-03.am", "participant": "p_a"}),
        )
        .add(
            paris(2026, 12, 3, 9, 11),
            kind::COUNTERSIGNED,
            "p_fac",
            serde_json::json!({"slot": "2026-12-03.pm", "participant": "p_b"}),
        )
        .add(
            paris(2026, 12, 3, 14, 0),
            kind::SIGNED_IN,
            "p_a",
            serde_json::json!({"slot": "2026-12-03.pm"}),
        );
        let a = derive(&sch, &log.0, "p_a", paris(2026, 12, 3, 18, 0));
        assert_eq!(a.half_days[0].signed_in_at, Some(paris(2026, 12, 3, 9, 3)));
        assert_eq!(
            a.half_days[0].countersigned_at,
            Some(paris(2026, 12, 3, 9, 10))
        );
        assert_eq!(a.half_days[1].signed_in_at, Some(paris(2026, 12, 3, 14, 0)));
        assert_eq!(a.half_days[1].countersigned_at, None);
        assert_eq!(a.first_join, None);
        assert_eq!(a.totals.completion, 0.0);
    }

    #[test]
    fn other_people_are_ignored_and_a_proof_subset_gives_the_same_figures() {
        let mut log = Log::default();
        log.open(paris(2026, 12, 3, 9, 0), "p_a", "c1")
            .open(paris(2026, 12, 3, 9, 1), "p_b", "c2")
            // Forged: p_b's visibility on p_a's connection id is not p_a's.
            .visible(paris(2026, 12, 3, 9, 30), "p_b", "c1", false)
            .close(paris(2026, 12, 3, 9, 45), "p_b", "c1", "left", 0)
            .state(paris(2026, 12, 3, 10, 0), "running", "suspended")
            .state(paris(2026, 12, 3, 10, 10), "suspended", "running")
            .close(paris(2026, 12, 3, 11, 0), "p_a", "c1", "left", 0);
        let now = paris(2026, 12, 3, 18, 0);
        let all = derive(&day(), &log.0, "p_a", now);
        assert_eq!(all.half_days[0].connected_seconds, 2 * 3600);
        assert_eq!(all.half_days[0].present_seconds, 110 * 60);
        let subset: Vec<Entry> = log
            .0
            .iter()
            .filter(|e| in_proof(e, "p_a"))
            .cloned()
            .collect();
        assert_eq!(subset.len(), 4);
        assert_eq!(derive(&day(), &subset, "p_a", now), all);
        // Order of the slice does not matter: seq does.
        let mut reversed = log.0.clone();
        reversed.reverse();
        assert_eq!(derive(&day(), &reversed, "p_a", now), all);
    }

    fn consent(log: &mut Log, ts: i64, who: &str, what: &str, granted: bool) {
        log.add(
            ts,
            kind::CONSENT,
            who,
            serde_json::json!({"consent": what, "granted": granted, "text_sha256": format!("{what}-{granted}")}),
        );
    }

    #[test]
    fn the_consent_history_is_the_persons_own_decisions_in_log_order() {
        let mut log = Log::default();
        let t = |m: u32| paris(2026, 12, 3, 9, m);
        consent(&mut log, t(1), "p_a", "recording", true);
        consent(&mut log, t(2), "p_b", "recording", true);
        consent(&mut log, t(3), "p_a", "sponsor_share", false);
        // Not a decision: no `granted`.
        log.add(
            t(4),
            kind::CONSENT,
            "p_a",
            serde_json::json!({"consent": "recording"}),
        );
        consent(&mut log, t(5), "p_a", "recording", false);
        consent(&mut log, t(6), "p_a", "sponsor_share", true);
        // A countersignature naming p_a is theirs, but no decision.
        log.add(
            t(7),
            kind::COUNTERSIGNED,
            "p_fac",
            serde_json::json!({"slot": "2026-12-03.am", "participant": "p_a"}),
        );
        let history = consent_history(&log.0, "p_a");
        let summary: Vec<(i64, &str, bool, &str)> = history
            .iter()
            .map(|d| (d.ts, d.consent.as_str(), d.granted, d.text_sha256.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                (t(1), "recording", true, "recording-true"),
                (t(3), "sponsor_share", false, "sponsor_share-false"),
                (t(5), "recording", false, "recording-false"),
                (t(6), "sponsor_share", true, "sponsor_share-true"),
            ]
        );
        assert_eq!(
            decision_effects(&history),
            [
                DecisionEffect::Granted,
                DecisionEffect::Refused,
                DecisionEffect::Withdrawn,
                DecisionEffect::Granted,
            ]
        );
        // Log order is seq order, whatever the order of the slice.
        let mut reversed = log.0.clone();
        reversed.reverse();
        assert_eq!(consent_history(&reversed, "p_a"), history);
        assert_eq!(consent_history(&log.0, "p_b").len(), 1);
        assert!(consent_history(&log.0, "p_nobody").is_empty());
    }

    /// A session where recording runs in four segments; p_a is in 1, 3
    /// (joining after it opened) and 4 (still open), not in 2.
    fn recorded_log() -> Log {
        let t = |h: u32, m: u32| paris(2026, 12, 3, h, m);
        let file = |who: &str, seg: u64, track: &str, bytes: u64| {
            serde_json::json!({
                "participant": who, "track": track,
                "name": format!("s_1/{seg}/{who}-{track}"), "bytes": bytes,
                "sha256": format!("{who}{seg}{track}"),
            })
        };
        let mut log = Log::default();
        log.add(
            t(9, 0),
            kind::RECORDING_ARMED,
            "p_fac",
            serde_json::json!({"armed": true}),
        )
        .add(
            t(9, 1),
            kind::RECORDING_STARTED,
            "server",
            serde_json::json!({"segment": 1, "participants": ["p_a", "p_b"]}),
        )
        .add(
            t(9, 30),
            kind::RECORDING_STOPPED,
            "server",
            serde_json::json!({
                "segment": 1, "reason": "consent_withdrawn",
                "started_at": t(9, 1) - 500, "closed_at": t(9, 29),
                "participants": ["p_a", "p_b"],
                "files": [file("p_a", 1, "audio", 100), file("p_b", 1, "audio", 200), file("p_a", 1, "video", 300)],
            }),
        )
        // Segment 2: p_b alone.
        .add(
            t(10, 0),
            kind::RECORDING_STARTED,
            "server",
            serde_json::json!({"segment": 2, "participants": ["p_b"]}),
        )
        .add(
            t(10, 10),
            kind::RECORDING_STOPPED,
            "server",
            serde_json::json!({
                "segment": 2, "reason": "left", "started_at": t(10, 0), "closed_at": t(10, 10),
                "participants": ["p_b"], "files": [file("p_b", 2, "video", 400)],
            }),
        )
        // Segment 3: p_a joins after it opened.
        .add(
            t(10, 20),
            kind::RECORDING_STARTED,
            "server",
            serde_json::json!({"segment": 3, "participants": ["p_b"]}),
        )
        .add(
            t(10, 40),
            kind::RECORDING_STOPPED,
            "server",
            serde_json::json!({
                "segment": 3, "reason": "disarmed", "started_at": t(10, 20), "closed_at": t(10, 40),
                "participants": ["p_b"], "files": [file("p_a", 3, "audio", 500)],
            }),
        )
        .add(
            t(10, 41),
            kind::RECORDING_ARMED,
            "p_fac",
            serde_json::json!({"armed": false}),
        )
        .add(
            t(11, 0),
            kind::RECORDING_STARTED,
            "server",
            serde_json::json!({"segment": 4, "participants": ["p_a", "p_b"]}),
        )
        // Retention: segments 1 and 2 purged.
        .add(
            t(11, 30),
            kind::RECORDING_PURGED,
            "server",
            serde_json::json!({"segment": 1, "retention_days": 30, "files": [
                {"name": "s_1/1/p_a-audio", "sha256": "p_a1audio"},
                {"name": "s_1/1/p_b-audio", "sha256": "p_b1audio"},
                {"name": "s_1/1/p_a-video", "sha256": "p_a1video"}]}),
        )
        .add(
            t(11, 31),
            kind::RECORDING_PURGED,
            "server",
            serde_json::json!({"segment": 2, "retention_days": 30, "files": [
                {"name": "s_1/2/p_b-video", "sha256": "p_b2video"}]}),
        );
        log
    }

    #[test]
    fn a_proof_carries_the_segments_the_person_is_in_and_no_other() {
        let log = recorded_log();
        let by_seq = |seq: usize| &log.0[seq];
        // Entries that name p_a, decided alone.
        let alone: Vec<u64> = log
            .0
            .iter()
            .filter(|e| in_proof(e, "p_a"))
            .map(|e| e.seq)
            .collect();
        assert_eq!(alone, [0, 1, 2, 6, 7, 8]);
        // With the log: segment 3's opening and segment 1's purge too.
        let scope = ProofScope::new(&log.0, "p_a");
        assert_eq!(
            scope.segments().iter().copied().collect::<Vec<_>>(),
            [1, 3, 4]
        );
        let chosen: Vec<u64> = log
            .0
            .iter()
            .filter(|e| scope.contains(e))
            .map(|e| e.seq)
            .collect();
        assert_eq!(chosen, [0, 1, 2, 5, 6, 7, 8, 9]);
        // Segment 2 (p_b alone): its opening, closing and purge are not p_a's.
        for seq in [3, 4, 10] {
            assert_eq!(segment_of(by_seq(seq)), Some(2));
            assert!(!scope.contains(by_seq(seq)), "entry {seq}");
        }
        // Arming is session control: in everyone's proof.
        assert!(in_proof(by_seq(0), "p_nobody") && is_session_control(by_seq(7)));
        // Someone never recorded gets no segment entry.
        let nobody = ProofScope::new(&log.0, "p_nobody");
        assert!(nobody.segments().is_empty());
        assert_eq!(log.0.iter().filter(|e| nobody.contains(e)).count(), 2);
        // Over the entries of the proof alone, the scope is the same.
        let subset: Vec<Entry> = log
            .0
            .iter()
            .filter(|e| scope.contains(e))
            .cloned()
            .collect();
        assert_eq!(ProofScope::new(&subset, "p_a"), scope);
    }

    #[test]
    fn recordings_are_the_persons_segments_with_their_own_files() {
        let log = recorded_log();
        let t = |h: u32, m: u32| paris(2026, 12, 3, h, m);
        let segments = recordings(&log.0, "p_a");
        let numbers: Vec<u64> = segments.iter().map(|s| s.segment).collect();
        assert_eq!(numbers, [1, 3, 4]);
        let one = &segments[0];
        // The closing entry's times, not the opening entry's.
        assert_eq!(one.started_at, t(9, 1) - 500);
        assert_eq!(one.closed_at, Some(t(9, 29)));
        assert_eq!(one.reason.as_deref(), Some("consent_withdrawn"));
        assert_eq!(one.purged_at, Some(t(11, 30)));
        assert_eq!(
            one.files,
            [
                RecordedFile {
                    track: "audio".into(),
                    name: "s_1/1/p_a-audio".into(),
                    bytes: 100,
                    sha256: "p_a1audio".into(),
                },
                RecordedFile {
                    track: "video".into(),
                    name: "s_1/1/p_a-video".into(),
                    bytes: 300,
                    sha256: "p_a1video".into(),
                },
            ]
        );
        // Named by a file only.
        assert_eq!(segments[1].files.len(), 1);
        assert_eq!(segments[1].reason.as_deref(), Some("disarmed"));
        assert_eq!(segments[1].purged_at, None);
        // Still open: the opening entry's time, no end, no file yet.
        assert_eq!(
            segments[2],
            RecordedSegment {
                segment: 4,
                started_at: t(11, 0),
                closed_at: None,
                reason: None,
                files: Vec::new(),
                purged_at: None,
            }
        );
        // p_b's are their own.
        let b = recordings(&log.0, "p_b");
        assert_eq!(b.len(), 4);
        assert_eq!(b[0].files.len(), 1);
        assert_eq!(b[0].files[0].bytes, 200);
        assert!(b[2].files.is_empty(), "p_b has no file in segment 3");
        assert!(recordings(&log.0, "p_nobody").is_empty());
        // A proof's entries give the same list as the whole log.
        let scope = ProofScope::new(&log.0, "p_a");
        let subset: Vec<Entry> = log
            .0
            .iter()
            .filter(|e| scope.contains(e))
            .cloned()
            .collect();
        assert_eq!(recordings(&subset, "p_a"), segments);
        // ...and entries selected without the log would miss the purge.
        let alone: Vec<Entry> = log
            .0
            .iter()
            .filter(|e| in_proof(e, "p_a"))
            .cloned()
            .collect();
        assert_eq!(recordings(&alone, "p_a")[0].purged_at, None);
    }

    #[test]
    fn span_arithmetic() {
        assert_eq!(
            union(vec![(5, 7), (1, 3), (3, 4), (6, 9), (12, 12)]),
            [(1, 4), (5, 9), (12, 12)]
        );
        let set = [(0, 10), (20, 30), (40, 50)];
        let holes = [(-5, 2), (8, 22), (25, 26), (29, 45), (60, 70)];
        assert_eq!(
            subtract(&set, &holes),
            [(2, 8), (22, 25), (26, 29), (45, 50)]
        );
        assert_eq!(subtract(&set, &[]), set);
        assert_eq!(subtract(&set, &[(i64::MIN, i64::MAX)]), []);
        assert_eq!(overlap(&set, 5, 45), 5 + 10 + 5);
        // Many holes and spans stay fast.
        let set: Vec<Span> = (0..200_000).map(|i| (i * 10, i * 10 + 5)).collect();
        let holes: Vec<Span> = (0..200_000).map(|i| (i * 10 + 4, i * 10 + 6)).collect();
        assert_eq!(subtract(&set, &holes).len(), 200_000);
    }

    #[test]
    fn completion_is_capped_and_rounded() {
        assert_eq!(completion(1, 3), 0.3333);
        assert_eq!(completion(2, 3), 0.6667);
        assert_eq!(completion(5, 3), 1.0);
        assert_eq!(completion(5, 0), 0.0);
        assert_eq!(completion(0, 10), 0.0);
    }

    #[test]
    fn absurd_input_does_not_panic() {
        let sch = schedule(i64::MIN, i64::MAX);
        let s = slots(&sch);
        assert!(s.len() <= MAX_SLOTS);
        let mut log = Log::default();
        log.open(i64::MIN, "p_a", "c1")
            .visible(i64::MAX, "p_a", "c1", false)
            .close(i64::MAX, "p_a", "c1", "timeout", i64::MIN)
            .open(0, "p_a", "c2");
        let _ = derive(&sch, &log.0, "p_a", i64::MAX);
        let _ = derive(&schedule(0, 10 * 366 * 24 * H), &log.0, "p_a", i64::MIN);
        let odd = Schedule {
            planned_start: 0,
            planned_end: 30 * M,
            time_zone: "Mars/Olympus".into(),
        };
        assert!(!known_time_zone("Mars/Olympus"));
        assert_eq!(slots(&odd)[0].0, "1970-01-01.am");
    }
    #[test]
    fn conditions_count_the_persons_own_minutes_and_list_the_poorest() {
        let t0 = paris(2026, 12, 3, 9, 0);
        let q = |score: &str, reasons: &[&str]| serde_json::json!({"samples": 12, "score": score, "reasons": reasons});
        let mut log = Log::default();
        // 14 minutes of p_a: 8 excellent, 2 good, 3 poor, 1 lost; one
        // minute repeated (counted once); one with an unknown score.
        let scores = [
            "excellent",
            "poor",
            "excellent",
            "lost",
            "good",
            "excellent",
            "poor",
            "excellent",
            "excellent",
            "good",
            "excellent",
            "poor",
            "excellent",
            "excellent",
        ];
        for (i, score) in scores.iter().enumerate() {
            let mut p = q(score, if *score == "poor" { &["rtt_high"] } else { &[] });
            p["minute"] = serde_json::json!(t0 + i as i64 * M);
            log.add(t0 + (i as i64 + 1) * M, kind::QUALITY, "p_a", p);
        }
        let mut again = q("lost", &[]);
        again["minute"] = serde_json::json!(t0);
        log.add(t0 + 20 * M, kind::QUALITY, "p_a", again);
        let mut odd = q("superb", &[]);
        odd["minute"] = serde_json::json!(t0 + 30 * M);
        log.add(t0 + 31 * M, kind::QUALITY, "p_a", odd);
        // Someone else's minutes, and an alert about both: not p_a's.
        let mut b = q("lost", &[]);
        b["minute"] = serde_json::json!(t0);
        log.add(t0 + M, kind::QUALITY, "p_b", b);
        log.add(
            t0 + 2 * M,
            kind::ALERT,
            "server",
            serde_json::json!({"rule": "group_poor", "people": [{"id": "p_a"}, {"id": "p_b"}]}),
        );
        let c = conditions(&log.0, "p_a");
        assert_eq!(c.minutes, 14);
        assert_eq!(
            c.by_score,
            ScoreCounts {
                excellent: 8,
                good: 2,
                poor: 3,
                lost: 1
            }
        );
        let worst: Vec<(i64, &str)> = c
            .worst_minutes
            .iter()
            .map(|m| ((m.minute - t0) / M, m.score.as_str()))
            .collect();
        assert_eq!(worst, [(1, "poor"), (3, "lost"), (6, "poor"), (11, "poor")]);
        assert_eq!(c.worst_minutes[0].reasons, ["rtt_high"]);
        assert_eq!(conditions(&log.0, "p_c"), Conditions::default());
        // At most ten, the lost ones kept first, listed in time order.
        let mut many = Log::default();
        for i in 0..15 {
            let mut p = q(if i == 14 { "lost" } else { "poor" }, &[]);
            p["minute"] = serde_json::json!(t0 + i * M);
            many.add(t0 + (i + 1) * M, kind::QUALITY, "p_a", p);
        }
        let c = conditions(&many.0, "p_a");
        assert_eq!(c.minutes, 15);
        let kept: Vec<i64> = c
            .worst_minutes
            .iter()
            .map(|m| (m.minute - t0) / M)
            .collect();
        assert_eq!(kept, [0, 1, 2, 3, 4, 5, 6, 7, 8, 14]);
    }

    #[test]
    fn only_the_persons_own_removal_is_in_their_proof() {
        let mut log = Log::default();
        let t0 = paris(2026, 12, 3, 9, 0);
        log.add(
            t0,
            kind::REMOVED,
            "p_f",
            serde_json::json!({"participant": "p_a", "reason": "disruptive"}),
        )
        .add(
            t0 + M,
            kind::READMITTED,
            "organiser",
            serde_json::json!({"participant": "p_a"}),
        )
        .add(
            t0 + 2 * M,
            kind::REMOVED,
            "p_f",
            serde_json::json!({"participant": "p_b", "reason": "spam"}),
        )
        .add(t0 + 3 * M, kind::ALERT, "server", serde_json::json!({}))
        .add(t0 + 4 * M, kind::QUALITY, "p_a", serde_json::json!({}));
        let e = &log.0;
        let a = ProofScope::new(e, "p_a");
        assert_eq!(
            e.iter().map(|x| a.contains(x)).collect::<Vec<_>>(),
            [true, true, false, false, true]
        );
        // The facilitator who removed them: neither removal is theirs.
        let f = ProofScope::new(e, "p_f");
        assert!(e.iter().all(|x| !f.contains(x)));
        // Version 1 and 2 proofs carried the actor's entries.
        let old = ProofScope::before_v3(e, "p_f");
        assert!(old.contains(&e[0]) && old.contains(&e[2]));
        assert!(!ProofScope::before_v3(e, "p_a").contains(&e[0]));
    }
}
