//! The *certificat de réalisation* of one beneficiary for one action, on
//! the ministry's model: one A4 page, in the model's words and order, with
//! the box for the organisation's signature and stamp beside a short line
//! on the server's electronic seal. Nothing about other people and no
//! reason is printed: those stay in the detailed per-session record.

use chrono::NaiveDate;

use super::labels::{self, moment};
use super::layout::{A4, ACCENT, Align, BOX_FILL, Flow, INK, LEADING, MUTED, Op, RULE};
use super::pdf::{self, Meta};
use super::text::{FontSet, Weight};
use super::{Lang, Picture, Realisation, RenderError};
use cadre_protocol::action::ActionNature;

#[cfg(test)]
#[path = "realisation_tests.rs"]
mod tests;

const MARGIN: f32 = 56.0;
const FOOTER: f32 = 30.0;

/// The model's words, in each language.
struct Words {
    title: &'static str,
    subtitle: &'static str,
    undersigned: &'static str,
    attests: &'static str,
    employee_of: &'static str,
    followed: &'static str,
    nature: &'static str,
    natures: [&'static str; 4],
    ran: &'static str,
    never_attended: &'static str,
    quizzes: &'static str,
    ended_early: &'static str,
    retention: &'static str,
    done_at: &'static str,
    stamp: &'static str,
    stamp_note: &'static str,
    seal: &'static str,
    seal_text: &'static str,
    issued: &'static str,
    page: &'static str,
}

const FR: Words = Words {
    title: "Certificat de réalisation",
    subtitle: "Action concourant au développement des compétences, réalisée à distance",
    undersigned: "Je soussigné(e) {rep}, {quality}, représentant légal du dispensateur de l'action concourant au développement des compétences {org},",
    attests: "atteste que :",
    employee_of: "salarié(e) de l'entreprise {employer}",
    followed: "a suivi l'action :",
    nature: "Nature de l'action concourant au développement des compétences :",
    natures: [
        "action de formation",
        "bilan de compétences",
        "action de VAE",
        "action de formation par apprentissage",
    ],
    ran: "qui s'est déroulée du {from} au {to}, pour une durée réalisée de {duration}.",
    never_attended: "Aucune présence n'a été enregistrée pour cette action : durée réalisée de 0 heure.",
    quizzes: "Évaluations réalisées : {completed}/{opened}",
    ended_early: "L'action a pris fin de manière anticipée le {date} ; la durée indiquée est celle effectivement réalisée.",
    retention: "Sans préjudice des délais imposés par les règles fiscales, comptables ou commerciales, je m'engage à conserver l'ensemble des pièces justificatives qui ont permis d'établir le présent certificat pendant une durée de 3 ans à compter de la fin de l'année du dernier paiement. En cas de cofinancement des fonds européens la durée de conservation est étendue conformément aux obligations conventionnelles spécifiques.",
    done_at: "Fait à {place}, le {date}",
    stamp: "Cachet et signature du responsable du dispensateur",
    stamp_note: "{rep}, {quality}",
    seal: "Sceau électronique",
    seal_text: "Ce certificat est aussi délivré sous forme de fichier scellé électroniquement par le serveur de l'organisme (empreinte SHA-256 : {sha}). Chacun peut vérifier ce fichier, sans accès au serveur, avec la commande « cadre verify » et les clés publiées à l'adresse {jwks}.",
    issued: "Certificat établi le",
    page: "page",
};

const EN: Words = Words {
    title: "Certificate of completion",
    subtitle: "Skills development action, carried out at a distance",
    undersigned: "I, the undersigned {rep}, {quality}, legal representative of the provider of the skills development action {org},",
    attests: "certify that:",
    employee_of: "employee of {employer}",
    followed: "followed the action:",
    nature: "Nature of the skills development action:",
    natures: [
        "training action",
        "skills assessment (bilan de compétences)",
        "accreditation of prior experience (VAE)",
        "apprenticeship training",
    ],
    ran: "which took place from {from} to {to}, for a completed duration of {duration}.",
    never_attended: "No attendance was recorded for this action: completed duration 0 hours.",
    quizzes: "Assessments completed: {completed}/{opened}",
    ended_early: "The action ended early on {date}; the duration given is the time actually completed.",
    retention: "Without prejudice to the periods imposed by tax, accounting or commercial rules, I undertake to keep all the supporting documents used to draw up this certificate for 3 years from the end of the year of the last payment. With European co-funding, the retention period is extended in accordance with the specific contractual obligations.",
    done_at: "Done at {place}, on {date}",
    stamp: "Stamp and signature of the provider's representative",
    stamp_note: "{rep}, {quality}",
    seal: "Electronic seal",
    seal_text: "This certificate is also issued as a file electronically sealed by the organisation's server (SHA-256 fingerprint: {sha}). Anyone can check that file, without access to the server, with the command “cadre verify” and the keys published at {jwks}.",
    issued: "Certificate issued on",
    page: "page",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Fr => &FR,
        Lang::En => &EN,
    }
}

