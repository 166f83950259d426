//! One open recording segment: the publishers' peer connections, their
//! track writers, and the stop flag that makes "nothing after stop" hold.

mod peer;
mod tap;
pub(crate) use peer::{add_receivers, build as build_peer, build_with as build_peer_with};
pub use tap::{Tap, TapTrack};

use super::writer::{Codec, TrackWriter};
use super::{RecordedFile, Recorder, RecorderError, SegmentEvent, check_id, lock, storage};
use cadre_protocol::now_ms;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCSessionDescription};

/// How long [`Segment::publish`] waits for the server's ICE candidates
/// before answering with those it has.
const GATHER_WAIT: Duration = Duration::from_secs(2);

/// Bound on closing one peer connection, and on its tasks ending.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Largest SDP offer accepted.
const MAX_SDP_BYTES: usize = 128 * 1024;

/// Candidates held back per participant before their description is set.
const MAX_HELD_CANDIDATES: usize = 64;

/// One open recording segment. Clones share it.
#[derive(Clone)]
pub struct Segment {
    inner: Arc<SegmentInner>,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("sid", &self.inner.sid)
            .field("id", &self.inner.id)
            .field("stopped", &self.inner.is_stopped())
            .finish()
    }
}

struct SegmentInner {
    recorder: Arc<Recorder>,
    sid: String,
    id: u64,
    dir: PathBuf,
    events: mpsc::UnboundedSender<SegmentEvent>,
    stopped: Arc<AtomicBool>,
    stopped_at: Mutex<Option<i64>>,
    state: Mutex<State>,
    finished: tokio::sync::Mutex<Option<Vec<RecordedFile>>>,
    generations: AtomicU64,
}

#[derive(Default)]
struct State {
    /// The current publisher of each participant.
    publishers: HashMap<String, Publisher>,
    /// Every writer the segment ever had, for `stop` and `finish`.
    writers: Vec<Arc<Mutex<TrackWriter>>>,
    /// File names taken in this segment.
    names: HashSet<String>,
    /// Publications per participant (names the files of the second one on).
    publications: HashMap<String, u32>,
    /// Candidates that came before their participant's offer.
    early: HashMap<String, Vec<RTCIceCandidateInit>>,
}

/// One publication: a participant's peer connection in this segment, or a
/// tap on the media the server already receives from them (a forwarded
/// session: no connection of its own).
struct Publisher {
    generation: u64,
    /// 1 for a participant's first publication in the segment, 2, …
    number: u32,
    pc: Option<Arc<dyn PeerConnection>>,
    remote_set: bool,
    held: Vec<RTCIceCandidateInit>,
    writers: Vec<Arc<Mutex<TrackWriter>>>,
    tracker: TaskTracker,
    cancel: CancellationToken,
}

/// What a track task gets when its writer is registered.
struct TrackHandle {
    writer: Arc<Mutex<TrackWriter>>,
    events: mpsc::UnboundedSender<SegmentEvent>,
    keyframe_interval: Duration,
}

impl Segment {
    /// A segment over `dir`, which the recorder has just created.
    pub(super) fn open(
        recorder: Arc<Recorder>,
        sid: &str,
        segment: u64,
        dir: PathBuf,
        events: mpsc::UnboundedSender<SegmentEvent>,
    ) -> Segment {
        Segment {
            inner: Arc::new(SegmentInner {
                recorder,
                sid: sid.to_owned(),
                id: segment,
                dir,
                events,
                stopped: Arc::new(AtomicBool::new(false)),
                stopped_at: Mutex::new(None),
                state: Mutex::new(State::default()),
                finished: tokio::sync::Mutex::new(None),
                generations: AtomicU64::new(1),
            }),
        }
    }
}

