use super::*;
use cadre_protocol::quality::PeerStats;

/// A minute boundary, so tests can reason in whole minutes.
const T0: i64 = 1_700_000_040_000;
const S: i64 = 1000;

fn tracker() -> QualityTracker {
    QualityTracker::new(QualityConfig::default())
}

fn figures(rtt: f64, loss: f64, jitter: f64) -> ConnectionStats {
    ConnectionStats {
        connection: "connected".into(),
        peers: vec![PeerStats {
            peer: "remote".into(),
            rtt_ms: Some(rtt),
            loss: Some(loss),
            jitter_ms: Some(jitter),
            in_kbps: Some(800.0),
            out_kbps: Some(600.0),
            fps: None,
        }],
    }
}

fn fine() -> ConnectionStats {
    figures(40.0, 0.0, 5.0)
}

fn poor() -> ConnectionStats {
    figures(450.0, 0.08, 35.0)
}

fn connection(state: &str) -> ConnectionStats {
    ConnectionStats {
        connection: state.into(),
        peers: vec![],
    }
}

fn has(view: &ParticipantQuality, code: &str) -> bool {
    view.reasons.iter().any(|r| r == code)
}

/// Reports every 5 s from each (id, report) and ticks, over [from, to].
/// Returns every tick.
fn run(
    t: &mut QualityTracker,
    who: &[(&str, &ConnectionStats)],
    from: i64,
    to: i64,
) -> Vec<(i64, Tick)> {
    let mut out = Vec::new();
    let mut now = from;
    while now <= to {
        for (id, report) in who {
            t.stats(id, report, now);
        }
        out.push((now, t.tick(now)));
        now += 5 * S;
    }
    out
}

fn alerts_of<'a>(ticks: &'a [(i64, Tick)], rule_code: &str) -> Vec<(i64, &'a Alert)> {
    ticks
        .iter()
        .flat_map(|(now, t)| t.alerts.iter().map(move |a| (*now, a)))
        .filter(|(_, a)| a.rule == rule_code)
        .collect()
}

#[test]
fn scores_at_each_threshold_boundary() {
    let c = QualityConfig::default();
    let score = |rtt, loss, jitter| {
        c.score(&Figures {
            rtt_ms: rtt,
            loss,
            jitter_ms: jitter,
            ..Figures::default()
        })
    };
    let cases = [
        // rtt
        (Some(149.9), None, None, Score::Excellent, None),
        (Some(150.0), None, None, Score::Good, None),
        (Some(299.9), None, None, Score::Good, None),
        (Some(300.0), None, None, Score::Poor, Some(reason::RTT_HIGH)),
        // loss
        (None, Some(0.0099), None, Score::Excellent, None),
        (None, Some(0.01), None, Score::Good, None),
        (None, Some(0.0299), None, Score::Good, None),
        (None, Some(0.03), None, Score::Poor, Some(reason::LOSS_HIGH)),
        // jitter
        (None, None, Some(19.9), Score::Excellent, None),
        (None, None, Some(20.0), Score::Good, None),
        (None, None, Some(49.9), Score::Good, None),
        (
            None,
            None,
            Some(50.0),
            Score::Poor,
            Some(reason::JITTER_HIGH),
        ),
        // the worst figure decides
        (Some(10.0), Some(0.0), Some(49.0), Score::Good, None),
        (
            Some(10.0),
            Some(0.05),
            Some(1.0),
            Score::Poor,
            Some(reason::LOSS_HIGH),
        ),
        // nothing measured
        (None, None, None, Score::Good, None),
    ];
    for (rtt, loss, jitter, expected, why) in cases {
        let (s, reasons) = score(rtt, loss, jitter);
        assert_eq!(s, expected, "{rtt:?} {loss:?} {jitter:?}");
        assert_eq!(reasons, why.into_iter().collect::<Vec<_>>());
    }
    let fps = |v| {
        c.score(&Figures {
            rtt_ms: Some(20.0),
            fps: Some(v),
            ..Figures::default()
        })
    };
    assert_eq!(fps(10.0), (Score::Excellent, vec![]));
    assert_eq!(fps(9.9), (Score::Poor, vec![reason::FPS_LOW]));
    let off = QualityConfig {
        fps_poor_below: None,
        ..QualityConfig::default()
    };
    assert_eq!(
        off.score(&Figures {
            fps: Some(2.0),
            ..Figures::default()
        })
        .0,
        Score::Excellent
    );

    // Through the tracker: the view changes with the score.
    let mut t = tracker();
    t.join("a", Role::Participant, T0);
    let v = t.stats("a", &figures(149.0, 0.0, 1.0), T0 + S).unwrap();
    assert_eq!(v.score, Score::Excellent);
    assert_eq!(v.since, T0 + S);
    assert_eq!(t.stats("a", &figures(140.0, 0.0, 1.0), T0 + 2 * S), None);
    let v = t.stats("a", &figures(300.0, 0.0, 1.0), T0 + 3 * S).unwrap();
    assert_eq!(v.score, Score::Poor);
    assert!(has(&v, reason::RTT_HIGH));
    assert_eq!(v.figures.rtt_ms, Some(300.0));
}

