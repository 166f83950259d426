// @ts-check
//! The action a session belongs to (the one the person's
//! certificat de réalisation covers), the changes of the person's action
//! (article 2.1.7: adapted, paused, resumed, interrupted, each with its
//! reason), shown in the lobby and told live during the call, and the link
//! to the person's certificate.

import { bindText, h } from "./dom.js";
import { locale, t } from "./i18n.js";

/** @typedef {import("./wire.js").Lobby} Lobby */
/** @typedef {import("./wire.js").ActionChange} ActionChange */
/** @typedef {import("./i18n.js").MessageKey} MessageKey */

/**
 * "Votre action a été interrompue le 3 décembre 2026. Motif : …"
 * @param {ActionChange} change
 */
export function changeText(change) {
  const date = new Date(change.at).toLocaleDateString(locale(), { day: "numeric", month: "long", year: "numeric" });
  return t(/** @type {MessageKey} */ (`action.change.${change.kind}`), { date, reason: change.reason });
}

/**
 * The one address of a person's certificate: of the session's action, or of
 * the session alone when it belongs to none.
 * @param {Lobby} lobby
 * @param {string} token
 * @param {"pdf" | "jws"} [format]
 */
export function certificateUrl(lobby, token, format = "pdf") {
  const path = `/api/sessions/${encodeURIComponent(lobby.session.id)}/certificate/${encodeURIComponent(lobby.you.id)}`;
  const query = new URLSearchParams({ token, lang: locale().slice(0, 2) });
  if (format === "jws") query.set("format", "jws");
  return `${path}?${query}`;
}

/**
 * The lobby's part about the action: which action, the person's changes
 * (newest last, as recorded), and, for a participant, their certificate.
 * Nothing when the session belongs to no action and nothing was recorded.
 * @param {Lobby} lobby
 * @param {string} token
 * @returns {HTMLElement | null}
 */
export function actionNotice(lobby, token) {
  const action = lobby.session.action;
  const changes = lobby.action_changes ?? [];
  if (!action && changes.length === 0) return null;
  const interrupted = changes.some((c) => c.kind === "interrupted");
  return h("div", { class: "action-notice", "data-interrupted": interrupted ? "true" : null },
    action && bindText(h("p", { class: "action-title" }), () => t("action.part_of", { title: action.title })),
    changes.length > 0 && h("ul", { class: "action-changes", role: "list" },
      ...changes.map((c) => bindText(h("li", { "data-kind": c.kind }), () => changeText(c)))),
    action && lobby.you.role === "participant" &&
      bindText(h("a", { class: "action-certificate", href: certificateUrl(lobby, token), download: "" }),
        () => t("action.certificate", { title: action.title })));
}
