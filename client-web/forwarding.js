// @ts-check
//! A forwarded session's media: two `RTCPeerConnection`s to the server
//! instead of one per person (docs/forwarding.md).
//!
//! - *publish*: this browser offers its camera and microphone, send-only,
//!   once; the server answers (its candidates in the SDP). Turning a device
//!   on or off, or a suspension, is a `replaceTrack`, as in the mesh.
//! - *subscribe*: the server offers everyone else's tracks, and offers again
//!   whenever someone starts or stops publishing; this browser answers. Each
//!   track's stream id is its publisher's participant id, or, for a shared
//!   screen and its sound, that id and `:screen`.
//!
//! The publish connection also carries this browser's shared screen, on two
//! transceivers of their own stream, there from the start and empty while
//! nobody shares (the server tells the screen by its stream).
//!
//! Both trickle this browser's candidates to the server in `forward`
//! messages. A connection the server reports failed (`forward_failed`) is
//! made again.

/** @typedef {import("./wire.js").IcePolicy} IcePolicy */
/** @typedef {import("./wire.js").ForwardSide} ForwardSide */
/** @typedef {import("./wire.js").ForwardData} ForwardData */
/** @typedef {import("./media.js").LocalMedia} LocalMedia */
/** @typedef {import("./media.js").Kind} Kind */

import { isLoopbackCandidate, loopbackSdp, reconfigure } from "./peers.js";

/**
 * The camera in three encodings (simulcast): the server sends each person
 * the one their tile needs and their connection carries. A browser drops
 * the encodings its camera is too small for.
 * @type {RTCRtpEncodingParameters[]}
 */
const SIMULCAST = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", maxBitrate: 1_200_000 },
];

/** The stream id suffix of a publisher's shared screen (as the server names it). */
export const SCREEN_SUFFIX = ":screen";

/** A shared screen: one encoding, sharp rather than smooth. @type {RTCRtpEncodingParameters[]} */
const SCREEN_ENCODING = [{ maxBitrate: 1_500_000, maxFramerate: 15 }];

/** A publisher's track that never unmutes is shown anyway after this long. */
const FIRST_FRAME_WAIT_MS = 5_000;

/**
 * @typedef {object} ForwardEvents
 * @property {(side: ForwardSide, data: ForwardData) => void} send a `forward` message to the server
 * @property {(id: string, stream: MediaStream) => void} onRemoteStream a publisher's media, once it flows
 * @property {(id: string, stream: MediaStream) => void} onRemoteScreen a publisher's shared screen, once it flows
 * @property {(state: RTCPeerConnectionState) => void} onState the worse of the two connections' states
 */

export class ServerLinks {
  /** @type {RTCPeerConnection | null} */
  publish = null;
  /** @type {RTCPeerConnection | null} */
  subscribe = null;
  /** @type {Record<Kind, RTCRtpSender | null>} */
  senders = { audio: null, video: null };
  /** @type {Record<Kind, RTCRtpSender | null>} */
  screenSenders = { audio: null, video: null };
  /** Publishers' shared screens that flow to us, by participant id. @type {Map<string, MediaStream>} */
  screens = new Map();
  /** Publishers whose media flows to us, by participant id. @type {Map<string, MediaStream>} */
  streams = new Map();
  /** Each publisher's sound as received, by participant id (how loud it is). @type {Map<string, RTCRtpReceiver>} */
  voices = new Map();
  /** @type {RTCConfiguration} */
  #config = { iceServers: [] };
  /** @type {IcePolicy} */
  icePolicy = "all";
  /** Subscribe offers are handled one at a time, in order. */
  #queue = Promise.resolve();
  active = false;

  /**
   * @param {LocalMedia} media
   * @param {(kind: Kind) => boolean} sends whether a kind is sent now (not suspended)
   * @param {() => boolean} sendsScreen whether a shared screen is sent now (not suspended)
   * @param {ForwardEvents} events
   */
  constructor(media, sends, sendsScreen, events) {
    this.media = media;
    this.sends = sends;
    this.sendsScreen = sendsScreen;
    this.events = events;
  }

