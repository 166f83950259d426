//! A flooding connection is rate limited, then thrown out, without
//! disturbing anyone else.
//!
//! With the default limiter (50 messages/s, burst 200), one client writes
//! 5000 signals as fast as it can. It receives `error rate_limited` (at most
//! one per second), then close code 4002; everyone else sees
//! `peer_left {reason: "flood"}`. Its target receives only what the bucket
//! let through. Meanwhile two other members keep relaying to each other,
//! every round arriving in order, during the flood and after it.

use cadre_protocol::Role;
use cadre_protocol::close_code::FLOOD;
use cadre_tests::{Client, Message, TestServer, WAIT};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const FLOOD_SIZE: usize = 5000;
const RATE: u64 = 50;
const BURST: u64 = 200;

/// One relay round from `from` to `to`; returns any `peer_left` that `to`
/// read while waiting (the flooder's departure can come at any moment).
async fn relay_round(from: &Client, to: &mut Client, round: usize) -> Vec<Value> {
    from.signal(&to.id, json!({"round": round})).await;
    let (relayed, skipped) = to
        .skip_until(&format!("round {round}"), |m| m["type"] == "signal")
        .await;
    assert_eq!(relayed["from"], from.id.as_str());
    assert_eq!(relayed["data"]["round"], round, "rounds arrive in order");
    for message in &skipped {
        assert_eq!(message["type"], "peer_left", "unexpected {message}");
    }
    skipped
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooder_is_limited_then_closed_and_others_carry_on() {
    let server = TestServer::start_with(|config| {
        config.rate_per_second = RATE as u32;
        config.rate_burst = BURST as u32;
    })
    .await;
    let session = server
        .create_session(&[
            ("Claire", Role::Facilitator),
            ("Karim", Role::Participant),
            ("Léa", Role::Participant),
            ("Flo", Role::Participant),
        ])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let mut karim = server.join(&session, "Karim").await;
    let mut lea = server.join(&session, "Léa").await;
    let mut flo = server.join(&session, "Flo").await;
    for _ in 0..3 {
        claire.recv_type("peer_joined").await;
    }
    for _ in 0..2 {
        karim.recv_type("peer_joined").await;
    }
    lea.recv_type("peer_joined").await;
    let flo_id = flo.id.clone();

    let started = Instant::now();
    let flooder = flo.sender();
    let target = claire.id.clone();
    let writer = tokio::spawn(async move {
        for n in 0..FLOOD_SIZE {
            let text = json!({"type": "signal", "to": target, "data": {"n": n}}).to_string();
            if flooder.try_send(Message::text(text)).await.is_err() {
                return n;
            }
        }
        FLOOD_SIZE
    });

    // Karim and Léa talk during the flood. What else each of them reads
    // meanwhile (the flooder's departure) is kept per reader.
    let mut lea_saw = Vec::new();
    let mut karim_saw = Vec::new();
    for round in 0..20 {
        lea_saw.extend(relay_round(&karim, &mut lea, round).await);
        karim_saw.extend(relay_round(&lea, &mut karim, round).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The flooder hears rate_limited, then is closed with 4002.
    let drained = flo.drain_until_closed(WAIT).await;
    let elapsed = started.elapsed();
    let written = writer.await.expect("the flooding task");
    let (code, _) = drained.close.clone().unwrap_or_else(|| {
        panic!(
            "flooder ended without a close frame: {:?}",
            drained.messages
        )
    });
    assert_eq!(code, FLOOD, "close code for a flooder");
    let rate_limited = drained
        .of_type("error")
        .filter(|m| m["code"] == "rate_limited")
        .count();
    assert!(
        rate_limited >= 1,
        "the flooder was closed ({code}) without ever receiving error rate_limited; \
         before the close it received {:?}",
        drained.messages
    );
    assert!(
        rate_limited as u64 <= elapsed.as_secs() + 2,
        "at most one rate_limited per second, got {rate_limited} in {elapsed:?}"
    );
    for message in &drained.messages {
        let fine = (message["type"] == "error" && message["code"] == "rate_limited")
            || (message["type"] == "closing" && message["reason"] == "flood");
        assert!(fine, "the flooder received {message}");
    }
    drop(flo);

    // Everyone sees the flooder go, for flooding.
    let (left, flood_signals) = claire
        .skip_until("the flooder's departure", |m| m["type"] == "peer_left")
        .await;
    assert_eq!(left["id"], flo_id.as_str());
    assert_eq!(left["reason"], "flood");
    for signal in &flood_signals {
        assert_eq!(signal["type"], "signal", "{signal}");
        assert_eq!(signal["from"], flo_id.as_str(), "{signal}");
    }
    let allowed = BURST + RATE * (elapsed.as_secs() + 1);
    assert!(
        !flood_signals.is_empty() && (flood_signals.len() as u64) <= allowed,
        "Claire got {} of {written} flooded signals; the bucket allows at most {allowed}",
        flood_signals.len()
    );
    for (client, saw) in [(&mut karim, karim_saw), (&mut lea, lea_saw)] {
        let reason = match saw.as_slice() {
            [] => client.peer_left_reason(&flo_id).await,
            [left] => {
                assert_eq!(left["id"], flo_id.as_str(), "{left}");
                left["reason"].as_str().unwrap_or_default().to_owned()
            }
            more => panic!("more than one departure: {more:?}"),
        };
        assert_eq!(reason, "flood");
    }

    // After the flood, everything still relays.
    for round in 20..25 {
        let skipped = relay_round(&karim, &mut lea, round).await;
        assert!(skipped.is_empty(), "{skipped:?}");
        let skipped = relay_round(&lea, &mut karim, round).await;
        assert!(skipped.is_empty(), "{skipped:?}");
    }
    claire.signal(&karim.id, json!("still here")).await;
    let relayed = karim.recv_type("signal").await;
    assert_eq!(relayed["data"], "still here");
}
