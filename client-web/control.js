// @ts-check
//! Session control (framework art. 4.2, 6, 7): a facilitator suspends,
//! resumes, postpones or ends the session, or removes a person, always with
//! a reason that everyone reads; the decision is proportionate, argued and
//! notified. The server decides and records; this page shows.
//!
//! - Every page: the state beside the session's title, and a bar under the
//!   header whenever a decision matters ("Séance suspendue par Claire Martin
//!   à 10:42 : Coupure réseau…"), with the new dates and an .ics after a
//!   postponement. A page that reconnects lands in it (`welcome.notice`).
//! - Suspended: nothing is sent (`PeerMesh.setPaused`) but a facilitator's
//!   microphone, kept to explain the suspension (docs/architecture.md,
//!   "Suspension"), and this page's recorder connection closes; resuming
//!   puts the tracks back, without renegotiation. Suspended or postponed,
//!   every tile shows what happened, since when and what to expect.
//! - The server starts the session (`start`) at its planned start, and a
//!   postponed one when its new window begins: media resumes, live.
//! - Facilitators: the "Séance" panel (suspend, resume, postpone, end) and
//!   "Retirer…" beside each person in the presence console; each opens a
//!   dialog that requires a reason and waits for the server's answer.
//! - Ended, or removed: a final screen, never an automatic reconnection
//!   (`app.js`, `finalScreen` below).

import { has, onLanguageChange, t } from "./i18n.js";
import { T, bindText, h, icon, replaceChildren } from "./dom.js";
import { documentsSection } from "./documents.js";
import { Panel } from "./panel.js";
import { documents } from "./api.js";
import { formatTime } from "./evidence.js";
import { formatSchedule, zoneCity } from "./ui.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./wire.js").StateNotice} StateNotice */
/** @typedef {import("./wire.js").SessionState} SessionState */
/** @typedef {import("./wire.js").ControlAction} ControlAction */
/** A facilitator's decision: every action but the server's own `start`. @typedef {Exclude<ControlAction, "start">} Decision */
/** @typedef {import("./wire.js").SessionInfo} SessionInfo */
/** @typedef {import("./wire.js").Welcome} Welcome */
/** @typedef {import("./wire.js").Me} Me */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./wire.js").ClientMessage} ClientMessage */
/** @typedef {import("./dom.js").Child} Child */
/** @typedef {import("./context.js").CallContext} CallContext */

/** The error codes that answer a control. */
const CONTROL_ERRORS = new Set(["forbidden", "invalid_input", "conflict", "not_found", "internal", "malformed_message"]);
/** A control with no answer after this long is reported as unanswered. */
const ANSWER_WAIT_MS = 15_000;
/** The server's limit on a reason. */
export const MAX_REASON = 500;

/**
 * The sentence for a decision, as everyone reads it.
 * @param {StateNotice} notice
 */
export function describeNotice(notice) {
  const args = { by: notice.by, time: formatTime(notice.at), reason: notice.reason };
  switch (notice.action) {
    case "suspend":
      return t("control.notice.suspend", args);
    case "resume":
      return t("control.notice.resume", args);
    case "postpone":
      return t("control.notice.postpone", args);
    case "end":
      return t("control.notice.end", args);
    case "start":
      return t("control.notice.start", args);
    default:
      return t("control.notice.other", args);
  }
}

/**
 * "2026-12-03T09:00" for an instant, in a time zone (what a
 * `datetime-local` field holds, and what the server reads in the session's zone).
 * @param {Date} date
 * @param {string} zone
 */
export function zoneLocalValue(date, zone) {
  try {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(date).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
  } catch {
    return "";
  }
}

/** A "YYYY-MM-DDTHH:MM" value `days` later, same wall-clock time. @param {string} value @param {number} days */
function addDays(value, days) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2})$/.exec(value);
  if (!m) return "";
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days));
  return `${d.toISOString().slice(0, 10)}T${m[4]}`;
}

