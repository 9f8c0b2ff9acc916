// Building elements without innerHTML: strings always become text nodes.

/**
 * el("td", {className: "value", data: {value: "-2"}, attrs: {title: "…"}}, "−2", otherNode)
 */
export function el(tag, { className, data, attrs } = {}, ...children) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  for (const [key, value] of Object.entries(data ?? {})) element.dataset[key] = value;
  for (const [key, value] of Object.entries(attrs ?? {})) element.setAttribute(key, value);
  element.append(...children.filter((child) => child !== null && child !== undefined && child !== ""));
  return element;
}

/** Call changed(width) whenever element's rounded width changes to a new, non-zero value. */
export function onWidthChange(element, changed) {
  let width = 0;
  new ResizeObserver(([entry]) => {
    const now = Math.round(entry.contentRect.width);
    if (now === width || now === 0) return;
    width = now;
    changed(now);
  }).observe(element);
}
