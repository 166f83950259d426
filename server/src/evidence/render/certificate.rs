//! The *relevé de présence*: one person in one session, in detail, A4
//! portrait. It goes to the person, their facilitator and the organiser,
//! never to a funder (the *certificat de réalisation*, per action, is the
//! funder's document): it states the session's suspensions, postponements
//! and end with their reasons, as everyone was told them live, and the
//! person's own removal, never anyone else's. The technical details an
//! auditor checks (fingerprint, key, ledger state, how to verify) are in
//! an annex at the end, kept in one piece, so the last page always
//! carries it rather than a stray line.

use cadre_protocol::attendance::{
    Conditions, ConsentDecision, DecisionEffect, Interval, RecordedSegment, decision_effects,
};
use cadre_protocol::evidence::{ACTOR_ORGANISER, ACTOR_SERVER, kind};
use cadre_protocol::proof::ControlEvent;
use chrono_tz::Tz;

use super::labels::{self, Labels, day, hm_opt, local, moment, slot_parts, span, time_span};
use super::layout::{
    A4, ACCENT, Align, BOX_FILL, Cell, CellLine, Column, Flow, INK, LEADING, MUTED, Op, Row,
    TOTAL_FILL, TableStyle,
};
use super::pdf::{self, Meta};
use super::text::{FontSet, Line, Weight};
use super::{Certificate, Lang, RenderError};

const MARGIN: f32 = 50.0;
/// Above the first line: a little less than the side margins, so that a
/// one-day record and its annex share one page.
const TOP: f32 = 40.0;
const FOOTER: f32 = 28.0;
const LABEL_WIDTH: f32 = 128.0;

pub(crate) fn render(
    fonts: &FontSet,
    c: &Certificate,
    compress: bool,
) -> Result<Vec<u8>, RenderError> {
    let (pages, missing) = layout(fonts, c)?;
    let l = c.lang.labels();
    pdf::write(
        fonts,
        &pages,
        &Meta {
            title: format!("{} — {}", l.certificate_title, c.person_name),
            language: c.lang.tag(),
            size: A4,
            created_at: c.generated_at,
            archival: !missing,
            compress,
        },
    )
}

/// The pages' display lists, and whether a character had no glyph.
///
/// When the annex does not fit under the rest, it would open a last page
/// of its own, a quarter full: the course of the session then moves to
/// that page too, so the last page carries the course, the consents and
/// the annex.
pub(crate) fn layout(
    fonts: &FontSet,
    c: &Certificate,
) -> Result<(Vec<Vec<Op>>, bool), RenderError> {
    let (pages, missing, annex_alone) = layout_with(fonts, c, false)?;
    if !annex_alone {
        return Ok((pages, missing));
    }
    let (pages, missing, _) = layout_with(fonts, c, true)?;
    Ok((pages, missing))
}

