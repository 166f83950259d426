//! The door of the embedded TURN server: checks time-limited credentials
//! before the `turn` crate sees a request, and counts live allocations.
//!
//! Why in front of the crate rather than in its `AuthHandler`: the crate
//! answers a refused credential with 400 Bad Request, where RFC 5389
//! §10.2.2 (and coturn, and what clients expect) says 401 Unauthorized; and
//! its handler does not know which request it authenticates. Here an
//! Allocate needs an unexpired user name, so a captured credential replayed
//! after its expiry makes no allocation; the Refresh, CreatePermission and
//! ChannelBind of an allocation made in time need only the right password,
//! so a call does not drop at the minute its credential expires.

use super::credentials::{self, check_expiry};
use async_trait::async_trait;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use stun::attributes::{ATTR_MESSAGE_INTEGRITY, ATTR_NONCE, ATTR_REALM, ATTR_USERNAME};
use stun::error_code::{CODE_FORBIDDEN, CODE_UNAUTHORIZED, ErrorCodeAttribute};
use stun::integrity::MessageIntegrity;
use stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_REQUEST, Getter as _, METHOD_ALLOCATE, METHOD_CHANNEL_BIND,
    METHOD_CREATE_PERMISSION, Message, MessageType, Setter,
};
use stun::textattrs::TextAttribute;
use turn::proto::peeraddr::PeerAddress;
use webrtc_util::Conn;

/// The first two bytes of an Allocate success response (method 0x003,
/// class 0b10): each one sent is a new allocation.
const ALLOCATE_SUCCESS: [u8; 2] = [0x01, 0x03];

/// A listener's socket with the credential check in front.
pub struct Gate {
    inner: Arc<dyn Conn + Send + Sync>,
    key: ring::hmac::Key,
    realm: String,
    allocations: Arc<AtomicU64>,
    /// Lets allocations reach loopback and private addresses (test rigs on
    /// one machine); off, the relay cannot be turned against the server's
    /// own network (coturn's `denied-peer-ip`).
    private_peers: bool,
}

impl Gate {
    /// Guards `inner` with credentials under `secret`.
    pub fn new(
        inner: Arc<dyn Conn + Send + Sync>,
        secret: &str,
        realm: &str,
        allocations: Arc<AtomicU64>,
        private_peers: bool,
    ) -> Self {
        Gate {
            inner,
            key: credentials::key(secret),
            realm: realm.to_owned(),
            allocations,
            private_peers,
        }
    }

    /// The refusal to send instead of passing `datagram` on, if any.
    fn refusal(&self, datagram: &[u8], now_unix: u64) -> Option<Vec<u8>> {
        // ChannelData and anything not STUN go to the crate, which knows
        // its channels and drops the rest.
        if datagram.first().is_none_or(|b| b >> 6 != 0) {
            return None;
        }
        let mut m = Message::new();
        m.raw = datagram.to_vec();
        m.decode().ok()?;
        // Unauthenticated requests get the crate's own 401 with its nonce.
        if m.typ.class != CLASS_REQUEST || !m.contains(ATTR_MESSAGE_INTEGRITY) {
            return None;
        }
        let text = |attr| TextAttribute::get_from_as(&m, attr).ok().map(|t| t.text);
        let (Some(username), Some(realm)) = (text(ATTR_USERNAME), text(ATTR_REALM)) else {
            return None;
        };
        let fresh = m.typ.method != METHOD_ALLOCATE || check_expiry(&username, now_unix).is_ok();
        let password = credentials::password(&self.key, &username);
        let integrity = MessageIntegrity::new_long_term_integrity(username, realm, password);
        if !fresh || integrity.check(&mut m.clone()).is_err() {
            return unauthorized(&m, &self.realm);
        }
        // The crate installs permissions for the first peer address only.
        if (m.typ.method == METHOD_CREATE_PERMISSION || m.typ.method == METHOD_CHANNEL_BIND)
            && !self.private_peers
        {
            let mut peer = PeerAddress::default();
            if peer.get_from(&m).is_ok() && !is_public(peer.ip) {
                return forbidden(&m);
            }
        }
        None
    }
}

/// Whether a relay may send to `ip`: not loopback, private, link-local,
/// shared (CGNAT), multicast or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// A 403 answer to a permission towards a denied address.
fn forbidden(request: &Message) -> Option<Vec<u8>> {
    let mut answer = Message::new();
    let setters: Vec<Box<dyn Setter>> = vec![
        Box::new(Message {
            transaction_id: request.transaction_id,
            ..Default::default()
        }),
        Box::new(MessageType::new(request.typ.method, CLASS_ERROR_RESPONSE)),
        Box::new(ErrorCodeAttribute {
            code: CODE_FORBIDDEN,
            reason: b"Forbidden".to_vec(),
        }),
    ];
    answer.build(&setters).ok()?;
    Some(answer.raw)
}

/// A 401 answer to `request`, with the realm and a nonce to try again with
/// (RFC 5389 §10.2.2).
fn unauthorized(request: &Message, realm: &str) -> Option<Vec<u8>> {
    let nonce = crate::directory::keys::random_id(12).ok()?;
    let mut answer = Message::new();
    let setters: Vec<Box<dyn Setter>> = vec![
        Box::new(Message {
            transaction_id: request.transaction_id,
            ..Default::default()
        }),
        Box::new(MessageType::new(request.typ.method, CLASS_ERROR_RESPONSE)),
        Box::new(ErrorCodeAttribute {
            code: CODE_UNAUTHORIZED,
            reason: b"Unauthorized".to_vec(),
        }),
        Box::new(TextAttribute::new(ATTR_REALM, realm.to_owned())),
        Box::new(TextAttribute::new(ATTR_NONCE, nonce)),
    ];
    answer.build(&setters).ok()?;
    Some(answer.raw)
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[async_trait]
impl Conn for Gate {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        self.inner.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.inner.recv_from(buf).await?;
            match self.refusal(&buf[..n], now_unix()) {
                None => return Ok((n, from)),
                Some(answer) => {
                    tracing::debug!(%from, "TURN request refused: bad or expired credential");
                    let _ = self.inner.send_to(&answer, from).await;
                }
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.inner.send(buf).await
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        if buf.starts_with(&ALLOCATE_SUCCESS) {
            self.allocations.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.send_to(buf, target).await
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.inner.close().await
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn private_and_local_peers_are_denied() {
        for denied in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(denied.parse().unwrap()), "{denied}");
        }
        for allowed in ["8.8.8.8", "93.184.216.34", "2001:db8::1", "100.128.0.1"] {
            assert!(is_public(allowed.parse().unwrap()), "{allowed}");
        }
    }
}
