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
    /// How many times the session was moved.
    pub sequence: u32,
    /// When this file is made.
    pub stamp: DateTime<Utc>,
}

/// The `.ics` text, CRLF line ends, lines folded at 75 octets.
pub fn ics(e: &Event<'_>) -> String {
    let time = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//cadre//sessions//FR".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@cadre", escape(e.uid)),
        format!("DTSTAMP:{}", time(e.stamp)),
        format!("DTSTART:{}", time(e.start)),
        format!("DTEND:{}", time(e.end)),
        format!("SEQUENCE:{}", e.sequence),
        format!("SUMMARY:{}", escape(e.summary)),
        format!("DESCRIPTION:{}", escape(e.description)),
        format!("URL:{}", e.url),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
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
            stamp: t(7),
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
    }
}
