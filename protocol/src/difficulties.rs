//! Difficulty reports (cadre général, article 6): filed by a participant or
//! a facilitator, over REST or the socket, and answered in writing by the
//! organiser. On the wire they keep the name `report` (`POST /api/reports`,
//! the `report` messages, the `report_*` ledger kinds); in Rust they are
//! difficulties, so that "report" is never ambiguous.

use crate::session::Me;
use serde::{Deserialize, Serialize};

/// `POST /api/reports?token=…` body: a difficulty report (cadre général,
/// article 6), filed by a participant or a facilitator with their link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDifficulty {
    /// What went wrong (1 to 4000 characters once trimmed).
    pub text: String,
}

/// Where a difficulty stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DifficultyStatus {
    /// Filed, not answered yet.
    Open,
    /// The organiser answered in writing; it may answer again.
    Answered,
    /// Closed (after a written answer); nothing more is added.
    Closed,
}

impl DifficultyStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DifficultyStatus::Open => "open",
            DifficultyStatus::Answered => "answered",
            DifficultyStatus::Closed => "closed",
        }
    }
}

/// A difficulty report and its written answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difficulty {
    /// `r_…`.
    pub id: String,
    /// The session it is about.
    pub session_id: String,
    /// Who filed it.
    pub author: Me,
    /// What they wrote.
    pub text: String,
    /// Where it stands.
    pub status: DifficultyStatus,
    /// When it was recorded (UTC ms, the ledger entry's time).
    pub created_at: i64,
    /// The organiser's latest written answer.
    pub answer: Option<String>,
    /// When that answer was recorded (UTC ms).
    pub answered_at: Option<i64>,
    /// When it was closed (UTC ms).
    pub closed_at: Option<i64>,
}

/// One line of the console's inbox (`GET /api/difficulties`): a report
/// with the session it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxDifficulty {
    /// The report and its answer.
    #[serde(flatten)]
    pub report: Difficulty,
    /// The session's title.
    pub session_title: String,
    /// The session's planned start (RFC 3339 UTC).
    pub planned_start: String,
    /// The session's time zone (IANA).
    pub time_zone: String,
}

/// `POST /api/sessions/{sid}/reports/{rid}/answer` body (organiser only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DifficultyAnswer {
    /// The written answer (1 to 8000 characters once trimmed).
    pub answer: String,
    /// Close the difficulty with this answer.
    #[serde(default)]
    pub close: bool,
}
