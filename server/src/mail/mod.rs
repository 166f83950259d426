//! Invitations and reminders by e-mail: the SMTP settings, the background
//! sender that works through the queue in the catalogue
//! ([`crate::directory::outbox`]), and the schedule that queues reminders.
//!
//! - [`message`]: the French and English messages (plain text and HTML,
//!   the `.ics` invitation attached), built when a mail is sent;
//! - [`reminders`]: which reminders are due now (before a session, and
//!   for a half-day's sign-in someone has not signed).
//!
//! How a mail goes: an organiser's request (or the schedule, or a
//! postponement) writes a `pending` row and nothing else. The sender takes
//! the rows that are due, at most [`MailSettings::concurrency`] at a time,
//! builds each message from the session and the person as they are now
//! (minting the join link then: it is never stored), and hands it to the
//! SMTP server. The server's acceptance marks the row `sent` at once; a
//! permanent refusal (5xx) marks it `failed`; anything else (the server
//! unreachable, a 4xx) leaves it `pending` for a later try, the delay
//! doubling up to [`MailSettings::retry_cap`]. A restart finds the pending
//! rows where they were.

pub mod message;
pub mod reminders;

use crate::app::App;
use crate::directory::outbox::Mail;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How cadre sends mail (`--smtp-url` and the flags beside it).
#[derive(Clone)]
pub struct MailSettings {
    /// `smtp://host:25`, `smtps://host:465`, `smtp://host:587?tls=required`
    /// (STARTTLS); credentials may be in it (`smtp://user:pass@host`).
    pub url: String,
    /// SMTP user, when not in the URL.
    pub user: Option<String>,
    /// SMTP password, when not in the URL.
    pub password: Option<String>,
    /// The sender, `Organisme <noreply@example.org>`.
    pub from: String,
    /// How long before a session its reminders go (each once).
    pub reminders: Vec<Duration>,
    /// How often the queue is looked at when nothing wakes the sender
    /// (mail queued by the command line waits this long at most).
    pub poll: Duration,
    /// How often the reminders due are looked for (each look reads every
    /// session, and the ledger of those with a half-day closing).
    pub schedule_every: Duration,
    /// Mails handed to the SMTP server at once.
    pub concurrency: usize,
    /// The delay after a first failed try; it doubles with each failure.
    pub retry_first: Duration,
    /// The longest delay between tries.
    pub retry_cap: Duration,
    /// How long one SMTP exchange may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the password: only its scheme and host show.
        f.debug_struct("MailSettings")
            .field("server", &server_of(&self.url))
            .field("from", &self.from)
            .field("reminders", &self.reminders)
            .finish_non_exhaustive()
    }
}

impl MailSettings {
    /// Settings for `url` and `from`, with the defaults for the rest.
    pub fn new(url: impl Into<String>, from: impl Into<String>) -> MailSettings {
        MailSettings {
            url: url.into(),
            user: None,
            password: None,
            from: from.into(),
            reminders: vec![Duration::from_secs(24 * 3600), Duration::from_secs(3600)],
            poll: Duration::from_secs(5),
            schedule_every: Duration::from_secs(30),
            concurrency: 4,
            retry_first: Duration::from_secs(30),
            retry_cap: Duration::from_secs(3600),
            timeout: Duration::from_secs(30),
        }
    }

    /// Checks the URL and the sender, so that a mistake stops the start
    /// rather than every mail.
    pub fn check(&self) -> Result<(), MailError> {
        self.transport()?;
        self.sender()?;
        if self.user.is_some() != self.password.is_some() {
            return Err(MailError::Settings(
                "--smtp-user and --smtp-password go together".into(),
            ));
        }
        if self.concurrency == 0 {
            return Err(MailError::Settings(
                "mail concurrency must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The sender's mailbox.
    pub fn sender(&self) -> Result<lettre::message::Mailbox, MailError> {
        self.from.trim().parse().map_err(|e| {
            MailError::Settings(format!(
                "--mail-from {:?}: not a sender like `Organisme <noreply@example.org>` ({e})",
                self.from
            ))
        })
    }

    /// The SMTP client for these settings.
    pub fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
        let url = self.url.trim();
        if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
            return Err(MailError::Settings(format!(
                "--smtp-url {:?}: expected smtp://host:port (STARTTLS with ?tls=required) or smtps://host:port",
                server_of(url)
            )));
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::Settings(format!("--smtp-url {:?}: {e}", server_of(url))))?;
        if let (Some(user), Some(password)) = (&self.user, &self.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.timeout(Some(self.timeout)).build())
    }

    /// The delay before try `attempts + 1`, after `attempts` failed ones.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.retry_first
            .checked_mul(factor)
            .unwrap_or(self.retry_cap)
            .min(self.retry_cap)
    }
}

/// The scheme and host of an SMTP URL, without credentials (for messages
/// and logs).
pub fn server_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    if scheme.is_empty() {
        host.to_owned()
    } else {
        format!("{scheme}://{host}")
    }
}

/// Mail failures.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The settings cannot work.
    #[error("{0}")]
    Settings(String),
}

/// What became of one try.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Accepted, with the server's answer.
    Sent(String),
    /// Refused for good, or nothing to send any more.
    Failed(String),
    /// Try again later.
    Retry(String),
}

