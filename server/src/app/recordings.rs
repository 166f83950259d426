//! Recordings after the fact: the list a facilitator or the organiser
//! sees, downloads, and the retention purge. The ledger is the index: a
//! raw file is listed only if a `recording_stopped` entry records its hash,
//! a playable one only if a `recording_derived` entry does.

use crate::app::App;
use crate::error::ApiError;
use crate::evidence::ledger::NewEvent;
use crate::recording::playable;
use cadre_protocol::ErrorCode;
use cadre_protocol::api::{
    PlayableFile, RecordingFile, RecordingLine, RecordingSegment, Recordings, RecordingsOverview,
};
use cadre_protocol::evidence::{ACTOR_SERVER, Entry, kind};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tracing::{info, warn};

/// How often the retention purge runs.
pub const PURGE_PERIOD: std::time::Duration = std::time::Duration::from_secs(3600);

/// One file as the ledger records it.
#[derive(Debug, Clone)]
struct LoggedFile {
    participant: String,
    track: String,
    /// Path relative to the recordings directory.
    name: String,
    bytes: u64,
    sha256: String,
    origin_at: Option<i64>,
}

fn strings(v: &serde_json::Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn logged_files(v: &serde_json::Value) -> Vec<LoggedFile> {
    let Some(files) = v.get("files").and_then(|f| f.as_array()) else {
        return Vec::new();
    };
    files
        .iter()
        .filter_map(|f| {
            Some(LoggedFile {
                participant: f.get("participant")?.as_str()?.to_owned(),
                track: f.get("track")?.as_str()?.to_owned(),
                name: f.get("name")?.as_str()?.to_owned(),
                bytes: f.get("bytes")?.as_u64()?,
                sha256: f.get("sha256")?.as_str()?.to_owned(),
                origin_at: f.get("origin_at").and_then(|o| o.as_i64()),
            })
        })
        .collect()
}

/// A playable file as its `recording_derived` entry records it.
#[derive(Debug, Clone)]
struct DerivedFile {
    kind: String,
    participant: Option<String>,
    source: Option<String>,
    publication: Option<u32>,
    /// Path relative to the recordings directory.
    name: String,
    bytes: u64,
    sha256: String,
    duration_ms: Option<u64>,
}

fn derived_file(v: &serde_json::Value) -> Option<DerivedFile> {
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    Some(DerivedFile {
        kind: text("kind")?,
        participant: text("participant"),
        source: text("source"),
        publication: v
            .get("publication")
            .and_then(|n| n.as_u64())
            .and_then(|n| u32::try_from(n).ok()),
        name: text("name")?,
        bytes: v.get("bytes")?.as_u64()?,
        sha256: text("sha256")?,
        duration_ms: v.get("duration_ms").and_then(|d| d.as_u64()),
    })
}

struct Segment {
    view: RecordingSegment,
    files: Vec<LoggedFile>,
    derived: Vec<DerivedFile>,
}

/// The segments of a log, in order.
fn segments(entries: &[Entry]) -> Vec<Segment> {
    let mut by_number: BTreeMap<u64, Segment> = BTreeMap::new();
    for e in entries {
        let p = e.payload_value();
        let Some(number) = p.get("segment").and_then(|s| s.as_u64()) else {
            continue;
        };
        let entry = || Segment {
            view: RecordingSegment {
                segment: number,
                started_at: e.ts,
                closed_at: None,
                reason: None,
                participants: Vec::new(),
                purged_at: None,
                files: Vec::new(),
                playable: Vec::new(),
                playable_status: None,
                unavailable: Vec::new(),
            },
            files: Vec::new(),
            derived: Vec::new(),
        };
        match e.kind.as_str() {
            kind::RECORDING_STARTED => {
                let s = by_number.entry(number).or_insert_with(entry);
                s.view.started_at = e.ts;
                s.view.participants = strings(&p, "participants");
            }
            kind::RECORDING_STOPPED => {
                let s = by_number.entry(number).or_insert_with(entry);
                if let Some(t) = p.get("started_at").and_then(|t| t.as_i64()) {
                    s.view.started_at = t;
                }
                s.view.closed_at = p.get("closed_at").and_then(|t| t.as_i64()).or(Some(e.ts));
                s.view.reason = p.get("reason").and_then(|r| r.as_str()).map(str::to_owned);
                s.view.participants = strings(&p, "participants");
                s.files = logged_files(&p);
            }
            kind::RECORDING_PURGED => {
                if let Some(s) = by_number.get_mut(&number) {
                    s.view.purged_at = Some(e.ts);
                }
            }
            // Only after its segment's end: the raw files it was made from
            // are those that entry lists.
            kind::RECORDING_DERIVED => {
                if let (Some(s), Some(d)) = (by_number.get_mut(&number), derived_file(&p))
                    && s.view.closed_at.is_some()
                {
                    s.derived.push(d);
                }
            }
            _ => {}
        }
    }
    by_number.into_values().collect()
}

fn file_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

impl App {
    /// The session's recordings; download URLs carry `token` when given.
    pub async fn recordings(&self, sid: &str, token: &str) -> Result<Recordings, ApiError> {
        self.session_view(sid).await?;
        let entries = self.log(sid, u64::MAX).await?;
        let segments = segments(&entries)
            .into_iter()
            .map(|s| {
                let purged = s.view.purged_at.is_some();
                let number = s.view.segment;
                let files = s
                    .files
                    .iter()
                    .map(|f| {
                        let file = file_name(&f.name).to_owned();
                        let url = (!purged).then(|| {
                            let mut url = format!("/api/sessions/{sid}/recordings/{number}/{file}");
                            if !token.is_empty() {
                                url.push_str("?token=");
                                url.push_str(token);
                            }
                            url
                        });
                        RecordingFile {
                            participant: f.participant.clone(),
                            track: f.track.clone(),
                            file,
                            bytes: f.bytes,
                            sha256: f.sha256.clone(),
                            origin_at: f.origin_at,
                            url,
                        }
                    })
                    .collect();
                let url = |name: &str| {
                    (!purged).then(|| {
                        let mut url = format!(
                            "/api/sessions/{sid}/recordings/{number}/{}",
                            file_name(name)
                        );
                        if !token.is_empty() {
                            url.push_str("?token=");
                            url.push_str(token);
                        }
                        url
                    })
                };
                // People's files first, the composed view last.
                let mut derived = s.derived.clone();
                derived.sort_by_key(|d| d.kind == playable::COMPOSED);
                let playable = derived
                    .iter()
                    .map(|d| PlayableFile {
                        kind: d.kind.clone(),
                        participant: d.participant.clone(),
                        source: d.source.clone(),
                        publication: d.publication,
                        file: file_name(&d.name).to_owned(),
                        bytes: d.bytes,
                        sha256: d.sha256.clone(),
                        duration_ms: d.duration_ms,
                        url: url(&d.name),
                    })
                    .collect();
                let (status, unavailable) = match self.recorder().jobs().progress(sid, number) {
                    Some((p, u)) => (Some(p.as_str().to_owned()), u),
                    None => (None, Vec::new()),
                };
                RecordingSegment {
                    files,
                    playable,
                    playable_status: if purged { None } else { status },
                    unavailable,
                    ..s.view
                }
            })
            .collect();
        Ok(Recordings { segments })
    }

    /// Every session's recording segments with when the retention deletes
    /// them (see [`RecordingsOverview`]).
    pub async fn recordings_overview(&self) -> Result<RecordingsOverview, ApiError> {
        let retention_ms =
            i64::try_from(self.recording_retention().as_millis()).unwrap_or(i64::MAX);
        let mut lines = Vec::new();
        for session in self.list_sessions().await? {
            let entries = self.log(&session.id, u64::MAX).await?;
            for s in segments(&entries) {
                let v = s.view;
                lines.push(RecordingLine {
                    session_id: session.id.clone(),
                    session_title: session.title.clone(),
                    time_zone: session.time_zone.clone(),
                    segment: v.segment,
                    started_at: v.started_at,
                    closed_at: v.closed_at,
                    people: v.participants.len(),
                    bytes: s.files.iter().map(|f| f.bytes).sum(),
                    delete_at: v
                        .closed_at
                        .filter(|_| v.purged_at.is_none())
                        .map(|t| t.saturating_add(retention_ms)),
                    purged_at: v.purged_at,
                });
            }
        }
        // Kept ones first, the next to go on top (one still recording
        // last among them); then the deleted, the latest first.
        lines.sort_by_key(|l| {
            (
                l.purged_at.is_some(),
                l.delete_at.unwrap_or(i64::MAX),
                std::cmp::Reverse(l.purged_at),
            )
        });
        Ok(RecordingsOverview {
            retention_days: self.recording_retention().as_secs() / 86_400,
            segments: lines,
        })
    }

    /// Where a listed, unpurged file of a closed segment is on disk, with
    /// its content type. Only names the ledger records are served.
    pub async fn recording_file(
        &self,
        sid: &str,
        segment: u64,
        file: &str,
    ) -> Result<(PathBuf, &'static str, u64), ApiError> {
        let entries = self.log(sid, u64::MAX).await?;
        let not_found = || {
            ApiError::new(
                ErrorCode::NotFound,
                format!("segment {segment} of this session has no file {file:?}"),
            )
        };
        let s = segments(&entries)
            .into_iter()
            .find(|s| s.view.segment == segment)
            .ok_or_else(not_found)?;
        if s.view.purged_at.is_some() {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "this recording was deleted at the end of its retention period",
            ));
        }
        if let Some(d) = s.derived.iter().find(|d| file_name(&d.name) == file) {
            return Ok((self.recorder().dir().join(&d.name), "video/webm", d.bytes));
        }
        let f = s
            .files
            .iter()
            .find(|f| file_name(&f.name) == file)
            .ok_or_else(not_found)?;
        let content_type = if f.track.ends_with("video") {
            "video/x-ivf"
        } else {
            "audio/ogg"
        };
        Ok((self.recorder().dir().join(&f.name), content_type, f.bytes))
    }

    /// Queues again, at start, every closed segment of which nothing
    /// playable was made: the queue lives in memory, and the server may
    /// have stopped while segments waited in it. A segment purged, or with
    /// some playable file already in the ledger (made when the server
    /// stopped), is left as it is. Returns how many were queued.
    pub async fn resume_playable(&self) -> Result<usize, ApiError> {
        let mut queued = 0;
        for session in self.list_sessions().await? {
            let entries = self.log(&session.id, u64::MAX).await?;
            for s in segments(&entries) {
                let Some(closed_at) = s.view.closed_at else {
                    continue;
                };
                if s.view.purged_at.is_some() || s.files.is_empty() || !s.derived.is_empty() {
                    continue;
                }
                let files = s
                    .files
                    .iter()
                    .map(|f| playable::SourceFile {
                        participant: f.participant.clone(),
                        track: f.track.clone(),
                        name: f.name.clone(),
                        sha256: f.sha256.clone(),
                        origin_ms: f.origin_at,
                    })
                    .collect();
                self.recorder().jobs().enqueue(
                    self.ledger(),
                    &session.id,
                    s.view.segment,
                    closed_at,
                    files,
                );
                queued += 1;
            }
        }
        if queued > 0 {
            info!(
                queued,
                "closed recording segments queued again to be made playable"
            );
        }
        Ok(queued)
    }

    /// Deletes the files of segments closed more than the retention period
    /// before `now` (ms), and records each deletion. Returns how many
    /// segments were purged.
    pub async fn purge_recordings(&self, now: i64) -> Result<usize, ApiError> {
        let retention_ms =
            i64::try_from(self.recording_retention().as_millis()).unwrap_or(i64::MAX);
        let retention_days = self.recording_retention().as_secs() / 86_400;
        let mut purged = 0;
        let due = |s: &Segment| {
            s.view.closed_at.is_some_and(|closed_at| {
                s.view.purged_at.is_none()
                    && !s.files.is_empty()
                    && closed_at.saturating_add(retention_ms) <= now
            })
        };
        for session in self.list_sessions().await? {
            let entries = self.log(&session.id, u64::MAX).await?;
            let mut any = false;
            for s in segments(&entries).iter().filter(|s| due(s)) {
                // A playable file still being made is abandoned: no file
                // or entry of the segment appears after this.
                self.recorder()
                    .jobs()
                    .forget(&session.id, s.view.segment)
                    .await;
                any = true;
            }
            if !any {
                continue;
            }
            let entries = self.log(&session.id, u64::MAX).await?;
            for s in segments(&entries) {
                if !due(&s) {
                    continue;
                }
                let dir = self.recorder().dir().to_owned();
                let segment_dir = dir.join(&session.id).join(s.view.segment.to_string());
                let names: Vec<String> = s
                    .files
                    .iter()
                    .map(|f| f.name.clone())
                    .chain(s.derived.iter().map(|d| d.name.clone()))
                    .collect();
                // Deleted first, recorded after: the entry is true when
                // written, and a crash in between is finished next time (a
                // missing file counts as deleted).
                let freed = tokio::task::spawn_blocking(move || {
                    let mut freed = 0;
                    for name in &names {
                        let path = dir.join(name);
                        match std::fs::metadata(&path) {
                            Ok(m) => match std::fs::remove_file(&path) {
                                Ok(()) => freed += m.len(),
                                Err(e) => {
                                    return Err(e);
                                }
                            },
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => return Err(e),
                        }
                    }
                    // A playable file abandoned half-made (its temporary
                    // name starts with a dot; a recorded name never does).
                    if let Ok(dir) = std::fs::read_dir(&segment_dir) {
                        for e in dir.flatten() {
                            if e.file_name().to_string_lossy().starts_with('.')
                                && let Ok(m) = e.metadata()
                                && std::fs::remove_file(e.path()).is_ok()
                            {
                                freed += m.len();
                            }
                        }
                    }
                    // Only an empty segment directory goes.
                    let _ = std::fs::remove_dir(&segment_dir);
                    Ok(freed)
                })
                .await
                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
                let freed = match freed {
                    Ok(n) => n,
                    Err(e) => {
                        warn!(sid = %session.id, segment = s.view.segment, "cannot delete a recording: {e}");
                        continue;
                    }
                };
                self.recorder().release_bytes(freed);
                let files: Vec<serde_json::Value> = s
                    .files
                    .iter()
                    .map(|f| serde_json::json!({"name": f.name, "sha256": f.sha256}))
                    .collect();
                let derived: Vec<serde_json::Value> = s
                    .derived
                    .iter()
                    .map(|d| serde_json::json!({"name": d.name, "sha256": d.sha256}))
                    .collect();
                let event = NewEvent {
                    sid: session.id.clone(),
                    kind: kind::RECORDING_PURGED,
                    actor: ACTOR_SERVER.to_owned(),
                    payload: serde_json::json!({
                        "segment": s.view.segment, "files": files, "derived": derived,
                        "retention_days": retention_days,
                    }),
                    client_ts: None,
                };
                self.ledger().append(event).await.map_err(|e| {
                    ApiError::new(ErrorCode::Internal, format!("recording a purge: {e}"))
                })?;
                info!(sid = %session.id, segment = s.view.segment, bytes = freed, "recording purged");
                purged += 1;
            }
        }
        Ok(purged)
    }
}
