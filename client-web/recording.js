// @ts-check
//! Recording of the session (framework art. 2.1.5: never without everyone's
//! prior, explicit agreement). The server decides: it records only while a
//! facilitator has armed recording and every person connected has granted
//! the `recording` consent ("Mes accords"); it says where things stand in
//! the welcome and in `recording_state`.
//!
//! - Every page, while recording runs: a red bar under the header that
//!   cannot be closed ("Enregistrement en cours"), and "● " before the tab's
//!   title. Armed but waiting: a neutral line; participants are never told
//!   who has not agreed, facilitators only how many.
//! - Facilitators: the "Enregistrement" panel to arm and disarm, the state,
//!   a failure (disk full) and the list of recordings with their files.
//! - Publishing one's camera and microphone to the server while it records
//!   is `recorder.js`.

import { has, locale, onLanguageChange, t } from "./i18n.js";
import { T, bindText, h, icon, replaceChildren } from "./dom.js";
import { Panel } from "./panel.js";
import { documents, fetchRecordings } from "./api.js";
import { capitalise, formatDay, formatTime } from "./evidence.js";
import { Recorder } from "./recorder.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./wire.js").RecordingStatus} RecordingStatus */
/** @typedef {import("./wire.js").RecordingSegment} RecordingSegment */
/** @typedef {import("./wire.js").RecordingFile} RecordingFile */
/** @typedef {import("./wire.js").PlayableFile} PlayableFile */
/** @typedef {import("./wire.js").Welcome} Welcome */
/** @typedef {import("./wire.js").Me} Me */
/** @typedef {import("./wire.js").SessionInfo} SessionInfo */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./wire.js").ClientMessage} ClientMessage */
/** @typedef {import("./media.js").LocalMedia} LocalMedia */
/** @typedef {import("./context.js").CallContext} CallContext */

/** @type {RecordingStatus} */
const IDLE = Object.freeze({ armed: false, active: false });
/** An arm or disarm with no answer after this long is reported as unanswered. */
const ARM_WAIT_MS = 15_000;
/** The error codes that may answer an arm or disarm. */
const ARM_ERRORS = new Set(["forbidden", "internal", "not_open", "conflict", "invalid_input", "malformed_message", "unknown_message_type"]);
/** After a segment closed, its files are listed once the server has written them. */
const LIST_AFTER_MS = [1_500, 5_000];
/** While the server prepares playable files, the list is asked again this often, at most this many times. */
const PLAYABLE_POLL_MS = 3_000;
const PLAYABLE_POLLS = 100;
/** The states in which the playable files are still being made. */
const PREPARING = new Set(["queued", "running"]);

/** @typedef {"off" | "waiting" | "active" | "failure"} BarState */

export class Recording {
  /** @type {RecordingStatus} the server's last word */
  status = IDLE;
  /**
   * The session's media goes through the server, which records what it
   * already receives: this browser opens no recorder connection.
   */
  tapped = false;
  /** @type {{ armed: boolean, sent: number } | null} an arm or disarm waiting for its answer */
  pendingArm = null;
  /** @type {(() => string) | null} */
  problem = null;
  /** @type {string | null} the failure the facilitator closed (shown again if another comes) */
  #dismissedFailure = null;
  /** @type {BarState} */
  #barState = "off";
  #disposed = false;

