// The browser suite's runner: named tests, each starting from its own state.
//
// A test file registers its tests with `test(name, fn)`; `e2e.mjs` imports the
// files in order and calls `run()`. One server process and one Chromium serve
// the whole run (both are slow to start); every test gets a `Stage`: it
// creates its own session(s) through the REST API and opens its own browser
// contexts, which are closed when the test ends, passed or failed. So a test
// can be run alone (`--only`), and its failure names it.
//
// Prints `ok - name (N s)` / `not ok - name: reason` per test, then one line
// `N passed, N failed`; the process exits non-zero when any failed.

import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, RUN_BUDGET_MS } from "./config.mjs";
import { describe, openPerson } from "./pages.mjs";
import { createSession, startServer } from "./server.mjs";

/** @typedef {{ name: string, fn: (stage: Stage) => Promise<void> }} Test */

/** @type {Test[]} in the order the files register them */
const registered = [];

/** Registers one named test. */
export function test(name, fn) {
  registered.push({ name, fn });
}

/**
 * What one test works with: the shared server and browser, and what it makes
 * for itself (sessions, people's pages), closed when it ends.
 */
export class Stage {
  /** @type {import("./pages.mjs").Person[]} */
  people = [];
  /** Contexts opened by this test, closed when it ends. */
  #contexts = [];

  constructor(server, browser) {
    /** `{ url, organiserToken, bin }` */
    this.server = server;
    this.browser = browser;
  }

  /**
   * A new session of four people (and `options.extra`), planned from now on:
   * see `createSession`.
   * @param {{ extra?: string[], media?: "auto" | "peer" | "forwarded" }} [options]
   */
  session(options) {
    return createSession(this.server, options);
  }

  /**
   * One person's own browser at `url`, with a log of what the page said.
   * @param {string} name for messages
   * @param {string} url
   * @param {{ locale?: string, id?: string }} [options] `id`: the person's id, for the video checks
   */
  async open(name, url, options = {}) {
    const person = await openPerson(this.browser, name, url, options);
    this.#contexts.push(person.context);
    this.people.push(person);
    return person;
  }

  /**
   * A session's person at their join link.
   * @param {{ id: string, name: string, link: { url: string } }} who
   * @param {string} label "facilitator", "participant 1"…
   */
  join(who, label, options = {}) {
    return this.open(`${label} (${who.name})`, who.link.url, { ...options, id: who.id });
  }

  /** A bare browser context (a sponsor: no camera). */
  async context(options) {
    const context = await this.browser.newContext(options);
    this.#contexts.push(context);
    return context;
  }

  /** What every page still open shows, for a failure message. */
  async describeAll() {
    const open = this.people.filter((p) => !p.page.isClosed());
    return (await Promise.all(open.map(describe))).join("\n");
  }

  async close() {
    for (const context of this.#contexts.reverse()) await context.close().catch(() => {});
  }
}

/**
 * The tests chosen by `--only <text>` (repeatable) or `ONLY=<text>`: those
 * whose name contains the text (case-insensitive); all without either.
 */
function selected(argv, env) {
  const wanted = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--only" && argv[i + 1] !== undefined) wanted.push(argv[++i]);
    else if (argv[i].startsWith("--only=")) wanted.push(argv[i].slice("--only=".length));
  }
  if (env.ONLY) wanted.push(env.ONLY);
  if (wanted.length === 0) return registered;
  const lower = wanted.map((w) => w.toLowerCase());
  return registered.filter((t) => lower.some((w) => t.name.toLowerCase().includes(w)));
}

/** Runs the registered tests; resolves with the exit code. */
export async function run(argv = process.argv.slice(2), env = process.env) {
  if (argv.includes("--list")) {
    for (const t of registered) console.log(t.name);
    return 0;
  }
  const tests = selected(argv, env);
  /**
   * What has run so far, and what runs now; `over` once the budget ran out
   * (what the closing browser makes the test still running say is not counted).
   * @type {{ passed: number, failed: number, current: { name: string, stage: Stage } | null, over: boolean }}
   */
  const tally = { passed: 0, failed: 0, current: null, over: false };
  const finish = () => {
    console.log(`${tally.passed} passed, ${tally.failed} failed`);
    return tally.failed > 0 ? 1 : 0;
  };
  if (tests.length === 0) {
    tally.failed += 1;
    console.log("not ok - selection: no test name contains what --only or ONLY asked for (--list lists them)");
    return finish();
  }
  mkdirSync(ARTIFACTS, { recursive: true });

  /** Cleanups, run last to first. */
  const cleanups = [];
  const cleanup = async () => {
    while (cleanups.length > 0) {
      try {
        await cleanups.pop()();
      } catch (err) {
        console.error(`# cleanup: ${err.message}`);
      }
    }
  };
  // The whole run ends by itself, however a page hangs.
  const budget = setTimeout(async () => {
    tally.over = true;
    tally.failed += 1;
    console.log(`not ok - ${tally.current?.name ?? "run"}: gave up after the run's ${RUN_BUDGET_MS / 1000} s (RUN_BUDGET_MS)`);
    await tally.current?.stage.close();
    await cleanup();
    process.exit(finish());
  }, RUN_BUDGET_MS);

  try {
    await runTests(tests, cleanups, tally);
  } catch (err) {
    if (!tally.over) {
      tally.failed += 1;
      console.log(`not ok - run: ${err?.stack ?? err}`);
    }
  }
  // Out of budget: the timer closes everything, prints the last line and exits.
  if (tally.over) return new Promise(() => {});
  await cleanup();
  clearTimeout(budget);
  return finish();
}

/** Starts the server and the browser, then each test on a stage of its own. */
async function runTests(tests, cleanups, tally) {
  let server;
  try {
    server = await startServer(cleanups);
  } catch (err) {
    tally.failed += 1;
    console.log(`not ok - server starts: ${err.message}`);
    return;
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  cleanups.push(() => browser.close());

  for (const { name, fn } of tests) {
    if (tally.over) return;
    const stage = new Stage(server, browser);
    tally.current = { name, stage };
    const started = Date.now();
    try {
      await fn(stage);
      if (tally.over) return;
      tally.passed += 1;
      console.log(`ok - ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (err) {
      if (tally.over) return;
      tally.failed += 1;
      const pages = await stage.describeAll();
      const reason = `${err?.message ?? err}${pages ? `\n${pages}` : ""}`.split("\n").join("\n#   ");
      console.log(`not ok - ${name}: ${reason}`);
    } finally {
      await stage.close();
      tally.current = null;
    }
  }
}
