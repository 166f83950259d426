//! A client that stops reading is cut off; it never holds the others back.
//!
//! One member stops reading its socket altogether (a frozen tab) while
//! another sends it large (~60 KB) signals as fast as the socket takes them.
//! Once the frozen member's outbound queue is full it is closed (code 4003
//! if a close frame gets through at all) and the others see
//! `peer_left {reason: "slow_consumer"}`. Throughout, the sender's writes
//! never block and a third member receives every small signal the sender
//! interleaves, in order. The heartbeat is long and the rate limit high, so
//! only the slow-consumer rule can be what removes the frozen member.

use cadre_protocol::Role;
use cadre_protocol::close_code::SLOW_CONSUMER;
use cadre_tests::{Incoming, TestServer};
use serde_json::json;
use std::time::Duration;

/// Large signals sent before giving up on the server ever noticing:
/// 2000 × 60 KB is far beyond any queue of 256 messages plus socket buffers.
const MAX_BIG_SIGNALS: usize = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_reader_is_dropped_and_the_others_keep_flowing() {
    let server = TestServer::start_with(|config| {
        config.heartbeat_interval = Duration::from_secs(120);
        config.rate_per_second = 100_000;
        config.rate_burst = 100_000;
    })
    .await;
    let session = server
        .create_session(&[
            ("Claire", Role::Facilitator),
            ("Karim", Role::Participant),
            ("Sami", Role::Participant),
        ])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let mut karim = server.join(&session, "Karim").await;
    let mut sami = server.join(&session, "Sami").await;
    claire.recv_type("peer_joined").await;
    claire.recv_type("peer_joined").await;
    karim.recv_type("peer_joined").await;
    sami.pause_reading();

    let blob = "x".repeat(60_000);
    let big = format!(r#"{{"description":{{"type":"offer","sdp":"{blob}"}}}}"#);
    let mut sent_to_karim = 0u64;
    let mut removed = None;
    for i in 0..MAX_BIG_SIGNALS {
        // Writes go through the server without waiting for Sami: a send
        // blocked for WAIT panics in the harness.
        claire.signal_raw(&sami.id, &big).await;
        if i % 10 == 0 {
            claire
                .signal(&karim.id, json!({"seq": sent_to_karim}))
                .await;
            sent_to_karim += 1;
        }
        if let Some(incoming) = claire.try_next() {
            let Incoming::Text(text) = &incoming else {
                panic!("Claire received {incoming:?}");
            };
            let message: serde_json::Value = serde_json::from_str(text).expect("JSON");
            assert_eq!(message["type"], "peer_left", "Claire received {message}");
            assert_eq!(message["id"], sami.id.as_str(), "{message}");
            removed = Some((i + 1, message));
            break;
        }
    }
    let (sent_big, left) = removed.unwrap_or_else(|| {
        panic!("Sami was still connected after {MAX_BIG_SIGNALS} signals of 60 KB unread")
    });
    assert_eq!(left["reason"], "slow_consumer", "{left}");
    claire.signal(&karim.id, json!({"done": true})).await;

    // Karim received every interleaved signal, in order, and saw Sami go.
    let mut next_seq = 0u64;
    let mut karim_saw_departure = false;
    loop {
        let message = karim.recv().await;
        match message["type"].as_str() {
            Some("signal") if message["data"]["done"] == true => break,
            Some("signal") => {
                assert_eq!(message["from"], claire.id.as_str());
                assert_eq!(message["data"]["seq"], next_seq, "in order, none lost");
                next_seq += 1;
            }
            Some("peer_left") => {
                assert_eq!(message["id"], sami.id.as_str());
                assert_eq!(message["reason"], "slow_consumer");
                karim_saw_departure = true;
            }
            _ => panic!("Karim received {message}"),
        }
    }
    assert_eq!(next_seq, sent_to_karim);
    if !karim_saw_departure {
        assert_eq!(karim.peer_left_reason(&sami.id).await, "slow_consumer");
    }

    // Sami, reading again, gets at most what was queued, then the end.
    sami.resume_reading();
    let drained = sami.drain_until_closed(Duration::from_secs(20)).await;
    let relayed = drained.of_type("signal").count();
    assert!(relayed <= sent_big, "{relayed} relayed, {sent_big} sent");
    for message in &drained.messages {
        match message["type"].as_str() {
            Some("signal") => {}
            Some("closing") => assert_eq!(message["reason"], "slow_consumer", "{message}"),
            _ => panic!("Sami received {message}"),
        }
    }
    if let Some((code, reason)) = drained.close {
        assert_eq!(
            code, SLOW_CONSUMER,
            "close frame for a slow consumer ({reason})"
        );
    }

    // Signals Claire wrote before she read of Sami's departure could only
    // be refused as addressed to nobody.
    while let Some(incoming) = claire.next_within(Duration::from_millis(300)).await {
        let Incoming::Text(text) = &incoming else {
            panic!("Claire received {incoming:?}");
        };
        let message: serde_json::Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(message["code"], "unknown_peer", "Claire received {message}");
    }

    // The session goes on.
    claire.signal(&karim.id, json!("after")).await;
    let relayed = karim.recv_type("signal").await;
    assert_eq!(relayed["data"], "after");
}
