//! Forwarding through the server (SFU): the media core of one forwarded
//! session, driven by its session actor (`live/session/forwarding.rs`).
//!
//! Each member has two peer connections with the server, so that neither
//! side ever has to resolve an offer crossing another (the shape LiveKit
//! uses):
//! - **publish**: the member offers its camera and microphone (send-only;
//!   the camera possibly in three simulcast encodings), the server answers
//!   (receive-only, Opus and VP8 only, as the recorder);
//! - **subscribe**: the server offers every other member's tracks
//!   (send-only) and offers again whenever a track comes or goes; the
//!   member only ever answers. One offer is outstanding at a time; a change
//!   meanwhile is offered once the answer is in.
//!
//! Each incoming track is read by one task that writes every packet to each
//! subscriber's outgoing track, with that subscriber's SSRC and negotiated
//! payload type, from the layer chosen for that subscriber (`layers.rs`:
//! its wish, from its tile, within its budget), renumbered so that the
//! outgoing track stays one continuous stream across switches. A layer is
//! taken up at its next keyframe, which the server asks the publisher for.
//!
//! What a peer connection does (codecs, interceptors: NACK, RTCP reports,
//! TWCC; ICE on one UDP socket, no mDNS) is the recorder's
//! (`recording::build_peer`).

mod capacity;
mod feedback;
mod layers;
mod voices;

pub use capacity::Capacity;

use cadre_protocol::signalling::VideoQuality;
use feedback::{Feedback, SubscriberFeedback};
use futures_util::FutureExt as _;
use layers::{Arrival, Rank, Rewrite};
use rtc::interceptor::Slot;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceGatheringState, RTCPeerConnectionState,
    RTCSessionDescription,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit, RtpSender};

/// Longest wait for the server's own ICE candidates (one UDP socket: in
/// practice immediate).
const GATHERING: Duration = Duration::from_secs(2);

/// How long a closing forwarder waits for its tracks' tasks to end before
/// it stops them.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Largest offer or answer taken from a member.
const MAX_DESCRIPTION: usize = 128 * 1024;

/// RFC 6464: how loud an audio packet is.
pub(crate) const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// The id `sdp` gives the header extension `uri` in its first `kind`
/// section (`a=extmap:<id>[/<direction>] <uri>`).
fn extension_id(sdp: &str, kind: &str, uri: &str) -> Option<u8> {
    let section = sdp.split("\nm=").skip(1).find(|m| m.starts_with(kind))?;
    section.lines().find_map(|line| {
        let rest = line.trim_end().strip_prefix("a=extmap:")?;
        let (id, named) = rest.split_once(' ')?;
        let id = id.split('/').next()?;
        (named.split_whitespace().next() == Some(uri)).then(|| id.parse().ok())?
    })
}

/// Tracks a publication is counted for when it is admitted: a camera and a
/// microphone. A shared screen (one person at a time in a session) is
/// forwarded beyond the count.
const MAX_PUBLISHED: usize = 2;

/// Tracks one member may publish: a camera, a microphone, and a shared
/// screen with its sound.
const MAX_SOURCES: usize = 4;

/// The stream id a subscriber sees a publisher's shared screen under
/// (participant ids never hold a colon).
pub const SCREEN_STREAM_SUFFIX: &str = ":screen";

/// Shortest time between two keyframe requests to one publisher's track:
/// one keyframe serves every subscriber who asked meanwhile. A request
/// inside the interval is sent at its end.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);

/// Candidates held per connection until its remote description is set.
const MAX_HELD_CANDIDATES: usize = 64;

/// Which of a member's two connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The member's camera and microphone, offered by the member.
    Publish,
    /// The others' tracks, offered by the server.
    Subscribe,
}

/// What the owner must carry to a member.
#[derive(Debug, Clone, PartialEq)]
pub enum ForwardEvent {
    /// An offer for the member's subscribe connection (`{"type":"offer",
    /// "sdp":…}`, candidates included): answer it with
    /// [`Forwarder::answer`].
    Offer {
        /// Whose subscribe connection.
        member: String,
        /// The offer.
        description: Value,
    },
    /// A member's connection failed (ICE gave up: the member vanished or
    /// their network changed): the member should connect that side again
    /// (publish again, or be given a new subscribe connection by leaving
    /// and joining). A failed publish connection's tracks are already
    /// offered away.
    ConnectionFailed {
        /// Whose connection.
        member: String,
        /// Which one.
        side: Side,
    },
    /// A member's publication was refused: the server forwards as much as
    /// it may (`Capacity`). They still receive the others.
    Refused {
        /// Whose.
        member: String,
    },
    /// What the server measured of a member's media over the last second,
    /// whatever their browser reports: the fraction of their packets it
    /// missed, and of its packets their receiver reported lost; the round
    /// trip to them, and the jitter of their sound as it arrives.
    Conditions {
        /// Whose.
        member: String,
        /// 0..=1; `None` when too few packets came to tell.
        uplink_loss: Option<f64>,
        /// 0..=1; `None` when no report came.
        downlink_loss: Option<f64>,
        /// The last round trip of the subscribe connection's checks (ICE
        /// keepalives, every 2 s), ms; `None` before the first.
        rtt_ms: Option<f64>,
        /// The RFC 3550 inter-arrival jitter of their microphone's packets
        /// at the server, ms; `None` while they send no sound.
        jitter_ms: Option<f64>,
    },
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// Nobody of that id joined.
    #[error("{0} is not a member of this forwarding")]
    UnknownMember(String),
    /// Joined twice.
    #[error("{0} is already a member")]
    AlreadyMember(String),
    /// Not `{"type":…,"sdp":…}` of the expected type, too large, or an SDP
    /// webrtc-rs refuses.
    #[error("bad session description: {0}")]
    BadDescription(String),
    /// An answer when no offer is outstanding.
    #[error("no offer is waiting for an answer")]
    NoOffer,
    /// Not a candidate, refused by webrtc-rs, or one too many before the
    /// description was set.
    #[error("bad ICE candidate: {0}")]
    BadCandidate(String),
    /// The server's own WebRTC side failed.
    #[error("WebRTC: {0}")]
    WebRtc(String),
    /// The server forwards as many streams as it can carry: this
    /// publication is not taken (the member still receives the others).
    #[error(
        "the server forwards as many streams as it can carry: your camera and microphone are not sent for now"
    )]
    AtCapacity,
}

/// The media core of one forwarded session.
#[derive(Clone)]
pub struct Forwarder {
    inner: Arc<Inner>,
}

struct Inner {
    ip: IpAddr,
    /// Numbers publish connections, so that a replaced one's end is told
    /// from the current one's.
    generations: std::sync::atomic::AtomicU64,
    members: Mutex<HashMap<String, Arc<Member>>>,
    events: mpsc::UnboundedSender<ForwardEvent>,
    tracker: TaskTracker,
    /// The server's forwarding limit, shared by every session.
    capacity: Arc<Capacity>,
    /// The clock of [`Source::last_loud_ms`].
    epoch: std::time::Instant,
    /// Someone not heard now became loud: choose the voices again.
    voices_changed: tokio::sync::Notify,
    /// Ends the tracks' tasks still running once the forwarder has closed
    /// and waited [`CLOSE_GRACE`] for them.
    cancel: CancellationToken,
    /// Whose shared screen is forwarded (the session's sharer): another
    /// member's screen packets reach nobody.
    sharer: Mutex<Option<String>>,
    /// Faults the integration tests plan for a member's track.
    /// Cargo unifies features across what one command builds: a server
    /// built beside the test harness (the benchmarks) has this too, so the
    /// packet path reads a flag, and the map only while a fault is planned.
    #[cfg(feature = "faults")]
    faults: Mutex<HashMap<(String, RtpCodecKind), Fault>>,
    #[cfg(feature = "faults")]
    faults_planned: AtomicBool,
}

/// What an integration test makes a forwarded track's task do at its next
/// packet, to show that the damage stays where it happens.
#[cfg(feature = "faults")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Panics (a bug in the forwarding of one packet).
    Panic,
    /// Never goes on (a task stuck on something that never comes).
    Stall,
}

/// Which member's track of which kind, from their camera and microphone or
/// from their shared screen.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SourceKey {
    publisher: String,
    kind: RtpCodecKind,
    screen: bool,
}