pub(crate) fn render(
    fonts: &FontSet,
    c: &Realisation,
    compress: bool,
) -> Result<Vec<u8>, RenderError> {
    let (pages, missing) = layout(fonts, c)?;
    let w = words(c.lang);
    pdf::write(
        fonts,
        &pages,
        &Meta {
            title: format!("{} — {}", w.title, c.beneficiary_name),
            language: c.lang.tag(),
            size: A4,
            created_at: c.generated_at,
            archival: !missing,
            compress,
        },
    )
}

fn date(lang: Lang, day: &str) -> String {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(|d| lang.date(d))
        .unwrap_or_else(|_| day.to_owned())
}

/// The page's display list (one page), and whether a character had no glyph.
pub(crate) fn layout(
    fonts: &FontSet,
    c: &Realisation,
) -> Result<(Vec<Vec<Op>>, bool), RenderError> {
    let tz = labels::zone(&c.time_zone)?;
    let lang = c.lang;
    let w = words(lang);
    let o = &c.organisation;
    let mut f = Flow::new(fonts, A4, MARGIN, MARGIN, A4.1 - MARGIN - FOOTER);

    // The dispensateur's header.
    f.paragraph(&o.name, Weight::Bold, 11.5, INK);
    for line in &o.address {
        f.paragraph(line, Weight::Regular, 8.5, MUTED);
    }
    f.paragraph(
        &organisation_numbers(lang, Some(&o.siret), Some(&o.nda)),
        Weight::Regular,
        8.5,
        MUTED,
    );
    f.space(18.0);
    f.paragraph(w.title, Weight::Bold, 20.0, ACCENT);
    f.paragraph(w.subtitle, Weight::Regular, 10.5, MUTED);
    f.space(4.0);
    f.rule(ACCENT, 1.1);
    f.space(14.0);

    let body = 10.0;
    f.paragraph(
        &w.undersigned
            .replace("{rep}", &o.representative_name)
            .replace("{quality}", &o.representative_quality)
            .replace("{org}", &o.name),
        Weight::Regular,
        body,
        INK,
    );
    f.space(6.0);
    f.paragraph(w.attests, Weight::Regular, body, INK);
    f.space(6.0);
    f.paragraph(&c.beneficiary_name, Weight::Bold, 12.0, INK);
    if let Some(employer) = &c.employer {
        f.paragraph(
            &w.employee_of.replace("{employer}", employer),
            Weight::Regular,
            body,
            INK,
        );
    }
    f.space(6.0);
    f.paragraph(w.followed, Weight::Regular, body, INK);
    f.paragraph(&c.action_title, Weight::Bold, 11.0, INK);
    f.space(8.0);
    f.paragraph(w.nature, Weight::Regular, body, INK);
    f.space(3.0);
    for (nature, label) in ActionNature::ALL.iter().zip(w.natures) {
        checkbox(&mut f, label, *nature == c.nature, body);
    }
    f.space(8.0);
    match (&c.first_day, &c.last_day) {
        (Some(first), Some(last)) if c.attended_seconds > 0 => {
            let minutes = c.attended_seconds.max(0) / 60;
            f.paragraph(
                &w.ran
                    .replace("{from}", &date(lang, first))
                    .replace("{to}", &date(lang, last))
                    .replace("{duration}", &duration(lang, minutes)),
                Weight::Regular,
                body,
                INK,
            );
        }
        _ => f.paragraph(w.never_attended, Weight::Regular, body, INK),
    }
    if let Some(q) = c.quizzes {
        f.space(3.0);
        f.paragraph(
            &w.quizzes
                .replace("{completed}", &q.completed.to_string())
                .replace("{opened}", &q.opened.to_string()),
            Weight::Regular,
            body,
            INK,
        );
    }
    if let Some(at) = c.interrupted_at {
        let day = labels::local(tz, at)
            .map(|t| lang.date(t.date_naive()))
            .unwrap_or_default();
        f.space(3.0);
        f.paragraph(
            &w.ended_early.replace("{date}", &day),
            Weight::Regular,
            body,
            INK,
        );
    }
    f.space(10.0);
    f.paragraph(w.retention, Weight::Regular, 8.5, INK);
    f.space(12.0);
    let issued_day = labels::local(tz, c.issued_at)
        .map(|t| lang.date(t.date_naive()))
        .unwrap_or_default();
    f.paragraph(
        &w.done_at
            .replace("{place}", &o.place)
            .replace("{date}", &issued_day),
        Weight::Regular,
        body,
        INK,
    );
    f.space(10.0);
    boxes(&mut f, c, w)?;

    let missing = f.missing;
    let mut pages = f.pages;
    let total = pages.len();
    let footer_text = format!(
        "{} — {} — {} {}",
        w.title,
        c.beneficiary_name,
        w.issued,
        moment(lang, tz, c.generated_at)
    );
    for (i, page) in pages.iter_mut().enumerate() {
        footer(fonts, page, &footer_text, w, i, total);
    }
    Ok((pages, missing))
}

