//! The session as an iCalendar event (RFC 5545), so that people put a
//! postponed session in their calendar: one VEVENT, UTC times, the join
//! link, and a SEQUENCE that grows with each postponement so calendar
//! applications replace the old date instead of adding one.

use chrono::{DateTime, Utc};

/// What the event says.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// Stable across postponements (the session id).
    pub uid: &'a str,
    /// Title.
    pub summary: &'a str,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// The person's join link.
    pub url: &'a str,
    /// Free text (the organisation, the reason of the postponement).
    pub description: &'a str,
    /// How many times the session was moved (and once more when it was
    /// cancelled).
    pub sequence: u32,
    /// Staff cancelled the session: the event is withdrawn
    /// (STATUS:CANCELLED; by e-mail, METHOD:CANCEL).
    pub cancelled: bool,
    /// When this file is made.
    pub stamp: DateTime<Utc>,
    /// Sent by e-mail as an invitation: who invites whom (METHOD:REQUEST,
    /// so calendar applications offer to accept it and replace it when a
    /// postponement sends the same UID with a higher SEQUENCE). None: a
    /// file to download (METHOD:PUBLISH).
    pub invitation: Option<Invitation<'a>>,
}

/// The two ends of an e-mailed invitation (RFC 5546 asks a REQUEST to name
/// its organizer and attendees).
#[derive(Debug, Clone)]
pub struct Invitation<'a> {
    /// The organisation's display name.
    pub organizer_name: &'a str,
    /// The address the mail comes from.
    pub organizer_email: &'a str,
    /// The person's name.
    pub attendee_name: &'a str,
    /// The person's address.
    pub attendee_email: &'a str,
}

/// The `.ics` text, CRLF line ends, lines folded at 75 octets.
pub fn ics(e: &Event<'_>) -> String {
    let time = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let method = match (&e.invitation, e.cancelled) {
        (Some(_), true) => "METHOD:CANCEL",
        (Some(_), false) => "METHOD:REQUEST",
        (None, _) => "METHOD:PUBLISH",
    };
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//cadre//sessions//FR".to_owned(),
        method.to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@cadre", escape(e.uid)),
        format!("DTSTAMP:{}", time(e.stamp)),
        format!("DTSTART:{}", time(e.start)),
        format!("DTEND:{}", time(e.end)),
        format!("SEQUENCE:{}", e.sequence),
        format!("SUMMARY:{}", escape(e.summary)),
        format!("DESCRIPTION:{}", escape(e.description)),
        format!("URL:{}", e.url),
    ];
    if let Some(i) = &e.invitation {
        lines.push(format!(
            "ORGANIZER;CN=\"{}\":mailto:{}",
            param(i.organizer_name),
            i.organizer_email
        ));
        lines.push(format!(
            "ATTENDEE;CN=\"{}\";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=FALSE:mailto:{}",
            param(i.attendee_name),
            i.attendee_email
        ));
        if !e.cancelled {
            lines.push("STATUS:CONFIRMED".to_owned());
        }
    }
    if e.cancelled {
        lines.push("STATUS:CANCELLED".to_owned());
    }
    lines.push("END:VEVENT".to_owned());
    lines.push("END:VCALENDAR".to_owned());
    let mut out = String::new();
    for line in lines {
        fold(&line, &mut out);
    }
    out
}

/// TEXT escaping (RFC 5545 §3.3.11).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A quoted parameter value (RFC 5545 §3.2): no double quote, no control.
fn param(s: &str) -> String {
    s.chars().filter(|c| *c != '"' && !c.is_control()).collect()
}

/// Folds a content line at 75 octets without splitting a character.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_event_is_valid_ical_text() {
        let t = |h| Utc.with_ymd_and_hms(2026, 12, 10, h, 0, 0).unwrap();
        let text = ics(&Event {
            uid: "s_abc",
            summary: "Gestion de projet; module 2, reporté",
            start: t(8),
            end: t(11),
            url: "https://visio.example.org/j/token",
            description: &"é".repeat(60),
            sequence: 2,
            cancelled: false,
            stamp: t(7),
            invitation: None,
        });
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(text.contains("DTSTART:20261210T080000Z\r\n"));
        assert!(text.contains("SEQUENCE:2\r\n"));
        assert!(text.contains("SUMMARY:Gestion de projet\\; module 2\\, reporté\r\n"));
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "folded: {line:?}");
        }
        // Unfolding gives the description back whole.
        let unfolded = text.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("DESCRIPTION:{}", "é".repeat(60))));
        assert!(text.contains("METHOD:PUBLISH\r\n") && !text.contains("ATTENDEE"));
    }

    #[test]
    fn an_emailed_invitation_is_a_request_naming_both_ends() {
        let t = |h| Utc.with_ymd_and_hms(2026, 12, 10, h, 0, 0).unwrap();
        let text = ics(&Event {
            uid: "s_abc",
            summary: "Atelier",
            start: t(8),
            end: t(11),
            url: "https://visio.example.org/j/token",
            description: "Organisme",
            sequence: 1,
            cancelled: false,
            stamp: t(7),
            invitation: Some(Invitation {
                organizer_name: "Organisme \"Cadre\"",
                organizer_email: "noreply@example.org",
                attendee_name: "Karim",
                attendee_email: "karim@example.org",
            }),
        });
        let unfolded = text.replace("\r\n ", "");
        assert!(unfolded.contains("METHOD:REQUEST\r\n"));
        assert!(
            unfolded.contains("ORGANIZER;CN=\"Organisme Cadre\":mailto:noreply@example.org\r\n")
        );
        assert!(unfolded.contains(":mailto:karim@example.org\r\n"));
        assert!(unfolded.contains("SEQUENCE:1\r\n"));
    }

    #[test]
    fn a_cancellation_withdraws_the_event_it_replaces() {
        let t = |h| Utc.with_ymd_and_hms(2026, 12, 10, h, 0, 0).unwrap();
        let event = |invitation| Event {
            uid: "s_abc",
            summary: "Atelier",
            start: t(8),
            end: t(11),
            url: "https://visio.example.org/j/token",
            description: "Organisme",
            sequence: 2,
            cancelled: true,
            stamp: t(7),
            invitation,
        };
        let mailed = ics(&event(Some(Invitation {
            organizer_name: "Organisme",
            organizer_email: "noreply@example.org",
            attendee_name: "Karim",
            attendee_email: "karim@example.org",
        })));
        assert!(mailed.contains("METHOD:CANCEL\r\n"));
        assert!(mailed.contains("STATUS:CANCELLED\r\n"));
        assert!(!mailed.contains("STATUS:CONFIRMED"));
        assert!(mailed.contains("UID:s_abc@cadre\r\n") && mailed.contains("SEQUENCE:2\r\n"));
        let downloaded = ics(&event(None));
        assert!(downloaded.contains("METHOD:PUBLISH\r\n"));
        assert!(downloaded.contains("STATUS:CANCELLED\r\n"));
    }
}
