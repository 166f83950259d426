// @ts-check
//! Entry point: from the `/j/{token}` address to the lobby, the call and back.
//! Holds the state of the page and wires the modules together:
//!
//! - `i18n.js`: every text, French and English.
//! - `api.js`: the token and `GET /api/join`.
//! - `signalling.js`: the WebSocket (heartbeat, reconnection, close codes).
//! - `transport.js`: how the media travels, as the server says: peer to peer
//!   (`peers.js`: one RTCPeerConnection per peer, perfect negotiation) or
//!   forwarded by the server (`forwarding.js`: one connection to publish,
//!   one to receive everyone else).
//! - `media.js`: camera, microphone, devices.
//! - `dom.js`: element helpers and language-following text.
//! - `ui.js`: the screens.
//! - `panel.js`: the side panels beside the call, and the one way a feature
//!   mounts its own (`ctx.panels.mount`).
//! - `context.js`: the `CallContext` every feature below is given first.
//! - `attendance.js`: sign-in, the facilitator's presence console, "Mes traces"
//!   (with `presence.js`, `signature.js`, `evidence.js`).
//! - `documents.js`: « Mes documents », each file with what it is for and
//!   whom to give it to (the call's panel, the final screens).
//! - `consent.js`: "Vos accords" in the lobby and "Mes accords" in the call
//!   (recording, sharing with the sponsor), each tied to the wording shown.
//! - `recording.js`: recording of the session: the indicator on every page,
//!   the facilitator's "Enregistrement" panel and recordings list; with
//!   `recorder.js`, this browser's media sent to the server while it records.
//! - `control.js`: the session's state on every page (suspended, postponed,
//!   ended, with the decision's reason), media stopped while suspended, the
//!   facilitator's "Séance" panel and dialogs, the final screens.
//! - `quality.js`: connection figures sent every 5 s, the facilitator's
//!   "Conditions" and alerts, a participant's "Ma connexion".
//! - `difficulties.js`: "Signaler une difficulté" in the call and after it.
//! - `classroom.js`: the chat, raised hands, reactions, mute requests, polls,
//!   the speaker view and spotlight.
//! - `screen.js`: screen sharing (the button, the large shared screen, the
//!   facilitator's permissions).
//! - `equipment.js`: the equipment check at `/e/{token}` (camera,
//!   microphone, each network path to the server; no socket, no evidence).
//! - `sponsor.js`: a sponsor's read-only report at `/r/{token}` (no camera,
//!   no socket).
//! - `console.js`: the staff console at `/console` (login, sessions,
//!   actions, staff accounts, the audit log).
//!
//! For tests (harmless): `window.cadre.state()`, and `window.cadre.outboundVideo()`
//! (outbound video frames over the mesh).

import { claimedWindow, equipmentPath, equipmentTokenFromPath, fetchLobby, questionnaireTokenFromPath, sponsorTokenFromPath, tokenFromPath } from "./api.js";
import { has, t } from "./i18n.js";
import { T, h } from "./dom.js";
import { LocalMedia } from "./media.js";
import { MediaTransport } from "./transport.js";
import { SignallingClient } from "./signalling.js";
import { CallView, LobbyView, Shell, errorScreen, leavingScreen, leftScreen, loadingScreen, welcomeScreen } from "./ui.js";
import { Attendance } from "./attendance.js";
import { openSponsorPage } from "./sponsor.js";
import { invitationsSection, openQuestionnairePage } from "./questionnaire.js";
import { Consents, lobbyConsents } from "./consent.js";
import { Recording } from "./recording.js";
import { SessionControl, finalScreen } from "./control.js";
import { Classroom } from "./classroom.js";
import { ScreenSharing } from "./screen.js";
import { Quality, outboundVideo } from "./quality.js";
import { Difficulties, difficultyPanel } from "./difficulties.js";
import { openEquipmentPage } from "./equipment.js";
// The action, its changes, the certificate.
import { actionNotice, changeText } from "./action.js";
import { documentsPanel } from "./documents.js";
// The staff console at /console.
import { openConsole } from "./console.js";

