//! Signalling messages over the session WebSocket (`/ws/{session_id}?token=…`).
//!
//! Every message is one JSON text frame, internally tagged by `type`.
//! The server is the authority on who is in the session: a client learns the
//! roster from [`ServerMessage::Welcome`] and the `peer_*` messages, and can
//! only reach peers of its own session.
//!
//! Perfect negotiation: each roster entry carries `polite`, the role *this*
//! client plays towards that peer. The server derives it from the two
//! participant ids, so both sides always agree and it survives reconnections.

use crate::classroom::{ChatLine, HandChange, Poll, RaisedHand, Reaction};
use crate::difficulties::Difficulty;
use crate::quality::{Alert, ConnectionStats, ParticipantQuality, PeerStats};
use crate::quiz::{NewQuizQuestion, Quiz};
use crate::session::Consents;
pub use crate::session::{Me, MediaMode, MediaRoute, PeerId, SessionInfo};
use crate::{ErrorBody, ErrorCode, Role, SessionState};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// An opaque JSON payload (SDP, ICE candidate), kept as the sender wrote it.
///
/// It serialises as the raw JSON it holds. serde cannot hand a raw value
/// through an internally tagged enum, so deserialising it *inside* a message
/// enum goes through a parsed value; the server does not do that: it reads
/// client messages with [`parse_client_message`], which keeps the bytes.
#[derive(Debug, Clone)]
pub struct Opaque(Box<RawValue>);

impl PartialEq for Opaque {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for Opaque {}

impl Opaque {
    /// Wraps raw JSON.
    pub fn from_raw(raw: Box<RawValue>) -> Self {
        Opaque(raw)
    }

