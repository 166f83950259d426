//! A synthetic publisher: what a browser publishing its camera and
//! microphone looks like to the server, without a browser.
//!
//! [`SyntheticPublisher`] is a webrtc-rs peer connection on 127.0.0.1 (one
//! UDP socket on loopback, mDNS off, no ICE server) with two send-only
//! tracks. It speaks only JSON signalling, in the shapes a browser uses, so
//! a test can drive it through the recorder's Rust API or through the
//! WebSocket protocol alike:
//!
//! - [`SyntheticPublisher::offer`] → `{"type":"offer","sdp":…}` (its ICE
//!   candidates then trickle: [`SyntheticPublisher::next_candidate`] gives
//!   them as `{candidate, sdpMid, sdpMLineIndex, usernameFragment}`), or
//!   [`SyntheticPublisher::complete_offer`] with the candidates in the SDP;
//! - [`SyntheticPublisher::accept_answer`] takes `{"type":"answer","sdp":…}`;
//! - [`SyntheticPublisher::start_media`] sends, until
//!   [`SyntheticPublisher::stop_media`] or [`SyntheticPublisher::close`]:
//!   - audio: one Opus packet every 20 ms (48 kHz clock, +960 per packet),
//!     the 3-byte Opus "silence" frame;
//!   - video: VP8 at [`PublisherConfig::fps`], a keyframe first, then on
//!     every keyframe request (PLI or FIR) it receives and every
//!     [`PublisherConfig::keyframe_every`]. Frames are not decodable
//!     pictures, but they are well-formed at the RTP and IVF level: the
//!     VP8 payload descriptor (S bit on a frame's first packet), the frame
//!     tag (keyframe bit), and for keyframes the `9d 01 2a` start code and
//!     the width and height. A keyframe spans several packets; the last
//!     packet of a frame has the RTP marker.
//! - [`SyntheticPublisher::send_audio`] / [`SyntheticPublisher::send_video`]
//!   send one hand-made RTP packet (any sequence number and timestamp), to
//!   play a reordering or hostile client;
//!   [`SyntheticPublisher::send_audio_at`] one audio packet saying how loud
//!   it is (RFC 6464), with [`PublisherConfig::audio_level`].
//! - [`SyntheticPublisher::stats`]: packets, frames and keyframes sent,
//!   keyframe requests received.
//!
//! Every wait is bounded; a helper that expects something panics with a
//! sentence saying what it waited for.

use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{Interceptor, Packet as InterceptedPacket, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_VP8,
};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sansio::Protocol;
use serde_json::Value;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription, Registry, SettingEngineBuilder,
    register_default_interceptors,
};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit, RtpSender};

/// The Opus "silence" frame (TOC 0xf8: CELT fullband 20 ms, mono).
pub const OPUS_SILENCE: [u8; 3] = [0xf8, 0xff, 0xfe];

/// Audio packet period.
pub const AUDIO_PERIOD: Duration = Duration::from_millis(20);

/// RTP timestamp step of one audio packet (20 ms at 48 kHz).
pub const AUDIO_STEP: u32 = 960;

/// Largest VP8 payload (after the descriptor) per RTP packet.
const VP8_CHUNK: usize = 1000;

/// How the publisher behaves.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// The address its one UDP socket binds (port 0).
    pub ip: IpAddr,
    /// Video frames per second.
    pub fps: u32,
    /// A keyframe at least this often (besides the first and the requested
    /// ones); `None`: only the first and the requested ones.
    pub keyframe_every: Option<Duration>,
    /// Width and height announced in keyframes.
    pub size: (u16, u16),
    /// Bytes of a keyframe and of an interframe.
    pub frame_bytes: (usize, usize),
    /// A second video track (a client publishing more than allowed); sent
    /// by hand with [`SyntheticPublisher::send_second_video`].
    pub second_video: bool,
    /// The camera in three simulcast encodings (RIDs `q`, `h`, `f`), sent
    /// by hand with [`SyntheticPublisher::send_layer`].
    pub simulcast: bool,
    /// A camera that can only send H.264 (a codec the server does not
    /// take): its offer names no other video codec.
    pub h264_only: bool,
    /// With `simulcast`, a fourth encoding (RID `x`, layer 3): more than a
    /// camera may send.
    pub fourth_layer: bool,
    /// The microphone says how loud each packet is (RFC 6464 header
    /// extension, as browsers send it): [`SyntheticPublisher::send_audio_at`].
    pub audio_level: bool,
    /// Real VP8 frames to send in turn, over and over, instead of filler
    /// (for a recording that a decoder must read). Their keyframes come as
    /// they were encoded: keyframe requests wait for the next one.
    pub encoded: Option<Arc<Vec<Vec<u8>>>>,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        PublisherConfig {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            fps: 20,
            keyframe_every: Some(Duration::from_secs(5)),
            size: (320, 240),
            frame_bytes: (2500, 400),
            second_video: false,
            simulcast: false,
            h264_only: false,
            fourth_layer: false,
            audio_level: false,
            encoded: None,
        }
    }
}