export class SessionControl {
  /** @type {SessionState} */
  state;
  /** @type {StateNotice | null} the latest decision about the session */
  notice = null;
  /** @type {StateNotice | null} this person was removed, and why */
  removal = null;
  /** @type {{ action: Decision, participant?: string, sent: number } | null} */
  pending = null;
  /** @type {ControlDialog | null} */
  dialog = null;
  /** The resume notice was closed by the person. */
  #resumeDismissed = false;
  #disposed = false;

  /**
   * @param {CallContext} ctx
   * @param {object} o
   * @param {(suspended: boolean, keepVoice: boolean) => void} o.onSuspended media stops (true; a
   *   facilitator's microphone stays on during a suspension: `keepVoice`) or starts again (false)
   * @param {(id: string) => void} o.onRemoved someone else was removed
   */
  constructor(ctx, { onSuspended, onRemoved }) {
    const { you, session, token, send, shell, view, panels, nameOf } = ctx;
    this.you = you;
    this.session = { ...session };
    this.token = token;
    this.send = send;
    this.shell = shell;
    this.onSuspended = onSuspended;
    this.nameOf = nameOf;
    this.onRemoved = onRemoved;
    this.state = session.state;
    this.suspended = false;
    this.keepVoice = false;
    this.facilitator = you.role === "facilitator";
    this.view = view;

    this.barText = h("p", { class: "state-text", role: "status", "aria-live": "polite", "data-field": "session-state-text" });
    this.barSchedule = h("p", { class: "state-schedule", "data-field": "session-new-dates", hidden: true });
    this.calendarLink = h("a", {
      class: "button button-light button-small",
      "data-action": "calendar",
      download: true,
      hidden: true,
      href: documents.calendar(session.id, token),
    }, icon("download"), T("control.calendar"));
    this.dismissButton = h("button", {
      type: "button",
      class: "icon-button state-dismiss",
      "data-action": "state-dismiss",
      hidden: true,
      "aria-label": () => t("call.dismiss"),
      onclick: () => {
        this.#resumeDismissed = true;
        this.render();
      },
    }, icon("close"));
    replaceChildren(shell.stateBar,
      h("div", { class: "state-body" }, this.barText, this.barSchedule),
      h("span", { class: "state-actions" }, this.calendarLink, this.dismissButton));

    // Over the pictures while suspended: why nothing moves.
    this.stageNote = h("p", { class: "stage-note", "data-field": "suspended-note", hidden: true },
      T(this.facilitator ? "control.stage_suspended_facilitator" : "control.stage_suspended"));
    view.element.querySelector(".stage")?.prepend(this.stageNote);
    this.callElement = view.element;

    this.panel = this.facilitator ? new ControlPanel(this) : null;
    if (this.panel) panels.mount(this.panel.panel);
    onLanguageChange(() => {
      if (!this.#disposed) this.render();
    });
    this.render();
  }

  // -- messages ----------------------------------------------------------------

  /** @param {Welcome} message */
  welcome(message) {
    this.session = { ...message.session };
    this.notice = message.notice ?? null;
    this.#setState(message.session.state);
    // A control sent before a reconnection: the welcome's state says whether it counted.
    if (this.pending && this.#answered(this.pending.action, this.notice)) this.#settle();
    this.render();
  }

  /**
   * `session_state`, and the errors that answer a control of ours.
   * @param {ServerMessage} message
   */
  handle(message) {
    if (message.type === "session_state") {
      const { notice, participant } = message;
      if (notice.action === "remove" && participant) {
        if (this.pending?.action === "remove" && this.pending.participant === participant) this.#settle();
        if (participant === this.you.id) {
          this.removal = notice;
        } else {
          const name = this.nameOf(participant);
          // The reason reaches only the removed person and the facilitators.
          const key = notice.reason ? "control.notice.removed_other_reason" : "control.notice.removed_other";
          const text = () => t(key, { name, by: notice.by, time: formatTime(notice.at), reason: notice.reason });
          this.shell.toast(text, "warn");
          this.shell.announce(text());
          this.onRemoved(participant);
        }
        return true;
      }
      this.notice = notice;
      if (notice.planned_start && notice.planned_end) {
        this.session.planned_start = notice.planned_start;
        this.session.planned_end = notice.planned_end;
      }
      this.#resumeDismissed = false;
      this.#setState(notice.state);
      if (this.pending && this.#answered(this.pending.action, notice)) this.#settle();
      this.shell.announce(describeNotice(notice));
      this.render();
      return true;
    }
    if (message.type === "error" && this.pending && message.about === "control" && CONTROL_ERRORS.has(message.code)) {
      const pending = this.pending;
      this.pending = null;
      this.dialog?.fail(message.code, message.message);
      this.panel?.render();
      console.info("cadre: control refused:", pending.action, message.code, message.message);
      return true;
    }
    return false;
  }

  /** @param {Decision} action @param {StateNotice | null} notice */
  #answered(action, notice) {
    if (!notice) return false;
    return notice.action === action;
  }

  #settle() {
    this.pending = null;
    this.dialog?.done();
    this.panel?.render();
  }

  /** @param {SessionState} state */
  #setState(state) {
    this.state = state;
    // A postponed session is not being held now either: nothing is sent.
    // A facilitator keeps their voice during a suspension, to explain it.
    const suspended = state === "suspended" || state === "postponed";
    const keepVoice = this.facilitator && state === "suspended";
    if (suspended !== this.suspended || keepVoice !== this.keepVoice) {
      this.suspended = suspended;
      this.keepVoice = keepVoice;
      this.onSuspended(suspended, keepVoice);
    }
  }

