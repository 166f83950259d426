//! TURN for tests: a real coturn (Debian's `turnserver`) started in a
//! temporary directory on loopback with a generated configuration and
//! `use-auth-secret`, stopped by its PID; raw STUN Allocate requests over
//! UDP and TCP that report the server's answer code; a datagram socket over
//! a TCP stream for the `turn` crate's client (TURN over TCP); and
//! webrtc-rs peers that negotiate through cadre with the ICE servers of
//! their welcome and `ice_transport_policy: relay`.

use crate::{Client, Incoming};
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use stun::agent::TransactionId;
use stun::attributes::{ATTR_NONCE, ATTR_REALM};
use stun::error_code::ErrorCodeAttribute;
use stun::integrity::MessageIntegrity;
use stun::message::{
    BINDING_REQUEST, CLASS_ERROR_RESPONSE, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, Getter as _,
    METHOD_ALLOCATE, Message, MessageType, Setter,
};
use stun::textattrs::TextAttribute;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Mutex, mpsc};
use turn::proto::reqtrans::RequestedTransport;
use turn::proto::{PROTO_UDP, relayaddr::RelayedAddress};

/// Upper bound of every wait here.
pub const WAIT: Duration = Duration::from_secs(30);

/// Runs `fut`, panicking with `what` if it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {WAIT:?} waiting for {what}"))
}

/// The password of a time-limited user name under `secret`:
/// base64(HMAC-SHA1(secret, user name)), computed here independently of
/// the server's code.
pub fn password(secret: &str, username: &str) -> String {
    use base64::Engine as _;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, username.as_bytes()))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs()
}

/// The welcome's (or an `ice_servers` message's) TURN entry: its URLs,
/// user name and credential.
pub fn turn_entry(ice_servers: &Value) -> (Vec<String>, String, String) {
    let entry = ice_servers
        .as_array()
        .and_then(|servers| {
            servers.iter().find(|s| {
                s["urls"].as_array().is_some_and(|u| {
                    u.iter()
                        .any(|u| u.as_str().is_some_and(|u| u.starts_with("turn")))
                })
            })
        })
        .unwrap_or_else(|| panic!("no TURN server among {ice_servers}"));
    let urls = entry["urls"]
        .as_array()
        .expect("urls is a list")
        .iter()
        .map(|u| u.as_str().expect("a URL is a string").to_owned())
        .collect();
    let username = entry["username"]
        .as_str()
        .unwrap_or_else(|| panic!("no username in {entry}"));
    let credential = entry["credential"]
        .as_str()
        .unwrap_or_else(|| panic!("no credential in {entry}"));
    (urls, username.to_owned(), credential.to_owned())
}

/// The address of the `turn:` URL with `?transport=…` in `urls`.
pub fn turn_addr(urls: &[String], transport: &str) -> SocketAddr {
    let url = urls
        .iter()
        .find(|u| u.starts_with("turn:") && u.ends_with(&format!("?transport={transport}")))
        .unwrap_or_else(|| panic!("no turn: URL over {transport} among {urls:?}"));
    let hostport = url["turn:".len()..]
        .split('?')
        .next()
        .expect("a host and port");
    hostport
        .parse()
        .unwrap_or_else(|e| panic!("{url}: the host is not an address with a port: {e}"))
}

// ── Raw Allocate requests ────────────────────────────────────────────────────

/// How a TURN server answered an authenticated Allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocation {
    /// An allocation was made at this relayed address.
    Relayed(SocketAddr),
    /// Refused with this STUN error code (401, 403, 438…).
    Refused(u16),
}

/// One STUN transport to a TURN server: a UDP socket, or a TCP stream with
/// STUN's own framing.
pub enum StunLink {
    /// Datagrams to the server.
    Udp(UdpSocket, SocketAddr),
    /// A stream to the server.
    Tcp(TcpStream),
}

impl StunLink {
    /// A link to `server` over `transport` (`udp` or `tcp`).
    pub async fn open(server: SocketAddr, transport: &str) -> StunLink {
        match transport {
            "udp" => {
                let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                    .await
                    .expect("bind UDP");
                StunLink::Udp(socket, server)
            }
            "tcp" => StunLink::Tcp(
                within(
                    "a TCP connection to the TURN server",
                    TcpStream::connect(server),
                )
                .await
                .unwrap_or_else(|e| panic!("connect to TURN over TCP at {server}: {e}")),
            ),
            other => panic!("unknown transport {other}"),
        }
    }

