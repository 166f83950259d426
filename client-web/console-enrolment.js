// @ts-check
//! Planning after the fact, in the console: a person added by hand to a
//! session, a beneficiary enrolled late in an action (the server adds them
//! to each of its sessions that has not ended), a session duplicated to
//! other dates with its people (each with a new link), and a session not
//! under way moved to other dates or cancelled, with the reason everyone
//! is told. The forms check what a browser can; the server checks
//! everything again and its sentence is shown when it refuses.

import { t } from "./i18n.js";
import { call, confirmDialog, field, navigate, sendOnSubmit, showAgain } from "./console-kit.js";
import { T, h } from "./dom.js";
import { personFields } from "./console-corrections.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */

/**
 * A form of labelled fields, its refusal, and its submit button; `send`
 * answers whether it went through (the form then empties).
 * @param {string} name the form's `data-field`
 * @param {MessageKey} title
 * @param {Node} hint
 * @param {Node[]} fields
 * @param {MessageKey} submit
 * @param {(fail: (a: import("./console-kit.js").Answer) => void) => Promise<boolean>} send
 * @param {"h2" | "h3"} [heading] the title's level where the form stands
 */
function form(name, title, hint, fields, submit, send, heading = "h3") {
  const problem = h("p", { class: "panel-problem", role: "alert", hidden: true, "data-field": `${name}-error` });
  const button = h("button", { type: "submit", class: "button button-primary", "data-action": `${name}-submit` }, T(submit));
  const node = /** @type {HTMLFormElement} */ (h("form", { class: "console-form console-part", "data-field": name, "aria-labelledby": `${name}-title`, novalidate: true },
    h(heading, { id: `${name}-title` }, T(title)),
    h("p", { class: "panel-hint" }, hint),
    ...fields,
    problem,
    button));
  sendOnSubmit(node, /** @type {HTMLButtonElement} */ (button), problem, send, () => node.reset());
  return node;
}

/**
 * The fields every new person has (those a correction has, empty), and
 * what was given of them: a new person sends no empty field.
 * @param {string} prefix ids' prefix
 */
function nameAndEmail(prefix) {
  const f = personFields(prefix, { name: "" });
  const value = () => {
    const { name, email, lang, time_zone } = f.body();
    return { name, ...(email ? { email } : {}), ...(lang ? { lang } : {}), ...(time_zone ? { time_zone } : {}) };
  };
  return { fields: f.fields, check: f.check, value };
}

/**
 * Adds a person by hand to session `sid`; `added` reads the people again.
 * @param {string} base the session's API path
 * @param {() => Promise<void>} added
 * @param {(text: string) => void} say
 */
export function addPersonForm(base, added, say) {
  const person = nameAndEmail("add-person");
  const role = /** @type {HTMLSelectElement} */ (h("select", { "data-field": "add-person-role" },
    h("option", { value: "participant" }, T("role.participant")),
    h("option", { value: "facilitator" }, T("role.facilitator"))));
  const roleField = field("add-person-role", "enrolment.role", role);
  return form("add-person", "enrolment.person.title", T("enrolment.person.hint"), [...person.fields, roleField.wrap],
    "enrolment.person.submit", async (fail) => {
      if (!person.check()) return false;
      const body = { ...person.value(), role: role.value };
      const a = await call("POST", `${base}/people`, body);
      if (!a.ok) {
        fail(a);
        return false;
      }
      say(t("enrolment.person.added", { name: body.name }));
      await added();
      return true;
    });
}

/**
 * Enrols a beneficiary late in action `aid`; `added` shows the action again.
 * @param {string} aid
 * @param {() => void} added
 */
export function addBeneficiaryForm(aid, added) {
  const person = nameAndEmail("add-beneficiary");
  const employer = /** @type {HTMLInputElement} */ (h("input", { type: "text", maxlength: 200, autocomplete: "off", "data-field": "add-beneficiary-employer" }));
  const employerField = field("add-beneficiary-employer", "enrolment.employer", employer);
  return form("add-beneficiary", "enrolment.beneficiary.title", T("enrolment.beneficiary.hint"), [...person.fields, employerField.wrap],
    "enrolment.beneficiary.submit", async (fail) => {
      if (!person.check()) return false;
      const e = employer.value.trim();
      const a = await call("POST", `/api/actions/${encodeURIComponent(aid)}/beneficiaries`,
        { ...person.value(), ...(e ? { employer: e } : {}) });
      if (!a.ok) {
        fail(a);
        return false;
      }
      added();
      return true;
    });
}

/**
 * The local date (`YYYY-MM-DD`) and time (`HH:MM`) of `iso` in `zone`.
 * @param {string} iso
 * @param {string} zone
 */
