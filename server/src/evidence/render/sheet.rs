//! The *feuille d'émargement*: the whole session, A4 landscape, one table
//! per half-day.

use std::collections::BTreeSet;

use cadre_protocol::Role;
use cadre_protocol::attendance::HalfDay;
use chrono_tz::Tz;

use super::labels::{self, Labels, hm_opt, local, moment, slot_title, span};
use super::layout::{
    A4_LANDSCAPE, ACCENT, Align, Cell, CellLine, Column, Flow, INK, LEADING, MUTED, Op, RULE, Rgb,
    Row, TableStyle, baseline_offset,
};
use super::pdf::{self, Meta};
use super::text::{FontSet, Weight};
use super::{Lang, Picture, RenderError, Sheet, SheetPerson, SheetStamp};
use cadre_protocol::proof::ControlEvent;

const MARGIN: f32 = 36.0;
const TOP: f32 = 28.0;
const HEADER: f32 = 24.0;
const FOOTER: f32 = 34.0;
const LABEL_WIDTH: f32 = 120.0;
const STRIPE: Rgb = Rgb(0xf7, 0xf9, 0xfb);
/// Cell text size.
const SIZE: f32 = 8.0;

pub(crate) fn render(fonts: &FontSet, s: &Sheet, compress: bool) -> Result<Vec<u8>, RenderError> {
    let (pages, missing) = layout(fonts, s)?;
    let l = s.lang.labels();
    pdf::write(
        fonts,
        &pages,
        &Meta {
            title: format!("{} — {}", l.sheet_title, s.session.title),
            language: s.lang.tag(),
            size: A4_LANDSCAPE,
            created_at: s.generated_at,
            archival: !missing,
            compress,
        },
    )
}

/// The slots to print: the caller's, or those found in the attendance.
fn slots(s: &Sheet) -> Vec<String> {
    if !s.slots.is_empty() {
        return s.slots.clone();
    }
    let found: BTreeSet<&str> = s
        .people
        .iter()
        .flat_map(|p| p.attendance.half_days.iter().map(|h| h.slot.as_str()))
        .collect();
    found.into_iter().map(str::to_owned).collect()
}

pub(crate) fn layout(fonts: &FontSet, s: &Sheet) -> Result<(Vec<Vec<Op>>, bool), RenderError> {
    let tz = labels::zone(&s.session.time_zone)?;
    let lang = s.lang;
    let l = lang.labels();
    let size = A4_LANDSCAPE;
    let mut f = Flow::new(fonts, size, MARGIN, TOP + HEADER, size.1 - TOP - FOOTER);

    // Title and the session.
    f.paragraph(l.sheet_title, Weight::Bold, 18.0, ACCENT);
    f.paragraph(l.sheet_subtitle, Weight::Regular, 10.0, MUTED);
    f.space(8.0);
    let value_width = f.width() - LABEL_WIDTH;
    let rows: Vec<(&str, String, Weight)> = vec![
        (l.action, s.session.title.clone(), Weight::Bold),
        (
            l.nature,
            lang.kind(s.session.kind).to_owned(),
            Weight::Regular,
        ),
        (l.modality, l.modality_value.to_owned(), Weight::Regular),
        (
            l.dates,
            span(lang, tz, s.session.planned_start, s.session.planned_end),
            Weight::Regular,
        ),
        (l.session_ref, s.session.id.clone(), Weight::Regular),
        (
            l.organisation,
            std::iter::once(s.organisation.name.as_str())
                .chain(s.organisation.details.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" · "),
            Weight::Regular,
        ),
        (l.people_count, s.people.len().to_string(), Weight::Regular),
    ];
    for (label, value, weight) in rows {
        let lines = fonts.wrapped(&value, weight, 9.0, value_width);
        let h = lines.len() as f32 * 9.0 * LEADING + 1.0;
        f.ensure(h);
        let top = f.y;
        let label = fonts.truncated(label, Weight::Regular, 8.0, LABEL_WIDTH - 8.0);
        f.text_at(
            f.left,
            top + baseline_offset(9.0) - baseline_offset(8.0),
            label,
            MUTED,
        );
        let x = f.left + LABEL_WIDTH;
        f.lines_flow(lines, x, INK);
        f.space(1.0);
    }
    f.space(4.0);
    f.paragraph(
        &l.sheet_legend.replace("{tz}", tz.name()),
        Weight::Regular,
        7.5,
        MUTED,
    );

    // The course of the session, neutrally: a funder reads this sheet.
    f.space(8.0);
    f.paragraph(l.course, Weight::Bold, 10.0, ACCENT);
    f.space(2.0);
    let course = neutral_course(lang, tz, &s.course);
    if course.is_empty() {
        f.paragraph(l.neutral_none, Weight::Regular, 8.5, INK);
    }
    for line in &course {
        f.paragraph(&format!("• {line}"), Weight::Regular, 8.5, INK);
    }

    if s.people.is_empty() {
        f.space(12.0);
        f.paragraph(l.no_one, Weight::Regular, 10.0, INK);
    }
    let slots = if s.people.is_empty() {
        Vec::new()
    } else {
        slots(s)
    };
    for slot in &slots {
        f.space(14.0);
        half_day_table(&mut f, s, slot, tz);
    }

    if let Some(stamp) = &s.stamp {
        f.space(16.0);
        stamp_box(&mut f, s, stamp, l)?;
    }

    let total = f.pages.len();
    let missing = f.missing;
    let mut pages = f.pages;
    for (i, page) in pages.iter_mut().enumerate() {
        decorate(fonts, page, s, tz, l, i, total);
    }
    Ok((pages, missing))
}

