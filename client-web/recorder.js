// @ts-check
//! Publishing to the server's recorder: while recording is active, a second
//! `RTCPeerConnection`, to the server this time, separate from the mesh,
//! sends this person's camera and microphone (send only) to the open
//! segment. Recording being active means everyone connected agreed, this
//! person included; the server refuses anyone else anyway.
//!
//! - `recording_state` (or the welcome) with `active` and `segment` N: offer
//!   on `recorder_signal {segment: N, data: {type: "offer", sdp}}`; the
//!   server answers with `{type: "answer", sdp}` (its candidates are in the
//!   SDP). Our ICE candidates follow, each as its own `recorder_signal`,
//!   once the answer is in (so that none overtakes the offer).
//! - `active: false`, or another segment: the connection is closed at once.
//! - Both transceivers exist from the start (one without a track when that
//!   device is off), so the camera or microphone coming and going is a
//!   `replaceTrack`, never a renegotiation. With no device at all there is
//!   nothing to publish until one comes on.
//! - A shared screen and its sound go on two more transceivers, of the
//!   screen's own stream (the server records them as `screen-video` and
//!   `screen-audio`), also there from the start.
//! - The person withdrawing their agreement stops sending at once, before
//!   the server's answer; the segment is not published to again.
//! - A refusal (`not_open`, `forbidden`, …) closes the connection and waits
//!   for the next state; a connection that fails is tried again a few times.
//!
//! Same ICE servers and policy as the mesh: with `loopback`, only 127.0.0.1
//! candidates are sent or accepted.

import { isLoopbackCandidate, loopbackSdp, rtcConfiguration, reconfigure } from "./peers.js";

/** @typedef {import("./wire.js").IceServer} IceServer */
/** @typedef {import("./wire.js").IcePolicy} IcePolicy */
/** @typedef {import("./wire.js").ClientMessage} ClientMessage */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./media.js").LocalMedia} LocalMedia */
/** @typedef {import("./media.js").Kind} Kind */

/** No answer after this long: give up this attempt (and try again). */
const ANSWER_WAIT_MS = 15_000;
/** A failed connection is tried again after this long… */
const RETRY_AFTER_MS = 2_000;
/** …at most this many times per segment. */
const MAX_ATTEMPTS = 3;
/** An error this soon after our last `recorder_signal` may be about it. */
const ERROR_WINDOW_MS = 5_000;
/** The error codes the server answers a `recorder_signal` with. */
const REFUSALS = new Set(["not_open", "forbidden", "invalid_input", "internal", "conflict", "malformed_message"]);

/** One attempt at publishing to one segment. */
class Publication {
  /** @type {Record<Kind, RTCRtpSender | null>} */
  senders = { audio: null, video: null };
  /** @type {Record<Kind, RTCRtpSender | null>} */
  screenSenders = { audio: null, video: null };
  answered = false;
  closed = false;
  /** @type {RTCIceCandidateInit[]} gathered before the answer came */
  held = [];
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  answerTimer;

  /**
   * @param {number} segment
   * @param {RTCConfiguration} config
   */
  constructor(segment, config) {
    this.segment = segment;
    this.pc = new RTCPeerConnection(config);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.answerTimer);
    const pc = this.pc;
    pc.onicecandidate = pc.onconnectionstatechange = null;
    // Stop sending at once (closing the connection does, but be explicit:
    // the tracks themselves belong to the call and stay on).
    for (const transceiver of pc.getTransceivers()) {
      try {
        transceiver.stop();
      } catch {
        // Already stopped, or the connection is closing.
      }
    }
    pc.close();
  }
}

export class Recorder {
  /** @type {Publication | null} */
  #publication = null;
  /** @type {RTCConfiguration} */
  #config = { iceServers: [] };
  /** @type {IcePolicy} */
  #icePolicy = "all";
  /** The segment the server says is open, if any. */
  /** @type {number | null} */
  #segment = null;
  /** A segment this person withdrew from: never published to again. */
  /** @type {number | null} */
  #withdrawnFrom = null;
  /** Attempts made for `#segment`. */
  #attempts = 0;
  /** The server refused our last attempt: wait for its next state. */
  #refused = false;
  /** When our last `recorder_signal` went out (ms, our clock). */
  #lastSent = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer;
  #unsubscribe;
  #disposed = false;

