//! cadre behind Debian's nginx running the shipped site file
//! (`deploy/nginx/cadre.conf`), TLS at nginx with a test CA: a WSS join
//! through nginx works; the evidence records the client's address from
//! `X-Forwarded-For` because, and only because, nginx is a trusted proxy;
//! a client forging the header through nginx or straight to cadre is not
//! believed; the per-address limits count clients, not the proxy; the
//! security headers arrive once; `/metrics` stays inside.
//!
//! On loopback every address is 127.x: nginx reaches cadre from 127.0.0.1
//! (the trusted proxy), and the clients connect from 127.0.0.2 and
//! 127.0.0.3, so that "the client's address" and "the proxy's" differ.

use cadre_protocol::Role;
use cadre_tests::nginx::TestNginx;
use cadre_tests::tls::{TestCa, Validity, WssClient, https_get};
use cadre_tests::{TestServer, Upgrade, person};
use std::net::IpAddr;

const THREE: &[(&str, Role)] = &[
    ("Claire", Role::Facilitator),
    ("Karim", Role::Participant),
    ("Sophie", Role::Participant),
];

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ws_path(session: &cadre_protocol::api::SessionView, name: &str) -> String {
    format!(
        "/ws/{}?token={}",
        session.id,
        person(session, name).link.token
    )
}

