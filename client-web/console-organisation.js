// @ts-check
//! The organisation's identity in the console (`/console/organisation`,
//! administrators only): what certificates, attendance sheets and the
//! dossier d'audit print about the organisation (name, legal
//! representative, address, SIRET, NDA, "Fait à"), and the
//! signature-and-stamp image. The page says which fields a certificate
//! still needs; the server checks each value (SIRET's key, NDA's digits)
//! and its sentence is shown when it refuses one.

import { t } from "./i18n.js";
import { call, page, problemText } from "./console-kit.js";
import { T, h, replaceChildren } from "./dom.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./console-kit.js").Answer} Answer */

/** The text fields, in the form's order, by their API name. */
const FIELDS = /** @type {const} */ ([
  { name: "name", label: "organisation_console.name", auto: "organization" },
  { name: "representative_name", label: "organisation_console.representative_name", auto: "name" },
  { name: "representative_quality", label: "organisation_console.representative_quality", auto: "organization-title" },
  { name: "address", label: "organisation_console.address", auto: "street-address" },
  { name: "siret", label: "organisation_console.siret", auto: "off" },
  { name: "nda", label: "organisation_console.nda", auto: "off" },
  { name: "place", label: "organisation_console.place", auto: "address-level2" },
]);

/** @param {string} field an API name @returns {string} */
function fieldLabel(field) {
  const known = FIELDS.find((f) => f.name === field);
  return known ? t(known.label) : field;
}

/** @returns {Promise<Node>} */
export async function organisationPage() {
  const container = h("div", {});
  const answer = await call("GET", "/api/organisation");
  const status = h("p", { class: "panel-hint", role: "status", "data-field": "organisation-saved" });
  const problem = h("p", { class: "panel-problem", role: "alert", "data-field": "organisation-error", hidden: true });
  /** @param {Answer} a */
  const failed = (a) => {
    problem.hidden = false;
    problem.textContent = problemText(a);
  };
  const reload = async () => replaceChildren(container, await organisationPage());

  replaceChildren(container, page("organisation_console.title", answer, (/** @type {any} */ o) => {
    const missing = h("div", { "data-field": "organisation-missing" },
      o.missing.length === 0
        ? h("p", { class: "panel-hint" }, T("organisation_console.complete"))
        : h("p", { class: "panel-problem" }, T("organisation_console.missing", { fields: o.missing.map(fieldLabel).join(", ") })));
    /** @type {Map<string, HTMLInputElement | HTMLTextAreaElement>} */
    const inputs = new Map();
    const fields = FIELDS.map((f) => {
      const id = `org-${f.name}`;
      const value = f.name === "address" ? (o.address ?? []).join("\n") : (o[f.name] ?? "");
      const input = f.name === "address"
        ? h("textarea", { id, rows: 4, autocomplete: f.auto, "aria-describedby": `${id}-hint`, "data-field": id }, value)
        : h("input", { id, type: "text", value, autocomplete: f.auto, "data-field": id });
      inputs.set(f.name, /** @type {any} */ (input));
      return h("div", { class: "field" }, h("label", { for: id }, T(f.label)), input,
        f.name === "address" ? h("p", { id: `${id}-hint`, class: "panel-hint" }, T("organisation_console.address_hint")) : null);
    });
    const form = h("form", { class: "console-form console-identity", "data-field": "organisation-form" },
      ...fields,
      h("button", { type: "submit", class: "button button-primary", "data-action": "organisation-save" }, T("organisation_console.save")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      problem.hidden = true;
      /** @type {Record<string, unknown>} */
      const update = {};
      for (const [name, input] of inputs) {
        const value = input.value.trim();
        // An empty field is left as it is stored: the API replaces only
        // what is given.
        if (!value) continue;
        update[name] = name === "address" ? value.split("\n").map((l) => l.trim()).filter(Boolean) : value;
      }
      const a = await call("PUT", "/api/organisation", update);
      if (!a.ok) {
        failed(a);
        return;
      }
      await reload();
      const saved = container.querySelector('[data-field="organisation-saved"]');
      if (saved) saved.textContent = t("organisation_console.saved");
    });

    const image = h("input", { id: "org-signature", type: "file", accept: "image/png,image/jpeg", "data-field": "org-signature",
      "aria-describedby": "org-signature-hint" });
    image.addEventListener("change", async () => {
      const file = /** @type {HTMLInputElement} */ (image).files?.[0];
      if (!file) return;
      problem.hidden = true;
      const a = await call("PUT", "/api/organisation/signature", file);
      if (a.ok) await reload();
      else failed(a);
    });
    const remove = h("button", { type: "button", class: "button button-light", "data-action": "signature-remove" },
      T("organisation_console.signature_remove"));
    remove.addEventListener("click", async () => {
      const a = await call("DELETE", "/api/organisation/signature");
      if (a.ok) await reload();
      else failed(a);
    });
    const signature = h("section", { class: "console-part", "aria-labelledby": "org-signature-title", "data-field": "organisation-signature" },
      h("h2", { id: "org-signature-title" }, T("organisation_console.signature")),
      h("p", { "data-field": "signature-state" }, o.signature
        ? T("organisation_console.signature_stored", { kb: Math.ceil(o.signature.bytes / 1024), sha: o.signature.sha256.slice(0, 12) })
        : T("organisation_console.signature_none")),
      h("div", { class: "field" }, h("label", { for: "org-signature" }, T("organisation_console.signature_file")), image,
        h("p", { id: "org-signature-hint", class: "panel-hint" }, T("organisation_console.signature_hint"))),
      o.signature ? remove : null);
    // The outcome is said under the button that asked for it.
    return [h("p", {}, T("organisation_console.intro")), missing, form, status, problem, signature];
  }));
  return container;
}
