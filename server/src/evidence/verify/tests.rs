use super::*;
use std::net::TcpListener;

fn serve_once(answer: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"GET /.well-known/jwks.json HTTP/1.1\r\n"));
        s.write_all(answer).unwrap();
    });
    format!("http://{addr}/.well-known/jwks.json")
}

#[test]
fn fetches_a_jwks_over_plain_http() {
    let url = serve_once(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 61\r\n\r\n\
          {\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"k\",\"x\":\"AAAA\"}]}",
    );
    let jwks = load_jwks(&url).unwrap();
    assert_eq!(jwks.keys[0].kid, "k");
    let url = serve_once(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\n{\"key\r\n7\r\ns\":[]}\n\r\n0\r\n\r\n",
    );
    assert!(load_jwks(&url).unwrap().keys.is_empty());
    let url = serve_once(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    let e = load_jwks(&url).unwrap_err();
    assert!(e.contains("404 Not Found"), "{e}");
    let e = load_jwks("https://example.invalid/jwks.json").unwrap_err();
    assert!(e.contains("https is not supported"), "{e}");
}

#[test]
fn tells_a_proof_from_an_export() {
    assert_eq!(detect("eyJh.eyJi.c2ln\n"), Some(Input::Proof));
    assert_eq!(
        detect("\u{feff}{\"v\":1}\n{\"tree_heads\":[]}"),
        Some(Input::Export)
    );
    assert_eq!(detect("hello"), None);
    assert_eq!(detect("a.b"), None);
    assert_eq!(detect("a.b c.d"), None);
}

/// A signed proof for `p_a` over a short log where they grant
/// recording, are recorded (audio) and withdraw; the same with the
/// withdrawal edited into a grant, signed with the real key; the JWKS.
fn recorded_proof() -> (String, String, Jwks) {
    use cadre_protocol::evidence::kind;
    use cadre_protocol::proof::{Person, SessionMeta};
    use cadre_protocol::testing::{Signer, event, with_paths};
    use cadre_protocol::{Role, SessionKind};
    use serde_json::json;

    const T0: i64 = 1_796_284_800_000; // 2026-12-03T09:00:00+01:00
    const MIN: i64 = 60_000;
    let key = Signer::new("k");
    let events = [
        (
            T0,
            kind::CONNECTION_OPENED,
            "p_a",
            json!({"connection_id": "c1"}),
        ),
        (
            T0 + MIN,
            kind::CONSENT,
            "p_a",
            json!({"consent": "recording", "granted": true, "text_sha256": "ab".repeat(32)}),
        ),
        (
            T0 + 2 * MIN,
            kind::RECORDING_ARMED,
            "p_f",
            json!({"armed": true}),
        ),
        (
            T0 + 2 * MIN,
            kind::RECORDING_STARTED,
            "server",
            json!({"segment": 1, "participants": ["p_a"]}),
        ),
        (
            T0 + 10 * MIN,
            kind::CONSENT,
            "p_a",
            json!({"consent": "recording", "granted": false, "text_sha256": "ab".repeat(32)}),
        ),
        (
            T0 + 10 * MIN,
            kind::RECORDING_STOPPED,
            "server",
            json!({"segment": 1, "reason": "consent_withdrawn", "started_at": T0 + 2 * MIN,
                   "closed_at": T0 + 10 * MIN, "participants": ["p_a"],
                   "files": [{"participant": "p_a", "track": "audio", "name": "s_v/1/p_a.ogg",
                              "bytes": 4096, "sha256": "cd".repeat(32)}]}),
        ),
        (
            T0 + 11 * MIN,
            kind::SESSION_STATE,
            "server",
            json!({"action": "suspend", "from": "open", "to": "suspended",
                   "reason": "connections poor"}),
        ),
        (
            T0 + 12 * MIN,
            kind::QUALITY,
            "p_a",
            json!({"minute": T0 + 11 * MIN, "samples": 3, "score": "poor",
                   "reasons": ["loss_high"]}),
        ),
        (
            T0 + 12 * MIN,
            kind::SESSION_STATE,
            "p_f",
            json!({"action": "postpone", "from": "suspended", "to": "postponed",
                   "reason": "network outage", "planned_start": "2026-12-10T09:00:00+01:00",
                   "planned_end": "2026-12-10T10:00:00+01:00"}),
        ),
    ];
    let texts: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(seq, (ts, kind, actor, payload))| {
            event("s_v", seq as u64, *ts, kind, actor, payload).canonical()
        })
        .collect();
    let head = key.tree_head("s_v", &texts, texts.len(), T0 + 60 * MIN);
    let all: Vec<usize> = (0..texts.len()).collect();
    let evidence = with_paths(&texts, &all);
    let payload = proof::build_payload(
        T0 + 61 * MIN,
        "O",
        &SessionMeta::new(
            "s_v",
            "T",
            SessionKind::Formation,
            T0,
            T0 + 60 * MIN,
            "Europe/Paris",
        ),
        &Person {
            id: "p_a".into(),
            name: "Anaïs".into(),
            role: Role::Participant,
        },
        &head,
        evidence,
    )
    .unwrap();
    let mut edited = payload.clone();
    edited.consents[1].granted = true;
    (key.sign_json(&payload), key.sign_json(&edited), key.jwks())
}

fn run_on(jws: &str, jwks: &Jwks, json: bool) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("proof.jws");
    std::fs::write(&file, jws).unwrap();
    let keys = dir.path().join("jwks.json");
    std::fs::write(&keys, serde_json::to_string(jwks).unwrap()).unwrap();
    let args = VerifyArgs {
        file,
        jwks: Some(keys.display().to_string()),
        receipts: Vec::new(),
        consistency: Vec::new(),
        tsa_certs: Vec::new(),
        json,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with(&args, &mut out, &mut err);
    (code, String::from_utf8(out).unwrap())
}

#[test]
fn a_verified_proof_shows_its_consents_and_recordings() {
    let (jws, edited, jwks) = recorded_proof();
    let (code, out) = run_on(&jws, &jwks, false);
    assert_eq!(code, EXIT_VERIFIED, "{out}");
    assert!(
        out.contains(
            "  ✓ consents and recordings recomputed: 2 consent decisions and 1 recorded segment"
        ),
        "{out}"
    );
    let summary = out
        .split("Consents and recordings (as the verified proof states them):\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary in {out}"));
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "  - 2026-12-03T09:01:00+01:00 recording: granted (wording sha256 {})",
            "ab".repeat(32)
        )
    );
    assert!(
        lines[1].starts_with("  - 2026-12-03T09:10:00+01:00 recording: withdrawn"),
        "{out}"
    );
    assert_eq!(
        lines[2],
        format!(
            "  - recorded in segment 1 from 2026-12-03T09:02:00+01:00 to 2026-12-03T09:10:00+01:00 \
             (stopped: consent_withdrawn); audio s_v/1/p_a.ogg (4096 bytes, sha256 {}); files kept",
            "cd".repeat(32)
        )
    );
    assert_eq!(lines[3], "VERIFIED: all 10 checks hold.");
    let course = out
        .split("Course of the session (as the verified proof states it):\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no control events in {out}"));
    let lines: Vec<&str> = course.lines().collect();
    assert_eq!(lines[0], "  - 2026-12-03T09:02:00+01:00 recording armed");
    assert_eq!(
        lines[1],
        "  - 2026-12-03T09:11:00+01:00 suspend: open → suspended by cadre (automatic) \
         (reason: connections poor)"
    );
    assert_eq!(
        lines[2],
        "  - 2026-12-03T09:12:00+01:00 postpone: suspended → postponed by p_f \
         (reason: network outage); new planned window 2026-12-10T09:00:00+01:00 to \
         2026-12-10T10:00:00+01:00"
    );
    assert_eq!(
        lines[3],
        "Connection conditions (as the verified proof states them):"
    );
    assert_eq!(
        lines[4],
        "  - 1 minute measured (0 excellent, 0 good, 1 poor, 0 lost); poorest: \
         2026-12-03T09:11:00+01:00 poor (loss_high)"
    );
    let (code, out) = run_on(&jws, &jwks, true);
    assert_eq!(code, EXIT_VERIFIED);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["consents"][1]["granted"], false);
    assert_eq!(v["recordings"][0]["files"][0]["bytes"], 4096);
    assert_eq!(v["control"][2]["action"], "postpone");
    assert_eq!(v["control"][2]["planned_end"], "2026-12-10T10:00:00+01:00");
    assert_eq!(v["control"][1]["by"], "server");
    assert_eq!(v["conditions"]["minutes"], 1);
    assert_eq!(v["conditions"]["by_score"]["poor"], 1);

    // An edited history fails, and nothing of it is shown as fact.
    let (code, out) = run_on(&edited, &jwks, false);
    assert_eq!(code, EXIT_FAILED, "{out}");
    assert!(
        out.contains("  ✗ consents and recordings recomputed: consent decision 2"),
        "{out}"
    );
    assert!(!out.contains("Consents and recordings (as"), "{out}");
    let (_, out) = run_on(&edited, &jwks, true);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        v.get("consents").is_none()
            && v.get("recordings").is_none()
            && v.get("control").is_none()
            && v.get("conditions").is_none(),
        "{out}"
    );
}

#[test]
fn authorities_split_into_host_and_port() {
    assert_eq!(split_authority("h:8080").unwrap(), ("h", 8080));
    assert_eq!(split_authority("h").unwrap(), ("h", 80));
    assert_eq!(split_authority("[::1]:9").unwrap(), ("::1", 9));
    assert!(split_authority("h:x").is_err());
}
