//! REST bodies under `/api/`. JSON in, JSON out; every failure is an
//! [`crate::ErrorBody`] with a stable code.

use crate::signalling::{Me, SessionInfo};
use crate::{Role, SessionKind, SessionState};
use serde::{Deserialize, Serialize};

/// A person to add to a new session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPerson {
    /// Display name (not empty, at most 120 characters).
    pub name: String,
    /// Optional e-mail address, for sending the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
}

/// `POST /api/sessions` body (also the TOML/JSON file of `cadre session create`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSession {
    /// Title (not empty, at most 200 characters).
    pub title: String,
    /// Kind of session.
    pub kind: SessionKind,
    /// The organisation running the session.
    pub organisation: String,
    /// Planned start: RFC 3339 with an offset, or a local date-time
    /// (`2026-12-03T09:00`) read in `time_zone`.
    pub planned_start: String,
    /// Planned end, same forms; after the start.
    pub planned_end: String,
    /// IANA time zone; `Europe/Paris` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The sponsoring organisation (commanditaire), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sponsor: Option<String>,
    /// At least one facilitator.
    pub people: Vec<NewPerson>,
}

/// A join link as the organiser sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    /// `{public_url}/j/{token}`.
    pub url: String,
    /// The signed token alone.
    pub token: String,
    /// Valid from (RFC 3339 UTC).
    pub not_before: String,
    /// Valid until (RFC 3339 UTC).
    pub expires_at: String,
    /// Revoked by the organiser.
    pub revoked: bool,
}

/// A person of a session, with their link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonView {
    /// Participant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// Their join link.
    pub link: LinkView,
}

/// A session as the organiser sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: SessionKind,
    /// Organisation.
    pub organisation: String,
    /// Planned start, RFC 3339 UTC.
    pub planned_start: String,
    /// Planned end, RFC 3339 UTC.
    pub planned_end: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Sponsor, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sponsor: Option<String>,
    /// Current state.
    pub state: SessionState,
    /// When it was created, RFC 3339 UTC.
    pub created_at: String,
    /// Everyone, with their links.
    pub people: Vec<PersonView>,
}

/// `GET /api/sessions` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// Session id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: SessionKind,
    /// Planned start, RFC 3339 UTC.
    pub planned_start: String,
    /// Planned end, RFC 3339 UTC.
    pub planned_end: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Current state.
    pub state: SessionState,
    /// Number of people.
    pub people: usize,
}

/// `GET /api/join?token=…`: what the lobby shows before the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lobby {
    /// The session.
    pub session: SessionInfo,
    /// Who the link belongs to.
    pub you: Me,
    /// Path of the session's WebSocket (`/ws/{session_id}`); the token goes
    /// in the `token` query parameter.
    pub ws_path: String,
    /// Server clock, ms since the Unix epoch.
    pub server_time: i64,
}

/// `POST /api/sessions/{sid}/people/{pid}/revoke` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// Participant id.
    pub id: String,
    /// Whether a live connection was closed.
    pub disconnected: bool,
}
