// @ts-check
//! What the person sees: the page shell, the lobby, the call, the error and
//! "left" screens. Views only render and report clicks; `app.js` decides.

import { LANGS, has, lang, locale, onLanguageChange, setLang, t } from "./i18n.js";
import { T, bindContent, bindText, h, icon, replaceChildren, retranslate, richText } from "./dom.js";
import { SidePanels } from "./panel.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./i18n.js").Lang} Lang */
/** @typedef {import("./wire.js").Lobby} Lobby */
/** @typedef {import("./wire.js").SessionInfo} SessionInfo */
/** @typedef {import("./wire.js").Me} Me */
/** @typedef {import("./wire.js").Peer} Peer */
/** @typedef {import("./wire.js").Role} Role */
/** @typedef {import("./wire.js").ErrorBody} ErrorBody */
/** @typedef {import("./media.js").LocalMedia} LocalMedia */
/** @typedef {import("./media.js").Kind} Kind */
/** @typedef {import("./signalling.js").ConnectionStatus} ConnectionStatus */

/** A message key built from a server value, if the catalogue has it. @param {string} key */
function known(key) {
  return has(key) ? key : null;
}

/** @param {string} kind */
export function kindLabel(kind) {
  const key = known(`kind.${kind}`);
  return key ? t(key) : kind;
}

/** @param {Role | string} role */
export function roleLabel(role) {
  const key = known(`role.${role}`);
  return key ? t(key) : role;
}

/** Up to two initials for a placeholder avatar. @param {string} name */
function initials(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map((p) => p[0]?.toUpperCase() ?? "").join("");
}

/** "Europe/Paris" → "Paris". @param {string} zone */
export function zoneCity(zone) {
  return (zone.split("/").pop() ?? zone).replace(/_/g, " ");
}

/** @param {string} s */
export function capitalise(s) {
  return s.charAt(0).toLocaleUpperCase(locale()) + s.slice(1);
}

/**
 * The session's date and time range, in the session's time zone.
 * @param {Pick<SessionInfo, "time_zone"> & { planned_start: string | number, planned_end: string | number }} session
 *   planned times as RFC 3339 text or UTC ms
 */
export function formatSchedule(session) {
  const start = new Date(session.planned_start);
  const end = new Date(session.planned_end);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) return "";
  /** @param {Intl.DateTimeFormatOptions} options */
  const format = (options) => {
    try {
      return new Intl.DateTimeFormat(locale(), { ...options, timeZone: session.time_zone });
    } catch {
      // Unknown zone in this browser: fall back to UTC, said explicitly.
      return new Intl.DateTimeFormat(locale(), { ...options, timeZone: "UTC", timeZoneName: "short" });
    }
  };
  const day = format({ weekday: "long", day: "numeric", month: "long", year: "numeric" });
  const time = format({ hour: "2-digit", minute: "2-digit" });
  const sameDay = day.format(start) === day.format(end);
  const range = sameDay
    ? `${capitalise(day.format(start))}, ${time.format(start)} – ${time.format(end)}`
    : `${capitalise(day.format(start))}, ${time.format(start)} – ${day.format(end)}, ${time.format(end)}`;
  return `${range} (${t("lobby.time_zone", { tz: zoneCity(session.time_zone) })})`;
}

/** A date in the browser's own time zone, for link validity messages. @param {Date} date */
export function formatLocalDateTime(date) {
  return new Intl.DateTimeFormat(locale(), {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  }).format(date);
}

// ---------------------------------------------------------------------------
// Shell

/** The parts of the page that outlive every screen. */
export class Shell {
  constructor() {
    this.sessionTitle = h("p", { class: "topbar-title", hidden: true });
    /** The session's state, beside its title, during a call (filled by `control.js`). */
    this.stateBadge = h("span", { class: "state-badge", "data-field": "session-state-badge", hidden: true });
    /** Shown while the session's media passes through the organisation's server (`setRoute`). */
    this.routeBadge = h("span", { class: "route-badge", "data-field": "media-route", hidden: true });
    this.status = h("div", { class: "status", role: "status", hidden: true, "data-status": "connecting" },
      h("span", { class: "status-dot", "aria-hidden": "true" }),
      h("span", { class: "sr-only" }, T("status.label"), ": "),
      h("span", { class: "status-text" }));
    const select = h("select", { id: "lang-select", class: "lang-select" },
      ...LANGS.map((l) => h("option", { value: l, lang: l, selected: l === lang() }, t(/** @type {MessageKey} */ (`lang.${l}`)))));
    select.addEventListener("change", () => setLang(/** @type {Lang} */ (select.value)));
    /** Recording: unmissable while it runs, above everything but the header (filled by `recording.js`). */
    this.recordingBar = h("div", { class: "recording-bar", "data-field": "recording-indicator", "data-state": "off", hidden: true });
    /** The session's state when it matters (suspended, postponed, ended, resumed), with the decision's reason (filled by `control.js`). */
    this.stateBar = h("div", { class: "state-bar", "data-field": "session-state", hidden: true });
    this.banner = h("div", { class: "banner", role: "alert", hidden: true });
    this.main = h("main", { id: "main", class: "main", tabindex: "-1" });
    this.toasts = h("div", { class: "toasts", "aria-live": "polite" });
    this.announcer = h("div", { class: "sr-only", "aria-live": "polite", "aria-atomic": "true" });

    const header = h("header", { class: "topbar" },
      h("div", { class: "brand" },
        h("span", { class: "brand-mark", "aria-hidden": "true" }),
        h("span", { class: "brand-name" }, T("app.name")),
        h("span", { class: "brand-tagline" }, T("app.tagline"))),
      h("div", { class: "topbar-session" }, this.sessionTitle, this.stateBadge, this.routeBadge),
      h("div", { class: "topbar-end" },
        this.status,
        h("div", { class: "lang" }, h("label", { for: "lang-select" }, T("lang.label")), select)));
    document.body.replaceChildren(header, this.recordingBar, this.stateBar, this.banner, this.main, this.toasts, this.announcer);

    onLanguageChange(() => {
      select.value = lang();
      retranslate(document.body);
      this.#title();
    });
    this.#title();
  }

  /** @type {string | null} */
  #titleText = null;

  /** @param {string | null} text the session title for the header and the tab */
  setSessionTitle(text) {
    this.#titleText = text;
    this.sessionTitle.textContent = text ?? "";
    this.sessionTitle.hidden = !text;
    this.#title();
  }

  /** The tab's title starts with "● " while the session is being recorded. */
  #recording = false;

  /** @param {boolean} active */
  setRecording(active) {
    this.#recording = active;
    this.#title();
  }

