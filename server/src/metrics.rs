//! What an operator's Prometheus scrapes at `/metrics`: counters and
//! gauges kept as plain atomics where the work happens, read and encoded
//! (OpenMetrics text, with `prometheus-client`) only when scraped.
//!
//! The hot paths (a relayed signal, a ledger batch) touch one or two
//! atomics and nothing else: no lock, no allocation, no label lookup. The
//! label sets are bounded by construction: refusals are counted per
//! protocol error code (an array indexed by the code), alerts per quality
//! rule; never a session, a person or an address.
//!
//! Where each figure lives:
//! - [`Metrics`] (one per server, in [`crate::App`]): admissions and
//!   refusals, open connections, relayed signals, outbound queue drops,
//!   quality alerts, TURN allocations;
//! - the ledger writer's own counters (commit latency and batch sizes, as
//!   [`Histogram`]s), read with [`crate::evidence::ledger::Ledger::metrics`];
//! - the recorder's (segments opened and closed, bytes written), read with
//!   [`crate::recording::Recorder::metrics`];
//! - live sessions, counted by the registry when scraped.
//!
//! TURN: the embedded server counts its allocations itself
//! ([`crate::turn::TurnStatus`]); a scrape reads them there (0 when no
//! embedded server runs: an external coturn has its own exporter).

use cadre_protocol::ErrorCode;
use cadre_protocol::quality::rule;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The protocol's error codes, in the order of [`Metrics`]' refusal
/// counters. A code added to the protocol and not here is counted as
/// `other` until it is added.
const CODES: [ErrorCode; 22] = [
    ErrorCode::TokenMissing,
    ErrorCode::TokenMalformed,
    ErrorCode::TokenAlgorithm,
    ErrorCode::TokenSignature,
    ErrorCode::TokenExpired,
    ErrorCode::TokenNotYetValid,
    ErrorCode::TokenRevoked,
    ErrorCode::WrongSession,
    ErrorCode::NotFound,
    ErrorCode::SessionEnded,
    ErrorCode::Unauthorized,
    ErrorCode::Forbidden,
    ErrorCode::MalformedMessage,
    ErrorCode::UnknownMessageType,
    ErrorCode::MessageTooLarge,
    ErrorCode::UnknownPeer,
    ErrorCode::RateLimited,
    ErrorCode::InvalidInput,
    ErrorCode::NotOpen,
    ErrorCode::Conflict,
    ErrorCode::Internal,
    ErrorCode::AtCapacity,
];

/// The quality rules alerts are counted by; anything else is `other`.
const RULES: [&str; 2] = [rule::FACILITATOR_LINK_POOR, rule::GROUP_POOR];

/// The server's own counters (see the module doc for what lives
/// elsewhere). Cheap to share: hold it in an `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    admissions: AtomicU64,
    /// One per entry of [`CODES`], then `other`.
    refusals: [AtomicU64; CODES.len() + 1],
    open_connections: AtomicI64,
    relayed: AtomicU64,
    queue_drops: AtomicU64,
    /// One per entry of [`RULES`], then `other`.
    alerts: [AtomicU64; RULES.len() + 1],
}

impl Metrics {
    /// A WebSocket upgrade was accepted.
    pub fn admitted(&self) {
        self.admissions.fetch_add(1, Ordering::Relaxed);
    }

    /// A WebSocket upgrade was refused with `code`.
    pub fn refused(&self, code: ErrorCode) {
        let i = CODES.iter().position(|c| *c == code).unwrap_or(CODES.len());
        self.refusals[i].fetch_add(1, Ordering::Relaxed);
    }

    /// A session connection is open until the returned guard is dropped.
    pub fn connection_opened(self: &std::sync::Arc<Self>) -> OpenConnection {
        self.open_connections.fetch_add(1, Ordering::Relaxed);
        OpenConnection(std::sync::Arc::clone(self))
    }

    /// A signal was queued towards its target.
    pub fn relayed(&self) {
        self.relayed.fetch_add(1, Ordering::Relaxed);
    }

    /// A frame was not queued because the connection's queue was full
    /// (the connection is then closed as a slow consumer).
    pub fn queue_dropped(&self) {
        self.queue_drops.fetch_add(1, Ordering::Relaxed);
    }

