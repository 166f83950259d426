//! The composed view of a segment: everyone's playable files laid out on one
//! picture (a grid, or a shared screen large with the people beside it) and
//! all voices mixed, encoded by ffmpeg (VP8 and Opus, small and fast).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

/// Frames per second of the composed view.
const FPS: u32 = 15;
/// Largest picture of the grid: more people make smaller tiles.
const MAX_W: u32 = 960;
/// A screen share's layout: the screen, then a column of people.
const SCREEN_W: u32 = 720;
const SCREEN_H: u32 = 540;
const SIDE_W: u32 = 240;
const SIDE_H: u32 = 180;
/// How much of ffmpeg's error output is kept for the log.
const STDERR_KEEP: usize = 4096;

/// One person's playable file placed on the segment's clock.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    pub path: PathBuf,
    /// Where the file's 0 falls after the segment's origin.
    pub offset_ms: u64,
    pub video: bool,
    pub audio: bool,
    /// A shared screen rather than a camera.
    pub screen: bool,
}

/// Why there is no composed view.
#[derive(Debug)]
pub(crate) enum ComposeError {
    /// ffmpeg cannot be run on this server.
    Absent(String),
    /// It ran past its time and was killed.
    TimedOut(Duration),
    /// The server is shutting down, or the segment was purged meanwhile.
    Cancelled,
    /// ffmpeg failed.
    Failed(String),
}

impl std::fmt::Display for ComposeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ComposeError::Absent(e) => write!(f, "ffmpeg cannot be run: {e}"),
            ComposeError::TimedOut(d) => {
                write!(f, "ffmpeg ran past {} s and was killed", d.as_secs())
            }
            ComposeError::Cancelled => f.write_str("cancelled"),
            ComposeError::Failed(e) => write!(f, "ffmpeg failed: {e}"),
        }
    }
}

/// The longest any composed view may take, unless set otherwise.
pub(crate) const CEILING: Duration = Duration::from_secs(3 * 3600);

/// The time a segment of `duration` may take to compose: generous on a
/// loaded machine, never more than `ceiling`.
pub(crate) fn time_limit(duration: Duration, ceiling: Duration) -> Duration {
    (Duration::from_secs(60) + duration * 3).min(ceiling)
}