#[test]
fn figures_are_medians_across_peers_and_sums_of_bitrates() {
    let mut t = tracker();
    for id in ["a", "b", "c", "d"] {
        t.join(id, Role::Participant, T0);
    }
    t.camera("b", true, T0);
    t.camera("c", true, T0);
    let peer = |id: &str, rtt, loss, fps| PeerStats {
        peer: id.into(),
        rtt_ms: Some(rtt),
        loss: Some(loss),
        jitter_ms: Some(4.0),
        in_kbps: Some(1000.0),
        out_kbps: Some(500.0),
        fps,
    };
    // One remote peer's bad link is not held against "a"; "d" has its
    // camera off, so its (black-frame) fps does not count.
    let report = ConnectionStats {
        connection: "connected".into(),
        peers: vec![
            peer("b", 40.0, 0.0, Some(30.0)),
            peer("c", 60.0, 0.002, Some(24.0)),
            peer("d", 900.0, 0.2, Some(1.0)),
        ],
    };
    let v = t.stats("a", &report, T0 + S).unwrap();
    assert_eq!(v.score, Score::Excellent, "{v:?}");
    assert_eq!(v.figures.rtt_ms, Some(60.0));
    assert_eq!(v.figures.loss, Some(0.002));
    assert_eq!(v.figures.in_kbps, Some(3000.0));
    assert_eq!(v.figures.out_kbps, Some(1500.0));
    assert_eq!(v.figures.fps, Some(27.0));
    // Once "d" turns its camera on, its frame rate counts.
    t.camera("d", true, T0 + 2 * S);
    t.stats("a", &report, T0 + 3 * S);
    assert_eq!(t.view("a").unwrap().figures.fps, Some(24.0));
}

#[test]
fn lost_after_silence_and_on_failed_connection() {
    let mut t = tracker();
    t.join("a", Role::Participant, T0);
    // Never reported: lost 15 s after the join, not before.
    assert!(t.tick(T0 + 14_999).changed.is_empty());
    let tick = t.tick(T0 + 15 * S);
    assert_eq!(tick.changed.len(), 1);
    assert_eq!(tick.changed[0].score, Score::Lost);
    assert_eq!(tick.changed[0].since, T0 + 15 * S);
    assert!(has(&tick.changed[0], reason::NO_STATS));
    // A report brings them back; silence counts from it.
    let v = t.stats("a", &fine(), T0 + 20 * S).unwrap();
    assert_eq!(v.score, Score::Excellent);
    assert!(!has(&v, reason::NO_STATS));
    assert!(t.tick(T0 + 34_999).changed.is_empty());
    assert_eq!(t.tick(T0 + 35 * S).changed[0].score, Score::Lost);

    // The figures last known stay as evidence.
    assert_eq!(t.view("a").unwrap().figures.rtt_ms, Some(40.0));

    let v = t.stats("a", &connection("failed"), T0 + 36 * S).unwrap();
    assert_eq!(v.score, Score::Lost);
    assert!(has(&v, reason::CONNECTION_FAILED));
    let v = t
        .stats("a", &connection("disconnected"), T0 + 37 * S)
        .unwrap();
    assert_eq!(v.score, Score::Lost);
    assert!(has(&v, reason::CONNECTION_DISCONNECTED));
    assert_eq!(v.since, T0 + 35 * S, "still lost since the silence");
    let v = t.stats("a", &connection("closed"), T0 + 38 * S).unwrap();
    assert!(has(&v, reason::CONNECTION_FAILED));
    // Alone in the session (no peer, state new): nothing is wrong.
    let v = t.stats("a", &connection("new"), T0 + 39 * S).unwrap();
    assert_eq!(v.score, Score::Good);
    assert_eq!(v.reasons, vec![reason::CAMERA_OFF.to_owned()]);
}

