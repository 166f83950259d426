// The staff console at /console: an administrator made with `cadre staff
// add` logs in, adds a coordinator; the coordinator logs in and has no
// Staff or Journal page (and the API refuses them); the Journal lists the
// actions; axe finds nothing on the login, the staff page, the journal or
// the coordinator's sessions page. Screenshots at 1,280 and 768 px.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ARTIFACTS, CADRE_BIN, UI_WAIT_MS } from "../lib/config.mjs";
import { violations } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";

/** @param {import("playwright-core").Page} page @param {string} where */
async function noViolations(page, where) {
  const found = await violations(page);
  assert.deepEqual(found, [], `axe on ${where}:\n${found.join("\n")}`);
}

/** @param {import("playwright-core").Page} page @param {string} email @param {string} password */
async function logIn(page, email, password) {
  await page.locator('[data-field="login-email"]').fill(email);
  await page.locator('[data-field="login-password"]').fill(password);
  await page.locator('[data-action="login"]').click();
  await page.locator('[data-screen="console"]').waitFor({ timeout: UI_WAIT_MS });
}

test("staff console: an administrator adds a coordinator, who cannot manage staff; the journal lists it all", async (stage) => {
  const { url, dataDir } = stage.server;
  const stamp = Date.now();
  const admin = { email: `anne.${stamp}@organisme.example`, password: "un mot de passe assez long" };
  const coordinator = { email: `hugo.${stamp}@organisme.example`, name: "Hugo Petit", password: "un autre mot de passe long" };
  execFileSync(CADRE_BIN, ["--data-dir", dataDir, "staff", "add", "--email", admin.email, "--name", "Anne Martin",
    "--role", "administrator", "--password-stdin"], { input: `${admin.password}\n` });

  const context = await stage.context({ locale: "fr-FR", viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const log = [];
  page.on("pageerror", (err) => log.push(err.message));
  await page.goto(`${url}/console`);
  await page.locator('[data-screen="console-login"]').waitFor({ timeout: UI_WAIT_MS });
  await noViolations(page, "the login form");
  await page.screenshot({ path: join(ARTIFACTS, "console-login-1280.png"), fullPage: true });
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.screenshot({ path: join(ARTIFACTS, "console-login-768.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // A wrong password: one sentence, still on the form.
  await page.locator('[data-field="login-email"]').fill(admin.email);
  await page.locator('[data-field="login-password"]').fill("pas le bon mot de passe");
  await page.locator('[data-action="login"]').click();
  const problem = page.locator('[data-field="login-error"]');
  await problem.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  assert.match(await problem.innerText(), /incorrect/);

  await logIn(page, admin.email, admin.password);
  const cookies = await context.cookies();
  const cookie = cookies.find((c) => c.name === "cadre_staff");
  assert(cookie && cookie.httpOnly && cookie.sameSite === "Strict", `the login cookie: ${JSON.stringify(cookies)}`);
  for (const nav of ["sessions", "actions", "staff", "journal"]) {
    assert.equal(await page.locator(`[data-nav="${nav}"]`).count(), 1, `the administrator's navigation has ${nav}`);
  }

  await page.locator('[data-nav="staff"]').click();
  await page.locator('[data-field="staff-add"]').waitFor({ timeout: UI_WAIT_MS });
  assert.equal(new URL(page.url()).pathname, "/console/staff");
  await page.locator('[data-field="new-name"]').fill(coordinator.name);
  await page.locator('[data-field="new-email"]').fill(coordinator.email);
  await page.locator('[data-field="new-role"]').selectOption("coordinator");
  await page.locator('[data-field="new-password"]').fill(coordinator.password);
  await page.locator('[data-action="staff-add"]').click();
  const row = page.locator(`tr[data-staff="${coordinator.email}"]`);
  await row.waitFor({ timeout: UI_WAIT_MS });
  assert.match(await row.innerText(), /coordinateur/);
  await noViolations(page, "the staff page");
  await page.screenshot({ path: join(ARTIFACTS, "console-staff-1280.png"), fullPage: true });
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.screenshot({ path: join(ARTIFACTS, "console-staff-768.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // The coordinator, in their own browser.
  const other = await stage.context({ locale: "fr-FR", viewport: { width: 768, height: 1024 } });
  const hugo = await other.newPage();
  hugo.on("pageerror", (err) => log.push(err.message));
  await hugo.goto(`${url}/console`);
  await hugo.locator('[data-screen="console-login"]').waitFor({ timeout: UI_WAIT_MS });
  await logIn(hugo, coordinator.email, coordinator.password);
  assert.equal(await hugo.locator('[data-nav="staff"]').count(), 0, "no Staff page for a coordinator");
  assert.equal(await hugo.locator('[data-nav="journal"]').count(), 0, "no Journal for a coordinator");
  await hugo.locator('table[data-field="sessions"], [data-field="console-page"] section').first().waitFor({ timeout: UI_WAIT_MS });
  await noViolations(hugo, "the coordinator's sessions page");
  // Typing the address shows the sessions, and the API refuses anyway.
  await hugo.goto(`${url}/console/staff`);
  await hugo.locator('[data-screen="console"]').waitFor({ timeout: UI_WAIT_MS });
  assert.equal(await hugo.locator('[data-field="staff-add"]').count(), 0, "no add form for a coordinator");
  const refused = await hugo.evaluate(async () => (await fetch("/api/staff")).status);
  assert.equal(refused, 403);

  // The journal: the additions and logins, newest first.
  await page.locator('[data-nav="journal"]').click();
  const journal = page.locator('table[data-field="journal"]');
  await journal.waitFor({ timeout: UI_WAIT_MS });
  const text = await journal.innerText();
  for (const wanted of ["Personne ajoutée à l’équipe", "Connexion refusée", "Demande refusée (rôle)", coordinator.email, "ligne de commande"]) {
    assert(text.includes(wanted), `the journal should show « ${wanted} »:\n${text.slice(0, 1500)}`);
  }
  await noViolations(page, "the journal");
  await page.screenshot({ path: join(ARTIFACTS, "console-journal-1280.png"), fullPage: true });
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.screenshot({ path: join(ARTIFACTS, "console-journal-768.png"), fullPage: true });

  // In English, the same page, re-rendered.
  await page.locator("#lang-select").selectOption("en");
  await page.locator('[data-nav="staff"]', { hasText: "Staff" }).waitFor({ timeout: UI_WAIT_MS });
  await page.locator("#page-title", { hasText: "Journal" }).waitFor({ timeout: UI_WAIT_MS });
  // « Journal » is also the French title: wait for the English table itself.
  // (The assertion below says what was read instead.)
  await page.locator('table[data-field="journal"]', { hasText: "Staff member added" }).waitFor({ timeout: UI_WAIT_MS })
    .catch(() => {});
  const english = await page.locator('table[data-field="journal"]').innerText();
  assert(english.includes("Staff member added"), `the journal's actions in English:\n${english.slice(0, 600)}`);
  await noViolations(page, "the journal in English");

  // Logging out ends the login: the console asks for it again.
  await page.locator('[data-action="logout"]').click();
  await page.locator('[data-screen="console-login"]').waitFor({ timeout: UI_WAIT_MS });
  const after = await page.evaluate(async () => (await fetch("/api/staff/me")).status);
  assert.equal(after, 401);
  assert.deepEqual(log, [], `the pages reported errors: ${log.join("; ")}`);
});
