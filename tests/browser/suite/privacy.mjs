// Privacy of a removal: the removed person reads who removed them and why,
// and can still download their own attendance record; the others read who
// was removed and by whom, never why. Then a suspension whose reason names
// someone: the sponsor's report states it with its times only.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { fetchLink, joinFromLobby, textOf, waitConnected } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { openThree } from "../lib/steps.mjs";

test("a removal: the removed person sees who and why and keeps their record; the others see who, not why; the sponsor's report states a suspension without its reason", async (stage) => {
  const session = await stage.session();
  const { facilitator, sophie } = session;
  const room = await openThree(stage, session);
  const [fac, stays, removed] = room;
  await Promise.all(room.map(joinFromLobby));
  await Promise.all(room.map(waitConnected));

  const reason = "Propos irrespectueux répétés envers un autre participant.";
  await fac.page.click('button[data-action="presence"]');
  await fac.page.click(`#presence-panel li[data-person="${sophie.id}"] button[data-action="control-remove"]`);
  const dialog = fac.page.locator('dialog[data-dialog="remove"]');
  await dialog.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  const body = await textOf(fac.page, 'dialog[data-dialog="remove"]');
  assert(body.includes("sans la raison"), `the dialog should say the others will not read the reason: « ${body} »`);
  await dialog.locator("#control-reason").fill(reason);
  await dialog.locator('button[data-action="control-confirm"]').click();

  // The removed person: who (the facilitator by name), when, why.
  await removed.page.locator('[data-screen="removed"]').waitFor({ timeout: UI_WAIT_MS });
  const why = await textOf(removed.page, '[data-field="final-reason"]');
  assert(new RegExp(`^${facilitator.name} vous a retiré·e de la séance à \\d\\d:\\d\\d : ${reason.replace(/[.]/g, "\\.")}$`).test(why),
    `the removed person should read who, when and why: « ${why} »`);
  const screen = await textOf(removed.page, '[data-screen="removed"]');
  assert(!/l’organisme vous a|par l’organisme/.test(screen), `the screen should not say the organisation removed them: « ${screen} »`);
  // Their record, with their link, under a name they recognise.
  const link = removed.page.locator('[data-screen="removed"] a[data-action="download-proof-pdf"]');
  assert(await link.isVisible(), "the removed person's record should be offered");
  const { body: pdf, headers } = await fetchLink(removed.page, link, { type: "application/pdf" });
  assert(pdf.subarray(0, 5).toString() === "%PDF-", "the record should be a PDF");
  assert(/filename="releve-presence-[a-z0-9-]+-\d{4}-\d\d-\d\d\.pdf"/.test(headers["content-disposition"] ?? ""),
    `the record's file name: « ${headers["content-disposition"]} »`);
  assert(!(await removed.page.locator('[data-screen="removed"] a[data-action="download-sheet-pdf"]').count()),
    "no sheet on the removal screen");
  await removed.page.screenshot({ path: join(ARTIFACTS, "privacy-removed.png"), fullPage: true });
  // A reload lands on the same screen, not on « revoked by the organisation ».
  await removed.page.reload();
  await removed.page.locator('[data-screen="removed"] a[data-action="download-proof-pdf"]').waitFor({ timeout: UI_WAIT_MS });
  const again = await textOf(removed.page, '[data-field="final-reason"]');
  assert(again === why, `after a reload, the same words: « ${again} »`);

  // Another participant: who and by whom, not why.
  const toast = stays.page.locator(".toast", { hasText: `${sophie.name} a été retiré·e de la séance par ${facilitator.name}` });
  await toast.waitFor({ timeout: UI_WAIT_MS });
  const told = (await toast.innerText()).trim();
  assert(/ à \d\d:\d\d\.$/.test(told), `the toast should end with the time: « ${told} »`);
  const page = await stays.page.evaluate(() => document.body.innerText);
  assert(!page.includes("irrespectueux"), "the reason should appear nowhere on another participant's page");
  await stays.page.screenshot({ path: join(ARTIFACTS, "privacy-other.png") });

  // A suspension whose reason names someone, then the resumption.
  await fac.page.click('button[data-action="session"]');
  const panel = fac.page.locator("#session-panel");
  for (const [action, why] of [["suspend", "Coupure réseau chez Karim"], ["resume", "Réseau rétabli"]]) {
    await panel.locator(`button[data-action="control-${action}"]`).click();
    const asked = fac.page.locator(`dialog[data-dialog="${action}"]`);
    await asked.waitFor({ state: "visible", timeout: UI_WAIT_MS });
    await asked.locator("#control-reason").fill(why);
    await asked.locator('button[data-action="control-confirm"]').click();
    await asked.waitFor({ state: "detached", timeout: UI_WAIT_MS });
    await stays.page.locator(`[data-field="session-state"][data-action="${action}"]`).waitFor({ timeout: UI_WAIT_MS });
  }

  // The sponsor's report: when, not why, and no one's name.
  const { url, organiserToken } = stage.server;
  const created = await fetch(`${url}/api/sessions/${session.id}/sponsor-link`, {
    method: "POST",
    headers: { authorization: `Bearer ${organiserToken}` },
  });
  assert(created.ok, `POST sponsor-link answered HTTP ${created.status}`);
  const sponsor = await (await stage.context({ locale: "fr-FR" })).newPage();
  await sponsor.goto((await created.json()).url);
  const course = await textOf(sponsor, '[data-field="course"]');
  assert(/séance suspendue \d\d:\d\d – \d\d:\d\d/.test(course), `the report should state the suspension with its times: « ${course} »`);
  const report = await sponsor.evaluate(() => document.body.innerText);
  for (const secret of ["Coupure", "Karim", "rétabli", "irrespectueux", sophie.name, facilitator.name]) {
    assert(!report.includes(secret), `the sponsor's report should not show « ${secret} »`);
  }
  await sponsor.locator('[data-field="course"]').screenshot({ path: join(ARTIFACTS, "privacy-sponsor-course.png") });
});
