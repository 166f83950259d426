//! The CSV import of beneficiaries and an action created whole with its
//! sessions, as the console does them with a staff login.
//!
//! `POST /api/actions/import` reads the file a training office already has
//! (French headers with accents, a BOM, `;`, columns of its own) and
//! answers the beneficiaries and every rejected line with its reason; a
//! file it cannot take at all (not UTF-8, no name column, 10,000 lines,
//! over 1 MiB) gets one sentence saying why and what to do. None of it
//! stores anything: the list of actions and sessions is the same after
//! each. Without a login it is refused (401), with a staff cookie but no
//! CSRF header too (403). `POST /api/actions` with three sessions whose
//! third is wrong creates nothing, and its error names that session.

use cadre_protocol::staff::StaffRole;
use cadre_tests::staff::StaffLogin as Login;
use cadre_tests::{StatusCode, TestServer};
use reqwest::header::{CONTENT_TYPE, COOKIE};
use serde_json::{Value, json};

/// A coordinator logged in to the console.
async fn coordinator(server: &TestServer) -> Login {
    Login::new(
        server,
        "coordination@example.org",
        "Camille Durand",
        StaffRole::Coordinator,
    )
    .await
}

/// `POST /api/actions/import` with the file's bytes, as the console sends
/// them.
async fn import(server: &TestServer, login: &Login, bytes: Vec<u8>) -> (StatusCode, Value) {
    let request = server
        .http()
        .post(server.url("/api/actions/import"))
        .header(CONTENT_TYPE, "text/csv")
        .header(COOKIE, &login.cookie)
        .header("X-Cadre-CSRF", &login.csrf)
        .body(bytes);
    server.send(request).await
}

async fn create(server: &TestServer, login: &Login, body: &Value) -> (StatusCode, Value) {
    let request = server
        .http()
        .post(server.url("/api/actions"))
        .header(COOKIE, &login.cookie)
        .header("X-Cadre-CSRF", &login.csrf)
        .json(body);
    server.send(request).await
}

/// What exists: the actions and the number of sessions.
async fn catalogue(server: &TestServer) -> (Value, usize) {
    let (status, actions) = server.get("/api/actions").await;
    assert_eq!(status, StatusCode::OK, "{actions}");
    (actions, server.session_count().await)
}

/// A file as French Excel saves it as « CSV UTF-8 »: BOM, `;`, CRLF.
fn french_file(rows: &[&str]) -> Vec<u8> {
    let mut text = "\u{feff}Civilité;Nom;Prénom;Adresse e-mail;Société;Téléphone\r\n".to_owned();
    for row in rows {
        text.push_str(row);
        text.push_str("\r\n");
    }
    text.into_bytes()
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_french_file_is_read_with_its_accents_and_its_other_columns_ignored() {
    let server = TestServer::start().await;
    let login = coordinator(&server).await;
    let before = catalogue(&server).await;
    let file = french_file(&[
        "Mme;Lefèvre;Élodie;elodie.lefevre@example.org;Transports Martin SA;06 12 34 56 78",
        "M.;N'Diaye;Aïssa;aissa@example.org;;",
        ";;;;;",
        "M.;Çelik;Oğuz;oguz@example.org;Boulangerie « Au bon pain »;",
    ]);
    let (status, preview) = import(&server, &login, file).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["delimiter"], ";");
    assert_eq!(preview["rejected"], json!([]));
    assert_eq!(preview["ignored_columns"], json!(["Civilité", "Téléphone"]));
    assert_eq!(
        preview["beneficiaries"],
        json!([
            {"line": 2, "name": "Élodie Lefèvre", "email": "elodie.lefevre@example.org",
             "employer": "Transports Martin SA"},
            {"line": 3, "name": "Aïssa N'Diaye", "email": "aissa@example.org"},
            {"line": 5, "name": "Oğuz Çelik", "email": "oguz@example.org",
             "employer": "Boulangerie « Au bon pain »"},
        ])
    );
    assert_eq!(catalogue(&server).await, before, "a preview stores nothing");

    // The organiser token reads files too (scripts), with a `,` file.
    let request = server
        .http()
        .post(server.url("/api/actions/import"))
        .bearer_auth(server.organiser_token())
        .body("Full name,Email,Company\nAda Lovelace,ada@example.org,Analytical Ltd\n");
    let (status, preview) = server.send(request).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["delimiter"], ",");
    assert_eq!(preview["beneficiaries"][0]["name"], "Ada Lovelace");
    server.stop().await;
}

