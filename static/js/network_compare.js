// Comparing optimizers from identical initial weights (POST /api/v1/network/compare): the loss curves
// on one chart, each with its own colour, dash pattern and marker, and the boundaries side by side.
import { el } from "./dom.js";
import { formatNumber } from "./format.js";
import { fill, t } from "./i18n.js";
import { drawCurves, drawKey } from "./network_chart.js";
import { explainDivergence } from "./network_divergence.js";
import { DataPlot } from "./network_plot.js";
import { historyPoints } from "./network_train.js";

export const OPTIMIZER_STYLES = {
  sgd: { className: "opt-sgd", symbol: "circle" },
  momentum: { className: "opt-momentum", symbol: "diamond" },
  nesterov: { className: "opt-nesterov", symbol: "triangle" },
  rmsprop: { className: "opt-rmsprop", symbol: "cross" },
  adam: { className: "opt-adam", symbol: "square" },
};

/** parts = {chart, key, runs}; data = the plot's {task, classes, points}; layers = L. */
export function renderCompare(parts, answer, data, layers) {
  const runs = (answer?.runs ?? []).map((run) => ({ ...run, optimizer: run.optimizer?.name ?? run.optimizer }));
  const series = runs.map((run) => ({
    key: run.optimizer,
    ...OPTIMIZER_STYLES[run.optimizer],
    points: historyPoints(run.history, 0, run.divergence).train,
  }));
  drawCurves(parts.chart, { series, xLabel: t("net.iteration_axis"), label: t("net.compare_chart") });
  drawKey(parts.key, runs.map((run) => ({ ...OPTIMIZER_STYLES[run.optimizer], text: t(`opt.${run.optimizer}`) })));
  parts.runs.replaceChildren(...runs.map((run) => {
    const plotBox = el("div", { className: "plot small-plot", data: { testid: `compare-plot-${run.optimizer}` } });
    const card = el("figure", { className: `compare-run ${OPTIMIZER_STYLES[run.optimizer]?.className ?? ""}`,
      data: { testid: `compare-run-${run.optimizer}`, status: run.status ?? "" } });
    const losses = historyPoints(run.history, 0, run.divergence).train.filter((point) => point.y !== null);
    const last = losses.at(-1);
    const caption = el("figcaption", {}, el("strong", {}, t(`opt.${run.optimizer}`)));
    card.append(caption, plotBox);
    const plot = new DataPlot(plotBox, { onAdd: () => {}, compact: true });
    plot.show({ ...data, boundary: run.boundary ?? null, label: t("net.compare_plot", { optimizer: t(`opt.${run.optimizer}`) }) });
    if (run.status === "diverged") {
      const { parts: sentence } = explainDivergence(run, layers);
      card.append(el("p", { className: "run-diverged", data: { testid: "run-diverged" } }, "⚠ ", ...sentence));
    } else if (last) {
      card.append(fill(el("p", { className: "run-loss" }), "net.compare_final", { loss: formatNumber(last.y) }));
    }
    return card;
  }));
}
