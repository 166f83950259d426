//! Who and what a connection is about: the person ([`Me`]), the session
//! ([`SessionInfo`]) and the person's consent decisions ([`Consents`]), as
//! the lobby (REST, `api::Lobby`) and the call (the socket's `welcome`
//! message) both show them. Both modules build on this one, which depends
//! on neither.

use crate::{Role, SessionKind, SessionState};
use serde::{Deserialize, Serialize};

/// A participant's id in a session (stable across reconnections).
pub type PeerId = String;

/// The person this connection belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// Participant id.
    pub id: PeerId,
    /// Display name.
    pub name: String,
    /// Role in this session.
    pub role: Role,
}

/// Session metadata shown in the lobby and the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Session id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Kind of session.
    pub kind: SessionKind,
    /// The organisation running it.
    pub organisation: String,
    /// Planned start, RFC 3339 UTC.
    pub planned_start: String,
    /// Planned end, RFC 3339 UTC.
    pub planned_end: String,
    /// IANA time zone of the session (for half-days and display).
    pub time_zone: String,
    /// Display names of the facilitators.
    pub facilitators: Vec<String>,
    /// Current state.
    pub state: SessionState,
    /// The action the session belongs to: the one the
    /// person's certificate covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<crate::action::ActionRef>,
    /// How this session's media travels, when chosen for it; otherwise the
    /// deployment's choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaMode>,
}

/// How a session's media travels, chosen per deployment and per session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaMode {
    /// Peer to peer while at most two people are connected; through the
    /// server from the third on, until everyone has left.
    #[default]
    Auto,
    /// Always peer to peer: nothing of the media passes through the
    /// server (a mesh strains beyond about six people).
    Peer,
    /// Always through the server, whatever the number.
    Forwarded,
}

impl MediaMode {
    /// Every mode.
    pub const ALL: [MediaMode; 3] = [MediaMode::Auto, MediaMode::Peer, MediaMode::Forwarded];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaMode::Auto => "auto",
            MediaMode::Peer => "peer",
            MediaMode::Forwarded => "forwarded",
        }
    }
}

impl std::str::FromStr for MediaMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MediaMode::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown media mode {s:?}; expected auto, peer or forwarded"))
    }
}

impl std::fmt::Display for MediaMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a session's media travels now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaRoute {
    /// Each pair of people connects directly.
    #[default]
    Peer,
    /// Each person publishes once to the server, which forwards to the
    /// others: the organisation's server carries (and could see) the media.
    Forwarded,
}

impl MediaRoute {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaRoute::Peer => "peer",
            MediaRoute::Forwarded => "forwarded",
        }
    }
}

/// A person's current consent decisions: the latest recorded, `null` when
/// the person never decided (which counts as no consent, but a client shows
/// no choice rather than a refusal).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consents {
    /// Agreed to the session being recorded.
    pub recording: Option<bool>,
    /// Agreed to nominative attendance being shared with the sponsor.
    pub sponsor_share: Option<bool>,
}

impl Consents {
    /// Whether `recording` is granted now.
    pub fn recording_granted(&self) -> bool {
        self.recording == Some(true)
    }
}
