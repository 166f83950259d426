// @ts-check
//! The equipment check at `/e/{token}` (framework article 2.1.5: working
//! equipment before the session), reachable from the lobby, from a link
//! that does not open yet, and from the invitation. It tests:
//!
//! - the camera (a picture arrives, its size) and the microphone (sound is
//!   heard: the person speaks and a meter moves);
//! - each path a call could take to the server, one after the other, by
//!   opening a data channel to a short-lived peer of the server's that
//!   echoes it: directly over UDP, then through the relay (TURN) over UDP,
//!   over TCP and over TLS, as far as the organisation offers them. Each
//!   gives whether it connects, how long it took, the round trip, and the
//!   path the browser really used (read from its statistics);
//! - then says in plain words what it means, and lets the person tell the
//!   organisation (a difficulty report, only if they send it).
//!
//! Nothing of the check reaches the session's evidence: it does not join.

import { fetchEquipment, postEquipmentOffer } from "./api.js";
import { h, T, bindText, replaceChildren } from "./dom.js";
import { onLanguageChange, t } from "./i18n.js";
import { LocalMedia } from "./media.js";
import { loopbackSdp } from "./peers.js";
import { Difficulties } from "./difficulties.js";
import { formatSchedule, loadingScreen } from "./ui.js";

/** @typedef {import("./wire.js").EquipmentCheck} EquipmentCheck */
/** @typedef {import("./wire.js").IceServer} IceServer */
/** @typedef {import("./wire.js").ErrorBody} ErrorBody */
/** @typedef {import("./ui.js").Shell} Shell */
/** @typedef {import("./i18n.js").MessageKey} MessageKey */

/** @typedef {"direct" | "relay-udp" | "relay-tcp" | "relay-tls"} PathName */
/**
 * @typedef {object} PathResult
 * @property {PathName} path
 * @property {"waiting" | "testing" | "ok" | "failed" | "not_offered"} status
 * @property {number | null} connectMs time from the first candidate to an open channel
 * @property {number | null} rttMs median round trip over the channel
 * @property {string | null} used what the browser's statistics say it used (`relay tcp`, `host udp`…)
 * @property {string | null} reason why it failed (a client-side code)
 */

/** @type {PathName[]} */
export const PATHS = ["direct", "relay-udp", "relay-tcp", "relay-tls"];
/** Gathering this long without completion: the offer goes with what there is. */
const GATHER_MS = 5_000;
/** A path whose channel has not opened by then failed. */
const OPEN_MS = 12_000;
/** Echoes measured per path. */
const PINGS = 10;
/** An echo not back by then counts as lost. */
const PING_MS = 2_000;
/** A microphone heard above this level (0..1) works. */
const HEARD_LEVEL = 0.02;
/** A round trip above this makes calls laggy. */
const SLOW_RTT_MS = 300;

/**
 * The ICE servers a path uses: none but STUN for the direct path (no
 * relay), and only the relays of one transport for the others.
 * @param {IceServer[]} servers
 * @param {PathName} path
 * @returns {RTCIceServer[]}
 */
export function serversFor(servers, path) {
  /** @type {RTCIceServer[]} */
  const chosen = [];
  for (const s of servers) {
    const urls = s.urls.filter((url) => matches(url, path));
    if (urls.length === 0) continue;
    /** @type {RTCIceServer} */
    const server = { urls };
    if (s.username !== undefined) server.username = s.username;
    if (s.credential !== undefined) server.credential = s.credential;
    chosen.push(server);
  }
  return chosen;
}

/** @param {string} url @param {PathName} path */
function matches(url, path) {
  const scheme = url.split(":")[0].toLowerCase();
  const transport = /[?&]transport=(udp|tcp)/i.exec(url)?.[1]?.toLowerCase() ?? null;
  switch (path) {
    case "direct": return scheme === "stun" || scheme === "stuns";
    case "relay-udp": return scheme === "turn" && (transport === null || transport === "udp");
    case "relay-tcp": return scheme === "turn" && transport === "tcp";
    case "relay-tls": return scheme === "turns";
  }
}

