// A quiz answered by three pages: the facilitator writes and launches it,
// each participant answers (no right answer shown while it is open), the
// facilitator sees everyone's score as they come, and at the close each
// participant sees their own score and the right answers.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { joinTogether } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { openPanel } from "../lib/steps.mjs";

/** @typedef {import("../lib/pages.mjs").Person} Person */

const QUESTIONS = [
  "Quel outil sert à planifier un sprint ?",
  "*Le backlog",
  "Le burndown",
  "La rétrospective",
  "",
  "Quels rôles compte Scrum ?",
  "*Product owner",
  "Chef de projet",
  "*Scrum master",
].join("\n");

/**
 * `person` answers from the toast: `single` for the first question, `several` for the second.
 * @param {Person} person @param {number} single @param {number[]} several
 */
async function answer(person, single, several) {
  const page = person.page;
  await page.click('.toast button[data-action="quiz-open"]', { timeout: UI_WAIT_MS });
  await page.check(`[data-field="quiz"] [data-question="0"] input[data-choice="${single}"]`, { timeout: UI_WAIT_MS });
  for (const choice of several) await page.check(`[data-field="quiz"] [data-question="1"] input[data-choice="${choice}"]`);
  await page.click('button[data-action="quiz-submit"]');
  await page.locator('[data-field="quiz-status"]', { hasText: "Réponses envoyées" }).waitFor({ timeout: UI_WAIT_MS });
}

test("a quiz answered by three pages: each sees their own score at the close, the facilitator everyone's", async (stage) => {
  const session = await stage.session();
  const room = await Promise.all([
    stage.join(session.facilitator, "facilitator"),
    stage.join(session.karim, "participant 1"),
    stage.join(session.sophie, "participant 2"),
    stage.join(session.lucas, "participant 3"),
  ]);
  await joinTogether(room);
  const [fac, karim, sophie, lucas] = room;
  await openPanel(fac, "chat");
  await fac.page.click('details:has([data-field="quiz-title"]) summary');
  await fac.page.fill('[data-field="quiz-title"]', "Module 2 — vérification");
  await fac.page.fill('[data-field="quiz-questions"]', QUESTIONS);
  await fac.page.click('button[data-action="quiz-launch"]');

  await answer(karim, 0, [0, 2]);
  // No right answer on a participant's page while the quiz is open.
  assert.equal(await karim.page.locator('[data-field="quiz-right"]').count(), 0, "right answers shown before the close");
  await answer(sophie, 1, [0, 2]);
  await answer(lucas, 2, [1]);

  await fac.page.locator('[data-field="quiz-submitted"]', { hasText: "3 personne" }).waitFor({ timeout: UI_WAIT_MS });
  const scores = await fac.page.$$eval('[data-field="quiz-score"]', (els) => els.map((e) => e.textContent));
  assert.deepEqual(scores, ["2/2", "1/2", "0/2"]);
  await fac.page.locator('[data-field="quiz-results"]').scrollIntoViewIfNeeded();
  await fac.page.screenshot({ path: join(ARTIFACTS, "quiz-facilitator.png") });
  await fac.page.click('button[data-action="quiz-close"]');

  for (const [person, score] of [[karim, "2/2"], [sophie, "1/2"], [lucas, "0/2"]]) {
    await person.page.locator('[data-field="quiz-status"]', { hasText: `Votre score : ${score}` }).waitFor({ timeout: UI_WAIT_MS });
  }
  assert.equal(await sophie.page.locator('[data-field="quiz-right"]').count(), 3, "the right answers at the close");
  assert.equal(await sophie.page.locator('[data-field="quiz-results"]').count(), 0, "a participant sees nobody else's score");
  await sophie.page.screenshot({ path: join(ARTIFACTS, "quiz-closed.png") });
});
