use super::export::roots_at;
use super::receipts::receipt_against_head;
use super::verify::Verdict;
use super::*;
use crate::attendance::{Conditions, ProofScope};
use crate::evidence::{Entry, Jwks, TREE_HEAD_TYP, TreeHead, kind, unverified_payload};
use crate::merkle::{self, Hash};
use crate::testing::{self, Signer, evidence_for, export, with_paths};
use crate::{Role, SessionKind};
use serde_json::json;
use std::collections::BTreeSet;

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
        earlier.contains("the log of 11 entries the proof was drawn from extends the receipt's 7"),
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

const SID: &str = "s_1";

fn entry(seq: usize, ts: i64, kind: &str, actor: &str, payload: serde_json::Value) -> String {
    testing::event(SID, seq as u64, ts, kind, actor, &payload).canonical()
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

/// p_a's proof over `texts`, under a tree head of them all signed at
/// T0 + 200 min.
fn proof_of_p_a(key: &Signer, texts: &[String], issued_at: i64) -> AttendanceProof {
    let sth = key.tree_head(SID, texts, texts.len(), T0 + 200 * MIN);
    build_payload(
        issued_at,
        "O",
        &session(),
        &person(),
        &sth,
        evidence_for(texts, "p_a"),
    )
    .unwrap()
}

/// p_a's entries of `texts` plus the one at `index`, in log order, and
/// what `build_payload` makes of them.
fn with_entry(
    key: &Signer,
    texts: &[String],
    index: usize,
) -> (Vec<EvidenceEntry>, Result<AttendanceProof, ProofError>) {
    let sth = key.tree_head(SID, texts, texts.len(), T0 + 200 * MIN);
    let mut entries = evidence_for(texts, "p_a");
    entries.extend(with_paths(texts, &[index]));
    let built = build_payload(0, "O", &session(), &person(), &sth, entries.clone());
    entries.sort_by_key(|e| e.index);
    (entries, built)
}

/// p_a's entries of `texts` plus the one at `index`, which is someone
/// else's: `build_payload` refuses them, naming that entry. Put in place of
/// `proof`'s and signed anyway, by a forger holding the key: the verdict.
fn forged_with(
    key: &Signer,
    texts: &[String],
    mut proof: AttendanceProof,
    index: usize,
) -> Verdict {
    let (entries, built) = with_entry(key, texts, index);
    let err = built.unwrap_err();
    assert!(
        matches!(err, ProofError::Entry { index: i, .. } if i == index as u64),
        "{err}"
    );
    proof.evidence.entries = entries;
    verify_proof(&key.sign_json(&proof), &key.jwks())
}

#[test]
fn a_built_proof_verifies_and_carries_the_right_figures() {
    let key = Signer::new("k1");
    let texts = log();
    let sth = key.tree_head(SID, &texts, texts.len(), T0 + 200 * MIN);
    let proof = build_payload(
        T0 + 201 * MIN,
        "Organisme Exemple",
        &session(),
        &person(),
        &sth,
        evidence_for(&texts, "p_a"),
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
    let verdict = verify_proof(&jws, &key.jwks());
    assert!(verdict.ok, "{verdict:#?}");
    assert_eq!(verdict.checks.len(), 10);
    assert_eq!(
        verdict.check(check::CONSENTS).unwrap().detail,
        "0 consent decisions and 0 recorded segments: the lists recomputed from the entries equal the proof's"
    );
    assert!(
        verdict
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
    let sth = key.tree_head(SID, &texts, texts.len(), T0 + 200 * MIN);
    // Another person's entry.
    let all = evidence_for(&texts, "p_b");
    let err = build_payload(0, "O", &session(), &person(), &sth, all).unwrap_err();
    assert!(matches!(err, ProofError::Entry { index: 2, .. }), "{err}");
    // A path against another tree.
    let mut wrong = evidence_for(&texts, "p_a");
    wrong[1].path.pop();
    assert!(build_payload(0, "O", &session(), &person(), &sth, wrong).is_err());
    // A tree head of another session.
    let mut other = session();
    other.id = "s_2".into();
    assert!(matches!(
        build_payload(0, "O", &other, &person(), &sth, evidence_for(&texts, "p_a")),
        Err(ProofError::TreeHead(_))
    ));
    assert!(build_payload(0, "O", &session(), &person(), "x.y.z", vec![]).is_err());
}

#[test]
fn an_edited_figure_is_caught_by_recomputation_even_when_signed() {
    let key = Signer::new("k1");
    let texts = log();
    let mut proof = proof_of_p_a(&key, &texts, 0);
    proof.half_days[0].present_seconds += 600;
    proof.totals.completion = 0.9;
    let verdict = verify_proof(&key.sign(&serde_json::to_vec(&proof).unwrap()), &key.jwks());
    assert!(!verdict.ok);
    let failed: Vec<&str> = verdict.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, [check::ATTENDANCE]);
    let detail = &verdict.check(check::ATTENDANCE).unwrap().detail;
    assert!(
        detail.contains("2026-12-03.am: present_seconds is 8400 in the proof but 7800 recomputed"),
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
    let proof = proof_of_p_a(key, &texts, T0 + 201 * MIN);
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
    let back: AttendanceProof = serde_json::from_slice(&unverified_payload(&jws).unwrap()).unwrap();
    assert_eq!(back, proof);
    let verdict = verify_proof(&jws, &key.jwks());
    assert!(verdict.ok, "{verdict:#?}");
    assert_eq!(verdict.checks.len(), 10);
    assert!(
        verdict
            .check(check::CONSENTS)
            .unwrap()
            .detail
            .starts_with("2 consent decisions and 1 recorded segment:"),
        "{verdict:#?}"
    );
    let belong = &verdict.check(check::ENTRIES_BELONG).unwrap().detail;
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
        let verdict = verify_proof(&key.sign(&serde_json::to_vec(&p).unwrap()), &key.jwks());
        let failed: Vec<&str> = verdict.failures().map(|c| c.name.as_str()).collect();
        assert_eq!(failed, [check::CONSENTS], "{what}: {verdict:#?}");
    }
    let mut p = proof.clone();
    p.consents[1].granted = true;
    let verdict = verify_proof(&key.sign(&serde_json::to_vec(&p).unwrap()), &key.jwks());
    let detail = &verdict.check(check::CONSENTS).unwrap().detail;
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
    let verdict = verify_proof(&key.sign(&serde_json::to_vec(&p).unwrap()), &key.jwks());
    assert!(
        verdict.failures().any(|c| c.name == check::CONSENTS),
        "{verdict:#?}"
    );
}

#[test]
fn an_entry_of_a_segment_the_person_was_not_in_is_refused() {
    let key = Signer::new("k1");
    let texts = recorded_log();
    let n = log().len();
    // Segment 2's closing entry (p_b alone) added to p_a's entries; signed
    // anyway by a forger holding the key, the verifier refuses it.
    let verdict = forged_with(&key, &texts, recorded_proof(&key).1, n + 7);
    let failed: Vec<&str> = verdict.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, [check::ENTRIES_BELONG], "{verdict:#?}");
    assert!(
        verdict
            .check(check::ENTRIES_BELONG)
            .unwrap()
            .detail
            .contains(&format!(
                "entry {} (recording_stopped) is of recording segment 2, in which \"p_a\" does not appear",
                n + 7
            ))
    );
    // p_b's consent entry too.
    assert!(with_entry(&key, &texts, n + 1).1.is_err());
}

#[test]
fn a_version_1_proof_still_verifies() {
    let key = Signer::new("k1");
    let texts = log();
    let proof = proof_of_p_a(&key, &texts, 0);
    // As version 1 wrote it: `consents` always empty, no `recordings`,
    // no `conditions`, control events without `by`.
    let mut value = as_version_2(&proof);
    value["v"] = json!(1);
    value.as_object_mut().unwrap().remove("recordings");
    let jws = key.sign(value.to_string().as_bytes());
    let verdict = verify_proof(&jws, &key.jwks());
    assert!(verdict.ok, "{verdict:#?}");
    assert!(
        verdict
            .check(check::CONSENTS)
            .unwrap()
            .detail
            .starts_with("a version 1 proof states no consent history")
    );
    // A version 1 proof claiming a history is not one.
    let (_, recorded) = recorded_proof(&key);
    let mut value = as_version_2(&recorded);
    value["v"] = json!(1);
    let verdict = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
    let failed: Vec<&str> = verdict.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, [check::CONSENTS]);
    // An unknown version is refused.
    value["v"] = json!(4);
    let verdict = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
    let detail = &verdict.check(check::PROOF_FORMAT).unwrap().detail;
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
    let proof = proof_of_p_a(key, &texts, T0 + 201 * MIN);
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
    let back: AttendanceProof = serde_json::from_slice(&unverified_payload(&jws).unwrap()).unwrap();
    assert_eq!(back, proof);
    let verdict = verify_proof(&jws, &key.jwks());
    assert!(verdict.ok, "{verdict:#?}");
    assert_eq!(verdict.checks.len(), 10);
    let detail = &verdict.check(check::CONDITIONS).unwrap().detail;
    assert!(
        detail.starts_with(
            "2 minutes measured (1 excellent, 0 good, 1 poor, 0 lost); poorest: 2026-12-03T11:29:00+01:00 poor (rtt_high)"
        ),
        "{detail}"
    );
    // The facilitator's proof carries neither removal.
    let f = evidence_for(&texts, "p_f");
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
        let verdict = verify_proof(&key.sign(&serde_json::to_vec(&p).unwrap()), &key.jwks());
        let failed: Vec<&str> = verdict.failures().map(|c| c.name.as_str()).collect();
        assert_eq!(failed, [fails], "{what}: {verdict:#?}");
    }
    // Leaving a quality entry out changes the recomputed summary.
    let mut p = proof.clone();
    let n = log().len() as u64;
    p.evidence.entries.retain(|e| e.index != n + 1);
    let verdict = verify_proof(&key.sign(&serde_json::to_vec(&p).unwrap()), &key.jwks());
    let failed: Vec<&str> = verdict.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, [check::CONDITIONS], "{verdict:#?}");
}

