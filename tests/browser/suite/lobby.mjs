// The lobby before anyone joins: the languages, and a link that is not one.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { textOf } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";

test("lobby is in French by default, English with ?lang=en, switchable live", async (stage) => {
  const session = await stage.session();
  const { sophie } = session;
  const fr = await stage.open("lobby-fr", sophie.link.url, { locale: "fr-FR" });
  assert((await textOf(fr.page, 'button[data-action="join"]')) === "Rejoindre la séance",
    "the join button should read « Rejoindre la séance »");
  const heading = await textOf(fr.page, "#session-title");
  assert(heading === session.title, `the lobby should show the session title, got ${heading}`);
  const kind = await textOf(fr.page, ".badge[data-kind]");
  assert(kind === "Formation", `the kind should read « Formation », got « ${kind} »`);
  const notice = await textOf(fr.page, ".notice");
  assert(/heures de connexion/.test(notice) && /Jamais le contenu/.test(notice),
    "the notice should say what is recorded (connection times) and what never is (content)");
  const schedule = await textOf(fr.page, '[data-field="schedule"]');
  assert(/heure de Paris/.test(schedule), `the schedule should be in the session's time zone: ${schedule}`);
  assert((await fr.page.getAttribute("html", "lang")) === "fr", "<html lang> should be fr");

  await fr.page.selectOption("#lang-select", "en");
  await fr.page.locator('button[data-action="join"]', { hasText: "Join the session" }).waitFor({ timeout: UI_WAIT_MS });
  assert((await textOf(fr.page, ".notice h2")) === "What the session records, and why",
    "switching to English should translate the notice");
  await fr.context.close();

  // A browser that prefers neither French nor English gets French.
  const de = await stage.open("lobby-de", sophie.link.url, { locale: "de-DE" });
  assert((await textOf(de.page, 'button[data-action="join"]')) === "Rejoindre la séance",
    "French should be the default for other languages");
  await de.context.close();

  const en = await stage.open("lobby-en", `${sophie.link.url}?lang=en`, { locale: "fr-FR" });
  assert((await textOf(en.page, 'button[data-action="join"]')) === "Join the session",
    "?lang=en should show « Join the session »");
  assert((await textOf(en.page, ".badge[data-kind]")) === "Training", "the kind should read « Training » in English");
  assert((await en.page.getAttribute("html", "lang")) === "en", "<html lang> should be en");
  await en.page.screenshot({ path: join(ARTIFACTS, "lobby-en.png") });
});

test("a garbage token shows « lien invalide »", async (stage) => {
  const person = await stage.open("garbage", `${stage.server.url}/j/not-a-real-token`);
  const card = person.page.locator("[data-error-code]");
  await card.waitFor({ timeout: UI_WAIT_MS });
  const code = await card.getAttribute("data-error-code");
  assert(code === "token_malformed", `the server should answer token_malformed, got ${code}`);
  const text = await textOf(person.page, ".error-message");
  assert(text.startsWith("Lien invalide"), `expected « Lien invalide… », got « ${text} »`);
});