/// The sender: runs until `stop`, sending what is due and queuing the
/// reminders that come due.
pub async fn run(app: App, settings: MailSettings, stop: CancellationToken) {
    let transport = match settings.transport() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("mail is off: {e}");
            return;
        }
    };
    tracing::info!(server = %server_of(&settings.url), "sending mail");
    let wake = app.mail_wake();
    let mut next_schedule = 0;
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        if now >= next_schedule {
            if let Err(e) = reminders::queue_due(&app, &settings, now).await {
                tracing::warn!("reminders not queued this time: {}", e.message);
            }
            next_schedule = now + settings.schedule_every.as_millis() as i64;
        }
        let limit = settings.concurrency;
        let due = app.catalog().run(move |c| c.due_mails(now, limit)).await;
        let due = match due {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!("reading the mail queue: {e}");
                Vec::new()
            }
        };
        if due.is_empty() {
            let next = app
                .catalog()
                .run(|c| c.next_mail_due())
                .await
                .ok()
                .flatten();
            let until_next = next.map_or(settings.poll, |t| {
                Duration::from_millis((t - now).max(0) as u64).min(settings.poll)
            });
            tokio::select! {
                () = stop.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(until_next) => {}
            }
            continue;
        }
        let sends = due
            .into_iter()
            .map(|mail| send_one(&app, &settings, &transport, mail));
        // A stop waits for the mails in hand: cut short, one could be
        // accepted by the server and not marked.
        futures_util::future::join_all(sends).await;
        if stop.is_cancelled() {
            return;
        }
    }
}

/// One try of one mail, and its outcome recorded.
async fn send_one(
    app: &App,
    settings: &MailSettings,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    mail: Mail,
) {
    let outcome = match message::build(app, settings, &mail).await {
        Err(message::NotBuilt::Unsendable(why)) => Outcome::Failed(why),
        Err(message::NotBuilt::Later(why)) => Outcome::Retry(why),
        Ok(message) => match transport.send(message).await {
            Ok(response) => Outcome::Sent(format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) if e.is_permanent() => {
                Outcome::Failed(format!("refused by the mail server: {e}"))
            }
            Err(e) => Outcome::Retry(e.to_string()),
        },
    };
    let (id, attempts) = (mail.id.clone(), mail.attempts + 1);
    let now = chrono::Utc::now().timestamp_millis();
    let next = now + settings.backoff(attempts).as_millis() as i64;
    let recorded = {
        let outcome = outcome.clone();
        let id = id.clone();
        app.catalog()
            .run(move |c| match outcome {
                Outcome::Sent(reply) => c.mail_sent(&id, &reply, now).map(|_| ()),
                Outcome::Failed(why) => c.mail_failed(&id, &why, true),
                Outcome::Retry(why) => c.mail_retry(&id, &why, next),
            })
            .await
    };
    if let Err(e) = recorded {
        tracing::error!(mail = %id, "the outcome of a mail could not be recorded: {e}");
    }
    let (kind, sid) = (mail.kind.as_str(), mail.session_id.as_str());
    match outcome {
        Outcome::Sent(_) => tracing::info!(mail = %id, kind, sid, "mail accepted by the server"),
        Outcome::Failed(why) => tracing::warn!(mail = %id, kind, sid, "mail failed: {why}"),
        Outcome::Retry(why) => {
            tracing::warn!(mail = %id, kind, sid, attempts, "mail not sent, will retry: {why}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_up_to_its_cap() {
        let mut s = MailSettings::new("smtp://localhost:25", "Organisme <noreply@example.org>");
        s.retry_first = Duration::from_secs(30);
        s.retry_cap = Duration::from_secs(600);
        let delays: Vec<u64> = (1..=7).map(|n| s.backoff(n).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 600, 600]);
        assert_eq!(s.backoff(200).as_secs(), 600);
    }

    #[test]
    fn settings_that_cannot_work_are_refused_with_the_flag_named() {
        let ok = MailSettings::new("smtp://localhost:2525", "Organisme <noreply@example.org>");
        ok.check().expect("valid settings");
        let cases = [
            (
                "http://localhost",
                "Organisme <noreply@example.org>",
                "--smtp-url",
            ),
            ("smtp://localhost:25", "not an address", "--mail-from"),
            (
                "smtp://localhost:25?tls=sometimes",
                "a@b.example",
                "--smtp-url",
            ),
        ];
        for (url, from, flag) in cases {
            let e = MailSettings::new(url, from)
                .check()
                .unwrap_err()
                .to_string();
            assert!(e.contains(flag), "{e} names {flag}");
        }
        let mut half = ok.clone();
        half.user = Some("cadre".into());
        assert!(
            half.check()
                .unwrap_err()
                .to_string()
                .contains("--smtp-password")
        );
    }

    #[test]
    fn a_server_is_named_without_its_credentials() {
        assert_eq!(
            server_of("smtps://user:secret@mail.example.org:465?x=1"),
            "smtps://mail.example.org:465"
        );
        let s = MailSettings::new("smtp://u:secret@h:25", "a@b.example");
        assert!(!format!("{s:?}").contains("secret"));
    }
}
