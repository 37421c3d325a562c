// Webhook endpoints and their deliveries. Root and admins may re-drive a dead-lettered
// delivery; while a delivery is still moving (pending, re-driving) the page refreshes itself.
import { call } from '../api.js';
import { h, replace, table, when, link, pager } from '../dom.js';
import { nameOf } from '../app.js';

const REFRESH_MS = 1500;
const deliveryState = { webhook: '', offset: 0 };

export async function list(ctx, main) {
  if (!ctx.features.webhooks) { replace(main, h('h1', {}, 'Webhooks'), h('p', {}, 'This server has no webhooks.')); return; }
  const query = ctx.root && ctx.acting ? { institutionId: ctx.acting } : {};
  const endpoints = await call('listWebhooks', { query });
  replace(main, h('h1', {}, 'Webhooks'),
    h('p', { class: 'hint' }, 'Endpoints receive the institution\'s events, signed (Standard Webhooks).'),
    table('Webhook endpoints', [
      ['URL', (w) => link(`/webhooks/${w.id}`, w.url)],
      ['Events', (w) => w.eventTypes.join(', ')],
      ['Enabled', (w) => (w.enabled ? 'yes' : 'no')],
      ['Institution', (w) => nameOf(w.institutionId)],
      ['Description', (w) => w.description || ''],
      ['Created', (w) => when(w.createdAt)],
    ], endpoints, 'No webhook endpoints.'));
}

const STATUS_TEXT = { pending: 'pending (retrying)', succeeded: 'succeeded', failed: 'failed (dead-lettered)', redriving: 're-driving' };

export async function detail(ctx, main, id) {
  if (deliveryState.webhook !== id) Object.assign(deliveryState, { webhook: id, offset: 0 });
  const [endpoint, page] = await Promise.all([
    call('getWebhook', { params: { id } }),
    call('listWebhookDeliveries', { params: { id }, query: { limit: 20, offset: deliveryState.offset } }),
  ]);
  const rerender = () => detail(ctx, main, id);
  const retry = (d) => h('button', {
    type: 'button', 'data-retry': d.id,
    onclick: async (event) => {
      event.target.disabled = true;
      try { await call('retryWebhookDelivery', { params: { id, deliveryId: d.id } }); } finally { await rerender(); }
    },
  }, 'Retry');
  const columns = [
    ['Event', (d) => d.eventType],
    ['Event id', (d) => h('code', {}, d.eventId)],
    ['Status', (d) => h('span', { class: `delivery-${d.status}`, 'data-status': d.status }, STATUS_TEXT[d.status] || d.status)],
    ['Attempts', (d) => String(d.attempts)],
    ['Last answer', (d) => (d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : d.lastError || '')],
    ['Next attempt', (d) => when(d.nextAttemptAt)],
    ['Updated', (d) => when(d.updatedAt)],
  ];
  if (ctx.canManage) columns.push(['', (d) => (d.status === 'failed' ? retry(d) : '')]);
  replace(main, h('h1', {}, endpoint.url),
    h('p', {}, link('/webhooks', 'All endpoints')),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Events'), h('dd', {}, endpoint.eventTypes.join(', ')),
      h('dt', {}, 'Enabled'), h('dd', {}, endpoint.enabled ? 'yes' : 'no'),
      h('dt', {}, 'Institution'), h('dd', {}, nameOf(endpoint.institutionId)),
      h('dt', {}, 'Description'), h('dd', {}, endpoint.description || '—')),
    h('h2', {}, 'Deliveries'),
    table('Deliveries', columns, page.data, 'No deliveries yet.'),
    pager(page, 'deliveries', (offset) => { deliveryState.offset = offset; rerender(); }));
  // New deliveries follow new events; moving ones change without an event: look again soon.
  ctx.onLive(() => rerender());
  if (page.data.some((d) => d.status === 'pending' || d.status === 'redriving')) {
    const shown = main.querySelector('table');
    setTimeout(() => { if (shown && shown.isConnected) rerender(); }, REFRESH_MS);
  }
}
