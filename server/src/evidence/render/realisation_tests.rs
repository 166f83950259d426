//! The certificat de réalisation's page, read from its display list: the
//! model's statements in order, hours and minutes, the crossed nature, the
//! neutral mention of an early end, one page whatever the lengths.

use super::layout;
use crate::evidence::render::layout::Op;
use crate::evidence::render::{Lang, OrganisationIdentity, Realisation, shared};
use cadre_protocol::action::ActionNature;
use chrono::TimeZone;
use chrono_tz::Europe::Paris;

fn at(d: u32, h: u32, m: u32) -> i64 {
    Paris
        .with_ymd_and_hms(2026, 12, d, h, m, 0)
        .single()
        .expect("a valid time")
        .timestamp_millis()
}

fn realisation(lang: Lang) -> Realisation {
    Realisation {
        lang,
        organisation: OrganisationIdentity {
            name: "Formations Horizon".into(),
            representative_name: "Claire Dubois".into(),
            representative_quality: "directrice".into(),
            address: vec!["12 rue des Lilas".into(), "69003 Lyon".into()],
            siret: "12345678900007".into(),
            nda: "84691234569".into(),
            place: "Lyon".into(),
            signature_image: None,
        },
        action_title: "Bilan de compétences — parcours complet".into(),
        nature: ActionNature::Bilan,
        beneficiary_name: "Karim Benali".into(),
        employer: Some("Transports Martin SA".into()),
        first_day: Some("2026-12-03".into()),
        last_day: Some("2026-12-17".into()),
        attended_seconds: 12 * 3600 + 5 * 60 + 40,
        interrupted_at: None,
        quizzes: Some(cadre_protocol::quiz::QuizTally {
            opened: 2,
            completed: 2,
        }),
        time_zone: "Europe/Paris".into(),
        issued_at: at(18, 10, 0),
        certificate_sha256: "3f5a9c0e7b2d4f6a8c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f5a"
            .into(),
        jwks_url: "https://cadre.example.org/.well-known/jwks.json".into(),
        generated_at: at(18, 10, 0),
    }
}