/// The organisation's SIRET and activity declaration number, grouped as
/// the administration prints them, in one line (what is known of them).
pub fn organisation_numbers(lang: Lang, siret: Option<&str>, nda: Option<&str>) -> String {
    [
        siret.map(|n| format!("SIRET {}", spaced(n, &[3, 3, 3, 5]))),
        nda.map(|n| {
            let label = match lang {
                Lang::Fr => "Déclaration d'activité n°",
                Lang::En => "Activity declaration no.",
            };
            format!("{label} {}", spaced(n, &[2, 2, 5, 2]))
        }),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ")
}

/// Whole minutes in words, as the model states a duration: "12 heures et
/// 5 minutes", "1 heure", "45 minutes" (French counts 0 and 1 as singular).
fn duration(lang: Lang, minutes: i64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    let unit = |n: i64, fr: &str, en: &str| match lang {
        Lang::Fr if n < 2 => format!("{n} {fr}"),
        Lang::Fr => format!("{n} {fr}s"),
        Lang::En if n == 1 => format!("{n} {en}"),
        Lang::En => format!("{n} {en}s"),
    };
    let and = match lang {
        Lang::Fr => "et",
        Lang::En => "and",
    };
    match (h, m) {
        (0, m) => unit(m, "minute", "minute"),
        (h, 0) => unit(h, "heure", "hour"),
        (h, m) => format!(
            "{} {and} {}",
            unit(h, "heure", "hour"),
            unit(m, "minute", "minute")
        ),
    }
}

/// `value` grouped as the administration prints it ("123 456 789 00012").
fn spaced(value: &str, groups: &[usize]) -> String {
    let mut out = Vec::new();
    let mut rest = value;
    for g in groups {
        if rest.len() <= *g {
            break;
        }
        let (head, tail) = rest.split_at(*g);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out.join(" ")
}

/// A box, crossed when `checked`, then its label.
fn checkbox(f: &mut Flow<'_>, label: &str, checked: bool, size: f32) {
    let h = size * LEADING;
    f.ensure(h);
    let side = size * 0.85;
    let x = f.left + 10.0;
    let y = f.y + (h - side) / 2.0;
    f.push(Op::Rect {
        x,
        y,
        w: side,
        h: side,
        fill: None,
        stroke: Some((INK, 0.8)),
    });
    if checked {
        f.push(Op::Lines {
            paths: vec![
                vec![(x + 1.6, y + 1.6), (x + side - 1.6, y + side - 1.6)],
                vec![(x + side - 1.6, y + 1.6), (x + 1.6, y + side - 1.6)],
            ],
            color: INK,
            width: 1.2,
        });
    }
    let weight = if checked {
        Weight::Bold
    } else {
        Weight::Regular
    };
    let line = f.fonts.line(label, weight, size);
    let top = f.y;
    f.text_at(x + side + 7.0, top, line, INK);
    f.y += h;
}

/// The signature-and-stamp box (left; the image goes inside it) and the
/// electronic seal's note (right), side by side.
fn boxes(f: &mut Flow<'_>, c: &Realisation, w: &Words) -> Result<(), RenderError> {
    let gap = 14.0;
    let half = (f.width() - gap) / 2.0;
    let seal_lines = f.fonts.wrapped(
        &w.seal_text
            .replace("{sha}", &c.certificate_sha256)
            .replace("{jwks}", &c.jwks_url),
        Weight::Regular,
        7.0,
        half - 16.0,
    );
    let height = (7.0 * LEADING * seal_lines.len() as f32 + 30.0).max(118.0);
    f.ensure(height);
    let top = f.y;
    let (left, right) = (f.left, f.left + half + gap);
    for x in [left, right] {
        f.push(Op::Rect {
            x,
            y: top,
            w: half,
            h: height,
            fill: (x == right).then_some(BOX_FILL),
            stroke: Some((RULE, 0.7)),
        });
    }
    let stamp = f.fonts.line(w.stamp, Weight::Bold, 8.0);
    f.text_in(
        left + 8.0,
        left + half - 8.0,
        top + 6.0,
        stamp,
        INK,
        Align::Left,
    );
    if let Some(bytes) = &c.organisation.signature_image {
        // Between the box's title and the representative's name.
        let picture = Picture::new(bytes)?;
        let (y0, y1) = (
            top + 8.0 * LEADING + 10.0,
            top + height - 8.0 * LEADING - 10.0,
        );
        f.push(Op::Picture {
            x: left + 8.0,
            y: y0,
            w: half - 16.0,
            h: y1 - y0,
            picture,
        });
    }
    let who = f.fonts.truncated(
        &w.stamp_note
            .replace("{rep}", &c.organisation.representative_name)
            .replace("{quality}", &c.organisation.representative_quality),
        Weight::Regular,
        8.0,
        half - 16.0,
    );
    f.text_in(
        left + 8.0,
        left + half - 8.0,
        top + height - 8.0 * LEADING - 6.0,
        who,
        MUTED,
        Align::Left,
    );
    let seal = f.fonts.line(w.seal, Weight::Bold, 8.0);
    f.text_in(
        right + 8.0,
        right + half - 8.0,
        top + 6.0,
        seal,
        INK,
        Align::Left,
    );
    let mut y = top + 6.0 + 8.0 * LEADING + 2.0;
    for line in seal_lines {
        f.text_at(right + 8.0, y, line, MUTED);
        y += 7.0 * LEADING;
    }
    f.y = top + height;
    Ok(())
}

fn footer(fonts: &FontSet, page: &mut Vec<Op>, text: &str, w: &Words, i: usize, total: usize) {
    let y = A4.1 - MARGIN - FOOTER + 12.0;
    let (left, right) = (MARGIN, A4.0 - MARGIN);
    page.push(Op::Lines {
        paths: vec![vec![(left, y), (right, y)]],
        color: RULE,
        width: 0.5,
    });
    let number = fonts.line(
        &format!("{} {}/{}", w.page, i + 1, total),
        Weight::Regular,
        7.0,
    );
    let room = right - left - number.width - 12.0;
    let line = fonts.truncated(text, Weight::Regular, 7.0, room);
    let top = y + 4.0;
    page.push(Op::Text {
        x: left,
        y: top + super::layout::baseline_offset(7.0),
        line,
        color: MUTED,
    });
    page.push(Op::Text {
        x: right - number.width,
        y: top + super::layout::baseline_offset(7.0),
        line: number,
        color: MUTED,
    });
}
