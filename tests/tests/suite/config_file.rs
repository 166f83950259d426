//! The configuration file as an operator uses it, through the `cadre`
//! binary: `cadre serve --config cadre.toml` takes every flag under its own
//! name, the environment and the command line win over it, and `cadre
//! config check` names each mistake with its line (and starts nothing).
//! The keys the tests iterate over are the binary's own (`config check
//! --json` lists every flag of `serve`), so a flag added later is covered.

use crate::reports::cadre_binary;
use cadre_tests::tls::{TestCa, Validity};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncBufReadExt as _;

/// `cadre ARGS…` with only the `CADRE_…` variables given (the test's own
/// environment's are removed): exit status, stdout, stderr.
fn cadre(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = command(args, env).output().expect("run cadre");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn command(args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(cadre_binary());
    for (name, _) in std::env::vars() {
        if name.starts_with("CADRE_") {
            cmd.env_remove(name);
        }
    }
    cmd.args(args).envs(env.iter().copied());
    cmd
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write the file");
    path
}

/// `cadre config check --config FILE --json`: every setting of `serve`.
fn settings(file: &Path, env: &[(&str, &str)]) -> Vec<Value> {
    let (code, out, err) = cadre(
        &[
            "config",
            "check",
            "--json",
            "--config",
            &file.display().to_string(),
        ],
        env,
    );
    assert_eq!(code, 0, "config check accepts {}: {err}", file.display());
    let json: Value = serde_json::from_str(&out).expect("config check --json prints JSON");
    json["settings"].as_array().expect("settings").clone()
}

fn setting<'a>(all: &'a [Value], key: &str) -> &'a Value {
    all.iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no setting {key} in {all:#?}"))
}

#[test]
fn an_unknown_key_is_named_with_its_line_and_a_close_name_and_nothing_starts() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "cadre.toml",
        "bind = \"127.0.0.1:0\"\n# a comment\npublic_url = \"https://visio.example.org\"\nheartbeat = 500\n[server]\nbind = \"x\"\n",
    );
    let shown = file.display().to_string();
    let (code, out, err) = cadre(&["config", "check", "--config", &shown], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!(
            "{shown}:3:1: unknown key `public_url`; did you mean `public-url`?"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{shown}:4:1: unknown key `heartbeat`; did you mean `heartbeat-ms`?"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{shown}:5:2: unknown key `server`")),
        "{err}"
    );
    assert!(
        err.contains("3 mistakes in the configuration file"),
        "{err}"
    );
    assert!(out.is_empty(), "nothing printed as settings: {out}");

    // `serve` refuses the same file before touching anything.
    let data = dir.path().join("data");
    let (code, _, err) = cadre(
        &[
            "--data-dir",
            &data.display().to_string(),
            "serve",
            "--config",
            &shown,
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown key `public_url`"), "{err}");
    assert!(!data.exists(), "no data directory was created");
}

#[test]
fn a_wrong_type_names_the_key_the_expected_type_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "cadre.toml",
        "heartbeat-ms = \"fast\"\nauto-suspend = \"yes\"\nice-server = \"stun:stun.example.org\"\n\nlink-lead-minutes = 1.5\npublic-url = 8080\n",
    );
    let shown = file.display().to_string();
    let (code, _, err) = cadre(&["config", "check", "--config", &shown], &[]);
    assert_eq!(code, 2, "{err}");
    for expected in [
        ":1:16: `heartbeat-ms` must be an integer, not a string",
        ":2:16: `auto-suspend` must be a boolean (true or false), not a string",
        ":3:14: `ice-server` must be an array of strings, not a string",
        ":5:21: `link-lead-minutes` must be an integer, not a float",
        ":6:14: `public-url` must be a string, not an integer",
    ] {
        assert!(
            err.contains(&format!("{shown}{expected}")),
            "{expected}\n{err}"
        );
    }
}

