// Writing a page's view state into its address: each field has a query parameter and a writer.

/** Put `changes` into the URL through `fields` ({name: {param, write}}; null removes one), no new history entry. */
export function writeUrlFields(fields, changes) {
  const url = new URL(window.location.href);
  for (const [field, value] of Object.entries(changes)) {
    const spec = fields[field];
    if (!spec) throw new Error(`no URL field named ${field}`);
    if (value === null || value === undefined) url.searchParams.delete(spec.param);
    else url.searchParams.set(spec.param, spec.write(value));
  }
  if (url.href !== window.location.href) window.history.replaceState(null, "", url);
  return url;
}