  /** @param {RTCConfiguration} config @param {IcePolicy} icePolicy */
  configure(config, icePolicy) {
    this.#config = config;
    this.icePolicy = icePolicy;
    for (const pc of [this.publish, this.subscribe]) if (pc) reconfigure(pc, config);
  }

  /** A publication the server refused as beyond what it carries: tried again after this long. */
  static RETRY_PUBLISH_MS = 30_000;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #retry = null;

  /**
   * The server forwards as much as it can carry and refused our camera and
   * microphone: we still receive the others, and publish again later (the
   * server may have room once someone leaves).
   * @returns {boolean} whether this is the first refusal since publishing worked
   */
  refused() {
    if (!this.active) return false;
    const first = !this.#waiting;
    this.#waiting = true;
    // The refused connection would never connect: without it, what we
    // receive shows as connected.
    if (this.publish) {
      this.publish.onicecandidate = this.publish.onconnectionstatechange = null;
      this.publish.close();
      this.publish = null;
      this.senders = { audio: null, video: null };
      this.screenSenders = { audio: null, video: null };
      this.#state();
    }
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (this.active) this.#publish();
    }, ServerLinks.RETRY_PUBLISH_MS);
    return first;
  }

  /** Refused at least once and not yet taken since. */
  #waiting = false;

  /** Connects to the server: publishes now, answers its offers as they come. */
  start() {
    this.stop();
    this.active = true;
    this.#publish();
  }

  /** Closes both connections. */
  stop() {
    this.active = false;
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
    this.#waiting = false;
    for (const pc of [this.publish, this.subscribe]) {
      if (!pc) continue;
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null;
      pc.close();
    }
    this.publish = this.subscribe = null;
    this.senders = { audio: null, video: null };
    this.screenSenders = { audio: null, video: null };
    this.streams.clear();
    this.screens.clear();
    this.voices.clear();
    this.#queue = Promise.resolve();
  }

  /** @param {Kind} kind @param {MediaStreamTrack | null} track */
  replaceTrack(kind, track) {
    this.senders[kind]?.replaceTrack(track).catch((err) => console.warn("cadre: replaceTrack failed", err));
  }

  /** @param {Kind} kind @param {MediaStreamTrack | null} track */
  replaceScreen(kind, track) {
    this.screenSenders[kind]?.replaceTrack(track).catch((err) => console.warn("cadre: replaceTrack failed", err));
  }

  /**
   * A `forward` from the server: the answer to our publish offer, or an
   * offer for the subscribe connection.
   * @param {ForwardSide} side
   * @param {unknown} data
   */
  receive(side, data) {
    if (!this.active || typeof data !== "object" || data === null) return;
    const description = /** @type {RTCSessionDescriptionInit} */ (data);
    if (this.icePolicy === "loopback" && description.sdp) description.sdp = loopbackSdp(description.sdp);
    if (side === "publish" && description.type === "answer") {
      this.#waiting = false;
      const pc = this.publish;
      pc?.setRemoteDescription(description).catch((err) => console.warn("cadre: the server's answer failed", err));
      return;
    }
    if (side === "subscribe" && description.type === "offer") {
      this.#queue = this.#queue
        .then(() => this.#answer(description))
        .catch((err) => console.warn("cadre: the server's offer failed", err));
    }
  }

  /**
   * The server lost one of our connections: make it again. A failed
   * subscribe connection takes the publish one with it (the server starts
   * this person over).
   * @param {ForwardSide} side
   */
  failed(side) {
    if (!this.active) return;
    if (side === "subscribe") this.start();
    else this.#publish();
  }

  /** The two connections, for connection figures. @returns {[string, RTCPeerConnection][]} */
  connections() {
    /** @type {[string, RTCPeerConnection][]} */
    const out = [];
    if (this.publish) out.push(["server:publish", this.publish]);
    if (this.subscribe) out.push(["server:subscribe", this.subscribe]);
    return out;
  }

  #publish() {
    if (this.publish) {
      this.publish.onicecandidate = this.publish.onconnectionstatechange = null;
      this.publish.close();
    }
    const pc = new RTCPeerConnection(this.#config);
    this.publish = pc;
    for (const kind of /** @type {Kind[]} */ (["audio", "video"])) {
      const track = this.media.track(kind);
      /** @type {RTCRtpTransceiverInit} */
      const init = { direction: "sendonly", streams: [this.media.stream] };
      if (kind === "video") init.sendEncodings = SIMULCAST;
      const transceiver = pc.addTransceiver(track ?? kind, init);
      if (track && !this.sends(kind)) transceiver.sender.replaceTrack(null).catch(() => {});
      this.senders[kind] = transceiver.sender;
    }
    const screen = this.media.screen;
    for (const kind of /** @type {Kind[]} */ (["video", "audio"])) {
      const track = screen.track(kind);
      /** @type {RTCRtpTransceiverInit} */
      const init = { direction: "sendonly", streams: [screen.stream] };
      if (kind === "video") init.sendEncodings = SCREEN_ENCODING;
      const transceiver = pc.addTransceiver(track ?? kind, init);
      if (track && !this.sendsScreen()) transceiver.sender.replaceTrack(null).catch(() => {});
      this.screenSenders[kind] = transceiver.sender;
    }
    this.#trickle(pc, "publish");
    pc.onconnectionstatechange = () => this.#state();
    (async () => {
      await pc.setLocalDescription();
      const local = pc.localDescription;
      if (!local || this.publish !== pc) return;
      const sdp = this.icePolicy === "loopback" ? loopbackSdp(local.sdp) : local.sdp;
      this.events.send("publish", { type: "offer", sdp });
    })().catch((err) => console.warn("cadre: the publish offer failed", err));
  }

  /** @param {RTCSessionDescriptionInit} offer */
  async #answer(offer) {
    let pc = this.subscribe;
    if (!pc) {
      pc = new RTCPeerConnection(this.#config);
      this.subscribe = pc;
      this.#trickle(pc, "subscribe");
      pc.onconnectionstatechange = () => this.#state();
      pc.ontrack = ({ track, streams, receiver }) => {
        const screen = streams[0]?.id.endsWith(SCREEN_SUFFIX) ?? false;
        if (track.kind === "audio" && streams[0] && !screen) this.voices.set(streams[0].id, receiver);
        this.#track(track, streams[0]);
      };
    }
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription();
    const local = pc.localDescription;
    if (!local || this.subscribe !== pc) return;
    const sdp = this.icePolicy === "loopback" ? loopbackSdp(local.sdp) : local.sdp;
    this.events.send("subscribe", { type: "answer", sdp });
  }

  /**
   * A publisher's track: shown once its media flows, so that a picture
   * from the mesh stays until the server's replaces it.
   * @param {MediaStreamTrack} track
   * @param {MediaStream | undefined} stream
   */
  #track(track, stream) {
    if (!stream) return;
    const screen = stream.id.endsWith(SCREEN_SUFFIX);
    const id = screen ? stream.id.slice(0, -SCREEN_SUFFIX.length) : stream.id;
    const shown = screen ? this.screens : this.streams;
    const show = () => {
      if (!this.active || shown.get(id) === stream) return;
      shown.set(id, stream);
      if (screen) this.events.onRemoteScreen(id, stream);
      else this.events.onRemoteStream(id, stream);
    };
    if (!track.muted) {
      show();
      return;
    }
    const timer = setTimeout(show, FIRST_FRAME_WAIT_MS);
    track.addEventListener("unmute", () => {
      clearTimeout(timer);
      show();
    }, { once: true });
  }

  /** @param {RTCPeerConnection} pc @param {ForwardSide} side */
  #trickle(pc, side) {
    pc.onicecandidate = ({ candidate }) => {
      if (!this.active) return;
      if (candidate && this.icePolicy === "loopback" && !isLoopbackCandidate(candidate.candidate)) return;
      this.events.send(side, candidate ? candidate.toJSON() : { candidate: null });
    };
  }

  #state() {
    const states = [this.publish, this.subscribe].filter((pc) => pc !== null).map((pc) => pc.connectionState);
    for (const worst of /** @type {RTCPeerConnectionState[]} */ (["failed", "disconnected", "new", "connecting", "closed"])) {
      if (states.includes(worst)) {
        this.events.onState(worst);
        return;
      }
    }
    this.events.onState("connected");
  }
}
