//! Two real WebRTC peers (webrtc-rs 0.21) negotiate a connection and exchange one data-channel
//! message in each direction, each checked on arrival. `in_process_peers_exchange_messages` wires
//! their signalling straight together through channels, which pins down the webrtc-rs API and the
//! JSON payload shapes on their own. `peers_negotiate_through_cadre` sends the very same payloads
//! through a real cadre server (REST session creation, join tokens, one WebSocket per person): it
//! proves that the `polite` flags of the welcome roster and of `peer_joined` pick exactly one
//! offerer, that `signal` relays SDP descriptions and trickled ICE candidates intact in both
//! directions, and that this is enough for a working peer-to-peer connection between two people of
//! a session. Everything stays on 127.0.0.1: the peers bind their UDP sockets to loopback only and
//! use no STUN/TURN server and no mDNS, and every candidate either side sees is checked to be a
//! 127.0.0.1 host candidate. Every wait is bounded by a timeout that names what was awaited.

use cadre_protocol::Role;
use cadre_protocol::signalling::IcePolicy;
use cadre_tests::{Client, Incoming, TestServer};
use rtc::ice::mdns::MulticastDnsMode;
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceGatheringState, RTCPeerConnectionIceEvent, RTCPeerConnectionState,
    RTCSdpType, RTCSessionDescription, SettingEngineBuilder,
};

/// Upper bound for any single wait in these tests.
const WAIT: Duration = Duration::from_secs(20);

/// Label of the data channel the offerer creates.
const LABEL: &str = "cadre-test";

/// Runs `fut`, panicking with `what` if it takes longer than [`WAIT`].
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {WAIT:?} waiting for {what}"))
}

// ── One peer ─────────────────────────────────────────────────────────────────

/// What the event handler and the data-channel reader report to the peer's loop.
enum PeerEvent {
    Candidate(RTCIceCandidateInit),
    GatheringComplete,
    State(RTCPeerConnectionState),
    RemoteChannel(Arc<dyn DataChannel>),
    Channel(DataChannelEvent),
    Failure(String),
}

/// Forwards every callback to the peer's loop. The callbacks run on the connection's driver, so
/// they only hand the event over and return.
struct Forwarder(mpsc::UnboundedSender<PeerEvent>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Forwarder {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let forwarded = match event.candidate.to_json() {
            Ok(init) => PeerEvent::Candidate(init),
            Err(err) => PeerEvent::Failure(format!("local candidate to JSON: {err}")),
        };
        let _ = self.0.send(forwarded);
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.0.send(PeerEvent::GatheringComplete);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.0.send(PeerEvent::State(state));
    }

    async fn on_data_channel(&self, data_channel: Arc<dyn DataChannel>) {
        let _ = self.0.send(PeerEvent::RemoteChannel(data_channel));
    }
}

/// Reads a data channel's events into the peer's loop until the channel ends.
fn forward_channel_events(channel: Arc<dyn DataChannel>, events: mpsc::UnboundedSender<PeerEvent>) {
    tokio::spawn(async move {
        while let Some(event) = channel.poll().await {
            if events.send(PeerEvent::Channel(event)).is_err() {
                break;
            }
        }
    });
}

/// A peer connection bound to 127.0.0.1 only: one UDP socket on loopback (a concrete address is
/// bound as given, never expanded to other interfaces), no ICE servers, mDNS off (so no multicast
/// socket is opened on the other interfaces either).
async fn loopback_peer(events: mpsc::UnboundedSender<PeerEvent>) -> Arc<dyn PeerConnection> {
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_setting_engine(settings)
        .with_handler(Arc::new(Forwarder(events)))
        .with_udp_addrs(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))])
        .build()
        .await
        .expect("build a peer connection bound to 127.0.0.1");
    Arc::new(pc)
}

/// The address field of an ICE candidate attribute
/// (`candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …`).
fn candidate_address(candidate: &str) -> &str {
    candidate.split_whitespace().nth(4).unwrap_or("")
}

fn assert_loopback_host(who: &str, candidate: &RTCIceCandidateInit) {
    assert_eq!(
        candidate_address(&candidate.candidate),
        "127.0.0.1",
        "{who}: candidate not on 127.0.0.1: {}",
        candidate.candidate
    );
    assert!(
        candidate.candidate.contains(" typ host"),
        "{who}: not a host candidate: {}",
        candidate.candidate
    );
}