  /**
   * Sends a control; the answer is the next `session_state` with that action,
   * or an error.
   * @param {{ action: Decision, reason: string, start?: string, end?: string, participant?: string }} request
   * @returns {boolean} whether it went out
   */
  request(request) {
    /** @type {ClientMessage} */
    const message = { type: "control", action: request.action, reason: request.reason };
    if (request.start !== undefined) message.start = request.start;
    if (request.end !== undefined) message.end = request.end;
    if (request.participant !== undefined) message.participant = request.participant;
    if (!this.send(message)) return false;
    const sent = Date.now();
    this.pending = { action: request.action, participant: request.participant, sent };
    setTimeout(() => {
      if (this.pending?.sent !== sent) return;
      this.pending = null;
      this.dialog?.fail("no_answer", "");
      this.panel?.render();
    }, ANSWER_WAIT_MS);
    this.panel?.render();
    return true;
  }

  /**
   * Opens the dialog for an action (facilitators).
   * @param {Decision} action
   * @param {{ reason?: string, participant?: string }} [options]
   */
  open(action, options = {}) {
    if (!this.facilitator) return;
    this.dialog?.close();
    this.dialog = new ControlDialog(this, action, options);
  }

  /** "Retirer…" for the presence console's row of a person. @param {string} id @param {string} name */
  removeButton(id, name) {
    if (!this.facilitator || id === this.you.id) return null;
    return h("button", {
      type: "button",
      class: "button button-quiet button-small",
      "data-action": "control-remove",
      "aria-label": () => t("control.remove_person", { name }),
      onclick: () => this.open("remove", { participant: id }),
    }, T("control.remove_open"));
  }

  // -- display -------------------------------------------------------------------

