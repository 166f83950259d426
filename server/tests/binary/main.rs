//! Tests that run the `cadre` binary itself, as a process (CLI, crash and restart).
//! One binary for all of them, so the test build links the server once.

mod bidi_cli;
mod crash_recovery;
mod empty_token;
mod local_times;
mod readmit_cli;
mod report_cli;
mod unwritable_output;

use cadre_protocol::api::{NewPerson, NewSession, SessionView};
use cadre_protocol::{Role, SessionKind};
use cadre_server::Config;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `cadre --data-dir DIR ARGS…` to the end, as the organiser would.
fn cadre(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadre"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run cadre")
}

/// The library's view of the data directory (no server running on it).
fn app(dir: &Path) -> cadre_server::App {
    cadre_server::open(&Config::new(dir), "http://127.0.0.1:8080".into())
        .expect("open the data directory")
        .app
}

/// "Atelier", from now for two hours: Claire facilitates, Karim takes part.
async fn atelier(app: &cadre_server::App) -> SessionView {
    let now = chrono::Utc::now();
    let person = |name: &str, role| NewPerson {
        name: name.into(),
        email: None,
        role,
        lang: None,
        time_zone: None,
    };
    app.create_session(NewSession {
        title: "Atelier".into(),
        kind: SessionKind::Formation,
        organisation: "Organisme".into(),
        planned_start: now.to_rfc3339(),
        planned_end: (now + chrono::Duration::hours(2)).to_rfc3339(),
        time_zone: None,
        sponsor: None,
        media: None,
        people: vec![
            person("Claire", Role::Facilitator),
            person("Karim", Role::Participant),
        ],
    })
    .await
    .expect("create the session")
}