/// What the publisher sent and received so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublisherStats {
    /// Audio RTP packets accepted by the connection.
    pub audio_packets: u64,
    /// Video RTP packets accepted by the connection.
    pub video_packets: u64,
    /// Whole video frames sent.
    pub video_frames: u64,
    /// Keyframes among them.
    pub keyframes: u64,
    /// Keyframe requests (PLI or FIR) received for the video track.
    pub keyframe_requests: u64,
}

#[derive(Debug, Default)]
struct Counters {
    audio_packets: AtomicU64,
    video_packets: AtomicU64,
    video_frames: AtomicU64,
    keyframes: AtomicU64,
    keyframe_requests: AtomicU64,
    keyframe_wanted: AtomicBool,
    /// The media SSRC each keyframe request named.
    keyframe_ssrcs: std::sync::Mutex<Vec<u32>>,
}

/// Counts inbound keyframe requests and asks the video loop for a keyframe;
/// passes every packet on unchanged. (On a default chain, inbound RTCP never
/// reaches the application, so this is where a sender sees a PLI.)
struct KeyframeRequests {
    counters: Arc<Counters>,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let InterceptedPacket::Rtcp(packets) = &msg.message.packet {
            let mut named = Vec::new();
            for p in packets {
                let any = p.as_any();
                if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                    named.push(pli.media_ssrc);
                } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                    named.extend(fir.fir.iter().map(|e| e.ssrc));
                }
            }
            let requests = named.len() as u64;
            self.counters
                .keyframe_ssrcs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(named);
            if requests > 0 {
                self.counters
                    .keyframe_requests
                    .fetch_add(requests, Ordering::SeqCst);
                self.counters.keyframe_wanted.store(true, Ordering::SeqCst);
            }
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.writes.pop_front()
    }
}

impl Interceptor for KeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

/// Forwards connection events to the publisher.
struct Events {
    candidates: mpsc::UnboundedSender<Option<Value>>,
    state: watch::Sender<RTCPeerConnectionState>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json()
            && let Ok(json) = serde_json::to_value(init)
        {
            let _ = self.candidates.send(Some(json));
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.candidates.send(None);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.state.send_replace(state);
    }
}

/// Sequence number and timestamp of the next packet of one track.
#[derive(Debug, Clone, Copy)]
struct Clock {
    seq: u16,
    ts: u32,
}

/// One side of the media: the track, its SSRC, and its payload type once
/// negotiated.
struct Outgoing {
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    mime: &'static str,
    payload_type: std::sync::OnceLock<u8>,
    /// Simulcast: each encoding's SSRC and RID.
    layers: Vec<(u32, &'static str)>,
    /// Simulcast: the negotiated ids of the `mid` and `rtp-stream-id`
    /// header extensions, and the track's mid.
    naming: std::sync::OnceLock<(u8, u8, String)>,
    /// Audio: the negotiated id of the audio-level extension.
    level_id: std::sync::OnceLock<u8>,
}

impl Outgoing {
    async fn send(&self, seq: u16, ts: u32, marker: bool, payload: Vec<u8>) -> bool {
        let Some(&pt) = self.payload_type.get() else {
            return false;
        };
        let packet = rtp_packet(pt, self.ssrc, seq, ts, marker, payload);
        self.track.write_rtp(packet).await.is_ok()
    }

    /// Sends one packet on simulcast encoding `layer`, named by its RID in
    /// the header extensions as a browser does.
    async fn send_layer(
        &self,
        layer: usize,
        seq: u16,
        ts: u32,
        marker: bool,
        payload: Vec<u8>,
    ) -> bool {
        let Some(&(ssrc, rid)) = self.layers.get(layer) else {
            return false;
        };
        self.send_named(ssrc, rid, seq, ts, marker, payload).await
    }

    /// Sends one packet with `ssrc`, named `rid` in the header extensions
    /// (the track's mid included), whatever the track announced.
    async fn send_named(
        &self,
        ssrc: u32,
        rid: &str,
        seq: u16,
        ts: u32,
        marker: bool,
        payload: Vec<u8>,
    ) -> bool {
        let (Some(&pt), Some((mid_id, rid_id, mid))) = (self.payload_type.get(), self.naming.get())
        else {
            return false;
        };
        let mut packet = rtp_packet(pt, ssrc, seq, ts, marker, payload);
        packet.header.extension = true;
        packet.header.extension_profile = 0xBEDE;
        if packet
            .header
            .set_extension(*mid_id, mid.as_bytes().to_vec().into())
            .is_err()
            || packet
                .header
                .set_extension(*rid_id, rid.as_bytes().to_vec().into())
                .is_err()
        {
            return false;
        }
        self.track.write_rtp(packet).await.is_ok()
    }
}

/// An RTP packet as given.
fn rtp_packet(
    pt: u8,
    ssrc: u32,
    seq: u16,
    ts: u32,
    marker: bool,
    payload: Vec<u8>,
) -> rtc::rtp::Packet {
    let mut packet = rtc::rtp::Packet::default();
    packet.header.version = 2;
    packet.header.payload_type = pt;
    packet.header.sequence_number = seq;
    packet.header.timestamp = ts;
    packet.header.ssrc = ssrc;
    packet.header.marker = marker;
    packet.payload = payload.into();
    packet
}

struct Loops {
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

/// A synthetic browser publishing audio and video (see the module
/// documentation).
pub struct SyntheticPublisher {
    pc: Arc<dyn PeerConnection>,
    audio: Arc<Outgoing>,
    video: Arc<Outgoing>,
    second_video: Option<Arc<Outgoing>>,
    candidates: Mutex<mpsc::UnboundedReceiver<Option<Value>>>,
    state: watch::Receiver<RTCPeerConnectionState>,
    counters: Arc<Counters>,
    config: PublisherConfig,
    clocks: Arc<std::sync::Mutex<(Clock, Clock)>>,
    loops: std::sync::Mutex<Option<Loops>>,
}

impl SyntheticPublisher {
    /// A publisher with the default configuration (loopback, 20 fps, a
    /// keyframe at least every 5 s).
    pub async fn new() -> SyntheticPublisher {
        Self::with_config(PublisherConfig::default()).await
    }

