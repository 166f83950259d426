// @ts-check
//! A sponsor's report, at `/r/{token}`: the attendance of a session in
//! aggregate (per half-day: present, signed, average completion), and by name
//! only the people who agreed to be named. When the unnamed are too few for
//! an average to hide them, the server withholds the aggregates and the page
//! says so. Read-only and printable: no camera, no socket; one
//! `GET /api/report`, rendered again when the language changes.

import { claimedWindow, fetchSponsorView } from "./api.js";
import { locale, onLanguageChange, t } from "./i18n.js";
import { T, bindText, h } from "./dom.js";
import { slotLabel } from "./evidence.js";
import { capitalise, formatLocalDateTime, formatSchedule, kindLabel, loadingScreen, roleLabel } from "./ui.js";

/** @typedef {import("./wire.js").SponsorView} SponsorView */
/** @typedef {import("./wire.js").SponsorHalfDay} SponsorHalfDay */
/** @typedef {import("./wire.js").NamedAttendance} NamedAttendance */
/** @typedef {import("./wire.js").ErrorBody} ErrorBody */
/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./ui.js").Shell} Shell */

/**
 * Shows the report of `token` in the page.
 * @param {Shell} shell
 * @param {string} token
 */
export async function openSponsorPage(shell, token) {
  document.body.dataset.page = "report";
  shell.setStatus(null);
  shell.setBanner(null);
  shell.setSessionTitle(null);
  shell.show(loadingScreen("report.loading"));
  const result = await fetchSponsorView(token);
  const render = () => {
    if (result.ok) {
      const report = result.report;
      document.title = `${reportTitle(report)} · ${t("app.name")}`;
      shell.show(reportView(report));
    } else {
      document.title = `${t("report.error_title")} · ${t("app.name")}`;
      shell.show(errorView(result.error, claimedWindow(token)));
    }
  };
  render();
  onLanguageChange(render);
}

// ---------------------------------------------------------------------------
// Formatting

/** UTC ms from ms or RFC 3339 text; null when unreadable. @param {number | string | null | undefined} v */
function toMs(v) {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string") {
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

/** "62 %" (a share in 0..1); "< 1 %" for a little that would round to nothing. @param {number} share */
function percent(share) {
  const value = Number.isFinite(share) ? Math.min(Math.max(share, 0), 1) : 0;
  const format = new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 0 });
  return value > 0 && value < 0.005 ? `<\u00a0${format.format(0.01)}` : format.format(value);
}

/** "2 h 05" or "45 min". @param {number} seconds */
function duration(seconds) {
  const minutes = Math.round(Math.max(0, Number.isFinite(seconds) ? seconds : 0) / 60);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return hours > 0 ? t("duration.hm", { h: hours, m: String(rest).padStart(2, "0") }) : t("duration.m", { m: rest });
}

/** "09:00 – 12:30" in the session's time zone. @param {number | string} start @param {number | string} end @param {string} zone */
function hours(start, end, zone) {
  const from = toMs(start);
  const to = toMs(end);
  if (from === null || to === null) return "";
  let format;
  try {
    format = new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", timeZone: zone });
  } catch {
    // Unknown zone in this browser: UTC, said explicitly.
    format = new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", timeZone: "UTC", timeZoneName: "short" });
  }
  return `${format.format(from)} – ${format.format(to)}`;
}

/**
 * A moment in the session's time zone, named ("jeudi 26 novembre 2026 à
 * 18:34 UTC+1"), like the schedule above it; the browser's zone if unknown.
 * @param {number} ms
 * @param {string} zone
 */
function moment(ms, zone) {
  try {
    return new Intl.DateTimeFormat(locale(), {
      weekday: "long", day: "numeric", month: "long", year: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short", timeZone: zone,
    }).format(ms);
  } catch {
    return formatLocalDateTime(new Date(ms));
  }
}

/** "a / b", with figures that line up. @param {number} a @param {number} b */
function fraction(a, b) {
  return `${a} / ${b}`;
}

/** @param {SponsorView} report */
function reportTitle(report) {
  const sponsor = report.session.sponsor?.trim();
  return sponsor ? t("report.title", { sponsor }) : t("report.title_plain");
}

// ---------------------------------------------------------------------------
// The report

