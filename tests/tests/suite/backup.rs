//! `cadre backup` and `cadre restore` as an operator runs them, through the
//! binary, beside a real server on the same data directory: a backup taken
//! while people join and evidence is written restores into a fresh
//! directory, a server starts on it, and `cadre verify` accepts its ledger
//! export with receipts handed out before the backup; a full disk fails the
//! backup cleanly while the server goes on; a damaged backup, a taken
//! destination and a non-empty target are refused, changing nothing.

use crate::reports::cadre_binary;
use cadre_protocol::Role;
use cadre_protocol::api::SessionView;
use cadre_protocol::evidence::{TreeHead, unverified_payload};
use cadre_server::evidence::verify::{EXIT_VERIFIED, VerifyArgs, run_with};
use cadre_tests::{StatusCode, TestServer, WAIT};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_util::sync::CancellationToken;

const PEOPLE: [(&str, Role); 3] = [
    ("Claire Martin", Role::Facilitator),
    ("Karim Benali", Role::Participant),
    ("Sophie Dubois", Role::Participant),
];

/// `cadre --data-dir DIR ARGS…`: exit status, stdout, stderr.
async fn cadre(data_dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(cadre_binary());
    for (name, _) in std::env::vars() {
        if name.starts_with("CADRE_") {
            cmd.env_remove(name);
        }
    }
    let out = cmd
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .await
        .expect("run cadre");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn head_of(jws: &str) -> TreeHead {
    serde_json::from_slice(&unverified_payload(jws).expect("payload")).expect("a tree head")
}

/// Karim signs in; the receipt he is handed.
async fn signed_in_receipt(server: &TestServer, session: &SessionView) -> String {
    let mut karim = server.join(session, "Karim Benali").await;
    let slot = karim.open_slot().await;
    karim
        .send_json(&json!({"type": "sign_in", "slot": slot}))
        .await;
    let signed = karim.recv_evidence_type("signed").await;
    signed["receipt"].as_str().expect("a receipt").to_owned()
}

/// Joins, presence changes made durable, leaves, again and again until
/// `stop`: the load a backup runs under. Counts rounds.
fn load(
    server: Arc<TestServer>,
    session: SessionView,
    stop: CancellationToken,
    rounds: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.is_cancelled() {
            let mut sophie = server.join(&session, "Sophie Dubois").await;
            for visible in [false, true] {
                sophie
                    .send_json(&json!({"type": "presence", "visible": visible, "focused": visible}))
                    .await;
                sophie.recv_recorded("visibility").await;
            }
            sophie.leave().await;
            rounds.fetch_add(1, Ordering::SeqCst);
        }
    })
}

/// Waits (at most [`WAIT`]) until the load has done more than `than` rounds.
async fn rounds_beyond(rounds: &AtomicUsize, than: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while rounds.load(Ordering::SeqCst) <= than {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load did no round beyond {than} in {WAIT:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn manifest(backup: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).expect("a manifest"))
        .expect("the manifest is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_and_verifies_with_receipts_from_before() {
    // Joins in a loop: the per-address admission rate would refuse them.
    let server =
        Arc::new(TestServer::start_with(|c| c.per_address_admissions_per_second = 0).await);
    let session = server.create_session(&PEOPLE).await;
    let sid = session.id.clone();
    let receipt = signed_in_receipt(&server, &session).await;

    let (stop, rounds) = (CancellationToken::new(), Arc::new(AtomicUsize::new(0)));
    let loader = load(
        server.clone(),
        session.clone(),
        stop.clone(),
        rounds.clone(),
    );
    rounds_beyond(&rounds, 2).await;
    // A tree head signed just before the backup, as a receipt handed at
    // that moment would be.
    let latest = server
        .app()
        .ledger()
        .tree_head(&sid)
        .await
        .expect("a tree head")
        .jws;

    let scratch = tempfile::tempdir().unwrap();
    let dest = scratch.path().join("backup-1");
    let data = server.data_file("");
    let started = std::time::Instant::now();
    let (code, out, err) = cadre(&data, &["backup", &dest.display().to_string()]).await;
    let took = started.elapsed();
    assert_eq!(code, 0, "the backup succeeds under load: {out}{err}");
    assert!(out.contains("backup written to"), "{out}");
    assert!(
        out.contains("left out: recordings") || !data.join("recordings").exists(),
        "{out}"
    );
    // The server goes on after it.
    let after = rounds.load(Ordering::SeqCst);
    rounds_beyond(&rounds, after).await;
    stop.cancel();
    loader.await.expect("the load ran without failing");
    eprintln!("backup under load took {took:?}; {after} load rounds by its end");

    // What the manifest says.
    let m = manifest(&dest);
    assert_eq!(m["format"], "cadre-backup/1");
    let names: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "cadre.sqlite3",
            "ledger.sqlite3",
            "signing-key.pk8",
            "organiser-token",
            "public-url"
        ]
    );
    let log = m["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sid"] == sid.as_str())
        .expect("the session's log is in the manifest");
    assert!(
        log["entries"].as_u64().unwrap() >= head_of(&latest).tree_size,
        "the copy holds what was signed before it: {log}"
    );
    assert!(log["tree_head"].is_string(), "{log}");
    for leftover in std::fs::read_dir(scratch.path()).unwrap().flatten() {
        assert_eq!(
            leftover.file_name(),
            "backup-1",
            "only the finished backup is there"
        );
    }

    // Restored into a fresh directory, served.
    let restored_dir = tempfile::tempdir().unwrap();
    let (code, out, err) = cadre(
        restored_dir.path(),
        &["restore", &dest.display().to_string()],
    )
    .await;
    assert_eq!(code, 0, "the restore succeeds: {out}{err}");
    assert!(out.contains("every hash checked"), "{out}");
    let jwks_before = server.jwks_text().await;
    let restored = TestServer::start_on(restored_dir, |_| {}).await;
    assert_eq!(restored.jwks_text().await, jwks_before, "the same keys");
    let (status, view) = restored.get(&format!("/api/sessions/{sid}")).await;
    assert_eq!(status, StatusCode::OK, "the catalogue came back: {view}");
    // Karim's link works on the restored server.
    let karim = restored.join(&session, "Karim Benali").await;
    drop(karim);

    // `cadre verify` accepts the restored ledger with both receipts.
    let export = restored.ledger_export(&sid).await;
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = files.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let args = VerifyArgs {
        file: write("ledger.jsonl", &export),
        jwks: Some(write("jwks.json", &jwks_before).display().to_string()),
        receipts: vec![
            write("receipt-1.jws", &receipt),
            write("receipt-2.jws", &latest),
        ],
        consistency: Vec::new(),
        tsa_certs: Vec::new(),
        json: false,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with(&args, &mut out, &mut err);
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert_eq!(code, EXIT_VERIFIED, "{out}{err}");
    assert!(out.contains("✓ receipt 1"), "{out}");
    assert!(out.contains("✓ receipt 2"), "{out}");
}

