//! The outgoing mail queue, in the catalogue: one row per message to one
//! person, from the moment it is asked for until the SMTP server accepted
//! it (or refused it for good).
//!
//! A row says to whom, why (`kind`), when, and what became of it; never
//! what the message said. The join link in an invitation is a bearer
//! credential: the body is built when the message is sent, from the
//! session and the person as they are then, and is not written anywhere.
//!
//! Rows are durable before anyone is told they are queued, so a restart
//! loses nothing: the sender takes up every `pending` row whose
//! `next_attempt` has come. A row becomes `sent` in the statement that
//! records the server's acceptance; the window between the SMTP server's
//! `250` and that statement is the only place a crash can make a message
//! go twice, and the message carries a stable `Message-ID` so mail
//! programs can tell the copies apart.

use super::catalog::{Catalog, CatalogError, CatalogResult};
use super::sql::{Row, Sql};
use crate::sql_params;

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mails (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    occasion TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    last_error TEXT,
    smtp_reply TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS mails_by_session ON mails(session_id, created_at);
CREATE INDEX IF NOT EXISTS mails_due ON mails(state, next_attempt);
CREATE UNIQUE INDEX IF NOT EXISTS mails_once ON mails(person_id, kind, occasion);
";

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// The person's link to a session, asked for by the organiser.
    Invitation,
    /// Before the session starts (one per configured delay).
    Reminder,
    /// A half-day's sign-in was open and the person has not signed.
    SigninReminder,
    /// The session moved: the new dates.
    Postponement,
    /// Staff cancelled the session before it took place.
    Cancellation,
}

impl MailKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Invitation => "invitation",
            MailKind::Reminder => "reminder",
            MailKind::SigninReminder => "signin_reminder",
            MailKind::Postponement => "postponement",
            MailKind::Cancellation => "cancellation",
        }
    }

    fn parse(s: &str) -> Option<MailKind> {
        Some(match s {
            "invitation" => MailKind::Invitation,
            "reminder" => MailKind::Reminder,
            "signin_reminder" => MailKind::SigninReminder,
            "postponement" => MailKind::Postponement,
            "cancellation" => MailKind::Cancellation,
            _ => return None,
        })
    }
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailState {
    /// Not accepted by the SMTP server yet: waiting for `next_attempt`.
    Pending,
    /// The SMTP server accepted it.
    Sent,
    /// Refused for good (a 5xx answer, or nothing left to send to).
    Failed,
}

impl MailState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MailState::Pending => "pending",
            MailState::Sent => "sent",
            MailState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<MailState> {
        Some(match s {
            "pending" => MailState::Pending,
            "sent" => MailState::Sent,
            "failed" => MailState::Failed,
            _ => return None,
        })
    }
}

/// One queued message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// `m_…`; also the message's `Message-ID`.
    pub id: String,
    /// The session it is about.
    pub session_id: String,
    /// To whom.
    pub person_id: String,
    /// The address it goes to (as it was when queued).
    pub recipient: String,
    /// Why.
    pub kind: MailKind,
    /// What it is once for (a reminder's delay and start, a half-day, a
    /// postponement's new window); none for invitations, which the
    /// organiser may send again.
    pub occasion: Option<String>,
    /// Where it is.
    pub state: MailState,
    /// Tries so far.
    pub attempts: u32,
    /// When the next try may happen (ms).
    pub next_attempt: i64,
    /// Why the last try failed.
    pub last_error: Option<String>,
    /// The SMTP server's answer when it accepted the message.
    pub smtp_reply: Option<String>,
    /// When it was queued (ms).
    pub created_at: i64,
    /// When the SMTP server accepted it (ms).
    pub sent_at: Option<i64>,
}

/// One message to queue.
#[derive(Debug, Clone)]
pub struct NewMail<'a> {
    /// The session.
    pub session_id: &'a str,
    /// The person.
    pub person_id: &'a str,
    /// Their address.
    pub recipient: &'a str,
    /// Why.
    pub kind: MailKind,
    /// Once for what (see [`Mail::occasion`]).
    pub occasion: Option<&'a str>,
}

