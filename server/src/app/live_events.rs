//! What the live rooms of every node must hear of a change made through
//! any node or the command line, on a database several nodes share: a link
//! revoked (the person is let go at once), a session retitled, a person
//! added or renamed. The change is committed first; then the node that made
//! it tells its own live room and sends the event through PostgreSQL's
//! `NOTIFY`, which every node `LISTEN`s to (`postgres::Driver::listen`) and
//! applies to its own room when it runs that session. On SQLite (one
//! server) only the local room is told, as before.
//!
//! A node that lost its listening connection and got it back may have
//! missed events: it then lets go whoever is connected with a link revoked
//! meanwhile (the one event whose miss matters: a retitle or a rename
//! reaches the room at its next join).

use super::App;
use cadre_protocol::Role;
use cadre_protocol::session::Me;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// A change live rooms must hear of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LiveEvent {
    /// `pid`'s links to `sid` were revoked.
    Revoked {
        /// Session.
        sid: String,
        /// Person.
        pid: String,
    },
    /// `sid`'s title was corrected.
    Retitled {
        /// Session.
        sid: String,
        /// The title now.
        title: String,
    },
    /// A person was added to `sid`, or their name corrected.
    Enrolled {
        /// Session.
        sid: String,
        /// Person.
        id: String,
        /// Their name now.
        name: String,
        /// Their role.
        role: Role,
    },
}

/// An event as sent: who sent it, so that the sender skips its own.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    origin: String,
    #[serde(flatten)]
    event: LiveEvent,
}

impl App {
    /// Tells every other node's live room of `event` (this node's is told
    /// by the caller, which wants its answer).
    pub(crate) async fn tell_other_nodes(&self, event: LiveEvent) {
        if !self.catalog().is_postgres() {
            return;
        }
        let envelope = Envelope {
            origin: self.catalog().origin().to_owned(),
            event,
        };
        let payload = match serde_json::to_string(&envelope) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "a live event that does not serialise");
                return;
            }
        };
        if let Err(e) = self.catalog().run(move |c| c.notify(&payload)).await {
            // Committed already: the other nodes' rooms learn it at the
            // person's next join (a revoked link is refused there).
            tracing::warn!(error = %e, "telling the other nodes of a change");
        }
    }

    /// Applies what the other nodes send until `stop` (nothing on SQLite).
    pub async fn hear_live_events(&self, stop: CancellationToken) {
        let Some(mut heard) = self.catalog().listen(stop.clone()) else {
            return;
        };
        loop {
            let message = tokio::select! {
                () = stop.cancelled() => break,
                message = heard.recv() => message,
            };
            match message {
                None => break,
                Some(crate::postgres::Heard::Payload(payload)) => {
                    match serde_json::from_str::<Envelope>(&payload) {
                        Ok(e) if e.origin == self.catalog().origin() => {}
                        Ok(e) => self.apply_live(&e.event).await,
                        Err(e) => tracing::warn!(error = %e, "an unreadable live event"),
                    }
                }
                Some(crate::postgres::Heard::Resumed) => self.let_go_revoked().await,
            }
        }
    }

    async fn apply_live(&self, event: &LiveEvent) {
        let registry = self.registry();
        match event {
            LiveEvent::Revoked { sid, pid } => {
                registry.revoke(sid, pid).await;
            }
            LiveEvent::Retitled { sid, title } => registry.retitled(sid, title.clone()).await,
            LiveEvent::Enrolled {
                sid,
                id,
                name,
                role,
            } => {
                let me = Me {
                    id: id.clone(),
                    name: name.clone(),
                    role: *role,
                };
                registry.enrolled(sid, me).await;
            }
        }
    }

    /// Lets go whoever is connected here with a link revoked since: what a
    /// missed `Revoked` would have done.
    async fn let_go_revoked(&self) {
        let registry = self.registry();
        for sid in registry.live_session_ids() {
            let Some(connected) = registry.connected(&sid).await else {
                continue;
            };
            let s = sid.clone();
            let people = match self.catalog().run(move |c| c.session_detail(&s)).await {
                Ok(detail) => detail.people,
                Err(e) => {
                    tracing::warn!(sid, error = %e, "checking revocations after a reconnection");
                    continue;
                }
            };
            for (person, link) in people {
                if link.revoked_at.is_some() && connected.iter().any(|c| c.id == person.id) {
                    registry.revoke(&sid, &person.id).await;
                }
            }
        }
    }
}
