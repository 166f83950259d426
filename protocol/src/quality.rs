//! Connection and presence quality: what a client reports, what the server
//! makes of it, and the alerts the facilitators get. Pure data; the scoring
//! and the alert rules live in the server (`cadre_server::quality`), and
//! `docs/quality.md` describes both.
//!
//! - A client sends a [`ConnectionStats`] every few seconds: its own connection
//!   state and, per remote peer, figures read from `RTCPeerConnection.getStats()`.
//!   The server refuses stats that fail [`ConnectionStats::validate`].
//! - The server keeps a [`ParticipantQuality`] per person: a [`Score`], the
//!   aggregated [`Figures`], the reported [`Presence`] and stable reason
//!   codes ([`reason`]). Facilitators see everyone's; a person sees their own.
//! - When a rule ([`rule`]) holds, the facilitators get an [`Alert`] with the
//!   evidence (who, what figures, since when) and a suggested action
//!   ([`suggested`]).
//!
//! All times are server times in ms since the Unix epoch. Field names are
//! snake_case; absent figures are omitted from the JSON.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How well a person can take part, from best to worst. The order is
/// meaningful: `Excellent < Good < Poor < Lost`, so `max` is the worse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Score {
    /// Nothing to notice.
    Excellent,
    /// Usable; also the score of a person with nothing measured yet.
    Good,
    /// Degraded: sound or image suffer.
    Poor,
    /// No usable connection: media failed or disconnected, or no stats for
    /// too long.
    Lost,
}

impl Score {
    /// Every score, best first.
    pub const ALL: [Score; 4] = [Score::Excellent, Score::Good, Score::Poor, Score::Lost];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Score::Excellent => "excellent",
            Score::Good => "good",
            Score::Poor => "poor",
            Score::Lost => "lost",
        }
    }

    /// The worse of the two.
    pub fn worse(self, other: Score) -> Score {
        self.max(other)
    }

    /// `Poor` or `Lost`: what the alert rules count.
    pub fn is_bad(self) -> bool {
        self >= Score::Poor
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The connection states a client may report, as in the browser's
/// `RTCPeerConnectionState`.
pub const CONNECTION_STATES: [&str; 6] = [
    "new",
    "connecting",
    "connected",
    "disconnected",
    "failed",
    "closed",
];

/// Most peers in one `stats` message.
pub const MAX_PEERS: usize = 64;
/// Longest peer id in a `stats` message, in characters.
pub const MAX_PEER_ID_CHARS: usize = 100;
/// Largest round-trip time or jitter accepted, in ms (one minute).
pub const MAX_DELAY_MS: f64 = 60_000.0;
/// Largest bitrate accepted, in kbit/s (1 Gbit/s).
pub const MAX_KBPS: f64 = 1_000_000.0;
/// Largest frame rate accepted.
pub const MAX_FPS: f64 = 240.0;

/// What a client reports every few seconds (message `stats`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionStats {
    /// The client's own media connection state, one of
    /// [`CONNECTION_STATES`] (`RTCPeerConnectionState`-like, summarised by
    /// the client over its peer connections: `new` when it has none).
    pub connection: String,
    /// Figures per remote peer (at most [`MAX_PEERS`]).
    #[serde(default)]
    pub peers: Vec<PeerStats>,
}

/// Figures about one remote peer over the last reporting interval. Every
/// figure is optional: a client sends what `getStats()` gave it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PeerStats {
    /// The remote peer's participant id.
    pub peer: String,
    /// Round-trip time, ms (`candidate-pair.currentRoundTripTime` × 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Fraction (0..=1) of inbound packets from that peer lost over the last
    /// interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Inbound jitter, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<f64>,
    /// Bitrate received from that peer, kbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_kbps: Option<f64>,
    /// Bitrate sent to that peer, kbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_kbps: Option<f64>,
    /// Decoded frames per second of that peer's video; absent when no video
    /// is received from it (camera off). A client should not report the
    /// black frames of a disabled track.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
}