/// Queues `mail` unless one of its kind was already queued for the same
/// person and occasion. Returns the new row's id, or `None` when it was
/// already there.
pub fn queue(conn: &dyn Sql, mail: &NewMail<'_>, now_ms: i64) -> CatalogResult<Option<String>> {
    let id = format!(
        "m_{}",
        super::keys::random_id(12).map_err(|e| CatalogError::Task(e.to_string()))?
    );
    let n = conn.execute(
        "INSERT INTO mails (id, session_id, person_id, recipient, kind, occasion, state, \
         attempts, next_attempt, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7) \
         ON CONFLICT DO NOTHING",
        &sql_params![
            &id,
            mail.session_id,
            mail.person_id,
            mail.recipient,
            mail.kind.as_str(),
            mail.occasion,
            now_ms
        ],
    )?;
    Ok((n == 1).then_some(id))
}

/// Someone of a session mail may go to without being asked for again:
/// they have an address, their link is not revoked, and the organiser had
/// them invited by mail (an invitation not refused for good).
#[derive(Debug, Clone)]
pub struct Invited {
    /// The person.
    pub person_id: String,
    /// Their address now.
    pub email: String,
    /// Their role.
    pub role: cadre_protocol::Role,
}

/// The people of `sid` that reminders and postponement notices go to.
pub fn invited(conn: &dyn Sql, sid: &str) -> CatalogResult<Vec<Invited>> {
    let rows = conn.query(
        "SELECT p.id, p.email, p.role FROM people p WHERE p.session_id = ?1 AND p.email IS NOT NULL \
         AND EXISTS (SELECT 1 FROM mails m WHERE m.person_id = p.id AND m.kind = 'invitation' \
                     AND m.state <> 'failed') \
         AND NOT EXISTS (SELECT 1 FROM links l WHERE l.person_id = p.id AND l.revoked_at IS NOT NULL \
                         AND l.issued_at = (SELECT MAX(issued_at) FROM links WHERE person_id = p.id)) \
         ORDER BY p.position",
        &sql_params![sid],
    )?;
    rows.iter()
        .map(|row| {
            let role = match row.get::<String>(2)?.as_str() {
                "facilitator" => cadre_protocol::Role::Facilitator,
                _ => cadre_protocol::Role::Participant,
            };
            Ok(Invited {
                person_id: row.get(0)?,
                email: row.get(1)?,
                role,
            })
        })
        .collect()
}

/// Queues `kind` once per person of `people` and `occasion`; returns how
/// many were new.
pub fn queue_each(
    conn: &dyn Sql,
    sid: &str,
    people: &[Invited],
    kind: MailKind,
    occasion: &str,
    now_ms: i64,
) -> CatalogResult<usize> {
    let mut queued = 0;
    for p in people {
        let new = NewMail {
            session_id: sid,
            person_id: &p.person_id,
            recipient: &p.email,
            kind,
            occasion: Some(occasion),
        };
        if queue(conn, &new, now_ms)?.is_some() {
            queued += 1;
        }
    }
    Ok(queued)
}

