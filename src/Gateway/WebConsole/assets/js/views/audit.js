// Audit search over /api/audit/tool-calls and /api/audit/workflows, newest first, a page at a time. The filters are
// kept in the address (never the token), so a search can be linked to and the Back button returns to it.

import { alertBox, clear, h, heading, messageOf, preview, statusBadge, time } from '../dom.js';
import { describeCall } from './describe.js';

const defaultPageSize = 50;

/** Results per page: the address's limit (1 to 1000, for a longer or shorter page), else 50. */
function pageSizeOf(query) {
  const limit = Number.parseInt(query.get('limit') ?? '', 10);
  return Number.isInteger(limit) && limit >= 1 && limit <= 1000 ? limit : null;
}

const kinds = {
  'tool-calls': { label: 'Tool calls', noun: 'tool call' },
  workflows: { label: 'Approvals', noun: 'approval' },
};

// [name, label, kinds it applies to, options (a select) or input type]
const filters = [
  ['agent', 'Agent', ['tool-calls', 'workflows']],
  ['bundle', 'Bundle', ['tool-calls', 'workflows']],
  ['upstream', 'Upstream', ['tool-calls']],
  ['tool', 'Tool', ['tool-calls', 'workflows']],
  ['toolName', 'Tool name as the agent called it', ['tool-calls']],
  ['decision', 'Decision', ['tool-calls'], ['allow', 'deny', 'approve', 'grant', 'rate_limit', 'error']],
  ['outcome', 'Outcome', ['tool-calls'], ['ok', 'tool_error', 'upstream_error', 'timeout', 'denied', 'rate_limited',
    'result_blocked', 'result_redacted', 'rejected', 'cancelled', 'pending']],
  ['rule', 'Rule', ['tool-calls']],
  ['shadowDecision', 'Shadow decision', ['tool-calls'], ['*', 'allow', 'deny', 'approve']],
  ['approvalId', 'Approval id', ['tool-calls']],
  ['status', 'Status', ['workflows'], ['pending', 'escalated', 'approved', 'denied', 'expired', 'cancelled', 'executing',
    'completed', 'failed', 'in_doubt']],
  ['approver', 'Approver', ['workflows']],
  ['from', 'From', ['tool-calls', 'workflows'], 'datetime-local'],
  ['to', 'To', ['tool-calls', 'workflows'], 'datetime-local'],
];

function control([name, label, , options]) {
  const id = `audit-${name}`;
  let input;
  if (Array.isArray(options)) {
    input = h('select', { id, name }, h('option', { value: '', text: 'Any' }),
      options.map((value) => h('option', { value, text: value === '*' ? 'any shadow decision' : value })));
  } else {
    input = h('input', { id, name, type: options ?? 'text', autocomplete: 'off', spellcheck: 'false' });
  }
  return h('div', { class: 'field', 'data-filter': name }, h('label', { for: id, text: label }), input);
}

function approvalLink(id) {
  return id ? h('a', { href: `approvals/${id}`, 'aria-label': `Open approval ${id}`, text: `Approval ${String(id).slice(0, 8)}` }) : '—';
}

function toolCallRow(call) {
  return h('tr', {},
    h('td', {}, time(call.at)),
    h('td', { text: call.agentId ?? '—' }),
    h('td', { text: call.toolName ?? call.tool ?? '—' }),
    h('td', { text: call.decision ?? '—' }),
    h('td', { text: call.rule ?? '—' }),
    h('td', { text: call.outcome ?? '—' }),
    h('td', { class: 'number', text: typeof call.durationMs === 'number' ? Math.round(call.durationMs) : '—' }),
    h('td', {}, h('code', { class: 'preview', text: preview(call.arguments) })),
    h('td', {}, approvalLink(call.approvalId)));
}

function workflowRow(item) {
  return h('tr', {},
    h('td', {}, time(item.createdAt)),
    h('td', {}, h('a', { href: `approvals/${item.id}`, text: describeCall(item) })),
    h('td', {}, h('code', { class: 'preview', text: preview(item.arguments) })),
    h('td', {}, statusBadge(item.status)),
    h('td', { text: (item.approvers ?? []).join(', ') || '—' }),
    h('td', { text: (item.decidedBy ?? []).join(', ') || '—' }));
}