/// [`layout`], the course starting a page when `course_on_new_page`; also
/// says whether the annex had to start a page.
fn layout_with(
    fonts: &FontSet,
    c: &Certificate,
    course_on_new_page: bool,
) -> Result<(Vec<Vec<Op>>, bool, bool), RenderError> {
    let tz = labels::zone(&c.session.time_zone)?;
    let lang = c.lang;
    let l = lang.labels();
    let mut f = Flow::new(fonts, A4, MARGIN, TOP, A4.1 - MARGIN - FOOTER);

    // Organisation.
    f.paragraph(&c.organisation.name, Weight::Bold, 11.0, INK);
    for line in &c.organisation.details {
        f.paragraph(line, Weight::Regular, 8.5, MUTED);
    }
    f.space(12.0);

    // Title.
    f.paragraph(l.certificate_title, Weight::Bold, 21.0, ACCENT);
    f.paragraph(l.certificate_subtitle, Weight::Regular, 12.5, MUTED);
    f.space(6.0);
    f.rule(ACCENT, 1.2);
    f.space(8.0);
    f.paragraph(
        &l.statement.replace("{org}", &c.organisation.name),
        Weight::Regular,
        9.0,
        INK,
    );
    f.space(8.0);

    // Who and what.
    let name = fonts.wrapped(&c.person_name, Weight::Bold, 12.5, f.width() - LABEL_WIDTH);
    kv(&mut f, l.person, name);
    let value =
        |f: &Flow<'_>, s: &str| fonts.wrapped(s, Weight::Regular, 10.0, f.width() - LABEL_WIDTH);
    let role = value(&f, lang.role(c.person_role, c.session.kind));
    kv(&mut f, l.role, role);
    let title = fonts.wrapped(
        &c.session.title,
        Weight::Bold,
        10.0,
        f.width() - LABEL_WIDTH,
    );
    kv(&mut f, l.action, title);
    let nature = value(&f, lang.kind(c.session.kind));
    kv(&mut f, l.nature, nature);
    let modality = value(&f, l.modality_value);
    kv(&mut f, l.modality, modality);
    let dates = value(
        &f,
        &span(lang, tz, c.session.planned_start, c.session.planned_end),
    );
    kv(&mut f, l.dates, dates);
    let planned = value(&f, &lang.duration(c.attendance.totals.planned_seconds));
    kv(&mut f, l.planned_duration, planned);
    let reference = value(&f, &c.session.id);
    kv(&mut f, l.session_ref, reference);

    // Per half-day.
    f.space(10.0);
    heading(&mut f, l.per_half_day);
    half_days(&mut f, c, tz);
    f.space(4.0);
    let legend = l.legend.replace("{tz}", tz.name());
    f.paragraph(&legend, Weight::Regular, 7.5, MUTED);

    // Course of the session, and the person's connection conditions.
    if course_on_new_page {
        f.new_page();
    } else {
        f.space(6.0);
    }
    heading(&mut f, l.course);
    let events = control_lines(c, tz);
    if events.is_empty() {
        f.paragraph(l.no_control_event, Weight::Regular, 9.0, INK);
    } else {
        bullets(&mut f, &events);
    }
    f.space(1.0);
    let conditions = format!(
        "{}{}{}",
        l.conditions,
        colon(lang),
        conditions_text(lang, &c.conditions)
    );
    f.paragraph(&conditions, Weight::Regular, 9.0, INK);
    if let Some(q) = c.quizzes {
        let quizzes = format!("{}{}{}/{}", l.quizzes, colon(lang), q.completed, q.opened);
        f.paragraph(&quizzes, Weight::Regular, 9.0, INK);
    }

    // Consents and recordings.
    f.space(6.0);
    heading(&mut f, l.consents_recordings);
    consents_recordings(&mut f, c, tz);

    // For the auditor, apart.
    f.space(8.0);
    let annex_alone = annex(&mut f, c, tz, l);

    let total = f.pages.len();
    let missing = f.missing;
    let footer_text = format!(
        "{} — {} — {} {}",
        l.certificate_title,
        c.person_name,
        l.generated,
        moment(lang, tz, c.generated_at)
    );
    let mut pages = f.pages;
    for (i, page) in pages.iter_mut().enumerate() {
        footer(fonts, page, &footer_text, l, i, total);
    }
    Ok((pages, missing, annex_alone))
}

/// One bulleted, wrapped line per item.
fn bullets(f: &mut Flow<'_>, items: &[String]) {
    let fonts = f.fonts;
    let indent = 12.0;
    for s in items {
        let lines = fonts.wrapped(s, Weight::Regular, 9.0, f.width() - indent);
        let h = 9.0 * LEADING;
        f.ensure(h);
        let top = f.y;
        let bullet = fonts.line("•", Weight::Regular, 9.0);
        f.text_at(f.left + 2.0, top, bullet, INK);
        let x = f.left + indent;
        f.lines_flow(lines, x, INK);
    }
}

