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

/// Upper bounds (exclusive) of one score: a figure at or above a bound does
/// not qualify for that score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Round-trip time, ms.
    pub rtt_ms: f64,
    /// Loss fraction (0..=1).
    pub loss: f64,
    /// Jitter, ms.
    pub jitter_ms: f64,
}

/// Scoring and alert settings. [`QualityConfig::default`] gives the
/// documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityConfig {
    /// Every figure below these: `excellent`. Default rtt 150 ms, loss 1 %,
    /// jitter 20 ms.
    pub excellent: Thresholds,
    /// Every figure below these (and not excellent): `good`; otherwise
    /// `poor`. Default rtt 300 ms, loss 3 %, jitter 50 ms.
    pub good: Thresholds,
    /// Received video below this frame rate makes the score `poor`
    /// (`fps_low`); `None` disables it. Default 10 fps.
    pub fps_poor_below: Option<f64>,
    /// No report for this long: `lost` (`no_stats`), counted from the join
    /// or the last report. Default 15 s.
    pub lost_after: Duration,
    /// A tab hidden this long is reported (`tab_hidden_long`). Default 5 min.
    pub hidden_long: Duration,
    /// A window unfocused this long (tab visible) is reported
    /// (`unfocused_long`). Default 10 min.
    pub unfocused_long: Duration,
    /// Rule `facilitator_link_poor`: a facilitator `poor` or `lost` this
    /// long. Default 30 s.
    pub facilitator_poor_for: Duration,
    /// Rule `group_poor`: the share of the participants present
    /// (facilitators not counted) that must be in trouble, rounded up, at
    /// least one. Default 1/3.
    pub group_poor_fraction: f64,
    /// Rule `group_poor`: how long each of them must have been `poor` or
    /// `lost` without interruption. Default 60 s.
    pub group_poor_for: Duration,
    /// While a rule keeps holding, it is raised again at most this often.
    /// Default 5 min.
    pub alert_repeat_after: Duration,
    /// Ask the actor to suspend the session when a rule starts to hold.
    /// Default false: the facilitator decides.
    pub auto_suspend: bool,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            excellent: Thresholds {
                rtt_ms: 150.0,
                loss: 0.01,
                jitter_ms: 20.0,
            },
            good: Thresholds {
                rtt_ms: 300.0,
                loss: 0.03,
                jitter_ms: 50.0,
            },
            fps_poor_below: Some(10.0),
            lost_after: Duration::from_secs(15),
            hidden_long: Duration::from_secs(5 * 60),
            unfocused_long: Duration::from_secs(10 * 60),
            facilitator_poor_for: Duration::from_secs(30),
            group_poor_fraction: 1.0 / 3.0,
            group_poor_for: Duration::from_secs(60),
            alert_repeat_after: Duration::from_secs(5 * 60),
            auto_suspend: false,
        }
    }
}

/// The settings as an operator writes them (`cadre serve --quality-config
/// quality.toml`): every key optional, durations in seconds. Unknown keys
/// are refused, so a typo does not silently keep a default.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityFile {
    /// Bounds of `excellent`.
    pub excellent: Option<ThresholdsFile>,
    /// Bounds of `good`.
    pub good: Option<ThresholdsFile>,
    /// Received video below this is `poor`; 0 disables.
    pub fps_poor_below: Option<f64>,
    /// Seconds of silence before `lost`.
    pub lost_after_s: Option<u64>,
    /// Seconds before a hidden tab is reported.
    pub hidden_long_s: Option<u64>,
    /// Seconds before an unfocused window is reported.
    pub unfocused_long_s: Option<u64>,
    /// Seconds of a poor facilitator link before the alert.
    pub facilitator_poor_for_s: Option<u64>,
    /// Share of participants in trouble for the group alert.
    pub group_poor_fraction: Option<f64>,
    /// Seconds each must be in trouble for the group alert.
    pub group_poor_for_s: Option<u64>,
    /// Seconds between repeats of an alert that keeps holding.
    pub alert_repeat_after_s: Option<u64>,
    /// Suspend automatically when a rule holds.
    pub auto_suspend: Option<bool>,
}

/// One score's bounds in a [`QualityFile`].
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsFile {
    /// Round-trip time, ms.
    pub rtt_ms: Option<f64>,
    /// Loss fraction (0..=1).
    pub loss: Option<f64>,
    /// Jitter, ms.
    pub jitter_ms: Option<f64>,
}