#[test]
fn invalid_reports_and_strangers_are_ignored() {
    let mut t = tracker();
    t.join("a", Role::Participant, T0);
    let mut bad = fine();
    bad.peers[0].loss = Some(-0.5);
    assert_eq!(t.stats("a", &bad, T0 + S), None);
    assert_eq!(t.stats("zz", &fine(), T0 + S), None);
    assert_eq!(t.view("zz"), None);
    // The invalid report did not count as a sign of life.
    assert_eq!(t.tick(T0 + 15 * S).changed[0].score, Score::Lost);
    assert_eq!(t.presence("zz", false, false, T0), None);
    assert_eq!(t.camera("zz", true, T0), None);
    assert!(t.leave("zz", T0).is_empty());
}

#[test]
fn presence_is_reported_only_after_the_long_stretch() {
    let mut t = tracker();
    t.join("a", Role::Participant, T0);
    t.camera("a", true, T0);
    let reports = |t: &mut QualityTracker, at: i64| {
        t.stats("a", &fine(), at);
    };
    reports(&mut t, T0);
    // A short absence is never reported, neither going nor coming back.
    assert_eq!(t.presence("a", false, false, T0 + S), None);
    reports(&mut t, T0 + 60 * S);
    assert!(t.tick(T0 + 60 * S).changed.is_empty());
    assert_eq!(t.presence("a", true, true, T0 + 61 * S), None);
    assert!(t.view("a").unwrap().presence.visible);

    // Hidden for five minutes: reported at the tick that sees it.
    let hidden_at = T0 + 100 * S;
    t.presence("a", false, false, hidden_at);
    let mut now = hidden_at;
    while now < hidden_at + 5 * 60 * S {
        reports(&mut t, now);
        assert!(t.tick(now).changed.is_empty(), "at {}", now - hidden_at);
        now += 5 * S;
    }
    let last = hidden_at + 5 * 60 * S - 1;
    reports(&mut t, last);
    assert!(t.tick(last).changed.is_empty());
    let tick = t.tick(hidden_at + 5 * 60 * S);
    let v = &tick.changed[0];
    assert_eq!(v.reasons, vec![reason::TAB_HIDDEN_LONG.to_owned()]);
    assert_eq!(v.score, Score::Excellent, "presence never lowers the score");
    assert!(!v.presence.visible);
    assert_eq!(v.presence.hidden_since, Some(hidden_at));
    // Visible again: the person and the facilitators see it at once.
    reports(&mut t, hidden_at + 6 * 60 * S - 2 * S);
    let v = t.presence("a", true, true, hidden_at + 6 * 60 * S).unwrap();
    assert!(v.reasons.is_empty());
    assert!(v.presence.visible && v.presence.hidden_since.is_none());

    // Unfocused (tab visible) for ten minutes.
    let from = T0 + 1000 * S;
    t.presence("a", true, false, from);
    reports(&mut t, from + 10 * 60 * S - 5 * S);
    assert!(t.tick(from + 10 * 60 * S - 1).changed.is_empty());
    let tick = t.tick(from + 10 * 60 * S);
    let v = &tick.changed[0];
    assert_eq!(v.reasons, vec![reason::UNFOCUSED_LONG.to_owned()]);
    assert!(!v.presence.focused && v.presence.visible);
    assert_eq!(v.presence.unfocused_since, Some(from));
    assert!(tick.alerts.is_empty());
}

#[test]
fn camera_off_is_shown_but_never_lowers_the_score_nor_alerts() {
    let mut t = tracker();
    t.join("f", Role::Facilitator, T0);
    t.join("a", Role::Participant, T0);
    t.camera("f", true, T0);
    let v = t.view("a").unwrap();
    assert!(has(&v, reason::CAMERA_OFF) && !v.presence.camera);
    let v = t.stats("a", &fine(), T0 + S).unwrap();
    assert_eq!(v.score, Score::Excellent);
    assert_eq!(v.reasons, vec![reason::CAMERA_OFF.to_owned()]);

    let v = t.camera("a", true, T0 + 2 * S).unwrap();
    assert_eq!(v.score, Score::Excellent);
    assert!(v.reasons.is_empty() && v.presence.camera);
    assert_eq!(v.since, T0 + S, "a reason change keeps the score's since");
    let v = t.camera("a", false, T0 + 3 * S).unwrap();
    assert_eq!(v.score, Score::Excellent);
    assert_eq!(t.camera("a", false, T0 + 4 * S), None);

    // Camera off for an hour, everyone else fine: no alert ever.
    let ticks = run(
        &mut t,
        &[("a", &fine()), ("f", &fine())],
        T0 + 5 * S,
        T0 + 3600 * S,
    );
    assert!(ticks.iter().all(|(_, t)| t.alerts.is_empty()));
    assert_eq!(t.view("a").unwrap().score, Score::Excellent);
}

