// The classroom controls of every page, loaded on demand by classroom_boot.js.
// - A teacher: the top bar's button opens a panel: start a class (code, join link, QR code, students),
//   then every change of the page's URL state goes to the room; on the explorer's backward steps,
//   "predict the gradient" with a live histogram of the answers and a reveal; end the class.
// - A student (the page opened with ?room=CODE): a bar under the top bar says whether the page follows
//   the teacher; "Explore alone" and "Back to the teacher"; the teacher's questions and the verdict.
// The presenter key stays in this tab (sessionStorage, classroom.js); which room this tab presents or
// follows is kept there too, so moving to another page keeps the class going.
// Text only through textContent (el, fill); no inline style: static/css/classroom.css, loaded here.
//
// A page hands classroom_boot.js's classroom(host) its side of the contract:
//   page            "explorer" | "network" | "descent": RoomState.page (PAGES below: its path)
//   ready           a Promise: the page has started (limits and words loaded, its first picture drawn)
//   state(search)   the page's view state in that query string, read by its own state module
//                   (program, values, step, panels ...): RoomState.state, for any client to read
//   live()          optional: URL fields the page writes a moment later ({step: 7} while it moves),
//                   sent at once so that students see the step within the second
//   flush()         optional (the descent lab): write into the URL now what the page writes there only
//                   later (a rate slider being dragged), so that students see it within the second
//   follow(before)  a student's page: the URL now holds the teacher's (before = the previous query
//                   string): show it as a reload would, through the page's own functions (may reload)
//   prepare()       optional: a Promise, awaited before the controls show (the page's own lazy part)
//   question()      optional (the explorer): on a paused backward step, what the teacher may ask:
//                   {step, source, values, output, nodes: [{id, label}], suggested} or null
//   results()       optional (the network page): a Promise of the page's results part, what it shows
//                   that its URL does not say (network_classroom.js), sent apart from the state
//                   (POST /rooms/{code}/results: a new step does not send them again):
//                     key()            changes when the results change (read with the URL, every 150 ms)
//                     busy()           a run is going on: its results go at most every RUN_RESULTS_MS
//                     snapshot(bytes)  the results as JSON within that many bytes, or null
//                     follow(before)   optional: replaces the page's follow() (a new view keeps the results)
//                     show(results)    a student's page shows them (after follow()); -> a note key or null
//                     release()        the student explores alone: what only followed the teacher stops
import { getLimits } from "./api.js";
import { Follower, Presenter, ROOM_PARAM, getRoom, isRight, roomInUrl, submitAnswer } from "./classroom.js";
import { el } from "./dom.js";
import { formatNumber } from "./format.js";
import { addLateTables, fill, language, t } from "./i18n.js";

const PAGES = { explorer: "/", network: "/network", descent: "/descent" };
const PRESENTING = "bpx.classroom.presenting"; // the code this tab presents (its key: classroom.js)
const FOLLOWING = "bpx.classroom.following"; // {code, detached} this tab follows
const ANSWERED = "bpx.classroom.answer."; // + quiz id: the value this student sent
const STYLESHEET = "/static/css/classroom.css";
const WATCH_MS = 150; // how often the teacher's page URL is compared with the last one sent
const ANSWERS_MS = 1000; // the histogram while a question is open
const ROOM_MS = 3000; // the number of students while the panel is open
const RETRY_MS = 2000; // after a change could not be sent
const RUN_RESULTS_MS = 500; // a run's progress reaches the students this often (each is a few KiB to each)
// NOTE: the server measures the results as Python writes them, and a float's shortest form is not always
// as long there as in JavaScript (1e-05 against 0.00001): keep a part of the limit free.
const RESULTS_SHARE = 0.95;
const STATE_BYTES = 32_768; // max_room_state_bytes (it bounds the results too), until the limits have loaded
const SVG = "http://www.w3.org/2000/svg";
const CHART = { width: 320, height: 140, top: 18, bottom: 22 };

// ---- Small helpers -------------------------------------------------------------------------------