/// One line per state change, removal or re-admission, in log order:
/// "3 décembre 2026, 10:40 — séance suspendue par Jean Dupont : coupure
/// réseau"; the date is repeated only when it changes; a postponement
/// ends with its new dates. Server runs and recording being armed are left
/// out (the proof lists them).
fn control_lines(c: &Certificate, tz: Tz) -> Vec<String> {
    let lang = c.lang;
    let l = lang.labels();
    let mut last_day = None;
    c.control
        .iter()
        .filter_map(|e| {
            let what = match e.kind.as_str() {
                kind::SESSION_STATE => state_change(lang, e),
                kind::REMOVED => l.removed.to_owned(),
                kind::READMITTED => l.readmitted.to_owned(),
                _ => return None,
            };
            let when = match local(tz, e.ts) {
                Some(t) if last_day == Some(t.date_naive()) => labels::hm(&t),
                Some(t) => {
                    last_day = Some(t.date_naive());
                    format!("{}, {}", lang.date(t.date_naive()), labels::hm(&t))
                }
                None => "—".to_owned(),
            };
            let mut line = format!("{when} — {what}");
            if let Some(by) = &e.by {
                let who = match by.as_str() {
                    ACTOR_SERVER => l.by_server,
                    ACTOR_ORGANISER => l.by_organiser,
                    id => c.actors.get(id).map_or(l.by_facilitator, String::as_str),
                };
                line.push_str(&format!(" {} {who}", l.by));
            }
            if let Some(reason) = e.reason.as_deref().filter(|r| !r.trim().is_empty()) {
                line.push_str(colon(lang));
                line.push_str(reason);
            }
            let window = |s: &Option<String>| {
                s.as_deref()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.timestamp_millis())
            };
            if let (Some(start), Some(end)) = (window(&e.planned_start), window(&e.planned_end)) {
                line.push_str(&format!(
                    " — {}{}{}",
                    l.new_dates,
                    colon(lang),
                    span(lang, tz, start, end)
                ));
            }
            Some(line)
        })
        .collect()
}

/// A `session_state` event in words: by its action, else (older entries)
/// by the state it led to.
fn state_change(lang: Lang, e: &ControlEvent) -> String {
    let l = lang.labels();
    let (from, to) = (e.from.as_deref(), e.to.as_deref());
    let action = match (e.action.as_deref(), from, to) {
        (Some(a), _, _) => a,
        (None, _, Some("suspended")) => "suspend",
        (None, _, Some("postponed")) => "postpone",
        (None, _, Some("ended")) => "end",
        (None, Some("suspended"), _) => "resume",
        _ => "",
    };
    match action {
        "suspend" => l.state_suspended.to_owned(),
        "resume" => l.state_resumed.to_owned(),
        "postpone" => l.state_postponed.to_owned(),
        "end" => l.state_ended.to_owned(),
        "start" => l.state_started.to_owned(),
        _ => l
            .state_changed
            .replace("{from}", from.unwrap_or("?"))
            .replace("{to}", to.unwrap_or("?")),
    }
}

/// "42 min suivies — 35 excellentes, 5 bonnes, 2 médiocres" (zero counts
/// left out); "non mesurées" without any minute.
fn conditions_text(lang: Lang, c: &Conditions) -> String {
    let l = lang.labels();
    if c.minutes == 0 {
        return l.not_measured.to_owned();
    }
    let b = &c.by_score;
    let parts: Vec<String> = [b.excellent, b.good, b.poor, b.lost]
        .into_iter()
        .zip(l.scores)
        .filter(|(n, _)| *n > 0)
        .map(|(n, (one, many))| format!("{n} {}", if n == 1 { one } else { many }))
        .collect();
    format!(
        "{} — {}",
        l.minutes_measured.replace("{n}", &c.minutes.to_string()),
        parts.join(", ")
    )
}

/// ": ", with the narrow no-break space French puts before it.
fn colon(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "\u{202F}: ",
        Lang::En => ": ",
    }
}

/// The person's consent decisions, one line per consent, then the
/// recording segments they appear in, one line each; one line saying so
/// when there is neither. Times are local, as everywhere in the document.
fn consents_recordings(f: &mut Flow<'_>, c: &Certificate, tz: Tz) {
    let lang = c.lang;
    let l = lang.labels();
    if c.consents.is_empty() && c.recordings.is_empty() {
        f.paragraph(l.no_consent_no_recording, Weight::Regular, 9.0, INK);
        return;
    }
    let decisions = consent_lines(lang, tz, &c.consents);
    if decisions.is_empty() {
        f.paragraph(l.no_consent, Weight::Regular, 9.0, INK);
    } else {
        bullets(f, &decisions);
    }
    f.space(3.0);
    let segments: Vec<String> = c
        .recordings
        .iter()
        .map(|s| segment_line(lang, tz, s))
        .collect();
    if segments.is_empty() {
        f.paragraph(l.no_recording, Weight::Regular, 9.0, INK);
    } else {
        bullets(f, &segments);
    }
}

