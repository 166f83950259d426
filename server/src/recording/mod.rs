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

pub mod playable;
mod scan;
mod segment;
mod storage;
mod writer;

pub use segment::{Segment, Tap, TapTrack};
pub(crate) use segment::{add_receivers, build_peer, build_peer_with, parse_candidate};

use cadre_protocol::{ErrorCode, now_ms};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use storage::Quota;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// The media streams (`a=msid:<stream> …`) of an offer's first audio and
/// first video sections: the microphone's and the camera's. A page sends
/// them first (in one stream or two), and a shared screen and its sound
/// after them, in a stream of their own.
pub(crate) fn camera_streams(sdp: &str) -> Vec<String> {
    let mut streams = Vec::new();
    for kind in ["audio", "video"] {
        let Some(section) = sdp.split("\nm=").skip(1).find(|m| m.starts_with(kind)) else {
            continue;
        };
        let stream = section.lines().find_map(|line| {
            let stream = line
                .trim_end()
                .strip_prefix("a=msid:")?
                .split_whitespace()
                .next()?;
            (stream != "-").then(|| stream.to_owned())
        });
        streams.extend(stream);
    }
    streams
}

/// Whether a track of media stream `stream` is a shared screen: a stream
/// other than the microphone's and the camera's (`camera_streams`).
pub(crate) fn is_screen(cameras: &[String], stream: &str) -> bool {
    !cameras.is_empty() && !stream.is_empty() && !cameras.iter().any(|c| c == stream)
}

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
    jobs: Arc<playable::Jobs>,
    /// Segments opened and finished, for `/metrics`.
    segments_opened: AtomicU64,
    pub(crate) segments_closed: AtomicU64,
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
        let quota = Arc::new(Quota::new(config.quota_bytes, used));
        Ok(Arc::new(Recorder {
            jobs: Arc::new(playable::Jobs::new(config.dir.clone(), Arc::clone(&quota))),
            dir: config.dir,
            udp_ip: config.udp_ip,
            keyframe_interval: config.keyframe_interval,
            quota,
            segments_opened: AtomicU64::new(0),
            segments_closed: AtomicU64::new(0),
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

    /// The recorder's figures for `/metrics`.
    pub fn metrics(&self) -> crate::metrics::RecordingFigures {
        crate::metrics::RecordingFigures {
            segments_opened: self.segments_opened.load(Ordering::Relaxed),
            segments_closed: self.segments_closed.load(Ordering::Relaxed),
            bytes_written: self.quota.written(),
        }
    }

    /// The background jobs that make closed segments playable.
    pub fn jobs(&self) -> &Arc<playable::Jobs> {
        &self.jobs
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
        self.segments_opened.fetch_add(1, Ordering::Relaxed);
        Ok(Segment::open(Arc::clone(self), sid, segment, dir, events))
    }
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
    use super::segment::{parse_candidate, parse_offer};
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
