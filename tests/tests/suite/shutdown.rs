//! Stopping the server tells every connection why before closing it.
//!
//! When the server's shutdown token is cancelled (what SIGTERM does), each
//! live connection receives `closing {reason: "shutdown"}` and close code
//! 4006, which tells clients to reconnect later; none is left hanging.

use cadre_protocol::Role;
use cadre_protocol::close_code::SHUTDOWN;
use cadre_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_connection_with_4006() {
    let server = TestServer::start().await;
    let first = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let second = server
        .create_session(&[("Sophie", Role::Facilitator)])
        .await;
    let mut claire = server.join(&first, "Claire").await;
    let mut karim = server.join(&first, "Karim").await;
    let mut sophie = server.join(&second, "Sophie").await;
    claire.recv_type("peer_joined").await;

    server.shutdown();

    for client in [&mut claire, &mut karim, &mut sophie] {
        // Others going first may be announced; nothing else may come.
        let (closing, before) = client
            .skip_until("closing", |m| m["type"] == "closing")
            .await;
        for message in &before {
            assert_eq!(message["type"], "peer_left", "before closing: {message}");
            assert_eq!(message["reason"], "shutdown", "before closing: {message}");
        }
        assert_eq!(closing["reason"], "shutdown", "{closing}");
        client.expect_closed(SHUTDOWN).await;
    }
}
