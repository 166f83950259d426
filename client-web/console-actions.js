// @ts-check
//! The console's actions: the list (`/console/actions`), « Nouvelle action »
//! (`/console/actions/new`: title, nature, hours, the trainees from a CSV
//! file previewed by the server, the sessions) and one action's page
//! (`/console/actions/a_…`: beneficiaries, sessions, certificates).
//!
//! The server reads the file (`POST /api/actions/import`) and stays the
//! authority on every field; this page only refuses to send what it already
//! knows the server would refuse: a file with rejected lines, a session
//! without its date, times or facilitator, an end before its start.

import { dossierLink } from "./console-dossier.js";
import { correctBeneficiaryButton, langLabel } from "./console-corrections.js";
import { addBeneficiaryForm } from "./console-enrolment.js";
import { t } from "./i18n.js";
import { call, consoleLink, field, itemFromPath, navigate, problemText, showAgain, stateLabel, table } from "./console-kit.js";
import { T, h, replaceChildren } from "./dom.js";
import { formatSchedule } from "./ui.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/**
 * @typedef {{ line: number, name: string, email?: string, employer?: string, lang?: string, time_zone?: string }} Imported
 * @typedef {{ line: number, kind: string, column?: string, first_line?: number, reason: string }} Rejected
 * @typedef {{ delimiter: string, beneficiaries: Imported[], rejected: Rejected[], ignored_columns: string[] }} Preview
 */

const NATURES = /** @type {const} */ (["formation", "bilan", "vae", "apprentissage"]);

/** @param {string} nature */
function natureLabel(nature) {
  const key = /** @type {MessageKey} */ (`actions_console.nature.${nature}`);
  const text = t(key);
  return text === key ? nature : text;
}

/** The page the address names under `/console/actions`. @returns {Promise<Node>} */
export function actionsRoute() {
  const item = itemFromPath();
  if (item === "new") return Promise.resolve(newActionPage());
  if (item) return actionPage(item);
  return listPage();
}

async function listPage() {
  const answer = await call("GET", "/api/actions");
  const create = consoleLink("/console/actions/new", T("actions_console.new"), { class: "button button-primary", "data-action": "new-action" });
  /** @param {any[]} actions */
  const body = (actions) => actions.length === 0
    ? [h("p", {}, T("staff_console.actions.none"))]
    : [table("staff_console.actions.title", ["staff_console.actions.col.title", "actions_console.nature", "staff_console.actions.col.hours", "staff_console.actions.col.beneficiaries", "staff_console.actions.col.sessions", "staff_console.dossier.col"],
      actions.map((a) => h("tr", { "data-action-id": a.id },
        h("th", { scope: "row" }, consoleLink(`/console/actions/${encodeURIComponent(a.id)}`, a.title)),
        h("td", {}, natureLabel(a.nature)),
        h("td", { class: "num" }, String(a.planned_hours)),
        h("td", { class: "num" }, String(a.beneficiaries)),
        h("td", { class: "num" }, String(a.sessions)),
        h("td", {}, dossierLink(a)))), "actions")];
  return h("section", { class: "card", "aria-labelledby": "page-title" },
    h("div", { class: "console-title-row" }, h("h1", { id: "page-title" }, T("staff_console.actions.title")), create),
    ...(answer.ok ? body(answer.body) : [h("p", { class: "panel-problem", role: "alert" }, problemText(answer))]));
}

