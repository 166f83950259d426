//! `cadre verify` as an auditor runs it: files in a directory, keys from a
//! file or a plain HTTP URL, a verdict and an exit status.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cadre_protocol::evidence::{TREE_HEAD_TYP, TreeHead, kind};
use cadre_protocol::merkle;
use cadre_protocol::proof::{self, AttendanceProof, Consistency, Person, SessionMeta};
use cadre_protocol::testing::{Signer, event, evidence_for, leaves};
use cadre_protocol::{Role, SessionKind};
use cadre_server::evidence::verify::{
    EXIT_FAILED, EXIT_USAGE, EXIT_VERIFIED, VerifyArgs, run_with,
};
use serde_json::json;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// 2026-12-03T09:00:00+01:00.
const T0: i64 = 1_796_284_800_000;
const MIN: i64 = 60_000;

struct Files {
    dir: tempfile::TempDir,
    key: Signer,
}

impl Files {
    /// A morning with one participant: a proof, an export, a receipt and
    /// the JWKS, written as files.
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        let key = Signer::new("k-cli");
        let files = Files { dir, key };

        let conn = json!({"connection_id": "c1", "ip": "192.0.2.1", "user_agent": "t"});
        let events = [
            (T0 - 30 * MIN, kind::SERVER_STARTED, "server", json!({})),
            (T0 - 2 * MIN, kind::CONNECTION_OPENED, "p_c", conn),
            (
                T0 + MIN,
                kind::SIGNED_IN,
                "p_c",
                json!({"slot": "2026-12-03.am"}),
            ),
            (
                T0 + 3 * MIN,
                kind::CONNECTION_OPENED,
                "p_d",
                json!({"connection_id": "c2"}),
            ),
            (
                T0 + 170 * MIN,
                kind::CONNECTION_CLOSED,
                "p_c",
                json!({"connection_id": "c1", "reason": "left", "last_seen": T0 + 170 * MIN}),
            ),
        ];
        let texts: Vec<String> = events
            .iter()
            .enumerate()
            .map(|(seq, (ts, kind, actor, payload))| {
                event("s_cli", seq as u64, *ts, kind, actor, payload).canonical()
            })
            .collect();
        let receipt = files.key.tree_head("s_cli", &texts, 3, T0 + MIN);
        let head = files
            .key
            .tree_head("s_cli", &texts, texts.len(), T0 + 180 * MIN);
        let evidence = evidence_for(&texts, "p_c");
        let payload = proof::build_payload(
            T0 + 181 * MIN,
            "Organisme Exemple",
            &SessionMeta::new(
                "s_cli",
                "Bilan, entretien 3",
                SessionKind::Bilan,
                T0,
                T0 + 180 * MIN,
                "Europe/Paris",
            ),
            &Person {
                id: "p_c".into(),
                name: "Camille Roux".into(),
                role: Role::Participant,
            },
            &head,
            evidence,
        )
        .unwrap();
        files.write("proof.jws", &files.key.sign_json(&payload));
        let mut export = texts.join("\n");
        export.push('\n');
        export.push_str(&json!({ "tree_heads": [receipt.clone(), head] }).to_string());
        export.push('\n');
        files.write("export.jsonl", &export);
        files.write("receipt.jws", &receipt);
        // What the server's consistency endpoint answers from 3 to 5.
        let path = merkle::consistency_proof(&leaves(&texts), 3).unwrap();
        files.write(
            "consistency.json",
            &serde_json::to_string(&Consistency::new("s_cli", 3, 5, &path)).unwrap(),
        );
        // A receipt as the browser keeps it: the `receipt` message.
        files.write(
            "receipt.json",
            &json!({"type": "receipt", "tree_head": receipt}).to_string(),
        );
        files.write(
            "jwks.json",
            &serde_json::to_string(&files.key.jwks()).unwrap(),
        );
        files
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    fn args(&self, file: &str) -> VerifyArgs {
        VerifyArgs {
            file: self.path(file),
            jwks: Some(self.path("jwks.json").display().to_string()),
            receipts: Vec::new(),
            consistency: Vec::new(),
            tsa_certs: Vec::new(),
            json: false,
        }
    }
}

