//! The equipment check (framework art. 2.1.5): a join link's holder tests,
//! before the session opens, that a data channel reaches the server's
//! check peer and echoes; a real webrtc-rs peer plays the page. Bad input
//! (forged, revoked or foreign links, offers with media, garbage, too
//! large bodies, too many checks at once) is refused with a clear error,
//! and a check leaves nothing in the session's evidence.

use cadre_protocol::Role;
use cadre_tests::{StatusCode, TestServer, person, session_body};
use rtc::ice::mdns::MulticastDnsMode;
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceGatheringState, RTCSessionDescription, SettingEngineBuilder,
};

const WAIT: Duration = Duration::from_secs(20);

struct Gathered(mpsc::UnboundedSender<()>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Gathered {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.0.send(());
        }
    }
}

/// A page's side of a check: a loopback peer with one data channel, its
/// offer gathered whole.
async fn page_peer() -> (Arc<dyn PeerConnection>, Arc<dyn DataChannel>, String) {
    let (tx, mut gathered) = mpsc::unbounded_channel();
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .build();
    let pc: Arc<dyn PeerConnection> = Arc::new(
        PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(settings)
            .with_handler(Arc::new(Gathered(tx)))
            .with_udp_addrs(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))])
            .build()
            .await
            .expect("a loopback peer"),
    );
    let channel = pc
        .create_data_channel("check", None)
        .await
        .expect("a data channel");
    let offer = pc.create_offer(None).await.expect("an offer");
    pc.set_local_description(offer)
        .await
        .expect("set the offer");
    tokio::time::timeout(WAIT, gathered.recv())
        .await
        .expect("gathering completes");
    let sdp = pc
        .local_description()
        .await
        .expect("a local description")
        .sdp;
    (pc, channel, sdp)
}

async fn offer(server: &TestServer, token: &str, body: String) -> (StatusCode, Value) {
    server
        .post_raw(
            &format!("/api/equipment/offer?token={}", urlencode(token)),
            None,
            body,
        )
        .await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends `ping n` and waits for it to come back.
async fn echoed(channel: &Arc<dyn DataChannel>, n: usize) {
    channel
        .send_text(&format!("ping {n}"))
        .await
        .expect("send a ping");
    loop {
        match tokio::time::timeout(WAIT, channel.poll()).await {
            Ok(Some(DataChannelEvent::OnMessage(m))) => {
                assert!(m.is_string, "the echo should be text");
                assert_eq!(std::str::from_utf8(&m.data).unwrap(), format!("ping {n}"));
                return;
            }
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the channel ended before ping {n} came back"),
            Err(_) => panic!("ping {n} did not come back"),
        }
    }
}

async fn open(channel: &Arc<dyn DataChannel>) {
    loop {
        match tokio::time::timeout(WAIT, channel.poll()).await {
            Ok(Some(DataChannelEvent::OnOpen)) => return,
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the channel ended before it opened"),
            Err(_) => panic!("the check's channel did not open"),
        }
    }
}

/// A session planned for tomorrow: its links do not open the call yet.
async fn tomorrow(server: &TestServer) -> cadre_protocol::api::SessionView {
    let mut body = session_body(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)]);
    let start = chrono::Utc::now() + chrono::Duration::days(1);
    let rfc =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    body.planned_start = rfc(start);
    body.planned_end = rfc(start + chrono::Duration::hours(3));
    server.create_session_body(&body).await
}

#[tokio::test]
async fn a_check_before_the_session_echoes_and_leaves_no_evidence() {
    let server = TestServer::start().await;
    let session = tomorrow(&server).await;
    let karim = person(&session, "Karim").link.token.clone();

    // The link does not open the call yet…
    let (status, error) = server
        .get_public(&format!("/api/join?token={}", urlencode(&karim)))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert_eq!(error["code"], "token_not_yet_valid");
    // …but opens the check, which says what a call would be given.
    let (status, check) = server
        .get_public(&format!("/api/equipment?token={}", urlencode(&karim)))
        .await;
    assert_eq!(status, StatusCode::OK, "{check}");
    assert_eq!(check["you"]["name"], "Karim");
    assert_eq!(check["session"]["id"], session.id.as_str());
    assert_eq!(check["offer_path"], "/api/equipment/offer");
    assert!(check["ice_servers"].is_array(), "{check}");

    let (pc, channel, sdp) = page_peer().await;
    let (status, answer) = offer(&server, &karim, json!({ "sdp": sdp }).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer["lifetime_ms"].as_u64().unwrap() >= 10_000,
        "{answer}"
    );
    let answer_sdp = answer["sdp"].as_str().expect("an answer SDP");
    assert!(
        answer_sdp.contains("a=candidate:"),
        "the answer carries the server's candidates: {answer_sdp}"
    );
    pc.set_remote_description(RTCSessionDescription::answer(answer_sdp.to_owned()).unwrap())
        .await
        .expect("the server's answer applies");
    open(&channel).await;
    for n in 0..5 {
        echoed(&channel, n).await;
    }
    pc.close().await.unwrap();

    // Nothing of it is evidence: the session's ledger has no entry at all.
    assert!(
        server.ledger_all(&session.id).await.is_empty(),
        "a check must not write to the session's ledger"
    );
}

