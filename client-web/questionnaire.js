// @ts-check
//! Appreciation questionnaires (framework article 2.1.6), from the
//! beneficiary's side: the invitation on the page of an ended session
//! (dismissable: "Plus tard"; it is there again whenever the link is
//! opened), and the questionnaire itself at `/q/{token}`, answered once.
//!
//! Nothing is compulsory, and the page says what happens to the answers:
//! stored without the person's name, seen by the organisation only as
//! totals of at least three answers, never an evaluation of the person.

import { fetchInvitations, fetchQuestionnaire, sendQuestionnaire } from "./api.js";
import { onLanguageChange, t } from "./i18n.js";
import { T, bindText, h, replaceChildren } from "./dom.js";
import { loadingScreen } from "./ui.js";

/** @typedef {import("./wire.js").QuestionnaireForm} QuestionnaireForm */
/** @typedef {import("./wire.js").QuestionnaireQuestion} QuestionnaireQuestion */
/** @typedef {import("./wire.js").InvitationLink} InvitationLink */
/** @typedef {import("./wire.js").ErrorBody} ErrorBody */
/** @typedef {import("./ui.js").Shell} Shell */

/** Longest free text, as the server takes it. */
const MAX_TEXT = 1000;

/**
 * The invitations of the person of `joinToken` not answered yet, as a
 * section to put on the page of an ended session (empty and hidden when
 * there is none).
 * @param {string} joinToken
 */
export function invitationsSection(joinToken) {
  const section = h("section", { class: "invitation", "data-field": "invitations", hidden: true, "aria-labelledby": "invitation-title" });
  void fetchInvitations(joinToken).then((result) => {
    if (!result.ok || result.value.length === 0) return;
    replaceChildren(section,
      h("h2", { id: "invitation-title" }, T("questionnaire.invited_title")),
      h("p", {}, T("questionnaire.invited_body")),
      ...result.value.map((invitation) => h("p", { class: "invitation-item" },
        h("bdi", {}, invitation.title), " — ", h("bdi", {}, invitation.about), " ",
        h("a", { class: "button button-primary", href: invitation.url, "data-action": "questionnaire-answer" }, T("questionnaire.answer")))),
      h("button", {
        type: "button",
        class: "button",
        "data-action": "questionnaire-later",
        onclick: () => { section.hidden = true; },
      }, T("questionnaire.later")),
      h("p", { class: "panel-hint" }, T("questionnaire.later_hint")));
    section.hidden = false;
  });
  return section;
}

/**
 * The questionnaire of an invitation link, as a page of its own.
 * @param {Shell} shell
 * @param {string} token
 */
export async function openQuestionnairePage(shell, token) {
  document.body.dataset.page = "questionnaire";
  shell.setStatus(null);
  shell.setBanner(null);
  shell.setSessionTitle(null);
  shell.show(loadingScreen());
  const result = await fetchQuestionnaire(token);
  if (!result.ok) {
    const render = () => shell.show(h("section", { class: "card card-narrow", "data-screen": "questionnaire-error" },
      h("h1", {}, T("questionnaire.error_title")),
      h("p", { "data-field": "questionnaire-error" }, errorText(result.error))));
    render();
    onLanguageChange(render);
    return;
  }
  const form = result.value;
  document.title = `${form.title} · ${t("app.name")}`;
  shell.show(form.answered ? thanks("questionnaire.already") : formView(form, token));
}

/** @param {ErrorBody} error */
function errorText(error) {
  switch (error.code) {
    case "token_expired": return t("questionnaire.expired");
    case "conflict": return t("questionnaire.already");
    default: return t("questionnaire.invalid_link");
  }
}

/** @param {"questionnaire.thanks" | "questionnaire.already"} key */
function thanks(key) {
  return h("section", { class: "card card-narrow", "data-screen": "questionnaire-done" },
    h("h1", {}, T("questionnaire.done_title")),
    h("p", { "data-field": "questionnaire-done" }, T(key)));
}

/**
 * @param {QuestionnaireForm} form
 * @param {string} token
 */
function formView(form, token) {
  /** @type {(() => number | string | null)[]} */
  const readers = [];
  const questions = form.questions.map((q, n) => {
    const { element, read } = questionView(q, n);
    readers.push(read);
    return element;
  });
  const problem = h("p", { class: "panel-problem", role: "status", "data-field": "questionnaire-problem", hidden: true });
  const card = h("section", { class: "card card-narrow questionnaire", "data-screen": "questionnaire", "aria-labelledby": "questionnaire-title" },
    h("h1", { id: "questionnaire-title", dir: "auto" }, h("bdi", {}, form.title)),
    h("p", { class: "panel-hint", dir: "auto" }, h("bdi", {}, form.about)),
    h("p", {}, T("questionnaire.anonymous")),
    h("form", {
      class: "questionnaire-form",
      onsubmit: async (/** @type {Event} */ event) => {
        event.preventDefault();
        const sent = await sendQuestionnaire(token, readers.map((read) => read()));
        if (sent.ok) {
          card.replaceWith(thanks("questionnaire.thanks"));
        } else if (sent.error.code === "conflict") {
          card.replaceWith(thanks("questionnaire.already"));
        } else {
          problem.hidden = false;
          bindText(problem, () => errorText(sent.error) + (sent.error.code === "invalid_input" ? ` (${sent.error.message})` : ""));
        }
      },
    },
      ...questions,
      problem,
      h("button", { type: "submit", class: "button button-primary", "data-action": "questionnaire-send" }, T("questionnaire.send"))));
  return card;
}

/**
 * One question and how to read its answer (null: left blank).
 * @param {QuestionnaireQuestion} q
 * @param {number} n
 * @returns {{ element: HTMLElement, read: () => number | string | null }}
 */
function questionView(q, n) {
  const name = `question-${n}`;
  if (q.kind === "text") {
    const area = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: name, name, rows: "3", maxlength: String(MAX_TEXT), "data-question": String(n) }));
    return {
      element: h("div", { class: "questionnaire-question" }, h("label", { for: name, dir: "auto" }, h("bdi", {}, q.text)), area),
      read: () => (area.value.trim() ? area.value : null),
    };
  }
  const options = q.kind === "scale"
    ? [1, 2, 3, 4, 5].map((v) => ({ value: v, label: () => t(/** @type {import("./i18n.js").MessageKey} */ (`questionnaire.scale.${v}`)) }))
    : (q.choices ?? []).map((c, i) => ({ value: i, label: () => c }));
  const fieldset = h("fieldset", { class: "quiz-question questionnaire-question", "data-question": String(n) },
    h("legend", { dir: "auto" }, h("bdi", {}, q.text)),
    ...options.map((o) => h("label", { class: "quiz-choice" },
      h("input", { type: "radio", name, value: String(o.value), "data-choice": String(o.value) }), " ",
      bindText(h("bdi", {}), o.label))));
  return {
    element: fieldset,
    read: () => {
      const checked = /** @type {HTMLInputElement | null} */ (fieldset.querySelector("input:checked"));
      return checked ? Number(checked.value) : null;
    },
  };
}
