// Attendance in the call: the half-day sign-in and its countersignature,
// « Mes traces », a participant's documents (« Mes documents »), the
// facilitator's console and sheets, and a sign-in prompt that stays dismissed.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import {
  checkTreeHead, drawSignature, fetchLink, joinFromLobby, joinTogether, setTabHidden, storedReceipts, textOf, waitConnected,
} from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { verifyFile } from "../lib/server.mjs";
import { clickControl, openPanel, openThree, signedParticipant } from "../lib/steps.mjs";

test("a participant signs in with a drawn signature, the facilitator countersigns, a receipt is kept", async (stage) => {
  const session = await stage.session();
  const sid = session.id;
  const inCall = await openThree(stage, session);
  await joinTogether(inCall);
  const [fac, signer, other] = inCall;

  // The window is open: the prompt shows by itself, beside the call.
  const panel = signer.page.locator("#signin-panel");
  await panel.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  const title = await textOf(signer.page, "#signin-panel-title");
  assert(/^Émargement — (matinée|après-midi) du \S+ \d{1,2} \S+$/.test(title),
    `the prompt should name the half-day, got « ${title} »`);
  assert(await signer.page.locator(".grid video").first().isVisible(), "the call should stay visible beside the prompt");
  await signer.page.screenshot({ path: join(ARTIFACTS, "participant-signin.png") });

  // Draw, clear, draw again, confirm.
  const clear = signer.page.locator('[data-action="signin-clear"]');
  assert(await clear.isDisabled(), "« Effacer » should be disabled on an empty pad");
  await drawSignature(signer.page);
  assert(await clear.isEnabled(), "« Effacer » should be enabled once something is drawn");
  await clear.click();
  assert(await clear.isDisabled(), "« Effacer » should empty the pad");
  await drawSignature(signer.page);
  await signer.page.click('[data-action="signin-confirm"]');
  const done = signer.page.locator('[data-field="signin-status"]', { hasText: /Présence confirmée à \d\d:\d\d/ });
  await done.waitFor({ timeout: UI_WAIT_MS });
  assert((await done.getAttribute("role")) === "status", "the confirmation should be announced (role=status)");
  const waiting = await textOf(signer.page, '[data-field="countersign-status"]');
  assert(/en attente/.test(waiting), `the countersignature should be pending, got « ${waiting} »`);

  const receipts = await storedReceipts(signer, sid);
  assert(receipts.length === 1 && receipts[0].kind === "signin", `one sign-in receipt should be kept, got ${JSON.stringify(receipts)}`);
  checkTreeHead(receipts[0].tree_head, sid);
  // « Télécharger mes reçus » gives them as one JSON file.
  const [download] = await Promise.all([
    signer.page.waitForEvent("download", { timeout: UI_WAIT_MS }),
    signer.page.click('#signin-panel [data-action="download-receipts"]'),
  ]);
  const file = JSON.parse(readFileSync(await download.path(), "utf8"));
  assert(file.typ === "cadre.receipts" && file.session?.id === sid && file.receipts?.length === 1
    && file.tree_head === receipts[0].tree_head, `the downloaded file should hold the receipt: ${JSON.stringify(file).slice(0, 300)}`);

  // The facilitator's console shows it, and the facilitator signs with the keyboard only.
  await fac.page.click('button[data-action="presence"]');
  const row = fac.page.locator(`#presence-panel li[data-person="${signer.id}"]`);
  await fac.page.locator(`#presence-panel li[data-person="${signer.id}"][data-signed="true"]`).waitFor({ timeout: UI_WAIT_MS });
  assert(/signé à \d\d:\d\d/.test(await row.innerText()), `the console should say « signé à HH:MM »: ${await row.innerText()}`);
  const otherRow = await fac.page.locator(`#presence-panel li[data-person="${other.id}"]`).innerText();
  assert(/en attente/.test(otherRow), `someone who has not signed should read « en attente »: ${otherRow}`);
  await fac.page.focus('[data-action="signin-confirm"]');
  await fac.page.keyboard.press("Enter");
  await fac.page.locator('[data-field="signin-status"]', { hasText: /Présence confirmée/ }).waitFor({ timeout: UI_WAIT_MS });
  const focused = await fac.page.evaluate(() => document.activeElement?.id);
  assert(focused === "signin-panel-title", `after signing with the keyboard, focus should stay in the panel, is on ${focused}`);
  await fac.page.waitForTimeout(300);
  await fac.page.screenshot({ path: join(ARTIFACTS, "facilitator-console.png") });

  await row.locator('button[data-action="countersign"]').click();
  await fac.page.locator(`#presence-panel li[data-person="${signer.id}"][data-countersigned="true"]`).waitFor({ timeout: UI_WAIT_MS });
  await signer.page.locator('[data-field="countersign-status"][data-state="countersigned"]', { hasText: /contresigné/ })
    .waitFor({ timeout: UI_WAIT_MS });
  assert(await fac.page.locator('[data-action="countersign-all"]').isHidden(),
    "« Contresigner tous les émargements » should go away once everyone is countersigned");
});

