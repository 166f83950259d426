//! One task per WebSocket participant: join, then relay signals on a paced
//! schedule and time the ones that come back.

use crate::setup::Seat;
use crate::stats::{Histogram, PhaseStats, Tally};
use cadre_protocol::ErrorBody;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_util::either::Either;

/// What the orchestrator tells every connection.
#[derive(Debug, Clone, Copy)]
pub enum Control {
    /// Stay connected; heartbeat when silent.
    Idle,
    /// Send on a paced schedule.
    Run(Run),
    /// Close the socket and end.
    Stop,
}

/// A measured sending phase.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Index into [`Ctx::phases`].
    pub phase: usize,
    /// When the first message is due.
    pub start: Instant,
    /// How long the schedule lasts.
    pub duration: Duration,
    /// Total messages per second over all senders.
    pub rate: f64,
    /// Number of sending connections (ranks `0..senders`).
    pub senders: usize,
}

/// The paced schedule of one connection: message `j` of the whole run goes
/// out at `start + j / rate`, and connection `rank` owns every `senders`-th
/// message from `rank` on, so the total stream is evenly spaced.
pub(crate) struct Schedule {
    phase: usize,
    start: Instant,
    offset_ns: f64,
    period_ns: f64,
    pub(crate) next: u64,
    pub(crate) count: u64,
}

impl Schedule {
    pub(crate) fn new(run: &Run, rank: usize) -> Schedule {
        let offset_ns = rank as f64 / run.rate * 1e9;
        let period_ns = run.senders as f64 / run.rate * 1e9;
        let dur_ns = run.duration.as_nanos() as f64;
        let count = if rank < run.senders && offset_ns < dur_ns {
            ((dur_ns - offset_ns) / period_ns).ceil() as u64
        } else {
            0
        };
        Schedule {
            phase: run.phase,
            start: run.start,
            offset_ns,
            period_ns,
            next: 0,
            count,
        }
    }

    pub(crate) fn due(&self, j: u64) -> Instant {
        self.start + Duration::from_nanos((self.offset_ns + j as f64 * self.period_ns) as u64)
    }
}

/// State shared by every connection task.
pub struct Ctx {
    /// Origin of the timestamps carried in payloads.
    pub base: std::time::Instant,
    /// Phase 0 is connecting and idle; the others are measured runs.
    pub phases: Vec<PhaseStats>,
    /// The phase errors and closes are charged to.
    pub current_phase: AtomicUsize,
    /// JSON string body of SDP-sized payloads (no quotes).
    pub sdp_pad: String,
    /// JSON string body of candidate-sized payloads (no quotes).
    pub candidate_pad: String,
    /// Client read buffer per socket.
    pub read_buffer: usize,
    /// Limit for TCP connect + upgrade + welcome.
    pub join_timeout: Duration,
    /// Connect to welcome, nanoseconds.
    pub join: Histogram,
    /// Connections that got their welcome.
    pub joined: AtomicU64,
    /// Connections that failed to join.
    pub join_failed: AtomicU64,
    /// Why joins failed.
    pub join_errors: Tally,
    /// Sockets open now.
    pub alive: AtomicU64,
    /// WSS: the client configuration (trusting the server's authority).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Every Nth message a connection sends in a phase is a presence
    /// change (an evidence append) rather than a signal (0: never).
    pub presence_every: u64,
    next_rank: AtomicUsize,
}

/// The marker that opens the bench fields inside `data`.
pub(crate) const MARK: &str = "\"bench\":[";