/// After a postponement to `start`..`end`: a notice to everyone invited
/// by mail, once per new window.
pub fn queue_postponement(
    catalog: &Catalog,
    sid: &str,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> CatalogResult<usize> {
    let occasion = format!(
        "postpone:{}:{}",
        start.timestamp_millis(),
        end.timestamp_millis()
    );
    let now = chrono::Utc::now().timestamp_millis();
    catalog.in_sql_transaction(|tx| {
        let people = invited(tx, sid)?;
        queue_each(tx, sid, &people, MailKind::Postponement, &occasion, now)
    })
}

/// Marks the session cancelled and, when `mails`, queues the
/// cancellation's mail to each person invited by mail (once: a session is
/// cancelled once).
pub fn queue_cancellation(catalog: &Catalog, sid: &str, mails: bool) -> CatalogResult<usize> {
    let now = chrono::Utc::now().timestamp_millis();
    catalog.in_sql_transaction(|tx| {
        super::corrections::mark_cancelled(tx, sid, now)?;
        if !mails {
            return Ok(0);
        }
        let people = invited(tx, sid)?;
        queue_each(tx, sid, &people, MailKind::Cancellation, "cancel", now)
    })
}

const COLUMNS: &str = "id, session_id, person_id, recipient, kind, occasion, state, attempts, \
                       next_attempt, last_error, smtp_reply, created_at, sent_at";

fn mail_row(row: &Row) -> CatalogResult<Mail> {
    let kind: String = row.get(4)?;
    let state: String = row.get(6)?;
    let (Some(kind), Some(state)) = (MailKind::parse(&kind), MailState::parse(&state)) else {
        return Err(CatalogError::Corrupt(format!(
            "mail {}: kind {kind}, state {state}",
            row.get::<String>(0)?
        )));
    };
    Ok(Mail {
        id: row.get(0)?,
        session_id: row.get(1)?,
        person_id: row.get(2)?,
        recipient: row.get(3)?,
        kind,
        occasion: row.get(5)?,
        state,
        attempts: row.get::<i64>(7)?.try_into().unwrap_or(u32::MAX),
        next_attempt: row.get(8)?,
        last_error: row.get(9)?,
        smtp_reply: row.get(10)?,
        created_at: row.get(11)?,
        sent_at: row.get(12)?,
    })
}

impl Catalog {
    /// A session's messages, oldest first.
    pub fn mails(&self, sid: &str) -> CatalogResult<Vec<Mail>> {
        let rows = self.with_sql(|db| {
            db.query(
                &format!(
                    "SELECT {COLUMNS} FROM mails WHERE session_id = ?1 ORDER BY created_at, id"
                ),
                &sql_params![sid],
            )
        })?;
        rows.iter().map(mail_row).collect()
    }

    /// At most `limit` pending messages due at `now_ms`, the longest
    /// waiting first.
    pub fn due_mails(&self, now_ms: i64, limit: usize) -> CatalogResult<Vec<Mail>> {
        let rows = self.with_sql(|db| {
            db.query(
                &format!(
                    "SELECT {COLUMNS} FROM mails WHERE state = 'pending' AND next_attempt <= ?1 \
                 ORDER BY next_attempt, created_at LIMIT ?2"
                ),
                &sql_params![now_ms, i64::try_from(limit).unwrap_or(i64::MAX)],
            )
        })?;
        rows.iter().map(mail_row).collect()
    }

    /// The earliest `next_attempt` of a pending message, if any.
    pub fn next_mail_due(&self) -> CatalogResult<Option<i64>> {
        let row = self.with_sql(|db| {
            db.query_opt(
                "SELECT MIN(next_attempt) FROM mails WHERE state = 'pending'",
                &[],
            )
        })?;
        Ok(row.map(|r| r.get::<Option<i64>>(0)).transpose()?.flatten())
    }

    /// The SMTP server accepted the message: recorded with its answer.
    /// Only a pending row changes (a row is sent once).
    pub fn mail_sent(&self, id: &str, reply: &str, now_ms: i64) -> CatalogResult<bool> {
        let n = self.with_sql(|db| {
            db.execute(
                "UPDATE mails SET state = 'sent', attempts = attempts + 1, sent_at = ?2, \
             smtp_reply = ?3, last_error = NULL WHERE id = ?1 AND state = 'pending'",
                &sql_params![id, now_ms, reply],
            )
        })?;
        Ok(n == 1)
    }

    /// A try failed and another will be made at `next_attempt`.
    pub fn mail_retry(&self, id: &str, error: &str, next_attempt: i64) -> CatalogResult<()> {
        self.with_sql(|db| {
            db.execute(
                "UPDATE mails SET attempts = attempts + 1, next_attempt = ?2, last_error = ?3 \
             WHERE id = ?1 AND state = 'pending'",
                &sql_params![id, next_attempt, error],
            )
        })?;
        Ok(())
    }

    /// The message cannot be delivered (refused for good, or nobody left
    /// to send it to).
    pub fn mail_failed(&self, id: &str, error: &str, counted: bool) -> CatalogResult<()> {
        self.with_sql(|db| {
            db.execute(
                "UPDATE mails SET state = 'failed', attempts = attempts + ?3, last_error = ?2 \
             WHERE id = ?1 AND state = 'pending'",
                &sql_params![id, error, counted],
            )
        })?;
        Ok(())
    }
}
