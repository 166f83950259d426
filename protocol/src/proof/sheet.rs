//! The whole session's attendance sheet (émargement): one row per person
//! and half-day, then their totals, with its CSV rendering.

use super::{Person, SessionMeta};
use crate::Role;
use crate::attendance::{self, HalfDay, PersonAttendance};
use crate::evidence::Entry;
use serde::{Deserialize, Serialize};

/// `typ` of a whole-session attendance sheet.
pub const SHEET_TYP: &str = "cadre.attendance-sheet";
/// Version of the sheet format.
pub const SHEET_VERSION: u32 = 1;

/// One row of the attendance sheet: a person in one half-day, or their
/// totals (`half_day` is `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetRow {
    /// Participant id.
    pub person: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The slot, or `None` for the person's totals.
    pub half_day: Option<String>,
    /// Planned time, seconds.
    pub planned_seconds: i64,
    /// First connection shown for the half-day (or the session), UTC ms.
    pub first_join: Option<i64>,
    /// Last disconnection shown for the half-day (or the session), UTC ms.
    pub last_leave: Option<i64>,
    /// Connected time inside the plan, seconds.
    pub connected_seconds: i64,
    /// Present time inside the plan, seconds.
    pub present_seconds: i64,
    /// Sign-in time (half-day rows), UTC ms.
    pub signed_in_at: Option<i64>,
    /// Countersignature time (half-day rows), UTC ms.
    pub countersigned_at: Option<i64>,
    /// Half-days signed (0 or 1 on a half-day row).
    pub signed_half_days: usize,
    /// Half-days countersigned.
    pub countersigned_half_days: usize,
    /// Number of half-days the row covers.
    pub half_days: usize,
    /// present ÷ planned, 0–1, 4 decimals.
    pub completion: f64,
}

/// The attendance of everyone in a session (émargement of the session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttendanceSheet {
    /// [`SHEET_TYP`].
    pub typ: String,
    /// [`SHEET_VERSION`].
    pub v: u32,
    /// When it was issued, UTC ms.
    pub issued_at: i64,
    /// The training organisation.
    pub organisation: String,
    /// The session.
    pub session: SessionMeta,
    /// Per person, each of their half-days then their totals.
    pub rows: Vec<SheetRow>,
}

/// The sheet of a session from its whole log. `now_ms` is what a connection
/// still open counts until.
pub fn build_sheet(
    issued_at: i64,
    organisation: &str,
    session: &SessionMeta,
    people: &[Person],
    entries: &[Entry],
    now_ms: i64,
) -> AttendanceSheet {
    let schedule = session.schedule();
    let mut rows = Vec::new();
    for person in people {
        let a = attendance::derive(&schedule, entries, &person.id, now_ms);
        rows.extend(person_rows(person, &a));
    }
    AttendanceSheet {
        typ: SHEET_TYP.to_owned(),
        v: SHEET_VERSION,
        issued_at,
        organisation: organisation.to_owned(),
        session: session.clone(),
        rows,
    }
}

/// The half-day's planned time: its parts' when a postponement left a gap
/// in it, else its one span.
fn planned_seconds(h: &HalfDay) -> i64 {
    if h.planned_parts.is_empty() {
        return h.planned_end.saturating_sub(h.planned_start).max(0) / 1000;
    }
    h.planned_parts
        .iter()
        .map(|&(a, b)| b.saturating_sub(a).max(0))
        .fold(0i64, i64::saturating_add)
        / 1000
}

