//! What a proof claims against what its entries give: each difference as
//! a sentence for the auditor, naming the half-day, the figure and both
//! values.

use super::verify::count;
use super::{AttendanceProof, ControlEvent};
use crate::attendance::{self, Conditions, ConsentDecision, PersonAttendance, RecordedSegment};
use std::fmt::Write as _;

/// Connection conditions as text: `42 minutes measured (35 excellent,
/// 5 good, 2 poor, 0 lost); poorest: 2026-12-03T09:14:00+01:00 poor
/// (rtt_high), …`.
pub fn show_conditions(c: &Conditions, tz: &str) -> String {
    if c.minutes == 0 {
        return "no minute measured".to_owned();
    }
    let b = &c.by_score;
    let mut s = format!(
        "{} measured ({} excellent, {} good, {} poor, {} lost)",
        count(c.minutes as usize, "minute", "minutes"),
        b.excellent,
        b.good,
        b.poor,
        b.lost
    );
    if !c.worst_minutes.is_empty() {
        let worst: Vec<String> = c
            .worst_minutes
            .iter()
            .map(|m| {
                let mut one = format!("{} {}", attendance::local_time(m.minute, tz), m.score);
                if !m.reasons.is_empty() {
                    let _ = write!(one, " ({})", m.reasons.join(", "));
                }
                one
            })
            .collect();
        let _ = write!(s, "; poorest: {}", worst.join(", "));
    }
    s
}

/// What a consent decision says, as text: `2026-12-03T09:01:00+01:00
/// recording granted (wording 3f5a9c0e…)`.
fn show_decision(d: &ConsentDecision, tz: &str) -> String {
    format!(
        "{} {} {} (wording {})",
        attendance::local_time(d.ts, tz),
        d.consent,
        if d.granted { "granted" } else { "not granted" },
        d.text_sha256
    )
}

pub(super) fn compare_consents(
    claimed: &[ConsentDecision],
    derived: &[ConsentDecision],
    tz: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    if claimed.len() != derived.len() {
        out.push(format!(
            "the proof lists {} but the entries hold {}",
            count(claimed.len(), "consent decision", "consent decisions"),
            derived.len()
        ));
    }
    for (i, (c, d)) in claimed.iter().zip(derived).enumerate() {
        if c != d {
            out.push(format!(
                "consent decision {}: the proof states {} but the entry says {}",
                i + 1,
                show_decision(c, tz),
                show_decision(d, tz)
            ));
        }
    }
    out
}

/// A recorded segment as text, for a failure message.
fn show_segment(s: &RecordedSegment, tz: &str) -> String {
    let files: Vec<String> = s
        .files
        .iter()
        .map(|f| format!("{} {} bytes sha256 {}", f.track, f.bytes, f.sha256))
        .collect();
    format!(
        "segment {} from {} to {}, closed {}, files [{}], purged {}",
        s.segment,
        attendance::local_time(s.started_at, tz),
        s.closed_at
            .map(|t| attendance::local_time(t, tz))
            .unwrap_or_else(|| "(still open)".to_owned()),
        s.reason.as_deref().unwrap_or("(no reason)"),
        files.join(", "),
        s.purged_at
            .map(|t| attendance::local_time(t, tz))
            .unwrap_or_else(|| "(not yet)".to_owned()),
    )
}

pub(super) fn compare_recordings(
    claimed: &[RecordedSegment],
    derived: &[RecordedSegment],
    tz: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    if claimed.len() != derived.len() {
        out.push(format!(
            "the proof lists {} but the entries show {}",
            count(claimed.len(), "recorded segment", "recorded segments"),
            derived.len()
        ));
    }
    for (c, d) in claimed.iter().zip(derived) {
        if c != d {
            out.push(format!(
                "recording: the proof states {} but the entries say {}",
                show_segment(c, tz),
                show_segment(d, tz)
            ));
        }
    }
    out
}

/// Completion compared at its 4 decimals, so a JSON round trip of the float
/// can never make equal figures differ.
fn same_ratio(a: f64, b: f64) -> bool {
    (a * 10_000.0).round() == (b * 10_000.0).round()
}

