//! A UDP relay on loopback between a WebRTC peer and the server, to play
//! a bad network on one side of one connection.
//!
//! The peer is pointed at the relay instead of the server
//! ([`Relay::rewrite`] puts the relay's address in the server's
//! description), and the server is given no candidate of the peer's
//! ([`without_candidates`]): it then learns the relay's address from the
//! peer's connectivity checks (a peer-reflexive candidate), so every packet
//! of that connection goes through the relay both ways. STUN and DTLS
//! always pass; what comes from the server (the downstream) is then dropped
//! or delayed as the [`Policy`] says. RTP headers are clear text under SRTP, so the
//! relay sees each packet's payload type, sequence number and SSRC.

use serde_json::Value;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// What the relay does to the server's RTP towards the peer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Policy {
    /// Everything passes.
    Pass,
    /// Drops the `nth` (from 1, counted from when the policy is set) RTP
    /// packet of `payload_type`, once; its retransmissions pass.
    DropOnce { payload_type: u8, nth: u64 },
    /// A link of this many bits per second: a packet beyond what the link
    /// carried so far (with a 50 ms burst allowance) is dropped, as a
    /// congested home connection does.
    Police { bits_per_second: u64 },
    /// Everything from the server (checks, keys, media) arrives this many
    /// milliseconds late, in order: a long way round.
    Delay { ms: u64 },
}

/// One RTP packet the relay saw from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub ssrc: u32,
    pub sequence: u16,
    pub payload_type: u8,
    pub dropped: bool,
}

struct State {
    policy: Policy,
    counted: HashMap<u8, u64>,
    seen: Vec<Seen>,
    /// Bits the policed link may still carry, and when it was last filled.
    tokens: f64,
    filled: Instant,
}

/// A relay in front of one server address.
pub struct Relay {
    front: SocketAddr,
    server: SocketAddr,
    state: Arc<Mutex<State>>,
    tasks: Vec<JoinHandle<()>>,
}

/// Most RTP packets kept in [`Relay::seen`].
const MAX_SEEN: usize = 100_000;

/// The RTP payload type and sequence number and SSRC of `packet`, if it is
/// RTP (not STUN, DTLS or RTCP: RFC 7983 and RFC 5761).
fn rtp_header(packet: &[u8]) -> Option<(u8, u16, u32)> {
    if packet.len() < 12 || !(128..=191).contains(&packet[0]) {
        return None;
    }
    if (192..=223).contains(&packet[1]) {
        return None;
    }
    let payload_type = packet[1] & 0x7f;
    let sequence = u16::from_be_bytes([packet[2], packet[3]]);
    let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
    Some((payload_type, sequence, ssrc))
}

impl State {
    /// Whether to drop this packet from the server.
    fn drops(&mut self, packet: &[u8]) -> bool {
        let Some((payload_type, sequence, ssrc)) = rtp_header(packet) else {
            return false;
        };
        let dropped = match self.policy {
            Policy::Pass => false,
            Policy::DropOnce {
                payload_type: pt,
                nth,
            } => {
                let retransmission = self
                    .seen
                    .iter()
                    .any(|s| s.ssrc == ssrc && s.sequence == sequence);
                if pt != payload_type || retransmission {
                    false
                } else {
                    let n = self.counted.entry(pt).or_default();
                    *n += 1;
                    *n == nth
                }
            }
            Policy::Delay { .. } => false,
            Policy::Police { bits_per_second } => {
                let now = Instant::now();
                let rate = bits_per_second as f64;
                let burst = rate * 0.05;
                self.tokens =
                    (self.tokens + now.duration_since(self.filled).as_secs_f64() * rate).min(burst);
                self.filled = now;
                let bits = packet.len() as f64 * 8.0;
                if self.tokens >= bits {
                    self.tokens -= bits;
                    false
                } else {
                    true
                }
            }
        };
        if self.seen.len() < MAX_SEEN {
            self.seen.push(Seen {
                ssrc,
                sequence,
                payload_type,
                dropped,
            });
        }
        dropped
    }
}