struct Member {
    id: String,
    subscribe: Arc<dyn PeerConnection>,
    subscribe_gathered: watch::Receiver<bool>,
    /// The subscribe connection is up (DTLS done): packets are sent to it
    /// only then, since before there are no keys to encrypt them with.
    subscribe_up: Arc<AtomicBool>,
    /// The current publish connection, with its generation.
    publish: Mutex<Option<(u64, Arc<dyn PeerConnection>)>>,
    /// What this member publishes.
    sources: Mutex<Vec<Arc<Source>>>,
    /// The subscribe connection's offers, one at a time.
    negotiation: tokio::sync::Mutex<Negotiation>,
    /// Others' tracks sent to this member.
    outgoing: Mutex<HashMap<SourceKey, Arc<Outgoing>>>,
    /// A change came while an offer was outstanding.
    pending: AtomicBool,
    /// The member's trickled candidates, per side, held until that side's
    /// remote description is set.
    publish_candidates: Mutex<Trickle>,
    subscribe_candidates: Mutex<Trickle>,
    /// The recording segment's publication of this member, while they are
    /// recorded: their tracks' packets are written there too.
    tap: Mutex<Option<crate::recording::Tap>>,
    /// What this member wants of each publisher's camera (their tiles),
    /// by publisher id; [`DEFAULT_WISH`] for one not named.
    wishes: Mutex<HashMap<String, Rank>>,
    /// Bits per second this member's downlink takes: its own estimate
    /// (REMB) when that is below what it is sent, lowered on losses,
    /// raised a tenth a tick while clean; `u64::MAX` until something says
    /// less.
    budget: AtomicU64,
    /// The largest fraction (of 256) of packets lost on any of its tracks
    /// since the last tick.
    loss: AtomicU8,
    /// A receiver report came since the last tick.
    reported: AtomicBool,
    /// The audio-level extension's id on each of its publish connections
    /// (by generation), when it offered one.
    levels: Mutex<HashMap<u64, u8>>,
    /// The camera and microphone's media stream on each of its publish
    /// connections (by generation): a track of another stream is the
    /// shared screen.
    camera_streams: Mutex<HashMap<u64, Vec<String>>>,
}

/// Candidates that came before they could be applied.
#[derive(Default)]
struct Trickle {
    /// The connection candidates now go to (its remote description is set).
    target: Option<Arc<dyn PeerConnection>>,
    held: Vec<webrtc::peer_connection::RTCIceCandidateInit>,
}

#[derive(Default)]
struct Negotiation {
    offered: bool,
    /// The SSRCs the outstanding offer sends. A track added while it was
    /// made may be missing from it: that track is bound only by the answer
    /// to the next offer, which carries it. Sending before would reach a
    /// connection that does not know the SSRC yet, and webrtc-rs (as a
    /// browser may) then never shows that track.
    ssrcs: std::collections::HashSet<u32>,
}

/// The SSRCs an SDP declares (`a=ssrc:<ssrc> …`).
fn declared_ssrcs(sdp: &str) -> std::collections::HashSet<u32> {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=ssrc:")?.split(' ').next()?.parse().ok())
        .collect()
}

/// One incoming track and where it goes.
struct Source {
    key: SourceKey,
    /// Of the publish connection it came on.
    generation: u64,
    remote: Arc<dyn TrackRemote>,
    mime: String,
    clock_rate: u32,
    /// Audio: the id of the publisher's audio-level extension (RFC 6464).
    level_id: Option<u8>,
    /// Audio: forwarded to the subscribers (`voices.rs`: in a large group,
    /// only the few who spoke last are).
    audible: AtomicBool,
    /// Audio: when it was last loud, ms on [`Inner::epoch`] (0: never).
    last_loud_ms: AtomicU64,
    /// Forwarded now: always for a camera and a microphone; a screen only
    /// while its publisher is the session's sharer.
    allowed: AtomicBool,
    /// The encodings it arrives in: one, or a simulcast camera's layers as
    /// they open.
    layers: RwLock<Vec<Arc<Layer>>>,
    sinks: RwLock<Vec<Arc<Outgoing>>>,
    /// Keyframe requests, per layer (SSRC).
    keyframes: Mutex<HashMap<u32, KeyframeAsks>>,
    /// Where the recorder takes this track's packets, while it does, with
    /// the publication's key ([`crate::recording::Tap::key`]) and the
    /// numbering that keeps the file one stream (the highest layer).
    tap: Mutex<Option<Tapped>>,
}

/// A source's recorder tap: the publication's key, where packets go, and
/// their numbering.
type Tapped = ((u64, u64), crate::recording::TapTrack, Rewrite);

/// One encoding of a source.
struct Layer {
    ssrc: u32,
    rank: Rank,
    /// Bytes received since the last tick, and the rate measured then.
    bytes: AtomicU64,
    bitrate: AtomicU64,
    /// Packets since the last tick: those the sequence numbers say were
    /// sent, and those that came (the uplink's loss).
    expected: AtomicU64,
    received: AtomicU64,
    /// The highest sequence number seen, [`NO_SEQ`] before the first.
    last_seq: AtomicU32,
}

/// [`Layer::last_seq`] before any packet.
const NO_SEQ: u32 = u32::MAX;

/// When this source's publisher was last asked for a keyframe, and whether
/// a request waits for the interval's end.
#[derive(Default)]
struct KeyframeAsks {
    last: Option<std::time::Instant>,
    trailing: bool,
}

/// One source as sent to one subscriber.
struct Outgoing {
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    mime: String,
    /// Known once the subscriber's answer is in.
    payload_type: OnceLock<u8>,
    /// The keyframe asked for this subscriber.
    keyframe_asked: AtomicBool,
    /// What the subscriber wants of it (video: its tile's size).
    wish: AtomicU8,
    /// The layer (SSRC) it should send, [`NO_LAYER`] for none.
    target: AtomicU64,
    /// The layer it sends, and the numbering that keeps it one stream.
    rewrite: Mutex<Rewrite>,
    /// Audio: the id the subscriber's connection gives the audio-level
    /// extension, once its answer is in.
    level_id: OnceLock<u8>,
    /// Counts it in the server's forwarding while it exists.
    _counted: capacity::Reservation,
    /// Its subscriber's connection is up ([`Member::subscribe_up`]).
    up: Arc<AtomicBool>,
}

/// [`Outgoing::target`] when nothing is to be sent.
const NO_LAYER: u64 = u64::MAX;

/// What a subscriber gets of a camera before saying what its tile needs:
/// the lowest layer, which a group of 30 can afford.
const DEFAULT_WISH: Rank = 0;

/// How often layers' bitrates are measured and every subscriber's layers
/// chosen again.
const TICK: Duration = Duration::from_secs(1);

/// How often the microphones a large group hears are chosen again (besides
/// at once when someone not heard speaks).
const VOICE_TICK: Duration = Duration::from_millis(250);

/// Packets a member must have sent in a tick for its uplink loss to count.
const MIN_PACKETS_FOR_LOSS: u64 = 20;

/// A subscriber with more than this fraction (of 256) of a track's packets
/// lost is sent less: about 8 %.
const LOSSY: u8 = 20;

impl Layer {
    fn new(ssrc: u32, rank: Rank) -> Layer {
        Layer {
            ssrc,
            rank,
            bytes: AtomicU64::new(0),
            bitrate: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            received: AtomicU64::new(0),
            last_seq: AtomicU32::new(NO_SEQ),
        }
    }
}

impl Layer {
    /// Counts a packet: how far its sequence number moves the layer on
    /// (a late or repeated packet moves it nothing).
    fn count(&self, seq: u16) {
        self.received.fetch_add(1, Ordering::Relaxed);
        let previous = self.last_seq.load(Ordering::Relaxed);
        let ahead = if previous == NO_SEQ {
            1
        } else {
            match seq.wrapping_sub(previous as u16) {
                d if d == 0 || d >= 0x8000 => 0,
                d => u64::from(d),
            }
        };
        if ahead > 0 {
            self.last_seq.store(u32::from(seq), Ordering::Relaxed);
            self.expected.fetch_add(ahead, Ordering::Relaxed);
        }
    }
}

impl Source {
    fn layer(&self, ssrc: u32) -> Option<Arc<Layer>> {
        self.layers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|l| l.ssrc == ssrc)
            .cloned()
    }

    /// The highest layer's SSRC (what the recorder keeps).
    fn highest(&self) -> Option<u32> {
        self.layers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .max_by_key(|l| l.rank)
            .map(|l| l.ssrc)
    }

    /// A layer that opened; false when it was known, or its RID names a
    /// rank another SSRC already has (a second encoding claiming to be the
    /// same one is not a layer). A layer whose RID says no rank comes after
    /// the others; at most three.
    /// Takes the encoding `ssrc` named `rid` as one of the camera's layers:
    /// a simulcast encoding must be named as a layer (`layers::rank_of`),
    /// one rank each, three at most; an encoding named otherwise, or
    /// unnamed beside others, is not forwarded (more than a camera may
    /// send).
    fn add_layer(&self, ssrc: u32, rid: Option<&str>) -> bool {
        let mut layers = self.layers.write().unwrap_or_else(|p| p.into_inner());
        let rank = match rid {
            Some(rid) => match layers::rank_of(rid) {
                Some(rank) => rank,
                None => return false,
            },
            None if layers.is_empty() => 0,
            None => return false,
        };
        if layers.iter().any(|l| l.ssrc == ssrc || l.rank == rank) || layers.len() >= 3 {
            return false;
        }
        layers.push(Arc::new(Layer::new(ssrc, rank)));
        true
    }
}

