// @ts-check
//! The person's own camera and microphone: one `MediaStream` whose tracks come
//! and go, the device lists, and switching devices. Peer connections follow
//! through `onTrack` (they call `replaceTrack`, so no renegotiation is needed).
//!
//! Camera off stops the track (the camera light goes out); microphone off
//! only disables it (silence is sent, unmuting is instant).

/** @typedef {"audio" | "video"} Kind */
/** @typedef {"denied" | "not_found" | "busy" | "unavailable" | "failed"} MediaProblem */

/** Modest by design: up to six video streams go out from each browser. */
const VIDEO = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24, max: 30 } };
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** @param {unknown} err @returns {MediaProblem} */
function classify(err) {
  const name = err instanceof Error || err instanceof DOMException ? err.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return "denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "not_found";
    case "NotReadableError":
    case "AbortError":
      return "busy";
    default:
      return "failed";
  }
}

/**
 * Screens are shared legibly rather than smoothly: full resolution up to
 * 1080p, few frames (slides and documents change little).
 */
const SCREEN = { width: { max: 1920 }, height: { max: 1080 }, frameRate: { ideal: 10, max: 15 } };

/**
 * A shared screen (`getDisplayMedia`): a stream of its own beside the
 * camera's, so that the other side tells them apart. Every connection sends
 * it on transceivers opened from the start with nothing on them, so
 * starting and stopping is a `replaceTrack`, never a renegotiation.
 */
export class ScreenCapture {
  /** What every connection sends the screen (and its sound) from. */
  stream = new MediaStream();
  /** @type {Set<(kind: Kind, track: MediaStreamTrack | null) => void>} */
  #trackListeners = new Set();
  /** @type {Set<() => void>} */
  #endListeners = new Set();

  /** @param {(kind: Kind, track: MediaStreamTrack | null) => void} listener called when a track to send changes */
  onTrack(listener) {
    this.#trackListeners.add(listener);
    return () => this.#trackListeners.delete(listener);
  }

  /** @param {() => void} listener called when the capture ends on its own (the browser's "stop sharing") */
  onEnded(listener) {
    this.#endListeners.add(listener);
    return () => this.#endListeners.delete(listener);
  }

  /** @param {Kind} kind */
  track(kind) {
    return this.stream.getTracks().find((t) => t.kind === kind && t.readyState === "live") ?? null;
  }

  /** A screen is captured now. */
  get active() {
    return this.track("video") !== null;
  }

  /**
   * Asks the person what to share (a screen, a window, a tab), with its
   * sound where the browser offers it.
   * @returns {Promise<"ok" | "denied" | "unavailable" | "failed">}
   */
  async start() {
    if (!navigator.mediaDevices?.getDisplayMedia) return "unavailable";
    /** @type {MediaStream} */
    let captured;
    try {
      captured = await navigator.mediaDevices.getDisplayMedia({ video: SCREEN, audio: true });
    } catch (err) {
      const problem = classify(err);
      return problem === "denied" ? "denied" : "failed";
    }
    this.stop(false);
    for (const track of captured.getTracks()) {
      // Text stays sharp rather than the motion smooth.
      if (track.kind === "video") track.contentHint = "detail";
      this.stream.addTrack(track);
      track.addEventListener("ended", () => {
        if (this.stream.getTracks().includes(track)) this.stop(true);
      });
    }
    this.#emit("video", this.track("video"));
    this.#emit("audio", this.track("audio"));
    return "ok";
  }

