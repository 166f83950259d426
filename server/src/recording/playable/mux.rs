//! One person's playable file: the VP8 frames of an IVF file and the Opus
//! packets of an Ogg file, read back and muxed into one WebM by libwebm,
//! without decoding anything.
//!
//! Times: an IVF frame's stamp is its RTP time (1/90000 s from the track's
//! first packet, see the recorder's `set_ivf_pts`); an Ogg page's granule
//! position is 1 plus the RTP time of the one Opus packet it holds (rtc's
//! `OggWriter` starts at 1, and each page holds one packet). Each track's 0
//! arrived at its file's `origin_ms`, so both are placed on one clock whose
//! 0 is the earlier of the two origins.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

/// An IVF file read back.
#[derive(Debug)]
pub(crate) struct Ivf {
    pub width: u16,
    pub height: u16,
    /// (stamp in nanoseconds, frame bytes)
    pub frames: Vec<(u64, Vec<u8>)>,
}

/// An Ogg Opus file read back.
#[derive(Debug)]
pub(crate) struct Opus {
    /// The `OpusHead` packet: WebM's CodecPrivate for Opus.
    pub head: Vec<u8>,
    pub channels: u8,
    /// (start in nanoseconds, packet bytes)
    pub packets: Vec<(u64, Vec<u8>)>,
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Reads an IVF file of VP8 frames. A file that ends inside a frame is
/// refused: the recorder only ever leaves whole frames, so a cut one means
/// the file was damaged.
pub(crate) fn read_ivf(bytes: &[u8]) -> io::Result<Ivf> {
    if bytes.len() < 32 || &bytes[0..4] != b"DKIF" {
        return Err(bad("not an IVF file"));
    }
    if &bytes[8..12] != b"VP80" {
        return Err(bad("the IVF file does not hold VP8"));
    }
    let header_len = usize::from(u16_at(bytes, 6));
    let (width, height) = (u16_at(bytes, 12), u16_at(bytes, 14));
    let (rate, scale) = (u64::from(u32_at(bytes, 16)), u64::from(u32_at(bytes, 20)));
    if rate == 0 || scale == 0 || width == 0 || height == 0 || header_len < 32 {
        return Err(bad("the IVF header has a zero size or time base"));
    }
    let mut frames = Vec::new();
    let mut at = header_len;
    while at < bytes.len() {
        if bytes.len() - at < 12 {
            return Err(bad(format!(
                "the IVF file ends inside a frame header at byte {at}"
            )));
        }
        let len = u32_at(bytes, at) as usize;
        let pts = u64_at(bytes, at + 4);
        let start = at + 12;
        if bytes.len() - start < len {
            return Err(bad(format!(
                "the IVF file ends inside a frame at byte {at}"
            )));
        }
        // pts counts `scale` / `rate` seconds.
        let ns = u128::from(pts) * u128::from(scale) * 1_000_000_000 / u128::from(rate);
        frames.push((
            u64::try_from(ns).map_err(|_| bad("an IVF stamp is out of range"))?,
            bytes[start..start + len].to_vec(),
        ));
        at = start + len;
    }
    if frames.is_empty() {
        return Err(bad("the IVF file has no frame"));
    }
    Ok(Ivf {
        width,
        height,
        frames,
    })
}

/// Reads an Ogg Opus file: its pages, their packets, the granule
/// positions. A page that is cut short or fails its CRC is refused.
pub(crate) fn read_ogg_opus(bytes: &[u8]) -> io::Result<Opus> {
    let mut at = 0;
    // (granule of the page the packet ends on, packet)
    let mut packets: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    while at < bytes.len() {
        if bytes.len() - at < 27 || &bytes[at..at + 4] != b"OggS" {
            return Err(bad(format!("no Ogg page at byte {at}")));
        }
        let granule = u64_at(bytes, at + 6);
        let segments = usize::from(bytes[at + 26]);
        let table = at + 27;
        if bytes.len() < table + segments {
            return Err(bad(format!("the Ogg page at byte {at} is cut short")));
        }
        let lacing = &bytes[table..table + segments];
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let end = table + segments + body_len;
        if bytes.len() < end {
            return Err(bad(format!("the Ogg page at byte {at} is cut short")));
        }
        let mut page = bytes[at..end].to_vec();
        page[22..26].fill(0);
        if ogg_crc(&page) != u32_at(bytes, at + 22) {
            return Err(bad(format!("the Ogg page at byte {at} fails its CRC")));
        }
        let mut body = table + segments;
        for &l in lacing {
            partial.extend_from_slice(&bytes[body..body + usize::from(l)]);
            body += usize::from(l);
            if l < 255 {
                packets.push((granule, std::mem::take(&mut partial)));
            }
        }
        at = end;
    }
    let mut packets = packets.into_iter();
    let head = match packets.next() {
        Some((_, h)) if h.len() >= 19 && h.starts_with(b"OpusHead") => h,
        _ => return Err(bad("the Ogg file does not start with an OpusHead")),
    };
    match packets.next() {
        Some((_, t)) if t.starts_with(b"OpusTags") => {}
        _ => return Err(bad("the Ogg file has no OpusTags")),
    }
    let channels = head[9];
    let packets: Vec<(u64, Vec<u8>)> = packets
        .filter(|(_, p)| !p.is_empty())
        .map(|(g, p)| (g.saturating_sub(1) * 1_000_000_000 / 48_000, p))
        .collect();
    if packets.is_empty() {
        return Err(bad("the Ogg file has no Opus packet"));
    }
    Ok(Opus {
        head,
        channels,
        packets,
    })
}

/// Ogg's CRC-32 (polynomial 0x04c11db7, no reflection, no final xor).
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc: u32 = 0;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// What went into a playable file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Muxed {
    pub video_frames: usize,
    pub audio_packets: usize,
    /// From the file's 0 to the end of its last frame or packet.
    pub duration_ms: u64,
}

