//! Attendance proofs, attendance sheets, and their offline verification.
//! See `docs/evidence.md` ("Proofs", "Verification").
//!
//! - [`AttendanceProof`]: one person's proof, the payload the server signs
//!   as a compact JWS. [`build_payload`] assembles it from the session, the
//!   person, their entries with inclusion paths, and a signed tree head.
//! - [`AttendanceSheet`]: the whole session, one row per person and
//!   half-day, with its CSV rendering ([`AttendanceSheet::to_csv`]).
//! - [`verify_proof`] and [`verify_export`]: what an auditor runs, with the
//!   published keys only; each returns a [`Report`] naming every check.
//!
//! Nothing here does I/O: the server signs and serves, the `cadre verify`
//! command reads files.

use crate::attendance::{
    self, Conditions, ConsentDecision, HalfDay, PersonAttendance, ProofScope, RecordedSegment,
    Schedule, Totals,
};
use crate::evidence::{
    Entry, Jwks, JwsError, TREE_HEAD_TYP, TreeHead, entry_hash, kind, unverified_payload,
    verify_jws,
};
use crate::merkle::{self, Hash};
use crate::{Role, SessionKind};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// `typ` of a participant's proof.
pub const PROOF_TYP: &str = "cadre.attendance-proof";
/// `typ` of a whole-session attendance sheet.
pub const SHEET_TYP: &str = "cadre.attendance-sheet";
/// Version of the proof format this build issues. Version 2 added the
/// typed `consents` history and `recordings`; version 3 the connection
/// `conditions`, the person's own removal and re-admission, and, on
/// control events, who acted (`by`), the `action` and a postponement's new
/// window. Version 1 and 2 proofs still verify (see [`verify_proof`]).
pub const PROOF_VERSION: u32 = 3;
/// The proof versions [`verify_proof`] reads.
pub const PROOF_VERSIONS_READ: [u32; 3] = [1, 2, 3];
/// Version of the sheet format.
pub const SHEET_VERSION: u32 = 1;
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

fn tree_head_of(jws: &str) -> Option<TreeHead> {
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

fn inclusion_holds(ev: &EvidenceEntry, tree_size: u64, root: &Hash) -> bool {
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

// ---------------------------------------------------------------------------
// Attendance sheet

/// One row of the attendance sheet: a person in one half-day, or their
/// totals (`half_day` is `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetRow {
    /// Participant id.
    pub person: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The slot, or `None` for the person's totals.
    pub half_day: Option<String>,
    /// Planned time, seconds.
    pub planned_seconds: i64,
    /// First connection shown for the half-day (or the session), UTC ms.
    pub first_join: Option<i64>,
    /// Last disconnection shown for the half-day (or the session), UTC ms.
    pub last_leave: Option<i64>,
    /// Connected time inside the plan, seconds.
    pub connected_seconds: i64,
    /// Present time inside the plan, seconds.
    pub present_seconds: i64,
    /// Sign-in time (half-day rows), UTC ms.
    pub signed_in_at: Option<i64>,
    /// Countersignature time (half-day rows), UTC ms.
    pub countersigned_at: Option<i64>,
    /// Half-days signed (0 or 1 on a half-day row).
    pub signed_half_days: usize,
    /// Half-days countersigned.
    pub countersigned_half_days: usize,
    /// Number of half-days the row covers.
    pub half_days: usize,
    /// present ÷ planned, 0–1, 4 decimals.
    pub completion: f64,
}

/// The attendance of everyone in a session (émargement of the session).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttendanceSheet {
    /// [`SHEET_TYP`].
    pub typ: String,
    /// [`SHEET_VERSION`].
    pub v: u32,
    /// When it was issued, UTC ms.
    pub issued_at: i64,
    /// The training organisation.
    pub organisation: String,
    /// The session.
    pub session: SessionMeta,
    /// Per person, each of their half-days then their totals.
    pub rows: Vec<SheetRow>,
}

/// The sheet of a session from its whole log. `now_ms` is what a connection
/// still open counts until.
pub fn build_sheet(
    issued_at: i64,
    organisation: &str,
    session: &SessionMeta,
    people: &[Person],
    entries: &[Entry],
    now_ms: i64,
) -> AttendanceSheet {
    let schedule = session.schedule();
    let mut rows = Vec::new();
    for person in people {
        let a = attendance::derive(&schedule, entries, &person.id, now_ms);
        rows.extend(person_rows(person, &a));
    }
    AttendanceSheet {
        typ: SHEET_TYP.to_owned(),
        v: SHEET_VERSION,
        issued_at,
        organisation: organisation.to_owned(),
        session: session.clone(),
        rows,
    }
}

fn planned_seconds(h: &HalfDay) -> i64 {
    h.planned_end.saturating_sub(h.planned_start).max(0) / 1000
}

fn person_rows(person: &Person, a: &PersonAttendance) -> Vec<SheetRow> {
    let row = |half_day: Option<String>| SheetRow {
        person: person.id.clone(),
        name: person.name.clone(),
        role: person.role,
        half_day,
        planned_seconds: 0,
        first_join: None,
        last_leave: None,
        connected_seconds: 0,
        present_seconds: 0,
        signed_in_at: None,
        countersigned_at: None,
        signed_half_days: 0,
        countersigned_half_days: 0,
        half_days: 1,
        completion: 0.0,
    };
    let mut rows: Vec<SheetRow> = a
        .half_days
        .iter()
        .map(|h| SheetRow {
            planned_seconds: planned_seconds(h),
            first_join: h.intervals.first().map(|i| i.start),
            last_leave: h.intervals.last().map(|i| i.end),
            connected_seconds: h.connected_seconds,
            present_seconds: h.present_seconds,
            signed_in_at: h.signed_in_at,
            countersigned_at: h.countersigned_at,
            signed_half_days: usize::from(h.signed_in_at.is_some()),
            countersigned_half_days: usize::from(h.countersigned_at.is_some()),
            completion: h.completion,
            ..row(Some(h.slot.clone()))
        })
        .collect();
    let total = SheetRow {
        planned_seconds: a.totals.planned_seconds,
        first_join: a.first_join,
        last_leave: a.last_leave,
        connected_seconds: a.totals.connected_seconds,
        present_seconds: a.totals.present_seconds,
        signed_half_days: rows.iter().map(|r| r.signed_half_days).sum(),
        countersigned_half_days: rows.iter().map(|r| r.countersigned_half_days).sum(),
        half_days: rows.len(),
        completion: a.totals.completion,
        ..row(None)
    };
    rows.push(total);
    rows
}

/// The CSV header, in the order of the columns.
pub const CSV_HEADER: [&str; 10] = [
    "name",
    "role",
    "half-day",
    "first join",
    "last leave",
    "connected time",
    "present time",
    "sign-in",
    "countersignature",
    "completion",
];

impl AttendanceSheet {
    /// The sheet as CSV (RFC 4180: comma, CRLF, quotes doubled), UTF-8 with a
    /// byte order mark so that spreadsheet software reads accents right.
    /// Times are local to the session with their offset; durations
    /// `H:MM:SS`; completion a percentage. A cell that a spreadsheet would
    /// take for a formula (`=`, `+`, `-`, `@`) is prefixed with `'`.
    pub fn to_csv(&self) -> String {
        let tz = &self.session.time_zone;
        let time = |t: Option<i64>| t.map(|t| attendance::local_time(t, tz)).unwrap_or_default();
        let mut out = String::from('\u{feff}');
        push_record(&mut out, CSV_HEADER.iter().map(|s| s.to_string()));
        for r in &self.rows {
            let (sign_in, counter) = match &r.half_day {
                Some(_) => (time(r.signed_in_at), time(r.countersigned_at)),
                None => (
                    format!("{}/{}", r.signed_half_days, r.half_days),
                    format!("{}/{}", r.countersigned_half_days, r.half_days),
                ),
            };
            push_record(
                &mut out,
                [
                    r.name.clone(),
                    r.role.as_str().to_owned(),
                    r.half_day.clone().unwrap_or_else(|| "total".to_owned()),
                    time(r.first_join),
                    time(r.last_leave),
                    duration(r.connected_seconds),
                    duration(r.present_seconds),
                    sign_in,
                    counter,
                    format!("{:.2} %", r.completion * 100.0),
                ]
                .into_iter(),
            );
        }
        out
    }
}

/// `H:MM:SS`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Appends one CSV record (RFC 4180 quoting, CRLF); a field a spreadsheet
/// would take for a formula is prefixed with `'`.
pub fn push_record(out: &mut String, fields: impl Iterator<Item = String>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let field = if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{field}")
        } else {
            field
        };
        if field.contains([',', '"', '\r', '\n']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&field);
        }
    }
    out.push_str("\r\n");
}

// ---------------------------------------------------------------------------
// Verification

/// Names of the checks, as they appear in a [`Report`].
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
pub struct Report {
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
    /// True when there is at least one check and every check holds.
    pub ok: bool,
}

impl Report {
    fn new() -> Report {
        Report {
            checks: Vec::new(),
            ok: false,
        }
    }