/// A small tmpfs, unmounted (and its mount point removed) on drop.
struct SmallDisk {
    at: PathBuf,
}

impl SmallDisk {
    /// Mounts `bytes` of tmpfs at `at`. A real full filesystem, the most
    /// honest simulation this machine allows (root may mount here); the
    /// backup then meets ENOSPC as on a full disk, not a signal as under
    /// `RLIMIT_FSIZE`.
    fn mount(at: PathBuf, bytes: u64) -> SmallDisk {
        std::fs::create_dir_all(&at).unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes},mode=0700"),
                "tmpfs",
            ])
            .arg(&at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill it, which needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { at }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.at).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_to_a_full_disk_fails_cleanly_and_the_server_goes_on() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    // Enough in the databases to overflow the small disk.
    for _ in 0..10 {
        server.create_session(&PEOPLE).await;
    }
    let _receipt = signed_in_receipt(&server, &session).await;
    let data = server.data_file("");
    let held: u64 = [
        "cadre.sqlite3",
        "cadre.sqlite3-wal",
        "ledger.sqlite3",
        "ledger.sqlite3-wal",
    ]
    .iter()
    .filter_map(|f| std::fs::metadata(data.join(f)).ok())
    .map(|m| m.len())
    .sum();
    const SMALL: u64 = 64 * 1024;
    assert!(
        held > 2 * SMALL,
        "the databases hold {held} bytes, more than the disk"
    );

    let scratch = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(scratch.path().join("small"), SMALL);
    let dest = disk.at.join("backup");
    let (code, out, err) = cadre(&data, &["backup", &dest.display().to_string()]).await;
    assert_ne!(code, 0, "a backup to a full disk fails: {out}");
    assert!(err.contains("the backup failed"), "{err}");
    assert!(
        err.contains("full") || err.contains("No space left"),
        "the error says the disk is full: {err}"
    );
    let left: Vec<_> = std::fs::read_dir(&disk.at)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "nothing is left on the disk, no half backup: {left:?}"
    );

    // The server goes on: a join, durable evidence, a backup elsewhere.
    let mut karim = server.join(&session, "Karim Benali").await;
    karim
        .send_json(&json!({"type": "presence", "visible": false, "focused": false}))
        .await;
    karim.recv_recorded("visibility").await;
    let roomy = scratch.path().join("roomy");
    let (code, out, err) = cadre(&data, &["backup", &roomy.display().to_string()]).await;
    assert_eq!(code, 0, "a backup with room succeeds: {out}{err}");
    drop(disk);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_backup_a_taken_destination_and_a_non_empty_target_are_refused() {
    let server = TestServer::start().await;
    let session = server.create_session(&PEOPLE).await;
    let _receipt = signed_in_receipt(&server, &session).await;
    let data = server.data_file("");
    let scratch = tempfile::tempdir().unwrap();
    let good = scratch.path().join("good");
    let (code, _, err) = cadre(&data, &["backup", &good.display().to_string()]).await;
    assert_eq!(code, 0, "{err}");

    // A destination that exists is never written over.
    let (code, _, err) = cadre(&data, &["backup", &good.display().to_string()]).await;
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    assert!(check_restores(&good).await, "the first backup is untouched");
    // A directory without cadre data.
    let (code, _, err) = cadre(
        &scratch.path().join("nothing"),
        &["backup", &scratch.path().join("b").display().to_string()],
    )
    .await;
    assert_ne!(code, 0);
    assert!(err.contains("no cadre data in"), "{err}");

    // Damaged copies, each refused before anything is written.
    type Damage = fn(&Path);
    let cases: [(&str, Damage, &str); 5] = [
        (
            "a byte changed in the ledger",
            |b| {
                let path = b.join("ledger.sqlite3");
                let mut bytes = std::fs::read(&path).unwrap();
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x01;
                std::fs::write(&path, bytes).unwrap();
            },
            "ledger.sqlite3: its SHA-256 is",
        ),
        (
            "a truncated catalogue",
            |b| {
                let path = b.join("cadre.sqlite3");
                let bytes = std::fs::read(&path).unwrap();
                std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
            },
            "cadre.sqlite3: ",
        ),
        (
            "the key missing",
            |b| std::fs::remove_file(b.join("signing-key.pk8")).unwrap(),
            "signing-key.pk8: cannot read it",
        ),
        (
            "a file the manifest does not list",
            |b| std::fs::write(b.join("extra.sqlite3"), b"x").unwrap(),
            "extra.sqlite3: the manifest does not list it",
        ),
        (
            "no manifest",
            |b| std::fs::remove_file(b.join("manifest.json")).unwrap(),
            "is not a cadre backup",
        ),
    ];
    for (what, damage, expected) in cases {
        let copy = scratch.path().join("damaged");
        let _ = std::fs::remove_dir_all(&copy);
        copy_tree(&good, &copy);
        damage(&copy);
        let target = scratch.path().join("target");
        let (code, _, err) = cadre(&target, &["restore", &copy.display().to_string()]).await;
        assert_ne!(code, 0, "{what} is refused");
        assert!(err.contains(expected), "{what}: {expected:?} in {err}");
        assert!(
            !target.exists() || std::fs::read_dir(&target).unwrap().next().is_none(),
            "{what}: nothing was restored"
        );
    }

    // A target that holds files: refused unless --force, which replaces
    // the backup's files and drops a stale WAL.
    let target = scratch.path().join("occupied");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("organiser-token"), "old-token").unwrap();
    std::fs::write(target.join("ledger.sqlite3-wal"), "stale").unwrap();
    let (code, _, err) = cadre(&target, &["restore", &good.display().to_string()]).await;
    assert_ne!(code, 0);
    assert!(err.contains("is not empty (2 entries)"), "{err}");
    assert_eq!(
        std::fs::read_to_string(target.join("organiser-token")).unwrap(),
        "old-token"
    );
    let (code, out, err) = cadre(
        &target,
        &["restore", "--force", &good.display().to_string()],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(target.join("organiser-token"))
            .unwrap()
            .trim(),
        server.organiser_token()
    );
    assert!(
        !target.join("ledger.sqlite3-wal").exists(),
        "the stale WAL is gone"
    );
}