  render() {
    const state = this.state;
    const notice = this.notice;
    const badge = this.shell.stateBadge;
    badge.hidden = false;
    badge.dataset.state = state;
    bindText(badge, () => t(/** @type {MessageKey} */ (`state.${state}`)));

    const bar = this.shell.stateBar;
    const resumed = (state === "open" || state === "running") && notice?.action === "resume" && !this.#resumeDismissed;
    const shown = state === "suspended" || state === "postponed" || state === "ended" || resumed;
    bar.hidden = !shown;
    bar.dataset.state = state;
    if (notice) bar.dataset.action = notice.action;
    else delete bar.dataset.action;
    if (shown) {
      bindText(this.barText, () => notice && (notice.state === state || resumed)
        ? describeNotice(notice)
        : t(/** @type {MessageKey} */ (`control.state_plain.${state === "open" || state === "running" ? "running" : state}`)));
    }
    const postponed = state === "postponed";
    this.barSchedule.hidden = !postponed;
    this.calendarLink.hidden = !postponed;
    if (postponed) {
      const session = this.session;
      bindText(this.barSchedule, () => t("control.new_dates", { dates: formatSchedule(session) }));
    }
    this.dismissButton.hidden = !resumed;
    this.stageNote.hidden = state !== "suspended";
    this.view.setNotice(this.#tileNotice(state, notice));
    this.callElement.dataset.sessionState = state;
    this.panel?.render();
  }

  /**
   * What every tile shows while the session is suspended or postponed:
   * what happened, since when and by whom, and what to expect.
   * @param {SessionState} state
   * @param {StateNotice | null} notice
   * @returns {(() => string)[] | null}
   */
  #tileNotice(state, notice) {
    if (state !== "suspended" && state !== "postponed") return null;
    const decided = notice && notice.state === state ? notice : null;
    /** @type {(() => string)[]} */
    const lines = [() => t(state === "suspended" ? "control.tile.suspended" : "control.tile.postponed")];
    const key = state === "suspended" ? "control.tile.since" : "control.tile.postponed_at";
    if (decided) lines.push(() => t(key, { time: formatTime(decided.at), by: decided.by }));
    if (state === "suspended") {
      lines.push(() => t("control.tile.suspended_expect"));
    } else {
      const session = this.session;
      lines.push(() => t("control.new_dates", { dates: formatSchedule(session) }));
      lines.push(() => t("control.tile.postponed_expect"));
    }
    return lines;
  }

  dispose() {
    this.#disposed = true;
    this.view.setNotice(null);
    this.dialog?.close();
    if (this.suspended) this.onSuspended(false, false);
    this.shell.stateBar.hidden = true;
    this.shell.stateBar.replaceChildren();
    this.shell.stateBadge.hidden = true;
  }

  /** For tests: `window.cadre.state().session`. */
  snapshot() {
    return {
      state: this.state,
      notice: this.notice,
      removal: this.removal,
      pending: this.pending?.action ?? null,
      suspended: this.suspended,
    };
  }
}

// ---------------------------------------------------------------------------
// The facilitator's panel

class ControlPanel {
  /** @param {SessionControl} c */
  constructor(c) {
    this.c = c;
    this.panel = new Panel({ id: "session-panel", label: "control.control", icon: "session", title: () => t("control.title") });
    this.stateLine = h("p", { class: "panel-text control-state", "data-field": "control-state" });
    /** @param {Decision} action @param {MessageKey} label @param {string} cls */
    const button = (action, label, cls) => h("button", {
      type: "button", class: `button ${cls}`, "data-action": `control-${action}`, onclick: () => c.open(action),
    }, T(label));
    this.suspend = button("suspend", "control.suspend_open", "button-primary");
    this.resume = button("resume", "control.resume_open", "button-primary");
    this.postpone = button("postpone", "control.postpone_open", "button-quiet");
    this.end = button("end", "control.end_open", "button-quiet button-end");
    /** Where the "Conditions" list goes (`quality.js`). */
    this.consoleBody = h("div", { class: "control-console" });
    replaceChildren(this.panel.body,
      h("p", { class: "panel-hint" }, T("control.intro")),
      this.stateLine,
      h("div", { class: "control-actions" }, this.suspend, this.resume, this.postpone, this.end),
      h("p", { class: "panel-hint" }, T("control.remove_hint")),
      this.consoleBody);
  }

  render() {
    const c = this.c;
    const state = c.state;
    const notice = c.notice;
    bindText(this.stateLine, () => {
      const what = t("lobby.state", { state: t(/** @type {MessageKey} */ (`state.${state}`)) });
      return notice && notice.state === state ? `${what} — ${describeNotice(notice)}` : what;
    });
    this.stateLine.dataset.state = state;
    const busy = c.pending !== null;
    this.suspend.hidden = !(state === "open" || state === "running" || state === "scheduled");
    this.resume.hidden = state !== "suspended";
    this.postpone.hidden = this.end.hidden = state === "ended";
    for (const b of [this.suspend, this.resume, this.postpone, this.end]) b.disabled = busy;
  }
}

// ---------------------------------------------------------------------------
// The dialog: a reason, always; dates to postpone

