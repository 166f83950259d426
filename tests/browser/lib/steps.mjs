// Steps several tests take to reach their starting point, without the checks
// of the test that is about them (the sign-in test checks the sign-in; here
// it is only done).

import { UI_WAIT_MS } from "./config.mjs";
import { drawSignature, expectFullMesh, joinFromLobby, joinTogether, waitConnected } from "./pages.mjs";

/** @typedef {import("./pages.mjs").Person} Person */
/** @typedef {import("./runner.mjs").Stage} Stage */
/** @typedef {import("./server.mjs").Session} Session */

/**
 * The facilitator and the first two participants of `session`, each at their
 * lobby (not joined yet), in that order.
 * @param {Stage} stage
 * @param {Session} session
 */
export function openThree(stage, session) {
  return Promise.all([
    stage.join(session.facilitator, "facilitator"),
    stage.join(session.karim, "participant 1"),
    stage.join(session.sophie, "participant 2"),
  ]);
}

/**
 * A call of three (the facilitator and two participants) in which everyone
 * decodes everyone's video.
 * @param {Stage} stage
 * @param {Session} session
 */
export async function videoCall(stage, session) {
  const room = await openThree(stage, session);
  await Promise.all(room.map(joinFromLobby));
  await expectFullMesh(room);
  return room;
}

/**
 * Clicks a control of the bar, opening the bar's "Plus" menu first when the
 * control is in it.
 * @param {Person} person
 * @param {string} action the control's `data-action`
 */
export async function clickControl(person, action) {
  const control = person.page.locator(`button[data-action="${action}"]`);
  const inMenu = await control.evaluate((el) => el.closest(".more-panel") !== null);
  if (inMenu && !(await control.isVisible())) await person.page.click('summary[data-action="more"]');
  await control.click();
}

/**
 * Opens a side panel from its control in the bar, unless it is open already.
 * @param {Person} person
 * @param {string} action the control's `data-action` ("presence", "traces", "consents"…)
 */
export async function openPanel(person, action) {
  const control = person.page.locator(`button[data-action="${action}"]`);
  if ((await control.getAttribute("aria-expanded")) !== "true") await clickControl(person, action);
  await person.page.locator(`#${action}-panel`).waitFor({ state: "visible", timeout: UI_WAIT_MS });
}

/**
 * `signer` signs the open half-day with a drawn signature (the prompt opens
 * by itself), and the facilitator countersigns it from the presence console.
 * @param {Person} fac
 * @param {Person} signer
 */
export async function signAndCountersign(fac, signer) {
  await signer.page.locator("#signin-panel").waitFor({ state: "visible", timeout: UI_WAIT_MS });
  await drawSignature(signer.page, 6);
  await signer.page.click('[data-action="signin-confirm"]');
  await signer.page.locator('[data-field="signin-status"]', { hasText: /Présence confirmée/ }).waitFor({ timeout: UI_WAIT_MS });
  await openPanel(fac, "presence");
  const row = fac.page.locator(`#presence-panel li[data-person="${signer.id}"][data-signed="true"]`);
  await row.waitFor({ timeout: UI_WAIT_MS });
  await row.locator('button[data-action="countersign"]').click();
  await signer.page.locator('[data-field="countersign-status"][data-state="countersigned"]').waitFor({ timeout: UI_WAIT_MS });
}

/**
 * The facilitator and Karim in a call of `session`, Karim's half-day signed
 * and countersigned; his sign-in panel closed (done, it can go).
 * @param {Stage} stage
 * @param {Session} session
 */
export async function signedParticipant(stage, session) {
  const fac = await stage.join(session.facilitator, "facilitator");
  const person = await stage.join(session.karim, "participant 1");
  await joinTogether([fac, person]);
  await signAndCountersign(fac, person);
  await person.page.click('#signin-panel [data-action="panel-close"]');
  return { fac, person };
}

/**
 * `person` refuses the recording in the lobby and joins, until the server
 * has recorded the refusal; then leaves the page as it is (the caller closes it).
 * @param {Person} person
 */
export async function refuseRecording(person) {
  await person.page.click('label[for="lobby-consent-recording-refused"]');
  await joinFromLobby(person);
  await waitConnected(person);
  await person.page.waitForFunction(() => {
    const recording = /** @type {any} */ (window).cadre.state().consents?.recording;
    return recording?.granted === false && recording.pending === 0;
  }, null, { timeout: UI_WAIT_MS });
}
