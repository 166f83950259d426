//! Simulcast: which of a publisher's layers a subscriber receives, and how
//! its packets are renumbered so that the subscriber sees one continuous
//! stream whichever layer it comes from.
//!
//! A browser publishing simulcast sends up to three encodings of its camera
//! (by RID: `q`, `h`, `f`, a quarter, half and full size), each with its own
//! SSRC, sequence numbers and timestamps. A subscriber's outgoing track has
//! one SSRC and must see sequence numbers that follow each other and
//! timestamps that move with time, or its jitter buffer and loss recovery
//! go wrong. So each outgoing track keeps offsets ([`Rewrite`]): a switch to
//! another layer happens only at the start of a keyframe of that layer (the
//! decoder needs one anyway), and maps that layer's numbers onto where the
//! stream stopped. Pausing a track (a tile off screen) is a switch to no
//! layer; resuming is a switch back, so the numbers stay continuous too.

use std::time::Instant;

/// A subscriber's wish for one publisher's camera, from the size of its
/// tile: the lowest layer, the middle one, the highest, or nothing (off
/// screen).
pub(super) type Rank = u8;

/// No layer: the track is paused.
pub(super) const OFF: Rank = u8::MAX;

/// The highest rank.
pub(super) const HIGH: Rank = 2;

/// The rank of a layer from its RID, as browsers and SFUs name them (`q`,
/// `h`, `f`; `l`, `m`, `h` is ambiguous and not used; `low`, `mid`,
/// `high`; `0`, `1`, `2`); `None` for a name that says nothing.
pub(super) fn rank_of(rid: &str) -> Option<Rank> {
    match rid.to_ascii_lowercase().as_str() {
        "q" | "low" | "0" => Some(0),
        "h" | "mid" | "medium" | "1" => Some(1),
        "f" | "high" | "full" | "2" => Some(2),
        _ => None,
    }
}

/// Whether a VP8 RTP payload (RFC 7741) starts a keyframe: the first packet
/// of partition 0 (S set, PID 0) whose VP8 payload header has P clear.
pub(super) fn vp8_keyframe_start(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let extended = first & 0x80 != 0;
    let start = first & 0x10 != 0;
    let partition = first & 0x07;
    if !start || partition != 0 {
        return false;
    }
    let mut at = 1;
    if extended {
        let Some(&x) = payload.get(at) else {
            return false;
        };
        at += 1;
        if x & 0x80 != 0 {
            // PictureID: 7 or 15 bits.
            let Some(&pid) = payload.get(at) else {
                return false;
            };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // TID / KEYIDX
        }
    }
    payload.get(at).is_some_and(|&header| header & 0x01 == 0)
}

/// One outgoing track's numbering: which layer it sends now, and the
/// offsets that map that layer's sequence numbers and timestamps onto the
/// track's.
#[derive(Debug, Default)]
pub(super) struct Rewrite {
    /// The SSRC of the layer being sent; `None`: nothing (not started, or
    /// paused).
    current: Option<u32>,
    seq_offset: u16,
    ts_offset: u32,
    /// The last packet sent: its numbers on the track, and when.
    last: Option<(u16, u32, Instant)>,
}

/// A packet as [`Rewrite::admit`] sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arrival {
    /// The layer it came on.
    pub(super) ssrc: u32,
    pub(super) seq: u16,
    pub(super) ts: u32,
    /// It may start the stream: the first packet of a keyframe (video), or
    /// any packet (audio).
    pub(super) switch_point: bool,
    /// RTP clock rate, to carry the time a pause or a switch took.
    pub(super) clock_rate: u32,
}

impl Rewrite {
    /// The layer being sent now.
    pub(super) fn current(&self) -> Option<u32> {
        self.current
    }

    /// Whether `packet` is sent on the track, and with which sequence
    /// number and timestamp. `target` is the layer the track should send
    /// (`None`: pause). The current layer goes on until the target's next
    /// switch point; a pause takes effect at once.
    pub(super) fn admit(
        &mut self,
        target: Option<u32>,
        packet: Arrival,
        now: Instant,
    ) -> Option<(u16, u32)> {
        let Some(target) = target else {
            self.current = None;
            return None;
        };
        if self.current != Some(packet.ssrc) {
            if packet.ssrc != target || !packet.switch_point {
                return None;
            }
            // Switch: this layer's numbers continue the track's.
            match self.last {
                Some((seq, ts, at)) => {
                    let elapsed_ms = now.duration_since(at).as_millis().min(3_600_000) as u64;
                    let step = ((elapsed_ms * u64::from(packet.clock_rate)) / 1000).max(1) as u32;
                    self.seq_offset = seq.wrapping_add(1).wrapping_sub(packet.seq);
                    self.ts_offset = ts.wrapping_add(step).wrapping_sub(packet.ts);
                }
                None => {
                    self.seq_offset = 0;
                    self.ts_offset = 0;
                }
            }
            self.current = Some(packet.ssrc);
        }
        let seq = packet.seq.wrapping_add(self.seq_offset);
        let ts = packet.ts.wrapping_add(self.ts_offset);
        let newer = match self.last {
            // A late packet of the same layer keeps its place; only newer
            // ones move the track's end.
            Some((last, _, _)) => seq.wrapping_sub(last) < 0x8000,
            None => true,
        };
        if newer {
            self.last = Some((seq, ts, now));
        }
        Some((seq, ts))
    }
}

