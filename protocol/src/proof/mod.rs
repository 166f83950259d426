//! Attendance proofs, attendance sheets, and their offline verification.
//! See `docs/evidence.md` ("Proofs", "Verification").
//!
//! - `payload`: [`AttendanceProof`], one person's proof, the payload the
//!   server signs as a compact JWS. [`build_payload`] assembles it from the
//!   session, the person, their entries with inclusion paths, and a signed
//!   tree head.
//! - `sheet`: [`AttendanceSheet`], the whole session, one row per person and
//!   half-day, with its CSV rendering ([`AttendanceSheet::to_csv`]).
//! - `verify` and `compare`: [`verify_proof`], what an auditor runs with the
//!   published keys only; it returns a [`Verdict`] naming every check, and
//!   says each difference between what the proof claims and what its
//!   entries give.
//! - `export`: [`verify_export`], the whole ledger export with its tree
//!   heads, receipts and RFC 3161 anchors.
//! - `receipts`: [`verify_proof_with_receipts`], a participant's receipts
//!   against their proof through [`Consistency`] documents, as a
//!   [`VerificationBundle`] carries them.
//!
//! The public paths are all here (`cadre_protocol::proof::X`); the files
//! are the seams of the work, not of the API.
//!
//! Nothing here does I/O: the server signs and serves, the `cadre verify`
//! command reads files.

mod compare;
mod export;
mod payload;
mod receipts;
mod sheet;
mod verify;

#[cfg(test)]
mod tests;

pub use compare::show_conditions;
pub use export::{
    ExportedAnchor, TREE_HEADS_LINE_VERSION, TreeHeadsLine, verify_export, verify_export_anchored,
};
pub use payload::{
    ARMED, AttendanceProof, ControlEvent, DISARMED, Evidence, EvidenceEntry, MODALITY, PROOF_TYP,
    PROOF_VERSION, PROOF_VERSIONS_READ, Person, ProofError, SessionMeta, TREE_HEAD_VERSION,
    build_payload, control_events, control_events_of_version, jws_compact, jws_signing_input,
};
pub use receipts::{
    BUNDLE_TYP, CONSISTENCY_TYP, CONSISTENCY_VERSION, Consistency, VerificationBundle,
    verify_proof_with_receipts,
};
pub use sheet::{
    AttendanceSheet, CSV_HEADER, SHEET_TYP, SHEET_VERSION, SheetRow, build_sheet, duration,
    push_record, push_record_with,
};
pub use verify::{Check, Verdict, check, verify_proof};
