// @ts-check
//! One session in the staff console, `/console/sessions/{sid}`: what it
//! is, its people with their join links (copied, revoked, re-admitted),
//! the invitations by mail and what became of each, the documents to
//! download, and the difficulty reports to answer in writing. Everything
//! goes through the API the organiser token also has; the page only shows
//! what the server answers and reads it again after each change.

import { lang as currentLang, locale, t } from "./i18n.js";
import { call, confirmDialog, consoleLink, page, problemText, showAgain, stateLabel, table } from "./console-kit.js";
import { T, h, replaceChildren } from "./dom.js";
import { correctPersonButton, langLabel, retitleButton } from "./console-corrections.js";
import { addPersonForm, duplicateForm, planningForms } from "./console-enrolment.js";
import { formatSchedule, kindLabel, roleLabel } from "./ui.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./console-kit.js").Answer} Answer */
/**
 * @typedef {{ url: string, token: string, not_before: string, expires_at: string, revoked: boolean }} LinkView
 * @typedef {{ id: string, name: string, email?: string, role: string, lang?: string, time_zone?: string, link: LinkView }} PersonView
 * @typedef {{ id: string, title: string, kind: string, organisation: string, planned_start: string,
 *   planned_end: string, time_zone: string, sponsor?: string, state: string, cancelled?: boolean,
 *   people: PersonView[] }} SessionView
 * @typedef {{ id: string, person: string, to: string, kind: string, state: "pending" | "sent" | "failed",
 *   attempts: number, created_at: string, sent_at?: string, next_attempt?: string, last_error?: string,
 *   smtp_reply?: string }} MailView
 * @typedef {{ id: string, author: { id: string, name: string, role: string }, text: string,
 *   status: "open" | "answered" | "closed", created_at: number, answer?: string, answered_at?: number,
 *   closed_at?: number }} Difficulty
 * @typedef {{ id: string, name: string, role: string, connected_since?: number, camera: boolean,
 *   microphone: boolean, signins: { slot: string, at: number }[] }} LivePerson
 * @typedef {{ session: string, state: string, server_time: number, people: LivePerson[],
 *   alerts: { at: number, rule: string, message: string }[] }} LiveView
 */

/** How often the mail log is read again while mail is still pending. */
const MAIL_REFRESH_MS = 3000;
/** How often the live view is read again while the page is shown. */
const LIVE_REFRESH_MS = 5000;

/**
 * The page of session `sid`.
 * @param {string} sid
 * @returns {Promise<Node>}
 */
export async function sessionPage(sid) {
  const base = `/api/sessions/${encodeURIComponent(sid)}`;
  const answer = await call("GET", base);
  if (!answer.ok) {
    return page("console_session.title", answer, () => []);
  }
  /** @type {SessionView} */
  const session = answer.body;
  zone = session.time_zone;
  document.title = `${session.title} · ${t("staff_console.title")}`;
  // One live region for every short confirmation of the page (a copied
  // link, a queued invitation), so a screen reader hears each once.
  const announce = h("p", { class: "sr-only", role: "status", "data-field": "session-announce" });
  const say = (/** @type {string} */ text) => {
    announce.textContent = "";
    // A new text node after a tick: some readers skip a region whose
    // text was replaced in the same task.
    setTimeout(() => { announce.textContent = text; }, 50);
  };
  const people = h("div", { "data-field": "session-people" });
  const mails = h("div", { "data-field": "session-mails" });
  const reports = h("div", { "data-field": "session-reports" });
  const live = h("div", { "data-field": "session-live" });
  // Each person's documents: read again with the people, who may change.
  const docs = h("div", { "data-field": "session-documents" }, documents(base, session, say));
  const root = h("section", { class: "card console-session", "aria-labelledby": "page-title", "data-session": session.id,
    "data-cancelled": String(session.cancelled === true) },
    h("p", { class: "console-back" }, consoleLink("/console/sessions", T("console_session.back"))),
    h("div", { class: "console-title-row" },
      h("h1", { id: "page-title", "data-field": "session-title" }, session.title),
      retitleButton(session, say, showAgain)),
    summary(session),
    announce,
    h("h2", { id: "live-title" }, T("console_session.live.title")),
    live,
    h("h2", { id: "people-title" }, T("console_session.people.title")),
    people,
    session.state === "ended" ? null : addPersonForm(base, () => showPeople(true), say),
    h("h2", { id: "mails-title" }, T("console_session.mails.title")),
    mails,
    h("h2", { id: "documents-title" }, T("console_session.documents.title")),
    docs,
    h("h2", { id: "reports-title" }, T("console_session.reports.title")),
    reports,
    ...planningForms(session),
    duplicateForm(session));

  /** @param {boolean} [added] someone new: their documents too (a sponsor link shown is kept otherwise) */
  const showPeople = async (added = false) => {
    const fresh = await call("GET", base);
    if (!fresh.ok) return replaceChildren(people, problem(fresh));
    replaceChildren(people, peopleTable(base, fresh.body, showPeople, say));
    if (added) replaceChildren(docs, documents(base, fresh.body, say));
  };
  replaceChildren(people, peopleTable(base, session, showPeople, say));
  await Promise.all([showLive(base, live, root), showMails(base, session, mails, say, root), showReports(base, reports, say)]);
  return root;
}

