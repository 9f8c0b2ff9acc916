// "Share link": the page's address (its whole view state) to the clipboard, or shown to copy by hand.
import { el } from "./dom.js";
import { fill } from "./i18n.js";

const NOTE_MS = 4000;
const hideTimers = new WeakMap();

/** Copy the current address and say so in `note` (copiedKey), or show it when the clipboard refuses. */
export async function shareLink(note, copiedKey) {
  const link = window.location.href;
  try {
    await navigator.clipboard.writeText(link);
    fill(note, copiedKey);
  } catch {
    fill(note, "share.manual", { link: el("code", {}, link) });
  }
  note.dataset.link = link;
  note.hidden = false;
  window.clearTimeout(hideTimers.get(note));
  hideTimers.set(note, window.setTimeout(() => {
    note.hidden = true;
  }, NOTE_MS));
}