/// The session's suspensions, postponements and end, one line each with
/// its date, and nothing else: no reason, no one's name ("3 décembre
/// 2026 — séance suspendue 10:56–10:57"). A suspension is shown with the
/// time it ended (a resumption, a postponement or the end). The events'
/// `reason` and `by` are never read.
pub(crate) fn neutral_course(lang: Lang, tz: Tz, events: &[ControlEvent]) -> Vec<String> {
    let l = lang.labels();
    let states: Vec<&ControlEvent> = events
        .iter()
        .filter(|e| e.kind == cadre_protocol::evidence::kind::SESSION_STATE)
        .collect();
    let action = |e: &ControlEvent| match (e.action.as_deref(), e.to.as_deref()) {
        (Some(a), _) => a.to_owned(),
        (None, Some("suspended")) => "suspend".to_owned(),
        (None, Some("postponed")) => "postpone".to_owned(),
        (None, Some("ended")) => "end".to_owned(),
        _ => "resume".to_owned(),
    };
    let mut lines = Vec::new();
    for (i, e) in states.iter().enumerate() {
        let Some(t) = local(tz, e.ts) else { continue };
        let what = match action(e).as_str() {
            "suspend" => match states.get(i + 1) {
                Some(next) => {
                    let end = local(tz, next.ts);
                    let span = match end {
                        Some(end) if end.date_naive() == t.date_naive() => {
                            format!("{}–{}", labels::hm(&t), labels::hm(&end))
                        }
                        Some(end) => format!(
                            "{} – {}, {}",
                            labels::hm(&t),
                            lang.date(end.date_naive()),
                            labels::hm(&end)
                        ),
                        None => labels::hm(&t),
                    };
                    l.neutral_suspended.replace("{span}", &span)
                }
                None => l.neutral_suspended_from.replace("{time}", &labels::hm(&t)),
            },
            "postpone" => {
                let window = |s: &Option<String>| {
                    s.as_deref()
                        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                        .map(|t| t.timestamp_millis())
                };
                match (window(&e.planned_start), window(&e.planned_end)) {
                    (Some(a), Some(b)) => l
                        .neutral_postponed
                        .replace("{dates}", &span(lang, tz, a, b)),
                    _ => l.state_postponed.to_owned(),
                }
            }
            "end" => l.neutral_ended.replace("{time}", &labels::hm(&t)),
            _ => continue,
        };
        lines.push(format!("{} — {what}", lang.date(t.date_naive())));
    }
    lines
}

/// The attendance of `p` in `slot`, if any.
fn find<'a>(p: &'a SheetPerson, slot: &str) -> Option<&'a HalfDay> {
    p.attendance.half_days.iter().find(|h| h.slot == slot)
}

