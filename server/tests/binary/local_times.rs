//! The CLI prints planned times as the people in the session read them.

use super::cadre;

#[test]
fn session_times_print_in_the_sessions_zone_with_its_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let created = cadre(
        dir.path(),
        &[
            "session",
            "create",
            "--title",
            "Module 2",
            "--kind",
            "formation",
            "--organisation",
            "Organisme",
            "--start",
            "2026-12-03T09:00",
            "--end",
            "2026-12-03T12:30",
            "--facilitator",
            "Claire Martin",
            "--participant",
            "Karim Benali",
        ],
    );
    let out = String::from_utf8_lossy(&created.stdout);
    assert!(
        created.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&created.stderr)
    );
    // 09:00 in Paris in December is 08:00Z: the organiser sees what they typed.
    let span = "2026-12-03 09:00 → 12:30 (Europe/Paris, UTC+01:00)";
    assert!(out.contains(span), "create printed: {out}");
    let listed = cadre(dir.path(), &["session", "list"]);
    let list = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success());
    assert!(list.contains(span), "list printed: {list}");
    assert!(!list.contains("08:00:00+00:00"), "list printed UTC: {list}");

    // A summer date has the summer offset; an end on another day has its date.
    let created = cadre(
        dir.path(),
        &[
            "session",
            "create",
            "--title",
            "Nuit",
            "--kind",
            "formation",
            "--organisation",
            "O",
            "--start",
            "2026-07-01T22:00",
            "--end",
            "2026-07-02T01:00",
            "--facilitator",
            "Claire",
        ],
    );
    let out = String::from_utf8_lossy(&created.stdout);
    assert!(created.status.success(), "{out}");
    assert!(
        out.contains("2026-07-01 22:00 → 2026-07-02 01:00 (Europe/Paris, UTC+02:00)"),
        "create printed: {out}"
    );
}
