// The lobby says which action the session belongs to and
// the person's own changes (article 2.1.7) with their reason; the link to the
// certificat de réalisation downloads the one-page PDF of the whole action;
// a change recorded during the call is told at once. One person, one page.

import assert from "node:assert/strict";
import { join } from "node:path";
import { ARTIFACTS, UI_WAIT_MS } from "../lib/config.mjs";
import { fetchLink, joinFromLobby, textOf, waitConnected } from "../lib/pages.mjs";
import { test } from "../lib/runner.mjs";
import { organiser } from "../lib/server.mjs";

test("actions: the lobby names the action and the person's changes, the certificate downloads, a change arrives live", async (stage) => {
  const server = stage.server;
  await organiser(server, "PUT", "/api/organisation", {
    name: "Formations Horizon",
    representative_name: "Claire Dubois",
    representative_quality: "directrice",
    address: ["12 rue des Lilas", "69003 Lyon"],
    siret: "12345678900007",
    nda: "84691234569",
    place: "Lyon",
  });
  const action = await organiser(server, "POST", "/api/actions", {
    title: "Gestion de projet agile",
    nature: "formation",
    planned_hours: 35,
    beneficiaries: [{ name: "Karim Benali", employer: "Transports Martin SA" }, { name: "Sophie Dubois" }],
  });
  const start = new Date(Date.now() - 60_000);
  const session = await organiser(server, "POST", `/api/actions/${action.id}/sessions`, {
    planned_start: start.toISOString(),
    planned_end: new Date(start.getTime() + 3 * 3600_000).toISOString(),
    facilitators: [{ name: "Claire Martin" }],
  });
  const karim = session.people.find((p) => p.name === "Karim Benali");
  const bid = action.beneficiaries[0].id;
  const changes = `/api/actions/${action.id}/beneficiaries/${bid}/changes`;
  await organiser(server, "POST", changes, { kind: "adapted", reason: "Rythme allégé : deux demi-journées par semaine" });

  const person = await stage.join(karim, "participant");
  const page = person.page;
  await page.locator(".action-notice").waitFor({ timeout: UI_WAIT_MS });
  const title = await textOf(page, ".action-notice .action-title");
  assert.equal(title, "Cette séance fait partie de l’action « Gestion de projet agile ».");
  const change = await textOf(page, '.action-changes li[data-kind="adapted"]');
  assert.match(change, /^Votre action a été adaptée le \d{1,2} \S+ \d{4}\. Motif : Rythme allégé : deux demi-journées par semaine$/);
  await page.screenshot({ path: join(ARTIFACTS, "actions-lobby.png"), fullPage: true });

  const { headers, body } = await fetchLink(page, page.locator(".action-certificate"), { type: "application/pdf" });
  // Not joined yet: no day attended, and the name says so.
  assert.match(headers["content-disposition"], /filename="certificat-realisation-gestion-de-projet-agile-karim-benali-sans-presence\.pdf"/);
  assert.equal(body.subarray(0, 5).toString("latin1"), "%PDF-");

  await joinFromLobby(person);
  await waitConnected(person);
  await organiser(server, "POST", changes, { kind: "paused", reason: "Congé maladie" });
  const toast = page.locator(".toast", { hasText: "Votre action est mise en pause" });
  await toast.waitFor({ timeout: UI_WAIT_MS });
  assert.match((await toast.innerText()).trim(), /Motif : Congé maladie/);
  await page.screenshot({ path: join(ARTIFACTS, "actions-call.png") });
  assert.deepEqual(person.log.filter((l) => l.startsWith("pageerror")), [], "no page error");
});
