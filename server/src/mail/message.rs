//! The messages, French and English: plain text with an HTML alternative
//! (every value escaped), the session's `.ics` invitation attached.
//!
//! Built when a mail is sent, never stored: the person's join link is
//! minted from the catalogue at that moment (links are deterministic, so
//! it is the link the organiser sees), and the dates are the session's as
//! they are then, in the session's time zone, named.

use crate::app::App;
use crate::directory::calendar;
use crate::directory::catalog::Session;
use crate::directory::outbox::{Mail, MailKind};
use cadre_protocol::SessionState;
use cadre_protocol::api::{EvidenceNotice, UiLang};
use cadre_protocol::session::MediaMode;
use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};

/// Why a message was not built.
#[derive(Debug)]
pub enum NotBuilt {
    /// It can no longer be sent (the mail is marked failed).
    Unsendable(String),
    /// Reading what it says failed for now (the disk, the ledger): tried
    /// again like a failed delivery.
    Later(String),
}

use NotBuilt::Unsendable;

/// A failure to read the session, the person or the ledger: final when
/// the session or the person is gone, for later otherwise.
fn reading(e: crate::error::ApiError) -> NotBuilt {
    if e.code == cadre_protocol::ErrorCode::NotFound {
        Unsendable(e.message)
    } else {
        NotBuilt::Later(e.message)
    }
}

/// Everything a message says, gathered at send time.
pub struct Content<'a> {
    /// Why it is sent.
    pub kind: MailKind,
    /// The person's name.
    pub name: &'a str,
    /// The session.
    pub session: &'a Session,
    /// `{public_url}/j/{token}`.
    pub join_url: &'a str,
    /// `{public_url}/e/{token}`.
    pub check_url: &'a str,
    /// The notice's facts (years kept, contact, media route).
    pub notice: &'a EvidenceNotice,
    /// The last postponement's reason, for a postponement mail.
    pub reason: Option<&'a str>,
    /// The half-day a sign-in reminder is about (`YYYY-MM-DD.am|pm`).
    pub slot: Option<&'a str>,
}

/// Subject, plain text and HTML of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Texts {
    /// The subject line.
    pub subject: String,
    /// The plain text.
    pub text: String,
    /// The HTML alternative.
    pub html: String,
}

/// Builds the whole message for `mail` from the catalogue and the ledger
/// as they are now.
pub async fn build(
    app: &App,
    settings: &super::MailSettings,
    mail: &Mail,
) -> Result<lettre::Message, NotBuilt> {
    let (session, person, link) = app
        .mail_recipient(&mail.session_id, &mail.person_id)
        .await
        .map_err(reading)?;
    if link.revoked_at.is_some() {
        return Err(Unsendable(
            "the person's link was revoked: nothing to invite them to".into(),
        ));
    }
    if session.state == SessionState::Ended && mail.kind != MailKind::Cancellation {
        return Err(Unsendable("the session ended before the mail went".into()));
    }
    if mail.kind == MailKind::Reminder && Utc::now() >= session.planned_start {
        return Err(Unsendable(
            "the session had started: the reminder came too late".into(),
        ));
    }
    let token = app.join_token(&person, &link).map_err(reading)?;
    let (sequence, reason) = app.postponements(&session.id).await.map_err(reading)?;
    let cancelled = if mail.kind == MailKind::Cancellation {
        Some(
            app.cancellation(&session.id)
                .await
                .map_err(reading)?
                .unwrap_or_default(),
        )
    } else {
        None
    };
    let reason = cancelled.clone().or(reason);
    let base = app.public_url();
    let join_url = format!("{base}/j/{token}");
    let check_url = format!("{base}/e/{token}");
    let notice = app.evidence_notice(session.media);
    let slot = mail
        .occasion
        .as_deref()
        .and_then(|o| o.strip_prefix("signin:"));
    // The dates as the person reads them: in their own zone when they
    // have one, else the session's (the mail names the zone either way).
    let mut seen = session.clone();
    if let Some(zone) = person.time_zone {
        seen.time_zone = zone;
    }
    let content = Content {
        kind: mail.kind,
        name: &person.name,
        session: &seen,
        join_url: &join_url,
        check_url: &check_url,
        notice: &notice,
        reason: reason.as_deref(),
        slot,
    };
    let texts = texts(person.lang.unwrap_or(app.default_lang()), &content);
    let from = settings.sender().map_err(|e| Unsendable(e.to_string()))?;
    let to: Mailbox = format!("{} <{}>", quoted(&person.name), mail.recipient)
        .parse()
        .or_else(|_| mail.recipient.parse())
        .map_err(|_| {
            Unsendable(format!(
                "{:?} is not an address the mail server would take",
                mail.recipient
            ))
        })?;
    let ics = calendar::ics(&calendar::Event {
        uid: &session.id,
        summary: &session.title,
        start: session.planned_start,
        end: session.planned_end,
        url: &join_url,
        description: &session.organisation,
        sequence: sequence + u32::from(cancelled.is_some()),
        cancelled: cancelled.is_some(),
        stamp: Utc::now(),
        invitation: Some(calendar::Invitation {
            organizer_name: from.name.as_deref().unwrap_or(&session.organisation),
            organizer_email: from.email.as_ref(),
            attendee_name: &person.name,
            attendee_email: &mail.recipient,
        }),
    });
    let method = if cancelled.is_some() {
        "CANCEL"
    } else {
        "REQUEST"
    };
    let calendar_type =
        ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
            .map_err(|e| Unsendable(e.to_string()))?;
    // The mail's id names the message: a copy sent again after a crash
    // between the server's acceptance and its record is the same message.
    let domain = from.email.domain().to_owned();
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(texts.subject)
        .message_id(Some(format!("<{}@{}>", mail.id, domain)))
        .multipart(
            MultiPart::mixed()
                .multipart(MultiPart::alternative_plain_html(texts.text, texts.html))
                .singlepart(Attachment::new("invitation.ics".to_owned()).body(ics, calendar_type)),
        )
        .map_err(|e| Unsendable(format!("the message could not be built: {e}")))
}

