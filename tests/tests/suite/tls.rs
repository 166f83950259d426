//! HTTPS and WSS served by cadre itself (`--tls-cert`, `--tls-key`): a
//! real rustls client that trusts only the test's CA joins a call; a
//! renewed certificate is served to new connections while an established
//! call goes on; a bad renewal is refused and the certificate in service
//! stays; each bad file stops the start with a sentence naming it; the
//! binary reloads on SIGHUP.

use cadre_protocol::Role;
use cadre_tests::tls::{TestCa, TlsServer, Validity, WssClient, https_get, serial_of};
use cadre_tests::{TestServer, WAIT, person};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the test servers look at their files: short, so a test
/// waits little; the waits are bounded by [`WAIT`] anyway.
const RELOAD: Duration = Duration::from_millis(100);

const TWO: &[(&str, Role)] = &[("Claire", Role::Facilitator), ("Karim", Role::Participant)];

fn files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("fullchain.pem"), dir.join("privkey.pem"))
}

fn ws_path(session: &cadre_protocol::api::SessionView, name: &str) -> String {
    format!(
        "/ws/{}?token={}",
        session.id,
        person(session, name).link.token
    )
}

/// The serial of the certificate a new connection is shown.
async fn served_serial(server: &TlsServer, ca: &TestCa) -> String {
    let tls = cadre_tests::tls::connect(server.addr, ca.client_config(), None)
        .await
        .expect("a TLS handshake with the server");
    serial_of(&cadre_tests::tls::presented(&tls))
}

/// Waits until new connections are shown the certificate `serial`.
async fn wait_for_serial(server: &TlsServer, ca: &TestCa, serial: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = served_serial(server, ca).await;
        if now == serial {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "new connections were still shown certificate {now}, not {serial}, after {WAIT:?}"
        );
        tokio::time::sleep(RELOAD).await;
    }
}

