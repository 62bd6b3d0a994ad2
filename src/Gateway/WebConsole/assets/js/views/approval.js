// One approval: what was asked, who may decide, the decision buttons, and the hash-chained history.

import { alertBox, clear, facts, h, heading, json, messageOf, statusBadge, time } from '../dom.js';
import { decisionBlocker, describeCall, votesText } from './describe.js';
import { editedArgumentsProblem, openFormDialog } from './dialogs.js';

function section(title, ...content) {
  return h('section', {}, h('h2', { text: title }), content);
}

function list(values) {
  return Array.isArray(values) && values.length > 0 ? values.join(', ') : null;
}

function requestSection(item) {
  return section('Request', facts([
    ['Agent', item.agentId],
    ['Agent owner', item.agentOwner],
    ['Bundle', item.bundle],
    ['Upstream', item.upstream],
    ['Tool', item.tool],
    ['Rule', item.rule],
    ['Policy reason', item.policyReason],
    ['Created', time(item.createdAt)],
    ['Deadline', time(item.deadlineAt)],
    ['Approval id', h('code', { text: item.id })],
  ]));
}

function argumentsSection(item) {
  return section('Arguments',
    json(item.arguments),
    h('p', { class: 'digest' }, 'Digest: ', h('code', { text: item.argumentsDigest ?? '—' })),
    item.editedArguments ? [
      h('h3', { text: 'Approved with these edited arguments' }),
      json(item.editedArguments),
      h('p', { class: 'digest' }, 'Digest: ', h('code', { text: item.editedArgumentsDigest ?? '—' })),
    ] : null);
}

function approversSection(item) {
  const votes = Array.isArray(item.votes) ? item.votes : [];
  return section('Approvers',
    facts([
      ['Group', item.approverGroup],
      ['Approvers', list(item.approvers)],
      ['Progress', votesText(item)],
      ['Stage', item.stage === undefined ? null : String(item.stage + 1)],
    ]),
    votes.length === 0 ? h('p', { text: 'No votes yet.' }) : h('table', { class: 'list' },
      h('caption', { text: 'Votes' }),
      h('thead', {}, h('tr', {}, ['Approver', 'At', 'Arguments digest', 'Comment'].map((name) => h('th', { scope: 'col', text: name })))),
      h('tbody', {}, votes.map((vote) => h('tr', {},
        h('td', { text: vote.approver }),
        h('td', {}, time(vote.at)),
        h('td', {}, h('code', { text: vote.argumentsDigest ?? '—' })),
        h('td', { text: vote.comment ?? '—' }))))));
}

function outcomeSection(item) {
  if (item.open !== false && !item.decidedAt) return null;
  return section('Outcome',
    facts([
      ['Status', statusBadge(item.status)],
      ['Decided by', list(item.decidedBy)],
      ['Decided at', time(item.decidedAt)],
      ['Reason', item.reason],
      ['Error', item.error],
    ]),
    item.result !== null && item.result !== undefined ? [h('h3', { text: 'Result' }), json(item.result)] : null);
}

function chainStatus(chain) {
  if (!chain) return h('p', { class: 'chain', text: 'The chain was not checked.' });
  if (chain.valid) {
    return h('p', { class: 'chain chain-valid', 'data-chain': 'verified' },
      h('span', { 'aria-hidden': 'true', text: '✔ ' }),
      `Verified: the hash chain of ${chain.checkedEvents} event${chain.checkedEvents === 1 ? '' : 's'} is intact.`);
  }
  return h('p', { class: 'chain chain-broken', 'data-chain': 'broken' },
    h('span', { 'aria-hidden': 'true', text: '✘ ' }),
    `Broken at event ${chain.brokenAt ?? '?'}${chain.problem ? `: ${chain.problem}` : ''}. This history may have been altered.`);
}

function historySection(history, error) {
  if (error) return section('History', alertBox(`The history could not be loaded: ${messageOf(error)}`));
  const events = Array.isArray(history?.events) ? history.events : [];
  return section('History',
    chainStatus(history?.chain),
    h('ol', { class: 'timeline' }, events.map((event) => h('li', {},
      h('p', { class: 'event' },
        h('strong', { text: event.type }), ' · ', time(event.at), event.actor ? ` · ${event.actor}` : '',
        h('span', { class: 'seq', text: ` (event ${event.seq})` })),
      h('details', {},
        h('summary', { text: `Details of event ${event.seq}` }),
        json(event.body),
        h('p', { class: 'digest' }, 'Hash: ', h('code', { text: event.hash ?? '—' })))))));
}