/** One session of the form. */
class SessionRow {
  /**
   * @param {number} n
   * @param {() => void} changed
   * @param {(row: SessionRow) => void} remove
   */
  constructor(n, changed, remove) {
    const id = (/** @type {string} */ what) => `session-${n}-${what}`;
    this.date = h("input", { type: "date", required: true, "data-field": "session-date" });
    this.start = h("input", { type: "time", required: true, "data-field": "session-start" });
    this.end = h("input", { type: "time", required: true, "data-field": "session-end" });
    this.zone = h("input", { type: "text", required: true, value: "Europe/Paris", autocomplete: "off", "data-field": "session-zone" });
    this.who = h("input", { type: "text", required: true, maxlength: 120, autocomplete: "off", "data-field": "session-facilitator" });
    this.email = h("input", { type: "email", autocomplete: "off", "data-field": "session-facilitator-email" });
    this.fields = {
      date: field(id("date"), "actions_console.session.date", this.date),
      start: field(id("start"), "actions_console.session.start", this.start),
      end: field(id("end"), "actions_console.session.end", this.end),
      zone: field(id("zone"), "actions_console.session.zone", this.zone),
      who: field(id("who"), "actions_console.session.facilitator", this.who),
      email: field(id("email"), "actions_console.session.facilitator_email", this.email),
    };
    this.legend = h("legend", {});
    this.problem = h("p", { class: "panel-problem", role: "alert", "data-field": "session-error", hidden: true });
    const removeButton = h("button", { type: "button", class: "button button-light", "data-action": "remove-session" }, T("actions_console.session.remove"));
    removeButton.addEventListener("click", () => remove(this));
    this.removeButton = removeButton;
    this.node = h("fieldset", { class: "console-session-row", "data-field": "session-row" },
      this.legend,
      h("div", { class: "console-session-grid" }, ...Object.values(this.fields).map((f) => f.wrap)),
      this.problem,
      removeButton);
    for (const input of [this.date, this.start, this.end, this.zone, this.who, this.email]) {
      input.addEventListener("input", changed);
      input.addEventListener("change", () => {
        this.check(true);
        changed();
      });
    }
  }

  /** @param {number} index @param {number} count */
  number(index, count) {
    this.index = index;
    this.legend.textContent = t("actions_console.session.legend", { n: index + 1 });
    this.removeButton.hidden = count < 2;
    this.removeButton.setAttribute("aria-label", t("actions_console.session.remove_n", { n: index + 1 }));
  }

  /**
   * Whether the row is complete and consistent; `show`: put each problem
   * next to its field.
   * @param {boolean} show
   */
  check(show) {
    /** @type {[keyof SessionRow["fields"], string][]} */
    const problems = [];
    if (!this.date.value) problems.push(["date", t("actions_console.error.required")]);
    if (!this.start.value) problems.push(["start", t("actions_console.error.required")]);
    if (!this.end.value) problems.push(["end", t("actions_console.error.required")]);
    else if (this.start.value && this.end.value <= this.start.value) problems.push(["end", t("actions_console.error.end_before_start")]);
    if (!this.zone.value.trim()) problems.push(["zone", t("actions_console.error.required")]);
    if (!this.who.value.trim()) problems.push(["who", t("actions_console.error.required")]);
    if (this.email.value.trim() && !this.email.checkValidity()) problems.push(["email", t("actions_console.error.email")]);
    if (show) {
      for (const [name, f] of Object.entries(this.fields)) {
        const found = problems.find(([n]) => n === name);
        // Only what was touched complains: an empty new row is not an error yet.
        const input = /** @type {HTMLInputElement} */ (f.wrap.querySelector("input"));
        f.setError(found && (input.value || input.dataset.touched) ? found[1] : "");
      }
    }
    return problems.length === 0;
  }

  body() {
    const email = this.email.value.trim();
    return {
      planned_start: `${this.date.value}T${this.start.value}`,
      planned_end: `${this.date.value}T${this.end.value}`,
      time_zone: this.zone.value.trim(),
      facilitators: [{ name: this.who.value.trim(), ...(email ? { email } : {}) }],
    };
  }
}

/** @param {Rejected} r */
function rejectionText(r) {
  const key = /** @type {MessageKey} */ (`actions_console.rejected.${r.kind}`);
  const text = t(key, { line: r.line, column: r.column ?? "", first: r.first_line ?? "" });
  return text === key ? r.reason : text;
}

/**
 * A refused file, in the person's language when the server said what is
 * wrong (`ImportRefusal.problem`), else its sentence.
 * @param {import("./console-kit.js").Answer} answer
 */
