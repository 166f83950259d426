//! The server notices silent connections and answers heartbeats.
//!
//! With a 300 ms heartbeat interval: a client that stops reading (so never
//! answers the server's pings) and sends nothing is removed, and the others
//! see `peer_left {reason: "timeout"}`; if a close frame reaches it, its code
//! is 4004. A client that keeps reading stays, its pongs being proof of
//! life; so does one that does not read but sends `heartbeat` messages. A
//! `heartbeat` is answered by `heartbeat_ack` carrying the server's clock.

use cadre_protocol::Role;
use cadre_protocol::close_code::TIMEOUT;
use cadre_tests::{TestServer, now};
use serde_json::json;
use std::time::Duration;

const HEARTBEAT: Duration = Duration::from_millis(300);

async fn liveness_server() -> TestServer {
    TestServer::start_with(|config| config.heartbeat_interval = HEARTBEAT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_times_out_and_a_reading_one_stays() {
    let server = liveness_server().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Tom", Role::Participant)])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let mut tom = server.join(&session, "Tom").await;
    assert_eq!(tom.welcome["heartbeat_interval_ms"], 300);
    claire.recv_type("peer_joined").await;

    tom.pause_reading();
    // Claire reads (so answers pings) and sends nothing else.
    let left = claire.recv_type("peer_left").await;
    assert_eq!(left["id"], tom.id.as_str());
    assert_eq!(left["reason"], "timeout");

    // Claire is still there several intervals later, and still answered.
    claire.expect_no_message(HEARTBEAT * 6).await;
    claire
        .send_json(&json!({"type": "heartbeat", "client_time": now() * 1000}))
        .await;
    claire.recv_type("heartbeat_ack").await;

    // Tom, reading again, finds at most a closing and a 4004, then the end.
    tom.resume_reading();
    let drained = tom.drain_until_closed(Duration::from_secs(10)).await;
    for message in &drained.messages {
        assert_eq!(message["type"], "closing", "Tom received {message}");
        assert_eq!(message["reason"], "timeout", "{message}");
    }
    if let Some((code, reason)) = drained.close {
        assert_eq!(
            code, TIMEOUT,
            "close frame for a timed-out client ({reason})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_alone_keep_a_connection_alive() {
    let server = liveness_server().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Tom", Role::Participant)])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let tom = server.join(&session, "Tom").await;
    claire.recv_type("peer_joined").await;

    // Tom answers no ping but sends a heartbeat every 100 ms for 10 intervals.
    tom.pause_reading();
    for _ in 0..30 {
        tom.send_json(&json!({"type": "heartbeat"})).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    claire.expect_no_message(Duration::from_millis(10)).await;

    // Once he stops, he is gone.
    let left = claire.recv_type("peer_left").await;
    assert_eq!(left["id"], tom.id.as_str());
    assert_eq!(left["reason"], "timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_is_acknowledged_with_the_server_clock() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator)])
        .await;
    let mut claire = server.join(&session, "Claire").await;

    for heartbeat in [
        json!({"type": "heartbeat", "client_time": 1_000}),
        json!({"type": "heartbeat"}),
    ] {
        claire.send_json(&heartbeat).await;
        let ack = claire.recv_type("heartbeat_ack").await;
        let server_time = ack["server_time"]
            .as_i64()
            .unwrap_or_else(|| panic!("no integer server_time: {ack}"));
        assert!(
            (server_time / 1000 - now()).abs() < 60,
            "server_time {server_time} is not the server's clock in ms (the client said 1000)"
        );
    }
    claire.expect_no_message(Duration::from_millis(200)).await;
}
