// « Nouvelle action » in the staff console: a coordinator imports the CSV
// file of twelve trainees (a file saved in Windows-1252 is refused next to
// its field, in French; a file with a rejected line shows the line and its
// reason and keeps « Créer l'action » off), adds three sessions,
// creates the action and lands on its page, which lists the twelve
// beneficiaries and the three sessions. axe finds nothing on the form with
// its preview nor on the action's page. Screenshots at 1,280 and 768 px.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { violations } from "../lib/pages.mjs";
import { addCoordinator, logIn, nameOrganisation } from "../lib/console.mjs";
import { test } from "../lib/runner.mjs";
import { TRAINEES, csv } from "../lib/trainees.mjs";

/** @param {import("playwright-core").Page} page @param {string} where */
async function noViolations(page, where) {
  const found = await violations(page);
  assert.deepEqual(found, [], `axe on ${where}:\n${found.join("\n")}`);
}

test("console actions: a coordinator imports twelve trainees from a CSV file, adds three sessions and creates the action", async (stage) => {
  const { url, dataDir } = stage.server;
  const stamp = Date.now();
  const coordinator = { email: `camille.${stamp}@organisme.example`, name: "Camille Durand", password: "un mot de passe assez long" };
  addCoordinator(dataDir, coordinator);
  // Sessions print the organisation's name.
  nameOrganisation(dataDir, "Formations Horizon");

  const context = await stage.context({ locale: "fr-FR", viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  /** @type {string[]} */
  const log = [];
  page.on("pageerror", (err) => log.push(err.message));
  await logIn(page, url, "/console/actions", coordinator);

  await page.locator('[data-action="new-action"]').click();
  await page.locator('[data-field="new-action"]').waitFor({ timeout: UI_WAIT_MS });
  assert.equal(new URL(page.url()).pathname, "/console/actions/new");
  await page.locator('[data-field="action-title"]').fill("Gestion de projet agile");
  await page.locator('[data-field="action-nature"]').selectOption("formation");
  await page.locator('[data-field="action-hours"]').fill("21");

  // Saved as « CSV (séparateur : point-virgule) », Windows-1252: refused
  // as a whole, said next to the field, in French.
  await page.locator('[data-field="action-file"]').setInputFiles({ name: "stagiaires.csv", mimeType: "text/csv",
    buffer: Buffer.from(csv(TRAINEES).toString("utf8").replace("\u{feff}", ""), "latin1") });
  const fileError = page.locator('[data-error="action-file"]');
  await fileError.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  assert.match(await fileError.innerText(), /n’est pas enregistré en UTF-8 \(première ligne en cause : 1\).*« CSV UTF-8/);
  assert.equal(await page.locator('[data-field="action-file"]').getAttribute("aria-invalid"), "true");

  // A first file whose fifth trainee has a formula for a name.
  const bad = TRAINEES.map((r) => [...r]);
  bad[4][1] = "=HYPERLINK(\"http://x\")";
  await page.locator('[data-field="action-file"]').setInputFiles({ name: "stagiaires.csv", mimeType: "text/csv", buffer: csv(bad) });
  const rejected = page.locator('[data-field="rejected"] li');
  await rejected.first().waitFor({ timeout: UI_WAIT_MS });
  assert.equal(await rejected.count(), 1);
  assert.match(await rejected.first().innerText(), /Ligne 6 : « Nom » commence comme une formule/);
  const submit = page.locator('[data-action="create-action"]');
  assert(await submit.isDisabled(), "« Créer l'action » is off while a line is rejected");
  assert.match(await page.locator('[data-field="create-blocked"]').innerText(), /corrigez les 1 ligne\(s\) rejetée\(s\)/);
  await noViolations(page, "the form with a rejected line");
  await page.screenshot({ path: join(ARTIFACTS, "console-new-action-rejected-1280.png"), fullPage: true });

  // The corrected file.
  await page.locator('[data-field="action-file"]').setInputFiles({ name: "stagiaires.csv", mimeType: "text/csv", buffer: csv(TRAINEES) });
  const people = page.locator('table[data-field="preview-people"] tbody tr');
  await page.locator('[data-field="preview-summary"]', { hasText: "12 personne(s) lue(s), aucune ligne rejetée" }).waitFor({ timeout: UI_WAIT_MS });
  assert.equal(await people.count(), 12);
  assert.match(await people.first().innerText(), /Élodie Lefèvre/);
  assert.equal(await page.locator('[data-field="rejected"]').count(), 0);
  assert.match(await page.locator('[data-field="ignored"]').innerText(), /Civilité, Téléphone/);

  // Three sessions; the first row is there already.
  const days = ["2027-01-11", "2027-01-18", "2027-01-25"];
  for (let i = 0; i < days.length; i++) {
    if (i > 0) await page.locator('[data-action="add-session"]').click();
    const row = page.locator('[data-field="session-row"]').nth(i);
    await row.locator('[data-field="session-date"]').fill(days[i]);
    await row.locator('[data-field="session-start"]').fill("09:00");
    // The second's end before its start first: said next to the field.
    await row.locator('[data-field="session-end"]').fill(i === 1 ? "08:00" : "12:30");
    await row.locator('[data-field="session-facilitator"]').fill("Claire Martin");
    await row.locator('[data-field="session-facilitator-email"]').fill("claire.martin@organisme.example");
  }
  assert.equal(await page.locator('[data-field="session-zone"]').first().inputValue(), "Europe/Paris");
  const second = page.locator('[data-field="session-row"]').nth(1);
  await second.locator('[data-field="session-end"]').dispatchEvent("change");
  await second.locator('[data-error$="-end"]', { hasText: "La fin doit suivre le début" }).waitFor({ timeout: UI_WAIT_MS });
  assert(await submit.isDisabled(), "« Créer l'action » is off while a session is wrong");
  await second.locator('[data-field="session-end"]').fill("12:30");
  await second.locator('[data-field="session-end"]').dispatchEvent("change");
  assert(await submit.isEnabled(), "a clean file and three valid sessions: « Créer l'action » is on");

  await noViolations(page, "the new action form with its preview");
  await page.screenshot({ path: join(ARTIFACTS, "console-new-action-1280.png"), fullPage: true });
  await page.setViewportSize({ width: 768, height: 1024 });
  await noViolations(page, "the new action form at 768 px");
  await page.screenshot({ path: join(ARTIFACTS, "console-new-action-768.png"), fullPage: true });

  await submit.click();
  await page.locator('[data-screen="action"]').waitFor({ timeout: UI_WAIT_MS });
  const created = new URL(page.url()).pathname;
  assert.match(created, /^\/console\/actions\/a_/);
  assert.equal(await page.locator('[data-field="action-title"]').innerText(), "Gestion de projet agile");
  assert.equal(await page.locator('table[data-field="action-people"] tbody tr').count(), 12);
  const sessions = page.locator('table[data-field="action-sessions"] tbody tr');
  assert.equal(await sessions.count(), 3);
  assert.match(await sessions.first().innerText(), /11 janvier 2027/);
  assert.match(await sessions.first().innerText(), /09:00/);
  const link = sessions.first().locator("a");
  assert.match(await link.getAttribute("href") ?? "", /^\/console\/sessions\/s_/);
  const certificate = page.locator('table[data-field="action-people"] tbody tr').first().locator("a");
  assert.match(await certificate.getAttribute("href") ?? "", /^\/api\/actions\/a_[^/]+\/beneficiaries\/b_[^/]+\/certificate$/);
  assert.match(await page.locator('table[data-field="action-people"]').innerText(), /karim\.benali@example\.org/);
  await noViolations(page, "the action's page at 768 px");
  await page.screenshot({ path: join(ARTIFACTS, "console-action-768.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await noViolations(page, "the action's page");
  await page.screenshot({ path: join(ARTIFACTS, "console-action-1280.png"), fullPage: true });

  // The list links to it; other tests on this server create actions of the same title.
  await page.locator('[data-nav="actions"]').click();
  const listed = page.locator(`table[data-field="actions"] tbody tr a[href="${created}"]`);
  await listed.waitFor({ timeout: UI_WAIT_MS });
  assert.equal(await listed.innerText(), "Gestion de projet agile");
  assert.deepEqual(log, [], `the pages reported errors: ${log.join("; ")}`);
});
