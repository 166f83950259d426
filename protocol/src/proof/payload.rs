//! A participant's proof: what it states ([`AttendanceProof`]), how the
//! server assembles it from the ledger ([`build_payload`]) and signs it as a
//! compact JWS ([`jws_signing_input`], [`jws_compact`]).

use crate::attendance::{
    self, Conditions, ConsentDecision, HalfDay, ProofScope, RecordedSegment, Schedule, Totals,
};
use crate::evidence::{Entry, TreeHead, entry_hash, kind, unverified_payload};
use crate::merkle::{self, Hash};
use crate::{Role, SessionKind};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// `typ` of a participant's proof.
pub const PROOF_TYP: &str = "cadre.attendance-proof";
/// Version of the proof format this build issues. Version 2 added the
/// typed `consents` history and `recordings`; version 3 the connection
/// `conditions`, the person's own removal and re-admission, and, on
/// control events, who acted (`by`), the `action` and a postponement's new
/// window. Version 1 and 2 proofs still verify (see [`verify_proof`](super::verify_proof)).
pub const PROOF_VERSION: u32 = 3;
/// The proof versions [`verify_proof`](super::verify_proof) reads.
pub const PROOF_VERSIONS_READ: [u32; 3] = [1, 2, 3];
/// The training modality every proof states (certificat de réalisation).
pub const MODALITY: &str = "distance, synchronous";
/// Tree head format version.
pub const TREE_HEAD_VERSION: u32 = 1;

/// The session, as a proof or a sheet states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMeta {
    /// Session id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Kind of session.
    pub kind: SessionKind,
    /// Planned start, UTC ms.
    pub planned_start: i64,
    /// Planned end, UTC ms.
    pub planned_end: i64,
    /// IANA time zone of the half-days.
    pub time_zone: String,
    /// Always [`MODALITY`].
    pub modality: String,
}

impl SessionMeta {
    /// A session's metadata, with the modality every cadre session has.
    pub fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        kind: SessionKind,
        planned_start: i64,
        planned_end: i64,
        time_zone: impl Into<String>,
    ) -> SessionMeta {
        SessionMeta {
            id: id.into(),
            title: title.into(),
            kind,
            planned_start,
            planned_end,
            time_zone: time_zone.into(),
            modality: MODALITY.to_owned(),
        }
    }

    /// What attendance derivation needs.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            planned_start: self.planned_start,
            planned_end: self.planned_end,
            time_zone: self.time_zone.clone(),
        }
    }
}

/// The person a proof is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Participant id (the `actor` of their entries).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role in the session.
    pub role: Role,
}

/// A control event, as a proof lists it: session-wide state changes (with
/// their reason, who acted, and a postponement's new window), server runs
/// (which explain a gap in evidence), recording being armed or disarmed,
/// and the person's own removal and re-admission (version 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlEvent {
    /// Server time, UTC ms.
    pub ts: i64,
    /// `session_state`, `server_started`, `server_stopping`,
    /// `recording_armed`, `removed` or `readmitted`.
    pub kind: String,
    /// Previous state (`session_state` only).
    pub from: Option<String>,
    /// New state (`session_state`), or `armed` / `disarmed`
    /// (`recording_armed`).
    pub to: Option<String>,
    /// Reason given (`session_state`, `removed`; `recording_armed` when the
    /// server disarmed recording itself).
    pub reason: Option<String>,
    /// `suspend`, `resume`, `postpone` or `end` (`session_state` entries
    /// that name it; absent from older entries and from version 1 and 2
    /// proofs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Who acted (`session_state`, `removed`, `readmitted`; version 3): a
    /// facilitator's id, `server` for the automatic policy, `organiser`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// A postponement's new planned start, RFC 3339 (version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_start: Option<String>,
    /// A postponement's new planned end, RFC 3339 (version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_end: Option<String>,
}

/// `to` of a `recording_armed` control event that arms recording.
pub const ARMED: &str = "armed";
/// `to` of a `recording_armed` control event that disarms it.
pub const DISARMED: &str = "disarmed";

/// One ledger entry in a proof, with its inclusion path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceEntry {
    /// Position in the log (equals the entry's `seq`).
    pub index: u64,
    /// The exact stored entry text.
    pub entry: String,
    /// Audit path to the tree head's root, hex hashes, leaf to root.
    pub path: Vec<String>,
}

impl EvidenceEntry {
    /// An entry with the path the ledger computed for it.
    pub fn new(index: u64, entry: impl Into<String>, path: &[Hash]) -> EvidenceEntry {
        EvidenceEntry {
            index,
            entry: entry.into(),
            path: path.iter().map(merkle::to_hex).collect(),
        }
    }
}

