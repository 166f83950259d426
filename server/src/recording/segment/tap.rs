//! A publication fed by the server's forwarding: in a forwarded session the
//! server already receives each person's media, so the recorder writes
//! those packets rather than have the browser open a second connection.
//! Each track is written by a task of its own, fed through a bounded queue,
//! so that a slow disk never holds the forwarding up; the writer's stop
//! flag decides, as for a connection, that nothing is written after
//! [`super::Segment::stop`].

use super::super::writer::Codec;
use super::super::{SegmentEvent, lock};
use super::SegmentInner;
use super::peer::{MIN_KEYFRAME_INTERVAL, finalise, write_packet};
use std::sync::{Arc, Weak};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info};

/// Packets queued towards one track's writer; beyond, the newest are
/// dropped (the writer sees a gap, as after a loss on the network).
const QUEUE: usize = 1024;

/// A person's publication in a segment, fed by the forwarding.
#[derive(Clone)]
pub struct Tap {
    segment: Weak<SegmentInner>,
    segment_id: u64,
    participant: String,
    generation: u64,
    tracker: TaskTracker,
    cancel: CancellationToken,
}

/// One track of a [`Tap`]: what [`TapTrack::offer`] is given is written.
pub struct TapTrack {
    tx: mpsc::Sender<rtc::rtp::Packet>,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("participant", &self.participant)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Tap {
    pub(super) fn new(
        segment: Weak<SegmentInner>,
        segment_id: u64,
        participant: String,
        generation: u64,
        tracker: TaskTracker,
        cancel: CancellationToken,
    ) -> Tap {
        Tap {
            segment,
            segment_id,
            participant,
            generation,
            tracker,
            cancel,
        }
    }

    /// Which publication of which segment: the same for every clone.
    pub fn key(&self) -> (u64, u64) {
        (self.segment_id, self.generation)
    }

    /// A track of `mime` (`audio/opus` or `video/VP8`, any case), of the
    /// camera and microphone or of a shared screen (`screen`), to write;
    /// `None` for another codec, a kind this publication already has, or a
    /// publication that ended (replaced, the person gone, the segment
    /// stopped). For video, `keyframe` is called at once and at the
    /// recorder's keyframe interval, so that the file can be decoded from
    /// its start and after a loss.
    pub fn track(
        &self,
        mime: &str,
        screen: bool,
        keyframe: impl Fn() + Send + Sync + 'static,
    ) -> Option<TapTrack> {
        let codec = if mime.eq_ignore_ascii_case("audio/opus") {
            Codec::Opus
        } else if mime.eq_ignore_ascii_case("video/vp8") {
            Codec::Vp8
        } else {
            info!(participant = %self.participant, %mime, "a track in a codec that is not recorded: ignored");
            return None;
        };
        let segment = self.segment.upgrade()?;
        let handle = segment.register_track(&self.participant, self.generation, codec, screen)?;
        drop(segment);
        let (tx, rx) = mpsc::channel(QUEUE);
        let name = lock(&handle.writer).name().to_owned();
        info!(participant = %self.participant, %name, "recording a forwarded track");
        self.tracker.spawn(write_track(
            self.participant.clone(),
            name,
            handle.writer,
            handle.events,
            handle.keyframe_interval,
            (codec == Codec::Vp8).then_some(Box::new(keyframe) as Box<dyn Fn() + Send + Sync>),
            rx,
            self.cancel.clone(),
        ));
        Some(TapTrack { tx })
    }
}

impl TapTrack {
    /// Hands one packet to the writer; false once the track is no longer
    /// written (the caller may drop it). A full queue drops the packet.
    pub fn offer(&self, packet: &rtc::rtp::Packet) -> bool {
        match self.tx.try_send(packet.clone()) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_track(
    participant: String,
    name: String,
    writer: Arc<std::sync::Mutex<super::super::writer::TrackWriter>>,
    events: mpsc::UnboundedSender<SegmentEvent>,
    keyframe_interval: std::time::Duration,
    keyframe: Option<Box<dyn Fn() + Send + Sync>>,
    mut rx: mpsc::Receiver<rtc::rtp::Packet>,
    cancel: CancellationToken,
) {
    let mut keyframes = tokio::time::interval(keyframe_interval.max(MIN_KEYFRAME_INTERVAL));
    keyframes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let cancelled = loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break true,
            _ = keyframes.tick(), if keyframe.is_some() => {
                if let Some(ask) = &keyframe {
                    ask();
                }
            }
            packet = rx.recv() => match packet {
                Some(packet) => {
                    if !write_packet(&writer, &events, &participant, &name, &packet).await {
                        // Stopped or failed: nothing more is taken.
                        break false;
                    }
                }
                // The forwarding let go of the track (it ended).
                None => break false,
            }
        }
    };
    if !cancelled {
        debug!(%participant, %name, "a forwarded track is no longer recorded");
        finalise(&writer).await;
    }
}
