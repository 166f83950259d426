//! One recorded track: RTP packets in, an IVF (VP8) or Ogg (Opus) file out.
//!
//! The container writers are rtc's `IVFWriter` and `OggWriter`. They write
//! into a staging buffer, never into the file: after each packet whatever
//! they produced (one whole IVF frame, or one whole Ogg page) is appended to
//! the file as one chunk through [`QuotaFile`]. So the file is always a
//! sequence of complete frames or pages, a quota refusal or a full disk
//! leaves it valid, and the stop flag is checked before every chunk.
//!
//! Packets are screened before the writers see them, because the writers
//! trust their input: `OggWriter` subtracts RTP timestamps as `u32` (a panic
//! in debug builds on a reordered packet or a wrap) and `IVFWriter` keeps an
//! unfinished frame in memory without a bound. Here: one SSRC per track;
//! sequence numbers and timestamps must move forward (wrapping comparison),
//! older packets are dropped; timestamps are rebased to start at 0 and
//! extended without wrapping; a VP8 frame over [`MAX_FRAME_BYTES`] ends the
//! track. There is no jitter buffer: a packet that arrives late is lost.
//!
//! Timing: `IVFWriter` stamps frames with a frame counter, which plays a
//! camera that sent 12 frames a second at whatever nominal rate the header
//! claims. Each IVF frame's stamp is replaced here by its RTP time (90 kHz,
//! counted from the track's first packet) under a 1/90000 time base, so a
//! recording plays at the speed it was sent, pauses included.

use super::storage::{Quota, QuotaFile};
use rtc::media::io::Writer as _;
use rtc::media::io::ivf_reader::IVFFileHeader;
use rtc::media::io::ivf_writer::IVFWriter;
use rtc::media::io::ogg_writer::OggWriter;
use rtc::rtp::codec::vp8::Vp8Packet;
use rtc::rtp::packetizer::Depacketizer as _;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A VP8 frame larger than this ends the track's recording (a sender that
/// never sets the RTP marker would otherwise grow it without bound).
pub(crate) const MAX_FRAME_BYTES: usize = 4 * 1024 * 1024;

/// Largest Opus payload written: an Ogg page holds at most 255 lacing
/// values of 255 bytes, and one is kept for the terminating zero.
const MAX_OPUS_BYTES: usize = 254 * 255;

/// Where the IVF header keeps its frame count.
const IVF_FRAME_COUNT_OFFSET: u64 = 24;

/// The RTP clock rate of VP8 (RFC 7741), used as the IVF time base.
const VP8_CLOCK_RATE: u32 = 90_000;

/// The codecs written to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Opus audio, to Ogg.
    Opus,
    /// VP8 video, to IVF.
    Vp8,
}

impl Codec {
    /// "audio" or "video".
    pub(crate) fn track(self) -> &'static str {
        match self {
            Codec::Opus => "audio",
            Codec::Vp8 => "video",
        }
    }

    /// The file extension.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Codec::Opus => "ogg",
            Codec::Vp8 => "ivf",
        }
    }
}

/// What the container writers write into.
#[derive(Clone, Default)]
struct Staging(Arc<Mutex<Vec<u8>>>);

impl Staging {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for Staging {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for Staging {
    fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
        // Only IVFWriter::close seeks, and it is never called: the frame
        // count is patched in the file by `TrackWriter::finalise`.
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the recorder patches headers itself",
        ))
    }
}

enum Container {
    Ivf(IVFWriter<Staging>),
    /// Boxed: the Ogg writer carries its 1 KiB CRC table.
    Ogg(Box<OggWriter<Staging>>),
}

/// The result of offering a packet to a writer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offered {
    /// A chunk (frame or page) reached the file.
    Written,
    /// Kept for a frame in progress, or dropped (late, foreign SSRC, before
    /// the first keyframe, malformed).
    Held,
    /// The writer no longer writes: the segment is stopped or this track
    /// ended.
    Inactive,
}

/// Why a writer stopped for good.
#[derive(Debug)]
pub(crate) enum WriteFailure {
    /// The file could not grow: quota, full disk, or another I/O error.
    Storage(io::Error),
    /// This track can no longer be recorded (timestamps exhausted, a frame
    /// too large, a writer error); the file so far stays valid.
    Track(String),
}