  #title() {
    const title = this.#titleText ? `${this.#titleText} · ${t("app.name")}` : `${t("app.name")} · ${t("app.tagline")}`;
    document.title = this.#recording ? `● ${title}` : title;
  }

  /** @param {ConnectionStatus | null} status */
  setStatus(status) {
    if (status && !this.status.hidden && this.status.dataset.status === status) return;
    this.status.hidden = status === null;
    if (!status) return;
    this.status.dataset.status = status;
    const text = /** @type {HTMLElement} */ (this.status.querySelector(".status-text"));
    bindText(text, () => t(/** @type {MessageKey} */ (`status.${status}`)));
  }

  /**
   * A banner above the page; null hides it.
   * @param {{ tone: "info" | "warn" | "danger", text: MessageKey, action?: { label: MessageKey, run: () => void } } | null} banner
   */
  setBanner(banner) {
    if (!banner) {
      this.banner.hidden = true;
      this.banner.replaceChildren();
      delete this.banner.dataset.kind;
      return;
    }
    // The same banner again (one per reconnection attempt) is not news.
    if (!this.banner.hidden && this.banner.dataset.kind === banner.text) return;
    this.banner.dataset.tone = banner.tone;
    this.banner.dataset.kind = banner.text;
    replaceChildren(this.banner,
      h("p", {}, T(banner.text)),
      banner.action && h("button", { type: "button", class: "button button-light", onclick: banner.action.run }, T(banner.action.label)));
    this.banner.hidden = false;
  }

  /**
   * A short message that goes away by itself, with at most one thing to do
   * about it.
   * @param {() => string} text
   * @param {"info" | "warn"} [tone]
   * @param {{ label: () => string, action: string, run: () => void }} [offer]
   */
  toast(text, tone = "info", offer) {
    const item = h("div", { class: "toast", "data-tone": tone },
      bindText(h("p", {}), text),
      offer && bindText(h("button", {
        type: "button",
        class: "button button-small",
        "data-action": offer.action,
        onclick: () => {
          item.remove();
          offer.run();
        },
      }), offer.label),
      h("button", { type: "button", class: "icon-button", "aria-label": () => t("call.dismiss"), onclick: () => item.remove() }, icon("close")));
    this.toasts.append(item);
    while (this.toasts.children.length > 4) this.toasts.firstElementChild?.remove();
    // One with something to do stays longer, and never goes while the
    // pointer or the keyboard is on it: reading and reaching the button
    // takes some people far more than a few seconds.
    let timer = 0;
    const wait = () => {
      clearTimeout(timer);
      timer = window.setTimeout(() => item.remove(), offer ? 20_000 : 8_000);
    };
    const hold = () => clearTimeout(timer);
    const release = () => {
      if (!item.matches(":hover") && !item.contains(document.activeElement)) wait();
    };
    item.addEventListener("pointerenter", hold);
    item.addEventListener("focusin", hold);
    item.addEventListener("pointerleave", release);
    item.addEventListener("focusout", () => setTimeout(release));
    wait();
  }

  /**
   * How the call's media travels: a badge while it passes through the
   * organisation's server, nothing while it goes from person to person.
   * @param {"peer" | "forwarded" | null} route null outside a call
   */
  setRoute(route) {
    this.routeBadge.hidden = route !== "forwarded";
    this.routeBadge.dataset.route = route ?? "";
    if (route === "forwarded") {
      bindText(this.routeBadge, () => t("call.route_badge"));
      this.routeBadge.title = t("call.route_badge_title");
    }
  }

  /** Says something to screen-reader users only. @param {string} text */
  announce(text) {
    this.announcer.textContent = "";
    // A separate task, so that the same sentence twice is read twice.
    setTimeout(() => (this.announcer.textContent = text), 50);
  }

  /** @param {...Child} children */
  show(...children) {
    replaceChildren(this.main, ...children);
  }
}

/** @typedef {import("./dom.js").Child} Child */

// ---------------------------------------------------------------------------
// Simple screens

/** @param {MessageKey} [text] what is loading */
export function loadingScreen(text = "app.loading") {
  return h("section", { class: "card card-narrow loading", "aria-busy": "true" },
    h("div", { class: "spinner", "aria-hidden": "true" }),
    h("p", {}, T(text)));
}

/**
 * @param {ErrorBody} error
 * @param {{ notBefore: Date | null, expiresAt: Date | null }} window what the token claims, for dates
 * @param {() => void} retry
 * @param {Child} [extra] more under the message (the difficulty reports when the link still files them)
 */
export function errorScreen(error, window, retry, extra = null) {
  /** @type {() => string} */
  let text;
  let retryable = false;
  switch (error.code) {
    case "token_expired": {
      const at = window.expiresAt;
      text = () => (at ? t("error.token_expired_at", { when: formatLocalDateTime(at) }) : t("error.token_expired"));
      break;
    }
    case "token_not_yet_valid": {
      const at = window.notBefore;
      text = () => (at ? t("error.token_not_yet_valid_at", { when: formatLocalDateTime(at) }) : t("error.token_not_yet_valid"));
      retryable = true;
      break;
    }
    case "token_revoked":
      text = () => t("error.token_revoked");
      break;
    case "session_ended":
      text = () => t("error.session_ended");
      break;
    case "forbidden":
      text = () => t("error.forbidden");
      break;
    case "token_missing":
    case "token_malformed":
    case "token_algorithm":
    case "token_signature":
    case "wrong_session":
    case "not_found":
      text = () => t("error.invalid_link");
      break;
    case "network":
      text = () => t("error.network");
      retryable = true;
      break;
    case "internal":
      text = () => t("error.internal");
      retryable = true;
      break;
    case "at_capacity":
      text = () => t("error.session_full");
      retryable = true;
      break;
    default:
      text = () => t("error.unknown", { code: error.code });
      retryable = true;
  }
  return h("section", { class: "card card-narrow error-card", "data-error-code": error.code, "aria-labelledby": "error-title" },
    h("h1", { id: "error-title" }, T("error.title")),
    bindText(h("p", { class: "error-message" }), text),
    retryable && h("button", { type: "button", class: "button button-primary", onclick: retry }, T("error.retry")),
    extra);
}

/**
 * The token in what a person pasted: a whole join link (`…/j/{token}`,
 * with or without a query) or the token alone; null when it is neither.
 * @param {string} text
 * @returns {string | null}
 */
