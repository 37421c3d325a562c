// Institutions, their API keys (token shown once, with a copy button) and their policies.
import { call, Decimal, isDecimal, DECIMAL_PATTERN } from '../api.js';
import { h, replace, field, form, table, when, link, checkboxes, checkedValues, select, fieldError } from '../dom.js';
import { refreshInstitutions } from '../app.js';

export async function list(ctx, main) {
  const items = await call('listInstitutions');
  const parts = [h('h1', {}, 'Institutions'),
    table('Institutions', [
      ['Name', (i) => link(`/institutions/${i.id}`, i.name)],
      ['Regions', (i) => i.regions.join(', ')],
      ['Verticals', (i) => i.verticals.join(', ')],
      ['Created', (i) => when(i.createdAt)],
    ], items, 'No institutions yet.')];
  if (ctx.root) {
    const name = h('input', { name: 'name', required: true, maxLength: 255 });
    parts.push(form('New institution', [
      field('Name', name, { name: 'name' }),
      checkboxes('Regions', 'regions', ctx.rules.regions),
      checkboxes('Verticals (none: all)', 'verticals', ctx.rules.verticals),
    ], 'Create institution', async (el) => {
      const body = { name: name.value.trim(), regions: checkedValues(el, 'regions') };
      const verticals = checkedValues(el, 'verticals');
      if (verticals.length) body.verticals = verticals;
      const created = await call('createInstitution', { body, quiet: true });
      await refreshInstitutions();
      location.hash = `#/institutions/${created.id}`;
    }));
  }
  replace(main, parts);
}

export async function detail(ctx, main, id) {
  const inst = await call('getInstitution', { params: { id } });
  const policies = await call('listPolicies', { params: { id } });
  const keys = ctx.canManage ? await call('listApiKeys', { params: { id } }) : null;
  const parts = [
    h('p', { class: 'crumbs' }, link('/institutions', 'Institutions'), ' / ', inst.name),
    h('h1', {}, inst.name),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Id'), h('dd', {}, h('code', {}, inst.id)),
      h('dt', {}, 'Regions'), h('dd', {}, inst.regions.join(', ')),
      h('dt', {}, 'Verticals'), h('dd', {}, inst.verticals.join(', '))),
  ];
  if (keys) parts.push(h('section', { 'aria-labelledby': 'keys-h' }, h('h2', { id: 'keys-h' }, 'API keys'), keySection(ctx, inst, keys)));
  parts.push(h('section', { 'aria-labelledby': 'pol-h' }, h('h2', { id: 'pol-h' }, 'Policies'), policySection(ctx, inst, policies)));
  replace(main, parts);
}

function keySection(ctx, inst, keys) {
  const list = h('div', {});
  const refresh = async () => replace(list, keyTable(ctx, inst, await call('listApiKeys', { params: { id: inst.id } }), refresh));
  replace(list, keyTable(ctx, inst, keys, refresh));
  if (!ctx.canWrite) return [list];
  const label = h('input', { name: 'label', required: true, maxLength: 255 });
  const role = select([['admin', 'admin (read and write)'], ['read_only', 'read_only']], { name: 'role' });
  const shown = h('div', { class: 'token-box', hidden: true, role: 'status' });
  const create = form('New API key', [field('Label', label, { name: 'label' }), field('Role', role, { name: 'role' })],
    'Create key', async (el) => {
      const created = await call('createApiKey', { params: { id: inst.id }, body: { label: label.value.trim(), role: role.value }, quiet: true });
      el.reset();
      showToken(shown, created);
      await refresh();
    });
  return [list, shown, create];
}

function keyTable(ctx, inst, keys, refresh) {
  return table('API keys', [
    ['Label', (k) => k.label],
    ['Role', (k) => k.role],
    ['Created', (k) => when(k.createdAt)],
    ['', (k) => (k.id === ctx.me.apiKeyId ? 'this key' : h('button', {
      type: 'button', class: 'danger', 'aria-label': `Revoke key ${k.label}`,
      onclick: async () => {
        if (!confirm(`Revoke the key "${k.label}"? It stops working at once.`)) return;
        await call('revokeApiKey', { params: { id: inst.id, keyId: k.id } });
        await refresh();
      },
    }, 'Revoke'))],
  ], keys, 'No active keys.');
}

function showToken(box, created) {
  const token = h('input', { id: 'new-token', readOnly: true, value: created.apiKey, class: 'token' });
  const copied = h('span', { class: 'hint', role: 'status' });
  replace(box,
    h('p', {}, h('strong', {}, `Key "${created.label}" (${created.role}) created. `), 'Copy the token now: it is shown only once.'),
    h('label', { for: 'new-token' }, 'Token'), token,
    h('button', { type: 'button', id: 'copy-token', onclick: async () => {
      token.select();
      try { await navigator.clipboard.writeText(created.apiKey); copied.textContent = 'Copied.'; } catch { copied.textContent = 'Selected: press Ctrl+C to copy.'; }
    } }, 'Copy'), copied,
    h('button', { type: 'button', class: 'link', onclick: () => { replace(box); box.hidden = true; } }, 'Done (forget the token)'));
  box.hidden = false;
}

function policySection(ctx, inst, policies) {
  const parts = [table('Policies', [
    ['Region', (p) => p.region],
    ['Minimum', (p) => p.config.position.minAmount ?? '—'],
    ['Maximum', (p) => p.config.position.maxAmount ?? '—'],
    ['Currencies', (p) => (p.config.position.allowedCurrencies || []).join(', ') || 'any'],
    ['Updated', (p) => when(p.updatedAt)],
  ], policies, 'No policies: every amount and currency is allowed.')];
  if (!ctx.canWrite || !ctx.canManage) return parts;
  const region = select(inst.regions, { name: 'region' });
  const min = h('input', { name: 'minAmount', inputMode: 'decimal', pattern: DECIMAL_PATTERN });
  const max = h('input', { name: 'maxAmount', inputMode: 'decimal', pattern: DECIMAL_PATTERN });
  parts.push(form('Set a policy', [
    field('Region', region, { name: 'region' }),
    field('Minimum amount', min, { name: 'position.minAmount', hint: 'Optional; exact decimal, up to 8 decimal places.' }),
    field('Maximum amount', max, { name: 'position.maxAmount', hint: 'Optional.' }),
    checkboxes('Allowed currencies (none: any)', 'position.allowedCurrencies', ctx.rules.currencies),
  ], 'Save policy', async (el) => {
    const position = {};
    for (const [input, key] of [[min, 'minAmount'], [max, 'maxAmount']]) {
      const text = input.value.trim();
      if (!text) continue;
      if (!isDecimal(text)) { fieldError(el, `position.${key}`, 'Enter a decimal number such as 1000 or 12.5.'); return; }
      position[key] = new Decimal(text);
    }
    const currencies = checkedValues(el, 'position.allowedCurrencies');
    if (currencies.length) position.allowedCurrencies = currencies;
    await call('upsertPolicy', { params: { id: inst.id, region: region.value }, body: { position }, quiet: true });
    await detail(ctx, document.getElementById('main'), inst.id);
  }));
  return parts;
}
