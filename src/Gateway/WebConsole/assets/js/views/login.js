// Sign in with a personal API token (ae_user_...), checked with GET /api/me before it is kept.

import { ApiError } from '../api.js';
import { alertBox, append, h, heading, messageOf } from '../dom.js';

export function renderLogin(main, { message, signIn }) {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'token-help',
  });
  const button = h('button', { type: 'submit', text: 'Sign in' });
  const feedback = h('div', { class: 'feedback' });
  const form = h('form', { class: 'login', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'token', text: 'API token' }),
      input,
      h('p', { id: 'token-help', class: 'help', text: 'Your personal token, ae_user_… It is kept in this browser tab only, until you sign out or close the tab.' })),
    button,
    feedback);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    feedback.replaceChildren();
    if (!token) {
      input.setAttribute('aria-invalid', 'true');
      feedback.append(alertBox('Paste your API token first.'));
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = 'Signing in…';
    try {
      await signIn(token);
    } catch (error) {
      input.setAttribute('aria-invalid', 'true');
      const text = error instanceof ApiError && error.status === 401
        ? 'That token was not accepted. Check that you pasted the whole token (ae_user_…).'
        : `Could not sign in: ${messageOf(error)}`;
      feedback.append(alertBox(text));
      button.disabled = false;
      button.textContent = 'Sign in';
      input.focus();
    }
  });

  append(main,
    heading('Sign in'),
    message ? h('p', { role: 'status', class: 'notice', text: message }) : null,
    form);
}