fn person_rows(person: &Person, a: &PersonAttendance) -> Vec<SheetRow> {
    let row = |half_day: Option<String>| SheetRow {
        person: person.id.clone(),
        name: person.name.clone(),
        role: person.role,
        half_day,
        planned_seconds: 0,
        first_join: None,
        last_leave: None,
        connected_seconds: 0,
        present_seconds: 0,
        signed_in_at: None,
        countersigned_at: None,
        signed_half_days: 0,
        countersigned_half_days: 0,
        half_days: 1,
        completion: 0.0,
    };
    let mut rows: Vec<SheetRow> = a
        .half_days
        .iter()
        .map(|h| SheetRow {
            planned_seconds: planned_seconds(h),
            first_join: h.intervals.first().map(|i| i.start),
            last_leave: h.intervals.last().map(|i| i.end),
            connected_seconds: h.connected_seconds,
            present_seconds: h.present_seconds,
            signed_in_at: h.signed_in_at,
            countersigned_at: h.countersigned_at,
            signed_half_days: usize::from(h.signed_in_at.is_some()),
            countersigned_half_days: usize::from(h.countersigned_at.is_some()),
            completion: h.completion,
            ..row(Some(h.slot.clone()))
        })
        .collect();
    let total = SheetRow {
        planned_seconds: a.totals.planned_seconds,
        first_join: a.first_join,
        last_leave: a.last_leave,
        connected_seconds: a.totals.connected_seconds,
        present_seconds: a.totals.present_seconds,
        signed_half_days: rows.iter().map(|r| r.signed_half_days).sum(),
        countersigned_half_days: rows.iter().map(|r| r.countersigned_half_days).sum(),
        half_days: rows.len(),
        completion: a.totals.completion,
        ..row(None)
    };
    rows.push(total);
    rows
}

/// The CSV header, in the order of the columns.
pub const CSV_HEADER: [&str; 10] = [
    "name",
    "role",
    "half-day",
    "first join",
    "last leave",
    "connected time",
    "present time",
    "sign-in",
    "countersignature",
    "completion",
];

impl AttendanceSheet {
    /// The sheet as CSV (RFC 4180: comma, CRLF, quotes doubled), UTF-8 with a
    /// byte order mark so that spreadsheet software reads accents right.
    /// Times are local to the session with their offset; durations
    /// `H:MM:SS`; completion a percentage. A cell that a spreadsheet would
    /// take for a formula (`=`, `+`, `-`, `@`) is prefixed with `'`.
    pub fn to_csv(&self) -> String {
        let tz = &self.session.time_zone;
        let time = |t: Option<i64>| t.map(|t| attendance::local_time(t, tz)).unwrap_or_default();
        let mut out = String::from('\u{feff}');
        push_record(&mut out, CSV_HEADER.iter().map(|s| s.to_string()));
        for r in &self.rows {
            let (sign_in, counter) = match &r.half_day {
                Some(_) => (time(r.signed_in_at), time(r.countersigned_at)),
                None => (
                    format!("{}/{}", r.signed_half_days, r.half_days),
                    format!("{}/{}", r.countersigned_half_days, r.half_days),
                ),
            };
            push_record(
                &mut out,
                [
                    r.name.clone(),
                    r.role.as_str().to_owned(),
                    r.half_day.clone().unwrap_or_else(|| "total".to_owned()),
                    time(r.first_join),
                    time(r.last_leave),
                    duration(r.connected_seconds),
                    duration(r.present_seconds),
                    sign_in,
                    counter,
                    format!("{:.2} %", r.completion * 100.0),
                ]
                .into_iter(),
            );
        }
        out
    }
}

/// `H:MM:SS`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Appends one CSV record (RFC 4180 quoting, CRLF); a field a spreadsheet
/// would take for a formula is prefixed with `'`.
pub fn push_record(out: &mut String, fields: impl Iterator<Item = String>) {
    push_record_with(out, ',', fields);
}

/// [`push_record`] with another separator (`;` for a spreadsheet set to
/// French): a field holding it, a quote or a line break is quoted.
pub fn push_record_with(out: &mut String, separator: char, fields: impl Iterator<Item = String>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(separator);
        }
        let field = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{field}")
        } else {
            field
        };
        if field.contains([separator, '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&field);
        }
    }
    out.push_str("\r\n");
}