const storage = {
  get(key) {
    try {
      return window.sessionStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key, value) {
    try {
      window.sessionStorage.setItem(key, value);
    } catch {
      // storage blocked: the class still works until this page is left
    }
  },
  remove(key) {
    try {
      window.sessionStorage.removeItem(key);
    } catch {
      // as above
    }
  },
};

function readFollowing() {
  try {
    const stored = JSON.parse(storage.get(FOLLOWING) ?? "null");
    return typeof stored?.code === "string" ? stored : null;
  } catch {
    return null;
  }
}

function loadStylesheet() {
  if (document.querySelector(`link[href="${STYLESHEET}"]`)) return Promise.resolve();
  return new Promise((resolve) => {
    const link = el("link", { attrs: { rel: "stylesheet", href: STYLESHEET } });
    link.addEventListener("load", resolve, { once: true });
    link.addEventListener("error", resolve, { once: true }); // unstyled beats absent
    document.head.append(link);
  });
}

/** The same query, whatever the order of its parameters. */
function sameQuery(a, b) {
  const sorted = (search) => JSON.stringify([...new URLSearchParams(search)].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return sorted(a) === sorted(b);
}

/**
 * The teacher's page address now: the URL without the room, with the fields a page writes a moment
 * later (host.live(): the step while it moves) already in it, so that students see it at once.
 */
function currentUrl(host) {
  host.flush?.();
  const url = new URL(window.location.href);
  url.searchParams.delete(ROOM_PARAM);
  for (const [name, value] of Object.entries(host.live?.() ?? {})) {
    if (value === null || value === undefined) url.searchParams.delete(name);
    else url.searchParams.set(name, String(value));
  }
  return url;
}

/** What the teacher's page shows, as a string to compare: path and query without room and lang. */
function urlKey(url) {
  const copy = new URL(url);
  copy.searchParams.delete("lang");
  copy.searchParams.sort();
  return `${copy.pathname}?${copy.searchParams}`;
}

function withoutRoomInUrl() {
  const url = new URL(window.location.href);
  if (!url.searchParams.has(ROOM_PARAM)) return;
  url.searchParams.delete(ROOM_PARAM);
  window.history.replaceState(null, "", url);
}

/** A typed answer: a real minus or a comma are fine; -> a finite number or null. */
export function readAnswer(text) {
  const cleaned = String(text ?? "").trim().replace(/[\u2212\u2013]/g, "-").replace(/^([+-]?\d*),(\d+)$/, "$1.$2");
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(cleaned)) return null;
  const value = Number(cleaned);
  return Number.isFinite(value) ? value : null;
}

function errorText(error) {
  if (error?.code === "network") return t("classroom.error_network");
  if (error?.status === 429 || error?.status === 503) return t("classroom.error_busy");
  if (error?.status === 422 && error?.code !== "unknown_node" && error?.code !== "no_scalar_gradient") {
    return t("classroom.error_too_big");
  }
  return t("classroom.error_other", { message: String(error?.message ?? error) });
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

/**
 * The answers as bars: one per value when a few values cover every answer (they usually do: students
 * type -4, 4 or -12), else the server's equal-width bins. The right answer, once known, is marked.
 */
export function drawHistogram(chart, histogram, answer = null) {
  const { width, height, top, bottom } = CHART;
  chart.replaceChildren();
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.dataset.count = String(histogram?.count ?? 0);
  if (!histogram || histogram.count === 0) {
    chart.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "chart-empty" },
      t("classroom.quiz_answers", { count: "0" })));
    return;
  }
  const top10 = [...histogram.top].sort((a, b) => a.value - b.value);
  const discrete = top10.reduce((sum, item) => sum + item.count, 0) === histogram.count;
  const bars = discrete
    ? top10.map((item) => ({ label: formatNumber(item.value), count: item.count, right: answer !== null && isRight(item.value, { answer }) }))
    : histogram.bins.map((bin, i, all) => ({
      label: i === 0 || i === all.length - 1 ? formatNumber(i === 0 ? bin.low : bin.high) : "",
      count: bin.count,
      right: answer !== null && answer >= bin.low && answer <= bin.high,
    }));
  const most = Math.max(1, ...bars.map((bar) => bar.count));
  const slot = width / bars.length;
  const barWidth = Math.max(4, Math.min(48, slot * 0.8));
  const room = height - top - bottom;
  bars.forEach((bar, i) => {
    const x = i * slot + (slot - barWidth) / 2;
    const h = bar.count === 0 ? 0 : Math.max(2, (bar.count / most) * room);
    const group = svg("g", { class: bar.right ? "bar right" : "bar", "data-count": bar.count });
    group.append(svg("rect", { x, y: top + room - h, width: barWidth, height: h }));
    if (bar.count > 0) {
      group.append(svg("text", { x: x + barWidth / 2, y: top + room - h - 4, "text-anchor": "middle" }, String(bar.count)));
    }
    if (bar.label) {
      const anchor = discrete ? "middle" : i === 0 ? "start" : "end";
      const labelX = discrete ? x + barWidth / 2 : i === 0 ? x : x + barWidth;
      group.append(svg("text", { x: labelX, y: height - 6, "text-anchor": anchor, class: "axis" }, bar.label));
    }
    chart.append(group);
  });
}

// ---- The controls --------------------------------------------------------------------------------

export async function mount(host, button) {
  // The page's words (its language's table) and its state are there once it has started.
  const [part, limits] = await Promise.all([host.results?.() ?? null, host.results ? getLimits().catch(() => null) : null,
    loadStylesheet(), host.ready, host.prepare?.()]);
  await addLateTables({ en: () => import("./lang/classroom_en.js"), zh: () => import("./lang/classroom_zh.js") });
  const ui = new ClassroomUI(host, button, part, limits?.max_room_state_bytes ?? STATE_BYTES);
  ui.start();
  return ui;
}