#[tokio::test]
async fn each_bad_line_is_rejected_with_its_line_and_reason_and_nothing_changes() {
    let server = TestServer::start().await;
    let login = coordinator(&server).await;
    let before = catalogue(&server).await;
    let file = french_file(&[
        "Mme;Martin;Jeanne;jeanne.martin@example.org;;",
        "M.;Petit;Luc;Jeanne.Martin@example.org;;",
        "M.;=HYPERLINK(\"http://x\");Eve;eve@example.org;;",
        "M.;Roux;Ana;ana@example.org;+33 Conseil;",
        "M.;Durand;Paul;paul.durand@example;;",
        "Mme;;;sans.nom@example.org;;",
        "M.;Blanc;Léo;leo@example.org",
        &format!("M.;{};Max;max@example.org;;", "X".repeat(130)),
    ]);
    let (status, preview) = import(&server, &login, file).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["beneficiaries"].as_array().map(Vec::len), Some(1));
    let rejected: Vec<(u64, &str)> = preview["rejected"]
        .as_array()
        .expect("rejected lines")
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap_or(0),
                r["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        [
            (3, "duplicate_email"),
            (4, "formula"),
            (5, "formula"),
            (6, "invalid_email"),
            (7, "empty_name"),
            (8, "field_count"),
            (9, "too_long"),
        ],
        "{preview}"
    );
    let reason = |i: usize| preview["rejected"][i]["reason"].as_str().unwrap_or("");
    assert!(
        reason(0).contains("line 3") && reason(0).contains("already on line 2 (Jeanne Martin)"),
        "{}",
        reason(0)
    );
    assert_eq!(preview["rejected"][0]["first_line"], 2);
    assert!(reason(1).contains("« Nom »") && reason(1).contains("formula"));
    assert_eq!(preview["rejected"][2]["column"], "Société");
    assert!(
        reason(5).contains("4 fields where the header line has 6"),
        "{}",
        reason(5)
    );
    assert!(reason(6).contains("120"), "{}", reason(6));
    assert_eq!(catalogue(&server).await, before, "a preview stores nothing");
    server.stop().await;
}