/// What binds a proof to the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The signed tree head (compact JWS) the paths lead to.
    pub tree_head: String,
    /// The person's entries, the session control entries and the entries of
    /// the recording segments the person appears in, by index.
    pub entries: Vec<EvidenceEntry>,
}

/// A participant's attendance proof: the payload of the signed JWS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttendanceProof {
    /// [`PROOF_TYP`].
    pub typ: String,
    /// [`PROOF_VERSION`].
    pub v: u32,
    /// When the proof was issued, UTC ms.
    pub issued_at: i64,
    /// The training organisation.
    pub organisation: String,
    /// The session.
    pub session: SessionMeta,
    /// Who it is about.
    pub person: Person,
    /// Attendance per half-day, derived from `evidence.entries`.
    pub half_days: Vec<HalfDay>,
    /// Totals over the half-days.
    pub totals: Totals,
    /// Session state changes, server runs, and recording armed or disarmed.
    pub control: Vec<ControlEvent>,
    /// The person's consent decisions in log order, derived from their
    /// `consent` entries (always empty in a version 1 proof).
    pub consents: Vec<ConsentDecision>,
    /// The recording segments the person appears in, with their own files
    /// only, derived from the segments' entries (absent from version 1).
    #[serde(default)]
    pub recordings: Vec<RecordedSegment>,
    /// The person's connection conditions, derived from their own `quality`
    /// entries (absent from versions 1 and 2: read as none measured).
    #[serde(default)]
    pub conditions: Conditions,
    /// The entries and the tree head that prove the figures.
    pub evidence: Evidence,
}

/// Why a proof cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The tree head's payload is not a tree head of this session.
    #[error("tree head: {0}")]
    TreeHead(String),
    /// An entry is unfit for this proof.
    #[error("entry {index}: {reason}")]
    Entry {
        /// Its index.
        index: u64,
        /// What is wrong.
        reason: String,
    },
}

/// The control events of `person`'s proof, in log order: `session_state`
/// (with its action, who acted, and a postponement's new window),
/// `server_started`, `server_stopping`, `recording_armed` (its `to` is
/// [`ARMED`] or [`DISARMED`]), and the `removed` and `readmitted` entries
/// whose `participant` is `person` (with who acted and the reason).
pub fn control_events(entries: &[Entry], person: &str) -> Vec<ControlEvent> {
    control_events_of_version(entries, person, PROOF_VERSION)
}

/// [`control_events`] as a proof of version `v` lists them: before
/// version 3, no removal or re-admission, and no `action`, `by` or new
/// window.
pub fn control_events_of_version(entries: &[Entry], person: &str, v: u32) -> Vec<ControlEvent> {
    let v3 = v >= 3;
    let mut sorted: Vec<&Entry> = entries
        .iter()
        .filter(|e| match e.kind.as_str() {
            kind::SESSION_STATE
            | kind::SERVER_STARTED
            | kind::SERVER_STOPPING
            | kind::RECORDING_ARMED => true,
            kind::REMOVED | kind::READMITTED => v3 && attendance::concerns(e, person),
            _ => false,
        })
        .collect();
    sorted.sort_by_key(|e| e.seq);
    sorted
        .into_iter()
        .map(|e| {
            let p = e.payload_value();
            let field = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let mut event = ControlEvent {
                ts: e.ts,
                kind: e.kind.clone(),
                from: None,
                to: None,
                reason: None,
                action: None,
                by: None,
                planned_start: None,
                planned_end: None,
            };
            match e.kind.as_str() {
                kind::SESSION_STATE => {
                    event.from = field("from");
                    event.to = field("to");
                    event.reason = field("reason");
                    if v3 {
                        event.action = field("action");
                        event.by = Some(e.actor.clone());
                        event.planned_start = field("planned_start");
                        event.planned_end = field("planned_end");
                    }
                }
                kind::RECORDING_ARMED => {
                    let armed = p.get("armed").and_then(|v| v.as_bool()) == Some(true);
                    let to = if armed { ARMED } else { DISARMED };
                    event.to = Some(to.to_owned());
                    event.reason = field("reason");
                }
                kind::REMOVED | kind::READMITTED => {
                    event.by = Some(e.actor.clone());
                    event.reason = field("reason");
                }
                _ => {}
            }
            event
        })
        .collect()
}

pub(super) fn tree_head_of(jws: &str) -> Option<TreeHead> {
    serde_json::from_slice(&unverified_payload(jws)?).ok()
}