/// Keeps packets in order: one SSRC, sequence numbers and timestamps moving
/// forward. Rebases both to start at zero.
#[derive(Debug, Default)]
struct Order {
    ssrc: Option<u32>,
    first_seq: u16,
    last_seq: u16,
    last_ts: u32,
    /// Timestamp fed to the writer: `last_ts - first_ts`, never wrapping.
    rebased_ts: u32,
}

impl Order {
    /// The packet to write (rebased), `None` to drop it, or an error when
    /// the rebased timestamp would wrap (2^32 ticks: 24.8 h of Opus).
    fn admit(&mut self, packet: &rtc::rtp::Packet) -> Result<Option<rtc::rtp::Packet>, String> {
        let h = &packet.header;
        match self.ssrc {
            None => {
                self.ssrc = Some(h.ssrc);
                self.first_seq = h.sequence_number;
                self.last_seq = h.sequence_number;
                self.last_ts = h.timestamp;
                self.rebased_ts = 0;
            }
            Some(ssrc) => {
                if h.ssrc != ssrc {
                    return Ok(None);
                }
                // Wrapping comparisons: a step of less than half the space
                // forward is newer, anything else is older or a duplicate.
                if (h.sequence_number.wrapping_sub(self.last_seq) as i16) <= 0 {
                    return Ok(None);
                }
                let step = h.timestamp.wrapping_sub(self.last_ts) as i32;
                if step < 0 {
                    return Ok(None);
                }
                let Some(rebased) = self.rebased_ts.checked_add(step.unsigned_abs()) else {
                    return Err("RTP timestamps ran past 2^32 ticks".to_owned());
                };
                self.last_seq = h.sequence_number;
                self.last_ts = h.timestamp;
                self.rebased_ts = rebased;
            }
        }
        let mut out = packet.clone();
        out.header.timestamp = self.rebased_ts;
        out.header.sequence_number = h.sequence_number.wrapping_sub(self.first_seq);
        Ok(Some(out))
    }
}

/// Mirrors `IVFWriter`'s own gate (nothing before a keyframe; a frame starts
/// on a partition head) so that every packet passed on is one it keeps, and
/// bounds the frame being assembled.
#[derive(Debug, Default)]
struct Vp8Gate {
    seen_keyframe: bool,
    frame_open: bool,
    frame_bytes: usize,
}

/// The recorded facts of a writer whose file exists.
#[derive(Debug, Clone)]
pub(crate) struct WriterFacts {
    pub participant: String,
    pub track: &'static str,
    pub name: String,
    pub path: PathBuf,
    pub packets: u64,
    pub origin_ms: Option<i64>,
    pub last_packet_ms: Option<i64>,
}

/// One track's file.
pub(crate) struct TrackWriter {
    participant: String,
    codec: Codec,
    /// A shared screen (or its sound), not the camera or the microphone.
    screen: bool,
    name: String,
    path: PathBuf,
    /// The segment's stop flag: checked under this writer's lock before
    /// every chunk.
    segment_stopped: Arc<AtomicBool>,
    quota: Arc<Quota>,
    /// No more chunks (segment stopped, track ended, failure).
    closed: bool,
    finalised: bool,
    file: QuotaFile,
    staging: Staging,
    container: Option<Container>,
    /// The container's own header, written with the first frame or page.
    header: Vec<u8>,
    order: Order,
    vp8: Vp8Gate,
    /// Packets passed to the writer whose chunk is not complete yet.
    pending_packets: u64,
    packets: u64,
    frames: u64,
    /// When the packet that is the file's time 0 arrived (UTC ms): the
    /// track's first packet, whose RTP time the stamps count from.
    origin_ms: Option<i64>,
    last_packet_ms: Option<i64>,
    /// Offset and bytes of the last Ogg page (to mark it end-of-stream).
    last_page: Option<(u64, Vec<u8>)>,
}