/// Runs the command; returns (status, stdout, stderr).
fn run(args: &VerifyArgs) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with(args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn a_good_proof_passes_with_every_check_shown() {
    let f = Files::new();
    let (code, out, err) = run(&f.args("proof.jws"));
    assert_eq!(code, EXIT_VERIFIED, "{out}{err}");
    assert!(out.contains("(attendance proof)"), "{out}");
    assert!(
        out.contains("  ✓ proof signature: signed with published key \"k-cli\""),
        "{out}"
    );
    assert!(out.contains("  ✓ attendance recomputed: "), "{out}");
    assert!(out.contains("Camille Roux"), "{out}");
    assert!(
        out.trim_end().ends_with("VERIFIED: all 10 checks hold."),
        "{out}"
    );
    assert!(err.is_empty(), "{err}");
}

#[test]
fn a_tampered_proof_fails_and_names_the_check() {
    let f = Files::new();
    let jws = f.read("proof.jws");
    let payload = URL_SAFE_NO_PAD
        .decode(jws.split('.').nth(1).unwrap())
        .unwrap();
    let mut p: AttendanceProof = serde_json::from_slice(&payload).unwrap();
    p.half_days[0].connected_seconds += 1200;
    f.write("edited.jws", &f.key.sign_json(&p));
    let (code, out, _) = run(&f.args("edited.jws"));
    assert_eq!(code, EXIT_FAILED, "{out}");
    assert!(
        out.contains("  ✗ attendance recomputed: 2026-12-03.am: connected_seconds is "),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("FAILED: 1 of 10 checks do not hold."),
        "{out}"
    );
}

#[test]
fn a_proof_is_checked_against_receipts_through_consistency_proofs() {
    let f = Files::new();
    let mut args = f.args("proof.jws");
    args.receipts = vec![f.path("receipt.json")];
    args.consistency = vec![f.path("consistency.json")];
    let (code, out, err) = run(&args);
    assert_eq!(code, EXIT_VERIFIED, "{out}{err}");
    assert!(
        out.contains(
            "  ✓ receipt 1: the log of 5 entries the proof was drawn from extends the receipt's 3 entries"
        ),
        "{out}"
    );
    assert!(
        out.trim_end().ends_with("VERIFIED: all 11 checks hold."),
        "{out}"
    );

    // Receipts the key holder signed over another history, or another
    // session, or a size the proof's log never had with that root.
    let signed_head = |sid: &str, size: u64, root: &str| {
        f.key.sign(
            &serde_json::to_vec(&TreeHead {
                typ: TREE_HEAD_TYP.into(),
                v: 1,
                sid: sid.into(),
                tree_size: size,
                root: root.into(),
                ts: T0 + MIN,
            })
            .unwrap(),
        )
    };
    let proof_head = {
        let payload = URL_SAFE_NO_PAD
            .decode(f.read("proof.jws").split('.').nth(1).unwrap())
            .unwrap();
        let p: AttendanceProof = serde_json::from_slice(&payload).unwrap();
        let head: TreeHead = serde_json::from_slice(
            &cadre_protocol::evidence::unverified_payload(&p.evidence.tree_head).unwrap(),
        )
        .unwrap();
        head
    };
    for (receipt, expected) in [
        (
            signed_head("s_cli", 3, &"ab".repeat(32)),
            "does not link the root of 3 entries to the root of 5",
        ),
        (
            signed_head("s_other", 3, &"ab".repeat(32)),
            "the receipt is of session \"s_other\"",
        ),
        (
            signed_head("s_cli", 5, &"ab".repeat(32)),
            "both cover 5 entries but sign different roots",
        ),
    ] {
        f.write("other.jws", &receipt);
        args.receipts = vec![f.path("other.jws")];
        let (code, out, _) = run(&args);
        assert_eq!(code, EXIT_FAILED, "{out}");
        assert!(out.contains(expected), "{expected}: {out}");
    }
    // The same root at the same size needs no consistency proof.
    f.write("same.jws", &signed_head("s_cli", 5, &proof_head.root));
    args.receipts = vec![f.path("same.jws")];
    args.consistency = Vec::new();
    let (code, out, _) = run(&args);
    assert_eq!(code, EXIT_VERIFIED, "{out}");
    assert!(out.contains("sign the same 5 entries"), "{out}");
    // The same three in one bundle, as the browser downloads them.
    let bundle = json!({
        "typ": "cadre.verification-bundle", "v": 1,
        "session": {"id": "s_cli", "title": "Bilan, entretien 3"},
        "proof": f.read("proof.jws"),
        "receipts": [f.read("receipt.jws")],
        "consistency": [serde_json::from_str::<serde_json::Value>(&f.read("consistency.json")).unwrap()],
    });
    f.write("bundle.json", &bundle.to_string());
    let (code, out, err) = run(&f.args("bundle.json"));
    assert_eq!(code, EXIT_VERIFIED, "{out}{err}");
    assert!(out.contains("  ✓ receipt 1: the log of 5 entries"), "{out}");
    assert!(out.contains("Camille Roux"), "{out}");
    let mut newer = bundle.clone();
    newer["v"] = json!(2);
    f.write("newer.json", &newer.to_string());
    let (code, _, err) = run(&f.args("newer.json"));
    assert_eq!(code, EXIT_USAGE);
    assert!(err.contains("this verifier reads version 1"), "{err}");
    let mut broken = bundle.clone();
    broken["proof"] = json!(42);
    f.write("broken.json", &broken.to_string());
    let (code, _, err) = run(&f.args("broken.json"));
    assert_eq!(code, EXIT_USAGE);
    assert!(err.contains("malformed verification bundle"), "{err}");
    // A bundle whose consistency proof is missing fails like separate files.
    let mut bare = bundle.clone();
    bare["consistency"] = json!([]);
    f.write("bare.json", &bare.to_string());
    let (code, out, _) = run(&f.args("bare.json"));
    assert_eq!(code, EXIT_FAILED, "{out}");

    // Without the consistency proof, the check fails and says where to get it.
    args.receipts = vec![f.path("receipt.jws")];
    let (code, out, _) = run(&args);
    assert_eq!(code, EXIT_FAILED, "{out}");
    assert!(
        out.contains("/api/sessions/s_cli/ledger/consistency?from=3&to=5"),
        "{out}"
    );
}

#[test]
fn an_export_is_checked_against_receipts_in_either_form() {
    let f = Files::new();
    let mut args = f.args("export.jsonl");
    args.receipts = vec![f.path("receipt.jws"), f.path("receipt.json")];
    let (code, out, err) = run(&args);
    assert_eq!(code, EXIT_VERIFIED, "{out}{err}");
    assert!(out.contains("(ledger export)"), "{out}");
    assert!(
        out.contains("  ✓ receipt 2: the log of 5 entries extends the receipt's 3 entries"),
        "{out}"
    );

    // The log cut back to two entries, tree heads line kept.
    let export = f.read("export.jsonl");
    let lines: Vec<&str> = export.lines().collect();
    f.write(
        "cut.jsonl",
        &format!("{}\n{}\n{}\n", lines[0], lines[1], lines[5]),
    );
    args.file = f.path("cut.jsonl");
    let (code, out, _) = run(&args);
    assert_eq!(code, EXIT_FAILED, "{out}");
    assert!(
        out.contains("  ✗ receipt 1: the receipt covers 3 entries but the export holds 2"),
        "{out}"
    );
}

#[test]
fn json_output_carries_the_whole_report() {
    let f = Files::new();
    let mut args = f.args("proof.jws");
    args.json = true;
    let (code, out, _) = run(&args);
    assert_eq!(code, EXIT_VERIFIED);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["kind"], "proof");
    assert_eq!(v["ok"], true);
    assert_eq!(v["checks"].as_array().unwrap().len(), 10);
    assert_eq!(v["checks"][0]["name"], "proof signature");
}