export function pastedToken(text) {
  const value = text.trim();
  const fromLink = /\/j\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)(?:[?#].*)?$/.exec(value);
  if (fromLink) return fromLink[1];
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(value) ? value : null;
}

/**
 * The page at the server's root: how to join (the personal
 * link, from the e-mail or the organiser), a field to paste it into, and
 * where the organiser's tools are.
 */
export function welcomeScreen() {
  const input = /** @type {HTMLInputElement} */ (h("input", {
    id: "welcome-link",
    type: "text",
    inputmode: "url",
    autocomplete: "off",
    spellcheck: "false",
    "data-field": "welcome-link",
    "aria-describedby": "welcome-link-error",
  }));
  const problem = h("p", { id: "welcome-link-error", class: "panel-problem", role: "alert", "data-field": "welcome-error", hidden: true },
    T("welcome.bad_link"));
  const form = h("form", { class: "welcome-form", "data-field": "welcome-form" },
    h("label", { for: "welcome-link" }, T("welcome.paste")),
    input,
    h("button", { type: "submit", class: "button button-primary", "data-action": "welcome-open" }, T("welcome.open")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = pastedToken(input.value);
    problem.hidden = token !== null;
    input.setAttribute("aria-invalid", String(token === null));
    if (token === null) {
      input.focus();
      return;
    }
    location.assign(`/j/${token}${location.search}`);
  });
  const example = `${location.origin}/j/…`;
  return h("section", { class: "card card-narrow welcome-card", "data-screen": "welcome", "aria-labelledby": "welcome-title" },
    h("h1", { id: "welcome-title" }, T("welcome.title")),
    bindContent(h("p", { "data-field": "welcome-how" }), () => richText("welcome.how", { example: () => h("code", {}, example) })),
    h("p", {}, T("welcome.personal")),
    form,
    problem,
    h("p", { class: "panel-hint" }, T("welcome.no_link")),
    h("h2", {}, T("welcome.organiser_title")),
    bindContent(h("p", { "data-field": "welcome-organiser" }), () => richText("welcome.organiser", {
      cli: () => h("code", {}, "cadre session create"),
      links: () => h("code", {}, "cadre session links"),
      rest: () => h("code", {}, "/api/sessions"),
      protocol: () => h("code", {}, "docs/protocol.md"),
      operations: () => h("code", {}, "docs/operations.md"),
    })));
}

/** While the departure is recorded (at most a couple of seconds). */
export function leavingScreen() {
  return h("section", { class: "card card-narrow loading", "aria-busy": "true", "data-screen": "leaving" },
    h("div", { class: "spinner", "aria-hidden": "true" }),
    h("p", {}, T("left.leaving")));
}

/**
 * @param {() => void} rejoin
 * @param {{ received: boolean, kept: boolean, count: number, download: () => void } | null} [receipt]
 *   what became of the departure's receipt (null: no call to leave, nothing to say)
 */
export function leftScreen(rejoin, receipt = null) {
  const button = h("button", { type: "button", class: "button button-primary", "data-action": "rejoin", onclick: rejoin }, T("left.rejoin"));
  /** @type {MessageKey | null} */
  const note = !receipt ? null : !receipt.received ? "left.no_receipt" : receipt.kept ? "left.receipt_kept" : "receipts.not_stored";
  const section = h("section", { class: "card card-narrow left-card", "aria-labelledby": "left-title" },
    h("h1", { id: "left-title" }, T("left.title")),
    h("p", {}, T("left.body")),
    note && h("p", { class: "left-receipt", "data-field": "left-receipt" }, T(note)),
    receipt && receipt.count > 0 && h("p", {},
      h("button", { type: "button", class: "button button-quiet", "data-action": "download-receipts", onclick: receipt.download },
        icon("download"), T("receipts.download", { n: receipt.count }))),
    button);
  queueMicrotask(() => button.focus());
  return section;
}

// ---------------------------------------------------------------------------
// Devices (lobby and call)

/**
 * Camera and microphone selects, kept in step with `media`.
 * @param {LocalMedia} media
 * @param {string} idPrefix
 */
export function deviceSelects(media, idPrefix) {
  const camera = h("select", { id: `${idPrefix}-camera`, "data-device": "video" });
  const microphone = h("select", { id: `${idPrefix}-microphone`, "data-device": "audio" });
  const root = h("div", { class: "devices" },
    h("div", { class: "field" }, h("label", { for: camera.id }, T("lobby.camera_select")), camera),
    h("div", { class: "field" }, h("label", { for: microphone.id }, T("lobby.microphone_select")), microphone));

  const refresh = async () => {
    const { cameras, microphones } = await media.devices();
    fill(camera, cameras, media.cameraId, "lobby.no_camera");
    fill(microphone, microphones, media.microphoneId, "lobby.no_microphone");
  };
  /**
   * @param {HTMLSelectElement} select
   * @param {MediaDeviceInfo[]} list
   * @param {string | undefined} current
   * @param {MessageKey} none
   */
  const fill = (select, list, current, none) => {
    if (list.length === 0) {
      replaceChildren(select, h("option", { value: "" }, T(none)));
      select.disabled = true;
      return;
    }
    select.disabled = false;
    replaceChildren(select, ...list.map((d, i) => {
      const option = h("option", { value: d.deviceId, selected: d.deviceId === current });
      if (d.label) option.textContent = d.label;
      else bindText(option, () => t("lobby.device_default", { n: i + 1 }));
      return option;
    }));
  };
  for (const select of [camera, microphone]) {
    select.addEventListener("change", () => {
      media.selectDevice(/** @type {Kind} */ (select.dataset.device), select.value);
    });
  }
  // Follow plugged and unplugged devices while on screen; let go afterwards.
  let shown = false;
  const unsubscribe = media.onChange(() => follow());
  const follow = () => {
    if (root.isConnected) {
      shown = true;
      refresh();
      return;
    }
    if (!shown) return;
    unsubscribe();
    navigator.mediaDevices?.removeEventListener("devicechange", follow);
  };
  navigator.mediaDevices?.addEventListener("devicechange", follow);
  refresh();
  return root;
}

/** @param {LocalMedia} media @returns {MessageKey | null} */
function mediaProblem(media) {
  return media.problem ? /** @type {MessageKey} */ (`media.${media.problem}`) : null;
}

// ---------------------------------------------------------------------------
// Lobby

/**
 * The lobby's evidence notice: everything the session
 * records, who controls the data (the session's organisation), how long it
 * is kept, and how to exercise one's rights. On a narrow screen it comes
 * before « Rejoindre » (app.css).
 * @param {Lobby} lobby
 */
function evidenceNotice(lobby) {
  const organisation = lobby.session.organisation;
  const facts = lobby.notice;
  const contact = facts?.contact ?? "";
  return h("section", { class: "card notice", "data-field": "evidence-notice", "aria-labelledby": "notice-title" },
    h("h2", { id: "notice-title" }, T("notice.title")),
    h("p", {}, T("notice.why")),
    h("ul", {},
      h("li", { "data-item": "times" }, T("notice.item.times")),
      h("li", { "data-item": "device" }, T("notice.item.device")),
      h("li", { "data-item": "presence" }, T("notice.item.presence")),
      h("li", { "data-item": "quality" }, T("notice.item.quality")),
      h("li", { "data-item": "signin" }, T("notice.item.signin")),
      h("li", { "data-item": "consents" }, T("notice.item.consents")),
      h("li", { "data-item": "quizzes" }, T("notice.item.quizzes")),
      h("li", { "data-item": "questionnaires" }, T("notice.item.questionnaires")),
      h("li", { "data-item": "reports" }, T("notice.item.reports"))),
    h("p", { class: "notice-strong" }, T("notice.never")),
    h("p", { "data-field": "notice-chat" }, T("notice.chat")),
    h("p", { "data-field": "notice-screen" }, T("notice.screen")),
    h("p", { "data-field": "notice-route" }, T(/** @type {MessageKey} */ (`notice.route.${facts?.media ?? "auto"}`))),
    h("p", {}, T("notice.access")),
    h("h3", { class: "notice-subtitle" }, T("notice.data_title")),
    h("dl", { class: "notice-facts" },
      h("dt", {}, T("notice.controller")),
      h("dd", { "data-field": "notice-controller" }, organisation ? T("notice.controller_is", { organisation }) : T("notice.controller_unnamed")),
      h("dt", {}, T("notice.kept")),
      h("dd", { "data-field": "notice-kept" }, facts
        ? T("notice.kept_for", { years: facts.evidence_kept_years, days: facts.recording_retention_days })
        : T("notice.kept_unknown")),
      h("dt", {}, T("notice.rights")),
      h("dd", { "data-field": "notice-rights" }, contact
        ? T("notice.rights_contact", { contact })
        : T("notice.rights_organisation", { organisation: organisation || t("notice.the_organisation") }))));
}

export class LobbyView {
  /**
   * @param {Lobby} lobby
   * @param {LocalMedia} media
   * @param {() => void} onJoin
   * @param {HTMLElement | null} [consents] the "Vos accords" card, under the notice
   */
  constructor(lobby, media, onJoin, consents = null) {
    const { session, you } = lobby;
    this.media = media;

    const facts = h("dl", { class: "facts" },
      h("dt", {}, T("lobby.organisation")), h("dd", {}, session.organisation),
      h("dt", {}, T("lobby.when")), bindText(h("dd", { "data-field": "schedule" }), () => formatSchedule(session)),
      session.facilitators.length > 0 && h("dt", {}, T("lobby.facilitators")),
      session.facilitators.length > 0 && h("dd", {}, session.facilitators.join(", ")),
      h("dt", {}, T("lobby.you")),
      bindText(h("dd", { "data-field": "you" }), () => t("lobby.you_are", { name: you.name, role: roleLabel(you.role) })));

    const sessionCard = h("section", { class: "card session-card", "aria-labelledby": "session-title" },
      h("p", { class: "eyebrow" }, T("lobby.heading")),
      h("h1", { id: "session-title" }, session.title),
      h("p", { class: "badges" },
        bindText(h("span", { class: "badge", "data-kind": session.kind }), () => kindLabel(session.kind)),
        session.state !== "scheduled" && session.state !== "open" &&
          bindText(h("span", { class: "badge badge-muted" }), () => t("lobby.state", { state: t(/** @type {MessageKey} */ (`state.${session.state}`)) }))),
      facts);

    const notice = evidenceNotice(lobby);

    this.video = h("video", { class: "mirror", autoplay: true, playsinline: true, muted: true, "aria-label": () => t("lobby.preview") });
    this.video.muted = true;
    this.video.srcObject = media.stream;
    this.previewOff = h("div", { class: "preview-off" },
      h("span", { class: "avatar", "aria-hidden": "true" }, initials(you.name)),
      h("span", {}, T("lobby.preview_off")));
    const preview = h("div", { class: "preview" }, this.video, this.previewOff);

    this.cameraToggle = h("input", { type: "checkbox", id: "join-camera", role: "switch" });
    this.micToggle = h("input", { type: "checkbox", id: "join-microphone", role: "switch" });
    this.cameraToggle.addEventListener("change", async () => {
      this.cameraToggle.disabled = true;
      await media.setCamera(this.cameraToggle.checked);
      this.cameraToggle.disabled = false;
      this.#sync();
    });
    this.cameraToggle.checked = true;
    this.micToggle.checked = true;
    this.micToggle.addEventListener("change", async () => {
      await media.setMicrophone(this.micToggle.checked);
      this.#sync();
    });
    this.problem = h("p", { class: "hint hint-warn", role: "status" });
    this.joinButton = h("button", { type: "button", class: "button button-primary button-large", "data-action": "join" }, T("lobby.join"));
    this.joinButton.addEventListener("click", () => {
      this.joinButton.disabled = true;
      bindText(this.joinButton, () => t("lobby.joining"));
      onJoin();
    });

    const joinCard = h("section", { class: "card join-card", "aria-labelledby": "preview-title" },
      h("h2", { id: "preview-title", class: "sr-only" }, T("lobby.preview")),
      preview,
      this.problem,
      h("fieldset", { class: "devices-fieldset" },
        h("legend", {}, T("lobby.devices")),
        deviceSelects(media, "lobby")),
      h("div", { class: "switches" },
        h("div", { class: "switch" }, this.cameraToggle, h("label", { for: "join-camera" }, T("lobby.camera_on"))),
        h("div", { class: "switch" }, this.micToggle, h("label", { for: "join-microphone" }, T("lobby.microphone_on")))),
      // Full now: said before the click, which would be refused.
      lobby.full !== undefined && h("p", { class: "hint hint-warn", role: "status", "data-field": "lobby-full" },
        T("lobby.full", { n: lobby.full })),
      this.joinButton);

    this.element = h("div", { class: "lobby" },
      h("div", { class: "lobby-info" }, sessionCard, notice, consents),
      h("div", { class: "lobby-join" }, joinCard));
    this.#unsubscribe = media.onChange(() => this.#sync());
    this.#sync();
  }

  #unsubscribe;

  dispose() {
    this.#unsubscribe();
    this.video.srcObject = null;
  }

  #sync() {
    const media = this.media;
    const cameraLive = media.cameraOn && media.track("video") !== null;
    this.cameraToggle.checked = media.cameraOn;
    this.micToggle.checked = media.microphoneOn;
    // Not while the browser is still asking for permission.
    this.cameraToggle.disabled = this.micToggle.disabled = media.starting;
    this.previewOff.hidden = cameraLive || media.starting;
    this.video.hidden = !cameraLive;
    if (cameraLive) {
      // Re-attach: the stream's video track may be a new one.
      this.video.srcObject = media.stream;
      this.video.play().catch(() => {});
    }
    const problem = mediaProblem(media);
    this.problem.hidden = !problem;
    if (problem) bindText(this.problem, () => t(problem));
  }
}

