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
}

export type ServerMessage =
  | Welcome
  | { type: "peer_joined"; peer: Peer }
  | { type: "peer_left"; id: string; reason: LeaveReason }
  | { type: "peer_media"; id: string; camera: boolean; microphone: boolean }
  | { type: "signal"; from: string; data: unknown }
  | { type: "heartbeat_ack"; server_time: number }
  | { type: "error"; code: string; message: string }
  | { type: "closing"; reason: LeaveReason; message: string };

/** The `data` of a `signal`, as this client writes it (the server never looks inside). */
export type SignalData =
  | { description: RTCSessionDescriptionInit }
  | { candidate: RTCIceCandidateInit | null };

export type ClientMessage =
  | { type: "signal"; to: string; data: SignalData }
  | { type: "heartbeat"; client_time?: number }
  | { type: "media_state"; camera: boolean; microphone: boolean }
  | { type: "leave" };
