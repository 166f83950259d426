//! Actions and the certificat de réalisation through a real server (issue
//! 11 §1): an action of three sessions whose beneficiary attends parts of
//! each (real WebSocket clients joining and leaving, one suspension whose
//! reason names another participant) gets ONE certificate, in the model's
//! words, with the dates and the time attended, nothing about anyone else,
//! and a signed file `cadre verify` accepts; an interrupted beneficiary's
//! certificate states the hours done and the interruption date, they are
//! told live and later sessions no longer admit them; bad input is refused
//! with a clear error and changes nothing.
//!
//! The PDF's text is read with `pdftotext` (Debian's poppler-utils, which
//! `scripts/test.sh` installs).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cadre_protocol::api::SessionView;
use cadre_server::evidence::verify::{EXIT_FAILED, EXIT_VERIFIED};
use cadre_tests::{TestServer, identity, person, verify_file};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const REASON_NAMING_SOPHIE: &str = "Coupure réseau chez Sophie Dubois";

async fn put_json(server: &TestServer, path: &str, body: &Value) -> (StatusCode, Value) {
    let request = server
        .http()
        .put(server.url(path))
        .bearer_auth(server.organiser_token())
        .json(body);
    server.send(request).await
}

async fn put_image(server: &TestServer, bytes: Vec<u8>, content_type: &str) -> (StatusCode, Value) {
    let request = server
        .http()
        .put(server.url("/api/organisation/signature"))
        .bearer_auth(server.organiser_token())
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(bytes);
    server.send(request).await
}

