// @ts-check
//! Screen sharing: "Partager l'écran" in the bar, the shared screen large on
//! every other page with the people beside it, and "Vous partagez votre
//! écran — Arrêter" on the sharer's own page. The server decides who shares
//! (`share`, answered by `screen` to everyone, or an error): facilitators
//! always may, a participant once a facilitator allowed them; a second
//! sharer replaces the first only when a facilitator allowed taking over
//! (a facilitator always may). The capture is asked for first (the browser
//! asks what to share), then the server; refused, the capture stops.
//!
//! Every connection carries a screen on transceivers of its own, there from
//! the start (`peers.js`, `forwarding.js`, `recorder.js`): starting and
//! stopping is a track swap. A page shows only the screen of the person the
//! server names, and a forwarded session forwards only theirs.

import { has, t } from "./i18n.js";
import { T, bindText, h, icon } from "./dom.js";

/** @typedef {import("./wire.js").ScreenShare} ScreenShare */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./wire.js").Welcome} Welcome */
/** @typedef {import("./context.js").CallContext} CallContext */
/** @typedef {import("./i18n.js").MessageKey} MessageKey */

export class ScreenSharing {
  /** @type {ScreenShare} */
  share = { allowed: [], audio: false, takeover: false };
  /** Others' shared screens as they arrived, by person. @type {Map<string, MediaStream>} */
  streams = new Map();
  /** A share asked of the server, not yet answered. */
  #asking = false;
  /** Redraws the presence console's rows (their buttons follow the permissions). */
  #refreshPeople = () => {};

  /**
   * @param {CallContext} ctx
   * @param {{ refreshPeople?: () => void }} [hooks]
   */
  constructor(ctx, { refreshPeople } = {}) {
    this.ctx = ctx;
    if (refreshPeople) this.#refreshPeople = refreshPeople;
    this.button = h("button", {
      type: "button",
      class: "control control-toggle",
      "data-action": "share-screen",
      "aria-pressed": "false",
      hidden: true,
      onclick: () => void this.toggle(),
    }, icon("screen"), bindText(h("span", { class: "control-label" }), () => t(this.sharing ? "screen.stop" : "screen.share")));
    ctx.view.addControl(this.button);
    ctx.view.setSharing(null);
    // The browser's own "stop sharing": the server is told.
    ctx.media.screen.onEnded(() => {
      if (this.share.sharer === ctx.you.id) ctx.send({ type: "share", sharing: false });
      this.#sync();
    });
    this.#sync();
  }

  /** This page shares now (as the server says). */
  get sharing() {
    return this.share.sharer === this.ctx.you.id;
  }

  /** This person may start sharing. */
  get mayShare() {
    return this.ctx.you.role === "facilitator" || (this.share.allowed ?? []).includes(this.ctx.you.id);
  }

  /** Starts sharing (the browser asks what), or stops. */
  async toggle() {
    const { ctx } = this;
    if (this.sharing || ctx.media.screen.active) {
      ctx.media.screen.stop();
      ctx.send({ type: "share", sharing: false });
      this.#sync();
      return;
    }
    const other = this.share.sharer;
    if (other && ctx.you.role !== "facilitator" && !this.share.takeover) {
      this.#say("screen.error.conflict");
      return;
    }
    const started = await ctx.media.screen.start();
    if (started !== "ok") {
      this.#say(/** @type {MessageKey} */ (`screen.capture.${started}`));
      return;
    }
    this.#asking = true;
    if (!ctx.send({ type: "share", sharing: true, audio: ctx.media.screen.track("audio") !== null })) {
      this.#asking = false;
      ctx.media.screen.stop();
      this.#say("screen.error.offline");
    }
    this.#sync();
  }

  /** @param {Welcome} welcome */
  welcome(welcome) {
    this.#apply(welcome.screen ?? { allowed: [], audio: false, takeover: false });
    // A new connection: a share of the previous tab ended with it.
    if (!this.sharing && this.ctx.media.screen.active) this.ctx.media.screen.stop();
  }

  /**
   * Someone's shared screen arrived (it shows while the server says they share).
   * @param {string} id @param {MediaStream} stream
   */
  remote(id, stream) {
    this.streams.set(id, stream);
    this.#show();
  }

  /** Someone left. @param {string} id */
  forget(id) {
    this.streams.delete(id);
    this.#show();
  }