impl Ctx {
    /// Shared state for `phases` phases with payload sizes in bytes of `data`.
    pub fn new(
        phases: usize,
        sdp_bytes: usize,
        candidate_bytes: usize,
        read_buffer: usize,
        join_timeout: Duration,
    ) -> Ctx {
        Ctx {
            base: std::time::Instant::now(),
            phases: (0..phases).map(|_| PhaseStats::default()).collect(),
            current_phase: AtomicUsize::new(0),
            sdp_pad: sdp_like(sdp_bytes.saturating_sub(DATA_OVERHEAD)),
            candidate_pad: candidate_like(candidate_bytes.saturating_sub(DATA_OVERHEAD)),
            read_buffer,
            join_timeout,
            join: Histogram::default(),
            joined: AtomicU64::new(0),
            join_failed: AtomicU64::new(0),
            join_errors: Tally::default(),
            alive: AtomicU64::new(0),
            tls: None,
            presence_every: 0,
            next_rank: AtomicUsize::new(0),
        }
    }

    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    fn phase(&self) -> &PhaseStats {
        &self.phases[self.current_phase.load(Relaxed).min(self.phases.len() - 1)]
    }

    fn fail_join(&self, why: String) {
        self.join_failed.fetch_add(1, Relaxed);
        self.join_errors.add(why);
    }
}

/// Bytes of `data` besides the padding: `{"bench":[p,s,q,t],"pad":""}` with
/// typical digit counts.
pub(crate) const DATA_OVERHEAD: usize = 48;

/// SDP-looking text (JSON-escaped CRLFs included) of exactly `len` bytes.
pub(crate) fn sdp_like(len: usize) -> String {
    const LINES: &[&str] = &[
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=extmap-allow-mixed",
        "a=msid-semantic: WMS 3b5c6a0e-6f0c-4c2e-9d4b-0d7a1f2e3c4d",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:sXP5",
        "a=ice-pwd:Yp0Ga4pYH1NtO9uYw3o8xWXq",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08",
        "a=setup:actpass",
        "a=mid:0",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 goog-remb",
        "a=rtcp-fb:96 transport-cc",
        "a=rtcp-fb:96 ccm fir",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
    ];
    let mut s = String::with_capacity(len + 64);
    'fill: loop {
        for line in LINES {
            s.push_str(line);
            s.push_str("\\r\\n");
            if s.len() >= len {
                break 'fill;
            }
        }
    }
    fit(s, len)
}

/// ICE-candidate-looking text of exactly `len` bytes.
pub(crate) fn candidate_like(len: usize) -> String {
    let mut s = String::from(
        "candidate:842163049 1 udp 1677729535 127.0.0.1 46154 typ host generation 0 ufrag sXP5 network-cost 999 sdpMid 0 sdpMLineIndex 0 ",
    );
    while s.len() < len {
        s.push('x');
    }
    fit(s, len)
}

/// Cuts to `len` bytes without leaving a dangling escape, then pads with
/// spaces.
fn fit(mut s: String, len: usize) -> String {
    s.truncate(len);
    while s.ends_with('\\') {
        s.pop();
    }
    while s.len() < len {
        s.push(' ');
    }
    s
}

fn signal_text(to: &str, fields: [u64; 4], pad: &str) -> String {
    let mut s = String::with_capacity(64 + to.len() + pad.len());
    s.push_str("{\"type\":\"signal\",\"to\":\"");
    s.push_str(to);
    s.push_str("\",\"data\":{");
    s.push_str(MARK);
    let [phase, src, seq, ts] = fields;
    let _ = write!(s, "{phase},{src},{seq},{ts}");
    s.push_str("],\"pad\":\"");
    s.push_str(pad);
    s.push_str("\"}}");
    s
}

/// `[phase, src, seq, ts]` from a relayed bench payload.
pub(crate) fn parse_bench(text: &str) -> Option<[u64; 4]> {
    let start = text.find(MARK)? + MARK.len();
    let rest = &text[start..];
    let list = &rest[..rest.find(']')?];
    let mut out = [0u64; 4];
    let mut parts = list.split(',');
    for slot in &mut out {
        *slot = parts.next()?.trim().parse().ok()?;
    }
    Some(out)
}

fn describe_connect_error(err: &tungstenite::Error) -> String {
    match err {
        tungstenite::Error::Http(resp) => {
            let code = resp
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice::<ErrorBody>(b).ok())
                .map(|e| e.code.to_string())
                .unwrap_or_default();
            format!("HTTP {} {code}", resp.status().as_u16())
        }
        tungstenite::Error::Io(e) => format!("io: {}", e.kind()),
        other => other.to_string(),
    }
}

