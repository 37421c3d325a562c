// Small DOM helpers: elements, labelled fields with an error slot, tables, states.

let counter = 0;
/** A fresh element id. */
export const uid = (prefix = 'f') => `${prefix}-${++counter}`;

/** `h('button', {type: 'button', onclick}, 'Save')`: attributes, properties, children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key in el && key !== 'list' && key !== 'form') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces the content of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * A labelled control with a hint and an error slot (`aria-describedby`). `name` is the API
 * field the errors of which are shown here.
 */
export function field(label, control, { name, hint } = {}) {
  const id = control.id || uid();
  control.id = id;
  if (name) control.dataset.field = name;
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const parts = [error.id];
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${id}-hint` }, hint);
    parts.push(hintEl.id);
  }
  control.setAttribute('aria-describedby', parts.join(' '));
  return h('div', { class: 'field', 'data-for': name || '' }, h('label', { for: id }, label), control, hintEl, error);
}

/** A group of checkboxes in a fieldset with a legend. */
export function checkboxes(legend, name, values, checked = []) {
  const box = h('fieldset', { class: 'field checks', 'data-for': name }, h('legend', {}, legend));
  for (const value of values) {
    const id = uid();
    box.append(h('span', { class: 'check' },
      h('input', { type: 'checkbox', id, value, name, checked: checked.includes(value) }),
      h('label', { for: id }, value)));
  }
  box.append(h('p', { class: 'field-error', hidden: true }));
  return box;
}

/** The checked values of a checkbox group. */
export const checkedValues = (root, name) =>
  [...root.querySelectorAll(`input[name="${name}"]:checked`)].map((input) => input.value);

/** A select with options `[value, label]` or plain values. */
export function select(options, attrs = {}) {
  return h('select', attrs, options.map((option) => {
    const [value, label] = Array.isArray(option) ? option : [option, option];
    return h('option', { value }, label);
  }));
}

/** Clears the errors of a form. */
export function clearErrors(form) {
  form.querySelectorAll('.field-error, .form-error').forEach((el) => { el.hidden = true; el.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
}

/** Shows `message` next to the field named `name` (or at the top of the form). */
export function fieldError(form, name, message) {
  const holder = form.querySelector(`[data-for="${CSS.escape(name)}"]`);
  const slot = holder ? holder.querySelector('.field-error') : form.querySelector('.form-error');
  if (!slot) return;
  slot.textContent = holder ? message : `${name ? `${name}: ` : ''}${message}`;
  slot.hidden = false;
  const control = holder && holder.querySelector('input, select, textarea');
  if (control) control.setAttribute('aria-invalid', 'true');
}

/**
 * Shows an API error in a form: each listed field next to its control, the rest at the top.
 * `detailsField` names the field a string `details` concerns.
 */
export function showError(form, error, detailsField) {
  clearErrors(form);
  const fields = error.fields || [];
  for (const { field: name, message } of fields) fieldError(form, name, message);
  const details = error.body && error.body.details;
  const words = typeof details === 'string' ? `${error.message}: ${details}` : error.message;
  if (!fields.length && detailsField) fieldError(form, detailsField, words);
  const top = form.querySelector('.form-error');
  if (top && (!fields.length || top.hidden)) {
    top.textContent = typeof details === 'string' && detailsField ? `${error.message} (HTTP ${error.status})` : error.text;
    top.hidden = false;
  }
  const first = form.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
}

/** A form with an error slot at the top and a submit button; `onsubmit(form)` is awaited. */
export function form(title, fields, submitLabel, onsubmit) {
  const button = h('button', { type: 'submit' }, submitLabel);
  const el = h('form', { class: 'card', novalidate: true, 'aria-label': title },
    h('h3', {}, title), h('p', { class: 'form-error', role: 'alert', hidden: true }), fields, button);
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(el);
    button.disabled = true;
    try { await onsubmit(el); } catch (error) { showError(el, error, error.detailsField); } finally { button.disabled = false; }
  });
  return el;
}

/** A table with a caption; `columns` are `[heading, row => cell]`. Empty: a message. */
export function table(caption, columns, rows, empty = 'Nothing here yet.') {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map(([heading]) => h('th', { scope: 'col' }, heading)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(row))))))));
}

/** A loading placeholder. */
export const loading = (what = 'Loading…') => h('p', { class: 'loading', role: 'status' }, what);

/** A short date-time for people (the exact value in the title). */
export function when(text) {
  if (!text) return '';
  return h('time', { datetime: text, title: text }, text.replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
}

/** A link inside the console. */
export const link = (hash, text) => h('a', { href: `#${hash}` }, text);

/** Previous / next buttons and "1–20 of 42" for a `{data, pagination}` page. */
export function pager(page, noun, go) {
  const { total, offset, limit, hasMore } = page.pagination;
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit)) }, 'Previous'),
    h('span', { role: 'status' }, total ? `${offset + 1}–${offset + page.data.length} of ${total}` : `0 ${noun}`),
    h('button', { type: 'button', disabled: !hasMore, onclick: () => go(offset + limit) }, 'Next'));
}