impl TrackWriter {
    /// A writer of `participant`'s `codec` track to `path`, shown as `name`
    /// (relative to the recordings directory). Nothing is created yet.
    pub(crate) fn new(
        participant: String,
        codec: Codec,
        name: String,
        path: PathBuf,
        segment_stopped: Arc<AtomicBool>,
        quota: Arc<Quota>,
    ) -> TrackWriter {
        TrackWriter {
            participant,
            codec,
            screen: false,
            name,
            file: QuotaFile::new(path.clone()),
            path,
            segment_stopped,
            quota,
            closed: false,
            finalised: false,
            staging: Staging::default(),
            container: None,
            header: Vec::new(),
            order: Order::default(),
            vp8: Vp8Gate::default(),
            pending_packets: 0,
            packets: 0,
            frames: 0,
            origin_ms: None,
            last_packet_ms: None,
            last_page: None,
        }
    }

    /// This writer records a shared screen (or its sound).
    pub(crate) fn of_screen(mut self) -> TrackWriter {
        self.screen = true;
        self
    }

    /// What it records, and which of the person's tracks.
    pub(crate) fn source(&self) -> (Codec, bool) {
        (self.codec, self.screen)
    }

    /// The track's name in files and in the ledger: `audio`, `video`,
    /// `screen-audio`, `screen-video`.
    pub(crate) fn track(&self) -> &'static str {
        match (self.screen, self.codec) {
            (false, c) => c.track(),
            (true, Codec::Opus) => "screen-audio",
            (true, Codec::Vp8) => "screen-video",
        }
    }

    /// The name relative to the recordings directory.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// True while packets can still reach the file.
    #[cfg(test)]
    pub(crate) fn is_active(&self) -> bool {
        !self.closed && !self.segment_stopped.load(Ordering::SeqCst)
    }

    /// Stops writing (nothing more is appended); the file is finalised later.
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }

    /// Offers one RTP packet received at `now_ms` (UTC ms).
    pub(crate) fn offer(
        &mut self,
        packet: &rtc::rtp::Packet,
        now_ms: i64,
    ) -> Result<Offered, WriteFailure> {
        // The segment's stop flag, read under this writer's lock: once
        // `Segment::stop` has taken the lock after setting it, no chunk can
        // follow.
        if self.closed || self.segment_stopped.load(Ordering::SeqCst) {
            return Ok(Offered::Inactive);
        }
        let packet = match self.order.admit(packet) {
            Ok(Some(p)) => {
                self.origin_ms.get_or_insert(now_ms);
                p
            }
            Ok(None) => return Ok(Offered::Held),
            Err(why) => return Err(self.fail_track(why)),
        };
        let ready = match self.codec {
            Codec::Opus => self.prepare_opus(&packet),
            Codec::Vp8 => self.prepare_vp8(&packet),
        };
        match ready {
            Ok(true) => {}
            Ok(false) => return Ok(Offered::Held),
            Err(why) => return Err(self.fail_track(why)),
        }
        let Some(container) = self.container.as_mut() else {
            return Ok(Offered::Held);
        };
        // The writers are screened above; a panic would still be a bug in
        // them and must not take the server down with it.
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match container {
            Container::Ivf(w) => w.write_rtp(&packet),
            Container::Ogg(w) => w.write_rtp(&packet),
        }));
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(self.fail_track(format!("the container writer failed: {e}"))),
            Err(_) => return Err(self.fail_track("the container writer panicked".to_owned())),
        }
        self.pending_packets += 1;
        let mut chunk = self.staging.take();
        if chunk.is_empty() {
            return Ok(Offered::Held);
        }
        match self.codec {
            Codec::Opus => fix_ogg_lacing(&mut chunk),
            Codec::Vp8 => set_ivf_pts(&mut chunk, u64::from(packet.header.timestamp)),
        }
        let first = !self.file.exists();
        let data_offset = self.file.len() + if first { self.header.len() as u64 } else { 0 };
        let appended = if first {
            let mut all = std::mem::take(&mut self.header);
            all.extend_from_slice(&chunk);
            let r = self.file.append(&self.quota, &all);
            if r.is_err() {
                all.truncate(all.len() - chunk.len());
                self.header = all;
            }
            r
        } else {
            self.file.append(&self.quota, &chunk)
        };
        match appended {
            Ok(()) => {
                self.packets += std::mem::take(&mut self.pending_packets);
                self.frames += 1;
                self.last_packet_ms = Some(now_ms);
                if self.codec == Codec::Opus {
                    self.last_page = Some((data_offset, chunk));
                }
                Ok(Offered::Written)
            }
            Err(e) => {
                self.closed = true;
                self.container = None;
                Err(WriteFailure::Storage(e))
            }
        }
    }

    fn fail_track(&mut self, why: String) -> WriteFailure {
        self.closed = true;
        self.container = None;
        let _ = self.staging.take();
        WriteFailure::Track(why)
    }

    /// True when the packet goes to the Ogg writer (created on the first).
    fn prepare_opus(&mut self, packet: &rtc::rtp::Packet) -> Result<bool, String> {
        if packet.payload.is_empty() || packet.payload.len() > MAX_OPUS_BYTES {
            return Ok(false);
        }
        if self.container.is_none() {
            let w = OggWriter::new(self.staging.clone(), 48_000, 2)
                .map_err(|e| format!("cannot start the Ogg stream: {e}"))?;
            self.header = self.staging.take();
            fix_ogg_lacing_all(&mut self.header);
            self.container = Some(Container::Ogg(Box::new(w)));
        }
        Ok(true)
    }

    /// True when the packet goes to the IVF writer (created on the first
    /// keyframe, whose size it records).
    fn prepare_vp8(&mut self, packet: &rtc::rtp::Packet) -> Result<bool, String> {
        let mut descriptor = Vp8Packet::default();
        let Ok(frame) = descriptor.depacketize(&packet.payload) else {
            return Ok(false);
        };
        let Some(&first) = frame.first() else {
            return Ok(false);
        };
        let keyframe = first & 0x01 == 0;
        let head = descriptor.is_partition_head(&packet.payload);
        let gate = &mut self.vp8;
        if !gate.seen_keyframe && !keyframe {
            return Ok(false);
        }
        if !gate.frame_open && !head {
            return Ok(false);
        }
        gate.frame_bytes = gate.frame_bytes.saturating_add(frame.len());
        if gate.frame_bytes > MAX_FRAME_BYTES {
            return Err(format!("a VP8 frame over {MAX_FRAME_BYTES} bytes"));
        }
        if self.container.is_none() {
            let (width, height) = vp8_dimensions(&frame).unwrap_or((0, 0));
            let header = IVFFileHeader {
                signature: *b"DKIF",
                version: 0,
                header_size: 32,
                four_cc: *b"VP80",
                width,
                height,
                // Frame stamps are RTP times (see `set_ivf_pts`).
                timebase_denominator: VP8_CLOCK_RATE,
                timebase_numerator: 1,
                num_frames: 0,
                unused: 0,
            };
            let w = IVFWriter::new(self.staging.clone(), &header)
                .map_err(|e| format!("cannot start the IVF stream: {e}"))?;
            self.header = self.staging.take();
            self.container = Some(Container::Ivf(w));
        }
        let gate = &mut self.vp8;
        gate.seen_keyframe = true;
        if packet.header.marker {
            gate.frame_open = false;
            gate.frame_bytes = 0;
        } else {
            gate.frame_open = true;
        }
        Ok(true)
    }

    /// Ends the file: nothing more is appended; the IVF frame count or the
    /// Ogg end-of-stream flag is patched in place (the length does not
    /// change); data and metadata are flushed to disk. Idempotent.
    pub(crate) fn finalise(&mut self) -> io::Result<()> {
        if self.finalised {
            return Ok(());
        }
        self.closed = true;
        self.finalised = true;
        self.container = None;
        let _ = self.staging.take();
        if !self.file.exists() {
            return Ok(());
        }
        let patched = match self.codec {
            Codec::Vp8 => {
                let count = u32::try_from(self.frames).unwrap_or(u32::MAX);
                self.file
                    .patch(IVF_FRAME_COUNT_OFFSET, &count.to_le_bytes())
            }
            Codec::Opus => match &self.last_page {
                Some((offset, page)) => {
                    let mut page = page.clone();
                    mark_end_of_stream(&mut page);
                    let header_len = page.len().min(27);
                    self.file.patch(*offset, &page[..header_len])
                }
                None => Ok(()),
            },
        };
        let synced = self.file.sync();
        self.file.close();
        patched.and(synced)
    }

    /// What was recorded, if a file exists.
    pub(crate) fn facts(&self) -> Option<WriterFacts> {
        self.file.exists().then(|| WriterFacts {
            participant: self.participant.clone(),
            track: self.track(),
            name: self.name.clone(),
            path: self.path.clone(),
            packets: self.packets,
            origin_ms: self.origin_ms,
            last_packet_ms: self.last_packet_ms,
        })
    }
}

