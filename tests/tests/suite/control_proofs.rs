//! What a person's proof shows of the course of the session, through a real
//! server: the facilitator's suspension, resumption and postponement (with
//! their reasons and the new window), the person's own removal (never
//! someone else's), and the person's connection conditions from their
//! per-minute summaries; `cadre verify` recomputes and prints them.

use cadre_server::evidence::verify::EXIT_VERIFIED;
use cadre_tests::TestServer;
use cadre_tests::{PEOPLE, rfc3339, verify_file};
use serde_json::{Value, json};
use std::time::Duration;

/// Waits (bounded) until the ledger has `count` entries of `kind` by
/// `actor` (any actor when `None`).
async fn wait_entries(
    server: &TestServer,
    sid: &str,
    kind: &str,
    actor: Option<&str>,
    count: usize,
) -> Vec<Value> {
    for _ in 0..200 {
        let found: Vec<Value> = server
            .app()
            .ledger()
            .entries(sid)
            .await
            .expect("read the ledger")
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.text).expect("JSON"))
            .filter(|e| e["kind"] == kind && actor.is_none_or(|a| e["actor"] == a))
            .collect();
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} {kind} entries after 10 s");
}

fn control_of(proof: &Value) -> Vec<Value> {
    proof["proof"]["control"]
        .as_array()
        .expect("control events")
        .clone()
}

#[tokio::test]
async fn a_proof_shows_the_course_of_the_session_and_the_conditions_and_verifies() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let mut claire = server.join(&session, "Claire Martin").await;
    let mut karim = server.join(&session, "Karim Benali").await;
    let sophie = server.join(&session, "Sophie Dubois").await;

    // Karim reports his connection figures (at most one report a second).
    for rtt in [40.0, 45.0, 50.0] {
        karim
            .send_json(&json!({"type": "stats", "connection": "connected",
                               "peers": [{"peer": claire.id, "rtt_ms": rtt, "loss": 0.0}]}))
            .await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }

    claire
        .send_json(
            &json!({"type": "control", "action": "suspend", "reason": "Coupure réseau générale"}),
        )
        .await;
    karim.session_notice("suspend").await;
    claire
        .send_json(&json!({"type": "control", "action": "resume", "reason": "Réseau rétabli"}))
        .await;
    karim.session_notice("resume").await;
    claire
        .send_json(
            &json!({"type": "control", "action": "remove", "reason": "Propos déplacés",
                           "participant": sophie.id}),
        )
        .await;
    wait_entries(&server, &sid, "removed", None, 1).await;

    // Leaving closes Karim's minute: a quality entry of his.
    karim.leave().await;
    wait_entries(&server, &sid, "quality", Some(&karim.id), 1).await;

    let start = chrono::Utc::now() + chrono::Duration::days(7);
    let end = start + chrono::Duration::hours(3);
    claire
        .send_json(&json!({
            "type": "control", "action": "postpone", "reason": "Trop de coupures aujourd'hui",
            "start": rfc3339(start), "end": rfc3339(end),
        }))
        .await;
    claire.session_notice("postpone").await;
    wait_entries(&server, &sid, "session_state", None, 4).await;

    // Karim's proof: the server's start, then the three decisions with their reasons, who acted
    // and the new window; nothing of Sophie's removal; his conditions.
    let (status, proof) = server
        .get(&format!("/api/sessions/{sid}/proofs/{}/json", karim.id))
        .await;
    assert_eq!(status, 200, "{proof}");
    assert_eq!(proof["proof"]["v"], 3);
    let states: Vec<Value> = control_of(&proof)
        .into_iter()
        .filter(|c| c["kind"] == "session_state")
        .collect();
    let seen: Vec<(&str, &str, &str)> = states
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap_or_default(),
                c["to"].as_str().unwrap_or_default(),
                c["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("start", "running", ""),
            ("suspend", "suspended", "Coupure réseau générale"),
            ("resume", "running", "Réseau rétabli"),
            ("postpone", "postponed", "Trop de coupures aujourd'hui"),
        ]
    );
    assert_eq!(states[0]["by"], "server");
    assert!(states[1..].iter().all(|c| c["by"] == claire.id.as_str()));
    assert_eq!(states[3]["planned_start"], rfc3339(start));
    assert_eq!(states[3]["planned_end"], rfc3339(end));
    assert!(
        control_of(&proof).iter().all(|c| c["kind"] != "removed"),
        "another person's removal is not in Karim's proof: {proof}"
    );
    let conditions = &proof["proof"]["conditions"];
    let minutes = conditions["minutes"].as_u64().expect("minutes");
    assert!(minutes >= 1, "{conditions}");
    let by_score = &conditions["by_score"];
    let counted: u64 = ["excellent", "good", "poor", "lost"]
        .iter()
        .map(|s| by_score[s].as_u64().expect("a count"))
        .sum();
    assert_eq!(counted, minutes, "{conditions}");
    assert!(
        by_score["excellent"].as_u64() >= Some(1),
        "40 ms and no loss is excellent: {conditions}"
    );

    // Sophie's proof shows her own removal, with its reason.
    let (_, theirs) = server
        .get(&format!("/api/sessions/{sid}/proofs/{}/json", sophie.id))
        .await;
    let removed: Vec<Value> = control_of(&theirs)
        .into_iter()
        .filter(|c| c["kind"] == "removed")
        .collect();
    assert_eq!(removed.len(), 1, "{theirs}");
    assert_eq!(removed[0]["reason"], "Propos déplacés");
    assert_eq!(removed[0]["by"], claire.id.as_str());

    // `cadre verify` on Karim's signed proof: every check holds, and it
    // prints the course of the session and his conditions.
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, jwks) = server.get_public("/.well-known/jwks.json").await;
    let jws = proof["jws"].as_str().expect("jws");
    let (code, out, err) = verify_file(dir.path(), "karim.jws", jws, &jwks.to_string(), &[]);
    assert_eq!(code, EXIT_VERIFIED, "{out}{err}");
    assert!(
        out.contains("  ✓ connection conditions recomputed: "),
        "{out}"
    );
    let course = out
        .split("Course of the session (as the verified proof states it):\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no course of the session in {out}"));
    for expected in [
        format!(
            "suspend: running → suspended by {} (reason: Coupure réseau générale)",
            claire.id
        ),
        "resume: suspended → running".to_owned(),
        format!(
            "(reason: Trop de coupures aujourd'hui); new planned window {} to {}",
            rfc3339(start),
            rfc3339(end)
        ),
        format!(
            "{} measured (",
            if minutes == 1 {
                "1 minute".to_owned()
            } else {
                format!("{minutes} minutes")
            }
        ),
    ] {
        assert!(course.contains(&expected), "missing {expected:?} in {out}");
    }
    assert!(
        out.trim_end().ends_with("VERIFIED: all 10 checks hold."),
        "{out}"
    );

    // The certificate renders with the new section.
    let response = server
        .http()
        .get(server.url(&format!("/api/sessions/{sid}/proofs/{}/pdf", karim.id)))
        .bearer_auth(server.organiser_token())
        .send()
        .await
        .expect("certificate");
    assert_eq!(response.status(), 200);
    let pdf = response.bytes().await.expect("bytes");
    assert!(pdf.starts_with(b"%PDF-"));
}
