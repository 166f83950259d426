// What the browser suite runs against, and how long it waits.
//
//   CADRE_BIN      the cadre binary (default ../../target/debug/cadre)
//   CHROMIUM       the browser (default /usr/bin/chromium)
//   RUN_BUDGET_MS  the whole run's budget (default 720 s)

import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const browserDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const CADRE_BIN = process.env.CADRE_BIN ? resolve(process.env.CADRE_BIN) : resolve(browserDir, "../../target/debug/cadre");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
/** Screenshots (gitignored). */
export const ARTIFACTS = join(browserDir, "artifacts");

/**
 * The whole run ends by itself, however a page hangs. Four pages encoding and
 * decoding video on two cores take their time: the recording test alone has
 * taken over two minutes with Chromium 156.0.8078.114 here, and on a slow
 * evening of this machine the first 46 of 49 tests took 457 s, so the default
 * leaves room; each wait inside a test has its own bound. RUN_BUDGET_MS
 * overrides it.
 */
export const RUN_BUDGET_MS = Number(process.env.RUN_BUDGET_MS ?? 720_000);
/** How long every page may take to decode every remote video. */
export const MEDIA_WAIT_MS = 45_000;
/** How long a page may take to show what a step expects. */
export const UI_WAIT_MS = 10_000;

export const CHROMIUM_ARGS = [
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
