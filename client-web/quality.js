// @ts-check
//! Connection quality (framework art. 4.2: "une connexion fonctionnelle";
//! docs/quality.md): what this browser measures and sends, and what the
//! server makes of it.
//!
//! - Every 5 s, `stats`: figures per mesh peer from `getStats()` (RTT of the
//!   selected candidate pair, inbound loss and bitrates over the interval,
//!   jitter, decoded frames per second) and the worst connection state.
//!   Figures are clamped to what the server accepts; a figure that cannot be
//!   computed is left out, never sent as NaN or negative.
//! - Facilitators: the "Conditions" list (in the "Séance" panel of
//!   `control.js`): each person's score in words and colour, figures,
//!   reasons, since when; and the alerts, at the top of the call, with the
//!   evidence and a one-click "Suspendre…" (reason pre-filled, editable).
//! - Participants: "Ma connexion", exactly what is reported about them
//!   (transparency): score, figures, presence reasons.

import { has, locale, onLanguageChange, t } from "./i18n.js";
import { T, bindText, h, replaceChildren } from "./dom.js";
import { Panel } from "./panel.js";
import { formatTime } from "./evidence.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./wire.js").ParticipantQuality} ParticipantQuality */
/** @typedef {import("./wire.js").Alert} Alert */
/** @typedef {import("./wire.js").Figures} Figures */
/** @typedef {import("./wire.js").PeerStats} PeerStats */
/** @typedef {import("./wire.js").PeerConnectionSummary} PeerConnectionSummary */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./wire.js").ClientMessage} ClientMessage */
/** @typedef {import("./wire.js").Me} Me */
/** @typedef {import("./transport.js").MediaTransport} MediaTransport */
/** @typedef {import("./context.js").CallContext} CallContext */

/** How often figures are sent (the server takes at most one a second). */
export const STATS_INTERVAL_MS = 5_000;

// ---------------------------------------------------------------------------
// Measuring

/**
 * Cumulative counters of one peer connection at one time.
 * @typedef {object} Sample
 * @property {number} at performance.now()
 * @property {number | undefined} rttMs
 * @property {number | undefined} jitterMs
 * @property {number} lost
 * @property {number} received
 * @property {number} bytesIn
 * @property {number} bytesOut
 * @property {number | null} framesDecoded null: no video received
 * @property {number} framesSent
 * @property {number} framesEncoded
 */

/** @param {unknown} v @returns {v is number} */
const finite = (v) => typeof v === "number" && Number.isFinite(v);

/**
 * Reads one connection's counters.
 * @param {RTCPeerConnection} pc
 * @returns {Promise<Sample>}
 */
export async function sampleConnection(pc) {
  const report = await pc.getStats();
  /** @type {Sample} */
  const s = {
    at: performance.now(),
    rttMs: undefined,
    jitterMs: undefined,
    lost: 0,
    received: 0,
    bytesIn: 0,
    bytesOut: 0,
    framesDecoded: null,
    framesSent: 0,
    framesEncoded: 0,
  };
  /** @type {string | null} */
  let selected = null;
  report.forEach((stat) => {
    if (stat.type === "transport" && typeof stat.selectedCandidatePairId === "string") selected = stat.selectedCandidatePairId;
  });
  report.forEach((stat) => {
    switch (stat.type) {
      case "candidate-pair": {
        const chosen = selected ? stat.id === selected : stat.nominated && stat.state === "succeeded";
        if (chosen && finite(stat.currentRoundTripTime)) s.rttMs = stat.currentRoundTripTime * 1000;
        break;
      }
      case "inbound-rtp": {
        if (finite(stat.packetsLost)) s.lost += stat.packetsLost;
        if (finite(stat.packetsReceived)) s.received += stat.packetsReceived;
        if (finite(stat.bytesReceived)) s.bytesIn += stat.bytesReceived;
        if (finite(stat.jitter)) s.jitterMs = Math.max(s.jitterMs ?? 0, stat.jitter * 1000);
        if (stat.kind === "video" && finite(stat.framesDecoded)) s.framesDecoded = (s.framesDecoded ?? 0) + stat.framesDecoded;
        break;
      }
      case "outbound-rtp": {
        if (finite(stat.bytesSent)) s.bytesOut += stat.bytesSent;
        if (stat.kind === "video") {
          if (finite(stat.framesSent)) s.framesSent += stat.framesSent;
          if (finite(stat.framesEncoded)) s.framesEncoded += stat.framesEncoded;
        }
        break;
      }
    }
  });
  return s;
}

