// @ts-check
//! The side panels of the call: each one a `Panel` beside the pictures,
//! opened and closed from its control in the bar; `SidePanels` is the column
//! that holds them. A feature mounts its panel with `panels.mount(panel)`,
//! the one way to do it: the panel goes in the column, its control in the bar
//! (in the order of mounting), and the column shows only while a panel is open.
//! A panel one opens now and then (`secondary`: one's traces, documents,
//! consents, connection) has its control in the bar's "Plus" menu instead,
//! so that the bar holds on one line.

import { t } from "./i18n.js";
import { T, bindText, h, icon } from "./dom.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {import("./dom.js").IconName} IconName */

/** A panel beside the call, opened and closed from its control in the bar. */
export class Panel {
  /** @type {Set<() => void>} */
  #listeners = new Set();

  /**
   * @param {object} o
   * @param {string} o.id element id, also the control's `data-action` without `-panel`
   * @param {() => string} o.title
   * @param {MessageKey} o.label the control's label
   * @param {IconName} o.icon
   * @param {boolean} [o.secondary] its control goes in the bar's "Plus" menu
   */
  constructor({ id, title, label, icon: iconName, secondary = false }) {
    this.secondary = secondary;
    this.heading = bindText(h("h2", { id: `${id}-title`, class: "panel-title", tabindex: "-1" }), title);
    this.body = h("div", { class: "panel-body" });
    this.element = h("section", {
      id,
      class: "panel",
      hidden: true,
      "aria-labelledby": this.heading.id,
      onkeydown: (/** @type {KeyboardEvent} */ event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          this.close(true);
        }
      },
    },
      h("header", { class: "panel-header" },
        this.heading,
        h("button", {
          type: "button",
          class: "icon-button panel-close",
          "data-action": "panel-close",
          "aria-label": () => t("panel.close", { title: title() }),
          onclick: () => this.close(true),
        }, icon("close"))),
      this.body);
    this.dot = h("span", { class: "control-dot", hidden: true },
      h("span", { class: "sr-only" }, T("panel.attention")));
    this.control = h("button", {
      type: "button",
      class: "control control-toggle",
      "data-action": id.replace(/-panel$/, ""),
      "aria-expanded": "false",
      "aria-controls": id,
      onclick: () => (this.isOpen ? this.close(false) : this.open(true)),
    }, icon(iconName), h("span", { class: "control-label" }, T(label)), this.dot);
  }

  get isOpen() {
    return !this.element.hidden;
  }

  /** @param {() => void} listener after every open or close */
  onToggle(listener) {
    this.#listeners.add(listener);
  }

  /** @param {boolean} focus move the focus to the panel (the person asked for it) */
  open(focus) {
    const was = this.isOpen;
    this.element.hidden = false;
    this.control.setAttribute("aria-expanded", "true");
    if (!was) for (const l of this.#listeners) l();
    if (focus) {
      this.heading.focus({ preventScroll: true });
      this.element.scrollIntoView({ block: "nearest" });
    }
  }

  /** @param {boolean} byUser from the panel itself: the focus goes back to the control */
  close(byUser) {
    if (!this.isOpen) return;
    this.element.hidden = true;
    this.control.setAttribute("aria-expanded", "false");
    for (const l of this.#listeners) l();
    if (byUser) this.control.focus();
  }
}

/** The column beside the pictures, holding every mounted panel. */
export class SidePanels {
  /**
   * @param {(control: HTMLElement) => void} addControl puts a panel's control in the bar
   * @param {(control: HTMLElement) => void} addSecondary puts it in the bar's "Plus" menu
   */
  constructor(addControl, addSecondary) {
    this.addControl = addControl;
    this.addSecondary = addSecondary;
    this.element = h("aside", { class: "side", hidden: true, "aria-label": () => t("call.side") });
  }

  /**
   * Mounts `panel`: in the column, its control in the bar. Returns it.
   * @template {Panel} P
   * @param {P} panel
   * @returns {P}
   */
  mount(panel) {
    this.element.append(panel.element);
    if (panel.secondary) this.addSecondary(panel.control);
    else this.addControl(panel.control);
    panel.onToggle(() => this.#sync());
    return panel;
  }

  /** Shown while one of its panels is open. */
  #sync() {
    this.element.hidden = ![...this.element.children].some((c) => c instanceof HTMLElement && !c.hidden);
  }
}