#[test]
fn facilitator_link_poor_alerts_after_30_s_not_before() {
    let mut t = tracker();
    t.join("f", Role::Facilitator, T0);
    t.join("a", Role::Participant, T0);
    t.join("b", Role::Participant, T0);
    t.stats("f", &poor(), T0);
    let ticks = run(
        &mut t,
        &[("f", &poor()), ("a", &fine()), ("b", &fine())],
        T0,
        T0 + 29 * S,
    );
    assert!(ticks.iter().all(|(_, t)| t.alerts.is_empty()));
    t.stats("f", &poor(), T0 + 30 * S);
    let tick = t.tick(T0 + 30 * S);
    assert_eq!(tick.alerts.len(), 1, "{tick:?}");
    let alert = &tick.alerts[0];
    assert_eq!(alert.rule, rule::FACILITATOR_LINK_POOR);
    assert_eq!(alert.suggested, suggested::CHECK_CONNECTION);
    assert_eq!(alert.since, T0);
    assert_eq!(alert.at, T0 + 30 * S);
    assert_eq!(alert.people.len(), 1);
    assert_eq!(alert.people[0].id, "f");
    assert_eq!(alert.people[0].score, Score::Poor);
    assert_eq!(alert.people[0].figures.rtt_ms, Some(450.0));
    assert_eq!(
        alert.message,
        "Connexion dégradée côté accompagnant depuis 30 s : f (médiocre ; RTT 450 ms, \
         pertes 8,0 %, gigue 35 ms). Action suggérée : vérifier la connexion, ou passer \
         la main."
    );
    assert_eq!(tick.suspend, None, "auto_suspend is off by default");
    assert!(!t.config().auto_suspend);

    // Poor then lost is one run of trouble: since stays at the start.
    let mut t = tracker();
    t.join("f", Role::Facilitator, T0);
    t.stats("f", &poor(), T0);
    t.stats("f", &connection("failed"), T0 + 20 * S);
    assert!(t.tick(T0 + 29 * S).alerts.is_empty());
    t.stats("f", &connection("failed"), T0 + 30 * S);
    assert_eq!(t.tick(T0 + 30 * S).alerts[0].since, T0);
}

#[test]
fn one_good_report_restarts_the_clock() {
    let mut t = tracker();
    t.join("f", Role::Facilitator, T0);
    run(&mut t, &[("f", &poor())], T0, T0 + 25 * S);
    t.stats("f", &fine(), T0 + 27 * S);
    let ticks = run(&mut t, &[("f", &poor())], T0 + 28 * S, T0 + 55 * S);
    assert!(ticks.iter().all(|(_, t)| t.alerts.is_empty()));
    let ticks = run(&mut t, &[("f", &poor())], T0 + 58 * S, T0 + 58 * S);
    assert_eq!(
        alerts_of(&ticks, rule::FACILITATOR_LINK_POOR)[0].1.since,
        T0 + 28 * S
    );
}