/** @param {Answer} answer */
function problem(answer) {
  return h("p", { class: "panel-problem", role: "alert" }, problemText(answer));
}

/**
 * Kind, dates in the session's time zone, state, sponsor.
 * @param {SessionView} s
 */
function summary(s) {
  /** @param {MessageKey} label @param {Node | string} value @param {string} field */
  const item = (label, value, field) => [h("dt", {}, T(label)), h("dd", { "data-field": field }, value)];
  return h("dl", { class: "console-facts" },
    ...item("console_session.kind", kindLabel(s.kind), "session-kind"),
    ...item("console_session.when", `${formatSchedule(s)} (${s.time_zone})`, "session-when"),
    ...item("console_session.state", stateLabel(s), "session-state"),
    ...item("console_session.organisation", s.organisation, "session-organisation"),
    ...item("console_session.sponsor", s.sponsor ?? t("console_session.no_sponsor"), "session-sponsor"));
}

/**
 * Whether a link opens the call now: revoked, not yet valid, expired, valid.
 * @param {LinkView} link
 * @returns {MessageKey}
 */
function linkState(link) {
  if (link.revoked) return "console_session.link.revoked";
  const now = Date.now();
  if (now < Date.parse(link.not_before)) return "console_session.link.not_yet";
  if (now > Date.parse(link.expires_at)) return "console_session.link.expired";
  return "console_session.link.valid";
}

/**
 * Copies `text`; says « Copié » beside the button, or, when the browser
 * refuses the clipboard, selects the text so that it can be copied by hand.
 * @param {string} text
 * @param {HTMLInputElement} field
 * @param {HTMLElement} note
 * @param {(text: string) => void} say
 */
async function copy(text, field, note, say) {
  try {
    await navigator.clipboard.writeText(text);
    note.textContent = t("console_session.copied");
    say(t("console_session.copied"));
  } catch {
    field.focus();
    field.select();
    note.textContent = t("console_session.copy_refused");
    say(t("console_session.copy_refused"));
  }
}

/**
 * A link's text, selectable, with its copy button and the note beside it.
 * @param {string} url
 * @param {string} label the accessible name of the text field
 * @param {string} field
 * @param {(text: string) => void} say
 */
function copyableLink(url, label, field, say) {
  const input = h("input", { type: "text", readonly: true, value: url, class: "console-link", "aria-label": label, "data-field": field });
  input.addEventListener("focus", () => input.select());
  const note = h("span", { class: "console-copied", "data-field": `${field}-copied` });
  const button = h("button", { type: "button", class: "button button-light", "data-action": `${field}-copy`,
    onclick: () => copy(url, input, note, say) }, T("console_session.copy"));
  return h("div", { class: "console-copy" }, input, button, note);
}

/**
 * The people with their links and what may be done with each.
 * @param {string} base
 * @param {SessionView} session
 * @param {(changed?: boolean) => Promise<void>} reload `true` when a name may have changed (the documents name people)
 * @param {(text: string) => void} say
 */