/** @type {Record<Decision, { title: MessageKey, body: MessageKey, confirm: MessageKey, danger: boolean }>} */
const DIALOGS = {
  suspend: { title: "control.dialog.suspend.title", body: "control.dialog.suspend.body", confirm: "control.dialog.suspend.confirm", danger: true },
  resume: { title: "control.dialog.resume.title", body: "control.dialog.resume.body", confirm: "control.dialog.resume.confirm", danger: false },
  postpone: { title: "control.dialog.postpone.title", body: "control.dialog.postpone.body", confirm: "control.dialog.postpone.confirm", danger: true },
  end: { title: "control.dialog.end.title", body: "control.dialog.end.body", confirm: "control.dialog.end.confirm", danger: true },
  remove: { title: "control.dialog.remove.title", body: "control.dialog.remove.body", confirm: "control.dialog.remove.confirm", danger: true },
};

class ControlDialog {
  #sending = false;

  /**
   * @param {SessionControl} c
   * @param {Decision} action
   * @param {{ reason?: string, participant?: string }} options
   */
  constructor(c, action, options) {
    this.c = c;
    this.action = action;
    this.participant = options.participant;
    const words = DIALOGS[action];
    const name = options.participant ? c.nameOf(options.participant) : "";
    const zone = c.session.time_zone;
    const city = zoneCity(zone);

    this.reason = h("textarea", {
      id: "control-reason",
      class: "control-reason",
      "data-field": "control-reason",
      rows: 4,
      maxlength: MAX_REASON,
      required: true,
      "aria-describedby": "control-reason-hint",
    });
    this.reason.value = (options.reason ?? "").slice(0, MAX_REASON);
    this.count = h("span", { class: "control-count", "aria-hidden": "true" });
    this.problem = h("p", { class: "panel-problem", role: "alert", "data-field": "control-error", hidden: true });
    this.confirm = h("button", {
      type: "submit",
      class: `button ${words.danger ? "button-danger" : "button-primary"}`,
      "data-action": "control-confirm",
    }, T(words.confirm));
    const cancel = h("button", { type: "button", class: "button button-quiet", "data-action": "control-cancel", onclick: () => this.close() },
      T("control.cancel"));

    /** @type {HTMLInputElement | null} */
    this.start = null;
    /** @type {HTMLInputElement | null} */
    this.end = null;
    /** @type {Child} */
    let dates = null;
    if (action === "postpone") {
      const now = zoneLocalValue(new Date(), zone);
      const planned = zoneLocalValue(new Date(c.session.planned_start), zone);
      const plannedEnd = zoneLocalValue(new Date(c.session.planned_end), zone);
      this.start = h("input", { type: "datetime-local", id: "control-start", "data-field": "control-start", required: true, min: now });
      this.end = h("input", { type: "datetime-local", id: "control-end", "data-field": "control-end", required: true, min: now });
      // A week later, same hours: a starting point, to be changed.
      this.start.value = addDays(planned, 7);
      this.end.value = addDays(plannedEnd, 7);
      dates = h("fieldset", { class: "control-dates" },
        h("legend", {}, T("control.dialog.postpone.dates", { tz: city })),
        h("div", { class: "field" }, h("label", { for: "control-start" }, T("control.dialog.postpone.start")), this.start),
        h("div", { class: "field" }, h("label", { for: "control-end" }, T("control.dialog.postpone.end")), this.end));
    }

    const form = h("form", { class: "dialog-form", method: "dialog" },
      h("h2", { id: "control-dialog-title", class: "dialog-title" }, T(words.title, { name })),
      h("p", { class: "dialog-body" }, T(words.body, { name })),
      dates,
      h("div", { class: "field" },
        h("label", { for: "control-reason" }, T("control.reason")),
        this.reason,
        h("p", { id: "control-reason-hint", class: "panel-hint control-reason-hint" }, T("control.reason_hint"), " ", this.count)),
      this.problem,
      h("div", { class: "dialog-actions" }, cancel, this.confirm));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
    for (const input of [this.reason, this.start, this.end]) input?.addEventListener("input", () => this.#sync());

    this.element = h("dialog", { class: "dialog", "data-dialog": action, "aria-labelledby": "control-dialog-title" }, form);
    this.element.addEventListener("close", () => this.#closed());
    document.body.append(this.element);
    this.#sync();
    this.element.showModal();
    this.reason.focus();
  }

  /** The confirm button only once a reason (and the dates) are there. */
  #sync() {
    const reason = this.reason.value.trim();
    const datesOk = this.action !== "postpone" || Boolean(this.start?.value && this.end?.value);
    this.confirm.disabled = this.#sending || reason.length === 0 || !datesOk;
    const left = MAX_REASON - this.reason.value.length;
    bindText(this.count, () => t("control.reason_left", { n: left }));
  }

  #submit() {
    const reason = this.reason.value.trim();
    if (!reason || this.#sending) return;
    if (this.action === "postpone") {
      const start = this.start?.value ?? "";
      const end = this.end?.value ?? "";
      if (!start || !end) return;
      if (end <= start) {
        this.fail("end_before_start", "");
        return;
      }
    }
    this.problem.hidden = true;
    /** @type {{ action: Decision, reason: string, start?: string, end?: string, participant?: string }} */
    const request = { action: this.action, reason };
    if (this.action === "postpone") {
      request.start = this.start?.value;
      request.end = this.end?.value;
    }
    if (this.action === "remove") request.participant = this.participant;
    if (!this.c.request(request)) {
      this.fail("offline", "");
      return;
    }
    this.#sending = true;
    bindText(this.confirm, () => t("control.sending"));
    this.#sync();
  }

  /** The server answered with the decision: done. */
  done() {
    this.close();
  }

  /** @param {string} code @param {string} detail the server's sentence (English) */
  fail(code, detail) {
    this.#sending = false;
    const words = DIALOGS[this.action];
    replaceChildren(this.confirm, T(words.confirm));
    const key = `control.error.${code}`;
    const text = () => {
      const base = ["offline", "no_answer"].includes(code)
        ? t(code === "offline" ? "signin.error.offline" : "signin.error.no_answer")
        : has(key) ? t(key) : t("socket.other", { code });
      return detail ? `${base} (${detail})` : base;
    };
    this.problem.hidden = false;
    bindText(this.problem, text);
    this.problem.dataset.code = code;
    this.#sync();
  }

  close() {
    if (this.element.open) this.element.close();
    else this.#closed();
  }

  #closed() {
    this.element.remove();
    if (this.c.dialog === this) this.c.dialog = null;
  }
}