#[test]
fn keys_come_from_a_plain_http_url() {
    let f = Files::new();
    let body = f.read("jwks.json");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().unwrap()
    );
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        write!(
            s,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8(got).unwrap()
    });
    let mut args = f.args("proof.jws");
    args.jwks = Some(url);
    let (code, out, err) = run(&args);
    assert_eq!(code, EXIT_VERIFIED, "{out}{err}");
    let request = server.join().unwrap();
    assert!(
        request.starts_with("GET /.well-known/jwks.json HTTP/1.1\r\n"),
        "{request}"
    );
}

#[test]
fn unusable_inputs_exit_2_and_say_why() {
    let f = Files::new();
    let mut args = f.args("missing.jws");
    let (code, _, err) = run(&args);
    assert_eq!(code, EXIT_USAGE);
    assert!(err.contains("cannot read"), "{err}");

    args = f.args("proof.jws");
    args.jwks = Some("https://cadre.example/.well-known/jwks.json".into());
    let (code, _, err) = run(&args);
    assert_eq!(code, EXIT_USAGE);
    assert!(
        err.contains("https is not supported by the offline verifier"),
        "{err}"
    );

    args = f.args("proof.jws");
    args.consistency = vec![f.path("consistency.json")];
    let (code, _, err) = run(&args);
    assert_eq!(code, EXIT_USAGE);
    assert!(err.contains("--consistency goes with --receipt"), "{err}");
    args = f.args("export.jsonl");
    args.receipts = vec![f.path("receipt.jws")];
    args.consistency = vec![f.path("consistency.json")];
    let (code, _, err) = run(&args);
    assert_eq!(code, EXIT_USAGE);
    assert!(err.contains("--consistency applies to a proof"), "{err}");
    args = f.args("proof.jws");
    args.receipts = vec![f.path("receipt.jws")];
    args.consistency = vec![f.path("jwks.json")];
    let (code, _, err) = run(&args);
    assert_eq!(code, EXIT_USAGE);
    assert!(err.contains("is not a consistency proof"), "{err}");

    f.write("notes.txt", "attendance: fine, trust me");
    let (code, _, err) = run(&f.args("notes.txt"));
    assert_eq!(code, EXIT_USAGE);
    assert!(err.contains("neither an attendance proof"), "{err}");
}

#[test]
fn without_keys_signatures_cannot_pass() {
    let f = Files::new();
    let mut args = f.args("proof.jws");
    args.jwks = None;
    let (code, out, err) = run(&args);
    assert_eq!(code, EXIT_FAILED, "{out}");
    assert!(err.contains("no --jwks given"), "{err}");
    assert!(out.contains("  ✗ proof signature: "), "{out}");
    assert!(Path::new(&f.path("proof.jws")).exists());
}
