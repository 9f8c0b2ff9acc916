// The top bar's classroom button. The controls (classroom_ui.js: its header says what a page gives
// them) load when it is pressed, when the page was opened for a room (?room=CODE), or when this tab
// presents or follows a room already.
export function classroom(host) {
  const button = document.querySelector("#classroom");
  if (!button) return;
  let ui = null;
  const load = () => (ui ??= import("./classroom_ui.js").then((module) => module.mount(host, button)));
  const fail = (error) => console.error("the classroom controls did not load", error);
  button.addEventListener("click", () => load().then((controls) => controls.toggle()).catch(fail));
  let active = false;
  try {
    active = ["bpx.classroom.presenting", "bpx.classroom.following"].some((key) => sessionStorage.getItem(key));
  } catch {
    // storage blocked: only the address can say
  }
  if (active || new URLSearchParams(window.location.search).has("room")) load().catch(fail);
}