  /**
   * @param {CallContext} ctx
   * @param {object} o
   * @param {() => void} o.openConsents opens "Mes accords"
   */
  constructor(ctx, { openConsents }) {
    const { you, session, token, media, send, shell, panels, nameOf } = ctx;
    this.you = you;
    this.session = session;
    this.token = token;
    this.send = send;
    this.shell = shell;
    this.nameOf = nameOf;
    this.facilitator = you.role === "facilitator";
    this.recorder = new Recorder({ media, send, onChange: () => this.panel?.renderState() });

    // The bar: what is happening, in words; a dot for the eye only.
    const bar = shell.recordingBar;
    this.barText = h("p", { class: "recording-text", role: "status", "aria-live": "polite" });
    this.consentsButton = h("button", { type: "button", class: "button button-light button-small", "data-action": "recording-my-consents", onclick: openConsents },
      T("consents.control"));
    this.stopButton = h("button", { type: "button", class: "button button-light button-small", "data-action": "recording-disarm-bar", hidden: true, onclick: () => this.arm(false) },
      T("recording.disarm"));
    this.manageButton = h("button", { type: "button", class: "button button-light button-small", "data-action": "recording-manage", hidden: true, onclick: () => this.panel?.panel.open(true) },
      T("recording.manage"));
    this.dismissButton = h("button", {
      type: "button",
      class: "icon-button recording-dismiss",
      "data-action": "recording-dismiss",
      hidden: true,
      "aria-label": () => t("call.dismiss"),
      onclick: () => {
        this.#dismissedFailure = this.status.failure ?? null;
        this.render();
      },
    }, icon("close"));
    replaceChildren(bar,
      h("span", { class: "recording-dot", "aria-hidden": "true" }),
      this.barText,
      h("span", { class: "recording-actions" }, this.consentsButton, this.stopButton, this.manageButton, this.dismissButton));

    this.panel = this.facilitator ? new RecordingPanel(this) : null;
    if (this.panel) {
      panels.mount(this.panel.panel).onToggle(() => {
        if (this.panel?.panel.isOpen) this.panel.refresh();
      });
    }
    onLanguageChange(() => {
      if (!this.#disposed) this.render();
    });
    this.render();
  }

  // -- messages ----------------------------------------------------------------

  /** @param {Welcome} message */
  welcome(message) {
    this.recorder.configure(message.ice_servers, message.ice_policy);
    // A new connection: the server forgot our previous recorder connection.
    this.#update(message.recording ?? IDLE, true);
  }

  /**
   * `recording_state`, `recorder_signal`, and the errors that answer ours.
   * @param {ServerMessage} message
   */
  handle(message) {
    if (message.type === "recording_state") {
      this.#update(message.recording ?? IDLE, false);
      return true;
    }
    if (this.recorder.handle(message)) return true;
    if (message.type === "error" && this.pendingArm && ARM_ERRORS.has(message.code)) {
      const code = message.code;
      this.pendingArm = null;
      this.problem = () => {
        const key = `recording.error.${code}`;
        return has(key) ? t(key) : has(`socket.${code}`) ? t(/** @type {MessageKey} */ (`socket.${code}`)) : t("socket.other", { code });
      };
      this.render();
      return true;
    }
    return false;
  }

  /**
   * The connection to the server is gone: our recorder connection with it.
   * `final`: this page is out of the session (replaced by another tab).
   * @param {boolean} final
   */
  disconnected(final) {
    this.recorder.follow(null);
    if (final) this.status = IDLE;
    this.render();
  }

  /**
   * How the session's media travels (before `welcome`, and on `media_route`):
   * forwarded, the recorder taps the server's copy and our own recorder
   * connection closes.
   * @param {import("./wire.js").MediaRoute} route
   */
  setRoute(route) {
    this.tapped = route === "forwarded";
    this.#follow(false);
  }

  /** What the person chose for `recording` in "Mes accords". @param {boolean} granted */
  consentChosen(granted) {
    if (granted) this.recorder.grant();
    else this.recorder.withdraw();
  }

  /** Facilitators: arm (true) or disarm. @param {boolean} armed */
  arm(armed) {
    this.problem = null;
    if (this.send({ type: "recording", armed })) {
      const sent = Date.now();
      this.pendingArm = { armed, sent };
      setTimeout(() => {
        if (this.pendingArm?.sent !== sent) return;
        this.pendingArm = null;
        this.problem = () => t("signin.error.no_answer");
        this.render();
      }, ARM_WAIT_MS);
    } else {
      this.problem = () => t("signin.error.offline");
    }
    this.render();
  }

  /** @param {RecordingStatus} status @param {boolean} restart */
  #update(status, restart) {
    const before = this.status;
    this.status = status;
    if (this.pendingArm && status.armed === this.pendingArm.armed) this.pendingArm = null;
    if (status.armed) this.problem = null;
    if (status.failure !== before.failure) this.#dismissedFailure = null;
    this.#follow(restart);
    this.render();
    const segmentChanged = before.active !== status.active || before.segment !== status.segment;
    if (segmentChanged) this.panel?.segmentChanged(status.active);
  }