// ---------------------------------------------------------------------------
// Call

/** One person's picture in the grid. */
class Tile {
  /**
   * @param {{ id: string, name: string, role: Role, self: boolean }} who
   */
  constructor(who) {
    this.who = who;
    this.video = h("video", { autoplay: true, playsinline: true });
    if (who.self) {
      this.video.muted = true;
      this.video.classList.add("mirror");
    } else {
      this.video.dataset.peerId = who.id;
    }
    this.micIndicator = h("span", { class: "indicator", hidden: true, title: () => t("call.mic_is_off") },
      icon("micOff"), h("span", { class: "sr-only" }, T("call.mic_is_off")));
    this.camIndicator = h("span", { class: "indicator", hidden: true, title: () => t("call.cam_is_off") },
      icon("cameraOff"), h("span", { class: "sr-only" }, T("call.cam_is_off")));
    this.linkState = h("p", { class: "tile-state", hidden: true });
    // A raised hand (with its place in the queue), and a reaction for a moment.
    this.hand = h("span", { class: "tile-hand", "data-field": "tile-hand", hidden: true });
    this.reaction = h("span", { class: "tile-reaction", "data-field": "tile-reaction", role: "img", hidden: true });
    /** Someone else's picture: kept large on this page (set by `CallView`). */
    this.pinButton = who.self ? null : h("button", {
      type: "button",
      class: "icon-button tile-pin",
      "data-action": "pin",
      "aria-pressed": "false",
      "aria-label": () => t(this.pinButton?.getAttribute("aria-pressed") === "true" ? "view.unpin" : "view.pin", { name: who.name }),
      title: () => t(this.pinButton?.getAttribute("aria-pressed") === "true" ? "view.unpin" : "view.pin", { name: who.name }),
    }, icon("pin"));
    // Suspended or postponed: what happened, since when, what to expect,
    // in place of a frozen picture.
    this.notice = h("div", { class: "tile-notice", "data-field": "tile-notice", role: "note", hidden: true });
    const name = who.self
      ? bindText(h("span", { class: "tile-name" }), () => t("call.you", { name: who.name }))
      : h("span", { class: "tile-name" }, who.name);
    this.element = h("figure", { class: "tile", "data-tile": who.id, "data-self": who.self ? "true" : "false", "data-camera": "on" },
      this.video,
      h("div", { class: "tile-avatar", "aria-hidden": "true" }, h("span", { class: "avatar" }, initials(who.name))),
      this.linkState,
      this.notice,
      this.reaction,
      this.pinButton,
      h("figcaption", { class: "tile-label" },
        this.hand,
        name,
        who.role === "facilitator" && bindText(h("span", { class: "tile-role" }), () => roleLabel(who.role)),
        this.micIndicator,
        this.camIndicator));
  }