/** @param {EquipmentCheck} check @param {PathName} path */
function offered(check, path) {
  return path === "direct" || serversFor(check.ice_servers, path).length > 0;
}

/**
 * Tests one path: a data channel to the server's check peer through it.
 * @param {EquipmentCheck} check
 * @param {string} token
 * @param {PathName} path
 * @returns {Promise<PathResult>}
 */
export async function testPath(check, token, path) {
  /** @type {PathResult} */
  const result = { path, status: "failed", connectMs: null, rttMs: null, used: null, reason: null };
  if (!offered(check, path)) return { ...result, status: "not_offered" };
  const loopback = check.ice_policy === "loopback";
  const relay = path !== "direct";
  const pc = new RTCPeerConnection({
    iceServers: loopback && !relay ? [] : serversFor(check.ice_servers, path),
    iceTransportPolicy: relay ? "relay" : "all",
  });
  try {
    const channel = pc.createDataChannel("check", { ordered: true });
    const started = performance.now();
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    let sdp = pc.localDescription?.sdp ?? "";
    if (loopback) sdp = loopbackSdp(sdp);
    if (!/\r\na=candidate:/.test(sdp)) return { ...result, reason: relay ? "no_relay" : "no_candidate" };
    const answered = await postEquipmentOffer(check.offer_path, token, sdp);
    if (!answered.ok) return { ...result, reason: answered.error.code };
    await pc.setRemoteDescription({ type: "answer", sdp: answered.answer.sdp });
    if (!(await opened(channel))) return { ...result, reason: "no_connection" };
    const connectMs = Math.round(performance.now() - started);
    const rtts = await ping(channel);
    const used = await usedPath(pc);
    if (rtts.length === 0) return { ...result, connectMs, used, reason: "no_echo" };
    rtts.sort((a, b) => a - b);
    return { ...result, status: "ok", connectMs, rttMs: Math.round(rtts[Math.floor(rtts.length / 2)]), used };
  } catch (err) {
    return { ...result, reason: err instanceof Error ? err.name : "error" };
  } finally {
    pc.close();
  }
}

/** Resolves once gathering completes, or after [`GATHER_MS`]. @param {RTCPeerConnection} pc */
function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve(undefined);
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve(undefined);
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve(undefined);
    }, GATHER_MS);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

/** @param {RTCDataChannel} channel @returns {Promise<boolean>} */
function opened(channel) {
  return new Promise((resolve) => {
    if (channel.readyState === "open") return resolve(true);
    const timer = setTimeout(() => resolve(false), OPEN_MS);
    channel.addEventListener("open", () => { clearTimeout(timer); resolve(true); }, { once: true });
    channel.addEventListener("close", () => { clearTimeout(timer); resolve(false); }, { once: true });
  });
}

/** Round trips of [`PINGS`] echoes, one at a time. @param {RTCDataChannel} channel */
async function ping(channel) {
  /** @type {number[]} */
  const rtts = [];
  for (let n = 0; n < PINGS && channel.readyState === "open"; n++) {
    const sent = performance.now();
    const back = await new Promise((resolve) => {
      const timer = setTimeout(() => { channel.removeEventListener("message", onMessage); resolve(false); }, PING_MS);
      /** @param {MessageEvent} event */
      function onMessage(event) {
        if (event.data !== `ping ${n}`) return;
        clearTimeout(timer);
        channel.removeEventListener("message", onMessage);
        resolve(true);
      }
      channel.addEventListener("message", onMessage);
      channel.send(`ping ${n}`);
    });
    if (back) rtts.push(performance.now() - sent);
  }
  return rtts;
}

/**
 * What the selected candidate pair says was used: `relay tcp`, `host udp`…
 * @param {RTCPeerConnection} pc
 */
