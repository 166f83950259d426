//! What a subscriber's browser says about what it receives: keyframe
//! requests, its bandwidth estimate, and its losses. A subscriber that lost
//! a keyframe (packet loss, a decoder reset) asks for one with a PLI or a FIR
//! naming the outgoing track's SSRC, and only the publisher can make one.
//! A browser estimating its downlink (`goog-remb`) sends REMB, and every
//! receiver reports the fraction of each track's packets it lost: both
//! bound the layers it is sent. Inbound RTCP never reaches the application
//! on webrtc-rs's default chain, so this interceptor on each subscribe
//! connection reports them, and passes every packet on unchanged.

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::sansio::Protocol;
use std::collections::VecDeque;
use std::time::Instant;
use tokio::sync::mpsc;

/// One thing a subscriber said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Feedback {
    /// A keyframe for the outgoing track of this SSRC.
    Keyframe(u32),
    /// The subscriber's estimate of its downlink, bits per second.
    Estimate(u64),
    /// The fraction (of 256) of this outgoing track's packets lost since
    /// its previous report.
    Loss(u32, u8),
}

/// Reports what each inbound RTCP packet says on `said`.
pub(super) struct SubscriberFeedback {
    said: mpsc::UnboundedSender<Feedback>,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl SubscriberFeedback {
    pub(super) fn new(said: mpsc::UnboundedSender<Feedback>) -> Self {
        SubscriberFeedback {
            said,
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for SubscriberFeedback {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            for p in packets {
                let any = p.as_any();
                if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                    let _ = self.said.send(Feedback::Keyframe(pli.media_ssrc));
                } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                    for entry in &fir.fir {
                        let _ = self.said.send(Feedback::Keyframe(entry.ssrc));
                    }
                } else if let Some(remb) = any.downcast_ref::<ReceiverEstimatedMaximumBitrate>() {
                    if remb.bitrate.is_finite() && remb.bitrate > 0.0 {
                        let _ = self.said.send(Feedback::Estimate(remb.bitrate as u64));
                    }
                } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                    for report in &rr.reports {
                        let _ = self
                            .said
                            .send(Feedback::Loss(report.ssrc, report.fraction_lost));
                    }
                }
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

impl Interceptor for SubscriberFeedback {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}