impl QualityFile {
    /// The defaults with this file's values on top, checked for sense.
    pub fn apply(&self, mut c: QualityConfig) -> Result<QualityConfig, String> {
        fn bounds(t: &mut Thresholds, f: &Option<ThresholdsFile>) {
            if let Some(f) = f {
                t.rtt_ms = f.rtt_ms.unwrap_or(t.rtt_ms);
                t.loss = f.loss.unwrap_or(t.loss);
                t.jitter_ms = f.jitter_ms.unwrap_or(t.jitter_ms);
            }
        }
        bounds(&mut c.excellent, &self.excellent);
        bounds(&mut c.good, &self.good);
        let secs = |v: Option<u64>, d: Duration| v.map(Duration::from_secs).unwrap_or(d);
        if let Some(fps) = self.fps_poor_below {
            c.fps_poor_below = (fps > 0.0).then_some(fps);
        }
        c.lost_after = secs(self.lost_after_s, c.lost_after);
        c.hidden_long = secs(self.hidden_long_s, c.hidden_long);
        c.unfocused_long = secs(self.unfocused_long_s, c.unfocused_long);
        c.facilitator_poor_for = secs(self.facilitator_poor_for_s, c.facilitator_poor_for);
        c.group_poor_fraction = self.group_poor_fraction.unwrap_or(c.group_poor_fraction);
        c.group_poor_for = secs(self.group_poor_for_s, c.group_poor_for);
        c.alert_repeat_after = secs(self.alert_repeat_after_s, c.alert_repeat_after);
        c.auto_suspend = self.auto_suspend.unwrap_or(c.auto_suspend);
        for (name, t) in [("excellent", &c.excellent), ("good", &c.good)] {
            if !(t.rtt_ms > 0.0 && t.jitter_ms > 0.0 && t.loss > 0.0 && t.loss <= 1.0) {
                return Err(format!(
                    "{name}: rtt_ms and jitter_ms must be positive, loss in (0, 1]"
                ));
            }
        }
        if c.excellent.rtt_ms > c.good.rtt_ms
            || c.excellent.loss > c.good.loss
            || c.excellent.jitter_ms > c.good.jitter_ms
        {
            return Err("excellent bounds must not be above the good ones".into());
        }
        if !(c.group_poor_fraction > 0.0 && c.group_poor_fraction <= 1.0) {
            return Err("group_poor_fraction must be in (0, 1]".into());
        }
        if c.lost_after.is_zero() {
            return Err("lost_after_s must be at least 1".into());
        }
        Ok(c)
    }
}

impl QualityConfig {
    /// Scores aggregated figures (connection state aside): `excellent` when
    /// every figure present is below the `excellent` thresholds, `good` when
    /// below the `good` ones, `poor` otherwise, and `poor` when received
    /// video is below [`QualityConfig::fps_poor_below`]. Nothing measured
    /// (no RTT, loss, jitter or fps) is `good`. The reasons name the figures
    /// that make it `poor`.
    pub fn score(&self, f: &Figures) -> (Score, Vec<&'static str>) {
        let mut score = Score::Excellent;
        let mut reasons = Vec::new();
        let checks = [
            (
                f.rtt_ms,
                self.excellent.rtt_ms,
                self.good.rtt_ms,
                reason::RTT_HIGH,
            ),
            (
                f.loss,
                self.excellent.loss,
                self.good.loss,
                reason::LOSS_HIGH,
            ),
            (
                f.jitter_ms,
                self.excellent.jitter_ms,
                self.good.jitter_ms,
                reason::JITTER_HIGH,
            ),
        ];
        for (value, excellent, good, code) in checks {
            let Some(v) = value else { continue };
            if v >= good {
                score = Score::Poor;
                reasons.push(code);
            } else if v >= excellent {
                score = score.worse(Score::Good);
            }
        }
        if let (Some(fps), Some(floor)) = (f.fps, self.fps_poor_below)
            && fps < floor
        {
            score = Score::Poor;
            reasons.push(reason::FPS_LOW);
        }
        if f.rtt_ms.is_none() && f.loss.is_none() && f.jitter_ms.is_none() && f.fps.is_none() {
            score = Score::Good;
        }
        (score, reasons)
    }
}

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
        let (score, mut reasons) = if now.saturating_sub(silent_from) >= ms(config.lost_after) {
            (Score::Lost, vec![reason::NO_STATS])
        } else {
            person.report.clone().unwrap_or((Score::Good, Vec::new()))
        };

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
mod tests {
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
}