async fn join(ctx: &Ctx, seat: &Seat, ws_base: &str) -> Result<(WsStream, u64), String> {
    let url = format!("{ws_base}/ws/{}?token={}", seat.sid, seat.token);
    let config = WebSocketConfig::default()
        .read_buffer_size(ctx.read_buffer)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let started = Instant::now();
    let attempt = async {
        let stream = connect(ctx, ws_base).await?;
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(config))
                .await
                .map_err(|e| describe_connect_error(&e))?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    return match serde_json::from_str::<Loose<'_>>(text.as_str()) {
                        Ok(m) if m.kind == "welcome" => {
                            Ok((ws, m.heartbeat_interval_ms.unwrap_or(10_000)))
                        }
                        Ok(m) if m.kind == "error" => Err(format!(
                            "error {} instead of welcome",
                            m.code.as_deref().unwrap_or("?")
                        )),
                        Ok(m) => Err(format!("first message was {:?}, not welcome", m.kind)),
                        Err(e) => Err(format!("unreadable welcome: {e}")),
                    };
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!(
                        "closed before welcome ({})",
                        frame.map_or(0, |f| u16::from(f.code))
                    ));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("closed before welcome".to_string()),
            }
        }
    };
    let (ws, hb) = timeout(ctx.join_timeout, attempt)
        .await
        .map_err(|_| "timed out".to_string())??;
    ctx.join.record(started.elapsed().as_nanos() as u64);
    Ok((ws, hb))
}

/// A socket to the server: plain TCP, or TLS over it (`--tls`). An
/// `Either` rather than a box, so the plain runs measure what they did
/// before TLS was an option.
type Stream = Either<TcpStream, tokio_rustls::client::TlsStream<TcpStream>>;

type WsStream = tokio_tungstenite::WebSocketStream<Stream>;

/// The TCP connection (and the TLS handshake over it) to `ws_base`'s host.
async fn connect(ctx: &Ctx, ws_base: &str) -> Result<Stream, String> {
    let authority = ws_base
        .split_once("://")
        .map_or(ws_base, |(_, rest)| rest)
        .trim_end_matches('/');
    let tcp = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("io: {}", e.kind()))?;
    tcp.set_nodelay(true)
        .map_err(|e| format!("io: {}", e.kind()))?;
    let Some(config) = &ctx.tls else {
        return Ok(Either::Left(tcp));
    };
    crate::http::tls_over(config, authority, tcp)
        .await
        .map(Either::Right)
        .map_err(|e| format!("tls: {e:#}"))
}