    /// Wraps a JSON value.
    pub fn from_value(value: &serde_json::Value) -> Self {
        // A Value always prints as valid JSON.
        Opaque(RawValue::from_string(value.to_string()).unwrap_or_else(|_| null_raw()))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

fn null_raw() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).unwrap_or_default()
}

impl Serialize for Opaque {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Opaque {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(Opaque::from_value(&value))
    }
}

/// What a client sends.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientMessage {
    /// Relay `data` (an SDP description or an ICE candidate, opaque to the
    /// server) to the peer `to` of the same session.
    Signal {
        /// The target participant id.
        to: PeerId,
        /// Opaque payload, relayed byte for byte.
        data: Opaque,
    },
    /// Keep-alive and liveness evidence; answered by `heartbeat_ack`.
    Heartbeat {
        /// The client's own clock (ms since the Unix epoch), kept as a claim.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_time: Option<i64>,
    },
    /// Camera and microphone switched on or off (shown to the others).
    MediaState {
        /// Camera sending.
        camera: bool,
        /// Microphone sending.
        microphone: bool,
    },
    /// The person leaves on purpose. The server records it, answers with a
    /// `receipt`, then closes the socket.
    Leave,
    /// Tab visibility and window focus, sent when either changes (evidence
    /// of presence; recorded only on change).
    Presence {
        /// The tab is visible.
        visible: bool,
        /// The window has focus.
        focused: bool,
        /// The client's own clock (ms), kept as a claim.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_time: Option<i64>,
    },
    /// Signs in (émargement) for the open half-day slot.
    SignIn {
        /// The slot, as announced by `signin_open`.
        slot: String,
        /// Optional drawn signature: strokes of `[x, y, t]` points, x and y
        /// in 0..=1000, t in ms from the stroke's start.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<Vec<Vec<[i64; 3]>>>,
        /// The client's own clock (ms), kept as a claim.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_time: Option<i64>,
    },
    /// Facilitator only: opens the sign-in window of the current slot now.
    OpenSignin,
    /// Facilitator only: countersigns a participant's sign-in for a slot.
    Countersign {
        /// The slot.
        slot: String,
        /// The participant whose sign-in is countersigned.
        participant: PeerId,
    },
    /// Asks for every ledger entry about oneself (answered by `evidence`).
    GetEvidence,
    /// Grants or withdraws a consent, for the wording whose hash is given
    /// (one of the session's `consent_texts`).
    Consent {
        /// `recording` or `sponsor_share`.
        consent: String,
        /// Granted (true) or withdrawn / refused (false).
        granted: bool,
        /// SHA-256 of the wording the person was shown.
        text_sha256: String,
    },
    /// Facilitator only: arms (`true`) or disarms recording. Armed, the
    /// server records only while every connected person has granted
    /// `recording`.
    Recording {
        /// Arm or disarm.
        armed: bool,
    },
    /// Facilitator only: a control of the session, always with a reason
    /// that every participant receives.
    Control {
        /// What to do.
        action: ControlAction,
        /// Why (required, shown to everyone, recorded).
        reason: String,
        /// `postpone`: the new planned start (RFC 3339, or a local date-time
        /// in the session's time zone).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start: Option<String>,
        /// `postpone`: the new planned end.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end: Option<String>,
        /// `remove`: who.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant: Option<PeerId>,
    },
    /// Connection figures from `getStats()`, every few seconds (at most one
    /// a second is taken).
    Stats {
        /// The figures.
        #[serde(flatten)]
        stats: ConnectionStats,
    },
    /// Files a difficulty report (answered in writing by the organiser).
    #[serde(rename = "report")]
    Difficulty {
        /// What went wrong (1 to 4000 characters).
        text: String,
    },
    /// Signalling of one's own recorder peer connection (publishing one's
    /// camera and microphone to the server): an SDP offer, or an ICE
    /// candidate in the browser's `RTCIceCandidateInit` shape. Accepted
    /// only while `segment` is the open segment and the sender has granted
    /// `recording`.
    RecorderSignal {
        /// The open segment, as announced in `recording_state`.
        segment: u64,
        /// `{"type":"offer","sdp":…}` or a candidate.
        data: Opaque,
    },
    /// A chat message: to everyone, or privately `to` one person of the
    /// session (a participant may write privately only to a facilitator).
    /// Plain text, 1 to [`crate::classroom::MAX_CHAT_CHARS`] characters.
    Chat {
        /// The message.
        text: String,
        /// A private message's recipient (participant id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// Raises or lowers one's hand; a facilitator may lower someone else's
    /// (`participant`), nobody may raise it for them.
    Hand {
        /// Raise (true) or lower.
        raised: bool,
        /// Whose hand, when not one's own (facilitators, lowering only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant: Option<String>,
    },
    /// A quick reaction, shown to everyone for a moment.
    React {
        /// Which.
        reaction: Reaction,
    },
    /// Facilitators: mutes one person's microphone (`participant`), or
    /// everyone's but the facilitators' (no `participant`). The person is
    /// told who did it and may unmute themselves at any time.
    Mute {
        /// Whose microphone; absent: everyone's but the facilitators'.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant: Option<String>,
    },
    /// Facilitators: asks a person to turn their microphone back on (only
    /// they can).
    AskUnmute {
        /// Whom.
        participant: String,
    },
    /// Facilitators: puts an anonymous poll to the group (the previous one,
    /// if open, closes).
    Poll {
        /// The question (1 to 300 characters).
        question: String,
        /// Two to six answers (1 to 120 characters each).
        choices: Vec<String>,
    },
    /// Answers the open poll (once).
    Answer {
        /// The poll's `id`.
        poll: u64,
        /// The index of the answer chosen.
        choice: usize,
    },
    /// Facilitators: closes the open poll; everyone sees the counts.
    ClosePoll {
        /// The poll's `id`.
        poll: u64,
    },
    /// Facilitators: launches a quiz (one at a time), whose opening is
    /// recorded (`quiz_opened`) before anyone is shown it.
    Quiz {
        /// Its title (1 to 120 characters).
        title: String,
        /// One to ten questions, each with its right answers.
        questions: Vec<NewQuizQuestion>,
    },
    /// Submits one's answers to the open quiz, once: recorded as completed
    /// (`quiz_completed`, without the answers) before it is acknowledged.
    SubmitQuiz {
        /// The quiz's `id`.
        quiz: String,
        /// Per question, the indexes chosen.
        answers: Vec<Vec<usize>>,
    },
    /// Facilitators: closes the open quiz; each person then sees their
    /// score and the right answers.
    CloseQuiz {
        /// The quiz's `id`.
        quiz: String,
    },
    /// Facilitators: shows one connected person's picture large on every
    /// page (`participant`), or stops (no `participant`).
    Spotlight {
        /// Whom; absent: nobody any more.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant: Option<String>,
    },
    /// Starts sharing one's screen (`sharing: true`, allowed to
    /// facilitators and to the participants they allowed), or stops
    /// (`false`): one's own share, or, for a facilitator, `participant`'s.
    Share {
        /// Start or stop.
        sharing: bool,
        /// Starting: the shared screen carries its sound.
        #[serde(default)]
        audio: bool,
        /// Stopping someone else's share (facilitators).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant: Option<String>,
    },
    /// Facilitators: who may share and whether a second sharer replaces
    /// the current one. At least one of the two changes.
    SharePolicy {
        /// Allows (`allowed`) or stops allowing this participant to share.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant: Option<String>,
        /// With `participant`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        allowed: Option<bool>,
        /// A second sharer replaces the current one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        takeover: Option<bool>,
    },
    /// Signalling of one's connections to the server while the session is
    /// forwarded (`media_route`): on the `publish` side, one's own offer
    /// (camera and microphone, send-only) or a candidate; on the
    /// `subscribe` side, the answer to the server's offer or a candidate.
    Forward {
        /// Which connection.
        side: ForwardSide,
        /// A description (`{"type":…,"sdp":…}`) or a candidate.
        data: Opaque,
    },
    /// In a forwarded session: how much of each person's camera this page
    /// shows now (tiles on screen and their size); a person not named
    /// keeps what was said before (`low` at first).
    ForwardView {
        /// At most 64.
        views: Vec<CameraView>,
    },
}

/// How much of a person's camera one wants, from the size of their tile
/// (a forwarded session: the server sends the simulcast layer that fits,
/// within what the connection carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VideoQuality {
    /// Not shown: nothing is sent.
    Off,
    /// A thumbnail.
    Low,
    /// A middle-sized tile.
    Medium,
    /// A large tile (the speaker, a shared view).
    High,
}