    /// Sends `request` and returns the answer with its transaction id.
    pub async fn ask(&mut self, request: &Message) -> Message {
        let raw = match self {
            StunLink::Udp(socket, server) => {
                // UDP may lose a datagram: send again until an answer comes.
                let mut buf = vec![0u8; 2048];
                let mut answer = None;
                for _ in 0..10 {
                    socket
                        .send_to(&request.raw, *server)
                        .await
                        .expect("send STUN over UDP");
                    if let Ok(Ok((n, _))) =
                        tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
                            .await
                    {
                        answer = Some(buf[..n].to_vec());
                        break;
                    }
                }
                answer.unwrap_or_else(|| panic!("no STUN answer over UDP from {server}"))
            }
            StunLink::Tcp(stream) => {
                stream
                    .write_all(&request.raw)
                    .await
                    .expect("send STUN over TCP");
                let mut header = [0u8; 20];
                within("a STUN answer over TCP", stream.read_exact(&mut header))
                    .await
                    .expect("read a STUN header over TCP");
                let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
                let mut raw = header.to_vec();
                raw.resize(20 + len, 0);
                within(
                    "a STUN answer's body over TCP",
                    stream.read_exact(&mut raw[20..]),
                )
                .await
                .expect("read a STUN body over TCP");
                raw
            }
        };
        let mut m = Message::new();
        m.raw = raw;
        m.decode().expect("the answer is a STUN message");
        assert_eq!(
            m.transaction_id, request.transaction_id,
            "the answer's transaction"
        );
        m
    }
}

fn build(setters: Vec<Box<dyn Setter>>) -> Message {
    let mut m = Message::new();
    m.build(&setters).expect("build a STUN message");
    m
}

fn error_code(m: &Message) -> u16 {
    let mut code = ErrorCodeAttribute::default();
    code.get_from(m)
        .unwrap_or_else(|e| panic!("an error answer without a code: {e}"));
    code.code.0
}

/// Asks for an allocation with `username` and `password` the way a client
/// does: an unauthenticated Allocate first (the server answers 401 with a
/// realm and a nonce), then the same with the long-term credential.
pub async fn allocate(link: &mut StunLink, username: &str, password: &str) -> Allocation {
    allocate_with(link, username, password).await.0
}

/// Allocates, then asks for a permission towards `peer` on the same
/// allocation; returns the permission's answer: 200 or the error code.
pub async fn permission_towards(
    link: &mut StunLink,
    username: &str,
    password: &str,
    peer: SocketAddr,
) -> u16 {
    let (allocation, realm, nonce) = allocate_with(link, username, password).await;
    assert!(
        matches!(allocation, Allocation::Relayed(_)),
        "the allocation: {allocation:?}"
    );
    let request = build(vec![
        Box::new(TransactionId::new()),
        Box::new(MessageType::new(
            stun::message::METHOD_CREATE_PERMISSION,
            CLASS_REQUEST,
        )),
        Box::new(turn::proto::peeraddr::PeerAddress {
            ip: peer.ip(),
            port: peer.port(),
        }),
        Box::new(TextAttribute::new(
            stun::attributes::ATTR_USERNAME,
            username.to_owned(),
        )),
        Box::new(TextAttribute::new(ATTR_REALM, realm.clone())),
        Box::new(TextAttribute::new(ATTR_NONCE, nonce)),
        Box::new(MessageIntegrity::new_long_term_integrity(
            username.to_owned(),
            realm,
            password.to_owned(),
        )),
    ]);
    let answer = link.ask(&request).await;
    if answer.typ.class == CLASS_SUCCESS_RESPONSE {
        200
    } else {
        error_code(&answer)
    }
}

