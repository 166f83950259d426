// The real server, as the suite drives it: `cadre demo` on a free loopback
// port (ICE restricted to 127.0.0.1), and the REST calls an organiser makes.
// Every test creates its own sessions with `createSession`; the demo's own
// session is not used.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CADRE_BIN } from "./config.mjs";

/** @typedef {{ url: string, organiserToken: string }} Server */

/**
 * Starts `cadre demo` and resolves with `{ url, organiserToken }` from its one
 * JSON line. Stopping it (and removing its data) is pushed onto `cleanups`.
 * @param {(() => Promise<void>)[]} cleanups
 * @param {string[]} [icePolicy] the ICE arguments (a test of TURN asks for relays)
 * @returns {Promise<Server>}
 */
export function startServer(cleanups, icePolicy = ["--ice-policy", "loopback"]) {
  const dataDir = mkdtempSync(join(tmpdir(), "cadre-e2e-"));
  const child = spawn(
    CADRE_BIN,
    // The privacy contact shows in the lobby's notice (suite/documents.mjs).
    ["demo", "--bind", "127.0.0.1:0", "--data-dir", dataDir, "--json", ...icePolicy,
      "--privacy-contact", "dpo@organisme-demo.example"],
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
        if (typeof demo.url !== "string" || typeof demo.organiser_token !== "string") {
          throw new Error("no url or organiser_token in the demo line");
        }
        resolvePromise({ url: demo.url, organiserToken: demo.organiser_token, dataDir });
      } catch (err) {
        reject(new Error(`the demo line is not what the test expects: ${err.message}: ${line.slice(0, 200)}`));
      }
    });
  });
}

/**
 * An organiser's REST call; resolves with the parsed answer, or fails with
 * the status and the start of the body.
 * @param {Server} server
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
export async function organiser(server, method, path, body) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${server.organiserToken}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered HTTP ${response.status}: ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

/**
 * @typedef {{ id: string, name: string, role: "facilitator" | "participant", link: { url: string, token: string } }} Person
 * @typedef {{ id: string, title: string, people: Person[] }} SessionView
 * @typedef {SessionView & { facilitator: Person, participants: Person[], karim: Person, sophie: Person, lucas: Person }} Session
 */

/**
 * A new session like the demo's: a formation of three hours from the current
 * minute (so its sign-in window is open), one facilitator and three
 * participants, no sponsor. Each test makes its own, so none depends on what
 * another did.
 * `extra` adds participants after them; `media` chooses how the session's
 * media travels (the server's choice, `auto`, when absent).
 * @param {Server} server
 * @param {{ extra?: string[], media?: "auto" | "peer" | "forwarded" }} [options]
 * @returns {Promise<Session>}
 */
export async function createSession(server, options = {}) {
  const now = Date.now();
  const start = new Date(now - (now % 60_000));
  const end = new Date(start.getTime() + 180 * 60_000);
  const person = (name, role) => ({ name, role });
  /** @type {SessionView} */
  const view = await organiser(server, "POST", "/api/sessions", {
    title: "Séance de démonstration — Gestion de projet",
    kind: "formation",
    organisation: "Organisme de démonstration",
    planned_start: start.toISOString(),
    planned_end: end.toISOString(),
    time_zone: "Europe/Paris",
    ...(options.media ? { media: options.media } : {}),
    people: [
      person("Claire Martin", "facilitator"),
      person("Karim Benali", "participant"),
      person("Sophie Dubois", "participant"),
      person("Lucas Moreau", "participant"),
      ...(options.extra ?? []).map((name) => person(name, "participant")),
    ],
  });
  const facilitator = view.people.find((p) => p.role === "facilitator");
  const participants = view.people.filter((p) => p.role === "participant");
  if (!facilitator || participants.length < 3) {
    throw new Error(`the new session should have a facilitator and three participants: ${JSON.stringify(view).slice(0, 300)}`);
  }
  const [karim, sophie, lucas] = participants;
  return { ...view, facilitator, participants, karim, sophie, lucas };
}

/**
 * `cadre verify <file> --jwks <server's JWKS>`: what an auditor runs.
 * @param {Server} server
 * @param {string} path
 */
export function verifyFile(server, path) {
  return spawnSync(CADRE_BIN, ["verify", path, "--jwks", new URL("/.well-known/jwks.json", server.url).href], { encoding: "utf8" });
}
