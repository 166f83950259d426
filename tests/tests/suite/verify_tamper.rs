//! Tampering with attendance evidence is caught, and the verifier says by
//! which check. A realistic day of a session is logged in-process (entries,
//! RFC 6962 tree, Ed25519 signatures with a real key), a participant's proof
//! and the session's export are written as files in a temporary directory
//! with the JWKS and the participant's receipts, and each test reads them
//! back, alters them as an attacker would, and verifies.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cadre_protocol::attendance;
use cadre_protocol::evidence::{Entry, Jwks, TreeHead, kind};
use cadre_protocol::proof::{self, AttendanceProof, Person, SessionMeta, Verdict, check};
use cadre_protocol::testing::{self, Signer, evidence_for};
use cadre_protocol::{Role, SessionKind};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// 2026-12-03T09:00:00+01:00.
const T0: i64 = 1_796_284_800_000;
const MIN: i64 = 60_000;
const SID: &str = "s_audit";
const ANAIS: &str = "p_anais";

/// The session's log, as the ledger stores it.
fn session_log() -> Vec<String> {
    let conn = |id: &str| json!({"connection_id": id, "ip": "192.0.2.7", "user_agent": "Firefox"});
    let closed = |id: &str, reason: &str, last_seen: i64| json!({"connection_id": id, "reason": reason, "last_seen": last_seen});
    let state =
        |from: &str, to: &str, reason: &str| json!({"from": from, "to": to, "reason": reason});
    let am = "2026-12-03.am";
    let pm = "2026-12-03.pm";
    let events: Vec<(i64, &str, &str, Value)> = vec![
        (T0 - 60 * MIN, kind::SERVER_STARTED, "server", json!({})),
        (
            T0 - 10 * MIN,
            kind::CONNECTION_OPENED,
            "p_fac",
            conn("c_f1"),
        ),
        (T0 - 5 * MIN, kind::CONNECTION_OPENED, ANAIS, conn("c_a1")),
        (
            T0 - 2 * MIN,
            kind::CONNECTION_OPENED,
            "p_bruno",
            conn("c_b1"),
        ),
        (
            T0,
            kind::SESSION_STATE,
            "p_fac",
            state("open", "running", "début"),
        ),
        (
            T0,
            kind::SIGNIN_OPENED,
            "server",
            json!({"slot": am, "closes_at": T0 + 210 * MIN}),
        ),
        (T0 + 3 * MIN, kind::SIGNED_IN, ANAIS, json!({"slot": am})),
        (
            T0 + 4 * MIN,
            kind::SIGNED_IN,
            "p_bruno",
            json!({"slot": am}),
        ),
        (
            T0 + 10 * MIN,
            kind::COUNTERSIGNED,
            "p_fac",
            json!({"slot": am, "participant": ANAIS}),
        ),
        (
            T0 + 11 * MIN,
            kind::COUNTERSIGNED,
            "p_fac",
            json!({"slot": am, "participant": "p_bruno"}),
        ),
        (
            T0 + 40 * MIN,
            kind::VISIBILITY,
            ANAIS,
            json!({"connection_id": "c_a1", "visible": false}),
        ),
        (
            T0 + 50 * MIN,
            kind::VISIBILITY,
            ANAIS,
            json!({"connection_id": "c_a1", "visible": true}),
        ),
        (
            T0 + 60 * MIN,
            kind::HEARTBEATS,
            ANAIS,
            json!({"connection_id": "c_a1", "from": T0 - 5 * MIN, "to": T0 + 60 * MIN, "count": 390}),
        ),
        (
            T0 + 75 * MIN,
            kind::CONNECTION_CLOSED,
            ANAIS,
            closed("c_a1", "disconnected", T0 + 75 * MIN),
        ),
        (T0 + 78 * MIN, kind::CONNECTION_OPENED, ANAIS, conn("c_a2")),
        (
            T0 + 100 * MIN,
            kind::SESSION_STATE,
            "p_fac",
            state("running", "suspended", "connexion instable"),
        ),
        (
            T0 + 115 * MIN,
            kind::SESSION_STATE,
            "p_fac",
            state("suspended", "running", "reprise"),
        ),
        (
            T0 + 180 * MIN,
            kind::CONNECTION_CLOSED,
            ANAIS,
            closed("c_a2", "left", T0 + 180 * MIN),
        ),
        (
            T0 + 181 * MIN,
            kind::CONNECTION_CLOSED,
            "p_bruno",
            closed("c_b1", "left", T0 + 181 * MIN),
        ),
        (
            T0 + 270 * MIN,
            kind::SIGNIN_OPENED,
            "server",
            json!({"slot": pm, "closes_at": T0 + 510 * MIN}),
        ),
        (T0 + 275 * MIN, kind::CONNECTION_OPENED, ANAIS, conn("c_a3")),
        (T0 + 276 * MIN, kind::SIGNED_IN, ANAIS, json!({"slot": pm})),
        (
            T0 + 280 * MIN,
            kind::CONNECTION_OPENED,
            "p_bruno",
            conn("c_b2"),
        ),
        (
            T0 + 290 * MIN,
            kind::COUNTERSIGNED,
            "p_fac",
            json!({"slot": pm, "participant": ANAIS}),
        ),
        (
            T0 + 420 * MIN,
            kind::CONNECTION_CLOSED,
            "p_bruno",
            closed("c_b2", "timeout", T0 + 405 * MIN),
        ),
        (
            T0 + 480 * MIN,
            kind::SESSION_STATE,
            "p_fac",
            state("running", "ended", "fin"),
        ),
        (
            T0 + 482 * MIN,
            kind::CONNECTION_CLOSED,
            ANAIS,
            closed("c_a3", "left", T0 + 482 * MIN),
        ),
        (
            T0 + 485 * MIN,
            kind::CONNECTION_CLOSED,
            "p_fac",
            closed("c_f1", "left", T0 + 485 * MIN),
        ),
        (T0 + 490 * MIN, kind::SERVER_STOPPING, "server", json!({})),
    ];
    events
        .into_iter()
        .enumerate()
        .map(|(seq, (ts, kind, actor, payload))| entry(seq as u64, ts, kind, actor, &payload))
        .collect()
}

