// Media forwarded by the server: a group of five each publishing once and
// decoding the four others, and the live move from peer to peer (two people)
// to forwarding (the third) without anyone leaving.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, MEDIA_WAIT_MS } from "../lib/config.mjs";
import { expectFullMesh, joinFromLobby, state, textOf } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";

/** @typedef {import("../lib/pages.mjs").Person} Person */

/**
 * Waits until `person`'s media goes only through the server: both server
 * connections up, no connection to a peer left.
 * @param {Person} person
 */
async function onlyThroughTheServer(person) {
  await person.page.waitForFunction(
    () => {
      const s = /** @type {any} */ (window).cadre.state();
      const names = Object.keys(s.links).sort();
      return s.route === "forwarded" && names.join(",") === "server:publish,server:subscribe"
        && Object.values(s.links).every((st) => st === "connected");
    },
    null,
    { timeout: MEDIA_WAIT_MS },
  ).catch(async (err) => {
    const s = await state(person);
    throw new Error(`${person.name} should send and receive through the server only: route ${s.route}, links ${JSON.stringify(s.links)} (${err.message})`);
  });
}

test("a group of five in a forwarded session: each page decodes the four others through the server", async (stage) => {
  const session = await stage.session({ extra: ["Amina Diallo"], media: "forwarded" });
  const amina = session.participants[3];
  const who = [
    [session.facilitator, "facilitator"],
    [session.karim, "participant 1"],
    [session.sophie, "participant 2"],
    [session.lucas, "participant 3"],
    [amina, "participant 4"],
  ];
  const group = await Promise.all(who.map(([person, label]) => stage.join(person, label)));
  // The lobby says where the media goes before anyone joins.
  const notice = await textOf(group[0].page, '[data-field="notice-route"]');
  assert(/passe par le serveur de l’organisme/.test(notice), `the lobby should say the session passes through the server, says « ${notice} »`);
  await Promise.all(group.map(joinFromLobby));
  await expectFullMesh(group);
  for (const person of group) await onlyThroughTheServer(person);
  const badge = await textOf(group[4].page, '[data-field="media-route"]');
  assert.equal(badge, "Via le serveur de l’organisme", "the call should say where the media goes");
  // One camera sent per page, whatever the size of the group.
  for (const person of group) {
    const out = await person.page.evaluate(() => /** @type {any} */ (window).cadre.outboundVideo());
    const video = out.senders.filter((s) => s.kind === "video" && s.track);
    assert.equal(video.length, 1, `${person.name} should send one camera, sends ${JSON.stringify(out.senders)}`);
  }
  // Each page sends its camera in several encodings (simulcast) and the
  // server sends each picture the layer its tile needs: these tiles are
  // smaller than the camera, so no page receives the full 640 pixels.
  // A browser starts its upper layers as its bandwidth estimate grows (and
  // drops them while its processor is busy): waited for, not sampled once.
  for (const person of group) {
    const rids = () => person.page.evaluate(async () => {
      const s = /** @type {any} */ (window).cadre.state();
      const pc = /** @type {any} */ (window).cadre.publishConnection();
      if (!pc || s.route !== "forwarded") return [];
      const stats = await pc.getStats();
      const out = [];
      stats.forEach((r) => {
        if (r.type === "outbound-rtp" && r.kind === "video" && r.rid && (r.framesEncoded ?? 0) > 0) out.push(r.rid);
      });
      return out.sort();
    });
    const until = Date.now() + MEDIA_WAIT_MS;
    let encodings = await rids();
    while (encodings.length < 2 && Date.now() < until) {
      await person.page.waitForTimeout(1000);
      encodings = await rids();
    }
    assert(encodings.length >= 2, `${person.name} should send several encodings of their camera, sends ${JSON.stringify(encodings)}`);
  }
  await group[0].page.waitForFunction(() => {
    const widths = [...document.querySelectorAll("video[data-peer-id]")].map((v) => /** @type {HTMLVideoElement} */ (v).videoWidth);
    return widths.length === 4 && widths.every((w) => w > 0 && w < 640);
  }, null, { timeout: MEDIA_WAIT_MS }).catch(async (err) => {
    const widths = await group[0].page.evaluate(() => [...document.querySelectorAll("video[data-peer-id]")].map((v) => /** @type {HTMLVideoElement} */ (v).videoWidth));
    throw new Error(`the facilitator should receive reduced layers for small tiles, gets widths ${JSON.stringify(widths)} (${err.message})`);
  });
  // Who speaks: the fake microphones beep, and each beep's level reaches
  // the others through the server (RFC 6464, passed on). Read every 20 ms
  // (a beep is short): each of the four others is heard loud at some
  // point, and the facilitator's page rings a speaker's tile.
  const heard = await group[0].page.evaluate(async () => {
    /** @type {Record<string, number>} */
    const loudest = {};
    let rung = false;
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      for (const [id, level] of Object.entries(/** @type {any} */ (window).cadre.levels())) {
        loudest[id] = Math.max(loudest[id] ?? 0, /** @type {number} */ (level));
      }
      rung ||= document.querySelector('figure.tile[data-speaking="true"]') !== null;
      if (rung && Object.values(loudest).filter((l) => l >= 0.1).length >= 4) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return { loudest, rung };
  });
  const loud = Object.entries(heard.loudest).filter(([, l]) => l >= 0.1);
  assert.equal(loud.length, 4, `each of the four others should be heard through the server: ${JSON.stringify(heard)}`);
  assert(heard.rung, "a speaker's tile should be ringed");
  await group[0].page.waitForTimeout(1000);
  await group[0].page.screenshot({ path: join(ARTIFACTS, "forwarded-five.png") });

  // Pages of two: the pictures on the other page are not received (the
  // server pauses them), and come back when their page is shown.
  const fac = group[0].page;
  await fac.evaluate(() => /** @type {any} */ (window).cadre.setPageSize(2));
  const pagerText = await textOf(fac, ".pager-label");
  assert.equal(pagerText, "Page 1 sur 2", "the pager shows the pages");
  /** Frames decoded so far by each tile, and whether it is hidden. */
  const frames = () => fac.evaluate(() => Object.fromEntries([...document.querySelectorAll("figure.tile[data-tile]")]
    .map((tile) => {
      const v = /** @type {HTMLVideoElement | null} */ (tile.querySelector("video"));
      return [/** @type {HTMLElement} */ (tile).dataset.tile, { hidden: /** @type {HTMLElement} */ (tile).hidden, frames: v ? v.getVideoPlaybackQuality().totalVideoFrames : 0 }];
    })));
  // The server pauses a hidden picture at its next layer choice (each
  // second), later on a loaded machine: waited for, then held for 2.5 s.
  const hiddenNow = Object.entries(await frames()).filter(([, f]) => f.hidden).map(([id]) => id);
  assert(hiddenNow.length >= 1, "some pictures should be on the other page");
  const stillUntil = Date.now() + MEDIA_WAIT_MS;
  let before = await frames();
  let after = before;
  for (;;) {
    await fac.waitForTimeout(2500);
    after = await frames();
    if (hiddenNow.every((id) => after[id].frames === before[id].frames) || Date.now() > stillUntil) break;
    before = after;
  }
  const paused = Object.keys(before).filter((id) => before[id].hidden && after[id]?.hidden);
  assert(paused.length >= 1, `some pictures should be on the other page: ${JSON.stringify(after)}`);
  for (const id of paused) {
    assert.equal(after[id].frames, before[id].frames, `${id} is on another page: nothing should be received (${JSON.stringify({ before, after })})`);
  }
  await fac.click('button[data-action="page-next"]');
  assert.equal(await textOf(fac, ".pager-label"), "Page 2 sur 2");
  await fac.waitForFunction((ids) => ids.every((id) => {
    const tile = /** @type {HTMLElement | null} */ (document.querySelector(`figure.tile[data-tile="${id}"]`));
    const v = /** @type {HTMLVideoElement | null} */ (tile?.querySelector("video") ?? null);
    return tile && !tile.hidden && v !== null && v.getVideoPlaybackQuality().totalVideoFrames > 0;
  }), paused, { timeout: MEDIA_WAIT_MS });
  const resumed = await frames();
  await fac.waitForFunction(({ ids, counts }) => ids.every((id) => {
    const v = /** @type {HTMLVideoElement | null} */ (document.querySelector(`figure.tile[data-tile="${id}"] video`));
    return v !== null && v.getVideoPlaybackQuality().totalVideoFrames > counts[id];
  }), { ids: paused, counts: Object.fromEntries(paused.map((id) => [id, resumed[id].frames])) }, { timeout: MEDIA_WAIT_MS }).catch(async (err) => {
    throw new Error(`the pictures of page 2 should be received again: ${JSON.stringify({ resumed, later: await frames() })} (${err.message})`);
  });
  await fac.screenshot({ path: join(ARTIFACTS, "forwarded-page-2.png") });
});