/// Assembles a participant's proof, to be signed by the server as a
/// compact JWS (`alg: EdDSA`, header `kid`), for example with
/// [`jws_signing_input`] and [`jws_compact`].
///
/// - `tree_head`: a signed tree head of the session covering every entry
///   (take a fresh one at issue time). The derivation counts a connection
///   still open until the tree head's time, so that a verifier recomputes
///   the same figures from the proof alone.
/// - `entries`: every entry of the log that [`ProofScope`] selects for
///   `person.id` (their own entries, countersignatures of their sign-ins,
///   the session control entries, and the entries of the recording
///   segments they appear in), among the first `tree_size` entries, each
///   with its inclusion path against the tree head (RFC 6962 audit path for
///   that index and tree size). Any order.
///
/// The consent history, the recordings and the connection conditions are
/// derived from those entries ([`attendance::consent_history`],
/// [`attendance::recordings`], [`attendance::conditions`]), as the figures
/// are.
///
/// Fails, rather than issue a proof that would not verify, when an entry
/// does not parse, is of another session, disagrees with its index, its
/// path does not lead to the tree head's root, or it is about someone else
/// (outside the scope of the person's proof over the entries given).
pub fn build_payload(
    issued_at: i64,
    organisation: &str,
    session: &SessionMeta,
    person: &Person,
    tree_head: &str,
    mut entries: Vec<EvidenceEntry>,
) -> Result<AttendanceProof, ProofError> {
    let sth = tree_head_of(tree_head)
        .ok_or_else(|| ProofError::TreeHead("not a JWS with a tree head payload".into()))?;
    if sth.sid != session.id {
        return Err(ProofError::TreeHead(format!(
            "it is of session {:?}, not {:?}",
            sth.sid, session.id
        )));
    }
    let root = sth
        .root_hash()
        .ok_or_else(|| ProofError::TreeHead("its root is not 64 hex digits".into()))?;
    entries.sort_by_key(|e| e.index);
    entries.dedup_by_key(|e| e.index);
    let mut parsed = Vec::with_capacity(entries.len());
    for ev in &entries {
        let fail = |reason: String| ProofError::Entry {
            index: ev.index,
            reason,
        };
        let e = Entry::parse(&ev.entry).map_err(|err| fail(format!("not an entry: {err}")))?;
        if e.sid != session.id {
            return Err(fail(format!("of session {:?}", e.sid)));
        }
        if e.seq != ev.index {
            return Err(fail(format!("its seq is {}", e.seq)));
        }
        if !inclusion_holds(ev, sth.tree_size, &root) {
            return Err(fail(
                "its path does not lead to the tree head's root".into(),
            ));
        }
        parsed.push(e);
    }
    let scope = ProofScope::new(&parsed, &person.id);
    if let Some(e) = parsed.iter().find(|e| !scope.contains(e)) {
        return Err(ProofError::Entry {
            index: e.seq,
            reason: format!("about {:?}, not {:?}", e.actor, person.id),
        });
    }
    let derived = attendance::derive(&session.schedule(), &parsed, &person.id, sth.ts);
    Ok(AttendanceProof {
        typ: PROOF_TYP.to_owned(),
        v: PROOF_VERSION,
        issued_at,
        organisation: organisation.to_owned(),
        session: session.clone(),
        person: person.clone(),
        half_days: derived.half_days,
        totals: derived.totals,
        control: control_events(&parsed, &person.id),
        consents: attendance::consent_history(&parsed, &person.id),
        recordings: attendance::recordings(&parsed, &person.id),
        conditions: attendance::conditions(&parsed, &person.id),
        evidence: Evidence {
            tree_head: tree_head.to_owned(),
            entries,
        },
    })
}

pub(super) fn inclusion_holds(ev: &EvidenceEntry, tree_size: u64, root: &Hash) -> bool {
    let Some(path) = ev
        .path
        .iter()
        .map(|h| merkle::from_hex(h))
        .collect::<Option<Vec<Hash>>>()
    else {
        return false;
    };
    merkle::verify_inclusion(ev.index, tree_size, &entry_hash(&ev.entry), &path, root)
}

/// The JWS signing input (`base64url(header).base64url(payload)`) for an
/// Ed25519 signature by key `kid`. Sign its bytes, then [`jws_compact`].
pub fn jws_signing_input(kid: &str, payload: &[u8]) -> String {
    let header = serde_json::json!({"alg": "EdDSA", "kid": kid});
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload)
    )
}

/// The compact JWS from its signing input and the signature over it.
pub fn jws_compact(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}
