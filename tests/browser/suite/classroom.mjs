// The class around the pictures: the chat between three pages (markup shown
// as text, a private message, a reconnection that finds the chat again), and
// a raised hand that the facilitator lowers, a reaction, and a participant
// the facilitator mutes.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, MEDIA_WAIT_MS, UI_WAIT_MS } from "../lib/config.mjs";
import { joinFromLobby, joinTogether, textOf } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { clickControl, openPanel, openThree, videoCall } from "../lib/steps.mjs";

/** @typedef {import("../lib/pages.mjs").Person} Person */

/**
 * Writes `text` in `person`'s chat (to `to`, a person's id, or everyone) and sends it with Enter.
 * @param {Person} person @param {string} text @param {string} [to]
 */
async function write(person, text, to = "") {
  const page = person.page;
  if (!(await page.locator("#chat-panel").isVisible())) await openPanel(person, "chat");
  if (to) await page.selectOption('[data-field="chat-to"]', to);
  await page.fill('[data-field="chat-text"]', text);
  await page.press('[data-field="chat-text"]', "Enter");
}

/** The texts `person`'s chat shows, in order. @param {Person} person */
function texts(person) {
  return person.page.$$eval('[data-field="chat"] .chat-body', (els) => els.map((e) => e.textContent ?? ""));
}

/** Waits until `person`'s chat shows `count` messages. @param {Person} person @param {number} count */
async function until(person, count) {
  await person.page.waitForFunction(
    (n) => document.querySelectorAll('[data-field="chat"] .chat-line').length === n,
    count,
    { timeout: UI_WAIT_MS },
  ).catch(async (err) => {
    throw new Error(`${person.name} should show ${count} chat messages, shows ${JSON.stringify(await texts(person))} (${err.message})`);
  });
}

test("three pages chat: in order, markup shown as text, a private message, and the chat found again after a reload", async (stage) => {
  const session = await stage.session();
  const room = await openThree(stage, session);
  await joinTogether(room);
  const [fac, karim, sophie] = room;
  const tricky = "Les diapos : https://example.org/cours.pdf. <img src=x onerror=alert(1)>";
  await write(karim, tricky);
  await write(fac, "Merci Karim, bienvenue à tous.");
  for (const person of room) await until(person, 2);
  for (const person of room) {
    assert.deepEqual(await texts(person), [tricky, "Merci Karim, bienvenue à tous."], `${person.name}'s chat`);
  }
  // The address is a link that opens apart; the markup is text, not an image.
  const link = await sophie.page.$eval('[data-field="chat"] .chat-body a', (a) => ({ href: a.getAttribute("href"), rel: a.getAttribute("rel"), target: a.getAttribute("target") }));
  assert.deepEqual(link, { href: "https://example.org/cours.pdf", rel: "noopener noreferrer nofollow", target: "_blank" });
  assert.equal(await sophie.page.locator('[data-field="chat"] img').count(), 0, "markup in a message must stay text");

  // Karim writes privately to the facilitator: Sophie never sees it.
  await write(karim, "Je dois partir à 16 h.", fac.id);
  await until(fac, 3);
  await until(karim, 3);
  const privateLine = fac.page.locator('[data-field="chat"] .chat-line[data-private="true"]');
  assert.equal(await privateLine.count(), 1);
  await write(fac, "On reprend dans 5 minutes.");
  await until(sophie, 3);
  assert.deepEqual((await texts(sophie)).slice(-1), ["On reprend dans 5 minutes."]);
  assert(!(await texts(sophie)).includes("Je dois partir à 16 h."), "a private message reached someone else");
  await fac.page.screenshot({ path: join(ARTIFACTS, "chat-facilitator.png") });

  // Sophie reloads: the chat comes back with her welcome (without the private line).
  await sophie.page.reload();
  await joinFromLobby(sophie);
  await openPanel(sophie, "chat");
  await until(sophie, 3);
  assert.deepEqual(await texts(sophie), [tricky, "Merci Karim, bienvenue à tous.", "On reprend dans 5 minutes."]);
});

