//! Finding a segment's files on disk after a crash, when no
//! `recording_stopped` entry recorded them.

use super::{RecordedFile, Recorder};
use std::path::PathBuf;

impl Recorder {
    /// The files found on disk for a segment whose end was never recorded (the
    /// process died while recording), hashed as they are. Names follow the
    /// recorder's `<pid>-<track>[-n].<ext>`; anything else is skipped.
    pub async fn scan_segment(&self, sid: &str, segment: u64) -> Vec<RecordedFile> {
        let dir = self.dir().join(sid).join(segment.to_string());
        let prefix = format!("{sid}/{segment}");
        let scanned = tokio::task::spawn_blocking(move || {
            use sha2::Digest as _;
            let mut files = Vec::new();
            let Ok(listing) = std::fs::read_dir(&dir) else {
                return files;
            };
            let mut paths: Vec<PathBuf> = listing.flatten().map(|e| e.path()).collect();
            paths.sort();
            for path in paths {
                let Some(file) = path.file_name().and_then(|f| f.to_str()).map(str::to_owned)
                else {
                    continue;
                };
                let (track, marker) = if file.ends_with(".ivf") {
                    ("video", "-video")
                } else if file.ends_with(".ogg") {
                    ("audio", "-audio")
                } else {
                    continue;
                };
                let Some(cut) = file.rfind(marker) else {
                    continue;
                };
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let last_packet_ms = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .and_then(|d| i64::try_from(d.as_millis()).ok());
                files.push(RecordedFile {
                    participant: file[..cut].to_owned(),
                    track,
                    name: format!("{prefix}/{file}"),
                    path: path.clone(),
                    bytes: bytes.len() as u64,
                    sha256: hex(&sha2::Sha256::digest(&bytes)),
                    packets: 0,
                    origin_ms: None,
                    last_packet_ms,
                });
            }
            files
        })
        .await;
        scanned.unwrap_or_default()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