fn half_day_table(f: &mut Flow<'_>, s: &Sheet, slot: &str, tz: Tz) {
    let lang = s.lang;
    let l = lang.labels();
    let fonts = f.fonts;
    let planned = s.people.iter().find_map(|p| find(p, slot));
    let mut title = slot_title(lang, slot);
    if let Some(h) = planned {
        title = format!(
            "{title} — {} {}–{}",
            l.planned,
            hm_opt(tz, Some(h.planned_start)),
            hm_opt(tz, Some(h.planned_end))
        );
    }

    // Values first: the fixed columns take the width of their content.
    struct Values {
        name: String,
        role: &'static str,
        cells: [String; 7],
        signature: Option<super::Strokes>,
        signed: bool,
    }
    let values: Vec<Values> = s
        .people
        .iter()
        .map(|p| {
            let hd = find(p, slot);
            let when = |ms: Option<i64>| match (
                ms.and_then(|m| local(tz, m)),
                hd.and_then(|h| local(tz, h.planned_start)),
            ) {
                (Some(t), Some(planned)) if t.date_naive() != planned.date_naive() => {
                    format!("{} {}", lang.date(t.date_naive()), labels::hm(&t))
                }
                _ => hm_opt(tz, ms),
            };
            let signed = hd.is_some_and(|h| h.signed_in_at.is_some());
            let first = hd.and_then(|h| h.intervals.iter().map(|i| i.start).min());
            let last = hd.and_then(|h| h.intervals.iter().map(|i| i.end).max());
            let countersigned = if p.role == Role::Facilitator {
                "—".to_owned()
            } else {
                when(hd.and_then(|h| h.countersigned_at))
            };
            Values {
                name: p.name.clone(),
                role: lang.role(p.role, s.session.kind),
                cells: [
                    hm_opt(tz, first),
                    hm_opt(tz, last),
                    lang.duration(hd.map_or(0, |h| h.connected_seconds)),
                    lang.duration(hd.map_or(0, |h| h.present_seconds)),
                    lang.percent(hd.map_or(0.0, |h| h.completion)),
                    when(hd.and_then(|h| h.signed_in_at)),
                    countersigned,
                ],
                // A drawing only stands beside a recorded sign-in.
                signature: p
                    .signatures
                    .get(slot)
                    .filter(|s| !s.is_empty() && signed)
                    .cloned(),
                signed,
            }
        })
        .collect();

    let style = TableStyle {
        header_size: 7.0,
        pad_x: 4.0,
        pad_y: 2.5,
        min_row: 22.0,
        border: 0.5,
    };
    let titles = [
        l.role,
        l.first_connection,
        l.last_disconnection,
        l.connected,
        l.present,
        l.completion,
        l.signed_at,
        l.countersigned_at,
    ];
    // Width of a fixed column: its widest header word or value.
    let widest_word = |t: &str| {
        t.split_whitespace()
            .map(|w| fonts.width(w, Weight::Bold, style.header_size))
            .fold(0.0, f32::max)
    };
    let mut widths: Vec<f32> = titles.iter().map(|t| widest_word(t)).collect();
    for v in &values {
        widths[0] = widths[0].max(fonts.width(v.role, Weight::Regular, SIZE));
        for (i, cell) in v.cells.iter().enumerate() {
            let weight = if i == 4 {
                Weight::Bold
            } else {
                Weight::Regular
            };
            widths[i + 1] = widths[i + 1].max(fonts.width(cell, weight, SIZE));
        }
    }
    let widths: Vec<f32> = widths
        .into_iter()
        .map(|w| (w + 2.0 * style.pad_x + 4.0).max(44.0))
        .collect();
    let signature_width = 84.0;
    let name_width = (f.width() - widths.iter().sum::<f32>() - signature_width).max(120.0);
    let aligns = [
        Align::Left,
        Align::Center,
        Align::Center,
        Align::Right,
        Align::Right,
        Align::Right,
        Align::Center,
        Align::Center,
    ];
    let mut columns = vec![Column {
        title: l.name.to_owned(),
        width: name_width,
        align: Align::Left,
    }];
    columns.extend(
        titles
            .iter()
            .zip(&widths)
            .zip(aligns)
            .map(|((t, w), a)| Column {
                title: (*t).to_owned(),
                width: *w,
                align: a,
            }),
    );
    columns.push(Column {
        title: l.signature.to_owned(),
        width: signature_width,
        align: Align::Center,
    });

    let line = |s: &str, weight: Weight, width: f32, color: Rgb| CellLine {
        line: fonts.truncated(s, weight, SIZE, width - 2.0 * style.pad_x),
        color,
    };
    let rows: Vec<Row> = values
        .into_iter()
        .enumerate()
        .map(|(n, v)| {
            let inner = name_width - 2.0 * style.pad_x;
            // A long name takes two lines, the second cut if need be.
            let mut name = fonts.wrapped(&v.name, Weight::Regular, SIZE, inner);
            if name.len() > 2 {
                let first = name.remove(0);
                let rest: Vec<&str> = name.iter().map(|x| x.text.as_str()).collect();
                let second = fonts.truncated(&rest.join(" "), Weight::Regular, SIZE, inner);
                name = vec![first, second];
            }
            let mut cells = vec![Cell::Lines(
                name.into_iter()
                    .map(|line| CellLine { line, color: INK })
                    .collect(),
            )];
            cells.push(Cell::Lines(vec![line(
                v.role,
                Weight::Regular,
                widths[0],
                INK,
            )]));
            for (i, value) in v.cells.iter().enumerate() {
                let weight = if i == 4 {
                    Weight::Bold
                } else {
                    Weight::Regular
                };
                cells.push(Cell::Lines(vec![line(value, weight, widths[i + 1], INK)]));
            }
            cells.push(match v.signature {
                Some(strokes) => Cell::Signature(strokes),
                None if v.signed => Cell::Lines(vec![CellLine {
                    line: fonts.truncated(
                        l.signed_online,
                        Weight::Regular,
                        7.0,
                        signature_width - 2.0 * style.pad_x,
                    ),
                    color: MUTED,
                }]),
                None => Cell::Lines(vec![line("—", Weight::Regular, signature_width, MUTED)]),
            });
            Row {
                cells,
                fill: (n % 2 == 1).then_some(STRIPE),
            }
        })
        .collect();

    // Keep the title with the header and a first row.
    f.ensure(10.5 * LEADING + 60.0);
    f.paragraph(&title, Weight::Bold, 10.5, ACCENT);
    f.space(3.0);
    let continued = format!("{title} ({})", l.continued);
    f.table(&columns, rows, &style, &mut |f| {
        f.paragraph(&continued, Weight::Bold, 9.0, MUTED);
        f.space(2.0);
    });
}