/** @typedef {import("./wire.js").Lobby} Lobby */
/** @typedef {import("./consent.js").Choice} ConsentChoice */
/** @typedef {import("./wire.js").ConsentKind} ConsentKind */
/** @typedef {import("./wire.js").Peer} Peer */
/** @typedef {import("./wire.js").Welcome} Welcome */
/** @typedef {import("./wire.js").ErrorBody} ErrorBody */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./signalling.js").ConnectionStatus} ConnectionStatus */
/** @typedef {import("./signalling.js").StatusDetail} StatusDetail */
/** @typedef {import("./context.js").CallContext} CallContext */

/** REST answers that mean the link will not work again by waiting. */
const DEFINITIVE = new Set([
  "token_missing", "token_malformed", "token_algorithm", "token_signature", "token_expired",
  "token_revoked", "wrong_session", "not_found", "session_ended", "forbidden",
]);

const shell = new Shell();
const media = new LocalMedia();
const token = tokenFromPath(location.pathname);
/** A sponsor's report link (`/r/{token}`): a page of its own. */
const sponsorToken = sponsorTokenFromPath(location.pathname);
/** An appreciation questionnaire's invitation link (`/q/{token}`): a page of its own. */
const questionnaireToken = questionnaireTokenFromPath(location.pathname);
/** An equipment check (`/e/{token}`, a join token): a page of its own. */
const equipmentToken = equipmentTokenFromPath(location.pathname);

/** The live call, while there is one. */
/** @type {{ signalling: SignallingClient, mesh: MediaTransport, view: CallView, lobby: Lobby, attendance: Attendance, consents: Consents, recording: Recording, control: SessionControl, quality: Quality, difficulties: Difficulties, classroom: Classroom, screen: ScreenSharing } | null} */
let call = null;
/** @type {Welcome | null} the last welcome */
let welcome = null;
/** @type {Map<string, Peer>} who is connected now, as the server says */
const roster = new Map();
/** @type {ConnectionStatus | "idle"} */
let connection = "idle";
/** What the person chose in the lobby, kept for "join again". */
const choices = { camera: true, microphone: true };
/** Sound blocked by the autoplay policy, until one click. */
let soundBlocked = false;
/** The connection was lost because the server announced a restart (4006). */
let serverRestarting = false;
/** The server dropped the last `forward_view` (its queue for this person
 * was full): the pictures on screen are told again at the next tick. */
let forwardViewDropped = false;

/** @type {any} */ (window).cadre = {
  state: () => ({
    page: location.pathname.startsWith("/console") ? "console" : sponsorToken !== null ? "report" : questionnaireToken !== null ? "questionnaire" : equipmentToken !== null ? "equipment" : "session",
    connection,
    peers: [...roster.keys()],
    welcome,
    links: call ? call.mesh.states() : {},
    route: call?.mesh.route ?? null,
    attendance: call?.attendance.snapshot() ?? null,
    consents: call?.consents.snapshot() ?? null,
    recording: call?.recording.snapshot() ?? null,
    session: call?.control.snapshot() ?? null,
    quality: call?.quality.snapshot() ?? null,
    alerts: call ? [...call.quality.alerts.values()] : [],
    reports: call?.difficulties.snapshot() ?? null,
  }),
  outboundVideo: () => (call ? outboundVideo(call.mesh) : Promise.resolve(null)),
  publishConnection: () => call?.mesh.server.publish ?? null,
  /** The candidate types of each peer connection's selected pair (`relay`, `host`…). */
  selectedPairs: async () => {
    /** @type {Record<string, { local?: string, remote?: string } | null>} */
    const pairs = {};
    for (const [id, pc] of call ? call.mesh.connections() : []) {
      const stats = await pc.getStats();
      /** @type {any} */
      let pair = null;
      stats.forEach((/** @type {any} */ s) => {
        if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
      });
      pairs[id] = pair
        ? { local: stats.get(pair.localCandidateId)?.candidateType, remote: stats.get(pair.remoteCandidateId)?.candidateType }
        : null;
    }
    return pairs;
  },
  /** How loud each person sounds now (0..1). */
  levels: () => (call ? Object.fromEntries(call.mesh.levels()) : {}),
  /** Tests: fewer pictures per page, to see paging with a few pages. @param {number} n */
  setPageSize: (n) => {
    if (!call) return;
    call.view.pageSize = n;
    call.view.turnPage(0);
  },
};

