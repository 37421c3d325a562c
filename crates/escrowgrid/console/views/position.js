// One position: facts, its lifecycle as a timeline, the transitions the state machine allows
// (read from GET /lifecycle) as buttons with a reason, and its ledger.
import { call } from '../api.js';
import { h, replace, field, table, when, link, showError, clearErrors } from '../dom.js';
import { nameOf } from '../app.js';
import { ledgerColumns } from './records.js';

export async function page(ctx, main, id) {
  const [position, ledger] = await Promise.all([
    call('getPosition', { params: { id } }),
    call('listLedger', { query: { positionId: id } }),
  ]);
  const allowed = ctx.lifecycle.transitions[position.state] || [];
  // A live update re-renders the page: what the user was typing as a reason stays.
  const typing = main.querySelector('input[name=reason]');
  const typed = typing ? { value: typing.value, focused: document.activeElement === typing } : null;
  const parts = [
    h('p', { class: 'crumbs' }, link('/positions', 'Positions'), ' / ', position.holderReference),
    h('h1', {}, `${position.holderReference}: `, h('span', { class: 'num' }, `${position.amount} ${position.currency}`)),
    h('p', {}, 'State ', h('strong', { id: 'position-state', class: `state state-${position.state}` }, position.state)),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Id'), h('dd', {}, h('code', {}, position.id)),
      h('dt', {}, 'Institution'), h('dd', {}, nameOf(position.institutionId)),
      h('dt', {}, 'Asset'), h('dd', {}, h('code', {}, position.assetId)),
      position.externalReference ? [h('dt', {}, 'External reference'), h('dd', {}, position.externalReference)] : null,
      h('dt', {}, 'Created'), h('dd', {}, when(position.createdAt)),
      h('dt', {}, 'Updated'), h('dd', {}, when(position.updatedAt))),
    h('section', { 'aria-labelledby': 'life-h' }, h('h2', { id: 'life-h' }, 'Lifecycle'), timeline(position)),
  ];
  if (ctx.canWrite && allowed.length) parts.push(transitionForm(ctx, main, position, allowed));
  else if (!allowed.length) parts.push(h('p', { class: 'hint' }, `${position.state} is final: no further transitions.`));
  parts.push(h('section', { 'aria-labelledby': 'ledger-h' }, h('h2', { id: 'ledger-h' }, 'Ledger'),
    table('Ledger events of this position', ledgerColumns(ctx), ledger, 'No ledger events.')));
  replace(main, parts);
  const reason = main.querySelector('input[name=reason]');
  if (reason && typed) {
    reason.value = typed.value;
    if (typed.focused) reason.focus();
  }
  ctx.onLive((event) => {
    const data = event.data && event.data.data;
    const subject = data && (data.position ? data.position.id : data.positionId || data.id);
    if (subject === id) page(ctx, main, id);
  });
}

function timeline(position) {
  const created = position.events.some((event) => !event.fromState)
    ? [] : [{ toState: 'CREATED', at: position.createdAt, reason: 'Position opened' }];
  return h('ol', { class: 'timeline', id: 'timeline' }, [...created, ...position.events].map((event) => h('li', {},
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    h('strong', {}, event.fromState ? `${event.fromState} → ${event.toState}` : event.toState), ' ',
    when(event.at), event.reason ? h('p', { class: 'reason' }, event.reason) : null)));
}

function transitionForm(ctx, main, position, allowed) {
  const reason = h('input', { name: 'reason', maxLength: 1000 });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const box = h('form', { class: 'card', 'aria-label': 'Move this position', onsubmit: (e) => e.preventDefault() },
    h('h3', {}, 'Move this position'), error, field('Reason (optional)', reason, { name: 'reason' }),
    h('div', { class: 'actions' }, allowed.map((to) => h('button', {
      type: 'button', class: to === 'CANCELLED' || to === 'EXPIRED' ? 'danger' : '', 'data-to': to,
      onclick: async (event) => {
        clearErrors(box);
        event.target.disabled = true;
        const body = { toState: to };
        if (reason.value.trim()) body.reason = reason.value.trim();
        try {
          await call('transitionPosition', { params: { id: position.id }, body, quiet: true });
          // The reason was used: the next form starts empty (a live re-render may have
          // carried it into a newer form meanwhile).
          for (const input of [reason, ...main.querySelectorAll('input[name=reason]')]) input.value = '';
          await page(ctx, main, position.id);
        } catch (failure) {
          event.target.disabled = false;
          showError(box, failure);
        }
      },
    }, `Move to ${to}`))));
  return box;
}
