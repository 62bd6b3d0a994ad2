// The status page: agents, upstreams and the database, from GET /api/status, as tables.

import { alertBox, clear, h, heading, messageOf } from '../dom.js';

const preferred = {
  agents: ['id', 'owner', 'groups', 'bundles'],
  upstreams: ['name', 'transport', 'state', 'tools', 'lastError'],
};

const labels = {
  id: 'Agent', owner: 'Owner', groups: 'Groups', bundles: 'Bundles', name: 'Upstream', transport: 'Transport',
  state: 'State', tools: 'Tools', lastError: 'Last error',
};

function cell(name, value) {
  if (value === null || value === undefined || value === '') return h('td', { text: '—' });
  if (name === 'state') return h('td', {}, h('span', { class: `badge state-${String(value).replace(/[^a-z_]/gi, '')}`, text: String(value) }));
  if (Array.isArray(value)) return h('td', { text: value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ') || '—' });
  if (typeof value === 'object') return h('td', {}, h('code', { text: JSON.stringify(value) }));
  return h('td', { class: typeof value === 'number' ? 'number' : null, text: String(value) });
}

/** A table of objects: the known columns first, then whatever else the gateway reports. */
function table(kind, caption, rows) {
  if (!Array.isArray(rows) || rows.length === 0) return h('p', { text: `No ${kind} are configured.` });
  const names = [...preferred[kind].filter((name) => rows.some((row) => name in row))];
  for (const row of rows) for (const name of Object.keys(row)) if (!names.includes(name)) names.push(name);
  return h('table', { class: 'list' },
    h('caption', { text: caption }),
    h('thead', {}, h('tr', {}, names.map((name) => h('th', { scope: 'col', text: labels[name] ?? name })))),
    h('tbody', {}, rows.map((row) => h('tr', {}, names.map((name) => cell(name, row[name]))))));
}

export async function renderStatus({ main, api, signal, announce }) {
  const content = h('div');
  const refresh = h('button', { type: 'button', class: 'secondary', text: 'Refresh' });
  main.append(heading('Status'), h('div', { class: 'actions' }, refresh), content);

  async function load() {
    let status;
    try {
      status = await api.status(signal);
    } catch (error) {
      if (signal.aborted) return;
      clear(content, alertBox((error.status === 403 ? 'Not permitted: ' : '') + messageOf(error)));
      return;
    }
    const database = String(status?.database ?? 'unknown');
    clear(content, 
      h('section', {}, h('h2', { text: 'Database' }),
        h('p', {}, 'Database: ', h('span', { class: `badge state-${database === 'ok' ? 'ready' : 'failed'}`, text: database }))),
      h('section', {}, h('h2', { text: 'Upstreams' }), table('upstreams', 'Upstream servers', status?.upstreams)),
      h('section', {}, h('h2', { text: 'Agents' }), table('agents', 'Agents', status?.agents)));
  }

  refresh.addEventListener('click', async () => {
    refresh.disabled = true;
    await load();
    refresh.disabled = false;
    announce('Status refreshed.');
  });
  await load();
}