#[test]
fn group_rule_needs_a_third_of_participants_for_60_s() {
    // Six participants and a facilitator: one poor participant is not
    // enough, two are (after 60 s, not before).
    let mut t = tracker();
    t.join("f", Role::Facilitator, T0);
    let ids = ["p1", "p2", "p3", "p4", "p5", "p6"];
    for id in ids {
        t.join(id, Role::Participant, T0);
    }
    let (good, bad) = (fine(), poor());
    let mut who: Vec<(&str, &ConnectionStats)> = vec![("f", &good)];
    who.extend(
        ids.iter()
            .map(|id| (*id, if *id == "p1" { &bad } else { &good })),
    );
    let ticks = run(&mut t, &who, T0, T0 + 300 * S);
    assert!(ticks.iter().all(|(_, t)| t.alerts.is_empty()));

    let start = T0 + 305 * S;
    who[2].1 = &bad; // p2
    let ticks = run(&mut t, &who, start, start + 55 * S);
    assert!(ticks.iter().all(|(_, t)| t.alerts.is_empty()));
    let ticks = run(&mut t, &who, start + 60 * S, start + 60 * S);
    let alerts = alerts_of(&ticks, rule::GROUP_POOR);
    assert_eq!(alerts.len(), 1);
    let alert = alerts[0].1;
    let people: Vec<&str> = alert.people.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(people, ["p1", "p2"]);
    assert_eq!(alert.since, T0, "p1 has been poor since the start");
    assert_eq!(alert.suggested, suggested::SUSPEND);
    assert!(
        alert.message.starts_with("2 participant(s) sur 6"),
        "{}",
        alert.message
    );
}

#[test]
fn group_rule_leaves_facilitators_out() {
    // Three participants: one poor participant is a third.
    let mut t = tracker();
    t.join("f", Role::Facilitator, T0);
    for id in ["p1", "p2", "p3"] {
        t.join(id, Role::Participant, T0);
    }
    let (good, bad) = (fine(), poor());
    // The facilitator poor, every participant fine: only the
    // facilitator's rule.
    let ticks = run(
        &mut t,
        &[("f", &bad), ("p1", &good), ("p2", &good), ("p3", &good)],
        T0,
        T0 + 120 * S,
    );
    assert!(!alerts_of(&ticks, rule::FACILITATOR_LINK_POOR).is_empty());
    assert!(alerts_of(&ticks, rule::GROUP_POOR).is_empty());

    let mut t = tracker();
    t.join("f", Role::Facilitator, T0);
    for id in ["p1", "p2", "p3"] {
        t.join(id, Role::Participant, T0);
    }
    let ticks = run(
        &mut t,
        &[("f", &good), ("p1", &bad), ("p2", &good), ("p3", &good)],
        T0,
        T0 + 120 * S,
    );
    let alerts = alerts_of(&ticks, rule::GROUP_POOR);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].0, T0 + 60 * S);
    assert!(alerts_of(&ticks, rule::FACILITATOR_LINK_POOR).is_empty());
}

#[test]
fn group_share_rounds_up_and_needs_one() {
    let third = 1.0 / 3.0;
    assert_eq!(group_required(third, 1), 1);
    assert_eq!(group_required(third, 2), 1);
    assert_eq!(group_required(third, 3), 1);
    assert_eq!(group_required(third, 4), 2);
    assert_eq!(group_required(third, 6), 2);
    assert_eq!(group_required(third, 7), 3);
    assert_eq!(group_required(third, 30), 10);
    assert_eq!(group_required(0.0, 5), 1);
}

#[test]
fn alerts_repeat_only_after_the_window_and_clear_when_over() {
    let mut t = tracker();
    t.join("f", Role::Facilitator, T0);
    let ticks = run(&mut t, &[("f", &poor())], T0, T0 + 600 * S);
    let alerts = alerts_of(&ticks, rule::FACILITATOR_LINK_POOR);
    let times: Vec<i64> = alerts.iter().map(|(at, _)| at - T0).collect();
    assert_eq!(times, [30 * S, 330 * S], "first at 30 s, again 5 min later");
    assert!(ticks.iter().all(|(_, t)| t.cleared.is_empty()));

    // Fine again: cleared once.
    let ticks = run(&mut t, &[("f", &fine())], T0 + 605 * S, T0 + 700 * S);
    let cleared: Vec<_> = ticks
        .iter()
        .flat_map(|(at, t)| t.cleared.iter().map(move |r| (*at, r)))
        .collect();
    assert_eq!(
        cleared,
        [(T0 + 605 * S, &rule::FACILITATOR_LINK_POOR.to_owned())]
    );
    assert!(ticks.iter().all(|(_, t)| t.alerts.is_empty()));

    // A new episode is news: alerted after its own 30 s, even within
    // five minutes of the last alert.
    let ticks = run(&mut t, &[("f", &poor())], T0 + 705 * S, T0 + 760 * S);
    let alerts = alerts_of(&ticks, rule::FACILITATOR_LINK_POOR);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].0, T0 + 735 * S);
    assert_eq!(alerts[0].1.since, T0 + 705 * S);
}