class ClassroomUI {
  constructor(host, button, part, stateBytes) {
    this.host = host;
    this.button = button;
    this.part = part; // the page's results part, or null
    this.stateBytes = stateBytes;
    this.mode = "idle"; // "idle" | "presenting" | "following"
    this.open = false;
    this.notice = null; // {key} shown in the panel: why the class stopped, or what failed
    // teacher
    this.presenter = null;
    this.room = null; // GET /rooms/{code}: join_url, students
    this.lastSent = null;
    this.lastResults = null; // the results part's key when last sent
    this.resultsAt = 0;
    this.retryAt = 0;
    this.problem = null;
    this.question = null;
    this.quiz = null; // the question (the teacher's copy holds its answer)
    this.answers = null; // GET .../answers
    this.questionKey = null;
    this.timers = {};
    this.busy = false;
    // student
    this.code = null;
    this.follower = null;
    this.connection = "connecting";
    this.closed = null; // "ended" | "gone"
    this.wanted = null; // the teacher's state not yet shown
    this.wantedResults = false; // the teacher's results not yet shown (the follower keeps them)
    this.applying = false;
    this.studentQuiz = null;
    this.verdict = null; // {quiz, counts} after a reveal
    this.quizMessage = null; // {key, params}
    this.hiddenQuiz = null;
    this.resultsNote = null; // what this student's page could not show of the teacher's results
    this.build();
    // The page switched language: every text here is set in render().
    new MutationObserver(() => this.render()).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  }

  // ---- Building ------------------------------------------------------------------------------