/// A display name as an RFC 5322 quoted string.
fn quoted(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' || c == '\\' { ' ' } else { c })
        .collect();
    format!("\"{clean}\"")
}

/// The message's texts in `lang`.
pub fn texts(lang: UiLang, c: &Content<'_>) -> Texts {
    let w = words(lang);
    let title = &c.session.title;
    let when = span(lang, c.session);
    let subject = match c.kind {
        MailKind::Invitation => format!("{} : {title} — {when}", w.invitation),
        MailKind::Reminder => format!("{} : {title} — {when}", w.reminder),
        MailKind::SigninReminder => format!("{} : {title}", w.signin),
        MailKind::Postponement => format!("{} : {title} — {when}", w.postponed),
        MailKind::Cancellation => format!("{} : {title} — {when}", w.cancelled),
    };
    let subject = if lang == UiLang::En {
        subject.replacen(" : ", ": ", 1)
    } else {
        subject
    };
    let lead = match c.kind {
        MailKind::Invitation => (w.lead_invitation)(&c.session.organisation, title),
        MailKind::Reminder => (w.lead_reminder)(&c.session.organisation, title),
        MailKind::SigninReminder => (w.lead_signin)(title, &slot_name(lang, c.slot)),
        MailKind::Postponement => (w.lead_postponed)(&c.session.organisation, title),
        MailKind::Cancellation => (w.lead_cancelled)(&c.session.organisation, title),
    };
    let mut paragraphs: Vec<Block> = vec![
        Block::Text(format!("{} {},", w.hello, c.name)),
        Block::Text(lead),
        Block::Text(format!("{} {when}", w.date)),
    ];
    if let (MailKind::Postponement, Some(reason)) = (c.kind, c.reason) {
        paragraphs.push(Block::Text(format!("{} {reason}", w.reason)));
    }
    if c.kind == MailKind::Cancellation {
        // Nothing to join, nothing recorded: the reason, and the calendar
        // event withdrawn.
        if let Some(reason) = c.reason.filter(|r| !r.is_empty()) {
            paragraphs.push(Block::Text(format!("{} {reason}", w.reason_cancelled)));
        }
        paragraphs.push(Block::Text(w.attached_cancelled.to_owned()));
        return Texts {
            subject,
            text: plain(&paragraphs),
            html: html(lang, title, &paragraphs),
        };
    }
    paragraphs.push(Block::Link(w.join.to_owned(), c.join_url.to_owned()));
    paragraphs.push(Block::Link(w.check.to_owned(), c.check_url.to_owned()));
    paragraphs.push(Block::Heading(w.notice_title.to_owned()));
    paragraphs.push(Block::Text(w.notice_why.to_owned()));
    paragraphs.push(Block::List(
        w.notice_items.iter().map(|s| (*s).to_owned()).collect(),
    ));
    paragraphs.push(Block::Text(w.notice_never.to_owned()));
    paragraphs.push(Block::Text(
        match c.notice.media {
            MediaMode::Peer => w.route_peer,
            MediaMode::Auto => w.route_auto,
            MediaMode::Forwarded => w.route_forwarded,
        }
        .to_owned(),
    ));
    paragraphs.push(Block::Text(
        w.kept_for
            .replace("{years}", &c.notice.evidence_kept_years.to_string())
            .replace("{days}", &c.notice.recording_retention_days.to_string()),
    ));
    paragraphs.push(Block::Text(match &c.notice.contact {
        Some(contact) => w.rights_contact.replace("{contact}", contact),
        None => w
            .rights_organisation
            .replace("{organisation}", &c.session.organisation),
    }));
    paragraphs.push(Block::Text(w.attached.to_owned()));
    Texts {
        subject,
        text: plain(&paragraphs),
        html: html(lang, title, &paragraphs),
    }
}

