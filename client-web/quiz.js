// @ts-check
//! Quizzes, in the class's panel: a facilitator writes one and launches it,
//! each participant answers (and may change their answers until they send
//! them, once), then sees their score and the right answers when the
//! facilitator closes it; the facilitator sees everyone's answers and the
//! totals as they come.
//!
//! What is evidence is said on the page: that a quiz was opened and that
//! you completed it, never your answers or your score (the server keeps
//! those for the session only).

import { has, t } from "./i18n.js";
import { T, bindText, h, replaceChildren } from "./dom.js";

/** @typedef {import("./wire.js").Quiz} Quiz */
/** @typedef {import("./wire.js").NewQuizQuestion} NewQuizQuestion */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./context.js").CallContext} CallContext */

/** Bounds the server applies (`protocol/src/quiz.rs`). */
const MAX_QUESTIONS = 10;
const MIN_CHOICES = 2;
const MAX_CHOICES = 6;

/**
 * Reads the facilitator's text: one block per question, separated by an
 * empty line; the question on its first line, then one answer per line,
 * the right ones marked with a leading `*` (several marks: several answers
 * are expected). Null when it does not make a quiz.
 * @param {string} text
 * @returns {NewQuizQuestion[] | null}
 */
export function parseQuiz(text) {
  const blocks = text.split(/\n\s*\n/).map((b) => b.split("\n").map((l) => l.trim()).filter(Boolean)).filter((b) => b.length);
  if (blocks.length === 0 || blocks.length > MAX_QUESTIONS) return null;
  /** @type {NewQuizQuestion[]} */
  const questions = [];
  for (const [question, ...lines] of blocks) {
    const choices = lines.map((l) => l.replace(/^\*\s*/, ""));
    const correct = lines.flatMap((l, i) => (l.startsWith("*") ? [i] : []));
    if (choices.length < MIN_CHOICES || choices.length > MAX_CHOICES || correct.length === 0 || choices.some((c) => !c)) return null;
    questions.push({ text: question, choices, multiple: correct.length > 1, correct });
  }
  return questions;
}

export class QuizView {
  /** The latest quiz shown. @type {Quiz | null} */
  quiz = null;
  /** This page's answers not sent yet, per question. @type {number[][]} */
  #draft = [];

  /**
   * @param {CallContext} ctx
   * @param {{ openPanel: () => void, markPanel: () => void }} panel
   */
  constructor(ctx, panel) {
    this.ctx = ctx;
    this.panel = panel;
    this.section = h("section", { class: "poll quiz", "data-field": "quiz", hidden: true, "aria-labelledby": "quiz-title" });
    this.problem = h("p", { class: "panel-problem", role: "status", "data-field": "quiz-error", hidden: true });
    /** @type {HTMLElement[]} */
    this.elements = [this.section, this.problem];
    if (ctx.you.role === "facilitator") this.elements.push(this.#form());
  }

  /** Facilitators: a title and the questions as text, launched to the group. */
  #form() {
    const title = /** @type {HTMLInputElement} */ (h("input", {
      type: "text", id: "quiz-title-input", "data-field": "quiz-title", maxlength: "120", required: true,
    }));
    const questions = /** @type {HTMLTextAreaElement} */ (h("textarea", {
      id: "quiz-questions", "data-field": "quiz-questions", rows: "8", required: true,
      placeholder: () => t("quiz.questions_example"),
    }));
    return h("details", { class: "poll-new" },
      h("summary", {}, T("quiz.new")),
      h("form", {
        class: "chat-form",
        onsubmit: (/** @type {Event} */ event) => {
          event.preventDefault();
          const parsed = parseQuiz(questions.value);
          if (!title.value.trim() || !parsed) {
            this.#problem("quiz.form_invalid");
            return;
          }
          if (this.ctx.send({ type: "quiz", title: title.value.trim(), questions: parsed })) {
            title.value = "";
            questions.value = "";
            this.problem.hidden = true;
          }
        },
      },
        h("label", { for: "quiz-title-input" }, T("quiz.title_label")), title,
        h("label", { for: "quiz-questions" }, T("quiz.questions_label")), questions,
        h("p", { class: "panel-hint" }, T("quiz.questions_hint")),
        h("button", { type: "submit", class: "button button-primary", "data-action": "quiz-launch" }, T("quiz.launch"))));
  }

