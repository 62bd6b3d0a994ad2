// The inbox: the open approvals the person may see, kept live by the approvals stream.

import { alertBox, clear, h, heading, preview, statusBadge, time } from '../dom.js';
import { describeCall, votesText } from './describe.js';

function connectionText(state) {
  switch (state.kind) {
    case 'live': return 'Live: new requests appear here as they arrive.';
    case 'connecting': return 'Connecting…';
    case 'reconnecting': return 'Reconnecting…';
    case 'retrying': {
      const seconds = Math.max(1, Math.round((state.retryAt - Date.now()) / 1000));
      return `Connection lost (${state.error?.message ?? 'no answer'}); trying again in ${seconds} s.`;
    }
    default: return '';
  }
}

function row(item) {
  return h('tr', { 'data-approval': item.id },
    h('td', {}, h('a', { href: `approvals/${item.id}`, text: describeCall(item) })),
    h('td', {}, h('code', { class: 'preview', text: preview(item.arguments) })),
    h('td', { text: item.rule ?? '—' }),
    h('td', { text: votesText(item) }),
    h('td', {}, time(item.deadlineAt)),
    h('td', {}, statusBadge(item.status)),
    h('td', { text: item.youMayDecide ? 'Yes' : 'No' }));
}

export async function renderInbox({ main, stream, signal, announce }) {
  const connection = h('p', { class: 'connection', role: 'status' });
  const refusal = h('div');
  const body = h('tbody');
  const empty = h('p', { class: 'empty' });
  const table = h('table', { class: 'list' },
    h('caption', { text: 'Open approvals, newest first' }),
    h('thead', {}, h('tr', {}, ['Request', 'Arguments', 'Rule', 'Votes', 'Deadline', 'Status', 'Your decision needed']
      .map((name) => h('th', { scope: 'col', text: name })))),
    body);
  main.append(heading('Inbox'), connection, refusal, empty, table);

  function show(items) {
    clear(body);
    for (const item of items) body.append(row(item));
    empty.hidden = items.length > 0;
    table.hidden = items.length === 0;
  }
  show([]);
  empty.textContent = 'Loading…';

  const unsubscribe = stream.subscribe((message) => {
    if (message.type === 'state') {
      // Said once per change, not counted down: the paragraph is a live region.
      connection.textContent = connectionText(message.state);
      refusal.replaceChildren(message.state.kind === 'refused' ? alertBox(message.state.error.message) : '');
    } else if (message.type === 'snapshot') {
      empty.textContent = 'Nothing is waiting for a decision.';
      show(message.items);
    } else if (message.type === 'approval') {
      show(stream.items);
      const { item, previous } = message;
      if (!previous && item.open !== false) {
        announce(`New approval request: ${describeCall(item)}.${item.youMayDecide ? ' Your decision is needed.' : ''}`);
      } else if (previous && item.open === false) {
        announce(`${describeCall(item)}: ${item.status}.`);
      }
    }
  });

  signal.addEventListener('abort', unsubscribe, { once: true });
}
