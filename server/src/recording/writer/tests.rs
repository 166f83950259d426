use super::*;

fn rtp(seq: u16, ts: u32, marker: bool, payload: Vec<u8>) -> rtc::rtp::Packet {
    let mut p = rtc::rtp::Packet::default();
    p.header.version = 2;
    p.header.ssrc = 7;
    p.header.sequence_number = seq;
    p.header.timestamp = ts;
    p.header.marker = marker;
    p.payload = payload.into();
    p
}

fn writer(dir: &std::path::Path, codec: Codec, quota: Option<u64>) -> TrackWriter {
    let name = format!("t.{}", codec.extension());
    TrackWriter::new(
        "p".into(),
        codec,
        name.clone(),
        dir.join(name),
        Arc::new(AtomicBool::new(false)),
        Arc::new(Quota::new(quota, 0)),
    )
}

fn pages(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        assert_eq!(&bytes[pos..pos + 4], b"OggS", "page at {pos}");
        let n = usize::from(bytes[pos + 26]);
        let body: usize = bytes[pos + 27..pos + 27 + n]
            .iter()
            .map(|&s| usize::from(s))
            .sum();
        let end = pos + 27 + n + body;
        out.push(&bytes[pos..end]);
        pos = end;
    }
    out
}

fn crc_ok(page: &[u8]) -> bool {
    let mut copy = page.to_vec();
    copy[22..26].fill(0);
    ogg_crc(&copy).to_le_bytes() == page[22..26]
}

#[test]
fn the_crc_matches_the_one_oggwriter_computes() {
    let staging = Staging::default();
    let _w = OggWriter::new(staging.clone(), 48_000, 2).expect("ogg");
    let bytes = staging.take();
    let pages = pages(&bytes);
    assert_eq!(pages.len(), 2);
    for p in pages {
        assert!(crc_ok(p));
    }
}

#[test]
fn reordered_and_wrapping_audio_never_panics_and_stays_in_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = writer(dir.path(), Codec::Opus, None);
    // Starts just before the timestamp and sequence wraps; then steps
    // back, repeats, jumps.
    let base = u32::MAX - 1500;
    let seqs_ts: [(u16, u32); 8] = [
        (65534, base),
        (65535, base.wrapping_add(960)),
        (0, base.wrapping_add(1920)), // both wrap here
        (1, base.wrapping_add(960)),  // timestamp back: dropped
        (0, base.wrapping_add(2880)), // sequence back: dropped
        (2, base.wrapping_add(2880)),
        (3, base.wrapping_add(2880)), // same timestamp: kept
        (4, 5),                       // far back (wrapping): dropped
    ];
    let mut written = 0;
    for (i, (seq, ts)) in seqs_ts.into_iter().enumerate() {
        if w.offer(&rtp(seq, ts, true, vec![0xf8, 0xff, 0xfe]), i as i64)
            .expect("no failure")
            == Offered::Written
        {
            written += 1;
        }
    }
    assert_eq!(written, 5);
    w.finalise().expect("finalise");
    let facts = w.facts().expect("a file");
    assert_eq!(facts.packets, 5);
    let bytes = std::fs::read(&facts.path).expect("read");
    let pages = pages(&bytes);
    assert_eq!(pages.len(), 2 + 5);
    let granules: Vec<u64> = pages
        .iter()
        .map(|p| u64::from_le_bytes(p[6..14].try_into().expect("8 bytes")))
        .collect();
    assert!(granules.windows(2).all(|g| g[0] <= g[1]), "{granules:?}");
    assert!(pages.iter().all(|p| crc_ok(p)));
    assert_eq!(pages.last().expect("last")[5] & 0x04, 0x04, "end of stream");
    let (mut reader, head) =
        rtc::media::io::ogg_reader::OggReader::new(std::io::Cursor::new(bytes), true)
            .expect("OpusHead");
    assert_eq!(head.sample_rate, 48_000);
    while reader.parse_next_page().is_ok() {}
}

#[test]
fn a_payload_of_255_bytes_is_one_whole_packet() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = writer(dir.path(), Codec::Opus, None);
    w.offer(&rtp(1, 0, true, vec![7; 255]), 0).expect("write");
    w.offer(&rtp(2, 960, true, vec![8; 10]), 0).expect("write");
    w.finalise().expect("finalise");
    let bytes = std::fs::read(dir.path().join("t.ogg")).expect("read");
    let pages = pages(&bytes);
    let first = pages[2];
    assert_eq!(first[26], 2, "two lacing values");
    assert_eq!(&first[27..29], &[255, 0]);
    assert!(pages.iter().all(|p| crc_ok(p)));
}