/// The peer's signalling link: payloads out (`{"description": …}` / `{"candidate": …}`), and
/// payloads in from the other peer.
struct Signals {
    out: mpsc::UnboundedSender<Value>,
    inbox: mpsc::UnboundedReceiver<Value>,
}

/// What a peer ends with; the connection is closed by the caller once both peers are done, so
/// neither closes while its last message is still in flight.
struct Outcome {
    pc: Arc<dyn PeerConnection>,
    received: String,
    local_candidates: usize,
    remote_candidates: usize,
}

/// Runs one side: builds the connection, negotiates through `signals` (trickle ICE, candidates
/// that arrive before the remote description are held back), sends `message` once the data
/// channel is open, and returns when it has both sent and received a message.
async fn run_peer(name: &str, offerer: bool, mut signals: Signals, message: String) -> Outcome {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let pc = loopback_peer(events_tx.clone()).await;
    let send = |payload: Value| {
        signals
            .out
            .send(payload)
            .unwrap_or_else(|_| panic!("{name}: signalling link closed"));
    };

    // Kept alive until the end: dropping the last handle of a channel stops its reader.
    let mut channel: Option<Arc<dyn DataChannel>> = None;
    if offerer {
        let dc = pc
            .create_data_channel(LABEL, None)
            .await
            .unwrap_or_else(|e| panic!("{name}: create data channel: {e}"));
        forward_channel_events(dc.clone(), events_tx.clone());
        channel = Some(dc);
        let offer = pc
            .create_offer(None)
            .await
            .unwrap_or_else(|e| panic!("{name}: create offer: {e}"));
        pc.set_local_description(offer.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: set local offer: {e}"));
        send(json!({ "description": offer }));
    }

    let deadline = Instant::now() + WAIT;
    let mut state = RTCPeerConnectionState::New;
    let mut remote_set = false;
    let mut held_back: Vec<RTCIceCandidateInit> = Vec::new();
    let (mut local_candidates, mut remote_candidates) = (0, 0);
    let mut sent = false;
    let mut received: Option<String> = None;
    // The other side drops its link once it is done; by then this side has everything it needs
    // from signalling, and only the data channel remains.
    let mut inbox_open = true;

    while !(sent && received.is_some()) {
        let next = tokio::time::timeout_at(deadline, async {
            tokio::select! {
                event = events.recv() => Ok(event.expect("the loop holds a sender")),
                payload = signals.inbox.recv(), if inbox_open => Err(payload),
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{name}: timed out after {WAIT:?} (connection {state}, remote description \
                 {remote_set}, channel {}, sent {sent}, received {received:?})",
                if channel.is_some() {
                    "present"
                } else {
                    "absent"
                }
            )
        });

        match next {
            Ok(PeerEvent::Candidate(candidate)) => {
                assert_loopback_host(name, &candidate);
                local_candidates += 1;
                send(json!({ "candidate": candidate }));
            }
            Ok(PeerEvent::GatheringComplete) => send(json!({ "candidate": null })),
            Ok(PeerEvent::State(new_state)) => {
                assert!(
                    !matches!(
                        new_state,
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                    ),
                    "{name}: peer connection {new_state} before the exchange finished"
                );
                state = new_state;
            }
            Ok(PeerEvent::RemoteChannel(dc)) => {
                assert!(!offerer, "{name}: the offerer got a remote data channel");
                let label = dc.label().await.expect("label of the remote data channel");
                assert_eq!(label, LABEL, "{name}: remote data channel label");
                forward_channel_events(dc.clone(), events_tx.clone());
                channel = Some(dc);
            }
            Ok(PeerEvent::Channel(DataChannelEvent::OnOpen)) => {
                let dc = channel
                    .as_ref()
                    .expect("an open event comes from a known channel");
                dc.send_text(&message)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: send on the data channel: {e}"));
                sent = true;
            }
            Ok(PeerEvent::Channel(DataChannelEvent::OnMessage(msg))) => {
                assert!(msg.is_string, "{name}: expected a text message");
                let text = String::from_utf8(msg.data.to_vec())
                    .unwrap_or_else(|e| panic!("{name}: message is not UTF-8: {e}"));
                assert!(
                    received.is_none(),
                    "{name}: a second message arrived: {text}"
                );
                received = Some(text);
            }
            Ok(PeerEvent::Channel(
                event @ (DataChannelEvent::OnClosing
                | DataChannelEvent::OnClose
                | DataChannelEvent::OnError),
            )) => panic!("{name}: data channel {event:?} before the exchange finished"),
            Ok(PeerEvent::Channel(_)) => {}
            Ok(PeerEvent::Failure(why)) => panic!("{name}: {why}"),
            Err(None) => inbox_open = false,
            Err(Some(payload)) => {
                if let Some(description) = payload.get("description") {
                    let description: RTCSessionDescription =
                        serde_json::from_value(description.clone()).unwrap_or_else(|e| {
                            panic!("{name}: bad description {description}: {e}")
                        });
                    let is_offer = description.sdp_type == RTCSdpType::Offer;
                    assert_eq!(
                        is_offer, !offerer,
                        "{name}: unexpected {}",
                        description.sdp_type
                    );
                    pc.set_remote_description(description)
                        .await
                        .unwrap_or_else(|e| panic!("{name}: set remote description: {e}"));
                    remote_set = true;
                    if is_offer {
                        let answer = pc
                            .create_answer(None)
                            .await
                            .unwrap_or_else(|e| panic!("{name}: create answer: {e}"));
                        pc.set_local_description(answer.clone())
                            .await
                            .unwrap_or_else(|e| panic!("{name}: set local answer: {e}"));
                        send(json!({ "description": answer }));
                    }
                    for candidate in held_back.drain(..) {
                        pc.add_ice_candidate(candidate)
                            .await
                            .unwrap_or_else(|e| panic!("{name}: add held-back candidate: {e}"));
                    }
                } else if let Some(candidate) = payload.get("candidate") {
                    if candidate.is_null() {
                        continue; // end of the other side's candidates
                    }
                    let candidate: RTCIceCandidateInit = serde_json::from_value(candidate.clone())
                        .unwrap_or_else(|e| panic!("{name}: bad candidate {candidate}: {e}"));
                    assert_loopback_host(name, &candidate);
                    remote_candidates += 1;
                    if remote_set {
                        pc.add_ice_candidate(candidate)
                            .await
                            .unwrap_or_else(|e| panic!("{name}: add candidate: {e}"));
                    } else {
                        held_back.push(candidate);
                    }
                } else {
                    panic!("{name}: unexpected signalling payload {payload}");
                }
            }
        }
    }

    Outcome {
        pc,
        received: received.expect("loop ends with a message"),
        local_candidates,
        remote_candidates,
    }
}

/// Runs both sides to completion, checks what each received, then closes both connections.
async fn exchange(
    (offerer_name, offerer_signals): (&str, Signals),
    (answerer_name, answerer_signals): (&str, Signals),
) {
    let from_offerer = format!("hello from {offerer_name}, the offerer");
    let from_answerer = format!("hello from {answerer_name}, the answerer");
    let (offerer, answerer) = tokio::join!(
        run_peer(offerer_name, true, offerer_signals, from_offerer.clone()),
        run_peer(
            answerer_name,
            false,
            answerer_signals,
            from_answerer.clone()
        ),
    );
    assert_eq!(
        answerer.received, from_offerer,
        "offerer → answerer message"
    );
    assert_eq!(
        offerer.received, from_answerer,
        "answerer → offerer message"
    );
    for (name, outcome) in [(offerer_name, &offerer), (answerer_name, &answerer)] {
        assert!(outcome.local_candidates > 0, "{name} gathered no candidate");
        assert!(
            outcome.remote_candidates > 0,
            "{name} received no candidate"
        );
    }
    within("closing the offerer", offerer.pc.close())
        .await
        .expect("close the offerer");
    within("closing the answerer", answerer.pc.close())
        .await
        .expect("close the answerer");
}

// ── Signalling in process ────────────────────────────────────────────────────

/// Two signalling links wired to each other.
fn linked_pair() -> (Signals, Signals) {
    let (a_out, b_inbox) = mpsc::unbounded_channel();
    let (b_out, a_inbox) = mpsc::unbounded_channel();
    (
        Signals {
            out: a_out,
            inbox: a_inbox,
        },
        Signals {
            out: b_out,
            inbox: b_inbox,
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_peers_exchange_messages() {
    let (alice, bob) = linked_pair();
    exchange(("alice", alice), ("bob", bob)).await;
}

// ── Signalling through cadre ─────────────────────────────────────────────────

/// Carries `data` payloads between a peer's loop and its cadre connection: out as
/// `{"type":"signal","to":…,"data":…}`, in from `signal` messages sent by `peer_id`. Anything
/// that should not happen mid-negotiation (a server error, a signal from someone else, the other
/// peer leaving, the socket closing) is passed to the loop as `{"unexpected": …}`, which fails the
/// test there. The socket stays open after the local peer is done, until the test ends: closing it
/// would tell the other peer, possibly still waiting for its message, that this one left.
fn bridge(mut client: Client, peer_id: String) -> Signals {
    let (out, mut outgoing) = mpsc::unbounded_channel::<Value>();
    let (incoming, inbox) = mpsc::unbounded_channel::<Value>();
    let sender = client.sender();
    tokio::spawn(async move {
        let mut outgoing_open = true;
        loop {
            tokio::select! {
                payload = outgoing.recv(), if outgoing_open => match payload {
                    Some(data) => sender.signal(&peer_id, data).await,
                    None => outgoing_open = false,
                },
                received = client.next_within(WAIT) => {
                    let forwarded = match received {
                        None => continue, // quiet for a while: keep listening
                        Some(Incoming::Text(text)) => match serde_json::from_str::<Value>(&text) {
                            Ok(message)
                                if message["type"] == "signal" && message["from"] == *peer_id =>
                            {
                                message["data"].clone()
                            }
                            Ok(message)
                                if ["signal", "error", "peer_left", "closing"]
                                    .contains(&message["type"].as_str().unwrap_or("")) =>
                            {
                                json!({ "unexpected": message })
                            }
                            Ok(_) => continue, // heartbeat_ack, peer_media, …
                            Err(e) => json!({ "unexpected": format!("not JSON ({e}): {text}") }),
                        },
                        Some(ended @ (Incoming::Close(_) | Incoming::Ended(_))) => {
                            let _ = incoming.send(json!({ "unexpected": format!("{ended:?}") }));
                            break;
                        }
                        Some(other) => json!({ "unexpected": format!("{other:?}") }),
                    };
                    // Nobody listens any more once the local peer is done.
                    let _ = incoming.send(forwarded);
                }
            }
        }
    });
    Signals { out, inbox }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_negotiate_through_cadre() {
    let server = TestServer::start_with(|config| config.ice_policy = IcePolicy::Loopback).await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;

    // Claire connects first: nobody else is there yet, and the rig asks for loopback candidates.
    let mut claire = server.join(&session, "Claire").await;
    let welcome = &claire.welcome;
    assert_eq!(welcome["roster"], json!([]), "Claire's welcome: {welcome}");
    assert_eq!(
        welcome["ice_policy"], "loopback",
        "Claire's welcome: {welcome}"
    );
    assert_eq!(
        welcome["ice_servers"],
        json!([]),
        "Claire's welcome: {welcome}"
    );

    // Karim finds Claire in his roster; Claire is told that Karim joined.
    let karim = server.join(&session, "Karim").await;
    let welcome = &karim.welcome;
    let roster = welcome["roster"].as_array().expect("the roster is a list");
    assert_eq!(roster.len(), 1, "Karim's welcome: {welcome}");
    assert_eq!(
        roster[0]["id"],
        claire.id.as_str(),
        "Karim's welcome: {welcome}"
    );
    let karim_polite = roster[0]["polite"].as_bool().expect("polite is a boolean");

    let joined = claire.skip_until_type("peer_joined").await;
    assert_eq!(joined["peer"]["id"], karim.id.as_str(), "{joined}");
    let claire_polite = joined["peer"]["polite"]
        .as_bool()
        .expect("polite is a boolean");
    assert_ne!(
        claire_polite, karim_polite,
        "exactly one side must be polite (Claire {claire_polite}, Karim {karim_polite})"
    );

    // The impolite side makes the offer.
    let (claire_id, karim_id) = (claire.id.clone(), karim.id.clone());
    let claire_side = ("Claire", bridge(claire, karim_id));
    let karim_side = ("Karim", bridge(karim, claire_id));
    if claire_polite {
        exchange(karim_side, claire_side).await;
    } else {
        exchange(claire_side, karim_side).await;
    }
}
