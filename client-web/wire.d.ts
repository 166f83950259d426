// The wire types of docs/protocol.md, as the browser sees them (mirrors
// protocol/src/signalling.rs and api.rs). Types only: never served.

export type Role = "facilitator" | "participant";
export type SessionKind = "formation" | "bilan" | "vae" | "coaching" | "gapp" | "intervention";
export type SessionState = "scheduled" | "open" | "running" | "suspended" | "postponed" | "ended";
export type IcePolicy = "all" | "loopback" | "relay";
export type LeaveReason =
  | "left" | "disconnected" | "timeout" | "replaced" | "flood" | "slow_consumer" | "revoked" | "shutdown"
  | "removed" | "ended";

/** Every failure, over HTTP or on the socket. `code` is stable; `message` is English prose. */
export interface ErrorBody {
  code: string;
  message: string;
  /** Which refusal, for the client to word with `args` (docs/protocol.md, "Errors"). */
  reason?: Refusal;
  args?: Record<string, string>;
}

export type Refusal =
  | "session_ended" | "session_full" | "session_under_way" | "decision_in_progress"
  | "participant_of_action" | "action_full" | "already_enrolled" | "duplicate_email"
  | "interrupted" | "staff_email_taken" | "own_account" | "organisation_incomplete"
  | "mail_not_configured" | "report_closed" | "nothing_to_correct";

export interface Me {
  id: string;
  name: string;
  role: Role;
}

export interface Peer {
  id: string;
  name: string;
  role: Role;
  connection_id: string;
  /** Whether *this* client is the polite side towards that peer. */
  polite: boolean;
  camera: boolean;
  microphone: boolean;
}

export interface SessionInfo {
  id: string;
  title: string;
  kind: SessionKind;
  organisation: string;
  /** RFC 3339 UTC. */
  planned_start: string;
  planned_end: string;
  time_zone: string;
  facilitators: string[];
  state: SessionState;
  /** The action the session belongs to: the one the person's certificate covers (actions). */
  action?: ActionRef;
  /** How the session's media travels, when chosen for it (otherwise the server's choice). */
  media?: MediaMode;
}

/** How a session's media may travel: `auto` is peer to peer for two people, through the server from the third. */
export type MediaMode = "auto" | "peer" | "forwarded";

/** How a session's media travels now. */
export type MediaRoute = "peer" | "forwarded";

/** How much of a person's camera a page wants, from the size of their tile. */
export type VideoQuality = "off" | "low" | "medium" | "high";

/** How much of one person's camera a page shows. */
export interface CameraView {
  id: string;
  quality: VideoQuality;
}

/** One of a person's two connections to the server in a forwarded session. */
export type ForwardSide = "publish" | "subscribe";

/** The `data` of a `forward`, as this client writes it: its publish offer, its subscribe answer, or a candidate. */
export type ForwardData = RTCSessionDescriptionInit | RTCIceCandidateInit | { candidate: null };

// Actions (issue 11): the action a session belongs to, and the article 2.1.7
// changes recorded for one beneficiary.
export interface ActionRef {
  id: string;
  title: string;
}

export type ActionChangeKind = "adapted" | "paused" | "resumed" | "interrupted";

/** A change of the person's action (article 2.1.7), with its reason: kept as recorded. */
export interface ActionChange {
  id: string;
  action_id: string;
  beneficiary_id: string;
  kind: ActionChangeKind;
  reason: string;
  /** `organiser`. */
  by: string;
  /** RFC 3339 UTC. */
  at: string;
}

export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** `GET /api/join?token=…` */
export interface Lobby {
  session: SessionInfo;
  you: Me;
  ws_path: string;
  server_time: number;
  /** Each consent's wording in French and English, with its hash: shown, never pre-ticked. */
  consent_texts: ConsentText[];
  /** Current decisions (null: never decided). */
  consents: Consents;
  /** Set when a facilitator removed this person: the link opens no call, only their own documents. */
  removal?: StateNotice;
  /** Changes of the person's action, oldest first (absent outside an action). */
  action_changes?: ActionChange[];
  /** The evidence notice's data-protection facts (absent from older servers). */
  notice?: EvidenceNotice;
  /** Set when the session is full (through the server, this many people at once): joining is refused until someone leaves. */
  full?: number;
}

