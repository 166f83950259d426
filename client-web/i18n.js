// @ts-check
//! Every piece of text the client shows, French first, then English.
//! The language comes from `?lang=`, else the browser's preferences, else French;
//! the switcher in the page changes it live (see `onLanguageChange`).

/** @typedef {"fr" | "en"} Lang */

const fr = {
  "app.name": "cadre",
  "app.tagline": "Séance à distance",
  "app.loading": "Chargement de la séance…",
  "lang.label": "Langue",
  "lang.fr": "Français",
  "lang.en": "English",

  "kind.formation": "Formation",
  "kind.bilan": "Bilan de compétences",
  "kind.vae": "VAE (validation des acquis de l’expérience)",
  "kind.coaching": "Coaching",
  "kind.gapp": "Groupe d’analyse de pratiques",
  "kind.intervention": "Intervention",

  "role.facilitator": "accompagnant·e",
  "role.participant": "participant·e",

  "state.scheduled": "Programmée",
  "state.open": "Ouverte",
  "state.running": "En cours",
  "state.suspended": "Suspendue",
  "state.postponed": "Reportée",
  "state.ended": "Terminée",

  "lobby.heading": "Avant de rejoindre",
  "lobby.organisation": "Organisme",
  "lobby.when": "Date et horaires",
  "lobby.time_zone": "heure de {tz}",
  "lobby.facilitators": "Accompagnement",
  "lobby.you": "Vous",
  "lobby.you_are": "{name}, {role}",
  "lobby.preview": "Aperçu de votre caméra",
  "lobby.preview_off": "Caméra désactivée",
  "lobby.devices": "Vos appareils",
  "lobby.camera_select": "Caméra",
  "lobby.microphone_select": "Micro",
  "lobby.no_camera": "Aucune caméra détectée",
  "lobby.no_microphone": "Aucun micro détecté",
  "lobby.device_default": "Appareil {n}",
  "lobby.camera_on": "Entrer avec la caméra activée",
  "lobby.microphone_on": "Entrer avec le micro activé",
  "lobby.join": "Rejoindre la séance",
  "lobby.joining": "Connexion…",
  "lobby.state": "État de la séance : {state}",

  "notice.title": "Ce que la séance enregistre, et pourquoi",
  "notice.why": "Votre présence doit pouvoir être attestée, comme le prévoit le cadre des accompagnements de l’organisme. La séance conserve donc, comme preuves de participation :",
  "notice.item.times": "les heures de connexion et de déconnexion ;",
  "notice.item.presence": "des signaux de présence : onglet de la séance visible ou non, caméra et micro activés ou coupés ;",
  "notice.item.signin": "vos émargements (signatures en ligne).",
  "notice.never": "Jamais le contenu des échanges, ni image, ni son. Aucun enregistrement de la séance sans l’accord explicite de chaque personne présente.",
  "notice.access": "Vous pouvez consulter à tout moment ce qui est enregistré à votre sujet.",

  "media.denied": "L’accès à la caméra ou au micro a été refusé. Vous pouvez l’autoriser dans les réglages du navigateur, ou entrer sans.",
  "media.not_found": "Aucune caméra ni aucun micro n’a été trouvé. Vous pouvez entrer sans.",
  "media.busy": "La caméra ou le micro est déjà utilisé par une autre application.",
  "media.unavailable": "Ce navigateur ne permet pas l’accès à la caméra et au micro sur cette page.",
  "media.failed": "La caméra ou le micro n’a pas pu démarrer.",

  "error.title": "Impossible d’ouvrir la séance",
  "error.invalid_link": "Lien invalide. Vérifiez que vous avez ouvert le lien complet reçu par message, ou demandez-en un nouveau à l’organisme.",
  "error.token_expired": "Ce lien a expiré. Demandez un nouveau lien à l’organisme.",
  "error.token_expired_at": "Ce lien a expiré le {when}. Demandez un nouveau lien à l’organisme.",
  "error.token_not_yet_valid": "Ce lien n’est pas encore ouvert. Revenez un peu avant le début de la séance.",
  "error.token_not_yet_valid_at": "Ce lien n’est pas encore ouvert. Il s’ouvrira le {when}.",
  "error.token_revoked": "Ce lien a été révoqué par l’organisme. Contactez votre interlocuteur si vous pensez qu’il s’agit d’une erreur.",
  "error.session_ended": "Cette séance est terminée.",
  "error.forbidden": "Ce lien ne permet pas d’accéder à cette séance.",
  "error.network": "Le serveur ne répond pas. Vérifiez votre connexion à internet, puis réessayez.",
  "error.internal": "Une erreur est survenue sur le serveur. Réessayez dans un instant.",
  "error.unknown": "Une erreur inattendue est survenue ({code}).",
  "error.retry": "Réessayer",

  "socket.malformed_message": "Un message n’a pas été compris par le serveur.",
  "socket.unknown_message_type": "Un message n’a pas été reconnu par le serveur.",
  "socket.message_too_large": "Un message trop volumineux n’a pas été transmis.",
  "socket.unknown_peer": "Un message n’a pas pu être remis : la personne n’est plus connectée.",
  "socket.rate_limited": "Trop de messages en peu de temps : certains n’ont pas été transmis.",
  "socket.forbidden": "Action non autorisée pour votre rôle.",
  "socket.internal": "Erreur du serveur ; rien n’a été modifié.",
  "socket.other": "Le serveur signale une erreur ({code}).",

  "status.label": "État de la connexion",
  "status.connecting": "Connexion…",
  "status.connected": "Connecté",
  "status.reconnecting": "Reconnexion…",
  "status.offline": "Hors ligne",
  "status.replaced": "Ouverte ailleurs",
  "status.revoked": "Accès révoqué",
  "status.ended": "Déconnecté",
  "status.left": "Séance quittée",

  "banner.replaced": "Vous avez ouvert la séance dans un autre onglet ou sur un autre appareil : cette fenêtre est déconnectée.",
  "banner.resume_here": "Reprendre ici",
  "banner.revoked": "Votre lien d’accès a été révoqué par l’organisme. Contactez votre interlocuteur si vous pensez qu’il s’agit d’une erreur.",
  "banner.shutdown": "Le serveur redémarre. Reconnexion automatique…",
  "banner.offline": "Connexion perdue. Nouvelle tentative automatique…",
  "banner.protocol": "Une nouvelle version de l’application est disponible : rechargez la page.",
  "banner.autoplay": "Le navigateur a bloqué le son des autres personnes.",
  "banner.autoplay_button": "Activer le son",

  "call.participants": "Personnes dans la séance",
  "call.you": "{name} (vous)",
  "call.alone": "Vous êtes seul·e pour l’instant. Les autres personnes apparaîtront ici dès leur arrivée.",
  "call.controls": "Commandes de la séance",
  "call.mic_mute": "Couper le micro",
  "call.mic_unmute": "Activer le micro",
  "call.cam_off": "Couper la caméra",
  "call.cam_on": "Activer la caméra",
  "call.leave": "Quitter",
  "call.mic_is_off": "Micro coupé",
  "call.cam_is_off": "Caméra coupée",
  "call.peer_connecting": "Connexion en cours…",
  "call.peer_failed": "Connexion difficile…",
  "call.peer_joined": "{name} a rejoint la séance.",
  "call.peer_left": "{name} a quitté la séance.",
  "call.peer_lost": "{name} a perdu la connexion.",
  "call.dismiss": "Fermer",

  "left.title": "Vous avez quitté la séance",
  "left.body": "Votre départ a été pris en compte. Vous pouvez fermer cette page, ou revenir dans la séance.",
  "left.rejoin": "Rejoindre à nouveau",
};