    /// A publisher with `config`.
    pub async fn with_config(config: PublisherConfig) -> SyntheticPublisher {
        let counters = Arc::new(Counters::default());
        let mut me = MediaEngine::default();
        if config.h264_only {
            for (kind, mime, clock_rate, channels, fmtp, pt) in [
                (
                    RtpCodecKind::Audio,
                    MIME_TYPE_OPUS,
                    48_000,
                    2,
                    "minptime=10;useinbandfec=1",
                    111,
                ),
                (
                    RtpCodecKind::Video,
                    MIME_TYPE_H264,
                    90_000,
                    0,
                    H264_FMTP,
                    102,
                ),
            ] {
                me.register_codec(
                    RTCRtpCodecParameters {
                        rtp_codec: RTCRtpCodec {
                            mime_type: mime.to_owned(),
                            clock_rate,
                            channels,
                            sdp_fmtp_line: fmtp.to_owned(),
                            rtcp_feedback: vec![],
                        },
                        payload_type: pt,
                    },
                    kind,
                )
                .expect("register a codec");
            }
        } else {
            me.register_default_codecs()
                .expect("register the default codecs");
        }
        if config.audio_level {
            me.register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: AUDIO_LEVEL_URI.to_owned(),
                },
                RtpCodecKind::Audio,
                None,
            )
            .expect("register the audio level extension");
        }
        if config.simulcast {
            for uri in [MID_URI, RID_URI] {
                me.register_header_extension(
                    RTCRtpHeaderExtensionCapability {
                        uri: uri.to_owned(),
                    },
                    RtpCodecKind::Video,
                    None,
                )
                .expect("register a simulcast header extension");
            }
        }
        let registry = register_default_interceptors(Registry::new(), &mut me)
            .expect("register the default interceptors")
            .with(
                Slot::from(14_000),
                KeyframeRequests {
                    counters: Arc::clone(&counters),
                    reads: VecDeque::new(),
                    writes: VecDeque::new(),
                },
            );
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .build();
        let (candidates_tx, candidates) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(settings)
            .with_media_engine(me)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Events {
                candidates: candidates_tx,
                state: state_tx,
            }))
            .with_udp_addrs(vec![SocketAddr::new(config.ip, 0)])
            .build()
            .await
            .expect("build the publisher's peer connection");
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let audio = add_track(&pc, RtpCodecKind::Audio).await;
        let video = if config.simulcast {
            add_simulcast_track(&pc, config.fourth_layer).await
        } else if config.h264_only {
            add_track_in(&pc, RtpCodecKind::Video, MIME_TYPE_H264).await
        } else {
            add_track(&pc, RtpCodecKind::Video).await
        };
        let second_video = if config.second_video {
            Some(Arc::new(add_track(&pc, RtpCodecKind::Video).await))
        } else {
            None
        };
        let clocks = (
            Clock {
                seq: random_u16(),
                ts: random_u32(),
            },
            Clock {
                seq: random_u16(),
                ts: random_u32(),
            },
        );
        SyntheticPublisher {
            pc,
            audio: Arc::new(audio),
            video: Arc::new(video),
            second_video,
            candidates: Mutex::new(candidates),
            state,
            counters,
            config,
            clocks: Arc::new(std::sync::Mutex::new(clocks)),
            loops: std::sync::Mutex::new(None),
        }
    }

    /// Creates the offer (send-only audio and video), sets it locally and
    /// returns it as `{"type":"offer","sdp":…}`. Candidates then trickle:
    /// see [`SyntheticPublisher::next_candidate`].
    pub async fn offer(&self) -> Value {
        let offer = self.pc.create_offer(None).await.expect("create the offer");
        self.pc
            .set_local_description(offer.clone())
            .await
            .expect("set the local offer");
        serde_json::to_value(&offer).expect("the offer as JSON")
    }

    /// Like [`SyntheticPublisher::offer`], but waits for ICE gathering and
    /// returns the local description with the candidates in the SDP.
    pub async fn complete_offer(&self) -> Value {
        self.offer().await;
        let _ = self.candidates().await;
        let local = self
            .pc
            .local_description()
            .await
            .expect("a local description after the offer");
        serde_json::to_value(&local).expect("the offer as JSON")
    }

    /// The next local candidate in browser shape, or `None` once gathering
    /// is complete or nothing came within `wait`.
    pub async fn next_candidate(&self, wait: Duration) -> Option<Value> {
        let mut rx = self.candidates.lock().await;
        tokio::time::timeout(wait, rx.recv())
            .await
            .ok()
            .flatten()
            .flatten()
    }

    /// Every local candidate until gathering completes (panics after 10 s).
    pub async fn candidates(&self) -> Vec<Value> {
        let mut rx = self.candidates.lock().await;
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(Some(c))) => out.push(c),
                Ok(Some(None)) | Ok(None) => return out,
                Err(_) => panic!("the publisher's ICE gathering did not complete within 10 s"),
            }
        }
    }

    /// Applies the answer `{"type":"answer","sdp":…}` and learns the
    /// negotiated payload types.
    pub async fn accept_answer(&self, answer: &Value) {
        let answer: RTCSessionDescription = serde_json::from_value(answer.clone())
            .unwrap_or_else(|e| panic!("the answer is not a session description ({e}): {answer}"));
        self.pc
            .set_remote_description(answer)
            .await
            .expect("set the remote answer");
        for out in [&self.audio, &self.video]
            .into_iter()
            .chain(self.second_video.as_ref())
        {
            let params = out
                .sender
                .get_parameters()
                .await
                .expect("the sender's parameters");
            let pt = params
                .rtp_parameters
                .codecs
                .iter()
                .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(out.mime))
                .map(|c| c.payload_type);
            let pt = pt.unwrap_or_else(|| {
                panic!(
                    "{} was not negotiated: {:?}",
                    out.mime, params.rtp_parameters.codecs
                )
            });
            let _ = out.payload_type.set(pt);
        }
        if self.config.audio_level {
            let params = self
                .audio
                .sender
                .get_parameters()
                .await
                .expect("the audio sender's parameters");
            let id = params
                .rtp_parameters
                .header_extensions
                .iter()
                .find(|e| e.uri == AUDIO_LEVEL_URI)
                .map(|e| e.id as u8)
                .expect("the audio level extension was negotiated");
            let _ = self.audio.level_id.set(id);
        }
        if !self.video.layers.is_empty() {
            let params = self
                .video
                .sender
                .get_parameters()
                .await
                .expect("the video sender's parameters");
            let id = |uri: &str| {
                params
                    .rtp_parameters
                    .header_extensions
                    .iter()
                    .find(|e| e.uri == uri)
                    .map(|e| e.id as u8)
                    .unwrap_or_else(|| panic!("{uri} was not negotiated"))
            };
            let local = self
                .pc
                .local_description()
                .await
                .expect("a local description");
            // The video section's mid, as the offer named it.
            let mid = local
                .sdp
                .split("\r\nm=")
                .find(|m| m.starts_with("video"))
                .and_then(|m| m.lines().find_map(|l| l.strip_prefix("a=mid:")))
                .expect("the video section's mid")
                .trim()
                .to_owned();
            let _ = self.video.naming.set((id(MID_URI), id(RID_URI), mid));
        }
    }

    /// Simulcast: each encoding's SSRC, lowest first.
    pub fn layer_ssrcs(&self) -> Vec<u32> {
        self.video.layers.iter().map(|(ssrc, _)| *ssrc).collect()
    }

    /// Simulcast: sends one packet on encoding `layer` (0: `q`, 1: `h`,
    /// 2: `f`); true if the connection took it.
    pub async fn send_layer(
        &self,
        layer: usize,
        seq: u16,
        ts: u32,
        marker: bool,
        payload: Vec<u8>,
    ) -> bool {
        self.video.send_layer(layer, seq, ts, marker, payload).await
    }

    /// Simulcast: sends one video packet with an SSRC and a RID of one's
    /// choosing (a forged or unannounced encoding); true if the connection
    /// took it.
    pub async fn send_forged(
        &self,
        ssrc: u32,
        rid: &str,
        seq: u16,
        ts: u32,
        payload: Vec<u8>,
    ) -> bool {
        self.video
            .send_named(ssrc, rid, seq, ts, true, payload)
            .await
    }

    /// The media SSRC named by each keyframe request received so far.
    pub fn keyframe_ssrcs(&self) -> Vec<u32> {
        self.counters
            .keyframe_ssrcs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Adds a candidate from the other side (browser shape).
    pub async fn add_remote_candidate(&self, candidate: &Value) {
        let init = serde_json::from_value(candidate.clone())
            .unwrap_or_else(|e| panic!("not a candidate ({e}): {candidate}"));
        self.pc
            .add_ice_candidate(init)
            .await
            .expect("add a remote candidate");
    }

    /// The connection state now.
    pub fn connection_state(&self) -> RTCPeerConnectionState {
        *self.state.borrow()
    }

    /// Waits (at most `wait`) for the connection to be established; panics
    /// if it fails or does not happen.
    pub async fn wait_connected(&self, wait: Duration) {
        let mut state = self.state.clone();
        let reached = tokio::time::timeout(
            wait,
            state.wait_for(|s| {
                matches!(
                    s,
                    RTCPeerConnectionState::Connected
                        | RTCPeerConnectionState::Failed
                        | RTCPeerConnectionState::Closed
                )
            }),
        )
        .await;
        let now = self.connection_state();
        assert!(
            reached.is_ok() && now == RTCPeerConnectionState::Connected,
            "the publisher is not connected after {wait:?}: {now}"
        );
    }

    /// Starts sending audio and video (see the module documentation).
    pub fn start_media(&self) {
        self.start(true, true);
    }

    /// Starts sending video only (audio can then be sent by hand).
    pub fn start_video(&self) {
        self.start(false, true);
    }

    /// Starts sending audio only.
    pub fn start_audio(&self) {
        self.start(true, false);
    }

    fn start(&self, audio: bool, video: bool) {
        let mut loops = self.loops.lock().unwrap_or_else(|e| e.into_inner());
        let l = loops.get_or_insert_with(|| Loops {
            cancel: CancellationToken::new(),
            tasks: Vec::new(),
        });
        if audio {
            l.tasks.push(tokio::spawn(audio_loop(
                Arc::clone(&self.audio),
                Arc::clone(&self.clocks),
                Arc::clone(&self.counters),
                l.cancel.clone(),
            )));
        }
        if video {
            l.tasks.push(tokio::spawn(video_loop(
                Arc::clone(&self.video),
                Arc::clone(&self.clocks),
                Arc::clone(&self.counters),
                self.config.clone(),
                l.cancel.clone(),
            )));
        }
    }

    /// Stops the send loops (waits for them, at most 2 s).
    pub async fn stop_media(&self) {
        let loops = self.loops.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(l) = loops {
            l.cancel.cancel();
            for t in l.tasks {
                let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
            }
        }
    }

    /// Sends one audio packet as given; true if the connection took it.
    pub async fn send_audio(&self, seq: u16, ts: u32, payload: Vec<u8>) -> bool {
        let sent = self.audio.send(seq, ts, false, payload).await;
        if sent {
            self.counters.audio_packets.fetch_add(1, Ordering::SeqCst);
        }
        sent
    }

    /// Sends one Opus silence packet saying it is `level` loud (RFC 6464:
    /// -dBov, 0 loudest, 127 silence), as a browser's microphone does; true
    /// if the connection took it. Needs [`PublisherConfig::audio_level`].
    pub async fn send_audio_at(&self, seq: u16, ts: u32, level: u8) -> bool {
        let (Some(&pt), Some(&id)) = (self.audio.payload_type.get(), self.audio.level_id.get())
        else {
            return false;
        };
        let mut packet = rtp_packet(pt, self.audio.ssrc, seq, ts, false, OPUS_SILENCE.to_vec());
        packet.header.extension = true;
        packet.header.extension_profile = 0xBEDE;
        let voice = if level & 0x7f < 127 { 0x80 } else { 0 };
        if packet
            .header
            .set_extension(id, vec![voice | (level & 0x7f)].into())
            .is_err()
        {
            return false;
        }
        let sent = self.audio.track.write_rtp(packet).await.is_ok();
        if sent {
            self.counters.audio_packets.fetch_add(1, Ordering::SeqCst);
        }
        sent
    }

    /// Sends one video packet as given (payload with its VP8 descriptor);
    /// true if the connection took it.
    pub async fn send_video(&self, seq: u16, ts: u32, marker: bool, payload: Vec<u8>) -> bool {
        let sent = self.video.send(seq, ts, marker, payload).await;
        if sent {
            self.counters.video_packets.fetch_add(1, Ordering::SeqCst);
        }
        sent
    }

    /// Sends one packet on the second video track (see
    /// [`PublisherConfig::second_video`]); true if the connection took it.
    pub async fn send_second_video(&self, seq: u16, ts: u32, payload: Vec<u8>) -> bool {
        match &self.second_video {
            Some(out) => out.send(seq, ts, true, payload).await,
            None => false,
        }
    }

    /// What was sent and received so far.
    pub fn stats(&self) -> PublisherStats {
        let c = &self.counters;
        PublisherStats {
            audio_packets: c.audio_packets.load(Ordering::SeqCst),
            video_packets: c.video_packets.load(Ordering::SeqCst),
            video_frames: c.video_frames.load(Ordering::SeqCst),
            keyframes: c.keyframes.load(Ordering::SeqCst),
            keyframe_requests: c.keyframe_requests.load(Ordering::SeqCst),
        }
    }

    /// Keyframe requests (PLI or FIR) received so far.
    pub fn keyframe_requests(&self) -> u64 {
        self.counters.keyframe_requests.load(Ordering::SeqCst)
    }

    /// Stops the media and closes the connection, without any signalling
    /// message: to the other side, the publisher is gone.
    pub async fn close(&self) {
        self.stop_media().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.pc.close()).await;
    }
}