/// Joins (holding one of `connect_permits` until welcomed), then follows
/// `control` until told to stop or the socket ends.
pub async fn participant(
    ctx: Arc<Ctx>,
    seat: Seat,
    ws_base: Arc<str>,
    connect_permits: Arc<Semaphore>,
    mut control: watch::Receiver<Control>,
) {
    let permit = connect_permits.acquire().await;
    let joined = join(&ctx, &seat, &ws_base).await;
    drop(permit);
    let (mut ws, heartbeat_ms) = match joined {
        Ok(ok) => ok,
        Err(why) => {
            ctx.fail_join(why);
            return;
        }
    };
    ctx.joined.fetch_add(1, Relaxed);
    ctx.alive.fetch_add(1, Relaxed);
    let rank = ctx.next_rank.fetch_add(1, Relaxed);
    let members = seat.members.clone();
    let me = seat.pos;
    drop(seat);
    let others = members.len().saturating_sub(1).max(1);

    let heartbeat = Duration::from_millis(heartbeat_ms.clamp(1_000, 60_000));
    let mut last_sent = Instant::now();
    let mut heartbeat_sleep = pin!(sleep_until(last_sent + heartbeat));
    let far = || Instant::now() + Duration::from_secs(86_400);
    let mut send_sleep = pin!(sleep_until(far()));
    let mut schedule: Option<Schedule> = None;
    // Per sender position: last sequence seen + 1 (0: none yet).
    let mut last_seq = vec![0u64; members.len()];
    let mut seq: u64 = 0;
    let mut visible = true;
    let mut stop = false;
    let mut pending = Some(*control.borrow_and_update());

    let finish = |s: &Schedule| {
        ctx.phases[s.phase].active_senders.fetch_sub(1, Relaxed);
    };

    'main: loop {
        if let Some(c) = pending.take() {
            if let Some(s) = schedule.take() {
                finish(&s);
            }
            match c {
                Control::Stop => {
                    stop = true;
                    break 'main;
                }
                Control::Idle => send_sleep.as_mut().reset(far()),
                Control::Run(run) => {
                    let s = Schedule::new(&run, rank);
                    if s.count > 0 {
                        ctx.phases[s.phase].active_senders.fetch_add(1, Relaxed);
                        send_sleep.as_mut().reset(s.due(0));
                        schedule = Some(s);
                    }
                }
            }
        }
        tokio::select! {
            biased;
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => on_text(&ctx, text.as_str(), &mut last_seq),
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.map_or(1005, |f| u16::from(f.code));
                    ctx.phase().closes.add(format!("close {code}"));
                    break 'main;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    ctx.phase().closes.add(format!("socket error: {e}"));
                    break 'main;
                }
                None => {
                    ctx.phase().closes.add("eof");
                    break 'main;
                }
            },
            changed = control.changed() => match changed {
                Ok(()) => pending = Some(*control.borrow_and_update()),
                Err(_) => {
                    stop = true;
                    break 'main;
                }
            },
            () = &mut send_sleep, if schedule.is_some() => {
                let Some(s) = schedule.as_mut() else { continue };
                let now = Instant::now();
                let phase = &ctx.phases[s.phase];
                // At most a few messages per wake-up, so a late connection
                // catches up without starving its own reads.
                for _ in 0..16 {
                    if s.next >= s.count {
                        break;
                    }
                    let due = s.due(s.next);
                    if due > now {
                        break;
                    }
                    let j = s.next;
                    if ctx.presence_every > 0 && (j + 1) % ctx.presence_every == 0 {
                        // An evidence append on the server, not relayed:
                        // neither counted as sent nor numbered.
                        visible = !visible;
                        let text = format!(
                            "{{\"type\":\"presence\",\"visible\":{visible},\"focused\":true}}"
                        );
                        if let Err(e) = ws.send(Message::text(text)).await {
                            ctx.phase().closes.add(format!("send error: {e}"));
                            break 'main;
                        }
                        phase.presence_sent.fetch_add(1, Relaxed);
                        s.next += 1;
                        last_sent = now;
                        continue;
                    }
                    let target = members[(me + 1 + (j as usize % others)) % members.len()].as_str();
                    let pad = if j % 2 == 0 { &ctx.sdp_pad } else { &ctx.candidate_pad };
                    let text = signal_text(target, [s.phase as u64, me as u64, seq, ctx.now_ns()], pad);
                    let bytes = text.len() as u64;
                    if let Err(e) = ws.send(Message::text(text)).await {
                        phase.send_failed.fetch_add(1, Relaxed);
                        ctx.phase().closes.add(format!("send error: {e}"));
                        break 'main;
                    }
                    phase.send_lag.record(now.saturating_duration_since(due).as_nanos() as u64);
                    phase.sent.fetch_add(1, Relaxed);
                    phase.sent_bytes.fetch_add(bytes, Relaxed);
                    s.next += 1;
                    seq += 1;
                    last_sent = now;
                }
                if s.next >= s.count {
                    finish(s);
                    schedule = None;
                    send_sleep.as_mut().reset(far());
                } else {
                    send_sleep.as_mut().reset(s.due(s.next).max(now));
                }
            },
            () = &mut heartbeat_sleep => {
                if last_sent.elapsed() >= heartbeat {
                    if ws.send(Message::text("{\"type\":\"heartbeat\"}")).await.is_err() {
                        ctx.phase().closes.add("heartbeat send error");
                        break 'main;
                    }
                    last_sent = Instant::now();
                }
                heartbeat_sleep.as_mut().reset(last_sent + heartbeat);
            },
        }
    }
    if let Some(s) = schedule.take() {
        finish(&s);
    }
    ctx.alive.fetch_sub(1, Relaxed);
    if stop {
        // A clean close: send ours, wait briefly for the server's.
        let _ = ws.close(None).await;
        let _ = timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
}