impl Segment {
    /// The segment number.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The segment's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Takes participant `pid`'s offer (`{"type":"offer","sdp":…}`) and
    /// returns the answer, `{"type":"answer","sdp":…}`, with the server's
    /// ICE candidates already in it (gathering is awaited, at most 2 s): the
    /// server never trickles. The connection receives only (one audio, one
    /// video transceiver), Opus and VP8 only. A second offer from the same
    /// participant replaces the first connection; the first one's files are
    /// finalised and kept, the new ones are named with a counter
    /// (`<pid>-audio-2.ogg`). Refused once [`Segment::stop`] was called.
    pub async fn publish(&self, pid: &str, offer: &Value) -> Result<Value, RecorderError> {
        let inner = &self.inner;
        inner.check_open()?;
        check_id(pid)?;
        let offer = parse_offer(offer)?;
        let camera_streams = super::camera_streams(&offer.sdp);
        let generation = inner.generations.fetch_add(1, Ordering::SeqCst);
        let (gathered_tx, gathered_rx) = watch::channel(false);
        let tracker = TaskTracker::new();
        let cancel = CancellationToken::new();
        let handler = Arc::new(peer::Handler {
            segment: Arc::downgrade(inner),
            participant: pid.to_owned(),
            generation,
            camera_streams,
            gathered: gathered_tx,
            tracker: tracker.clone(),
            cancel: cancel.clone(),
        });
        let pc = peer::build(inner.recorder.udp_ip, handler)
            .await
            .map_err(RecorderError::WebRtc)?;

        // Registered before negotiating, so that tracks and candidates find
        // it; the previous publication of this participant ends.
        let replaced = {
            let mut st = lock(&inner.state);
            if inner.is_stopped() {
                None
            } else {
                let number = {
                    let n = st.publications.entry(pid.to_owned()).or_insert(0);
                    *n += 1;
                    *n
                };
                let held = st.early.remove(pid).unwrap_or_default();
                let publisher = Publisher {
                    generation,
                    number,
                    pc: Some(Arc::clone(&pc)),
                    remote_set: false,
                    held,
                    writers: Vec::new(),
                    tracker,
                    cancel,
                };
                Some(st.publishers.insert(pid.to_owned(), publisher))
            }
        };
        let Some(replaced) = replaced else {
            close_quietly(&pc).await;
            return Err(RecorderError::Stopped { segment: inner.id });
        };
        if let Some(old) = replaced {
            info!(
                participant = pid,
                "a new recorder offer replaces the previous connection"
            );
            tokio::spawn(retire(old, true));
        }

        match inner
            .negotiate(pid, generation, &pc, offer, gathered_rx)
            .await
        {
            Ok(answer) if !inner.is_stopped() => {
                debug!(
                    participant = pid,
                    segment = inner.id,
                    "recorder answer sent"
                );
                Ok(answer)
            }
            outcome => {
                // Failed, or stopped meanwhile: this publication goes.
                let removed = inner.take_publisher(pid, generation);
                match removed {
                    Some(p) => retire(p, true).await,
                    None => close_quietly(&pc).await,
                }
                match outcome {
                    Err(e) => Err(e),
                    Ok(_) => Err(RecorderError::Stopped { segment: inner.id }),
                }
            }
        }
    }

    /// A publication of `pid` fed by the server's forwarding, which
    /// already receives their media: the packets given to its tracks
    /// ([`Tap::track`]) are written like a connection's, under the same
    /// stop. Replaces `pid`'s previous publication in the segment (its files
    /// finalised and kept, as for a new offer). Refused once
    /// [`Segment::stop`] was called.
    pub fn tap(&self, pid: &str) -> Result<Tap, RecorderError> {
        let inner = &self.inner;
        inner.check_open()?;
        check_id(pid)?;
        let generation = inner.generations.fetch_add(1, Ordering::SeqCst);
        let tracker = TaskTracker::new();
        let cancel = CancellationToken::new();
        let replaced = {
            let mut st = lock(&inner.state);
            if inner.is_stopped() {
                return Err(RecorderError::Stopped { segment: inner.id });
            }
            let number = {
                let n = st.publications.entry(pid.to_owned()).or_insert(0);
                *n += 1;
                *n
            };
            st.early.remove(pid);
            let publisher = Publisher {
                generation,
                number,
                pc: None,
                remote_set: true,
                held: Vec::new(),
                writers: Vec::new(),
                tracker: tracker.clone(),
                cancel: cancel.clone(),
            };
            st.publishers.insert(pid.to_owned(), publisher)
        };
        if let Some(old) = replaced {
            info!(
                participant = pid,
                "the forwarding's tap replaces the previous recorder publication"
            );
            tokio::spawn(retire(old, true));
        }
        Ok(Tap::new(
            Arc::downgrade(inner),
            inner.id,
            pid.to_owned(),
            generation,
            tracker,
            cancel,
        ))
    }

