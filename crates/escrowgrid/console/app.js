// The console: sign-in, the frame (navigation, acting institution, sign-out) and the router.
import './errors.js';
import { call, onError, session } from './api.js';
import { h, replace, field, form, loading } from './dom.js';
import { startStream } from './live.js';
import contract from './contract.js';
import * as institutions from './views/institutions.js';
import * as templates from './views/templates.js';
import * as positions from './views/positions.js';
import * as position from './views/position.js';
import * as records from './views/records.js';
import * as webhooks from './views/webhooks.js';

const ACTING = 'escrowgrid.institution';
const top = document.getElementById('top');
const main = document.getElementById('main');
const status = document.getElementById('status');

let ctx = null;
let stream = null;
let liveHandlers = [];

onError((error) => {
  if (error.status === 401 && ctx) { signOut('Your key was refused; sign in again.'); return; }
  // While a page loads, its own content says what failed.
  if (main.getAttribute('aria-busy') === 'true') return;
  showStatus(`Refused: ${error.text}`);
});

function showStatus(message) {
  replace(status, message ? h('p', { class: 'banner' }, message,
    h('button', { type: 'button', class: 'link', onclick: () => showStatus('') }, 'Dismiss')) : '');
}

function signOut(message = '') {
  showStatus('');
  if (stream) stream.abort();
  stream = null;
  session.signOut();
  ctx = null;
  location.hash = '';
  showSignIn(message);
}

function showSignIn(message) {
  replace(top, h('div', { class: 'bar' }, h('span', { class: 'brand' }, 'EscrowGrid console')));
  const input = h('input', { type: 'password', name: 'apiKey', autocomplete: 'off', required: true, spellcheck: false });
  const signIn = form('Sign in', [
    field('API key', input, { name: 'apiKey', hint: 'A root or institution key. It stays in this tab only and is forgotten when you sign out or close the tab.' }),
  ], 'Sign in', async (el) => {
    const key = input.value.trim();
    if (!key) throw Object.assign(new Error('enter an API key'), { fields: [{ field: 'apiKey', message: 'Enter an API key.' }], text: 'Enter an API key.', body: {} });
    try {
      await call('me', { key, quiet: true });
    } catch (error) {
      error.body.details = [{ field: 'apiKey', message: error.message }];
      throw error;
    }
    session.signIn(key);
    el.reset();
    await start();
  });
  replace(main, message ? h('p', { class: 'banner', role: 'status' }, message) : '', signIn);
  input.focus();
}

/** What the server offers beyond the core API, from its OpenAPI document. */
function features(doc) {
  const has = (name) => {
    const [method, path] = contract.optional[name];
    return Boolean(doc.paths && doc.paths[path] && doc.paths[path][method.toLowerCase()]);
  };
  return { stream: has('eventStream'), webhooks: has('listWebhooks') && has('listWebhookDeliveries') };
}

async function start() {
  replace(main, loading());
  const [me, doc, lifecycle, rules] = await Promise.all([
    call('me'), call('openapi'), call('lifecycle'), call('templateRules'),
  ]);
  ctx = {
    me, doc, lifecycle, rules,
    root: me.role === 'root',
    canWrite: me.canWrite,
    canManage: me.role === 'root' || me.role === 'admin',
    features: features(doc),
    get acting() { return this.root ? sessionStorage.getItem(ACTING) || '' : me.institutionId; },
    onLive(fn) { liveHandlers = [fn]; },
    institutions: [],
  };
  ctx.institutions = await call('listInstitutions');
  if (ctx.features.stream) {
    stream = startStream(dispatchLive);
  }
  renderTop();
  await route();
}

/**
 * Hands a stream event to the current view, which reloads what it shows. While the user is in
 * a form of the page the reload waits until the focus leaves the form, so typing is never lost.
 */
let deferred = null;
function dispatchLive(event) {
  const active = document.activeElement;
  const form = active && active.closest ? active.closest('main form') : null;
  if (!form) { liveHandlers.forEach((fn) => fn(event)); return; }
  deferred = event;
  form.addEventListener('focusout', (leave) => {
    if (form.contains(leave.relatedTarget) || !deferred) return;
    const pending = deferred;
    deferred = null;
    liveHandlers.forEach((fn) => fn(pending));
  }, { once: true });
}

