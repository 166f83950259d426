// @ts-check
//! Every session's recordings in the staff console, `/console/recordings`:
//! which segments are kept, how large, and when the retention deletes
//! them (the next to go on top), then those already deleted. The files
//! themselves are the session's: its facilitators watch and download them
//! from the call; the ledger keeps their hashes after the deletion.

import { locale, t } from "./i18n.js";
import { call, consoleLink, page, table } from "./console-kit.js";
import { T, h } from "./dom.js";

/**
 * @typedef {{ session_id: string, session_title: string, time_zone: string, segment: number, started_at: number,
 *   closed_at?: number, people: number, bytes: number, delete_at?: number, purged_at?: number }} RecordingLine
 */

/**
 * A moment on the session's clock.
 * @param {number} ms
 * @param {string} zone
 */
function at(ms, zone) {
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short", timeZone: zone }).format(new Date(ms));
}

/** @param {number} bytes */
function size(bytes) {
  return new Intl.NumberFormat(locale(), { style: "unit", unit: "megabyte", maximumFractionDigits: 1 }).format(bytes / 1_000_000);
}

/** @param {RecordingLine} r */
function fate(r) {
  if (r.purged_at) return t("recordings_console.purged", { when: at(r.purged_at, r.time_zone) });
  if (r.delete_at) return t("recordings_console.deleted_on", { when: at(r.delete_at, r.time_zone) });
  return t("recordings_console.recording");
}

/** @returns {Promise<Node>} */
export async function recordingsPage() {
  const answer = await call("GET", "/api/recordings");
  return page("recordings_console.title", answer, (/** @type {{ retention_days: number, segments: RecordingLine[] }} */ o) => [
    h("p", { "data-field": "recordings-retention" }, T("recordings_console.retention", { days: o.retention_days })),
    o.segments.length === 0 ? h("p", { "data-field": "recordings-none" }, T("recordings_console.none"))
      : table("recordings_console.title",
        ["recordings_console.col.session", "recordings_console.col.recorded", "recordings_console.col.people", "recordings_console.col.size", "recordings_console.col.fate"],
        o.segments.map((r) => h("tr", { "data-recording": `${r.session_id}/${r.segment}`, "data-purged": String(Boolean(r.purged_at)) },
          h("th", { scope: "row" }, consoleLink(`/console/sessions/${encodeURIComponent(r.session_id)}`, r.session_title, { "data-open-session": r.session_id }),
            h("br", {}), h("span", { class: "console-actor" }, T("recordings_console.segment", { n: r.segment }))),
          h("td", {}, r.closed_at
            ? t("recordings_console.from_to", { from: at(r.started_at, r.time_zone), to: at(r.closed_at, r.time_zone) })
            : t("recordings_console.since", { from: at(r.started_at, r.time_zone) })),
          h("td", { class: "num" }, String(r.people)),
          h("td", { class: "num" }, size(r.bytes)),
          h("td", { "data-field": "recording-fate" }, fate(r)))), "recordings"),
  ]);
}
