//! REST bodies under `/api/`. JSON in, JSON out; every failure is an
//! [`crate::ErrorBody`] with a stable code. The organiser's views of
//! sessions, people and links; the lobby; the sponsor's view
//! ([`SponsorView`]); the recordings list. Difficulty reports, which go over
//! REST and the socket alike, are in [`crate::difficulties`].

pub use crate::session::Consents;
use crate::session::{Me, SessionInfo};
use crate::{Role, SessionKind, SessionState};
use serde::{Deserialize, Serialize};

/// A person to add to a new session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPerson {
    /// Display name (not empty, at most 120 characters).
    pub name: String,
    /// Optional e-mail address, for sending the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// The language their mails are written in (the server's default
    /// when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<UiLang>,
    /// The IANA time zone their mails give the dates in (the session's
    /// when absent), for a person away from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// `POST /api/sessions` body (also the TOML/JSON file of `cadre session create`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSession {
    /// Title (not empty, at most 200 characters).
    pub title: String,
    /// Kind of session.
    pub kind: SessionKind,
    /// The organisation running the session.
    pub organisation: String,
    /// Planned start: RFC 3339 with an offset, or a local date-time
    /// (`2026-12-03T09:00`) read in `time_zone`.
    pub planned_start: String,
    /// Planned end, same forms; after the start.
    pub planned_end: String,
    /// IANA time zone; `Europe/Paris` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The sponsoring organisation (commanditaire), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sponsor: Option<String>,
    /// How the session's media travels (`auto`, `peer`, `forwarded`);
    /// the deployment's choice when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<crate::session::MediaMode>,
    /// At least one facilitator.
    pub people: Vec<NewPerson>,
}

/// `POST /api/sessions/{sid}/duplicate` body: the copy's dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateSession {
    /// Planned start, in the same forms as a new session's.
    pub planned_start: String,
    /// Planned end; after the start.
    pub planned_end: String,
    /// IANA time zone; the duplicated session's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// `POST /api/sessions/{sid}/postpone` body: staff move a session that is
/// not under way; everyone's link stays valid for the new dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveSession {
    /// Why (told to everyone, recorded; 1 to 500 characters).
    pub reason: String,
    /// New start, in the session's time zone or RFC 3339; in the future.
    pub planned_start: String,
    /// New end; after the start.
    pub planned_end: String,
}

/// `POST /api/sessions/{sid}/cancel` body: staff cancel a session that is
/// not under way; it ends, recorded with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelSession {
    /// Why (told to everyone, recorded; 1 to 500 characters).
    pub reason: String,
}

/// `PATCH /api/sessions/{sid}` body: a session's title corrected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionCorrection {
    /// The new title (not empty, at most 200 characters).
    pub title: String,
}

/// `PATCH /api/sessions/{sid}/people/{pid}` body (and, with `employer`,
/// `PATCH /api/actions/{aid}/beneficiaries/{bid}`): what is corrected of a
/// person; a field left out stays as it is. Their role and link do not
/// change (a link names its role).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonCorrection {
    /// Name (not empty, at most 120 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail; an empty string removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Language of their mails: `fr`, `en`, or an empty string for the
    /// server's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The IANA time zone of their mails' dates, or an empty string for the
    /// session's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Employer, for a beneficiary of an action; an empty string removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer: Option<String>,
}

/// A join link as the organiser sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkView {
    /// `{public_url}/j/{token}`.
    pub url: String,
    /// The signed token alone.
    pub token: String,
    /// Valid from (RFC 3339 UTC).
    pub not_before: String,
    /// Valid until (RFC 3339 UTC).
    pub expires_at: String,
    /// Revoked by the organiser.
    pub revoked: bool,
}

/// A person of a session, with their link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonView {
    /// Participant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// The language of their mails, when chosen for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<UiLang>,
    /// The time zone of their mails' dates, when not the session's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Their join link.
    pub link: LinkView,
}

/// A session as the organiser sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// Session id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: SessionKind,
    /// Organisation.
    pub organisation: String,
    /// Planned start, RFC 3339 UTC.
    pub planned_start: String,
    /// Planned end, RFC 3339 UTC.
    pub planned_end: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Sponsor, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sponsor: Option<String>,
    /// Current state.
    pub state: SessionState,
    /// Ended because staff cancelled it before it ran (its state is then
    /// `ended`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    /// When it was created, RFC 3339 UTC.
    pub created_at: String,
    /// Everyone, with their links.
    pub people: Vec<PersonView>,
}