  /** Publishes to the open segment, unless the server taps our media. @param {boolean} restart */
  #follow(restart) {
    const status = this.status;
    const segment = !this.tapped && status.active && typeof status.segment === "number" ? status.segment : null;
    this.recorder.follow(segment, restart);
  }

  // -- display -------------------------------------------------------------------

  render() {
    const s = this.status;
    /** @type {BarState} */
    const state = s.active ? "active"
      : this.facilitator && s.failure && s.failure !== this.#dismissedFailure ? "failure"
      : s.armed ? "waiting"
      : "off";
    const bar = this.shell.recordingBar;
    const previous = this.#barState;
    this.#barState = state;
    bar.dataset.state = state;
    bar.hidden = state === "off";
    bindText(this.barText, () => this.describe(state));
    this.consentsButton.hidden = state !== "active" && state !== "waiting";
    this.stopButton.hidden = !this.facilitator || !s.armed;
    this.stopButton.disabled = this.pendingArm !== null;
    this.manageButton.hidden = this.dismissButton.hidden = state !== "failure";
    this.shell.setRecording(state === "active");
    // Said once to screen readers when it starts and when it stops.
    if (previous !== state && (state === "active" || previous === "active")) {
      this.shell.announce(t(state === "active" ? "recording.announce_started" : "recording.announce_stopped"));
    }
    this.panel?.renderState();
  }

  /** The sentence for a state, as this person may read it. @param {BarState} state */
  describe(state) {
    const s = this.status;
    switch (state) {
      case "active":
        return typeof s.since === "number" ? t("recording.active_since", { time: formatTime(s.since) }) : t("recording.active");
      case "waiting": {
        if (!this.facilitator) return t("recording.waiting");
        const n = s.missing ?? 0;
        return n === 0 ? t("recording.starting") : n === 1 ? t("recording.missing_one") : t("recording.missing", { n });
      }
      case "failure": {
        const key = `recording.failure.${s.failure}`;
        return has(key) ? t(key) : t("recording.failure.other", { code: s.failure ?? "" });
      }
      default:
        return t("recording.off");
    }
  }

  dispose() {
    this.#disposed = true;
    this.recorder.dispose();
    this.panel?.dispose();
    this.status = IDLE;
    const bar = this.shell.recordingBar;
    bar.hidden = true;
    bar.dataset.state = "off";
    bar.replaceChildren();
    this.shell.setRecording(false);
  }

  /** For tests: `window.cadre.state().recording`. */
  snapshot() {
    const s = this.status;
    return {
      armed: s.armed,
      active: s.active,
      segment: s.segment ?? null,
      missing: s.missing ?? null,
      publishing: this.recorder.publishing,
      tapped: this.tapped,
      failure: s.failure ?? null,
      recorder: this.recorder.snapshot(),
    };
  }
}

// ---------------------------------------------------------------------------
// The facilitator's panel

class RecordingPanel {
  /** @type {RecordingSegment[] | null} null until the list came once */
  segments = null;
  /** @type {string | null} why the list could not be had */
  listError = null;
  loading = false;
  #fetches = 0;
  #polls = 0;
  /** @type {ReturnType<typeof setTimeout>[]} */
  #timers = [];
  /**
   * The players already shown, by segment, file and hash: the list is rebuilt on every refresh
   * (the timers after a segment closes, the polls while files are made), and a rebuilt player
   * would stop a recording the facilitator is watching.
   * @type {Map<string, HTMLElement>}
   */
  #players = new Map();
  /** @type {Set<string>} */
  #shown = new Set();

  /** @param {Recording} r */
  constructor(r) {
    this.r = r;
    this.panel = new Panel({ id: "recording-panel", label: "recording.control", icon: "record", title: () => t("recording.title") });
    this.stateLine = h("p", { class: "panel-text recording-state", "data-field": "recording-state" });
    this.button = h("button", { type: "button", class: "button button-primary", "data-action": "recording-arm", onclick: () => this.r.arm(!this.r.status.armed) });
    this.problem = h("p", { class: "panel-problem", role: "status", "data-field": "recording-error", hidden: true });
    this.list = h("ul", { class: "recordings", "aria-labelledby": "recordings-title" });
    this.listLine = h("p", { class: "panel-hint", "data-field": "recordings-status" });
    this.refreshButton = h("button", { type: "button", class: "button button-quiet button-small", "data-action": "recordings-refresh", onclick: () => this.refresh() },
      T("recording.refresh"));
    replaceChildren(this.panel.body,
      h("p", { class: "panel-hint" }, T("recording.intro")),
      this.stateLine,
      h("div", {}, this.button),
      this.problem,
      h("section", { class: "documents", "data-field": "recordings", "aria-labelledby": "recordings-title" },
        h("div", { class: "documents-head" },
          h("h3", { id: "recordings-title", class: "documents-title" }, T("recording.list_title")),
          this.refreshButton),
        this.listLine,
        this.list,
        h("p", { class: "panel-hint" }, T("recording.formats"))));
    this.renderList();
  }

