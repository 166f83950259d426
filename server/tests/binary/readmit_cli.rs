//! `cadre session revoke` then `cadre session readmit`, run as the organiser
//! runs them: the real binary on a data directory. The same link is refused,
//! then admitted again, and the re-admission is in the ledger.

use super::{app, cadre};
use cadre_protocol::ErrorCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_person_is_readmitted_with_the_same_link() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let (sid, pid, token) = {
        let app = app(dir);
        let view = super::atelier(&app).await;
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