    fn push(&mut self, name: &str, ok: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.to_owned(),
            ok,
            detail: detail.into(),
        });
    }

    /// Records a check that passes when `failures` is empty.
    fn outcome(&mut self, name: &str, failures: &[String], success: impl Into<String>) {
        if failures.is_empty() {
            self.push(name, true, success);
        } else {
            self.push(name, false, summarise(failures));
        }
    }

    fn finish(mut self) -> Report {
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
fn count(n: usize, one: &str, many: &str) -> String {
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
fn read_tree_head(jws: &str, jwks: &Jwks, what: &str) -> (Option<TreeHead>, Vec<String>, String) {
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
pub fn verify_proof(jws: &str, jwks: &Jwks) -> Report {
    let mut r = Report::new();
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

/// Connection conditions as text: `42 minutes measured (35 excellent,
/// 5 good, 2 poor, 0 lost); poorest: 2026-12-03T09:14:00+01:00 poor
/// (rtt_high), …`.
pub fn show_conditions(c: &Conditions, tz: &str) -> String {
    if c.minutes == 0 {
        return "no minute measured".to_owned();
    }
    let b = &c.by_score;
    let mut s = format!(
        "{} measured ({} excellent, {} good, {} poor, {} lost)",
        count(c.minutes as usize, "minute", "minutes"),
        b.excellent,
        b.good,
        b.poor,
        b.lost
    );
    if !c.worst_minutes.is_empty() {
        let worst: Vec<String> = c
            .worst_minutes
            .iter()
            .map(|m| {
                let mut one = format!("{} {}", attendance::local_time(m.minute, tz), m.score);
                if !m.reasons.is_empty() {
                    let _ = write!(one, " ({})", m.reasons.join(", "));
                }
                one
            })
            .collect();
        let _ = write!(s, "; poorest: {}", worst.join(", "));
    }
    s
}

/// What a consent decision says, as text: `2026-12-03T09:01:00+01:00
/// recording granted (wording 3f5a9c0e…)`.
fn show_decision(d: &ConsentDecision, tz: &str) -> String {
    format!(
        "{} {} {} (wording {})",
        attendance::local_time(d.ts, tz),
        d.consent,
        if d.granted { "granted" } else { "not granted" },
        d.text_sha256
    )
}

fn compare_consents(
    claimed: &[ConsentDecision],
    derived: &[ConsentDecision],
    tz: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    if claimed.len() != derived.len() {
        out.push(format!(
            "the proof lists {} but the entries hold {}",
            count(claimed.len(), "consent decision", "consent decisions"),
            derived.len()
        ));
    }
    for (i, (c, d)) in claimed.iter().zip(derived).enumerate() {
        if c != d {
            out.push(format!(
                "consent decision {}: the proof states {} but the entry says {}",
                i + 1,
                show_decision(c, tz),
                show_decision(d, tz)
            ));
        }
    }
    out
}

/// A recorded segment as text, for a failure message.
fn show_segment(s: &RecordedSegment, tz: &str) -> String {
    let files: Vec<String> = s
        .files
        .iter()
        .map(|f| format!("{} {} bytes sha256 {}", f.track, f.bytes, f.sha256))
        .collect();
    format!(
        "segment {} from {} to {}, closed {}, files [{}], purged {}",
        s.segment,
        attendance::local_time(s.started_at, tz),
        s.closed_at
            .map(|t| attendance::local_time(t, tz))
            .unwrap_or_else(|| "(still open)".to_owned()),
        s.reason.as_deref().unwrap_or("(no reason)"),
        files.join(", "),
        s.purged_at
            .map(|t| attendance::local_time(t, tz))
            .unwrap_or_else(|| "(not yet)".to_owned()),
    )
}

fn compare_recordings(
    claimed: &[RecordedSegment],
    derived: &[RecordedSegment],
    tz: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    if claimed.len() != derived.len() {
        out.push(format!(
            "the proof lists {} but the entries show {}",
            count(claimed.len(), "recorded segment", "recorded segments"),
            derived.len()
        ));
    }
    for (c, d) in claimed.iter().zip(derived) {
        if c != d {
            out.push(format!(
                "recording: the proof states {} but the entries say {}",
                show_segment(c, tz),
                show_segment(d, tz)
            ));
        }
    }
    out
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

/// Completion compared at its 4 decimals, so a JSON round trip of the float
/// can never make equal figures differ.
fn same_ratio(a: f64, b: f64) -> bool {
    (a * 10_000.0).round() == (b * 10_000.0).round()
}

fn compare(
    proof: &AttendanceProof,
    derived: &PersonAttendance,
    control: &[ControlEvent],
) -> Vec<String> {
    let mut out = Vec::new();
    let claimed = &proof.half_days;
    if claimed.len() != derived.half_days.len() {
        out.push(format!(
            "the proof lists {} half-days, the schedule has {}",
            claimed.len(),
            derived.half_days.len()
        ));
    }
    for (c, d) in claimed.iter().zip(&derived.half_days) {
        let slot = &d.slot;
        let mut differ = |what: &str, claimed: String, recomputed: String| {
            out.push(format!(
                "{slot}: {what} is {claimed} in the proof but {recomputed} recomputed from the entries"
            ));
        };
        if c.slot != d.slot {
            differ("the slot", c.slot.clone(), d.slot.clone());
        }
        if (c.planned_start, c.planned_end) != (d.planned_start, d.planned_end) {
            differ(
                "the planned time",
                format!("{}–{}", c.planned_start, c.planned_end),
                format!("{}–{}", d.planned_start, d.planned_end),
            );
        }
        if c.connected_seconds != d.connected_seconds {
            differ(
                "connected_seconds",
                c.connected_seconds.to_string(),
                d.connected_seconds.to_string(),
            );
        }
        if c.present_seconds != d.present_seconds {
            differ(
                "present_seconds",
                c.present_seconds.to_string(),
                d.present_seconds.to_string(),
            );
        }
        if !same_ratio(c.completion, d.completion) {
            differ(
                "completion",
                c.completion.to_string(),
                d.completion.to_string(),
            );
        }
        if c.signed_in_at != d.signed_in_at {
            differ(
                "signed_in_at",
                format!("{:?}", c.signed_in_at),
                format!("{:?}", d.signed_in_at),
            );
        }
        if c.countersigned_at != d.countersigned_at {
            differ(
                "countersigned_at",
                format!("{:?}", c.countersigned_at),
                format!("{:?}", d.countersigned_at),
            );
        }
        if c.intervals != d.intervals {
            let show = |v: &[attendance::Interval]| {
                v.iter()
                    .map(|i| format!("{}–{}", i.start_local, i.end_local))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            differ(
                "the interval list",
                format!("[{}]", show(&c.intervals)),
                format!("[{}]", show(&d.intervals)),
            );
        }
    }
    let (c, d) = (&proof.totals, &derived.totals);
    let mut total = |what: &str, claimed: String, recomputed: String| {
        out.push(format!(
            "totals: {what} is {claimed} in the proof but {recomputed} recomputed from the entries"
        ));
    };
    if c.planned_seconds != d.planned_seconds {
        total(
            "planned_seconds",
            c.planned_seconds.to_string(),
            d.planned_seconds.to_string(),
        );
    }
    if c.connected_seconds != d.connected_seconds {
        total(
            "connected_seconds",
            c.connected_seconds.to_string(),
            d.connected_seconds.to_string(),
        );
    }
    if c.present_seconds != d.present_seconds {
        total(
            "present_seconds",
            c.present_seconds.to_string(),
            d.present_seconds.to_string(),
        );
    }
    if !same_ratio(c.completion, d.completion) {
        total(
            "completion",
            c.completion.to_string(),
            d.completion.to_string(),
        );
    }
    if proof.control != control {
        out.push(format!(
            "the control events ({} listed) differ from the {} control entries",
            proof.control.len(),
            control.len()
        ));
    }
    out
}

/// Version of the export's tree heads line that carries anchors.
pub const TREE_HEADS_LINE_VERSION: u32 = 2;

/// The line of an export that carries the signed tree heads and, from
/// version 2, the RFC 3161 anchors. A version 1 line (no `v`) has no
/// anchors; a verifier that predates them reads a version 2 line's heads
/// and ignores the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeHeadsLine {
    /// [`TREE_HEADS_LINE_VERSION`]; absent in version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u32>,
    /// Signed tree heads (compact JWS), oldest first.
    pub tree_heads: Vec<String>,
    /// Time-stamps of tree heads by the operator's TSA, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<ExportedAnchor>,
}

/// One anchor in an export: a tree head and the RFC 3161 token over the
/// SHA-256 of its JWS ([`crate::anchor::imprint`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedAnchor {
    /// The anchored tree head (compact JWS).
    pub tree_head: String,
    /// The time-stamp token (DER `ContentInfo`), standard base64.
    pub token: String,
}

/// Merkle roots of a log at chosen sizes, in one pass over its leaves
/// (compact range of perfect subtrees; RFC 6962 tree hash at each size).
fn roots_at(leaves: &[Hash], sizes: &BTreeSet<u64>) -> std::collections::BTreeMap<u64, Hash> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack: Vec<(u32, Hash)> = Vec::new();
    if sizes.contains(&0) {
        out.insert(0, merkle::empty_root());
    }
    for (i, leaf) in leaves.iter().enumerate() {
        stack.push((0, *leaf));
        while stack.len() >= 2 && stack[stack.len() - 1].0 == stack[stack.len() - 2].0 {
            let (height, right) = stack.pop().unwrap_or_default();
            let (_, left) = stack.pop().unwrap_or_default();
            stack.push((height + 1, merkle::node_hash(&left, &right)));
        }
        let size = i as u64 + 1;
        if sizes.contains(&size) {
            let mut iter = stack.iter().rev();
            let mut root = iter.next().map(|s| s.1).unwrap_or_default();
            for (_, left) in iter {
                root = merkle::node_hash(left, &root);
            }
            out.insert(size, root);
        }
    }
    out
}

/// Verifies a ledger export (one entry text per line, then a
/// `{"tree_heads":[…]}` line) with the published keys, and each receipt (a
/// signed tree head a participant kept) against it: docs/evidence.md
/// "Verification" 5.
pub fn verify_export(text: &str, jwks: &Jwks, receipts: &[String]) -> Report {
    verify_export_anchored(text, jwks, receipts, None)
}

/// [`verify_export`], also checking each RFC 3161 anchor the export
/// carries; `tsa` is the auditor's trusted TSA certificates, without which
/// tokens are checked in themselves but not against a TSA (each anchor's
/// check says so).
pub fn verify_export_anchored(
    text: &str,
    jwks: &Jwks,
    receipts: &[String],
    tsa: Option<&[x509_cert::Certificate]>,
) -> Report {
    let mut r = Report::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut texts: Vec<&str> = Vec::new();
    let mut entries: Vec<Option<Entry>> = Vec::new();
    let mut heads: Vec<String> = Vec::new();
    let mut failures = Vec::new();
    let mut heads_lines = 0;
    let mut anchors: Vec<ExportedAnchor> = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let value: Result<serde_json::Value, _> = serde_json::from_str(line);
        match value {
            Ok(serde_json::Value::Object(o)) if o.contains_key("tree_heads") => {
                heads_lines += 1;
                match serde_json::from_str::<TreeHeadsLine>(line) {
                    Ok(h) => {
                        heads.extend(h.tree_heads);
                        anchors.extend(h.anchors);
                    }
                    Err(e) => failures.push(format!(
                        "line {}: the tree heads line is malformed: {e}",
                        n + 1
                    )),
                }
            }
            _ => match Entry::parse(line) {
                Ok(e) => {
                    texts.push(line);
                    entries.push(Some(e));
                }
                Err(e) => {
                    failures.push(format!("line {}: not a ledger entry: {e}", n + 1));
                    texts.push(line);
                    entries.push(None);
                }
            },
        }
    }
    if heads_lines == 0 {
        failures.push(
            "no {\"tree_heads\":[…]} line: the export is truncated or not a cadre ledger export"
                .to_owned(),
        );
    }
    let sid = entries
        .iter()
        .flatten()
        .next()
        .map(|e| e.sid.clone())
        .or_else(|| heads.iter().find_map(|h| tree_head_of(h)).map(|h| h.sid))
        .unwrap_or_default();
    r.outcome(
        check::EXPORT_FORMAT,
        &failures,
        format!(
            "{} of session {sid} and {}",
            count(entries.len(), "entry", "entries"),
            count(heads.len(), "signed tree head", "signed tree heads")
        ),
    );

    // Contiguous from 0, one session, time never going back.
    let mut failures = Vec::new();
    let mut last_ts = i64::MIN;
    for (i, e) in entries.iter().enumerate() {
        let Some(e) = e else { continue };
        if e.seq != i as u64 {
            failures.push(format!(
                "entry at position {i} has seq {}: an entry is missing, added or out of order",
                e.seq
            ));
        }
        if e.sid != sid {
            failures.push(format!(
                "entry {}: of session {:?}, not {sid:?}",
                e.seq, e.sid
            ));
        }
        if e.ts < last_ts {
            failures.push(format!(
                "entry {}: its time is before the previous entry's",
                e.seq
            ));
        }
        last_ts = last_ts.max(e.ts);
    }
    r.outcome(
        check::SEQUENCE,
        &failures,
        if entries.is_empty() {
            "the log is empty".to_owned()
        } else {
            format!(
                "seq runs from 0 to {} without a gap, one session, time never goes back",
                entries.len() - 1
            )
        },
    );

    let leaves: Vec<Hash> = texts.iter().map(|t| entry_hash(t)).collect();
    let n = leaves.len() as u64;
    let heads: Vec<_> = heads
        .iter()
        .enumerate()
        .map(|(i, jws)| read_tree_head(jws, jwks, &format!("tree head {}", i + 1)))
        .collect();
    let receipts: Vec<_> = receipts
        .iter()
        .map(|jws| read_tree_head(jws, jwks, "receipt"))
        .collect();
    let anchored: Vec<_> = anchors
        .iter()
        .enumerate()
        .map(|(i, a)| read_tree_head(&a.tree_head, jwks, &format!("anchored tree head {}", i + 1)))
        .collect();
    let sizes: BTreeSet<u64> = heads
        .iter()
        .chain(&receipts)
        .chain(&anchored)
        .filter_map(|h| h.0.as_ref().map(|h| h.tree_size))
        .filter(|&s| s <= n)
        .collect();
    let roots = roots_at(&leaves, &sizes);

    // Every tree head: signature, session, size, root.
    let mut failures = Vec::new();
    let mut largest: Option<&TreeHead> = None;
    for (i, (head, problems, _)) in heads.iter().enumerate() {
        failures.extend(problems.iter().cloned());
        let Some(h) = head else { continue };
        let label = format!("tree head {} (size {})", i + 1, h.tree_size);
        if h.sid != sid {
            failures.push(format!("{label} is of session {:?}, not {sid:?}", h.sid));
        }
        if h.tree_size > n {
            failures.push(format!(
                "{label} covers {} entries but the export holds {n}: the log was truncated",
                h.tree_size
            ));
            continue;
        }
        if h.root_hash() != roots.get(&h.tree_size).copied() {
            failures.push(format!(
                "{label}: the root over the first {} entries differs from the signed root: entries were changed, removed, added or reordered",
                h.tree_size
            ));
            continue;
        }
        if problems.is_empty() && largest.is_none_or(|l| l.tree_size < h.tree_size) {
            largest = Some(h);
        }
    }
    if heads.is_empty() {
        failures.push(
            "the export has no signed tree head: nothing binds its entries to the server's key"
                .into(),
        );
    } else if failures.is_empty() && largest.is_none_or(|l| l.tree_size < n) {
        failures.push(format!(
            "the last {} entries are covered by no signed tree head",
            n - largest.map_or(0, |l| l.tree_size)
        ));
    }
    r.outcome(
        check::TREE_HEADS,
        &failures,
        format!(
            "{} {}, each root equal to the root over the log's first entries; the latest covers all {n} entries",
            count(heads.len(), "signed tree head", "signed tree heads"),
            if heads.len() == 1 { "verifies" } else { "verify" }
        ),
    );

    // Receipts: the log still holds exactly what each receipt covered.
    let latest_root = largest.and_then(|l| l.root_hash());
    for (i, (head, problems, _)) in receipts.iter().enumerate() {
        let name = format!("{} {}", check::RECEIPT, i + 1);
        let mut failures = problems.clone();
        let mut success = String::new();
        if let Some(h) = head {
            if h.sid != sid {
                failures.push(format!(
                    "the receipt is of session {:?}, not {sid:?}",
                    h.sid
                ));
            } else if h.tree_size > n {
                failures.push(format!(
                    "the receipt covers {} entries but the export holds {n}: the log was truncated",
                    h.tree_size
                ));
            } else if h.root_hash() != roots.get(&h.tree_size).copied() {
                failures.push(format!(
                    "the log's first {} entries no longer hash to the receipt's root: the history it covers was rewritten",
                    h.tree_size
                ));
            } else if largest.is_none_or(|l| l.tree_size < h.tree_size) {
                success = format!(
                    "the log's first {} entries hash to the receipt's root, signed at {}",
                    h.tree_size,
                    attendance::local_time(h.ts, "UTC")
                );
            } else if let (Some(old), Some(new), Some(latest)) =
                (h.root_hash(), latest_root, largest)
            {
                let proof = merkle::consistency_proof(
                    &leaves[..latest.tree_size as usize],
                    h.tree_size as usize,
                )
                .unwrap_or_default();
                if h.tree_size == 0
                    || merkle::verify_consistency(h.tree_size, latest.tree_size, &old, &new, &proof)
                {
                    success = format!(
                        "the log of {} entries extends the receipt's {} entries signed at {} (RFC 6962 consistency proof verified)",
                        latest.tree_size,
                        h.tree_size,
                        attendance::local_time(h.ts, "UTC")
                    );
                } else {
                    failures.push("the latest tree head is not consistent with the receipt".into());
                }
            } else {
                failures
                    .push("no verified tree head of the log to check the receipt against".into());
            }
        }
        r.outcome(&name, &failures, success);
    }
    check_anchors(&mut r, &anchors, &anchored, tsa, &sid, n, &roots);
    r.finish()
}

/// The export's anchors, one check each (docs/evidence.md, "Anchoring"):
/// the token verifies and, given `tsa`, chains to a trusted TSA; it stamps
/// the anchored head's digest, not before the head's time, after the
/// previous anchor; and the log still holds, unchanged, what was anchored.
fn check_anchors(
    r: &mut Report,
    anchors: &[ExportedAnchor],
    heads: &[(Option<TreeHead>, Vec<String>, String)],
    tsa: Option<&[x509_cert::Certificate]>,
    sid: &str,
    n: u64,
    roots: &std::collections::BTreeMap<u64, Hash>,
) {
    use crate::anchor;
    use base64::engine::general_purpose::STANDARD;
    if anchors.is_empty() {
        if tsa.is_some() {
            r.push(
                check::ANCHORS,
                false,
                "a trusted TSA certificate was given but the export carries no anchor: \
                 nothing shows the log as it was when it was time-stamped"
                    .to_owned(),
            );
        }
        return;
    }
    let utc = |ms: i64| attendance::local_time(ms, "UTC");
    let mut previous: Option<(i64, u64)> = None;
    for (i, (a, (head, problems, _))) in anchors.iter().zip(heads).enumerate() {
        let name = format!("{} {}", check::ANCHOR, i + 1);
        let mut failures = problems.clone();
        let stamp = STANDARD
            .decode(a.token.trim())
            .map_err(|e| format!("the token is not base64: {e}"))
            .and_then(|der| anchor::read_token(&der).map_err(|e| e.to_string()));
        let stamp = match stamp {
            Ok(s) => s,
            Err(e) => {
                failures.push(e);
                r.outcome(&name, &failures, String::new());
                continue;
            }
        };
        let at = utc(stamp.gen_time);
        let trust = match tsa {
            Some(trusted) => match stamp.chain_to(trusted) {
                Ok(root) => format!(
                    "signed by {:?}, which chains to the trusted {root:?}",
                    stamp.signer_name
                ),
                Err(e) => {
                    failures.push(e.to_string());
                    String::new()
                }
            },
            None => format!(
                "signed by {:?}, NOT checked against a trusted TSA (pass --tsa-cert with the \
                 TSA's certificate to check who stamped it)",
                stamp.signer_name
            ),
        };
        if let Err(e) = stamp.check_imprint(&anchor::imprint(&a.tree_head)) {
            failures.push(e.to_string());
        }
        let Some(h) = head else {
            r.outcome(&name, &failures, String::new());
            continue;
        };
        if h.sid != sid {
            failures.push(format!(
                "the anchored head is of session {:?}, not {sid:?}",
                h.sid
            ));
        }
        // genTime is whole seconds (the TSA rounds down) give or take its
        // stated accuracy: only a head signed after the latest instant the
        // stamp can stand for is stamped before it existed.
        if stamp.gen_time + 999 + stamp.accuracy_ms < h.ts {
            failures.push(format!(
                "stamped at {at}, before the anchored head's own time {}: the head was not \
                 what the TSA saw",
                utc(h.ts)
            ));
        }
        if let Some((t, size)) = previous
            && (stamp.gen_time < t || h.tree_size < size)
        {
            failures.push(format!(
                "stamped at {at} over {} entries, out of order after the previous anchor \
                 ({} over {size} entries)",
                h.tree_size,
                utc(t)
            ));
        }
        previous = Some((stamp.gen_time, h.tree_size));
        if h.tree_size > n {
            failures.push(format!(
                "the TSA saw {} entries at {at}; the log now holds {n}: it was truncated after \
                 it was anchored",
                h.tree_size
            ));
        } else if h.root_hash() != roots.get(&h.tree_size).copied() {
            failures.push(format!(
                "the log's first {} entries no longer hash to the root anchored at {at}: the \
                 log was rewritten after it was anchored",
                h.tree_size
            ));
        }
        r.outcome(
            &name,
            &failures,
            format!(
                "the log's first {} entries hash to the root time-stamped at {at} (token {}), {trust}",
                h.tree_size, stamp.serial
            ),
        );
    }
}

/// `typ` of a consistency document.
pub const CONSISTENCY_TYP: &str = "cadre.consistency";
/// Version of the consistency document format.
pub const CONSISTENCY_VERSION: u32 = 1;

/// The RFC 6962 consistency proof between a session log's first `from` and
/// first `to` entries, as `GET /api/sessions/{sid}/ledger/consistency`
/// gives it. It is not signed and needs no signature: it only links two
/// roots that are signed (a receipt's and a proof's tree head), and a path
/// that links them cannot be forged without a hash collision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consistency {
    /// [`CONSISTENCY_TYP`].
    pub typ: String,
    /// [`CONSISTENCY_VERSION`].
    pub v: u32,
    /// Session id.
    pub sid: String,
    /// Size of the older tree.
    pub from: u64,
    /// Size of the newer tree.
    pub to: u64,
    /// The proof's hashes, hex, in RFC 6962 order (empty when `from` is 0
    /// or equals `to`).
    pub path: Vec<String>,
}

impl Consistency {
    /// The document for `path`, the proof from `from` to `to` entries.
    pub fn new(sid: &str, from: u64, to: u64, path: &[Hash]) -> Consistency {
        Consistency {
            typ: CONSISTENCY_TYP.to_owned(),
            v: CONSISTENCY_VERSION,
            sid: sid.to_owned(),
            from,
            to,
            path: path.iter().map(merkle::to_hex).collect(),
        }
    }
}

/// `typ` of a verification bundle.
pub const BUNDLE_TYP: &str = "cadre.verification-bundle";

/// What a participant's browser downloads as « Dossier de vérification »:
/// their proof, the receipts it kept, and the consistency proofs linking
/// each receipt to the proof's tree head, in one file that `cadre verify`
/// reads. Nothing in it is trusted for being there: each part is checked
/// as if given separately (other fields, such as the session's title, are
/// for people and ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationBundle {
    /// [`BUNDLE_TYP`].
    pub typ: String,
    /// Format version (1).
    pub v: u32,
    /// The attendance proof, compact JWS.
    pub proof: String,
    /// Receipts: signed tree heads, compact JWS.
    #[serde(default)]
    pub receipts: Vec<String>,
    /// Consistency proofs between receipts and the proof's tree head.
    #[serde(default)]
    pub consistency: Vec<Consistency>,
}

