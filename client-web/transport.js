// @ts-check
//! How this browser's media travels, as the server says (`media` in the
//! welcome, then `media_route`): peer to peer (the mesh, `peers.js`), or
//! forwarded by the server (`forwarding.js`).
//!
//! The move from one to the other happens without anyone leaving: the
//! server connections open while the mesh still carries the media, and each
//! person's mesh connection closes once their media arrives through the
//! server (at the latest after `MOVE_GRACE_MS`). Suspension, device changes
//! and connection figures work the same on both routes.

/** @typedef {import("./wire.js").Peer} Peer */
/** @typedef {import("./wire.js").IceServer} IceServer */
/** @typedef {import("./wire.js").IcePolicy} IcePolicy */
/** @typedef {import("./wire.js").MediaRoute} MediaRoute */
/** @typedef {import("./wire.js").ForwardSide} ForwardSide */
/** @typedef {import("./wire.js").ClientMessage} ClientMessage */
/** @typedef {import("./media.js").LocalMedia} LocalMedia */
/** @typedef {import("./media.js").Kind} Kind */

import { PeerMesh, rtcConfiguration } from "./peers.js";
import { ServerLinks } from "./forwarding.js";

/** The mesh is closed this long after a move to forwarding, whatever arrived. */
const MOVE_GRACE_MS = 15_000;

/**
 * @typedef {object} TransportEvents
 * @property {(message: ClientMessage) => boolean} send to the server
 * @property {(id: string, stream: MediaStream) => void} onRemoteStream a person's media
 * @property {(id: string, stream: MediaStream) => void} onRemoteScreen a person's shared screen
 * @property {(id: string, state: RTCPeerConnectionState) => void} onLinkState how the media from a person fares
 */

export class MediaTransport {
  /** @type {MediaRoute} */
  route = "peer";
  /** Who is connected, for the link state of each tile. @type {Set<string>} */
  #people = new Set();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #moveTimer;
  /** @type {RTCPeerConnectionState} */
  #serverState = "new";
  #unsubscribe;

  /**
   * @param {LocalMedia} media
   * @param {TransportEvents} events
   */
  constructor(media, events) {
    this.events = events;
    this.mesh = new PeerMesh(media, {
      send: (to, data) => events.send({ type: "signal", to, data }),
      onRemoteStream: (id, stream) => {
        // Forwarded, a mesh connection still open during the move does not
        // take a tile back from the server's stream.
        if (this.route === "peer" || !this.server.streams.has(id)) events.onRemoteStream(id, stream);
      },
      onLinkState: (id, state) => {
        if (this.route === "peer") events.onLinkState(id, state);
      },
      onRemoteScreen: (id, stream) => {
        if (this.route === "peer" || !this.server.screens.has(id)) events.onRemoteScreen(id, stream);
      },
    });
    this.server = new ServerLinks(media, (kind) => this.mesh.sends(kind), () => !this.mesh.paused, {
      send: (side, data) => events.send({ type: "forward", side, data }),
      onRemoteScreen: (id, stream) => events.onRemoteScreen(id, stream),
      onRemoteStream: (id, stream) => {
        events.onRemoteStream(id, stream);
        // The person's media arrives through the server: their mesh
        // connection has served.
        this.mesh.remove(id);
        events.onLinkState(id, this.#serverState);
      },
      onState: (state) => {
        this.#serverState = state;
        for (const id of this.#people) {
          if (this.server.streams.has(id) || state !== "connected") events.onLinkState(id, state);
        }
      },
    });
    const camera = media.onTrack((kind, track) => {
      if (this.mesh.sends(kind)) this.server.replaceTrack(kind, track);
    });
    const screen = media.screen.onTrack((kind, track) => {
      if (!this.mesh.paused) this.server.replaceScreen(kind, track);
    });
    this.#unsubscribe = () => {
      camera();
      screen();
    };
  }

  /** @param {IceServer[]} iceServers @param {IcePolicy} icePolicy */
  configure(iceServers, icePolicy) {
    this.mesh.configure(iceServers, icePolicy);
    this.server.configure(rtcConfiguration(iceServers, icePolicy), icePolicy);
  }

