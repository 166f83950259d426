// @ts-check
//! « Mes documents »: the files a person takes away, each with what it is
//! For and whom to give it to, in the call's panel and on the
//! final screens:
//!
//! - the certificat de réalisation, the official document for the funder
//!   or the employer (per action: `GET /api/sessions/{sid}/certificate/{pid}`);
//! - the relevé de présence, the detailed record of this session, for
//!   oneself (`…/proofs/{pid}/pdf`);
//! - the verification bundle and the signed file, for an auditor who wants
//!   to check them (`cadre verify`);
//! - facilitators: the attendance sheet (PDF, and CSV for a spreadsheet).
//!
//! Every file is drawn from the record when downloaded: after the session,
//! it is complete.

import { lang, t } from "./i18n.js";
import { T, bindContent, bindText, h, icon, richText } from "./dom.js";
import { documents, fetchConsistency, fetchProof } from "./api.js";
import { Panel } from "./panel.js";
import { consistencyPairs, loadReceipts, saveJson, treeHeadClaims } from "./evidence.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./wire.js").Me} Me */
/** @typedef {import("./context.js").CallContext} CallContext */

/**
 * Who the documents are about.
 * @typedef {object} About
 * @property {{ id: string, title: string }} session
 * @property {Me} you
 * @property {string} token the join token (the credential of every download)
 */

/**
 * « Dossier de vérification »: the proof drawn now, every receipt this
 * browser kept for the session, and the consistency proofs linking each
 * receipt to the proof's tree head, as one file `cadre verify` reads.
 * Resolves with the reason it failed, or null once the file is offered.
 * @param {{ session: { id: string, title: string }, you: { id: string, name: string }, token: string }} about
 * @returns {Promise<string | null>}
 */
export async function downloadVerificationBundle({ session, you, token }) {
  const proof = await fetchProof(session.id, you.id, token);
  if (!proof.ok) return proof.error.message;
  const headSize = treeHeadClaims(proof.value.proof.evidence.tree_head).tree_size;
  if (typeof headSize !== "number") return "the proof's tree head has no size";
  const receipts = loadReceipts(session.id);
  /** @type {import("./wire.js").Consistency[]} */
  const consistency = [];
  for (const [from, to] of consistencyPairs(receipts, headSize)) {
    const c = await fetchConsistency(session.id, from, to, token);
    if (!c.ok) return c.error.message;
    consistency.push(c.value);
  }
  saveJson(`cadre-verification-${session.id}-${you.id}.json`, {
    typ: "cadre.verification-bundle",
    v: 1,
    session: { id: session.id, title: session.title },
    person: { id: you.id, name: you.name },
    downloaded_at: new Date().toISOString(),
    proof: proof.value.jws,
    receipts: receipts.map((r) => r.tree_head),
    consistency,
  });
  return null;
}

/**
 * The « Dossier de vérification » button, and the line that says why it
 * failed, if it does.
 * @param {{ session: { id: string, title: string }, you: { id: string, name: string }, token: string }} about
 */
function bundleControl(about) {
  /** @type {string | null} */
  let failure = null;
  const error = bindText(h("p", { class: "panel-problem", "data-field": "bundle-error", role: "alert", hidden: true }),
    () => t("documents.bundle_error", { reason: failure ?? "" }));
  const button = /** @type {HTMLButtonElement} */ (h("button", {
    type: "button",
    class: "button button-quiet",
    "data-action": "download-verification",
    onclick: async () => {
      button.disabled = true;
      try {
        failure = await downloadVerificationBundle(about);
      } finally {
        button.disabled = false;
      }
      error.hidden = failure === null;
      error.textContent = t("documents.bundle_error", { reason: failure ?? "" });
    },
  }, icon("download"), T("documents.bundle")));
  return { button, error };
}

