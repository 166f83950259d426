//! A bad message is answered with a typed error; the socket stays open and
//! the others are not affected. Only an oversized frame closes the socket.
//!
//! Each bad message (text that is not JSON, an unknown `type`, a `signal`
//! without `to` or without `data`, a message over 64 KiB, a binary frame, a
//! signal to a participant id nobody holds) comes back as one `error` with
//! its documented code, nothing reaches the other member, and the same
//! socket then relays a good signal. A frame over 256 KiB closes the socket
//! with 1009 and the others see the sender leave.

use cadre_protocol::Role;
use cadre_tests::{Client, Incoming, TestServer, WAIT};
use serde_json::json;
use std::time::Duration;

/// Claire and Karim connected to a fresh session; Claire has already read
/// Karim's `peer_joined`, so both queues are empty.
async fn pair(server: &TestServer) -> (Client, Client) {
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let karim = server.join(&session, "Karim").await;
    claire.recv_type("peer_joined").await;
    (claire, karim)
}

/// Proves the socket still works: a signal from `from` reaches `to`.
async fn still_relays(from: &mut Client, to: &mut Client, marker: &str) {
    from.signal(&to.id, json!({"marker": marker})).await;
    let relayed = to.recv_type("signal").await;
    assert_eq!(relayed["from"], from.id.as_str());
    assert_eq!(relayed["data"]["marker"], marker, "{relayed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_get_an_error_and_the_socket_stays_open() {
    let server = TestServer::start().await;
    let (mut claire, mut karim) = pair(&server).await;
    let claire_id = claire.id.clone();
    let oversized = format!(
        r#"{{"type":"signal","to":"{claire_id}","data":"{}"}}"#,
        "x".repeat(70 * 1024)
    );

    let cases: Vec<(&str, String, &str)> = vec![
        ("not JSON", "{nope".to_owned(), "malformed_message"),
        ("empty text", String::new(), "malformed_message"),
        (
            "JSON without a type",
            json!({"to": claire_id}).to_string(),
            "malformed_message",
        ),
        (
            "unknown type",
            json!({"type": "dance"}).to_string(),
            "unknown_message_type",
        ),
        (
            "signal without to",
            json!({"type": "signal", "data": {"candidate": null}}).to_string(),
            "malformed_message",
        ),
        (
            "signal without data",
            json!({"type": "signal", "to": claire_id}).to_string(),
            "malformed_message",
        ),
        (
            "media_state with a wrong field type",
            json!({"type": "media_state", "camera": "yes", "microphone": true}).to_string(),
            "malformed_message",
        ),
        ("over 64 KiB", oversized, "message_too_large"),
        (
            "signal to nobody",
            json!({"type": "signal", "to": "p_nobody", "data": {}}).to_string(),
            "unknown_peer",
        ),
    ];

    for (i, (what, text, code)) in cases.iter().enumerate() {
        karim.send_text(text.clone()).await;
        let error = karim.recv_type("error").await;
        assert_eq!(error["code"], *code, "{what}: {error}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: no human message in {error}"
        );
        claire.expect_no_message(Duration::from_millis(100)).await;
        still_relays(&mut karim, &mut claire, &format!("after case {i}")).await;
    }

    karim.send_binary(br#"{"type":"heartbeat"}"#.to_vec()).await;
    karim.recv_error("malformed_message").await;
    claire.expect_no_message(Duration::from_millis(100)).await;
    still_relays(&mut karim, &mut claire, "after binary").await;

    // Errors go to the sender only: Claire never saw one.
    still_relays(&mut claire, &mut karim, "from Claire").await;
    karim.expect_no_message(Duration::from_millis(200)).await;
    claire.expect_no_message(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_256_kib_closes_the_socket_with_1009() {
    let server = TestServer::start().await;
    let (mut claire, mut karim) = pair(&server).await;

    let huge = format!(
        r#"{{"type":"signal","to":"{}","data":"{}"}}"#,
        claire.id,
        "x".repeat(300 * 1024)
    );
    // The write may fail if the server closes first; what counts is what
    // comes back.
    let _ = karim
        .sender()
        .try_send(cadre_tests::Message::text(huge))
        .await;

    let mut seen = Vec::new();
    let close = loop {
        match karim.next_within(WAIT).await {
            Some(Incoming::Text(text)) => seen.push(text),
            Some(Incoming::Close(frame)) => break frame,
            other => panic!("expected close 1009, got {other:?} after {seen:?}"),
        }
    };
    let (code, _) = close.unwrap_or_else(|| panic!("close frame without a code after {seen:?}"));
    assert_eq!(code, 1009, "after {seen:?}");
    for text in &seen {
        assert!(
            !text.contains(r#""type":"signal""#),
            "nothing was relayed back: {text}"
        );
    }

    let left = claire.recv_type("peer_left").await;
    assert_eq!(left["id"], karim.id.as_str());
    claire.expect_no_message(Duration::from_millis(200)).await;
}
