//! [`Registry`]: every live session of this process. It spawns a session's
//! actor on the first join, hands out its [`SessionHandle`], and forgets it
//! when the actor ends.

use super::actor::{SessionActor, append_or_warn};
use super::commands::Command;
use super::{ControlRequest, Joining, SessionHandle, SessionSettings};
use crate::directory::catalog::Catalog;
use crate::evidence::ledger::{Hold, Ledger, NewEvent};
use crate::live::outbound::encode;
use crate::recording::Recorder;
use cadre_protocol::attendance::Schedule;
use cadre_protocol::evidence::{ACTOR_SERVER, kind};
use cadre_protocol::session::MediaMode;
use cadre_protocol::signalling::{ServerMessage, SessionInfo};
use cadre_protocol::{ErrorBody, ErrorCode};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info_span};

/// Commands queued towards one session actor before senders wait.
const SESSION_INBOX: usize = 1024;

/// All live sessions of this process.
pub struct Registry {
    sessions: Mutex<HashMap<String, SessionHandle>>,
    pub(super) settings: SessionSettings,
    pub(super) tracker: TaskTracker,
    generation: AtomicU64,
    pub(super) ledger: Ledger,
    pub(super) recorder: Arc<Recorder>,
    pub(super) catalog: Catalog,
    /// Sessions whose log has this process's `server_started`: each run is
    /// bracketed once per session, so a gap in evidence is explained.
    pub(super) bracketed: Mutex<HashSet<String>>,
    /// Sessions' chats while nobody is connected, until they expire (ms).
    chats: Mutex<HashMap<String, (super::classroom::ChatLog, i64)>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

/// The join could not complete (the server is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the session is not accepting connections")]
pub struct JoinError;

impl Registry {
    /// The settings every session shares.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// An empty registry whose actors are tracked by `tracker`.
    pub fn new(
        settings: SessionSettings,
        tracker: TaskTracker,
        ledger: Ledger,
        recorder: Arc<Recorder>,
        catalog: Catalog,
    ) -> Arc<Registry> {
        Arc::new(Registry {
            sessions: Mutex::new(HashMap::new()),
            settings,
            tracker,
            generation: AtomicU64::new(0),
            ledger,
            recorder,
            catalog,
            bracketed: Mutex::new(HashSet::new()),
            chats: Mutex::new(HashMap::new()),
        })
    }

    /// Holds a session's chat while nobody is connected, until `expires`
    /// (ms); chats already expired go.
    pub(super) fn keep_chat(&self, sid: &str, chat: super::classroom::ChatLog, expires: i64) {
        let now = super::now_ms();
        let mut chats = self.chats.lock().unwrap_or_else(|p| p.into_inner());
        chats.retain(|_, (_, until)| *until > now);
        if expires > now {
            chats.insert(sid.to_owned(), (chat, expires));
        }
    }

    /// A session's chat kept since its last actor ended (empty if none).
    pub(super) fn take_chat(&self, sid: &str) -> super::classroom::ChatLog {
        let mut chats = self.chats.lock().unwrap_or_else(|p| p.into_inner());
        chats
            .remove(sid)
            .filter(|(_, until)| *until > super::now_ms())
            .map(|(chat, _)| chat)
            .unwrap_or_default()
    }

