//! Signing key rotation (issue 17): `cadre keys add` publishes a key,
//! `cadre keys activate` makes it sign, both run from the command line on
//! the data directory of a server that keeps running. Links minted before
//! the rotation still admit over a real WebSocket; new links and tree heads
//! carry the new kid; `cadre verify` accepts an export whose heads span
//! both keys with the JWKS the server serves. Bad requests change nothing,
//! and a damaged key set stops a start with a sentence naming the file.

use cadre_protocol::Role;
use cadre_server::directory::keys::set::{KEYS_DIR, STATE_FILE};
use cadre_server::evidence::verify::{EXIT_FAILED, EXIT_VERIFIED};
use cadre_tests::{StatusCode, TestServer, WAIT, header_of, person, verify_export};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// `cadre --data-dir DIR keys ARGS…`: success, stdout, stderr.
fn keys(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(crate::reports::cadre_binary())
        .arg("--data-dir")
        .arg(data_dir)
        .arg("keys")
        .args(args)
        .output()
        .expect("run cadre keys");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cadre keys add`, which must succeed; the new kid.
fn add_key(data_dir: &Path) -> String {
    let (ok, out, err) = keys(data_dir, &["add"]);
    assert!(ok, "cadre keys add: {err}");
    out.split_whitespace()
        .nth(1)
        .filter(|_| out.starts_with("added "))
        .unwrap_or_else(|| panic!("cadre keys add names the kid it added: {out}"))
        .to_owned()
}

/// The kids a JWKS publishes, in order.
fn kids_of(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .expect("a JWKS has keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("a key has a kid").to_owned())
        .collect()
}

/// The published kids, polled over HTTP (at most [`WAIT`]) until `wanted`.
async fn wait_for_jwks(server: &TestServer, what: &str, wanted: impl Fn(&[String]) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = server.get_public("/.well-known/jwks.json").await;
        assert_eq!(status, StatusCode::OK);
        let kids = kids_of(&body);
        if wanted(&kids) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the running server did not publish {what} within {WAIT:?}: it publishes {kids:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The link the organiser is shown now for `name` (minted with the key
/// that signs now).
async fn link_now(server: &TestServer, sid: &str, name: &str) -> String {
    let (status, view) = server.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["link"]["token"].as_str())
        .unwrap_or_else(|| panic!("no link for {name} in {view}"))
        .to_owned()
}

fn kid(jws: &str) -> String {
    header_of(jws)["kid"].as_str().expect("a kid").to_owned()
}

/// A proof download for `pid`: the kid of the proof and of its tree head.
async fn proof_kids(server: &TestServer, sid: &str, pid: &str) -> (String, String) {
    let (status, body) = server
        .get(&format!("/api/sessions/{sid}/proofs/{pid}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let jws = body.as_str().expect("a proof is a JWS");
    let payload = cadre_protocol::evidence::unverified_payload(jws).unwrap();
    let proof: Value = serde_json::from_slice(&payload).unwrap();
    let head = proof["evidence"]["tree_head"].as_str().unwrap();
    (kid(jws), kid(head))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_from_the_cli_reaches_the_running_server_and_old_links_still_admit() {
    let server =
        TestServer::start_with(|c| c.keys_reload_interval = Duration::from_millis(100)).await;
    let data_dir = server.data_file("");
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let karim_id = person(&session, "Karim").id.clone();
    let old_link = person(&session, "Karim").link.token.clone();
    let first = kid(&old_link);
    let karim = server.join(&session, "Karim").await;
    karim.leave().await;
    server
        .wait_ledger(&session.id, "connection_closed", 1)
        .await;
    assert_eq!(
        proof_kids(&server, &session.id, &karim_id).await,
        (first.clone(), first.clone())
    );

    // Phase one: published and accepted everywhere, signing nothing.
    let second = add_key(&data_dir);
    assert_ne!(second, first);
    wait_for_jwks(&server, "the added key", |kids| {
        kids == [first.clone(), second.clone()]
    })
    .await;
    assert_eq!(
        kid(&link_now(&server, &session.id, "Karim").await),
        first,
        "not signing yet"
    );
    let (ok, listed, err) = keys(&data_dir, &["list"]);
    assert!(ok, "{err}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&first) && l.contains("current")),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&second) && l.contains("published")),
        "{listed}"
    );

    // Phase two: the new key signs; the old one is retired, still published.
    let (ok, out, err) = keys(&data_dir, &["activate", &second]);
    assert!(ok, "cadre keys activate: {err}");
    assert!(out.contains(&format!("{first} is retired")), "{out}");
    wait_for_jwks(&server, "the activated key first", |kids| {
        kids == [second.clone(), first.clone()]
    })
    .await;
    let new_link = link_now(&server, &session.id, "Karim").await;
    assert_eq!(kid(&new_link), second, "new links carry the new kid");
    let (ok, listed, _) = keys(&data_dir, &["list"]);
    assert!(
        ok && listed
            .lines()
            .any(|l| l.starts_with(&first) && l.contains("retired")),
        "{listed}"
    );

    // The link Karim received before the rotation admits him (its seal,
    // made under the old key, is checked with the old key), and so does
    // the one minted now.
    let again = server
        .connect(&session.id, &old_link)
        .await
        .unwrap_or_else(|(s, e)| panic!("the pre-rotation link was refused: {s} {e:?}"));
    assert_eq!(again.id, karim_id, "{}", again.welcome);
    again.leave().await;
    let claire_new = link_now(&server, &session.id, "Claire").await;
    let claire = server
        .connect(&session.id, &claire_new)
        .await
        .unwrap_or_else(|(s, e)| panic!("a post-rotation link was refused: {s} {e:?}"));
    claire.leave().await;
    server
        .wait_ledger(&session.id, "connection_closed", 3)
        .await;

    // New heads and proofs are signed with the new key.
    assert_eq!(
        proof_kids(&server, &session.id, &karim_id).await,
        (second.clone(), second.clone())
    );

    // The export's heads span both keys; the served JWKS verifies them all,
    // the old key alone does not.
    let export = server.ledger_export(&session.id).await;
    let trailer: Value = serde_json::from_str(export.lines().last().unwrap()).unwrap();
    let head_kids: Vec<String> = trailer["tree_heads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| kid(h.as_str().unwrap()))
        .collect();
    assert!(
        head_kids.contains(&first) && head_kids.contains(&second),
        "{head_kids:?}"
    );
    let served = server.jwks_text().await;
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = verify_export(dir.path(), &export, &served, &[]);
    assert_eq!(
        code, EXIT_VERIFIED,
        "an export spanning the rotation verifies: {out}{err}"
    );
    let mut old_only: Value = serde_json::from_str(&served).unwrap();
    old_only["keys"]
        .as_array_mut()
        .unwrap()
        .retain(|k| k["kid"] == first.as_str());
    let (code, out, err) = verify_export(dir.path(), &export, &old_only.to_string(), &[]);
    assert_eq!(
        code, EXIT_FAILED,
        "heads signed with the new key need it: {out}{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reloads_its_keys_on_sighup() {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut child = tokio::process::Command::new(crate::reports::cadre_binary())
        .arg("--data-dir")
        .arg(&data_dir)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--json-ready",
            "--no-turn",
        ])
        // Polling would take an hour: only the signal can explain a reload.
        .args(["--keys-reload-seconds", "3600"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start cadre serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("cadre serve says it is ready")
        .unwrap()
        .expect("a ready line");
    let ready: Value = serde_json::from_str(&ready).unwrap();
    let jwks_url = format!("{}/.well-known/jwks.json", ready["url"].as_str().unwrap());
    let http = reqwest::Client::new();
    let published = || async {
        let body: Value = http
            .get(&jwks_url)
            .send()
            .await
            .expect("the JWKS answers")
            .json()
            .await
            .expect("a JWKS");
        kids_of(&body)
    };
    let first = published().await;
    assert_eq!(first.len(), 1, "{first:?}");
    let pid = child.id().expect("the server's pid").to_string();
    let hangup = || {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let wait_for = |wanted: Vec<String>| {
        let published = &published;
        async move {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let now = published().await;
                if now == wanted {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "after SIGHUP the server publishes {now:?}, not {wanted:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };

    let second = add_key(&data_dir);
    hangup();
    wait_for(vec![first[0].clone(), second.clone()]).await;
    let (ok, _, err) = keys(&data_dir, &["activate", &second]);
    assert!(ok, "{err}");
    hangup();
    wait_for(vec![second.clone(), first[0].clone()]).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP did not end the server"
    );
}

/// An existing data directory keeps its kid and gains no file; bad
/// requests change nothing; a damaged set stops a start (naming the file)
/// and a running server keeps the set it has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_requests_change_nothing_and_a_damaged_set_stops_a_start() {
    let server = TestServer::start().await;
    let data_dir = server.data_file("");
    let jwks: Value = serde_json::from_str(&server.jwks_text().await).unwrap();
    let first = kids_of(&jwks);
    assert_eq!(first.len(), 1);
    let first = first[0].clone();
    assert!(
        !data_dir.join(KEYS_DIR).exists(),
        "a data directory without rotation is unchanged"
    );

    let state = data_dir.join(KEYS_DIR).join(STATE_FILE);
    for (args, says) in [
        (
            vec!["activate", "not-a-kid"],
            "\"not-a-kid\" is not a key id",
        ),
        (vec!["activate", "../../etc/passwd"], "is not a key id"),
        (
            vec!["activate", "AAAAAAAAAAAAAAAA"],
            "no key AAAAAAAAAAAAAAAA in the key set",
        ),
        // One kid in 64 begins with a dash: an id, not a flag.
        (
            vec!["activate", "-AAAAAAAAAAAAAAA"],
            "no key -AAAAAAAAAAAAAAA in the key set",
        ),
        (
            vec!["remove", "-AAAAAAAAAAAAAAA"],
            "no key -AAAAAAAAAAAAAAA in the key set",
        ),
        (vec!["remove", first.as_str()], "must stay published"),
    ] {
        let (ok, out, err) = keys(&data_dir, &args);
        assert!(!ok, "{args:?} is refused: {out}");
        assert!(
            err.contains(says) && err.contains("nothing was changed"),
            "{args:?}: {err}"
        );
        assert!(!state.exists(), "{args:?} wrote nothing");
        assert!(
            !data_dir.join(KEYS_DIR).exists(),
            "{args:?} created nothing"
        );
    }

    // A corrupted key file: refused by the CLI and by the reload, naming
    // the file; the running server keeps publishing and signing as before.
    let second = add_key(&data_dir);
    let before = std::fs::read(&state).unwrap();
    let key_file = data_dir.join(KEYS_DIR).join(format!("{second}.pk8"));
    std::fs::write(&key_file, b"not a key at all").unwrap();
    for args in [vec!["list"], vec!["activate", second.as_str()], vec!["add"]] {
        let (ok, _, err) = keys(&data_dir, &args);
        assert!(!ok, "{args:?} on a damaged set");
        assert!(
            err.contains(&format!("{second}.pk8")),
            "{args:?} names the file: {err}"
        );
    }
    assert_eq!(std::fs::read(&state).unwrap(), before, "nothing changed");
    let reload = server.app().reload_keys().unwrap_err().to_string();
    assert!(reload.contains(&format!("{second}.pk8")), "{reload}");
    assert_eq!(
        kids_of(&serde_json::from_str(&server.jwks_text().await).unwrap()),
        std::slice::from_ref(&first),
        "the running server keeps the set it has"
    );
    server.stop().await;

    let refused = |why: &str| {
        let data_dir = data_dir.clone();
        let why = why.to_owned();
        async move {
            let mut config = cadre_server::Config::new(&data_dir);
            config.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            match cadre_server::Server::bind(config).await {
                Ok(_) => panic!("the server started on a damaged key set ({why})"),
                Err(e) => e.to_string(),
            }
        }
    };
    let e = refused("a corrupted key").await;
    assert!(
        e.contains(&key_file.display().to_string()),
        "the start names the file: {e}"
    );

    // A state file naming a key whose file is missing.
    std::fs::remove_file(&key_file).unwrap();
    let e = refused("a missing key").await;
    assert!(
        e.contains(STATE_FILE) && e.contains(&second) && e.contains("is missing"),
        "the start names the state file and the missing key: {e}"
    );

    // A key file holding another key than the one its name and the state
    // file say.
    std::fs::copy(
        data_dir.join(cadre_server::directory::keys::SIGNING_KEY_FILE),
        &key_file,
    )
    .unwrap();
    let e = refused("a key file holding another key").await;
    assert!(e.contains(&format!("{second}.pk8")), "{e}");
}

/// A backup carries the key set (state file and added keys); a restored
/// directory starts with the same keys in the same states.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_carries_the_key_set() {
    use cadre_server::directory::keys::KeySet;
    let server = TestServer::start().await;
    let data_dir = server.data_file("");
    let second = add_key(&data_dir);
    let (ok, _, err) = keys(&data_dir, &["activate", &second]);
    assert!(ok, "{err}");
    let spare = add_key(&data_dir);
    let before = KeySet::load(&data_dir).unwrap().summary();
    let scratch = tempfile::tempdir().unwrap();
    let dest = scratch.path().join("backup");
    let report = cadre_server::backup::backup(&cadre_server::backup::BackupRequest {
        data_dir: data_dir.clone(),
        dest: dest.clone(),
        with_recordings: false,
        recordings_dir: None,
    })
    .expect("the backup is taken");
    let listed: Vec<&str> = report
        .manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    for wanted in [
        format!("{KEYS_DIR}/{STATE_FILE}"),
        format!("{KEYS_DIR}/{second}.pk8"),
        format!("{KEYS_DIR}/{spare}.pk8"),
    ] {
        assert!(listed.contains(&wanted.as_str()), "{wanted} in {listed:?}");
    }
    assert!(
        !report.left_out.iter().any(|(name, _)| name == KEYS_DIR),
        "{:?}",
        report.left_out
    );
    let restored = scratch.path().join("restored");
    cadre_server::backup::restore(&dest, &restored, false).expect("the backup restores");
    assert_eq!(KeySet::load(&restored).unwrap().summary(), before);
}
