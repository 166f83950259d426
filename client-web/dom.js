// @ts-check
//! Small DOM helpers: element building, text that follows the language, icons.
//!
//! Text bound with `bindText`/`T` or an attribute given as a function is
//! recomputed by `retranslate()` when the language changes, so the call
//! screen switches language without rebuilding its video elements.

import { t } from "./i18n.js";

/** @typedef {import("./i18n.js").MessageKey} MessageKey */
/** @typedef {Node | string | null | undefined | false} Child */
/**
 * Attribute values: a string/number is set as is, `true` sets an empty
 * attribute, `false`/null/undefined skip it; a function on an `on…` key is an
 * event listener, on any other key a translated attribute.
 * @typedef {Record<string, string | number | boolean | null | undefined | Function>} Attrs
 */

/** @type {WeakMap<Node, () => string>} */
const textBindings = new WeakMap();
/** @type {WeakMap<Element, Map<string, () => string>>} */
const attrBindings = new WeakMap();
/** @type {WeakMap<Element, () => Child[]>} */
const contentBindings = new WeakMap();

/**
 * Builds an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === "function") {
      if (name.startsWith("on")) el.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
      else bindAttr(el, name, /** @type {() => string} */ (value));
    } else if (name === "class") {
      el.className = String(value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, ...children);
  return el;
}

/**
 * @param {Element} parent
 * @param {...Child} children
 */
export function append(parent, ...children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child);
  }
}

/**
 * A text node for `key` that follows the language.
 * @param {MessageKey} key
 * @param {Record<string, string | number>} [args]
 */
export function T(key, args) {
  return bindText(document.createTextNode(""), () => t(key, args));
}

/**
 * Sets the text of a node from `fn` now and after every language change.
 * @template {Node} N
 * @param {N} node
 * @param {() => string} fn
 * @returns {N}
 */
export function bindText(node, fn) {
  textBindings.set(node, fn);
  setIfChanged(node, fn());
  return node;
}

/**
 * Touches the DOM only when the text changes: a live region re-reads
 * whatever is set, even the same sentence.
 * @param {Node} node
 * @param {string} text
 */
function setIfChanged(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * Sets an attribute from `fn` now and after every language change.
 * @param {Element} el
 * @param {string} name
 * @param {() => string} fn
 */
export function bindAttr(el, name, fn) {
  let map = attrBindings.get(el);
  if (!map) attrBindings.set(el, (map = new Map()));
  map.set(name, fn);
  el.setAttribute(name, fn());
}

/**
 * Fills an element with `fn()`'s children now and after every language
 * change: for a sentence with elements inside (a link, a command), built
 * whole from one message so that each language orders it its own way.
 * @template {Element} E
 * @param {E} el
 * @param {() => Child[]} fn
 * @returns {E}
 */
export function bindContent(el, fn) {
  contentBindings.set(el, fn);
  replaceChildren(el, ...fn());
  return el;
}

/**
 * The message `key` with some `{name}` placeholders replaced by nodes
 * (the others filled with text from `args`).
 * @param {MessageKey} key
 * @param {Record<string, () => Node>} nodes
 * @param {Record<string, string | number>} [args]
 * @returns {Child[]}
 */
export function richText(key, nodes, args = {}) {
  const text = t(key, args);
  /** @type {Child[]} */
  const out = [];
  let last = 0;
  for (const match of text.matchAll(/\{(\w+)\}/g)) {
    const make = nodes[match[1]];
    if (!make) continue;
    out.push(text.slice(last, match.index));
    out.push(make());
    last = (match.index ?? 0) + match[0].length;
  }
  out.push(text.slice(last));
  return out.filter((c) => c !== "");
}

/** Recomputes every bound text, attribute and content under `root`. */
export function retranslate(root = document.body) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
  for (let node = /** @type {Node | null} */ (walker.currentNode); node; node = walker.nextNode()) {
    const text = textBindings.get(node);
    if (text) setIfChanged(node, text());
    if (node instanceof Element) {
      const attrs = attrBindings.get(node);
      if (attrs) for (const [name, fn] of attrs) node.setAttribute(name, fn());
      // New children are built in the new language; the walk goes on into them.
      const content = contentBindings.get(node);
      if (content) replaceChildren(node, ...content());
    }
  }
}

