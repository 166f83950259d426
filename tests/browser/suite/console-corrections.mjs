// Corrections in the staff console: on a session's page a coordinator
// corrects its title and a trainee's misspelt name, adds his address and
// has his mails written in English with the dates of his time zone (an
// empty name, a wrong address and an unknown zone are pointed out in the
// dialog and nothing is sent; Escape changes nothing);
// on an action's page an address already another beneficiary's is refused
// with the server's reason, said in French, then the employer is corrected; in the
// sessions list a cancelled session reads « Annulée », not « Terminée ».
// axe finds nothing with each dialog open.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { addCoordinator, logIn, nameOrganisation } from "../lib/console.mjs";
import { violations } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { organiser, startServer } from "../lib/server.mjs";

/** @param {import("playwright-core").Page} page @param {string} where */
async function noViolations(page, where) {
  const found = await violations(page);
  assert.deepEqual(found, [], `axe on ${where}:\n${found.join("\n")}`);
}

test("console corrections: a coordinator corrects a session's title and a trainee's name, address, language and time zone; a beneficiary's address already taken is refused; a cancelled session reads « Annulée »", async (stage) => {
  /** @type {(() => Promise<void>)[]} */
  const cleanups = [];
  try {
    const server = await startServer(cleanups, ["--ice-policy", "loopback"]);
    const dataDir = /** @type {any} */ (server).dataDir;
    const coordinator = { email: "hugo.petit@organisme.example", name: "Hugo Petit", password: "un mot de passe assez long" };
    addCoordinator(dataDir, coordinator);
    nameOrganisation(dataDir, "Formations Horizon");
    const start = new Date(Date.now() + 2 * 86_400_000);
    start.setUTCSeconds(0, 0);
    const body = (/** @type {string} */ title) => ({
      title,
      kind: "formation",
      organisation: "Formations Horizon",
      planned_start: start.toISOString(),
      planned_end: new Date(start.getTime() + 180 * 60_000).toISOString(),
      time_zone: "Europe/Paris",
      people: [
        { name: "Claire Martin", role: "facilitator" },
        { name: "Karim Benaly", role: "participant" },
      ],
    });
    const session = await organiser(server, "POST", "/api/sessions", body("Prise de parole en publc"));

    const context = await stage.context({ locale: "fr-FR", viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    /** @type {string[]} */
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await logIn(page, server.url, `/console/sessions/${session.id}`, coordinator);
    await page.locator(`[data-session="${session.id}"].console-session`).waitFor({ timeout: UI_WAIT_MS });

    // The title, misspelt.
    await page.locator('[data-action="retitle"]').click();
    const retitle = page.locator('dialog[data-dialog="retitle"]');
    await retitle.waitFor({ timeout: UI_WAIT_MS });
    await retitle.locator('[data-field="retitle-title"]').fill("Prise de parole en public");
    await retitle.locator('[data-action="retitle-save"]').click();
    await page.locator('[data-field="session-title"]', { hasText: "Prise de parole en public" }).waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await page.locator("dialog").count(), 0, "the dialog is closed");

    // Karim's name, his address, his language.
    const karim = page.locator('table[data-field="people"] tr[data-name="Karim Benaly"]');
    await karim.locator('[data-action="correct-person"]').click();
    const dialog = page.locator('dialog[data-dialog="correct-person"]');
    await dialog.waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await dialog.locator('[data-field="correct-person-name"]').inputValue(), "Karim Benaly");
    await noViolations(page, "the correction dialog");
    await page.screenshot({ path: join(ARTIFACTS, "console-corrections-dialog-1280.png") });
    // Escape: nothing changes.
    await dialog.locator('[data-field="correct-person-name"]').fill("Quelqu’un d’autre");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached", timeout: UI_WAIT_MS });
    await karim.waitFor({ timeout: UI_WAIT_MS });

    await karim.locator('[data-action="correct-person"]').click();
    await dialog.waitFor({ timeout: UI_WAIT_MS });
    await dialog.locator('[data-field="correct-person-name"]').fill(" ");
    await dialog.locator('[data-action="correct-person-save"]').click();
    await dialog.locator('[data-error="correct-person-name"]', { hasText: "À renseigner." }).waitFor({ timeout: UI_WAIT_MS });
    await dialog.locator('[data-field="correct-person-name"]').fill("Karim Benali");
    await dialog.locator('[data-field="correct-person-email"]').fill("karim@");
    await dialog.locator('[data-action="correct-person-save"]').click();
    await dialog.locator('[data-error="correct-person-email"]:not([hidden])').waitFor({ timeout: UI_WAIT_MS });
    await dialog.locator('[data-field="correct-person-email"]').fill("karim.benali@example.org");
    await dialog.locator('[data-field="correct-person-lang"]').selectOption("en");
    // A zone the browser does not know: said, nothing sent.
    await dialog.locator('[data-field="correct-person-zone"]').fill("Mars/Olympus");
    await dialog.locator('[data-action="correct-person-save"]').click();
    await dialog.locator('[data-error="correct-person-zone"]', { hasText: "Fuseau horaire inconnu" }).waitFor({ timeout: UI_WAIT_MS });
    await dialog.locator('[data-field="correct-person-zone"]').fill("America/Martinique");
    await dialog.locator('[data-action="correct-person-save"]').click();
    const corrected = page.locator('table[data-field="people"] tr[data-name="Karim Benali"]');
    await corrected.waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await page.locator('tr[data-name="Karim Benaly"]').count(), 0);
    assert.match(await corrected.locator(".console-email").innerText(), /karim\.benali@example\.org\s+Anglais \(English\)/);
    await page.locator('[data-field="session-documents"] a', { hasText: "Relevé de Karim Benali" }).waitFor({ timeout: UI_WAIT_MS });
    const now = await organiser(server, "GET", `/api/sessions/${session.id}`);
    const stored = now.people.find((/** @type {any} */ p) => p.name === "Karim Benali");
    assert.deepEqual([now.title, stored?.email, stored?.lang, stored?.time_zone],
      ["Prise de parole en public", "karim.benali@example.org", "en", "America/Martinique"]);
    await page.screenshot({ path: join(ARTIFACTS, "console-corrections-session-1280.png"), fullPage: true });

    // An action: Sophie cannot take Lucas's address; her employer is corrected.
    const action = await organiser(server, "POST", "/api/actions", {
      title: "Gestion de projet agile",
      nature: "formation",
      planned_hours: 14,
      beneficiaries: [
        { name: "Sophie Dubois", email: "sophie@example.org" },
        { name: "Lucas Petit", email: "lucas@example.org" },
      ],
      sessions: [{
        planned_start: start.toISOString(),
        planned_end: new Date(start.getTime() + 180 * 60_000).toISOString(),
        time_zone: "Europe/Paris",
        facilitators: [{ name: "Claire Martin" }],
      }],
    });
    await page.goto(`${server.url}/console/actions/${action.id}`);
    await page.locator('[data-screen="action"]').waitFor({ timeout: UI_WAIT_MS });
    const sophie = page.locator('table[data-field="action-people"] tbody tr', { hasText: "Sophie Dubois" });
    await sophie.locator('[data-action="correct-beneficiary"]').click();
    const edit = page.locator('dialog[data-dialog="correct-beneficiary"]');
    await edit.waitFor({ timeout: UI_WAIT_MS });
    await edit.locator('[data-field="correct-beneficiary-email"]').fill("LUCAS@example.org");
    await edit.locator('[data-action="correct-beneficiary-save"]').click();
    // The server names the refusal; the page says it in French.
    await edit.locator('[data-field="correct-beneficiary-error"]', { hasText: "est déjà l’adresse de Lucas Petit" }).waitFor({ timeout: UI_WAIT_MS });
    await noViolations(page, "the beneficiary's dialog with the server's refusal");
    await page.screenshot({ path: join(ARTIFACTS, "console-corrections-refused-1280.png") });
    await edit.locator('[data-field="correct-beneficiary-email"]').fill("sophie@example.org");
    await edit.locator('[data-field="correct-beneficiary-employer"]').fill("Transports Martin SA");
    await edit.locator('[data-action="correct-beneficiary-save"]').click();
    await page.locator('table[data-field="action-people"] tbody tr', { hasText: "Transports Martin SA" }).waitFor({ timeout: UI_WAIT_MS });
    const stillLucas = await organiser(server, "GET", `/api/actions/${action.id}`);
    assert.deepEqual(stillLucas.beneficiaries.map((/** @type {any} */ b) => b.email), ["sophie@example.org", "lucas@example.org"]);

    // A cancelled session, in the sessions list.
    const cancelled = await organiser(server, "POST", "/api/sessions", body("Atelier annulé"));
    await organiser(server, "POST", `/api/sessions/${cancelled.id}/cancel`, { reason: "Trop peu d’inscrits" });
    await page.goto(`${server.url}/console/sessions`);
    const row = page.locator(`tr[data-session="${cancelled.id}"] [data-field="session-state"]`);
    await row.waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await row.innerText(), "Annulée");
    assert.equal(await page.locator(`tr[data-session="${session.id}"] [data-field="session-state"]`).innerText(), "Programmée");
    assert.deepEqual(errors, [], `the pages reported errors: ${errors.join("; ")}`);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
});
