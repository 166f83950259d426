// End-to-end test of the web client in Chromium against the real server.
//
// Starts `cadre demo` (1 facilitator + 3 participants) on a free loopback
// port with ICE restricted to 127.0.0.1, opens one browser context per person
// and checks what people would see: the lobby, decoded video from everyone,
// the invalid and revoked link messages, the languages, and a reload; then
// attendance: the half-day sign-in (the demo session starts now, so its
// window is open), the facilitator's countersignature, "Mes traces" with a
// hidden tab, and the receipts kept in the browser; consents (asked in the
// lobby with nothing pre-selected, recorded, withdrawn in the call); recording (armed by the
// facilitator, started only once all four agreed, shown on every page, stopped by one
// withdrawal, its files listed and checked against their hashes); the documents (a
// participant's certificate and signed proof, the facilitator's attendance
// sheets); session control (a suspension with its reason on every page, no
// outbound video while suspended, a reload landing in it, resuming; the
// facilitator's conditions; a difficulty report answered live; removing a
// participant and ending the session, last); and a sponsor's read-only report
// at /r/{token}.
//
//   CADRE_BIN   the cadre binary (default ../../target/debug/cadre)
//   CHROMIUM    the browser (default /usr/bin/chromium)
//
// Prints `ok - name` / `not ok - name: reason` per test, then one line
// `N passed, N failed`; exits non-zero when any failed. Screenshots (the
// lobby, the facilitator's call and console, a participant's sign-in prompt
// and traces, the recording indicator and the facilitator's recordings, the
// sponsor report on screen and as printed) go to artifacts/ (gitignored).

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const CADRE_BIN = process.env.CADRE_BIN ? resolve(process.env.CADRE_BIN) : resolve(here, "../../target/debug/cadre");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = join(here, "artifacts");

/**
 * The whole run ends by itself, however a page hangs. Four pages encoding and
 * decoding video on two cores take their time: the recording step alone has
 * taken over two minutes with Chromium 156.0.8078.114 here, so the default
 * leaves room; RUN_BUDGET_MS overrides it.
 */
const RUN_BUDGET_MS = Number(process.env.RUN_BUDGET_MS ?? 480_000);
/** How long every page may take to decode every remote video. */
const MEDIA_WAIT_MS = 45_000;
const UI_WAIT_MS = 10_000;

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
  "--allow-loopback-in-peer-connection",
];

let passed = 0;
let failed = 0;
/** Cleanups, run last to first. */
const cleanups = [];

function finish() {
  console.log(`${passed} passed, ${failed} failed`);
}

const budget = setTimeout(async () => {
  console.log(`not ok - run: gave up after ${RUN_BUDGET_MS / 1000} s`);
  failed += 1;
  await cleanup();
  finish();
  process.exit(1);
}, RUN_BUDGET_MS);

async function cleanup() {
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (err) {
      console.error(`# cleanup: ${err.message}`);
    }
  }
}

