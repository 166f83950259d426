// @ts-check
//! "Signaler une difficulté" (framework art. 6: every difficulty recorded,
//! handled traceably, answered in writing). In the call, a report goes over
//! the socket (`report`, answered by `report {report}`); after the session,
//! or when the link no longer opens the call, over REST (`POST /api/reports`,
//! which takes the link up to 90 days after the session). Either way the
//! list shows one's reports (a facilitator: every report of the session),
//! their status and the organiser's written answer, updated live in the call.

import { has, t } from "./i18n.js";
import { T, bindText, h, replaceChildren } from "./dom.js";
import { fetchDifficulties, postDifficulty } from "./api.js";
import { Panel } from "./panel.js";
import { capitalise, formatDay, formatTime } from "./evidence.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./wire.js").Difficulty} Difficulty */
/** @typedef {import("./wire.js").Me} Me */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./wire.js").ClientMessage} ClientMessage */
/** @typedef {import("./context.js").CallContext} CallContext */

export const MAX_REPORT = 4000;
const ANSWER_WAIT_MS = 15_000;
const REPORT_ERRORS = new Set(["invalid_input", "conflict", "internal", "forbidden", "malformed_message"]);
/** The link no longer files reports: say so, hide the form. */
const LINK_ERRORS = new Set(["token_expired", "token_revoked", "token_signature", "token_malformed", "token_algorithm", "wrong_session", "not_found", "forbidden"]);

/** "jeudi 3 décembre à 10:42". @param {number} ms */
function when(ms) {
  return t("reports.when", { day: formatDay(ms), time: formatTime(ms) });
}

export class Difficulties {
  /** @type {Map<string, Difficulty>} */
  reports = new Map();
  /** @type {{ sent: number } | null} a report sent over the socket, waiting for its answer */
  pending = null;
  /** @type {(() => string) | null} */
  problem = null;
  /** @type {"idle" | "loading" | "loaded" | "failed" | "closed"} */
  listState = "idle";
  /**
   * Told of news that came live: a facilitator, of someone
   * else's new report; an author, of an answer to theirs.
   * @type {(news: "filed" | "answered", report: Difficulty) => void}
   */
  onNews = () => {};

  /**
   * @param {object} ctx the call's context (`CallContext`), or what stands for it on a screen without a call
   * @param {Me | null} ctx.you null on a screen without a call (the author is then whoever the list says)
   * @param {string} ctx.token the join token
   * @param {((message: ClientMessage) => boolean) | null} ctx.send the socket, in the call; null: REST
   * @param {object} [o]
   * @param {"h2" | "h3" | null} [o.heading] null: no title (inside a panel that has one)
   */
  constructor({ you, token, send }, { heading = "h3" } = {}) {
    this.you = you;
    this.token = token;
    this.send = send;
    this.text = h("textarea", {
      id: "difficulty-text",
      class: "difficulty-text",
      "data-field": "difficulty-text",
      rows: 4,
      maxlength: MAX_REPORT,
      "aria-describedby": "difficulty-hint",
    });
    this.submit = h("button", { type: "submit", class: "button button-primary", "data-action": "difficulty-send" }, T("reports.send"));
    this.problemLine = h("p", { class: "panel-problem", role: "status", "data-field": "difficulty-error", hidden: true });
    this.confirmation = h("p", { class: "panel-hint", role: "status", "data-field": "difficulty-status" });
    this.form = h("form", { class: "difficulty-form" },
      h("label", { for: "difficulty-text" }, T("reports.label")),
      this.text,
      h("p", { id: "difficulty-hint", class: "panel-hint" }, T("reports.hint")),
      h("div", {}, this.submit),
      this.problemLine,
      this.confirmation);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
    this.text.addEventListener("input", () => this.#sync());
    this.listLine = h("p", { class: "panel-hint", "data-field": "difficulty-list-status" });
    this.list = h("ul", { class: "difficulty-list", "data-field": "difficulty-list", "aria-labelledby": "difficulty-list-title" });
    this.closedLine = h("p", { class: "panel-hint", "data-field": "difficulty-closed", hidden: true }, T("reports.link_closed"));
    this.element = h("section", { class: "difficulties", "data-field": "difficulties", "aria-label": () => t("reports.title") },
      heading && h(heading, { id: "difficulty-title", class: "documents-title" }, T("reports.title")),
      h("p", { class: "panel-hint" }, T("reports.intro")),
      this.closedLine,
      this.form,
      h(heading === "h2" ? "h3" : "h4", { id: "difficulty-list-title", class: "documents-title" }, T(you?.role === "facilitator" ? "reports.list_title_all" : "reports.list_title")),
      this.listLine,
      this.list);
    this.#sync();
    this.render();
  }

  /** Fetches the list (when the panel opens, on the final screens). */
  async load() {
    this.listState = "loading";
    this.render();
    const result = await fetchDifficulties(this.token);
    if (result.ok) {
      // Live answers that came meanwhile are at least as new.
      for (const r of result.reports) {
        const known = this.reports.get(r.id);
        if (!known || rank(r) >= rank(known)) this.reports.set(r.id, r);
      }
      this.listState = "loaded";
    } else if (LINK_ERRORS.has(result.error.code)) {
      this.listState = "closed";
    } else {
      this.listState = "failed";
    }
    this.render();
  }

  /**
   * `report` (one of mine, filed or answered), and errors answering mine.
   * @param {ServerMessage} message
   */
  handle(message) {
    if (message.type === "report") {
      this.#received(message.report);
      return true;
    }
    if (message.type === "error" && this.pending && REPORT_ERRORS.has(message.code)) {
      this.pending = null;
      const code = message.code;
      this.problem = () => errorText(code);
      this.#sync();
      return true;
    }
    return false;
  }

  /** @param {Difficulty} report */
  #received(report) {
    const mine = this.pending !== null && (!this.you || report.author.id === this.you.id) && report.status === "open";
    const known = this.reports.get(report.id);
    this.reports.set(report.id, report);
    const author = this.you !== null && report.author.id === this.you.id;
    if (!known && !author && this.you?.role === "facilitator") this.onNews("filed", report);
    else if (author && report.answer && report.answered_at !== (known?.answered_at ?? null)) this.onNews("answered", report);
    if (mine) {
      this.pending = null;
      this.text.value = "";
      const at = report.created_at;
      bindText(this.confirmation, () => t("reports.sent", { time: formatTime(at) }));
    }
    this.#sync();
    this.render();
  }

