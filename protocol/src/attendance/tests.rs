use super::figures::{Span, overlap, subtract, union};
use super::*;
use crate::evidence::{Entry, kind};
use chrono::TimeZone;
use chrono_tz::Tz;

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
    fn add(&mut self, ts: i64, kind: &str, actor: &str, payload: serde_json::Value) -> &mut Self {
        let seq = self.0.len() as u64;
        self.0
            .push(crate::testing::event("s_1", seq, ts, kind, actor, &payload));
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
    fn close(&mut self, ts: i64, who: &str, conn: &str, reason: &str, last_seen: i64) -> &mut Self {
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

// -- Postponements -------------------

/// A `postpone` entry at `ts` from the window `previous` to `next`, as the
/// server writes it (`previous` absent: as servers wrote it before).
fn postpone(log: &mut Log, ts: i64, previous: Option<(i64, i64)>, next: (i64, i64)) {
    let rfc = |ms: i64| {
        chrono::Utc
            .timestamp_millis_opt(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let mut p = serde_json::json!({
        "action": "postpone", "from": "running", "to": "postponed", "reason": "test",
        "planned_start": rfc(next.0), "planned_end": rfc(next.1),
    });
    if let Some((a, b)) = previous {
        p["previous_start"] = serde_json::json!(rfc(a));
        p["previous_end"] = serde_json::json!(rfc(b));
    }
    log.add(ts, kind::SESSION_STATE, "p_fac", p);
}

fn start(log: &mut Log, ts: i64, from: &str) {
    log.add(
        ts,
        kind::SESSION_STATE,
        "server",
        serde_json::json!({"action": "start", "from": from, "to": "running", "reason": ""}),
    );
}

#[test]
fn time_attended_before_a_same_day_postponement_counts_in_its_half_day() {
    // Planned 09:00–12:00; held 09:00–10:00, postponed at 10:00 to
    // 14:00–16:00 the same day, held again 14:00–15:00.
    let d = |h, m| paris(2026, 12, 3, h, m);
    let now = schedule(d(14, 0), d(16, 0));
    let mut log = Log::default();
    log.open(d(9, 0), "p_a", "c1");
    log.add(
        d(9, 5),
        kind::SIGNED_IN,
        "p_a",
        serde_json::json!({"slot": "2026-12-03.am"}),
    );
    postpone(
        &mut log,
        d(10, 0),
        Some((d(9, 0), d(12, 0))),
        (d(14, 0), d(16, 0)),
    );
    log.close(d(10, 30), "p_a", "c1", "left", d(10, 30));
    start(&mut log, d(14, 0), "postponed");
    log.open(d(14, 0), "p_a", "c2")
        .close(d(15, 0), "p_a", "c2", "left", d(15, 0));

    let a = derive(&now, &log.0, "p_a", d(17, 0));
    assert_eq!(a.half_days.len(), 2, "{:?}", a.half_days);
    let (am, pm) = (&a.half_days[0], &a.half_days[1]);
    assert_eq!(am.slot, "2026-12-03.am");
    // Only the hour before the postponement: 10:00–10:30 was not planned.
    assert_eq!((am.planned_start, am.planned_end), (d(9, 0), d(10, 0)));
    assert_eq!(am.connected_seconds, 3_600);
    assert_eq!(am.present_seconds, 3_600);
    assert_eq!(am.completion, 1.0);
    assert_eq!(am.signed_in_at, Some(d(9, 5)), "the sign-in before counts");
    assert!(am.planned_parts.is_empty());
    assert_eq!(pm.slot, "2026-12-03.pm");
    assert_eq!(pm.connected_seconds, 3_600);
    assert_eq!(a.totals.planned_seconds, 3 * 3_600);
    assert_eq!(a.totals.present_seconds, 2 * 3_600);
    assert_eq!(a.totals.completion, 0.6667);
    // A proof's entries give the same figures as the whole log.
    let own: Vec<Entry> = log
        .0
        .iter()
        .filter(|e| in_proof(e, "p_a"))
        .cloned()
        .collect();
    assert_eq!(derive(&now, &own, "p_a", d(17, 0)), a);
}

#[test]
fn a_postponement_later_in_the_same_half_day_gives_one_half_day_in_two_parts() {
    // 09:00–12:00, postponed at 10:00 to 11:00–12:30.
    let d = |h, m| paris(2026, 12, 3, h, m);
    let now = schedule(d(11, 0), d(12, 30));
    let mut log = Log::default();
    log.open(d(9, 30), "p_a", "c1");
    postpone(
        &mut log,
        d(10, 0),
        Some((d(9, 0), d(12, 0))),
        (d(11, 0), d(12, 30)),
    );
    start(&mut log, d(11, 0), "postponed");
    log.close(d(12, 0), "p_a", "c1", "left", d(12, 0));

    let a = derive(&now, &log.0, "p_a", d(13, 0));
    assert_eq!(a.half_days.len(), 1);
    let am = &a.half_days[0];
    assert_eq!(
        am.planned_parts,
        [(d(9, 0), d(10, 0)), (d(11, 0), d(12, 30))]
    );
    assert_eq!((am.planned_start, am.planned_end), (d(9, 0), d(12, 30)));
    // Connected 09:30–12:00: 30 min in the first part, 60 in the second;
    // 10:00–11:00, while postponed, is not planned time.
    assert_eq!(am.connected_seconds, 90 * 60);
    assert_eq!(a.totals.planned_seconds, 150 * 60);
    assert_eq!(a.totals.connected_seconds, 90 * 60);
    assert_eq!(am.completion, 0.6);
}

#[test]
fn a_postponement_to_another_day_keeps_the_first_morning() {
    let now = schedule(paris(2026, 12, 10, 9, 0), paris(2026, 12, 10, 12, 0));
    let mut log = Log::default();
    log.open(paris(2026, 12, 3, 9, 0), "p_a", "c1").close(
        paris(2026, 12, 3, 9, 45),
        "p_a",
        "c1",
        "left",
        paris(2026, 12, 3, 9, 45),
    );
    postpone(
        &mut log,
        paris(2026, 12, 3, 9, 50),
        Some((paris(2026, 12, 3, 9, 0), paris(2026, 12, 3, 12, 0))),
        (now.planned_start, now.planned_end),
    );
    let a = derive(&now, &log.0, "p_a", paris(2026, 12, 4, 0, 0));
    let ids: Vec<&str> = a.half_days.iter().map(|h| h.slot.as_str()).collect();
    assert_eq!(ids, ["2026-12-03.am", "2026-12-10.am"]);
    assert_eq!(a.half_days[0].connected_seconds, 45 * 60);
    assert_eq!(a.half_days[0].planned_end, paris(2026, 12, 3, 9, 50));
    assert_eq!(a.half_days[1].connected_seconds, 0);
}

#[test]
fn a_postponement_that_names_no_previous_window_reads_as_before() {
    // Logs written before `previous_start` existed: the current schedule
    // alone, so proofs issued then still verify.
    let d = |h, m| paris(2026, 12, 3, h, m);
    let now = schedule(d(14, 0), d(16, 0));
    let mut log = Log::default();
    log.open(d(9, 0), "p_a", "c1")
        .close(d(10, 0), "p_a", "c1", "left", d(10, 0));
    postpone(&mut log, d(10, 0), None, (d(14, 0), d(16, 0)));
    let a = derive(&now, &log.0, "p_a", d(17, 0));
    assert_eq!(a.half_days.len(), 1);
    assert_eq!(a.half_days[0].slot, "2026-12-03.pm");
    assert_eq!(a.totals.connected_seconds, 0);
    assert_eq!(a.totals.planned_seconds, 2 * 3_600);
}

#[test]
fn two_postponements_count_each_plan_only_while_it_was_in_force() {
    // 09:00–10:00 planned; at 09:30 moved to 10:30–11:00; at 10:00 (still
    // waiting) moved to 11:30–12:00. The middle plan was never in force
    // during its own window.
    let d = |h, m| paris(2026, 12, 3, h, m);
    let now = schedule(d(11, 30), d(12, 0));
    let mut log = Log::default();
    log.open(d(9, 0), "p_a", "c1");
    postpone(
        &mut log,
        d(9, 30),
        Some((d(9, 0), d(10, 0))),
        (d(10, 30), d(11, 0)),
    );
    postpone(
        &mut log,
        d(10, 0),
        Some((d(10, 30), d(11, 0))),
        (d(11, 30), d(12, 0)),
    );
    log.close(d(12, 0), "p_a", "c1", "left", d(12, 0));
    let a = derive(&now, &log.0, "p_a", d(13, 0));
    assert_eq!(a.half_days.len(), 1);
    assert_eq!(
        a.half_days[0].planned_parts,
        [(d(9, 0), d(9, 30)), (d(11, 30), d(12, 0))]
    );
    assert_eq!(a.totals.planned_seconds, 3_600);
    assert_eq!(a.totals.connected_seconds, 3_600);
}

#[test]
fn forged_postponements_stay_bounded() {
    // A verifier reads untrusted files: thousands of year-long earlier
    // windows yield at most MAX_SLOTS half-days.
    let mut log = Log::default();
    for i in 0..2_000 {
        postpone(
            &mut log,
            paris(2026, 12, 3, 9, 0) + i,
            Some((paris(2025, 1, 1, 0, 0), paris(2026, 12, 1, 0, 0))),
            (paris(2027, 1, 1, 9, 0), paris(2027, 1, 1, 12, 0)),
        );
    }
    let now = schedule(paris(2027, 1, 1, 9, 0), paris(2027, 1, 1, 12, 0));
    let a = derive(&now, &log.0, "p_a", paris(2027, 1, 2, 0, 0));
    assert!(a.half_days.len() <= MAX_SLOTS);
}

#[test]
fn the_slots_in_force_are_those_every_person_derives() {
    let now = schedule(paris(2026, 12, 10, 9, 0), paris(2026, 12, 10, 12, 0));
    let mut log = Log::default();
    log.open(paris(2026, 12, 3, 9, 0), "p_a", "c1");
    postpone(
        &mut log,
        paris(2026, 12, 3, 9, 50),
        Some((paris(2026, 12, 3, 9, 0), paris(2026, 12, 3, 12, 0))),
        (now.planned_start, now.planned_end),
    );
    let slots = slots_in_force(&now, &log.0);
    assert_eq!(
        slots,
        [
            (
                "2026-12-03.am".to_owned(),
                paris(2026, 12, 3, 9, 0),
                paris(2026, 12, 3, 9, 50)
            ),
            (
                "2026-12-10.am".to_owned(),
                now.planned_start,
                now.planned_end
            ),
        ]
    );
    let derived = derive(&now, &log.0, "p_b", paris(2026, 12, 4, 0, 0));
    let ids: Vec<&str> = derived.half_days.iter().map(|h| h.slot.as_str()).collect();
    assert_eq!(ids, ["2026-12-03.am", "2026-12-10.am"]);
    // Without a postponement naming its window: the schedule's slots.
    assert_eq!(slots_in_force(&now, &[]), super::slots(&now));
}
