// @ts-check
//! The staff console at `/console`: the login form, then a frame with the
//! navigation (Séances, Actions, Signalements, Enregistrements, Organisme,
//! Équipe, Journal) and one page at a time,
//! addressed as `/console/{page}`. Only what works is listed: the sessions
//! and actions as the API lists them, staff accounts and the audit log for
//! administrators (a coordinator has neither entry; the server refuses them
//! anyway). The login is an HttpOnly cookie this page never reads; every
//! request that changes something carries the login's CSRF token in
//! `X-Cadre-CSRF`.

import { onLanguageChange, t } from "./i18n.js";
import { actionsRoute } from "./console-actions.js";
import { call, consoleLink, itemFromPath, onNavigate, page, problemText, setCsrf, stateLabel, table, tableWrap, when } from "./console-kit.js";
import { inboxPage } from "./console-inbox.js";
import { organisationPage } from "./console-organisation.js";
import { recordingsPage } from "./console-recordings.js";
import { sessionPage } from "./console-session.js";
import { T, h, replaceChildren } from "./dom.js";
import { formatSchedule, kindLabel, loadingScreen } from "./ui.js";

/** @typedef {import("./ui.js").Shell} Shell */
/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {"administrator" | "coordinator"} StaffRole */
/**
 * A staff account as `/api/staff` answers it.
 * @typedef {{ id: string, email: string, name: string, role: StaffRole, created_at: number,
 *   disabled_at?: number, failed_attempts: number, locked_until?: number }} StaffView
 */
/** @typedef {{ staff: StaffView, csrf: string }} StaffMe */
/**
 * @typedef {{ seq: number, at: number, actor: string, staff_id?: string, email?: string,
 *   action: string, target?: string, address?: string }} AuditEntry
 */
/** @typedef {{ entries: AuditEntry[], next_before?: number }} AuditPage */
/** @typedef {import("./console-kit.js").Answer} Answer */

/** The pages, in the navigation's order; `admin`: administrators only. */
const PAGES = /** @type {const} */ ([
  { id: "sessions", label: "staff_console.nav.sessions", admin: false },
  { id: "actions", label: "staff_console.nav.actions", admin: false },
  { id: "reports", label: "staff_console.nav.reports", admin: false },
  { id: "recordings", label: "staff_console.nav.recordings", admin: false },
  { id: "organisation", label: "staff_console.nav.organisation", admin: true },
  { id: "staff", label: "staff_console.nav.staff", admin: true },
  { id: "journal", label: "staff_console.nav.journal", admin: true },
]);

/** @typedef {(typeof PAGES)[number]["id"]} PageId */

/** The page named by the address (`/console/staff`), or the first. @returns {PageId} */
function pageFromPath() {
  const name = location.pathname.replace(/^\/console\/?/, "").split("/")[0];
  return PAGES.find((p) => p.id === name)?.id ?? "sessions";
}

/**
 * Opens the console in the page.
 * @param {Shell} shell
 */
export async function openConsole(shell) {
  document.body.dataset.page = "console";
  shell.setStatus(null);
  shell.setBanner(null);
  shell.setSessionTitle(null);
  shell.show(loadingScreen("staff_console.loading"));
  const me = await call("GET", "/api/staff/me");
  if (me.ok) {
    setCsrf(/** @type {StaffMe} */ (me.body).csrf);
    showFrame(shell, /** @type {StaffMe} */ (me.body).staff);
  } else {
    showLogin(shell);
  }
}

/**
 * The login form.
 * @param {Shell} shell
 */