#[test]
fn a_bad_value_is_named_with_its_line_as_serve_would_refuse_it() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // clap's own parser for the flag.
        (
            "bind = \"nowhere\"\n",
            ":1:8: bad value for `bind`: invalid value 'nowhere' for '--bind",
        ),
        ("lang = \"de\"\n", ":1:8: bad value for `lang`: "),
        (
            "\nrate-per-second = -1\n",
            ":2:19: bad value for `rate-per-second`: invalid value '-1'",
        ),
        (
            "ice-policy = \"some\"\n",
            ":1:14: bad value for `ice-policy`: invalid value 'some'",
        ),
        // What `serve` itself checks, with the line that set it.
        (
            "bind = \"127.0.0.1:0\"\nheartbeat-ms = 5\n",
            "the settings are refused: --heartbeat-ms must be at least 100",
        ),
        (
            "tsa-url = \"https://tsa.example.org\"\n",
            "expected an http:// URL",
        ),
        // Not TOML at all.
        ("bind = \"127.0.0.1:0\"\nheartbeat-ms = \n", ":2:"),
    ];
    for (text, expected) in cases {
        let file = write(dir.path(), "bad.toml", text);
        let shown = file.display().to_string();
        let (code, out, err) = cadre(&["config", "check", "--config", &shown], &[]);
        assert_eq!(code, 2, "{text:?} is refused: {out}{err}");
        let wanted = if expected.starts_with(':') {
            format!("{shown}{expected}")
        } else {
            expected.to_owned()
        };
        assert!(
            err.contains(&wanted),
            "{text:?}: expected {wanted:?} in\n{err}"
        );
    }
    // The serve-level refusal points at the key's line.
    let file = write(
        dir.path(),
        "bad.toml",
        "bind = \"127.0.0.1:0\"\nheartbeat-ms = 5\n",
    );
    let (_, _, err) = cadre(
        &["config", "check", "--config", &file.display().to_string()],
        &[],
    );
    assert!(
        err.contains(&format!(
            "{}:2:1: `heartbeat-ms` is set here",
            file.display()
        )),
        "{err}"
    );
    // `serve` refuses it the same way, naming the line.
    let data = dir.path().join("data");
    let (code, _, err) = cadre(
        &[
            "--data-dir",
            &data.display().to_string(),
            "serve",
            "--config",
            &file.display().to_string(),
        ],
        &[],
    );
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("--heartbeat-ms must be at least 100"), "{err}");
    assert!(
        err.contains(&format!(
            "{}:2:1: `heartbeat-ms` is set here",
            file.display()
        )),
        "{err}"
    );
    // A file that is not there.
    let missing = dir.path().join("absent.toml");
    let (code, _, err) = cadre(
        &[
            "config",
            "check",
            "--config",
            &missing.display().to_string(),
        ],
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("cannot read the configuration file"), "{err}");
}

/// Starts `cadre serve --json-ready` and returns its ready line; the
/// process is killed (by its PID, through its handle) before returning.
async fn serve_ready(args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut cmd = tokio::process::Command::from(command(args, env));
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("start cadre serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
    child.kill().await.expect("stop cadre serve");
    let line = line
        .expect("cadre serve printed its ready line within 20 s")
        .expect("read stdout")
        .unwrap_or_else(|| panic!("cadre serve exited before it was ready: {args:?}"));
    serde_json::from_str(&line).expect("the ready line is JSON")
}

#[tokio::test]
async fn the_environment_overrides_the_file_and_the_command_line_overrides_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "cadre.toml",
        "bind = \"127.0.0.1:0\"\npublic-url = \"https://file.example.org\"\norganiser-token = \"token-from-the-file\"\n",
    );
    let shown = file.display().to_string();

    // config check: file, then environment over it.
    let all = settings(&file, &[]);
    assert_eq!(
        setting(&all, "public-url")["value"],
        "https://file.example.org"
    );
    assert_eq!(setting(&all, "public-url")["source"], "file");
    assert_eq!(setting(&all, "heartbeat-ms")["source"], "default");
    let all = settings(&file, &[("CADRE_PUBLIC_URL", "https://env.example.org")]);
    assert_eq!(
        setting(&all, "public-url")["value"],
        "https://env.example.org"
    );
    assert_eq!(
        setting(&all, "public-url")["source"],
        "environment (CADRE_PUBLIC_URL)"
    );
    assert_eq!(setting(&all, "bind")["source"], "file");

    // A real server started from the file…
    let data = dir.path().join("data").display().to_string();
    let base = ["--data-dir", data.as_str(), "serve", "--json-ready"];
    let with_file: Vec<&str> = base.iter().copied().chain(["--config", &shown]).collect();
    let ready = serve_ready(&with_file, &[]).await;
    assert_eq!(ready["url"], "https://file.example.org", "{ready}");
    assert_eq!(ready["organiser_token"], "token-from-the-file");
    // …the environment over the file…
    let env = [("CADRE_PUBLIC_URL", "https://env.example.org")];
    let ready = serve_ready(&with_file, &env).await;
    assert_eq!(ready["url"], "https://env.example.org", "{ready}");
    assert_eq!(ready["organiser_token"], "token-from-the-file");
    // …the command line over both…
    let with_flag: Vec<&str> = with_file
        .iter()
        .copied()
        .chain(["--public-url", "https://flag.example.org"])
        .collect();
    let ready = serve_ready(&with_flag, &env).await;
    assert_eq!(ready["url"], "https://flag.example.org", "{ready}");
    // …and the file found through CADRE_CONFIG.
    let ready = serve_ready(&base, &[("CADRE_CONFIG", &shown)]).await;
    assert_eq!(ready["url"], "https://file.example.org", "{ready}");
}