impl ConnectionStats {
    /// Checks that the figures are plausible: a known connection state, at
    /// most [`MAX_PEERS`] peers with non-empty ids of at most
    /// [`MAX_PEER_ID_CHARS`] characters, and finite, non-negative figures
    /// within their ranges (loss ≤ 1, RTT and jitter ≤ [`MAX_DELAY_MS`],
    /// bitrates ≤ [`MAX_KBPS`], fps ≤ [`MAX_FPS`]). The error is a sentence
    /// naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if !CONNECTION_STATES.contains(&self.connection.as_str()) {
            return Err(format!(
                "connection must be one of {} (got {:?})",
                CONNECTION_STATES.join(", "),
                truncate(&self.connection)
            ));
        }
        if self.peers.len() > MAX_PEERS {
            return Err(format!(
                "peers has {} entries; at most {MAX_PEERS} are accepted",
                self.peers.len()
            ));
        }
        for (i, p) in self.peers.iter().enumerate() {
            if p.peer.is_empty() {
                return Err(format!("peers[{i}].peer must not be empty"));
            }
            if p.peer.chars().count() > MAX_PEER_ID_CHARS {
                return Err(format!(
                    "peers[{i}].peer is longer than {MAX_PEER_ID_CHARS} characters"
                ));
            }
            let checks = [
                ("rtt_ms", p.rtt_ms, MAX_DELAY_MS),
                ("loss", p.loss, 1.0),
                ("jitter_ms", p.jitter_ms, MAX_DELAY_MS),
                ("in_kbps", p.in_kbps, MAX_KBPS),
                ("out_kbps", p.out_kbps, MAX_KBPS),
                ("fps", p.fps, MAX_FPS),
            ];
            for (name, value, max) in checks {
                let Some(v) = value else { continue };
                if !v.is_finite() {
                    return Err(format!("peers[{i}].{name} must be a finite number"));
                }
                if !(0.0..=max).contains(&v) {
                    return Err(format!(
                        "peers[{i}].{name} must be between 0 and {max} (got {v})"
                    ));
                }
            }
        }
        Ok(())
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A person's figures, aggregated over the peers of their last stats (see
/// `docs/quality.md`): the **median** across peers for `rtt_ms`, `loss`,
/// `jitter_ms` and `fps` (so that one remote peer's bad link is not held
/// against everyone who receives from it), the **sum** for `in_kbps` and
/// `out_kbps` (what the person's link carries). A figure no peer reported is
/// absent; `fps` counts only peers whose camera is on.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Figures {
    /// Median round-trip time, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Median inbound loss fraction (0..=1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
    /// Median jitter, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<f64>,
    /// Total inbound bitrate, kbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_kbps: Option<f64>,
    /// Total outbound bitrate, kbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_kbps: Option<f64>,
    /// Median decoded frame rate of the videos received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
}

/// What is *reported* about a person's presence — deliberately not the raw
/// state: a tab hidden or a window unfocused for less than the configured
/// long stretch is reported as visible / focused, so short absences are
/// never shown to anyone (proportionality, see `docs/quality.md`). The
/// camera is reported as it is (the roster shows it anyway), and never
/// counts against the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// False only once the tab has been hidden for the long stretch.
    pub visible: bool,
    /// False only once the window has been unfocused for the long stretch
    /// while the tab is visible.
    pub focused: bool,
    /// The camera is sending.
    pub camera: bool,
    /// When the tab was hidden (ms), once reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_since: Option<i64>,
    /// When the window lost focus (ms), once reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfocused_since: Option<i64>,
}

impl Default for Presence {
    fn default() -> Self {
        Presence {
            visible: true,
            focused: true,
            camera: false,
            hidden_since: None,
            unfocused_since: None,
        }
    }
}

/// Stable reason codes in [`ParticipantQuality::reasons`]. Figure reasons
/// name what makes a score `poor`; presence reasons never change the score.
pub mod reason {
    /// Round-trip time at or above the `good` threshold.
    pub const RTT_HIGH: &str = "rtt_high";
    /// Loss at or above the `good` threshold.
    pub const LOSS_HIGH: &str = "loss_high";
    /// Jitter at or above the `good` threshold.
    pub const JITTER_HIGH: &str = "jitter_high";
    /// Received video below the frame-rate floor.
    pub const FPS_LOW: &str = "fps_low";
    /// No stats for the `lost_after` delay (score `lost`).
    pub const NO_STATS: &str = "no_stats";
    /// The client reported `failed` or `closed` (score `lost`).
    pub const CONNECTION_FAILED: &str = "connection_failed";
    /// The client reported `disconnected` (score `lost`).
    pub const CONNECTION_DISCONNECTED: &str = "connection_disconnected";
    /// Tab hidden for the long stretch (presence; no effect on the score).
    pub const TAB_HIDDEN_LONG: &str = "tab_hidden_long";
    /// Window unfocused for the long stretch (presence; no effect on the
    /// score).
    pub const UNFOCUSED_LONG: &str = "unfocused_long";
    /// Camera off: information only, never required by default, never
    /// lowers the score, never alerts.
    pub const CAMERA_OFF: &str = "camera_off";
    /// A forwarded session: the server itself misses the person's packets
    /// (their uplink loses at or above the `good` loss threshold).
    pub const SERVER_LOSS_UP: &str = "server_loss_up";
    /// A forwarded session: the person's browser reports losing what the
    /// server sends it (their downlink, at or above the `good` threshold).
    pub const SERVER_LOSS_DOWN: &str = "server_loss_down";
    /// A forwarded session: the round trip between the server and the
    /// person (its own connectivity checks) is at or above the `good`
    /// bound, whatever their browser reports.
    pub const SERVER_RTT_HIGH: &str = "server_rtt_high";
    /// A forwarded session: the person's sound reaches the server with a
    /// jitter at or above the `good` bound.
    pub const SERVER_JITTER_HIGH: &str = "server_jitter_high";
    /// A forwarded session: one of the person's connections to the server
    /// failed (their media no longer reaches it, or the others' no longer
    /// reach them), whatever their browser reports (score `lost`; the
    /// socket may still work, as when a firewall blocks UDP).
    pub const SERVER_CONNECTION_FAILED: &str = "server_connection_failed";

