//! Invitations by e-mail: what the organiser asks for (`POST
//! /api/sessions/{sid}/invitations`, `cadre session invite`) and what the
//! queue shows (`GET /api/sessions/{sid}/mails`). Sending is
//! [`crate::mail`]'s work; this only queues and reads.

use super::{App, rfc3339};
use crate::directory::catalog::{CatalogError, Link, Person, Session};
use crate::directory::outbox::{self, Mail, MailKind, MailState, NewMail};
use crate::error::ApiError;
use cadre_protocol::mail::{
    InvitationsQueued, MailView, NewInvitations, QueuedMail, SkippedPerson,
};
use cadre_protocol::{ErrorCode, SessionState};
use chrono::DateTime;

/// File in the data directory naming the sender while the server that
/// last started on it sends mail (absent otherwise), so that `cadre
/// session invite` refuses to queue what nobody would send.
pub const MAIL_FILE: &str = "mail-sender";

/// Most people one request may name.
const MAX_NAMED: usize = 200;

impl App {
    /// The SMTP settings, when this server sends mail.
    pub fn mail_settings(&self) -> Option<&crate::mail::MailSettings> {
        self.inner.mail.as_ref()
    }

    /// Woken when mail is queued, so the sender need not wait for its poll.
    pub(crate) fn mail_wake(&self) -> std::sync::Arc<tokio::sync::Notify> {
        std::sync::Arc::clone(&self.inner.mail_wake)
    }

    /// True when mail is sent: by this server, or (for the command line
    /// working on a data directory) by the server that last started on it.
    pub fn mail_configured(&self) -> bool {
        self.inner.mail.is_some() || self.data_dir().join(MAIL_FILE).exists()
    }

    /// Queues an invitation to each person named (everyone when none is),
    /// and says who was skipped. Everything is checked before anything is
    /// queued.
    pub async fn queue_invitations(
        &self,
        sid: &str,
        request: NewInvitations,
    ) -> Result<InvitationsQueued, ApiError> {
        if !self.mail_configured() {
            return Err(ApiError::new(
                ErrorCode::NotOpen,
                "mail is not configured on this server: start it with --smtp-url and \
                 --mail-from (docs/operations.md, \"Mail\"); nothing was queued",
            )
            .because(cadre_protocol::Refusal::MailNotConfigured, &[]));
        }
        let named = request.people.filter(|p| !p.is_empty());
        if named.as_ref().is_some_and(|p| p.len() > MAX_NAMED) {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("people: at most {MAX_NAMED} person ids in one request"),
            ));
        }
        let s = sid.to_owned();
        let now = chrono::Utc::now().timestamp_millis();
        let result = self
            .catalog()
            .run(move |c| {
                let detail = c.session_detail(&s)?;
                if detail.session.state == SessionState::Ended {
                    return Err(CatalogError::conflict(
                        cadre_protocol::Refusal::SessionEnded,
                        &[],
                        format!("session {s} is over: nothing to invite people to"),
                    ));
                }
                let chosen: Vec<&(Person, Link)> = match &named {
                    None => detail.people.iter().collect(),
                    Some(ids) => {
                        let mut chosen = Vec::new();
                        for id in ids {
                            let Some(found) = detail.people.iter().find(|(p, _)| &p.id == id)
                            else {
                                return Err(CatalogError::Invalid(format!(
                                    "people: {id:?} is not a person of session {s}; nothing was queued"
                                )));
                            };
                            if !chosen.iter().any(|(p, _): &&(Person, Link)| &p.id == id) {
                                chosen.push(found);
                            }
                        }
                        chosen
                    }
                };
                c.in_sql_transaction(|tx| {
                    let mut out = InvitationsQueued {
                        queued: Vec::new(),
                        skipped: Vec::new(),
                    };
                    for (person, link) in chosen.iter().copied() {
                        let skip = |reason: &str| SkippedPerson {
                            person: person.id.clone(),
                            name: person.name.clone(),
                            reason: reason.to_owned(),
                        };
                        let Some(email) = &person.email else {
                            out.skipped.push(skip("no_email"));
                            continue;
                        };
                        if link.revoked_at.is_some() {
                            out.skipped.push(skip("revoked"));
                            continue;
                        }
                        let new = NewMail {
                            session_id: &s,
                            person_id: &person.id,
                            recipient: email,
                            kind: MailKind::Invitation,
                            occasion: None,
                        };
                        if let Some(mail) = outbox::queue(tx, &new, now)? {
                            out.queued.push(QueuedMail {
                                mail,
                                person: person.id.clone(),
                                to: email.clone(),
                            });
                        }
                    }
                    Ok(out)
                })
            })
            .await?;
        tracing::info!(
            sid,
            queued = result.queued.len(),
            skipped = result.skipped.len(),
            "invitations queued"
        );
        self.inner.mail_wake.notify_one();
        Ok(result)
    }

    /// Every mail of a session, oldest first.
    pub async fn session_mails(&self, sid: &str) -> Result<Vec<MailView>, ApiError> {
        let s = sid.to_owned();
        let mails = self
            .catalog()
            .run(move |c| {
                c.session(&s)?;
                c.mails(&s)
            })
            .await?;
        Ok(mails.into_iter().map(mail_view).collect())
    }

    /// The session, the person and their latest link, for a message.
    pub(crate) async fn mail_recipient(
        &self,
        sid: &str,
        pid: &str,
    ) -> Result<(Session, Person, Link), ApiError> {
        let (s, p) = (sid.to_owned(), pid.to_owned());
        let detail = self.catalog().run(move |c| c.session_detail(&s)).await?;
        let session = detail.session;
        let (person, link) = detail
            .people
            .into_iter()
            .find(|(person, _)| person.id == p)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("no person {pid} in session {sid}"),
                )
            })?;
        Ok((session, person, link))
    }

    /// The person's join token, minted now (the same text each time).
    pub(crate) fn join_token(&self, person: &Person, link: &Link) -> Result<String, ApiError> {
        Ok(self.link_view(person, link)?.token)
    }
}

fn mail_view(m: Mail) -> MailView {
    let time = |ms: i64| rfc3339(DateTime::from_timestamp_millis(ms).unwrap_or_default());
    MailView {
        next_attempt: (m.state == MailState::Pending).then(|| time(m.next_attempt)),
        sent_at: m.sent_at.map(time),
        created_at: time(m.created_at),
        id: m.id,
        person: m.person_id,
        to: m.recipient,
        kind: m.kind.as_str().to_owned(),
        state: m.state.as_str().to_owned(),
        attempts: m.attempts,
        last_error: m.last_error,
        smtp_reply: m.smtp_reply,
    }
}