fn on_text(ctx: &Ctx, text: &str, last_seq: &mut [u64]) {
    if let Some([phase, src, seq, ts]) = parse_bench(text) {
        let Some(stats) = ctx.phases.get(phase as usize) else {
            return;
        };
        stats.latency.record(ctx.now_ns().saturating_sub(ts));
        stats.received.fetch_add(1, Relaxed);
        if let Some(last) = last_seq.get_mut(src as usize) {
            if seq < *last {
                stats.reordered.fetch_add(1, Relaxed);
            } else {
                *last = seq + 1;
            }
        }
        return;
    }
    match serde_json::from_str::<Loose<'_>>(text) {
        Ok(m) => match m.kind.as_ref() {
            "error" => ctx
                .phase()
                .errors
                .add(m.code.as_deref().unwrap_or("(no code)")),
            "closing" | "peer_left" => ctx.phase().notices.add(format!(
                "{} {}",
                m.kind,
                m.reason.as_deref().unwrap_or("?")
            )),
            _ => {}
        },
        Err(_) => ctx.phase().notices.add("unparsed message"),
    }
}

/// The few fields of a server message the tool reads. Loose on purpose: the
/// tool keeps working while the protocol gains fields.
#[derive(Deserialize)]
struct Loose<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    heartbeat_interval_ms: Option<u64>,
    #[serde(default, borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reason: Option<Cow<'a, str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_have_the_asked_sizes_and_parse() {
        let ctx = Ctx::new(2, 1000, 200, 4096, Duration::from_secs(1));
        for (pad, want) in [(&ctx.sdp_pad, 1000), (&ctx.candidate_pad, 200)] {
            let text = signal_text("p_abc", [1, 3, 12345, 987654321012], pad);
            let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
            assert_eq!(v["type"], "signal");
            assert_eq!(v["to"], "p_abc");
            let data = serde_json::to_string(&v["data"]).unwrap();
            assert!(
                data.len().abs_diff(want) <= 8,
                "data is {} bytes, wanted ~{want}",
                data.len()
            );
            // What the server relays back: `data` byte for byte.
            let raw = &text[text.find("\"data\":").unwrap() + 7..text.len() - 1];
            let relayed = format!("{{\"type\":\"signal\",\"from\":\"p_x\",\"data\":{raw}}}");
            assert!(serde_json::from_str::<serde_json::Value>(&relayed).is_ok());
            assert_eq!(parse_bench(&relayed), Some([1, 3, 12345, 987654321012]));
        }
        assert_eq!(
            parse_bench("{\"type\":\"heartbeat_ack\",\"server_time\":1}"),
            None
        );
    }

    #[test]
    fn schedule_spreads_the_rate_evenly() {
        let start = Instant::now();
        let run = Run {
            phase: 1,
            start,
            duration: Duration::from_secs(2),
            rate: 1000.0,
            senders: 10,
        };
        let scheds: Vec<Schedule> = (0..10).map(|r| Schedule::new(&run, r)).collect();
        assert_eq!(scheds.iter().map(|s| s.count).sum::<u64>(), 2000);
        let mut all: Vec<Duration> = scheds
            .iter()
            .flat_map(|s| (0..s.count).map(|j| s.due(j) - start))
            .collect();
        all.sort();
        for (k, d) in all.iter().enumerate() {
            assert!(
                d.as_nanos().abs_diff(k as u128 * 1_000_000) < 1_000,
                "message {k} at {d:?}"
            );
        }
        assert_eq!(Schedule::new(&run, 10).count, 0);
    }
}
