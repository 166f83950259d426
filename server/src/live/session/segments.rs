//! Recording segments in the actor: a segment opens once its
//! `recording_started` is durable, takes members' recorder signalling while
//! the gate is open, closes at once when it shuts (files finished and
//! recorded in the background), and a segment a previous process left open
//! is closed at start-up as `interrupted`.

use super::actor::{SessionActor, append_or_warn};
use super::commands::Command;
use super::consent::RecState;
use super::now_ms;
use crate::evidence::ledger::NewEvent;
use crate::live::outbound::{Outbound, encode};
use crate::recording::playable::SourceFile;
use crate::recording::{RecordedFile, SegmentEvent};
use cadre_protocol::ErrorCode;
use cadre_protocol::evidence::{ACTOR_SERVER, Entry, kind};
use cadre_protocol::signalling::{Opaque, ServerMessage};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{debug, warn};

impl SessionActor {
    /// Writes `recording_started` first: no media is accepted before the
    /// ledger says a segment is open and who is in it.
    pub(super) fn start_segment(&mut self) {
        let segment = self.recording.next_segment.max(1);
        self.recording.next_segment = segment + 1;
        let since = now_ms();
        self.recording.state = RecState::Starting { segment, since };
        let participants: BTreeSet<String> = self.members.keys().cloned().collect();
        let event = self.event(
            kind::RECORDING_STARTED,
            ACTOR_SERVER.to_owned(),
            serde_json::json!({"segment": segment, "participants": participants}),
        );
        self.record_then(event, "a recording start", move |written| async move {
            Some(Command::SegmentStarted { segment, written })
        });
    }

    pub(super) fn segment_started(&mut self, segment: u64, written: bool) {
        let RecState::Starting { segment: s, since } = self.recording.state else {
            return;
        };
        if s != segment {
            return;
        }
        if !written {
            self.recording.state = RecState::Idle;
            self.fail("storage_error");
            return;
        }
        let participants: BTreeSet<String> = self.members.keys().cloned().collect();
        let gate = self.gate();
        if !gate.open() {
            // Closed while the start was being written: the segment is
            // closed empty, so the log never shows an open segment.
            let reason = gate.abandon_reason();
            self.recording.state = RecState::Idle;
            self.write_stopped(segment, reason, since, now_ms(), participants, Vec::new());
            self.send_recording_status();
            return;
        }
        let (events_tx, mut events_rx) = mpsc::unbounded_channel();
        let opened = self
            .registry
            .recorder
            .open_segment(&self.info.id, segment, events_tx);
        match opened {
            Ok(seg) => {
                let me = self.me.clone();
                self.registry.tracker.spawn(async move {
                    while let Some(event) = events_rx.recv().await {
                        let Some(tx) = me.upgrade() else { break };
                        if tx.send(Command::Recorder { segment, event }).await.is_err() {
                            break;
                        }
                    }
                });
                self.recording.state = RecState::Active {
                    segment: seg,
                    since,
                    participants,
                };
                // In a forwarded session the segment records what the
                // server already receives.
                self.sync_taps();
            }
            Err(e) => {
                warn!("could not open recording segment {segment}: {e}");
                self.recording.state = RecState::Idle;
                let reason = if e.is_storage_full() {
                    "storage_full"
                } else {
                    "storage_error"
                };
                self.write_stopped(segment, reason, since, now_ms(), participants, Vec::new());
                self.fail(reason);
                return;
            }
        }
        self.send_recording_status();
    }

    /// Stops accepting media at once (synchronously), then finishes the
    /// files and records them in the background.
    pub(super) fn close_segment(&mut self, reason: &str) {
        let RecState::Active {
            segment,
            since,
            participants,
        } = std::mem::take(&mut self.recording.state)
        else {
            return;
        };
        segment.stop();
        let closed_at = now_ms();
        debug!(segment = segment.id(), reason, "recording segment closed");
        let id = segment.id();
        let reason = reason.to_owned();
        let sid = self.info.id.clone();
        let ledger = self.registry.ledger.clone();
        let recorder = Arc::clone(&self.registry.recorder);
        // The event waits for the files: built in the task, not `record`.
        self.registry.tracker.spawn(async move {
            let files = segment.finish().await;
            let event = stopped_event(&sid, id, &reason, since, closed_at, &participants, &files);
            let what = format!("the end of recording segment {id}");
            if append_or_warn(&ledger, event, &what).await {
                let sources = files.iter().map(SourceFile::from).collect();
                recorder
                    .jobs()
                    .enqueue(&ledger, &sid, id, closed_at, sources);
            }
        });
    }

