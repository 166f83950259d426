//! Keyframe requests from subscribers. A subscriber that lost a keyframe
//! (packet loss, a decoder reset) asks the server for one with a PLI or a
//! FIR naming the outgoing track's SSRC; only the publisher can make one.
//! Inbound RTCP never reaches the application on webrtc-rs's default chain,
//! so this interceptor on each subscribe connection reports the SSRCs asked
//! for, and passes every packet on unchanged.

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;
use std::collections::VecDeque;
use std::time::Instant;
use tokio::sync::mpsc;

/// Reports the media SSRCs of inbound PLIs and FIRs on `asked`.
pub(super) struct KeyframeRequests {
    asked: mpsc::UnboundedSender<u32>,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl KeyframeRequests {
    pub(super) fn new(asked: mpsc::UnboundedSender<u32>) -> Self {
        KeyframeRequests {
            asked,
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequests {
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
                    let _ = self.asked.send(pli.media_ssrc);
                } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                    for entry in &fir.fir {
                        let _ = self.asked.send(entry.ssrc);
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

impl Interceptor for KeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}