/// `GET /api/sessions` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// Session id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: SessionKind,
    /// Planned start, RFC 3339 UTC.
    pub planned_start: String,
    /// Planned end, RFC 3339 UTC.
    pub planned_end: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Current state.
    pub state: SessionState,
    /// Ended because staff cancelled it before it ran.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
    /// Number of people.
    pub people: usize,
}

/// `GET /api/join?token=…`: what the lobby shows before the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lobby {
    /// The session.
    pub session: SessionInfo,
    /// Who the link belongs to.
    pub you: Me,
    /// Path of the session's WebSocket (`/ws/{session_id}`); the token goes
    /// in the `token` query parameter.
    pub ws_path: String,
    /// Server clock, ms since the Unix epoch.
    pub server_time: i64,
    /// The consent wordings of this session (each with its hash), to show
    /// before joining: never pre-ticked.
    pub consent_texts: Vec<crate::consent::ConsentText>,
    /// This person's current decisions (none yet: both false).
    pub consents: Consents,
    /// Set when a facilitator removed this person (and no one re-admitted
    /// them): the decision, with the facilitator's name and the reason. The
    /// link then opens no call, only the person's own documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal: Option<crate::signalling::StateNotice>,
    /// Article 2.1.7 changes of the person's action (adapted, paused,
    /// resumed, interrupted), oldest first; empty outside an action.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub action_changes: Vec<crate::action::ActionChange>,
    /// What the lobby's evidence notice states beyond the session itself
    /// (who to write to, how long things are kept). Absent
    /// from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<EvidenceNotice>,
    /// Set when the session is full (its media passes through the server,
    /// which takes this many people at once, and that many are connected):
    /// joining is refused (`at_capacity`) until someone leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<u32>,
}

// -- The equipment check ----------------------------------------

/// `GET /api/equipment?token=…`: what the equipment check page needs to
/// test the paths a call of this session could take (framework art. 2.1.5).
/// Works with a join link before its session opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquipmentCheck {
    /// The session the link is for.
    pub session: SessionInfo,
    /// Who the link belongs to.
    pub you: Me,
    /// The ICE servers a call would be given (STUN and TURN, with
    /// credentials valid for the check).
    pub ice_servers: Vec<crate::signalling::IceServer>,
    /// Which candidates the page keeps (`loopback` on test rigs only).
    pub ice_policy: crate::signalling::IcePolicy,
    /// Where to `POST` an [`EquipmentOffer`] (with the link's token in the
    /// `token` query parameter).
    pub offer_path: String,
}

/// `POST /api/equipment/offer?token=…`: an offer with one data channel
/// and no media, gathered completely (no trickle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquipmentOffer {
    /// The offer's SDP.
    pub sdp: String,
}

/// The server's answer: its peer echoes the channel's messages until the
/// page closes it or `lifetime_ms` passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquipmentAnswer {
    /// The answer's SDP, candidates included.
    pub sdp: String,
    /// How long the server keeps its peer, from now.
    pub lifetime_ms: u64,
}

// -- What people see ------------------------------------------

/// The data-protection facts of the lobby's evidence notice: the controller
/// is the session's `organisation`; these say how long and whom to ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceNotice {
    /// Years the evidence (the session's log, proofs, sheets) is kept.
    pub evidence_kept_years: u32,
    /// Days recordings are kept (only with everyone's consent).
    pub recording_retention_days: u64,
    /// Where to write to see, correct or erase one's data, if configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// How this session's media travels (its own choice, or the server's):
    /// whether it passes through the organisation's server.
    #[serde(default)]
    pub media: crate::session::MediaMode,
}

/// The interface language an organisation sets as its default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UiLang {
    /// French (the default).
    #[default]
    Fr,
    /// English.
    En,
}

impl UiLang {
    /// The language tag (`fr`, `en`).
    pub fn tag(self) -> &'static str {
        match self {
            UiLang::Fr => "fr",
            UiLang::En => "en",
        }
    }
}

impl std::str::FromStr for UiLang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fr" => Ok(UiLang::Fr),
            "en" => Ok(UiLang::En),
            other => Err(format!("{other:?}: expected fr or en")),
        }
    }
}

/// `POST /api/sessions/{sid}/people/{pid}/revoke` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    /// Participant id.
    pub id: String,
    /// Whether a live connection was closed.
    pub disconnected: bool,
}

