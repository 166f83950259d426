// Session control: a suspension with its reason on every page (no outbound
// video while suspended, a reload landing in it, resuming), the facilitator's
// conditions, a difficulty report answered live; removing a participant and
// ending the session.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ARTIFACTS, MEDIA_WAIT_MS, UI_WAIT_MS } from "../lib/config.mjs";
import { expectFullMesh, joinFromLobby, shownConnection, textOf, waitConnected } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { verifyFile } from "../lib/server.mjs";
import { clickControl, openThree, videoCall } from "../lib/steps.mjs";

test("the facilitator suspends with a reason; every page shows it and stops sending video; a reload lands in the suspension; resuming restores the call; conditions and difficulty reports", async (stage) => {
  const session = await stage.session();
  const { facilitator } = session;
  const inCall = await videoCall(stage, session);
  const [fac, karimPage, sophiePage] = inCall;
  const participantsInCall = [karimPage, sophiePage];
  const reason = "Coupure réseau chez plusieurs participants : nous reprenons dans dix minutes.";
  const state = (person) => person.page.evaluate(() => /** @type {any} */ (window).cadre.state());
  const frames = (person) => person.page.evaluate(() => /** @type {any} */ (window).cadre.outboundVideo());
  const bar = (person) => person.page.locator('[data-field="session-state"]');
  /** Outbound video frames twice, ~1.5 s apart. */
  const framesOver = async (person) => {
    const a = await frames(person);
    await person.page.waitForTimeout(1500);
    const b = await frames(person);
    return { a, b };
  };
  /** Every outbound sender has no track (replaceTrack(null) done), but the
   * facilitator's microphone, kept to explain the suspension. */
  const senderless = (person) => person.page.waitForFunction(async (voice) => {
    const v = await /** @type {any} */ (window).cadre.outboundVideo();
    return v && v.senders.length > 0 && v.senders.every((s) => !s.track || (voice && s.kind === "audio"));
  }, person === fac, { timeout: UI_WAIT_MS, polling: 200 });
  // The console: a score for each participant, from figures the browsers send.
  await fac.page.click('button[data-action="session"]');
  const panel = fac.page.locator("#session-panel");
  await panel.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await fac.page.waitForFunction((ids) => {
    const people = /** @type {any} */ (window).cadre.state().quality?.people ?? {};
    return ids.every((id) => people[id] && typeof people[id].figures?.rtt_ms === "number");
  }, participantsInCall.map((p) => p.id), { timeout: MEDIA_WAIT_MS, polling: 250 });
  for (const p of participantsInCall) {
    const row = panel.locator(`li.quality-row[data-person="${p.id}"]`);
    await row.waitFor({ timeout: UI_WAIT_MS });
    const score = await row.getAttribute("data-score");
    assert(["excellent", "good", "poor", "lost"].includes(score ?? ""), `${p.name}: a score should be shown, got ${score}`);
    const text = await row.innerText();
    assert(/(Excellente|Bonne|Médiocre|Perdue)/.test(text) && /délai \d+ ms/.test(text),
      `${p.name}'s row should give the score in words and the figures: « ${text} »`);
  }
  await panel.screenshot({ path: join(ARTIFACTS, "facilitator-conditions.png") });
  // A participant sees what is reported about them.
  await clickControl(karimPage, "connection");
  await karimPage.page.locator('#connection-panel [data-field="my-connection"] .score[data-score]').waitFor({ timeout: 15_000 });

  // Frames flow before.
  for (const person of inCall) {
    const { a, b } = await framesOver(person);
    assert(b.framesEncoded > a.framesEncoded, `${person.name} should send video before the suspension: ${JSON.stringify({ a, b })}`);
  }

  // Suspend: the reason is required.
  await panel.locator('button[data-action="control-suspend"]').click();
  const dialog = fac.page.locator('dialog[data-dialog="suspend"]');
  await dialog.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  const confirm = dialog.locator('button[data-action="control-confirm"]');
  assert(await confirm.isDisabled(), "« Suspendre la séance » should be disabled without a reason");
  await dialog.locator("#control-reason").fill("   ");
  assert(await confirm.isDisabled(), "a blank reason is no reason");
  await dialog.locator("#control-reason").fill(reason);
  assert(await confirm.isEnabled(), "with a reason, the confirmation should be possible");
  const clicked = Date.now();
  await confirm.click();
  await dialog.waitFor({ state: "detached", timeout: UI_WAIT_MS });

  // Every page: the banner with who, when, why.
  const expected = new RegExp(`^Séance suspendue par ${facilitator.name} à \\d\\d:\\d\\d : ${reason.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  await Promise.all(inCall.map(async (person) => {
    await person.page.locator('[data-field="session-state"][data-state="suspended"]').waitFor({ timeout: UI_WAIT_MS });
    const text = await textOf(person.page, '[data-field="session-state-text"]');
    assert(expected.test(text), `${person.name} should read « Séance suspendue par ${facilitator.name} à HH:MM : ${reason} », reads « ${text} »`);
  }));
  console.log(`# the suspension showed on every page ${Date.now() - clicked} ms after the click`);
  await karimPage.page.screenshot({ path: join(ARTIFACTS, "participant-suspended.png") });

  // Nothing leaves any browser.
  for (const person of inCall) {
    await senderless(person);
    const { a, b } = await framesOver(person);
    assert(b.framesEncoded === a.framesEncoded && b.framesSent === a.framesSent,
      `${person.name} should send no video while suspended: ${JSON.stringify({ a: { e: a.framesEncoded, s: a.framesSent }, b: { e: b.framesEncoded, s: b.framesSent } })}`);
    const s = await state(person);
    assert(s.session?.state === "suspended" && s.session.notice?.reason === reason, `${person.name}'s page should know: ${JSON.stringify(s.session)}`);
  }

  // A reload during the suspension lands in it, with the reason, sending nothing.
  const before = await shownConnection(fac, sophiePage.id);
  await sophiePage.page.reload();
  await joinFromLobby(sophiePage);
  await waitConnected(sophiePage);
  await bar(sophiePage).and(sophiePage.page.locator('[data-state="suspended"]')).waitFor({ timeout: UI_WAIT_MS });
  const after = await textOf(sophiePage.page, '[data-field="session-state-text"]');
  assert(expected.test(after), `after a reload, the banner should read the same: « ${after} »`);
  await sophiePage.page.waitForFunction(() => {
    const links = Object.values(/** @type {any} */ (window).cadre.state().links);
    return links.length === 2 && links.every((l) => l === "connected");
  }, null, { timeout: MEDIA_WAIT_MS });
  await senderless(sophiePage);
  const reloaded = await framesOver(sophiePage);
  assert(reloaded.b.framesEncoded === reloaded.a.framesEncoded, `a page reloaded during the suspension should send no video: ${JSON.stringify(reloaded)}`);

  // Resume: video again, without renegotiation.
  await panel.locator('button[data-action="control-resume"]').click();
  const resume = fac.page.locator('dialog[data-dialog="resume"]');
  await resume.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await resume.locator("#control-reason").fill("Le réseau est revenu.");
  await resume.locator('button[data-action="control-confirm"]').click();
  await resume.waitFor({ state: "detached", timeout: UI_WAIT_MS });
  await Promise.all(inCall.map(async (person) => {
    await person.page.locator('[data-field="session-state"][data-action="resume"]').waitFor({ timeout: UI_WAIT_MS });
    const text = await textOf(person.page, '[data-field="session-state-text"]');
    assert(/^Séance reprise par .+ à \d\d:\d\d : Le réseau est revenu\.$/.test(text), `${person.name} should read the resumption: « ${text} »`);
  }));
  for (const person of inCall) {
    await person.page.waitForFunction(async () => {
      const v = await /** @type {any} */ (window).cadre.outboundVideo();
      return v && v.senders.some((s) => s.track);
    }, null, { timeout: UI_WAIT_MS, polling: 200 });
    const { a, b } = await framesOver(person);
    assert(b.framesEncoded > a.framesEncoded && b.framesSent > a.framesSent, `${person.name} should send video again: ${JSON.stringify({ a, b })}`);
  }
  await expectFullMesh(inCall, MEDIA_WAIT_MS, { [sophiePage.id]: before });
  for (const person of inCall) {
    const t0 = await person.page.evaluate(() => [...document.querySelectorAll("video[data-peer-id]")].map((v) => v.currentTime));
    await person.page.waitForTimeout(1000);
    const t1 = await person.page.evaluate(() => [...document.querySelectorAll("video[data-peer-id]")].map((v) => ({ t: v.currentTime, w: v.videoWidth })));
    assert(t1.length === 2 && t1.every((v, i) => v.w > 0 && v.t > t0[i]), `${person.name}'s remote videos should play again: ${JSON.stringify({ t0, t1 })}`);
  }

  // A difficulty, filed in the call, answered in writing by the organiser, seen live.
  await karimPage.page.click('button[data-action="difficulty"]');
  const difficulty = karimPage.page.locator("#difficulty-panel");
  await difficulty.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  const send = difficulty.locator('button[data-action="difficulty-send"]');
  assert(await send.isDisabled(), "« Envoyer » should wait for a message");
  await difficulty.locator("#difficulty-text").fill("Le son a coupé pendant la suspension.");
  await send.click();
  const item = difficulty.locator('li.difficulty[data-status="open"]', { hasText: "Le son a coupé pendant la suspension." });
  await item.waitFor({ timeout: UI_WAIT_MS });
  const rid = await item.getAttribute("data-report");
  const answered = await fetch(`${stage.server.url}/api/sessions/${session.id}/reports/${rid}/answer`, {
    method: "POST",
    headers: { authorization: `Bearer ${stage.server.organiserToken}`, "content-type": "application/json" },
    body: JSON.stringify({ answer: "Merci, nous avons vérifié le serveur.", close: false }),
  });
  assert(answered.ok, `answering answered HTTP ${answered.status}: ${await answered.text()}`);
  await difficulty.locator(`li.difficulty[data-report="${rid}"][data-status="answered"]`, { hasText: "Merci, nous avons vérifié le serveur." })
    .waitFor({ timeout: UI_WAIT_MS });
  await difficulty.screenshot({ path: join(ARTIFACTS, "participant-difficulty.png") });
});

test("a facilitator removes a participant, then ends the session: final screens with the reason, no reconnection, difficulty reports still possible", async (stage) => {
  const session = await stage.session();
  const { facilitator, karim, sophie } = session;
  const room = await openThree(stage, session);
  const [fac, stays, removed] = room;
  await Promise.all(room.map(joinFromLobby));
  await Promise.all(room.map(waitConnected));
  await fac.page.waitForFunction(() => /** @type {any} */ (window).cadre.state().peers.length === 2, null, { timeout: UI_WAIT_MS });

  // Removing: from the people list, with a reason everyone reads.
  await fac.page.click('button[data-action="presence"]');
  await fac.page.click(`#presence-panel li[data-person="${sophie.id}"] button[data-action="control-remove"]`);
  const dialog = fac.page.locator('dialog[data-dialog="remove"]');
  await dialog.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  assert((await textOf(fac.page, "#control-dialog-title")) === `Retirer ${sophie.name} de la séance`, "the dialog should name the person");
  assert(await dialog.locator('button[data-action="control-confirm"]').isDisabled(), "no removal without a reason");
  await dialog.locator("#control-reason").fill("Propos déplacés répétés malgré deux rappels.");
  await dialog.locator('button[data-action="control-confirm"]').click();
  await removed.page.locator('[data-screen="removed"]').waitFor({ timeout: UI_WAIT_MS });
  const why = await textOf(removed.page, '[data-field="final-reason"]');
  assert(why === `${facilitator.name} vous a retiré·e de la séance à ${why.match(/\d\d:\d\d/)?.[0]} : Propos déplacés répétés malgré deux rappels.`,
    `the removed person should read who, when and why: « ${why} »`);
  await stays.page.locator(".toast", { hasText: `${sophie.name} a été retiré·e de la séance par ${facilitator.name}` }).waitFor({ timeout: UI_WAIT_MS });
  await removed.page.waitForTimeout(2000);
  const gone = await removed.page.evaluate(() => /** @type {any} */ (window).cadre.state().connection);
  assert(gone === "removed", `the removed page should not reconnect, is « ${gone} »`);
  await removed.page.screenshot({ path: join(ARTIFACTS, "participant-removed.png") });

  // Ending: everyone gets the final screen, with documents and the difficulty form.
  await fac.page.click('button[data-action="session"]');
  await fac.page.click('#session-panel button[data-action="control-end"]');
  const end = fac.page.locator('dialog[data-dialog="end"]');
  await end.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await end.locator("#control-reason").fill("Programme de la journée terminé.");
  await end.locator('button[data-action="control-confirm"]').click();
  for (const person of [fac, stays]) {
    await person.page.locator('[data-screen="session-ended"]').waitFor({ timeout: UI_WAIT_MS });
    const text = await textOf(person.page, '[data-field="final-reason"]');
    assert(/^Séance terminée par .+ à \d\d:\d\d : Programme de la journée terminé\.$/.test(text), `${person.name} should read why it ended: « ${text} »`);
  }
  await stays.page.waitForTimeout(1500);
  const closed = await stays.page.evaluate(() => /** @type {any} */ (window).cadre.state().connection);
  assert(closed === "closed", `an ended session should not reconnect, is « ${closed} »`);
  assert(await stays.page.locator('[data-screen="session-ended"] a[data-action="download-proof-pdf"]').isVisible(), "the certificate should stay reachable");
  // So does the verification bundle, and the verifier accepts it.
  const [ended] = await Promise.all([
    stays.page.waitForEvent("download", { timeout: UI_WAIT_MS }),
    stays.page.click('[data-screen="session-ended"] button[data-action="download-verification"]'),
  ]);
  const endedPath = await ended.path();
  const endedBundle = JSON.parse(readFileSync(endedPath, "utf8"));
  assert(endedBundle.typ === "cadre.verification-bundle" && endedBundle.person?.id === karim.id,
    `the final screen's bundle should be ${stays.name}'s: ${JSON.stringify(endedBundle).slice(0, 200)}`);
  const endedCheck = verifyFile(stage.server, endedPath);
  assert(endedCheck.status === 0, `cadre verify should accept the bundle from the final screen (exit ${endedCheck.status}): ${endedCheck.stdout}${endedCheck.stderr}`);
  const form = stays.page.locator('[data-screen="session-ended"] [data-field="difficulties"]');
  await form.locator("#difficulty-text").fill("Je n’ai pas reçu le support de la séance.");
  await form.locator('button[data-action="difficulty-send"]').click();
  await form.locator('li.difficulty[data-status="open"]', { hasText: "Je n’ai pas reçu le support de la séance." }).waitFor({ timeout: UI_WAIT_MS });
  await stays.page.screenshot({ path: join(ARTIFACTS, "participant-ended.png"), fullPage: true });

  // Coming back with the same link: no lobby, the same final screen, the reports still there.
  await stays.page.reload();
  await stays.page.locator('[data-screen="session-ended"] li.difficulty', { hasText: "Je n’ai pas reçu le support de la séance." }).waitFor({ timeout: UI_WAIT_MS });
  assert((await stays.page.locator('button[data-action="join"]').count()) === 0, "an ended session should offer no « Rejoindre »");
});