  /**
   * Stops capturing; `ended` tells the listeners it ended on its own.
   * @param {boolean} [ended]
   */
  stop(ended = false) {
    const had = this.stream.getTracks().length > 0;
    for (const track of this.stream.getTracks()) {
      track.stop();
      this.stream.removeTrack(track);
    }
    if (!had) return;
    this.#emit("video", null);
    this.#emit("audio", null);
    if (ended) for (const listener of this.#endListeners) listener();
  }

  /** @param {Kind} kind @param {MediaStreamTrack | null} track */
  #emit(kind, track) {
    for (const listener of this.#trackListeners) listener(kind, track);
  }
}

export class LocalMedia {
  /** What the preview and every peer connection send from. */
  stream = new MediaStream();
  /** A shared screen, when this person shares. */
  screen = new ScreenCapture();
  /** The person wants to send video. */
  cameraOn = false;
  /** The person wants to send sound. */
  microphoneOn = false;
  /** @type {string | undefined} chosen camera */
  cameraId;
  /** @type {string | undefined} chosen microphone */
  microphoneId;
  /** @type {MediaProblem | null} the last thing that went wrong, for the lobby */
  problem = null;
  /** The first permission request is under way. */
  starting = false;
  /** @type {Set<(kind: Kind, track: MediaStreamTrack | null) => void>} */
  #trackListeners = new Set();
  /** @type {Set<() => void>} */
  #changeListeners = new Set();

  /** @param {(kind: Kind, track: MediaStreamTrack | null) => void} listener called when the track to send changes */
  onTrack(listener) {
    this.#trackListeners.add(listener);
    return () => this.#trackListeners.delete(listener);
  }

  /** @param {() => void} listener called after any change (state, devices, problem) */
  onChange(listener) {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** @param {Kind} kind */
  track(kind) {
    return this.stream.getTracks().find((t) => t.kind === kind && t.readyState === "live") ?? null;
  }

  /**
   * Asks for camera and microphone at once (one permission prompt), then for
   * each alone if that fails, so that a missing camera does not cost the sound.
   * @param {{ camera: boolean, microphone: boolean }} want
   */
  async start(want) {
    this.problem = null;
    if (!navigator.mediaDevices?.getUserMedia) {
      this.problem = "unavailable";
      this.#changed();
      return;
    }
    this.starting = true;
    this.cameraOn = want.camera;
    this.microphoneOn = want.microphone;
    this.#changed();
    // The microphone is opened even when the person starts muted, so that
    // unmuting later needs no new permission and no renegotiation.
    try {
      const got = await navigator.mediaDevices.getUserMedia({
        audio: this.#audioConstraints(),
        video: want.camera ? this.#videoConstraints() : false,
      });
      for (const track of got.getTracks()) this.#adopt(track);
    } catch (err) {
      this.problem = classify(err);
      await this.#acquire("audio").then((t) => t && this.#adopt(t), () => {});
      if (want.camera) await this.#acquire("video").then((t) => t && this.#adopt(t), () => {});
    }
    this.starting = false;
    this.cameraOn = want.camera && this.track("video") !== null;
    this.microphoneOn = want.microphone && this.track("audio") !== null;
    const mic = this.track("audio");
    if (mic) mic.enabled = this.microphoneOn;
    // The person may have joined while the browser was still asking.
    this.#emitTrack("audio", mic);
    this.#emitTrack("video", this.track("video"));
    this.#changed();
  }

  /**
   * Camera on (opens the chosen device) or off (releases it).
   * @param {boolean} on
   * @returns {Promise<boolean>} whether the camera is now in the asked state
   */
  async setCamera(on) {
    if (!on) {
      const track = this.track("video");
      this.cameraOn = false;
      if (track) this.#remove(track);
      this.#emitTrack("video", null);
      this.#changed();
      return true;
    }
    if (this.track("video")) {
      this.cameraOn = true;
      this.#changed();
      return true;
    }
    this.problem = null;
    const track = await this.#acquire("video").catch((err) => {
      this.problem = classify(err);
      return null;
    });
    if (!track) {
      this.cameraOn = false;
      this.#changed();
      return false;
    }
    this.cameraOn = true;
    this.#adopt(track);
    this.#emitTrack("video", track);
    this.#changed();
    return true;
  }