/// How much of one person's camera a page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraView {
    /// The person (participant id).
    pub id: PeerId,
    /// How much.
    pub quality: VideoQuality,
}

/// One of a person's two connections to the server in a forwarded session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardSide {
    /// One's camera and microphone, offered by the client.
    Publish,
    /// The others' tracks, offered by the server (again whenever someone
    /// starts or stops publishing).
    Subscribe,
}

/// A facilitator's control of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlAction {
    /// Pause the session: media stops, recording closes, attendance does
    /// not count the time.
    Suspend,
    /// Resume a suspended session.
    Resume,
    /// Move the session to a new window (the same links stay valid).
    Postpone,
    /// End the session.
    End,
    /// Remove a person (their link stops working unless re-admitted).
    Remove,
    /// The server's own
    /// act, never a client's: the session runs, because its planned start
    /// has come with someone in the call (from `open`, or from `postponed`
    /// once the new window starts). A control that names it is refused.
    Start,
}

/// The latest decision about the session's state, as everyone sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateNotice {
    /// The state it led to.
    pub state: SessionState,
    /// The action.
    pub action: ControlAction,
    /// The reason given.
    pub reason: String,
    /// Who decided (display name).
    pub by: String,
    /// When (ms).
    pub at: i64,
    /// After a postponement: the new planned start (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_start: Option<String>,
    /// After a postponement: the new planned end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_end: Option<String>,
}

/// Why a peer left the roster (also the reason given to a closed connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LeaveReason {
    /// Left on purpose.
    Left,
    /// The socket closed without a `leave` (network loss, tab closed).
    Disconnected,
    /// No heartbeat or pong for too long: closed at the last time seen.
    Timeout,
    /// Replaced by a newer connection of the same person.
    Replaced,
    /// Disconnected for flooding.
    Flood,
    /// Disconnected for not reading its messages.
    SlowConsumer,
    /// The organiser revoked the link.
    Revoked,
    /// The server is shutting down.
    Shutdown,
    /// A facilitator removed the person.
    Removed,
    /// The session ended.
    Ended,
}

/// Another person connected to the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// Participant id.
    pub id: PeerId,
    /// Display name.
    pub name: String,
    /// Role in this session.
    pub role: Role,
    /// The id of the peer's current connection: a new value for a known
    /// `id` means the peer reconnected and negotiation starts over.
    pub connection_id: String,
    /// Whether *you* are the polite side towards this peer.
    pub polite: bool,
    /// Camera sending, as last reported by the peer.
    pub camera: bool,
    /// Microphone sending, as last reported by the peer.
    pub microphone: bool,
}

/// One ICE server, in the browser's `RTCIceServer` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:` or `turn:` URLs.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Which ICE candidates clients should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IcePolicy {
    /// Every candidate (normal operation).
    All,
    /// Only 127.0.0.1 candidates: test rigs on one machine.
    Loopback,
    /// Only TURN relays (`iceTransportPolicy: "relay"`): a test of the
    /// relay path, or a deployment that must hide people's addresses.
    Relay,
}