test("« Mes traces » lists the connection, the sign-in and the countersignature, and records a hidden tab", async (stage) => {
  // Signed and countersigned: the sign-in panel went; the traces take its place.
  const { person } = await signedParticipant(stage, await stage.session());
  const page = person.page;
  await clickControl(person, "traces");
  const traces = page.locator("#traces-panel");
  await traces.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  const intro = await traces.innerText();
  assert(/Rien d’autre n’est enregistré/.test(intro), "the panel should say that nothing else is recorded");
  const connection = page.locator('#traces-panel li[data-kind="connection_opened"]').first();
  await connection.waitFor({ timeout: UI_WAIT_MS });
  const line = await connection.innerText();
  assert(/^\d\d:\d\d:\d\d — connexion \(Chrome, 127\.0\.0\.1\)$/.test(line), `expected « HH:MM:SS — connexion (Chrome, 127.0.0.1) », got « ${line} »`);
  const signed = await textOf(page, '#traces-panel li[data-kind="signed_in"]');
  assert(/émargement (matinée|après-midi) \(avec signature\)/.test(signed), `the sign-in should be listed, got « ${signed} »`);
  const counter = await textOf(page, '#traces-panel li[data-kind="countersigned"]');
  assert(/contresigné par l’accompagnant·e/.test(counter), `the countersignature should be listed, got « ${counter} »`);

  // Hiding the tab is recorded (after the ~1 s debounce) and shows up live.
  const hidden = page.locator('#traces-panel li[data-kind="visibility"]', { hasText: "onglet masqué" });
  assert((await hidden.count()) === 0, "nothing should say the tab was hidden yet");
  await setTabHidden(page, true);
  await hidden.waitFor({ timeout: UI_WAIT_MS });
  await setTabHidden(page, false);
  await page.waitForFunction(() => {
    const items = [...document.querySelectorAll('#traces-panel li[data-kind="visibility"]')];
    return items.length >= 2 && /onglet visible/.test(items[items.length - 1].textContent ?? "");
  }, null, { timeout: UI_WAIT_MS });
  await page.screenshot({ path: join(ARTIFACTS, "participant-traces.png") });
});

