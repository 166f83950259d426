//! A proof and an export produced by the server's own ledger and signer
//! (SQLite, group commit, tree heads signed with the server key) verify
//! with the published JWKS, exactly as an auditor would check them; and an
//! export with a line removed does not.

use cadre_protocol::attendance;
use cadre_protocol::evidence::{Entry, Jwks, kind};
use cadre_protocol::proof::{self, EvidenceEntry, Person, SessionMeta, check};
use cadre_protocol::{Role, SessionKind, now_ms};
use cadre_server::directory::keys::{self, SigningKey};
use cadre_server::evidence::jws::JwsSigner;
use cadre_server::evidence::ledger::{Ledger, NewEvent};
use serde_json::{Value, json};
use std::time::Duration;

const MIN: i64 = 60_000;
const SID: &str = "s_ledger";

fn event(kind: &'static str, actor: &str, payload: Value) -> NewEvent {
    NewEvent {
        sid: SID.into(),
        kind,
        actor: actor.into(),
        payload,
        client_ts: None,
    }
}

#[tokio::test]
async fn a_proof_and_an_export_from_the_real_ledger_verify() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::load_or_create(dir.path()).unwrap().value;
    let signer = JwsSigner::new(&key);
    // The JWKS exactly as the server publishes it.
    let published = serde_json::to_string(&keys::Jwks {
        keys: vec![key.jwk()],
    })
    .unwrap();
    std::fs::write(dir.path().join("jwks.json"), &published).unwrap();
    let jwks: Jwks =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("jwks.json")).unwrap())
            .unwrap();

    let ledger = Ledger::open(dir.path(), signer.clone()).unwrap();
    let start = now_ms();
    let session = SessionMeta::new(
        SID,
        "Accueil et cadre",
        SessionKind::Formation,
        start - 30 * MIN,
        start + 90 * MIN,
        "Europe/Paris",
    );
    let slot = attendance::slots(&session.schedule())
        .into_iter()
        .find(|s| s.1 <= start && start < s.2)
        .unwrap()
        .0;
    let conn = |id: &str| json!({"connection_id": id, "ip": "127.0.0.1", "user_agent": "test"});
    for e in [
        event(kind::SERVER_STARTED, "server", json!({})),
        event(kind::CONNECTION_OPENED, "p_a", conn("c1")),
        event(kind::CONNECTION_OPENED, "p_b", conn("c2")),
        event(
            kind::SESSION_STATE,
            "p_f",
            json!({"from": "open", "to": "running", "reason": "start"}),
        ),
        event(
            kind::SIGNIN_OPENED,
            "server",
            json!({"slot": slot, "closes_at": start + 60 * MIN}),
        ),
        event(kind::SIGNED_IN, "p_a", json!({"slot": slot})),
    ] {
        ledger.append(e).await.unwrap();
    }
    // The receipt handed to p_a at sign-in.
    let receipt = ledger.tree_head(SID).await.unwrap().jws;
    ledger
        .append(event(
            kind::COUNTERSIGNED,
            "p_f",
            json!({"slot": slot, "participant": "p_a"}),
        ))
        .await
        .unwrap();
    ledger
        .append(event(
            kind::VISIBILITY,
            "p_a",
            json!({"connection_id": "c1", "visible": false}),
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ledger
        .append(event(
            kind::VISIBILITY,
            "p_a",
            json!({"connection_id": "c1", "visible": true}),
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let last_seen = now_ms();
    for (who, id) in [("p_a", "c1"), ("p_b", "c2")] {
        ledger
            .append(event(
                kind::CONNECTION_CLOSED,
                who,
                json!({"connection_id": id, "reason": "left", "last_seen": last_seen}),
            ))
            .await
            .unwrap();
    }

    // What a GET of p_a's proof does: a fresh tree head, p_a's entries and
    // the control entries with their paths, the payload, the signature.
    let head = ledger.tree_head(SID).await.unwrap();
    let stored = ledger.entries(SID).await.unwrap();
    let chosen: Vec<_> = stored
        .iter()
        .filter(|e| e.seq < head.head.tree_size)
        .filter(|e| attendance::in_proof(&Entry::parse(&e.text).unwrap(), "p_a"))
        .collect();
    let seqs: Vec<u64> = chosen.iter().map(|e| e.seq).collect();
    let paths = ledger
        .inclusion_proofs(SID, head.head.tree_size, &seqs)
        .await
        .unwrap();
    let evidence: Vec<EvidenceEntry> = chosen
        .iter()
        .zip(&paths)
        .map(|(e, path)| EvidenceEntry::new(e.seq, e.text.clone(), path))
        .collect();
    let payload = proof::build_payload(
        now_ms(),
        "Organisme Exemple",
        &session,
        &Person {
            id: "p_a".into(),
            name: "Awa Diallo".into(),
            role: Role::Participant,
        },
        &head.jws,
        evidence,
    )
    .unwrap();
    assert_eq!(payload.evidence.entries.len(), 9);
    assert!(
        payload.totals.connected_seconds >= 2,
        "{:?}",
        payload.totals
    );
    assert!(payload.totals.present_seconds < payload.totals.connected_seconds);
    assert!(
        payload
            .half_days
            .iter()
            .any(|h| h.signed_in_at.is_some() && h.countersigned_at.is_some())
    );
    let jws = signer
        .sign_typed("cadre.attendance-proof+jws", &payload)
        .unwrap();

    let proof_file = dir.path().join("proof.jws");
    std::fs::write(&proof_file, &jws).unwrap();
    let report = proof::verify_proof(&std::fs::read_to_string(&proof_file).unwrap(), &jwks);
    assert!(report.ok, "{report:#?}");

    let export = ledger.export(SID).await.unwrap();
    let export_file = dir.path().join("export.jsonl");
    std::fs::write(&export_file, &export).unwrap();
    let text = std::fs::read_to_string(&export_file).unwrap();
    let report = proof::verify_export(&text, &jwks, std::slice::from_ref(&receipt));
    assert!(report.ok, "{report:#?}");
    assert!(report.check("receipt 1").unwrap().ok);

    // One line gone from the export: caught.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(3);
    let report = proof::verify_export(&lines.join("\n"), &jwks, &[receipt]);
    assert!(!report.ok);
    assert!(!report.check(check::SEQUENCE).unwrap().ok);
    assert!(!report.check(check::TREE_HEADS).unwrap().ok);
    assert!(!report.check("receipt 1").unwrap().ok);

    ledger.shutdown().await.unwrap();
}
