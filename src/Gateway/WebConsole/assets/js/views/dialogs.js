// Modal dialogs for Deny (with a reason) and Approve with edits. Native <dialog>: focus stays inside while it is
// open, Escape closes it, and focus goes back to the button that opened it.

import { alertBox, h, messageOf } from '../dom.js';

let dialogCount = 0;

/**
 * Opens a modal form. field: { label, help, value, rows }. validate(text) returns an error message or null;
 * submit(text) performs the action (its rejection is shown in the dialog, which stays open).
 */
export function openFormDialog({ title, intro, field, submitLabel, validate = () => null, submit, returnFocus }) {
  const n = ++dialogCount;
  const ids = { title: `dialog-${n}-title`, field: `dialog-${n}-field`, help: `dialog-${n}-help`, error: `dialog-${n}-error` };
  const textarea = h('textarea', {
    id: ids.field, rows: field.rows ?? 4, spellcheck: 'false',
    'aria-describedby': [field.help ? ids.help : null, ids.error].filter(Boolean).join(' '),
  });
  textarea.value = field.value ?? '';
  const error = h('div', { id: ids.error });
  const submitButton = h('button', { type: 'submit', text: submitLabel });
  const cancelButton = h('button', { type: 'button', class: 'secondary', text: 'Cancel' });
  const form = h('form', { method: 'dialog' },
    h('h2', { id: ids.title, text: title }),
    intro ? h('p', { text: intro }) : null,
    h('div', { class: 'field' },
      h('label', { for: ids.field, text: field.label }),
      textarea,
      field.help ? h('p', { id: ids.help, class: 'help', text: field.help }) : null),
    error,
    h('div', { class: 'actions' }, submitButton, cancelButton));
  const dialog = h('dialog', { 'aria-labelledby': ids.title }, form);

  cancelButton.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    dialog.remove();
    returnFocus?.focus();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.replaceChildren();
    textarea.removeAttribute('aria-invalid');
    const problem = validate(textarea.value);
    if (problem) {
      textarea.setAttribute('aria-invalid', 'true');
      error.append(alertBox(problem));
      textarea.focus();
      return;
    }
    submitButton.disabled = true;
    try {
      await submit(textarea.value);
      dialog.close();
    } catch (failure) {
      error.append(alertBox(messageOf(failure)));
      submitButton.disabled = false;
      submitButton.focus();
    }
  });

  document.body.append(dialog);
  dialog.showModal();
  textarea.focus();
  return dialog;
}

/** The error in an edited-arguments text, or null when it is a JSON object different from the original. */
export function editedArgumentsProblem(text, original) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `This is not valid JSON: ${error.message}`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'The arguments must be a JSON object, in braces: { … }.';
  }
  if (JSON.stringify(value) === JSON.stringify(original ?? {})) {
    return 'The arguments are unchanged; use Approve instead.';
  }
  return null;
}