/** `GET /api/equipment?token=…`: what the equipment check needs (works before the session opens). */
export interface EquipmentCheck {
  session: SessionInfo;
  you: Me;
  /** The ICE servers a call would be given (STUN, TURN with credentials). */
  ice_servers: IceServer[];
  ice_policy: IcePolicy;
  /** Where to POST an EquipmentOffer, with the token in the query. */
  offer_path: string;
}

/** An equipment check's offer: one data channel, no media, candidates gathered. */
export interface EquipmentOffer {
  sdp: string;
}

/** The server's answer; its peer echoes the channel until closed or `lifetime_ms` passes. */
export interface EquipmentAnswer {
  sdp: string;
  lifetime_ms: number;
}

/** How long evidence and recordings are kept, and whom to write to (the controller is the session's organisation). */
export interface EvidenceNotice {
  evidence_kept_years: number;
  recording_retention_days: number;
  contact?: string;
  /** How this session's media travels: whether it passes through the organisation's server. */
  media: MediaMode;
}

export type ConsentKind = "recording" | "sponsor_share";

export interface ConsentText {
  consent: ConsentKind;
  lang: "fr" | "en";
  text: string;
  /** SHA-256 of the text's UTF-8 bytes, hex: what a decision is sent with. */
  sha256: string;
}

/** A person's latest decisions: `null` when never decided (no consent, but no choice shown either). */
export interface Consents {
  recording: boolean | null;
  sponsor_share: boolean | null;
}

/** Where recording stands, as this person may see it. */
export interface RecordingStatus {
  /** A facilitator asked for the session to be recorded. */
  armed: boolean;
  /** Recording runs now (armed, and everyone connected agreed): every page shows it. */
  active: boolean;
  /** The open segment while active: publish to it. */
  segment?: number;
  /** Since when it runs (server ms), while active. */
  since?: number;
  /** Facilitators only, while armed: how many connected people have not agreed (a count, never who). */
  missing?: number;
  /** Facilitators only: why recording stopped on its own and was disarmed (`storage_full`, `storage_error`). */
  failure?: string;
}

/** The `data` of a `recorder_signal`, as this client writes it: its offer, or one of its ICE candidates. */
export type RecorderSignalData = { type: "offer"; sdp: string } | RTCIceCandidateInit;

/** Screen sharing as everyone sees it. */
export interface ScreenShare {
  /** Who shares now. */
  sharer?: string;
  /** The shared screen carries its sound. */
  audio: boolean;
  /** When the share started (server ms). */
  since?: number;
  /** Participants a facilitator allowed to share (facilitators always may). */
  allowed?: string[];
  /** A second sharer replaces the current one (a facilitator always may). */
  takeover: boolean;
}

export type ShareChange = "started" | "replaced" | "stopped" | "stopped_by" | "ended" | "policy";

export interface Welcome {
  type: "welcome";
  protocol: number;
  connection_id: string;
  you: Me;
  session: SessionInfo;
  roster: Peer[];
  ice_servers: IceServer[];
  ice_policy: IcePolicy;
  heartbeat_interval_ms: number;
  server_time: number;
  /** Half-day slots of the session and this person's sign-ins. */
  slots: SlotStatus[];
  /** Your current consent decisions (null when none). */
  consents: Consents;
  /** Recording, as you may see it (absent from servers older than recording). */
  recording?: RecordingStatus;
  /** The latest control decision (suspension, postponement…) with its reason. */
  notice?: StateNotice;
  /** Everyone in the session: facilitators only. */
  people?: Me[];
  /** How the media travels now: `peer`, connect to each roster entry; `forwarded`, publish to the server and answer its offers. */
  media: MediaRoute;
  /** The session's chat so far as you may read it (everyone's, and your private ones). */
  chat?: ChatLine[];
  /** Hands raised now, in the order of raising. */
  hands?: RaisedHand[];
  /** The person a facilitator shows large on every page. */
  spotlight?: string;
  /** The latest poll, as you may see it. */
  poll?: Poll;
  /** Screen sharing now (absent: nobody shares and nothing was decided). */
  screen?: ScreenShare;
  /** The latest quiz, as you may see it. */
  quiz?: Quiz;
}

/** An anonymous poll: the server keeps the counts and who answered, never who chose what. Not evidence. */
export interface Poll {
  id: number;
  question: string;
  choices: string[];
  by: string;
  open: boolean;
  /** How many chose each answer: facilitators at once, everyone once closed. */
  counts?: number[];
  answered: number;
  you_answered: boolean;
}

/** A question as the facilitator writes it, with its right answers. */
export interface NewQuizQuestion {
  text: string;
  choices: string[];
  multiple: boolean;
  /** Indexes of the right answers (exactly one unless `multiple`). */
  correct: number[];
}

