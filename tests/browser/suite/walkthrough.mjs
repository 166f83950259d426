// The console's whole path, as staff walk it in a browser: an
// administrator gives the organisation's identity once; a coordinator logs
// in, creates an action of three sessions for twelve trainees from the
// training office's CSV file, sends each session's invitations (a real
// SMTP server receives them: every trainee gets their own link for each
// session and its calendar invitation), a trainee joins the first session
// by the link in their mail, and the coordinator downloads the action's
// dossier d'audit, which holds the three sessions, the twelve certificates
// and that trainee's signed proof, accepted by `cadre verify` with the
// keys the dossier carries.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ARTIFACTS, CADRE_BIN, UI_WAIT_MS } from "../lib/config.mjs";
import { addCoordinator, logIn } from "../lib/console.mjs";
import { violations, waitConnected } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { startServer } from "../lib/server.mjs";
import { MAIL_WAIT_MS, freePort, startSmtp } from "../lib/smtp.mjs";
import { TRAINEES, csv } from "../lib/trainees.mjs";

/** A signature-and-stamp image the server's own tests print. */
const STAMP = resolve(dirname(fileURLToPath(import.meta.url)), "../../../server/src/evidence/render/stamp-example.png");

/**
 * A time zone where it is day now (06:00 to 18:00), so that the first
 * session can run now on one date whatever the hour of the run.
 * @returns {{ zone: string, date: string, hour: number }}
 */
function daytimeZone() {
  const zones = ["Europe/Paris", "America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Asia/Tokyo",
    "Asia/Kolkata", "Pacific/Auckland", "Asia/Dubai"];
  for (const zone of zones) {
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date()).map((p) => [p.type, p.value]));
    const hour = Number(parts.hour);
    if (hour >= 6 && hour < 18) return { zone, date: `${parts.year}-${parts.month}-${parts.day}`, hour };
  }
  throw new Error("no listed time zone has daylight now");
}

/** @param {number} n */
const two = (n) => String(n).padStart(2, "0");