impl Outgoing {
    fn target(&self) -> Option<u32> {
        match self.target.load(Ordering::Relaxed) {
            NO_LAYER => None,
            ssrc => Some(ssrc as u32),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A random SSRC for an outgoing track: a subscriber must not be able to
/// tell one publisher's stream from its SSRC across sessions.
fn next_ssrc() -> u32 {
    use ring::rand::SecureRandom;
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let mut bytes = [0u8; 4];
    match ring::rand::SystemRandom::new().fill(&mut bytes) {
        Ok(()) => u32::from_be_bytes(bytes),
        // The system's generator does not fail in practice; distinct
        // values are all that is needed.
        Err(_) => NEXT.fetch_add(1, Ordering::Relaxed),
    }
}

/// Gives `source`'s packets to `tap` from now on; a video track asks its
/// publisher for keyframes when the recorder wants one.
fn attach(source: &Arc<Source>, tap: &crate::recording::Tap) {
    // Held throughout: two attachments of one publication at once would
    // register the second track of a kind, which the segment refuses.
    let mut current = lock(&source.tap);
    if current
        .as_ref()
        .is_some_and(|(key, _, _)| *key == tap.key())
    {
        return;
    }
    let weak = Arc::downgrade(source);
    let track = tap.track(&source.mime, source.key.screen, move || {
        if let Some(source) = weak.upgrade()
            && let Some(layer) = source.highest()
        {
            tokio::spawn(async move { want_keyframe(&source, layer).await });
        }
    });
    *current = track.map(|t| (tap.key(), t, Rewrite::default()));
}

fn parse(description: &Value, want: &str) -> Result<RTCSessionDescription, ForwardError> {
    let size = description.to_string().len();
    if size > MAX_DESCRIPTION {
        return Err(ForwardError::BadDescription(format!(
            "{size} bytes; at most {MAX_DESCRIPTION}"
        )));
    }
    if description.get("type").and_then(Value::as_str) != Some(want) {
        return Err(ForwardError::BadDescription(format!(
            "expected {{\"type\":\"{want}\",\"sdp\":…}}"
        )));
    }
    let sdp = description
        .get("sdp")
        .and_then(Value::as_str)
        .ok_or_else(|| ForwardError::BadDescription("no sdp".into()))?
        .to_owned();
    let parsed = if want == "offer" {
        RTCSessionDescription::offer(sdp)
    } else {
        RTCSessionDescription::answer(sdp)
    };
    parsed.map_err(|e| ForwardError::BadDescription(e.to_string()))
}

/// Waits for the server's candidates, then gives the local description
/// with them.
async fn gathered_description(
    pc: &Arc<dyn PeerConnection>,
    gathered: &mut watch::Receiver<bool>,
) -> Result<Value, ForwardError> {
    let _ = tokio::time::timeout(GATHERING, gathered.wait_for(|g| *g)).await;
    let local = pc
        .local_description()
        .await
        .ok_or_else(|| ForwardError::WebRtc("no local description".into()))?;
    serde_json::to_value(&local).map_err(|e| ForwardError::WebRtc(e.to_string()))
}

/// A connection's events, handed to tasks (they run on its driver).
struct Handler {
    forwarder: Weak<Inner>,
    member: String,
    /// The publish connection's generation; `None` for a subscribe one.
    publish: Option<u64>,
    gathered: watch::Sender<bool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        debug!(member = %self.member, publish = ?self.publish, %state, "forwarding peer connection");
        if self.publish.is_none()
            && let Some(inner) = self.forwarder.upgrade()
        {
            // Set here, in the order the states come; only the keyframes
            // wait for a task.
            let forwarder = Forwarder { inner };
            let up = state == RTCPeerConnectionState::Connected;
            if let Ok(member) = forwarder.member(&self.member)
                && !member.subscribe_up.swap(up, Ordering::SeqCst)
                && up
            {
                tokio::spawn(async move { forwarder.subscriber_up(&member).await });
            }
        }
        if self.publish.is_none()
            && state == RTCPeerConnectionState::Failed
            && let Some(inner) = self.forwarder.upgrade()
        {
            let _ = inner.events.send(ForwardEvent::ConnectionFailed {
                member: self.member.clone(),
                side: Side::Subscribe,
            });
        }
        // A publisher that vanished (ICE gave up) or closed: the others
        // stop being offered their tracks.
        if let Some(generation) = self.publish
            && matches!(
                state,
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
            )
            && let Some(inner) = self.forwarder.upgrade()
        {
            let forwarder = Forwarder { inner };
            let member = self.member.clone();
            let failed = state == RTCPeerConnectionState::Failed;
            tokio::spawn(async move { forwarder.unpublish(&member, generation, failed).await });
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let Some(generation) = self.publish else {
            return;
        };
        if let Some(inner) = self.forwarder.upgrade() {
            let forwarder = Forwarder { inner };
            let member = self.member.clone();
            let tracker = forwarder.inner.tracker.clone();
            tracker.spawn(async move {
                // A bug met while forwarding one track must not leave the
                // others a picture frozen for good: its track is taken off
                // their connections, as if it had ended, and the rest of the
                // session goes on.
                let remote = Arc::clone(&track);
                let cancel = forwarder.inner.cancel.clone();
                let run = std::panic::AssertUnwindSafe(forwarder.clone().run_source(
                    member.clone(),
                    generation,
                    track,
                ))
                .catch_unwind();
                let failed = tokio::select! {
                    ended = run => ended.is_err(),
                    () = cancel.cancelled() => false,
                };
                if failed {
                    warn!(%member, "forwarding a track failed: it is withdrawn");
                    forwarder
                        .retire(&member, |s| Arc::ptr_eq(&s.remote, &remote))
                        .await;
                }
            });
        }
    }
}

impl Forwarder {
    /// A forwarder whose connections bind `ip:0`; what it asks the owner to
    /// carry comes on the receiver.
    pub fn new(ip: IpAddr) -> (Forwarder, mpsc::UnboundedReceiver<ForwardEvent>) {
        Forwarder::with_capacity(ip, Capacity::unlimited())
    }

    /// [`Forwarder::new`], its streams counted in `capacity` (the server's,
    /// shared by every session), which refuses publications beyond it.
    pub fn with_capacity(
        ip: IpAddr,
        capacity: Arc<Capacity>,
    ) -> (Forwarder, mpsc::UnboundedReceiver<ForwardEvent>) {
        let (events, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            ip,
            generations: std::sync::atomic::AtomicU64::new(1),
            members: Mutex::new(HashMap::new()),
            events,
            tracker: TaskTracker::new(),
            capacity,
            epoch: std::time::Instant::now(),
            voices_changed: tokio::sync::Notify::new(),
            cancel: CancellationToken::new(),
            sharer: Mutex::new(None),
            #[cfg(feature = "faults")]
            faults: Mutex::new(HashMap::new()),
            #[cfg(feature = "faults")]
            faults_planned: AtomicBool::new(false),
        });
        let forwarder = Forwarder { inner };
        // Measures the layers and chooses everyone's again, each tick,
        // while the forwarder lives.
        let weak = Arc::downgrade(&forwarder.inner);
        forwarder.inner.tracker.spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                if inner.tracker.is_closed() {
                    return;
                }
                // A bug met in one tick must not end the layer choices of
                // the session for good.
                let forwarder = Forwarder { inner };
                let tick = std::panic::AssertUnwindSafe(forwarder.tick());
                if tick.catch_unwind().await.is_err() {
                    warn!("choosing the forwarded layers failed this time");
                }
            }
        });
        // Chooses the microphones a large group hears, a few times a second
        // and as soon as someone not heard speaks.
        let weak = Arc::downgrade(&forwarder.inner);
        forwarder.inner.tracker.spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                if inner.tracker.is_closed() {
                    return;
                }
                let forwarder = Forwarder { inner };
                tokio::select! {
                    () = forwarder.inner.voices_changed.notified() => {}
                    () = tokio::time::sleep(VOICE_TICK) => {}
                    () = forwarder.inner.cancel.cancelled() => return,
                }
                forwarder.choose_voices().await;
            }
        });
        (forwarder, rx)
    }

    /// Adds a member: their subscribe connection, offered at once when
    /// others already publish.
    pub async fn join(&self, id: &str) -> Result<(), ForwardError> {
        if lock(&self.inner.members).contains_key(id) {
            return Err(ForwardError::AlreadyMember(id.to_owned()));
        }
        let (gathered, subscribe_gathered) = watch::channel(false);
        let handler = Arc::new(Handler {
            forwarder: Arc::downgrade(&self.inner),
            member: id.to_owned(),
            publish: None,
            gathered,
        });
        let (said_tx, said) = mpsc::unbounded_channel();
        let subscribe = crate::recording::build_peer_with(self.inner.ip, handler, |registry| {
            registry.with(Slot::from(14_000), SubscriberFeedback::new(said_tx))
        })
        .await
        .map_err(ForwardError::WebRtc)?;
        let member = Arc::new(Member {
            id: id.to_owned(),
            subscribe,
            subscribe_gathered,
            subscribe_up: Arc::new(AtomicBool::new(false)),
            publish: Mutex::new(None),
            sources: Mutex::new(Vec::new()),
            negotiation: tokio::sync::Mutex::new(Negotiation::default()),
            outgoing: Mutex::new(HashMap::new()),
            pending: AtomicBool::new(false),
            publish_candidates: Mutex::new(Trickle::default()),
            subscribe_candidates: Mutex::new(Trickle::default()),
            tap: Mutex::new(None),
            wishes: Mutex::new(HashMap::new()),
            budget: AtomicU64::new(u64::MAX),
            loss: AtomicU8::new(0),
            reported: AtomicBool::new(false),
            levels: Mutex::new(HashMap::new()),
            camera_streams: Mutex::new(HashMap::new()),
        });
        let sources: Option<Vec<Arc<Source>>> = {
            let mut members = lock(&self.inner.members);
            if members.contains_key(id) {
                None
            } else {
                let sources = members
                    .values()
                    .flat_map(|m| lock(&m.sources).clone())
                    .collect();
                members.insert(id.to_owned(), Arc::clone(&member));
                Some(sources)
            }
        };
        let Some(sources) = sources else {
            // Joined meanwhile by another call.
            let _ = member.subscribe.close().await;
            return Err(ForwardError::AlreadyMember(id.to_owned()));
        };
        let relay = self.clone();
        self.inner
            .tracker
            .spawn(relay.take_feedback(Arc::downgrade(&member), said));
        let mut added = false;
        for source in sources {
            added |= self.subscribe(&member, &source).await;
        }
        if added {
            self.offer(&member).await;
        }
        Ok(())
    }

    /// Answers a member's publish offer (send-only audio and video); the
    /// answer carries the server's candidates.
    pub async fn publish(&self, id: &str, offer: &Value) -> Result<Value, ForwardError> {
        let member = self.member(id)?;
        let offer = parse(offer, "offer")?;
        // A new publication costs its tracks times the others; one that
        // replaces the member's own costs nothing more.
        let republished = lock(&member.publish).is_some();
        let others = lock(&self.inner.members).len().saturating_sub(1);
        if !republished && !self.inner.capacity.fits(MAX_PUBLISHED * others) {
            // The others are told, so that nobody waits for a picture
            // that will not come.
            let _ = self.inner.events.send(ForwardEvent::Refused {
                member: id.to_owned(),
            });
            return Err(ForwardError::AtCapacity);
        }
        let (gathered_tx, mut gathered) = watch::channel(false);
        let generation = self.inner.generations.fetch_add(1, Ordering::Relaxed);
        // The answer keeps the offer's extension ids: this one says how
        // loud each of the member's audio packets is.
        if let Some(level) = extension_id(&offer.sdp, "audio", AUDIO_LEVEL_URI) {
            lock(&member.levels).insert(generation, level);
        }
        // The first audio and video sections are the microphone and the
        // camera: a track of another stream is the shared screen.
        lock(&member.camera_streams)
            .insert(generation, crate::recording::camera_streams(&offer.sdp));
        let handler = Arc::new(Handler {
            forwarder: Arc::downgrade(&self.inner),
            member: id.to_owned(),
            publish: Some(generation),
            gathered: gathered_tx,
        });
        let pc = crate::recording::build_peer(self.inner.ip, handler)
            .await
            .map_err(ForwardError::WebRtc)?;
        // Candidates from now on are this offer's, held until it is set.
        lock(&member.publish_candidates).target = None;
        crate::recording::add_receivers(&pc)
            .await
            .map_err(ForwardError::WebRtc)?;
        let negotiated = async {
            pc.set_remote_description(offer)
                .await
                .map_err(|e| ForwardError::BadDescription(e.to_string()))?;
            apply_held(&pc, &member.publish_candidates).await;
            let answer = pc
                .create_answer(None)
                .await
                .map_err(|e| ForwardError::BadDescription(format!("no answer: {e}")))?;
            pc.set_local_description(answer)
                .await
                .map_err(|e| ForwardError::WebRtc(e.to_string()))?;
            gathered_description(&pc, &mut gathered).await
        }
        .await;
        match negotiated {
            Ok(answer) => {
                if let Some((_, old)) = lock(&member.publish).replace((generation, Arc::clone(&pc)))
                {
                    tokio::spawn(async move {
                        let _ = old.close().await;
                    });
                }
                Ok(answer)
            }
            Err(e) => {
                let _ = pc.close().await;
                Err(e)
            }
        }
    }

    /// A member's answer to the last subscribe offer. Outgoing tracks now
    /// bound learn their payload type, video ones ask their publisher for a
    /// keyframe; a change that came meanwhile is offered next.
    pub async fn answer(&self, id: &str, answer: &Value) -> Result<(), ForwardError> {
        let member = self.member(id)?;
        let answer = parse(answer, "answer")?;
        let answered = {
            let mut negotiation = member.negotiation.lock().await;
            if !negotiation.offered {
                return Err(ForwardError::NoOffer);
            }
            member
                .subscribe
                .set_remote_description(answer)
                .await
                .map_err(|e| ForwardError::BadDescription(e.to_string()))?;
            negotiation.offered = false;
            apply_held(&member.subscribe, &member.subscribe_candidates).await;
            std::mem::take(&mut negotiation.ssrcs)
        };
        let outgoing: Vec<(SourceKey, Arc<Outgoing>)> = lock(&member.outgoing)
            .iter()
            .filter(|(_, o)| answered.contains(&o.ssrc))
            .map(|(k, o)| (k.clone(), Arc::clone(o)))
            .collect();
        for (key, out) in outgoing {
            if out.payload_type.get().is_none()
                && let Ok(params) = out.sender.get_parameters().await
                && let Some(pt) = params
                    .rtp_parameters
                    .codecs
                    .iter()
                    .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&out.mime))
                    .map(|c| c.payload_type)
            {
                let _ = out.payload_type.set(pt);
                if let Some(id) = params
                    .rtp_parameters
                    .header_extensions
                    .iter()
                    .find(|e| e.uri == AUDIO_LEVEL_URI)
                    .map(|e| e.id as u8)
                {
                    let _ = out.level_id.set(id);
                }
            }
            if key.kind == RtpCodecKind::Video
                && out.payload_type.get().is_some()
                && let Some(layer) = out.target()
                && !out.keyframe_asked.swap(true, Ordering::SeqCst)
                && let Some(source) = self.source(&key)
            {
                want_keyframe(&source, layer).await;
            }
        }
        if member.pending.swap(false, Ordering::SeqCst) {
            self.offer(&member).await;
        }
        Ok(())
    }

    /// A candidate trickled by a member for one of their connections, in
    /// browser shape (`{candidate, sdpMid, sdpMLineIndex, usernameFragment}`,
    /// or wrapped as `{"candidate": {…}}`). Held until that connection's
    /// remote description is set (at most 64); an empty or null candidate
    /// (end of candidates) is accepted and ignored.
    pub async fn add_candidate(
        &self,
        id: &str,
        side: Side,
        candidate: &Value,
    ) -> Result<(), ForwardError> {
        let member = self.member(id)?;
        let Some(init) = crate::recording::parse_candidate(candidate)
            .map_err(|e| ForwardError::BadCandidate(e.to_string()))?
        else {
            return Ok(());
        };
        let trickle = match side {
            Side::Publish => &member.publish_candidates,
            Side::Subscribe => &member.subscribe_candidates,
        };
        let pc = {
            let mut t = lock(trickle);
            match &t.target {
                Some(pc) => Arc::clone(pc),
                None => {
                    if t.held.len() >= MAX_HELD_CANDIDATES {
                        return Err(ForwardError::BadCandidate(format!(
                            "more than {MAX_HELD_CANDIDATES} candidates before the description"
                        )));
                    }
                    t.held.push(init);
                    return Ok(());
                }
            }
        };
        pc.add_ice_candidate(init)
            .await
            .map_err(|e| ForwardError::BadCandidate(e.to_string()))
    }

    /// A member leaves: their connections close and the others stop
    /// receiving their tracks.
    pub async fn leave(&self, id: &str) {
        let Some(member) = lock(&self.inner.members).remove(id) else {
            return;
        };
        let publish = lock(&member.publish).take();
        if let Some((_, pc)) = publish {
            let _ = pc.close().await;
        }
        let _ = member.subscribe.close().await;
        let sources = std::mem::take(&mut *lock(&member.sources));
        for other in self.others(id) {
            let mut removed = false;
            for source in &sources {
                removed |= self.unsubscribe(&other, &source.key).await;
            }
            if removed {
                self.offer(&other).await;
            }
        }
        info!(member = id, "left the forwarding");
    }

    /// Records `id`'s tracks into a recording segment's publication (`tap`),
    /// from now on and for each track they publish later; `None` stops it.
    /// The segment's gate and stop decide what is written.
    pub fn tap(&self, id: &str, tap: Option<crate::recording::Tap>) -> Result<(), ForwardError> {
        let member = self.member(id)?;
        // Set before the sources are read: a track registered meanwhile
        // finds it (and `attach` is idempotent).
        *lock(&member.tap) = tap.clone();
        let sources = lock(&member.sources).clone();
        for source in &sources {
            match &tap {
                Some(tap) => attach(source, tap),
                None => *lock(&source.tap) = None,
            }
        }
        Ok(())
    }

    /// Ends every connection.
    pub async fn close(&self) {
        let ids: Vec<String> = lock(&self.inner.members).keys().cloned().collect();
        for id in ids {
            self.leave(&id).await;
        }
        self.inner.tracker.close();
        // Every track ends with its connection; one stuck on something
        // that never comes must not hold the session's end (and the
        // server's shutdown) for ever.
        if tokio::time::timeout(CLOSE_GRACE, self.inner.tracker.wait())
            .await
            .is_err()
        {
            warn!("forwarding tasks still running at the end: stopped");
            self.inner.cancel.cancel();
            self.inner.tracker.wait().await;
        }
    }

    fn member(&self, id: &str) -> Result<Arc<Member>, ForwardError> {
        lock(&self.inner.members)
            .get(id)
            .cloned()
            .ok_or_else(|| ForwardError::UnknownMember(id.to_owned()))
    }

    /// A member's keyframe requests (the SSRCs of their outgoing tracks),
    /// passed to the tracks' publishers.
    async fn take_feedback(
        self,
        member: Weak<Member>,
        mut said: mpsc::UnboundedReceiver<Feedback>,
    ) {
        while let Some(feedback) = said.recv().await {
            let Some(member) = member.upgrade() else {
                return;
            };
            match feedback {
                Feedback::Keyframe(ssrc) => {
                    let found = lock(&member.outgoing)
                        .iter()
                        .find(|(_, out)| out.ssrc == ssrc)
                        .map(|(key, out)| (key.clone(), Arc::clone(out)));
                    let Some((key, out)) = found else { continue };
                    // The layer it receives now, or the one it waits for.
                    let layer = lock(&out.rewrite).current().or_else(|| out.target());
                    if let (Some(source), Some(layer)) = (self.source(&key), layer) {
                        want_keyframe(&source, layer).await;
                    }
                }
                Feedback::Estimate(bits) => {
                    // A browser's estimate never rises much above what it
                    // receives (at most 1.5 times it), so one at or above
                    // what it is sent says "no congestion", not "no more".
                    // Taken as a bound, it would hold a paused camera back
                    // for good: the camera never sent, the estimate never
                    // grows to make room for it. Only an estimate below
                    // what is sent bounds the budget; otherwise the tick's
                    // clean ramp lifts it.
                    if bits < self.sending(&member) {
                        member.budget.store(bits.max(1), Ordering::Relaxed);
                    }
                }
                Feedback::Loss(_, fraction) => {
                    member.loss.fetch_max(fraction, Ordering::Relaxed);
                    member.reported.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// Measures every layer's bitrate, adjusts each member's budget to its
    /// losses, and chooses everyone's layers again.
    async fn tick(&self) {
        let members: Vec<Arc<Member>> = lock(&self.inner.members).values().cloned().collect();
        let seconds = TICK.as_secs_f64();
        let mut uplinks = HashMap::new();
        for member in &members {
            let (mut expected, mut received) = (0u64, 0u64);
            for source in lock(&member.sources).iter() {
                for layer in source
                    .layers
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                {
                    let bytes = layer.bytes.swap(0, Ordering::Relaxed);
                    layer
                        .bitrate
                        .store((bytes as f64 * 8.0 / seconds) as u64, Ordering::Relaxed);
                    expected += layer.expected.swap(0, Ordering::Relaxed);
                    received += layer.received.swap(0, Ordering::Relaxed);
                }
            }
            // Too few packets say nothing about a link.
            let loss = (expected >= MIN_PACKETS_FOR_LOSS)
                .then(|| (1.0 - received as f64 / expected as f64).clamp(0.0, 1.0));
            uplinks.insert(member.id.clone(), loss);
        }
        for member in &members {
            let loss = member.loss.swap(0, Ordering::Relaxed);
            let reported = member.reported.swap(false, Ordering::Relaxed);
            let (rtt_ms, jitter_ms) = self.transport_view(member).await;
            let _ = self.inner.events.send(ForwardEvent::Conditions {
                member: member.id.clone(),
                uplink_loss: uplinks.get(&member.id).copied().flatten(),
                downlink_loss: reported.then_some(f64::from(loss) / 256.0),
                rtt_ms,
                jitter_ms,
            });
            let budget = member.budget.load(Ordering::Relaxed);
            let sending = self.sending(member);
            let next = if loss > LOSSY {
                // Losing: below what it is sent now.
                (sending.saturating_mul(85) / 100).max(100_000)
            } else if budget != u64::MAX && loss < 5 {
                // Clean: a little more each tick, towards no bound.
                let up = budget.saturating_add(budget / 10);
                if up > sending.saturating_mul(4) {
                    u64::MAX
                } else {
                    up
                }
            } else {
                budget
            };
            member.budget.store(next, Ordering::Relaxed);
            self.allocate(member).await;
        }
    }

    /// The round trip to `member` (their subscribe connection's last ICE
    /// check answered) and the jitter of their sound as the server
    /// receives it, from the connections' own statistics.
    async fn transport_view(&self, member: &Arc<Member>) -> (Option<f64>, Option<f64>) {
        use webrtc::peer_connection::StatsSelector;
        let now = std::time::Instant::now();
        let report = member.subscribe.get_stats(now, StatsSelector::None).await;
        let rtt_ms = report
            .candidate_pairs()
            .filter(|p| p.nominated && p.current_round_trip_time > 0.0)
            .max_by_key(|p| p.bytes_sent)
            .map(|p| p.current_round_trip_time * 1000.0);
        let publish = lock(&member.publish).as_ref().map(|(_, pc)| Arc::clone(pc));
        let jitter_ms = match publish {
            Some(pc) => pc
                .get_stats(now, StatsSelector::None)
                .await
                .inbound_rtp_streams()
                .map(|s| &s.received_rtp_stream_stats)
                .filter(|s| {
                    s.rtp_stream_stats.kind == RtpCodecKind::Audio && s.packets_received > 0
                })
                // webrtc-rs 0.21 fills this from its own receiver reports,
                // in RTP timestamp units (its documentation says seconds):
                // Opus's clock is 48 kHz.
                .map(|s| s.jitter / 48.0)
                .reduce(f64::max),
            None => None,
        };
        (rtt_ms, jitter_ms)
    }

    /// Chooses the microphones everyone hears (`voices.rs`) and, when that
    /// changed, everyone's tracks again.
    async fn choose_voices(&self) {
        let members: Vec<Arc<Member>> = lock(&self.inner.members).values().cloned().collect();
        let microphones: Vec<Arc<Source>> = members
            .iter()
            .flat_map(|m| {
                lock(&m.sources)
                    .iter()
                    // A shared screen's sound is always heard.
                    .filter(|s| s.key.kind == RtpCodecKind::Audio && !s.key.screen)
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect();
        let heard: Vec<voices::Voice> = microphones
            .iter()
            .map(|s| voices::Voice {
                ranked: s.level_id.is_some(),
                last_loud_ms: s.last_loud_ms.load(Ordering::Relaxed),
            })
            .collect();
        let mut changed = false;
        for (source, audible) in microphones.iter().zip(voices::audible(&heard)) {
            changed |= source.audible.swap(audible, Ordering::Relaxed) != audible;
        }
        if changed {
            self.allocate_all().await;
        }
    }

    /// Chooses every member's layers again (a layer opened).
    async fn allocate_all(&self) {
        let members: Vec<Arc<Member>> = lock(&self.inner.members).values().cloned().collect();
        for member in &members {
            self.allocate(member).await;
        }
    }

    /// Bits per second `member` is sent now (the layers its tracks send).
    fn sending(&self, member: &Arc<Member>) -> u64 {
        let outgoing: Vec<(SourceKey, Arc<Outgoing>)> = lock(&member.outgoing)
            .iter()
            .map(|(k, o)| (k.clone(), Arc::clone(o)))
            .collect();
        let mut total = 0u64;
        for (key, out) in outgoing {
            let (Some(source), Some(layer)) = (self.source(&key), out.target()) else {
                continue;
            };
            if let Some(l) = source.layer(layer) {
                total = total.saturating_add(l.bitrate.load(Ordering::Relaxed));
            }
        }
        total
    }

    /// Chooses the layer each of `member`'s video tracks sends, within its
    /// budget, from their wishes; asks for a keyframe on a newly chosen
    /// layer. Audio always sends its one layer, and so does a shared screen,
    /// whose cost comes off the cameras' budget.
    async fn allocate(&self, member: &Arc<Member>) {
        let outgoing: Vec<(SourceKey, Arc<Outgoing>)> = lock(&member.outgoing)
            .iter()
            .map(|(k, o)| (k.clone(), Arc::clone(o)))
            .collect();
        let mut video = Vec::new();
        let mut screens = Vec::new();
        let mut reserved = 0u64;
        let mut tracks = Vec::new();
        for (key, out) in outgoing {
            let Some(source) = self.source(&key) else {
                continue;
            };
            let offers: Vec<layers::Offer> = source
                .layers
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|l| layers::Offer {
                    ssrc: l.ssrc,
                    rank: l.rank,
                    bitrate: l.bitrate.load(Ordering::Relaxed),
                })
                .collect();
            if key.kind == RtpCodecKind::Video && key.screen {
                // The shared screen is what the class looks at: sent first,
                // whatever it costs, the cameras within what is left.
                let only = offers.iter().max_by_key(|l| l.rank);
                reserved = reserved.saturating_add(only.map_or(0, |l| l.bitrate));
                screens.push(((source, out), only.map(|l| l.ssrc)));
            } else if key.kind == RtpCodecKind::Video {
                tracks.push((out.wish.load(Ordering::Relaxed), offers));
                video.push((source, out));
            } else if let Some(only) = offers.first() {
                let target = if source.audible.load(Ordering::Relaxed) {
                    u64::from(only.ssrc)
                } else {
                    NO_LAYER
                };
                out.target.store(target, Ordering::Relaxed);
            }
        }
        let budget = member
            .budget
            .load(Ordering::Relaxed)
            .saturating_sub(reserved);
        let chosen = layers::choose(&tracks, budget);
        for ((source, out), layer) in video.into_iter().zip(chosen).chain(screens) {
            let new = layer.map_or(NO_LAYER, u64::from);
            let old = out.target.swap(new, Ordering::Relaxed);
            if new != old
                && let Some(layer) = layer
                && out.payload_type.get().is_some()
            {
                want_keyframe(&source, layer).await;
            }
        }
    }

    /// Whose shared screen is forwarded from now on (the session's sharer,
    /// or nobody). A screen let through asks its publisher for a keyframe,
    /// so that every page shows it at once.
    pub fn set_sharer(&self, sharer: Option<String>) {
        lock(&self.inner.sharer).clone_from(&sharer);
        let screens: Vec<Arc<Source>> = lock(&self.inner.members)
            .values()
            .flat_map(|m| {
                lock(&m.sources)
                    .iter()
                    .filter(|s| s.key.screen)
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect();
        for source in screens {
            let allowed = sharer.as_deref() == Some(source.key.publisher.as_str());
            let was = source.allowed.swap(allowed, Ordering::Relaxed);
            if allowed
                && !was
                && source.key.kind == RtpCodecKind::Video
                && let Some(layer) = source.highest()
            {
                self.inner
                    .tracker
                    .spawn(async move { want_keyframe(&source, layer).await });
            }
        }
    }

    /// What `id` wants of each publisher's camera, from the tiles it
    /// shows; a publisher not named keeps its wish. Applies at the next
    /// keyframe of the chosen layers (asked for at once).
    pub async fn view(
        &self,
        id: &str,
        wishes: &[(String, VideoQuality)],
    ) -> Result<(), ForwardError> {
        let member = self.member(id)?;
        {
            let mut kept = lock(&member.wishes);
            for (publisher, quality) in wishes {
                let wish = match quality {
                    VideoQuality::Off => layers::OFF,
                    VideoQuality::Low => 0,
                    VideoQuality::Medium => 1,
                    VideoQuality::High => layers::HIGH,
                };
                kept.insert(publisher.clone(), wish);
                let key = SourceKey {
                    publisher: publisher.clone(),
                    kind: RtpCodecKind::Video,
                    screen: false,
                };
                if let Some(out) = lock(&member.outgoing).get(&key) {
                    out.wish.store(wish, Ordering::Relaxed);
                }
            }
        }
        self.allocate(&member).await;
        Ok(())
    }

    /// Every member but `id`.
    fn others(&self, id: &str) -> Vec<Arc<Member>> {
        lock(&self.inner.members)
            .values()
            .filter(|m| m.id != id)
            .cloned()
            .collect()
    }

    fn source(&self, key: &SourceKey) -> Option<Arc<Source>> {
        let member = lock(&self.inner.members).get(&key.publisher).cloned()?;
        let sources = lock(&member.sources);
        sources.iter().find(|s| s.key == *key).cloned()
    }

    /// Adds `source` to `member`'s subscribe connection; false when it is
    /// theirs or already there.
    async fn subscribe(&self, member: &Arc<Member>, source: &Arc<Source>) -> bool {
        if source.key.publisher == member.id || lock(&member.outgoing).contains_key(&source.key) {
            return false;
        }
        let (clock_rate, channels, fmtp) = match source.key.kind {
            RtpCodecKind::Audio => (48_000, 2, "minptime=10;useinbandfec=1"),
            _ => (90_000, 0, ""),
        };
        let ssrc = next_ssrc();
        let (stream, what) = if source.key.screen {
            (
                format!("{}{SCREEN_STREAM_SUFFIX}", source.key.publisher),
                format!("screen-{}", source.key.kind),
            )
        } else {
            (source.key.publisher.clone(), source.key.kind.to_string())
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            stream,
            format!("{}-{what}", source.key.publisher),
            format!("{} {what}", source.key.publisher),
            source.key.kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: RTCRtpCodec {
                    mime_type: source.mime.clone(),
                    clock_rate,
                    channels,
                    sdp_fmtp_line: fmtp.to_owned(),
                    rtcp_feedback: vec![],
                },
                ..Default::default()
            }],
        )));
        let transceiver = match member
            .subscribe
            .add_transceiver_from_track(
                Arc::clone(&track) as Arc<dyn TrackLocal>,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    ..Default::default()
                }),
            )
            .await
        {
            Ok(t) => t,
            Err(e) => {
                warn!(member = %member.id, "could not add a forwarded track: {e}");
                return false;
            }
        };
        let Some(sender) = transceiver.sender().await.ok().flatten() else {
            return false;
        };
        // A shared screen is shown large by every page.
        let wish = match source.key.kind {
            RtpCodecKind::Video if !source.key.screen => lock(&member.wishes)
                .get(&source.key.publisher)
                .copied()
                .unwrap_or(DEFAULT_WISH),
            _ => layers::HIGH,
        };
        let out = Arc::new(Outgoing {
            track,
            sender,
            ssrc,
            mime: source.mime.clone(),
            payload_type: OnceLock::new(),
            keyframe_asked: AtomicBool::new(false),
            wish: AtomicU8::new(wish),
            target: AtomicU64::new(NO_LAYER),
            rewrite: Mutex::new(Rewrite::default()),
            level_id: OnceLock::new(),
            _counted: self.inner.capacity.reserve(),
            up: Arc::clone(&member.subscribe_up),
        });
        lock(&member.outgoing).insert(source.key.clone(), Arc::clone(&out));
        source
            .sinks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(out);
        self.allocate(member).await;
        true
    }

    /// Takes `key` off `member`'s subscribe connection.
    async fn unsubscribe(&self, member: &Arc<Member>, key: &SourceKey) -> bool {
        let Some(out) = lock(&member.outgoing).remove(key) else {
            return false;
        };
        if let Err(e) = member.subscribe.remove_track(&out.sender).await {
            debug!(member = %member.id, "removing a forwarded track: {e}");
        }
        true
    }

    /// Offers `member`'s subscribe connection as it now is, unless an offer
    /// is outstanding (then after its answer).
    async fn offer(&self, member: &Arc<Member>) {
        let mut negotiation = member.negotiation.lock().await;
        if negotiation.offered {
            member.pending.store(true, Ordering::SeqCst);
            return;
        }
        let offered = async {
            let offer = member
                .subscribe
                .create_offer(None)
                .await
                .map_err(|e| ForwardError::WebRtc(e.to_string()))?;
            member
                .subscribe
                .set_local_description(offer)
                .await
                .map_err(|e| ForwardError::WebRtc(e.to_string()))?;
            let mut gathered = member.subscribe_gathered.clone();
            gathered_description(&member.subscribe, &mut gathered).await
        }
        .await;
        match offered {
            Ok(description) => {
                negotiation.offered = true;
                negotiation.ssrcs = declared_ssrcs(description["sdp"].as_str().unwrap_or_default());
                let _ = self.inner.events.send(ForwardEvent::Offer {
                    member: member.id.clone(),
                    description,
                });
            }
            Err(e) => warn!(member = %member.id, "could not offer the forwarded tracks: {e}"),
        }
    }

    /// One published track: registered, offered to everyone else, then
    /// forwarded packet by packet until it ends.
    async fn run_source(self, publisher: String, generation: u64, remote: Arc<dyn TrackRemote>) {
        let Some(ssrc) = remote.ssrcs().await.first().copied() else {
            return drain(&remote).await;
        };
        let kind = remote.kind().await;
        let mime = remote
            .codec(ssrc)
            .await
            .map(|c| c.mime_type)
            .unwrap_or_default();
        let Ok(member) = self.member(&publisher) else {
            return drain(&remote).await;
        };
        let stream = remote.stream_id().await;
        let cameras = lock(&member.camera_streams)
            .get(&generation)
            .cloned()
            .unwrap_or_default();
        let screen = crate::recording::is_screen(&cameras, &stream);
        let key = SourceKey {
            publisher: publisher.clone(),
            kind,
            screen,
        };
        let clock_rate = match kind {
            RtpCodecKind::Audio => 48_000,
            _ => 90_000,
        };
        let first_rid = remote.rid(ssrc).await;
        let level_id = match kind {
            RtpCodecKind::Audio => lock(&member.levels).get(&generation).copied(),
            _ => None,
        };
        let source = Arc::new(Source {
            key: key.clone(),
            generation,
            remote: Arc::clone(&remote),
            mime,
            clock_rate,
            level_id,
            audible: AtomicBool::new(true),
            last_loud_ms: AtomicU64::new(0),
            allowed: AtomicBool::new(
                !screen || lock(&self.inner.sharer).as_deref() == Some(publisher.as_str()),
            ),
            layers: RwLock::new(Vec::new()),
            sinks: RwLock::new(Vec::new()),
            keyframes: Mutex::new(HashMap::new()),
            tap: Mutex::new(None),
        });
        // The track's first encoding, if it may be one of its layers.
        source.add_layer(ssrc, first_rid.as_deref());
        let replaced = {
            let mut sources = lock(&member.sources);
            let same = sources.iter().position(|s| s.key == key);
            match same {
                // A second track of a kind on the same connection: one
                // camera and one microphone per member.
                Some(i) if sources[i].generation == generation => None,
                // A new publish connection's track takes the old one's place.
                Some(i) => {
                    let old = sources.remove(i);
                    sources.push(Arc::clone(&source));
                    Some(Some(old))
                }
                None if sources.len() >= MAX_SOURCES => None,
                None => {
                    sources.push(Arc::clone(&source));
                    Some(None)
                }
            }
        };
        let Some(replaced) = replaced else {
            warn!(member = %publisher, %kind, screen, "a track beyond one camera, one microphone and one screen: ignored");
            return drain(&remote).await;
        };
        for other in self.others(&publisher) {
            // A republished track (a new publish connection) takes the old
            // one's place.
            let mut changed = false;
            if replaced.is_some() {
                changed |= self.unsubscribe(&other, &key).await;
            }
            changed |= self.subscribe(&other, &source).await;
            if changed {
                self.offer(&other).await;
            }
        }
        info!(member = %publisher, %kind, ssrc, "forwarding a track");
        let tap = lock(&member.tap).clone();
        if let Some(tap) = tap {
            attach(&source, &tap);
        }
        let video = kind == RtpCodecKind::Video;
        while let Some(event) = remote.poll().await {
            let packet = match event {
                TrackRemoteEvent::OnRtpPacket(packet) => packet,
                TrackRemoteEvent::OnOpen(init) => {
                    // A simulcast camera's layers open one by one.
                    if source.add_layer(init.ssrc, init.rid.as_deref()) {
                        info!(member = %publisher, ssrc = init.ssrc, rid = ?init.rid, "a layer of a camera");
                        self.allocate_all().await;
                    }
                    continue;
                }
                TrackRemoteEvent::OnEnded => break,
                _ => continue,
            };
            #[cfg(feature = "faults")]
            self.meet_fault(&key).await;
            if !source.allowed.load(Ordering::Relaxed) {
                // A screen nobody allowed to share: neither forwarded nor
                // recorded.
                continue;
            }
            let Some(layer) = source.layer(packet.header.ssrc) else {
                // Not an encoding this track announced: dropped.
                continue;
            };
            layer
                .bytes
                .fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
            layer.count(packet.header.sequence_number);
            let arrival = Arrival {
                ssrc: packet.header.ssrc,
                seq: packet.header.sequence_number,
                ts: packet.header.timestamp,
                switch_point: !video || layers::vp8_keyframe_start(&packet.payload),
                clock_rate: source.clock_rate,
            };
            let now = std::time::Instant::now();
            // How loud (RFC 6464: voice bit and -dBov), passed on to each
            // subscriber under its own id, so that pages show who speaks.
            let level = source
                .level_id
                .and_then(|id| packet.header.get_extension(id))
                .and_then(|b| b.first().copied());
            if let Some(level) = level
                && voices::is_loud(level)
            {
                let ms = (self.inner.epoch.elapsed().as_millis() as u64).max(1);
                source.last_loud_ms.store(ms, Ordering::Relaxed);
                if !source.audible.load(Ordering::Relaxed) {
                    self.inner.voices_changed.notify_one();
                }
            }
            {
                let mut tap = lock(&source.tap);
                let keep = match tap.as_mut() {
                    // The recorder keeps the highest layer (looked up only
                    // while recording: it is a scan under a lock).
                    Some((_, track, rewrite)) => {
                        match rewrite.admit(source.highest(), arrival, now) {
                            Some((seq, ts)) => {
                                let mut copy = packet.clone();
                                copy.header.sequence_number = seq;
                                copy.header.timestamp = ts;
                                track.offer(&copy)
                            }
                            None => true,
                        }
                    }
                    None => true,
                };
                if !keep {
                    *tap = None;
                }
            }
            let sinks: Vec<Arc<Outgoing>> = source
                .sinks
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            for sink in sinks {
                let Some(&pt) = sink.payload_type.get() else {
                    continue;
                };
                if !sink.up.load(Ordering::Relaxed) {
                    continue;
                }
                let Some((seq, ts)) = lock(&sink.rewrite).admit(sink.target(), arrival, now) else {
                    continue;
                };
                let mut out = for_subscriber(&packet, sink.ssrc, pt);
                out.header.sequence_number = seq;
                out.header.timestamp = ts;
                if let (Some(level), Some(&id)) = (level, sink.level_id.get()) {
                    out.header.extension = true;
                    out.header.extension_profile = 0xBEDE;
                    let _ = out.header.set_extension(id, vec![level].into());
                }
                if let Err(e) = sink.track.write_rtp(out).await {
                    debug!("a forwarded packet was not sent: {e}");
                }
            }
        }
        debug!(member = %publisher, %kind, "a forwarded track ended");
        self.retire(&publisher, |s| Arc::ptr_eq(s, &source)).await;
    }

    /// Makes `publisher`'s track of `kind` meet `fault` at its next packet.
    #[cfg(feature = "faults")]
    pub fn plan_fault(&self, publisher: &str, kind: &str, fault: Fault) {
        let kind = if kind == "audio" {
            RtpCodecKind::Audio
        } else {
            RtpCodecKind::Video
        };
        lock(&self.inner.faults).insert((publisher.to_owned(), kind), fault);
        self.inner.faults_planned.store(true, Ordering::SeqCst);
    }

    #[cfg(feature = "faults")]
    async fn meet_fault(&self, key: &SourceKey) {
        if !self.inner.faults_planned.load(Ordering::Relaxed) {
            return;
        }
        let planned = lock(&self.inner.faults).remove(&(key.publisher.clone(), key.kind));
        match planned {
            Some(Fault::Panic) => panic!("a fault planned by a test"),
            Some(Fault::Stall) => std::future::pending::<()>().await,
            None => {}
        }
    }

    /// A member's subscribe connection came up: what was held back flows
    /// from a keyframe, asked for each of its cameras (one asked before was
    /// sent to nobody).
    async fn subscriber_up(&self, member: &Arc<Member>) {
        let outgoing: Vec<(SourceKey, Arc<Outgoing>)> = lock(&member.outgoing)
            .iter()
            .filter(|(k, o)| k.kind == RtpCodecKind::Video && o.payload_type.get().is_some())
            .map(|(k, o)| (k.clone(), Arc::clone(o)))
            .collect();
        for (key, out) in outgoing {
            let layer = lock(&out.rewrite).current().or_else(|| out.target());
            if let (Some(source), Some(layer)) = (self.source(&key), layer) {
                want_keyframe(&source, layer).await;
            }
        }
    }

    /// A publish connection ended (failed, or closed by the member): if it
    /// is still the member's current one, it goes with its tracks.
    async fn unpublish(&self, id: &str, generation: u64, failed: bool) {
        let Ok(member) = self.member(id) else {
            return;
        };
        let ended = {
            let mut publish = lock(&member.publish);
            match &*publish {
                Some((g, _)) if *g == generation => publish.take(),
                _ => None,
            }
        };
        if let Some((_, pc)) = ended {
            info!(member = id, "a publish connection ended");
            let _ = pc.close().await;
            if failed {
                let _ = self.inner.events.send(ForwardEvent::ConnectionFailed {
                    member: id.to_owned(),
                    side: Side::Publish,
                });
            }
        }
        self.retire(id, |s| s.generation == generation).await;
    }

    /// Takes the member's sources that `which` picks off everyone's
    /// subscribe connections, each of which is offered again.
    async fn retire(&self, id: &str, which: impl Fn(&Arc<Source>) -> bool) {
        let Ok(member) = self.member(id) else {
            return;
        };
        let retired: Vec<Arc<Source>> = {
            let mut sources = lock(&member.sources);
            let (gone, kept) = sources.drain(..).partition(|s| which(s));
            *sources = kept;
            gone
        };
        if retired.is_empty() {
            return;
        }
        for other in self.others(id) {
            let mut removed = false;
            for source in &retired {
                // Only this source's own outgoing track: a republished one
                // may already have taken its key.
                let same = lock(&other.outgoing).get(&source.key).is_some_and(|o| {
                    source
                        .sinks
                        .read()
                        .unwrap_or_else(|p| p.into_inner())
                        .iter()
                        .any(|s| Arc::ptr_eq(s, o))
                });
                if same {
                    removed |= self.unsubscribe(&other, &source.key).await;
                }
            }
            if removed {
                self.offer(&other).await;
            }
        }
    }
}

