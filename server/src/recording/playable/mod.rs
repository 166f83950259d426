//! Recordings people can watch, made after a segment closed: a WebM per
//! person, source and publication (the recorded VP8 and Opus muxed
//! in-process, nothing re-encoded), then a composed view of the whole
//! segment (ffmpeg). Each file is hashed into the ledger
//! (`recording_derived`) before it is listed.
//!
//! The work is a background queue, one job at a time per server: a job is a
//! closed segment. The composed view runs under `nice`, with a time limit
//! proportional to the segment's length, killed by PID on timeout, on
//! shutdown, or when retention purges the segment meanwhile. Everything is
//! written under a temporary name and linked to its final name (never
//! replacing a file) once complete. A failure is logged and shown in the
//! recordings list; it never touches the raw files or the session.

mod compose;
mod mux;

use super::storage::{Quota, sync_dir};
use super::{RecordedFile, lock};
use crate::evidence::ledger::{Ledger, NewEvent};
use cadre_protocol::evidence::{ACTOR_SERVER, kind};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The composed view's file name in its segment's directory. Ids cannot
/// hold a dot, so no person's file can take this name.
pub const COMPOSED_NAME: &str = "segment.composed.webm";
/// The ledger's `kind` of a person's file and of the composed view.
pub const PERSON: &str = "person";
/// See [`PERSON`].
pub const COMPOSED: &str = "composed";

/// A raw file of a closed segment, as its `recording_stopped` entry records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Whose.
    pub participant: String,
    /// `audio`, `video`, `screen-audio`, `screen-video`…
    pub track: String,
    /// Relative to the recordings directory.
    pub name: String,
    /// SHA-256 the ledger holds.
    pub sha256: String,
    /// When its 0 arrived (UTC ms).
    pub origin_ms: Option<i64>,
}

impl From<&RecordedFile> for SourceFile {
    fn from(f: &RecordedFile) -> Self {
        SourceFile {
            participant: f.participant.clone(),
            track: f.track.to_owned(),
            name: f.name.clone(),
            sha256: f.sha256.clone(),
            origin_ms: f.origin_ms,
        }
    }
}

/// Where a segment's playable files stand, as the recordings list shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Waiting for its turn.
    Queued,
    /// Being made.
    Running,
    /// Done: what was made is in the ledger.
    Done,
    /// Done, but the composed view could not be made.
    ComposedFailed,
    /// Done, but the composed view took too long and was stopped.
    ComposedTimedOut,
    /// Done without a composed view: no ffmpeg on this server.
    FfmpegAbsent,
}

impl Progress {
    /// The word the recordings list uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Progress::Queued => "queued",
            Progress::Running => "running",
            Progress::Done => "ready",
            Progress::ComposedFailed => "failed",
            Progress::ComposedTimedOut => "timed_out",
            Progress::FfmpegAbsent => "ffmpeg_absent",
        }
    }
}

type Key = (String, u64);

struct Job {
    sid: String,
    segment: u64,
    closed_at: i64,
    files: Vec<SourceFile>,
    ledger: Ledger,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    running: Option<(Key, CancellationToken)>,
    progress: HashMap<Key, Progress>,
    /// Per segment, the playable files that could not be made (names).
    unavailable: HashMap<Key, Vec<String>>,
    /// Segments purged: a job queued late (its `recording_stopped` was
    /// written just before the purge read the log) is not started.
    forgotten: HashSet<Key>,
    worker: bool,
}

/// The background queue of a recorder.
pub struct Jobs {
    dir: PathBuf,
    quota: Arc<Quota>,
    ffmpeg: Mutex<PathBuf>,
    ceiling: Mutex<Duration>,
    state: Mutex<State>,
    wake: Notify,
    finished: Notify,
    shutdown: OnceLock<CancellationToken>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs").finish_non_exhaustive()
    }
}