/// One half-day slot of the session, as this person sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotStatus {
    /// `YYYY-MM-DD.am` or `YYYY-MM-DD.pm` in the session's time zone.
    pub slot: String,
    /// Planned start of the slot's part of the session (ms).
    pub start: i64,
    /// Planned end (ms).
    pub end: i64,
    /// The sign-in window, when open: its closing time (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signin_closes_at: Option<i64>,
    /// When you signed in (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<i64>,
    /// When your sign-in was countersigned (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub countersigned_at: Option<i64>,
}

/// Where recording stands, as one person may see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingStatus {
    /// A facilitator asked for the session to be recorded.
    pub armed: bool,
    /// Recording runs now: armed and everyone connected consented. Every
    /// page shows it unmistakably.
    pub active: bool,
    /// The open segment while active: publish to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<u64>,
    /// Since when it runs (ms), while active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Facilitators only: how many connected people have not granted
    /// `recording` (a count, never who).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<u32>,
    /// Why recording stopped on its own and was disarmed (`storage_full`,
    /// `storage_error`); cleared when a facilitator arms again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// What the server sends.
// Messages are built and serialised at once, never stored, so the size of
// the welcome variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerMessage {
    /// First message on every connection.
    Welcome {
        /// [`crate::PROTOCOL_VERSION`].
        protocol: u32,
        /// This connection's id.
        connection_id: String,
        /// Who you are.
        you: Me,
        /// The session.
        session: SessionInfo,
        /// Everyone else connected now.
        roster: Vec<Peer>,
        /// ICE servers for `RTCPeerConnection`.
        ice_servers: Vec<IceServer>,
        /// Which candidates to keep.
        ice_policy: IcePolicy,
        /// Send a `heartbeat` this often; the server drops a connection
        /// silent for three intervals.
        heartbeat_interval_ms: u64,
        /// Server clock, ms since the Unix epoch (the time that counts).
        server_time: i64,
        /// Half-day slots of the session and this person's sign-ins.
        slots: Vec<SlotStatus>,
        /// Your current consent decisions.
        consents: Consents,
        /// Recording, as you may see it.
        #[serde(default)]
        recording: RecordingStatus,
        /// The latest control decision (suspension, postponement…) with its
        /// reason, so that a reconnecting client shows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notice: Option<StateNotice>,
        /// Everyone in the session, connected or not: sent to facilitators
        /// only (a participant learns the names of those connected).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        people: Vec<Me>,
        /// How the media travels now: `peer`, connect to each roster entry;
        /// `forwarded`, publish to the server and answer its offers.
        #[serde(default)]
        media: MediaRoute,
        /// The session's chat so far, as you may read it (everyone's
        /// messages, and the private ones you sent or received).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        chat: Vec<ChatLine>,
        /// Hands raised now, in the order of raising.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        hands: Vec<RaisedHand>,
        /// The person a facilitator shows large on every page, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        spotlight: Option<String>,
        /// The latest poll, as you may see it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        poll: Option<Poll>,
        /// Screen sharing now: who shares, who may.
        #[serde(default, skip_serializing_if = "crate::screen::ScreenShare::is_idle")]
        screen: crate::screen::ScreenShare,
        /// The latest quiz, as you may see it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quiz: Option<Quiz>,
    },
    /// Screen sharing changed (to everyone).
    Screen {
        /// As it is now.
        screen: crate::screen::ScreenShare,
        /// What changed.
        change: crate::screen::ShareChange,
        /// Who changed it: the person, a facilitator, or `server`.
        by: String,
    },
    /// A quiz was launched, submitted to (your submission; everyone's, to
    /// facilitators) or closed (your score and the right answers).
    Quiz {
        /// The quiz as you may see it.
        quiz: Box<Quiz>,
    },
    /// A poll was put, answered (its counts, to facilitators), or closed
    /// (its counts, to everyone).
    Poll {
        /// The poll as you may see it.
        poll: Poll,
    },
    /// A chat message (to everyone, or a private one you sent or received).
    Chat {
        /// The message.
        #[serde(flatten)]
        line: ChatLine,
    },
    /// The raised hands changed: all of them, in the order of raising, and
    /// what changed.
    Hands {
        /// Hands raised now.
        raised: Vec<RaisedHand>,
        /// The change.
        change: HandChange,
    },
    /// The server refused someone's camera and microphone: it forwards as
    /// much as it may. Their picture stays empty until they publish again.
    ForwardRefused {
        /// Whose.
        id: String,
    },
    /// A facilitator muted your microphone (the page turns it off; you may
    /// turn it on again).
    Muted {
        /// Who did.
        by: String,
        /// Everyone's but the facilitators' were muted, not only yours.
        everyone: bool,
    },
    /// A facilitator asks you to turn your microphone back on.
    UnmuteAsked {
        /// Who asks.
        by: String,
    },
    /// Who is shown large on every page changed.
    Spotlight {
        /// Whom now; absent: nobody.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// A facilitator, or `server` (the person left).
        by: String,
    },
    /// Someone reacted.
    Reaction {
        /// Who.
        id: String,
        /// How.
        reaction: Reaction,
        /// When (ms).
        at: i64,
    },
    /// The session's media moves (`forwarded` from the third person in
    /// `auto` mode): connect the new way, then close the old one.
    MediaRoute {
        /// How the media travels from now on.
        route: MediaRoute,
        /// When (ms).
        at: i64,
    },
    /// Signalling of one's connections to the server in a forwarded
    /// session: on the `publish` side, the server's answer to one's offer;
    /// on the `subscribe` side, the server's offer (the others' tracks,
    /// candidates included), to answer with `forward`.
    Forward {
        /// Which connection.
        side: ForwardSide,
        /// The description.
        data: Opaque,
    },
    /// One of one's connections to the server failed: make it again
    /// (`publish`: offer again; `subscribe`: the server offers anew).
    ForwardFailed {
        /// Which connection.
        side: ForwardSide,
    },
    /// Fresh ICE servers, sent some minutes before the TURN credentials of
    /// the welcome (or of the last such message) expire: apply them to
    /// every peer connection (`setConfiguration`) and use them for ICE
    /// restarts. Allocations already made keep working.
    IceServers {
        /// The same list as the welcome's, with new credentials.
        ice_servers: Vec<IceServer>,
        /// When these credentials expire (ms since the Unix epoch).
        expires_at: i64,
    },
    /// Someone connected (or reconnected: same `id`, new `connection_id`).
    PeerJoined {
        /// The peer.
        peer: Peer,
    },
    /// Someone's connection ended.
    PeerLeft {
        /// Participant id.
        id: PeerId,
        /// Why.
        reason: LeaveReason,
    },
    /// A peer's camera or microphone changed.
    PeerMedia {
        /// Participant id.
        id: PeerId,
        /// Camera sending.
        camera: bool,
        /// Microphone sending.
        microphone: bool,
    },
    /// A relayed payload from a peer of the same session.
    Signal {
        /// Sender's participant id.
        from: PeerId,
        /// The payload exactly as the sender wrote it.
        data: Opaque,
    },
    /// A sign-in window opened (automatically at a slot's start, or by the
    /// facilitator).
    SigninOpen {
        /// The slot.
        slot: String,
        /// When the window closes (ms).
        closes_at: i64,
    },
    /// Your sign-in is durable in the ledger.
    Signed {
        /// The slot.
        slot: String,
        /// Server time of the sign-in (ms).
        at: i64,
        /// A receipt: the signed tree head covering it (absent if it could
        /// not be signed; the sign-in itself is recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt: Option<String>,
    },
    /// A sign-in was countersigned (sent to the facilitators and to the
    /// participant concerned).
    Countersigned {
        /// The slot.
        slot: String,
        /// The participant.
        participant: PeerId,
        /// Server time (ms).
        at: i64,
    },
    /// To facilitators: who has signed and been countersigned for a slot.
    SigninStatus {
        /// The slot.
        slot: String,
        /// Participants who signed, with the time (ms).
        signed: Vec<(PeerId, i64)>,
        /// Participants countersigned.
        countersigned: Vec<PeerId>,
    },
    /// Every ledger entry about you (answer to `get_evidence`).
    Evidence {
        /// Stored entry texts, in log order.
        entries: Vec<String>,
    },
    /// A new ledger entry about you is durable (live view of your evidence).
    EvidenceRecorded {
        /// The stored entry text.
        entry: String,
    },
    /// Your consent decision is durable in the ledger.
    ConsentRecorded {
        /// `recording` or `sponsor_share`.
        consent: String,
        /// The decision.
        granted: bool,
        /// Server time (ms).
        at: i64,
    },
    /// The session's state changed by a facilitator's decision (to
    /// everyone, with the reason), or a person was removed (`action`
    /// `remove`, naming them in `participant`: to everyone, the reason
    /// only to the removed person and the facilitators, empty for the
    /// others).
    SessionState {
        /// The decision.
        notice: StateNotice,
        /// `remove`: who was removed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant: Option<PeerId>,
    },
    /// Live connection and presence quality: to facilitators about
    /// everyone, to each person about themselves.
    Quality {
        /// The views that changed.
        people: Vec<ParticipantQuality>,
    },
    /// To facilitators: the session's health calls for attention.
    Alert {
        /// What holds, with the evidence and the suggested action.
        alert: Alert,
    },
    /// To facilitators: an alert's condition no longer holds.
    AlertCleared {
        /// The rule.
        rule: String,
        /// When (ms).
        at: i64,
    },
    /// One of your difficulty reports, filed or answered.
    #[serde(rename = "report")]
    Difficulty {
        /// The difficulty as it stands.
        #[serde(rename = "report")]
        difficulty: Difficulty,
    },
    /// The organisation recorded an article 2.1.7
    /// change of your action (adapted, paused, resumed, interrupted).
    ActionChanged {
        /// The change, with its reason.
        change: crate::action::ActionChange,
    },
    /// Recording changed (armed, started, stopped, count of missing
    /// consents for facilitators).
    RecordingState {
        /// The new status.
        recording: RecordingStatus,
    },
    /// Signalling of your recorder peer connection: the server's SDP
    /// answer, or one of its ICE candidates.
    RecorderSignal {
        /// The segment it belongs to.
        segment: u64,
        /// `{"type":"answer","sdp":…}` or a candidate.
        data: Opaque,
    },
    /// A signed tree head for you to keep (at sign-in and on leaving).
    Receipt {
        /// The signed tree head (JWS).
        tree_head: String,
    },
    /// Answer to a `heartbeat`.
    HeartbeatAck {
        /// Server clock, ms since the Unix epoch.
        server_time: i64,
    },
    /// A request failed; nothing was changed and the socket stays open.
    Error {
        /// Stable code.
        code: ErrorCode,
        /// Human sentence.
        message: String,
        /// The `type` of the client message this answers, when known (so a
        /// client matches a refusal to what it sent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        about: Option<String>,
    },
    /// The server is about to close this connection, and why.
    Closing {
        /// Why.
        reason: LeaveReason,
        /// Human sentence.
        message: String,
    },
}

