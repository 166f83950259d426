// @ts-check
//! The optional drawn signature of a sign-in: a canvas that records strokes
//! with pointer events (mouse, finger, pen alike).
//!
//! Points are `[x, y, t]`: x and y in 0..=1000, both divided by the pad's
//! longer side so the shape is kept; t in ms from the start of the stroke.
//! Bounded as the server requires: at most 64 strokes and 4000 points.
//! Drawing is never required: the button "Je confirme ma présence" is the act.

/** @typedef {import("./wire.js").Signature} Signature */

export const MAX_STROKES = 64;
export const MAX_POINTS = 4000;
/** The server refuses a stroke longer than this (ms). */
const MAX_STROKE_MS = 120_000;
/** Points closer than this (in 0..1000 units) to the previous one are skipped. */
const MIN_STEP = 3;

export class SignaturePad {
  /** @type {Signature} */
  #strokes = [];
  /** @type {{ pointerId: number, t0: number } | null} */
  #active = null;
  #points = 0;
  /** @type {ResizeObserver | null} */
  #observer = null;

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {() => void} [onChange] after a stroke is added or the pad cleared
   */
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.onChange = onChange ?? (() => {});
    canvas.addEventListener("pointerdown", this.#down);
    canvas.addEventListener("pointermove", this.#move);
    canvas.addEventListener("pointerup", this.#up);
    canvas.addEventListener("pointercancel", this.#up);
    canvas.addEventListener("lostpointercapture", this.#up);
    if (typeof ResizeObserver === "function") {
      this.#observer = new ResizeObserver(() => this.#resize());
      this.#observer.observe(canvas);
    }
    this.#resize();
  }

  /** No stroke drawn. */
  get empty() {
    return this.#strokes.length === 0;
  }

  /** The strokes drawn (a copy), or null when nothing was drawn. @returns {Signature | null} */
  signature() {
    if (this.#strokes.length === 0) return null;
    return this.#strokes.map((stroke) => stroke.map((p) => /** @type {[number, number, number]} */ ([...p])));
  }

  clear() {
    this.#strokes = [];
    this.#points = 0;
    this.#active = null;
    this.#redraw();
    this.onChange();
  }

  /** Whether the pad accepts input (not while a sign-in is being sent). @param {boolean} on */
  setEnabled(on) {
    this.canvas.dataset.disabled = String(!on);
    if (!on) this.#active = null;
  }

  dispose() {
    this.#observer?.disconnect();
  }

  /** The longer side of the pad in CSS pixels. */
  #scale() {
    const rect = this.canvas.getBoundingClientRect();
    return { rect, side: Math.max(rect.width, rect.height, 1) };
  }

  /** @param {PointerEvent} event @returns {[number, number]} */
  #position(event) {
    const { rect, side } = this.#scale();
    const clamp = (/** @type {number} */ v) => Math.max(0, Math.min(1000, Math.round(v)));
    return [clamp(((event.clientX - rect.left) / side) * 1000), clamp(((event.clientY - rect.top) / side) * 1000)];
  }

  /** @param {PointerEvent} event */
  #down = (event) => {
    if (this.canvas.dataset.disabled === "true") return;
    if (event.pointerType === "mouse" && event.button !== 0) return;
    if (this.#active || this.#strokes.length >= MAX_STROKES || this.#points >= MAX_POINTS) return;
    event.preventDefault();
    try {
      this.canvas.setPointerCapture(event.pointerId);
    } catch {
      // Synthetic events cannot be captured; drawing still works.
    }
    this.#active = { pointerId: event.pointerId, t0: event.timeStamp };
    const [x, y] = this.#position(event);
    this.#strokes.push([[x, y, 0]]);
    this.#points += 1;
    this.#redraw();
  };

  /** @param {PointerEvent} event */
  #move = (event) => {
    const active = this.#active;
    if (!active || event.pointerId !== active.pointerId) return;
    event.preventDefault();
    const stroke = this.#strokes[this.#strokes.length - 1];
    const events = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
    let added = false;
    for (const e of events.length > 0 ? events : [event]) {
      if (this.#points >= MAX_POINTS) break;
      const t = Math.round(e.timeStamp - active.t0);
      if (t > MAX_STROKE_MS) break;
      const [x, y] = this.#position(e);
      const last = stroke[stroke.length - 1];
      if (Math.hypot(x - last[0], y - last[1]) < MIN_STEP) continue;
      stroke.push([x, y, Math.max(last[2], t)]);
      this.#points += 1;
      added = true;
    }
    if (added) this.#redraw();
  };

  /** @param {PointerEvent} event */
  #up = (event) => {
    const active = this.#active;
    if (!active || event.pointerId !== active.pointerId) return;
    this.#active = null;
    this.onChange();
  };

  #resize() {
    const { rect } = this.#scale();
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(rect.width * ratio));
    const height = Math.max(1, Math.round(rect.height * ratio));
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.#redraw();
  }

  #redraw() {
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return;
    const { width, height } = this.canvas;
    ctx.clearRect(0, 0, width, height);
    const unit = Math.max(width, height) / 1000;
    const ratio = window.devicePixelRatio || 1;
    ctx.lineWidth = 2.4 * ratio;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#1c2430";
    ctx.fillStyle = "#1c2430";
    for (const stroke of this.#strokes) {
      const [first, ...rest] = stroke;
      if (rest.length === 0) {
        ctx.beginPath();
        ctx.arc(first[0] * unit, first[1] * unit, ctx.lineWidth / 1.6, 0, Math.PI * 2);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      ctx.moveTo(first[0] * unit, first[1] * unit);
      for (const [x, y] of rest) ctx.lineTo(x * unit, y * unit);
      ctx.stroke();
    }
  }
}

/**
 * A drawn signature as a picture (SVG, so it scales with its box): what a
 * Facilitator sees before countersigning a sign-in. The
 * strokes are framed to their own bounds.
 * @param {Signature} strokes
 * @param {string} label what the picture shows, for screen readers
 */
export function signatureImage(strokes, label) {
  const ns = "http://www.w3.org/2000/svg";
  const points = strokes.flat();
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const pad = 12;
  const minX = Math.min(...xs) - pad;
  const minY = Math.min(...ys) - pad;
  const width = Math.max(Math.max(...xs) - Math.min(...xs) + 2 * pad, 60);
  const height = Math.max(Math.max(...ys) - Math.min(...ys) + 2 * pad, 30);
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `${minX} ${minY} ${width} ${height}`);
  svg.setAttribute("class", "signature-preview");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.dataset.strokes = String(strokes.length);
  const stroke = Math.max(width, height) / 120;
  for (const s of strokes) {
    const [first, ...rest] = s;
    if (!first) continue;
    if (rest.length === 0) {
      const dot = document.createElementNS(ns, "circle");
      dot.setAttribute("cx", String(first[0]));
      dot.setAttribute("cy", String(first[1]));
      dot.setAttribute("r", String(stroke));
      dot.setAttribute("fill", "#1c2430");
      svg.append(dot);
      continue;
    }
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", `M${first[0]} ${first[1]}${rest.map(([x, y]) => `L${x} ${y}`).join("")}`);
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "#1c2430");
    path.setAttribute("stroke-width", String(stroke));
    path.setAttribute("stroke-linecap", "round");
    path.setAttribute("stroke-linejoin", "round");
    svg.append(path);
  }
  return svg;
}
