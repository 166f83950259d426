//! Screen sharing: who shares now, who may, and whether a second sharer
//! may take over. The media itself never passes through these messages:
//! every page sends a shared screen on transceivers it opened from the
//! start, beside its camera and microphone (`docs/protocol.md`, "Screen
//! sharing"), so starting or stopping is a track swap, not a negotiation.
//! Sharing is not evidence: nothing of it enters the ledger, except that a
//! recorded segment holds the shared screen as a file of its own.

use serde::{Deserialize, Serialize};

/// The session's screen sharing as everyone sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenShare {
    /// Who shares now (participant id); absent: nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharer: Option<String>,
    /// The shared screen carries its sound.
    #[serde(default)]
    pub audio: bool,
    /// When the current share started (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Participants a facilitator allowed to share (facilitators always
    /// may).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// A second sharer replaces the current one (a facilitator's choice);
    /// otherwise a share is refused while another runs. A facilitator
    /// always may replace.
    #[serde(default)]
    pub takeover: bool,
}

impl ScreenShare {
    /// Nobody shares and nothing was decided (the welcome leaves it out).
    pub fn is_idle(&self) -> bool {
        *self == ScreenShare::default()
    }

    /// Whether a participant of this role may start sharing.
    pub fn may_share(&self, id: &str, facilitator: bool) -> bool {
        facilitator || self.allowed.iter().any(|a| a == id)
    }
}

/// Why the sharing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareChange {
    /// Someone started sharing.
    Started,
    /// Someone else's share replaced the previous one.
    Replaced,
    /// The sharer stopped.
    Stopped,
    /// A facilitator stopped someone's share.
    StoppedBy,
    /// The sharer left, or lost the permission.
    Ended,
    /// Who may share, or whether one may take over, changed.
    Policy,
}