impl ServerMessage {
    /// An `error` message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            code,
            message: message.into(),
            about: None,
        }
    }

    /// An `error` answering a client message of type `about`.
    pub fn error_about(code: ErrorCode, message: impl Into<String>, about: &str) -> Self {
        ServerMessage::Error {
            code,
            message: message.into(),
            about: Some(about.to_owned()),
        }
    }
}

impl From<ErrorBody> for ServerMessage {
    fn from(e: ErrorBody) -> Self {
        ServerMessage::Error {
            code: e.code,
            message: e.message,
            about: None,
        }
    }
}

/// Every field any client message has; read in one pass so that `data`
/// stays raw (a plain struct can hold a [`RawValue`], a tagged enum cannot).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    data: Option<Box<RawValue>>,
    #[serde(default)]
    client_time: Option<i64>,
    #[serde(default)]
    camera: Option<bool>,
    #[serde(default)]
    microphone: Option<bool>,
    #[serde(default)]
    visible: Option<bool>,
    #[serde(default)]
    focused: Option<bool>,
    #[serde(default)]
    slot: Option<String>,
    #[serde(default)]
    signature: Option<Vec<Vec<[i64; 3]>>>,
    #[serde(default)]
    participant: Option<String>,
    #[serde(default)]
    consent: Option<String>,
    #[serde(default)]
    granted: Option<bool>,
    #[serde(default)]
    text_sha256: Option<String>,
    #[serde(default)]
    armed: Option<bool>,
    #[serde(default)]
    action: Option<ControlAction>,
    #[serde(default)]
    connection: Option<String>,
    #[serde(default)]
    peers: Option<Vec<PeerStats>>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    segment: Option<u64>,
    #[serde(default)]
    side: Option<ForwardSide>,
    #[serde(default)]
    views: Option<Vec<CameraView>>,
    #[serde(default)]
    raised: Option<bool>,
    #[serde(default)]
    reaction: Option<Reaction>,
    #[serde(default)]
    question: Option<String>,
    #[serde(default)]
    choices: Option<Vec<String>>,
    #[serde(default)]
    poll: Option<u64>,
    #[serde(default)]
    choice: Option<usize>,
    #[serde(default)]
    sharing: Option<bool>,
    #[serde(default)]
    audio: Option<bool>,
    #[serde(default)]
    allowed: Option<bool>,
    #[serde(default)]
    takeover: Option<bool>,
    title: Option<String>,
    #[serde(default)]
    questions: Option<Vec<NewQuizQuestion>>,
    #[serde(default)]
    quiz: Option<String>,
    #[serde(default)]
    answers: Option<Vec<Vec<usize>>>,
}