/// Whether `ffmpeg` runs here; its first line of `-version` if so.
pub(crate) async fn probe(ffmpeg: &Path) -> Result<String, ComposeError> {
    let out = tokio::process::Command::new(ffmpeg)
        .arg("-version")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| ComposeError::Absent(e.to_string()))?;
    if !out.status.success() {
        return Err(ComposeError::Absent(format!(
            "`-version` exited with {}",
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned())
}

/// Where one input's picture goes: (input index, x, y, width, height).
type Place = (usize, u32, u32, u32, u32);

/// Where each video goes, and the canvas size.
fn layout(inputs: &[Input]) -> (Vec<Place>, u32, u32) {
    let screen = inputs.iter().position(|i| i.video && i.screen);
    let people: Vec<usize> = inputs
        .iter()
        .enumerate()
        .filter(|(n, i)| i.video && Some(*n) != screen)
        .map(|(n, _)| n)
        .collect();
    if let Some(s) = screen {
        let mut places = vec![(s, 0, 0, SCREEN_W, SCREEN_H)];
        let rows = (SCREEN_H / SIDE_H) as usize;
        for (k, &p) in people.iter().take(rows).enumerate() {
            places.push((p, SCREEN_W, k as u32 * SIDE_H, SIDE_W, SIDE_H));
        }
        return (places, SCREEN_W + SIDE_W, SCREEN_H);
    }
    let n = people.len().max(1) as u32;
    let cols = (1..=n).find(|c| c * c >= n).unwrap_or(n);
    let rows = n.div_ceil(cols);
    // 4:3 tiles, even sizes (VP8 wants them).
    let w = (MAX_W / cols).min(320) & !1;
    let h = (w * 3 / 4) & !1;
    let places = people
        .iter()
        .enumerate()
        .map(|(k, &p)| {
            let k = k as u32;
            (p, (k % cols) * w, (k / cols) * h, w, h)
        })
        .collect();
    (places, cols * w, rows * h)
}

/// ffmpeg's arguments to compose `inputs` over `duration` into `out`.
pub(crate) fn arguments(inputs: &[Input], duration: Duration, out: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        .map(str::to_owned)
        .to_vec();
    for i in inputs {
        args.push("-itsoffset".into());
        args.push(format!("{:.3}", i.offset_ms as f64 / 1000.0));
        args.push("-i".into());
        args.push(i.path.to_string_lossy().into_owned());
    }
    let seconds = format!("{:.3}", duration.as_secs_f64());
    let (places, w, h) = layout(inputs);
    let mut graph = format!("color=c=0x202124:s={w}x{h}:r={FPS}:d={seconds}[base0]");
    for (k, (input, x, y, tw, th)) in places.iter().enumerate() {
        graph.push_str(&format!(
            ";[{input}:v]scale={tw}:{th}:force_original_aspect_ratio=decrease,\
             pad={tw}:{th}:(ow-iw)/2:(oh-ih)/2,setsar=1[tile{k}]\
             ;[base{k}][tile{k}]overlay={x}:{y}:eof_action=pass[base{}]",
            k + 1
        ));
    }
    // Overlays carry an alpha plane, which libvpx refuses to encode here.
    graph.push_str(&format!(";[base{}]format=yuv420p[picture]", places.len()));
    let video_out = "picture";
    let voices: Vec<usize> = inputs
        .iter()
        .enumerate()
        .filter(|(_, i)| i.audio)
        .map(|(n, _)| n)
        .collect();
    // Each voice is padded with silence from the segment's 0 to where it
    // starts, and over any pause in sending, so the mix keeps every voice
    // on the segment's clock.
    for (k, n) in voices.iter().enumerate() {
        graph.push_str(&format!(
            ";[{n}:a]aresample=async=1:first_pts=0,aformat=sample_rates=48000:channel_layouts=stereo[voice{k}]"
        ));
    }
    let audio_out = match voices.len() {
        0 => None,
        1 => Some("voice0".to_owned()),
        n => {
            graph.push(';');
            for k in 0..n {
                graph.push_str(&format!("[voice{k}]"));
            }
            graph.push_str(&format!(
                "amix=inputs={n}:duration=longest:normalize=0[mix]"
            ));
            Some("mix".to_owned())
        }
    };
    args.extend(["-filter_complex".into(), graph]);
    args.extend(["-map".into(), format!("[{video_out}]")]);
    if let Some(a) = audio_out {
        args.extend(["-map".into(), format!("[{a}]")]);
        args.extend(["-c:a", "libopus", "-b:a", "48k", "-ac", "2"].map(str::to_owned));
    }
    // Cheap on purpose: one thread, libvpx's realtime mode at its fastest.
    args.extend(
        [
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "500k",
            "-threads",
            "1",
            "-filter_complex_threads",
            "1",
        ]
        .map(str::to_owned),
    );
    args.extend(["-r".into(), FPS.to_string(), "-t".into(), seconds]);
    args.extend([
        "-f".into(),
        "webm".into(),
        out.to_string_lossy().into_owned(),
    ]);
    args
}

/// Runs ffmpeg at low priority to compose `inputs` into `out`; killed (by
/// its PID) when `limit` passes or `cancel` fires.
pub(crate) async fn compose(
    ffmpeg: &Path,
    inputs: &[Input],
    duration: Duration,
    out: &Path,
    limit: Duration,
    cancel: &CancellationToken,
) -> Result<(), ComposeError> {
    probe(ffmpeg).await?;
    let mut child = tokio::process::Command::new("nice")
        .arg("-n")
        .arg("10")
        .arg(ffmpeg)
        .args(arguments(inputs, duration, out))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ComposeError::Absent(e.to_string()))?;
    let mut stderr = child.stderr.take();
    let read_errors = async move {
        let mut text = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut text).await;
        }
        text
    };
    let (status, text) = tokio::select! {
        r = async { tokio::join!(child.wait(), read_errors) } => r,
        _ = tokio::time::sleep(limit) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(ComposeError::TimedOut(limit));
        }
        _ = cancel.cancelled() => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(ComposeError::Cancelled);
        }
    };
    let status = status.map_err(|e| ComposeError::Failed(e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&text);
        let tail: String = text
            .chars()
            .rev()
            .take(STDERR_KEEP)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Err(ComposeError::Failed(format!("{status}: {}", tail.trim())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(video: bool, audio: bool, screen: bool) -> Input {
        Input {
            path: PathBuf::from("x.webm"),
            offset_ms: 0,
            video,
            audio,
            screen,
        }
    }

    #[test]
    fn a_grid_for_people_and_a_large_screen_when_one_is_shared() {
        let (places, w, h) = layout(&[
            input(true, true, false),
            input(true, true, false),
            input(true, true, false),
        ]);
        assert_eq!((w, h), (640, 480));
        assert_eq!(places[2], (2, 0, 240, 320, 240));
        let (places, w, h) = layout(&[
            input(true, true, false),
            input(false, true, false),
            input(true, false, true),
        ]);
        assert_eq!((w, h), (960, 540));
        assert_eq!(places[0], (2, 0, 0, 720, 540), "the screen first, large");
        assert_eq!(places[1], (0, 720, 0, 240, 180));
        assert_eq!(places.len(), 2, "a voice without picture has no tile");
    }

    #[test]
    fn the_time_limit_grows_with_the_segment_and_has_a_ceiling() {
        assert_eq!(
            time_limit(Duration::from_secs(60), CEILING),
            Duration::from_secs(240)
        );
        assert_eq!(
            time_limit(Duration::from_secs(24 * 3600), CEILING),
            Duration::from_secs(3 * 3600)
        );
    }
}