    /// Whether a reason is about presence rather than the connection.
    pub fn is_presence(code: &str) -> bool {
        matches!(code, TAB_HIDDEN_LONG | UNFOCUSED_LONG | CAMERA_OFF)
    }
}

/// One person's quality, as the server sees it (message `quality`): sent
/// live to the facilitators, and to the person about themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantQuality {
    /// Participant id.
    pub id: String,
    /// Current score.
    pub score: Score,
    /// Since when (ms) the person has had this score.
    pub since: i64,
    /// Figures of the last stats (kept, as last known, once `lost`).
    pub figures: Figures,
    /// Reported presence.
    pub presence: Presence,
    /// Stable codes ([`reason`]), figure reasons first, then presence.
    pub reasons: Vec<String>,
}

/// Alert rule codes.
pub mod rule {
    /// A facilitator's link has been `poor` or `lost` for a while.
    pub const FACILITATOR_LINK_POOR: &str = "facilitator_link_poor";
    /// A share of the participants have been `poor` or `lost` for a while.
    pub const GROUP_POOR: &str = "group_poor";
}

/// Suggested action codes.
pub mod suggested {
    /// The facilitator should check their connection (or hand over).
    pub const CHECK_CONNECTION: &str = "check_connection";
    /// Working conditions no longer allow the session: suspend or postpone
    /// it (cadre général, article 4.2).
    pub const SUSPEND: &str = "suspend";
}

/// An alert for the facilitators (message `alert`; also recorded in the
/// ledger as kind `alert`). Clients word it from `rule` and `suggested`;
/// `message` is a French sentence for the console and the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Which rule holds ([`rule`]).
    pub rule: String,
    /// French sentence: what, who, since when, what to do.
    pub message: String,
    /// The evidence: each person concerned, with figures and since when.
    pub people: Vec<ParticipantQuality>,
    /// When the trouble began (ms): the earliest time one of `people`
    /// became `poor` or `lost` in this episode.
    pub since: i64,
    /// Suggested action ([`suggested`]).
    pub suggested: String,
    /// When the alert was raised (ms).
    pub at: i64,
}