  renderState() {
    const r = this.r;
    const s = r.status;
    bindText(this.stateLine, () => {
      if (s.active) {
        const since = typeof s.since === "number" ? t("recording.active_since", { time: formatTime(s.since) }) : t("recording.active");
        return typeof s.segment === "number" ? `${since} (${t("recording.segment_number", { n: s.segment })})` : since;
      }
      if (s.armed) return r.describe("waiting");
      if (s.failure) return r.describe("failure");
      return t("recording.off");
    });
    this.stateLine.dataset.state = s.active ? "active" : s.armed ? "waiting" : s.failure ? "failure" : "off";
    this.button.dataset.action = s.armed ? "recording-disarm" : "recording-arm";
    this.button.className = `button ${s.armed ? "button-danger" : "button-primary"}`;
    bindText(this.button, () => t(s.armed ? "recording.disarm" : "recording.arm"));
    this.button.disabled = r.pendingArm !== null;
    const problem = r.problem;
    this.problem.hidden = !problem;
    if (problem) bindText(this.problem, problem);
  }

  /** A segment opened or closed: its files are listed once written. @param {boolean} active */
  segmentChanged(active) {
    if (!this.panel.isOpen) return;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers = (active ? [LIST_AFTER_MS[0]] : LIST_AFTER_MS).map((ms) => setTimeout(() => this.refresh(), ms));
  }

