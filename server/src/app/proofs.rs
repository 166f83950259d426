//! Issuing attendance documents from the ledger: a participant's signed
//! proof (JWS), the session's attendance sheet, and their PDF renderings.
//!
//! Everything is derived from the ledger at issue time, under a fresh signed
//! tree head, so a proof always carries what an auditor needs to check it
//! offline: the tree head, the person's entries (and those of the recording
//! segments they appear in) with their inclusion paths, and figures, consent
//! history and recorded segments that the verifier recomputes from those
//! entries.

use crate::app::App;
use crate::directory::catalog::{Person as StoredPerson, Session};
use crate::error::ApiError;
use crate::evidence::render::{self, Lang, Organisation, Strokes};
use cadre_protocol::ErrorCode;
use cadre_protocol::attendance;
use cadre_protocol::evidence::Entry;
use cadre_protocol::proof::{
    self, AttendanceProof, AttendanceSheet, EvidenceEntry, Person, SessionMeta,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

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

fn render_session(m: &SessionMeta) -> render::SessionInfo {
    render::SessionInfo {
        id: m.id.clone(),
        title: m.title.clone(),
        kind: m.kind,
        planned_start: m.planned_start,
        planned_end: m.planned_end,
        time_zone: m.time_zone.clone(),
    }
}

/// The session's state changes for a document a funder reads: when and
/// what only. The reason and who acted are dropped here, so they never
/// reach the sheet; no one's removal is among them.
pub(crate) fn neutral_course(entries: &[Entry]) -> Vec<proof::ControlEvent> {
    proof::control_events(entries, "")
        .into_iter()
        .filter(|e| e.kind == cadre_protocol::evidence::kind::SESSION_STATE)
        .map(|e| proof::ControlEvent {
            reason: None,
            by: None,
            ..e
        })
        .collect()
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
        let mut issued = self.issue_proofs(sid, &[pid.to_owned()]).await?;
        issued
            .pop()
            .ok_or_else(|| ApiError::internal("issuing a proof", "nothing issued"))
    }

    /// Issues several people's proofs under one tree head and one reading of
    /// the ledger (what a facilitator's "all certificates" needs).
    pub async fn issue_proofs(
        &self,
        sid: &str,
        pids: &[String],
    ) -> Result<Vec<IssuedProof>, ApiError> {
        let s = sid.to_owned();
        let detail = self.catalog().run(move |c| c.session_detail(&s)).await?;
        let mut people = Vec::with_capacity(pids.len());
        for pid in pids {
            let who = detail
                .people
                .iter()
                .map(|(p, _)| p)
                .find(|p| &p.id == pid)
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::NotFound, format!("no person {pid} in {sid}"))
                })?;
            people.push(person(who));
        }
        let ledger = self.ledger();
        // The head first: every entry it covers is durable and in `entries`.
        let head = ledger
            .tree_head(sid)
            .await
            .map_err(|e| ApiError::internal("signing a tree head", e))?;
        let stored = ledger
            .entries(sid)
            .await
            .map_err(|e| ApiError::internal("reading the ledger", e))?;
        let mut texts = Vec::with_capacity(stored.len());
        let mut parsed = Vec::with_capacity(stored.len());
        for e in stored.iter().filter(|e| e.seq < head.head.tree_size) {
            let entry =
                Entry::parse(&e.text).map_err(|err| ApiError::internal("a stored entry", err))?;
            texts.push((e.seq, &e.text));
            parsed.push(entry);
        }
        let session = meta(&detail.session);
        let mut out = Vec::with_capacity(people.len());
        for who in people {
            // Their entries, the control entries, and the entries of the
            // recording segments they appear in (which needs the whole log).
            let scope = attendance::ProofScope::new(&parsed, &who.id);
            let chosen: Vec<(u64, String)> = texts
                .iter()
                .zip(&parsed)
                .filter(|(_, entry)| scope.contains(entry))
                .map(|((seq, text), _)| (*seq, (*text).clone()))
                .collect();
            let seqs: Vec<u64> = chosen.iter().map(|(seq, _)| *seq).collect();
            let paths = ledger
                .inclusion_proofs(sid, head.head.tree_size, &seqs)
                .await
                .map_err(|e| ApiError::internal("inclusion proofs", e))?;
            let evidence = chosen
                .into_iter()
                .zip(paths)
                .map(|((seq, text), path)| EvidenceEntry::new(seq, text, &path))
                .collect();
            let payload = proof::build_payload(
                chrono::Utc::now().timestamp_millis(),
                &detail.session.organisation,
                &session,
                &who,
                &head.jws,
                evidence,
            )
            .map_err(|e| ApiError::internal("building the proof", e))?;
            let jws = self
                .jws()
                .sign_typed(PROOF_JWS_TYP, &payload)
                .map_err(|e| ApiError::internal("signing the proof", e))?;
            out.push(IssuedProof {
                jws,
                proof: payload,
            });
        }
        Ok(out)
    }

    /// A person's relevé de présence (the proof's human rendering), as PDF.
    pub async fn certificate_pdf(
        &self,
        sid: &str,
        pid: &str,
        lang: Lang,
    ) -> Result<(IssuedProof, Vec<u8>), ApiError> {
        let (issued, certificate) = self.attendance_record(sid, pid, lang).await?;
        let pdf = tokio::task::spawn_blocking(move || render::certificate_pdf(&certificate))
            .await
            .map_err(|e| ApiError::internal("rendering", e))?
            .map_err(|e| ApiError::internal("rendering the attendance record", e))?;
        Ok((issued, pdf))
    }

    /// A person's relevé de présence as the renderer takes it, with the
    /// proof it is drawn from: what [`App::certificate_pdf`] prints.
    pub async fn attendance_record(
        &self,
        sid: &str,
        pid: &str,
        lang: Lang,
    ) -> Result<(IssuedProof, render::Certificate), ApiError> {
        let issued = self.issue_proof(sid, pid).await?;
        let p = &issued.proof;
        // Who acted, by name: the session's facilitators (the proof names
        // them by id).
        let s = sid.to_owned();
        let detail = self.catalog().run(move |c| c.session_detail(&s)).await?;
        let actors: BTreeMap<String, String> = detail
            .people
            .iter()
            .map(|(person, _)| person)
            .filter(|person| person.role == cadre_protocol::Role::Facilitator)
            .map(|person| (person.id.clone(), person.name.clone()))
            .collect();
        let entries: Vec<Entry> = p
            .evidence
            .entries
            .iter()
            .filter_map(|e| Entry::parse(&e.entry).ok())
            .collect();
        let head = cadre_protocol::evidence::unverified_payload(&p.evidence.tree_head)
            .and_then(|b| serde_json::from_slice::<cadre_protocol::evidence::TreeHead>(&b).ok());
        let head_ts = head.as_ref().map_or(p.issued_at, |h| h.ts);
        // The same derivation the proof's figures come from, for the fields
        // the proof does not carry (first join, last leave).
        let attendance = attendance::derive(&p.session.schedule(), &entries, pid, head_ts);
        let spans: Vec<(i64, i64)> = attendance
            .half_days
            .iter()
            .flat_map(|h| h.intervals.iter().map(|i| (i.start, i.end)))
            .collect();
        let quizzes = cadre_protocol::quiz::tally(&entries, pid, &spans);
        let certificate = render::Certificate {
            lang,
            organisation: Organisation {
                name: p.organisation.clone(),
                details: Vec::new(),
            },
            session: render_session(&p.session),
            person_id: p.person.id.clone(),
            person_name: p.person.name.clone(),
            person_role: p.person.role,
            attendance,
            control: p.control.clone(),
            actors,
            conditions: p.conditions.clone(),
            quizzes: (quizzes.opened > 0).then_some(quizzes),
            consents: p.consents.clone(),
            recordings: p.recordings.clone(),
            proof_sha256: issued.sha256(),
            key_id: crate::evidence::jws::kid_of(&issued.jws).unwrap_or_else(|| self.jws().kid()),
            tree_size: head.as_ref().map_or(0, |h| h.tree_size),
            tree_root: head.map(|h| h.root).unwrap_or_default(),
            jwks_url: format!("{}/.well-known/jwks.json", self.public_url()),
            issued_at: p.issued_at,
            generated_at: chrono::Utc::now().timestamp_millis(),
        };
        Ok((issued, certificate))
    }

    /// The session's attendance sheet (feuille d'émargement), as PDF.
    pub async fn sheet_pdf(&self, sid: &str, lang: Lang) -> Result<Vec<u8>, ApiError> {
        let sheet = self.sheet_document(sid, lang).await?;
        tokio::task::spawn_blocking(move || render::attendance_sheet_pdf(&sheet))
            .await
            .map_err(|e| ApiError::internal("rendering", e))?
            .map_err(|e| ApiError::internal("rendering the sheet", e))
    }

    /// The sheet as the renderer takes it: what [`App::sheet_pdf`] prints.
    pub async fn sheet_document(&self, sid: &str, lang: Lang) -> Result<render::Sheet, ApiError> {
        let s = sid.to_owned();
        let (detail, identity) = self
            .catalog()
            .run(move |c| Ok((c.session_detail(&s)?, c.organisation()?)))
            .await?;
        let head = self
            .ledger()
            .tree_head(sid)
            .await
            .map_err(|e| ApiError::internal("signing a tree head", e))?;
        let entries = self.log(sid, head.head.tree_size).await?;
        let meta = meta(&detail.session);
        let schedule = meta.schedule();
        let people = detail
            .people
            .iter()
            .map(|(p, _)| {
                let mut signatures: BTreeMap<String, Strokes> = BTreeMap::new();
                for e in entries.iter().filter(|e| {
                    e.actor == p.id && e.kind == cadre_protocol::evidence::kind::SIGNED_IN
                }) {
                    let payload = e.payload_value();
                    let slot = payload["slot"].as_str().unwrap_or_default().to_owned();
                    if let Ok(strokes) =
                        serde_json::from_value::<Strokes>(payload["signature"].clone())
                    {
                        signatures.insert(slot, strokes);
                    }
                }
                render::SheetPerson {
                    name: p.name.clone(),
                    role: p.role,
                    attendance: attendance::derive(&schedule, &entries, &p.id, head.head.ts),
                    signatures,
                }
            })
            .collect();
        // The organisation signs its sheet when its legal representative is
        // known (`cadre organisation set`); its address and numbers head it.
        let mut details = identity.address.clone();
        let numbers =
            render::organisation_numbers(lang, identity.siret.as_deref(), identity.nda.as_deref());
        if !numbers.is_empty() {
            details.push(numbers);
        }
        let stamp = identity
            .representative_name
            .as_ref()
            .map(|name| render::SheetStamp {
                representative: match &identity.representative_quality {
                    Some(quality) => format!("{name}, {quality}"),
                    None => name.clone(),
                },
                picture: identity.signature.as_ref().map(|(bytes, _)| bytes.clone()),
            });
        let sheet = render::Sheet {
            lang,
            organisation: Organisation {
                // The identity's details belong with the identity's name.
                name: match (&identity.name, details.is_empty()) {
                    (Some(name), false) => name.clone(),
                    _ => detail.session.organisation.clone(),
                },
                details,
            },
            stamp,
            session: render_session(&meta),
            course: neutral_course(&entries),
            people,
            // The half-days held before a postponement too.
            slots: attendance::slots_in_force(&schedule, &entries)
                .into_iter()
                .map(|(id, _, _)| id)
                .collect(),
            tree_size: head.head.tree_size,
            tree_root: head.head.root.clone(),
            generated_at: chrono::Utc::now().timestamp_millis(),
        };
        Ok(sheet)
    }

    /// The session's first `upto` entries, parsed.
    pub(crate) async fn log(&self, sid: &str, upto: u64) -> Result<Vec<Entry>, ApiError> {
        let stored = self
            .ledger()
            .entries(sid)
            .await
            .map_err(|e| ApiError::internal("reading the ledger", e))?;
        stored
            .iter()
            .filter(|e| e.seq < upto)
            .map(|e| Entry::parse(&e.text))
            .collect::<Result<_, _>>()
            .map_err(|e| ApiError::internal("a stored entry", e))
    }

    /// The session's attendance sheet now.
    pub async fn attendance_sheet(&self, sid: &str) -> Result<AttendanceSheet, ApiError> {
        let s = sid.to_owned();
        let detail = self.catalog().run(move |c| c.session_detail(&s)).await?;
        let entries = self.log(sid, u64::MAX).await?;
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
