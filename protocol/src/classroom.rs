//! What makes a distance session a class: the chat, raised hands and
//! reactions. None of it is evidence: nothing here enters the ledger or a
//! proof (evidence, not surveillance). The chat is held in the server's
//! memory for the session only (latecomers and reconnections get it back)
//! and is gone when the session ends, or when the server restarts
//! (`docs/evidence.md`, "What is not evidence").

use serde::{Deserialize, Serialize};

/// Longest chat message, in characters (a paragraph).
pub const MAX_CHAT_CHARS: usize = 1000;

/// Chat messages a session keeps (the oldest go first).
pub const MAX_CHAT_LINES: usize = 500;

/// One chat message as everyone entitled to it receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// Its number in the session's chat (1, 2, …), in the order the server
    /// took the messages.
    pub seq: u64,
    /// The sender's participant id.
    pub from: String,
    /// The sender's name.
    pub name: String,
    /// The text, as written (plain text: never to be read as HTML).
    pub text: String,
    /// When the server took it (ms).
    pub at: i64,
    /// A private message: the one person it was sent to (besides its
    /// sender). Absent: to everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// A raised hand, in the order of raising.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaisedHand {
    /// Participant id.
    pub id: String,
    /// When it was raised (ms).
    pub at: i64,
}

/// What changed in the raised hands, and who changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandChange {
    /// Whose hand.
    pub id: String,
    /// Raised (true) or lowered.
    pub raised: bool,
    /// Who did it: the person, or a facilitator lowering it.
    pub by: String,
}

/// A quick reaction, shown for a moment on the person's picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    /// 👍
    Agree,
    /// 👎
    Disagree,
    /// 👏
    Applause,
    /// 😀
    Laugh,
    /// ❓ (lost, a question)
    Question,
    /// ☕ (a break, please)
    Break,
}

/// Longest poll question, in characters.
pub const MAX_POLL_QUESTION: usize = 300;

/// Longest poll choice, in characters.
pub const MAX_POLL_CHOICE: usize = 120;

/// Fewest and most choices a poll offers.
pub const POLL_CHOICES: std::ops::RangeInclusive<usize> = 2..=6;

/// An anonymous poll a facilitator put to the group. The server keeps only
/// how many chose each answer, and who has answered (so that nobody answers
/// twice), never who chose what; none of it is evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    /// Its number in the session (1, 2, …).
    pub id: u64,
    /// The question.
    pub question: String,
    /// The answers offered.
    pub choices: Vec<String>,
    /// Who put it.
    pub by: String,
    /// Still open to answers.
    pub open: bool,
    /// How many chose each answer: sent to facilitators at once, to
    /// everyone once closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Vec<u32>>,
    /// How many have answered.
    pub answered: u32,
    /// Whether you have answered (each person's own view).
    #[serde(default)]
    pub you_answered: bool,
}
