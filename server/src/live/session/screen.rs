//! Screen sharing in the actor: who shares, who may, and whether a second
//! sharer takes over. The server decides, and everyone's page shows only
//! the screen of the person named here; in a forwarded session the server
//! also forwards only that person's screen (`Forwarder::set_sharer`), so a
//! page sending a screen without permission reaches nobody.
//!
//! Nothing of it is evidence; a recorded segment holds the shared screen as
//! a file of its own, under the same consent gate as the cameras.

use super::actor::SessionActor;
use cadre_protocol::evidence::ACTOR_SERVER;
use cadre_protocol::screen::ShareChange;
use cadre_protocol::signalling::ServerMessage;
use cadre_protocol::{ErrorCode, Role, now_ms};

/// A request about screen sharing, as the connection read it.
#[derive(Debug)]
pub(crate) enum ScreenRequest {
    /// Start (one's own) or stop (one's own, or a facilitator someone's).
    Share {
        sharing: bool,
        audio: bool,
        participant: Option<String>,
    },
    /// A facilitator's permissions.
    Policy {
        participant: Option<String>,
        allowed: Option<bool>,
        takeover: Option<bool>,
    },
}

/// Most participants a facilitator may allow at once (every participant of
/// a large class is still far below).
const MAX_ALLOWED: usize = 200;

impl SessionActor {
    pub(super) fn screen(&mut self, id: &str, connection_id: &str, request: ScreenRequest) {
        if !self.is_current(id, connection_id) {
            return;
        }
        match request {
            ScreenRequest::Share {
                sharing: true,
                audio,
                participant,
            } => self.start_share(id, audio, participant),
            ScreenRequest::Share {
                sharing: false,
                participant,
                ..
            } => self.stop_share(id, participant),
            ScreenRequest::Policy {
                participant,
                allowed,
                takeover,
            } => self.share_policy(id, participant, allowed, takeover),
        }
    }

    fn start_share(&mut self, id: &str, audio: bool, participant: Option<String>) {
        if participant.as_deref().is_some_and(|p| p != id) {
            self.refuse(
                id,
                ErrorCode::Forbidden,
                "nobody can share someone else's screen",
                "share",
            );
            return;
        }
        let facilitator = self.is_facilitator(id);
        if !self.screen.may_share(id, facilitator) {
            self.refuse(
                id,
                ErrorCode::Forbidden,
                "a facilitator has not allowed you to share your screen",
                "share",
            );
            return;
        }
        let change = match self.screen.sharer.as_deref() {
            Some(current) if current == id => {
                if self.screen.audio == audio {
                    return;
                }
                ShareChange::Started
            }
            Some(_) if !facilitator && !self.screen.takeover => {
                self.refuse(
                    id,
                    ErrorCode::Conflict,
                    "someone else is sharing; a facilitator has not allowed taking over",
                    "share",
                );
                return;
            }
            Some(_) => ShareChange::Replaced,
            None => ShareChange::Started,
        };
        // Each change reaches everyone: one a second, like the class's.
        if !self.allowed(id, "share") {
            return;
        }
        self.screen.sharer = Some(id.to_owned());
        self.screen.audio = audio;
        self.screen.since = Some(now_ms());
        self.screen_changed(change, id);
    }

    fn stop_share(&mut self, id: &str, participant: Option<String>) {
        let whose = participant.unwrap_or_else(|| id.to_owned());
        let by_other = whose != id;
        if by_other && !self.is_facilitator(id) {
            self.refuse(
                id,
                ErrorCode::Forbidden,
                "only a facilitator stops someone else's share",
                "share",
            );
            return;
        }
        if self.screen.sharer.as_deref() != Some(whose.as_str()) {
            // Already stopped (two clicks, or the share ended meanwhile):
            // nothing to change, and nothing wrong.
            return;
        }
        if !self.allowed(id, "share") {
            return;
        }
        self.end_share();
        let change = if by_other {
            ShareChange::StoppedBy
        } else {
            ShareChange::Stopped
        };
        self.screen_changed(change, id);
    }

    fn share_policy(
        &mut self,
        id: &str,
        participant: Option<String>,
        allowed: Option<bool>,
        takeover: Option<bool>,
    ) {
        if !self.is_facilitator(id) {
            self.refuse(
                id,
                ErrorCode::Forbidden,
                "only a facilitator decides who shares",
                "share_policy",
            );
            return;
        }
        let permission = match (participant, allowed) {
            (Some(p), Some(a)) => Some((p, a)),
            (None, None) => None,
            _ => {
                self.refuse(
                    id,
                    ErrorCode::InvalidInput,
                    "participant and allowed go together",
                    "share_policy",
                );
                return;
            }
        };
        if permission.is_none() && takeover.is_none() {
            self.refuse(
                id,
                ErrorCode::InvalidInput,
                "nothing to change",
                "share_policy",
            );
            return;
        }
        if let Some((p, _)) = &permission {
            let Some(role) = self.roll.iter().find(|m| m.id == *p).map(|m| m.role) else {
                self.refuse(
                    id,
                    ErrorCode::UnknownPeer,
                    &format!("{p} is not a participant of this session"),
                    "share_policy",
                );
                return;
            };
            if role == Role::Facilitator {
                self.refuse(
                    id,
                    ErrorCode::InvalidInput,
                    "a facilitator may always share",
                    "share_policy",
                );
                return;
            }
        }
        if let Some((p, true)) = &permission
            && !self.screen.allowed.contains(p)
            && self.screen.allowed.len() >= MAX_ALLOWED
        {
            self.refuse(
                id,
                ErrorCode::InvalidInput,
                &format!("at most {MAX_ALLOWED} participants allowed at once"),
                "share_policy",
            );
            return;
        }
        if !self.allowed(id, "share_policy") {
            return;
        }
        let mut ended = false;
        if let Some((p, allowed)) = permission {
            if allowed {
                if !self.screen.allowed.contains(&p) {
                    self.screen.allowed.push(p);
                }
            } else {
                self.screen.allowed.retain(|a| *a != p);
                // Permission withdrawn while sharing: the share ends now.
                if self.screen.sharer.as_deref() == Some(p.as_str()) {
                    self.end_share();
                    ended = true;
                }
            }
        }
        if let Some(takeover) = takeover {
            self.screen.takeover = takeover;
        }
        let change = if ended {
            ShareChange::StoppedBy
        } else {
            ShareChange::Policy
        };
        self.screen_changed(change, id);
    }

    /// The sharer left, or their tab was replaced (the new tab has no
    /// capture): the share ends.
    pub(super) fn screen_left(&mut self, id: &str) {
        if self.screen.sharer.as_deref() == Some(id) {
            self.end_share();
            self.screen_changed(ShareChange::Ended, ACTOR_SERVER);
        }
    }

    fn end_share(&mut self) {
        self.screen.sharer = None;
        self.screen.audio = false;
        self.screen.since = None;
    }

    fn screen_changed(&mut self, change: ShareChange, by: &str) {
        self.forward_sharer();
        self.broadcast(
            &ServerMessage::Screen {
                screen: self.screen.clone(),
                change,
                by: by.to_owned(),
            },
            None,
        );
    }
}
