// @ts-check
//! Corrections in the console: a session's title, a person's name, e-mail
//! or mail language, a beneficiary's (with their employer) on the action
//! and each of their places. Each opens a dialog of the current values;
//! the server checks everything, keeps the values before in the audit log
//! and answers the page's new state, which is then shown again.

import { t } from "./i18n.js";
import { call, field, sendOnSubmit } from "./console-kit.js";
import { T, h } from "./dom.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./console-kit.js").Answer} Answer */

/**
 * The language select of a person's mails: the organisation's default
 * (empty), French, English.
 * @param {string} id
 * @param {string} [value]
 */
export function langSelect(id, value = "") {
  const select = /** @type {HTMLSelectElement} */ (h("select", { "data-field": id },
    h("option", { value: "" }, T("corrections.lang.default")),
    h("option", { value: "fr", lang: "fr" }, T("corrections.lang.fr")),
    h("option", { value: "en", lang: "en" }, T("corrections.lang.en"))));
  select.value = value;
  return { select, wrap: field(id, "corrections.lang", select).wrap };
}

/**
 * Time zones people of a French organisation are often in, offered as the
 * field is typed; any IANA name is taken.
 */
const ZONES = ["Europe/Paris", "America/Guadeloupe", "America/Martinique", "America/Cayenne", "Indian/Reunion",
  "Indian/Mayotte", "Pacific/Noumea", "Pacific/Tahiti", "America/Miquelon", "Europe/Brussels", "Europe/Luxembourg",
  "Europe/Zurich", "Europe/London", "Africa/Casablanca", "Africa/Dakar", "Africa/Abidjan", "America/Toronto",
  "America/Montreal", "America/New_York"];

/** Whether `zone` is a time zone this browser knows (empty: none chosen). @param {string} zone */
function knownZone(zone) {
  if (!zone) return true;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The time zone field of a person's mails (empty: the session's), with
 * its check.
 * @param {string} id
 * @param {string} [value]
 */
export function zoneField(id, value = "") {
  const list = h("datalist", { id: `${id}-zones` }, ...ZONES.map((z) => h("option", { value: z })));
  const input = /** @type {HTMLInputElement} */ (h("input", { type: "text", autocomplete: "off", maxlength: 64, value, list: `${id}-zones`, "data-field": id }));
  const f = field(id, "corrections.zone", input, "corrections.zone_hint");
  f.wrap.append(list);
  const check = () => {
    const bad = !knownZone(input.value.trim());
    f.setError(bad ? t("corrections.zone_error") : "");
    if (bad) input.focus();
    return !bad;
  };
  return { input, wrap: f.wrap, check };
}

/** A person's chosen language, in words; empty when none was chosen. @param {string | undefined} lang */
export function langLabel(lang) {
  return lang === "fr" || lang === "en" ? t(/** @type {MessageKey} */ (`corrections.lang.${lang}`)) : "";
}

/**
 * A dialog of fields; `save` sends them and answers whether the server
 * took them (the dialog then closes). Escape or « Fermer » changes nothing.
 * @param {string} name the dialog's `data-dialog`
 * @param {string} title its heading, already in words
 * @param {Node[]} content hints and fields
 * @param {(fail: (a: Answer) => void) => Promise<boolean>} save
 */
function correctionDialog(name, title, content, save) {
  const problem = h("p", { class: "panel-problem", role: "alert", hidden: true, "data-field": `${name}-error` });
  const close = h("button", { type: "button", class: "button", "data-action": "dialog-cancel" }, T("corrections.close"));
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "button button-primary", "data-action": `${name}-save` }, T("corrections.save")));
  const form = h("form", { class: "dialog-form console-form", novalidate: true },
    h("h2", { id: `${name}-title`, class: "dialog-title" }, title),
    ...content,
    problem,
    h("div", { class: "dialog-actions" }, close, submit));
  const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "dialog", "data-dialog": name, "aria-labelledby": `${name}-title` }, form));
  close.addEventListener("click", () => dialog.close());
  sendOnSubmit(/** @type {HTMLFormElement} */ (form), submit, problem, save, () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  dialog.querySelector("input")?.focus();
}

/**
 * Name, e-mail, language and time zone fields filled with `p`'s (empty for
 * a new person), checked before sending, and the body to send.
 * @param {string} prefix
 * @param {{ name: string, email?: string, lang?: string, time_zone?: string }} p
 */
