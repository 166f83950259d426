//! `cadre session revoke` then `cadre session readmit`, run as the organiser
//! runs them: the real binary on a data directory. The same link is refused,
//! then admitted again, and the re-admission is in the ledger.

use cadre_protocol::api::{NewPerson, NewSession};
use cadre_protocol::{ErrorCode, Role, SessionKind};
use cadre_server::Config;
use std::path::Path;
use std::process::{Command, Output};

fn cadre(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cadre"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run cadre")
}

fn app(dir: &Path) -> cadre_server::App {
    cadre_server::open(&Config::new(dir), "http://127.0.0.1:8080".into())
        .expect("open the data directory")
        .app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_person_is_readmitted_with_the_same_link() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let now = chrono::Utc::now();
    let (sid, pid, token) = {
        let app = app(dir);
        let view = app
            .create_session(NewSession {
                title: "Atelier".into(),
                kind: SessionKind::Formation,
                organisation: "Organisme".into(),
                planned_start: now.to_rfc3339(),
                planned_end: (now + chrono::Duration::hours(2)).to_rfc3339(),
                time_zone: None,
                sponsor: None,
                people: vec![
                    NewPerson {
                        name: "Claire".into(),
                        email: None,
                        role: Role::Facilitator,
                    },
                    NewPerson {
                        name: "Karim".into(),
                        email: None,
                        role: Role::Participant,
                    },
                ],
            })
            .await
            .unwrap();
        app.ledger().shutdown().await.unwrap();
        let karim = &view.people[1];
        (view.id.clone(), karim.id.clone(), karim.link.token.clone())
    };

    let out = cadre(dir, &["session", "revoke", &sid, &pid]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    {
        let app = app(dir);
        let refused = app.admit(&token).await.expect_err("a revoked link");
        assert_eq!(refused.code, ErrorCode::TokenRevoked);
        app.ledger().shutdown().await.unwrap();
    }

    let out = cadre(dir, &["session", "readmit", &sid, &pid]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&pid));
    let out = cadre(dir, &["session", "readmit", &sid, "p_nobody"]);
    assert!(!out.status.success(), "an unknown person is refused");

    let app = app(dir);
    let back = app.admit(&token).await.expect("the same link works again");
    assert_eq!(back.id, pid);
    let entries = app.ledger().entries(&sid).await.unwrap();
    let readmitted: Vec<_> = entries
        .iter()
        .filter(|e| e.text.contains("\"kind\":\"readmitted\""))
        .collect();
    assert_eq!(readmitted.len(), 1);
    assert!(readmitted[0].text.contains("\"actor\":\"organiser\""));
    app.ledger().shutdown().await.unwrap();
}