/// [`verify_proof`], then each receipt (a signed tree head a participant
/// kept) against the proof's tree head: the receipt verifies, is of the
/// proof's session, and one log extends the other, shown by one of
/// `consistency` (RFC 6962 §2.1.2). A participant can so show that the log
/// their proof was drawn from still holds, unchanged, what they were handed
/// a receipt for, without anyone else's entries.
pub fn verify_proof_with_receipts(
    jws: &str,
    jwks: &Jwks,
    receipts: &[String],
    consistency: &[Consistency],
) -> Report {
    let mut r = verify_proof(jws, jwks);
    let head = unverified_payload(jws)
        .and_then(|p| serde_json::from_slice::<AttendanceProof>(&p).ok())
        .map(|p| read_tree_head(&p.evidence.tree_head, jwks, "proof's tree head"));
    for (i, receipt) in receipts.iter().enumerate() {
        let name = format!("{} {}", check::RECEIPT, i + 1);
        let (receipt_head, mut failures, _) = read_tree_head(receipt, jwks, "receipt");
        let mut success = String::new();
        match (&receipt_head, &head) {
            (_, None) => failures
                .push("the proof carries no tree head to check the receipt against".to_owned()),
            (None, _) => {}
            (Some(receipt), Some((Some(head), problems, _))) if problems.is_empty() => {
                match receipt_against_head(receipt, head, consistency) {
                    Ok(s) => success = s,
                    Err(e) => failures.push(e),
                }
            }
            (Some(_), Some(_)) => failures.push(
                "the proof's tree head does not verify: no receipt can be checked against it"
                    .to_owned(),
            ),
        }
        r.outcome(&name, &failures, success);
    }
    r.finish()
}