    /// A trickled ICE candidate from `pid` (browser `RTCIceCandidateInit`
    /// JSON, `{candidate, sdpMid, sdpMLineIndex, usernameFragment}`). Held
    /// back until the offer is applied (also when it comes before the
    /// offer). An empty or null candidate (end of candidates) is accepted
    /// and ignored, and so is everything after [`Segment::stop`].
    pub async fn add_candidate(&self, pid: &str, candidate: &Value) -> Result<(), RecorderError> {
        let inner = &self.inner;
        if inner.is_stopped() {
            return Ok(());
        }
        check_id(pid)?;
        let Some(init) = parse_candidate(candidate)? else {
            return Ok(());
        };
        let pc = {
            let mut st = lock(&inner.state);
            let st = &mut *st;
            match st.publishers.get_mut(pid) {
                // A tap takes no candidates: nothing to connect.
                Some(p) if p.pc.is_none() => return Ok(()),
                Some(p) if p.remote_set => match &p.pc {
                    Some(pc) => Arc::clone(pc),
                    None => return Ok(()),
                },
                Some(p) => {
                    if p.held.len() >= MAX_HELD_CANDIDATES {
                        return Err(RecorderError::BadCandidate(
                            "too many candidates before the offer was applied".to_owned(),
                        ));
                    }
                    p.held.push(init);
                    return Ok(());
                }
                None => {
                    let early = st.early.entry(pid.to_owned()).or_default();
                    if early.len() >= MAX_HELD_CANDIDATES {
                        return Err(RecorderError::UnknownPublisher(pid.to_owned()));
                    }
                    early.push(init);
                    return Ok(());
                }
            }
        };
        pc.add_ice_candidate(init)
            .await
            .map_err(|e| RecorderError::BadCandidate(e.to_string()))
    }

    /// Stops accepting media now, synchronously: when this returns, no
    /// further byte is appended to any file of the segment, and later
    /// [`Segment::publish`] calls are refused. Idempotent; the first call's
    /// instant is kept ([`Segment::stopped_at_ms`]). Connections stay open
    /// until [`Segment::finish`].
    pub fn stop(&self) {
        let inner = &self.inner;
        inner.stopped.store(true, Ordering::SeqCst);
        let writers = lock(&inner.state).writers.clone();
        for w in &writers {
            // Waits for an append in flight; none can start after this.
            lock(w).close();
        }
        let mut at = lock(&inner.stopped_at);
        if at.is_none() {
            let now = now_ms();
            *at = Some(now);
            info!(sid = %inner.sid, segment = inner.id, "recording segment stopped");
        }
    }