#[test]
fn auto_suspend_gives_suspend_once_per_episode() {
    let mut t = QualityTracker::new(QualityConfig {
        auto_suspend: true,
        ..QualityConfig::default()
    });
    t.join("f", Role::Facilitator, T0);
    let ticks = run(&mut t, &[("f", &poor())], T0, T0 + 600 * S);
    let suspends: Vec<_> = ticks
        .iter()
        .filter_map(|(at, t)| t.suspend.as_ref().map(|a| (*at, a)))
        .collect();
    assert_eq!(suspends.len(), 1, "not again on the repeated alert");
    assert_eq!(suspends[0].0, T0 + 30 * S);
    assert_eq!(suspends[0].1.rule, rule::FACILITATOR_LINK_POOR);
    assert_eq!(alerts_of(&ticks, rule::FACILITATOR_LINK_POOR).len(), 2);

    // Off (the default): the same trouble never asks to suspend.
    let mut t = tracker();
    t.join("f", Role::Facilitator, T0);
    let ticks = run(&mut t, &[("f", &poor())], T0, T0 + 600 * S);
    assert!(ticks.iter().all(|(_, t)| t.suspend.is_none()));
}

#[test]
fn one_summary_per_person_per_minute_with_the_right_counts() {
    let mut t = tracker();
    t.join("a", Role::Participant, T0 + 10 * S);
    t.join("b", Role::Participant, T0 + 10 * S);
    // "a": 8 fine and 4 poor reports in the first minute; "b": none.
    let mut now = T0 + 10 * S;
    for i in 0..12 {
        let r = if i < 8 { fine() } else { poor() };
        t.stats("a", &r, now);
        assert!(t.tick(now).summaries.is_empty());
        now += 4 * S;
    }
    assert!(now < T0 + 60 * S);
    let tick = t.tick(T0 + 60 * S);
    assert_eq!(tick.summaries.len(), 2, "{:?}", tick.summaries);
    let (id, a) = &tick.summaries[0];
    assert_eq!(id, "a");
    assert_eq!(a["minute"], json!(T0));
    assert_eq!(a["samples"], json!(12));
    assert_eq!(a["score"], json!("excellent"));
    assert_eq!(a["worst"], json!("poor"));
    assert_eq!(a["scores"], json!({"excellent": 8, "poor": 4}));
    assert_eq!(a["rtt_ms"], json!({"median": 40.0, "max": 450.0}));
    assert_eq!(
        a["loss"],
        json!({"mean": round(4.0 * 0.08 / 12.0, 4), "max": 0.08})
    );
    assert_eq!(a["jitter_ms"], json!({"median": 5.0, "max": 35.0}));
    assert_eq!(a["in_kbps"], json!({"mean": 800.0}));
    assert_eq!(a["reasons"], json!(["loss_high", "rtt_high"]));
    assert!(a.get("fps").is_none());
    assert!(a.to_string().len() < 400, "{a}");

    let (id, b) = &tick.summaries[1];
    assert_eq!(id, "b");
    assert_eq!(b["samples"], json!(0));
    assert_eq!(b["minute"], json!(T0));
    // Joined at 10 s, silent: lost at 25 s.
    assert_eq!(b["score"], json!("lost"));
    assert_eq!(b["reasons"], json!(["no_stats"]));
    assert!(b.get("scores").is_none());

    // Not again within the same minute.
    assert!(t.tick(T0 + 65 * S).summaries.is_empty());
    assert!(t.tick(T0 + 119 * S).summaries.is_empty());
    let next = t.tick(T0 + 120 * S).summaries;
    assert_eq!(next.len(), 2);
    assert_eq!(next[0].1["minute"], json!(T0 + 60 * S));
    assert_eq!(next[0].1["samples"], json!(0));
    // "a" went silent after its last poor report: lost.
    assert_eq!(next[0].1["score"], json!("lost"));
}

#[test]
fn a_minute_keeps_at_most_120_samples() {
    let mut t = tracker();
    t.join("a", Role::Participant, T0);
    for i in 0..500 {
        t.stats("a", &fine(), T0 + i * 100);
    }
    let tick = t.tick(T0 + 60 * S);
    assert_eq!(
        tick.summaries[0].1["samples"],
        json!(MAX_SAMPLES_PER_MINUTE)
    );
}