/// `POST /api/sessions/{sid}/sponsor-link` body (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSponsorLink {
    /// Days the link stays valid (1–366; 30 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_days: Option<u32>,
}

/// The sponsor's read-only link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SponsorLink {
    /// `{public_url}/r/{token}`.
    pub url: String,
    /// The signed token alone.
    pub token: String,
    /// Valid until (RFC 3339 UTC).
    pub expires_at: String,
}

/// The session as a sponsor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SponsorSession {
    /// Title.
    pub title: String,
    /// Kind.
    pub kind: SessionKind,
    /// The organisation running it.
    pub organisation: String,
    /// The sponsor, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sponsor: Option<String>,
    /// Planned start, RFC 3339 UTC.
    pub planned_start: String,
    /// Planned end, RFC 3339 UTC.
    pub planned_end: String,
    /// IANA time zone.
    pub time_zone: String,
}

/// Aggregates of one half-day over the participants (facilitators excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SponsorHalfDay {
    /// `YYYY-MM-DD.am|pm`.
    pub slot: String,
    /// Planned start, UTC ms.
    pub planned_start: i64,
    /// Planned end, UTC ms.
    pub planned_end: i64,
    /// Participants enrolled.
    pub expected: usize,
    /// Participants connected at some point of the half-day.
    pub present: usize,
    /// Participants who signed in.
    pub signed: usize,
    /// Mean completion, 0.0–1.0.
    pub average_completion: f64,
}

/// One named participant's half-day (only with their consent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedHalfDay {
    /// Slot.
    pub slot: String,
    /// Present time, seconds.
    pub present_seconds: i64,
    /// Completion, 0.0–1.0.
    pub completion: f64,
    /// Signed in.
    pub signed: bool,
}

/// A participant who consented to be named to the sponsor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedAttendance {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Per half-day.
    pub half_days: Vec<NamedHalfDay>,
    /// Over the session, 0.0–1.0.
    pub completion: f64,
}

/// Totals over the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SponsorTotals {
    /// Participants enrolled.
    pub expected: usize,
    /// Mean completion, 0.0–1.0.
    pub average_completion: f64,
}

/// `GET /api/report?token=…`: what a sponsor may see, computed from the
/// ledger and the consents in it, never from a display switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SponsorView {
    /// The session.
    pub session: SponsorSession,
    /// When computed, UTC ms.
    pub generated_at: i64,
    /// When the link expires, UTC ms.
    pub expires_at: i64,
    /// Aggregates per half-day; empty when withheld (see `withheld`).
    pub half_days: Vec<SponsorHalfDay>,
    /// Aggregates over the session (`average_completion` 0 when withheld).
    pub totals: SponsorTotals,
    /// Participants who consented to be named.
    pub named: Vec<NamedAttendance>,
    /// Participants not named.
    pub anonymous_count: usize,
    /// Why aggregates are withheld: so few participants declined to be
    /// named that a figure about them would be a figure about each of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<String>,
    /// The session's suspensions, resumptions, postponements and end, in
    /// order: what and when only.
    #[serde(default)]
    pub course: Vec<CourseEvent>,
}

/// One change in the course of a session as a sponsor or a funder sees it:
/// what and when, never why nor who decided (the reasons stay in the
/// records of the people concerned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourseEvent {
    /// `suspend`, `resume`, `postpone` or `end`.
    pub action: crate::signalling::ControlAction,
    /// When, UTC ms.
    pub at: i64,
    /// A postponement's new planned start, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_start: Option<String>,
    /// A postponement's new planned end, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_end: Option<String>,
}

/// `GET /api/sessions/{sid}/recordings`: the session's recording segments
/// (facilitators and the organiser only), from the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recordings {
    /// Segments in order.
    pub segments: Vec<RecordingSegment>,
}

/// `GET /api/recordings`: every session's recordings and when the
/// retention deletes them, for the staff console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingsOverview {
    /// Days a segment's files are kept after it closed.
    pub retention_days: u64,
    /// Segments still kept, the first to be deleted first, then those
    /// deleted, the latest first.
    pub segments: Vec<RecordingLine>,
}