function showLogin(shell) {
  document.title = `${t("staff_console.login.title")} · ${t("app.name")}`;
  const email = h("input", { id: "login-email", type: "email", name: "email", autocomplete: "username", required: true, "data-field": "login-email" });
  const password = h("input", { id: "login-password", type: "password", name: "password", autocomplete: "current-password", required: true, "data-field": "login-password" });
  const problem = h("p", { class: "panel-problem", role: "alert", "data-field": "login-error", hidden: true });
  const submit = h("button", { type: "submit", class: "button button-primary", "data-action": "login" }, T("staff_console.login.submit"));
  const form = h("form", { class: "console-form", "data-field": "login-form" },
    h("div", { class: "field" }, h("label", { for: "login-email" }, T("staff_console.login.email")), email),
    h("div", { class: "field" }, h("label", { for: "login-password" }, T("staff_console.login.password")), password),
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    const answer = await call("POST", "/api/staff/login", { email: email.value, password: password.value });
    submit.disabled = false;
    if (answer.ok) {
      setCsrf(/** @type {StaffMe} */ (answer.body).csrf);
      password.value = "";
      showFrame(shell, /** @type {StaffMe} */ (answer.body).staff);
      return;
    }
    // One sentence for every refused login: the server says no more.
    problem.textContent = answer.status === 401
      ? t("staff_console.login.failed")
      : answer.code === "rate_limited" ? t("staff_console.login.rate_limited") : problemText(answer);
    problem.hidden = false;
    password.value = "";
    password.focus();
  });
  shell.show(h("section", { class: "card card-narrow", "data-screen": "console-login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, T("staff_console.login.title")),
    h("p", {}, T("staff_console.login.intro")),
    form,
    problem));
  email.focus();
}

/**
 * The frame: who is logged in, the navigation, the current page.
 * @param {Shell} shell
 * @param {StaffView} me
 */