    /// A quality alert was raised under `rule`.
    pub fn alert_raised(&self, rule: &str) {
        let i = RULES.iter().position(|r| *r == rule).unwrap_or(RULES.len());
        self.alerts[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts one open connection while held.
#[derive(Debug)]
pub struct OpenConnection(std::sync::Arc<Metrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Most buckets a [`Histogram`] may have (its last, `+Inf`, included).
const MAX_BUCKETS: usize = 16;

/// A fixed-bucket histogram of whole numbers (microseconds, entries)
/// that observes with three relaxed atomic additions: the ledger writer
/// records each batch with it. (`prometheus-client`'s own histogram takes a
/// lock per observation.)
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds, increasing, in the observed unit.
    bounds: &'static [u64],
    buckets: [AtomicU64; MAX_BUCKETS],
    sum: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// A histogram with these upper bounds (at most 15, increasing); a
    /// `+Inf` bucket follows them.
    pub const fn new(bounds: &'static [u64]) -> Histogram {
        assert!(bounds.len() < MAX_BUCKETS);
        Histogram {
            bounds,
            buckets: [const { AtomicU64::new(0) }; MAX_BUCKETS],
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one value.
    pub fn observe(&self, value: u64) {
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The values as Prometheus reads them, each divided by `per_unit`
    /// (1e6 turns microseconds into seconds; a division keeps 100 µs at
    /// 0.0001 where a product would print 0.00009999999999999999).
    fn snapshot(&self, per_unit: f64) -> HistogramSnapshot {
        let mut buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .enumerate()
            .map(|(i, b)| {
                (
                    *b as f64 / per_unit,
                    self.buckets[i].load(Ordering::Relaxed),
                )
            })
            .collect();
        // prometheus-client writes an infinite upper bound as `+Inf`.
        buckets.push((
            f64::INFINITY,
            self.buckets[self.bounds.len()].load(Ordering::Relaxed),
        ));
        // Read apart from the buckets: a scrape during an observation may
        // see one more in either; the next scrape agrees again.
        let count = buckets.iter().map(|(_, n)| n).sum();
        HistogramSnapshot {
            sum: self.sum.load(Ordering::Relaxed) as f64 / per_unit,
            count,
            buckets,
        }
    }
}

#[derive(Debug)]
struct HistogramSnapshot {
    sum: f64,
    count: u64,
    buckets: Vec<(f64, u64)>,
}

impl EncodeMetric for HistogramSnapshot {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.sum,
            self.count,
            &self.buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// Commit latency bounds, in microseconds (100 µs to 2.5 s): a commit is
/// one fsync, from a fraction of a millisecond on an SSD to seconds on a
/// struggling disk.
pub const COMMIT_MICROS: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000,
];

/// Batch size bounds, in entries (and tree heads) per transaction.
pub const BATCH_ENTRIES: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/// The ledger writer's figures for a scrape.
#[derive(Debug)]
pub struct LedgerFigures<'a> {
    /// Each committed transaction's duration, in microseconds.
    pub commit_micros: &'a Histogram,
    /// Each committed transaction's entries and heads.
    pub batch_entries: &'a Histogram,
    /// Transactions that failed.
    pub failed_batches: u64,
}

/// The recorder's figures for a scrape.
#[derive(Debug, Clone, Copy)]
pub struct RecordingFigures {
    /// Segments opened since start.
    pub segments_opened: u64,
    /// Segments finished (files finalised) since start.
    pub segments_closed: u64,
    /// Bytes written to recording files since start.
    pub bytes_written: u64,
}

/// Everything one scrape reports, read once.
#[derive(Debug)]
struct Scrape {
    live_sessions: u64,
    admissions: u64,
    refusals: Vec<(&'static str, u64)>,
    open_connections: i64,
    relayed: u64,
    queue_drops: u64,
    alerts: Vec<(&'static str, u64)>,
    turn_allocations: i64,
    turn_allocations_total: u64,
    commit_seconds: HistogramSnapshot,
    batch_entries: HistogramSnapshot,
    failed_batches: u64,
    recording: RecordingFigures,
}

/// The text a scrape answers (OpenMetrics, which Prometheus reads), from
/// the server's counters and the figures read from the ledger, the
/// recorder and the registry.
pub fn render(
    metrics: &Metrics,
    live_sessions: usize,
    ledger: LedgerFigures<'_>,
    recording: RecordingFigures,
    turn: Option<&crate::turn::TurnStatus>,
) -> String {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let scrape = Scrape {
        live_sessions: live_sessions as u64,
        admissions: load(&metrics.admissions),
        refusals: CODES
            .iter()
            .map(|c| c.as_str())
            .chain(["other"])
            .zip(metrics.refusals.iter().map(load))
            .collect(),
        open_connections: metrics.open_connections.load(Ordering::Relaxed),
        relayed: load(&metrics.relayed),
        queue_drops: load(&metrics.queue_drops),
        alerts: RULES
            .iter()
            .copied()
            .chain(["other"])
            .zip(metrics.alerts.iter().map(load))
            .collect(),
        turn_allocations: turn.map_or(0, |t| t.allocations() as i64),
        turn_allocations_total: turn.map_or(0, |t| t.allocations_total()),
        commit_seconds: ledger.commit_micros.snapshot(1e6),
        batch_entries: ledger.batch_entries.snapshot(1.0),
        failed_batches: ledger.failed_batches,
        recording,
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut text = String::new();
    // Writing to a String does not fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        gauge(
            &mut encoder,
            "cadre_live_sessions",
            "Sessions with a live actor in this process (someone connected, or just left).",
            self.live_sessions as i64,
        )?;
        gauge(
            &mut encoder,
            "cadre_open_connections",
            "Session WebSocket connections open now.",
            self.open_connections,
        )?;
        counter(
            &mut encoder,
            "cadre_admissions",
            "WebSocket joins accepted (token, origin and limits passed).",
            self.admissions,
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "cadre_refusals",
                "WebSocket joins refused, by the protocol's error code.",
                None,
                MetricType::Counter,
            )?;
            for (code, n) in &self.refusals {
                ConstCounter::new(*n).encode(family.encode_family(&[("code", *code)])?)?;
            }
        }
        counter(
            &mut encoder,
            "cadre_relayed_messages",
            "Signals relayed from one member to another.",
            self.relayed,
        )?;
        counter(
            &mut encoder,
            "cadre_outbound_queue_drops",
            "Frames not queued because a connection's queue was full (it is then closed as too slow).",
            self.queue_drops,
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "cadre_alerts",
                "Quality alerts raised to facilitators, by rule.",
                None,
                MetricType::Counter,
            )?;
            for (rule, n) in &self.alerts {
                ConstCounter::new(*n).encode(family.encode_family(&[("rule", *rule)])?)?;
            }
        }
        gauge(
            &mut encoder,
            "cadre_turn_allocations",
            "TURN allocations open now.",
            self.turn_allocations,
        )?;
        counter(
            &mut encoder,
            "cadre_turn_allocations_opened",
            "TURN allocations made since start.",
            self.turn_allocations_total,
        )?;
        self.commit_seconds.encode(encoder.encode_descriptor(
            "cadre_ledger_commit",
            "Time each ledger transaction (one fsync for the whole batch) took to commit.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?)?;
        self.batch_entries.encode(encoder.encode_descriptor(
            "cadre_ledger_batch_entries",
            "Entries and tree heads committed per ledger transaction (group commit).",
            None,
            MetricType::Histogram,
        )?)?;
        counter(
            &mut encoder,
            "cadre_ledger_failed_batches",
            "Ledger transactions that failed to commit (their appends were refused).",
            self.failed_batches,
        )?;
        counter(
            &mut encoder,
            "cadre_recording_segments_opened",
            "Recording segments opened.",
            self.recording.segments_opened,
        )?;
        counter(
            &mut encoder,
            "cadre_recording_segments_closed",
            "Recording segments closed with their files finalised.",
            self.recording.segments_closed,
        )?;
        ConstCounter::new(self.recording.bytes_written).encode(encoder.encode_descriptor(
            "cadre_recording_written",
            "Bytes written to recording files.",
            Some(&Unit::Bytes),
            MetricType::Counter,
        )?)?;
        Ok(())
    }
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    ConstCounter::new(value).encode(encoder.encode_descriptor(
        name,
        help,
        None,
        MetricType::Counter,
    )?)
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    ConstGauge::new(value).encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_puts_each_value_in_the_first_bucket_that_holds_it() {
        static H: Histogram = Histogram::new(&[1, 10]);
        for v in [0, 1, 2, 10, 11, 1000] {
            H.observe(v);
        }
        let s = H.snapshot(1.0);
        assert_eq!(s.buckets, vec![(1.0, 2), (10.0, 2), (f64::INFINITY, 2)]);
        assert_eq!((s.count, s.sum), (6, 1024.0));
    }

    #[test]
    fn refusals_are_labelled_by_code_and_nothing_else() {
        let m = Metrics::default();
        m.refused(ErrorCode::TokenSignature);
        m.refused(ErrorCode::TokenSignature);
        m.alert_raised(rule::GROUP_POOR);
        m.alert_raised("made_up");
        let h = Histogram::new(COMMIT_MICROS);
        h.observe(1500);
        let b = Histogram::new(BATCH_ENTRIES);
        b.observe(3);
        let text = render(
            &m,
            2,
            LedgerFigures {
                commit_micros: &h,
                batch_entries: &b,
                failed_batches: 0,
            },
            RecordingFigures {
                segments_opened: 1,
                segments_closed: 0,
                bytes_written: 42,
            },
            None,
        );
        assert!(
            text.contains("cadre_turn_allocations 0\n"),
            "no embedded TURN: none open"
        );
        assert!(text.contains("cadre_refusals_total{code=\"token_signature\"} 2\n"));
        assert!(text.contains("cadre_alerts_total{rule=\"group_poor\"} 1\n"));
        assert!(text.contains("cadre_alerts_total{rule=\"other\"} 1\n"));
        assert!(text.contains("cadre_live_sessions 2\n"));
        assert!(text.contains("cadre_ledger_commit_seconds_bucket{le=\"0.0025\"} 1\n"));
        assert!(text.contains("cadre_ledger_commit_seconds_count 1\n"));
        assert!(text.contains("cadre_ledger_commit_seconds_bucket{le=\"0.0001\"} 0\n"));
        assert!(text.contains("cadre_ledger_commit_seconds_bucket{le=\"+Inf\"} 1\n"));
        assert!(text.contains("cadre_recording_written_bytes_total 42\n"));
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