/**
 * A figure as the server accepts it: finite, within [0, max], rounded; else
 * nothing.
 * @param {number | undefined} v
 * @param {number} max
 * @param {number} digits
 */
function figure(v, max, digits) {
  if (v === undefined || !Number.isFinite(v) || v < 0) return undefined;
  const f = 10 ** digits;
  return Math.min(max, Math.round(v * f) / f);
}

/**
 * One peer's figures from two samples of its connection (`previous` may be
 * missing: then only the instantaneous figures).
 * @param {string} peer
 * @param {Sample} now
 * @param {Sample | undefined} previous
 * @returns {PeerStats}
 */
export function peerFigures(peer, now, previous) {
  /** @type {PeerStats} */
  const out = { peer };
  const rtt = figure(now.rttMs, 60_000, 1);
  if (rtt !== undefined) out.rtt_ms = rtt;
  const jitter = figure(now.jitterMs, 60_000, 1);
  if (jitter !== undefined) out.jitter_ms = jitter;
  if (!previous) return out;
  const seconds = (now.at - previous.at) / 1000;
  if (!(seconds > 0.2)) return out;
  const lost = Math.max(0, now.lost - previous.lost);
  const received = Math.max(0, now.received - previous.received);
  if (lost + received > 0) {
    const loss = figure(lost / (lost + received), 1, 4);
    if (loss !== undefined) out.loss = loss;
  }
  const kbps = (/** @type {number} */ bytes) => figure((Math.max(0, bytes) * 8) / 1000 / seconds, 1_000_000, 0);
  const inKbps = kbps(now.bytesIn - previous.bytesIn);
  if (inKbps !== undefined) out.in_kbps = inKbps;
  const outKbps = kbps(now.bytesOut - previous.bytesOut);
  if (outKbps !== undefined) out.out_kbps = outKbps;
  // No frame decoded over the interval: no video received (camera off,
  // session suspended), which is not a frame rate of zero.
  if (now.framesDecoded !== null && previous.framesDecoded !== null) {
    const frames = now.framesDecoded - previous.framesDecoded;
    if (frames > 0) {
      const fps = figure(frames / seconds, 240, 1);
      if (fps !== undefined) out.fps = fps;
    }
  }
  return out;
}

/** Worst first. */
const CONNECTION_RANK = /** @type {const} */ (["failed", "disconnected", "closed", "connecting", "new", "connected"]);

/**
 * The worst of the connections' states; `connected` when there are none.
 * @param {RTCPeerConnectionState[]} states
 * @returns {PeerConnectionSummary}
 */
export function worstConnection(states) {
  for (const state of CONNECTION_RANK) if (states.includes(state)) return state;
  return "connected";
}

/**
 * Outbound video frames over every mesh connection (for tests: they must not
 * grow while the session is suspended).
 * @param {MediaTransport} mesh
 */
export async function outboundVideo(mesh) {
  let framesSent = 0;
  let framesEncoded = 0;
  const senders = [];
  for (const [peer, pc] of mesh.connections()) {
    const s = await sampleConnection(pc).catch(() => null);
    if (s) {
      framesSent += s.framesSent;
      framesEncoded += s.framesEncoded;
    }
    for (const sender of pc.getSenders()) {
      senders.push({ peer, kind: sender.track?.kind ?? null, track: sender.track !== null });
    }
  }
  return { framesSent, framesEncoded, senders };
}

/** Sends `stats` every 5 s while connected. */
export class StatsReporter {
  /** @type {WeakMap<RTCPeerConnection, Sample>} */
  #previous = new WeakMap();
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #timer;
  #busy = false;
  /** @type {ClientMessage | null} the last report sent (for tests) */
  last = null;
  sent = 0;

  /**
   * @param {MediaTransport} mesh
   * @param {(message: ClientMessage) => boolean} send
   */
  constructor(mesh, send) {
    this.mesh = mesh;
    this.send = send;
  }