function refusalText(answer) {
  if (answer.ok) return "";
  const r = answer.body;
  const key = /** @type {MessageKey} */ (`actions_console.file.${r?.problem}`);
  if (r && typeof r.problem === "string" && t(key) !== key) {
    return t(key, { line: r.line ?? "", count: r.count ?? "", limit: r.limit ?? "",
      headers: (r.headers ?? []).map((/** @type {string} */ h) => `« ${h} »`).join(", ") });
  }
  return answer.code === "invalid_input"
    ? t("actions_console.file_refused", { message: answer.message.replace(/^import: /, "") })
    : problemText(answer);
}

/** « Nouvelle action ». @returns {Node} */
function newActionPage() {
  document.title = `${t("actions_console.new")} · ${t("staff_console.title")}`;
  const title = h("input", { type: "text", required: true, maxlength: 200, autocomplete: "off", "data-field": "action-title" });
  const nature = h("select", { "data-field": "action-nature" },
    ...NATURES.map((n) => h("option", { value: n }, natureLabel(n))));
  const hours = h("input", { type: "number", required: true, min: "0.25", max: "2000", step: "0.25", inputmode: "decimal", "data-field": "action-hours" });
  const file = h("input", { type: "file", accept: ".csv,text/csv", "data-field": "action-file" });
  const titleField = field("action-title", "actions_console.title", title);
  const natureField = field("action-nature", "actions_console.nature", nature);
  const hoursField = field("action-hours", "actions_console.hours", hours);
  const fileField = field("action-file", "actions_console.file", file, "actions_console.file_hint");
  const preview = h("div", { class: "console-preview", "data-field": "preview", "aria-live": "polite" });
  /** @type {Preview | null} */
  let read = null;

  /** @type {SessionRow[]} */
  const rows = [];
  const rowsBox = h("div", { class: "console-sessions", "data-field": "sessions" });
  const blocked = h("p", { id: "create-blocked", class: "panel-hint", "data-field": "create-blocked", "aria-live": "polite" });
  const submit = h("button", { type: "submit", class: "button button-primary", "data-action": "create-action", "aria-describedby": "create-blocked" }, T("actions_console.create"));
  const problem = h("p", { class: "panel-problem", role: "alert", "data-field": "create-error", hidden: true });

  const update = () => {
    /** @type {string[]} */
    const missing = [];
    if (!title.value.trim()) missing.push(t("actions_console.blocked.title"));
    const n = Number(hours.value);
    if (!hours.value || !(n > 0 && n <= 2000)) missing.push(t("actions_console.blocked.hours"));
    if (!read) missing.push(t("actions_console.blocked.file"));
    else if (read.rejected.length > 0) missing.push(t("actions_console.blocked.rejected", { n: read.rejected.length }));
    else if (read.beneficiaries.length === 0) missing.push(t("actions_console.blocked.nobody"));
    if (!rows.every((r) => r.check(false))) missing.push(t("actions_console.blocked.sessions"));
    submit.disabled = missing.length > 0;
    blocked.textContent = missing.length > 0 ? t("actions_console.blocked", { what: missing.join(" ; ") }) : "";
  };
  const renumber = () => {
    rows.forEach((r, i) => r.number(i, rows.length));
    update();
  };
  /** @param {SessionRow} row */
  const remove = (row) => {
    rows.splice(rows.indexOf(row), 1);
    row.node.remove();
    renumber();
    rows[0]?.date.focus();
  };
  const addRow = () => {
    const row = new SessionRow(rows.length + Date.now(), update, remove);
    rows.push(row);
    rowsBox.append(row.node);
    renumber();
    return row;
  };
  addRow();
  const add = h("button", { type: "button", class: "button button-light", "data-action": "add-session" }, T("actions_console.session.add"));
  add.addEventListener("click", () => addRow().date.focus());

  for (const input of [title, hours]) input.addEventListener("input", update);
  title.addEventListener("change", () => titleField.setError(title.value.trim() ? "" : t("actions_console.error.required")));
  hours.addEventListener("change", () => {
    const n = Number(hours.value);
    hoursField.setError(hours.value && n > 0 && n <= 2000 ? "" : t("actions_console.error.hours"));
  });

  // A file corrected and chosen again under the same name must be read
  // again: browsers send no change for the same choice.
  file.addEventListener("click", () => {
    file.value = "";
  });
  file.addEventListener("change", async () => {
    read = null;
    fileField.setError("");
    replaceChildren(preview);
    update();
    const chosen = file.files?.[0];
    if (!chosen) return;
    preview.append(h("p", { class: "panel-hint" }, T("actions_console.reading")));
    const answer = await call("POST", "/api/actions/import", chosen);
    replaceChildren(preview);
    if (!answer.ok) {
      fileField.setError(refusalText(answer));
      update();
      return;
    }
    read = /** @type {Preview} */ (answer.body);
    showPreview(preview, read);
    update();
  });

  const form = h("form", { class: "console-form console-action-form", "data-field": "new-action", novalidate: true },
    h("div", { class: "console-action-fields" }, titleField.wrap, natureField.wrap, hoursField.wrap),
    h("h2", {}, T("actions_console.people")),
    fileField.wrap,
    preview,
    h("h2", {}, T("actions_console.sessions")),
    rowsBox,
    add,
    h("div", { class: "console-submit" }, submit, blocked),
    problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    rows.forEach((r) => {
      for (const input of r.node.querySelectorAll("input")) input.dataset.touched = "1";
      r.check(true);
    });
    update();
    if (submit.disabled || !read) return;
    submit.disabled = true;
    problem.hidden = true;
    const answer = await call("POST", "/api/actions", {
      title: title.value.trim(),
      nature: nature.value,
      planned_hours: Number(hours.value),
      beneficiaries: read.beneficiaries.map((b) => ({ name: b.name, email: b.email, employer: b.employer, lang: b.lang, time_zone: b.time_zone })),
      sessions: rows.map((r) => r.body()),
    });
    if (answer.ok) {
      navigate(`/console/actions/${encodeURIComponent(answer.body.id)}`);
      return;
    }
    submit.disabled = false;
    // A refused session is named `sessions[i]`: its row says it too.
    const at = /^sessions\[(\d+)\]/.exec(answer.message);
    const row = at ? rows[Number(at[1])] : undefined;
    if (row) {
      row.problem.textContent = problemText(answer);
      row.problem.hidden = false;
    }
    problem.textContent = problemText(answer);
    problem.hidden = false;
  });

  return h("section", { class: "card", "aria-labelledby": "page-title" },
    h("p", {}, consoleLink("/console/actions", T("actions_console.back"))),
    h("h1", { id: "page-title" }, T("actions_console.new")),
    form);
}