impl ClientMessage {
    /// The message's `type` on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Signal { .. } => "signal",
            ClientMessage::Heartbeat { .. } => "heartbeat",
            ClientMessage::MediaState { .. } => "media_state",
            ClientMessage::Leave => "leave",
            ClientMessage::Presence { .. } => "presence",
            ClientMessage::SignIn { .. } => "sign_in",
            ClientMessage::OpenSignin => "open_signin",
            ClientMessage::Countersign { .. } => "countersign",
            ClientMessage::GetEvidence => "get_evidence",
            ClientMessage::Consent { .. } => "consent",
            ClientMessage::Recording { .. } => "recording",
            ClientMessage::RecorderSignal { .. } => "recorder_signal",
            ClientMessage::Control { .. } => "control",
            ClientMessage::Stats { .. } => "stats",
            ClientMessage::Difficulty { .. } => "report",
            ClientMessage::Forward { .. } => "forward",
            ClientMessage::ForwardView { .. } => "forward_view",
            ClientMessage::Chat { .. } => "chat",
            ClientMessage::Hand { .. } => "hand",
            ClientMessage::React { .. } => "react",
            ClientMessage::Mute { .. } => "mute",
            ClientMessage::AskUnmute { .. } => "ask_unmute",
            ClientMessage::Spotlight { .. } => "spotlight",
            ClientMessage::Poll { .. } => "poll",
            ClientMessage::Answer { .. } => "answer",
            ClientMessage::ClosePoll { .. } => "close_poll",
            ClientMessage::Share { .. } => "share",
            ClientMessage::SharePolicy { .. } => "share_policy",
            ClientMessage::Quiz { .. } => "quiz",
            ClientMessage::SubmitQuiz { .. } => "submit_quiz",
            ClientMessage::CloseQuiz { .. } => "close_quiz",
        }
    }
}

