//! cadre's wire protocol: what the server, the web client, the tests and the
//! load tool say to each other. Pure data, no I/O.
//!
//! # Layout
//! Each module depends only on those listed above it (and on the
//! vocabulary of this file).
//! - [`merkle`]: the RFC 6962 tree: leaf and node hashes, inclusion and
//!   consistency proofs.
//! - [`evidence`]: ledger entries as stored (canonical text, hash), their
//!   kinds, signed tree heads, the published keys (JWKS) and JWS checks.
//! - [`consent`]: the consent wordings of a session and their hashes.
//! - [`anchor`]: RFC 3161 time-stamps of tree heads (requests, tokens,
//!   their checks against a trusted TSA).
//! - [`attendance`]: half-days and attendance figures derived from entries,
//!   and which entries are about whom (a folder: calendar, scope, figures,
//!   consents, recordings, conditions).
//! - [`proof`]: the signed attendance proof, the sheet, and the offline
//!   verification of proofs, exports and receipts (a folder: payload,
//!   sheet, verify, compare, export, receipts).
//! - [`quality`]: the connection figures a client sends ([`quality::ConnectionStats`])
//!   and the quality views and alerts the server sends back.
//! - [`session`]: the person, the session and their consent decisions, as
//!   both the lobby and the call show them.
//! - [`difficulties`]: difficulty reports and their written answers
//!   (`report` on the wire).
//! - [`quiz`]: short quizzes, their bounds and scores, and the count of a
//!   person's quizzes the certificate states.
//! - [`questionnaire`]: appreciation questionnaires, their answers'
//!   bounds and the aggregates the organisation receives.
//! - [`action`]: actions and their beneficiaries, article 2.1.7 changes,
//!   the organisation's identity, the signed certificat de réalisation.
//! - [`api`]: REST bodies under `/api/` (sessions, people, links, lobby, the
//!   sponsor's view, recordings).
//! - [`mail`]: invitations by e-mail and the queue of outgoing mail.
//! - [`signalling`]: WebSocket messages, both directions, internally tagged
//!   JSON (`{"type": "...", ...}`), versioned by [`PROTOCOL_VERSION`].
//! - [`ErrorCode`]: the stable codes every failure carries, on the socket and
//!   over HTTP alike, so that clients and scripts branch on codes, not prose.
//! - [`SessionKind`], [`Role`], [`SessionState`]: the domain vocabulary of
//!   `DESIGN.md`; [`now_ms`], the unit every time is in.
//! - `testing` (tests, and feature `testing`): a test Ed25519 signer and
//!   builders of entries, paths and exports, for every crate's tests.
//!
//! SDP and ICE payloads are opaque to the server: they travel as raw JSON
//! ([`serde_json::value::RawValue`]) and are never parsed on the way through.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// Actions: actions, beneficiaries, identity, certificate.
pub mod action;
pub mod anchor;
pub mod api;
pub mod attendance;
pub mod classroom;
pub mod consent;
pub mod difficulties;
pub mod evidence;
// Invitations and reminders by e-mail.
pub mod mail;
pub mod merkle;
pub mod proof;
pub mod quality;
pub mod questionnaire;
pub mod quiz;
pub mod screen;
pub mod session;
pub mod signalling;
// The staff console: accounts, login, the audit log.
pub mod staff;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use serde::{Deserialize, Serialize};
use std::fmt;

/// Now, in the unit of every time in the protocol: UTC milliseconds since
/// the Unix epoch. The server stamps entries and messages with it (its clock
/// is the only one that counts); tests compare against it. The one clock
/// read of this crate: nothing else here asks for the time, it is passed in.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Version of the signalling protocol. The server announces it in the
/// welcome; a client built for another version must reload.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest signalling message the server accepts and relays, in bytes.
/// A bigger one is answered with [`ErrorCode::MessageTooLarge`] and dropped.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The first bidirectional control character in `text`, if any: the
/// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the
/// invisible direction marks (U+200E, U+200F, U+061C). They make text read
/// in another order than it is stored ("Trojan Source"), so names, titles,
/// reasons and difficulties refuse them; right-to-left text needs none of them
/// (clients isolate every user-supplied string as a whole).
pub fn bidi_control(text: &str) -> Option<char> {
    text.chars().find(|c| {
        matches!(
            c,
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        )
    })
}

/// The sentence refusing `field` for the character `c` found by
/// [`bidi_control`].
pub fn bidi_control_refusal(field: &str, c: char) -> String {
    format!(
        "{field}: must not contain the invisible direction control U+{:04X}: \
         it makes the text read in another order than it is written",
        u32::from(c)
    )
}

