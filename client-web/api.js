// @ts-check
//! The REST side: the tokens in the address (`/j/{token}` to join,
//! `/r/{token}` for a sponsor's report, `/e/{token}` for the equipment
//! check), what they open, and the addresses
//! of the documents a person may download (recordings included, for
//! facilitators).

/** @typedef {import("./wire.js").Lobby} Lobby */
/** @typedef {import("./wire.js").SponsorView} SponsorView */
/** @typedef {import("./wire.js").Recordings} Recordings */
/** @typedef {import("./wire.js").Difficulty} Difficulty */
/** @typedef {import("./wire.js").ErrorBody} ErrorBody */
/** @typedef {import("./wire.js").Consistency} Consistency */
/** @typedef {import("./wire.js").QuestionnaireForm} QuestionnaireForm */
/** @typedef {import("./wire.js").InvitationLink} InvitationLink */
/** @typedef {import("./wire.js").EquipmentCheck} EquipmentCheck */
/** @typedef {import("./wire.js").EquipmentAnswer} EquipmentAnswer */
/** @typedef {import("./i18n.js").Lang} Lang */

/**
 * The token of a `/{prefix}/{token}` address, or null.
 * @param {string} pathname
 * @param {"j" | "r" | "q" | "e"} prefix
 */
function pathToken(pathname, prefix) {
  const match = new RegExp(`^/${prefix}/([^/]+)/?$`).exec(pathname);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

/**
 * The join token of a `/j/{token}` address, or null.
 * @param {string} pathname
 */
export function tokenFromPath(pathname) {
  return pathToken(pathname, "j");
}

/**
 * The report token of a sponsor's `/r/{token}` address, or null.
 * @param {string} pathname
 */
export function sponsorTokenFromPath(pathname) {
  return pathToken(pathname, "r");
}

/**
 * The token of an appreciation questionnaire's invitation link
 * (`/q/{token}`), or null.
 * @param {string} pathname
 */
export function questionnaireTokenFromPath(pathname) {
  return pathToken(pathname, "q");
}

/**
 * The join token of an equipment check's `/e/{token}` address, or null.
 * @param {string} pathname
 */
export function equipmentTokenFromPath(pathname) {
  return pathToken(pathname, "e");
}

/** The equipment check's address for a join token. @param {string} token */
export function equipmentPath(token) {
  return `/e/${encodeURIComponent(token)}`;
}

/**
 * `GET /api/equipment?token=…`: what the equipment check needs. Never throws.
 * @param {string} token
 * @returns {Promise<{ ok: true, value: EquipmentCheck } | { ok: false, error: ErrorBody }>}
 */
export function fetchEquipment(token) {
  return getJson(`/api/equipment?token=${encodeURIComponent(token)}`, isEquipmentCheck);
}

/**
 * `POST {path}?token=…` `{sdp}`: the check's offer, answered by the
 * server's echoing peer. Never throws.
 * @param {string} path
 * @param {string} token
 * @param {string} sdp
 * @returns {Promise<{ ok: true, answer: EquipmentAnswer } | { ok: false, error: ErrorBody }>}
 */
export async function postEquipmentOffer(path, token, sdp) {
  const result = await requestJson(`${path}?token=${encodeURIComponent(token)}`, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify({ sdp }),
  }, isEquipmentAnswer);
  return result.ok ? { ok: true, answer: result.value } : result;
}

/** @param {unknown} v @returns {v is EquipmentCheck} */
function isEquipmentCheck(v) {
  if (typeof v !== "object" || v === null) return false;
  const o = /** @type {Record<string, unknown>} */ (v);
  return typeof o.offer_path === "string" && Array.isArray(o.ice_servers) && typeof o.session === "object" && o.session !== null
    && typeof o.you === "object" && o.you !== null;
}

/** @param {unknown} v @returns {v is EquipmentAnswer} */
function isEquipmentAnswer(v) {
  return typeof v === "object" && v !== null && typeof (/** @type {Record<string, unknown>} */ (v)).sdp === "string";
}

/**
 * `GET /api/questionnaire?token=…`: the form an invitation link opens.
 * Never throws.
 * @param {string} token
 * @returns {Promise<{ ok: true, value: QuestionnaireForm } | { ok: false, error: ErrorBody }>}
 */
export function fetchQuestionnaire(token) {
  return getJson(`/api/questionnaire?token=${encodeURIComponent(token)}`, isQuestionnaireForm);
}

