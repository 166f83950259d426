//! Every personal or credentialed answer carries `Cache-Control: no-store`,
//! so that no browser or shared cache keeps a proof, a sheet, a link or a
//! report: one request per route, with a real server and real documents.

use cadre_protocol::Role;
use cadre_tests::{StatusCode, TestServer, person};
use serde_json::json;

#[tokio::test]
async fn every_personal_answer_says_no_store() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let sid = session.id.clone();
    let karim = person(&session, "Karim");
    let (pid, token) = (karim.id.clone(), karim.link.token.clone());
    let claire_token = person(&session, "Claire").link.token.clone();
    // Some evidence, a report and an answer, a sponsor link.
    let mut claire = server.join(&session, "Claire").await;
    let mut k = server.join(&session, "Karim").await;
    claire.skip_until_type("peer_joined").await;
    k.send_json(&json!({"type": "report", "text": "Le son coupe."}))
        .await;
    let filed = k.skip_until_type("report").await;
    let rid = filed["report"]["id"]
        .as_str()
        .expect("report id")
        .to_owned();
    let (status, sponsor) = server
        .post(&format!("/api/sessions/{sid}/sponsor-link"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sponsor}");
    let sponsor = sponsor["token"].as_str().expect("sponsor token").to_owned();
    let size = server.ledger_entries(&sid, "connection_opened").await.len();
    assert!(size >= 2);

    let organiser = Some(server.organiser_token().to_owned());
    let none: Option<String> = None;
    let body = serde_json::to_string(&cadre_tests::session_body(&[("Claire", Role::Facilitator)]))
        .unwrap();
    // (method, path, bearer, body, expected status)
    type Case = (&'static str, String, Option<String>, Option<String>, u16);
    let cases: Vec<Case> = vec![
        (
            "GET",
            format!("/api/sessions/{sid}/proofs/{pid}?token={token}"),
            none.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/proofs/{pid}/json?token={token}"),
            none.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/proofs/{pid}/pdf?token={token}"),
            none.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/proofs/{pid}/json"),
            organiser.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/attendance.csv?token={claire_token}"),
            none.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/attendance.json?token={claire_token}"),
            none.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/attendance.pdf"),
            organiser.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/join?token={token}"),
            none.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/report?token={sponsor}"),
            none.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/reports?token={token}"),
            none.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/reports"),
            organiser.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/reports.csv?token={claire_token}"),
            none.clone(),
            None,
            200,
        ),
        (
            "POST",
            format!("/api/sessions/{sid}/reports/{rid}/answer"),
            organiser.clone(),
            Some(json!({"answer": "Nous regardons.", "close": false}).to_string()),
            200,
        ),
        (
            "POST",
            format!("/api/reports?token={token}"),
            none.clone(),
            Some(json!({"text": "Encore."}).to_string()),
            201,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/recordings?token={claire_token}"),
            none.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/recordings/1/{pid}-video.ivf"),
            organiser.clone(),
            None,
            404,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/ledger/consistency?from=1&to={size}&token={token}"),
            none.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/ledger"),
            organiser.clone(),
            None,
            200,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}"),
            organiser.clone(),
            None,
            200,
        ),
        (
            "GET",
            "/api/sessions".to_owned(),
            organiser.clone(),
            None,
            200,
        ),
        (
            "POST",
            "/api/sessions".to_owned(),
            organiser.clone(),
            Some(body),
            201,
        ),
        (
            "POST",
            format!("/api/sessions/{sid}/sponsor-link"),
            organiser.clone(),
            Some("{}".into()),
            201,
        ),
        (
            "GET",
            format!("/api/sessions/{sid}/calendar.ics?token={token}"),
            none.clone(),
            None,
            200,
        ),
        // A refusal is personal too (it says whose link failed and why).
        (
            "GET",
            format!("/api/sessions/{sid}/proofs/{pid}"),
            Some("wrong".into()),
            None,
            401,
        ),
        ("GET", format!("/j/{token}"), none.clone(), None, 200),
        ("GET", format!("/r/{sponsor}"), none.clone(), None, 200),
    ];
    let mut missing = Vec::new();
    for (method, path, bearer, body, expected) in &cases {
        let mut request = match *method {
            "GET" => server.http().get(server.url(path)),
            _ => server
                .http()
                .post(server.url(path))
                .header("content-type", "application/json")
                .body(body.clone().unwrap_or_default()),
        };
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.expect("the server answers");
        assert_eq!(
            response.status().as_u16(),
            *expected,
            "{method} {path}: {:?}",
            response.text().await
        );
        let cache = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if cache != "no-store" {
            missing.push(format!("{method} {path} → Cache-Control {cache:?}"));
        }
    }
    assert!(
        missing.is_empty(),
        "answers a cache could keep:\n{}",
        missing.join("\n")
    );

    // What is public stays cacheable: the published keys.
    let response = server
        .http()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("cache-control").is_none());
}
