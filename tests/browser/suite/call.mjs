// The call itself: video between browsers, a reload, the camera, leaving and
// coming back, a second tab, and a link revoked during the call.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, MEDIA_WAIT_MS, UI_WAIT_MS } from "../lib/config.mjs";
import {
  checkTreeHead, expectFullMesh, joinFromLobby, joinTogether, shownConnection, state, storedReceipts, textOf, waitConnected,
} from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { organiser } from "../lib/server.mjs";
import { openThree, videoCall } from "../lib/steps.mjs";

test("facilitator and two participants join and decode each other's video", async (stage) => {
  const inCall = await openThree(stage, await stage.session());
  await inCall[0].page.screenshot({ path: join(ARTIFACTS, "facilitator-lobby.png") });
  await Promise.all(inCall.map(joinFromLobby));
  await expectFullMesh(inCall);
  for (const person of inCall) {
    const s = await state(person);
    assert(s.connection === "connected", `${person.name} should be connected, is ${s.connection}`);
    assert(s.welcome?.ice_policy === "loopback", `${person.name} should have ice_policy loopback`);
  }
  // Let the last frames settle, then keep a picture for the lead.
  await inCall[0].page.waitForTimeout(1000);
  await inCall[0].page.screenshot({ path: join(ARTIFACTS, "facilitator-call.png") });
});

test("a participant who reloads comes back, with video on both sides", async (stage) => {
  const inCall = await videoCall(stage, await stage.session());
  const [fac, reloader] = inCall;
  // The reloader's connection as the others see it now: only a new one counts.
  const before = await shownConnection(fac, reloader.id);
  assert(before, "the facilitator's page should show the reloader's connection id");
  await reloader.page.reload();
  await joinFromLobby(reloader);
  await expectFullMesh(inCall, MEDIA_WAIT_MS, { [reloader.id]: before });
});

test("toggling the camera off shows it to the others", async (stage) => {
  const session = await stage.session();
  const fac = await stage.join(session.facilitator, "facilitator");
  const karimPage = await stage.join(session.karim, "participant 1");
  await joinTogether([fac, karimPage]);
  await karimPage.page.click('button[data-action="camera"]');
  await fac.page.waitForSelector(`figure.tile[data-tile="${karimPage.id}"][data-camera="off"]`, { timeout: UI_WAIT_MS });
  await karimPage.page.click('button[data-action="camera"]');
  await fac.page.waitForSelector(`figure.tile[data-tile="${karimPage.id}"][data-camera="on"]`, { timeout: UI_WAIT_MS });
});

test("leaving shows « vous avez quitté », the others drop the tile, and « rejoindre » comes back", async (stage) => {
  const session = await stage.session();
  const inCall = await videoCall(stage, session);
  const [fac, , leaver] = inCall;
  await leaver.page.click('button[data-action="leave"]');
  // Asked first; "Rester" keeps the call, then leaving for real.
  await leaver.page.click('dialog[data-dialog="leave"] button[data-action="leave-cancel"]');
  assert.equal(await leaver.page.locator('button[data-action="leave"]').isVisible(), true, "« Rester » should keep the call");
  await leaver.page.click('button[data-action="leave"]');
  await leaver.page.click('dialog[data-dialog="leave"] button[data-action="leave-confirm"]');
  await leaver.page.locator("#left-title", { hasText: "Vous avez quitté la séance" }).waitFor({ timeout: UI_WAIT_MS });
  await fac.page.waitForFunction(
    (id) => !document.querySelector(`video[data-peer-id="${id}"]`),
    leaver.id,
    { timeout: UI_WAIT_MS },
  );
  const left = await state(leaver);
  assert(left.connection === "left", `the leaver's connection should be « left », is ${left.connection}`);
  // The departure's receipt came before the « left » screen, and is kept.
  const note = await textOf(leaver.page, '[data-field="left-receipt"]');
  assert(/Un reçu de votre départ est conservé/.test(note), `the left screen should mention the receipt, got « ${note} »`);
  const receipts = await storedReceipts(leaver, session.id);
  const departure = receipts.filter((r) => r.kind === "leave");
  assert(departure.length === 1, `one departure receipt should be kept, got ${JSON.stringify(receipts)}`);
  checkTreeHead(departure[0].tree_head, session.id);

  // « Rejoindre à nouveau » goes back through the lobby into the call.
  const before = (await state(fac)).peers.length;
  assert(before === 1, `the facilitator should see one peer after the departure, sees ${before}`);
  await leaver.page.click('button[data-action="rejoin"]');
  await joinFromLobby(leaver);
  await expectFullMesh(inCall);
});