/** @typedef {keyof typeof fr} MessageKey */

/** @type {Record<MessageKey, string>} */
const en = {
  "app.name": "cadre",
  "app.tagline": "Remote session",
  "app.loading": "Loading the session…",
  "lang.label": "Language",
  "lang.fr": "Français",
  "lang.en": "English",

  "kind.formation": "Training",
  "kind.bilan": "Skills assessment (bilan de compétences)",
  "kind.vae": "Accreditation of prior experience (VAE)",
  "kind.coaching": "Coaching",
  "kind.gapp": "Practice analysis group",
  "kind.intervention": "Commissioned intervention",

  "role.facilitator": "facilitator",
  "role.participant": "participant",

  "state.scheduled": "Scheduled",
  "state.open": "Open",
  "state.running": "In progress",
  "state.suspended": "Suspended",
  "state.postponed": "Postponed",
  "state.ended": "Ended",

  "lobby.heading": "Before you join",
  "lobby.organisation": "Organisation",
  "lobby.when": "Date and time",
  "lobby.time_zone": "{tz} time",
  "lobby.facilitators": "Facilitated by",
  "lobby.you": "You",
  "lobby.you_are": "{name}, {role}",
  "lobby.preview": "Your camera preview",
  "lobby.preview_off": "Camera off",
  "lobby.devices": "Your devices",
  "lobby.camera_select": "Camera",
  "lobby.microphone_select": "Microphone",
  "lobby.no_camera": "No camera found",
  "lobby.no_microphone": "No microphone found",
  "lobby.device_default": "Device {n}",
  "lobby.camera_on": "Join with camera on",
  "lobby.microphone_on": "Join with microphone on",
  "lobby.join": "Join the session",
  "lobby.joining": "Connecting…",
  "lobby.state": "Session status: {state}",

  "notice.title": "What the session records, and why",
  "notice.why": "Your attendance must be provable, as the organisation’s framework for its sessions requires. The session therefore keeps, as evidence of participation:",
  "notice.item.times": "connection and disconnection times;",
  "notice.item.presence": "presence signals: whether the session tab is visible, camera and microphone on or off;",
  "notice.item.signin": "your sign-ins (online signatures).",
  "notice.never": "Never the content of what is said, nor images, nor sound. The session is never recorded without the explicit agreement of everyone present.",
  "notice.access": "You can see at any time what is recorded about you.",

  "media.denied": "Access to the camera or microphone was refused. You can allow it in the browser settings, or join without.",
  "media.not_found": "No camera or microphone was found. You can join without.",
  "media.busy": "The camera or microphone is already in use by another application.",
  "media.unavailable": "This browser does not allow camera and microphone access on this page.",
  "media.failed": "The camera or microphone could not start.",

  "error.title": "The session cannot be opened",
  "error.invalid_link": "Invalid link. Check that you opened the complete link you received, or ask the organisation for a new one.",
  "error.token_expired": "This link has expired. Ask the organisation for a new one.",
  "error.token_expired_at": "This link expired on {when}. Ask the organisation for a new one.",
  "error.token_not_yet_valid": "This link is not open yet. Come back shortly before the session starts.",
  "error.token_not_yet_valid_at": "This link is not open yet. It opens on {when}.",
  "error.token_revoked": "This link was revoked by the organisation. Contact them if you think this is a mistake.",
  "error.session_ended": "This session is over.",
  "error.forbidden": "This link does not give access to this session.",
  "error.network": "The server is not answering. Check your internet connection, then try again.",
  "error.internal": "Something went wrong on the server. Try again in a moment.",
  "error.unknown": "An unexpected error occurred ({code}).",
  "error.retry": "Try again",

  "socket.malformed_message": "The server did not understand a message.",
  "socket.unknown_message_type": "The server did not recognise a message.",
  "socket.message_too_large": "A message was too large and was not delivered.",
  "socket.unknown_peer": "A message could not be delivered: that person is no longer connected.",
  "socket.rate_limited": "Too many messages at once: some were not delivered.",
  "socket.forbidden": "Your role does not allow this action.",
  "socket.internal": "Server error; nothing was changed.",
  "socket.other": "The server reported an error ({code}).",

  "status.label": "Connection status",
  "status.connecting": "Connecting…",
  "status.connected": "Connected",
  "status.reconnecting": "Reconnecting…",
  "status.offline": "Offline",
  "status.replaced": "Open elsewhere",
  "status.revoked": "Access revoked",
  "status.ended": "Disconnected",
  "status.left": "Left the session",

  "banner.replaced": "You opened the session in another tab or on another device: this window is disconnected.",
  "banner.resume_here": "Use this window",
  "banner.revoked": "Your access link was revoked by the organisation. Contact them if you think this is a mistake.",
  "banner.shutdown": "The server is restarting. Reconnecting automatically…",
  "banner.offline": "Connection lost. Retrying automatically…",
  "banner.protocol": "A new version of the application is available: please reload the page.",
  "banner.autoplay": "The browser blocked the other people’s sound.",
  "banner.autoplay_button": "Turn sound on",

  "call.participants": "People in the session",
  "call.you": "{name} (you)",
  "call.alone": "You are the only one here for now. Others will appear here as they arrive.",
  "call.controls": "Session controls",
  "call.mic_mute": "Mute microphone",
  "call.mic_unmute": "Unmute microphone",
  "call.cam_off": "Turn camera off",
  "call.cam_on": "Turn camera on",
  "call.leave": "Leave",
  "call.mic_is_off": "Microphone off",
  "call.cam_is_off": "Camera off",
  "call.peer_connecting": "Connecting…",
  "call.peer_failed": "Connection trouble…",
  "call.peer_joined": "{name} joined the session.",
  "call.peer_left": "{name} left the session.",
  "call.peer_lost": "{name} lost their connection.",
  "call.dismiss": "Dismiss",

  "left.title": "You have left the session",
  "left.body": "Your departure has been taken into account. You can close this page, or go back into the session.",
  "left.rejoin": "Join again",
};