/**
 * The file's preview: file-level facts, the accepted people, each rejected
 * line.
 * @param {HTMLElement} box
 * @param {Preview} read
 */
function showPreview(box, read) {
  const ok = read.rejected.length === 0;
  box.append(h("p", { class: ok ? "panel-hint" : "panel-problem", "data-field": "preview-summary" },
    T(ok ? "actions_console.preview.clean" : "actions_console.preview.some_rejected",
      { n: read.beneficiaries.length, rejected: read.rejected.length })));
  if (read.rejected.length > 0) {
    box.append(h("h3", { id: "rejected-title" }, T("actions_console.preview.rejected")),
      h("ul", { class: "console-rejected", "data-field": "rejected", "aria-labelledby": "rejected-title" },
        ...read.rejected.map((r) => h("li", { "data-line": String(r.line) }, rejectionText(r)))));
  }
  if (read.ignored_columns.length > 0) {
    box.append(h("p", { class: "panel-hint", "data-field": "ignored" },
      T("actions_console.preview.ignored", { columns: read.ignored_columns.join(", ") })));
  }
  if (read.beneficiaries.length > 0) {
    // The language and zone columns only when the file has them.
    const langs = read.beneficiaries.some((b) => b.lang);
    const zones = read.beneficiaries.some((b) => b.time_zone);
    /** @type {MessageKey[]} */
    const columns = ["actions_console.col.line", "actions_console.col.name", "actions_console.col.email", "actions_console.col.employer"];
    if (langs) columns.push("actions_console.col.lang");
    if (zones) columns.push("actions_console.col.zone");
    box.append(table("actions_console.preview.accepted", columns,
      read.beneficiaries.map((b) => h("tr", { "data-line": String(b.line) },
        h("td", { class: "num" }, String(b.line)),
        h("th", { scope: "row" }, b.name),
        h("td", { class: "console-email" }, b.email ?? ""),
        h("td", {}, b.employer ?? ""),
        langs ? h("td", { "data-field": "preview-lang" }, langLabel(b.lang)) : null,
        zones ? h("td", { "data-field": "preview-zone" }, b.time_zone ?? "") : null)), "preview-people"));
  }
}