test("a participant downloads their attendance record (PDF), signed proof (.jws) and a verification bundle that cadre verify accepts from « Mes documents », and gets no sheet", async (stage) => {
  const session = await stage.session();
  const sid = session.id;
  // Signed and countersigned, « Mes documents » open.
  const { person } = await signedParticipant(stage, session);
  const page = person.page;
  await openPanel(person, "documents");

  const section = page.locator('#documents-panel [data-field="my-documents"]');
  await section.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  const pdfLink = section.locator('a[data-action="download-proof-pdf"]');
  assert((await pdfLink.innerText()).trim() === "Relevé de présence de cette séance (PDF)",
    `the PDF link should read « Relevé de présence de cette séance (PDF) », got « ${await pdfLink.innerText()} »`);
  const pdf = await fetchLink(page, pdfLink, { type: "application/pdf" });
  assert(pdf.href.startsWith(`/api/sessions/${sid}/proofs/${person.id}/pdf?token=`) && pdf.href.endsWith("&lang=fr"),
    `the PDF link should be the person's own, in French: ${pdf.href.slice(0, 80)}…`);
  assert(pdf.body.subarray(0, 5).toString() === "%PDF-", "the certificate should be a PDF file");

  // The signed file alone sits in the technical details, closed at first.
  await section.locator('[data-field="verify-details"] summary').click();
  const jwsLink = section.locator('a[data-action="download-proof-jws"]');
  assert((await jwsLink.innerText()).trim() === "Fichier signé seul (.jws)",
    `the .jws link should read « Fichier signé seul (.jws) », got « ${await jwsLink.innerText()} »`);
  const jws = await fetchLink(page, jwsLink, { type: "application/jose" });
  const parts = jws.body.toString("utf8").trim().split(".");
  assert(parts.length === 3, "the signed proof should be a compact JWS");
  const proof = JSON.parse(Buffer.from(parts[1], "base64url").toString());
  assert(proof.typ === "cadre.attendance-proof" && proof.person?.id === person.id,
    `the proof should be this person's: ${JSON.stringify({ typ: proof.typ, person: proof.person })}`);

  // « Dossier de vérification »: the proof, the sign-in receipt and the consistency proof linking
  // them, in one file that the real verifier accepts.
  const [bundleDownload] = await Promise.all([
    page.waitForEvent("download", { timeout: UI_WAIT_MS }),
    section.locator('button[data-action="download-verification"]').click(),
  ]);
  const bundlePath = await bundleDownload.path();
  const bundle = JSON.parse(readFileSync(bundlePath, "utf8"));
  assert(bundle.typ === "cadre.verification-bundle" && bundle.receipts?.length >= 1 && bundle.consistency?.length >= 1,
    `the bundle should hold the proof, the receipt and a consistency proof: ${JSON.stringify(bundle).slice(0, 300)}`);
  const verified = verifyFile(stage.server, bundlePath);
  assert(verified.status === 0 && /✓ receipt 1: the log of \d+ entries the proof was drawn from extends the receipt's \d+ entries/.test(verified.stdout),
    `cadre verify should accept the bundle (exit ${verified.status}): ${verified.stdout}${verified.stderr}`);
  assert(await page.locator('[data-field="bundle-error"]').isHidden(), "no error should show after a good bundle");

  await section.scrollIntoViewIfNeeded();
  await section.screenshot({ path: join(ARTIFACTS, "participant-documents.png") });
  const hint = await textOf(page, '#documents-panel [data-field="verify-hint"]');
  assert(/cadre verify/.test(hint) && /\/\.well-known\/jwks\.json/.test(hint),
    `the panel should say how to check the file (cadre verify, the public key): « ${hint} »`);

  // A click downloads it for real, named by the server.
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: UI_WAIT_MS }), pdfLink.click()]);
  assert(/^Relevé de présence - .+ - \d{4}-\d\d-\d\d\.pdf$/.test(download.suggestedFilename()),
    `the download should be named for the person, is ${download.suggestedFilename()}`);

  // The document's language follows the page's.
  await page.selectOption("#lang-select", "en");
  await section.locator('a[data-action="download-proof-pdf"]', { hasText: "Attendance record of this session (PDF)" }).waitFor({ timeout: UI_WAIT_MS });
  assert((await pdfLink.getAttribute("href"))?.endsWith("&lang=en"), "in English, the certificate should be asked for in English");
  await page.selectOption("#lang-select", "fr");
  await section.locator('a[data-action="download-proof-pdf"]', { hasText: "Relevé de présence de cette séance (PDF)" }).waitFor({ timeout: UI_WAIT_MS });

  // The session's sheets are for facilitators only.
  assert((await page.locator('a[href*="/attendance."]').count()) === 0, "a participant's page should have no attendance sheet link");
  assert((await page.locator("#presence-panel").count()) === 0, "a participant should have no presence console");
  assert((await page.locator('a[data-action="download-proof"]').count()) === 0, "a participant should see no one else's certificate link");
});