  async refresh() {
    const n = ++this.#fetches;
    this.loading = true;
    this.renderList();
    const result = await fetchRecordings(this.r.session.id, this.r.token);
    if (n !== this.#fetches) return;
    this.loading = false;
    if (result.ok) {
      this.segments = result.recordings.segments;
      this.listError = null;
    } else {
      this.listError = result.error.code;
    }
    this.renderList();
    const preparing = (this.segments ?? []).some((s) => PREPARING.has(s.playable_status ?? ""));
    if (preparing && this.panel.isOpen && this.#polls < PLAYABLE_POLLS) {
      this.#polls += 1;
      this.#timers.push(setTimeout(() => this.refresh(), PLAYABLE_POLL_MS));
    } else if (!preparing) {
      this.#polls = 0;
    }
  }

  renderList() {
    const segments = [...(this.segments ?? [])].sort((a, b) => b.segment - a.segment);
    const error = this.listError;
    bindText(this.listLine, () =>
      error ? t("recording.list_error", { code: error })
        : this.segments === null ? t(this.loading ? "recording.list_loading" : "recording.list_unknown")
        : segments.length === 0 ? t("recording.list_empty")
        : "");
    this.listLine.hidden = !error && this.segments !== null && segments.length > 0;
    this.refreshButton.disabled = this.loading;
    this.#shown.clear();
    replaceChildren(this.list, ...segments.map((segment) => this.#segment(segment)));
    for (const key of this.#players.keys()) if (!this.#shown.has(key)) this.#players.delete(key);
    this.list.hidden = segments.length === 0;
  }

  /** @param {RecordingSegment} s */
  #segment(s) {
    const open = s.closed_at === null || s.closed_at === undefined;
    const reason = s.reason ?? "";
    const closedAt = s.closed_at ?? 0;
    const head = bindText(h("p", { class: "recording-segment-head" }), () => {
      const number = t("recording.segment_number", { n: s.segment });
      const when = open
        ? t("recording.segment_open", { from: formatTime(s.started_at) })
        : t("recording.segment_closed", { from: formatTime(s.started_at), to: formatTime(closedAt) });
      const why = open ? "" : has(`recording.reason.${reason}`)
        ? t(/** @type {MessageKey} */ (`recording.reason.${reason}`))
        : reason ? t("recording.reason.other", { reason }) : "";
      return capitalise([number, when, why].filter(Boolean).join(" · "));
    });
    const purgedAt = s.purged_at ?? null;
    const files = [...s.files].sort((a, b) =>
      this.r.nameOf(a.participant).localeCompare(this.r.nameOf(b.participant)) || b.track.localeCompare(a.track));
    const playable = purgedAt === null ? (s.playable ?? []).filter((p) => p.url) : [];
    const status = s.playable_status ?? "";
    const unavailable = s.unavailable ?? [];
    const statusKey = PREPARING.has(status) || (status !== "ready" && has(`recording.playable.${status}`))
      ? /** @type {MessageKey} */ (`recording.playable.${status}`) : null;
    const watch = purgedAt === null && (playable.length > 0 || statusKey || unavailable.length > 0)
      && h("div", { class: "recording-playable", "data-playable-status": status || null },
        h("h4", { class: "recording-subhead" }, T("recording.playable_title")),
        statusKey && bindText(h("p", { class: "panel-hint", role: "status", "data-field": "playable-status" }), () => t(statusKey)),
        unavailable.length > 0 && bindText(h("p", { class: "panel-hint", "data-field": "playable-unavailable" }), () =>
          t("recording.playable.unavailable", { files: unavailable.join(", ") })),
        playable.length > 0 && h("ul", { class: "recording-players" }, ...playable.map((p) => h("li", {}, this.#player(s.segment, p)))));
    return h("li", { class: "recording-segment", "data-segment": String(s.segment), "data-open": String(open), "data-reason": reason || null },
      head,
      purgedAt !== null && bindText(h("p", { class: "panel-hint", "data-field": "recording-purged" }), () =>
        t("recording.purged", { day: formatDay(purgedAt), time: formatTime(purgedAt) })),
      watch,
      files.length > 0 && watch && h("h4", { class: "recording-subhead" }, T("recording.raw_title")),
      files.length > 0
        ? h("ul", { class: "documents-list recording-files" }, ...files.map((f) => h("li", {}, this.#file(s, f, purgedAt === null))))
        : !open && purgedAt === null && bindText(h("p", { class: "panel-hint" }), () => t("recording.no_files")));
  }

  /** A playable file: a player, and a link to keep it; the same one as before if it was shown. @param {number} segment @param {PlayableFile} p */
  #player(segment, p) {
    const key = `${segment}/${p.file}/${p.sha256}`;
    this.#shown.add(key);
    const shown = this.#players.get(key);
    if (shown) return shown;
    const url = p.url ?? "";
    const label = () => {
      const name = this.r.nameOf(p.participant ?? "");
      const base = p.kind === "composed" ? t("recording.playable.composed")
        : p.source === "screen" ? t("recording.playable.screen", { name })
        : t("recording.playable.camera", { name });
      return (p.publication ?? 1) > 1 ? t("recording.playable.again", { label: base, n: p.publication ?? 1 }) : base;
    };
    const caption = bindText(h("figcaption", {}), label);
    const video = h("video", {
      controls: true,
      preload: "metadata",
      playsinline: true,
      src: url,
      "data-file": p.file,
      "aria-label": label,
    });
    const player = h("figure", { class: "recording-player", "data-kind": p.kind, "data-person": p.participant ?? null, "data-file": p.file, "data-sha256": p.sha256, title: `SHA-256 ${p.sha256}` },
      caption,
      video,
      h("a", { class: "button button-quiet button-small", href: url, download: p.file, "data-action": "download-playable" },
        icon("download"), bindText(h("span", {}), () => t("recording.playable.download", { size: formatBytes(p.bytes) }))));
    this.#players.set(key, player);
    return player;
  }

  /** @param {RecordingSegment} s @param {RecordingFile} f @param {boolean} available */
  #file(s, f, available) {
    const name = f.file;
    const person = this.r.nameOf(f.participant);
    const label = () => t("recording.file", {
      name: person,
      track: has(`recording.track.${f.track}`) ? t(/** @type {MessageKey} */ (`recording.track.${f.track}`)) : f.track,
      ext: (name.split(".").pop() ?? "").toLowerCase(),
      size: formatBytes(f.bytes),
    });
    const attrs = {
      "data-person": f.participant,
      "data-track": f.track,
      "data-file": name,
      "data-sha256": f.sha256,
      title: `SHA-256 ${f.sha256}`,
    };
    const url = f.url ?? (available && name ? documents.recordingFile(this.r.session.id, s.segment, name, this.r.token) : null);
    if (!available || !url) return bindText(h("span", { class: "recording-file", ...attrs }), label);
    return h("a", { class: "button button-quiet button-small recording-file", href: url, download: name || true, "data-action": "download-recording", ...attrs },
      icon("download"), bindText(h("span", {}), label));
  }

  dispose() {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#fetches += 1;
  }
}

/** "1,2 Mo" / "1.2 MB". @param {number} bytes */
function formatBytes(bytes) {
  const units = /** @type {const} */ (["byte", "kilobyte", "megabyte", "gigabyte"]);
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  try {
    return new Intl.NumberFormat(locale(), { style: "unit", unit: units[unit], unitDisplay: "short", maximumFractionDigits: unit === 0 ? 0 : 1 }).format(value);
  } catch {
    return `${Math.round(value)} ${["o", "ko", "Mo", "Go"][unit]}`;
  }
}
