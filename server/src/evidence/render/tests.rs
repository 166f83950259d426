//! Tests of the renderings. The ones that run everywhere read the display
//! lists and the PDF bytes; `poppler_check` (ignored: it needs poppler-utils)
//! extracts the text with `pdftotext` and writes PNGs with `pdftoppm` into
//! `target/render-check/` to look at:
//! `cargo test -p cadre-server render::tests::poppler_check -- --ignored --nocapture`.

use std::collections::BTreeMap;

use cadre_protocol::attendance::{
    Conditions, ConsentDecision, HalfDay, Interval, PersonAttendance, PoorMinute, RecordedFile,
    RecordedSegment, ScoreCounts, Totals,
};
use cadre_protocol::proof::ControlEvent;
use cadre_protocol::{Role, SessionKind};
use chrono::TimeZone;
use chrono_tz::Europe::Paris;

use super::layout::{A4, A4_LANDSCAPE, Op};
use super::text::{FontSet, Weight};
use super::*;

const HASH: &str = "3f5a9c0e7b2d4f6a8c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f5a";
const ROOT: &str = "c0ffee51d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9";

fn fonts() -> &'static FontSet {
    &shared().expect("bundled fonts").fonts
}

/// Paris local time to UTC ms.
fn at(d: u32, h: u32, m: u32) -> i64 {
    Paris
        .with_ymd_and_hms(2026, 12, d, h, m, 0)
        .single()
        .expect("a valid time")
        .timestamp_millis()
}

/// A `session_state` control event as a version 3 proof lists it.
fn state(ts: i64, action: &str, from: &str, to: &str, by: &str, reason: &str) -> ControlEvent {
    ControlEvent {
        ts,
        kind: "session_state".to_owned(),
        from: Some(from.to_owned()),
        to: Some(to.to_owned()),
        reason: Some(reason.to_owned()),
        action: Some(action.to_owned()),
        by: Some(by.to_owned()),
        planned_start: None,
        planned_end: None,
    }
}

fn interval(a: i64, b: i64) -> Interval {
    let local = |ms: i64| Paris.timestamp_millis_opt(ms).unwrap().to_rfc3339();
    Interval {
        start: a,
        end: b,
        start_local: local(a),
        end_local: local(b),
    }
}

fn half_day(day: u32, pm: bool, join: (u32, u32), leave: (u32, u32), signed: bool) -> HalfDay {
    let (ps, pe) = if pm {
        (at(day, 14, 0), at(day, 17, 30))
    } else {
        (at(day, 9, 0), at(day, 12, 30))
    };
    let (a, b) = (at(day, join.0, join.1), at(day, leave.0, leave.1));
    let connected = (b.min(pe) - a.max(ps)).max(0) / 1000;
    let present = connected * 95 / 100;
    HalfDay {
        slot: format!("2026-12-{day:02}.{}", if pm { "pm" } else { "am" }),
        planned_start: ps,
        planned_end: pe,
        planned_parts: Vec::new(),
        intervals: vec![
            interval(a, a + (b - a) / 2),
            interval(a + (b - a) / 2 + 120_000, b),
        ],
        connected_seconds: connected,
        present_seconds: present,
        completion: ((present as f64 / 12_600.0) * 10_000.0).round() / 10_000.0,
        signed_in_at: signed.then_some(ps + 180_000),
        countersigned_at: signed.then_some(ps + 600_000),
    }
}

fn attendance(person: &str, half_days: Vec<HalfDay>) -> PersonAttendance {
    let planned = half_days.len() as i64 * 12_600;
    let connected = half_days.iter().map(|h| h.connected_seconds).sum();
    let present: i64 = half_days.iter().map(|h| h.present_seconds).sum();
    PersonAttendance {
        person: person.to_owned(),
        first_join: half_days
            .iter()
            .flat_map(|h| h.intervals.first())
            .map(|i| i.start)
            .min(),
        last_leave: half_days
            .iter()
            .flat_map(|h| h.intervals.last())
            .map(|i| i.end)
            .max(),
        half_days,
        totals: Totals {
            planned_seconds: planned,
            connected_seconds: connected,
            present_seconds: present,
            completion: ((present as f64 / planned.max(1) as f64) * 10_000.0).round() / 10_000.0,
        },
    }
}

fn organisation() -> Organisation {
    Organisation {
        name: "Atelier Cœur de Compétences".to_owned(),
        details: vec![
            "12 rue de l'Œuvre, 69002 Lyon".to_owned(),
            "SIRET 123 456 789 00012 · NDA 84 69 12345 69".to_owned(),
        ],
    }
}

fn session() -> SessionInfo {
    SessionInfo {
        id: "s_8f3k2m9q".to_owned(),
        title: "Prévenir les risques psychosociaux : repérer, écouter, orienter".to_owned(),
        kind: SessionKind::Formation,
        planned_start: at(3, 9, 0),
        planned_end: at(3, 17, 30),
        time_zone: "Europe/Paris".to_owned(),
    }
}

fn decision(ts: i64, consent: &str, granted: bool) -> ConsentDecision {
    ConsentDecision {
        ts,
        consent: consent.to_owned(),
        granted,
        text_sha256: HASH.to_owned(),
    }
}

fn recorded_file(segment: u64, track: &str) -> RecordedFile {
    RecordedFile {
        track: track.to_owned(),
        name: format!("s_8f3k2m9q/{segment}/p_4k9d-{track}"),
        bytes: 123_456,
        sha256: HASH.to_owned(),
    }
}