#[tokio::test]
async fn files_that_cannot_be_taken_get_one_sentence_and_nothing_changes() {
    let server = TestServer::start().await;
    let login = coordinator(&server).await;
    let before = catalogue(&server).await;

    // Windows-1252, as Excel saves « CSV (séparateur: point-virgule) ».
    let mut latin1 = b"Nom;Pr\xe9nom;Email\r\n".to_vec();
    latin1.extend_from_slice(b"Martin;Jeanne;jeanne@example.org\r\n");
    let (status, body) = import(&server, &login, latin1).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_input");
    assert_eq!(
        (&body["problem"], &body["line"]),
        (&json!("not_utf8"), &json!(1))
    );
    assert!(
        message(&body).contains("not UTF-8")
            && message(&body).contains("line 1")
            && message(&body).contains("CSV UTF-8"),
        "{body}"
    );
    // A bad byte further down is named by its line.
    let mut late = "Nom;Email\nMartin;a@example.org\nPetit;b@example.org\n"
        .as_bytes()
        .to_vec();
    late.extend_from_slice(b"Jos\xe9;c@example.org\n");
    let (status, body) = import(&server, &login, late).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(message(&body).contains("line 4"), "{body}");
    assert_eq!(body["line"], 4);

    let (status, body) = import(
        &server,
        &login,
        "Civilité;Téléphone;Courriel\nM.;01 02;a@example.org\n".into(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        message(&body).contains("no name column")
            && message(&body).contains("« Téléphone »")
            && message(&body).contains("« Prénom »")
            && message(&body).contains("« Full name »"),
        "{body}"
    );
    assert_eq!(body["problem"], "no_name_column");
    assert_eq!(
        body["headers"],
        json!(["Civilité", "Téléphone", "Courriel"])
    );

    let mut many = "Nom;Prénom;E-mail\n".to_owned();
    for i in 0..10_000 {
        many.push_str(&format!("Nom{i};Prénom{i};p{i}@example.org\n"));
    }
    let (status, body) = import(&server, &login, many.into_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        message(&body).contains("10000 lines") && message(&body).contains("at most 49"),
        "{body}"
    );
    assert_eq!(
        (&body["problem"], &body["count"], &body["limit"]),
        (&json!("too_many_people"), &json!(10_000), &json!(49))
    );

    let mut huge = "Nom;Commentaire\n".to_owned();
    while huge.len() <= 1024 * 1024 {
        huge.push_str(&format!("Martin;{}\n", "z".repeat(200)));
    }
    let (status, body) = import(&server, &login, huge.into_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(message(&body).contains("larger than 1 MiB"), "{body}");
    assert_eq!(
        (&body["problem"], &body["limit"]),
        (&json!("too_large"), &json!(1024 * 1024))
    );

    assert_eq!(
        catalogue(&server).await,
        before,
        "a refused file stores nothing"
    );
    server.stop().await;
}

#[tokio::test]
async fn no_login_and_no_csrf_header_are_refused() {
    let server = TestServer::start().await;
    let login = coordinator(&server).await;
    let file = french_file(&["Mme;Martin;Jeanne;jeanne@example.org;;"]);
    let request = server
        .http()
        .post(server.url("/api/actions/import"))
        .body(file.clone());
    let (status, body) = server.send(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let request = server
        .http()
        .post(server.url("/api/actions/import"))
        .header(COOKIE, &login.cookie)
        .body(file.clone());
    let (status, body) = server.send(request).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "csrf_token");

    let request = server
        .http()
        .post(server.url("/api/actions"))
        .header(COOKIE, &login.cookie)
        .json(
            &json!({"title": "x", "nature": "formation", "planned_hours": 7,
                      "beneficiaries": [{"name": "Jeanne Martin"}]}),
        );
    let (status, body) = server.send(request).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, actions) = server.get("/api/actions").await;
    assert_eq!((status, actions), (StatusCode::OK, json!([])));
    server.stop().await;
}

/// Twelve trainees, as the import gives them.
fn trainees() -> Vec<Value> {
    (1..=12)
        .map(|i| json!({"name": format!("Stagiaire {i:02}"), "email": format!("s{i}@example.org")}))
        .collect()
}

fn session(day: u32, start: &str, end: &str) -> Value {
    json!({
        "planned_start": format!("2027-01-{day:02}T{start}"),
        "planned_end": format!("2027-01-{day:02}T{end}"),
        "time_zone": "Europe/Paris",
        "facilitators": [{"name": "Claire Martin", "email": "claire@example.org"}],
    })
}

#[tokio::test]
async fn an_action_is_created_with_its_three_sessions_or_not_at_all() {
    let server = TestServer::start().await;
    let login = coordinator(&server).await;
    let mut action = json!({
        "title": "Gestion de projet agile",
        "nature": "formation",
        "planned_hours": 21,
        "beneficiaries": trainees(),
        "sessions": [session(11, "09:00", "12:30"), session(12, "09:00", "12:30"),
                     session(13, "14:00", "09:00")],
    });

    // Sessions print the organisation's name: without one, nothing.
    let (status, body) = create(&server, &login, &action).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        message(&body).contains("organisation has no name"),
        "{body}"
    );
    let request = server
        .http()
        .put(server.url("/api/organisation"))
        .bearer_auth(server.organiser_token())
        .json(&json!({"name": "Formations Horizon"}));
    assert_eq!(server.send(request).await.0, StatusCode::OK);

    let before = catalogue(&server).await;
    let (status, body) = create(&server, &login, &action).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        message(&body).contains("sessions[2] (session 3 of 3)")
            && message(&body).contains("planned_end: must be after planned_start"),
        "{body}"
    );
    assert_eq!(
        catalogue(&server).await,
        before,
        "no action and no session of the first two are left"
    );
    // A third session without a facilitator: the same.
    action["sessions"][2] = json!({"planned_start": "2027-01-13T14:00",
                                   "planned_end": "2027-01-13T17:30", "facilitators": []});
    let (status, body) = create(&server, &login, &action).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(message(&body).contains("session 3 of 3"), "{body}");
    assert_eq!(catalogue(&server).await, before);

    action["sessions"][2] = session(13, "14:00", "17:30");
    let (status, created) = create(&server, &login, &action).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["beneficiaries"].as_array().map(Vec::len), Some(12));
    let sessions = created["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[0]["planned_start"], "2027-01-11T08:00:00Z");
    assert_eq!(sessions[2]["planned_end"], "2027-01-13T16:30:00Z");
    assert_eq!(server.session_count().await, 3);
    // Each session enrols the twelve as its participants, linked to their
    // beneficiary (the certificate adds them up).
    let sid = sessions[1]["id"].as_str().expect("a session id");
    let (status, view) = server.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let people = view["people"].as_array().expect("people");
    assert_eq!(people.len(), 13, "the facilitator and the twelve");
    let aid = created["id"].as_str().expect("an action id");
    let bid = created["beneficiaries"][0]["id"]
        .as_str()
        .expect("a beneficiary id");
    let places = server
        .app()
        .catalog()
        .run({
            let bid = bid.to_owned();
            move |c| c.places_of(&bid)
        })
        .await
        .expect("places");
    assert_eq!(places.len(), 3, "Stagiaire 01 has a place in each session");
    let (status, listed) = server.get(&format!("/api/actions/{aid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["sessions"].as_array().map(Vec::len), Some(3));
    server.stop().await;
}