// ---------------------------------------------------------------------------
// Lobby

async function openLobby() {
  shell.setStatus(null);
  shell.setBanner(null);
  shell.setSessionTitle(null);
  shell.show(loadingScreen());
  if (!token) {
    // The server's root: how to join, not "invalid link".
    if (location.pathname === "/") shell.show(welcomeScreen());
    else showError({ code: "token_missing", message: "no token in the address" });
    return;
  }
  const result = await fetchLobby(token);
  if (!result.ok) {
    showError(result.error);
    return;
  }
  const lobby = result.lobby;
  // Removed by a facilitator: who, when, why, and their own documents.
  if (lobby.removal) {
    shell.setStatus("removed");
    shell.setSessionTitle(lobby.session.title);
    shell.show(finalScreen({ kind: "removed", notice: lobby.removal, you: lobby.you, session: lobby.session, token }));
    return;
  }
  // Over: no lobby, but what stays reachable (documents, difficulty reports).
  if (lobby.session.state === "ended") {
    showEnded(lobby, null);
    return;
  }
  // Optional, whatever is chosen: joining never waits on them.
  const consents = lobbyConsents(lobby);
  const view = new LobbyView(lobby, media, () => {
    choices.camera = media.cameraOn;
    choices.microphone = media.microphoneOn;
    view.dispose();
    join(lobby, consents.choices);
  }, consents.element);
  // In the session's card, what the certificate covers.
  const notice = actionNotice(lobby, token);
  if (notice) view.element.querySelector(".session-card")?.append(notice);
  view.element.querySelector(".join-card")?.append(checkLink(token, "check.from_lobby"));
  shell.show(view.element);
  if (media.stream.getTracks().length === 0) await media.start(choices);
}

/** The link no longer opens the call, but may still file difficulty reports (90 days after the session). */
const REPORTABLE = new Set(["session_ended", "token_expired"]);

/** @param {ErrorBody} error */
function showError(error) {
  shell.setStatus(null);
  shell.setSessionTitle(null);
  /** @type {HTMLElement | null} */
  let reports = null;
  if (token && REPORTABLE.has(error.code)) {
    const difficulties = new Difficulties({ you: null, token, send: null }, { heading: "h2" });
    difficulties.load();
    reports = difficulties.element;
  }
  // Not open yet: the wait is the time to test the equipment (art. 2.1.5).
  if (token && error.code === "token_not_yet_valid") reports = checkLink(token, "check.before");
  shell.show(errorScreen(error, claimedWindow(token ?? ""), () => location.reload(), reports));
}

/**
 * A line that leads to the equipment check.
 * @param {string} token
 * @param {"check.from_lobby" | "check.before"} key
 */
function checkLink(token, key) {
  return h("p", { class: "check-link" },
    h("a", { href: equipmentPath(token), "data-action": "equipment-check" }, T(key)));
}

// ---------------------------------------------------------------------------
// Call

/**
 * @param {Lobby} lobby
 * @param {Map<ConsentKind, ConsentChoice>} consentChoices made in the lobby, sent once welcomed
 */