/**
 * `POST /api/questionnaire?token=…`: the one answer of an invitation.
 * Never throws.
 * @param {string} token
 * @param {(number | string | null)[]} answers per question, null when left blank
 * @returns {Promise<{ ok: true, value: unknown } | { ok: false, error: ErrorBody }>}
 */
export function sendQuestionnaire(token, answers) {
  return requestJson(`/api/questionnaire?token=${encodeURIComponent(token)}`, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify({ answers }),
  }, (v) => typeof v === "object" && v !== null);
}

/**
 * `GET /api/invitations?token=…`: a person's questionnaire invitations not
 * answered yet (their join token). Never throws.
 * @param {string} token
 * @returns {Promise<{ ok: true, value: InvitationLink[] } | { ok: false, error: ErrorBody }>}
 */
export function fetchInvitations(token) {
  return getJson(`/api/invitations?token=${encodeURIComponent(token)}`, (v) => Array.isArray(v));
}

/** @param {unknown} v @returns {v is QuestionnaireForm} */
function isQuestionnaireForm(v) {
  if (typeof v !== "object" || v === null) return false;
  const o = /** @type {Record<string, unknown>} */ (v);
  return typeof o.title === "string" && Array.isArray(o.questions) && typeof o.answered === "boolean";
}

/**
 * Where a person's documents are. The join token is the credential (as for
 * the lobby); the server answers each with `Content-Disposition: attachment`.
 */
export const documents = {
  /** A person's certificat de réalisation for the whole action, as a PDF. @param {string} sid @param {string} pid @param {string} token @param {Lang} lang */
  certificate: (sid, pid, token, lang) =>
    `/api/sessions/${encodeURIComponent(sid)}/certificate/${encodeURIComponent(pid)}?token=${encodeURIComponent(token)}&lang=${lang}`,
  /** A person's relevé de présence for this session, as a PDF. @param {string} sid @param {string} pid @param {string} token @param {Lang} lang */
  proofPdf: (sid, pid, token, lang) =>
    `/api/sessions/${encodeURIComponent(sid)}/proofs/${encodeURIComponent(pid)}/pdf?token=${encodeURIComponent(token)}&lang=${lang}`,
  /** A person's proof as JSON: its JWS and what it states. @param {string} sid @param {string} pid @param {string} token */
  proofJson: (sid, pid, token) =>
    `/api/sessions/${encodeURIComponent(sid)}/proofs/${encodeURIComponent(pid)}/json?token=${encodeURIComponent(token)}`,
  /** The consistency proof between two sizes of the session's log. @param {string} sid @param {number} from @param {number} to @param {string} token */
  consistency: (sid, from, to, token) =>
    `/api/sessions/${encodeURIComponent(sid)}/ledger/consistency?from=${from}&to=${to}&token=${encodeURIComponent(token)}`,
  /** A person's signed proof (compact JWS), for `cadre verify`. @param {string} sid @param {string} pid @param {string} token */
  proofJws: (sid, pid, token) =>
    `/api/sessions/${encodeURIComponent(sid)}/proofs/${encodeURIComponent(pid)}?token=${encodeURIComponent(token)}`,
  /** The session's attendance sheet, as a PDF (facilitators). @param {string} sid @param {string} token @param {Lang} lang */
  sheetPdf: (sid, token, lang) =>
    `/api/sessions/${encodeURIComponent(sid)}/attendance.pdf?token=${encodeURIComponent(token)}&lang=${lang}`,
  /** The session's attendance sheet, as CSV (facilitators). @param {string} sid @param {string} token */
  sheetCsv: (sid, token) =>
    `/api/sessions/${encodeURIComponent(sid)}/attendance.csv?token=${encodeURIComponent(token)}`,
  /** The session's recording segments and files (facilitators). @param {string} sid @param {string} token */
  recordings: (sid, token) =>
    `/api/sessions/${encodeURIComponent(sid)}/recordings?token=${encodeURIComponent(token)}`,
  /** One recorded file, when the list gave no address. @param {string} sid @param {number} segment @param {string} file @param {string} token */
  recordingFile: (sid, segment, file, token) =>
    `/api/sessions/${encodeURIComponent(sid)}/recordings/${segment}/${encodeURIComponent(file)}?token=${encodeURIComponent(token)}`,
  /** The session as an iCalendar event (after a postponement, the new date). @param {string} sid @param {string} token */
  calendar: (sid, token) =>
    `/api/sessions/${encodeURIComponent(sid)}/calendar.ics?token=${encodeURIComponent(token)}`,
  /** The organisation's public keys. */
  jwks: "/.well-known/jwks.json",
};