test("a raised hand shows on every page, in order, and the facilitator lowers it", async (stage) => {
  const session = await stage.session();
  const room = await openThree(stage, session);
  await joinTogether(room);
  const [fac, karim, sophie] = room;
  await karim.page.click('button[data-action="hand"]');
  await fac.page.waitForSelector(`figure.tile[data-tile="${karim.id}"][data-hand="1"]`, { timeout: UI_WAIT_MS });
  await sophie.page.click('button[data-action="hand"]');
  for (const person of [fac, karim]) {
    await person.page.waitForSelector(`figure.tile[data-tile="${sophie.id}"][data-hand="2"]`, { timeout: UI_WAIT_MS });
  }
  assert.equal(await karim.page.getAttribute('button[data-action="hand"]', "aria-pressed"), "true");
  // The facilitator sees the hands in order in the chat panel and lowers Karim's.
  await openPanel(fac, "chat");
  const order = await fac.page.$$eval('[data-field="hands"] li', (els) => els.map((e) => e.getAttribute("data-hand")));
  assert.deepEqual(order, [karim.id, sophie.id]);
  await fac.page.screenshot({ path: join(ARTIFACTS, "hands-facilitator.png") });
  await fac.page.click(`[data-field="hands"] li[data-hand="${karim.id}"] button[data-action="hand-lower"]`);
  await karim.page.waitForFunction(
    () => document.querySelector('button[data-action="hand"]')?.getAttribute("aria-pressed") === "false",
    null,
    { timeout: UI_WAIT_MS },
  );
  // Sophie is first now.
  await sophie.page.waitForSelector(`figure.tile[data-self="true"][data-hand="1"]`, { timeout: UI_WAIT_MS });
  // A reaction shows on the others' pages.
  await openPanel(sophie, "chat");
  await sophie.page.click('button[data-reaction="applause"]');
  await fac.page.waitForFunction(
    (id) => document.querySelector(`figure.tile[data-tile="${id}"] [data-field="tile-reaction"]:not([hidden])`)?.textContent === "👏",
    sophie.id,
    { timeout: UI_WAIT_MS },
  );
});

test("the facilitator mutes a participant: their sound stops for the others, and only they turn it on again", async (stage) => {
  const session = await stage.session();
  const room = await videoCall(stage, session);
  const [fac, karim] = room;
  /** The loudest Karim sounds on the facilitator's page over `ms`. */
  const loudest = (ms) => fac.page.evaluate(async ([id, span]) => {
    let max = 0;
    const end = Date.now() + span;
    while (Date.now() < end) {
      const level = /** @type {any} */ (window).cadre.levels()[id] ?? 0;
      max = Math.max(max, level);
      await new Promise((r) => setTimeout(r, 100));
    }
    return max;
  }, [karim.id, ms]);
  assert((await loudest(3000)) > 0.01, "Karim's fake microphone should be heard before");
  await openPanel(fac, "presence");
  await fac.page.click(`[data-person="${karim.id}"] button[data-action="mute-person"]`);
  // Karim is told who muted him, his microphone is off, and the others see it.
  await karim.page.locator('.toast', { hasText: "a coupé votre micro" }).waitFor({ timeout: UI_WAIT_MS });
  await fac.page.waitForSelector(`figure.tile[data-tile="${karim.id}"] .indicator:not([hidden])`, { timeout: UI_WAIT_MS });
  // Sound already on its way (the receiver's jitter buffer, longer on a
  // loaded machine) still plays for a moment: silence is waited for, within
  // the media bound, then must hold.
  const silentBy = Date.now() + MEDIA_WAIT_MS;
  let after = await loudest(1000);
  while (after >= 0.01 && Date.now() < silentBy) after = await loudest(1000);
  assert(after < 0.01, `Karim's sound should stop once muted, was ${after}`);
  const held = await loudest(3000);
  assert(held < 0.01, `Karim's sound should stay off while muted, was ${held}`);
  await karim.page.screenshot({ path: join(ARTIFACTS, "muted-participant.png") });
  // Asked to speak, Karim accepts: heard again.
  await fac.page.click(`[data-person="${karim.id}"] button[data-action="ask-unmute"]`);
  await karim.page.locator('.toast button[data-action="unmute"]').last().click({ timeout: UI_WAIT_MS });
  await fac.page.waitForFunction(
    (id) => /** @type {any} */ (window).cadre.levels()[id] > 0.01,
    karim.id,
    { timeout: UI_WAIT_MS },
  );
});

