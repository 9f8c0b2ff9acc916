// Words: one translation table per language, the current language, and filling the page with text.
// Text only ever reaches the page through textContent or text nodes. A table loads when its
// language is first chosen, so a page fetches one table, not every one.

const LOADERS = { zh: () => import("./lang/zh.js"), en: () => import("./lang/en.js") };
const TABLES = {};
const HTML_LANG = { zh: "zh-Hans", en: "en" };
const FALLBACK = "en";

export const LANGUAGES = Object.freeze(Object.keys(LOADERS));

let current = FALLBACK;

export function isLanguage(code) {
  return typeof code === "string" && Object.hasOwn(LOADERS, code);
}

// A page may bring words of its own (static/js/lang/<page>_<code>.js), added to the shared table when
// a language loads, so that no other page downloads them.
const PAGE_LOADERS = [];
let lateMerges = Promise.resolve();

/** Register a page's own tables, {en: () => import(...), zh: ...}, before the first setLanguage. */
export function addPageTables(loaders) {
  PAGE_LOADERS.push(loaders);
  for (const code of Object.keys(TABLES)) delete TABLES[code];
}

/**
 * Words of a module loaded on demand (the classroom controls), after the page has started: merged into
 * the tables already loaded, in place, so no lookup misses meanwhile; languages loaded later get them too.
 */
export async function addLateTables(loaders) {
  PAGE_LOADERS.push(loaders);
  const merge = Promise.all(Object.keys(TABLES).map(async (code) => Object.assign(TABLES[code], (await loaders[code]()).default)));
  lateMerges = Promise.all([lateMerges, merge]);
  await merge;
}

// NOTE: a table may still be loading when a late module adds its words (the classroom opened while a
// language switch is on its way): such a load reads the page tables again until none came meanwhile.
async function load(code) {
  while (!TABLES[code]) {
    const known = PAGE_LOADERS.length;
    const modules = await Promise.all([LOADERS[code](), ...PAGE_LOADERS.map((page) => page[code]())]);
    if (PAGE_LOADERS.length === known) TABLES[code] ??= Object.assign({}, ...modules.map((module) => module.default));
  }
  return TABLES[code];
}

/** The first of the browser's preferred languages that we speak, or English. */
export function preferredLanguage(browserLanguages) {
  for (const tag of browserLanguages ?? []) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (isLanguage(primary)) return primary;
  }
  return FALLBACK;
}

export function language() {
  return current;
}

/** Load the table of a language (English for one we do not speak), then make it current. */
export async function setLanguage(code) {
  const lang = isLanguage(code) ? code : FALLBACK;
  await load(lang);
  current = lang;
  document.documentElement.lang = HTML_LANG[current];
  return current;
}

function lookup(key) {
  const text = TABLES[current]?.[key];
  if (text === undefined) {
    console.error(`missing translation: ${key}`);
    return key;
  }
  return text;
}

const PARAMETER = /\{([a-z_]+)\}/g;

/** The text for key with {parameters} replaced by strings. */
export function t(key, params = {}) {
  return lookup(key).replace(PARAMETER, (whole, name) => (name in params ? String(params[name]) : whole));
}

/**
 * Replace element's children with the text for key; a parameter may be a string or a DOM node
 * (so a number can keep its own colour inside a translated sentence).
 */
export function fill(element, key, params = {}) {
  const parts = [];
  let last = 0;
  const text = lookup(key);
  for (const match of text.matchAll(PARAMETER)) {
    parts.push(text.slice(last, match.index));
    const value = params[match[1]];
    parts.push(value === undefined ? match[0] : value instanceof Node ? value : String(value));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  element.replaceChildren(...parts.filter((part) => part !== ""));
  return element;
}

/**
 * Translate the static page: data-i18n="key" sets the text, data-i18n-attr="aria-label:key;title:key"
 * sets attributes.
 */
export function translatePage(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of element.dataset.i18nAttr.split(";")) {
      const [attribute, key] = pair.split(":").map((part) => part.trim());
      if (attribute && key) element.setAttribute(attribute, t(key));
    }
  }
  document.title = t("page.title");
}

/** Keys present in one table and missing in another, for the tests. */
export async function missingKeys() {
  await Promise.all(LANGUAGES.map(load));
  await lateMerges;
  const all = new Set(LANGUAGES.flatMap((code) => Object.keys(TABLES[code])));
  const missing = {};
  for (const code of LANGUAGES) {
    const absent = [...all].filter((key) => !Object.hasOwn(TABLES[code], key));
    if (absent.length) missing[code] = absent;
  }
  return missing;
}
