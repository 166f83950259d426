//! The recording segments a person appears in, with their own files only,
//! as their proof states them.

use super::{ProofScope, segment_of, text};
use crate::evidence::{Entry, kind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One of a person's recorded files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFile {
    /// `audio` or `video`.
    pub track: String,
    /// File name, `<sid>/<segment>/<file>`.
    pub name: String,
    /// Size, bytes.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// A recording segment a person appears in, as their proof states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedSegment {
    /// Number within the session.
    pub segment: u64,
    /// When it opened, UTC ms: the `started_at` of its closing entry, else
    /// the time of its opening entry.
    pub started_at: i64,
    /// When media stopped being accepted, UTC ms; `None` while it runs.
    pub closed_at: Option<i64>,
    /// Why it closed (`consent_withdrawn`, `disarmed`, `left`, …).
    pub reason: Option<String>,
    /// This person's files only (none when their camera and microphone were
    /// off, or while the segment runs).
    pub files: Vec<RecordedFile>,
    /// When its files were deleted at the end of retention, UTC ms.
    pub purged_at: Option<i64>,
}

/// The recording segments `person` appears in, by segment number, each from
/// its entries: the first `recording_started`, `recording_stopped` and
/// `recording_purged` entry of the segment in log order.
pub fn recordings(entries: &[Entry], person: &str) -> Vec<RecordedSegment> {
    let scope = ProofScope::new(entries, person);
    let mut sorted: Vec<(&Entry, u64)> = entries
        .iter()
        .filter_map(|e| Some((e, segment_of(e)?)))
        .filter(|(_, s)| scope.segments().contains(s))
        .collect();
    sorted.sort_by_key(|(e, _)| e.seq);
    let mut out: BTreeMap<u64, (RecordedSegment, bool)> = BTreeMap::new();
    for (e, number) in sorted {
        let p = e.payload_value();
        let (segment, stopped) = out.entry(number).or_insert_with(|| {
            (
                RecordedSegment {
                    segment: number,
                    started_at: e.ts,
                    closed_at: None,
                    reason: None,
                    files: Vec::new(),
                    purged_at: None,
                },
                false,
            )
        });
        match e.kind.as_str() {
            kind::RECORDING_STOPPED if !*stopped => {
                *stopped = true;
                if let Some(t) = p.get("started_at").and_then(|v| v.as_i64()) {
                    segment.started_at = t;
                }
                segment.closed_at =
                    Some(p.get("closed_at").and_then(|v| v.as_i64()).unwrap_or(e.ts));
                segment.reason = text(&p, "reason").map(str::to_owned);
                segment.files = p
                    .get("files")
                    .and_then(|v| v.as_array())
                    .map(|files| {
                        files
                            .iter()
                            .filter(|f| {
                                f.get("participant").and_then(|v| v.as_str()) == Some(person)
                            })
                            .map(|f| RecordedFile {
                                track: text(f, "track").unwrap_or_default().to_owned(),
                                name: text(f, "name").unwrap_or_default().to_owned(),
                                bytes: f.get("bytes").and_then(|v| v.as_u64()).unwrap_or(0),
                                sha256: text(f, "sha256").unwrap_or_default().to_owned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
            }
            kind::RECORDING_PURGED => {
                segment.purged_at.get_or_insert(e.ts);
            }
            _ => {}
        }
    }
    out.into_values().map(|(s, _)| s).collect()
}
