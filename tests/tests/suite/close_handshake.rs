//! Every connection ends with RFC 6455's closing handshake, seen frame by
//! frame with a client that has no WebSocket library to hide it:
//! - a client's close frame is answered with a close frame (its code echoed)
//!   before the server ends the TCP connection, so a browser reports a clean
//!   close, not 1006;
//! - every close the server decides (leave 1000, replaced 4001, flood 4002,
//!   timeout 4004, revoked 4005, shutdown 4006, removed 4007, ended 4008)
//!   sends `closing`, then its close frame, then waits for the client's close
//!   frame before ending TCP in order (a FIN, not a reset);
//! - the wait is bounded: a client that never answers is dropped after the
//!   server's grace;
//! - the departure is recorded and told to the session before the client can
//!   tell the connection is over, so a person who reconnects at once is seen
//!   leaving, then joining, never as a replacement of themselves.

use cadre_protocol::Role;
use cadre_protocol::close_code::{ENDED, FLOOD, REMOVED, REPLACED, REVOKED, SHUTDOWN, TIMEOUT};
use cadre_tests::frames::{RawSocket, Read};
use cadre_tests::{Client, TestServer, person};
use serde_json::{Value, json};
use std::time::Duration;

/// Reads up to the server's close frame, checks its code and the `closing`
/// message before it (for the 4xxx codes), answers it, and expects the
/// server to end TCP in order.
async fn closed_cleanly(socket: &mut RawSocket, code: u16, reason: &str) {
    let (messages, close) = socket.until_close().await;
    let (got, _) = close.unwrap_or_else(|| panic!("a close frame without a code ({reason})"));
    assert_eq!(got, code, "close code for {reason}");
    if code >= 4000 {
        let closing = messages
            .iter()
            .rev()
            .find(|m| m["type"] == "closing")
            .unwrap_or_else(|| panic!("no closing message before {code}: {messages:?}"));
        assert_eq!(closing["reason"], reason);
    }
    socket.send_close(code, "").await;
    assert_eq!(
        socket.end().await,
        Read::Eof,
        "after the handshake of {reason}, the server ends TCP in order"
    );
}

