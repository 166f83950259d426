// @ts-check
//! The difficulty reports of every session (article 6), in the staff
//! console at `/console/reports`: those still to answer first, the longest
//! waiting on top, each with its session (where it is answered in
//! writing), its author and when it came. A choice narrows the list to
//! one state.

import { locale, t } from "./i18n.js";
import { call, consoleLink, page, showAgain, table } from "./console-kit.js";
import { T, h } from "./dom.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/**
 * @typedef {{ id: string, session_id: string, author: { id: string, name: string, role: string }, text: string,
 *   status: "open" | "answered" | "closed", created_at: number, answer?: string, answered_at?: number,
 *   closed_at?: number, session_title: string, planned_start: string, time_zone: string }} InboxLine
 */

/** The states the list can be narrowed to; "" is all. */
const FILTERS = /** @type {const} */ (["open", "answered", "closed", ""]);
/** How much of a report the list shows; the session's page has all of it. */
const EXCERPT = 240;

/** The filter the address names (`?status=open`); open ones by default. */
function filterFromAddress() {
  const asked = new URLSearchParams(location.search).get("status") ?? "open";
  return FILTERS.find((f) => f === asked) ?? "open";
}

/**
 * When a report came, on its session's clock.
 * @param {number} ms
 * @param {string} zone
 */
function received(ms, zone) {
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short", timeZone: zone }).format(new Date(ms));
}

/** @returns {Promise<Node>} */
export async function inboxPage() {
  const status = filterFromAddress();
  const answer = await call("GET", `/api/difficulties${status ? `?status=${status}` : ""}`);
  const choice = /** @type {HTMLSelectElement} */ (h("select", { id: "inbox-status", "data-field": "inbox-status" },
    ...FILTERS.map((f) => h("option", { value: f, selected: f === status }, T(/** @type {MessageKey} */ (`inbox.filter.${f || "all"}`))))));
  choice.addEventListener("change", () => {
    const path = choice.value ? `/console/reports?status=${choice.value}` : "/console/reports?status=";
    history.replaceState(null, "", path);
    showAgain();
  });
  return page("inbox.title", answer, (/** @type {InboxLine[]} */ lines) => [
    h("p", {}, T("inbox.intro")),
    h("div", { class: "field console-filter" }, h("label", { for: "inbox-status" }, T("inbox.filter")), choice),
    h("p", { role: "status", "data-field": "inbox-count" }, T(/** @type {MessageKey} */ (`inbox.count.${status || "all"}`), { n: lines.length })),
    lines.length === 0 ? h("p", {}, T("inbox.none"))
      : table("inbox.title", ["inbox.col.received", "inbox.col.session", "inbox.col.author", "inbox.col.text", "inbox.col.status"],
        lines.map((r) => h("tr", { "data-report": r.id, "data-status": r.status },
          h("td", {}, received(r.created_at, r.time_zone)),
          h("th", { scope: "row" }, consoleLink(`/console/sessions/${encodeURIComponent(r.session_id)}`, r.session_title, { "data-open-session": r.session_id })),
          h("td", {}, r.author.name, h("br", {}), h("span", { class: "console-actor" }, t(/** @type {MessageKey} */ (`role.${r.author.role}`)))),
          h("td", { class: "console-excerpt" }, r.text.length > EXCERPT ? `${r.text.slice(0, EXCERPT)}…` : r.text),
          h("td", {}, T(/** @type {MessageKey} */ (`console_session.reports.status.${r.status}`))))), "inbox"),
  ]);
}
