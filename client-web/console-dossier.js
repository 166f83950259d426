// @ts-check
//! The « dossier d'audit » of an action in the console: a download link per
//! action in the actions list. The zip is built by the server
//! (`GET /api/actions/{aid}/dossier.zip`); a plain link is enough, since the
//! login's cookie goes with it and a download changes nothing (no CSRF
//! token), and the server names the file.

import { t } from "./i18n.js";
import { T, h, icon } from "./dom.js";

/**
 * The link that downloads `action`'s dossier d'audit, named with the
 * action's title for a screen reader (every row has one).
 * @param {{ id: string, title: string }} action
 */
export function dossierLink(action) {
  return h("a", {
    class: "button button-quiet",
    href: `/api/actions/${encodeURIComponent(action.id)}/dossier.zip`,
    download: true,
    "data-action": "download-dossier",
    "aria-label": () => t("staff_console.dossier.download_of", { title: action.title }),
  }, icon("download"), T("staff_console.dossier.download"));
}