/// Parses a client text frame, classifying failures with a stable code.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, ErrorBody> {
    let malformed = |message: String| ErrorBody::new(ErrorCode::MalformedMessage, message);
    let env: Envelope<'_> =
        serde_json::from_str(text).map_err(|e| malformed(format!("malformed message: {e}")))?;
    let missing = |field: &str| malformed(format!("{} message without `{field}`", env.kind));
    match env.kind.as_ref() {
        "signal" => Ok(ClientMessage::Signal {
            to: env.to.clone().ok_or_else(|| missing("to"))?,
            data: Opaque::from_raw(env.data.ok_or_else(|| missing("data"))?),
        }),
        "heartbeat" => Ok(ClientMessage::Heartbeat {
            client_time: env.client_time,
        }),
        "media_state" => Ok(ClientMessage::MediaState {
            camera: env.camera.ok_or_else(|| missing("camera"))?,
            microphone: env.microphone.ok_or_else(|| missing("microphone"))?,
        }),
        "leave" => Ok(ClientMessage::Leave),
        "presence" => Ok(ClientMessage::Presence {
            visible: env.visible.ok_or_else(|| missing("visible"))?,
            focused: env.focused.ok_or_else(|| missing("focused"))?,
            client_time: env.client_time,
        }),
        "sign_in" => Ok(ClientMessage::SignIn {
            slot: env.slot.clone().ok_or_else(|| missing("slot"))?,
            signature: env.signature,
            client_time: env.client_time,
        }),
        "open_signin" => Ok(ClientMessage::OpenSignin),
        "countersign" => Ok(ClientMessage::Countersign {
            slot: env.slot.clone().ok_or_else(|| missing("slot"))?,
            participant: env
                .participant
                .clone()
                .ok_or_else(|| missing("participant"))?,
        }),
        "get_evidence" => Ok(ClientMessage::GetEvidence),
        // A consent is always the sender's own: naming someone else is
        // refused outright rather than silently applied to the sender.
        "consent" if env.participant.is_some() => Err(ErrorBody::new(
            ErrorCode::Forbidden,
            "a consent is given by each person for themselves; `participant` is not accepted",
        )),
        "consent" => Ok(ClientMessage::Consent {
            consent: env.consent.clone().ok_or_else(|| missing("consent"))?,
            granted: env.granted.ok_or_else(|| missing("granted"))?,
            text_sha256: env
                .text_sha256
                .clone()
                .ok_or_else(|| missing("text_sha256"))?,
        }),
        "control" => Ok(ClientMessage::Control {
            action: env.action.ok_or_else(|| missing("action"))?,
            reason: env.reason.clone().ok_or_else(|| missing("reason"))?,
            start: env.start.clone(),
            end: env.end.clone(),
            participant: env.participant.clone(),
        }),
        "stats" => Ok(ClientMessage::Stats {
            stats: ConnectionStats {
                connection: env
                    .connection
                    .clone()
                    .ok_or_else(|| missing("connection"))?,
                peers: env.peers.unwrap_or_default(),
            },
        }),
        "report" => Ok(ClientMessage::Difficulty {
            text: env.text.clone().ok_or_else(|| missing("text"))?,
        }),
        "recording" => Ok(ClientMessage::Recording {
            armed: env.armed.ok_or_else(|| missing("armed"))?,
        }),
        "recorder_signal" => Ok(ClientMessage::RecorderSignal {
            segment: env.segment.ok_or_else(|| missing("segment"))?,
            data: Opaque::from_raw(env.data.ok_or_else(|| missing("data"))?),
        }),
        "forward_view" => Ok(ClientMessage::ForwardView {
            views: env.views.ok_or_else(|| missing("views"))?,
        }),
        "forward" => Ok(ClientMessage::Forward {
            side: env.side.ok_or_else(|| missing("side"))?,
            data: Opaque::from_raw(env.data.ok_or_else(|| missing("data"))?),
        }),
        "chat" => Ok(ClientMessage::Chat {
            text: env.text.clone().ok_or_else(|| missing("text"))?,
            to: env.to.clone(),
        }),
        "hand" => Ok(ClientMessage::Hand {
            raised: env.raised.ok_or_else(|| missing("raised"))?,
            participant: env.participant.clone(),
        }),
        "react" => Ok(ClientMessage::React {
            reaction: env.reaction.ok_or_else(|| missing("reaction"))?,
        }),
        "share" => Ok(ClientMessage::Share {
            sharing: env.sharing.ok_or_else(|| missing("sharing"))?,
            audio: env.audio.unwrap_or(false),
            participant: env.participant.clone(),
        }),
        "share_policy" => Ok(ClientMessage::SharePolicy {
            participant: env.participant.clone(),
            allowed: env.allowed,
            takeover: env.takeover,
        }),
        "mute" => Ok(ClientMessage::Mute {
            participant: env.participant.clone(),
        }),
        "poll" => Ok(ClientMessage::Poll {
            question: env.question.clone().ok_or_else(|| missing("question"))?,
            choices: env.choices.clone().ok_or_else(|| missing("choices"))?,
        }),
        "answer" => Ok(ClientMessage::Answer {
            poll: env.poll.ok_or_else(|| missing("poll"))?,
            choice: env.choice.ok_or_else(|| missing("choice"))?,
        }),
        "close_poll" => Ok(ClientMessage::ClosePoll {
            poll: env.poll.ok_or_else(|| missing("poll"))?,
        }),
        "quiz" => Ok(ClientMessage::Quiz {
            title: env.title.clone().ok_or_else(|| missing("title"))?,
            questions: env.questions.clone().ok_or_else(|| missing("questions"))?,
        }),
        "submit_quiz" => Ok(ClientMessage::SubmitQuiz {
            quiz: env.quiz.clone().ok_or_else(|| missing("quiz"))?,
            answers: env.answers.clone().ok_or_else(|| missing("answers"))?,
        }),
        "close_quiz" => Ok(ClientMessage::CloseQuiz {
            quiz: env.quiz.clone().ok_or_else(|| missing("quiz"))?,
        }),
        "spotlight" => Ok(ClientMessage::Spotlight {
            participant: env.participant.clone(),
        }),
        "ask_unmute" => Ok(ClientMessage::AskUnmute {
            participant: env
                .participant
                .clone()
                .ok_or_else(|| missing("participant"))?,
        }),
        other => Err(ErrorBody::new(
            ErrorCode::UnknownMessageType,
            format!("unknown message type {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests;
