//! Which microphones a large group hears: the few people who spoke last.
//!
//! In a session of 30 every microphone sends 50 packets a second, loud or
//! not: forwarding them all to everyone is 43,500 packets a second through
//! the server and 29 streams for each browser to decode, nearly all of them
//! silence. Beyond [`VOICES`] microphones, each subscriber is sent only the
//! [`VOICES`] most recently loud (RFC 6464 level at or above
//! [`LOUD_DBOV`]); the others' tracks pause (their numbering continues
//! across the pause, as a layer switch's does). Whoever becomes loud is
//! taken in at once (their first loud packet wakes the choice) in place of
//! whoever has been quiet longest. A microphone whose level is not sent
//! (no extension negotiated) cannot be ranked and is always forwarded. The
//! recorder's tap is not concerned: it writes every microphone.

/// Most microphones forwarded to each subscriber in a large group; below
/// this many microphones, all of them.
pub(super) const VOICES: usize = 5;

/// An audio packet at this level or louder (in -dBov: 0 loudest, 127
/// silence) counts as someone speaking: speech into a laptop's microphone
/// is usually between -20 and -45 dBov, a quiet room below -60.
pub(super) const LOUD_DBOV: u8 = 50;

/// One microphone as the choice sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Voice {
    /// Its level is sent (the extension was negotiated).
    pub(super) ranked: bool,
    /// When it was last loud (ms on the forwarder's clock; 0: never).
    pub(super) last_loud_ms: u64,
}

/// Which of `voices` are forwarded, in their order.
pub(super) fn audible(voices: &[Voice]) -> Vec<bool> {
    if voices.len() <= VOICES {
        return vec![true; voices.len()];
    }
    let mut heard: Vec<usize> = (0..voices.len())
        .filter(|&i| voices[i].ranked && voices[i].last_loud_ms > 0)
        .collect();
    // Most recently loud first; ties (the same millisecond) in order.
    heard.sort_by_key(|&i| std::cmp::Reverse(voices[i].last_loud_ms));
    let mut chosen: Vec<bool> = voices.iter().map(|v| !v.ranked).collect();
    for i in heard.into_iter().take(VOICES) {
        chosen[i] = true;
    }
    chosen
}

/// Whether a packet's RFC 6464 level byte (voice bit, then -dBov) says
/// someone speaks.
pub(super) fn is_loud(level: u8) -> bool {
    level & 0x7f <= LOUD_DBOV
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice(last_loud_ms: u64) -> Voice {
        Voice {
            ranked: true,
            last_loud_ms,
        }
    }

    #[test]
    fn a_small_group_hears_everyone() {
        let voices: Vec<Voice> = (0..VOICES).map(|_| voice(0)).collect();
        assert!(audible(&voices).iter().all(|a| *a));
    }

    #[test]
    fn a_large_group_hears_the_last_to_speak_and_those_it_cannot_rank() {
        // Eight microphones: three never loud, one unranked, the others
        // loud at different times.
        let mut voices = vec![
            voice(100),
            voice(0),
            voice(900),
            voice(500),
            voice(0),
            voice(300),
            voice(700),
            voice(0),
        ];
        voices[7].ranked = false;
        let chosen = audible(&voices);
        // The five most recent (900, 700, 500, 300, 100) and the unranked.
        assert_eq!(
            chosen,
            vec![true, false, true, true, false, true, true, true]
        );
        // Someone silent speaks: the one quiet longest (100) goes.
        voices[1].last_loud_ms = 1_000;
        assert_eq!(
            audible(&voices),
            vec![false, true, true, true, false, true, true, true]
        );
    }

    #[test]
    fn loud_is_read_from_the_level_whatever_the_voice_bit() {
        assert!(is_loud(30));
        assert!(is_loud(0x80 | 50));
        assert!(!is_loud(51));
        assert!(!is_loud(0x80 | 127));
    }
}
