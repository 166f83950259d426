// @ts-check
//! Attendance in the call: the half-day sign-in (émargement), the
//! facilitator's presence console, "Mes traces" (everything recorded about
//! the person, the session's course, the recordings they were in),
//! presence reporting and the receipts. The documents to download are
//! `documents.js`.
//!
//! The server decides: a sign-in counts when `signed` arrives, a
//! countersignature when `countersigned` does; until then the UI says
//! "being recorded", never "done". Panels sit beside the call, never over it.
//!
//! Prompting is calm: the sign-in panel opens by itself at most once per
//! half-day; closed, it stays reachable from the "Émargement" control and
//! never pops up again for that half-day (remembered in this browser).

import { has, lang, onLanguageChange, t } from "./i18n.js";
import { T, bindText, h, icon, replaceChildren } from "./dom.js";
import { documents, fetchProof } from "./api.js";
import { Panel } from "./panel.js";
import { PresenceReporter } from "./presence.js";
import { SignaturePad, signatureImage } from "./signature.js";
import {
  capitalise, dayKey, describeEntries, downloadReceipts, formatDay, formatTime, keepReceipt,
  loadReceipts, parseEntry, slotLabel, treeHeadClaims,
} from "./evidence.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./wire.js").ClientMessage} ClientMessage */
/** @typedef {import("./wire.js").Welcome} Welcome */
/** @typedef {import("./wire.js").Me} Me */
/** @typedef {import("./wire.js").Peer} Peer */
/** @typedef {import("./wire.js").Role} Role */
/** @typedef {import("./wire.js").SessionInfo} SessionInfo */
/** @typedef {import("./wire.js").Entry} Entry */
/** @typedef {import("./context.js").CallContext} CallContext */

/**
 * One half-day as this client knows it (server times, ms).
 * @typedef {object} SlotState
 * @property {string} slot
 * @property {number} start
 * @property {number} end
 * @property {number | null} closesAt the sign-in window's closing time, once announced
 * @property {number | null} signedAt
 * @property {number | null} countersignedAt
 */

/**
 * A request sent and not answered yet; errors are matched to the oldest one.
 * @typedef {{ action: "sign_in" | "countersign" | "open_signin", slot: string, participant?: string, sent: number }} Pending
 */

/** Error codes that answer a request of ours (others are the app's business). */
const REQUEST_ERRORS = new Set(["not_open", "conflict", "invalid_input", "forbidden", "internal", "malformed_message"]);
/** A request with no answer after this long is reported as unanswered. */
const ANSWER_WAIT_MS = 15_000;

// ---------------------------------------------------------------------------
// The controller

export class Attendance {
  /** @type {Map<string, SlotState>} */
  slots = new Map();
  /** Server clock minus ours (ms), from the last welcome. */
  #offset = 0;
  /** @type {Pending[]} */
  #pending = [];
  /** Slots whose panel opened by itself in this page. */
  #popped = new Set();
  /** @type {Map<number, Entry>} entries about me, by seq */
  entries = new Map();
  /** `get_evidence` answered at least once on this page. */
  #evidenceLoaded = false;
  /** @type {Map<string, { signed: Map<string, number>, countersigned: Set<string> }>} facilitators: per slot */
  status = new Map();
  /** Slots for which the server sent a `signin_status` (before that, others' state is unknown). */
  statusKnown = new Set();
  /**
   * Everyone known on this page: seen connected, or in the welcome's list of
   * the session's people (facilitators). `wasOnline`: seen connected here.
   * @type {Map<string, { name: string, role: Role, online: boolean, wasOnline: boolean }>}
   */
  people = new Map();
  connected = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #windowTimer;

