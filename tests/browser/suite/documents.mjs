// What people see: the root page, the language choice kept
// across reloads, the lobby's evidence notice (before « Rejoindre » on a
// phone), « Mes documents », « Mes traces » in plain words for every kind
// of entry, the drawn signature the facilitator countersigns and their own
// signed line, and the facilitator told of a new difficulty report.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { drawSignature, fetchLink, joinTogether, textOf } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { openPanel } from "../lib/steps.mjs";

/** Every kind of ledger entry, as the protocol crate lists them. */
function ledgerKinds() {
  const source = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), "../../../protocol/src/evidence.rs"), "utf8");
  const module = source.slice(source.indexOf("pub mod kind {"), source.indexOf("pub mod consent {"));
  const kinds = [...module.matchAll(/pub const \w+: &str = "(\w+)";/g)].map((m) => m[1]);
  assert(kinds.length >= 20, `the protocol should list the ledger kinds, found ${kinds.join(", ")}`);
  return kinds;
}

test("the root page explains how to join; the language choice is remembered; the lobby notice names what is recorded, before « Rejoindre » on a phone", async (stage) => {
  const session = await stage.session();
  // A browser that prefers English still gets the organisation's default (French).
  const visitor = await stage.open("visitor", `${stage.server.url}/`, { locale: "en-GB" });
  const page = visitor.page;
  await page.locator('[data-screen="welcome"]').waitFor({ timeout: UI_WAIT_MS });
  assert((await textOf(page, "#welcome-title")) === "Rejoindre une séance à distance",
    "the root page should say how to join, in the organisation's language");
  const how = await textOf(page, '[data-field="welcome-how"]');
  assert(how.includes("lien personnel") && how.includes(`${stage.server.url}/j/`), `the page should show what a link looks like: « ${how} »`);
  const tools = await textOf(page, '[data-field="welcome-organiser"]');
  assert(/cadre session create/.test(tools) && /docs\/protocol\.md/.test(tools) && /docs\/operations\.md/.test(tools),
    `the page should say where the organiser's tools are: « ${tools} »`);
  assert((await page.locator("[data-error-code]").count()) === 0, "the root is not an invalid link");

  // Something that is not a link: a clear error, the page stays.
  await page.fill('[data-field="welcome-link"]', "https://example.org/not-a-link");
  await page.click('button[data-action="welcome-open"]');
  await page.locator('[data-field="welcome-error"]').waitFor({ state: "visible", timeout: UI_WAIT_MS });
  assert(new URL(page.url()).pathname === "/", "a bad link should not navigate");
  await page.screenshot({ path: join(ARTIFACTS, "root-page.png"), fullPage: true });

  // The switch: English, kept after a reload without ?lang=.
  await page.selectOption("#lang-select", "en");
  await page.locator("#welcome-title", { hasText: "Join a distance session" }).waitFor({ timeout: UI_WAIT_MS });
  await page.goto(`${stage.server.url}/`);
  await page.locator("#welcome-title", { hasText: "Join a distance session" }).waitFor({ timeout: UI_WAIT_MS });
  assert((await page.getAttribute("html", "lang")) === "en", "the remembered choice should set <html lang>");

  // The real link, pasted: its lobby, in the chosen language.
  await page.fill('[data-field="welcome-link"]', `  ${session.sophie.link.url} `);
  await page.click('button[data-action="welcome-open"]');
  await page.locator('button[data-action="join"]', { hasText: "Join the session" }).waitFor({ timeout: UI_WAIT_MS });
  await page.selectOption("#lang-select", "fr");
  await page.locator('button[data-action="join"]', { hasText: "Rejoindre la séance" }).waitFor({ timeout: UI_WAIT_MS });

  // The notice: everything recorded, who controls it, how long, whom to write to.
  const notice = await textOf(page, '[data-field="evidence-notice"]');
  for (const [what, pattern] of [
    ["connection times", /heures de connexion et de déconnexion/],
    ["the IP address and browser", /adresse IP.*navigateur/],
    ["the per-minute connection figures", /chaque minute, la qualité de votre connexion/],
    ["the sign-ins", /émargements/],
    ["the consents", /accords et refus/],
    ["the difficulty reports", /difficultés que vous signalez/],
    ["the controller, by name", /Organisme de démonstration, qui organise la séance/],
    ["how long evidence is kept", /3 ans après la fin de l’action/],
    ["how long recordings are kept", /après 30 jours/],
    ["whom to write to", /dpo@organisme-demo\.example/],
  ]) assert(pattern.test(notice), `the notice should name ${what}: « ${notice} »`);

  // On a phone, the notice comes before the join button.
  await page.setViewportSize({ width: 390, height: 844 });
  const noticeBox = await page.locator('[data-field="evidence-notice"]').boundingBox();
  const joinBox = await page.locator('button[data-action="join"]').boundingBox();
  assert(noticeBox && joinBox && noticeBox.y + noticeBox.height <= joinBox.y,
    `on a 390×844 screen the notice should end above « Rejoindre »: notice ${JSON.stringify(noticeBox)}, button ${JSON.stringify(joinBox)}`);
  await page.screenshot({ path: join(ARTIFACTS, "lobby-phone.png"), fullPage: true });
});

