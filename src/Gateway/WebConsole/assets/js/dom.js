// Building the page from data: every value becomes a text node or an attribute, never parsed as markup.

/**
 * Creates an element. props: attributes, plus `text` (textContent), `class`, and `onX` listeners.
 * A prop that is null, undefined or false is left out; true gives an empty attribute (disabled, hidden...).
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') element.textContent = String(value);
    else if (key === 'class') element.className = value;
    else if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

/** Appends nodes and text (nested arrays flattened; null, undefined and false skipped). */
export function append(element, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** Empties the element, then appends the children as append() does. */
export function clear(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

/** The view's heading: focusable so that a route change can move focus to it. */
export function heading(text) {
  return h('h1', { tabindex: '-1', text });
}

/** A <time> with the instant in the reader's locale, or a dash. */
export function time(iso) {
  if (!iso) return h('span', { text: '—' });
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h('span', { text: String(iso) });
  return h('time', { datetime: date.toISOString(), text: date.toLocaleString() });
}

/** Pretty-printed JSON, as text. */
export function json(value) {
  return h('pre', { class: 'json' }, h('code', { text: JSON.stringify(value ?? null, null, 2) }));
}

/** One line of JSON cut to `max` characters, for tables. */
export function preview(value, max = 80) {
  const text = value === undefined || value === null ? '' : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const statusLabels = {
  pending: 'Pending',
  escalated: 'Escalated',
  approved: 'Approved',
  denied: 'Denied',
  expired: 'Expired',
  cancelled: 'Cancelled',
  executing: 'Executing',
  completed: 'Completed',
  failed: 'Failed',
  in_doubt: 'In doubt',
};

/** A status as a word with a colour: the word carries the meaning, the colour only repeats it. */
export function statusBadge(status) {
  const key = String(status ?? 'unknown').toLowerCase();
  return h('span', { class: `badge badge-${key.replace(/[^a-z_]/g, '')}`, text: statusLabels[key] ?? String(status ?? 'Unknown') });
}

/** A definition list from [term, value] pairs; values may be nodes or text, and empty ones show a dash. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([term, value]) => [
    h('dt', { text: term }),
    h('dd', {}, value === null || value === undefined || value === '' ? '—' : value),
  ]));
}

/** A short message for people, from an Error or an ApiError (whose message is the problem's detail). */
export function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

/** A refusal or failure as an alert, which screen readers announce when it appears. */
export function alertBox(text, kind = 'error') {
  return h('p', { role: 'alert', class: `alert alert-${kind}`, text });
}