#[test]
fn another_persons_removal_is_refused() {
    let key = Signer::new("k1");
    let texts = control_log();
    let n = log().len();
    // p_b's removal; signed anyway by a forger holding the key: refused.
    let verdict = forged_with(&key, &texts, control_proof(&key).1, n + 6);
    assert!(!verdict.ok);
    let belong = verdict.check(check::ENTRIES_BELONG).unwrap();
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
    assert!(with_entry(&key, &texts, n + 3).1.is_err());
}

#[test]
fn a_version_2_proof_still_verifies_stating_no_conditions() {
    let key = Signer::new("k1");
    // Version 2 knew no removal: a proof over the log before it.
    let texts = log();
    let proof = proof_of_p_a(&key, &texts, 0);
    let value = as_version_2(&proof);
    let verdict = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
    assert!(verdict.ok, "{verdict:#?}");
    assert_eq!(
        verdict.check(check::CONDITIONS).unwrap().detail,
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
    let verdict = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
    assert!(verdict.ok, "{verdict:#?}");
    value["conditions"] = serde_json::to_value(&with_minutes.conditions).unwrap();
    let verdict = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
    let failed: Vec<&str> = verdict.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(failed, [check::CONDITIONS]);
    // A version 2 facilitator's proof held the removals they made.
    let facilitator = Person {
        id: "p_f".into(),
        name: "F".into(),
        role: Role::Facilitator,
    };
    let texts = control_log();
    let sth = key.tree_head(SID, &texts, texts.len(), T0 + 200 * MIN);
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
        evidence_for(&texts, "p_f"),
    )
    .unwrap();
    fp.evidence.entries = ev;
    let value = as_version_2(&fp);
    let verdict = verify_proof(&key.sign(value.to_string().as_bytes()), &key.jwks());
    assert!(verdict.ok, "{verdict:#?}");
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

#[test]
fn an_export_verifies_with_its_receipts_and_truncation_fails() {
    let key = Signer::new("k1");
    let texts = log();
    let n = texts.len();
    let heads = [
        key.tree_head(SID, &texts, 5, T0),
        key.tree_head(SID, &texts, n, T0 + 200 * MIN),
    ];
    let receipts = [
        key.tree_head(SID, &texts, 6, T0 + 6 * MIN),
        key.tree_head(SID, &texts, 1, T0),
    ];
    let good = export(&texts, &heads);
    let verdict = verify_export(&good, &key.jwks(), &receipts);
    assert!(verdict.ok, "{verdict:#?}");
    assert_eq!(verdict.checks.len(), 5);
    assert!(
        verdict
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
    let verdict = verify_export(&cut, &key.jwks(), &receipts);
    assert!(!verdict.check(check::EXPORT_FORMAT).unwrap().ok);
    assert!(!verdict.check(check::TREE_HEADS).unwrap().ok);
    // Truncated but keeping the tree heads: the latest covers more than is there.
    let verdict = verify_export(&export(&texts[..n - 2], &heads), &key.jwks(), &[]);
    let detail = &verdict.check(check::TREE_HEADS).unwrap().detail;
    assert!(detail.contains("the log was truncated"), "{detail}");
    // Entries beyond every tree head are not covered by a signature.
    let verdict = verify_export(&export(&texts, &heads[..1]), &key.jwks(), &[]);
    assert!(
        verdict
            .check(check::TREE_HEADS)
            .unwrap()
            .detail
            .contains("covered by no signed tree head")
    );
}

#[test]
fn an_empty_log_exports_and_verifies() {
    let key = Signer::new("k1");
    let export = export(&[], &[key.tree_head(SID, &[], 0, T0)]);
    let verdict = verify_export(export.trim_start(), &key.jwks(), &[]);
    assert!(verdict.ok, "{verdict:#?}");
    assert_eq!(
        verdict.check(check::SEQUENCE).unwrap().detail,
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
fn an_empty_verdict_is_not_a_success() {
    assert!(!Verdict::new().finish().ok);
    let verdict = verify_proof("garbage", &Jwks { keys: vec![] });
    assert!(!verdict.ok);
    assert_eq!(verdict.checks.len(), 1);
}
