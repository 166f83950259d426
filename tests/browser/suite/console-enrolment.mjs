// People and sessions added after the fact, in the staff console: on a
// session's page a coordinator adds a trainee by hand (a name left empty is
// pointed out and nothing is sent; the new row and its link appear, and
// the link opens the lobby), then duplicates the session a week later and
// lands on the copy's page with the same people, moves the copy (a reason
// is required) and cancels it after a confirmation; on an action's page they
// enrol a late beneficiary, who appears in the action and in its session,
// while adding a participant by hand to that session is refused with the
// reason. axe finds nothing on either page, forms included.

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

/** The names in the people table of the session's page shown. @param {import("playwright-core").Page} page */
async function names(page) {
  return page.locator('table[data-field="people"] tr[data-name]').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-name")));
}

test("console enrolment: a coordinator adds a trainee by hand, duplicates the session a week later, moves and cancels the copy, and enrols a late beneficiary in an action", async (stage) => {
  /** @type {(() => Promise<void>)[]} */
  const cleanups = [];
  try {
    const server = await startServer(cleanups, ["--ice-policy", "loopback"]);
    const dataDir = /** @type {any} */ (server).dataDir;
    const coordinator = { email: "hugo.petit@organisme.example", name: "Hugo Petit", password: "un mot de passe assez long" };
    addCoordinator(dataDir, coordinator);
    nameOrganisation(dataDir, "Formations Horizon");

    const now = Date.now();
    const start = new Date(now - (now % 60_000));
    const session = await organiser(server, "POST", "/api/sessions", {
      title: "Prise de parole en public",
      kind: "formation",
      organisation: "Formations Horizon",
      planned_start: start.toISOString(),
      planned_end: new Date(start.getTime() + 180 * 60_000).toISOString(),
      time_zone: "Europe/Paris",
      people: [
        { name: "Claire Martin", role: "facilitator" },
        { name: "Karim Benali", role: "participant" },
      ],
    });

    const context = await stage.context({ locale: "fr-FR", viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    /** @type {string[]} */
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await logIn(page, server.url, `/console/sessions/${session.id}`, coordinator);
    await page.locator(`[data-session="${session.id}"].console-session`).waitFor({ timeout: UI_WAIT_MS });

    // An empty name: said next to the field, nothing sent.
    const add = page.locator('[data-field="add-person"]');
    await add.locator('[data-action="add-person-submit"]').click();
    await add.locator('[data-error="add-person-name"]', { hasText: "À renseigner." }).waitFor({ timeout: UI_WAIT_MS });
    assert.deepEqual(await names(page), ["Claire Martin", "Karim Benali"]);

    await add.locator('[data-field="add-person-name"]').fill("Léa Moreau");
    await add.locator('[data-field="add-person-email"]').fill("lea.moreau@example.org");
    await add.locator('[data-action="add-person-submit"]').click();
    const lea = page.locator('table[data-field="people"] tr[data-name="Léa Moreau"]');
    await lea.waitFor({ timeout: UI_WAIT_MS });
    assert.deepEqual(await names(page), ["Claire Martin", "Karim Benali", "Léa Moreau"]);
    assert.match(await lea.innerText(), /lea\.moreau@example\.org/);
    assert.equal(await add.locator('[data-field="add-person-name"]').inputValue(), "", "the form is emptied for the next one");
    await page.locator('[data-field="session-documents"] a', { hasText: "Relevé de Léa Moreau" }).waitFor({ timeout: UI_WAIT_MS });
    const link = await lea.locator('[data-field="link"]').inputValue();
    assert.match(link, /\/j\//);
    // Her link opens the lobby, in her name.
    const hers = await context.newPage();
    await hers.goto(link);
    await hers.locator('[data-field="you"]', { hasText: "Léa Moreau" }).waitFor({ timeout: UI_WAIT_MS });
    await hers.close();

    await noViolations(page, "the session's page with its forms");
    await page.screenshot({ path: join(ARTIFACTS, "console-enrolment-session-1280.png"), fullPage: true });

    // A week later, same hours: the copy's page opens with the same people.
    const duplicate = page.locator('[data-field="duplicate"]');
    const suggested = await duplicate.locator('[data-field="duplicate-date"]').inputValue();
    const weekLater = new Date(start.getTime() + 7 * 86_400_000);
    const paris = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Paris", year: "numeric", month: "2-digit", day: "2-digit" });
    assert.equal(suggested, paris.format(weekLater), "a week later by default");
    await duplicate.locator('[data-field="duplicate-date"]').fill("2027-03-15");
    await duplicate.locator('[data-field="duplicate-start"]').fill("09:00");
    await duplicate.locator('[data-field="duplicate-end"]').fill("12:30");
    await duplicate.locator('[data-action="duplicate-submit"]').click();
    await page.waitForURL((url) => url.pathname.startsWith("/console/sessions/") && !url.pathname.endsWith(session.id), { timeout: UI_WAIT_MS });
    const copyId = new URL(page.url()).pathname.split("/").pop();
    await page.locator(`[data-session="${copyId}"].console-session`).waitFor({ timeout: UI_WAIT_MS });
    assert.match(await page.locator('[data-field="session-when"]').innerText(), /15 mars 2027/);
    assert.match(await page.locator('[data-field="session-when"]').innerText(), /09:00/);
    assert.deepEqual(await names(page), ["Claire Martin", "Karim Benali", "Léa Moreau"]);
    const copied = await page.locator('table[data-field="people"] tr[data-name="Léa Moreau"] [data-field="link"]').inputValue();
    assert.notEqual(copied, link, "a new link in the copy");

    // The copy moves a week on, with its reason; then it is cancelled,
    // after a confirmation, and can no longer be changed.
    const move = page.locator('[data-field="move"]');
    await move.locator('[data-field="move-date"]').fill("2027-03-22");
    await move.locator('[data-action="move-submit"]').click();
    await move.locator('[data-error="move-reason"]', { hasText: "À renseigner." }).waitFor({ timeout: UI_WAIT_MS });
    await move.locator('[data-field="move-reason"]').fill("La salle virtuelle est réservée ce jour-là.");
    await move.locator('[data-action="move-submit"]').click();
    await page.locator('[data-field="session-when"]', { hasText: "22 mars 2027" }).waitFor({ timeout: UI_WAIT_MS });
    assert.match(await page.locator('dd[data-field="session-state"]').innerText(), /[Rr]eportée/);
    await noViolations(page, "the moved session's page");
    await page.screenshot({ path: join(ARTIFACTS, "console-enrolment-moved-1280.png"), fullPage: true });
    const cancel = page.locator('[data-field="cancel"]');
    await cancel.locator('[data-field="cancel-reason"]').fill("Trop peu d’inscrits à cette date.");
    await cancel.locator('[data-action="cancel-submit"]').click();
    const dialog = page.locator('dialog[data-dialog="console-session"]');
    await dialog.waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await dialog.locator('[data-action="dialog-cancel"]').innerText(), "Garder la séance");
    await dialog.locator('[data-action="dialog-confirm"]').click();
    await page.locator('dd[data-field="session-state"]', { hasText: "Annulée" }).waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await page.locator('[data-field="move"], [data-field="cancel"], [data-field="add-person"]').count(), 0,
      "a cancelled session is no longer planned");

    // An action: a late beneficiary, enrolled in its session from its page.
    const action = await organiser(server, "POST", "/api/actions", {
      title: "Gestion de projet agile",
      nature: "formation",
      planned_hours: 14,
      beneficiaries: [{ name: "Sophie Dubois" }, { name: "Lucas Petit" }],
      sessions: [{
        planned_start: start.toISOString(),
        planned_end: new Date(start.getTime() + 180 * 60_000).toISOString(),
        time_zone: "Europe/Paris",
        facilitators: [{ name: "Claire Martin" }],
      }],
    });
    const sid = action.sessions[0].id;
    await page.goto(`${server.url}/console/sessions/${sid}`);
    await page.locator(`[data-session="${sid}"].console-session`).waitFor({ timeout: UI_WAIT_MS });
    await add.locator('[data-field="add-person-name"]').fill("Paul Girard");
    await add.locator('[data-action="add-person-submit"]').click();
    await add.locator('[data-field="add-person-error"]', { hasText: "Gestion de projet agile" }).waitFor({ timeout: UI_WAIT_MS });
    assert.deepEqual(await names(page), ["Claire Martin", "Sophie Dubois", "Lucas Petit"], "nobody added by hand");

    await page.goto(`${server.url}/console/actions/${action.id}`);
    await page.locator('[data-screen="action"]').waitFor({ timeout: UI_WAIT_MS });
    const enrol = page.locator('[data-field="add-beneficiary"]');
    await enrol.locator('[data-field="add-beneficiary-name"]').fill("Paul Girard");
    await enrol.locator('[data-field="add-beneficiary-employer"]').fill("Transports Martin SA");
    await enrol.locator('[data-action="add-beneficiary-submit"]').click();
    await page.locator('table[data-field="action-people"] tbody tr', { hasText: "Paul Girard" }).waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await page.locator('table[data-field="action-people"] tbody tr').count(), 3);
    await noViolations(page, "the action's page with its form");
    await page.screenshot({ path: join(ARTIFACTS, "console-enrolment-action-1280.png"), fullPage: true });
    await page.locator(`table[data-field="action-sessions"] a[href="/console/sessions/${sid}"]`).click();
    await page.locator(`[data-session="${sid}"].console-session`).waitFor({ timeout: UI_WAIT_MS });
    assert.deepEqual(await names(page), ["Claire Martin", "Sophie Dubois", "Lucas Petit", "Paul Girard"]);
    assert.deepEqual(errors, [], `the pages reported errors: ${errors.join("; ")}`);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
});
