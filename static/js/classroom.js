// Classroom mode, without any drawing: a page's classroom controls build on these.
// - Presenter: the teacher's side. Creates a room (code, join link, QR code, presenter key), keeps the
//   key in this tab's sessionStorage, sends the page's state and, apart, its results (each at most ~10
//   times a second, the latest wins), opens a "predict the gradient" question, polls the answers,
//   reveals, ends the room.
// - Follower: a student's side. Follows the room's server-sent events (the browser reconnects by
//   itself and, with Last-Event-ID, gets what it missed); can detach to explore alone and re-sync.
// - roomInUrl / studentId / submitAnswer / isRight: the rest a student page needs.
// Endpoints: README "Classroom" and app/routes/classroom.py.
import { ApiError } from "./api.js";

const API = "/api/v1/rooms";
export const ROOM_PARAM = "room";
const CODE = /^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{6}$/;
const KEY_STORAGE = "bpx.presenter.";
const STUDENT_STORAGE = "bpx.student";
const PUSH_INTERVAL_MS = 100;
const ABSOLUTE_TOLERANCE = 1e-3; // as app/classroom/rooms.py
const EVENT_TYPES = ["snapshot", "state", "results", "quiz", "reveal", "closed"];

async function call(path, { method = "GET", body, key } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (key) headers["x-presenter-key"] = key;
  let response;
  try {
    response = await fetch(`${API}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError("network", String(error?.message ?? error));
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    // an answer without JSON: the status says enough
  }
  if (!response.ok) {
    const envelope = payload?.error;
    const error = new ApiError(envelope?.code ?? "http_error", envelope?.message ?? `HTTP ${response.status}`,
      envelope?.where, response.status);
    error.retryAfter = Number(response.headers.get("retry-after")) || null;
    throw error;
  }
  return payload;
}

/** A room code as the server writes it, or null: students may type it in lower case. */
export function normalizeCode(text) {
  const code = String(text ?? "").trim().toUpperCase();
  return CODE.test(code) ? code : null;
}

/** The room this page was opened for (?room=CODE, as a join link leads), or null. */
export function roomInUrl(search = window.location.search) {
  return normalizeCode(new URLSearchParams(search).get(ROOM_PARAM));
}

/** This page's address without the room parameter: what the teacher's students should open. */
export function pageUrl(location = window.location) {
  const url = new URL(location.href);
  url.searchParams.delete(ROOM_PARAM);
  return `${url.pathname}${url.search}${url.hash}`;
}

/** The same rule the server counts right answers with. */
export function isRight(value, quiz) {
  if (typeof value !== "number" || typeof quiz?.answer !== "number") return false;
  const relative = quiz.tolerance?.relative ?? 0.01;
  return Math.abs(value - quiz.answer) <= Math.max(relative * Math.abs(quiz.answer), ABSOLUTE_TOLERANCE);
}

/** A random id this browser keeps, so the rate limit and "was I right" are per student. */
export function studentId(storage = window.localStorage) {
  let id = storage.getItem(STUDENT_STORAGE);
  if (!/^[A-Za-z0-9_-]{8,64}$/.test(id ?? "")) {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    id = `s-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
    storage.setItem(STUDENT_STORAGE, id);
  }
  return id;
}

/** A student's answer; a 429 ApiError carries retryAfter (seconds). -> {quiz, value, student} */
export function submitAnswer(code, quizId, value) {
  return call(`/${code}/answers`, { method: "POST", body: { quiz: quizId, value, student: studentId() } });
}

export function getRoom(code) {
  return call(`/${code}`);
}

// ---- The teacher ------------------------------------------------------------------------------

export class Presenter {
  /** A new room; first = {page, url?, state} shows at once. -> Presenter with .room = POST /rooms answer. */
  static async create(first) {
    const room = await call("", { method: "POST", body: first });
    window.sessionStorage.setItem(KEY_STORAGE + room.code, room.presenter_key);
    const presenter = new Presenter(room.code, room.presenter_key);
    presenter.room = room;
    return presenter;
  }

  /** The room this tab created before a reload, or null. */
  static resume(code) {
    const key = window.sessionStorage.getItem(KEY_STORAGE + code);
    return key ? new Presenter(code, key) : null;
  }

  constructor(code, key) {
    this.code = code;
    this.key = key;
    this.room = null;
    // state: {page, url, state}; results: {page, results}. Each sent apart, the latest of each wins.
    this.channels = { state: { pending: null, timer: null, last: 0 }, results: { pending: null, timer: null, last: 0 } };
    this.onError = () => {};
  }

  /** Send {page, url, state}; calls closer together than 100 ms are merged, the latest wins. */
  push(state) {
    this.send("state", state);
  }

  /** Send {page, results}: what the page shows beyond its address; merged as push() is, apart from it. */
  pushResults(results) {
    this.send("results", results);
  }

  send(kind, body) {
    const channel = this.channels[kind];
    channel.pending = body;
    if (channel.timer !== null) return;
    const wait = Math.max(0, channel.last + PUSH_INTERVAL_MS - Date.now());
    channel.timer = window.setTimeout(() => this.flush(kind), wait);
  }

  async flush(kind) {
    const channel = this.channels[kind];
    channel.timer = null;
    const body = channel.pending;
    channel.pending = null;
    if (body === null) return;
    channel.last = Date.now();
    try {
      await call(`/${this.code}/${kind}`, { method: "POST", body, key: this.key });
    } catch (error) {
      if (error.status === 429) this.send(kind, channel.pending ?? body); // too fast: the latest, a moment later
      else this.onError(error);
    }
  }

  /** Nothing more is sent. */
  stop() {
    for (const channel of Object.values(this.channels)) {
      window.clearTimeout(channel.timer);
      channel.timer = null;
      channel.pending = null;
    }
  }

  /** {node, label?, step?, prompt?, answer? | source + values} -> the question, with its answer. */
  openQuiz(question) {
    return call(`/${this.code}/quiz`, { method: "POST", body: question, key: this.key });
  }

  /** -> {quiz, histogram: {count, top, bins, below, above, median}, correct, students} */
  answers() {
    return call(`/${this.code}/answers`, { key: this.key });
  }

  reveal(answer = undefined) {
    return call(`/${this.code}/quiz/reveal`, { method: "POST", body: answer === undefined ? {} : { answer }, key: this.key });
  }

  async end() {
    this.stop();
    const ended = await call(`/${this.code}`, { method: "DELETE", key: this.key });
    window.sessionStorage.removeItem(KEY_STORAGE + this.code);
    return ended;
  }
}

// ---- A student ----------------------------------------------------------------------------------

/**
 * Follows a room. handlers (all optional):
 *   onState({page, url, state, at}, version)   the teacher's page changed (not called while detached)
 *   onResults({page, results, at})             what it shows beyond its address changed (idem)
 *   onQuiz(quiz)                               a question is open (no answer in it); after a reconnect
 *                                              the same quiz.id may come again
 *   onReveal(quiz, {answers, correct})         quiz.answer is the right one: isRight(mine, quiz)
 *   onClosed(reason)                           "ended" by the teacher, "gone" (unknown or expired)
 *   onConnection(status)                       "live", "reconnecting", "full" (the room has no seat)
 */
export class Follower {
  constructor(code, handlers = {}) {
    this.code = code;
    this.handlers = handlers;
    this.source = null;
    this.detached = false;
    this.latest = null; // the teacher's last state, applied or not
    this.results = null; // and its last results
    this.version = null;
    this.quiz = null;
    this.retryTimer = null;
  }

  start() {
    this.stop();
    // A new EventSource sends no Last-Event-ID: ?after= asks for the same catch-up.
    const after = Number.isInteger(this.version) ? `?after=${this.version}` : "";
    const source = new EventSource(`${API}/${this.code}/events${after}`);
    this.source = source;
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (event) => this.receive(type, event));
    }
    source.addEventListener("open", () => this.emit("onConnection", "live"));
    source.addEventListener("error", () => this.failed(source));
    return this;
  }

  stop() {
    window.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.source?.close();
    this.source = null;
  }

  /** Explore alone: the teacher's changes are kept but not applied. */
  detach() {
    this.detached = true;
  }

  /** Back to the teacher's page: apply the latest state (and results) at once. */
  resync() {
    this.detached = false;
    if (this.latest) this.emit("onState", this.latest, this.version);
    if (this.results) this.emit("onResults", this.results);
  }

  emit(name, ...args) {
    this.handlers[name]?.(...args);
  }

  receive(type, event) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    const version = Number(event.lastEventId);
    if (Number.isInteger(version) && version > 0) this.version = version; // where a new stream picks up
    if (type === "snapshot") {
      this.quiz = data.room.quiz;
      if (data.room.state) this.applyState(data.room.state, version);
      if (data.room.results) this.applyResults(data.room.results);
      if (this.quiz?.status === "open") this.emit("onQuiz", this.quiz);
    } else if (type === "state") {
      this.applyState(data, version);
    } else if (type === "results") {
      this.applyResults(data);
    } else if (type === "quiz") {
      this.quiz = data.quiz;
      this.emit("onQuiz", data.quiz);
    } else if (type === "reveal") {
      this.quiz = data.quiz;
      this.emit("onReveal", data.quiz, { answers: data.answers, correct: data.correct });
    } else if (type === "closed") {
      this.stop();
      this.emit("onClosed", "ended");
    }
  }

  applyState(state, version) {
    this.latest = state;
    if (!this.detached) this.emit("onState", state, version);
  }

  applyResults(results) {
    this.results = results;
    if (!this.detached) this.emit("onResults", results);
  }

  async failed(source) {
    if (source.readyState === EventSource.CONNECTING) {
      this.emit("onConnection", "reconnecting"); // the browser retries by itself, with Last-Event-ID
      return;
    }
    // Closed for good: the server answered with an error (404, 429) instead of a stream.
    this.source = null;
    try {
      await getRoom(this.code);
    } catch (error) {
      if (error.status === 404) {
        this.emit("onClosed", "gone");
        return;
      }
    }
    this.emit("onConnection", "full");
    this.retryTimer = window.setTimeout(() => this.start(), 5000);
  }
}
