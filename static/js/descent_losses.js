// The loss curves: every optimizer's loss against the step, on shared axes (a symmetric-log axis when
// a run blows up), with the step shown marked.
import { drawChart } from "./descent_chart.js";
import { t } from "./i18n.js";

/** runs: [{name, style, losses}]; step: the step shown; width: the box's width when known. */
export function drawLosses(box, runs, step, width = 0) {
  const longest = Math.max(1, ...runs.map((run) => run.losses.length - 1));
  // A run that blows up would flatten every other curve: past 100 times the starting loss the axis
  // turns logarithmic (linear below the start's size).
  const start = Math.max(...runs.map((run) => Math.abs(run.losses[0] ?? 0)), 1e-12);
  const largest = Math.max(...runs.flatMap((run) => run.losses.filter(Number.isFinite).map(Math.abs)));
  drawChart(box, {
    series: runs.map((run) => ({
      key: run.name, colour: run.style.colour, dash: run.style.dash, symbol: run.style.symbol,
      pointEvery: Math.max(1, Math.ceil(run.losses.length / 12)),
      points: run.losses.map((loss, k) => ({ x: k, y: loss })),
    })),
    marks: [{ x: step, className: "here" }],
    xDomain: [0, longest],
    integerX: true,
    xLabel: t("lab.step_axis"),
    yLabel: t("lab.loss_axis"),
    label: t("lab.losses_label"),
    symlog: largest > 100 * start ? start : null,
    aspect: 0.4,
    width,
  });
  box.dataset.step = String(step);
}