/// A day that was recorded: the person grants recording, refuses sharing
/// with the sponsor, is recorded (sound and image) until they withdraw,
/// grants again the next day; the files are deleted a month later. A second
/// segment, with no track of theirs, still runs at issue time.
fn recorded_certificate(lang: Lang, name: &str) -> Certificate {
    let mut c = certificate(lang, name);
    c.consents = vec![
        decision(at(3, 9, 1), "recording", true),
        decision(at(3, 9, 2), "sponsor_share", false),
        decision(at(3, 10, 15), "recording", false),
        decision(at(4, 8, 55), "recording", true),
    ];
    c.recordings = vec![
        RecordedSegment {
            segment: 1,
            started_at: at(3, 9, 30),
            closed_at: Some(at(3, 10, 15)),
            reason: Some("consent_withdrawn".to_owned()),
            files: vec![recorded_file(1, "audio"), recorded_file(1, "video")],
            purged_at: Some(
                Paris
                    .with_ymd_and_hms(2027, 1, 2, 3, 0, 0)
                    .single()
                    .expect("a valid time")
                    .timestamp_millis(),
            ),
        },
        RecordedSegment {
            segment: 2,
            started_at: at(3, 14, 10),
            closed_at: None,
            reason: None,
            files: Vec::new(),
            purged_at: None,
        },
    ];
    c
}

pub(crate) fn certificate(lang: Lang, name: &str) -> Certificate {
    Certificate {
        lang,
        organisation: organisation(),
        session: session(),
        person_id: "p_4k9d".to_owned(),
        person_name: name.to_owned(),
        person_role: Role::Participant,
        attendance: attendance(
            "p_4k9d",
            vec![
                half_day(3, false, (8, 57), (12, 31), true),
                half_day(3, true, (14, 2), (17, 10), true),
            ],
        ),
        control: vec![
            state(
                at(3, 10, 40),
                "suspend",
                "open",
                "suspended",
                "p_f",
                "coupure réseau générale chez le fournisseur d'accès",
            ),
            state(
                at(3, 10, 55),
                "resume",
                "suspended",
                "open",
                "p_f",
                "réseau rétabli",
            ),
        ],
        actors: BTreeMap::from([("p_f".to_owned(), "Jean Dupont".to_owned())]),
        quizzes: None,
        conditions: Conditions {
            minutes: 402,
            by_score: ScoreCounts {
                excellent: 380,
                good: 20,
                poor: 2,
                lost: 0,
            },
            worst_minutes: vec![PoorMinute {
                minute: at(3, 10, 39),
                score: "poor".to_owned(),
                reasons: vec!["loss_high".to_owned()],
            }],
        },
        consents: Vec::new(),
        recordings: Vec::new(),
        proof_sha256: HASH.to_owned(),
        key_id: "k_2026_01".to_owned(),
        tree_size: 412,
        tree_root: ROOT.to_owned(),
        jwks_url: "https://formation.example.fr/.well-known/jwks.json".to_owned(),
        issued_at: at(3, 18, 4),
        generated_at: at(4, 8, 30),
    }
}

const NAMES: [&str; 10] = [
    "Éloïse Lefèvre-Cœur",
    "Мария Иванова",
    "محمد الأمين",
    "Γιώργος Παπαδόπουλος",
    "דוד כהן",
    "Nguyễn Thị Minh Khai",
    "Ærøskøbing Ødegård",
    "Şebnem Yıldırım",
    "Aurélien-Marie de La Tour d'Auvergne-Lauraguais de Saint-Exupéry-Montmorency du Plessis-\
     Bellière de Rochechouart-Mortemart et de Clermont-Tonnerre, dit « le Magnifique »",
    "Zoë Brontë",
];

pub(crate) fn sheet(people: usize) -> Sheet {
    // A pad three times wider than tall: y stays within 0..=333.
    let strokes: Strokes = vec![
        (0..40)
            .map(|i| {
                let t = i as f64 / 39.0;
                [
                    (40.0 + 700.0 * t) as i64,
                    (170.0 + 110.0 * (t * 12.0).sin()) as i64,
                    i * 16,
                ]
            })
            .collect(),
        vec![[760, 120, 0], [960, 250, 80]],
    ];

    let people = (0..people)
        .map(|i| {
            let role = if i == 0 {
                Role::Facilitator
            } else {
                Role::Participant
            };
            let name = if i < NAMES.len() {
                NAMES[i].to_owned()
            } else {
                format!("Participant·e n° {i}")
            };
            let absent_pm = i % 7 == 3;
            let mut half_days = vec![half_day(3, false, (8, 50 + (i % 9) as u32), (12, 30), true)];
            if !absent_pm {
                half_days.push(half_day(
                    3,
                    true,
                    (14, (i % 20) as u32),
                    (17, 25),
                    i % 5 != 2,
                ));
            }
            let mut signatures = BTreeMap::new();
            if i % 3 != 1 {
                signatures.insert("2026-12-03.am".to_owned(), strokes.clone());
                signatures.insert("2026-12-03.pm".to_owned(), strokes.clone());
            }
            SheetPerson {
                name,
                role,
                attendance: attendance(&format!("p_{i}"), half_days),
                signatures,
            }
        })
        .collect();
    Sheet {
        stamp: None,
        lang: Lang::Fr,
        organisation: organisation(),
        session: session(),
        people,
        course: Vec::new(),
        slots: Vec::new(),
        tree_size: 1834,
        tree_root: "9b1c4e7f2a5d8c0b3e6f9a2d5c8b1e4f7a0d3c6b9e2f5a8d1c4b7e0f3a6d9c2b".to_owned(),
        generated_at: at(3, 18, 30),
    }
}

