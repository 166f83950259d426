//! A second connection of the same person replaces the first.
//!
//! When someone opens their link again (another tab, another device), the
//! old connection receives `closing {reason: "replaced"}` and then close
//! code 4001, so its client knows not to reconnect. The others receive a
//! single `peer_joined` for the same participant id with the new
//! `connection_id` (no `peer_left` in between: the person never left). The
//! new connection is a full member: it sees the roster and relays both ways.

use cadre_protocol::Role;
use cadre_protocol::close_code::REPLACED;
use cadre_tests::{Incoming, TestServer, WAIT};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tab_replaces_the_old_one() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let mut old_tab = server.join(&session, "Karim").await;
    claire.recv_type("peer_joined").await;

    let mut new_tab = server.join(&session, "Karim").await;
    assert_eq!(new_tab.id, old_tab.id, "same person");
    assert_ne!(
        new_tab.connection_id, old_tab.connection_id,
        "a new connection gets a new id"
    );
    let roster = new_tab.welcome["roster"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(roster.len(), 1, "the new tab sees Claire only: {roster:?}");
    assert_eq!(roster[0]["id"], claire.id.as_str());

    // The old tab is told why, then closed with 4001.
    let closing = old_tab.recv_type("closing").await;
    assert_eq!(closing["reason"], "replaced", "{closing}");
    old_tab.expect_closed(REPLACED).await;

    // Claire sees Karim again under his new connection, and nothing else.
    let joined = claire.recv_type("peer_joined").await;
    assert_eq!(joined["peer"]["id"], new_tab.id.as_str());
    assert_eq!(
        joined["peer"]["connection_id"],
        new_tab.connection_id.as_str()
    );
    claire.expect_no_message(Duration::from_millis(300)).await;

    // The new tab relays both ways.
    new_tab.signal(&claire.id, json!({"candidate": null})).await;
    let relayed = claire.recv_type("signal").await;
    assert_eq!(relayed["from"], new_tab.id.as_str());
    claire
        .signal(&new_tab.id, json!({"description": {"type": "offer"}}))
        .await;
    let relayed = new_tab.recv_type("signal").await;
    assert_eq!(relayed["from"], claire.id.as_str());
    assert_eq!(relayed["data"], json!({"description": {"type": "offer"}}));
    new_tab.expect_no_message(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_new_tab_replaces_the_previous_one() {
    let server = TestServer::start().await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let mut current = server.join(&session, "Karim").await;
    claire.recv_type("peer_joined").await;

    for round in 0..3 {
        let mut newer = server.join(&session, "Karim").await;
        let closing = current.recv_type("closing").await;
        assert_eq!(closing["reason"], "replaced", "round {round}: {closing}");
        current.expect_closed(REPLACED).await;
        // After the close handshake the old connection is over.
        match current.next_within(WAIT).await {
            Some(Incoming::Ended(_)) => {}
            other => panic!("round {round}: the replaced tab got {other:?} after its close"),
        }
        let joined = claire.recv_type("peer_joined").await;
        assert_eq!(
            joined["peer"]["connection_id"],
            newer.connection_id.as_str()
        );

        // Claire's signal to Karim reaches the newest tab.
        claire.signal(&newer.id, json!({"round": round})).await;
        let relayed = newer.recv_type("signal").await;
        assert_eq!(relayed["data"]["round"], round);
        current = newer;
    }
    claire.expect_no_message(Duration::from_millis(200)).await;
}