fn entry(seq: u64, ts: i64, kind: &str, actor: &str, payload: &Value) -> String {
    testing::event(SID, seq, ts, kind, actor, payload).canonical()
}

fn session() -> SessionMeta {
    SessionMeta::new(
        SID,
        "Gestion de projet — module 2",
        SessionKind::Formation,
        T0,
        T0 + 480 * MIN,
        "Europe/Paris",
    )
}

fn anais() -> Person {
    Person {
        id: ANAIS.into(),
        name: "Anaïs Lefèvre".into(),
        role: Role::Participant,
    }
}

/// Everything an auditor is handed, as files.
struct Case {
    _dir: tempfile::TempDir,
    root: PathBuf,
    key: Signer,
    texts: Vec<String>,
    heads: Vec<String>,
}

const PROOF: &str = "proof-anais.jws";
const EXPORT: &str = "export-s_audit.jsonl";
const JWKS: &str = "jwks.json";
const RECEIPT_SIGNIN: &str = "receipt-signin.jws";
const RECEIPT_LEAVE: &str = "receipt-leave.jws";

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let key = Signer::new("kid-cadre-test");
        let texts = session_log();
        let n = texts.len();
        // Tree heads the ledger signed: at Anaïs's sign-in (7 entries), when
        // she left before lunch (18), at the afternoon sign-in (22), and the
        // final one over everything.
        let heads = vec![
            key.tree_head(SID, &texts, 7, T0 + 3 * MIN),
            key.tree_head(SID, &texts, 18, T0 + 180 * MIN),
            key.tree_head(SID, &texts, 22, T0 + 276 * MIN),
            key.tree_head(SID, &texts, n, T0 + 491 * MIN),
        ];
        let proof = proof::build_payload(
            T0 + 495 * MIN,
            "Organisme de formation Exemple",
            &session(),
            &anais(),
            &heads[3],
            evidence_for(&texts, ANAIS),
        )
        .unwrap();
        let case = Case {
            _dir: dir,
            root,
            key,
            texts,
            heads,
        };
        case.write(PROOF, &case.key.sign_json(&proof));
        case.write(EXPORT, &testing::export(&case.texts, &case.heads));
        case.write(
            JWKS,
            &serde_json::to_string_pretty(&case.key.jwks()).unwrap(),
        );
        // Receipts Anaïs's browser kept.
        case.write(RECEIPT_SIGNIN, &case.heads[0]);
        case.write(RECEIPT_LEAVE, &case.heads[1]);
        case
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// The published keys, as the auditor reads them from the file.
    fn jwks(&self) -> Jwks {
        serde_json::from_str(&self.read(JWKS)).unwrap()
    }

    /// The proof's payload, as an attacker reads it (no key needed).
    fn proof(&self) -> AttendanceProof {
        let jws = self.read(PROOF);
        let payload = URL_SAFE_NO_PAD
            .decode(jws.split('.').nth(1).unwrap())
            .unwrap();
        serde_json::from_slice(&payload).unwrap()
    }

    fn receipts(&self) -> Vec<String> {
        [RECEIPT_SIGNIN, RECEIPT_LEAVE]
            .iter()
            .map(|r| self.read(r))
            .collect()
    }

    fn verify_proof_file(&self, name: &str) -> Verdict {
        proof::verify_proof(&self.read(name), &self.jwks())
    }

    fn verify_export_file(&self, name: &str) -> Verdict {
        proof::verify_export(&self.read(name), &self.jwks(), &self.receipts())
    }
}