fn closed_entries_of(entries: &[Value], connection_id: &str) -> usize {
    entries
        .iter()
        .filter(|e| e["payload"]["connection_id"] == connection_id)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_close_frame_is_answered_after_its_departure_is_recorded() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let mut karim = server.raw_join(&session, "Karim").await;
    claire.recv_type("peer_joined").await;
    let connection_id = karim.welcome["connection_id"]
        .as_str()
        .expect("a connection id")
        .to_owned();

    karim.send_close(1000, "au revoir").await;
    let (_, close) = karim.until_close().await;
    assert_eq!(
        close,
        Some((1000, "au revoir".to_owned())),
        "the server echoes the client's close frame"
    );
    // The answer came after the close was durable: no waiting here.
    let closed = server
        .ledger_entries(&session.id, "connection_closed")
        .await;
    assert_eq!(closed_entries_of(&closed, &connection_id), 1, "{closed:?}");
    assert_eq!(closed[0]["payload"]["reason"], "disconnected");
    assert_eq!(karim.end().await, Read::Eof, "then the server ends TCP");

    let left = claire.recv_type("peer_left").await;
    assert_eq!(left["id"], person(&session, "Karim").id.as_str());
    assert_eq!(left["reason"], "disconnected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_close_the_server_decides_completes_the_handshake() {
    let server = TestServer::start().await;
    let names = ["Claire", "Karim", "Léa", "Marc", "Nora", "Paul"];
    let people: Vec<(&str, Role)> = names
        .iter()
        .map(|&n| {
            let role = if n == "Claire" {
                Role::Facilitator
            } else {
                Role::Participant
            };
            (n, role)
        })
        .collect();
    let session = server.create_session(&people).await;
    let claire = server.join(&session, "Claire").await;
    let mut sockets = Vec::new();
    for name in &names[1..] {
        sockets.push(server.raw_join(&session, name).await);
    }
    let [karim, lea, marc, nora, paul] = &mut sockets[..] else {
        unreachable!("five sockets")
    };

    karim.send_text(r#"{"type":"leave"}"#).await;
    closed_cleanly(karim, 1000, "left").await;

    let _new_tab = server.join(&session, "Léa").await;
    closed_cleanly(lea, REPLACED, "replaced").await;

    let (status, body) = server
        .revoke(&session.id, &person(&session, "Marc").id)
        .await;
    assert!(status.is_success(), "revoke: {status} {body}");
    closed_cleanly(marc, REVOKED, "revoked").await;

    claire
        .send_json(&json!({"type": "control", "action": "remove",
            "participant": person(&session, "Nora").id, "reason": "hors cadre"}))
        .await;
    closed_cleanly(nora, REMOVED, "removed").await;

    claire
        .send_json(&json!({"type": "control", "action": "end", "reason": "fin de la séance"}))
        .await;
    closed_cleanly(paul, ENDED, "ended").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_closed_with_the_handshake() {
    let server = TestServer::start_with(|config| {
        config.rate_per_second = 5;
        config.rate_burst = 5;
    })
    .await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Flo", Role::Participant)])
        .await;
    let _claire = server.join(&session, "Claire").await;
    let mut flo = server.raw_join(&session, "Flo").await;
    for _ in 0..100 {
        flo.send_text(r#"{"type":"heartbeat"}"#).await;
    }
    closed_cleanly(&mut flo, FLOOD, "flood").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_closed_with_the_handshake() {
    let server =
        TestServer::start_with(|config| config.heartbeat_interval = Duration::from_millis(200))
            .await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    // This socket answers no ping: silent for three periods, it times out.
    let mut karim = server.raw_join(&session, "Karim").await;
    closed_cleanly(&mut karim, TIMEOUT, "timeout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_completes_every_handshake() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let mut claire = server.raw_join(&session, "Claire").await;
    let mut karim = server.raw_join(&session, "Karim").await;
    server.shutdown();
    closed_cleanly(&mut claire, SHUTDOWN, "shutdown").await;
    closed_cleanly(&mut karim, SHUTDOWN, "shutdown").await;
    server.stop().await;
}

/// Karim's raw socket, revoked: the server's close frame read, not answered.
async fn revoked_socket(server: &TestServer) -> RawSocket {
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let mut karim = server.raw_join(&session, "Karim").await;
    server
        .revoke(&session.id, &person(&session, "Karim").id)
        .await;
    let (_, close) = karim.until_close().await;
    assert_eq!(close.map(|(code, _)| code), Some(REVOKED));
    karim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_waits_for_the_clients_close_frame_then_gives_up() {
    // A grace far longer than the test's wait: an end before the answer
    // could only be the server not waiting.
    let patient =
        TestServer::start_with(|config| config.close_grace = Duration::from_secs(120)).await;
    let mut karim = revoked_socket(&patient).await;
    assert_eq!(
        karim.next(Duration::from_millis(300)).await,
        Read::Quiet,
        "the connection stays open for the client's answer"
    );
    karim.send_close(REVOKED, "").await;
    assert_eq!(karim.end().await, Read::Eof, "the answer ends it");

    // A client that never answers holds nothing for long.
    let hasty =
        TestServer::start_with(|config| config.close_grace = Duration::from_millis(200)).await;
    let mut karim = revoked_socket(&hasty).await;
    assert_eq!(karim.end().await, Read::Eof, "dropped after the grace");
}

/// What `observer` learns of `id` up to its next `peer_joined`: every
/// message about them, in order.
async fn news_of(observer: &mut Client, id: &str) -> Vec<Value> {
    let mut news = Vec::new();
    loop {
        let (message, _) = observer
            .skip_until("news of the re-joiner", |m| {
                (m["type"] == "peer_left" && m["id"] == id)
                    || (m["type"] == "peer_joined" && m["peer"]["id"] == id)
            })
            .await;
        let joined = message["type"] == "peer_joined";
        news.push(message);
        if joined {
            return news;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_rejoin_is_seen_as_a_leave_then_a_join() {
    let server = TestServer::start_with(|config| {
        // The loop below reconnects faster than the default per-address
        // admission rate allows.
        config.per_address_admissions_per_second = 0;
    })
    .await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let karim_id = person(&session, "Karim").id.clone();
    let mut claire = server.join(&session, "Claire").await;
    let mut karim = server.raw_join(&session, "Karim").await;
    claire.recv_type("peer_joined").await;

    for round in 0..30 {
        // Half the rounds hang up with a close frame, half with `leave`.
        let by_leave = round % 2 == 1;
        if by_leave {
            karim.send_text(r#"{"type":"leave"}"#).await;
        } else {
            karim.send_close(1000, "").await;
        }
        // Like a browser reconnecting from its close event: at once.
        let (_, close) = karim.until_close().await;
        assert_eq!(close.map(|(code, _)| code), Some(1000), "round {round}");
        let old = std::mem::replace(&mut karim, server.raw_join(&session, "Karim").await);
        drop(old);

        let news = news_of(&mut claire, &karim_id).await;
        let kinds: Vec<&str> = news.iter().filter_map(|m| m["type"].as_str()).collect();
        assert_eq!(
            kinds,
            ["peer_left", "peer_joined"],
            "round {round}: Claire sees Karim leave, then join: {news:?}"
        );
        let reason = if by_leave { "left" } else { "disconnected" };
        assert_eq!(news[0]["reason"], reason, "round {round}");
        assert_eq!(
            news[1]["peer"]["connection_id"], karim.welcome["connection_id"],
            "round {round}: the join is the new connection"
        );
    }
}
