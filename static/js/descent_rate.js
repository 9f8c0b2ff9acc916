// The learning rate: a logarithmic slider with a box for the exact number, four quick rates that show
// the four behaviours (crawl, good, oscillate, diverge), and on the quadratic bowl the critical rate
// 2/lambda_max marked on the slider's track. Linked, it moves every optimizer's rate at once; unlinked,
// only the rate of the optimizer being followed (each optimizer also has its own box in the form).
import { boxText, parseNumber } from "./descent_form.js";
import { formatNumber } from "./format.js";
import { fill, t } from "./i18n.js";

const DECADES_AROUND = 1; // the slider runs from a decade below the smallest preset to one above the largest

/** The rate at a position of the slider (log10 of the rate), to 3 significant digits. */
const rateAt = (value) => Number((10 ** Number(value)).toPrecision(3));

export class RateControl {
  /** onRate(rate, {final}): final is false while a slider is being dragged; onLinked(linked): the box ticked. */
  constructor(root, { onRate, onLinked, limits }) {
    this.root = root;
    this.onRate = onRate;
    this.target = { linked: true, name: "" };
    this.limits = limits;
    this.rate = null;
    this.presets = {};
    this.critical = null;
    this.surfaceKey = null; // the presets and critical rate shown
    this.targetKey = null; // whose rate the label names
    this.frame = null; // the animation frame that closes the window for slider events
    this.waiting = null; // the slider's newest position inside that window, not yet reported
    this.logRange = [-5, 2];
    const find = (selector) => root.querySelector(selector);
    this.parts = {
      box: find("#rate"),
      label: find("#rate-label"),
      linked: find("#rate-linked"),
      slider: find("#rate-slider"),
      mark: find("#critical-mark"),
      markText: find("#critical-mark .critical-text"),
      hint: find("#critical-hint"),
      presets: [...root.querySelectorAll("[data-preset]")],
    };
    const p = this.parts;
    this.renderRange();
    p.linked.addEventListener("change", () => onLinked(p.linked.checked));
    p.slider.addEventListener("input", () => this.fromSliderSoon());
    p.slider.addEventListener("change", () => {
      this.waiting = null;
      this.fromSlider(true);
    });
    const typed = () => {
      const rate = parseNumber(p.box.value);
      const ok = rate !== null && rate > 0;
      p.box.setAttribute("aria-invalid", String(!ok));
      if (ok) this.set(this.clamp(rate), true);
    };
    p.box.addEventListener("change", typed);
    p.box.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        typed();
      }
    });
    for (const button of p.presets) {
      button.addEventListener("click", () => {
        const rate = this.presets[button.dataset.preset];
        if (rate) this.set(this.clamp(rate), true);
      });
    }
  }

  /** Where a rate sits along the slider, 0 (left) to 1 (right). */
  position(rate) {
    const [low, high] = this.logRange;
    return Math.min(Math.max((Math.log10(rate) - low) / (high - low), 0), 1);
  }

  renderRange() {
    this.parts.slider.min = String(this.logRange[0]);
    this.parts.slider.max = String(this.logRange[1]);
  }

  clamp(rate) {
    return Math.min(Math.max(rate, this.limits.min_learning_rate), this.limits.max_learning_rate);
  }

  /**
   * A dragged slider fires input events faster than the screen refreshes: the first is reported at once,
   * later ones at most once a frame (the newest position), so a drag costs one redraw per frame at most.
   */
  fromSliderSoon() {
    this.waiting = this.parts.slider.value;
    if (this.frame === null) this.reportWaiting();
  }

  reportWaiting() {
    const value = this.waiting;
    this.waiting = null;
    this.set(rateAt(value), false);
    this.frame = window.requestAnimationFrame(() => {
      this.frame = null;
      if (this.waiting !== null) this.reportWaiting();
    });
  }

  fromSlider(final) {
    this.set(rateAt(this.parts.slider.value), final);
  }

  set(rate, final) {
    this.show(rate);
    this.onRate(rate, { final });
  }

  /** Show a rate without reporting it. */
  show(rate) {
    this.rate = rate;
    const p = this.parts;
    if (document.activeElement !== p.box) p.box.value = boxText(rate);
    p.box.removeAttribute("aria-invalid");
    p.box.dataset.rate = String(rate);
    // NOTE: a newer position not yet reported stays where it is (a slider moved without focus: a script, a tool).
    if (document.activeElement !== p.slider && this.waiting === null) p.slider.value = String(Math.log10(rate));
    p.slider.setAttribute("aria-valuetext", formatNumber(rate));
    this.renderPresets();
  }

  /** Whose rate the slider moves: {linked: every optimizer's, or name: the followed optimizer's}. */
  showTarget(target) {
    const key = `${target.linked} ${target.name}`;
    if (key === this.targetKey) return;
    this.targetKey = key;
    this.target = target;
    this.parts.linked.checked = target.linked;
    this.renderTarget();
  }

  renderTarget() {
    const { linked, name } = this.target;
    fill(this.parts.label, linked ? "lab.rate" : "lab.rate_of", { name });
    this.parts.slider.setAttribute("aria-label", linked ? t("lab.rate_slider") : t("lab.rate_slider_of", { name }));
    this.root.dataset.linked = String(linked);
  }

  /**
   * The presets for this surface and optimizer ({crawl, good, oscillate, diverge}) and its critical rate:
   * {name, rate, lambdaMax, beta}, with rate null for an optimizer that has none (Adam, RMSProp), or null.
   */
  setSurface(presets, critical) {
    const key = JSON.stringify([presets, critical]);
    if (key === this.surfaceKey) return;
    this.surfaceKey = key;
    this.presets = presets;
    this.critical = critical;
    const logs = Object.values(presets).map(Math.log10);
    const floor = Math.ceil(Math.log10(this.limits.min_learning_rate));
    const ceiling = Math.floor(Math.log10(this.limits.max_learning_rate));
    this.logRange = [Math.max(Math.floor(Math.min(...logs)) - DECADES_AROUND, floor),
      Math.min(Math.ceil(Math.max(...logs)) + DECADES_AROUND, ceiling)];
    this.renderRange();
    if (this.rate !== null) this.show(this.rate);
    this.renderCritical();
    this.renderPresets();
  }

  renderPresets() {
    for (const button of this.parts.presets) {
      const rate = this.presets[button.dataset.preset];
      button.dataset.rate = String(rate ?? "");
      button.title = rate ? formatNumber(rate) : "";
      button.setAttribute("aria-pressed", String(rate !== undefined && this.rate !== null
        && Math.abs(rate - this.rate) <= 1e-9 * rate));
    }
  }

  renderCritical() {
    const p = this.parts;
    const critical = this.critical;
    const marked = critical !== null && critical.rate !== null;
    p.mark.hidden = !marked;
    p.hint.hidden = critical === null;
    p.mark.parentElement.classList.toggle("marked", marked);
    if (critical === null) return;
    const name = t(`lab.opt.${critical.name}`);
    if (!marked) {
      delete p.mark.dataset.rate;
      fill(p.hint, "lab.critical_adaptive", { name });
      return;
    }
    // Plain gradient descent's 2/lambda_max; momentum and Nesterov have their own bound with beta.
    const suffix = critical.name === "sgd" ? "" : `_${critical.name}`;
    const params = { rate: formatNumber(critical.rate), lambda: formatNumber(critical.lambdaMax),
      beta: formatNumber(critical.beta ?? 0), name };
    p.mark.dataset.rate = String(critical.rate);
    p.mark.dataset.optimizer = critical.name;
    p.mark.style.setProperty("--at", String(this.position(critical.rate)));
    p.mark.classList.toggle("right", this.position(critical.rate) > 0.6);
    fill(p.markText, `lab.critical${suffix}`, params);
    fill(p.hint, `lab.critical_hint${suffix}`, params);
  }

  /** After a language switch. */
  render() {
    this.targetKey = null;
    this.renderTarget();
    this.renderCritical();
    this.renderPresets();
  }
}

