// @ts-check
//! What every page of the staff console uses: the API call with the
//! login's CSRF token, the sentence for a failed request, a page's frame,
//! tables, dates, and moving to another page of the console without
//! reloading it.

import { locale, t } from "./i18n.js";
import { T, h } from "./dom.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {{ ok: true, status: number, body: any } | { ok: false, status: number, code: string, message: string, body?: any }} Answer */

/** The login's CSRF token, once logged in. */
let csrf = "";

/** Keeps the login's CSRF token. @param {string} token */
export function setCsrf(token) {
  csrf = token;
}

/**
 * A JSON request to the API; never throws.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<Answer>}
 */
export async function call(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  // A file (a CSV to import) goes as its bytes, the server reads them.
  const file = body instanceof Blob;
  if (body !== undefined) headers["Content-Type"] = file ? (body.type || "text/csv") : "application/json";
  if (method !== "GET") headers["X-Cadre-CSRF"] = csrf;
  try {
    const response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : file ? body : JSON.stringify(body),
    });
    const text = await response.text();
    /** @type {any} */
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (response.ok) return { ok: true, status: response.status, body: parsed };
    return {
      ok: false,
      status: response.status,
      code: typeof parsed?.code === "string" ? parsed.code : "internal",
      message: typeof parsed?.message === "string" ? parsed.message : text,
      // What a page words by itself (an import's refusal names its line).
      body: parsed,
    };
  } catch (e) {
    return { ok: false, status: 0, code: "network", message: String(e) };
  }
}

/**
 * What to tell a staff member when a request failed.
 * @param {Answer} answer
 */
export function problemText(answer) {
  if (answer.ok) return "";
  const worded = refusalText(answer.body);
  if (worded) return t("staff_console.error.invalid", { message: worded });
  switch (answer.code) {
    case "network": return t("staff_console.error.network");
    case "forbidden": return t("staff_console.error.forbidden");
    case "csrf_token":
    case "foreign_origin": return t("staff_console.error.csrf");
    case "unauthorized": return t("staff_console.error.logged_out");
    case "invalid_input":
    case "conflict": return t("staff_console.error.invalid", { message: answer.message });
    default: return t("staff_console.error.other", { message: answer.message });
  }
}

/**
 * A session's state in words: « Annulée » for one staff cancelled, which
 * the server reports as ended.
 * @param {{ state: string, cancelled?: boolean }} s
 */
export function stateLabel(s) {
  return s.cancelled ? t("state.cancelled") : t(/** @type {MessageKey} */ (`state.${s.state}`));
}

/**
 * Sends `form` through `send` when it is submitted: its button is off
 * meanwhile, a refusal is shown in `problem`, and `done` runs once the
 * server took it.
 * @param {HTMLFormElement} form
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} problem
 * @param {(fail: (a: Answer) => void) => Promise<boolean>} send answers whether it went through
 * @param {() => void} done
 */
export function sendOnSubmit(form, button, problem, send, done) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    button.disabled = true;
    try {
      const sent = await send((a) => {
        problem.textContent = problemText(a);
        problem.hidden = false;
      });
      if (sent) done();
    } finally {
      button.disabled = false;
    }
  });
}

/**
 * A refusal the server named (`reason`, with its `args`), in the page's
 * language; empty when it named none this page knows, the server's own
 * sentence then standing.
 * @param {any} body
 */
function refusalText(body) {
  if (typeof body?.reason !== "string") return "";
  const key = /** @type {MessageKey} */ (`refusal.${body.reason}`);
  /** @type {Record<string, string>} */
  const args = { ...(body.args ?? {}) };
  // The state comes as its wire name; said as the lists say it.
  if (args.state) args.state = t(/** @type {MessageKey} */ (`state.${args.state}`));
  const text = t(key, args);
  return text === key ? "" : text;
}

/** @param {number} ms */
export function when(ms) {
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(ms));
}

/**
 * A page's heading and body, or the failure to read it.
 * @param {MessageKey} title
 * @param {Answer} answer
 * @param {(body: any) => Node[]} body
 */
export function page(title, answer, body) {
  return h("section", { class: "card", "aria-labelledby": "page-title" },
    h("h1", { id: "page-title" }, T(title)),
    ...(answer.ok ? body(answer.body) : [h("p", { class: "panel-problem", role: "alert" }, problemText(answer))]));
}

