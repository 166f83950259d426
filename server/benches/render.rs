//! Time to render proof PDFs: the attendance sheet of 30 participants over
//! two half-days, and their 30 certificates. Prints figures; asserts none.
//!
//! `cargo bench -p cadre-server --bench render`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cadre_protocol::attendance::{HalfDay, Interval, PersonAttendance, Totals};
use cadre_protocol::{Role, SessionKind};
use cadre_server::evidence::render::{
    Certificate, Lang, Organisation, Renderer, SessionInfo, Sheet, SheetPerson,
    attendance_sheet_pdf, certificate_pdf,
};
use chrono::TimeZone;
use chrono_tz::Europe::Paris;

const PEOPLE: usize = 30;
const ROUNDS: usize = 15;

const NAMES: [&str; 6] = [
    "Éloïse Lefèvre-Cœur",
    "Мария Иванова",
    "محمد الأمين",
    "Γιώργος Παπαδόπουλος",
    "דוד כהן",
    "Nguyễn Thị Minh Khai",
];

fn at(h: u32, m: u32) -> i64 {
    Paris
        .with_ymd_and_hms(2026, 12, 3, h, m, 0)
        .single()
        .expect("a valid time")
        .timestamp_millis()
}

fn half_day(pm: bool, i: usize) -> HalfDay {
    let (ps, pe) = if pm {
        (at(14, 0), at(17, 30))
    } else {
        (at(9, 0), at(12, 30))
    };
    let start = ps - 120_000 + i as i64 * 20_000;
    let cut = ps + 5_400_000;
    let local = |ms: i64| Paris.timestamp_millis_opt(ms).unwrap().to_rfc3339();
    HalfDay {
        slot: format!("2026-12-03.{}", if pm { "pm" } else { "am" }),
        planned_start: ps,
        planned_end: pe,
        planned_parts: Vec::new(),
        intervals: vec![
            Interval {
                start,
                end: cut,
                start_local: local(start),
                end_local: local(cut),
            },
            Interval {
                start: cut + 90_000,
                end: pe,
                start_local: local(cut + 90_000),
                end_local: local(pe),
            },
        ],
        connected_seconds: 12_510,
        present_seconds: 12_100,
        completion: 0.9603,
        signed_in_at: Some(ps + 200_000),
        countersigned_at: Some(ps + 600_000),
    }
}

fn attendance(i: usize) -> PersonAttendance {
    PersonAttendance {
        person: format!("p_{i}"),
        half_days: vec![half_day(false, i), half_day(true, i)],
        totals: Totals {
            planned_seconds: 25_200,
            connected_seconds: 25_020,
            present_seconds: 24_200,
            completion: 0.9603,
        },
        first_join: Some(at(8, 58)),
        last_leave: Some(at(17, 30)),
    }
}

fn name(i: usize) -> String {
    format!("{} {i}", NAMES[i % NAMES.len()])
}

fn organisation() -> Organisation {
    Organisation {
        name: "Atelier Cœur de Compétences".to_owned(),
        details: vec!["12 rue de l'Œuvre, 69002 Lyon".to_owned()],
    }
}

fn session() -> SessionInfo {
    SessionInfo {
        id: "s_8f3k2m9q".to_owned(),
        title: "Prévenir les risques psychosociaux".to_owned(),
        kind: SessionKind::Formation,
        planned_start: at(9, 0),
        planned_end: at(17, 30),
        time_zone: "Europe/Paris".to_owned(),
    }
}

fn sheet() -> Sheet {
    let strokes: Vec<Vec<[i64; 3]>> = vec![
        (0..60)
            .map(|k| [50 + k * 15, 160 + ((k * 37) % 200) - 100, k * 16])
            .collect(),
    ];
    Sheet {
        stamp: None,
        lang: Lang::Fr,
        organisation: organisation(),
        session: session(),
        course: Vec::new(),
        people: (0..PEOPLE)
            .map(|i| SheetPerson {
                name: name(i),
                role: if i == 0 {
                    Role::Facilitator
                } else {
                    Role::Participant
                },
                attendance: attendance(i),
                signatures: BTreeMap::from([
                    ("2026-12-03.am".to_owned(), strokes.clone()),
                    ("2026-12-03.pm".to_owned(), strokes.clone()),
                ]),
            })
            .collect(),
        slots: Vec::new(),
        tree_size: 4_210,
        tree_root: "9b1c4e7f2a5d8c0b3e6f9a2d5c8b1e4f7a0d3c6b9e2f5a8d1c4b7e0f3a6d9c2b".to_owned(),
        generated_at: at(18, 30),
    }
}

fn certificates() -> Vec<Certificate> {
    (0..PEOPLE)
        .map(|i| Certificate {
            lang: Lang::Fr,
            organisation: organisation(),
            session: session(),
            person_id: format!("p_{i}"),
            person_name: name(i),
            person_role: Role::Participant,
            attendance: attendance(i),
            control: Vec::new(),
            actors: Default::default(),
            conditions: Default::default(),
            quizzes: None,
            consents: Vec::new(),
            recordings: Vec::new(),
            proof_sha256: format!("{i:064x}"),
            key_id: "k_2026_01".to_owned(),
            tree_size: 412,
            tree_root: format!("{:064x}", 412),
            jwks_url: "https://formation.example.fr/.well-known/jwks.json".to_owned(),
            issued_at: at(18, 4),
            generated_at: at(18, 30),
        })
        .collect()
}

/// Runs `f` `ROUNDS` times after one warm-up; returns (median, min).
fn time(mut f: impl FnMut()) -> (Duration, Duration) {
    f();
    let mut runs: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    runs.sort();
    (runs[ROUNDS / 2], runs[0])
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let t = Instant::now();
    let renderer = Renderer::new().expect("bundled fonts");
    println!("load the bundled fonts: {}", ms(t.elapsed()));

    let sheet = sheet();
    let pdf = attendance_sheet_pdf(&sheet).expect("sheet");
    let sheet_pages = String::from_utf8_lossy(&pdf)
        .matches("/Type /Page\n")
        .count();
    let (median, min) = time(|| {
        renderer.attendance_sheet_pdf(&sheet).expect("sheet");
    });
    println!(
        "sheet, {PEOPLE} people × 2 half-days ({} bytes, {} pages): median {}, min {}",
        pdf.len(),
        sheet_pages,
        ms(median),
        ms(min)
    );

    let certificates = certificates();
    let bytes: usize = certificates
        .iter()
        .map(|c| certificate_pdf(c).expect("certificate").len())
        .sum();
    let (median, min) = time(|| {
        for c in &certificates {
            renderer.certificate_pdf(c).expect("certificate");
        }
    });
    println!(
        "{PEOPLE} certificates ({} bytes on average): median {} ({} each), min {}",
        bytes / PEOPLE,
        ms(median),
        ms(median / PEOPLE as u32),
        ms(min)
    );
}
