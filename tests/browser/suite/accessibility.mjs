// The pages people use pass the accessibility checker (axe-core) with no
// violation at all: the lobby, the call with its chat open, and the leave
// confirmation.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { joinTogether } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { openPanel, openThree } from "../lib/steps.mjs";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * Every axe violation on `page` now, as lines naming the rule and the elements.
 * @param {import("playwright-core").Page} page
 */
async function violations(page) {
  const found = await page.evaluate(async (source) => {
    const w = /** @type {any} */ (window);
    if (!w.axe) (0, eval)(source);
    const result = await w.axe.run(document);
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  }, axeSource);
  return found;
}

test("the lobby, the call with its chat, and the leave confirmation have no accessibility violation", async (stage) => {
  const session = await stage.session();
  const room = await openThree(stage, session);
  const fac = room[0];
  assert.deepEqual(await violations(fac.page), [], "the lobby");
  await joinTogether(room);
  await openPanel(fac, "chat");
  assert.equal(await fac.page.locator("h1").count(), 1, "the call page has one level-one heading");
  assert.deepEqual(await violations(fac.page), [], "the call with the chat open");
  await fac.page.click('button[data-action="leave"]');
  await fac.page.locator('dialog[data-dialog="leave"]').waitFor({ timeout: UI_WAIT_MS });
  assert.deepEqual(await violations(fac.page), [], "the leave confirmation");
  await fac.page.screenshot({ path: join(ARTIFACTS, "leave-confirmation.png") });
});
