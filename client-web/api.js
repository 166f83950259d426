// @ts-check
//! The REST side: the join token from the address, and the lobby it opens.

/** @typedef {import("./wire.js").Lobby} Lobby */
/** @typedef {import("./wire.js").ErrorBody} ErrorBody */

/**
 * The join token of a `/j/{token}` address, or null.
 * @param {string} pathname
 */
export function tokenFromPath(pathname) {
  const match = /^\/j\/([^/]+)\/?$/.exec(pathname);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

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
  let response;
  try {
    response = await fetch(`/api/join?token=${encodeURIComponent(token)}`, {
      headers: { accept: "application/json" },
      cache: "no-store",
    });
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
  if (response.ok && isLobby(body)) return { ok: true, lobby: body };
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

/** @param {unknown} v @returns {v is ErrorBody} */
export function isErrorBody(v) {
  if (typeof v !== "object" || v === null) return false;
  const o = /** @type {Record<string, unknown>} */ (v);
  return typeof o.code === "string" && typeof o.message === "string";
}