/// Waits until the server has refused `n` reloads in all.
async fn wait_for_failed_reloads(server: &TlsServer, n: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.certificates.failed_reloads() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not try (and refuse) reload number {n} within {WAIT:?}: \
             {} refused so far",
            server.certificates.failed_reloads()
        );
        tokio::time::sleep(RELOAD / 2).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_join_a_call_over_wss_trusting_only_the_organisation_s_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = files(dir.path());
    let ca = TestCa::new("Organisme");
    let issued = ca.issue(1, Validity::Current);
    issued.write(&cert, &key);
    let server = TlsServer::start(cert, key, RELOAD).await.expect("starts");
    assert!(
        server.app.public_url().starts_with("https://"),
        "links of a TLS server are https: {}",
        server.app.public_url()
    );
    let session = server.create_session(TWO).await;
    assert!(
        person(&session, "Karim").link.url.starts_with("https://"),
        "{}",
        person(&session, "Karim").link.url
    );

    let mut claire = WssClient::join(
        server.addr,
        &ws_path(&session, "Claire"),
        ca.client_config(),
        None,
    )
    .await;
    assert_eq!(
        claire.certificate, issued.der,
        "the server shows its certificate"
    );
    let mut karim = WssClient::join(
        server.addr,
        &ws_path(&session, "Karim"),
        ca.client_config(),
        None,
    )
    .await;
    let joined = claire.recv_type("peer_joined").await;
    let karim_id = karim.welcome["you"]["id"].as_str().unwrap().to_owned();
    assert_eq!(joined["peer"]["id"], karim_id.as_str(), "{joined}");
    // Signalling relays over WSS as over WS.
    let claire_id = claire.welcome["you"]["id"].as_str().unwrap().to_owned();
    karim
        .send(json!({"type": "signal", "to": claire_id, "data": {"sdp": "offre"}}))
        .await;
    let signal = claire.recv_type("signal").await;
    assert_eq!(signal["data"]["sdp"], "offre");
    assert_eq!(signal["from"], karim_id.as_str());

    // A client that does not trust the organisation's CA gets no further
    // than the handshake.
    let stranger = TestCa::new("Ailleurs");
    let refused = cadre_tests::tls::connect(server.addr, stranger.client_config(), None).await;
    assert!(
        refused.is_err(),
        "a client trusting another CA completed a handshake"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_over_https_carry_hsts_and_plain_http_gets_none() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = files(dir.path());
    let ca = TestCa::new("Organisme");
    ca.issue(7, Validity::Current).write(&cert, &key);
    let server = TlsServer::start(cert, key, RELOAD).await.expect("starts");
    let answer = https_get(server.addr, "/healthz", ca.client_config(), &[]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.count("strict-transport-security"), 1, "{answer:?}");
    assert_eq!(
        answer.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    assert_eq!(answer.count("x-content-type-options"), 1, "{answer:?}");

    // Plain HTTP on the TLS port gets no HTTP answer at all.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut raw)).await;
    assert!(
        !raw.starts_with(b"HTTP/1.1 200"),
        "plain HTTP was answered on the TLS port: {:?}",
        String::from_utf8_lossy(&raw)
    );
    server.stop().await;

    // A plain HTTP server sends no HSTS, even to a client claiming HTTPS
    // through a proxy nobody trusts.
    let plain = TestServer::start().await;
    let response = reqwest::Client::new()
        .get(plain.url("/healthz"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none(),
        "HSTS over plain HTTP: {:?}",
        response.headers()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_serves_new_connections_while_the_call_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = files(dir.path());
    let ca = TestCa::new("Organisme");
    let first = ca.issue(0x1001, Validity::Current);
    first.write(&cert, &key);
    let server = TlsServer::start(cert.clone(), key.clone(), RELOAD)
        .await
        .expect("starts");
    let session = server.create_session(TWO).await;
    let mut claire = WssClient::join(
        server.addr,
        &ws_path(&session, "Claire"),
        ca.client_config(),
        None,
    )
    .await;
    let mut karim = WssClient::join(
        server.addr,
        &ws_path(&session, "Karim"),
        ca.client_config(),
        None,
    )
    .await;
    claire.recv_type("peer_joined").await;
    assert_eq!(serial_of(&karim.certificate), serial_of(&first.der));

    // The renewal: a new key and certificate replace the files.
    let second = ca.issue(0x2002, Validity::Current);
    second.write(&cert, &key);
    wait_for_serial(&server, &ca, &serial_of(&second.der)).await;
    assert!(server.certificates.reloads() >= 1);

    // The call established before goes on, both ways.
    let claire_id = claire.welcome["you"]["id"].as_str().unwrap().to_owned();
    let karim_id = karim.welcome["you"]["id"].as_str().unwrap().to_owned();
    karim
        .send(json!({"type": "signal", "to": claire_id, "data": {"n": 1}}))
        .await;
    assert_eq!(claire.recv_type("signal").await["data"]["n"], 1);
    claire
        .send(json!({"type": "signal", "to": karim_id, "data": {"n": 2}}))
        .await;
    assert_eq!(karim.recv_type("signal").await["data"]["n"], 2);

    // Someone joining now gets the new certificate, and the call.
    let mut third = WssClient::join(
        server.addr,
        &ws_path(&session, "Karim"),
        ca.client_config(),
        None,
    )
    .await;
    assert_eq!(third.certificate, second.der);
    third
        .send(json!({"type": "signal", "to": claire_id, "data": {"n": 3}}))
        .await;
    assert_eq!(claire.recv_type("signal").await["data"]["n"], 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_renewal_is_refused_and_the_certificate_in_service_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = files(dir.path());
    let ca = TestCa::new("Organisme");
    let good = ca.issue(0x0a, Validity::Current);
    good.write(&cert, &key);
    let server = TlsServer::start(cert.clone(), key.clone(), RELOAD)
        .await
        .expect("starts");
    let good_serial = serial_of(&good.der);
    let other = ca.issue(0x0b, Validity::Current);
    let expired = ca.issue(0x0c, Validity::Expired);

    // Each bad renewal in turn; the server tries it, refuses it, and new
    // connections are still shown the good certificate.
    type Case<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let cases: Vec<Case> = vec![
        (
            "an expired certificate",
            Box::new(|| expired.write(&cert, &key)),
        ),
        (
            "a key that is not the certificate's",
            Box::new(|| {
                cadre_tests::tls::write_atomically(&key, &good.key_pem);
                cadre_tests::tls::write_atomically(&cert, &other.cert_pem);
            }),
        ),
        (
            "a certificate file that is not PEM",
            Box::new(|| {
                cadre_tests::tls::write_atomically(&key, &good.key_pem);
                cadre_tests::tls::write_atomically(&cert, "ceci n'est pas un certificat\n");
            }),
        ),
        (
            "a missing certificate file",
            Box::new(|| std::fs::remove_file(&cert).unwrap()),
        ),
    ];
    for (n, (what, write)) in cases.iter().enumerate() {
        write();
        wait_for_failed_reloads(&server, n as u64 + 1).await;
        assert_eq!(
            served_serial(&server, &ca).await,
            good_serial,
            "after {what}, new connections must still get the certificate in service"
        );
        // An explicit reload (what SIGHUP does) says why.
        let why = server
            .certificates
            .reload()
            .expect_err("a reload of bad files fails")
            .to_string();
        assert!(
            why.contains("fullchain.pem") || why.contains("privkey.pem"),
            "{what}: {why}"
        );
    }
    assert_eq!(server.certificates.reloads(), 0);

    // A good renewal after all that is taken.
    other.write(&cert, &key);
    wait_for_serial(&server, &ca, &serial_of(&other.der)).await;
    server.stop().await;
}

/// Starting with these files fails; returns the error's sentence.
async fn start_error(cert: PathBuf, key: PathBuf) -> String {
    match TlsServer::start(cert, key, RELOAD).await {
        Ok(server) => {
            server.stop().await;
            panic!("the server started with bad TLS files")
        }
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_file_stops_the_start_with_its_name_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = TestCa::new("Organisme");
    let good = ca.issue(1, Validity::Current);
    let other = ca.issue(2, Validity::Current);
    let expired = ca.issue(3, Validity::Expired);
    let write = |name: &str, text: &str| {
        let path = d.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let good_cert = write("good.crt", &good.cert_pem);
    let good_key = write("good.key", &good.key_pem);

    let err = start_error(d.join("absent.crt"), good_key.clone()).await;
    assert!(
        err.contains("absent.crt") && err.contains("cannot read the file"),
        "{err}"
    );
    let err = start_error(good_cert.clone(), d.join("absent.key")).await;
    assert!(
        err.contains("absent.key") && err.contains("cannot read the file"),
        "{err}"
    );
    let err = start_error(
        write("expired.crt", &expired.cert_pem),
        write("expired.key", &expired.key_pem),
    )
    .await;
    assert!(
        err.contains("expired.crt") && err.contains("expired on"),
        "{err}"
    );
    let err = start_error(good_cert.clone(), write("other.key", &other.key_pem)).await;
    assert!(
        err.contains("other.key")
            && err.contains("good.crt")
            && err.contains("does not belong to the certificate"),
        "{err}"
    );
    let err = start_error(write("empty.crt", ""), good_key.clone()).await;
    assert!(
        err.contains("empty.crt") && err.contains("no certificate in the file"),
        "{err}"
    );
    let err = start_error(good_cert.clone(), write("cert-as-key.key", &good.cert_pem)).await;
    assert!(
        err.contains("cert-as-key.key") && err.contains("no private key in the file"),
        "{err}"
    );

    // The binary exits non-zero with the sentence, before creating
    // anything in its data directory.
    let data = d.join("data");
    let out = tokio::process::Command::new(crate::reports::cadre_binary())
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--bind", "127.0.0.1:0", "--tls-cert"])
        .arg(d.join("expired.crt"))
        .arg("--tls-key")
        .arg(d.join("expired.key"))
        .output()
        .await
        .expect("run cadre serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "cadre serve started: {stderr}");
    assert!(
        stderr.contains("expired.crt") && stderr.contains("expired on"),
        "{stderr}"
    );
    assert!(!data.exists(), "a refused start created its data directory");

    // One of the two flags without the other is a usage error.
    let out = tokio::process::Command::new(crate::reports::cadre_binary())
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--bind", "127.0.0.1:0", "--tls-cert"])
        .arg(&good_cert)
        .output()
        .await
        .expect("run cadre serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "cadre serve started: {stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reloads_on_sighup() {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = files(dir.path());
    let ca = TestCa::new("Organisme");
    let first = ca.issue(0x51, Validity::Current);
    first.write(&cert, &key);
    let mut child = tokio::process::Command::new(crate::reports::cadre_binary())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--bind", "127.0.0.1:0", "--json-ready"])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        // Polling would take an hour: only the signal can explain a reload.
        .args(["--tls-reload-seconds", "3600"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start cadre serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("cadre serve says it is ready")
        .unwrap()
        .expect("a ready line");
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    let url = ready["url"].as_str().unwrap();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let addr: std::net::SocketAddr = url.trim_start_matches("https://").parse().unwrap();
    let serial = || async {
        let tls = cadre_tests::tls::connect(addr, ca.client_config(), None)
            .await
            .expect("a TLS handshake with cadre serve");
        serial_of(&cadre_tests::tls::presented(&tls))
    };
    assert_eq!(serial().await, serial_of(&first.der));

    let second = ca.issue(0x52, Validity::Current);
    second.write(&cert, &key);
    let pid = child.id().expect("the server's pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = serial().await;
        if now == serial_of(&second.der) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after SIGHUP, new connections still got certificate {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let _ = tokio::time::timeout(WAIT, child.wait()).await;
}