/// Stamps the one IVF frame in `chunk` (12-byte header, then the frame)
/// with `pts`, in place of `IVFWriter`'s frame counter. The packet that
/// completes a frame carries the frame's RTP timestamp, rebased.
fn set_ivf_pts(chunk: &mut [u8], pts: u64) {
    let holds_one_frame = chunk.len() >= 12
        && chunk[..4]
            .try_into()
            .is_ok_and(|size| u32::from_le_bytes(size) as usize == chunk.len() - 12);
    debug_assert!(holds_one_frame, "IVFWriter wrote one frame per packet");
    if holds_one_frame {
        chunk[4..12].copy_from_slice(&pts.to_le_bytes());
    }
}

/// Width and height of a VP8 keyframe (RFC 6386 §9.1), if `frame` starts one.
fn vp8_dimensions(frame: &[u8]) -> Option<(u16, u16)> {
    if frame.len() < 10 || frame[0] & 0x01 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let height = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    Some((width, height))
}

/// The Ogg CRC-32 (polynomial 0x04c11db7, no reflection, zero start).
fn ogg_crc(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut r = (i as u32) << 24;
            let mut bit = 0;
            while bit < 8 {
                r = if r & 0x8000_0000 != 0 {
                    (r << 1) ^ 0x04c1_1db7
                } else {
                    r << 1
                };
                bit += 1;
            }
            table[i] = r;
            i += 1;
        }
        table
    };
    data.iter().fold(0u32, |crc, &b| {
        (crc << 8) ^ TABLE[usize::from(((crc >> 24) as u8) ^ b)]
    })
}