function peopleTable(base, session, reload, say) {
  const error = h("p", { class: "panel-problem", role: "alert", hidden: true, "data-field": "people-error" });
  /** @param {Answer} a */
  const failed = (a) => {
    error.textContent = problemText(a);
    error.hidden = false;
  };
  const rows = session.people.map((p) => {
    const path = `${base}/people/${encodeURIComponent(p.id)}`;
    const act = async (/** @type {"revoke" | "readmit"} */ what) => {
      const yes = what === "revoke"
        ? await confirmDialog("console_session.revoke.title", "console_session.revoke.body", "console_session.revoke.confirm", p.name)
        : await confirmDialog("console_session.readmit.title", "console_session.readmit.body", "console_session.readmit.confirm", p.name);
      if (!yes) return;
      const a = await call("POST", `${path}/${what}`);
      if (!a.ok) return failed(a);
      say(t(what === "revoke" ? "console_session.revoked" : "console_session.readmitted", { name: p.name }));
      await reload();
    };
    const invite = async () => {
      const a = await call("POST", `${base}/invitations`, { people: [p.id] });
      if (!a.ok) return failed(a);
      say(a.body.queued.length > 0 ? t("console_session.invite_one.queued", { name: p.name })
        : t("console_session.invite_one.skipped", { name: p.name }));
      document.dispatchEvent(new CustomEvent("cadre:mails-changed"));
    };
    // Three columns, the link's state, text and acts together, so that
    // the table fits a tablet's width without scrolling sideways.
    /** @param {string} action @param {MessageKey} short @param {MessageKey} full @param {() => void} onclick */
    const button = (action, short, full, onclick) => h("button", { type: "button", class: "button button-light", "data-action": action,
      "aria-label": () => t(full, { name: p.name }), onclick }, T(short));
    return h("tr", { "data-person": p.id, "data-name": p.name },
      h("th", { scope: "row" }, p.name, h("br", {}), h("span", { class: "console-actor" }, roleLabel(p.role))),
      h("td", { class: "console-email" }, p.email ?? t("console_session.no_email"),
        p.lang ? h("span", { class: "console-actor", "data-field": "person-lang" }, h("br", {}), langLabel(p.lang)) : null,
        p.time_zone ? h("span", { class: "console-actor", "data-field": "person-zone" }, h("br", {}), p.time_zone) : null),
      h("td", {},
        h("p", { class: "console-link-state", "data-field": "link-state", "data-revoked": String(p.link.revoked) },
          T("console_session.link.state", { state: t(linkState(p.link)) })),
        copyableLink(p.link.url, t("console_session.link_of", { name: p.name }), "link", say),
        h("div", { class: "console-buttons" },
          p.link.revoked
            ? button("readmit", "console_session.readmit.confirm", "console_session.readmit", () => act("readmit"))
            : button("revoke", "console_session.revoke.confirm", "console_session.revoke", () => act("revoke")),
          p.email && !p.link.revoked
            ? button("invite-one", "console_session.invite_one.short", "console_session.invite_one", invite)
            : null,
          correctPersonButton(base, p, say, () => reload(true)))));
  });
  return h("div", {},
    table("console_session.people.title",
      ["console_session.col.name", "console_session.col.email", "console_session.col.link"],
      rows, "people"),
    error);
}

/** @param {MailView["state"]} state @returns {MessageKey} */
function mailState(state) {
  switch (state) {
    case "sent": return "console_session.mail.sent";
    case "failed": return "console_session.mail.failed";
    default: return "console_session.mail.pending";
  }
}

/** @param {string} kind */
function mailKind(kind) {
  const key = /** @type {MessageKey} */ (`console_session.mail.kind.${kind}`);
  const text = t(key);
  return text === key ? kind : text;
}

/**
 * The session's time zone: every time on the page is in it, as its
 * schedule is, so that a mail sent "at 09:02" and a session "from 09:00"
 * are read on the same clock.
 */
let zone = "Europe/Paris";

/**
 * `ms` on the session's clock (the browser's if it does not know the zone).
 * @param {number} ms
 * @param {Intl.DateTimeFormatOptions} options
 */
function inZone(ms, options) {
  try {
    return new Intl.DateTimeFormat(locale(), { ...options, timeZone: zone }).format(ms);
  } catch {
    return new Intl.DateTimeFormat(locale(), options).format(ms);
  }
}

/** @param {string} iso */
function at(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : inZone(ms, { dateStyle: "short", timeStyle: "medium" });
}

/**
 * The invitations: the button that sends them all, and the mail log, read
 * again every few seconds while a mail is pending and the page is shown.
 * @param {string} base
 * @param {SessionView} session
 * @param {HTMLElement} into
 * @param {(text: string) => void} say
 * @param {HTMLElement} root the page, to stop reading once it is gone
 */