impl Jobs {
    pub(crate) fn new(dir: PathBuf, quota: Arc<Quota>) -> Jobs {
        let ffmpeg = std::env::var_os("CADRE_FFMPEG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("ffmpeg"));
        Jobs {
            dir,
            quota,
            ffmpeg: Mutex::new(ffmpeg),
            ceiling: Mutex::new(compose::CEILING),
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            finished: Notify::new(),
            shutdown: OnceLock::new(),
        }
    }

    /// The ffmpeg program the composed views use (`ffmpeg` on the PATH, or
    /// `CADRE_FFMPEG`).
    pub fn set_ffmpeg(&self, program: impl Into<PathBuf>) {
        *lock(&self.ffmpeg) = program.into();
    }

    /// The longest a composed view may take, whatever the segment's length
    /// (3 h unless set): past it ffmpeg is killed and the view is
    /// `timed_out`.
    pub fn set_time_ceiling(&self, ceiling: Duration) {
        *lock(&self.ceiling) = ceiling;
    }

    /// Stops the running job (its ffmpeg killed) and every later one when
    /// `token` fires: the server is shutting down.
    pub fn stop_on(&self, token: CancellationToken) {
        let _ = self.shutdown.set(token);
    }

    /// Queues a closed segment whose `recording_stopped` entry is written.
    pub fn enqueue(
        self: &Arc<Self>,
        ledger: &Ledger,
        sid: &str,
        segment: u64,
        closed_at: i64,
        files: Vec<SourceFile>,
    ) {
        if files.is_empty() {
            return;
        }
        let start = {
            let mut s = lock(&self.state);
            let key = (sid.to_owned(), segment);
            if s.forgotten.contains(&key) {
                return;
            }
            s.progress.insert(key, Progress::Queued);
            s.queue.push_back(Job {
                sid: sid.to_owned(),
                segment,
                closed_at,
                files,
                ledger: ledger.clone(),
            });
            !std::mem::replace(&mut s.worker, true)
        };
        if start {
            let me = Arc::clone(self);
            tokio::spawn(async move { me.work().await });
        }
        self.wake.notify_one();
    }

    /// Where a segment's playable files stand, and which could not be
    /// made; `None` if this process never queued it.
    pub fn progress(&self, sid: &str, segment: u64) -> Option<(Progress, Vec<String>)> {
        let s = lock(&self.state);
        let key = (sid.to_owned(), segment);
        s.progress
            .get(&key)
            .map(|p| (*p, s.unavailable.get(&key).cloned().unwrap_or_default()))
    }

    /// Drops a segment's job: taken off the queue, or stopped (ffmpeg
    /// killed) and waited for. After it returns, no file of that segment is
    /// being made and no `recording_derived` entry of it will be written.
    pub async fn forget(&self, sid: &str, segment: u64) {
        let key = (sid.to_owned(), segment);
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            {
                let mut s = lock(&self.state);
                s.forgotten.insert(key.clone());
                s.queue.retain(|j| !(j.sid == sid && j.segment == segment));
                match &s.running {
                    Some((k, cancel)) if *k == key => cancel.cancel(),
                    _ => {
                        s.progress.remove(&key);
                        s.unavailable.remove(&key);
                        return;
                    }
                }
            }
            finished.await;
        }
    }

    /// Waits until no job is queued or running (tests, benchmarks).
    pub async fn idle(&self) {
        loop {
            let finished = self.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            {
                let s = lock(&self.state);
                if s.queue.is_empty() && s.running.is_none() {
                    return;
                }
            }
            finished.await;
        }
    }

