//! The recorder's side of one publisher: a receive-only peer connection,
//! its event handler, and one task per incoming track.

use super::super::writer::{Codec, Offered, WriteFailure};
use super::super::{SegmentEvent, lock, now_ms};
use super::{SegmentInner, TrackHandle};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_OPUS, MIME_TYPE_VP8};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState, Registry,
    SettingEngineBuilder,
};

/// ICE: silence before "disconnected", then before "failed". A publisher
/// that vanishes is declared failed after their sum.
const ICE_DISCONNECTED: Duration = Duration::from_secs(3);
const ICE_FAILED: Duration = Duration::from_secs(5);

/// Shortest keyframe-request period accepted (a zero period would spin).
pub(super) const MIN_KEYFRAME_INTERVAL: Duration = Duration::from_millis(100);

/// Opus and VP8 only: an answer then never accepts another codec, so a
/// browser that can send VP8 does (Safari would otherwise pick H.264).
/// VP8 carries the usual feedback, `nack pli` in particular, without which a
/// browser ignores keyframe requests.
fn media_engine() -> Result<MediaEngine, String> {
    let mut me = MediaEngine::default();
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                rtcp_feedback: vec![],
            },
            payload_type: 111,
        },
        RtpCodecKind::Audio,
    )
    .map_err(|e| format!("register Opus: {e}"))?;
    let feedback = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    };
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_VP8.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![
                    feedback("goog-remb", ""),
                    feedback("ccm", "fir"),
                    feedback("nack", ""),
                    feedback("nack", "pli"),
                ],
            },
            payload_type: 96,
        },
        RtpCodecKind::Video,
    )
    .map_err(|e| format!("register VP8: {e}"))?;
    // How loud each audio packet is (RFC 6464): a forwarded session passes
    // it on, so that pages show who speaks.
    me.register_header_extension(
        RTCRtpHeaderExtensionCapability {
            uri: crate::forward::AUDIO_LEVEL_URI.to_owned(),
        },
        RtpCodecKind::Audio,
        None,
    )
    .map_err(|e| format!("register the audio level: {e}"))?;
    // A simulcast camera (a forwarded session's publishers) names each
    // encoding by RID in these header extensions: without them its layers
    // cannot be told apart. A single encoding does not need them.
    for uri in [
        "urn:ietf:params:rtp-hdrext:sdes:mid",
        "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
        "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    ] {
        me.register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: uri.to_owned(),
            },
            RtpCodecKind::Video,
            None,
        )
        .map_err(|e| format!("register {uri}: {e}"))?;
    }
    Ok(me)
}

/// A peer connection bound to exactly `ip:0` (one UDP socket), no ICE
/// servers, no mDNS.
pub(crate) async fn build(
    ip: IpAddr,
    handler: Arc<dyn PeerConnectionEventHandler>,
) -> Result<Arc<dyn PeerConnection>, String> {
    build_with(ip, handler, |registry| registry).await
}

/// [`build`] with more interceptors after the default ones.
pub(crate) async fn build_with(
    ip: IpAddr,
    handler: Arc<dyn PeerConnectionEventHandler>,
    extend: impl FnOnce(Registry) -> Registry,
) -> Result<Arc<dyn PeerConnection>, String> {
    let mut me = media_engine()?;
    let registry = extend(interceptors(&mut me)?);
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .with_ice_timeouts(Some(ICE_DISCONNECTED), Some(ICE_FAILED), None)
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_setting_engine(settings)
        .with_media_engine(me)
        .with_interceptor_registry(registry)
        .with_handler(handler)
        .with_udp_addrs(vec![SocketAddr::new(ip, 0)])
        .build()
        .await
        .map_err(|e| format!("peer connection on {ip}: {e}"))?;
    Ok(Arc::new(pc))
}

