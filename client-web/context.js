// @ts-check
//! What every feature of the call is given: one `CallContext`, made by
//! `app.js` when the person joins, passed first to each feature module
//! (`attendance.js`, `consent.js`, `recording.js`, `control.js`, `quality.js`,
//! `difficulties.js`). What only one feature needs (a hook into another) comes
//! in a second argument of its own.

/**
 * @typedef {object} CallContext
 * @property {import("./wire.js").Lobby} lobby what `GET /api/join` answered
 * @property {import("./wire.js").Me} you
 * @property {import("./wire.js").SessionInfo} session as the lobby gave it (the welcome may say newer)
 * @property {string} token the join token: the credential for documents and lists
 * @property {(message: import("./wire.js").ClientMessage) => boolean} send false when the socket is not open
 * @property {import("./ui.js").Shell} shell the page around the call (bars, toasts, announcements)
 * @property {import("./ui.js").CallView} view the call's screen
 * @property {import("./panel.js").SidePanels} panels where a feature mounts its side panel
 * @property {import("./media.js").LocalMedia} media this browser's camera and microphone
 * @property {import("./transport.js").MediaTransport} mesh the media's connections (to each peer, or to the server)
 * @property {(id: string) => string} nameOf a person's name, from everyone this page knows
 */

export {};
