// A sponsor's read-only report at /r/{token}: aggregates, names only of those
// who agreed, printable, in either language; and its refusals.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { textOf } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";

test("a sponsor's report shows the aggregates, no one's name, and prints; a garbage report link is refused", async (stage) => {
  const { id, people } = await stage.session();
  const { url, organiserToken } = stage.server;
  const created = await fetch(`${url}/api/sessions/${id}/sponsor-link`, {
    method: "POST",
    headers: { authorization: `Bearer ${organiserToken}` },
  });
  const createdText = await created.text();
  assert(created.ok, `POST sponsor-link answered HTTP ${created.status}: ${createdText.slice(0, 200)}`);
  const link = JSON.parse(createdText);
  assert(typeof link.url === "string" && typeof link.token === "string" && /\/r\//.test(link.url),
    `the sponsor link should be {url, token, expires_at} with a /r/ address: ${createdText.slice(0, 200)}`);
  // What the page is given, to compare with what it shows.
  const answer = await fetch(`${url}/api/report?token=${encodeURIComponent(link.token)}`);
  const reportText = await answer.text();
  assert(answer.ok, `GET /api/report answered HTTP ${answer.status}: ${reportText.slice(0, 200)}`);
  const report = JSON.parse(reportText);
  assert(Array.isArray(report.named) && report.named.length === 0, `nobody consented: named should be empty, is ${JSON.stringify(report.named)}`);
  for (const p of people) assert(!reportText.includes(p.name), `the report's JSON should not name ${p.name}`);

  // A fresh browser, no camera permission: the page must not need one.
  const context = await stage.context({ locale: "fr-FR", viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  await page.addInitScript(() => {
    const w = /** @type {any} */ (window);
    w.__mediaRequests = 0;
    const devices = navigator.mediaDevices;
    if (devices?.getUserMedia) {
      const original = devices.getUserMedia.bind(devices);
      devices.getUserMedia = (constraints) => {
        w.__mediaRequests += 1;
        return original(constraints);
      };
    }
  });
  const sockets = [];
  page.on("websocket", (ws) => sockets.push(ws.url()));
  const log = [];
  page.on("pageerror", (err) => log.push(err.message));
  await page.goto(link.url);
  const article = page.locator('[data-report="sponsor"]');
  await article.waitFor({ timeout: UI_WAIT_MS });
  const title = await textOf(page, "#report-title");
  const expectedTitle = report.session.sponsor ? `Rapport de présence — ${report.session.sponsor}` : "Rapport de présence";
  assert(title === expectedTitle, `the title should be « ${expectedTitle} », is « ${title} »`);
  assert((await textOf(page, '[data-field="report-session"]')) === report.session.title, "the report should name the session");
  assert((await textOf(page, '[data-figure="expected"] .figure-value')) === String(report.totals.expected),
    `the expected participants should read ${report.totals.expected}`);
  const rows = page.locator('table[data-table="half-days"] tbody tr');
  assert((await rows.count()) === report.half_days.length && report.half_days.length > 0,
    `one row per half-day: ${await rows.count()} rows for ${report.half_days.length} half-days`);
  const first = report.half_days[0];
  const present = await textOf(page, 'table[data-table="half-days"] tbody tr [data-field="present"]');
  assert(present === `${first.present} / ${first.expected}`, `present / expected should read « ${first.present} / ${first.expected} », is « ${present} »`);
  const signed = await textOf(page, 'table[data-table="half-days"] tbody tr [data-field="signed"]');
  assert(signed === `${first.signed} / ${first.expected}`, `sign-ins should read « ${first.signed} / ${first.expected} », is « ${signed} »`);
  const completion = await textOf(page, 'table[data-table="half-days"] tbody tr [data-field="completion"]');
  assert(/^(<\s)?\d{1,3}\s%$/.test(completion), `the average completion should be a percentage, is « ${completion} »`);
  const heading = await textOf(page, "#report-named");
  assert(heading === "Participants ayant accepté d’être nommés", `the named section's heading reads « ${heading} »`);
  assert((await page.locator('table[data-table="named"]').count()) === 0, "nobody consented: there should be no table of names");
  const others = await textOf(page, '[data-field="anonymous"]');
  assert(others === `Les autres participants (${report.anonymous_count}) n’apparaissent que dans les chiffres agrégés, faute de leur accord explicite.`,
    `the page should say why the others are not named: « ${others} »`);
  const all = await page.locator("body").innerText();
  for (const p of people) assert(!all.includes(p.name), `the report page should not name ${p.name}`);
  assert(sockets.length === 0, `the report page should open no socket, opened ${sockets.join(", ")}`);
  assert((await page.evaluate(() => /** @type {any} */ (window).__mediaRequests)) === 0, "the report page should not ask for the camera");
  assert((await page.locator("video").count()) === 0, "the report page should have no video");
  assert(log.length === 0, `the report page should raise no error: ${log.join(" | ")}`);
  await page.screenshot({ path: join(ARTIFACTS, "sponsor-report.png"), fullPage: true });

  // On paper: no language switch, no button; the tables stay.
  await page.emulateMedia({ media: "print" });
  assert(await page.locator('[data-action="print"]').isHidden(), "the print button should not be printed");
  assert(await page.locator("#lang-select").isHidden(), "the language switch should not be printed");
  assert(await page.locator('table[data-table="half-days"]').isVisible(), "the half-day table should be printed");
  await page.screenshot({ path: join(ARTIFACTS, "sponsor-report-print.png"), fullPage: true });
  await page.emulateMedia({ media: "screen" });

  // The same report in English, switched live.
  await page.selectOption("#lang-select", "en");
  await page.locator("#report-named", { hasText: "Participants who agreed to be named" }).waitFor({ timeout: UI_WAIT_MS });
  // Back to French: the choice is remembered for the next page too.
  await page.selectOption("#lang-select", "fr");

  // A link that is not one.
  await page.goto(`${url}/r/xyz`);
  const card = page.locator("[data-error-code]");
  await card.waitFor({ timeout: UI_WAIT_MS });
  const code = await card.getAttribute("data-error-code");
  assert(/^token_/.test(code ?? ""), `a garbage report token should be refused with a token_… code, got ${code}`);
  const text = await textOf(page, ".error-message");
  assert(text.startsWith("Lien de rapport invalide"), `expected « Lien de rapport invalide… », got « ${text} »`);
  assert((await textOf(page, "#error-title")) === "Impossible d’afficher le rapport", "the error should be about the report");
  assert(sockets.length === 0, "still no socket");
});

test("a report lists by name those who agreed, says when aggregates are withheld or the link expired (stand-in answers)", async (stage) => {
  const { url } = stage.server;
  // Nobody can consent yet on the demo server: a stand-in answer shows the named table.
  const sample = {
    session: {
      title: "Gestion de projet — module 2", kind: "formation", organisation: "Organisme de formation",
      sponsor: "Entreprise cliente", planned_start: Date.UTC(2026, 11, 3, 8, 0), planned_end: Date.UTC(2026, 11, 3, 16, 30),
      time_zone: "Europe/Paris",
    },
    generated_at: Date.UTC(2026, 11, 4, 9, 0), expires_at: Date.UTC(2027, 0, 3, 9, 0),
    half_days: [
      { slot: "2026-12-03.am", planned_start: Date.UTC(2026, 11, 3, 8, 0), planned_end: Date.UTC(2026, 11, 3, 11, 30),
        expected: 4, present: 4, signed: 3, average_completion: 0.912 },
      { slot: "2026-12-03.pm", planned_start: Date.UTC(2026, 11, 3, 12, 30), planned_end: Date.UTC(2026, 11, 3, 15, 30),
        expected: 4, present: 3, signed: 3, average_completion: 0.7 },
    ],
    totals: { expected: 4, average_completion: 0.81 },
    named: [
      { name: "Nadia Leroy", role: "participant", completion: 0.95, half_days: [
        { slot: "2026-12-03.am", present_seconds: 12300, completion: 0.976, signed: true },
        { slot: "2026-12-03.pm", present_seconds: 10080, completion: 0.933, signed: true },
      ] },
      { name: "Bruno Petit", role: "participant", completion: 0.5, half_days: [
        { slot: "2026-12-03.am", present_seconds: 12600, completion: 1, signed: true },
        { slot: "2026-12-03.pm", present_seconds: 0, completion: 0, signed: false },
      ] },
    ],
    anonymous_count: 2,
  };
  const context = await stage.context({ locale: "fr-FR", viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  await page.route("**/api/report?*", (route) => {
    const token = new URL(route.request().url()).searchParams.get("token");
    if (token === "expired") {
      return route.fulfill({ status: 401, contentType: "application/json", body: JSON.stringify({ code: "token_expired", message: "expired" }) });
    }
    // As the server answers when too few are unnamed for an average to hide them.
    const body = token === "withheld"
      ? { ...sample, half_days: [], totals: { ...sample.totals, average_completion: 0 }, anonymous_count: 2, withheld: "aggregates are withheld" }
      : sample;
    return route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
  });
  await page.goto(`${url}/r/sample`);
  await page.locator('table[data-table="named"]').waitFor({ timeout: UI_WAIT_MS });
  assert((await textOf(page, "#report-title")) === "Rapport de présence — Entreprise cliente", "the title should name the sponsor");
  const names = await page.locator('table[data-table="named"] tbody.person .person-name').allInnerTexts();
  assert(JSON.stringify(names) === JSON.stringify(["Bruno Petit", "Nadia Leroy"]), `the named people, sorted: ${JSON.stringify(names)}`);
  const nadia = await page.locator('tbody.person[data-person-name="Nadia Leroy"]').innerText();
  assert(/Matinée du jeudi 3 décembre/.test(nadia) && /3 h 25/.test(nadia) && /98\s%/.test(nadia) && /signé/.test(nadia) && !/non signé/.test(nadia) && /95\s%/.test(nadia),
    `Nadia's rows should give the half-day, time present, completion, sign-in and total: « ${nadia} »`);
  const bruno = await page.locator('tbody.person[data-person-name="Bruno Petit"]').innerText();
  assert(/non signé/.test(bruno) && /0 min/.test(bruno), `Bruno's afternoon should read « 0 min … non signé »: « ${bruno} »`);
  const hours = await page.locator('table[data-table="half-days"] tbody tr').first().locator("td").first().innerText();
  assert(hours.trim() === "09:00 – 12:30", `the half-day hours should be in the session's time zone, are « ${hours} »`);
  const others = await textOf(page, '[data-field="anonymous"]');
  assert(/^Les autres participants \(2\)/.test(others), `two others are not named: « ${others} »`);
  await page.screenshot({ path: join(ARTIFACTS, "sponsor-report-named.png"), fullPage: true });

  await page.goto(`${url}/r/withheld`);
  const withheld = await textOf(page, '[data-field="withheld"]');
  assert(/^Les chiffres agrégés ne sont pas communiqués/.test(withheld) && /\(2\)/.test(withheld),
    `withheld aggregates should be explained: « ${withheld} »`);
  assert((await page.locator('table[data-table="half-days"]').count()) === 0, "no half-day table when the aggregates are withheld");
  assert((await page.locator('[data-figure="average"]').count()) === 0, "no average when the aggregates are withheld");
  assert((await page.locator('table[data-table="named"] tbody.person').count()) === 2, "the named are still listed");
  const notHere = await textOf(page, '[data-field="anonymous"]');
  assert(notHere === "Les autres participants (2) n’apparaissent pas dans ce rapport, faute de leur accord explicite.",
    `with aggregates withheld, the others appear nowhere: « ${notHere} »`);
  await page.screenshot({ path: join(ARTIFACTS, "sponsor-report-withheld.png"), fullPage: true });

  await page.goto(`${url}/r/expired`);
  await page.locator('[data-error-code="token_expired"]').waitFor({ timeout: UI_WAIT_MS });
  const text = await textOf(page, ".error-message");
  assert(text === "Ce lien de rapport a expiré. Demandez un nouveau lien à l’organisme.", `an expired report link reads « ${text} »`);
});