export function personFields(prefix, p) {
  const name = /** @type {HTMLInputElement} */ (h("input", { type: "text", required: true, maxlength: 120, autocomplete: "off", value: p.name, "data-field": `${prefix}-name` }));
  const email = /** @type {HTMLInputElement} */ (h("input", { type: "email", autocomplete: "off", maxlength: 254, value: p.email ?? "", "data-field": `${prefix}-email` }));
  const nameField = field(`${prefix}-name`, "enrolment.name", name);
  const emailField = field(`${prefix}-email`, "enrolment.email", email, "enrolment.email_hint");
  const lang = langSelect(`${prefix}-lang`, p.lang ?? "");
  const zone = zoneField(`${prefix}-zone`, p.time_zone ?? "");
  const check = () => {
    const missing = !name.value.trim();
    const bad = email.value.trim() !== "" && !email.checkValidity();
    nameField.setError(missing ? t("actions_console.error.required") : "");
    emailField.setError(bad ? t("actions_console.error.email") : "");
    if (missing) name.focus();
    else if (bad) email.focus();
    return !missing && !bad && zone.check();
  };
  // Every field goes: the server changes only what differs, and an empty
  // e-mail, language or zone removes it.
  const body = () => ({ name: name.value.trim(), email: email.value.trim(), lang: lang.select.value, time_zone: zone.input.value.trim() });
  return { fields: [nameField.wrap, emailField.wrap, lang.wrap, zone.wrap], check, body, name };
}

/**
 * The button that corrects a person of a session; `done` shows the page
 * again with what the server answered.
 * @param {string} base the session's API path
 * @param {{ id: string, name: string, email?: string, lang?: string, time_zone?: string, role: string }} p
 * @param {(text: string) => void} say
 * @param {() => Promise<void> | void} done
 */
export function correctPersonButton(base, p, say, done) {
  return h("button", { type: "button", class: "button button-light", "data-action": "correct-person",
    "aria-label": () => t("corrections.edit_of", { name: p.name }),
    onclick: () => {
      const f = personFields("correct-person", p);
      correctionDialog("correct-person", t("corrections.person.title", { name: p.name }), [
        h("p", { class: "panel-hint" }, T("corrections.person.hint")),
        // A participant may be an action's beneficiary: the server then
        // corrects them everywhere, which the page says beforehand.
        ...(p.role === "participant" ? [h("p", { class: "panel-hint" }, T("corrections.person.beneficiary_hint"))] : []),
        ...f.fields,
      ], async (fail) => {
        if (!f.check()) return false;
        const a = await call("PATCH", `${base}/people/${encodeURIComponent(p.id)}`, f.body());
        if (!a.ok) {
          fail(a);
          return false;
        }
        say(t("corrections.done", { name: f.body().name }));
        await done();
        return true;
      });
    } }, T("corrections.edit"));
}

/**
 * The button that corrects a beneficiary of action `aid`.
 * @param {string} aid
 * @param {{ id: string, name: string, email?: string, employer?: string, lang?: string, time_zone?: string }} b
 * @param {() => void} done
 */
export function correctBeneficiaryButton(aid, b, done) {
  return h("button", { type: "button", class: "button button-light", "data-action": "correct-beneficiary",
    "aria-label": () => t("corrections.edit_of", { name: b.name }),
    onclick: () => {
      const f = personFields("correct-beneficiary", b);
      const employer = /** @type {HTMLInputElement} */ (h("input", { type: "text", maxlength: 200, autocomplete: "off", value: b.employer ?? "", "data-field": "correct-beneficiary-employer" }));
      correctionDialog("correct-beneficiary", t("corrections.person.title", { name: b.name }), [
        h("p", { class: "panel-hint" }, T("corrections.person.hint")),
        h("p", { class: "panel-hint" }, T("corrections.person.beneficiary_hint")),
        ...f.fields,
        field("correct-beneficiary-employer", "enrolment.employer", employer).wrap,
      ], async (fail) => {
        if (!f.check()) return false;
        const a = await call("PATCH", `/api/actions/${encodeURIComponent(aid)}/beneficiaries/${encodeURIComponent(b.id)}`,
          { ...f.body(), employer: employer.value.trim() });
        if (!a.ok) {
          fail(a);
          return false;
        }
        done();
        return true;
      });
    } }, T("corrections.edit"));
}

/**
 * The button that corrects a session's title.
 * @param {{ id: string, title: string }} session
 * @param {(text: string) => void} say
 * @param {() => void} done
 */
export function retitleButton(session, say, done) {
  return h("button", { type: "button", class: "button button-light", "data-action": "retitle",
    onclick: () => {
      const title = /** @type {HTMLInputElement} */ (h("input", { type: "text", required: true, maxlength: 200, autocomplete: "off", value: session.title, "data-field": "retitle-title" }));
      const titleField = field("retitle-title", "corrections.title.label", title, "corrections.title.hint");
      correctionDialog("retitle", t("corrections.title.title"), [titleField.wrap], async (fail) => {
        if (!title.value.trim()) {
          titleField.setError(t("actions_console.error.required"));
          title.focus();
          return false;
        }
        const a = await call("PATCH", `/api/sessions/${encodeURIComponent(session.id)}`, { title: title.value.trim() });
        if (!a.ok) {
          fail(a);
          return false;
        }
        say(t("corrections.title.done"));
        done();
        return true;
      });
    } }, T("corrections.title.button"));
}
