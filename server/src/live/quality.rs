//! Connection and presence quality of one live session: scores, per-minute
//! summaries for the ledger, and the alert rules. Pure logic, no clock and
//! no I/O: the session actor owns one [`QualityTracker`], passes the time
//! (`now`, ms since the Unix epoch) to every call, and does the sending and
//! the writing. `docs/quality.md` is the reference for the rules.
//!
//! How the actor uses it:
//! - [`QualityTracker::join`] / [`QualityTracker::leave`] with the roster
//!   (write what `leave` returns to the ledger as kind `quality`, actor the
//!   person);
//! - [`QualityTracker::stats`] for each `stats` message,
//!   [`QualityTracker::presence`] for each `presence` message,
//!   [`QualityTracker::camera`] for each `media_state` (the tracker assumes
//!   the camera is off until told);
//! - [`QualityTracker::tick`] every ~5 s: push `changed` views, write
//!   `summaries` (kind `quality`) and `alerts` (kind `alert`), tell the
//!   facilitators about `alerts` and `cleared`, and suspend the session when
//!   `suspend` is set (only when [`QualityConfig::auto_suspend`] is on).
//!
//! Every returned [`ParticipantQuality`] goes to the facilitators and to the
//! person it is about; nobody else.

use cadre_protocol::Role;
use cadre_protocol::quality::{
    Alert, ConnectionStats, Figures, ParticipantQuality, Presence, Score, reason, rule, suggested,
};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Length of a summary period: a wall-clock minute (UTC-aligned).
pub const MINUTE_MS: i64 = 60_000;
/// Reports kept per person per minute for the summary; later ones in the
/// same minute still update the live score but are left out of the summary.
pub const MAX_SAMPLES_PER_MINUTE: usize = 120;

mod config;
pub use config::{QualityConfig, QualityFile, Thresholds, ThresholdsFile};

/// What one [`QualityTracker::tick`] produced.
#[derive(Debug, Default)]
pub struct Tick {
    /// Views whose score, reasons or reported presence changed (push them).
    pub changed: Vec<ParticipantQuality>,
    /// Finished minutes: (person id, payload) for ledger entries of kind
    /// `quality` with the person as actor.
    pub summaries: Vec<(String, Value)>,
    /// Alerts raised now (new, or repeated after
    /// [`QualityConfig::alert_repeat_after`]): tell the facilitators and
    /// record them (kind `alert`).
    pub alerts: Vec<Alert>,
    /// Rules that stopped holding since their last alert (tell the
    /// facilitators: `alert_cleared`).
    pub cleared: Vec<String>,
    /// Set once per episode, only with [`QualityConfig::auto_suspend`]: the
    /// alert that justifies suspending the session now.
    pub suspend: Option<Alert>,
}

impl Tick {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
            && self.summaries.is_empty()
            && self.alerts.is_empty()
            && self.cleared.is_empty()
            && self.suspend.is_none()
    }
}

/// The quality state of one live session.
#[derive(Debug)]
pub struct QualityTracker {
    config: QualityConfig,
    people: BTreeMap<String, Person>,
    /// Finished minutes not handed out yet.
    pending: Vec<(String, Value)>,
    rules: [RuleState; 2],
}

const RULES: [&str; 2] = [rule::FACILITATOR_LINK_POOR, rule::GROUP_POOR];

#[derive(Debug, Default, Clone, Copy)]
struct RuleState {
    /// Alerted and not cleared since.
    active: bool,
    last_alert: i64,
}

