// The wire types of docs/protocol.md, as the browser sees them (mirrors
// protocol/src/signalling.rs and api.rs). Types only: never served.

export type Role = "facilitator" | "participant";
export type SessionKind = "formation" | "bilan" | "vae" | "coaching" | "gapp" | "intervention";
export type SessionState = "scheduled" | "open" | "running" | "suspended" | "postponed" | "ended";
export type IcePolicy = "all" | "loopback";
export type LeaveReason =
  | "left" | "disconnected" | "timeout" | "replaced" | "flood" | "slow_consumer" | "revoked" | "shutdown";

/** Every failure, over HTTP or on the socket. `code` is stable; `message` is English prose. */
export interface ErrorBody {
  code: string;
  message: string;
}

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
  /** Current decisions: false both when refused and when never decided. */
  consents: Consents;
}

export type ConsentKind = "recording" | "sponsor_share";

export interface ConsentText {
  consent: ConsentKind;
  lang: "fr" | "en";
  text: string;
  /** SHA-256 of the text's UTF-8 bytes, hex: what a decision is sent with. */
  sha256: string;
}

export interface Consents {
  recording: boolean;
  sponsor_share: boolean;
}

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
  /** Your current consent decisions (false when none). */
  consents: Consents;
  /** Everyone in the session: facilitators only. */
  people?: Me[];
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
  | "consent";

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
  | { type: "peer_joined"; peer: Peer }
  | { type: "peer_left"; id: string; reason: LeaveReason }
  | { type: "peer_media"; id: string; camera: boolean; microphone: boolean }
  | { type: "signal"; from: string; data: unknown }
  | { type: "heartbeat_ack"; server_time: number }
  | { type: "error"; code: string; message: string }
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
  /** A signed tree head (compact JWS), after `leave` and before the close. */
  | { type: "receipt"; tree_head: string };

/** `GET /api/report?token=…`: what a sponsor's link shows. Aggregates for everyone; by name only those who agreed. */
export interface SponsorReport {
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
  half_days: ReportHalfDay[];
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
}

export interface ReportHalfDay {
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
  | { type: "consent"; consent: ConsentKind; granted: boolean; text_sha256: string };