/// Packets each outgoing video track keeps to answer NACKs: 256 is two
/// seconds of a camera's highest layer and far more of a thumbnail, ample
/// for any round trip a call survives. webrtc-rs's default, 1,024, holds a
/// slot table of 112 KiB per outgoing track whatever is sent: with one per
/// subscriber and publisher, 95 of the 190 MiB a session of 30 took
/// (BENCHMARKS.md, forwarding run 4).
const NACK_BUFFER: u16 = 256;

/// webrtc-rs's default interceptors (NACK, RTCP reports, TWCC feedback,
/// the simulcast header extensions), with a smaller NACK buffer.
fn interceptors(me: &mut MediaEngine) -> Result<Registry, String> {
    use rtc::interceptor::{NackGeneratorBuilder, NackResponderBuilder, Slot};
    use rtc::peer_connection::configuration::interceptor_registry::{
        configure_nack, configure_rtcp_reports, configure_simulcast_extension_headers,
        configure_twcc_receiver_only,
    };
    // The feedback `configure_nack` registers, then its two interceptors
    // in their slots, the responder with its own size.
    let _ = configure_nack(Registry::new(), me);
    let registry = Registry::new()
        .with(
            Slot::NackResponder,
            NackResponderBuilder::new().with_size(NACK_BUFFER).build(),
        )
        .with(Slot::NackGenerator, NackGeneratorBuilder::new().build());
    configure_simulcast_extension_headers(me).map_err(|e| format!("interceptors: {e}"))?;
    let registry =
        configure_twcc_receiver_only(registry, me).map_err(|e| format!("interceptors: {e}"))?;
    Ok(configure_rtcp_reports(registry))
}

/// One receive-only audio and one video transceiver, added before an offer
/// is applied so that its sections map onto them.
pub(crate) async fn add_receivers(pc: &Arc<dyn PeerConnection>) -> Result<(), String> {
    use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        pc.add_transceiver_from_kind(
            kind,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Recvonly,
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| format!("add a {kind} transceiver: {e}"))?;
    }
    Ok(())
}

/// Receives one publisher's connection events. Runs on the connection's
/// driver: hands everything to tasks and returns.
pub(super) struct Handler {
    pub(super) segment: Weak<SegmentInner>,
    pub(super) participant: String,
    pub(super) generation: u64,
    /// The publication's microphone and camera streams: a track of
    /// another is the shared screen.
    pub(super) camera_streams: Vec<String>,
    pub(super) gathered: watch::Sender<bool>,
    pub(super) tracker: TaskTracker,
    pub(super) cancel: CancellationToken,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        debug!(participant = %self.participant, generation = self.generation, %state, "recorder peer connection");
        if matches!(
            state,
            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
        ) && let Some(segment) = self.segment.upgrade()
        {
            let participant = self.participant.clone();
            let generation = self.generation;
            tokio::spawn(async move {
                segment.publisher_ended(&participant, generation).await;
            });
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        self.tracker.spawn(run_track(
            self.segment.clone(),
            self.participant.clone(),
            self.generation,
            self.camera_streams.clone(),
            track,
            self.cancel.clone(),
        ));
    }
}

