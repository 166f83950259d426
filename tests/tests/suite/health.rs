//! `/healthz` and `/readyz` on a real server: alive is "ok"; ready is 200
//! with every check named when the ledger commits and the disk has room,
//! and 503 naming the failing check in words when the data directory's
//! disk has less free space than required, or when a check another part
//! registered (TURN's, later) fails. Both answers carry a request id.

use cadre_tests::{StatusCode, TestServer};
use serde_json::Value;

async fn readyz(server: &TestServer) -> (StatusCode, Value) {
    let response = server
        .http()
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    let status = response.status();
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "a cached readiness would be stale"
    );
    assert!(
        response
            .headers()
            .get("x-request-id")
            .is_some_and(|v| v.to_str().is_ok_and(|id| id.starts_with("r_"))),
        "/readyz without a request id"
    );
    let body = response.text().await.expect("a body");
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("/readyz answered something that is not JSON ({e}): {body}"));
    (status, json)
}

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_server_is_alive_and_ready() {
    let server = TestServer::start().await;
    let response = server
        .http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.text().await.expect("a body"), "ok");

    // No commit yet on a fresh server: the probe write stands in for one.
    let (status, body) = readyz(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(check(&body, "ledger")["ok"], true, "{body}");
    assert_eq!(check(&body, "disk")["ok"], true, "{body}");

    // After real commits too.
    let session = server.create_session(&cadre_tests::TRIO).await;
    let _claire = server.join(&session, "Claire").await;
    let (status, body) = readyz(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_when_the_disk_has_less_room_than_required() {
    // More than any disk here holds: 1 EiB.
    let server = TestServer::start_with(|c| c.min_free_disk_mb = 1 << 40).await;
    let (status, body) = readyz(&server).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    let disk = check(&body, "disk");
    assert_eq!(disk["ok"], false, "{body}");
    let problem = disk["problem"].as_str().expect("the problem in words");
    assert!(
        problem.contains("MiB free") && problem.contains("--min-free-disk-mb"),
        "{problem}"
    );
    // The other checks still report, and hold.
    assert_eq!(check(&body, "ledger")["ok"], true, "{body}");
    // Alive all the same: readiness is not liveness.
    let response = server
        .http()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_check_that_fails_makes_the_server_not_ready() {
    let server = TestServer::start().await;
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = std::sync::Arc::clone(&up);
    server.app().readiness().register("turn", move || {
        if flag.load(std::sync::atomic::Ordering::Relaxed) {
            Ok(())
        } else {
            Err("the TURN server does not answer on 127.0.0.1:3478".to_owned())
        }
    });
    let (status, body) = readyz(&server).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(check(&body, "turn")["ok"], true);

    up.store(false, std::sync::atomic::Ordering::Relaxed);
    let (status, body) = readyz(&server).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(check(&body, "turn")["ok"], false);
    assert_eq!(
        check(&body, "turn")["problem"],
        "the TURN server does not answer on 127.0.0.1:3478"
    );
    assert_eq!(check(&body, "ledger")["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_once_the_ledger_writer_has_stopped() {
    let server = TestServer::start().await;
    server
        .app()
        .ledger()
        .shutdown()
        .await
        .expect("the ledger shuts down");
    let (status, body) = readyz(&server).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let ledger = check(&body, "ledger");
    assert_eq!(ledger["ok"], false, "{body}");
    assert!(
        ledger["problem"]
            .as_str()
            .is_some_and(|p| p.contains("writer has stopped")),
        "{body}"
    );
}
