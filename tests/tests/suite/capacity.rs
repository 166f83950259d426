//! Capacity: the server-wide cap answers 503 with `Retry-After` and says the
//! server is at capacity; one address cannot take the whole cap (a limit on
//! its open connections and a token bucket on its attempts), another address
//! still gets in, and `X-Forwarded-For` neither dodges nor widens a limit.

use cadre_protocol::Role;
use cadre_tests::{Refusal, StatusCode, TestServer, Upgrade, WAIT, person};
use std::net::IpAddr;
use std::time::{Duration, Instant};

const SECOND: &str = "127.0.0.2";

fn from(source: &str) -> Upgrade {
    Upgrade {
        source: Some(source.parse::<IpAddr>().expect("an address")),
        headers: Vec::new(),
    }
}

fn spoofing(source: Option<&str>, forwarded_for: &str) -> Upgrade {
    Upgrade {
        source: source.map(|s| s.parse().expect("an address")),
        headers: vec![("X-Forwarded-For".into(), forwarded_for.into())],
    }
}

fn path(session: &cadre_protocol::api::SessionView, name: &str) -> String {
    format!(
        "/ws/{}?token={}",
        session.id,
        person(session, name).link.token
    )
}

/// `Retry-After` as whole seconds, which must be there and positive.
fn retry_after(refusal: &Refusal) -> u64 {
    let value = refusal
        .header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {refusal:?}"));
    let secs: u64 = value
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After {value:?} is not a number of seconds"));
    assert!(secs >= 1, "Retry-After {secs}");
    secs
}

async fn refused(server: &TestServer, path: &str, how: &Upgrade) -> Refusal {
    match server.connect_with(path, how).await {
        Ok(client) => panic!("{path} was let in: {}", client.welcome),
        Err(refusal) => refusal,
    }
}

#[tokio::test]
async fn the_cap_answers_503_with_retry_after_and_says_the_server_is_at_capacity() {
    let server = TestServer::start_with(|c| c.max_connections = 1).await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let claire = server.join(&session, "Claire").await;
    let refusal = refused(&server, &path(&session, "Karim"), &from(SECOND)).await;
    assert_eq!(refusal.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refusal.error.code.as_str(), "at_capacity");
    assert!(
        refusal.error.message.contains("at capacity"),
        "{}",
        refusal.error.message
    );
    retry_after(&refusal);
    // Claire was not disturbed; once she goes, the place is free again.
    claire.leave().await;
    drop(claire);
    let deadline = Instant::now() + WAIT;
    loop {
        match server
            .connect_with(&path(&session, "Karim"), &Upgrade::default())
            .await
        {
            Ok(karim) => {
                assert_eq!(karim.id, person(&session, "Karim").id);
                break;
            }
            Err(r) => {
                assert_eq!(r.error.code.as_str(), "at_capacity", "{r:?}");
                assert!(Instant::now() < deadline, "the freed place never came back");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn one_address_over_its_share_is_refused_while_another_address_gets_in() {
    let server = TestServer::start_with(|c| c.per_address_connections = 2).await;
    let session = server
        .create_session(&[
            ("Claire", Role::Facilitator),
            ("Karim", Role::Participant),
            ("Léa", Role::Participant),
            ("Sophie", Role::Participant),
        ])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let karim = server.join(&session, "Karim").await;
    claire.skip_until_type("peer_joined").await;

    let refusal = refused(&server, &path(&session, "Léa"), &Upgrade::default()).await;
    assert_eq!(refusal.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refusal.error.code.as_str(), "rate_limited");
    assert!(
        refusal
            .error
            .message
            .contains("too many connections are open from your address"),
        "{}",
        refusal.error.message
    );
    retry_after(&refusal);
    // Claiming to be someone else behind a proxy changes nothing.
    let spoofed = refused(
        &server,
        &path(&session, "Léa"),
        &spoofing(None, "203.0.113.7"),
    )
    .await;
    assert_eq!(spoofed.error.code.as_str(), "rate_limited", "{spoofed:?}");

    // Another address gets in, and everyone sees her.
    let lea = server
        .connect_with(&path(&session, "Léa"), &from(SECOND))
        .await
        .unwrap_or_else(|r| panic!("Léa from {SECOND} was refused: {r:?}"));
    let joined = claire.skip_until_type("peer_joined").await;
    assert_eq!(joined["peer"]["id"], lea.id.as_str());

    // A place freed on the first address is taken again.
    karim.leave().await;
    drop(karim);
    let deadline = Instant::now() + WAIT;
    loop {
        match server
            .connect_with(&path(&session, "Sophie"), &Upgrade::default())
            .await
        {
            Ok(_) => break,
            Err(r) => {
                assert_eq!(r.error.code.as_str(), "rate_limited", "{r:?}");
                assert!(Instant::now() < deadline, "Karim's place never came back");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test]
async fn attempts_per_second_from_one_address_are_bounded() {
    const RATE: u32 = 2;
    const BURST: u32 = 3;
    let server = TestServer::start_with(|c| {
        c.per_address_admissions_per_second = RATE;
        c.per_address_admission_burst = BURST;
    })
    .await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    // Attempts with a bad token count too: a flood of them is bounded.
    let started = Instant::now();
    let mut judged = 0u32;
    let mut limited = Vec::new();
    for _ in 0..12 {
        let r = refused(
            &server,
            &format!("/ws/{}?token=not-a-token", session.id),
            &Upgrade::default(),
        )
        .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.error.code.as_str(), "rate_limited", "{r:?}");
            assert!(
                r.error.message.contains("too many connection attempts"),
                "{}",
                r.error.message
            );
            limited.push(retry_after(&r));
        } else {
            assert_eq!(r.error.code.as_str(), "token_malformed", "{r:?}");
            judged += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = f64::from(BURST) + elapsed * f64::from(RATE) + 1.0;
    assert!(judged >= BURST, "only {judged} attempts were judged");
    assert!(
        f64::from(judged) <= allowed,
        "{judged} attempts judged in {elapsed:.2} s: the bucket allows {allowed:.1}"
    );
    assert!(!limited.is_empty(), "no attempt was limited");

    // A good link from the same address, even claiming another origin
    // through X-Forwarded-For, waits like the rest.
    let spoofed = refused(
        &server,
        &path(&session, "Claire"),
        &spoofing(None, "198.51.100.4"),
    )
    .await;
    assert_eq!(spoofed.status, StatusCode::TOO_MANY_REQUESTS, "{spoofed:?}");
    let wait = retry_after(&spoofed);
    assert!(
        server
            .ledger_entries(&session.id, "connection_opened")
            .await
            .is_empty()
    );

    // Another address is not held back.
    let karim = server
        .connect_with(&path(&session, "Karim"), &from(SECOND))
        .await
        .unwrap_or_else(|r| panic!("Karim from {SECOND} was refused: {r:?}"));
    assert_eq!(karim.id, person(&session, "Karim").id);

    // After the wait it was told, the first address gets in.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let claire = server
        .connect_with(&path(&session, "Claire"), &Upgrade::default())
        .await
        .unwrap_or_else(|r| panic!("Claire was refused after waiting {wait} s: {r:?}"));
    assert_eq!(claire.id, person(&session, "Claire").id);
}
