// The ledger (with each event's hash where the API has it) and the audit log (with its filters).
import { call } from '../api.js';
import { h, replace, field, table, when, link, select, pager } from '../dom.js';
import { nameOf } from '../app.js';

/** Whether the server's LedgerEvent schema declares `name` (hash, on-chain status). */
function ledgerHas(ctx, name) {
  const schema = ctx.doc.components && ctx.doc.components.schemas && ctx.doc.components.schemas.LedgerEvent;
  return Boolean(schema && schema.properties && schema.properties[name]);
}

/** The ledger table's columns; hash and on-chain status only where the API has them. */
export function ledgerColumns(ctx) {
  const columns = [
    ['Kind', (e) => e.kind],
    ['When', (e) => when(e.at)],
    ['State', (e) => (e.previousState ? `${e.previousState} → ${e.newState}` : e.newState)],
    ['Position', (e) => link(`/positions/${e.positionId}`, e.positionId.slice(0, 12))],
    ['Id', (e) => h('code', {}, e.id)],
  ];
  if (ledgerHas(ctx, 'hash')) columns.push(['Hash', (e) => h('code', { class: 'hash' }, e.hash || '—')]);
  if (ledgerHas(ctx, 'onChainStatus')) columns.push(['On chain', (e) => e.onChainStatus || '—']);
  return columns;
}

export async function ledger(ctx, main) {
  if (!ctx.root) {
    replace(main, h('h1', {}, 'Ledger'), h('p', {}, 'Open a position to see its ledger events (only root can list the whole ledger).'),
      link('/positions', 'Go to positions'));
    return;
  }
  const events = await call('listLedger');
  const shown = ctx.acting ? events.filter((e) => e.institutionId === ctx.acting) : events;
  replace(main, h('h1', {}, 'Ledger'),
    h('p', { class: 'hint' }, ctx.acting ? `Events of ${nameOf(ctx.acting)}.` : 'Every institution, in write order.'),
    table('Ledger events', ledgerColumns(ctx), shown.slice().reverse(), 'The ledger is empty.'));
  ctx.onLive((event) => { if (event.type === 'ledger_event.recorded') ledger(ctx, main); });
}

const auditState = { offset: 0, filters: {} };

function enumOf(ctx, schema, property) {
  const s = ctx.doc.components.schemas[schema];
  return (s && s.properties[property] && s.properties[property].enum) || [];
}

export async function audit(ctx, main) {
  const query = { ...auditState.filters, limit: 50, offset: auditState.offset };
  if (ctx.root && ctx.acting) query.institutionId = ctx.acting;
  const result = await call('listAudit', { query });
  const inputs = {
    action: select(['', ...enumOf(ctx, 'AuditEvent', 'action')].map((v) => [v, v || 'Any action'])),
    outcome: select(['', ...enumOf(ctx, 'AuditEvent', 'outcome')].map((v) => [v, v || 'Any outcome'])),
    resourceType: select(['', ...enumOf(ctx, 'AuditEvent', 'resourceType')].map((v) => [v, v || 'Any resource'])),
    resourceId: h('input', {}),
    from: h('input', { type: 'datetime-local' }),
    to: h('input', { type: 'datetime-local' }),
  };
  for (const [key, input] of Object.entries(inputs)) {
    input.name = key;
    const value = auditState.filters[key] || '';
    input.value = input.type === 'datetime-local' ? value.replace(/:\d\d(\.\d+)?Z$/, '').slice(0, 16) : value;
  }
  const filters = h('form', { class: 'filters', 'aria-label': 'Filter the audit log', onsubmit: (event) => {
    event.preventDefault();
    const next = {};
    for (const [key, input] of Object.entries(inputs)) {
      if (!input.value) continue;
      next[key] = input.type === 'datetime-local' ? new Date(input.value).toISOString() : input.value.trim();
    }
    auditState.filters = next;
    auditState.offset = 0;
    audit(ctx, main);
  } },
  field('Action', inputs.action), field('Outcome', inputs.outcome), field('Resource type', inputs.resourceType),
  field('Resource id', inputs.resourceId), field('From', inputs.from), field('To', inputs.to),
  h('button', { type: 'submit' }, 'Apply'));
  replace(main, h('h1', {}, 'Audit log'), filters,
    table('Audit events', [
      ['When', (e) => when(e.occurredAt)], ['Action', (e) => e.action], ['Outcome', (e) => e.outcome],
      ['Request', (e) => `${e.method} ${e.path}`], ['Status', (e) => e.statusCode ?? ''],
      ['Resource', (e) => (e.resourceType ? `${e.resourceType} ${e.resourceId || ''}` : '')],
    ], result.data, 'No audit event matches.'),
    pager(result, 'events', (offset) => { auditState.offset = offset; audit(ctx, main); }));
}