/// The payload of the `connection_opened` entry of `connection_id`.
async fn opened(server: &TestServer, sid: &str, connection_id: &str) -> serde_json::Value {
    let entries = server.ledger_entries(sid, "connection_opened").await;
    entries
        .iter()
        .map(|e| e["payload"].clone())
        .find(|p| p["connection_id"] == connection_id)
        .unwrap_or_else(|| panic!("no connection_opened for {connection_id}: {entries:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx_the_evidence_names_the_client_only_because_nginx_is_trusted() {
    let ca = TestCa::new("Organisme");
    let issued = ca.issue(1, Validity::Current);
    let server = TestServer::start_with(|c| {
        c.trusted_proxies =
            cadre_server::proxy::TrustedProxies::new(vec!["127.0.0.1".parse().unwrap()]);
        // One connection per client address: shows the limit counts the
        // clients behind the proxy, not the proxy.
        c.per_address_connections = 1;
    })
    .await;
    let nginx = TestNginx::start(server.addr(), &issued.cert_pem, &issued.key_pem);
    let session = server.create_session(THREE).await;

    // Claire through nginx from 127.0.0.2.
    let mut claire = WssClient::join(
        nginx.https,
        &ws_path(&session, "Claire"),
        ca.client_config(),
        Some(ip("127.0.0.2")),
    )
    .await;
    assert_eq!(claire.certificate, issued.der, "nginx terminates TLS");
    let cid = claire.welcome["connection_id"].as_str().unwrap().to_owned();
    let payload = opened(&server, &session.id, &cid).await;
    assert_eq!(payload["ip"], "127.0.0.2", "{payload}");
    assert_eq!(payload["via"], "127.0.0.1", "{payload}");
    assert_eq!(payload["forwarded_for"], "127.0.0.2", "{payload}");

    // Karim through nginx from 127.0.0.3, with a forged header: nginx
    // appends what it saw, cadre takes the right-most untrusted address.
    let tls = cadre_tests::tls::connect(nginx.https, ca.client_config(), Some(ip("127.0.0.3")))
        .await
        .expect("TLS to nginx");
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "wss://localhost:{}{}",
            nginx.https.port(),
            ws_path(&session, "Karim")
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("x-forwarded-for", "203.0.113.7".parse().unwrap());
    let (mut karim, _) = tokio_tungstenite::client_async(request, tls)
        .await
        .expect("Karim's upgrade through nginx");
    let welcome = next_welcome(&mut karim).await;
    let kid = welcome["connection_id"].as_str().unwrap().to_owned();
    let payload = opened(&server, &session.id, &kid).await;
    assert_eq!(payload["ip"], "127.0.0.3", "{payload}");
    assert_eq!(
        payload["forwarded_for"], "203.0.113.7, 127.0.0.3",
        "{payload}"
    );
    claire.recv_type("peer_joined").await;

    // Sophie straight to cadre from 127.0.0.2 (untrusted), forging the
    // header: her address is her socket's, the header a claim; and the
    // one-connection limit of 127.0.0.2 (Claire's, through nginx) refuses
    // her: the limit counted the client, not the proxy.
    let direct = Upgrade {
        source: Some(ip("127.0.0.2")),
        headers: vec![("X-Forwarded-For".into(), "198.51.100.9".into())],
    };
    let refused = server
        .connect_with(&ws_path(&session, "Sophie"), &direct)
        .await
        .err()
        .expect("a second connection from 127.0.0.2 is over its limit");
    assert_eq!(refused.status, cadre_tests::StatusCode::TOO_MANY_REQUESTS);
    drop(claire);
    // Claire's connection closing frees 127.0.0.2's slot (the server
    // notices the dropped socket).
    let deadline = tokio::time::Instant::now() + cadre_tests::WAIT;
    let sophie = loop {
        match server
            .connect_with(&ws_path(&session, "Sophie"), &direct)
            .await
        {
            Ok(client) => break client,
            Err(r) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "Sophie stayed refused after Claire left: {:?}",
                    r.error
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };
    let payload = opened(&server, &session.id, &sophie.connection_id).await;
    assert_eq!(payload["ip"], "127.0.0.2", "{payload}");
    assert_eq!(payload["forwarded_for"], "198.51.100.9", "{payload}");
    assert!(payload["via"].is_null(), "{payload}");
    drop(nginx);
}

async fn next_welcome<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> serde_json::Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt as _;
    loop {
        let next = tokio::time::timeout(cadre_tests::WAIT, ws.next())
            .await
            .expect("a welcome in time")
            .expect("the socket is open")
            .expect("a frame");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = next {
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "welcome" {
                return value;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trusting_nginx_its_header_is_only_a_claim() {
    let ca = TestCa::new("Organisme");
    let issued = ca.issue(2, Validity::Current);
    let server = TestServer::start().await;
    let nginx = TestNginx::start(server.addr(), &issued.cert_pem, &issued.key_pem);
    let session = server.create_session(THREE).await;
    let claire = WssClient::join(
        nginx.https,
        &ws_path(&session, "Claire"),
        ca.client_config(),
        Some(ip("127.0.0.2")),
    )
    .await;
    let cid = claire.welcome["connection_id"].as_str().unwrap().to_owned();
    let payload = opened(&server, &session.id, &cid).await;
    assert_eq!(payload["ip"], "127.0.0.1", "the proxy's address: {payload}");
    assert_eq!(payload["forwarded_for"], "127.0.0.2", "{payload}");
    assert!(payload["via"].is_null(), "{payload}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_nginx_headers_arrive_once_and_metrics_stay_inside() {
    let ca = TestCa::new("Organisme");
    let issued = ca.issue(3, Validity::Current);
    let server = TestServer::start_with(|c| {
        c.trusted_proxies =
            cadre_server::proxy::TrustedProxies::new(vec!["127.0.0.1".parse().unwrap()]);
    })
    .await;
    let nginx = TestNginx::start(server.addr(), &issued.cert_pem, &issued.key_pem);

    let health = https_get(nginx.https, "/healthz", ca.client_config(), &[]).await;
    assert_eq!(health.status, 200, "{health:?}");
    // cadre sends HSTS because its trusted proxy says the client used
    // HTTPS; nginx adds none of its own.
    for header in [
        "strict-transport-security",
        "x-content-type-options",
        "referrer-policy",
    ] {
        assert_eq!(health.count(header), 1, "{header}: {health:?}");
    }
    // A personal page keeps cadre's no-store, once.
    let lobby = https_get(nginx.https, "/api/join?token=x", ca.client_config(), &[]).await;
    assert_eq!(lobby.count("cache-control"), 1, "{lobby:?}");
    assert_eq!(lobby.header("cache-control"), Some("no-store"));

    // /metrics is answered by nginx itself, never passed to cadre.
    let metrics = https_get(nginx.https, "/metrics", ca.client_config(), &[]).await;
    assert_eq!(metrics.status, 404, "{metrics:?}");
    assert!(
        metrics.body.contains("nginx"),
        "the 404 for /metrics should be nginx's own page: {metrics:?}"
    );

    // cadre's body limit speaks before nginx's: 100 KiB gets cadre's
    // sentence (413 with a JSON body), not nginx's page.
    // (A raw request: the body is the point.)
    let big = "x".repeat(100 * 1024);
    let mut tls = cadre_tests::tls::connect(nginx.https, ca.client_config(), None)
        .await
        .unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let request = format!(
        "POST /api/sessions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{big}",
        server.organiser_token(),
        big.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(cadre_tests::WAIT, tls.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        text.contains("application/json"),
        "cadre's own refusal, not nginx's: {text}"
    );

    // Plain HTTP is sent to HTTPS.
    let mut tcp = tokio::net::TcpStream::connect(nginx.http).await.unwrap();
    tcp.write_all(b"GET /j/abc HTTP/1.1\r\nHost: visio.example.org\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(cadre_tests::WAIT, tcp.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 301"), "{text}");
    assert!(
        text.contains("Location: https://visio.example.org/j/abc"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_that_is_not_an_address_range_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (bad, says) in [
        ("proxy.example.org", "expected an address or ADDRESS/PREFIX"),
        (
            "10.0.0.0/33",
            "the prefix length must be a number from 0 to 32",
        ),
    ] {
        let out = tokio::process::Command::new(crate::reports::cadre_binary())
            .arg("--data-dir")
            .arg(&data)
            .args(["serve", "--bind", "127.0.0.1:0", "--trusted-proxy", bad])
            .output()
            .await
            .expect("run cadre serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "cadre serve started with {bad}: {stderr}"
        );
        assert!(
            stderr.contains("--trusted-proxy") && stderr.contains(bad) && stderr.contains(says),
            "{bad}: {stderr}"
        );
        assert!(!data.exists(), "a refused start created its data directory");
    }
}
