// The staff console's first steps, shared by its tests: a coordinator's
// account (made with the CLI, as an administrator would), their login in
// a page, and the organisation's identity set from that login.

import { execFileSync } from "node:child_process";
import { CADRE_BIN, UI_WAIT_MS } from "./config.mjs";

/** @typedef {{ email: string, name: string, password: string }} StaffMember */

/**
 * Adds a coordinator to the server whose data is in `dataDir`.
 * @param {string} dataDir
 * @param {StaffMember} who
 */
export function addCoordinator(dataDir, who) {
  execFileSync(CADRE_BIN, ["--data-dir", dataDir, "staff", "add", "--email", who.email, "--name", who.name,
    "--role", "coordinator", "--password-stdin"], { input: `${who.password}\n` });
}

/**
 * Opens `path` of the console in `page` and logs `who` in; resolves on the
 * console's frame.
 * @param {import("playwright-core").Page} page
 * @param {string} url the server's
 * @param {string} path
 * @param {StaffMember} who
 */
export async function logIn(page, url, path, who) {
  await page.goto(`${url}${path}`);
  await page.locator('[data-screen="console-login"]').waitFor({ timeout: UI_WAIT_MS });
  await page.locator('[data-field="login-email"]').fill(who.email);
  await page.locator('[data-field="login-password"]').fill(who.password);
  await page.locator('[data-action="login"]').click();
  await page.locator('[data-screen="console"]').waitFor({ timeout: UI_WAIT_MS });
}

/**
 * Sets the organisation's identity with the page's login (the console has
 * no page for it yet); the answer's status.
 * @param {import("playwright-core").Page} page
 * @param {Record<string, unknown>} identity
 * @returns {Promise<number>}
 */
export function setOrganisation(page, identity) {
  return page.evaluate(async (body) => {
    const me = await (await fetch("/api/staff/me")).json();
    const answer = await fetch("/api/organisation", {
      method: "PUT",
      headers: { "Content-Type": "application/json", "X-Cadre-CSRF": me.csrf },
      body: JSON.stringify(body),
    });
    return answer.status;
  }, identity);
}