  async #submit() {
    const text = this.text.value.trim();
    if (!text || this.pending) return;
    this.problem = null;
    bindText(this.confirmation, () => "");
    if (this.send) {
      if (!this.send({ type: "report", text })) {
        this.problem = () => t("signin.error.offline");
        this.#sync();
        return;
      }
      const sent = Date.now();
      this.pending = { sent };
      setTimeout(() => {
        if (this.pending?.sent !== sent) return;
        this.pending = null;
        this.problem = () => t("signin.error.no_answer");
        this.#sync();
      }, ANSWER_WAIT_MS);
      this.#sync();
      return;
    }
    this.pending = { sent: Date.now() };
    this.#sync();
    const result = await postDifficulty(this.token, text);
    if (result.ok) {
      this.#received(result.report);
      return;
    }
    this.pending = null;
    const code = result.error.code;
    if (LINK_ERRORS.has(code)) this.listState = "closed";
    this.problem = () => errorText(code);
    this.#sync();
    this.render();
  }

  #sync() {
    const busy = this.pending !== null;
    this.submit.disabled = busy || this.text.value.trim().length === 0;
    replaceChildren(this.submit, T(busy ? "reports.sending" : "reports.send"));
    const problem = this.problem;
    this.problemLine.hidden = !problem;
    if (problem) bindText(this.problemLine, problem);
  }

  render() {
    const closed = this.listState === "closed";
    this.form.hidden = closed;
    this.closedLine.hidden = !closed;
    const reports = [...this.reports.values()].sort((a, b) => b.created_at - a.created_at);
    const state = this.listState;
    bindText(this.listLine, () =>
      reports.length > 0 ? ""
        : state === "loading" ? t("reports.loading")
        : state === "failed" ? t("reports.list_error")
        : t("reports.empty"));
    this.listLine.hidden = reports.length > 0;
    this.list.hidden = reports.length === 0;
    replaceChildren(this.list, ...reports.map((r) => this.#item(r)));
  }

  /** @param {Difficulty} r */
  #item(r) {
    const mine = !this.you || r.author.id === this.you.id;
    const status = /** @type {MessageKey} */ (has(`reports.status.${r.status}`) ? `reports.status.${r.status}` : "reports.status.open");
    const answeredAt = r.answered_at ?? null;
    return h("li", { class: "difficulty", "data-report": r.id, "data-status": r.status },
      h("p", { class: "difficulty-head" },
        h("span", { class: "difficulty-status", "data-status": r.status }, T(status)),
        bindText(h("span", { class: "difficulty-meta" }), () =>
          mine ? capitalise(when(r.created_at)) : t("reports.by", { name: r.author.name, when: when(r.created_at) }))),
      h("p", { class: "difficulty-body" }, r.text),
      r.answer
        ? h("div", { class: "difficulty-answer", "data-field": "difficulty-answer" },
          bindText(h("p", { class: "difficulty-answer-head" }), () =>
            answeredAt !== null ? t("reports.answer_at", { when: when(answeredAt) }) : t("reports.answer")),
          h("p", { class: "difficulty-answer-text" }, r.answer))
        : h("p", { class: "panel-hint" }, T("reports.no_answer")));
  }

  /** For tests. */
  snapshot() {
    return [...this.reports.values()].map((r) => ({ id: r.id, status: r.status, text: r.text, answer: r.answer ?? null }));
  }
}

/** @param {Difficulty} r */
function rank(r) {
  return r.status === "closed" ? 2 : r.status === "answered" ? 1 : 0;
}

/** @param {string} code */
function errorText(code) {
  const key = `reports.error.${code}`;
  if (has(key)) return t(key);
  if (code === "network") return t("error.network");
  if (has(`socket.${code}`)) return t(/** @type {MessageKey} */ (`socket.${code}`));
  return t("socket.other", { code });
}

/**
 * The call's "Signaler une difficulté" panel around a `Difficulties`
 * (the list is fetched each time it opens).
 * @param {CallContext} ctx
 * @param {Difficulties} d
 */
export function difficultyPanel(ctx, d) {
  // A participant's way to say something is wrong stays in the bar; a
  // facilitator's list of reports is in "Plus", whose control shows the
  // dot of a new report.
  const panel = ctx.panels.mount(new Panel({
    id: "difficulty-panel",
    label: "reports.control",
    icon: "flag",
    title: () => t("reports.title"),
    secondary: ctx.you.role === "facilitator",
  }));
  panel.body.append(d.element);
  panel.onToggle(() => {
    if (panel.isOpen) {
      panel.dot.hidden = true;
      d.load();
    }
  });
  d.onNews = (news, report) => {
    if (!panel.isOpen) panel.dot.hidden = false;
    const name = report.author.name;
    ctx.shell.toast(() => (news === "filed" ? t("reports.news_filed", { name }) : t("reports.news_answered")));
  };
  return panel;
}
