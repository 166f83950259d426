//! The equipment check's far end (framework article 2.1.5: the beneficiary
//! has working equipment before the session). A page tests the paths its
//! call could take by opening a data channel to a short-lived peer of the
//! server's, once per path: directly, and through each relay the server
//! hands out. The peer echoes what it receives, so the page measures the
//! round trip itself.
//!
//! Nothing of a check is evidence: it opens no connection to the session,
//! writes nothing to the ledger or the catalogue, and logs no name. The
//! person decides whether the organisation hears of a failure (a difficulty
//! report they send from the page).

use crate::recording::build_peer;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
};

/// Check peers alive at once across the server: each holds a UDP socket
/// and a few buffers for at most [`LIFETIME`].
pub const MAX_CHECKS: usize = 64;
/// Check peers alive at once for one person: a page tests its paths one
/// after the other, so two leaves room for a second tab, not for a load.
pub const PER_PERSON: usize = 2;
/// A check peer is closed this long after its answer, whatever happens.
pub const LIFETIME: Duration = Duration::from_secs(45);
/// How long the server waits for its own candidates before answering.
const GATHERING: Duration = Duration::from_secs(2);
/// Largest offer taken: a browser's data-channel-only offer is under 2 KiB.
pub const MAX_OFFER_BYTES: usize = 16 * 1024;
/// Largest message echoed; the page sends a few dozen bytes per probe.
pub const MAX_ECHO_BYTES: usize = 1024;
/// Messages echoed per check peer; the page sends about twenty.
pub const MAX_ECHOES: usize = 200;

/// Why a check was not started.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckRefusal {
    /// The offer is not a check's (a data channel, no media) or does not parse.
    #[error("{0}")]
    BadOffer(String),
    /// The person already runs [`PER_PERSON`] checks.
    #[error("this person already has {PER_PERSON} checks running; wait for them to end")]
    PersonBusy,
    /// The server runs [`MAX_CHECKS`] checks.
    #[error("the server is running as many equipment checks as it allows; try again in a minute")]
    Full,
    /// The peer could not be built or negotiated.
    #[error("the check could not be set up: {0}")]
    WebRtc(String),
}

/// The server's check peers.
pub struct Checks {
    ip: IpAddr,
    slots: Arc<Semaphore>,
    people: Arc<Mutex<HashMap<String, usize>>>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

/// One person's claim on a check, released when the peer ends.
struct PersonSlot {
    people: Arc<Mutex<HashMap<String, usize>>>,
    key: String,
}

impl Drop for PersonSlot {
    fn drop(&mut self) {
        let mut people = self.people.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = people.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                people.remove(&self.key);
            }
        }
    }
}

impl Checks {
    /// Peers bind `ip` (the address browsers reach the server's media on).
    pub fn new(ip: IpAddr, tracker: TaskTracker, shutdown: CancellationToken) -> Checks {
        Checks {
            ip,
            slots: Arc::new(Semaphore::new(MAX_CHECKS)),
            people: Arc::default(),
            tracker,
            shutdown,
        }
    }

    /// Check peers alive now.
    pub fn live(&self) -> usize {
        MAX_CHECKS - self.slots.available_permits()
    }

    fn claim(&self, person: &str) -> Result<(PersonSlot, OwnedSemaphorePermit), CheckRefusal> {
        let mut people = self.people.lock().unwrap_or_else(|p| p.into_inner());
        let count = people.entry(person.to_owned()).or_insert(0);
        if *count >= PER_PERSON {
            return Err(CheckRefusal::PersonBusy);
        }
        let permit = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| CheckRefusal::Full)?;
        *count += 1;
        Ok((
            PersonSlot {
                people: Arc::clone(&self.people),
                key: person.to_owned(),
            },
            permit,
        ))
    }

    /// Answers `offer` (a data channel, nothing else) for `person` with the
    /// answer's SDP, candidates included; the peer echoes the page's
    /// messages until the page closes it or [`LIFETIME`] passes.
    pub async fn answer(&self, person: &str, offer: &str) -> Result<String, CheckRefusal> {
        let offer = parse_offer(offer)?;
        let (slot, permit) = self.claim(person)?;
        let (gathered_tx, mut gathered) = watch::channel(false);
        let (channel_tx, channel_rx) = tokio::sync::mpsc::channel(1);
        let (state_tx, state_rx) = watch::channel(RTCPeerConnectionState::New);
        let handler = Arc::new(Handler {
            gathered: gathered_tx,
            channel: channel_tx,
            state: state_tx,
        });
        let pc = build_peer(self.ip, handler)
            .await
            .map_err(CheckRefusal::WebRtc)?;
        let negotiated = async {
            pc.set_remote_description(offer)
                .await
                .map_err(|e| CheckRefusal::BadOffer(format!("the offer was refused: {e}")))?;
            let answer = pc
                .create_answer(None)
                .await
                .map_err(|e| CheckRefusal::BadOffer(format!("no answer is possible: {e}")))?;
            pc.set_local_description(answer)
                .await
                .map_err(|e| CheckRefusal::WebRtc(format!("set the answer: {e}")))?;
            let _ = tokio::time::timeout(GATHERING, gathered.wait_for(|done| *done)).await;
            pc.local_description()
                .await
                .map(|d| d.sdp)
                .ok_or_else(|| CheckRefusal::WebRtc("no local description".to_owned()))
        }
        .await;
        let sdp = match negotiated {
            Ok(sdp) => sdp,
            Err(e) => {
                let _ = pc.close().await;
                return Err(e);
            }
        };
        let shutdown = self.shutdown.clone();
        self.tracker.spawn(async move {
            // Held until the peer is closed.
            let _claims = (slot, permit);
            tokio::select! {
                () = echo(channel_rx, state_rx) => {}
                () = tokio::time::sleep(LIFETIME) => debug!("an equipment check reached its lifetime"),
                () = shutdown.cancelled() => {}
            }
            let _ = pc.close().await;
        });
        Ok(sdp)
    }
}

