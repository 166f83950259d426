// @ts-check
//! Presence evidence: whether the session tab is visible and the window has
//! focus. Nothing else is observed: no activity tracking, no mouse or
//! keyboard watching, no "are you there" prompts (DESIGN.md, principle 2).
//!
//! - Sent once after each welcome (the server records the state of every
//!   new connection), then only when it changes.
//! - Changes are debounced: a state must hold for about a second before it is
//!   sent, so alt-tabbing back and forth is not news.

/** @typedef {import("./wire.js").ClientMessage} ClientMessage */

const DEBOUNCE_MS = 1000;

/** @typedef {{ visible: boolean, focused: boolean }} PresenceState */

/** What the page says now. @returns {PresenceState} */
export function currentPresence() {
  return { visible: document.visibilityState === "visible", focused: document.hasFocus() };
}

export class PresenceReporter {
  /** @type {PresenceState | null} what the server was last told on this connection */
  #sent = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer;
  #disposed = false;

  /** @param {(message: ClientMessage) => boolean} send false when the socket is not open */
  constructor(send) {
    this.send = send;
    document.addEventListener("visibilitychange", this.#onChange);
    window.addEventListener("focus", this.#onChange);
    window.addEventListener("blur", this.#onChange);
  }

  /** A new connection was welcomed: tell it the state now. */
  welcomed() {
    clearTimeout(this.#timer);
    this.#sent = null;
    this.#flush();
  }

  /** What was last sent (for tests and the console). */
  get last() {
    return this.#sent;
  }

  dispose() {
    this.#disposed = true;
    clearTimeout(this.#timer);
    document.removeEventListener("visibilitychange", this.#onChange);
    window.removeEventListener("focus", this.#onChange);
    window.removeEventListener("blur", this.#onChange);
  }

  #onChange = () => {
    if (this.#disposed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#flush(), DEBOUNCE_MS);
  };

  #flush() {
    if (this.#disposed) return;
    const now = currentPresence();
    const sent = this.#sent;
    if (sent && sent.visible === now.visible && sent.focused === now.focused) return;
    // Unsent (socket down): the next welcome sends the state of that moment.
    if (this.send({ type: "presence", ...now, client_time: Date.now() })) this.#sent = now;
  }
}
