// The explanation of the step shown: where each optimizer stands (a, b, its loss and the size of its
// gradient), which one the arrow and the panels follow, and a sentence for every run that diverged.
import { swatch } from "./descent_chart.js";
import { isPoint } from "./descent_contour.js";
import { el } from "./dom.js";
import { dataNumber, formatNumber, fullText } from "./format.js";
import { fill, language, t } from "./i18n.js";

function number(className = "") {
  return el("dd", { className: `num ${className}` });
}

/** A number in its box: 4 digits shown, all of them on hover, ⚠ when it is not finite. */
function showNumber(box, value) {
  const finite = value !== null && value !== undefined && Number.isFinite(value);
  box.textContent = finite ? formatNumber(value) : "⚠";
  if (finite) box.title = fullText(value);
  else box.removeAttribute("title");
}

/** The loss and point of a run at a step (its last one past its end). */
export function runAt(run, step) {
  const k = Math.min(step, run.path.length - 1);
  const point = run.path[k];
  const gradient = run.gradients?.[k];
  return {
    step: k,
    point: isPoint(point) ? point : null,
    loss: run.losses?.[k] ?? null,
    gradient: isPoint(gradient) ? gradient : null,
  };
}

export class StepExplanation {
  /** onFollow(name): the user chose the optimizer the arrow and the panels follow. */
  constructor(root, { onFollow }) {
    this.list = root.querySelector("#run-list");
    this.caption = root.querySelector("#step-caption");
    this.divergence = root.querySelector("#divergence");
    this.key = null; // the runs listed
    this.items = [];
    this.list.addEventListener("change", (event) => {
      const radio = event.target.closest("input[type=radio]");
      if (radio) onFollow(radio.value);
    });
  }

  /** runs: [{name, title, style, rate, path, losses, gradients, status, divergedAt, reason, threshold}] */
  show(runs, step, follow, factor) {
    fill(this.caption, "lab.step_caption", { step: String(step) });
    // The list is rebuilt only for other runs; moving through the steps changes its numbers.
    const key = JSON.stringify([language(), runs.map((run) => [run.name, run.title])]);
    if (key !== this.key) {
      this.key = key;
      this.items = runs.map((run) => this.item(run));
      this.list.replaceChildren(...this.items.map((item) => item.li));
    }
    runs.forEach((run, i) => this.update(this.items[i], run, step, follow));
    this.renderDivergence(runs, factor);
  }

  /** One run's entry, its numbers still empty: {li, radio, rate, status, a, b, loss, gradient}. */
  item(run) {
    const radio = el("input", { attrs: { type: "radio", name: "follow", value: run.name,
      "aria-label": t("lab.follow_label", { name: run.title }) }, data: { testid: `follow-${run.name}` } });
    const boxes = { a: number(), b: number(), loss: number("value"), gradient: number("grad") };
    const rate = el("span", { className: "num run-rate" });
    const status = el("span");
    const li = el("li", { data: { optimizer: run.name, testid: `run-${run.name}` } },
      el("div", { className: "run-head" },
        el("label", { className: "follow" }, radio, swatch(run.style), el("span", { className: "run-name" }, run.title),
          rate),
        status),
      el("dl", { className: "run-numbers" },
        el("dt", {}, "a"), boxes.a,
        el("dt", {}, "b"), boxes.b,
        el("dt", {}, "L"), boxes.loss,
        el("dt", {}, "‖∇L‖"), boxes.gradient));
    return { li, radio, rate, status, ...boxes };
  }

  /** The run's rate and how it went, and where it is at the step shown. */
  update(item, run, step, follow) {
    const at = runAt(run, step);
    const gradientSize = at.gradient ? Math.hypot(at.gradient[0], at.gradient[1]) : null;
    const diverged = run.divergedAt !== null && run.divergedAt !== undefined;
    const status = diverged ? "diverged" : run.status === "converged" ? "converged" : "running";
    item.rate.dataset.rate = dataNumber(run.rate ?? null);
    item.rate.textContent = `η = ${run.rate === null || run.rate === undefined ? "⚠" : formatNumber(run.rate)}`;
    item.status.className = `run-status ${status}`;
    item.status.textContent = t(`lab.run_status.${status}`);
    item.li.dataset.status = status;
    item.li.className = diverged && step >= run.divergedAt ? "bad" : "";
    item.li.dataset.a = dataNumber(at.point?.[0] ?? null);
    item.li.dataset.b = dataNumber(at.point?.[1] ?? null);
    item.li.dataset.loss = dataNumber(at.loss);
    item.radio.checked = run.name === follow;
    showNumber(item.a, at.point?.[0]);
    showNumber(item.b, at.point?.[1]);
    showNumber(item.loss, at.loss);
    showNumber(item.gradient, gradientSize);
  }

  renderDivergence(runs, factor) {
    const items = runs.filter((run) => run.divergedAt !== null && run.divergedAt !== undefined).map((run) => {
      const loss = run.losses[run.divergedAt];
      const finite = loss !== null && loss !== undefined && Number.isFinite(loss);
      const shown = (value) => el("span", { className: "num value" },
        value === null || value === undefined ? "⚠" : formatNumber(value));
      const params = { name: run.title, step: String(run.divergedAt), factor: formatNumber(factor),
        loss: shown(loss), start: shown(run.losses[0]), threshold: shown(run.threshold) };
      const key = run.reason === "start_not_finite" ? "lab.diverged_start"
        : finite && run.reason === "loss_grew" ? "lab.diverged" : "lab.diverged_nonfinite";
      return fill(el("li", { data: { optimizer: run.name, step: String(run.divergedAt), reason: run.reason ?? "",
        testid: `divergence-${run.name}` } }), key, params);
    });
    this.divergence.replaceChildren(...items);
    this.divergence.hidden = items.length === 0;
  }
}
