//! The attendance sheet as a CSV that a spreadsheet in France opens right
//! (the default of `attendance.csv`; `?format=rfc4180` keeps the machine
//! variant, [`AttendanceSheet::to_csv`]).
//!
//! French Excel splits a CSV on `;` only, reads `2,5` as a number and turns
//! anything that looks like a date or a time (`03/12/2026`, `2026-12-03`,
//! `09:02`, `1/2`) into a date serial, losing the text. So: `;` between
//! fields, a byte order mark (accents), durations in decimal hours and the
//! completion in percent with a decimal comma (numbers, so they add up),
//! and dates and times written the way French prose writes them
//! ("jeudi 3 décembre 2026", "09 h 02"), which Excel leaves as text. One
//! header row, then one row per person per half-day: nothing but rows, so
//! a filter or a pivot table works on it directly.

use cadre_protocol::proof::{AttendanceSheet, push_record_with};
use chrono_tz::Tz;

use super::labels::{self, local, parse_slot};
use super::{Lang, RenderError};

/// The header, per language.
pub(crate) fn header(lang: Lang) -> [&'static str; 11] {
    match lang {
        Lang::Fr => [
            "Nom",
            "Qualité",
            "Date",
            "Demi-journée",
            "Première connexion",
            "Dernière déconnexion",
            "Temps connecté (heures)",
            "Temps présent (heures)",
            "Émargement",
            "Contreseing",
            "Réalisation (%)",
        ],
        Lang::En => [
            "Name",
            "Role",
            "Date",
            "Half-day",
            "First connection",
            "Last disconnection",
            "Time connected (hours)",
            "Time present (hours)",
            "Sign-in",
            "Countersignature",
            "Completion (%)",
        ],
    }
}

/// The sheet for a spreadsheet: see the module's documentation.
pub fn sheet_csv(sheet: &AttendanceSheet, lang: Lang) -> Result<String, RenderError> {
    let tz = labels::zone(&sheet.session.time_zone)?;
    let mut out = String::from('\u{feff}');
    record(&mut out, header(lang).iter().map(|s| (*s).to_owned()));
    for r in &sheet.rows {
        let Some(slot) = &r.half_day else {
            // Totals are the spreadsheet's job: a sum over the rows.
            continue;
        };
        let (date, half) = match parse_slot(slot) {
            Some((date, pm)) => (lang.date_long(date), lang.half(pm).to_owned()),
            None => (slot.clone(), String::new()),
        };
        let day = parse_slot(slot).map(|(d, _)| d);
        let time = |ms: Option<i64>| clock(lang, tz, ms, day);
        record(
            &mut out,
            [
                r.name.clone(),
                lang.role(r.role, sheet.session.kind).to_owned(),
                date,
                half,
                time(r.first_join),
                time(r.last_leave),
                hours(r.connected_seconds),
                hours(r.present_seconds),
                time(r.signed_in_at),
                time(r.countersigned_at),
                decimal(r.completion * 100.0),
            ]
            .into_iter(),
        );
    }
    Ok(out)
}

/// "09 h 02"; with its date when it is not the half-day's own
/// ("vendredi 4 décembre 2026, 09 h 02"); empty when absent.
fn clock(lang: Lang, tz: Tz, ms: Option<i64>, day: Option<chrono::NaiveDate>) -> String {
    use chrono::Timelike;
    let Some(t) = ms.and_then(|ms| local(tz, ms)) else {
        return String::new();
    };
    // The French way in both languages: "09:02" would become a time value,
    // "09.02" a number.
    let hm = format!("{:02} h {:02}", t.hour(), t.minute());
    if day == Some(t.date_naive()) {
        hm
    } else {
        format!("{}, {hm}", lang.date_long(t.date_naive()))
    }
}

/// Seconds as decimal hours, two decimals, decimal comma: "2,50".
fn hours(seconds: i64) -> String {
    decimal(seconds.max(0) as f64 / 3600.0)
}

/// Two decimals with a comma: "72,22".
fn decimal(x: f64) -> String {
    format!("{x:.2}").replace('.', ",")
}

/// One record: `;` between fields, CRLF after, quoted and defused as
/// [`push_record_with`] does.
fn record(out: &mut String, fields: impl Iterator<Item = String>) {
    push_record_with(out, ';', fields);
}