  /**
   * Microphone on or off; opens it if it was never opened.
   * @param {boolean} on
   * @returns {Promise<boolean>}
   */
  async setMicrophone(on) {
    let track = this.track("audio");
    if (!track && on) {
      this.problem = null;
      track = await this.#acquire("audio").catch((err) => {
        this.problem = classify(err);
        return null;
      });
      if (!track) {
        this.#changed();
        return false;
      }
      this.#adopt(track);
      this.#emitTrack("audio", track);
    }
    this.microphoneOn = on && track !== null;
    if (track) track.enabled = this.microphoneOn;
    this.#changed();
    return this.microphoneOn === on;
  }

  /**
   * Switches to another device of the same kind, keeping on/off as it was.
   * @param {Kind} kind
   * @param {string} deviceId
   */
  async selectDevice(kind, deviceId) {
    if (kind === "video") this.cameraId = deviceId;
    else this.microphoneId = deviceId;
    const old = this.track(kind);
    const wanted = kind === "video" ? this.cameraOn : true;
    if (!wanted) {
      this.#changed();
      return;
    }
    // Release first: some cameras cannot be opened twice.
    if (old && kind === "video") this.#remove(old);
    const track = await this.#acquire(kind).catch((err) => {
      this.problem = classify(err);
      return null;
    });
    if (old && kind === "audio" && track) this.#remove(old);
    if (track) {
      if (kind === "audio") track.enabled = this.microphoneOn;
      this.#adopt(track);
      this.#emitTrack(kind, track);
    } else if (kind === "video") {
      this.cameraOn = false;
      this.#emitTrack("video", null);
    }
    this.#changed();
  }

  /** The cameras and microphones (names appear once permission is given). */
  async devices() {
    /** @type {MediaDeviceInfo[]} */
    let all = [];
    try {
      all = (await navigator.mediaDevices?.enumerateDevices()) ?? [];
    } catch {
      // No device list: the selects stay empty.
    }
    return {
      cameras: all.filter((d) => d.kind === "videoinput" && d.deviceId !== ""),
      microphones: all.filter((d) => d.kind === "audioinput" && d.deviceId !== ""),
    };
  }

  /** Releases camera and microphone. */
  stop() {
    for (const track of this.stream.getTracks()) this.#remove(track);
    this.cameraOn = false;
    this.microphoneOn = false;
    this.#changed();
  }

  /** @param {Kind} kind */
  async #acquire(kind) {
    const got = await navigator.mediaDevices.getUserMedia(
      kind === "video" ? { video: this.#videoConstraints() } : { audio: this.#audioConstraints() },
    );
    return got.getTracks().find((t) => t.kind === kind) ?? null;
  }

  /** @returns {MediaTrackConstraints} */
  #videoConstraints() {
    return this.cameraId ? { ...VIDEO, deviceId: { exact: this.cameraId } } : { ...VIDEO };
  }

  /** @returns {MediaTrackConstraints} */
  #audioConstraints() {
    return this.microphoneId ? { ...AUDIO, deviceId: { exact: this.microphoneId } } : { ...AUDIO };
  }

  /** @param {MediaStreamTrack} track */
  #adopt(track) {
    const previous = this.track(/** @type {Kind} */ (track.kind));
    if (previous && previous !== track) this.#remove(previous);
    this.stream.addTrack(track);
    const id = track.getSettings().deviceId;
    if (track.kind === "video") this.cameraId = id ?? this.cameraId;
    else this.microphoneId = id ?? this.microphoneId;
    // Unplugged or taken by the system: show it as off.
    track.addEventListener("ended", () => {
      if (!this.stream.getTracks().includes(track)) return;
      this.#remove(track);
      const kind = /** @type {Kind} */ (track.kind);
      if (kind === "video") this.cameraOn = false;
      else this.microphoneOn = false;
      this.#emitTrack(kind, null);
      this.#changed();
    });
  }

  /** @param {MediaStreamTrack} track */
  #remove(track) {
    track.stop();
    this.stream.removeTrack(track);
  }

  /** @param {Kind} kind @param {MediaStreamTrack | null} track */
  #emitTrack(kind, track) {
    for (const listener of this.#trackListeners) listener(kind, track);
  }

  #changed() {
    for (const listener of this.#changeListeners) listener();
  }
}
