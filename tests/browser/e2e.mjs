// End-to-end tests of the web client in Chromium against the real server.
//
// One `cadre demo` process (ICE restricted to 127.0.0.1) and one headless
// Chromium serve the run; each test creates its own session through the REST
// API and opens one browser context per person, so any test runs alone:
//
//   node tests/browser/e2e.mjs                      every test
//   node tests/browser/e2e.mjs --only "second tab"  those whose name contains it (repeatable)
//   ONLY="sponsor" node tests/browser/e2e.mjs       the same, from the environment
//   node tests/browser/e2e.mjs --list               the names
//
//   CADRE_BIN      the cadre binary (default ../../target/debug/cadre)
//   CHROMIUM       the browser (default /usr/bin/chromium)
//   RUN_BUDGET_MS  the whole run's budget (default 720 s)
//
// Prints `ok - name` / `not ok - name: reason` per test, then one line
// `N passed, N failed`; exits non-zero when any failed. Screenshots go to
// artifacts/ (gitignored).
//
// Layout:
//   lib/config.mjs   paths, browser flags, waits and the run budget
//   lib/runner.mjs   `test(name, fn)`, the selection, the `Stage` each test gets
//   lib/server.mjs   the server process, `createSession`, organiser calls, `cadre verify`
//   lib/pages.mjs    one person's page: open, join, wait for video, read, download
//   lib/steps.mjs    starting points several tests share (a call of three, a signed half-day)
//   suite/*.mjs      the tests, one file per area, in the order they run:
//     lobby          the languages, a garbage link
//     equipment      the equipment check before the session: devices, paths, advice, a report
//     call           video, a reload, the camera, leaving, a second tab, a revoked link
//     forwarding     a group of five through the server, the move from two to three
//     attendance     sign-in and countersignature, « Mes traces », documents, the console
//     consent        « Vos accords » in the lobby, « Mes accords » in the call
//     recording      armed, gated by everyone's agreement, stopped by a withdrawal, files
//     control        suspend and resume, conditions, a difficulty report; remove and end
//     sponsor        the sponsor's report, real and with stand-in answers
//     privacy        a removal: who and why for the removed person, who only for the others
//     documents      the root page, the language choice, the lobby notice on a phone,
//                    « Mes documents », « Mes traces » in plain words, the countersign
//                    drawing, the facilitator told of a difficulty
//     postponement   the running badge, the tiles' notice, a same-day postponement reopening live
//     turn           two pages forced to relay connect through the embedded TURN
//     staff          the staff console: login, staff accounts, the journal
//     console-session  a session's page in the console: links, invitations, documents, reports
//     dossier        the console's actions list downloads an action's dossier d'audit
//     console-actions  « Nouvelle action »: trainees from a CSV file, three sessions, the action's page
//     walkthrough    the console's whole path: a CSV action of three sessions, invitations, the dossier
//     console-enrolment  a person added by hand, a session duplicated, moved and cancelled, a late beneficiary

import { run } from "./lib/runner.mjs";
import "./suite/lobby.mjs";
import "./suite/equipment.mjs";
import "./suite/call.mjs";
import "./suite/forwarding.mjs";
import "./suite/classroom.mjs";
import "./suite/screen.mjs";
import "./suite/quizzes.mjs";
import "./suite/accessibility.mjs";
import "./suite/attendance.mjs";
import "./suite/consent.mjs";
import "./suite/recording.mjs";
import "./suite/control.mjs";
import "./suite/sponsor.mjs";
import "./suite/privacy.mjs";
import "./suite/actions.mjs";
import "./suite/documents.mjs";
import "./suite/postponement.mjs";
import "./suite/turn.mjs";
import "./suite/staff.mjs";
import "./suite/console-session.mjs";
import "./suite/dossier.mjs";
import "./suite/console-actions.mjs";
import "./suite/walkthrough.mjs";
import "./suite/console-enrolment.mjs";
import "./suite/console-corrections.mjs";

process.exitCode = await run();