test("views: the speaker view, a picture pinned on one page, and a facilitator's spotlight on every page", async (stage) => {
  const session = await stage.session();
  const room = await videoCall(stage, session);
  const [fac, karim, sophie] = room;
  /** The id of the picture `person`'s page shows large, or null. */
  const large = (person) => person.page.evaluate(() => document.querySelector('figure.tile[data-main="true"]')?.getAttribute("data-tile") ?? null);
  assert.equal(await large(sophie), null, "all pictures alike at first");
  // Sophie keeps the facilitator large on her page only.
  await sophie.page.hover(`figure.tile[data-tile="${fac.id}"]`);
  await sophie.page.click(`figure.tile[data-tile="${fac.id}"] button[data-action="pin"]`);
  assert.equal(await large(sophie), fac.id);
  assert.equal(await large(karim), null, "a pin is one page's choice");
  await sophie.page.click(`figure.tile[data-tile="${fac.id}"] button[data-action="pin"]`);
  assert.equal(await large(sophie), null);
  // The speaker view shows someone large (the one speaking, or the first).
  await clickControl(karim, "layout");
  assert.notEqual(await large(karim), null, "the speaker view shows one picture large");
  await clickControl(karim, "layout");
  // The facilitator shows Karim to everyone, from the presence console.
  await openPanel(fac, "presence");
  await fac.page.click(`[data-person="${karim.id}"] button[data-action="spotlight"]`);
  for (const person of room) {
    await person.page.waitForFunction(
      (id) => document.querySelector('figure.tile[data-main="true"]')?.getAttribute("data-tile") === id,
      person === karim ? karim.id : karim.id,
      { timeout: UI_WAIT_MS },
    );
  }
  await sophie.page.screenshot({ path: join(ARTIFACTS, "spotlight-participant.png") });
  await fac.page.click(`[data-person="${karim.id}"] button[data-action="spotlight"]`);
  await sophie.page.waitForFunction(() => !document.querySelector('figure.tile[data-main="true"]'), null, { timeout: UI_WAIT_MS });
});

test("pages of pictures: the page a person chose comes back after someone leaves for a moment", async (stage) => {
  const session = await stage.session();
  const room = await openThree(stage, session);
  await joinTogether(room);
  const [fac, karim] = room;
  await fac.page.evaluate(() => /** @type {any} */ (window).cadre.setPageSize(1));
  assert.equal(await textOf(fac.page, ".pager-label"), "Page 1 sur 2");
  await fac.page.click('button[data-action="page-next"]');
  assert.equal(await textOf(fac.page, ".pager-label"), "Page 2 sur 2");
  // Karim reloads his page: while he is away the facilitator has one
  // picture, one page; once he is back, the second page they chose.
  await karim.page.reload();
  await fac.page.locator("nav.pager").waitFor({ state: "hidden", timeout: UI_WAIT_MS });
  await joinFromLobby(karim);
  await fac.page.locator("nav.pager").waitFor({ state: "visible", timeout: UI_WAIT_MS });
  assert.equal(await textOf(fac.page, ".pager-label"), "Page 2 sur 2", "the page chosen should come back");
});

test("an anonymous poll: the facilitator puts it, two pages answer, everyone sees the counts once closed", async (stage) => {
  const session = await stage.session();
  const room = await openThree(stage, session);
  await joinTogether(room);
  const [fac, karim, sophie] = room;
  await openPanel(fac, "chat");
  await fac.page.click(".poll-new summary");
  await fac.page.fill('[data-field="poll-question"]', "On fait une pause à 15 h ?");
  await fac.page.fill('[data-field="poll-choices"]', "Oui\nNon\nPlus tard");
  await fac.page.click('button[data-action="poll-put"]');
  // Each participant is told and answers from the chat panel: Karim opens it
  // from the toast; Sophie, whose toast may have gone by then on a loaded
  // machine, from the panel's control.
  for (const [person, choice, fromToast] of [[karim, 0, true], [sophie, 2, false]]) {
    if (fromToast) await person.page.click('.toast button[data-action="poll-open"]', { timeout: UI_WAIT_MS });
    else await openPanel(person, "chat");
    await person.page.click(`[data-field="poll"] li[data-choice="${choice}"] button[data-action="poll-answer"]`, { timeout: UI_WAIT_MS });
    await person.page.locator('[data-field="poll-answered"]', { hasText: "Vous avez répondu" }).waitFor({ timeout: UI_WAIT_MS });
  }
  // No counts for participants while open; the facilitator sees them as they come.
  assert.equal(await karim.page.locator('[data-field="poll-count"]').count(), 0, "counts shown to a participant while open");
  await fac.page.locator('[data-field="poll-answered"]', { hasText: "2 réponse" }).waitFor({ timeout: UI_WAIT_MS });
  await fac.page.click('button[data-action="poll-close"]');
  await sophie.page.locator('#poll-title', { hasText: "Résultats" }).waitFor({ timeout: UI_WAIT_MS });
  const counts = await sophie.page.$$eval('[data-field="poll-count"]', (els) => els.map((e) => e.textContent));
  assert.deepEqual(counts, ["1 (50 %)", "0 (0 %)", "1 (50 %)"]);
  await sophie.page.screenshot({ path: join(ARTIFACTS, "poll-results.png") });
});