fn failed(report: &Verdict) -> Vec<&str> {
    report.failures().map(|c| c.name.as_str()).collect()
}

fn detail<'a>(report: &'a Verdict, name: &str) -> &'a str {
    &report
        .check(name)
        .unwrap_or_else(|| panic!("no check {name}"))
        .detail
}

/// Re-derives the figures from (edited) entries, as a forger holding the
/// key would, so that only the checks under test can catch the edit.
fn rederive(p: &mut AttendanceProof) {
    let entries: Vec<Entry> = p
        .evidence
        .entries
        .iter()
        .map(|e| Entry::parse(&e.entry).unwrap())
        .collect();
    let head: TreeHead = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(p.evidence.tree_head.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let a = attendance::derive(&p.session.schedule(), &entries, &p.person.id, head.ts);
    p.half_days = a.half_days;
    p.totals = a.totals;
    p.control = proof::control_events(&entries, &p.person.id);
}

fn position(p: &AttendanceProof, index: u64) -> usize {
    p.evidence
        .entries
        .iter()
        .position(|e| e.index == index)
        .unwrap()
}

#[test]
fn the_untampered_proof_and_export_verify() {
    let case = Case::new();
    let report = case.verify_proof_file(PROOF);
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.checks.len(), 10);
    // The figures are those of the day as it happened.
    let p = case.proof();
    assert_eq!(p.half_days.len(), 2);
    let (am, pm) = (&p.half_days[0], &p.half_days[1]);
    assert_eq!(am.slot, "2026-12-03.am");
    assert_eq!(am.connected_seconds, (75 + 102) * 60);
    assert_eq!(am.present_seconds, (75 + 102 - 10 - 15) * 60);
    assert_eq!(am.intervals.len(), 2);
    assert_eq!(am.intervals[0].start_local, "2026-12-03T08:55:00+01:00");
    assert_eq!(am.signed_in_at, Some(T0 + 3 * MIN));
    assert_eq!(am.countersigned_at, Some(T0 + 10 * MIN));
    assert_eq!(pm.connected_seconds, 205 * 60);
    assert_eq!(pm.completion, 0.8542);
    assert_eq!(p.control.len(), 6);
    // Nothing about Bruno in clear: only hashes in paths.
    assert!(!case.read(PROOF).is_empty());
    assert!(
        p.evidence
            .entries
            .iter()
            .all(|e| !e.entry.contains("p_bruno"))
    );

    let report = case.verify_export_file(EXPORT);
    assert!(report.ok, "{report:#?}");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            check::EXPORT_FORMAT,
            check::SEQUENCE,
            check::TREE_HEADS,
            "receipt 1",
            "receipt 2"
        ]
    );
}