/**
 * One action: what it is, its sessions, its beneficiaries and their
 * certificates.
 * @param {string} aid
 * @returns {Promise<Node>}
 */
async function actionPage(aid) {
  const answer = await call("GET", `/api/actions/${encodeURIComponent(aid)}`);
  const back = h("p", {}, consoleLink("/console/actions", T("actions_console.back")));
  if (!answer.ok) {
    return h("section", { class: "card", "aria-labelledby": "page-title" }, back,
      h("h1", { id: "page-title" }, T("staff_console.actions.title")),
      h("p", { class: "panel-problem", role: "alert" }, problemText(answer)));
  }
  /** @type {any} */
  const a = answer.body;
  document.title = `${a.title} · ${t("staff_console.title")}`;
  const base = `/api/actions/${encodeURIComponent(a.id)}/beneficiaries`;
  return h("section", { class: "card", "aria-labelledby": "page-title", "data-screen": "action" },
    back,
    h("h1", { id: "page-title", "data-field": "action-title" }, a.title),
    h("dl", { class: "console-facts" },
      h("dt", {}, T("actions_console.nature")), h("dd", { "data-field": "action-nature" }, natureLabel(a.nature)),
      h("dt", {}, T("actions_console.hours")), h("dd", { "data-field": "action-hours" }, T("actions_console.hours_value", { n: a.planned_hours })),
      h("dt", {}, T("staff_console.dossier.col")), h("dd", {}, dossierLink(a))),
    h("h2", {}, T("actions_console.sessions_n", { n: a.sessions.length })),
    a.sessions.length === 0 ? h("p", {}, T("actions_console.no_sessions"))
      : table("actions_console.sessions", ["actions_console.col.session", "actions_console.col.when", "staff_console.sessions.col.state"],
        a.sessions.map((/** @type {any} */ s) => h("tr", { "data-session": s.id },
          h("th", { scope: "row" }, consoleLink(`/console/sessions/${encodeURIComponent(s.id)}`, s.title)),
          h("td", {}, formatSchedule(s)),
          h("td", { "data-field": "session-state" }, stateLabel(s)))), "action-sessions"),
    h("h2", {}, T("actions_console.people_n", { n: a.beneficiaries.length })),
    table("actions_console.people", ["actions_console.col.name", "actions_console.col.email", "actions_console.col.employer", "actions_console.col.certificate"],
      a.beneficiaries.map((/** @type {any} */ b) => h("tr", { "data-beneficiary": b.id },
        h("th", { scope: "row" }, b.name, h("br", {}), correctBeneficiaryButton(a.id, b, showAgain)),
        h("td", { class: "console-email" }, b.email ?? "",
          b.lang ? h("span", { class: "console-actor", "data-field": "beneficiary-lang" }, h("br", {}), langLabel(b.lang)) : null,
          b.time_zone ? h("span", { class: "console-actor", "data-field": "beneficiary-zone" }, h("br", {}), b.time_zone) : null),
        h("td", {}, b.employer ?? ""),
        // The visible words first, then whose: a voice command says what it sees.
        h("td", {}, h("a", { href: `${base}/${encodeURIComponent(b.id)}/certificate`, download: "" },
          T("actions_console.certificate"),
          h("span", { class: "sr-only" }, T("actions_console.certificate_of", { name: b.name })))))), "action-people"),
    // Shown again from the server once enrolled: the new row, each session's count.
    addBeneficiaryForm(a.id, showAgain));
}
