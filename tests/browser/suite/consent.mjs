// Consent: asked in the lobby with nothing pre-selected, recorded after
// joining, shown in « Mes accords » and « Mes traces », withdrawn in the call.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { joinFromLobby, textOf, waitConnected } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { clickControl } from "../lib/steps.mjs";

test("the lobby asks for the recording agreement with neither choice selected, joining not depending on it", async (stage) => {
  const { sophie } = await stage.session();
  const { page } = await stage.join(sophie, "participant 2");
  const block = page.locator('[data-field="lobby-consents"]');
  await block.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  assert((await textOf(page, "#consents-title")) === "Vos accords", "the block should be titled « Vos accords »");
  const kinds = await block.locator("fieldset[data-consent]").evaluateAll((els) => els.map((el) => el.getAttribute("data-consent")));
  assert(JSON.stringify(kinds) === '["recording"]', `without a sponsor only the recording consent should be asked, got ${JSON.stringify(kinds)}`);
  const text = await textOf(page, 'fieldset[data-consent="recording"] .consent-text');
  assert(/^J'accepte que cette séance soit enregistrée/.test(text), `the French wording should be shown, got « ${text} »`);
  const granted = page.locator("#lobby-consent-recording-granted");
  const refused = page.locator("#lobby-consent-recording-refused");
  assert(!(await granted.isChecked()) && !(await refused.isChecked()), "neither choice should be pre-selected");
  assert((await textOf(page, 'label[for="lobby-consent-recording-granted"]')) === "J’accepte", "« J’accepte » should be offered");
  assert((await textOf(page, 'label[for="lobby-consent-recording-refused"]')) === "Je refuse", "« Je refuse » should be offered");
  const boxes = await Promise.all(["granted", "refused"].map((c) => page.locator(`label[for="lobby-consent-recording-${c}"]`).boundingBox()));
  assert(boxes[0] && boxes[1] && Math.abs(boxes[0].width - boxes[1].width) < 2 && Math.abs(boxes[0].height - boxes[1].height) < 2,
    `the two choices should weigh the same: ${JSON.stringify(boxes)}`);
  const free = await textOf(page, ".consents-free");
  assert(/quels que soient vos choix/.test(free) && /à tout moment pendant la séance/.test(free),
    `the block should say joining does not depend on it and it can be changed in the call, got « ${free} »`);
  assert(await page.locator('button[data-action="join"]').isEnabled(), "joining should be possible without choosing");
  // In English, the English wording.
  await page.selectOption("#lang-select", "en");
  await page.locator('fieldset[data-consent="recording"] .consent-text', { hasText: /^I agree that this session is recorded/ }).waitFor({ timeout: UI_WAIT_MS });
  await page.selectOption("#lang-select", "fr");
  await block.screenshot({ path: join(ARTIFACTS, "lobby-consents.png") });
});

test("an agreement given in the lobby is recorded after joining, shown in « Mes accords » and « Mes traces », then withdrawn; a reload shows the refusal", async (stage) => {
  const { sophie } = await stage.session();
  const consenting = await stage.join(sophie, "participant 2");
  const { page } = consenting;
  await page.click('label[for="lobby-consent-recording-granted"]');
  assert(await page.locator("#lobby-consent-recording-granted").isChecked(), "« J’accepte » should be selected");
  await joinFromLobby(consenting);
  await waitConnected(consenting);

  await clickControl(consenting, "consents");
  const panel = page.locator("#consents-panel");
  await panel.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await panel.locator('[data-field="consent-status"]', { hasText: /^Accord enregistré à \d\d:\d\d\.$/ }).waitFor({ timeout: UI_WAIT_MS });
  assert(await page.locator("#call-consent-recording-granted").isChecked(), "« Mes accords » should show the agreement");
  const state = await page.evaluate(() => /** @type {any} */ (window).cadre.state().consents);
  assert(state?.recording?.granted === true && state.recording.pending === 0, `the page should know the agreement: ${JSON.stringify(state)}`);

  await clickControl(consenting, "traces");
  await page.locator('#traces-panel li[data-kind="consent"]', { hasText: "accord pour l’enregistrement donné" }).waitFor({ timeout: UI_WAIT_MS });

  // Withdrawing is one click, and counts once the server says so.
  await page.click('label[for="call-consent-recording-refused"]');
  await panel.locator('[data-field="consent-status"]', { hasText: /^Refus enregistré à \d\d:\d\d\.$/ }).waitFor({ timeout: UI_WAIT_MS });
  assert(await page.locator("#call-consent-recording-refused").isChecked(), "« Je refuse » should be selected");
  await page.locator('#traces-panel li[data-kind="consent"]', { hasText: "accord pour l’enregistrement retiré" }).waitFor({ timeout: UI_WAIT_MS });
  await page.screenshot({ path: join(ARTIFACTS, "participant-consents.png") });

  // The server alone says it (false: refused), not anything this browser kept.
  await page.evaluate(() => localStorage.clear());
  await page.reload();
  await page.locator('[data-field="lobby-consents"]').waitFor({ state: "visible", timeout: UI_WAIT_MS });
  assert(await page.locator("#lobby-consent-recording-refused").isChecked(), "after a reload the lobby should show the refusal");
  assert(!(await page.locator("#lobby-consent-recording-granted").isChecked()), "after a reload « J’accepte » should not be selected");
});
