//! The dossier d'audit of an action (issue 16 §4): an action of two
//! sessions and three beneficiaries where people joined by WebSocket, gave
//! and withdrew a consent and filed a difficulty that was answered. Its zip
//! holds every file its index lists, and nothing else; `SHA256SUMS` matches;
//! every command `LISEZMOI.txt` gives runs as written with the real `cadre`
//! binary on the unzipped files and says they hold; one byte changed in a
//! copy makes the same commands refuse. The certificates name the very
//! proof files beside them. An unknown action is 404, no credential 401, a
//! staff login works, and each download is in the audit log. `cadre action
//! dossier` writes the same layout.

use crate::reports::cadre_binary;
use cadre_protocol::api::SessionView;
use cadre_protocol::staff::StaffRole;
use cadre_server::directory::staff;
use cadre_tests::{StatusCode, TestServer, person};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PEOPLE: [&str; 3] = ["Karim Benali", "Sophie Dubois", "Éloïse Lefèvre-Cœur"];
const DIFFICULTY: &str = "Le son coupe toutes les deux minutes";
const ANSWER: &str = "Nous avons changé de salle virtuelle ; merci de nous le dire.";

/// An action of two sessions and three beneficiaries, after the people
/// came: returns the action id and the sessions.
async fn action_that_took_place(server: &TestServer) -> (String, Vec<SessionView>) {
    let identity = cadre_tests::identity();
    let (status, body) = server
        .send(
            server
                .http()
                .put(server.url("/api/organisation"))
                .bearer_auth(server.organiser_token())
                .json(&identity),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let beneficiaries: Vec<Value> = PEOPLE.iter().map(|n| json!({"name": n})).collect();
    let (status, action) = server
        .post(
            "/api/actions",
            &json!({
                "title": "Prévenir les risques psychosociaux",
                "nature": "formation",
                "planned_hours": 7,
                "beneficiaries": beneficiaries,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{action}");
    let aid = action["id"].as_str().expect("an id").to_owned();
    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let (status, session) = server
            .post(
                &format!("/api/actions/{aid}/sessions"),
                &json!({
                    "planned_start": cadre_tests::rfc3339(start),
                    "planned_end": cadre_tests::rfc3339(start + chrono::Duration::hours(3)),
                    "facilitators": [{"name": "Claire Martin"}],
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        sessions.push(serde_json::from_value::<SessionView>(session).expect("a session"));
    }

    // First session: Claire, Karim and Sophie. Karim agrees to the
    // recording, then withdraws; Sophie files a difficulty, answered.
    let first = &sessions[0];
    let claire = server.join(first, "Claire Martin").await;
    let mut karim = server.join(first, "Karim Benali").await;
    let sophie = server.join(first, "Sophie Dubois").await;
    let (_, lobby) = server
        .get_public(&format!(
            "/api/join?token={}",
            person(first, "Karim Benali").link.token
        ))
        .await;
    let wording = lobby["consent_texts"]
        .as_array()
        .and_then(|t| {
            t.iter()
                .find(|t| t["consent"] == "recording" && t["lang"] == "fr")
        })
        .and_then(|t| t["sha256"].as_str())
        .unwrap_or_else(|| panic!("no recording wording in the lobby: {lobby}"))
        .to_owned();
    for granted in [true, false] {
        karim
            .send_json(&json!({"type": "consent", "consent": "recording",
                               "granted": granted, "text_sha256": wording}))
            .await;
        let recorded = karim.recv_evidence_type("consent_recorded").await;
        assert_eq!(recorded["granted"], granted);
    }
    let (status, filed) = server
        .post_raw(
            &format!(
                "/api/reports?token={}",
                person(first, "Sophie Dubois").link.token
            ),
            None,
            json!({ "text": DIFFICULTY }).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let rid = filed["id"].as_str().expect("a report id");
    let (status, answered) = server
        .post(
            &format!("/api/sessions/{}/reports/{rid}/answer", first.id),
            &json!({ "answer": ANSWER, "close": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    karim.leave().await;
    sophie.leave().await;
    claire.leave().await;
    server.wait_ledger(&first.id, "connection_closed", 3).await;

    // Second session: Claire, Karim and Éloïse.
    let second = &sessions[1];
    let claire = server.join(second, "Claire Martin").await;
    let karim = server.join(second, "Karim Benali").await;
    let eloise = server.join(second, "Éloïse Lefèvre-Cœur").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    karim.leave().await;
    eloise.leave().await;
    claire.leave().await;
    server.wait_ledger(&second.id, "connection_closed", 3).await;
    (aid, sessions)
}

/// A GET of `path` with the organiser token, or the given cookie, or no
/// credential: status, headers, body.
async fn download(
    server: &TestServer,
    path: &str,
    bearer: bool,
    cookie: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = server.http().get(server.url(path));
    if bearer {
        request = request.bearer_auth(server.organiser_token());
    }
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.bytes().await.expect("a body").to_vec(),
    )
}

/// Every file of the zip (name → bytes), in the zip's order.
fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("the answer is a zip");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).expect("a zip entry");
            let name = file.name().expect("a UTF-8 name").into_owned();
            assert_eq!(
                file.compression(),
                zip::CompressionMethod::Deflated,
                "{name} is deflated"
            );
            let mut content = Vec::new();
            file.read_to_end(&mut content).expect("an entry reads");
            (name, content)
        })
        .collect()
}

/// Writes the files under `dir`; returns the dossier's folder.
fn extract(files: &[(String, Vec<u8>)], dir: &Path) -> PathBuf {
    for (name, bytes) in files {
        assert!(
            !name.starts_with('/') && !name.split('/').any(|p| p == ".."),
            "{name} stays inside the folder"
        );
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("make the folder");
        std::fs::write(&path, bytes).expect("write a file");
    }
    let root = files[0].0.split('/').next().expect("a folder");
    dir.join(root)
}

/// The command lines of the index (`  $ …`), as written.
fn commands(index: &str) -> Vec<String> {
    index
        .lines()
        .filter_map(|l| l.strip_prefix("  $ "))
        .map(str::to_owned)
        .collect()
}

/// Runs `command` with `sh` in `dir`, with `cadre` on the PATH as an
/// auditor installs it: exit code and output.
fn run(command: &str, dir: &Path, bin: &Path) -> (i32, String) {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .expect("sh runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A folder holding `cadre` (a link to the binary under test).
fn cadre_on_path(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("a bin folder");
    std::os::unix::fs::symlink(cadre_binary(), bin.join("cadre")).expect("link cadre");
    bin
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn payload(jws: &str) -> Value {
    use base64::Engine as _;
    let part = jws.trim().split('.').nth(1).expect("a JWS");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url"),
    )
    .expect("JSON")
}

#[tokio::test]
async fn the_dossier_holds_every_listed_file_and_its_index_commands_verify_them() {
    let server = TestServer::start().await;
    let (aid, sessions) = action_that_took_place(&server).await;
    let path = format!("/api/actions/{aid}/dossier.zip");

    let (status, headers, zip) = download(&server, &path, true, None).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&zip));
    assert_eq!(headers[CONTENT_TYPE], "application/zip");
    let disposition = headers[CONTENT_DISPOSITION].to_str().expect("ASCII");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz_paris())
        .format("%Y-%m-%d")
        .to_string();
    let stem = format!("dossier-audit-prevenir-les-risques-psychosociaux-{today}");
    assert!(
        disposition.starts_with(&format!("attachment; filename=\"{stem}.zip\"")),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''Dossier%20d%27audit%20-%20Pr%C3%A9venir"),
        "{disposition}"
    );

    let files = unzip(&zip);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().all(|n| n.starts_with(&format!("{stem}/"))),
        "one folder: {names:?}"
    );
    let inside: BTreeSet<String> = names
        .iter()
        .map(|n| n[stem.len() + 1..].to_owned())
        .collect();
    assert_eq!(inside.len(), files.len(), "no name twice: {names:?}");
    let file = |name: &str| -> &[u8] {
        &files
            .iter()
            .find(|(n, _)| n == &format!("{stem}/{name}"))
            .unwrap_or_else(|| panic!("{name} is in the dossier: {inside:#?}"))
            .1
    };

    // The layout: per session, its documents and each person's; the
    // certificates; the keys, the index and the sums.
    let day = &today;
    let mut expected: BTreeSet<String> = ["LISEZMOI.txt", "SHA256SUMS", "jwks.json"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let slug = |n: &str| cadre_server::app::actions::slug(n);
    for (i, _) in sessions.iter().enumerate() {
        let dir = format!(
            "seances/{:02}-{day}-prevenir-les-risques-psychosociaux",
            i + 1
        );
        for f in [
            "emargement.pdf",
            "emargement.csv",
            "registre.jsonl",
            "difficultes.csv",
            "consentements.csv",
        ] {
            expected.insert(format!("{dir}/{f}"));
        }
        for who in ["Claire Martin"].iter().chain(PEOPLE.iter()) {
            let s = slug(who);
            expected.insert(format!("{dir}/releve-presence-{s}.pdf"));
            expected.insert(format!("{dir}/attestation-{s}.jws"));
            expected.insert(format!("{dir}/verification-{s}.json"));
        }
    }
    let certificates: Vec<&String> = inside
        .iter()
        .filter(|n| n.starts_with("certificats/"))
        .collect();
    assert_eq!(
        certificates.len(),
        6,
        "a PDF and a JWS each: {certificates:?}"
    );
    for who in PEOPLE {
        for ext in ["pdf", "jws"] {
            assert!(
                certificates.iter().any(|c| c.starts_with(&format!(
                    "certificats/certificat-realisation-prevenir-les-risques-psychosociaux-{}-",
                    slug(who)
                )) && c.ends_with(ext)),
                "{who}'s certificate ({ext}): {certificates:?}"
            );
        }
    }
    expected.extend(certificates.iter().map(|c| (*c).clone()));
    assert_eq!(inside, expected);

    // The index lists every file, each with what it proves.
    let index = String::from_utf8(file("LISEZMOI.txt").to_vec()).expect("UTF-8");
    assert!(index.starts_with("DOSSIER D'AUDIT : Prévenir les risques psychosociaux"));
    for name in &inside {
        let at = index
            .lines()
            .position(|l| l == name)
            .unwrap_or_else(|| panic!("{name} is listed in the index:\n{index}"));
        let what = index.lines().nth(at + 1).unwrap_or_default();
        assert!(
            what.starts_with("    ") && what.trim().len() > 8,
            "{name} says what it proves: {what:?}"
        );
    }
    assert!(index.contains(&format!("{}/.well-known/jwks.json", server.public_url())));
    assert!(index.contains("SHA256SUMS"));
    assert!(
        index.contains("relevé de présence d'Éloïse Lefèvre-Cœur (participant·e)"),
        "{index}"
    );

    // SHA256SUMS: one line per other file, each matching.
    let sums = String::from_utf8(file("SHA256SUMS").to_vec()).expect("UTF-8");
    let listed: BTreeSet<String> = sums
        .lines()
        .map(|l| {
            let (hash, name) = l.split_once("  ").expect("`hash  name`");
            assert_eq!(hash, sha256(file(name)), "{name}");
            name.to_owned()
        })
        .collect();
    let mut others = inside.clone();
    others.remove("SHA256SUMS");
    assert_eq!(listed, others);

    // The published keys are the copy's.
    let published: Value = serde_json::from_str(&server.jwks_text().await).expect("published JWKS");
    let copy: Value = serde_json::from_slice(file("jwks.json")).expect("the copy");
    assert_eq!(copy, published);

    // What the CSVs and the certificates say.
    let first_dir = format!("seances/01-{day}-prevenir-les-risques-psychosociaux");
    let consents =
        String::from_utf8(file(&format!("{first_dir}/consentements.csv")).to_vec()).expect("UTF-8");
    let karim_rows: Vec<&str> = consents
        .lines()
        .filter(|l| l.contains("Karim Benali"))
        .collect();
    assert_eq!(karim_rows.len(), 2, "{consents}");
    assert!(
        karim_rows[0].contains("enregistrement de la séance") && karim_rows[0].contains("accordé"),
        "{consents}"
    );
    assert!(karim_rows[1].contains("retiré"), "{consents}");
    let second_dir = format!("seances/02-{day}-prevenir-les-risques-psychosociaux");
    let quiet = String::from_utf8(file(&format!("{second_dir}/consentements.csv")).to_vec())
        .expect("UTF-8");
    assert_eq!(quiet.lines().count(), 1, "only the header: {quiet}");
    let difficulties =
        String::from_utf8(file(&format!("{first_dir}/difficultes.csv")).to_vec()).expect("UTF-8");
    assert!(
        difficulties.contains(DIFFICULTY) && difficulties.contains(ANSWER),
        "{difficulties}"
    );
    for who in PEOPLE {
        let jws = certificates
            .iter()
            .find(|c| c.contains(&slug(who)) && c.ends_with(".jws"))
            .expect("a certificate");
        let cert = payload(std::str::from_utf8(file(jws)).expect("text"));
        for s in cert["sessions"].as_array().expect("sessions") {
            let i = sessions
                .iter()
                .position(|x| x.id == s["id"].as_str().unwrap_or_default())
                .expect("a session of the action");
            let proof = format!(
                "seances/{:02}-{day}-prevenir-les-risques-psychosociaux/attestation-{}.jws",
                i + 1,
                slug(who)
            );
            assert_eq!(
                s["proof_sha256"].as_str(),
                Some(sha256(file(&proof)).as_str()),
                "{who}'s certificate names {proof}"
            );
        }
    }

    // Every command of the index, as written, on the unzipped dossier.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let bin = cadre_on_path(dir.path());
    let root = extract(&files, &dir.path().join("intact"));
    let lines = commands(&index);
    assert!(
        lines.iter().any(|c| c.starts_with("sha256sum -c"))
            && [
                "certificats/",
                "/attestation-",
                "/verification-",
                "/registre.jsonl"
            ]
            .iter()
            .all(|k| lines
                .iter()
                .any(|c| c.starts_with("cadre verify ") && c.contains(k))),
        "a command for each kind of file: {lines:#?}"
    );
    for command in &lines {
        let (code, out) = run(command, &root, &bin);
        assert_eq!(code, 0, "`{command}` holds on the dossier:\n{out}");
    }
    let (_, all) = run(lines.last().expect("a command"), &root, &bin);
    assert!(
        all.contains("Toutes les pièces signées sont vérifiées."),
        "{all}"
    );

    // One byte changed in a copy: the same commands refuse it.
    for victim in [
        format!("{first_dir}/attestation-{}.jws", slug("Karim Benali")),
        format!("{second_dir}/registre.jsonl"),
        format!("{first_dir}/verification-{}.json", slug("Sophie Dubois")),
        (*certificates
            .iter()
            .find(|c| c.ends_with(".jws"))
            .expect("a certificate"))
        .clone(),
    ] {
        let copy = extract(
            &files,
            &dir.path()
                .join(format!("altered-{}", sha256(victim.as_bytes()))),
        );
        let target = copy.join(&victim);
        let mut bytes = std::fs::read(&target).expect("read the victim");
        let at = bytes.len() / 2;
        // The low bit: never a change of case that a hex or base64
        // reader could take for the same value.
        bytes[at] ^= 1;
        std::fs::write(&target, bytes).expect("alter a byte");
        let kind = if victim.ends_with("registre.jsonl") {
            "/registre.jsonl"
        } else if victim.contains("/verification-") {
            "/verification-"
        } else if victim.starts_with("certificats/") {
            "certificats/"
        } else {
            "/attestation-"
        };
        let example = lines
            .iter()
            .find(|c| c.starts_with("cadre verify ") && c.contains(kind))
            .expect("an example command");
        let example_file = example.split_whitespace().nth(2).expect("a file");
        let command = example.replace(example_file, &victim);
        let (code, out) = run(&command, &copy, &bin);
        assert_ne!(code, 0, "`{command}` refuses the altered file:\n{out}");
        let (code, out) = run("sha256sum -c SHA256SUMS", &copy, &bin);
        assert_ne!(code, 0, "the sums show the change:\n{out}");
        assert!(out.contains(&format!("{victim}: FAILED")), "{out}");
        let (code, out) = run(lines.last().expect("a command"), &copy, &bin);
        assert_ne!(code, 0, "the whole check refuses:\n{out}");
        assert!(out.contains(&format!("REFUSÉ : {victim}")), "{out}");
    }

    // The organiser's download is in the audit log.
    let log = audit(&server).await;
    assert!(
        log.iter()
            .any(|e| e.action == "GET /api/actions/{aid}/dossier.zip"
                && e.actor == "organiser_token"
                && e.target.as_deref() == Some(path.as_str())),
        "{log:#?}"
    );
}

fn chrono_tz_paris() -> chrono::FixedOffset {
    // The dossier is dated in the action's zone (Europe/Paris here); the
    // offset of now in Paris is +1 or +2 hours, read from the protocol's
    // own calendar.
    let local = cadre_protocol::attendance::local_time(cadre_protocol::now_ms(), "Europe/Paris");
    chrono::DateTime::parse_from_rfc3339(&local)
        .expect("an RFC 3339 time")
        .timezone()
}

/// The whole audit log, oldest first.
async fn audit(server: &TestServer) -> Vec<cadre_protocol::staff::AuditEntry> {
    let mut all = server
        .app()
        .catalog()
        .run(|c| staff::audit_page(c, None, 10_000))
        .await
        .expect("read the audit log");
    all.reverse();
    all
}

#[tokio::test]
async fn an_unknown_action_is_404_no_credential_401_and_a_staff_login_works() {
    let server = TestServer::start().await;
    let (aid, _) = action_that_took_place(&server).await;
    let path = format!("/api/actions/{aid}/dossier.zip");

    let (status, _, body) =
        download(&server, "/api/actions/a_unknown/dossier.zip", true, None).await;
    let body: Value = serde_json::from_slice(&body).expect("a JSON error");
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("a_unknown"),
        "{body}"
    );

    let (status, _, body) = download(&server, &path, false, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_slice(&body).expect("a JSON error");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("staff login"),
        "{body}"
    );
    let (status, _, _) = download(&server, &path, false, Some("cadre_staff=forged")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let before = audit(&server).await.len();
    let (status, _, _) = download(&server, "/api/actions/a_unknown/dossier.zip", true, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        audit(&server).await.len(),
        before,
        "a refused download hands nothing over and is not logged as one"
    );

    // A coordinator logged in to the console downloads it with the cookie
    // alone (a GET needs no CSRF token), and is named in the audit log.
    let email = "coordination@example.org";
    server
        .app()
        .catalog()
        .run(move |c| {
            let hash = staff::hash_password("correct horse battery")?;
            staff::add(c, email, "Camille Durand", StaffRole::Coordinator, &hash, 0)
        })
        .await
        .expect("add a coordinator");
    let response = server
        .http()
        .post(server.url("/api/staff/login"))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .expect("the login answers");
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .expect("ASCII")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    let (status, headers, zip) = download(&server, &path, false, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&zip));
    assert_eq!(headers[CONTENT_TYPE], "application/zip");
    let files = unzip(&zip);
    assert!(files.iter().any(|(n, _)| n.ends_with("/LISEZMOI.txt")));
    let log = audit(&server).await;
    let entry = log.last().expect("an audit entry");
    assert_eq!(entry.action, "GET /api/actions/{aid}/dossier.zip");
    assert_eq!(entry.email.as_deref(), Some(email));
    assert_eq!(entry.target.as_deref(), Some(path.as_str()));

    // The command line writes the same dossier from the data directory.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out_file = dir.path().join("dossier.zip");
    let out = tokio::process::Command::new(cadre_binary())
        .arg("--data-dir")
        .arg(server.data_file(""))
        .args(["action", "dossier", &aid, "--out"])
        .arg(&out_file)
        .output()
        .await
        .expect("run cadre action dossier");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_cli = unzip(&std::fs::read(&out_file).expect("the CLI wrote the zip"));
    let names =
        |f: &[(String, Vec<u8>)]| -> Vec<String> { f.iter().map(|(n, _)| n.clone()).collect() };
    assert_eq!(names(&from_cli), names(&files));
    let out = tokio::process::Command::new(cadre_binary())
        .arg("--data-dir")
        .arg(server.data_file(""))
        .args(["action", "dossier", "a_unknown", "--out"])
        .arg(dir.path().join("none.zip"))
        .output()
        .await
        .expect("run cadre action dossier");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("a_unknown"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("none.zip").exists(), "nothing written");
}

#[tokio::test]
async fn an_incomplete_identity_is_refused_with_what_is_missing_and_logs_nothing() {
    let server = TestServer::start().await;
    // A name is enough to add sessions, not to issue certificates.
    let (status, body) = server
        .send(
            server
                .http()
                .put(server.url("/api/organisation"))
                .bearer_auth(server.organiser_token())
                .json(&json!({"name": "Formations Horizon"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, action) = server
        .post(
            "/api/actions",
            &json!({"title": "Écoute active", "nature": "formation", "planned_hours": 7,
                    "beneficiaries": [{"name": "Karim Benali"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{action}");
    let aid = action["id"].as_str().expect("an id");
    let start = chrono::Utc::now();
    let (status, session) = server
        .post(
            &format!("/api/actions/{aid}/sessions"),
            &json!({
                "planned_start": cadre_tests::rfc3339(start),
                "planned_end": cadre_tests::rfc3339(start + chrono::Duration::hours(3)),
                "facilitators": [{"name": "Claire Martin"}],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let before = audit(&server).await.len();
    let (status, _, body) = download(
        &server,
        &format!("/api/actions/{aid}/dossier.zip"),
        true,
        None,
    )
    .await;
    let body: Value = serde_json::from_slice(&body).expect("a JSON error");
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("identity is incomplete") && message.contains("siret"),
        "{body}"
    );
    assert_eq!(audit(&server).await.len(), before, "nothing handed over");
}
