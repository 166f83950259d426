//! TURN: people whose networks block direct media connect through a relay.
//!
//! Two webrtc-rs peers join a session through cadre (real WebSocket
//! signalling), take the ICE servers of their welcome, and may only use
//! relays (`ice_transport_policy: relay`): they connect and exchange a
//! data-channel message through the embedded TURN server, and through a
//! real coturn started by the test with the same kind of time-limited
//! credentials. webrtc-rs 0.21 gathers relays over UDP only (it skips
//! `?transport=tcp` URLs), so TURN over TCP is shown with the `turn`
//! crate's client over a TCP stream: an allocation, then data both ways
//! between the relay and a UDP peer. Credentials that are expired, forged
//! or not of the `EXPIRY:ID` form get 401 from both servers, over UDP and
//! TCP; a credential minted by cadre and replayed after its expiry too.
//! Fresh credentials arrive over the socket while the old ones are still
//! valid. The embedded relay refuses (403) a permission towards loopback or
//! a private address unless a test rig allows it.

use cadre_protocol::Role;
use cadre_server::turn::EmbeddedTurn;
use cadre_tests::turn::peers::{candidate_type, ice_servers, run_relay_peer};
use cadre_tests::turn::{
    Allocation, Coturn, StunLink, TcpDatagrams, allocate, bridge, password, permission_towards,
    turn_addr, turn_entry, unix_now, within,
};
use cadre_tests::{Incoming, TestServer};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use webrtc::peer_connection::RTCIceCandidateType;
use webrtc_util::Conn as _;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A server whose embedded TURN listens on loopback (UDP and TCP).
/// The bearer token of the test servers' `/metrics`.
const METRICS_TOKEN: &str = "metrics-token-of-the-turn-tests";

async fn with_embedded_turn(validity: Duration) -> TestServer {
    TestServer::start_with(|config| {
        config.turn = Some(EmbeddedTurn::on(LOOPBACK));
        config.turn_credential_validity = validity;
        config.metrics_token = Some(METRICS_TOKEN.to_owned());
    })
    .await
}

/// The secret the server generated into its data directory.
fn secret_of(server: &TestServer) -> String {
    std::fs::read_to_string(server.data_file("turn-secret"))
        .expect("the TURN secret is generated into the data directory")
        .trim()
        .to_owned()
}

/// One side of a relayed call: who, the local candidates, the selected
/// pair's candidate types, the selected local candidate's address.
type Relayed = (
    String,
    Vec<String>,
    (RTCIceCandidateType, RTCIceCandidateType),
    String,
);

/// Claire and Karim join; each side runs a relay-only peer with the ICE
/// servers of its own welcome. Returns what each selected and gathered.
async fn relay_call(server: &TestServer) -> Vec<Relayed> {
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let claire = server.join(&session, "Claire").await;
    let karim = server.join(&session, "Karim").await;
    // Karim's roster says whether he is the polite side; the other offers.
    let karim_polite = karim.welcome["roster"][0]["polite"]
        .as_bool()
        .expect("Karim's roster names Claire with a polite flag");
    let (claire_id, karim_id) = (claire.id.clone(), karim.id.clone());
    let claire_servers = ice_servers(&claire.welcome["ice_servers"]);
    let karim_servers = ice_servers(&karim.welcome["ice_servers"]);
    let claire_link = bridge(claire, karim_id);
    let karim_link = bridge(karim, claire_id);
    let (claire_out, karim_out) = tokio::join!(
        run_relay_peer(
            "Claire",
            karim_polite,
            claire_servers,
            claire_link,
            "bonjour de Claire".into()
        ),
        run_relay_peer(
            "Karim",
            !karim_polite,
            karim_servers,
            karim_link,
            "bonjour de Karim".into()
        ),
    );
    assert_eq!(claire_out.received, "bonjour de Karim");
    assert_eq!(karim_out.received, "bonjour de Claire");
    let mut outcomes = Vec::new();
    for (name, out) in [("Claire", claire_out), ("Karim", karim_out)] {
        within("closing a peer", out.pc.close())
            .await
            .expect("close");
        outcomes.push((
            name.to_owned(),
            out.local_candidates,
            out.selected,
            out.selected_local,
        ));
    }
    outcomes
}

