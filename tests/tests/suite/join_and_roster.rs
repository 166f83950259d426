//! Joining a session and leaving it keep everyone's roster right.
//!
//! A first person's `welcome` says who they are, describes the session as
//! created over REST, reflects the server's settings (heartbeat, ICE) and
//! has an empty roster. A second person's `welcome` lists the first with
//! their current connection, and the first learns of the second through
//! `peer_joined`; the `polite` flags the two receive about each other are
//! opposite, so perfect negotiation has exactly one polite side. Leaving on
//! purpose ends with close code 1000 and `peer_left {reason: "left"}` for
//! the others; a connection that just drops gives `reason: "disconnected"`.

use cadre_protocol::signalling::{IcePolicy, IceServer, Me, Peer, SessionInfo};
use cadre_protocol::{PROTOCOL_VERSION, Role, SessionKind};
use cadre_tests::TRIO;
use cadre_tests::{Incoming, TestServer, WAIT, now, person};
use serde_json::Value;
use std::time::Duration;

fn parse<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> T {
    serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what} does not have the documented shape ({e}): {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_describes_you_the_session_and_who_is_there() {
    let stun = IceServer {
        urls: vec!["stun:stun.example.org:3478".to_owned()],
        username: None,
        credential: None,
    };
    let configured_stun = stun.clone();
    let server = TestServer::start_with(move |config| {
        config.heartbeat_interval = Duration::from_millis(7_250);
        config.ice_servers = vec![configured_stun];
        config.ice_policy = IcePolicy::Loopback;
    })
    .await;
    let session = server
        .create_session(&[
            ("Claire Martin", Role::Facilitator),
            ("Karim Benali", Role::Participant),
        ])
        .await;
    let claire_view = person(&session, "Claire Martin");
    let karim_view = person(&session, "Karim Benali");

    let mut claire = server.join(&session, "Claire Martin").await;
    let welcome = &claire.welcome;
    assert_eq!(welcome["protocol"], PROTOCOL_VERSION);
    assert_eq!(
        parse::<Me>(&welcome["you"], "welcome.you"),
        Me {
            id: claire_view.id.clone(),
            name: "Claire Martin".to_owned(),
            role: Role::Facilitator,
        }
    );
    let info: SessionInfo = parse(&welcome["session"], "welcome.session");
    assert_eq!(info.id, session.id);
    assert_eq!(info.title, session.title);
    assert_eq!(info.kind, SessionKind::Formation);
    assert_eq!(info.organisation, session.organisation);
    assert_eq!(info.planned_start, session.planned_start);
    assert_eq!(info.planned_end, session.planned_end);
    assert_eq!(info.time_zone, "Europe/Paris");
    assert_eq!(info.facilitators, vec!["Claire Martin".to_owned()]);
    // A facilitator's welcome lists everyone of the session, connected or
    // not, in the session's order.
    assert_eq!(
        parse::<Vec<Me>>(&welcome["people"], "welcome.people"),
        vec![
            Me {
                id: claire_view.id.clone(),
                name: "Claire Martin".to_owned(),
                role: Role::Facilitator,
            },
            Me {
                id: karim_view.id.clone(),
                name: "Karim Benali".to_owned(),
                role: Role::Participant,
            },
        ]
    );
    assert_eq!(
        welcome["roster"],
        serde_json::json!([]),
        "nobody else is connected"
    );
    assert_eq!(welcome["heartbeat_interval_ms"], 7_250);
    assert_eq!(
        parse::<Vec<IceServer>>(&welcome["ice_servers"], "welcome.ice_servers"),
        vec![stun]
    );
    assert_eq!(
        parse::<IcePolicy>(&welcome["ice_policy"], "welcome.ice_policy"),
        IcePolicy::Loopback
    );
    let server_time = welcome["server_time"]
        .as_i64()
        .unwrap_or_else(|| panic!("server_time is not an integer: {welcome}"));
    assert!(
        (server_time / 1000 - now()).abs() < 60,
        "server_time {server_time} is not milliseconds since the epoch, now"
    );
    assert!(!claire.connection_id.is_empty());

    let mut karim = server.join(&session, "Karim Benali").await;
    assert_eq!(karim.id, karim_view.id);
    assert_eq!(karim.welcome["you"]["role"], "participant");
    assert!(
        karim.welcome.get("people").is_none(),
        "a participant is not given the list of the session's people: {}",
        karim.welcome
    );
    assert_eq!(
        karim.welcome["session"]["facilitators"],
        serde_json::json!(["Claire Martin"])
    );
    assert_ne!(
        karim.connection_id, claire.connection_id,
        "each connection has its own id"
    );
    let roster: Vec<Peer> = parse(&karim.welcome["roster"], "welcome.roster");
    assert_eq!(roster.len(), 1, "Karim sees Claire only: {roster:?}");
    let claire_seen_by_karim = &roster[0];
    assert_eq!(claire_seen_by_karim.id, claire.id);
    assert_eq!(claire_seen_by_karim.name, "Claire Martin");
    assert_eq!(claire_seen_by_karim.role, Role::Facilitator);
    assert_eq!(claire_seen_by_karim.connection_id, claire.connection_id);

    let joined = claire.recv_type("peer_joined").await;
    let karim_seen_by_claire: Peer = parse(&joined["peer"], "peer_joined.peer");
    assert_eq!(karim_seen_by_claire.id, karim.id);
    assert_eq!(karim_seen_by_claire.name, "Karim Benali");
    assert_eq!(karim_seen_by_claire.role, Role::Participant);
    assert_eq!(karim_seen_by_claire.connection_id, karim.connection_id);
    assert_ne!(
        karim_seen_by_claire.polite, claire_seen_by_karim.polite,
        "exactly one side of a pair is polite"
    );

    // Nobody hears anything else.
    claire.expect_no_message(Duration::from_millis(300)).await;
    karim.expect_no_message(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polite_flags_are_complementary_in_every_pair() {
    let server = TestServer::start().await;
    let names = ["Claire", "Karim", "Léa", "Hugo"];
    let people: Vec<(&str, Role)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let role = if i == 0 {
                Role::Facilitator
            } else {
                Role::Participant
            };
            (*name, role)
        })
        .collect();
    let session = server.create_session(&people).await;

    // Each newcomer reads its roster; everyone already there reads a
    // peer_joined. Record what each one believes about each other one.
    let mut clients: Vec<cadre_tests::Client> = Vec::new();
    let mut polite = std::collections::HashMap::new();
    for name in names {
        let newcomer = server.join(&session, name).await;
        for peer in parse::<Vec<Peer>>(&newcomer.welcome["roster"], "roster") {
            polite.insert((newcomer.id.clone(), peer.id), peer.polite);
        }
        for client in clients.iter_mut() {
            let joined = client.recv_type("peer_joined").await;
            let peer: Peer = parse(&joined["peer"], "peer_joined.peer");
            assert_eq!(peer.id, newcomer.id);
            polite.insert((client.id.clone(), peer.id), peer.polite);
        }
        clients.push(newcomer);
    }
    assert_eq!(polite.len(), names.len() * (names.len() - 1));
    for ((me, them), my_side) in &polite {
        let their_side = polite[&(them.clone(), me.clone())];
        assert_ne!(
            *my_side, their_side,
            "{me} and {them} must play opposite roles"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_closes_with_1000_and_tells_the_others() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let mut karim = server.join(&session, "Karim").await;
    claire.recv_type("peer_joined").await;

    karim.leave().await;
    // A `closing {reason: "left"}` may come first; nothing else may.
    let mut next = karim.next_within(WAIT).await;
    if let Some(Incoming::Text(text)) = &next {
        let closing: Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(closing["type"], "closing", "after leave: {closing}");
        assert_eq!(closing["reason"], "left", "after leave: {closing}");
        next = karim.next_within(WAIT).await;
    }
    match next {
        Some(Incoming::Close(Some((code, _)))) => assert_eq!(code, 1000),
        other => panic!("after leave Karim expected close 1000, got {other:?}"),
    }

    let left = claire.recv_type("peer_left").await;
    assert_eq!(left["id"], karim.id.as_str());
    assert_eq!(left["reason"], "left");
    claire.expect_no_message(Duration::from_millis(300)).await;

    // Karim can come back, and Claire sees him join again.
    let karim_again = server.join(&session, "Karim").await;
    let joined = claire.recv_type("peer_joined").await;
    assert_eq!(joined["peer"]["id"], karim_again.id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_reported_as_disconnected() {
    let server = TestServer::start().await;
    let session = server.create_session(&TRIO).await;
    let mut claire = server.join(&session, "Claire").await;
    let karim = server.join(&session, "Karim").await;
    claire.recv_type("peer_joined").await;
    let mut lea = server.join(&session, "Léa").await;
    claire.recv_type("peer_joined").await;
    let karim_id = karim.id.clone();

    // No leave, no close frame: the TCP connection just goes away.
    drop(karim);

    for client in [&mut claire, &mut lea] {
        let left = client.recv_type("peer_left").await;
        assert_eq!(left["id"], karim_id.as_str());
        assert_eq!(left["reason"], "disconnected");
    }

    // The roster no longer holds Karim: a newcomer sees Claire and Léa.
    let newcomer = server.join(&session, "Karim").await;
    let roster: Vec<Peer> = parse(&newcomer.welcome["roster"], "roster");
    let mut ids: Vec<&str> = roster.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![claire.id.as_str(), lea.id.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
}