/// One line per consent, its decisions in log order: "Enregistrement de la
/// séance : accordé le 3 décembre 2026 à 09:01, retiré à 10:15" (the date
/// is repeated only when it changes).
fn consent_lines(lang: Lang, tz: Tz, consents: &[ConsentDecision]) -> Vec<String> {
    let l = lang.labels();
    let mut groups: Vec<(&str, Vec<(i64, DecisionEffect)>)> = Vec::new();
    for (d, effect) in consents.iter().zip(decision_effects(consents)) {
        match groups.iter_mut().find(|(c, _)| *c == d.consent) {
            Some((_, decisions)) => decisions.push((d.ts, effect)),
            None => groups.push((&d.consent, vec![(d.ts, effect)])),
        }
    }
    groups
        .into_iter()
        .map(|(consent, decisions)| {
            let mut last_day = None;
            let parts: Vec<String> = decisions
                .into_iter()
                .map(|(ts, effect)| {
                    let when = match local(tz, ts) {
                        Some(t) if last_day == Some(t.date_naive()) => {
                            format!("{} {}", l.at, labels::hm(&t))
                        }
                        Some(t) => {
                            last_day = Some(t.date_naive());
                            format!(
                                "{} {} {} {}",
                                l.on,
                                lang.date(t.date_naive()),
                                l.at,
                                labels::hm(&t)
                            )
                        }
                        None => "—".to_owned(),
                    };
                    format!("{} {when}", lang.effect(effect))
                })
                .collect();
            format!(
                "{}{}{}",
                lang.consent(consent),
                colon(lang),
                parts.join(", ")
            )
        })
        .collect()
}

/// "Enregistrement n° 1 — 3 décembre 2026, 09:30–10:15 (arrêt : accord
/// retiré) — audio, vidéo — fichiers supprimés le 2 janvier 2027".
fn segment_line(lang: Lang, tz: Tz, s: &RecordedSegment) -> String {
    let l = lang.labels();
    let mut line = format!(
        "{} — {}",
        l.segment.replace("{n}", &s.segment.to_string()),
        time_span(lang, tz, s.started_at, s.closed_at)
    );
    match (s.closed_at, &s.reason) {
        (None, _) => line.push_str(&format!(" ({})", l.running)),
        (Some(_), Some(reason)) => line.push_str(&format!(
            " ({}{}{})",
            l.stopped,
            colon(lang),
            lang.stop_reason(reason)
        )),
        (Some(_), None) => {}
    }
    let mut tracks: Vec<&str> = Vec::new();
    for f in &s.files {
        let track = lang.track(&f.track);
        if !tracks.contains(&track) {
            tracks.push(track);
        }
    }
    line.push_str(" — ");
    if tracks.is_empty() {
        line.push_str(l.no_track);
    } else {
        line.push_str(&tracks.join(", "));
    }
    if let Some(purged) = s.purged_at {
        line.push_str(" — ");
        line.push_str(&l.purged.replace("{date}", &day(lang, tz, purged)));
    } else if s.closed_at.is_some() && !s.files.is_empty() {
        line.push_str(" — ");
        line.push_str(l.kept);
    }
    line
}

/// A label on the left, value lines on the right.
fn kv(f: &mut Flow<'_>, label: &str, value: Vec<Line>) {
    let h: f32 = value.iter().map(|v| v.size * LEADING).sum::<f32>() + 2.0;
    f.ensure(h);
    let top = f.y;
    let first = value.first().map(|v| v.size).unwrap_or(10.0);
    let label_size = 8.5;
    let label = f
        .fonts
        .truncated(label, Weight::Regular, label_size, LABEL_WIDTH - 8.0);
    // Same baseline as the value's first line.
    let label_top =
        top + super::layout::baseline_offset(first) - super::layout::baseline_offset(label_size);
    f.text_at(f.left, label_top, label, MUTED);
    let x = f.left + LABEL_WIDTH;
    f.lines_flow(value, x, INK);
    f.space(2.0);
}

