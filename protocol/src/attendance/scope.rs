//! Which entries are about whom: the person's own, the session-wide
//! control entries, and the recording segments they appear in
//! ([`ProofScope`]). Derivation and proofs read through these rules, so the
//! whole log and a proof's entries give the same figures.

use crate::evidence::{Entry, kind};
use std::collections::BTreeSet;

/// True for the session-wide entries every proof carries: state changes,
/// sign-in windows, server runs, and recording being armed or disarmed
/// (`recording_armed`: a facilitator's or the server's act about the
/// session, naming no participant; it shows an auditor when recording was
/// asked for, beside each person's own decisions), and quizzes being
/// opened (`quiz_opened`: a quiz's id, title and size, naming no one; with
/// the person's own `quiz_completed` entries it gives the quizzes a
/// certificate says they completed out of those put to them).
pub fn is_session_control(entry: &Entry) -> bool {
    matches!(
        entry.kind.as_str(),
        kind::SESSION_STATE
            | kind::SIGNIN_OPENED
            | kind::SERVER_STARTED
            | kind::SERVER_STOPPING
            | kind::RECORDING_ARMED
            | kind::QUIZ_OPENED
    )
}

/// True for the entries about `person`: those they are the actor of,
/// countersignatures of their sign-ins, and their own removal and
/// re-admission (`removed`, `readmitted`: the `participant` is the person,
/// whoever the actor). Someone else's removal or re-admission is about
/// that person, even when `person` is the facilitator who removed them:
/// it carries another person's reason and is never in `person`'s proof.
pub fn concerns(entry: &Entry, person: &str) -> bool {
    match entry.kind.as_str() {
        kind::REMOVED | kind::READMITTED => names_participant(entry, person),
        kind::COUNTERSIGNED => entry.actor == person || names_participant(entry, person),
        _ => entry.actor == person,
    }
}

/// Whether the entry's `participant` is `person`.
fn names_participant(entry: &Entry, person: &str) -> bool {
    entry
        .payload_value()
        .get("participant")
        .and_then(|v| v.as_str())
        == Some(person)
}

/// [`concerns`] as proofs of version 1 and 2 applied it: the entries the
/// person is the actor of (a facilitator's `removed` entries among them),
/// and countersignatures of their sign-ins. A verifier reads such proofs
/// with it.
pub fn concerned_before_v3(entry: &Entry, person: &str) -> bool {
    entry.actor == person || (entry.kind == kind::COUNTERSIGNED && names_participant(entry, person))
}

/// Whether an entry, on its own, belongs in a proof for `person`:
/// [`concerns`] them (their `consent` decisions among them), is a
/// [`is_session_control`] entry, or is an entry of a recording segment that
/// [`names_in_recording`] them. [`derive`](super::derive()) reads only these.
///
/// A segment's other entries (its `recording_purged` entry, which names no
/// one, and its `recording_started` entry when the person joined the
/// segment after it opened) belong in the proof too, but only the rest of
/// the log can tell: select a proof's entries with [`ProofScope`], which
/// adds them.
pub fn in_proof(entry: &Entry, person: &str) -> bool {
    is_session_control(entry)
        || concerns(entry, person)
        || (is_recording_segment(entry) && names_in_recording(entry, person))
}

/// True for the entries of a recording segment: `recording_started`,
/// `recording_stopped` and `recording_purged`.
pub fn is_recording_segment(entry: &Entry) -> bool {
    matches!(
        entry.kind.as_str(),
        kind::RECORDING_STARTED | kind::RECORDING_STOPPED | kind::RECORDING_PURGED
    )
}

/// The segment number of a recording segment entry.
pub fn segment_of(entry: &Entry) -> Option<u64> {
    if !is_recording_segment(entry) {
        return None;
    }
    entry.payload_value().get("segment")?.as_u64()
}

/// Whether a `recording_started` or `recording_stopped` entry names
/// `person`: among its `participants`, or as the `participant` of one of
/// its `files`. A `recording_purged` entry names no one.
pub fn names_in_recording(entry: &Entry, person: &str) -> bool {
    if !matches!(
        entry.kind.as_str(),
        kind::RECORDING_STARTED | kind::RECORDING_STOPPED
    ) {
        return false;
    }
    let p = entry.payload_value();
    let listed = p
        .get("participants")
        .and_then(|v| v.as_array())
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(person)));
    listed
        || p.get("files").and_then(|v| v.as_array()).is_some_and(|a| {
            a.iter()
                .any(|f| f.get("participant").and_then(|v| v.as_str()) == Some(person))
        })
}

/// The recording segments `person` appears in, according to `entries`.
pub fn recorded_segments(entries: &[Entry], person: &str) -> BTreeSet<u64> {
    entries
        .iter()
        .filter(|e| names_in_recording(e, person))
        .filter_map(segment_of)
        .collect()
}

/// Which entries of a log a proof for one person carries: those
/// [`in_proof`] selects, and every entry of each recording segment the
/// person appears in (its opening, closing and purge), so that the proof
/// shows when their recording began, ended and was deleted.
///
/// A segment's entries list its other participants by id (not by name),
/// the tracks recorded and their files' sizes and hashes: a recording is
/// one shared act, and these entries cannot be cut without breaking their
/// hashes. Nothing of a segment the person was not in is selected.
///
/// The server builds the scope over the whole log; a verifier builds it
/// over a proof's entries, and gets the same segments, since the proof
/// carries every entry that names the person.
///
/// Proofs of version 1 and 2 selected by an older rule (see
/// [`concerned_before_v3`]); [`ProofScope::before_v3`] reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofScope {
    person: String,
    segments: BTreeSet<u64>,
    before_v3: bool,
}

impl ProofScope {
    /// The scope of `person`'s proof over `entries`.
    pub fn new(entries: &[Entry], person: &str) -> ProofScope {
        ProofScope {
            person: person.to_owned(),
            segments: recorded_segments(entries, person),
            before_v3: false,
        }
    }

    /// The scope of a version 1 or 2 proof: entries the person is the
    /// actor of were in it, whatever they were about.
    pub fn before_v3(entries: &[Entry], person: &str) -> ProofScope {
        ProofScope {
            before_v3: true,
            ..ProofScope::new(entries, person)
        }
    }

    /// The recording segments the person appears in.
    pub fn segments(&self) -> &BTreeSet<u64> {
        &self.segments
    }

    /// Whether the entry is about the person: [`concerns`] (or, for an
    /// older proof, [`concerned_before_v3`]).
    pub fn concerns(&self, entry: &Entry) -> bool {
        if self.before_v3 {
            concerned_before_v3(entry, &self.person)
        } else {
            concerns(entry, &self.person)
        }
    }

    /// Whether the proof carries `entry`.
    pub fn contains(&self, entry: &Entry) -> bool {
        self.concerns(entry)
            || is_session_control(entry)
            || (is_recording_segment(entry) && names_in_recording(entry, &self.person))
            || self.in_segment(entry)
    }

    /// Whether `entry` is an entry of a recording segment the person
    /// appears in.
    pub fn in_segment(&self, entry: &Entry) -> bool {
        segment_of(entry).is_some_and(|s| self.segments.contains(&s))
    }
}