/// One segment in [`RecordingsOverview`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingLine {
    /// The session.
    pub session_id: String,
    /// Its title.
    pub session_title: String,
    /// Its time zone (IANA), for the times shown.
    pub time_zone: String,
    /// The segment's number in the session.
    pub segment: u64,
    /// When it opened (ms).
    pub started_at: i64,
    /// When it closed (ms); none while it runs.
    pub closed_at: Option<i64>,
    /// How many people it recorded.
    pub people: usize,
    /// Its raw files' size, in bytes.
    pub bytes: u64,
    /// When the retention deletes its files (ms): closed, not deleted yet.
    pub delete_at: Option<i64>,
    /// When its files were deleted (ms).
    pub purged_at: Option<i64>,
}

/// One recording segment: from a gate opening to its closing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingSegment {
    /// Number within the session.
    pub segment: u64,
    /// When it opened (ms).
    pub started_at: i64,
    /// When media stopped being accepted (ms); none while it runs.
    pub closed_at: Option<i64>,
    /// Why it closed.
    pub reason: Option<String>,
    /// Everyone recorded in it.
    pub participants: Vec<String>,
    /// When its files were deleted at the end of retention (ms).
    pub purged_at: Option<i64>,
    /// Its files (listed, with their hashes, even once purged).
    pub files: Vec<RecordingFile>,
    /// Files made from them to be watched (each person's WebM, then the
    /// composed view), listed once a `recording_derived` entry holds their
    /// hash.
    #[serde(default)]
    pub playable: Vec<PlayableFile>,
    /// Where making them stands: `queued`, `running`, `ready`, `failed` or
    /// `timed_out` (the composed view could not be made), `ffmpeg_absent`
    /// (no composed view on this server); none when this server run did
    /// not make them (the files listed are then all there is).
    #[serde(default)]
    pub playable_status: Option<String>,
    /// Playable files that could not be made (names), e.g. from a damaged
    /// raw file.
    #[serde(default)]
    pub unavailable: Vec<String>,
}

/// A file made from a segment's raw files to be watched: WebM, VP8 and Opus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayableFile {
    /// `person` (one person's source, muxed without re-encoding) or
    /// `composed` (everyone on one picture, all voices mixed).
    pub kind: String,
    /// Whose, for a person's file.
    #[serde(default)]
    pub participant: Option<String>,
    /// `camera` or `screen`, for a person's file.
    #[serde(default)]
    pub source: Option<String>,
    /// Which publication of that source in the segment (1, 2…).
    #[serde(default)]
    pub publication: Option<u32>,
    /// File name.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file, as recorded in the ledger.
    pub sha256: String,
    /// Length (ms).
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Where to download or play it; none once purged.
    pub url: Option<String>,
}

/// One recorded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingFile {
    /// Whose camera or microphone.
    pub participant: String,
    /// `audio` (Opus in Ogg) or `video` (VP8 in IVF).
    pub track: String,
    /// File name.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file, as recorded in the ledger.
    pub sha256: String,
    /// Server time (ms) at which the file's time 0 arrived: add a frame's
    /// or page's stamp to it to place it on the ledger's clock, and to line
    /// up one person's sound and picture. None for a segment closed after a
    /// crash (and for recordings made before this field existed).
    #[serde(default)]
    pub origin_at: Option<i64>,
    /// Where to download it (with the token the list was asked with);
    /// none once purged.
    pub url: Option<String>,
}

// -- Staff's live view of one session (the console's session page).

/// `GET /api/sessions/{sid}/live`: who is connected now and since when,
/// who signed which half-day, and the quality alerts raised, for staff
/// following a session while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveView {
    /// Session id.
    pub session: String,
    /// Its state now.
    pub state: SessionState,
    /// Server clock, ms since the Unix epoch.
    pub server_time: i64,
    /// Everyone of the session, in its order.
    pub people: Vec<LivePerson>,
    /// Quality alerts raised in the session, newest first (at most 20).
    pub alerts: Vec<LiveAlert>,
}

/// One person in [`LiveView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivePerson {
    /// Participant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When their current connection began (ms), when they are connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_since: Option<i64>,
    /// Camera on (false when not connected).
    pub camera: bool,
    /// Microphone on (false when not connected).
    pub microphone: bool,
    /// The half-days they signed, oldest first.
    pub signins: Vec<LiveSignin>,
}

/// A sign-in in [`LivePerson`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSignin {
    /// The half-day slot id, as the sign-in window names it.
    pub slot: String,
    /// When it was recorded (ms).
    pub at: i64,
}

/// A quality alert in [`LiveView`], as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAlert {
    /// When it was recorded (ms).
    pub at: i64,
    /// Which rule.
    pub rule: String,
    /// The sentence the facilitator was shown.
    pub message: String,
}