  /**
   * @param {CallContext} ctx
   * @param {object} [o]
   * @param {(id: string, name: string) => HTMLElement | null} [o.personAction] facilitators: one more action on a person's row (remove)
   */
  constructor(ctx, { personAction } = {}) {
    const { you, session, token, send, shell, panels } = ctx;
    this.you = you;
    this.personAction = personAction ?? (() => null);
    this.session = session;
    this.token = token;
    this.send = send;
    this.shell = shell;
    this.presence = new PresenceReporter(send);
    this.people.set(you.id, { name: you.name, role: you.role, online: true, wasOnline: true });

    this.signin = new SigninPanel(this);
    this.console = you.role === "facilitator" ? new PresenceConsole(this) : null;
    this.traces = new TracesPanel(this);
    for (const panel of [this.signin.panel, this.console?.panel, this.traces.panel]) {
      if (panel) panels.mount(panel);
    }
    this.signin.panel.control.hidden = true;
    this.signin.panel.onToggle(() => {
      // Closing the prompt before signing means "not now": it will not pop again.
      const slot = this.promptSlot();
      if (!this.signin.panel.isOpen && slot) this.#dismiss(slot.slot);
    });
    this.traces.panel.onToggle(() => {
      if (this.traces.panel.isOpen) this.requestEvidence();
    });
    // Sentences built from data are rebuilt in the new language.
    onLanguageChange(() => {
      if (this.#disposed) return;
      this.update();
      this.traces.render();
    });
  }

  #disposed = false;

  // -- time and slots ------------------------------------------------------

  serverNow() {
    return Date.now() + this.#offset;
  }

  /** @param {SlotState} s */
  isOpen(s) {
    return s.closesAt !== null && s.closesAt > this.serverNow();
  }

  sortedSlots() {
    return [...this.slots.values()].sort((a, b) => a.start - b.start);
  }

  /** The half-day to sign now: window open, not signed yet. */
  promptSlot() {
    return this.sortedSlots().find((s) => this.isOpen(s) && s.signedAt === null) ?? null;
  }

  /** The half-day the panels talk about: the one to sign, else the current one, else the last begun. */
  currentSlot() {
    const now = this.serverNow();
    const sorted = this.sortedSlots();
    return this.promptSlot()
      ?? sorted.find((s) => s.start <= now && now < s.end)
      ?? sorted.find((s) => this.isOpen(s))
      ?? [...sorted].reverse().find((s) => s.start <= now)
      ?? sorted[0]
      ?? null;
  }

  // -- messages ----------------------------------------------------------------

  /** @param {Welcome} message */
  welcome(message) {
    this.#offset = message.server_time - Date.now();
    this.connected = true;
    // The server's view replaces ours (a reconnection may have missed news).
    this.slots.clear();
    for (const s of message.slots ?? []) {
      this.slots.set(s.slot, {
        slot: s.slot,
        start: s.start,
        end: s.end,
        closesAt: s.signin_closes_at ?? null,
        signedAt: s.signed_at ?? null,
        countersignedAt: s.countersigned_at ?? null,
      });
    }
    // A sign-in sent before a reconnection may have been recorded: the welcome says.
    this.#resolve((p) => p.action === "sign_in" && (this.slots.get(p.slot)?.signedAt ?? null) !== null);
    for (const person of this.people.values()) person.online = false;
    this.people.set(this.you.id, { name: this.you.name, role: this.you.role, online: true, wasOnline: true });
    // Facilitators get everyone, so that the absent are listed too.
    for (const person of message.people ?? []) {
      const known = this.people.get(person.id);
      if (known) Object.assign(known, { name: person.name, role: person.role });
      else this.people.set(person.id, { name: person.name, role: person.role, online: false, wasOnline: false });
    }
    for (const peer of message.roster) this.peerJoined(peer);
    this.presence.welcomed();
    if (this.traces.panel.isOpen) this.requestEvidence();
    this.update();
  }

  /** @param {Peer} peer */
  peerJoined(peer) {
    this.people.set(peer.id, { name: peer.name, role: peer.role, online: true, wasOnline: true });
    this.console?.render();
  }

  /** @param {string} id */
  peerLeft(id) {
    const person = this.people.get(id);
    if (person) person.online = false;
    this.console?.render();
  }

  /** @param {boolean} connected */
  setConnected(connected) {
    this.connected = connected;
    if (!connected) for (const [id, person] of this.people) if (id !== this.you.id) person.online = false;
    this.signin.render();
    this.console?.render();
  }

  /**
   * The attendance messages; false for anything else (the app handles it).
   * @param {ServerMessage} message
   */
  handle(message) {
    switch (message.type) {
      case "signin_open": {
        const known = this.slots.get(message.slot);
        if (known) known.closesAt = Math.max(known.closesAt ?? 0, message.closes_at);
        else {
          this.slots.set(message.slot, {
            slot: message.slot,
            start: this.serverNow(),
            end: message.closes_at,
            closesAt: message.closes_at,
            signedAt: null,
            countersignedAt: null,
          });
        }
        this.#resolve((p) => p.action === "open_signin");
        this.update();
        return true;
      }
      case "signed": {
        const slot = this.slots.get(message.slot);
        if (slot) slot.signedAt = message.at;
        this.#resolve((p) => p.action === "sign_in" && p.slot === message.slot);
        let kept = false;
        if (message.receipt) {
          kept = keepReceipt(this.session.id, {
            kind: "signin",
            slot: message.slot,
            at: message.at,
            person: this.you.id,
            tree_head: message.receipt,
          });
        }
        this.signin.signed(message.at, message.receipt ? kept : null);
        this.update();
        return true;
      }
      case "countersigned": {
        const status = this.#statusOf(message.slot);
        status.countersigned.add(message.participant);
        this.#resolve((p) => p.action === "countersign" && p.participant === message.participant && p.slot === message.slot);
        if (message.participant === this.you.id) {
          const slot = this.slots.get(message.slot);
          if (slot) slot.countersignedAt = message.at;
          this.signin.countersigned(message.at);
        }
        this.update();
        return true;
      }
      case "signin_status": {
        this.status.set(message.slot, {
          signed: new Map(message.signed),
          countersigned: new Set(message.countersigned),
        });
        this.statusKnown.add(message.slot);
        this.#resolve((p) => p.action === "countersign" && p.slot === message.slot && message.countersigned.includes(p.participant ?? ""));
        this.console?.render();
        return true;
      }
      case "evidence": {
        this.entries.clear();
        for (const text of message.entries) this.#addEntry(text);
        this.#evidenceLoaded = true;
        this.traces.render();
        return true;
      }
      case "evidence_recorded": {
        this.#addEntry(message.entry);
        this.traces.render();
        return true;
      }
      case "receipt": {
        this.keepLeaveReceipt(message.tree_head);
        return true;
      }
      case "error": {
        if (!REQUEST_ERRORS.has(message.code)) return false;
        this.#expire();
        const pending = this.#pending.shift();
        if (!pending) return false;
        this.#failed(pending, message.code);
        return true;
      }
      default:
        return false;
    }
  }

  /** @param {string} text */
  #addEntry(text) {
    const entry = parseEntry(text);
    if (entry) this.entries.set(entry.seq, entry);
  }