/**
 * The attributes of a table's scrolling wrapper: a table wider than a
 * tablet's screen scrolls sideways, and a keyboard must reach that scroll
 * too, so the wrapper takes the focus, named as its table (a group, not a
 * landmark: the page's section already is one, under the same name).
 * @param {MessageKey} caption
 */
export function tableWrap(caption) {
  return { class: "table-wrap", tabindex: "0", role: "group", "aria-label": () => t(caption) };
}

/**
 * A table with a caption for screen readers.
 * @param {MessageKey} caption
 * @param {MessageKey[]} columns
 * @param {Node[]} rows
 * @param {string} field
 */
export function table(caption, columns, rows, field) {
  return h("div", tableWrap(caption),
    h("table", { class: "report-table", "data-field": field },
      h("caption", { class: "sr-only" }, T(caption)),
      h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", { scope: "col" }, T(c))))),
      h("tbody", {}, ...rows)));
}

/** The item named after the page (`/console/actions/a_…`), if any. */
export function itemFromPath() {
  const part = location.pathname.replace(/^\/console\/?/, "").split("/")[1];
  return part ? decodeURIComponent(part) : null;
}

/** What shows the page the address names; set by the console's frame. */
let showAddressed = () => {};

/** @param {() => void} show */
export function onNavigate(show) {
  showAddressed = show;
}

/** Shows the current page again, read afresh, without a new history entry. */
export function showAgain() {
  showAddressed();
}

/**
 * Goes to a page of the console (`/console/actions/a_…`), in history.
 * @param {string} path
 */
export function navigate(path) {
  history.pushState(null, "", path);
  showAddressed();
}

/**
 * A link to a page of the console, followed without reloading.
 * @param {string} path
 * @param {Node | string} label
 * @param {Record<string, string>} [attrs]
 */
export function consoleLink(path, label, attrs = {}) {
  const a = h("a", { href: path, ...attrs }, label);
  a.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(path);
  });
  return a;
}

/**
 * A labelled field with the place for its error, announced when set.
 * @param {string} id
 * @param {MessageKey} label
 * @param {HTMLInputElement | HTMLSelectElement} control
 * @param {MessageKey} [hint]
 */
export function field(id, label, control, hint) {
  const error = h("p", { id: `${id}-error`, class: "field-error", "data-error": id, role: "alert", hidden: true });
  const described = [hint ? `${id}-hint` : "", `${id}-error`].filter(Boolean).join(" ");
  control.id = id;
  control.setAttribute("aria-describedby", described);
  const wrap = h("div", { class: "field" },
    h("label", { for: id }, T(label)),
    hint ? h("p", { id: `${id}-hint`, class: "panel-hint" }, T(hint)) : null,
    control,
    error);
  /** @param {string} text */
  const setError = (text) => {
    error.textContent = text;
    error.hidden = !text;
    if (text) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  };
  return { wrap, setError };
}

/**
 * Asks to confirm a step that is not undone lightly (a revocation, a
 * re-admission, a cancellation); true to go on.
 * @param {MessageKey} title
 * @param {MessageKey} body
 * @param {MessageKey} confirm
 * @param {string} name
 * @param {MessageKey} [dismiss] the way back's words, when « Annuler » would be ambiguous
 * @returns {Promise<boolean>}
 */
export function confirmDialog(title, body, confirm, name, dismiss = "console_session.cancel") {
  return new Promise((resolve) => {
    const cancel = h("button", { type: "button", class: "button", "data-action": "dialog-cancel", onclick: () => dialog.close("cancel") }, T(dismiss));
    const go = h("button", { type: "submit", class: "button button-danger", "data-action": "dialog-confirm", value: "confirm" }, T(confirm, { name }));
    const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "dialog", "data-dialog": "console-session", "aria-labelledby": "console-dialog-title" },
      h("form", { class: "dialog-form", method: "dialog" },
        h("h2", { id: "console-dialog-title", class: "dialog-title" }, T(title, { name })),
        h("p", { class: "dialog-body" }, T(body, { name })),
        h("div", { class: "dialog-actions" }, cancel, go))));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "confirm");
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