test("joining with the camera off shows an avatar; turning it on sends video", async (stage) => {
  const { facilitator, karim } = await stage.session();
  const fac = await stage.join(facilitator, "facilitator");
  const shy = await stage.join(karim, "participant 1");
  // Uncheck « Entrer avec la caméra activée » once the browser gave the devices.
  await shy.page.locator("#join-camera:not([disabled])").waitFor({ timeout: UI_WAIT_MS });
  await shy.page.uncheck("#join-camera");
  await Promise.all([joinFromLobby(fac), joinFromLobby(shy)]);
  const tile = fac.page.locator(`figure.tile[data-tile="${karim.id}"]`);
  await tile.waitFor({ timeout: UI_WAIT_MS });
  await fac.page.waitForFunction(
    (id) => /** @type {any} */ (window).cadre.state().links[id] === "connected",
    karim.id,
    { timeout: MEDIA_WAIT_MS },
  );
  assert((await tile.getAttribute("data-camera")) === "off", "the facilitator should see the camera as off");
  assert(await tile.locator(".tile-avatar").isVisible(), "the facilitator should see an avatar instead of video");
  await shy.page.click('button[data-action="camera"]');
  await fac.page.waitForFunction(
    (id) => {
      const v = document.querySelector(`video[data-peer-id="${id}"]`);
      return v instanceof HTMLVideoElement && v.videoWidth > 0 && v.closest("figure")?.dataset.camera === "on";
    },
    karim.id,
    { timeout: UI_WAIT_MS },
  );
});

test("a second tab replaces the first, which does not reconnect by itself", async (stage) => {
  const { lucas } = await stage.session();
  const first = await stage.join(lucas, "participant 3, first tab");
  const second = await stage.join(lucas, "participant 3, second tab");
  await joinFromLobby(first);
  await waitConnected(first);
  await joinFromLobby(second);
  await waitConnected(second);
  await first.page.locator('.banner[data-kind="banner.replaced"]').waitFor({ timeout: UI_WAIT_MS });
  await first.page.waitForTimeout(2500);
  const replaced = await state(first);
  assert(replaced.connection === "replaced", `the first tab should stay « replaced », is ${replaced.connection}`);
  const other = await state(second);
  assert(other.connection === "connected", `the second tab should stay connected, is ${other.connection}`);
});

test("revoking a person in the call shows the banner, stops reconnecting, and their link is refused", async (stage) => {
  const session = await stage.session();
  const { lucas } = session;
  const person = await stage.join(lucas, "participant 3");
  await joinFromLobby(person);
  await waitConnected(person);
  await organiser(stage.server, "POST", `/api/sessions/${session.id}/people/${lucas.id}/revoke`);
  await person.page.locator('.banner[data-kind="banner.revoked"]').waitFor({ timeout: UI_WAIT_MS });
  await person.page.waitForTimeout(2000);
  const revoked = await state(person);
  assert(revoked.connection === "revoked", `the connection should stay « revoked », is ${revoked.connection}`);

  await person.page.reload();
  const card = person.page.locator("[data-error-code]");
  await card.waitFor({ timeout: UI_WAIT_MS });
  const code = await card.getAttribute("data-error-code");
  assert(code === "token_revoked", `a revoked link should answer token_revoked, got ${code}`);
  const text = await textOf(person.page, ".error-message");
  assert(/révoqué/.test(text), `expected a « révoqué » message, got « ${text} »`);
});

test("a hang-up and a close by the server end cleanly for the browser, never as 1006", async (stage) => {
  const session = await stage.session();
  const { karim, sophie, lucas } = session;
  // A page of the server's own origin, which the upgrade requires.
  const page = (await stage.join(karim, "participant 1")).page;
  const socketUrl = (/** @type {{ link: { url: string } }} */ who) => {
    const link = new URL(who.link.url);
    const token = link.pathname.split("/").pop();
    return `ws://${link.host}/ws/${session.id}?token=${token}`;
  };
  const open = (url) =>
    page.evaluate(async (url) => {
      const ws = new WebSocket(url);
      window.__closed = new Promise((resolve) => {
        ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
      });
      await new Promise((resolve, reject) => {
        ws.onmessage = (e) => JSON.parse(String(e.data)).type === "welcome" && resolve(null);
        ws.onerror = () => reject(new Error("the socket failed before its welcome"));
      });
      window.__socket = ws;
    }, url);
  const closed = () => page.evaluate(() => window.__closed);

  await open(socketUrl(sophie));
  await page.evaluate(() => window.__socket.close(1000, "au revoir"));
  const hangUp = await closed();
  assert.deepEqual(hangUp, { code: 1000, reason: "au revoir", wasClean: true }, `a hang-up: ${JSON.stringify(hangUp)}`);

  await open(socketUrl(lucas));
  await organiser(stage.server, "POST", `/api/sessions/${session.id}/people/${lucas.id}/revoke`);
  const revoked = await closed();
  assert.equal(revoked.code, 4005, `a revocation: ${JSON.stringify(revoked)}`);
  assert.equal(revoked.wasClean, true, `a revocation: ${JSON.stringify(revoked)}`);
});