function renderTop() {
  const nav = [
    ['#/institutions', 'Institutions'], ['#/templates', 'Templates'], ['#/assets', 'Assets'],
    ['#/positions', 'Positions'], ['#/ledger', 'Ledger'],
  ];
  if (ctx.canManage) nav.push(['#/audit', 'Audit log']);
  if (ctx.features.webhooks) nav.push(['#/webhooks', 'Webhooks']);
  const who = ctx.root ? 'root' : `${ctx.me.role} · ${nameOf(ctx.me.institutionId)}`;
  const parts = [
    h('span', { class: 'brand' }, 'EscrowGrid'),
    h('nav', { 'aria-label': 'Main' }, h('ul', {}, nav.map(([href, text]) => h('li', {}, h('a', { href }, text))))),
  ];
  const tools = h('div', { class: 'tools' });
  if (ctx.root) {
    const picker = h('select', { id: 'acting', onchange: () => { sessionStorage.setItem(ACTING, picker.value); route(); } },
      h('option', { value: '' }, 'All institutions'),
      ctx.institutions.map((inst) => h('option', { value: inst.id, selected: inst.id === ctx.acting }, inst.name)));
    tools.append(h('label', { for: 'acting' }, 'Institution'), picker);
  }
  tools.append(h('span', { class: 'who', id: 'who' }, who),
    h('button', { type: 'button', id: 'sign-out', onclick: () => signOut('Signed out.') }, 'Sign out'));
  parts.push(tools);
  replace(top, h('div', { class: 'bar' }, parts));
}

/** Refreshes the institution list (after a create) and the header. */
export async function refreshInstitutions() {
  ctx.institutions = await call('listInstitutions');
  renderTop();
}

export function nameOf(id) {
  const inst = ctx && ctx.institutions.find((i) => i.id === id);
  return inst ? inst.name : id || '';
}

const ROUTES = [
  [/^\/institutions\/([\w-]+)$/, institutions.detail],
  [/^\/institutions$/, institutions.list],
  [/^\/templates$/, templates.templates],
  [/^\/assets$/, templates.assets],
  [/^\/positions\/([\w-]+)$/, position.page],
  [/^\/positions$/, positions.list],
  [/^\/ledger$/, records.ledger],
  [/^\/audit$/, records.audit],
  [/^\/webhooks\/([\w-]+)$/, webhooks.detail],
  [/^\/webhooks$/, webhooks.list],
];

let routeToken = 0;

/**
 * Shows the page of the current hash. A view renders into its own element, swapped in only if
 * no later navigation started meanwhile (a slow page never overwrites a newer one).
 */
async function route() {
  if (!ctx) return;
  const token = ++routeToken;
  liveHandlers = [];
  showStatus('');
  const path = location.hash.replace(/^#/, '') || '/positions';
  const match = ROUTES.map(([pattern, view]) => [path.match(pattern), view]).find(([m]) => m);
  top.querySelectorAll('nav a').forEach((a) => {
    if (path.startsWith(a.getAttribute('href').slice(1))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
  main.dataset.path = path;
  main.setAttribute('aria-busy', 'true');
  const target = h('div', { class: 'view' }, loading());
  replace(main, target);
  const viewCtx = Object.create(ctx, {
    onLive: { value: (fn) => { if (token === routeToken) liveHandlers = [fn]; } },
  });
  try {
    if (!match) replace(target, h('h1', {}, 'Not found'), h('p', {}, 'No such page.'));
    else await match[1](viewCtx, target, ...match[0].slice(1));
  } catch (error) {
    replace(target, h('h1', {}, 'Could not load this page'), h('p', { class: 'form-error' }, error.text || error.message));
  }
  if (token !== routeToken) return;
  main.setAttribute('aria-busy', 'false');
  main.focus({ preventScroll: true });
}

window.addEventListener('hashchange', route);
if (session.key) start().catch(() => signOut('Your session has ended; sign in again.'));
else showSignIn('');