#[test]
fn a_flipped_byte_in_the_jws_is_caught() {
    let case = Case::new();
    let jws = case.read(PROOF);
    let payload_start = jws.find('.').unwrap() + 1;
    for at in [payload_start + 200, jws.len() - 10] {
        let mut bytes = jws.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        case.write("flipped.jws", &String::from_utf8(bytes).unwrap());
        let report = case.verify_proof_file("flipped.jws");
        assert!(!report.ok);
        assert!(
            failed(&report).contains(&check::PROOF_SIGNATURE),
            "{report:#?}"
        );
        assert!(
            detail(&report, check::PROOF_SIGNATURE).contains("does not verify with published key"),
            "{report:#?}"
        );
    }
}

#[test]
fn an_edited_time_in_an_entry_is_caught_by_its_inclusion_path() {
    let case = Case::new();
    let mut p = case.proof();
    // Anaïs's departure before lunch moved from 12:00 to 13:00, and the
    // figures recomputed to match, then signed with the real key: only the
    // Merkle path can tell.
    let at = position(&p, 17);
    let original = p.evidence.entries[at].entry.clone();
    let edited = original.replace(
        &format!("\"ts\":{}", T0 + 180 * MIN),
        &format!("\"ts\":{}", T0 + 240 * MIN),
    );
    assert_ne!(edited, original);
    p.evidence.entries[at].entry = edited;
    rederive(&mut p);
    assert_ne!(
        p.half_days[0].connected_seconds,
        case.proof().half_days[0].connected_seconds
    );
    case.write("edited-time.jws", &case.key.sign_json(&p));
    let report = case.verify_proof_file("edited-time.jws");
    assert_eq!(failed(&report), [check::INCLUSION], "{report:#?}");
    assert_eq!(
        detail(&report, check::INCLUSION),
        "entry 17: inclusion path does not lead to the tree head's root"
    );

    // Edited without recomputing or re-signing: caught three ways.
    let mut p = case.proof();
    p.evidence.entries[at].entry = p.evidence.entries[at].entry.replace(
        &format!("\"ts\":{}", T0 + 180 * MIN),
        &format!("\"ts\":{}", T0 + 240 * MIN),
    );
    let forged = forge_payload(&case.read(PROOF), &p);
    case.write("edited-time-unsigned.jws", &forged);
    let report = case.verify_proof_file("edited-time-unsigned.jws");
    assert_eq!(
        failed(&report),
        [check::PROOF_SIGNATURE, check::INCLUSION, check::ATTENDANCE],
        "{report:#?}"
    );
}

