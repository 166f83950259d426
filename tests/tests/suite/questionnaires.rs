//! Appreciation questionnaires through a real server (framework article
//! 2.1.6): the organiser defines one and attaches it; when the facilitator
//! ends the session (or the action's last session), each participant is
//! invited (the invitation recorded in the ledger, shown live, and kept
//! for their join link); each answers once with a signed link; the
//! organiser reads an aggregate only from three answers on. Nothing in the
//! ledger carries an answer; a second answer, an expired or forged link
//! is refused.

use cadre_protocol::api::SessionView;
use cadre_tests::{Client, PEOPLE_OF_FIVE, TestServer, other_ed25519_key, person, sign_eddsa};
use reqwest::StatusCode;
use serde_json::{Value, json};

const REMARK: &str = "Très bon rythme, merci";

fn questionnaire() -> Value {
    json!({
        "title": "Votre avis sur la séance",
        "questions": [
            {"text": "Satisfaction générale", "kind": "scale"},
            {"text": "Le rythme était", "kind": "choice", "choices": ["trop lent", "adapté", "trop rapide"]},
            {"text": "Une remarque ?", "kind": "text"},
        ],
    })
}

/// Defines [`questionnaire`] and attaches it to `target` at `at`.
async fn define(server: &TestServer, target: &str, at: &str) -> String {
    let (status, q) = server.post("/api/questionnaires", &questionnaire()).await;
    assert_eq!(status, StatusCode::CREATED, "{q}");
    let id = q["id"].as_str().expect("an id").to_owned();
    let (status, used) = server
        .post(
            &format!("/api/questionnaires/{id}/uses"),
            &json!({"target": target, "at": at}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{used}");
    assert_eq!(used["uses"], json!([{"target": target, "at": at}]));
    id
}

/// The facilitator ends the session; `client` is told of the end.
async fn end(claire: &Client, client: &mut Client) {
    claire
        .send_json(&json!({"type": "control", "action": "end", "reason": "Fin de la séance"}))
        .await;
    client.session_notice("end").await;
}

/// The invitation a person's page finds with their join link once the
/// session has ended, and its link's token.
async fn invited(server: &TestServer, session: &SessionView, name: &str) -> (Value, String) {
    let join = &person(session, name).link.token;
    let (status, open) = server
        .get_public(&format!("/api/invitations?token={join}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{open}");
    let invitation = open[0].clone();
    let url = invitation["url"].as_str().expect("a link").to_owned();
    let token = url.rsplit("/q/").next().expect("a token").to_owned();
    (invitation, token)
}

async fn answer(server: &TestServer, token: &str, answers: Value) -> (StatusCode, Value) {
    server
        .post_raw(
            &format!("/api/questionnaire?token={token}"),
            None,
            json!({"answers": answers}).to_string(),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_answers_give_an_aggregate_two_are_withheld_and_no_answer_is_tied_to_its_author() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE_OF_FIVE).await;
    let sid = session.id.clone();
    let qid = define(&server, &sid, "session_end").await;

    let claire = server.join(&session, "Claire Martin").await;
    let names = [
        "Karim Benali",
        "Sophie Dubois",
        "Lucas Moreau",
        "Amina Diallo",
    ];
    let mut people = Vec::new();
    for name in names {
        people.push(server.join(&session, name).await);
    }
    end(&claire, &mut people[0]).await;
    let mut tokens = Vec::new();
    for name in names {
        let (m, token) = invited(&server, &session, name).await;
        assert_eq!(m["title"], "Votre avis sur la séance");
        assert_eq!(m["about"], session.title.as_str());
        tokens.push(token);
    }
    // The invitation, not the answer, is in the ledger: one per person.
    let entries = server.wait_ledger(&sid, "questionnaire_invited", 4).await;
    for (e, p) in entries.iter().zip(&people) {
        assert_eq!(e["actor"], p.id.as_str());
        assert_eq!(
            e["payload"],
            json!({"questionnaire": qid, "at": "session_end", "scope": sid})
        );
    }

    // The link opens the form.
    let (status, form) = server
        .get_public(&format!("/api/questionnaire?token={}", tokens[0]))
        .await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert_eq!(form["questions"][1]["choices"][1], "adapté");
    assert_eq!(form["answered"], false);

    let path = format!("/api/questionnaires/{qid}/results?scope={sid}");
    let results = || server.get(&path);
    for (token, scale) in tokens.iter().zip([5, 4]) {
        let (status, body) = answer(&server, token, json!([scale, 1, REMARK])).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Two answers: withheld, with the reason, and no figure at all.
    let (status, r) = results().await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        (r["answers"].as_u64(), r["invited"].as_u64()),
        (Some(2), Some(4))
    );
    assert!(
        r["withheld"]
            .as_str()
            .is_some_and(|w| w.contains("fewer than 3")),
        "{r}"
    );
    assert_eq!(r["questions"], json!([]));
    assert!(!r.to_string().contains(REMARK), "{r}");

    // A second answer by the same person is refused; the first stands.
    let (status, body) = answer(&server, &tokens[0], json!([1, 0, null])).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "conflict");

    // A third answer (a question left blank): the aggregate shows.
    let (status, _) = answer(&server, &tokens[2], json!([3, null, "Un peu long"])).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, r) = results().await;
    assert_eq!(r["answers"], 3);
    assert!(r.get("withheld").is_none(), "{r}");
    assert_eq!(r["questions"][0]["counts"], json!([0, 0, 1, 1, 1]));
    assert_eq!(r["questions"][0]["mean"], 4.0);
    assert_eq!(r["questions"][1]["counts"], json!([0, 2, 0]));
    assert_eq!(r["questions"][1]["answered"], 2);
    let mut texts: Vec<&str> = r["questions"][2]["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        [
            "Très bon rythme, merci",
            "Très bon rythme, merci",
            "Un peu long"
        ]
    );
    // Nobody is named in an aggregate.
    for p in &people {
        assert!(!r.to_string().contains(&p.id), "{} in the results", p.id);
    }

    // After the session, the join link still finds an invitation not
    // answered, and only that one.
    let link = |name: &str| person(&session, name).link.token.clone();
    let (status, open) = server
        .get_public(&format!("/api/invitations?token={}", link("Amina Diallo")))
        .await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert_eq!(open.as_array().map(Vec::len), Some(1), "{open}");
    let (_, none) = server
        .get_public(&format!("/api/invitations?token={}", link("Karim Benali")))
        .await;
    assert_eq!(none, json!([]));

    // Expired, forged, or a join link: refused.
    let expired = server.forge_token(&tokens[3], json!({"exp": 1_000_000_000}));
    let (status, body) = answer(&server, &expired, json!([5, 1, null])).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_expired")),
        "{body}"
    );
    let claims = cadre_tests::claims_of(&tokens[3]);
    let kid = cadre_tests::header_of(&tokens[3])["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let forged = sign_eddsa(&kid, &claims, &other_ed25519_key());
    let (status, body) = answer(&server, &forged, json!([5, 1, null])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = answer(&server, &link("Amina Diallo"), json!([5, 1, null])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Bad answers change nothing.
    for bad in [
        json!([6, 1, null]),
        json!([5, 9, null]),
        json!([5]),
        json!(["x", 1, null]),
    ] {
        let (status, body) = answer(&server, &tokens[3], bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad} → {body}");
        assert_eq!(body["code"], "invalid_input");
    }
    let (_, r) = results().await;
    assert_eq!(r["answers"], 3);

    // Nothing of any answer is in the ledger.
    let log = server.ledger_export(&sid).await;
    for absent in [REMARK, "Un peu long", "adapté"] {
        assert!(!log.contains(absent), "{absent:?} in the ledger");
    }
}

async fn add_session(server: &TestServer, aid: &str, minutes_ago: i64) -> SessionView {
    let start = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
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
    serde_json::from_value(session).expect("a session")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actions_questionnaire_is_asked_when_its_last_session_ends_and_bad_definitions_are_refused()
 {
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
            &json!({"title": "Gestion de projet agile", "nature": "formation", "planned_hours": 6,
                    "beneficiaries": [{"name": "Karim Benali"}, {"name": "Sophie Dubois"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{action}");
    let aid = action["id"].as_str().expect("an id").to_owned();
    let first = add_session(&server, &aid, 10).await;
    let last = add_session(&server, &aid, 5).await;
    let qid = define(&server, &aid, "action_end").await;

    // The first session's end invites nobody; Sophie never comes to the
    // last, and is invited all the same: the action's questionnaire goes
    // to every beneficiary.
    let claire = server.join(&first, "Claire Martin").await;
    let mut karim = server.join(&first, "Karim Benali").await;
    end(&claire, &mut karim).await;
    let claire = server.join(&last, "Claire Martin").await;
    let mut karim = server.join(&last, "Karim Benali").await;
    end(&claire, &mut karim).await;
    let (m, token) = invited(&server, &last, "Karim Benali").await;
    assert_eq!(m["about"], "Gestion de projet agile");
    let (sophie, _) = invited(&server, &last, "Sophie Dubois").await;
    assert_eq!(sophie["title"], "Votre avis sur la séance");
    let entries = server
        .wait_ledger(&last.id, "questionnaire_invited", 2)
        .await;
    assert!(
        entries
            .iter()
            .all(|e| e["payload"]["scope"] == aid.as_str()),
        "{entries:?}"
    );
    assert!(
        server
            .ledger_entries(&first.id, "questionnaire_invited")
            .await
            .is_empty()
    );
    let (status, _) = answer(&server, &token, json!([4, 1, null])).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, r) = server
        .get(&format!("/api/questionnaires/{qid}/results?scope={aid}"))
        .await;
    assert_eq!(
        (r["answers"].as_u64(), r["invited"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(r["withheld"].is_string(), "{r}");

    // Bad definitions and uses: a clear error, nothing stored.
    let mut bad = questionnaire();
    bad["questions"][1]["choices"] = json!(["seule"]);
    let (status, body) = server.post("/api/questionnaires", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("question 2"))
    );
    let (status, _) = server
        .post(
            &format!("/api/questionnaires/{qid}/uses"),
            &json!({"target": "a_nothing", "at": "action_end"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server
        .post(
            &format!("/api/questionnaires/{qid}/uses"),
            &json!({"target": first.id, "at": "action_end"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Only the organiser defines or reads them.
    let (status, _) = server
        .get_with_bearer("/api/questionnaires", Some("not-the-organiser"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, all) = server.get("/api/questionnaires").await;
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
}

#[tokio::test]
async fn a_second_questionnaire_attached_at_the_same_moment_replaces_the_first() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE_OF_FIVE).await;
    let first = define(&server, &session.id, "session_end").await;
    let second = define(&server, &session.id, "session_end").await;
    let (status, all) = server.get("/api/questionnaires").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let uses = |id: &str| {
        all.as_array()
            .and_then(|a| a.iter().find(|q| q["id"] == id))
            .map(|q| q["uses"].clone())
    };
    assert_eq!(uses(&first), Some(json!([])), "no longer used: {all}");
    assert_eq!(
        uses(&second),
        Some(json!([{"target": session.id, "at": "session_end"}]))
    );
    // Attached again: still once.
    let (status, view) = server
        .post(
            &format!("/api/questionnaires/{second}/uses"),
            &json!({"target": session.id, "at": "session_end"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["uses"].as_array().map(Vec::len), Some(1));
}