    /// True once [`Segment::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.is_stopped()
    }

    /// When the first [`Segment::stop`] completed (UTC ms): every packet
    /// written was written before.
    pub fn stopped_at_ms(&self) -> Option<i64> {
        *lock(&self.inner.stopped_at)
    }

    /// Participant `pid` left: their connection closes and their files are
    /// finalised; the segment goes on for the others.
    pub async fn unpublish(&self, pid: &str) {
        let inner = &self.inner;
        let removed = {
            let mut st = lock(&inner.state);
            st.early.remove(pid);
            st.publishers.remove(pid)
        };
        if let Some(p) = removed {
            debug!(
                participant = pid,
                segment = inner.id,
                "recorder publication ended"
            );
            retire(p, true).await;
        }
    }

    /// Ends the segment: [`Segment::stop`] if not done, closes every
    /// connection, finalises every file (IVF frame count, Ogg end of
    /// stream), fsyncs files and directories, then hashes them. Returns
    /// every file, sorted by name; a track that never delivered a whole
    /// frame or page has no file. An empty segment directory is removed.
    /// Later calls return the same list.
    pub async fn finish(&self) -> Vec<RecordedFile> {
        let inner = &self.inner;
        let mut done = inner.finished.lock().await;
        if let Some(files) = done.as_ref() {
            return files.clone();
        }
        self.stop();
        let (publishers, writers) = {
            let mut st = lock(&inner.state);
            st.early.clear();
            let publishers: Vec<Publisher> = st.publishers.drain().map(|(_, p)| p).collect();
            (publishers, st.writers.clone())
        };
        futures_util::future::join_all(publishers.into_iter().map(|p| retire(p, false))).await;
        let root = inner.recorder.dir.clone();
        let dir = inner.dir.clone();
        let files = tokio::task::spawn_blocking(move || finalise_all(&writers, &dir, &root)).await;
        let files = files.unwrap_or_else(|e| {
            error!(
                segment = inner.id,
                "finishing the recording segment failed: {e}"
            );
            Vec::new()
        });
        info!(sid = %inner.sid, segment = inner.id, files = files.len(), "recording segment finished");
        inner
            .recorder
            .segments_closed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *done = Some(files.clone());
        files
    }
}

impl SegmentInner {
    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn check_open(&self) -> Result<(), RecorderError> {
        if self.is_stopped() {
            Err(RecorderError::Stopped { segment: self.id })
        } else {
            Ok(())
        }
    }

    /// Removes `pid`'s publisher if it is still this generation.
    fn take_publisher(&self, pid: &str, generation: u64) -> Option<Publisher> {
        let mut st = lock(&self.state);
        match st.publishers.get(pid) {
            Some(p) if p.generation == generation => st.publishers.remove(pid),
            _ => None,
        }
    }

    async fn negotiate(
        &self,
        pid: &str,
        generation: u64,
        pc: &Arc<dyn PeerConnection>,
        offer: RTCSessionDescription,
        mut gathered: watch::Receiver<bool>,
    ) -> Result<Value, RecorderError> {
        peer::add_receivers(pc)
            .await
            .map_err(RecorderError::WebRtc)?;
        pc.set_remote_description(offer)
            .await
            .map_err(|e| RecorderError::BadOffer(e.to_string()))?;
        // Candidates that arrived meanwhile now apply.
        let held = {
            let mut st = lock(&self.state);
            match st.publishers.get_mut(pid) {
                Some(p) if p.generation == generation => {
                    p.remote_set = true;
                    std::mem::take(&mut p.held)
                }
                _ => Vec::new(),
            }
        };
        for candidate in held {
            if let Err(e) = pc.add_ice_candidate(candidate).await {
                debug!(participant = pid, "a held-back candidate was refused: {e}");
            }
        }
        let answer = pc
            .create_answer(None)
            .await
            .map_err(|e| RecorderError::BadOffer(format!("no answer is possible: {e}")))?;
        pc.set_local_description(answer)
            .await
            .map_err(|e| RecorderError::WebRtc(format!("set the answer: {e}")))?;
        let complete = tokio::time::timeout(GATHER_WAIT, gathered.wait_for(|done| *done))
            .await
            .is_ok_and(|r| r.is_ok());
        if !complete {
            warn!(
                participant = pid,
                "ICE gathering not complete after {GATHER_WAIT:?}; answering with what there is"
            );
        }
        let local = pc
            .local_description()
            .await
            .ok_or_else(|| RecorderError::WebRtc("no local description".to_owned()))?;
        serde_json::to_value(&local).map_err(|e| RecorderError::WebRtc(e.to_string()))
    }

