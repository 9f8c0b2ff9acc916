// The timeline: play, pause, step, scrub, speed and reset, by pointer or by keyboard. It only
// says which step to show; a token makes a stale timer harmless after a newer command.
import { t } from "./i18n.js";

const BASE_INTERVAL_MS = 1200;
const SPEEDS = [0.5, 1, 2, 4];
const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);

export class Timeline {
  /** onStep(step, {animate}) shows a step; onHelp() opens the shortcuts. */
  constructor(root, { onStep, onHelp, onSpeed }) {
    this.root = root;
    this.onStep = onStep;
    this.onHelp = onHelp;
    this.onSpeed = onSpeed;
    this.count = 0;
    this.step = 0;
    this.speed = 1;
    this.playing = false;
    this.token = 0;
    this.timer = null;
    this.scrub = root.querySelector("#scrub");
    this.counter = root.querySelector("#step-counter");
    this.playButton = root.querySelector("[data-action=play]");
    this.speedSelect = root.querySelector("#speed");
    root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) this.command(button.dataset.action);
    });
    this.scrub.addEventListener("input", () => {
      this.pause();
      this.go(Number(this.scrub.value), false);
    });
    this.speedSelect.addEventListener("change", () => this.setSpeed(Number(this.speedSelect.value)));
  }

  /** Keys for the whole page: Right, Left, Space, Home, End and ?; never while typing. */
  listen(target) {
    target.addEventListener("keydown", (event) => {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
      const element = event.target;
      if (element instanceof Element && (TYPING.has(element.tagName) || element.isContentEditable)) return;
      if (element instanceof Element && element.closest("dialog[open]")) return;
      // Space on a focused button, link or summary keeps its own meaning (press that control).
      if (event.key === " " && element instanceof Element && element.closest("button, a, summary")) return;
      const action = { ArrowRight: "forward", ArrowLeft: "back", " ": "play", Home: "reset", End: "end", "?": "help" }[event.key];
      if (!action) return;
      event.preventDefault();
      this.command(action);
    });
  }

  command(action) {
    if (action === "help") {
      this.onHelp();
      return;
    }
    if (action === "play") {
      this.toggle();
      return;
    }
    this.pause();
    if (this.count === 0) return;
    if (action === "forward") this.go(this.step + 1, true);
    else if (action === "back") this.go(this.step - 1, false);
    else if (action === "reset") this.go(0, false);
    else if (action === "end") this.go(this.count - 1, false);
  }

  /** A new trace: its number of steps and the step to show first. */
  load(count, step) {
    this.pause();
    this.count = count;
    this.scrub.max = String(Math.max(count - 1, 0));
    this.scrub.disabled = count <= 1;
    this.step = this.clamp(step);
    this.render();
  }

  clamp(step) {
    return Math.min(Math.max(Math.trunc(step), 0), Math.max(this.count - 1, 0));
  }

  go(step, animate) {
    const next = this.clamp(step);
    if (next === this.step && !animate) {
      this.render();
      return;
    }
    if (next === this.step) return;
    this.step = next;
    this.render();
    this.onStep(next, { animate });
  }

  setSpeed(speed) {
    this.speed = SPEEDS.includes(speed) ? speed : 1;
    this.speedSelect.value = String(this.speed);
    this.onSpeed?.(this.speed);
    if (this.playing) this.schedule();
  }

  /** How long one step takes at the current speed (the animation fills most of it). */
  interval() {
    return BASE_INTERVAL_MS / this.speed;
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  play() {
    if (this.count <= 1) return;
    this.playing = true;
    if (this.step >= this.count - 1) {
      this.step = 0;
      this.onStep(0, { animate: false });
    } else {
      this.go(this.step + 1, true);
    }
    this.render();
    this.schedule();
  }

  schedule() {
    window.clearTimeout(this.timer);
    this.token += 1;
    const token = this.token;
    this.timer = window.setTimeout(() => {
      if (token !== this.token || !this.playing) return;
      if (this.step >= this.count - 1) {
        this.pause();
        return;
      }
      this.go(this.step + 1, true);
      this.schedule();
    }, this.interval());
  }

  pause() {
    this.token += 1;
    window.clearTimeout(this.timer);
    if (!this.playing) return;
    this.playing = false;
    this.render();
  }

  render() {
    this.scrub.value = String(this.step);
    this.root.dataset.step = String(this.step);
    this.root.dataset.playing = String(this.playing);
    this.playButton.setAttribute("aria-pressed", String(this.playing));
    const label = t(this.playing ? "timeline.pause" : "timeline.play");
    this.playButton.setAttribute("aria-label", label);
    this.playButton.title = label;
    this.counter.textContent = this.count === 0 ? ""
      : t("timeline.counter", { step: String(this.step + 1), total: String(this.count) });
    this.scrub.setAttribute("aria-valuetext", this.counter.textContent);
  }
}