/** @type {Record<Lang, Record<MessageKey, string>>} */
const catalogues = { fr, en };

/** @type {readonly Lang[]} */
export const LANGS = ["fr", "en"];

/** @param {string | null | undefined} tag @returns {Lang | null} */
function langOf(tag) {
  const base = (tag ?? "").toLowerCase().split(/[-_]/)[0];
  return base === "fr" || base === "en" ? base : null;
}

/** `?lang=` first, then the browser's preferred languages, then French. */
function initialLang() {
  const fromUrl = langOf(new URLSearchParams(location.search).get("lang"));
  if (fromUrl) return fromUrl;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const lang = langOf(tag);
    if (lang) return lang;
  }
  return "fr";
}

/** @type {Lang} */
let current = initialLang();
/** @type {Set<() => void>} */
const listeners = new Set();

/** The language in use. */
export function lang() {
  return current;
}

/** A BCP 47 locale for `Intl` formatting. */
export function locale() {
  return current === "fr" ? "fr-FR" : "en-GB";
}

/**
 * Switches language, keeps it in the address (so a reload keeps it) and
 * tells every listener.
 * @param {Lang} next
 */
export function setLang(next) {
  if (next === current) return;
  current = next;
  document.documentElement.lang = next;
  const url = new URL(location.href);
  url.searchParams.set("lang", next);
  history.replaceState(history.state, "", url);
  for (const listener of listeners) listener();
}

/** @param {() => void} listener */
export function onLanguageChange(listener) {
  listeners.add(listener);
}

/**
 * The text for `key` in the current language, with `{name}` placeholders filled.
 * @param {MessageKey} key
 * @param {Record<string, string | number>} [args]
 */
export function t(key, args) {
  const text = catalogues[current][key] ?? fr[key] ?? key;
  if (!args) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in args ? String(args[name]) : whole));
}

/**
 * Whether `key` names a message (for codes that come from the server).
 * @param {string} key
 * @returns {key is MessageKey}
 */
export function has(key) {
  return Object.hasOwn(fr, key);
}

document.documentElement.lang = current;