#[test]
fn leave_summarises_the_open_minute_and_stops_counting() {
    let mut t = tracker();
    t.join("f", Role::Facilitator, T0);
    t.join("p1", Role::Participant, T0);
    t.join("p2", Role::Participant, T0);
    let (good, bad) = (fine(), poor());
    let ticks = run(
        &mut t,
        &[("f", &good), ("p1", &bad), ("p2", &good)],
        T0,
        T0 + 90 * S,
    );
    assert_eq!(alerts_of(&ticks, rule::GROUP_POOR).len(), 1);

    // p1 leaves mid-minute (the minute started at T0 + 60 s).
    let out = t.leave("p1", T0 + 92 * S);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, "p1");
    assert_eq!(out[0].1["minute"], json!(T0 + 60 * S));
    assert_eq!(out[0].1["samples"], json!(7));
    assert_eq!(out[0].1["score"], json!("poor"));
    assert_eq!(t.view("p1"), None);
    assert_eq!(t.all().len(), 2);

    // The group rule no longer holds without them.
    let tick = t.tick(T0 + 95 * S);
    assert_eq!(tick.cleared, [rule::GROUP_POOR.to_owned()]);
    // Nobody summarises p1's minute twice.
    let tick = t.tick(T0 + 120 * S);
    assert!(tick.summaries.iter().all(|(id, _)| id != "p1"));
    assert_eq!(tick.summaries.len(), 2);

    // A finished minute not yet handed out goes with the leave too.
    t.stats("f", &good, T0 + 125 * S);
    t.stats("f", &good, T0 + 181 * S); // closes the minute of T0 + 120 s
    let out = t.leave("f", T0 + 182 * S);
    let minutes: Vec<&Value> = out.iter().map(|(_, v)| &v["minute"]).collect();
    assert_eq!(minutes, [&json!(T0 + 120 * S), &json!(T0 + 180 * S)]);
    assert!(t.leave("f", T0 + 183 * S).is_empty());
}

#[test]
fn rejoining_starts_measurements_over() {
    let mut t = tracker();
    t.join("a", Role::Participant, T0);
    t.stats("a", &poor(), T0 + S);
    t.camera("a", true, T0 + S);
    let v = t.join("a", Role::Participant, T0 + 10 * S);
    assert_eq!(v.score, Score::Good);
    assert_eq!(v.figures, Figures::default());
    assert!(has(&v, reason::CAMERA_OFF));
    // Silence counts from the new join.
    assert!(t.tick(T0 + 24 * S).changed.is_empty());
    assert_eq!(t.tick(T0 + 25 * S).changed[0].score, Score::Lost);
    // One open minute, not two.
    let tick = t.tick(T0 + 60 * S);
    assert_eq!(tick.summaries.len(), 1);
    assert_eq!(tick.summaries[0].1["samples"], json!(1));
}

#[test]
fn all_lists_everyone_for_a_facilitator() {
    let mut t = tracker();
    t.join("b", Role::Participant, T0);
    let v = t.join("a", Role::Facilitator, T0);
    assert_eq!(v.score, Score::Good);
    assert_eq!(v.since, T0);
    let ids: Vec<String> = t.all().into_iter().map(|v| v.id).collect();
    assert_eq!(ids, ["a", "b"]);
}

#[test]
fn french_wording() {
    assert_eq!(duration_fr(45_400), "45 s");
    assert_eq!(duration_fr(120_000), "2 min");
    assert_eq!(duration_fr(125_000), "2 min 5 s");
    assert_eq!(number_fr(6.04, 1), "6,0");
}