enum Block {
    Heading(String),
    Text(String),
    List(Vec<String>),
    /// A sentence, then the address on its own line (plain) or as a link.
    Link(String, String),
}

fn plain(blocks: &[Block]) -> String {
    let mut out = String::new();
    for b in blocks {
        match b {
            Block::Heading(t) | Block::Text(t) => out.push_str(t),
            Block::List(items) => {
                let lines: Vec<String> = items.iter().map(|i| format!("- {i}")).collect();
                out.push_str(&lines.join("\n"));
            }
            Block::Link(sentence, url) => {
                out.push_str(sentence);
                out.push('\n');
                out.push_str(url);
            }
        }
        out.push_str("\n\n");
    }
    out
}

fn html(lang: UiLang, title: &str, blocks: &[Block]) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n",
        if lang == UiLang::En { "en" } else { "fr" },
        escape(title)
    );
    for b in blocks {
        match b {
            Block::Heading(t) => out.push_str(&format!("<h2>{}</h2>\n", escape(t))),
            Block::Text(t) => out.push_str(&format!("<p>{}</p>\n", escape(t))),
            Block::List(items) => {
                out.push_str("<ul>\n");
                for i in items {
                    out.push_str(&format!("<li>{}</li>\n", escape(i)));
                }
                out.push_str("</ul>\n");
            }
            Block::Link(sentence, url) => out.push_str(&format!(
                "<p>{}<br><a href=\"{}\">{}</a></p>\n",
                escape(sentence),
                escape(url),
                escape(url)
            )),
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// HTML text and attribute escaping.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The session's dates in its time zone, the zone named:
/// `jeudi 10 décembre 2026, de 09:00 à 12:00 (heure de Europe/Paris, UTC+01:00)`.
pub fn span(lang: UiLang, s: &Session) -> String {
    let tz = s.time_zone;
    let (start, end) = (
        s.planned_start.with_timezone(&tz),
        s.planned_end.with_timezone(&tz),
    );
    let offset = start.format("%:z").to_string();
    let day = |t: &DateTime<chrono_tz::Tz>| date(lang, t);
    let hm = |t: &DateTime<chrono_tz::Tz>| t.format("%H:%M").to_string();
    let same_day = start.date_naive() == end.date_naive();
    match (lang, same_day) {
        (UiLang::En, true) => format!(
            "{}, {} to {} ({} time, UTC{offset})",
            day(&start),
            hm(&start),
            hm(&end),
            tz.name()
        ),
        (UiLang::En, false) => format!(
            "from {}, {} to {}, {} ({} time, UTC{offset})",
            day(&start),
            hm(&start),
            day(&end),
            hm(&end),
            tz.name()
        ),
        (_, true) => format!(
            "{}, de {} à {} (heure de {}, UTC{offset})",
            day(&start),
            hm(&start),
            hm(&end),
            tz.name()
        ),
        (_, false) => format!(
            "du {} à {} au {} à {} (heure de {}, UTC{offset})",
            day(&start),
            hm(&start),
            day(&end),
            hm(&end),
            tz.name()
        ),
    }
}

/// "jeudi 10 décembre 2026" / "Thursday 10 December 2026": the words the
/// documents print.
fn date(lang: UiLang, t: &DateTime<chrono_tz::Tz>) -> String {
    let printed = match lang {
        UiLang::En => crate::evidence::render::Lang::En,
        _ => crate::evidence::render::Lang::Fr,
    };
    printed.date_long(t.date_naive())
}

/// `2026-12-03.am` as people say it.
fn slot_name(lang: UiLang, slot: Option<&str>) -> String {
    let Some((day, half)) = slot.and_then(|s| s.split_once('.')) else {
        return String::new();
    };
    let morning = half == "am";
    let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| {
            d.and_hms_opt(12, 0, 0)
                .map(|t| t.and_utc().with_timezone(&chrono_tz::UTC))
        });
    let Some(day) = day else {
        return String::new();
    };
    match (lang, morning) {
        (UiLang::En, true) => format!("the morning of {}", date(lang, &day)),
        (UiLang::En, false) => format!("the afternoon of {}", date(lang, &day)),
        (_, true) => format!("la matinée du {}", date(lang, &day)),
        (_, false) => format!("l’après-midi du {}", date(lang, &day)),
    }
}

/// One language's words. The notice's sentences are the lobby's own
/// (`client-web/i18n.js`; a test keeps them the same).
struct Words {
    invitation: &'static str,
    reminder: &'static str,
    signin: &'static str,
    postponed: &'static str,
    cancelled: &'static str,
    hello: &'static str,
    lead_invitation: fn(&str, &str) -> String,
    lead_reminder: fn(&str, &str) -> String,
    lead_signin: fn(&str, &str) -> String,
    lead_postponed: fn(&str, &str) -> String,
    lead_cancelled: fn(&str, &str) -> String,
    date: &'static str,
    reason: &'static str,
    reason_cancelled: &'static str,
    attached_cancelled: &'static str,
    join: &'static str,
    check: &'static str,
    notice_title: &'static str,
    notice_why: &'static str,
    notice_items: [&'static str; 7],
    notice_never: &'static str,
    route_peer: &'static str,
    route_auto: &'static str,
    route_forwarded: &'static str,
    kept_for: &'static str,
    rights_contact: &'static str,
    rights_organisation: &'static str,
    attached: &'static str,
}

fn words(lang: UiLang) -> &'static Words {
    match lang {
        UiLang::En => &EN,
        _ => &FR,
    }
}

static FR: Words = Words {
    invitation: "Invitation",
    reminder: "Rappel",
    signin: "Émargement",
    postponed: "Séance reportée",
    cancelled: "Séance annulée",
    hello: "Bonjour",
    lead_invitation: |org, title| format!("{org} vous invite à la séance à distance « {title} »."),
    lead_reminder: |org, title| {
        format!("Pour rappel, la séance à distance « {title} » de {org} approche.")
    },
    lead_signin: |title, slot| {
        format!(
            "Vous n’avez pas émargé pour {slot} de la séance « {title} ». Rejoignez la séance avec votre lien pour signer tant que la feuille est ouverte, ou signalez une difficulté."
        )
    },
    lead_postponed: |org, title| {
        format!(
            "{org} reporte la séance à distance « {title} ». Voici la nouvelle date ; votre lien reste le même."
        )
    },
    lead_cancelled: |org, title| {
        format!(
            "{org} annule la séance à distance « {title} » : elle n’aura pas lieu, et votre lien ne l’ouvrira plus."
        )
    },
    date: "Date :",
    reason: "Motif du report :",
    reason_cancelled: "Motif de l’annulation :",
    attached_cancelled: "L’annulation est jointe pour votre agenda (fichier invitation.ics) : elle retire la séance de votre calendrier.",
    join: "Pour rejoindre la séance, ouvrez votre lien personnel (ne le transmettez pas : il vous identifie) :",
    check: "Avant la séance, testez votre équipement (caméra, micro, connexion) :",
    notice_title: "Ce que la séance enregistre, et pourquoi",
    notice_why: "Votre présence doit pouvoir être attestée, comme le prévoit le cadre des accompagnements de l’organisme. La séance conserve donc, comme preuves de participation :",
    notice_items: [
        "les heures de connexion et de déconnexion, et un signal de présence régulier de votre appareil ;",
        "l’adresse IP de votre connexion et votre navigateur (son « user agent ») ;",
        "des signaux de présence : onglet de la séance visible ou non, fenêtre au premier plan ou non, caméra et micro activés ou coupés ;",
        "chaque minute, la qualité de votre connexion (délai, pertes, débit), pour l’accompagnement et pour expliquer une coupure ;",
        "vos émargements (signatures en ligne, avec le tracé si vous signez à la main) ;",
        "vos accords et refus (enregistrement, transmission au commanditaire) ;",
        "les difficultés que vous signalez et les réponses de l’organisme.",
    ],
    notice_never: "Jamais le contenu des échanges, ni image, ni son. Aucun enregistrement de la séance sans l’accord explicite de chaque personne présente ; s’il a lieu, il est signalé en haut de l’écran de chacun.",
    route_peer: "Les images et le son passent directement d’une personne à l’autre : ils ne passent pas par le serveur de l’organisme.",
    route_auto: "À deux, les images et le son passent directement de l’un à l’autre. À partir de la troisième personne, la séance passe par le serveur de l’organisme, qui relaie les images et le son à chacun sans les conserver ; ce passage s’affiche à l’écran et est consigné dans le journal de la séance.",
    route_forwarded: "La séance passe par le serveur de l’organisme : il relaie les images et le son à chacun, sans les conserver.",
    kept_for: "{years} ans après la fin de l’action, comme les financeurs le demandent pour les pièces justificatives. Les enregistrements de séance, s’il y en a, sont supprimés après {days} jours.",
    rights_contact: "Pour consulter, faire corriger ou effacer ce qui vous concerne, ou vous y opposer, écrivez à : {contact}. Vous pouvez aussi saisir la CNIL.",
    rights_organisation: "Pour consulter, faire corriger ou effacer ce qui vous concerne, ou vous y opposer, écrivez à {organisation}. Vous pouvez aussi saisir la CNIL.",
    attached: "L’invitation est jointe pour votre agenda (fichier invitation.ics).",
};

static EN: Words = Words {
    invitation: "Invitation",
    reminder: "Reminder",
    signin: "Sign-in",
    postponed: "Session postponed",
    cancelled: "Session cancelled",
    hello: "Hello",
    lead_invitation: |org, title| format!("{org} invites you to the distance session “{title}”."),
    lead_reminder: |org, title| {
        format!("A reminder: the distance session “{title}” of {org} is coming up.")
    },
    lead_signin: |title, slot| {
        format!(
            "You have not signed in for {slot} of the session “{title}”. Join the session with your link to sign while the sheet is open, or report a difficulty."
        )
    },
    lead_postponed: |org, title| {
        format!(
            "{org} postpones the distance session “{title}”. Here is the new date; your link stays the same."
        )
    },
    lead_cancelled: |org, title| {
        format!(
            "{org} cancels the distance session “{title}”: it will not take place, and your link will no longer open it."
        )
    },
    date: "Date:",
    reason: "Why it is postponed:",
    reason_cancelled: "Why it is cancelled:",
    attached_cancelled: "The cancellation is attached for your calendar (invitation.ics): it removes the session from it.",
    join: "To join the session, open your personal link (do not pass it on: it identifies you):",
    check: "Before the session, test your equipment (camera, microphone, connection):",
    notice_title: "What the session records, and why",
    notice_why: "Your attendance must be provable, as the organisation’s framework for its sessions requires. The session therefore keeps, as evidence of participation:",
    notice_items: [
        "when you connect and disconnect, and a regular presence signal from your device;",
        "the IP address of your connection and your browser (its “user agent”);",
        "presence signals: session tab visible or not, window in front or not, camera and microphone on or off;",
        "every minute, the quality of your connection (delay, losses, throughput), for the facilitators and to explain a drop-out;",
        "your sign-ins (online signatures, with the drawing if you sign by hand);",
        "your agreements and refusals (recording, sharing with the sponsor);",
        "the difficulties you report and the organisation’s answers.",
    ],
    notice_never: "Never the content of what is said, nor images, nor sound. The session is never recorded without the explicit agreement of everyone present; when it is, this shows at the top of everyone’s screen.",
    route_peer: "Images and sound go directly from one person to another: they do not pass through the organisation’s server.",
    route_auto: "With two people, images and sound go directly from one to the other. From the third person on, the session passes through the organisation’s server, which relays images and sound to everyone without keeping them; the change shows on screen and is written in the session’s log.",
    route_forwarded: "The session passes through the organisation’s server: it relays images and sound to everyone, without keeping them.",
    kept_for: "{years} years after the end of the course, as funders require for supporting documents. Session recordings, if any, are deleted after {days} days.",
    rights_contact: "To see, correct or erase what concerns you, or to object, write to: {contact}. You may also complain to the CNIL.",
    rights_organisation: "To see, correct or erase what concerns you, or to object, write to {organisation}. You may also complain to the CNIL.",
    attached: "The invitation is attached for your calendar (invitation.ics).",
};

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn session() -> Session {
        Session {
            id: "s_1".into(),
            title: "Gestion <de> projet & co".into(),
            kind: cadre_protocol::SessionKind::Formation,
            organisation: "Organisme".into(),
            planned_start: Utc.with_ymd_and_hms(2026, 12, 10, 8, 0, 0).unwrap(),
            planned_end: Utc.with_ymd_and_hms(2026, 12, 10, 11, 0, 0).unwrap(),
            time_zone: chrono_tz::Europe::Paris,
            sponsor: None,
            state: SessionState::Scheduled,
            created_at: Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap(),
            media: None,
            cancelled: false,
        }
    }

    fn content<'a>(s: &'a Session, notice: &'a EvidenceNotice) -> Content<'a> {
        Content {
            kind: MailKind::Invitation,
            name: "Karim",
            session: s,
            join_url: "https://v.example/j/T?a=1&b=2",
            check_url: "https://v.example/e/T",
            notice,
            reason: None,
            slot: None,
        }
    }

    #[test]
    fn dates_are_in_the_session_zone_and_named() {
        let s = session();
        assert_eq!(
            span(UiLang::Fr, &s),
            "jeudi 10 décembre 2026, de 09:00 à 12:00 (heure de Europe/Paris, UTC+01:00)"
        );
        assert_eq!(
            span(UiLang::En, &s),
            "Thursday 10 December 2026, 09:00 to 12:00 (Europe/Paris time, UTC+01:00)"
        );
        let mut ny = s.clone();
        ny.time_zone = chrono_tz::America::New_York;
        assert!(
            span(UiLang::Fr, &ny)
                .contains("de 03:00 à 06:00 (heure de America/New_York, UTC-05:00)")
        );
    }

    #[test]
    fn the_html_escapes_every_value_and_the_text_keeps_them() {
        let s = session();
        let notice = EvidenceNotice {
            evidence_kept_years: 3,
            recording_retention_days: 30,
            contact: Some("dpo@example.org".into()),
            media: MediaMode::Peer,
        };
        let t = texts(UiLang::Fr, &content(&s, &notice));
        assert!(
            t.subject
                .starts_with("Invitation : Gestion <de> projet & co — jeudi")
        );
        assert!(t.text.contains("https://v.example/j/T?a=1&b=2\n"));
        assert!(t.html.contains("Gestion &lt;de&gt; projet &amp; co"));
        assert!(
            t.html
                .contains("href=\"https://v.example/j/T?a=1&amp;b=2\"")
        );
        assert!(!t.html.contains("<de>"));
        assert!(t.text.contains("écrivez à : dpo@example.org"));
        assert!(t.text.contains("3 ans après la fin de l’action"));
        let en = texts(UiLang::En, &content(&s, &notice));
        assert!(en.subject.starts_with("Invitation: Gestion"));
        assert!(en.text.contains("Hello Karim,"));
    }

    /// The mail's notice says what the lobby says, word for word.
    #[test]
    fn the_notice_is_the_lobby_text() {
        let i18n = include_str!("../../../client-web/i18n.js");
        for w in [&FR, &EN] {
            let mut sentences = vec![
                w.notice_title,
                w.notice_why,
                w.notice_never,
                w.route_peer,
                w.route_auto,
                w.route_forwarded,
                w.kept_for,
                w.rights_contact,
                w.rights_organisation,
            ];
            sentences.extend(w.notice_items);
            for s in sentences {
                assert!(i18n.contains(&format!("\"{s}\"")), "not in i18n.js: {s}");
            }
        }
    }
}
