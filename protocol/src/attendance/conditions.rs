//! A person's connection conditions, summarised from their own per-minute
//! `quality` entries.

use super::text;
use crate::evidence::{Entry, kind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The connection scores of the per-minute summaries (docs/quality.md), best
/// first.
pub const SCORES: [&str; 4] = ["excellent", "good", "poor", "lost"];

/// Most minutes [`Conditions::worst_minutes`] lists.
pub const WORST_MINUTES: usize = 10;

/// Minutes per score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreCounts {
    /// Minutes scored `excellent`.
    pub excellent: u64,
    /// Minutes scored `good`.
    pub good: u64,
    /// Minutes scored `poor`.
    pub poor: u64,
    /// Minutes scored `lost` (no report, or silent).
    pub lost: u64,
}

/// One of the person's poorest minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoorMinute {
    /// Start of the minute, UTC ms.
    pub minute: i64,
    /// Its score: `poor` or `lost`.
    pub score: String,
    /// Connection reasons seen in it (`rtt_high`, `loss_high`, …).
    pub reasons: Vec<String>,
}

/// A summary of a person's connection conditions, from their own `quality`
/// entries (one per minute they were in the session, docs/quality.md
/// "Per-minute ledger summaries"): how many minutes were measured, how many
/// had each score, and the poorest of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conditions {
    /// Minutes with a summary (each minute once).
    pub minutes: u64,
    /// Minutes per score (the minute's `score`).
    pub by_score: ScoreCounts,
    /// The minutes scored `poor` or `lost`, at most [`WORST_MINUTES`]: the
    /// `lost` ones first, then `poor`, earlier before later; listed in time
    /// order.
    pub worst_minutes: Vec<PoorMinute>,
}

/// `person`'s connection conditions: each of their `quality` entries (the
/// first in log order for a minute; an entry without a `minute` or with an
/// unknown `score` is not counted), summarised.
pub fn conditions(entries: &[Entry], person: &str) -> Conditions {
    let mut own: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind == kind::QUALITY && e.actor == person)
        .collect();
    own.sort_by_key(|e| e.seq);
    let mut seen = BTreeSet::new();
    let mut out = Conditions::default();
    let mut poor: Vec<(usize, PoorMinute)> = Vec::new();
    for e in own {
        let p = e.payload_value();
        let Some(minute) = p.get("minute").and_then(|v| v.as_i64()) else {
            continue;
        };
        let Some(rank) = text(&p, "score").and_then(|s| SCORES.iter().position(|&k| k == s)) else {
            continue;
        };
        if !seen.insert(minute) {
            continue;
        }
        out.minutes += 1;
        let counts = &mut out.by_score;
        match rank {
            0 => counts.excellent += 1,
            1 => counts.good += 1,
            2 => counts.poor += 1,
            _ => counts.lost += 1,
        }
        if rank >= 2 {
            let reasons = p
                .get("reasons")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            poor.push((
                rank,
                PoorMinute {
                    minute,
                    score: SCORES[rank].to_owned(),
                    reasons,
                },
            ));
        }
    }
    poor.sort_by_key(|(rank, m)| (std::cmp::Reverse(*rank), m.minute));
    poor.truncate(WORST_MINUTES);
    let mut worst: Vec<PoorMinute> = poor.into_iter().map(|(_, m)| m).collect();
    worst.sort_by_key(|m| m.minute);
    out.worst_minutes = worst;
    out
}