/// What a session is, in the framework's terms. It changes defaults later
/// (sign-ins mandatory for `vae` and `formation`, sponsor rules for
/// `intervention`), so it is a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// Formation professionnelle (training).
    Formation,
    /// Bilan de compétences (skills assessment).
    Bilan,
    /// Validation des acquis de l'expérience.
    Vae,
    /// Individual or team coaching.
    Coaching,
    /// Groupe d'analyse de pratiques professionnelles.
    Gapp,
    /// Intervention commissioned by a client organisation (sponsor rules apply).
    Intervention,
}

impl SessionKind {
    /// Every kind, in the framework's order.
    pub const ALL: [SessionKind; 6] = [
        SessionKind::Formation,
        SessionKind::Bilan,
        SessionKind::Vae,
        SessionKind::Coaching,
        SessionKind::Gapp,
        SessionKind::Intervention,
    ];

    /// The wire name (`formation`, `bilan`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Formation => "formation",
            SessionKind::Bilan => "bilan",
            SessionKind::Vae => "vae",
            SessionKind::Coaching => "coaching",
            SessionKind::Gapp => "gapp",
            SessionKind::Intervention => "intervention",
        }
    }
}

impl fmt::Display for SessionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SessionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown session kind {s:?}; expected one of formation, bilan, vae, coaching, gapp, intervention")
            })
    }
}

/// A person's role in one session. A sponsor never joins the call, so it is
/// not a role here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Accompagnant, formateur: runs the session.
    Facilitator,
    /// Bénéficiaire: takes part.
    Participant,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Facilitator => "facilitator",
            Role::Participant => "participant",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a session stands. `scheduled → open → running ⇄ suspended → ended`,
/// plus `postponed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Planned; links are not valid yet or nobody has joined.
    Scheduled,
    /// Someone is connected, the facilitator has not started.
    Open,
    /// The session is taking place.
    Running,
    /// Paused by the facilitator, with a reason.
    Suspended,
    /// Moved to a new window; the same links stay valid.
    Postponed,
    /// Over; links no longer open the call.
    Ended,
}

impl SessionState {
    /// The wire name (`scheduled`, `open`, ...), as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Scheduled => "scheduled",
            SessionState::Open => "open",
            SessionState::Running => "running",
            SessionState::Suspended => "suspended",
            SessionState::Postponed => "postponed",
            SessionState::Ended => "ended",
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Stable error codes. Every failure, on the socket or over HTTP, carries one
/// of these with a human sentence beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// No join token was given.
    TokenMissing,
    /// The token is not a well-formed JWT.
    TokenMalformed,
    /// The token's algorithm is not EdDSA (`none`, HS256, ...).
    TokenAlgorithm,
    /// The signature does not verify with any published key.
    TokenSignature,
    /// The token's `exp` has passed.
    TokenExpired,
    /// The token's `nbf` is still in the future.
    TokenNotYetValid,
    /// The link was revoked by the organiser.
    TokenRevoked,
    /// The token names a session other than the one asked for.
    WrongSession,
    /// The session or person the token names does not exist.
    NotFound,
    /// The session is over.
    SessionEnded,
    /// The organiser bearer token is missing or wrong.
    Unauthorized,
    /// The caller's role does not allow this action.
    Forbidden,
    /// The message is not valid JSON or misses a field.
    MalformedMessage,
    /// The message's `type` is not one this protocol version knows.
    UnknownMessageType,
    /// The message is over [`MAX_MESSAGE_BYTES`].
    MessageTooLarge,
    /// The relay target is not connected to this session.
    UnknownPeer,
    /// Too many messages; this one was dropped.
    RateLimited,
    /// Invalid data in a request (the message says which field and why).
    InvalidInput,
    /// The action is not possible now (a sign-in window is closed, ...).
    NotOpen,
    /// The action was already done or contradicts the recorded state.
    Conflict,
    /// Something failed on the server; nothing was changed.
    Internal,
    /// The server holds as many connections as it may: try again later
    /// (HTTP 503 with `Retry-After`).
    AtCapacity,
    /// A staff request that changes something came without the
    /// `X-Cadre-CSRF` header of its login, or with another one.
    CsrfToken,
    /// A staff request came from a page of another origin (`Origin`).
    ForeignOrigin,
}

