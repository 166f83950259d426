//! A small JSON WebSocket client for the recording and forwarding benches:
//! one task reads the socket all the time (so the server never waits on
//! us) and queues every text message; another writes what it is given and
//! heartbeats.

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;

/// One participant's session socket.
pub struct WsClient {
    /// Participant id (from the welcome).
    pub id: String,
    /// Who this is, for error messages.
    pub label: String,
    out: mpsc::UnboundedSender<String>,
    inbox: mpsc::UnboundedReceiver<Value>,
    tasks: Vec<JoinHandle<()>>,
}

impl WsClient {
    /// Connects with a join token and waits (at most `wait`) for the welcome.
    pub async fn connect(
        ws_base: &str,
        sid: &str,
        token: &str,
        label: String,
        wait: Duration,
    ) -> Result<WsClient> {
        let url = format!("{ws_base}/ws/{sid}?token={token}");
        // Without Nagle: a lone signal must not wait for the previous
        // one's acknowledgement (40 ms of delayed ACK on loopback).
        let connecting = tokio_tungstenite::connect_async_with_config(url.as_str(), None, true);
        let (ws, _) = timeout(wait, connecting)
            .await
            .map_err(|_| anyhow!("{label}: connecting took longer than {wait:?}"))?
            .with_context(|| format!("{label}: connecting"))?;
        Self::start(ws, label, wait).await
    }

    /// Like [`WsClient::connect`], through a TLS proxy at `addr` (WSS,
    /// `localhost` as the name the certificate must carry).
    pub async fn connect_tls(
        addr: std::net::SocketAddr,
        config: std::sync::Arc<rustls::ClientConfig>,
        sid: &str,
        token: &str,
        label: String,
        wait: Duration,
    ) -> Result<WsClient> {
        let url = format!("wss://localhost:{}/ws/{sid}?token={token}", addr.port());
        let connecting = async {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let name = rustls::pki_types::ServerName::try_from("localhost")?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            let (ws, _) = tokio_tungstenite::client_async(url.as_str(), tls).await?;
            Ok::<_, anyhow::Error>(ws)
        };
        let ws = timeout(wait, connecting)
            .await
            .map_err(|_| anyhow!("{label}: connecting took longer than {wait:?}"))?
            .with_context(|| format!("{label}: connecting"))?;
        Self::start(ws, label, wait).await
    }

    /// Reads up to the welcome on `ws`, then runs its reader and writer.
    async fn start<S>(
        ws: tokio_tungstenite::WebSocketStream<S>,
        label: String,
        wait: Duration,
    ) -> Result<WsClient>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sink, mut stream) = ws.split();
        let (in_tx, mut inbox) = mpsc::unbounded_channel::<Value>();
        let reader = tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                if let Message::Text(text) = msg
                    && let Ok(v) = serde_json::from_str::<Value>(text.as_str())
                    && in_tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        let welcome = match timeout(wait, inbox.recv()).await {
            Ok(Some(v)) if v["type"] == "welcome" => v,
            Ok(Some(v)) => {
                reader.abort();
                bail!("{label}: first message is not a welcome: {v}")
            }
            _ => {
                reader.abort();
                bail!("{label}: no welcome within {wait:?}")
            }
        };
        let id = welcome["you"]["id"]
            .as_str()
            .context("welcome without you.id")?
            .to_owned();
        let heartbeat = Duration::from_millis(
            welcome["heartbeat_interval_ms"]
                .as_u64()
                .unwrap_or(10_000)
                .clamp(500, 60_000),
        );
        let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
        let writer = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
            loop {
                tokio::select! {
                    m = out_rx.recv() => match m {
                        Some(text) => {
                            if sink.send(Message::text(text)).await.is_err() {
                                return;
                            }
                        }
                        None => {
                            let _ = timeout(Duration::from_secs(2), sink.close()).await;
                            return;
                        }
                    },
                    _ = tick.tick() => {
                        if sink.send(Message::text("{\"type\":\"heartbeat\"}")).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(WsClient {
            id,
            label,
            out,
            inbox,
            tasks: vec![reader, writer],
        })
    }

    /// Queues a message for the socket.
    pub fn send(&self, v: &Value) -> Result<()> {
        self.out
            .send(v.to_string())
            .map_err(|_| anyhow!("{}: the socket is closed", self.label))
    }

    /// The next message, or `None` once the socket is closed.
    pub async fn recv(&mut self) -> Option<Value> {
        self.inbox.recv().await
    }

    /// Skips messages until one satisfies `wanted` (at most until
    /// `deadline`); an `error` message that is not wanted fails.
    pub async fn wait_until(
        &mut self,
        what: &str,
        deadline: Instant,
        wanted: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        loop {
            match timeout_at(deadline, self.inbox.recv()).await {
                Ok(Some(v)) if wanted(&v) => return Ok(v),
                Ok(Some(v)) if v["type"] == "error" => {
                    bail!("{}: error while waiting for {what}: {v}", self.label)
                }
                Ok(Some(_)) => {}
                Ok(None) => bail!("{}: socket closed while waiting for {what}", self.label),
                Err(_) => bail!("{}: no {what} in time", self.label),
            }
        }
    }

    /// Like [`WsClient::wait_until`] with a timeout.
    pub async fn wait_for(
        &mut self,
        what: &str,
        wait: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        self.wait_until(what, Instant::now() + wait, wanted).await
    }

    /// Closes the socket (bounded).
    pub async fn close(mut self) {
        let (dead, _) = mpsc::unbounded_channel();
        drop(std::mem::replace(&mut self.out, dead));
        let writer = self.tasks.pop();
        if let Some(w) = writer {
            let _ = timeout(Duration::from_secs(3), w).await;
        }
    }
}

impl Drop for WsClient {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
