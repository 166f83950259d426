// @ts-check
//! The class around the pictures: the chat (a side panel), raising one's
//! hand (a control in the bar), and quick reactions. None of it is evidence:
//! the server keeps the chat in memory for the session only, and never
//! writes any of it to the session's log.
//!
//! Chat text is someone else's words: it is only ever put in the page as
//! text nodes (never as HTML), each message isolated for direction (`<bdi>`
//! and `dir="auto"`, so a right-to-left name or a direction control stays
//! inside its message), and only `http(s)://` addresses become links, which
//! open in a new tab without giving it this page (`noopener noreferrer`).

import { formatTime } from "./evidence.js";
import { has, t } from "./i18n.js";
import { Panel } from "./panel.js";
import { QuizView } from "./quiz.js";
import { T, bindText, h, icon, replaceChildren } from "./dom.js";

/** @typedef {import("./wire.js").ChatLine} ChatLine */
/** @typedef {import("./wire.js").RaisedHand} RaisedHand */
/** @typedef {import("./wire.js").Reaction} Reaction */
/** @typedef {import("./wire.js").Poll} Poll */
/** @typedef {import("./wire.js").ServerMessage} ServerMessage */
/** @typedef {import("./wire.js").Welcome} Welcome */
/** @typedef {import("./context.js").CallContext} CallContext */

/** Longest message, as the server takes it. */
export const MAX_CHAT = 1000;

/** The reactions offered, with what they show. @type {[Reaction, string][]} */
export const REACTIONS = [
  ["agree", "👍"],
  ["disagree", "👎"],
  ["applause", "👏"],
  ["laugh", "😀"],
  ["question", "❓"],
  ["break", "☕"],
];

/**
 * `text` as text nodes, its `http(s)://` addresses as links (a trailing
 * full stop or bracket stays text).
 * @param {string} text
 * @returns {(Node | string)[]}
 */