/**
 * The validity window a token *claims* (`nbf`, `exp`), read without checking
 * the signature: only to tell a person when their link opens or expired. The
 * server alone decides whether it is valid.
 * @param {string} token
 * @returns {{ notBefore: Date | null, expiresAt: Date | null }}
 */
export function claimedWindow(token) {
  const none = { notBefore: null, expiresAt: null };
  const payload = token.split(".")[1];
  if (!payload) return none;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "="));
    /** @type {unknown} */
    const claims = JSON.parse(json);
    if (typeof claims !== "object" || claims === null) return none;
    /** @param {unknown} v */
    const date = (v) => (typeof v === "number" && Number.isFinite(v) ? new Date(v * 1000) : null);
    const c = /** @type {Record<string, unknown>} */ (claims);
    return { notBefore: date(c.nbf), expiresAt: date(c.exp) };
  } catch {
    return none;
  }
}

/**
 * `GET /api/join?token=…`. Never throws: a network failure is reported with
 * the client-side code `network`.
 * @param {string} token
 * @returns {Promise<{ ok: true, lobby: Lobby } | { ok: false, error: ErrorBody }>}
 */
export async function fetchLobby(token) {
  const result = await getJson(`/api/join?token=${encodeURIComponent(token)}`, isLobby);
  return result.ok ? { ok: true, lobby: result.value } : result;
}

/**
 * `GET /api/report?token=…`: a sponsor's aggregated report. Never throws.
 * @param {string} token
 * @returns {Promise<{ ok: true, report: SponsorView } | { ok: false, error: ErrorBody }>}
 */
export async function fetchSponsorView(token) {
  const result = await getJson(`/api/report?token=${encodeURIComponent(token)}`, isSponsorView);
  return result.ok ? { ok: true, report: result.value } : result;
}

/**
 * `GET /api/sessions/{sid}/recordings?token=…`: the session's recordings
 * (a facilitator's join token). Never throws.
 * @param {string} sid
 * @param {string} token
 * @returns {Promise<{ ok: true, recordings: Recordings } | { ok: false, error: ErrorBody }>}
 */
export async function fetchRecordings(sid, token) {
  const result = await getJson(documents.recordings(sid, token), isRecordings);
  return result.ok ? { ok: true, recordings: result.value } : result;
}

/**
 * A person's proof (`/proofs/{pid}/json`): the JWS and the tree head it
 * was drawn against. Never throws.
 * @param {string} sid
 * @param {string} pid
 * @param {string} token
 * @returns {Promise<{ ok: true, value: { jws: string, proof: { evidence: { tree_head: string, entries?: { entry: string }[] } } } } | { ok: false, error: ErrorBody }>}
 */
export function fetchProof(sid, pid, token) {
  return getJson(documents.proofJson(sid, pid, token), isProofJson);
}

/**
 * The consistency proof from `from` to `to` entries of the session's log.
 * Never throws.
 * @param {string} sid
 * @param {number} from
 * @param {number} to
 * @param {string} token
 * @returns {Promise<{ ok: true, value: Consistency } | { ok: false, error: ErrorBody }>}
 */
export function fetchConsistency(sid, from, to, token) {
  return getJson(documents.consistency(sid, from, to, token), isConsistency);
}

/**
 * `GET /api/reports?token=…`: the person's own difficulty reports (a
 * facilitator's: every report of the session). Works after the session too
 * (90 days). Never throws.
 * @param {string} token
 * @returns {Promise<{ ok: true, reports: Difficulty[] } | { ok: false, error: ErrorBody }>}
 */
export async function fetchDifficulties(token) {
  const result = await getJson(`/api/reports?token=${encodeURIComponent(token)}`, isDifficultyList);
  return result.ok ? { ok: true, reports: result.value } : result;
}

/**
 * `POST /api/reports?token=…` `{text}`: files a difficulty report without
 * the socket (after the session, or when the link no longer opens the call).
 * Never throws.
 * @param {string} token
 * @param {string} text
 * @returns {Promise<{ ok: true, report: Difficulty } | { ok: false, error: ErrorBody }>}
 */
