//! Two webrtc-rs peers that negotiate through cadre and may only use TURN
//! relays (`ice_transport_policy: relay`), with the ICE servers their
//! welcomes carry. Each sends one data-channel message and waits for the
//! other's; the report says which kind of candidate each side's selected
//! pair uses.

use super::{WAIT, within};
use rtc::ice::mdns::MulticastDnsMode;
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceCandidateType, RTCIceGatheringState, RTCIceServer,
    RTCIceTransportPolicy, RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSdpType,
    RTCSessionDescription, RTCStatsReportEntry, SettingEngineBuilder, StatsSelector,
};

enum PeerEvent {
    Candidate(RTCIceCandidateInit),
    GatheringComplete,
    State(RTCPeerConnectionState),
    RemoteChannel(Arc<dyn DataChannel>),
    Channel(DataChannelEvent),
    Failure(String),
}

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

fn forward_channel_events(channel: Arc<dyn DataChannel>, events: mpsc::UnboundedSender<PeerEvent>) {
    tokio::spawn(async move {
        while let Some(event) = channel.poll().await {
            if events.send(PeerEvent::Channel(event)).is_err() {
                break;
            }
        }
    });
}

/// The ICE servers of a welcome, as webrtc-rs takes them.
pub fn ice_servers(welcome_servers: &Value) -> Vec<RTCIceServer> {
    welcome_servers
        .as_array()
        .expect("ice_servers is a list")
        .iter()
        .map(|s| RTCIceServer {
            urls: s["urls"]
                .as_array()
                .expect("urls is a list")
                .iter()
                .map(|u| u.as_str().expect("a URL").to_owned())
                .collect(),
            username: s["username"].as_str().unwrap_or_default().to_owned(),
            credential: s["credential"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

/// The candidate type field of an ICE candidate attribute.
pub fn candidate_type(candidate: &str) -> &str {
    let mut fields = candidate.split_whitespace();
    while let Some(f) = fields.next() {
        if f == "typ" {
            return fields.next().unwrap_or("");
        }
    }
    ""
}

/// What one side ends with.
pub struct Outcome {
    /// The connection, closed by the caller.
    pub pc: Arc<dyn PeerConnection>,
    /// The other side's message.
    pub received: String,
    /// Every local candidate, as sent.
    pub local_candidates: Vec<String>,
    /// The candidate types of the selected pair (local, remote).
    pub selected: (RTCIceCandidateType, RTCIceCandidateType),
    /// The selected pair's local candidate address and port.
    pub selected_local: String,
}

/// Runs one side through `(out, inbox)` (see [`super::bridge`]) with
/// `servers`, relays only.
pub async fn run_relay_peer(
    name: &str,
    offerer: bool,
    servers: Vec<RTCIceServer>,
    (out, mut inbox): (mpsc::UnboundedSender<Value>, mpsc::UnboundedReceiver<Value>),
    message: String,
) -> Outcome {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .build();
    let pc: Arc<dyn PeerConnection> = Arc::new(
        PeerConnectionBuilder::new()
            .with_configuration(
                RTCConfigurationBuilder::new()
                    .with_ice_servers(servers)
                    .with_ice_transport_policy(RTCIceTransportPolicy::Relay)
                    .build(),
            )
            .with_setting_engine(settings)
            .with_handler(Arc::new(Forwarder(events_tx.clone())))
            .with_udp_addrs(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))])
            .build()
            .await
            .unwrap_or_else(|e| panic!("{name}: build a peer connection: {e}")),
    );
    let send = |payload: Value| {
        out.send(payload)
            .unwrap_or_else(|_| panic!("{name}: signalling link closed"));
    };
    let mut channel: Option<Arc<dyn DataChannel>> = None;
    if offerer {
        let dc = pc
            .create_data_channel("cadre-turn", None)
            .await
            .unwrap_or_else(|e| panic!("{name}: create data channel: {e}"));
        forward_channel_events(dc.clone(), events_tx.clone());
        channel = Some(dc);
        let offer = pc.create_offer(None).await.expect("create an offer");
        pc.set_local_description(offer.clone())
            .await
            .expect("set the local offer");
        send(json!({ "description": offer }));
    }
    let deadline = Instant::now() + WAIT;
    let mut state = RTCPeerConnectionState::New;
    let mut remote_set = false;
    let mut held_back = Vec::new();
    let mut local_candidates = Vec::new();
    let (mut sent, mut received) = (false, None::<String>);
    let mut inbox_open = true;
    while !(sent && received.is_some()) {
        let next = tokio::time::timeout_at(deadline, async {
            tokio::select! {
                event = events.recv() => Ok(event.expect("the loop holds a sender")),
                payload = inbox.recv(), if inbox_open => Err(payload),
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{name}: timed out after {WAIT:?} (connection {state}, remote description \
                 {remote_set}, local candidates {local_candidates:?}, sent {sent}, received {received:?})"
            )
        });
        match next {
            Ok(PeerEvent::Candidate(candidate)) => {
                local_candidates.push(candidate.candidate.clone());
                send(json!({ "candidate": candidate }));
            }
            Ok(PeerEvent::GatheringComplete) => send(json!({ "candidate": null })),
            Ok(PeerEvent::State(new_state)) => {
                assert!(
                    !matches!(
                        new_state,
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                    ),
                    "{name}: peer connection {new_state} before the exchange finished \
                     (local candidates {local_candidates:?})"
                );
                state = new_state;
            }
            Ok(PeerEvent::RemoteChannel(dc)) => {
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
                received = Some(String::from_utf8(msg.data.to_vec()).expect("UTF-8"));
            }
            Ok(PeerEvent::Channel(_)) => {}
            Ok(PeerEvent::Failure(why)) => panic!("{name}: {why}"),
            Err(None) => inbox_open = false,
            Err(Some(payload)) => {
                if let Some(unexpected) = payload.get("unexpected") {
                    panic!("{name}: unexpected from cadre: {unexpected}");
                } else if let Some(description) = payload.get("description") {
                    let description: RTCSessionDescription =
                        serde_json::from_value(description.clone()).expect("a description");
                    let is_offer = description.sdp_type == RTCSdpType::Offer;
                    pc.set_remote_description(description)
                        .await
                        .unwrap_or_else(|e| panic!("{name}: set remote description: {e}"));
                    remote_set = true;
                    if is_offer {
                        let answer = pc.create_answer(None).await.expect("create an answer");
                        pc.set_local_description(answer.clone())
                            .await
                            .expect("set the local answer");
                        send(json!({ "description": answer }));
                    }
                    for candidate in held_back.drain(..) {
                        pc.add_ice_candidate(candidate)
                            .await
                            .unwrap_or_else(|e| panic!("{name}: add held-back candidate: {e}"));
                    }
                } else if let Some(candidate) = payload.get("candidate") {
                    if candidate.is_null() {
                        continue;
                    }
                    let candidate: RTCIceCandidateInit =
                        serde_json::from_value(candidate.clone()).expect("a candidate");
                    if remote_set {
                        pc.add_ice_candidate(candidate)
                            .await
                            .unwrap_or_else(|e| panic!("{name}: add candidate: {e}"));
                    } else {
                        held_back.push(candidate);
                    }
                }
            }
        }
    }
    let (selected, selected_local) =
        within("the connection's statistics", selected_pair(&pc)).await;
    Outcome {
        pc,
        received: received.expect("the loop ends with a message"),
        local_candidates,
        selected,
        selected_local,
    }
}

/// The candidate types of the transport's selected pair, and the local
/// candidate's address.
async fn selected_pair(
    pc: &Arc<dyn PeerConnection>,
) -> ((RTCIceCandidateType, RTCIceCandidateType), String) {
    let report = pc
        .get_stats(std::time::Instant::now(), StatsSelector::None)
        .await;
    let transport = report.transport().expect("a transport in the statistics");
    let pair = report
        .candidate_pairs()
        .find(|p| p.stats.id == transport.selected_candidate_pair_id)
        .unwrap_or_else(|| {
            panic!(
                "the selected pair {:?} is among the statistics",
                transport.selected_candidate_pair_id
            )
        });
    let mut local = None;
    let mut remote = None;
    for entry in report.iter() {
        match entry {
            RTCStatsReportEntry::LocalCandidate(c)
                if same_candidate(&c.stats.id, &pair.local_candidate_id) =>
            {
                local = Some((
                    c.candidate_type,
                    format!("{}:{}", c.address.clone().unwrap_or_default(), c.port),
                ));
            }
            RTCStatsReportEntry::RemoteCandidate(c)
                if same_candidate(&c.stats.id, &pair.remote_candidate_id) =>
            {
                remote = Some(c.candidate_type);
            }
            _ => {}
        }
    }
    let Some((local_type, local_addr)) = local else {
        let ids: Vec<String> = report
            .iter()
            .map(|e| format!("{:?} {}", e.stats_type(), e.id()))
            .collect();
        panic!(
            "the selected pair's local candidate {} is not among {ids:?}",
            pair.local_candidate_id
        );
    };
    (
        (
            local_type,
            remote.expect("the selected pair's remote candidate"),
        ),
        local_addr,
    )
}

/// rtc 0.21.1 names a candidate's statistics `RTCLocalIceCandidate_<id>`
/// (`RTCRemoteIceCandidate_<id>`) while its pair refers to it as `<id>`.
fn same_candidate(stats_id: &str, pair_ref: &str) -> bool {
    stats_id == pair_ref
        || stats_id
            .strip_suffix(pair_ref)
            .is_some_and(|prefix| prefix.ends_with('_'))
}
