//! Lock-free counters and a log-linear latency histogram shared by every
//! connection task.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Linear sub-buckets per power of two: 2^7 = 128, so a bucket is at most
/// 1/128 (0.8 %) wide relative to its value.
const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
/// Values below this are counted exactly (one bucket per nanosecond).
const LINEAR: u64 = 2 * SUB;
/// Largest exponent kept: 2^41 ns is about 36 minutes, far beyond any phase.
const MAX_EXP: u32 = 41;
const BUCKETS: usize = (LINEAR + (MAX_EXP as u64 - SUB_BITS as u64) * SUB) as usize;

fn bucket_of(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let e = (63 - v.leading_zeros()).min(MAX_EXP);
    if e == MAX_EXP {
        return BUCKETS - 1;
    }
    let m = v >> (e - SUB_BITS); // in [SUB, 2*SUB)
    (LINEAR + (e as u64 - SUB_BITS as u64 - 1) * SUB + (m - SUB)) as usize
}

/// Inclusive bounds of a bucket, in the histogram's unit.
fn bucket_bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < LINEAR {
        return (i, i);
    }
    let k = i - LINEAR;
    let e = k / SUB + SUB_BITS as u64 + 1;
    let m = SUB + k % SUB;
    let shift = e - SUB_BITS as u64;
    (m << shift, ((m + 1) << shift) - 1)
}

/// A concurrent histogram of nanosecond values.
pub struct Histogram {
    counts: Box<[AtomicU64]>,
    total: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

/// A summary of a histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    /// Number of values.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest value.
    pub max_ms: f64,
}

impl Histogram {
    /// Records one value (nanoseconds).
    pub fn record(&self, ns: u64) {
        self.counts[bucket_of(ns)].fetch_add(1, Relaxed);
        self.total.fetch_add(1, Relaxed);
        self.max.fetch_max(ns, Relaxed);
    }

    /// The value at quantile `q` (0..=1), as the middle of its bucket, never
    /// above the largest value seen.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        let total = self.total.load(Relaxed);
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Relaxed);
            if seen >= rank {
                let (lo, hi) = bucket_bounds(i);
                return (lo + (hi - lo) / 2).min(self.max.load(Relaxed));
            }
        }
        self.max.load(Relaxed)
    }

    /// Count, p50, p99, p99.9 and max in milliseconds.
    pub fn summary(&self) -> Summary {
        let ms = |ns: u64| ns as f64 / 1e6;
        Summary {
            count: self.total.load(Relaxed),
            p50_ms: ms(self.quantile_ns(0.50)),
            p99_ms: ms(self.quantile_ns(0.99)),
            p999_ms: ms(self.quantile_ns(0.999)),
            max_ms: ms(self.max.load(Relaxed)),
        }
    }
}

/// Counters for one measured phase (the relay phase or one saturation step).
#[derive(Default)]
pub struct PhaseStats {
    /// Signals written to the socket.
    pub sent: AtomicU64,
    /// Bytes of those signals (the JSON text frames).
    pub sent_bytes: AtomicU64,
    /// Signals that failed to be written (socket gone).
    pub send_failed: AtomicU64,
    /// Presence changes sent instead of signals (`--presence-every`).
    pub presence_sent: AtomicU64,
    /// Signals received back through the server.
    pub received: AtomicU64,
    /// Received with a sequence lower than the last one from the same sender.
    pub reordered: AtomicU64,
    /// Relay latency: send timestamp to receipt, nanoseconds.
    pub latency: Histogram,
    /// How late each send was against its paced schedule (load-generator health).
    pub send_lag: Histogram,
    /// Connections whose schedule for this phase is not finished yet.
    pub active_senders: AtomicU64,
    /// `error` messages received, by code.
    pub errors: Tally,
    /// Sockets that ended, by close code or cause.
    pub closes: Tally,
    /// `closing` and `peer_left` notices, by reason.
    pub notices: Tally,
}

/// Counts of rare, named events (error codes, close codes), by phase.
#[derive(Default)]
pub struct Tally(Mutex<BTreeMap<String, u64>>);

impl Tally {
    /// Adds one to `key`.
    pub fn add(&self, key: impl Into<String>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(key.into()).or_default() += 1;
    }

    /// A copy of the counts.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in (0..5_000_000u64).step_by(97).chain([u64::MAX / 2, 1 << 40]) {
            let b = bucket_of(v);
            assert!(b >= last || v >= 1 << 40, "bucket went back at {v}");
            last = b;
            let (lo, hi) = bucket_bounds(b);
            if v < 1 << MAX_EXP {
                assert!(lo <= v && v <= hi, "{v} not in [{lo}, {hi}]");
                assert!((hi - lo) as f64 <= v as f64 / 100.0 + 1.0);
            }
        }
    }

    #[test]
    fn quantiles() {
        let h = Histogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile_ns(0.5) as f64;
        let p99 = h.quantile_ns(0.99) as f64;
        assert!((p50 - 500_000.0).abs() / 500_000.0 < 0.01, "{p50}");
        assert!((p99 - 990_000.0).abs() / 990_000.0 < 0.01, "{p99}");
        assert_eq!(h.summary().max_ms, 1.0);
        assert_eq!(Histogram::default().quantile_ns(0.99), 0);
    }
}