/// Every text drawn, page by page.
fn texts(pages: &[Vec<Op>]) -> Vec<Vec<String>> {
    pages
        .iter()
        .map(|ops| {
            ops.iter()
                .filter_map(|op| match op {
                    Op::Text { line, .. } => Some(line.text.clone()),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

fn all_text(pages: &[Vec<Op>]) -> String {
    texts(pages).concat().join("\n")
}

/// The same, lines joined by spaces: wrapped labels read as one.
fn joined(pages: &[Vec<Op>]) -> String {
    texts(pages).concat().join(" ")
}

/// Number of pages, from the page tree's `/Count`.
fn page_count(pdf: &[u8]) -> usize {
    let s = String::from_utf8_lossy(pdf);
    let at = s.find("/Type /Pages").expect("a page tree");
    let rest = &s[at..];
    let count = rest.find("/Count ").expect("a page count") + "/Count ".len();
    rest[count..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a number")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Text stays inside the page's margins.
fn assert_inside(pages: &[Vec<Op>], size: (f32, f32), margin: f32) {
    for (p, ops) in pages.iter().enumerate() {
        for op in ops {
            if let Op::Text { x, y, line, .. } = op {
                assert!(
                    *x >= margin - 0.01 && x + line.width <= size.0 - margin + 0.01,
                    "page {p}: {:?} overflows horizontally (x {x}, width {})",
                    line.text,
                    line.width
                );
                assert!(
                    *y > 0.0 && *y < size.1,
                    "page {p}: {:?} off the page",
                    line.text
                );
            }
        }
    }
}

#[test]
fn certificate_pdf_is_a_pdf_with_embedded_subset_fonts() {
    let pdf = certificate_pdf(&certificate(Lang::Fr, "Éloïse Lefèvre-Cœur")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.ends_with(b"%%EOF\n") || pdf.ends_with(b"%%EOF"));
    assert_eq!(page_count(&pdf), 1);
    assert!(contains(&pdf, "/FontFile2"), "TrueType fonts embedded");
    assert!(contains(&pdf, "NotoSans-Regular"));
    assert!(contains(&pdf, "NotoSans-Bold"));
    assert!(contains(&pdf, "/ToUnicode"), "text can be extracted");
    // Archival: PDF/A-2u declared in the XMP metadata.
    assert!(contains(&pdf, "pdfaid:part"), "PDF/A");
    // Subsets: far smaller than the fonts themselves.
    assert!(pdf.len() < 150_000, "{} bytes", pdf.len());
}

#[test]
fn certificate_prints_the_required_fields() {
    let c = certificate(Lang::Fr, "Éloïse Lefèvre-Cœur");
    let (pages, missing) = certificate::layout(fonts(), &c).unwrap();
    assert!(!missing);
    let text = joined(&pages);
    for expected in [
        "Atelier Cœur de Compétences",
        "Relevé de présence",
        "Détail d'une séance à distance",
        "Éloïse Lefèvre-Cœur",
        "Bénéficiaire",
        "Action de formation",
        "À distance, synchrone",
        "jeudi 3 décembre 2026, 09:00–17:30 (Europe/Paris)",
        "jeudi 3 décembre 2026,",
        "matin",
        "après-midi",
        "prévu 09:00–12:30",
        "Présent",
        "Réalisation",
        "Émargement",
        "Contreseing",
        "Total",
        "Déroulement de la séance",
        "coupure réseau",
        HASH,
        "cadre verify",
        "k_2026_01",
        "page 1/1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Sign-in and countersignature times (09:03 and 09:10) and intervals.
    assert!(text.contains("09:03") && text.contains("09:10"), "{text}");
    assert!(text.contains("08:57–10:44"), "{text}");
    assert_inside(&pages, A4, 50.0);
}

#[test]
fn certificate_in_english() {
    let c = certificate(Lang::En, "Zoë Brontë");
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    let text = joined(&pages);
    for expected in [
        "Attendance record",
        "One remote session in detail",
        "Annex — Electronic verification, for the auditor",
        "How to verify",
        "412 records",
        "Remote, synchronous",
        "Thursday 3 December 2026, 09:00–17:30 (Europe/Paris)",
        "Training course",
        "Completion",
        "Countersigned",
        "Sign-in",
        "Zoë Brontë",
        HASH,
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn certificate_lists_consent_decisions_and_recorded_segments() {
    let c = recorded_certificate(Lang::Fr, "Éloïse Lefèvre-Cœur");
    let (pages, missing) = certificate::layout(fonts(), &c).unwrap();
    assert!(!missing);
    let text = joined(&pages);
    for expected in [
        "Accords et enregistrements",
        "Enregistrement de la séance\u{202F}: accordé le 3 décembre 2026 à 09:01, retiré à 10:15, \
         accordé le 4 décembre 2026 à 08:55",
        "Communication nominative de la présence au financeur\u{202F}: refusé le 3 décembre 2026 à 09:02",
        "Enregistrement n°\u{00A0}1 — 3 décembre 2026, 09:30–10:15 (arrêt\u{202F}: accord retiré) — \
         audio, vidéo — fichiers supprimés le 2 janvier 2027",
        "Enregistrement n°\u{00A0}2 — 3 décembre 2026, 14:10–… (en cours à l'émission) — \
         aucune piste de la personne",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("Aucun"), "{text}");
    assert_inside(&pages, A4, 50.0);
    // The section comes after the suspensions and before the annex for
    // the auditor, which is never split across pages.
    const ANNEX: &str = "Annexe — Vérification électronique, pour l'auditeur";
    let at_section = text.find("Accords et enregistrements").unwrap();
    assert!(at_section > text.find("Déroulement de la séance").unwrap());
    assert!(at_section < text.find(ANNEX).unwrap());
    let last = texts(&pages).pop().unwrap().join(" ");
    assert!(
        last.contains(ANNEX) && last.contains(HASH) && last.contains("Comment vérifier"),
        "{last}"
    );
}

#[test]
fn certificate_lists_consents_and_recordings_in_english() {
    let c = recorded_certificate(Lang::En, "Zoë Brontë");
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    let text = joined(&pages);
    for expected in [
        "Consents and recordings",
        "Recording of the session: granted on 3 December 2026 at 09:01, withdrawn at 10:15, \
         granted on 4 December 2026 at 08:55",
        "Sharing one's attendance with the sponsor: refused on 3 December 2026 at 09:02",
        "Recording 1 — 3 December 2026, 09:30–10:15 (stopped: consent withdrawn) — audio, video \
         — files deleted on 2 January 2027",
        "Recording 2 — 3 December 2026, 14:10–… (running when issued) — none of the person's tracks",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn no_consent_and_no_recording_is_one_line() {
    let c = certificate(Lang::Fr, "Zoë");
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    assert_eq!(pages.len(), 1, "a day without recording stays on one page");
    let text = all_text(&pages);
    assert!(
        text.contains(
            "Accords et enregistrements\nAucun accord exprimé\u{202F}; aucun enregistrement.\n"
        ),
        "{text}"
    );
    let c = certificate(Lang::En, "Zoë");
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    assert!(all_text(&pages).contains("No consent given or refused; never recorded."));
    // Decisions without a recording: each list says what it lacks.
    let mut c = recorded_certificate(Lang::Fr, "Zoë");
    c.recordings.clear();
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    let text = joined(&pages);
    assert!(text.contains("Aucun enregistrement."), "{text}");
    assert!(!text.contains("Aucun accord exprimé"), "{text}");
    // A recording without a decision in the proof (a decision made before
    // the tree head it was issued under cannot be missing; this is only
    // the layout) and a closed segment whose files are kept.
    let mut c = recorded_certificate(Lang::Fr, "Zoë");
    c.consents.clear();
    c.recordings[0].purged_at = None;
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    let text = joined(&pages);
    assert!(text.contains("Aucun accord exprimé."), "{text}");
    assert!(text.contains("audio, vidéo — fichiers conservés"), "{text}");
}

#[test]
fn many_reconnections_are_summarised() {
    let mut c = certificate(Lang::Fr, "Zoë");
    let hd = &mut c.attendance.half_days[0];
    let base = hd.planned_start;
    hd.intervals = (0..40)
        .map(|k| interval(base + k * 300_000, base + k * 300_000 + 240_000))
        .collect();
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    let text = joined(&pages);
    assert!(text.contains("(40 connexions en tout)"), "{text}");
    assert!(
        text.contains("09:00–09:04") && text.contains("12:15–12:19"),
        "{text}"
    );
    assert!(!text.contains("10:00–10:04"), "the middle is left out");
    assert_inside(&pages, A4, 50.0);
}

#[test]
fn no_control_event_and_no_measure_say_so() {
    let mut c = certificate(Lang::Fr, "Zoë");
    c.quizzes = Some(cadre_protocol::quiz::QuizTally {
        opened: 2,
        completed: 1,
    });
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    assert!(
        joined(&pages).contains("Évaluations réalisées\u{202F}: 1/2"),
        "{}",
        joined(&pages)
    );
    c.control.clear();
    c.conditions = Conditions::default();
    c.quizzes = None;
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    let text = joined(&pages);
    assert!(!text.contains("valuations"), "no quiz, no line: {text}");
    assert!(
        text.contains("Déroulement de la séance Aucune suspension, aucun report."),
        "{text}"
    );
    assert!(
        text.contains("Conditions de connexion\u{202F}: non mesurées"),
        "{text}"
    );
    c.lang = Lang::En;
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    let text = joined(&pages);
    assert!(text.contains("No suspension, no postponement."), "{text}");
    assert!(
        text.contains("Connection conditions: not measured"),
        "{text}"
    );
}

/// A day suspended by the automatic policy, resumed by the facilitator,
/// the person removed and re-admitted, then the session postponed to a new
/// window by a facilitator the renderer cannot name.
fn controlled_certificate(lang: Lang) -> Certificate {
    let mut c = certificate(lang, "Zoë");
    let mut postpone = state(
        at(3, 16, 0),
        "postpone",
        "open",
        "postponed",
        "p_other",
        "intervenant malade",
    );
    postpone.planned_start = Some("2026-12-10T09:00:00+01:00".to_owned());
    postpone.planned_end = Some("2026-12-10T12:30:00+01:00".to_owned());
    let person = |ts, kind: &str, by: &str, reason: Option<&str>| ControlEvent {
        ts,
        kind: kind.to_owned(),
        from: None,
        to: None,
        reason: reason.map(str::to_owned),
        action: None,
        by: Some(by.to_owned()),
        planned_start: None,
        planned_end: None,
    };
    c.control = vec![
        ControlEvent {
            ts: at(3, 8, 0),
            kind: "server_started".to_owned(),
            from: None,
            to: None,
            reason: None,
            action: None,
            by: None,
            planned_start: None,
            planned_end: None,
        },
        state(
            at(3, 10, 40),
            "suspend",
            "open",
            "suspended",
            "server",
            "connexions dégradées",
        ),
        state(at(3, 10, 55), "resume", "suspended", "open", "p_f", "ok"),
        person(at(3, 11, 0), "removed", "p_f", Some("propos déplacés")),
        person(at(3, 11, 5), "readmitted", "organiser", None),
        postpone,
    ];
    c.conditions.by_score.lost = 1;
    c.conditions.by_score.excellent = 379;
    c
}

#[test]
fn certificate_shows_the_course_of_the_session_and_the_conditions() {
    let c = controlled_certificate(Lang::Fr);
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    let text = joined(&pages);
    for expected in [
        "Déroulement de la séance",
        "3 décembre 2026, 10:40 — séance suspendue par cadre (automatique)\u{202F}: connexions dégradées",
        "10:55 — séance reprise par Jean Dupont\u{202F}: ok",
        "11:00 — exclusion de la personne par Jean Dupont\u{202F}: propos déplacés",
        "11:05 — réadmission de la personne par l'organisme",
        "16:00 — séance reportée par le formateur\u{202F}: intervenant malade — nouvelles dates\u{202F}: \
         jeudi 10 décembre 2026, 09:00–12:30 (Europe/Paris)",
        "Conditions de connexion\u{202F}: 402 min suivies — 379 excellentes, 20 bonnes, 2 médiocres, 1 perdue",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        !text.contains("08:00"),
        "server runs are not printed: {text}"
    );
    assert_inside(&pages, A4, 50.0);

    let c = controlled_certificate(Lang::En);
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    let text = joined(&pages);
    for expected in [
        "Course of the session",
        "3 December 2026, 10:40 — session suspended by cadre (automatic): connexions dégradées",
        "10:55 — session resumed by Jean Dupont: ok",
        "11:00 — the person was removed by Jean Dupont: propos déplacés",
        "11:05 — the person was re-admitted by the organisation",
        "16:00 — session postponed by the facilitator: intervenant malade — new dates: \
         Thursday 10 December 2026, 09:00–12:30 (Europe/Paris)",
        "Connection conditions: 402 min measured — 379 excellent, 20 good, 2 poor, 1 lost",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // Older entries without an action read by their states.
    let mut c = certificate(Lang::Fr, "Zoë");
    for e in &mut c.control {
        e.action = None;
        e.by = None;
    }
    let (pages, _) = certificate::layout(fonts(), &c).unwrap();
    let text = joined(&pages);
    assert!(
        text.contains("10:55 — séance reprise\u{202F}: réseau rétabli"),
        "{text}"
    );
}

#[test]
fn arabic_cyrillic_and_hebrew_names_use_their_fonts() {
    for name in ["محمد الأمين", "Мария Иванова", "דוד כהן", "Γιώργος"]
    {
        let pdf = certificate_pdf(&certificate(Lang::Fr, name)).unwrap();
        assert!(contains(&pdf, "pdfaid:part"), "{name}: every glyph found");
    }
    let pdf = certificate_pdf(&certificate(Lang::Fr, "محمد الأمين")).unwrap();
    assert!(contains(&pdf, "NotoSansArabic-Bold"));
    let pdf = certificate_pdf(&certificate(Lang::Fr, "דוד כהן")).unwrap();
    assert!(contains(&pdf, "NotoSansHebrew-Bold"));
}

#[test]
fn text_maps_back_to_unicode() {
    // Uncompressed, the ToUnicode maps can be read: the Arabic and Cyrillic
    // letters drawn map back to their code points.
    let c = certificate(Lang::Fr, "Мария محمد");
    let pdf = certificate::render(fonts(), &c, false).unwrap();
    let text = String::from_utf8_lossy(&pdf).to_uppercase();
    for code in ["041C", "0430", "0645", "062D"] {
        assert!(text.contains(&format!("<{code}>")), "U+{code} mapped");
    }
}

#[test]
fn arabic_is_joined_and_right_to_left() {
    let f = fonts();
    let word = f.line("محمد", Weight::Regular, 10.0);
    assert_eq!(word.runs.len(), 1);
    assert!(!word.missing);
    let joined: Vec<u32> = word.runs[0]
        .glyphs
        .iter()
        .map(|g| g.glyph_id.to_u32())
        .collect();
    let mut isolated: Vec<u32> = "محمد"
        .chars()
        .map(|c| {
            f.line(&c.to_string(), Weight::Regular, 10.0).runs[0].glyphs[0]
                .glyph_id
                .to_u32()
        })
        .collect();
    // Visual order is right to left: the last letter comes first.
    isolated.reverse();
    assert_ne!(joined, isolated, "contextual forms");
    assert_eq!(
        word.runs[0].glyphs[0].text_range,
        6..8,
        "the final د is leftmost"
    );

    // Mixed: a right-to-left paragraph puts the Arabic run on the right.
    let mixed = f.line("محمد (Mohamed)", Weight::Regular, 10.0);
    let arabic = mixed.runs.last().unwrap();
    assert_eq!(arabic.text, "محمد ");
    // A left-to-right paragraph keeps Latin first.
    let mixed = f.line("Mohamed محمد", Weight::Regular, 10.0);
    assert_eq!(mixed.runs[0].text, "Mohamed ");
    assert_eq!(mixed.runs[1].text, "محمد");
}

#[test]
fn long_text_is_cut_or_wrapped_to_fit() {
    let f = fonts();
    let long = NAMES[8];
    let cut = f.truncated(long, Weight::Regular, 8.0, 100.0);
    assert!(cut.width <= 100.0);
    assert!(cut.text.ends_with('…'), "{}", cut.text);
    let lines = f.wrapped(long, Weight::Regular, 8.0, 100.0);
    assert!(lines.len() > 2);
    assert!(lines.iter().all(|l| l.width <= 100.0));
    // A word longer than the line is cut between characters.
    let lines = f.wrapped(HASH, Weight::Bold, 11.0, 120.0);
    assert!(lines.len() > 1 && lines.iter().all(|l| l.width <= 120.0));
    assert_eq!(
        lines.iter().map(|l| l.text.as_str()).collect::<String>(),
        HASH
    );
    // Controls never reach the page.
    assert_eq!(
        f.line("a\tb\nc\u{202E}d", Weight::Regular, 8.0).text,
        "a b cd"
    );
}

#[test]
fn sheet_breaks_pages_and_numbers_them() {
    let s = sheet(35);
    let (pages, missing) = sheet::layout(fonts(), &s).unwrap();
    assert!(!missing);
    let n = pages.len();
    assert!(
        n >= 3,
        "35 people × 2 half-days need several pages, got {n}"
    );
    let by_page = texts(&pages);
    for (i, page) in by_page.iter().enumerate() {
        let number = format!("page {}/{}", i + 1, n);
        assert!(page.contains(&number), "{number}");
        assert!(
            page.iter()
                .any(|t| t.contains("1834 enregistrements") && t.contains(&s.tree_root)),
            "footer with the tree head on page {i}"
        );
    }
    let text = joined(&pages);
    for expected in [
        "Feuille d'émargement",
        "jeudi 3 décembre 2026, matin — prévu 09:00–12:30",
        "jeudi 3 décembre 2026, après-midi — prévu 14:00–17:30",
        "(suite)",
        "Première connexion",
        "Dernière déconnexion",
        "Contresigné",
        "Formateur",
        "Мария Иванова",
        "محمد الأمين",
        "Participant·e n° 34",
        "signé en ligne",
    ] {
        assert!(text.contains(expected), "missing {expected:?}");
    }
    // Everyone appears in both half-days, absent or not.
    assert_eq!(all_text(&pages).matches("Participant·e n° 10\n").count(), 2);
    // The very long name is cut to two lines.
    assert!(text.contains("Rochechouart") && text.contains('…'));
    assert_inside(&pages, A4_LANDSCAPE, 36.0);
    // Signatures are drawn.
    let strokes = pages
        .iter()
        .flatten()
        .filter(
            |op| matches!(op, Op::Lines { color, .. } if *color == super::layout::SIGNATURE_INK),
        )
        .count();
    // One drawing per recorded sign-in that came with one.
    let expected = s
        .people
        .iter()
        .flat_map(|p| {
            p.attendance
                .half_days
                .iter()
                .filter(|h| h.signed_in_at.is_some() && p.signatures.contains_key(&h.slot))
        })
        .count();
    assert!(expected > 30);
    assert_eq!(strokes, expected);

    let pdf = attendance_sheet_pdf(&s).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(page_count(&pdf), n);
    assert!(contains(&pdf, "NotoSansArabic-Regular"));
    assert!(contains(&pdf, "NotoSansHebrew-Regular"));
}

#[test]
fn small_sheet_fits_on_one_page() {
    let (pages, _) = sheet::layout(fonts(), &sheet(3)).unwrap();
    assert_eq!(pages.len(), 1);
    let (pages, _) = sheet::layout(fonts(), &sheet(0)).unwrap();
    assert!(all_text(&pages).contains("Personne n'est inscrit."));
}

#[test]
fn output_is_deterministic() {
    let c = certificate(Lang::Fr, "Éloïse Lefèvre-Cœur");
    assert_eq!(certificate_pdf(&c).unwrap(), certificate_pdf(&c).unwrap());
    let s = sheet(12);
    assert_eq!(
        attendance_sheet_pdf(&s).unwrap(),
        attendance_sheet_pdf(&s).unwrap()
    );
}

#[test]
fn characters_without_a_font_fall_back_to_plain_pdf() {
    let c = certificate(Lang::Fr, "王小明");
    let (_, missing) = certificate::layout(fonts(), &c).unwrap();
    assert!(missing);
    let pdf = certificate_pdf(&c).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(!contains(&pdf, "pdfaid:part"));
}

#[test]
fn bad_time_zone_is_an_error() {
    let mut c = certificate(Lang::Fr, "Zoë");
    c.session.time_zone = "Mars/Olympus".to_owned();
    assert!(matches!(certificate_pdf(&c), Err(RenderError::TimeZone(_))));
}

#[test]
fn formats() {
    assert_eq!(Lang::Fr.duration(12_480), "3 h 28 min");
    assert_eq!(Lang::Fr.duration(2_700), "45 min");
    assert_eq!(Lang::Fr.duration(25_200), "7 h");
    assert_eq!(Lang::Fr.percent(0.875), "87,5\u{202F}%");
    assert_eq!(Lang::En.percent(1.0), "100%");
    assert_eq!(Lang::Fr.percent(0.9999), "100\u{202F}%");
    assert_eq!(
        labels::span(Lang::Fr, Paris, at(3, 9, 0), at(3, 12, 30)),
        "jeudi 3 décembre 2026, 09:00–12:30 (Europe/Paris)"
    );
    assert_eq!(
        labels::span(Lang::Fr, Paris, at(1, 9, 0), at(4, 17, 0)),
        "du mardi 1er décembre 2026, 09:00 au vendredi 4 décembre 2026, 17:00 (Europe/Paris)"
    );
    assert_eq!(
        labels::time_span(Lang::Fr, Paris, at(3, 23, 50), Some(at(4, 0, 10))),
        "3 décembre 2026, 23:50 – 4 décembre 2026, 00:10"
    );
    assert_eq!(
        labels::time_span(Lang::En, Paris, at(3, 9, 30), None),
        "3 December 2026, 09:30–…"
    );
    assert_eq!(Lang::Fr.stop_reason("storage_full"), "stockage plein");
    assert_eq!(Lang::En.stop_reason("something_new"), "something_new");
    assert_eq!(Lang::parse("fr-FR"), Some(Lang::Fr));
    assert_eq!(Lang::parse("EN"), Some(Lang::En));
    assert_eq!(Lang::parse("de"), None);
}

/// Five days, a flaky connection, several suspensions: two pages, the table
/// continued.
fn long_certificate() -> Certificate {
    let mut c = certificate(Lang::Fr, "Nguyễn Thị Minh Khai");
    c.session.planned_start = at(1, 9, 0);
    c.session.planned_end = at(5, 17, 30);
    c.attendance = attendance(
        "p_4k9d",
        (1..=5)
            .flat_map(|d| {
                [
                    half_day(d, false, (8, 55), (12, 30), true),
                    half_day(d, true, (14, 5), (17, 30), d != 4),
                ]
            })
            .collect(),
    );
    let hd = &mut c.attendance.half_days[1];
    let base = hd.planned_start;
    hd.intervals = (0..40)
        .map(|k| interval(base + k * 300_000, base + k * 300_000 + 240_000))
        .collect();
    c.control = (1..=4)
        .map(|k| {
            state(
                at(k, 15, 0),
                "suspend",
                "open",
                "suspended",
                "p_f",
                "panne du fournisseur de visioconférence, reprise à l'heure prévue",
            )
        })
        .collect();
    c
}

/// The PDF maps the lam-alef ligature of "الأمين" to "لأ", in logical order;
/// poppler reverses right-to-left text character by character, inside
/// ligatures too, and prints "أل" (a known extractor limitation, shared by
/// pdfminer and PyMuPDF). So that one swap is accepted, nothing else.
fn has_arabic_name(text: &str) -> bool {
    text.contains("محمد الأمين") || text.contains("محمد األمين")
}

/// Writes the documents into `target/render-check/`, checks their text with
/// `pdftotext` and renders them with `pdftoppm -r 60` to look at.
#[test]
#[ignore = "needs poppler-utils (pdftotext, pdftoppm); run by hand"]
fn poppler_check() {
    use std::process::Command;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/render-check");
    std::fs::create_dir_all(&dir).unwrap();
    let mut quizzed = recorded_certificate(Lang::Fr, "Karim Benali");
    quizzed.quizzes = Some(cadre_protocol::quiz::QuizTally {
        opened: 2,
        completed: 2,
    });
    let documents = [
        (
            "certificate-fr",
            certificate_pdf(&certificate(Lang::Fr, "Éloïse Lefèvre-Cœur")).unwrap(),
        ),
        (
            "certificate-ar",
            certificate_pdf(&certificate(Lang::Fr, "محمد الأمين")).unwrap(),
        ),
        (
            "certificate-en",
            certificate_pdf(&certificate(Lang::En, "Мария Иванова")).unwrap(),
        ),
        (
            "certificate-long",
            certificate_pdf(&long_certificate()).unwrap(),
        ),
        (
            "certificate-recorded",
            certificate_pdf(&recorded_certificate(Lang::Fr, "Éloïse Lefèvre-Cœur")).unwrap(),
        ),
        (
            "sheet-35",
            attendance_sheet_pdf(&sheet_with_course(35)).unwrap(),
        ),
        ("certificate-quizzes", certificate_pdf(&quizzed).unwrap()),
    ];
    for (name, pdf) in &documents {
        let path = dir.join(format!("{name}.pdf"));
        std::fs::write(&path, pdf).unwrap();
        let out = Command::new("pdftotext")
            .args(["-layout"])
            .arg(&path)
            .arg("-")
            .output()
            .expect("pdftotext (poppler-utils)");
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        std::fs::write(dir.join(format!("{name}.txt")), &text).unwrap();
        let ok = Command::new("pdftoppm")
            .args(["-r", "60", "-png"])
            .arg(&path)
            .arg(dir.join(name))
            .status()
            .expect("pdftoppm (poppler-utils)");
        assert!(ok.success());
        let info = Command::new("pdfinfo").arg(&path).output().unwrap();
        let info = String::from_utf8(info.stdout).unwrap();
        println!("{name}: {} bytes\n{info}", pdf.len());
        match *name {
            "certificate-fr" => {
                for s in [
                    "Relevé de présence",
                    "Éloïse Lefèvre-Cœur",
                    HASH,
                    "cadre verify",
                    "Accords et enregistrements",
                ] {
                    assert!(text.contains(s), "{name}: {s:?}");
                }
            }
            "certificate-ar" => assert!(has_arabic_name(&text), "{name}"),
            "certificate-recorded" => {
                for s in [
                    "Accords et enregistrements",
                    "accordé le 3 décembre 2026 à 09:01, retiré à 10:15",
                    "fichiers supprimés le",
                ] {
                    assert!(text.contains(s), "{name}: {s:?}");
                }
            }
            "certificate-long" => {
                assert!(
                    text.contains("(suite)") && text.contains("page 2/2"),
                    "{name}"
                )
            }
            "certificate-en" => {
                assert!(text.contains("Мария Иванова") && text.contains("Attendance record"))
            }
            "certificate-quizzes" => {
                assert!(text.contains("Évaluations réalisées"), "{name}: {text}")
            }
            _ => {
                for s in ["Feuille d'émargement", "Мария Иванова", "page 1/"] {
                    assert!(text.contains(s), "{name}: {s:?}");
                }
                assert!(has_arabic_name(&text), "{name}");
                let pages = info
                    .lines()
                    .find_map(|l| l.strip_prefix("Pages:"))
                    .unwrap()
                    .trim()
                    .parse::<usize>()
                    .unwrap();
                assert_eq!(pages, page_count(pdf));
            }
        }
    }
    println!("written to {}", dir.display());
}

/// The height the text of a page spans, from its first line to its last
/// above the footer.
fn content_height(page: &[Op], bottom: f32) -> f32 {
    let ys: Vec<f32> = page
        .iter()
        .filter_map(|op| match op {
            Op::Text { y, .. } if *y < bottom => Some(*y),
            _ => None,
        })
        .collect();
    let top = ys.iter().copied().fold(f32::MAX, f32::min);
    let last = ys.iter().copied().fold(0.0, f32::max);
    last - top
}

#[test]
fn record_body_is_in_plain_words_and_its_annex_is_never_a_stray_line() {
    const ANNEX: &str = "Annexe — Vérification électronique, pour l'auditeur";
    let shapes = [
        certificate(Lang::Fr, "Éloïse Lefèvre-Cœur"),
        recorded_certificate(Lang::Fr, "Éloïse Lefèvre-Cœur"),
        controlled_certificate(Lang::Fr),
        long_certificate(),
    ];
    for (n, c) in shapes.iter().enumerate() {
        let (pages, _) = certificate::layout(fonts(), c).unwrap();
        let text = joined(&pages);
        let at = text
            .find(ANNEX)
            .unwrap_or_else(|| panic!("shape {n}: no annex"));
        let body = &text[..at];
        for word in [
            "JWS",
            "jws",
            "taille de l'arbre",
            "racine",
            "EdDSA",
            HASH,
            ROOT,
        ] {
            assert!(!body.contains(word), "shape {n}: {word:?} before the annex");
        }
        let annex = &text[at..];
        for expected in [HASH, ROOT, "k_2026_01", "cadre verify", "Comment vérifier"] {
            assert!(
                annex.contains(expected),
                "shape {n}: {expected:?} in the annex"
            );
        }
        // The annex is the end, whole on the last page: never a page with
        // a line or two.
        let last = texts(&pages).pop().unwrap().join(" ");
        assert!(last.contains(ANNEX) && last.contains(ROOT), "shape {n}");
        if pages.len() > 1 {
            // A third of the page's usable height, at least.
            let height = content_height(pages.last().unwrap(), A4.1 - 60.0);
            assert!(
                height > 240.0,
                "shape {n}: the last page holds {height} pt of content"
            );
        }
    }
    // A one-day record with a suspension is one page, annex included.
    let (pages, _) = certificate::layout(fonts(), &shapes[0]).unwrap();
    assert_eq!(pages.len(), 1);
}

/// [`sheet`] with a suspension, a resumption, a postponement and the end,
/// each given with a reason and who acted (which the sheet must not print).
fn sheet_with_course(people: usize) -> Sheet {
    let mut s = sheet(people);
    let mut postpone = state(
        at(3, 16, 0),
        "postpone",
        "open",
        "postponed",
        "p_f",
        "intervenant malade",
    );
    postpone.planned_start = Some("2026-12-10T09:00:00+01:00".to_owned());
    postpone.planned_end = Some("2026-12-10T12:30:00+01:00".to_owned());
    // Given with their reasons and actors: the sheet must not print them.
    s.course = vec![
        state(
            at(3, 10, 56),
            "suspend",
            "running",
            "suspended",
            "p_f",
            "coupure réseau chez Karim",
        ),
        state(
            at(3, 10, 57),
            "resume",
            "suspended",
            "running",
            "p_f",
            "réseau rétabli",
        ),
        postpone,
        state(
            at(10, 12, 31),
            "end",
            "running",
            "ended",
            "p_f",
            "fin anticipée",
        ),
    ];
    s
}

#[test]
fn sheet_states_the_course_without_reasons_or_names() {
    let mut s = sheet_with_course(3);
    for lang in [Lang::Fr, Lang::En] {
        s.lang = lang;
        let (pages, _) = sheet::layout(fonts(), &s).unwrap();
        let text = joined(&pages);
        let expected: &[&str] = match lang {
            Lang::Fr => &[
                "Déroulement de la séance",
                "3 décembre 2026 — séance suspendue 10:56–10:57",
                "3 décembre 2026 — séance reportée au jeudi 10 décembre 2026, 09:00–12:30",
                "10 décembre 2026 — séance terminée à 12:31",
            ],
            Lang::En => &[
                "Course of the session",
                "3 December 2026 — session suspended 10:56–10:57",
                "10 December 2026 — session ended at 12:31",
            ],
        };
        for e in expected {
            assert!(text.contains(e), "missing {e:?} in:\n{text}");
        }
        for secret in ["Karim", "réseau", "malade", "anticipée", "Jean Dupont"] {
            assert!(!text.contains(secret), "{secret:?} printed:\n{text}");
        }
    }
    // Nothing happened: one line says so.
    s.course.clear();
    s.lang = Lang::Fr;
    let (pages, _) = sheet::layout(fonts(), &s).unwrap();
    assert!(joined(&pages).contains("Aucune suspension, aucun report."));
}

#[test]
fn the_sheet_ends_with_the_organisations_stamp_and_signature() {
    let mut s = sheet(3);
    let (pages, _) = sheet::layout(fonts(), &s).expect("laid out");
    assert!(
        !all_text(&pages).contains("cachet et signature"),
        "no box without a representative"
    );
    s.stamp = Some(SheetStamp {
        representative: "Claire Dubois, directrice".into(),
        picture: Some(include_bytes!("stamp-example.png").to_vec()),
    });
    let (pages, _) = sheet::layout(fonts(), &s).expect("laid out");
    let last = pages.last().expect("a page");
    let text = texts(std::slice::from_ref(last)).concat().join(" ");
    assert!(text.contains("cachet et signature"), "{text}");
    assert!(text.contains("Claire Dubois, directrice"), "{text}");
    let picture = last
        .iter()
        .find_map(|op| match op {
            Op::Picture { x, y, w, h, .. } => Some((*x, *y, *w, *h)),
            _ => None,
        })
        .expect("the picture, on the last page");
    let boxed = last.iter().any(|op| {
        matches!(op, Op::Rect { x, y, w, h, stroke: Some(_), .. }
            if picture.0 >= *x && picture.1 >= *y
                && picture.0 + picture.2 <= x + w && picture.1 + picture.3 <= y + h)
    });
    assert!(boxed, "the picture lies in the signature box");
    assert_inside(&pages, A4_LANDSCAPE, 20.0);
}