/// The end of an alert (message `alert_cleared`): the rule no longer holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertCleared {
    /// The rule.
    pub rule: String,
    /// When it was seen no longer holding (ms).
    pub at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str) -> PeerStats {
        PeerStats {
            peer: id.to_owned(),
            rtt_ms: Some(80.0),
            loss: Some(0.002),
            jitter_ms: Some(6.5),
            in_kbps: Some(1200.0),
            out_kbps: Some(900.0),
            fps: Some(29.97),
        }
    }

    fn stats(peers: Vec<PeerStats>) -> ConnectionStats {
        ConnectionStats {
            connection: "connected".to_owned(),
            peers,
        }
    }

    #[test]
    fn score_order_puts_worse_above_better() {
        assert!(Score::Excellent < Score::Good && Score::Good < Score::Poor);
        assert!(Score::Poor < Score::Lost);
        assert_eq!(Score::Good.worse(Score::Poor), Score::Poor);
        assert_eq!(Score::Lost.worse(Score::Excellent), Score::Lost);
        assert!(!Score::Good.is_bad() && Score::Poor.is_bad() && Score::Lost.is_bad());
        for s in Score::ALL {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    #[test]
    fn accepts_realistic_stats() {
        let many = (0..MAX_PEERS).map(|i| peer(&format!("p{i}"))).collect();
        assert_eq!(stats(many).validate(), Ok(()));
        // Limits are inclusive, and every figure is optional.
        let edge = PeerStats {
            peer: "x".repeat(MAX_PEER_ID_CHARS),
            rtt_ms: Some(MAX_DELAY_MS),
            loss: Some(1.0),
            jitter_ms: Some(0.0),
            in_kbps: Some(MAX_KBPS),
            out_kbps: None,
            fps: Some(MAX_FPS),
        };
        assert_eq!(stats(vec![edge]).validate(), Ok(()));
        for state in CONNECTION_STATES {
            let r = ConnectionStats {
                connection: state.to_owned(),
                peers: vec![PeerStats {
                    peer: "é".repeat(MAX_PEER_ID_CHARS),
                    ..PeerStats::default()
                }],
            };
            assert_eq!(r.validate(), Ok(()), "{state}");
        }
        // The JSON a client sends, with absent figures.
        let parsed: ConnectionStats = serde_json::from_str(
            r#"{"connection":"connecting","peers":[{"peer":"b","rtt_ms":12.5}]}"#,
        )
        .unwrap();
        assert_eq!(parsed.validate(), Ok(()));
        assert_eq!(parsed.peers[0].loss, None);
        let parsed: ConnectionStats = serde_json::from_str(r#"{"connection":"new"}"#).unwrap();
        assert!(parsed.peers.is_empty());
    }

    #[test]
    fn refuses_absurd_stats_naming_the_field() {
        type Mutate = fn(&mut PeerStats);
        let cases: [(Mutate, &str); 16] = [
            (|p| p.rtt_ms = Some(f64::NAN), "peers[0].rtt_ms"),
            (|p| p.rtt_ms = Some(f64::INFINITY), "peers[0].rtt_ms"),
            (|p| p.rtt_ms = Some(-1.0), "peers[0].rtt_ms"),
            (|p| p.rtt_ms = Some(3_600_000.0), "peers[0].rtt_ms"),
            (|p| p.loss = Some(-0.01), "peers[0].loss"),
            (|p| p.loss = Some(1.5), "peers[0].loss"),
            (|p| p.loss = Some(f64::NEG_INFINITY), "peers[0].loss"),
            (|p| p.jitter_ms = Some(60_000.5), "peers[0].jitter_ms"),
            (|p| p.jitter_ms = Some(-3.0), "peers[0].jitter_ms"),
            (|p| p.in_kbps = Some(2_000_000.0), "peers[0].in_kbps"),
            (|p| p.out_kbps = Some(-5.0), "peers[0].out_kbps"),
            (|p| p.out_kbps = Some(f64::NAN), "peers[0].out_kbps"),
            (|p| p.fps = Some(241.0), "peers[0].fps"),
            (|p| p.fps = Some(-1.0), "peers[0].fps"),
            (|p| p.peer = String::new(), "peers[0].peer"),
            (|p| p.peer = "x".repeat(101), "peers[0].peer"),
        ];
        for (mutate, field) in cases {
            let mut p = peer("b");
            mutate(&mut p);
            let err = stats(vec![p.clone()]).validate().unwrap_err();
            assert!(err.starts_with(field), "{p:?}: {err}");
        }

        let too_many = (0..=MAX_PEERS).map(|i| peer(&format!("p{i}"))).collect();
        let err = stats(too_many).validate().unwrap_err();
        assert!(err.starts_with("peers has 65"), "{err}");

        for state in ["", "Connected", "online", "x".repeat(10_000).as_str()] {
            let r = ConnectionStats {
                connection: state.to_owned(),
                peers: vec![],
            };
            let err = r.validate().unwrap_err();
            assert!(err.starts_with("connection must be one of"), "{err}");
            assert!(err.len() < 200, "the sentence stays short: {err}");
        }

        // A later peer is named by its index.
        let mut bad = peer("c");
        bad.loss = Some(2.0);
        let err = stats(vec![peer("b"), bad]).validate().unwrap_err();
        assert!(err.starts_with("peers[1].loss"), "{err}");
    }

    #[test]
    fn malformed_json_does_not_parse() {
        for text in [
            r#"{"peers":[]}"#,
            r#"{"connection":"connected","peers":[{"rtt_ms":1}]}"#,
            r#"{"connection":"connected","peers":[{"peer":"b","loss":"high"}]}"#,
            r#"{"connection":"connected","peers":{"peer":"b"}}"#,
            r#"{"connection":"connected","peers":[{"peer":"b","rtt_ms":1e400}]}"#,
        ] {
            assert!(
                serde_json::from_str::<ConnectionStats>(text).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn views_serialise_compactly() {
        let view = ParticipantQuality {
            id: "a".into(),
            score: Score::Poor,
            since: 1_000,
            figures: Figures {
                rtt_ms: Some(320.0),
                ..Figures::default()
            },
            presence: Presence::default(),
            reasons: vec![reason::RTT_HIGH.into(), reason::CAMERA_OFF.into()],
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": "a", "score": "poor", "since": 1000,
                "figures": {"rtt_ms": 320.0},
                "presence": {"visible": true, "focused": true, "camera": false},
                "reasons": ["rtt_high", "camera_off"],
            })
        );
        let back: ParticipantQuality = serde_json::from_value(json).unwrap();
        assert_eq!(back, view);
        assert!(reason::is_presence(reason::CAMERA_OFF));
        assert!(!reason::is_presence(reason::NO_STATS));
    }
}