  /** A new connection was welcomed: report from now on. */
  start() {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.#tick(), STATS_INTERVAL_MS);
    // A first sample now, so that the first report already has rates.
    this.#collect().catch(() => {});
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick() {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const message = await this.#collect();
      if (message && this.send(message)) {
        this.last = message;
        this.sent += 1;
      }
    } catch (err) {
      console.warn("cadre: connection figures could not be read", err);
    } finally {
      this.#busy = false;
    }
  }

  /** @returns {Promise<ClientMessage | null>} */
  async #collect() {
    const connections = this.mesh.connections();
    /** @type {PeerStats[]} */
    const peers = [];
    for (const [peer, pc] of connections) {
      if (pc.connectionState === "closed") continue;
      const now = await sampleConnection(pc).catch(() => null);
      if (!now) continue;
      const previous = this.#previous.get(pc);
      this.#previous.set(pc, now);
      if (peer.length > 0 && peer.length <= 100) peers.push(peerFigures(peer, now, previous));
    }
    return {
      type: "stats",
      connection: worstConnection(connections.map(([, pc]) => pc.connectionState)),
      peers: peers.slice(0, 64),
    };
  }
}

// ---------------------------------------------------------------------------
// Showing

const SCORES = ["excellent", "good", "poor", "lost"];

/** @param {string} score */
export function scoreLabel(score) {
  const key = `quality.score.${score}`;
  return has(key) ? t(key) : score;
}

/** @param {number} value @param {Intl.NumberFormatOptions} options */
function number(value, options) {
  return new Intl.NumberFormat(locale(), options).format(value);
}

/**
 * "RTT 84 ms · pertes 0,4 % · gigue 7,5 ms · 29,8 i/s · ↓ 1 250 kbit/s · ↑ 980 kbit/s".
 * @param {Figures} f
 */
export function describeFigures(f) {
  const parts = [];
  if (f.rtt_ms !== undefined) parts.push(t("quality.figure.rtt", { v: number(f.rtt_ms, { maximumFractionDigits: 0 }) }));
  if (f.loss !== undefined) parts.push(t("quality.figure.loss", { v: number(f.loss, { style: "percent", maximumFractionDigits: 1 }) }));
  if (f.jitter_ms !== undefined) parts.push(t("quality.figure.jitter", { v: number(f.jitter_ms, { maximumFractionDigits: 1 }) }));
  if (f.fps !== undefined) parts.push(t("quality.figure.fps", { v: number(f.fps, { maximumFractionDigits: 1 }) }));
  if (f.in_kbps !== undefined) parts.push(t("quality.figure.in", { v: number(f.in_kbps, { maximumFractionDigits: 0 }) }));
  if (f.out_kbps !== undefined) parts.push(t("quality.figure.out", { v: number(f.out_kbps, { maximumFractionDigits: 0 }) }));
  return parts.length > 0 ? parts.join(" · ") : t("quality.no_figures");
}

/**
 * The reasons in words ("onglet masqué depuis 10:42").
 * @param {ParticipantQuality} q
 */
export function describeReasons(q) {
  return q.reasons.map((code) => {
    if (code === "tab_hidden_long" && typeof q.presence.hidden_since === "number") {
      return t("quality.reason.tab_hidden_since", { time: formatTime(q.presence.hidden_since) });
    }
    if (code === "unfocused_long" && typeof q.presence.unfocused_since === "number") {
      return t("quality.reason.unfocused_since", { time: formatTime(q.presence.unfocused_since) });
    }
    const key = `quality.reason.${code}`;
    return has(key) ? t(key) : code;
  });
}

/** A score as a badge: colour and words, never colour alone. @param {string} score */
function scoreBadge(score) {
  return h("span", { class: "score", "data-score": SCORES.includes(score) ? score : "unknown" },
    h("span", { class: "score-dot", "aria-hidden": "true" }),
    bindText(h("span", { class: "score-text" }), () => scoreLabel(score)));
}

/**
 * One person's conditions, as a list item.
 * @param {ParticipantQuality} q
 * @param {string} name
 */
