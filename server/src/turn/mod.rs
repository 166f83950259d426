//! TURN, so that people behind networks that block direct media still
//! connect: the embedded relay (UDP and TCP listeners over the webrtc-rs
//! `turn` crate's server) and the time-limited credentials the welcome
//! carries, for the embedded relay or an external coturn alike.
//!
//! - [`credentials`]: minting and checking coturn's `use-auth-secret`
//!   credentials (pure).
//! - [`gate`]: in front of the crate: 401 for a forged or expired
//!   credential, 403 for a relay towards a private address, and the count
//!   of live allocations.
//! - [`tcp`]: TURN over TCP, every client stream cut into frames and seen by
//!   the crate as one datagram socket.
//!
//! The crate choice: webrtc-rs 0.21's sans-IO `rtc-turn` has a client only;
//! the async `turn` 0.17 has a server whose listeners are any
//! `webrtc_util::Conn`, which lets one server and one allocation table take
//! UDP and TCP clients, and lets the gate sit in front without forking it.
//! Allocations made over TCP live until their lifetime ends (ten minutes
//! without a refresh), not until their connection closes.

pub mod credentials;
pub mod gate;
pub mod tcp;

pub use credentials::TurnCredentials;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use turn::relay::RelayAddressGenerator;
use turn::relay::relay_range::RelayAddressGeneratorRanges;
use turn::relay::relay_static::RelayAddressGeneratorStatic;
use turn::server::Server as TurnServer;
use turn::server::config::{ConnConfig, ServerConfig};
use webrtc_util::Conn;
use webrtc_util::vnet::net::Net;

/// The embedded TURN server's settings.
#[derive(Debug, Clone)]
pub struct EmbeddedTurn {
    /// UDP listener (3478 by convention).
    pub udp: SocketAddr,
    /// TCP listener, for networks that block UDP; none: UDP only.
    pub tcp: Option<SocketAddr>,
    /// The address relayed candidates carry: the server's public IPv4
    /// address. Default: the UDP listener's address when it is not a
    /// wildcard, else the media address.
    pub public_ip: Option<IpAddr>,
    /// The TURN realm (coturn's `realm`).
    pub realm: String,
    /// Ports relays take, both included; none: any free port.
    pub relay_ports: Option<(u16, u16)>,
    /// Lets relays reach loopback and private addresses: test rigs on one
    /// machine only.
    pub allow_private_peers: bool,
}

impl EmbeddedTurn {
    /// UDP and TCP on `ip`, any free ports (tests).
    pub fn on(ip: IpAddr) -> Self {
        EmbeddedTurn {
            udp: SocketAddr::new(ip, 0),
            tcp: Some(SocketAddr::new(ip, 0)),
            public_ip: None,
            realm: "cadre".into(),
            relay_ports: None,
            allow_private_peers: ip.is_loopback(),
        }
    }
}

/// What the embedded server shows an operator (and `/metrics`,
/// `/readyz`): cheap to clone, read without locks.
#[derive(Debug, Clone, Default)]
pub struct TurnStatus {
    allocations: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
    listening: Arc<AtomicBool>,
}

impl TurnStatus {
    /// Allocations alive now.
    pub fn allocations(&self) -> u64 {
        let made = self.allocations.load(Ordering::Relaxed);
        made.saturating_sub(self.closed.load(Ordering::Relaxed))
    }

    /// Allocations made since start.
    pub fn allocations_total(&self) -> u64 {
        self.allocations.load(Ordering::Relaxed)
    }

    /// True while the listeners are bound and serving (a readiness check).
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }
}

/// What the rest of the server holds of TURN: the credentials to mint in
/// welcomes and renewals, and the embedded server's figures.
#[derive(Debug, Clone, Default)]
pub struct TurnSetup {
    /// Minting for the TURN URLs people get; none: no TURN.
    pub credentials: Option<Arc<TurnCredentials>>,
    /// The embedded server's figures, when it runs.
    pub status: Option<TurnStatus>,
}

/// The host of `url` (`https://host:port/path` → `host`), bracketless for
/// IPv6.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// Start-up failures of the embedded server.
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// A listener could not be bound.
    #[error("TURN: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The crate refused the settings.
    #[error("TURN: {0}")]
    Server(String),
}

/// The running embedded server.
pub struct Embedded {
    server: TurnServer,
    status: TurnStatus,
    udp: SocketAddr,
    tcp: Option<SocketAddr>,
    /// The address relayed candidates carry.
    relay_ip: IpAddr,
    stop: CancellationToken,
}