/// Muxes `video` and `audio` into a WebM at `out` (created, never
/// replaced). `video_offset_ns` and `audio_offset_ns` place each track's 0
/// on the file's clock.
pub(crate) fn write_webm(
    out: &Path,
    video: Option<(&Ivf, u64)>,
    audio: Option<(&Opus, u64)>,
) -> io::Result<Muxed> {
    let mux_err = |e: webm::mux::Error| io::Error::other(format!("WebM muxer: {e:?}"));
    let file = create_private(out)?;
    let writer = webm::mux::Writer::new(BufWriter::new(file));
    let mut builder = webm::mux::SegmentBuilder::new(writer)
        .map_err(mux_err)?
        .set_writing_app("cadre")
        .map_err(mux_err)?;
    let mut video_track = None;
    if let Some((ivf, _)) = video {
        let (b, t) = builder
            .add_video_track(
                u32::from(ivf.width),
                u32::from(ivf.height),
                webm::mux::VideoCodecId::VP8,
                None,
            )
            .map_err(mux_err)?;
        builder = b;
        video_track = Some(t);
    }
    let mut audio_track = None;
    if let Some((opus, _)) = audio {
        let (b, t) = builder
            .add_audio_track(
                48_000,
                u32::from(opus.channels.max(1)),
                webm::mux::AudioCodecId::Opus,
                None,
            )
            .map_err(mux_err)?;
        builder = b.set_codec_private(t, &opus.head).map_err(mux_err)?;
        audio_track = Some(t);
    }
    let mut segment = builder.build();
    // libwebm wants one rising clock over all tracks: frames and packets
    // are interleaved by time (video first on a tie, as players expect a
    // keyframe before the sound it goes with).
    let mut units: Vec<(u64, u8, &[u8])> = Vec::new();
    if let Some((ivf, offset)) = video {
        units.extend(
            ivf.frames
                .iter()
                .map(|(t, f)| (t + offset, 0, f.as_slice())),
        );
    }
    if let Some((opus, offset)) = audio {
        units.extend(
            opus.packets
                .iter()
                .map(|(t, p)| (t + offset, 1, p.as_slice())),
        );
    }
    units.sort_by_key(|(t, track, _)| (*t, *track));
    let mut end_ns = 0;
    for (t, track, data) in &units {
        match (track, video_track, audio_track) {
            (0, Some(v), _) => {
                // A VP8 keyframe has the low bit of its first byte clear.
                let key = data.first().is_some_and(|b| b & 1 == 0);
                segment.add_frame(v, data, *t, key).map_err(mux_err)?;
                end_ns = end_ns.max(*t);
            }
            (1, _, Some(a)) => {
                segment.add_frame(a, data, *t, true).map_err(mux_err)?;
                // An Opus packet lasts 20 ms as browsers send it.
                end_ns = end_ns.max(t + 20_000_000);
            }
            _ => {}
        }
    }
    let writer = segment
        .finalize(None)
        .map_err(|_| io::Error::other("WebM muxer: the segment could not be finalised"))?;
    let file = writer
        .into_inner()
        .into_inner()
        .map_err(|e| io::Error::other(format!("writing the WebM: {}", e.error())))?;
    file.sync_all()?;
    Ok(Muxed {
        video_frames: video.map_or(0, |(v, _)| v.frames.len()),
        audio_packets: audio.map_or(0, |(a, _)| a.packets.len()),
        duration_ms: end_ns / 1_000_000,
    })
}

/// Creates a file that does not exist yet, mode 0600.
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).read(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivf(frames: &[(u64, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"DKIF");
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&32u16.to_le_bytes());
        b.extend_from_slice(b"VP80");
        b.extend_from_slice(&64u16.to_le_bytes());
        b.extend_from_slice(&48u16.to_le_bytes());
        b.extend_from_slice(&90_000u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&(frames.len() as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for (pts, f) in frames {
            b.extend_from_slice(&(f.len() as u32).to_le_bytes());
            b.extend_from_slice(&pts.to_le_bytes());
            b.extend_from_slice(f);
        }
        b
    }

    #[test]
    fn ivf_stamps_become_nanoseconds_and_a_cut_frame_is_refused() {
        let bytes = ivf(&[(0, b"\x10abc"), (3000, b"\x11de")]);
        let read = read_ivf(&bytes).expect("valid");
        assert_eq!((read.width, read.height), (64, 48));
        assert_eq!(read.frames[1].0, 3000 * 1_000_000_000 / 90_000);
        assert_eq!(read.frames[1].1, b"\x11de");
        let cut = &bytes[..bytes.len() - 1];
        assert!(read_ivf(cut).is_err());
        assert!(read_ivf(&bytes[..40]).is_err());
    }
}
