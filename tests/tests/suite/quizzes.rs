//! Quizzes through a real server: a facilitator launches one, each
//! participant submits once and sees their own answers, then their score
//! and the right answers once it is closed; the facilitator sees everyone's.
//! The ledger holds that the quiz was opened and who completed it, never
//! a question's text, an answer or a score; each proof carries the
//! openings and the person's own completions; the certificat de
//! réalisation states "Évaluations réalisées : 2/2". Bad input is refused
//! with a clear error and changes nothing.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cadre_protocol::api::SessionView;
use cadre_tests::{Client, PEOPLE, TestServer, person};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const QUESTION: &str = "Quel outil sert à planifier un sprint ?";

fn quiz() -> Value {
    json!({
        "type": "quiz",
        "title": "Module 2 — vérification",
        "questions": [
            {"text": QUESTION, "choices": ["Le backlog", "Le burndown", "La rétrospective"], "correct": [0]},
            {"text": "Quels rôles compte Scrum ?", "choices": ["Product owner", "Chef de projet", "Scrum master"],
             "multiple": true, "correct": [0, 2]},
        ],
    })
}

/// Launches [`quiz`] and returns its id once `client` sees it.
async fn launch(claire: &Client, client: &mut Client) -> String {
    claire.send_json(&quiz()).await;
    let (seen, _) = client
        .skip_until("the quiz", |m| {
            m["type"] == "quiz" && m["quiz"]["open"] == true
        })
        .await;
    seen["quiz"]["id"].as_str().expect("an id").to_owned()
}

async fn submit(client: &Client, quiz: &str, answers: Value) {
    client
        .send_json(&json!({"type": "submit_quiz", "quiz": quiz, "answers": answers}))
        .await;
}