/// True when the backup at `backup` restores into a fresh directory.
async fn check_restores(backup: &Path) -> bool {
    let fresh = tempfile::tempdir().unwrap();
    let (code, _, _) = cadre(fresh.path(), &["restore", &backup.display().to_string()]).await;
    code == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_copied_only_when_asked_and_files_being_written_never() {
    let server = TestServer::start().await;
    let data = server.data_file("");
    // Files as the recorder leaves them: finished ones, and a composed view
    // still being written under its temporary name.
    let segment = data.join("recordings").join("s_rec").join("1");
    std::fs::create_dir_all(&segment).unwrap();
    std::fs::write(segment.join("p_a-audio.ogg"), vec![7u8; 5000]).unwrap();
    std::fs::write(segment.join("p_a.webm"), vec![9u8; 3000]).unwrap();
    std::fs::write(segment.join(".segment.composed.webm.part"), b"half").unwrap();

    let scratch = tempfile::tempdir().unwrap();
    let without = scratch.path().join("without");
    let (code, out, err) = cadre(&data, &["backup", &without.display().to_string()]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("left out: recordings (recordings are copied only with --with-recordings)"),
        "{out}"
    );
    assert!(!without.join("recordings").exists());
    assert_eq!(manifest(&without)["with_recordings"], false);

    let with = scratch.path().join("with");
    let (code, out, err) = cadre(
        &data,
        &["backup", "--with-recordings", &with.display().to_string()],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 recording files"), "{out}");
    let m = manifest(&with);
    let paths: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        &paths[paths.len() - 2..],
        [
            "recordings/s_rec/1/p_a-audio.ogg",
            "recordings/s_rec/1/p_a.webm"
        ],
        "recordings come after the databases and keys, the file being written is left out"
    );

    let restored = tempfile::tempdir().unwrap();
    let (code, _, err) = cadre(restored.path(), &["restore", &with.display().to_string()]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read(restored.path().join("recordings/s_rec/1/p_a-audio.ogg")).unwrap(),
        vec![7u8; 5000]
    );
    assert!(
        !restored
            .path()
            .join("recordings/s_rec/1/.segment.composed.webm.part")
            .exists()
    );
}