/// A layer to choose from, for [`choose`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Offer {
    pub(super) ssrc: u32,
    pub(super) rank: Rank,
    /// Measured bits per second (0 before it was measured).
    pub(super) bitrate: u64,
}

/// A subscriber's video tracks' layers within `budget` bits per second:
/// each track's wish is met from the highest layer not above it, tracks are
/// served in order of wish (largest tiles first), a track whose lowest
/// layer does not fit is paused. Returns the layer chosen per track (`None`:
/// paused).
///
/// Only layers that flow are chosen (measured above nothing): a browser
/// drops its upper layers while its processor or its uplink is short, and
/// a subscriber switched to one of those would wait for a keyframe that
/// never comes, its picture frozen. Before the first measure (a track just
/// opened), its lowest layer is taken; when none within the wish flows, the
/// lowest that does.
pub(super) fn choose(tracks: &[(Rank, Vec<Offer>)], budget: u64) -> Vec<Option<u32>> {
    let mut chosen: Vec<Option<u32>> = vec![None; tracks.len()];
    let mut order: Vec<usize> = (0..tracks.len()).collect();
    // Largest wish first; equal wishes in their given order.
    order.sort_by_key(|&i| (tracks[i].0 == OFF, std::cmp::Reverse(tracks[i].0)));
    let mut left = budget;
    // First every wanted track gets its lowest layer, then upgrades.
    let mut lowest: Vec<Option<&Offer>> = vec![None; tracks.len()];
    for &i in &order {
        let (wish, layers) = &tracks[i];
        if *wish == OFF {
            continue;
        }
        let wanted = || layers.iter().filter(|l| l.rank <= *wish);
        let flowing = || layers.iter().filter(|l| l.bitrate > 0);
        // The lowest that flows within the wish; else the lowest that flows
        // (larger than wished, rather than nothing); else, nothing measured
        // yet, the lowest wished.
        let Some(low) = flowing()
            .filter(|l| l.rank <= *wish)
            .min_by_key(|l| l.rank)
            .or_else(|| flowing().min_by_key(|l| l.rank))
            .or_else(|| wanted().min_by_key(|l| l.rank))
        else {
            continue;
        };
        if low.bitrate <= left {
            left -= low.bitrate;
            chosen[i] = Some(low.ssrc);
            lowest[i] = Some(low);
        }
    }
    for &i in &order {
        let (wish, layers) = &tracks[i];
        let Some(low) = lowest[i] else {
            continue;
        };
        let mut better: Vec<&Offer> = layers
            .iter()
            .filter(|l| l.rank <= (*wish).max(low.rank) && l.rank > low.rank && l.bitrate > 0)
            .collect();
        better.sort_by_key(|l| std::cmp::Reverse(l.rank));
        for layer in better {
            let extra = layer.bitrate.saturating_sub(low.bitrate);
            if extra <= left {
                left -= extra;
                chosen[i] = Some(layer.ssrc);
                break;
            }
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn arrival(ssrc: u32, seq: u16, ts: u32, switch_point: bool) -> Arrival {
        Arrival {
            ssrc,
            seq,
            ts,
            switch_point,
            clock_rate: 90_000,
        }
    }

    #[test]
    fn keyframes_are_told_from_other_frames() {
        // Plain descriptor, S=1, PID 0, then P=0 (key) or P=1.
        assert!(vp8_keyframe_start(&[0x10, 0x00, 0x9d, 0x01, 0x2a]));
        assert!(!vp8_keyframe_start(&[0x10, 0x01]));
        // Not the start of the partition, or another partition.
        assert!(!vp8_keyframe_start(&[0x00, 0x00]));
        assert!(!vp8_keyframe_start(&[0x11, 0x00]));
        // Extended: I with a 15-bit PictureID, L, T/K.
        assert!(vp8_keyframe_start(&[
            0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x00
        ]));
        assert!(!vp8_keyframe_start(&[
            0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x01
        ]));
        // A 7-bit PictureID only.
        assert!(vp8_keyframe_start(&[0x90, 0x80, 0x12, 0x00]));
        // Truncated: never a keyframe.
        assert!(!vp8_keyframe_start(&[]));
        assert!(!vp8_keyframe_start(&[0x90, 0x80]));
    }

    #[test]
    fn a_switch_waits_for_a_keyframe_and_keeps_the_numbers_continuous() {
        let t0 = Instant::now();
        let mut r = Rewrite::default();
        // Nothing before a switch point of the target.
        assert_eq!(r.admit(Some(1), arrival(1, 100, 9000, false), t0), None);
        // The first keyframe starts the track with the layer's own numbers.
        assert_eq!(
            r.admit(Some(1), arrival(1, 101, 9000, true), t0),
            Some((101, 9000))
        );
        assert_eq!(
            r.admit(Some(1), arrival(1, 102, 12000, false), t0),
            Some((102, 12000))
        );
        // Asked for layer 2: layer 1 goes on until layer 2's keyframe.
        assert_eq!(r.admit(Some(2), arrival(2, 5000, 777, false), t0), None);
        assert_eq!(
            r.admit(Some(2), arrival(1, 103, 15000, false), t0),
            Some((103, 15000))
        );
        let t1 = t0 + Duration::from_millis(40);
        assert_eq!(
            r.admit(Some(2), arrival(2, 5001, 1000, true), t1),
            Some((104, 15000 + 3600))
        );
        assert_eq!(
            r.admit(Some(2), arrival(2, 5002, 4000, false), t1),
            Some((105, 18600 + 3000))
        );
        // The old layer is no longer sent.
        assert_eq!(r.admit(Some(2), arrival(1, 104, 18000, false), t1), None);
        assert_eq!(r.current(), Some(2));
    }

    #[test]
    fn a_pause_stops_at_once_and_a_resume_continues_the_numbers() {
        let t0 = Instant::now();
        let mut r = Rewrite::default();
        assert_eq!(
            r.admit(Some(7), arrival(7, 65535, 4_294_967_000, true), t0),
            Some((65535, 4_294_967_000))
        );
        assert_eq!(r.admit(None, arrival(7, 0, 4_294_967_200, false), t0), None);
        assert_eq!(r.current(), None);
        // Resuming needs a keyframe; the numbers wrap around and continue.
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(r.admit(Some(7), arrival(7, 50, 1000, false), t1), None);
        assert_eq!(
            r.admit(Some(7), arrival(7, 51, 1300, true), t1),
            Some((0, 4_294_967_000u32.wrapping_add(180_000)))
        );
    }

    #[test]
    fn a_late_packet_of_the_layer_keeps_its_place() {
        let t0 = Instant::now();
        let mut r = Rewrite::default();
        r.admit(Some(1), arrival(1, 10, 0, true), t0);
        r.admit(Some(1), arrival(1, 12, 6000, false), t0);
        assert_eq!(
            r.admit(Some(1), arrival(1, 11, 3000, false), t0),
            Some((11, 3000))
        );
        // A switch continues after the newest, not the late one.
        let t1 = t0 + Duration::from_millis(1);
        assert_eq!(
            r.admit(Some(2), arrival(2, 900, 50, true), t1),
            Some((13, 6090))
        );
    }

    fn layers(ssrc: u32, rates: [u64; 3]) -> Vec<Offer> {
        (0..3)
            .map(|rank| Offer {
                ssrc: ssrc * 10 + rank as u32,
                rank,
                bitrate: rates[rank as usize],
            })
            .collect()
    }

    #[test]
    fn layers_are_chosen_by_wish_within_the_budget() {
        let tracks = vec![
            (HIGH, layers(1, [150_000, 500_000, 1_500_000])),
            (0, layers(2, [150_000, 500_000, 1_500_000])),
            (OFF, layers(3, [150_000, 500_000, 1_500_000])),
            (
                1,
                vec![Offer {
                    ssrc: 40,
                    rank: 0,
                    bitrate: 300_000,
                }],
            ),
        ];
        // Plenty: every wish.
        assert_eq!(
            choose(&tracks, u64::MAX),
            vec![Some(12), Some(20), None, Some(40)]
        );
        // 1.5 Mbit/s: the speaker drops to the middle layer, the others stay.
        assert_eq!(
            choose(&tracks, 1_500_000),
            vec![Some(11), Some(20), None, Some(40)]
        );
        // 500 kbit/s: the larger wishes first, at their lowest layer; the
        // thumbnail that does not fit is paused.
        assert_eq!(
            choose(&tracks, 500_000),
            vec![Some(10), None, None, Some(40)]
        );
        // Nothing fits: all paused, none half-sent.
        assert_eq!(choose(&tracks, 100_000), vec![None, None, None, None]);
    }

    #[test]
    fn a_layer_the_publisher_stopped_sending_is_never_chosen() {
        // The middle and top layers stopped (a busy publisher): a large
        // tile gets the lowest, which flows, rather than a frozen picture.
        let tracks = vec![(HIGH, layers(1, [150_000, 0, 0]))];
        assert_eq!(choose(&tracks, u64::MAX), vec![Some(10)]);
        // Only the middle flows: it is taken, even for a thumbnail.
        let tracks = vec![(0, layers(2, [0, 500_000, 0]))];
        assert_eq!(choose(&tracks, u64::MAX), vec![Some(21)]);
        // Nothing measured yet (just opened): the lowest, to start with.
        let tracks = vec![(HIGH, layers(3, [0, 0, 0]))];
        assert_eq!(choose(&tracks, u64::MAX), vec![Some(30)]);
    }
}