/// A value for `key` that differs from its default where it can, valid for
/// `serve`: the default plus one for numbers, `true` for switches, the
/// default for other strings; a sample for keys without a default.
fn sample(key: &str, expects: &str, default: &Value, dir: &Path) -> String {
    let quoted = |s: &str| serde_json::to_string(s).unwrap();
    match (expects, default) {
        ("an integer", Value::Number(n)) => (n.as_i64().unwrap() + 1).to_string(),
        ("an integer", Value::Null) => "1000".into(),
        ("a boolean (true or false)", _) => "true".into(),
        ("a string", Value::String(s)) => quoted(s),
        ("an array of strings", _) => match key {
            "trusted-proxy" => "[\"10.0.0.0/8\"]".into(),
            "turn-url" => "[\"turns:turn.example.org:443?transport=tcp\"]".into(),
            _ => "[\"stun:stun.example.org:3478\"]".into(),
        },
        ("a string", Value::Null) => match key {
            "public-url" => quoted("https://visio.example.org"),
            "organiser-token" => quoted("a-secret-token-from-the-file"),
            "recordings-dir" => quoted(&dir.join("recordings").display().to_string()),
            "quality-config" => {
                let path = write(dir, "quality.toml", "lost_after_s = 20\n");
                quoted(&path.display().to_string())
            }
            "tsa-url" => quoted("http://127.0.0.1:9/tsa"),
            "privacy-contact" => quoted("dpo@example.org"),
            "metrics-bind" | "turn-udp" | "turn-tcp" => quoted("127.0.0.1:0"),
            "metrics-token" => quoted("a-metrics-token-from-the-file"),
            "tls-cert" => quoted(&dir.join("fullchain.pem").display().to_string()),
            "tls-key" => quoted(&dir.join("privkey.pem").display().to_string()),
            "turn-public-ip" => quoted("192.0.2.10"),
            "turn-public-host" => quoted("turn.example.org"),
            "turn-secret" => quoted("a-turn-secret-from-the-file"),
            "smtp-url" => quoted("smtp://127.0.0.1:2525"),
            "smtp-user" => quoted("cadre"),
            "smtp-password" => quoted("a-smtp-password-from-the-file"),
            "mail-from" => quoted("Organisme <noreply@example.org>"),
            // Empty: the SQLite files (a shared database has its own tests,
            // `several_nodes`).
            "database" => quoted(""),
            "node" => quoted("node-from-the-file"),
            other => panic!(
                "no sample value for the new key `{other}` ({expects}, no default): add one here"
            ),
        },
        _ => panic!("no sample value for `{key}` ({expects}, default {default})"),
    }
}

