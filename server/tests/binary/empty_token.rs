//! An empty organiser-token file stops the start with a message about the
//! organiser token, not about the signing key, and changes nothing.

#[test]
fn an_empty_organiser_token_file_is_refused_at_start_and_named() {
    let dir = tempfile::tempdir().expect("data directory");
    // A first opening creates the key, the token and the database.
    drop(super::app(dir.path()));
    let token = dir.path().join("organiser-token");
    std::fs::write(&token, "  \n").expect("empty the token file");
    let key_before = std::fs::read(dir.path().join("signing-key.pk8")).expect("key");

    let out = super::cadre(
        dir.path(),
        &["serve", "--bind", "127.0.0.1:0", "--json-ready"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "cadre started with an empty token file"
    );
    assert!(
        stderr.contains("organiser token") && stderr.contains("organiser-token"),
        "the message should name the organiser token and its file: {stderr}"
    );
    assert!(
        !stderr.contains("Ed25519") && !stderr.contains("PKCS#8"),
        "the message speaks of the signing key: {stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing was printed as ready");
    assert_eq!(std::fs::read_to_string(&token).unwrap(), "  \n");
    assert_eq!(
        std::fs::read(dir.path().join("signing-key.pk8")).unwrap(),
        key_before
    );
}
