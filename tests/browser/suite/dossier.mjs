// The dossier d'audit in the staff console: a coordinator logged in sees
// one « Dossier d'audit (.zip) » link per action in the actions list; it
// downloads the action's zip with the login's cookie alone, under the name
// the server gives; axe finds nothing on the list.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { ARTIFACTS, CADRE_BIN, UI_WAIT_MS } from "../lib/config.mjs";
import { join } from "node:path";
import { violations } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";

test("staff console: an action's dossier d'audit downloads from the actions list", async (stage) => {
  const { url, dataDir } = stage.server;
  const cadre = (/** @type {string[]} */ args, input = "") =>
    execFileSync(CADRE_BIN, ["--data-dir", dataDir, ...args], { input }).toString();
  const stamp = Date.now();
  const coordinator = { email: `lea.${stamp}@organisme.example`, password: "un mot de passe assez long" };
  cadre(["staff", "add", "--email", coordinator.email, "--name", "Léa Moreau", "--role", "coordinator",
    "--password-stdin"], `${coordinator.password}\n`);
  cadre(["organisation", "set", "--name", "Formations Horizon", "--representative-name", "Claire Dubois",
    "--representative-quality", "directrice", "--address", "12 rue des Lilas", "--address", "69003 Lyon",
    "--siret", "123 456 789 00007", "--nda", "84 69 12345 69", "--place", "Lyon"]);
  const title = `Écoute active ${stamp}`;
  const created = JSON.parse(cadre(["action", "create", "--title", title, "--nature", "formation", "--hours", "7",
    "--beneficiary", "Karim Benali", "--json"]));
  const start = new Date(Date.now() - 5 * 60_000).toISOString().slice(0, 19) + "Z";
  const end = new Date(Date.now() + 3 * 3600_000).toISOString().slice(0, 19) + "Z";
  cadre(["action", "add-session", created.id, "--start", start, "--end", end, "--facilitator", "Claire Martin"]);

  const context = await stage.context({ locale: "fr-FR", viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  /** @type {string[]} */
  const log = [];
  page.on("pageerror", (err) => log.push(err.message));
  await page.goto(`${url}/console/actions`);
  await page.locator('[data-screen="console-login"]').waitFor({ timeout: UI_WAIT_MS });
  await page.locator('[data-field="login-email"]').fill(coordinator.email);
  await page.locator('[data-field="login-password"]').fill(coordinator.password);
  await page.locator('[data-action="login"]').click();
  await page.locator('[data-screen="console"]').waitFor({ timeout: UI_WAIT_MS });
  await page.locator('[data-nav="actions"]').click();
  const row = page.locator(`tr[data-action-id="${created.id}"]`);
  await row.waitFor({ timeout: UI_WAIT_MS });
  const link = row.locator('[data-action="download-dossier"]');
  assert.equal(await link.innerText(), "Dossier d’audit (.zip)");
  assert.equal(await link.getAttribute("aria-label"), `Dossier d’audit (.zip) de l’action « ${title} »`);
  const violationsFound = await violations(page);
  assert.deepEqual(violationsFound, [], `axe on the actions list:\n${violationsFound.join("\n")}`);
  await page.screenshot({ path: join(ARTIFACTS, "console-actions-dossier-1280.png"), fullPage: true });

  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 60_000 }), link.click()]);
  const name = download.suggestedFilename();
  assert.match(name, /^Dossier d'audit - Écoute active \d+ - \d{4}-\d{2}-\d{2}\.zip$/, name);
  const path = await download.path();
  const bytes = readFileSync(path);
  assert.equal(bytes.subarray(0, 4).toString("latin1"), "PK\u0003\u0004", "a zip");
  assert(bytes.includes(Buffer.from("LISEZMOI.txt")), "the index is in the zip");
  assert.deepEqual(log, [], `the page reported errors: ${log.join("; ")}`);
});