  /** @param {string} slot */
  #statusOf(slot) {
    let status = this.status.get(slot);
    if (!status) this.status.set(slot, (status = { signed: new Map(), countersigned: new Set() }));
    return status;
  }

  // -- requests ----------------------------------------------------------------

  /**
   * Sends a request and remembers it until it is answered.
   * @param {ClientMessage} message
   * @param {Pending} pending
   */
  #request(message, pending) {
    if (!this.send(message)) return false;
    this.#pending.push(pending);
    setTimeout(() => this.#expire(), ANSWER_WAIT_MS + 100);
    return true;
  }

  /** Drops what was answered. @param {(p: Pending) => boolean} match */
  #resolve(match) {
    this.#pending = this.#pending.filter((p) => !match(p));
  }

  /** Requests with no answer in time are reported as such. */
  #expire() {
    const now = Date.now();
    const stale = this.#pending.filter((p) => now - p.sent > ANSWER_WAIT_MS);
    if (stale.length === 0) return;
    this.#pending = this.#pending.filter((p) => !stale.includes(p));
    for (const p of stale) this.#failed(p, "no_answer");
  }

  /** @param {Pending} pending @param {string} code */
  #failed(pending, code) {
    if (pending.action === "sign_in") this.signin.failed(code);
    else this.console?.failed(pending, code);
    this.update();
  }

  /** @param {string} action */
  pending(action, participant = "") {
    return this.#pending.some((p) => p.action === action && (!participant || p.participant === participant));
  }

  /**
   * Signs the half-day in.
   * @param {SlotState} slot
   * @param {import("./wire.js").Signature | null} signature
   */
  signIn(slot, signature) {
    /** @type {ClientMessage} */
    const message = { type: "sign_in", slot: slot.slot, client_time: Date.now() };
    if (signature) message.signature = signature;
    return this.#request(message, { action: "sign_in", slot: slot.slot, sent: Date.now() });
  }

  /** @param {string} slot @param {string} participant */
  countersign(slot, participant) {
    return this.#request({ type: "countersign", slot, participant }, { action: "countersign", slot, participant, sent: Date.now() });
  }

  openSignin() {
    return this.#request({ type: "open_signin" }, { action: "open_signin", slot: "", sent: Date.now() });
  }

  requestEvidence() {
    if (!this.send({ type: "get_evidence" })) this.traces.render();
  }

  get evidenceLoaded() {
    return this.#evidenceLoaded;
  }

  // -- receipts ----------------------------------------------------------------

  /** @param {string} treeHead */
  keepLeaveReceipt(treeHead) {
    if (!treeHead) return false;
    const ts = treeHeadClaims(treeHead).ts;
    const at = typeof ts === "number" ? ts : this.serverNow();
    return keepReceipt(this.session.id, { kind: "leave", at, person: this.you.id, tree_head: treeHead });
  }

  receipts() {
    return loadReceipts(this.session.id);
  }

  downloadReceipts() {
    downloadReceipts(this.session.id, { title: this.session.title, person: { id: this.you.id, name: this.you.name } });
  }

  // -- documents -----------------------------------------------------------------

  /** A person's certificate (PDF) in the current language. @param {string} pid */
  proofPdfUrl(pid) {
    return documents.proofPdf(this.session.id, pid, this.token, lang());
  }

  // -- prompting -----------------------------------------------------------------

  #dismissKey() {
    return `cadre.signin.dismissed.${this.session.id}.${this.you.id}`;
  }

  /** @returns {string[]} */
  #dismissed() {
    try {
      /** @type {unknown} */
      const value = JSON.parse(localStorage.getItem(this.#dismissKey()) ?? "[]");
      return Array.isArray(value) ? value.filter((v) => typeof v === "string") : [];
    } catch {
      return [];
    }
  }

  /** @param {string} slot */
  #dismiss(slot) {
    this.#popped.add(slot);
    const list = this.#dismissed();
    if (list.includes(slot)) return;
    try {
      localStorage.setItem(this.#dismissKey(), JSON.stringify([...list, slot].slice(-20)));
    } catch {
      // Not remembered past this page: it still will not pop again here.
    }
  }

  /** Re-renders everything and opens the sign-in prompt when it is due. */
  update() {
    const prompt = this.promptSlot();
    this.signin.panel.control.hidden = this.slots.size === 0;
    this.signin.panel.dot.hidden = !prompt;
    if (prompt && !this.#popped.has(prompt.slot) && !this.#dismissed().includes(prompt.slot)) {
      this.#popped.add(prompt.slot);
      if (!this.signin.panel.isOpen) {
        this.signin.panel.open(false);
        this.shell.announce(t("signin.announce_open", { slot: slotLabel(prompt.slot) }));
      }
    }
    this.signin.render();
    this.console?.render();
    // Re-render when the next open window closes.
    clearTimeout(this.#windowTimer);
    const next = this.sortedSlots()
      .map((s) => s.closesAt)
      .filter((c) => c !== null && c > this.serverNow())
      .sort((a, b) => Number(a) - Number(b))[0];
    if (next) this.#windowTimer = setTimeout(() => this.update(), Math.min(next - this.serverNow() + 500, 2 ** 31 - 1));
  }

  /** For tests: what this page knows. */
  snapshot() {
    return {
      slots: this.sortedSlots(),
      presence: this.presence.last,
      entries: this.entries.size,
      receipts: this.receipts().length,
    };
  }

  dispose() {
    this.#disposed = true;
    clearTimeout(this.#windowTimer);
    this.presence.dispose();
    this.signin.dispose();
  }
}

/**
 * Runs `update`, which may rebuild or hide part of `root`, and keeps the
 * keyboard focus: on the same control if it is rebuilt, else on `fallback`
 * (never lost to the page's body).
 * @param {HTMLElement} root
 * @param {HTMLElement} fallback
 * @param {() => void} update
 */
function keepingFocus(root, fallback, update) {
  const active = document.activeElement;
  if (!(active instanceof HTMLElement) || !root.contains(active)) {
    update();
    return;
  }
  const action = active.dataset.action;
  const person = active.closest("[data-person]")?.getAttribute("data-person");
  update();
  const usable = (/** @type {Element | null} */ el) =>
    el instanceof HTMLElement && el.isConnected && !el.closest("[hidden]") && !(el instanceof HTMLButtonElement && el.disabled);
  if (usable(active) && document.activeElement === active) return;
  const selector = action
    ? `${person ? `[data-person="${CSS.escape(person)}"] ` : ""}[data-action="${CSS.escape(action)}"]`
    : null;
  const again = selector ? root.querySelector(selector) : null;
  (usable(again) ? /** @type {HTMLElement} */ (again) : fallback).focus({ preventScroll: true });
}

/** A code's message for one context, falling back on the general one. @param {string} context @param {string} code */
function errorText(context, code) {
  const key = `${context}.error.${code}`;
  if (has(key)) return t(key);
  const general = `socket.${code}`;
  return has(general) ? t(general) : t("socket.other", { code });
}

// ---------------------------------------------------------------------------
// Sign-in (émargement)

class SigninPanel {
  /** @type {string | null} the error shown, as a code */
  #error = null;
  /** @type {string | null} the slot the pad was drawn for */
  #padSlot = null;

  /** @param {Attendance} a */
  constructor(a) {
    this.a = a;
    this.panel = new Panel({
      id: "signin-panel",
      label: "signin.control",
      icon: "sign",
      title: () => {
        const slot = a.currentSlot();
        return slot ? t("signin.title", { slot: slotLabel(slot.slot) }) : t("signin.control");
      },
    });
    this.intro = h("p", { class: "panel-text", "data-field": "signin-intro" });
    this.canvas = h("canvas", {
      class: "signature-pad",
      role: "img",
      "aria-label": () => t("signin.pad_label"),
    });
    this.clearButton = h("button", { type: "button", class: "button button-quiet", "data-action": "signin-clear" }, T("signin.clear"));
    this.pad = new SignaturePad(this.canvas, () => this.#syncPad());
    this.clearButton.addEventListener("click", () => this.pad.clear());
    this.padBlock = h("div", { class: "signature" },
      h("div", { class: "signature-head" },
        h("span", { class: "signature-label", id: "signature-label" }, T("signin.pad_title")),
        this.clearButton),
      this.canvas,
      h("p", { class: "panel-hint", id: "signature-hint" }, T("signin.pad_hint")));
    this.confirm = h("button", {
      type: "button",
      class: "button button-primary",
      "data-action": "signin-confirm",
      "aria-describedby": "signature-hint",
      onclick: () => this.#confirm(),
    });
    this.problem = h("p", { class: "panel-problem", "data-field": "signin-error", hidden: true });
    /** Announced to screen readers: the confirmation and the countersignature. */
    this.live = h("p", { class: "signin-done", role: "status", "data-field": "signin-status" });
    this.countersignLine = h("p", { class: "panel-text countersign-line", role: "status", "data-field": "countersign-status", hidden: true });
    this.receiptLine = h("div", { class: "receipts", hidden: true });
    this.form = h("div", { class: "signin-form" }, this.padBlock, this.confirm, this.problem);
    replaceChildren(this.panel.body, this.intro, this.form, this.live, this.countersignLine, this.receiptLine);
    this.#syncPad();
  }

  #syncPad() {
    this.clearButton.disabled = this.pad.empty;
  }

  #confirm() {
    const slot = this.a.promptSlot();
    if (!slot) return;
    this.#error = null;
    const signature = this.pad.signature();
    if (!this.a.signIn(slot, signature)) this.#error = "offline";
    this.render();
  }

  /** @param {string} code */
  failed(code) {
    this.#error = code;
    this.render();
  }

  /** @param {number} at @param {boolean | null} kept whether the receipt is in storage; null without a receipt */
  signed(at, kept) {
    this.#error = null;
    this.#receiptKept = kept;
    this.pad.clear();
    // Open, the panel's live region reads the news out; closed, the page's.
    if (!this.panel.isOpen) this.a.shell.announce(t("signin.done", { time: formatTime(at) }));
  }

  /** @param {number} at */
  countersigned(at) {
    if (!this.panel.isOpen) this.a.shell.announce(t("signin.countersigned_at", { time: formatTime(at) }));
  }

  /** @type {boolean | null} */
  #receiptKept = null;

  render() {
    keepingFocus(this.panel.element, this.panel.heading, () => this.#render());
  }

  #render() {
    const a = this.a;
    const slot = a.currentSlot();
    this.panel.heading.textContent = slot ? t("signin.title", { slot: slotLabel(slot.slot) }) : t("signin.control");
    const open = slot ? a.isOpen(slot) : false;
    const toSign = slot !== null && open && slot.signedAt === null;
    if (slot && this.#padSlot !== slot.slot) {
      this.#padSlot = slot.slot;
      this.pad.clear();
    }

    // What this half-day is about.
    this.intro.hidden = slot !== null && slot.signedAt !== null;
    bindText(this.intro, () => {
      if (!slot) return t("signin.none");
      if (slot.signedAt !== null) return "";
      if (toSign) return t("signin.intro", { time: formatTime(/** @type {number} */ (slot.closesAt)) });
      if (slot.closesAt !== null) return t("signin.closed_at", { time: formatTime(slot.closesAt) });
      return t("signin.not_open");
    });

    const busy = a.pending("sign_in");
    this.form.hidden = !toSign;
    this.pad.setEnabled(!busy);
    this.confirm.disabled = busy || !a.connected;
    replaceChildren(this.confirm, T(busy ? "signin.sending" : "signin.confirm"));
    const error = this.#error;
    this.problem.hidden = !error || !toSign;
    if (error) bindText(this.problem, () => (error === "offline" || error === "no_answer" ? t(`signin.error.${error}`) : errorText("signin", error)));
    if (toSign && !a.connected && !error) {
      this.problem.hidden = false;
      bindText(this.problem, () => t("signin.error.offline"));
    }

    // Done: the time, the countersignature, the receipts.
    const signedAt = slot?.signedAt ?? null;
    // Live regions stay in the page (hidden content is not read out), and
    // their text only changes when the news does.
    bindText(this.live, signedAt !== null ? () => t("signin.done", { time: formatTime(signedAt) }) : () => "");
    this.live.dataset.empty = String(signedAt === null);

    const showCountersign = signedAt !== null && a.you.role === "participant";
    this.countersignLine.hidden = !showCountersign;
    const counterAt = slot?.countersignedAt ?? null;
    this.countersignLine.dataset.state = counterAt !== null ? "countersigned" : "waiting";
    bindText(this.countersignLine, () =>
      counterAt !== null ? t("signin.countersigned_at", { time: formatTime(counterAt) }) : t("signin.countersign_waiting"));

    const receipts = a.receipts().length;
    this.receiptLine.hidden = receipts === 0 && signedAt === null;
    const kept = this.#receiptKept;
    replaceChildren(this.receiptLine,
      bindText(h("p", { class: "panel-hint" }), () =>
        kept === false ? t("receipts.not_stored") : receipts > 0 ? t("receipts.kept", { n: receipts }) : t("receipts.none")),
      receipts > 0 && downloadButton(a, receipts));
  }

  dispose() {
    this.pad.dispose();
  }
}

/** "Télécharger mes reçus (n)". @param {Attendance} a @param {number} count */
function downloadButton(a, count) {
  return h("button", { type: "button", class: "button button-quiet", "data-action": "download-receipts", onclick: () => a.downloadReceipts() },
    icon("download"), T("receipts.download", { n: count }));
}

// ---------------------------------------------------------------------------
// Facilitator console

class PresenceConsole {
  /** @type {{ text: () => string } | null} */
  #error = null;
  /**
   * The strokes of each sign-in shown to be countersigned, by
   * `slot|person|signed at` (the facilitator sees what they
   * countersign). Read from the person's proof, which the console may
   * download anyway; `strokes` null: signed without drawing.
   * @type {Map<string, { state: "loading" | "ready" | "failed", strokes: import("./wire.js").Signature | null }>}
   */
  #drawn = new Map();

  /** @param {Attendance} a */
  constructor(a) {
    this.a = a;
    this.panel = new Panel({ id: "presence-panel", label: "console.control", icon: "people", title: () => t("console.title") });
    this.slotLine = h("p", { class: "panel-text console-slot", "data-field": "console-slot" });
    this.openButton = h("button", { type: "button", class: "button button-quiet", "data-action": "open-signin", onclick: () => this.#open() },
      T("console.open_signin"));
    this.summary = h("p", { class: "panel-hint", "data-field": "console-summary" });
    this.list = h("ul", { class: "roster", "aria-labelledby": "presence-panel-title" });
    this.allButton = h("button", { type: "button", class: "button button-primary", "data-action": "countersign-all", onclick: () => this.#countersignAll() });
    this.problem = h("p", { class: "panel-problem", role: "status", "data-field": "console-error", hidden: true });
    replaceChildren(this.panel.body,
      h("div", { class: "console-head" }, this.slotLine, this.openButton),
      this.summary,
      this.list,
      this.allButton,
      this.problem);
  }

  /** The people to countersign now. @param {string} slot */
  #toCountersign(slot) {
    const status = this.a.status.get(slot);
    if (!status) return [];
    return [...status.signed.keys()].filter((id) =>
      !status.countersigned.has(id) && this.#roleOf(id) === "participant" && !this.a.pending("countersign", id));
  }

  /** @param {string} id @returns {Role} */
  #roleOf(id) {
    return this.a.people.get(id)?.role ?? "participant";
  }

  #open() {
    this.#error = null;
    if (!this.a.openSignin()) this.#error = { text: () => t("signin.error.offline") };
    this.render();
  }

  /** @param {string} slot @param {string} id */
  #countersign(slot, id) {
    this.#error = null;
    if (!this.a.countersign(slot, id)) this.#error = { text: () => t("signin.error.offline") };
    this.render();
  }

  #countersignAll() {
    const slot = this.a.currentSlot();
    if (!slot) return;
    this.#error = null;
    for (const id of this.#toCountersign(slot.slot)) {
      if (!this.a.countersign(slot.slot, id)) {
        this.#error = { text: () => t("signin.error.offline") };
        break;
      }
    }
    this.render();
  }

  /**
   * The drawing of `id`'s sign-in of `slot` (made at `at`), loaded once.
   * @param {string} slot @param {string} id @param {number} at
   */
  #drawing(slot, id, at) {
    const key = `${slot}|${id}|${at}`;
    const known = this.#drawn.get(key);
    if (known) return known;
    /** @type {{ state: "loading" | "ready" | "failed", strokes: import("./wire.js").Signature | null }} */
    const drawing = { state: "loading", strokes: null };
    this.#drawn.set(key, drawing);
    fetchProof(this.a.session.id, id, this.a.token).then((result) => {
      if (!result.ok) {
        drawing.state = "failed";
      } else {
        const signed = (result.value.proof.evidence.entries ?? [])
          .map((e) => parseEntry(e.entry))
          .find((e) => e !== null && e.kind === "signed_in" && e.actor === id && e.payload.slot === slot);
        const strokes = signed?.payload.signature;
        drawing.strokes = Array.isArray(strokes) && strokes.length > 0 ? /** @type {import("./wire.js").Signature} */ (strokes) : null;
        drawing.state = "ready";
      }
      this.render();
    });
    return drawing;
  }

  /** What the facilitator countersigns: the drawing, or why there is none. @param {string} slot @param {string} id @param {number} at @param {string} name */
  #signatureView(slot, id, at, name) {
    const drawing = this.#drawing(slot, id, at);
    if (drawing.state === "ready" && drawing.strokes) {
      const image = signatureImage(drawing.strokes, t("console.signature_of", { name }));
      image.dataset.field = "countersign-signature";
      return image;
    }
    const key = drawing.state === "loading" ? "console.signature_loading" : drawing.state === "failed" ? "console.signature_failed" : "console.signature_none";
    return h("span", { class: "panel-hint", "data-field": "countersign-signature", "data-state": drawing.state }, T(key));
  }

  /** @param {Pending} pending @param {string} code */
  failed(pending, code) {
    const name = pending.participant ? this.a.people.get(pending.participant)?.name ?? "" : "";
    this.#error = {
      text: () => {
        const why = code === "no_answer" ? t("signin.error.no_answer") : errorText(`console.${pending.action}`, code);
        return name ? t("console.error_for", { name, why }) : why;
      },
    };
    this.render();
  }

  render() {
    keepingFocus(this.panel.element, this.panel.heading, () => this.#render());
  }

  #render() {
    const a = this.a;
    const slot = a.currentSlot();
    const open = slot ? a.isOpen(slot) : false;
    bindText(this.slotLine, () => {
      if (!slot) return t("console.no_slot");
      const label = capitalise(slotLabel(slot.slot));
      return open
        ? t("console.slot_open", { slot: label, time: formatTime(/** @type {number} */ (slot.closesAt)) })
        : t("console.slot_closed", { slot: label });
    });
    this.openButton.hidden = open;
    this.openButton.disabled = a.pending("open_signin") || !a.connected;

    const status = slot ? a.status.get(slot.slot) : undefined;
    const signed = new Map(status?.signed ?? []);
    const countersigned = new Set(status?.countersigned ?? []);
    // Others' state comes with `signin_status`; one's own with the welcome.
    const known = slot ? a.statusKnown.has(slot.slot) : false;
    if (slot?.signedAt != null) signed.set(a.you.id, slot.signedAt);
    if (slot?.countersignedAt != null) countersigned.add(a.you.id);
    // Everyone seen on this page, and anyone the server says signed.
    const ids = new Set([...a.people.keys(), ...signed.keys()]);
    const rows = [...ids].map((id) => {
      const person = a.people.get(id);
      return {
        id,
        name: person?.name ?? "",
        role: person?.role ?? "participant",
        online: person?.online ?? false,
        wasOnline: person?.wasOnline ?? false,
      };
    }).sort((x, y) => {
      if (x.id === a.you.id) return -1;
      if (y.id === a.you.id) return 1;
      if (x.role !== y.role) return x.role === "facilitator" ? -1 : 1;
      return x.name.localeCompare(y.name);
    });

    const participants = rows.filter((r) => r.role === "participant");
    const signedCount = participants.filter((r) => signed.has(r.id)).length;
    const counterCount = participants.filter((r) => countersigned.has(r.id)).length;
    bindText(this.summary, () => known
      ? t("console.summary", { signed: signedCount, total: participants.length, countersigned: counterCount })
      : t("console.summary_unknown"));

    replaceChildren(this.list, ...rows.map((row) => {
      const at = signed.get(row.id);
      const isSigned = at !== undefined;
      const isCounter = countersigned.has(row.id);
      const busy = a.pending("countersign", row.id);
      const you = row.id === a.you.id;
      const name = row.name || t("console.unknown_person");
      /** @type {HTMLElement | false} */
      let action = false;
      if (row.role === "participant" && isSigned && !isCounter && slot) {
        const s = slot.slot;
        action = h("button", {
          type: "button",
          class: "button button-quiet button-small",
          "data-action": "countersign",
          "aria-label": () => t("console.countersign_person", { name }),
          disabled: busy || !a.connected,
          onclick: () => this.#countersign(s, row.id),
        }, T(busy ? "console.countersigning" : "console.countersign"));
      }
      const seen = a.people.has(row.id);
      const unknown = !known && !you && !isSigned;
      // Here now; seen here and gone (perhaps coming back); never seen on this page.
      const presence = row.online || you ? "online" : row.wasOnline ? "offline" : "absent";
      // The facilitator's own line is signed too: the same sign-in as anyone's.
      const signOwn = you && !isSigned && open && slot && slot.signedAt === null && h("button", {
        type: "button",
        class: "button button-quiet button-small",
        "data-action": "sign-own-line",
        onclick: () => a.signin.panel.open(true),
      }, T("console.sign_own"));
      const proof = h("a", {
        class: "button button-quiet button-small",
        href: () => a.proofPdfUrl(row.id),
        download: true,
        "data-action": "download-proof",
        "aria-label": () => t("console.proof_person", { name }),
      }, T("console.proof"));
      return h("li", {
        class: "roster-row",
        "data-person": row.id,
        "data-presence": presence,
        "data-signed": String(isSigned),
        "data-countersigned": String(isCounter),
      },
        h("span", { class: "presence-dot", "data-online": String(presence === "online"), "aria-hidden": "true" }),
        h("div", { class: "roster-who" },
          h("span", { class: "roster-name" }, you ? t("call.you", { name }) : name),
          h("span", { class: "roster-meta" },
            seen && T(/** @type {MessageKey} */ (`role.${row.role}`)),
            seen && " · ",
            T(presence === "online" ? "console.online" : presence === "offline" ? "console.offline" : "console.absent")),
          h("span", { class: "sign-state", "data-state": isCounter ? "countersigned" : isSigned ? "signed" : unknown ? "unknown" : "waiting" },
            isCounter
              ? T("console.countersigned", { time: formatTime(/** @type {number} */ (at)) })
              : isSigned ? T("console.signed_at", { time: formatTime(/** @type {number} */ (at)) })
              : T(unknown ? "console.unknown_state" : "console.waiting")),
          isSigned && slot && this.#signatureView(slot.slot, row.id, /** @type {number} */ (at), name)),
        h("div", { class: "roster-actions" }, action, signOwn, proof, !you && a.personAction(row.id, name)));
    }));

    const remaining = slot ? this.#toCountersign(slot.slot).length : 0;
    this.allButton.hidden = remaining === 0;
    this.allButton.disabled = !a.connected;
    replaceChildren(this.allButton, T("console.countersign_all", { n: remaining }));

    const error = this.#error;
    this.problem.hidden = !error;
    if (error) bindText(this.problem, error.text);
  }
}