/// The next quiz message matching `wanted`.
async fn next_quiz(client: &mut Client, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let (m, _) = client
        .skip_until(what, |m| m["type"] == "quiz" && wanted(&m["quiz"]))
        .await;
    m["quiz"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiz_is_evidence_of_completion_without_answers_and_each_sees_what_is_theirs() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let mut sophie = server.join(&session, "Sophie Dubois").await;

    let id = launch(&claire, &mut karim).await;
    assert!(id.starts_with("q_"), "{id}");
    // The opening was durable before anyone saw the quiz.
    let opened = server.ledger_entries(&sid, "quiz_opened").await;
    assert_eq!(opened.len(), 1);
    assert_eq!(
        opened[0]["payload"],
        json!({"quiz": id, "title": "Module 2 — vérification", "questions": 2})
    );
    assert_eq!(opened[0]["actor"], claire.id.as_str());
    // A participant sees the questions, never the right answers.
    let shown = next_quiz(&mut sophie, "the quiz", |q| q["open"] == true).await;
    assert_eq!(shown["questions"][0]["text"], QUESTION);
    assert_eq!(shown["questions"][1]["multiple"], true);
    assert!(shown.get("correct").is_none(), "{shown}");
    assert!(shown.get("results").is_none(), "{shown}");
    let seen = next_quiz(&mut claire, "the facilitator's quiz", |q| q["open"] == true).await;
    assert_eq!(seen["correct"], json!([[0], [0, 2]]));

    // Karim answers both right, Sophie one: each sees their own answers,
    // no score and no right answer while the quiz is open.
    submit(&karim, &id, json!([[0], [2, 0]])).await;
    let mine = next_quiz(&mut karim, "Karim's submission", |q| {
        q.get("mine").is_some()
    })
    .await;
    assert_eq!(mine["mine"]["answers"], json!([[0], [2, 0]]));
    assert!(mine["mine"].get("score").is_none(), "{mine}");
    assert!(mine.get("correct").is_none(), "{mine}");
    submit(&sophie, &id, json!([[1], [0, 2]])).await;
    let results = next_quiz(&mut claire, "two submissions", |q| q["submitted"] == 2).await;
    let people = results["results"]["people"].as_array().expect("people");
    let scores: Vec<(&str, u64)> = people
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or(""),
                p["score"].as_u64().unwrap_or(9),
            )
        })
        .collect();
    assert_eq!(scores, [("Karim Benali", 2), ("Sophie Dubois", 1)]);
    assert_eq!(results["results"]["right"], json!([1, 2]));
    assert_eq!(results["results"]["mean"], 1.5);

    // A second submission is refused and changes nothing.
    let error = karim
        .refused_about(
            json!({"type": "submit_quiz", "quiz": id, "answers": [[1], [1]]}),
            "submit_quiz",
            "conflict",
        )
        .await;
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("already")),
        "{error}"
    );

    // Closed: each sees their own score and the right answers, nobody
    // else's submission.
    claire
        .send_json(&json!({"type": "close_quiz", "quiz": id}))
        .await;
    let k = next_quiz(&mut karim, "the closed quiz", |q| q["open"] == false).await;
    assert_eq!(k["mine"]["score"], 2);
    assert_eq!(k["mine"]["answers"], json!([[0], [2, 0]]));
    assert_eq!(k["correct"], json!([[0], [0, 2]]));
    assert!(k.get("results").is_none(), "{k}");
    let s = next_quiz(&mut sophie, "the closed quiz", |q| q["open"] == false).await;
    assert_eq!(s["mine"]["score"], 1);
    assert_eq!(s["submitted"], 2);

    // A newcomer's welcome holds the quiz as they may see it.
    karim.leave().await;
    let back = server.join(&session, "Karim Benali").await;
    assert_eq!(back.welcome["quiz"]["mine"]["score"], 2, "{}", back.welcome);

    // The ledger: who completed it, nothing of what they answered.
    let completed = server.ledger_entries(&sid, "quiz_completed").await;
    let who: Vec<&str> = completed
        .iter()
        .map(|e| e["actor"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(who, [karim.id.as_str(), sophie.id.as_str()]);
    for e in &completed {
        assert_eq!(e["payload"], json!({"quiz": id}), "{e}");
    }
    // (`score` is a word of the per-minute quality summaries: the quiz
    // entries' payloads are checked whole above.)
    let log = server.ledger_export(&sid).await;
    for absent in [QUESTION, "backlog", "Product owner", "answers"] {
        assert!(!log.contains(absent), "{absent:?} in the ledger");
    }

    // Karim's proof carries the opening and his own completion, not
    // Sophie's.
    let (status, proof) = server
        .get(&format!("/api/sessions/{sid}/proofs/{}/json", karim.id))
        .await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    let kinds: Vec<(String, String)> = proof["proof"]["evidence"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e["entry"].as_str()?).ok())
        .filter(|e| e["kind"].as_str().is_some_and(|k| k.starts_with("quiz_")))
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("").to_owned(),
                e["actor"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("quiz_opened".to_owned(), claire.id.clone()),
            ("quiz_completed".to_owned(), karim.id.clone())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_quiz_input_is_refused_with_a_clear_error_and_changes_nothing() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;

    // A participant neither launches nor closes a quiz.
    karim.refused_about(quiz(), "quiz", "forbidden").await;
    karim
        .refused_about(
            json!({"type": "submit_quiz", "quiz": "q_nothing", "answers": [[0]]}),
            "submit_quiz",
            "not_open",
        )
        .await;

    // Oversized or malformed quizzes.
    let question = |choices: usize, correct: Value| json!({"text": "Q ?", "choices": (0..choices).map(|i| format!("réponse {i}")).collect::<Vec<_>>(), "correct": correct});
    let bad = [
        json!({"type": "quiz", "title": "x".repeat(121), "questions": [question(2, json!([0]))]}),
        json!({"type": "quiz", "title": "Trop", "questions": vec![question(2, json!([0])); 11]}),
        json!({"type": "quiz", "title": "Aucune", "questions": []}),
        json!({"type": "quiz", "title": "Choix", "questions": [question(7, json!([0]))]}),
        json!({"type": "quiz", "title": "Hors", "questions": [question(3, json!([3]))]}),
        json!({"type": "quiz", "title": "Deux", "questions": [question(3, json!([0, 1]))]}),
        json!({"type": "quiz", "title": "Long", "questions": [{"text": "é".repeat(301), "choices": ["a", "b"], "correct": [0]}]}),
    ];
    for message in bad {
        claire.refused_about(message, "quiz", "invalid_input").await;
    }
    assert!(server.ledger_entries(&sid, "quiz_opened").await.is_empty());

    let id = launch(&claire, &mut karim).await;
    // One quiz at a time.
    claire.refused_about(quiz(), "quiz", "conflict").await;
    karim
        .refused_about(
            json!({"type": "close_quiz", "quiz": id}),
            "close_quiz",
            "forbidden",
        )
        .await;
    // The facilitator does not take the quiz.
    claire
        .refused_about(
            json!({"type": "submit_quiz", "quiz": id, "answers": [[0], [0]]}),
            "submit_quiz",
            "forbidden",
        )
        .await;
    for answers in [
        json!([[0]]),
        json!([[3], [0]]),
        json!([[0, 1], [0]]),
        json!([[0], []]),
        json!([[0], [1, 1]]),
    ] {
        let error = karim
            .refused_about(
                json!({"type": "submit_quiz", "quiz": id, "answers": answers}),
                "submit_quiz",
                "invalid_input",
            )
            .await;
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("answers")),
            "{error}"
        );
    }
    karim
        .refused_about(
            json!({"type": "submit_quiz", "quiz": "q_other", "answers": [[0], [0]]}),
            "submit_quiz",
            "not_open",
        )
        .await;
    claire
        .send_json(&json!({"type": "close_quiz", "quiz": id}))
        .await;
    next_quiz(&mut karim, "the closed quiz", |q| q["open"] == false).await;
    karim
        .refused_about(
            json!({"type": "submit_quiz", "quiz": id, "answers": [[0], [0]]}),
            "submit_quiz",
            "not_open",
        )
        .await;
    claire
        .refused_about(
            json!({"type": "close_quiz", "quiz": id}),
            "close_quiz",
            "not_open",
        )
        .await;
    assert!(
        server
            .ledger_entries(&sid, "quiz_completed")
            .await
            .is_empty()
    );
    assert_eq!(server.ledger_entries(&sid, "quiz_opened").await.len(), 1);
}

