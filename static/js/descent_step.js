// The explanation of the step shown: where each optimizer stands (a, b, its loss and the size of its
// gradient), which one the arrow and the panels follow, and a sentence for every run that diverged.
import { swatch } from "./descent_chart.js";
import { isPoint } from "./descent_contour.js";
import { el } from "./dom.js";
import { dataNumber, formatNumber, fullText } from "./format.js";
import { fill, t } from "./i18n.js";

function number(value, className = "") {
  const finite = value !== null && value !== undefined && Number.isFinite(value);
  return el("dd", { className: `num ${className}`, attrs: finite ? { title: fullText(value) } : {} },
    finite ? formatNumber(value) : "⚠");
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
    this.list.addEventListener("change", (event) => {
      const radio = event.target.closest("input[type=radio]");
      if (radio) onFollow(radio.value);
    });
  }

  /** runs: [{name, title, style, rate, path, losses, gradients, status, divergedAt, reason, threshold}] */
  show(runs, step, follow, factor) {
    fill(this.caption, "lab.step_caption", { step: String(step) });
    this.list.replaceChildren(...runs.map((run) => {
      const at = runAt(run, step);
      const gradientSize = at.gradient ? Math.hypot(at.gradient[0], at.gradient[1]) : null;
      const diverged = run.divergedAt !== null && run.divergedAt !== undefined;
      const status = diverged ? "diverged" : run.status === "converged" ? "converged" : "running";
      const radio = el("input", { attrs: { type: "radio", name: "follow", value: run.name,
        "aria-label": t("lab.follow_label", { name: run.title }) }, data: { testid: `follow-${run.name}` } });
      radio.checked = run.name === follow;
      return el("li", { className: diverged && step >= run.divergedAt ? "bad" : "",
        data: { optimizer: run.name, a: dataNumber(at.point?.[0] ?? null), b: dataNumber(at.point?.[1] ?? null),
          loss: dataNumber(at.loss), status, testid: `run-${run.name}` } },
      el("div", { className: "run-head" },
        el("label", { className: "follow" }, radio, swatch(run.style), el("span", { className: "run-name" }, run.title),
          el("span", { className: "num run-rate", data: { rate: dataNumber(run.rate ?? null) } },
            `η = ${run.rate === null || run.rate === undefined ? "⚠" : formatNumber(run.rate)}`)),
        el("span", { className: `run-status ${status}` }, t(`lab.run_status.${status}`))),
      el("dl", { className: "run-numbers" },
        el("dt", {}, "a"), number(at.point?.[0]),
        el("dt", {}, "b"), number(at.point?.[1]),
        el("dt", {}, "L"), number(at.loss, "value"),
        el("dt", {}, "‖∇L‖"), number(gradientSize, "grad")));
    }));
    this.renderDivergence(runs, factor);
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
