// The equipment check (framework art. 2.1.5) at /e/{token}: reached from a
// link whose session opens tomorrow, it shows the camera's picture, hears
// the (fake) microphone, connects to the server's check peer on each path
// the organisation offers (directly, and through the embedded TURN relay
// over UDP and over TCP), says what it means, passes the accessibility
// checker, and lets the person tell the organisation, who reads it. The
// server is one of its own whose relay may reach loopback peers (everything
// is on 127.0.0.1 here).

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, MEDIA_WAIT_MS, UI_WAIT_MS } from "../lib/config.mjs";
import { textOf, violations } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { organiser, startServer } from "../lib/server.mjs";

test("the equipment check before the session: camera, microphone, network paths, advice, and a report the organisation reads", async (stage) => {
  /** @type {(() => Promise<void>)[]} */
  const cleanups = [];
  try {
    await check(stage, await startServer(cleanups, ["--ice-policy", "loopback", "--turn-allow-private-peers"]));
  } finally {
    await stage.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
});

/**
 * @param {import("../lib/runner.mjs").Stage} stage
 * @param {import("../lib/server.mjs").Server} server
 */
async function check(stage, server) {
  const start = new Date(Date.now() + 24 * 3600_000);
  const view = await organiser(server, "POST", "/api/sessions", {
    title: "Bilan de compétences — entretien 2",
    kind: "bilan",
    organisation: "Organisme de démonstration",
    planned_start: start.toISOString(),
    planned_end: new Date(start.getTime() + 2 * 3600_000).toISOString(),
    time_zone: "Europe/Paris",
    people: [{ name: "Claire Martin", role: "facilitator" }, { name: "Karim Benali", role: "participant" }],
  });
  const karim = view.people.find((p) => p.name === "Karim Benali");
  const person = await stage.open("participant (Karim Benali)", karim.link.url, { id: karim.id });
  const { page } = person;

  // The link does not open yet: the page offers the check meanwhile.
  const toCheck = page.locator('a[data-action="equipment-check"]');
  await toCheck.waitFor({ timeout: UI_WAIT_MS });
  assert(await page.locator('[data-error-code="token_not_yet_valid"]').count() === 1, "the link should not open the session yet");
  await toCheck.click();
  await page.waitForURL(/\/e\//, { timeout: UI_WAIT_MS });
  await page.locator('[data-screen="check"]').waitFor({ timeout: UI_WAIT_MS });
  assert((await textOf(page, "#check-title")) === "Tester mon équipement");
  assert((await textOf(page, '[data-field="check-session"]')).includes("Bilan de compétences — entretien 2"), "the page should name the session");

  // The camera's picture, and the fake microphone's tone heard.
  await page.locator('[data-field="check-camera"][data-state="ok"]').waitFor({ timeout: MEDIA_WAIT_MS });
  assert(/L’image arrive \(\d+ × \d+\)\./.test(await textOf(page, '[data-field="check-camera"]')), "the camera line should give the picture's size");
  await page.locator('[data-field="check-microphone"][data-state="ok"]').waitFor({ timeout: MEDIA_WAIT_MS });

  // Each path in turn; the direct one reaches the server's check peer on
  // this machine, the relays are tried only when the server offers them.
  const check = await (await fetch(`${server.url}/api/equipment?token=${encodeURIComponent(karim.link.token)}`)).json();
  await page.locator('[data-field="check-advice"]:not([hidden])').waitFor({ timeout: MEDIA_WAIT_MS });
  const rows = await page.locator("table.check-paths tbody tr").evaluateAll((trs) =>
    trs.map((tr) => ({ path: tr.getAttribute("data-path"), status: tr.getAttribute("data-status"), text: tr.textContent ?? "" })));
  assert.deepEqual(rows.map((r) => r.path), ["direct", "relay-udp", "relay-tcp", "relay-tls"]);
  const direct = rows[0];
  assert(direct.status === "ok", `the direct path should work on loopback: ${JSON.stringify(direct)}`);
  assert(/\d+ ms/.test(direct.text), `the direct path should show its times: ${direct.text}`);
  const turnUrls = check.ice_servers.flatMap((/** @type {{urls: string[]}} */ s) => s.urls).filter((/** @type {string} */ u) => u.startsWith("turn"));
  assert(turnUrls.some((/** @type {string} */ u) => u.includes("transport=udp")) && turnUrls.some((/** @type {string} */ u) => u.includes("transport=tcp")),
    `the check should be given the embedded relay over UDP and TCP: ${JSON.stringify(check.ice_servers)}`);
  for (const path of ["relay-udp", "relay-tcp"]) {
    const row = rows.find((r) => r.path === path);
    assert(row?.status === "ok" && /relay/.test(row.text), `${path} should work through the embedded relay: ${JSON.stringify(row)}`);
  }
  const tls = rows[3];
  assert(tls.status === "not_offered", `no turns: URL is given here, so TLS is not offered: ${JSON.stringify(tls)}`);
  const advice = await page.locator('[data-field="check-advice"] p').evaluateAll((ps) => ps.map((p) => p.getAttribute("data-advice")));
  assert(advice.includes("check.advice.direct"), `the advice should say the connection is ready: ${advice}`);
  console.log(`# paths: ${rows.map((r) => `${r.path} ${r.status}`).join(", ")}`);

  // Nothing of the check is evidence; the page passes the checker.
  const exported = await fetch(`${server.url}/api/sessions/${view.id}/ledger`, { headers: { authorization: `Bearer ${server.organiserToken}` } });
  assert(exported.ok, `the ledger export answered HTTP ${exported.status}`);
  const entries = (await exported.text()).split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line)).filter((e) => "kind" in e);
  assert(entries.length === 0, `a check should write nothing to the ledger: ${JSON.stringify(entries).slice(0, 300)}`);
  assert.deepEqual(await violations(page), [], "the equipment check page");
  await page.screenshot({ path: join(ARTIFACTS, "equipment-check.png"), fullPage: true });

  // Telling the organisation: nothing failed, so nothing is written for them;
  // the person writes, and it is sent only on their click.
  assert((await page.inputValue("#difficulty-text")) === "", "with everything working, no report should be prepared");
  await page.fill("#difficulty-text", "Ma caméra se coupe parfois ; je préfère vous prévenir avant la séance.");
  await page.click('button[data-action="difficulty-send"]');
  await page.locator('[data-field="difficulty-list"] li').first().waitFor({ timeout: UI_WAIT_MS });
  const reports = await organiser(server, "GET", `/api/sessions/${view.id}/reports`);
  assert(reports.length === 1 && reports[0].author.name === "Karim Benali" && reports[0].text.startsWith("Ma caméra"),
    `the organisation should read Karim's report: ${JSON.stringify(reports).slice(0, 300)}`);

  // The way back to the lobby, and the English page.
  assert((await page.locator('a[data-action="check-to-lobby"]').getAttribute("href")) === `/j/${encodeURIComponent(karim.link.token)}`);
  await page.goto(`${server.url}/e/${encodeURIComponent(karim.link.token)}?lang=en`);
  await page.locator('[data-screen="check"]').waitFor({ timeout: UI_WAIT_MS });
  assert((await textOf(page, "#check-title")) === "Test my equipment");

  // When no path gets through (the server's answers refused here), the page
  // says so and prepares a summary for the organisation, unsent.
  await page.route("**/api/equipment/offer**", (route) => route.fulfill({
    status: 503,
    contentType: "application/json",
    body: JSON.stringify({ code: "at_capacity", message: "the server is running as many equipment checks as it allows" }),
  }));
  await page.goto(`${server.url}/e/${encodeURIComponent(karim.link.token)}`);
  await page.locator('[data-field="check-advice"]:not([hidden])').waitFor({ timeout: MEDIA_WAIT_MS });
  const failed = await page.locator('[data-field="check-advice"] p').first().getAttribute("data-advice");
  assert(failed?.startsWith("check.advice.none"), `the advice should say no path gets through: ${failed}`);
  assert((await page.locator('tr[data-path="direct"]').getAttribute("data-status")) === "failed");
  await page.waitForFunction(() => /** @type {HTMLTextAreaElement} */ (document.querySelector("#difficulty-text")).value.includes("Direct (UDP)"), null, { timeout: MEDIA_WAIT_MS });
  const summary = await page.inputValue("#difficulty-text");
  assert(summary.startsWith("Test de mon équipement :") && summary.includes("très sollicité"), `the prepared summary should say what failed: ${summary}`);
  await page.screenshot({ path: join(ARTIFACTS, "equipment-check-failed.png"), fullPage: true });
  const still = await organiser(server, "GET", `/api/sessions/${view.id}/reports`);
  assert(still.length === 1, "a prepared summary is not sent by itself");
  await page.unroute("**/api/equipment/offer**");

  // A garbage link gets a clear page, not a broken one.
  await page.goto(`${server.url}/e/garbage`);
  await page.locator('[data-screen="check-error"]').waitFor({ timeout: UI_WAIT_MS });
  assert((await textOf(page, '[data-field="check-error"]')).length > 10);
}
