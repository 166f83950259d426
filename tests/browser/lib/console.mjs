// The staff console's first steps, shared by its tests: a coordinator's
// account (made with the CLI, as an administrator would), their login in
// a page, and the organisation's name.

import { execFileSync } from "node:child_process";
import { CADRE_BIN, UI_WAIT_MS } from "./config.mjs";

/** @typedef {{ email: string, name: string, password: string }} StaffMember */

/**
 * Adds a staff member (a coordinator unless said) to the server whose data
 * is in `dataDir`.
 * @param {string} dataDir
 * @param {StaffMember} who
 * @param {"coordinator" | "administrator"} [role]
 */
export function addCoordinator(dataDir, who, role = "coordinator") {
  execFileSync(CADRE_BIN, ["--data-dir", dataDir, "staff", "add", "--email", who.email, "--name", who.name,
    "--role", role, "--password-stdin"], { input: `${who.password}\n` });
}

/**
 * Names the organisation with the CLI, as its administrator would once
 * (sessions print the name).
 * @param {string} dataDir
 * @param {string} name
 */
export function nameOrganisation(dataDir, name) {
  execFileSync(CADRE_BIN, ["--data-dir", dataDir, "organisation", "set", "--name", name]);
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
