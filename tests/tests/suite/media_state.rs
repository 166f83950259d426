//! Camera and microphone changes reach the others and the roster.
//!
//! A `media_state` message is passed on to every other member as
//! `peer_media {id, camera, microphone}` (not back to the sender), and a
//! person joining later finds the latest state in their `welcome` roster.

use cadre_tests::TRIO;
use cadre_tests::TestServer;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_changes_are_shown_to_the_others() {
    let server = TestServer::start().await;
    let session = server.create_session(&TRIO).await;
    let mut claire = server.join(&session, "Claire").await;
    let mut karim = server.join(&session, "Karim").await;
    claire.recv_type("peer_joined").await;

    karim
        .send_json(&json!({"type": "media_state", "camera": false, "microphone": true}))
        .await;
    let media = claire.recv_type("peer_media").await;
    assert_eq!(
        media,
        json!({"type": "peer_media", "id": karim.id, "camera": false, "microphone": true})
    );
    karim.expect_no_message(Duration::from_millis(200)).await;

    karim
        .send_json(&json!({"type": "media_state", "camera": true, "microphone": false}))
        .await;
    let media = claire.recv_type("peer_media").await;
    assert_eq!(media["camera"], true);
    assert_eq!(media["microphone"], false);

    let lea = server.join(&session, "Léa").await;
    let roster = lea.welcome["roster"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let karim_entry = roster
        .iter()
        .find(|p| p["id"] == karim.id.as_str())
        .unwrap_or_else(|| panic!("Karim missing from {roster:?}"));
    assert_eq!(karim_entry["camera"], true, "{karim_entry}");
    assert_eq!(karim_entry["microphone"], false, "{karim_entry}");
}