fn heading(f: &mut Flow<'_>, text: &str) {
    // Keep a heading with what follows it.
    f.ensure(11.0 * LEADING + 40.0);
    f.paragraph(text, Weight::Bold, 11.0, ACCENT);
    f.space(4.0);
}

fn half_days(f: &mut Flow<'_>, c: &Certificate, tz: Tz) {
    let lang = c.lang;
    let l = lang.labels();
    let fonts = f.fonts;
    let style = TableStyle {
        header_size: 7.5,
        pad_x: 4.0,
        pad_y: 4.0,
        min_row: 20.0,
        border: 0.5,
    };
    let size = 8.5;
    // Figures first: their columns take the width of their widest header
    // word or value; the half-day and the connections share the rest.
    let figures: Vec<[String; 5]> = c
        .attendance
        .half_days
        .iter()
        .map(|hd| {
            let when = |ms: Option<i64>| match (
                ms.and_then(|m| local(tz, m)),
                local(tz, hd.planned_start),
            ) {
                (Some(t), Some(p)) if t.date_naive() != p.date_naive() => {
                    format!("{} {}", lang.date(t.date_naive()), labels::hm(&t))
                }
                _ => hm_opt(tz, ms),
            };
            [
                lang.duration(hd.connected_seconds),
                lang.duration(hd.present_seconds),
                lang.percent(hd.completion),
                when(hd.signed_in_at),
                when(hd.countersigned_at),
            ]
        })
        .collect();
    let t = &c.attendance.totals;
    let totals = [
        lang.duration(t.connected_seconds),
        lang.duration(t.present_seconds),
        lang.percent(t.completion),
    ];
    let titles = [
        l.connected,
        l.present,
        l.completion,
        l.signed_in,
        l.countersigned,
    ];
    let mut widths: Vec<f32> = titles
        .iter()
        .map(|t| {
            t.split_whitespace()
                .map(|w| fonts.width(w, Weight::Bold, style.header_size))
                .fold(0.0, f32::max)
        })
        .collect();
    for row in &figures {
        for (i, v) in row.iter().enumerate() {
            widths[i] = widths[i].max(fonts.width(v, Weight::Bold, size));
        }
    }
    for (i, v) in totals.iter().enumerate() {
        widths[i] = widths[i].max(fonts.width(v, Weight::Bold, size));
    }
    let widths: Vec<f32> = widths
        .into_iter()
        .map(|w| w + 2.0 * style.pad_x + 2.0)
        .collect();
    let rest = (f.width() - widths.iter().sum::<f32>()).max(160.0);
    // A half-day is its date, then its half and planned times, smaller:
    // each on one line if it can, within 55 % of what is left.
    let half_days: Vec<(String, String)> = c
        .attendance
        .half_days
        .iter()
        .map(|hd| {
            let (date, half) = slot_parts(lang, &hd.slot);
            let planned = format!(
                "{} {}–{}",
                l.planned,
                hm_opt(tz, Some(hd.planned_start)),
                hm_opt(tz, Some(hd.planned_end))
            );
            let second = match half {
                Some(half) => format!("{half}, {planned}"),
                None => planned,
            };
            (date, second)
        })
        .collect();
    let half_day_width = half_days
        .iter()
        .map(|(date, second)| {
            fonts
                .width(date, Weight::Regular, size)
                .max(fonts.width(second, Weight::Regular, 7.5))
        })
        .fold(0.0, f32::max)
        + 2.0 * style.pad_x
        + 2.0;
    let half_day_width = half_day_width.clamp(rest * 0.4, rest * 0.55);
    let mut columns = vec![
        Column {
            title: l.half_day.to_owned(),
            width: half_day_width,
            align: Align::Left,
        },
        Column {
            title: l.connections.to_owned(),
            width: rest - half_day_width,
            align: Align::Left,
        },
    ];
    let aligns = [
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Center,
        Align::Center,
    ];
    columns.extend(
        titles
            .iter()
            .zip(&widths)
            .zip(aligns)
            .map(|((title, width), align)| Column {
                title: (*title).to_owned(),
                width: *width,
                align,
            }),
    );
    let inner = |i: usize| columns[i].width - 2.0 * style.pad_x;
    let text = |s: &str, i: usize, weight: Weight, color| {
        Cell::Lines(
            fonts
                .wrapped(s, weight, size, inner(i))
                .into_iter()
                .map(|line| CellLine { line, color })
                .collect(),
        )
    };
    let mut rows = Vec::new();
    for (n, hd) in c.attendance.half_days.iter().enumerate() {
        let (date, second) = &half_days[n];
        let first: Vec<CellLine> = fonts
            .wrapped(date, Weight::Regular, size, inner(0))
            .into_iter()
            .map(|line| CellLine { line, color: INK })
            .chain(
                fonts
                    .wrapped(second, Weight::Regular, 7.5, inner(0))
                    .into_iter()
                    .map(|line| CellLine { line, color: MUTED }),
            )
            .collect();
        let intervals = intervals_text(lang, tz, &hd.intervals);
        let [connected, present, completion, signed, countersigned] = &figures[n];
        rows.push(Row {
            cells: vec![
                Cell::Lines(first),
                text(&intervals, 1, Weight::Regular, INK),
                text(connected, 2, Weight::Regular, INK),
                text(present, 3, Weight::Regular, INK),
                text(completion, 4, Weight::Bold, INK),
                text(signed, 5, Weight::Regular, INK),
                text(countersigned, 6, Weight::Regular, INK),
            ],
            fill: None,
        });
    }
    let mut total_first = vec![CellLine {
        line: fonts.truncated(l.total, Weight::Bold, size, inner(0)),
        color: INK,
    }];
    total_first.push(CellLine {
        line: fonts.truncated(
            &format!("{} {}", l.planned, lang.duration(t.planned_seconds)),
            Weight::Regular,
            7.5,
            inner(0),
        ),
        color: MUTED,
    });
    rows.push(Row {
        cells: vec![
            Cell::Lines(total_first),
            Cell::Lines(Vec::new()),
            text(&totals[0], 2, Weight::Bold, INK),
            text(&totals[1], 3, Weight::Bold, INK),
            text(&totals[2], 4, Weight::Bold, INK),
            Cell::Lines(Vec::new()),
            Cell::Lines(Vec::new()),
        ],
        fill: Some(TOTAL_FILL),
    });
    let continued = format!("{} ({})", l.per_half_day, l.continued);
    f.table(&columns, rows, &style, &mut |f| {
        f.paragraph(&continued, Weight::Bold, 9.0, MUTED);
        f.space(2.0);
    });
}

