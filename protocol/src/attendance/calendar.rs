//! The session's calendar: its planned window cut into half-day slots at
//! local midnight and 13:00 in its time zone (DST-correct), and times as
//! people read them there.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike};
use chrono_tz::Tz;
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

/// Time zone used when a schedule names none or an unknown one.
pub const DEFAULT_TIME_ZONE: &str = "Europe/Paris";

/// Most slots a schedule yields (a year of half-days). Bounds the work a
/// forged proof with an absurd schedule can cause a verifier.
pub const MAX_SLOTS: usize = 2 * 366;

/// True when `name` is an IANA time zone this build knows.
pub fn known_time_zone(name: &str) -> bool {
    name.parse::<Tz>().is_ok()
}

pub(super) fn zone(name: &str) -> Tz {
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

pub(super) fn render(tz: Tz, ms: i64) -> String {
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
pub(super) struct Plan {
    /// `YYYY-MM-DD.am|pm`.
    pub(super) id: String,
    /// The planned part of the session in this slot, UTC ms.
    pub(super) start: i64,
    pub(super) end: i64,
    /// The calendar half-day around it (local 00:00–13:00 or 13:00–24:00).
    pub(super) day_start: i64,
    pub(super) day_end: i64,
}

pub(super) fn plan(schedule: &Schedule) -> Vec<Plan> {
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