function qualityItem(q, name) {
  const reasons = () => describeReasons(q);
  return h("li", { class: "quality-row", "data-person": q.id, "data-score": q.score },
    h("div", { class: "quality-head" },
      h("span", { class: "quality-name" }, name),
      scoreBadge(q.score),
      bindText(h("span", { class: "quality-since" }), () => t("quality.since", { time: formatTime(q.since) }))),
    bindText(h("p", { class: "quality-figures", "data-field": "quality-figures" }), () => describeFigures(q.figures)),
    q.reasons.length > 0 && bindText(h("p", { class: "quality-reasons", "data-field": "quality-reasons" }), () => reasons().join(" · ")));
}

/** Rules and suggestions in the page's language. @param {Alert} alert */
function alertTitle(alert) {
  const key = `quality.alert.${alert.rule}`;
  return has(key) ? t(key, { time: formatTime(alert.since) }) : alert.message;
}

export class Quality {
  /** @type {ParticipantQuality | null} what the server says about me */
  own = null;
  /** @type {Map<string, ParticipantQuality>} facilitators: everyone */
  people = new Map();
  /** @type {Map<string, Alert>} facilitators: the rules that hold, by rule */
  alerts = new Map();
  #disposed = false;

  /**
   * @param {CallContext} ctx
   * @param {object} o
   * @param {HTMLElement | null} o.consoleBody facilitators: where the "Conditions" list goes
   * @param {(reason: string) => void} o.suspend opens the suspend dialog with a reason
   * @param {(attention: boolean) => void} [o.attention] the console's control shows an alert holds
   */
  constructor(ctx, { consoleBody, suspend, attention }) {
    const { you, mesh, send, view, panels, shell, nameOf } = ctx;
    this.you = you;
    this.shell = shell;
    this.nameOf = nameOf;
    this.suspend = suspend;
    this.attention = attention ?? (() => {});
    this.facilitator = you.role === "facilitator";
    this.reporter = new StatsReporter(mesh, send);

    if (this.facilitator) {
      this.list = h("ul", { class: "quality-list", "data-field": "conditions", "aria-labelledby": "conditions-title" });
      this.empty = h("p", { class: "panel-hint" }, T("quality.none_yet"));
      consoleBody?.append(h("section", { class: "conditions", "aria-labelledby": "conditions-title" },
        h("h3", { id: "conditions-title", class: "documents-title" }, T("quality.conditions")),
        h("p", { class: "panel-hint" }, T("quality.conditions_hint")),
        this.empty,
        this.list));
      // Alerts: over the call, whatever panel is open.
      this.alertArea = h("section", { class: "call-alerts", "data-field": "alerts", "aria-label": () => t("quality.alerts"), hidden: true });
      view.element.prepend(this.alertArea);
      this.panel = null;
    } else {
      this.panel = new Panel({ id: "connection-panel", label: "quality.my_control", icon: "signal", title: () => t("quality.my_title"), secondary: true });
      this.ownBody = h("div", { class: "quality-own", "data-field": "my-connection" });
      replaceChildren(this.panel.body,
        h("p", { class: "panel-hint" }, T("quality.my_intro")),
        this.ownBody,
        h("p", { class: "panel-hint" }, T("quality.my_privacy")));
      panels.mount(this.panel);
    }
    onLanguageChange(() => {
      if (!this.#disposed) this.render();
    });
    this.render();
  }

  /** A new connection: report from now on. */
  welcome() {
    this.reporter.start();
  }

  /** The socket is gone: nothing to report until the next welcome. */
  disconnected() {
    this.reporter.stop();
  }

  /**
   * `quality`, `alert`, `alert_cleared`, and the errors our `stats` may get.
   * @param {ServerMessage} message
   */
  handle(message) {
    switch (message.type) {
      case "quality": {
        for (const q of message.people) {
          if (q.id === this.you.id) this.own = q;
          if (this.facilitator) this.people.set(q.id, q);
        }
        this.render();
        return true;
      }
      case "alert": {
        const fresh = !this.alerts.has(message.alert.rule);
        this.alerts.set(message.alert.rule, message.alert);
        if (fresh) this.shell.announce(alertTitle(message.alert));
        this.renderAlerts();
        return true;
      }
      case "alert_cleared": {
        this.alerts.delete(message.rule);
        this.renderAlerts();
        return true;
      }
      case "error": {
        // Our figures refused or dropped: not the person's business. The
        // server names what an error answers (`about`).
        const ours = message.about === "stats";
        if (ours) console.info("cadre: connection figures refused:", message.code, message.message);
        return ours;
      }
      default:
        return false;
    }
  }

  /** A person left for good (removed): drop their line. @param {string} id */
  forget(id) {
    this.people.delete(id);
    this.render();
  }

  render() {
    if (this.facilitator) this.#renderConsole();
    else this.#renderOwn();
    this.renderAlerts();
  }

  #renderConsole() {
    if (!this.list || !this.empty) return;
    const rows = [...this.people.values()].sort((a, b) => {
      if (a.id === this.you.id) return -1;
      if (b.id === this.you.id) return 1;
      return SCORES.indexOf(b.score) - SCORES.indexOf(a.score) || this.nameOf(a.id).localeCompare(this.nameOf(b.id));
    });
    this.empty.hidden = rows.length > 0;
    replaceChildren(this.list, ...rows.map((q) => {
      const name = q.id === this.you.id ? t("call.you", { name: this.nameOf(q.id) }) : this.nameOf(q.id);
      return qualityItem(q, name);
    }));
  }