    async fn work(self: Arc<Self>) {
        let shutdown = self.shutdown.get().cloned().unwrap_or_default();
        loop {
            let wake = self.wake.notified();
            let job = {
                let mut s = lock(&self.state);
                match s.queue.pop_front() {
                    Some(job) => {
                        let cancel = shutdown.child_token();
                        let key = (job.sid.clone(), job.segment);
                        s.progress.insert(key.clone(), Progress::Running);
                        s.running = Some((key, cancel.clone()));
                        Some((job, cancel))
                    }
                    None => None,
                }
            };
            let Some((job, cancel)) = job else {
                tokio::select! {
                    _ = wake => continue,
                    _ = shutdown.cancelled() => return,
                }
            };
            let key = (job.sid.clone(), job.segment);
            let (progress, unavailable) = self.run(&job, &cancel).await;
            {
                let mut s = lock(&self.state);
                s.running = None;
                if !cancel.is_cancelled() {
                    s.progress.insert(key.clone(), progress);
                    s.unavailable.insert(key, unavailable);
                }
            }
            self.finished.notify_waiters();
            if shutdown.is_cancelled() {
                return;
            }
        }
    }

    async fn run(&self, job: &Job, cancel: &CancellationToken) -> (Progress, Vec<String>) {
        let segment_dir = self.dir.join(&job.sid).join(job.segment.to_string());
        let groups = group(&job.files);
        let origin = job.files.iter().filter_map(|f| f.origin_ms).min();
        let mut inputs = Vec::new();
        let mut made = Vec::new();
        let mut unavailable = Vec::new();
        for (publication, g) in &groups {
            if cancel.is_cancelled() {
                return (Progress::Done, unavailable);
            }
            let name = publication.file_name();
            let dir = self.dir.clone();
            let out = segment_dir.join(&name);
            let g2 = g.clone();
            let quota = Arc::clone(&self.quota);
            let result =
                tokio::task::spawn_blocking(move || make_person_file(&dir, &g2, &out, &quota))
                    .await;
            let result = match result {
                Ok(r) => r,
                Err(e) => Err(io::Error::other(e.to_string())),
            };
            match result {
                Ok((muxed, person_origin)) => {
                    let rel = format!("{}/{}/{name}", job.sid, job.segment);
                    let extra = muxed_payload(&muxed, person_origin);
                    match self
                        .append(job, cancel, &rel, Some(publication), sources(g), extra)
                        .await
                    {
                        Ok(()) => {
                            let offset = match (origin, person_origin) {
                                (Some(o), Some(p)) => u64::try_from(p - o).unwrap_or(0),
                                _ => 0,
                            };
                            inputs.push(compose::Input {
                                path: segment_dir.join(&name),
                                offset_ms: offset,
                                video: muxed.video_frames > 0,
                                audio: muxed.audio_packets > 0,
                                screen: publication.source == "screen",
                            });
                            made.push((rel, offset, muxed.duration_ms));
                        }
                        Err(e) => {
                            // Unrecorded, it would be listed nowhere and
                            // never purged.
                            if std::fs::remove_file(segment_dir.join(&name)).is_ok() {
                                self.quota.release(muxed.bytes);
                            }
                            warn!(sid = %job.sid, segment = job.segment, file = %name, "a playable recording is not available: {e}");
                            unavailable.push(name);
                        }
                    }
                }
                Err(e) => {
                    warn!(sid = %job.sid, segment = job.segment, file = %name, "a playable recording is not available: {e}");
                    unavailable.push(name);
                }
            }
        }
        if inputs.is_empty() {
            return (Progress::ComposedFailed, unavailable);
        }
        let end = made.iter().map(|(_, o, d)| o + d).max().unwrap_or(0);
        let closed = origin.map_or(0, |o| u64::try_from(job.closed_at - o).unwrap_or(0));
        let duration = Duration::from_millis(end.max(closed.min(end + 1000)).max(500));
        let limit = compose::time_limit(duration, *lock(&self.ceiling));
        let ffmpeg = lock(&self.ffmpeg).clone();
        let out = segment_dir.join(COMPOSED_NAME);
        let part = segment_dir.join(format!(".{COMPOSED_NAME}.part"));
        let _ = std::fs::remove_file(&part);
        let started = std::time::Instant::now();
        // At most the encoders' rates (500 + 48 kbit/s) with a margin.
        let held = (duration.as_millis() as u64).saturating_mul(110) + 256 * 1024;
        if let Err(e) = self.quota.reserve(held) {
            warn!(sid = %job.sid, segment = job.segment, "the composed view is not available: {e}");
            return (Progress::ComposedFailed, unavailable);
        }
        let composed = compose::compose(&ffmpeg, &inputs, duration, &part, limit, cancel).await;
        if composed.is_err() {
            self.quota.release(held);
        }
        let progress = match composed {
            Ok(()) => {
                let part2 = part.clone();
                let out2 = out.clone();
                let quota = Arc::clone(&self.quota);
                let placed =
                    tokio::task::spawn_blocking(move || place(&part2, &out2, &quota, held)).await;
                match placed.unwrap_or_else(|e| Err(io::Error::other(e.to_string()))) {
                    Ok((bytes, sha256)) => {
                        let rel = format!("{}/{}/{COMPOSED_NAME}", job.sid, job.segment);
                        let sources: Vec<serde_json::Value> = made
                            .iter()
                            .map(|(name, offset, _)| {
                                serde_json::json!({"name": name, "offset_ms": offset})
                            })
                            .collect();
                        let extra = serde_json::json!({
                            "duration_ms": duration.as_millis() as u64, "origin_at": origin,
                            "tool": "ffmpeg", "bytes": bytes, "sha256": sha256,
                        });
                        match self.append(job, cancel, &rel, None, sources, extra).await {
                            Ok(()) => {
                                info!(sid = %job.sid, segment = job.segment, seconds = started.elapsed().as_secs_f64(), "composed view of a recording made");
                                Progress::Done
                            }
                            Err(e) => {
                                if std::fs::remove_file(&out).is_ok() {
                                    self.quota.release(bytes);
                                }
                                warn!(sid = %job.sid, segment = job.segment, "the composed view is not available: {e}");
                                Progress::ComposedFailed
                            }
                        }
                    }
                    Err(e) => {
                        warn!(sid = %job.sid, segment = job.segment, "the composed view is not available: {e}");
                        Progress::ComposedFailed
                    }
                }
            }
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                warn!(sid = %job.sid, segment = job.segment, "the composed view is not available: {e}");
                match e {
                    compose::ComposeError::Absent(_) => Progress::FfmpegAbsent,
                    compose::ComposeError::TimedOut(_) => Progress::ComposedTimedOut,
                    _ => Progress::ComposedFailed,
                }
            }
        };
        (progress, unavailable)
    }

    /// Writes a produced file's `recording_derived` entry, unless its
    /// segment's job was cancelled (a purge that has begun must find no
    /// entry appearing after it).
    async fn append(
        &self,
        job: &Job,
        cancel: &CancellationToken,
        rel: &str,
        publication: Option<&Publication>,
        sources: Vec<serde_json::Value>,
        extra: serde_json::Value,
    ) -> io::Result<()> {
        if cancel.is_cancelled() {
            return Err(io::Error::other("cancelled"));
        }
        let mut payload = serde_json::json!({
            "segment": job.segment,
            "kind": if publication.is_some() { PERSON } else { COMPOSED },
            "name": rel,
            "sources": sources,
        });
        if let Some(p) = publication {
            payload["participant"] = p.participant.clone().into();
            payload["source"] = p.source.clone().into();
            payload["publication"] = p.number.into();
        }
        if let (Some(o), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                o.insert(k.clone(), v.clone());
            }
        }
        job.ledger
            .append(NewEvent {
                sid: job.sid.clone(),
                kind: kind::RECORDING_DERIVED,
                actor: ACTOR_SERVER.to_owned(),
                payload,
                client_ts: None,
            })
            .await
            .map_err(|e| io::Error::other(format!("recording it in the ledger: {e}")))?;
        Ok(())
    }
}