#[derive(Debug)]
struct Person {
    role: Role,
    /// Start of the current connection (silence is counted from here too).
    joined_at: i64,
    last_report_at: Option<i64>,
    /// Score and reasons of the last report.
    report: Option<(Score, Vec<&'static str>)>,
    figures: Figures,
    visible: bool,
    focused: bool,
    camera: bool,
    hidden_since: Option<i64>,
    unfocused_since: Option<i64>,
    /// What the server measured itself (a forwarded session), and when.
    server: Option<(ServerView, i64)>,
    /// A forwarded session: since when the person's connection to the
    /// server that carries their media (`up`) or the others' (`down`) has
    /// failed, until media flows on it again.
    failed_up: Option<i64>,
    failed_down: Option<i64>,
    // What was last published.
    score: Score,
    since: i64,
    reasons: Vec<&'static str>,
    presence: Presence,
    /// When the current run of `poor`/`lost` began.
    bad_since: Option<i64>,
    minute: Minute,
}

#[derive(Debug)]
struct Minute {
    start: i64,
    samples: Vec<Figures>,
    /// Samples per score, indexed like [`Score::ALL`].
    counts: [u32; 4],
    /// Worst score held at any time in the minute.
    worst: Score,
    /// Connection reasons seen in the minute.
    reasons: BTreeSet<&'static str>,
}

impl Minute {
    fn new(start: i64, held: Score, reasons: &[&'static str]) -> Self {
        Minute {
            start,
            samples: Vec::new(),
            counts: [0; 4],
            worst: held,
            reasons: reasons
                .iter()
                .copied()
                .filter(|r| !reason::is_presence(r))
                .collect(),
        }
    }
}

fn minute_start(now: i64) -> i64 {
    now.div_euclid(MINUTE_MS) * MINUTE_MS
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl QualityTracker {
    /// An empty tracker.
    pub fn new(config: QualityConfig) -> Self {
        QualityTracker {
            config,
            people: BTreeMap::new(),
            pending: Vec::new(),
            rules: [RuleState::default(); 2],
        }
    }

    /// The settings.
    pub fn config(&self) -> &QualityConfig {
        &self.config
    }

    /// A person joins (or reconnects: their measurements and presence start
    /// over, their open minute goes on). Until the first report they are
    /// `good`; without a report for [`QualityConfig::lost_after`] they are
    /// `lost`. Returns their view, to push.
    pub fn join(&mut self, id: &str, role: Role, now: i64) -> ParticipantQuality {
        if let Some(p) = self.people.get_mut(id) {
            p.role = role;
            p.joined_at = now;
            p.last_report_at = None;
            p.report = None;
            p.figures = Figures::default();
            p.visible = true;
            p.focused = true;
            p.camera = false;
            p.hidden_since = None;
            p.unfocused_since = None;
        } else {
            let person = Person {
                role,
                joined_at: now,
                last_report_at: None,
                report: None,
                figures: Figures::default(),
                visible: true,
                focused: true,
                camera: false,
                hidden_since: None,
                unfocused_since: None,
                server: None,
                failed_up: None,
                failed_down: None,
                score: Score::Good,
                since: now,
                reasons: Vec::new(),
                presence: Presence::default(),
                bad_since: None,
                minute: Minute::new(minute_start(now), Score::Good, &[]),
            };
            self.people.insert(id.to_owned(), person);
        }
        self.roll(id, now);
        self.refresh(id, now);
        view_of(id, &self.people[id])
    }

    /// A person leaves: they no longer count in the rules. Returns their
    /// summaries not handed out yet, the open minute included (write them).
    pub fn leave(&mut self, id: &str, now: i64) -> Vec<(String, Value)> {
        self.roll(id, now);
        let Some(person) = self.people.remove(id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        self.pending.retain(|(pid, payload)| {
            if pid == id {
                out.push((pid.clone(), payload.clone()));
                false
            } else {
                true
            }
        });
        out.push((id.to_owned(), summary(&person.minute)));
        out
    }

    /// A report from `id`. A report that fails [`ConnectionStats::validate`], or
    /// from someone not joined, is ignored (the connection layer answers
    /// the error). Returns the new view when the score, the reasons or the
    /// reported presence changed.
    pub fn stats(
        &mut self,
        id: &str,
        report: &ConnectionStats,
        now: i64,
    ) -> Option<ParticipantQuality> {
        if report.validate().is_err() || !self.people.contains_key(id) {
            return None;
        }
        let figures = aggregate(report, |peer| {
            self.people.get(peer).is_none_or(|p| p.camera)
        });
        let (score, reasons) = match report.connection.as_str() {
            "failed" | "closed" => (Score::Lost, vec![reason::CONNECTION_FAILED]),
            "disconnected" => (Score::Lost, vec![reason::CONNECTION_DISCONNECTED]),
            _ => self.config.score(&figures),
        };
        self.roll(id, now);
        let person = self.people.get_mut(id)?;
        person.last_report_at = Some(now);
        person.report = Some((score, reasons));
        person.figures = figures;
        let minute = &mut person.minute;
        if minute.samples.len() < MAX_SAMPLES_PER_MINUTE {
            minute.samples.push(figures);
            minute.counts[score as usize] += 1;
        }
        self.refresh(id, now)
    }

    /// What the server measured of `id`'s media (a forwarded session):
    /// a loss at or above the `good` threshold makes the score `poor`
    /// whatever the browser says, above `excellent` at most `good`. Returns
    /// the new view when it changed.
    pub fn server(&mut self, id: &str, view: ServerView, now: i64) -> Option<ParticipantQuality> {
        let person = self.people.get_mut(id)?;
        person.server = Some((view, now));
        // Media flowing again on a side clears its failure.
        if view.uplink_loss.is_some() {
            person.failed_up = None;
        }
        if view.downlink_loss.is_some() {
            person.failed_down = None;
        }
        self.refresh(id, now)
    }

    /// A forwarded session: `id`'s connection to the server failed, the
    /// one carrying their media (`up`) or the others' to them. The person
    /// is `lost` until media flows on that side again.
    pub fn server_failed(&mut self, id: &str, up: bool, now: i64) -> Option<ParticipantQuality> {
        let person = self.people.get_mut(id)?;
        if up {
            person.failed_up.get_or_insert(now);
        } else {
            person.failed_down.get_or_insert(now);
        }
        self.refresh(id, now)
    }

    /// Tab visibility and window focus of `id` changed. Short absences are
    /// not reported, so this returns a view only when a reported long
    /// stretch ends (the long stretch itself is noticed by [`Self::tick`]).
    pub fn presence(
        &mut self,
        id: &str,
        visible: bool,
        focused: bool,
        now: i64,
    ) -> Option<ParticipantQuality> {
        let person = self.people.get_mut(id)?;
        person.visible = visible;
        person.focused = focused;
        person.hidden_since = if visible {
            None
        } else {
            person.hidden_since.or(Some(now))
        };
        person.unfocused_since = if focused {
            None
        } else {
            person.unfocused_since.or(Some(now))
        };
        self.refresh(id, now)
    }

    /// The camera of `id` was switched on or off. Shown as `camera_off`,
    /// never counted against the person. Returns the view when it changed.
    pub fn camera(&mut self, id: &str, on: bool, now: i64) -> Option<ParticipantQuality> {
        self.people.get_mut(id)?.camera = on;
        self.refresh(id, now)
    }

    /// Periodic work (every ~5 s): silence and long stretches, finished
    /// minutes, alert rules.
    pub fn tick(&mut self, now: i64) -> Tick {
        let mut tick = Tick::default();
        let ids: Vec<String> = self.people.keys().cloned().collect();
        for id in &ids {
            self.roll(id, now);
            if let Some(view) = self.refresh(id, now) {
                tick.changed.push(view);
            }
        }
        tick.summaries = std::mem::take(&mut self.pending);
        self.evaluate_rules(now, &mut tick);
        tick
    }

    /// The current view of `id`.
    pub fn view(&self, id: &str) -> Option<ParticipantQuality> {
        self.people.get(id).map(|p| view_of(id, p))
    }

    /// Everyone's current view, by id (for a facilitator who connects).
    pub fn all(&self) -> Vec<ParticipantQuality> {
        self.people.iter().map(|(id, p)| view_of(id, p)).collect()
    }

    /// Closes `id`'s minute if `now` is in a later one.
    fn roll(&mut self, id: &str, now: i64) {
        let Some(person) = self.people.get_mut(id) else {
            return;
        };
        let current = minute_start(now);
        if person.minute.start < current {
            let next = Minute::new(current, person.score, &person.reasons);
            let done = std::mem::replace(&mut person.minute, next);
            self.pending.push((id.to_owned(), summary(&done)));
        }
    }

    /// Re-evaluates `id` at `now`; returns the view if anything published
    /// changed.
    fn refresh(&mut self, id: &str, now: i64) -> Option<ParticipantQuality> {
        let config = &self.config;
        let person = self.people.get_mut(id)?;

        let silent_from = person
            .last_report_at
            .map_or(person.joined_at, |t| t.max(person.joined_at));
        let (mut score, mut reasons) = if now.saturating_sub(silent_from) >= ms(config.lost_after) {
            (Score::Lost, vec![reason::NO_STATS])
        } else {
            person.report.clone().unwrap_or((Score::Good, Vec::new()))
        };

        // A connection to the server that failed: whatever the browser says,
        // the others no longer see or hear the person, or they them.
        if person.failed_up.is_some() || person.failed_down.is_some() {
            score = Score::Lost;
            reasons.push(reason::SERVER_CONNECTION_FAILED);
        }
        // The server's own measure can only make it worse.
        if let Some((view, at)) = person.server
            && now.saturating_sub(at) < SERVER_VIEW_FRESH_MS
            && score != Score::Lost
        {
            let (good, excellent) = (&config.good, &config.excellent);
            for (figure, good, excellent, code) in [
                (
                    view.uplink_loss,
                    good.loss,
                    excellent.loss,
                    reason::SERVER_LOSS_UP,
                ),
                (
                    view.downlink_loss,
                    good.loss,
                    excellent.loss,
                    reason::SERVER_LOSS_DOWN,
                ),
                (
                    view.rtt_ms,
                    good.rtt_ms,
                    excellent.rtt_ms,
                    reason::SERVER_RTT_HIGH,
                ),
                (
                    view.jitter_ms,
                    good.jitter_ms,
                    excellent.jitter_ms,
                    reason::SERVER_JITTER_HIGH,
                ),
            ] {
                let Some(figure) = figure else { continue };
                if figure >= good {
                    score = Score::Poor;
                    reasons.push(code);
                } else if figure >= excellent {
                    score = score.worse(Score::Good);
                }
            }
        }

        let long = |since: Option<i64>, after: Duration| {
            since.filter(|&s| now.saturating_sub(s) >= ms(after))
        };
        let hidden = long(person.hidden_since, config.hidden_long);
        let unfocused = if hidden.is_none() && person.visible {
            long(person.unfocused_since, config.unfocused_long)
        } else {
            None
        };
        let presence = Presence {
            visible: hidden.is_none(),
            focused: unfocused.is_none(),
            camera: person.camera,
            hidden_since: hidden,
            unfocused_since: unfocused,
        };
        if hidden.is_some() {
            reasons.push(reason::TAB_HIDDEN_LONG);
        }
        if unfocused.is_some() {
            reasons.push(reason::UNFOCUSED_LONG);
        }
        if !person.camera {
            reasons.push(reason::CAMERA_OFF);
        }

        person.minute.worst = person.minute.worst.worse(score);
        person
            .minute
            .reasons
            .extend(reasons.iter().copied().filter(|r| !reason::is_presence(r)));

        if score == person.score && reasons == person.reasons && presence == person.presence {
            return None;
        }
        if score != person.score {
            person.since = now;
            if !score.is_bad() {
                person.bad_since = None;
            } else if person.bad_since.is_none() {
                person.bad_since = Some(now);
            }
        }
        person.score = score;
        person.reasons = reasons;
        person.presence = presence;
        Some(view_of(id, person))
    }

    fn evaluate_rules(&mut self, now: i64, tick: &mut Tick) {
        let config = &self.config;
        let bad_for =
            |p: &Person, d: Duration| p.bad_since.is_some_and(|s| now.saturating_sub(s) >= ms(d));

        let facilitators: Vec<&str> = self
            .people
            .iter()
            .filter(|(_, p)| p.role == Role::Facilitator && bad_for(p, config.facilitator_poor_for))
            .map(|(id, _)| id.as_str())
            .collect();

        let participants = self
            .people
            .values()
            .filter(|p| p.role == Role::Participant)
            .count();
        let group: Vec<&str> = self
            .people
            .iter()
            .filter(|(_, p)| p.role == Role::Participant && bad_for(p, config.group_poor_for))
            .map(|(id, _)| id.as_str())
            .collect();
        let required = group_required(config.group_poor_fraction, participants);
        let group_holds = participants > 0 && group.len() >= required;

        let holding = [
            (!facilitators.is_empty()).then_some(facilitators),
            group_holds.then_some(group),
        ];
        let repeat = ms(config.alert_repeat_after);
        let mut raised = Vec::new();
        for (i, who) in holding.into_iter().enumerate() {
            let state = &mut self.rules[i];
            match who {
                Some(who) => {
                    let first = !state.active;
                    if first || now.saturating_sub(state.last_alert) >= repeat {
                        state.active = true;
                        state.last_alert = now;
                        let ids: Vec<String> = who.into_iter().map(str::to_owned).collect();
                        raised.push((RULES[i], ids, first));
                    }
                }
                None if state.active => {
                    state.active = false;
                    tick.cleared.push(RULES[i].to_owned());
                }
                None => {}
            }
        }
        for (rule_code, ids, first) in raised {
            let alert = self.alert(rule_code, &ids, participants, now);
            if first && self.config.auto_suspend && tick.suspend.is_none() {
                tick.suspend = Some(alert.clone());
            }
            tick.alerts.push(alert);
        }
    }

    fn alert(&self, rule_code: &str, ids: &[String], participants: usize, now: i64) -> Alert {
        let people: Vec<ParticipantQuality> = ids.iter().filter_map(|id| self.view(id)).collect();
        let since = ids
            .iter()
            .filter_map(|id| self.people.get(id)?.bad_since)
            .min()
            .unwrap_or(now);
        let who = people
            .iter()
            .map(describe_fr)
            .collect::<Vec<_>>()
            .join(" ; ");
        let duration = duration_fr(now - since);
        let (message, action) = if rule_code == rule::FACILITATOR_LINK_POOR {
            (
                format!(
                    "Connexion dégradée côté accompagnant depuis {duration} : {who}. \
                     Action suggérée : vérifier la connexion, ou passer la main."
                ),
                suggested::CHECK_CONNECTION,
            )
        } else {
            (
                format!(
                    "{} participant(s) sur {participants} en connexion médiocre ou perdue \
                     depuis {duration} : {who}. Action suggérée : suspendre ou reporter la \
                     séance si le travail n'est plus possible.",
                    people.len()
                ),
                suggested::SUSPEND,
            )
        };
        Alert {
            rule: rule_code.to_owned(),
            message,
            people,
            since,
            suggested: action.to_owned(),
            at: now,
        }
    }
}

/// What the server measures itself of a person's media in a forwarded
/// session, whatever their browser reports: the fraction of their packets
/// it misses (uplink) and of what it sends them that their receiver reports
/// lost (downlink), over the last second; the round trip to them and the
/// jitter of their sound as it reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ServerView {
    /// 0..=1; `None` when too few packets came to tell.
    pub uplink_loss: Option<f64>,
    /// 0..=1; `None` when nothing was reported.
    pub downlink_loss: Option<f64>,
    /// ms; `None` before the first measure.
    pub rtt_ms: Option<f64>,
    /// ms; `None` while no sound arrives.
    pub jitter_ms: Option<f64>,
}

/// A server view older than this no longer counts (the forwarding stopped
/// measuring: the person left it, or the session is peer to peer).
const SERVER_VIEW_FRESH_MS: i64 = 5_000;

/// Participants needed for `group_poor`: the fraction of those present,
/// rounded up, and at least one.
fn group_required(fraction: f64, participants: usize) -> usize {
    let share = (fraction * participants as f64 - 1e-9).ceil();
    (share.max(1.0)) as usize
}

fn view_of(id: &str, p: &Person) -> ParticipantQuality {
    ParticipantQuality {
        id: id.to_owned(),
        score: p.score,
        since: p.since,
        figures: p.figures,
        presence: p.presence,
        reasons: p.reasons.iter().map(|r| (*r).to_owned()).collect(),
    }
}

/// A person's figures from a report: medians across peers for RTT, loss,
/// jitter and fps (fps only from peers whose camera is on), sums for the
/// bitrates.
fn aggregate(report: &ConnectionStats, camera_on: impl Fn(&str) -> bool) -> Figures {
    let collect = |get: &dyn Fn(&cadre_protocol::quality::PeerStats) -> Option<f64>| {
        report.peers.iter().filter_map(get).collect::<Vec<f64>>()
    };
    let sum = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum());
    Figures {
        rtt_ms: median(collect(&|p| p.rtt_ms)),
        loss: median(collect(&|p| p.loss)),
        jitter_ms: median(collect(&|p| p.jitter_ms)),
        in_kbps: sum(collect(&|p| p.in_kbps)),
        out_kbps: sum(collect(&|p| p.out_kbps)),
        fps: median(collect(&|p| p.fps.filter(|_| camera_on(&p.peer)))),
    }
}

/// Median (mean of the two middle values for an even count).
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

fn round(v: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (v * k).round() / k
}

/// The ledger payload of one finished minute (see `docs/quality.md`).
fn summary(m: &Minute) -> Value {
    let samples: u32 = m.counts.iter().sum();
    // Most frequent score among the samples, the worse one on a tie; with
    // no sample, the worst score held.
    let score = if samples == 0 {
        m.worst
    } else {
        Score::ALL
            .into_iter()
            .rev()
            .max_by_key(|s| m.counts[*s as usize])
            .unwrap_or(m.worst)
    };
    let mut out = Map::new();
    out.insert("minute".into(), json!(m.start));
    out.insert("samples".into(), json!(samples));
    out.insert("score".into(), json!(score));
    out.insert("worst".into(), json!(m.worst));
    let scores: Map<String, Value> = Score::ALL
        .into_iter()
        .filter(|s| m.counts[*s as usize] > 0)
        .map(|s| (s.as_str().to_owned(), json!(m.counts[s as usize])))
        .collect();
    if !scores.is_empty() {
        out.insert("scores".into(), Value::Object(scores));
    }
    if !m.reasons.is_empty() {
        out.insert("reasons".into(), json!(m.reasons));
    }
    let series = |get: fn(&Figures) -> Option<f64>| -> Vec<f64> {
        m.samples.iter().filter_map(get).collect()
    };
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;

    let rtt = series(|f| f.rtt_ms);
    if !rtt.is_empty() {
        let med = median(rtt.clone()).unwrap_or_default();
        out.insert(
            "rtt_ms".into(),
            json!({"median": round(med, 0), "max": round(max(&rtt), 0)}),
        );
    }
    let loss = series(|f| f.loss);
    if !loss.is_empty() {
        out.insert(
            "loss".into(),
            json!({"mean": round(mean(&loss), 4), "max": round(max(&loss), 4)}),
        );
    }
    let jitter = series(|f| f.jitter_ms);
    if !jitter.is_empty() {
        let med = median(jitter.clone()).unwrap_or_default();
        out.insert(
            "jitter_ms".into(),
            json!({"median": round(med, 1), "max": round(max(&jitter), 1)}),
        );
    }
    let fps = series(|f| f.fps);
    if !fps.is_empty() {
        let med = median(fps.clone()).unwrap_or_default();
        out.insert(
            "fps".into(),
            json!({"median": round(med, 1), "min": round(min(&fps), 1)}),
        );
    }
    for (name, get) in [
        (
            "in_kbps",
            (|f: &Figures| f.in_kbps) as fn(&Figures) -> Option<f64>,
        ),
        ("out_kbps", |f: &Figures| f.out_kbps),
    ] {
        let v = series(get);
        if !v.is_empty() {
            out.insert(name.into(), json!({"mean": round(mean(&v), 0)}));
        }
    }
    Value::Object(out)
}

fn score_fr(s: Score) -> &'static str {
    match s {
        Score::Excellent => "excellente",
        Score::Good => "bonne",
        Score::Poor => "médiocre",
        Score::Lost => "perdue",
    }
}

fn number_fr(v: f64, places: usize) -> String {
    format!("{v:.places$}").replace('.', ",")
}

/// `p-12 (médiocre ; RTT 420 ms, pertes 6,0 %)`.
fn describe_fr(q: &ParticipantQuality) -> String {
    let mut parts = Vec::new();
    let f = &q.figures;
    if let Some(v) = f.rtt_ms {
        parts.push(format!("RTT {} ms", number_fr(v, 0)));
    }
    if let Some(v) = f.loss {
        parts.push(format!("pertes {} %", number_fr(v * 100.0, 1)));
    }
    if let Some(v) = f.jitter_ms {
        parts.push(format!("gigue {} ms", number_fr(v, 0)));
    }
    if let Some(v) = f.fps {
        parts.push(format!("{} img/s", number_fr(v, 0)));
    }
    for r in &q.reasons {
        match r.as_str() {
            reason::NO_STATS => parts.push("plus aucune mesure reçue".into()),
            reason::CONNECTION_FAILED => parts.push("connexion média en échec".into()),
            reason::CONNECTION_DISCONNECTED => parts.push("connexion média interrompue".into()),
            _ => {}
        }
    }
    let mut text = format!("{} ({}", q.id, score_fr(q.score));
    if !parts.is_empty() {
        text.push_str(" ; ");
        text.push_str(&parts.join(", "));
    }
    text.push(')');
    text
}

/// `45 s`, `2 min 5 s`.
fn duration_fr(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match (s / 60, s % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;

    #[test]
    fn a_settings_file_overrides_what_it_names_and_refuses_nonsense() {
        let f: QualityFile = toml::from_str(
            "auto_suspend = true\nfacilitator_poor_for_s = 45\n[good]\nrtt_ms = 400\n",
        )
        .unwrap();
        let c = f.apply(QualityConfig::default()).unwrap();
        assert!(c.auto_suspend);
        assert_eq!(c.facilitator_poor_for, Duration::from_secs(45));
        assert_eq!(c.good.rtt_ms, 400.0);
        assert_eq!(c.good.loss, 0.03, "unnamed values keep their defaults");
        assert!(toml::from_str::<QualityFile>("auto_supend = true").is_err());
        let bad: QualityFile = toml::from_str("[excellent]\nrtt_ms = 500\n").unwrap();
        assert!(bad.apply(QualityConfig::default()).is_err());
        let bad: QualityFile = toml::from_str("group_poor_fraction = 1.5").unwrap();
        assert!(bad.apply(QualityConfig::default()).is_err());
    }
}

#[cfg(test)]
mod tests;
