// @ts-check
//! Consents: "Vos accords" in the lobby and "Mes accords" in the call.
//!
//! Free consent (docs/protocol.md): never presumed, never pre-ticked, as easy
//! to refuse as to give, and joining never depends on it. Each decision is
//! sent with the SHA-256 of the exact wording shown (in the current
//! language); it counts when `consent_recorded` arrives, not before.
//!
//! The server's `consents` is the truth: `true` granted, `false` refused or
//! withdrawn ("Je refuse" selected), `null` never decided (nothing selected).
//! Withdrawing the recording agreement also stops this browser sending to
//! the recorder at once (`onDecision`), before the server's answer.

import { lang, onLanguageChange, t } from "./i18n.js";
import { T, bindText, h } from "./dom.js";
import { Panel } from "./panel.js";
import { formatTime } from "./evidence.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./wire.js").ConsentKind} ConsentKind */
/** @typedef {import("./wire.js").ConsentText} ConsentText */
/** @typedef {import("./wire.js").Consents} ConsentsState */
/** @typedef {import("./wire.js").Lobby} Lobby */
/** @typedef {import("./wire.js").Welcome} Welcome */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./wire.js").ClientMessage} ClientMessage */
/** @typedef {import("./context.js").CallContext} CallContext */

/** A choice made in the lobby, with the wording it was made for. */
/** @typedef {{ granted: boolean, sha256: string }} Choice */

/** The consents a session asks, in the server's order. @param {ConsentText[]} texts @returns {ConsentKind[]} */
export function consentKinds(texts) {
  return [...new Set(texts.map((x) => x.consent))];
}

/** The wording of `consent` in the current language (French if missing). @param {ConsentText[]} texts @param {ConsentKind} consent */
export function wording(texts, consent) {
  const mine = texts.filter((x) => x.consent === consent);
  return mine.find((x) => x.lang === lang()) ?? mine.find((x) => x.lang === "fr") ?? mine[0];
}

/** No decision known (an older server sends no `consents`). @type {ConsentsState} */
const UNDECIDED = { recording: null, sponsor_share: null };

/**
 * The current decision, as the server says: null when never decided.
 * @param {ConsentsState | undefined} server
 * @param {ConsentKind} consent
 * @returns {boolean | null}
 */
export function currentDecision(server, consent) {
  const value = (server ?? UNDECIDED)[consent];
  return typeof value === "boolean" ? value : null;
}

// ---------------------------------------------------------------------------
// The choices (lobby and call)

/** The wordings with two choices of equal weight each, none pre-selected unless decided. */
export class ConsentChoices {
  /** @type {Map<ConsentKind, { granted: HTMLInputElement, refused: HTMLInputElement, status: HTMLElement }>} */
  items = new Map();

  /**
   * @param {object} o
   * @param {ConsentText[]} o.texts
   * @param {string} o.idPrefix unique among the page's choices
   * @param {(consent: ConsentKind, granted: boolean) => void} o.onChoose
   */
  constructor({ texts, idPrefix, onChoose }) {
    this.element = h("div", { class: "consent-list" });
    for (const consent of consentKinds(texts)) {
      const id = `${idPrefix}-${consent}`;
      const radio = (/** @type {"granted" | "refused"} */ value) => {
        const input = h("input", { type: "radio", name: id, id: `${id}-${value}`, value, "data-choice": value });
        input.addEventListener("change", () => {
          if (input.checked) onChoose(consent, value === "granted");
        });
        return input;
      };
      const granted = radio("granted");
      const refused = radio("refused");
      const status = h("p", { class: "consent-status", role: "status", "data-field": "consent-status", hidden: true });
      this.element.append(h("fieldset", { class: "consent", "data-consent": consent, "aria-describedby": `${id}-text` },
        h("legend", { class: "consent-legend" }, T(/** @type {MessageKey} */ (`consents.name.${consent}`))),
        bindText(h("p", { class: "consent-text", id: `${id}-text` }), () => wording(texts, consent)?.text ?? ""),
        h("div", { class: "consent-options" },
          h("label", { class: "consent-option", for: granted.id }, granted, h("span", {}, T("consents.accept"))),
          h("label", { class: "consent-option", for: refused.id }, refused, h("span", {}, T("consents.refuse")))),
        status));
      this.items.set(consent, { granted, refused, status });
    }
  }

  /** Shows a decision (null: none selected). @param {ConsentKind} consent @param {boolean | null} granted */
  select(consent, granted) {
    const item = this.items.get(consent);
    if (!item) return;
    item.granted.checked = granted === true;
    item.refused.checked = granted === false;
  }

  /** @param {ConsentKind} consent @param {(() => string) | null} text */
  setStatus(consent, text) {
    const item = this.items.get(consent);
    if (!item) return;
    item.status.hidden = text === null;
    if (text) bindText(item.status, text);
    else item.status.textContent = "";
  }
}

/**
 * The lobby's "Vos accords" card. `choices` holds what was picked (only
 * what differs from the current decision is sent after joining).
 * @param {Lobby} lobby
 * @returns {{ element: HTMLElement, choices: Map<ConsentKind, Choice> }}
 */
export function lobbyConsents(lobby) {
  /** @type {Map<ConsentKind, Choice>} */
  const choices = new Map();
  const texts = lobby.consent_texts ?? [];
  const list = new ConsentChoices({
    texts,
    idPrefix: "lobby-consent",
    onChoose: (consent, granted) => choices.set(consent, { granted, sha256: wording(texts, consent)?.sha256 ?? "" }),
  });
  for (const consent of list.items.keys()) list.select(consent, currentDecision(lobby.consents, consent));
  const element = h("section", { class: "card consents-card", "data-field": "lobby-consents", "aria-labelledby": "consents-title" },
    h("h2", { id: "consents-title" }, T("consents.lobby_title")),
    h("p", { class: "consents-free" }, T("consents.free")),
    list.element);
  return { element, choices };
}