    fn write_stopped(
        &self,
        segment: u64,
        reason: &str,
        since: i64,
        closed_at: i64,
        participants: BTreeSet<String>,
        files: Vec<RecordedFile>,
    ) {
        let event = stopped_event(
            &self.info.id,
            segment,
            reason,
            since,
            closed_at,
            &participants,
            &files,
        );
        self.record(event, format!("the end of recording segment {segment}"));
    }

    /// Recording stopped on its own: disarmed, recorded, and the
    /// facilitators are told why.
    fn fail(&mut self, failure: &str) {
        self.recording.failure = Some(failure.to_owned());
        self.recording.armed = false;
        let event = self.event(
            kind::RECORDING_ARMED,
            ACTOR_SERVER.to_owned(),
            serde_json::json!({"armed": false, "reason": failure}),
        );
        self.record(event, "that recording was disarmed");
        self.close_segment(failure);
        self.send_recording_status();
    }

    pub(super) fn recorder_event(&mut self, segment: u64, event: SegmentEvent) {
        let current = match &self.recording.state {
            RecState::Active { segment: s, .. } => s.id() == segment,
            _ => false,
        };
        match event {
            SegmentEvent::StorageFull {
                participant,
                message,
            } => {
                warn!(segment, participant, "recording storage full: {message}");
                if current {
                    self.fail("storage_full");
                }
            }
            SegmentEvent::StorageError {
                participant,
                message,
            } => {
                warn!(segment, participant, "recording storage error: {message}");
                if current {
                    self.fail("storage_error");
                }
            }
            SegmentEvent::PublisherFailed { participant } => {
                debug!(segment, participant, "recorder peer connection ended");
            }
        }
    }

    pub(super) fn unpublish(&self, id: &str) {
        if let RecState::Active { segment, .. } = &self.recording.state {
            let segment = segment.clone();
            let id = id.to_owned();
            self.registry.tracker.spawn(async move {
                segment.unpublish(&id).await;
            });
        }
    }

    /// Checks that `id` may publish now, then hands the offer or candidate
    /// to the segment; the answer goes back on the member's queue.
    pub(super) fn recorder_signal(
        &mut self,
        id: String,
        connection_id: String,
        segment: u64,
        data: Opaque,
    ) {
        let Some(m) = self.members.get(&id) else {
            return;
        };
        if m.connection_id != connection_id {
            return;
        }
        let refuse = |code: ErrorCode, message: String| {
            Outbound::Text(encode(&ServerMessage::error_about(
                code,
                message,
                "recorder_signal",
            )))
        };
        if !self.grants(&id) {
            let msg = refuse(
                ErrorCode::Forbidden,
                "you have not agreed to recording: nothing of yours is recorded".into(),
            );
            self.send(&id, msg);
            return;
        }
        if self.forwarded_now() {
            let msg = refuse(
                ErrorCode::NotOpen,
                "the session is forwarded: the recorder takes what you already send the server; \
                 no recorder connection is needed"
                    .into(),
            );
            self.send(&id, msg);
            return;
        }
        let open = match &self.recording.state {
            RecState::Active { segment: s, .. } if s.id() == segment => Some(s.clone()),
            _ => None,
        };
        let Some(seg) = open else {
            let msg = refuse(
                ErrorCode::NotOpen,
                format!("recording segment {segment} is not open; wait for recording_state"),
            );
            self.send(&id, msg);
            return;
        };
        let value: serde_json::Value = match serde_json::from_str(data.get()) {
            Ok(v) => v,
            Err(_) => return,
        };
        let outbound = std::sync::Arc::clone(&m.control);
        self.registry.tracker.spawn(async move {
            let reply = if value.get("type").and_then(|t| t.as_str()) == Some("offer") {
                match seg.publish(&id, &value).await {
                    Ok(answer) => ServerMessage::RecorderSignal {
                        segment,
                        data: Opaque::from_value(&answer),
                    },
                    Err(e) => {
                        ServerMessage::error_about(e.code(), e.to_string(), "recorder_signal")
                    }
                }
            } else if value.get("candidate").is_some() {
                match seg.add_candidate(&id, &value).await {
                    Ok(()) => return,
                    Err(e) => {
                        ServerMessage::error_about(e.code(), e.to_string(), "recorder_signal")
                    }
                }
            } else {
                ServerMessage::error_about(
                    ErrorCode::InvalidInput,
                    "recorder_signal data is neither an offer nor an ICE candidate",
                    "recorder_signal",
                )
            };
            // A full queue: the session actor closes that connection as
            // too slow on its next message; nothing more to do here.
            let _ = outbound.try_send(Outbound::Text(encode(&reply)));
        });
    }

