//! Nothing about other people on a person's documents (§2 and the
//! removal of §2), through a real server and real WebSocket clients.
//!
//! A session of four: Claire Martin facilitates; Karim Benali, Léa Moreau
//! and Paul Girard take part. Claire suspends the session with a reason that
//! names someone ("coupure réseau chez Karim"), resumes it, then removes
//! Paul with a reason. Then every document each person can get is read and
//! checked for exactly what it must and must not say:
//!
//! - the relevé de présence (the text its PDF draws) and the signed proof
//!   (JWS payload, and the JSON the verification bundle is built from) state
//!   the session's suspension with its reason, which everyone was told live,
//!   and the person's own removal; never another person's removal, name or
//!   reason;
//! - the documents a funder reads (sheet CSV in both forms, sheet JSON,
//!   sheet PDF, the sponsor's report) carry no free-text reason, no one's
//!   removal, and no one's name but those the sheet lists (the sponsor's
//!   report: only who agreed to be named); the course of the session is
//!   stated there without why or who.
//!
//! The removal's reason reaches the removed person and the facilitators
//! only; the removed person's link still opens their own documents, and
//! nothing else.

use cadre_protocol::Role;
use cadre_protocol::api::SessionView;
use cadre_protocol::evidence::kind;
use cadre_server::evidence::ledger::NewEvent;
use cadre_server::evidence::render::{self, Lang};
use cadre_tests::{StatusCode, TestServer, claims_of, person};
use serde_json::{Value, json};

const FOUR: [(&str, Role); 4] = [
    ("Claire Martin", Role::Facilitator),
    ("Karim Benali", Role::Participant),
    ("Léa Moreau", Role::Participant),
    ("Paul Girard", Role::Participant),
];

const SUSPENSION: &str = "coupure réseau chez Karim";
const RESUMPTION: &str = "réseau rétabli";
const REMOVAL: &str = "propos irrespectueux répétés";

/// The session after the suspension, the resumption and Paul's removal,
/// with the notices each connected person got for the removal.
struct Played {
    server: TestServer,
    session: SessionView,
    /// The `session_state` of the removal as each person received it, by
    /// name.
    removal_notices: Vec<(&'static str, Value)>,
}

async fn play() -> Played {
    let server = TestServer::start().await;
    let session = server.create_session(&FOUR).await;
    let claire = &mut server.join(&session, "Claire Martin").await;
    let karim = &mut server.join(&session, "Karim Benali").await;
    let lea = &mut server.join(&session, "Léa Moreau").await;
    let paul = &mut server.join(&session, "Paul Girard").await;

    claire
        .send_json(&json!({"type": "control", "action": "suspend", "reason": SUSPENSION}))
        .await;
    for c in [&mut *karim, &mut *lea, &mut *paul, &mut *claire] {
        let m = c.session_notice("suspend").await;
        assert_eq!(
            m["notice"]["reason"], SUSPENSION,
            "a session's reason is everyone's"
        );
    }
    claire
        .send_json(&json!({"type": "control", "action": "resume", "reason": RESUMPTION}))
        .await;
    for c in [&mut *karim, &mut *lea, &mut *paul, &mut *claire] {
        c.session_notice("resume").await;
    }
    let paul_id = paul.id.clone();
    claire
        .send_json(
            &json!({"type": "control", "action": "remove", "reason": REMOVAL,
                           "participant": paul_id}),
        )
        .await;
    let mut removal_notices = Vec::new();
    for (name, c) in [
        ("Claire Martin", &mut *claire),
        ("Karim Benali", &mut *karim),
        ("Léa Moreau", &mut *lea),
        ("Paul Girard", &mut *paul),
    ] {
        removal_notices.push((name, c.session_notice("remove").await));
    }
    server.wait_ledger(&session.id, kind::REMOVED, 1).await;
    Played {
        server,
        session,
        removal_notices,
    }
}

fn token_of(session: &SessionView, name: &str) -> String {
    person(session, name).link.token.clone()
}

fn id_of(session: &SessionView, name: &str) -> String {
    person(session, name).id.clone()
}

/// GET with a join token: status, headers, body.
async fn get(
    server: &TestServer,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let resp = server
        .http()
        .get(server.url(&format!("{path}{sep}token={token}")))
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.expect("body").to_vec())
}