/** A question as a participant sees it: no right answer. */
export interface QuizQuestion {
  text: string;
  choices: string[];
  multiple: boolean;
}

/** Your own submission; `score` once the quiz is closed. */
export interface QuizMine {
  answers: number[][];
  score?: number;
}

/** One person's submission, for facilitators. */
export interface QuizResult {
  id: string;
  name: string;
  answers: number[][];
  score: number;
}

/** The group's results, for facilitators. */
export interface QuizResults {
  people: QuizResult[];
  /** Per question, how many answered it exactly right. */
  right: number[];
  mean?: number;
}

/** A quiz as you may see it. Its opening and each completion are evidence (no answer, no score). */
export interface Quiz {
  id: string;
  title: string;
  questions: QuizQuestion[];
  by: string;
  open: boolean;
  submitted: number;
  mine?: QuizMine;
  /** The right answers: facilitators at once, everyone once closed. */
  correct?: number[][];
  /** Everyone's submissions: facilitators only. */
  results?: QuizResults;
}

/** What an appreciation questionnaire's question asks for: 1 to 5, one of its choices, or a text. */
export type QuestionKind = "scale" | "choice" | "text";

/** An appreciation questionnaire's question. */
export interface QuestionnaireQuestion {
  text: string;
  kind: QuestionKind;
  /** The answers offered (a choice question). */
  choices?: string[];
}

/** `GET /api/questionnaire?token=…`: what an invitation link opens. */
export interface QuestionnaireForm {
  title: string;
  questions: QuestionnaireQuestion[];
  /** The session's or the action's title. */
  about: string;
  answered: boolean;
  expires_at: string;
}

/** `GET /api/invitations?token=…` (a join token): an invitation not answered yet. */
export interface InvitationLink {
  title: string;
  about: string;
  /** `{public_url}/q/{token}`. */
  url: string;
  expires_at: string;
}

/** One chat message. Plain text: never to be read as HTML. Not evidence. */
export interface ChatLine {
  /** Its number in the session's chat, in the server's order. */
  seq: number;
  from: string;
  name: string;
  text: string;
  /** UTC ms, when the server took it. */
  at: number;
  /** A private message's recipient (besides its sender). */
  to?: string;
}

export interface RaisedHand {
  id: string;
  /** UTC ms. */
  at: number;
}

export interface HandChange {
  id: string;
  raised: boolean;
  /** The person, a facilitator, or `server` (the person left). */
  by: string;
}

export type Reaction = "agree" | "disagree" | "applause" | "laugh" | "question" | "break";

// ---------------------------------------------------------------------------
// Session control, quality, difficulty reports

/** `start` is the server's own act (the session runs at its planned start); a client never sends it. */
export type ControlAction = "suspend" | "resume" | "postpone" | "end" | "remove" | "start";

/** The latest decision about the session's state, as everyone sees it. */
export interface StateNotice {
  state: SessionState;
  action: ControlAction;
  reason: string;
  /** Display name of who decided; "cadre" when the automatic policy acted. */
  by: string;
  /** ms */
  at: number;
  /** After a postponement: the new window, RFC 3339 UTC. */
  planned_start?: string;
  planned_end?: string;
}

export type Score = "excellent" | "good" | "poor" | "lost";

export interface Figures {
  rtt_ms?: number;
  /** 0..1 */
  loss?: number;
  jitter_ms?: number;
  in_kbps?: number;
  out_kbps?: number;
  fps?: number;
}

export interface ReportedPresence {
  visible: boolean;
  focused: boolean;
  camera: boolean;
  hidden_since?: number;
  unfocused_since?: number;
}

export interface ParticipantQuality {
  id: string;
  score: Score;
  /** ms */
  since: number;
  figures: Figures;
  presence: ReportedPresence;
  /** rtt_high, loss_high, jitter_high, fps_low, no_stats, connection_failed, connection_disconnected, tab_hidden_long, unfocused_long, camera_off */
  reasons: string[];
}

export interface Alert {
  /** facilitator_link_poor | group_poor */
  rule: string;
  /** French sentence. */
  message: string;
  people: ParticipantQuality[];
  since: number;
  /** check_connection | suspend */
  suggested: string;
  at: number;
}

export type PeerConnectionSummary = "new" | "connecting" | "connected" | "disconnected" | "failed" | "closed";