#[tokio::test]
async fn bad_checks_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let session = tomorrow(&server).await;
    let karim = person(&session, "Karim").clone();
    let token = karim.link.token.clone();
    let (_pc, _channel, sdp) = page_peer().await;

    // Forged: signed with another key, or an altered claim.
    let forged = server.forge_token(&token, json!({"sub": "p_nobody"}));
    let (status, error) = offer(&server, &forged, json!({ "sdp": sdp }).to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert_eq!(error["code"], "not_found");
    // A character inside the signature (the last one also carries padding
    // bits, whose change may only make the text malformed).
    let at = token.len() - 10;
    let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
    let (status, error) = server
        .get_public(&format!("/api/equipment?token={}", urlencode(&tampered)))
        .await;
    assert!(status.is_client_error(), "{status} {error}");
    assert_eq!(error["code"], "token_signature");
    let (status, error) = server.get_public("/api/equipment?token=garbage").await;
    assert!(status.is_client_error());
    assert_eq!(error["code"], "token_malformed");

    // A body that is not the offer (400), an offer that is not a check's
    // (422: with media, not an SDP, too large).
    for (body, why) in [
        ("not json".to_owned(), "garbage"),
        (json!({ "offer": sdp }).to_string(), "no sdp field"),
    ] {
        let (status, error) = offer(&server, &token, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {error}");
        assert_eq!(error["code"], "invalid_input", "{why}: {error}");
    }
    for (body, why) in [
        (json!({ "sdp": "hello" }).to_string(), "not an SDP"),
        (
            json!({ "sdp": sdp.replace("m=application", "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\nm=application") })
                .to_string(),
            "media section",
        ),
        (
            json!({ "sdp": format!("{sdp}{}", "a=x\r\n".repeat(5_000)) }).to_string(),
            "too large",
        ),
    ] {
        let (status, error) = offer(&server, &token, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {error}");
        assert_eq!(error["code"], "invalid_input", "{why}: {error}");
    }
    let (status, error) = offer(&server, &token, "x".repeat(100 * 1024)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{error}");

    // A person runs two checks at once, not three.
    let mut held = Vec::new();
    for _ in 0..2 {
        let (pc, channel, sdp) = page_peer().await;
        let (status, answer) = offer(&server, &token, json!({ "sdp": sdp }).to_string()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        held.push((pc, channel));
    }
    let (_pc3, _c3, sdp3) = page_peer().await;
    let (status, error) = offer(&server, &token, json!({ "sdp": sdp3 }).to_string()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{error}");
    assert_eq!(error["code"], "rate_limited");
    // Someone else is not held back by Karim's checks.
    let claire = person(&session, "Claire").link.token.clone();
    let (pc, channel, sdp) = page_peer().await;
    let (status, answer) = offer(&server, &claire, json!({ "sdp": sdp }).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    pc.set_remote_description(
        RTCSessionDescription::answer(answer["sdp"].as_str().unwrap().to_owned()).unwrap(),
    )
    .await
    .unwrap();
    open(&channel).await;
    echoed(&channel, 1).await;

    // A revoked link checks nothing.
    let (status, _) = server.revoke(&session.id, &karim.id).await;
    assert!(status.is_success());
    let (status, error) = server
        .get_public(&format!("/api/equipment?token={}", urlencode(&token)))
        .await;
    assert!(status.is_client_error(), "{error}");
    assert_eq!(error["code"], "token_revoked");

    assert!(server.ledger_all(&session.id).await.is_empty());
}