export async function renderApproval({ main, api, me, stream, signal, params: [id], announce }) {
  let item;
  try {
    item = await api.approval(id, signal);
  } catch (error) {
    if (signal.aborted) return;
    const prefix = error.status === 403 ? 'Not permitted: ' : error.status === 404 ? 'Not found: ' : '';
    main.append(heading('Approval'), alertBox(prefix + messageOf(error)), h('p', {}, h('a', { href: './', text: 'Back to the inbox' })));
    return;
  }

  const status = h('p', { class: 'status-line' });
  const blocker = h('p', { id: 'decision-blocker', class: 'notice' });
  const feedback = h('div', { class: 'feedback' });
  const approve = h('button', { type: 'button', text: 'Approve', 'aria-describedby': 'decision-blocker' });
  const approveEdited = h('button', { type: 'button', class: 'secondary', text: 'Approve with edits…', 'aria-describedby': 'decision-blocker' });
  const deny = h('button', { type: 'button', class: 'danger', text: 'Deny…', 'aria-describedby': 'decision-blocker' });
  const decision = section('Decision', blocker, h('div', { class: 'actions' }, approve, approveEdited, deny));
  const details = h('div');
  // Outside the decision section, which goes away once the approval is decided.
  main.append(heading(`Approval: ${describeCall(item)}`), status, feedback, decision, details);

  let busy = false;
  function showButtons() {
    const reason = decisionBlocker(item, me);
    blocker.textContent = reason ?? `Your decision is needed: ${votesText(item)} so far.`;
    for (const button of [approve, approveEdited, deny]) button.disabled = busy || reason !== null;
    approveEdited.hidden = !item.allowEdits;
  }

  function show(current, history, historyError) {
    item = current;
    clear(status, 'Status: ', statusBadge(item.status), item.open !== false ? [' · deadline ', time(item.deadlineAt)] : null);
    const hadFocus = decision.contains(document.activeElement);
    decision.hidden = item.open === false;
    showButtons();
    // A decided approval loses its buttons; focus moves to the message that says what happened.
    if (hadFocus && decision.hidden) feedback.querySelector('[tabindex]')?.focus();
    clear(details, requestSection(item), argumentsSection(item), approversSection(item), outcomeSection(item),
      historySection(history, historyError));
  }

  async function refresh() {
    const [current, history] = await Promise.allSettled([api.approval(id, signal), api.history(id, signal)]);
    if (signal.aborted) return;
    show(current.status === 'fulfilled' ? current.value : item,
      history.status === 'fulfilled' ? history.value : null,
      history.status === 'rejected' ? history.reason : null);
  }

  async function decide(action, body, done) {
    busy = true;
    showButtons();
    feedback.replaceChildren();
    try {
      await (action === 'approve' ? api.approve(id, body) : api.deny(id, body));
      feedback.append(h('p', { class: 'notice', tabindex: '-1', text: done }));
      announce(done);
    } finally {
      busy = false;
      await reload();
    }
  }

  approve.addEventListener('click', async () => {
    try {
      await decide('approve', undefined, 'You approved this request.');
    } catch (error) {
      feedback.append(alertBox(messageOf(error)));
    }
  });
  deny.addEventListener('click', () => openFormDialog({
    title: 'Deny this request',
    intro: `The agent gets the refusal at once, with your reason.`,
    field: { label: 'Reason (optional)', help: 'Shown to the agent and kept in the audit.', rows: 3 },
    submitLabel: 'Deny request',
    submit: (text) => decide('deny', text.trim() ? { reason: text.trim() } : undefined, 'You denied this request.'),
    returnFocus: deny,
  }));
  approveEdited.addEventListener('click', () => openFormDialog({
    title: 'Approve with edits',
    intro: 'The call runs with the arguments below instead of the agent\'s. The audit keeps the digests of both.',
    field: { label: 'Edited arguments (JSON)', help: 'A JSON object, like the original arguments.', value: JSON.stringify(item.arguments ?? {}, null, 2), rows: 12 },
    submitLabel: 'Approve edited arguments',
    validate: (text) => editedArgumentsProblem(text, item.arguments),
    submit: (text) => decide('approve', { editedArguments: JSON.parse(text) }, 'You approved this request with edited arguments.'),
    returnFocus: approveEdited,
  }));

  // Votes, the decision and the execution's result arrive on the stream; each change reloads this approval.
  // After a reconnect (a new snapshot) changes may have been missed, so the view reloads then too. A change that
  // arrives during a reload gets one more reload, so the last change is always shown.
  let reloading = false;
  let again = false;
  async function reload() {
    if (reloading) {
      again = true;
      return;
    }
    reloading = true;
    try {
      do {
        again = false;
        await refresh();
      } while (again && !signal.aborted);
    } finally {
      reloading = false;
    }
  }
  let subscribed = false;
  const unsubscribe = stream.subscribe((message) => {
    if ((message.type === 'approval' && message.item.id === id) || (message.type === 'snapshot' && subscribed)) reload();
  });
  subscribed = true;
  signal.addEventListener('abort', unsubscribe, { once: true });

  await reload();
}
