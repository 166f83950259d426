//! The shipped systemd unit (`deploy/cadre.service`), checked with systemd's
//! own tools rather than read by eye: it loads (`systemd-analyze verify`,
//! with its command pointed at the binary under test), its hardening keeps
//! the exposure score at or under 2.0 (`systemd-analyze security`), the
//! command it runs is one `cadre` accepts with the shipped configuration
//! file, and its readiness probe (`ExecStartPost`) returns once a real
//! server's `/readyz` answers. Starting the unit itself needs systemd as
//! PID 1, which a test machine does not have.

use crate::reports::cadre_binary;
use cadre_tests::TestServer;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn unit_text() -> String {
    std::fs::read_to_string(repo("deploy/cadre.service")).expect("deploy/cadre.service")
}

/// The value of the unit's first `key=` line.
fn setting(unit: &str, key: &str) -> String {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("the unit sets {key}="))
        .to_owned()
}

fn systemd_analyze() -> &'static str {
    let path = "/usr/bin/systemd-analyze";
    assert!(
        Path::new(path).exists(),
        "systemd-analyze is not installed: `apt-get install systemd` (scripts/test.sh installs it when missing)"
    );
    path
}

#[test]
fn the_unit_loads_is_hardened_and_runs_a_command_cadre_accepts() {
    let analyze = systemd_analyze();
    let unit = unit_text();
    let exec = setting(&unit, "ExecStart");
    let mut words = exec.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/cadre"), "{exec}");
    let args: Vec<&str> = words.collect();
    assert_eq!(
        args,
        ["serve", "--config", "/etc/cadre/cadre.toml"],
        "{exec}"
    );

    // The same unit, run from the binary under test with the shipped
    // configuration file (systemd checks that the command exists).
    let dir = tempfile::tempdir().unwrap();
    let bin = cadre_binary();
    let config = repo("deploy/cadre.toml");
    let local = unit
        .replace("/usr/local/bin/cadre", &bin.display().to_string())
        .replace("/etc/cadre/cadre.toml", &config.display().to_string());
    let path = dir.path().join("cadre.service");
    std::fs::write(&path, local).unwrap();

    let verify = Command::new(analyze)
        .args(["verify", &path.display().to_string()])
        .output()
        .expect("run systemd-analyze verify");
    let said = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "systemd-analyze verify: {said}");
    // Not even a warning (an unknown key, a bad value) about our unit.
    assert!(
        !said.contains("cadre.service"),
        "systemd-analyze verify warns: {said}"
    );

    let security = Command::new(analyze)
        .args([
            "security",
            "--offline=true",
            "--threshold=20",
            "--no-pager",
            &path.display().to_string(),
        ])
        .output()
        .expect("run systemd-analyze security");
    let report = String::from_utf8_lossy(&security.stdout);
    assert!(
        security.status.success(),
        "the unit's exposure is above 2.0:\n{report}{}",
        String::from_utf8_lossy(&security.stderr)
    );
    assert!(
        report.contains("Overall exposure level for cadre.service"),
        "{report}"
    );

    // What the unit runs, with the data directory it gives, is accepted by
    // every check `serve` makes before it starts.
    let data_dir = setting(&unit, "Environment")
        .strip_prefix("CADRE_DATA_DIR=")
        .expect("the first Environment= names the data directory")
        .to_owned();
    assert_eq!(data_dir, "/var/lib/cadre");
    assert!(
        unit.contains("StateDirectory=cadre\n"),
        "systemd creates /var/lib/cadre"
    );
    let check = Command::new(&bin)
        .env_clear()
        .env("CADRE_DATA_DIR", dir.path().join("data"))
        .args(["config", "check", "--config", &config.display().to_string()])
        .output()
        .expect("run cadre config check");
    assert!(
        check.status.success(),
        "cadre config check of the unit's file: {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[tokio::test]
async fn the_units_readiness_probe_returns_once_readyz_answers() {
    let unit = unit_text();
    let post = setting(&unit, "ExecStartPost");
    let script = post
        .strip_prefix("/bin/sh -c '")
        .and_then(|s| s.strip_suffix('\''))
        .unwrap_or_else(|| panic!("ExecStartPost is a /bin/sh -c script: {post}"));
    let server = TestServer::start().await;
    let ready = server.url("/readyz");
    let probe = |script: String, url: String| {
        tokio::task::spawn_blocking(move || {
            Command::new("/bin/sh")
                .args(["-c", &script])
                .env("CADRE_READY_URL", url)
                .output()
                .expect("run the probe")
        })
    };
    let out = probe(script.to_owned(), ready).await.unwrap();
    assert!(
        out.status.success(),
        "the probe did not see /readyz: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A server that does not answer /readyz fails the start, with a
    // sentence (three tries here rather than the unit's hundred).
    let short = script.replacen("seq 1 100", "seq 1 3", 1);
    assert_ne!(short, script, "the probe counts its tries with seq 1 100");
    let out = probe(short, server.url("/no-such-page")).await.unwrap();
    assert!(!out.status.success(), "the probe passed on a 404");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cadre not ready at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.stop().await;
}
