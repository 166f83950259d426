//! The server-side recorder: while a recording segment is open, each
//! participant who agreed publishes camera and microphone to the server on a
//! peer connection of their own; Opus goes to Ogg, VP8 to IVF, one file per
//! track per participant per segment:
//!
//! ```text
//! <dir>/<sid>/<segment>/<pid>-audio.ogg
//! <dir>/<sid>/<segment>/<pid>-video.ivf
//! <dir>/<sid>/<segment>/<pid>-audio-2.ogg   (the same person publishing again)
//! ```
//!
//! Whether a segment is open is decided elsewhere (the session actor); this
//! module only records, and stops the instant it is told to:
//!
//! - [`Recorder`]: one per server: the directory, the byte quota, the UDP
//!   address the peer connections bind.
//! - [`Segment`]: one open segment. [`Segment::publish`] answers a
//!   publisher's offer (non-trickle answer, trickled candidates accepted);
//!   [`Segment::stop`] stops writing synchronously; [`Segment::finish`]
//!   closes the connections, finalises, fsyncs and hashes the files.
//! - [`SegmentEvent`]: what the actor is told while a segment runs (storage
//!   full, storage error, a publisher's connection failed).
//!
//! Guarantees, and how they are kept:
//! - **Nothing after stop.** Every chunk (a whole IVF frame or Ogg page) is
//!   appended under its writer's lock after checking the segment's stop flag;
//!   `stop()` sets the flag then takes every writer's lock once, so when it
//!   returns no append is in flight and none can start. Finalisation later
//!   only patches bytes in place (IVF frame count, Ogg end-of-stream flag):
//!   file lengths never change after `stop()`.
//! - **Valid files.** Chunks are all-or-nothing (see `storage`): a quota
//!   refusal or a full disk leaves whole frames and pages. Packets are
//!   screened so that a reordering or hostile sender cannot panic the
//!   writers (see `writer`).
//! - **No empty files.** A file is created by its first complete chunk.
//! - **Never overwrite.** A segment directory that exists is refused, and
//!   files are created with `create_new` (mode 0600; directories 0700).

mod peer;
mod storage;
mod writer;

use cadre_protocol::{ErrorCode, now_ms};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{self, Read as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use storage::Quota;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCSessionDescription};
use webrtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use writer::{Codec, TrackWriter};

/// How long [`Segment::publish`] waits for the server's ICE candidates
/// before answering with those it has.
const GATHER_WAIT: Duration = Duration::from_secs(2);

/// Bound on closing one peer connection, and on its tasks ending.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Largest SDP offer accepted.
const MAX_SDP_BYTES: usize = 128 * 1024;

/// Candidates held back per participant before their description is set.
const MAX_HELD_CANDIDATES: usize = 64;

/// Longest participant or session id accepted (they name files).
const MAX_ID_LEN: usize = 100;

/// The recorder's settings.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// Directory of all recordings (e.g. `<data_dir>/recordings`), created
    /// (mode 0700) if missing.
    pub dir: PathBuf,
    /// IP the recorder's peer connections bind, port 0 each: one address
    /// publishers can reach (127.0.0.1 in tests). A wildcard would be
    /// expanded by webrtc-rs to every interface except loopback.
    pub udp_ip: IpAddr,
    /// Byte budget of the whole recordings directory; reaching it is
    /// "storage full". `None`: only the disk's own limit.
    pub quota_bytes: Option<u64>,
    /// Keyframe request (PLI) period per video track; one is also sent when
    /// the track starts.
    pub keyframe_interval: Duration,
}

/// The recorder: one per server, shared.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    udp_ip: IpAddr,
    keyframe_interval: Duration,
    quota: Arc<Quota>,
}

/// A recorded file, as reported by [`Segment::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFile {
    /// Whose track it is.
    pub participant: String,
    /// `"audio"` (Opus in Ogg) or `"video"` (VP8 in IVF).
    pub track: &'static str,
    /// Path relative to the recorder's directory, `/`-separated:
    /// `<sid>/<segment>/<pid>-video.ivf`.
    pub name: String,
    /// Absolute path.
    pub path: PathBuf,
    /// Size on disk, final.
    pub bytes: u64,
    /// SHA-256 of the final on-disk bytes, lowercase hex.
    pub sha256: String,
    /// RTP packets whose payload is in the file.
    pub packets: u64,
    /// Server time (UTC ms) the packet at the file's time 0 arrived: the
    /// anchor that places the file's stamps (RTP times from the track's
    /// first packet) on the ledger's clock. None for a file found on disk
    /// after a crash.
    pub origin_ms: Option<i64>,
    /// Server time (UTC ms) the last packet was written.
    pub last_packet_ms: Option<i64>,
}