/// [`allocate`], with the realm and nonce the server gave.
async fn allocate_with(
    link: &mut StunLink,
    username: &str,
    password: &str,
) -> (Allocation, String, String) {
    let first = build(vec![
        Box::new(TransactionId::new()),
        Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
        Box::new(RequestedTransport {
            protocol: PROTO_UDP,
        }),
    ]);
    let challenge = link.ask(&first).await;
    assert_eq!(
        challenge.typ.class, CLASS_ERROR_RESPONSE,
        "an unauthenticated Allocate is refused"
    );
    assert_eq!(
        error_code(&challenge),
        401,
        "an unauthenticated Allocate gets 401"
    );
    let realm = TextAttribute::get_from_as(&challenge, ATTR_REALM).expect("the 401 names a realm");
    let nonce =
        TextAttribute::get_from_as(&challenge, ATTR_NONCE).expect("the 401 carries a nonce");
    let (realm_text, nonce_text) = (realm.text.clone(), nonce.text.clone());
    let second = build(vec![
        Box::new(TransactionId::new()),
        Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
        Box::new(RequestedTransport {
            protocol: PROTO_UDP,
        }),
        Box::new(TextAttribute::new(
            stun::attributes::ATTR_USERNAME,
            username.to_owned(),
        )),
        Box::new(realm.clone()),
        Box::new(nonce),
        Box::new(MessageIntegrity::new_long_term_integrity(
            username.to_owned(),
            realm.text,
            password.to_owned(),
        )),
    ]);
    let answer = link.ask(&second).await;
    let allocation = if answer.typ.class == CLASS_SUCCESS_RESPONSE {
        let mut relayed = RelayedAddress::default();
        relayed
            .get_from(&answer)
            .expect("a successful Allocate names its relayed address");
        Allocation::Relayed(SocketAddr::new(relayed.ip, relayed.port))
    } else {
        Allocation::Refused(error_code(&answer))
    };
    (allocation, realm_text, nonce_text)
}

/// Waits until a STUN server answers a Binding request over UDP at `server`.
pub async fn wait_for_stun(server: SocketAddr) {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind UDP");
    let request = build(vec![
        Box::new(TransactionId::new()),
        Box::new(BINDING_REQUEST),
    ]);
    let mut buf = [0u8; 1500];
    for _ in 0..100 {
        let _ = socket.send_to(&request.raw, server).await;
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await
        {
            return;
        }
    }
    panic!("no STUN answer from {server} after 100 tries");
}

// ── A real coturn ────────────────────────────────────────────────────────────

/// A coturn process on loopback with time-limited credentials; killed on
/// drop.
pub struct Coturn {
    child: Child,
    /// Its listening address (UDP and TCP).
    pub addr: SocketAddr,
    /// Its shared secret (`static-auth-secret`).
    pub secret: String,
    /// Its realm.
    pub realm: String,
    /// The relay port range, both included.
    pub relay_ports: (u16, u16),
    _dir: tempfile::TempDir,
}

/// A port free on loopback for both UDP and TCP now (coturn takes a port
/// number, not a socket).
fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind TCP");
        let port = tcp.local_addr().expect("local address").port();
        if std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP");
}