/** @param {SponsorView} report */
function reportView(report) {
  const { session } = report;
  const generated = toMs(report.generated_at);
  const expires = toMs(report.expires_at);
  const sponsor = session.sponsor?.trim() ?? "";
  const withheld = Boolean(report.withheld);

  const head = h("header", { class: "card report-head", "aria-labelledby": "report-title" },
    h("p", { class: "eyebrow" }, T("report.eyebrow")),
    h("h1", { id: "report-title" }, reportTitle(report)),
    h("dl", { class: "facts" },
      h("dt", {}, T("report.session")), h("dd", { "data-field": "report-session" }, session.title),
      h("dt", {}, T("report.kind")), h("dd", {}, kindLabel(session.kind)),
      h("dt", {}, T("lobby.organisation")), h("dd", {}, session.organisation),
      sponsor && h("dt", {}, T("report.sponsor")),
      sponsor && h("dd", {}, sponsor),
      h("dt", {}, T("lobby.when")), h("dd", { "data-field": "schedule" }, formatSchedule(session))),
    h("ul", { class: "report-figures" },
      h("li", { "data-figure": "expected" },
        h("span", { class: "figure-value" }, String(report.totals.expected)),
        h("span", { class: "figure-label" }, T("report.expected"))),
      !withheld && h("li", { "data-figure": "average" },
        h("span", { class: "figure-value" }, percent(report.totals.average_completion)),
        h("span", { class: "figure-label" }, T("report.average")))),
    generated !== null && expires !== null && h("p", { class: "report-meta" },
      t("report.generated", { when: moment(generated, session.time_zone), until: moment(expires, session.time_zone) })),
    h("div", { class: "report-actions" },
      h("button", { type: "button", class: "button button-quiet", "data-action": "print", onclick: () => window.print() },
        T("report.print"))));

  return h("article", { class: "report", "data-report": "sponsor" },
    head,
    halfDaysSection(report),
    courseSection(report),
    namedSection(report));
}

/**
 * The course of the session, neutrally: suspended from when to when,
 * postponed to when, ended when. The server sends no reason and no name,
 * and this page has none to show.
 * @param {SponsorView} report
 */
function courseSection(report) {
  const zone = report.session.time_zone;
  const events = report.course ?? [];
  /** @type {string[]} */
  const lines = [];
  events.forEach((e, i) => {
    const day = dayOf(e.at, zone);
    if (e.action === "suspend") {
      const next = events[i + 1];
      lines.push(next
        ? t("report.course.suspended", { day, span: hours(e.at, next.at, zone) })
        : t("report.course.suspended_from", { day, time: timeOf(e.at, zone) }));
    } else if (e.action === "postpone") {
      const when = e.planned_start && e.planned_end
        ? `${dayOf(e.planned_start, zone)}, ${hours(e.planned_start, e.planned_end, zone)}`
        : "";
      lines.push(when ? t("report.course.postponed", { day, when }) : t("report.course.postponed_plain", { day }));
    } else if (e.action === "end") {
      lines.push(t("report.course.ended", { day, time: timeOf(e.at, zone) }));
    } else if (e.action === "start") {
      lines.push(t("report.course.started", { day, time: timeOf(e.at, zone) }));
    }
  });
  return h("section", { class: "card report-section", "data-field": "course", "aria-labelledby": "report-course" },
    h("h2", { id: "report-course" }, T("report.course")),
    lines.length === 0
      ? h("p", { class: "report-empty" }, T("report.course.none"))
      : h("ul", { class: "report-course" }, ...lines.map((line) => h("li", {}, line))));
}

/** "jeudi 3 décembre 2026" in the session's zone. @param {number | string} v @param {string} zone */
function dayOf(v, zone) {
  const ms = toMs(v);
  if (ms === null) return "";
  const options = /** @type {const} */ ({ weekday: "long", day: "numeric", month: "long", year: "numeric" });
  try {
    return new Intl.DateTimeFormat(locale(), { ...options, timeZone: zone }).format(ms);
  } catch {
    return new Intl.DateTimeFormat(locale(), options).format(ms);
  }
}

/** "10:56" in the session's zone. @param {number} ms @param {string} zone */
function timeOf(ms, zone) {
  try {
    return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", timeZone: zone }).format(ms);
  } catch {
    return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", timeZone: "UTC", timeZoneName: "short" }).format(ms);
  }
}

/** Per half-day, in aggregate (unless withheld). @param {SponsorView} report */
function halfDaysSection(report) {
  const zone = report.session.time_zone;
  if (report.withheld) {
    return h("section", { class: "card report-section", "aria-labelledby": "report-half-days" },
      h("h2", { id: "report-half-days" }, T("report.half_days")),
      h("p", { class: "report-withheld", "data-field": "withheld" }, t("report.withheld", { n: report.anonymous_count })));
  }
  const rows = report.half_days.map((d) =>
    h("tr", { "data-slot": d.slot },
      h("th", { scope: "row" }, capitalise(slotLabel(d.slot))),
      h("td", {}, hours(d.planned_start, d.planned_end, zone)),
      h("td", { class: "num", "data-field": "present" }, fraction(d.present, d.expected)),
      h("td", { class: "num", "data-field": "signed" }, fraction(d.signed, d.expected)),
      h("td", { class: "num", "data-field": "completion" }, percent(d.average_completion))));
  return h("section", { class: "card report-section", "aria-labelledby": "report-half-days" },
    h("h2", { id: "report-half-days" }, T("report.half_days")),
    rows.length === 0
      ? h("p", { class: "panel-hint" }, T("report.no_half_days"))
      : h("div", { class: "table-wrap" },
        h("table", { class: "report-table", "data-table": "half-days" },
          h("thead", {},
            h("tr", {},
              h("th", { scope: "col" }, T("report.col.half_day")),
              h("th", { scope: "col" }, T("report.col.hours")),
              h("th", { scope: "col", class: "num" }, T("report.col.present")),
              h("th", { scope: "col", class: "num" }, T("report.col.signed")),
              h("th", { scope: "col", class: "num" }, T("report.col.completion")))),
          h("tbody", {}, ...rows))),
    h("p", { class: "report-note" }, T("report.completion_note")));
}