/// What a running segment tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentEvent {
    /// A file could not grow: the recorder's quota or the disk is full. That
    /// track stopped writing; its file is finalised and valid.
    StorageFull {
        /// Whose track.
        participant: String,
        /// What happened.
        message: String,
    },
    /// A file could not be written for another reason (permissions, I/O).
    StorageError {
        /// Whose track.
        participant: String,
        /// What happened.
        message: String,
    },
    /// A publisher's connection failed or closed without being asked to
    /// (network loss, tab closed). Their files are finalised; the segment
    /// goes on for the others.
    PublisherFailed {
        /// Who.
        participant: String,
    },
}

/// Why the recorder refused something.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The segment was stopped: nothing more is recorded in it.
    #[error("recording segment {segment} is stopped: nothing more is recorded in it")]
    Stopped {
        /// The segment.
        segment: u64,
    },
    /// The segment's directory already exists; evidence is never
    /// overwritten.
    #[error(
        "recording segment {segment} of session {sid} already exists on disk and is never overwritten"
    )]
    SegmentExists {
        /// The session.
        sid: String,
        /// The segment.
        segment: u64,
    },
    /// A session or participant id that cannot name a file.
    #[error("invalid id {0:?}: expected 1 to 100 characters among A-Z a-z 0-9 _ -")]
    BadId(String),
    /// The offer is not a JSON `{"type":"offer","sdp":…}` with a usable SDP.
    #[error("bad recorder offer: {0}")]
    BadOffer(String),
    /// The ICE candidate is not a usable `RTCIceCandidateInit`.
    #[error("bad ICE candidate: {0}")]
    BadCandidate(String),
    /// Candidates from someone who never sent an offer in this segment.
    #[error("no recorder offer from {0} in this segment")]
    UnknownPublisher(String),
    /// The quota or the disk is full.
    #[error("recording storage is full: {0}")]
    StorageFull(String),
    /// A file system error.
    #[error("recording storage: {0}")]
    Io(#[from] io::Error),
    /// WebRTC failed on the server's side.
    #[error("recorder connection: {0}")]
    WebRtc(String),
}

impl RecorderError {
    /// The protocol error code to report to a client.
    pub fn code(&self) -> ErrorCode {
        match self {
            RecorderError::Stopped { .. } => ErrorCode::NotOpen,
            RecorderError::SegmentExists { .. } => ErrorCode::Conflict,
            RecorderError::BadId(_)
            | RecorderError::BadOffer(_)
            | RecorderError::BadCandidate(_)
            | RecorderError::UnknownPublisher(_) => ErrorCode::InvalidInput,
            RecorderError::StorageFull(_) | RecorderError::Io(_) | RecorderError::WebRtc(_) => {
                ErrorCode::Internal
            }
        }
    }

    /// True when the cause is a full quota or disk.
    pub fn is_storage_full(&self) -> bool {
        match self {
            RecorderError::StorageFull(_) => true,
            RecorderError::Io(e) => storage::is_storage_full(e),
            _ => false,
        }
    }
}

impl Recorder {
    /// Opens the recorder over `config.dir` (created, mode 0700, if
    /// missing); the bytes already there count against the quota.
    pub fn new(config: RecorderConfig) -> io::Result<Arc<Recorder>> {
        private_dir_builder(true).create(&config.dir)?;
        let used = storage::bytes_under(&config.dir)?;
        if let Some(limit) = config.quota_bytes
            && used >= limit
        {
            warn!(used, limit, "the recordings already fill their quota");
        }
        Ok(Arc::new(Recorder {
            dir: config.dir,
            udp_ip: config.udp_ip,
            keyframe_interval: config.keyframe_interval,
            quota: Arc::new(Quota::new(config.quota_bytes, used)),
        }))
    }

    /// The recordings directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes counted against the quota: what was there at start, plus what
    /// was written since, minus what was released.
    pub fn used_bytes(&self) -> u64 {
        self.quota.used()
    }

    /// Gives back `n` bytes of the quota after files were deleted.
    pub fn release_bytes(&self, n: u64) {
        self.quota.release(n);
    }

    /// Opens segment `segment` of session `sid`: creates
    /// `<dir>/<sid>/<segment>/`, refusing if it exists (evidence is never
    /// overwritten) or if the quota is already used up. `events` receives
    /// the segment's [`SegmentEvent`]s.
    pub fn open_segment(
        self: &Arc<Self>,
        sid: &str,
        segment: u64,
        events: mpsc::UnboundedSender<SegmentEvent>,
    ) -> Result<Segment, RecorderError> {
        check_id(sid)?;
        if self.quota.exhausted() {
            return Err(RecorderError::StorageFull(format!(
                "the recordings use {} bytes, their whole quota",
                self.quota.used()
            )));
        }
        let session_dir = self.dir.join(sid);
        private_dir_builder(true).create(&session_dir)?;
        let dir = session_dir.join(segment.to_string());
        match private_dir_builder(false).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(RecorderError::SegmentExists {
                    sid: sid.to_owned(),
                    segment,
                });
            }
            Err(e) => return Err(RecorderError::Io(e)),
        }
        info!(sid, segment, "recording segment opened");
        Ok(Segment {
            inner: Arc::new(SegmentInner {
                recorder: Arc::clone(self),
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
        })
    }
}

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