fn code(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Everything a person can get about themselves, as text: their relevé
/// (the words its PDF draws), their signed proof's payload and the proof
/// JSON the verification bundle is made of. The PDF itself is fetched with
/// their own link and must be a PDF with a name they recognise.
async fn own_documents(p: &Played, name: &str) -> Vec<(&'static str, String)> {
    let (server, sid) = (&p.server, p.session.id.as_str());
    let (pid, token) = (id_of(&p.session, name), token_of(&p.session, name));

    let (status, headers, pdf) = get(
        server,
        &format!("/api/sessions/{sid}/proofs/{pid}/pdf"),
        &token,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{name}'s relevé: {}",
        String::from_utf8_lossy(&pdf)
    );
    assert!(pdf.starts_with(b"%PDF-"));
    let disposition = headers["content-disposition"]
        .to_str()
        .expect("ASCII header");
    let slug = cadre_tests_slug(name);
    assert!(
        disposition.contains(&format!(
            "filename=\"releve-presence-gestion-de-projet-module-2-{slug}-"
        )) && disposition.contains("filename*=UTF-8''Relev%C3%A9%20de%20pr%C3%A9sence%20-%20"),
        "{disposition}"
    );

    let (_, record) = server
        .app()
        .attendance_record(sid, &pid, Lang::Fr)
        .await
        .expect("the relevé's input");
    let text = render::certificate_text(&record).expect("the relevé's text");
    assert!(
        text.contains("Relevé de présence") && text.contains(name),
        "{text}"
    );

    let (status, _, jws) = get(server, &format!("/api/sessions/{sid}/proofs/{pid}"), &token).await;
    assert_eq!(status, StatusCode::OK, "{name}'s proof");
    let jws = String::from_utf8(jws).expect("text");
    let payload = claims_of(&jws).to_string();

    let (status, _, bundle) = get(
        server,
        &format!("/api/sessions/{sid}/proofs/{pid}/json"),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{name}'s proof JSON");
    let bundle: Value = serde_json::from_slice(&bundle).expect("JSON");
    let bundle = bundle["proof"].to_string();
    vec![("relevé", text), ("proof", payload), ("bundle", bundle)]
}

/// The ASCII slug of the four names, as the file name has it.
fn cadre_tests_slug(name: &str) -> &'static str {
    match name {
        "Claire Martin" => "claire-martin",
        "Karim Benali" => "karim-benali",
        "Léa Moreau" => "lea-moreau",
        _ => "paul-girard",
    }
}

fn assert_has(what: &str, text: &str, expected: &str) {
    assert!(
        text.contains(expected),
        "{what} lacks {expected:?}:\n{text}"
    );
}

fn assert_lacks(what: &str, text: &str, secret: &str) {
    assert!(!text.contains(secret), "{what} shows {secret:?}:\n{text}");
}

#[tokio::test]
async fn each_persons_documents_show_nothing_of_the_others() {
    let p = play().await;
    let paul_id = id_of(&p.session, "Paul Girard");

    // Karim and Léa: the session's suspension with its reason (told to
    // everyone live), nothing of Paul's removal, no one else's name.
    for (name, others) in [
        ("Karim Benali", ["Léa Moreau", "Paul Girard"]),
        ("Léa Moreau", ["Karim Benali", "Paul Girard"]),
    ] {
        for (what, text) in own_documents(&p, name).await {
            let what = format!("{name}'s {what}");
            assert_has(&what, &text, SUSPENSION);
            for secret in [REMOVAL, others[0], others[1], "Girard", paul_id.as_str()] {
                assert_lacks(&what, &text, secret);
            }
        }
    }
    // Paul: his own removal and its reason, by whom in his relevé; no one
    // else's name.
    for (what, text) in own_documents(&p, "Paul Girard").await {
        let what = format!("Paul's {what}");
        assert_has(&what, &text, REMOVAL);
        for secret in ["Karim Benali", "Léa Moreau"] {
            assert_lacks(&what, &text, secret);
        }
        if what.ends_with("relevé") {
            assert_has(&what, &text, "exclusion de la personne par Claire Martin");
        }
    }
    // Claire removed Paul, yet her own documents are about her: not his
    // removal, his reason or his name.
    for (what, text) in own_documents(&p, "Claire Martin").await {
        let what = format!("Claire's {what}");
        assert_has(&what, &text, SUSPENSION);
        for secret in [
            REMOVAL,
            "Paul Girard",
            "Karim Benali",
            "Léa Moreau",
            paul_id.as_str(),
        ] {
            assert_lacks(&what, &text, secret);
        }
    }
}

#[tokio::test]
async fn documents_for_funders_carry_no_reason_and_state_the_course_neutrally() {
    let p = play().await;
    let (server, sid) = (&p.server, p.session.id.as_str());
    let claire = token_of(&p.session, "Claire Martin");
    let reasons = [
        SUSPENSION,
        RESUMPTION,
        REMOVAL,
        "coupure",
        "exclusion",
        "retiré",
    ];

    // The sheet, as the facilitator gets it: everyone's name (it is the
    // sheet), no reason, no removal.
    let mut sheets = Vec::new();
    for path in [
        format!("/api/sessions/{sid}/attendance.csv"),
        format!("/api/sessions/{sid}/attendance.csv?format=rfc4180"),
        format!("/api/sessions/{sid}/attendance.json"),
    ] {
        let (status, _, body) = get(server, &path, &claire).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        sheets.push((path, String::from_utf8(body).expect("UTF-8")));
    }
    let document = server
        .app()
        .sheet_document(sid, Lang::Fr)
        .await
        .expect("the sheet's input");
    let pdf_text = render::attendance_sheet_text(&document).expect("the sheet's text");
    let (status, _, pdf) = get(
        server,
        &format!("/api/sessions/{sid}/attendance.pdf"),
        &claire,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(pdf.starts_with(b"%PDF-"));
    sheets.push(("attendance.pdf".to_owned(), pdf_text.clone()));
    for (what, text) in &sheets {
        for (name, _) in FOUR {
            assert_has(what, text, name);
        }
        for secret in reasons {
            assert_lacks(what, text, secret);
        }
    }
    // The PDF states the course: suspended from when to when, by no one.
    assert_has("the sheet PDF", &pdf_text, "Déroulement de la séance");
    assert_has("the sheet PDF", &pdf_text, "— séance suspendue ");
    assert_lacks("the sheet PDF", &pdf_text, " par Claire");

    // The sponsor's report: Léa agreed to be named, no one else did.
    server
        .app()
        .ledger()
        .append(NewEvent {
            sid: sid.to_owned(),
            kind: kind::CONSENT,
            actor: id_of(&p.session, "Léa Moreau"),
            payload: json!({"consent": "sponsor_share", "granted": true}),
            client_ts: None,
        })
        .await
        .expect("Léa's consent");
    let (status, link) = server
        .post(
            &format!("/api/sessions/{sid}/sponsor-link"),
            &json!({"valid_days": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let (status, report) = server
        .get_public(&format!(
            "/api/report?token={}",
            link["token"].as_str().expect("token")
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let text = report.to_string();
    assert_has("the sponsor's report", &text, "Léa Moreau");
    for secret in reasons.into_iter().chain([
        "Karim",
        "Paul",
        "Girard",
        "Claire Martin",
        "\"by\"",
        "\"reason\"",
    ]) {
        assert_lacks("the sponsor's report", &text, secret);
    }
    let actions: Vec<&str> = report["course"]
        .as_array()
        .expect("the course")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default())
        .collect();
    // The server's start, then the facilitator's suspension and resumption.
    assert_eq!(actions, ["start", "suspend", "resume"], "{report}");
}

#[tokio::test]
async fn a_removals_reason_reaches_the_removed_person_and_the_facilitators_only() {
    let p = play().await;
    let paul_id = id_of(&p.session, "Paul Girard");
    for (name, notice) in &p.removal_notices {
        assert_eq!(notice["participant"], paul_id.as_str(), "{name}: {notice}");
        assert_eq!(notice["notice"]["by"], "Claire Martin", "{name}: {notice}");
        let expected = match *name {
            "Claire Martin" | "Paul Girard" => REMOVAL,
            _ => "",
        };
        assert_eq!(notice["notice"]["reason"], expected, "{name}: {notice}");
    }
}

#[tokio::test]
async fn a_removed_persons_link_still_gets_their_own_documents_and_nothing_else() {
    let p = play().await;
    let (server, sid) = (&p.server, p.session.id.as_str());
    let paul = token_of(&p.session, "Paul Girard");
    let (paul_id, karim_id) = (
        id_of(&p.session, "Paul Girard"),
        id_of(&p.session, "Karim Benali"),
    );

    for path in [
        format!("/api/sessions/{sid}/proofs/{paul_id}"),
        format!("/api/sessions/{sid}/proofs/{paul_id}/json"),
        format!("/api/sessions/{sid}/proofs/{paul_id}/pdf"),
    ] {
        let (status, _, body) = get(server, &path, &paul).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    // His certificat de réalisation too: the hours before the removal are his.
    let identity = cadre_tests::identity();
    let put = server
        .http()
        .put(server.url("/api/organisation"))
        .bearer_auth(server.organiser_token())
        .json(&identity);
    let (status, body) = server.send(put).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for path in [
        format!("/api/sessions/{sid}/certificate/{paul_id}"),
        format!("/api/sessions/{sid}/certificate/{paul_id}?format=jws"),
    ] {
        let (status, _, body) = get(server, &path, &paul).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    for path in [
        format!("/api/sessions/{sid}/certificate/{karim_id}"),
        format!("/api/sessions/{sid}/proofs/{karim_id}"),
        format!("/api/sessions/{sid}/proofs/{karim_id}/pdf"),
        format!("/api/sessions/{sid}/attendance.csv"),
        format!("/api/sessions/{sid}/attendance.json"),
        format!("/api/sessions/{sid}/attendance.pdf"),
        format!("/api/sessions/{sid}/recordings"),
    ] {
        let (status, _, body) = get(server, &path, &paul).await;
        assert_eq!(
            (status, code(&body).as_str()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{path}"
        );
    }
    // The lobby says who removed him and why (his page shows it again
    // after a reload); the call stays closed.
    let (status, _, body) = get(server, "/api/join", &paul).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let lobby: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(lobby["you"]["id"], paul_id.as_str());
    assert_eq!(lobby["removal"]["by"], "Claire Martin", "{lobby}");
    assert_eq!(lobby["removal"]["reason"], REMOVAL, "{lobby}");
    assert_eq!(lobby["removal"]["action"], "remove", "{lobby}");
    assert_eq!(
        lobby["consent_texts"],
        json!([]),
        "nothing to agree to: {lobby}"
    );
    let (_, refusal) = server.refusal(sid, &paul).await;
    assert_eq!(refusal.code, cadre_protocol::ErrorCode::TokenRevoked);
    // Everyone else's lobby has no removal in it.
    let (_, _, body) = get(server, "/api/join", &token_of(&p.session, "Léa Moreau")).await;
    let lobby: Value = serde_json::from_slice(&body).expect("JSON");
    assert!(lobby.get("removal").is_none(), "{lobby}");

    // A link the organiser revoked (not a removal) gets nothing at all.
    let (status, _) = server.revoke(sid, &karim_id).await;
    assert!(status.is_success(), "{status}");
    let karim = token_of(&p.session, "Karim Benali");
    let (_, _, body) = get(server, "/api/join", &karim).await;
    assert_eq!(code(&body), "token_revoked");
    let (status, _, body) = get(
        server,
        &format!("/api/sessions/{sid}/proofs/{karim_id}"),
        &karim,
    )
    .await;
    assert_eq!(
        (status.as_u16(), code(&body).as_str()),
        (403, "token_revoked"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[tokio::test]
async fn the_sheet_csv_opens_right_in_french_excel_and_keeps_a_machine_form() {
    let p = play().await;
    let (server, sid) = (&p.server, p.session.id.as_str());
    let claire = token_of(&p.session, "Claire Martin");

    let (status, _, body) = get(
        server,
        &format!("/api/sessions/{sid}/attendance.csv"),
        &claire,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(body).expect("UTF-8");
    assert!(
        csv.starts_with('\u{feff}'),
        "a byte order mark for the accents"
    );
    let lines: Vec<&str> = csv
        .trim_start_matches('\u{feff}')
        .split_terminator("\r\n")
        .collect();
    assert_eq!(
        lines[0],
        "Nom;Qualité;Date;Demi-journée;Première connexion;Dernière déconnexion;\
         Temps connecté (heures);Temps présent (heures);Émargement;Contreseing;Réalisation (%)"
    );
    // One row per person per half-day, nothing else.
    let (_, _, json) = get(
        server,
        &format!("/api/sessions/{sid}/attendance.json"),
        &claire,
    )
    .await;
    let sheet: Value = serde_json::from_slice(&json).expect("JSON");
    let half_day_rows = sheet["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| !r["half_day"].is_null())
        .count();
    assert!(half_day_rows >= 4, "{sheet}");
    assert_eq!(lines.len(), 1 + half_day_rows, "{csv}");
    let date_like = |cell: &str| {
        let digits_around = |sep: char| {
            cell.split(sep).count() > 1
                && cell
                    .split(sep)
                    .all(|part| !part.is_empty() && part.trim().chars().all(|c| c.is_ascii_digit()))
        };
        digits_around('/') || digits_around(':') || digits_around('-')
    };
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split(';').collect();
        assert_eq!(cells.len(), 11, "{line}");
        assert!(
            ["Formateur", "Bénéficiaire"].contains(&cells[1]),
            "French role names: {line}"
        );
        assert!(["matin", "après-midi"].contains(&cells[3]), "{line}");
        for cell in &cells {
            assert!(
                !date_like(cell),
                "{cell:?} would become a date or a time in Excel: {line}"
            );
        }
        // Hours and percent as numbers with a decimal comma.
        for figure in [cells[6], cells[7], cells[10]] {
            let (units, decimals) = figure
                .split_once(',')
                .unwrap_or_else(|| panic!("{figure:?} in {line}"));
            assert!(
                units.chars().all(|c| c.is_ascii_digit()) && decimals.len() == 2,
                "{line}"
            );
        }
        // A time is written "09 h 02", which Excel keeps as text.
        let first = cells[4];
        assert!(
            first.is_empty() || (first.len() == 7 && &first[2..5] == " h "),
            "{first:?} in {line}"
        );
    }

    // The machine form: commas, English keys, ISO times, totals rows.
    let (_, _, body) = get(
        server,
        &format!("/api/sessions/{sid}/attendance.csv?format=rfc4180"),
        &claire,
    )
    .await;
    let csv = String::from_utf8(body).expect("UTF-8");
    let lines: Vec<&str> = csv
        .trim_start_matches('\u{feff}')
        .split_terminator("\r\n")
        .collect();
    assert_eq!(lines[0], cadre_protocol::proof::CSV_HEADER.join(","));
    assert!(
        lines.iter().any(|l| l.contains(",participant,total,")),
        "{csv}"
    );
    assert!(
        lines[1].contains('T') && (lines[1].contains("+01:00") || lines[1].contains("+02:00")),
        "ISO 8601 times: {}",
        lines[1]
    );

    // An unknown form is refused and says which exist.
    let (status, _, body) = get(
        server,
        &format!("/api/sessions/{sid}/attendance.csv?format=xlsx"),
        &claire,
    )
    .await;
    assert_eq!(
        (status, code(&body).as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input")
    );
    assert!(String::from_utf8_lossy(&body).contains("rfc4180"));
}