test("« Mes documents » says what each file is for; « Mes traces » has no raw kind names; the facilitator sees the strokes they countersign, signs their own line and is told of a new difficulty", async (stage) => {
  const session = await stage.session();
  const { karim } = session;
  const fac = await stage.join(session.facilitator, "facilitator");
  const person = await stage.join(karim, "participant 1");
  await joinTogether([fac, person]);

  // Karim signs with a drawing; the facilitator sees it before countersigning.
  await person.page.locator("#signin-panel").waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await drawSignature(person.page, 8);
  await person.page.click('[data-action="signin-confirm"]');
  await person.page.locator('[data-field="signin-status"]', { hasText: /Présence confirmée/ }).waitFor({ timeout: UI_WAIT_MS });
  await fac.page.click('#signin-panel [data-action="panel-close"]');
  await openPanel(fac, "presence");
  const row = fac.page.locator(`#presence-panel li[data-person="${karim.id}"][data-signed="true"]`);
  await row.waitFor({ timeout: UI_WAIT_MS });
  const drawing = row.locator('svg[data-field="countersign-signature"]');
  await drawing.waitFor({ timeout: UI_WAIT_MS });
  assert((await drawing.getAttribute("aria-label")) === `Signature tracée par ${karim.name}`, "the drawing should say whose it is");
  assert(Number(await drawing.getAttribute("data-strokes")) >= 1 && (await drawing.locator("path").count()) >= 1,
    "the drawing should hold the participant's strokes");
  assert(await row.locator('button[data-action="countersign"]').isVisible(), "the countersign button should sit beside the drawing");
  await row.screenshot({ path: join(ARTIFACTS, "facilitator-countersign-drawing.png") });
  await row.locator('button[data-action="countersign"]').click();
  await person.page.locator('[data-field="countersign-status"][data-state="countersigned"]').waitFor({ timeout: UI_WAIT_MS });

  // The facilitator's own line: signed through the same sign-in, drawing shown.
  const own = fac.page.locator(`#presence-panel li[data-person="${session.facilitator.id}"]`);
  await own.locator('button[data-action="sign-own-line"]').click();
  await fac.page.locator("#signin-panel").waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await drawSignature(fac.page, 6);
  await fac.page.click('[data-action="signin-confirm"]');
  await fac.page.locator('#signin-panel [data-field="signin-status"]', { hasText: /Présence confirmée/ }).waitFor({ timeout: UI_WAIT_MS });
  await openPanel(fac, "presence");
  await own.locator('svg[data-field="countersign-signature"]').waitFor({ timeout: UI_WAIT_MS });
  assert((await own.getAttribute("data-signed")) === "true", "the facilitator's own line should be signed");

  // Karim reports a difficulty: the facilitator is told (toast) and the
  // "Plus" menu, where a facilitator's list of reports is, shows a dot.
  await person.page.click('button[data-action="difficulty"]');
  const form = person.page.locator("#difficulty-panel");
  await form.locator("#difficulty-text").fill("Je n’entends plus la formatrice.");
  await form.locator('button[data-action="difficulty-send"]').click();
  await fac.page.locator(".toast", { hasText: `${karim.name} vient de signaler une difficulté` }).waitFor({ timeout: UI_WAIT_MS });
  await fac.page.locator('summary[data-action="more"] .control-dot').waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await fac.page.screenshot({ path: join(ARTIFACTS, "facilitator-difficulty-notice.png") });
  await openPanel(fac, "difficulty");
  await fac.page.locator('#difficulty-panel li.difficulty', { hasText: "Je n’entends plus la formatrice." }).waitFor({ timeout: UI_WAIT_MS });
  assert(await fac.page.locator('button[data-action="difficulty"] .control-dot').isHidden(), "opening the panel should clear the dot");
  assert(await fac.page.locator('summary[data-action="more"] .control-dot').isHidden(), "and the menu's");

  // « Mes documents »: each file with what it is for and whom to give it to.
  await openPanel(person, "documents");
  const docs = person.page.locator("#documents-panel");
  const purpose = async (doc) => (await docs.locator(`li[data-doc="${doc}"] [data-field="document-purpose"]`).innerText()).trim();
  assert(/financeur/.test(await purpose("certificate")) && /employeur/.test(await purpose("certificate")),
    "the certificate is for the funder or the employer");
  const certificate = docs.locator('a[data-action="download-certificate"]');
  assert((await certificate.innerText()).trim() === "Certificat de réalisation (PDF)", "the certificate link should be named plainly");
  const href = await certificate.getAttribute("href");
  assert(href?.startsWith(`/api/sessions/${session.id}/certificate/${karim.id}?token=`) && href.endsWith("&lang=fr"),
    `the certificate link should be the person's official certificate: ${href?.slice(0, 80)}`);
  assert(/pour vous/.test(await purpose("record")), "the attendance record is for oneself");
  const record = await fetchLink(person.page, docs.locator('a[data-action="download-proof-pdf"]'), { type: "application/pdf" });
  assert(record.body.subarray(0, 5).toString() === "%PDF-", "the attendance record should be a PDF");
  assert(/auditeur/.test(await purpose("verification")), "the bundle is for an auditor");
  assert((await docs.locator('li[data-doc="sheet"]').count()) === 0, "a participant gets no sheet");
  await docs.screenshot({ path: join(ARTIFACTS, "participant-my-documents.png") });
  await openPanel(fac, "documents");
  const facDocs = fac.page.locator("#documents-panel");
  assert(/organisme/.test((await facDocs.locator('li[data-doc="sheet"] [data-field="document-purpose"]').innerText())),
    "the sheet says it is for the organisation");
  const sheet = await fetchLink(fac.page, facDocs.locator('a[data-action="download-sheet-pdf"]'), { type: "application/pdf" });
  // Kept to look at: both lines signed, each with its drawing.
  writeFileSync(join(ARTIFACTS, "sheet-facilitator-signed.pdf"), sheet.body);

  // « Mes traces »: plain sentences, never a kind's code name.
  await openPanel(person, "traces");
  const traces = person.page.locator("#traces-panel li.trace");
  await person.page.locator('#traces-panel li.trace[data-kind="report_filed"]', { hasText: "difficulté signalée" }).waitFor({ timeout: UI_WAIT_MS });
  await person.page.locator('#traces-panel li.trace[data-kind="signed_in"]').first().waitFor({ timeout: UI_WAIT_MS });
  const kinds = ledgerKinds();
  const raw = new RegExp(`\\b(${kinds.join("|")})\\b`);
  for (const text of await traces.allInnerTexts()) assert(!raw.test(text), `« Mes traces » should say it plainly: « ${text} »`);
  await person.page.locator("#traces-panel").screenshot({ path: join(ARTIFACTS, "participant-traces-plain.png") });

  // Every kind the protocol knows, through the page's own module, in both languages.
  const sentences = await person.page.evaluate(async (kinds) => {
    const evidence = await import("/evidence.js");
    const i18n = await import("/i18n.js");
    const entries = kinds.map((kind, i) => ({
      v: 1, sid: "s", seq: i, ts: Date.now(), kind, actor: "p_me", client_ts: null, salt: "",
      payload: {
        slot: "2026-12-03.am", participant: "p_me", reason: "coupure", segment: 2, minute: Date.now(), score: "good",
        consent: "recording", granted: true, text: "Le son coupe.", answer: "Nous regardons.", action: "suspend", from: "running", to: "suspended",
      },
    }));
    const out = {};
    for (const l of ["fr", "en"]) {
      i18n.setLang(l);
      out[l] = evidence.describeEntries(entries, { me: "p_me", nameOf: () => "Quelqu’un" }).map((d) => d.text);
    }
    i18n.setLang("fr");
    return out;
  }, kinds);
  // In English, « countersigned » or « media » are plain words: only the
  // code names (snake_case) would give the kind away.
  const codeNames = new RegExp(`\\b(${kinds.filter((k) => k.includes("_")).join("|")})\\b`);
  for (const l of ["fr", "en"]) {
    sentences[l].forEach((text, i) => {
      assert(text && !(l === "fr" ? raw : codeNames).test(text) && !/another recorded event|autre événement/.test(text),
        `kind ${kinds[i]} should have its own ${l} sentence, got « ${text} »`);
    });
  }
});
