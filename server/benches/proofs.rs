//! Time to issue a whole session's documents from the ledger: a 7-hour
//! session with 30 participants and a realistic event volume, then every
//! participant's signed proof (ledger read, tree head, inclusion paths,
//! derivation, JWS) and the attendance sheet (JSON/CSV and PDF).
//!
//! `cargo bench -p cadre-server --bench proofs`. The events are appended
//! through the real ledger (group commit, SQLite file); their server times
//! are compressed into the run, which changes nothing for the work measured.

use cadre_protocol::api::{NewPerson, NewSession};
use cadre_protocol::evidence::kind;
use cadre_protocol::{Role, SessionKind};
use cadre_server::evidence::ledger::NewEvent;
use cadre_server::evidence::render::Lang;
use serde_json::json;
use std::time::{Duration, Instant};

const PARTICIPANTS: usize = 30;
const HOURS: i64 = 7;
const RUNS: usize = 5;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = cadre_server::Config::new(dir.path());
    let opened = cadre_server::open(&config, "http://127.0.0.1:8080".into()).expect("open");
    let app = opened.app;
    let now = chrono::Utc::now();
    let mut people = vec![NewPerson {
        name: "Claire Martin".into(),
        email: None,
        role: Role::Facilitator,
        lang: None,
        time_zone: None,
    }];
    for i in 0..PARTICIPANTS {
        people.push(NewPerson {
            name: format!("Participant·e {i} Ñúñez-Łukasz"),
            email: None,
            role: Role::Participant,
            lang: None,
            time_zone: None,
        });
    }
    let view = app
        .create_session(NewSession {
            title: "Gestion de projet — journée complète".into(),
            kind: SessionKind::Formation,
            organisation: "Organisme de formation".into(),
            planned_start: (now - chrono::Duration::hours(HOURS)).to_rfc3339(),
            planned_end: now.to_rfc3339(),
            time_zone: Some("Europe/Paris".into()),
            sponsor: None,
            media: None,
            people,
        })
        .await
        .expect("session");
    let sid = view.id.clone();
    let facilitator = view.people[0].id.clone();
    let slots: Vec<String> =
        cadre_protocol::attendance::slots(&cadre_protocol::attendance::Schedule {
            planned_start: (now - chrono::Duration::hours(HOURS)).timestamp_millis(),
            planned_end: now.timestamp_millis(),
            time_zone: "Europe/Paris".into(),
        })
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();

    // Per participant-hour, about: 6 heartbeat summaries, 6 presence
    // changes, a media change; per day: 3 connections (two reconnections),
    // a sign-in and a countersignature per half-day.
    let started = Instant::now();
    let mut events = Vec::new();
    for p in &view.people[1..] {
        let ev = |kind: &'static str, payload: serde_json::Value| NewEvent {
            sid: sid.clone(),
            kind,
            actor: p.id.clone(),
            payload,
            client_ts: None,
        };
        for c in 0..3 {
            let cid = format!("c_{c}");
            events.push(ev(kind::CONNECTION_OPENED, json!({"connection_id": cid, "ip": "192.0.2.1", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156"})));
            for h in 0..(HOURS as usize * 2) {
                events.push(ev(
                    kind::HEARTBEATS,
                    json!({"connection_id": cid, "from": h, "to": h + 1, "count": 60}),
                ));
                events.push(ev(
                    kind::VISIBILITY,
                    json!({"connection_id": cid, "visible": h % 2 == 1}),
                ));
                events.push(ev(
                    kind::FOCUS,
                    json!({"connection_id": cid, "focused": h % 2 == 1}),
                ));
            }
            events.push(ev(
                kind::MEDIA,
                json!({"connection_id": cid, "camera": true, "microphone": c != 1}),
            ));
            events.push(ev(
                kind::CONNECTION_CLOSED,
                json!({"connection_id": cid, "reason": "disconnected", "last_seen": 0}),
            ));
        }
        for slot in &slots {
            events.push(ev(kind::SIGNED_IN, json!({"slot": slot, "signature": [[[0,0,0],[300,600,40],[700,200,90],[1000,900,150]]]})));
            events.push(NewEvent {
                sid: sid.clone(),
                kind: kind::COUNTERSIGNED,
                actor: facilitator.clone(),
                payload: json!({"slot": slot, "participant": p.id}),
                client_ts: None,
            });
        }
    }
    let total = events.len();
    let ledger = app.ledger().clone();
    let tasks: Vec<_> = events
        .into_iter()
        .map(|e| {
            let l = ledger.clone();
            tokio::spawn(async move { l.append(e).await.expect("append") })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    println!(
        "ledger: {total} entries for {PARTICIPANTS} participants × {HOURS} h ({:.0} per participant-hour), appended in {:?}",
        total as f64 / (PARTICIPANTS as f64 * HOURS as f64),
        started.elapsed()
    );

    let mut proofs = Vec::new();
    let mut singles = Vec::new();
    let mut sheets = Vec::new();
    let mut sheet_pdfs = Vec::new();
    let mut certs = Vec::new();
    let mut proof_bytes = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        let pids: Vec<String> = view.people[1..].iter().map(|p| p.id.clone()).collect();
        let issued = app.issue_proofs(&sid, &pids).await.expect("proofs");
        proofs.push(t.elapsed());
        proof_bytes = issued[0].jws.len();
        let t = Instant::now();
        for p in &view.people[1..4] {
            app.issue_proof(&sid, &p.id).await.expect("proof");
        }
        singles.push(t.elapsed() / 3);
        let t = Instant::now();
        let sheet = app.attendance_sheet(&sid).await.expect("sheet");
        let _csv = sheet.to_csv();
        sheets.push(t.elapsed());
        let t = Instant::now();
        let pdf = app.sheet_pdf(&sid, Lang::Fr).await.expect("sheet pdf");
        sheet_pdfs.push(t.elapsed());
        assert!(pdf.starts_with(b"%PDF"));
        let t = Instant::now();
        for p in &view.people[1..] {
            app.certificate_pdf(&sid, &p.id, Lang::Fr)
                .await
                .expect("certificate");
        }
        certs.push(t.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (p, s, sp, c) = (
        median(&mut proofs),
        median(&mut sheets),
        median(&mut sheet_pdfs),
        median(&mut certs),
    );
    let single = median(&mut singles);
    println!("median of {RUNS} runs:");
    println!("  one proof on its own (download):   {single:?}");
    println!(
        "  {PARTICIPANTS} signed proofs, one batch:   {p:?}  ({} KB each)",
        proof_bytes / 1024
    );
    println!("  attendance sheet (derive + CSV):   {s:?}");
    println!("  attendance sheet PDF:              {sp:?}");
    println!("  proofs + sheet PDF (the target):   {:?}", p + sp);
    println!("  {PARTICIPANTS} certificate PDFs (incl. proofs): {c:?}");
    app.ledger().shutdown().await.expect("shutdown");
}