  #renderOwn() {
    if (!this.ownBody) return;
    const q = this.own;
    if (!q) {
      replaceChildren(this.ownBody, h("p", { class: "panel-hint" }, T("quality.my_waiting")));
      return;
    }
    replaceChildren(this.ownBody,
      h("p", { class: "quality-head" },
        T("quality.my_score"), " ",
        scoreBadge(q.score), " ",
        bindText(h("span", { class: "quality-since" }), () => t("quality.since", { time: formatTime(q.since) }))),
      bindText(h("p", { class: "quality-figures", "data-field": "quality-figures" }), () => describeFigures(q.figures)),
      q.reasons.length > 0
        ? h("ul", { class: "quality-reason-list", "data-field": "quality-reasons" }, ...describeReasons(q).map((r) => h("li", {}, r)))
        : h("p", { class: "panel-hint", "data-field": "quality-reasons" }, T("quality.my_no_reason")));
  }

  renderAlerts() {
    const area = this.alertArea;
    if (!area) return;
    const alerts = [...this.alerts.values()].sort((a, b) => a.since - b.since);
    area.hidden = alerts.length === 0;
    this.attention(alerts.length > 0);
    replaceChildren(area, ...alerts.map((alert) => {
      const suggested = has(`quality.suggested.${alert.suggested}`)
        ? /** @type {MessageKey} */ (`quality.suggested.${alert.suggested}`)
        : null;
      return h("article", { class: "call-alert", role: "alert", "data-rule": alert.rule, "data-suggested": alert.suggested },
        h("div", { class: "call-alert-text" },
          bindText(h("h2", { class: "call-alert-title" }), () => alertTitle(alert)),
          h("ul", { class: "call-alert-people", "data-field": "alert-evidence" }, ...alert.people.map((q) => h("li", { "data-person": q.id },
            h("strong", {}, this.nameOf(q.id)), " ",
            scoreBadge(q.score), " ",
            bindText(h("span", {}), () => `${t("quality.since", { time: formatTime(q.since) })} — ${describeFigures(q.figures)}`)))),
          suggested && h("p", { class: "call-alert-suggested" }, T(suggested))),
        h("div", { class: "call-alert-actions" },
          h("button", {
            type: "button",
            class: `button ${alert.suggested === "suspend" ? "button-danger" : "button-light"} button-small`,
            "data-action": "alert-suspend",
            onclick: () => this.suspend(alert.message),
          }, T("control.suspend_open"))));
    }));
  }

  dispose() {
    this.#disposed = true;
    this.reporter.stop();
    this.alertArea?.remove();
  }

  /** For tests: `window.cadre.state().quality`. */
  snapshot() {
    return {
      own: this.own,
      people: this.facilitator ? Object.fromEntries(this.people) : null,
      sent: this.reporter.sent,
      last: this.reporter.last,
    };
  }
}