/// Intervals at most a dozen: past that (a flaky network), the first and
/// last five around the count, so a row never outgrows a page. The proof
/// holds them all.
const MAX_INTERVALS: usize = 12;

fn intervals_text(lang: Lang, tz: Tz, intervals: &[Interval]) -> String {
    let one = |i: &Interval| format!("{}–{}", hm_opt(tz, Some(i.start)), hm_opt(tz, Some(i.end)));
    let list = |is: &[Interval]| is.iter().map(one).collect::<Vec<_>>().join(", ");
    match intervals.len() {
        0 => "—".to_owned(),
        n if n <= MAX_INTERVALS => list(intervals),
        n => format!(
            "{} … {} … {}",
            list(&intervals[..5]),
            lang.labels().intervals_count.replace("{n}", &n.to_string()),
            list(&intervals[n - 5..])
        ),
    }
}

/// The annex for the auditor: a heading set apart by a rule, what the
/// file is, then a box with the fingerprint, the key, the ledger's state
/// and the steps to verify. Kept in one piece: it is small enough to end
/// a one-day record's page, and on a page of its own it is never a stray
/// line.
/// True when it had to start a page.
fn annex(f: &mut Flow<'_>, c: &Certificate, tz: Tz, l: &Labels) -> bool {
    let fonts = f.fonts;
    let pad = 8.0;
    let width = f.width();
    let inner = width - 2.0 * pad;
    let sep = colon(c.lang);
    let intro = fonts.wrapped(
        &l.annex_intro.replace("{org}", &c.organisation.name),
        Weight::Regular,
        8.0,
        width,
    );
    let small = |text: &str| fonts.wrapped(text, Weight::Regular, 8.0, inner);
    let fingerprint_label = fonts.wrapped(l.fingerprint, Weight::Regular, 7.5, inner);
    let hash = fonts.wrapped(&c.proof_sha256, Weight::Bold, 9.5, inner);
    let issued = small(&format!(
        "{} {} · {}{sep}{}",
        l.issued,
        moment(c.lang, tz, c.issued_at),
        l.key,
        c.key_id
    ));
    let ledger = small(&format!(
        "{}{sep}{}",
        l.ledger,
        l.annex_ledger
            .replace("{n}", &c.tree_size.to_string())
            .replace("{root}", &c.tree_root)
    ));
    let steps: Vec<Vec<Line>> = std::iter::once(format!("{}{sep}", l.annex_how))
        .chain(l.verify.iter().map(|step| {
            step.replace("{kid}", &c.key_id)
                .replace("{jwks}", &c.jwks_url)
        }))
        .map(|text| small(&text))
        .collect();
    let height = |lines: &[Line]| lines.iter().map(|x| x.size * LEADING).sum::<f32>();
    let box_h = pad
        + height(&fingerprint_label)
        + height(&hash)
        + height(&issued)
        + 4.0
        + height(&ledger)
        + 4.0
        + steps.iter().map(|s| height(s)).sum::<f32>()
        + pad;
    let title_h = 4.0 + 11.0 * LEADING + 1.0;
    let alone = f.ensure(title_h + height(&intro) + 4.0 + box_h);
    f.rule(ACCENT, 1.0);
    f.space(4.0);
    f.paragraph(l.annex_title, Weight::Bold, 11.0, ACCENT);
    f.space(1.0);
    let x = f.left;
    f.lines_flow(intro, x, MUTED);
    f.space(4.0);
    let top = f.y;
    f.push(Op::Rect {
        x: f.left,
        y: top,
        w: width,
        h: box_h,
        fill: Some(BOX_FILL),
        stroke: None,
    });
    f.push(Op::Rect {
        x: f.left,
        y: top,
        w: 3.0,
        h: box_h,
        fill: Some(ACCENT),
        stroke: None,
    });
    f.y = top + pad;
    let x = f.left + pad;
    f.lines_flow(fingerprint_label, x, MUTED);
    f.lines_flow(hash, x, INK);
    f.lines_flow(issued, x, MUTED);
    f.space(4.0);
    f.lines_flow(ledger, x, INK);
    f.space(4.0);
    for step in steps {
        f.lines_flow(step, x, INK);
    }
    f.y = top + box_h;
    alone
}

fn footer(fonts: &FontSet, page: &mut Vec<Op>, text: &str, l: &Labels, i: usize, total: usize) {
    let y = A4.1 - MARGIN - FOOTER + 10.0;
    let (left, right) = (MARGIN, A4.0 - MARGIN);
    page.push(Op::Lines {
        paths: vec![vec![(left, y), (right, y)]],
        color: super::layout::RULE,
        width: 0.5,
    });
    let number = fonts.line(
        &format!("{} {}/{}", l.page, i + 1, total),
        Weight::Regular,
        7.5,
    );
    let text = fonts.truncated(
        text,
        Weight::Regular,
        7.5,
        right - left - number.width - 20.0,
    );
    let baseline = y + 4.0 + super::layout::baseline_offset(7.5);
    page.push(Op::Text {
        x: right - number.width,
        y: baseline,
        line: number,
        color: MUTED,
    });
    page.push(Op::Text {
        x: left,
        y: baseline,
        line: text,
        color: MUTED,
    });
}