/// A publisher's packet as one subscriber receives it: that subscriber's
/// SSRC and payload type, and no header extensions. Extensions carry the
/// ids the publisher's connection negotiated, which mean something else
/// (or nothing) on the subscriber's: a publisher's `abs-send-time` read as
/// the subscriber's transport-wide sequence number would corrupt its
/// congestion control. The subscriber connection's own interceptors add
/// what it negotiated. Payload, sequence number, timestamp and marker pass
/// unchanged.
fn for_subscriber(packet: &rtc::rtp::Packet, ssrc: u32, payload_type: u8) -> rtc::rtp::Packet {
    let mut copy = packet.clone();
    copy.header.ssrc = ssrc;
    copy.header.payload_type = payload_type;
    copy.header.extension = false;
    copy.header.extension_profile = 0;
    copy.header.extensions.clear();
    copy.header.extensions_padding = 0;
    copy
}

/// Applies the candidates held for `pc`; later ones apply at once.
async fn apply_held(pc: &Arc<dyn PeerConnection>, trickle: &Mutex<Trickle>) {
    let held = {
        let mut t = lock(trickle);
        t.target = Some(Arc::clone(pc));
        std::mem::take(&mut t.held)
    };
    for candidate in held {
        if let Err(e) = pc.add_ice_candidate(candidate).await {
            debug!("a held-back candidate was refused: {e}");
        }
    }
}