/** Our own simple line icons (24×24, stroke = currentColor). */
const ICONS = {
  mic: '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21M8.5 21h7"/>',
  micOff:
    '<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21M8.5 21h7"/><path d="M4 4l16 16"/>',
  camera: '<rect x="3" y="6.5" width="12.5" height="11" rx="2"/><path d="M15.5 10.5 21 7.5v9l-5.5-3z"/>',
  cameraOff:
    '<rect x="3" y="6.5" width="12.5" height="11" rx="2"/><path d="M15.5 10.5 21 7.5v9l-5.5-3z"/><path d="M4 4l16 16"/>',
  leave: '<path d="M10 4H5.5A1.5 1.5 0 0 0 4 5.5v13A1.5 1.5 0 0 0 5.5 20H10M15 8l4 4-4 4M19 12H9"/>',
  sound: '<path d="M4 9.5h3.5L12 6v12l-4.5-3.5H4z"/><path d="M15.5 9a4 4 0 0 1 0 6M18 6.5a7.5 7.5 0 0 1 0 11"/>',
  close: '<path d="M6 6l12 12M18 6 6 18"/>',
  devices: '<path d="M4 7h9M17 7h3M4 17h3M11 17h9"/><circle cx="15" cy="7" r="2"/><circle cx="9" cy="17" r="2"/>',
  sign: '<path d="M4 19c2.5 0 3.5-5 5.5-5s1 3.5 3 3.5S15 14 17 14"/><path d="M14.5 4.5l3 3L9 16H6v-3z"/>',
  people: '<circle cx="9" cy="8.5" r="3"/><path d="M3.5 19a5.5 5.5 0 0 1 11 0"/><path d="M15.5 6a3 3 0 0 1 0 5.5M17 14a5.5 5.5 0 0 1 3.5 5"/>',
  traces: '<path d="M9 6h11M9 12h11M9 18h11"/><circle cx="4.5" cy="6" r="1"/><circle cx="4.5" cy="12" r="1"/><circle cx="4.5" cy="18" r="1"/>',
  download: '<path d="M12 4v11M7.5 10.5 12 15l4.5-4.5M5 19.5h14"/>',
  consent: '<path d="M12 3.5 5 6.5v5c0 4.2 3 7.6 7 9 4-1.4 7-4.8 7-9v-5z"/><path d="M9 12.2l2.2 2.2L15.5 10"/>',
  signal: '<path d="M5 19v-3M10 19v-7M15 19v-11M20 19V4"/>',
  session: '<rect x="3.5" y="4.5" width="17" height="15" rx="2"/><path d="M10 9.5v5M14 9.5v5"/>',
  flag: '<path d="M5.5 21V4M5.5 4.5h11l-2 4 2 4h-11"/>',
  document: '<path d="M6.5 3.5h7l4 4v13h-11z"/><path d="M13.5 3.5v4h4M9 12.5h6M9 16h6"/>',
  record: '<circle cx="12" cy="12" r="8"/><circle cx="12" cy="12" r="3.5" fill="currentColor"/>',
  layout: '<rect x="3.5" y="4.5" width="17" height="10" rx="1.5"/><rect x="3.5" y="16.5" width="5" height="3" rx="1"/><rect x="9.5" y="16.5" width="5" height="3" rx="1"/><rect x="15.5" y="16.5" width="5" height="3" rx="1"/>',
  pin: '<path d="M9 4h6l-1 5 3 3H7l3-3z"/><path d="M12 12v8"/>',
  chat: '<path d="M4.5 5.5h15v10h-8l-4.5 4v-4h-2.5z"/><path d="M8 9.5h8M8 12.5h5"/>',
  more: '<circle cx="5.5" cy="12" r="1.6"/><circle cx="12" cy="12" r="1.6"/><circle cx="18.5" cy="12" r="1.6"/>',
  screen: '<rect x="3" y="4.5" width="18" height="12" rx="1.5"/><path d="M8.5 20h7M12 16.5V20M12 13V8M9.5 10.5 12 8l2.5 2.5"/>',
  hand: '<path d="M8 12V6.5a1.5 1.5 0 0 1 3 0V11M11 10V4.5a1.5 1.5 0 0 1 3 0V11M14 10.5V6a1.5 1.5 0 0 1 3 0v7.5c0 4-2.5 6.5-6 6.5-2.7 0-4.2-1.4-5.5-3.6L4 13.5a1.4 1.4 0 0 1 2.3-1.6L8 14"/>',
};

/** @typedef {keyof typeof ICONS} IconName */

/**
 * A decorative icon (hidden from assistive technology: the control's text says it).
 * @param {IconName} name
 */
export function icon(name) {
  const span = h("span", { class: "icon", "aria-hidden": "true" });
  span.innerHTML = `<svg viewBox="0 0 24 24" width="24" height="24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" focusable="false">${ICONS[name]}</svg>`;
  return span;
}

/** Replaces every child of `el`. @param {Element} el @param {...Child} children */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, ...children);
}