/// Whether `receipt` and a proof's `head` are two states of one log.
fn receipt_against_head(
    receipt: &TreeHead,
    head: &TreeHead,
    consistency: &[Consistency],
) -> Result<String, String> {
    if receipt.sid != head.sid {
        return Err(format!(
            "the receipt is of session {:?}, the proof of {:?}",
            receipt.sid, head.sid
        ));
    }
    let receipt_first = receipt.tree_size <= head.tree_size;
    let (old, new) = if receipt_first {
        (receipt, head)
    } else {
        (head, receipt)
    };
    let (Some(old_root), Some(new_root)) = (old.root_hash(), new.root_hash()) else {
        return Err("a root is not 64 hex digits".to_owned());
    };
    let signed = attendance::local_time(receipt.ts, "UTC");
    if old.tree_size == new.tree_size {
        return if old_root == new_root {
            Ok(format!(
                "the receipt, signed at {signed}, and the proof's tree head sign the same {} entries",
                old.tree_size
            ))
        } else {
            Err(format!(
                "the receipt and the proof's tree head both cover {} entries but sign different roots: the log was rewritten",
                old.tree_size
            ))
        };
    }
    if old.tree_size == 0 {
        return Ok(format!(
            "the receipt, signed at {signed}, covers an empty log: every log extends it"
        ));
    }
    let Some(doc) = consistency
        .iter()
        .find(|d| d.sid == head.sid && d.from == old.tree_size && d.to == new.tree_size)
    else {
        return Err(format!(
            "no consistency proof from {} to {} entries was given (--consistency); the server \
             gives it at /api/sessions/{}/ledger/consistency?from={}&to={}",
            old.tree_size, new.tree_size, head.sid, old.tree_size, new.tree_size
        ));
    };
    if doc.typ != CONSISTENCY_TYP || doc.v != CONSISTENCY_VERSION {
        return Err(format!(
            "the consistency proof has typ {:?} version {}, expected {CONSISTENCY_TYP:?} version {CONSISTENCY_VERSION}",
            doc.typ, doc.v
        ));
    }
    let path: Option<Vec<Hash>> = doc.path.iter().map(|h| merkle::from_hex(h)).collect();
    let Some(path) = path else {
        return Err("the consistency proof holds a hash that is not 64 hex digits".to_owned());
    };
    if !merkle::verify_consistency(old.tree_size, new.tree_size, &old_root, &new_root, &path) {
        return Err(format!(
            "the consistency proof does not link the root of {} entries to the root of {}: \
             the history between them was rewritten, or the proof is of another log",
            old.tree_size, new.tree_size
        ));
    }
    Ok(if receipt_first {
        format!(
            "the log of {} entries the proof was drawn from extends the receipt's {} entries signed at {signed} (RFC 6962 consistency proof verified)",
            new.tree_size, old.tree_size
        )
    } else {
        format!(
            "the receipt's log of {} entries, signed at {signed}, extends the {} entries the proof was drawn from (RFC 6962 consistency proof verified)",
            new.tree_size, old.tree_size
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{ENTRY_VERSION, Jwk};
    use ring::signature::{Ed25519KeyPair, KeyPair};
    use serde_json::json;
    use serde_json::value::RawValue;

    #[test]
    fn a_receipt_and_a_proof_head_are_linked_in_either_order() {
        let leaves: Vec<Hash> = (0u8..11).map(|i| merkle::leaf_hash(&[i])).collect();
        let head = |size: usize| TreeHead {
            typ: TREE_HEAD_TYP.into(),
            v: 1,
            sid: "s_a".into(),
            tree_size: size as u64,
            root: merkle::to_hex(&merkle::root(&leaves[..size])),
            ts: 1_000,
        };
        let proof_7_to_11 = merkle::consistency_proof(&leaves, 7).unwrap();
        let docs = [Consistency::new("s_a", 7, 11, &proof_7_to_11)];
        // The receipt before the proof's head, and after it.
        let earlier = receipt_against_head(&head(7), &head(11), &docs).unwrap();
        assert!(
            earlier
                .contains("the log of 11 entries the proof was drawn from extends the receipt's 7"),
            "{earlier}"
        );
        let later = receipt_against_head(&head(11), &head(7), &docs).unwrap();
        assert!(later.contains("the receipt's log of 11 entries"), "{later}");
        // A document for another session or other sizes is not used.
        let wrong = [
            Consistency::new("s_b", 7, 11, &proof_7_to_11),
            Consistency::new("s_a", 6, 11, &proof_7_to_11),
        ];
        let missing = receipt_against_head(&head(7), &head(11), &wrong).unwrap_err();
        assert!(
            missing.contains("no consistency proof from 7 to 11"),
            "{missing}"
        );
        // A path cut short does not link them.
        let short = [Consistency::new("s_a", 7, 11, &proof_7_to_11[1..])];
        assert!(receipt_against_head(&head(7), &head(11), &short).is_err());
        // Another version of the format is refused by name.
        let mut newer = docs[0].clone();
        newer.v = 2;
        let refused = receipt_against_head(&head(7), &head(11), &[newer]).unwrap_err();
        assert!(refused.contains("version 2"), "{refused}");
    }

    const T0: i64 = 1_796_284_800_000; // 2026-12-03T09:00:00+01:00
    const MIN: i64 = 60_000;

    struct Signer {
        pair: Ed25519KeyPair,
        kid: String,
    }

    impl Signer {
        fn new(kid: &str) -> Signer {
            let rng = ring::rand::SystemRandom::new();
            let doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
            Signer {
                pair: Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap(),
                kid: kid.into(),
            }
        }
        fn jwks(&self) -> Jwks {
            Jwks {
                keys: vec![Jwk {
                    kty: "OKP".into(),
                    crv: "Ed25519".into(),
                    kid: self.kid.clone(),
                    x: URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref()),
                }],
            }
        }
        fn sign(&self, payload: &[u8]) -> String {
            let input = jws_signing_input(&self.kid, payload);
            jws_compact(&input, self.pair.sign(input.as_bytes()).as_ref())
        }
        fn tree_head(&self, texts: &[String], size: usize, ts: i64) -> String {
            let leaves: Vec<Hash> = texts[..size].iter().map(|t| entry_hash(t)).collect();
            let head = TreeHead {
                typ: TREE_HEAD_TYP.into(),
                v: 1,
                sid: "s_1".into(),
                tree_size: size as u64,
                root: merkle::to_hex(&merkle::root(&leaves)),
                ts,
            };
            self.sign(&serde_json::to_vec(&head).unwrap())
        }
    }

    fn entry(seq: usize, ts: i64, kind: &str, actor: &str, payload: serde_json::Value) -> String {
        Entry {
            v: ENTRY_VERSION,
            sid: "s_1".into(),
            seq: seq as u64,
            ts,
            kind: kind.into(),
            actor: actor.into(),
            payload: RawValue::from_string(payload.to_string()).unwrap(),
            client_ts: None,
            salt: format!("{seq:032x}"),
        }
        .canonical()
    }

    fn log() -> Vec<String> {
        let c = |id: &str| json!({"connection_id": id, "ip": "192.0.2.1", "user_agent": "t"});
        let mut v = Vec::new();
        let mut add = |ts, kind, actor, payload| {
            let n = v.len();
            v.push(entry(n, ts, kind, actor, payload));
        };
        add(T0 - 60 * MIN, kind::SERVER_STARTED, "server", json!({}));
        add(T0 - 5 * MIN, kind::CONNECTION_OPENED, "p_a", c("c1"));
        add(T0, kind::CONNECTION_OPENED, "p_b", c("c2"));
        add(
            T0,
            kind::SESSION_STATE,
            "p_f",
            json!({"from": "open", "to": "running", "reason": "start"}),
        );
        add(
            T0 + 5 * MIN,
            kind::SIGNIN_OPENED,
            "server",
            json!({"slot": "2026-12-03.am", "closes_at": T0}),
        );
        add(
            T0 + 6 * MIN,
            kind::SIGNED_IN,
            "p_a",
            json!({"slot": "2026-12-03.am"}),
        );
        add(
            T0 + 7 * MIN,
            kind::COUNTERSIGNED,
            "p_f",
            json!({"slot": "2026-12-03.am", "participant": "p_a"}),
        );
        add(
            T0 + 30 * MIN,
            kind::VISIBILITY,
            "p_a",
            json!({"connection_id": "c1", "visible": false}),
        );
        add(
            T0 + 40 * MIN,
            kind::VISIBILITY,
            "p_a",
            json!({"connection_id": "c1", "visible": true}),
        );
        add(
            T0 + 60 * MIN,
            kind::SESSION_STATE,
            "p_f",
            json!({"from": "running", "to": "suspended", "reason": "network"}),
        );
        add(
            T0 + 70 * MIN,
            kind::SESSION_STATE,
            "p_f",
            json!({"from": "suspended", "to": "running", "reason": "back"}),
        );
        add(
            T0 + 150 * MIN,
            kind::CONNECTION_CLOSED,
            "p_a",
            json!({"connection_id": "c1", "reason": "left", "last_seen": T0 + 150 * MIN}),
        );
        add(
            T0 + 170 * MIN,
            kind::CONNECTION_CLOSED,
            "p_b",
            json!({"connection_id": "c2", "reason": "left", "last_seen": T0 + 170 * MIN}),
        );
        v
    }

    fn session() -> SessionMeta {
        SessionMeta::new(
            "s_1",
            "Gestion de projet, module 2",
            SessionKind::Formation,
            T0,
            T0 + 180 * MIN,
            "Europe/Paris",
        )
    }

    fn person() -> Person {
        Person {
            id: "p_a".into(),
            name: "Anaïs Martin".into(),
            role: Role::Participant,
        }
    }

    /// The entries of `person`'s proof, as the server selects them.
    fn proven(texts: &[String], person: &str) -> Vec<EvidenceEntry> {
        let all: Vec<Entry> = texts.iter().map(|t| Entry::parse(t).unwrap()).collect();
        let scope = ProofScope::new(&all, person);
        let chosen: Vec<usize> = (0..texts.len())
            .filter(|&i| scope.contains(&all[i]))
            .collect();
        with_paths(texts, &chosen)
    }

    fn with_paths(texts: &[String], indices: &[usize]) -> Vec<EvidenceEntry> {
        let leaves: Vec<Hash> = texts.iter().map(|t| entry_hash(t)).collect();
        indices
            .iter()
            .map(|&i| {
                EvidenceEntry::new(
                    i as u64,
                    texts[i].clone(),
                    &merkle::inclusion_proof(&leaves, i).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_built_proof_verifies_and_carries_the_right_figures() {
        let key = Signer::new("k1");
        let texts = log();
        let sth = key.tree_head(&texts, texts.len(), T0 + 200 * MIN);
        let proof = build_payload(
            T0 + 201 * MIN,
            "Organisme Exemple",
            &session(),
            &person(),
            &sth,
            proven(&texts, "p_a"),
        )
        .unwrap();
        assert_eq!(proof.typ, PROOF_TYP);
        assert_eq!(proof.session.modality, MODALITY);
        assert!(proof.consents.is_empty() && proof.recordings.is_empty());
        assert_eq!(proof.v, 3);
        assert_eq!(proof.conditions, Conditions::default());
        // Own entries and control entries only: p_b's two entries are absent.
        assert_eq!(proof.evidence.entries.len(), texts.len() - 2);
        assert_eq!(proof.control.len(), 4);
        assert_eq!(proof.control[2].to.as_deref(), Some("suspended"));
        let h = &proof.half_days[0];
        assert_eq!(h.slot, "2026-12-03.am");
        assert_eq!(h.connected_seconds, 150 * 60);
        assert_eq!(h.present_seconds, 130 * 60);
        assert_eq!(h.completion, 0.7222);
        assert_eq!(h.signed_in_at, Some(T0 + 6 * MIN));
        assert_eq!(h.countersigned_at, Some(T0 + 7 * MIN));
        assert_eq!(proof.totals.planned_seconds, 3 * 3600);

        let jws = key.sign(&serde_json::to_vec(&proof).unwrap());
        let report = verify_proof(&jws, &key.jwks());
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.checks.len(), 10);
        assert_eq!(
            report.check(check::CONSENTS).unwrap().detail,
            "0 consent decisions and 0 recorded segments: the lists recomputed from the entries equal the proof's"
        );
        assert!(
            report
                .check(check::PROOF_FORMAT)
                .unwrap()
                .detail
                .contains("Anaïs Martin")
        );
    }

    #[test]
    fn build_payload_refuses_what_would_not_verify() {
        let key = Signer::new("k1");
        let texts = log();
        let sth = key.tree_head(&texts, texts.len(), T0 + 200 * MIN);
        // Another person's entry.
        let all = proven(&texts, "p_b");
        let err = build_payload(0, "O", &session(), &person(), &sth, all).unwrap_err();
        assert!(matches!(err, ProofError::Entry { index: 2, .. }), "{err}");
        // A path against another tree.
        let mut wrong = proven(&texts, "p_a");
        wrong[1].path.pop();
        assert!(build_payload(0, "O", &session(), &person(), &sth, wrong).is_err());
        // A tree head of another session.
        let mut other = session();
        other.id = "s_2".into();
        assert!(matches!(
            build_payload(0, "O", &other, &person(), &sth, proven(&texts, "p_a")),
            Err(ProofError::TreeHead(_))
        ));
        assert!(build_payload(0, "O", &session(), &person(), "x.y.z", vec![]).is_err());
    }

    #[test]
    fn an_edited_figure_is_caught_by_recomputation_even_when_signed() {
        let key = Signer::new("k1");
        let texts = log();
        let sth = key.tree_head(&texts, texts.len(), T0 + 200 * MIN);
        let mut proof =
            build_payload(0, "O", &session(), &person(), &sth, proven(&texts, "p_a")).unwrap();
        proof.half_days[0].present_seconds += 600;
        proof.totals.completion = 0.9;
        let report = verify_proof(&key.sign(&serde_json::to_vec(&proof).unwrap()), &key.jwks());
        assert!(!report.ok);
        let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
        assert_eq!(failed, [check::ATTENDANCE]);
        let detail = &report.check(check::ATTENDANCE).unwrap().detail;
        assert!(
            detail.contains(
                "2026-12-03.am: present_seconds is 8400 in the proof but 7800 recomputed"
            ),
            "{detail}"
        );
        assert!(detail.contains("totals: completion is 0.9"), "{detail}");
    }

    /// [`log`], then consents and recording: p_a grants recording, is
    /// recorded in segment 1 with p_b, withdraws (which closes it);
    /// segment 2 is p_b's alone; segment 1 is purged.
    fn recorded_log() -> Vec<String> {
        let mut v = log();
        let mut add = |ts, kind, actor, payload| {
            let n = v.len();
            v.push(entry(n, ts, kind, actor, payload));
        };
        let consent = |what: &str, granted: bool| json!({"consent": what, "granted": granted, "text_sha256": "ab".repeat(32)});
        let file = |who: &str, seg: u64, track: &str, bytes: u64| {
            json!({"participant": who, "track": track, "name": format!("s_1/{seg}/{who}-{track}.ogg"),
                   "bytes": bytes, "sha256": format!("{seg}{who}{track}")})
        };
        add(
            T0 + 171 * MIN,
            kind::CONSENT,
            "p_a",
            consent("recording", true),
        );
        add(
            T0 + 171 * MIN,
            kind::CONSENT,
            "p_b",
            consent("recording", true),
        );
        add(
            T0 + 172 * MIN,
            kind::RECORDING_ARMED,
            "p_f",
            json!({"armed": true}),
        );
        add(
            T0 + 172 * MIN,
            kind::RECORDING_STARTED,
            "server",
            json!({"segment": 1, "participants": ["p_a", "p_b"]}),
        );
        add(
            T0 + 175 * MIN,
            kind::CONSENT,
            "p_a",
            consent("recording", false),
        );
        add(
            T0 + 175 * MIN,
            kind::RECORDING_STOPPED,
            "server",
            json!({"segment": 1, "reason": "consent_withdrawn", "started_at": T0 + 172 * MIN,
                   "closed_at": T0 + 175 * MIN, "participants": ["p_a", "p_b"],
                   "files": [file("p_a", 1, "audio", 1000), file("p_b", 1, "audio", 2000),
                             file("p_a", 1, "video", 3000)]}),
        );
        add(
            T0 + 176 * MIN,
            kind::RECORDING_STARTED,
            "server",
            json!({"segment": 2, "participants": ["p_b"]}),
        );
        add(
            T0 + 178 * MIN,
            kind::RECORDING_STOPPED,
            "server",
            json!({"segment": 2, "reason": "disarmed", "started_at": T0 + 176 * MIN,
                   "closed_at": T0 + 178 * MIN, "participants": ["p_b"],
                   "files": [file("p_b", 2, "audio", 4000)]}),
        );
        add(
            T0 + 178 * MIN,
            kind::RECORDING_ARMED,
            "p_f",
            json!({"armed": false}),
        );
        add(
            T0 + 190 * MIN,
            kind::RECORDING_PURGED,
            "server",
            json!({"segment": 1, "retention_days": 0, "files": [
                {"name": "s_1/1/p_a-audio.ogg", "sha256": "1p_aaudio"},
                {"name": "s_1/1/p_b-audio.ogg", "sha256": "1p_baudio"},
                {"name": "s_1/1/p_a-video.ogg", "sha256": "1p_avideo"}]}),
        );
        v
    }

    fn recorded_proof(key: &Signer) -> (Vec<String>, AttendanceProof) {
        let texts = recorded_log();
        let sth = key.tree_head(&texts, texts.len(), T0 + 200 * MIN);
        let proof = build_payload(
            T0 + 201 * MIN,
            "O",
            &session(),
            &person(),
            &sth,
            proven(&texts, "p_a"),
        )
        .unwrap();
        (texts, proof)
    }

    #[test]
    fn a_proof_states_the_consent_history_and_recordings_and_verifies() {
        let key = Signer::new("k1");
        let (texts, proof) = recorded_proof(&key);
        let decisions: Vec<(i64, &str, bool)> = proof
            .consents
            .iter()
            .map(|d| (d.ts, d.consent.as_str(), d.granted))
            .collect();
        assert_eq!(
            decisions,
            [
                (T0 + 171 * MIN, "recording", true),
                (T0 + 175 * MIN, "recording", false)
            ]
        );
        assert_eq!(proof.consents[0].text_sha256, "ab".repeat(32));
        assert_eq!(proof.recordings.len(), 1, "segment 2 is not p_a's");
        let seg = &proof.recordings[0];
        assert_eq!(seg.segment, 1);
        assert_eq!(
            (seg.started_at, seg.closed_at),
            (T0 + 172 * MIN, Some(T0 + 175 * MIN))
        );
        assert_eq!(seg.reason.as_deref(), Some("consent_withdrawn"));
        assert_eq!(seg.purged_at, Some(T0 + 190 * MIN));
        let files: Vec<(&str, u64)> = seg
            .files
            .iter()
            .map(|f| (f.track.as_str(), f.bytes))
            .collect();
        assert_eq!(files, [("audio", 1000), ("video", 3000)]);
        // Arming and disarming are control events.
        let armed: Vec<Option<&str>> = proof
            .control
            .iter()
            .filter(|c| c.kind == kind::RECORDING_ARMED)
            .map(|c| c.to.as_deref())
            .collect();
        assert_eq!(armed, [Some(ARMED), Some(DISARMED)]);
        // p_b's consent and segment 2's entries are absent; segment 1's
        // purge, which names no one, is present.
        let indices: Vec<u64> = proof.evidence.entries.iter().map(|e| e.index).collect();
        let n = log().len() as u64;
        for absent in [n + 1, n + 6, n + 7] {
            assert!(!indices.contains(&absent), "entry {absent}");
        }
        assert!(indices.contains(&(n + 9)));
        assert!(texts.len() as u64 == n + 10);

        let jws = key.sign(&serde_json::to_vec(&proof).unwrap());
        let back: AttendanceProof =
            serde_json::from_slice(&unverified_payload(&jws).unwrap()).unwrap();
        assert_eq!(back, proof);
        let report = verify_proof(&jws, &key.jwks());
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.checks.len(), 10);
        assert!(
            report
                .check(check::CONSENTS)
                .unwrap()
                .detail
                .starts_with("2 consent decisions and 1 recorded segment:"),
            "{report:#?}"
        );
        let belong = &report.check(check::ENTRIES_BELONG).unwrap().detail;
        assert!(
            belong.contains("3 entries of the recording segment p_a appears in (1)"),
            "{belong}"
        );
    }

    #[test]
    fn an_edited_consent_history_or_recording_list_fails_verification() {
        let key = Signer::new("k1");
        let (_, proof) = recorded_proof(&key);
        type Edit = fn(&mut AttendanceProof);
        let edits: [(&str, Edit); 7] = [
            ("a withdrawal turned into a grant", |p| {
                p.consents[1].granted = true
            }),
            ("a decision dropped", |p| {
                p.consents.remove(1);
            }),
            ("a decision moved in time", |p| p.consents[0].ts -= MIN),
            ("a file's hash changed", |p| {
                p.recordings[0].files[0].sha256 = "00".repeat(32)
            }),
            ("the purge hidden", |p| p.recordings[0].purged_at = None),
            ("the segment hidden", |p| p.recordings.clear()),
            ("a reason reworded", |p| {
                p.recordings[0].reason = Some("left".into())
            }),
        ];
        for (what, edit) in edits {
            let mut p = proof.clone();
            edit(&mut p);
            let report = verify_proof(&key.sign(&serde_json::to_vec(&p).unwrap()), &key.jwks());
            let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
            assert_eq!(failed, [check::CONSENTS], "{what}: {report:#?}");
        }
        let mut p = proof.clone();
        p.consents[1].granted = true;
        let report = verify_proof(&key.sign(&serde_json::to_vec(&p).unwrap()), &key.jwks());
        let detail = &report.check(check::CONSENTS).unwrap().detail;
        assert!(
            detail.contains("consent decision 2: the proof states ")
                && detail.contains("recording granted"),
            "{detail}"
        );
        // Leaving a consent entry out changes the recomputed history: the
        // stated one no longer matches.
        let mut p = proof.clone();
        let withdrawal = log().len() as u64 + 4;
        p.evidence.entries.retain(|e| e.index != withdrawal);
        let report = verify_proof(&key.sign(&serde_json::to_vec(&p).unwrap()), &key.jwks());
        assert!(
            report.failures().any(|c| c.name == check::CONSENTS),
            "{report:#?}"
        );
    }

    #[test]
    fn an_entry_of_a_segment_the_person_was_not_in_is_refused() {
        let key = Signer::new("k1");
        let texts = recorded_log();
        let sth = key.tree_head(&texts, texts.len(), T0 + 200 * MIN);
        let n = log().len();
        // Segment 2's closing entry (p_b alone) added to p_a's entries.
        let mut entries = proven(&texts, "p_a");
        entries.extend(with_paths(&texts, &[n + 7]));
        let err = build_payload(0, "O", &session(), &person(), &sth, entries.clone()).unwrap_err();
        assert!(
            matches!(err, ProofError::Entry { index, .. } if index == n as u64 + 7),
            "{err}"
        );
        // Signed anyway by a forger holding the key: the verifier refuses it.
        let (_, mut proof) = recorded_proof(&key);
        entries.sort_by_key(|e| e.index);
        proof.evidence.entries = entries;
        let report = verify_proof(&key.sign(&serde_json::to_vec(&proof).unwrap()), &key.jwks());
        let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
        assert_eq!(failed, [check::ENTRIES_BELONG], "{report:#?}");
        assert!(
            report
                .check(check::ENTRIES_BELONG)
                .unwrap()
                .detail
                .contains(&format!(
                    "entry {} (recording_stopped) is of recording segment 2, in which \"p_a\" does not appear",
                    n + 7
                ))
        );
        // p_b's consent entry too.
        let mut entries = proven(&texts, "p_a");
        entries.extend(with_paths(&texts, &[n + 1]));
        assert!(build_payload(0, "O", &session(), &person(), &sth, entries).is_err());
    }

    #[test]
    fn a_version_1_proof_still_verifies() {
        let key = Signer::new("k1");
        let texts = log();
        let sth = key.tree_head(&texts, texts.len(), T0 + 200 * MIN);
        let proof =
            build_payload(0, "O", &session(), &person(), &sth, proven(&texts, "p_a")).unwrap();
        // As version 1 wrote it: `consents` always empty, no `recordings`,
        // no `conditions`, control events without `by`.
        let mut value = as_version_2(&proof);
        value["v"] = json!(1);
        value.as_object_mut().unwrap().remove("recordings");
        let jws = key.sign(value.to_string().as_bytes());
        let report = verify_proof(&jws, &key.jwks());
        assert!(report.ok, "{report:#?}");
        assert!(
            report
                .check(check::CONSENTS)
                .unwrap()
                .detail
                .starts_with("a version 1 proof states no consent history")
        );
        // A version 1 proof claiming a history is not one.
        let (_, recorded) = recorded_proof(&key);
        let mut value = as_version_2(&recorded);
        value["v"] = json!(1);
        let report = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
        let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
        assert_eq!(failed, [check::CONSENTS]);
        // An unknown version is refused.
        value["v"] = json!(4);
        let report = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
        let detail = &report.check(check::PROOF_FORMAT).unwrap().detail;
        assert!(
            detail.contains("expected \"cadre.attendance-proof\" version 1, 2 or 3"),
            "{detail}"
        );
    }

    /// A version 3 proof as version 2 wrote it: no `conditions`, control
    /// events without `action`, `by` or new window, no removal.
    fn as_version_2(proof: &AttendanceProof) -> serde_json::Value {
        let mut value = serde_json::to_value(proof).unwrap();
        value["v"] = json!(2);
        value.as_object_mut().unwrap().remove("conditions");
        let control = value["control"].as_array_mut().unwrap();
        control.retain(|c| c["kind"] != kind::REMOVED && c["kind"] != kind::READMITTED);
        for c in control {
            let c = c.as_object_mut().unwrap();
            for k in ["action", "by", "planned_start", "planned_end"] {
                c.remove(k);
            }
        }
        value
    }

    /// [`log`], then a postponement with a new window, p_a removed and
    /// re-admitted, p_b removed, per-minute summaries of both, and an
    /// alert about both.
    fn control_log() -> Vec<String> {
        let mut v = log();
        let mut add = |ts, kind, actor, payload| {
            let n = v.len();
            v.push(entry(n, ts, kind, actor, payload));
        };
        let q = |minute: i64, score: &str, reasons: serde_json::Value| {
            json!({"minute": minute, "samples": 12, "score": score, "worst": score,
                   "reasons": reasons, "rtt_ms": {"median": 40.0, "max": 450.0}})
        };
        add(
            T0 + 150 * MIN,
            kind::QUALITY,
            "p_a",
            q(T0 + 148 * MIN, "excellent", json!([])),
        );
        add(
            T0 + 150 * MIN,
            kind::QUALITY,
            "p_a",
            q(T0 + 149 * MIN, "poor", json!(["rtt_high"])),
        );
        add(
            T0 + 150 * MIN,
            kind::QUALITY,
            "p_b",
            q(T0 + 149 * MIN, "lost", json!([])),
        );
        add(
            T0 + 160 * MIN,
            kind::ALERT,
            "server",
            json!({"rule": "group_poor", "message": "poor", "people": [{"id": "p_a"}, {"id": "p_b"}]}),
        );
        add(
            T0 + 161 * MIN,
            kind::REMOVED,
            "p_f",
            json!({"participant": "p_a", "reason": "wrong group"}),
        );
        add(
            T0 + 162 * MIN,
            kind::READMITTED,
            "organiser",
            json!({"participant": "p_a"}),
        );
        add(
            T0 + 163 * MIN,
            kind::REMOVED,
            "p_f",
            json!({"participant": "p_b", "reason": "insults"}),
        );
        add(
            T0 + 165 * MIN,
            kind::SESSION_STATE,
            "p_f",
            json!({"action": "postpone", "from": "open", "to": "postponed",
                   "reason": "trainer ill", "planned_start": "2026-12-10T09:00:00+01:00",
                   "planned_end": "2026-12-10T12:00:00+01:00"}),
        );
        v
    }

    fn control_proof(key: &Signer) -> (Vec<String>, AttendanceProof) {
        let texts = control_log();
        let sth = key.tree_head(&texts, texts.len(), T0 + 200 * MIN);
        let proof = build_payload(
            T0 + 201 * MIN,
            "O",
            &session(),
            &person(),
            &sth,
            proven(&texts, "p_a"),
        )
        .unwrap();
        (texts, proof)
    }

    #[test]
    fn a_proof_states_the_control_events_removal_and_conditions_and_verifies() {
        let key = Signer::new("k1");
        let (texts, proof) = control_proof(&key);
        let n = log().len() as u64;
        let indices: Vec<u64> = proof.evidence.entries.iter().map(|e| e.index).collect();
        // p_b's minute, the alert and p_b's removal are absent.
        for absent in [n + 2, n + 3, n + 6] {
            assert!(!indices.contains(&absent), "entry {absent}");
        }
        for present in [n, n + 1, n + 4, n + 5, n + 7] {
            assert!(indices.contains(&present), "entry {present}");
        }
        assert_eq!(texts.len() as u64, n + 8);
        // Older state entries (no action) still read; the new one carries
        // its action, who acted and the new window.
        let c = &proof.control;
        assert_eq!(c.len(), 7);
        assert_eq!(
            (
                c[2].to.as_deref(),
                c[2].action.as_deref(),
                c[2].by.as_deref()
            ),
            (Some("suspended"), None, Some("p_f"))
        );
        let removed = &c[4];
        assert_eq!(
            (
                removed.kind.as_str(),
                removed.by.as_deref(),
                removed.reason.as_deref()
            ),
            (kind::REMOVED, Some("p_f"), Some("wrong group"))
        );
        assert_eq!(
            (c[5].kind.as_str(), c[5].by.as_deref()),
            (kind::READMITTED, Some("organiser"))
        );
        let postponed = &c[6];
        assert_eq!(postponed.action.as_deref(), Some("postpone"));
        assert_eq!(postponed.reason.as_deref(), Some("trainer ill"));
        assert_eq!(
            (
                postponed.planned_start.as_deref(),
                postponed.planned_end.as_deref()
            ),
            (
                Some("2026-12-10T09:00:00+01:00"),
                Some("2026-12-10T12:00:00+01:00")
            )
        );
        // Conditions: p_a's two minutes only.
        assert_eq!(proof.conditions.minutes, 2);
        assert_eq!(
            (
                proof.conditions.by_score.excellent,
                proof.conditions.by_score.poor,
                proof.conditions.by_score.lost
            ),
            (1, 1, 0)
        );
        assert_eq!(proof.conditions.worst_minutes.len(), 1);
        assert_eq!(proof.conditions.worst_minutes[0].minute, T0 + 149 * MIN);
        assert_eq!(proof.conditions.worst_minutes[0].reasons, ["rtt_high"]);

        let jws = key.sign(&serde_json::to_vec(&proof).unwrap());
        let back: AttendanceProof =
            serde_json::from_slice(&unverified_payload(&jws).unwrap()).unwrap();
        assert_eq!(back, proof);
        let report = verify_proof(&jws, &key.jwks());
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.checks.len(), 10);
        let detail = &report.check(check::CONDITIONS).unwrap().detail;
        assert!(
            detail.starts_with(
                "2 minutes measured (1 excellent, 0 good, 1 poor, 0 lost); poorest: 2026-12-03T11:29:00+01:00 poor (rtt_high)"
            ),
            "{detail}"
        );
        // The facilitator's proof carries neither removal.
        let f = proven(&texts, "p_f");
        assert!(f.iter().all(|e| e.index != n + 4 && e.index != n + 6));
    }

    #[test]
    fn edited_conditions_or_control_events_fail_verification() {
        let key = Signer::new("k1");
        let (_, proof) = control_proof(&key);
        type Edit = fn(&mut AttendanceProof);
        let edits: [(&str, Edit, &str); 6] = [
            (
                "a poor minute made good",
                |p| {
                    p.conditions.by_score.poor = 0;
                    p.conditions.by_score.good = 1;
                },
                check::CONDITIONS,
            ),
            (
                "the poorest minute hidden",
                |p| p.conditions.worst_minutes.clear(),
                check::CONDITIONS,
            ),
            (
                "a minute added",
                |p| p.conditions.minutes += 1,
                check::CONDITIONS,
            ),
            (
                "conditions erased",
                |p| p.conditions = Conditions::default(),
                check::CONDITIONS,
            ),
            (
                "the new window moved",
                |p| p.control[6].planned_end = Some("2026-12-10T17:00:00+01:00".into()),
                check::ATTENDANCE,
            ),
            (
                "the removal hidden",
                |p| {
                    p.control.remove(4);
                },
                check::ATTENDANCE,
            ),
        ];
        for (what, edit, fails) in edits {
            let mut p = proof.clone();
            edit(&mut p);
            let report = verify_proof(&key.sign(&serde_json::to_vec(&p).unwrap()), &key.jwks());
            let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
            assert_eq!(failed, [fails], "{what}: {report:#?}");
        }
        // Leaving a quality entry out changes the recomputed summary.
        let mut p = proof.clone();
        let n = log().len() as u64;
        p.evidence.entries.retain(|e| e.index != n + 1);
        let report = verify_proof(&key.sign(&serde_json::to_vec(&p).unwrap()), &key.jwks());
        let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
        assert_eq!(failed, [check::CONDITIONS], "{report:#?}");
    }

    #[test]
    fn another_persons_removal_is_refused() {
        let key = Signer::new("k1");
        let texts = control_log();
        let sth = key.tree_head(&texts, texts.len(), T0 + 200 * MIN);
        let n = log().len();
        let mut entries = proven(&texts, "p_a");
        entries.extend(with_paths(&texts, &[n + 6]));
        let err = build_payload(0, "O", &session(), &person(), &sth, entries.clone()).unwrap_err();
        assert!(
            matches!(err, ProofError::Entry { index, .. } if index == n as u64 + 6),
            "{err}"
        );
        // Signed anyway by a forger holding the key: refused.
        let (_, mut proof) = control_proof(&key);
        entries.sort_by_key(|e| e.index);
        proof.evidence.entries = entries;
        let report = verify_proof(&key.sign(&serde_json::to_vec(&proof).unwrap()), &key.jwks());
        assert!(!report.ok);
        let belong = report.check(check::ENTRIES_BELONG).unwrap();
        assert!(!belong.ok);
        assert!(
            belong.detail.contains(&format!(
                "entry {} (removed) is about participant \"p_b\", not \"p_a\"",
                n + 6
            )),
            "{}",
            belong.detail
        );
        // The alert, which names p_b's figures too.
        let mut entries = proven(&texts, "p_a");
        entries.extend(with_paths(&texts, &[n + 3]));
        assert!(build_payload(0, "O", &session(), &person(), &sth, entries).is_err());
    }

    #[test]
    fn a_version_2_proof_still_verifies_stating_no_conditions() {
        let key = Signer::new("k1");
        // Version 2 knew no removal: a proof over the log before it.
        let texts = log();
        let sth = key.tree_head(&texts, texts.len(), T0 + 200 * MIN);
        let proof =
            build_payload(0, "O", &session(), &person(), &sth, proven(&texts, "p_a")).unwrap();
        let value = as_version_2(&proof);
        let report = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
        assert!(report.ok, "{report:#?}");
        assert_eq!(
            report.check(check::CONDITIONS).unwrap().detail,
            "a version 2 proof states no connection conditions (added in version 3)"
        );
        // A version 2 proof that carried p_a's minutes (their own entries)
        // still verifies; one claiming conditions does not.
        let (_, with_minutes) = control_proof(&key);
        let mut value = as_version_2(&with_minutes);
        let n = log().len() as u64;
        let entries = value["evidence"]["entries"].as_array_mut().unwrap();
        entries.retain(|e| {
            let i = e["index"].as_u64().unwrap();
            // Not the removal entries, which version 2 did not select for p_a.
            i < n + 4 || i == n + 7
        });
        let report = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
        assert!(report.ok, "{report:#?}");
        value["conditions"] = serde_json::to_value(&with_minutes.conditions).unwrap();
        let report = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
        let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
        assert_eq!(failed, [check::CONDITIONS]);
        // A version 2 facilitator's proof held the removals they made.
        let facilitator = Person {
            id: "p_f".into(),
            name: "F".into(),
            role: Role::Facilitator,
        };
        let texts = control_log();
        let sth = key.tree_head(&texts, texts.len(), T0 + 200 * MIN);
        let all: Vec<Entry> = texts.iter().map(|t| Entry::parse(t).unwrap()).collect();
        let old = ProofScope::before_v3(&all, "p_f");
        let chosen: Vec<usize> = (0..texts.len())
            .filter(|&i| old.contains(&all[i]))
            .collect();
        let ev = with_paths(&texts, &chosen);
        assert!(ev.iter().any(|e| e.index == n + 6));
        let mut fp = build_payload(
            0,
            "O",
            &session(),
            &facilitator,
            &sth,
            proven(&texts, "p_f"),
        )
        .unwrap();
        fp.evidence.entries = ev;
        let value = as_version_2(&fp);
        let report = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
        assert!(report.ok, "{report:#?}");
    }

    #[test]
    fn compact_range_roots_equal_the_tree_hash() {
        let leaves: Vec<Hash> = (0..40u32)
            .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
            .collect();
        let sizes: BTreeSet<u64> = (0..=40).collect();
        let roots = roots_at(&leaves, &sizes);
        for n in 0..=40usize {
            assert_eq!(roots[&(n as u64)], merkle::root(&leaves[..n]), "size {n}");
        }
    }

    fn export(texts: &[String], heads: &[String]) -> String {
        let mut s = texts.join("\n");
        s.push('\n');
        s.push_str(
            &serde_json::to_string(&TreeHeadsLine {
                tree_heads: heads.to_vec(),
                ..Default::default()
            })
            .unwrap(),
        );
        s.push('\n');
        s
    }

    #[test]
    fn an_export_verifies_with_its_receipts_and_truncation_fails() {
        let key = Signer::new("k1");
        let texts = log();
        let n = texts.len();
        let heads = [
            key.tree_head(&texts, 5, T0),
            key.tree_head(&texts, n, T0 + 200 * MIN),
        ];
        let receipts = [
            key.tree_head(&texts, 6, T0 + 6 * MIN),
            key.tree_head(&texts, 1, T0),
        ];
        let good = export(&texts, &heads);
        let report = verify_export(&good, &key.jwks(), &receipts);
        assert!(report.ok, "{report:#?}");
        assert_eq!(report.checks.len(), 5);
        assert!(
            report
                .check("receipt 1")
                .unwrap()
                .detail
                .contains("consistency proof verified")
        );
        // CRLF line ends and a BOM are read alike.
        let crlf = format!("\u{feff}{}", good.replace('\n', "\r\n"));
        assert!(verify_export(&crlf, &key.jwks(), &receipts).ok);

        // Truncated: the last entries and the tree heads line gone.
        let cut = texts[..n - 2].join("\n");
        let report = verify_export(&cut, &key.jwks(), &receipts);
        assert!(!report.check(check::EXPORT_FORMAT).unwrap().ok);
        assert!(!report.check(check::TREE_HEADS).unwrap().ok);
        // Truncated but keeping the tree heads: the latest covers more than is there.
        let report = verify_export(&export(&texts[..n - 2], &heads), &key.jwks(), &[]);
        let detail = &report.check(check::TREE_HEADS).unwrap().detail;
        assert!(detail.contains("the log was truncated"), "{detail}");
        // Entries beyond every tree head are not covered by a signature.
        let report = verify_export(&export(&texts, &heads[..1]), &key.jwks(), &[]);
        assert!(
            report
                .check(check::TREE_HEADS)
                .unwrap()
                .detail
                .contains("covered by no signed tree head")
        );
    }

    #[test]
    fn an_empty_log_exports_and_verifies() {
        let key = Signer::new("k1");
        let export = export(&[], &[key.tree_head(&[], 0, T0)]);
        let report = verify_export(export.trim_start(), &key.jwks(), &[]);
        assert!(report.ok, "{report:#?}");
        assert_eq!(
            report.check(check::SEQUENCE).unwrap().detail,
            "the log is empty"
        );
    }

    #[test]
    fn the_sheet_renders_as_rfc_4180_csv_for_spreadsheets() {
        let texts = log();
        let entries: Vec<Entry> = texts.iter().map(|t| Entry::parse(t).unwrap()).collect();
        let people = [
            person(),
            Person {
                id: "p_b".into(),
                name: "Dupont, \"Jo\"".into(),
                role: Role::Participant,
            },
            Person {
                id: "p_f".into(),
                name: "=HYPERLINK(\"x\")".into(),
                role: Role::Facilitator,
            },
        ];
        let sheet = build_sheet(T0, "O", &session(), &people, &entries, T0 + 200 * MIN);
        assert_eq!(sheet.rows.len(), 6);
        assert_eq!(sheet.rows[1].half_day, None);
        assert_eq!(sheet.rows[1].signed_half_days, 1);
        let csv = sheet.to_csv();
        assert!(csv.starts_with('\u{feff}'));
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert_eq!(lines.len(), 8); // header, 6 rows, the empty string after the last CRLF
        assert_eq!(
            lines[0],
            "name,role,half-day,first join,last leave,connected time,present time,sign-in,countersignature,completion"
        );
        assert_eq!(
            lines[1],
            "Anaïs Martin,participant,2026-12-03.am,2026-12-03T08:55:00+01:00,2026-12-03T11:30:00+01:00,2:30:00,2:10:00,2026-12-03T09:06:00+01:00,2026-12-03T09:07:00+01:00,72.22 %"
        );
        assert_eq!(
            lines[2],
            "Anaïs Martin,participant,total,2026-12-03T08:55:00+01:00,2026-12-03T11:30:00+01:00,2:30:00,2:10:00,1/1,1/1,72.22 %"
        );
        assert!(
            lines[3].starts_with("\"Dupont, \"\"Jo\"\"\",participant,2026-12-03.am,"),
            "{}",
            lines[3]
        );
        assert!(
            lines[5].starts_with("\"'=HYPERLINK(\"\"x\"\")\",facilitator,"),
            "{}",
            lines[5]
        );
        assert_eq!(lines[7], "");
        assert_eq!(duration(3 * 3600 + 65), "3:01:05");
    }

    #[test]
    fn an_empty_report_is_not_a_success() {
        assert!(!Report::new().finish().ok);
        let report = verify_proof("garbage", &Jwks { keys: vec![] });
        assert!(!report.ok);
        assert_eq!(report.checks.len(), 1);
    }
}
