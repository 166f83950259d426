// The pages people use pass the accessibility checker (axe-core) with no
// violation at all: the lobby, the call with its chat open, and the leave
// confirmation.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { joinTogether, violations } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { openPanel, openThree } from "../lib/steps.mjs";

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