  /** @param {number | null} place 1 for the first hand raised; null: none */
  setHand(place) {
    this.hand.hidden = place === null;
    if (place === null) {
      delete this.element.dataset.hand;
      this.hand.replaceChildren();
      return;
    }
    this.element.dataset.hand = String(place);
    replaceChildren(this.hand, icon("hand"), h("span", { class: "tile-hand-place" }, String(place)),
      bindText(h("span", { class: "sr-only" }), () => t("hands.raised_place", { place })));
  }

  #reactionTimer = 0;

  /** Shows `emoji` for a few seconds. @param {string} emoji @param {string} label */
  showReaction(emoji, label) {
    clearTimeout(this.#reactionTimer);
    this.reaction.textContent = emoji;
    this.reaction.setAttribute("aria-label", label);
    this.reaction.hidden = false;
    this.#reactionTimer = window.setTimeout(() => {
      this.reaction.hidden = true;
    }, REACTION_SHOWN_MS);
  }

  /** @param {boolean} camera @param {boolean} microphone */
  setMedia(camera, microphone) {
    this.element.dataset.camera = camera ? "on" : "off";
    this.camIndicator.hidden = camera;
    this.micIndicator.hidden = microphone;
  }

  /**
   * The session's notice over the picture, or none. The first line is the
   * heading.
   * @param {(() => string)[] | null} lines
   */
  setNotice(lines) {
    this.notice.hidden = !lines;
    if (lines) {
      this.element.dataset.notice = "true";
      replaceChildren(this.notice, ...lines.map((line, i) => bindText(h(i === 0 ? "strong" : "p", {}), line)));
    } else {
      delete this.element.dataset.notice;
      this.notice.replaceChildren();
    }
  }

  /**
   * How this person's media fares; `refused`: the server could not take it
   * (it forwards as much as it may).
   * @param {RTCPeerConnectionState | "self" | "refused"} state
   */
  setLinkState(state) {
    this.element.dataset.link = state;
    const key = state === "connected" || state === "self" || state === "closed"
      ? null
      : state === "refused" ? "call.peer_refused"
      : state === "failed" || state === "disconnected" ? "call.peer_failed" : "call.peer_connecting";
    this.linkState.hidden = key === null;
    if (key) bindText(this.linkState, () => t(key));
  }
}

/** The layout chosen on an earlier visit (`grid` by default). */
function readLayout() {
  try {
    return localStorage.getItem(LAYOUT_KEY) === "speaker" ? "speaker" : "grid";
  } catch {
    return "grid";
  }
}

/** How long a reaction stays on a picture. */
const REACTION_SHOWN_MS = 4000;

/** An audio level (0..1, linear) above which a person counts as speaking. */
const SPEAKING_LEVEL = 0.02;
/** A person stays marked as speaking this long after they were last heard. */
const SPEAKING_HANGOVER_MS = 600;
/** The speaker stays the speaker for this long after they were last heard. */
const SPEAKER_HOLD_MS = 1500;
/** Someone else becomes the speaker after being the loudest this long. */
const SPEAKER_TAKES_MS = 500;

/** Other people's pictures on one page (beside one's own). */
const PAGE_SIZE = 8;
/** Pictures beside a shared screen (one's own among them). */
const BESIDE_SCREEN = 4;

/** Pictures under the large one in the speaker view (one's own included). */
const STRIP = 6;

/** Where the chosen layout is kept between visits. */
const LAYOUT_KEY = "cadre.layout";

export class CallView {
  /** @type {Map<string, Tile>} */
  tiles = new Map();
  /** The session's notice on every tile (see `Tile.setNotice`). @type {(() => string)[] | null} */
  #notice = null;