async function showMails(base, session, into, say, root) {
  const result = h("p", { "data-field": "invite-result", hidden: true });
  const log = h("div", { "data-field": "mail-log" });
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const refresh = async () => {
    clearTimeout(timer);
    const a = await call("GET", `${base}/mails`);
    if (!a.ok) return replaceChildren(log, problem(a));
    /** @type {MailView[]} */
    const all = a.body;
    const names = new Map(session.people.map((p) => [p.id, p.name]));
    const failed = all.filter((m) => m.state === "failed").length;
    replaceChildren(log,
      failed > 0 ? h("p", { class: "panel-problem console-mail-alert", role: "alert", "data-field": "mail-failures" },
        T("console_session.mails.failures", { count: failed })) : null,
      all.length === 0 ? h("p", {}, T("console_session.mails.none"))
        : table("console_session.mails.title",
          ["console_session.col.to", "console_session.col.kind", "console_session.col.mail_state", "console_session.col.attempts",
            "console_session.col.detail"],
          all.map((m) => h("tr", { "data-mail": m.id, "data-state": m.state, class: m.state === "failed" ? "mail-failed" : m.state === "pending" && m.last_error ? "mail-retrying" : "" },
            h("th", { scope: "row", class: "console-email" }, names.get(m.person) ?? "", h("br", {}), m.to),
            h("td", {}, mailKind(m.kind)),
            h("td", { "data-field": "mail-state" }, h("strong", {}, T(mailState(m.state)))),
            h("td", { class: "num" }, String(m.attempts)),
            h("td", { "data-field": "mail-detail" },
              m.state === "sent" && m.sent_at ? T("console_session.mail.sent_at", { when: at(m.sent_at) }) : null,
              m.last_error ? h("span", { class: "console-mail-error" }, T("console_session.mail.error", { error: m.last_error })) : null,
              m.state === "pending" && m.next_attempt ? h("span", { class: "console-mail-next" }, " ", T("console_session.mail.next", { when: at(m.next_attempt) })) : null))),
          "mails"));
    if (all.some((m) => m.state === "pending")) {
      timer = setTimeout(() => {
        if (root.isConnected) void refresh();
      }, MAIL_REFRESH_MS);
    }
  };
  const send = h("button", { type: "button", class: "button button-primary", "data-action": "invite-all" }, T("console_session.invite_all"));
  send.addEventListener("click", async () => {
    send.disabled = true;
    const a = await call("POST", `${base}/invitations`, {});
    send.disabled = false;
    result.hidden = false;
    if (!a.ok) {
      result.className = "panel-problem";
      result.setAttribute("role", "alert");
      result.textContent = problemText(a);
      return;
    }
    result.className = "";
    result.removeAttribute("role");
    /** @type {{ queued: unknown[], skipped: { name: string, reason: string }[] }} */
    const body = a.body;
    const skipped = body.skipped.map((s) => `${s.name} (${t(s.reason === "no_email" ? "console_session.skipped.no_email" : "console_session.skipped.revoked")})`);
    result.textContent = t("console_session.invite_all.queued", { count: body.queued.length })
      + (skipped.length > 0 ? ` ${t("console_session.invite_all.skipped", { people: skipped.join(", ") })}` : "");
    say(result.textContent);
    await refresh();
  });
  const again = h("button", { type: "button", class: "button button-light", "data-action": "mails-refresh", onclick: refresh }, T("console_session.mails.refresh"));
  document.addEventListener("cadre:mails-changed", () => {
    if (root.isConnected) void refresh();
  });
  replaceChildren(into,
    h("p", { class: "panel-hint" }, T("console_session.mails.intro")),
    h("div", { class: "console-buttons" }, send, again),
    result,
    log);
  await refresh();
}

/** @param {number} ms */
function clock(ms) {
  return inZone(ms, { timeStyle: "short" });
}

/**
 * Who is connected now and since when, who signed in, the alerts; read
 * again every few seconds while the page is shown.
 * @param {string} base
 * @param {HTMLElement} into
 * @param {HTMLElement} root the page, to stop reading once it is gone
 * @param {string} [shown] what the table shows now, to rebuild it only on a change
 */
