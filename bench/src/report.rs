//! What the bench found: a JSON-serialisable summary and a table for people.

use crate::procfs::{CpuUse, Machine};
use crate::stats::{PhaseStats, Summary};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Joining: connect → welcome.
#[derive(Debug, Serialize)]
pub struct Join {
    /// Participants asked for.
    pub requested: usize,
    /// Welcomed.
    pub joined: usize,
    /// Refused or timed out.
    pub failed: usize,
    /// Why, by cause.
    pub errors: BTreeMap<String, u64>,
    /// Joins in flight at once.
    pub concurrency: usize,
    /// Wall time to join everyone, seconds.
    pub wall_s: f64,
    /// Join time distribution.
    pub time: Summary,
}

/// Idle with every connection open.
#[derive(Debug, Serialize)]
pub struct Idle {
    /// Sockets open at the end of the idle window.
    pub connections: usize,
    /// Server RSS after creating the sessions, before any connection.
    pub server_rss_before_kib: Option<u64>,
    /// Server RSS with every connection open.
    pub server_rss_connected_kib: Option<u64>,
    /// (connected − before) / connections.
    pub server_rss_per_connection_bytes: Option<u64>,
    /// Server threads.
    pub server_threads: Option<u64>,
    /// CPU while idle.
    pub cpu: CpuUse,
    /// Load tool RSS before connecting.
    pub tool_rss_before_kib: Option<u64>,
    /// Load tool RSS with every connection open.
    pub tool_rss_connected_kib: Option<u64>,
}

/// One measured sending phase.
#[derive(Debug, Serialize)]
pub struct PhaseReport {
    /// `relay` or `step`.
    pub name: String,
    /// Asked total rate, messages/s.
    pub target_rate: f64,
    /// Seconds of sending.
    pub duration_s: f64,
    /// Connections sending.
    pub senders: usize,
    /// Signals written.
    pub sent: u64,
    /// Signals received back.
    pub received: u64,
    /// sent − received after the drain.
    pub lost: u64,
    /// Writes that failed (socket gone).
    pub send_failed: u64,
    /// Out of order per sender → receiver.
    pub reordered: u64,
    /// sent / duration.
    pub send_rate: f64,
    /// received / duration.
    pub throughput: f64,
    /// Signal bytes written per second (JSON text, before framing).
    pub send_mib_per_s: f64,
    /// Relay latency (send timestamp → receipt).
    pub latency: Summary,
    /// Lateness of sends against the paced schedule (load-tool health).
    pub send_lag: Summary,
    /// CPU over the sending window.
    pub cpu: CpuUse,
    /// `error` messages received, by code.
    pub errors: BTreeMap<String, u64>,
    /// Sockets that ended during the phase.
    pub closes: BTreeMap<String, u64>,
    /// `closing` / `peer_left` notices.
    pub notices: BTreeMap<String, u64>,
    /// Whether the phase met its criteria.
    pub pass: Option<bool>,
    /// Why not, or "ok".
    pub verdict: Option<String>,
    /// Presence changes sent in place of signals (`--presence-every`):
    /// evidence appends on the server.
    pub presence_sent: u64,
    /// The ledger's commits during the phase, from the server's `/metrics`.
    pub ledger: Option<LedgerCommits>,
    /// Backups run back to back during the phase (`--backup-during-relay`).
    pub backups: Option<BackupRuns>,
}

/// The ledger writer's commits over a phase: the difference of
/// `cadre_ledger_commit_seconds` between two scrapes.
#[derive(Debug, Serialize, Clone, Default)]
pub struct LedgerCommits {
    /// Commits (batches) made.
    pub commits: u64,
    /// Mean commit time, milliseconds.
    pub mean_ms: f64,
    /// The bucket bound under which 50 % of commits fell, milliseconds.
    pub p50_at_most_ms: f64,
    /// The bucket bound under which 99 % of commits fell, milliseconds
    /// (infinite when beyond the last bound).
    pub p99_at_most_ms: f64,
}

