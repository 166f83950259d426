// Screen sharing: the facilitator shares (the browser's fake capture), every
// other page decodes the screen large with the people beside it, peer to
// peer and through the server; the sharer sees that they share and stops in
// one click; a participant shares once the facilitator allowed them.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, MEDIA_WAIT_MS, UI_WAIT_MS } from "../lib/config.mjs";
import { expectFullMesh, joinFromLobby, joinTogether, state } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { openPanel, openThree } from "../lib/steps.mjs";

/** @typedef {import("../lib/pages.mjs").Person} Person */

/**
 * Waits until `viewer` decodes `sharer`'s screen in the large tile: frames
 * of the fake capture's size, the layout that puts it first.
 * @param {Person} viewer @param {Person} sharer
 */
async function decodesScreenOf(viewer, sharer) {
  await viewer.page.waitForFunction(
    (id) => {
      const video = /** @type {HTMLVideoElement | null} */ (document.querySelector(`video[data-screen-of="${id}"]`));
      const grid = document.querySelector(".grid");
      return video !== null && video.videoWidth >= 640 && video.currentTime > 0 && grid?.getAttribute("data-layout") === "screen";
    },
    sharer.id,
    { timeout: MEDIA_WAIT_MS },
  ).catch(async (err) => {
    const seen = await viewer.page.evaluate(() => [...document.querySelectorAll("video[data-screen-of]")].map((v) => ({
      of: v.getAttribute("data-screen-of"), width: /** @type {HTMLVideoElement} */ (v).videoWidth, time: /** @type {HTMLVideoElement} */ (v).currentTime,
    })));
    const s = await state(viewer);
    throw new Error(`${viewer.name} should decode ${sharer.name}'s screen: screens ${JSON.stringify(seen)}, route ${s.route}, links ${JSON.stringify(s.links)} (${err.message})`);
  });
}

/** Waits until `viewer` shows no shared screen. @param {Person} viewer */
async function noScreen(viewer) {
  await viewer.page.waitForFunction(
    () => document.querySelector("video[data-screen-of]") === null && document.querySelector(".grid")?.getAttribute("data-layout") !== "screen",
    null,
    { timeout: UI_WAIT_MS },
  ).catch((err) => {
    throw new Error(`${viewer.name} should no longer show a shared screen (${err.message})`);
  });
}

/** `person` clicks "Partager l'écran" and the bar says they share. @param {Person} person */
async function share(person) {
  await person.page.click('button[data-action="share-screen"]');
  await person.page.locator('[data-field="sharing"]').waitFor({ state: "visible", timeout: UI_WAIT_MS });
}

test("a facilitator's shared screen is decoded large by the other pages, peer to peer, and stops in one click", async (stage) => {
  const session = await stage.session({ media: "peer" });
  const [fac, karim] = await Promise.all([
    stage.join(session.facilitator, "facilitator"),
    stage.join(session.karim, "participant 1"),
  ]);
  await Promise.all([fac, karim].map(joinFromLobby));
  await expectFullMesh([fac, karim]);
  // A participant is not offered to share until a facilitator allows it.
  assert.equal(await karim.page.locator('button[data-action="share-screen"]').isVisible(), false, "Karim may not share yet");
  await share(fac);
  assert.equal(await fac.page.locator('button[data-action="share-screen"]').getAttribute("aria-pressed"), "true");
  await decodesScreenOf(karim, fac);
  // The people beside the screen: both pictures still shown.
  const beside = await karim.page.$$eval(".grid .tile:not(.tile-screen):not([hidden])", (els) => els.length);
  assert.equal(beside, 2, "both people beside the screen");
  // The sharer does not see their own screen large (no hall of mirrors).
  assert.equal(await fac.page.locator("video[data-screen-of]").count(), 0);
  await karim.page.screenshot({ path: join(ARTIFACTS, "screen-viewer.png") });
  await fac.page.screenshot({ path: join(ARTIFACTS, "screen-sharer.png") });

  // One click on the bar's "Arrêter le partage".
  await fac.page.click('[data-action="stop-sharing"]');
  await noScreen(karim);
  await fac.page.locator('[data-field="sharing"]').waitFor({ state: "hidden", timeout: UI_WAIT_MS });
  const capturing = await fac.page.evaluate(() => document.querySelector('button[data-action="share-screen"]')?.getAttribute("aria-pressed"));
  assert.equal(capturing, "false");

  // The bar holds on one line; what one opens now and then is under "Plus".
  const rows = await fac.page.$$eval("nav.controls > *:not([hidden])", (els) => new Set(els.map((e) => Math.round(e.getBoundingClientRect().top))).size);
  assert.equal(rows, 1, "the facilitator's bar should hold on one line at 1280 px");
  await fac.page.click('summary[data-action="more"]');
  const inMenu = await fac.page.$$eval(".more-panel > .control", (els) => els.map((e) => e.getAttribute("data-action")));
  assert.deepEqual(inMenu.sort(), ["consents", "difficulty", "documents", "layout", "traces"], `the menu holds ${JSON.stringify(inMenu)}`);
  await fac.page.screenshot({ path: join(ARTIFACTS, "more-menu.png") });
  await fac.page.keyboard.press("Escape");
});

test("through the server: every other page decodes the screen, and a participant shares once allowed", async (stage) => {
  const session = await stage.session({ media: "forwarded" });
  const room = await openThree(stage, session);
  await joinTogether(room);
  await expectFullMesh(room);
  const [fac, karim, sophie] = room;
  await share(fac);
  await decodesScreenOf(karim, fac);
  await decodesScreenOf(sophie, fac);
  // Its sound came along (the fake capture has some).
  const tracks = await karim.page.evaluate((id) => {
    const video = /** @type {HTMLVideoElement} */ (document.querySelector(`video[data-screen-of="${id}"]`));
    return /** @type {MediaStream} */ (video.srcObject).getTracks().map((t) => t.kind).sort();
  }, fac.id);
  assert.deepEqual(tracks, ["audio", "video"], "the screen's sound reaches the others");

  // The facilitator allows Karim, from the presence console.
  await openPanel(fac, "presence");
  await fac.page.click(`#presence-panel [data-person="${karim.id}"] [data-action="allow-share"]`);
  await karim.page.locator('button[data-action="share-screen"]').waitFor({ state: "visible", timeout: UI_WAIT_MS });
  // Claire shares: Karim may not replace her screen (taking over not allowed).
  await karim.page.click('button[data-action="share-screen"]');
  await karim.page.locator(".toast", { hasText: /partage déjà son écran/ }).waitFor({ timeout: UI_WAIT_MS });
  await fac.page.click('[data-action="stop-sharing"]');
  await noScreen(karim);
  await share(karim);
  await decodesScreenOf(fac, karim);
  await decodesScreenOf(sophie, karim);
  await sophie.page.screenshot({ path: join(ARTIFACTS, "screen-forwarded.png") });
  // The facilitator stops Karim's share from the console.
  await fac.page.click(`#presence-panel [data-person="${karim.id}"] [data-action="stop-share-of"]`);
  await noScreen(sophie);
  await karim.page.locator('[data-field="sharing"]').waitFor({ state: "hidden", timeout: UI_WAIT_MS });
});
