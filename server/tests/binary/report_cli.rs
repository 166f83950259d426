//! `cadre report list | answer | close | export`, run as the organiser runs
//! them: the real binary on a data directory (no server running on it).

use super::{app, cadre};
use cadre_protocol::ErrorCode;
use cadre_protocol::difficulties::DifficultyStatus;
use std::process::Output;

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "cadre failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organiser_lists_answers_closes_and_exports_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();

    // A session and two reports, filed through the library.
    let (sid, rid, karim, claire) = {
        let app = app(dir);
        let view = super::atelier(&app).await;
        let karim = view.people[1].id.clone();
        let report = app
            .file_difficulty(&view.id, &karim, "Le son coupe.\nDepuis 10 h.")
            .await
            .unwrap();
        app.file_difficulty(&view.id, &view.people[0].id, "Connexion instable")
            .await
            .unwrap();
        app.ledger().shutdown().await.unwrap();
        (view.id, report.id, karim, view.people[0].id.clone())
    };

    let list = stdout(&cadre(dir, &["report", "list", "--session", &sid]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with(&rid), "{list}");
    assert!(lines[0].contains("open"), "{list}");
    assert!(lines[0].contains("Karim (participant)"), "{list}");
    assert!(
        lines[0].ends_with("Le son coupe."),
        "first line only: {list}"
    );
    assert!(lines[1].contains("Claire (facilitator)"), "{list}");

    let answered = stdout(&cadre(
        dir,
        &[
            "report",
            "answer",
            "--session",
            &sid,
            "--report",
            &rid,
            "--text",
            "Nous avons changé de serveur audio.",
        ],
    ));
    assert!(answered.contains("answered"), "{answered}");
    let list = stdout(&cadre(dir, &["report", "list", "--session", &sid]));
    assert!(list.lines().next().unwrap().contains("answered"), "{list}");

    let closed = stdout(&cadre(
        dir,
        &["report", "close", "--session", &sid, "--report", &rid],
    ));
    assert!(closed.contains("closed"), "{closed}");

    // A closed report takes no answer: the command fails and says why.
    let refused = cadre(
        dir,
        &[
            "report",
            "answer",
            "--session",
            &sid,
            "--report",
            &rid,
            "--text",
            "Encore",
            "--close",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(ErrorCode::Conflict.as_str()),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // An unknown session or report.
    assert!(
        !cadre(dir, &["report", "list", "--session", "s_nope"])
            .status
            .success()
    );
    assert!(
        !cadre(
            dir,
            &["report", "close", "--session", &sid, "--report", "r_nope"]
        )
        .status
        .success()
    );

    let csv = stdout(&cadre(dir, &["report", "export", "--session", &sid]));
    assert!(csv.starts_with('\u{feff}'), "{csv}");
    assert_eq!(
        csv.lines().count(),
        4,
        "header, a two-line text, one more: {csv}"
    );
    assert!(csv.contains("Nous avons changé de serveur audio."), "{csv}");

    // The author sees the answer; the ledger holds the story.
    let app = app(dir);
    let mine = app.difficulties_of(&sid, &karim).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].status, DifficultyStatus::Closed);
    assert_eq!(
        mine[0].answer.as_deref(),
        Some("Nous avons changé de serveur audio.")
    );
    let kinds: Vec<(String, String)> = app
        .ledger()
        .entries(&sid)
        .await
        .unwrap()
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.text).unwrap();
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["actor"].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(k, _)| k.starts_with("report_"))
        .collect();
    let expected = [
        ("report_filed", karim.as_str()),
        ("report_filed", claire.as_str()),
        ("report_answered", "organiser"),
        ("report_closed", "organiser"),
    ]
    .map(|(k, a)| (k.to_owned(), a.to_owned()));
    assert_eq!(kinds, expected);
    app.ledger().shutdown().await.unwrap();
}