fn vp8_frame(key: bool, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    let size = (len as u32 - 10) << 5;
    let tag = size | 0x10 | u32::from(!key);
    f[..3].copy_from_slice(&tag.to_le_bytes()[..3]);
    if key {
        f[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
        f[6..8].copy_from_slice(&320u16.to_le_bytes());
        f[8..10].copy_from_slice(&240u16.to_le_bytes());
    }
    f
}

fn vp8_payload(head: bool, frame: &[u8]) -> Vec<u8> {
    let mut p = vec![if head { 0x10 } else { 0x00 }];
    p.extend_from_slice(frame);
    p
}

#[test]
fn video_starts_at_a_keyframe_counts_frames_and_keeps_its_timing() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = writer(dir.path(), Codec::Vp8, None);
    let inter = vp8_frame(false, 100);
    let key = vp8_frame(true, 300);
    // An interframe first: dropped. Then a keyframe in two packets,
    // then two interframes; a descriptor-only packet in between.
    assert_eq!(
        w.offer(&rtp(1, 0, true, vp8_payload(true, &inter)), 1)
            .expect("ok"),
        Offered::Held
    );
    assert!(
        !dir.path().join("t.ivf").exists(),
        "nothing before a keyframe"
    );
    w.offer(&rtp(2, 3000, false, vp8_payload(true, &key[..150])), 2)
        .expect("ok");
    assert_eq!(
        w.offer(&rtp(3, 3000, true, vp8_payload(false, &key[150..])), 3)
            .expect("ok"),
        Offered::Written
    );
    assert_eq!(
        w.offer(&rtp(4, 6000, true, vec![0x10]), 4).expect("ok"),
        Offered::Held
    );
    w.offer(&rtp(5, 6000, true, vp8_payload(true, &inter)), 5)
        .expect("ok");
    w.offer(&rtp(6, 9000, true, vp8_payload(true, &inter)), 6)
        .expect("ok");
    // The camera slows to 15 frames a second, then pauses for 2 s.
    w.offer(&rtp(7, 15_000, true, vp8_payload(true, &inter)), 7)
        .expect("ok");
    w.offer(&rtp(8, 195_000, true, vp8_payload(true, &inter)), 8)
        .expect("ok");
    w.finalise().expect("finalise");
    let facts = w.facts().expect("file");
    assert_eq!(facts.packets, 6);
    // Time 0 is the dropped interframe's arrival, not the keyframe's.
    assert_eq!(facts.origin_ms, Some(1));
    assert_eq!(facts.last_packet_ms, Some(8));
    let bytes = std::fs::read(&facts.path).expect("read");
    let (mut r, header) =
        rtc::media::io::ivf_reader::IVFReader::new(std::io::Cursor::new(bytes.clone()))
            .expect("IVF header");
    assert_eq!((header.width, header.height), (320, 240));
    assert_eq!(header.num_frames, 5);
    assert_eq!(
        (header.timebase_denominator, header.timebase_numerator),
        (90_000, 1)
    );
    let mut stamps = Vec::new();
    let mut consumed = 32;
    while let Ok((f, h)) = r.parse_next_frame() {
        stamps.push(h.timestamp);
        consumed += 12 + f.len();
    }
    // RTP times from the track's first packet (the dropped interframe
    // at 0), not a frame counter.
    assert_eq!(stamps, [3000, 6000, 9000, 15_000, 195_000]);
    assert_eq!(consumed, bytes.len());
}

#[test]
fn a_frame_without_end_is_bounded() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = writer(dir.path(), Codec::Vp8, None);
    let key = vp8_frame(true, 1200);
    w.offer(&rtp(1, 0, false, vp8_payload(true, &key)), 0)
        .expect("ok");
    let mut failed = false;
    for seq in 2..5000u16 {
        match w.offer(&rtp(seq, 0, false, vp8_payload(false, &[1; 1200])), 0) {
            Ok(_) => {}
            Err(WriteFailure::Track(_)) => {
                failed = true;
                break;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(failed, "an endless frame ends the track");
    assert!(!w.is_active());
    w.finalise().expect("finalise");
    assert!(w.facts().is_none(), "no complete frame, no file");
}

#[test]
fn the_quota_leaves_a_valid_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = writer(dir.path(), Codec::Opus, Some(300));
    let mut failure = None;
    for i in 0..100u16 {
        match w.offer(&rtp(i, u32::from(i) * 960, true, vec![1; 40]), 0) {
            Ok(_) => {}
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    match failure {
        Some(WriteFailure::Storage(e)) => assert!(super::super::storage::is_storage_full(&e)),
        other => panic!("expected storage full, got {other:?}"),
    }
    assert_eq!(
        w.offer(&rtp(200, 200 * 960, true, vec![1; 40]), 0)
            .expect("ok"),
        Offered::Inactive
    );
    w.finalise().expect("finalise");
    let bytes = std::fs::read(dir.path().join("t.ogg")).expect("read");
    assert!(bytes.len() <= 300);
    let pages = pages(&bytes);
    assert!(pages.len() > 2);
    assert!(pages.iter().all(|p| crc_ok(p)));
    assert_eq!(pages.last().expect("last")[5] & 0x04, 0x04);
}

#[test]
fn nothing_is_written_once_the_segment_is_stopped() {
    let dir = tempfile::tempdir().expect("tmp");
    let stopped = Arc::new(AtomicBool::new(false));
    let mut w = TrackWriter::new(
        "p".into(),
        Codec::Opus,
        "t.ogg".into(),
        dir.path().join("t.ogg"),
        stopped.clone(),
        Arc::new(Quota::new(None, 0)),
    );
    w.offer(&rtp(1, 0, true, vec![1; 40]), 0).expect("ok");
    let len = std::fs::metadata(dir.path().join("t.ogg"))
        .expect("meta")
        .len();
    stopped.store(true, Ordering::SeqCst);
    assert_eq!(
        w.offer(&rtp(2, 960, true, vec![1; 40]), 0).expect("ok"),
        Offered::Inactive
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("t.ogg"))
            .expect("meta")
            .len(),
        len
    );
}