async function usedPath(pc) {
  const stats = await pc.getStats();
  /** @type {any} */
  let pair = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) stats.forEach((s) => { if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s; });
  const local = pair ? stats.get(pair.localCandidateId) : null;
  if (!local) return null;
  const via = local.candidateType === "relay" ? (local.relayProtocol ?? local.protocol) : local.protocol;
  return `${local.candidateType} ${via}`;
}

/**
 * What the results mean, in the person's words: one advice key, plus a
 * slow-connection warning when the best path is slow.
 * @param {PathResult[]} results
 * @returns {MessageKey[]}
 */
export function advice(results) {
  const ok = (/** @type {PathName} */ p) => results.find((r) => r.path === p)?.status === "ok";
  /** @type {MessageKey[]} */
  const keys = [];
  if (ok("direct")) keys.push("check.advice.direct");
  else if (ok("relay-udp")) keys.push("check.advice.relay_udp");
  else if (ok("relay-tcp") || ok("relay-tls")) keys.push("check.advice.relay_tcp");
  else if (results.some((r) => r.status === "not_offered") && !results.some((r) => r.status === "ok")) keys.push("check.advice.none_no_relay");
  else keys.push("check.advice.none");
  const best = results.filter((r) => r.status === "ok" && r.rttMs !== null).map((r) => /** @type {number} */ (r.rttMs));
  if (best.length > 0 && Math.min(...best) > SLOW_RTT_MS) keys.push("check.advice.slow");
  return keys;
}

/**
 * The page at `/e/{token}`.
 * @param {Shell} shell
 * @param {string} token
 */
export async function openEquipmentPage(shell, token) {
  document.body.dataset.page = "equipment";
  shell.setStatus(null);
  shell.setBanner(null);
  shell.setSessionTitle(null);
  shell.show(loadingScreen());
  const result = await fetchEquipment(token);
  if (!result.ok) {
    const render = () => shell.show(h("section", { class: "card card-narrow", "data-screen": "check-error" },
      h("h1", {}, T("check.title")),
      h("p", { "data-field": "check-error" }, t(result.error.code === "token_expired" ? "check.expired" : "check.invalid_link"))));
    render();
    onLanguageChange(render);
    return;
  }
  const page = new EquipmentPage(result.value, token);
  shell.setSessionTitle(result.value.session.title);
  document.title = `${t("check.title")} · ${t("app.name")}`;
  shell.show(page.element);
  await page.run();
}

/** The check's page: camera, microphone, network, advice, telling the organisation. */
class EquipmentPage {
  /** @type {PathResult[]} */
  results = PATHS.map((path) => ({ path, status: "waiting", connectMs: null, rttMs: null, used: null, reason: null }));
  /** The loudest the microphone was heard (0..1). */
  heard = 0;
  /** @type {{ width: number, height: number } | null} */
  picture = null;
  running = false;
  /** The report's text as the page wrote it (the person has not typed since). */
  prefilled = "";