// ---------------------------------------------------------------------------
// Final screens

/**
 * After the session ended, or after this person was removed: what happened
 * and why, the documents (ended), and the difficulty reports. Nothing here
 * reconnects.
 * @param {object} o
 * @param {"ended" | "removed"} o.kind
 * @param {StateNotice | null} o.notice
 * @param {Me} o.you
 * @param {SessionInfo} o.session
 * @param {string} o.token
 * @param {Child} [o.reports] the difficulty reports section
 */
export function finalScreen({ kind, notice, you, session, token, reports = null }) {
  /** @type {() => string} */
  const decision = () => {
    if (!notice) return t(kind === "ended" ? "control.final.ended_plain" : "control.final.removed_plain");
    const args = { by: notice.by, time: formatTime(notice.at), reason: notice.reason };
    return kind === "ended" ? t("control.notice.end", args) : t("control.notice.removed_you", args);
  };
  // « Mes documents » (documents.js), as in the call's panel. A removed
  // person keeps theirs: their attendance before the removal is theirs (the
  // server lets their revoked link have them).
  const docs = h("div", { "data-field": "final-documents" },
    documentsSection({ session, you, token }, { heading: "h2" }));
  return h("section", { class: "card card-narrow final-card", "data-screen": kind === "ended" ? "session-ended" : "removed", "aria-labelledby": "final-title" },
    h("h1", { id: "final-title" }, T(kind === "ended" ? "control.final.ended_title" : "control.final.removed_title")),
    bindText(h("p", { class: "final-reason", "data-field": "final-reason" }), decision),
    h("p", {}, T(kind === "ended" ? "control.final.ended_body" : "control.final.removed_body")),
    docs,
    reports);
}
