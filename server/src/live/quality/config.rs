//! The quality rules' settings: thresholds per score, alert rules, and the
//! TOML file (`--quality-config`) that overrides the defaults.

use super::*;

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