  /**
   * Takes what is screen sharing's; true when the message was.
   * @param {ServerMessage} message
   */
  handle(message) {
    const { ctx } = this;
    if (message.type === "screen") {
      const before = this.share.sharer;
      const mayBefore = this.mayShare;
      this.#apply(message.screen);
      const now = this.share.sharer;
      const by = message.by === "server" ? "" : ctx.nameOf(message.by);
      if (before === ctx.you.id && now !== ctx.you.id) {
        // Our share ended without us: replaced, stopped by a facilitator,
        // or the permission withdrawn.
        ctx.media.screen.stop();
        if (message.by !== ctx.you.id) {
          const key = message.change === "replaced" ? "screen.replaced_by" : "screen.stopped_by";
          this.#tell(() => t(key, { name: by || ctx.nameOf(now ?? "") }));
        }
      } else if (now && now !== before && now !== ctx.you.id) {
        const name = ctx.nameOf(now);
        this.#tell(() => t("screen.started", { name }));
      }
      // Told only when one's own permission changed.
      const allowed = this.mayShare;
      if (allowed !== mayBefore && message.by !== ctx.you.id) {
        this.#tell(() => t(allowed ? "screen.allowed_by" : "screen.disallowed_by", { name: by }));
      }
      return true;
    }
    if (message.type === "error" && (message.about === "share" || message.about === "share_policy")) {
      if (message.about === "share") {
        this.#asking = false;
        if (!this.sharing) ctx.media.screen.stop();
      }
      const key = `screen.error.${message.code}`;
      this.#say(has(key) ? /** @type {MessageKey} */ (key) : "screen.error.other");
      this.#sync();
      return true;
    }
    return false;
  }

  /**
   * Facilitators: a participant's row in the presence console: allow or
   * stop allowing them to share, and stop their share.
   * @param {string} id @param {string} name @param {string} role
   * @returns {HTMLElement | null}
   */
  personButtons(id, name, role) {
    if (this.ctx.you.role !== "facilitator" || id === this.ctx.you.id) return null;
    const sharing = this.share.sharer === id;
    const allowed = (this.share.allowed ?? []).includes(id);
    return h("span", { class: "roster-mic" },
      sharing && h("button", {
        type: "button",
        class: "button button-quiet button-small",
        "data-action": "stop-share-of",
        "aria-label": () => `${t("screen.stop_theirs")} — ${name}`,
        onclick: () => this.ctx.send({ type: "share", sharing: false, participant: id }),
      }, T("screen.stop_theirs")),
      role !== "facilitator" && h("button", {
        type: "button",
        class: "button button-quiet button-small",
        "data-action": "allow-share",
        "aria-pressed": allowed ? "true" : "false",
        "aria-label": () => `${t(allowed ? "screen.disallow" : "screen.allow")} — ${name}`,
        onclick: () => this.ctx.send({ type: "share_policy", participant: id, allowed: !allowed }),
      }, T(allowed ? "screen.disallow" : "screen.allow")));
  }

  /** Facilitators: whether a second sharer takes over, in the presence console's head. */
  consoleOption() {
    if (this.ctx.you.role !== "facilitator") return null;
    this.takeoverBox = /** @type {HTMLInputElement} */ (h("input", {
      type: "checkbox",
      id: "share-takeover",
      "data-field": "share-takeover",
      onchange: () => {
        const box = /** @type {HTMLInputElement} */ (this.takeoverBox);
        this.ctx.send({ type: "share_policy", takeover: box.checked });
      },
    }));
    this.takeoverBox.checked = this.share.takeover ?? false;
    return h("p", { class: "panel-text share-option" },
      this.takeoverBox, " ", h("label", { for: "share-takeover" }, T("screen.takeover")));
  }

  /** @type {HTMLInputElement | undefined} */
  takeoverBox;

  /** @param {ScreenShare} share */
  #apply(share) {
    this.share = { ...share, allowed: share.allowed ?? [] };
    this.#asking = false;
    if (this.takeoverBox) this.takeoverBox.checked = share.takeover ?? false;
    this.#sync();
    this.#show();
    this.#refreshPeople();
  }

  /** The large screen: the sharer's, when it is someone else and it arrived. */
  #show() {
    const id = this.share.sharer;
    const stream = id && id !== this.ctx.you.id ? this.streams.get(id) : undefined;
    this.ctx.view.setScreen(id && stream ? { id, name: this.ctx.nameOf(id), stream } : null);
  }

  #sync() {
    const sharing = this.sharing;
    this.button.hidden = !this.mayShare && !sharing;
    this.button.setAttribute("aria-pressed", sharing ? "true" : "false");
    this.button.toggleAttribute("disabled", this.#asking);
    this.ctx.view.setSharing(sharing ? () => void this.toggle() : null);
  }

  /** A short refusal or problem, as a warning. @param {MessageKey} key */
  #say(key) {
    this.ctx.shell.toast(() => t(key), "warn");
  }

  /** News about the sharing, shown and announced. @param {() => string} text */
  #tell(text) {
    this.ctx.shell.toast(text, "info");
    this.ctx.shell.announce(text());
  }
}