impl Drop for SyntheticPublisher {
    fn drop(&mut self) {
        if let Some(l) = self
            .loops
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            l.cancel.cancel();
        }
    }
}

async fn add_track(pc: &Arc<dyn PeerConnection>, kind: RtpCodecKind) -> Outgoing {
    let mime = match kind {
        RtpCodecKind::Audio => MIME_TYPE_OPUS,
        _ => MIME_TYPE_VP8,
    };
    add_track_in(pc, kind, mime).await
}

/// A send-only track of `kind` in codec `mime` (Opus, VP8 or H.264).
async fn add_track_in(
    pc: &Arc<dyn PeerConnection>,
    kind: RtpCodecKind,
    mime: &'static str,
) -> Outgoing {
    let (clock_rate, channels, fmtp) = match kind {
        RtpCodecKind::Audio => (48_000, 2, "minptime=10;useinbandfec=1"),
        _ if mime == MIME_TYPE_H264 => (90_000, 0, H264_FMTP),
        _ => (90_000, 0, ""),
    };
    let ssrc = random_u32();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("synthetic-{}", random_u32()),
        format!("synthetic-{kind}-{ssrc}"),
        format!("synthetic {kind}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: RTCRtpCodec {
                mime_type: mime.to_owned(),
                clock_rate,
                channels,
                sdp_fmtp_line: fmtp.to_owned(),
                rtcp_feedback: vec![],
            },
            ..Default::default()
        }],
    )));
    sending(pc, track, ssrc, mime, Vec::new()).await
}