/** Runs one named test; a failure is reported and the run goes on. */
async function test(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (err) {
    failed += 1;
    const reason = String(err?.message ?? err).split("\n").join("\n#   ");
    console.log(`not ok - ${name}: ${reason}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// ---------------------------------------------------------------------------
// Server

/** Starts `cadre demo` and resolves with its one JSON line. */
function startServer() {
  const dataDir = mkdtempSync(join(tmpdir(), "cadre-e2e-"));
  const child = spawn(
    CADRE_BIN,
    ["demo", "--bind", "127.0.0.1:0", "--data-dir", dataDir, "--json", "--ice-policy", "loopback"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const stderr = [];
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderr.push(chunk);
    if (stderr.length > 200) stderr.shift();
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  return new Promise((resolvePromise, reject) => {
    const tail = () => stderr.join("").split("\n").slice(-15).join("\n#   ");
    const timer = setTimeout(() => reject(new Error(`cadre demo printed nothing in 20 s\n${tail()}`)), 20_000);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${CADRE_BIN}: ${err.message} (build it with: cargo build -p cadre-server)`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`cadre demo exited (${code ?? signal}) before printing its JSON line\n${tail()}`));
    });
    const lines = createInterface({ input: child.stdout });
    lines.once("line", (line) => {
      clearTimeout(timer);
      try {
        const demo = JSON.parse(line);
        assert(typeof demo.url === "string", "no url in the demo line");
        assert(demo.session?.people?.length >= 4, "the demo session should have 4 people");
        resolvePromise({ ...demo, child });
      } catch (err) {
        reject(new Error(`the demo line is not what the test expects: ${err.message}: ${line.slice(0, 200)}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------
// Browser helpers

/** A person's own browser profile, with a log of what the page said. */
async function openPerson(browser, name, url, { locale = "fr-FR" } = {}) {
  const context = await browser.newContext({
    acceptDownloads: true,
    locale,
    viewport: { width: 1280, height: 800 },
    permissions: ["camera", "microphone"],
  });
  const page = await context.newPage();
  const log = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") log.push(`${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => log.push(`pageerror: ${err.message}`));
  await page.goto(url);
  return { name, context, page, log };
}

/** Clicks "Rejoindre la séance" once the lobby is there. */
async function joinFromLobby(person) {
  const join = person.page.locator('button[data-action="join"]');
  await join.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await join.click();
}

/** What a page shows and knows, for failure messages. */
async function describe(person) {
  try {
    const info = await person.page.evaluate(() => {
      const state = /** @type {any} */ (window).cadre?.state?.() ?? {};
      const videos = [...document.querySelectorAll("video[data-peer-id]")].map((v) => ({
        peer: v.dataset.peerId,
        width: v.videoWidth,
        ready: v.readyState,
      }));
      return { connection: state.connection, peers: state.peers, links: state.links, videos };
    });
    const log = person.log.slice(-5).join(" | ");
    return `${person.name}: ${JSON.stringify(info)}${log ? ` log: ${log}` : ""}`;
  } catch (err) {
    return `${person.name}: cannot read the page (${err.message})`;
  }
}

/**
 * Waits until `person` decodes video from exactly `peerIds` (and no one else).
 * `staleConnections` (peer id → connection id) ignores the video of a
 * connection that was replaced, so that only the new one counts.
 */
async function waitForVideos(person, peerIds, timeout, staleConnections = {}) {
  await person.page.waitForFunction(
    ({ ids, stale }) => {
      const videos = [...document.querySelectorAll("video[data-peer-id]")];
      if (videos.length !== ids.length) return false;
      return ids.every((id) =>
        videos.some(
          (v) => v.dataset.peerId === id && v.dataset.connectionId !== stale[id] && v.videoWidth > 0,
        ),
      );
    },
    { ids: peerIds, stale: staleConnections },
    { timeout, polling: 250 },
  );
}

/** Waits for every person to decode everyone else; explains who is missing what. */
async function expectFullMesh(people, ids, timeout, staleConnections = {}) {
  const deadline = Date.now() + timeout;
  const results = await Promise.allSettled(
    people.map((p) =>
      waitForVideos(p, ids.filter((id) => id !== p.id), Math.max(1000, deadline - Date.now()), staleConnections),
    ),
  );
  const missing = [];
  for (const [i, result] of results.entries()) {
    if (result.status === "rejected") missing.push(await describe(people[i]));
  }
  if (missing.length > 0) {
    throw new Error(`not every remote video decoded within ${timeout / 1000} s:\n${missing.join("\n")}`);
  }
}

/** Waits until the page's WebSocket is welcomed. */
async function waitConnected(person) {
  await person.page.waitForFunction(() => /** @type {any} */ (window).cadre.state().connection === "connected", null, {
    timeout: UI_WAIT_MS,
  });
}

/** The receipts this browser keeps for a session. */
async function storedReceipts(person, sid) {
  return person.page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? "[]"), `cadre.receipts.${sid}`);
}

/** A receipt is a compact JWS over a `cadre.tree-head` for this session. */
function checkTreeHead(jws, sid) {
  const parts = String(jws).split(".");
  assert(parts.length === 3, `a receipt should be a compact JWS, got ${String(jws).slice(0, 40)}`);
  const header = JSON.parse(Buffer.from(parts[0], "base64url").toString());
  const payload = JSON.parse(Buffer.from(parts[1], "base64url").toString());
  assert(header.alg === "EdDSA", `the receipt should be signed with EdDSA, is ${header.alg}`);
  assert(payload.typ === "cadre.tree-head" && payload.sid === sid && payload.tree_size > 0,
    `the receipt should be a tree head of this session: ${JSON.stringify(payload)}`);
  return payload;
}

/** Draws a small wave on the signature pad with the mouse. */
async function drawSignature(page) {
  const box = await page.locator("canvas.signature-pad").boundingBox();
  assert(box && box.width > 100 && box.height > 50, `the signature pad should be visible, box ${JSON.stringify(box)}`);
  await page.mouse.move(box.x + 20, box.y + box.height / 2);
  await page.mouse.down();
  for (let i = 1; i <= 24; i++) {
    await page.mouse.move(box.x + 20 + i * 10, box.y + box.height / 2 + Math.sin(i / 2.5) * (box.height / 4));
  }
  await page.mouse.up();
}

/** Pretends the tab went to the background or came back (headless tabs are always visible). */
async function setTabHidden(page, hidden) {
  await page.evaluate((hide) => {
    if (hide) {
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    } else {
      delete (/** @type {any} */ (document)).visibilityState;
      delete (/** @type {any} */ (document)).hidden;
    }
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

/**
 * Fetches what a download link points at, as that browser would (same
 * context), and checks the answer is an attachment of the expected type.
 */
async function fetchLink(page, locator, { status = 200, type }) {
  await locator.waitFor({ state: "attached", timeout: UI_WAIT_MS });
  const href = await locator.getAttribute("href");
  assert(href, "the link should have an address");
  assert((await locator.getAttribute("download")) !== null, `the link to ${href.split("?")[0]} should carry « download »`);
  const url = new URL(href, page.url()).toString();
  const response = await page.context().request.get(url);
  const contentType = response.headers()["content-type"] ?? "";
  const body = await response.body();
  assert(response.status() === status,
    `${href.split("?")[0]} answered HTTP ${response.status()} (${contentType}): ${body.toString("utf8").slice(0, 200)}`);
  assert(contentType.startsWith(type), `${href.split("?")[0]} should be ${type}, is ${contentType}`);
  const disposition = response.headers()["content-disposition"] ?? "";
  assert(/^attachment/.test(disposition), `${href.split("?")[0]} should be an attachment, Content-Disposition: « ${disposition} »`);
  return { href, url, body, headers: response.headers() };
}

async function textOf(page, selector) {
  const el = page.locator(selector).first();
  await el.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  return (await el.innerText()).trim();
}

// ---------------------------------------------------------------------------
// The run

async function main() {
  let demo;
  try {
    demo = await startServer();
  } catch (err) {
    failed += 1;
    console.log(`not ok - server starts: ${err.message}`);
    return;
  }
  const people = demo.session.people;
  const facilitator = people.find((p) => p.role === "facilitator");
  const participants = people.filter((p) => p.role === "participant");
  assert(facilitator && participants.length >= 3, "the demo should have a facilitator and three participants");
  const [karim, sophie, lucas] = participants;

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  cleanups.push(() => browser.close());

  /** The three people in the call (test 1), reused by test 4. */
  let inCall = [];

  await test("lobby is in French by default, English with ?lang=en, switchable live", async () => {
    const fr = await openPerson(browser, "lobby-fr", sophie.link.url, { locale: "fr-FR" });
    try {
      assert((await textOf(fr.page, 'button[data-action="join"]')) === "Rejoindre la séance",
        "the join button should read « Rejoindre la séance »");
      const heading = await textOf(fr.page, "#session-title");
      assert(heading === demo.session.title, `the lobby should show the session title, got ${heading}`);
      const kind = await textOf(fr.page, ".badge[data-kind]");
      assert(kind === "Formation", `the kind should read « Formation », got « ${kind} »`);
      const notice = await textOf(fr.page, ".notice");
      assert(/heures de connexion/.test(notice) && /Jamais le contenu/.test(notice),
        "the notice should say what is recorded (connection times) and what never is (content)");
      const schedule = await textOf(fr.page, '[data-field="schedule"]');
      assert(/heure de Paris/.test(schedule), `the schedule should be in the session's time zone: ${schedule}`);
      assert((await fr.page.getAttribute("html", "lang")) === "fr", "<html lang> should be fr");

      await fr.page.selectOption("#lang-select", "en");
      await fr.page.locator('button[data-action="join"]', { hasText: "Join the session" }).waitFor({ timeout: UI_WAIT_MS });
      assert((await textOf(fr.page, ".notice h2")) === "What the session records, and why",
        "switching to English should translate the notice");
      await fr.context.close();

      // A browser that prefers neither French nor English gets French.
      const de = await openPerson(browser, "lobby-de", sophie.link.url, { locale: "de-DE" });
      assert((await textOf(de.page, 'button[data-action="join"]')) === "Rejoindre la séance",
        "French should be the default for other languages");
      await de.context.close();

      const en = await openPerson(browser, "lobby-en", `${sophie.link.url}?lang=en`, { locale: "fr-FR" });
      assert((await textOf(en.page, 'button[data-action="join"]')) === "Join the session",
        "?lang=en should show « Join the session »");
      assert((await textOf(en.page, ".badge[data-kind]")) === "Training", "the kind should read « Training » in English");
      assert((await en.page.getAttribute("html", "lang")) === "en", "<html lang> should be en");
      await en.page.screenshot({ path: join(ARTIFACTS, "lobby-en.png") });
      await en.context.close();
    } finally {
      await fr.context.close().catch(() => {});
    }
  });

  await test("facilitator and two participants join and decode each other's video", async () => {
    const cast = [
      { ...facilitator, who: "facilitator" },
      { ...karim, who: "participant 1" },
      { ...sophie, who: "participant 2" },
    ];
    for (const p of cast) {
      const person = await openPerson(browser, `${p.who} (${p.name})`, p.link.url);
      person.id = p.id;
      inCall.push(person);
    }
    await inCall[0].page.screenshot({ path: join(ARTIFACTS, "facilitator-lobby.png") });
    await Promise.all(inCall.map(joinFromLobby));
    await expectFullMesh(inCall, inCall.map((p) => p.id), MEDIA_WAIT_MS);
    for (const person of inCall) {
      const state = await person.page.evaluate(() => /** @type {any} */ (window).cadre.state());
      assert(state.connection === "connected", `${person.name} should be connected, is ${state.connection}`);
      assert(state.welcome?.ice_policy === "loopback", `${person.name} should have ice_policy loopback`);
    }
    // Let the last frames settle, then keep a picture for the lead.
    await inCall[0].page.waitForTimeout(1000);
    await inCall[0].page.screenshot({ path: join(ARTIFACTS, "facilitator-call.png") });
  });

  await test("a participant signs in with a drawn signature, the facilitator countersigns, a receipt is kept", async () => {
    assert(inCall.length === 3, "needs the call of the previous test");
    const [fac, signer] = inCall;
    const sid = demo.session.id;
    try {
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
      const other = await fac.page.locator(`#presence-panel li[data-person="${inCall[2].id}"]`).innerText();
      assert(/en attente/.test(other), `someone who has not signed should read « en attente »: ${other}`);
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
    } catch (err) {
      throw new Error(`${err.message}\n${await describe(fac)}\n${await describe(signer)}`);
    }
  });

  await test("« Mes traces » lists the connection, the sign-in and the countersignature, and records a hidden tab", async () => {
    assert(inCall.length === 3, "needs the call of the first test");
    const [, person] = inCall;
    const page = person.page;
    // Signed and countersigned: the sign-in panel can go; the traces take its place.
    await page.click('#signin-panel [data-action="panel-close"]');
    await page.click('button[data-action="traces"]');
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

  await test("a participant downloads their certificate (PDF), signed proof (.jws) and a verification bundle that cadre verify accepts from « Mes traces », and gets no sheet", async () => {
    assert(inCall.length === 3, "needs the call of the first test");
    const [, person] = inCall;
    const page = person.page;
    const sid = demo.session.id;
    const section = page.locator('#traces-panel [data-field="my-documents"]');
    await section.waitFor({ state: "visible", timeout: UI_WAIT_MS });
    const pdfLink = section.locator('a[data-action="download-proof-pdf"]');
    assert((await pdfLink.innerText()).trim() === "Télécharger mon attestation (PDF)",
      `the PDF link should read « Télécharger mon attestation (PDF) », got « ${await pdfLink.innerText()} »`);
    const pdf = await fetchLink(page, pdfLink, { type: "application/pdf" });
    assert(pdf.href.startsWith(`/api/sessions/${sid}/proofs/${person.id}/pdf?token=`) && pdf.href.endsWith("&lang=fr"),
      `the PDF link should be the person's own, in French: ${pdf.href.slice(0, 80)}…`);
    assert(pdf.body.subarray(0, 5).toString() === "%PDF-", "the certificate should be a PDF file");

    const jwsLink = section.locator('a[data-action="download-proof-jws"]');
    assert(/^Attestation signée \(fichier \.jws, vérifiable\)$/.test((await jwsLink.innerText()).trim()),
      `the .jws link should read « Attestation signée (fichier .jws, vérifiable) », got « ${await jwsLink.innerText()} »`);
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
    const verified = spawnSync(CADRE_BIN, ["verify", bundlePath, "--jwks", new URL("/.well-known/jwks.json", demo.url).href], { encoding: "utf8" });
    assert(verified.status === 0 && /✓ receipt 1: the log of \d+ entries the proof was drawn from extends the receipt's \d+ entries/.test(verified.stdout),
      `cadre verify should accept the bundle (exit ${verified.status}): ${verified.stdout}${verified.stderr}`);
    assert(await page.locator('[data-field="bundle-error"]').isHidden(), "no error should show after a good bundle");

    await section.scrollIntoViewIfNeeded();
    await section.screenshot({ path: join(ARTIFACTS, "participant-documents.png") });
    const hint = await textOf(page, '#traces-panel [data-field="verify-hint"]');
    assert(/cadre verify/.test(hint) && /\/\.well-known\/jwks\.json/.test(hint),
      `the panel should say how to check the file (cadre verify, the public key): « ${hint} »`);

    // A click downloads it for real, named by the server.
    const [download] = await Promise.all([page.waitForEvent("download", { timeout: UI_WAIT_MS }), pdfLink.click()]);
    assert(/\.pdf$/.test(download.suggestedFilename()), `the download should be a .pdf, is ${download.suggestedFilename()}`);

    // The document's language follows the page's.
    await page.selectOption("#lang-select", "en");
    await section.locator('a[data-action="download-proof-pdf"]', { hasText: "Download my certificate (PDF)" }).waitFor({ timeout: UI_WAIT_MS });
    assert((await pdfLink.getAttribute("href"))?.endsWith("&lang=en"), "in English, the certificate should be asked for in English");
    await page.selectOption("#lang-select", "fr");
    await section.locator('a[data-action="download-proof-pdf"]', { hasText: "Télécharger mon attestation (PDF)" }).waitFor({ timeout: UI_WAIT_MS });

    // The session's sheets are for facilitators only.
    assert((await page.locator('a[href*="/attendance."]').count()) === 0, "a participant's page should have no attendance sheet link");
    assert((await page.locator("#presence-panel").count()) === 0, "a participant should have no presence console");
    assert((await page.locator('a[data-action="download-proof"]').count()) === 0, "a participant should see no one else's certificate link");
  });

  await test("the facilitator's console lists the absent too, and gives the sheets (PDF, CSV) and each person's certificate", async () => {
    assert(inCall.length === 3, "needs the call of the first test");
    const [fac] = inCall;
    const page = fac.page;
    const control = page.locator('button[data-action="presence"]');
    if ((await control.getAttribute("aria-expanded")) !== "true") await control.click();
    const panel = page.locator("#presence-panel");
    await panel.waitFor({ state: "visible", timeout: UI_WAIT_MS });

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

    const csvLink = panel.locator('a[data-action="download-sheet-csv"]');
    assert((await csvLink.innerText()).trim() === "Feuille d’émargement (CSV)", `the CSV link reads « ${await csvLink.innerText()} »`);
    const csv = await fetchLink(page, csvLink, { type: "text/csv" });
    const text = csv.body.toString("utf8");
    for (const p of participants) assert(text.includes(p.name), `the CSV sheet should name ${p.name}: ${text.slice(0, 300)}`);

    const pdfLink = panel.locator('a[data-action="download-sheet-pdf"]');
    assert((await pdfLink.innerText()).trim() === "Feuille d’émargement (PDF)", `the PDF link reads « ${await pdfLink.innerText()} »`);
    const sheet = await fetchLink(page, pdfLink, { type: "application/pdf" });
    assert(sheet.href.endsWith("&lang=fr") && sheet.body.subarray(0, 5).toString() === "%PDF-", "the sheet should be a French PDF");

    // Each person's certificate, the absent's too.
    const proofLink = absent.locator('a[data-action="download-proof"]');
    assert((await proofLink.getAttribute("aria-label")) === `Attestation de ${lucas.name} (PDF)`,
      `the certificate link should name the person for screen readers: ${await proofLink.getAttribute("aria-label")}`);
    const proof = await fetchLink(page, proofLink, { type: "application/pdf" });
    assert(proof.href.startsWith(`/api/sessions/${demo.session.id}/proofs/${lucas.id}/pdf?`), `the link should be Lucas's certificate: ${proof.href.slice(0, 80)}`);
    await panel.screenshot({ path: join(ARTIFACTS, "facilitator-documents.png") });
  });

  await test("a participant who reloads comes back, with video on both sides", async () => {
    assert(inCall.length === 3, "needs the call of the previous test");
    const [fac, reloader] = inCall;
    // The reloader's connection as the others see it now: only a new one counts.
    const before = await fac.page.evaluate(
      (id) => document.querySelector(`video[data-peer-id="${id}"]`)?.dataset.connectionId,
      reloader.id,
    );
    assert(before, "the facilitator's page should show the reloader's connection id");
    await reloader.page.reload();
    await joinFromLobby(reloader);
    await expectFullMesh(inCall, inCall.map((p) => p.id), MEDIA_WAIT_MS, { [reloader.id]: before });
  });

  await test("toggling the camera off shows it to the others", async () => {
    assert(inCall.length === 3, "needs the call of the first test");
    const [fac, karimPage] = inCall;
    await karimPage.page.click('button[data-action="camera"]');
    await fac.page.waitForSelector(`figure.tile[data-tile="${karimPage.id}"][data-camera="off"]`, { timeout: UI_WAIT_MS });
    await karimPage.page.click('button[data-action="camera"]');
    await fac.page.waitForSelector(`figure.tile[data-tile="${karimPage.id}"][data-camera="on"]`, { timeout: UI_WAIT_MS });
  });

  await test("the facilitator suspends with a reason; every page shows it and stops sending video; a reload lands in the suspension; resuming restores the call; conditions and difficulty reports", async () => {
    assert(inCall.length === 3, "needs the call of the first test");
    const [fac, karimPage, sophiePage] = inCall;
    const participantsInCall = [karimPage, sophiePage];
    const reason = "Coupure réseau chez plusieurs participants : nous reprenons dans dix minutes.";
    const state = (person) => person.page.evaluate(() => /** @type {any} */ (window).cadre.state());
    const frames = (person) => person.page.evaluate(() => /** @type {any} */ (window).cadre.outboundVideo());
    const bar = (person) => person.page.locator('[data-field="session-state"]');
    /** Outbound video frames twice, ~1.5 s apart. */
    const framesOver = async (person) => {
      const a = await frames(person);
      await person.page.waitForTimeout(1500);
      const b = await frames(person);
      return { a, b };
    };
    /** Every outbound sender has no track (replaceTrack(null) done). */
    const senderless = (person) => person.page.waitForFunction(async () => {
      const v = await /** @type {any} */ (window).cadre.outboundVideo();
      return v && v.senders.length > 0 && v.senders.every((s) => !s.track);
    }, null, { timeout: UI_WAIT_MS, polling: 200 });
    try {
      // The console: a score for each participant, from figures the browsers send.
      await fac.page.click('button[data-action="session"]');
      const panel = fac.page.locator("#session-panel");
      await panel.waitFor({ state: "visible", timeout: UI_WAIT_MS });
      await fac.page.waitForFunction((ids) => {
        const people = /** @type {any} */ (window).cadre.state().quality?.people ?? {};
        return ids.every((id) => people[id] && typeof people[id].figures?.rtt_ms === "number");
      }, participantsInCall.map((p) => p.id), { timeout: 20_000, polling: 250 });
      for (const p of participantsInCall) {
        const row = panel.locator(`li.quality-row[data-person="${p.id}"]`);
        await row.waitFor({ timeout: UI_WAIT_MS });
        const score = await row.getAttribute("data-score");
        assert(["excellent", "good", "poor", "lost"].includes(score ?? ""), `${p.name}: a score should be shown, got ${score}`);
        const text = await row.innerText();
        assert(/(Excellente|Bonne|Médiocre|Perdue)/.test(text) && /délai \d+ ms/.test(text),
          `${p.name}'s row should give the score in words and the figures: « ${text} »`);
      }
      await panel.screenshot({ path: join(ARTIFACTS, "facilitator-conditions.png") });
      // A participant sees what is reported about them.
      await karimPage.page.click('button[data-action="connection"]');
      await karimPage.page.locator('#connection-panel [data-field="my-connection"] .score[data-score]').waitFor({ timeout: 15_000 });

      // Frames flow before.
      for (const person of inCall) {
        const { a, b } = await framesOver(person);
        assert(b.framesEncoded > a.framesEncoded, `${person.name} should send video before the suspension: ${JSON.stringify({ a, b })}`);
      }

      // Suspend: the reason is required.
      await panel.locator('button[data-action="control-suspend"]').click();
      const dialog = fac.page.locator('dialog[data-dialog="suspend"]');
      await dialog.waitFor({ state: "visible", timeout: UI_WAIT_MS });
      const confirm = dialog.locator('button[data-action="control-confirm"]');
      assert(await confirm.isDisabled(), "« Suspendre la séance » should be disabled without a reason");
      await dialog.locator("#control-reason").fill("   ");
      assert(await confirm.isDisabled(), "a blank reason is no reason");
      await dialog.locator("#control-reason").fill(reason);
      assert(await confirm.isEnabled(), "with a reason, the confirmation should be possible");
      const clicked = Date.now();
      await confirm.click();
      await dialog.waitFor({ state: "detached", timeout: UI_WAIT_MS });

      // Every page: the banner with who, when, why.
      const expected = new RegExp(`^Séance suspendue par ${facilitator.name} à \\d\\d:\\d\\d : ${reason.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
      await Promise.all(inCall.map(async (person) => {
        await person.page.locator('[data-field="session-state"][data-state="suspended"]').waitFor({ timeout: UI_WAIT_MS });
        const text = await textOf(person.page, '[data-field="session-state-text"]');
        assert(expected.test(text), `${person.name} should read « Séance suspendue par ${facilitator.name} à HH:MM : ${reason} », reads « ${text} »`);
      }));
      console.log(`# the suspension showed on every page ${Date.now() - clicked} ms after the click`);
      await karimPage.page.screenshot({ path: join(ARTIFACTS, "participant-suspended.png") });

      // Nothing leaves any browser.
      for (const person of inCall) {
        await senderless(person);
        const { a, b } = await framesOver(person);
        assert(b.framesEncoded === a.framesEncoded && b.framesSent === a.framesSent,
          `${person.name} should send no video while suspended: ${JSON.stringify({ a: { e: a.framesEncoded, s: a.framesSent }, b: { e: b.framesEncoded, s: b.framesSent } })}`);
        const s = await state(person);
        assert(s.session?.state === "suspended" && s.session.notice?.reason === reason, `${person.name}'s page should know: ${JSON.stringify(s.session)}`);
      }

      // A reload during the suspension lands in it, with the reason, sending nothing.
      const before = await fac.page.evaluate((id) => document.querySelector(`video[data-peer-id="${id}"]`)?.dataset.connectionId, sophiePage.id);
      await sophiePage.page.reload();
      await joinFromLobby(sophiePage);
      await waitConnected(sophiePage);
      await bar(sophiePage).and(sophiePage.page.locator('[data-state="suspended"]')).waitFor({ timeout: UI_WAIT_MS });
      const after = await textOf(sophiePage.page, '[data-field="session-state-text"]');
      assert(expected.test(after), `after a reload, the banner should read the same: « ${after} »`);
      await sophiePage.page.waitForFunction(() => {
        const links = Object.values(/** @type {any} */ (window).cadre.state().links);
        return links.length === 2 && links.every((l) => l === "connected");
      }, null, { timeout: MEDIA_WAIT_MS });
      await senderless(sophiePage);
      const reloaded = await framesOver(sophiePage);
      assert(reloaded.b.framesEncoded === reloaded.a.framesEncoded, `a page reloaded during the suspension should send no video: ${JSON.stringify(reloaded)}`);

      // Resume: video again, without renegotiation.
      await panel.locator('button[data-action="control-resume"]').click();
      const resume = fac.page.locator('dialog[data-dialog="resume"]');
      await resume.waitFor({ state: "visible", timeout: UI_WAIT_MS });
      await resume.locator("#control-reason").fill("Le réseau est revenu.");
      await resume.locator('button[data-action="control-confirm"]').click();
      await resume.waitFor({ state: "detached", timeout: UI_WAIT_MS });
      await Promise.all(inCall.map(async (person) => {
        await person.page.locator('[data-field="session-state"][data-action="resume"]').waitFor({ timeout: UI_WAIT_MS });
        const text = await textOf(person.page, '[data-field="session-state-text"]');
        assert(/^Séance reprise par .+ à \d\d:\d\d : Le réseau est revenu\.$/.test(text), `${person.name} should read the resumption: « ${text} »`);
      }));
      for (const person of inCall) {
        await person.page.waitForFunction(async () => {
          const v = await /** @type {any} */ (window).cadre.outboundVideo();
          return v && v.senders.some((s) => s.track);
        }, null, { timeout: UI_WAIT_MS, polling: 200 });
        const { a, b } = await framesOver(person);
        assert(b.framesEncoded > a.framesEncoded && b.framesSent > a.framesSent, `${person.name} should send video again: ${JSON.stringify({ a, b })}`);
      }
      await expectFullMesh(inCall, inCall.map((p) => p.id), MEDIA_WAIT_MS, { [sophiePage.id]: before });
      for (const person of inCall) {
        const t0 = await person.page.evaluate(() => [...document.querySelectorAll("video[data-peer-id]")].map((v) => v.currentTime));
        await person.page.waitForTimeout(1000);
        const t1 = await person.page.evaluate(() => [...document.querySelectorAll("video[data-peer-id]")].map((v) => ({ t: v.currentTime, w: v.videoWidth })));
        assert(t1.length === 2 && t1.every((v, i) => v.w > 0 && v.t > t0[i]), `${person.name}'s remote videos should play again: ${JSON.stringify({ t0, t1 })}`);
      }

      // A difficulty, filed in the call, answered in writing by the organiser, seen live.
      await karimPage.page.click('button[data-action="difficulty"]');
      const difficulty = karimPage.page.locator("#difficulty-panel");
      await difficulty.waitFor({ state: "visible", timeout: UI_WAIT_MS });
      const send = difficulty.locator('button[data-action="difficulty-send"]');
      assert(await send.isDisabled(), "« Envoyer » should wait for a message");
      await difficulty.locator("#difficulty-text").fill("Le son a coupé pendant la suspension.");
      await send.click();
      const item = difficulty.locator('li.difficulty[data-status="open"]', { hasText: "Le son a coupé pendant la suspension." });
      await item.waitFor({ timeout: UI_WAIT_MS });
      const rid = await item.getAttribute("data-report");
      const answered = await fetch(`${demo.url}/api/sessions/${demo.session.id}/reports/${rid}/answer`, {
        method: "POST",
        headers: { authorization: `Bearer ${demo.organiser_token}`, "content-type": "application/json" },
        body: JSON.stringify({ answer: "Merci, nous avons vérifié le serveur.", close: false }),
      });
      assert(answered.ok, `answering answered HTTP ${answered.status}: ${await answered.text()}`);
      await difficulty.locator(`li.difficulty[data-report="${rid}"][data-status="answered"]`, { hasText: "Merci, nous avons vérifié le serveur." })
        .waitFor({ timeout: UI_WAIT_MS });
      await difficulty.screenshot({ path: join(ARTIFACTS, "participant-difficulty.png") });
    } catch (err) {
      throw new Error(`${err.message}\n${(await Promise.all(inCall.map(describe))).join("\n")}`);
    }
  });

  await test("leaving shows « vous avez quitté », the others drop the tile, and « rejoindre » comes back", async () => {
    assert(inCall.length === 3, "needs the call of the first test");
    const [fac, , leaver] = inCall;
    await leaver.page.click('button[data-action="leave"]');
    await leaver.page.locator("#left-title", { hasText: "Vous avez quitté la séance" }).waitFor({ timeout: UI_WAIT_MS });
    await fac.page.waitForFunction(
      (id) => !document.querySelector(`video[data-peer-id="${id}"]`),
      leaver.id,
      { timeout: UI_WAIT_MS },
    );
    const state = await leaver.page.evaluate(() => /** @type {any} */ (window).cadre.state());
    assert(state.connection === "left", `the leaver's connection should be « left », is ${state.connection}`);
    // The departure's receipt came before the « left » screen, and is kept.
    const note = await textOf(leaver.page, '[data-field="left-receipt"]');
    assert(/Un reçu de votre départ est conservé/.test(note), `the left screen should mention the receipt, got « ${note} »`);
    const receipts = await storedReceipts(leaver, demo.session.id);
    const departure = receipts.filter((r) => r.kind === "leave");
    assert(departure.length === 1, `one departure receipt should be kept, got ${JSON.stringify(receipts)}`);
    checkTreeHead(departure[0].tree_head, demo.session.id);

    // « Rejoindre à nouveau » goes back through the lobby into the call.
    const before = await fac.page.evaluate(() => /** @type {any} */ (window).cadre.state().peers.length);
    assert(before === 1, `the facilitator should see one peer after the departure, sees ${before}`);
    await leaver.page.click('button[data-action="rejoin"]');
    await joinFromLobby(leaver);
    await expectFullMesh(inCall, inCall.map((p) => p.id), MEDIA_WAIT_MS);
  });

  for (const person of inCall) await person.context.close().catch(() => {});
  inCall = [];

  await test("joining with the camera off shows an avatar; turning it on sends video", async () => {
    const fac = await openPerson(browser, `facilitator (${facilitator.name})`, facilitator.link.url);
    const shy = await openPerson(browser, `participant 1 (${karim.name})`, karim.link.url);
    try {
      // Uncheck « Entrer avec la caméra activée » once the browser gave the devices.
      await shy.page.locator("#join-camera:not([disabled])").waitFor({ timeout: UI_WAIT_MS });
      await shy.page.uncheck("#join-camera");
      await Promise.all([joinFromLobby(fac), joinFromLobby(shy)]);
      const tile = fac.page.locator(`figure.tile[data-tile="${karim.id}"]`);
      await tile.waitFor({ timeout: UI_WAIT_MS });
      await fac.page.waitForFunction(
        (id) => /** @type {any} */ (window).cadre.state().links[id] === "connected",
        karim.id,
        { timeout: MEDIA_WAIT_MS },
      );
      assert((await tile.getAttribute("data-camera")) === "off", "the facilitator should see the camera as off");
      assert(await tile.locator(".tile-avatar").isVisible(), "the facilitator should see an avatar instead of video");
      await shy.page.click('button[data-action="camera"]');
      await fac.page.waitForFunction(
        (id) => {
          const v = document.querySelector(`video[data-peer-id="${id}"]`);
          return v instanceof HTMLVideoElement && v.videoWidth > 0 && v.closest("figure")?.dataset.camera === "on";
        },
        karim.id,
        { timeout: UI_WAIT_MS },
      );
    } catch (err) {
      throw new Error(`${err.message}\n${await describe(fac)}\n${await describe(shy)}`);
    } finally {
      await fac.context.close();
      await shy.context.close();
    }
  });

  /** Sophie's page for the two consent tests. */
  let consenting = null;

  await test("the lobby asks for the recording agreement with neither choice selected, joining not depending on it", async () => {
    consenting = await openPerson(browser, `participant 2 (${sophie.name})`, sophie.link.url);
    const page = consenting.page;
    const block = page.locator('[data-field="lobby-consents"]');
    await block.waitFor({ state: "visible", timeout: UI_WAIT_MS });
    assert((await textOf(page, "#consents-title")) === "Vos accords", "the block should be titled « Vos accords »");
    const kinds = await block.locator("fieldset[data-consent]").evaluateAll((els) => els.map((el) => el.getAttribute("data-consent")));
    assert(JSON.stringify(kinds) === '["recording"]', `without a sponsor only the recording consent should be asked, got ${JSON.stringify(kinds)}`);
    const text = await textOf(page, 'fieldset[data-consent="recording"] .consent-text');
    assert(/^J'accepte que cette séance soit enregistrée/.test(text), `the French wording should be shown, got « ${text} »`);
    const granted = page.locator("#lobby-consent-recording-granted");
    const refused = page.locator("#lobby-consent-recording-refused");
    assert(!(await granted.isChecked()) && !(await refused.isChecked()), "neither choice should be pre-selected");
    assert((await textOf(page, 'label[for="lobby-consent-recording-granted"]')) === "J’accepte", "« J’accepte » should be offered");
    assert((await textOf(page, 'label[for="lobby-consent-recording-refused"]')) === "Je refuse", "« Je refuse » should be offered");
    const boxes = await Promise.all(["granted", "refused"].map((c) => page.locator(`label[for="lobby-consent-recording-${c}"]`).boundingBox()));
    assert(boxes[0] && boxes[1] && Math.abs(boxes[0].width - boxes[1].width) < 2 && Math.abs(boxes[0].height - boxes[1].height) < 2,
      `the two choices should weigh the same: ${JSON.stringify(boxes)}`);
    const free = await textOf(page, ".consents-free");
    assert(/quels que soient vos choix/.test(free) && /à tout moment pendant la séance/.test(free),
      `the block should say joining does not depend on it and it can be changed in the call, got « ${free} »`);
    assert(await page.locator('button[data-action="join"]').isEnabled(), "joining should be possible without choosing");
    // In English, the English wording.
    await page.selectOption("#lang-select", "en");
    await page.locator('fieldset[data-consent="recording"] .consent-text', { hasText: /^I agree that this session is recorded/ }).waitFor({ timeout: UI_WAIT_MS });
    await page.selectOption("#lang-select", "fr");
    await block.screenshot({ path: join(ARTIFACTS, "lobby-consents.png") });
  });

  await test("an agreement given in the lobby is recorded after joining, shown in « Mes accords » and « Mes traces », then withdrawn; a reload shows the refusal", async () => {
    assert(consenting, "needs the lobby of the previous test");
    const { page } = consenting;
    try {
      await page.click('label[for="lobby-consent-recording-granted"]');
      assert(await page.locator("#lobby-consent-recording-granted").isChecked(), "« J’accepte » should be selected");
      await joinFromLobby(consenting);
      await waitConnected(consenting);

      await page.click('button[data-action="consents"]');
      const panel = page.locator("#consents-panel");
      await panel.waitFor({ state: "visible", timeout: UI_WAIT_MS });
      await panel.locator('[data-field="consent-status"]', { hasText: /^Accord enregistré à \d\d:\d\d\.$/ }).waitFor({ timeout: UI_WAIT_MS });
      assert(await page.locator("#call-consent-recording-granted").isChecked(), "« Mes accords » should show the agreement");
      const state = await page.evaluate(() => /** @type {any} */ (window).cadre.state().consents);
      assert(state?.recording?.granted === true && state.recording.pending === 0, `the page should know the agreement: ${JSON.stringify(state)}`);

      await page.click('button[data-action="traces"]');
      await page.locator('#traces-panel li[data-kind="consent"]', { hasText: "accord pour l’enregistrement donné" }).waitFor({ timeout: UI_WAIT_MS });

      // Withdrawing is one click, and counts once the server says so.
      await page.click('label[for="call-consent-recording-refused"]');
      await panel.locator('[data-field="consent-status"]', { hasText: /^Refus enregistré à \d\d:\d\d\.$/ }).waitFor({ timeout: UI_WAIT_MS });
      assert(await page.locator("#call-consent-recording-refused").isChecked(), "« Je refuse » should be selected");
      await page.locator('#traces-panel li[data-kind="consent"]', { hasText: "accord pour l’enregistrement retiré" }).waitFor({ timeout: UI_WAIT_MS });
      await page.screenshot({ path: join(ARTIFACTS, "participant-consents.png") });

      // The server alone says it (false: refused), not anything this browser kept.
      await page.evaluate(() => localStorage.clear());
      await page.reload();
      await page.locator('[data-field="lobby-consents"]').waitFor({ state: "visible", timeout: UI_WAIT_MS });
      assert(await page.locator("#lobby-consent-recording-refused").isChecked(), "after a reload the lobby should show the refusal");
      assert(!(await page.locator("#lobby-consent-recording-granted").isChecked()), "after a reload « J’accepte » should not be selected");
    } catch (err) {
      throw new Error(`${err.message}\n${await describe(consenting)}`);
    } finally {
      await consenting.context.close().catch(() => {});
    }
  });

  await test("recording: armed, it waits for everyone's agreement, shows on every page, stops at once on a withdrawal; the files are listed and match their hashes", async () => {
    const sid = demo.session.id;
    const cast = [
      { ...facilitator, who: "facilitator" },
      { ...karim, who: "participant 1" },
      { ...sophie, who: "participant 2" },
      { ...lucas, who: "participant 3" },
    ];
    const room = [];
    /** The facilitator's list, as the server gives it (node's fetch: no browser involved). */
    const listRecordings = async () => {
      const response = await fetch(`${demo.url}/api/sessions/${sid}/recordings?token=${encodeURIComponent(facilitator.link.token)}`);
      const text = await response.text();
      assert(response.ok, `GET /api/sessions/${sid}/recordings answered HTTP ${response.status}: ${text.slice(0, 200)}`);
      const list = JSON.parse(text);
      assert(Array.isArray(list.segments), `the recordings list should have « segments »: ${text.slice(0, 200)}`);
      return list;
    };
    const recording = (person) => person.page.evaluate(() => /** @type {any} */ (window).cadre.state().recording);
    const bar = (person, state) => person.page.locator(`[data-field="recording-indicator"][data-state="${state}"]`);
    const waiting = (n) => n === 1
      ? "Enregistrement demandé : 1 personne n’a pas encore donné son accord"
      : `Enregistrement demandé : ${n} personnes n’ont pas encore donné leur accord`;
    /** Nobody is told they are being recorded, nothing is recorded. */
    const expectNotRecording = async (when) => {
      for (const person of room) {
        const state = await recording(person);
        assert(state && !state.active && !state.publishing, `${when}: ${person.name} should not be recording: ${JSON.stringify(state)}`);
        assert((await bar(person, "active").count()) === 0, `${when}: ${person.name} should show no « enregistrement en cours »`);
        assert(!(await person.page.title()).startsWith("●"), `${when}: ${person.name}'s tab title should not say recording`);
      }
      const list = await listRecordings();
      const files = list.segments.flatMap((s) => s.files);
      assert(list.segments.length === 0 && files.length === 0, `${when}: nothing should be recorded yet: ${JSON.stringify(list).slice(0, 300)}`);
    };
    /** "J’accepte" in « Mes accords », recorded. */
    const agree = async (person, granted = true) => {
      const control = person.page.locator('button[data-action="consents"]');
      if ((await control.getAttribute("aria-expanded")) !== "true") await control.click();
      await person.page.click(`label[for="call-consent-recording-${granted ? "granted" : "refused"}"]`);
      const recorded = granted ? /^Accord enregistré à \d\d:\d\d\.$/ : /^Refus enregistré à \d\d:\d\d\.$/;
      await person.page.locator('#consents-panel [data-field="consent-status"]', { hasText: recorded }).waitFor({ timeout: UI_WAIT_MS });
    };
    try {
      for (const p of cast) {
        const person = await openPerson(browser, `${p.who} (${p.name})`, p.link.url);
        person.id = p.id;
        room.push(person);
      }
      const [fac, karimPage, sophiePage, lucasPage] = room;
      // The lobby shows what the server says: Sophie refused earlier, Karim never decided.
      await sophiePage.page.locator('[data-field="lobby-consents"]').waitFor({ timeout: UI_WAIT_MS });
      assert(await sophiePage.page.locator("#lobby-consent-recording-refused").isChecked(), "Sophie's earlier refusal should be selected in a fresh browser");
      await karimPage.page.locator('[data-field="lobby-consents"]').waitFor({ timeout: UI_WAIT_MS });
      assert(!(await karimPage.page.locator("#lobby-consent-recording-granted").isChecked())
        && !(await karimPage.page.locator("#lobby-consent-recording-refused").isChecked()), "Karim never decided: nothing should be selected");

      await Promise.all(room.map(joinFromLobby));
      await Promise.all(room.map(waitConnected));
      await Promise.all(room.map((person) => person.page.waitForFunction(
        () => /** @type {any} */ (window).cadre.state().peers.length === 3, null, { timeout: UI_WAIT_MS })));
      for (const person of room) {
        const welcome = await person.page.evaluate(() => /** @type {any} */ (window).cadre.state().welcome?.recording);
        assert(welcome && welcome.armed === false && welcome.active === false,
          `${person.name}: the welcome should carry « recording » {armed: false, active: false}, got ${JSON.stringify(welcome)}`);
        assert(await person.page.locator('[data-field="recording-indicator"]').isHidden(), `${person.name}: no recording line before it is asked for`);
      }
      for (const person of [karimPage, sophiePage, lucasPage]) {
        assert((await person.page.locator('#recording-panel, button[data-action="recording"]').count()) === 0,
          `${person.name}: a participant should have no recording panel`);
      }

      // The facilitator asks for the recording.
      await fac.page.click('button[data-action="recording"]');
      await fac.page.locator("#recording-panel").waitFor({ state: "visible", timeout: UI_WAIT_MS });
      assert((await textOf(fac.page, '[data-field="recording-state"]')) === "Enregistrement non demandé.", "the panel should say recording is not asked for");
      await fac.page.click('#recording-panel button[data-action="recording-arm"]');
      await bar(fac, "waiting").filter({ hasText: waiting(4) }).waitFor({ timeout: UI_WAIT_MS });
      await fac.page.locator('#recording-panel button[data-action="recording-disarm"]', { hasText: "Arrêter l’enregistrement" }).waitFor({ timeout: UI_WAIT_MS });
      for (const person of [karimPage, sophiePage, lucasPage]) {
        await bar(person, "waiting").filter({ hasText: "En attente de l’accord de chacun pour enregistrer" }).waitFor({ timeout: UI_WAIT_MS });
        const text = await person.page.locator('[data-field="recording-indicator"]').innerText();
        assert(!/\d/.test(text) && !people.some((p) => text.includes(p.name)), `a participant should never be told who or how many: « ${text} »`);
      }
      await expectNotRecording("armed, nobody agreed");

      // One by one: until the last agrees, nothing is recorded.
      for (const [i, person] of [fac, karimPage, sophiePage].entries()) {
        await agree(person);
        await bar(fac, "waiting").filter({ hasText: waiting(3 - i) }).waitFor({ timeout: UI_WAIT_MS });
        await expectNotRecording(`after ${person.name} agreed`);
      }

      // The last one agrees: every page says so, and every browser publishes.
      await agree(lucasPage);
      await Promise.all(room.map((person) => bar(person, "active").filter({ hasText: /^Enregistrement en cours/ }).waitFor({ timeout: UI_WAIT_MS })));
      for (const person of room) {
        assert((await person.page.title()).startsWith("● "), `${person.name}'s tab title should start with « ● » while recording`);
        assert((await person.page.locator('[data-field="recording-indicator"] [role="status"]').count()) === 1, "the indicator should be a status region");
      }
      const states = await Promise.all(room.map(recording));
      const segment = states[0].segment;
      assert(typeof segment === "number" && states.every((s) => s.active && s.segment === segment),
        `every page should record the same segment: ${JSON.stringify(states)}`);
      await Promise.all(room.map((person) => person.page.waitForFunction(
        () => /** @type {any} */ (window).cadre.state().recording?.publishing === true, null, { timeout: 20_000 })
        .catch(async () => { throw new Error(`${person.name} does not publish to the recorder: ${JSON.stringify(await recording(person))} ${person.log.slice(-3).join(" | ")}`); })));
      assert(/^Enregistrement en cours depuis \d\d:\d\d \(séquence \d+\)$/.test(await textOf(fac.page, '[data-field="recording-state"]')),
        `the facilitator's panel should say it runs: « ${await textOf(fac.page, '[data-field="recording-state"]')} »`);
      await karimPage.page.screenshot({ path: join(ARTIFACTS, "recording-indicator.png") });
      await fac.page.screenshot({ path: join(ARTIFACTS, "recording-facilitator.png") });
      // A few seconds of picture and sound.
      await fac.page.waitForTimeout(3000);

      // Lucas withdraws: it stops at once, on every page.
      const withdrawn = Date.now();
      await agree(lucasPage, false);
      await Promise.all(room.map((person) => person.page.waitForFunction(() => {
        const s = /** @type {any} */ (window).cadre.state().recording;
        return s && !s.active && !s.publishing && !document.querySelector('[data-field="recording-indicator"][data-state="active"]')
          && !document.title.startsWith("●");
      }, null, { timeout: UI_WAIT_MS })));
      console.log(`# recording stopped on every page ${Date.now() - withdrawn} ms after the withdrawal was clicked`);
      // Still asked for: the facilitator sees one missing agreement, the others wait.
      await bar(fac, "waiting").filter({ hasText: waiting(1) }).waitFor({ timeout: UI_WAIT_MS });
      await bar(karimPage, "waiting").filter({ hasText: "En attente de l’accord de chacun pour enregistrer" }).waitFor({ timeout: UI_WAIT_MS });

      // One closed segment, with an .ivf (picture) and an .ogg (sound) from each person.
      let list;
      let closed;
      const deadline = Date.now() + 15_000;
      for (;;) {
        list = await listRecordings();
        closed = list.segments.find((s) => s.segment === segment);
        if (closed && closed.closed_at !== null && closed.files.length >= 2 * cast.length) break;
        if (Date.now() > deadline) throw new Error(`segment ${segment} should be closed with ${2 * cast.length} files: ${JSON.stringify(list).slice(0, 600)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      assert(list.segments.length === 1, `one segment should be listed, got ${list.segments.length}`);
      const name = (f) => f.file ?? f.name;
      for (const p of cast) {
        const mine = closed.files.filter((f) => f.participant === p.id);
        const video = mine.filter((f) => f.track === "video" && /\.ivf$/.test(name(f)));
        const audio = mine.filter((f) => f.track === "audio" && /\.ogg$/.test(name(f)));
        assert(video.length === 1 && audio.length === 1, `${p.name} should have one .ivf and one .ogg: ${JSON.stringify(mine)}`);
      }
      /** Downloads a listed file and checks its size and SHA-256 against the list. */
      const download = async (file) => {
        assert(typeof file.url === "string" && file.url.length > 0, `${name(file)} should have a download address`);
        const response = await fetch(new URL(file.url, demo.url));
        const bytes = Buffer.from(await response.arrayBuffer());
        assert(response.ok, `${name(file)} answered HTTP ${response.status}: ${bytes.toString("utf8").slice(0, 200)}`);
        assert(bytes.length === file.bytes, `${name(file)}: ${bytes.length} bytes downloaded, ${file.bytes} listed`);
        const sha256 = createHash("sha256").update(bytes).digest("hex");
        assert(sha256 === file.sha256, `${name(file)}: SHA-256 ${sha256}, listed ${file.sha256}`);
        return bytes;
      };
      const ivfFile = closed.files.find((f) => f.participant === karim.id && f.track === "video");
      const ivf = await download(ivfFile);
      assert(ivf.subarray(0, 4).toString("latin1") === "DKIF", `the .ivf should start with DKIF, starts with ${JSON.stringify(ivf.subarray(0, 4).toString("latin1"))}`);
      const frames = ivf.readUInt32LE(24);
      assert(frames > 0, `the .ivf should hold frames, its header says ${frames}`);
      // Frames carry the browser's RTP times (1/90000 s), so the file plays at the pace it was sent.
      assert(ivf.readUInt32LE(16) === 90000 && ivf.readUInt32LE(20) === 1, `the .ivf time base should be 1/90000, is ${ivf.readUInt32LE(20)}/${ivf.readUInt32LE(16)}`);
      const stamps = [];
      for (let at = 32; at + 12 <= ivf.length; at += 12 + ivf.readUInt32LE(at)) stamps.push(Number(ivf.readBigUInt64LE(at + 4)));
      assert(stamps.length === frames, `the .ivf header counts ${frames} frames, ${stamps.length} are present`);
      assert(stamps.every((t, i) => i === 0 || t > stamps[i - 1]), `the .ivf stamps should only go forward: ${stamps.slice(0, 20).join(", ")}…`);
      const span = (stamps[stamps.length - 1] - stamps[0]) / 90000;
      const oggFile = closed.files.find((f) => f.participant === lucas.id && f.track === "audio");
      const ogg = await download(oggFile);
      assert(ogg.subarray(0, 4).toString("latin1") === "OggS", "the .ogg should start with OggS");
      assert(ogg.includes(Buffer.from("OpusHead")), "the .ogg should be Opus (OpusHead)");
      console.log(`# segment ${segment}: ${closed.files.length} files, Karim's video ${frames} frames over ${span.toFixed(2)} s (${ivf.length} bytes), Lucas's sound ${ogg.length} bytes, reason ${closed.reason}`);

      // The facilitator's panel lists them, with the same addresses.
      const links = fac.page.locator('#recording-panel a[data-action="download-recording"]');
      await fac.page.click('#recording-panel button[data-action="recordings-refresh"]');
      await fac.page.waitForFunction((n) => document.querySelectorAll('#recording-panel a[data-action="download-recording"]').length === n,
        closed.files.length, { timeout: UI_WAIT_MS });
      const link = links.and(fac.page.locator(`[data-person="${karim.id}"][data-track="video"]`));
      assert((await link.getAttribute("href")) === ivfFile.url, "the panel's link should be the listed address");
      const label = (await link.innerText()).trim();
      assert(label.startsWith(`${karim.name} — image (.ivf,`), `the link should say whose picture it is: « ${label} »`);
      const viaPage = await fac.page.context().request.get(new URL(ivfFile.url, demo.url).toString());
      assert(createHash("sha256").update(await viaPage.body()).digest("hex") === ivfFile.sha256, "the file through the page should match too");
      const section = fac.page.locator('#recording-panel [data-field="recordings"]');
      await section.scrollIntoViewIfNeeded();
      await section.screenshot({ path: join(ARTIFACTS, "recording-list.png") });
      // A participant may not have the list.
      const refused = await fetch(`${demo.url}/api/sessions/${sid}/recordings?token=${encodeURIComponent(karim.link.token)}`);
      assert(refused.status === 403, `a participant asking for the recordings should get 403, got ${refused.status}`);

      // Disarmed: the line goes from every page.
      await fac.page.click('#recording-panel button[data-action="recording-disarm"]');
      await Promise.all(room.map((person) => person.page.locator('[data-field="recording-indicator"]').waitFor({ state: "hidden", timeout: UI_WAIT_MS })));
    } catch (err) {
      const described = await Promise.all(room.map(async (p) => `${await describe(p)} recording: ${JSON.stringify(await recording(p).catch(() => null))}`));
      throw new Error(`${err.message}\n${described.join("\n")}`);
    } finally {
      for (const person of room) await person.context.close().catch(() => {});
    }
  });

  await test("a sponsor's report shows the aggregates, no one's name, and prints; a garbage report link is refused", async () => {
    const created = await fetch(`${demo.url}/api/sessions/${demo.session.id}/sponsor-link`, {
      method: "POST",
      headers: { authorization: `Bearer ${demo.organiser_token}` },
    });
    const createdText = await created.text();
    assert(created.ok, `POST sponsor-link answered HTTP ${created.status}: ${createdText.slice(0, 200)}`);
    const link = JSON.parse(createdText);
    assert(typeof link.url === "string" && typeof link.token === "string" && /\/r\//.test(link.url),
      `the sponsor link should be {url, token, expires_at} with a /r/ address: ${createdText.slice(0, 200)}`);
    // What the page is given, to compare with what it shows.
    const answer = await fetch(`${demo.url}/api/report?token=${encodeURIComponent(link.token)}`);
    const reportText = await answer.text();
    assert(answer.ok, `GET /api/report answered HTTP ${answer.status}: ${reportText.slice(0, 200)}`);
    const report = JSON.parse(reportText);
    assert(Array.isArray(report.named) && report.named.length === 0, `nobody consented: named should be empty, is ${JSON.stringify(report.named)}`);
    for (const p of people) assert(!reportText.includes(p.name), `the report's JSON should not name ${p.name}`);

    // A fresh browser, no camera permission: the page must not need one.
    const context = await browser.newContext({ locale: "fr-FR", viewport: { width: 1100, height: 900 } });
    try {
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

      // A link that is not one.
      await page.goto(`${demo.url}/r/xyz`);
      const card = page.locator("[data-error-code]");
      await card.waitFor({ timeout: UI_WAIT_MS });
      const code = await card.getAttribute("data-error-code");
      assert(/^token_/.test(code ?? ""), `a garbage report token should be refused with a token_… code, got ${code}`);
      const text = await textOf(page, ".error-message");
      assert(text.startsWith("Lien de rapport invalide"), `expected « Lien de rapport invalide… », got « ${text} »`);
      assert((await textOf(page, "#error-title")) === "Impossible d’afficher le rapport", "the error should be about the report");
      assert(sockets.length === 0, "still no socket");
    } finally {
      await context.close();
    }
  });

  await test("a report lists by name those who agreed, says when aggregates are withheld or the link expired (stand-in answers)", async () => {
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
    const context = await browser.newContext({ locale: "fr-FR", viewport: { width: 1100, height: 900 } });
    try {
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
      await page.goto(`${demo.url}/r/sample`);
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

      await page.goto(`${demo.url}/r/withheld`);
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

      await page.goto(`${demo.url}/r/expired`);
      await page.locator('[data-error-code="token_expired"]').waitFor({ timeout: UI_WAIT_MS });
      const text = await textOf(page, ".error-message");
      assert(text === "Ce lien de rapport a expiré. Demandez un nouveau lien à l’organisme.", `an expired report link reads « ${text} »`);
    } finally {
      await context.close();
    }
  });

  await test("a garbage token shows « lien invalide »", async () => {
    const person = await openPerson(browser, "garbage", `${demo.url}/j/not-a-real-token`);
    try {
      const card = person.page.locator("[data-error-code]");
      await card.waitFor({ timeout: UI_WAIT_MS });
      const code = await card.getAttribute("data-error-code");
      assert(code === "token_malformed", `the server should answer token_malformed, got ${code}`);
      const text = await textOf(person.page, ".error-message");
      assert(text.startsWith("Lien invalide"), `expected « Lien invalide… », got « ${text} »`);
    } finally {
      await person.context.close();
    }
  });

  await test("a dismissed sign-in prompt does not pop up again, but stays reachable", async () => {
    const person = await openPerson(browser, `participant 3 (${lucas.name})`, lucas.link.url);
    try {
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
    } finally {
      await person.context.close();
    }
  });

  await test("a second tab replaces the first, which does not reconnect by itself", async () => {
    const first = await openPerson(browser, `participant 3 (${lucas.name}), first tab`, lucas.link.url);
    const second = await openPerson(browser, `participant 3 (${lucas.name}), second tab`, lucas.link.url);
    try {
      const connected = (person) =>
        person.page.waitForFunction(() => /** @type {any} */ (window).cadre.state().connection === "connected", null, {
          timeout: UI_WAIT_MS,
        });
      await joinFromLobby(first);
      await connected(first);
      await joinFromLobby(second);
      await connected(second);
      await first.page.locator('.banner[data-kind="banner.replaced"]').waitFor({ timeout: UI_WAIT_MS });
      await first.page.waitForTimeout(2500);
      const state = await first.page.evaluate(() => /** @type {any} */ (window).cadre.state());
      assert(state.connection === "replaced", `the first tab should stay « replaced », is ${state.connection}`);
      const other = await second.page.evaluate(() => /** @type {any} */ (window).cadre.state());
      assert(other.connection === "connected", `the second tab should stay connected, is ${other.connection}`);
    } finally {
      await first.context.close();
      await second.context.close();
    }
  });

  await test("revoking a person in the call shows the banner, stops reconnecting, and their link is refused", async () => {
    const person = await openPerson(browser, `participant 3 (${lucas.name})`, lucas.link.url);
    try {
      await joinFromLobby(person);
      await person.page.waitForFunction(() => /** @type {any} */ (window).cadre.state().connection === "connected", null, {
        timeout: UI_WAIT_MS,
      });
      const response = await fetch(`${demo.url}/api/sessions/${demo.session.id}/people/${lucas.id}/revoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${demo.organiser_token}` },
      });
      assert(response.ok, `revoke answered HTTP ${response.status}: ${await response.text()}`);
      await person.page.locator('.banner[data-kind="banner.revoked"]').waitFor({ timeout: UI_WAIT_MS });
      await person.page.waitForTimeout(2000);
      const state = await person.page.evaluate(() => /** @type {any} */ (window).cadre.state());
      assert(state.connection === "revoked", `the connection should stay « revoked », is ${state.connection}`);

      await person.page.reload();
      const card = person.page.locator("[data-error-code]");
      await card.waitFor({ timeout: UI_WAIT_MS });
      const code = await card.getAttribute("data-error-code");
      assert(code === "token_revoked", `a revoked link should answer token_revoked, got ${code}`);
      const text = await textOf(person.page, ".error-message");
      assert(/révoqué/.test(text), `expected a « révoqué » message, got « ${text} »`);
    } finally {
      await person.context.close();
    }
  });

  // Last: the session does not open again after this.
  await test("a facilitator removes a participant, then ends the session: final screens with the reason, no reconnection, difficulty reports still possible", async () => {
    const fac = await openPerson(browser, `facilitator (${facilitator.name})`, facilitator.link.url);
    const stays = await openPerson(browser, `participant 1 (${karim.name})`, karim.link.url);
    const removed = await openPerson(browser, `participant 2 (${sophie.name})`, sophie.link.url);
    const room = [fac, stays, removed];
    try {
      await Promise.all(room.map(joinFromLobby));
      await Promise.all(room.map(waitConnected));
      await fac.page.waitForFunction(() => /** @type {any} */ (window).cadre.state().peers.length === 2, null, { timeout: UI_WAIT_MS });

      // Removing: from the people list, with a reason everyone reads.
      await fac.page.click('button[data-action="presence"]');
      await fac.page.click(`#presence-panel li[data-person="${sophie.id}"] button[data-action="control-remove"]`);
      const dialog = fac.page.locator('dialog[data-dialog="remove"]');
      await dialog.waitFor({ state: "visible", timeout: UI_WAIT_MS });
      assert((await textOf(fac.page, "#control-dialog-title")) === `Retirer ${sophie.name} de la séance`, "the dialog should name the person");
      assert(await dialog.locator('button[data-action="control-confirm"]').isDisabled(), "no removal without a reason");
      await dialog.locator("#control-reason").fill("Propos déplacés répétés malgré deux rappels.");
      await dialog.locator('button[data-action="control-confirm"]').click();
      await removed.page.locator('[data-screen="removed"]').waitFor({ timeout: UI_WAIT_MS });
      const why = await textOf(removed.page, '[data-field="final-reason"]');
      assert(why === `${facilitator.name} vous a retiré·e de la séance à ${why.match(/\d\d:\d\d/)?.[0]} : Propos déplacés répétés malgré deux rappels.`,
        `the removed person should read who, when and why: « ${why} »`);
      await stays.page.locator(".toast", { hasText: `${sophie.name} a été retiré·e de la séance par ${facilitator.name}` }).waitFor({ timeout: UI_WAIT_MS });
      await removed.page.waitForTimeout(2000);
      const gone = await removed.page.evaluate(() => /** @type {any} */ (window).cadre.state().connection);
      assert(gone === "removed", `the removed page should not reconnect, is « ${gone} »`);
      await removed.page.screenshot({ path: join(ARTIFACTS, "participant-removed.png") });

      // Ending: everyone gets the final screen, with documents and the difficulty form.
      await fac.page.click('button[data-action="session"]');
      await fac.page.click('#session-panel button[data-action="control-end"]');
      const end = fac.page.locator('dialog[data-dialog="end"]');
      await end.waitFor({ state: "visible", timeout: UI_WAIT_MS });
      await end.locator("#control-reason").fill("Programme de la journée terminé.");
      await end.locator('button[data-action="control-confirm"]').click();
      for (const person of [fac, stays]) {
        await person.page.locator('[data-screen="session-ended"]').waitFor({ timeout: UI_WAIT_MS });
        const text = await textOf(person.page, '[data-field="final-reason"]');
        assert(/^Séance terminée par .+ à \d\d:\d\d : Programme de la journée terminé\.$/.test(text), `${person.name} should read why it ended: « ${text} »`);
      }
      await stays.page.waitForTimeout(1500);
      const closed = await stays.page.evaluate(() => /** @type {any} */ (window).cadre.state().connection);
      assert(closed === "closed", `an ended session should not reconnect, is « ${closed} »`);
      assert(await stays.page.locator('[data-screen="session-ended"] a[data-action="download-proof-pdf"]').isVisible(), "the certificate should stay reachable");
      // So does the verification bundle, and the verifier accepts it.
      const [ended] = await Promise.all([
        stays.page.waitForEvent("download", { timeout: UI_WAIT_MS }),
        stays.page.click('[data-screen="session-ended"] button[data-action="download-verification"]'),
      ]);
      const endedPath = await ended.path();
      const endedBundle = JSON.parse(readFileSync(endedPath, "utf8"));
      assert(endedBundle.typ === "cadre.verification-bundle" && endedBundle.person?.id === karim.id,
        `the final screen's bundle should be ${stays.name}'s: ${JSON.stringify(endedBundle).slice(0, 200)}`);
      const endedCheck = spawnSync(CADRE_BIN, ["verify", endedPath, "--jwks", new URL("/.well-known/jwks.json", demo.url).href], { encoding: "utf8" });
      assert(endedCheck.status === 0, `cadre verify should accept the bundle from the final screen (exit ${endedCheck.status}): ${endedCheck.stdout}${endedCheck.stderr}`);
      const form = stays.page.locator('[data-screen="session-ended"] [data-field="difficulties"]');
      await form.locator("#difficulty-text").fill("Je n’ai pas reçu le support de la séance.");
      await form.locator('button[data-action="difficulty-send"]').click();
      await form.locator('li.difficulty[data-status="open"]', { hasText: "Je n’ai pas reçu le support de la séance." }).waitFor({ timeout: UI_WAIT_MS });
      await stays.page.screenshot({ path: join(ARTIFACTS, "participant-ended.png"), fullPage: true });

      // Coming back with the same link: no lobby, the same final screen, the reports still there.
      await stays.page.reload();
      await stays.page.locator('[data-screen="session-ended"] li.difficulty', { hasText: "Je n’ai pas reçu le support de la séance." }).waitFor({ timeout: UI_WAIT_MS });
      assert((await stays.page.locator('button[data-action="join"]').count()) === 0, "an ended session should offer no « Rejoindre »");
    } catch (err) {
      throw new Error(`${err.message}\n${(await Promise.all(room.map(describe))).join("\n")}`);
    } finally {
      for (const person of room) await person.context.close().catch(() => {});
    }
  });
}

mkdirSync(ARTIFACTS, { recursive: true });
try {
  await main();
} catch (err) {
  failed += 1;
  console.log(`not ok - run: ${err?.stack ?? err}`);
}
await cleanup();
clearTimeout(budget);
finish();
process.exitCode = failed > 0 ? 1 : 0;