test("the facilitator's console lists the absent too, and gives the sheets (PDF, CSV) and each person's certificate", async (stage) => {
  const session = await stage.session();
  const { karim, lucas, people, participants } = session;
  const fac = await stage.join(session.facilitator, "facilitator");
  const karimPage = await stage.join(karim, "participant 1");
  await joinTogether([fac, karimPage]);
  const page = fac.page;
  await openPanel(fac, "presence");
  const panel = page.locator("#presence-panel");
  // The sheets are in « Mes documents » (documents.js).
  await openPanel(fac, "documents");
  const documentsPanel = page.locator("#documents-panel");

  // Lucas never joined this call: listed anyway, as absent, from the welcome's people.
  const absent = panel.locator(`li[data-person="${lucas.id}"]`);
  await absent.waitFor({ timeout: UI_WAIT_MS });
  const absentText = await absent.innerText();
  assert(absentText.includes(lucas.name) && /absent·e/.test(absentText),
    `someone who never joined should be listed as « absent·e »: « ${absentText} »`);
  assert((await absent.getAttribute("data-presence")) === "absent", "the absent row should say so");
  const online = await panel.locator(`li[data-person="${karim.id}"]`).getAttribute("data-presence");
  assert(online === "online", `someone in the call should be « online », is ${online}`);
  const rows = await panel.locator("li[data-person]").count();
  assert(rows === people.length, `the console should list all ${people.length} people, lists ${rows}`);

  const csvLink = documentsPanel.locator('a[data-action="download-sheet-csv"]');
  assert((await csvLink.innerText()).trim() === "Feuille d’émargement (CSV)", `the CSV link reads « ${await csvLink.innerText()} »`);
  const csv = await fetchLink(page, csvLink, { type: "text/csv" });
  const text = csv.body.toString("utf8");
  for (const p of participants) assert(text.includes(p.name), `the CSV sheet should name ${p.name}: ${text.slice(0, 300)}`);

  const pdfLink = documentsPanel.locator('a[data-action="download-sheet-pdf"]');
  assert((await pdfLink.innerText()).trim() === "Feuille d’émargement (PDF)", `the PDF link reads « ${await pdfLink.innerText()} »`);
  const sheet = await fetchLink(page, pdfLink, { type: "application/pdf" });
  assert(sheet.href.endsWith("&lang=fr") && sheet.body.subarray(0, 5).toString() === "%PDF-", "the sheet should be a French PDF");

  // Each person's certificate, the absent's too.
  const proofLink = absent.locator('a[data-action="download-proof"]');
  assert((await proofLink.getAttribute("aria-label")) === `Relevé de présence de ${lucas.name} (PDF)`,
    `the certificate link should name the person for screen readers: ${await proofLink.getAttribute("aria-label")}`);
  const proof = await fetchLink(page, proofLink, { type: "application/pdf" });
  assert(proof.href.startsWith(`/api/sessions/${session.id}/proofs/${lucas.id}/pdf?`), `the link should be Lucas's certificate: ${proof.href.slice(0, 80)}`);
  await panel.screenshot({ path: join(ARTIFACTS, "facilitator-documents.png") });
});

test("a dismissed sign-in prompt does not pop up again, but stays reachable", async (stage) => {
  const { lucas } = await stage.session();
  const person = await stage.join(lucas, "participant 3");
  await joinFromLobby(person);
  const panel = person.page.locator("#signin-panel");
  await panel.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await panel.locator('[data-action="panel-close"]').click();
  assert(await panel.isHidden(), "closing the prompt should hide it");
  const control = person.page.locator('button[data-action="signin"]');
  assert((await control.getAttribute("aria-expanded")) === "false", "the « Émargement » control should say the panel is closed");
  // Focus went back to the control.
  assert(await control.evaluate((el) => el === document.activeElement), "focus should return to the « Émargement » control");

  await person.page.reload();
  await joinFromLobby(person);
  await waitConnected(person);
  await control.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await person.page.waitForTimeout(1500);
  assert(await panel.isHidden(), "the prompt should not pop up again for the same half-day");
  assert(await control.locator(".control-dot").isVisible(), "the control should show that the sign-in is still to do");
  await control.click();
  await panel.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  assert(await person.page.locator('[data-action="signin-confirm"]').isEnabled(), "the sign-in should still be possible");
});