fn set_crc(page: &mut [u8]) {
    if page.len() < 27 {
        return;
    }
    page[22..26].fill(0);
    let crc = ogg_crc(page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
}

/// Sets the end-of-stream flag of one Ogg page and recomputes its CRC.
fn mark_end_of_stream(page: &mut [u8]) {
    if page.len() < 27 {
        return;
    }
    page[5] |= 0x04;
    set_crc(page);
}

/// `OggWriter` ends the lacing of a packet whose length is a multiple of
/// 255 with a 255, which means "continued on the next page" (RFC 3533):
/// adds the terminating 0 so each page holds exactly one whole packet.
/// `chunk` is one page.
fn fix_ogg_lacing(chunk: &mut Vec<u8>) {
    if chunk.len() < 27 || &chunk[..4] != b"OggS" {
        return;
    }
    let segments = usize::from(chunk[26]);
    if segments == 0 || segments == 255 || chunk.len() < 27 + segments {
        return;
    }
    if chunk[26 + segments] != 255 {
        return;
    }
    chunk[26] += 1;
    chunk.insert(27 + segments, 0);
    set_crc(chunk);
}

/// [`fix_ogg_lacing`] for several pages back to back.
fn fix_ogg_lacing_all(chunk: &mut Vec<u8>) {
    let mut out = Vec::with_capacity(chunk.len() + 2);
    let mut pos = 0;
    while pos + 27 <= chunk.len() {
        let segments = usize::from(chunk[pos + 26]);
        let Some(table) = chunk.get(pos + 27..pos + 27 + segments) else {
            break;
        };
        let body: usize = table.iter().map(|&s| usize::from(s)).sum();
        let end = pos + 27 + segments + body;
        let Some(page) = chunk.get(pos..end) else {
            break;
        };
        let mut page = page.to_vec();
        fix_ogg_lacing(&mut page);
        out.extend_from_slice(&page);
        pos = end;
    }
    if pos == chunk.len() {
        *chunk = out;
    }
}

#[cfg(test)]
mod tests;