async function showLive(base, into, root, shown = "") {
  const a = await call("GET", `${base}/live`);
  let now = shown;
  if (a.ok) {
    /** @type {LiveView} */
    const view = a.body;
    const here = view.people.filter((p) => p.connected_since !== undefined).length;
    // Rebuilt only when something changed: a rebuilt table would take the
    // focus from whoever is reading it.
    now = JSON.stringify([view.people, view.alerts]);
    // The state changes while the page is open (the first join starts
    // the session): the summary follows it.
    const state = root.querySelector('[data-field="session-state"]');
    // A cancelled session stays « Annulée », which the live view, reading
    // the state alone, would call ended.
    if (state && !state.closest("[data-cancelled='true']")) state.textContent = t(/** @type {MessageKey} */ (`state.${view.state}`));
    const count = into.querySelector('[data-field="live-count"]');
    if (now === shown && count) {
      count.textContent = t("console_session.live.count", { here, all: view.people.length, at: clock(view.server_time) });
    } else replaceChildren(into,
      h("p", { "data-field": "live-count" }, T("console_session.live.count", { here, all: view.people.length, at: clock(view.server_time) })),
      table("console_session.live.title",
        ["console_session.col.name", "console_session.live.col.connected", "console_session.live.col.media", "console_session.live.col.signins"],
        view.people.map((p) => h("tr", { "data-live": p.id, "data-connected": String(p.connected_since !== undefined) },
          h("th", { scope: "row" }, p.name, " ", h("span", { class: "console-actor" }, `(${roleLabel(p.role)})`)),
          h("td", { "data-field": "live-since" }, p.connected_since !== undefined
            ? T("console_session.live.since", { when: clock(p.connected_since) }) : T("console_session.live.away")),
          h("td", {}, p.connected_since === undefined ? "" : t("console_session.live.media", {
            camera: t(p.camera ? "console_session.live.on" : "console_session.live.off"),
            microphone: t(p.microphone ? "console_session.live.on" : "console_session.live.off"),
          })),
          h("td", { "data-field": "live-signins" }, p.signins.length === 0 ? T("console_session.live.no_signin")
            : p.signins.map((s) => t("console_session.live.signed", { slot: s.slot, when: clock(s.at) })).join(", ")))),
        "live"),
      view.alerts.length === 0 ? h("p", { "data-field": "live-alerts" }, T("console_session.live.no_alert"))
        : h("div", { "data-field": "live-alerts" },
          h("h3", {}, T("console_session.live.alerts")),
          h("ul", { class: "console-alerts" }, ...view.alerts.map((x) => h("li", { "data-rule": x.rule },
            h("strong", {}, clock(x.at)), " ", x.message)))));
  } else {
    replaceChildren(into, problem(a));
  }
  // The first reading happens before the page is in the document; a page
  // left (another page shown) stops reading.
  setTimeout(() => {
    if (root.isConnected) void showLive(base, into, root, now);
  }, LIVE_REFRESH_MS);
}

/**
 * What to download: the session's documents, each person's, and the
 * sponsor's link when the session has a sponsor.
 * @param {string} base
 * @param {SessionView} session
 * @param {(text: string) => void} say
 */
function documents(base, session, say) {
  const lang = currentLang();
  /** @param {string} href @param {MessageKey} label @param {string} field @param {Record<string, string>} [args] */
  const link = (href, label, field, args) => h("a", { href, download: "", "data-download": field }, T(label, args));
  const whole = h("ul", { class: "console-documents" },
    h("li", {}, link(`${base}/attendance.pdf?lang=${lang}`, "console_session.doc.sheet_pdf", "sheet-pdf")),
    h("li", {}, link(`${base}/attendance.csv`, "console_session.doc.sheet_csv", "sheet-csv")),
    h("li", {}, link(`${base}/ledger`, "console_session.doc.ledger", "ledger")),
    h("li", {}, link(`${base}/reports.csv`, "console_session.doc.reports_csv", "reports-csv")));
  const each = table("console_session.doc.people",
    ["console_session.col.name", "console_session.doc.certificate", "console_session.doc.proof"],
    session.people.map((p) => h("tr", { "data-person": p.id },
      h("th", { scope: "row" }, p.name),
      h("td", {}, link(`${base}/proofs/${encodeURIComponent(p.id)}/pdf?lang=${lang}`, "console_session.doc.certificate_of", "proof-pdf", { name: p.name })),
      h("td", {}, link(`${base}/proofs/${encodeURIComponent(p.id)}`, "console_session.doc.proof_of", "proof-jws", { name: p.name })))),
    "documents");
  const sponsor = h("div", { "data-field": "sponsor-link" });
  if (session.sponsor) {
    const make = h("button", { type: "button", class: "button button-light", "data-action": "sponsor-link" }, T("console_session.sponsor.create", { sponsor: session.sponsor }));
    make.addEventListener("click", async () => {
      const a = await call("POST", `${base}/sponsor-link`);
      if (!a.ok) return replaceChildren(sponsor, make, problem(a));
      replaceChildren(sponsor,
        h("p", {}, T("console_session.sponsor.made", { when: at(a.body.expires_at) })),
        copyableLink(a.body.url, t("console_session.sponsor.link", { sponsor: session.sponsor ?? "" }), "sponsor", say));
      say(t("console_session.sponsor.made", { when: at(a.body.expires_at) }));
    });
    replaceChildren(sponsor, make);
  } else {
    replaceChildren(sponsor, h("p", { class: "panel-hint" }, T("console_session.sponsor.none")));
  }
  return h("div", {}, whole, each, h("h3", {}, T("console_session.sponsor.title")), sponsor);
}

