// TURN: Chromium pages whose server tells them to use relays only
// (`--ice-policy relay`: `iceTransportPolicy: "relay"`) connect through the
// embedded TURN server with the credentials of their welcome, and decode
// each other's video: two pages peer to peer, and three pages whose media
// the server forwards (its own WebRTC peer reached through the relay). The
// server is a second `cadre demo` of its own, since the suite's shared one
// keeps candidates on loopback without any relay.

import assert from "node:assert/strict";
import { MEDIA_WAIT_MS } from "../lib/config.mjs";
import { expectFullMesh, joinTogether, state } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { createSession, startServer } from "../lib/server.mjs";

test("two pages forced to relay connect through the embedded TURN", async (stage) => {
  /** @type {(() => Promise<void>)[]} */
  const cleanups = [];
  try {
    // Everything is on 127.0.0.1 here: the relay may reach loopback peers.
    const server = await startServer(cleanups, ["--ice-policy", "relay", "--turn-allow-private-peers"]);
    const session = await createSession(server);
    const fac = await stage.join(session.facilitator, "facilitator");
    const karim = await stage.join(session.karim, "participant 1");
    await joinTogether([fac, karim]);
    for (const person of [fac, karim]) {
      const { welcome } = await state(person);
      assert.equal(welcome?.ice_policy, "relay", `${person.name}: ice_policy`);
      const turn = welcome.ice_servers.find((/** @type {any} */ s) => s.urls.some((/** @type {string} */ u) => u.startsWith("turn:")));
      assert(turn?.username && turn?.credential, `${person.name}: a TURN server with credentials in ${JSON.stringify(welcome.ice_servers)}`);
    }
    await expectFullMesh([fac, karim], MEDIA_WAIT_MS);
    for (const person of [fac, karim]) {
      const pairs = await person.page.evaluate(() => /** @type {any} */ (window).cadre.selectedPairs());
      const values = Object.values(pairs);
      assert(values.length === 1, `${person.name}: one peer connection, got ${JSON.stringify(pairs)}`);
      assert.deepEqual(values[0], { local: "relay", remote: "relay" }, `${person.name}: the selected pair`);
    }
  } finally {
    await stage.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
});

test("three pages forced to relay reach the server's forwarding through the embedded TURN", async (stage) => {
  /** @type {(() => Promise<void>)[]} */
  const cleanups = [];
  try {
    const server = await startServer(cleanups, ["--ice-policy", "relay", "--turn-allow-private-peers"]);
    const session = await createSession(server, { media: "forwarded" });
    const group = [
      await stage.join(session.facilitator, "facilitator"),
      await stage.join(session.karim, "participant 1"),
      await stage.join(session.sophie, "participant 2"),
    ];
    await joinTogether(group);
    await expectFullMesh(group, MEDIA_WAIT_MS);
    for (const person of group) {
      // Both connections to the server are up, through the relay, and none
      // goes to another page.
      await person.page.waitForFunction(
        () => {
          const s = /** @type {any} */ (window).cadre.state();
          return s.route === "forwarded" && Object.keys(s.links).sort().join(",") === "server:publish,server:subscribe"
            && Object.values(s.links).every((st) => st === "connected");
        },
        null,
        { timeout: MEDIA_WAIT_MS },
      ).catch(async (err) => {
        const s = await state(person);
        throw new Error(`${person.name} should go through the server only: route ${s.route}, links ${JSON.stringify(s.links)} (${err.message})`);
      });
      const pairs = await person.page.evaluate(() => /** @type {any} */ (window).cadre.selectedPairs());
      assert.deepEqual(Object.keys(pairs).sort(), ["server:publish", "server:subscribe"], `${person.name}: ${JSON.stringify(pairs)}`);
      for (const [link, pair] of Object.entries(pairs)) {
        assert.equal(pair?.local, "relay", `${person.name}: ${link} should leave through the relay, ${JSON.stringify(pair)}`);
      }
    }
  } finally {
    await stage.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
});