export async function postDifficulty(token, text) {
  const result = await requestJson(`/api/reports?token=${encodeURIComponent(token)}`, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify({ text }),
  }, isDifficultyReport);
  return result.ok ? { ok: true, report: result.value } : result;
}

/** @param {unknown} v @returns {v is Difficulty} */
export function isDifficultyReport(v) {
  if (typeof v !== "object" || v === null) return false;
  const o = /** @type {Record<string, unknown>} */ (v);
  return typeof o.id === "string" && typeof o.text === "string" && typeof o.status === "string"
    && typeof o.created_at === "number" && typeof o.author === "object" && o.author !== null;
}

/** @param {unknown} v @returns {v is Difficulty[]} */
function isDifficultyList(v) {
  return Array.isArray(v) && v.every(isDifficultyReport);
}

/**
 * A JSON GET. A network failure is the client-side code `network`; an
 * answer of the wrong shape is `internal` (2xx, 5xx) or `unknown`.
 * @template T
 * @param {string} url
 * @param {(v: unknown) => v is T} valid
 * @returns {Promise<{ ok: true, value: T } | { ok: false, error: ErrorBody }>}
 */
function getJson(url, valid) {
  return requestJson(url, { headers: { accept: "application/json" } }, valid);
}

/**
 * A request answered with JSON, as `getJson` describes; never cached.
 * @template T
 * @param {string} url
 * @param {RequestInit} init
 * @param {(v: unknown) => v is T} valid
 * @returns {Promise<{ ok: true, value: T } | { ok: false, error: ErrorBody }>}
 */
async function requestJson(url, init, valid) {
  let response;
  try {
    response = await fetch(url, { ...init, cache: "no-store" });
  } catch (err) {
    return { ok: false, error: { code: "network", message: String(err) } };
  }
  /** @type {unknown} */
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy page or an empty body; the status decides below.
  }
  if (response.ok && valid(body)) return { ok: true, value: body };
  if (isErrorBody(body)) return { ok: false, error: body };
  const code = response.status >= 500 ? "internal" : response.ok ? "internal" : "unknown";
  return { ok: false, error: { code, message: `HTTP ${response.status}` } };
}

/** @param {unknown} v @returns {v is Lobby} */
function isLobby(v) {
  if (typeof v !== "object" || v === null) return false;
  const o = /** @type {Record<string, unknown>} */ (v);
  return typeof o.ws_path === "string" && typeof o.session === "object" && typeof o.you === "object";
}

/** The parts of a report the page reads without checking further. @param {unknown} v @returns {v is SponsorView} */
function isSponsorView(v) {
  if (typeof v !== "object" || v === null) return false;
  const o = /** @type {Record<string, unknown>} */ (v);
  return typeof o.session === "object" && o.session !== null && Array.isArray(o.half_days) && Array.isArray(o.named)
    && typeof o.totals === "object" && o.totals !== null && typeof o.anonymous_count === "number";
}

/** Segments, each with a number and a list of files. @param {unknown} v @returns {v is Recordings} */
function isRecordings(v) {
  if (typeof v !== "object" || v === null) return false;
  const segments = /** @type {Record<string, unknown>} */ (v).segments;
  return Array.isArray(segments) && segments.every((s) =>
    typeof s === "object" && s !== null && typeof s.segment === "number" && Array.isArray(s.files));
}

/** @param {unknown} v @returns {v is { jws: string, proof: { evidence: { tree_head: string } } }} */
function isProofJson(v) {
  if (typeof v !== "object" || v === null) return false;
  const o = /** @type {Record<string, any>} */ (v);
  return typeof o.jws === "string" && typeof o.proof?.evidence?.tree_head === "string";
}

/** @param {unknown} v @returns {v is Consistency} */
function isConsistency(v) {
  if (typeof v !== "object" || v === null) return false;
  const o = /** @type {Record<string, unknown>} */ (v);
  return o.typ === "cadre.consistency" && typeof o.from === "number" && typeof o.to === "number" && Array.isArray(o.path);
}

/** @param {unknown} v @returns {v is ErrorBody} */
export function isErrorBody(v) {
  if (typeof v !== "object" || v === null) return false;
  const o = /** @type {Record<string, unknown>} */ (v);
  return typeof o.code === "string" && typeof o.message === "string";
}