/// Creates an action with Karim (and his employer) and Sophie.
async fn action(server: &TestServer) -> Value {
    let (status, action) = server
        .post(
            "/api/actions",
            &json!({
                "title": "Gestion de projet agile",
                "nature": "formation",
                "planned_hours": 35,
                "beneficiaries": [
                    {"name": "Karim Benali", "email": "karim@example.org",
                     "employer": "Transports Martin SA"},
                    {"name": "Sophie Dubois"},
                ],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{action}");
    action
}

/// Adds a three-hour session starting at `start` to the action.
async fn add_session(
    server: &TestServer,
    aid: &str,
    start: chrono::DateTime<chrono::Utc>,
) -> SessionView {
    let (status, session) = server
        .post(
            &format!("/api/actions/{aid}/sessions"),
            &json!({
                "planned_start": cadre_tests::rfc3339(start),
                "planned_end": cadre_tests::rfc3339(start + chrono::Duration::hours(3)),
                "facilitators": [{"name": "Claire Martin"}],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    serde_json::from_value(session).expect("a session view")
}

/// A GET answer as bytes, with its headers.
async fn download(
    server: &TestServer,
    path: &str,
    bearer: bool,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = server.http().get(server.url(path));
    if bearer {
        request = request.bearer_auth(server.organiser_token());
    }
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a body").to_vec();
    (status, headers, bytes)
}

fn payload(jws: &str) -> Value {
    let part = jws.trim().split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("certificat.pdf");
    std::fs::write(&path, pdf).expect("write the PDF");
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs (apt-get install poppler-utils)");
    assert!(out.status.success(), "pdftotext failed on the certificate");
    let pages = std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo runs");
    let info = String::from_utf8_lossy(&pages.stdout);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Pages:") && l.trim().ends_with(" 1")),
        "the certificate is one page: {info}"
    );
    // One line per printed line, single spaces, for phrase matching.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text with line breaks as spaces, for sentences that wrap.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn verify(server_jwks: &str, jws: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (code, out, err) = verify_file(dir.path(), "certificat.jws", jws, server_jwks, &[]);
    (code, format!("{out}{err}"))
}

/// "3 décembre 2026", as the certificate prints a day.
fn french_day(day: &str) -> String {
    let d = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("a date");
    let month = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ][chrono::Datelike::month0(&d) as usize];
    format!(
        "{} {month} {}",
        chrono::Datelike::day(&d),
        chrono::Datelike::year(&d)
    )
}

#[tokio::test]
async fn a_three_session_action_gives_one_certificate_in_the_models_words_with_nothing_of_anyone_else()
 {
    let server = TestServer::start().await;
    let (status, _) = put_json(&server, "/api/organisation", &identity()).await;
    assert_eq!(status, StatusCode::OK);
    let action = action(&server).await;
    let aid = action["id"].as_str().expect("an id").to_owned();
    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(add_session(&server, &aid, start).await);
    }
    // Each session enrols the facilitator and both beneficiaries.
    for s in &sessions {
        let names: Vec<&str> = s.people.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Claire Martin", "Karim Benali", "Sophie Dubois"]);
    }

    // Karim attends part of each session; Sophie the first; in the second,
    // Claire suspends with a reason that names Sophie, then resumes.
    for (i, s) in sessions.iter().enumerate() {
        let claire = server.join(s, "Claire Martin").await;
        let mut karim = server.join(s, "Karim Benali").await;
        assert_eq!(karim.welcome["session"]["action"]["id"], aid.as_str());
        assert_eq!(
            karim.welcome["session"]["action"]["title"],
            "Gestion de projet agile"
        );
        let sophie = if i == 0 {
            Some(server.join(s, "Sophie Dubois").await)
        } else {
            None
        };
        tokio::time::sleep(Duration::from_millis(1500)).await;
        if i == 1 {
            claire
                .send_json(&json!({"type": "control", "action": "suspend",
                                   "reason": REASON_NAMING_SOPHIE}))
                .await;
            karim.session_notice("suspend").await;
            claire
                .send_json(
                    &json!({"type": "control", "action": "resume", "reason": "Réseau rétabli"}),
                )
                .await;
            karim.session_notice("resume").await;
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        karim.leave().await;
        if let Some(sophie) = sophie {
            sophie.leave().await;
        }
        claire.leave().await;
        server
            .wait_ledger(&s.id, "connection_closed", if i == 0 { 3 } else { 2 })
            .await;
    }

    // Karim downloads his certificate with his own link, from any session.
    let karim = person(&sessions[2], "Karim Benali");
    let base = format!("/api/sessions/{}/certificate/{}", sessions[2].id, karim.id);
    let (status, _, jws) = download(
        &server,
        &format!("{base}?format=jws&token={}", karim.link.token),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&jws));
    let jws = String::from_utf8(jws).expect("text");
    let cert = payload(&jws);
    assert_eq!(cert["typ"], "cadre.certificat-realisation");
    assert_eq!(cert["action"]["id"], aid.as_str());
    assert_eq!(cert["beneficiary"]["name"], "Karim Benali");
    assert_eq!(cert["beneficiary"]["employer"], "Transports Martin SA");
    let per_session = cert["sessions"].as_array().expect("sessions");
    assert_eq!(
        per_session.len(),
        3,
        "one certificate covers the three sessions"
    );
    let seconds: Vec<i64> = per_session
        .iter()
        .map(|s| s["attended_seconds"].as_i64().expect("seconds"))
        .collect();
    assert!(
        seconds.iter().all(|s| *s >= 1),
        "time in each session: {seconds:?}"
    );
    assert_eq!(
        cert["attended_seconds"].as_i64(),
        Some(seconds.iter().sum())
    );
    for (s, session) in per_session.iter().zip(&sessions) {
        assert_eq!(s["id"], session.id.as_str());
        assert_eq!(s["person_id"], person(session, "Karim Benali").id.as_str());
        // The digest matches the person's detailed proof, issued again now
        // under the same head only if nothing was added: check its shape.
        assert_eq!(s["proof_sha256"].as_str().map(str::len), Some(64));
    }
    let today = cadre_protocol::attendance::local_time(cadre_protocol::now_ms(), "Europe/Paris")
        [..10]
        .to_owned();
    assert_eq!(cert["first_day"], today.as_str());
    assert_eq!(cert["last_day"], today.as_str());
    let body = jws.to_lowercase();
    for other in ["sophie", "claire martin", "coupure", "rétabli"] {
        assert!(
            !body.contains(other) && !payload(&jws).to_string().to_lowercase().contains(other),
            "{other} in the signed certificate"
        );
    }

    // The signed file verifies offline; altered, it does not.
    let jwks = server.jwks_text().await;
    let (code, report) = verify(&jwks, &jws);
    assert_eq!(code, EXIT_VERIFIED, "{report}");
    assert!(report.contains("certificat de réalisation"), "{report}");
    assert!(report.contains("totals and dates recomputed"), "{report}");
    assert!(
        report.contains("Formations Horizon certifies that Karim Benali, employee of Transports Martin SA, followed \"Gestion de projet agile\" (formation)"),
        "{report}"
    );
    let mut forged = payload(&jws);
    forged["attended_seconds"] = json!(35 * 3600);
    let parts: Vec<&str> = jws.trim().split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    let (code, report) = verify(&jwks, &forged);
    assert_eq!(code, EXIT_FAILED, "{report}");

    // The PDF: one page, the model's statements, the dates and the time.
    let (status, headers, pdf) = download(
        &server,
        &format!("{base}?token={}", karim.link.token),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[reqwest::header::CONTENT_TYPE], "application/pdf");
    let disposition = headers[reqwest::header::CONTENT_DISPOSITION]
        .to_str()
        .expect("ASCII header");
    assert!(
        disposition.contains(&format!(
            "filename=\"certificat-realisation-gestion-de-projet-agile-karim-benali-{today}.pdf\""
        )),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''certificat-r%C3%A9alisation-"),
        "{disposition}"
    );
    let text = pdf_text(&pdf);
    let sentence = flat(&text);
    let attended = cert["attended_seconds"].as_i64().expect("seconds") / 60;
    let day = french_day(&today);
    for expected in [
        "Certificat de réalisation".to_owned(),
        "Je soussigné(e) Claire Dubois, directrice, représentant légal du dispensateur de l'action concourant au développement des compétences Formations Horizon,".to_owned(),
        "atteste que :".to_owned(),
        "Karim Benali".to_owned(),
        "salarié(e) de l'entreprise Transports Martin SA".to_owned(),
        "a suivi l'action : Gestion de projet agile".to_owned(),
        "Nature de l'action concourant au développement des compétences :".to_owned(),
        "action de formation bilan de compétences action de VAE action de formation par apprentissage".to_owned(),
        format!(
            "qui s'est déroulée du {day} au {day}, pour une durée réalisée de {}.",
            french_duration(attended)
        ),
        "pendant une durée de 3 ans à compter de la fin de l'année du dernier paiement".to_owned(),
        "En cas de cofinancement des fonds européens".to_owned(),
        format!("Fait à Lyon, le {day}"),
        "Cachet et signature du responsable du dispensateur".to_owned(),
        "SIRET 123 456 789 00007".to_owned(),
        "84 69 12345 69".to_owned(),
        "cadre verify".to_owned(),
    ] {
        assert!(sentence.contains(&expected), "the certificate lacks {expected:?}:\n{text}");
    }
    for absent in [
        "Sophie",
        "Claire Martin",
        "Coupure",
        "rétabli",
        "JWS",
        "arbre",
    ] {
        assert!(
            !sentence.contains(absent),
            "{absent:?} on the certificate:\n{text}"
        );
    }

    // The organiser gets the same certificate by action and beneficiary.
    let bid = action["beneficiaries"][0]["id"].as_str().expect("an id");
    let (status, _, by_action) = download(
        &server,
        &format!("/api/actions/{aid}/beneficiaries/{bid}/certificate?format=jws"),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let by_action = payload(&String::from_utf8(by_action).expect("text"));
    assert_eq!(by_action["sessions"].as_array().map(Vec::len), Some(3));
    assert_eq!(by_action["beneficiary"]["id"], bid);
}

/// Minutes as the certificate words them ("1 heure et 12 minutes").
fn french_duration(minutes: i64) -> String {
    let unit = |n: i64, word: &str| format!("{n} {word}{}", if n < 2 { "" } else { "s" });
    match (minutes / 60, minutes % 60) {
        (0, m) => unit(m, "minute"),
        (h, 0) => unit(h, "heure"),
        (h, m) => format!("{} et {}", unit(h, "heure"), unit(m, "minute")),
    }
}

#[tokio::test]
async fn an_interrupted_beneficiary_is_told_live_gets_the_hours_done_and_no_later_session() {
    let server = TestServer::start().await;
    put_json(&server, "/api/organisation", &identity()).await;
    let action = action(&server).await;
    let aid = action["id"].as_str().expect("an id").to_owned();
    let bid = action["beneficiaries"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let now = chrono::Utc::now();
    let first = add_session(&server, &aid, now - chrono::Duration::minutes(5)).await;
    let later = add_session(&server, &aid, now + chrono::Duration::days(2)).await;

    let claire = server.join(&first, "Claire Martin").await;
    let mut karim = server.join(&first, "Karim Benali").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // A reason is required.
    let changes = format!("/api/actions/{aid}/beneficiaries/{bid}/changes");
    let (status, body) = server
        .post(&changes, &json!({"kind": "interrupted", "reason": "  "}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, change) = server
        .post(
            &changes,
            &json!({"kind": "interrupted", "reason": "Reprise d'un emploi à temps plein"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{change}");
    assert_eq!(change["by"], "organiser");

    // Karim is told at once, with the reason (it is about him).
    let (told, _) = karim
        .skip_until("action_changed", |m| m["type"] == "action_changed")
        .await;
    assert_eq!(told["change"]["kind"], "interrupted");
    assert_eq!(
        told["change"]["reason"],
        "Reprise d'un emploi à temps plein"
    );
    karim.leave().await;
    claire.leave().await;
    server.wait_ledger(&first.id, "connection_closed", 2).await;

    // His lobby lists it; nothing more can be recorded; it cannot be rewritten.
    let karim_first = person(&first, "Karim Benali");
    let (status, lobby) = server
        .get_public(&format!("/api/join?token={}", karim_first.link.token))
        .await;
    assert_eq!(status, StatusCode::OK, "{lobby}");
    assert_eq!(lobby["action_changes"][0]["kind"], "interrupted");
    assert_eq!(lobby["session"]["action"]["id"], aid.as_str());
    let (status, body) = server
        .post(
            &changes,
            &json!({"kind": "resumed", "reason": "Finalement"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let db = rusqlite::Connection::open(server.data_file("cadre.sqlite3")).expect("the catalogue");
    let rewrite = db.execute("UPDATE action_changes SET reason = 'autre chose'", []);
    assert!(rewrite.is_err(), "a recorded change was rewritten");
    assert!(
        db.execute("DELETE FROM action_changes", []).is_err(),
        "a change was deleted"
    );

    // His link to the later session is revoked; a session added now does
    // not enrol him.
    let (status, view) = server.get(&format!("/api/sessions/{}", later.id)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let links: Vec<(&str, bool)> = view["people"]
        .as_array()
        .expect("people")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default(),
                p["link"]["revoked"] == true,
            )
        })
        .collect();
    assert_eq!(
        links,
        [
            ("Claire Martin", false),
            ("Karim Benali", true),
            ("Sophie Dubois", false)
        ]
    );
    let added = add_session(&server, &aid, now + chrono::Duration::days(3)).await;
    assert!(added.people.iter().all(|p| p.name != "Karim Benali"));
    assert!(added.people.iter().any(|p| p.name == "Sophie Dubois"));

    // His certificate: the hours done, the interruption's date as end, a
    // neutral mention, no reason.
    let base = format!("/api/sessions/{}/certificate/{}", first.id, karim_first.id);
    let (status, _, jws) = download(&server, &format!("{base}?format=jws"), true).await;
    assert_eq!(status, StatusCode::OK);
    let jws = String::from_utf8(jws).expect("text");
    let cert = payload(&jws);
    let today = cadre_protocol::attendance::local_time(cadre_protocol::now_ms(), "Europe/Paris")
        [..10]
        .to_owned();
    assert!(cert["interrupted_at"].as_i64().is_some(), "{cert}");
    assert_eq!(cert["last_day"], today.as_str());
    assert!(cert["attended_seconds"].as_i64().expect("seconds") >= 1);
    assert!(!cert.to_string().contains("emploi"));
    let (code, report) = verify(&server.jwks_text().await, &jws);
    assert_eq!(code, EXIT_VERIFIED, "{report}");
    let (status, _, pdf) = download(&server, &base, true).await;
    assert_eq!(status, StatusCode::OK);
    let text = flat(&pdf_text(&pdf));
    assert!(
        text.contains(&format!(
            "L'action a pris fin de manière anticipée le {} ; la durée indiquée est celle effectivement réalisée.",
            french_day(&today)
        )),
        "{text}"
    );
    assert!(
        !text.contains("emploi"),
        "the reason is on the certificate: {text}"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let server = TestServer::start().await;

    // A session of no action: its certificate waits for a complete identity.
    let plain = server
        .create_session(&[
            ("Claire Martin", cadre_protocol::Role::Facilitator),
            ("Karim Benali", cadre_protocol::Role::Participant),
            ("Sophie Dubois", cadre_protocol::Role::Participant),
        ])
        .await;
    let karim = person(&plain, "Karim Benali");
    let sophie = person(&plain, "Sophie Dubois");
    let claire = person(&plain, "Claire Martin");
    let own = format!("/api/sessions/{}/certificate/{}", plain.id, karim.id);
    let (status, body) = server.get(&own).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["message"].as_str().expect("a message");
    for field in [
        "name",
        "representative_name",
        "siret",
        "nda",
        "place",
        "address",
    ] {
        assert!(message.contains(field), "{message} names {field}");
    }

    // Bad identity fields: refused, nothing stored.
    for (field, value, needle) in [
        ("siret", json!("123 456 789 00008"), "check digit"),
        ("siret", json!("1234"), "14 digits"),
        ("nda", json!("en cours"), "11 digits"),
        ("address", json!([]), "address"),
    ] {
        let mut body = identity();
        body[field] = value;
        let (status, answer) = put_json(&server, "/api/organisation", &body).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        assert!(
            answer["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{answer}"
        );
        let (_, stored) = server.get("/api/organisation").await;
        assert_eq!(
            stored["name"],
            Value::Null,
            "nothing stored after a bad {field}"
        );
    }
    let (status, _) = put_json(&server, "/api/organisation", &identity()).await;
    assert_eq!(status, StatusCode::OK);

    // Signature images: not an image, a type that lies, too big, broken;
    // then a real PNG.
    let png = {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.extend_from_slice(&[0; 64]);
        b
    };
    let (status, body) = put_image(&server, b"GIF89a-not-ours".to_vec(), "image/gif").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = put_image(&server, png.clone(), "image/jpeg").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let mut big = png.clone();
    big.resize(600 * 1024, 0);
    let (status, body) = put_image(&server, big, "image/png").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("512 KiB"),
        "{body}"
    );
    // Starts like a PNG, does not decode: refused now, not on a certificate.
    let (status, body) = put_image(&server, png.clone(), "image/png").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot be"),
        "{body}"
    );
    let (_, stored) = server.get("/api/organisation").await;
    assert_eq!(stored["signature"], Value::Null, "no image stored");
    let stamp = include_bytes!("../../../server/src/evidence/render/stamp-example.png");
    let (status, stored) = put_image(&server, stamp.to_vec(), "image/png").await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["signature"]["bytes"], stamp.len());
    assert_eq!(stored["missing"], json!([]));

    // Who may have a certificate: the person with their own link, the
    // organiser; not another participant, not the facilitator, not a link
    // of another session.
    let other = server
        .create_session(&[
            ("Claire Martin", cadre_protocol::Role::Facilitator),
            ("Lucas Moreau", cadre_protocol::Role::Participant),
        ])
        .await;
    for (token, status, code) in [
        (&sophie.link.token, StatusCode::FORBIDDEN, "forbidden"),
        (&claire.link.token, StatusCode::FORBIDDEN, "forbidden"),
        (
            &person(&other, "Lucas Moreau").link.token,
            StatusCode::FORBIDDEN,
            "wrong_session",
        ),
        (
            &"not-a-token".to_owned(),
            StatusCode::UNAUTHORIZED,
            "token_malformed",
        ),
    ] {
        let (got, body) = server.get_public(&format!("{own}?token={token}")).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
    }
    let (status, _, pdf) =
        download(&server, &format!("{own}?token={}", karim.link.token), false).await;
    assert_eq!(status, StatusCode::OK);
    // A session of no action: the same model, one session, nature from its kind.
    let text = flat(&pdf_text(&pdf));
    assert!(
        text.contains("a suivi l'action : Gestion de projet — module 2"),
        "{text}"
    );
    let (status, body) = server.get(&format!("{own}?format=docx")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = server
        .get(&format!(
            "/api/sessions/{}/certificate/{}",
            plain.id, claire.id
        ))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a facilitator has no certificate: {body}"
    );

    // Unknown action or beneficiary; invalid actions and sessions.
    let (status, _) = server.get("/api/actions/a_nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .post(
            "/api/actions/a_nope/sessions",
            &json!({"planned_start": "2026-12-03T09:00",
               "planned_end": "2026-12-03T12:00", "facilitators": [{"name": "Claire"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .get("/api/actions/a_nope/beneficiaries/b_nope/certificate")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (body, needle) in [
        (
            json!({"title": "X", "nature": "formation", "planned_hours": 0, "beneficiaries": [{"name": "A"}]}),
            "planned_hours",
        ),
        (
            json!({"title": "X", "nature": "formation", "planned_hours": 7, "beneficiaries": []}),
            "beneficiaries",
        ),
        (
            json!({"title": " ", "nature": "formation", "planned_hours": 7, "beneficiaries": [{"name": "A"}]}),
            "title",
        ),
        (
            json!({"title": "X", "nature": "formation", "planned_hours": 7, "beneficiaries": [{"name": "A", "email": "pas une adresse"}]}),
            "email",
        ),
        (
            json!({"title": "X", "nature": "coaching", "planned_hours": 7, "beneficiaries": [{"name": "A"}]}),
            "coaching",
        ),
    ] {
        let (status, answer) = server.post("/api/actions", &body).await;
        assert!(status.is_client_error(), "{body} → {status} {answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{answer}"
        );
    }
    let (_, list) = server.get("/api/actions").await;
    assert_eq!(list, json!([]), "no action stored");
    let action = action(&server).await;
    let aid = action["id"].as_str().expect("an id");
    let (status, body) = server
        .post(
            &format!("/api/actions/{aid}/sessions"),
            &json!({"planned_start": "2026-12-03T09:00",
               "planned_end": "2026-12-03T08:00", "facilitators": [{"name": "Claire"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = server
        .post(
            &format!("/api/actions/{aid}/sessions"),
            &json!({"planned_start": "2026-12-03T09:00",
               "planned_end": "2026-12-03T12:00", "facilitators": []}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, view) = server.get(&format!("/api/actions/{aid}")).await;
    assert_eq!(view["sessions"], json!([]), "no session stored");
    let (status, _) = server
        .post(
            &format!("/api/actions/{aid}/beneficiaries/b_nope/changes"),
            &json!({"kind": "adapted", "reason": "r"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.get_public(&format!("/api/actions/{aid}")).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "actions are the organiser's"
    );
}

/// `cadre action change` runs as another process on the same data
/// directory: the server notices the catalogue changed and tells the
/// connected beneficiary, once per change, as it does for a REST change.
#[tokio::test]
async fn a_change_recorded_with_the_cli_reaches_the_connected_beneficiary_once() {
    let server = TestServer::start().await;
    put_json(&server, "/api/organisation", &identity()).await;
    let action = action(&server).await;
    let aid = action["id"].as_str().expect("an id").to_owned();
    let bid = action["beneficiaries"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let first = add_session(
        &server,
        &aid,
        chrono::Utc::now() - chrono::Duration::minutes(5),
    )
    .await;
    let mut karim = server.join(&first, "Karim Benali").await;

    let cli = |kind: &'static str, reason: &'static str| {
        let (aid, bid) = (aid.clone(), bid.clone());
        let dir = server.data_file("");
        async move {
            tokio::process::Command::new(crate::reports::cadre_binary())
                .arg("--data-dir")
                .arg(&dir)
                .args([
                    "action", "change", &aid, &bid, "--kind", kind, "--reason", reason,
                ])
                .output()
                .await
                .expect("run cadre action change")
        }
    };
    let out = cli("paused", "Congé maladie").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (told, _) = karim
        .skip_until("action_changed", |m| m["type"] == "action_changed")
        .await;
    assert_eq!(told["change"]["kind"], "paused");
    assert_eq!(told["change"]["reason"], "Congé maladie");

    // A refused change (nothing to pause twice) tells no one.
    let out = cli("paused", "Encore").await;
    assert!(!out.status.success(), "a second pause is refused");

    // The next news is the REST resumption, then the CLI adaptation: the
    // pause is not told twice, nor the REST change by the watcher.
    let changes = format!("/api/actions/{aid}/beneficiaries/{bid}/changes");
    let (status, resumed) = server
        .post(&changes, &json!({"kind": "resumed", "reason": "Retour"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{resumed}");
    let (told, _) = karim
        .skip_until("action_changed", |m| m["type"] == "action_changed")
        .await;
    assert_eq!(told["change"]["id"], resumed["id"], "{told}");
    let out = cli("adapted", "Séances plus courtes").await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (told, _) = karim
        .skip_until("action_changed", |m| m["type"] == "action_changed")
        .await;
    assert_eq!(told["change"]["kind"], "adapted", "{told}");
    karim.leave().await;
}
