// The test SMTP server (Debian's aiosmtpd running tests/smtp/sink.py) on a
// free loopback port, for the browser tests that send mail.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const SINK = resolve(dirname(fileURLToPath(import.meta.url)), "../../smtp/sink.py");
/** Mail delivery and the page's re-reading of the log take a few seconds. */
export const MAIL_WAIT_MS = 30_000;

/** A loopback port nothing listens on now. @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts the test SMTP server on `port`; resolves once it answers, with
 * what stops it and what it received.
 * @param {number} port
 */
export async function startSmtp(port) {
  const dir = mkdtempSync(join(tmpdir(), "cadre-smtp-"));
  const child = spawn("/usr/bin/python3", [SINK, String(port), dir], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => { stderr += chunk; });
  const deadline = Date.now() + 15_000;
  while (!existsSync(join(dir, "ready"))) {
    if (child.exitCode !== null) throw new Error(`the test SMTP server exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`the test SMTP server did not answer in 15 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    dir,
    /** The messages received, decoded by sink.py. @returns {any[]} */
    messages() {
      return readdirSync(dir).filter((f) => f.endsWith(".json")).sort()
        .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")));
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

