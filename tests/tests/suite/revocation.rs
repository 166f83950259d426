//! Revoking a person through the REST API shuts them out at once.
//!
//! `POST /api/sessions/{sid}/people/{pid}/revoke` answers 200 `Revoked`
//! saying a live connection was closed; that connection receives
//! `closing {reason: "revoked"}` and close code 4005, and the others see
//! `peer_left {reason: "revoked"}`. From then on the person's link is refused
//! with 403 `token_revoked`, even re-signed with another issue time
//! (revocation is by person and link, not by token string), while the rest
//! of the session goes on. The
//! organiser's view marks the link revoked; unknown people or sessions are
//! 404 `not_found`.

use cadre_protocol::api::{Revoked, SessionView};
use cadre_protocol::close_code::REVOKED;
use cadre_protocol::{ErrorCode, Role};
use cadre_tests::TRIO;
use cadre_tests::{StatusCode, TestServer, now, person};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_person_is_disconnected_and_locked_out() {
    let server = TestServer::start().await;
    let session = server.create_session(&TRIO).await;
    let karim_id = person(&session, "Karim").id.clone();
    let karim_token = person(&session, "Karim").link.token.clone();
    let mut claire = server.join(&session, "Claire").await;
    let mut lea = server.join(&session, "Léa").await;
    claire.recv_type("peer_joined").await;
    let mut karim = server.join(&session, "Karim").await;
    claire.recv_type("peer_joined").await;
    lea.recv_type("peer_joined").await;

    let (status, answer) = server.revoke(&session.id, &karim_id).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let revoked: Revoked = serde_json::from_value(answer.clone())
        .unwrap_or_else(|e| panic!("not a Revoked body ({e}): {answer}"));
    assert_eq!(
        revoked,
        Revoked {
            id: karim_id.clone(),
            disconnected: true,
        }
    );

    let closing = karim.recv_type("closing").await;
    assert_eq!(closing["reason"], "revoked", "{closing}");
    karim.expect_closed(REVOKED).await;
    for other in [&mut claire, &mut lea] {
        let left = other.recv_type("peer_left").await;
        assert_eq!(left["id"], karim_id.as_str());
        assert_eq!(left["reason"], "revoked");
    }

    // The link no longer opens the session, even signed afresh (revocation
    // holds for the person's link, not for one exact token string).
    let (status, error) = server.refusal(&session.id, &karim_token).await;
    assert_eq!(
        (status, error.code),
        (StatusCode::FORBIDDEN, ErrorCode::TokenRevoked),
        "{error:?}"
    );
    let resigned = server.forge_token(&karim_token, json!({"iat": now() - 3600}));
    assert_ne!(resigned, karim_token);
    let (status, error) = server.refusal(&session.id, &resigned).await;
    assert_eq!(
        (status, error.code),
        (StatusCode::FORBIDDEN, ErrorCode::TokenRevoked),
        "{error:?}"
    );
    // Nor does the lobby let him in.
    let (status, body) = server
        .get_public(&format!("/api/join?token={karim_token}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "token_revoked", "{body}");
    claire.expect_no_message(Duration::from_millis(300)).await;

    // The organiser sees the revocation, the others' links are untouched.
    let (status, view) = server.get(&format!("/api/sessions/{}", session.id)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let view: SessionView = serde_json::from_value(view).expect("a SessionView");
    assert!(person(&view, "Karim").link.revoked);
    assert!(!person(&view, "Claire").link.revoked);
    assert!(!person(&view, "Léa").link.revoked);

    // The session goes on between the others.
    lea.signal(&claire.id, json!({"candidate": null})).await;
    let relayed = claire.recv_type("signal").await;
    assert_eq!(relayed["from"], lea.id.as_str());
    let reconnected = server.join(&session, "Léa").await;
    assert_eq!(reconnected.id, lea.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_someone_offline_and_unknown_people() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let karim_id = person(&session, "Karim").id.clone();

    let (status, answer) = server.revoke(&session.id, &karim_id).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["disconnected"], false,
        "nobody was connected: {answer}"
    );
    let (status, error) = server
        .refusal(&session.id, &person(&session, "Karim").link.token)
        .await;
    assert_eq!(
        (status, error.code),
        (StatusCode::FORBIDDEN, ErrorCode::TokenRevoked)
    );

    let (status, body) = server.revoke(&session.id, "p_nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "not_found", "{body}");
    let (status, body) = server.revoke("s_nosuchsession", &karim_id).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "not_found", "{body}");

    // Revoking needs the organiser token.
    let (status, body) = server
        .post_raw(
            &format!("/api/sessions/{}/people/{karim_id}/revoke", session.id),
            None,
            "{}".to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "unauthorized", "{body}");

    // Claire is unaffected.
    server.join(&session, "Claire").await;
}