  /**
   * @param {Me} you
   * @param {LocalMedia} media
   * @param {{ onToggleMicrophone: () => void, onToggleCamera: () => void, onLeave: () => void, onBlockedSound: () => void }} actions
   */
  constructor(you, media, actions) {
    this.media = media;
    this.actions = actions;
    this.self = new Tile({ id: you.id, name: you.name, role: you.role, self: true });
    this.self.video.srcObject = media.stream;
    this.self.setLinkState("self");
    this.grid = h("section", { class: "grid", "data-count": "1", "aria-label": () => t("call.participants") }, this.self.element);
    /** The page's heading, for assistive technology (the top bar shows the title). */
    this.heading = h("h1", { class: "sr-only", id: "call-title" });
    this.alone = h("p", { class: "alone" }, T("call.alone"));
    this.sharingBar = h("div", { class: "sharing-bar", role: "status", "data-field": "sharing", hidden: true },
      icon("screen"),
      h("span", {}, T("screen.you_share")),
      h("button", { type: "button", class: "button button-danger button-small", "data-action": "stop-sharing", onclick: () => this.#stopSharing?.() }, T("screen.stop")));

    this.micButton = h("button", { type: "button", class: "control", "data-action": "microphone", onclick: actions.onToggleMicrophone });
    this.camButton = h("button", { type: "button", class: "control", "data-action": "camera", onclick: actions.onToggleCamera });
    const leave = h("button", { type: "button", class: "control control-leave", "data-action": "leave", onclick: actions.onLeave },
      icon("leave"), h("span", { class: "control-label" }, T("call.leave")));
    this.leaveButton = leave;
    /** Panels beside the pictures (sign-in, presence, traces…): shown when one is open. */
    this.panels = new SidePanels((el) => this.addControl(el), (el) => this.addSecondary(el));
    const devices = h("details", {
      class: "devices-menu",
      onkeydown: (/** @type {KeyboardEvent} */ event) => {
        if (event.key === "Escape" && devices.open) {
          devices.open = false;
          devices.querySelector("summary")?.focus();
        }
      },
    },
      h("summary", { class: "control", "data-action": "devices" }, icon("devices"), h("span", { class: "control-label" }, T("lobby.devices"))),
      h("div", { class: "devices-panel" }, deviceSelects(media, "call")));

    this.modeButton = h("button", {
      type: "button",
      class: "control control-toggle",
      "data-action": "layout",
      "aria-pressed": this.mode === "speaker" ? "true" : "false",
      onclick: () => this.setMode(this.mode === "speaker" ? "grid" : "speaker"),
    }, icon("layout"), h("span", { class: "control-label" }, T("view.speaker")));
    // What one opens now and then, grouped so that the bar holds on one line.
    this.moreList = h("div", { class: "more-panel", role: "group", "aria-label": () => t("call.more") }, this.modeButton);
    this.moreDot = h("span", { class: "control-dot", hidden: true }, h("span", { class: "sr-only" }, T("panel.attention")));
    const more = /** @type {HTMLDetailsElement} */ (h("details", {
      class: "devices-menu more-menu",
      onkeydown: (/** @type {KeyboardEvent} */ event) => {
        if (event.key === "Escape" && more.open) {
          more.open = false;
          more.querySelector("summary")?.focus();
        }
      },
    },
      h("summary", { class: "control", "data-action": "more" }, icon("more"), h("span", { class: "control-label" }, T("call.more")), this.moreDot),
      this.moreList));
    // A choice made, the menu closes.
    this.moreList.addEventListener("click", () => {
      more.open = false;
    });
    // A panel in the menu that calls for attention: the menu shows it too.
    new MutationObserver(() => {
      this.moreDot.hidden = !this.moreList.querySelector(".control-dot:not([hidden])");
    }).observe(this.moreList, { subtree: true, attributes: true, attributeFilter: ["hidden"] });
    this.controls = h("nav", { class: "controls", "aria-label": () => t("call.controls") },
      this.micButton, this.camButton, devices, more, leave);
    // More people than a page holds: the others are a click away, and
    // only the pictures on screen are received (a forwarded session).
    this.pageLabel = h("span", { class: "pager-label", "aria-live": "polite" });
    this.pager = h("nav", { class: "pager", hidden: true, "aria-label": () => t("call.pages") },
      h("button", { type: "button", class: "icon-button pager-button", "data-action": "page-previous", "aria-label": () => t("call.page_previous"), onclick: () => this.turnPage(-1) }, "‹"),
      this.pageLabel,
      h("button", { type: "button", class: "icon-button pager-button", "data-action": "page-next", "aria-label": () => t("call.page_next"), onclick: () => this.turnPage(1) }, "›"));
    this.element = h("div", { class: "call", "aria-labelledby": "call-title" },
      this.heading,
      h("div", { class: "call-body" },
        h("div", { class: "stage" }, this.sharingBar, h("div", { class: "grid-area" }, this.grid), this.pager, this.alone),
        this.panels.element),
      this.controls);
    this.#unsubscribe = media.onChange(() => this.syncLocal());
    this.syncLocal();
    this.#layout();
  }

  #unsubscribe;

  /** @param {string} title the session's */
  setTitle(title) {
    bindText(this.heading, () => t("call.heading", { title }));
  }

  /**
   * Asks whether to leave (leaving is recorded, and ends one's presence):
   * true to leave.
   * @returns {Promise<boolean>}
   */
  confirmLeave() {
    return new Promise((resolve) => {
      const stay = h("button", { type: "button", class: "button", "data-action": "leave-cancel", onclick: () => dialog.close("stay") }, T("leave.stay"));
      const go = h("button", { type: "submit", class: "button button-danger", "data-action": "leave-confirm", value: "leave" }, T("leave.confirm"));
      const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { class: "dialog", "data-dialog": "leave", "aria-labelledby": "leave-dialog-title" },
        h("form", { class: "dialog-form", method: "dialog" },
          h("h2", { id: "leave-dialog-title", class: "dialog-title" }, T("leave.title")),
          h("p", { class: "dialog-body" }, T("leave.body")),
          h("div", { class: "dialog-actions" }, stay, go))));
      dialog.addEventListener("close", () => {
        dialog.remove();
        resolve(dialog.returnValue === "leave");
      });
      document.body.append(dialog);
      dialog.showModal();
      stay.focus();
    });
  }

  /** A control in the bar, before "Plus" and "Quitter". @param {HTMLElement} el */
  addControl(el) {
    this.controls.insertBefore(el, this.leaveButton.previousElementSibling);
  }

  /** A control in the bar's "Plus" menu. @param {HTMLElement} el */
  addSecondary(el) {
    this.moreList.append(el);
  }

  dispose() {
    this.#unsubscribe();
    for (const tile of [this.self, ...this.tiles.values()]) tile.video.srcObject = null;
  }

  /**
   * Someone else's shared screen, shown large for everyone with the people
   * beside it (null: nobody shares, or it is one's own).
   * @param {{ id: string, name: string, stream: MediaStream } | null} screen
   */
  setScreen(screen) {
    if (!screen) {
      if (this.#screen) {
        this.#screen.video.srcObject = null;
        this.#screen.element.remove();
        this.#screen = null;
        this.#layout();
      }
      return;
    }
    if (!this.#screen || this.#screen.id !== screen.id) {
      this.#screen?.element.remove();
      const video = /** @type {HTMLVideoElement} */ (h("video", { autoplay: true, playsinline: true, "data-screen-of": screen.id }));
      const name = screen.name;
      const element = h("figure", { class: "tile tile-screen", "data-tile": "screen", "data-screen-of": screen.id },
        video,
        h("figcaption", { class: "tile-label" },
          icon("screen"),
          bindText(h("span", { class: "tile-name" }), () => t("screen.of", { name }))));
      this.#screen = { id: screen.id, video, element };
      this.grid.prepend(element);
    }
    const video = this.#screen.video;
    if (video.srcObject !== screen.stream) video.srcObject = screen.stream;
    video.play().catch(() => {
      // Autoplay with sound refused: the picture at least, muted.
      video.muted = true;
      video.play().catch(() => {});
    });
    this.#layout();
  }

  /** @type {{ id: string, video: HTMLVideoElement, element: HTMLElement } | null} */
  #screen = null;

  /**
   * One's own share: a bar over the pictures saying so, with "stop" (null:
   * not sharing).
   * @param {(() => void) | null} stop
   */
  setSharing(stop) {
    this.sharingBar.hidden = stop === null;
    this.#stopSharing = stop;
  }

  /** @type {(() => void) | null} */
  #stopSharing = null;

  /** Reflects the local camera and microphone in the self tile and the buttons. */
  syncLocal() {
    const { cameraOn, microphoneOn } = this.media;
    this.self.setMedia(cameraOn, microphoneOn);
    if (cameraOn) {
      this.self.video.srcObject = this.media.stream;
      this.self.video.play().catch(() => {});
    }
    replaceChildren(this.micButton, icon(microphoneOn ? "mic" : "micOff"),
      h("span", { class: "control-label" }, T(microphoneOn ? "call.mic_mute" : "call.mic_unmute")));
    this.micButton.dataset.off = String(!microphoneOn);
    replaceChildren(this.camButton, icon(cameraOn ? "camera" : "cameraOff"),
      h("span", { class: "control-label" }, T(cameraOn ? "call.cam_off" : "call.cam_on")));
    this.camButton.dataset.off = String(!cameraOn);
  }

  /** @param {Peer} peer */
  upsertPeer(peer) {
    let tile = this.tiles.get(peer.id);
    if (!tile) {
      tile = new Tile({ id: peer.id, name: peer.name, role: peer.role, self: false });
      tile.setNotice(this.#notice);
      tile.pinButton?.addEventListener("click", () => this.setPin(this.#pin === peer.id ? null : peer.id));
      this.tiles.set(peer.id, tile);
      this.grid.append(tile.element);
      this.#layout();
    }
    tile.video.srcObject = null;
    tile.element.dataset.connectionId = peer.connection_id;
    tile.video.dataset.connectionId = peer.connection_id;
    tile.setMedia(peer.camera, peer.microphone);
    tile.setLinkState("new");
  }

  /** @param {string} id */
  removePeer(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.video.srcObject = null;
    tile.element.remove();
    this.tiles.delete(id);
    this.#layout();
  }

  /**
   * Shows the session's notice on every tile (and on those to come), or
   * takes it away.
   * @param {(() => string)[] | null} lines
   */
  setNotice(lines) {
    this.#notice = lines;
    for (const tile of [this.self, ...this.tiles.values()]) tile.setNotice(lines);
  }

  /** Removes every remote tile (before a fresh roster). */
  clearPeers() {
    for (const id of [...this.tiles.keys()]) this.removePeer(id);
  }

  /** @param {string} id @param {boolean} camera @param {boolean} microphone */
  setPeerMedia(id, camera, microphone) {
    this.tiles.get(id)?.setMedia(camera, microphone);
  }

  /**
   * Who speaks: each tile whose person is heard above a murmur is marked
   * (`data-speaking`), the others unmarked.
   * @param {Map<string, number>} levels by person, 0..1
   */
  setSpeaking(levels) {
    const now = Date.now();
    let loudest = "";
    let top = SPEAKING_LEVEL;
    for (const [id, tile] of this.tiles) {
      const level = levels.get(id) ?? 0;
      // Speech comes in bursts between syllables: a person stays marked
      // for a moment after they were last heard, so the ring does not
      // flicker.
      if (level >= SPEAKING_LEVEL) this.#heard.set(id, now);
      const speaking = now - (this.#heard.get(id) ?? 0) < SPEAKING_HANGOVER_MS;
      if ((tile.element.dataset.speaking === "true") !== speaking) tile.element.dataset.speaking = String(speaking);
      if (level >= top) {
        top = level;
        loudest = id;
      }
    }
    // The speaker changes once someone else has been the loudest for a
    // moment, or the speaker has been silent for a while: a cough does not
    // move the pictures.
    const s = this.#speaker;
    if (loudest === s.id) {
      s.heard = now;
      s.candidate = "";
    } else if (loudest && (now - s.heard > SPEAKER_HOLD_MS || !this.tiles.has(s.id))) {
      if (s.candidate !== loudest) {
        s.candidate = loudest;
        s.candidateSince = now;
      } else if (now - s.candidateSince >= SPEAKER_TAKES_MS) {
        this.#speaker = { id: loudest, heard: now, candidate: "", candidateSince: 0 };
        this.#layout();
      }
    }
  }

  /** @param {string} id @param {RTCPeerConnectionState | "refused"} state */
  setLinkState(id, state) {
    this.tiles.get(id)?.setLinkState(state);
  }

  /** @param {string} id @param {MediaStream} stream */
  setPeerStream(id, stream) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    const video = tile.video;
    if (video.srcObject !== stream) video.srcObject = stream;
    video.play().catch((err) => {
      if (err instanceof DOMException && err.name === "NotAllowedError") {
        // Autoplay with sound refused: play muted and ask for one click.
        video.muted = true;
        video.play().catch(() => {});
        this.actions.onBlockedSound();
      }
    });
  }

  /** Unmutes every remote video (after the person allowed sound). */
  unmuteAll() {
    for (const tile of this.tiles.values()) {
      tile.video.muted = false;
      tile.video.play().catch(() => {});
    }
  }

  /** Whether the server connection is up (the "you are alone" hint is only true then). */
  #connected = false;

  /** @param {boolean} connected */
  setConnected(connected) {
    this.#connected = connected;
    this.#layout();
  }

  /** All pictures alike (`grid`), or the speaker large (`speaker`). */
  mode = /** @type {"grid" | "speaker"} */ (readLayout());
  /** The person this page keeps large, if any. @type {string | null} */
  #pin = null;
  /** The person a facilitator shows large on every page, if any. @type {string | null} */
  #spotlight = null;

  /** @param {"grid" | "speaker"} mode */
  setMode(mode) {
    this.mode = mode;
    try {
      localStorage.setItem(LAYOUT_KEY, mode);
    } catch {
      // Private browsing: the choice holds for this visit.
    }
    this.modeButton.setAttribute("aria-pressed", mode === "speaker" ? "true" : "false");
    this.#layout();
  }

  /** Keeps `id` large on this page (null: nobody). @param {string | null} id */
  setPin(id) {
    this.#pin = id;
    for (const [other, tile] of this.tiles) tile.pinButton?.setAttribute("aria-pressed", other === id ? "true" : "false");
    this.#layout();
  }

  /** The person a facilitator shows to everyone (null: nobody). @param {string | null} id */
  setSpotlight(id) {
    this.#spotlight = id;
    this.#layout();
  }

  /** The picture shown large, or null for all alike. */
  #main() {
    const here = (/** @type {string | null} */ id) => id !== null && (id === this.self.who.id || this.tiles.has(id));
    if (here(this.#spotlight)) return this.#spotlight;
    if (this.#pin !== null && this.tiles.has(this.#pin)) return this.#pin;
    if (this.mode !== "speaker" || this.tiles.size === 0) return null;
    return this.tiles.has(this.#speaker.id) ? this.#speaker.id : [...this.tiles.keys()][0];
  }

  /**
   * The page of pictures the person chose (0 first). The page shown is this
   * one, or the last when there are fewer pages now: someone leaving for a
   * moment does not send the person back to the first page for good.
   */
  #page = 0;
  /** The page shown at the last layout. */
  #shown = 0;
  /** Other people's pictures per page (a test may make pages smaller). */
  pageSize = PAGE_SIZE;
  /** When each person was last heard above a murmur. @type {Map<string, number>} */
  #heard = new Map();
  /** Who speaks now, kept for a moment after they stop (see `setSpeaking`). */
  #speaker = { id: "", heard: 0, candidate: "", candidateSince: 0 };

  /** Shows the next (1) or previous (-1) page of pictures. @param {number} step */
  turnPage(step) {
    this.#page = Math.max(0, this.#shown + step);
    this.#layout();
    // A step past the last page chooses the last page, not one to come.
    this.#page = this.#shown;
  }

  #layout() {
    if (this.#screen) {
      this.#screenLayout();
      return;
    }
    const main = this.#main();
    if (main !== null) {
      this.#speakerLayout(main);
      return;
    }
    delete this.grid.dataset.layout;
    delete this.self.element.dataset.main;
    this.self.element.hidden = false;
    for (const tile of this.tiles.values()) delete tile.element.dataset.main;
    const others = [...this.tiles.entries()];
    const size = Math.max(1, this.pageSize);
    const pages = Math.max(1, Math.ceil(others.length / size));
    this.#shown = Math.min(this.#page, pages - 1);
    let visible = 1;
    for (const [i, [id, tile]] of others.entries()) {
      const onPage = Math.floor(i / size) === this.#shown;
      // The person speaking stays in view, pinned, whichever page is shown.
      const pinned = !onPage && id === this.#speaker.id;
      tile.element.hidden = !onPage && !pinned;
      if (pinned) tile.element.dataset.pinned = "true";
      else delete tile.element.dataset.pinned;
      if (!tile.element.hidden) visible += 1;
    }
    this.grid.dataset.count = String(Math.min(visible, 9));
    this.#showPages(pages);
    this.alone.hidden = !this.#connected || this.tiles.size > 0;
  }

  /**
   * One picture large (`main`), the others in a strip under it, paged; one's
   * own picture always in the strip unless it is the large one.
   * @param {string} main
   */
  #speakerLayout(main) {
    this.grid.dataset.layout = "speaker";
    const selfMain = main === this.self.who.id;
    const strip = [...this.tiles.entries()].filter(([id]) => id !== main);
    const size = selfMain ? STRIP : STRIP - 1;
    const pages = Math.max(1, Math.ceil(strip.length / size));
    this.#shown = Math.min(this.#page, pages - 1);
    for (const [id, tile] of this.tiles) {
      if (id === main) {
        tile.element.dataset.main = "true";
        tile.element.hidden = false;
      } else {
        delete tile.element.dataset.main;
      }
      delete tile.element.dataset.pinned;
    }
    if (selfMain) this.self.element.dataset.main = "true";
    else delete this.self.element.dataset.main;
    this.self.element.hidden = false;
    for (const [i, [, tile]] of strip.entries()) tile.element.hidden = Math.floor(i / size) !== this.#shown;
    this.grid.dataset.count = String(1 + Math.min(strip.length, size) + (selfMain ? 0 : 1));
    this.#showPages(pages);
    this.alone.hidden = !this.#connected || this.tiles.size > 0;
  }

  /**
   * Someone's shared screen large, the people beside it (one's own picture
   * first, then whoever speaks, then the others), paged.
   */
  #screenLayout() {
    this.grid.dataset.layout = "screen";
    delete this.self.element.dataset.main;
    this.self.element.hidden = false;
    const speaker = this.#speaker.id;
    const others = [...this.tiles.entries()].sort(([a], [b]) => Number(b === speaker) - Number(a === speaker));
    const size = BESIDE_SCREEN - 1;
    const pages = Math.max(1, Math.ceil(others.length / size));
    this.#shown = Math.min(this.#page, pages - 1);
    for (const [i, [, tile]] of others.entries()) {
      delete tile.element.dataset.main;
      delete tile.element.dataset.pinned;
      tile.element.hidden = Math.floor(i / size) !== this.#shown;
    }
    this.grid.dataset.count = String(1 + Math.min(others.length, size) + 1);
    this.#showPages(pages);
    this.alone.hidden = true;
  }

  /** The pager under the pictures: hidden for one page, else « Page n sur m ». @param {number} pages */
  #showPages(pages) {
    this.pager.hidden = pages <= 1;
    this.grid.dataset.page = String(this.#shown + 1);
    const page = this.#shown + 1;
    bindText(this.pageLabel, () => t("call.page", { page, pages }));
  }

  /** The raised hands, first raised first: each picture shows its place. @param {string[]} ids */
  setHands(ids) {
    for (const [id, tile] of [[this.self.who.id, this.self], ...this.tiles]) {
      const i = ids.indexOf(/** @type {string} */ (id));
      /** @type {Tile} */ (tile).setHand(i < 0 ? null : i + 1);
    }
  }

  /** A reaction on someone's picture (one's own included). @param {string} id @param {string} emoji @param {string} label */
  showReaction(id, emoji, label) {
    const tile = id === this.self.who.id ? this.self : this.tiles.get(id);
    tile?.showReaction(emoji, label);
  }

  /**
   * How much of each person's camera this page shows: `off` for a picture
   * on another page, else from its size on screen (a forwarded session
   * sends the layer that fits).
   * @returns {import("./wire.js").CameraView[]}
   */
  cameraViews() {
    const ratio = window.devicePixelRatio || 1;
    return [...this.tiles].map(([id, tile]) => {
      if (tile.element.hidden) return { id, quality: /** @type {const} */ ("off") };
      const width = tile.element.getBoundingClientRect().width * ratio;
      const quality = width >= 640 ? "high" : width >= 280 ? "medium" : "low";
      return { id, quality: /** @type {import("./wire.js").VideoQuality} */ (quality) };
    });
  }
}

