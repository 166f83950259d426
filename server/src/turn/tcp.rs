//! TURN over TCP (RFC 5766 §2.1) for networks that block UDP: every
//! accepted connection carries STUN messages and ChannelData frames back to
//! back; this listener cuts them out of the streams and hands them to the
//! TURN server as if they were datagrams from the connection's address, and
//! routes the server's answers back to the connection with that address.
//!
//! The `turn` crate's server reads datagrams from a [`Conn`]: one
//! [`TcpFrames`] stands for every TCP client at once, so the UDP and the TCP
//! listener share one server and one allocation table. Relayed traffic
//! still leaves the server over UDP, as in coturn.

use async_trait::async_trait;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use webrtc_util::Conn;

/// Frames waiting for the TURN server, across connections. A full queue
/// drops the frame, as a congested UDP socket would.
const INBOUND_FRAMES: usize = 1024;
/// Frames waiting to be written to one client; beyond, frames are dropped
/// rather than stalling the server's single read loop on a slow client.
const OUTBOUND_FRAMES: usize = 256;
/// Largest frame accepted: the TURN server reads 1,500 bytes at most.
const MAX_FRAME: usize = 1500;
/// RFC 5389's magic cookie, bytes 4 to 8 of every STUN message.
const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
/// Most TCP clients at once.
const MAX_CLIENTS: usize = 4096;

/// Every TCP client of the TURN listener, as one datagram socket.
pub struct TcpFrames {
    local: SocketAddr,
    inbound: tokio::sync::Mutex<mpsc::Receiver<(Vec<u8>, SocketAddr)>>,
    clients: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>,
    stop: CancellationToken,
}

impl TcpFrames {
    /// Accepts connections on `listener` until `stop`.
    pub fn serve(listener: TcpListener, stop: CancellationToken) -> std::io::Result<Arc<Self>> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(INBOUND_FRAMES);
        let frames = Arc::new(TcpFrames {
            local,
            inbound: tokio::sync::Mutex::new(rx),
            clients: Arc::default(),
            stop: stop.clone(),
        });
        let clients = Arc::clone(&frames.clients);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = stop.cancelled() => break,
                    a = listener.accept() => a,
                };
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::debug!("TURN over TCP: accept failed: {e}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (out_tx, out_rx) = mpsc::channel(OUTBOUND_FRAMES);
                {
                    let mut map = clients.lock().unwrap_or_else(|p| p.into_inner());
                    if map.len() >= MAX_CLIENTS {
                        continue;
                    }
                    map.insert(peer, out_tx);
                }
                tokio::spawn(client(
                    stream,
                    peer,
                    tx.clone(),
                    out_rx,
                    Arc::clone(&clients),
                    stop.clone(),
                ));
            }
        });
        Ok(frames)
    }
}

/// One TCP client: frames in, frames out, until either side ends.
async fn client(
    stream: TcpStream,
    peer: SocketAddr,
    inbound: mpsc::Sender<(Vec<u8>, SocketAddr)>,
    mut outbound: mpsc::Receiver<Vec<u8>>,
    clients: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>,
    stop: CancellationToken,
) {
    let (mut reader, mut writer) = stream.into_split();
    let reading = async {
        // The end of the stream or a frame that is neither STUN nor
        // ChannelData ends the connection: its framing is lost.
        while let Ok(Some(frame)) = read_frame(&mut reader).await {
            let _ = inbound.try_send((frame, peer));
        }
    };
    let writing = async {
        while let Some(frame) = outbound.recv().await {
            if writer.write_all(&frame).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = reading => {}
        () = writing => {}
        () = stop.cancelled() => {}
    }
    clients
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&peer);
}

/// How many bytes the frame starting with `header` takes on the stream:
/// a STUN message (20-byte header and its length), or ChannelData (4-byte
/// header, its length, padded to four bytes over TCP, RFC 5766 §11.5).
/// `None`: neither.
pub fn frame_len(header: [u8; 4]) -> Option<(usize, usize)> {
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    match header[0] >> 6 {
        0b00 => Some((20 + length, 20 + length)),
        0b01 => Some((4 + length, (4 + length).div_ceil(4) * 4)),
        _ => None,
    }
}

/// The next frame without its padding; `None` at the end of the stream.
async fn read_frame(reader: &mut (impl AsyncReadExt + Unpin)) -> std::io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    match reader.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let Some((len, on_wire)) = frame_len(header) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "neither STUN nor ChannelData",
        ));
    };
    if len > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "frame larger than a datagram",
        ));
    }
    let mut frame = vec![0u8; on_wire];
    frame[..4].copy_from_slice(&header);
    reader.read_exact(&mut frame[4..]).await?;
    if header[0] >> 6 == 0b00 && frame[4..8] != STUN_MAGIC_COOKIE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a STUN message",
        ));
    }
    frame.truncate(len);
    Ok(Some(frame))
}

/// ChannelData is padded to four bytes on a stream; STUN always is.
fn padded(buf: &[u8]) -> Vec<u8> {
    let mut frame = buf.to_vec();
    if buf.first().is_some_and(|b| b >> 6 == 0b01) {
        frame.resize(buf.len().div_ceil(4) * 4, 0);
    }
    frame
}

#[async_trait]
impl Conn for TcpFrames {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(webrtc_util::Error::Other(
            "a listener does not connect".into(),
        ))
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let mut inbound = self.inbound.lock().await;
        loop {
            let next = tokio::select! {
                () = self.stop.cancelled() => None,
                f = inbound.recv() => f,
            };
            let Some((frame, peer)) = next else {
                return Err(webrtc_util::Error::ErrUseClosedNetworkConn);
            };
            // The caller's buffer holds a datagram; read_frame bounds frames by it.
            if frame.len() <= buf.len() {
                buf[..frame.len()].copy_from_slice(&frame);
                return Ok((frame.len(), peer));
            }
        }
    }

    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(webrtc_util::Error::ErrNoRemAddr)
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        let client = self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&target)
            .cloned();
        // A client gone or too slow loses the frame, as over UDP.
        if let Some(client) = client {
            let _ = client.try_send(padded(buf));
        }
        Ok(buf.len())
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.stop.cancel();
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_by_their_own_lengths() {
        // A STUN Allocate request with 8 bytes of attributes.
        assert_eq!(frame_len([0x00, 0x03, 0x00, 0x08]), Some((28, 28)));
        // ChannelData of 5 bytes on channel 0x4000: padded to 12 on a stream.
        assert_eq!(frame_len([0x40, 0x00, 0x00, 0x05]), Some((9, 12)));
        assert_eq!(frame_len([0x40, 0x00, 0x00, 0x04]), Some((8, 8)));
        // The first two bits 10 or 11 (RTP, RTCP) are neither.
        assert_eq!(frame_len([0x80, 0x60, 0x00, 0x01]), None);
        assert_eq!(frame_len([0xC0, 0x00, 0x00, 0x01]), None);
    }

    #[test]
    fn only_channel_data_gets_padding() {
        assert_eq!(padded(&[0x40, 0, 0, 1, 9]).len(), 8);
        assert_eq!(padded(&[0x01, 1, 0, 0]).len(), 4);
    }
}
