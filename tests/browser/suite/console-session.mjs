// A session's page in the staff console, /console/sessions/{sid}: a
// coordinator opens a session from the list, copies a person's link (the
// clipboard holds it, « Copié » is shown; a refused clipboard leaves it
// selected), revokes it after a confirmation
// (the person's page is then refused), re-admits it (the lobby opens
// again, and once he joins the live follow-up shows him connected), sends
// the invitations to a real SMTP server (Debian's aiosmtpd,
// tests/smtp/sink.py) and sees them sent (and the one it refuses for good
// shown as failed, with the reason), then, with that server stopped,
// sends one again and sees it pending with the error; answers a difficulty
// report in writing and closes it (its author reads the answer), having
// found it in the inbox of every session's reports. axe finds
// nothing at 1,280 px nor at a tablet's 768 px, the dialog open or not.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { joinFromLobby, violations, waitConnected } from "../lib/pages.mjs";
import { addCoordinator, logIn } from "../lib/console.mjs";
import { test } from "../lib/runner.mjs";
import { organiser, startServer } from "../lib/server.mjs";
import { MAIL_WAIT_MS, freePort, startSmtp } from "../lib/smtp.mjs";

/** @param {import("playwright-core").Page} page @param {string} where */
async function noViolations(page, where) {
  const found = await violations(page);
  assert.deepEqual(found, [], `axe on ${where}:\n${found.join("\n")}`);
}