function showFrame(shell, me) {
  const admin = me.role === "administrator";
  const pages = PAGES.filter((p) => admin || !p.admin);
  const content = h("div", { class: "console-page", "data-field": "console-page" });
  /** @type {Map<PageId, HTMLAnchorElement>} */
  const links = new Map();
  const nav = h("nav", { class: "console-nav", "aria-label": () => t("staff_console.nav.label") },
    h("ul", {}, ...pages.map((p) => {
      const a = consoleLink(`/console/${p.id}`, T(p.label), { "data-nav": p.id });
      links.set(p.id, a);
      return h("li", {}, a);
    })));
  const logout = h("button", { type: "button", class: "button button-light", "data-action": "logout" }, T("staff_console.logout"));
  logout.addEventListener("click", async () => {
    await call("POST", "/api/staff/logout");
    history.pushState(null, "", "/console");
    showLogin(shell);
  });
  const frame = h("div", { class: "console", "data-screen": "console" },
    h("div", { class: "console-head" },
      h("p", { class: "console-who", "data-field": "console-who" },
        T("staff_console.who", { name: me.name, role: t(admin ? "staff_console.role.administrator" : "staff_console.role.coordinator") })),
      logout),
    nav,
    content);

  let asked = 0;
  const show = () => {
    let page = pageFromPath();
    if (!pages.some((p) => p.id === page)) page = "sessions";
    for (const [id, a] of links) {
      if (id === page) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const label = PAGES.find((p) => p.id === page)?.label ?? "staff_console.nav.sessions";
    document.title = `${t(label)} · ${t("staff_console.title")}`;
    const mine = ++asked;
    // A page that shows one of its items (`/console/sessions/s_…`) reads
    // it with `itemFromPath()`.
    /** @type {Record<PageId, () => Promise<Node>>} */
    const render = {
      sessions: () => {
        const sid = itemFromPath();
        return sid ? sessionPage(sid) : sessionsPage();
      },
      actions: () => actionsRoute(),
      reports: () => inboxPage(),
      recordings: () => recordingsPage(),
      organisation: () => organisationPage(),
      staff: () => staffPage(me),
      journal: () => journalPage(),
    };
    void render[page]().then((node) => {
      // A page asked for meanwhile wins over this slower one.
      if (mine === asked) replaceChildren(content, node);
    });
  };
  window.onpopstate = show;
  onNavigate(show);
  onLanguageChange(() => {
    if (document.body.contains(frame)) show();
  });
  shell.show(frame);
  show();
}

async function sessionsPage() {
  const answer = await call("GET", "/api/sessions");
  return page("staff_console.sessions.title", answer, (/** @type {any[]} */ sessions) => sessions.length === 0
    ? [h("p", {}, T("staff_console.sessions.none"))]
    : [table("staff_console.sessions.title", ["staff_console.sessions.col.title", "staff_console.sessions.col.kind", "staff_console.sessions.col.when", "staff_console.sessions.col.state", "staff_console.sessions.col.people"],
      sessions.map((s) => h("tr", { "data-session": s.id },
        h("th", { scope: "row" }, consoleLink(`/console/sessions/${encodeURIComponent(s.id)}`, s.title, { "data-open-session": s.id })),
        h("td", {}, kindLabel(s.kind)),
        h("td", {}, formatSchedule(s)),
        h("td", { "data-field": "session-state" }, stateLabel(s)),
        h("td", { class: "num" }, String(s.people)))), "sessions"),
    h("p", { class: "panel-hint" }, T("staff_console.sessions.soon"))]);
}

/**
 * Staff accounts: the list with each account's state and what an
 * administrator may change, and the form to add one.
 * @param {StaffView} me
 * @returns {Promise<Node>}
 */
async function staffPage(me) {
  const answer = await call("GET", "/api/staff");
  const problem = h("p", { class: "panel-problem", role: "alert", "data-field": "staff-error", hidden: true });
  const container = h("div", {});
  /** @param {Answer} a */
  const failed = (a) => {
    problem.textContent = problemText(a);
    problem.hidden = false;
  };
  const reload = async () => replaceChildren(container, await staffPage(me));
  /**
   * @param {StaffView} s
   * @param {object} change
   */
  const patch = async (s, change) => {
    const a = await call("PATCH", `/api/staff/${encodeURIComponent(s.id)}`, change);
    if (a.ok) await reload();
    else failed(a);
  };
  /** @param {StaffView} s */
  const row = (s) => {
    const locked = s.locked_until !== undefined && s.locked_until > Date.now();
    const state = s.disabled_at !== undefined ? t("staff_console.staff.disabled")
      : locked ? t("staff_console.staff.locked", { when: when(/** @type {number} */ (s.locked_until)) })
        : t("staff_console.staff.active");
    /** @type {Node[]} */
    const buttons = [];
    if (s.id !== me.id) {
      const other = s.role === "administrator" ? "coordinator" : "administrator";
      buttons.push(h("button", { type: "button", class: "button button-light", "data-action": "staff-role",
        onclick: () => patch(s, { role: other }) },
      T(other === "administrator" ? "staff_console.staff.make_admin" : "staff_console.staff.make_coordinator", { name: s.name })));
      buttons.push(h("button", { type: "button", class: "button button-light", "data-action": "staff-disable",
        onclick: () => patch(s, { disabled: s.disabled_at === undefined }) },
      T(s.disabled_at === undefined ? "staff_console.staff.disable" : "staff_console.staff.enable", { name: s.name })));
    }
    if (locked) {
      buttons.push(h("button", { type: "button", class: "button button-light", "data-action": "staff-unlock",
        onclick: () => patch(s, { unlock: true }) }, T("staff_console.staff.unlock", { name: s.name })));
    }
    return h("tr", { "data-staff": s.email },
      h("th", { scope: "row" }, s.name),
      h("td", { class: "console-email" }, s.email),
      h("td", {}, T(s.role === "administrator" ? "staff_console.role.administrator" : "staff_console.role.coordinator")),
      h("td", { "data-field": "staff-state" }, state),
      h("td", {}, h("div", { class: "console-buttons" }, ...buttons)));
  };

  const email = h("input", { id: "new-email", type: "email", required: true, autocomplete: "off", "data-field": "new-email" });
  const name = h("input", { id: "new-name", type: "text", required: true, maxlength: 120, autocomplete: "off", "data-field": "new-name" });
  const role = h("select", { id: "new-role", "data-field": "new-role" },
    h("option", { value: "coordinator" }, t("staff_console.role.coordinator")),
    h("option", { value: "administrator" }, t("staff_console.role.administrator")));
  const password = h("input", { id: "new-password", type: "password", required: true, minlength: 12, autocomplete: "new-password",
    "aria-describedby": "new-password-hint", "data-field": "new-password" });
  const form = h("form", { class: "console-form console-add", "data-field": "staff-add" },
    h("h2", {}, T("staff_console.staff.add_title")),
    h("div", { class: "field" }, h("label", { for: "new-name" }, T("staff_console.staff.name")), name),
    h("div", { class: "field" }, h("label", { for: "new-email" }, T("staff_console.login.email")), email),
    h("div", { class: "field" }, h("label", { for: "new-role" }, T("staff_console.staff.role")), role),
    h("div", { class: "field" }, h("label", { for: "new-password" }, T("staff_console.staff.password")), password,
      h("p", { id: "new-password-hint", class: "panel-hint" }, T("staff_console.staff.password_hint"))),
    h("button", { type: "submit", class: "button button-primary", "data-action": "staff-add" }, T("staff_console.staff.add")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const a = await call("POST", "/api/staff", { email: email.value, name: name.value, role: role.value, password: password.value });
    if (a.ok) await reload();
    else failed(a);
  });

  replaceChildren(container, page("staff_console.staff.title", answer, (/** @type {StaffView[]} */ all) => [
    table("staff_console.staff.title", ["staff_console.staff.name", "staff_console.login.email", "staff_console.staff.role", "staff_console.staff.state", "staff_console.staff.actions"],
      all.map(row), "staff"),
    problem,
    form,
  ]));
  return container;
}

/** The audit log, newest first, fifty at a time. @returns {Promise<Node>} */
async function journalPage() {
  const answer = await call("GET", "/api/staff/audit");
  const tbody = h("tbody", {});
  const more = h("button", { type: "button", class: "button button-light", "data-action": "journal-more", hidden: true }, T("staff_console.journal.more"));
  /** @param {AuditEntry} e */
  const row = (e) => h("tr", { "data-entry": String(e.seq) },
    h("td", {}, when(e.at)),
    h("td", { class: "console-email" }, e.actor === "staff" || e.email ? (e.email ?? "") : "",
      e.actor === "staff" ? "" : h("span", { class: "console-actor" }, ` (${actorLabel(e.actor)})`)),
    h("th", { scope: "row" }, actionLabel(e.action)),
    h("td", { class: "console-email" }, e.target ?? ""),
    h("td", {}, e.address ?? ""));
  /** @param {AuditPage} p */
  const add = (p) => {
    tbody.append(...p.entries.map(row));
    more.hidden = p.next_before === undefined;
    more.onclick = async () => {
      const next = await call("GET", `/api/staff/audit?before=${p.next_before}`);
      if (next.ok) add(next.body);
    };
  };
  if (answer.ok) add(answer.body);
  return page("staff_console.journal.title", answer, () => [
    h("p", {}, T("staff_console.journal.intro")),
    h("div", tableWrap("staff_console.journal.title"),
      h("table", { class: "report-table", "data-field": "journal" },
        h("caption", { class: "sr-only" }, T("staff_console.journal.title")),
        h("thead", {}, h("tr", {}, ...(/** @type {MessageKey[]} */ (["staff_console.journal.col.when", "staff_console.journal.col.who", "staff_console.journal.col.what", "staff_console.journal.col.object", "staff_console.journal.col.address"]))
          .map((c) => h("th", { scope: "col" }, T(c))))),
        tbody)),
    more,
  ]);
}

/** @param {string} actor */
function actorLabel(actor) {
  switch (actor) {
    case "organiser_token": return t("staff_console.actor.organiser_token");
    case "command_line": return t("staff_console.actor.command_line");
    case "anonymous": return t("staff_console.actor.anonymous");
    default: return actor;
  }
}

/** A known action in words; a route (`POST /api/sessions`) as it is. @param {string} action */
function actionLabel(action) {
  const key = /** @type {MessageKey} */ (`staff_console.action.${action}`);
  const text = t(key);
  return text === key ? action : text;
}
