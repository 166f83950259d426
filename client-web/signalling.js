// @ts-check
//! The session WebSocket: connect, keep alive, notice when the server went
//! silent, and come back after a loss, never against the server's will.
//!
//! - Heartbeat at the welcome's `heartbeat_interval_ms`.
//! - Dead server: nothing heard for three intervals → drop the socket and reconnect.
//! - Reconnect with exponential backoff and jitter; never after 4001 (replaced
//!   by another tab), 4005 (revoked), 4007 (removed by a facilitator) or 4008
//!   (the session ended): only the person can resume after 4001.
//! - A socket that never opened may mean the link no longer works (HTTP
//!   refusal before the upgrade is invisible to scripts): `checkLink` asks the
//!   REST side why, and a definitive answer stops the retries.

/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./wire.js").ClientMessage} ClientMessage */
/** @typedef {import("./wire.js").ErrorBody} ErrorBody */
/** @typedef {import("./wire.js").LeaveReason} LeaveReason */

/**
 * - `connecting`: first attempt; `connected`: welcome received;
 * - `reconnecting` / `offline`: lost, retrying (offline when the browser says
 *   so or after several failures);
 * - `replaced`, `revoked`, `ended` (the link no longer works), `left`,
 *   `removed` (a facilitator removed this person), `closed` (a facilitator
 *   ended the session): final until the person acts.
 * @typedef {"connecting" | "connected" | "reconnecting" | "offline" | "replaced" | "revoked" | "ended" | "left" | "removed" | "closed"} ConnectionStatus
 */

/**
 * @typedef {object} StatusDetail
 * @property {number} [closeCode] the close code that caused the change
 * @property {LeaveReason} [reason] the reason the server gave in `closing`
 * @property {ErrorBody} [error] why the link no longer works (status `ended`)
 * @property {number} [retryInMs] delay before the next attempt
 */

/** Close codes of docs/protocol.md. */
export const CLOSE = Object.freeze({
  NORMAL: 1000,
  REPLACED: 4001,
  FLOOD: 4002,
  SLOW_CONSUMER: 4003,
  TIMEOUT: 4004,
  REVOKED: 4005,
  SHUTDOWN: 4006,
  REMOVED: 4007,
  ENDED: 4008,
});

/** Until a welcome says otherwise (the server's default). */
const DEFAULT_INTERVAL_MS = 10_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;
/** Failed attempts in a row after which the status reads `offline`. */
const OFFLINE_AFTER = 4;

export class SignallingClient {
  /** @type {WebSocket | null} */
  #ws = null;
  /** Whether the current socket reached `open`. */
  #opened = false;
  /** @type {ConnectionStatus} */
  #status = "connecting";
  /** Failed attempts since the last welcome. */
  #attempt = 0;
  #intervalMs = DEFAULT_INTERVAL_MS;
  #lastHeard = 0;
  /** @type {LeaveReason | null} the reason of the last `closing` message */
  #closingReason = null;
  /** No more automatic reconnection (left, stopped, replaced, revoked). */
  #halted = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #heartbeatTimer;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #watchdogTimer;