// ---------------------------------------------------------------------------
// "Mes accords" in the call

export class Consents {
  /** @type {Map<ConsentKind, { granted: boolean | null, at: number | null, pending: boolean[] }>} */
  state = new Map();
  #welcomed = false;
  #disposed = false;

  /**
   * @param {CallContext} ctx
   * @param {object} o
   * @param {Map<ConsentKind, Choice>} o.fromLobby choices made in the lobby, sent after the first welcome
   * @param {(consent: ConsentKind, granted: boolean) => void} [o.onDecision] each decision sent (not yet recorded)
   */
  constructor(ctx, { fromLobby, onDecision }) {
    const { lobby, send, shell, panels } = ctx;
    this.texts = lobby.consent_texts ?? [];
    this.fromLobby = fromLobby;
    this.send = send;
    this.onDecision = onDecision ?? (() => {});
    this.shell = shell;
    this.panel = panels.mount(new Panel({ id: "consents-panel", label: "consents.control", icon: "consent", title: () => t("consents.title"), secondary: true }));
    this.choices = new ConsentChoices({ texts: this.texts, idPrefix: "call-consent", onChoose: (c, g) => this.choose(c, g) });
    this.problem = h("p", { class: "panel-problem", role: "status", "data-field": "consents-error", hidden: true });
    this.panel.body.append(
      h("p", { class: "panel-hint" }, T("consents.call_intro")),
      this.choices.element,
      this.problem);
    for (const consent of this.choices.items.keys()) {
      this.state.set(consent, { granted: currentDecision(lobby.consents, consent), at: null, pending: [] });
    }
    onLanguageChange(() => {
      if (!this.#disposed) this.render();
    });
    this.render();
  }

  dispose() {
    this.#disposed = true;
  }

  /** @param {Welcome} message */
  welcome(message) {
    // The welcome is the truth: what was in flight is either in it or lost.
    for (const [consent, s] of this.state) {
      const granted = currentDecision(message.consents, consent);
      // The time is known only for a decision recorded while on this page.
      if (granted !== s.granted) s.at = null;
      s.granted = granted;
      s.pending = [];
    }
    if (!this.#welcomed) {
      this.#welcomed = true;
      for (const [consent, choice] of this.fromLobby) {
        const s = this.state.get(consent);
        if (s && s.granted !== choice.granted) this.#send(consent, choice.granted, choice.sha256);
      }
    }
    this.render();
  }

  /** A choice in the panel: sent at once. @param {ConsentKind} consent @param {boolean} granted */
  choose(consent, granted) {
    const s = this.state.get(consent);
    if (!s) return;
    const shown = s.pending.length > 0 ? s.pending[s.pending.length - 1] : s.granted;
    if (shown === granted) return;
    if (!this.#send(consent, granted, wording(this.texts, consent)?.sha256 ?? "")) {
      this.#problem("consents.error.offline");
    }
    this.render();
  }

  /** @param {ConsentKind} consent @param {boolean} granted @param {string} sha256 */
  #send(consent, granted, sha256) {
    const s = this.state.get(consent);
    if (!s || !this.send({ type: "consent", consent, granted, text_sha256: sha256 })) return false;
    s.pending.push(granted);
    this.#problem(null);
    this.onDecision(consent, granted);
    return true;
  }

  /** @param {MessageKey | null} key */
  #problem(key) {
    this.problem.hidden = key === null;
    if (key) bindText(this.problem, () => t(key));
  }

  /** Whether a consent is waiting for its answer. */
  get waiting() {
    return [...this.state.values()].some((s) => s.pending.length > 0);
  }

  /**
   * `consent_recorded`, and the errors that answer a pending decision.
   * @param {ServerMessage} message
   */
  handle(message) {
    if (message.type === "consent_recorded") {
      const s = this.state.get(message.consent);
      if (!s) return true;
      s.granted = message.granted;
      s.at = message.at;
      s.pending.shift();
      this.render();
      const text = this.#recordedText(message.granted, message.at);
      if (!this.panel.isOpen) this.shell.announce(text);
      return true;
    }
    if (message.type === "error" && (message.code === "invalid_input" || message.code === "malformed_message") && this.waiting) {
      for (const s of this.state.values()) {
        if (s.pending.length > 0) {
          s.pending.shift();
          break;
        }
      }
      this.#problem("consents.error.refused");
      this.render();
      return true;
    }
    return false;
  }

  /** @param {boolean} granted @param {number} at */
  #recordedText(granted, at) {
    return t(granted ? "consents.granted_at" : "consents.refused_at", { time: formatTime(at) });
  }

  render() {
    for (const [consent, s] of this.state) {
      const pending = s.pending.length > 0;
      this.choices.select(consent, pending ? s.pending[s.pending.length - 1] : s.granted);
      const at = s.at;
      const granted = s.granted;
      this.choices.setStatus(consent,
        pending ? () => t("consents.recording")
          : granted !== null && at !== null ? () => this.#recordedText(granted, at)
          : null);
    }
  }

  /** For tests. */
  snapshot() {
    return Object.fromEntries([...this.state].map(([c, s]) => [c, { granted: s.granted, at: s.at, pending: s.pending.length }]));
  }
}
