//! `cadre session create` refuses bidirectional controls like the REST API
//! (the same validation), names the field, and creates nothing.

#[tokio::test]
async fn session_create_refuses_bidi_controls_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("data directory");
    let now = chrono::Utc::now();
    let start = now.to_rfc3339();
    let end = (now + chrono::Duration::hours(2)).to_rfc3339();
    let cases = [
        ("title", "Facture\u{202E}fdp.exe", "Claire"),
        ("people[1].name", "Module 2", "Karim\u{2066}"),
    ];
    for (field, title, participant) in cases {
        let out = super::cadre(
            dir.path(),
            &[
                "session",
                "create",
                "--title",
                title,
                "--kind",
                "formation",
                "--organisation",
                "Organisme",
                "--start",
                &start,
                "--end",
                &end,
                "--facilitator",
                "Claire",
                "--participant",
                participant,
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{field}: created anyway");
        assert!(
            stderr.contains(&format!("{field}:"))
                && stderr.contains("direction control")
                && stderr.contains("invalid_input"),
            "{field}: {stderr}"
        );
    }
    let app = super::app(dir.path());
    assert!(
        app.list_sessions().await.expect("list").is_empty(),
        "a session was created"
    );
}
