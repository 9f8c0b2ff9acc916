// What the side panels (descent, gradient check, export) share: a collapsible box whose open state
// is kept in the URL field "panels", loading a panel's code only when it is first opened, text from
// the translation table, and saving a Blob as a file.
import { el } from "./dom.js";

/** Set the text of every [data-i18n] element inside root (the page does this again on a switch). */
export function translateWithin(root, t) {
  for (const element of root.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  for (const element of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of element.dataset.i18nAttr.split(";")) {
      const [attribute, key] = pair.split(":").map((part) => part.trim());
      if (attribute && key) element.setAttribute(attribute, t(key));
    }
  }
}

/**
 * A panel shown as a <details> box, open when the URL's "panels" lists its id (opening or closing
 * it writes that list). Its module, load() -> {panel: {mount(body, context), show(trace, request)}},
 * is fetched the first time the box opens, so a closed panel costs the page nothing.
 */
export function lazyPanel({ id, headingKey, load }) {
  let context = null;
  let body = null;
  let real = null;
  let loading = null;
  let last = null;
  const open = () => {
    loading ??= load().then(({ panel }) => {
      real = panel;
      real.mount(body, context);
      if (last) real.show(...last);
    }).catch((error) => console.error(`panel ${id} could not load`, error));
  };
  return {
    id,
    mount(container, panelContext) {
      context = panelContext;
      const heading = el("h2", { attrs: { id: `${id}-heading` }, data: { i18n: headingKey } });
      body = el("div", { className: "panel-body" });
      const details = el("details", { className: "collapsible panel-details", data: { testid: `${id}-panel` } },
        el("summary", { data: { testid: `${id}-toggle` } }, heading), body);
      container.classList.add("panel-box");
      container.setAttribute("aria-labelledby", heading.id);
      container.replaceChildren(details);
      translateWithin(container, context.t);
      details.open = (context.state.get("panels") ?? []).includes(id);
      if (details.open) open();
      details.addEventListener("toggle", () => {
        const ids = new Set(context.state.get("panels") ?? []);
        if (details.open) {
          ids.add(id);
          open();
        } else {
          ids.delete(id);
        }
        context.state.set("panels", [...ids]);
      });
    },
    show(trace, request) {
      last = [trace, request];
      real?.show(trace, request);
    },
  };
}

/** Offer a Blob as a download. The object URL never leaves the browser. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { attrs: { href: url, download: filename }, className: "offscreen" });
  document.body.append(link);
  link.click();
  link.remove();
  // NOTE: revoking at once can cancel the download in Chromium; a minute is long enough to start it.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