  build() {
    const button = (testid, onClick, className = "") => {
      const b = el("button", { className, attrs: { type: "button" }, data: { testid } });
      b.addEventListener("click", onClick);
      return b;
    };
    const text = (tag, testid, attrs = {}, className = "") => el(tag, { className, data: testid ? { testid } : {}, attrs });
    const p = {};
    this.parts = p;
    // The panel (teacher, or a student's room details), right after the top bar's button.
    p.heading = el("h2", { attrs: { id: "classroom-heading", tabindex: "-1" } });
    p.close = button("classroom-close", () => this.setOpen(false), "classroom-close");
    p.close.textContent = "×";
    p.intro = text("p", "classroom-intro", {}, "hint");
    p.start = button("classroom-start", () => this.create(), "primary");
    p.notice = text("p", "classroom-notice", { role: "status" }, "classroom-notice");
    p.idle = el("div", { className: "classroom-idle" }, p.intro, p.start);
    // teacher, live
    p.code = text("p", "classroom-code", { tabindex: "-1" }, "classroom-code");
    p.qr = text("img", "classroom-qr", { width: "160", height: "160" }, "classroom-qr");
    p.join = text("p", "classroom-join", {}, "classroom-join");
    p.copy = button("classroom-copy", () => this.copyLink());
    p.copied = text("span", "classroom-copied", { role: "status" }, "hint");
    p.students = text("p", "classroom-students", { "aria-live": "polite" }, "classroom-students");
    p.keyNote = text("p", null, {}, "hint");
    p.sync = text("p", "classroom-sync", {}, "hint");
    p.problem = text("p", "classroom-problem", { role: "alert" }, "classroom-problem");
    p.end = button("classroom-end", () => this.end(), "classroom-end");
    // the question
    p.quizHeading = el("h3", { attrs: { id: "quiz-heading" } });
    p.quizHint = text("p", "quiz-hint", {}, "hint");
    p.nodeLabel = el("label", { attrs: { for: "quiz-node" } });
    p.node = text("select", "quiz-node", { id: "quiz-node" });
    p.ask = button("quiz-ask", () => this.ask(), "primary");
    p.askRow = el("div", { className: "quiz-ask" }, p.nodeLabel, p.node, p.ask);
    p.prompt = text("p", "quiz-prompt", { tabindex: "-1" }, "quiz-prompt");
    p.chart = document.createElementNS(SVG, "svg");
    p.chart.setAttribute("class", "quiz-chart");
    p.chart.setAttribute("role", "img");
    p.chart.dataset.testid = "quiz-histogram";
    p.counts = text("p", "quiz-count", { "aria-live": "polite" }, "quiz-count");
    p.reveal = button("quiz-reveal", () => this.revealAnswer(), "primary");
    p.result = text("p", "quiz-result", { tabindex: "-1" }, "quiz-result");
    p.live = el("div", { className: "quiz-live" }, p.prompt, p.chart, p.counts, p.reveal, p.result);
    p.quiz = el("section", { className: "classroom-quiz", attrs: { "aria-labelledby": "quiz-heading" }, data: { testid: "quiz-panel" } },
      p.quizHeading, p.quizHint, p.askRow, p.live);
    p.teacher = el("div", { className: "classroom-live" },
      el("div", { className: "classroom-room" }, el("div", {}, p.code, p.join, el("div", { className: "classroom-copy" }, p.copy, p.copied)), p.qr),
      p.students, p.sync, p.keyNote, p.problem, p.quiz, p.end);
    // a student's details
    p.studentNote = text("p", "classroom-student-note");
    p.leave = button("classroom-leave", () => this.leave());
    p.student = el("div", { className: "classroom-student" }, p.studentNote, p.leave);
    this.panel = el("section", {
      className: "classroom-panel",
      attrs: { id: "classroom-panel", "aria-labelledby": "classroom-heading", hidden: "" },
      data: { testid: "classroom-panel" },
    }, el("div", { className: "classroom-panel-head" }, p.heading, p.close), p.notice, p.idle, p.teacher, p.student);
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        this.setOpen(false);
        this.button.focus();
      }
    });
    this.button.after(this.panel);
    this.button.setAttribute("aria-controls", "classroom-panel");
    this.button.setAttribute("aria-expanded", "false");
    this.button.removeAttribute("data-i18n"); // its text says the room once in one: render() sets it

    // The student's bar, under the top bar.
    p.dot = el("span", { className: "classroom-dot", attrs: { "aria-hidden": "true" } });
    p.status = text("span", "classroom-status", { "aria-live": "polite" }, "classroom-status-text");
    p.resultsNote = text("p", "classroom-note", { hidden: "" }, "hint classroom-note");
    p.detach = button("classroom-detach", () => this.detach());
    p.resync = button("classroom-resync", () => this.resync(), "primary");
    p.dismiss = button("classroom-dismiss", () => this.leave());
    p.studentPrompt = text("p", "quiz-question", { id: "quiz-question", "aria-live": "polite" }, "quiz-prompt");
    p.answerLabel = el("label", { attrs: { for: "quiz-answer" } });
    p.answer = text("input", "quiz-answer", {
      id: "quiz-answer", type: "text", autocomplete: "off", spellcheck: "false", enterkeyhint: "send",
      "aria-describedby": "quiz-question quiz-message",
    });
    p.submit = el("button", { className: "primary", attrs: { type: "submit" }, data: { testid: "quiz-submit" } });
    p.answerForm = el("form", { className: "quiz-form", attrs: { novalidate: "" } }, p.answerLabel, p.answer, p.submit);
    p.answerForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendAnswer();
    });
    p.quizMessage = text("p", "quiz-message", { id: "quiz-message", role: "status" }, "quiz-message");
    p.verdict = text("p", "quiz-verdict", { role: "status" }, "quiz-verdict");
    p.verdictCounts = text("p", "quiz-class", {}, "hint");
    p.hideQuiz = button("quiz-dismiss", () => {
      this.hiddenQuiz = this.studentQuiz?.id ?? null;
      this.render();
    }, "classroom-close");
    p.hideQuiz.textContent = "×";
    p.studentQuizBox = el("div", { className: "quiz-box", data: { testid: "quiz-box" }, attrs: { hidden: "" } },
      el("div", { className: "quiz-box-head" }, p.studentPrompt, p.hideQuiz), p.answerForm, p.quizMessage, p.verdict,
      p.verdictCounts);
    this.bar = el("div", {
      className: "classroom-bar",
      attrs: { role: "region", hidden: "" },
      data: { testid: "classroom-bar" },
    }, el("div", { className: "classroom-bar-row" }, p.dot, p.status, p.detach, p.resync, p.dismiss), p.resultsNote,
    p.studentQuizBox);
    const header = this.button.closest("header") ?? document.body.firstElementChild;
    header.after(this.bar);
  }

  // ---- Starting: present, follow, or wait for a click ----------------------------------------

  start() {
    const presenting = storage.get(PRESENTING);
    const resumed = presenting ? Presenter.resume(presenting) : null;
    const raw = new URLSearchParams(window.location.search).get(ROOM_PARAM);
    const inUrl = roomInUrl();
    const stored = readFollowing();
    if (resumed) {
      withoutRoomInUrl(); // this tab drives the room: its own address must not make it a student
      this.present(resumed, { resumed: true });
    } else if (raw !== null) {
      if (inUrl) this.follow(inUrl, { detached: stored?.code === inUrl && stored.detached });
      else this.showClosed("gone");
    } else if (stored) {
      this.follow(stored.code, { detached: true }); // it left the teacher's page to explore alone
    }
    this.render();
  }

  toggle() {
    this.setOpen(!this.open);
  }

  setOpen(open) {
    this.open = open;
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    this.render();
    if (open) {
      this.parts.heading.focus();
      this.questionKey = undefined;
      this.renderQuestion();
      if (this.mode === "presenting") {
        this.pollRoom();
        if (this.quiz?.status === "open") this.pollAnswers();
      }
    } else {
      this.stopTimer("room");
      this.stopTimer("answers");
    }
  }

  stopTimer(name) {
    window.clearTimeout(this.timers[name]);
    this.timers[name] = null;
  }

  // ---- The teacher ---------------------------------------------------------------------------

  roomState(url = currentUrl(this.host)) {
    const state = {};
    for (const [name, value] of Object.entries(this.host.state(url.search) ?? {})) {
      if (value !== null && value !== undefined && name !== "lang") state[name] = value;
    }
    return { page: this.host.page, url: `${url.pathname}${url.search}`, state };
  }

  /** The page's results part packed for the room, or null: {page, results}. */
  roomResults() {
    const results = this.part?.snapshot(Math.floor(this.stateBytes * RESULTS_SHARE)) ?? null;
    return results === null ? null : { page: this.host.page, results };
  }

  async create() {
    if (this.busy) return;
    this.busy = true;
    this.notice = { key: "classroom.starting" };
    this.render();
    try {
      await this.host.ready;
      const presenter = await Presenter.create(this.roomState());
      this.notice = null;
      this.present(presenter, { resumed: false });
    } catch (error) {
      this.notice = { text: errorText(error), alert: true };
    } finally {
      this.busy = false;
      this.render();
    }
    if (this.mode === "presenting") this.parts.code.focus();
  }

  present(presenter, { resumed }) {
    this.mode = "presenting";
    this.presenter = presenter;
    this.room = presenter.room?.room ? { ...presenter.room.room, join_url: presenter.room.join_url } : null;
    this.problem = null;
    storage.set(PRESENTING, presenter.code);
    presenter.onError = (error) => this.failed(error);
    this.lastSent = resumed ? null : urlKey(currentUrl(this.host)); // a new room got the page's state with its creation
    this.lastResults = null; // sent with the first look at the page
    this.host.ready.then(() => this.watch()); // a page that moved here sends its state once it has one
    if (resumed) {
      this.restoreQuiz();
    }
    if (this.open || !resumed) this.pollRoom();
  }

  /**
   * Every change of the page's URL, and of its results part, goes to the room (classroom.js merges
   * changes closer than 100 ms); a run going on sends its progress every RUN_RESULTS_MS.
   */
  watch() {
    this.stopTimer("watch");
    if (this.mode !== "presenting") return;
    const now = Date.now();
    const url = currentUrl(this.host);
    const key = urlKey(url);
    const results = this.part?.key() ?? null;
    const urlDue = key !== this.lastSent;
    const resultsDue = results !== this.lastResults && (!this.part.busy() || now - this.resultsAt >= RUN_RESULTS_MS);
    if ((urlDue || resultsDue) && now >= this.retryAt) {
      if (this.problem) {
        this.problem = null; // said again if this one fails too
        this.render();
      }
      if (urlDue) {
        this.lastSent = key;
        this.presenter.push(this.roomState(url));
      }
      if (resultsDue) {
        this.lastResults = results;
        this.resultsAt = now;
        const packed = this.roomResults();
        if (packed) this.presenter.pushResults(packed);
      }
    }
    this.renderQuestion();
    this.timers.watch = window.setTimeout(() => this.watch(), WATCH_MS);
  }

  failed(error) {
    if (error?.status === 404 || error?.status === 403) {
      this.stopPresenting({ key: "classroom.gone" });
      return;
    }
    this.problem = errorText(error);
    if (error?.status !== 422) {
      this.lastSent = null; // not sent: again in a moment (a refused state waits for the next change)
      this.lastResults = null;
      this.retryAt = Date.now() + RETRY_MS;
    }
    this.render();
  }

  stopPresenting(notice) {
    for (const name of Object.keys(this.timers)) this.stopTimer(name);
    this.presenter?.stop();
    storage.remove(PRESENTING);
    this.presenter = null;
    this.room = null;
    this.quiz = null;
    this.answers = null;
    this.questionKey = null;
    this.mode = "idle";
    this.notice = notice;
    this.render();
  }

  async pollRoom() {
    this.stopTimer("room");
    if (this.mode !== "presenting") return;
    const code = this.presenter.code;
    try {
      const room = await getRoom(code);
      if (this.presenter?.code !== code) return;
      this.room = room;
      this.render();
    } catch (error) {
      if (error?.status === 404) {
        this.stopPresenting({ key: "classroom.gone" });
        return;
      }
    }
    if (this.open && this.mode === "presenting") this.timers.room = window.setTimeout(() => this.pollRoom(), ROOM_MS);
  }

  async copyLink() {
    const link = this.joinUrl();
    try {
      await navigator.clipboard.writeText(link);
      this.parts.copied.textContent = t("classroom.copied");
    } catch {
      const range = document.createRange();
      range.selectNodeContents(this.parts.join.querySelector("code") ?? this.parts.join);
      window.getSelection()?.removeAllRanges();
      window.getSelection()?.addRange(range);
      this.parts.copied.textContent = t("classroom.copy_manual");
    }
  }

  joinUrl() {
    return this.room?.join_url ?? `${window.location.origin}/join/${this.presenter?.code ?? ""}`;
  }

  async end() {
    if (!this.presenter || this.busy) return;
    this.busy = true;
    try {
      await this.presenter.end();
      this.stopPresenting({ key: "classroom.ended_teacher" });
    } catch (error) {
      if (error?.status === 404) this.stopPresenting({ key: "classroom.gone" });
      else this.problem = errorText(error);
    } finally {
      this.busy = false;
      this.render();
    }
    this.parts.heading.focus();
  }

  // ---- Predict the gradient (the teacher) ----------------------------------------------------

  /** The node list follows the explorer's step; rebuilt only when the question would change. */
  renderQuestion() {
    if (!this.open) return;
    const question = this.mode === "presenting" && this.host.question ? this.host.question() : null;
    const key = question ? JSON.stringify([question.step, question.suggested, question.nodes, question.source, question.values]) : null;
    if (key === this.questionKey) return;
    this.questionKey = key;
    this.question = question;
    const select = this.parts.node;
    select.replaceChildren(...(question?.nodes ?? []).map((node) =>
      el("option", { attrs: { value: node.id } }, node.label)));
    if (question?.suggested) select.value = question.suggested;
    this.render();
  }

  async ask() {
    const question = this.question;
    if (!question || !this.presenter || this.busy) return;
    const node = question.nodes.find((one) => one.id === this.parts.node.value);
    if (!node) return;
    this.busy = true;
    this.problem = null;
    try {
      this.quiz = await this.presenter.openQuiz({
        node: node.id, label: node.label, step: question.step, prompt: `∂${question.output}/∂${node.label}`,
        source: question.source, values: question.values,
      });
      this.answers = null;
      this.pollAnswers();
    } catch (error) {
      this.problem = errorText(error);
    } finally {
      this.busy = false;
      this.render();
    }
    if (this.quiz?.status === "open") this.parts.prompt.focus();
  }

  async restoreQuiz() {
    try {
      const answers = await this.presenter.answers();
      this.answers = answers;
      this.quiz = answers.quiz;
      this.render();
      if (this.quiz?.status === "open" && this.open) this.pollAnswers();
    } catch (error) {
      if (error?.status === 404 || error?.status === 403) this.stopPresenting({ key: "classroom.gone" });
    }
  }

  async pollAnswers() {
    this.stopTimer("answers");
    if (this.mode !== "presenting" || !this.quiz) return;
    const quizId = this.quiz.id;
    try {
      const answers = await this.presenter.answers();
      if (this.quiz?.id !== quizId) return;
      this.answers = answers;
      if (answers.quiz) this.quiz = answers.quiz;
      this.render();
    } catch (error) {
      if (error?.status === 404 || error?.status === 403) {
        this.stopPresenting({ key: "classroom.gone" });
        return;
      }
    }
    if (this.open && this.quiz?.status === "open") this.timers.answers = window.setTimeout(() => this.pollAnswers(), ANSWERS_MS);
  }

  async revealAnswer() {
    if (!this.presenter || !this.quiz || this.busy) return;
    this.busy = true;
    try {
      const revealed = await this.presenter.reveal();
      this.quiz = revealed.quiz;
      this.stopTimer("answers");
      await this.pollAnswers(); // the final histogram, with the right answer marked
    } catch (error) {
      this.problem = errorText(error);
    } finally {
      this.busy = false;
      this.render();
    }
    if (this.quiz?.status === "revealed") this.parts.result.focus();
  }

  // ---- A student -----------------------------------------------------------------------------

  follow(code, { detached }) {
    this.mode = "following";
    this.code = code;
    this.closed = null;
    this.connection = "connecting";
    this.follower = new Follower(code, {
      onState: (state) => this.applyState(state),
      onResults: () => this.applyResults(),
      onQuiz: (quiz) => {
        if (quiz.id !== this.studentQuiz?.id) this.parts.answer.value = "";
        this.studentQuiz = quiz;
        this.verdict = null;
        this.quizMessage = null;
        const mine = this.myAnswer(quiz.id);
        if (mine !== null) this.quizMessage = { key: "classroom.quiz_sent", params: { value: formatNumber(mine) } };
        this.render();
      },
      onReveal: (quiz, counts) => {
        this.studentQuiz = quiz;
        this.verdict = { quiz, counts };
        this.render();
      },
      onClosed: (reason) => this.showClosed(reason),
      onConnection: (status) => {
        this.connection = status;
        this.render();
      },
    });
    if (detached) this.follower.detach();
    this.remember();
    this.follower.start();
  }

  remember() {
    if (this.follower) storage.set(FOLLOWING, JSON.stringify({ code: this.code, detached: this.follower.detached }));
  }

  showClosed(reason) {
    this.follower?.stop();
    this.follower = null;
    this.mode = "following";
    this.closed = reason;
    storage.remove(FOLLOWING);
    withoutRoomInUrl(); // a reload explores alone, and does not look for the room again
    this.render();
  }

  detach() {
    if (!this.follower) return;
    this.follower.detach();
    this.part?.release();
    this.remember();
    this.render();
    this.parts.resync.focus();
  }

  resync() {
    if (!this.follower) return;
    this.follower.resync();
    this.remember();
    this.render();
    this.parts.detach.focus();
  }

  leave() {
    this.follower?.stop();
    this.follower = null;
    this.code = null;
    this.closed = null;
    this.studentQuiz = null;
    this.verdict = null;
    this.mode = "idle";
    storage.remove(FOLLOWING);
    withoutRoomInUrl();
    this.render();
    this.button.focus();
  }

  /** The teacher's page, program, values, step and panels: the latest wins, one at a time. */
  applyState(state) {
    this.wanted = state;
    this.applyLatest();
  }

  /** The teacher's results (a network page's training): shown after the state they go with. */
  applyResults() {
    this.wantedResults = true;
    this.applyLatest();
  }

  applyLatest() {
    if (this.applying) return;
    this.applying = true;
    (async () => {
      try {
        while (this.wanted || this.wantedResults) {
          const next = this.wanted;
          this.wanted = null;
          this.wantedResults = false;
          try {
            if (next) await this.applyOne(next);
            // a new state may have started the page afresh: its results go again on top
            await this.showResults();
          } catch (error) {
            console.error("could not show the teacher's page", error);
          }
        }
      } finally {
        this.applying = false;
      }
    })();
  }

  async applyOne(state) {
    if (!this.follower || this.follower.detached) return;
    const path = PAGES[state.page];
    if (!path) {
      this.otherPage = true;
      this.render();
      return;
    }
    this.otherPage = false;
    // Only this server's pages: the path comes from the page's name, the query from the teacher's URL.
    const teacher = new URL(state.url ?? path, window.location.origin);
    const target = new URL(path, window.location.origin);
    if (teacher.origin === window.location.origin && teacher.pathname === path) target.search = teacher.search;
    target.searchParams.delete(ROOM_PARAM);
    target.searchParams.delete("lang"); // the student keeps their own language
    const ownLanguage = new URLSearchParams(window.location.search).get("lang");
    if (state.page !== this.host.page) {
      target.searchParams.set("lang", language());
      target.searchParams.set(ROOM_PARAM, this.code);
      this.follower.stop(); // the next page follows again; no "reconnecting" flash meanwhile
      window.location.assign(`${target.pathname}${target.search}`);
      return;
    }
    if (ownLanguage) target.searchParams.set("lang", ownLanguage);
    target.searchParams.set(ROOM_PARAM, this.code);
    const before = window.location.search;
    if (!sameQuery(target.search, before)) {
      window.history.replaceState(null, "", `${target.pathname}${target.search}${window.location.hash}`);
      await this.host.ready;
      await (this.part?.follow ? this.part.follow(before) : this.host.follow(before));
    }
  }

  async showResults() {
    const latest = this.follower?.results;
    if (!this.part || !latest || latest.page !== this.host.page || this.follower.detached) return;
    await this.host.ready;
    const note = await this.part.show(latest.results ?? null);
    if (note !== this.resultsNote) {
      this.resultsNote = note;
      this.render();
    }
  }

  myAnswer(quizId) {
    const stored = storage.get(ANSWERED + quizId);
    return stored === null ? null : readAnswer(stored);
  }

  async sendAnswer() {
    const quiz = this.studentQuiz;
    if (!quiz || quiz.status !== "open" || !this.code) return;
    const value = readAnswer(this.parts.answer.value);
    if (value === null) {
      this.quizMessage = { key: "classroom.quiz_not_number" };
      this.parts.answer.setAttribute("aria-invalid", "true");
      this.render();
      return;
    }
    this.parts.answer.removeAttribute("aria-invalid");
    try {
      await submitAnswer(this.code, quiz.id, value);
      storage.set(ANSWERED + quiz.id, String(value));
      this.quizMessage = { key: "classroom.quiz_sent", params: { value: formatNumber(value) } };
    } catch (error) {
      if (error?.status === 429) {
        this.quizMessage = { key: "classroom.quiz_too_fast", params: { seconds: String(error.retryAfter ?? 10) } };
      } else if (error?.status === 409) {
        this.quizMessage = { key: "classroom.quiz_closed" };
      } else {
        this.quizMessage = { text: errorText(error) };
      }
    }
    this.render();
  }

  // ---- Drawing -------------------------------------------------------------------------------

  render() {
    const p = this.parts;
    const presenting = this.mode === "presenting";
    const following = this.mode === "following";
    const code = presenting ? this.presenter.code : following && !this.closed ? this.code : null;
    this.button.textContent = code ? t("classroom.button_live", { code }) : t("classroom.button");
    this.button.classList.toggle("classroom-on", Boolean(code));
    this.button.dataset.mode = this.mode;
    p.heading.textContent = t("classroom.heading");
    p.close.setAttribute("aria-label", t("classroom.close"));
    p.close.title = t("classroom.close");
    const notice = this.notice;
    p.notice.hidden = !notice || presenting;
    p.notice.textContent = notice ? notice.text ?? t(notice.key) : "";
    p.notice.classList.toggle("alert", Boolean(notice?.alert));
    // idle: start a class
    p.idle.hidden = this.mode !== "idle";
    p.intro.textContent = t("classroom.intro");
    p.start.textContent = t("classroom.start");
    p.start.disabled = this.busy;
    // a student's details in the panel
    p.student.hidden = !following;
    if (following) {
      p.studentNote.textContent = this.closed ? t(`classroom.${this.closed}`) : t("classroom.student_note", { code: this.code });
      p.leave.textContent = t("classroom.leave");
    }
    p.teacher.hidden = !presenting;
    if (presenting) this.renderTeacher();
    this.renderBar();
  }

  renderTeacher() {
    const p = this.parts;
    const code = this.presenter.code;
    fill(p.code, "classroom.code", { code: el("strong", { data: { code } }, code) });
    p.code.dataset.code = code;
    const qr = `/api/v1/rooms/${encodeURIComponent(code)}/qr.svg`;
    if (p.qr.getAttribute("src") !== qr) p.qr.setAttribute("src", qr);
    p.qr.setAttribute("alt", t("classroom.qr_alt", { code }));
    const link = this.joinUrl();
    fill(p.join, "classroom.join", { url: el("code", {}, link) });
    p.join.dataset.link = link;
    p.copy.textContent = t("classroom.copy");
    const students = this.answers?.students ?? this.room?.students ?? 0;
    fill(p.students, "classroom.students", { count: el("strong", {}, String(students)) });
    p.students.dataset.count = String(students);
    p.sync.textContent = t("classroom.sync");
    p.keyNote.textContent = t("classroom.key_note");
    p.problem.hidden = !this.problem;
    p.problem.textContent = this.problem ?? "";
    p.end.textContent = t("classroom.end");
    this.renderTeacherQuiz();
  }

  renderTeacherQuiz() {
    const p = this.parts;
    const quiz = this.quiz;
    const open = quiz?.status === "open";
    p.quizHeading.textContent = t("classroom.quiz_heading");
    p.nodeLabel.textContent = t("classroom.quiz_node");
    p.ask.textContent = t("classroom.quiz_ask");
    const canAsk = Boolean(this.question) && !open;
    p.askRow.hidden = !canAsk;
    p.ask.disabled = this.busy;
    p.quizHint.hidden = canAsk || open;
    p.quizHint.textContent = t(this.host.question ? "classroom.quiz_hint" : "classroom.quiz_hint_other");
    p.live.hidden = !quiz;
    if (!quiz) return;
    p.prompt.textContent = t("classroom.quiz_asked", { question: quiz.prompt ?? quiz.label ?? quiz.node });
    const histogram = this.answers?.quiz?.id === quiz.id ? this.answers.histogram : null;
    const count = histogram?.count ?? 0;
    const revealed = quiz.status === "revealed";
    drawHistogram(p.chart, histogram, revealed ? quiz.answer : null);
    p.chart.setAttribute("aria-label", t("classroom.quiz_chart", { count: String(count) }));
    const correct = this.answers?.quiz?.id === quiz.id ? this.answers.correct : null;
    p.counts.textContent = revealed && correct !== null
      ? `${t("classroom.quiz_answers", { count: String(count) })} · ${t("classroom.quiz_correct", { correct: String(correct), count: String(count) })}`
      : t("classroom.quiz_answers", { count: String(count) });
    p.counts.dataset.count = String(count);
    p.reveal.hidden = !open;
    p.reveal.textContent = t("classroom.quiz_reveal");
    p.reveal.disabled = this.busy;
    p.result.hidden = !revealed;
    p.result.textContent = revealed ? t("classroom.quiz_revealed", { answer: formatNumber(quiz.answer) }) : "";
  }

  renderBar() {
    const p = this.parts;
    const following = this.mode === "following";
    this.bar.hidden = !following;
    if (!following) return;
    this.bar.setAttribute("aria-label", t("classroom.heading"));
    const detached = this.follower?.detached ?? false;
    let status;
    if (this.closed) status = this.closed;
    else if (detached) status = "detached";
    else status = this.connection;
    this.bar.dataset.status = status;
    const key = { ended: "classroom.ended", gone: "classroom.gone", detached: "classroom.detached",
      reconnecting: "classroom.reconnecting", full: "classroom.full", connecting: "classroom.connecting" }[status]
      ?? "classroom.following";
    p.status.textContent = this.otherPage && !this.closed && !detached ? t("classroom.other_page")
      : t(key, { code: this.code ?? "" });
    p.resultsNote.hidden = !this.resultsNote || Boolean(this.closed) || detached;
    p.resultsNote.textContent = this.resultsNote ? t(this.resultsNote) : "";
    p.detach.hidden = Boolean(this.closed) || detached;
    p.resync.hidden = Boolean(this.closed) || !detached;
    p.dismiss.hidden = !this.closed;
    p.detach.textContent = t("classroom.detach");
    p.resync.textContent = t("classroom.resync");
    p.dismiss.textContent = t("classroom.close");
    this.renderStudentQuiz();
  }

  renderStudentQuiz() {
    const p = this.parts;
    const quiz = this.studentQuiz;
    const show = Boolean(quiz) && !this.closed && this.hiddenQuiz !== quiz.id
      && (quiz.status === "open" || this.verdict?.quiz.id === quiz.id);
    p.studentQuizBox.hidden = !show;
    if (!show) return;
    const open = quiz.status === "open";
    p.studentQuizBox.dataset.quiz = quiz.id;
    p.studentQuizBox.dataset.status = quiz.status;
    p.studentPrompt.textContent = t("classroom.quiz_prompt", { question: quiz.prompt ?? quiz.label ?? quiz.node });
    p.hideQuiz.hidden = open;
    p.hideQuiz.setAttribute("aria-label", t("classroom.close"));
    p.answerForm.hidden = !open;
    p.answerLabel.textContent = t("classroom.quiz_your_answer");
    p.submit.textContent = t("classroom.quiz_submit");
    const message = this.quizMessage;
    p.quizMessage.hidden = !message || !open;
    p.quizMessage.textContent = message ? message.text ?? t(message.key, message.params ?? {}) : "";
    const verdict = this.verdict?.quiz.id === quiz.id ? this.verdict : null;
    p.verdict.hidden = !verdict;
    p.verdictCounts.hidden = !verdict;
    if (!verdict) {
      delete p.verdict.dataset.right;
      return;
    }
    const mine = this.myAnswer(quiz.id);
    const answer = formatNumber(quiz.answer);
    if (mine === null) {
      p.verdict.textContent = t("classroom.quiz_revealed", { answer });
      p.verdict.dataset.right = "none";
    } else if (isRight(mine, quiz)) {
      p.verdict.textContent = t("classroom.quiz_right", { answer });
      p.verdict.dataset.right = "true";
    } else {
      p.verdict.textContent = t("classroom.quiz_wrong", { answer, value: formatNumber(mine) });
      p.verdict.dataset.right = "false";
    }
    p.verdictCounts.hidden = !verdict.counts?.answers;
    p.verdictCounts.textContent = verdict.counts?.answers
      ? t("classroom.quiz_correct", { correct: String(verdict.counts.correct), count: String(verdict.counts.answers) }) : "";
  }
}
