// @ts-check
//! The mesh: one `RTCPeerConnection` per other person, negotiated with the
//! "perfect negotiation" pattern. Who is polite towards whom comes from the
//! server (`polite` in each roster entry), so both sides always agree.
//!
//! Each connection sends from the same local stream. Both an audio and a
//! video sender exist from the start (an empty one when that device is off),
//! so turning the camera on, off, or switching devices is a `replaceTrack`,
//! never a renegotiation.
//!
//! A shared screen and its sound go on two more senders, also there from
//! the start (empty while nobody shares), added after the camera's by both
//! sides: each side's screen transceivers pair with the other's, so a track
//! that arrives on one of them is the other person's screen.
//!
//! While the session is suspended (`setPaused(true)`), every sender's track
//! is replaced by null: nothing is encoded or sent, and no renegotiation is
//! needed to send again (`setPaused(false)` puts the current tracks back).
//! A facilitator keeps their microphone during a suspension, to explain it
//! (`setPaused(true, ["audio"])`; docs/architecture.md, "Suspension").
//!
//! With `ice_policy: "loopback"` (test rigs) only 127.0.0.1 candidates are
//! sent or accepted.

/** @typedef {import("./wire.js").Peer} Peer */
/** @typedef {import("./wire.js").IceServer} IceServer */
/** @typedef {import("./wire.js").IcePolicy} IcePolicy */
/** @typedef {import("./wire.js").SignalData} SignalData */
/** @typedef {import("./media.js").LocalMedia} LocalMedia */
/** @typedef {import("./media.js").Kind} Kind */

/** Signals that arrive before we know their sender are held this long. */
const PENDING_TTL_MS = 15_000;
const PENDING_MAX = 200;
/** A connection still not up after this long gets an ICE restart (from the impolite side). */
const STUCK_AFTER_MS = 20_000;
/** How long the polite side leaves the impolite side to restart a failed ICE. */
const RESTART_GRACE_MS = 5_000;
/** How long the polite side waits for the other side's first offer before offering itself. */
const FIRST_OFFER_WAIT_MS = 3_000;

/**
 * @typedef {object} MeshEvents
 * @property {(to: string, data: SignalData) => void} send relay a payload to a peer
 * @property {(id: string, stream: MediaStream) => void} onRemoteStream a peer's media (same stream object until the link restarts)
 * @property {(id: string, stream: MediaStream) => void} onRemoteScreen a peer's shared screen (with its sound)
 * @property {(id: string, state: RTCPeerConnectionState) => void} onLinkState
 */

export class PeerMesh {
  /** @type {Map<string, PeerLink>} */
  links = new Map();
  /** @type {RTCConfiguration} */
  #config = { iceServers: [] };
  /** @type {IcePolicy} */
  icePolicy = "all";
  /** @type {Map<string, { data: unknown, at: number }[]>} */
  #pending = new Map();
  #unsubscribe;
  /** The session is suspended: nothing is sent (the tracks stay on locally)… */
  paused = false;
  /** …except these kinds (a facilitator's voice during a suspension). @type {Set<Kind>} */
  kept = new Set();

