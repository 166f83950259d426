//! Live sessions: one actor task per session owns its roster, and
//! connections talk to it through a bounded channel.
//!
//! The actor is the only place that decides who is in the session, so relays
//! can only reach members of the same session, and a second connection of the
//! same person replaces the first in one step. It never waits on a
//! connection: messages go into each connection's bounded queue with
//! `try_send`, and a connection whose queue is full is closed as too slow
//! rather than allowed to hold the others back or grow memory.
//!
//! An actor ends when its last member leaves; the [`Registry`] spawns a new one
//! on the next join. A join that races with an actor ending sees its reply
//! channel dropped and retries against a fresh actor.
//!
//! # Layout
//! - `registry`: every live session of the process; spawns an actor on the
//!   first join and forgets it when it ends.
//! - `handle`: [`SessionHandle`], the typed API a connection calls.
//! - `commands`: what a handle sends to the actor, one variant per request.
//! - `actor`: the actor's state, its loop, its start-up from the ledger, and
//!   `handle`, which only dispatches each command to a method below; also the
//!   one way the actor writes to the ledger off its loop (`record`).
//! - `roster`: joins, leaves, removals, relays, media state, sending.
//! - `signin`: sign-in windows, sign-ins and countersignatures (the rules
//!   are pure, in [`crate::live::signin`]).
//! - `gate`: the recording gate's rules, pure: each person's decision, whether
//!   the gate is open and why a segment closes.
//! - `consent`: decisions as they are written, the gate applied, and the
//!   recording status each role sees.
//! - `segments`: recording segments, recorder signalling, and recovery of a
//!   segment a previous process left open.
//! - `quality`: the glue to [`crate::live::quality`] (pushes, summaries,
//!   alerts, the optional automatic suspension).
//! - `control`: suspend, resume, postpone, end, remove.
//! - `forwarding`: how the media travels (peer to peer, or forwarded by the
//!   server from the third person), and the glue to [`crate::forward`].
//! - `quiz`: quizzes, their opening and completions recorded before they
//!   are shown or acknowledged; answers and scores in memory only.
//! - `errors`: the error bodies the actor answers with.

mod actor;
mod classroom;
mod commands;
mod consent;
mod control;
mod errors;
mod forwarding;
mod gate;
mod handle;
mod quality;
mod quiz;
mod registry;
mod roster;
mod routes;
mod screen;
mod segments;
mod signin;

pub use control::{ControlRequest, checked_reason, postponement_window};
pub use handle::SessionHandle;
pub(crate) use quiz::QuizCommand;
pub use registry::{JoinError, Registry};
pub use roster::Connected;
pub(crate) use screen::ScreenRequest;

use crate::live::outbound::ConnectionControl;
use crate::live::quality::QualityConfig;
use cadre_protocol::Role;
use cadre_protocol::signalling::{IcePolicy, IceServer};
use std::sync::Arc;
use std::time::Duration;

/// Settings every session shares.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// ICE servers for the welcome, as configured.
    pub ice_servers: Vec<IceServer>,
    /// TURN servers with credentials minted per join, added to those.
    pub turn: Option<Arc<crate::turn::TurnCredentials>>,
    /// Candidate policy for the welcome.
    pub ice_policy: IcePolicy,
    /// Heartbeat period announced in the welcome.
    pub heartbeat_interval: Duration,
    /// Connection quality thresholds and alert rules.
    pub quality: QualityConfig,
    /// Where a session's end is announced, so its log is anchored at once.
    pub anchor: crate::evidence::anchoring::AnchorQueue,
    /// How media travels in sessions that did not choose.
    pub media_mode: cadre_protocol::session::MediaMode,
    /// Most people connected at once to a forwarded session.
    pub forwarded_members: usize,
    /// The server's forwarding limit, shared by every session.
    pub forwarding_capacity: std::sync::Arc<crate::forward::Capacity>,
    /// Address the forwarding's connections bind.
    pub media_ip: std::net::IpAddr,
    /// The server's counters (relays, queue drops, alerts).
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// When mail is sent: wakes the sender once a postponement's notices
    /// are queued. None: no mail, nothing queued.
    pub mail: Option<std::sync::Arc<tokio::sync::Notify>>,
}

impl SessionSettings {
    /// The ICE servers `id` gets now: the configured ones, then TURN with
    /// fresh credentials.
    pub fn ice_servers_for(&self, id: &str) -> Vec<IceServer> {
        let mut servers = self.ice_servers.clone();
        if let Some(turn) = &self.turn {
            servers.push(turn.mint(id, unix_now()));
        }
        servers
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A person joining with one connection.
pub struct Joining {
    /// Participant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// This connection's id.
    pub connection_id: String,
    /// The connection's queue, and how the actor closes it.
    pub control: Arc<ConnectionControl>,
}

pub use cadre_protocol::now_ms;