/// The JWS with its payload replaced and the old signature kept.
fn forge_payload(jws: &str, p: &AttendanceProof) -> String {
    let parts: Vec<&str> = jws.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(p).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[test]
fn an_edited_figure_signed_with_another_key_fails_the_key_check() {
    let case = Case::new();
    let mut p = case.proof();
    p.half_days[0].present_seconds = p.half_days[0].connected_seconds;
    p.half_days[0].completion = 0.7375;
    // Same key id as the server's, another key.
    let impostor = Signer::new(case.key.kid());
    case.write("other-key.jws", &impostor.sign_json(&p));
    let report = case.verify_proof_file("other-key.jws");
    assert!(!report.ok);
    assert_eq!(failed(&report), [check::PROOF_SIGNATURE, check::ATTENDANCE]);
    assert!(detail(&report, check::PROOF_SIGNATURE).contains("does not verify with published key"));
    // A key id nobody published.
    let stranger = Signer::new("kid-unknown");
    case.write("unknown-key.jws", &stranger.sign_json(&p));
    let report = case.verify_proof_file("unknown-key.jws");
    assert!(
        detail(&report, check::PROOF_SIGNATURE).contains("not among the published keys"),
        "{report:#?}"
    );
}

#[test]
fn an_edited_figure_signed_with_the_real_key_fails_recomputation() {
    let case = Case::new();
    let mut p = case.proof();
    p.half_days[1].present_seconds = 240 * 60;
    p.half_days[1].completion = 1.0;
    p.totals.present_seconds += 35 * 60;
    case.write("edited-figure.jws", &case.key.sign_json(&p));
    let report = case.verify_proof_file("edited-figure.jws");
    assert_eq!(failed(&report), [check::ATTENDANCE], "{report:#?}");
    let d = detail(&report, check::ATTENDANCE);
    assert!(
        d.contains("2026-12-03.pm: present_seconds is 14400 in the proof but 12300 recomputed from the entries"),
        "{d}"
    );
    assert!(
        d.contains("2026-12-03.pm: completion is 1 in the proof but 0.8542"),
        "{d}"
    );
    assert!(d.contains("totals: present_seconds"), "{d}");
}

#[test]
fn a_removed_entry_is_caught() {
    let case = Case::new();
    // From the proof: the departure before lunch dropped, so the morning
    // connection would run on. Re-signed with the real key.
    let mut p = case.proof();
    let at = position(&p, 17);
    p.evidence.entries.remove(at);
    case.write("removed.jws", &case.key.sign_json(&p));
    let report = case.verify_proof_file("removed.jws");
    assert_eq!(failed(&report), [check::ATTENDANCE], "{report:#?}");
    // Not re-signed: the signature fails too.
    case.write(
        "removed-unsigned.jws",
        &forge_payload(&case.read(PROOF), &p),
    );
    let report = case.verify_proof_file("removed-unsigned.jws");
    assert_eq!(failed(&report), [check::PROOF_SIGNATURE, check::ATTENDANCE]);

    // From the export: a gap in seq and roots that no longer match.
    let mut texts = case.texts.clone();
    texts.remove(10);
    case.write("removed.jsonl", &testing::export(&texts, &case.heads));
    let report = case.verify_export_file("removed.jsonl");
    let f = failed(&report);
    assert!(
        f.contains(&check::SEQUENCE) && f.contains(&check::TREE_HEADS),
        "{report:#?}"
    );
    assert!(detail(&report, check::SEQUENCE).contains("entry at position 10 has seq 11"));
}

#[test]
fn reordered_entries_are_caught() {
    let case = Case::new();
    // Two entries of the proof swapped, re-signed with the real key.
    let mut p = case.proof();
    p.evidence.entries.swap(3, 4);
    case.write("reordered.jws", &case.key.sign_json(&p));
    let report = case.verify_proof_file("reordered.jws");
    assert_eq!(failed(&report), [check::SEQUENCE], "{report:#?}");
    assert!(detail(&report, check::SEQUENCE).contains("out of order"));
    // Texts swapped between two indices (paths left in place).
    let mut p = case.proof();
    let (a, b) = (
        p.evidence.entries[3].entry.clone(),
        p.evidence.entries[4].entry.clone(),
    );
    p.evidence.entries[3].entry = b;
    p.evidence.entries[4].entry = a;
    case.write("swapped.jws", &case.key.sign_json(&p));
    let report = case.verify_proof_file("swapped.jws");
    let f = failed(&report);
    assert!(
        f.contains(&check::INCLUSION) && f.contains(&check::SEQUENCE),
        "{report:#?}"
    );

    // Two lines of the export swapped.
    let mut texts = case.texts.clone();
    texts.swap(10, 11);
    case.write("reordered.jsonl", &testing::export(&texts, &case.heads));
    let report = case.verify_export_file("reordered.jsonl");
    let f = failed(&report);
    assert!(
        f.contains(&check::SEQUENCE) && f.contains(&check::TREE_HEADS),
        "{report:#?}"
    );
}

#[test]
fn a_truncated_export_is_caught() {
    let case = Case::new();
    let n = case.texts.len();
    // The last entries cut, the tree heads line kept.
    case.write(
        "cut.jsonl",
        &testing::export(&case.texts[..n - 3], &case.heads),
    );
    let report = case.verify_export_file("cut.jsonl");
    assert_eq!(failed(&report), [check::TREE_HEADS], "{report:#?}");
    assert!(
        detail(&report, check::TREE_HEADS).contains(
            "tree head 4 (size 29) covers 29 entries but the export holds 26: the log was truncated"
        ),
        "{report:#?}"
    );
    // The file cut in the middle of a line: no tree heads line at all.
    let full = case.read(EXPORT);
    case.write("cut-bytes.jsonl", &full[..full.len() / 2]);
    let report = case.verify_export_file("cut-bytes.jsonl");
    let f = failed(&report);
    assert!(
        f.contains(&check::EXPORT_FORMAT) && f.contains(&check::TREE_HEADS),
        "{report:#?}"
    );
    // Truncated by someone holding the key, who re-signs a head over what is
    // left and drops the later heads: the export is consistent with itself,
    // but the receipt Anaïs kept when leaving proves entries are missing.
    let texts = &case.texts[..15];
    let heads = [
        case.heads[0].clone(),
        case.key.tree_head(SID, texts, 15, T0 + 500 * MIN),
    ];
    case.write("truncated-resigned.jsonl", &testing::export(texts, &heads));
    let report = case.verify_export_file("truncated-resigned.jsonl");
    assert_eq!(failed(&report), ["receipt 2"], "{report:#?}");
    assert_eq!(
        detail(&report, "receipt 2"),
        "the receipt covers 18 entries but the export holds 15: the log was truncated"
    );
}

#[test]
fn an_entry_of_another_person_is_caught() {
    let case = Case::new();
    // Bruno's real sign-in (entry 7, with its valid path) slipped into
    // Anaïs's proof, re-signed with the real key.
    let mut p = case.proof();
    let all = evidence_for(&case.texts, "p_bruno");
    let bruno = all.iter().find(|e| e.index == 7).unwrap().clone();
    let at = p.evidence.entries.iter().position(|e| e.index > 7).unwrap();
    p.evidence.entries.insert(at, bruno);
    case.write("foreign.jws", &case.key.sign_json(&p));
    let report = case.verify_proof_file("foreign.jws");
    assert_eq!(failed(&report), [check::ENTRIES_BELONG], "{report:#?}");
    assert_eq!(
        detail(&report, check::ENTRIES_BELONG),
        "entry 7 (signed_in) is about \"p_bruno\", not \"p_anais\", and is no session control event"
    );

    // A forged entry for another person inserted in the export.
    let mut texts = case.texts.clone();
    let forged = entry(
        12,
        T0 + 60 * MIN,
        kind::SIGNED_IN,
        "p_bruno",
        &json!({"slot": "2026-12-03.pm"}),
    );
    texts.insert(12, forged);
    case.write("foreign.jsonl", &testing::export(&texts, &case.heads));
    let report = case.verify_export_file("foreign.jsonl");
    let f = failed(&report);
    assert!(
        f.contains(&check::SEQUENCE) && f.contains(&check::TREE_HEADS),
        "{report:#?}"
    );
}

#[test]
fn a_rewritten_history_fails_the_receipt() {
    let case = Case::new();
    // Someone holding the key hides Anaïs's hidden tab (entry 10) and
    // re-signs every tree head over the rewritten log. The export is then
    // consistent with itself; the receipt she kept when leaving is not.
    let mut texts = case.texts.clone();
    texts[10] = texts[10].replace("\"visible\":false", "\"visible\":true");
    assert_ne!(texts[10], case.texts[10]);
    let heads: Vec<String> = [7, 18, 22, texts.len()]
        .iter()
        .map(|&n| case.key.tree_head(SID, &texts, n, T0 + 500 * MIN))
        .collect();
    case.write("rewritten.jsonl", &testing::export(&texts, &heads));
    let report = proof::verify_export(&case.read("rewritten.jsonl"), &case.jwks(), &[]);
    assert!(report.ok, "the rewrite is self-consistent: {report:#?}");
    let report = case.verify_export_file("rewritten.jsonl");
    assert_eq!(failed(&report), ["receipt 2"], "{report:#?}");
    assert_eq!(
        detail(&report, "receipt 2"),
        "the log's first 18 entries no longer hash to the receipt's root: the history it covers was rewritten"
    );
    // The sign-in receipt predates the rewritten entry: it still holds.
    assert!(report.check("receipt 1").unwrap().ok);
}

#[test]
fn the_files_are_what_the_auditor_receives() {
    let case = Case::new();
    for name in [PROOF, EXPORT, JWKS, RECEIPT_SIGNIN, RECEIPT_LEAVE] {
        assert!(Path::new(&case.path(name)).is_file(), "{name}");
    }
    // The proof is one line of base64url; the export ends with the heads.
    let jws = case.read(PROOF);
    assert_eq!(jws.split('.').count(), 3);
    let export = case.read(EXPORT);
    assert!(
        export
            .lines()
            .last()
            .unwrap()
            .starts_with("{\"tree_heads\":[")
    );
    assert_eq!(export.lines().count(), case.texts.len() + 1);
}