/// One publication: a participant's peer connection in this segment.
struct Publisher {
    generation: u64,
    /// 1 for a participant's first publication in the segment, 2, …
    number: u32,
    pc: Arc<dyn PeerConnection>,
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
        let generation = inner.generations.fetch_add(1, Ordering::SeqCst);
        let (gathered_tx, gathered_rx) = watch::channel(false);
        let tracker = TaskTracker::new();
        let cancel = CancellationToken::new();
        let handler = Arc::new(peer::Handler {
            segment: Arc::downgrade(inner),
            participant: pid.to_owned(),
            generation,
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
                    pc: Arc::clone(&pc),
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
                Some(p) if p.remote_set => Arc::clone(&p.pc),
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
        use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
        // Receive-only transceivers first, so the offer's sections map onto
        // them.
        for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
            pc.add_transceiver_from_kind(
                kind,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| RecorderError::WebRtc(format!("add a {kind} transceiver: {e}")))?;
        }
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
    fn register_track(&self, pid: &str, generation: u64, codec: Codec) -> Option<TrackHandle> {
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
        if publisher.writers.iter().any(|w| lock(w).codec() == codec) {
            info!(
                participant = pid,
                track = codec.track(),
                "a second track of the same kind: ignored"
            );
            return None;
        }
        let base = if publisher.number == 1 {
            format!("{pid}-{}", codec.track())
        } else {
            format!("{pid}-{}-{}", codec.track(), publisher.number)
        };
        let mut file = format!("{base}.{}", codec.extension());
        let mut extra = 1;
        while names.contains(&file) {
            extra += 1;
            file = format!("{base}-x{extra}.{}", codec.extension());
        }
        names.insert(file.clone());
        let name = format!("{}/{}/{file}", self.sid, self.id);
        let writer = Arc::new(Mutex::new(TrackWriter::new(
            pid.to_owned(),
            codec,
            name,
            self.dir.join(&file),
            Arc::clone(&self.stopped),
            Arc::clone(&self.recorder.quota),
        )));
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
    close_quietly(&p.pc).await;
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

fn parse_offer(offer: &Value) -> Result<RTCSessionDescription, RecorderError> {
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
fn parse_candidate(value: &Value) -> Result<Option<RTCIceCandidateInit>, RecorderError> {
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

/// Ids name directories and files: a strict alphabet, no dots, no slashes.
fn check_id(id: &str) -> Result<(), RecorderError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(RecorderError::BadId(id.chars().take(MAX_ID_LEN).collect()))
    }
}

fn private_dir_builder(recursive: bool) -> std::fs::DirBuilder {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(recursive);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b
}

/// Locks a mutex; a poisoned one (a panic elsewhere) is used as is: the
/// state it guards stays consistent at every await-free step.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_escape_the_directory_are_refused() {
        for bad in ["", "..", "a/b", "a.b", "p_x/../y", &"a".repeat(101), "é"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        for good in ["p_AbC-12_x", "s_0", "1"] {
            assert!(check_id(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn offers_that_are_not_sdp_offers_are_refused_clearly() {
        for (offer, says) in [
            (serde_json::json!("v=0"), "JSON object"),
            (
                serde_json::json!({"type": "answer", "sdp": "v=0"}),
                "\"offer\"",
            ),
            (serde_json::json!({"type": "offer"}), "string"),
            (
                serde_json::json!({"type": "offer", "sdp": "not an sdp"}),
                "v=0",
            ),
        ] {
            let e = parse_offer(&offer).expect_err("refused");
            assert!(e.to_string().contains(says), "{e} should mention {says}");
            assert_eq!(e.code(), ErrorCode::InvalidInput);
        }
    }

    #[test]
    fn candidates_in_browser_shape_and_end_markers() {
        let c = serde_json::json!({
            "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host",
            "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"
        });
        let init = parse_candidate(&c).expect("ok").expect("a candidate");
        assert_eq!(init.sdp_mid.as_deref(), Some("0"));
        let wrapped = serde_json::json!({ "candidate": c });
        assert!(parse_candidate(&wrapped).expect("ok").is_some());
        assert!(
            parse_candidate(&serde_json::json!({"candidate": ""}))
                .expect("ok")
                .is_none()
        );
        assert!(
            parse_candidate(&serde_json::json!({"candidate": null}))
                .expect("ok")
                .is_none()
        );
        assert!(parse_candidate(&serde_json::json!({"candidate": 5})).is_err());
        assert!(parse_candidate(&serde_json::json!(5)).is_err());
    }
}