    /// Records `server_stopping` in every session this run wrote to; called
    /// once every connection has recorded its own close.
    pub async fn record_stopping(&self) {
        let sessions: Vec<String> = self
            .bracketed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        for sid in sessions {
            let event = NewEvent {
                sid,
                kind: kind::SERVER_STOPPING,
                actor: ACTOR_SERVER.to_owned(),
                payload: serde_json::json!({}),
                client_ts: None,
            };
            append_or_warn(&self.ledger, event, "server_stopping").await;
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionHandle>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live actor of a session, if any.
    pub fn get(&self, sid: &str) -> Option<SessionHandle> {
        self.lock().get(sid).cloned()
    }

    /// Whether `id` may join session `sid` now. A session whose media may
    /// pass through the server (its mode, or the deployment's, is not
    /// `peer`) takes at most `forwarded_members` people at once; a person
    /// already connected may always open a new tab. Checked before the
    /// upgrade: two arrivals in the same instant may make it one over.
    pub fn has_room(&self, sid: &str, id: &str, media: Option<MediaMode>) -> bool {
        if media.unwrap_or(self.settings.media_mode) == MediaMode::Peer {
            return true;
        }
        self.get(sid)
            .is_none_or(|h| h.routes.admits(id, self.settings.forwarded_members))
    }

    /// The sessions with a live room here now.
    pub fn live_session_ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Number of live sessions.
    pub fn live_sessions(&self) -> usize {
        self.lock().len()
    }

    /// Adds a connection to its session, spawning the actor if needed. The
    /// welcome is the first message in the connection's queue when this
    /// returns.
    pub async fn join(
        self: &Arc<Self>,
        info: &SessionInfo,
        schedule: &Schedule,
        joining: Joining,
    ) -> Result<SessionHandle, JoinError> {
        let mut joining = Box::new(joining);
        // Two attempts cover the race with an actor that is ending; a third
        // failure means the runtime is shutting down.
        for _ in 0..3 {
            // The person's consent decisions are the actor's: read from
            // the log once when it starts, kept since (no read per join).
            let hold = self.ledger.hold(&info.id).await.map_err(|_| JoinError)?;
            let handle = self.get_or_spawn(info, schedule, true, hold);
            let (reply_tx, reply_rx) = oneshot::channel();
            match handle.tx.send(Command::Join(joining, reply_tx)).await {
                Ok(()) => {}
                Err(mpsc::error::SendError(Command::Join(j, _))) => {
                    self.forget(&info.id, handle.generation);
                    joining = j;
                    continue;
                }
                Err(_) => return Err(JoinError),
            }
            match reply_rx.await {
                Ok(Ok(())) => return Ok(handle),
                Ok(Err(j)) => {
                    // The actor was ending as we arrived; it handed us back.
                    self.forget(&info.id, handle.generation);
                    joining = j;
                }
                Err(_) => return Err(JoinError),
            }
        }
        Err(JoinError)
    }

    /// Staff's decision to move or cancel a session, taken by its actor
    /// (started for it when nobody is connected, so that a join meanwhile
    /// finds the decision made); answered once it is durable.
    pub async fn staff_control(
        self: &Arc<Self>,
        info: &SessionInfo,
        schedule: &Schedule,
        request: ControlRequest,
    ) -> Result<(), ErrorBody> {
        let request = Box::new(request);
        for _ in 0..3 {
            let hold = self.ledger.hold(&info.id).await.map_err(|e| {
                ErrorBody::new(
                    ErrorCode::Conflict,
                    format!("{e}: ask that server, or try again once it has let it go"),
                )
            })?;
            let handle = self.get_or_spawn(info, schedule, false, hold);
            let (reply, answer) = oneshot::channel();
            let command = Command::StaffControl {
                request: request.clone(),
                reply,
            };
            if handle.tx.send(command).await.is_err() {
                // An actor ending as it was asked: a fresh one takes it.
                self.forget(&info.id, handle.generation);
                continue;
            }
            if let Ok(answer) = answer.await {
                return answer;
            }
            self.forget(&info.id, handle.generation);
        }
        Err(ErrorBody::new(
            ErrorCode::Internal,
            "the session could not take the decision; try again",
        ))
    }

    /// Sends `msg` to a person if they are connected now.
    pub async fn notify(&self, sid: &str, id: &str, msg: &ServerMessage) {
        if let Some(handle) = self.get(sid) {
            let _ = handle
                .tx
                .send(Command::Notify {
                    id: id.to_owned(),
                    text: encode(msg),
                })
                .await;
        }
    }

    /// Closes a person's live connection because their link was revoked.
    pub async fn revoke(&self, sid: &str, id: &str) -> bool {
        let Some(handle) = self.get(sid) else {
            return false;
        };
        let (reply, rx) = oneshot::channel();
        if handle
            .tx
            .send(Command::Revoke {
                id: id.to_owned(),
                reply,
            })
            .await
            .is_err()
        {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Tells `sid`'s live room, if it has one, of its title corrected.
    pub async fn retitled(&self, sid: &str, title: String) {
        if let Some(handle) = self.get(sid) {
            let _ = handle.tx.send(Command::Retitled(title)).await;
        }
    }

    /// Tells `sid`'s live room, if it has one, of a person added since it
    /// read the session's people, or of their name corrected.
    pub async fn enrolled(&self, sid: &str, me: cadre_protocol::session::Me) {
        if let Some(handle) = self.get(sid) {
            let _ = handle.tx.send(Command::Enrolled(me)).await;
        }
    }

    /// Who is connected now to `sid`; `None` when the session has no live
    /// room on this server (nobody joined since it started, or it ended).
    pub async fn connected(&self, sid: &str) -> Option<Vec<super::roster::Connected>> {
        let handle = self.get(sid)?;
        let (reply, rx) = oneshot::channel();
        handle.tx.send(Command::Connected(reply)).await.ok()?;
        rx.await.ok()
    }

    /// Closes `sid`'s live room because this node lost its lease: another
    /// node writes the session now, and its people reconnect there.
    pub async fn moved(&self, sid: &str) {
        if let Some(handle) = self.get(sid) {
            let _ = handle.tx.send(Command::Moved).await;
        }
    }

    /// The session's actor, spawned if it has none; a new one keeps `hold`
    /// (this node's right to write the session) for as long as it runs.
    fn get_or_spawn(
        self: &Arc<Self>,
        info: &SessionInfo,
        schedule: &Schedule,
        for_join: bool,
        hold: Hold,
    ) -> SessionHandle {
        let mut sessions = self.lock();
        if let Some(h) = sessions.get(&info.id) {
            return h.clone();
        }
        let (tx, rx) = mpsc::channel(SESSION_INBOX);
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let handle = SessionHandle {
            tx,
            generation,
            routes: Arc::default(),
            metrics: Arc::clone(&self.settings.metrics),
        };
        sessions.insert(info.id.clone(), handle.clone());
        let actor = SessionActor::new(info, schedule, Arc::clone(self), &handle, for_join, hold);
        let span = info_span!("session", sid = %info.id);
        self.tracker.spawn(actor.run(rx).instrument(span));
        handle
    }

    fn forget(&self, sid: &str, generation: u64) {
        let mut sessions = self.lock();
        if sessions
            .get(sid)
            .is_some_and(|h| h.generation == generation)
        {
            sessions.remove(sid);
        }
    }
}