const columns = {
  'tool-calls': ['Started', 'Agent', 'Tool', 'Decision', 'Rule', 'Outcome', 'Duration (ms)', 'Arguments', 'Approval'],
  workflows: ['Created', 'Request', 'Arguments', 'Status', 'Approvers', 'Decided by'],
};

export async function renderAudit({ main, api, signal, query, announce }) {
  const chosenPageSize = pageSizeOf(query);
  const pageSize = chosenPageSize ?? defaultPageSize;
  const kindRadios = Object.entries(kinds).map(([value, { label }]) => h('label', { class: 'choice' },
    h('input', { type: 'radio', name: 'kind', value }), ` ${label}`));
  const fields = filters.map(control);
  const form = h('form', { class: 'search', role: 'search', 'aria-label': 'Audit search' },
    h('fieldset', { class: 'kinds' }, h('legend', { text: 'Search in' }), kindRadios),
    h('div', { class: 'fields' }, fields),
    h('div', { class: 'actions' }, h('button', { type: 'submit', text: 'Search' })));
  const count = h('p', { role: 'status', class: 'count' });
  const problem = h('div');
  const results = h('div');
  const more = h('button', { type: 'button', class: 'secondary', text: 'Load more', hidden: true });
  main.append(heading('Audit'), form, h('section', { 'aria-labelledby': 'results-heading' },
    h('h2', { id: 'results-heading', text: 'Results' }), problem, count, results, more));

  const kind = () => form.elements.kind.value || 'tool-calls';
  function showFields() {
    for (const [i, [, , applies]] of filters.entries()) fields[i].hidden = !applies.includes(kind());
  }
  for (const radio of form.querySelectorAll('input[name=kind]')) radio.addEventListener('change', showFields);

  // The address's filters go into the form.
  form.elements.kind.value = kinds[query.get('kind')] ? query.get('kind') : 'tool-calls';
  for (const [name] of filters) if (query.get(name)) form.elements[name].value = query.get(name);
  showFields();

  function filterValues() {
    const values = {};
    for (const [name, , applies, type] of filters) {
      const value = form.elements[name].value.trim();
      if (!value || !applies.includes(kind())) continue;
      values[name] = type === 'datetime-local' ? new Date(value).toISOString() : value;
    }
    return values;
  }

  let cursor = null;
  let shown = 0;
  let tbody = null;
  let searchKind = kind();
  let searchFilters = {};

  // "Load more" goes on with the filters of the search it continues, whatever the form says since.
  async function load(append) {
    problem.replaceChildren();
    more.disabled = true;
    if (!append) {
      searchKind = kind();
      searchFilters = filterValues();
    }
    const fetchPage = searchKind === 'workflows' ? api.workflows : api.toolCalls;
    let page;
    try {
      page = await fetchPage({ ...searchFilters, limit: pageSize, cursor: append ? cursor : undefined }, signal);
    } catch (error) {
      if (signal.aborted) return;
      const prefix = error.status === 403 ? 'Not permitted: ' : '';
      problem.append(alertBox(prefix + messageOf(error)));
      count.textContent = '';
      more.hidden = true;
      if (!append) clear(results);
      return;
    }
    if (!append) {
      shown = 0;
      tbody = h('tbody');
      clear(results, h('table', { class: 'list' },
        h('caption', { text: `${kinds[searchKind].label}, newest first` }),
        h('thead', {}, h('tr', {}, columns[searchKind].map((name) => h('th', { scope: 'col', text: name })))),
        tbody));
    }
    const items = Array.isArray(page?.items) ? page.items : [];
    for (const item of items) tbody.append(searchKind === 'workflows' ? workflowRow(item) : toolCallRow(item));
    shown += items.length;
    cursor = page?.nextCursor ?? null;
    more.hidden = !cursor;
    more.disabled = false;
    results.hidden = shown === 0;
    const noun = kinds[searchKind].noun;
    count.textContent = shown === 0 ? `No ${noun}s match.` : `${shown} ${noun}${shown === 1 ? '' : 's'} shown${cursor ? '; there are more' : ''}.`;
    if (append) announce(`${items.length} more loaded.`);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams({ kind: kind() });
    if (chosenPageSize) params.set('limit', String(chosenPageSize));
    for (const [name, , applies] of filters) {
      const value = form.elements[name].value.trim();
      if (value && applies.includes(kind())) params.set(name, value);
    }
    history.replaceState(null, '', `audit?${params}`);
    load(false);
  });
  more.addEventListener('click', () => load(true));

  await load(false);
}
