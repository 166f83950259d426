//! Issuing attendance documents from the ledger: a participant's signed
//! proof (JWS), the session's attendance sheet, and their PDF renderings.
//!
//! Everything is derived from the ledger at issue time, under a fresh signed
//! tree head, so a proof always carries what an auditor needs to check it
//! offline: the tree head, the person's entries with their inclusion paths,
//! and figures that the verifier recomputes from those entries.

use crate::app::App;
use crate::catalog::{Person as StoredPerson, Session};
use crate::error::ApiError;
use cadre_protocol::ErrorCode;
use cadre_protocol::attendance;
use cadre_protocol::evidence::Entry;
use cadre_protocol::proof::{
    self, AttendanceProof, AttendanceSheet, EvidenceEntry, Person, SessionMeta,
};
use sha2::{Digest, Sha256};

/// `typ` header of a proof JWS.
pub const PROOF_JWS_TYP: &str = "cadre.attendance-proof+jws";

/// A signed proof and what it says.
#[derive(Debug, Clone)]
pub struct IssuedProof {
    /// The compact JWS: the document to keep and verify.
    pub jws: String,
    /// Its payload.
    pub proof: AttendanceProof,
}

impl IssuedProof {
    /// SHA-256 of the JWS text, hex: printed on the PDF to match paper and file.
    pub fn sha256(&self) -> String {
        let digest: [u8; 32] = Sha256::digest(self.jws.as_bytes()).into();
        cadre_protocol::merkle::to_hex(&digest)
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Internal, format!("{what}: {e}"))
}

fn meta(s: &Session) -> SessionMeta {
    SessionMeta::new(
        s.id.clone(),
        s.title.clone(),
        s.kind,
        s.planned_start.timestamp_millis(),
        s.planned_end.timestamp_millis(),
        s.time_zone.name(),
    )
}

fn person(p: &StoredPerson) -> Person {
    Person {
        id: p.id.clone(),
        name: p.name.clone(),
        role: p.role,
    }
}

impl App {
    /// Issues a person's proof now.
    pub async fn issue_proof(&self, sid: &str, pid: &str) -> Result<IssuedProof, ApiError> {
        let s = sid.to_owned();
        let detail = self.catalog().run(move |c| c.session_detail(&s)).await?;
        let who = detail
            .people
            .iter()
            .map(|(p, _)| p)
            .find(|p| p.id == pid)
            .ok_or_else(|| {
                ApiError::new(ErrorCode::NotFound, format!("no person {pid} in {sid}"))
            })?;
        let ledger = self.ledger();
        // The head first: every entry it covers is durable and in `entries`.
        let head = ledger
            .tree_head(sid)
            .await
            .map_err(|e| internal("signing a tree head", e))?;
        let stored = ledger
            .entries(sid)
            .await
            .map_err(|e| internal("reading the ledger", e))?;
        let mut chosen = Vec::new();
        for e in stored.iter().filter(|e| e.seq < head.head.tree_size) {
            let entry = Entry::parse(&e.text).map_err(|err| internal("a stored entry", err))?;
            if attendance::in_proof(&entry, pid) {
                chosen.push((e.seq, e.text.clone()));
            }
        }
        let seqs: Vec<u64> = chosen.iter().map(|(seq, _)| *seq).collect();
        let paths = ledger
            .inclusion_proofs(sid, head.head.tree_size, &seqs)
            .await
            .map_err(|e| internal("inclusion proofs", e))?;
        let evidence = chosen
            .into_iter()
            .zip(paths)
            .map(|((seq, text), path)| EvidenceEntry::new(seq, text, &path))
            .collect();
        let payload = proof::build_payload(
            chrono::Utc::now().timestamp_millis(),
            &detail.session.organisation,
            &meta(&detail.session),
            &person(who),
            &head.jws,
            evidence,
        )
        .map_err(|e| internal("building the proof", e))?;
        let jws = self
            .jws()
            .sign_typed(PROOF_JWS_TYP, &payload)
            .map_err(|e| internal("signing the proof", e))?;
        Ok(IssuedProof {
            jws,
            proof: payload,
        })
    }

    /// The session's attendance sheet now.
    pub async fn attendance_sheet(&self, sid: &str) -> Result<AttendanceSheet, ApiError> {
        let s = sid.to_owned();
        let detail = self.catalog().run(move |c| c.session_detail(&s)).await?;
        let stored = self
            .ledger()
            .entries(sid)
            .await
            .map_err(|e| internal("reading the ledger", e))?;
        let entries: Vec<Entry> = stored
            .iter()
            .map(|e| Entry::parse(&e.text))
            .collect::<Result<_, _>>()
            .map_err(|e| internal("a stored entry", e))?;
        let people: Vec<Person> = detail.people.iter().map(|(p, _)| person(p)).collect();
        let now = chrono::Utc::now().timestamp_millis();
        Ok(proof::build_sheet(
            now,
            &detail.session.organisation,
            &meta(&detail.session),
            &people,
            &entries,
            now,
        ))
    }
}
