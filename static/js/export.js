// The export box: the last trace as JSON, the drawn graph as SVG and as PNG. Every file is made in
// the browser from a Blob and an object URL; nothing is uploaded or fetched. The SVG and PNG code
// (export_image.js) loads on the first click that needs it.
import { el } from "./dom.js";
import { fill } from "./i18n.js";
import { saveBlob, translateWithin } from "./panel_box.js";

const FILES = { json: "backprop-trace.json", svg: "backprop-graph.svg", png: "backprop-graph.png" };
const MAKE = {
  json: async (trace) => new Blob([`${JSON.stringify(trace, null, 2)}\n`], { type: "application/json" }),
  svg: async () => (await import("./export_image.js")).svgFile(),
  png: async () => (await import("./export_image.js")).pngFile(),
};

class ExportPanel {
  id = "export";

  mount(container, context) {
    this.trace = null;
    this.note = null;
    this.buttons = Object.keys(FILES).map((kind) => {
      const button = el("button", { attrs: { type: "button" }, data: { testid: `export-${kind}`, i18n: `export.${kind}` } });
      button.addEventListener("click", () => this.save(kind));
      return button;
    });
    this.message = el("p", { className: "panel-message", attrs: { role: "status" }, data: { testid: "export-message" } });
    container.classList.add("panel-box", "export-box");
    container.setAttribute("aria-labelledby", "export-heading");
    container.replaceChildren(
      el("h2", { attrs: { id: "export-heading" }, data: { i18n: "export.heading" } }),
      el("p", { className: "hint", data: { i18n: "export.hint" } }),
      el("div", { className: "button-row" }, ...this.buttons),
      this.message);
    translateWithin(container, context.t);
    context.onLanguageChange(() => this.render());
    this.render();
  }

  show(trace) {
    this.trace = trace;
    this.note = null;
    this.render();
  }

  async save(kind) {
    try {
      const blob = this.trace ? await MAKE[kind](this.trace) : null;
      if (blob) saveBlob(blob, FILES[kind]);
      this.note = blob ? { key: "export.done", params: { file: FILES[kind] } }
        : { key: this.trace ? "export.no_graph" : "export.no_trace", warning: true };
    } catch (error) {
      this.note = { key: "export.failed", params: { message: error?.message ?? String(error) }, warning: true };
    }
    this.render();
  }

  render() {
    for (const button of this.buttons) button.disabled = this.trace === null;
    if (this.note) fill(this.message, this.note.key, this.note.params ?? {});
    this.message.classList.toggle("warning", Boolean(this.note?.warning));
    this.message.hidden = !this.note;
  }
}

export const exportPanel = new ExportPanel();