#[test]
fn the_servers_own_measure_of_a_forwarded_session_can_only_lower_the_score() {
    let mut t = tracker();
    t.join("p_karim", Role::Participant, T0);
    let view = t.stats("p_karim", &fine(), T0).expect("a first view");
    assert_eq!(view.score, Score::Excellent);
    // The browser says all is well; the server misses 10 % of its packets.
    let lossy = ServerView {
        uplink_loss: Some(0.10),
        ..ServerView::default()
    };
    let view = t.server("p_karim", lossy, T0 + S).expect("a change");
    assert_eq!(view.score, Score::Poor);
    assert!(has(&view, reason::SERVER_LOSS_UP), "{view:?}");
    // A little loss on what it is sent: at most good, no reason.
    let slight = ServerView {
        uplink_loss: Some(0.0),
        downlink_loss: Some(0.02),
        ..ServerView::default()
    };
    let view = t.server("p_karim", slight, T0 + 2 * S).expect("a change");
    assert_eq!(view.score, Score::Good);
    assert!(
        !has(&view, reason::SERVER_LOSS_UP) && !has(&view, reason::SERVER_LOSS_DOWN),
        "{view:?}"
    );
    // A clean link never raises a score the browser lowered.
    t.stats("p_karim", &poor(), T0 + 3 * S);
    let view = t
        .server("p_karim", ServerView::default(), T0 + 4 * S)
        .or_else(|| t.view("p_karim"))
        .expect("a view");
    assert_eq!(view.score, Score::Poor);
    assert!(!has(&view, reason::SERVER_LOSS_UP));
    // A measure older than five seconds no longer counts.
    t.stats("p_karim", &fine(), T0 + 5 * S);
    t.server("p_karim", lossy, T0 + 6 * S);
    t.stats("p_karim", &fine(), T0 + 12 * S);
    let view = t.view("p_karim").expect("a view");
    assert_eq!(view.score, Score::Excellent, "{view:?}");
    // Someone not joined: nothing.
    assert!(t.server("p_nobody", lossy, T0).is_none());
}

#[test]
fn the_servers_round_trip_and_jitter_count_like_the_browsers() {
    let mut t = tracker();
    t.join("p_karim", Role::Participant, T0);
    t.stats("p_karim", &fine(), T0);
    // The server's own checks take 450 ms to come back (above the good
    // bound, 300 ms): poor, whatever the browser says.
    let slow = ServerView {
        rtt_ms: Some(450.0),
        jitter_ms: Some(5.0),
        ..ServerView::default()
    };
    let view = t.server("p_karim", slow, T0 + S).expect("a change");
    assert_eq!(view.score, Score::Poor);
    assert!(has(&view, reason::SERVER_RTT_HIGH), "{view:?}");
    assert!(!has(&view, reason::SERVER_JITTER_HIGH), "{view:?}");
    // Between the bounds: at most good, no reason.
    let middling = ServerView {
        rtt_ms: Some(200.0),
        jitter_ms: Some(30.0),
        ..ServerView::default()
    };
    let view = t.server("p_karim", middling, T0 + 2 * S).expect("a change");
    assert_eq!(view.score, Score::Good);
    assert!(
        view.reasons.iter().all(|r| !r.starts_with("server_")),
        "{view:?}"
    );
    // Sound arriving unevenly (60 ms, above the good bound, 50 ms).
    let uneven = ServerView {
        rtt_ms: Some(20.0),
        jitter_ms: Some(60.0),
        ..ServerView::default()
    };
    let view = t.server("p_karim", uneven, T0 + 3 * S).expect("a change");
    assert_eq!(view.score, Score::Poor);
    assert!(has(&view, reason::SERVER_JITTER_HIGH), "{view:?}");
    assert!(!has(&view, reason::SERVER_RTT_HIGH), "{view:?}");
}

#[test]
fn a_failed_connection_to_the_server_is_lost_until_media_flows_on_that_side_again() {
    let mut t = tracker();
    t.join("p_karim", Role::Participant, T0);
    t.stats("p_karim", &fine(), T0);
    // The connection carrying Karim's media failed; his browser still says
    // all is well (the socket works: UDP is blocked, say).
    let view = t.server_failed("p_karim", true, T0 + S).expect("a change");
    assert_eq!(view.score, Score::Lost);
    assert!(has(&view, reason::SERVER_CONNECTION_FAILED), "{view:?}");
    t.stats("p_karim", &fine(), T0 + 2 * S);
    assert_eq!(t.view("p_karim").expect("view").score, Score::Lost);
    // What the others send him flowing does not clear his own side.
    let down_only = ServerView {
        downlink_loss: Some(0.0),
        ..ServerView::default()
    };
    t.server("p_karim", down_only, T0 + 3 * S);
    assert_eq!(t.view("p_karim").expect("view").score, Score::Lost);
    // His media reaches the server again: cleared.
    let flowing = ServerView {
        uplink_loss: Some(0.0),
        downlink_loss: Some(0.0),
        ..ServerView::default()
    };
    let view = t.server("p_karim", flowing, T0 + 4 * S).expect("a change");
    assert_eq!(view.score, Score::Excellent, "{view:?}");
    assert!(!has(&view, reason::SERVER_CONNECTION_FAILED));
}
