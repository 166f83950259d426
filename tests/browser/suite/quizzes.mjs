// A quiz answered by three pages: the facilitator writes and launches it,
// each participant answers (no right answer shown while it is open), the
// facilitator sees everyone's score as they come, and at the close each
// participant sees their own score and the right answers. And an
// appreciation questionnaire: invited at the session's end, put off with
// « Plus tard », found again with the link, answered once.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { organiser } from "../lib/server.mjs";
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
 * `person` answers, `single` for the first question, `several` for the
 * second, from the toast that announced the quiz or (`fromPanel`) from the
 * chat panel: by the time the next person answers, on a loaded machine, the
 * toast may have gone by itself, as it does for someone who looks away.
 * @param {Person} person @param {number} single @param {number[]} several @param {boolean} [fromPanel]
 */
async function answer(person, single, several, fromPanel = false) {
  const page = person.page;
  if (fromPanel) await openPanel(person, "chat");
  else await page.click('.toast button[data-action="quiz-open"]', { timeout: UI_WAIT_MS });
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
  await answer(sophie, 1, [0, 2], true);
  await answer(lucas, 2, [1], true);

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

test("an appreciation questionnaire: invited at the end, put off, found again with the link and answered once", async (stage) => {
  const session = await stage.session();
  const questionnaire = await organiser(stage.server, "POST", "/api/questionnaires", {
    title: "Votre avis sur la séance",
    questions: [
      { text: "Satisfaction générale", kind: "scale" },
      { text: "Le rythme était", kind: "choice", choices: ["trop lent", "adapté", "trop rapide"] },
      { text: "Une remarque ?", kind: "text" },
    ],
  });
  await organiser(stage.server, "POST", `/api/questionnaires/${questionnaire.id}/uses`, { target: session.id, at: "session_end" });
  const room = await Promise.all([
    stage.join(session.facilitator, "facilitator"),
    stage.join(session.karim, "participant 1"),
  ]);
  await joinTogether(room);
  const [fac, karim] = room;
  await fac.page.click('button[data-action="session"]');
  await fac.page.click('#session-panel button[data-action="control-end"]');
  const end = fac.page.locator('dialog[data-dialog="end"]');
  await end.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await end.locator("#control-reason").fill("Programme de la journée terminé.");
  await end.locator('button[data-action="control-confirm"]').click();

  // Invited, never forced: « Plus tard » puts it away; the link finds it again.
  const invitation = karim.page.locator('[data-screen="session-ended"] [data-field="invitations"]');
  await invitation.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await karim.page.screenshot({ path: join(ARTIFACTS, "questionnaire-invitation.png") });
  await karim.page.click('button[data-action="questionnaire-later"]');
  await invitation.waitFor({ state: "hidden", timeout: UI_WAIT_MS });
  await karim.page.reload();
  await invitation.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await karim.page.click('a[data-action="questionnaire-answer"]');
  await karim.page.locator('[data-screen="questionnaire"]').waitFor({ timeout: UI_WAIT_MS });
  await karim.page.check('[data-question="0"] input[data-choice="4"]');
  await karim.page.check('[data-question="1"] input[data-choice="1"]');
  await karim.page.fill('textarea[data-question="2"]', "Très bon rythme, merci");
  await karim.page.screenshot({ path: join(ARTIFACTS, "questionnaire-form.png") });
  await karim.page.click('button[data-action="questionnaire-send"]');
  await karim.page.locator('[data-field="questionnaire-done"]', { hasText: "sans votre nom" }).waitFor({ timeout: UI_WAIT_MS });
  // Once only: the link says so, and the session's page no longer invites.
  await karim.page.reload();
  await karim.page.locator('[data-field="questionnaire-done"]', { hasText: "déjà reçu votre réponse" }).waitFor({ timeout: UI_WAIT_MS });
  await karim.page.goto(session.karim.link.url);
  await karim.page.locator('[data-screen="session-ended"]').waitFor({ timeout: UI_WAIT_MS });
  assert.equal(await invitation.isVisible(), false, "an answered questionnaire is not offered again");

  // One answer: the organisation sees nothing but the count.
  const results = await organiser(stage.server, "GET", `/api/questionnaires/${questionnaire.id}/results?scope=${session.id}`);
  assert.equal(results.answers, 1);
  assert.match(results.withheld, /fewer than 3/);
  assert.deepEqual(results.questions, []);
});