/**
 * The session's difficulty reports, each with its written answer and the
 * form to answer (and close) it.
 * @param {string} base
 * @param {HTMLElement} into
 * @param {(text: string) => void} say
 */
async function showReports(base, into, say) {
  const a = await call("GET", `${base}/reports`);
  if (!a.ok) return replaceChildren(into, problem(a));
  /** @type {Difficulty[]} */
  const all = a.body;
  if (all.length === 0) return replaceChildren(into, h("p", {}, T("console_session.reports.none")));
  const reload = () => showReports(base, into, say);
  replaceChildren(into, h("ul", { class: "console-reports" }, ...all.map((r) => {
    const error = h("p", { class: "panel-problem", role: "alert", hidden: true, "data-field": "report-error" });
    /** @param {Answer} x */
    const failed = (x) => {
      error.textContent = problemText(x);
      error.hidden = false;
    };
    const id = `answer-${r.id}`;
    /** @type {Node | null} */
    let form = null;
    if (r.status !== "closed") {
      const text = h("textarea", { id, rows: 3, maxlength: 8000, required: true, "data-field": "report-answer" });
      const close = h("input", { id: `${id}-close`, type: "checkbox", "data-field": "report-close" });
      const f = h("form", { class: "console-form", "data-field": "report-form" },
        h("div", { class: "field" }, h("label", { for: id }, T("console_session.reports.answer_label", { name: r.author.name })), text),
        h("div", { class: "console-check" }, close, h("label", { for: `${id}-close` }, T("console_session.reports.close_with"))),
        h("div", { class: "console-buttons" },
          h("button", { type: "submit", class: "button button-primary", "data-action": "report-answer" }, T("console_session.reports.answer")),
          r.status === "answered"
            ? h("button", { type: "button", class: "button button-light", "data-action": "report-close",
              onclick: async () => {
                const x = await call("POST", `${base}/reports/${encodeURIComponent(r.id)}/close`);
                if (!x.ok) return failed(x);
                say(t("console_session.reports.closed_now"));
                await reload();
              } }, T("console_session.reports.close"))
            : null));
      f.addEventListener("submit", async (event) => {
        event.preventDefault();
        const x = await call("POST", `${base}/reports/${encodeURIComponent(r.id)}/answer`, { answer: text.value, close: close.checked });
        if (!x.ok) return failed(x);
        say(t("console_session.reports.answered_now"));
        await reload();
      });
      form = f;
    }
    return h("li", { class: "console-report", "data-report": r.id, "data-status": r.status },
      h("p", { class: "console-report-head" },
        h("strong", {}, r.author.name), " · ", inZone(r.created_at, { dateStyle: "short", timeStyle: "short" }),
        " · ", h("span", { "data-field": "report-status" }, T(/** @type {MessageKey} */ (`console_session.reports.status.${r.status}`)))),
      h("blockquote", { class: "console-report-text" }, r.text),
      r.answer ? h("p", { class: "console-report-answer", "data-field": "report-answer-text" },
        h("strong", {}, T("console_session.reports.answer_given")), " ", r.answer) : null,
      form,
      error);
  })));
}