fn sources(g: &Group) -> Vec<serde_json::Value> {
    [&g.video, &g.audio]
        .into_iter()
        .flatten()
        .map(|f| serde_json::json!({"name": f.name, "sha256": f.sha256}))
        .collect()
}

fn muxed_payload(m: &Placed, origin: Option<i64>) -> serde_json::Value {
    serde_json::json!({
        "bytes": m.bytes, "sha256": m.sha256, "duration_ms": m.duration_ms,
        "video_frames": m.video_frames, "audio_packets": m.audio_packets,
        "origin_at": origin, "tool": "libwebm",
    })
}

/// One person's publication of one source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Publication {
    pub participant: String,
    /// `camera` for the camera and microphone, else the raw tracks'
    /// prefix (`screen`).
    pub source: String,
    pub number: u32,
}

impl Publication {
    /// `<pid>.webm`, `<pid>-2.webm`, `<pid>-screen.webm`, `<pid>-screen-2.webm`.
    pub(crate) fn file_name(&self) -> String {
        let mut n = self.participant.clone();
        if self.source != "camera" {
            n.push('-');
            n.push_str(&self.source);
        }
        if self.number > 1 {
            n.push_str(&format!("-{}", self.number));
        }
        n.push_str(".webm");
        n
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Group {
    video: Option<SourceFile>,
    audio: Option<SourceFile>,
}

/// The publication a raw file belongs to, from its track and name:
/// `<pid>-<track>[-N].<ext>`; `None` for a track that is neither audio nor
/// video.
pub(crate) fn publication_of(f: &SourceFile) -> Option<(Publication, bool)> {
    let video = if f.track.ends_with("video") {
        true
    } else if f.track.ends_with("audio") {
        false
    } else {
        return None;
    };
    let prefix = f.track[..f.track.len() - 5].trim_end_matches('-');
    let source = if prefix.is_empty() { "camera" } else { prefix };
    let base = f.name.rsplit('/').next().unwrap_or(&f.name);
    let stem = base.split('.').next().unwrap_or(base);
    let rest = stem.strip_prefix(&format!("{}-{}", f.participant, f.track))?;
    let number = match rest.strip_prefix('-') {
        None if rest.is_empty() => 1,
        Some(n) => n.parse().ok()?,
        None => return None,
    };
    Some((
        Publication {
            participant: f.participant.clone(),
            source: source.to_owned(),
            number,
        },
        video,
    ))
}

fn group(files: &[SourceFile]) -> BTreeMap<Publication, Group> {
    let mut groups: BTreeMap<Publication, Group> = BTreeMap::new();
    for f in files {
        let Some((p, video)) = publication_of(f) else {
            continue;
        };
        let g = groups.entry(p).or_default();
        if video {
            g.video = Some(f.clone());
        } else {
            g.audio = Some(f.clone());
        }
    }
    groups
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads a raw file and checks it is the one the ledger recorded.
fn read_source(dir: &Path, f: &SourceFile) -> io::Result<Vec<u8>> {
    let bytes = std::fs::read(dir.join(&f.name))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", f.name)))?;
    if sha256_hex(&bytes) != f.sha256 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not the file the ledger recorded (its hash differs)",
                f.name
            ),
        ));
    }
    Ok(bytes)
}

