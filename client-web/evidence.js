// @ts-check
//! Evidence as the person sees it: ledger entries in plain language, half-day
//! labels, local times, and the receipts (signed tree heads) kept in this
//! browser so that the person can prove later what the log held then.

import { has, locale, t } from "./i18n.js";

/** @typedef {import("./wire.js").Entry} Entry */
/** @typedef {import("./i18n.js").MessageKey} MessageKey */

// ---------------------------------------------------------------------------
// Times and half-days

/**
 * A time of day in the browser's time zone: "10:02" or "10:02:14".
 * @param {number} ms
 * @param {boolean} [seconds]
 */
export function formatTime(ms, seconds = false) {
  return new Intl.DateTimeFormat(locale(), {
    hour: "2-digit",
    minute: "2-digit",
    ...(seconds ? { second: "2-digit" } : {}),
  }).format(new Date(ms));
}

/** "jeudi 3 décembre" in the browser's time zone. @param {number} ms */
export function formatDay(ms) {
  return new Intl.DateTimeFormat(locale(), { weekday: "long", day: "numeric", month: "long" }).format(new Date(ms));
}

/** The calendar day of a timestamp in the browser's time zone, as a key. @param {number} ms */
export function dayKey(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** @param {string} slot @returns {{ date: number, part: "am" | "pm" } | null} */
function parseSlot(slot) {
  const match = /^(\d{4})-(\d{2})-(\d{2})\.(am|pm)$/.exec(slot);
  if (!match) return null;
  const date = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return Number.isNaN(date) ? null : { date, part: /** @type {"am" | "pm"} */ (match[4]) };
}

/**
 * "matinée du jeudi 3 décembre": the slot's own date (in the session's
 * calendar, so never shifted by the browser's time zone).
 * @param {string} slot
 */
export function slotLabel(slot) {
  const parsed = parseSlot(slot);
  if (!parsed) return slot;
  const date = new Intl.DateTimeFormat(locale(), {
    weekday: "long",
    day: "numeric",
    month: "long",
    timeZone: "UTC",
  }).format(new Date(parsed.date));
  return t(parsed.part === "am" ? "slot.am" : "slot.pm", { date });
}

/** "matinée" / "après-midi". @param {string} slot */
export function slotPart(slot) {
  const parsed = parseSlot(slot);
  if (!parsed) return slot;
  return t(parsed.part === "am" ? "slot.short_am" : "slot.short_pm");
}

/** @param {string} s */
export function capitalise(s) {
  return s.charAt(0).toLocaleUpperCase(locale()) + s.slice(1);
}

// ---------------------------------------------------------------------------
// Entries

/**
 * Parses an entry text; null when it is not an entry (never thrown at the UI).
 * @param {string} text
 * @returns {Entry | null}
 */
export function parseEntry(text) {
  try {
    /** @type {unknown} */
    const value = JSON.parse(text);
    if (typeof value !== "object" || value === null) return null;
    const e = /** @type {Record<string, unknown>} */ (value);
    if (typeof e.seq !== "number" || typeof e.ts !== "number" || typeof e.kind !== "string" || typeof e.actor !== "string") {
      return null;
    }
    const payload = typeof e.payload === "object" && e.payload !== null ? e.payload : {};
    return /** @type {Entry} */ ({ ...e, payload });
  } catch {
    return null;
  }
}

/** The browser family of a user agent string, for people (not for decisions). @param {string} ua */
export function browserName(ua) {
  if (/\bEdg(e|A|iOS)?\//.test(ua)) return "Edge";
  if (/\bOPR\/|\bOpera\b/.test(ua)) return "Opera";
  if (/\bFirefox\/|\bFxiOS\//.test(ua)) return "Firefox";
  if (/\bChromium\//.test(ua)) return "Chromium";
  if (/\b(Headless)?Chrome\/|\bCriOS\//.test(ua)) return "Chrome";
  if (/\bSafari\//.test(ua)) return "Safari";
  return "";
}

/** @param {Record<string, unknown>} p @param {string} key */
function str(p, key) {
  const v = p[key];
  return typeof v === "string" ? v : "";
}

/** @param {Record<string, unknown>} p @param {string} key */
function bool(p, key) {
  const v = p[key];
  return typeof v === "boolean" ? v : null;
}

/** @param {Record<string, unknown>} p @param {string} key */
function num(p, key) {
  const v = p[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * What a list of entries says, one sentence per entry, in the current
 * language. Entries are taken in log order; a media entry names only what
 * changed since the previous one of the same connection.
 * @param {Entry[]} entries sorted by seq
 * @param {{ me: string, nameOf: (id: string) => string }} who
 * @returns {{ entry: Entry, text: string }[]}
 */
export function describeEntries(entries, who) {
  /** @type {Map<string, { camera: boolean | null, microphone: boolean | null }>} */
  const media = new Map();
  /** @type {Map<string, boolean>} each consent's previous decision, to tell a withdrawal from a refusal */
  const consents = new Map();
  return entries.map((entry) => {
    const p = entry.payload;
    let text;
    switch (entry.kind) {
      case "connection_opened": {
        const details = [browserName(str(p, "user_agent")), str(p, "ip")].filter(Boolean).join(", ");
        text = details ? t("trace.connection_opened_from", { details }) : t("trace.connection_opened");
        break;
      }
      case "connection_closed": {
        const key = `trace.closed.${str(p, "reason")}`;
        text = has(key) ? t(key) : t("trace.closed.other");
        break;
      }
      case "heartbeats": {
        const from = num(p, "from");
        const to = num(p, "to");
        text = from !== null && to !== null
          ? t("trace.heartbeats", { from: formatTime(from), to: formatTime(to) })
          : t("trace.heartbeats_plain");
        break;
      }
      case "visibility":
        text = t(bool(p, "visible") === false ? "trace.tab_hidden" : "trace.tab_visible");
        break;
      case "focus":
        text = t(bool(p, "focused") === false ? "trace.window_blurred" : "trace.window_focused");
        break;
      case "media": {
        const connection = str(p, "connection_id");
        const camera = bool(p, "camera");
        const microphone = bool(p, "microphone");
        const before = media.get(connection);
        media.set(connection, { camera, microphone });
        const parts = [];
        if (camera !== null && (!before || before.camera !== camera)) parts.push(t(camera ? "trace.camera_on" : "trace.camera_off"));
        if (microphone !== null && (!before || before.microphone !== microphone)) {
          parts.push(t(microphone ? "trace.microphone_on" : "trace.microphone_off"));
        }
        text = parts.length > 0 ? parts.join(", ") : t("trace.media_same");
        break;
      }
      case "signin_opened":
        text = t("trace.signin_opened", { slot: slotPart(str(p, "slot")) });
        break;
      case "signed_in": {
        const drawn = Array.isArray(p.signature) && p.signature.length > 0;
        text = t(drawn ? "trace.signed_drawn" : "trace.signed", { slot: slotPart(str(p, "slot")) });
        break;
      }
      case "countersigned": {
        const participant = str(p, "participant");
        text = participant === who.me && entry.actor !== who.me
          ? t("trace.countersigned", { slot: slotPart(str(p, "slot")) })
          : t("trace.countersigned_by_you", { name: who.nameOf(participant), slot: slotPart(str(p, "slot")) });
        break;
      }
      case "session_state": {
        // The session's course in a sentence: what the decision did, when
        // a postponement moved it to, and the reason as recorded.
        const action = str(p, "action");
        const to = str(p, "to");
        const reason = str(p, "reason");
        const start = Date.parse(str(p, "planned_start"));
        /** @type {string} */
        let what;
        if (action === "postpone" || to === "postponed") {
          what = Number.isNaN(start)
            ? t("trace.state.postponed")
            : t("trace.state.postponed_to", { when: `${formatDay(start)} ${formatTime(start)}` });
        } else if (action === "suspend" || to === "suspended") what = t("trace.state.suspended");
        else if (action === "resume") what = t("trace.state.resumed");
        else if (action === "end" || to === "ended") what = t("trace.state.ended");
        else if (to === "running") what = t("trace.state.running");
        else if (to === "open") what = t("trace.state.open");
        else {
          /** @param {string} s */
          const state = (s) => (has(`state.${s}`) ? t(/** @type {MessageKey} */ (`state.${s}`)) : t("trace.state.unknown"));
          what = t("trace.session_state", { from: state(str(p, "from")), to: state(to) });
        }
        text = reason ? t("trace.with_reason", { what, reason }) : what;
        break;
      }
      case "consent": {
        const consent = str(p, "consent");
        const granted = bool(p, "granted") === true;
        const before = consents.get(consent);
        consents.set(consent, granted);
        const key = `trace.consent.${consent}.${granted ? "granted" : before === true ? "withdrawn" : "refused"}`;
        text = has(key) ? t(key) : t("trace.consent.other", { consent, granted: String(granted) });
        break;
      }
      case "recording_armed":
        text = t(bool(p, "armed") === false ? "trace.recording_disarmed" : "trace.recording_armed");
        break;
      case "recording_started":
      case "recording_stopped":
      case "recording_derived":
      case "recording_purged": {
        // The segments the person was in (the server sends no other).
        const n = num(p, "segment");
        text = n === null
          ? t(/** @type {MessageKey} */ (`trace.${entry.kind}_plain`))
          : t(/** @type {MessageKey} */ (`trace.${entry.kind}`), { n });
        break;
      }
      case "quiz_opened": {
        const title = str(p, "title");
        text = title ? t("trace.quiz_opened", { title }) : t("trace.quiz_opened_plain");
        break;
      }
      case "quiz_completed":
        text = t("trace.quiz_completed");
        break;
      case "questionnaire_invited":
        text = t("trace.questionnaire_invited");
        break;
      case "server_started":
        text = t("trace.server_started");
        break;
      case "server_stopping":
        text = t("trace.server_stopping");
        break;
      // Issue 11 §4: every kind in plain words (protocol/src/evidence.rs).
      case "quality": {
        const minute = num(p, "minute");
        const score = str(p, "score");
        const label = has(`quality.score.${score}`) ? t(/** @type {MessageKey} */ (`quality.score.${score}`)).toLocaleLowerCase(locale()) : "";
        text = minute !== null && label
          ? t("trace.quality", { time: formatTime(minute), score: label })
          : t("trace.quality_plain");
        break;
      }
      case "alert":
        text = t("trace.alert");
        break;
      case "removed": {
        const reason = str(p, "reason");
        text = str(p, "participant") === who.me
          ? t(reason ? "trace.removed_you_reason" : "trace.removed_you", { reason })
          : t("trace.removed_other", { name: who.nameOf(str(p, "participant")) });
        break;
      }
      case "readmitted":
        text = str(p, "participant") === who.me
          ? t("trace.readmitted_you")
          : t("trace.readmitted_other", { name: who.nameOf(str(p, "participant")) });
        break;
      case "report_filed":
        text = t("trace.report_filed", { text: excerpt(str(p, "text")) });
        break;
      case "report_answered":
        text = t("trace.report_answered", { text: excerpt(str(p, "answer")) });
        break;
      case "report_closed":
        text = t("trace.report_closed");
        break;
      case "media_route":
        text = str(p, "route") === "peer" ? t("trace.media_route_peer") : t("trace.media_route_forwarded");
        break;
      default:
        // A kind newer than this page: said plainly, never by its code name.
        text = t("trace.other");
    }
    return { entry, text };
  });
}

/** The start of a free text, on one line. @param {string} text */
function excerpt(text) {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

// ---------------------------------------------------------------------------
// Receipts

/**
 * A receipt kept in this browser.
 * @typedef {object} Receipt
 * @property {"signin" | "leave"} kind when it was handed over
 * @property {string} [slot] the half-day, for a sign-in
 * @property {number} at when it was received (server time for a sign-in, else the tree head's time)
 * @property {string} person participant id
 * @property {string} tree_head the signed tree head (compact JWS), exactly as received
 * @property {number} [tree_size] from the tree head, for display
 */

const RECEIPTS_PREFIX = "cadre.receipts.";

/** Receipts that could not be written to storage, so that a download still has them. */
/** @type {Map<string, Receipt[]>} */
const unsaved = new Map();

/**
 * The payload of a tree head, read without checking it (display only; the
 * verifier checks the signature).
 * @param {string} jws
 * @returns {{ tree_size?: number, ts?: number, sid?: string }}
 */
export function treeHeadClaims(jws) {
  const part = jws.split(".")[1];
  if (!part) return {};
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    /** @type {unknown} */
    const value = JSON.parse(json);
    return typeof value === "object" && value !== null ? /** @type {Record<string, any>} */ (value) : {};
  } catch {
    return {};
  }
}

/** @param {unknown} v @returns {v is Receipt} */
function isReceipt(v) {
  if (typeof v !== "object" || v === null) return false;
  const r = /** @type {Record<string, unknown>} */ (v);
  return typeof r.tree_head === "string" && typeof r.at === "number" && (r.kind === "signin" || r.kind === "leave");
}

/** Every receipt of a session kept in this browser, oldest first. @param {string} sid @returns {Receipt[]} */
export function loadReceipts(sid) {
  /** @type {Receipt[]} */
  let stored = [];
  try {
    /** @type {unknown} */
    const value = JSON.parse(localStorage.getItem(RECEIPTS_PREFIX + sid) ?? "[]");
    if (Array.isArray(value)) stored = value.filter(isReceipt);
  } catch {
    // Unreadable or unavailable storage: only this page's receipts.
  }
  const extra = (unsaved.get(sid) ?? []).filter((r) => !stored.some((s) => s.tree_head === r.tree_head));
  return [...stored, ...extra];
}

/**
 * Keeps a receipt (once). Returns whether it is in the browser's storage;
 * if not, it is kept for this page only and can still be downloaded.
 * @param {string} sid
 * @param {Omit<Receipt, "tree_size">} receipt
 */
export function keepReceipt(sid, receipt) {
  const list = loadReceipts(sid);
  if (list.some((r) => r.tree_head === receipt.tree_head)) return true;
  const claims = treeHeadClaims(receipt.tree_head);
  /** @type {Receipt} */
  const full = { ...receipt };
  if (typeof claims.tree_size === "number") full.tree_size = claims.tree_size;
  list.push(full);
  try {
    // The list holds this page's unsaved receipts too: they are saved now.
    localStorage.setItem(RECEIPTS_PREFIX + sid, JSON.stringify(list));
    unsaved.delete(sid);
    return true;
  } catch {
    unsaved.set(sid, [...(unsaved.get(sid) ?? []), full]);
    return false;
  }
}

/**
 * Downloads a session's receipts as one JSON file.
 * @param {string} sid
 * @param {{ title: string, person: { id: string, name: string } }} about
 */
export function downloadReceipts(sid, about) {
  const receipts = loadReceipts(sid);
  // The latest tree head covers everything the earlier ones did (the log
  // only grows); at the top level, `cadre verify --receipt FILE` reads it.
  const latest = receipts.reduce((/** @type {Receipt | null} */ best, r) =>
    !best || (r.tree_size ?? 0) > (best.tree_size ?? 0) || ((r.tree_size ?? 0) === (best.tree_size ?? 0) && r.at > best.at) ? r : best, null);
  const file = {
    typ: "cadre.receipts",
    v: 1,
    session: { id: sid, title: about.title },
    person: about.person,
    downloaded_at: new Date().toISOString(),
    tree_head: latest?.tree_head ?? null,
    receipts: receipts.map((r) => ({ kind: r.kind, slot: r.slot ?? null, at: r.at, tree_size: r.tree_size ?? null, tree_head: r.tree_head })),
  };
  saveJson(`cadre-receipts-${sid}.json`, file);
}

/**
 * The pairs of log sizes that link each receipt to a proof's tree head of
 * `headSize` entries (older first; none when the sizes are equal or the
 * receipt covers nothing).
 * @param {Receipt[]} receipts
 * @param {number} headSize
 * @returns {[number, number][]}
 */
export function consistencyPairs(receipts, headSize) {
  /** @type {Map<string, [number, number]>} */
  const pairs = new Map();
  for (const r of receipts) {
    const size = r.tree_size ?? treeHeadClaims(r.tree_head).tree_size;
    if (typeof size !== "number" || size === 0 || size === headSize) continue;
    const pair = /** @type {[number, number]} */ (size < headSize ? [size, headSize] : [headSize, size]);
    pairs.set(pair.join("-"), pair);
  }
  return [...pairs.values()];
}

/** Offers `value` as a JSON file download. @param {string} name @param {unknown} value */
export function saveJson(name, value) {
  const blob = new Blob([JSON.stringify(value, null, 2) + "\n"], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