/// Asks the publisher of `source` for a keyframe of `layer` (its SSRC), at
/// most once per [`KEYFRAME_INTERVAL`] per layer: a request inside the
/// interval is sent at its end (once, however many came), so that a
/// subscriber bound just after a keyframe went still gets one.
async fn want_keyframe(source: &Arc<Source>, layer: u32) {
    let now = std::time::Instant::now();
    let wait = {
        let mut all = lock(&source.keyframes);
        let asks = all.entry(layer).or_default();
        match asks.last {
            Some(last) if now.duration_since(last) < KEYFRAME_INTERVAL => {
                if asks.trailing {
                    return;
                }
                asks.trailing = true;
                Some(KEYFRAME_INTERVAL - now.duration_since(last))
            }
            _ => {
                asks.last = Some(now);
                None
            }
        }
    };
    match wait {
        None => ask_keyframe(source, layer).await,
        Some(wait) => {
            let source = Arc::clone(source);
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                {
                    let mut all = lock(&source.keyframes);
                    let asks = all.entry(layer).or_default();
                    asks.trailing = false;
                    asks.last = Some(std::time::Instant::now());
                }
                ask_keyframe(&source, layer).await;
            });
        }
    }
}

/// Asks the publisher of `source` for a keyframe of `layer`.
async fn ask_keyframe(source: &Source, layer: u32) {
    let pli = PictureLossIndication {
        sender_ssrc: 0,
        media_ssrc: layer,
    };
    if let Err(e) = source.remote.write_rtcp(vec![Box::new(pli)]).await {
        debug!("a keyframe request was not sent: {e}");
    }
}

