// What one person's page shows and does, as the tests drive it: opening a
// browser profile, joining from the lobby, waiting for video, reading text,
// downloading documents.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { MEDIA_WAIT_MS, UI_WAIT_MS } from "./config.mjs";

/**
 * @typedef {object} Person
 * @property {string} name for messages
 * @property {string} [id] the person's id in the session, for the video checks
 * @property {import("playwright-core").BrowserContext} context
 * @property {import("playwright-core").Page} page
 * @property {string[]} log what the page said (errors and warnings)
 */

/**
 * A person's own browser profile at `url`, with a log of what the page said.
 * @returns {Promise<Person>}
 */
export async function openPerson(browser, name, url, { locale = "fr-FR", id } = {}) {
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
  return { name, id, context, page, log };
}

/** What the page knows (`window.cadre.state()`). @param {Person} person */
export function state(person) {
  return person.page.evaluate(() => /** @type {any} */ (window).cadre.state());
}

/** Clicks "Rejoindre la séance" once the lobby is there. @param {Person} person */
export async function joinFromLobby(person) {
  const join = person.page.locator('button[data-action="join"]');
  await join.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await join.click();
}

/** Waits until the page's WebSocket is welcomed. @param {Person} person */
export async function waitConnected(person) {
  await person.page.waitForFunction(() => /** @type {any} */ (window).cadre.state().connection === "connected", null, {
    timeout: UI_WAIT_MS,
  });
}

/**
 * Everyone joins from the lobby, and each page sees all the others in the
 * roster (no media wait).
 * @param {Person[]} people
 */
export async function joinTogether(people) {
  await Promise.all(people.map(joinFromLobby));
  await Promise.all(people.map(waitConnected));
  await Promise.all(people.map((person) => person.page.waitForFunction(
    (n) => /** @type {any} */ (window).cadre.state().peers.length === n, people.length - 1, { timeout: UI_WAIT_MS })));
}

/** What a page shows and knows, for failure messages. @param {Person} person */
export async function describe(person) {
  try {
    const info = await person.page.evaluate(() => {
      const state = /** @type {any} */ (window).cadre?.state?.() ?? {};
      const videos = [...document.querySelectorAll("video[data-peer-id]")].map((v) => ({
        peer: v.dataset.peerId,
        connection: v.dataset.connectionId,
        stream: Boolean(v.srcObject),
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

/**
 * Waits for every person to decode everyone else; explains who is missing what.
 * @param {Person[]} people each with its `id`
 */
export async function expectFullMesh(people, timeout = MEDIA_WAIT_MS, staleConnections = {}) {
  const ids = people.map((p) => p.id);
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

/** The connection id under which `viewer` shows `peerId`'s video. */
export function shownConnection(viewer, peerId) {
  return viewer.page.evaluate((id) => document.querySelector(`video[data-peer-id="${id}"]`)?.dataset.connectionId, peerId);
}

/** The receipts this browser keeps for a session. */
export async function storedReceipts(person, sid) {
  return person.page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? "[]"), `cadre.receipts.${sid}`);
}

/** A receipt is a compact JWS over a `cadre.tree-head` for this session. */
export function checkTreeHead(jws, sid) {
  const parts = String(jws).split(".");
  assert(parts.length === 3, `a receipt should be a compact JWS, got ${String(jws).slice(0, 40)}`);
  const header = JSON.parse(Buffer.from(parts[0], "base64url").toString());
  const payload = JSON.parse(Buffer.from(parts[1], "base64url").toString());
  assert(header.alg === "EdDSA", `the receipt should be signed with EdDSA, is ${header.alg}`);
  assert(payload.typ === "cadre.tree-head" && payload.sid === sid && payload.tree_size > 0,
    `the receipt should be a tree head of this session: ${JSON.stringify(payload)}`);
  return payload;
}

/** Draws a small wave of `strokes` mouse moves on the signature pad. */
export async function drawSignature(page, strokes = 24) {
  const box = await page.locator("canvas.signature-pad").boundingBox();
  assert(box && box.width > 100 && box.height > 50, `the signature pad should be visible, box ${JSON.stringify(box)}`);
  await page.mouse.move(box.x + 20, box.y + box.height / 2);
  await page.mouse.down();
  const step = 240 / strokes;
  for (let i = 1; i <= strokes; i++) {
    await page.mouse.move(box.x + 20 + i * step, box.y + box.height / 2 + Math.sin((i * step) / 25) * (box.height / 4));
  }
  await page.mouse.up();
}

/** Pretends the tab went to the background or came back (headless tabs are always visible). */
export async function setTabHidden(page, hidden) {
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
export async function fetchLink(page, locator, { status = 200, type }) {
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

/** The trimmed text of the first element matching `selector`, once visible. */
export async function textOf(page, selector) {
  const el = page.locator(selector).first();
  await el.waitFor({ state: "visible", timeout: UI_WAIT_MS });
  return (await el.innerText()).trim();
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * Every axe violation on `page` now, as lines naming the rule and the elements.
 * @param {import("playwright-core").Page} page
 */
export async function violations(page) {
  const found = await page.evaluate(async (source) => {
    const w = /** @type {any} */ (window);
    if (!w.axe) (0, eval)(source);
    const result = await w.axe.run(document);
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  }, axeSource);
  return found;
}
