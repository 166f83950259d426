//! What an auditor runs on a participant's proof, with the published keys
//! only ([`verify_proof`]): a [`Verdict`] naming every check, each with a
//! sentence saying what it found.

use super::compare::{compare, compare_consents, compare_recordings, show_conditions};
use super::payload::inclusion_holds;
use super::{
    AttendanceProof, EvidenceEntry, PROOF_TYP, PROOF_VERSIONS_READ, TREE_HEAD_VERSION,
    control_events_of_version, duration,
};
use crate::attendance::{self, Conditions, ProofScope};
use crate::evidence::{
    Entry, Jwks, JwsError, TREE_HEAD_TYP, TreeHead, kind, unverified_payload, verify_jws,
};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Names of the checks, as they appear in a [`Verdict`].
pub mod check {
    /// The proof's JWS verifies with a published key.
    pub const PROOF_SIGNATURE: &str = "proof signature";
    /// The payload is an attendance proof this verifier reads.
    pub const PROOF_FORMAT: &str = "proof format";
    /// The tree head's JWS verifies with a published key.
    pub const TREE_HEAD_SIGNATURE: &str = "tree head signature";
    /// The tree head is of the proof's session.
    pub const TREE_HEAD_SESSION: &str = "tree head session";
    /// Every entry's path leads to the tree head's root.
    pub const INCLUSION: &str = "inclusion";
    /// Every entry is the person's, a session control event, or of a recording
    /// segment the person appears in, of this session.
    pub const ENTRIES_BELONG: &str = "entries belong to the person";
    /// seq equals index, in increasing order, inside the tree, time never going back.
    pub const SEQUENCE: &str = "sequence";
    /// The figures recomputed from the entries equal the proof's.
    pub const ATTENDANCE: &str = "attendance recomputed";
    /// The consent history and the recorded segments recomputed from the
    /// entries equal the proof's.
    pub const CONSENTS: &str = "consents and recordings recomputed";
    /// The connection conditions recomputed from the person's `quality`
    /// entries equal the proof's.
    pub const CONDITIONS: &str = "connection conditions recomputed";
    /// Every line of the export is an entry or the tree heads line.
    pub const EXPORT_FORMAT: &str = "export format";
    /// Every tree head verifies and its root is the log's root at its size.
    pub const TREE_HEADS: &str = "tree heads";
    /// Prefix of the name of each receipt's check (`receipt 1`, ...).
    pub const RECEIPT: &str = "receipt";
    /// Prefix of the name of each RFC 3161 anchor's check (`anchor 1`, ...).
    pub const ANCHOR: &str = "anchor";
    /// A trusted TSA was given but the export carries no anchor.
    pub const ANCHORS: &str = "anchors";
}

/// One verification step and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Which step ([`check`]).
    pub name: String,
    /// Whether it holds.
    pub ok: bool,
    /// A sentence saying what was found.
    pub detail: String,
}

/// The outcome of a verification: every check, and whether all hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
    /// True when there is at least one check and every check holds.
    pub ok: bool,
}

impl Verdict {
    pub(super) fn new() -> Verdict {
        Verdict {
            checks: Vec::new(),
            ok: false,
        }
    }

    pub(super) fn push(&mut self, name: &str, ok: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.to_owned(),
            ok,
            detail: detail.into(),
        });
    }

    /// Records a check that passes when `failures` is empty.
    pub(super) fn outcome(&mut self, name: &str, failures: &[String], success: impl Into<String>) {
        if failures.is_empty() {
            self.push(name, true, success);
        } else {
            self.push(name, false, summarise(failures));
        }
    }

    pub(super) fn finish(mut self) -> Verdict {
        self.ok = !self.checks.is_empty() && self.checks.iter().all(|c| c.ok);
        self
    }

    /// The check of that name, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

/// `1 entry`, `2 entries`.
pub(super) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// At most this many failures are spelled out in one check's detail.
const LISTED: usize = 5;