  /**
   * @param {LocalMedia} media
   * @param {MeshEvents} events
   */
  constructor(media, events) {
    this.media = media;
    this.events = events;
    const camera = media.onTrack((kind, track) => {
      // Suspended: the new track is sent on resuming.
      if (!this.sends(kind)) return;
      for (const link of this.links.values()) link.replaceTrack(kind, track);
    });
    const screen = media.screen.onTrack((kind, track) => {
      if (this.paused) return;
      for (const link of this.links.values()) link.replaceScreen(kind, track);
    });
    this.#unsubscribe = () => {
      camera();
      screen();
    };
  }

  /**
   * Stops (true) or restarts (false) sending on every connection, without
   * renegotiating: each sender's track is replaced by null, then by the
   * current track of its kind. `keep` names the kinds still sent while
   * paused.
   * @param {boolean} paused
   * @param {Kind[]} [keep]
   */
  setPaused(paused, keep = []) {
    const kept = new Set(paused ? keep : []);
    if (paused === this.paused && [...kept].every((k) => this.kept.has(k)) && kept.size === this.kept.size) return;
    this.paused = paused;
    this.kept = kept;
    for (const link of this.links.values()) {
      for (const kind of /** @type {Kind[]} */ (["audio", "video"])) {
        link.replaceTrack(kind, this.sends(kind) ? this.media.track(kind) : null);
        // A shared screen is not sent during a suspension, even a
        // facilitator's.
        link.replaceScreen(kind, paused ? null : this.media.screen.track(kind));
      }
    }
  }

  /** Whether this kind is sent now. @param {Kind} kind */
  sends(kind) {
    return !this.paused || this.kept.has(kind);
  }

  /**
   * The live peer connections, by peer id (for connection statistics and
   * tests); read only.
   * @returns {[string, RTCPeerConnection][]}
   */
  connections() {
    return [...this.links].filter(([, link]) => !link.closed).map(([id, link]) => [id, link.pc]);
  }

  /**
   * @param {IceServer[]} iceServers
   * @param {IcePolicy} icePolicy
   */
  configure(iceServers, icePolicy) {
    this.icePolicy = icePolicy;
    this.#config = rtcConfiguration(iceServers, icePolicy);
    // Fresh TURN credentials reach the live links too (their ICE restarts).
    for (const link of this.links.values()) if (!link.closed) reconfigure(link.pc, this.#config);
  }

  /**
   * A fresh start (after our own welcome): everyone we knew renegotiates
   * with our new connection anyway.
   * @param {Peer[]} roster
   */
  reset(roster) {
    for (const link of this.links.values()) link.close();
    this.links.clear();
    for (const peer of roster) this.#create(peer);
  }

  /**
   * A peer joined, or reconnected (same id, new connection id): start over.
   * @param {Peer} peer
   * @returns {"new" | "restarted" | "same"}
   */
  upsert(peer) {
    const existing = this.links.get(peer.id);
    if (existing && existing.peer.connection_id === peer.connection_id) return "same";
    existing?.close();
    this.#create(peer);
    return existing ? "restarted" : "new";
  }

  /** @param {string} id */
  remove(id) {
    this.links.get(id)?.close();
    this.links.delete(id);
    this.#pending.delete(id);
  }

  /**
   * A relayed payload from a peer.
   * @param {string} from
   * @param {unknown} data
   */
  signal(from, data) {
    const link = this.links.get(from);
    if (link) {
      link.receive(data);
      return;
    }
    // The relay may overtake the `peer_joined` that introduces its sender.
    const now = Date.now();
    const queue = (this.#pending.get(from) ?? []).filter((p) => now - p.at < PENDING_TTL_MS);
    if (queue.length < PENDING_MAX) queue.push({ data, at: now });
    this.#pending.set(from, queue);
  }

  closeAll() {
    for (const link of this.links.values()) link.close();
    this.links.clear();
    this.#pending.clear();
  }

  dispose() {
    this.closeAll();
    this.#unsubscribe();
  }

  /** @param {Peer} peer */
  #create(peer) {
    const link = new PeerLink(this, peer, this.#config);
    this.links.set(peer.id, link);
    const now = Date.now();
    const held = this.#pending.get(peer.id) ?? [];
    this.#pending.delete(peer.id);
    for (const p of held) if (now - p.at < PENDING_TTL_MS) link.receive(p.data);
  }
}

/**
 * The `RTCConfiguration` for the welcome's ICE servers and policy (the mesh
 * and the recorder connection use the same).
 * @param {IceServer[]} iceServers
 * @param {IcePolicy} icePolicy
 * @returns {RTCConfiguration}
 */
export function rtcConfiguration(iceServers, icePolicy) {
  /** @type {RTCIceServer[]} */
  const servers = iceServers.map((s) => {
    /** @type {RTCIceServer} */
    const server = { urls: s.urls };
    if (s.username !== undefined) server.username = s.username;
    if (s.credential !== undefined) server.credential = s.credential;
    return server;
  });
  // Loopback rigs must not try the machine's other interfaces or any STUN server.
  if (icePolicy === "loopback") return { iceServers: [] };
  // `relay`: only TURN relays (a test of the relay path, or a network that must).
  if (icePolicy === "relay") return { iceServers: servers, iceTransportPolicy: "relay" };
  return { iceServers: servers };
}

/**
 * Gives a live connection new ICE servers (renewed TURN credentials): used
 * by its next gathering, an ICE restart. A closed connection refuses, and
 * needs none.
 * @param {RTCPeerConnection} pc
 * @param {RTCConfiguration} config
 */
export function reconfigure(pc, config) {
  if (pc.connectionState === "closed") return;
  try {
    pc.setConfiguration({ ...pc.getConfiguration(), iceServers: config.iceServers ?? [] });
  } catch (err) {
    console.warn("cadre: new ICE servers not applied", err);
  }
}

/** Whether a candidate line's address is 127.0.0.1. @param {string} candidate */
export function isLoopbackCandidate(candidate) {
  // candidate:<foundation> <component> <transport> <priority> <address> <port> typ …
  const fields = candidate.replace(/^a=/, "").split(/\s+/);
  return fields[4] === "127.0.0.1";
}

/** Drops non-loopback `a=candidate` lines from an SDP. @param {string} sdp */
export function loopbackSdp(sdp) {
  return sdp
    .split("\r\n")
    .filter((line) => !line.startsWith("a=candidate:") || isLoopbackCandidate(line))
    .join("\r\n");
}

/** @type {Partial<Record<Kind | "screen-audio" | "screen-video", MediaStreamTrack>>} */
const placeholders = {};

/**
 * A silent or blank track, used only to create a sender (then replaced by
 * null) when that device is off: `addTrack` needs a track, and only
 * `addTrack`-created transceivers pair up with the remote offer's.
 * `addTrack` refuses a track a connection already sends: the screen's
 * senders get placeholders of their own.
 * @param {Kind | "screen-audio" | "screen-video"} kind
 */
function placeholder(kind) {
  let track = placeholders[kind];
  if (track && track.readyState === "live") return track;
  if (kind === "video" || kind === "screen-video") {
    const canvas = document.createElement("canvas");
    canvas.width = 16;
    canvas.height = 9;
    canvas.getContext("2d")?.fillRect(0, 0, 16, 9);
    track = canvas.captureStream(1).getVideoTracks()[0];
  } else {
    const audio = new AudioContext();
    track = audio.createMediaStreamDestination().stream.getAudioTracks()[0];
  }
  placeholders[kind] = track;
  return track;
}

class PeerLink {
  /** @type {Record<Kind, RTCRtpSender | null>} */
  senders = { audio: null, video: null };
  /** The shared screen's senders (their transceivers receive the other's screen). @type {Record<Kind, RTCRtpSender | null>} */
  screenSenders = { audio: null, video: null };
  /** The other person's shared screen, once a track of it arrived. @type {MediaStream | null} */
  remoteScreen = null;
  makingOffer = false;
  ignoreOffer = false;
  settingRemoteAnswer = false;
  closed = false;
  /**
   * The polite side lets the impolite side open the first negotiation.
   * Perfect negotiation would resolve the glare anyway, but Chromium
   * sometimes never gathers candidates after rolling back an offer whose
   * `setLocalDescription` was still pending, leaving both sides at "new".
   * Without glare at the start there is no rollback in the common case.
   */
  awaitingFirstOffer = false;
  /** Incoming payloads are handled one at a time, in order. */
  #queue = Promise.resolve();
  /** @type {MediaStream | null} */
  remoteStream = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #stuckTimer;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #firstOfferTimer;

  /**
   * @param {PeerMesh} mesh
   * @param {Peer} peer
   * @param {RTCConfiguration} config
   */
  constructor(mesh, peer, config) {
    this.mesh = mesh;
    this.peer = peer;
    this.polite = peer.polite;
    const pc = new RTCPeerConnection(config);
    this.pc = pc;

    const media = mesh.media;
    const screen = media.screen;
    // Every sender is added before any is emptied: `addTrack` would take
    // back a sender whose track is already null, and the screen would then
    // go out on the camera's.
    /** @type {RTCRtpSender[]} */
    const empty = [];
    for (const kind of /** @type {Kind[]} */ (["audio", "video"])) {
      const track = media.track(kind);
      const sender = pc.addTrack(track ?? placeholder(kind), media.stream);
      if (!track || !mesh.sends(kind)) empty.push(sender);
      this.senders[kind] = sender;
    }
    // After the camera's, in the same order on both sides (see the top).
    for (const kind of /** @type {Kind[]} */ (["video", "audio"])) {
      const track = screen.track(kind);
      const sender = pc.addTrack(track ?? placeholder(`screen-${kind}`), screen.stream);
      if (!track || mesh.paused) empty.push(sender);
      this.screenSenders[kind] = sender;
    }
    for (const sender of empty) sender.replaceTrack(null).catch(() => {});

    this.awaitingFirstOffer = this.polite;
    pc.onnegotiationneeded = () => {
      if (!this.awaitingFirstOffer) this.#offer();
    };
    if (this.polite) {
      // Nothing from the other side (an older client, a lost message): offer.
      this.#firstOfferTimer = setTimeout(() => {
        if (this.closed || !this.awaitingFirstOffer) return;
        this.awaitingFirstOffer = false;
        if (pc.signalingState === "stable" && !pc.remoteDescription) this.#offer();
      }, FIRST_OFFER_WAIT_MS);
    }
    pc.onicecandidate = ({ candidate }) => {
      if (this.closed) return;
      if (candidate && this.mesh.icePolicy === "loopback" && !isLoopbackCandidate(candidate.candidate)) return;
      this.mesh.events.send(peer.id, { candidate: candidate ? candidate.toJSON() : null });
    };
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState !== "failed") return;
      // Both sides see the failure; the impolite one restarts, so that the
      // two restart offers do not collide. The polite side steps in only if
      // nothing happens.
      if (!this.polite) pc.restartIce();
      else {
        setTimeout(() => {
          if (!this.closed && pc.iceConnectionState === "failed") pc.restartIce();
        }, RESTART_GRACE_MS);
      }
    };
    pc.onconnectionstatechange = () => {
      if (this.closed) return;
      if (pc.connectionState === "connected") clearTimeout(this.#stuckTimer);
      this.mesh.events.onLinkState(peer.id, pc.connectionState);
    };
    pc.ontrack = ({ track, streams, transceiver }) => {
      if (this.closed) return;
      const sender = transceiver.sender;
      if (sender === this.screenSenders.video || sender === this.screenSenders.audio) {
        let screenStream = streams[0] ?? this.remoteScreen;
        if (!screenStream) screenStream = new MediaStream();
        if (!screenStream.getTracks().includes(track)) screenStream.addTrack(track);
        this.remoteScreen = screenStream;
        this.mesh.events.onRemoteScreen(peer.id, screenStream);
        return;
      }
      let stream = streams[0] ?? this.remoteStream;
      if (!stream) stream = new MediaStream();
      if (!stream.getTracks().includes(track)) stream.addTrack(track);
      this.remoteStream = stream;
      this.mesh.events.onRemoteStream(peer.id, stream);
    };
    this.#stuckTimer = setTimeout(() => {
      if (!this.closed && !this.polite && pc.connectionState !== "connected") pc.restartIce();
    }, STUCK_AFTER_MS);
  }

  async #offer() {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      this.#sendDescription();
    } catch (err) {
      console.warn(`cadre: offer to ${this.peer.id} failed`, err);
    } finally {
      this.makingOffer = false;
    }
  }

  /** @param {Kind} kind @param {MediaStreamTrack | null} track */
  replaceTrack(kind, track) {
    this.senders[kind]?.replaceTrack(track).catch((err) => console.warn("cadre: replaceTrack failed", err));
  }

  /** @param {Kind} kind @param {MediaStreamTrack | null} track */
  replaceScreen(kind, track) {
    this.screenSenders[kind]?.replaceTrack(track).catch((err) => console.warn("cadre: replaceTrack failed", err));
  }

  /** @param {unknown} data */
  receive(data) {
    this.#queue = this.#queue
      .then(() => this.#handle(data))
      .catch((err) => console.warn(`cadre: signal from ${this.peer.id} failed`, err));
  }

  close() {
    this.closed = true;
    clearTimeout(this.#stuckTimer);
    clearTimeout(this.#firstOfferTimer);
    this.pc.onnegotiationneeded = this.pc.onicecandidate = this.pc.ontrack = null;
    this.pc.oniceconnectionstatechange = this.pc.onconnectionstatechange = null;
    this.pc.close();
  }

  #sendDescription() {
    const local = this.pc.localDescription;
    if (!local || this.closed) return;
    const sdp = this.mesh.icePolicy === "loopback" ? loopbackSdp(local.sdp) : local.sdp;
    this.mesh.events.send(this.peer.id, { description: { type: local.type, sdp } });
  }

  /** @param {unknown} data */
  async #handle(data) {
    if (this.closed || typeof data !== "object" || data === null) return;
    const pc = this.pc;
    if ("description" in data) {
      const description = /** @type {RTCSessionDescriptionInit} */ (data.description);
      if (!description || typeof description.type !== "string") return;
      if (description.type === "offer") {
        this.awaitingFirstOffer = false;
        clearTimeout(this.#firstOfferTimer);
      }
      if (this.mesh.icePolicy === "loopback" && description.sdp) {
        description.sdp = loopbackSdp(description.sdp);
      }
      const readyForOffer = !this.makingOffer && (pc.signalingState === "stable" || this.settingRemoteAnswer);
      const collision = description.type === "offer" && !readyForOffer;
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) return;
      this.settingRemoteAnswer = description.type === "answer";
      try {
        await pc.setRemoteDescription(description);
      } finally {
        this.settingRemoteAnswer = false;
      }
      if (description.type === "offer") {
        await pc.setLocalDescription();
        this.#sendDescription();
      }
    } else if ("candidate" in data) {
      const candidate = /** @type {RTCIceCandidateInit | null} */ (data.candidate);
      if (candidate && this.mesh.icePolicy === "loopback" && !isLoopbackCandidate(candidate.candidate ?? "")) return;
      try {
        await pc.addIceCandidate(candidate ?? undefined);
      } catch (err) {
        // A candidate for an offer we chose to ignore is expected to fail.
        if (!this.ignoreOffer) throw err;
      }
    }
  }
}