  /**
   * @param {object} o
   * @param {LocalMedia} o.media
   * @param {(message: ClientMessage) => boolean} o.send false when the socket is not open
   * @param {() => void} [o.onChange] after the connection's state changed
   */
  constructor({ media, send, onChange }) {
    this.media = media;
    this.send = send;
    this.onChange = onChange ?? (() => {});
    const camera = media.onTrack((kind, track) => this.#trackChanged(kind, track));
    const screen = media.screen.onTrack((kind, track) => this.#trackChanged(kind, track, true));
    this.#unsubscribe = () => {
      camera();
      screen();
    };
  }

  /** @param {IceServer[]} iceServers @param {IcePolicy} icePolicy */
  configure(iceServers, icePolicy) {
    this.#icePolicy = icePolicy;
    this.#config = rtcConfiguration(iceServers, icePolicy);
    if (this.#publication) reconfigure(this.#publication.pc, this.#config);
  }

  /**
   * The open segment (null: none). A new connection after our own welcome
   * (`restart`): the server forgot the previous one.
   * @param {number | null} segment
   * @param {boolean} [restart]
   */
  follow(segment, restart = false) {
    if (this.#disposed) return;
    if (restart) this.#stop();
    if (segment !== this.#segment || restart || this.#refused) {
      if (segment !== this.#segment) this.#stop();
      this.#segment = segment;
      this.#attempts = 0;
      this.#refused = false;
    }
    if (segment !== null && !this.#publication && !this.#retryTimer) this.#publish();
    this.onChange();
  }

  /** The person withdrew their agreement: stop sending now, whatever the server says next. */
  withdraw() {
    if (this.#segment !== null) this.#withdrawnFrom = this.#segment;
    this.#stop();
    this.onChange();
  }

  /** The person agreed (again): a segment they withdrew from may be published to, if the server still says it is open. */
  grant() {
    this.#withdrawnFrom = null;
  }

  /** Whether media is flowing to the recorder now. */
  get publishing() {
    const p = this.#publication;
    return p !== null && !p.closed && p.pc.connectionState === "connected";
  }

  /**
   * `recorder_signal` from the server, and the errors that answer ours.
   * @param {ServerMessage} message
   * @returns {boolean} whether it was ours
   */
  handle(message) {
    if (message.type === "recorder_signal") {
      this.#receive(message.segment, message.data);
      return true;
    }
    if (message.type === "error" && message.about === "recorder_signal" && REFUSALS.has(message.code) && this.#claims()) {
      console.info("cadre: the recorder refused this browser's media:", message.code, message.message);
      // Wait for the next `recording_state`: no retry on a refusal.
      this.#stop();
      this.#refused = true;
      this.onChange();
      return true;
    }
    return false;
  }

  dispose() {
    this.#disposed = true;
    this.#stop();
    this.#segment = null;
    this.#unsubscribe();
  }

  /** For tests and the page's state. */
  snapshot() {
    const p = this.#publication;
    return {
      segment: this.#segment,
      publishing: this.publishing,
      state: p && !p.closed ? p.pc.connectionState : null,
      attempts: this.#attempts,
      refused: this.#refused,
    };
  }

  /** Whether a `recorder_signal` refusal is about the publication in hand. */
  #claims() {
    const p = this.#publication;
    if (p && !p.closed && !p.answered) return true;
    // After the answer, only our candidates can be refused (the segment closed).
    return Date.now() - this.#lastSent < ERROR_WINDOW_MS;
  }

  #stop() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#publication?.close();
    this.#publication = null;
  }

  /** @param {Kind} kind @param {MediaStreamTrack | null} track @param {boolean} [screen] */
  #trackChanged(kind, track, screen = false) {
    const p = this.#publication;
    if (p && !p.closed) {
      const sender = screen ? p.screenSenders[kind] : p.senders[kind];
      if (sender) sender.replaceTrack(track).catch((err) => console.warn("cadre: recorder replaceTrack failed", err));
      return;
    }
    // Nothing was published for want of any device: now there is one.
    if (track && this.#segment !== null && !this.#retryTimer) this.#publish();
  }

  #publish() {
    const segment = this.#segment;
    if (segment === null || this.#disposed || segment === this.#withdrawnFrom) return;
    if (this.#refused || this.#attempts >= MAX_ATTEMPTS) return;
    const audio = this.media.track("audio");
    const video = this.media.track("video");
    const screen = this.media.screen;
    if (!audio && !video && !screen.active) return;
    this.#attempts += 1;
    const p = new Publication(segment, this.#config);
    this.#publication = p;
    const pc = p.pc;
    const stream = this.media.stream;
    // Both kinds, even the one that is off: turning it on is then a replaceTrack.
    p.senders.audio = pc.addTransceiver(audio ?? "audio", { direction: "sendonly", streams: [stream] }).sender;
    const videoTransceiver = pc.addTransceiver(video ?? "video", { direction: "sendonly", streams: [stream] });
    p.senders.video = videoTransceiver.sender;
    preferVp8(videoTransceiver);
    const screenVideo = pc.addTransceiver(screen.track("video") ?? "video", { direction: "sendonly", streams: [screen.stream] });
    p.screenSenders.video = screenVideo.sender;
    preferVp8(screenVideo);
    p.screenSenders.audio = pc.addTransceiver(screen.track("audio") ?? "audio", { direction: "sendonly", streams: [screen.stream] }).sender;

    pc.onicecandidate = ({ candidate }) => {
      if (p.closed || !candidate || !candidate.candidate) return;
      if (this.#icePolicy === "loopback" && !isLoopbackCandidate(candidate.candidate)) return;
      const init = candidate.toJSON();
      if (p.answered) this.#signal(p, init);
      else p.held.push(init);
    };
    pc.onconnectionstatechange = () => {
      if (p.closed) return;
      if (pc.connectionState === "failed") this.#failed(p);
      this.onChange();
    };
    p.answerTimer = setTimeout(() => {
      if (!p.closed && !p.answered) {
        console.warn(`cadre: no answer from the recorder for segment ${segment}`);
        this.#failed(p);
      }
    }, ANSWER_WAIT_MS);
    this.#offer(p).catch((err) => {
      console.warn("cadre: recorder offer failed", err);
      this.#failed(p);
    });
  }

  /** @param {Publication} p */
  async #offer(p) {
    await p.pc.setLocalDescription();
    const local = p.pc.localDescription;
    if (p.closed || !local) return;
    const sdp = this.#icePolicy === "loopback" ? loopbackSdp(local.sdp) : local.sdp;
    if (!this.#signal(p, { type: "offer", sdp })) {
      // Offline: the next welcome starts over.
      this.#stop();
    }
  }

  /** @param {Publication} p @param {import("./wire.js").RecorderSignalData} data */
  #signal(p, data) {
    this.#lastSent = Date.now();
    return this.send({ type: "recorder_signal", segment: p.segment, data });
  }

  /** @param {number} segment @param {unknown} data */
  async #receive(segment, data) {
    const p = this.#publication;
    if (!p || p.closed || p.segment !== segment || typeof data !== "object" || data === null) return;
    try {
      if ("type" in data && data.type === "answer" && "sdp" in data && typeof data.sdp === "string") {
        if (p.answered) return;
        const sdp = this.#icePolicy === "loopback" ? loopbackSdp(data.sdp) : data.sdp;
        await p.pc.setRemoteDescription({ type: "answer", sdp });
        if (p.closed) return;
        p.answered = true;
        clearTimeout(p.answerTimer);
        for (const candidate of p.held.splice(0)) this.#signal(p, candidate);
      } else if ("candidate" in data) {
        // The server puts its candidates in its answer; accept one anyway.
        const candidate = /** @type {RTCIceCandidateInit} */ (data);
        if (this.#icePolicy === "loopback" && !isLoopbackCandidate(candidate.candidate ?? "")) return;
        await p.pc.addIceCandidate(candidate);
      }
    } catch (err) {
      console.warn("cadre: the recorder's answer could not be used", err);
      this.#failed(p);
    }
    this.onChange();
  }

  /** This attempt is over; another one later if the segment is still open. @param {Publication} p */
  #failed(p) {
    if (p !== this.#publication) return;
    this.#stop();
    this.onChange();
    if (this.#refused || this.#attempts >= MAX_ATTEMPTS || this.#segment !== p.segment) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#segment === p.segment && !this.#publication) this.#publish();
    }, RETRY_AFTER_MS);
  }
}

/** Puts VP8 first (what the recorder writes, as IVF), keeping the others. @param {RTCRtpTransceiver} transceiver */
function preferVp8(transceiver) {
  try {
    // Chromium checks the list against what it can receive.
    const codecs = RTCRtpReceiver.getCapabilities?.("video")?.codecs;
    if (!codecs || typeof transceiver.setCodecPreferences !== "function") return;
    const vp8 = codecs.filter((c) => c.mimeType.toLowerCase() === "video/vp8");
    if (vp8.length === 0) return;
    transceiver.setCodecPreferences([...vp8, ...codecs.filter((c) => c.mimeType.toLowerCase() !== "video/vp8")]);
  } catch {
    // Not supported: the server picks among what is offered.
  }
}