impl Embedded {
    /// Binds the listeners and starts serving credentials minted under
    /// `secret`; `media_ip` is the relay address when none is set and the
    /// UDP listener is a wildcard.
    pub async fn start(
        settings: &EmbeddedTurn,
        secret: &str,
        media_ip: IpAddr,
    ) -> Result<Embedded, TurnError> {
        let bind = |addr: SocketAddr| move |source| TurnError::Bind { addr, source };
        let udp_socket = tokio::net::UdpSocket::bind(settings.udp)
            .await
            .map_err(bind(settings.udp))?;
        let udp = udp_socket.local_addr().map_err(bind(settings.udp))?;
        let stop = CancellationToken::new();
        let status = TurnStatus::default();
        let relay_ip = settings.public_ip.unwrap_or(if udp.ip().is_unspecified() {
            media_ip
        } else {
            udp.ip()
        });
        if relay_ip.is_loopback() && !udp.ip().is_loopback() {
            tracing::warn!(
                "TURN relays announce {relay_ip}, which nobody else can reach: \
                 set --turn-public-ip (or --media-ip) to the server's public address"
            );
        }
        let relay_bind = udp.ip().to_string();
        let gate = |conn: Arc<dyn Conn + Send + Sync>| -> Arc<dyn Conn + Send + Sync> {
            Arc::new(gate::Gate::new(
                conn,
                secret,
                &settings.realm,
                Arc::clone(&status.allocations),
                settings.allow_private_peers,
            ))
        };
        let relays = || -> Box<dyn RelayAddressGenerator + Send + Sync> {
            match settings.relay_ports {
                Some((min_port, max_port)) => Box::new(RelayAddressGeneratorRanges {
                    relay_address: relay_ip,
                    min_port,
                    max_port,
                    max_retries: 0,
                    address: relay_bind.clone(),
                    net: Arc::new(Net::new(None)),
                }),
                None => Box::new(RelayAddressGeneratorStatic {
                    relay_address: relay_ip,
                    address: relay_bind.clone(),
                    net: Arc::new(Net::new(None)),
                }),
            }
        };
        let mut conn_configs = vec![ConnConfig {
            conn: gate(Arc::new(udp_socket)),
            relay_addr_generator: relays(),
        }];
        let mut tcp = None;
        if let Some(addr) = settings.tcp {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(bind(addr))?;
            let frames = tcp::TcpFrames::serve(listener, stop.clone()).map_err(bind(addr))?;
            tcp = Some(
                frames
                    .local_addr()
                    .map_err(|e| TurnError::Server(e.to_string()))?,
            );
            conn_configs.push(ConnConfig {
                conn: gate(frames),
                relay_addr_generator: relays(),
            });
        }
        // Allocations report their end here; the gate counted their start.
        let (closed_tx, mut closed_rx) = tokio::sync::mpsc::channel(64);
        let closed = Arc::clone(&status.closed);
        tokio::spawn(async move {
            while closed_rx.recv().await.is_some() {
                closed.fetch_add(1, Ordering::Relaxed);
            }
        });
        let server = TurnServer::new(ServerConfig {
            conn_configs,
            realm: settings.realm.clone(),
            auth_handler: Arc::new(SecretKeys(credentials::key(secret))),
            channel_bind_timeout: Duration::ZERO,
            alloc_close_notify: Some(closed_tx),
        })
        .await
        .map_err(|e| TurnError::Server(e.to_string()))?;
        status.listening.store(true, Ordering::Relaxed);
        tracing::info!(%udp, tcp = ?tcp, relay = %relay_ip, "TURN listening");
        Ok(Embedded {
            server,
            status,
            udp,
            tcp,
            relay_ip,
            stop,
        })
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp
    }

    /// The address relayed candidates carry.
    pub fn relay_ip(&self) -> IpAddr {
        self.relay_ip
    }

    /// The bound TCP address, if any.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp
    }

    /// The live figures.
    pub fn status(&self) -> &TurnStatus {
        &self.status
    }

    /// The `turn:` URLs of the listeners, as clients reach them at `host`.
    pub fn urls(&self, host: &str) -> Vec<String> {
        // An IPv6 literal goes in brackets in a URL.
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let mut urls = vec![format!("turn:{host}:{}?transport=udp", self.udp.port())];
        if let Some(tcp) = self.tcp {
            urls.push(format!("turn:{host}:{}?transport=tcp", tcp.port()));
        }
        urls
    }

    /// Closes the listeners and every allocation.
    pub async fn close(self) {
        self.status.listening.store(false, Ordering::Relaxed);
        self.stop.cancel();
        if let Err(e) = self.server.close().await {
            tracing::warn!("TURN did not close cleanly: {e}");
        }
    }
}

/// The crate's key lookup: the long-term key of `EXPIRY:ID` under the
/// shared secret. The expiry is the gate's business (it knows the method).
struct SecretKeys(ring::hmac::Key);

impl turn::auth::AuthHandler for SecretKeys {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        _src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let password = credentials::password(&self.0, username);
        Ok(turn::auth::generate_auth_key(username, realm, &password))
    }
}

#[cfg(test)]
mod tests {
    use super::url_host;

    #[test]
    fn the_public_urls_host_names_the_relay() {
        assert_eq!(
            url_host("https://cadre.example.fr/x").as_deref(),
            Some("cadre.example.fr")
        );
        assert_eq!(
            url_host("http://127.0.0.1:8080").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            url_host("https://[2001:db8::1]:443/").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(url_host("https:///nohost"), None);
    }
}