/// The times a half-day and the totals both state: connected and present
/// seconds, completion.
type Times = (i64, i64, f64);

/// Those of `claimed` and `recomputed` that differ, in that order, each as
/// (name, claimed, recomputed).
fn differing_times(claimed: Times, recomputed: Times) -> Vec<(&'static str, String, String)> {
    let (c, d) = (claimed, recomputed);
    let mut out = Vec::new();
    if c.0 != d.0 {
        out.push(("connected_seconds", c.0.to_string(), d.0.to_string()));
    }
    if c.1 != d.1 {
        out.push(("present_seconds", c.1.to_string(), d.1.to_string()));
    }
    if !same_ratio(c.2, d.2) {
        out.push(("completion", c.2.to_string(), d.2.to_string()));
    }
    out
}

pub(super) fn compare(
    proof: &AttendanceProof,
    derived: &PersonAttendance,
    control: &[ControlEvent],
) -> Vec<String> {
    let mut out = Vec::new();
    let claimed = &proof.half_days;
    if claimed.len() != derived.half_days.len() {
        out.push(format!(
            "the proof lists {} half-days, the schedule has {}",
            claimed.len(),
            derived.half_days.len()
        ));
    }
    for (c, d) in claimed.iter().zip(&derived.half_days) {
        let slot = &d.slot;
        let mut differ = |what: &str, claimed: String, recomputed: String| {
            out.push(format!(
                "{slot}: {what} is {claimed} in the proof but {recomputed} recomputed from the entries"
            ));
        };
        if c.slot != d.slot {
            differ("the slot", c.slot.clone(), d.slot.clone());
        }
        if (c.planned_start, c.planned_end) != (d.planned_start, d.planned_end) {
            differ(
                "the planned time",
                format!("{}–{}", c.planned_start, c.planned_end),
                format!("{}–{}", d.planned_start, d.planned_end),
            );
        }
        if c.planned_parts != d.planned_parts {
            differ(
                "the planned parts",
                format!("{:?}", c.planned_parts),
                format!("{:?}", d.planned_parts),
            );
        }
        for (what, claimed, recomputed) in differing_times(
            (c.connected_seconds, c.present_seconds, c.completion),
            (d.connected_seconds, d.present_seconds, d.completion),
        ) {
            differ(what, claimed, recomputed);
        }
        if c.signed_in_at != d.signed_in_at {
            differ(
                "signed_in_at",
                format!("{:?}", c.signed_in_at),
                format!("{:?}", d.signed_in_at),
            );
        }
        if c.countersigned_at != d.countersigned_at {
            differ(
                "countersigned_at",
                format!("{:?}", c.countersigned_at),
                format!("{:?}", d.countersigned_at),
            );
        }
        if c.intervals != d.intervals {
            let show = |v: &[attendance::Interval]| {
                v.iter()
                    .map(|i| format!("{}–{}", i.start_local, i.end_local))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            differ(
                "the interval list",
                format!("[{}]", show(&c.intervals)),
                format!("[{}]", show(&d.intervals)),
            );
        }
    }
    let (c, d) = (&proof.totals, &derived.totals);
    let mut total = |what: &str, claimed: String, recomputed: String| {
        out.push(format!(
            "totals: {what} is {claimed} in the proof but {recomputed} recomputed from the entries"
        ));
    };
    if c.planned_seconds != d.planned_seconds {
        total(
            "planned_seconds",
            c.planned_seconds.to_string(),
            d.planned_seconds.to_string(),
        );
    }
    for (what, claimed, recomputed) in differing_times(
        (c.connected_seconds, c.present_seconds, c.completion),
        (d.connected_seconds, d.present_seconds, d.completion),
    ) {
        total(what, claimed, recomputed);
    }
    if proof.control != control {
        out.push(format!(
            "the control events ({} listed) differ from the {} control entries",
            proof.control.len(),
            control.len()
        ));
    }
    out
}