#[derive(Debug)]
struct Placed {
    bytes: u64,
    sha256: String,
    duration_ms: u64,
    video_frames: usize,
    audio_packets: usize,
}

/// Makes `out` from a publication's raw files; returns what went in and
/// the file's origin (UTC ms of its 0).
fn make_person_file(
    dir: &Path,
    g: &Group,
    out: &Path,
    quota: &Quota,
) -> io::Result<(Placed, Option<i64>)> {
    let video = g
        .video
        .as_ref()
        .map(|f| read_source(dir, f).and_then(|b| mux::read_ivf(&b)))
        .transpose()?;
    let audio = g
        .audio
        .as_ref()
        .map(|f| read_source(dir, f).and_then(|b| mux::read_ogg_opus(&b)))
        .transpose()?;
    let v_origin = g.video.as_ref().and_then(|f| f.origin_ms);
    let a_origin = g.audio.as_ref().and_then(|f| f.origin_ms);
    let origin = match (v_origin, a_origin) {
        (Some(v), Some(a)) => Some(v.min(a)),
        (v, a) => v.or(a),
    };
    let offset = |o: Option<i64>| match (o, origin) {
        (Some(o), Some(base)) => u64::try_from(o - base).unwrap_or(0) * 1_000_000,
        _ => 0,
    };
    let part = out.with_file_name(format!(
        ".{}.part",
        out.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("playable")
    ));
    let _ = std::fs::remove_file(&part);
    // The same frames and packets plus WebM's framing: held from the quota
    // before writing, so the temporary file never takes more than it has.
    let payload: usize = video
        .as_ref()
        .map_or(0, |v| v.frames.iter().map(|f| f.1.len() + 16).sum())
        + audio
            .as_ref()
            .map_or(0, |a| a.packets.iter().map(|p| p.1.len() + 16).sum());
    let held = payload as u64 + 64 * 1024;
    quota.reserve(held)?;
    let muxed = mux::write_webm(
        &part,
        video.as_ref().map(|v| (v, offset(v_origin))),
        audio.as_ref().map(|a| (a, offset(a_origin))),
    );
    let muxed = match muxed {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            quota.release(held);
            return Err(e);
        }
    };
    let (bytes, sha256) = place(&part, out, quota, held)?;
    Ok((
        Placed {
            bytes,
            sha256,
            duration_ms: muxed.duration_ms,
            video_frames: muxed.video_frames,
            audio_packets: muxed.audio_packets,
        },
        origin,
    ))
}