  /**
   * @param {object} options
   * @param {string} options.url the full `ws(s)://…/ws/{sid}?token=…` address
   * @param {(message: ServerMessage) => void} options.onMessage every server message, welcome included
   * @param {(status: ConnectionStatus, detail: StatusDetail) => void} options.onStatus
   * @param {() => Promise<ErrorBody | null>} [options.checkLink] after a failed attempt: a definitive reason the link no longer works, or null
   */
  constructor({ url, onMessage, onStatus, checkLink }) {
    this.url = url;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.checkLink = checkLink;
    window.addEventListener("online", this.#onOnline);
    window.addEventListener("offline", this.#onOffline);
  }

  /** The current status. */
  get status() {
    return this.#status;
  }

  start() {
    this.#halted = false;
    this.#status = "connecting";
    this.#attempt = 0;
    this.#connect();
  }

  /** Reconnects by the person's choice (after being replaced by another tab). */
  resume() {
    clearTimeout(this.#retryTimer);
    this.#dropSocket();
    this.start();
  }

  /**
   * Sends a message if the socket is open. Messages are not queued: whatever
   * is lost while offline is renegotiated after the next welcome.
   * @param {ClientMessage} message
   */
  send(message) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Leaves on purpose: the server records the departure, answers with a
   * `receipt` (a signed tree head covering it), closes the socket and tells
   * the others. Resolves with the receipt, or null when none came within
   * `waitMs` (the socket is closed by then either way).
   * @param {number} [waitMs]
   * @returns {Promise<string | null>}
   */
  leave(waitMs = 2000) {
    const ws = this.#ws;
    this.#halt("left", {});
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      ws?.close(CLOSE.NORMAL);
      return Promise.resolve(null);
    }
    return new Promise((resolve) => {
      /** @param {string | null} receipt */
      const done = (receipt) => {
        clearTimeout(timer);
        ws.onmessage = ws.onclose = null;
        // The server closes right after the receipt; make sure it is closed.
        setTimeout(() => ws.close(CLOSE.NORMAL), 1000);
        resolve(receipt);
      };
      // The server closes with 1000 after the receipt; close ourselves if it does not.
      const timer = setTimeout(() => done(null), waitMs);
      ws.onmessage = (event) => {
        try {
          const message = JSON.parse(String(event.data));
          if (message?.type === "receipt" && typeof message.tree_head === "string") done(message.tree_head);
        } catch {
          // Not JSON: not a receipt.
        }
      };
      ws.onclose = () => done(null);
      ws.send(JSON.stringify({ type: "leave" }));
    });
  }

  /** Stops everything without telling the server (page teardown). */
  stop() {
    const ws = this.#ws;
    this.#halted = true;
    clearTimeout(this.#retryTimer);
    this.#dropSocket();
    ws?.close(CLOSE.NORMAL);
    window.removeEventListener("online", this.#onOnline);
    window.removeEventListener("offline", this.#onOffline);
  }

  #connect() {
    clearTimeout(this.#retryTimer);
    if (this.#halted) return;
    const first = this.#status === "connecting";
    this.#setStatus(first ? "connecting" : this.#lostStatus(), {});
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      // Only a malformed URL throws; there is no point in retrying.
      console.error("cadre: cannot open the WebSocket", err);
      this.#halt("ended", { error: { code: "internal", message: String(err) } });
      return;
    }
    this.#ws = ws;
    this.#opened = false;
    this.#closingReason = null;
    this.#lastHeard = Date.now();
    this.#startWatchdog();

    ws.onopen = () => {
      if (ws !== this.#ws) return;
      this.#opened = true;
      this.#lastHeard = Date.now();
    };
    ws.onmessage = (event) => {
      if (ws !== this.#ws) return;
      this.#lastHeard = Date.now();
      /** @type {ServerMessage} */
      let message;
      try {
        message = JSON.parse(String(event.data));
      } catch {
        console.warn("cadre: a server frame is not JSON", event.data);
        return;
      }
      if (message.type === "welcome") {
        this.#attempt = 0;
        this.#intervalMs = message.heartbeat_interval_ms > 0 ? message.heartbeat_interval_ms : DEFAULT_INTERVAL_MS;
        this.#startHeartbeat();
        this.#startWatchdog();
        this.#setStatus("connected", {});
      } else if (message.type === "closing") {
        this.#closingReason = message.reason;
      }
      this.onMessage(message);
    };
    ws.onclose = (event) => {
      if (ws !== this.#ws) return;
      this.#onClosed(event.code);
    };
  }

  /** @param {number} code */
  async #onClosed(code) {
    const opened = this.#opened;
    const reason = this.#closingReason ?? undefined;
    this.#dropSocket();
    if (this.#halted) return;
    if (code === CLOSE.REPLACED || reason === "replaced") {
      this.#halt("replaced", { closeCode: code, reason: "replaced" });
      return;
    }
    if (code === CLOSE.REVOKED || reason === "revoked") {
      this.#halt("revoked", { closeCode: code, reason: "revoked" });
      return;
    }
    if (code === CLOSE.REMOVED || reason === "removed") {
      this.#halt("removed", { closeCode: code, reason: "removed" });
      return;
    }
    if (code === CLOSE.ENDED || reason === "ended") {
      this.#halt("closed", { closeCode: code, reason: "ended" });
      return;
    }
    this.#attempt += 1;
    // The upgrade was refused (or never answered): ask why before retrying.
    if (!opened && this.checkLink) {
      this.#setStatus(this.#lostStatus(), { closeCode: code });
      const error = await this.checkLink().catch(() => null);
      if (this.#halted || this.#ws) return;
      if (error) {
        this.#halt(error.code === "token_revoked" ? "revoked" : "ended", { closeCode: code, error });
        return;
      }
    }
    const delay = code === CLOSE.SHUTDOWN && this.#attempt === 1 ? 1000 + Math.random() * 1000 : this.#backoff();
    /** @type {StatusDetail} */
    const detail = { closeCode: code, retryInMs: Math.round(delay) };
    if (reason) detail.reason = reason;
    this.#setStatus(this.#lostStatus(), detail);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  /** Exponential backoff with "equal jitter": half fixed, half random. */
  #backoff() {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.#attempt - 1, 16));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  /** @returns {ConnectionStatus} */
  #lostStatus() {
    return navigator.onLine === false || this.#attempt >= OFFLINE_AFTER ? "offline" : "reconnecting";
  }

  #startHeartbeat() {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => {
      this.send({ type: "heartbeat", client_time: Date.now() });
    }, this.#intervalMs);
  }

  #startWatchdog() {
    clearInterval(this.#watchdogTimer);
    const period = Math.max(250, Math.min(1000, this.#intervalMs / 4));
    this.#watchdogTimer = setInterval(() => {
      if (!this.#ws) return;
      if (Date.now() - this.#lastHeard > 3 * this.#intervalMs) {
        // The server (or the path to it) went silent: a TCP connection can
        // stay "open" for minutes after that, so do not wait for its close.
        console.warn("cadre: nothing heard for three heartbeat intervals; reconnecting");
        const ws = this.#ws;
        this.#onClosed(CLOSE.TIMEOUT);
        ws.close();
      }
    }, period);
  }

  /** Forgets the current socket; its late events are ignored. */
  #dropSocket() {
    clearInterval(this.#heartbeatTimer);
    clearInterval(this.#watchdogTimer);
    const ws = this.#ws;
    this.#ws = null;
    if (ws) ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  }

  /**
   * @param {ConnectionStatus} status
   * @param {StatusDetail} detail
   */
  #halt(status, detail) {
    this.#halted = true;
    clearTimeout(this.#retryTimer);
    this.#dropSocket();
    this.#setStatus(status, detail);
  }

  /**
   * @param {ConnectionStatus} status
   * @param {StatusDetail} detail
   */
  #setStatus(status, detail) {
    this.#status = status;
    this.onStatus(status, detail);
  }

  #onOnline = () => {
    // Back online while waiting: try now rather than at the end of the backoff.
    if (!this.#halted && !this.#ws) {
      this.#attempt = Math.min(this.#attempt, 1);
      this.#connect();
    }
  };

  #onOffline = () => {
    if (!this.#halted && !this.#ws) this.#setStatus("offline", {});
  };
}