/// The organisation's signature and stamp, at the right under the tables,
/// kept whole on one page.
fn stamp_box(
    f: &mut Flow<'_>,
    s: &Sheet,
    stamp: &SheetStamp,
    l: &Labels,
) -> Result<(), RenderError> {
    const W: f32 = 260.0;
    const H: f32 = 104.0;
    f.ensure(H);
    let (x, top) = (f.right - W, f.y);
    f.push(Op::Rect {
        x,
        y: top,
        w: W,
        h: H,
        fill: None,
        stroke: Some((RULE, 0.7)),
    });
    let title = f.fonts.truncated(
        &l.sheet_stamp.replace("{org}", &s.organisation.name),
        Weight::Bold,
        8.0,
        W - 16.0,
    );
    f.text_in(x + 8.0, x + W - 8.0, top + 6.0, title, INK, Align::Left);
    if let Some(bytes) = &stamp.picture {
        let picture = Picture::new(bytes)?;
        let (y0, y1) = (top + 8.0 * LEADING + 10.0, top + H - 8.0 * LEADING - 10.0);
        f.push(Op::Picture {
            x: x + 8.0,
            y: y0,
            w: W - 16.0,
            h: y1 - y0,
            picture,
        });
    }
    let who = f
        .fonts
        .truncated(&stamp.representative, Weight::Regular, 8.0, W - 16.0);
    f.text_in(
        x + 8.0,
        x + W - 8.0,
        top + H - 8.0 * LEADING - 6.0,
        who,
        MUTED,
        Align::Left,
    );
    f.y = top + H;
    Ok(())
}

/// Running header, footer with the ledger's tree head, page number.
fn decorate(
    fonts: &FontSet,
    page: &mut Vec<Op>,
    s: &Sheet,
    tz: Tz,
    l: &Labels,
    i: usize,
    total: usize,
) {
    let (w, h) = A4_LANDSCAPE;
    let (left, right) = (MARGIN, w - MARGIN);
    let mut text = |x: f32, top: f32, line: super::text::Line, color: Rgb| {
        let y = top + baseline_offset(line.size);
        page.push(Op::Text { x, y, line, color });
    };

    // Header.
    let org = fonts.truncated(
        &s.organisation.name,
        Weight::Bold,
        8.5,
        (right - left) * 0.4,
    );
    let org_width = org.width;
    text(left, TOP, org, INK);
    let what = fonts.truncated(
        &format!("{} — {}", l.sheet_title, s.session.title),
        Weight::Regular,
        8.0,
        right - left - org_width - 24.0,
    );
    text(right - what.width, TOP + 0.5, what, MUTED);

    // Footer.
    let y = h - TOP - FOOTER + 8.0;
    let sep = if s.lang == Lang::Fr {
        "\u{202F}: "
    } else {
        ": "
    };
    let ledger = fonts.truncated(
        &format!(
            "{}{sep}{}",
            l.ledger,
            l.annex_ledger
                .replace("{n}", &s.tree_size.to_string())
                .replace("{root}", &s.tree_root)
        ),
        Weight::Regular,
        7.0,
        right - left,
    );
    text(left, y + 3.0, ledger, MUTED);
    let number = fonts.line(
        &format!("{} {}/{}", l.page, i + 1, total),
        Weight::Bold,
        7.5,
    );
    let number_width = number.width;
    text(right - number_width, y + 13.0, number, INK);
    let generated = fonts.truncated(
        &format!("{} {}", l.generated, moment(s.lang, tz, s.generated_at)),
        Weight::Regular,
        7.0,
        right - left - number_width - 20.0,
    );
    text(left, y + 13.0, generated, MUTED);
    page.push(Op::Lines {
        paths: vec![
            vec![(left, TOP + HEADER - 8.0), (right, TOP + HEADER - 8.0)],
            vec![(left, y), (right, y)],
        ],
        color: RULE,
        width: 0.5,
    });
}
