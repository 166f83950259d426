//! A WebSocket client at the frame level, for what a WebSocket library
//! hides from its user: whether the server answers a close frame, and
//! whether it ends the TCP connection only after the closing handshake
//! (RFC 6455, section 7).

use crate::{TestServer, Upgrade, WAIT};
use cadre_protocol::api::SessionView;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Text, as sent.
    Text(String),
    /// Binary data.
    Binary(Vec<u8>),
    /// A close frame: its code and reason, or `None` when it carries none.
    Close(Option<(u16, String)>),
    /// A ping, not answered unless the test does.
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
}

/// What reading the socket gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// A whole frame.
    Frame(Frame),
    /// The server ended the TCP connection in order (FIN).
    Eof,
    /// The connection failed (a reset, say).
    Failed(String),
    /// Nothing within the wait.
    Quiet,
}

/// A WebSocket connection read and written frame by frame.
pub struct RawSocket {
    /// The `welcome` message.
    pub welcome: Value,
    tcp: TcpStream,
    buffer: Vec<u8>,
    label: String,
}

impl TestServer {
    /// Connects the person called `name` with their link, without a
    /// WebSocket library on the client's side, and reads up to the
    /// `welcome`; panics if the upgrade is refused.
    pub async fn raw_join(&self, session: &SessionView, name: &str) -> RawSocket {
        let path = format!(
            "/ws/{}?token={}",
            session.id,
            crate::person(session, name).link.token
        );
        let upgrade = tokio::time::timeout(
            WAIT,
            crate::upgrade(self.addr(), &path, &Upgrade::default()),
        )
        .await
        .unwrap_or_else(|_| panic!("no answer to the upgrade of {path} within {WAIT:?}"));
        match upgrade {
            Ok((tcp, buffer)) => {
                let mut socket = RawSocket {
                    welcome: Value::Null,
                    tcp,
                    buffer,
                    label: format!("{name}'s raw socket"),
                };
                socket.welcome = socket.recv_type("welcome").await;
                socket
            }
            Err((status, body, _)) => panic!(
                "upgrade of {path} refused with {status}: {}",
                String::from_utf8_lossy(&body)
            ),
        }
    }
}

impl RawSocket {
    /// The next frame, the end of the connection, or `Quiet` when nothing
    /// complete comes within `wait`. Cancel-safe: bytes read stay buffered.
    pub async fn next(&mut self, wait: Duration) -> Read {
        let until = tokio::time::Instant::now() + wait;
        loop {
            if let Some(frame) = self.parse() {
                return Read::Frame(frame);
            }
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout_at(until, self.tcp.read(&mut chunk)).await {
                Err(_) => return Read::Quiet,
                Ok(Ok(0)) => {
                    return if self.buffer.is_empty() {
                        Read::Eof
                    } else {
                        Read::Failed(format!(
                            "the connection ended inside a frame ({} bytes left)",
                            self.buffer.len()
                        ))
                    };
                }
                Ok(Ok(n)) => self.buffer.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Read::Failed(e.to_string()),
            }
        }
    }

    /// Reads until a text frame whose `type` is `kind`, skipping others;
    /// panics on anything else (a close, the end) or after [`WAIT`].
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            match self.next(WAIT).await {
                Read::Frame(Frame::Text(text)) => {
                    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
                        panic!("{}: text that is not JSON ({e}): {text}", self.label)
                    });
                    if value["type"] == kind {
                        return value;
                    }
                }
                Read::Frame(Frame::Ping(_) | Frame::Pong(_)) => {}
                other => panic!("{} waited for {kind:?} and got {other:?}", self.label),
            }
        }
    }

    /// Reads until the server's close frame, within [`WAIT`], and returns
    /// the JSON messages before it with the frame's code and reason.
    pub async fn until_close(&mut self) -> (Vec<Value>, Option<(u16, String)>) {
        let until = tokio::time::Instant::now() + WAIT;
        let mut messages = Vec::new();
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Read::Frame(Frame::Text(text)) => {
                    messages.push(serde_json::from_str(&text).unwrap_or_else(|e| {
                        panic!("{}: text that is not JSON ({e}): {text}", self.label)
                    }))
                }
                Read::Frame(Frame::Close(close)) => return (messages, close),
                Read::Frame(Frame::Ping(_) | Frame::Pong(_)) => {}
                other => panic!(
                    "{} waited for the server's close frame and got {other:?} after {} messages",
                    self.label,
                    messages.len()
                ),
            }
        }
    }

    /// Reads what is left after a close frame: frames are an error, and the
    /// answer is how the connection ended within [`WAIT`].
    pub async fn end(&mut self) -> Read {
        match self.next(WAIT).await {
            Read::Frame(frame) => {
                panic!("{}: a frame after the close frame: {frame:?}", self.label)
            }
            other => other,
        }
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.send(0x1, text.as_bytes()).await;
    }

    /// Sends a close frame with `code` and `reason`.
    pub async fn send_close(&mut self, code: u16, reason: &str) {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        self.send(0x8, &payload).await;
    }

    /// Sends one final frame of `opcode`, masked as a client must.
    pub async fn send(&mut self, opcode: u8, payload: &[u8]) {
        let mut mask = [0u8; 4];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut mask)
            .expect("four random bytes");
        let mut frame = vec![0x80 | opcode];
        match payload.len() {
            n @ 0..=125 => frame.push(0x80 | n as u8),
            n @ 126..=0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tcp
            .write_all(&frame)
            .await
            .unwrap_or_else(|e| panic!("{}: send a frame: {e}", self.label));
    }

    /// One whole frame from the buffer, if it holds one. The server sends
    /// unfragmented, unmasked frames.
    fn parse(&mut self) -> Option<Frame> {
        let b = &self.buffer;
        if b.len() < 2 {
            return None;
        }
        assert_eq!(
            b[0] & 0x80,
            0x80,
            "{}: a fragmented frame from the server",
            self.label
        );
        assert_eq!(
            b[1] & 0x80,
            0,
            "{}: a masked frame from the server",
            self.label
        );
        let (len, start) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        if b.len() < start + len {
            return None;
        }
        let opcode = b[0] & 0x0f;
        let payload = b[start..start + len].to_vec();
        self.buffer.drain(..start + len);
        Some(match opcode {
            0x1 => {
                Frame::Text(String::from_utf8(payload).unwrap_or_else(|e| {
                    panic!("{}: a text frame that is not UTF-8: {e}", self.label)
                }))
            }
            0x2 => Frame::Binary(payload),
            0x8 if payload.len() >= 2 => Frame::Close(Some((
                u16::from_be_bytes([payload[0], payload[1]]),
                String::from_utf8_lossy(&payload[2..]).into_owned(),
            ))),
            0x8 => Frame::Close(None),
            0x9 => Frame::Ping(payload),
            0xa => Frame::Pong(payload),
            other => panic!("{}: a frame with opcode {other:#x}", self.label),
        })
    }
}
