// Recording: armed by the facilitator, started only once all four agreed,
// shown on every page, stopped by one withdrawal; its files listed and
// checked against their hashes; the playable files made from them played
// in the facilitator's panel; the office's console lists the segment with
// its deletion date.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ARTIFACTS, MEDIA_WAIT_MS, UI_WAIT_MS } from "../lib/config.mjs";
import { joinFromLobby, textOf, violations, waitConnected } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { addCoordinator, logIn } from "../lib/console.mjs";
import { openPanel, refuseRecording } from "../lib/steps.mjs";

test("recording: armed, it waits for everyone's agreement, shows on every page, stops at once on a withdrawal; the files are listed and match their hashes", async (stage) => {
  const session = await stage.session();
  const { facilitator, karim, sophie, lucas, people } = session;
  const sid = session.id;
  const { url } = stage.server;
  const cast = [
    { ...facilitator, who: "facilitator" },
    { ...karim, who: "participant 1" },
    { ...sophie, who: "participant 2" },
    { ...lucas, who: "participant 3" },
  ];
  const room = [];
  /** The facilitator's list, as the server gives it (node's fetch: no browser involved). */
  const listRecordings = async () => {
    const response = await fetch(`${url}/api/sessions/${sid}/recordings?token=${encodeURIComponent(facilitator.link.token)}`);
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
    await openPanel(person, "consents");
    await person.page.click(`label[for="call-consent-recording-${granted ? "granted" : "refused"}"]`);
    const recorded = granted ? /^Accord enregistré à \d\d:\d\d\.$/ : /^Refus enregistré à \d\d:\d\d\.$/;
    await person.page.locator('#consents-panel [data-field="consent-status"]', { hasText: recorded }).waitFor({ timeout: UI_WAIT_MS });
  };
  // Earlier, in another browser: Sophie refused.
  const earlier = await stage.join(sophie, "participant 2, earlier");
  await refuseRecording(earlier);
  await earlier.context.close();
  try {
    for (const p of cast) room.push(await stage.join(p, p.who));
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
    // Four people: the session is forwarded, and the recorder takes what
    // the server already receives; no browser opens a second connection.
    await Promise.all(room.map((person) => person.page.waitForFunction(
      () => {
        const s = /** @type {any} */ (window).cadre.state();
        return s.route === "forwarded" && s.recording?.tapped === true && s.recording?.publishing === false;
      }, null, { timeout: 20_000 })
      .catch(async () => { throw new Error(`${person.name} should be recorded from the forwarding, not publish to the recorder: ${JSON.stringify(await recording(person))} ${person.log.slice(-3).join(" | ")}`); })));
    assert(/^Enregistrement en cours depuis \d\d:\d\d \(séquence \d+\)$/.test(await textOf(fac.page, '[data-field="recording-state"]')),
      `the facilitator's panel should say it runs: « ${await textOf(fac.page, '[data-field="recording-state"]')} »`);
    await karimPage.page.screenshot({ path: join(ARTIFACTS, "recording-indicator.png") });
    await fac.page.screenshot({ path: join(ARTIFACTS, "recording-facilitator.png") });
    // Picture and sound from everyone on the server's disk (the taps
    // attach as each person's tracks arrive: later on a loaded machine),
    // then a little more.
    const segmentDir = join(stage.server.dataDir, "recordings", sid, String(segment));
    const written = (file) => {
      try {
        return statSync(join(segmentDir, file)).size > 4096;
      } catch {
        return false;
      }
    };
    const recordedUntil = Date.now() + MEDIA_WAIT_MS;
    while (!cast.every((p) => written(`${p.id}-video.ivf`) && written(`${p.id}-audio.ogg`))) {
      if (Date.now() > recordedUntil) {
        const present = existsSync(segmentDir) ? readdirSync(segmentDir) : [];
        throw new Error(`everyone's picture and sound should reach the recording: ${JSON.stringify(present)}`);
      }
      await fac.page.waitForTimeout(250);
    }
    await fac.page.waitForTimeout(1000);

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
      const response = await fetch(new URL(file.url, url));
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
    const viaPage = await fac.page.context().request.get(new URL(ivfFile.url, url).toString());
    assert(createHash("sha256").update(await viaPage.body()).digest("hex") === ivfFile.sha256, "the file through the page should match too");
    const section = fac.page.locator('#recording-panel [data-field="recordings"]');
    await section.scrollIntoViewIfNeeded();
    await section.screenshot({ path: join(ARTIFACTS, "recording-list.png") });

    // Once closed, the server makes one WebM per person and an overview;
    // the panel shows them in players, and a page plays them.
    const playableDeadline = Date.now() + 180_000;
    let ready;
    for (;;) {
      ready = (await listRecordings()).segments.find((s) => s.segment === segment);
      if (ready && !["queued", "running"].includes(ready.playable_status ?? "queued")) break;
      if (Date.now() > playableDeadline) throw new Error(`the playable files of segment ${segment} should be made: ${JSON.stringify(ready).slice(0, 600)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert(ready.playable_status === "ready", `the playable files should be ready: ${ready.playable_status}, unavailable ${JSON.stringify(ready.unavailable)}`);
    for (const p of cast) {
      assert(ready.playable.some((f) => f.kind === "person" && f.participant === p.id && f.file === `${p.id}.webm`), `${p.name} should have a playable file: ${JSON.stringify(ready.playable)}`);
    }
    const overview = ready.playable.find((f) => f.kind === "composed");
    assert(overview, `the overview should be listed: ${JSON.stringify(ready.playable)}`);
    const karimWebm = ready.playable.find((f) => f.participant === karim.id);
    const webm = await download(karimWebm);
    assert(webm.readUInt32BE(0) === 0x1a45dfa3, "the playable file should be WebM (EBML)");
    await fac.page.click('#recording-panel button[data-action="recordings-refresh"]');
    /** Plays a listed file in the panel (muted); resolves once it has shown a picture and moved on. */
    const plays = async (file) => {
      const video = fac.page.locator(`#recording-panel figure.recording-player[data-file="${file.file}"] video`);
      await video.waitFor({ timeout: UI_WAIT_MS });
      await video.scrollIntoViewIfNeeded();
      await video.evaluate((v) => { const el = /** @type {HTMLVideoElement} */ (v); el.muted = true; return el.play(); });
      await fac.page.waitForFunction((name) => {
        const el = /** @type {HTMLVideoElement | null} */ (document.querySelector(`#recording-panel figure.recording-player[data-file="${name}"] video`));
        // A play() that a busy page let lapse (paused at 0) is asked again.
        if (el && el.paused && el.currentTime === 0 && el.readyState >= 2) el.play().catch(() => {});
        return !!el && el.readyState >= 2 && el.currentTime > 0 && el.videoWidth > 0;
      }, file.file, { timeout: MEDIA_WAIT_MS, polling: 500 }).catch(async () => {
        const state = await video.evaluate((v) => { const el = /** @type {HTMLVideoElement} */ (v); return { readyState: el.readyState, currentTime: el.currentTime, videoWidth: el.videoWidth, error: el.error?.message ?? null, src: el.currentSrc }; });
        throw new Error(`${file.file} should play in the page: ${JSON.stringify(state)}`);
      });
      return video.evaluate((v) => { const el = /** @type {HTMLVideoElement} */ (v); el.pause(); return { w: el.videoWidth, h: el.videoHeight, duration: el.duration }; });
    };
    const karimPlayed = await plays(karimWebm);
    const overviewPlayed = await plays(overview);
    const caption = (await fac.page.locator(`#recording-panel figure.recording-player[data-file="${karimWebm.file}"] figcaption`).innerText()).trim();
    assert(caption === `${karim.name} — caméra et micro`, `the player should say whose it is: « ${caption} »`);
    console.log(`# played: ${karimWebm.file} ${karimPlayed.w}x${karimPlayed.h} ${karimPlayed.duration.toFixed(2)} s; overview ${overviewPlayed.w}x${overviewPlayed.h} ${overviewPlayed.duration.toFixed(2)} s`);
    await section.scrollIntoViewIfNeeded();
    await section.screenshot({ path: join(ARTIFACTS, "recording-players.png") });
    const refusedWebm = await fetch(new URL(`/api/sessions/${sid}/recordings/${segment}/${karimWebm.file}?token=${encodeURIComponent(karim.link.token)}`, url));
    assert(refusedWebm.status === 403, `a participant downloading a playable file should get 403, got ${refusedWebm.status}`);

    // A participant may not have the list.
    const refused = await fetch(`${url}/api/sessions/${sid}/recordings?token=${encodeURIComponent(karim.link.token)}`);
    assert(refused.status === 403, `a participant asking for the recordings should get 403, got ${refused.status}`);

    // Disarmed: the line goes from every page.
    await fac.page.click('#recording-panel button[data-action="recording-disarm"]');
    await Promise.all(room.map((person) => person.page.locator('[data-field="recording-indicator"]').waitFor({ state: "hidden", timeout: UI_WAIT_MS })));

    // The office's console lists the segment and when the retention
    // deletes it.
    const coordinator = { email: `recordings.${Date.now()}@organisme.example`, name: "Inès Garcia", password: "un mot de passe assez long" };
    addCoordinator(stage.server.dataDir, coordinator);
    const office = await (await stage.context({ locale: "fr-FR", viewport: { width: 1280, height: 900 } })).newPage();
    await logIn(office, url, "/console/recordings", coordinator);
    const line = office.locator(`table[data-field="recordings"] tr[data-recording="${sid}/${segment}"]`);
    await line.waitFor({ timeout: UI_WAIT_MS });
    assert.match(await line.locator('[data-field="recording-fate"]').innerText(), /^sera supprimé le /);
    assert.match(await office.locator('[data-field="recordings-retention"]').innerText(), /supprimés \d+ jours après sa fin/);
    const found = await violations(office);
    assert.deepEqual(found, [], `axe on the recordings' page:\n${found.join("\n")}`);
    await office.screenshot({ path: join(ARTIFACTS, "console-recordings-1280.png"), fullPage: true });
  } catch (err) {
    const described = await Promise.all(room.map(async (p) => `${p.name} recording: ${JSON.stringify(await recording(p).catch(() => null))}`));
    throw new Error(`${err.message}\n${described.join("\n")}`);
  }
});