fn assert_relayed(outcomes: &[Relayed], relay_ports: impl Fn(u16) -> bool) {
    for (name, candidates, selected, local) in outcomes {
        assert!(!candidates.is_empty(), "{name} gathered no candidate");
        for c in candidates {
            assert_eq!(
                candidate_type(c),
                "relay",
                "{name}: a non-relay candidate {c}"
            );
        }
        assert_eq!(
            *selected,
            (RTCIceCandidateType::Relay, RTCIceCandidateType::Relay),
            "{name}: the selected pair is not relay to relay"
        );
        let port: u16 = local
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no port in {local}"));
        assert!(
            relay_ports(port),
            "{name}: the selected relay {local} is not the server's"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_peers_connect_through_the_embedded_turn() {
    let server = with_embedded_turn(Duration::from_secs(7200)).await;
    let status = server
        .app()
        .turn_status()
        .expect("the embedded TURN runs")
        .clone();
    assert!(status.listening(), "TURN reports listening");
    assert_eq!(status.allocations(), 0);

    let outcomes = relay_call(&server).await;
    // Every relay the peers used is one the embedded server allocated.
    assert_relayed(&outcomes, |_| true);
    assert!(
        status.allocations_total() >= 2,
        "each side allocated on the embedded server (made {})",
        status.allocations_total()
    );
    // An operator sees them in /metrics, and /readyz counts TURN in.
    let (_, scraped) = server
        .send(
            server
                .http()
                .get(server.url("/metrics"))
                .bearer_auth(METRICS_TOKEN),
        )
        .await;
    let text = scraped.as_str().unwrap_or_default().to_owned();
    let made = text
        .lines()
        .find_map(|l| l.strip_prefix("cadre_turn_allocations_opened_total "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no TURN allocation counter in /metrics: {text}"));
    assert!(made >= 2, "/metrics counts the allocations: {made}");
    let (status, ready) = server.get_public("/readyz").await;
    assert!(status.is_success(), "{ready}");
    assert!(
        ready.to_string().contains("turn"),
        "/readyz runs the TURN check: {ready}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_welcome_carries_turn_credentials_of_the_shared_secret() {
    let server = with_embedded_turn(Duration::from_secs(7200)).await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator), ("Karim", Role::Participant)])
        .await;
    let claire = server.join(&session, "Claire").await;
    let (urls, username, credential) = turn_entry(&claire.welcome["ice_servers"]);
    let udp = turn_addr(&urls, "udp");
    let tcp = turn_addr(&urls, "tcp");
    assert_eq!(udp.ip(), LOOPBACK, "{urls:?}");
    assert_eq!(tcp.ip(), LOOPBACK, "{urls:?}");
    let (expiry, id) = username.split_once(':').expect("EXPIRY:ID");
    assert_eq!(
        id, claire.id,
        "the user name names the participant by id, never by name"
    );
    let expiry: u64 = expiry.parse().expect("the expiry is a number");
    let now = unix_now();
    assert!(
        expiry > now + 7000 && expiry <= now + 7200,
        "valid for the configured two hours: {expiry} at {now}"
    );
    assert_eq!(credential, password(&secret_of(&server), &username));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_peers_connect_through_a_real_coturn() {
    let coturn = Coturn::start("a-secret-shared-with-coturn").await;
    let url = format!("turn:{}?transport=udp", coturn.addr);
    let secret = coturn.secret.clone();
    let server = TestServer::start_with(move |config| {
        config.turn_secret = Some(secret);
        config.turn_urls = vec![url];
    })
    .await;
    assert!(
        server.app().turn_status().is_none(),
        "no embedded TURN with coturn alone"
    );
    let (lo, hi) = coturn.relay_ports;
    let outcomes = relay_call(&server).await;
    assert_relayed(&outcomes, |port| (lo..=hi).contains(&port));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_over_tcp_relays_data_both_ways() {
    let server = with_embedded_turn(Duration::from_secs(7200)).await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator)])
        .await;
    let claire = server.join(&session, "Claire").await;
    let (urls, username, credential) = turn_entry(&claire.welcome["ice_servers"]);
    let tcp = turn_addr(&urls, "tcp");

    let conn = TcpDatagrams::connect(tcp).await;
    let client = turn::client::Client::new(turn::client::ClientConfig {
        stun_serv_addr: tcp.to_string(),
        turn_serv_addr: tcp.to_string(),
        username,
        password: credential,
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn,
        vnet: None,
    })
    .await
    .expect("a TURN client");
    client.listen().await.expect("the client reads its stream");
    let relay = within("an allocation over TCP", client.allocate())
        .await
        .expect("the embedded server allocates over TCP");
    let relayed = relay.local_addr().expect("the relayed address");

    // A peer on UDP, as the other side of a call would be.
    let peer = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind a peer");
    let peer_addr = peer.local_addr().expect("peer address");
    within(
        "the relay's send",
        relay.send_to(b"par le relais", peer_addr),
    )
    .await
    .expect("send through the relay");
    let mut buf = [0u8; 1500];
    let (n, from) = within(
        "the peer's datagram from the relay",
        peer.recv_from(&mut buf),
    )
    .await
    .expect("the peer receives");
    assert_eq!(&buf[..n], b"par le relais");
    assert_eq!(
        from.port(),
        relayed.port(),
        "the datagram comes from the relayed address"
    );
    peer.send_to(b"retour", from)
        .await
        .expect("the peer answers");
    let (n, from) = within("the answer through the relay", relay.recv_from(&mut buf))
        .await
        .expect("the client receives through the relay");
    assert_eq!(&buf[..n], b"retour");
    assert_eq!(from, peer_addr);
    let status = server.app().turn_status().expect("the embedded TURN runs");
    assert!(
        status.allocations() >= 1,
        "the TCP allocation is counted live"
    );
    relay.close().await.expect("release the allocation");
    client.close().await.expect("close the client");
}

/// Over `transport`, a good credential allocates; an expired one, a forged
/// one and one that is not `EXPIRY:ID` get 401.
async fn refuses_bad_credentials(server: SocketAddr, transport: &str, secret: &str) {
    let now = unix_now();
    let good = format!("{}:p_test", now + 600);
    let expired = format!("{}:p_test", now - 60);
    let cases = [
        (
            "a valid credential",
            good.clone(),
            password(secret, &good),
            true,
        ),
        (
            "an expired credential",
            expired.clone(),
            password(secret, &expired),
            false,
        ),
        (
            "a forged password",
            good.clone(),
            password("not-the-secret", &good),
            false,
        ),
        (
            "a name without expiry",
            "alice".to_owned(),
            password(secret, "alice"),
            false,
        ),
    ];
    for (what, username, pass, allowed) in cases {
        let mut link = StunLink::open(server, transport).await;
        let answer = allocate(&mut link, &username, &pass).await;
        if allowed {
            assert!(
                matches!(answer, Allocation::Relayed(_)),
                "{transport} {server}: {what} should allocate, got {answer:?}"
            );
        } else {
            assert_eq!(
                answer,
                Allocation::Refused(401),
                "{transport} {server}: {what}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_turn_answers_401_to_expired_and_forged_credentials() {
    let server = with_embedded_turn(Duration::from_secs(7200)).await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator)])
        .await;
    let claire = server.join(&session, "Claire").await;
    let (urls, ..) = turn_entry(&claire.welcome["ice_servers"]);
    let secret = secret_of(&server);
    refuses_bad_credentials(turn_addr(&urls, "udp"), "udp", &secret).await;
    refuses_bad_credentials(turn_addr(&urls, "tcp"), "tcp", &secret).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coturn_answers_401_to_expired_and_forged_credentials() {
    let coturn = Coturn::start("another-secret").await;
    refuses_bad_credentials(coturn.addr, "udp", &coturn.secret).await;
    refuses_bad_credentials(coturn.addr, "tcp", &coturn.secret).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_credentials_arrive_before_expiry_and_the_old_ones_are_refused_after() {
    // Ten seconds of validity: the renewal comes two seconds before the end.
    let server = with_embedded_turn(Duration::from_secs(10)).await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator)])
        .await;
    let mut claire = server.join(&session, "Claire").await;
    let (urls, old_user, old_pass) = turn_entry(&claire.welcome["ice_servers"]);
    let old_expiry: u64 = old_user.split(':').next().unwrap().parse().unwrap();

    // Generous bound: the message is due eight seconds after the join.
    let renewal = within("the ice_servers renewal", async {
        loop {
            match claire.next_within(Duration::from_secs(30)).await {
                Some(Incoming::Text(text)) => {
                    let message: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                    if message["type"] == "ice_servers" {
                        break message;
                    }
                }
                other => panic!("the connection ended before the renewal: {other:?}"),
            }
        }
    })
    .await;
    let received_at = unix_now();
    assert!(
        received_at <= old_expiry,
        "the renewal came at {received_at}, after the credential expired at {old_expiry}"
    );
    let (new_urls, new_user, new_pass) = turn_entry(&renewal["ice_servers"]);
    assert_eq!(new_urls, urls, "the same servers, new credentials");
    let new_expiry: u64 = new_user.split(':').next().unwrap().parse().unwrap();
    assert!(new_expiry > old_expiry, "{new_user} outlives {old_user}");
    assert_eq!(
        renewal["expires_at"].as_i64(),
        Some(new_expiry as i64 * 1000),
        "{renewal}"
    );
    assert_eq!(new_pass, password(&secret_of(&server), &new_user));

    // The welcome's credential, replayed once it has expired: 401. The
    // renewed one still allocates.
    let udp = turn_addr(&urls, "udp");
    within("the old credential's expiry", async {
        while unix_now() <= old_expiry {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let mut link = StunLink::open(udp, "udp").await;
    assert_eq!(
        allocate(&mut link, &old_user, &old_pass).await,
        Allocation::Refused(401)
    );
    let mut link = StunLink::open(udp, "udp").await;
    let answer = allocate(&mut link, &new_user, &new_pass).await;
    assert!(
        matches!(answer, Allocation::Relayed(_)),
        "the renewed credential: {answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_relay_refuses_to_reach_private_addresses() {
    // As in production: the relay must not be aimed at the server's own
    // network (loopback here, where cadre's HTTP port is).
    let server = TestServer::start_with(|config| {
        config.turn = Some(EmbeddedTurn {
            allow_private_peers: false,
            ..EmbeddedTurn::on(LOOPBACK)
        });
    })
    .await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator)])
        .await;
    let claire = server.join(&session, "Claire").await;
    let (urls, username, credential) = turn_entry(&claire.welcome["ice_servers"]);
    let udp = turn_addr(&urls, "udp");
    for (peer, expected) in [
        (server.addr(), 403),
        ("10.1.2.3:5000".parse().unwrap(), 403),
        ("192.168.1.20:5000".parse().unwrap(), 403),
        // A public address (TEST-NET-1): the permission is granted.
        ("192.0.2.1:5000".parse().unwrap(), 200),
    ] {
        let mut link = StunLink::open(udp, "udp").await;
        assert_eq!(
            permission_towards(&mut link, &username, &credential, peer).await,
            expected,
            "a permission towards {peer}"
        );
    }
}

/// CPU seconds this process has used (user + system), from /proc.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command's closing parenthesis; utime and stime are
    // the 14th and 15th fields of the line.
    let after = &stat[stat.rfind(')').expect("a command field") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// A measurement, not a check: media-sized datagrams from a UDP peer
/// through an embedded relay to a client over UDP, as one direction of a
/// relayed call. Prints the rate and the CPU the whole process (server and
/// both ends) spent per relayed megabyte.
/// `cargo test -p cadre-tests --test suite -- --ignored --nocapture turn::relayed_throughput`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run it on purpose"]
async fn relayed_throughput() {
    let server = with_embedded_turn(Duration::from_secs(7200)).await;
    let session = server
        .create_session(&[("Claire", Role::Facilitator)])
        .await;
    let claire = server.join(&session, "Claire").await;
    let (urls, username, credential) = turn_entry(&claire.welcome["ice_servers"]);
    let udp = turn_addr(&urls, "udp");
    let conn = std::sync::Arc::new(
        tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap(),
    );
    let client = turn::client::Client::new(turn::client::ClientConfig {
        stun_serv_addr: udp.to_string(),
        turn_serv_addr: udp.to_string(),
        username,
        password: credential,
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn,
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    let relay = client.allocate().await.unwrap();
    let peer = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let peer_addr = peer.local_addr().unwrap();
    // The permission, and the relay's address as the peer sees it.
    relay.send_to(b"hello", peer_addr).await.unwrap();
    let mut buf = vec![0u8; 1500];
    let (_, relayed) = peer.recv_from(&mut buf).await.unwrap();

    const PACKETS: usize = 20_000;
    const SIZE: usize = 1_100;
    let receiver = tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        let mut got = 0usize;
        let mut last = std::time::Instant::now();
        while let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_secs(2), relay.recv_from(&mut buf)).await
        {
            if n == SIZE {
                got += 1;
                last = std::time::Instant::now();
            }
            if got == PACKETS {
                break;
            }
        }
        (got, last)
    });
    let cpu = process_cpu_seconds();
    let started = std::time::Instant::now();
    let payload = vec![7u8; SIZE];
    for i in 0..PACKETS {
        peer.send_to(&payload, relayed).await.unwrap();
        // About 1,000 packets per 10 ms burst: a few dozen calls' worth.
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let (got, last) = receiver.await.unwrap();
    // Up to the last datagram through: the receiver's final wait is idle.
    let elapsed = last.duration_since(started).as_secs_f64();
    let cpu = process_cpu_seconds() - cpu;
    let megabytes = (got * SIZE) as f64 / 1e6;
    println!(
        "relayed {got}/{PACKETS} datagrams of {SIZE} B in {elapsed:.2} s: {:.1} Mbit/s, \
         {:.0} packets/s; process CPU {cpu:.2} s ({:.3} CPU-s per relayed MB)",
        megabytes * 8.0 / elapsed,
        got as f64 / elapsed,
        cpu / megabytes.max(0.001),
    );
    assert!(got > 0, "nothing came through the relay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_turn_port_stops_the_start_with_the_address_named() {
    let taken = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("take a UDP port");
    let busy = taken.local_addr().expect("its address");
    let dir = tempfile::tempdir().expect("a data directory");
    let mut config = cadre_tests::Config::new(dir.path());
    config.bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.turn = Some(EmbeddedTurn {
        udp: busy,
        ..EmbeddedTurn::on(LOOPBACK)
    });
    let error = match cadre_server::Server::bind(config).await {
        Ok(_) => panic!("the server started although its TURN port {busy} is taken"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains(&format!("TURN: cannot listen on {busy}")),
        "the error names the TURN address: {error}"
    );
}

#[test]
fn bad_turn_flags_are_refused_with_a_sentence_and_nothing_starts() {
    let bin = crate::reports::cadre_binary();
    for (flags, expected) in [
        (
            &["--turn-relay-ports", "10-5"][..],
            "--turn-relay-ports \"10-5\": expected MIN-MAX",
        ),
        (
            &["--turn-url", "http://turn.example.org"][..],
            "expected a turn: or turns: URL",
        ),
        (
            &["--turn-credential-minutes", "1"][..],
            "--turn-credential-minutes must be at least 2",
        ),
        (
            &["--turn-udp", "not-an-address"][..],
            "invalid value 'not-an-address' for '--turn-udp",
        ),
    ] {
        let dir = tempfile::tempdir().expect("a data directory");
        let out = std::process::Command::new(&bin)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(flags)
            .output()
            .expect("run cadre serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} was accepted");
        assert!(stderr.contains(expected), "{flags:?}: {stderr}");
        assert!(
            !dir.path().join("turn-secret").exists(),
            "{flags:?}: nothing is created before the flags are checked"
        );
    }
}