#[test]
fn a_certificate_that_serve_would_refuse_is_named_with_the_lines_that_set_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("config");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let text = format!(
        "bind = \"127.0.0.1:0\"\ntls-cert = {:?}\ntls-key = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let file = write(dir.path(), "tls.toml", &text);
    let shown = file.display().to_string();
    let check = || cadre(&["config", "check", "--config", &shown], &[]);

    // Missing files.
    let (code, _, err) = check();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot read the file"), "{err}");
    assert!(
        err.contains(":2:") && err.contains("`tls-cert` is set here"),
        "{err}"
    );
    assert!(
        err.contains(":3:") && err.contains("`tls-key` is set here"),
        "{err}"
    );

    // Expired.
    ca.issue(2, Validity::Expired).write(&cert, &key);
    let (code, _, err) = check();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("expired"), "{err}");

    // A key that is not the certificate's.
    let current = ca.issue(3, Validity::Current);
    let other = ca.issue(4, Validity::Current);
    std::fs::write(&cert, &current.cert_pem).unwrap();
    std::fs::write(&key, &other.key_pem).unwrap();
    let (code, _, err) = check();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&key.display().to_string()), "{err}");

    // The pair that goes together passes.
    current.write(&cert, &key);
    let (code, out, err) = check();
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("everything `cadre serve` checks holds"),
        "{out}"
    );
}

#[test]
fn every_flag_of_serve_is_accepted_from_a_file_and_secrets_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    // config check reads the certificate and its key as serve does.
    TestCa::new("config").issue(1, Validity::Current).write(
        &dir.path().join("fullchain.pem"),
        &dir.path().join("privkey.pem"),
    );
    let empty = write(dir.path(), "empty.toml", "");
    let defaults = settings(&empty, &[]);
    assert!(defaults.len() >= 30, "every flag is listed: {defaults:#?}");
    let mut text = String::new();
    for s in &defaults {
        let key = s["key"].as_str().unwrap();
        let value = sample(key, s["expects"].as_str().unwrap(), &s["value"], dir.path());
        text.push_str(&format!("{key} = {value}\n"));
    }
    let file = write(dir.path(), "every.toml", &text);
    let all = settings(&file, &[]);
    assert_eq!(all.len(), defaults.len());
    for (s, line) in all.iter().zip(text.lines()) {
        assert_eq!(s["source"], "file", "{line}: {s}");
        let written: toml::Table = toml::from_str(line).unwrap();
        let written = serde_json::to_value(&written[s["key"].as_str().unwrap()]).unwrap();
        let secrets = [
            "organiser-token",
            "metrics-token",
            "turn-secret",
            "smtp-url",
            "smtp-password",
            "database",
        ];
        if secrets.contains(&s["key"].as_str().unwrap()) {
            assert_eq!(s["value"], "********", "the secret is masked: {line}");
        } else {
            assert_eq!(s["value"], written, "{line}");
        }
    }
    // The text form masks secrets too, and an ICE server's credential.
    let ice = write(
        dir.path(),
        "ice.toml",
        "organiser-token = \"a-secret-token-from-the-file\"\nice-server = [\"turn:turn.example.org:3478,user,hush-hush\"]\n",
    );
    let (code, out, err) = cadre(
        &["config", "check", "--config", &ice.display().to_string()],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("organiser-token = \"********\"  # file"),
        "{out}"
    );
    assert!(
        out.contains("ice-server = [\"turn:turn.example.org:3478,user,********\"]  # file"),
        "{out}"
    );
    assert!(
        !out.contains("a-secret-token") && !out.contains("hush-hush"),
        "{out}"
    );
}

#[test]
fn the_example_file_passes_and_shows_every_key() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/cadre.toml");
    let (code, out, err) = cadre(
        &[
            "config",
            "check",
            "--config",
            &example.display().to_string(),
        ],
        &[],
    );
    assert_eq!(code, 0, "deploy/cadre.toml passes config check: {err}");
    assert!(
        out.contains("everything `cadre serve` checks holds"),
        "{out}"
    );
    let text = std::fs::read_to_string(&example).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let empty = write(scratch.path(), "e.toml", "");
    for s in settings(&empty, &[]) {
        let key = s["key"].as_str().unwrap();
        assert!(
            text.lines().any(|l| {
                let l = l.trim_start_matches('#').trim_start();
                l.starts_with(&format!("{key} ="))
            }),
            "deploy/cadre.toml shows `{key}` (commented with its default, or set)"
        );
    }
}