/// Gives a complete temporary file its final name (refusing to replace
/// one), counts its real size against the quota in place of the `held`
/// bytes, and hashes it.
fn place(part: &Path, out: &Path, quota: &Quota, held: u64) -> io::Result<(u64, String)> {
    let result = (|| {
        quota.release(held);
        let file = std::fs::File::open(part)?;
        file.sync_all()?;
        let bytes = std::fs::read(part)?;
        quota.reserve(bytes.len() as u64)?;
        if let Err(e) = std::fs::hard_link(part, out) {
            quota.release(bytes.len() as u64);
            return Err(e);
        }
        Ok((bytes.len() as u64, sha256_hex(&bytes)))
    })();
    let _ = std::fs::remove_file(part);
    if let Some(parent) = out.parent() {
        let _ = sync_dir(parent);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(participant: &str, track: &str, name: &str) -> SourceFile {
        SourceFile {
            participant: participant.into(),
            track: track.into(),
            name: format!("s_1/2/{name}"),
            sha256: String::new(),
            origin_ms: None,
        }
    }

    #[test]
    fn raw_files_group_by_person_source_and_publication() {
        let files = [
            raw("p-a", "audio", "p-a-audio.ogg"),
            raw("p-a", "video", "p-a-video.ivf"),
            raw("p-a", "audio", "p-a-audio-2.ogg"),
            raw("p-a", "screen-video", "p-a-screen-video.ivf"),
            raw("p-a", "screen-audio", "p-a-screen-audio.ogg"),
            raw("p-a", "screen-video", "p-a-screen-video-3.ivf"),
            raw("p_b", "video", "p_b-video.ivf"),
        ];
        let names: Vec<(String, bool, bool)> = group(&files)
            .iter()
            .map(|(p, g)| (p.file_name(), g.video.is_some(), g.audio.is_some()))
            .collect();
        assert_eq!(
            names,
            [
                ("p-a.webm".to_owned(), true, true),
                ("p-a-2.webm".to_owned(), false, true),
                ("p-a-screen.webm".to_owned(), true, true),
                ("p-a-screen-3.webm".to_owned(), true, false),
                ("p_b.webm".to_owned(), true, false),
            ]
        );
        assert!(publication_of(&raw("p", "data", "p-data.bin")).is_none());
        assert!(publication_of(&raw("p", "audio", "p-audio-x.ogg")).is_none());
    }
}
