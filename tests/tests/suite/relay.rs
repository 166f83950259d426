//! Signals are relayed to their target only, tagged with the sender, and
//! with `data` exactly as the sender wrote it.
//!
//! The server never parses SDP or ICE payloads: whatever JSON sits in
//! `data` (odd spacing, key order, escapes, numbers in exponent form, `null`)
//! must come out byte for byte in `{"type":"signal","from":…,"data":…}` at
//! the target, in the order sent, in both directions. A third person of the
//! same session receives none of it.

use cadre_protocol::Role;
use cadre_tests::TRIO;
use cadre_tests::{Client, TestServer};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::Duration;

/// A relayed signal read without normalising `data`.
#[derive(Deserialize)]
struct RelayedSignal {
    #[serde(rename = "type")]
    kind: String,
    from: String,
    data: Box<RawValue>,
}

/// Payloads a browser could send, written with deliberate quirks.
const PAYLOADS: [&str; 7] = [
    r#"{"description":{"type":"offer","sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}}"#,
    r#"{"candidate":{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}}"#,
    r#"{"candidate":null}"#,
    r#"{ "z" : 1 ,  "a" : [ 1.50 , 2e3 , -0.0 , true , false , null ] , "é\u00e9\"\\/" : "\ud83d\ude00" }"#,
    r#"  "just a string"  "#,
    "123456789012345678901234567890.000",
    r#"[[[[{"deep":{"er":[{},[]]}}]]]]"#,
];

async fn expect_relayed(to: &mut Client, from: &Client, raw: &str) {
    let text = to.recv_text().await;
    let relayed: RelayedSignal = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not a relayed signal ({e}): {text}"));
    assert_eq!(relayed.kind, "signal", "{text}");
    assert_eq!(relayed.from, from.id, "{text}");
    let (sent, got) = (raw.trim(), relayed.data.get());
    if sent != got {
        let at = sent
            .bytes()
            .zip(got.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(sent.len().min(got.len()));
        let around = |s: &str| {
            let mut start = at.saturating_sub(40).min(s.len());
            while !s.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (at + 40).min(s.len());
            while !s.is_char_boundary(end) {
                end += 1;
            }
            s[start..end].to_owned()
        };
        panic!(
            "data not relayed byte for byte: {} bytes sent, {} received, first difference at \
             byte {at}: sent …{}…, received …{}…",
            sent.len(),
            got.len(),
            around(sent),
            around(got)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_reach_their_target_byte_for_byte() {
    let server = TestServer::start().await;
    let session = server.create_session(&TRIO).await;
    let mut claire = server.join(&session, "Claire").await;
    let mut karim = server.join(&session, "Karim").await;
    let mut lea = server.join(&session, "Léa").await;
    claire.recv_type("peer_joined").await;
    claire.recv_type("peer_joined").await;
    karim.recv_type("peer_joined").await;

    // Claire → Karim, all in a row, then read them in order.
    for raw in PAYLOADS {
        claire.signal_raw(&karim.id, raw).await;
    }
    for raw in PAYLOADS {
        expect_relayed(&mut karim, &claire, raw).await;
    }

    // Karim → Claire.
    for raw in PAYLOADS.iter().rev() {
        karim.signal_raw(&claire.id, raw).await;
    }
    for raw in PAYLOADS.iter().rev() {
        expect_relayed(&mut claire, &karim, raw).await;
    }

    // Léa was in the session all along and saw none of it; the senders got
    // no error back.
    lea.expect_no_message(Duration::from_millis(300)).await;
    claire.expect_no_message(Duration::from_millis(100)).await;
    karim.expect_no_message(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_near_the_size_limit_is_relayed_whole() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let claire = server.join(&session, "Claire").await;
    let mut karim = server.join(&session, "Karim").await;

    // About 60 000 bytes of SDP-like text: under the 64 KiB message limit.
    let line = r"a=candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host\r\n";
    let sdp = line.repeat(60_000 / line.len());
    let raw = format!(r#"{{"description":{{"type":"offer","sdp":"{sdp}"}}}}"#);
    claire.signal_raw(&karim.id, &raw).await;
    expect_relayed(&mut karim, &claire, &raw).await;
}

/// Signals go from a connection straight to their target's queue when both
/// are current (the session's actor only keeps the routes). At the edges of
/// a join: whoever hears of a newcomer may signal them at once, and the
/// newcomer may signal as soon as welcomed. Each side must still get the
/// `welcome` or the `peer_joined` first, then every signal in the order
/// sent; and after a departure, a signal to the one who left is answered
/// `unknown_peer`, as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_at_the_edges_of_a_join_come_after_it_and_in_order() {
    const EACH: u64 = 40;
    // 5 rounds of 40 signals from Claire are beyond the default burst.
    let server = TestServer::start_with(|config| {
        config.rate_per_second = 10_000;
        config.rate_burst = 10_000;
    })
    .await;
    let session = server.create_session(&TRIO).await;
    let mut claire = server.join(&session, "Claire").await;
    for round in 0..5 {
        // Claire signals Karim the moment she hears of him, while his join
        // is still being answered.
        let (karim, ()) = tokio::join!(server.join(&session, "Karim"), async {
            let joined = claire.recv_type("peer_joined").await;
            let karim_id = joined["peer"]["id"].as_str().expect("peer id").to_owned();
            for n in 0..EACH {
                claire
                    .signal(&karim_id, serde_json::json!({"round": round, "n": n}))
                    .await;
            }
        });
        let mut karim = karim;
        // Karim signals back at once, before reading anything.
        for n in 0..EACH {
            karim
                .signal(&claire.id, serde_json::json!({"round": round, "n": n}))
                .await;
        }
        let (claire_id, karim_id) = (claire.id.clone(), karim.id.clone());
        for (to, from) in [(&mut karim, &claire_id), (&mut claire, &karim_id)] {
            for n in 0..EACH {
                let got = to.recv_type("signal").await;
                assert_eq!(got["from"], from.as_str(), "round {round}: {got}");
                assert_eq!(got["data"]["round"], round, "round {round}: {got}");
                assert_eq!(got["data"]["n"], n, "round {round}, in order: {got}");
            }
        }
        karim.leave().await;
        assert_eq!(claire.peer_left_reason(&karim_id).await, "left");
        claire
            .signal(&karim_id, serde_json::json!({"late": true}))
            .await;
        claire.recv_error("unknown_peer").await;
    }
}
