//! What exists, and who may come: sessions, people and their links.
//!
//! - [`catalog`]: sessions, people and links in the embedded SQLite file.
//! - [`links`]: join links as EdDSA JWTs; minting and strict verification.
//! - [`keys`]: the Ed25519 signing keys (the key set and its two-phase
//!   rotation) and the organiser token, generated into the data directory
//!   on first start.
//! - [`actions`]: actions, their beneficiaries and sessions, and the
//!   article 2.1.7 changes (append-only).
//! - [`organisation`]: the organisation's identity and signature image.
//! - [`calendar`]: a session as an `.ics` event.
//! - [`questionnaires`]: appreciation questionnaires, their uses, the
//!   invitations and the answers, kept apart.
//! - [`outbox`]: the outgoing mail queue (to whom, why, what became of
//!   it; never the message's text).
//! - [`corrections`]: a session's title, a person's name, e-mail, mail
//!   language or time zone corrected after the fact; a cancellation's mark.
//! - [`staff`]: staff accounts (Argon2id passwords), their logins in a
//!   browser and the append-only audit log.
//! - [`sql`]: the seam the catalogue's modules move onto, so that each
//!   statement runs on SQLite or on PostgreSQL.

// Actions, beneficiaries, the organisation's identity.
pub mod actions;
pub mod calendar;
pub mod catalog;
pub mod corrections;
pub mod keys;
pub mod links;
pub mod organisation;
// The outgoing mail queue.
pub mod outbox;
pub mod questionnaires;
// One statement for SQLite and PostgreSQL.
pub mod sql;

/// The catalogue's part of cadre's tables on PostgreSQL, for
/// [`crate::postgres::migrate`]. Nodes update and delete catalogue rows
/// (links revoked, logins ended) except the article 2.1.7 changes and the
/// staff audit log, which they only add to (and triggers keep as they are).
pub const PG_CATALOGUE: crate::postgres::Component = crate::postgres::Component {
    name: "catalogue",
    version: 1,
    ddl: include_str!("catalogue.pg.sql"),
    grants: "GRANT SELECT, INSERT, UPDATE, DELETE ON sessions, actions, beneficiaries, people,
                 links, reports, organisation, action_sessions, questionnaires,
                 questionnaire_uses, questionnaire_invitations, questionnaire_answers, mails,
                 staff, staff_sessions TO {role};
             REVOKE ALL ON action_changes, staff_audit FROM {role};
             GRANT SELECT, INSERT ON action_changes, staff_audit TO {role};",
};
// Staff accounts, logins, the audit log.
pub mod staff;