/** @param {import("playwright-core").Page} page @param {string} name */
async function screenshots(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}-1280.png`), fullPage: true });
  await page.setViewportSize({ width: 768, height: 1024 });
  await noViolations(page, `${name} at 768 px`);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(width <= 768, `${name}: the page is ${width} px wide on a 768 px tablet`);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-768.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
}

test("console session page: a coordinator copies, revokes and re-admits a link, sends invitations, sees a failed delivery, answers a report", async (stage) => {
  /** @type {(() => Promise<void>)[]} */
  const cleanups = [];
  const port = await freePort();
  const smtp = await startSmtp(port);
  try {
    const server = await startServer(cleanups, ["--ice-policy", "loopback",
      "--smtp-url", `smtp://127.0.0.1:${port}`, "--mail-from", "Organisme de démonstration <noreply@cadre.test>"]);
    const coordinator = { email: "hugo.petit@organisme.example", name: "Hugo Petit", password: "un mot de passe assez long" };
    addCoordinator(/** @type {any} */ (server).dataDir, coordinator);

    const now = Date.now();
    const start = new Date(now - (now % 60_000));
    const session = await organiser(server, "POST", "/api/sessions", {
      title: "Gestion de projet — module 2",
      kind: "formation",
      organisation: "Organisme de démonstration",
      planned_start: start.toISOString(),
      planned_end: new Date(start.getTime() + 180 * 60_000).toISOString(),
      time_zone: "Europe/Paris",
      sponsor: "Entreprise Cliente",
      people: [
        { name: "Claire Martin", role: "facilitator", email: "claire@cadre.test" },
        { name: "Karim Benali", role: "participant", email: "karim@cadre.test" },
        { name: "Sophie Dubois", role: "participant", email: "sophie@cadre.test" },
        { name: "Lucas Moreau", role: "participant" },
        // The test SMTP server refuses this address for good (550).
        { name: "Nina Roux", role: "participant", email: "refuse.nina@cadre.test" },
      ],
    });
    const karim = session.people.find((/** @type {any} */ p) => p.name === "Karim Benali");
    const filed = await fetch(`${server.url}/api/reports?token=${karim.link.token}`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "Le son coupe souvent." }),
    });
    assert.equal(filed.status, 201, `Karim files a report: ${await filed.text()}`);

    const context = await stage.context({ locale: "fr-FR", viewport: { width: 1280, height: 800 },
      permissions: ["clipboard-read", "clipboard-write"] });
    const page = await context.newPage();
    /** @type {string[]} */
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await logIn(page, server.url, "/console", coordinator);
    await page.locator(`[data-open-session="${session.id}"]`).click();
    const root = page.locator(`[data-session="${session.id}"].console-session`);
    await root.waitFor({ timeout: UI_WAIT_MS });
    assert.equal(new URL(page.url()).pathname, `/console/sessions/${session.id}`);
    assert.equal(await page.locator("#page-title").innerText(), "Gestion de projet — module 2");
    assert.match(await page.locator('[data-field="session-when"]').innerText(), /Europe\/Paris/);
    assert.equal(await page.locator('[data-field="session-sponsor"]').innerText(), "Entreprise Cliente");
    assert.equal(await page.locator('tr[data-person][data-name]').count(), 5);
    await noViolations(page, "the session's page");

    // Copy Karim's link: the clipboard holds it, the page says so.
    const karimRow = page.locator(`tr[data-person="${karim.id}"][data-name]`);
    assert.equal(await karimRow.locator('[data-field="link"]').inputValue(), karim.link.url);
    await karimRow.locator('[data-action="link-copy"]').click();
    await karimRow.locator('[data-field="link-copied"]', { hasText: "Copié" }).waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), karim.link.url);
    await page.locator('[data-field="session-announce"]', { hasText: "Copié" }).waitFor({ state: "attached", timeout: UI_WAIT_MS });

    // Revoke, with a confirmation that can be cancelled.
    await karimRow.locator('[data-action="revoke"]').click();
    const dialog = page.locator('[data-dialog="console-session"]');
    await dialog.waitFor({ timeout: UI_WAIT_MS });
    assert.match(await dialog.innerText(), /Révoquer le lien de Karim Benali/);
    await noViolations(page, "the revocation dialog");
    await dialog.locator('[data-action="dialog-cancel"]').click();
    await dialog.waitFor({ state: "detached", timeout: UI_WAIT_MS });
    assert.equal(await karimRow.locator('[data-field="link-state"]').getAttribute("data-revoked"), "false", "a cancelled revocation changes nothing");
    await karimRow.locator('[data-action="revoke"]').click();
    await dialog.locator('[data-action="dialog-confirm"]').click();
    await page.locator(`tr[data-person="${karim.id}"][data-name] [data-revoked="true"]`).waitFor({ timeout: UI_WAIT_MS });
    assert.match(await karimRow.locator('[data-field="link-state"]').innerText(), /révoqué/);

    // Karim's page is refused.
    const karimContext = await stage.context({ locale: "fr-FR" });
    const karimPage = await karimContext.newPage();
    await karimPage.goto(karim.link.url);
    const refusal = karimPage.locator("[data-error-code]");
    await refusal.waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await refusal.getAttribute("data-error-code"), "token_revoked");

    // Re-admitted, his lobby opens again.
    await karimRow.locator('[data-action="readmit"]').click();
    await dialog.locator('[data-action="dialog-confirm"]').click();
    await page.locator(`tr[data-person="${karim.id}"][data-name] [data-revoked="false"]`).waitFor({ timeout: UI_WAIT_MS });
    await karimPage.reload();
    await karimPage.locator('button[data-action="join"]').waitFor({ state: "visible", timeout: UI_WAIT_MS });

    // He joins: the live follow-up, read again every few seconds, shows
    // him connected, and the others not.
    const karimPerson = /** @type {any} */ ({ page: karimPage, name: "Karim" });
    await joinFromLobby(karimPerson);
    await waitConnected(karimPerson);
    await page.locator(`tr[data-live="${karim.id}"][data-connected="true"]`).waitFor({ timeout: UI_WAIT_MS });
    assert.match(await page.locator(`tr[data-live="${karim.id}"] [data-field="live-since"]`).innerText(), /connecté·e depuis \d\d:\d\d/);
    assert.match(await page.locator('[data-field="live-count"]').innerText(), /1 sur 5/);
    // His join started the session: the summary follows.
    await page.locator('[data-field="session-state"]', { hasText: "En cours" }).waitFor({ timeout: UI_WAIT_MS });
    const sophieLive = session.people.find((/** @type {any} */ p) => p.name === "Sophie Dubois");
    assert.equal(await page.locator(`tr[data-live="${sophieLive.id}"]`).getAttribute("data-connected"), "false");

    // The invitations: four people have an address, Lucas has none; the
    // SMTP server refuses Nina's for good, which stands out.
    await page.locator('[data-action="invite-all"]').click();
    const result = page.locator('[data-field="invite-result"]');
    await result.waitFor({ state: "visible", timeout: UI_WAIT_MS });
    assert.match(await result.innerText(), /file d’envoi : 4\./);
    assert.match(await result.innerText(), /Lucas Moreau \(pas d’adresse\)/);
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll("tr[data-mail]")];
      return rows.length === 4 && rows.filter((r) => r.getAttribute("data-state") === "sent").length === 3
        && rows.some((r) => r.getAttribute("data-state") === "failed");
    }, null, { timeout: MAIL_WAIT_MS });
    const failed = page.locator('tr[data-mail][data-state="failed"].mail-failed');
    assert.match(await failed.innerText(), /refuse\.nina@cadre\.test/);
    assert.match(await failed.locator('[data-field="mail-state"]').innerText(), /échec/);
    assert.match(await failed.locator('[data-field="mail-detail"]').innerText(), /Dernière erreur : .*550/);
    assert.match(await page.locator('[data-field="mail-failures"]').innerText(), /Envois en échec : 1\./);
    const received = smtp.messages();
    assert.deepEqual(received.map((m) => m.rcpt_tos[0]).sort(), ["claire@cadre.test", "karim@cadre.test", "sophie@cadre.test"]);
    const toKarim = received.find((m) => m.rcpt_tos[0] === "karim@cadre.test");
    assert(String(toKarim.text).includes(karim.link.url), `Karim's invitation carries his link: ${toKarim.text}`);
    assert.match(await page.locator('tr[data-mail][data-state="sent"] [data-field="mail-state"]').first().innerText(), /envoyé/);

    // The SMTP server stops; Sophie's invitation, sent again, waits with the error shown.
    await smtp.stop();
    const sophie = session.people.find((/** @type {any} */ p) => p.name === "Sophie Dubois");
    await page.locator(`tr[data-person="${sophie.id}"][data-name] [data-action="invite-one"]`).click();
    const waiting = page.locator('tr[data-mail][data-state="pending"].mail-retrying');
    await waiting.waitFor({ timeout: MAIL_WAIT_MS });
    const detail = await waiting.locator('[data-field="mail-detail"]').innerText();
    assert.match(detail, /Dernière erreur : .+/, `the pending mail says why: ${detail}`);
    assert.match(detail, /Prochain essai le/, `the pending mail says when it is tried again: ${detail}`);
    assert.match(await waiting.innerText(), /sophie@cadre\.test/);
    assert.match(await waiting.locator('[data-field="mail-state"]').innerText(), /en attente/);
    await noViolations(page, "the session's page with a pending mail");

    // The sponsor's report link.
    await page.locator('[data-action="sponsor-link"]').click();
    const sponsorUrl = await page.locator('[data-field="sponsor"]').inputValue();
    assert.match(sponsorUrl, /\/r\//);

    // A document link downloads with the login's cookie.
    const sheet = await page.evaluate(async (href) => {
      const r = await fetch(href);
      return { status: r.status, type: r.headers.get("content-type") };
    }, await page.locator('[data-download="sheet-pdf"]').getAttribute("href"));
    assert.deepEqual(sheet, { status: 200, type: "application/pdf" });
    await screenshots(page, "console-session");

    // The inbox of every session's reports lists Karim's, to handle, and
    // leads to its session, where it is answered.
    await page.locator('[data-nav="reports"]').click();
    const line = page.locator('table[data-field="inbox"] tr[data-report][data-status="open"]');
    await line.waitFor({ timeout: UI_WAIT_MS });
    assert.match(await line.innerText(), /Karim Benali/);
    assert.match(await line.innerText(), /Le son coupe souvent\./);
    assert.match(await page.locator('[data-field="inbox-count"]').innerText(), /1 signalement\(s\) à traiter/);
    await noViolations(page, "the reports inbox");
    await page.screenshot({ path: join(ARTIFACTS, "console-inbox-1280.png"), fullPage: true });
    await line.locator(`[data-open-session="${session.id}"]`).click();
    await root.waitFor({ timeout: UI_WAIT_MS });

    // Answer Karim's report and close it.
    const report = page.locator("li[data-report]");
    assert.match(await report.innerText(), /Le son coupe souvent\./);
    await report.locator('[data-field="report-answer"]').fill("Nous avons changé de salle virtuelle ; merci du signalement.");
    await report.locator('[data-field="report-close"]').check();
    await report.locator('[data-action="report-answer"]').click();
    await page.locator('li[data-report][data-status="closed"]').waitFor({ timeout: UI_WAIT_MS });
    assert.match(await page.locator('li[data-report] [data-field="report-answer-text"]').innerText(), /salle virtuelle/);
    const own = await (await fetch(`${server.url}/api/reports?token=${karim.link.token}`)).json();
    assert.equal(own[0].status, "closed");
    assert.match(own[0].answer, /salle virtuelle/);
    await noViolations(page, "the session's page after the answer");
    await screenshots(page, "console-session-answered");
    // Closed, it leaves the inbox's default list, and shows among the closed.
    await page.locator('[data-nav="reports"]').click();
    await page.locator('[data-field="inbox-count"]', { hasText: "0 signalement(s) à traiter" }).waitFor({ timeout: UI_WAIT_MS });
    await page.locator('[data-field="inbox-status"]').selectOption("closed");
    await page.locator('table[data-field="inbox"] tr[data-report][data-status="closed"]').waitFor({ timeout: UI_WAIT_MS });
    assert.equal(new URL(page.url()).search, "?status=closed", "the choice is in the address");

    // A browser that refuses the clipboard: the link is selected, to be
    // copied by hand, and the page says so. (The refusal is simulated: a
    // test browser cannot be made to refuse by itself.)
    const refusing = await context.newPage();
    refusing.on("pageerror", (err) => errors.push(err.message));
    await refusing.addInitScript(() => {
      navigator.clipboard.writeText = () => Promise.reject(new DOMException("refused", "NotAllowedError"));
    });
    await refusing.goto(`${server.url}/console/sessions/${session.id}`);
    const sophieRow = refusing.locator(`tr[data-person="${sophie.id}"][data-name]`);
    await sophieRow.locator('[data-action="link-copy"]').click();
    await sophieRow.locator('[data-field="link-copied"]', { hasText: "copiez-le avec Ctrl+C" }).waitFor({ timeout: UI_WAIT_MS });
    const selected = await sophieRow.locator('[data-field="link"]').evaluate((el) => {
      const input = /** @type {HTMLInputElement} */ (el);
      return document.activeElement === input ? input.value.slice(input.selectionStart ?? 0, input.selectionEnd ?? 0) : "";
    });
    assert.equal(selected, sophie.link.url, "the whole link is selected");
    assert.deepEqual(errors, [], "no error in the console's page");
  } finally {
    await stage.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
    await smtp.stop();
    smtp.remove();
  }
});