/// `track` on a send-only transceiver of `pc`, as one side of the media.
async fn sending(
    pc: &Arc<dyn PeerConnection>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    mime: &'static str,
    layers: Vec<(u32, &'static str)>,
) -> Outgoing {
    let transceiver = pc
        .add_transceiver_from_track(
            Arc::clone(&track) as Arc<dyn TrackLocal>,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendonly,
                ..Default::default()
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("add the {mime} transceiver: {e}"));
    let sender = transceiver
        .sender()
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("the {mime} transceiver has no sender"));
    Outgoing {
        track,
        sender,
        ssrc,
        mime,
        payload_type: std::sync::OnceLock::new(),
        layers,
        naming: std::sync::OnceLock::new(),
        level_id: std::sync::OnceLock::new(),
    }
}

/// The H.264 profile a browser offers first (constrained baseline).
const H264_FMTP: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

const MID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";

/// A VP8 camera in three encodings (RIDs `q`, `h`, `f`; and `x` with
/// `fourth`), send-only.
async fn add_simulcast_track(pc: &Arc<dyn PeerConnection>, fourth: bool) -> Outgoing {
    let rids: &[&'static str] = if fourth {
        &["q", "h", "f", "x"]
    } else {
        &["q", "h", "f"]
    };
    let layers: Vec<(u32, &'static str)> = rids.iter().map(|rid| (random_u32(), *rid)).collect();
    let codec = RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    };
    let encodings = layers
        .iter()
        .map(|(ssrc, rid)| RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                rid: (*rid).to_owned(),
                ssrc: Some(*ssrc),
                ..Default::default()
            },
            codec: codec.clone(),
            ..Default::default()
        })
        .collect();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        format!("synthetic-{}", random_u32()),
        format!("synthetic-simulcast-{}", random_u32()),
        "synthetic simulcast video".to_owned(),
        RtpCodecKind::Video,
        encodings,
    )));
    let ssrc = layers[0].0;
    sending(pc, track, ssrc, MIME_TYPE_VP8, layers).await
}