/** One remote peer's figures, as a client reports them (the same figures as `Figures`). */
export interface PeerStats extends Figures {
  peer: string;
}

export type DifficultyStatus = "open" | "answered" | "closed";

/** A difficulty report and its written answer. */
export interface Difficulty {
  id: string;
  session_id: string;
  author: Me;
  text: string;
  status: DifficultyStatus;
  created_at: number;
  answer?: string | null;
  answered_at?: number | null;
  closed_at?: number | null;
}

/** One half-day slot, as this person sees it. Times are server ms since the epoch. */
export interface SlotStatus {
  /** `YYYY-MM-DD.am` or `YYYY-MM-DD.pm` in the session's time zone. */
  slot: string;
  start: number;
  end: number;
  /** The sign-in window, when open: its closing time. */
  signin_closes_at?: number;
  /** When you signed in. */
  signed_at?: number;
  /** When your sign-in was countersigned. */
  countersigned_at?: number;
}

/** A drawn signature: strokes of `[x, y, t]`, x and y in 0..=1000, t in ms from the stroke's start. */
export type Signature = [number, number, number][][];

/** Ledger event kinds (docs/evidence.md). */
export type EntryKind =
  | "connection_opened" | "connection_closed" | "heartbeats" | "visibility" | "focus" | "media"
  | "signin_opened" | "signed_in" | "countersigned" | "session_state" | "server_started" | "server_stopping"
  | "consent" | "recording_armed" | "recording_started" | "recording_stopped";

/** One ledger entry, parsed from its exact stored text. */
export interface Entry {
  v: number;
  sid: string;
  seq: number;
  /** Server time, ms. */
  ts: number;
  kind: EntryKind | string;
  /** Participant id, or `server` / `organiser`. */
  actor: string;
  payload: Record<string, unknown>;
  client_ts: number | null;
  salt: string;
}

export type ServerMessage =
  | Welcome
  | { type: "ice_servers"; ice_servers: IceServer[]; expires_at: number }
  | { type: "peer_joined"; peer: Peer }
  | { type: "peer_left"; id: string; reason: LeaveReason }
  | { type: "peer_media"; id: string; camera: boolean; microphone: boolean }
  | { type: "signal"; from: string; data: unknown }
  | { type: "heartbeat_ack"; server_time: number }
  | { type: "error"; code: string; message: string; about?: string }
  | { type: "closing"; reason: LeaveReason; message: string }
  | { type: "signin_open"; slot: string; closes_at: number }
  | { type: "signed"; slot: string; at: number; receipt?: string }
  | { type: "countersigned"; slot: string; participant: string; at: number }
  /** Facilitators only: `signed` is `[participant id, ms]` pairs. */
  | { type: "signin_status"; slot: string; signed: [string, number][]; countersigned: string[] }
  /** Every ledger entry about you, as exact entry texts, in log order. */
  | { type: "evidence"; entries: string[] }
  | { type: "evidence_recorded"; entry: string }
  /** Your consent decision is durable. */
  | { type: "consent_recorded"; consent: ConsentKind; granted: boolean; at: number }
  /** Recording changed (armed, started, stopped, count of missing agreements). */
  | { type: "recording_state"; recording: RecordingStatus }
  /** The server's side of your recorder connection: its answer (candidates inside the SDP), or a candidate. */
  | { type: "recorder_signal"; segment: number; data: unknown }
  /** A signed tree head (compact JWS), after `leave` and before the close. */
  | { type: "receipt"; tree_head: string }
  /** A control decision, to everyone; `participant` names who was removed (action `remove`). */
  | { type: "session_state"; notice: StateNotice; participant?: string }
  /** Live scores: facilitators get everyone's, a participant their own. */
  | { type: "quality"; people: ParticipantQuality[] }
  /** Facilitators only. */
  | { type: "alert"; alert: Alert }
  | { type: "alert_cleared"; rule: string; at: number }
  /** One of your difficulty reports, filed or answered. */
  | { type: "report"; report: Difficulty }
  /** The organisation recorded a change of your action (actions, article 2.1.7). */
  | { type: "action_changed"; change: ActionChange }
  /** The session's media moves (to `forwarded` at the third person in `auto` mode). */
  | { type: "media_route"; route: MediaRoute; at: number }
  /** The server's side of your connections to it: its answer to your publish offer, or its subscribe offer. */
  | { type: "forward"; side: ForwardSide; data: unknown }
  /** One of your connections to the server failed: make it again. */
  | { type: "forward_failed"; side: ForwardSide }
  /** The server could not take someone's camera and microphone (it forwards as much as it may). */
  | { type: "forward_refused"; id: string }
  /** The poll put, answered (counts for facilitators) or closed (counts for everyone). */
  | { type: "poll"; poll: Poll }
  /** The quiz launched, submitted to (yours; everyone's for facilitators) or closed (your score, the right answers). */
  | { type: "quiz"; quiz: Quiz }
  /** A chat message: to everyone, or a private one you sent or received. */
  | ({ type: "chat" } & ChatLine)
  /** The raised hands now, and what changed. */
  | { type: "hands"; raised: RaisedHand[]; change: HandChange }
  | { type: "reaction"; id: string; reaction: Reaction; at: number }
  /** A facilitator muted your microphone (or every participant's): turn it off; you may turn it on again. */
  | { type: "muted"; by: string; everyone: boolean }
  /** A facilitator asks you to turn your microphone back on (only you can). */
  | { type: "unmute_asked"; by: string }
  /** Who a facilitator shows large on every page (absent `id`: nobody); `by` is `server` when that person left. */
  | { type: "spotlight"; id?: string; by: string }
  | { type: "screen"; screen: ScreenShare; change: ShareChange; by: string };