/// `cadre backup` runs made while a phase ran.
#[derive(Debug, Serialize, Clone, Default)]
pub struct BackupRuns {
    /// Backups completed.
    pub completed: u64,
    /// Backups that failed (with the first error).
    pub failed: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// Mean duration of a backup, seconds.
    pub mean_s: f64,
    /// Longest backup, seconds.
    pub max_s: f64,
    /// Size of the copied ledger and catalogue, bytes (last backup).
    pub copied_bytes: u64,
}

impl PhaseReport {
    /// Reads a phase's counters.
    pub fn from_stats(
        name: &str,
        rate: f64,
        duration: Duration,
        senders: usize,
        s: &PhaseStats,
        cpu: CpuUse,
    ) -> PhaseReport {
        let secs = duration.as_secs_f64();
        let sent = s.sent.load(Relaxed);
        let received = s.received.load(Relaxed);
        let presence_sent = s.presence_sent.load(Relaxed);
        PhaseReport {
            name: name.into(),
            target_rate: rate,
            duration_s: secs,
            senders,
            sent,
            received,
            lost: sent.saturating_sub(received),
            send_failed: s.send_failed.load(Relaxed),
            reordered: s.reordered.load(Relaxed),
            send_rate: sent as f64 / secs,
            throughput: received as f64 / secs,
            send_mib_per_s: s.sent_bytes.load(Relaxed) as f64 / secs / (1024.0 * 1024.0),
            latency: s.latency.summary(),
            send_lag: s.send_lag.summary(),
            cpu,
            errors: s.errors.snapshot(),
            closes: s.closes.snapshot(),
            notices: s.notices.snapshot(),
            pass: None,
            verdict: None,
            presence_sent,
            ledger: None,
            backups: None,
        }
    }

    /// Sustained: the tool sent what was asked, nothing lost, no error, no
    /// socket closed, p99 under the target.
    pub fn judge(&mut self, p99_target_ms: f64) -> bool {
        let mut why = Vec::new();
        let expected = self.target_rate * self.duration_s;
        let written = (self.sent + self.presence_sent) as f64;
        if written < expected * 0.97 {
            why.push(format!(
                "load tool sent only {:.0} % of the schedule",
                written / expected * 100.0
            ));
        }
        if self.lost > 0 {
            why.push(format!("{} lost", self.lost));
        }
        let errors: u64 = self.errors.values().sum();
        if errors > 0 {
            why.push(format!("{errors} errors"));
        }
        let closes: u64 = self.closes.values().sum();
        if closes > 0 {
            why.push(format!("{closes} sockets closed"));
        }
        if self.latency.p99_ms >= p99_target_ms {
            why.push(format!(
                "p99 {:.2} ms ≥ {p99_target_ms} ms",
                self.latency.p99_ms
            ));
        }
        let pass = why.is_empty();
        self.pass = Some(pass);
        let mut verdict = if pass { "ok".into() } else { why.join(", ") };
        if let Some(other) = self.cpu.other_pct.filter(|&o| o > BUSY_NEIGHBOUR_PCT) {
            let _ = write!(
                verdict,
                " (machine not quiet: {other:.0} % of a core used by others)"
            );
        }
        self.verdict = Some(verdict);
        pass
    }
}

/// CPU used by other processes above which a figure is flagged.
pub const BUSY_NEIGHBOUR_PCT: f64 = 15.0;