test("two people talk peer to peer; the third moves the call to the server without anyone leaving", async (stage) => {
  const session = await stage.session({ media: "auto" });
  const fac = await stage.join(session.facilitator, "facilitator");
  const karim = await stage.join(session.karim, "participant 1");
  const notice = await textOf(fac.page, '[data-field="notice-route"]');
  assert(/À partir de la troisième personne, la séance passe par le serveur de l’organisme/.test(notice),
    `the lobby should say when the session passes through the server, says « ${notice} »`);
  await Promise.all([joinFromLobby(fac), joinFromLobby(karim)]);
  await expectFullMesh([fac, karim]);
  for (const person of [fac, karim]) {
    const s = await state(person);
    assert.equal(s.route, "peer", `${person.name} should be peer to peer with two people`);
    const other = person === fac ? karim.id : fac.id;
    assert.equal(s.links[other], "connected", `${person.name} should have a direct connection: ${JSON.stringify(s.links)}`);
  }
  const before = await Promise.all([fac, karim].map(async (p) => (await state(p)).welcome.connection_id));

  const sophie = await stage.join(session.sophie, "participant 2");
  await joinFromLobby(sophie);
  const three = [fac, karim, sophie];
  await expectFullMesh(three);
  for (const person of three) await onlyThroughTheServer(person);
  // Nobody left the call for it: same connections, told in words.
  const after = await Promise.all([fac, karim].map(async (p) => (await state(p)).welcome.connection_id));
  assert.deepEqual(after, before, "the first two should keep their connection to the session");
  for (const person of three) {
    const badge = await textOf(person.page, '[data-field="media-route"]');
    assert.equal(badge, "Via le serveur de l’organisme", `${person.name} should see where the media goes`);
  }
  // Still decoding a little later, through the server only.
  await fac.page.waitForTimeout(1500);
  await expectFullMesh(three);
  await fac.page.screenshot({ path: join(ARTIFACTS, "moved-to-forwarding.png") });
});
