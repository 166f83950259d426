//! `/metrics`: a real server is scraped after real joins, relays and
//! refusals, and the text is parsed as Prometheus reads it. The figures
//! move as the work does (two joins are two admissions and two open
//! connections, three signals are three relays, a forged token is one
//! refusal under `token_signature` and nowhere else, appends are ledger
//! commits), and they are served only behind the token on the public
//! address (none, a wrong one: 401 and no figure) or alone on their own
//! address.

use cadre_protocol::Role;
use cadre_tests::{StatusCode, TRIO, TestServer, claims_of, header_of, other_ed25519_key, person};
use cadre_tests::{WAIT, sign_eddsa};
use serde_json::json;
use std::collections::HashMap;

const TOKEN: &str = "metrics-token-for-the-suite-0123456789";

/// One scrape: each series (`name{labels}`) and its value; the `# TYPE`
/// of each family; and the raw text for messages.
struct Scrape {
    series: HashMap<String, f64>,
    types: HashMap<String, String>,
    text: String,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut series = HashMap::new();
        let mut types = HashMap::new();
        assert!(
            text.trim_end().ends_with("# EOF"),
            "an OpenMetrics text ends with # EOF: {text}"
        );
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("a TYPE line without a type: {line}"));
                types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (name, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("a sample line without a value: {line}"));
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|e| {
                    panic!("a sample whose value is not a number ({e}): {line}")
                }),
            };
            assert!(
                series.insert(name.to_owned(), value).is_none(),
                "a series given twice: {line}"
            );
        }
        Scrape {
            series,
            types,
            text: text.to_owned(),
        }
    }

    fn value(&self, series: &str) -> f64 {
        *self
            .series
            .get(series)
            .unwrap_or_else(|| panic!("no series {series} in the scrape:\n{}", self.text))
    }
}

async fn scrape(server: &TestServer) -> Scrape {
    let response = server
        .http()
        .get(server.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        kind.starts_with("application/openmetrics-text"),
        "content type {kind}"
    );
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    Scrape::parse(&response.text().await.expect("the scrape's body"))
}

