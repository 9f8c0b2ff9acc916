// The explorer's timeline, paced for descent: a step is one update of every optimizer, counted from 0
// (the start), and playing moves quickly enough to watch a hundred steps.
import { t } from "./i18n.js";
import { Timeline } from "./timeline.js";

const STEP_MS = 160;

export class DescentTimeline extends Timeline {
  interval() {
    return STEP_MS / this.speed;
  }

  render() {
    super.render();
    if (this.count === 0) return;
    this.counter.textContent = t("lab.counter", { step: String(this.step), total: String(this.count - 1) });
    this.scrub.setAttribute("aria-valuetext", this.counter.textContent);
  }
}