impl ErrorCode {
    /// The wire name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::TokenMissing => "token_missing",
            ErrorCode::TokenMalformed => "token_malformed",
            ErrorCode::TokenAlgorithm => "token_algorithm",
            ErrorCode::TokenSignature => "token_signature",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::TokenNotYetValid => "token_not_yet_valid",
            ErrorCode::TokenRevoked => "token_revoked",
            ErrorCode::WrongSession => "wrong_session",
            ErrorCode::NotFound => "not_found",
            ErrorCode::SessionEnded => "session_ended",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::MalformedMessage => "malformed_message",
            ErrorCode::UnknownMessageType => "unknown_message_type",
            ErrorCode::MessageTooLarge => "message_too_large",
            ErrorCode::UnknownPeer => "unknown_peer",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::NotOpen => "not_open",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Internal => "internal",
            ErrorCode::AtCapacity => "at_capacity",
            ErrorCode::CsrfToken => "csrf_token",
            ErrorCode::ForeignOrigin => "foreign_origin",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every HTTP error and the content of a socket `error` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code to branch on.
    pub code: ErrorCode,
    /// A sentence for people (English; the client translates by code, or
    /// by `reason` when there is one).
    pub message: String,
    /// Which refusal this is, more precisely than `code`, for a client to
    /// word in its person's language with `args` (the message's values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Refusal>,
    /// The values `reason`'s sentence names (an e-mail, a limit…).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub args: std::collections::BTreeMap<String, String>,
}

impl ErrorBody {
    /// A refusal with its code and sentence.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            reason: None,
            args: std::collections::BTreeMap::new(),
        }
    }

    /// Says which refusal this is, with the values its sentence names.
    pub fn because(mut self, reason: Refusal, args: &[(&str, &str)]) -> Self {
        self.reason = Some(reason);
        self.args = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self
    }
}

/// Refusals a person meets in the console or the call, named so that a
/// client says them in its person's language (the `message` stays the
/// English sentence for scripts and logs). The arguments each takes are
/// listed; a client that does not know a reason shows the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The session has ended (or was cancelled): nothing more is planned in it.
    SessionEnded,
    /// The session already has its most people (`max`).
    SessionFull,
    /// A session under way (`state`) is moved or ended by its facilitator.
    SessionUnderWay,
    /// Another decision on the session is being recorded.
    DecisionInProgress,
    /// A participant of an action's session (`action`) is enrolled in the
    /// action instead.
    ParticipantOfAction,
    /// The action already has its most beneficiaries (`max`).
    ActionFull,
    /// The e-mail (`email`) is already a beneficiary's of the action (`name`).
    AlreadyEnrolled,
    /// Two beneficiaries given with one e-mail (`email`).
    DuplicateEmail,
    /// The action was interrupted for this beneficiary.
    Interrupted,
    /// A staff account already uses the e-mail (`email`).
    StaffEmailTaken,
    /// One's own account is disabled or demoted by another administrator.
    OwnAccount,
    /// The organisation's identity misses what a certificate prints
    /// (`missing`).
    OrganisationIncomplete,
    /// Mail is not configured on this server.
    MailNotConfigured,
    /// The difficulty report is closed.
    ReportClosed,
    /// A correction that names no field.
    NothingToCorrect,
}

/// WebSocket close codes the server uses (4000–4999 is the application range).
pub mod close_code {
    /// The same person opened the session in another tab or device.
    pub const REPLACED: u16 = 4001;
    /// The connection sent too many messages.
    pub const FLOOD: u16 = 4002;
    /// The connection did not read its messages fast enough.
    pub const SLOW_CONSUMER: u16 = 4003;
    /// No heartbeat or pong for too long.
    pub const TIMEOUT: u16 = 4004;
    /// The organiser revoked this person's link.
    pub const REVOKED: u16 = 4005;
    /// The server is shutting down; reconnect later.
    pub const SHUTDOWN: u16 = 4006;
    /// A facilitator removed this person from the session (with a reason);
    /// do not reconnect.
    pub const REMOVED: u16 = 4007;
    /// The facilitator ended the session; do not reconnect.
    pub const ENDED: u16 = 4008;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in SessionKind::ALL {
            assert_eq!(kind.as_str().parse::<SessionKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert!("webinar".parse::<SessionKind>().is_err());
    }

    #[test]
    fn state_names_match_serde() {
        for state in [
            SessionState::Scheduled,
            SessionState::Open,
            SessionState::Running,
            SessionState::Suspended,
            SessionState::Postponed,
            SessionState::Ended,
        ] {
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.as_str())
            );
        }
    }

    #[test]
    fn error_code_names_match_serde() {
        for code in [
            ErrorCode::TokenMissing,
            ErrorCode::TokenNotYetValid,
            ErrorCode::UnknownMessageType,
            ErrorCode::Internal,
            ErrorCode::AtCapacity,
            ErrorCode::CsrfToken,
            ErrorCode::ForeignOrigin,
        ] {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }
}
