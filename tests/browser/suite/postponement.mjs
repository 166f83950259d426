// Attendance and postponement, in one session with two pages (the
// facilitator in French, Karim in English): the state badge says the session
// runs; a suspension puts a notice on every tile (what, since when, what to
// expect) and only the facilitator's voice still goes out; a postponement to
// a few seconds later the same day opens the session again for both pages,
// live, without a reload.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, MEDIA_WAIT_MS, UI_WAIT_MS } from "../lib/config.mjs";
import { expectFullMesh, joinFromLobby, textOf } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";

/** "2026-12-03T09:00:05" for an instant in a time zone, to the second. @param {Date} date @param {string} zone */
function zoneLocal(date, zone) {
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  }).formatToParts(date).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

test("postponement: the badge says the session runs; tiles show a notice while suspended, the facilitator alone keeps a voice; a same-day postponement reopens live on both pages", async (stage) => {
  const session = await stage.session();
  const fac = await stage.join(session.facilitator, "facilitator");
  // An explicit language choice: Karim reads English.
  const karim = await stage.open(`participant 1 (${session.karim.name})`, `${session.karim.link.url}?lang=en`, { id: session.karim.id });
  const both = [fac, karim];
  await Promise.all(both.map(joinFromLobby));
  await expectFullMesh(both);
  const badge = '[data-field="session-state-badge"]';
  const words = { fr: { running: "En cours", suspended: "Suspendue", postponed: "Reportée" }, en: { running: "In progress", suspended: "Suspended", postponed: "Postponed" } };
  /** Each page's badge reads its state in its language. @param {"running" | "suspended" | "postponed"} state */
  const badges = (state) => Promise.all([[fac, words.fr[state]], [karim, words.en[state]]].map(async ([person, text]) => {
    await person.page.locator(`${badge}[data-state="${state}"]`).waitFor({ timeout: UI_WAIT_MS });
    const shown = await textOf(person.page, badge);
    assert.equal(shown, text, `${person.name}'s badge should read « ${text} »`);
  }));
  await badges("running");

  const senders = (person) => person.page.evaluate(async () => (await /** @type {any} */ (window).cadre.outboundVideo()).senders);
  const panel = fac.page.locator("#session-panel");
  /** The facilitator decides `action` with `reason` (and dates) in the dialog. */
  const decide = async (action, reason, dates) => {
    if (!(await panel.isVisible())) await fac.page.click('button[data-action="session"]');
    await panel.locator(`button[data-action="control-${action}"]`).click();
    const dialog = fac.page.locator(`dialog[data-dialog="${action}"]`);
    await dialog.waitFor({ state: "visible", timeout: UI_WAIT_MS });
    await dialog.locator("#control-reason").fill(reason);
    if (dates) {
      // The fields take minutes; the test moves the session by seconds (to
      // keep the run short), so they take seconds here.
      await dialog.evaluate((d) => d.querySelectorAll('input[type="datetime-local"]').forEach((i) => { /** @type {HTMLInputElement} */ (i).step = "1"; }));
      await dialog.locator("#control-start").fill(dates.start);
      await dialog.locator("#control-end").fill(dates.end);
    }
    await dialog.locator('button[data-action="control-confirm"]').click();
    await dialog.waitFor({ state: "detached", timeout: UI_WAIT_MS }).catch(async (e) => {
      const values = dates ? await dialog.evaluate((d) => [.../** @type {HTMLDialogElement} */ (d).querySelectorAll("input")].map((i) => i.value)) : [];
      throw new Error(`the ${action} dialog stayed open: « ${(await dialog.innerText()).replace(/\s+/g, " ")} » ${JSON.stringify(values)} ${fac.log.join(" | ")} (${e.message.split("\n")[0]})`);
    });
  };
  const notices = (person) => person.page.locator('[data-field="tile-notice"]:visible');

  // Suspended: every tile of both pages says what, since when, what to expect.
  await decide("suspend", "Coupure réseau : nous reprenons dans quelques minutes.");
  await badges("suspended");
  for (const [person, heading, since, expect] of [
    [fac, "Séance suspendue", /^Depuis \d\d:\d\d, décision de Claire Martin\.$/, /seul·e l’accompagnant·e garde son micro pour expliquer/],
    [karim, "Session suspended", /^Since \d\d:\d\d, decided by Claire Martin\.$/, /only the facilitator keeps their microphone, to explain/],
  ]) {
    await person.page.waitForFunction(() => document.querySelectorAll('.tile[data-notice] [data-field="tile-notice"]').length === 2, null, { timeout: UI_WAIT_MS });
    const texts = await notices(person).allInnerTexts();
    assert.equal(texts.length, 2, `${person.name}: both tiles should show the notice, ${JSON.stringify(texts)}`);
    for (const text of texts) {
      const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
      assert.equal(lines[0], heading, `${person.name}'s tile notice: ${JSON.stringify(lines)}`);
      assert.match(lines[1], since);
      assert.match(lines[2], expect);
    }
    const frozen = await person.page.locator(".tile[data-notice] video:visible").count();
    assert.equal(frozen, 0, `${person.name}: no picture is shown under the notice`);
  }
  // Only the facilitator's microphone still goes out.
  await fac.page.waitForFunction(async () => {
    const s = (await /** @type {any} */ (window).cadre.outboundVideo()).senders;
    return s.some((x) => x.kind === "audio") && s.every((x) => !x.track || x.kind === "audio");
  }, null, { timeout: UI_WAIT_MS, polling: 200 });
  await karim.page.waitForFunction(async () => (await /** @type {any} */ (window).cadre.outboundVideo()).senders.every((x) => !x.track),
    null, { timeout: UI_WAIT_MS, polling: 200 });
  assert(await fac.page.locator('[data-field="suspended-note"]', { hasText: "votre micro reste ouvert" }).isVisible(),
    "the facilitator is told their microphone stays on");
  await fac.page.screenshot({ path: join(ARTIFACTS, "postponement-suspended-facilitator.png") });
  await karim.page.screenshot({ path: join(ARTIFACTS, "postponement-suspended-participant-en.png") });

  // Resumed: the notices go, pictures come back.
  await decide("resume", "Le réseau est revenu.");
  await badges("running");
  for (const person of both) {
    await person.page.waitForFunction(() => document.querySelectorAll(".tile[data-notice]").length === 0, null, { timeout: UI_WAIT_MS });
  }
  assert((await senders(karim)).some((x) => x.track && x.kind === "video"), "Karim sends video again");

  // Postponed to a few seconds from now, the same day: both pages wait in
  // it, then open by themselves when the new window starts.
  const zone = "Europe/Paris";
  const start = new Date(Date.now() + 8_000);
  const end = new Date(start.getTime() + 3_600_000);
  await decide("postpone", "Reprise un peu plus tard.", { start: zoneLocal(start, zone), end: zoneLocal(end, zone) });
  await badges("postponed");
  const postponed = (await notices(karim).first().innerText()).split("\n").map((l) => l.trim()).filter(Boolean);
  assert.equal(postponed[0], "Session postponed", JSON.stringify(postponed));
  assert.match(postponed[1], /^Postponed at \d\d:\d\d by Claire Martin\.$/);
  assert.match(postponed[2], /^New dates: /);
  assert.match(postponed[3], /the session will open here by itself at the new time/);
  await karim.page.screenshot({ path: join(ARTIFACTS, "postponement-postponed-participant-en.png") });
  await fac.page.screenshot({ path: join(ARTIFACTS, "postponement-postponed-facilitator.png") });
  const urls = both.map((p) => p.page.url());

  await badges("running");
  for (const person of both) {
    await person.page.waitForFunction(() => document.querySelectorAll(".tile[data-notice]").length === 0, null, { timeout: UI_WAIT_MS });
    // Media resumes: the remote picture plays again.
    await person.page.waitForFunction(async () => {
      const s = (await /** @type {any} */ (window).cadre.outboundVideo()).senders;
      return s.some((x) => x.track && x.kind === "video");
    }, null, { timeout: UI_WAIT_MS, polling: 200 });
    const t0 = await person.page.evaluate(() => [...document.querySelectorAll("video[data-peer-id]")].map((v) => v.currentTime));
    await person.page.waitForFunction((before) => {
      const now = [...document.querySelectorAll("video[data-peer-id]")].map((v) => ({ t: v.currentTime, w: v.videoWidth }));
      return now.length === 1 && now.every((v, i) => v.w > 0 && v.t > before[i]);
    }, t0, { timeout: MEDIA_WAIT_MS, polling: 250 });
  }
  assert.deepEqual(both.map((p) => p.page.url()), urls, "no page was reloaded");
  const opened = await textOf(karim.page, badge);
  assert.equal(opened, "In progress");
  await karim.page.screenshot({ path: join(ARTIFACTS, "postponement-reopened-participant-en.png") });
});