/// Reads a track nobody forwards until it ends: an unread track's packets
/// would fill its channel and be logged one by one.
async fn drain(track: &Arc<dyn TrackRemote>) {
    while let Some(event) = track.poll().await {
        if matches!(event, TrackRemoteEvent::OnEnded) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_packet_keeps_its_media_and_drops_the_publishers_extensions() {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.version = 2;
        packet.header.marker = true;
        packet.header.payload_type = 96;
        packet.header.sequence_number = 65_535;
        packet.header.timestamp = 123_456;
        packet.header.ssrc = 0xdead_beef;
        packet.header.csrc = vec![7];
        packet
            .header
            .set_extension(3, vec![1, 2, 3].into())
            .expect("a one-byte extension");
        packet.payload = vec![0x10, 1, 2, 3].into();
        assert!(packet.header.extension);

        let out = for_subscriber(&packet, 42, 100);
        assert_eq!(out.header.ssrc, 42);
        assert_eq!(out.header.payload_type, 100);
        assert!(!out.header.extension);
        assert!(out.header.extensions.is_empty());
        assert_eq!(out.header.get_extension(3), None);
        assert_eq!(
            (
                out.header.marker,
                out.header.sequence_number,
                out.header.timestamp,
                out.header.csrc.clone(),
                out.payload.clone()
            ),
            (true, 65_535, 123_456, vec![7], packet.payload.clone())
        );
        // The packet as the publisher sent it is untouched (other
        // subscribers get their own copy).
        assert!(packet.header.get_extension(3).is_some());
    }

    #[test]
    fn the_audio_level_id_is_read_from_the_offer_audio_section() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
                   m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n\
                   a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
                   a=extmap:1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
                   m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n\
                   a=extmap:7 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n";
        assert_eq!(extension_id(sdp, "audio", AUDIO_LEVEL_URI), Some(1));
        assert_eq!(extension_id(sdp, "video", AUDIO_LEVEL_URI), Some(7));
        assert_eq!(extension_id(sdp, "audio", "urn:x"), None);
        assert_eq!(extension_id("v=0\r\n", "audio", AUDIO_LEVEL_URI), None);
    }

    #[test]
    fn an_offer_binds_only_the_tracks_it_declares() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
                   a=ssrc:1222173916 cname:p_anne\r\n\
                   a=ssrc:1222173916 msid:p_anne p_anne-audio\r\n\
                   m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ssrc:7 cname:p_anne\r\n\
                   a=ssrc-group:FID 7 8\r\n";
        assert_eq!(
            declared_ssrcs(sdp),
            std::collections::HashSet::from([1_222_173_916, 7])
        );
        assert!(declared_ssrcs("v=0\r\n").is_empty());
    }
}