  /** @param {import("./i18n.js").MessageKey} key */
  #problem(key) {
    this.problem.hidden = false;
    bindText(this.problem, () => t(key));
  }

  /** @param {Quiz | null} quiz */
  show(quiz) {
    if (quiz && quiz.id !== this.quiz?.id) this.#draft = quiz.questions.map(() => []);
    this.quiz = quiz;
    this.section.hidden = quiz === null;
    if (!quiz) return;
    const facilitator = this.ctx.you.role === "facilitator";
    const answering = quiz.open && !quiz.mine && !facilitator;
    const chosen = quiz.mine?.answers ?? this.#draft;
    const questions = quiz.questions.map((q, n) => {
      const name = `quiz-${quiz.id}-${n}`;
      const right = quiz.correct?.[n] ?? [];
      return h("fieldset", { class: "quiz-question", "data-question": String(n) },
        h("legend", { dir: "auto" }, h("bdi", {}, `${n + 1}. ${q.text}`),
          q.multiple && h("span", { class: "poll-count" }, t("quiz.several"))),
        ...q.choices.map((choice, i) => {
          const input = h("input", {
            type: q.multiple ? "checkbox" : "radio",
            name,
            value: String(i),
            "data-choice": String(i),
            checked: chosen[n]?.includes(i) ?? false,
            disabled: !answering,
            onchange: (/** @type {Event} */ event) => {
              const on = /** @type {HTMLInputElement} */ (event.target).checked;
              const now = this.#draft[n] ?? [];
              this.#draft[n] = q.multiple ? (on ? [...now, i] : now.filter((c) => c !== i)) : [i];
            },
          });
          const mark = right.includes(i) ? h("span", { class: "quiz-right", "data-field": "quiz-right" }, ` ✓ ${t("quiz.right")}`) : null;
          return h("label", { class: "quiz-choice" }, input, " ", h("bdi", {}, choice), mark);
        }));
    });
    replaceChildren(this.section,
      h("h3", { id: "quiz-title", class: "documents-title" }, T(quiz.open ? "quiz.open_title" : "quiz.closed_title")),
      h("p", { class: "poll-question", dir: "auto" }, h("bdi", {}, quiz.title)),
      ...questions,
      answering && h("button", {
        type: "button",
        class: "button button-primary",
        "data-action": "quiz-submit",
        onclick: () => this.#submit(),
      }, T("quiz.submit")),
      !facilitator && h("p", { class: "panel-hint", "data-field": "quiz-status" }, this.#status(quiz)),
      !facilitator && h("p", { class: "panel-hint" }, T("quiz.evidence")),
      facilitator && this.#results(quiz),
      facilitator && quiz.open && h("button", {
        type: "button",
        class: "button",
        "data-action": "quiz-close",
        onclick: () => this.ctx.send({ type: "close_quiz", quiz: quiz.id }),
      }, T("quiz.close")));
  }

  /** What this person's quiz stands at. @param {Quiz} quiz */
  #status(quiz) {
    if (quiz.mine?.score !== undefined) {
      return t("quiz.your_score", { score: quiz.mine.score, total: quiz.questions.length });
    }
    if (quiz.mine) return t("quiz.sent");
    return quiz.open ? t("quiz.change_until_sent") : t("quiz.closed_unanswered");
  }

  /** Facilitators: everyone's score and the totals. @param {Quiz} quiz */
  #results(quiz) {
    const results = quiz.results;
    const total = quiz.questions.length;
    return h("div", { class: "quiz-results", "data-field": "quiz-results" },
      h("p", { class: "panel-hint", "data-field": "quiz-submitted" }, t("quiz.submitted", { n: quiz.submitted })),
      results && results.people.length > 0 && h("table", { class: "quiz-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, T("quiz.person")), h("th", { scope: "col" }, T("quiz.score")))),
        h("tbody", {}, ...results.people.map((p) => h("tr", { "data-person": p.id },
          h("td", {}, h("bdi", {}, p.name)),
          h("td", { "data-field": "quiz-score" }, `${p.score}/${total}`))))),
      results?.mean !== undefined && h("p", { class: "panel-hint", "data-field": "quiz-mean" },
        t("quiz.mean", { mean: results.mean.toLocaleString(undefined, { maximumFractionDigits: 1 }), total })),
      results && results.people.length > 0 && h("p", { class: "panel-hint" },
        results.right.map((n, i) => t("quiz.right_per_question", { n: i + 1, right: n })).join(" · ")));
  }

  #submit() {
    const quiz = this.quiz;
    if (!quiz) return;
    if (this.#draft.some((a) => a.length === 0)) {
      this.#problem("quiz.answer_all");
      return;
    }
    if (this.ctx.send({ type: "submit_quiz", quiz: quiz.id, answers: this.#draft })) this.problem.hidden = true;
  }

  /**
   * Takes what is the quiz's; true when the message was.
   * @param {ServerMessage} message
   */
  handle(message) {
    if (message.type === "quiz") {
      const fresh = message.quiz.id !== this.quiz?.id && message.quiz.open;
      this.show(message.quiz);
      if (fresh && this.ctx.you.role !== "facilitator") {
        const title = message.quiz.title;
        this.ctx.shell.toast(() => t("quiz.launched_by", { name: this.ctx.nameOf(message.quiz.by), title }), "info", {
          label: () => t("quiz.answer"),
          action: "quiz-open",
          run: () => this.panel.openPanel(),
        });
        this.panel.markPanel();
      }
      if (!message.quiz.open && message.quiz.mine?.score !== undefined) this.panel.markPanel();
      return true;
    }
    if (message.type === "error" && ["quiz", "submit_quiz", "close_quiz"].includes(message.about ?? "")) {
      const key = `quiz.error.${message.code}`;
      this.#problem(has(key) ? /** @type {import("./i18n.js").MessageKey} */ (key) : "quiz.error.other");
      this.panel.openPanel();
      return true;
    }
    return false;
  }
}