function local(iso, zone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

/**
 * Duplicates a session to another day, at the same hours by default; the
 * copy's page opens once it is made.
 * @param {{ id: string, planned_start: string, planned_end: string, time_zone: string }} session
 */
export function duplicateForm(session) {
  const start = local(session.planned_start, session.time_zone);
  const end = local(session.planned_end, session.time_zone);
  const nextWeek = new Date(`${start.date}T12:00:00Z`);
  nextWeek.setUTCDate(nextWeek.getUTCDate() + 7);
  const date = /** @type {HTMLInputElement} */ (h("input", { type: "date", required: true, value: nextWeek.toISOString().slice(0, 10), "data-field": "duplicate-date" }));
  const from = /** @type {HTMLInputElement} */ (h("input", { type: "time", required: true, value: start.time, "data-field": "duplicate-start" }));
  const to = /** @type {HTMLInputElement} */ (h("input", { type: "time", required: true, value: end.time, "data-field": "duplicate-end" }));
  const fields = {
    date: field("duplicate-date", "actions_console.session.date", date),
    from: field("duplicate-start", "actions_console.session.start", from),
    to: field("duplicate-end", "actions_console.session.end", to),
  };
  // The hint names the zone the hours are read in.
  return form("duplicate", "enrolment.duplicate.title", T("enrolment.duplicate.hint", { zone: session.time_zone }), Object.values(fields).map((f) => f.wrap),
    "enrolment.duplicate.submit", async (fail) => {
      fields.date.setError(date.value ? "" : t("actions_console.error.required"));
      fields.from.setError(from.value ? "" : t("actions_console.error.required"));
      fields.to.setError(!to.value ? t("actions_console.error.required")
        : from.value && to.value <= from.value ? t("actions_console.error.end_before_start") : "");
      if (!date.value || !from.value || !to.value || to.value <= from.value) return false;
      const a = await call("POST", `/api/sessions/${encodeURIComponent(session.id)}/duplicate`, {
        planned_start: `${date.value}T${from.value}`,
        planned_end: `${date.value}T${to.value}`,
        time_zone: session.time_zone,
      });
      if (!a.ok) {
        fail(a);
        return false;
      }
      navigate(`/console/sessions/${encodeURIComponent(a.body.id)}`);
      return true;
    }, "h2");
}

/** The states in which staff may still move or cancel a session. */
const PLANNED = ["scheduled", "open", "postponed"];

/**
 * A reason field, required (told to everyone and recorded).
 * @param {string} id
 */
function reasonField(id) {
  const reason = /** @type {HTMLTextAreaElement} */ (h("textarea", { rows: 2, maxlength: 500, required: true, "data-field": id }));
  const f = field(id, "enrolment.reason", /** @type {any} */ (reason), "enrolment.reason_hint");
  const check = () => {
    const missing = !reason.value.trim();
    f.setError(missing ? t("actions_console.error.required") : "");
    if (missing) reason.focus();
    return !missing;
  };
  return { wrap: f.wrap, reason, check };
}

/**
 * Moves or cancels a session that is not under way, each with its reason;
 * the page is read again once done. Nothing for a session under way or
 * over: its facilitator decides from the call.
 * @param {{ id: string, title: string, state: string, planned_start: string, planned_end: string, time_zone: string }} session
 * @returns {Node[]}
 */
export function planningForms(session) {
  if (!PLANNED.includes(session.state)) return [];
  const base = `/api/sessions/${encodeURIComponent(session.id)}`;
  /**
   * Sends the decision; the page is read again once it is made.
   * @param {"postpone" | "cancel"} what
   * @param {Record<string, string>} body
   * @param {(a: import("./console-kit.js").Answer) => void} fail
   */
  const decide = async (what, body, fail) => {
    const a = await call("POST", `${base}/${what}`, body);
    if (!a.ok) {
      fail(a);
      return false;
    }
    showAgain();
    return true;
  };
  const start = local(session.planned_start, session.time_zone);
  const end = local(session.planned_end, session.time_zone);
  const date = /** @type {HTMLInputElement} */ (h("input", { type: "date", required: true, value: start.date, "data-field": "move-date" }));
  const from = /** @type {HTMLInputElement} */ (h("input", { type: "time", required: true, value: start.time, "data-field": "move-start" }));
  const to = /** @type {HTMLInputElement} */ (h("input", { type: "time", required: true, value: end.time, "data-field": "move-end" }));
  const when = {
    date: field("move-date", "actions_console.session.date", date),
    from: field("move-start", "actions_console.session.start", from),
    to: field("move-end", "actions_console.session.end", to),
  };
  const moveReason = reasonField("move-reason");
  const move = form("move", "enrolment.move.title", T("enrolment.move.hint", { zone: session.time_zone }),
    [...Object.values(when).map((f) => f.wrap), moveReason.wrap], "enrolment.move.submit", async (fail) => {
      when.date.setError(date.value ? "" : t("actions_console.error.required"));
      when.to.setError(from.value && to.value && to.value <= from.value ? t("actions_console.error.end_before_start") : "");
      if (!date.value || !from.value || !to.value || to.value <= from.value || !moveReason.check()) return false;
      return decide("postpone", {
        reason: moveReason.reason.value.trim(),
        planned_start: `${date.value}T${from.value}`,
        planned_end: `${date.value}T${to.value}`,
      }, fail);
    }, "h2");
  const cancelReason = reasonField("cancel-reason");
  const cancel = form("cancel", "enrolment.cancel.title", T("enrolment.cancel.hint"), [cancelReason.wrap],
    "enrolment.cancel.submit", async (fail) => {
      if (!cancelReason.check()) return false;
      const sure = await confirmDialog("enrolment.cancel.confirm_title", "enrolment.cancel.confirm_body", "enrolment.cancel.submit",
        session.title, "enrolment.cancel.keep");
      if (!sure) return false;
      return decide("cancel", { reason: cancelReason.reason.value.trim() }, fail);
    }, "h2");
  // Cancelling is not undone: its button says so by its colour too.
  cancel.querySelector('[data-action="cancel-submit"]')?.classList.replace("button-primary", "button-danger");
  return [move, cancel];
}