export function linkify(text) {
  /** @type {(Node | string)[]} */
  const out = [];
  const pattern = /https?:\/\/[^\s<>"]+/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    let url = match[0].replace(/[.,;:!?)\]]+$/, "");
    const start = match.index ?? 0;
    if (start > last) out.push(text.slice(last, start));
    /** @type {URL | null} */
    let parsed = null;
    try {
      parsed = new URL(url);
    } catch {
      parsed = null;
    }
    if (parsed && (parsed.protocol === "https:" || parsed.protocol === "http:")) {
      out.push(h("a", { href: parsed.href, target: "_blank", rel: "noopener noreferrer nofollow" }, url));
    } else {
      out.push(url);
    }
    last = start + url.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** @param {Reaction} reaction */
function reactionKey(reaction) {
  return /** @type {import("./i18n.js").MessageKey} */ (`reactions.${reaction}`);
}

export class Classroom {
  /** Hands raised now, in order. @type {RaisedHand[]} */
  hands = [];
  /** Who a facilitator shows large to everyone. @type {string | null} */
  spotlight = null;
  /** Redraws the presence console's rows (their buttons follow the spotlight). */
  #refreshPeople = () => {};
  /** Messages shown, by number (a reconnection's welcome repeats them). @type {Set<number>} */
  #shown = new Set();
  /** @type {{ id: string, name: string, role: string }[]} */
  #people = [];

  /**
   * @param {CallContext} ctx
   * @param {{ refreshPeople?: () => void }} [hooks] `refreshPeople`: redraw the presence console
   */
  constructor(ctx, { refreshPeople } = {}) {
    this.ctx = ctx;
    if (refreshPeople) this.#refreshPeople = refreshPeople;
    this.panel = ctx.panels.mount(new Panel({ id: "chat-panel", label: "chat.control", icon: "chat", title: () => t("chat.title") }));
    this.panel.onToggle(() => {
      if (this.panel.isOpen) this.panel.dot.hidden = true;
    });
    const you = ctx.you;
    this.handsList = h("ol", { class: "hands-list", "data-field": "hands" });
    this.handsSection = h("section", { class: "hands", hidden: true, "aria-labelledby": "hands-title" },
      h("h3", { id: "hands-title", class: "documents-title" }, T("hands.title")),
      this.handsList);
    this.list = h("ol", { class: "chat-list", "data-field": "chat" });
    this.empty = h("p", { class: "panel-hint", "data-field": "chat-empty" }, T("chat.empty"));
    this.recipient = h("select", { class: "chat-to", "data-field": "chat-to", "aria-label": () => t("chat.to") });
    this.text = /** @type {HTMLTextAreaElement} */ (h("textarea", {
      class: "chat-text",
      "data-field": "chat-text",
      rows: "2",
      maxlength: String(MAX_CHAT),
      "aria-label": () => t("chat.message"),
      placeholder: () => t("chat.placeholder"),
      onkeydown: (/** @type {KeyboardEvent} */ event) => {
        // Enter sends, Shift+Enter goes to the next line.
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          this.#send();
        }
      },
    }));
    this.problem = h("p", { class: "panel-problem", role: "status", "data-field": "chat-error", hidden: true });
    const form = h("form", {
      class: "chat-form",
      onsubmit: (/** @type {Event} */ event) => {
        event.preventDefault();
        this.#send();
      },
    },
      this.recipient,
      this.text,
      h("button", { type: "submit", class: "button button-primary", "data-action": "chat-send" }, T("chat.send")));
    const reactions = h("div", { class: "reactions", role: "group", "aria-label": () => t("reactions.title") },
      ...REACTIONS.map(([reaction, emoji]) => h("button", {
        type: "button",
        class: "reaction-button",
        "data-reaction": reaction,
        title: () => t(reactionKey(reaction)),
        "aria-label": () => t(reactionKey(reaction)),
        onclick: () => ctx.send({ type: "react", reaction }),
      }, emoji)));
    // Facilitators: everyone's microphone off at once (each may turn theirs
    // on again).
    const muteAll = you.role === "facilitator" && h("button", {
      type: "button",
      class: "button",
      "data-action": "mute-all",
      onclick: () => ctx.send({ type: "mute" }),
    }, T("mute.all"));
    // The latest poll, and (facilitators) the form to put one.
    this.pollView = h("section", { class: "poll", "data-field": "poll", hidden: true, "aria-labelledby": "poll-title" });
    const pollForm = you.role === "facilitator" && this.#pollForm();
    this.quizView = new QuizView(ctx, {
      openPanel: () => this.panel.open(true),
      markPanel: () => {
        if (!this.panel.isOpen) this.panel.dot.hidden = false;
      },
    });
    this.panel.body.append(
      ...(muteAll ? [muteAll] : []),
      this.pollView,
      ...(pollForm ? [pollForm] : []),
      ...this.quizView.elements,
      this.handsSection,
      h("p", { class: "panel-hint" }, T(you.role === "facilitator" ? "chat.intro_facilitator" : "chat.intro")),
      h("h3", { id: "chat-list-title", class: "sr-only" }, T("chat.title")),
      this.empty,
      h("div", { role: "log", "aria-live": "polite", "aria-labelledby": "chat-list-title" }, this.list),
      this.problem,
      form,
      reactions);
    this.handButton = h("button", {
      type: "button",
      class: "control control-toggle",
      "data-action": "hand",
      // Facilitators lead: they speak without asking.
      hidden: you.role === "facilitator",
      "aria-pressed": "false",
      onclick: () => ctx.send({ type: "hand", raised: !this.#raised() }),
    }, icon("hand"), bindText(h("span", { class: "control-label" }), () => t(this.#raised() ? "hands.lower" : "hands.raise")));
    ctx.view.addControl(this.handButton);
    this.#recipients();
  }

  /**
   * Facilitators: the microphone actions on a person's row of the presence
   * console (mute, invite to speak); null for a participant's page.
   * @param {string} id @param {string} name
   * @returns {HTMLElement | null}
   */
  personButtons(id, name) {
    if (this.ctx.you.role !== "facilitator" || id === this.ctx.you.id) return null;
    const shown = this.spotlight === id;
    return h("span", { class: "roster-mic" },
      h("button", {
        type: "button",
        class: "button button-quiet button-small",
        "data-action": "spotlight",
        "aria-pressed": shown ? "true" : "false",
        "aria-label": () => `${t(shown ? "view.spotlight_stop" : "view.spotlight")} — ${name}`,
        onclick: () => this.ctx.send(shown ? { type: "spotlight" } : { type: "spotlight", participant: id }),
      }, T(shown ? "view.spotlight_stop" : "view.spotlight")),
      h("button", {
        type: "button",
        class: "button button-quiet button-small",
        "data-action": "mute-person",
        "aria-label": () => `${t("mute.person")} — ${name}`,
        onclick: () => this.ctx.send({ type: "mute", participant: id }),
      }, T("mute.person")),
      h("button", {
        type: "button",
        class: "button button-quiet button-small",
        "data-action": "ask-unmute",
        "aria-label": () => `${t("mute.ask")} — ${name}`,
        onclick: () => this.ctx.send({ type: "ask_unmute", participant: id }),
      }, T("mute.ask")));
  }

  /** Facilitators: the question and its answers (one per line), put to the group. */
  #pollForm() {
    const question = /** @type {HTMLInputElement} */ (h("input", {
      type: "text", id: "poll-question", "data-field": "poll-question", maxlength: "300", required: true,
    }));
    const choices = /** @type {HTMLTextAreaElement} */ (h("textarea", {
      id: "poll-choices", "data-field": "poll-choices", rows: "3", required: true,
    }));
    return h("details", { class: "poll-new" },
      h("summary", {}, T("poll.new")),
      h("form", {
        class: "chat-form",
        onsubmit: (/** @type {Event} */ event) => {
          event.preventDefault();
          const answers = choices.value.split("\n").map((c) => c.trim()).filter(Boolean);
          if (!question.value.trim() || answers.length < 2 || answers.length > 6) {
            this.#problem("poll.form_invalid");
            return;
          }
          if (this.ctx.send({ type: "poll", question: question.value.trim(), choices: answers })) {
            question.value = "";
            choices.value = "";
            this.problem.hidden = true;
          }
        },
      },
        h("label", { for: "poll-question" }, T("poll.question")), question,
        h("label", { for: "poll-choices" }, T("poll.choices")), choices,
        h("button", { type: "submit", class: "button button-primary", "data-action": "poll-put" }, T("poll.put"))));
  }

  /** Shows `poll` as this person may see it. @param {Poll | null} poll */
  #showPoll(poll) {
    this.pollView.hidden = poll === null;
    if (!poll) return;
    const facilitator = this.ctx.you.role === "facilitator";
    const canAnswer = poll.open && !poll.you_answered && !facilitator;
    const total = (poll.counts ?? []).reduce((a, b) => a + b, 0);
    replaceChildren(this.pollView,
      h("h3", { id: "poll-title", class: "documents-title" }, T(poll.open ? "poll.open_title" : "poll.closed_title")),
      h("p", { class: "poll-question", dir: "auto" }, h("bdi", {}, poll.question)),
      h("ol", { class: "poll-choices" }, ...poll.choices.map((choice, i) => {
        const count = poll.counts?.[i];
        return h("li", { class: "poll-choice", "data-choice": String(i) },
          canAnswer
            ? h("button", {
              type: "button",
              class: "button",
              "data-action": "poll-answer",
              onclick: () => this.ctx.send({ type: "answer", poll: poll.id, choice: i }),
            }, h("bdi", {}, choice))
            : h("bdi", {}, choice),
          count !== undefined && h("span", { class: "poll-count", "data-field": "poll-count" },
            t("poll.count", { n: count, percent: total ? Math.round((100 * count) / total) : 0 })));
      })),
      h("p", { class: "panel-hint", "data-field": "poll-answered" },
        t(poll.you_answered ? "poll.you_answered" : "poll.answered", { n: poll.answered })),
      facilitator && poll.open && h("button", {
        type: "button",
        class: "button",
        "data-action": "poll-close",
        onclick: () => this.ctx.send({ type: "close_poll", poll: poll.id }),
      }, T("poll.close")));
  }

  /** Whether this person's hand is up. */
  #raised() {
    return this.hands.some((hand) => hand.id === this.ctx.you.id);
  }

  /** Everyone this page may write to privately (facilitators, for a participant). @param {{ id: string, name: string, role: string }[]} people */
  setPeople(people) {
    this.#people = people.filter((p) => p.id !== this.ctx.you.id);
    this.#recipients();
  }

  /**
   * Who is connected changed: a participant writes privately to the
   * facilitators connected (a facilitator to anyone of the session, from
   * the welcome); new pictures show their hands.
   * @param {{ id: string, name: string, role: string }[]} connected
   */
  peopleChanged(connected) {
    if (this.ctx.you.role !== "facilitator") this.setPeople(connected);
    this.ctx.view.setHands(this.hands.map((hand) => hand.id));
  }

  #recipients() {
    const chosen = this.recipient.value;
    const facilitator = this.ctx.you.role === "facilitator";
    const options = this.#people
      .filter((p) => facilitator || p.role === "facilitator")
      .map((p) => h("option", { value: p.id }, t("chat.to_person", { name: p.name })));
    replaceChildren(this.recipient, h("option", { value: "" }, t("chat.to_everyone")), ...options);
    this.recipient.value = [...this.recipient.options].some((o) => o.value === chosen) ? chosen : "";
    this.recipient.hidden = options.length === 0;
  }

  #send() {
    const text = this.text.value;
    if (!text.trim()) return;
    const to = this.recipient.value || undefined;
    if (this.ctx.send(to ? { type: "chat", text, to } : { type: "chat", text })) {
      this.text.value = "";
      this.problem.hidden = true;
    } else {
      this.#problem("chat.offline");
    }
  }

  /** @param {import("./i18n.js").MessageKey} key */
  #problem(key) {
    this.problem.hidden = false;
    bindText(this.problem, () => t(key));
  }

  /** @param {Welcome} welcome */
  welcome(welcome) {
    this.#showPoll(welcome.poll ?? null);
    this.quizView.show(welcome.quiz ?? null);
    this.spotlight = welcome.spotlight ?? null;
    this.ctx.view.setSpotlight(this.spotlight);
    for (const line of welcome.chat ?? []) this.#add(line, false);
    this.#setHands(welcome.hands ?? []);
    if (welcome.people?.length) this.setPeople(welcome.people);
  }

  /**
   * Takes what is the class's; true when the message was.
   * @param {ServerMessage} message
   */
  handle(message) {
    if (this.quizView.handle(message)) return true;
    switch (message.type) {
      case "chat":
        this.#add(message, true);
        return true;
      case "hands":
        this.#setHands(message.raised);
        if (message.change.id === this.ctx.you.id && message.change.by !== this.ctx.you.id && !message.change.raised) {
          const by = message.change.by === "server" ? "" : this.ctx.nameOf(message.change.by);
          if (by) this.ctx.shell.toast(() => t("hands.lowered_by", { name: by }), "info");
        }
        return true;
      case "muted": {
        // Nobody but the person turns their microphone on again.
        const by = this.ctx.nameOf(message.by);
        if (this.ctx.media.microphoneOn) void this.ctx.media.setMicrophone(false);
        this.#offerUnmute(message.everyone ? "mute.everyone_by" : "mute.by", by);
        return true;
      }
      case "unmute_asked": {
        const by = this.ctx.nameOf(message.by);
        if (this.ctx.media.microphoneOn) return true;
        this.#offerUnmute("mute.asked", by);
        return true;
      }
      case "poll": {
        const fresh = message.poll.open && message.poll.answered === 0 && !message.poll.you_answered;
        this.#showPoll(message.poll);
        if (fresh && this.ctx.you.role !== "facilitator") {
          const question = message.poll.question;
          this.ctx.shell.toast(() => t("poll.put_by", { name: this.ctx.nameOf(message.poll.by), question }), "info", {
            label: () => t("poll.answer"),
            action: "poll-open",
            run: () => this.panel.open(true),
          });
          if (!this.panel.isOpen) this.panel.dot.hidden = false;
        }
        return true;
      }
      case "spotlight": {
        this.spotlight = message.id ?? null;
        this.ctx.view.setSpotlight(this.spotlight);
        if (this.spotlight !== null && message.by !== "server") {
          const by = this.ctx.nameOf(message.by);
          const text = this.spotlight === this.ctx.you.id
            ? () => t("view.spotlight_you", { by })
            : () => t("view.spotlight_by", { by, name: this.ctx.nameOf(/** @type {string} */ (this.spotlight)) });
          this.ctx.shell.toast(text, "info");
          this.ctx.shell.announce(text());
        }
        this.#refreshPeople();
        return true;
      }
      case "reaction": {
        const emoji = REACTIONS.find(([r]) => r === message.reaction)?.[1];
        if (emoji) {
          this.ctx.view.showReaction(message.id, emoji, t(reactionKey(message.reaction)));
        }
        return true;
      }
      case "error":
        if (["chat", "hand", "react", "mute", "ask_unmute", "spotlight", "poll", "answer", "close_poll"].includes(message.about ?? "")) {
          const key = `chat.error.${message.code}`;
          this.#problem(has(key) ? /** @type {import("./i18n.js").MessageKey} */ (key) : "chat.error.other");
          if (message.about !== "chat") this.panel.open(false);
          return true;
        }
        return false;
      default:
        return false;
    }
  }

  /**
   * Says `key` (who muted or who asks) and offers to turn the microphone on:
   * the person's own choice.
   * @param {"mute.by" | "mute.everyone_by" | "mute.asked"} key @param {string} name
   */
  #offerUnmute(key, name) {
    this.ctx.shell.toast(() => t(key, { name }), "info", {
      label: () => t("mute.unmute"),
      action: "unmute",
      run: () => void this.ctx.media.setMicrophone(true),
    });
    this.ctx.shell.announce(t(key, { name }));
  }

  /** @param {ChatLine} line @param {boolean} live */
  #add(line, live) {
    if (this.#shown.has(line.seq)) return;
    this.#shown.add(line.seq);
    const mine = line.from === this.ctx.you.id;
    const to = line.to ? this.ctx.nameOf(line.to) : null;
    const head = h("p", { class: "chat-head" },
      h("bdi", { class: "chat-name" }, mine ? t("chat.you") : line.name),
      to !== null && h("span", { class: "chat-private" },
        mine ? t("chat.private_to", { name: to }) : t("chat.private")),
      h("time", { class: "chat-time", datetime: new Date(line.at).toISOString() }, formatTime(line.at)));
    const item = h("li", {
      class: "chat-line",
      "data-seq": String(line.seq),
      "data-from": line.from,
      "data-private": line.to ? "true" : "false",
      "data-mine": mine ? "true" : "false",
    }, head, h("p", { class: "chat-body", dir: "auto" }, h("bdi", {}, ...linkify(line.text))));
    // In the server's order, whatever order they arrive in.
    const after = [...this.list.children].find((li) => Number(/** @type {HTMLElement} */ (li).dataset.seq) > line.seq);
    this.list.insertBefore(item, after ?? null);
    this.empty.hidden = true;
    if (live && !mine && !this.panel.isOpen) {
      this.panel.dot.hidden = false;
      this.ctx.shell.announce(t("chat.new", { name: line.name }));
    }
    if (this.panel.isOpen) item.scrollIntoView({ block: "nearest" });
  }

  /** @param {RaisedHand[]} raised */
  #setHands(raised) {
    this.hands = raised;
    const you = this.ctx.you;
    this.handButton.setAttribute("aria-pressed", this.#raised() ? "true" : "false");
    bindText(/** @type {HTMLElement} */ (this.handButton.querySelector(".control-label")), () => t(this.#raised() ? "hands.lower" : "hands.raise"));
    this.handsSection.hidden = raised.length === 0;
    replaceChildren(this.handsList, ...raised.map((hand) => h("li", { class: "hand", "data-hand": hand.id },
      h("bdi", {}, hand.id === you.id ? t("chat.you") : this.ctx.nameOf(hand.id)),
      " ",
      h("time", { class: "chat-time", datetime: new Date(hand.at).toISOString() }, formatTime(hand.at)),
      you.role === "facilitator" && hand.id !== you.id && h("button", {
        type: "button",
        class: "button button-small",
        "data-action": "hand-lower",
        onclick: () => this.ctx.send({ type: "hand", raised: false, participant: hand.id }),
      }, T("hands.lower_someone")))));
    this.ctx.view.setHands(raised.map((hand) => hand.id));
    if (you.role === "facilitator" && raised.length > 0 && !this.panel.isOpen) this.panel.dot.hidden = false;
  }
}
