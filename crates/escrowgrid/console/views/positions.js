// Positions: filter, sort, paginate; create with an exact decimal amount.
import { call, Decimal, isDecimal, DECIMAL_PATTERN } from '../api.js';
import { h, replace, field, form, table, when, select, link, fieldError, uid, pager } from '../dom.js';
import { nameOf } from '../app.js';

const PAGE_SIZES = [5, 20, 50, 100];
const SORTS = {
  'createdAt-desc': ['Newest first', (a, b) => b.createdAt.localeCompare(a.createdAt)],
  'createdAt-asc': ['Oldest first', (a, b) => a.createdAt.localeCompare(b.createdAt)],
  'amount-desc': ['Largest amount', (a, b) => Number(b.amount) - Number(a.amount)],
  'amount-asc': ['Smallest amount', (a, b) => Number(a.amount) - Number(b.amount)],
  state: ['State', (a, b) => a.state.localeCompare(b.state)],
};
const view = { assetId: '', holderReference: '', sort: 'createdAt-desc', offset: 0, limit: 20 };

export async function list(ctx, main) {
  const query = { assetId: view.assetId, holderReference: view.holderReference, limit: view.limit, offset: view.offset };
  if (ctx.root && ctx.acting) query.institutionId = ctx.acting;
  const assetQuery = { limit: 100, institutionId: query.institutionId };
  const [result, assets] = await Promise.all([call('listPositions', { query }), call('listAssets', { query: assetQuery })]);
  const rows = [...result.data].sort(SORTS[view.sort][1]);
  const assetLabel = (id) => (assets.data.find((a) => a.id === id) || { label: id }).label;
  const rerender = () => list(ctx, main);

  const asset = select([['', 'Any asset'], ...assets.data.map((a) => [a.id, a.label])], { name: 'assetId', value: view.assetId });
  asset.value = view.assetId;
  const holder = h('input', { name: 'holderReference', value: view.holderReference });
  const sort = select(Object.entries(SORTS).map(([key, [label]]) => [key, label]), { name: 'sort' });
  sort.value = view.sort;
  const size = select(PAGE_SIZES.map(String), { name: 'limit' });
  size.value = String(view.limit);
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter positions', onsubmit: (event) => {
    event.preventDefault();
    Object.assign(view, { assetId: asset.value, holderReference: holder.value.trim(), sort: sort.value, limit: Number(size.value), offset: 0 });
    rerender();
  } }, field('Asset', asset), field('Holder reference', holder), field('Sort this page', sort), field('Per page', size), h('button', { type: 'submit' }, 'Apply'));

  const pages = pager(result, 'positions', (offset) => { view.offset = offset; rerender(); });

  const parts = [h('h1', {}, 'Positions'), filters,
    table('Positions', [
      ['Holder', (p) => link(`/positions/${p.id}`, p.holderReference)],
      ['Amount', (p) => h('span', { class: 'num' }, `${p.amount} ${p.currency}`)],
      ['State', (p) => h('span', { class: `state state-${p.state}` }, p.state)],
      ['Asset', (p) => assetLabel(p.assetId)],
      ['Institution', (p) => nameOf(p.institutionId)],
      ['Created', (p) => when(p.createdAt)],
    ], rows, view.assetId || view.holderReference ? 'No position matches these filters.' : 'No positions yet.'),
    pages];
  if (ctx.canWrite) {
    if (ctx.root && !ctx.acting) parts.push(h('p', { class: 'hint' }, 'Pick an institution in the header to create here.'));
    else if (!assets.data.length) parts.push(h('p', { class: 'hint' }, 'Create an asset first.'));
    else parts.push(createForm(ctx, assets.data));
  }
  replace(main, parts);
  ctx.onLive((event) => { if (event.type.startsWith('position.')) rerender(); });
}

function createForm(ctx, assets) {
  const asset = select(assets.map((a) => [a.id, a.label]), { name: 'assetId' });
  const holder = h('input', { name: 'holderReference', required: true, maxLength: 255 });
  const currency = select(ctx.rules.currencies, { name: 'currency' });
  const amount = h('input', { name: 'amount', required: true, inputMode: 'decimal', pattern: DECIMAL_PATTERN, id: uid('amount') });
  const external = h('input', { name: 'externalReference', maxLength: 255 });
  return form('New position', [
    field('Asset', asset, { name: 'assetId' }), field('Holder reference', holder, { name: 'holderReference' }),
    field('Currency', currency, { name: 'currency' }),
    field('Amount', amount, { name: 'amount', hint: 'Exact decimal, up to 8 decimal places (e.g. 1250000.50).' }),
    field('External reference (optional)', external, { name: 'externalReference' }),
  ], 'Create position', async (el) => {
    const text = amount.value.trim();
    if (!isDecimal(text)) { fieldError(el, 'amount', 'Enter a decimal number such as 1000 or 12.5.'); return; }
    const body = { assetId: asset.value, holderReference: holder.value.trim(), currency: currency.value, amount: new Decimal(text) };
    if (external.value.trim()) body.externalReference = external.value.trim();
    if (ctx.root) body.institutionId = ctx.acting;
    let created;
    try {
      created = await call('createPosition', { body, quiet: true });
    } catch (error) {
      // Policy and template limits name the amount or the currency they concern.
      const concerns = (error.message.match(/^(Amount|Currency)\b/) || [])[1];
      if (concerns) error.detailsField = concerns.toLowerCase();
      throw error;
    }
    location.hash = `#/positions/${created.id}`;
  });
}