function join(lobby, consentChoices) {
  if (!token) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${location.host}${lobby.ws_path}?token=${encodeURIComponent(token)}`;

  const view = new CallView(lobby.you, media, {
    onToggleMicrophone: () => media.setMicrophone(!media.microphoneOn).then(reportMediaProblem),
    onToggleCamera: () => media.setCamera(!media.cameraOn).then(reportMediaProblem),
    onLeave: async () => {
      if (await view.confirmLeave()) await leave();
    },
    onBlockedSound: () => {
      soundBlocked = true;
      showConnectionBanner();
    },
  });
  const signalling = new SignallingClient({
    url,
    onMessage,
    onStatus,
    checkLink: async () => {
      const result = await fetchLobby(token);
      // The lobby still opens once the session ended; the socket does not.
      if (result.ok && result.lobby.session.state === "ended") return { code: "session_ended", message: "the session has ended" };
      if (result.ok && result.lobby.removal) return { code: "token_revoked", message: "a facilitator removed this person" };
      if (result.ok && result.lobby.full) return { code: "at_capacity", message: "the session is full" };
      return !result.ok && DEFINITIVE.has(result.error.code) ? result.error : null;
    },
  });
  /** @type {ScreenSharing | null} */
  let screen = null;
  const mesh = new MediaTransport(media, {
    send: (message) => signalling.send(message),
    onRemoteStream: (id, stream) => view.setPeerStream(id, stream),
    onRemoteScreen: (id, stream) => screen?.remote(id, stream),
    onLinkState: (id, state) => view.setLinkState(id, state),
  });
  // The features, made in the order of their controls in the bar. A hook into
  // a feature made later finds it through these.
  /** @type {Attendance | null} */
  let attendance = null;
  /** @type {Recording | null} */
  let recording = null;
  /** @type {SessionControl | null} */
  let control = null;
  /** @type {Quality | null} */
  let quality = null;
  /** @type {CallContext} */
  const ctx = {
    lobby,
    you: lobby.you,
    session: lobby.session,
    token,
    send: (message) => signalling.send(message),
    shell,
    view,
    panels: view.panels,
    media,
    mesh,
    nameOf: (id) => attendance?.people.get(id)?.name ?? roster.get(id)?.name ?? id,
  };
  /** @type {Classroom | null} */
  let classroom = null;
  attendance = new Attendance(ctx, {
    personAction: (id, name) => {
      const mic = classroom?.personButtons(id, name) ?? null;
      const share = screen?.personButtons(id, name, attendance?.people.get(id)?.role ?? "participant") ?? null;
      const remove = control?.removeButton(id, name) ?? null;
      return mic || share || remove ? h("span", { class: "roster-person-actions" }, mic, share, remove) : null;
    },
  });
  documentsPanel(ctx);
  const consents = new Consents(ctx, {
    fromLobby: consentChoices,
    onDecision: (consent, granted) => {
      if (consent === "recording") recording?.consentChosen(granted);
    },
  });
  recording = new Recording(ctx, { openConsents: () => consents.panel.open(true) });
  control = new SessionControl(ctx, {
    // Suspended: nothing leaves this browser but a facilitator's voice (to
    // explain); the server closes the recording.
    onSuspended: (suspended, keepVoice) => {
      mesh.setPaused(suspended, keepVoice ? ["audio"] : []);
      if (suspended) recording?.recorder.follow(null);
    },
    onRemoved: (id) => quality?.forget(id),
  });
  quality = new Quality(ctx, {
    consoleBody: control.panel?.consoleBody ?? null,
    suspend: (reason) => control?.open("suspend", { reason }),
    attention: (on) => {
      if (control?.panel) control.panel.panel.dot.hidden = !on;
    },
  });
  const difficulties = new Difficulties(ctx, { heading: null });
  difficultyPanel(ctx, difficulties);
  classroom = new Classroom(ctx, { refreshPeople: () => attendance?.console?.render() });
  screen = new ScreenSharing(ctx, { refreshPeople: () => attendance?.console?.render() });
  const shareOption = screen.consoleOption();
  if (shareOption && attendance.console) attendance.console.panel.body.insertBefore(shareOption, attendance.console.summary);
  call = { signalling, mesh, view, lobby, attendance, consents, recording, control, quality, difficulties, classroom, screen };
  // Forwarded: the server is told which pictures are on screen and how
  // big, so that it sends each the layer it needs and nothing for the
  // others (checked each second; sent when it changed).
  let toldViews = "";
  const tellViews = () => {
    if (call?.signalling !== signalling) {
      clearInterval(viewTimer);
      return;
    }
    if (mesh.route !== "forwarded") {
      toldViews = "";
      return;
    }
    if (forwardViewDropped) {
      forwardViewDropped = false;
      toldViews = "";
    }
    const views = view.cameraViews();
    // A new connection is a new member of the forwarding: told again.
    const key = `${welcome?.connection_id ?? ""} ${JSON.stringify(views)}`;
    if (key !== toldViews && signalling.send({ type: "forward_view", views })) toldViews = key;
  };
  const viewTimer = setInterval(tellViews, 1000);
  // Who speaks, shown on the tiles: the level of each person's latest
  // packet, read ten times a second (a syllable lasts about that long).
  const speakingTimer = setInterval(() => {
    if (call?.signalling !== signalling) {
      clearInterval(speakingTimer);
      return;
    }
    view.setSpeaking(mesh.levels());
  }, 100);
  shell.setSessionTitle(lobby.session.title);
  view.setTitle(lobby.session.title);
  shell.show(view.element);
  shell.main.focus();
  signalling.start();
}

/** A device that would not start during the call: say why, briefly. @param {boolean} ok */
function reportMediaProblem(ok) {
  const problem = media.problem;
  if (ok || !problem) return;
  shell.toast(() => t(/** @type {import("./i18n.js").MessageKey} */ (`media.${problem}`)), "warn");
}

/** What was last told to the server, so that only changes are sent. */
let sentMedia = "";

function sendMediaState() {
  if (!call) return;
  const state = { camera: media.cameraOn, microphone: media.microphoneOn };
  const key = JSON.stringify(state);
  if (key === sentMedia) return;
  if (call.signalling.send({ type: "media_state", ...state })) sentMedia = key;
}
media.onChange(sendMediaState);

/** @param {ServerMessage} message */
function onMessage(message) {
  if (!call) return;
  const { view, mesh, attendance, consents, recording, control, quality, difficulties, classroom, screen } = call;
  // First: an error may answer our recorder connection or an arm request.
  if (recording.handle(message)) return;
  if (control.handle(message)) return;
  if (difficulties.handle(message)) return;
  if (quality.handle(message)) return;
  if (attendance.handle(message)) return;
  if (consents.handle(message)) return;
  if (classroom.handle(message)) return;
  if (screen.handle(message)) return;
  switch (message.type) {
    case "welcome": {
      welcome = message;
      if (message.protocol !== 1) shell.setBanner({ tone: "warn", text: "banner.protocol" });
      mesh.configure(message.ice_servers, message.ice_policy);
      // Before the peer connections: a suspended session starts them paused.
      control.welcome(message);
      const ids = new Set(message.roster.map((p) => p.id));
      for (const id of [...roster.keys()]) {
        if (!ids.has(id)) view.removePeer(id);
      }
      roster.clear();
      for (const peer of message.roster) {
        roster.set(peer.id, peer);
        view.upsertPeer(peer);
      }
      mesh.reset(message.roster, message.media ?? "peer");
      shell.setRoute(mesh.route);
      // Before its welcome: a forwarded session is recorded from the server's copy.
      recording.setRoute(mesh.route);
      sentMedia = "";
      sendMediaState();
      attendance.welcome(message);
      consents.welcome(message);
      recording.welcome(message);
      quality.welcome();
      classroom.welcome(message);
      classroom.peopleChanged(message.roster);
      screen.welcome(message);
      break;
    }
    // A change of the person's action, told at once.
    case "action_changed": {
      const change = message.change;
      shell.toast(() => changeText(change), "warn");
      shell.announce(changeText(change));
      break;
    }
    case "ice_servers": {
      // Renewed TURN credentials, before the welcome's expire.
      const policy = welcome?.ice_policy ?? "all";
      mesh.configure(message.ice_servers, policy);
      recording.recorder.configure(message.ice_servers, policy);
      break;
    }
    case "peer_joined": {
      const peer = message.peer;
      const known = roster.has(peer.id);
      roster.set(peer.id, peer);
      view.upsertPeer(peer);
      mesh.upsert(peer);
      attendance.peerJoined(peer);
      classroom.peopleChanged([...roster.values()]);
      if (!known) shell.announce(t("call.peer_joined", { name: peer.name }));
      break;
    }
    case "peer_left": {
      // The server is restarting: media between browsers does not need it,
      // so keep the picture; the welcome after the restart sorts it out.
      if (message.reason === "shutdown") break;
      const peer = roster.get(message.id);
      roster.delete(message.id);
      mesh.remove(message.id);
      view.removePeer(message.id);
      attendance.peerLeft(message.id);
      quality.forget(message.id);
      classroom.peopleChanged([...roster.values()]);
      screen.forget(message.id);
      if (peer) {
        const key = message.reason === "left" ? "call.peer_left" : "call.peer_lost";
        shell.announce(t(key, { name: peer.name }));
      }
      break;
    }
    case "peer_media": {
      const peer = roster.get(message.id);
      if (peer) roster.set(message.id, { ...peer, camera: message.camera, microphone: message.microphone });
      view.setPeerMedia(message.id, message.camera, message.microphone);
      break;
    }
    case "signal":
      mesh.signal(message.from, message.data);
      break;
    // The session's media now passes through the organisation's server.
    case "media_route": {
      mesh.moveTo(message.route, [...roster.values()]);
      shell.setRoute(message.route);
      recording.setRoute(message.route);
      if (message.route === "forwarded") {
        shell.toast(() => t("call.route_forwarded"), "info");
        shell.announce(t("call.route_forwarded"));
      }
      break;
    }
    case "forward":
      mesh.forward(message.side, message.data);
      break;
    case "forward_failed":
      mesh.forwardFailed(message.side);
      break;
    // Someone's camera and microphone could not be taken by the server:
    // their picture says so rather than "connecting" for ever.
    case "forward_refused":
      view.setLinkState(message.id, "refused");
      break;
    case "error": {
      // A relay to someone who just left is a normal race, not news.
      if (message.code === "unknown_peer") {
        console.info("cadre:", message.message);
        break;
      }
      // A busy server dropped which pictures are on screen: without a
      // second telling, pictures shown again (a page turned) would stay
      // paused. Nothing the person can act on.
      if (message.about === "forward_view") {
        console.info("cadre: forward_view", message.code, message.message);
        forwardViewDropped = true;
        break;
      }
      // The server connections' own signalling: made again on failure, not
      // something the person can act on.
      if (message.about === "forward") {
        console.warn("cadre: forwarding", message.code, message.message);
        // The server is full: the person still sees and hears the others,
        // and is told why nobody sees or hears them (tried again later).
        if (message.code === "at_capacity" && mesh.publishRefused()) {
          shell.toast(() => t("call.publish_at_capacity"), "warn");
        }
        break;
      }
      const code = message.code;
      const key = `socket.${code}`;
      shell.toast(() => (has(key) ? t(key) : t("socket.other", { code })), "warn");
      console.warn("cadre: server error", code, message.message);
      break;
    }
    case "closing":
      console.info("cadre: the server is closing this connection:", message.reason, message.message);
      break;
    case "heartbeat_ack":
      break;
  }
}

/**
 * @param {ConnectionStatus} status
 * @param {StatusDetail} detail
 */
function onStatus(status, detail) {
  connection = status;
  if (!call) return;
  if (status === "connected") serverRestarting = false;
  shell.setStatus(status);
  call.view.setConnected(status === "connected");
  call.attendance.setConnected(status === "connected");
  switch (status) {
    case "connected":
    case "connecting":
      showConnectionBanner();
      break;
    case "reconnecting":
    case "offline":
      // The server dropped our recorder connection with the socket; the
      // indicator stays as last known (the others may still be recorded).
      call.recording.disconnected(false);
      call.quality.disconnected();
      // Peer connections are kept: media often survives a signalling hiccup,
      // and the next welcome starts them over anyway.
      if (detail.closeCode === 4006 || detail.reason === "shutdown") serverRestarting = true;
      shell.setBanner(
        serverRestarting && status === "reconnecting"
          ? { tone: "info", text: "banner.shutdown" }
          : { tone: "warn", text: "banner.offline" },
      );
      break;
    case "replaced": {
      const signalling = call.signalling;
      dropPeers();
      call.recording.disconnected(true);
      call.quality.disconnected();
      shell.setBanner({
        tone: "warn",
        text: "banner.replaced",
        action: { label: "banner.resume_here", run: () => signalling.resume() },
      });
      break;
    }
    case "revoked":
      endCall();
      shell.setStatus("revoked");
      shell.setBanner({ tone: "danger", text: "banner.revoked" });
      break;
    case "ended": {
      const lobby = call.lobby;
      endCall();
      if (detail.error?.code === "session_ended") showEnded(lobby, null);
      else showError(detail.error ?? { code: "internal", message: "" });
      break;
    }
    case "removed":
    case "closed": {
      // A facilitator's decision: say what and why; never reconnect.
      const { lobby, control } = call;
      const removed = status === "removed";
      const notice = removed ? control.removal : control.notice?.action === "end" ? control.notice : null;
      endCall();
      welcome = null;
      shell.setStatus(status);
      shell.setBanner(null);
      if (removed) shell.show(finalScreen({ kind: "removed", notice, you: lobby.you, session: lobby.session, token: token ?? "" }));
      else showEnded(lobby, notice);
      shell.main.focus();
      break;
    }
    case "left":
      break;
  }
}

/**
 * The session is over: why (when this page saw the decision), the person's
 * documents, and the difficulty reports (over REST: the link files them for
 * 90 days after the session).
 * @param {Lobby} lobby
 * @param {import("./wire.js").StateNotice | null} notice
 */
function showEnded(lobby, notice) {
  shell.setSessionTitle(lobby.session.title);
  /** @type {HTMLElement | null} */
  let reports = null;
  if (token) {
    const difficulties = new Difficulties({ you: lobby.you, token, send: null }, { heading: "h2" });
    difficulties.load();
    reports = difficulties.element;
  }
  const screen = finalScreen({ kind: "ended", notice, you: lobby.you, session: lobby.session, token: token ?? "", reports });
  // Invited, never forced: the appreciation questionnaires come first, and
  // "Plus tard" puts them away (the link finds them again).
  if (token) screen.insertBefore(invitationsSection(token), screen.children[2] ?? null);
  shell.show(screen);
}

function showConnectionBanner() {
  if (soundBlocked) {
    shell.setBanner({
      tone: "info",
      text: "banner.autoplay",
      action: {
        label: "banner.autoplay_button",
        run: () => {
          soundBlocked = false;
          call?.view.unmuteAll();
          showConnectionBanner();
        },
      },
    });
  } else if (welcome && welcome.protocol !== 1) {
    shell.setBanner({ tone: "warn", text: "banner.protocol" });
  } else {
    shell.setBanner(null);
  }
}

/** Forgets every peer (our connection is gone for good or replaced). */
function dropPeers() {
  if (!call) return;
  call.mesh.closeAll();
  call.view.clearPeers();
  roster.clear();
}

/** Tears the call down; the camera and microphone are released. */
function endCall() {
  const current = call;
  if (!current) return;
  call = null;
  current.mesh.dispose();
  current.attendance.dispose();
  current.consents.dispose();
  current.recording.dispose();
  current.quality.dispose();
  current.control.dispose();
  current.view.clearPeers();
  current.view.dispose();
  current.signalling.stop();
  shell.setRoute(null);
  roster.clear();
  media.stop();
}

/**
 * Leaves: the camera goes off at once; the "left" screen waits (at most two
 * seconds) for the server's receipt of the departure, kept with the others.
 */
async function leave() {
  if (!call) return;
  const { attendance } = call;
  choices.camera = media.cameraOn;
  choices.microphone = media.microphoneOn;
  const receipt = call.signalling.leave(2000);
  endCall();
  connection = "left";
  welcome = null;
  shell.setStatus(null);
  shell.setBanner(null);
  shell.show(leavingScreen());
  const treeHead = await receipt;
  const kept = treeHead ? attendance.keepLeaveReceipt(treeHead) : false;
  // Nothing on the "leaving" screen starts a call; guard anyway.
  if (call) return;
  shell.setSessionTitle(null);
  shell.show(leftScreen(() => openLobby(), {
    received: treeHead !== null,
    kept,
    count: attendance.receipts().length,
    download: () => attendance.downloadReceipts(),
  }));
}

const consolePage = location.pathname === "/console" || location.pathname.startsWith("/console/");

if (consolePage) void openConsole(shell);
else if (sponsorToken !== null) openSponsorPage(shell, sponsorToken);
else if (questionnaireToken !== null) void openQuestionnairePage(shell, questionnaireToken);
else if (equipmentToken !== null) void openEquipmentPage(shell, equipmentToken);
else openLobby();