async fn audio_loop(
    out: Arc<Outgoing>,
    clocks: Arc<std::sync::Mutex<(Clock, Clock)>>,
    counters: Arc<Counters>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(AUDIO_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let (seq, ts) = {
            let mut c = clocks.lock().unwrap_or_else(|e| e.into_inner());
            let now = (c.0.seq, c.0.ts);
            c.0.seq = c.0.seq.wrapping_add(1);
            c.0.ts = c.0.ts.wrapping_add(AUDIO_STEP);
            now
        };
        if out.send(seq, ts, false, OPUS_SILENCE.to_vec()).await {
            counters.audio_packets.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn video_loop(
    out: Arc<Outgoing>,
    clocks: Arc<std::sync::Mutex<(Clock, Clock)>>,
    counters: Arc<Counters>,
    config: PublisherConfig,
    cancel: CancellationToken,
) {
    let fps = config.fps.max(1);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / fps);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let step = 90_000 / fps;
    let mut last_key: Option<tokio::time::Instant> = None;
    let mut n: u32 = 0;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let wanted = counters.keyframe_wanted.swap(false, Ordering::SeqCst);
        let due = match (last_key, config.keyframe_every) {
            (None, _) => true,
            (Some(at), Some(every)) => at.elapsed() >= every,
            (Some(_), None) => false,
        };
        let mut key = wanted || due;
        n = n.wrapping_add(1);
        let frame = match &config.encoded {
            Some(frames) if !frames.is_empty() => {
                let f = frames[(n as usize - 1) % frames.len()].clone();
                key = f.first().is_some_and(|b| b & 1 == 0);
                f
            }
            _ if key => vp8_keyframe(config.size, config.frame_bytes.0, n),
            _ => vp8_interframe(config.frame_bytes.1, n),
        };
        let packets = vp8_packetize(&frame, VP8_CHUNK);
        let ts = {
            let mut c = clocks.lock().unwrap_or_else(|e| e.into_inner());
            let ts = c.1.ts;
            c.1.ts = c.1.ts.wrapping_add(step);
            ts
        };
        let mut all_sent = true;
        for (payload, marker) in packets {
            let seq = {
                let mut c = clocks.lock().unwrap_or_else(|e| e.into_inner());
                let seq = c.1.seq;
                c.1.seq = c.1.seq.wrapping_add(1);
                seq
            };
            if out.send(seq, ts, marker, payload).await {
                counters.video_packets.fetch_add(1, Ordering::SeqCst);
            } else {
                all_sent = false;
            }
        }
        if all_sent {
            counters.video_frames.fetch_add(1, Ordering::SeqCst);
            if key {
                counters.keyframes.fetch_add(1, Ordering::SeqCst);
                last_key = Some(tokio::time::Instant::now());
            }
        } else if key {
            // Not connected yet: the next frame is a keyframe again.
            counters.keyframe_wanted.store(true, Ordering::SeqCst);
        }
    }
}

/// A VP8 keyframe of `len` bytes (at least 10): frame tag with the keyframe
/// bit clear and `show_frame` set, the `9d 01 2a` start code, width and
/// height; the rest is filler derived from `seed`.
pub fn vp8_keyframe(size: (u16, u16), len: usize, seed: u32) -> Vec<u8> {
    let len = len.max(10);
    let mut f = filler(len, seed);
    let first_partition = (len as u32 - 10).min(0x7_ffff);
    let tag = (first_partition << 5) | 0x10;
    f[..3].copy_from_slice(&tag.to_le_bytes()[..3]);
    f[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
    f[6..8].copy_from_slice(&(size.0 & 0x3fff).to_le_bytes());
    f[8..10].copy_from_slice(&(size.1 & 0x3fff).to_le_bytes());
    f
}

/// A VP8 interframe of `len` bytes (at least 3): frame tag with the
/// keyframe bit set.
pub fn vp8_interframe(len: usize, seed: u32) -> Vec<u8> {
    let len = len.max(3);
    let mut f = filler(len, seed);
    let first_partition = (len as u32 - 3).min(0x7_ffff);
    let tag = (first_partition << 5) | 0x10 | 0x01;
    f[..3].copy_from_slice(&tag.to_le_bytes()[..3]);
    f
}

/// Splits a VP8 frame into RTP payloads of at most `max` frame bytes each,
/// each with a one-byte payload descriptor (S bit on the first); the bool
/// is the RTP marker (last packet of the frame).
pub fn vp8_packetize(frame: &[u8], max: usize) -> Vec<(Vec<u8>, bool)> {
    let chunks: Vec<&[u8]> = frame.chunks(max.max(1)).collect();
    let last = chunks.len().saturating_sub(1);
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut p = Vec::with_capacity(chunk.len() + 1);
            p.push(if i == 0 { 0x10 } else { 0x00 });
            p.extend_from_slice(chunk);
            (p, i == last)
        })
        .collect()
}

