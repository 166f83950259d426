//! Sessions are sealed from each other.
//!
//! Two sessions run side by side on one server. A person of the first who
//! addresses a signal to the participant id of someone in the second gets
//! `error unknown_peer`, and that person receives nothing, even though both
//! are connected to the same server at that moment. A join link of the first
//! session presented on the second session's WebSocket is refused with 403
//! `wrong_session`, and the second session's members see no arrival.

use cadre_protocol::{ErrorCode, Role};
use cadre_tests::{StatusCode, TestServer, person};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_cannot_cross_into_another_session() {
    let server = TestServer::start().await;
    let first = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let second = server
        .create_session(&[("Sophie", Role::Facilitator), ("Hugo", Role::Participant)])
        .await;
    let mut claire = server.join(&first, "Claire").await;
    let mut karim = server.join(&first, "Karim").await;
    claire.recv_type("peer_joined").await;
    let mut sophie = server.join(&second, "Sophie").await;
    let mut hugo = server.join(&second, "Hugo").await;
    sophie.recv_type("peer_joined").await;

    // Rosters never mention the other session.
    assert_eq!(karim.welcome["roster"].as_array().map(Vec::len), Some(1));
    assert_eq!(hugo.welcome["roster"][0]["id"], sophie.id.as_str());

    for target in [&sophie.id, &hugo.id] {
        claire
            .signal(
                target,
                json!({"description": {"type": "offer", "sdp": "v=0\r\n"}}),
            )
            .await;
        claire.recv_error("unknown_peer").await;
    }
    sophie.expect_no_message(Duration::from_millis(300)).await;
    hugo.expect_no_message(Duration::from_millis(100)).await;
    karim.expect_no_message(Duration::from_millis(100)).await;

    // Inside each session, relaying still works after the refusals.
    claire.signal(&karim.id, json!({"candidate": null})).await;
    let relayed = karim.recv_type("signal").await;
    assert_eq!(relayed["from"], claire.id.as_str());
    hugo.signal(&sophie.id, json!({"candidate": null})).await;
    let relayed = sophie.recv_type("signal").await;
    assert_eq!(relayed["from"], hugo.id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_only_opens_its_own_session() {
    let server = TestServer::start().await;
    let first = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let second = server
        .create_session(&[("Sophie", Role::Facilitator)])
        .await;
    let mut sophie = server.join(&second, "Sophie").await;

    for name in ["Claire", "Karim"] {
        let token = &person(&first, name).link.token;
        let (status, error) = server.refusal(&second.id, token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {error:?}");
        assert_eq!(error.code, ErrorCode::WrongSession, "{name}: {error:?}");
    }
    sophie.expect_no_message(Duration::from_millis(300)).await;

    // The same links open their own session.
    let mut claire = server.join(&first, "Claire").await;
    assert_eq!(claire.welcome["session"]["id"], first.id.as_str());
    claire.expect_no_message(Duration::from_millis(100)).await;
}