/// The pages and the text of each, lines joined by spaces.
fn pages(c: &Realisation) -> (Vec<Vec<Op>>, Vec<String>) {
    let fonts = &shared().expect("bundled fonts").fonts;
    let (pages, missing) = layout(fonts, c).expect("laid out");
    assert!(!missing, "every character has a glyph");
    let texts = pages
        .iter()
        .map(|ops| {
            ops.iter()
                .filter_map(|op| match op {
                    Op::Text { line, .. } => Some(line.text.clone()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (pages, texts)
}

#[test]
fn the_page_states_the_model_in_order_with_hours_and_minutes() {
    let (pages, texts) = pages(&realisation(Lang::Fr));
    assert_eq!(pages.len(), 1, "one page");
    let text = &texts[0];
    let mut from = 0;
    for expected in [
        "Formations Horizon",
        "SIRET 123 456 789 00007 · Déclaration d'activité n° 84 69 12345 69",
        "Certificat de réalisation",
        "Je soussigné(e) Claire Dubois, directrice, représentant légal du dispensateur de l'action",
        "atteste que :",
        "Karim Benali",
        "salarié(e) de l'entreprise Transports Martin SA",
        "a suivi l'action :",
        "Bilan de compétences — parcours complet",
        "Nature de l'action concourant au développement des compétences :",
        "qui s'est déroulée du 3 décembre 2026 au 17 décembre 2026, pour une durée réalisée de 12 heures et 5 minutes.",
        "Évaluations réalisées : 2/2",
        "Sans préjudice des délais imposés par les règles fiscales, comptables ou commerciales",
        "Fait à Lyon, le 18 décembre 2026",
        "Cachet et signature du responsable du dispensateur",
        "Sceau électronique",
    ] {
        let found = text[from..]
            .find(expected)
            .unwrap_or_else(|| panic!("{expected:?} missing or out of order in:\n{text}"));
        from += found + expected.len();
    }
    assert!(!text.contains("anticipée"), "no early end: {text}");
    let mut none = realisation(Lang::Fr);
    none.quizzes = None;
    let (_, plain) = self::pages(&none);
    assert!(
        !plain[0].contains("valuations"),
        "no quiz, no line: {}",
        plain[0]
    );
    for word in ["JWS", "arbre", "tree"] {
        assert!(!text.contains(word), "{word} on the page");
    }
}

#[test]
fn durations_are_stated_in_words_with_french_and_english_plurals() {
    for (lang, minutes, words) in [
        (Lang::Fr, 12 * 60 + 5, "12 heures et 5 minutes"),
        (Lang::Fr, 60, "1 heure"),
        (Lang::Fr, 61, "1 heure et 1 minute"),
        (Lang::Fr, 45, "45 minutes"),
        (Lang::Fr, 0, "0 minute"),
        (Lang::En, 60, "1 hour"),
        (Lang::En, 2 * 60 + 1, "2 hours and 1 minute"),
        (Lang::En, 0, "0 minutes"),
    ] {
        assert_eq!(super::duration(lang, minutes), words);
    }
}

#[test]
fn only_the_actions_nature_is_crossed() {
    for nature in ActionNature::ALL {
        let mut c = realisation(Lang::Fr);
        c.nature = nature;
        let (pages, _) = pages(&c);
        let crosses: Vec<f32> = pages[0]
            .iter()
            .filter_map(|op| match op {
                Op::Lines { paths, .. } if paths.len() == 2 => Some(paths[0][0].1),
                _ => None,
            })
            .collect();
        assert_eq!(crosses.len(), 1, "{nature}: one crossed box");
        let labels = [
            "action de formation",
            "bilan de compétences",
            "action de VAE",
            "action de formation par apprentissage",
        ];
        let label = labels[ActionNature::ALL.iter().position(|n| *n == nature).unwrap()];
        let label_y = pages[0]
            .iter()
            .find_map(|op| match op {
                Op::Text { line, y, .. } if line.text == label => Some(*y),
                _ => None,
            })
            .expect("the label");
        assert!(
            (label_y - crosses[0]).abs() < 12.0,
            "{nature}: the cross is beside its label"
        );
    }
}

#[test]
fn an_early_end_is_stated_neutrally_with_its_date() {
    let mut c = realisation(Lang::Fr);
    c.interrupted_at = Some(at(10, 16, 30));
    c.last_day = Some("2026-12-10".into());
    c.attended_seconds = 7 * 3600;
    let (_, texts) = pages(&c);
    assert!(
        texts[0].contains(
            "du 3 décembre 2026 au 10 décembre 2026, pour une durée réalisée de 7 heures."
        ),
        "{}",
        texts[0]
    );
    assert!(texts[0].contains("L'action a pris fin de manière anticipée le 10 décembre 2026"));
}

#[test]
fn no_attendance_says_so_instead_of_dates() {
    let mut c = realisation(Lang::Fr);
    c.first_day = None;
    c.last_day = None;
    c.attended_seconds = 0;
    let (_, texts) = pages(&c);
    assert!(texts[0].contains("Aucune présence n'a été enregistrée"));
    assert!(!texts[0].contains("qui s'est déroulée"));
}

#[test]
fn english_and_long_inputs_still_fit_one_page() {
    let mut c = realisation(Lang::En);
    c.action_title = "Management de projet ".repeat(10);
    c.employer = Some("Société coopérative ouvrière de production ".repeat(4));
    c.organisation.address =
        vec!["Bâtiment C, 3e étage, 145 avenue du Général de Gaulle".into(); 4];
    c.beneficiary_name = "Marie-Françoise de La Tour d'Auvergne-Lauraguais".into();
    let (pages, texts) = pages(&c);
    assert_eq!(pages.len(), 1, "still one page");
    assert!(texts[0].contains("Certificate of completion"));
    assert!(texts[0].contains("for a completed duration of 12 hours and 5 minutes"));
}

/// A stamp and a signature on a transparent background, as an organisation
/// scans them.
const STAMP: &[u8] = include_bytes!("stamp-example.png");

#[test]
fn the_organisations_stamp_is_drawn_inside_its_box_undistorted() {
    let mut c = realisation(Lang::Fr);
    c.organisation.signature_image = Some(STAMP.to_vec());
    let (pages, _) = pages(&c);
    assert_eq!(pages.len(), 1, "still one page");
    let boxes: Vec<(f32, f32, f32, f32)> = pages[0]
        .iter()
        .filter_map(|op| match op {
            Op::Rect {
                x,
                y,
                w,
                h,
                stroke: Some(_),
                ..
            } => Some((*x, *y, *w, *h)),
            _ => None,
        })
        .collect();
    let pictures: Vec<_> = pages[0]
        .iter()
        .filter_map(|op| match op {
            Op::Picture {
                x,
                y,
                w,
                h,
                picture,
            } => Some((*x, *y, *w, *h, picture.fitted(*w, *h))),
            _ => None,
        })
        .collect();
    assert_eq!(pictures.len(), 1, "one picture");
    let (x, y, w, h, (fw, fh)) = pictures[0];
    assert!(
        boxes
            .iter()
            .any(|&(bx, by, bw, bh)| x >= bx && y >= by && x + w <= bx + bw && y + h <= by + bh),
        "the picture lies inside the stamp box: {pictures:?} in {boxes:?}"
    );
    // 360×150 pixels keep their proportions.
    assert!((fw / fh - 2.4).abs() < 0.01, "{fw}×{fh}");
    let pdf = crate::evidence::render::realisation_pdf(&c).expect("rendered");
    let text = String::from_utf8_lossy(&pdf);
    assert!(
        text.contains("/Subtype /Image"),
        "the PDF embeds the picture"
    );
    // Stored bytes that no longer decode fail the document, not silently.
    c.organisation.signature_image = Some(STAMP[..200].to_vec());
    assert!(crate::evidence::render::realisation_pdf(&c).is_err());
}

/// Writes the certificate in both languages, with an early end and with
/// long inputs, into `target/render-check/` to look at (`pdftoppm -png`):
/// `cargo test -p cadre-server realisation::tests::write_examples -- --ignored`.
#[test]
#[ignore]
fn write_examples() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/render-check");
    std::fs::create_dir_all(&dir).expect("the directory");
    let mut early = realisation(Lang::Fr);
    early.interrupted_at = Some(at(10, 16, 30));
    early.last_day = Some("2026-12-10".into());
    let mut long = realisation(Lang::En);
    long.action_title = "Management de projet ".repeat(10);
    long.organisation.address =
        vec!["Bâtiment C, 3e étage, 145 avenue du Général de Gaulle".into(); 4];
    let mut stamped = realisation(Lang::Fr);
    stamped.organisation.signature_image = Some(STAMP.to_vec());
    for (name, c) in [
        ("realisation-fr", stamped),
        ("realisation-early", early),
        ("realisation-en-long", long),
    ] {
        let pdf = crate::evidence::render::realisation_pdf(&c).expect("rendered");
        std::fs::write(dir.join(format!("{name}.pdf")), pdf).expect("written");
    }
}