impl Relay {
    /// A relay towards `server`, listening on a port of its own on
    /// 127.0.0.1.
    pub async fn start(server: SocketAddr) -> Relay {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let front = Arc::new(UdpSocket::bind(loopback).await.expect("bind the relay"));
        let back = Arc::new(UdpSocket::bind(loopback).await.expect("bind the relay"));
        let front_addr = front.local_addr().expect("the relay's address");
        let state = Arc::new(Mutex::new(State {
            policy: Policy::Pass,
            counted: HashMap::new(),
            seen: Vec::new(),
            tokens: 0.0,
            filled: Instant::now(),
        }));
        let peer: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let upstream = {
            let (front, back, peer) = (Arc::clone(&front), Arc::clone(&back), Arc::clone(&peer));
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok((n, from)) = front.recv_from(&mut buf).await {
                    *peer.lock().expect("peer") = Some(from);
                    let _ = back.send_to(&buf[..n], server).await;
                }
            })
        };
        // What leaves towards the peer, each packet at its time.
        let (late_tx, mut late_rx) =
            tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>, SocketAddr)>();
        let delayed = {
            let front = Arc::clone(&front);
            tokio::spawn(async move {
                while let Some((at, packet, to)) = late_rx.recv().await {
                    tokio::time::sleep_until(at).await;
                    let _ = front.send_to(&packet, to).await;
                }
            })
        };
        let downstream = {
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok((n, from)) = back.recv_from(&mut buf).await {
                    let to = *peer.lock().expect("peer");
                    let Some(to) = to.filter(|_| from == server) else {
                        continue;
                    };
                    let delay = {
                        let mut state = state.lock().expect("relay");
                        if state.drops(&buf[..n]) {
                            continue;
                        }
                        match state.policy {
                            Policy::Delay { ms } => Some(Duration::from_millis(ms)),
                            _ => None,
                        }
                    };
                    match delay {
                        Some(delay) => {
                            let at = tokio::time::Instant::now() + delay;
                            let _ = late_tx.send((at, buf[..n].to_vec(), to));
                        }
                        None => {
                            let _ = front.send_to(&buf[..n], to).await;
                        }
                    }
                }
            })
        };
        Relay {
            front: front_addr,
            server,
            state,
            tasks: vec![upstream, downstream, delayed],
        }
    }

    /// A relay towards the server's host candidate in `description` (a
    /// `{"type":…,"sdp":…}` with its candidates).
    pub async fn in_front_of(description: &Value) -> Relay {
        let sdp = description["sdp"].as_str().unwrap_or_default();
        let server = candidates(sdp)
            .next()
            .unwrap_or_else(|| panic!("no candidate in the server's description: {sdp}"));
        Relay::start(server).await
    }

    /// `description` with the server's candidate replaced by the relay.
    pub fn rewrite(&self, description: &Value) -> Value {
        let sdp = description["sdp"].as_str().unwrap_or_default();
        let (ip, port) = (self.server.ip().to_string(), self.server.port().to_string());
        let rewritten: Vec<String> = sdp
            .split("\r\n")
            .map(|line| {
                let Some(rest) = line.strip_prefix("a=candidate:") else {
                    return line.to_owned();
                };
                let mut fields: Vec<&str> = rest.split(' ').collect();
                let front_port = self.front.port().to_string();
                if fields.len() > 5 && fields[4] == ip && fields[5] == port {
                    fields[5] = &front_port;
                    format!("a=candidate:{}", fields.join(" "))
                } else {
                    line.to_owned()
                }
            })
            .collect();
        let mut out = description.clone();
        out["sdp"] = Value::String(rewritten.join("\r\n"));
        out
    }

    pub fn set(&self, policy: Policy) {
        let mut state = self.state.lock().expect("relay");
        state.policy = policy;
        state.counted.clear();
        state.tokens = 0.0;
        state.filled = Instant::now();
    }

    /// Every RTP packet seen from the server, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("relay").seen.clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The UDP host candidates' addresses in `sdp`.
fn candidates(sdp: &str) -> impl Iterator<Item = SocketAddr> + '_ {
    sdp.split("\r\n").filter_map(|line| {
        let fields: Vec<&str> = line.strip_prefix("a=candidate:")?.split(' ').collect();
        (fields.len() > 7 && fields[2].eq_ignore_ascii_case("udp") && fields[7] == "host")
            .then(|| format!("{}:{}", fields[4], fields[5]).parse().ok())?
    })
}

/// `description` without its candidates: the other side learns the
/// address from the checks that reach it.
pub fn without_candidates(description: &Value) -> Value {
    let sdp = description["sdp"].as_str().unwrap_or_default();
    let kept: Vec<&str> = sdp
        .split("\r\n")
        .filter(|line| !line.starts_with("a=candidate:") && *line != "a=end-of-candidates")
        .collect();
    let mut out = description.clone();
    out["sdp"] = Value::String(kept.join("\r\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_is_told_from_rtcp_stun_and_dtls() {
        let mut rtp = vec![0x80, 96, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0x30, 0x39];
        assert_eq!(rtp_header(&rtp), Some((96, 0x0102, 12345)));
        rtp[1] = 0x80 | 96; // marker set
        assert_eq!(rtp_header(&rtp), Some((96, 0x0102, 12345)));
        rtp[1] = 201; // a receiver report
        assert_eq!(rtp_header(&rtp), None);
        assert_eq!(
            rtp_header(&[0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0]),
            None
        );
        assert_eq!(rtp_header(&[22; 12]), None);
    }

    #[test]
    fn a_description_is_pointed_at_the_relay() {
        let offer = serde_json::json!({"type": "offer", "sdp":
            "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\n"});
        let sdp = offer["sdp"].as_str().expect("sdp");
        assert_eq!(
            candidates(sdp).collect::<Vec<_>>(),
            vec!["127.0.0.1:40000".parse::<SocketAddr>().expect("addr")]
        );
        let bare = without_candidates(&offer);
        assert!(!bare["sdp"].as_str().expect("sdp").contains("candidate"));
    }
}