fn filler(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).expect("random bytes");
    u32::from_le_bytes(b)
}

fn random_u16() -> u16 {
    random_u32() as u16
}

/// What a subscriber received on one track.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// The stream id the sender gave the track (the forwarder puts the
    /// publisher's id there).
    pub stream: String,
    /// `audio` or `video`.
    pub kind: String,
    /// Every packet: sequence number, timestamp, marker, payload (none
    /// kept by a counting subscriber).
    pub packets: Vec<(u16, u32, bool, Vec<u8>)>,
    /// Packets received.
    pub count: u64,
    /// A counting subscriber's latencies (µs), read from payloads made by
    /// [`timed_payload`]; at most [`MAX_LATENCIES`] per track.
    pub latencies_us: Vec<u32>,
}

/// Latencies a counting subscriber keeps per track.
pub const MAX_LATENCIES: usize = 200_000;

/// A payload of `len` bytes (at least 9): a VP8 descriptor byte, then the
/// nanoseconds since `epoch` when it is made, for a counting subscriber.
pub fn timed_payload(epoch: Instant, len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len.max(9)];
    p[0] = 0x10;
    let nanos = epoch.elapsed().as_nanos() as u64;
    p[1..9].copy_from_slice(&nanos.to_be_bytes());
    p
}

/// A receive-only peer that only ever answers (the subscribe side of a
/// forwarded session): each offer is answered with the candidates in the
/// SDP, and every track's packets are kept.
pub struct SyntheticSubscriber {
    pc: Arc<dyn PeerConnection>,
    gathered: watch::Receiver<bool>,
    received: Arc<std::sync::Mutex<Vec<Arc<std::sync::Mutex<Received>>>>>,
    tracks: Arc<std::sync::Mutex<Vec<RemoteTrack>>>,
}

/// A track as received, to ask its sender for a keyframe.
struct RemoteTrack {
    stream: String,
    kind: RtpCodecKind,
    track: Arc<dyn webrtc::media_stream::track_remote::TrackRemote>,
}