  /** @param {EquipmentCheck} check @param {string} token */
  constructor(check, token) {
    this.check = check;
    this.token = token;
    this.media = new LocalMedia();
    this.video = h("video", { class: "mirror", autoplay: true, playsinline: true, muted: true, "aria-label": () => t("check.camera_preview") });
    this.video.muted = true;
    this.video.srcObject = this.media.stream;
    this.cameraLine = h("p", { class: "check-line", role: "status", "data-field": "check-camera" });
    this.meter = h("meter", { min: 0, max: 1, low: 0.05, high: 0.6, optimum: 0.3, value: 0, "aria-label": () => t("check.microphone_level"), "data-field": "check-meter" });
    this.micLine = h("p", { class: "check-line", role: "status", "data-field": "check-microphone" });
    this.rows = h("tbody", {});
    this.rerun = h("button", { type: "button", class: "button button-quiet", "data-action": "check-again", onclick: () => this.runNetwork() }, T("check.again"));
    this.adviceBox = h("div", { class: "check-advice", role: "status", "aria-live": "polite", "data-field": "check-advice" });
    this.reports = new Difficulties({ you: check.you, token, send: null }, { heading: "h2" });
    this.reportIntro = h("p", { class: "panel-hint" }, T("check.tell_intro"));
    const session = check.session;
    this.element = h("section", { class: "card check", "data-screen": "check", "aria-labelledby": "check-title" },
      h("p", { class: "eyebrow" }, T("check.eyebrow")),
      h("h1", { id: "check-title" }, T("check.title")),
      bindText(h("p", { "data-field": "check-session" }), () => t("check.for_session", { title: session.title, when: formatSchedule(session) })),
      h("p", { class: "panel-hint" }, T("check.intro")),
      h("div", { class: "check-grid" },
        h("section", { class: "check-part", "aria-labelledby": "check-camera-title" },
          h("h2", { id: "check-camera-title" }, T("check.camera")),
          h("div", { class: "preview" }, this.video),
          this.cameraLine),
        h("section", { class: "check-part", "aria-labelledby": "check-microphone-title" },
          h("h2", { id: "check-microphone-title" }, T("check.microphone")),
          h("p", { class: "panel-hint" }, T("check.microphone_hint")),
          this.meter,
          this.micLine)),
      h("section", { class: "check-part", "aria-labelledby": "check-network-title" },
        h("h2", { id: "check-network-title" }, T("check.network")),
        h("p", { class: "panel-hint" }, T("check.network_hint")),
        h("table", { class: "check-paths", "data-field": "check-paths" },
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, T("check.path")),
            h("th", { scope: "col" }, T("check.result")),
            h("th", { scope: "col" }, T("check.connect_time")),
            h("th", { scope: "col" }, T("check.round_trip")))),
          this.rows),
        h("div", {}, this.rerun)),
      this.adviceBox,
      h("div", { class: "check-part check-tell" },
        this.reportIntro,
        this.reports.element),
      h("p", {}, h("a", { href: `/j/${encodeURIComponent(token)}`, class: "button button-primary", "data-action": "check-to-lobby" }, T("check.to_lobby"))));
    this.render();
    onLanguageChange(() => this.render());
  }

  async run() {
    this.reports.load();
    void this.startDevices();
    await this.runNetwork();
  }

  async startDevices() {
    await this.media.start({ camera: true, microphone: true });
    const camera = this.media.track("video");
    if (camera) {
      const settings = camera.getSettings();
      this.picture = { width: settings.width ?? 0, height: settings.height ?? 0 };
      this.video.addEventListener("resize", () => {
        this.picture = { width: this.video.videoWidth, height: this.video.videoHeight };
        this.render();
      });
    }
    const mic = this.media.track("audio");
    if (mic) {
      mic.enabled = true;
      this.listen(mic);
    }
    this.render();
    this.prefill();
  }

  /** A level meter on the microphone. @param {MediaStreamTrack} track */
  listen(track) {
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      if (track.readyState !== "live") return;
      analyser.getFloatTimeDomainData(samples);
      let peak = 0;
      for (const s of samples) peak = Math.max(peak, Math.abs(s));
      this.meter.value = peak;
      if (peak > this.heard) {
        const crossed = this.heard < HEARD_LEVEL && peak >= HEARD_LEVEL;
        this.heard = peak;
        if (crossed) this.render();
      }
      setTimeout(tick, 100);
    };
    void context.resume();
    tick();
  }

  async runNetwork() {
    if (this.running) return;
    this.running = true;
    this.rerun.disabled = true;
    this.results = PATHS.map((path) => ({ path, status: "waiting", connectMs: null, rttMs: null, used: null, reason: null }));
    this.render();
    for (const [n, path] of PATHS.entries()) {
      this.results[n] = { ...this.results[n], status: "testing" };
      this.render();
      this.results[n] = await testPath(this.check, this.token, path);
      this.render();
    }
    this.running = false;
    this.rerun.disabled = false;
    this.render();
    this.prefill();
  }

  /**
   * The report's text, ready to send if the person wants to, once something
   * has surely failed: no path gets through, or a device is unusable. Kept
   * up to date until the person types in it.
   */
  prefill() {
    const text = this.reports.text;
    if (text.value.trim() !== "" && text.value !== this.prefilled) return;
    const settled = !this.running && !this.media.starting;
    const noPath = this.results.every((r) => r.status !== "ok");
    const noDevice = this.media.problem !== null || !this.media.track("video") || !this.media.track("audio");
    if (!settled || !(noPath || noDevice)) return;
    this.prefilled = this.summary();
    text.value = this.prefilled;
    text.dispatchEvent(new Event("input"));
  }

  /** What the check found, as one text for the organisation. */
  summary() {
    const lines = [t("check.summary_head")];
    lines.push(`${t("check.camera")} : ${this.cameraText()}`);
    lines.push(`${t("check.microphone")} : ${this.micText()}`);
    for (const r of this.results) lines.push(`${t(/** @type {MessageKey} */ (`check.path.${r.path}`))} : ${this.statusText(r)}${r.rttMs !== null ? ` (${r.rttMs} ms)` : ""}`);
    lines.push(`${t("check.browser")} : ${navigator.userAgent}`);
    return lines.join("\n");
  }

  cameraText() {
    if (this.media.starting) return t("check.waiting");
    if (this.media.track("video") && this.picture) return t("check.camera_ok", { width: this.picture.width, height: this.picture.height });
    return this.media.problem ? t(/** @type {MessageKey} */ (`media.${this.media.problem}`)) : t("check.camera_none");
  }

  micText() {
    if (this.media.starting) return t("check.waiting");
    if (!this.media.track("audio")) return this.media.problem ? t(/** @type {MessageKey} */ (`media.${this.media.problem}`)) : t("check.microphone_none");
    return this.heard >= HEARD_LEVEL ? t("check.microphone_ok") : t("check.microphone_silent");
  }

  /** @param {PathResult} r */
  statusText(r) {
    switch (r.status) {
      case "ok": return r.used ? t("check.status.ok_via", { used: r.used }) : t("check.status.ok");
      case "failed": return t("check.status.failed", { reason: this.reasonText(r.reason) });
      default: return t(/** @type {MessageKey} */ (`check.status.${r.status}`));
    }
  }

  /** @param {string | null} reason */
  reasonText(reason) {
    const key = `check.reason.${reason}`;
    return reason && ["no_relay", "no_candidate", "no_connection", "no_echo", "rate_limited", "at_capacity", "network"].includes(reason)
      ? t(/** @type {MessageKey} */ (key)) : t("check.reason.other", { code: reason ?? "?" });
  }

  render() {
    bindText(this.cameraLine, () => this.cameraText());
    this.cameraLine.dataset.state = this.media.track("video") ? "ok" : this.media.starting ? "waiting" : "failed";
    bindText(this.micLine, () => this.micText());
    this.micLine.dataset.state = this.heard >= HEARD_LEVEL ? "ok" : this.media.track("audio") ? "waiting" : this.media.starting ? "waiting" : "failed";
    replaceChildren(this.rows, ...this.results.map((r) => h("tr", { "data-path": r.path, "data-status": r.status },
      h("th", { scope: "row" }, T(/** @type {MessageKey} */ (`check.path.${r.path}`))),
      bindText(h("td", {}), () => this.statusText(r)),
      h("td", {}, r.connectMs !== null ? `${r.connectMs} ms` : "—"),
      h("td", {}, r.rttMs !== null ? `${r.rttMs} ms` : "—"))));
    const done = !this.running && this.results.every((r) => r.status !== "waiting" && r.status !== "testing");
    this.adviceBox.hidden = !done;
    if (done) {
      replaceChildren(this.adviceBox, ...advice(this.results).map((key) => h("p", { "data-advice": key }, T(key))));
    }
  }
}