/** By name, only those who agreed; the others are counted. @param {SponsorView} report */
function namedSection(report) {
  const named = [...report.named].sort((a, b) => a.name.localeCompare(b.name, locale()));
  const anonymous = report.anonymous_count;
  return h("section", { class: "card report-section", "aria-labelledby": "report-named" },
    h("h2", { id: "report-named" }, T("report.named")),
    named.length === 0
      ? h("p", { class: "report-empty", "data-field": "named-none" }, T("report.named_none"))
      : h("div", { class: "table-wrap" },
        h("table", { class: "report-table report-named", "data-table": "named" },
          h("thead", {},
            h("tr", {},
              h("th", { scope: "col" }, T("report.col.name")),
              h("th", { scope: "col" }, T("report.col.half_day")),
              h("th", { scope: "col", class: "num" }, T("report.col.present_time")),
              h("th", { scope: "col", class: "num" }, T("report.col.realisation")),
              h("th", { scope: "col" }, T("report.col.signin")),
              h("th", { scope: "col", class: "num" }, T("report.col.total")))),
          ...named.map(personRows))),
    bindText(h("p", { class: "report-anonymous", "data-field": "anonymous" }), () =>
      anonymous === 0 ? t("report.anonymous_none")
      : report.withheld ? t("report.anonymous_withheld", { n: anonymous })
      : t("report.anonymous", { n: anonymous })));
}

/** One person: a row per half-day, the name and the total spanning them. @param {NamedAttendance} person */
function personRows(person) {
  const days = person.half_days.length > 0 ? person.half_days : [null];
  const span = days.length;
  return h("tbody", { class: "person", "data-person-name": person.name },
    ...days.map((d, i) => h("tr", {},
      i === 0 && h("th", { scope: "rowgroup", rowspan: span },
        h("span", { class: "person-name" }, person.name),
        h("span", { class: "person-role" }, roleLabel(person.role))),
      h("td", {}, d ? capitalise(slotLabel(d.slot)) : "—"),
      h("td", { class: "num" }, d ? duration(d.present_seconds) : "—"),
      h("td", { class: "num" }, d ? percent(d.completion) : "—"),
      h("td", { class: "signed-state", "data-signed": d ? String(d.signed) : "false" },
        d ? T(d.signed ? "report.signed_yes" : "report.signed_no") : "—"),
      i === 0 && h("td", { class: "num person-total", rowspan: span }, percent(person.completion)))));
}

// ---------------------------------------------------------------------------
// Errors

/**
 * @param {ErrorBody} error
 * @param {{ notBefore: Date | null, expiresAt: Date | null }} window what the token claims, for dates
 */
function errorView(error, window) {
  /** @type {string} */
  let text;
  let retryable = false;
  switch (error.code) {
    case "token_expired":
      text = window.expiresAt
        ? t("report.error.expired_at", { when: formatLocalDateTime(window.expiresAt) })
        : t("report.error.expired");
      break;
    case "token_not_yet_valid":
      text = window.notBefore
        ? t("report.error.not_yet_valid_at", { when: formatLocalDateTime(window.notBefore) })
        : t("report.error.not_yet_valid");
      retryable = true;
      break;
    case "token_revoked":
      text = t("report.error.revoked");
      break;
    case "token_missing":
    case "token_malformed":
    case "token_algorithm":
    case "token_signature":
    case "wrong_session":
    case "not_found":
    case "forbidden":
    case "unauthorized":
      text = t("report.error.invalid");
      break;
    case "network":
      text = t("error.network");
      retryable = true;
      break;
    case "internal":
      text = t("error.internal");
      retryable = true;
      break;
    default:
      text = t("error.unknown", { code: error.code });
      retryable = true;
  }
  return h("section", { class: "card card-narrow error-card", "data-error-code": error.code, "aria-labelledby": "error-title" },
    h("h1", { id: "error-title" }, T("report.error_title")),
    h("p", { class: "error-message" }, text),
    retryable && h("button", { type: "button", class: "button button-primary", onclick: () => location.reload() }, T("error.retry")));
}