fn summarise(failures: &[String]) -> String {
    let mut s = failures
        .iter()
        .take(LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if failures.len() > LISTED {
        let _ = write!(s, "; and {} more", failures.len() - LISTED);
    }
    s
}

fn jws_failure(what: &str, e: &JwsError) -> String {
    match e {
        JwsError::UnknownKey(kid) => format!(
            "the {what} is signed with key {kid:?}, which is not among the published keys given"
        ),
        JwsError::BadSignature(kid) => format!(
            "the {what}'s signature does not verify with published key {kid:?}: the file was altered or signed by another key"
        ),
        other => format!("the {what} is not a valid signature: {other}"),
    }
}

/// Verifies a signed tree head; returns its payload when it parses (even if
/// the signature fails, so that the other checks still say something), and
/// the failures found.
pub(super) fn read_tree_head(
    jws: &str,
    jwks: &Jwks,
    what: &str,
) -> (Option<TreeHead>, Vec<String>, String) {
    let mut failures = Vec::new();
    let (bytes, kid) = match verify_jws(jws, jwks) {
        Ok(v) => (Some(v.payload), v.kid),
        Err(e) => {
            failures.push(jws_failure(what, &e));
            (unverified_payload(jws), String::new())
        }
    };
    let head = bytes.and_then(|b| serde_json::from_slice::<TreeHead>(&b).ok());
    match &head {
        None => failures.push(format!("the {what}'s payload is not a tree head")),
        Some(h) => {
            if h.typ != TREE_HEAD_TYP || h.v != TREE_HEAD_VERSION {
                failures.push(format!(
                    "the {what} has typ {:?} version {}, expected {TREE_HEAD_TYP:?} version {TREE_HEAD_VERSION}",
                    h.typ, h.v
                ));
            }
            if h.root_hash().is_none() {
                failures.push(format!("the {what}'s root is not 64 hex digits"));
            }
        }
    }
    (head, failures, kid)
}

/// Verifies a participant's proof (compact JWS) with the published keys:
/// the steps of docs/evidence.md "Verification" 1–4.
pub fn verify_proof(jws: &str, jwks: &Jwks) -> Verdict {
    let mut r = Verdict::new();
    let payload = match verify_jws(jws, jwks) {
        Ok(v) => {
            r.push(
                check::PROOF_SIGNATURE,
                true,
                format!("signed with published key {:?}", v.kid),
            );
            v.payload
        }
        Err(e) => {
            r.push(check::PROOF_SIGNATURE, false, jws_failure("proof", &e));
            match unverified_payload(jws) {
                Some(p) => p,
                None => return r.finish(),
            }
        }
    };
    let proof: AttendanceProof = match serde_json::from_slice(&payload) {
        Ok(p) => p,
        Err(e) => {
            r.push(
                check::PROOF_FORMAT,
                false,
                format!("the payload is not an attendance proof: {e}"),
            );
            return r.finish();
        }
    };
    let mut format_failures = Vec::new();
    if proof.typ != PROOF_TYP || !PROOF_VERSIONS_READ.contains(&proof.v) {
        let mut versions: Vec<String> = PROOF_VERSIONS_READ.iter().map(u32::to_string).collect();
        let last = versions.pop().unwrap_or_default();
        let versions = if versions.is_empty() {
            last
        } else {
            format!("{} or {last}", versions.join(", "))
        };
        format_failures.push(format!(
            "typ {:?} version {}, expected {PROOF_TYP:?} version {versions}",
            proof.typ, proof.v,
        ));
    }
    if !attendance::known_time_zone(&proof.session.time_zone) {
        format_failures.push(format!(
            "the time zone {:?} is unknown",
            proof.session.time_zone
        ));
    }
    r.outcome(
        check::PROOF_FORMAT,
        &format_failures,
        format!(
            "attendance proof for {} ({}, {}) in session {:?} ({}, {}), {} to {}, issued {}",
            proof.person.name,
            proof.person.id,
            proof.person.role,
            proof.session.title,
            proof.session.id,
            proof.session.kind,
            attendance::local_time(proof.session.planned_start, &proof.session.time_zone),
            attendance::local_time(proof.session.planned_end, &proof.session.time_zone),
            attendance::local_time(proof.issued_at, &proof.session.time_zone),
        ),
    );

    // The tree head.
    let (head, failures, kid) = read_tree_head(&proof.evidence.tree_head, jwks, "tree head");
    let Some(head) = head else {
        r.outcome(check::TREE_HEAD_SIGNATURE, &failures, "");
        return r.finish();
    };
    r.outcome(
        check::TREE_HEAD_SIGNATURE,
        &failures,
        format!(
            "tree head over {} entries, signed at {} with published key {kid:?}",
            head.tree_size,
            attendance::local_time(head.ts, &proof.session.time_zone)
        ),
    );
    let sid_ok = head.sid == proof.session.id;
    r.push(
        check::TREE_HEAD_SESSION,
        sid_ok,
        if sid_ok {
            format!("the tree head is of session {}", head.sid)
        } else {
            format!(
                "the tree head is of session {:?}, the proof of session {:?}",
                head.sid, proof.session.id
            )
        },
    );

    // Inclusion of every entry.
    let root = head.root_hash().unwrap_or_default();
    let entries = &proof.evidence.entries;
    let failures: Vec<String> = entries
        .iter()
        .filter(|ev| !inclusion_holds(ev, head.tree_size, &root))
        .map(|ev| {
            format!(
                "entry {}: inclusion path does not lead to the tree head's root",
                ev.index
            )
        })
        .collect();
    r.outcome(
        check::INCLUSION,
        &failures,
        format!(
            "{} in the log under the signed root",
            count(entries.len(), "entry is", "entries are")
        ),
    );

    // Each entry is the person's, a control event, or of a recording
    // segment the person appears in, of this session.
    let mut parsed: Vec<Entry> = Vec::with_capacity(entries.len());
    let mut failures = Vec::new();
    let mut indexed: Vec<u64> = Vec::with_capacity(entries.len());
    for ev in entries {
        match Entry::parse(&ev.entry) {
            Err(e) => failures.push(format!("entry {}: not a ledger entry: {e}", ev.index)),
            Ok(e) => {
                if e.sid != proof.session.id {
                    failures.push(format!(
                        "entry {}: of session {:?}, not {:?}",
                        ev.index, e.sid, proof.session.id
                    ));
                }
                indexed.push(ev.index);
                parsed.push(e);
            }
        }
    }
    let pid = &proof.person.id;
    let scope = if proof.v >= 3 {
        ProofScope::new(&parsed, pid)
    } else {
        ProofScope::before_v3(&parsed, pid)
    };
    let (mut own, mut control, mut recording) = (0usize, 0usize, 0usize);
    for (index, e) in indexed.iter().zip(&parsed) {
        if scope.concerns(e) {
            own += 1;
        } else if attendance::is_session_control(e) {
            control += 1;
        } else if scope.in_segment(e) {
            recording += 1;
        } else if let Some(segment) = attendance::segment_of(e) {
            failures.push(format!(
                "entry {index} ({}) is of recording segment {segment}, in which {pid:?} does not appear",
                e.kind
            ));
        } else if matches!(e.kind.as_str(), kind::REMOVED | kind::READMITTED) {
            let whom = e.payload_value();
            failures.push(format!(
                "entry {index} ({}) is about participant {:?}, not {pid:?}",
                e.kind,
                whom.get("participant")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
            ));
        } else {
            failures.push(format!(
                "entry {index} ({}) is about {:?}, not {pid:?}, and is no session control event",
                e.kind, e.actor
            ));
        }
    }
    let segments: Vec<String> = scope.segments().iter().map(u64::to_string).collect();
    r.outcome(
        check::ENTRIES_BELONG,
        &failures,
        if recording == 0 {
            format!(
                "{} of {pid} and {}; nothing about anyone else",
                count(own, "entry", "entries"),
                count(control, "session control entry", "session control entries"),
            )
        } else {
            format!(
                "{} of {pid}, {} and {} of the recording {} {pid} appears in ({}); nothing else",
                count(own, "entry", "entries"),
                count(control, "session control entry", "session control entries"),
                count(recording, "entry", "entries"),
                if segments.len() == 1 {
                    "segment"
                } else {
                    "segments"
                },
                segments.join(", "),
            )
        },
    );

    // seq = index, increasing, inside the tree, time never going back.
    let mut failures = Vec::new();
    let mut previous: Option<(u64, i64)> = None;
    for (ev, e) in entries.iter().zip(parsed_by_entry(entries, &parsed)) {
        if ev.index >= head.tree_size {
            failures.push(format!(
                "entry {} lies beyond the tree head's {} entries",
                ev.index, head.tree_size
            ));
        }
        if let Some((prev_index, prev_ts)) = previous {
            if ev.index <= prev_index {
                failures.push(format!(
                    "entry {} comes after entry {prev_index}: entries are out of order or repeated",
                    ev.index
                ));
            }
            if let Some(e) = e
                && e.ts < prev_ts
            {
                failures.push(format!(
                    "entry {}: its time is before the previous entry's",
                    ev.index
                ));
            }
        }
        if let Some(e) = e {
            if e.seq != ev.index {
                failures.push(format!(
                    "entry {}: its seq is {}, not its index",
                    ev.index, e.seq
                ));
            }
            if e.ts > head.ts {
                failures.push(format!(
                    "entry {}: its time is after the tree head's",
                    ev.index
                ));
            }
        }
        previous = Some((ev.index, e.map(|e| e.ts).unwrap_or(i64::MIN)));
    }
    r.outcome(
        check::SEQUENCE,
        &failures,
        "each entry's seq equals its index, in increasing order, and time never goes back",
    );

    // Recompute.
    let derived = attendance::derive(
        &proof.session.schedule(),
        &parsed,
        &proof.person.id,
        head.ts,
    );
    let control_now = control_events_of_version(&parsed, pid, proof.v);
    let failures = compare(&proof, &derived, &control_now);
    r.outcome(
        check::ATTENDANCE,
        &failures,
        format!(
            "{}, present {} of {} planned ({:.2} %): the figures recomputed from the entries equal the proof's",
            count(derived.half_days.len(), "half-day", "half-days"),
            duration(derived.totals.present_seconds),
            duration(derived.totals.planned_seconds),
            derived.totals.completion * 100.0
        ),
    );

    // Consents and recordings.
    let tz = &proof.session.time_zone;
    if proof.v == 1 {
        let mut failures = Vec::new();
        if !proof.consents.is_empty() || !proof.recordings.is_empty() {
            failures.push(
                "a version 1 proof states no consent history and no recordings, yet this one lists some"
                    .to_owned(),
            );
        }
        r.outcome(
            check::CONSENTS,
            &failures,
            "a version 1 proof states no consent history and no recordings (added in version 2); \
             its entries were checked like the others",
        );
    } else {
        let consents = attendance::consent_history(&parsed, pid);
        let recordings = attendance::recordings(&parsed, pid);
        let mut failures = compare_consents(&proof.consents, &consents, tz);
        failures.extend(compare_recordings(&proof.recordings, &recordings, tz));
        r.outcome(
            check::CONSENTS,
            &failures,
            format!(
                "{} and {}: the lists recomputed from the entries equal the proof's",
                count(consents.len(), "consent decision", "consent decisions"),
                count(recordings.len(), "recorded segment", "recorded segments"),
            ),
        );
    }

    // Connection conditions.
    if proof.v < 3 {
        let mut failures = Vec::new();
        if proof.conditions != Conditions::default() {
            failures.push(format!(
                "a version {} proof states no connection conditions, yet this one does",
                proof.v
            ));
        }
        r.outcome(
            check::CONDITIONS,
            &failures,
            format!(
                "a version {} proof states no connection conditions (added in version 3)",
                proof.v
            ),
        );
    } else {
        let derived = attendance::conditions(&parsed, pid);
        let mut failures = Vec::new();
        if proof.conditions != derived {
            failures.push(format!(
                "the proof states {} but the person's quality entries give {}",
                show_conditions(&proof.conditions, tz),
                show_conditions(&derived, tz)
            ));
        }
        r.outcome(
            check::CONDITIONS,
            &failures,
            format!(
                "{}: the summary recomputed from the person's quality entries equals the proof's",
                show_conditions(&derived, tz)
            ),
        );
    }
    r.finish()
}

/// For each evidence entry, its parsed entry (None when it did not parse).
fn parsed_by_entry<'a>(entries: &[EvidenceEntry], parsed: &'a [Entry]) -> Vec<Option<&'a Entry>> {
    let mut it = parsed.iter();
    entries
        .iter()
        .map(|ev| {
            if Entry::parse(&ev.entry).is_ok() {
                it.next()
            } else {
                None
            }
        })
        .collect()
}
