//! WebSocket upgrades check `Origin`: the server's public origin (and, when
//! the server is reached on loopback, any loopback origin) is let in; a
//! foreign origin is refused before the upgrade with 403 and a sentence
//! naming it, and nothing reaches the session; no `Origin` at all (tools,
//! tests) stays allowed.

use cadre_protocol::Role;
use cadre_tests::{StatusCode, TestServer, Upgrade, person};

fn with_origin(origin: &str) -> Upgrade {
    Upgrade {
        source: None,
        headers: vec![("Origin".into(), origin.into())],
    }
}

#[tokio::test]
async fn a_loopback_server_lets_its_own_and_loopback_pages_in_and_refuses_others() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let claire_path = format!(
        "/ws/{}?token={}",
        session.id,
        person(&session, "Claire").link.token
    );
    let karim_path = format!(
        "/ws/{}?token={}",
        session.id,
        person(&session, "Karim").link.token
    );

    for foreign in [
        "https://evil.example",
        "http://192.0.2.10:8080",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        let refusal = match server
            .connect_with(&karim_path, &with_origin(foreign))
            .await
        {
            Ok(c) => panic!("a page of {foreign} opened the call: {}", c.welcome),
            Err(r) => r,
        };
        assert_eq!(
            refusal.status,
            StatusCode::FORBIDDEN,
            "{foreign}: {refusal:?}"
        );
        assert_eq!(refusal.error.code.as_str(), "forbidden");
        assert!(
            refusal.error.message.contains(foreign)
                && refusal.error.message.contains(server.public_url()),
            "the refusal should name both origins: {}",
            refusal.error.message
        );
    }
    // Nothing of the refused attempts reached the session.
    assert!(
        server
            .ledger_entries(&session.id, "connection_opened")
            .await
            .is_empty()
    );

    // The server's own pages, other loopback pages (a dev server), and
    // clients that send no Origin get in.
    let mut claire = server
        .connect_with(&claire_path, &with_origin(server.public_url()))
        .await
        .unwrap_or_else(|r| panic!("the server's own origin was refused: {r:?}"));
    let port = server.addr().port();
    // Kept until the end: each replaces the one before (dropping one would
    // look like Karim leaving).
    let mut karims = Vec::new();
    for allowed in [
        format!("http://localhost:{port}"),
        "http://localhost:5173".to_owned(),
        "http://[::1]:3000".to_owned(),
    ] {
        let karim = server
            .connect_with(&karim_path, &with_origin(&allowed))
            .await
            .unwrap_or_else(|r| panic!("loopback origin {allowed} was refused: {r:?}"));
        assert_eq!(karim.id, person(&session, "Karim").id);
        claire.skip_until_type("peer_joined").await;
        karims.push(karim);
    }
    let karim = server.join(&session, "Karim").await;
    assert_eq!(karim.id, person(&session, "Karim").id);
}

#[tokio::test]
async fn a_public_server_lets_only_its_public_origin_in() {
    let server = TestServer::start_with(|c| {
        c.public_url = Some("https://visio.example.org/".into());
    })
    .await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let path = format!(
        "/ws/{}?token={}",
        session.id,
        person(&session, "Karim").link.token
    );
    for foreign in [
        "http://visio.example.org",
        "https://visio.example.org:8443",
        "https://evil.example.org",
        "http://127.0.0.1:8080",
        "http://localhost:3000",
    ] {
        let refusal = match server.connect_with(&path, &with_origin(foreign)).await {
            Ok(c) => panic!("a page of {foreign} opened the call: {}", c.welcome),
            Err(r) => r,
        };
        assert_eq!(
            refusal.status,
            StatusCode::FORBIDDEN,
            "{foreign}: {refusal:?}"
        );
        assert!(
            refusal.error.message.contains("https://visio.example.org"),
            "{}",
            refusal.error.message
        );
    }
    let mut karims = Vec::new();
    for own in ["https://visio.example.org", "https://VISIO.example.org:443"] {
        let karim = server
            .connect_with(&path, &with_origin(own))
            .await
            .unwrap_or_else(|r| panic!("{own} was refused: {r:?}"));
        assert_eq!(karim.id, person(&session, "Karim").id);
        karims.push(karim);
    }
}