test("console walk-through: a coordinator creates an action of three sessions for twelve trainees from a CSV file, sends the invitations, and downloads the dossier d'audit", async (stage) => {
  /** @type {(() => Promise<void>)[]} */
  const cleanups = [];
  const port = await freePort();
  const smtp = await startSmtp(port);
  const unpacked = mkdtempSync(join(tmpdir(), "cadre-dossier-"));
  try {
    const server = await startServer(cleanups, ["--ice-policy", "loopback",
      "--smtp-url", `smtp://127.0.0.1:${port}`, "--mail-from", "Formations Horizon <noreply@horizon.test>"]);
    const dataDir = /** @type {any} */ (server).dataDir;
    const administrator = { email: "helene.roux@horizon.test", name: "Hélène Roux", password: "un autre mot de passe long" };
    const coordinator = { email: "camille.durand@horizon.test", name: "Camille Durand", password: "un mot de passe assez long" };
    addCoordinator(dataDir, administrator, "administrator");
    addCoordinator(dataDir, coordinator);
    const context = await stage.context({ locale: "fr-FR", viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    /** @type {string[]} */
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));

    // Once, the administrator gives the organisation's identity, which
    // sessions, certificates and the dossier print.
    await logIn(page, server.url, "/console/organisation", administrator);
    // (The demo server starts with a demo identity, replaced here.)
    const missing = page.locator('[data-field="organisation-missing"]');
    await missing.waitFor({ timeout: UI_WAIT_MS });
    const identity = {
      "org-name": "Formations Horizon", "org-representative_name": "Claire Dubois", "org-representative_quality": "directrice",
      "org-address": "12 rue des Lilas\n69003 Lyon", "org-siret": "123 456 789 00007", "org-nda": "84 69 12345 69", "org-place": "Lyon",
    };
    for (const [field, value] of Object.entries(identity)) await page.locator(`[data-field="${field}"]`).fill(value);
    await page.locator('[data-action="organisation-save"]').click();
    await page.locator('[data-field="organisation-saved"]', { hasText: "Enregistré." }).waitFor({ timeout: UI_WAIT_MS });
    assert.match(await missing.innerText(), /Tout ce qu’un certificat de réalisation demande est renseigné/);
    // The signature and stamp, chosen as a file, is stored at once.
    await page.locator('[data-field="org-signature"]').setInputFiles(STAMP);
    await page.locator('[data-field="signature-state"]', { hasText: "Image enregistrée" }).waitFor({ timeout: UI_WAIT_MS });
    await page.reload();
    await page.locator('[data-field="org-name"]').waitFor({ timeout: UI_WAIT_MS });
    assert.equal(await page.locator('[data-field="org-name"]').inputValue(), "Formations Horizon", "kept after a reload");
    assert.equal(await page.locator('[data-field="org-address"]').inputValue(), "12 rue des Lilas\n69003 Lyon");
    assert.equal(await page.locator('[data-action="signature-remove"]').count(), 1, "a stored image can be removed");
    const found = await violations(page);
    assert.deepEqual(found, [], `axe on the organisation's page:\n${found.join("\n")}`);
    await page.screenshot({ path: join(ARTIFACTS, "console-organisation-1280.png"), fullPage: true });
    await page.locator('[data-action="logout"]').click();

    // The coordinator: no « Organisme » for them.
    await logIn(page, server.url, "/console", coordinator);
    assert.equal(await page.locator('[data-nav="organisation"]').count(), 0, "a coordinator has no « Organisme » page");

    // The action: the file, then three sessions, the first running now.
    await page.locator('[data-nav="actions"]').click();
    await page.locator('[data-action="new-action"]').click();
    await page.locator('[data-field="new-action"]').waitFor({ timeout: UI_WAIT_MS });
    await page.locator('[data-field="action-title"]').fill("Management d’équipe");
    await page.locator('[data-field="action-nature"]').selectOption("formation");
    await page.locator('[data-field="action-hours"]').fill("10.5");
    await page.locator('[data-field="action-file"]').setInputFiles({ name: "stagiaires.csv", mimeType: "text/csv", buffer: csv(TRAINEES) });
    await page.locator('[data-field="preview-summary"]', { hasText: "12 personne(s) lue(s), aucune ligne rejetée" }).waitFor({ timeout: UI_WAIT_MS });
    const now = daytimeZone();
    const sessions = [
      { date: now.date, start: `${two(now.hour - 1)}:00`, end: `${two(now.hour + 2)}:30`, zone: now.zone },
      { date: "2027-02-08", start: "09:00", end: "12:30", zone: "Europe/Paris" },
      { date: "2027-02-15", start: "09:00", end: "12:30", zone: "Europe/Paris" },
    ];
    for (const [i, s] of sessions.entries()) {
      if (i > 0) await page.locator('[data-action="add-session"]').click();
      const row = page.locator('[data-field="session-row"]').nth(i);
      await row.locator('[data-field="session-date"]').fill(s.date);
      await row.locator('[data-field="session-start"]').fill(s.start);
      await row.locator('[data-field="session-end"]').fill(s.end);
      await row.locator('[data-field="session-zone"]').fill(s.zone);
      await row.locator('[data-field="session-facilitator"]').fill("Claire Martin");
      await row.locator('[data-field="session-facilitator-email"]').fill("claire.martin@horizon.test");
      await row.locator('[data-field="session-zone"]').dispatchEvent("change");
    }
    const create = page.locator('[data-action="create-action"]');
    await page.waitForFunction(() => !(/** @type {HTMLButtonElement | null} */ (document.querySelector('[data-action="create-action"]')))?.disabled,
      null, { timeout: UI_WAIT_MS });
    await create.click();
    await page.locator('[data-screen="action"]').waitFor({ timeout: UI_WAIT_MS });
    const actionPath = new URL(page.url()).pathname;
    assert.equal(await page.locator('table[data-field="action-people"] tbody tr').count(), 12);
    const sessionLinks = page.locator('table[data-field="action-sessions"] tbody tr a');
    assert.equal(await sessionLinks.count(), 3);
    const sessionPaths = await sessionLinks.evaluateAll((links) => links.map((a) => a.getAttribute("href") ?? ""));

    // Each session's invitations, from its page; the links it shows are
    // the ones the mails must carry.
    /** @type {Map<string, string[]>} each address's links, session by session */
    const shown = new Map();
    let expected = 0;
    for (const [i, path] of sessionPaths.entries()) {
      await page.locator(`table[data-field="action-sessions"] a[href="${path}"]`).click();
      await page.locator('[data-action="invite-all"]').waitFor({ timeout: UI_WAIT_MS });
      const people = await page.locator('table[data-field="people"] tbody tr[data-person]').evaluateAll((rows) => rows.map((r) => ({
        email: r.querySelector(".console-email")?.textContent ?? "",
        link: /** @type {HTMLInputElement | null} */ (r.querySelector('input[data-field="link"]'))?.value ?? "",
      })));
      assert.equal(people.length, 13, `session ${i + 1}: twelve trainees and their facilitator`);
      for (const p of people) shown.set(p.email, [...(shown.get(p.email) ?? []), p.link]);
      await page.locator('[data-action="invite-all"]').click();
      expected += people.length;
      await page.waitForFunction((n) => {
        const rows = [...document.querySelectorAll("tr[data-mail]")];
        return rows.length === n && rows.every((r) => r.getAttribute("data-state") === "sent");
      }, people.length, { timeout: MAIL_WAIT_MS });
      if (i === 0) await page.screenshot({ path: join(ARTIFACTS, "walkthrough-session-invited.png"), fullPage: true });
      await page.goto(`${server.url}${actionPath}`);
      await page.locator('[data-screen="action"]').waitFor({ timeout: UI_WAIT_MS });
    }

    // What the SMTP server received: each trainee their three links, one
    // mail each, with its calendar invitation.
    const received = smtp.messages();
    assert.equal(received.length, expected, "one mail per person and session");
    for (const [, , , email] of TRAINEES) {
      const theirs = received.filter((m) => m.rcpt_tos[0] === email);
      assert.equal(theirs.length, 3, `${email}: one invitation per session`);
      const links = shown.get(email) ?? [];
      assert.equal(links.length, 3);
      for (const link of links) {
        const mail = theirs.find((m) => String(m.text).includes(link));
        assert(mail, `${email}: a mail carries the link ${link}`);
        const ics = mail.attachments.find((/** @type {any} */ a) => String(a.content_type).startsWith("text/calendar"));
        assert(ics, `${email}: the invitation carries its .ics: ${JSON.stringify(mail.attachments.map((/** @type {any} */ a) => a.filename))}`);
        assert.match(ics.content, /BEGIN:VCALENDAR[\s\S]*BEGIN:VEVENT[\s\S]*DTSTART/);
        assert(String(ics.content).replace(/\r?\n[ \t]/g, "").includes(link), `${email}: the .ics names the link too`);
      }
    }

    // The first session is held: Karim opens the link of his first mail.
    const karimEmail = TRAINEES[1][3];
    const karimLink = (shown.get(karimEmail) ?? [])[0];
    const karimContext = await stage.context({ locale: "fr-FR" });
    const karim = { name: "Karim Benali", page: await karimContext.newPage(), log: /** @type {string[]} */ ([]) };
    await karim.page.goto(karimLink);
    await karim.page.locator('button[data-action="join"]').click({ timeout: UI_WAIT_MS });
    await waitConnected(/** @type {any} */ (karim));
    await karim.page.close();

    // After it, the dossier d'audit, from the action's page.
    await page.goto(`${server.url}${actionPath}`);
    await page.locator('[data-screen="action"]').waitFor({ timeout: UI_WAIT_MS });
    const [download] = await Promise.all([
      page.waitForEvent("download", { timeout: 60_000 }),
      page.locator('[data-screen="action"] [data-action="download-dossier"]').click(),
    ]);
    const zip = join(unpacked, download.suggestedFilename());
    await download.saveAs(zip);
    const unzip = spawnSync("python3", ["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); z.extractall(sys.argv[2]); print('\\n'.join(z.namelist()))", zip, unpacked], { encoding: "utf8" });
    assert.equal(unzip.status, 0, unzip.stderr);
    const names = unzip.stdout.trim().split("\n");
    const root = names[0].split("/")[0];
    assert(names.includes(`${root}/LISEZMOI.txt`) && names.includes(`${root}/SHA256SUMS`) && names.includes(`${root}/jwks.json`),
      `the index, the sums and the keys: ${names.slice(0, 10).join(", ")}`);
    const folders = new Set(names.map((n) => n.split("/")).filter((p) => p[1] === "seances" && p.length > 3).map((p) => p[2]));
    assert.equal(folders.size, 3, `one folder per session: ${[...folders].join(", ")}`);
    const certificates = names.filter((n) => n.startsWith(`${root}/certificats/`) && n.endsWith(".pdf"));
    assert.equal(certificates.length, 12, `a certificate per trainee: ${certificates.join(", ")}`);
    const first = [...folders].sort()[0];
    const proof = names.find((n) => n.startsWith(`${root}/seances/${first}/`) && /attestation-.*karim.*\.jws$/i.test(n));
    assert(proof, `Karim's signed proof in the first session: ${names.filter((n) => n.includes(first)).join(", ")}`);
    const verified = spawnSync(CADRE_BIN, ["verify", join(unpacked, proof), "--jwks", join(unpacked, root, "jwks.json")], { encoding: "utf8" });
    assert.equal(verified.status, 0, `cadre verify accepts Karim's proof:\n${verified.stdout}\n${verified.stderr}`);
    const index = readFileSync(join(unpacked, root, "LISEZMOI.txt"), "utf8");
    assert.match(index, /cadre verify/);
    assert.deepEqual(errors, [], `the console reported errors: ${errors.join("; ")}`);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await smtp.stop();
    smtp.remove();
    rmSync(unpacked, { recursive: true, force: true });
  }
});
