// The console's shell: sign-in state, the header, and the router over /console/ paths (History API), so that
// /console/approvals/{id}, the link on Slack and Teams cards, opens that approval.

import { ApiError, createApi } from './api.js';
import { alertBox, clear, h, heading, messageOf } from './dom.js';
import { forgetToken, storedToken, storeToken } from './session.js';
import { ApprovalStream } from './stream.js';
import { renderLogin } from './views/login.js';
import { renderInbox } from './views/inbox.js';
import { renderApproval } from './views/approval.js';
import { renderAudit } from './views/audit.js';
import { renderStatus } from './views/status.js';

const routes = [
  { pattern: /^$/, nav: 'inbox', render: renderInbox },
  { pattern: /^approvals\/([0-9a-fA-F-]{36})$/, nav: 'inbox', render: renderApproval },
  { pattern: /^audit$/, nav: 'audit', render: renderAudit },
  { pattern: /^status$/, nav: 'status', render: renderStatus },
];

const basePath = new URL(document.baseURI).pathname;
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const whoName = document.getElementById('who-name');
const announcer = document.getElementById('announcer');

let session = null; // { token, me, api, stream }
let viewController = null;
let firstRender = true;

/** Says something to screen readers through the polite live region. */
function announce(text) {
  // Cleared first, so the same words said twice are announced twice.
  announcer.textContent = '';
  setTimeout(() => { announcer.textContent = text; }, 50);
}

function relativePath() {
  const path = location.pathname.startsWith(basePath) ? location.pathname.slice(basePath.length) : '';
  return path.replace(/\/$/, '');
}

function navigate(href, { replace = false } = {}) {
  const url = new URL(href, document.baseURI);
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

function startSession(token, me) {
  const api = createApi(token, () => endSession('Your token is no longer accepted. Sign in again.'));
  const stream = new ApprovalStream(api);
  session = { token, me, api, stream };
  storeToken(token);
  whoName.textContent = `${me.email} (${(me.roles ?? []).join(', ') || 'no roles'})`;
  nav.hidden = false;
  who.hidden = false;
  stream.start();
}

function endSession(message) {
  session?.stream.stop();
  session = null;
  forgetToken();
  nav.hidden = true;
  who.hidden = true;
  whoName.textContent = '';
  render({ message });
}

function markCurrent(name) {
  for (const link of nav.querySelectorAll('a[data-nav]')) {
    if (link.dataset.nav === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function focusHeading() {
  const title = main.querySelector('h1');
  document.title = title ? `${title.textContent} – Approval Engine` : 'Approval Engine';
  // On the first load the browser's own focus handling is left alone; later views move focus to their heading.
  if (!firstRender && title) title.focus();
  firstRender = false;
}

async function render({ message } = {}) {
  viewController?.abort();
  viewController = new AbortController();
  const signal = viewController.signal;
  clear(main);

  if (!session) {
    markCurrent(null);
    renderLogin(main, {
      message,
      signIn: async (token) => {
        const me = await createApi(token).me();
        startSession(token, me);
        announce(`Signed in as ${me.email}.`);
        render();
      },
    });
    focusHeading();
    return;
  }

  const path = relativePath();
  const route = routes.find((candidate) => candidate.pattern.test(path));
  markCurrent(route?.nav ?? null);
  if (!route) {
    main.append(heading('Page not found'), h('p', {}, 'There is no page at this address. ', h('a', { href: './', text: 'Go to the inbox' }), '.'));
    focusHeading();
    return;
  }

  const params = path.match(route.pattern).slice(1);
  const context = { ...session, main, signal, params, query: new URLSearchParams(location.search), navigate, announce };
  try {
    await route.render(context);
  } catch (error) {
    if (signal.aborted) return;
    main.append(alertBox(messageOf(error)));
  }
  if (!signal.aborted) focusHeading();
}

// Links inside the console change the view without loading the page again.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest('a[href]');
  if (!link || link.target) return;
  const raw = link.getAttribute('href');
  if (raw.startsWith('#')) {
    // With <base href>, "#main" would point at /console/#main; go to the element on this page instead.
    const target = document.getElementById(raw.slice(1));
    if (target) {
      event.preventDefault();
      target.focus();
    }
    return;
  }
  const url = new URL(link.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(basePath)) return;
  event.preventDefault();
  navigate(url);
});

window.addEventListener('popstate', () => render());

document.getElementById('sign-out').addEventListener('click', () => {
  endSession('You are signed out.');
  announce('Signed out.');
});

async function boot() {
  const token = storedToken();
  if (token) {
    try {
      startSession(token, await createApi(token).me());
    } catch (error) {
      forgetToken();
      const message = error instanceof ApiError && error.status === 401
        ? 'Your token is no longer accepted. Sign in again.'
        : `Could not check your token: ${messageOf(error)}`;
      await render({ message });
      return;
    }
  }
  await render();
}

boot();