struct SubscriberEvents {
    tracks: Arc<std::sync::Mutex<Vec<RemoteTrack>>>,
    /// Counting only, with latencies from this epoch.
    counting: Option<Instant>,
    gathered: watch::Sender<bool>,
    received: Arc<std::sync::Mutex<Vec<Arc<std::sync::Mutex<Received>>>>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for SubscriberEvents {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_track(&self, track: Arc<dyn webrtc::media_stream::track_remote::TrackRemote>) {
        use webrtc::media_stream::track_remote::TrackRemoteEvent;
        let slot = Arc::new(std::sync::Mutex::new(Received::default()));
        self.received
            .lock()
            .expect("received")
            .push(Arc::clone(&slot));
        let counting = self.counting;
        let tracks = Arc::clone(&self.tracks);
        tokio::spawn(async move {
            {
                let stream = track.stream_id().await.to_string();
                let codec_kind = track.kind().await;
                tracks.lock().expect("tracks").push(RemoteTrack {
                    stream: stream.clone(),
                    kind: codec_kind,
                    track: Arc::clone(&track),
                });
                let kind = codec_kind.to_string();
                let mut r = slot.lock().expect("received");
                r.stream = stream;
                r.kind = kind;
            }
            while let Some(event) = track.poll().await {
                match event {
                    TrackRemoteEvent::OnRtpPacket(p) => {
                        let mut r = slot.lock().expect("received");
                        r.count += 1;
                        match counting {
                            None => r.packets.push((
                                p.header.sequence_number,
                                p.header.timestamp,
                                p.header.marker,
                                p.payload.to_vec(),
                            )),
                            Some(epoch)
                                if p.payload.len() >= 9 && r.latencies_us.len() < MAX_LATENCIES =>
                            {
                                let mut sent = [0u8; 8];
                                sent.copy_from_slice(&p.payload[1..9]);
                                let now = epoch.elapsed().as_nanos() as u64;
                                let us = now.saturating_sub(u64::from_be_bytes(sent)) / 1000;
                                r.latencies_us.push(us.min(u32::MAX as u64) as u32);
                            }
                            Some(_) => {}
                        }
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

impl SyntheticSubscriber {
    /// A subscriber bound to loopback that keeps every packet.
    pub async fn new() -> SyntheticSubscriber {
        Self::build(None).await
    }

    /// A subscriber that counts packets and keeps their latency (payloads
    /// from [`timed_payload`] with the same `epoch`), for benchmarks.
    pub async fn counting(epoch: Instant) -> SyntheticSubscriber {
        Self::build(Some(epoch)).await
    }

    async fn build(counting: Option<Instant>) -> SyntheticSubscriber {
        let mut me = MediaEngine::default();
        me.register_default_codecs()
            .expect("register the default codecs");
        let registry = register_default_interceptors(Registry::new(), &mut me)
            .expect("register the default interceptors");
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .build();
        let (gathered_tx, gathered) = watch::channel(false);
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tracks = Arc::new(std::sync::Mutex::new(Vec::new()));
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(settings)
            .with_media_engine(me)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(SubscriberEvents {
                tracks: Arc::clone(&tracks),
                counting,
                gathered: gathered_tx,
                received: Arc::clone(&received),
            }))
            .with_udp_addrs(vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)])
            .build()
            .await
            .expect("build the subscriber's peer connection");
        SyntheticSubscriber {
            pc: Arc::new(pc),
            gathered,
            received,
            tracks,
        }
    }

    /// Answers `{"type":"offer","sdp":…}`; the answer carries the
    /// candidates.
    pub async fn answer(&self, offer: &Value) -> Value {
        let offer: RTCSessionDescription = serde_json::from_value(offer.clone())
            .unwrap_or_else(|e| panic!("not a session description ({e}): {offer}"));
        self.pc
            .set_remote_description(offer)
            .await
            .expect("set the remote offer");
        let answer = self
            .pc
            .create_answer(None)
            .await
            .expect("create the answer");
        self.pc
            .set_local_description(answer)
            .await
            .expect("set the local answer");
        let mut gathered = self.gathered.clone();
        tokio::time::timeout(Duration::from_secs(10), gathered.wait_for(|g| *g))
            .await
            .expect("the subscriber's ICE gathering completes")
            .expect("gathering state");
        let local = self
            .pc
            .local_description()
            .await
            .expect("a local description after the answer");
        serde_json::to_value(&local).expect("the answer as JSON")
    }

    /// What each track received so far, in the order the tracks came.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .expect("received")
            .iter()
            .map(|r| r.lock().expect("received").clone())
            .collect()
    }

    /// Asks the sender of `stream`'s video track for a keyframe (PLI), as a
    /// browser does after a loss; false if no such track came.
    pub async fn request_keyframe(&self, stream: &str) -> bool {
        let track = self
            .tracks
            .lock()
            .expect("tracks")
            .iter()
            .find(|t| t.stream == stream && t.kind == RtpCodecKind::Video)
            .map(|t| Arc::clone(&t.track));
        let Some(track) = track else {
            return false;
        };
        let Some(ssrc) = track.ssrcs().await.first().copied() else {
            return false;
        };
        track
            .write_rtcp(vec![Box::new(PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            })])
            .await
            .is_ok()
    }

    /// Tells the server its estimate of the downlink (REMB, bits per
    /// second), as a browser does about once a second; false if no video
    /// track came to carry it.
    pub async fn send_estimate(&self, bits: u64) -> bool {
        let track = self
            .tracks
            .lock()
            .expect("tracks")
            .iter()
            .find(|t| t.kind == RtpCodecKind::Video)
            .map(|t| Arc::clone(&t.track));
        let Some(track) = track else {
            return false;
        };
        let ssrcs = track.ssrcs().await;
        track
            .write_rtcp(vec![Box::new(ReceiverEstimatedMaximumBitrate {
                sender_ssrc: 0,
                bitrate: bits as f32,
                ssrcs,
            })])
            .await
            .is_ok()
    }

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}