/** `GET /api/report?token=…`: what a sponsor's link shows. Aggregates for everyone; by name only those who agreed. */
export interface SponsorView {
  session: {
    title: string;
    kind: SessionKind | string;
    organisation: string;
    /** The sponsoring organisation (commanditaire), if recorded. */
    sponsor?: string | null;
    /** RFC 3339 UTC (UTC ms accepted too). */
    planned_start: number | string;
    planned_end: number | string;
    time_zone: string;
  };
  /** When the report was computed, ms. */
  generated_at: number;
  /** When the report link expires, ms. */
  expires_at: number;
  half_days: SponsorHalfDay[];
  totals: {
    /** Participants expected. */
    expected: number;
    /** 0..1 */
    average_completion: number;
  };
  named: NamedAttendance[];
  /** Participants counted only in the aggregates (no consent to be named). */
  anonymous_count: number;
  /**
   * Set (English prose) when the aggregates are withheld: so few participants
   * are unnamed that an average would describe each of them. `half_days` is
   * then empty and `totals.average_completion` 0.
   */
  withheld?: string;
  /** The session's suspensions, resumptions, postponements and end: what and when, never why nor who. */
  course: CourseEvent[];
}

/** One change in the course of a session, as a sponsor sees it. */
export interface CourseEvent {
  action: ControlAction;
  /** UTC ms. */
  at: number;
  /** A postponement's new planned start, RFC 3339. */
  planned_start?: string;
  planned_end?: string;
}

export interface SponsorHalfDay {
  /** `YYYY-MM-DD.am` or `YYYY-MM-DD.pm` in the session's time zone. */
  slot: string;
  /** UTC ms. */
  planned_start: number | string;
  planned_end: number | string;
  expected: number;
  present: number;
  signed: number;
  /** 0..1 */
  average_completion: number;
}

export interface NamedAttendance {
  name: string;
  role: Role | string;
  half_days: { slot: string; present_seconds: number; completion: number; signed: boolean }[];
  /** 0..1, over the whole session. */
  completion: number;
}

/** The `data` of a `signal`, as this client writes it (the server never looks inside). */
export type SignalData =
  | { description: RTCSessionDescriptionInit }
  | { candidate: RTCIceCandidateInit | null };

