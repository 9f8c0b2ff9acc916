// The explorer's part of the classroom controls (it loads with them, so the page pays nothing until a
// class starts): a student's page showing the teacher's URL without a reload, and the question a
// teacher may ask on a paused backward step. `explorer` is the page's Explorer (static/js/explorer.js).
import { readState } from "./state.js";

const sorted = (values) => JSON.stringify(Object.entries(values ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));

/** The URL now holds the teacher's state (before = the previous query): show it as a reload would. */
export async function follow(explorer, before, defaultExample) {
  if (!explorer.limits) return;
  const state = readState(window.location.search, explorer.limits);
  const old = readState(before, explorer.limits);
  // The descent panel reads its rate and parameters once: a new one needs the page read afresh.
  if (JSON.stringify([old.lr, old.params]) !== JSON.stringify([state.lr, state.params])) {
    window.location.reload();
    return;
  }
  if ((state.view ?? "graph") !== explorer.view) explorer.setView(state.view ?? "graph", false);
  const form = explorer.form;
  const example = state.source === null ? form.example(state.example) ?? form.example(defaultExample) : null;
  const wanted = example ? { source: example.source, values: example.values, exampleId: example.id }
    : { source: state.source, values: state.values ?? {} };
  const shown = explorer.request;
  if (wanted.source !== null && (wanted.source !== shown?.source || sorted(wanted.values) !== sorted(shown?.values))) {
    form.show(wanted);
    explorer.renderExampleExplanation();
    await explorer.traceForm({ kind: "load", step: state.step });
  } else if (explorer.replay) {
    explorer.goTo(state.step ?? explorer.replay.count - 1);
  }
  // The side panels open and close as the teacher's do (each writes the same "panels" back).
  for (const box of explorer.root.querySelectorAll("#panels [data-panel]")) {
    const details = box.querySelector(":scope > details");
    if (details) details.open = (state.panels ?? []).includes(box.dataset.panel);
  }
}

/**
 * On a paused backward step, what a teacher may ask the class about: the gradient of a scalar node,
 * by default the one the next step fills in (so the students cannot read it off the graph yet).
 */
export function question(explorer) {
  const { trace, request, timeline } = explorer;
  if (!explorer.replay || !request || timeline.playing) return null;
  const index = timeline.step;
  const step = trace.steps[index];
  if (step?.phase !== "backward") return null;
  const nodes = trace.nodes.filter((node) => node.id !== trace.output && node.shape.length === 0
    && typeof node.grad === "number");
  const next = trace.steps[index + 1];
  const suggested = [next?.phase === "backward" ? next.node : null, step.node]
    .find((id) => nodes.some((node) => node.id === id)) ?? nodes[0]?.id ?? null;
  return {
    step: index, source: request.source, values: request.values,
    output: explorer.output?.label ?? trace.output, nodes: nodes.map(({ id, label }) => ({ id, label })), suggested,
  };
}
