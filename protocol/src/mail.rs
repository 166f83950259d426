//! Invitations and reminders by e-mail: what the organiser asks for and
//! what the queue of outgoing mail shows (`POST
//! /api/sessions/{sid}/invitations`, `GET /api/sessions/{sid}/mails`).
//!
//! A mail is shown by whom it goes to, why, when and what became of it;
//! never by what it said (the join link it carried is a credential).

use serde::{Deserialize, Serialize};

/// `POST /api/sessions/{sid}/invitations`: whom to invite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInvitations {
    /// Person ids of the session; none or absent: everyone in it.
    #[serde(default)]
    pub people: Option<Vec<String>>,
}

/// What an invitation request queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationsQueued {
    /// One mail each, queued now.
    pub queued: Vec<QueuedMail>,
    /// People asked for who get nothing, and why.
    pub skipped: Vec<SkippedPerson>,
}

/// A mail just queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMail {
    /// `m_…`.
    pub mail: String,
    /// The person.
    pub person: String,
    /// The address it goes to.
    pub to: String,
}

/// Someone who gets no mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedPerson {
    /// The person.
    pub person: String,
    /// Their name.
    pub name: String,
    /// Why (`no_email`, `revoked`).
    pub reason: String,
}

/// One mail of a session, as `GET /api/sessions/{sid}/mails` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailView {
    /// `m_…` (also its `Message-ID`).
    pub id: String,
    /// The person.
    pub person: String,
    /// The address.
    pub to: String,
    /// `invitation`, `reminder`, `signin_reminder`, `postponement`.
    pub kind: String,
    /// `pending`, `sent`, `failed`.
    pub state: String,
    /// Tries so far.
    pub attempts: u32,
    /// When it was queued (RFC 3339).
    pub created_at: String,
    /// When the next try may happen, while pending (RFC 3339).
    pub next_attempt: Option<String>,
    /// When the mail server accepted it (RFC 3339).
    pub sent_at: Option<String>,
    /// Why the last try failed.
    pub last_error: Option<String>,
    /// The mail server's answer when it accepted it.
    pub smtp_reply: Option<String>,
}