/**
 * One document: its download, and a line saying what it is for and whom
 * to give it to.
 * @param {object} o
 * @param {string} o.doc the item's name, for tests and styles
 * @param {HTMLElement} o.control a link or a button
 * @param {MessageKey} o.purpose
 * @param {HTMLElement | false} [o.more] under the purpose (details, an error)
 */
function item({ doc, control, purpose, more = false }) {
  return h("li", { class: "document", "data-doc": doc },
    control,
    h("p", { class: "document-purpose", "data-field": "document-purpose" }, T(purpose)),
    more);
}

/**
 * A file to download: a plain link (the server answers with an attachment),
 * styled as a button; its address follows the language.
 * @param {{ action: string, href: () => string, label: MessageKey, primary?: boolean }} o
 */
function link({ action, href, label, primary = false }) {
  return h("a", { class: primary ? "button button-primary" : "button button-quiet", href, download: true, "data-action": action },
    icon("download"), T(label));
}

/**
 * The list of a person's documents (and a facilitator's sheets).
 * @param {About} about
 * @param {object} [o]
 * @param {"h2" | "h3" | null} [o.heading] null: no title (inside a panel that has one)
 */
export function documentsSection(about, { heading = null } = {}) {
  const { session, you, token } = about;
  const sid = session.id;
  const pid = you.id;
  const bundle = bundleControl(about);
  const keys = `${location.origin}${documents.jwks}`;
  const technical = h("details", { class: "document-details", "data-field": "verify-details" },
    h("summary", {}, T("documents.technical")),
    h("p", { class: "panel-hint" },
      link({ action: "download-proof-jws", href: () => documents.proofJws(sid, pid, token), label: "documents.proof_jws" })),
    bindContent(h("p", { class: "panel-hint", "data-field": "bundle-hint" }), () => richText("documents.bundle_hint", {
      command: () => h("code", {}, "cadre verify"),
    })),
    bindContent(h("p", { class: "panel-hint", "data-field": "verify-hint" }), () => richText("documents.verify", {
      command: () => h("code", {}, "cadre verify"),
      keys: () => h("a", { href: documents.jwks, target: "_blank", rel: "noopener" }, h("code", {}, keys)),
    })));
  const facilitator = you.role === "facilitator";
  return h("section", { class: "documents", "data-field": "my-documents", "aria-label": () => t("documents.title") },
    heading && h(heading, { class: "documents-title" }, T("documents.title")),
    h("p", { class: "panel-hint" }, T("documents.intro")),
    h("ul", { class: "documents-list documents-explained" },
      item({
        doc: "certificate",
        control: link({ action: "download-certificate", href: () => documents.certificate(sid, pid, token, lang()), label: "documents.certificate", primary: true }),
        purpose: "documents.certificate_for",
      }),
      item({
        doc: "record",
        control: link({ action: "download-proof-pdf", href: () => documents.proofPdf(sid, pid, token, lang()), label: "documents.proof_pdf" }),
        purpose: "documents.proof_pdf_for",
      }),
      item({
        doc: "verification",
        control: bundle.button,
        purpose: "documents.bundle_for",
        more: h("div", {}, bundle.error, technical),
      }),
      facilitator && item({
        doc: "sheet",
        control: link({ action: "download-sheet-pdf", href: () => documents.sheetPdf(sid, token, lang()), label: "console.sheet_pdf" }),
        purpose: "documents.sheet_for",
      }),
      facilitator && item({
        doc: "sheet-csv",
        control: link({ action: "download-sheet-csv", href: () => documents.sheetCsv(sid, token), label: "console.sheet_csv" }),
        purpose: "documents.sheet_csv_for",
      })));
}

/**
 * The call's « Mes documents » panel.
 * @param {CallContext} ctx
 */
export function documentsPanel(ctx) {
  const panel = ctx.panels.mount(new Panel({ id: "documents-panel", label: "documents.control", icon: "document", title: () => t("documents.title"), secondary: true }));
  panel.body.append(documentsSection({ session: ctx.session, you: ctx.you, token: ctx.token }));
  return panel;
}