/// One incoming track: Opus or VP8 goes to a file, anything else is read
/// and dropped. Video gets a keyframe request at once and every
/// `keyframe_interval`. Ends when the track ends or `cancel` fires.
async fn run_track(
    segment: Weak<SegmentInner>,
    participant: String,
    generation: u64,
    camera_streams: Vec<String>,
    track: Arc<dyn TrackRemote>,
    cancel: CancellationToken,
) {
    let Some(ssrc) = track.ssrcs().await.first().copied() else {
        debug!(%participant, "a track without SSRC");
        drain(&track, &cancel).await;
        return;
    };
    let kind = track.kind().await;
    let mime = track
        .codec(ssrc)
        .await
        .map(|c| c.mime_type.to_ascii_lowercase())
        .unwrap_or_default();
    let codec = match kind {
        RtpCodecKind::Audio if mime == MIME_TYPE_OPUS.to_ascii_lowercase() => Some(Codec::Opus),
        RtpCodecKind::Video if mime == MIME_TYPE_VP8.to_ascii_lowercase() => Some(Codec::Vp8),
        _ => None,
    };
    let Some(codec) = codec else {
        info!(%participant, %kind, %mime, "a track in a codec that is not recorded: ignored");
        drain(&track, &cancel).await;
        return;
    };
    let screen = super::super::is_screen(&camera_streams, &track.stream_id().await);
    let registered = segment
        .upgrade()
        .and_then(|s| s.register_track(&participant, generation, codec, screen));
    let Some(TrackHandle {
        writer,
        events,
        keyframe_interval,
    }) = registered
    else {
        drain(&track, &cancel).await;
        return;
    };
    let name = lock(&writer).name().to_owned();
    info!(%participant, %name, ssrc, "recording a track");

    let mut keyframes = tokio::time::interval(keyframe_interval.max(MIN_KEYFRAME_INTERVAL));
    keyframes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let video = codec == Codec::Vp8;
    let mut active = true;
    let cancelled = loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break true,
            _ = keyframes.tick(), if video && active => {
                let pli = PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc };
                if let Err(e) = track.write_rtcp(vec![Box::new(pli)]).await {
                    debug!(%participant, %name, "keyframe request not sent: {e}");
                }
            }
            event = track.poll() => match event {
                Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                    if active {
                        active = write_packet(&writer, &events, &participant, &name, &packet).await;
                    }
                }
                Some(TrackRemoteEvent::OnEnded) | None => break false,
                Some(_) => {}
            }
        }
    };
    // Cancelled: whoever cancelled finalises. Ended on its own: the file
    // is finished now.
    if !cancelled {
        debug!(%participant, %name, "track ended");
        finalise(&writer).await;
    }
}

/// Offers one packet to a track's writer; false once the track is no
/// longer written: the segment stopped, or it failed (then its file is
/// finalised, and a storage failure is told to the segment's owner).
pub(super) async fn write_packet(
    writer: &Arc<std::sync::Mutex<super::super::writer::TrackWriter>>,
    events: &tokio::sync::mpsc::UnboundedSender<SegmentEvent>,
    participant: &str,
    name: &str,
    packet: &rtc::rtp::Packet,
) -> bool {
    let offered = lock(writer).offer(packet, now_ms());
    let failure = match offered {
        Ok(Offered::Written | Offered::Held) => return true,
        Ok(Offered::Inactive) => return false,
        Err(failure) => failure,
    };
    finalise(writer).await;
    match failure {
        WriteFailure::Storage(e) => {
            let message = e.to_string();
            let participant = participant.to_owned();
            let event = if super::super::storage::is_storage_full(&e) {
                warn!(%participant, %name, "recording storage full: {message}");
                SegmentEvent::StorageFull {
                    participant,
                    message,
                }
            } else {
                warn!(%participant, %name, "recording storage error: {message}");
                SegmentEvent::StorageError {
                    participant,
                    message,
                }
            };
            let _ = events.send(event);
        }
        WriteFailure::Track(why) => {
            warn!(%participant, %name, "this track is no longer recorded: {why}");
        }
    }
    false
}

/// Finalises a writer on the blocking pool (file I/O, fsync).
pub(super) async fn finalise(writer: &Arc<std::sync::Mutex<super::super::writer::TrackWriter>>) {
    let w = Arc::clone(writer);
    let done = tokio::task::spawn_blocking(move || {
        let mut w = lock(&w);
        w.finalise().map_err(|e| (w.name().to_owned(), e))
    })
    .await;
    match done {
        Ok(Ok(())) => {}
        Ok(Err((name, e))) => warn!(%name, "a recording could not be finalised: {e}"),
        Err(e) => warn!("finalising a recording: {e}"),
    }
}

/// Reads a track until it ends or `cancel` fires, keeping nothing: an
/// unread track makes the connection's driver log every dropped packet.
async fn drain(track: &Arc<dyn TrackRemote>, cancel: &CancellationToken) {
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            event = track.poll() => match event {
                Some(TrackRemoteEvent::OnEnded) | None => return,
                Some(_) => {}
            }
        }
    }
}