export type ClientMessage =
  | { type: "signal"; to: string; data: SignalData }
  | { type: "heartbeat"; client_time?: number }
  | { type: "media_state"; camera: boolean; microphone: boolean }
  | { type: "leave" }
  | { type: "presence"; visible: boolean; focused: boolean; client_time?: number }
  | { type: "sign_in"; slot: string; signature?: Signature; client_time?: number }
  | { type: "open_signin" }
  | { type: "countersign"; slot: string; participant: string }
  | { type: "get_evidence" }
  | { type: "consent"; consent: ConsentKind; granted: boolean; text_sha256: string }
  /** Facilitators only: arm or disarm recording. */
  | { type: "recording"; armed: boolean }
  | { type: "recorder_signal"; segment: number; data: RecorderSignalData }
  /** Facilitators only: suspend, resume, postpone (start, end), end, remove (participant); always with a reason. */
  | { type: "control"; action: ControlAction; reason: string; start?: string; end?: string; participant?: string }
  /** Connection figures from getStats(), every 5 s. */
  | { type: "stats"; connection: PeerConnectionSummary; peers: PeerStats[] }
  /** Files a difficulty report; answered by `report`. */
  | { type: "report"; text: string }
  /** Signalling of your connections to the server in a forwarded session. */
  | { type: "forward"; side: ForwardSide; data: ForwardData }
  /** Forwarded: how much of each person's camera this page shows now (at most 64). */
  | { type: "forward_view"; views: CameraView[] }
  /** A chat message to everyone, or privately `to` one person (a participant: to a facilitator only). */
  | { type: "chat"; text: string; to?: string }
  /** Raise or lower your hand; a facilitator lowers someone else's with `participant`. */
  | { type: "hand"; raised: boolean; participant?: string }
  | { type: "react"; reaction: Reaction }
  /** Facilitators: mute one person's microphone, or every participant's (no `participant`). */
  | { type: "mute"; participant?: string }
  /** Facilitators: ask someone to turn their microphone back on. */
  | { type: "ask_unmute"; participant: string }
  /** Facilitators: show one person large on every page, or stop (no `participant`). */
  | { type: "spotlight"; participant?: string }
  | { type: "share"; sharing: boolean; audio?: boolean; participant?: string }
  | { type: "share_policy"; participant?: string; allowed?: boolean; takeover?: boolean }
  /** Facilitators: put an anonymous poll (2 to 6 answers). */
  | { type: "poll"; question: string; choices: string[] }
  /** Answer the open poll, once: the index of the answer. */
  | { type: "answer"; poll: number; choice: number }
  /** Facilitators: close the open poll. */
  | { type: "close_poll"; poll: number }
  /** Facilitators: launch a quiz (1 to 10 questions, one at a time). */
  | { type: "quiz"; title: string; questions: NewQuizQuestion[] }
  /** Submit your answers to the open quiz, once: per question, the indexes chosen. */
  | { type: "submit_quiz"; quiz: string; answers: number[][] }
  /** Facilitators: close the open quiz. */
  | { type: "close_quiz"; quiz: string };

/**
 * `GET /api/sessions/{sid}/recordings?token=…` (a facilitator's join token,
 * or the organiser): the session's recording segments, from the ledger.
 */
export interface Recordings {
  segments: RecordingSegment[];
}

export interface RecordingSegment {
  segment: number;
  /** ms */
  started_at: number;
  /** ms; null while it runs. */
  closed_at: number | null;
  /** Why it closed (`consent_withdrawn`, `disarmed`, `participant_without_consent`, `everyone_left`, `storage_full`, …). */
  reason: string | null;
  /** Everyone recorded in it (participant ids). */
  participants?: string[];
  /** When its files were deleted at the end of retention (ms). */
  purged_at: number | null;
  files: RecordingFile[];
  /** Made to be watched after the segment closed: each person's WebM, then the composed view (listed once hashed into the ledger). */
  playable?: PlayableFile[];
  /** `queued`, `running`, `ready`, `failed`, `timed_out`, `ffmpeg_absent`; null when this server run did not make them. */
  playable_status?: string | null;
  /** Playable files that could not be made (names). */
  unavailable?: string[];
}

/** A WebM (VP8 and Opus) made from a segment's raw files. */
export interface PlayableFile {
  /** `person` (one person's source, not re-encoded) or `composed` (everyone, voices mixed). */
  kind: "person" | "composed" | string;
  participant?: string | null;
  /** `camera` or `screen`. */
  source?: string | null;
  publication?: number | null;
  file: string;
  bytes: number;
  sha256: string;
  duration_ms?: number | null;
  url?: string | null;
}

/** `GET /api/sessions/{sid}/ledger/consistency`: RFC 6962 proof that the log's first `to` entries extend its first `from`. */
export interface Consistency {
  typ: "cadre.consistency";
  v: number;
  sid: string;
  from: number;
  to: number;
  /** Hex hashes. */
  path: string[];
}

export interface RecordingFile {
  /** Whose camera or microphone (participant id). */
  participant: string;
  /** `audio` (Opus in Ogg) or `video` (VP8 in IVF). */
  track: "audio" | "video" | string;
  /** File name. */
  file: string;
  bytes: number;
  /** SHA-256 of the file, hex, as recorded in the ledger. */
  sha256: string;
  /** Server time (ms) at which the file's time 0 arrived; none after a crash. */
  origin_at?: number | null;
  /** Where to download it (carries the token the list was asked with); none once purged. */
  url?: string | null;
}