// ---------------------------------------------------------------------------
// Mes traces

class TracesPanel {
  /** @param {Attendance} a */
  constructor(a) {
    this.a = a;
    this.panel = new Panel({ id: "traces-panel", label: "traces.control", icon: "traces", title: () => t("traces.title"), secondary: true });
    // Focusable, so that the list scrolls with the keyboard too.
    this.list = h("ol", { class: "traces", tabindex: "0", "aria-labelledby": "traces-panel-title" });
    this.empty = h("p", { class: "panel-hint", "data-field": "traces-empty" });
    this.receiptLine = h("div", { class: "receipts" });
    replaceChildren(this.panel.body,
      h("p", { class: "panel-hint traces-intro" }, T("traces.intro"), " ", h("strong", {}, T("traces.nothing_else"))),
      this.empty,
      this.list,
      this.receiptLine);
  }

  render() {
    if (this.panel.isOpen) keepingFocus(this.panel.element, this.panel.heading, () => this.#render());
  }

  #render() {
    const a = this.a;
    const entries = [...a.entries.values()].sort((x, y) => x.seq - y.seq);
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 24;
    const described = describeEntries(entries, {
      me: a.you.id,
      nameOf: (id) => a.people.get(id)?.name ?? t("console.unknown_person"),
    });
    const days = new Set(entries.map((e) => dayKey(e.ts)));
    /** @type {HTMLElement[]} */
    const items = [];
    let day = "";
    for (const { entry, text } of described) {
      if (days.size > 1 && dayKey(entry.ts) !== day) {
        day = dayKey(entry.ts);
        items.push(h("li", { class: "traces-day" }, capitalise(formatDay(entry.ts))));
      }
      items.push(h("li", { class: "trace", "data-kind": entry.kind, "data-seq": String(entry.seq) },
        h("time", { datetime: new Date(entry.ts).toISOString() }, formatTime(entry.ts, true)),
        " — ",
        h("span", { class: "trace-text" }, text)));
    }
    replaceChildren(this.list, ...items);
    this.list.hidden = items.length === 0;
    this.empty.hidden = items.length > 0;
    bindText(this.empty, () => (a.evidenceLoaded ? t("traces.empty") : a.connected ? t("traces.loading") : t("signin.error.offline")));
    if (stick) this.list.scrollTop = this.list.scrollHeight;

    const receipts = a.receipts().length;
    replaceChildren(this.receiptLine,
      bindText(h("p", { class: "panel-hint" }), () => (receipts > 0 ? t("receipts.kept", { n: receipts }) : t("receipts.none"))),
      receipts > 0 && downloadButton(a, receipts));
  }
}