impl Coturn {
    /// Starts `turnserver` with `use-auth-secret` under `secret`.
    pub async fn start(secret: &str) -> Coturn {
        let dir = tempfile::tempdir().expect("a directory for coturn");
        let port = free_port();
        // Relay ports next to a free one; coturn skips those it cannot bind.
        let base = free_port();
        let relay_ports = (base, base.saturating_add(20));
        let realm = "cadre-test".to_owned();
        let config = format!(
            "listening-ip=127.0.0.1\n\
             relay-ip=127.0.0.1\n\
             listening-port={port}\n\
             min-port={}\n\
             max-port={}\n\
             use-auth-secret\n\
             static-auth-secret={secret}\n\
             realm={realm}\n\
             fingerprint\n\
             no-tls\n\
             no-dtls\n\
             no-cli\n\
             no-multicast-peers\n\
             allow-loopback-peers\n\
             userdb={}/turndb\n\
             pidfile={}/turnserver.pid\n\
             log-file={}/turnserver.log\n\
             simple-log\n",
            relay_ports.0,
            relay_ports.1,
            dir.path().display(),
            dir.path().display(),
            dir.path().display(),
        );
        let conf = dir.path().join("turnserver.conf");
        std::fs::write(&conf, config).expect("write coturn's configuration");
        let child = Command::new("turnserver")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnserver runs (Debian's coturn; scripts/test.sh installs it)");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let coturn = Coturn {
            child,
            addr,
            secret: secret.to_owned(),
            realm,
            relay_ports,
            _dir: dir,
        };
        wait_for_stun(addr).await;
        coturn
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ── TURN over TCP for the `turn` crate's client ──────────────────────────────

/// A client's TCP stream to a TURN server as the datagram socket the `turn`
/// crate's client reads: one STUN message or ChannelData frame per datagram.
pub struct TcpDatagrams {
    server: SocketAddr,
    local: SocketAddr,
    writer: Mutex<tokio::net::tcp::OwnedWriteHalf>,
    frames: Mutex<mpsc::Receiver<Vec<u8>>>,
}

impl TcpDatagrams {
    /// Connects to `server`.
    pub async fn connect(server: SocketAddr) -> Arc<TcpDatagrams> {
        let stream = within("a TCP connection to TURN", TcpStream::connect(server))
            .await
            .expect("connect to TURN over TCP");
        let local = stream.local_addr().expect("local address");
        let (mut reader, writer) = stream.into_split();
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                let mut header = [0u8; 4];
                if reader.read_exact(&mut header).await.is_err() {
                    break;
                }
                let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
                let (len, on_wire) = if header[0] >> 6 == 0b01 {
                    (4 + length, (4 + length).div_ceil(4) * 4)
                } else {
                    (20 + length, 20 + length)
                };
                let mut frame = vec![0u8; on_wire];
                frame[..4].copy_from_slice(&header);
                if reader.read_exact(&mut frame[4..]).await.is_err() {
                    break;
                }
                frame.truncate(len);
                if tx.send(frame).await.is_err() {
                    break;
                }
            }
        });
        Arc::new(TcpDatagrams {
            server,
            local,
            writer: Mutex::new(writer),
            frames: Mutex::new(rx),
        })
    }
}

#[async_trait::async_trait]
impl webrtc_util::Conn for TcpDatagrams {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(())
    }
    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }
    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let frame = self
            .frames
            .lock()
            .await
            .recv()
            .await
            .ok_or(webrtc_util::Error::ErrUseClosedNetworkConn)?;
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        Ok((n, self.server))
    }
    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.send_to(buf, self.server).await
    }
    async fn send_to(&self, buf: &[u8], _target: SocketAddr) -> webrtc_util::Result<usize> {
        let mut frame = buf.to_vec();
        if buf.first().is_some_and(|b| b >> 6 == 0b01) {
            frame.resize(buf.len().div_ceil(4) * 4, 0);
        }
        self.writer.lock().await.write_all(&frame).await?;
        Ok(buf.len())
    }
    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }
    fn remote_addr(&self) -> Option<SocketAddr> {
        Some(self.server)
    }
    async fn close(&self) -> webrtc_util::Result<()> {
        let _ = self.writer.lock().await.shutdown().await;
        Ok(())
    }
    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

// ── WebRTC peers through a relay ─────────────────────────────────────────────

pub mod peers;

/// Carries signalling payloads between a peer and its cadre connection (as
/// `signal` messages to and from `peer_id`); other messages are ignored,
/// except `ice_servers`, which goes to `renewals`.
pub fn bridge(
    mut client: Client,
    peer_id: String,
) -> (mpsc::UnboundedSender<Value>, mpsc::UnboundedReceiver<Value>) {
    let (out, mut outgoing) = mpsc::unbounded_channel::<Value>();
    let (incoming, inbox) = mpsc::unbounded_channel::<Value>();
    let sender = client.sender();
    tokio::spawn(async move {
        let mut outgoing_open = true;
        loop {
            tokio::select! {
                payload = outgoing.recv(), if outgoing_open => match payload {
                    Some(data) => sender.signal(&peer_id, data).await,
                    None => outgoing_open = false,
                },
                received = client.next_within(WAIT) => match received {
                    None => continue,
                    Some(Incoming::Text(text)) => {
                        let Ok(message) = serde_json::from_str::<Value>(&text) else { continue };
                        if message["type"] == "signal" && message["from"] == *peer_id {
                            let _ = incoming.send(message["data"].clone());
                        } else if message["type"] == "error" || message["type"] == "closing" {
                            let _ = incoming.send(json!({ "unexpected": message }));
                        }
                    }
                    Some(Incoming::Close(_) | Incoming::Ended(_)) => break,
                    Some(_) => continue,
                },
            }
        }
    });
    (out, inbox)
}