    /// Registers a writer for a new track of `pid`'s publication
    /// `generation`; `None` if that publication is gone, the segment is
    /// stopped, or it already has a track of this kind.
    fn register_track(
        &self,
        pid: &str,
        generation: u64,
        codec: Codec,
        screen: bool,
    ) -> Option<TrackHandle> {
        let mut st = lock(&self.state);
        if self.is_stopped() {
            return None;
        }
        let State {
            publishers,
            writers,
            names,
            ..
        } = &mut *st;
        let publisher = publishers
            .get_mut(pid)
            .filter(|p| p.generation == generation)?;
        if publisher
            .writers
            .iter()
            .any(|w| lock(w).source() == (codec, screen))
        {
            info!(
                participant = pid,
                track = codec.track(),
                screen,
                "a second track of the same kind: ignored"
            );
            return None;
        }
        let track = if screen {
            format!("screen-{}", codec.track())
        } else {
            codec.track().to_owned()
        };
        let base = if publisher.number == 1 {
            format!("{pid}-{track}")
        } else {
            format!("{pid}-{track}-{}", publisher.number)
        };
        let mut file = format!("{base}.{}", codec.extension());
        let mut extra = 1;
        while names.contains(&file) {
            extra += 1;
            file = format!("{base}-x{extra}.{}", codec.extension());
        }
        names.insert(file.clone());
        let name = format!("{}/{}/{file}", self.sid, self.id);
        let mut writer = TrackWriter::new(
            pid.to_owned(),
            codec,
            name,
            self.dir.join(&file),
            Arc::clone(&self.stopped),
            Arc::clone(&self.recorder.quota),
        );
        if screen {
            writer = writer.of_screen();
        }
        let writer = Arc::new(Mutex::new(writer));
        publisher.writers.push(Arc::clone(&writer));
        writers.push(Arc::clone(&writer));
        Some(TrackHandle {
            writer,
            events: self.events.clone(),
            keyframe_interval: self.recorder.keyframe_interval,
        })
    }

    /// `pid`'s connection failed or closed on its own: its files are
    /// finalised and the owner told, unless the segment is stopped or the
    /// publication was already replaced or ended.
    async fn publisher_ended(&self, pid: &str, generation: u64) {
        let Some(p) = self.take_publisher(pid, generation) else {
            return;
        };
        let stopped = self.is_stopped();
        warn!(
            participant = pid,
            segment = self.id,
            "a recorder connection failed"
        );
        retire(p, true).await;
        if !stopped {
            let _ = self.events.send(SegmentEvent::PublisherFailed {
                participant: pid.to_owned(),
            });
        }
    }
}

impl Drop for SegmentInner {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        for p in st.publishers.values() {
            p.cancel.cancel();
        }
        let finished = self.finished.get_mut().is_some();
        if !finished && !st.writers.is_empty() {
            warn!(sid = %self.sid, segment = self.id, "a recording segment was dropped without finish(): its files are not finalised");
        }
    }
}

/// Ends a publication: its tasks stop, its connection closes (bounded);
/// with `finalise`, its files are finalised too.
async fn retire(p: Publisher, finalise: bool) {
    p.cancel.cancel();
    if let Some(pc) = &p.pc {
        close_quietly(pc).await;
    }
    p.tracker.close();
    if tokio::time::timeout(CLOSE_WAIT, p.tracker.wait())
        .await
        .is_err()
    {
        warn!("recorder track tasks did not end within {CLOSE_WAIT:?}");
    }
    if finalise && !p.writers.is_empty() {
        let writers = p.writers;
        let done = tokio::task::spawn_blocking(move || {
            for w in &writers {
                let mut w = lock(w);
                if let Err(e) = w.finalise() {
                    warn!(name = w.name(), "a recording could not be finalised: {e}");
                }
            }
        })
        .await;
        if let Err(e) = done {
            warn!("finalising recordings: {e}");
        }
    }
}