/// Scrapes until `series` has `value` (a connection's close is counted when
/// its task ends, a moment after the client sees it).
async fn scrape_until(server: &TestServer, series: &str, value: f64) -> Scrape {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = scrape(server).await;
        if s.value(series) == value {
            return s;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{series} did not reach {value} within {WAIT:?}; last {}",
                s.value(series)
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn with_token(config: &mut cadre_server::Config) {
    config.metrics_token = Some(TOKEN.to_owned());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_figures_move_with_joins_relays_refusals_and_commits() {
    let server = TestServer::start_with(with_token).await;
    let session = server.create_session(&TRIO).await;
    let before = scrape(&server).await;

    // Every family is declared with its type, and named with its unit.
    for (family, kind) in [
        ("cadre_live_sessions", "gauge"),
        ("cadre_open_connections", "gauge"),
        ("cadre_admissions", "counter"),
        ("cadre_refusals", "counter"),
        ("cadre_relayed_messages", "counter"),
        ("cadre_outbound_queue_drops", "counter"),
        ("cadre_alerts", "counter"),
        ("cadre_turn_allocations", "gauge"),
        ("cadre_ledger_commit_seconds", "histogram"),
        ("cadre_ledger_batch_entries", "histogram"),
        ("cadre_recording_segments_opened", "counter"),
        ("cadre_recording_segments_closed", "counter"),
        ("cadre_recording_written_bytes", "counter"),
    ] {
        assert_eq!(
            before.types.get(family).map(String::as_str),
            Some(kind),
            "{family} is a {kind}:\n{}",
            before.text
        );
    }
    assert_eq!(before.value("cadre_live_sessions"), 0.0);
    assert_eq!(before.value("cadre_open_connections"), 0.0);
    assert_eq!(before.value("cadre_admissions_total"), 0.0);

    let mut claire = server.join(&session, "Claire").await;
    let mut karim = server.join(&session, "Karim").await;
    claire.skip_until_type("peer_joined").await;
    for i in 0..3 {
        claire.signal(&karim.id, json!({ "n": i })).await;
    }
    for _ in 0..3 {
        let signal = karim.skip_until_type("signal").await;
        assert_eq!(signal["from"], claire.id.as_str());
    }

    // A token signed with another key: refused for its signature.
    let karim_token = &person(&session, "Karim").link.token;
    let kid = header_of(karim_token)["kid"]
        .as_str()
        .expect("a kid")
        .to_owned();
    let forged = sign_eddsa(&kid, &claims_of(karim_token), &other_ed25519_key());
    let (status, error) = server.refusal(&session.id, &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error.code.as_str(), "token_signature");

    let after = scrape(&server).await;
    assert_eq!(after.value("cadre_live_sessions"), 1.0);
    assert_eq!(after.value("cadre_open_connections"), 2.0);
    assert_eq!(after.value("cadre_admissions_total"), 2.0);
    assert_eq!(after.value("cadre_relayed_messages_total"), 3.0);
    assert_eq!(
        after.value("cadre_refusals_total{code=\"token_signature\"}"),
        1.0
    );
    // Nothing else was refused: each code's count is where it was.
    for (series, value) in &after.series {
        if series.starts_with("cadre_refusals_total{") && !series.contains("token_signature") {
            assert_eq!(*value, 0.0, "{series} moved:\n{}", after.text);
        }
    }
    // The openings were committed to the ledger: at least one transaction
    // more, as many in the buckets as counted, a time spent.
    let commits = after.value("cadre_ledger_commit_seconds_count");
    assert!(
        commits > before.value("cadre_ledger_commit_seconds_count"),
        "no ledger commit counted:\n{}",
        after.text
    );
    assert_eq!(
        after.value("cadre_ledger_commit_seconds_bucket{le=\"+Inf\"}"),
        commits
    );
    assert!(after.value("cadre_ledger_commit_seconds_sum") > 0.0);
    assert!(
        after.value("cadre_ledger_batch_entries_sum")
            >= after.value("cadre_ledger_batch_entries_count"),
        "a batch holds at least one entry"
    );
    // No series names a person or a session.
    for who in ["Claire", "Karim", session.id.as_str(), claire.id.as_str()] {
        assert!(!after.text.contains(who), "{who} in the metrics");
    }

    // A departure closes its connection; the session stays live while
    // someone is in it.
    karim.leave().await;
    claire.peer_left_reason(&karim.id).await;
    let later = scrape_until(&server, "cadre_open_connections", 1.0).await;
    assert_eq!(later.value("cadre_live_sessions"), 1.0);
    assert_eq!(later.value("cadre_admissions_total"), 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_a_scrape_gets_401_and_no_figure() {
    let server = TestServer::start_with(with_token).await;
    for bearer in [None, Some("wrong"), Some(&TOKEN[1..]), Some("")] {
        let mut request = server.http().get(server.url("/metrics"));
        if let Some(b) = bearer {
            request = request.bearer_auth(b);
        }
        let response = request.send().await.expect("GET /metrics");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bearer:?}");
        let body = response.text().await.expect("a body");
        assert!(!body.contains("cadre_"), "figures leaked: {body}");
        let error: serde_json::Value = serde_json::from_str(&body).expect("an error body");
        assert_eq!(error["code"], "unauthorized", "{body}");
    }
    // The organiser's token is not the metrics token.
    let response = server
        .http()
        .get(server.url("/metrics"))
        .bearer_auth(server.organiser_token())
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let ok = scrape(&server).await;
    assert_eq!(ok.value("cadre_admissions_total"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_or_an_address_metrics_are_not_served() {
    let server = TestServer::start().await;
    let (status, body) = server.get_public("/metrics").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(!body.to_string().contains("cadre_"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_their_own_address_the_metrics_are_served_alone() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("find a free port");
    let addr = listener.local_addr().expect("its address");
    drop(listener);
    let server = TestServer::start_with(|c| c.metrics_bind = Some(addr)).await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let _claire = server.join(&session, "Claire").await;
    let http = server.http();
    let response = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("GET /metrics on the metrics address");
    assert_eq!(response.status(), StatusCode::OK);
    let s = Scrape::parse(&response.text().await.expect("the body"));
    assert_eq!(s.value("cadre_admissions_total"), 1.0);
    // Nothing else of the application there, and no metrics on the
    // public address.
    for path in ["/healthz", "/api/sessions", "/"] {
        let response = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("GET on the metrics address");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = server.get_public("/metrics").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_reader_counts_as_an_outbound_queue_drop() {
    let server = TestServer::start_with(|config| {
        with_token(config);
        config.heartbeat_interval = std::time::Duration::from_secs(120);
        config.rate_per_second = 100_000;
        config.rate_burst = 100_000;
        config.outbound_queue = 8;
    })
    .await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Sami", Role::Participant)])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let sami = server.join(&session, "Sami").await;
    claire.skip_until_type("peer_joined").await;
    assert_eq!(
        scrape(&server)
            .await
            .value("cadre_outbound_queue_drops_total"),
        0.0
    );
    sami.pause_reading();
    let big = format!(
        r#"{{"description":{{"type":"offer","sdp":"{}"}}}}"#,
        "x".repeat(60_000)
    );
    let mut sent = 0;
    let mut left = None;
    // Far more than a queue of 8 and the sockets' buffers hold.
    while sent < 2000 && left.is_none() {
        claire.signal_raw(&sami.id, &big).await;
        sent += 1;
        if let Some(incoming) = claire.try_next() {
            let cadre_tests::Incoming::Text(text) = &incoming else {
                panic!("Claire received {incoming:?}");
            };
            left = Some(serde_json::from_str::<serde_json::Value>(text).expect("JSON"));
        }
    }
    let left = left.unwrap_or_else(|| panic!("Sami still connected after {sent} big signals"));
    assert_eq!(left["type"], "peer_left", "{left}");
    assert_eq!(left["reason"], "slow_consumer", "{left}");
    let s = scrape(&server).await;
    assert!(
        s.value("cadre_outbound_queue_drops_total") >= 1.0,
        "a full queue not counted:\n{}",
        s.text
    );
    // Each signal queued was counted as relayed; the refused ones were not.
    assert!(s.value("cadre_relayed_messages_total") < f64::from(sent));
}