/// The saturation search.
#[derive(Debug, Serialize)]
pub struct Saturation {
    /// Latency limit of a sustained step.
    pub p99_target_ms: f64,
    /// Seconds per step.
    pub step_s: u64,
    /// Every step, in order.
    pub steps: Vec<PhaseReport>,
    /// Highest rate sustained.
    pub sustained_rate: Option<f64>,
    /// Lowest rate that failed.
    pub first_failing_rate: Option<f64>,
    /// Connections that ended during the search.
    pub connections_lost: u64,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// When (UTC).
    pub date: String,
    /// The machine.
    pub machine: Machine,
    /// The command line.
    pub command: String,
    /// Participants asked for.
    pub participants: usize,
    /// People per session.
    pub session_size: usize,
    /// Sessions created.
    pub sessions: usize,
    /// Seconds to create them.
    pub sessions_created_s: f64,
    /// Load tool runtime threads.
    pub tool_threads: usize,
    /// `data` bytes of SDP-sized signals.
    pub sdp_bytes: usize,
    /// `data` bytes of candidate-sized signals.
    pub candidate_bytes: usize,
    /// Joining.
    pub join: Join,
    /// Idle with every connection open.
    pub idle: Idle,
    /// The relay phase (not with --saturate).
    pub relay: Option<PhaseReport>,
    /// The saturation search (with --saturate).
    pub saturation: Option<Saturation>,
    /// Server RSS after the relay.
    pub server_rss_after_kib: Option<u64>,
    /// Load tool RSS after the relay.
    pub tool_rss_after_kib: Option<u64>,
    /// Whether the server was still running when the bench ended.
    pub server_alive_at_end: bool,
    /// Sockets that ended outside measured phases.
    pub closes_while_idle: BTreeMap<String, u64>,
    /// Errors received outside measured phases.
    pub errors_while_idle: BTreeMap<String, u64>,
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn pct(p: Option<f64>) -> String {
    p.map_or("n/a".into(), |p| format!("{p:.1} %"))
}

fn cpu(c: &CpuUse) -> String {
    format!(
        "server {} / tool {} / irq {} / others {} (of one core)",
        pct(c.server_pct),
        pct(c.tool_pct),
        pct(c.irq_pct),
        pct(c.other_pct)
    )
}

fn map(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn phase_rows(out: &mut String, r: &PhaseReport) {
    let row = |out: &mut String, k: &str, v: String| {
        let _ = writeln!(out, "  {k:<28} {v}");
    };
    row(
        out,
        "target rate",
        format!(
            "{:.0} msg/s for {:.0} s over {} connections",
            r.target_rate, r.duration_s, r.senders
        ),
    );
    row(
        out,
        "sent / received / lost",
        format!("{} / {} / {}", r.sent, r.received, r.lost),
    );
    row(
        out,
        "achieved",
        format!(
            "sent {:.0} msg/s, received {:.0} msg/s ({:.1} MiB/s sent)",
            r.send_rate, r.throughput, r.send_mib_per_s
        ),
    );
    row(
        out,
        "relay latency",
        format!(
            "p50 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms",
            r.latency.p50_ms, r.latency.p99_ms, r.latency.p999_ms, r.latency.max_ms
        ),
    );
    row(
        out,
        "send lag (tool health)",
        format!(
            "p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            r.send_lag.p50_ms, r.send_lag.p99_ms, r.send_lag.max_ms
        ),
    );
    row(out, "CPU", cpu(&r.cpu));
    row(out, "errors received", map(&r.errors));
    row(out, "sockets closed", map(&r.closes));
    if !r.notices.is_empty() {
        row(out, "notices", map(&r.notices));
    }
    if r.reordered > 0 || r.send_failed > 0 {
        row(
            out,
            "reordered / send failed",
            format!("{} / {}", r.reordered, r.send_failed),
        );
    }
    if r.presence_sent > 0 {
        row(
            out,
            "presence changes sent",
            format!("{} (evidence appends, not relayed)", r.presence_sent),
        );
    }
    if let Some(l) = r.ledger.as_ref().filter(|l| l.commits > 0) {
        row(
            out,
            "ledger commits",
            format!(
                "{} commits, mean {:.2} ms, p50 ≤ {} ms, p99 ≤ {} ms",
                l.commits, l.mean_ms, l.p50_at_most_ms, l.p99_at_most_ms
            ),
        );
    }
    if let Some(b) = &r.backups {
        row(
            out,
            "backups during the phase",
            format!(
                "{} completed, {} failed; mean {:.2} s, max {:.2} s; {:.1} MiB copied each{}",
                b.completed,
                b.failed,
                b.mean_s,
                b.max_s,
                b.copied_bytes as f64 / (1024.0 * 1024.0),
                b.first_error
                    .as_deref()
                    .map(|e| format!(" (first failure: {e})"))
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(v) = &r.verdict {
        row(out, "verdict", v.clone());
    }
}

impl Report {
    /// The human table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let row = |out: &mut String, k: &str, v: String| {
            let _ = writeln!(out, "  {k:<28} {v}");
        };
        let m = &self.machine;
        let _ = writeln!(out, "\ncadre-bench, {}", self.date);
        row(
            &mut out,
            "machine",
            format!(
                "{} CPUs ({}), {} MiB RAM, Linux {}",
                m.cpus, m.cpu_model, m.mem_total_mib, m.kernel
            ),
        );
        row(
            &mut out,
            "load",
            format!(
                "{} participants in {} sessions of ≤ {} (created in {:.1} s); data {} B / {} B; tool threads {}",
                self.participants,
                self.sessions,
                self.session_size,
                self.sessions_created_s,
                self.sdp_bytes,
                self.candidate_bytes,
                self.tool_threads
            ),
        );
        let j = &self.join;
        let _ = writeln!(out, "join (connect → welcome)");
        row(
            &mut out,
            "joined / failed",
            format!(
                "{} / {} in {:.1} s, {} at a time",
                j.joined, j.failed, j.wall_s, j.concurrency
            ),
        );
        row(
            &mut out,
            "join time",
            format!(
                "p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
                j.time.p50_ms, j.time.p99_ms, j.time.max_ms
            ),
        );
        if !j.errors.is_empty() {
            row(&mut out, "join errors", map(&j.errors));
        }
        let i = &self.idle;
        let _ = writeln!(out, "idle with {} connections", i.connections);
        row(
            &mut out,
            "server RSS",
            format!(
                "{} before, {} connected, {} after relay",
                mib(i.server_rss_before_kib),
                mib(i.server_rss_connected_kib),
                mib(self.server_rss_after_kib)
            ),
        );
        row(
            &mut out,
            "server RSS per connection",
            i.server_rss_per_connection_bytes
                .map_or("n/a".into(), |b| format!("{:.1} KiB", b as f64 / 1024.0)),
        );
        row(&mut out, "CPU (idle)", cpu(&i.cpu));
        row(
            &mut out,
            "tool RSS",
            format!(
                "{} before, {} connected, {} at end",
                mib(i.tool_rss_before_kib),
                mib(i.tool_rss_connected_kib),
                mib(self.tool_rss_after_kib)
            ),
        );
        if let Some(r) = &self.relay {
            let _ = writeln!(out, "relay");
            phase_rows(&mut out, r);
        }
        if let Some(s) = &self.saturation {
            let _ = writeln!(
                out,
                "saturation (steps of {} s; sustained = p99 < {} ms, nothing lost, no error)",
                s.step_s, s.p99_target_ms
            );
            let _ = writeln!(
                out,
                "  {:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6}  verdict",
                "rate",
                "sent/s",
                "recv/s",
                "lost",
                "p50 ms",
                "p99 ms",
                "max ms",
                "srv %",
                "tool %",
                "oth %"
            );
            for r in &s.steps {
                let _ = writeln!(
                    out,
                    "  {:>9.0} {:>9.0} {:>9.0} {:>7} {:>8.3} {:>8.3} {:>8.2} {:>6.0} {:>6.0} {:>6.0}  {}{}",
                    r.target_rate,
                    r.send_rate,
                    r.throughput,
                    r.lost,
                    r.latency.p50_ms,
                    r.latency.p99_ms,
                    r.latency.max_ms,
                    r.cpu.server_pct.unwrap_or(f64::NAN),
                    r.cpu.tool_pct.unwrap_or(f64::NAN),
                    r.cpu.other_pct.unwrap_or(f64::NAN),
                    r.verdict.as_deref().unwrap_or(""),
                    if r.name == "step" {
                        ""
                    } else {
                        " → run again"
                    },
                );
            }
            row(
                &mut out,
                "sustained rate",
                s.sustained_rate.map_or("none of the steps".into(), |r| {
                    format!(
                        "{r:.0} msg/s (first failing: {})",
                        s.first_failing_rate
                            .map_or("none up to the last step".into(), |f| format!("{f:.0}"))
                    )
                }),
            );
            if s.connections_lost > 0 {
                row(&mut out, "connections lost", s.connections_lost.to_string());
            }
        }
        if !self.closes_while_idle.is_empty() || !self.errors_while_idle.is_empty() {
            row(
                &mut out,
                "outside phases",
                format!(
                    "closed: {}; errors: {}",
                    map(&self.closes_while_idle),
                    map(&self.errors_while_idle)
                ),
            );
        }
        if !self.server_alive_at_end {
            row(&mut out, "server", "exited before the end".into());
        }
        out
    }
}