async fn close_quietly(pc: &Arc<dyn PeerConnection>) {
    match tokio::time::timeout(CLOSE_WAIT, pc.close()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => debug!("closing a recorder connection: {e}"),
        Err(_) => warn!("a recorder connection did not close within {CLOSE_WAIT:?}"),
    }
}

/// Finalises every writer, then fsyncs and hashes the files (blocking).
fn finalise_all(writers: &[Arc<Mutex<TrackWriter>>], dir: &Path, root: &Path) -> Vec<RecordedFile> {
    let mut files = Vec::new();
    for w in writers {
        let facts = {
            let mut w = lock(w);
            if let Err(e) = w.finalise() {
                warn!(name = w.name(), "a recording could not be finalised: {e}");
            }
            w.facts()
        };
        let Some(f) = facts else { continue };
        match hash_file(&f.path) {
            Ok((bytes, sha256)) => files.push(RecordedFile {
                participant: f.participant,
                track: f.track,
                name: f.name,
                path: f.path,
                bytes,
                sha256,
                packets: f.packets,
                origin_ms: f.origin_ms,
                last_packet_ms: f.last_packet_ms,
            }),
            Err(e) => error!(
                name = f.name,
                "a recording cannot be read back to hash it: {e}"
            ),
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    if files.is_empty() {
        // Nothing recorded: no empty directory left behind.
        let _ = std::fs::remove_dir(dir);
    } else if let Err(e) = storage::sync_dir(dir) {
        warn!(dir = %dir.display(), "cannot sync the segment directory: {e}");
    }
    for d in [dir.parent(), Some(root)].into_iter().flatten() {
        if let Err(e) = storage::sync_dir(d) {
            warn!(dir = %d.display(), "cannot sync a recordings directory: {e}");
        }
    }
    files
}

/// Size and SHA-256 (hex) of a file's bytes.
fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let digest = hasher.finalize();
    let hex = digest.iter().fold(String::with_capacity(64), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    });
    Ok((total, hex))
}

pub(super) fn parse_offer(offer: &Value) -> Result<RTCSessionDescription, RecorderError> {
    let bad = |why: &str| RecorderError::BadOffer(why.to_owned());
    let object = offer
        .as_object()
        .ok_or_else(|| bad("expected a JSON object {\"type\":\"offer\",\"sdp\":…}"))?;
    if object.get("type").and_then(Value::as_str) != Some("offer") {
        return Err(bad("\"type\" must be \"offer\""));
    }
    let sdp = object
        .get("sdp")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("\"sdp\" must be a string"))?;
    if sdp.len() > MAX_SDP_BYTES {
        return Err(bad("the SDP is too large"));
    }
    if !sdp.starts_with("v=0") {
        return Err(bad("the SDP does not start with v=0"));
    }
    RTCSessionDescription::offer(sdp.to_owned())
        .map_err(|e| RecorderError::BadOffer(format!("the SDP does not parse: {e}")))
}

/// The candidate, or `None` for an end-of-candidates marker. Accepts the
/// init itself or `{"candidate": init}`.
pub(crate) fn parse_candidate(value: &Value) -> Result<Option<RTCIceCandidateInit>, RecorderError> {
    let init = match value.get("candidate") {
        Some(inner @ Value::Object(_)) => inner,
        Some(Value::Null) | None if !value.is_object() => {
            return Err(RecorderError::BadCandidate(
                "expected a JSON object {candidate, sdpMid, sdpMLineIndex}".to_owned(),
            ));
        }
        Some(Value::Null) => return Ok(None),
        _ => value,
    };
    match init.get("candidate") {
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::Null) => return Ok(None),
        Some(Value::String(_)) => {}
        _ => {
            return Err(RecorderError::BadCandidate(
                "\"candidate\" must be a string".to_owned(),
            ));
        }
    }
    serde_json::from_value(init.clone())
        .map(Some)
        .map_err(|e| RecorderError::BadCandidate(e.to_string()))
}