fn payload(jws: &str) -> Value {
    let part = jws.trim().split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

/// Text of a PDF, as `pdftotext` reads it, on one line.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("certificat.pdf");
    std::fs::write(&path, pdf).expect("write the PDF");
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs (apt-get install poppler-utils)");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

async fn certificate(server: &TestServer, session: &SessionView, name: &str) -> (Value, String) {
    let who = person(session, name);
    let base = format!("/api/sessions/{}/certificate/{}", session.id, who.id);
    let get = |query: String| {
        let url = server.url(&format!("{base}?{query}token={}", who.link.token));
        async move {
            let response = server.http().get(url).send().await.expect("an answer");
            assert_eq!(response.status(), StatusCode::OK);
            response.bytes().await.expect("a body").to_vec()
        }
    };
    let jws = String::from_utf8(get("format=jws&".to_owned()).await).expect("text");
    let pdf = get(String::new()).await;
    (payload(&jws), pdf_text(&pdf))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_states_the_quizzes_completed_out_of_those_put_to_the_person() {
    let server = TestServer::start().await;
    let identity = json!({
        "name": "Formations Horizon", "representative_name": "Claire Dubois",
        "representative_quality": "directrice", "address": ["69003 Lyon"],
        "siret": "123 456 789 00007", "nda": "84 69 12345 69", "place": "Lyon",
    });
    let request = server
        .http()
        .put(server.url("/api/organisation"))
        .bearer_auth(server.organiser_token())
        .json(&identity);
    assert_eq!(server.send(request).await.0, StatusCode::OK);
    let (status, action) = server
        .post(
            "/api/actions",
            &json!({"title": "Gestion de projet agile", "nature": "formation", "planned_hours": 7,
                    "beneficiaries": [{"name": "Karim Benali"}, {"name": "Sophie Dubois"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{action}");
    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    let (status, session) = server
        .post(
            &format!(
                "/api/actions/{}/sessions",
                action["id"].as_str().unwrap_or("")
            ),
            &json!({
                "planned_start": cadre_tests::rfc3339(start),
                "planned_end": cadre_tests::rfc3339(start + chrono::Duration::hours(3)),
                "facilitators": [{"name": "Claire Martin"}],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let session: SessionView = serde_json::from_value(session).expect("a session");

    let claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let mut sophie = server.join(&session, "Sophie Dubois").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for round in 0..2 {
        let id = launch(&claire, &mut karim).await;
        submit(&karim, &id, json!([[0], [0, 2]])).await;
        next_quiz(&mut karim, "Karim's submission", |q| {
            q.get("mine").is_some()
        })
        .await;
        if round == 0 {
            next_quiz(&mut sophie, "the quiz", |q| q["id"] == id.as_str()).await;
            submit(&sophie, &id, json!([[1], [1]])).await;
            next_quiz(&mut sophie, "Sophie's submission", |q| {
                q.get("mine").is_some()
            })
            .await;
        }
        claire
            .send_json(&json!({"type": "close_quiz", "quiz": id}))
            .await;
        next_quiz(&mut karim, "the closed quiz", |q| q["open"] == false).await;
    }
    for c in [karim, sophie, claire] {
        c.leave().await;
    }
    server
        .wait_ledger(&session.id, "connection_closed", 3)
        .await;

    let (cert, text) = certificate(&server, &session, "Karim Benali").await;
    assert_eq!(
        cert["quizzes"],
        json!({"opened": 2, "completed": 2}),
        "{cert}"
    );
    assert_eq!(
        cert["sessions"][0]["quizzes"],
        json!({"opened": 2, "completed": 2})
    );
    assert!(text.contains("Évaluations réalisées : 2/2"), "{text}");
    // Sophie, a wrong answer and a quiz not taken: completion, not score.
    let (cert, text) = certificate(&server, &session, "Sophie Dubois").await;
    assert_eq!(
        cert["quizzes"],
        json!({"opened": 2, "completed": 1}),
        "{cert}"
    );
    assert!(text.contains("Évaluations réalisées : 1/2"), "{text}");
    for absent in ["score", "backlog", "Product owner"] {
        assert!(!text.contains(absent), "{absent:?} on the certificate");
    }
    // The session's relevé de présence says it too.
    let sophie = person(&session, "Sophie Dubois");
    let url = server.url(&format!(
        "/api/sessions/{}/proofs/{}/pdf?token={}",
        session.id, sophie.id, sophie.link.token
    ));
    let response = server.http().get(url).send().await.expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    let pdf = response.bytes().await.expect("a body");
    let text = pdf_text(&pdf);
    assert!(text.contains("Évaluations réalisées : 1/2"), "{text}");
}