/// The offer's checks before webrtc-rs reads it: a size, an SDP, a data
/// channel section and nothing else (a check carries no media).
fn parse_offer(offer: &str) -> Result<RTCSessionDescription, CheckRefusal> {
    let bad = |why: &str| CheckRefusal::BadOffer(why.to_owned());
    if offer.len() > MAX_OFFER_BYTES {
        return Err(bad("the offer is too large for an equipment check"));
    }
    if !offer.starts_with("v=0") {
        return Err(bad("the offer is not an SDP (it must start with v=0)"));
    }
    let sections: Vec<&str> = offer
        .lines()
        .filter_map(|l| l.strip_prefix("m="))
        .map(|m| m.split_whitespace().next().unwrap_or(""))
        .collect();
    if sections != ["application"] {
        return Err(bad(
            "an equipment check's offer has one data channel section and no media",
        ));
    }
    RTCSessionDescription::offer(offer.to_owned())
        .map_err(|e| CheckRefusal::BadOffer(format!("the offer does not parse: {e}")))
}

/// Echoes the page's channel until it closes, the connection fails, or the
/// page sends more than a check needs.
async fn echo(
    mut channel: tokio::sync::mpsc::Receiver<Arc<dyn DataChannel>>,
    mut state: watch::Receiver<RTCPeerConnectionState>,
) {
    let ended = |s: &RTCPeerConnectionState| {
        matches!(
            s,
            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
        )
    };
    let dc = tokio::select! {
        dc = channel.recv() => match dc { Some(dc) => dc, None => return },
        _ = state.wait_for(ended) => return,
    };
    let mut echoed = 0;
    loop {
        let event = tokio::select! {
            event = dc.poll() => event,
            _ = state.wait_for(ended) => return,
        };
        match event {
            Some(DataChannelEvent::OnMessage(message)) => {
                if message.data.len() > MAX_ECHO_BYTES || echoed >= MAX_ECHOES {
                    debug!("an equipment check sent more than a check needs; closed");
                    return;
                }
                echoed += 1;
                let sent = if message.is_string {
                    match std::str::from_utf8(&message.data) {
                        Ok(text) => dc.send_text(text).await,
                        Err(_) => return,
                    }
                } else {
                    dc.send(message.data).await
                };
                if sent.is_err() {
                    return;
                }
            }
            Some(DataChannelEvent::OnClose) | None => return,
            Some(_) => {}
        }
    }
}

/// The check peer's events, handed over to its task (they run on the
/// connection's driver).
struct Handler {
    gathered: watch::Sender<bool>,
    channel: tokio::sync::mpsc::Sender<Arc<dyn DataChannel>>,
    state: watch::Sender<RTCPeerConnectionState>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.state.send_replace(state);
    }

    async fn on_data_channel(&self, data_channel: Arc<dyn DataChannel>) {
        // One channel per check; a second is ignored.
        let _ = self.channel.try_send(data_channel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
        a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 \
        AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\r\n\
        a=setup:actpass\r\na=sctp-port:5000\r\n";

    #[test]
    fn offers_are_data_channels_only() {
        assert!(parse_offer(OFFER).is_ok());
        let with_audio = OFFER.replace(
            "m=application",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\nm=application",
        );
        assert!(matches!(
            parse_offer(&with_audio),
            Err(CheckRefusal::BadOffer(_))
        ));
        assert!(matches!(
            parse_offer("hello"),
            Err(CheckRefusal::BadOffer(_))
        ));
        let huge = format!("{OFFER}{}", "a=x\r\n".repeat(MAX_OFFER_BYTES / 5));
        assert!(matches!(parse_offer(&huge), Err(CheckRefusal::BadOffer(_))));
        assert!(matches!(
            parse_offer("v=0\r\n"),
            Err(CheckRefusal::BadOffer(_))
        ));
    }

    #[test]
    fn a_person_holds_at_most_their_share() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _in = rt.enter();
        let checks = Checks::new(
            IpAddr::from([127, 0, 0, 1]),
            TaskTracker::new(),
            CancellationToken::new(),
        );
        let first = checks.claim("p1").unwrap();
        let second = checks.claim("p1").unwrap();
        assert_eq!(checks.claim("p1").err(), Some(CheckRefusal::PersonBusy));
        let other = checks.claim("p2").unwrap();
        assert_eq!(checks.live(), 3);
        drop(first);
        let again = checks.claim("p1").unwrap();
        drop((second, other, again));
        assert_eq!(checks.live(), 0);
        assert!(checks.people.lock().unwrap().is_empty());
    }
}