    /// Segment numbering continues from the log; a segment whose end is
    /// not in the log (the process died while recording) is closed now
    /// with the files found on disk, marked `interrupted`.
    pub(super) async fn recover_segments(&mut self, entries: &[Entry]) {
        let mut started: HashMap<u64, (i64, BTreeSet<String>)> = HashMap::new();
        let mut max = 0;
        for e in entries {
            let p = e.payload_value();
            let Some(segment) = p.get("segment").and_then(|s| s.as_u64()) else {
                continue;
            };
            match e.kind.as_str() {
                kind::RECORDING_STARTED => {
                    max = max.max(segment);
                    let people = p
                        .get("participants")
                        .and_then(|a| a.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    started.insert(segment, (e.ts, people));
                }
                kind::RECORDING_STOPPED => {
                    started.remove(&segment);
                }
                _ => {}
            }
        }
        self.recording.next_segment = max + 1;
        let mut orphans: Vec<(u64, (i64, BTreeSet<String>))> = started.into_iter().collect();
        orphans.sort_by_key(|(s, _)| *s);
        for (segment, (since, participants)) in orphans {
            let files = self
                .registry
                .recorder
                .scan_segment(&self.info.id, segment)
                .await;
            let closed_at = files
                .iter()
                .filter_map(|f| f.last_packet_ms)
                .max()
                .unwrap_or(since);
            let event = stopped_event(
                &self.info.id,
                segment,
                "interrupted",
                since,
                closed_at,
                &participants,
                &files,
            );
            if append_or_warn(
                &self.registry.ledger,
                event,
                "an interrupted recording segment",
            )
            .await
            {
                let sources = files.iter().map(SourceFile::from).collect();
                self.registry.recorder.jobs().enqueue(
                    &self.registry.ledger,
                    &self.info.id,
                    segment,
                    closed_at,
                    sources,
                );
            }
        }
    }
}
/// The `recording_stopped` entry of a segment.
fn stopped_event(
    sid: &str,
    segment: u64,
    reason: &str,
    since: i64,
    closed_at: i64,
    participants: &BTreeSet<String>,
    files: &[RecordedFile],
) -> NewEvent {
    let mut everyone = participants.clone();
    everyone.extend(files.iter().map(|f| f.participant.clone()));
    let files: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            serde_json::json!({
                "participant": f.participant, "track": f.track, "name": f.name,
                "bytes": f.bytes, "sha256": f.sha256, "packets": f.packets,
                "origin_at": f.origin_ms, "last_packet_at": f.last_packet_ms,
            })
        })
        .collect();
    NewEvent {
        sid: sid.to_owned(),
        kind: kind::RECORDING_STOPPED,
        actor: ACTOR_SERVER.to_owned(),
        payload: serde_json::json!({
            "segment": segment, "reason": reason, "started_at": since, "closed_at": closed_at,
            "participants": everyone, "files": files,
        }),
        client_ts: None,
    }
}
