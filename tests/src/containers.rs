//! Recorded files read back as streams, the way a player would: IVF (VP8)
//! and Ogg (Opus). Every check panics with the file's path and what is
//! wrong with it.

use std::path::Path;

/// What an IVF file holds.
#[derive(Debug)]
pub struct Ivf {
    /// Frames present (and counted in the header).
    pub frames: usize,
    /// Each frame's time stamp, 1/90000 s, strictly increasing.
    pub pts: Vec<u64>,
}

/// Checks an IVF file as a stream: signature, VP8, the synthetic
/// publisher's 320×240 keyframe first, frames back to back to the last
/// byte and counted in the header, stamped with RTP times (1/90000 s) that
/// only go forward.
pub fn check_ivf(path: &Path) -> Ivf {
    use rtc::media::io::ivf_reader::IVFReader;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert_eq!(&bytes[..4], b"DKIF", "{}: signature", path.display());
    let (mut reader, header) = IVFReader::new(std::io::Cursor::new(bytes.clone()))
        .unwrap_or_else(|e| panic!("{}: IVF header: {e}", path.display()));
    assert_eq!(&header.four_cc, b"VP80");
    assert_eq!(header.header_size, 32);
    assert_eq!(
        (header.width, header.height),
        (320, 240),
        "size from the keyframe"
    );
    assert_eq!(
        (header.timebase_denominator, header.timebase_numerator),
        (90_000, 1),
        "{}: the RTP clock as time base",
        path.display()
    );
    let mut frames = 0;
    let mut pts = Vec::new();
    let mut consumed = 32;
    while consumed < bytes.len() {
        let (frame, frame_header) = reader
            .parse_next_frame()
            .unwrap_or_else(|e| panic!("{}: frame {frames} at {consumed}: {e}", path.display()));
        assert!(!frame.is_empty(), "{}: empty frame", path.display());
        if frames == 0 {
            assert_eq!(
                frame[0] & 0x01,
                0,
                "{}: the first frame is a keyframe",
                path.display()
            );
            assert_eq!(
                &frame[3..6],
                &[0x9d, 0x01, 0x2a],
                "{}: keyframe start code",
                path.display()
            );
        }
        if let Some(&last) = pts.last() {
            assert!(
                frame_header.timestamp > last,
                "{}: frame {frames} stamped {} after {last}",
                path.display(),
                frame_header.timestamp
            );
        }
        pts.push(frame_header.timestamp);
        frames += 1;
        consumed += 12 + frame.len();
    }
    assert_eq!(
        consumed,
        bytes.len(),
        "{}: frames end at the last byte",
        path.display()
    );
    assert_eq!(
        header.num_frames as usize,
        frames,
        "{}: the header's frame count",
        path.display()
    );
    Ivf { frames, pts }
}

/// What an Ogg file holds.
#[derive(Debug)]
pub struct Ogg {
    /// Audio pages (after OpusHead and OpusTags), one packet each.
    pub data_pages: usize,
    /// Granule positions of the audio pages, never going back.
    pub granules: Vec<u64>,
}

/// Checks an Ogg Opus file as a stream (rtc's OggReader verifies every
/// page's CRC and the OpusHead).
pub fn check_ogg(path: &Path) -> Ogg {
    use rtc::media::io::ogg_reader::OggReader;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let (mut reader, head) = OggReader::new(std::io::Cursor::new(bytes.clone()), true)
        .unwrap_or_else(|e| panic!("{}: OpusHead: {e}", path.display()));
    assert_eq!(head.sample_rate, 48_000);
    assert_eq!(head.channels, 2);
    // Pages by hand (sequence numbers, lacing), checked against the
    // reader's view of each (payload, granule, CRC).
    let mut consumed = 27 + 1 + 19;
    let mut index = 1u32;
    let mut granules = Vec::new();
    let mut last_type = 0;
    let serial = u32::from_le_bytes(bytes[14..18].try_into().expect("4 bytes"));
    while consumed < bytes.len() {
        let raw = &bytes[consumed..];
        assert!(
            raw.len() >= 27 && &raw[..4] == b"OggS",
            "{}: page {index} at {consumed}",
            path.display()
        );
        let (payload, page) = reader
            .parse_next_page()
            .unwrap_or_else(|e| panic!("{}: page {index} at {consumed}: {e}", path.display()));
        assert_eq!(
            u32::from_le_bytes(raw[18..22].try_into().expect("4")),
            index,
            "{}: page sequence",
            path.display()
        );
        assert_eq!(page.serial, serial);
        let segments = usize::from(raw[26]);
        let lacing = &raw[27..27 + segments];
        assert_eq!(
            lacing.iter().map(|&l| usize::from(l)).sum::<usize>(),
            payload.len()
        );
        assert_ne!(
            lacing.last(),
            Some(&255),
            "{}: page {index} ends a packet",
            path.display()
        );
        if index == 1 {
            assert!(
                payload.starts_with(b"OpusTags"),
                "{}: OpusTags",
                path.display()
            );
        } else {
            assert!(!payload.is_empty());
            granules.push(page.granule_position);
        }
        assert_eq!(
            page.header_type & 0x02,
            0,
            "only the first page begins the stream"
        );
        last_type = page.header_type;
        consumed += 27 + segments + payload.len();
        index += 1;
    }
    assert_eq!(
        consumed,
        bytes.len(),
        "{}: pages end at the last byte",
        path.display()
    );
    assert!(
        granules.windows(2).all(|g| g[0] <= g[1]),
        "{}: granule positions go back: {granules:?}",
        path.display()
    );
    assert_eq!(
        last_type & 0x04,
        0x04,
        "{}: end of stream on the last page",
        path.display()
    );
    Ogg {
        data_pages: granules.len(),
        granules,
    }
}