  /**
   * A fresh start (after our own welcome): everything is made anew the way
   * the server says.
   * @param {Peer[]} roster
   * @param {MediaRoute} route
   */
  reset(roster, route) {
    clearTimeout(this.#moveTimer);
    this.route = route;
    this.#people = new Set(roster.map((p) => p.id));
    if (route === "forwarded") {
      this.mesh.closeAll();
      this.server.start();
    } else {
      this.server.stop();
      this.mesh.reset(roster);
    }
  }

  /**
   * The session's media moves: the new way is connected first, the old one
   * closed person by person as their media arrives the new way.
   * @param {MediaRoute} route
   * @param {Peer[]} roster
   */
  moveTo(route, roster) {
    if (route === this.route) return;
    this.route = route;
    clearTimeout(this.#moveTimer);
    if (route === "forwarded") {
      this.server.start();
      this.#moveTimer = setTimeout(() => this.mesh.closeAll(), MOVE_GRACE_MS);
    } else {
      this.server.stop();
      this.mesh.reset(roster);
    }
  }

  /**
   * A peer joined, or reconnected (same id, new connection id).
   * @param {Peer} peer
   */
  upsert(peer) {
    this.#people.add(peer.id);
    if (this.route === "peer") this.mesh.upsert(peer);
  }

  /** @param {string} id */
  remove(id) {
    this.#people.delete(id);
    this.mesh.remove(id);
    this.server.streams.delete(id);
    this.server.screens.delete(id);
  }

  /** A relayed mesh payload. @param {string} from @param {unknown} data */
  signal(from, data) {
    this.mesh.signal(from, data);
  }

  /** The server's side of our connections to it. @param {ForwardSide} side @param {unknown} data */
  forward(side, data) {
    if (this.route === "forwarded") this.server.receive(side, data);
  }

  /** @param {ForwardSide} side */
  forwardFailed(side) {
    if (this.route === "forwarded") this.server.failed(side);
  }

  /**
   * The server refused our publication (beyond what it carries).
   * @returns {boolean} whether to tell the person (the first refusal)
   */
  publishRefused() {
    return this.route === "forwarded" && this.server.refused();
  }

  /**
   * Stops (true) or restarts (false) sending, on every connection.
   * @param {boolean} paused
   * @param {Kind[]} [keep]
   */
  setPaused(paused, keep = []) {
    this.mesh.setPaused(paused, keep);
    for (const kind of /** @type {Kind[]} */ (["audio", "video"])) {
      this.server.replaceTrack(kind, this.mesh.sends(kind) ? this.mesh.media.track(kind) : null);
      this.server.replaceScreen(kind, paused ? null : this.mesh.media.screen.track(kind));
    }
  }

  /**
   * The live peer connections (the mesh's by peer id, the server's as
   * `server:publish` and `server:subscribe`), for connection figures.
   * @returns {[string, RTCPeerConnection][]}
   */
  connections() {
    return [...this.mesh.connections(), ...this.server.connections()];
  }

  /**
   * How loud each person sounds now (0..1), from the audio level their
   * packets carry (RFC 6464: the browser's, or passed on by the server).
   * @returns {Map<string, number>}
   */
  levels() {
    /** @type {Map<string, number>} */
    const out = new Map();
    const now = performance.now();
    /** @param {string} id @param {RTCRtpReceiver} receiver */
    const read = (id, receiver) => {
      const [source] = receiver.getSynchronizationSources();
      // A level older than a second is silence, not speech.
      if (source && typeof source.audioLevel === "number" && now - source.timestamp < 1000) {
        out.set(id, Math.max(out.get(id) ?? 0, source.audioLevel));
      }
    };
    if (this.route === "forwarded") {
      for (const [id, receiver] of this.server.voices) read(id, receiver);
    } else {
      for (const [id, pc] of this.mesh.connections()) {
        for (const receiver of pc.getReceivers()) if (receiver.track.kind === "audio") read(id, receiver);
      }
    }
    return out;
  }

  /** Connection states by name, for tests. @returns {Record<string, RTCPeerConnectionState>} */
  states() {
    return Object.fromEntries(this.connections().map(([id, pc]) => [id, pc.connectionState]));
  }

  closeAll() {
    clearTimeout(this.#moveTimer);
    this.mesh.closeAll();
    this.server.stop();
  }

  dispose() {
    this.closeAll();
    this.mesh.dispose();
    this.#unsubscribe();
  }
}
